#!/bin/sh
# privdrop.sh: started as root, cgigate binds (a privileged port too) and
# becomes the configured user before serving; handlers and FastCGI
# workers run as that user; without a user it will not run as root
# unless told to.
. "$(dirname "$0")/gw.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root"
nobody=$(id -u nobody 2>/dev/null) || skip "no user nobody"
chmod 755 "$W"
mkdir -p "$W/www"
cat >"$H/whoami.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\n%s %s\n' "$(id -u)" "$(id -G)"
EOF
chmod 755 "$H/whoami.cgi"
cp "$TB/tests/fixtures/fcgi-fixture" "$H/pool.fcgi"

out=$("$GATEWAY" --listen 127.0.0.1:0 --handlers "$H" --www "$W/www" \
    --timings "$W/t0.db" 2>&1)
rc=$?
[ $rc -ne 0 ] && ok "as root with no user: refuses to start ($rc)" ||
    not_ok "as root with no user: refuses to start"
expect_contains "and says why" "would run every handler as root" "$out"
out=$("$GATEWAY" --listen 127.0.0.1:0 --handlers "$H" --user no-such-user \
    --timings "$W/t0.db" 2>&1)
expect_contains "an unknown user is refused" "no-such-user: no such user" "$out"

# A free privileged port.
port=
for p in $(seq 700 999); do
	curl -s -m 1 -o /dev/null "http://127.0.0.1:$p/" 2>/dev/null
	[ $? -eq 7 ] && { port=$p; break; }	# refused: nobody there
done
[ -n "$port" ] || skip "no free port below 1024"
GW_LOG="$W/gateway.priv.log"
"$GATEWAY" --listen "127.0.0.1:$port" --user nobody --handlers "$H" \
    --www "$W/www" --timings "$W/timings.db" 2>"$GW_LOG" &
GW_PID=$!
track "$GW_PID"
wait_port "$port"
URL="http://127.0.0.1:$port"

out=$(curl -s "$URL/whoami")
expect_eq "on port $port, the handler runs as nobody" "$nobody" "${out%% *}"
uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$GW_PID/status")
expect_eq "cgigate itself is nobody (real, effective, saved, fs)" \
    "$nobody $nobody $nobody $nobody" "$uids"
bad=""
for t in /proc/$GW_PID/task/*; do
	u=$(awk '/^Uid:/ { print $3 }' "$t/status")
	[ "$u" = "$nobody" ] || bad="$bad ${t##*/}:$u"
done
expect_eq "every thread switched" "" "$bad"
groups=$(awk '/^Groups:/ { $1 = ""; print }' "/proc/$GW_PID/status" | tr -s ' ')
case " $groups " in
*" 0 "*) not_ok "root's group is gone ($groups)" ;;
*) ok "root's group is gone (groups:$groups)" ;;
esac
curl -s -o /dev/null "$URL/pool"
w=$(pgrep -P "$GW_PID" -f pool.fcgi | head -n 1)
expect_eq "FastCGI workers run as nobody" "$nobody" \
    "$(awk '/^Uid:/ { print $3 }' "/proc/$w/status" 2>/dev/null)"
stop_gateway
expect_eq "and stops cleanly" 0 "$GW_RC"
expect_eq "the timing rows were written after the switch" 2 \
    "$(sql "select count(*) from requests where status = 200")"
finish
