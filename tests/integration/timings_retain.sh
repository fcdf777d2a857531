#!/bin/sh
# timings_retain.sh: retention keeps up with requests that come faster
# than it once deleted them (2,000 rows per 5 s, about 400 requests/s):
# 15,000 static files on one kept-alive connection (a few thousand a
# second) against timings_max_rows = 1000, then as fast against
# timings_max_age = 2s.  The rows and the database stay near the bound
# all along, not only once the requests stop.
. "$(dirname "$0")/gw.sh"

N=15000
mkdir -p "$W/www"
echo s >"$W/www/s.txt"

# Every 0.5 s until the file STOP exists: the rows, the rows older than
# 3 s, the database's size (pages in use or free, WAL included) and the
# main file's size on disk, one line each, to $W/samples.
sample() {
	while [ ! -e "$W/stop" ]; do
		sql "select count(*), (select count(*) from requests
		    where ts < unixepoch() - 3), (select page_count * page_size
		    from pragma_page_count, pragma_page_size) from requests" \
		    2>/dev/null | tr '|\n' '  '
		echo "$(stat -c %s "$W/timings.db")"
		sleep 0.5
	done >"$W/samples"
}

# The largest of column COL of the samples (1, rows; 2, old rows; 3,
# size; 4, size on disk).
most() { awk -v c="$1" 'NF == 4 && $c > m { m = $c } END { print m + 0 }' \
    "$W/samples"; }

# Send N requests while sampling, and go on sampling for SECS after; the
# number of seconds they took.
drive() {	# secs
	rm -f "$W/stop"
	sample &
	SAMPLER=$!
	track "$SAMPLER"
	t0=$(now_ms)
	curl -s "$URL/s.txt?[1-$N]" >/dev/null
	t1=$(now_ms)
	sleep "$1"
	touch "$W/stop"
	wait "$SAMPLER"
	echo $(((t1 - t0) / 1000))
}

{ server_conf; echo "timings_max_rows = 1000"; } >"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"
secs=$(drive 1)	# the last batch, and a sample after it
echo "# $N requests in $secs s"
sed 's/^/# rows, old rows, bytes, bytes on disk: /' "$W/samples"
n=$(sql "select count(*) from requests")
expect_ge "all $N requests were recorded" $N \
    "$(sql "select max(id) from requests")"
m=$(most 1)
[ "$m" -le 1512 ] && ok "timings_max_rows = 1000: rows stayed near it ($m at most)" ||
    not_ok "timings_max_rows = 1000: rows stayed near it (up to $m)"
expect_eq "and end at it" 1000 "$n"
m=$(most 3)
[ "$m" -le 1048576 ] &&
    ok "the database stayed small ($m bytes at most)" ||
    not_ok "the database stayed small (up to $m bytes)"
stop_gateway
m=$(stat -c %s "$W/timings.db")
[ "$m" -le 1048576 ] &&
    ok "and so did its file, checkpointed at the stop ($m bytes)" ||
    not_ok "and so did its file, checkpointed at the stop ($m bytes)"

rm -f "$W"/timings.db*
{ server_conf; echo "timings_max_age = 2s"; } >"$W/cgigate.conf"
start_gateway --config "$W/cgigate.conf"
# 2 s more: the first rows, had they stayed, would be 3 s old by then.
secs=$(drive 2)
echo "# $N requests in $secs s"
sed 's/^/# rows, old rows, bytes, bytes on disk: /' "$W/samples"
m=$(most 2)
expect_eq "timings_max_age = 2s: no row stayed 3 s" 0 "$m"
# Once they stop, the rest are 2 s old within a few seconds, and go
# without a request to bring a batch.
retry 40 sql_is 0 "select count(*) from requests"
expect_eq "and once they stop, the rest go within seconds" 0 \
    "$(sql "select count(*) from requests")"
finish
