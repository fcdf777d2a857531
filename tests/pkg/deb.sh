#!/bin/sh
# deb.sh: the Debian package, built, checked, installed, run and purged.
#
# Builds the .deb with dpkg-buildpackage from a clean clone of the
# checkout's HEAD (commit first: what is not committed is not built),
# holds it to lintian (no error, no warning), installs it with apt-get,
# and checks what it set up: the system user cgigate, its directories,
# the files the unit names, a unit that systemd-analyze verify accepts
# and systemd-analyze security rates under 3.0.  systemd is not PID 1
# here, so the unit's ExecStartPre and ExecStart are run by hand as its
# User= (no capability, no new privileges, its UMask=): the shipped
# hello handler and the dashboard answer on the shipped port, a handler
# runs as cgigate, the request's row lands in /var/lib/cgigate and its
# line in /var/log/cgigate, SIGHUP rereads the file, logrotate's rotation
# and SIGUSR1 start a new access log.  Started by hand as root, cgigate
# becomes cgigate too.  Last, apt-get purge leaves nothing behind but the
# user (Debian's way with system users).
#
# Needs root, apt and a git checkout; installs what it needs first (sh
# bootstrap.sh --deps pkg).  It installs and purges the package cgigate
# only, and stops only what it started.  make check runs it (so .ci/run
# does, as root in a clean clone); elsewhere (not root, a tarball under
# make distcheck) it is skipped.  About a minute and a half on two
# cores, most of it the build.
#   sh tests/pkg/deb.sh            TAP on standard output
#   CGIGATE_TEST_KEEP=1 sh ...     keep the build and logs
. "$(dirname "$0")/../integration/gw.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (installs and purges the package)"
[ -e "$TS/.git" ] || skip "not a git checkout (the package is built from a clone of HEAD)"
# The build runs make check (unit tests only) inside this make check: it
# must not inherit make's flags (a TESTS= of ours would run this script
# again, and again), and this script never runs inside a build of its own.
[ -z "${CGIGATE_DEB_TEST:-}" ] || skip "inside the package's own build"
CGIGATE_DEB_TEST=1
export CGIGATE_DEB_TEST
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES GNUMAKEFLAGS
command -v apt-get >/dev/null || skip "no apt-get: not Debian"
if dpkg-query -W -f='${Status}' cgigate 2>/dev/null | grep -q installed; then
	skip "the package cgigate is installed already: purge it first"
fi
sh "$TS/bootstrap.sh" --deps pkg >"$W/deps.log" 2>&1 || {
	sed 's/^/# /' "$W/deps.log"
	skip "sh bootstrap.sh --deps pkg failed"
}

UNIT=/lib/systemd/system/cgigate.service
INSTALLED=
# Whatever happens, the package goes again and its processes stop.
deb_cleanup() {
	stop_tracked
	[ -z "$INSTALLED" ] || DEBIAN_FRONTEND=noninteractive \
	    apt-get purge -y -qq cgigate >/dev/null 2>&1 || :
	rm -f /etc/cgigate/handlers/whoami.cgi
}
trap '_drc=$?; deb_cleanup; (exit $_drc); cleanup' EXIT

# Build.
t0=$(date +%s)
mkdir -p "$W/build"
git clone -q "$TS" "$W/build/cgigate" 2>"$W/build.log" ||
    { sed 's/^/# /' "$W/build.log"; not_ok "git clone $TS"; finish; }
(cd "$W/build/cgigate" && dpkg-buildpackage -us -uc -b) \
    >>"$W/build.log" 2>&1
rc=$?
t1=$(date +%s)
deb=$(ls "$W"/build/cgigate_*_*.deb 2>/dev/null | head -n 1)
if [ $rc -ne 0 ] || [ -z "$deb" ]; then
	tail -n 40 "$W/build.log" | sed 's/^/# /'
	not_ok "dpkg-buildpackage -us -uc -b (status $rc)"
	finish
fi
ok "dpkg-buildpackage -us -uc -b builds ${deb##*/} ($((t1 - t0)) s)"
expect_eq "the package's version is configure's" \
    "$(sed -n 's/^AC_INIT(\[cgigate\], \[\([^]]*\)\].*/\1/p' "$TS/configure.ac")" \
    "$(dpkg-deb -f "$deb" Version)"
expect_contains "the build ran the unit tests" "# FAIL:  0" \
    "$(cat "$W/build.log")"

# lintian, on the binary package and the .changes.
lintian -I "$W"/build/cgigate_*.changes >"$W/lintian.log" 2>&1
sed 's/^/# lintian: /' "$W/lintian.log"
expect_eq "lintian: no error" 0 "$(grep -c '^E: ' "$W/lintian.log")"
expect_eq "lintian: no warning" 0 "$(grep -c '^W: ' "$W/lintian.log")"

# Install.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "$deb" >"$W/install.log" 2>&1
rc=$?
INSTALLED=1
if [ $rc -ne 0 ]; then
	sed 's/^/# /' "$W/install.log"
	not_ok "apt-get install ${deb##*/} (status $rc)"
	finish
fi
ok "apt-get install ${deb##*/}"

pw=$(getent passwd cgigate)
expect_eq "the user cgigate: home and shell" \
    "/var/lib/cgigate:/usr/sbin/nologin" "$(echo "$pw" | cut -d: -f6-7)"
uid=$(echo "$pw" | cut -d: -f3)
[ -n "$uid" ] && [ "$uid" -lt 1000 ] && ok "a system user (uid $uid)" ||
    not_ok "a system user (uid '$uid')"
expect_eq "its group cgigate" cgigate "$(id -gn cgigate 2>/dev/null)"
for d in /var/lib/cgigate /var/log/cgigate; do
	expect_eq "$d: cgigate's, 0750" "cgigate:cgigate 750" \
	    "$(stat -c '%U:%G %a' "$d" 2>&1)"
done
expect_contains "the configuration is a conffile" /etc/cgigate/cgigate.conf \
    "$(dpkg-query -W -f='${Conffiles}' cgigate)"
[ -f /etc/logrotate.d/cgigate ] && ok "a logrotate snippet" ||
    not_ok "a logrotate snippet"
[ -L /etc/systemd/system/multi-user.target.wants/cgigate.service ] &&
    ok "the unit is enabled" || not_ok "the unit is enabled"

# The unit, and the files it names.
[ -f "$UNIT" ] || { not_ok "$UNIT"; finish; }
key() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }
pre=$(key ExecStartPre)
start=$(key ExecStart)
user=$(key User)
group=$(key Group)
umask=$(key UMask)
expect_eq "the unit runs as User=cgigate Group=cgigate" "cgigate cgigate" \
    "$user $group"
bin=${start%% *}
[ -x "$bin" ] && ok "ExecStart's $bin is there" || not_ok "ExecStart's $bin"
conf=$(echo "$start" | sed -n 's/.*--config \([^ ]*\).*/\1/p')
[ -f "$conf" ] && ok "its --config $conf is there" || not_ok "--config $conf"
cval() { sed -n "s/^$1 *= *//p" "$conf" | head -n 1; }
for k in handlers www; do
	[ -d "$(cval $k)" ] && ok "$k = $(cval $k) is there" ||
	    not_ok "$k = $(cval $k) is there"
done
[ -x "$(cval handlers)/hello.cgi" ] && ok "with the hello handler" ||
    not_ok "with the hello handler"
[ -f "$(cval www)/dashboard/index.html" ] && ok "and the dashboard" ||
    not_ok "and the dashboard"
expect_eq "timings go to cgigate's /var/lib/cgigate" /var/lib/cgigate \
    "$(dirname "$(cval timings)")"
expect_eq "the access log to cgigate's /var/log/cgigate" /var/log/cgigate \
    "$(dirname "$(cval access_log)")"
expect_eq "the configuration's user is the unit's" "$user" "$(cval user)"
out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$UNIT" 2>&1)
expect_eq "systemd-analyze verify $UNIT says nothing" "" "$out"
out=$(systemd-analyze security --offline=true "$UNIT" 2>&1)
score=$(printf '%s\n' "$out" |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
printf '%s\n' "$out" | grep '✗' | sed 's/^/# security: /'
if [ -n "$score" ] && awk "BEGIN { exit !($score < 3.0) }"; then
	ok "systemd-analyze security rates it $score (under 3.0)"
else
	not_ok "systemd-analyze security rates it '$score' (want under 3.0)"
fi

# Run it as systemd would: the unit's user, no capability, no new
# privileges, its umask, a clean environment; exec, so that a command
# started in the background is cgigate's own PID.  The shipped listen
# address, unless something else holds it (then a free port).
as_unit() {
	exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	    HOME=/var/lib/cgigate USER="$user" LOGNAME="$user" \
	    setpriv --reuid="$user" --regid="$group" --init-groups \
	    --no-new-privs --bounding-set=-all --inh-caps=-all \
	    sh -c 'umask "$0"; exec "$@"' "${umask:-0022}" "$@"
}
listen=$(cval listen)
extra=
if ss -ltnH "sport = :${listen##*:}" | grep -q .; then
	echo "# ${listen} is taken: --listen 127.0.0.1:0"
	extra="--listen 127.0.0.1:0"
fi
# shellcheck disable=SC2086
out=$(as_unit $pre $extra 2>"$W/check.log")
rc=$?
sed 's/^/# --check: /' "$W/check.log"
expect_eq "ExecStartPre ($pre): status 0" "0 cgigate: configuration ok" \
    "$rc $out"
# ExecStart by hand, as the unit's user or as root; sets GW_PID, URL.
run_gateway() {	# user | root
	GW_RUN=$((${GW_RUN:-0} + 1))
	GW_LOG="$W/gateway.$GW_RUN.log"
	# shellcheck disable=SC2086
	if [ "$1" = root ]; then
		$start $extra 2>"$GW_LOG" &
	else
		as_unit $start $extra 2>"$GW_LOG" &
	fi
	GW_PID=$!
	track "$GW_PID"
	if ! retry 100 grep -qs 'cgigate .* started' "$GW_LOG"; then
		sed 's/^/# /' "$GW_LOG"
		not_ok "ExecStart ($start) as $1 did not start"
		finish
	fi
	port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$GW_LOG" |
	    head -n 1)
	URL="http://127.0.0.1:$port"
}
run_gateway "$user"
expect_eq "ExecStart as $user: cgigate is $user" "$user" \
    "$(ps -o user= -p "$GW_PID" | tr -d ' ')"
expect_eq "the hello handler answers on port $port" "Hello from /hello" \
    "$(curl -s "$URL/hello")"
expect_contains "the dashboard is served" "<html" \
    "$(curl -s "$URL/dashboard/")"
cat >/etc/cgigate/handlers/whoami.cgi <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\n'
id -un
EOF
chmod 755 /etc/cgigate/handlers/whoami.cgi
retry 30 eval '[ "$(curl -s "$URL/whoami")" = cgigate ]'
expect_eq "a handler runs as cgigate" cgigate "$(curl -s "$URL/whoami")"
db=$(cval timings)
retry 50 eval '[ "$(sqlite3 "$db" "select count(*) from requests
    where route = '"'/hello'"' and status = 200" 2>/dev/null)" = 1 ]'
expect_eq "the request's row is in $db" 1 \
    "$(sqlite3 "$db" "select count(*) from requests where route = '/hello'
    and status = 200")"
expect_eq "$db is cgigate's, not world-readable" "cgigate 640" \
    "$(stat -c '%U %a' "$db")"
alog=$(cval access_log)
expect_contains "the request's line is in $alog" '"GET /hello HTTP/1.1" 200' \
    "$(cat "$alog")"
kill -HUP "$GW_PID"
expect_log "SIGHUP: cgigate rereads $conf as $user" \
    "configuration reloaded from $conf"
if command -v logrotate >/dev/null; then
	logrotate -s "$W/logrotate.state" -f /etc/logrotate.d/cgigate \
	    2>"$W/logrotate.log"
	expect_eq "logrotate rotates $alog quietly" "" "$(cat "$W/logrotate.log")"
	[ -f "$alog.1" ] && ok "into $alog.1" || not_ok "into $alog.1"
	# The snippet's postrotate asks systemd; here, by hand.
	kill -USR1 "$GW_PID"
	expect_log "SIGUSR1 reopens it" "SIGUSR1: access log reopened"
	curl -s -o /dev/null "$URL/hello"
	expect_eq "and the next line goes to a new $alog" 1 \
	    "$(grep -c 'GET /hello' "$alog" 2>/dev/null)"
else
	skip_section "no logrotate"
fi
stop_gateway
expect_eq "SIGTERM: it stops, status 0" 0 "$GW_RC"

# By hand as root: "user = cgigate" makes it switch after binding.
run_gateway root
expect_eq "ExecStart as root: the handler runs as cgigate" cgigate \
    "$(curl -s "$URL/whoami")"
expect_eq "and cgigate has become cgigate" cgigate \
    "$(ps -o user= -p "$GW_PID" | tr -d ' ')"
stop_gateway
expect_eq "SIGTERM: it stops, status 0" 0 "$GW_RC"
rm -f /etc/cgigate/handlers/whoami.cgi

# Purge.
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq cgigate \
    >"$W/purge.log" 2>&1 && ok "apt-get purge cgigate" ||
    { sed 's/^/# /' "$W/purge.log"; not_ok "apt-get purge cgigate"; }
INSTALLED=
left=
for f in /etc/cgigate /var/lib/cgigate /var/log/cgigate "$UNIT" \
    /etc/systemd/system/multi-user.target.wants/cgigate.service \
    /etc/logrotate.d/cgigate "$bin"; do
	[ ! -e "$f" ] && [ ! -L "$f" ] || left="$left $f"
done
expect_eq "purge leaves nothing behind" "" "$left"
getent passwd cgigate >/dev/null && ok "the user cgigate stays" ||
    not_ok "the user cgigate stays"
echo "# $(($(date +%s) - t0)) s in all"
finish
