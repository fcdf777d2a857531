#!/bin/sh
# cgi_failures.sh: broken handlers, limits and overload map to the right
# answer and a log line; a timed-out or abandoned handler's whole process
# group goes; nothing is left running and no zombie stays behind.
. "$(dirname "$0")/lib.sh"

use_handlers crash silent garbage crinvalue noblank hugeheader lurker late \
    marker busy flood slow hello
write_config <<EOF
stderr_limit = 8K
[route /lurker]
timeout = 1s
[route /marker]
max_body = 1K
[route /busy]
max_concurrency = 1
max_queue_wait = 200ms
EOF
start_gateway --config "$CONF"

pids_of() { cat "$STATE/$1.pids" 2>/dev/null; }
npids() { pids_of "$1" | wc -l | tr -d ' '; }

# --- bad output before the header block is complete: 502 ----------------------
expect_eq "crash before headers -> 502" 502 "$(http_code "$URL/crash")"
expect_log "the crash is logged with its signal" \
    "GET /crash -> 502: killed by signal 11"
expect_eq "exit 1 without output -> 502" 502 "$(http_code "$URL/silent")"
expect_log "and logged" "GET /silent -> 502"
expect_eq "garbage instead of headers -> 502" 502 \
    "$(http_code "$URL/garbage")"
expect_eq "CR inside a header value -> 502" 502 \
    "$(http_code "$URL/crinvalue")"
out=$(curl -s -m 30 -i "$URL/crinvalue")
expect_absent "the smuggled header is never forwarded" "X-Injected" "$out"
expect_eq "headers without the blank line -> 502" 502 \
    "$(http_code "$URL/noblank")"
expect_eq "a 64 KB header block -> 502" 502 "$(http_code "$URL/hugeheader")"

# --- timeout: 504, and the whole process group is killed -----------------------
expect_eq "handler past its 1 s timeout -> 504" 504 \
    "$(http_code "$URL/lurker")"
expect_log "the timeout is logged" "GET /lurker -> 504"
expect_eq "the handler wrote its 3 pids (itself, 2 background)" 3 \
    "$(npids lurker)"
if wait_until 10 all_gone $(pids_of lurker); then
	ok "no process of the timed-out handler survives"
else
	not_ok "no process of the timed-out handler survives:" \
	    "$(for p in $(pids_of lurker); do alive "$p" && echo "$p"; done)"
fi
pg=$(sed -n 2p "$STATE/lurker.pids")
expect_eq "its process group ($pg) is empty" 0 "$(group_alive "${pg:-x}")"

# --- a crash after the headers: the client sees a cut transfer ------------------
curl -s -m 30 -o "$W/late.out" "$URL/late"
rc=$?
expect_eq "crash after headers: curl reports a partial transfer (18)" 18 "$rc"
expect_eq "what was sent before the crash arrived" "first part" \
    "$(cat "$W/late.out")"
expect_log "the cut is logged" "response cut short"

# --- 413 before anything is spawned -------------------------------------------
head -c 4000 /dev/zero | tr '\0' x >"$W/4k"
expect_eq "declared body over max_body -> 413" 413 \
    "$(http_code --data-binary @"$W/4k" "$URL/marker")"
check "and the handler was never spawned" test ! -e "$STATE/marker.ran"
expect_eq "a body under max_body is fine" 200 \
    "$(http_code --data-binary 'small' "$URL/marker")"
check "(the marker handler does leave its mark)" test -e "$STATE/marker.ran"
expect_eq "chunked body over max_body -> 413 too" 413 \
    "$(http_code -H 'Transfer-Encoding: chunked' --data-binary @"$W/4k" \
    "$URL/marker")"

# --- overload: 503 with Retry-After, nothing spawned ------------------------------
curl -s -m 60 -o "$W/busy1" "$URL/busy" &
b1=$!
track "$b1"
if wait_until 20 test -s "$STATE/busy.started"; then
	ok "the first request holds the only slot"
else
	not_ok "the first request holds the only slot"
fi
curl -s -m 30 -D "$W/busy2.h" -o /dev/null "$URL/busy"
expect_eq "a second one past max_queue_wait -> 503" 503 \
    "$(head -n 1 "$W/busy2.h" | cut -d ' ' -f 2)"
check "with Retry-After" grep -qi '^Retry-After: *[0-9]' "$W/busy2.h"
expect_eq "and nothing spawned for it" 1 \
    "$(wc -l <"$STATE/busy.started" | tr -d ' ')"
touch "$STATE/busy.release"
wait "$b1"
expect_eq "the admitted request completed" done "$(cat "$W/busy1")"
expect_eq "the slot is free again afterwards" 200 "$(http_code "$URL/busy")"

# --- 10 MB of stderr: no deadlock, logged with the request id, capped ----------
expect_eq "10 MB stderr flood: the handler still answers" survived \
    "$(curl -s -m 60 "$URL/flood")"
ids=$(grep -h '\] stderr: ' "$W"/gateway.*.log | sed 's/.*\[\([^]]*\)\] stderr: .*/\1/' |
    sort -u)
expect_eq "stderr lines carry one request id" 1 \
    "$(echo "$ids" | grep -c .)"
lines=$(grep -h "\[$ids\] stderr: eeee" "$W"/gateway.*.log | wc -l)
expect_ge "stderr lines are logged" 1 "$lines"
expect_le "stderr lines are capped by stderr_limit = 8K (100-byte lines)" \
    83 "$lines"
expect_log "the cap is announced" \
    "[$ids] stderr: (more output dropped, limit 8192 bytes)"

# --- the client leaves: the handler's process group is killed ----------------------
curl -s -m 1 -o /dev/null "$URL/slow"
expect_eq "curl gave up after 1 s (28)" 28 "$?"
wait_until 5 has_lines "$STATE/slow.pids" 2
expect_eq "the slow handler wrote its 2 pids" 2 "$(npids slow)"
if wait_until 10 all_gone $(pids_of slow); then
	ok "client gone: handler and its child killed"
else
	not_ok "client gone: handler and its child killed:" \
	    "$(for p in $(pids_of slow); do alive "$p" && echo "$p"; done)"
fi
pg=$(sed -n 2p "$STATE/slow.pids")
expect_eq "its process group ($pg) is empty" 0 "$(group_alive "${pg:-x}")"
expect_log "the departure is logged" "client went away"

# --- 1,000 requests, 4 clients at a time: no zombie, nothing left ------------------
seq 1 1000 | sed "s|.*|$URL/hello|" >"$W/urls"
xargs -P 4 -n 50 curl -s -m 60 -w 'code=%{http_code}\n' <"$W/urls" \
    >"$W/codes"
expect_eq "1,000 requests, all 200" 1000 "$(grep -c '^code=200$' "$W/codes")"
wait_until 5 no_zombies
expect_eq "no zombie among cgigate's children or this shell's" 0 "$(zombies)"
wait_until 5 no_children "$GW_PID"
expect_eq "no handler process left under cgigate" 0 \
    "$(children_of "$GW_PID")"
expect_eq "nothing left running in the handlers directory" "" "$(strays)"

# --- still alive ---------------------------------------------------------------------
check "cgigate is still running" alive "$GW_PID"
expect_eq "and answers health" "200 ok" \
    "$(curl -s -m 30 -w '%{http_code} ' -o "$W/b" "$URL/_gateway/health")$(cat "$W/b")"
stop_gateway
expect_eq "and stops cleanly on SIGTERM" 0 "$GW_RC"
expect_eq "the stderr request id is the flood's row" /flood \
    "$(sql "select route from requests where request_id = '$ids'")"
expect_ge "502 rows carry their error" 6 \
    "$(sql "select count(*) from requests
        where status = 502 and error is not null and error != ''")"
expect_eq "the 504 row records the kill" 1 \
    "$(sql "select count(*) from requests
        where status = 504 and route = '/lurker' and signal > 0")"
expect_eq "the declared 413 never had a process" 1 \
    "$(sql "select count(*) from requests where status = 413 and pid is null")"
expect_eq "the 503 row has no process either" 1 \
    "$(sql "select count(*) from requests where status = 503 and pid is null")"
expect_eq "the abandoned request is recorded as 499" 1 \
    "$(sql "select count(*) from requests where route = '/slow' and status = 499")"
finish
