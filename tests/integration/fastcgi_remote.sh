#!/bin/sh
# fastcgi_remote.sh: remote FastCGI backends that hang, die, come back or
# are merely busy, with real php-fpm instances on loopback ports.
#
# A hung backend (php-fpm stopped with SIGSTOP: the kernel still takes
# connections, nothing answers) is ejected within about 2 s, by a probe
# that wants an answer to FCGI_GET_VALUES, and let back in only once it
# answers; an idempotent request waiting on it unanswered goes to the
# other backend, a POST stays where it was sent and runs once.  A single
# backend that dies answers 503 fast meanwhile and serves again within
# about a second of coming back.  A backend slow on one request, or with
# every worker busy, loses no request.
. "$(dirname "$0")/gw.sh"

FIX="$TB/tests/fixtures/fcgi-fixture"
[ -x "$FIX" ] || skip "fixture not built ($FIX)"
# bootstrap.sh installs php-fpm: missing, it is a failure, not a skip.
[ -n "$FPM" ] || { not_ok "php-fpm is installed (bootstrap.sh)"; finish; }

mkdir -p "$W/www" "$W/php"
# Each run leaves "ID PID" in ran.log before it sleeps ms=.
cat >"$W/php/run.php" <<'EOF'
<?php
$id = $_GET["id"] ?? "-";
file_put_contents(__DIR__ . "/ran.log", "$id " . getmypid() . "\n",
    FILE_APPEND | LOCK_EX);
usleep((int)($_GET["ms"] ?? 0) * 1000);
echo "ran $id ", getmypid(), "\n";
EOF

# php-fpm on a free port, its children tracked too: a stopped child must
# not outlive the test.  Sets PORT and FPM_PID.
fpm() {
	PORT=$(free_port)
	start_fpm "$PORT" || not_ok "php-fpm on $PORT did not start"
	retry 50 test "$(pgrep -P "$FPM_PID" | wc -l)" -ge 2
	for c in $(pgrep -P "$FPM_PID"); do track "$c"; done
}
# Stop or continue a php-fpm, master and children together.
fpm_sig() {	# STOP|CONT master
	kill -"$1" $(pgrep -P "$2") "$2"
}
fpm; A=$FPM_PID; A_PORT=$PORT
fpm; B=$FPM_PID; B_PORT=$PORT
fpm; C=$FPM_PID; C_PORT=$PORT
fpm; D_PORT=$PORT
FIXTURE_TCP="$W/fix.port" "$FIX" &
track $!
wait_file "$W/fix.port" 50 || not_ok "the TCP fixture listens"

{ server_conf; cat <<EOF; } >"$W/cgigate.conf"
[route /two]
fastcgi = tcp:127.0.0.1:$A_PORT, tcp:127.0.0.1:$B_PORT
document_root = $W/php
max_connections = 2
timeout = 20s
[route /one]
fastcgi = tcp:127.0.0.1:$C_PORT
document_root = $W/php
max_connections = 2
timeout = 6s
max_queue_wait = 3s
[route /mix]
fastcgi = tcp:127.0.0.1:$D_PORT, tcp:127.0.0.1:$(cat "$W/fix.port")
document_root = $W/php
max_connections = 2
EOF
start_gateway --config "$W/cgigate.conf"

# "CODE MS" of one request (curl's own time), the body in $W/got.ID.
req() {	# id url [curl options]
	_id=$1
	_u=$2
	shift 2
	_t0=$(now_ms)
	_c=$(curl -s -m 20 -o "$W/got.$_id" -w '%{http_code}' "$@" "$URL$_u")
	echo "$_c $(($(now_ms) - _t0))"
}
# The same in the background, into $W/res.ID; wait_bg waits for them.
BG=
req_bg() {	# id url [curl options]
	req "$@" >"$W/res.$1" &
	BG="$BG $!"
}
wait_bg() {
	for _p in $BG; do wait "$_p"; done
	BG=
}
res_code() { cut -d' ' -f1 "$W/res.$1" 2>/dev/null; }
res_ms() { cut -d' ' -f2 "$W/res.$1" 2>/dev/null; }
# The Unix time in ms of the first log line holding text at or after
# since (in ms), or empty.
log_ms() {	# text since
	gw_log | grep -F -- "$1" | cut -d' ' -f1 | while read -r _ts; do
		_ms=$(date -d "$_ts" +%s%3N)
		[ "$_ms" -ge "$2" ] && { echo "$_ms"; break; }
	done
}
# When the request whose row matches where arrived, in Unix ms (its row
# is written once it ends).
has_row() { [ -n "$(sql "select 1 from requests where $1")" ]; }
arrived_ms() {	# where
	retry 50 has_row "$1" &&
	    sql "select cast(ts * 1000 as integer) from requests where $1"
}
# The longest a request whose row matches where took in cgigate, in ms.
took_ms() {	# where
	sql "select max(total_us) / 1000 from requests where $1"
}
# The state /_gateway/status gives a backend of a route.
state_of() {	# route backend
	curl -s -m 2 "$URL/_gateway/status" | python3 -c '
import json, sys
for p in json.load(sys.stdin)["pools"]:
    if p["route"] == sys.argv[1]:
        for w in p["workers"]:
            if w["name"] == sys.argv[2]:
                print(w["state"])' "$1" "$2"
}
is_ejected() { [ "$(state_of "$1" "$2")" = ejected ]; }
not_ejected() { st=$(state_of "$1" "$2"); [ -n "$st" ] && [ "$st" != ejected ]; }
ran_count() { grep -c "^$1 " "$W/php/ran.log"; }
within() {	# what max_ms got_ms
	if [ "$3" -ge 0 ] 2>/dev/null && [ "$3" -le "$2" ]; then ok "$1 ($3 ms)"
	else not_ok "$1 (want at most $2 ms, got '$3')"; fi
}

AN="tcp:127.0.0.1:$A_PORT"
BN="tcp:127.0.0.1:$B_PORT"
CN="tcp:127.0.0.1:$C_PORT"

# --- a hung backend of two ------------------------------------------------
for i in 1 2 3 4; do
	r=$(req w$i "/two/run.php?id=w$i")
	[ "${r%% *}" = 200 ] || not_ok "warm-up request $i: $r"
done
fpm_sig STOP "$A"
t0=$(now_ms)
# Two at once: least outstanding sends one to each backend.
req_bg g1 "/two/run.php?ms=1500&id=g1"
sleep 0.2
req_bg g2 "/two/run.php?ms=1500&id=g2"
wait_bg
expect_eq "hung backend: the first GET is answered" 200 "$(res_code g1)"
expect_eq "hung backend: so is the second" 200 "$(res_code g2)"
within "neither waits for the route timeout" 5000 \
    "$(( $(res_ms g1) > $(res_ms g2) ? $(res_ms g1) : $(res_ms g2) ))"
expect_log "the GET it held went to the other backend" \
    "GET is idempotent and unanswered: sent again to $BN"
# From the arrival of that request (its id in the log line) to the line
# of the ejection.
rid=$(gw_log | grep -F "sent again to $BN" | sed -n 's/.*\[\(r[0-9]*\)\].*/\1/p' |
    head -n 1)
ta=$(arrived_ms "request_id = '$rid'")
te=$(log_ms "backend $AN ejected (no answer to FCGI_GET_VALUES" "$t0")
within "the hung backend is ejected within about 2 s" 2200 \
    "$([ -n "$te" ] && [ -n "$ta" ] && echo $((te - ta)) || echo "$ta-$te")"
if is_ejected /two "$AN"; then ok "the status shows it ejected"
else not_ok "the status shows it ejected ($(state_of /two "$AN"))"; fi
metrics=$(curl -s "$URL/_gateway/metrics")
expect_contains "the metrics show it down" \
    "cgigate_pool_backend_up{route=\"/two\",backend=\"$AN\"} 0" "$metrics"
expect_contains "and count the ejection" \
    "cgigate_pool_backend_ejections_total{route=\"/two\",backend=\"$AN\"} 1" \
    "$metrics"
bad=""
for i in 1 2 3; do
	r=$(req q$i "/two/run.php?id=q$i")
	[ "${r%% *}" = 200 ] || bad="$bad $r"
done
expect_eq "meanwhile requests go to the other one" "" "$bad"
retry 50 has_row "query = 'id=q3'"
within "at once" 1000 "$(took_ms "query like 'id=q_'")"
sleep 2
if is_ejected /two "$AN"; then ok "a stopped backend is not let back in"
else not_ok "a stopped backend is not let back in"; fi
tc=$(now_ms)
fpm_sig CONT "$A"
expect_log "the restore is logged" "backend $AN restored (answered FCGI_GET_VALUES"
tr=$(log_ms "backend $AN restored" "$tc")
within "continued, it is restored at once" 500 \
    "$([ -n "$tr" ] && echo $((tr - tc)))"
wait_sql 1 "select count(*) from events where kind = 'backend_ejected' and detail like '/two $AN: no answer%'"
expect_eq "the events table has the ejection" 1 \
    "$(sql "select count(*) from events where kind = 'backend_ejected' and detail like '/two $AN: no answer%'")"
wait_sql 1 "select count(*) from events where kind = 'backend_restored' and detail like '/two $AN%'"
expect_eq "and the restore" 1 \
    "$(sql "select count(*) from events where kind = 'backend_restored' and detail like '/two $AN%'")"

# A POST that reached the hung backend may have been acted on: it is
# never sent again.  It waits; the backend, continued, answers it.
fpm_sig STOP "$A"
t0=$(now_ms)
req_bg p1 "/two/run.php?ms=1500&id=p1" -d body=1
sleep 0.2
req_bg p2 "/two/run.php?ms=1500&id=p2" -d body=2
sleep 3
fpm_sig CONT "$A"
wait_bg
expect_eq "a POST to the hung pair: answered" 200 "$(res_code p1)"
expect_eq "the other too" 200 "$(res_code p2)"
slow=$(( $(res_ms p1) > $(res_ms p2) ? $(res_ms p1) : $(res_ms p2) ))
expect_ge "the one on the hung backend waited for it" 2800 "$slow"
expect_eq "each POST ran once" "1 1" "$(ran_count p1) $(ran_count p2)"
expect_absent "no POST was sent again" "POST is idempotent" "$(gw_log)"

# --- a dead backend's unanswered GET -------------------------------------
# The fixture takes the first request (the first of equals) and exits
# before answering: the GET goes to the other backend, once.
r=$(req m1 "/mix/run.php?crashfirst&id=m1")
expect_eq "a GET whose backend died under it goes to the other" 200 "${r%% *}"
expect_log "and the log says so" "GET is idempotent: trying again"

# --- one backend, slow on one request --------------------------------------
r=$(req o1 "/one/run.php?id=o1")
expect_eq "a single backend serves" 200 "${r%% *}"
req_bg s1 "/one/run.php?ms=2500&id=s1"
sleep 1.5
r=$(req s2 "/one/run.php?id=s2")
expect_eq "one slow request: the backend answers others" 200 "${r%% *}"
retry 50 has_row "query = 'id=s2'"
within "at once" 1000 "$(took_ms "query = 'id=s2'")"
wait_bg
expect_eq "and the slow one" 200 "$(res_code s1)"
expect_absent "a backend slow on one request is not ejected" \
    "backend $CN ejected" "$(gw_log)"

# --- one backend, every worker busy ----------------------------------------
# It looks hung (nothing answers, a probe waits in its listen queue) and
# is ejected; a request waiting meanwhile is served when a worker is free.
req_bg t1 "/one/run.php?ms=2500&id=t1"
req_bg t2 "/one/run.php?ms=2500&id=t2"
sleep 0.5
req_bg t3 "/one/run.php?id=t3"
wait_bg
expect_eq "every worker busy: the first slow request is answered" 200 \
    "$(res_code t1)"
expect_eq "the second too" 200 "$(res_code t2)"
expect_eq "and the request that waited for a worker" 200 "$(res_code t3)"
retry 20 not_ejected /one "$CN"
if not_ejected /one "$CN"; then ok "the busy backend is back in service"
else not_ok "the busy backend is back in service"; fi

# --- one backend that dies and comes back --------------------------------
kill "$C"
wait "$C" 2>/dev/null
bad=""
worst=0
t0=$(now_ms)
while [ $(($(now_ms) - t0)) -lt 8000 ]; do
	r=$(curl -s -m 20 -o /dev/null -D "$W/h503" \
	    -w '%{http_code} %{time_total}' "$URL/one/run.php?id=d")
	c=${r%% *}
	_t=$(echo "${r#* }" | awk '{ printf "%d", $1 * 1000 }')
	[ "$_t" -gt "$worst" ] && worst=$_t
	[ "$c" = 503 ] && grep -qi '^Retry-After: 1' "$W/h503" || bad="$bad $c"
	sleep 0.5
done
expect_eq "its only backend dead for 8 s: every request 503 with Retry-After" \
    "" "$bad"
within "each at once" 1000 "$worst"
start_fpm "$C_PORT" || not_ok "php-fpm did not restart"
C=$FPM_PID
for c in $(pgrep -P "$C"); do track "$c"; done
tu=$(now_ms)
served() { [ "$(http_code "$URL/one/run.php?id=u")" = 200 ]; }
retry 100 served
within "back, it serves again within about a second" 2000 $(($(now_ms) - tu))

# --- one backend that hangs ------------------------------------------------
retry 50 test "$(pgrep -P "$C" | wc -l)" -ge 2
for c in $(pgrep -P "$C"); do track "$c"; done
r=$(req h0 "/one/run.php?id=h0")
expect_eq "a single backend serves" 200 "${r%% *}"
fpm_sig STOP "$C"
t0=$(now_ms)
req_bg h1 "/one/run.php?id=h1"
sleep 2.5
r=$(req h2 "/one/run.php?id=h2")
expect_eq "its only backend hung: a new request gets 503" 503 "${r%% *}"
within "by max_queue_wait (3 s)" 3800 "${r#* }"
wait_bg
expect_eq "the request it held times out: 504" 504 "$(res_code h1)"
ta=$(arrived_ms "query = 'id=h1'")
te=$(log_ms "backend $CN ejected (no answer to FCGI_GET_VALUES" "$t0")
within "the hung backend is ejected within about 2 s" 2200 \
    "$([ -n "$te" ] && [ -n "$ta" ] && echo $((te - ta)) || echo "$ta-$te")"
sleep 1.5
if is_ejected /one "$CN"; then ok "a stopped backend is not let back in"
else not_ok "a stopped backend is not let back in ($(state_of /one "$CN"))"; fi
tc=$(now_ms)
fpm_sig CONT "$C"
retry 50 served
within "continued, it serves again at once" 1000 $(($(now_ms) - tc))
tr=$(log_ms "backend $CN restored (answered FCGI_GET_VALUES" "$tc")
within "restored by its probe's answer" 500 \
    "$([ -n "$tr" ] && echo $((tr - tc)))"
finish
