#!/bin/sh
# timings_who.sh: every row of the timing database says who sent the
# request (cgigate-timings(7)): client_addr (through trusted_proxies),
# host, query, user_agent and referer, NULL when not sent, for CGI,
# FastCGI, static files, a 404, /_gateway/ and the door's own 400; the
# client's bytes stored as they came; a 10 KB User-Agent cut to 512
# bytes; the page's "top clients by errors" query, run as printed; and a
# database of the schema before these columns, given them at start.
. "$(dirname "$0")/gw.sh"

FIX="$TB/tests/fixtures/fcgi-fixture"
[ -x "$FIX" ] || skip "fixture not built"
command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
cat >"$H/hello.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\nhello\n'
EOF
cat >"$H/fail.cgi" <<'EOF'
#!/bin/sh
exit 1
EOF
chmod 755 "$H"/*.cgi
cp "$FIX" "$H/pool.fcgi"
mkdir -p "$W/www"
printf 'static\n' >"$W/www/page.txt"
{ server_conf; echo "trusted_proxies = 127.0.0.1"
  echo "access_log = $W/access.log"; } >"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"

# The five of a row, NULL shown as "-", '|' between.
W5="ifnull(client_addr, '-') || '|' || ifnull(host, '-') || '|' ||
    ifnull(query, '-') || '|' || ifnull(user_agent, '-') || '|' ||
    ifnull(referer, '-')"
# The row of the request with path P (the only one), once written.
who_of() {	# path [where]
	wait_sql 1 "select count(*) from requests where path = '$1' ${2:-}" ||
	    echo "# no row for $1"
	sql "select mode, status, $W5 from requests where path = '$1' ${2:-}"
}

code=$(http_code -A 'agent-cgi/1.0' -e 'http://ref.example/cgi' \
    -H 'Host: cgi.example' "$URL/hello?x=1&y=%41")
expect_eq "CGI request answered" 200 "$code"
expect_eq "CGI row: client, Host, query, User-Agent, Referer" \
    'cgi|200|127.0.0.1|cgi.example|x=1&y=%41|agent-cgi/1.0|http://ref.example/cgi' \
    "$(who_of /hello)"

code=$(http_code -A 'agent-fcgi/2.0' -e 'http://ref.example/fcgi' \
    -H 'Host: fcgi.example:8080' "$URL/pool?say=fc&z=9")
expect_eq "FastCGI request answered" 200 "$code"
expect_eq "FastCGI row: the same five" \
    'fastcgi|200|127.0.0.1|fcgi.example:8080|say=fc&z=9|agent-fcgi/2.0|http://ref.example/fcgi' \
    "$(who_of /pool)"

# A static file through a trusted proxy: the client is the proxy's
# X-Forwarded-For, in the row and in the access log alike.
code=$(http_code -A 'agent-static' -e 'http://ref.example/s' \
    -H 'X-Forwarded-For: 198.51.100.7' "$URL/page.txt?v=2")
expect_eq "static file answered" 200 "$code"
expect_eq "static row: the client behind the trusted proxy" \
    "static|200|198.51.100.7|127.0.0.1:${URL##*:}|v=2|agent-static|http://ref.example/s" \
    "$(who_of /page.txt)"
retry 30 grep -q 'page.txt?v=2' "$W/access.log"
expect_eq "and the access log has that client too" 198.51.100.7 \
    "$(grep 'page.txt?v=2' "$W/access.log" | cut -d' ' -f1)"

# Nothing but Host sent: NULL for the rest; "?" alone is an empty query.
code=$(http_code -H 'User-Agent:' "$URL/nothing.txt")
expect_eq "404 for a missing file" 404 "$code"
expect_eq "404 row: no query, User-Agent, Referer: NULL" \
    "static|404|127.0.0.1|127.0.0.1:${URL##*:}|-|-|-" "$(who_of /nothing.txt)"
curl -s -o /dev/null -A 'q' "$URL/hello/empty?"
wait_sql 1 "select count(*) from requests where path = '/hello/empty'"
expect_eq "a query of nothing after '?' is empty, not NULL" "0|0" \
    "$(sql "select query is null, length(query) from requests
    where path = '/hello/empty'")"

code=$(http_code -A 'agent-admin' "$URL/_gateway/status?pretty=1")
expect_eq "admin endpoint answered" 200 "$code"
expect_eq "admin row" \
    "admin|200|127.0.0.1|127.0.0.1:${URL##*:}|pretty=1|agent-admin|-" \
    "$(who_of /_gateway/status)"

# The door refuses an HTTP/1.1 head without Host (400): its row still has
# what the head said, and the door's own client (it believes no proxy).
code=$(http_code -H 'Host:' -A 'agent-nohost' -e 'http://ref.example/d' \
    -H 'X-Forwarded-For: 198.51.100.50' "$URL/door400?d=1")
expect_eq "the door answers 400 to a head without Host" 400 "$code"
expect_eq "its row: mode http, the door's client, the head's fields" \
    'http|400|127.0.0.1|-|d=1|agent-nohost|http://ref.example/d' \
    "$(who_of /door400)"

# The client's bytes as they came, bound as text: a byte that is no
# UTF-8, quotes and SQL in the fields break nothing.
ua=$(printf 'a"b\377c')
ref="x'); DROP TABLE requests; --\""
curl -s -o /dev/null -A "$ua" -e "$ref" "$URL/hello/raw?q='%22"
wait_sql 1 "select count(*) from requests where path = '/hello/raw'"
expect_eq "User-Agent stored byte for byte" "$(printf '%s' "$ua" | od -An -tx1 |
    tr -d ' \n' | tr a-f A-F)" "$(sql "select hex(user_agent) from requests
    where path = '/hello/raw'")"
expect_eq "Referer and query with quotes and SQL stored as sent" \
    "$ref|q='%22" "$(sql "select referer || '|' || query from requests
    where path = '/hello/raw'")"

# A 10 KB User-Agent: the request goes through, the row keeps 512 bytes
# of it (cgigate-timings(7)), its first 512.
big=$(head -c 10240 /dev/zero | tr '\0' 'u')
code=$(http_code -A "$big" "$URL/hello/big")
expect_eq "a request with a 10 KB User-Agent succeeds" 200 "$code"
wait_sql 1 "select count(*) from requests where path = '/hello/big'"
expect_eq "its User-Agent is cut to 512 bytes, the others whole" \
    "512|$(printf '%512s' '' | tr ' ' 'u')|127.0.0.1" \
    "$(sql "select length(user_agent), user_agent, client_addr
    from requests where path = '/hello/big'")"

# X-Forwarded-For through a chain: the rightmost untrusted address.
curl -s -o /dev/null -H 'X-Forwarded-For: 203.0.113.1, 198.51.100.9' \
    "$URL/hello/chain"
expect_eq "a CGI row behind the proxy: the client from the chain" \
    198.51.100.9 "$(who_of /hello/chain | cut -d'|' -f3)"

# Top clients by errors, as cgigate-timings(7) prints the query: one
# client with five errors (two 502, two 404, a FastCGI 503), another
# with one; loopback has its 404 and 400 from above.
for u in fail fail nothing1.txt nothing2.txt 'pool?status=503'; do
	curl -s -o /dev/null -H 'X-Forwarded-For: 198.51.100.66' "$URL/$u"
done
curl -s -o /dev/null -H 'X-Forwarded-For: 198.51.100.67' "$URL/fail"
wait_sql 5 "select count(*) from requests where client_addr = '198.51.100.66'"
wait_sql 1 "select count(*) from requests where client_addr = '198.51.100.67'"
awk '/^\.Bd -literal/ { q = ""; b = 1; next }
    /^\.Ed/ { if (b && q ~ /GROUP BY client_addr/) print q; b = 0; next }
    b { q = q (q == "" ? "" : " ") $0 }' "$TS/man/cgigate-timings.7" \
    >"$W/top.sql"
expect_eq "cgigate-timings(7) has one query grouping by client_addr" 1 \
    "$(wc -l <"$W/top.sql" | tr -d ' ')"
top=$(sql "$(cat "$W/top.sql")")
expect_eq "its first row: the client with the most errors" \
    "198.51.100.66|5" "$(echo "$top" | head -n 1 | cut -d'|' -f1,2)"
expect_eq "then loopback (404, 400), then the one with one error" \
    "127.0.0.1|2 198.51.100.67|1" "$(echo "$top" | sed -n '2,3p' |
    cut -d'|' -f1,2 | tr '\n' ' ' | sed 's/ $//')"
stop_gateway
expect_eq "the gateway stopped cleanly" 0 "$GW_RC"

# A database made by the schema before these columns (and before
# connect_us and worker_requests): given every column at start, its old
# rows kept, new rows written whole.
OLD="$W/old.db"
sqlite3 "$OLD" "$FIRST_REQUESTS
    INSERT INTO requests (ts, mode, path, status)
    VALUES (unixepoch(), 'cgi', '/before', 200);"
{ server_conf | sed "s|^timings = .*|timings = $OLD|"; } >"$W/old.conf"
start_gateway --config "$W/old.conf"
code=$(http_code -A 'agent-new' "$URL/hello/after?n=1")
expect_eq "the gateway runs on the old database" 200 "$code"
stop_gateway
expect_eq "the columns were added, in order" \
    "connect_us worker_requests client_addr host query user_agent referer" \
    "$(sqlite3 "$OLD" "select name from pragma_table_info('requests')
    where cid > 20" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "its old row is kept, with NULL for them" "/before|1" \
    "$(sqlite3 "$OLD" "select path, client_addr is null and host is null
    and user_agent is null from requests where path = '/before'")"
expect_eq "the new row has them" "127.0.0.1|n=1|agent-new" \
    "$(sqlite3 "$OLD" "select client_addr, query, user_agent from requests
    where path = '/hello/after'")"
expect_log "each added column is logged" "added column client_addr"
start_gateway --config "$W/old.conf"
curl -s -o /dev/null "$URL/hello/again"
stop_gateway
expect_eq "a second start adds nothing and logs no failure" "" \
    "$(grep -E 'added column|adding ' "$GW_LOG")"
expect_eq "and writes its rows" 1 "$(sqlite3 "$OLD" "select count(*)
    from requests where path = '/hello/again' and client_addr = '127.0.0.1'")"
finish
