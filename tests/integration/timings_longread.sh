#!/bin/sh
# timings_longread.sh: an admin's read transaction held open on the
# timing database while requests come (issue 19).  SQLite can neither
# checkpoint past a reader's snapshot nor restart the WAL under it, so
# the writer stops committing once the WAL passes timings_wal_max and
# puts rows in the spool file beside the database instead.  With
# timings_wal_max = 1M and a sqlite3 holding BEGIN; SELECT ... while
# thousands of requests come, the -wal file stays near 1 MB, no row is
# dropped, and once the reader commits every request has its row, in
# the order sent, and the WAL is small again.  Then a stop while the
# reader still holds it: the rows stay in the spool, the log says how
# many, and the next start writes them.  Then retention over rows that
# came through the spool.
. "$(dirname "$0")/gw.sh"

N=8000
MAX=1048576
# One transaction may commit past the bound before the writer holds: a
# batch, 512 rows of this test's 700 bytes and their index pages, or a
# few times that when the writer waited for a CPU.  2 MB of slack; the
# WAL grew to 6.2 MB here before the spool.
SLACK=2097152
mkdir -p "$W/www"
echo s >"$W/www/s.txt"
# A 509-byte User-Agent marks the test's rows and makes them 700 bytes,
# so that the WAL passes its bound in a few thousand requests.
UA=$(printf 'longread-%0500d' 0)
MARK="user_agent LIKE 'longread-%'"

tval() {	# name: a number of the status endpoint's "timings"
	curl -s -m 5 "$URL/_gateway/status" |
	    sed -n "s/.*\"timings\":{[^}]*\"$1\":\([0-9]*\).*/\1/p"
}
walsize() { stat -c %s "$W/timings.db-wal" 2>/dev/null || echo 0; }

# The -wal file's size every 0.1 s until the file STOP exists, to
# $W/walsizes.
sample() {
	while [ ! -e "$W/stop" ]; do
		walsize
		sleep 0.1
	done >"$W/walsizes"
}

# A sqlite3 of the test's holds a read transaction: BEGIN and a SELECT
# through a FIFO kept open on fd 3; it touches $W/reading once the
# SELECT has run, so the snapshot is held from then on.  release_read
# commits and waits for it to end.
hold_read() {
	rm -f "$W/rd" "$W/reading"
	mkfifo "$W/rd"
	sqlite3 "$W/timings.db" <"$W/rd" >"$W/reader.log" 2>&1 &
	RD_PID=$!
	track "$RD_PID"
	exec 3>"$W/rd"
	printf 'BEGIN;\nSELECT count(*) FROM requests;\n.shell touch %s\n' \
	    "$W/reading" >&3
	wait_file "$W/reading" 50
}
release_read() {
	echo 'COMMIT;' >&3
	exec 3>&-
	wait "$RD_PID"
}

# Send N requests marked by the User-Agent on one kept-alive connection,
# query ?FROM to ?TO; prints how many were answered 200.
send() {	# from to
	curl -s -A "$UA" -o /dev/null -w '%{http_code}\n' \
	    "$URL/s.txt?[$1-$2]" | grep -c '^200$'
}

# The marked rows whose query is not above the row's before it (in id
# order): 0 when rows are in the order the requests were sent.
out_of_order() {
	sql "SELECT count(*) FROM (SELECT CAST(query AS INTEGER) AS q,
	    lag(CAST(query AS INTEGER)) OVER (ORDER BY id) AS p
	    FROM requests WHERE $MARK) WHERE q <= p"
}

spooled_gone() { [ "$(tval spooled)" = 0 ]; }

{ server_conf; echo "timings_wal_max = 1M"; } >"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"
curl -s -o /dev/null "$URL/s.txt?warm"
wait_sql 1 "SELECT count(*) FROM requests WHERE query = 'warm'"

hold_read || not_ok "the reader holds its snapshot"
rm -f "$W/stop"
sample &
SAMPLER=$!
track "$SAMPLER"
t0=$(now_ms)
sent=$(send 1 $N)
echo "# $sent requests in $(($(now_ms) - t0)) ms while the read is held"
# Every row taken from the queue, and a little more for a last batch.
retry 50 sh -c "[ \"\$(curl -s -m 5 $URL/_gateway/status |
    sed -n 's/.*\"queue_depth\":\([0-9]*\).*/\1/p')\" = 0 ]"
sleep 1
touch "$W/stop"
wait "$SAMPLER"
most=$(sort -n "$W/walsizes" | tail -n 1)
echo "# -wal sizes sampled: $(sort -n "$W/walsizes" | uniq | tr '\n' ' ' |
    cut -c 1-300)"
[ "$most" -le $((MAX + SLACK)) ] &&
    ok "while the reader holds it the WAL stays near timings_wal_max ($most bytes at most)" ||
    not_ok "while the reader holds it the WAL stays near timings_wal_max (up to $most bytes, bound $MAX + $SLACK)"
expect_eq "no row dropped" 0 "$(tval dropped)"
spooled=$(tval spooled)
expect_ge "status shows rows waiting in the spool" 1 "$spooled"
expect_log "the log says rows go to the spool" "rows go to $W/timings.db-spool"
# (each request to the endpoints has a row too, spooled behind)
expect_ge "as does the metrics endpoint" "$spooled" \
    "$(curl -s -m 5 "$URL/_gateway/metrics" |
    sed -n 's/^cgigate_timings_spooled //p')"

release_read
retry 100 spooled_gone
wait_sql "$sent" "SELECT count(*) FROM requests WHERE $MARK"
expect_eq "once the reader ends, one row per request sent" "$sent" \
    "$(sql "SELECT count(*) FROM requests WHERE $MARK")"
expect_eq "and one per query sent, none twice" "$sent" \
    "$(sql "SELECT count(DISTINCT query) FROM requests WHERE $MARK")"
expect_eq "in the order they were sent" 0 "$(out_of_order)"
expect_eq "none dropped" 0 "$(tval dropped)"
expect_eq "the spool is empty" 0 "$(tval spooled)"
expect_log "the log says the spool was written" "spool written:"
wait_sql 1 "SELECT count(*) FROM events WHERE kind = 'spool_end'"
expect_eq "events has the spool's start and end" "spool_start spool_end" \
    "$(sql "SELECT group_concat(kind, ' ') FROM (SELECT kind FROM events
    WHERE kind LIKE 'spool%' ORDER BY id LIMIT 2)")"
# Writing the spool went through the WAL too, and it is small again.
curl -s -o /dev/null "$URL/s.txt?after"
wait_sql 1 "SELECT count(*) FROM requests WHERE query = 'after'"
retry 50 sh -c "[ \$(stat -c %s $W/timings.db-wal 2>/dev/null ||
    echo 0) -le $MAX ]"
w=$(walsize)
[ "$w" -le $MAX ] && ok "the WAL is back within its bound ($w bytes)" ||
    not_ok "the WAL is back within its bound ($w bytes)"
[ ! -e "$W/timings.db-spool" ] && ok "the spool file is gone" ||
    not_ok "the spool file is gone"

# A stop while the reader still holds the WAL: the rows stay in the
# spool, the log says how many and where, and the next start writes them.
before=$(sql "SELECT count(*) FROM requests WHERE $MARK")
hold_read || not_ok "the reader holds its snapshot again"
sent2=$(send $((N + 1)) $((N + 4000)))
retry 50 sh -c "[ \"\$(curl -s -m 5 $URL/_gateway/status |
    sed -n 's/.*\"queue_depth\":\([0-9]*\).*/\1/p')\" = 0 ]"
expect_ge "rows wait in the spool" 1 "$(tval spooled)"
stop_gateway
expect_eq "the stop is clean" 0 "$GW_RC"
expect_log "the log says how many rows stay in the spool" \
    "rows stay in $W/timings.db-spool"
[ -s "$W/timings.db-spool" ] && ok "the spool file is kept" ||
    not_ok "the spool file is kept"
release_read
start_gateway --config "$W/cgigate.conf"
expect_log "the next start says it writes them" \
    "$W/timings.db-spool holds"
retry 100 spooled_gone
want=$((before + sent2))
wait_sql "$want" "SELECT count(*) FROM requests WHERE $MARK"
expect_eq "the next start writes every row" "$want" \
    "$(sql "SELECT count(*) FROM requests WHERE $MARK")"
expect_eq "none twice" "$want" \
    "$(sql "SELECT count(DISTINCT query) FROM requests WHERE $MARK")"
expect_eq "still in order" 0 "$(out_of_order)"
[ ! -e "$W/timings.db-spool" ] && ok "and the spool file is gone" ||
    not_ok "and the spool file is gone"
stop_gateway

# Retention goes on over rows that came through the spool.
{ server_conf; echo "timings_wal_max = 1M"
    echo "timings_max_rows = 1000"; } >"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"
hold_read || not_ok "the reader holds its snapshot a third time"
sent3=$(send 1 3000)
retry 50 sh -c "[ \"\$(curl -s -m 5 $URL/_gateway/status |
    sed -n 's/.*\"queue_depth\":\([0-9]*\).*/\1/p')\" = 0 ]"
expect_ge "rows wait in the spool" 1 "$(tval spooled)"
release_read
retry 100 spooled_gone
retry 50 sql_is 1000 "SELECT count(*) FROM requests"
expect_eq "timings_max_rows = 1000 holds once they are written" 1000 \
    "$(sql "SELECT count(*) FROM requests")"
expect_eq "and the last rows kept are the last requests sent" "$sent3" \
    "$(sql "SELECT max(CAST(query AS INTEGER)) FROM requests
    WHERE $MARK AND query GLOB '[0-9]*'")"
expect_eq "none dropped" 0 "$(tval dropped)"
finish
