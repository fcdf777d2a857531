#!/bin/sh
# cluster.sh: cgigate-cluster(7) run for real.  Debian's HAProxy with the
# shipped examples/haproxy/haproxy.cfg in front of three cgigate nodes
# configured from examples/haproxy/cgigate-node.conf, each on a loopback
# address of its own (127.0.0.2 to .4: Linux routes all of 127/8 to lo),
# and two FastCGI backend hosts behind every node's /app route: php-fpm on
# 127.0.0.5 and a libfcgi program (handlers/hello-fcgi.fcgi, six copies
# accepting on one socket, tests/fixtures/fcgibind) on 127.0.0.6.
#
# Bounded load (tests/fixtures/hammer: 8 kept-alive connections, GET
# only unless said, a few seconds) through HAProxy while, in turn,
#   a) a node is killed with SIGKILL, then started again;
#   b) a node is stopped with SIGSTOP for 3 s;
#   c) every node is restarted gracefully in turn (drain_grace), with
#      POSTs in the load;
#   d) the php-fpm host is killed (master and children), then started;
#   e) the php-fpm host is stopped with SIGSTOP for 4 s;
#   f) 500 slowloris clients hold HAProxy's port (tests/bench/slowload);
# each prints its counts as "#" lines and checks that no request failed,
# how soon HAProxy (its stats socket) or the nodes (their events) took
# the failed part out, and that it came back.  Root only (HAProxy keeps
# the file's chroot and user); about a minute.  Every process it starts
# is forgotten once reaped (untrack): this test alone takes some 20,000
# process ids.
. "$(dirname "$0")/gw.sh"

[ "$(id -u)" -eq 0 ] || skip "not root: HAProxy runs with the shipped chroot and user"
command -v haproxy >/dev/null ||
    skip "haproxy is not installed (sh bootstrap.sh --deps test)"
HAMMER="$TB/tests/fixtures/hammer"
FCGIBIND="$TB/tests/fixtures/fcgibind"
SLOWLOAD="$TB/tests/bench/slowload"
HELLO_FCGI="$TB/handlers/hello-fcgi.fcgi"
for f in "$HAMMER" "$FCGIBIND" "$SLOWLOAD" "$HELLO_FCGI"; do
	[ -x "$f" ] || skip "$f not built (make check builds it)"
done
if [ -z "$FPM" ]; then
	not_ok "php-fpm is installed (bootstrap.sh)"
	finish
fi
EX="$TS/examples/haproxy"

# --- helpers ---------------------------------------------------------------
NODE_ADDRS="127.0.0.2 127.0.0.3 127.0.0.4"
FPM_ADDR=127.0.0.5
LIB_ADDR=127.0.0.6

# A port nobody listens on at any of the addresses.
port_free_on() {	# port addr...
	_p=$1
	shift
	for _a; do
		curl -s -m 1 -o /dev/null "http://$_a:$_p/" 2>/dev/null
		[ $? -eq 7 ] || return 1
	done
}
cluster_port() {	# addr...
	while :; do
		_p=$(free_port)
		case " $USED_PORTS " in *" $_p "*) continue ;; esac
		port_free_on "$_p" "$@" && break
	done
	USED_PORTS="$USED_PORTS $_p"
	echo "$_p"
}
USED_PORTS=

# Something accepts connections at addr:port (no byte is sent: a FastCGI
# server is not to be spoken HTTP to).
tcp_open() {	# addr port
	perl -MIO::Socket::INET -e 'exit !IO::Socket::INET->new(PeerAddr =>
	    $ARGV[0], PeerPort => $ARGV[1], Timeout => 1)' "$1" "$2"
}

# HAProxy's stats socket.  "wait SERVER STATUS MS T0": poll "show stat"
# every 20 ms until the server of backend cgigate has STATUS (UP, DOWN),
# for at most MS after T0 (epoch ms); print the ms from T0 to then, or
# "timeout".  "backend": the backend's retries and redispatches so far.
hastat() {
	perl -MIO::Socket::UNIX -MTime::HiRes=time,sleep -e '
	my ($sock, $mode, $srv, $want, $ms, $t0) = @ARGV;
	sub rows {
		my $s = IO::Socket::UNIX->new(Peer => $sock) or return {};
		print $s "show stat\n";
		my %r;
		while (<$s>) {
			chomp;
			next if /^#/ || $_ eq "";
			my @f = split /,/;
			$r{$f[1]} = \@f if $f[0] eq "cgigate";
		}
		return \%r;
	}
	if ($mode eq "backend") {
		my $b = rows()->{BACKEND} or exit 1;
		print "retries=$b->[15] redispatches=$b->[16]\n";
		exit 0;
	}
	while (time() * 1000 < $t0 + $ms) {
		my $f = rows()->{$srv};
		if ($f && $f->[17] eq $want) {
			printf "%d\n", time() * 1000 - $t0;
			exit 0;
		}
		sleep 0.02;
	}
	print "timeout\n";
	exit 1' "$W/haproxy.sock" "$@"
}

# HAProxy's retries and redispatches since the last call, as a "#" line.
HA_RETR=0 HA_REDIS=0
haretries() {	# scenario
	_b=$(hastat backend)
	_r=$(echo "$_b" | sed -n 's/^retries=\([0-9]*\).*/\1/p')
	_d=$(echo "$_b" | sed -n 's/.*redispatches=\([0-9]*\)$/\1/p')
	echo "# $1 HAProxy retried $((${_r:-0} - HA_RETR)) on the same node, $((${_d:-0} - HA_REDIS)) on another"
	HA_RETR=${_r:-0} HA_REDIS=${_d:-0}
}

# The value of KEY=N in hammer's first line.
hv() {	# file key
	sed -n '1p' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
# The count of a body line of hammer's, 0 when absent.
hbody() {	# file body
	_n=$(sed -n "s/^body $2=//p" "$1")
	echo "${_n:-0}"
}
# Hammer's counts and the failures it noted, as "#" lines.
hshow() {	# name
	sed "s/^/# $1: /" "$W/$1.out"
	sed "s/^/# $1: /" "$W/$1.err" | head -n 20
}

# Start hammer in the background through HAProxy: sets HPID.
hammer() {	# name hammer-options... paths...
	_n=$1
	shift
	"$HAMMER" "$@" >"$W/$_n.out" 2>"$W/$_n.err" &
	HPID=$!
	track "$HPID"
}
hammer_wait() { wait "$HPID"; untrack "$HPID"; }
# Wait for a process of ours, and forget it.
reap() { wait "$1" 2>/dev/null; _rc=$?; untrack "$1"; return $_rc; }

# --- the FastCGI hosts ------------------------------------------------------
FPM_PORT=$(cluster_port "$FPM_ADDR")
LIB_PORT=$(cluster_port "$LIB_ADDR")
NODE_PORT=$(cluster_port $NODE_ADDRS)
HA_PORT=$(cluster_port 127.0.0.1)
AGENT_PORT=$(cluster_port $NODE_ADDRS)

mkdir -p "$W/php" "$W/www"
cat >"$W/php/who.php" <<'EOF'
<?php
header("Content-Type: text/plain");
echo "php-fpm\n";
EOF

# php-fpm, six children (three nodes, max_connections = 2 each): sets
# FPM_PID.  Its children, for a kill or a stop, are found by their parent.
start_fpm_host() { start_fpm "$FPM_PORT" "$FPM_ADDR" 6; }
fpm_pids() { echo "$FPM_PID $(ps -o pid= --ppid "$FPM_PID" | tr '\n' ' ')"; }

start_lib_host() {
	rm -f "$W/lib.pids"
	"$FCGIBIND" "$LIB_ADDR:$LIB_PORT" 6 "$W/lib.pids" "$HELLO_FCGI" \
	    >"$W/lib.out" 2>&1 &
	LIB_PID=$!
	track "$LIB_PID"
	wait_file "$W/lib.pids" 50 && retry 50 tcp_open "$LIB_ADDR" "$LIB_PORT"
}

start_fpm_host || not_ok "php-fpm starts on $FPM_ADDR:$FPM_PORT"
start_lib_host || not_ok "hello-fcgi.fcgi starts on $LIB_ADDR:$LIB_PORT"

# --- the nodes --------------------------------------------------------------
# The handlers every node has: /hello names the node that answered,
# /env shows the client the node believes.
cat >"$H/hello.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\ncgi %s\n' "$NODE"
EOF
cp "$TS/handlers/env.cgi" "$H/env.cgi"
chmod 755 "$H/hello.cgi" "$H/env.cgi"

# Node i's configuration: the shipped cgigate-node.conf with this test's
# addresses, ports and paths; max_connections 2 per backend (php-fpm has
# six children for three nodes); no user (root runs handlers here).
i=0
for a in $NODE_ADDRS; do
	i=$((i + 1))
	sed -e "s|^listen = .*|listen = $a:$NODE_PORT|" \
	    -e "s|^agent_listen = .*|agent_listen = $a:$AGENT_PORT|" \
	    -e "s|^handlers = .*|handlers = $H|" \
	    -e "s|^www = .*|www = $W/www|" \
	    -e "s|^timings = .*|timings = $W/node$i.db|" \
	    -e "s|^access_log = .*|access_log = $W/node$i.access|" \
	    -e '/^user = /d' \
	    -e "s|^fastcgi = .*|fastcgi = tcp:$FPM_ADDR:$FPM_PORT, tcp:$LIB_ADDR:$LIB_PORT|" \
	    -e "s|^document_root = .*|document_root = $W/php|" \
	    -e "s|^max_connections = 4|max_connections = 2|" \
	    "$EX/cgigate-node.conf" >"$W/node$i.conf"
	printf '\n[route /hello]\nenv = NODE=node%s\n' "$i" >>"$W/node$i.conf"
done
grep -q "^fastcgi = tcp:$FPM_ADDR" "$W/node1.conf" &&
    grep -q "^listen = 127.0.0.2:$NODE_PORT" "$W/node1.conf" &&
    ok "the nodes' configuration is the shipped cgigate-node.conf" ||
    not_ok "the nodes' configuration is the shipped cgigate-node.conf"

# Start node i (1..3) and wait until it listens: sets NODE_PID_i.
NODE_RUNS=0
start_node() {	# i
	NODE_RUNS=$((NODE_RUNS + 1))
	_log="$W/node$1.$NODE_RUNS.log"
	"$GATEWAY" --config "$W/node$1.conf" $ROOTOK 2>"$_log" &
	_pid=$!
	track "$_pid"
	eval "NODE_PID_$1=$_pid"
	GW_LOG=$_log
	_i=0
	until grep -q 'listening on' "$_log"; do
		_i=$((_i + 1))
		if [ $_i -gt 200 ] || ! kill -0 "$_pid" 2>/dev/null; then
			sed 's/^/# /' "$_log"
			return 1
		fi
		sleep 0.05
	done
}
node_pid() { eval "echo \$NODE_PID_$1"; }
node_addr() { echo "$NODE_ADDRS" | cut -d' ' -f"$1"; }
# A node's admin endpoint, from an address that is no trusted proxy.
node_get() {	# i path
	curl -s -m 5 --interface 127.0.0.9 "http://$(node_addr "$1"):$NODE_PORT$2"
}
node_logs() { cat "$W"/node"$1".*.log 2>/dev/null; }

for n in 1 2 3; do
	start_node $n || not_ok "node $n starts"
done

# --- HAProxy ----------------------------------------------------------------
# The shipped haproxy.cfg; only its addresses, ports, log and socket move
# (and -db keeps it in the foreground despite "daemon").
sed -e "s|^	log /dev/log local0|	log stderr format raw local0|" \
    -e "s|^	stats socket /run/haproxy/admin.sock|	stats socket $W/haproxy.sock|" \
    -e "s|^	bind :80\$|	bind 127.0.0.1:$HA_PORT|" \
    -e "s|127\.0\.0\.\([234]\):8080|127.0.0.\1:$NODE_PORT|" \
    -e "s|agent-port 8081|agent-port $AGENT_PORT|" \
    "$EX/haproxy.cfg" >"$W/haproxy.cfg"
out=$(haproxy -c -f "$W/haproxy.cfg" 2>&1)
expect_eq "the shipped haproxy.cfg passes haproxy -c" 0 "$?"
[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/# haproxy -c: /'
expect_eq "the test changed only its log, socket, bind, ports and servers" \
    "7 7" "$(diff "$EX/haproxy.cfg" "$W/haproxy.cfg" | grep -c '^>') $(diff \
    "$EX/haproxy.cfg" "$W/haproxy.cfg" |
    grep -c '^> 	\(log stderr\|stats socket\|bind 127\|server node\|default-server .*agent-port '"$AGENT_PORT"'\)')"
haproxy -f "$W/haproxy.cfg" -db >"$W/haproxy.log" 2>&1 &
HA_PID=$!
track "$HA_PID"
retry 100 test -S "$W/haproxy.sock"
t0=$(now_ms)
up=1
for n in 1 2 3; do
	hastat wait "node$n" UP 10000 "$t0" >/dev/null || up=
done
[ -n "$up" ] && ok "HAProxy sees the three nodes up ($(($(now_ms) - t0)) ms)" ||
    not_ok "HAProxy sees the three nodes up"
HA="http://127.0.0.1:$HA_PORT"

# The real client reaches the nodes: REMOTE_ADDR, the access log and the
# timing rows have curl's address, not HAProxy's.
for k in 1 2 3 4 5 6; do
	curl -s --interface 127.0.0.7 "$HA/env" >"$W/env.$k"
done
expect_eq "through HAProxy, REMOTE_ADDR is the client's (send-proxy-v2)" \
    "127.0.0.7 127.0.0.7 127.0.0.7 127.0.0.7 127.0.0.7 127.0.0.7" \
    "$(sed -n 's/^REMOTE_ADDR=//p' "$W"/env.[1-6] | tr '\n' ' ' | sed 's/ $//')"
rows() {
	for n in 1 2 3; do
		sqlite3 -cmd '.timeout 5000' "$W/node$n.db" "select count(*) from
		    requests where path = '/env' and client_addr = '127.0.0.7'"
	done | awk '{ s += $1 } END { print s }'
}
retry 50 sh -c "[ \"\$(cat '$W'/node*.access | grep -c '^127.0.0.7 .*GET /env')\" = 6 ]"
expect_eq "so do the nodes' access logs" 6 \
    "$(cat "$W"/node*.access | grep -c '^127.0.0.7 .*GET /env')"
retry 50 eval '[ "$(rows)" = 6 ]'
expect_eq "and their timing rows (client_addr)" 6 "$(rows)"
out=$(curl -s "$HA/app/who.php")
case $out in
php-fpm|hi) ok "the FastCGI route answers through HAProxy ($out)" ;;
*) not_ok "the FastCGI route answers through HAProxy ('$out')" ;;
esac

haretries setup >/dev/null
PATHS="/hello /app/who.php"
LOAD="-c 8 -t 10000"

# --- a) SIGKILL a node ------------------------------------------------------
hammer kill $LOAD -d 7 "$HA_PORT" $PATHS
sleep 1.5
t0=$(now_ms)
kill -KILL "$(node_pid 2)"
down=$(hastat wait node2 DOWN 5000 "$t0")
reap "$(node_pid 2)"
t1=$(now_ms)
start_node 2 || not_ok "node 2 starts again"
back=$(hastat wait node2 UP 10000 "$t1")
hammer_wait
hshow kill
echo "# a) node2 killed: DOWN in HAProxy after $down ms; restarted, UP after $back ms"
# An answer the node had begun to send when it died cannot be saved: its
# head is with the client already, and HAProxy retries only requests that
# got no answer at all.  Those, and only those, may fail; each must be
# one HAProxy logged as the killed node's, cut short ("SD").
cut=$(hv "$W/kill.out" truncated)
sd=$(grep -c ' cgigate/node2 .* SD-- .*"GET ' "$W/haproxy.log")
echo "# a) answers cut short by the kill: $cut (HAProxy's SD lines for node2: $sd)"
expect_eq "a) SIGKILL of a node under load: no request failed, but answers it had begun" \
    0 "$(($(hv "$W/kill.out" failed) - cut))"
expect_eq "a) and every answer cut short was the killed node's" "$cut" "$sd"
expect_ge "a) and requests were served" 100 "$(hv "$W/kill.out" ok)"
[ "$down" != timeout ] && [ "$down" -le 2000 ] &&
    ok "a) HAProxy marks the killed node down within 2 s ($down ms)" ||
    not_ok "a) HAProxy marks the killed node down within 2 s ($down ms)"
[ "$back" != timeout ] &&
    ok "a) the restarted node is back in service by itself ($back ms)" ||
    not_ok "a) the restarted node is back in service by itself"
haretries "a)"

# --- b) SIGSTOP a node ------------------------------------------------------
hammer stop $LOAD -d 7 "$HA_PORT" $PATHS
sleep 1.5
t0=$(now_ms)
kill -STOP "$(node_pid 1)"
down=$(hastat wait node1 DOWN 3000 "$t0")
sleep 1
t1=$(now_ms)
echo "# b) node1 stopped $((t1 - t0)) ms"
kill -CONT "$(node_pid 1)"
back=$(hastat wait node1 UP 10000 "$t1")
hammer_wait
hshow stop
echo "# b) node1 SIGSTOP: DOWN in HAProxy after $down ms; SIGCONT, UP after $back ms"
expect_eq "b) SIGSTOP of a node under load: no request failed" 0 \
    "$(hv "$W/stop.out" failed)"
[ "$down" != timeout ] &&
    ok "b) HAProxy takes the stopped node out ($down ms)" ||
    not_ok "b) HAProxy takes the stopped node out within 3 s"
[ "$back" != timeout ] && ok "b) and back after SIGCONT ($back ms)" ||
    not_ok "b) and back after SIGCONT"
haretries "b)"

# --- c) a graceful rolling restart -------------------------------------------
# Each node in turn: SIGTERM (drain_grace: the health check fails first),
# wait until HAProxy has it down and it has exited, start it again, wait
# until HAProxy has it up.  Some POSTs, which HAProxy retries only when
# they never reached a node, so that no request of any kind may fail.
hammer roll $LOAD -P 20 -d 60 "$HA_PORT" $PATHS
sleep 1
roll=
rcs=
for n in 1 2 3; do
	t0=$(now_ms)
	kill -TERM "$(node_pid "$n")"
	down=$(hastat wait "node$n" DOWN 5000 "$t0")
	reap "$(node_pid "$n")"
	rcs="$rcs $?"
	gone=$(($(now_ms) - t0))
	t1=$(now_ms)
	start_node "$n" || not_ok "node $n starts again"
	back=$(hastat wait "node$n" UP 10000 "$t1")
	roll="$roll node$n: down $down ms, exited $gone ms, up $back ms;"
done
kill -TERM "$HPID"
hammer_wait
hshow roll
echo "# c)$roll"
expect_eq "c) every node drained and exited 0" " 0 0 0" "$rcs"
expect_eq "c) rolling restart under load, POSTs too: no request failed" 0 \
    "$(hv "$W/roll.out" failed)"
expect_ge "c) and POSTs were among them" 50 "$(hv "$W/roll.out" post)"
haretries "c)"
for n in 1 2 3; do
	expect_contains "c) node $n logged its drain_grace" \
	    "the health check answers 503 for 3000 ms" "$(node_logs "$n")"
done

# --- d) SIGKILL the php-fpm host ---------------------------------------------
hammer fpmkill $LOAD -d 5 "$HA_PORT" /app/who.php
sleep 1.5
pids=$(fpm_pids)
t0=$(now_ms)
kill -KILL $pids
reap "$FPM_PID"
hammer_wait
hshow fpmkill
expect_eq "d) php-fpm killed under load: no request failed" 0 \
    "$(hv "$W/fpmkill.out" failed)"
haretries "d)"
expect_ge "d) the route kept answering from the other backend" 100 \
    "$(hbody "$W/fpmkill.out" hi)"
# Each node that saw php-fpm go ejected it; how soon (its events row).
ejected() {	# node t0-ms: ms from t0 to the node's first ejection after it
	sqlite3 -cmd '.timeout 5000' "$W/node$1.db" "select cast(min(ts) *
	    1000 - $2 as integer) from events where kind = 'backend_ejected'
	    and detail like '%$FPM_ADDR:$FPM_PORT%' and ts * 1000 >= $2"
}
restored() {	# node t0-ms
	sqlite3 -cmd '.timeout 5000' "$W/node$1.db" "select cast(min(ts) *
	    1000 - $2 as integer) from events where kind = 'backend_restored'
	    and detail like '%$FPM_ADDR:$FPM_PORT%' and ts * 1000 >= $2"
}
sleep 0.5
ej=
for n in 1 2 3; do ej="$ej node$n: $(ejected $n "$t0") ms"; done
echo "# d) php-fpm ejected after:$ej"
t1=$(now_ms)
start_fpm_host || not_ok "d) php-fpm starts again"
# It serves again once every node has probed and restored it.
rest() {
	for n in 1 2 3; do
		[ -n "$(restored $n "$t1")" ] || return 1
	done
}
retry 150 rest
rs=
for n in 1 2 3; do rs="$rs node$n: $(restored $n "$t1") ms"; done
echo "# d) php-fpm restarted; restored after:$rs"
rest && ok "d) every node restores the restarted php-fpm (events backend_restored)" ||
    not_ok "d) every node restores the restarted php-fpm (events backend_restored)"
n=0
for k in 1 2 3; do
	node_logs $k | grep -q "backend tcp:$FPM_ADDR:$FPM_PORT restored" &&
	    n=$((n + 1))
done
expect_eq "d) and logs it" 3 "$n"
hammer fpmback -c 4 -t 10000 -d 2 "$HA_PORT" /app/who.php
hammer_wait
hshow fpmback
expect_ge "d) php-fpm serves again" 20 "$(hbody "$W/fpmback.out" php-fpm)"
expect_eq "d) with no failure" 0 "$(hv "$W/fpmback.out" failed)"

# --- e) SIGSTOP the php-fpm host ---------------------------------------------
# The issue's goal: a backend that hangs is ejected within 2 s, and the
# route goes on answering from the other one without a failed request.
hammer fpmstop $LOAD -d 7 "$HA_PORT" /app/who.php
sleep 1.5
pids=$(fpm_pids)
t0=$(now_ms)
kill -STOP $pids
sleep 4
t1=$(now_ms)
kill -CONT $pids
hammer_wait
hshow fpmstop
ej=
late=
for n in 1 2 3; do
	e=$(ejected $n "$t0")
	ej="$ej node$n: ${e:-never} ms"
	[ -n "$e" ] && [ "$e" -le 2000 ] || late=1
done
echo "# e) php-fpm stopped $((t1 - t0)) ms; ejected after:$ej"
haretries "e)"
expect_eq "e) php-fpm stopped under load: no request failed" 0 \
    "$(hv "$W/fpmstop.out" failed)"
expect_ge "e) the route kept answering from the other backend" 100 \
    "$(hbody "$W/fpmstop.out" hi)"
[ -z "$late" ] && ok "e) every node ejects the hung backend within 2 s" ||
    not_ok "e) every node ejects the hung backend within 2 s ($ej )"

# --- f) slowloris against HAProxy --------------------------------------------
# 500 connections that send a header line every second and never end
# their heads, for 5 s, with probes and normal load meanwhile; the nodes
# must see none of it: their open connections stay at the load's, and
# no head times out on them.
metric() {	# node name
	node_get "$1" /_gateway/metrics | sed -n "s/^$2 //p"
}
htimeouts() {
	for n in 1 2 3; do metric $n 'cgigate_timeouts_total{kind="header"}'; done |
	    awk '{ s += $1 } END { print s + 0 }'
}
ht0=$(htimeouts)
"$SLOWLOAD" -d 5 -l 500 -e 1 -s 0 -k 0 -q /hello -q /app/who.php -i 50 \
    -t 5 -r 10 "$HA_PORT" >"$W/slowload.out" 2>"$W/slowload.err" &
SPID=$!
track "$SPID"
hammer slow -c 4 -t 10000 -d 5 "$HA_PORT" $PATHS
maxc=0
while running "$SPID"; do
	for n in 1 2 3; do
		c=$(metric $n cgigate_connections)
		[ "${c:-0}" -gt "$maxc" ] && maxc=$c
	done
	sleep 0.2
done
reap "$SPID"
hammer_wait
sed 's/^/# f) slowload: /' "$W/slowload.out"
hshow slow
expect_eq "f) slowloris on HAProxy: no probe failed" 0 \
    "$(sed -n 's/^probes path=all n=[0-9]* failed=\([0-9]*\).*/\1/p' "$W/slowload.out")"
expect_ge "f) probes were sent" 50 \
    "$(sed -n 's/^probes path=all n=\([0-9]*\).*/\1/p' "$W/slowload.out")"
expect_ge "f) slowloris held connections to HAProxy" 400 \
    "$(sed -n 's/^attack kind=slowloris target=[0-9]* open_max=\([0-9]*\).*/\1/p' "$W/slowload.out")"
expect_eq "f) and the normal load: no request failed" 0 \
    "$(hv "$W/slow.out" failed)"
[ "$maxc" -lt 60 ] &&
    ok "f) no node held more than $maxc connections meanwhile" ||
    not_ok "f) a node held $maxc connections (the slow clients reached it)"
expect_eq "f) and no request head timed out on a node" "$ht0" "$(htimeouts)"

# Stop the nodes: a second SIGTERM skips drain_grace.
for n in 1 2 3; do kill -TERM "$(node_pid $n)"; done
sleep 0.3
for n in 1 2 3; do kill -TERM "$(node_pid $n)" 2>/dev/null; done
rcs=
for n in 1 2 3; do reap "$(node_pid $n)"; rcs="$rcs $?"; done
expect_eq "the nodes stop cleanly" " 0 0 0" "$rcs"
finish
