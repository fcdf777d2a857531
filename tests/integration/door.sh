#!/bin/sh
# door.sh: the front door's deadlines and limits, with small numbers.
#
# Run 1 (short deadlines): a head that never ends gets 408 after
# header_timeout, a connection that sends nothing is closed, a kept-alive
# connection is closed after keepalive_timeout, a body that stops gets 408
# after body_timeout (buffered: no handler ever runs; streamed: the
# handler is ended), and request_buffering decides whether a slow upload
# holds its route's only slot.  Run 2 (limits): max_client_connections
# per address and max_connections in all, each answered 503 with
# Retry-After at once; civetweb's internal port refuses what the door did
# not send.  Every expiry and refusal leaves a log line and a row.
. "$(dirname "$0")/gw.sh"

RAW="$TB/tests/fixtures/rawhttp"
[ -x "$RAW" ] || skip "rawhttp not built ($RAW)"
command -v perl >/dev/null || skip "no perl"

cp "$TS/handlers/hello.cgi" "$H/"
# Marks that it ran, then reads its whole body and says how long it was.
cat >"$H/stream.cgi" <<'EOF'
#!/bin/sh
: >"$MARK"
n=$(wc -c | tr -d ' ')
printf 'Content-Type: text/plain\n\nbytes=%s\n' "$n"
EOF
cp "$H/stream.cgi" "$H/spooled.cgi"
chmod 755 "$H"/*.cgi
mkdir -p "$W/www"
{
	server_conf
	cat <<EOF
header_timeout = 1s
keepalive_timeout = 1s
body_timeout = 2s
[route /stream]
request_buffering = no
max_concurrency = 1
max_queue_wait = 200ms
env = MARK=$W/ran.stream
[route /spooled]
max_concurrency = 1
max_queue_wait = 200ms
env = MARK=$W/ran.spooled
EOF
} >"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"
PORT=${URL##*:}

# --- deadlines ---------------------------------------------------------
printf 'GET /hello HTTP/1.1\r\nHost: x\r\n' >"$W/half.req"
t0=$(now_ms)
"$RAW" -i 6000 "$PORT" "@$W/half.req" >"$W/half.out" 2>&1
t=$(($(now_ms) - t0))
expect_eq "a head that never ends: 408" "HTTP/1.1 408" \
    "$(head -n 1 "$W/half.out" | cut -d' ' -f1,2)"
expect_contains "and the connection closes" "<EOF>" "$(cat "$W/half.out")"
[ "$t" -ge 900 ] && [ "$t" -lt 5000 ] &&
    ok "after header_timeout, not before ($t ms)" ||
    not_ok "after header_timeout, not before ($t ms)"
expect_log "the head timeout is logged" "-> 408: request head not whole"

"$RAW" -i 6000 "$PORT" "+10" >"$W/silent.out" 2>&1
expect_contains "a connection that sends nothing is closed" "<EOF>" \
    "$(cat "$W/silent.out")"
expect_absent "without a word" "HTTP/" "$(cat "$W/silent.out")"

printf 'GET /hello HTTP/1.1\r\nHost: x\r\n\r\n' >"$W/ka.req"
t0=$(now_ms)
"$RAW" -i 6000 "$PORT" "@$W/ka.req" >"$W/ka.out" 2>&1
t=$(($(now_ms) - t0))
expect_eq "a kept-alive connection is answered" "HTTP/1.1 200" \
    "$(head -n 1 "$W/ka.out" | cut -d' ' -f1,2)"
expect_contains "then closed after keepalive_timeout" "<EOF>" \
    "$(cat "$W/ka.out")"
[ "$t" -ge 900 ] && [ "$t" -lt 5000 ] &&
    ok "the idle close comes after keepalive_timeout ($t ms)" ||
    not_ok "the idle close comes after keepalive_timeout ($t ms)"

# A body that stops: buffered, the door answers and nothing runs;
# streamed, the handler runs, is ended, and the client still gets 408.
for r in spooled stream; do
	rm -f "$W/ran.$r"
	printf 'POST /%s HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello' \
	    "$r" >"$W/stop.req"
	"$RAW" -i 8000 "$PORT" "@$W/stop.req" >"$W/stop.$r" 2>&1
	expect_eq "$r: a body that stops gets 408" "HTTP/1.1 408" \
	    "$(head -n 1 "$W/stop.$r" | cut -d' ' -f1,2)"
done
[ ! -e "$W/ran.spooled" ] && ok "buffered: the handler never ran" ||
    not_ok "buffered: the handler never ran"
[ -e "$W/ran.stream" ] && ok "streamed: the handler had started" ||
    not_ok "streamed: the handler had started"
wait_sql 1 "select count(*) from requests where route = '/stream' and
    status = 408 and pid is not null"
expect_eq "streamed: its row has the 408 and the handler's pid" 1 \
    "$(sql "select count(*) from requests where route = '/stream' and
    status = 408 and pid is not null and
    error = 'request body stalled past body_timeout'")"
expect_eq "buffered: the door's row" 1 \
    "$(sql "select count(*) from requests where route = '/spooled' and
    status = 408 and mode = 'http' and pid is null")"

# request_buffering: a slow upload (10 bytes over 1.2 s) to a route with
# one slot.  Buffered, the slot stays free and the handler starts only
# once the body is whole; streamed, the handler runs at once and holds
# the slot, so another request finds none (503).
for r in spooled stream; do
	rm -f "$W/ran.$r"
	printf 'POST /%s HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello' \
	    "$r" >"$W/slow1.req"
	printf 'world' >"$W/slow2.req"
	"$RAW" -i 4000 "$PORT" "@$W/slow1.req" "+1200" "@$W/slow2.req" \
	    >"$W/slow.$r" 2>&1 &
	slow=$!
	track "$slow"
	sleep 0.5
	[ -e "$W/ran.$r" ] && echo yes >"$W/early.$r" || echo no >"$W/early.$r"
	http_code -m 5 "$URL/$r" >"$W/other.$r"
	wait "$slow"
	expect_contains "$r: the slow upload arrives whole" "bytes=10" \
	    "$(cat "$W/slow.$r")"
done
expect_eq "buffered: no handler while the body comes" no \
    "$(cat "$W/early.spooled")"
expect_eq "buffered: the route's one slot stays free meanwhile" 200 \
    "$(cat "$W/other.spooled")"
expect_eq "streamed: the handler starts with the head" yes \
    "$(cat "$W/early.stream")"
expect_eq "streamed: the slot is held meanwhile" 503 \
    "$(cat "$W/other.stream")"

expect_eq "each deadline leaves a row" "1|1|1" \
    "$(sql "select (select count(*) > 0 from requests where status = 408 and
    error like 'request head not whole%'), (select count(*) > 0 from
    requests where error like 'no request within header_timeout%'),
    (select count(*) > 0 from requests where
    error like 'keep-alive idle past keepalive_timeout%')")"
m=$(curl -s "$URL/_gateway/metrics")
expect_contains "the metrics count the header timeouts" \
    'cgigate_timeouts_total{kind="header"} 2' "$m"
expect_contains "and the kept-alive ones" \
    'cgigate_timeouts_total{kind="keepalive"} 1' "$m"
stop_gateway

# --- limits ------------------------------------------------------------
{
	server_conf
	printf 'max_client_connections = 3\nmax_connections = 16\n'
} >"$W/limits.conf"
start_gateway --config "$W/limits.conf"
PORT=${URL##*:}

# hold N FROM-ADDRESS: N connections that sent half a head, held until
# the file $W/release appears; "ready" once they are open.
hold() {
	rm -f "$W/release" "$W/held"
	perl -MIO::Socket::INET -e '
		my ($n, $from, $port, $dir) = @ARGV;
		my @s;
		for (1 .. $n) {
			my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1",
			    PeerPort => $port, LocalAddr => $from)
			    or die "connect: $!";
			print $s "GET /hello HTTP/1.1\r\n";
			push @s, $s;
		}
		open(F, ">", "$dir/held") and close(F);
		select(undef, undef, undef, 0.05) until -e "$dir/release";
	' "$1" "$2" "$PORT" "$W" &
	holder=$!
	track "$holder"
	wait_file "$W/held" 100
	sleep 0.2	# the door has accepted them
}
release() { : >"$W/release"; wait "$holder"; }
first_line() { head -n 1 "$1" | cut -d' ' -f1,2; }
retry_after() { grep -ci '^Retry-After: 1' "$1"; }

hold 3 127.0.0.2
curl -s -i -m 2 --interface 127.0.0.2 "$URL/hello" >"$W/fourth" 2>&1
expect_eq "a fourth connection from one address: 503" "HTTP/1.1 503" \
    "$(first_line "$W/fourth")"
expect_eq "with Retry-After" 1 "$(retry_after "$W/fourth")"
expect_eq "another address is still served" 200 "$(http_code -m 5 "$URL/hello")"
release
expect_eq "once they close, that address is served again" 200 \
    "$(http_code -m 5 --interface 127.0.0.2 "$URL/hello")"
expect_log "the refusal is logged" \
    "-> 503: max_client_connections reached for this address"

# 16 in all, from 6 addresses within the per-address limit.
for a in 10 11 12 13 14; do hold 3 "127.0.0.$a"; eval "h$a=\$holder"; done
rm -f "$W/release"
hold 1 127.0.0.15
t0=$(now_ms)
curl -s -i -m 5 "$URL/hello" >"$W/full" 2>&1
t=$(($(now_ms) - t0))
expect_eq "the 17th connection: 503" "HTTP/1.1 503" "$(first_line "$W/full")"
expect_eq "with Retry-After" 1 "$(retry_after "$W/full")"
[ "$t" -lt 2000 ] && ok "at once, not after a wait ($t ms)" ||
    not_ok "at once, not after a wait ($t ms)"
: >"$W/release"
for a in 10 11 12 13 14; do eval "wait \$h$a"; done
wait "$holder"
expect_eq "served again once they close" 200 "$(http_code -m 5 "$URL/hello")"
m=$(curl -s "$URL/_gateway/metrics")
expect_contains "the metrics count both refusals" \
    'cgigate_connections_refused_total{limit="max_connections"} 1' "$m"
expect_contains "(per address)" \
    'cgigate_connections_refused_total{limit="max_client_connections"} 1' "$m"
wait_sql 2 "select count(*) from requests where status = 503 and mode = 'http'"
expect_eq "each refusal has a row" 2 \
    "$(sql "select count(*) from requests where status = 503 and
    mode = 'http'")"

# SIGHUP: the limits follow the file.
{
	server_conf
	printf 'max_client_connections = 1\nmax_connections = 16\n'
} >"$W/limits.conf"
kill -HUP "$GW_PID"
expect_log "the reload is logged" "SIGHUP: configuration reloaded"
hold 1 127.0.0.30
curl -s -i -m 2 --interface 127.0.0.30 "$URL/hello" >"$W/second" 2>&1
expect_eq "reloaded: a second connection from one address gets 503" \
    "HTTP/1.1 503" "$(first_line "$W/second")"
release
{
	server_conf
	printf 'max_client_connections = 3\nmax_connections = 16\n'
} >"$W/limits.conf"
kill -HUP "$GW_PID"
retry 50 sh -c "[ \$(cat '$W'/gateway.*.log | grep -c 'configuration reloaded') -ge 2 ]"

# civetweb's own port answers nobody but the door.
inner=$(ss -ltnpH 2>/dev/null | grep "pid=$GW_PID," |
    sed -n 's/.*127\.0\.0\.1:\([0-9]*\) .*/\1/p' | grep -v "^$PORT\$" |
    head -n 1)
if [ -n "$inner" ]; then
	expect_eq "the internal port refuses a client of its own" 403 \
	    "$(http_code -m 5 "http://127.0.0.1:$inner/hello")"
	expect_log "and says so" "not made by cgigate"
else
	not_ok "the internal port is found (ss)"
fi

# Out of descriptors: a new client still gets 503 at once (cgigate gives
# up a descriptor it keeps in reserve to take and answer it) rather than
# waiting in the kernel's queue, and cgigate recovers once some close.
n=$(ls "/proc/$GW_PID/fd" | wc -l)
if command -v prlimit >/dev/null &&
    prlimit --pid "$GW_PID" --nofile=$((n + 4)):$((n + 4)); then
	for a in 21 22 23; do
		hold 3 "127.0.0.$a"
		eval "h$a=\$holder"
		rm -f "$W/release"
	done
	curl -s -i -m 5 "$URL/hello" >"$W/nofd" 2>&1
	expect_eq "out of descriptors: 503" "HTTP/1.1 503" \
	    "$(first_line "$W/nofd")"
	expect_log "and it says so" "out of file descriptors"
	: >"$W/release"
	for a in 21 22 23; do eval "wait \$h$a"; done
	# (a handler's spawn needs more descriptors than this limit leaves)
	retry 50 sh -c "[ \"\$(curl -s -m 2 -o /dev/null -w '%{http_code}' \
	    '$URL/_gateway/health')\" = 200 ]"
	expect_eq "served again once they close" 200 \
	    "$(http_code -m 5 "$URL/_gateway/health")"
else
	not_ok "prlimit lowers cgigate's descriptor limit"
fi
stop_gateway
expect_eq "and stops cleanly" 0 "$GW_RC"
finish
