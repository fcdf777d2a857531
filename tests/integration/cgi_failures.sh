#!/bin/sh
# cgi_failures.sh: broken handlers, limits and overload map to the right
# answer and a log line; nothing is left running, no zombie stays.
. "$(dirname "$0")/gw.sh"

mk() {	# name, then the script body on stdin
	{ echo '#!/bin/sh'; cat; } >"$H/$1.cgi"
	chmod 755 "$H/$1.cgi"
}
mk crash <<'EOF'
kill -SEGV $$
EOF
mk silent <<'EOF'
exit 1
EOF
mk garbage <<'EOF'
printf 'this is no header\n\nbody\n'
EOF
mk crinvalue <<'EOF'
printf 'Content-Type: text/plain\rX-Injected: 1\n\nbody\n'
EOF
mk noblank <<'EOF'
printf 'Content-Type: text/plain\n'
EOF
mk hugeheader <<'EOF'
printf 'Content-Type: text/plain\n'
i=0
while [ $i -lt 2000 ]; do printf 'X-Filler-%d: %s\n' $i aaaaaaaaaaaaaaaaaaaa; i=$((i+1)); done
printf '\nbody\n'
EOF
# (the sleeps in these handlers are the scenario: handlers that linger,
# stall or run long; the test itself polls, it does not sleep)
mk lurker <<'EOF'
sleep 300 &
echo $! >"$PIDFILE"
echo $$ >>"$PIDFILE"
sleep 300
EOF
mk orphan <<'EOF'
sleep 0.3 </dev/null >/dev/null 2>&1 &
echo $! >"$PIDFILE"
printf 'Content-Type: text/plain\n\nleft a child behind\n'
EOF
mk late <<'EOF'
printf 'Content-Type: text/plain\n\nfirst part\n'
sleep 0.3
kill -KILL $$
EOF
mk stall <<'EOF'
printf 'Content-Type: text/plain\n\nfirst part\n'
sleep 300
EOF
mk marker <<'EOF'
touch "$MARKER"
printf 'Content-Type: text/plain\n\nran\n'
EOF
mk busy <<'EOF'
sleep 1.5
printf 'Content-Type: text/plain\n\ndone\n'
EOF
mk fifo <<'EOF'
echo "$QUERY_STRING" >>"$ORDER"
while [ ! -e "$GATE" ]; do sleep 0.02; done
printf 'Content-Type: text/plain\n\n%s\n' "$QUERY_STRING"
EOF
mk flood <<'EOF'
head -c 10485760 /dev/zero | tr '\0' 'e' | fold -w 100 >&2
printf 'Content-Type: text/plain\n\nsurvived\n'
EOF
mk waiter <<'EOF'
echo $$ >"$PIDFILE"
sleep 30
printf 'Content-Type: text/plain\n\nlate\n'
EOF
mk quick <<'EOF'
printf 'Content-Type: text/plain\n\nq\n'
EOF

{ server_conf; cat <<EOF; } >"$W/cgigate.conf"
stderr_limit = 8K
[route /lurker]
timeout = 1s
env = PIDFILE=$W/lurker.pids
[route /stall]
timeout = 1s
[route /marker]
max_body = 1K
env = MARKER=$W/marker
[route /busy]
max_concurrency = 1
max_queue_wait = 200ms
[route /waiter]
env = PIDFILE=$W/waiter.pid
[route /orphan]
env = PIDFILE=$W/orphan.pid
[route /fifo]
max_concurrency = 1
max_queue_wait = 10s
env = ORDER=$W/fifo.order
env = GATE=$W/fifo.gate
EOF
mkdir -p "$W/www"
start_gateway --config "$W/cgigate.conf"

expect_eq "crash before headers -> 502" 502 "$(http_code "$URL/crash")"
expect_log "the crash is logged" "GET /crash -> 502: killed by signal 11"
expect_eq "exit 1 without output -> 502" 502 "$(http_code "$URL/silent")"
expect_eq "garbage headers -> 502" 502 "$(http_code "$URL/garbage")"
expect_eq "bare CR inside a header -> 502" 502 "$(http_code "$URL/crinvalue")"
out=$(curl -s "$URL/crinvalue")
expect_absent "the bad header is never forwarded" "X-Injected" "$out"
expect_eq "no blank line after headers -> 502" 502 "$(http_code "$URL/noblank")"
expect_eq "header block over the bound -> 502" 502 "$(http_code "$URL/hugeheader")"

# Timeout: the whole process group goes, background children included.
code=$(http_code "$URL/lurker")
expect_eq "timeout -> 504" 504 "$code"
expect_log "the timeout is logged" "GET /lurker -> 504"
survivors=""
for p in $(cat "$W/lurker.pids" 2>/dev/null); do
	st=$(ps -o stat= -p "$p" 2>/dev/null)
	case $st in ""|Z*) ;; *) survivors="$survivors $p" ;; esac
done
[ -s "$W/lurker.pids" ] && [ -z "$survivors" ] &&
    ok "no process of the timed-out group survives" ||
    not_ok "no process of the timed-out group survives:$survivors"

# A crash after the headers: the response ends visibly truncated.
curl -s -o "$W/late.out" "$URL/late"
rc=$?
[ $rc -eq 18 ] && ok "crash after headers: curl sees a cut transfer (18)" ||
    not_ok "crash after headers: curl sees a cut transfer (got $rc)"
grep -q 'first part' "$W/late.out" && ok "what was sent arrived" ||
    not_ok "what was sent arrived"
expect_log "the log says what the client got" \
    "GET /late -> 200 sent, then handler killed by signal 9: response truncated"
wait_sql 1 "select count(*) from requests where route = '/late'"
expect_eq "and so does the row" "200|truncated: killed by signal 9" \
    "$(sql "select status, error from requests where route = '/late'")"

# A timeout after the headers: one story in the log, the row and the wire.
curl -s -o "$W/stall.out" "$URL/stall"
expect_eq "timeout after headers: curl sees a cut transfer" 18 $?
expect_log "the log says 200 went out, then the timeout" \
    "GET /stall -> 200 sent, then handler timed out; process group killed (504): response truncated"
wait_sql 1 "select count(*) from requests where route = '/stall'"
expect_eq "the row: the status sent, the timeout, truncated" \
    "200|truncated: timeout after headers" \
    "$(sql "select status, error from requests where route = '/stall'")"

# 413 before anything is spawned.
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @/dev/stdin \
    "$URL/marker" <<EOF
$(head -c 4000 /dev/zero | tr '\0' x)
EOF
)
expect_eq "declared body over max_body -> 413" 413 "$code"
[ ! -e "$W/marker" ] && ok "and the handler never ran" ||
    not_ok "and the handler never ran"
head -c 4000 /dev/zero | tr '\0' x >"$W/big.body"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
    --data-binary @"$W/big.body" "$URL/marker")
expect_eq "chunked body over max_body -> 413" 413 "$code"

# Overload: concurrency 1, short queue wait -> 503 with Retry-After.
curl -s -o "$W/busy1" "$URL/busy" &
b1=$!
wait_route /busy 1 0
curl -s -D "$W/busy2.h" -o /dev/null "$URL/busy"
wait $b1
head -n 1 "$W/busy2.h" | grep -q ' 503 ' && ok "route full past max_queue_wait -> 503" ||
    not_ok "route full past max_queue_wait -> 503: $(head -n 1 "$W/busy2.h")"
grep -qi '^Retry-After:' "$W/busy2.h" && ok "503 carries Retry-After" ||
    not_ok "503 carries Retry-After"
expect_eq "the admitted request completed" "done" "$(cat "$W/busy1")"

# Waiters for a slot are served in the order they came. The first holds
# the slot until the gate opens; each next one is sent only once the
# status page counts the one before it, so the order of arrival is known.
fp=""
n=0
for q in a b c d e; do
	curl -s -m 30 -o /dev/null "$URL/fifo?$q" &
	fp="$fp $!"
	wait_route /fifo $((n + 1)) $n || not_ok "request $q seen queued"
	n=$((n + 1))
done
touch "$W/fifo.gate"
for p in $fp; do wait "$p"; done
expect_eq "queued requests run first come, first served" "a b c d e" \
    "$(tr '\n' ' ' <"$W/fifo.order" | sed 's/ $//')"

# 10 MB of stderr: no deadlock, logged with the request id, capped.
out=$(curl -s -m 60 "$URL/flood")
expect_eq "10 MB stderr flood does not deadlock" "survived" "$out"
expect_log "stderr is logged with the request id" "] warn: stderr: eeeeeeeeee"
expect_log "stderr is capped" "more output dropped, limit 8192 bytes"
lines=$(gw_log | grep -c 'stderr: eeee')
[ "$lines" -le 90 ] && ok "stderr lines bounded by the cap ($lines)" ||
    not_ok "stderr lines bounded by the cap ($lines)"

# A client that leaves gets its handler killed.
curl -s -m 1 "$URL/waiter" >/dev/null
wp=$(cat "$W/waiter.pid" 2>/dev/null)
dead() { case $(ps -o stat= -p "$1" 2>/dev/null) in ""|Z*) ;; *) return 1 ;; esac; }
if [ -z "$wp" ]; then
	not_ok "client gone: handler killed (it never wrote its pid)"
elif retry 50 dead "$wp"; then
	ok "client gone: handler killed"
else
	not_ok "client gone: handler killed (pid $wp is $(ps -o stat= -p "$wp"))"
fi
expect_log "the departure is logged" "client went away"

# No zombies after 1,000 requests, sent while an admin holds a read
# transaction open on the timing database the whole time.
# (the reader's sleep is the scenario: the transaction stays open while
# the requests run.)  The database must be there already: sqlite3 would
# make an empty one, and its errors are no snapshot.
[ -s "$W/timings.db" ] && ok "the timing database exists for the reader" ||
    not_ok "the timing database exists for the reader"
(printf 'BEGIN;\nSELECT count(*) FROM requests;\n'; sleep 4;
    printf 'SELECT count(*) FROM requests;\nCOMMIT;\n'
    printf 'SELECT count(*) FROM requests;\n') |
    sqlite3 -bail -cmd '.timeout 5000' "file:$W/timings.db?mode=rw" \
    >"$W/reader.out" 2>"$W/reader.err" &
reader=$!
seq 1 1000 | sed "s|.*|$URL/quick|" >"$W/urls"
xargs -P 4 -n 50 curl -m 120 -s -o /dev/null -w '%{http_code}\n' <"$W/urls" \
    >"$W/codes"
expect_eq "1,000 requests all 200" 1000 "$(grep -c '^200$' "$W/codes")"
wait $reader
rrc=$?
expect_eq "the reader's sqlite3 succeeded, no error output" "0 " \
    "$rrc $(cat "$W/reader.err")"
r1=$(sed -n 1p "$W/reader.out")
r2=$(sed -n 2p "$W/reader.out")
case $r1 in
""|*[!0-9]*) not_ok "the reader counted rows (got '$r1')" ;;
*) ok "the reader counted rows ($r1)" ;;
esac
r3=$(sed -n 3p "$W/reader.out")
expect_eq "the reader printed three counts only" 3 \
    "$(grep -c . "$W/reader.out")"
expect_eq "the reader saw one snapshot throughout" "$r1" "$r2"
# and rows were written meanwhile: after its COMMIT it sees them.
[ "${r3:-0}" -gt "${r2:-0}" ] 2>/dev/null &&
    ok "rows came in while it read ($r2 then $r3)" ||
    not_ok "rows came in while it read ('$r2' then '$r3')"
wait_sql 1000 "select count(*) from requests where route = '/quick'"
expect_eq "rows written while it read: all 1,000" 1000 \
    "$(sql "select count(*) from requests where route = '/quick'")"
# (a handler that just ended may be a zombie for an instant: 5 s to reap)
zombies() { ps -eo ppid=,stat= | awk -v p="$GW_PID" '$1 == p && $2 ~ /^Z/' |
    wc -l; }
retry 50 eval '[ "$(zombies)" -eq 0 ]'
expect_eq "no zombie among cgigate's children" 0 "$(zombies)"
# Its one lasting child is the keeper (cgigate(8), "Processes").
left=$(ps -eo ppid=,comm= | awk -v p="$GW_PID" \
    '$1 == p && $2 != "cgigate-keeper"' | wc -l)
expect_eq "no handler process left running" 0 "$left"

# A handler that exits before its own child: the child is re-parented to
# cgigate (a subreaper) and must be reaped, not left as a zombie.
expect_eq "a handler that leaves a child behind: 200" 200 \
    "$(http_code "$URL/orphan")"
op=$(cat "$W/orphan.pid")
gone() { [ -z "$(ps -o stat= -p "$1" 2>/dev/null)" ]; }
retry 30 gone "$op"
expect_eq "its orphan was reaped after it exited" "" \
    "$(ps -o stat= -p "$op" 2>/dev/null)"

expect_eq "cgigate still answers after all that" ok \
    "$(curl -s "$URL/_gateway/health")"
stop_gateway
expect_eq "and stops cleanly" 0 "$GW_RC"
n=$(sed -n 's/.* \([0-9]*\) orphaned processes reaped.*/\1/p' "$W"/gateway.*.log)
expect_ge "the stop counts the orphans it reaped" 1 "${n:-0}"
n=$(sql "select count(*) from requests where status = 502 and error is not null")
expect_ge "502 rows carry their error" 6 "$n"
n=$(sql "select count(*) from requests where status = 504 and signal is not null")
expect_eq "the 504 row records the kill" 1 "$n"
n=$(sql "select count(*) from requests where status = 413")
expect_eq "both 413s are recorded" 2 "$n"
# The chunked one too: the route buffers bodies, so it is refused while
# its body is read, before anything runs.
n=$(sql "select count(*) from requests where status = 413 and pid is null")
expect_eq "neither one had a process" 2 "$n"
finish
