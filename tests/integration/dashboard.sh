#!/bin/sh
# dashboard.sh: www/dashboard/ in headless Chromium against a cgigate with
# some CGI, FastCGI and failing traffic: the charts and tables hold data
# and the page logs nothing to the console.
. "$(dirname "$0")/gw.sh"

CHROME=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROME" ] || skip "chromium not installed"
FIX="$TB/tests/fixtures/fcgi-fixture"
[ -x "$FIX" ] || skip "fixture not built"

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
chmod 755 "$H"/*.cgi
cp "$FIX" "$H/pool.fcgi"
start_gateway --handlers "$H" --www "$W/www" --timings "$W/timings.db"
for i in $(seq 1 20); do
	curl -s -o /dev/null "$URL/hello"
	curl -s -o /dev/null "$URL/pool"
done
curl -s -o /dev/null "$URL/broken"
wait_sql 41 "select count(*) from requests"

# The JSON behind the charts agrees with the rows.
curl -s "$URL/_gateway/timeseries" >"$W/ts.json"
js() { sqlite3 :memory: "select $1 from (select readfile('$W/ts.json') as j)"; }
expect_eq "timeseries is valid JSON" 1 "$(js 'json_valid(j)')"
# The timeseries request's own row marks "before it": wait for it.
wait_sql 1 "select count(*) > 0 from requests
    where path like '/_gateway/timeseries%'"
expect_eq "its series counts every request before it" \
    "$(sql "select count(*) from requests where id < (select min(id)
        from requests where path like '/_gateway/timeseries%')")" \
    "$(js "(select sum(json_extract(value, '\$.requests')) from json_each(j, '\$.series'))")"
expect_eq "CGI and FastCGI compared" "cgi fastcgi" \
    "$(js "(select group_concat(json_extract(value, '\$.mode'), ' ') from json_each(j, '\$.modes'))")"
expect_eq "the error is listed" 502 \
    "$(js "json_extract(j, '\$.errors[0].status')")"
# 20 requests within seconds: over at least 10 s, not the 900 s window.
rate=$(js "(select json_extract(value, '\$.rate') from json_each(j, '\$.routes')
    where json_extract(value, '\$.route') = '/hello')")
awk -v r="$rate" 'BEGIN { exit !(r >= 0.3 && r <= 2) }' &&
    ok "a route's rate is over the time it has had requests ($rate/s)" ||
    not_ok "a route's rate is over the time it has had requests ($rate/s)"

timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu \
    --user-data-dir="$W/chrome" --virtual-time-budget=5000 \
    --enable-logging=stderr --v=0 --dump-dom "$URL/dashboard/" \
    >"$W/dom.html" 2>"$W/chrome.err"
body=$(grep -o '<body[^>]*>' "$W/dom.html")
attr() { echo "$body" | sed -n "s/.* data-$1=\"\\([0-9]*\\)\".*/\\1/p"; }
expect_ge "the latency chart has points" 1 "$(attr points)"
expect_ge "the rate chart has a bar per route" 3 "$(attr routes)"
expect_eq "the mode table has CGI and FastCGI" 2 "$(attr modes)"
expect_ge "the pool table lists the worker" 1 "$(attr workers)"
expect_eq "the error table lists the failure" 1 "$(attr errors)"
summary=$(grep -o '<p id="summary">[^<]*' "$W/dom.html")
expect_contains "the summary counts the requests" "requests in the last" \
    "$summary"
console=$(grep 'CONSOLE' "$W/chrome.err")
expect_eq "no console messages or errors" "" "$console"
finish
