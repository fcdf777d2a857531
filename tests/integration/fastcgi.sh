#!/bin/sh
# fastcgi.sh: FastCGI pools and remote backends, end to end.
#
# Real cgigate, real workers (handlers/hello-fcgi.fcgi built with libfcgi, the
# Perl one, tests/fixtures/fcgi-fixture with its misbehaving modes), a
# real php-fpm as a remote backend, curl as the client.
. "$(dirname "$0")/gw.sh"

FIX="$TB/tests/fixtures/fcgi-fixture"
[ -x "$FIX" ] || skip "fixture not built ($FIX)"

cp "$TB/handlers/hello-fcgi.fcgi" "$H/hello.fcgi"
cp "$TS/handlers/hello-perl.fcgi" "$H/hello-perl.fcgi"
cp "$FIX" "$H/fix.fcgi"
cp "$FIX" "$H/slow.fcgi"
cp "$FIX" "$H/one.fcgi"
cp "$FIX" "$H/rec.fcgi"
cp "$FIX" "$H/boot.fcgi"
cp "$FIX" "$H/late.fcgi"
cp "$FIX" "$H/idle.fcgi"
cp "$FIX" "$H/queue.fcgi"
cp "$FIX" "$H/early.fcgi"
cp "$FIX" "$H/upload.fcgi"
cp "$FIX" "$H/spool.fcgi"

{ server_conf; cat <<EOF; } >"$W/cgigate.conf"
[route /fix]
timeout = 2s
max_workers = 2
[route /slow]
timeout = 1s
max_workers = 1
[route /one]
min_workers = 1
max_workers = 1
max_queue_wait = 200ms
[route /rec]
max_workers = 3
max_requests = 10
[route /boot]
env = FIXTURE_START=crash
max_queue_wait = 500ms
[route /late]
env = FIXTURE_START=slow:5000
start_timeout = 700ms
[route /idle]
min_workers = 1
max_workers = 3
idle_timeout = 1s
[route /queue]
min_workers = 1
max_workers = 1
max_queue_wait = 10s
[route /upload]
min_workers = 1
max_workers = 1
timeout = 1s
request_buffering = no
[route /spool]
min_workers = 1
max_workers = 1
timeout = 1s
[route /early]
min_workers = 1
max_workers = 1
timeout = 5s
EOF
mkdir -p "$W/www"
start_gateway --config "$W/cgigate.conf"

# --- the plain cases -------------------------------------------------
# An answer before the body is all sent (libfcgi answers at the end of
# PARAMS): the rest of the body, maybe half a record, must not stay on a
# connection the next request uses.
head -c 1000000 /dev/zero >"$W/zeros"
# A route that buffers request bodies (the default) takes the slow upload
# whole before the worker sees it: the timeout covers the exchange with
# the worker only, and the slot was free meanwhile.
head -c 24576 /dev/urandom >"$W/24k"
curl -s -o "$W/spooled" -w '%{http_code}' --limit-rate 8K \
    --data-binary @"$W/24k" "$URL/spool?echo" >"$W/spool.code" &
sp=$!
track "$sp"
# Until its connection is open (this one's makes two); then its body
# comes in for 3 s, and it must still be coming when the answer is back.
conns() { curl -s -m 2 "$URL/_gateway/metrics" |
    awk '$1 == "cgigate_connections" { print $2 }'; }
retry 50 eval '[ "$(conns)" -ge 2 ]' || echo "# the upload never connected"
case $(curl -s -m 5 "$URL/spool") in
pid=*) kill -0 "$sp" 2>/dev/null &&
	ok "while it uploads, its route's only worker is free" ||
	not_ok "while it uploads, its route's only worker is free (done first)" ;;
*) not_ok "while it uploads, its route's only worker is free" ;;
esac
wait "$sp"
expect_eq "a slow upload to a buffering route -> 200" 200 "$(cat "$W/spool.code")"
cmp -s "$W/24k" "$W/spooled" && ok "and arrives whole" ||
    not_ok "and arrives whole"
# With request_buffering = no, a client that uploads slower than the
# timeout is told so (408); the worker it was talking to is not blamed,
# nor killed.  The body comes in
# 16 KB reads, so the answer is due within 2 s of the 1 s timeout, long
# before the 16 s the whole body would take.
head -c 131072 /dev/zero >"$W/128k"
pid1=$(curl -s "$URL/upload" | sed -n 's/^pid=\([0-9]*\) .*/\1/p')
t0=$(now_ms)
code=$(curl -s -o /dev/null -w '%{http_code}' --limit-rate 8K \
    --data-binary @"$W/128k" "$URL/upload")
t1=$(now_ms)
expect_eq "a body slower than timeout -> 408" 408 "$code"
[ $((t1 - t0)) -lt 8000 ] && ok "at the timeout ($((t1 - t0)) ms)" ||
    not_ok "at the timeout ($((t1 - t0)) ms)"
pid2=$(curl -s "$URL/upload" | sed -n 's/^pid=\([0-9]*\) .*/\1/p')
[ -n "$pid1" ] && [ "$pid1" = "$pid2" ] &&
    ok "the worker lives on (pid $pid2)" ||
    not_ok "the worker lives on (pid '$pid1' then '$pid2')"
expect_log "the slow client is logged" "client too slow sending the request body"

before=$(curl -s "$URL/early?conns")
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$W/zeros" \
    "$URL/early?early&sleep=300")
expect_eq "an answer before the body was read" 200 "$code"
after=$(curl -s -m 10 "$URL/early?conns")
expect_eq "the next request comes on a new connection" \
    "conns=$((${before#conns=} + 1))" "$after"
expect_eq "and a request after that on the same one" "$after" \
    "$(curl -s -m 10 "$URL/early?conns")"
body=$(curl -s "$URL/hello")
expect_eq "libfcgi hello.fcgi answers" "hi" "$body"
# HEAD to FastCGI workers (which write a body anyway): headers, no body.
expect_eq "HEAD to a FastCGI worker: no body (libfcgi)" "200 0" \
    "$(raw_head /hello)"
expect_contains "and its headers" "Content-Type:" "$(cat "$W/head.out")"
expect_eq "HEAD to a FastCGI worker: no body (fixture)" "200 0" \
    "$(raw_head /fix)"
expect_contains "and its headers" "Content-Type:" "$(cat "$W/head.out")"
body=$(curl -s "$URL/hello-perl/x/y")
case $body in
"hello from perl, pid "*"path '/x/y'") ok "Perl FCGI worker answers with PATH_INFO" ;;
*) not_ok "Perl FCGI worker answers with PATH_INFO: $body" ;;
esac
env=$(curl -s -H 'Proxy: evil' -H 'X-User: me' -H 'X_User: spoof' \
    "$URL/fix/a/b?env")
expect_contains "PARAMS carry SCRIPT_NAME" "SCRIPT_NAME=/fix" "$env"
expect_contains "PARAMS carry PATH_INFO" "PATH_INFO=/a/b" "$env"
expect_contains "PARAMS carry QUERY_STRING" "QUERY_STRING=env" "$env"
expect_contains "PARAMS carry SCRIPT_FILENAME" "SCRIPT_FILENAME=$H/fix.fcgi" "$env"
expect_contains "PARAMS carry HTTP_X_USER" "HTTP_X_USER=me" "$env"
expect_absent "no HTTP_PROXY in PARAMS (httpoxy)" "HTTP_PROXY" "$env"
expect_absent "X_User never impersonates X-User" "spoof" "$env"

# A body larger than one STDIN record, echoed back intact.
head -c 300000 /dev/urandom >"$W/body"
curl -s --data-binary @"$W/body" "$URL/fix?echo" >"$W/echoed"
if cmp -s "$W/body" "$W/echoed"; then ok "300 KB body through STDIN and back"
else not_ok "300 KB body through STDIN and back"; fi
curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$W/body" \
    "$URL/fix?echo" >"$W/echoed"
if cmp -s "$W/body" "$W/echoed"; then ok "chunked upload through STDIN"
else not_ok "chunked upload through STDIN"; fi
n=$(curl -s "$URL/fix?big=5000000" | wc -c)
expect_eq "5 MB response streamed" 5000000 "$n"
code=$(http_code "$URL/fix?status=404")
expect_eq "Status from a worker" 404 "$code"

# --- misbehaving workers ----------------------------------------------
code=$(http_code "$URL/fix?garbage")
expect_eq "garbage records -> 502" 502 "$code"
code=$(http_code "$URL/fix?wrongid")
expect_eq "record for another request id -> 502" 502 "$code"
expect_log "garbage is logged" "FastCGI record with an unknown version"
curl -s "$URL/fix" >/dev/null	# warm a worker that has served one
code=$(http_code "$URL/fix?crash")
expect_eq "crash after headers keeps the status" 200 "$code"
curl -s -o /dev/null "$URL/fix?crash"
rc=$?
[ $rc -ne 0 ] && ok "crash mid-body ends the response visibly (curl $rc)" ||
    not_ok "crash mid-body ends the response visibly (curl $rc)"
code=$(http_code "$URL/fix")
expect_eq "the pool replaced the crashed worker" 200 "$code"

code=$(http_code "$URL/fix?stderr=2000000")
expect_eq "2 MB of STDERR records, no deadlock" 200 "$code"
expect_log "worker stderr is logged with the request id" "] warn: stderr: eeee"
expect_log "worker stderr is capped" "more output dropped"

t0=$(date +%s)
code=$(http_code "$URL/slow?sleep=5000")
expect_eq "slow worker past timeout -> 504" 504 "$code"
expect_log "the slow worker is killed" "pool /slow: killing worker"
code=$(http_code "$URL/slow")
expect_eq "the slow route serves again after the kill" 200 "$code"

# Client gives up: the worker is killed and the slot is free again.
curl -s -m 1 "$URL/one?sleep=4000" >/dev/null
expect_log "the departure is noticed while the worker is silent" \
    "pool /one: killing worker"
code=$(http_code "$URL/one")
expect_eq "a client that left frees its worker slot" 200 "$code"

# Pool growth to max, then 503 with Retry-After.
curl -s -o /dev/null "$URL/one?sleep=1500" &
bg=$!
wait_route /one 1 0
hdr=$(curl -s -D - -o /dev/null "$URL/one")
wait $bg
case $hdr in
*"503"*"Retry-After"*) ok "max_workers busy past max_queue_wait -> 503 + Retry-After" ;;
*) not_ok "max_workers busy past max_queue_wait -> 503: $hdr" ;;
esac

# One worker, eight requests at once: seven queue and each is handed the
# worker in turn; none waits out max_queue_wait (10 s).
code=$(http_code "$URL/queue")
expect_eq "the one-worker pool answers" 200 "$code"
t0=$(now_ms)
jobs=""
for i in 1 2 3 4 5 6 7 8; do
	http_code "$URL/queue?sleep=150" >"$W/queue.$i" &
	jobs="$jobs $!"
done
for j in $jobs; do wait "$j"; done
t1=$(now_ms)
expect_eq "8 requests through 1 worker: all 200" "200 200 200 200 200 200 200 200" \
    "$(for f in "$W"/queue.*; do cat "$f"; echo; done | tr '\n' ' ' |
    sed 's/ $//')"
[ $((t1 - t0)) -ge 1200 ] && ok "served one after another ($((t1 - t0)) ms)" ||
    not_ok "served one after another: $((t1 - t0)) ms < 8 x 150 ms"
[ $((t1 - t0)) -lt 8000 ] && ok "handed over in turn, not at max_queue_wait" ||
    not_ok "handed over in turn: $((t1 - t0)) ms"

# Growth under concurrency, then back down to min_workers when idle.
jobs=""
for i in 1 2 3; do
	curl -s -o /dev/null "$URL/idle?sleep=700" &
	jobs="$jobs $!"
done
wait_route /idle 3 0
n=$(pgrep -c -P "$GW_PID" -f idle.fcgi)
expect_eq "the pool grew to max_workers for 3 concurrent requests" 3 "$n"
for j in $jobs; do wait "$j"; done
retry 40 eval '[ "$(pgrep -c -P "$GW_PID" -f idle.fcgi)" -le 1 ]'
expect_eq "idle workers past idle_timeout retire down to min_workers" 1 \
    "$(pgrep -c -P "$GW_PID" -f idle.fcgi)"

# A worker that dies at start-up: quick 503s, backoff, then recovery
# once the program is replaced by a working one.
t0=$(now_ms)
code=$(http_code "$URL/boot")
t1=$(now_ms)
expect_eq "worker crashing at start-up -> 503" 503 "$code"
[ $((t1 - t0)) -lt 3000 ] && ok "the 503 comes quickly" ||
    not_ok "the 503 comes quickly ($((t1 - t0)) ms)"
retry 50 log_has "worker failed at start-up"
expect_log "start-up failures back off" "worker failed at start-up"
cat >"$H/boot.fcgi.new" <<'EOF'
#!/bin/sh
unset FIXTURE_START
exec "$(dirname "$0")/fix.fcgi"
EOF
chmod 755 "$H/boot.fcgi.new"
mv "$H/boot.fcgi.new" "$H/boot.fcgi"
retry 80 eval '[ "$(http_code "$URL/boot")" = 200 ]' &&
    ok "the pool recovers once the program is fixed" ||
    not_ok "the pool recovers once the program is fixed"

# --- recycling and rolling under concurrent load -----------------------
seq 1 200 | sed "s|.*|$URL/rec|" >"$W/urls"
xargs -P 6 -n 10 curl -m 120 -s -o /dev/null -w '%{http_code}\n' <"$W/urls" \
    >"$W/codes" 2>/dev/null &
load=$!
# Roll the pool while it serves: once a request of the load is in flight.
retry 50 eval 'curl -s -m 2 "$URL/_gateway/status" |
    grep -q "\"route\":\"/rec\",[^}]*\"in_flight\":[1-9]"' ||
    echo "# no /rec request seen in flight"
touch "$H/rec.fcgi"
wait $load
good=$(grep -c '^200$' "$W/codes")
expect_eq "200 requests through recycling + a roll: all 200" 200 "$good"
# The pool manager notices the touch on its next pass (the load may be
# over by then, and a stop is quick).
retry 50 log_has "pool /rec: $H/rec.fcgi changed; rolling workers"
stop_gateway
n=$(sql "select count(*) from events where kind='worker_retire' and detail like '/rec: max_requests%'")
expect_ge "workers recycled after max_requests" 10 "$n"
# (its workers may all be recycling at that instant: the log says it)
expect_log "touching the program rolled the pool" \
    "pool /rec: $H/rec.fcgi changed; rolling workers"
n=$(sql "select count(*) from requests where mode='fastcgi' and route='/rec' and worker_requests between 1 and 10")
expect_eq "timings: worker_requests counted per worker" 200 "$n"
n=$(sql "select count(*) from requests where mode='fastcgi' and pid > 0 and connect_us is not null and ttfb_us > 0 and status = 200")
expect_ge "timings: pid, connect_us, ttfb_us recorded" 200 "$n"
n=$(sql "select count(*) from requests where connect_us = 0")
expect_ge "timings: reused connections have connect_us 0" 1 "$n"

# --- start-up timeout; a graceful stop lets a FastCGI request finish -------
start_gateway --config "$W/cgigate.conf"
code=$(http_code "$URL/late")
expect_eq "a worker silent past start_timeout -> 503" 503 "$code"
expect_log "and it is said why" "did not answer within start_timeout"
curl -s -o "$W/inflight" -w '%{http_code}' "$URL/fix?sleep=1500" \
    >"$W/inflight.code" &
cl=$!
wait_route /fix 1 0
fixpids=$(pgrep -P "$GW_PID" -f fix.fcgi | tr '\n' ' ')
stop_gateway
wait $cl
expect_eq "SIGTERM: the FastCGI request in flight completes" 200 \
    "$(cat "$W/inflight.code")"
expect_eq "SIGTERM: cgigate exits 0" 0 "$GW_RC"
left=""
for w in $fixpids; do
	st=$(ps -o stat= -p "$w" 2>/dev/null)
	case $st in ""|Z*) ;; *) left="$left $w" ;; esac
done
expect_eq "and its workers are gone" "" "$left"
n=$(sql "select count(*) from events where kind = 'worker_exit' and detail like '%stopped'")
expect_ge "worker exits at stop are recorded" 1 "$n"

# --- kill -9 leaves no worker ----------------------------------------------
start_gateway --config "$W/cgigate.conf"
curl -s "$URL/hello" >/dev/null
curl -s "$URL/fix" >/dev/null
workers=$(pgrep -P "$GW_PID" | tr '\n' ' ')
[ -n "$workers" ] && ok "workers are running: $workers" ||
    not_ok "workers are running"
kill -9 "$GW_PID"
wait "$GW_PID" 2>/dev/null
GW_PID=
none_alive() {
	alive=""
	for w in $workers; do
		st=$(ps -o stat= -p "$w" 2>/dev/null)
		case $st in ""|Z*) ;; *) alive="$alive $w" ;; esac
	done
	[ -z "$alive" ]
}
retry 20 none_alive
[ -z "$alive" ] && ok "kill -9 of cgigate leaves no live worker" ||
    not_ok "kill -9 of cgigate leaves no live worker:$alive"

# --- a backend whose listen queue is full ---------------------------------
# It never accepts, and its queue is filled: a connect to it does not
# complete.  The request gives up by max_queue_wait, not two minutes on.
bh_port=$(free_port)
perl -MIO::Socket::INET -e '
	$l = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
	    LocalPort => $ARGV[0], ReuseAddr => 1) or die "listen: $!";
	@c = map { IO::Socket::INET->new(PeerAddr => "127.0.0.1",
	    PeerPort => $ARGV[0], Timeout => 1) } 1 .. 3;
	open(F, ">", $ARGV[1]) and close(F);
	sleep 60	# the scenario: it holds its full queue open
	' "$bh_port" "$W/bh.ready" &
BH_PID=$!
track "$BH_PID"
wait_file "$W/bh.ready" 100
{ server_conf; cat <<EOF; } >"$W/bh.conf"
[route /bh]
fastcgi = tcp:127.0.0.1:$bh_port
max_queue_wait = 1s
timeout = 3s
EOF
start_gateway --config "$W/bh.conf"
t0=$(now_ms)
code=$(curl -s -m 20 -o /dev/null -w '%{http_code}' "$URL/bh")
t1=$(now_ms)
expect_eq "a backend that takes no connection -> 503" 503 "$code"
[ $((t1 - t0)) -lt 4000 ] && ok "by max_queue_wait ($((t1 - t0)) ms)" ||
    not_ok "by max_queue_wait ($((t1 - t0)) ms)"
expect_log "its connect timing out ejects it" "ejected (Connection timed out)"
stop_gateway
kill "$BH_PID"
wait "$BH_PID" 2>/dev/null

# --- php-fpm as a remote backend -------------------------------------------
# bootstrap.sh installs php-fpm: missing, it is a failure, not a skip.
if [ -z "$FPM" ]; then
	not_ok "php-fpm is installed (bootstrap.sh)"
	finish
fi
mkdir -p "$W/php/app"
cat >"$W/php/app/index.php" <<'EOF'
<?php
header("X-Php: yes");
echo "php ", 6 * 7, " ", $_SERVER["SCRIPT_FILENAME"], " ", $_SERVER["SCRIPT_NAME"], "\n";
EOF
fpm_port=$(free_port)
start_fpm "$fpm_port" || not_ok "php-fpm did not start"
{ server_conf; cat <<EOF; } >"$W/remote.conf"
[route /php]
fastcgi = tcp:127.0.0.1:$fpm_port, unix:$W/nobody-listens.sock
document_root = $W/php
max_connections = 2
timeout = 5s
EOF
start_gateway --config "$W/remote.conf"
out=$(curl -s -D "$W/h" "$URL/php/app/index.php")
expect_eq "php-fpm serves a PHP script through cgigate" \
    "php 42 $W/php/app/index.php /php/app/index.php" "$out"
grep -qi '^X-Php: yes' "$W/h" && ok "PHP's headers come through" ||
    not_ok "PHP's headers come through"
expect_log "a dead backend is ejected" "nobody-listens.sock ejected"
seq 1 60 | sed "s|.*|$URL/php/app/index.php|" >"$W/urls"
xargs -P 4 -n 5 curl -m 120 -s -o /dev/null -w '%{http_code}\n' <"$W/urls" \
    >"$W/codes" 2>/dev/null
good=$(grep -c '^200$' "$W/codes")
expect_eq "60 concurrent PHP requests all 200" 60 "$good"
code=$(http_code "$URL/php/missing.php")
expect_eq "a missing script is php-fpm's 404" 404 "$code"
kill "$FPM_PID"
wait "$FPM_PID" 2>/dev/null
t0=$(now_ms)
code=$(http_code "$URL/php/app/index.php")
t1=$(now_ms)
case $code in 502|503) ok "no backend left -> $code" ;;
*) not_ok "no backend left -> 502/503, got $code" ;; esac
[ $((t1 - t0)) -lt 3000 ] && ok "and it does not hang" ||
    not_ok "and it does not hang ($((t1 - t0)) ms)"
# The backend comes back: probed, restored, served again.
start_fpm "$fpm_port" || not_ok "php-fpm did not restart"
code=0
served() { code=$(http_code "$URL/php/app/index.php"); [ "$code" = 200 ]; }
retry 100 served
expect_eq "a restored backend serves again" 200 "$code"
expect_log "the restore is logged" "backend tcp:127.0.0.1:$fpm_port restored"
stop_gateway
finish
