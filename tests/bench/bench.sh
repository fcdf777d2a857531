#!/bin/sh
# bench.sh: cgigate against the servers people would use instead, in one
# run, on loopback, with the same programs behind every server.
#
#   sh tests/bench/bench.sh [cgi|fcgi|static|extra|upload|all|profile|slow]
#       [DURATION]   (all, 10s)
#
#   Workloads: W1, a header and "hi" (handlers/hello-c.cgi, and
#   hello-fcgi.fcgi as FastCGI); W2, a header and 163,840 bytes
#   (handlers/big.cgi, big-fcgi.fcgi).
#
#   cgi    the raw spawn ceiling (tests/bench/spawnceil.c: 2 threads
#          posix_spawn the program with a stdout pipe, no HTTP), cgigate
#          CGI, lighttpd mod_cgi, nginx + fcgiwrap, Apache mod_cgid, a Go
#          net/http server running the program with os/exec
#          (tests/bench/goexec.go) and civetweb's built-in CGI
#          (tests/bench/cwserve.c), for W1 and W2; the ceiling and cgigate
#          twice each, the second time in reverse order
#   fcgi   with 2 and 4 processes: cgigate's pool vs nginx fastcgi_pass
#          and lighttpd mod_fastcgi to the same program started by
#          spawn-fcgi (nginx's default: a connection per request; with
#          fastcgi_keep_conn, libfcgi's one connection per process stalls
#          nginx), W1 and W2; the three in turn, then in reverse
#   static a 3-byte static file from civetweb, nginx and cgigate: the
#          HTTP ceiling of this machine
#   extra  cgigate with the timing log on and off, two servers up side
#          by side and wrk alternating between them: FastCGI W1 in 30
#          rounds of 3 s each way (summed up in one line, the rounds
#          listed last), CGI W1 in 4 rounds of DURATION (with the CPU per
#          request of cgigate and of its writer thread), and 256
#          connections for both modes, with cgigate's peak RSS
#   upload request bodies of 1, 10 and 100 MB, in MB/s, through
#          cgigate CGI and lighttpd mod_cgi running handlers/count.cgi
#          (reads its input to EOF, answers with the byte count) and
#          cgigate's FastCGI pool running count-fcgi.fcgi, the same
#          through libfcgi; curl -H 'Expect:' --data-binary @FILE, one
#          upload at a time, 20, 5 and 3 uploads per row, the servers
#          in turn and then in reverse order; a row is total bytes over
#          total time.  DURATION does not apply.
#   profile where the CPU goes (perf record -a -g -e cpu-clock for 5 s,
#          as root): the raw spawn ceiling for W1 and W2, then cgigate
#          CGI W1 and W2 and FastCGI W1 with 4 workers under wrk; the
#          share of each process, then the server's hottest symbols.
#          Not part of "all"; DURATION does not apply.
#   slow   slow and idle clients (tests/bench/slowload.c) against cgigate's
#          default configuration: probes alone, then 2,000 slowloris, 2,000
#          silent and 2,000 idle kept-alive connections, then after; probe
#          latency, cgigate's RSS and fds.  THREADS=n sets cgigate's
#          threads (above 1024, a copy built with the bound lifted);
#          SLOW_N=n makes it n of each kind.  Not part of "all";
#          DURATION does not apply.
#
# Builds the tree (bootstrap.sh) and, as root, installs the peers from
# Debian when missing.  Every server listens on an ephemeral loopback port
# and is stopped by PID.  Each row: a 2 s warm-up, then
# wrk -t2 -c30 -d$DURATION --latency.  A row with socket errors or
# non-2xx answers is marked, not to be quoted as a result.  The ratios and
# the p99 table (each cgigate row against the best peer of its workload)
# use the mean over a row's rounds.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
what=${1:-all}
dur=${2:-10s}
conns=30

extra="curl wrk lighttpd nginx spawn-fcgi fcgiwrap apache2 golang-go"
[ "$what" != profile ] || extra="curl wrk linux-perf"
[ "$what" != upload ] || extra="curl lighttpd"
[ "$what" != slow ] || extra="curl wrk"
BOOTSTRAP_EXTRA=$extra sh "$top/bootstrap.sh" >&2

tmp=$(mktemp -d /tmp/cgigate-bench.XXXXXX)
rootok=
[ "$(id -u)" -ne 0 ] || rootok=--allow-root	# the other servers run as root too
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || :; done
	sleep 0.3
	for p in $pids; do kill -9 "$p" 2>/dev/null || :; done
	rm -rf "$tmp"
}
# An interrupt ends the run (through the exit trap), not just the step
# it came in.
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$tmp/h" "$tmp/www" "$tmp/bin"
chmod 755 "$tmp"	# Apache runs its CGI programs as nobody
cp "$top/handlers/hello-c.cgi" "$top/handlers/big.cgi" "$tmp/h/"
cp "$top/handlers/hello-fcgi.fcgi" "$tmp/h/hello.fcgi"
cp "$top/handlers/big-fcgi.fcgi" "$tmp/h/bigf.fcgi"
cp "$top/handlers/count.cgi" "$top/handlers/count-fcgi.fcgi" "$tmp/h/"
printf 'hi\n' >"$tmp/www/hi.txt"
cc -O2 -pthread -o "$tmp/bin/spawnceil" "$top/tests/bench/spawnceil.c"
[ "$what" = profile ] || [ "$what" = upload ] || [ "$what" = slow ] || {
	cc -O2 -o "$tmp/bin/cwserve" "$top/tests/bench/cwserve.c" -lcivetweb
	(cd "$top/tests/bench" && GOCACHE="$tmp/gocache" GO111MODULE=off \
	    go build -o "$tmp/bin/goexec" goexec.go)
}
: >"$tmp/results"
: >"$tmp/notes"
: >"$tmp/p99s"

# Below the kernel's ephemeral range, where wrk's and the peers' client
# sockets would make a bind fail.
freeport() {
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
	while :; do
		p=$((10000 + $(od -An -N2 -tu2 /dev/urandom) % (lo - 10000)))
		curl -s -m 1 -o /dev/null "http://127.0.0.1:$p/" 2>/dev/null ||
		    [ $? -ne 7 ] || { echo "$p"; return; }
	done
}
waitport() {
	i=0
	until curl -s -m 1 -o /dev/null "http://127.0.0.1:$1/$2"; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "bench: :$1 never answered" >&2; exit 1; }
		sleep 0.05
	done
}

# CPU of a process and of its reaped children, in clock ticks.
ticks() { awk '{ print $14 + $15, $16 + $17 }' "/proc/$1/stat"; }
# CPU of cgigate's timing writer thread (named cg-timelog), in ns
# (schedstat: a 3 s round holds only a few clock ticks of it).
tlns() {
	for t in /proc/"$1"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = cg-timelog ] || continue
		awk '{ print $1 }' "$t/schedstat"
	done | awk '{ n += $1 } END { printf "%.0f\n", n }'
}

# With cpupid set: where the CPU of each request went, in microseconds
# (the server itself, the handlers it reaped, wrk), into the notes.  The
# table row goes to $tmp/$rowfile (results), the notes to $tmp/$notefile
# (notes).
measure() {	# row-name url
	wrk -t2 -c$conns -d2s "$2" >/dev/null 2>&1 || :
	[ -z "${cpupid:-}" ] || c0=$(ticks "$cpupid")
	[ -z "${tlpid:-}" ] || { l0=$(tlns "$tlpid"); s0=$(date +%s%N); }
	# sh reads its own stat after wrk: its children's time is wrk's.
	out=$(sh -c 'wrk "$@"; echo; cat /proc/$$/stat' wrk -t2 -c$conns \
	    -d"$dur" --latency "$2")
	wt=$(echo "$out" | tail -n 1 | awk '{ print $16 + $17 }')
	out=$(echo "$out" | sed '$d')
	[ -z "${cpupid:-}" ] || { c1=$(ticks "$cpupid"); echo "$c0 $c1 $wt" |
	    awk -v row="$1" -v n="$(echo "$out" | awk '/requests in/ {print $1}')" \
	    -v hz="$(getconf CLK_TCK)" '{ k = 1e6 / hz / n
		printf "cpu per request, %s: server %.0f us, handlers %.0f us, wrk %.0f us\n",
		    row, ($3 - $1) * k, ($4 - $2) * k, $5 * k }' \
		    >>"$tmp/${notefile:-notes}"; }
	# The writer's share of both cores over the run: what it takes from
	# throughput while the load keeps them busy.
	[ -z "${tlpid:-}" ] || { l1=$(tlns "$tlpid")
		[ "$l1" -eq 0 ] || awk -v row="$1" -v l="$((l1 - l0))" \
		    -v ns="$(($(date +%s%N) - s0))" -v cpus="$(nproc)" \
		    -v n="$(echo "$out" | awk '/requests in/ {print $1}')" '
		    BEGIN {
			printf "timing writer, %s: %.2f us per request, " \
			    "%.2f%% of all CPU\n", row, l / 1e3 / n,
			    100 * l / (ns * cpus) }' \
			    >>"$tmp/${notefile:-notes}"; }
	{
		echo "\$ wrk -t2 -c$conns -d$dur --latency $2"
		echo "$out" | sed 's/^/    /'
	} >&2
	rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
	p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
	p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
	errs=$(echo "$out" | sed -n 's/.*Socket errors: //p')
	bad=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
	mark=""
	[ -z "$errs" ] && [ -z "$bad" ] || mark=" (errors: not a result)"
	[ -n "$rps" ] && [ -n "$p99" ] || mark=" (no answer: not a result)"
	echo "| $1 | $rps$mark | $p50 | $p99 | ${errs:-none} | ${bad:-0} |" \
	    >>"$tmp/${rowfile:-results}"
	[ -n "$mark" ] || echo "$1=$rps" >>"$tmp/rates"
	[ -n "$mark" ] || echo "$p99" | awk -v n="$1" '{ v = $1 + 0
		if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /[^m]s$/) v *= 1000
		printf "%s=%.3f\n", n, v }' >>"$tmp/p99s"
}


cgbin=$top/gateway/cgigate
start_cgigate() {	# config-text [timings [name]] -> sets cgport, cgpid
	f=$tmp/${3:-cgigate}
	printf '[server]\nhandlers = %s\nwww = %s\ntimings = %s\n%s\n' \
	    "$tmp/h" "$tmp/www" "${2:-$tmp/timings.db}" "$1" >"$f.conf"
	"$cgbin" --config "$f.conf" $rootok \
	    --listen 127.0.0.1:0 2>"$f.log" &
	cgpid=$!
	pids="$pids $cgpid"
	i=0
	# 20 s: thousands of threads (bench.sh slow) take seconds to start.
	while ! grep -q 'listening on' "$f.log"; do
		i=$((i + 1)); [ $i -lt 400 ] || exit 1; sleep 0.05
	done
	cgport=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' \
	    "$f.log")
}

# Stop a process by PID and forget it, so that the exit trap never
# signals a PID that has since been reused.
stop() {
	kill "$1" 2>/dev/null || :
	wait "$1" 2>/dev/null || :
	pids=$(echo " $pids " | sed "s/ $1 / /; s/^ *//; s/ *$//")
}

ceiling() {	# row-name program
	secs=${dur%s}
	r=$("$tmp/bin/spawnceil" "$2" 2 "$secs" 2>"$tmp/ceil.err")
	echo "\$ spawnceil $2 2 $secs -> $r spawns/s" >&2
	sed "s/^cpu per spawn/cpu per spawn, $1/" "$tmp/ceil.err" >>"$tmp/notes"
	echo "| $1 | $r | | | none | 0 |" >>"$tmp/results"
	echo "$1=$r" >>"$tmp/rates"
}

# nginx with one location block (a here-document, not a pipe: the
# variables it sets must reach the caller) -> sets nport, npid
start_nginx() {
	nport=$(freeport)
	mkdir -p "$tmp/nginx"
	{
		cat <<EOC
worker_processes 2;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $tmp/nginx;
	fastcgi_temp_path $tmp/nginx;
	server {
		listen 127.0.0.1:$nport;
		location / {
EOC
		cat
		printf '\t\t}\n\t}\n}\n'
	} >"$tmp/nginx.conf"
	nginx -c "$tmp/nginx.conf" -p "$tmp/nginx" &
	npid=$!
	pids="$pids $npid"
}

# lighttpd with the given module and settings (stdin) -> sets lport, lpid
start_lighttpd() {	# module
	lport=$(freeport)
	{
		cat <<EOC
server.document-root = "$tmp/h"
server.port = $lport
server.bind = "127.0.0.1"
server.modules = ( "$1" )
server.max-connections = 1024
server.errorlog = "$tmp/lighttpd.err"
EOC
		cat
	} >"$tmp/lighttpd.conf"
	$lighttpd -D -f "$tmp/lighttpd.conf" &
	lpid=$!
	pids="$pids $lpid"
}
lighttpd=$(command -v lighttpd || echo /usr/sbin/lighttpd)

# The ceiling and cgigate alternately, twice each, the second round in
# the reverse order, so that drift in the machine's speed (seen: 25%
# within one run) falls on both sides alike.
run_cgi() {
	start_cgigate ""
	cpupid=$cgpid
	ceiling "raw spawn ceiling (W1)" "$tmp/h/hello-c.cgi"
	measure "cgigate CGI (W1)" "http://127.0.0.1:$cgport/hello-c"
	ceiling "raw spawn ceiling (W2)" "$tmp/h/big.cgi"
	measure "cgigate CGI (W2)" "http://127.0.0.1:$cgport/big"
	measure "cgigate CGI (W2), round 2" "http://127.0.0.1:$cgport/big"
	ceiling "raw spawn ceiling (W2), round 2" "$tmp/h/big.cgi"
	measure "cgigate CGI (W1), round 2" "http://127.0.0.1:$cgport/hello-c"
	ceiling "raw spawn ceiling (W1), round 2" "$tmp/h/hello-c.cgi"
	cpupid=
	stop "$cgpid"

	start_lighttpd mod_cgi <<EOF2
cgi.assign = ( ".cgi" => "" )
EOF2
	waitport "$lport" hello-c.cgi
	cpupid=$lpid
	measure "lighttpd mod_cgi (W1)" "http://127.0.0.1:$lport/hello-c.cgi"
	measure "lighttpd mod_cgi (W2)" "http://127.0.0.1:$lport/big.cgi"
	cpupid=
	stop "$lpid"

	# nginx in front of fcgiwrap, which runs each request as a process.
	fport=$(freeport)
	fcgiwrap -c 4 -s "tcp:127.0.0.1:$fport" &
	fwpid=$!
	pids="$pids $fwpid"
	start_nginx <<EOF2
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME $tmp/h\$fastcgi_script_name;
			fastcgi_pass 127.0.0.1:$fport;
EOF2
	waitport "$nport" hello-c.cgi
	# fcgiwrap -c forks its workers; they do not follow their parent, so
	# they are stopped by PID too, also when the run is cut short.
	i=0
	until [ "$(pgrep -c -P "$fwpid")" -ge 4 ] || [ $i -ge 40 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	kids=$(pgrep -P "$fwpid" | tr '\n' ' ' || :)
	pids="$pids $kids"
	measure "nginx + fcgiwrap -c 4 (W1)" "http://127.0.0.1:$nport/hello-c.cgi"
	measure "nginx + fcgiwrap -c 4 (W2)" "http://127.0.0.1:$nport/big.cgi"
	stop "$npid"
	kids="$kids $(pgrep -P "$fwpid" | tr '\n' ' ' || :)"
	stop "$fwpid"
	for k in $kids; do stop "$k"; done

	# Apache 2.4, event MPM, mod_cgid (Debian's choice for threaded MPMs).
	aport=$(freeport)
	mkdir -p "$tmp/apache"
	chown nobody "$tmp/apache"
	m=/usr/lib/apache2/modules
	cat >"$tmp/apache.conf" <<EOF2
ServerName localhost
Listen 127.0.0.1:$aport
DefaultRuntimeDir $tmp/apache
PidFile $tmp/apache/httpd.pid
ErrorLog $tmp/apache/error.log
User nobody
Group nogroup
LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule alias_module $m/mod_alias.so
LoadModule cgid_module $m/mod_cgid.so
ScriptSock $tmp/apache/cgisock
ScriptAlias / $tmp/h/
<Directory $tmp/h>
	Require all granted
</Directory>
EOF2
	apache2 -f "$tmp/apache.conf" -DFOREGROUND &
	apid=$!
	pids="$pids $apid"
	waitport "$aport" hello-c.cgi
	measure "Apache mod_cgid (W1)" "http://127.0.0.1:$aport/hello-c.cgi"
	measure "Apache mod_cgid (W2)" "http://127.0.0.1:$aport/big.cgi"
	stop "$apid"

	gport=$(freeport)
	"$tmp/bin/goexec" "$tmp/h" "127.0.0.1:$gport" &
	gpid=$!
	pids="$pids $gpid"
	waitport "$gport" hello-c
	cpupid=$gpid
	measure "Go net/http + os/exec (W1)" "http://127.0.0.1:$gport/hello-c"
	measure "Go net/http + os/exec (W2)" "http://127.0.0.1:$gport/big"
	cpupid=
	stop "$gpid"

	wport=$(freeport)
	"$tmp/bin/cwserve" "$tmp/h" "127.0.0.1:$wport" >/dev/null &
	wpid=$!
	pids="$pids $wpid"
	waitport "$wport" hello-c.cgi
	measure "civetweb CGI (W1)" "http://127.0.0.1:$wport/hello-c.cgi"
	measure "civetweb CGI (W2)" "http://127.0.0.1:$wport/big.cgi"
	stop "$wpid"
}

# Per worker count and workload: cgigate, nginx and lighttpd, then the
# same in the reverse order (the peers share one spawn-fcgi), so that
# drift falls on all three alike.
run_fcgi() {
	for n in 2 4; do
		start_cgigate "[route /hello]
min_workers = $n
max_workers = $n
max_queue_wait = 10s
[route /bigf]
min_workers = $n
max_workers = $n
max_queue_wait = 10s"
		waitport "$cgport" hello
		for w in W1 W2; do
			prog=hello.fcgi route=hello
			[ $w = W1 ] || prog=bigf.fcgi route=bigf
			fport=$(freeport)
			spawn-fcgi -a 127.0.0.1 -p "$fport" -F "$n" \
			    -P "$tmp/sf.pid" -- "$tmp/h/$prog" >/dev/null
			sfpids=$(tr '\n' ' ' <"$tmp/sf.pid")
			pids="$pids $sfpids"
			start_nginx <<EOF2
			include /etc/nginx/fastcgi_params;
			fastcgi_pass 127.0.0.1:$fport;
EOF2
			start_lighttpd mod_fastcgi <<EOF2
fastcgi.server = ( "/" => (( "host" => "127.0.0.1", "port" => $fport,
    "check-local" => "disable" )) )
EOF2
			waitport "$nport" x
			waitport "$lport" x
			# cgigate first, then last: each at the same mean place
			measure "cgigate FastCGI, $n workers ($w)" \
			    "http://127.0.0.1:$cgport/$route"
			measure "nginx fastcgi_pass, spawn-fcgi -F $n ($w)" \
			    "http://127.0.0.1:$nport/x"
			measure "lighttpd mod_fastcgi, spawn-fcgi -F $n ($w)" \
			    "http://127.0.0.1:$lport/x"
			measure "lighttpd mod_fastcgi, spawn-fcgi -F $n ($w), round 2" \
			    "http://127.0.0.1:$lport/x"
			measure "nginx fastcgi_pass, spawn-fcgi -F $n ($w), round 2" \
			    "http://127.0.0.1:$nport/x"
			measure "cgigate FastCGI, $n workers ($w), round 2" \
			    "http://127.0.0.1:$cgport/$route"
			stop "$npid"
			stop "$lpid"
			for p in $sfpids; do stop "$p"; done
		done
		stop "$cgpid"
	done
}

# A 3-byte file: what HTTP alone costs here, without any program.
run_static() {
	wport=$(freeport)
	"$tmp/bin/cwserve" "$tmp/www" "127.0.0.1:$wport" >/dev/null &
	wpid=$!
	pids="$pids $wpid"
	waitport "$wport" hi.txt
	measure "civetweb static 3-byte file" "http://127.0.0.1:$wport/hi.txt"
	stop "$wpid"
	start_nginx <<EOF2
			root $tmp/www;
EOF2
	waitport "$nport" hi.txt
	measure "nginx static 3-byte file" "http://127.0.0.1:$nport/hi.txt"
	stop "$npid"
	start_cgigate ""
	measure "cgigate static 3-byte file" "http://127.0.0.1:$cgport/hi.txt"
	stop "$cgpid"
}

# The timing log's cost, and 256 connections with cgigate's peak memory.
# Two cgigates, one with the log and one without, stay up side by side
# (the one not under load sleeps) and wrk alternates between them: on,
# off, off, on, ... so that drift in the machine's speed falls on both
# sides alike.  FastCGI W1, where a row costs the most against a request,
# runs 30 short rounds each way, since identical rounds differ by up to
# 25%; CGI, where a spawn dwarfs a row, the first 4 rounds of DURATION.
# The FastCGI rounds' rows and CPU lines go to their own files, summed up
# at the end.
trounds=30 tcgi=4 tdur=3s
run_extra() {
	fconf="[route /hello]
min_workers = 4
max_workers = 4
max_queue_wait = 10s"
	start_cgigate "$fconf" "$tmp/timings.db" on
	onport=$cgport onpid=$cgpid
	start_cgigate "$fconf" off off
	offport=$cgport offpid=$cgpid
	waitport "$onport" hello
	waitport "$offport" hello
	round=1
	while [ $round -le $trounds ]; do
		order="on off"
		[ $((round % 2)) = 1 ] || order="off on"
		for t in $order; do
			eval "port=\$${t}port tlpid=\$${t}pid cpupid=\$${t}pid"
			d=$dur dur=$tdur rowfile=trows notefile=tnotes
			measure "cgigate FastCGI, 4 workers, timings $t, round $round (W1)" \
			    "http://127.0.0.1:$port/hello"
			dur=$d rowfile= notefile=
			[ $round -gt $tcgi ] ||
			    measure "cgigate CGI, timings $t, round $round (W1)" \
			    "http://127.0.0.1:$port/hello-c"
			tlpid= cpupid=
		done
		round=$((round + 1))
	done
	stop "$onpid"
	stop "$offpid"

	start_cgigate "$fconf"
	waitport "$cgport" hello
	conns=256
	measure "cgigate FastCGI, 4 workers, 256 connections (W1)" \
	    "http://127.0.0.1:$cgport/hello"
	measure "cgigate CGI, 256 connections (W1)" \
	    "http://127.0.0.1:$cgport/hello-c"
	conns=30
	echo "cgigate peak RSS (VmHWM) after 256 connections: $(awk \
	    '/VmHWM/ { print $2, $3 }' "/proc/$cgpid/status")" >>"$tmp/notes"
	stop "$cgpid"
}

# One profile while the load runs.  The share of each process (comm) says
# who spends the CPU: a handler costs the same under every server, so the
# ratio of its shares is the ratio of throughputs.  Then, within the
# server (all threads of process $spid, or the ceiling itself), the 20
# symbols with the most samples in them, callees included.
profile() {	# title command...
	title=$1; shift
	"$@" >/dev/null 2>&1 &
	loadpid=$!
	pids="$pids $loadpid"
	sleep 1
	perf record -a -g -e cpu-clock -o "$tmp/perf.data" -- sleep 5 \
	    >/dev/null 2>&1
	wait "$loadpid" || :
	echo "### $title"
	echo
	echo "Share of all CPU samples by process (perf report --sort comm):"
	echo
	perf report -i "$tmp/perf.data" --stdio -g none --no-children \
	    --sort comm 2>/dev/null |
	    awk '/%/ && $1 + 0 >= 0.5 { print "    " $0 }'
	echo
	echo "In the server, callees included (perf report --children --sort sym):"
	echo
	perf report -i "$tmp/perf.data" --stdio -g none --children \
	    --pid "${spid:-$loadpid}" --sort sym 2>/dev/null |
	    awk '/%/ && n++ < 20 { print "    " $0 }'
	echo
}

run_profile() {
	secs=8
	spid=
	for w in "W1=hello-c.cgi" "W2=big.cgi"; do
		profile "raw spawn ceiling (${w%=*})" \
		    "$tmp/bin/spawnceil" "$tmp/h/${w#*=}" 2 $secs
	done
	start_cgigate "[route /hello]
min_workers = 4
max_workers = 4
max_queue_wait = 10s"
	waitport "$cgport" hello
	spid=$cgpid
	for u in "cgigate CGI (W1)=hello-c" "cgigate CGI (W2)=big" \
	    "cgigate FastCGI, 4 workers (W1)=hello"; do
		profile "${u%=*}" wrk -t2 -c$conns -d${secs}s \
		    "http://127.0.0.1:$cgport/${u#*=}"
	done
	stop "$cgpid"
}

# Uploads, one at a time: total bytes over total time for a row.
upload() {	# row-name url file count
	n=0 t=0 bytes=0 bad=0
	: >>"$tmp/uprows"
	while [ $n -lt "$4" ]; do
		r=$(curl -s -m 600 -o "$tmp/up.out" -H 'Expect:' \
		    -w '%{http_code} %{time_total}' \
		    --data-binary @"$3" "$2") || r="000 0"
		size=$(wc -c <"$3")
		[ "${r%% *}" = 200 ] && [ "$(cat "$tmp/up.out")" = "$size" ] ||
		    bad=$((bad + 1))
		t=$(awk -v a="$t" -v b="${r##* }" 'BEGIN { print a + b }')
		bytes=$((bytes + size))
		n=$((n + 1))
	done
	mbs=$(awk -v b="$bytes" -v t="$t" 'BEGIN { printf "%.1f", b / t / 1e6 }')
	echo "\$ $4 x curl -H 'Expect:' --data-binary @$(basename "$3") $2 ->" \
	    "$mbs MB/s, $bad failed" >&2
	if [ "$bad" -eq 0 ]; then
		echo "| $1 | $mbs | $4 | $t s |" >>"$tmp/uprows"
		echo "$1=$mbs" >>"$tmp/uprates"
	else
		echo "| $1 | $mbs ($bad failed: not a result) | $4 | $t s |" \
		    >>"$tmp/uprows"
	fi
}

run_upload() {
	for mb in 1 10 100; do
		head -c $((mb * 1000000)) /dev/urandom >"$tmp/up$mb"
	done
	start_cgigate "[route /]
max_body = 200M
timeout = 600s
[route /count-fcgi]
min_workers = 1
max_workers = 1"
	waitport "$cgport" count
	start_lighttpd mod_cgi <<EOF2
cgi.assign = ( ".cgi" => "" )
EOF2
	waitport "$lport" count.cgi
	for mb in 1 10 100; do
		k=20
		[ $mb -lt 10 ] || k=5
		[ $mb -lt 100 ] || k=3
		for order in 1 2; do
			round=
			[ $order = 1 ] || round=", round 2"
			set -- cgi fcgi lighttpd
			[ $order = 1 ] || set -- lighttpd fcgi cgi
			for srv in "$@"; do
				case $srv in
				cgi) upload "cgigate CGI, $mb MB$round" \
				    "http://127.0.0.1:$cgport/count" \
				    "$tmp/up$mb" $k ;;
				fcgi) upload "cgigate FastCGI, $mb MB$round" \
				    "http://127.0.0.1:$cgport/count-fcgi" \
				    "$tmp/up$mb" $k ;;
				lighttpd) upload "lighttpd mod_cgi, $mb MB$round" \
				    "http://127.0.0.1:$lport/count.cgi" \
				    "$tmp/up$mb" $k ;;
				esac
			done
		done
	done
	stop "$lpid"
	stop "$cgpid"
	echo
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc: $(nproc)," \
	    "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
	echo
	echo "| upload | MB/s | uploads | time |"
	echo "|---|---|---|---|"
	cat "$tmp/uprows"
	echo
	echo "| cgigate CGI upload | against | ratio |"
	echo "|---|---|---|"
	for mb in 1 10 100; do
		for peer in "cgigate FastCGI" "lighttpd mod_cgi"; do
			awk -v a="cgigate CGI, $mb MB" -v b="$peer, $mb MB" '
			    { split($0, f, "="); k = f[1]; sub(/, round 2$/, "", k)
			      if (k == a) { sa += f[2]; na++ }
			      if (k == b) { sb += f[2]; nb++ } }
			    END { if (na && nb) printf "| %s | %s | %.2fx |\n",
				a, b, (sa / na) / (sb / nb) }' "$tmp/uprates"
		done
	done
}

# Slow and idle clients.  cgigate runs with its default configuration
# (threads = $THREADS when set), under the hard RLIMIT_NOFILE (it raises
# its own soft limit to it at start-up as well).  Phases: before (probes alone, then wrk), attack (the
# issue's 2,000 + 2,000 + 2,000 connections, with probes), after (wrk at
# once, then probes).  A sampler reads cgigate's /proc entries and its
# listening socket's accept queue every second.
slow_n=${SLOW_N:-2000} slow_every=5 slow_attack=30 slow_probe=10 slow_wrk=5s
probe_paths="-q /hello-c -q /hello"

# Every second until stopped: VmRSS and VmHWM (kB), threads, open fds,
# the listening socket's accept queue (/proc/net/tcp: a LISTEN socket's
# rx_queue is its accept backlog).
sampler() {	# pid port file
	hex=$(printf '%04X' "$2")
	while [ -d "/proc/$1" ]; do
		q=$(awk -v p="0100007F:$hex" '$2 == p && $4 == "0A" {
		    split($5, a, ":"); n = 0
		    for (i = 1; i <= length(a[2]); i++)
			n = n * 16 + index("0123456789ABCDEF",
			    toupper(substr(a[2], i, 1))) - 1
		    print n }' \
		    /proc/net/tcp 2>/dev/null)
		fds=$(ls "/proc/$1/fd" 2>/dev/null | wc -l)
		awk -v fds="$fds" -v q="${q:-0}" '/^(VmRSS|VmHWM|Threads):/ {
		    v[$1] = $2 } END { print v["VmRSS:"], v["VmHWM:"],
		    v["Threads:"], fds, q }' "/proc/$1/status" 2>/dev/null
		sleep 1
	done >>"$3"
}

# TcpExt counters of this network namespace (every process in it, not
# only the bench): SYNs dropped because a listen queue was full.
overflows() {
	awk '/^TcpExt:/ { if (!n++) { for (i = 2; i <= NF; i++) k[i] = $i; next }
	    for (i = 2; i <= NF; i++) if (k[i] == "ListenOverflows") print $i }' \
	    /proc/net/netstat
}

# One phase: slowload with its arguments, the sampler alongside; the
# table row goes to $tmp/slowrows, the attack lines to $tmp/slownotes.
slowphase() {	# name seconds slowload-args...
	name=$1 secs=$2
	shift 2
	sampler "$cgpid" "$cgport" "$tmp/samples.$name" &
	spid=$!
	pids="$pids $spid"
	o0=$(overflows)
	echo "\$ slowload -d $secs $* $probe_paths $cgport" >&2
	# shellcheck disable=SC2086
	"$tmp/bin/slowload" -d "$secs" "$@" $probe_paths "$cgport" \
	    >"$tmp/slow.$name" 2>"$tmp/slowlog.$name" &
	lpid=$!
	pids="$pids $lpid"
	wait "$lpid" || { echo "bench: slowload failed" >&2; exit 1; }
	pids=$(echo " $pids " | sed "s/ $lpid / /; s/^ *//; s/ *$//")
	stop "$spid"
	o1=$(overflows)
	sed 's/^/    /' "$tmp/slowlog.$name" "$tmp/slow.$name" >&2
	sed -n "s/^attack /$name: /p" "$tmp/slow.$name" >>"$tmp/slownotes"
	for path in /hello-c /hello all; do
		label=$name
		case $path in
		/hello-c) label="$name, CGI /hello-c" ;;
		/hello) label="$name, FastCGI /hello" ;;
		esac
		awk -v path="$path" -v label="$label" -v ov="$((o1 - o0))" '
		    FNR == 1 { f++ }
		    f == 1 && $1 == "probes" {
			for (i = 2; i <= NF; i++) {
				split($i, a, "="); v[a[1]] = a[2] }
			if (v["path"] == path) for (k in v) p[k] = v[k] }
		    f == 2 { if ($1 > rss) rss = $1; if ($2 > hwm) hwm = $2
			if ($3 > th) th = $3; if ($4 > fd) fd = $4
			if ($5 > q) q = $5 }
		    END { printf "| %s | %s | %s | %s | %s | %s | %s | %s | " \
			"%s |", label, p["n"], p["failed"], p["p50_ms"],
			p["p90_ms"], p["p99_ms"], p["max_ms"],
			p["connect_max_ms"], p["connect_1s"]
			if (path == "all") printf " %.0f MB | %.0f MB | %d | " \
			    "%d | %d | %d |\n", rss / 1024, hwm / 1024, th, fd,
			    q, ov
			else printf " | | | | | |\n" }' \
		    "$tmp/slow.$name" "$tmp/samples.$name" >>"$tmp/slowrows"
	done
}

# wrk with no warm-up (the point is what the first seconds get).
slowwrk() {	# row-name url
	out=$(wrk -t2 -c$conns -d$slow_wrk --latency "$2" 2>&1 || :)
	{
		echo "\$ wrk -t2 -c$conns -d$slow_wrk --latency $2"
		echo "$out" | sed 's/^/    /'
	} >&2
	rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
	p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
	errs=$(echo "$out" | sed -n 's/.*Socket errors: //p')
	bad=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
	echo "| $1 | ${rps:-none} | ${p99:-} | ${errs:-none} | ${bad:-0} |" \
	    >>"$tmp/slowwrk"
}

run_slow() {
	threads=${THREADS:-}
	hard=$(ulimit -Hn)
	ulimit -n "$hard"
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
	hi=$(cut -f2 /proc/sys/net/ipv4/ip_local_port_range)
	need=$((3 * slow_n + 200))
	[ $((hi - lo + 1)) -ge "$need" ] || {
		echo "bench: the ephemeral port range $lo-$hi is smaller than" \
		    "the $need connections of the attack" >&2
		exit 1
	}
	[ "$hard" = unlimited ] || [ "$hard" -ge $((need + 100)) ] || {
		echo "bench: the hard RLIMIT_NOFILE $hard is below $need" >&2
		exit 1
	}
	cc -O2 -o "$tmp/bin/slowload" "$top/tests/bench/slowload.c" -lm
	: >"$tmp/slowrows"
	: >"$tmp/slownotes"
	: >"$tmp/slowwrk"
	conf=""
	[ -z "$threads" ] || conf="threads = $threads"
	built=""
	if [ -n "$threads" ] && [ "$threads" -gt 1024 ]; then
		# cgigate.conf(5) takes 2 to 1024 threads.  To measure more,
		# a copy of the tree is built with that bound lifted, in
		# $tmp; nothing else differs.
		mkdir "$tmp/src"
		(cd "$top" && tar cf - --exclude=.git --exclude=var .) |
		    (cd "$tmp/src" && tar xf -)
		sed -i '/{ "threads", CT_INT,/s/\.max = 1024,/.max = 65536,/' \
		    "$tmp/src/gateway/config.c"
		grep -q '{ "threads", CT_INT, .*\.max = 65536,' \
		    "$tmp/src/gateway/config.c" || {
			echo "bench: cannot lift the threads bound" >&2
			exit 1
		}
		make -C "$tmp/src" gateway/cgigate >/dev/null
		cgbin=$tmp/src/gateway/cgigate
		built="threads = $threads is beyond cgigate.conf(5)'s 1024: this run used a copy of the tree built with that bound lifted to 65536 (gateway/config.c), nothing else changed."
	fi
	t0=$(date +%s%N)
	start_cgigate "$conf"
	waitport "$cgport" hi.txt
	waitport "$cgport" hello
	up=$((($(date +%s%N) - t0) / 1000000))
	idle=$(awk '/^VmRSS:/ { r = $2 } /^Threads:/ { t = $2 }
	    END { printf "VmRSS %d kB, %d threads", r, t }' "/proc/$cgpid/status")

	slowphase before "$slow_probe"
	slowwrk "before, CGI /hello-c" "http://127.0.0.1:$cgport/hello-c"
	slowwrk "before, FastCGI /hello" "http://127.0.0.1:$cgport/hello"
	l0=$(wc -l <"$tmp/cgigate.log")
	slowphase attack "$slow_attack" -l "$slow_n" -e "$slow_every" \
	    -s "$slow_n" -k "$slow_n" -K /hi.txt
	l1=$(wc -l <"$tmp/cgigate.log")
	slowwrk "after, CGI /hello-c" "http://127.0.0.1:$cgport/hello-c"
	slowwrk "after, FastCGI /hello" "http://127.0.0.1:$cgport/hello"
	slowphase after "$slow_probe"
	stop "$cgpid"

	echo
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc: $(nproc)," \
	    "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
	tnote="threads = $threads (set)"
	[ -n "$threads" ] || tnote="threads = 64 (default)"
	echo "cgigate: default configuration, $tnote;" \
	    "run under ulimit -n $hard" \
	    "(the hard limit, which cgigate also raises its own to);" \
	    "up in $up ms; at start: $idle"
	[ -z "$built" ] || echo "$built"
	echo "loopback: somaxconn $(cat /proc/sys/net/core/somaxconn)," \
	    "tcp_max_syn_backlog $(cat /proc/sys/net/ipv4/tcp_max_syn_backlog)," \
	    "syncookies $(cat /proc/sys/net/ipv4/tcp_syncookies)," \
	    "ports $lo-$hi; civetweb's listen_backlog 1024, connection_queue 256"
	echo "attack: $slow_n slowloris (a header line every ${slow_every} s)," \
	    "$slow_n silent, $slow_n idle kept-alive (GET /hi.txt), each" \
	    "reopened when closed, ${slow_attack} s; probes: a new connection" \
	    "every 100 ms, /hello-c (CGI) and /hello (FastCGI) in turn, 5 s" \
	    "timeout; phases before and after: ${slow_probe} s of probes alone"
	echo
	echo "| phase | probes | failed | p50 ms | p90 ms | p99 ms | max ms |" \
	    "connect max ms | connects >= 1 s | cgigate VmRSS max | VmHWM |" \
	    "threads | fds max | accept queue max | listen overflows |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	cat "$tmp/slowrows"
	echo
	echo "A failed probe (timeout, reset or not 200) ranks above every" \
	    "success: \"fail\" in a column means at least that share failed."
	echo "Listen overflows: the namespace's TcpExt ListenOverflows over" \
	    "the phase (SYNs dropped at a full accept queue; any process)."
	echo "Open means the client's SYN was answered, accepted by cgigate or" \
	    "not yet."
	echo
	echo "Attack connections (peak open, peak connecting, reopened after" \
	    "the server closed them, connect errors, idle responses):"
	echo
	sed 's/^/    /' "$tmp/slownotes"
	echo
	echo "The attack phase as slowload saw it, every 5 s (probes counted" \
	    "when done):"
	echo
	sed 's/^/    /' "$tmp/slowlog.attack"
	echo
	echo "cgigate log lines during the attack: $((l1 - l0))"
	echo
	echo "| wrk -t2 -c$conns -d$slow_wrk, no warm-up | req/s | p99 |" \
	    "socket errors | non-2xx |"
	echo "|---|---|---|---|---|"
	cat "$tmp/slowwrk"
}

case $what in
profile) run_profile; exit 0 ;;
slow) run_slow; exit 0 ;;
upload) run_upload; exit 0 ;;
cgi) run_cgi ;;
fcgi) run_fcgi ;;
static) run_static ;;
extra) run_extra ;;
all) run_cgi; run_fcgi; run_static; run_extra ;;
*) echo "usage: bench.sh [cgi|fcgi|static|extra|upload|all|profile|slow]" \
    "[DURATION]" >&2
   exit 2 ;;
esac

echo
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc: $(nproc)," \
    "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo
echo "| server | req/s | p50 | p99 | socket errors | non-2xx |"
echo "|---|---|---|---|---|---|"
cat "$tmp/results"
echo
cat "$tmp/notes"
# The FastCGI timing-log rounds, summed up: their rows and CPU lines are
# in $tmp/trows and $tmp/tnotes.
[ ! -s "$tmp/tnotes" ] || awk -v n="$trounds" -v d="$tdur" '
    function num(re, k) {
	if (!match($0, re)) return 0
	return substr($0, RSTART + k, RLENGTH - k) + 0 }
    { t = index($0, "timings on,") ? "on" : "off" }
    FILENAME ~ /rates$/ && index($0, "cgigate FastCGI, 4 workers, timings ") {
	rps[t] += substr($0, index($0, "=") + 1); nr[t]++ }
    FILENAME ~ /p99s$/ && index($0, "cgigate FastCGI, 4 workers, timings ") {
	p99[t] += substr($0, index($0, "=") + 1); np[t]++ }
    /^cpu per request/ { srv[t] += num("server [0-9.]+", 7)
	wrk[t] += num("wrk [0-9.]+", 4); c[t]++ }
    /^timing writer/ { wus += num(": [0-9.]+ us per", 2)
	wp += num("[0-9.]+% of all", 0); nw++ }
    END { printf "timing log, FastCGI W1, 4 workers, %d rounds of %s each " \
	"way, means: %.0f req/s on, %.0f off; p99 %.2f ms on, %.2f off; " \
	"per request, cgigate %.1f us of CPU on, %.1f off, wrk %.1f on, " \
	"%.1f off, the writer %.2f us (%.2f%% of all CPU)\n", n, d,
	rps["on"] / nr["on"], rps["off"] / nr["off"], p99["on"] / np["on"],
	p99["off"] / np["off"], srv["on"] / c["on"], srv["off"] / c["off"],
	wrk["on"] / c["on"], wrk["off"] / c["off"], wus / nw, wp / nw }' \
    "$tmp/rates" "$tmp/p99s" "$tmp/tnotes"
echo
echo "Ratios and p99s are means over a row's rounds (two for the ceiling,"
echo "cgigate CGI and the FastCGI rows, else one)."
echo
echo "| cgigate row | against | ratio |"
echo "|---|---|---|"
# A row's figure: the mean over its rounds (one, or two when there is a
# ", round 2" row), from the rates or the p99s file.
mean() {	# file row
	awk -v a="$2=" -v b="$2, round 2=" '(index($0, a) == 1 ||
	    index($0, b) == 1) && (v = substr($0, index($0, "=") + 1)) != "" {
		s += v; n++ } END { if (n) print s / n }' "$tmp/$1"
}
ratio() {	# a b
	a=$(mean rates "$1"); b=$(mean rates "$2")
	[ -n "$a" ] && [ -n "$b" ] &&
	    awk -v l="| $1 | $2 |" -v a="$a" -v b="$b" \
	    'BEGIN { printf "%s %.2fx |\n", l, a / b }'
}
for w in W1 W2; do
	for peer in "raw spawn ceiling" "lighttpd mod_cgi" \
	    "nginx + fcgiwrap -c 4" "Apache mod_cgid" \
	    "Go net/http + os/exec" "civetweb CGI"; do
		ratio "cgigate CGI ($w)" "$peer ($w)" || :
	done
	for n in 2 4; do
		for peer in "nginx fastcgi_pass" "lighttpd mod_fastcgi"; do
			ratio "cgigate FastCGI, $n workers ($w)" \
			    "$peer, spawn-fcgi -F $n ($w)" || :
		done
	done
done
for peer in "civetweb static 3-byte file" "nginx static 3-byte file"; do
	ratio "cgigate FastCGI, 4 workers (W1)" "$peer" || :
done
# The timing log: the geometric mean of the rounds' own ratios, on to
# off, with its 95% confidence interval (Student's t, approximated) and
# their range, only when every round of each is there (rows with errors
# are not in the rates file, and unpaired rounds would lose the drift
# balancing).
tratio() {	# mode rounds
	awk -v p="cgigate $1, timings " -v m="$1" -v want="$2" '
	    index($0, p) == 1 { split($0, a, "round "); r = a[2] + 0
		v = substr($0, index($0, "=") + 1)
		if (substr($0, length(p) + 1, 2) == "on") { on[r] = v; non++ }
		else { off[r] = v; noff++ } }
	    END { if (non != want || noff != want || want < 2) exit
		for (r = 1; r <= want; r++) {
			q = on[r] / off[r]; s += log(q); ss += log(q) ^ 2
			if (r == 1 || q < lo) lo = q
			if (r == 1 || q > hi) hi = q
		}
		g = s / want; df = want - 1
		sd = sqrt((ss - want * g * g) / df)
		h = (1.96 + 2.37 / df + 2.8 / df ^ 2) * sd / sqrt(want)
		printf "| cgigate %s, timings on (W1, %d rounds) | timings " \
		    "off | %.3fx (95%% CI %.3f-%.3f; rounds %.2f-%.2f) |\n",
		    m, want, exp(g), exp(g - h), exp(g + h), lo, hi }' \
	    "$tmp/rates"
}
tratio "FastCGI, 4 workers" $trounds
tratio CGI $tcgi

# p99 against the best peer of the same workload, means over the rounds;
# rows with errors are not in the p99s file.
p99row() {	# cgigate-row peer-rows...
	row=$1 c=$(mean p99s "$1"); shift
	[ -n "$c" ] || return 0
	best= bname=
	for peer in "$@"; do
		v=$(mean p99s "$peer")
		[ -n "$v" ] || continue
		if [ -z "$best" ] || awk -v a="$v" -v b="$best" \
		    'BEGIN { exit !(a + 0 < b + 0) }'; then
			best=$v bname=$peer
		fi
	done
	[ -n "$best" ] || return 0
	awk -v r="$row" -v c="$c" -v p="$bname" -v b="$best" 'BEGIN {
		printf "| %s | %.2f ms | %s | %.2f ms | %s |\n", r, c, p, b,
		    c + 0 <= b + 0 ? "no worse" : "worse" }'
}
body=$(for w in W1 W2; do
	p99row "cgigate CGI ($w)" "lighttpd mod_cgi ($w)" \
	    "nginx + fcgiwrap -c 4 ($w)" "Apache mod_cgid ($w)" \
	    "Go net/http + os/exec ($w)" "civetweb CGI ($w)"
	for n in 2 4; do
		p99row "cgigate FastCGI, $n workers ($w)" \
		    "nginx fastcgi_pass, spawn-fcgi -F $n ($w)" \
		    "lighttpd mod_fastcgi, spawn-fcgi -F $n ($w)"
	done
done)
[ -z "$body" ] || {
	echo
	echo "| cgigate row (mean of its rounds) | p99 | best peer | its p99 | |"
	echo "|---|---|---|---|---|"
	echo "$body"
}
[ ! -s "$tmp/trows" ] || {
	echo
	echo "The timing log's FastCGI rounds:"
	echo
	echo "| server | req/s | p50 | p99 | socket errors | non-2xx |"
	echo "|---|---|---|---|---|---|"
	cat "$tmp/trows"
}
