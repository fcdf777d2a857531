#!/bin/sh
# cgi_basic.sh: the CGI path as a client sees it (RFC 3875 meta-variables,
# request and response bodies, response header handling), static files,
# streaming a large body in bounded memory, and one timing row per request.
. "$(dirname "$0")/lib.sh"

# Every request this test sends goes through req or code, which count it
# in a file (most of them run in $(...) subshells).
req() { echo >>"$W/sent"; curl -s -m 60 "$@"; }
code() { echo >>"$W/sent"; http_code "$@"; }
sha() { sha256sum | cut -d ' ' -f 1; }
hdr() {	# NAME FILE: the value of a response header, CR stripped
	sed -n "s/^$1: *//Ip" "$2" | tr -d '\r' | head -n 1
}

use_handlers env echo stream zeros sized status away inner target nph-raw \
    exit3 pathinfo:api/users
echo "static hello" >"$WWW/hello.txt"
head -c 52428800 /dev/urandom >"$STATE/stream.bin"
write_config <<EOF
path = /opt/cgi-bin:/usr/bin:/bin
[route /inner]
internal_redirect = yes
[route /env]
env = GREETING=hello there
EOF
CGIGATE_TEST_MARKER=leaked-from-cgigate
export CGIGATE_TEST_MARKER
start_gateway --config "$CONF"
unset CGIGATE_TEST_MARKER

# --- meta-variables (RFC 3875 4.1) ---------------------------------------------
req -H 'Proxy: http://evil.example:3128/' -H 'X-User: alice' \
    -H 'X_User: mallory' -H 'Accept-Language: en' \
    "$URL/env/extra/path?a=1&b=two" >"$W/env"
line() {	# DESC LINE: the environment holds exactly this line
	if grep -qxF -- "$2" "$W/env"; then ok "$1"
	else not_ok "$1 (no line '$2')"; fi
}
noline() {	# DESC ERE: no line of the environment matches
	if grep -qE -- "$2" "$W/env"; then not_ok "$1 ($(grep -E -- "$2" "$W/env"))"
	else ok "$1"; fi
}
line "GATEWAY_INTERFACE" "GATEWAY_INTERFACE=CGI/1.1"
line "REQUEST_METHOD" "REQUEST_METHOD=GET"
line "SERVER_PROTOCOL" "SERVER_PROTOCOL=HTTP/1.1"
line "SERVER_PORT is the real port" "SERVER_PORT=$PORT"
line "SERVER_NAME" "SERVER_NAME=127.0.0.1"
line "REMOTE_ADDR" "REMOTE_ADDR=127.0.0.1"
line "SCRIPT_NAME is the route" "SCRIPT_NAME=/env"
line "PATH_INFO is the rest of the path" "PATH_INFO=/extra/path"
line "QUERY_STRING" "QUERY_STRING=a=1&b=two"
line "REQUEST_URI keeps path and query" "REQUEST_URI=/env/extra/path?a=1&b=two"
line "SCRIPT_FILENAME" "SCRIPT_FILENAME=$H/env.cgi"
line "DOCUMENT_ROOT is www" "DOCUMENT_ROOT=$WWW"
line "request headers become HTTP_*" "HTTP_ACCEPT_LANGUAGE=en"
line "X-User: gives HTTP_X_USER" "HTTP_X_USER=alice"
line "configured PATH" "PATH=/opt/cgi-bin:/usr/bin:/bin"
line "route env" "GREETING=hello there"
line "query string never in argv (\$# = 0)" "ARGC=0"
noline "Proxy: never gives HTTP_PROXY (httpoxy)" '^HTTP_PROXY='
noline "X_User: is dropped, not merged into HTTP_X_USER" 'mallory'
noline "cgigate's own environment does not leak" 'CGIGATE_TEST_MARKER|leaked-from'
noline "no CONTENT_LENGTH or CONTENT_TYPE without a body" '^CONTENT_(LENGTH|TYPE)='

req "$URL/env/a%20b" >"$W/env"
line "PATH_INFO is decoded" "PATH_INFO=/a b"
line "REQUEST_URI is not" "REQUEST_URI=/env/a%20b"
req "$URL/env?-n+x+y" >"$W/env"
line "a query without '=' is not argv either (RFC 3875 4.4)" "ARGC=0"
line "and stays in QUERY_STRING" "QUERY_STRING=-n+x+y"

req -d 'x=1&y=2' -H 'Content-Type: application/x-www-form-urlencoded' \
    "$URL/env" >"$W/env"
line "POST: REQUEST_METHOD" "REQUEST_METHOD=POST"
line "POST: CONTENT_LENGTH" "CONTENT_LENGTH=7"
line "POST: CONTENT_TYPE" "CONTENT_TYPE=application/x-www-form-urlencoded"

expect_eq "nested handler api/users.cgi: SCRIPT_NAME and PATH_INFO" \
    "/api/users /42" "$(req "$URL/api/users/42")"
expect_eq "a longer name is no match for a route (/envy)" 404 \
    "$(code "$URL/envy")"

# --- request bodies ----------------------------------------------------------
expect_eq "POST body echoed" "hello, body" \
    "$(req --data-binary 'hello, body' "$URL/echo")"
head -c 3000000 /dev/urandom >"$W/body"
want=$(sha <"$W/body")
got=$(req --data-binary @"$W/body" "$URL/echo" | sha)
expect_eq "3 MB POST echoed intact (sha256)" "$want" "$got"
got=$(req -H 'Transfer-Encoding: chunked' --data-binary @"$W/body" \
    "$URL/echo" | sha)
expect_eq "3 MB chunked upload echoed intact (sha256)" "$want" "$got"

# --- response headers ----------------------------------------------------------
req -D "$W/h" -o "$W/b" "$URL/env"
expect_eq "no Content-Length from the handler: chunked" chunked \
    "$(hdr Transfer-Encoding "$W/h")"
expect_eq "and no Content-Length invented" "" "$(hdr Content-Length "$W/h")"
tail=$(req --raw "$URL/env" | tail -c 5 | od -An -c | tr -d ' \n')
expect_eq "the chunked body ends with the last chunk" '0\r\n\r\n' "$tail"
req -D "$W/h" -o "$W/b" "$URL/sized"
expect_eq "handler's Content-Length passed through" 6 \
    "$(hdr Content-Length "$W/h")"
expect_eq "and then no chunking" "" "$(hdr Transfer-Encoding "$W/h")"
expect_eq "and the body" sized "$(cat "$W/b")"
req -D "$W/h" -o "$W/b" "$URL/status"
expect_eq "Status: sets code and reason" "HTTP/1.1 404 Nothing Here" \
    "$(head -n 1 "$W/h" | tr -d '\r')"
expect_eq "other handler headers pass" yes "$(hdr X-Extra "$W/h")"
expect_eq "Status: itself is not forwarded" "" "$(hdr Status "$W/h")"
expect_eq "the body of a Status: response" gone "$(cat "$W/b")"
req -D "$W/h" -o /dev/null "$URL/away"
expect_eq "absolute Location without Status: 302" 302 \
    "$(head -n 1 "$W/h" | cut -d ' ' -f 2)"
expect_eq "with the Location" http://example.com/elsewhere \
    "$(hdr Location "$W/h")"
req -D "$W/h" -o "$W/b" "$URL/inner"
expect_eq "local Location + internal_redirect: target served, 200" \
    "200 target method=GET path=/x query=from=inner" \
    "$(head -n 1 "$W/h" | cut -d ' ' -f 2) $(cat "$W/b")"
expect_eq "no Location leaks to the client" "" "$(hdr Location "$W/h")"
req -D "$W/h" -o "$W/b" "$URL/nph-raw"
expect_eq "nph-: the handler's status line as is" "HTTP/1.1 299 Raw Deal" \
    "$(head -n 1 "$W/h" | tr -d '\r')"
expect_eq "nph-: its headers as is" 1 "$(hdr X-Nph "$W/h")"
expect_eq "nph-: nothing added by cgigate" "" "$(hdr Server "$W/h")"
expect_eq "nph-: its body" "raw body" "$(cat "$W/b")"

# --- 50 MB out, memory bounded, slow client included -------------------------
# A client that stops reading for 2 s (a full pipe stalls curl) and then
# reads at 25 MB/s: cgigate must push back on the handler, not buffer.
sample_rss() {	# PID: sample cgigate's VmRSS until PID exits; prints max kB
	_max=0
	while alive "$1"; do
		_r=$(rss_kb "$GW_PID")
		[ "${_r:-0}" -gt "$_max" ] && _max=$_r
		sleep 0.1
	done
	echo "$_max"
}
want=$(sha <"$STATE/stream.bin")
rss0=$(rss_kb "$GW_PID")
(req --limit-rate 25M "$URL/stream" | { sleep 2; sha; } >"$W/sum") &
cl=$!
track "$cl"
max=$(sample_rss "$cl")
wait "$cl"
expect_eq "50 MB to a stalled, then rate-limited client: intact" \
    "$want" "$(cat "$W/sum")"
(req "$URL/zeros?52428800" | wc -c | tr -d ' ' >"$W/n") &
cl=$!
track "$cl"
max2=$(sample_rss "$cl")
wait "$cl"
expect_eq "50 MB generated by the handler, full speed: all bytes" \
    52428800 "$(cat "$W/n")"
[ "$max2" -gt "$max" ] && max=$max2
rss1=$(rss_kb "$GW_PID")
diag "cgigate VmRSS: $rss0 kB before, $max kB at most during, $rss1 kB after"
expect_le "VmRSS during the transfers stays under 64 MB (kB)" 65535 "$max"
expect_le "VmRSS after them stays under 64 MB (kB)" 65535 "$rss1"

# --- static files, errors, admin ----------------------------------------------
req -D "$W/h" -o "$W/b" "$URL/hello.txt"
expect_eq "static file from www" "static hello" "$(cat "$W/b")"
etag=$(hdr ETag "$W/h")
expect_ne "static file has an ETag" "" "$etag"
expect_eq "If-None-Match with that ETag: 304" 304 \
    "$(code -H "If-None-Match: $etag" "$URL/hello.txt")"
expect_eq "If-None-Match with another ETag: 200" 200 \
    "$(code -H 'If-None-Match: "nope"' "$URL/hello.txt")"
expect_eq "missing static file: 404" 404 "$(code "$URL/nope.txt")"
expect_eq "handler exiting 3 without output: 502" 502 "$(code "$URL/exit3")"
c=$(code --path-as-is "$URL/%2e%2e/etc/passwd")
case $c in 40[034]) ok "traversal refused ($c)" ;;
*) not_ok "traversal refused (got $c)" ;; esac
expect_eq "/_gateway/health" "200 ok" \
    "$(req -w '%{http_code} ' -o "$W/b" "$URL/_gateway/health")$(cat "$W/b")"

# --- one timing row per request ---------------------------------------------------
sent=$(wc -l <"$W/sent" | tr -d ' ')
stop_gateway
expect_eq "SIGTERM: cgigate exits 0" 0 "$GW_RC"
expect_eq "exactly one requests row per request sent ($sent)" "$sent" \
    "$(sql 'select count(*) from requests')"
expect_eq "request ids are unique" "$sent" \
    "$(sql 'select count(distinct request_id) from requests')"
expect_eq "a CGI row: mode, status, route, pid, exit_status" \
    "cgi|200|/env|1|0" \
    "$(sql "select mode, status, route, pid > 0, exit_status from requests
        where path like '/env/extra/path%'")"
expect_eq "a Status: 404 row: the handler still exited 0" "cgi|404|/status|0" \
    "$(sql "select mode, status, route, exit_status from requests
        where route = '/status'")"
expect_eq "a 502 row: exit status and error kept" "cgi|502|3|1" \
    "$(sql "select mode, status, exit_status, error is not null
        from requests where route = '/exit3'")"
expect_eq "the redirect is one row" 1 \
    "$(sql "select count(*) from requests where path like '/inner%'")"
expect_eq "static rows: no process" "static|200|1" \
    "$(sql "select mode, status, pid is null from requests
        where path = '/hello.txt' order by id limit 1")"
expect_eq "the 304 has its row" 1 \
    "$(sql "select count(*) from requests where status = 304")"
expect_eq "the missing file has its row" "static|404" \
    "$(sql "select mode, status from requests where path = '/nope.txt'")"
expect_eq "the admin row" "admin|200" \
    "$(sql "select mode, status from requests
        where path = '/_gateway/health'")"
expect_eq "bytes_out counts both 50 MB bodies" 2 \
    "$(sql "select count(*) from requests
        where route in ('/stream', '/zeros') and bytes_out >= 52428800")"
expect_eq "bytes_in counts the uploads" 2 \
    "$(sql "select count(*) from requests
        where route = '/echo' and bytes_in = 3000000")"
expect_eq "start and stop events" "start stop" \
    "$(sql "select kind from events where kind in ('start', 'stop')
        order by id" | tr '\n' ' ' | sed 's/ $//')"
finish
