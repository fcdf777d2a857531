#!/bin/sh
# views.sh: how long the views and the example queries of
# cgigate-timings(7) take on a timings database of 10,000,000 rows, the
# size timings_max_rows is documented for.  Not a test: it asserts no
# time, it prints them, for RESULTS.md and for a change to
# gateway/timelog_sql.c or the page to be measured against.
#
# Usage: tests/bench/views.sh [rows]      (from the build directory)
#
# The database is made by the real cgigate (so it has the schema and the
# views of this build), then filled with rows by one recursive INSERT:
# ts rising over the last three days, as a gateway writes them (and
# request_seconds, the first id of each second, as it notes them); 18
# routes (14 CGI, 4 FastCGI) with 80% of the rows, static files 15%
# (route NULL, no ttfb_us), the admin endpoints 3%, mode http 2% (no
# ttfb_us either); 2% status 500, 5% 404; total_us spread over 0.5 to
# 200 ms by route.  The spread is a hash of the row number, not
# random(): SQLite evaluates random() once per use in a flattened
# subquery, which would mix the columns.  VIEWS_DB=file keeps the
# database there and reuses it when it exists (cgigate is still started
# on it, so that its views are this build's).  Each query runs once,
# its output to /dev/null; the time is wall-clock seconds, on a machine
# whose other work shows in them: run it twice.
#
# On a 2-core VM (sqlite3 3.40.1), 10,000,000 rows, ~139,000 in the last
# hour: route_stats over the whole table took 113-144 s, startup_cost
# 8-13 s; over the last hour, 1.0 s and 0.13 s (RESULTS.md).
set -eu

TS=$(cd "$(dirname "$0")/../.." && pwd)
GATEWAY=${GATEWAY:-./gateway/cgigate}
ROWS=${1:-10000000}
W=$(mktemp -d "${TMPDIR:-/tmp}/cgigate-views.XXXXXX")
trap 'rm -rf "$W"' EXIT
DB=${VIEWS_DB:-$W/timings.db}
ROOTOK=
[ "$(id -u)" -ne 0 ] || ROOTOK=--allow-root

now() { date +%s.%N; }
since() { echo "$(now) $1" | awk '{ printf "%.3f", $1 - $2 }'; }

# cgigate opens the database (making it, or replacing its views) and
# answers one static file, then stops.
mkdir -p "$W/h" "$W/www"
echo x >"$W/www/x.txt"
"$GATEWAY" --listen 127.0.0.1:0 $ROOTOK --handlers "$W/h" --www "$W/www" \
    --timings "$DB" 2>"$W/log" &
pid=$!
i=0
until grep -q 'listening on' "$W/log"; do
	i=$((i + 1))
	[ $i -lt 600 ] || { cat "$W/log"; kill "$pid"; exit 1; }
	sleep 0.1
done
port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$W/log" | head -n 1)
curl -s -o /dev/null "http://127.0.0.1:$port/x.txt"
kill -TERM "$pid"
wait "$pid" || true

have=$(sqlite3 "$DB" "select count(*) from requests")
if [ "$have" -lt "$ROWS" ]; then
	t0=$(now)
	sqlite3 "$DB" >/dev/null <<EOF
PRAGMA journal_mode=WAL;
PRAGMA synchronous=OFF;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
    WHERE i < $ROWS - $have),
x AS (SELECT i, (i * 2654435761) % 4294967296 AS x FROM n),
r AS (SELECT i, x % 100 AS k, x / 100 % 1000 AS v, x / 100000 % 18 AS q
    FROM x)
INSERT INTO requests (ts, request_id, route, mode, method, path, status,
    bytes_in, bytes_out, queue_us, spawn_us, ttfb_us, total_us, pid,
    exit_status, user_cpu_us, sys_cpu_us, max_rss_kb, error, connect_us,
    client_addr, host, user_agent)
SELECT unixepoch() - 259200 + i * 259200.0 / $ROWS, 'r' || i,
    CASE WHEN k < 80 THEN '/app' || q WHEN k < 83 THEN '/_gateway' END,
    CASE WHEN k < 80 THEN (CASE WHEN q < 14 THEN 'cgi' ELSE 'fastcgi' END)
        WHEN k < 83 THEN 'admin' WHEN k < 98 THEN 'static' ELSE 'http' END,
    'GET', '/p' || (i % 500),
    CASE WHEN v < 20 THEN 500 WHEN v < 70 THEN 404 ELSE 200 END,
    0, 100 + v * 7, 10, CASE WHEN k < 80 AND q < 14 THEN 900 + v END,
    CASE WHEN k < 83 THEN 500 + v * (q + 1) * 5 END,
    800 + v * (q + 1) * 10 + v * v / 10, CASE WHEN k < 80 THEN 1000 + q END,
    CASE WHEN k < 80 AND q < 14 THEN 0 END,
    CASE WHEN k < 80 AND q < 14 THEN v * 3 END,
    CASE WHEN k < 80 AND q < 14 THEN v END,
    CASE WHEN k < 80 AND q < 14 THEN 2000 + v END,
    CASE WHEN v < 20 THEN 'exit status 1' END,
    CASE WHEN k < 80 AND q >= 14 THEN (v % 10 = 0) * 80 END,
    '10.0.' || (v % 50) || '.' || (i % 200), 'example.org',
    'agent/' || (v % 30)
FROM r;
-- What the writer notes as it goes: the first id of each second.
INSERT OR IGNORE INTO request_seconds (sec, first_id)
SELECT CAST(ts AS INTEGER), min(id) FROM requests GROUP BY 1;
EOF
	echo "filled $DB to $ROWS rows in $(since "$t0") s"
fi
echo "$(sqlite3 "$DB" "select count(*) from requests") rows," \
    "$(du -m "$DB" | cut -f1) MB; sqlite3 $(sqlite3 --version | cut -d' ' -f1)"

run() {	# name, query
	t0=$(now)
	sqlite3 "$DB" "$2" >/dev/null
	printf '%8s s  %s\n' "$(since "$t0")" "$1"
}
for v in route_stats slowest_recent recent_errors startup_cost; do
	run "select * from $v" "select * from $v"
done
awk '/^\.Bd -literal/ { q = ""; b = 1; next }
    /^\.Ed/ { if (b && q ~ /^SELECT/) print q; b = 0; next }
    b { q = q (q == "" ? "" : " ") $0 }' "$TS/man/cgigate-timings.7" |
while IFS= read -r q; do
	run "$(echo "$q" | cut -c1-60)..." "$q"
done
