/*
 * timelog_read.c: the dashboard's reads of the timings database.
 *
 * Each query (timelog_sql.c says what is in it) runs on a read-only
 * connection of its own, opened for it and closed after: WAL mode lets
 * it read while the writer (timelog.c) commits, and neither waits for
 * the other.  Here are that connection and the width of the dashboard's
 * time buckets for a window.
 */
#include <stdio.h>

#include <sqlite3.h>

#include "timelog_int.h"

#define MAX_BUCKETS	120	/* in the dashboard's window */

/*
 * The width of the dashboard's buckets for a window: the narrowest of
 * these that cuts it into at most MAX_BUCKETS, so that a chart has
 * enough points to show a shape and few enough to draw, and a bucket
 * starts on a round time.
 */
static int
bucket_step(int window_s)
{
	static const int steps[] = { 10, 20, 30, 60, 120, 300, 600, 900,
	    1800, 3600, 7200, 14400, 28800, 86400 };
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]) - 1; i++)
		if ((window_s + steps[i] - 1) / steps[i] <= MAX_BUCKETS)
			break;
	return steps[i];
}

/*
 * Run one of the dashboard's queries (timelog_sql.c says what is in
 * each) on its own read-only connection, so that readers never wait on
 * the writer, and write the JSON it builds to f.  name, when not NULL,
 * is bound to ?3.
 */
static int
dashboard_query(FILE *f, const char *sql, int window_s, const char *name)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	const char *path;
	int rc = -1;

	if ((path = timelog_path()) == NULL || sqlite3_open_v2(path, &db,
	    SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto done;
	sqlite3_busy_timeout(db, 1000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_err(NULL, "timelog_dashboard: %s", sqlite3_errmsg(db));
		goto done;
	}
	sqlite3_bind_int(st, 1, window_s);
	sqlite3_bind_int(st, 2, bucket_step(window_s));
	if (name != NULL)
		sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	/*
	 * SQLite's JSON escapes quotes and controls but copies other bytes
	 * as they are, and a route or an error in the table need not be
	 * UTF-8: jsonq_utf8 mends that (no byte of an ill-formed sequence
	 * is ASCII, so the JSON around it stays as it was).
	 */
	if (sqlite3_step(st) == SQLITE_ROW) {
		jsonq_utf8(f, (const char *)sqlite3_column_text(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0));
		putc('\n', f);
		rc = 0;
	} else
		log_err(NULL, "timelog_dashboard: %s", sqlite3_errmsg(db));
done:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

int
timelog_dashboard(FILE *f, int window_s)
{
	return dashboard_query(f, timelog_sql_dashboard, window_s, NULL);
}

int
timelog_route(FILE *f, const char *name, int window_s)
{
	return dashboard_query(f, timelog_sql_route, window_s, name);
}
