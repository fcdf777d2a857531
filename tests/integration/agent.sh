#!/bin/sh
# agent.sh: agent_listen (cgigate.conf(5)) answers HAProxy's agent check
# with "up ready N%", N the free share of the node, and "drain" from the
# first stop signal to the exit; /_gateway/status and /metrics show the
# same figures.  A raw client reads the answers; then, when it is
# installed, Debian's HAProxy weighs the server by them, drains it, and
# takes it back once a new cgigate answers.
. "$(dirname "$0")/gw.sh"

mkdir -p "$W/www"
REL="$W/release"
cat >"$H/hello.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\nhello\n'
EOF
# Held until $REL exists (30 s at most).
cat >"$H/slow.cgi" <<EOF
#!/bin/sh
i=0
while [ ! -e "$REL" ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
printf 'Content-Type: text/plain\n\nslow done\n'
EOF
chmod 755 "$H"/*.cgi

AP=$(free_port)
GP=$(free_port)
while [ "$GP" = "$AP" ]; do GP=$(free_port); done
conf() {	# agent port, then extra lines
	_p=$1
	shift
	{ server_conf; echo "agent_listen = 127.0.0.1:$_p"
	  echo "drain_grace = 4s"
	  printf '%s\n' "$@"
	  printf '[route /hello]\nmax_concurrency = 2\n'
	  printf '[route /slow]\nmax_concurrency = 4\nmax_queue_wait = 60s\n'
	} >"$W/cgigate.conf"
}

RAW="$TB/tests/fixtures/rawhttp"
# What the agent answers: connect to PORT (tests/fixtures/rawhttp), send
# TEXT if any, read to the end; each newline shown as <LF>, "refused" when
# nothing listens, "unparsed" when the agent did not close.
agent() {	# [port [text]]
	_s=
	if [ -n "${2-}" ]; then
		printf "$2" >"$W/agent.send"
		_s="@$W/agent.send"
	fi
	"$RAW" -i 3000 "${1:-$AP}" $_s >"$W/agent.out" 2>&1 ||
	    { echo refused; return; }
	perl -0777 -ne 'print /\A(.*)\n<EOF>\n\z/s ? $1 =~ s/\n/<LF>/gr :
	    "unparsed"' "$W/agent.out"
}
agent_is() { [ "$(agent)" = "$1" ]; }	# want
status() { curl -s -m 5 "$URL/_gateway/status"; }
field() { status | sed -n "s/^{.*\"$1\":\([a-z0-9]*\).*/\1/p"; }	# name

# Bad configuration: file:line: reason, for --check and at start.
conf "$GP" "listen = 127.0.0.1:$GP"
out=$("$GATEWAY" --config "$W/cgigate.conf" $ROOTOK --check 2>&1)
expect_eq "--check refuses an agent port that listen has" 1 "$?"
expect_contains "naming file:line: agent_listen: why" \
    "$W/cgigate.conf:5: agent_listen: port $GP is a listen port too" "$out"
out=$("$GATEWAY" --config "$W/cgigate.conf" $ROOTOK 2>&1)
expect_eq "start-up refuses it too" 1 "$?"
expect_contains "with the same message" \
    "$W/cgigate.conf:5: agent_listen: port $GP is a listen port too" "$out"
conf "$GP"
out=$("$GATEWAY" --config "$W/cgigate.conf" --listen "127.0.0.1:$GP" \
    $ROOTOK --check 2>&1)
expect_contains "a --listen of that port, by the file's line" \
    "$W/cgigate.conf:5: agent_listen: port $GP is a listen port too" "$out"
for v in 127.0.0.1:0 127.0.0.1 localhost:81 '::1:81' 127.0.0.1:70000; do
	{ server_conf; echo "agent_listen = $v"; } >"$W/bad.conf"
	out=$("$GATEWAY" --config "$W/bad.conf" $ROOTOK --check 2>&1)
	expect_eq "--check refuses agent_listen = $v" 1 "$?"
	expect_contains "with file:line and why ($v)" \
	    "$W/bad.conf:5: agent_listen wants ADDR:PORT" "$out"
done
{ server_conf; echo "agent_listen = 192.0.2.1:$AP"; } >"$W/bad.conf"
out=$("$GATEWAY" --config "$W/bad.conf" $ROOTOK --check 2>&1)
expect_eq "--check binds it: an address not of this machine" 1 "$?"
expect_contains "is said so" \
    "$W/bad.conf:5: agent_listen: 192.0.2.1:$AP: cannot bind: " "$out"

conf "$AP"
start_gateway --config "$W/cgigate.conf" --listen "127.0.0.1:$GP"
expect_log "the log says where the agent is answered" \
    "agent check answered on 127.0.0.1:$AP"
expect_eq "idle: up, ready, all of it free" 'up ready 100%<LF>' "$(agent)"
expect_eq "what the check sends first (agent-send) is read and dropped" \
    'up ready 100%<LF>' "$(agent "$AP" 'backend/gw\n')"
expect_contains "a thread named cg-agent" "cg-agent" \
    "$(cat /proc/"$GW_PID"/task/*/comm)"

# The status figures: 2 + 4 slots of the two routes.
expect_eq "status: capacity, the routes' slots" 6 "$(field capacity)"
expect_eq "status: max_connections" 16384 "$(field max_connections)"
expect_eq "status: in_flight" 0 "$(field in_flight)"
expect_eq "status: healthy" true "$(field healthy)"
expect_ge "status: connections (this one)" 1 "$(field connections)"
m=$(curl -s "$URL/_gateway/metrics")
expect_contains "metrics: cgigate_request_capacity" \
    "cgigate_request_capacity 6" "$m"
expect_contains "metrics: cgigate_max_connections" \
    "cgigate_max_connections 16384" "$m"

# Requests in flight lower the share: 3 of 6, then 6 (2 of them queued).
for i in 1 2 3; do
	curl -s -o /dev/null "$URL/slow" &
	track $!
done
wait_route /slow 3 0
expect_eq "3 of 6 slots taken: 50%" 'up ready 50%<LF>' "$(agent)"
expect_eq "status: in_flight 3" 3 "$(field in_flight)"
for i in 1 2 3; do
	curl -s -o /dev/null "$URL/slow" &
	track $!
done
wait_route /slow 6 2
expect_eq "6 of 6, 2 of them queued: 1%, never 0% while up" \
    'up ready 1%<LF>' "$(agent)"
touch "$REL"
wait_route /slow 0 0
expect_eq "all answered: 100% again" 'up ready 100%<LF>' "$(agent)"
rm -f "$REL"

# A client that connects and never reads holds nothing up.
"$RAW" -i 100 "$AP" +10000 >/dev/null 2>&1 &
track $!
t0=$(now_ms)
for i in 1 2 3 4 5 6 7 8 9 10; do agent >/dev/null; done
t1=$(now_ms)
[ $((t1 - t0)) -lt 5000 ] && ok "ten answers beside an idle peer ($((t1 - t0)) ms)" ||
    not_ok "ten answers beside an idle peer ($((t1 - t0)) ms)"

# A reload that changes agent_listen takes a restart; the old port stays.
AP2=$(free_port)
sed -i "s/^agent_listen = .*/agent_listen = 127.0.0.1:$AP2/" "$W/cgigate.conf"
kill -HUP "$GW_PID"
expect_log "SIGHUP: a changed agent_listen takes a restart" \
    "SIGHUP: agent_listen changed (127.0.0.1:$AP -> 127.0.0.1:$AP2); that takes a restart"
expect_eq "the old port still answers" 'up ready 100%<LF>' "$(agent)"
expect_eq "the new one not yet" refused \
    "$(agent "$AP2")"
sed -i "s/^agent_listen = .*/agent_listen = 127.0.0.1:$AP/" "$W/cgigate.conf"

# A second cgigate cannot take the port: it says so and does not start.
{ server_conf; echo "agent_listen = 127.0.0.1:$AP"; } >"$W/busy.conf"
out=$("$GATEWAY" --config "$W/busy.conf" --listen 127.0.0.1:0 $ROOTOK 2>&1)
expect_eq "an agent port in use: no start" 1 "$?"
expect_contains "and why" "agent_listen 127.0.0.1:$AP: Address already in use" \
    "$out"

# Stopping: "drain" through drain_grace, and through the drain itself
# (a second signal ends the grace) until the exit.
curl -s -o /dev/null "$URL/slow" &
track $!
wait_route /slow 1 0
kill -TERM "$GW_PID"
retry 30 agent_is 'drain<LF>'
expect_eq "drain_grace: drain" 'drain<LF>' "$(agent)"
expect_eq "status: not healthy" false "$(field healthy)"
expect_eq "status: not draining yet" false "$(field draining)"
kill -TERM "$GW_PID"
expect_log "the second signal ends the grace" "drain_grace cut short"
retry 30 sh -c "! curl -s -m 1 -o /dev/null $URL/_gateway/health"
expect_eq "draining, the listeners closed: still drain" 'drain<LF>' "$(agent)"
touch "$REL"
wait "$GW_PID"
expect_eq "then the exit, status 0" 0 "$?"
GW_PID=
expect_eq "and the agent's port is closed" refused \
    "$(agent)"
rm -f "$REL"

# Debian's HAProxy, checking the agent every 500 ms: the weight follows
# the load, DRAIN while cgigate drains, READY again from a new cgigate.
if ! command -v haproxy >/dev/null; then
	skip_section "haproxy is not installed (sh bootstrap.sh --deps test)"
	finish
fi
start_gateway --config "$W/cgigate.conf" --listen "127.0.0.1:$GP"
FP=$(free_port)
while [ "$FP" = "$AP" ] || [ "$FP" = "$GP" ]; do FP=$(free_port); done
cat >"$W/haproxy.cfg" <<EOF
global
	maxconn 64
	stats socket $W/haproxy.sock level admin
defaults
	mode http
	timeout connect 2s
	timeout client 10s
	timeout server 10s
frontend fe
	bind 127.0.0.1:$FP
	default_backend gw
backend gw
	balance roundrobin
	option httpchk GET /_gateway/health
	server gw 127.0.0.1:$GP weight 100 check inter 500ms agent-check agent-port $AP agent-inter 200ms
EOF
haproxy -f "$W/haproxy.cfg" -db >"$W/haproxy.log" 2>&1 &
track $!
wait_port "$FP"
# The server's status and weight, from "show stat" on the stats socket.
hastat() {
	python3 - "$W/haproxy.sock" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
    s.sendall(b"show stat\n")
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except OSError as e:
    print("error: %s" % e.__class__.__name__)
    sys.exit()
lines = out.decode().splitlines()
head = lines[0].lstrip("# ").split(",")
for l in lines[1:]:
    f = dict(zip(head, l.split(",")))
    if f.get("pxname") == "gw" and f.get("svname") == "gw":
        print(f["status"], f["weight"])
EOF
}
# Its status and weight match a pattern (case), within 10 s.
hastat_is() { case $(hastat) in $1) return 0 ;; esac; return 1; }
wait_stat() {	# pattern
	retry 100 hastat_is "$1" && return
	echo "# HAProxy: $(hastat), not $1"
	return 1
}
wait_stat "UP 100"
expect_eq "HAProxy: the server up, full weight" "UP 100" "$(hastat)"
expect_eq "and through it, cgigate answers" hello \
    "$(curl -s "http://127.0.0.1:$FP/hello")"
for i in 1 2 3; do
	curl -s -o /dev/null "$URL/slow" &
	track $!
done
wait_route /slow 3 0
wait_stat "UP 50"
expect_eq "HAProxy: 3 of 6 slots taken, half the weight" "UP 50" "$(hastat)"
touch "$REL"
wait_route /slow 0 0
rm -f "$REL"
wait_stat "UP 100"
expect_eq "HAProxy: the weight back when they are answered" "UP 100" \
    "$(hastat)"
# Its health check fails too in drain_grace, and "DOWN" then hides
# "DRAIN" in show stat: HAProxy's log since the signal says which came
# first (a build with TSan starts so slowly that HAProxy may have had it
# down once before).  The agent is asked every 200 ms, the health check
# every 500 ms, down at its third failure: the drain comes a second
# first.
ha_log() { grep -q "$1" "$W/haproxy.log"; }
before=$(wc -l <"$W/haproxy.log")
kill -TERM "$GW_PID"
retry 40 ha_log "gw/gw enters drain state"
expect_contains "HAProxy: the server drains, by the agent" \
    "gw/gw enters drain state" "$(cat "$W/haproxy.log")"
expect_absent "before its health check failed" "gw/gw is DOWN" \
    "$(tail -n +$((before + 1)) "$W/haproxy.log" |
    sed -n '1,/gw\/gw enters drain state/p')"
kill -TERM "$GW_PID"
wait "$GW_PID"
GW_PID=
start_gateway --config "$W/cgigate.conf" --listen "127.0.0.1:$GP"
wait_stat "UP 100"
expect_eq "HAProxy: a new cgigate is READY and UP again" "UP 100" \
    "$(hastat)"
expect_contains "the agent's \"ready\" ended the drain" \
    "(leaving forced drain)" "$(cat "$W/haproxy.log")"
finish
