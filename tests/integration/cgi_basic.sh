#!/bin/sh
# cgi_basic.sh: the CGI path as a client sees it (RFC 3875), static files,
# streaming, and one timing row per request.
. "$(dirname "$0")/gw.sh"

# Requests sent, counted in a file: most are sent from $(...) subshells.
get() { echo >>"$W/sent"; curl -s -m 30 "$@"; }
code_of() { echo >>"$W/sent"; http_code "$@"; }

cat >"$H/env.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
echo "ARGC=$#"
env
EOF
cat >"$H/echo.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: application/octet-stream\r\n\r\n'
exec cat
EOF
cat >"$H/big.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: application/octet-stream\r\n\r\n'
exec head -c "$QUERY_STRING" /dev/zero
EOF
cat >"$H/sized.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\nContent-Length: 6\r\n\r\nsized\n'
EOF
cat >"$H/status.cgi" <<'EOF'
#!/bin/sh
printf 'Status: 404 Nothing Here\nContent-Type: text/plain\nX-Extra: yes\n\ngone\n'
EOF
cat >"$H/away.cgi" <<'EOF'
#!/bin/sh
printf 'Location: http://example.com/elsewhere\n\n'
EOF
cat >"$H/inner.cgi" <<'EOF'
#!/bin/sh
printf 'Location: /target/x?from=inner\n\n'
EOF
cat >"$H/target.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\n'
echo "target method=$REQUEST_METHOD path=$PATH_INFO query=$QUERY_STRING"
EOF
cat >"$H/nph-raw.cgi" <<'EOF'
#!/bin/sh
printf 'HTTP/1.1 299 Raw\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nraw body\n'
EOF
cat >"$H/drip.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\nfirst\n'
sleep 3
echo second
EOF
cat >"$H/overlong.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhello'
EOF
cat >"$H/nocontent.cgi" <<'EOF'
#!/bin/sh
printf 'Status: 204 No Content\r\nContent-Length: 0\r\n\r\n'
EOF
cat >"$H/short.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\nContent-Length: 10\r\n\r\nabc'
EOF
cat >"$H/longname.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\n'
printf '%01100d: Content-Length: 0\r\n\r\nbody\n' 0
EOF
cat >"$H/linger.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\nContent-Length: 5\r\n\r\ndone\n'
exec >&- 2>&-
sleep 3
EOF
mkdir -p "$H/api"
cat >"$H/api/users.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\nusers %s\n' "$PATH_INFO"
EOF
chmod 755 "$H"/*.cgi "$H"/api/*.cgi
mkdir -p "$W/www"
echo "static hello" >"$W/www/hello.txt"
echo "two words" >"$W/www/two words.txt"

{ server_conf; cat <<EOF; } >"$W/cgigate.conf"
path = /opt/cgi-bin:/usr/bin:/bin
[route /inner]
internal_redirect = yes
[route /env]
env = GREETING=hello there
EOF
export CGIGATE_TEST_SECRET=leak-me
start_gateway --config "$W/cgigate.conf"
port=${URL##*:}

# --- meta-variables ------------------------------------------------------
env=$(get -H 'Proxy: http://evil:1/' -H 'X-User: alice' -H 'X_User: mallory' \
    -H 'Accept-Language: en' -H 'X-Hop: 192.0.2.1' -H 'X-Hop: 192.0.2.2' \
    "$URL/env/extra/path?a=1&b=two")
has() { expect_contains "$1" "$2" "$env"; }
has "GATEWAY_INTERFACE" "GATEWAY_INTERFACE=CGI/1.1"
has "SERVER_PROTOCOL" "SERVER_PROTOCOL=HTTP/1.1"
has "SERVER_SOFTWARE" "SERVER_SOFTWARE=cgigate/"
has "SERVER_NAME" "SERVER_NAME=127.0.0.1"
has "SERVER_PORT" "SERVER_PORT=$port"
has "REQUEST_METHOD" "REQUEST_METHOD=GET"
has "SCRIPT_NAME is the route" "SCRIPT_NAME=/env
"
has "PATH_INFO is the rest" "PATH_INFO=/extra/path"
has "PATH_TRANSLATED" "PATH_TRANSLATED=$W/www/extra/path"
has "QUERY_STRING" "QUERY_STRING=a=1&b=two"
has "REQUEST_URI keeps the query" "REQUEST_URI=/env/extra/path?a=1&b=two"
has "SCRIPT_FILENAME" "SCRIPT_FILENAME=$H/env.cgi"
has "DOCUMENT_ROOT" "DOCUMENT_ROOT=$W/www"
has "REMOTE_ADDR" "REMOTE_ADDR=127.0.0.1"
has "REMOTE_HOST" "REMOTE_HOST=127.0.0.1"
has "HTTP_ headers" "HTTP_ACCEPT_LANGUAGE=en"
has "a header sent twice is one variable" "HTTP_X_HOP=192.0.2.1, 192.0.2.2"
has "X-User becomes HTTP_X_USER" "HTTP_X_USER=alice"
has "configured PATH" "PATH=/opt/cgi-bin:/usr/bin:/bin"
has "route env" "GREETING=hello there"
has "no arguments" "ARGC=0"
expect_absent "Proxy never becomes HTTP_PROXY (httpoxy)" "HTTP_PROXY" "$env"
expect_absent "X_User cannot impersonate X-User" "mallory" "$env"
expect_absent "cgigate's own environment does not leak" "leak-me" "$env"
expect_absent "no CONTENT_LENGTH without a body" "CONTENT_LENGTH" "$env"
expect_absent "no AUTH_TYPE without credentials" "AUTH_TYPE" "$env"

env=$(get -d 'x=1' -H 'Content-Type: application/x-www-form-urlencoded' \
    "$URL/env")
expect_contains "POST gives REQUEST_METHOD" "REQUEST_METHOD=POST" "$env"
expect_contains "POST gives CONTENT_LENGTH" "CONTENT_LENGTH=3" "$env"
expect_contains "POST gives CONTENT_TYPE" \
    "CONTENT_TYPE=application/x-www-form-urlencoded" "$env"
env=$(get "$URL/env?just+words")
expect_contains "a query without '=' is not argv (RFC 3875 4.4)" "ARGC=0" "$env"
out=$(get "$URL/api/users/42")
expect_eq "nested handler: /api/users + PATH_INFO" "users /42" "$out"
code=$(code_of "$URL/envy")
expect_eq "a longer name is not a route prefix (/envy)" 404 "$code"

# --- request bodies ----------------------------------------------------------
head -c 1000000 /dev/urandom >"$W/body"
get --data-binary @"$W/body" "$URL/echo" >"$W/back"
cmp -s "$W/body" "$W/back" && ok "1 MB POST echoed intact" ||
    not_ok "1 MB POST echoed intact"
get -H 'Transfer-Encoding: chunked' --data-binary @"$W/body" "$URL/echo" \
    >"$W/back"
cmp -s "$W/body" "$W/back" && ok "chunked upload echoed intact" ||
    not_ok "chunked upload echoed intact"

# --- responses ---------------------------------------------------------------
get -D "$W/h" -o /dev/null "$URL/env"
grep -qi '^Transfer-Encoding: chunked' "$W/h" &&
    ok "no Content-Length from the handler: chunked" ||
    not_ok "no Content-Length from the handler: chunked"
get -D "$W/h" -o "$W/b" "$URL/sized"
grep -qi '^Content-Length: 6' "$W/h" && ! grep -qi '^Transfer-Encoding' "$W/h" &&
    ok "a handler's Content-Length is passed on" ||
    not_ok "a handler's Content-Length is passed on"
# A handler's Content-Length frames the answer, whatever it writes: bytes
# past it are not sent (on a kept-alive connection they would be read as
# the next response), and a body that ends short closes the connection.
# What went on the wire, read raw (curl's telnet:// prints it as it is).
echo >>"$W/sent"
raw=$(printf 'GET /overlong HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' |
    curl -s -m 10 "telnet://127.0.0.1:$port")
expect_eq "output past its Content-Length is not sent" "he" \
    "$(printf '%s' "$raw" | sed -n '/^\r*$/,$p' | sed 1d)"
echo >>"$W/sent"	# two requests, one connection
out=$(get "$URL/overlong" "$URL/sized")
expect_eq "and the next answer on the connection is whole" "hesized" \
    "$(printf '%s' "$out" | tr -d '\n')"
expect_log "output past its Content-Length is logged" \
    "output longer than its Content-Length"
t0=$(now_ms)
get -m 5 -o "$W/b" "$URL/short"
rc=$?
expect_eq "a body short of its Content-Length: the client sees it cut" 18 "$rc"
[ $(($(now_ms) - t0)) -lt 3000 ] && ok "at once ($(($(now_ms) - t0)) ms)" ||
    not_ok "at once ($(($(now_ms) - t0)) ms)"
expect_log "the short body is logged" "bytes short of its Content-Length"

get -D "$W/h" -o /dev/null "$URL/nocontent"
expect_eq "a 204 carries no Content-Length (RFC 9110 8.6)" 0 \
    "$(grep -ci '^Content-Length' "$W/h")"

# A name too long for a line buffer still goes out whole: its value never
# stands as a header of its own (here a framing one).
get -D "$W/h" -o "$W/b" "$URL/longname"
expect_eq "a 1,100-byte header name: its value is no header" 0 \
    "$(grep -ci '^Content-Length' "$W/h")"
expect_eq "a 1,100-byte header name goes out whole" 1 \
    "$(grep -c '^0\{1100\}: Content-Length: 0' "$W/h")"
expect_eq "a 1,100-byte header name: the body is whole" body "$(cat "$W/b")"
get -0 -D "$W/h" -o "$W/b" "$URL/env"
grep -qi '^Transfer-Encoding' "$W/h" && not_ok "HTTP/1.0 gets no chunking" ||
    ok "HTTP/1.0 gets no chunking"
grep -q 'GATEWAY_INTERFACE' "$W/b" && ok "HTTP/1.0 body complete" ||
    not_ok "HTTP/1.0 body complete"
get -D "$W/h" -o "$W/b" "$URL/status"
head -n 1 "$W/h" | grep -q '^HTTP/1.1 404 Nothing Here' &&
    ok "Status: header sets status and reason" ||
    not_ok "Status: header sets status and reason: $(head -n 1 "$W/h")"
grep -qi '^X-Extra: yes' "$W/h" && ok "other headers pass" ||
    not_ok "other headers pass"
get -D "$W/h" -o /dev/null "$URL/away"
head -n 1 "$W/h" | grep -q ' 302 ' &&
    grep -qi '^Location: http://example.com/elsewhere' "$W/h" &&
    ok "absolute Location without Status: 302" ||
    not_ok "absolute Location without Status: 302"
out=$(get "$URL/inner")
expect_eq "local Location with internal_redirect: served inside" \
    "target method=GET path=/x query=from=inner" "$out"
get -D "$W/h" -o "$W/b" "$URL/nph-raw"
head -n 1 "$W/h" | grep -q '^HTTP/1.1 299 Raw' && grep -q 'raw body' "$W/b" &&
    ok "nph- output passes unparsed" || not_ok "nph- output passes unparsed"
# HEAD: the headers a GET would have, not one byte of body, whether the
# handler gave a Content-Length or not (no chunk either).
echo >>"$W/sent"
expect_eq "HEAD is answered with no body (Content-Length handler)" "200 0" \
    "$(raw_head /sized)"
grep -qi '^Content-Length: 6' "$W/head.out" &&
    grep -qi '^Content-Type: text/plain' "$W/head.out" &&
    ok "and with the headers of a GET" || not_ok "and with the headers of a GET"
echo >>"$W/sent"
expect_eq "HEAD is answered with no body (streamed handler)" "200 0" \
    "$(raw_head /env)"
expect_contains "and its Content-Type" "Content-Type: text/plain" \
    "$(cat "$W/head.out")"

# --- output goes out as it comes, not when the handler exits ---------------
# Both handlers sleep 3 s; the client must have its bytes long before.
t0=$(now_ms)
get -N "$URL/drip" | { read -r l; echo "$l $(now_ms)"; cat >/dev/null; } \
    >"$W/drip"
read -r first t1 <"$W/drip"
expect_eq "streamed: the first line arrives while the handler sleeps" \
    "first" "$first"
[ $((t1 - t0)) -lt 2500 ] && ok "first line after $((t1 - t0)) ms (< 2500)" ||
    not_ok "first line after $((t1 - t0)) ms: held until exit"
t0=$(now_ms)
out=$(get "$URL/linger")
t1=$(now_ms)
expect_eq "a handler that closes stdout and lingers: body intact" "done" "$out"
[ $((t1 - t0)) -lt 2500 ] && ok "answered in $((t1 - t0)) ms, before its exit" ||
    not_ok "answered in $((t1 - t0)) ms: held until the handler exited"

# --- 50 MB streamed with bounded memory, slow client included ----------------
rss() { awk '/VmRSS/ {print $2}' "/proc/$GW_PID/status"; }
rss0=$(rss)
echo >>"$W/sent"
curl -s -m 120 --limit-rate 20M "$URL/big?52428800" | wc -c >"$W/n" &
cl=$!
max=0
while kill -0 $cl 2>/dev/null; do
	r=$(rss)
	[ "${r:-0}" -gt "$max" ] && max=$r
	sleep 0.2
done
wait $cl
expect_eq "50 MB streamed intact" 52428800 "$(tr -d ' ' <"$W/n")"
grow=$((max - rss0))
[ "$grow" -lt 32768 ] && ok "RSS grew by $grow kB during 50 MB (bounded)" ||
    not_ok "RSS grew by $grow kB during 50 MB (should stay bounded)"

# --- static files and admin ------------------------------------------------
get -D "$W/h" -o "$W/b" "$URL/hello.txt"
expect_eq "static file from www" "static hello" "$(cat "$W/b")"
etag=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *\(.*\)\r$/\1/p' "$W/h")
[ -n "$etag" ] && ok "static file has an ETag" || not_ok "static file has an ETag"
code=$(code_of -H "If-None-Match: $etag" "$URL/hello.txt")
expect_eq "If-None-Match with its ETag: 304" 304 "$code"
expect_eq "missing static file: 404" 404 "$(code_of "$URL/nope.txt")"
expect_eq "an escaped static path" "two words" "$(get "$URL/two%20words.txt")"
expect_eq "/_gateway/health" "ok" "$(get "$URL/_gateway/health")"

# --- one timing row per request -----------------------------------------------
stop_gateway
expect_eq "cgigate exits 0 on SIGTERM" 0 "$GW_RC"
rows=$(sql "select count(*) from requests")
expect_eq "exactly one requests row per request sent" \
    "$(wc -l <"$W/sent" | tr -d ' ')" "$rows"
row=$(sql "select route, mode, status, pid > 0, exit_status, spawn_us > 0,
    ttfb_us > 0, total_us >= ttfb_us from requests where path like '/api/users/42%'")
expect_eq "a CGI row: route, mode, status, pid, exit, timings" \
    "/api/users|cgi|200|1|0|1|1|1" "$row"
row=$(sql "select mode, status from requests where path = '/hello.txt' limit 1")
expect_eq "a static row" "static|200" "$row"
row=$(sql "select mode, status from requests where path = '/two%20words.txt'")
expect_eq "an escaped static path's row has its status" "static|200" "$row"
row=$(sql "select status from requests where path = '/nph-raw'")
expect_eq "an NPH row has the status the handler wrote" 299 "$row"
row=$(sql "select mode, status from requests where path = '/_gateway/health'")
expect_eq "an admin row" "admin|200" "$row"
row=$(sql "select bytes_out >= 52428800 from requests where route = '/big'")
expect_eq "bytes_out counts the streamed body" 1 "$row"
row=$(sql "select count(*) from events where kind in ('start', 'stop')")
expect_eq "start and stop events" 2 "$row"
finish
