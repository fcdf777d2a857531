#!/bin/sh
# admin.sh: /_gateway/health, status (JSON) and metrics (Prometheus text)
# report what happened, and only to addresses in admin_allow.
. "$(dirname "$0")/gw.sh"

FIX="$TB/tests/fixtures/fcgi-fixture"
[ -x "$FIX" ] || skip "fixture not built"
cat >"$H/hello.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\nhello\n'
EOF
chmod 755 "$H/hello.cgi"
cp "$FIX" "$H/pool.fcgi"
mkdir -p "$W/www"
{ server_conf; cat <<EOF; } >"$W/cgigate.conf"
[route /pool]
min_workers = 2
max_workers = 2
EOF
start_gateway --config "$W/cgigate.conf"
for i in 1 2 3 4 5; do curl -s -o /dev/null "$URL/hello"; done
for i in 1 2 3; do curl -s -o /dev/null "$URL/pool"; done
curl -s -o /dev/null "$URL/nothing-here"

expect_eq "health" ok "$(curl -s "$URL/_gateway/health")"

# status: valid JSON (checked with SQLite's JSON functions) that agrees
# with what was sent and with the processes running.
curl -s -D "$W/h" -o "$W/status.json" "$URL/_gateway/status"
grep -qi '^Content-Type: application/json' "$W/h" &&
    ok "status is application/json" || not_ok "status is application/json"
js() { sqlite3 :memory: "select $1 from (select readfile('$W/status.json') as j)"; }
expect_eq "status is valid JSON" 1 "$(js 'json_valid(j)')"
expect_eq "status: requests of /hello" 5 "$(js "(select json_extract(value, '\$.requests') from json_each(j, '\$.routes') where json_extract(value, '\$.route') = '/hello')")"
expect_eq "status: /hello is CGI" cgi "$(js "(select json_extract(value, '\$.mode') from json_each(j, '\$.routes') where json_extract(value, '\$.route') = '/hello')")"
expect_eq "status: nothing in flight" 0 "$(js "(select sum(json_extract(value, '\$.in_flight')) from json_each(j, '\$.routes'))")"
pids=$(js "(select group_concat(json_extract(w.value, '\$.pid'), ' ') from json_each(j, '\$.pools') p, json_each(p.value, '\$.workers') w where json_extract(p.value, '\$.route') = '/pool')")
running=$(pgrep -P "$GW_PID" -f pool.fcgi | sort -n | tr '\n' ' ')
expect_eq "status: the pool's worker pids are the running workers" \
    "$running" "$(echo "$pids" | tr ' ' '\n' | sort -n | tr '\n' ' ')"
expect_eq "status: the pool served 3" 3 "$(js "(select sum(json_extract(w.value, '\$.requests')) from json_each(j, '\$.pools') p, json_each(p.value, '\$.workers') w where json_extract(p.value, '\$.route') = '/pool')")"
expect_ge "status: spawns counted" 2 "$(js "json_extract(j, '\$.spawns')")"

# metrics: the Prometheus text agrees too.
curl -s "$URL/_gateway/metrics" >"$W/metrics"
expect_eq "metrics: requests_total for /hello 200" 5 \
    "$(sed -n 's/^cgigate_requests_total{route="\/hello",mode="cgi",status="200"} //p' "$W/metrics")"
expect_eq "metrics: a 404 is counted" 1 \
    "$(grep -c '^cgigate_requests_total{.*status="404"} 1$' "$W/metrics")"
inf=$(sed -n 's/^cgigate_request_duration_seconds_bucket{route="\/hello",mode="cgi",le="+Inf"} //p' "$W/metrics")
cnt=$(sed -n 's/^cgigate_request_duration_seconds_count{route="\/hello",mode="cgi"} //p' "$W/metrics")
expect_eq "metrics: histogram +Inf bucket = count" "$cnt" "$inf"
mono=$(grep '^cgigate_request_duration_seconds_bucket{route="/hello"' "$W/metrics" |
    awk '{ if ($2 < last) bad = 1; last = $2 } END { print bad ? "no" : "yes" }')
expect_eq "metrics: buckets are cumulative" yes "$mono"
hv() { sed -n "s/^$1{route=\"\/hello\",mode=\"cgi\"$2} //p" "$W/metrics"; }
expect_eq "metrics: a bucket at 300 s" "$cnt" \
    "$(hv cgigate_request_duration_seconds_bucket ',le="300"')"
for h in cgigate_queue_wait_seconds cgigate_time_to_first_byte_seconds; do
	expect_eq "metrics: $h counts every /hello" "$cnt" "$(hv ${h}_count)"
	expect_eq "metrics: $h +Inf bucket = count" "$cnt" \
	    "$(hv ${h}_bucket ',le="+Inf"')"
done
awk -v q="$(hv cgigate_queue_wait_seconds_sum)" \
    -v t="$(hv cgigate_time_to_first_byte_seconds_sum)" \
    -v d="$(hv cgigate_request_duration_seconds_sum)" \
    'BEGIN { exit !(q != "" && q <= t && t <= d) }' &&
    ok "metrics: queue wait <= first byte <= last byte, summed" ||
    not_ok "metrics: queue wait <= first byte <= last byte, summed"
expect_eq "metrics: pool workers idle" 2 \
    "$(sed -n 's/^cgigate_pool_workers{route="\/pool",state="idle"} //p' "$W/metrics")"
for m in cgigate_spawns_total cgigate_kills_total \
    cgigate_timings_dropped_total cgigate_timings_queue_depth \
    cgigate_uptime_seconds cgigate_requests_in_flight; do
	grep -q "^# TYPE $m " "$W/metrics" && ok "metrics: $m exported" ||
	    not_ok "metrics: $m exported"
done
# The process's own gauges agree with what /proc says of it.
pv() { sed -n "s/^$1 //p" "$W/metrics"; }
expect_eq "metrics: cgigate_build_info names the version" 1 \
    "$(pv "cgigate_build_info{version=\"$("$GATEWAY" --version |
    awk '{ print $NF }')\"}")"
rss=$(awk '/^VmRSS:/ { print $2 * 1024 }' /proc/"$GW_PID"/status)
got=$(pv process_resident_memory_bytes)
[ -n "$got" ] && [ "$got" -gt $((rss / 2)) ] && [ "$got" -lt $((rss * 2)) ] &&
    ok "metrics: process_resident_memory_bytes ($got) near VmRSS ($rss)" ||
    not_ok "metrics: process_resident_memory_bytes ($got) near VmRSS ($rss)"
thr=$(ls /proc/"$GW_PID"/task | wc -l)
got=$(pv process_threads)
[ -n "$got" ] && [ $((got - thr)) -le 2 ] && [ $((thr - got)) -le 2 ] &&
    ok "metrics: process_threads ($got) as /proc counts ($thr)" ||
    not_ok "metrics: process_threads ($got) as /proc counts ($thr)"
fds=$(ls /proc/"$GW_PID"/fd | wc -l)
got=$(pv process_open_fds)
[ -n "$got" ] && [ $((got - fds)) -le 3 ] && [ $((fds - got)) -le 3 ] &&
    ok "metrics: process_open_fds ($got) as /proc counts ($fds)" ||
    not_ok "metrics: process_open_fds ($got) as /proc counts ($fds)"
expect_eq "metrics: process_max_fds is the limit" \
    "$(awk '/^Max open files/ { print $4 }' /proc/"$GW_PID"/limits)" \
    "$(pv process_max_fds)"
start=$(pv process_start_time_seconds)
now=$(date +%s)
[ -n "$start" ] && [ "${start%.*}" -le "$now" ] &&
    [ "${start%.*}" -gt $((now - 600)) ] &&
    ok "metrics: process_start_time_seconds is recent ($start)" ||
    not_ok "metrics: process_start_time_seconds is recent ($start)"
cpu=$(pv process_cpu_seconds_total)
case "$cpu" in
[0-9]*.[0-9]*) ok "metrics: process_cpu_seconds_total ($cpu)" ;;
*) not_ok "metrics: process_cpu_seconds_total ($cpu)" ;;
esac
stop_gateway

# admin_allow that excludes loopback: every admin endpoint is refused.
{ server_conf; echo "admin_allow = 10.1.0.0/16, 2001:db8::/32"; } \
    >"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"
for e in health status metrics timeseries 'route?name=/hello' chart.js; do
	expect_eq "/_gateway/$e refused outside admin_allow" 403 \
	    "$(http_code "$URL/_gateway/$e")"
done
expect_eq "handlers still answer" hello "$(curl -s "$URL/hello")"
expect_log "the refusal is logged" "address not in admin_allow"
stop_gateway
{ server_conf; echo "admin_allow = 127.0.0.1/32"; } >"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"
expect_eq "an explicit loopback block is allowed" ok \
    "$(curl -s "$URL/_gateway/health")"
stop_gateway

# Names that are not UTF-8 (issue 18): a handler file with byte 0xff in
# its name is no route, and a configured prefix with one (a remote
# FastCGI route, nothing listening) reaches status, metrics and the
# timeseries as U+FFFD.  All three stay UTF-8 and parse, and the
# gateway is asked first, so the bad rows are in every output.
BAD=$(printf 'bad\377name')
cp "$H/hello.cgi" "$H/$BAD.cgi"
cp "$H/hello.cgi" "$H/$(printf 'caf\303\251').cgi"
{ server_conf; printf '[route /caf\377]\nfastcgi = tcp:127.0.0.1:%s\n' \
    "$(free_port)"; } >"$W/bad.conf"
"$GATEWAY" --config "$W/bad.conf" --check >"$W/check.out" 2>&1
expect_contains "--check names the handler whose name is not UTF-8" \
    "$BAD.cgi: name cannot be a route" "$(cat "$W/check.out")"
start_gateway --config "$W/bad.conf"
expect_eq "a handler whose name is not UTF-8 is no route" 404 \
    "$(http_code "$URL/bad%FFname")"
expect_eq "a UTF-8 name is a route" hello "$(curl -s "$URL/caf%C3%A9")"
expect_ge "the prefix that is not UTF-8 answers (no backend)" 500 \
    "$(http_code "$URL/caf%FF")"
utf8json() {	# what file: strict UTF-8, one JSON value
	python3 -c 'import json, sys
json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))' "$2" \
	    2>"$W/py.err" && ok "$1" ||
	    { not_ok "$1"; sed 's/^/# /' "$W/py.err"; }
}
curl -s "$URL/_gateway/status" >"$W/bad-status.json"
utf8json "status with a name that is not UTF-8 is JSON" "$W/bad-status.json"
expect_contains "status shows it as U+FFFD" \
    "\"route\":\"/caf$(printf '\357\277\275')\"" "$(cat "$W/bad-status.json")"
curl -s "$URL/_gateway/metrics" >"$W/bad-metrics"
python3 -c 'import sys
open(sys.argv[1], "rb").read().decode("utf-8")' "$W/bad-metrics" \
    2>"$W/py.err" && ok "metrics with a name that is not UTF-8 are UTF-8" ||
    { not_ok "metrics with a name that is not UTF-8 are UTF-8"
    sed 's/^/# /' "$W/py.err"; }
expect_contains "metrics show it as U+FFFD" \
    "cgigate_pool_waiting{route=\"/caf$(printf '\357\277\275')\"} 0" \
    "$(cat "$W/bad-metrics")"
wait_sql 1 \
    "select count(*) from requests where hex(route) = hex('/caf') || 'FF'" ||
    not_ok "the request to the prefix has its timing row"
curl -s "$URL/_gateway/timeseries" >"$W/bad-ts.json"
utf8json "timeseries with a name that is not UTF-8 is JSON" "$W/bad-ts.json"
expect_contains "the timeseries shows it as U+FFFD" \
    "\"route\":\"/caf$(printf '\357\277\275')\"" "$(cat "$W/bad-ts.json")"
curl -s "$URL/_gateway/route?name=/caf%FF" >"$W/bad-route.json"
utf8json "one route's JSON, for a name that is not UTF-8, is JSON" \
    "$W/bad-route.json"
expect_contains "it finds the route's rows and shows it as U+FFFD" \
    "\"route\":\"/caf$(printf '\357\277\275')\",\"window_s\":900" \
    "$(cat "$W/bad-route.json")"
expect_ge "and its rows" 1 "$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1], encoding="utf-8"))["requests"])' \
    "$W/bad-route.json")"
stop_gateway

# Behind a trusted proxy: the client is the rightmost address of
# X-Forwarded-For that is no trusted proxy; it is what handlers, the
# access log and admin_allow see.  From anyone else the field is noise.
cp "$TS/handlers/env.cgi" "$H/env.cgi"
chmod 755 "$H/env.cgi"
{ server_conf; echo "admin_allow = 10.0.0.0/8"
  echo "trusted_proxies = 127.0.0.1, 192.0.2.0/24"
  echo "access_log = $W/access.log"; } >"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"
ra() { curl -s "$@" "$URL/env" | sed -n 's/^REMOTE_ADDR=//p'; }
expect_eq "X-Forwarded-For from a trusted proxy: the client" 198.51.100.7 \
    "$(ra -H 'X-Forwarded-For: 198.51.100.7')"
expect_eq "proxies of trusted_proxies in the chain are skipped" \
    198.51.100.7 "$(ra -H 'X-Forwarded-For: 203.0.113.1, 198.51.100.7, 192.0.2.9')"
expect_eq "two X-Forwarded-For lines read as one list" 198.51.100.8 \
    "$(ra -H 'X-Forwarded-For: 203.0.113.1' -H 'X-Forwarded-For: 198.51.100.8')"
expect_eq "an entry that is no address stops the walk" 127.0.0.1 \
    "$(ra -H 'X-Forwarded-For: nonsense')"
expect_eq "an IPv6 client" 2001:db8::5 "$(ra -H 'X-Forwarded-For: 2001:db8::5')"
expect_eq "admin_allow sees the client: allowed" 200 \
    "$(http_code -H 'X-Forwarded-For: 10.1.2.3' "$URL/_gateway/status")"
expect_eq "admin_allow sees the client: refused" 403 \
    "$(http_code -H 'X-Forwarded-For: 203.0.113.9' "$URL/_gateway/status")"
expect_eq "the proxy itself is no admin" 403 \
    "$(http_code "$URL/_gateway/metrics")"
curl -s -o /dev/null -H 'X-Forwarded-For: 198.51.100.99' "$URL/env?al=1"
retry 30 grep -q 'env?al=1' "$W/access.log"
expect_eq "the access log has the client" 198.51.100.99 \
    "$(grep 'env?al=1' "$W/access.log" | cut -d' ' -f1)"
stop_gateway

# Not trusted: X-Forwarded-For is ignored, whatever it says.
{ server_conf; echo "admin_allow = 10.0.0.0/8"
  echo "health_allow = 127.0.0.0/8"; } >"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"
expect_eq "without trusted_proxies, X-Forwarded-For is ignored" 127.0.0.1 \
    "$(ra -H 'X-Forwarded-For: 10.1.2.3')"
expect_eq "and cannot open /_gateway/ either" 403 \
    "$(http_code -H 'X-Forwarded-For: 10.1.2.3' "$URL/_gateway/status")"
# health_allow: the load balancer's list, apart from admin_allow.
expect_eq "health_allow lets the health check in" 200 \
    "$(http_code "$URL/_gateway/health")"
expect_eq "and nothing else of /_gateway/" 403 \
    "$(http_code "$URL/_gateway/status")"
finish
