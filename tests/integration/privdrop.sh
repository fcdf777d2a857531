#!/bin/sh
# privdrop.sh: started as root, cgigate binds (a privileged port too) and
# becomes the configured user before serving; handlers and FastCGI
# workers run as that user; without a user it will not run as root
# unless told to.  Started as the user with CAP_NET_BIND_SERVICE in its
# ambient set, it binds a privileged port and its handlers hold nothing.
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

# Started as the user itself with CAP_NET_BIND_SERVICE in its ambient set
# (the systemd unit's AmbientCapabilities= for a port below 1024): it
# binds the port, and the handlers it starts hold no capability.
cat >"$H/caps.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\n'
awk '/^Cap(Prm|Eff|Amb):/ { printf "%s%s", s, $2; s = " " }' /proc/self/status
EOF
chmod 755 "$H/caps.cgi"
mkdir -p "$W/caps"
chown nobody "$W/caps"
GW_LOG="$W/gateway.caps.log"
setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
    --inh-caps=+net_bind_service --ambient-caps=+net_bind_service \
    "$GATEWAY" --listen "127.0.0.1:$port" --handlers "$H" --www "$W/www" \
    --timings "$W/caps/timings.db" 2>"$GW_LOG" &
GW_PID=$!
track "$GW_PID"
wait_port "$port"
expect_eq "as nobody with CAP_NET_BIND_SERVICE: port $port" "$nobody" \
    "$(awk '/^Uid:/ { print $3 }' "/proc/$GW_PID/status" 2>/dev/null)"
expect_eq "its handlers hold no capability (permitted, effective, ambient)" \
    "0000000000000000 0000000000000000 0000000000000000" \
    "$(curl -s "$URL/caps")"
stop_gateway
expect_eq "and stops cleanly" 0 "$GW_RC"
# A configuration only root may read (0600): after the switch to nobody,
# a SIGHUP still reads it, through the reader forked while root.
cat >"$H/greet.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\n%s\n' "$GREETING"
EOF
chmod 755 "$H/greet.cgi"
greet() {
	printf '[server]\nuser = nobody\nhandlers = %s\nwww = %s/www\n' \
	    "$H" "$W"
	printf 'timings = %s/root.db\n[route /greet]\nenv = GREETING=%s\n' \
	    "$W" "$1"
}
greet one >"$W/root.conf"
chmod 600 "$W/root.conf"
start_gateway --config "$W/root.conf"
expect_eq "root-only file: cgigate runs as nobody" "$nobody" \
    "$(awk '/^Uid:/ { print $3 }' "/proc/$GW_PID/status")"
su nobody -s /bin/sh -c "cat '$W/root.conf'" >/dev/null 2>&1 &&
    not_ok "nobody cannot read the file" || ok "nobody cannot read the file"
expect_eq "root-only file: the first setting" one "$(curl -s "$URL/greet")"
greet two >"$W/root.conf"
kill -HUP "$GW_PID"
retry 50 eval '[ "$(curl -s "$URL/greet")" = two ]'
expect_eq "root-only file: SIGHUP read it" two "$(curl -s "$URL/greet")"
expect_absent "and nothing was refused" "Permission denied" "$(gw_log)"
reader=$(pgrep -P "$GW_PID" -x cgigate | head -n 1)
expect_eq "the reader is root" 0 \
    "$(awk '/^Uid:/ { print $3 }' "/proc/$reader/status" 2>/dev/null)"
expect_eq "and holds nothing but its socket and stdio" 4 \
    "$(ls "/proc/$reader/fd" 2>/dev/null | wc -l)"
stop_gateway
expect_eq "root-only file: stops cleanly" 0 "$GW_RC"
running "$reader" && not_ok "the reader ends with cgigate" ||
    ok "the reader ends with cgigate"

# A timings directory cgigate makes as root becomes the user's: the
# dashboard's reader opens the database, and the WAL goes at the end.
start_gateway --user nobody --handlers "$H" --www "$W/www" \
    --timings "$W/made/t.db"
expect_eq "the timings directory it made is nobody's" "$nobody" \
    "$(stat -c %u "$W/made")"
curl -s -o /dev/null "$URL/whoami"
expect_eq "the dashboard reads the database" 200 \
    "$(http_code "$URL/_gateway/timeseries")"
stop_gateway
expect_eq "no -wal file stays behind" "t.db" "$(ls "$W/made")"
# One that was there, root's and closed to others: a warning says so.
mkdir -m 700 "$W/closed"
start_gateway --user nobody --handlers "$H" --www "$W/www" \
    --timings "$W/closed/t.db"
expect_log "a timings directory nobody cannot write is warned of" \
    "warn: timings: the directory $W/closed is not writable by user $nobody"
stop_gateway
finish
