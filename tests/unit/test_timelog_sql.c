/*
 * test_timelog_sql.c: the SQL of timelog_sql.c on a database in memory.
 * The views and the dashboard's queries read requests by a range of row
 * ids, never the whole table; retention by age deletes exactly the rows
 * written before the first second at or past its cutoff, or all of them
 * when none is, and request_seconds keeps the one second that covers the
 * first row left; a database with rows and no request_seconds gets one
 * second that covers them all, and one with both is opened without a
 * scan of either.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "timelog_int.h"

static sqlite3 *db;

static void
exec(const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

static long long
num(const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	exec(timelog_sql_schema);
	exec(timelog_sql_views);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	sqlite3_close(db);
	return 0;
}

/*
 * The plan of sql (its parameters: a window of an hour, buckets of a
 * minute, a route) reads requests by row id and scans none of it.
 */
static void
assert_by_id(const char *sql)
{
	char buf[16384];
	sqlite3_stmt *st;
	int search = 0;

	snprintf(buf, sizeof(buf), "EXPLAIN QUERY PLAN %s", sql);
	assert_int_equal(sqlite3_prepare_v2(db, buf, -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_bind_parameter_count(st) >= 3)
		sqlite3_bind_text(st, 3, "/r", -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 2) {
		sqlite3_bind_int(st, 1, 3600);
		sqlite3_bind_int(st, 2, 60);
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(st, 3);

		if (strstr(d, "SCAN requests") != NULL)
			fail_msg("%s: %s", sql, d);
		if (strstr(d, "SEARCH requests USING INTEGER PRIMARY KEY "
		    "(rowid>?)") != NULL)
			search++;
	}
	sqlite3_finalize(st);
	assert_true(search > 0);
}

static void
plans_by_id(void **state)
{
	static const char *const views[] = { "last_hour", "last_day",
	    "route_stats", "slowest_recent", "recent_errors", "startup_cost" };
	char sql[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT * FROM %s", views[i]);
		assert_by_id(sql);
	}
	assert_by_id(timelog_sql_dashboard);
	assert_by_id(timelog_sql_route);
}

/*
 * Rows 1-30 written five at a time in the seconds 1000, 1005, ...
 * 1025, as the writer notes them, each begun in the five seconds before
 * (ts 995.5 to 1024.5), but for id 11, a long request begun at 990.
 */
static void
fill(void)
{
	exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
	    "WHERE i < 30) INSERT INTO requests (id, ts, mode) "
	    "SELECT i, CASE i WHEN 11 THEN 990 ELSE 994.5 + i END, 'cgi' "
	    "FROM n");
	exec("DELETE FROM request_seconds");
	exec("INSERT INTO request_seconds VALUES (1000, 1), (1005, 6), "
	    "(1010, 11), (1015, 16), (1020, 21), (1025, 26)");
}

/* Retention by age at cutoff, as retain() in timelog.c runs it. */
static void
age(double cutoff, int step)
{
	char sql[512];

	snprintf(sql, sizeof(sql), timelog_sql_retain_requests_age,
	    (long long)cutoff, step, cutoff);
	exec(sql);
}

static void
retain_age(void **state)
{
	(void)state;
	fill();
	/*
	 * Cutoff 1007: the rows written before 1010, the first second after
	 * it, which began by 1004.5; not 12, begun at 1006.5 but written in
	 * 1010, a second not yet past the cutoff.
	 */
	age(1007.0, 100);
	assert_int_equal(num("SELECT min(id) FROM requests"), 11);
	assert_int_equal(num("SELECT count(*) FROM requests"), 20);
	/*
	 * Cutoff 1010.6, within the second 1010: its rows older than the
	 * cutoff go (11-15, begun by 1009.5), not only those of the seconds
	 * before it.
	 */
	age(1010.6, 100);
	assert_int_equal(num("SELECT min(id) FROM requests"), 16);
	/* Cutoff 1017.7, in a second with no row written: the next one's. */
	age(1017.7, 100);
	assert_int_equal(num("SELECT min(id) FROM requests"), 21);
	/* At most a step's worth: from 21, below 23. */
	age(1030.0, 2);
	assert_int_equal(num("SELECT min(id) FROM requests"), 23);
	/* No second after the cutoff's: nothing written since, all go. */
	age(1030.0, 100);
	assert_int_equal(num("SELECT count(*) FROM requests"), 0);
}

static void
retain_seconds(void **state)
{
	char sql[512];

	(void)state;
	fill();
	exec("DELETE FROM requests WHERE id < 13");
	snprintf(sql, sizeof(sql), timelog_sql_retain_seconds, 2000);
	exec(sql);
	/* 1010 (id 11) covers id 13; 1000 and 1005 go. */
	assert_int_equal(num("SELECT min(sec) FROM request_seconds"), 1010);
	assert_int_equal(num("SELECT count(*) FROM request_seconds"), 4);
	/* Again: nothing more goes. */
	exec(sql);
	assert_int_equal(num("SELECT count(*) FROM request_seconds"), 4);
	/* A look at the oldest 1 only: 1010 covers, nothing older. */
	exec("DELETE FROM requests WHERE id < 17");
	snprintf(sql, sizeof(sql), timelog_sql_retain_seconds, 1);
	exec(sql);
	assert_int_equal(num("SELECT min(sec) FROM request_seconds"), 1010);
	snprintf(sql, sizeof(sql), timelog_sql_retain_seconds, 2000);
	exec(sql);
	assert_int_equal(num("SELECT min(sec) FROM request_seconds"), 1015);
	/* The table emptied: every second goes. */
	exec("DELETE FROM requests");
	exec(sql);
	assert_int_equal(num("SELECT count(*) FROM request_seconds"), 0);
}

/*
 * Open of a database that has rows and request_seconds (the schema run
 * again, as at every start): no statement steps through a table.
 */
static void
reopen_scans_nothing(void **state)
{
	const char *sql = timelog_sql_schema, *tail;
	sqlite3_stmt *st;
	int scans = 0;

	(void)state;
	fill();
	while (*sql != '\0') {
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, &tail),
		    SQLITE_OK);
		if (st != NULL) {
			while (sqlite3_step(st) == SQLITE_ROW)
				;
			scans += sqlite3_stmt_status(st,
			    SQLITE_STMTSTATUS_FULLSCAN_STEP, 0);
			sqlite3_finalize(st);
		}
		sql = tail;
	}
	assert_int_equal(scans, 0);
	assert_int_equal(num("SELECT count(*) FROM request_seconds"), 6);
}

static void
seeded(void **state)
{
	(void)state;
	fill();
	exec("DELETE FROM request_seconds");
	exec(timelog_sql_schema);
	/* The latest ts (1024.5) and the least id. */
	assert_int_equal(num("SELECT count(*) FROM request_seconds"), 1);
	assert_int_equal(num("SELECT sec FROM request_seconds"), 1024);
	assert_int_equal(num("SELECT first_id FROM request_seconds"), 1);
	/* Once: a second there is left as it is. */
	exec(timelog_sql_schema);
	assert_int_equal(num("SELECT count(*) FROM request_seconds"), 1);
	/*
	 * An earlier version wrote rows since the last second (its index
	 * is back): one second covers them, though seconds are there.
	 */
	exec("INSERT INTO requests (id, ts, mode) VALUES (31, 1040.5, 'cgi')");
	exec("CREATE INDEX requests_ts ON requests(ts)");
	exec(timelog_sql_schema);
	assert_int_equal(num("SELECT first_id FROM request_seconds "
	    "WHERE sec = 1040"), 1);
	assert_int_equal(num("SELECT count(*) FROM sqlite_master "
	    "WHERE name = 'requests_ts'"), 0);
	/* None for an empty table. */
	exec("DELETE FROM requests");
	exec("DELETE FROM request_seconds");
	exec(timelog_sql_schema);
	assert_int_equal(num("SELECT count(*) FROM request_seconds"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(plans_by_id, setup, teardown),
		cmocka_unit_test_setup_teardown(retain_age, setup, teardown),
		cmocka_unit_test_setup_teardown(retain_seconds, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(reopen_scans_nothing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(seeded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
