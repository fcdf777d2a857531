#!/bin/sh
# orphans.sh: nothing cgigate started outlives it, even a kill -9.
#
# In flight when cgigate goes: a CGI handler that is a shell with a
# background child, and a FastCGI worker that is a shell wrapper around
# the fixture (the shell stays its parent, so the fixture has no
# parent-death signal).  Every descendant of cgigate is listed from /proc
# before the kill; afterwards each must be gone.  Nobody here reaps
# orphans (PID 1 of a container may not), so a zombie counts as gone.
. "$(dirname "$0")/gw.sh"

FIX="$TB/tests/fixtures/fcgi-fixture"
[ -x "$FIX" ] || skip "fixture not built ($FIX)"

cat >"$H/linger.cgi" <<EOF
#!/bin/sh
sleep 600 &
echo "\$\$ \$!" >"$W/cgi.tmp"
mv "$W/cgi.tmp" "$W/cgi.\$QUERY_STRING"
sleep 600
EOF
cat >"$H/wrapped.fcgi" <<EOF
#!/bin/sh
echo \$\$ >"$W/wrapper.\$\$"
"$FIX"
EOF
chmod 755 "$H/linger.cgi" "$H/wrapped.fcgi"
mkdir -p "$W/www"
{ server_conf; cat <<EOF; } >"$W/cgigate.conf"
drain_timeout = 200ms
[route /linger]
timeout = 600s
[route /wrapped]
min_workers = 1
max_workers = 1
EOF

# Every descendant of a process, from the kernel's children lists.
descendants() {	# pid
	for _c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$_c"
		descendants "$_c"
	done
}

# Gone: no such process, or a zombie nobody reaps.
gone() {	# pid
	_s=$(sed 's/.*) //' /proc/"$1"/stat 2>/dev/null) || return 0
	[ -z "$_s" ] || [ "${_s%% *}" = Z ]
}

all_gone() {
	for _p in $PIDS; do
		gone "$_p" || return 1
	done
}

survivors() {
	for _p in $PIDS; do
		gone "$_p" || printf ' %s(%s)' "$_p" \
		    "$(cat /proc/"$_p"/comm 2>/dev/null)"
	done
}

# Start the gateway with a handler and a wrapped worker running; sets
# PIDS to every process below cgigate.
run_both() {	# tag
	# Workers an earlier run started since its look leave their files:
	# "wrapper.877" would sort after this run's "wrapper.1006".
	rm -f "$W"/wrapper.*
	start_gateway --config "$W/cgigate.conf"
	curl -s -m 700 -o /dev/null "$URL/linger?$1" &
	track $!
	fix=$(curl -s -m 10 "$URL/wrapped" | sed -n 's/^pid=\([0-9]*\) .*/\1/p')
	wait_file "$W/cgi.$1" 100 || not_ok "$1: the CGI handler started"
	read -r sh bg <"$W/cgi.$1"
	wrapper=$(cat "$W"/wrapper.* 2>/dev/null | tail -n 1)
	rm -f "$W"/wrapper.*
	PIDS=$(descendants "$GW_PID")
	# Whatever happens below, the cleanup stops them all by PID.
	for p in $PIDS; do track "$p"; done
	for p in "$sh" "$bg" "$wrapper" "$fix"; do
		case " $(echo $PIDS) " in
		*" $p "*) ;;
		*) not_ok "$1: process '$p' runs below cgigate ($PIDS)" ;;
		esac
	done
	n=$(echo $PIDS | wc -w)
	# The handler shell, its two sleeps, the wrapper and the fixture.
	expect_ge "$1: processes below cgigate" 5 "$n"
}

run_both kill9
kill -KILL "$GW_PID"
wait "$GW_PID" 2>/dev/null
GW_PID=
if retry 50 all_gone; then
	ok "kill -9: the CGI handler, its child, the wrapped worker and its" \
	    "child are gone"
else
	not_ok "kill -9: still running:$(survivors)"
fi

# A keeper that died leaves cgigate serving: the first spawn after it
# writes to a pipe nobody reads, and the SIGPIPE that write raises must
# not kill the handler.
cat >"$H/quick.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\nquick\n'
EOF
chmod 755 "$H/quick.cgi"
start_gateway --config "$W/cgigate.conf"
kp=
for c in $(cat /proc/"$GW_PID"/task/*/children 2>/dev/null); do
	[ "$(cat /proc/"$c"/comm 2>/dev/null)" = cgigate-keeper ] && kp=$c
done
expect_eq "cgigate has a keeper" cgigate-keeper \
    "$(cat /proc/"${kp:-0}"/comm 2>/dev/null)"
kill -KILL "$kp" 2>/dev/null
cl=
for i in 1 2 3 4 5 6 7 8; do
	curl -s -m 10 -o /dev/null -w '%{http_code}\n' "$URL/quick" \
	    >"$W/quick.$i" &
	cl="$cl $!"
done
for p in $cl; do wait "$p"; done
expect_eq "with the keeper just killed, 8 requests at once: all 200" \
    "8 200" "$(cat "$W"/quick.* | sort | uniq -c | awk '{print $1, $2}' |
    tr '\n' ' ' | sed 's/ $//')"
expect_log "and the log says the keeper is gone" "keeper: "
stop_gateway

# A graceful stop ends them too, and leaves nothing behind.
run_both term
stop_gateway
expect_eq "SIGTERM: exit status 0" 0 "$GW_RC"
if retry 50 all_gone; then
	ok "SIGTERM: nothing cgigate started is left"
else
	not_ok "SIGTERM: still running:$(survivors)"
fi
finish
