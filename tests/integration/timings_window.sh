#!/bin/sh
# timings_window.sh: requests has no index on ts; a time window is a range
# of row ids that request_seconds gives (cgigate-timings(7)).  Every
# window has exactly the rows whose ts is in it, however the requests
# overlapped (a row's ts is when its request began, its id when it
# ended), after the table was emptied under the gateway, and in a
# database of an earlier version; the views read their window, never the
# whole table; retention keeps request_seconds as short as the rows.
. "$(dirname "$0")/gw.sh"

cat >"$H/fast.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\nfast\n'
EOF
cat >"$H/slow.cgi" <<'EOF'
#!/bin/sh
sleep "${QUERY_STRING:-1}"
printf 'Content-Type: text/plain\n\nslow\n'
EOF
chmod 755 "$H"/*.cgi
mkdir -p "$W/www"

# The rows from ts $1 on, found the way the page says: by id from
# request_seconds, then by ts.
window() {
	echo "select count(*) from requests where id >= (select first_id
	    from request_seconds where sec >= cast($1 as integer)
	    order by sec limit 1) and ts >= $1"
}

# How many of the rows' own times, as window starts, find other rows than
# a scan of ts does: 0 when every window is exact.
misses() {
	sql "select count(*) from (select ts as x from requests) where
	    (select count(*) from requests where ts >= x) != ($(window x))"
}

server_conf >"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"

# Requests that overlap across seconds: slow ones of 0.5 to 2 s begun
# while fast ones go on, so that rows are written out of the order of
# their ts and in several seconds.
for s in 2 1.5 0.5 1 2; do
	curl -s -o /dev/null "$URL/slow?$s" &
	track $!
	sleep 0.3
	curl -s -o /dev/null "$URL/fast"
	curl -s -o /dev/null "$URL/fast"
done
sleep 0.5
for i in 1 2 3 4 5 6; do
	curl -s -o /dev/null "$URL/fast"
	sleep 0.2
done
wait_sql 21 "select count(*) from requests"
expect_eq "rows were written out of the order of their ts" 1 \
    "$(sql "select count(*) > 0 from requests a join requests b
    on b.id > a.id where b.ts < a.ts")"
expect_ge "in several seconds" 3 \
    "$(sql "select count(*) from request_seconds")"
expect_eq "every window from a row's ts has exactly the rows from it" 0 \
    "$(misses)"
expect_eq "and from each second of them" 0 \
    "$(sql "select count(*) from (select distinct cast(ts as integer) as x
    from requests) where (select count(*) from requests where ts >= x)
    != ($(window x))")"
expect_eq "last_hour has every row, last_day too" "21|21" \
    "$(sql "select (select count(*) from last_hour),
    (select count(*) from last_day)")"

# Each view reads a range of ids, not the table; so do the queries of
# the page that bound a window.
for v in last_hour last_day route_stats slowest_recent recent_errors \
    startup_cost; do
	plan=$(sql "explain query plan select * from $v")
	case $plan in
	*"SCAN requests"*) not_ok "$v scans requests: $plan" ;;
	*"SEARCH requests USING INTEGER PRIMARY KEY (rowid>?)"*)
		ok "$v reads its window by row id" ;;
	*) not_ok "$v: no range of row ids in its plan: $plan" ;;
	esac
done

# An admin empties the table: SQLite gives ids from 1 again, below the
# seconds noted; those seconds go, and windows that begin in them find
# the new rows.
secs=$(sql "select group_concat(sec, ' ') from request_seconds
    where first_id > 3")
sql "delete from requests"
sleep 1.1
for i in 1 2 3; do curl -s -o /dev/null "$URL/fast"; done
wait_sql 3 "select count(*) from requests"
expect_eq "emptied: the new rows have ids from 1" 1 \
    "$(sql "select min(id) from requests")"
expect_eq "and last_hour has them" 3 "$(sql "select count(*) from last_hour")"
expect_eq "as every window from their times does" 0 "$(misses)"
bad=0
for s in $secs; do
	[ "$(sql "$(window "$s")")" = 3 ] || bad=$((bad + 1))
done
expect_ge "the rows deleted had seconds past the new ids" 2 \
    "$(echo $secs | wc -w)"
expect_eq "every window from those seconds has the new rows" \
    "0 of $(echo $secs | wc -w)" "$bad of $(echo $secs | wc -w)"

# An admin empties request_seconds: the next batch notes a second that
# covers every row, and windows stay exact.
sql "delete from request_seconds"
sleep 1.1
for i in 1 2; do curl -s -o /dev/null "$URL/fast"; done
wait_sql 5 "select count(*) from requests"
expect_eq "request_seconds emptied: last_hour has the rows before and after" \
    5 "$(sql "select count(*) from last_hour")"
expect_eq "and every window is exact" 0 "$(misses)"
# Its latest second deleted: put back as it was.
sleep 1.1
curl -s -o /dev/null "$URL/fast"
wait_sql 6 "select count(*) from requests"
retry 20 sql_is 1 "select count(*) > 1 from request_seconds"
latest=$(sql "select sec || '|' || first_id from request_seconds
    order by sec desc limit 1")
sql "delete from request_seconds where sec = ${latest%%|*}"
curl -s -o /dev/null "$URL/fast"
wait_sql 7 "select count(*) from requests"
retry 20 sql_is 1 "select count(*) from request_seconds
    where sec = ${latest%%|*}"
expect_eq "its latest second deleted: put back as it was" "$latest" \
    "$(sql "select sec || '|' || first_id from request_seconds
    where sec = ${latest%%|*}")"
expect_eq "and every window is exact" 0 "$(misses)"
stop_gateway

# A database of an earlier version: an index on ts, no request_seconds.
# Its rows of the last hour are in last_hour from the start, and the
# index goes.
OLD="$W/old.db"
sqlite3 "$OLD" "$FIRST_REQUESTS
    create index requests_ts on requests(ts);
    insert into requests (ts, mode, path, status) values
    (unixepoch() - 7200, 'cgi', '/two-hours', 200),
    (unixepoch() - 600, 'cgi', '/ten-minutes', 200),
    (unixepoch() - 30, 'cgi', '/now', 200);"
{ server_conf | sed "s|^timings = .*|timings = $OLD|"; } >"$W/old.conf"
start_gateway --config "$W/old.conf"
curl -s -o /dev/null "$URL/fast"
stop_gateway
expect_eq "old database: the ts index is gone" 0 \
    "$(sqlite3 "$OLD" "select count(*) from sqlite_master
    where name = 'requests_ts'")"
expect_eq "its rows of the hour are in last_hour, with the new one" \
    "/fast /now /ten-minutes" \
    "$(sqlite3 "$OLD" "select path from last_hour order by path" |
    tr '\n' ' ' | sed 's/ $//')"
expect_eq "and every window is exact" 0 \
    "$(sqlite3 "$OLD" "select count(*) from (select ts as x from requests)
    where (select count(*) from requests where ts >= x) !=
    ($(window x))")"

# request_seconds emptied by an admin: the next start covers the rows.
sqlite3 "$OLD" "delete from request_seconds"
start_gateway --config "$W/old.conf"
stop_gateway
expect_eq "request_seconds emptied: the next start covers every row" \
    "3|0" "$(sqlite3 "$OLD" "select (select count(*) from last_hour),
    (select count(*) from (select ts as x from requests)
    where (select count(*) from requests where ts >= x) !=
    ($(window x)))")"

# Retention keeps one second at or before the first row and none older.
{ server_conf; echo "timings_max_rows = 5"; } >"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"
for i in 1 2 3 4 5 6; do
	curl -s -o /dev/null "$URL/fast"
	curl -s -o /dev/null "$URL/fast"
	sleep 0.6
done
wait_sql 5 "select count(*) from requests"
retry 50 sql_is 1 "select count(*) from request_seconds
    where first_id <= (select min(id) from requests)"
expect_eq "max_rows: one second left at or before the first row" 1 \
    "$(sql "select count(*) from request_seconds
    where first_id <= (select min(id) from requests)")"
expect_eq "and every window is exact" 0 "$(misses)"
stop_gateway
finish
