#!/bin/sh
# systemd.sh: what the service manager hears and what the unit says.
#
# With $NOTIFY_SOCKET set (a path, then an abstract name), cgigate sends
# READY=1 with its MAINPID once it serves, RELOADING=1 and READY=1
# around a SIGHUP, STOPPING=1 when it drains (systemd's Type=notify);
# without it, nothing.  The installed unit passes systemd-analyze verify,
# and systemd-analyze security rates its hardening under 3.0.
. "$(dirname "$0")/gw.sh"

RECV="$TB/tests/fixtures/notifyrecv"
[ -x "$RECV" ] || skip "notifyrecv not built ($RECV)"
cp "$TS/handlers/hello.cgi" "$H/"
mkdir -p "$W/www"

# How many lines of the notifications are exactly $1.
count() { grep -cx -- "$1" "$W/notify.out" 2>/dev/null || :; }

for sock in "$W/notify.sock" "@cgigate-test-$$"; do
	: >"$W/notify.out"
	"$RECV" "$sock" "$W/notify.out" &
	rpid=$!
	track "$rpid"
	[ "${sock#@}" != "$sock" ] || wait_file "$sock" 50
	NOTIFY_SOCKET=$sock
	export NOTIFY_SOCKET
	start_gateway --handlers "$H" --www "$W/www" --timings "$W/t.db"
	unset NOTIFY_SOCKET
	kind=path
	[ "${sock#@}" = "$sock" ] || kind=abstract
	retry 50 sh -c "grep -qx READY=1 '$W/notify.out'"
	expect_eq "$kind: READY=1 once serving" 1 "$(count READY=1)"
	expect_eq "$kind: MAINPID is cgigate's" 1 "$(count "MAINPID=$GW_PID")"
	expect_eq "$kind: it serves" "Hello from /hello" "$(curl -s "$URL/hello")"
	kill -HUP "$GW_PID"
	retry 50 sh -c "[ \$(grep -cx READY=1 '$W/notify.out') -ge 2 ]"
	expect_eq "$kind: SIGHUP: RELOADING=1" 1 "$(count RELOADING=1)"
	expect_eq "$kind: then READY=1 again" 2 "$(count READY=1)"
	expect_eq "$kind: RELOADING comes with MONOTONIC_USEC" 1 \
	    "$(grep -c '^MONOTONIC_USEC=[0-9][0-9]*$' "$W/notify.out")"
	stop_gateway
	retry 50 sh -c "grep -qx STOPPING=1 '$W/notify.out'"
	expect_eq "$kind: STOPPING=1 at the drain" 1 "$(count STOPPING=1)"
	kill "$rpid"
	wait "$rpid" 2>/dev/null
done

# Without NOTIFY_SOCKET nothing is sent, and nothing is logged about it.
: >"$W/notify.out"
"$RECV" "$W/quiet.sock" "$W/notify.out" &
rpid=$!
track "$rpid"
wait_file "$W/quiet.sock" 50
start_gateway --handlers "$H" --www "$W/www" --timings "$W/t.db"
expect_eq "no NOTIFY_SOCKET: it serves" "Hello from /hello" "$(curl -s "$URL/hello")"
stop_gateway
expect_eq "no NOTIFY_SOCKET: nothing sent" 0 "$(wc -l <"$W/notify.out")"
expect_absent "no NOTIFY_SOCKET: nothing logged" NOTIFY_SOCKET "$(gw_log)"
kill "$rpid"

# A socket nobody listens on: logged once, and cgigate serves anyway.
NOTIFY_SOCKET=$W/nobody.sock
export NOTIFY_SOCKET
start_gateway --handlers "$H" --www "$W/www" --timings "$W/t.db"
unset NOTIFY_SOCKET
expect_eq "a dead NOTIFY_SOCKET: it serves" "Hello from /hello" "$(curl -s "$URL/hello")"
kill -HUP "$GW_PID"
retry 50 log_has "configuration reloaded"
stop_gateway
expect_eq "a dead NOTIFY_SOCKET: logged once" 1 \
    "$(grep -c "NOTIFY_SOCKET $W/nobody.sock" "$GW_LOG")"

# The unit, with its paths pointed at this build.
if command -v systemd-analyze >/dev/null; then
	printf '[server]\nhandlers = %s\nwww = %s/www\ntimings = %s/u.db\n' \
	    "$H" "$W" "$W" >"$W/cgigate.conf"
	mkdir -p "$W/unit"
	sed -e "s|@sbindir@/cgigate|$GATEWAY|g" \
	    -e "s|@sysconfdir@/cgigate/cgigate.conf|$W/cgigate.conf|g" \
	    -e "s|@sysconfdir@|$W|g" -e "s|@localstatedir@|$W|g" \
	    "$TS/gateway/cgigate.service.in" >"$W/unit/cgigate.service"
	# The manual pages are not installed here: not looked for.
	out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
	    "$W/unit/cgigate.service" 2>&1)
	expect_eq "systemd-analyze verify has nothing to say" "" \
	    "$(printf '%s' "$out" | grep -v 'Failed to .*bus\|Failed to connect')"
	expect_contains "the unit is Type=notify" "Type=notify" \
	    "$(cat "$W/unit/cgigate.service")"
	expect_contains "the unit reloads with SIGHUP" \
	    'ExecReload=/bin/kill -HUP $MAINPID' \
	    "$(cat "$W/unit/cgigate.service")"
	expect_eq "every @name@ of the unit was replaced" "" \
	    "$(grep -o '@[a-z]*@' "$W/unit/cgigate.service")"
	# Its hardening, as systemd rates it (0 safest, 10 least): under 3.
	out=$(systemd-analyze security --offline=true \
	    "$W/unit/cgigate.service" 2>&1)
	score=$(printf '%s\n' "$out" |
	    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ -z "$score" ]; then
		skip_section "systemd-analyze security --offline=true: no score (systemd before 250?)"
	elif awk "BEGIN { exit !($score < 3.0) }"; then
		ok "systemd-analyze security rates the unit $score (under 3.0)"
	else
		not_ok "systemd-analyze security rates the unit $score (want under 3.0)"
	fi
else
	skip_section "no systemd-analyze: the unit is not verified"
fi
finish
