#!/bin/sh
# reload.sh: SIGHUP loads the configuration again.  Requests in flight
# finish on the old settings, new ones get the new, nothing fails under
# load, and a bad file changes nothing.
. "$(dirname "$0")/gw.sh"

cat >"$H/greet.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\n%s\n' "$GREETING"
EOF
# (sleep: the scenario, a request in flight across the reload)
cat >"$H/slow.cgi" <<'EOF'
#!/bin/sh
sleep 2
printf 'Content-Type: text/plain\n\nslow\n'
EOF
chmod 755 "$H"/*.cgi
mkdir -p "$W/www"
conf() {	# greeting slow-timeout
	{ server_conf; cat <<EOF; } >"$W/cgigate.conf"
[route /greet]
env = GREETING=$1
[route /slow]
timeout = $2
EOF
}
conf one 5s
start_gateway --config "$W/cgigate.conf"
expect_eq "before: the first setting" one "$(curl -s "$URL/greet")"

# In flight across a reload that cuts the timeout: finishes on the old.
curl -s -o "$W/slow.out" -w '%{http_code}' "$URL/slow" >"$W/slow.code" &
cl=$!
wait_route /slow 1 0
conf two 1s
kill -HUP "$GW_PID"
expect_log "the reload is logged" "SIGHUP: configuration reloaded"
expect_eq "after: the new setting" two "$(curl -s "$URL/greet")"
wait $cl
expect_eq "a request in flight finishes on the old timeout" 200 \
    "$(cat "$W/slow.code")"
expect_eq "a new request gets the new timeout" 504 "$(http_code "$URL/slow")"

# Reloads under concurrent load: not one request fails.
seq 1 400 | sed "s|.*|$URL/greet|" >"$W/urls"
xargs -P 4 -n 20 curl -m 120 -s -o /dev/null -w '%{http_code}\n' <"$W/urls" \
    >"$W/codes" &
load=$!
for g in three four five six; do
	sleep 0.2	# the scenario: reloads spread over the load
	conf "$g" 1s
	kill -HUP "$GW_PID"
done
wait $load
expect_eq "400 requests during 4 reloads: all 200" 400 \
    "$(grep -c '^200$' "$W/codes")"
# The last SIGHUP is handled a moment later: up to 5 s for it.
retry 50 eval '[ "$(curl -s "$URL/greet")" = six ]'
expect_eq "the last reload won" six "$(curl -s "$URL/greet")"

# A broken file: errors logged, the running configuration kept.
printf '[server]\nhandlers = %s\n[route /greet]\ntimeout = whenever\n' \
    "$H" >"$W/cgigate.conf"
kill -HUP "$GW_PID"
expect_log "a bad file is reported with file:line" \
    "SIGHUP: $W/cgigate.conf:4: bad duration"
expect_log "and kept out" "keeping the running configuration"
expect_eq "the old configuration still serves" six "$(curl -s "$URL/greet")"

# Settings bound at start say so.
conf six 1s
sed -i "s|^www = .*|www = $W/elsewhere|" "$W/cgigate.conf"
kill -HUP "$GW_PID"
expect_log "a change that needs a restart says so" \
    "www changed ($W/www -> $W/elsewhere); that takes a restart"
stop_gateway
expect_eq "exit 0 after reloads" 0 "$GW_RC"
expect_ge "reload events" 6 "$(sql "select count(*) from events where kind = 'reload'")"
expect_eq "the failed one too" 1 \
    "$(sql "select count(*) from events where kind = 'reload_failed'")"

# Reloads go on for good: 1,100 of them, while a request that began
# before the first holds its configuration; what they replace is freed
# once nothing uses it (the log line of each reload counts the older
# configurations still in use).
conf r0 5s
start_gateway --config "$W/cgigate.conf" --timings "$W/many.db"
curl -s -o "$W/held.out" -w '%{http_code}' "$URL/slow" >"$W/held.code" &
cl=$!
wait_route /slow 1 0
n=0
while [ $n -lt 1100 ]; do
	n=$((n + 1))
	[ $n -lt 1100 ] || conf r1100 5s
	kill -HUP "$GW_PID"
	i=0
	while [ "$(grep -c 'configuration reloaded' "$GW_LOG")" -lt $n ] &&
	    [ $i -lt 500 ]; do
		i=$((i + 1))
		sleep 0.01
	done
done
wait $cl
expect_eq "1,100 reloads: all of them logged" 1100 \
    "$(grep -c 'configuration reloaded' "$GW_LOG")"
expect_eq "the 1,100th took effect" r1100 "$(curl -s "$URL/greet")"
expect_eq "the request held across them finished on its own" "200 slow" \
    "$(cat "$W/held.code") $(cat "$W/held.out")"
expect_contains "while it ran, its configuration was kept" \
    "(1 older still in use)" "$(gw_log)"
kill -HUP "$GW_PID"
retry 50 eval '[ "$(grep -c "configuration reloaded" "$GW_LOG")" -ge 1101 ]'
expect_eq "once it ended, every older one was freed" 1 \
    "$(tail -n 20 "$GW_LOG" | grep 'configuration reloaded' | tail -n 1 |
    grep -c '(0 older still in use)')"
stop_gateway
expect_eq "exit 0 after 1,101 reloads" 0 "$GW_RC"
finish
