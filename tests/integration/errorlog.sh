#!/bin/sh
# errorlog.sh: error_log = PATH takes cgigate's own log off stderr, its
# handlers' stderr included, each line with its level; log_level hides
# what is below it and changes with SIGHUP; SIGUSR1 reopens the file
# after a rotation while a request is in flight; SIGHUP moves it, back to
# stderr too; a path that cannot be opened is refused at start, by
# --check and by a reload, by its line; started as root with a user, the
# file is that user's and the reopen after the switch works
# (cgigate.conf(5), cgigate(8)).
. "$(dirname "$0")/gw.sh"

cat >"$H/hello.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\nhello\n'
EOF
# A broken handler: a word on stderr, no answer (502).
cat >"$H/bad.cgi" <<'EOF'
#!/bin/sh
echo "broken-handler-says $QUERY_STRING" >&2
exit 1
EOF
# Says when it began, waits for $W/go, says when it ends, answers.
cat >"$H/slow.cgi" <<EOF
#!/bin/sh
echo "slow-begins" >&2
i=0
until [ -e "$W/go" ] || [ \$i -ge 200 ]; do sleep 0.05; i=\$((i + 1)); done
echo "slow-ends" >&2
printf 'Content-Type: text/plain\n\nslow done\n'
EOF
chmod 755 "$H"/*.cgi
mkdir -p "$W/www" "$W/logs"
EL="$W/logs/error.log"
AL="$W/logs/access.log"
PORT=$(free_port)

# The configuration: [server] (4 lines), listen (line 5), then each
# argument as a line of its own (from line 6).
conf() {
	{ server_conf; printf 'listen = 127.0.0.1:%s\n' "$PORT"
	    for l in "$@"; do printf '%s\n' "$l"; done; } >"$W/cgigate.conf"
}
# Start on $PORT with the file; the log may say nothing of it, so wait
# for the port.
start_conf() {
	GW_RUN=$((${GW_RUN:-0} + 1))
	GW_LOG="$W/gateway.$GW_RUN.log"
	"$GATEWAY" $ROOTOK --config "$W/cgigate.conf" "$@" 2>"$GW_LOG" &
	GW_PID=$!
	track "$GW_PID"
	if ! wait_port "$PORT" || ! wait_port "$PORT"; then
		sed 's/^/# /' "$GW_LOG"
		not_ok "cgigate did not start"
		finish
	fi
	URL="http://127.0.0.1:$PORT"
}
has() { grep -qF -- "$2" "$1" 2>/dev/null; }	# file text
expect_in() {	# what file text: within 5 s
	if retry 50 has "$2" "$3"; then ok "$1"
	else not_ok "$1 ('$3' not in ${2#"$W"/})"; fi
}
# The request id of the first line of file matching text.
reqid() { sed -n "s/.* \[\(r[0-9]*\)\] .*$2.*/\1/p" "$1" | head -n 1; }
TIME='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

# 1. The file, not stderr.
conf "error_log = $EL" "access_log = $AL"
start_conf
expect_in "the start is logged in the file" "$EL" "started (handlers"
expect_eq "the file is rw-r-----" 640 "$(stat -c %a "$EL")"
expect_eq "a line: time, request id, level, text" 1 \
    "$(grep -cE "^$TIME \[-\] notice: cgigate [^ ]+ started \(handlers" "$EL")"
expect_eq "every line has a level" 0 \
    "$(grep -cvE "^$TIME \[(-|r[0-9]+)\] (error|warn|notice|info|debug): " "$EL")"
expect_eq "a broken handler: 502" 502 "$(http_code "$URL/bad?first")"
expect_in "its stderr is in the file, with a level" "$EL" \
    "warn: stderr: broken-handler-says first"
id=$(reqid "$EL" "stderr: broken-handler-says first")
expect_in "and its 502, with the same request id" "$EL" \
    "[$id] warn: GET /bad -> 502"
wait_sql 1 "select count(*) from requests where status = 502 and
    request_id = '$id'" && ok "the id is the timing row's ($id)" ||
    not_ok "the id is the timing row's ($id)"
expect_eq "hello" hello "$(curl -s "$URL/hello?info")"
sleep 0.3	# a debug line, were one written, would be there by now
expect_absent "at info, no debug line" "debug:" "$(cat "$EL")"
expect_eq "nothing on stderr" "" "$(cat "$GW_LOG")"

# 2. Rotation: rename, a request begins, SIGUSR1, it ends.  The request
# completes, its first stderr line is in the old file and its last in
# the new; one SIGUSR1 reopens the access log as well.
mv "$EL" "$EL.1"
mv "$AL" "$AL.1"
curl -s -o "$W/slow.out" -w '%{http_code}' "$URL/slow" >"$W/slow.code" &
cl=$!
expect_in "until SIGUSR1, lines go to the renamed file" "$EL.1" \
    "stderr: slow-begins"
kill -USR1 "$GW_PID"
expect_in "SIGUSR1: a new file at the path" "$EL" \
    "notice: SIGUSR1: error log reopened"
touch "$W/go"
wait $cl
expect_eq "the request in flight during SIGUSR1 completes" \
    "200 slow done" "$(cat "$W/slow.code") $(cat "$W/slow.out")"
expect_in "its later stderr goes to the new file" "$EL" "stderr: slow-ends"
expect_eq "not to the old one" 0 "$(grep -c slow-ends "$EL.1")"
expect_in "the access log is reopened too" "$AL" "GET /slow "
http_code "$URL/bad?second" >/dev/null
expect_in "a new request: the new file" "$EL" "broken-handler-says second"
expect_eq "the old file keeps its lines, and no new one" \
    "1 0 1" "$(grep -c 'broken-handler-says first' "$EL.1") \
$(grep -c 'broken-handler-says second' "$EL.1") \
$(grep -c 'started (handlers' "$EL.1")"
expect_eq "still nothing on stderr" "" "$(cat "$GW_LOG")"

# 3. SIGHUP: log_level = debug shows each answer.
conf "error_log = $EL" "access_log = $AL" "log_level = debug"
kill -HUP "$GW_PID"
expect_in "the level change is logged" "$EL" "SIGHUP: log_level info -> debug"
expect_in "the reload too" "$EL" "SIGHUP: configuration reloaded"
curl -s -o /dev/null "$URL/hello?debug"
expect_in "at debug, each answer is logged" "$EL" "debug: GET /hello -> 200"

# 4. SIGHUP: a path that cannot be opened refuses the reload; another
# path moves the log; stderr brings it back.
conf "error_log = $W/no-such-dir/e.log" "access_log = $AL"
kill -HUP "$GW_PID"
expect_in "a path that cannot be opened refuses the reload, by line" "$EL" \
    "error: SIGHUP: $W/cgigate.conf:6: error_log: $W/no-such-dir/e.log: No such file or directory; keeping the running configuration"
conf "error_log = $W/logs/other.log" "log_level = info"
kill -HUP "$GW_PID"
expect_in "a new path: the old file says where the log goes" "$EL" \
    "SIGHUP: the log goes to $W/logs/other.log from now on"
expect_in "the new file has the rest" "$W/logs/other.log" \
    "SIGHUP: configuration reloaded"
expect_in "the level goes back to info" "$W/logs/other.log" \
    "SIGHUP: log_level debug -> info"
expect_eq "the old file has none of that" 0 \
    "$(grep -c 'log_level debug -> info' "$EL")"
conf "error_log = stderr"
kill -HUP "$GW_PID"
expect_in "error_log = stderr: back on stderr" "$GW_LOG" \
    "SIGHUP: configuration reloaded"
http_code "$URL/bad?third" >/dev/null
expect_in "handlers' stderr too" "$GW_LOG" "broken-handler-says third"
expect_eq "and not in the file" 0 \
    "$(grep -c 'broken-handler-says third' "$W/logs/other.log")"
stop_gateway
expect_eq "the gateway stopped cleanly" 0 "$GW_RC"

# 5. log_level = error from the start: no start-up line, no warning, an
# error still.
rm -f "$W"/logs/*
conf "error_log = $EL" "log_level = error"
start_conf
http_code "$URL/bad?quiet" >/dev/null
kill -USR2 "$GW_PID"
sleep 0.5	# a notice, were it written, would be there by now
conf "error_log = $W/no-such-dir/e.log" "log_level = error"
kill -HUP "$GW_PID"
expect_in "log_level = error: an error is written" "$EL" \
    "error: SIGHUP: $W/cgigate.conf:6: error_log:"
expect_eq "and nothing else" 1 "$(wc -l <"$EL" | tr -d ' ')"
expect_absent "no start-up line" "started" "$(cat "$EL")"
expect_absent "no handler stderr (a warning)" "broken-handler-says" \
    "$(cat "$EL")"
expect_eq "nothing on stderr" "" "$(cat "$GW_LOG")"
# --log-level overrides the file, at every load.
stop_gateway
rm -f "$EL"
conf "error_log = $EL" "log_level = error"
start_conf --log-level notice
expect_in "--log-level notice over the file's error" "$EL" \
    "notice: cgigate"
stop_gateway

# 6. At start, a path that cannot be opened: exit 1, said on stderr with
# file:line; --check says it the same way.
conf "error_log = $W/no-such-dir/e.log"
"$GATEWAY" $ROOTOK --config "$W/cgigate.conf" >"$W/start.out" 2>&1
expect_eq "start-up refuses an error_log it cannot open" 1 "$?"
expect_contains "with file:line and the reason" \
    "cgigate.conf:6: error_log: $W/no-such-dir/e.log: No such file or directory" \
    "$(cat "$W/start.out")"
"$GATEWAY" --check $ROOTOK --config "$W/cgigate.conf" >"$W/check.out" 2>&1
expect_eq "--check fails" 1 "$?"
expect_contains "--check names the line" \
    "cgigate.conf:6: error_log: $W/no-such-dir/e.log: cannot create it" \
    "$(cat "$W/check.out")"
# A later start-up error: in the file, and on stderr while starting.
rm -f "$EL"
conf "error_log = $EL" "access_log = $W/no-such-dir/a.log"
"$GATEWAY" $ROOTOK --config "$W/cgigate.conf" >"$W/start.out" 2>&1
expect_eq "an access_log it cannot open: exit 1" 1 "$?"
expect_contains "said in the file, as an error" \
    "error: $W/cgigate.conf:7: access_log: $W/no-such-dir/a.log: No such file" \
    "$(cat "$EL" 2>/dev/null)"
expect_contains "and on stderr" \
    "error: $W/cgigate.conf:7: access_log: $W/no-such-dir/a.log: No such file" \
    "$(cat "$W/start.out")"
conf "error_log = $W/logs"
"$GATEWAY" --check $ROOTOK --config "$W/cgigate.conf" >"$W/check.out" 2>&1
expect_contains "--check: a directory is no log file" \
    "cgigate.conf:6: error_log: $W/logs: Is a directory" "$(cat "$W/check.out")"
conf "log_level = loud"
"$GATEWAY" --check $ROOTOK --config "$W/cgigate.conf" >"$W/check.out" 2>&1
expect_contains "--check: a level that is none" \
    "cgigate.conf:6: log_level wants error, warn, notice, info or debug" \
    "$(cat "$W/check.out")"
"$GATEWAY" --log-level loud >"$W/opt.out" 2>&1
expect_eq "--log-level loud: a bad command line" 2 "$?"
rm -rf "$W/logs"/*
conf "error_log = $W/logs/fine.log"
"$GATEWAY" --check $ROOTOK --config "$W/cgigate.conf" >"$W/check.out" 2>&1
expect_contains "--check: a path it can create is fine" \
    "configuration ok" "$(cat "$W/check.out")"
expect_eq "--check creates no file" "" "$(ls "$W/logs")"

# 7. Started as root with user = nobody: the file is nobody's, and the
# reopen after the switch makes the new one as nobody.
if [ "$(id -u)" -ne 0 ]; then
	skip_section "user = nobody: needs root"
elif ! nobody=$(id -u nobody 2>/dev/null); then
	skip_section "user = nobody: no user nobody"
else
	chmod 755 "$W"
	mkdir -p "$W/plogs"
	chown nobody "$W/plogs"
	PL="$W/plogs/error.log"
	{ printf '[server]\nhandlers = %s\nwww = %s/www\n' "$H" "$W"
	    printf 'timings = %s/priv.db\nlisten = 127.0.0.1:%s\n' "$W" "$PORT"
	    printf 'user = nobody\nerror_log = %s\n' "$PL"; } >"$W/cgigate.conf"
	start_conf
	expect_in "as nobody: the start is logged" "$PL" "started (handlers"
	expect_eq "the file was given to nobody" "$nobody" "$(stat -c %u "$PL")"
	mv "$PL" "$PL.1"
	kill -USR1 "$GW_PID"
	expect_in "after the switch, SIGUSR1 makes a new file" "$PL" \
	    "SIGUSR1: error log reopened"
	expect_eq "made by nobody" "$nobody" "$(stat -c %u "$PL" 2>/dev/null)"
	expect_eq "mode 640" 640 "$(stat -c %a "$PL" 2>/dev/null)"
	http_code "$URL/bad?priv" >/dev/null
	expect_in "the next lines go there" "$PL" "broken-handler-says priv"
	expect_absent "nothing refused" "Permission denied" \
	    "$(cat "$PL" "$PL.1" "$GW_LOG")"
	stop_gateway
	expect_eq "and stops cleanly" 0 "$GW_RC"
fi

finish
