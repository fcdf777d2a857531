# gw.sh: sourced by integration tests.  Starts the real gateway/cgigate on
# an ephemeral loopback port in a private directory, counts checks, and on
# exit stops every process the test started (by PID) and removes the
# directory.  Output is TAP, read by automake's tap-driver.sh: one
# "ok N - ..." / "not ok N - ..." line per check, "ok N # SKIP ..." per
# section skipped, a last check that the logs hold no sanitizer report,
# then the plan "1..N" from finish.  A script that ends without finish
# (an error, a signal) says "Bail out!": an ERROR, never a pass.

TS=$(cd "${top_srcdir:-$(dirname "$0")/../..}" && pwd)
TB=$(cd "${top_builddir:-$(dirname "$0")/../..}" && pwd)
GATEWAY="$TB/gateway/cgigate"
# As root, cgigate must be told to run handlers as root (tests run in
# private directories no other user can read).
ROOTOK=
[ "$(id -u)" -ne 0 ] || ROOTOK=--allow-root
W=$(mktemp -d "${TMPDIR:-/tmp}/cgigate-test.XXXXXX")
H="$W/handlers"
mkdir -p "$H"
GW_PID=
GW_LOG=
URL=
TRACKED=
FAILS=0
CHECKS=0
SKIPS=0
FINISHED=

# One TAP result line: a description of several lines goes on as "#"
# lines, and a "#" in it is escaped, so that no text of a check (a reply,
# a log line) is read as a directive, a result or the plan.
tap_result() {	# "ok N" | "not ok N", description
	case $2 in
	*'
'*|*'#'*)
		printf '%s\n' "$2" | sed -e '1{s/#/\\#/g;s/^/'"$1"' - /;}' \
		    -e '2,$s/^/# /' ;;
	*)	echo "$1 - $2" ;;
	esac
}

ok() { CHECKS=$((CHECKS + 1)); tap_result "ok $CHECKS" "$*"; }
not_ok() {
	CHECKS=$((CHECKS + 1))
	FAILS=$((FAILS + 1))
	tap_result "not ok $CHECKS" "$*"
}
# This machine cannot run the script (a fixture not built, not root...):
# before any check it is skipped whole ("1..0 # SKIP", what exit 77 was),
# after some the rest is one skipped section.
skip() {
	if [ "$CHECKS" -eq 0 ] && [ -z "${GW_RUN:-}" ]; then
		echo "1..0 # SKIP $*"
		FINISHED=1
		exit 0
	fi
	skip_section "$*"
	finish
}
# A section this machine cannot run (no IPv6, a low limit: nothing
# bootstrap.sh could install) is a skipped result, not a pass.  A tool
# bootstrap.sh installs is no reason to skip: its absence is a not_ok.
skip_section() {
	CHECKS=$((CHECKS + 1))
	SKIPS=$((SKIPS + 1))
	echo "ok $CHECKS # SKIP $*"
}

expect_eq() {	# what want got
	if [ "$2" = "$3" ]; then ok "$1"
	else not_ok "$1 (want '$2', got '$3')"; fi
}

expect_contains() {	# what needle haystack
	case $3 in
	*"$2"*) ok "$1" ;;
	*) not_ok "$1 ('$2' missing)" ;;
	esac
}

expect_absent() {	# what needle haystack
	case $3 in
	*"$2"*) not_ok "$1 ('$2' present)" ;;
	*) ok "$1" ;;
	esac
}

expect_ge() {	# what min got
	if [ "$3" -ge "$2" ] 2>/dev/null; then ok "$1 ($3)"
	else not_ok "$1 (want at least $2, got '$3')"; fi
}

# The [server] section every test starts its configuration with.
server_conf() {
	printf '[server]\nhandlers = %s\nwww = %s\ntimings = %s\n' \
	    "$H" "$W/www" "$W/timings.db"
}

# The gateway's log, of every run in this test.
gw_log() { cat "$W"/gateway.*.log 2>/dev/null; }

# Run a command every 0.1 s until it succeeds, at most TENTHS times.
retry() {	# tenths command...
	_n=$1
	shift
	until "$@"; do
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] || return 1
		sleep 0.1
	done
}

# Wait until a file exists (a helper's "ready" mark), at most TENTHS/10 s.
wait_file() { retry "$2" test -e "$1"; }	# file tenths

log_has() { gw_log | grep -qF -- "$1"; }

# A line of the gateway's log matching text.
expect_log() {	# what text
	if retry 20 log_has "$2"; then ok "$1"
	else not_ok "$1 (log lacks '$2')"; fi
}

route_shows() {	# route in_flight queued
	curl -s -m 2 "$URL/_gateway/status" | grep -q \
	    "\"route\":\"$1\",[^}]*\"in_flight\":$2,\"queued\":$3,"
}

# Wait until /_gateway/status shows ROUTE with IN_FLIGHT requests (those
# queued among them) and QUEUED waiting for a slot, at most 10 s.
wait_route() {	# route in_flight queued
	retry 100 route_shows "$@" && return
	echo "# $1 never showed $2 in flight, $3 queued"
	return 1
}

sql_is() { [ "$(sql "$2")" = "$1" ]; }	# want query

# Wait until an SQL query on the timing database prints WANT, at most
# 5 s (the writer commits every 200 ms or so).
wait_sql() { retry 50 sql_is "$@"; }	# want query

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# No request of a test waits for ever on a gateway gone wrong: 120 s at
# most, unless the call gives its own -m (curl takes the last one).
curl() { command curl -m 120 "$@"; }
# The same for git over HTTP: a transfer slower than 1 KB/s for 30 s ends.
GIT_HTTP_LOW_SPEED_LIMIT=1000 GIT_HTTP_LOW_SPEED_TIME=30
export GIT_HTTP_LOW_SPEED_LIMIT GIT_HTTP_LOW_SPEED_TIME

http_code() { curl -s -m 20 -o /dev/null -w '%{http_code}' "$@"; }

# HEAD PATH on a connection of its own (Connection: close), sent by
# tests/fixtures/rawhttp: the answer is kept in $W/head.out; prints its
# status code and how many bytes came after its header block, or
# "unparsed" when it is no HTTP/1.1 answer the server ended by closing.
raw_head() {	# path
	printf 'HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' \
	    "$1" >"$W/head.req"
	"$TB/tests/fixtures/rawhttp" -i 3000 "${URL##*:}" "@$W/head.req" \
	    >"$W/head.out" 2>&1
	perl -0777 -ne 'print /\AHTTP\/1\.1 (\d{3}) .*?\r\n\r\n(.*)\n<EOF>\n\z/s ?
	    "$1 " . length($2) : "unparsed"' "$W/head.out"
}

sql() { sqlite3 -cmd '.timeout 5000' "$W/timings.db" "$1"; }

# The requests table as cgigate's first version made it: none of the
# columns added since, and no index; for a database an older cgigate left.
FIRST_REQUESTS="CREATE TABLE requests (id INTEGER PRIMARY KEY,
    ts REAL NOT NULL, request_id TEXT, route TEXT, mode TEXT NOT NULL,
    method TEXT, path TEXT, status INTEGER, bytes_in INTEGER,
    bytes_out INTEGER, queue_us INTEGER, spawn_us INTEGER, ttfb_us INTEGER,
    total_us INTEGER, pid INTEGER, exit_status INTEGER, signal INTEGER,
    user_cpu_us INTEGER, sys_cpu_us INTEGER, max_rss_kb INTEGER,
    error TEXT);"

track() { TRACKED="$TRACKED $1"; }
# Forget a process once it is reaped: by the end of a test its id may be
# another's (pid_max can be as low as 32768, and every CGI request takes
# one), and stop_tracked must not signal a stranger.
untrack() { TRACKED=$(echo " $TRACKED " | sed "s/ $1 / /g; s/^ *//; s/ *\$//"); }

# A port nobody listens on now (for peers that need one up front), below
# the kernel's ephemeral range, so that no outgoing connection holds it.
free_port() {
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	[ "${lo:-0}" -gt 11000 ] || lo=32768
	while :; do
		p=$((10000 + $(od -An -N2 -tu2 /dev/urandom) % (lo - 10000)))
		curl -s -m 1 -o /dev/null "http://127.0.0.1:$p/" 2>/dev/null
		[ $? -eq 7 ] && { echo "$p"; return; }
	done
}

wait_port() {	# port [addr]
	i=0
	until curl -s -m 1 -o /dev/null "http://${2:-127.0.0.1}:$1/" \
	    2>/dev/null ||
	    [ $? -ne 7 ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || return 1
		sleep 0.05
	done
}

# Debian's php-fpm, when installed (a real remote FastCGI backend).
FPM=$(ls /usr/sbin/php-fpm* 2>/dev/null | head -n 1)

# Start php-fpm (two children, or N) on 127.0.0.1:PORT (or ADDR:PORT),
# tracked: sets FPM_PID, fails when it does not listen.  Again with the
# same port restarts it.
start_fpm() {	# port [addr [children]]
	cat >"$W/fpm.conf" <<EOF
[global]
error_log = $W/fpm.log
daemonize = no
[www]
listen = ${2:-127.0.0.1}:$1
listen.backlog = 511
pm = static
pm.max_children = ${3:-2}
EOF
	"$FPM" -n -y "$W/fpm.conf" -R >"$W/fpm.out" 2>&1 &
	FPM_PID=$!
	track "$FPM_PID"
	# A loaded machine starts php-fpm slowly: up to 10 s.
	wait_port "$1" "$2" || wait_port "$1" "$2" && return
	sed 's/^/# php-fpm: /' "$W/fpm.out" "$W/fpm.log" 2>/dev/null
	return 1
}

# start_gateway [cgigate options]: listens on 127.0.0.1:0; sets GW_PID, URL.
start_gateway() {
	GW_RUN=$((${GW_RUN:-0} + 1))
	GW_LOG="$W/gateway.$GW_RUN.log"
	"$GATEWAY" --listen 127.0.0.1:0 $ROOTOK "$@" 2>"$GW_LOG" &
	GW_PID=$!
	track "$GW_PID"
	i=0
	while ! grep -q 'listening on' "$GW_LOG"; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$GW_PID" 2>/dev/null; then
			sed 's/^/# /' "$GW_LOG"
			not_ok "cgigate did not start"
			finish
		fi
		sleep 0.05
	done
	port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$GW_LOG" |
	    head -n 1)
	URL="http://127.0.0.1:$port"
}

# SIGTERM and wait: cgigate drains, flushes its timings and exits 0.
stop_gateway() {
	[ -n "$GW_PID" ] || return 0
	kill -TERM "$GW_PID" 2>/dev/null
	wait "$GW_PID"
	GW_RC=$?
	untrack "$GW_PID"
	GW_PID=
}

# A process of ours still running (a zombie is not).
running() { _s=$(sed 's/.*) //' /proc/"$1"/stat 2>/dev/null) && [ "${_s%% *}" != Z ]; }

# Stop every tracked process: SIGTERM, up to 3 s to end (a gateway built
# with sanitizers writes its reports as it exits), then SIGKILL.
stop_tracked() {
	[ -n "$TRACKED" ] || return 0
	for p in $TRACKED; do kill -TERM "$p" 2>/dev/null; done
	_n=30
	for p in $TRACKED; do
		while [ "$_n" -gt 0 ] && running "$p"; do
			sleep 0.1
			_n=$((_n - 1))
		done
	done
	for p in $TRACKED; do kill -KILL "$p" 2>/dev/null; done
	for p in $TRACKED; do wait "$p" 2>/dev/null; done
	TRACKED=
}

# The first words of a report by AddressSanitizer, UndefinedBehavior-
# Sanitizer, ThreadSanitizer or LeakSanitizer (configure
# --enable-sanitizers[=thread]) in a gateway's stderr, which also holds
# its handlers' stderr.
SAN_REPORT='ERROR: AddressSanitizer|runtime error:|WARNING: ThreadSanitizer|ERROR: LeakSanitizer'

# The last check of every script: no log in $W (gateway.N.log, and
# whatever a script sends a gateway's stderr to) holds a sanitizer
# report.  A log that does fails it, shown: its first report's first
# lines, then the one-line SUMMARY of each different report.
check_sanitizers() {
	_bad=
	for f in "$W"/*.log; do
		[ -f "$f" ] && grep -qE "$SAN_REPORT" "$f" || continue
		_bad=1
		not_ok "no sanitizer reports in ${f#"$W"/}"
		grep -E -m 1 -A 15 "$SAN_REPORT" "$f" | sed 's/^/# /'
		grep '^SUMMARY: ' "$f" | sort | uniq -c | sed 's/^/# /'
	done
	[ -n "$_bad" ] || ok "no sanitizer reports"
}

cleanup() {
	_rc=$?
	stop_tracked
	if { [ "$FAILS" -ne 0 ] || [ -z "$FINISHED" ]; } && [ -n "$GW_LOG" ]; then
		echo "# --- last gateway log ---"
		tail -n 30 "$GW_LOG" | sed 's/^/# /'
	fi
	# No plan yet: the script stopped short of its end.
	[ -n "$FINISHED" ] ||
	    echo "Bail out! ${0##*/} ended after $CHECKS checks (status $_rc)"
	# CGIGATE_TEST_KEEP=1 keeps the directory, logs included, to look at.
	if [ -n "${CGIGATE_TEST_KEEP:-}" ]; then
		echo "# kept $W"
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The end of every script: the sanitizer check, the plan, and exit 1 when
# a check failed (tap-driver.sh, which counts the results, is told to
# ignore the status: see Makefile.am).
finish() {
	stop_gateway
	stop_tracked
	check_sanitizers
	echo "1..$CHECKS"
	echo "# $CHECKS checks, $FAILS failed, $SKIPS sections skipped"
	FINISHED=1
	[ "$FAILS" -eq 0 ] || exit 1
	exit 0
}
