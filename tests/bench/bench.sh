#!/bin/sh
# bench.sh: cgigate against the servers people would use instead, in one
# run, on loopback, with the same programs behind every server.
#
#   sh tests/bench/bench.sh [cgi|fcgi|extra|all] [DURATION]  (all, 10s)
#
#   Workloads: W1, a header and "hi" (handlers/hello-c.cgi, and
#   hello-fcgi.fcgi as FastCGI); W2, a header and 163,840 bytes
#   (handlers/big.cgi, big-fcgi.fcgi).
#
#   cgi   the raw spawn ceiling (tests/bench/spawnceil.c: 2 threads
#         posix_spawn the program with a stdout pipe, no HTTP), cgigate
#         CGI, lighttpd mod_cgi and nginx + fcgiwrap, for W1 and W2
#   extra cgigate with the timing log off against on, and 256
#         connections for both modes, with cgigate's peak RSS
#   fcgi  with 2 and 4 processes: cgigate's pool vs nginx fastcgi_pass
#         to the same program started by spawn-fcgi (nginx's default: a
#         connection per request; with fastcgi_keep_conn, libfcgi's one
#         connection per process stalls nginx), W1 and W2
#
# Needs a built tree; installs wrk, lighttpd, nginx and spawn-fcgi with
# apt-get when missing (as root).  Every server listens on an ephemeral
# loopback port and is stopped by PID.  Each row: a 2 s warm-up, then
# wrk -t2 -c30 -d$DURATION --latency.  A row with socket errors or
# non-2xx answers is marked, not to be quoted as a result.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
what=${1:-all}
dur=${2:-10s}
conns=30

need() {	# command package
	command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] && return 0
	[ "$(id -u)" -eq 0 ] || { echo "bench: need $2" >&2; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need wrk wrk
need lighttpd lighttpd
need nginx nginx
need spawn-fcgi spawn-fcgi
need fcgiwrap fcgiwrap
for f in gateway/cgigate handlers/hello-c.cgi handlers/hello-fcgi.fcgi \
    handlers/big.cgi handlers/big-fcgi.fcgi; do
	[ -x "$top/$f" ] || { echo "bench: build first ($f)" >&2; exit 1; }
done

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
trap cleanup EXIT INT TERM
mkdir -p "$tmp/h" "$tmp/www"
cp "$top/handlers/hello-c.cgi" "$top/handlers/big.cgi" "$tmp/h/"
cp "$top/handlers/hello-fcgi.fcgi" "$tmp/h/hello.fcgi"
cp "$top/handlers/big-fcgi.fcgi" "$tmp/h/bigf.fcgi"
cc -O2 -pthread -o "$tmp/spawnceil" "$top/tests/bench/spawnceil.c"
: >"$tmp/results"
: >"$tmp/notes"

freeport() {
	while :; do
		p=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
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

measure() {	# row-name url
	wrk -t2 -c$conns -d2s "$2" >/dev/null 2>&1 || :
	out=$(wrk -t2 -c$conns -d"$dur" --latency "$2")
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
	echo "| $1 | $rps$mark | $p50 | $p99 | ${errs:-none} | ${bad:-0} |" \
	    >>"$tmp/results"
	echo "$1=$rps" >>"$tmp/rates"
}

rate() { sed -n "s/^$1=//p" "$tmp/rates"; }

start_cgigate() {	# config-text [timings] -> sets cgport, cgpid
	printf '[server]\nhandlers = %s\nwww = %s\ntimings = %s\n%s\n' \
	    "$tmp/h" "$tmp/www" "${2:-$tmp/timings.db}" "$1" \
	    >"$tmp/cgigate.conf"
	"$top/gateway/cgigate" --config "$tmp/cgigate.conf" $rootok \
	    --listen 127.0.0.1:0 2>"$tmp/cgigate.log" &
	cgpid=$!
	pids="$pids $cgpid"
	i=0
	while ! grep -q 'listening on' "$tmp/cgigate.log"; do
		i=$((i + 1)); [ $i -lt 100 ] || exit 1; sleep 0.05
	done
	cgport=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' \
	    "$tmp/cgigate.log")
}

stop() { kill "$1" 2>/dev/null || :; wait "$1" 2>/dev/null || :; }

ceiling() {	# row-name program
	secs=${dur%s}
	r=$("$tmp/spawnceil" "$2" 2 "$secs")
	echo "\$ spawnceil $2 2 $secs -> $r spawns/s" >&2
	echo "| $1 | $r | | | none | 0 |" >>"$tmp/results"
	echo "$1=$r" >>"$tmp/rates"
}

run_cgi() {
	ceiling "raw spawn ceiling (W1)" "$tmp/h/hello-c.cgi"
	ceiling "raw spawn ceiling (W2)" "$tmp/h/big.cgi"
	start_cgigate ""
	measure "cgigate CGI (W1)" "http://127.0.0.1:$cgport/hello-c"
	measure "cgigate CGI (W2)" "http://127.0.0.1:$cgport/big"
	stop "$cgpid"

	lport=$(freeport)
	cat >"$tmp/lighttpd.conf" <<EOF
server.document-root = "$tmp/h"
server.port = $lport
server.bind = "127.0.0.1"
server.modules = ( "mod_cgi" )
cgi.assign = ( ".cgi" => "" )
server.max-connections = 1024
server.errorlog = "$tmp/lighttpd.err"
EOF
	lighttpd=$(command -v lighttpd || echo /usr/sbin/lighttpd)
	"$lighttpd" -D -f "$tmp/lighttpd.conf" &
	lpid=$!
	pids="$pids $lpid"
	waitport "$lport" hello-c.cgi
	measure "lighttpd mod_cgi (W1)" "http://127.0.0.1:$lport/hello-c.cgi"
	measure "lighttpd mod_cgi (W2)" "http://127.0.0.1:$lport/big.cgi"
	stop "$lpid"
}

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
		measure "cgigate FastCGI, $n workers (W1)" \
		    "http://127.0.0.1:$cgport/hello"
		measure "cgigate FastCGI, $n workers (W2)" \
		    "http://127.0.0.1:$cgport/bigf"
		stop "$cgpid"

		for w in W1 W2; do
			prog=hello.fcgi
			[ $w = W1 ] || prog=bigf.fcgi
			fport=$(freeport)
			spawn-fcgi -a 127.0.0.1 -p "$fport" -F "$n" \
			    -P "$tmp/sf.pid" -- "$tmp/h/$prog" >/dev/null
			pids="$pids $(tr '\n' ' ' <"$tmp/sf.pid")"
			nport=$(freeport)
			mkdir -p "$tmp/nginx"
			cat >"$tmp/nginx.conf" <<EOF
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
			include /etc/nginx/fastcgi_params;
			fastcgi_pass 127.0.0.1:$fport;
		}
	}
}
EOF
			nginx -c "$tmp/nginx.conf" -p "$tmp/nginx" &
			npid=$!
			pids="$pids $npid"
			waitport "$nport" x
			measure "nginx fastcgi_pass, spawn-fcgi -F $n ($w)" \
			    "http://127.0.0.1:$nport/x"
			stop "$npid"
			for p in $(cat "$tmp/sf.pid"); do stop "$p"; done
		done
	done
}

# nginx in front of fcgiwrap, which runs each CGI request as a process.
run_fcgiwrap() {
	fport=$(freeport)
	fcgiwrap -c 4 -s "tcp:127.0.0.1:$fport" &
	fwpid=$!
	pids="$pids $fwpid"
	nport=$(freeport)
	mkdir -p "$tmp/nginx"
	cat >"$tmp/nginx.conf" <<EOF
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
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME $tmp/h\$fastcgi_script_name;
			fastcgi_pass 127.0.0.1:$fport;
		}
	}
}
EOF
	nginx -c "$tmp/nginx.conf" -p "$tmp/nginx" &
	npid=$!
	pids="$pids $npid"
	waitport "$nport" hello-c.cgi
	measure "nginx + fcgiwrap -c 4 (W1)" "http://127.0.0.1:$nport/hello-c.cgi"
	measure "nginx + fcgiwrap -c 4 (W2)" "http://127.0.0.1:$nport/big.cgi"
	stop "$npid"
	# fcgiwrap -c forks its workers; they do not follow their parent.
	kids=$(pgrep -P "$fwpid" || :)
	stop "$fwpid"
	for k in $kids; do kill "$k" 2>/dev/null || :; done
}

# The timing log's cost, and 256 connections with cgigate's peak memory.
run_extra() {
	start_cgigate "[route /hello]
min_workers = 4
max_workers = 4
max_queue_wait = 10s"
	waitport "$cgport" hello
	measure "cgigate FastCGI, 4 workers, timings on (W1)" \
	    "http://127.0.0.1:$cgport/hello"
	conns=256
	measure "cgigate FastCGI, 4 workers, 256 connections (W1)" \
	    "http://127.0.0.1:$cgport/hello"
	measure "cgigate CGI, 256 connections (W1)" \
	    "http://127.0.0.1:$cgport/hello-c"
	conns=30
	echo "cgigate peak RSS (VmHWM) after 256 connections: $(awk \
	    '/VmHWM/ { print $2, $3 }' "/proc/$cgpid/status")" >>"$tmp/notes"
	stop "$cgpid"
	start_cgigate "[route /hello]
min_workers = 4
max_workers = 4
max_queue_wait = 10s" off
	waitport "$cgport" hello
	measure "cgigate FastCGI, 4 workers, timings off (W1)" \
	    "http://127.0.0.1:$cgport/hello"
	stop "$cgpid"
}

case $what in
cgi) run_cgi; run_fcgiwrap ;;
fcgi) run_fcgi ;;
extra) run_extra ;;
all) run_cgi; run_fcgiwrap; run_fcgi; run_extra ;;
*) echo "usage: bench.sh [cgi|fcgi|extra|all] [DURATION]" >&2; exit 2 ;;
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
echo
ratio() {	# label a b
	a=$(rate "$2"); b=$(rate "$3")
	[ -n "$a" ] && [ -n "$b" ] &&
	    awk -v l="$1" -v a="$a" -v b="$b" \
	    'BEGIN { printf "%s: %.2fx\n", l, a / b }'
}
for w in W1 W2; do
	ratio "cgigate CGI / raw spawn ceiling ($w)" "cgigate CGI ($w)" \
	    "raw spawn ceiling ($w)" || :
	ratio "cgigate CGI / lighttpd mod_cgi ($w)" "cgigate CGI ($w)" \
	    "lighttpd mod_cgi ($w)" || :
	ratio "cgigate CGI / nginx + fcgiwrap ($w)" "cgigate CGI ($w)" \
	    "nginx + fcgiwrap -c 4 ($w)" || :
	for n in 2 4; do
		ratio "cgigate FastCGI / nginx fastcgi_pass, $n processes ($w)" \
		    "cgigate FastCGI, $n workers ($w)" \
		    "nginx fastcgi_pass, spawn-fcgi -F $n ($w)" || :
	done
done
ratio "timing log on / off (FastCGI W1)" \
    "cgigate FastCGI, 4 workers, timings on (W1)" \
    "cgigate FastCGI, 4 workers, timings off (W1)" || :
