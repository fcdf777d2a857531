#!/bin/sh
# proxyproto.sh: proxy_protocol = yes (cgigate.conf(5)).  A connection from
# one of trusted_proxies starts with a PROXY protocol header, version 1 or
# 2, and the client it names is the connection's for handlers, admin_allow,
# max_client_connections and the access log; without one, or with a bad
# one, it gets 400.  From anyone else a PROXY header is no header, just a
# bad request.  Then Debian's HAProxy (send-proxy and send-proxy-v2, its
# health checks included) in front of cgigate.
. "$(dirname "$0")/gw.sh"

cp "$TS/handlers/env.cgi" "$H/env.cgi"
chmod 755 "$H/env.cgi"
mkdir -p "$W/www"
conf() {	# extra lines
	{ server_conf; echo "trusted_proxies = 127.0.0.1"
	  echo "proxy_protocol = yes"; echo "access_log = $W/access.log"
	  printf '%s\n' "$@"; } >"$W/cgigate.conf"
}
conf
start_gateway --config "$W/cgigate.conf"
PORT=${URL##*:}
RAW="$TB/tests/fixtures/rawhttp"
GET='GET /env HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
# Send what printf makes of each argument, in turn; the answer's body.
raw() {
	_i=0
	_f="$W/raw.$(date +%s%N)"
	_steps=
	for a in "$@"; do
		_i=$((_i + 1))
		case $a in
		+*)	_steps="$_steps $a" ;;
		*)	printf "$a" >"$_f.$_i"; _steps="$_steps @$_f.$_i" ;;
		esac
	done
	"$RAW" -i 3000 "$PORT" $_steps 2>&1
}
var() { sed -n "s/^$1=//p" | tr -d '\r'; }	# name

V1='PROXY TCP4 198.51.100.7 127.0.0.1 40123 80\r\n'
expect_eq "version 1: REMOTE_ADDR is the client it names" 198.51.100.7 \
    "$(raw "$V1$GET" | var REMOTE_ADDR)"
expect_eq "version 1: and REMOTE_PORT" 40123 \
    "$(raw "$V1$GET" | var REMOTE_PORT)"
expect_eq "version 1 over TCP6" 2001:db8::7 \
    "$(raw 'PROXY TCP6 2001:db8:0::7 ::1 9 80\r\n' "$GET" | var REMOTE_ADDR)"
expect_eq "a header that comes in pieces" 198.51.100.7 \
    "$(raw 'PROX' +200 'Y TCP4 198.51.100.7 127.0.0.1 ' +200 \
    '40123 80\r' +200 '\n' "$GET" | var REMOTE_ADDR)"

SIG='\r\n\r\n\0\r\nQUIT\n'
# IPv4 203.0.113.9:4660 -> 127.0.0.1:80, then a TLV (type 4, "x").
V2="$SIG\041\021\000\020\313\000\161\011\177\000\000\001\022\064\000\120\004\000\001x"
expect_eq "version 2 over IPv4, a TLV skipped" 203.0.113.9 \
    "$(raw "$V2$GET" | var REMOTE_ADDR)"
expect_eq "version 2: and REMOTE_PORT" 4660 "$(raw "$V2$GET" | var REMOTE_PORT)"
V2S="$SIG\041\041\000\044\040\001\015\270\0\0\0\0\0\0\0\0\0\0\0\011"
V2S="$V2S\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\001\000\011\000\120"
expect_eq "version 2 over IPv6" 2001:db8::9 "$(raw "$V2S$GET" | var REMOTE_ADDR)"
V2L="$SIG\040\000\000\000"
expect_eq "version 2 LOCAL (a health check): the proxy's own address" \
    127.0.0.1 "$(raw "$V2L$GET" | var REMOTE_ADDR)"

KA='GET /env HTTP/1.1\r\nHost: x\r\n\r\n'
expect_eq "one header, two requests on the connection: both the client's" \
    "198.51.100.7 198.51.100.7" \
    "$(raw "$V1$KA$GET" | var REMOTE_ADDR | tr '\n' ' ' | sed 's/ $//')"

expect_eq "admin_allow judges the named client: refused" 403 \
    "$(raw "${V1}GET /_gateway/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" |
    sed -n '1s/^HTTP\/1.1 \([0-9]*\).*/\1/p')"
expect_eq "and the proxy's LOCAL connection is the proxy's: allowed" 200 \
    "$(raw "${V2L}GET /_gateway/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" |
    sed -n '1s/^HTTP\/1.1 \([0-9]*\).*/\1/p')"
retry 30 grep -q '^198.51.100.7 .*"GET /env' "$W/access.log"
expect_contains "the access log has the named client" '198.51.100.7 - - [' \
    "$(grep 'GET /env' "$W/access.log" | head -n 1)"

CLIENTS="select group_concat(a, ' ') from (select distinct client_addr as a
    from requests where path = '/env' and client_addr <> '127.0.0.1'
    order by 1)"
wait_sql "198.51.100.7 2001:db8::7 2001:db8::9 203.0.113.9" "$CLIENTS"
expect_eq "the timings rows have the named clients" \
    "198.51.100.7 2001:db8::7 2001:db8::9 203.0.113.9" "$(sql "$CLIENTS")"

status() { raw "$@" | sed -n '1s/^HTTP\/1.1 \([0-9]*\).*/\1/p'; }
expect_eq "a trusted proxy without a header: 400" 400 "$(status "$GET")"
expect_log "and a log line that says why" "no PROXY protocol header"
expect_eq "a bad version 1 address: 400" 400 \
    "$(status 'PROXY TCP4 198.51.100 127.0.0.1 1 2\r\n' "$GET")"
expect_log "named in the log" "PROXY v1: bad address"
expect_eq "a line without its end, 107 bytes on: 400" 400 \
    "$(status "PROXY UNKNOWN $(printf '%0100d' 0)")"
expect_eq "a version 2 header of another version: 400" 400 \
    "$(status "$SIG\061\021\000\000$GET")"
expect_eq "a version 2 header longer than 4096 bytes: 400, not a wait" 400 \
    "$(status "$SIG\041\021\020\001")"
out=$(raw 'PROXY TCP4 198.51.100.7 127.0.0.1 1 2\r\n' '!')
expect_absent "a header, then the client closes: no answer to a request it never sent" \
    "HTTP/1.1" "$out"

# From an address that is not a trusted proxy, the connection is plain
# HTTP: a PROXY header there is a bad request line, and believed never.
expect_eq "plain HTTP from an untrusted peer" 127.0.0.2 \
    "$(curl -s --interface 127.0.0.2 "$URL/env" | var REMOTE_ADDR)"
expect_eq "a PROXY header from an untrusted peer: 400" 400 \
    "$(http_code --interface 127.0.0.2 --haproxy-protocol "$URL/env")"
stop_gateway

# max_client_connections counts the clients the headers name.
conf "max_client_connections = 1"
start_gateway --config "$W/cgigate.conf"
PORT=${URL##*:}
raw "$V1" 'GET /env HTTP/1.1\r\n' +8000 >/dev/null &
HOLD=$!
track "$HOLD"
# Once the held connection's header is read, the same client is over.
retry 30 eval '[ "$(status "$V1$GET")" = 503 ]'
expect_eq "a second connection of the same client: 503" 503 \
    "$(status "$V1$GET")"
expect_eq "another client through the same proxy: 200" 200 \
    "$(status 'PROXY TCP4 198.51.100.8 127.0.0.1 1 80\r\n' "$GET")"
stop_gateway
kill "$HOLD" 2>/dev/null

# Debian's HAProxy in front, sending version 1 and version 2 headers on
# its requests and its health checks; curl comes from 127.0.0.5.
if ! command -v haproxy >/dev/null; then
	skip_section "haproxy is not installed (sh bootstrap.sh --deps test)"
	finish
fi
conf
start_gateway --config "$W/cgigate.conf"
P1=$(free_port)
P2=$(free_port)
while [ "$P2" = "$P1" ]; do P2=$(free_port); done
cat >"$W/haproxy.cfg" <<EOF
global
	maxconn 64
defaults
	mode http
	timeout connect 2s
	timeout client 10s
	timeout server 10s
frontend v1
	bind 127.0.0.1:$P1
	default_backend gw1
frontend v2
	bind 127.0.0.1:$P2
	default_backend gw2
backend gw1
	option httpchk GET /_gateway/health
	server gw 127.0.0.1:${URL##*:} send-proxy check inter 200ms
backend gw2
	option httpchk GET /_gateway/health
	server gw 127.0.0.1:${URL##*:} send-proxy-v2 check inter 200ms
EOF
haproxy -f "$W/haproxy.cfg" -db >"$W/haproxy.log" 2>&1 &
track $!
wait_port "$P1" && wait_port "$P2"
# Up once its first check passed (a server starts up in HAProxy 2.6).
hp() { curl -s --interface 127.0.0.5 "http://127.0.0.1:$1/env" | var REMOTE_ADDR; }
retry 50 sh -c "[ \"\$(curl -s --interface 127.0.0.5 http://127.0.0.1:$P1/env |
    sed -n 's/^REMOTE_ADDR=//p')\" = 127.0.0.5 ]"
expect_eq "HAProxy send-proxy: the client's address" 127.0.0.5 "$(hp "$P1")"
expect_eq "HAProxy send-proxy-v2: the client's address" 127.0.0.5 "$(hp "$P2")"
sleep 1
expect_absent "HAProxy's health checks are answered, not refused" \
    "PROXY protocol" "$(cat "$GW_LOG")"
expect_eq "its checks reached the health endpoint" yes \
    "$(grep -q '"GET /_gateway/health' "$W/access.log" && echo yes)"
finish
