/*
 * timelog_sql.c: the SQL text of the timings database, apart from the
 * thread that runs it (timelog.c).
 *
 * The tables and views below are what admins query with sqlite3, as
 * cgigate-timings(7) documents them, and what the dashboard reads: an
 * interface, not a detail of the writer.  Kept here in one place, they
 * can be read and changed as such, and the page checked against them,
 * without the queue, the batching and the writer thread in the way.
 * A change here is a change of that interface: the page goes with it,
 * and a database that an earlier version created must still open (IF
 * NOT EXISTS throughout, and timelog_sql_added for a column added
 * since).
 *
 * The INSERTs stay in timelog.c beside bind_req: their column list is
 * the order it binds in, and REQ_COLS counts it.
 */
#include <stddef.h>

#include "timelog_int.h"

/*
 * journal_size_limit follows timings_wal_max, and the writer's
 * connection checkpoints nothing itself: timelog_spool.c sets both.
 */
const char *const timelog_sql_schema =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"CREATE TABLE IF NOT EXISTS requests ("
	" id INTEGER PRIMARY KEY,"
	" ts REAL NOT NULL,"
	" request_id TEXT,"
	" route TEXT,"
	" mode TEXT NOT NULL,"
	" method TEXT,"
	" path TEXT,"
	" status INTEGER,"
	" bytes_in INTEGER,"
	" bytes_out INTEGER,"
	" queue_us INTEGER,"
	" spawn_us INTEGER,"
	" ttfb_us INTEGER,"
	" total_us INTEGER,"
	" pid INTEGER,"
	" exit_status INTEGER,"
	" signal INTEGER,"
	" user_cpu_us INTEGER,"
	" sys_cpu_us INTEGER,"
	" max_rss_kb INTEGER,"
	" error TEXT,"
	" connect_us INTEGER,"
	" worker_requests INTEGER,"
	" client_addr TEXT,"
	" host TEXT,"
	" query TEXT,"
	" user_agent TEXT,"
	" referer TEXT);"
	/*
	 * No index on ts: it was a fifth of the writer's cost per row.  A
	 * row's ts (when its request began) is never later than when it
	 * was written, and ids grow in the order rows are written, so
	 * request_seconds, a row per second in which rows were written
	 * with the first id written in it, bounds a time window by ids:
	 * every row with ts >= T has an id at or past the first_id of the
	 * first second at or after the one T is in (the writer's mark()).
	 * A database without that table, or whose table an admin emptied,
	 * or that an earlier version wrote to (it has requests_ts), gets one
	 * second that covers every row it has: the latest ts and the least
	 * id.  Its conditions come first, so that max(ts), a scan without
	 * the index, runs only then: not at every start.
	 */
	"CREATE TABLE IF NOT EXISTS request_seconds ("
	" sec INTEGER PRIMARY KEY,"
	" first_id INTEGER NOT NULL);"
	"INSERT OR REPLACE INTO request_seconds (sec, first_id) "
	" SELECT (SELECT CAST(max(ts) AS INTEGER) FROM requests),"
	" (SELECT min(id) FROM requests)"
	" WHERE (NOT EXISTS (SELECT 1 FROM request_seconds)"
	" OR EXISTS (SELECT 1 FROM pragma_index_list('requests')"
	" WHERE name = 'requests_ts'))"
	" AND EXISTS (SELECT 1 FROM requests);"
	/*
	 * An earlier version's indexes go: requests_ts, for the above, and
	 * requests_route (route, ts), which cost the writer as much and
	 * which route_stats did not need.
	 */
	"DROP INDEX IF EXISTS requests_ts;"
	"DROP INDEX IF EXISTS requests_route;"
	"CREATE TABLE IF NOT EXISTS events ("
	" id INTEGER PRIMARY KEY,"
	" ts REAL NOT NULL,"
	" kind TEXT NOT NULL,"
	" pid INTEGER,"
	" detail TEXT);";

/*
 * The columns of requests that came after its first version, oldest
 * first, as the schema above ends with them: a database from before one
 * gets it at open.  Two came with FastCGI support, five with who sent
 * the request.
 */
const struct timelog_col timelog_sql_added[] = {
	{ "connect_us", "INTEGER" },
	{ "worker_requests", "INTEGER" },
	{ "client_addr", "TEXT" },
	{ "host", "TEXT" },
	{ "query", "TEXT" },
	{ "user_agent", "TEXT" },
	{ "referer", "TEXT" },
	{ NULL, NULL }
};

/*
 * The rows whose ts is t or later, t an expression in seconds: a range
 * of row ids, from the first_id of the first second in request_seconds
 * at or past t, filtered by ts.  What an hour holds is read, not the
 * table (route_stats over all of a table of 10,000,000 rows took 113-144
 * s; tests/bench/views.sh).
 */
#define SINCE(t) \
	"id >= (SELECT first_id FROM request_seconds " \
	"WHERE sec >= CAST(" t " AS INTEGER) ORDER BY sec LIMIT 1) " \
	"AND ts >= " t
#define LAST_HOUR SINCE("unixepoch() - 3600")

/*
 * Views for the questions an admin asks (cgigate-timings(7)); replaced at
 * every start so that they follow the schema.  last_hour and last_day
 * are the rows of those windows, found as above; the other views cover
 * the last hour.
 *
 * route_stats and startup_cost count every row of their hour in one
 * group of route and mode, a NULL route included (static files, mode
 * http), so that their requests add up to the hour's rows: groups of a
 * NULL route are matched with IS, never with = or USING.  Percentiles
 * are nearest rank: the value at rank ceil(n * p / 100).
 */
const char *const timelog_sql_views =
	"DROP VIEW IF EXISTS route_stats; "
	"DROP VIEW IF EXISTS slowest_recent; "
	"DROP VIEW IF EXISTS recent_errors; "
	"DROP VIEW IF EXISTS startup_cost; "
	"DROP VIEW IF EXISTS last_hour; "
	"DROP VIEW IF EXISTS last_day; "
	"CREATE VIEW last_hour AS SELECT * FROM requests WHERE " LAST_HOUR "; "
	"CREATE VIEW last_day AS SELECT * FROM requests WHERE "
	SINCE("unixepoch() - 86400") "; "
	"CREATE VIEW route_stats AS "
	"WITH h AS (SELECT route, mode, status, total_us, ttfb_us "
	"  FROM requests WHERE " LAST_HOUR "), "
	"t AS ( "
	"  SELECT route, mode, status, total_us, "
	"    ROW_NUMBER() OVER w AS r, COUNT(*) OVER (PARTITION BY route, mode) AS n "
	"  FROM h WINDOW w AS (PARTITION BY route, mode ORDER BY total_us)), "
	"f AS ( "
	"  SELECT route, mode, ttfb_us, "
	"    ROW_NUMBER() OVER w AS r, COUNT(*) OVER (PARTITION BY route, mode) AS n "
	"  FROM h WHERE ttfb_us IS NOT NULL "
	"  WINDOW w AS (PARTITION BY route, mode ORDER BY ttfb_us)), "
	"tp AS ( "
	"  SELECT route, mode, COUNT(*) AS requests, "
	"    SUM(status >= 500) AS errors, "
	"    MAX(CASE WHEN r = (n * 50 + 99) / 100 THEN total_us END) AS p50_total_us, "
	"    MAX(CASE WHEN r = (n * 95 + 99) / 100 THEN total_us END) AS p95_total_us, "
	"    MAX(CASE WHEN r = (n * 99 + 99) / 100 THEN total_us END) AS p99_total_us "
	"  FROM t GROUP BY route, mode), "
	"fp AS ( "
	"  SELECT route, mode, "
	"    MAX(CASE WHEN r = (n * 50 + 99) / 100 THEN ttfb_us END) AS p50_ttfb_us, "
	"    MAX(CASE WHEN r = (n * 95 + 99) / 100 THEN ttfb_us END) AS p95_ttfb_us, "
	"    MAX(CASE WHEN r = (n * 99 + 99) / 100 THEN ttfb_us END) AS p99_ttfb_us "
	"  FROM f GROUP BY route, mode) "
	"SELECT tp.route, tp.mode, tp.requests, tp.errors, "
	"  tp.p50_total_us, tp.p95_total_us, tp.p99_total_us, "
	"  fp.p50_ttfb_us, fp.p95_ttfb_us, fp.p99_ttfb_us "
	"FROM tp LEFT JOIN fp ON fp.route IS tp.route AND fp.mode = tp.mode; "
	"CREATE VIEW slowest_recent AS "
	"SELECT datetime(ts, 'unixepoch') AS time, request_id, route, mode, method, "
	"  path, status, total_us, ttfb_us, queue_us, spawn_us, connect_us, pid, error "
	"FROM requests WHERE " LAST_HOUR " "
	"ORDER BY total_us DESC LIMIT 50; "
	"CREATE VIEW recent_errors AS "
	"SELECT datetime(ts, 'unixepoch') AS time, request_id, route, mode, method, "
	"  path, status, error, exit_status, signal, pid "
	"FROM requests WHERE " LAST_HOUR " AND status >= 500 "
	"ORDER BY ts DESC; "
	"CREATE VIEW startup_cost AS "
	"SELECT route, mode, COUNT(*) AS requests, "
	"  CAST(AVG(queue_us) AS INTEGER) AS avg_queue_us, "
	"  CAST(AVG(spawn_us) AS INTEGER) AS avg_spawn_us, "
	"  CAST(AVG(connect_us) AS INTEGER) AS avg_connect_us, "
	"  CAST(AVG(ttfb_us) AS INTEGER) AS avg_ttfb_us, "
	"  CAST(AVG(user_cpu_us + sys_cpu_us) AS INTEGER) AS avg_cpu_us, "
	"  MAX(max_rss_kb) AS max_rss_kb "
	"FROM requests WHERE " LAST_HOUR " AND mode IN ('cgi', 'fastcgi') "
	"GROUP BY route, mode; ";

/*
 * Retention's deletes, formats that retain() in timelog.c fills in: the
 * oldest rows past the age kept, in either table, and the requests past
 * the count kept, at most a step's worth each time.  Each is a range of
 * row ids, however many rows the table holds.  The age one of requests
 * reads the rows written up to the end of the second the cutoff is in
 * (those before the first second after it, or all when nothing was
 * written since; request_seconds above) and deletes those older than
 * the cutoff: a row written in a later second, a long request's, goes
 * once that second is past the cutoff.  The count one knows the rows
 * from max(id) - min(id) + 1, without a scan, as ids only grow.  events
 * has no index on ts and few rows.  request_seconds keeps its last
 * second at or before the table's first id, and none before (a bounded
 * look at its oldest seconds), and none at all once the table is empty.
 */
const char *const timelog_sql_retain_requests_age =
	"DELETE FROM requests WHERE id < min(coalesce("
	"(SELECT first_id FROM request_seconds WHERE sec > %lld "
	"ORDER BY sec LIMIT 1), (SELECT max(id) FROM requests) + 1), "
	"(SELECT min(id) FROM requests) + %d) AND ts < %.6f";
const char *const timelog_sql_retain_events_age =
	"DELETE FROM events WHERE id IN "
	"(SELECT id FROM events WHERE ts < %.6f ORDER BY id "
	"LIMIT %d)";
const char *const timelog_sql_retain_requests_rows =
	"DELETE FROM requests WHERE id < "
	"min((SELECT max(id) FROM requests) - %lld + 1, "
	"(SELECT min(id) FROM requests) + %d)";
const char *const timelog_sql_retain_seconds =
	"DELETE FROM request_seconds WHERE sec < coalesce((SELECT max(sec) "
	"FROM (SELECT sec, first_id FROM request_seconds ORDER BY sec "
	"LIMIT %d) WHERE first_id <= (SELECT min(id) FROM requests)), "
	"CASE WHEN NOT EXISTS (SELECT 1 FROM requests) "
	"THEN 9223372036854775807 END)";

/*
 * The dashboard's buckets, shared by its two queries: ?1 is the window
 * and ?2 the step, both in seconds (timelog.c picks the step).  k holds
 * now (with its fraction), the start of the bucket that holds now
 * (last) and of the first of the window's ceil(?1 / ?2) buckets (first);
 * bd is every bucket, with the seconds it spans: the step, but for the
 * last one, still filling, the seconds it has had (at least 1).  A
 * bucket's rate is its requests over those seconds; a bucket without
 * requests has a rate of 0 and no percentiles (JSON null), so that a
 * chart breaks its latency lines there rather than draw a 0 ms point.
 */
#define BUCKETS \
	"k AS (SELECT now, CAST(now / ?2 AS INTEGER) * ?2 AS last, " \
	"    (CAST(now / ?2 AS INTEGER) - (?1 + ?2 - 1) / ?2 + 1) * ?2 AS first " \
	"    FROM (SELECT (julianday('now') - 2440587.5) * 86400.0 AS now)), " \
	"bk(t) AS (SELECT first FROM k UNION ALL " \
	"    SELECT t + ?2 FROM bk WHERE t < (SELECT last FROM k)), " \
	"bd AS (SELECT t, CASE WHEN t = last THEN max(1.0, now - t) ELSE ?2 * 1.0 " \
	"    END AS d FROM bk, k) "

/* Percentile p of x over the ranks r of c rows: nearest rank, as above. */
#define PCT(p, x) \
	"max(CASE WHEN r = (c * " #p " + 99) / 100 THEN " x " END)"

/*
 * s: per bucket of the rows of h, requests, 5xx and p50/p95/p99 of the
 * total time; series: s over every bucket of bd, as JSON.
 */
#define BUCKET_STATS \
	"b AS (SELECT t, status, total_us, " \
	"    ROW_NUMBER() OVER (PARTITION BY t ORDER BY total_us) AS r, " \
	"    COUNT(*) OVER (PARTITION BY t) AS c " \
	"    FROM (SELECT CAST(ts / ?2 AS INTEGER) * ?2 AS t, status, total_us " \
	"    FROM h)), " \
	"s AS (SELECT t, count(*) AS n, sum(status >= 500) AS e, " \
	"    " PCT(50, "total_us") " AS p50, " PCT(95, "total_us") " AS p95, " \
	"    " PCT(99, "total_us") " AS p99 FROM b GROUP BY t) "
#define SERIES \
	"'series', (SELECT json_group_array(json_object('t', t, " \
	"    'requests', coalesce(n, 0), 'rate', round(coalesce(n, 0) / d, 3), " \
	"    'errors', coalesce(e, 0), 'p50_ms', p50 / 1000.0, " \
	"    'p95_ms', p95 / 1000.0, 'p99_ms', p99 / 1000.0)) " \
	"    FROM (SELECT * FROM bd LEFT JOIN s USING (t) ORDER BY t)) "

/*
 * The dashboard's data for the last window_s seconds, as one JSON object
 * that SQLite builds: the buckets' series of the requests to routes
 * (not static files, not the admin endpoints); per route and mode, its requests, 5xx, p50, p95
 * and p99, its mean rate since its first request in the window (at
 * least 10 s: a route that began a minute ago at 1/s shows 1/s) and its
 * rate in every bucket (rates, in the order of series); the CGI and
 * FastCGI averages; the latest errors, admin endpoints' included.
 * json_group_array keeps the order of the rows it is given (the ordered
 * subqueries below).
 */
const char *const timelog_sql_dashboard =
	"WITH RECURSIVE " BUCKETS ", "
	"w AS (SELECT * FROM requests WHERE " SINCE("(SELECT first FROM k)") "), "
	"h AS (SELECT * FROM w WHERE route IS NOT NULL AND mode != 'admin'), "
	BUCKET_STATS ", "
	"rr AS (SELECT route, mode, status, total_us, ts, "
	"    ROW_NUMBER() OVER (PARTITION BY route, mode ORDER BY total_us) AS r, "
	"    COUNT(*) OVER (PARTITION BY route, mode) AS c FROM h), "
	"ro AS (SELECT route, mode, max(c) AS n, min(ts) AS first, "
	"    sum(status >= 500) AS e, "
	"    " PCT(50, "total_us") " AS p50, " PCT(95, "total_us") " AS p95, "
	"    " PCT(99, "total_us") " AS p99 FROM rr GROUP BY route, mode), "
	"rc AS (SELECT route, mode, CAST(ts / ?2 AS INTEGER) * ?2 AS t, "
	"    count(*) AS n FROM h GROUP BY 1, 2, 3), "
	"rj AS (SELECT route, mode, json_group_array(round(coalesce(n, 0) / d, 3)) "
	"    AS rates FROM (SELECT ro.route, ro.mode, bd.t, bd.d, rc.n "
	"    FROM ro CROSS JOIN bd LEFT JOIN rc ON rc.route = ro.route "
	"    AND rc.mode = ro.mode AND rc.t = bd.t "
	"    ORDER BY ro.route, ro.mode, bd.t) GROUP BY route, mode) "
	"SELECT json_object( "
	" 'window_s', ?1, 'step_s', ?2, 'now', (SELECT now FROM k), "
	" 'from', (SELECT first FROM k), "
	SERIES ", "
	" 'routes', (SELECT json_group_array(json_object('route', route, 'mode', mode, "
	"    'requests', n, 'errors', e, 'rate', round(n / max(10.0, "
	"      (SELECT now FROM k) - first), 3), "
	"    'p50_ms', p50 / 1000.0, 'p95_ms', p95 / 1000.0, 'p99_ms', p99 / 1000.0, "
	"    'rates', json(rates))) "
	"    FROM (SELECT * FROM ro JOIN rj USING (route, mode) "
	"    ORDER BY n DESC, route, mode)), "
	" 'modes', (SELECT json_group_array(json_object('mode', mode, 'requests', n, "
	"    'avg_queue_us', q, 'avg_spawn_us', sp, 'avg_connect_us', co, "
	"    'avg_ttfb_us', tt, 'avg_total_us', tot)) "
	"    FROM (SELECT mode, count(*) AS n, CAST(avg(queue_us) AS INTEGER) AS q, "
	"      CAST(avg(spawn_us) AS INTEGER) AS sp, CAST(avg(connect_us) AS INTEGER) AS co, "
	"      CAST(avg(ttfb_us) AS INTEGER) AS tt, CAST(avg(total_us) AS INTEGER) AS tot "
	"      FROM w WHERE mode IN ('cgi', 'fastcgi') GROUP BY mode ORDER BY mode)), "
	" 'errors', (SELECT json_group_array(json_object('time', datetime(ts, 'unixepoch'), "
	"    'route', route, 'status', status, 'error', error)) "
	"    FROM (SELECT * FROM w WHERE status >= 500 ORDER BY ts DESC LIMIT 20))); ";

/*
 * One route's data (?3: the rows whose route is exactly that, compared
 * byte for byte) for the last ?1 seconds, as one JSON object: its
 * requests, 5xx and modes; p50/p95/p99 of the total time and of the
 * time to first byte over the window; the series of its buckets; its
 * requests per status code; its ten slowest requests.
 */
const char *const timelog_sql_route =
	"WITH RECURSIVE " BUCKETS ", "
	"h AS (SELECT * FROM requests WHERE " SINCE("(SELECT first FROM k)")
	"    AND route = ?3), "
	BUCKET_STATS ", "
	"a AS (SELECT total_us, ROW_NUMBER() OVER (ORDER BY total_us) AS r, "
	"    COUNT(*) OVER () AS c FROM h), "
	"f AS (SELECT ttfb_us, ROW_NUMBER() OVER (ORDER BY ttfb_us) AS r, "
	"    COUNT(*) OVER () AS c FROM h WHERE ttfb_us IS NOT NULL) "
	"SELECT json_object( "
	" 'route', ?3, 'window_s', ?1, 'step_s', ?2, 'now', (SELECT now FROM k), "
	" 'from', (SELECT first FROM k), "
	" 'requests', (SELECT count(*) FROM h), "
	" 'errors', (SELECT count(*) FROM h WHERE status >= 500), "
	" 'modes', (SELECT json_group_array(mode) "
	"    FROM (SELECT DISTINCT mode FROM h ORDER BY mode)), "
	" 'p50_ms', (SELECT " PCT(50, "total_us") " / 1000.0 FROM a), "
	" 'p95_ms', (SELECT " PCT(95, "total_us") " / 1000.0 FROM a), "
	" 'p99_ms', (SELECT " PCT(99, "total_us") " / 1000.0 FROM a), "
	" 'ttfb_p50_ms', (SELECT " PCT(50, "ttfb_us") " / 1000.0 FROM f), "
	" 'ttfb_p95_ms', (SELECT " PCT(95, "ttfb_us") " / 1000.0 FROM f), "
	" 'ttfb_p99_ms', (SELECT " PCT(99, "ttfb_us") " / 1000.0 FROM f), "
	SERIES ", "
	" 'statuses', (SELECT json_group_array(json_object('status', status, "
	"    'requests', n)) FROM (SELECT status, count(*) AS n FROM h "
	"    GROUP BY status ORDER BY status)), "
	" 'slow', (SELECT json_group_array(json_object( "
	"    'time', strftime('%Y-%m-%d %H:%M:%f', ts, 'unixepoch'), 'ts', ts, "
	"    'request_id', request_id, 'mode', mode, 'method', method, "
	"    'path', path, 'status', status, 'total_ms', total_us / 1000.0, "
	"    'ttfb_ms', ttfb_us / 1000.0, 'error', error)) "
	"    FROM (SELECT * FROM h ORDER BY total_us DESC, ts DESC LIMIT 10))); ";
