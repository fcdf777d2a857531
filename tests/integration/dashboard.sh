#!/bin/sh
# dashboard.sh: www/dashboard/ and the endpoints behind it against a
# cgigate with CGI, FastCGI and failing traffic, two bursts of it apart:
# /_gateway/timeseries has a true rate per bucket and a gap where no
# request came, /_gateway/route one route's percentiles, status codes
# and slowest requests (a name of any bytes, bound, never spliced),
# /_gateway/chart.js is Debian's libjs-chart.js; in headless Chromium the
# page loads it, its charts have data, a time axis and the gap, the route
# drill-down fills, and the console stays quiet.  Without Chart.js the
# tables still fill, the page says what to install and cgigate logs it
# once.
#
# DASHBOARD_PNG=FILE also saves a screenshot of the page there.
. "$(dirname "$0")/gw.sh"

CHROME=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROME" ] || skip "chromium not installed"
FIX="$TB/tests/fixtures/fcgi-fixture"
[ -x "$FIX" ] || skip "fixture not built"
CHARTJS=/usr/share/javascript/chart.js/chart.min.js

mkdir -p "$W/www"
cp -R "$TS/www/dashboard" "$W/www/"
cat >"$H/hello.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\nhello\n'
EOF
cat >"$H/broken.cgi" <<'EOF'
#!/bin/sh
exit 1
EOF
# A route whose name is everything JSON and HTML escape, and UTF-8.
WEIRD=$(printf '/we"ird'"'"'<b>&+\303\251')
WEIRD_Q='%2Fwe%22ird%27%3Cb%3E%26%2B%C3%A9'
cp "$H/hello.cgi" "$H/${WEIRD#/}.cgi"
chmod 755 "$H"/*.cgi
cp "$FIX" "$H/pool.fcgi"
start_gateway --handlers "$H" --www "$W/www" --timings "$W/timings.db"

# The first burst; the second comes after more than two buckets (10 s
# each) without requests, so that at least one whole bucket lies between.
for i in $(seq 1 20); do
	curl -s -o /dev/null "$URL/hello"
	curl -s -o /dev/null "$URL/pool"
done
curl -s -o /dev/null "$URL/broken"
curl -s -o /dev/null "$URL/we%22ird%27%3Cb%3E%26+%C3%A9"
curl -s -o /dev/null "$URL/we%22ird%27%3Cb%3E%26+%C3%A9"
burst1=$(date +%s)
wait_sql 43 "select count(*) from requests"

# The JSON behind the charts agrees with the rows.
curl -s "$URL/_gateway/timeseries" >"$W/ts.json"
js() { sqlite3 :memory: "select $1 from (select readfile('$W/ts.json') as j)"; }
expect_eq "timeseries is valid JSON" 1 "$(js 'json_valid(j)')"
# The timeseries request's own row marks "before it": wait for it.
wait_sql 1 "select count(*) > 0 from requests
    where path like '/_gateway/timeseries%'"
expect_eq "its series counts every request to a route before it" \
    "$(sql "select count(*) from requests where id < (select min(id)
        from requests where path like '/_gateway/timeseries%')")" \
    "$(js "(select sum(json_extract(value, '\$.requests')) from json_each(j, '\$.series'))")"
expect_eq "90 buckets of 10 s in 15 minutes" "90 10" \
    "$(js "json_array_length(j, '\$.series') || ' ' || json_extract(j, '\$.step_s')")"
expect_eq "an hour's window has 120 buckets of 30 s" "120 30" \
    "$(curl -s "$URL/_gateway/timeseries?window=3600" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(len(d["series"]), d["step_s"])')"
expect_eq "CGI and FastCGI compared" "cgi fastcgi" \
    "$(js "(select group_concat(json_extract(value, '\$.mode'), ' ') from json_each(j, '\$.modes'))")"
expect_eq "the error is listed" 502 \
    "$(js "json_extract(j, '\$.errors[0].status')")"
# 20 requests within seconds: over at least 10 s, not the 900 s window.
rate=$(js "(select json_extract(value, '\$.rate') from json_each(j, '\$.routes')
    where json_extract(value, '\$.route') = '/hello')")
awk -v r="$rate" 'BEGIN { exit !(r >= 0.3 && r <= 2) }' &&
    ok "a route's mean rate is over the time it has had requests ($rate/s)" ||
    not_ok "a route's mean rate is over the time it has had requests ($rate/s)"

# One route: /_gateway/route?name=...
curl -s "$URL/_gateway/route?name=/hello" >"$W/hello.json"
py() {	# what file python: prints the check's value
	python3 -c "import json, sys
d = json.load(open(sys.argv[1], encoding='utf-8'))
$3" "$2" 2>"$W/py.err" || sed 's/^/# /' "$W/py.err"
}
expect_eq "route: the route's requests, modes and status codes" \
    "/hello 20 ['cgi'] [(200, 20)]" \
    "$(py x "$W/hello.json" 'print(d["route"], d["requests"], d["modes"],
    [(s["status"], s["requests"]) for s in d["statuses"]])')"
expect_eq "route: p50 <= p95 <= p99 of the rows, in ms" \
    "$(sql "select group_concat(total_us / 1000.0, ' ') from (select total_us,
        row_number() over (order by total_us) as r from requests
        where route = '/hello') where r in (10, 19, 20)")" \
    "$(py x "$W/hello.json" 'print(d["p50_ms"], d["p95_ms"], d["p99_ms"])')"
expect_eq "route: its ten slowest requests, slowest first, with their ids" \
    "$(sql "select group_concat(request_id || ':' || status, ' ') from
        (select * from requests where route = '/hello'
        order by total_us desc, ts desc limit 10)")" \
    "$(py x "$W/hello.json" 'print(" ".join("%s:%d" % (s["request_id"],
    s["status"]) for s in d["slow"]))')"
expect_eq "route: a slow request has its times in ms" "ok" \
    "$(py x "$W/hello.json" 's = d["slow"][0]
print("ok" if s["total_ms"] >= s["ttfb_ms"] > 0 and s["method"] == "GET"
    and s["path"] == "/hello" else s)')"
expect_eq "route: 5xx counted, status 502" "1 [502]" \
    "$(curl -s "$URL/_gateway/route?name=/broken" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["errors"], [s["status"] for s in d["statuses"]])')"
curl -s "$URL/_gateway/route?name=$WEIRD_Q" >"$W/weird.json"
expect_eq "route: a name of quotes, <, &, + and UTF-8 comes back as it is" \
    "$WEIRD 2" "$(py x "$W/weird.json" 'sys.stdout.buffer.write(
    ("%s %d\n" % (d["route"], d["requests"])).encode())')"
curl -s "$URL/_gateway/route?name=%2Fhello%27%20OR%20%271%27%3D%271" \
    >"$W/inject.json"
expect_eq "route: SQL in the name is a name, not SQL" "/hello' OR '1'='1 0" \
    "$(py x "$W/inject.json" 'print(d["route"], d["requests"])')"
expect_eq "route: an unknown route has no rows and no percentiles" \
    "0 None [] []" "$(curl -s "$URL/_gateway/route?name=/nothing" |
    python3 -c 'import json, sys
d = json.load(sys.stdin)
print(d["requests"], d["p50_ms"], d["statuses"], d["slow"])')"
expect_eq "route: no name is a 400" 400 "$(http_code "$URL/_gateway/route")"
expect_eq "route: a name without its / is a 400" 400 \
    "$(http_code "$URL/_gateway/route?name=hello")"
expect_eq "route: a NUL in the name is a 400" 400 \
    "$(http_code "$URL/_gateway/route?name=/hel%00lo")"
expect_eq "route: a name longer than any route is a 400" 400 \
    "$(http_code "$URL/_gateway/route?name=/$(printf '%300s' | tr ' ' a)")"

# Chart.js, from Debian's package, not from the tree.
curl -s -D "$W/chart.head" -o "$W/chart.js" "$URL/_gateway/chart.js"
expect_contains "chart.js: 200" " 200 " "$(head -n 1 "$W/chart.head")"
expect_contains "chart.js: a JavaScript content type" \
    "Content-Type: text/javascript" "$(cat "$W/chart.head")"
if [ -f "$CHARTJS" ]; then
	cmp -s "$CHARTJS" "$W/chart.js" &&
	    ok "chart.js: the bytes of libjs-chart.js's chart.min.js" ||
	    not_ok "chart.js: the bytes of libjs-chart.js's chart.min.js"
else
	not_ok "chart.js: libjs-chart.js installed ($CHARTJS missing)"
fi
expect_eq "no copy of Chart.js in the tree" "" \
    "$(grep -rl 'Chart.js v' "$TS/www" 2>/dev/null)"
expect_contains "the page loads it" '<script src="/_gateway/chart.js">' \
    "$(cat "$TS/www/dashboard/index.html")"

# The second burst, after the gap.
now=$(date +%s)
[ $((burst1 + 22 - now)) -le 0 ] || sleep $((burst1 + 22 - now))
for i in $(seq 1 10); do
	curl -s -o /dev/null "$URL/hello"
	curl -s -o /dev/null "$URL/pool"
done
wait_sql 20 "select count(*) from requests where ts > $burst1 + 21
    and route in ('/hello', '/pool')"
curl -s "$URL/_gateway/timeseries" >"$W/ts2.json"
# Buckets with requests have percentiles; those without have none and a
# rate of 0; a whole bucket's rate is its requests over its 10 s; the
# routes' rates line up with the buckets.
gaps() {	# file route: prints what is wrong, or "ok N" (N: empty buckets
		# between the first and the last one with requests)
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
s, step, route = d["series"], d["step_s"], sys.argv[2]
bad = []
for i, b in enumerate(s):
	full = b["t"] + step <= d["now"]
	if b["requests"] == 0:
		if (b["p50_ms"], b["p95_ms"], b["p99_ms"], b["rate"]) != \
		    (None, None, None, 0):
			bad.append("empty %d: %s" % (i, b))
	elif None in (b["p50_ms"], b["p95_ms"], b["p99_ms"]):
		bad.append("no percentiles %d: %s" % (i, b))
	elif full and b["rate"] != round(b["requests"] / step, 3):
		bad.append("rate %d: %s" % (i, b))
	if i and b["t"] != s[i - 1]["t"] + step:
		bad.append("step %d" % i)
if route != "-":
	r = [x for x in d["routes"] if x["route"] == route][0]
	if len(r["rates"]) != len(s):
		bad.append("rates: %d, buckets: %d" % (len(r["rates"]), len(s)))
	bad += ["rates %d" % i for i, b in enumerate(s)
	    if b["requests"] == 0 and r["rates"][i] != 0]
used = [i for i, b in enumerate(s) if b["requests"] > 0]
between = sum(1 for i in range(used[0], used[-1]) if s[i]["requests"] == 0)
more = " (and %d more)" % (len(bad) - 3) if len(bad) > 3 else ""
print("; ".join(bad[:3]) + more if bad else "ok %d" % between)' "$1" "$2" 2>&1
}
g=$(gaps "$W/ts2.json" /hello)
case $g in
"ok "[1-9]*) ok "timeseries: a gap of empty buckets, no percentiles there, true rates ($g)" ;;
*) not_ok "timeseries: a gap of empty buckets, no percentiles there, true rates ($g)" ;;
esac
curl -s "$URL/_gateway/route?name=/pool" >"$W/pool.json"
g=$(gaps "$W/pool.json" -)
case $g in
"ok "[1-9]*) ok "route: the same gap in one route's series ($g)" ;;
*) not_ok "route: the same gap in one route's series ($g)" ;;
esac

# The page in headless Chromium; $1 is the location's hash.
chrome() {	# hash name
	timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu \
	    --user-data-dir="$W/chrome-$2" --virtual-time-budget=6000 \
	    --enable-logging=stderr --v=0 --dump-dom "$URL/dashboard/$1" \
	    >"$W/dom-$2.html" 2>"$W/chrome-$2.err"
	body=$(grep -o '<body[^>]*>' "$W/dom-$2.html")
}
attr() { echo "$body" | sed -n "s/.* data-$1=\"\\([^\"]*\\)\".*/\\1/p"; }
chrome "#route=%2Fhello" hello
expect_eq "the page loaded Chart.js from /_gateway/chart.js" 3 \
    "$(attr chartjs | cut -d. -f1)"
expect_ge "the latency chart has a point for each burst" 2 "$(attr points)"
expect_ge "and null points where no request came" 1 "$(attr nulls)"
expect_ge "a break in its lines between requests" 1 "$(attr gaps)"
expect_eq "the rate chart has a line per route" 4 "$(attr rate-lines)"
expect_ge "and rates above 0" 3 "$(attr rate-points)"
expect_eq "the time axis is titled with its unit" "time (UTC)" \
    "$(attr xtitle)"
expect_eq "the latency axis is titled in ms" "latency (ms)" "$(attr ytitle)"
expect_ge "the time axis has ticks" 3 "$(attr xticks)"
labels=$(attr xlabels)
echo "$labels" | grep -Eq '^([0-2][0-9]:[0-5][0-9] )+[0-2][0-9]:[0-5][0-9]$' &&
    ok "its labels are times of day, a minute or more apart ($labels)" ||
    not_ok "its labels are times of day, a minute or more apart ($labels)"
expect_ge "its labels do not overlap (px between them)" 0 "$(attr xroom)"
expect_eq "the routes table lists every route" 4 "$(attr routes)"
expect_eq "the mode table has CGI and FastCGI" 2 "$(attr modes)"
expect_ge "the pool table lists the worker" 1 "$(attr workers)"
expect_eq "the error table lists the failure" 1 "$(attr errors)"
summary=$(grep -o '<p id="summary">[^<]*' "$W/dom-hello.html")
expect_contains "the summary counts the requests" "63 requests to routes" \
    "$summary"
expect_contains "the time of the last update is shown" "updated " \
    "$(grep -o '<span id="updated"[^<]*' "$W/dom-hello.html")"
expect_eq "drill-down: the route of the hash" /hello "$(attr drill)"
expect_eq "drill-down: its requests" 30 "$(attr drill-requests)"
expect_eq "drill-down: its status codes" 200:30 "$(attr statuses)"
expect_eq "drill-down: its ten slowest requests" 10 "$(attr slow)"
expect_ge "drill-down: its latency chart has points" 2 "$(attr drill-points)"
expect_ge "drill-down: and a gap" 1 "$(attr drill-gaps)"
expect_eq "drill-down: a bar per status code" 1 "$(attr drill-bars)"
# Lines of the page from the one that opens element ID to its end tag.
element() {	# page tag id
	sed -n "/<$2 id=\"$3\"/,/<\/$2>/p" "$W/dom-$1.html"
}
expect_eq "drill-down: the slow table has a row for each (and its head)" 11 \
    "$(element hello table slow | grep -o '<tr>' | wc -l)"
expect_eq "no console messages or errors" "" \
    "$(grep 'CONSOLE' "$W/chrome-hello.err")"
chrome "#route=$WEIRD_Q&window=300" weird
expect_eq "drill-down of the odd name: its requests" 2 \
    "$(attr drill-requests)"
expect_contains "drill-down of the odd name: shown as text" \
    "$(printf 'we"ird'"'"'&lt;b&gt;&amp;+\303\251')" \
    "$(grep -o '<code id="drill-name">[^/]*/[^<]*' "$W/dom-weird.html")"
expect_eq "drill-down of the odd name: no console messages" "" \
    "$(grep 'CONSOLE' "$W/chrome-weird.err")"
expect_eq "the page's Chart.js is the one cgigate serves" 1 \
    "$(sql "select count(*) > 0 from requests
        where path = '/_gateway/chart.js' and status = 200")"
if [ -n "${DASHBOARD_PNG:-}" ]; then
	timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu \
	    --user-data-dir="$W/chrome-png" --virtual-time-budget=6000 \
	    --window-size=1280,1600 --screenshot="$DASHBOARD_PNG" \
	    "$URL/dashboard/#route=%2Fhello" >/dev/null 2>&1
	echo "# screenshot in $DASHBOARD_PNG"
fi
stop_gateway

# No Chart.js: the tables without the charts, a notice, one log line.
{ server_conf; echo "chartjs = $W/none/chart.min.js"; } >"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"
curl -s -D "$W/none.head" -o "$W/none.body" "$URL/_gateway/chart.js"
expect_contains "chart.js missing: 404" " 404 " "$(head -n 1 "$W/none.head")"
expect_contains "chart.js missing: the answer says what to install" \
    "libjs-chart.js" "$(cat "$W/none.body")"
chrome "" none
expect_eq "chart.js missing: the page knows" missing "$(attr chartjs)"
notice=$(element none p nochart)
expect_contains "chart.js missing: and says what to install" \
    "apt-get install libjs-chart.js" "$notice"
expect_absent "chart.js missing: where it can be seen" hidden \
    "$(echo "$notice" | head -n 1)"
expect_eq "chart.js missing: the routes table still fills" 4 \
    "$(attr routes)"
expect_eq "chart.js missing: the mode table too" 2 "$(attr modes)"
expect_eq "chart.js missing: no console message but the 404" "" \
    "$(grep 'CONSOLE' "$W/chrome-none.err" | grep -v 'status of 404')"
expect_eq "chart.js missing: logged once for two requests" 1 \
    "$(gw_log | grep -c 'chartjs: .*none/chart.min.js: No such file')"
expect_eq "and no crash" 200 "$(http_code "$URL/_gateway/health")"
finish
