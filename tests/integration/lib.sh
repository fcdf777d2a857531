# lib.sh: sourced by the integration tests (POSIX sh).
#
# Each test gets a private directory $W: handlers copied there from
# tests/fixtures/handlers ($H), static files ($WWW), a scratch directory
# the handlers are told about as $STATE, the configuration ($CONF) and the
# timing database ($DB).  start_gateway runs the real gateway/cgigate on
# 127.0.0.1:0 and reads the port from its "listening on" line.
#
# Checks print "ok - ..." or "not ok - ..." and are counted; finish prints
# the tally and exits 0 (all passed) or 1.  Exit 77 is a skip, 99 a hard
# error (automake's parallel driver).  On exit, whatever happened, every
# process the test started gets SIGTERM and then SIGKILL, by PID: the ones
# it tracked (cgigate, background clients) and any process whose working
# directory is inside $W (handlers and what they left behind; a handler's
# cwd is its own directory).  Then $W is removed.
#
# Sources are found through $top_srcdir, programs through $top_builddir
# (both exported by make check), so a VPATH build works.

TS=$(cd "${top_srcdir:-$(dirname "$0")/../..}" && pwd -P)
TB=$(cd "${top_builddir:-$(dirname "$0")/../..}" && pwd -P)
GATEWAY="$TB/gateway/cgigate"
FIX="$TS/tests/fixtures/handlers"

if [ ! -x "$GATEWAY" ]; then
	echo "# $GATEWAY is not built"
	exit 99
fi
for tool in curl sqlite3 ps awk; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "# skip: $tool is not installed"
		exit 77
	}
done

# As root, cgigate refuses to run handlers as root unless told to.
ROOTOK=
[ "$(id -u)" -ne 0 ] || ROOTOK=--allow-root

W=$(mktemp -d "${TMPDIR:-/tmp}/cgigate-it.XXXXXX") || exit 99
W=$(cd "$W" && pwd -P)	# cgigate resolves symbolic links; compare alike
H="$W/handlers"
WWW="$W/www"
STATE="$W/state"
CONF="$W/cgigate.conf"
DB="$W/timings.db"
mkdir -p "$H" "$WWW" "$STATE"

CHECKS=0
FAILS=0
TRACKED=
GW_PID=
GW_LOG=
GW_RC=
GW_RUN=0
PORT=
URL=

# --- checks ------------------------------------------------------------------

ok() { CHECKS=$((CHECKS + 1)); echo "ok - $*"; }
not_ok() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "not ok - $*"; }
diag() { echo "# $*"; }

# check DESC CMD [ARG...]: passes when the command succeeds.
check() {
	_what=$1
	shift
	if "$@"; then ok "$_what"; else not_ok "$_what"; fi
}

expect_eq() {	# DESC WANT GOT
	if [ "$2" = "$3" ]; then ok "$1"
	else not_ok "$1 (want '$2', got '$3')"; fi
}

expect_ne() {	# DESC UNWANTED GOT
	if [ "$2" != "$3" ]; then ok "$1"
	else not_ok "$1 (got '$3')"; fi
}

expect_contains() {	# DESC NEEDLE HAYSTACK
	case $3 in
	*"$2"*) ok "$1" ;;
	*) not_ok "$1 ('$2' missing from '$(printf %s "$3" | head -c 300)')" ;;
	esac
}

expect_absent() {	# DESC NEEDLE HAYSTACK
	case $3 in
	*"$2"*) not_ok "$1 ('$2' present)" ;;
	*) ok "$1" ;;
	esac
}

expect_le() {	# DESC MAX GOT
	if [ "$3" -le "$2" ] 2>/dev/null; then ok "$1 ($3)"
	else not_ok "$1 (want at most $2, got '$3')"; fi
}

expect_ge() {	# DESC MIN GOT
	if [ "$3" -ge "$2" ] 2>/dev/null; then ok "$1 ($3)"
	else not_ok "$1 (want at least $2, got '$3')"; fi
}

# expect_log DESC TEXT: a line of this test's gateway logs holds TEXT.
expect_log() {
	if wait_until 5 log_has "$2"; then ok "$1"
	else not_ok "$1 (no log line with '$2')"; fi
}

log_has() { cat "$W"/gateway.*.log 2>/dev/null | grep -qF -- "$1"; }

# --- waiting -----------------------------------------------------------------

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_until SECONDS CMD [ARG...]: poll every 50 ms until CMD succeeds.
wait_until() {
	_until=$(($(now_ms) + $1 * 1000))
	shift
	while ! "$@"; do
		[ "$(now_ms)" -lt "$_until" ] || return 1
		sleep 0.05
	done
	return 0
}

# Is PID a live process (zombies are not)?
alive() {
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$_st" ] && [ "$_st" != Z ]
}

gone() { ! alive "$1"; }

# all_gone PID...: none of them is alive.
all_gone() {
	for _p in "$@"; do
		alive "$_p" && return 1
	done
	return 0
}

# --- processes ----------------------------------------------------------------

track() { TRACKED="$TRACKED $*"; }

# Zombies whose parent is cgigate (while it runs) or this test's shell.
zombies() {
	ps -eo ppid=,stat= | awk -v a="${GW_PID:--1}" -v b="$$" \
	    '($1 == a || $1 == b) && $2 ~ /^Z/' | wc -l | tr -d ' '
}

# Does FILE have at least N lines?
has_lines() { [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ]; }

no_zombies() { [ "$(zombies)" -eq 0 ]; }

# Live children of PID.
children_of() {
	ps -eo ppid=,stat= | awk -v a="$1" '$1 == a && $2 !~ /^Z/' |
	    wc -l | tr -d ' '
}

# Members of process group PGID that are still alive.
group_alive() {
	ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/' |
	    wc -l | tr -d ' '
}

no_children() { [ "$(children_of "$1")" -eq 0 ]; }

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# Processes working inside $W: handlers and whatever they left behind.
strays() {
	for _d in /proc/[0-9]*; do
		_p=${_d#/proc/}
		[ "$_p" = "$$" ] && continue
		_c=$(readlink "$_d/cwd" 2>/dev/null) || continue
		case $_c in "$W"|"$W"/*) echo "$_p" ;; esac
	done
}

# --- the gateway -------------------------------------------------------------

# write_config: [server] with this test's directories, then stdin, then
# STATE for every handler (route sections merge, so a test's own [route /]
# keeps what it says).
write_config() {
	{
		printf '[server]\nhandlers = %s\nwww = %s\ntimings = %s\n' \
		    "$H" "$WWW" "$DB"
		cat
		printf '\n[route /]\nenv = STATE=%s\n' "$STATE"
	} >"$CONF"
}

# use_handlers NAME[:DEST]...: copy tests/fixtures/handlers/NAME.cgi to
# $H/DEST.cgi (DEST defaults to NAME and may hold a subdirectory).
use_handlers() {
	for _n in "$@"; do
		_src=${_n%%:*}
		_dst=${_n#*:}
		mkdir -p "$(dirname "$H/$_dst")"
		cp "$FIX/$_src.cgi" "$H/$_dst.cgi" || exit 99
		chmod 755 "$H/$_dst.cgi"
	done
}

# spawn_gateway ARG...: start cgigate with exactly these arguments and
# wait (15 s at most) for its first "listening on" line.  Sets GW_PID and
# GW_LOG; returns 1 if it exited or never listened.
spawn_gateway() {
	GW_RUN=$((GW_RUN + 1))
	GW_LOG="$W/gateway.$GW_RUN.log"
	"$GATEWAY" "$@" 2>"$GW_LOG" &
	GW_PID=$!
	track "$GW_PID"
	wait_until 15 listening_or_dead
	grep -q 'listening on ' "$GW_LOG"
}

listening_or_dead() {
	grep -q 'listening on ' "$GW_LOG" || ! alive "$GW_PID"
}

# start_gateway ARG...: cgigate on 127.0.0.1:0 (plus ARG); sets PORT and
# URL.  A gateway that does not start ends the test.
start_gateway() {
	if ! spawn_gateway --listen 127.0.0.1:0 $ROOTOK "$@"; then
		not_ok "cgigate starts ($*)"
		sed 's/^/# /' "$GW_LOG"
		finish
	fi
	PORT=$(sed -n 's/.* listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' \
	    "$GW_LOG" | head -n 1)
	URL="http://127.0.0.1:$PORT"
}

# reap PID SECONDS: wait for a child of this shell to exit, SIGKILL it
# past the bound.  Sets REAP_RC to its exit status, or "hung".
reap() {
	if wait_until "$2" gone "$1"; then
		wait "$1"
		REAP_RC=$?
	else
		kill -KILL "$1" 2>/dev/null
		wait "$1"
		REAP_RC=hung
	fi
}

# stop_gateway [SIGNAL]: signal cgigate (TERM by default) and wait for it
# to drain and exit (30 s at most).  Sets GW_RC.
stop_gateway() {
	[ -n "$GW_PID" ] || return 0
	kill -"${1:-TERM}" "$GW_PID" 2>/dev/null
	reap "$GW_PID" 30
	GW_RC=$REAP_RC
	GW_PID=
}

# --- clients and the database ---------------------------------------------------

# HTTP status of a request (curl arguments); 000 when there was no answer.
http_code() { curl -s -m 30 -o /dev/null -w '%{http_code}' "$@"; }

sql() { sqlite3 -batch -cmd '.timeout 5000' "$DB" "$1"; }

# --- the end ----------------------------------------------------------------------

cleanup() {
	trap - EXIT INT TERM
	_victims="$TRACKED $(strays)"
	for _p in $_victims; do kill -TERM "$_p" 2>/dev/null; done
	# cgigate drains on SIGTERM and kills its handlers' groups itself.
	wait_until 5 all_gone $_victims
	_victims="$_victims $(strays)"
	for _p in $_victims; do kill -KILL "$_p" 2>/dev/null; done
	for _p in $TRACKED; do wait "$_p" 2>/dev/null; done
	if [ "$FAILS" -ne 0 ]; then
		for _l in "$W"/gateway.*.log; do
			[ -f "$_l" ] || continue
			echo "# --- ${_l##*/} (last 40 lines) ---"
			tail -n 40 "$_l" | sed 's/^/# /'
		done
	fi
	rm -rf "$W"
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 1' INT TERM

finish() {
	stop_gateway
	echo "# $CHECKS checks, $FAILS failed"
	[ "$FAILS" -eq 0 ] && exit 0
	exit 1
}
