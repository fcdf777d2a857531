#!/bin/sh
# timings_file.sh: the timing database's file taken away or filled up
# while cgigate runs.  Deleted, or replaced by another, it is noticed
# and opened again at the same path, and the next rows are in it; on a
# full disk (a small tmpfs, as root) requests are still answered, every
# row lost is counted in the status endpoint's dropped and said in the
# log, and once there is room an events row says how many were lost.
. "$(dirname "$0")/gw.sh"

FULL=
# The tmpfs goes at the end whatever happens; the gateway writing to it
# first, or it would be busy.
unmount_full() {
	[ -n "$FULL" ] || return 0
	stop_tracked
	umount "$FULL" 2>/dev/null || umount -l "$FULL"
	FULL=
}
trap '_st=$?; unmount_full; (exit $_st); cleanup' EXIT

mkdir -p "$W/www"
for f in a b c d e f g; do echo "$f" >"$W/www/$f.txt"; done

dropped() {
	curl -s -m 5 "$URL/_gateway/status" |
	    sed -n 's/.*"timings":{[^}]*"dropped":\([0-9]*\).*/\1/p'
}

server_conf >"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"
curl -s -o /dev/null "$URL/a.txt"
wait_sql 1 "select count(*) from requests where path = '/a.txt'"

# Deleted: only the main file, as "rm timings.db" does.
rm "$W/timings.db"
curl -s -o /dev/null "$URL/b.txt"
expect_log "a deleted database is noticed" "timings.db was deleted or replaced"
expect_log "and opened again" "timings.db opened again"
curl -s -o /dev/null "$URL/c.txt"
# (the status requests below have rows too)
wait_sql 2 "select count(*) from requests where path like '%.txt'"
expect_eq "the next rows are in a new file at the path, the old not" \
    "/b.txt /c.txt" "$(sql "select group_concat(path, ' ') from
    (select path from requests where path like '%.txt' order by id)")"
expect_eq "nothing counted lost" 0 "$(dropped)"

# Replaced: another SQLite database moved over it.
sqlite3 "$W/other.db" "create table marker (x); insert into marker values (42)"
ino=$(stat -c %i "$W/other.db")
mv "$W/other.db" "$W/timings.db"
curl -s -o /dev/null "$URL/d.txt"
retry 30 sh -c "[ \$(grep -c 'timings.db was deleted or replaced' \
    $W/gateway.*.log) -ge 2 ]" && ok "a replaced database is noticed" ||
    not_ok "a replaced database is noticed"
curl -s -o /dev/null "$URL/e.txt"
wait_sql 2 "select count(*) from requests where path like '%.txt'"
expect_eq "the next rows are in the file put there, schema and all" \
    "42 /d.txt /e.txt $ino" "$(sql "select (select x from marker) || ' ' ||
    group_concat(path, ' ') from (select path from requests
    where path like '%.txt' order by id)") $(stat -c %i "$W/timings.db")"
expect_eq "nothing counted lost" 0 "$(dropped)"

# Renamed away (rotated): the old file keeps every row it was given,
# its WAL's too, and the path starts afresh.
mv "$W/timings.db" "$W/rotated.db"
curl -s -o /dev/null "$URL/f.txt"
retry 30 sh -c "[ \$(grep -c 'timings.db was deleted or replaced' \
    $W/gateway.*.log) -ge 3 ]" && ok "a database renamed away is noticed" ||
    not_ok "a database renamed away is noticed"
wait_sql /f.txt "select group_concat(path, ' ') from requests
    where path like '%.txt'"
expect_eq "the next rows go to a new file at the path" /f.txt \
    "$(sql "select group_concat(path, ' ') from requests
    where path like '%.txt'")"
expect_eq "the renamed file keeps its rows" "42 /d.txt /e.txt" \
    "$(sqlite3 "$W/rotated.db" "select (select x from marker) || ' ' ||
    group_concat(path, ' ') from (select path from requests
    where path like '%.txt' order by id)")"
stop_gateway

# A full disk.
FULL="$W/full"
mkdir -p "$FULL"
if ! mount -t tmpfs -o size=256k tmpfs "$FULL" 2>/dev/null; then
	FULL=
	skip_section "cannot mount a tmpfs (not root, or not allowed)"
	finish
fi
sqlf() { sqlite3 -cmd '.timeout 5000' "$FULL/timings.db" "$1"; }
{ printf '[server]\nhandlers = %s\nwww = %s\ntimings = %s\n' \
    "$H" "$W/www" "$FULL/timings.db"; } >"$W/full.conf"
start_gateway --config "$W/full.conf"
curl -s -o /dev/null "$URL/a.txt"
retry 50 sh -c "[ \"\$(sqlite3 -cmd '.timeout 5000' $FULL/timings.db \
    'select count(*) from requests')\" = 1 ]"
dd if=/dev/zero of="$FULL/filler" bs=4k 2>/dev/null
echo "# full: $(df -k "$FULL" | tail -n 1)"
codes=$(curl -s -o /dev/null -w '%{http_code}\n' "$URL/g.txt?[1-300]" |
    sort | uniq -c | awk '{ print $1 "x" $2 }' | tr '\n' ' ')
expect_eq "on a full disk requests are still answered" "300x200 " "$codes"
retry 50 sh -c "[ \"\$(curl -s -m 5 $URL/_gateway/status |
    sed -n 's/.*\"dropped\":\([0-9]*\).*/\1/p')\" -gt 0 ]"
lost=$(dropped)
expect_ge "the rows lost are counted as dropped in status" 1 "$lost"
# (each status or metrics request's own row is lost too)
expect_ge "and in the metrics" "$lost" "$(curl -s -m 5 "$URL/_gateway/metrics" |
    sed -n 's/^cgigate_timings_dropped_total //p')"
expect_log "the log says rows are being lost" "timing rows are being lost"
# Once per spell of trouble, not per batch that failed: a small batch can
# commit on a full disk now and then (in a WAL started again from its
# beginning, on blocks it already has), which ends one spell.
n=$(gw_log | grep -c "timing rows are being lost")
again=$(gw_log | grep -c "writing again")
[ "$n" -le $((again + 1)) ] &&
    ok "once per spell of trouble ($n, $again ended)" ||
    not_ok "once per spell of trouble ($n, $again ended)"
rm "$FULL/filler"
curl -s -o /dev/null "$URL/a.txt?again"
retry 50 sh -c "[ \"\$(sqlite3 -cmd '.timeout 5000' $FULL/timings.db \
    \"select count(*) from requests where query = 'again'\")\" = 1 ]"
expect_eq "with room again, rows are written" 1 \
    "$(sqlf "select count(*) from requests where query = 'again'")"
ev=$(sqlf "select group_concat(detail, ' / ') from events
    where kind = 'lost'")
echo "# $ev"
expect_contains "and an events row says how many were lost" " rows: " "$ev"
expect_eq "every one of them, as status counts them" "$(dropped)" \
    "$(sqlf "select sum(cast(detail as integer)) from events
    where kind = 'lost'")"
expect_log "and the log that it writes again" "writing again"
stop_gateway
unmount_full
finish
