#!/bin/sh
# cgi_security.sh: what a handler inherits (descriptors, group, directory,
# limits), and that nothing outside the handlers directory ever runs.
. "$(dirname "$0")/gw.sh"

mkdir -p "$H/sub" "$W/outside" "$W/www"
[ -x "$TB/tests/fixtures/fdlist" ] || skip "tests/fixtures/fdlist not built"
cp "$TB/tests/fixtures/fdlist" "$H/fds.cgi"
cat >"$H/sub/self.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\n'
echo "cwd=$(pwd)"
echo "pid=$$ pgid=$(ps -o pgid= -p $$ | tr -d ' ')"
echo "nofile=$(ulimit -n) cpu=$(ulimit -t)"
EOF
cat >"$W/outside/evil.cgi" <<'EOF'
#!/bin/sh
touch "$(dirname "$0")/RAN"
printf 'Content-Type: text/plain\n\nevil\n'
EOF
cp "$W/outside/evil.cgi" "$H/plain.cgi"
cp "$W/outside/evil.cgi" "$H/writable.cgi"
cp "$W/outside/evil.cgi" "$H/setuid.cgi"
cp "$W/outside/evil.cgi" "$H/fine.fcgi.cgi"
chmod 755 "$H"/*.cgi "$H"/sub/*.cgi "$W/outside/evil.cgi"
chmod 644 "$H/plain.cgi"
chmod 757 "$H/writable.cgi"
chmod 4755 "$H/setuid.cgi"
ln -s "$W/outside/evil.cgi" "$H/link.cgi"
ln -s "$W/outside" "$H/outdir"
ln -s sub/self.cgi "$H/alias.cgi"
mkdir -p "$H/v1."
cp "$H/sub/self.cgi" "$H/v1./self.cgi"
chmod 755 "$H/v1./self.cgi"
mkdir -p "$H/swap" "$W/outside2/swap"
cp "$W/outside/evil.cgi" "$H/swap/run.cgi"
sed 's/RAN/RAN2/' "$W/outside/evil.cgi" >"$W/outside2/swap/run.cgi"
chmod 755 "$H/swap/run.cgi" "$W/outside2/swap/run.cgi"

{ server_conf; cat <<EOF; } >"$W/cgigate.conf"
[route /sub]
rlimit_nofile = 64
rlimit_cpu = 7
EOF
start_gateway --config "$W/cgigate.conf"

# Only 0, 1 and 2, even while many requests run at once.
i=0
jobs=""
while [ $i -lt 24 ]; do
	curl -s "$URL/fds" >"$W/fds.$i" &
	jobs="$jobs $!"
	i=$((i + 1))
done
for j in $jobs; do wait "$j"; done
bad=0
for f in "$W"/fds.*; do
	[ "$(cat "$f")" = "0 1 2 " ] || { bad=$((bad + 1)); echo "# $f: $(cat "$f")"; }
done
expect_eq "24 concurrent handlers see exactly fds 0 1 2" 0 "$bad"

out=$(curl -s "$URL/sub/self")
expect_contains "cwd is the handler's directory" "cwd=$H/sub" "$out"
pid=$(echo "$out" | sed -n 's/^pid=\([0-9]*\) .*/\1/p')
expect_contains "own process group (pgid = pid)" "pgid=$pid" "$out"
expect_contains "rlimit_nofile applied" "nofile=64" "$out"
expect_contains "rlimit_cpu applied" "cpu=7" "$out"

# Traversal and encoding tricks: 4xx, and nothing outside runs.
for p in '/..%2f..%2foutside/evil.cgi' '/%2e%2e/outside/evil.cgi' \
    '/sub/..%2f..%2foutside/evil' '/sub%2fself' '/sub%5cself' \
    '/fds%00.cgi' '/sub\self' '//sub/self' '/sub//self' \
    '/sub/./self' '/sub/../fds' '/%2e%2e/%2e%2e/etc/passwd' '/%zz' \
    '/outdir/evil'; do
	code=$(curl -s --path-as-is -o "$W/trav" -w '%{http_code}' "$URL$p")
	case $code in
	4??) ok "$p refused ($code)" ;;
	*) not_ok "$p refused (got $code: $(head -c 80 "$W/trav"))" ;;
	esac
done
[ ! -e "$W/outside/RAN" ] && ok "nothing outside the handlers dir ran" ||
    not_ok "nothing outside the handlers dir ran"

expect_eq "symlink leaving the dir -> 403" 403 "$(http_code "$URL/link")"
expect_eq "non-executable file -> 403" 403 "$(http_code "$URL/plain")"
expect_eq "world-writable file -> 403" 403 "$(http_code "$URL/writable")"
expect_eq "setuid file -> 403" 403 "$(http_code "$URL/setuid")"
[ ! -e "$H/RAN" ] && ok "none of the refused handlers ran" ||
    not_ok "none of the refused handlers ran"
expect_log "refusals are logged" "world-writable"

# Whether a handler may run is decided again at each request, not by the
# last walk of the directory (every 500 ms): these ask right after a change.
out=$(curl -s "$URL/alias")
expect_contains "a link inside the dir runs its target, in the target's dir" \
    "cwd=$H/sub" "$out"
expect_contains "a directory name ending in a dot (the realpath way)" \
    "cwd=$H/v1." "$(curl -s "$URL/v1./self")"
expect_eq "a handler in a subdirectory" 200 "$(http_code "$URL/swap/run")"
mv "$H/swap" "$H/swap.old" && ln -s "$W/outside2/swap" "$H/swap"
code=$(http_code "$URL/swap/run")
case $code in
4??) ok "its directory swapped for a link outside: refused ($code)" ;;
*) not_ok "its directory swapped for a link outside: got $code" ;;
esac
[ ! -e "$W/outside2/swap/RAN2" ] && ok "the swapped-in program did not run" ||
    not_ok "the swapped-in program did not run"
chmod 644 "$H/sub/self.cgi"
expect_eq "execute bit taken away: 403 at once" 403 \
    "$(http_code "$URL/sub/self")"
chmod 755 "$H/sub/self.cgi"
p0=$(gw_log | grep -c "GET /plain -> ")
l0=$(gw_log | wc -l)
mv "$H/plain.cgi" "$W/plain.cgi"
expect_eq "a handler removed: 404 at once" 404 "$(http_code "$URL/plain")"
# The request's own check logs "handler vanished".  If the directory walk
# (every 500 ms) came between the mv and the request, the walk logged the
# route's removal and the request, finding no route, was a static miss,
# which logs nothing (seen once in a parallel make check).
i=0
until gw_log | grep -q "GET /plain -> 404: handler vanished" ||
    [ $i -ge 20 ]; do
	i=$((i + 1))
	sleep 0.1
done
if gw_log | grep -q "GET /plain -> 404: handler vanished"; then
	ok "the removal is logged"
elif [ "$(gw_log | grep -c "GET /plain -> ")" -eq "$p0" ] &&
    gw_log | sed "1,${l0}d" | grep -q "routes (was"; then
	ok "the removal is logged (by the walk, which came first)"
else
	not_ok "the removal is logged"
fi

# New handlers go live, removed ones go away, without a restart.
cp "$H/sub/self.cgi" "$H/newcomer.cgi"
t0=$(now_ms)
code=404
while [ "$code" = 404 ] && [ $(($(now_ms) - t0)) -lt 5000 ]; do
	code=$(http_code "$URL/newcomer")
	[ "$code" = 404 ] && sleep 0.1
done
t1=$(now_ms)
expect_eq "a dropped-in handler is served" 200 "$code"
[ $((t1 - t0)) -le 1500 ] && ok "within a second or so ($((t1 - t0)) ms)" ||
    not_ok "within a second or so ($((t1 - t0)) ms)"
rm "$H/newcomer.cgi"
sleep 1.2
expect_eq "a removed handler is gone" 404 "$(http_code "$URL/newcomer")"

# cgigate authenticates nobody: a password file where civetweb would look
# for one on every request ("/.htpasswd") asks no password.  Only as root
# and only where there is none; it is gone again at once.
if [ "$(id -u)" -eq 0 ] && [ ! -e /.htpasswd ]; then
	printf 'hi\n' >"$W/www/hi.txt"
	printf 'u:cgigate:5f4dcc3b5aa765d61d8327deb882cf99\n' >/.htpasswd
	c1=$(http_code "$URL/sub/self")
	c2=$(http_code "$URL/hi.txt")
	rm -f /.htpasswd
	expect_eq "a /.htpasswd asks no password for a handler" 200 "$c1"
	expect_eq "a /.htpasswd asks no password for a static file" 200 "$c2"
fi

stop_gateway
n=$(sql "select count(*) from requests where status = 403 and error is not null
    and path != '/swap/run'")
expect_eq "every 403 has a row with its reason" 17 "$n"
n=$(sql "select count(*) from requests where status = 403 and error is null")
expect_eq "no 403 without a reason" 0 "$n"
finish
