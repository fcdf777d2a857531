#!/bin/sh
# http_framing.sh: a hostile client's ambiguous framing (RFC 9112) gets
# the status the RFC names with Connection: close, before any handler
# runs, and leaves a log line and a timings row; Expect: 100-continue is
# answered when the body is wanted and only then.
#
# The client is tests/fixtures/rawhttp, which sends exactly the bytes it
# is given.  A request smuggled inside a body would run /mark, which
# leaves a file behind: no such file may ever appear.
. "$(dirname "$0")/gw.sh"

RAW="$TB/tests/fixtures/rawhttp"
[ -x "$RAW" ] || skip "rawhttp not built ($RAW)"

cat >"$H/mark.cgi" <<EOF
#!/bin/sh
: >>"$W/marked"
printf 'Content-Type: text/plain\n\nmarked\n'
EOF
cat >"$H/count.cgi" <<'EOF'
#!/bin/sh
# Reads the whole body first, then answers with its length.
n=$(wc -c | tr -d ' ')
printf 'Content-Type: text/plain\n\nbytes=%s\n' "$n"
EOF
cp "$TS/handlers/hello.cgi" "$TS/handlers/env.cgi" "$TS/handlers/echo.cgi" \
    "$H/"
cp "$TB/tests/fixtures/fcgi-fixture" "$H/fix.fcgi"
chmod 755 "$H"/*.cgi
mkdir -p "$W/www"
echo static >"$W/www/s.txt"
{ server_conf; printf 'body_timeout = 4s\n[route /count]\ntimeout = 60s\n'; } \
    >"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"
PORT=${URL##*:}

# The smuggled request: what a front end that framed by the other
# header would have sent on as a second request.
SMUGGLE='GET /mark HTTP/1.1\r\nHost: x\r\n\r\n'

# raw NAME HEAD-AND-BODY (printf format): send it, keep the answer.
raw() {
	printf "$2" >"$W/$1.req"
	"$RAW" -i 1500 "$PORT" "@$W/$1.req" >"$W/$1.out" 2>&1
}

status_of() { head -n 1 "$W/$1.out" | tr -d '\r'; }

# One refused head: the status, a close, one answer only.
refused() {	# name status what
	expect_eq "$3: $2" "HTTP/1.1 $2" "$(status_of "$1" | cut -d' ' -f1,2)"
	expect_contains "$3: connection closed" "Connection: close" \
	    "$(cat "$W/$1.out")"
	expect_eq "$3: the server hung up, one answer" "1 <EOF>" \
	    "$(grep -c '^HTTP/' "$W/$1.out") $(tail -n 1 "$W/$1.out")"
}

raw tecl "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n$SMUGGLE"
refused tecl 400 "Transfer-Encoding with Content-Length"
raw clte "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$SMUGGLE"
refused clte 400 "Content-Length with Transfer-Encoding"
raw tespace "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n$SMUGGLE"
refused tespace 400 "space before a colon"
raw twocl "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 37\r\n\r\nhello$SMUGGLE"
refused twocl 400 "two Content-Lengths"
raw cllist "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 37\r\n\r\nhello$SMUGGLE"
refused cllist 400 "a Content-Length list"
raw clplus "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello"
refused clplus 400 "a signed Content-Length"
raw clsuffix "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\nhello"
refused clsuffix 400 "a Content-Length with junk"
raw twote "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n"
refused twote 400 "chunked not the last of two Transfer-Encodings"
raw tetwice "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
refused tetwice 501 "chunked applied twice"
raw nohost "GET /hello HTTP/1.1\r\n\r\n"
refused nohost 400 "HTTP/1.1 without Host"
raw twohost "GET /hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"
refused twohost 400 "two Hosts"
raw expect "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: tea\r\n\r\nhello"
refused expect 417 "an expectation other than 100-continue"
raw static "POST /s.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n$SMUGGLE"
refused static 400 "ambiguous framing to a static path"

# civetweb reads 64 fields and stops at a line that is no field, and
# drops what follows without a word: a Content-Length behind it would
# leave the body to run as the next request.
raw fold "POST /count HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\nContent-Length: 37\r\n\r\n$SMUGGLE"
refused fold 400 "an obs-fold line"
raw noname "POST /count HTTP/1.1\r\nHost: x\r\n: a\r\nContent-Length: 37\r\n\r\n$SMUGGLE"
refused noname 400 "a line with no field name"
raw foldlf "POST /count HTTP/1.1\nHost: x\nX-A: a\n b\nContent-Length: 37\n\n$SMUGGLE"
refused foldlf 400 "an obs-fold line in a head of bare LFs"
i=0; f=
while [ $i -lt 62 ]; do f="${f}X-F$i: v\r\n"; i=$((i + 1)); done
raw fields65 "GET /hello HTTP/1.1\r\nHost: x\r\n${f}X-A: 1\r\nX-B: 2\r\n\r\n"
refused fields65 431 "65 header fields"
raw fields64 "GET /hello HTTP/1.1\r\nHost: x\r\n${f}Connection: close\r\n\r\n"
expect_eq "64 header fields are served" "HTTP/1.1 200 OK" "$(status_of fields64)"
raw lfhead "GET /hello HTTP/1.1\nHost: x\nConnection: close\n\n"
expect_eq "a head of bare LFs is served" "HTTP/1.1 200 OK" "$(status_of lfhead)"

# Chunked bodies: civetweb cannot parse chunk extensions, so they and a
# bad chunk size get a 400 and a close, never a silent hang-up.
raw chunkext "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\n\r\n"
refused chunkext 400 "a chunk extension"
raw chunkbad "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
refused chunkbad 400 "a bad chunk size"
raw chunkok "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
expect_contains "a clean chunked body arrives whole" "bytes=11" \
    "$(cat "$W/chunkok.out")"

# A body that ends short of its Content-Length never reaches a handler
# as if it were whole: not through CGI, not through FastCGI.
for r in /count /fix; do
	printf 'POST %s?echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello' \
	    "$r" >"$W/short.req"
	"$RAW" -i 3000 "$PORT" "@$W/short.req" "!" >"$W/short.out" 2>&1
	expect_absent "$r: a body cut short by EOF is not answered" "200 OK" \
	    "$(cat "$W/short.out")"
	wait_sql 1 "select count(*) from requests where route = '$r' and
	    method = 'POST' and status = 499"
	expect_eq "$r: it is recorded as the client's going" 1 "$(sql "select
	    count(*) from requests where route = '$r' and method = 'POST' and
	    status = 499")"
done

# A chunked body that stops in the middle of a chunk-size line: the door
# waits out body_timeout (4 s here) and gives up; that is a slow client
# (408), not a malformed body.  Started now, checked at the end.
printf 'POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5' \
    >"$W/stall.req"
"$RAW" -i 50000 "$PORT" "@$W/stall.req" >"$W/stall.out" 2>&1 &
STALL=$!
track "$STALL"

[ ! -e "$W/marked" ]; expect_eq "no smuggled request ran" 0 $?
raw markok "GET /mark HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
[ -e "$W/marked" ]; expect_eq "(the marker handler does run)" 0 $?

# RFC 9112 3.2.2: absolute-form for this server is served.
raw absform "GET http://127.0.0.1:$PORT/env?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
expect_eq "absolute-form is served" "HTTP/1.1 200 OK" "$(status_of absform)"
expect_contains "absolute-form: REQUEST_URI in origin form" \
    "REQUEST_URI=/env?q=1" "$(cat "$W/absform.out")"

# Expect: 100-continue: the interim answer, then the body is read.
printf 'POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n' >"$W/e1.head"
printf 'hello' >"$W/e1.body"
"$RAW" "$PORT" "@$W/e1.head" "=100 Continue" "@$W/e1.body" >"$W/e1.out"
expect_eq "Expect: 100-continue gets 100 Continue before the body" 0 $?
expect_contains "then the answer, with the whole body read" "bytes=5" \
    "$(cat "$W/e1.out")"
# Known answers go out as the final status, without 100 Continue.
raw e404 "POST /nosuch HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
expect_eq "a 404 is answered without 100 Continue" "HTTP/1.1 404" \
    "$(status_of e404 | cut -d' ' -f1,2)"
expect_absent "(and no interim answer)" "100 Continue" "$(cat "$W/e404.out")"
expect_eq "(and the connection closes: the body was not read)" "<EOF>" \
    "$(tail -n 1 "$W/e404.out")"
# curl sends Expect: 100-continue with bodies over 1 MB.
head -c 2000000 /dev/zero >"$W/big"
out=$(curl -sv -m 20 --data-binary @"$W/big" -o "$W/big.back" \
    "$URL/echo" 2>&1)
expect_contains "curl's large upload is told 100 Continue" \
    "HTTP/1.1 100 Continue" "$out"
cmp -s "$W/big" "$W/big.back"
expect_eq "(and arrives whole)" 0 $?
# HTTP/1.0 has no 100 Continue: the expectation is ignored.
raw e10 "POST /count HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello"
expect_eq "HTTP/1.0 ignores Expect" "HTTP/1.0 200 OK" "$(status_of e10)"
expect_absent "(without an interim answer)" "100 Continue" \
    "$(cat "$W/e10.out")"

wait "$STALL"
expect_eq "a chunked body stalled mid-line: 408 after body_timeout" \
    "HTTP/1.1 408" "$(head -n 1 "$W/stall.out" | cut -d' ' -f1,2)"

# A request line that is none: civetweb used to answer it with the line's
# last words, headers and all, as the version of its status line.
raw badline "PROXY TCP4 127.0.0.2 127.0.0.1 5 6\r\nHost: x\r\n\r\n"
refused badline 400 "a request line of six words"
expect_absent "the status line echoes nothing of it" "127.0.0" \
    "$(status_of badline)"

# A tab inside a field value is allowed (RFC 9110 5.5); civetweb refused
# it, so the door hands it on as a space.
raw tab "GET /env HTTP/1.1\r\nHost: x\r\nX-Tab: a\tb\r\nConnection: close\r\n\r\n"
expect_eq "a tab inside a field value is served" "HTTP/1.1 200 OK" \
    "$(status_of tab)"
expect_contains "as a space" "HTTP_X_TAB=a b" "$(cat "$W/tab.out")"

# Every refusal is logged and leaves a row, civetweb's own included.
raw badver "GET /hello HTTP/2.0\r\nHost: x\r\n\r\n"
expect_eq "an unknown HTTP version: 505" "HTTP/2.0 505" \
    "$(status_of badver | cut -d' ' -f1,2)"
expect_log "ambiguous framing is logged with its reason" \
    "-> 400: both Transfer-Encoding and Content-Length"
expect_log "civetweb's own refusals are logged" \
    "refused by civetweb -> 505"
wait_sql 1 "select count(*) from requests where status = 505 and mode = 'http'"
expect_eq "civetweb's refusal has a row" 1 "$(sql "select count(*) from
    requests where status = 505 and mode = 'http'")"
# The door's rows: 15 heads and 2 chunked bodies refused (400), the
# stalled body (408), the two bodies cut short (499), and one each of
# 417, 431 and 501.
expect_eq "each refusal has a row" "400|17 408|1 417|1 431|1 499|2 501|1" \
    "$(sql "select status, count(*) from requests where mode = 'http' and
    status <> 505 group by status order by status" | tr '\n' ' ' |
    sed 's/ $//')"
expect_eq "the door's answers: their rows count the bytes it wrote" \
    "0|0" "$(sql "select count(*) filter (where bytes_out <= 0),
    count(*) filter (where bytes_out > 0 and status = 499) from requests
    where mode = 'http' and status not in (408, 499, 505)")"
expect_eq "a client that left got nothing: 0 bytes" "0" \
    "$(sql "select count(*) from requests where mode = 'http' and
    status = 499 and bytes_out <> 0")"
expect_eq "chunked framing errors have rows" 2 "$(sql "select count(*)
    from requests where route = '/count' and status = 400
    and error like 'malformed chunked request body%'")"
finish
