#!/bin/sh
# cgi-w1.sh: cgigate's CGI mode against lighttpd's mod_cgi, one run, the
# same trivial C CGI program (handlers/hello-c.cgi) behind both.
#
#   sh tests/bench/cgi-w1.sh [DURATION]      (default 10s)
#
# Needs a built tree, wrk and lighttpd (installed with apt-get when missing
# and run as root).  Prints the exact commands and a markdown table.  Every
# server is started on an ephemeral loopback port and stopped by PID.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
dur=${1:-10s}
conns=30

for p in wrk lighttpd; do
	if ! command -v "$p" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$p" ]; then
		[ "$(id -u)" -eq 0 ] || { echo "cgi-w1: need $p" >&2; exit 1; }
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" \
		    >/dev/null
	fi
done
[ -x "$top/gateway/cgigate" ] || { echo "cgi-w1: build first" >&2; exit 1; }

tmp=$(mktemp -d /tmp/cgigate-bench.XXXXXX)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || :; done
	sleep 0.3
	for p in $pids; do kill -9 "$p" 2>/dev/null || :; done
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

mkdir -p "$tmp/h" "$tmp/www"
cp "$top/handlers/hello-c.cgi" "$tmp/h/hello-c.cgi"

freeport() {
	# Ask the kernel for a free loopback port by binding port 0.
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

waitport() {
	i=0
	until curl -s -o /dev/null "http://127.0.0.1:$1/"; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "cgi-w1: port $1 never answered" >&2; exit 1; }
		sleep 0.05
	done
}

measure() {	# name url
	wrk -t2 -c$conns -d2s "$2" >/dev/null 2>&1 || :	# warm-up
	out=$(wrk -t2 -c$conns -d"$dur" --latency "$2")
	echo "\$ wrk -t2 -c$conns -d$dur --latency $2" >&2
	echo "$out" | sed 's/^/    /' >&2
	rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
	p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
	p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
	errs=$(echo "$out" | awk '/Socket errors/ {print $0}' | sed 's/.*: //')
	non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
	echo "| $1 | $rps | $p50 | $p99 | ${errs:-none} | ${non2xx:-0} |" \
	    >>"$tmp/results"
	echo "$rps"
}

# cgigate, timing log on (as shipped).
port=$(freeport)
"$top/gateway/cgigate" --listen "127.0.0.1:$port" --handlers "$tmp/h" \
    --www "$tmp/www" --timings "$tmp/timings.db" 2>"$tmp/cgigate.log" &
pids="$pids $!"
cgpid=$!
waitport "$port"
cg=$(measure "cgigate CGI" "http://127.0.0.1:$port/hello-c")
rss=$(awk '/VmHWM/ {print $2}' "/proc/$cgpid/status")
kill "$cgpid"; wait "$cgpid" || :

# lighttpd mod_cgi, the same program.
lport=$(freeport)
cat > "$tmp/lighttpd.conf" <<EOF
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
pids="$pids $!"
lpid=$!
waitport "$lport"
lt=$(measure "lighttpd mod_cgi" "http://127.0.0.1:$lport/hello-c.cgi")
kill "$lpid"; wait "$lpid" || :

echo
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc: $(nproc)," \
    "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo
echo "| server | req/s | p50 | p99 | socket errors | non-2xx |"
echo "|---|---|---|---|---|---|"
cat "$tmp/results"
echo
awk -v a="$cg" -v b="$lt" 'BEGIN { printf "cgigate / lighttpd mod_cgi: %.2fx\n", a / b }'
echo "cgigate peak RSS under load: ${rss} kB"
