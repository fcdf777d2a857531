/*
 * timelog_secs.c: request_seconds, the writer's notes of which row ids
 * it wrote in which second, that let a window of time be read as a
 * range of ids (timelog_sql.c says how; cgigate-timings(7) why).
 *
 * The writer (timelog.c) calls secs_mark in each transaction that added
 * requests, with the first id it gave and the latest ts among them.
 * Here is what it keeps between transactions: the latest second noted
 * and its first id, as the database has them, the statements that note
 * and look up a second, and the mending of the table when an admin
 * edited it under the writer.  All of it is the writer's thread's.
 */
#include <stdarg.h>

#include <sqlite3.h>

#include "timelog_int.h"

static struct {
	sqlite3_stmt	*ins, *has;	/* note a second; is one there */
	long long	 sec, id;	/* the latest second, or 0 */
	long long	 saved_sec, saved_id;	/* at secs_begin */
} sc;

/* The latest second of request_seconds, or none (0, 0). */
static void
load(sqlite3 *db)
{
	sqlite3_stmt *st;

	sc.sec = sc.id = 0;
	if (sqlite3_prepare_v2(db, "SELECT sec, first_id FROM "
	    "request_seconds ORDER BY sec DESC LIMIT 1", -1, &st, NULL) !=
	    SQLITE_OK)
		return;
	if (sqlite3_step(st) == SQLITE_ROW) {
		sc.sec = sqlite3_column_int64(st, 0);
		sc.id = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
}

int
secs_prepare(sqlite3 *db)
{
	if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO request_seconds"
	    " (sec, first_id) VALUES (?,?)", -1, &sc.ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT 1 FROM request_seconds"
	    " WHERE sec = ?", -1, &sc.has, NULL) != SQLITE_OK)
		return -1;
	load(db);
	return 0;
}

void
secs_finalize(void)
{
	sqlite3_finalize(sc.ins);
	sqlite3_finalize(sc.has);
	sc.ins = sc.has = NULL;
}

void
secs_begin(void)
{
	sc.saved_sec = sc.sec;
	sc.saved_id = sc.id;
}

void
secs_rollback(void)
{
	sc.sec = sc.saved_sec;
	sc.id = sc.saved_id;
}

/* Whether request_seconds still has second sec. */
static int
has(long long sec)
{
	int rc;

	sqlite3_bind_int64(sc.has, 1, sec);
	rc = sqlite3_step(sc.has);
	sqlite3_reset(sc.has);
	return rc == SQLITE_ROW;
}

/* Run the statement of fmt; -1 when it failed. */
static int
exec(sqlite3 *db, const char *fmt, ...)
{
	va_list ap;
	char *sql;
	int rc;

	va_start(ap, fmt);
	sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	if (sql == NULL)
		return -1;
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_free(sql);
	return rc == SQLITE_OK ? 0 : -1;
}

/*
 * Note that rows from id first on, begun by maxts, were written in this
 * second (or in that of maxts, if the clock was set back since they
 * began), unless a second as late is there already: the clock was set
 * back, and that second's first_id, lower, covers these rows too.  So
 * its seconds and their ids rise together, and the first second at or
 * past a time has the least id written since.
 *
 * Edits from outside are mended.  An id lower than the latest second's
 * means the table was emptied and SQLite gave the ids again from 1: the
 * seconds past it go.  The latest second gone means request_seconds was
 * edited: it is put back as it was, or, when none is left, one second
 * from the table's first id on covers every row, as at a start.
 */
int
secs_mark(sqlite3 *db, long long first, double maxts)
{
	long long sec = (long long)clk_wall();

	if ((long long)maxts > sec)
		sec = (long long)maxts;
	if (first < sc.id) {
		if (exec(db, "DELETE FROM request_seconds WHERE first_id > "
		    "%lld", first) == -1)
			return -1;
		load(db);
	} else if (sc.sec > 0 && !has(sc.sec)) {
		if (exec(db, "INSERT INTO request_seconds SELECT %lld, CASE "
		    "WHEN EXISTS (SELECT 1 FROM request_seconds) THEN %lld "
		    "ELSE (SELECT min(id) FROM requests) END", sc.sec,
		    sc.id) == -1)
			return -1;
		load(db);
	}
	if (sec <= sc.sec)
		return 0;
	sqlite3_bind_int64(sc.ins, 1, sec);
	sqlite3_bind_int64(sc.ins, 2, first);
	if (sqlite3_step(sc.ins) != SQLITE_DONE) {
		sqlite3_reset(sc.ins);
		return -1;
	}
	sqlite3_reset(sc.ins);
	sc.sec = sec;
	sc.id = first;
	return 0;
}
