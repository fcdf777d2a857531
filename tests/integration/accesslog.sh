#!/bin/sh
# accesslog.sh: access_log = PATH writes one combined log format line per
# request (cgigate.conf(5)): CGI, FastCGI and static answers, the client's
# address, its request line, status, body bytes, Referer and User-Agent
# escaped; SIGUSR1 reopens it after a rotation, SIGHUP may move it, off
# writes none, and a path that cannot be opened is refused by line.
. "$(dirname "$0")/gw.sh"

cat >"$H/hello.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\nhello\n'
EOF
chmod 755 "$H/hello.cgi"
if [ -x "$TB/handlers/hello-fcgi.fcgi" ]; then
	cp "$TB/handlers/hello-fcgi.fcgi" "$H/hi.fcgi"
fi
mkdir -p "$W/www" "$W/logs"
printf 'static\n' >"$W/www/page.txt"
AL="$W/logs/access.log"
conf() {	# access_log value
	{ server_conf; printf 'access_log = %s\n' "$1"
	    printf '[route /hello]\nmax_body = 10\n'; } >"$W/cgigate.conf"
}
line_of() { grep -F -- "$2" "$1" 2>/dev/null | tail -n 1; }	# file text
has_line() { grep -qF -- "$2" "$1" 2>/dev/null; }
# The line of the request whose request line holds text, once written
# (after the answer): up to 5 s.
expect_line() {	# what file text want-line
	if retry 50 has_line "$2" "$3" &&
	    [ "$(line_of "$2" "$3")" = "$4" ]; then ok "$1"
	else not_ok "$1 (want '$4', got '$(line_of "$2" "$3")')"; fi
}
# A line with its time replaced by T, for exact comparison.
T='s/ \[[0-9][0-9]\/[A-Z][a-z][a-z]\/[0-9]\{4\}:[0-9][0-9]:[0-9][0-9]:[0-9][0-9] +0000\] / [T] /'
notime() { sed "$T" "$1"; }
expect_tline() {	# what file text want-line (time as [T])
	if retry 50 has_line "$2" "$3" &&
	    [ "$(notime "$2" | grep -F -- "$3" | tail -n 1)" = "$4" ]; then
		ok "$1"
	else not_ok "$1 (want '$4', got '$(notime "$2" | grep -F -- "$3" |
	    tail -n 1)')"; fi
}

conf "$AL"
start_gateway --config "$W/cgigate.conf"

curl -s -o /dev/null -H 'Referer: http://example.com/from' \
    -A 'tester/1.0' "$URL/hello?q=%41&x=1"
expect_tline "CGI 200 with a query, Referer and User-Agent" "$AL" \
    'GET /hello?q=%41&x=1 ' \
    '127.0.0.1 - - [T] "GET /hello?q=%41&x=1 HTTP/1.1" 200 6 "http://example.com/from" "tester/1.0"'
d=$(date -u +%d/%b/%Y)
expect_contains "the time is UTC, in brackets, +0000" "[$d:" \
    "$(line_of "$AL" 'GET /hello?q=%41')"
expect_contains "the time zone" " +0000] " "$(line_of "$AL" 'GET /hello?q=%41')"

curl -s -o /dev/null -H 'User-Agent:' "$URL/hello"
expect_tline "no Referer, no User-Agent: \"-\"" "$AL" '"GET /hello HTTP/1.1"' \
    '127.0.0.1 - - [T] "GET /hello HTTP/1.1" 200 6 "-" "-"'

curl -s -o /dev/null --http1.0 -I -A x "$URL/hello?head"
expect_tline "HEAD over HTTP/1.0: no body bytes, \"-\"" "$AL" 'HEAD /hello?head' \
    '127.0.0.1 - - [T] "HEAD /hello?head HTTP/1.0" 200 - "-" "x"'

# What the client chose cannot end a field or the line: a quote, a
# backslash and bytes from 0x80 are escaped (control bytes too, but
# neither the door nor civetweb lets one through: test_accesslog).
ua=$(printf 'say "hi" \\x\303\251 "-" 200')
curl -s -o /dev/null -A "$ua" "$URL/hello?ua"
expect_tline "User-Agent escaped" "$AL" 'GET /hello?ua ' \
    '127.0.0.1 - - [T] "GET /hello?ua HTTP/1.1" 200 6 "-" "say \"hi\" \\x\xC3\xA9 \"-\" 200"'
expect_eq "every line has its 9 fields" 0 \
    "$(notime "$AL" | grep -cvE '^127\.0\.0\.1 - - \[T\] "([^"\\]|\\.)*" [0-9]{3} ([0-9]+|-) "([^"\\]|\\.)*" "([^"\\]|\\.)*"$')"

curl -s -o /dev/null -A s "$URL/page.txt"
expect_tline "a static file: 200, its body bytes as the door counted them" \
    "$AL" 'GET /page.txt ' \
    '127.0.0.1 - - [T] "GET /page.txt HTTP/1.1" 200 7 "-" "s"'
n=$(curl -s -o /dev/null -w '%{size_download}' -A s "$URL/nothing-here.txt")
expect_tline "a static 404, with civetweb's page's bytes" "$AL" \
    'GET /nothing-here.txt ' \
    "127.0.0.1 - - [T] \"GET /nothing-here.txt HTTP/1.1\" 404 $n \"-\" \"s\""
curl -s -o /dev/null -I -A s "$URL/page.txt?head"
expect_tline "a static HEAD: no body bytes, \"-\"" "$AL" 'HEAD /page.txt?head' \
    '127.0.0.1 - - [T] "HEAD /page.txt?head HTTP/1.1" 200 - "-" "s"'
if [ -x "$H/hi.fcgi" ]; then
	curl -s -o /dev/null -A f "$URL/hi?fcgi"
	expect_tline "FastCGI: its body bytes" "$AL" 'GET /hi?fcgi ' \
	    '127.0.0.1 - - [T] "GET /hi?fcgi HTTP/1.1" 200 3 "-" "f"'
else
	skip "FastCGI: hello-fcgi.fcgi not built"
fi
# The door's own answers: a body over max_body (its head is known), a
# head too large (it is not: "-").
curl -s -o /dev/null -A d -d 0123456789abcdef "$URL/hello?big"
expect_tline "the door's 413" "$AL" 'POST /hello?big ' \
    '127.0.0.1 - - [T] "POST /hello?big HTTP/1.1" 413 22 "-" "d"'
big=$(head -c 17000 /dev/zero | tr '\0' a)
curl -s -o /dev/null -H "X-Big: $big" "$URL/hello?huge"
expect_tline "the door's 431: no request line" "$AL" '" 431 ' \
    '127.0.0.1 - - [T] "-" 431 36 "-" "-"'
expect_eq "one line per request" 10 "$(wc -l <"$AL" | tr -d ' ')"
wait_sql 10 "select count(*) from requests" &&
    ok "a timing row per line" || not_ok "a timing row per line ($(sql \
    "select count(*) from requests") rows)"

# Rotation as logrotate does it: rename, then SIGUSR1; the next line
# goes to a new file at the path.
mv "$AL" "$AL.1"
curl -s -o /dev/null "$URL/hello?before-usr1"
retry 50 has_line "$AL.1" 'before-usr1' &&
    ok "until SIGUSR1, lines go to the renamed file" ||
    not_ok "until SIGUSR1, lines go to the renamed file"
kill -USR1 "$GW_PID"
expect_log "SIGUSR1 is logged" "SIGUSR1: access log reopened"
curl -s -o /dev/null "$URL/hello?after-usr1"
retry 50 has_line "$AL" 'after-usr1' &&
    ok "after SIGUSR1, a new file at the path" ||
    not_ok "after SIGUSR1, a new file at the path"
expect_eq "the new file has only the new line" 1 "$(wc -l <"$AL" | tr -d ' ')"
expect_eq "the old file kept the earlier lines" 11 \
    "$(wc -l <"$AL.1" | tr -d ' ')"
expect_eq "the old file has none after the reopen" 0 \
    "$(grep -c after-usr1 "$AL.1")"

# SIGHUP: a new path is opened; one that cannot be refuses the reload.
conf "$W/logs/other.log"
kill -HUP "$GW_PID"
expect_log "the reload is logged" "SIGHUP: configuration reloaded"
curl -s -o /dev/null "$URL/hello?moved"
retry 50 has_line "$W/logs/other.log" 'moved' &&
    ok "SIGHUP moves the log" || not_ok "SIGHUP moves the log"
expect_eq "the old path has no line after the move" 0 \
    "$(grep -c moved "$AL")"
conf "$W/no-such-dir/x.log"
kill -HUP "$GW_PID"
expect_log "a path that cannot be opened refuses the reload" \
    "cgigate.conf:5: access_log: $W/no-such-dir/x.log: No such file or directory; keeping the running configuration"
curl -s -o /dev/null "$URL/hello?kept"
retry 50 has_line "$W/logs/other.log" 'kept' &&
    ok "after a refused reload, the log stays" ||
    not_ok "after a refused reload, the log stays"
conf off
kill -HUP "$GW_PID"
reloads() { [ "$(gw_log | grep -c 'SIGHUP: configuration reloaded')" -ge "$1" ]; }
retry 50 reloads 2 && ok "the reload to off is logged" ||
    not_ok "the reload to off is logged"
curl -s -o /dev/null "$URL/hello?after-off"
sleep 0.5	# a line, were one written, would be there by now
expect_eq "SIGHUP to off: no more lines" 0 \
    "$(cat "$W"/logs/* | grep -c after-off)"
kill -USR1 "$GW_PID"
expect_log "SIGUSR1 without a log says so" "SIGUSR1: no access_log to reopen"
stop_gateway
expect_eq "the gateway stopped cleanly" 0 "$GW_RC"

# access_log = off from the start: nothing written, no file named off.
rm -f "$W"/logs/*
conf off
(cd "$W/logs" && start_gateway --config "$W/cgigate.conf"
curl -s -o /dev/null "$URL/hello?off"
sleep 0.5	# a line, were one written, would be there by now
stop_gateway)
expect_eq "access_log = off: no file" "" "$(ls "$W/logs")"

# A path that cannot be opened: start-up refuses it by its line, and
# --check reports it the same way.
conf "$W/no-such-dir/x.log"
"$GATEWAY" --listen 127.0.0.1:0 $ROOTOK --config "$W/cgigate.conf" \
    >"$W/start.out" 2>&1
rc=$?
expect_eq "start-up refuses an access_log it cannot open" 1 "$rc"
expect_contains "with file:line" \
    "cgigate.conf:5: access_log: $W/no-such-dir/x.log: No such file or directory" \
    "$(cat "$W/start.out")"
"$GATEWAY" --check $ROOTOK --config "$W/cgigate.conf" >"$W/check.out" 2>&1
rc=$?
expect_eq "--check fails" 1 "$rc"
expect_contains "--check names the line" \
    "cgigate.conf:5: access_log: $W/no-such-dir/x.log: cannot create it" \
    "$(cat "$W/check.out")"
conf "$W/logs/fine.log"
"$GATEWAY" --check $ROOTOK --config "$W/cgigate.conf" >"$W/check.out" 2>&1
expect_contains "--check: a path it can create is fine" \
    "configuration ok" "$(cat "$W/check.out")"
expect_eq "--check creates no file" "" "$(ls "$W/logs")"

finish
