/*
 * timelog.c: every request's timings, written to SQLite off the request
 * path.
 *
 * Request threads append a fixed-size struct timing to a bounded queue and
 * return; they never touch the database.  One writer thread takes the
 * whole queue at once by swapping it for its own empty one (nothing is
 * copied under the lock) and writes it in one transaction (WAL journal,
 * synchronous=NORMAL), so an admin's sqlite3 reading the file neither
 * blocks requests nor is blocked.  It comes every BATCH_US, or when
 * BATCH_MAX rows wait (a quarter of the queue, if that is less).  When
 * the queue is full the record is dropped and counted; the count is
 * logged and written to events.  On close the queue is drained
 * completely: a graceful stop loses no row.  A crash loses at
 * most what is queued and the open batch (about BATCH_US of traffic).
 *
 * A batch that cannot be written (disk full, I/O error) is rolled back
 * and its rows are lost, but counted with the queue's drops
 * (timelog_dropped), logged once when the trouble starts and once when
 * it ends, and written to events as "lost" by the first batch that
 * commits again.  Before each batch the writer checks that its path
 * still names the file it has open (a stat: the device and inode it
 * had when opened); a file deleted or replaced is closed and the path
 * opened again, schema and all, so the rows go where an admin looks.
 *
 * Retention runs in each batch's own transaction: it deletes what the
 * batch put over timings_max_rows or what has grown older than
 * timings_max_age, at most the batch's rows plus RETAIN_STEP, so that
 * deletion keeps pace with insertion at any rate, and each delete is
 * bounded by the batch it goes with.  A pass with no batch (every
 * BATCH_US when no request comes) catches up by RETAIN_STEP rows, and
 * events are trimmed by age every RETAIN_US.
 *
 * The writer checkpoints nothing itself: a thread of timelog_spool.c
 * does, on a connection of its own, so that no commit waits for one.
 * When a reader holds the WAL past timings_wal_max, the writer commits
 * nothing and its passes go to timelog_spool.c instead (spool_pass),
 * which keeps the rows in a spool file until the WAL is emptied, then
 * writes them back through timelog_commit, in order and before newer
 * ones.  The queue is taken at every pass all the same: a reader that
 * stays drops no row.
 *
 * This file is the queue, the writer and its INSERTs, retention's pacing
 * and the accounting of lost rows; the writer's notes in request_seconds
 * are timelog_secs.c's, and the dashboard reads the file on connections
 * of its own (timelog_read.c).  The SQL text that admins and the
 * dashboard see (the schema, the views of cgigate-timings(7), the
 * dashboard's queries, retention's deletes) is in timelog_sql.c.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cgigate.h"
#include "timelog_int.h"

#define BATCH_MAX	2048	/* fewer commits: 6% less CPU a row than 512 */
#define BATCH_US	200000
#define REQ_COLS	27
#define RUN_MAX		64	/* rows in the largest INSERT */
#define NRUNS		3
#define ROWS_PER_YIELD	64	/* rows between two sched_yield()s */
#define RETAIN_STEP	2000	/* rows past a batch's own, per delete */
#define RETAIN_US	(5 * 1000000ULL)	/* between events' trims */

/* Rows per INSERT of a run of requests, largest first. */
static const size_t run_rows[NRUNS] = { RUN_MAX, 8, 1 };

static struct {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	pthread_t	 thread;
	struct timelog_rec *q, *spare;	/* appended to; the writer's own */
	size_t		 cap, len, batch;	/* batch: rows that wake it */
	int		 stop, running;
	unsigned long long dropped, dropped_reported;
	unsigned long long lost;	/* by failed writes; under lock */
	sqlite3		*db;		/* NULL while it cannot be opened */
	sqlite3_stmt	*ins_req[NRUNS], *ins_ev;	/* run_rows[i] rows */
	struct timelog_lim lim;		/* SIGHUP sets it */
	char		*path;
	int		 off;		/* timings = off: record nothing */
	uint64_t	 next_retain;
	dev_t		 dev;		/* of path, when db was opened */
	ino_t		 ino;
	struct stat	 side[2];	/* of its -wal and -shm, or zeroed */
	/* The writer's own: the trouble under way, if any. */
	int		 failing;
	unsigned long long lost_pending;	/* not yet in events */
	char		 why[160];	/* what failed, for the log */
	long long	 wal_cur;	/* the wal_max its connection has */
} tl = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/*
 * Text is bound SQLITE_STATIC: the record outlives the statement's step
 * and reset, and every parameter is bound again for the next row, so
 * sqlite copies nothing and the bindings need no clearing.
 */
static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v[0] == '\0')
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static void
bind_opt(sqlite3_stmt *s, int i, long long v, int present)
{
	if (present)
		sqlite3_bind_int64(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

/*
 * Who sent it, from index i on, in the order of enum who: the client's
 * bytes as they came, with their length, NULL for what it did not send.
 */
static void
bind_who(sqlite3_stmt *s, int i, const struct timing *t)
{
	const char *v;
	size_t n;
	int k;

	for (k = 0; k < WHO_N; k++, i++)
		if ((v = timing_who(t, (enum who)k, &n)) == NULL)
			sqlite3_bind_null(s, i);
		else
			sqlite3_bind_text(s, i, v, (int)n, SQLITE_STATIC);
}

/* Bind t to the REQ_COLS parameters of s from index i on. */
static void
bind_req(sqlite3_stmt *s, int i, const struct timing *t)
{
	int fcgi = strcmp(t->mode, "fastcgi") == 0;
	int spawned = t->pid > 0 && !fcgi;

	sqlite3_bind_double(s, i++, t->ts);
	bind_text(s, i++, t->request_id);
	bind_text(s, i++, t->route);
	sqlite3_bind_text(s, i++, t->mode, -1, SQLITE_STATIC);
	bind_text(s, i++, t->method);
	bind_text(s, i++, t->path);
	sqlite3_bind_int(s, i++, t->status);
	sqlite3_bind_int64(s, i++, t->bytes_in);
	bind_opt(s, i++, t->bytes_out, t->bytes_out >= 0);
	sqlite3_bind_int64(s, i++, t->queue_us);
	bind_opt(s, i++, t->spawn_us, spawned);
	bind_opt(s, i++, t->ttfb_us, t->ttfb_us > 0);
	sqlite3_bind_int64(s, i++, t->total_us);
	bind_opt(s, i++, t->pid, t->pid > 0);
	bind_opt(s, i++, t->exit_status, t->exit_status >= 0);
	bind_opt(s, i++, t->signal, t->signal > 0);
	bind_opt(s, i++, t->user_cpu_us, spawned);
	bind_opt(s, i++, t->sys_cpu_us, spawned);
	bind_opt(s, i++, t->max_rss_kb, spawned && t->max_rss_kb >= 0);
	bind_text(s, i++, t->error);
	bind_opt(s, i++, t->connect_us, fcgi && t->connect_us >= 0);
	bind_opt(s, i++, t->worker_requests, t->worker_requests > 0);
	bind_who(s, i, t);
}

/* Run an INSERT; -1, with tl.why set, when it failed. */
static int
step(sqlite3_stmt *s)
{
	int rc = 0;

	if (sqlite3_step(s) != SQLITE_DONE) {
		snprintf(tl.why, sizeof(tl.why), "insert: %s",
		    sqlite3_errmsg(tl.db));
		rc = -1;
	}
	sqlite3_reset(s);
	return rc;
}

/*
 * Write r[0..n), in order, or stop at the first statement that fails
 * (disk full, I/O error) and return -1: the caller rolls the batch back,
 * as SQLite may have done already, and counts all of it lost.
 * A run of requests goes in statements of RUN_MAX rows, then 8, then 1:
 * SQLite spends fewer instructions on a row the more rows one statement
 * inserts.
 *
 * Every ROWS_PER_YIELD rows, the writer yields its CPU to the threads
 * waiting for that CPU, so that a full batch (up to BATCH_MAX rows,
 * milliseconds of CPU) does not hold a core in one piece while requests
 * queue behind it; no lock of cgigate's is held then.  Measured under
 * wrk, that gave more requests per second and a lower p99 than no
 * yield; yielding every 8 rows cost more than it gained.
 */
static int
write_recs(const struct timelog_rec *r, size_t n, long long *first,
    double *maxts)
{
	size_t i = 0, j, k, s, written = 0;

	*first = 0;
	*maxts = 0;

	while (i < n) {
		if (r[i].kind == REC_EVENT) {
			sqlite3_bind_double(tl.ins_ev, 1, r[i].u.e.ts);
			sqlite3_bind_text(tl.ins_ev, 2, r[i].u.e.kind, -1,
			    SQLITE_STATIC);
			bind_opt(tl.ins_ev, 3, r[i].u.e.pid, r[i].u.e.pid > 0);
			bind_text(tl.ins_ev, 4, r[i].u.e.detail);
			if (step(tl.ins_ev) == -1)
				return -1;
			i++;
			continue;
		}
		for (k = 0; k < RUN_MAX && i + k < n &&
		    r[i + k].kind == REC_REQUEST; k++)
			;
		for (s = 0; run_rows[s] > k; s++)	/* k >= 1 */
			;
		for (j = 0; j < run_rows[s]; j++) {
			bind_req(tl.ins_req[s], 1 + (int)j * REQ_COLS,
			    &r[i + j].u.t);
			if (r[i + j].u.t.ts > *maxts)
				*maxts = r[i + j].u.t.ts;
		}
		if (step(tl.ins_req[s]) == -1)
			return -1;
		/* A statement's rows take ids one after the other. */
		if (*first == 0)
			*first = sqlite3_last_insert_rowid(tl.db) -
			    (long long)run_rows[s] + 1;
		i += run_rows[s];
		if ((written += run_rows[s]) >= ROWS_PER_YIELD) {
			sched_yield();
			written = 0;
		}
	}
	return 0;
}

/*
 * Append a record to the queue: an event (e), or else a request (t), of
 * which only the bytes that hold something are copied (timing_size),
 * straight into the queue, with no copy on the caller's stack.
 */
static void
push(const struct timelog_rec *e, const struct timing *t)
{
	pthread_mutex_lock(&tl.lock);
	if (!tl.running || tl.len == tl.cap) {
		tl.dropped++;
	} else {
		if (e != NULL) {
			tl.q[tl.len] = *e;
		} else {
			tl.q[tl.len].kind = REC_REQUEST;
			memcpy(&tl.q[tl.len].u.t, t, timing_size(t));
		}
		/*
		 * Wake the writer only for a full batch; otherwise it comes
		 * by itself every BATCH_US.  Waking it per row cost a context
		 * switch per request.
		 */
		if (++tl.len == tl.batch)
			pthread_cond_signal(&tl.cond);
	}
	pthread_mutex_unlock(&tl.lock);
}

void
timelog_push(const struct timing *t)
{
	if (tl.off)
		return;
	push(NULL, t);
}

void
timelog_event(const char *kind, int pid, const char *fmt, ...)
{
	struct timelog_rec r;
	va_list ap;

	if (tl.off)
		return;
	r.kind = REC_EVENT;
	r.u.e.ts = clk_wall();
	r.u.e.pid = pid;
	snprintf(r.u.e.kind, sizeof(r.u.e.kind), "%s", kind);
	va_start(ap, fmt);
	vsnprintf(r.u.e.detail, sizeof(r.u.e.detail), fmt, ap);
	va_end(ap);
	push(&r, NULL);
}

unsigned long long
timelog_dropped(void)
{
	unsigned long long n;

	pthread_mutex_lock(&tl.lock);
	n = tl.dropped + tl.lost;
	pthread_mutex_unlock(&tl.lock);
	return n;
}

static int
prepare_inserts(void)
{
	static const char head[] = "INSERT INTO requests (ts, request_id,"
	    " route, mode, method, path, status, bytes_in, bytes_out,"
	    " queue_us, spawn_us, ttfb_us, total_us, pid, exit_status, signal,"
	    " user_cpu_us, sys_cpu_us, max_rss_kb, error, connect_us,"
	    " worker_requests, client_addr, host, query, user_agent,"
	    " referer) VALUES ";
	/* Each row: a comma, "(", REQ_COLS '?' with commas between, ")". */
	char sql[sizeof(head) + RUN_MAX * (2 * REQ_COLS + 2)], *p;
	size_t r, s;
	int c;

	memcpy(sql, head, sizeof(head) - 1);
	p = sql + sizeof(head) - 1;
	for (r = 1; r <= RUN_MAX; r++) {
		if (r > 1)
			*p++ = ',';
		*p++ = '(';
		for (c = 0; c < REQ_COLS; c++) {
			if (c > 0)
				*p++ = ',';
			*p++ = '?';
		}
		*p++ = ')';
		*p = '\0';
		for (s = 0; s < NRUNS; s++)
			if (run_rows[s] == r && sqlite3_prepare_v2(tl.db, sql,
			    -1, &tl.ins_req[s], NULL) != SQLITE_OK)
				return -1;
	}
	if (sqlite3_prepare_v2(tl.db, "INSERT INTO events (ts,"
	    " kind, pid, detail) VALUES (?,?,?,?)", -1, &tl.ins_ev, NULL) !=
	    SQLITE_OK || secs_prepare(tl.db) == -1)
		return -1;
	return 0;
}

static void
finalize_inserts(void)
{
	size_t s;

	for (s = 0; s < NRUNS; s++) {
		sqlite3_finalize(tl.ins_req[s]);
		tl.ins_req[s] = NULL;
	}
	sqlite3_finalize(tl.ins_ev);
	tl.ins_ev = NULL;
	secs_finalize();
}

/* The directory make_parent created, or "". */
static char made_dir[4096];

/* Create the directory that will hold path, one level deep. */
static int
make_parent(const char *path)
{
	char dir[4096];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -1;
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0750) == 0)
		memcpy(made_dir, dir, sizeof(made_dir));
	else if (errno != EEXIST) {
		log_err(NULL, "timelog: mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

const char *
timelog_made_dir(void)
{
	return made_dir[0] != '\0' ? made_dir : NULL;
}

/*
 * Give requests the columns that a database from an earlier version
 * lacks (timelog_sql_added), before the views and INSERTs name them.
 * One it has already is refused as a duplicate, which is what is
 * wanted; any other refusal is logged, and the INSERT that names the
 * column then fails to prepare, which fails the open.
 */
static void
add_columns(const char *path)
{
	const struct timelog_col *c;
	char sql[128], *msg;

	for (c = timelog_sql_added; c->name != NULL; c++) {
		snprintf(sql, sizeof(sql), "ALTER TABLE requests ADD COLUMN "
		    "%s %s", c->name, c->type);
		msg = NULL;
		if (sqlite3_exec(tl.db, sql, NULL, NULL, &msg) != SQLITE_OK &&
		    (msg == NULL || strncmp(msg, "duplicate column name",
		    21) != 0))
			log_err(NULL, "timelog: adding %s to %s: %s", c->name,
			    path, msg ? msg : "out of memory");
		else if (msg == NULL)
			log_notice(NULL, "timelog: %s: added column %s", path,
			    c->name);
		sqlite3_free(msg);
	}
}

/*
 * The -wal and -shm files beside the database.  SQLite neither
 * checkpoints nor deletes those of a database file deleted or renamed
 * while open (its databaseIsUnlinked), and would replay that WAL into
 * whatever file is opened at the path next.  So db_open notes which
 * files they are (the views it makes have written the WAL), and once
 * the old database is closed those still at the path, and no others,
 * are removed (remove set).
 */
static void
side_files(int remove)
{
	static const char *const ext[2] = { "-wal", "-shm" };
	char p[4096];
	struct stat sb;
	int i;

	for (i = 0; i < 2; i++) {
		if (snprintf(p, sizeof(p), "%s%s", tl.path, ext[i]) >=
		    (int)sizeof(p))
			continue;
		if (stat(p, &sb) == -1)
			memset(&sb, 0, sizeof(sb));
		else if (remove && sb.st_dev == tl.side[i].st_dev &&
		    sb.st_ino == tl.side[i].st_ino && unlink(p) == -1)
			log_err(NULL, "timelog: unlink %s: %s", p,
			    strerror(errno));
		if (!remove)
			tl.side[i] = sb;
	}
}

/*
 * Open path, creating it and its schema, prepare the INSERTs and note
 * which file it is (device and inode), for moved() to compare.  -1, with
 * tl.why set and nothing left open, when that fails.
 */
static int
db_open(const char *path)
{
	struct stat sb;
	char *msg = NULL;

	if (sqlite3_open_v2(path, &tl.db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(tl.why, sizeof(tl.why), "open %s: %s", path,
		    tl.db ? sqlite3_errmsg(tl.db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(tl.db, TIMELOG_BUSY_MS);
	if (sqlite3_exec(tl.db, timelog_sql_schema, NULL, NULL, &msg) !=
	    SQLITE_OK) {
		snprintf(tl.why, sizeof(tl.why), "schema of %s: %s", path,
		    msg ? msg : "out of memory");
		sqlite3_free(msg);
		goto fail;
	}
	add_columns(path);
	if (sqlite3_exec(tl.db, timelog_sql_views, NULL, NULL, &msg) !=
	    SQLITE_OK) {
		log_err(NULL, "timelog: views of %s: %s", path, msg);
		sqlite3_free(msg);
	}
	if (prepare_inserts() == -1) {
		snprintf(tl.why, sizeof(tl.why), "prepare: %s",
		    sqlite3_errmsg(tl.db));
		goto fail;
	}
	if (stat(path, &sb) == -1) {
		snprintf(tl.why, sizeof(tl.why), "stat %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	tl.dev = sb.st_dev;
	tl.ino = sb.st_ino;
	side_files(0);
	ckpt_attach(tl.db, tl.dev, tl.ino, tl.wal_cur);
	return 0;
fail:
	finalize_inserts();
	sqlite3_close(tl.db);
	tl.db = NULL;
	return -1;
}

static void
db_close(void)
{
	finalize_inserts();
	sqlite3_close(tl.db);
	tl.db = NULL;
}

/*
 * Whether the path no longer names the file the writer has open: it was
 * deleted, or another was put in its place.  A stat that fails for
 * another reason (a permission) says nothing, and the writer goes on.
 */
static int
moved(void)
{
	struct stat sb;

	if (stat(tl.path, &sb) == -1)
		return errno == ENOENT || errno == ENOTDIR;
	return sb.st_dev != tl.dev || sb.st_ino != tl.ino;
}

/* Run one of retention's deletes; -1, with tl.why set, when it failed. */
static int
retain_exec(const char *fmt, ...)
{
	char sql[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (sqlite3_exec(tl.db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(tl.why, sizeof(tl.why), "retention: %s",
		    sqlite3_errmsg(tl.db));
		return -1;
	}
	return 0;
}

/*
 * Retention of requests: delete at most step rows past max_rows and
 * step past max_age_us, then the seconds of request_seconds before the
 * first row left.  Each delete is a range of row ids (timelog_sql.c).
 * -1 when one failed.
 */
static int
retain(int64_t max_age_us, long long max_rows, int step)
{
	double cutoff = clk_wall() - (double)max_age_us / 1e6;

	if (max_age_us > 0 && retain_exec(timelog_sql_retain_requests_age,
	    (long long)cutoff, step, cutoff) == -1)
		return -1;
	if (max_rows > 0 && retain_exec(timelog_sql_retain_requests_rows,
	    max_rows, step) == -1)
		return -1;
	return retain_exec(timelog_sql_retain_seconds, RETAIN_STEP);
}

void
timelog_event_rec(struct timelog_rec *r, const char *kind, const char *fmt,
    ...)
{
	va_list ap;

	r->kind = REC_EVENT;
	r->u.e.ts = clk_wall();
	r->u.e.pid = 0;
	snprintf(r->u.e.kind, sizeof(r->u.e.kind), "%s", kind);
	va_start(ap, fmt);
	vsnprintf(r->u.e.detail, sizeof(r->u.e.detail), fmt, ap);
	va_end(ap);
}

/*
 * Write a batch in one transaction: its records, an event for the rows
 * the queue dropped since the last batch and one for those lost since
 * trouble began, and retention's share.  0 when it committed; -1, with
 * tl.why set and the transaction rolled back, when not.
 */
static int
write_batch(const struct timelog_rec *batch, size_t n,
    unsigned long long dropped, const struct timelog_lim *lim)
{
	struct timelog_rec ev;
	long long first, none;
	double maxts, nots;
	int step;

	if (tl.db == NULL)
		return -1;
	if (sqlite3_exec(tl.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(tl.why, sizeof(tl.why), "begin: %s",
		    sqlite3_errmsg(tl.db));
		return -1;
	}
	secs_begin();
	if (write_recs(batch, n, &first, &maxts) == -1)
		goto fail;
	if (first > 0 && secs_mark(tl.db, first, maxts) == -1) {
		snprintf(tl.why, sizeof(tl.why), "request_seconds: %s",
		    sqlite3_errmsg(tl.db));
		goto fail;
	}
	if (dropped > 0) {
		timelog_event_rec(&ev, "dropped", "%llu", dropped);
		if (write_recs(&ev, 1, &none, &nots) == -1)
			goto fail;
	}
	if (tl.lost_pending > 0) {
		timelog_event_rec(&ev, "lost", "%llu rows: %s",
		    tl.lost_pending, tl.why);
		if (write_recs(&ev, 1, &none, &nots) == -1)
			goto fail;
	}
	step = n > INT_MAX - RETAIN_STEP ? INT_MAX : (int)n + RETAIN_STEP;
	if ((lim->max_age_us > 0 || lim->max_rows > 0) &&
	    retain(lim->max_age_us, lim->max_rows, step) == -1)
		goto fail;
	if (sqlite3_exec(tl.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(tl.why, sizeof(tl.why), "commit: %s",
		    sqlite3_errmsg(tl.db));
		goto fail;
	}
	return 0;
fail:
	sqlite3_exec(tl.db, "ROLLBACK", NULL, NULL, NULL);
	secs_rollback();	/* as the database has it again */
	return -1;
}

/*
 * n rows could not be written: count them where status and metrics see
 * them, and say so once, when the trouble starts.
 */
static void
lose(size_t n)
{
	pthread_mutex_lock(&tl.lock);
	tl.lost += n;
	pthread_mutex_unlock(&tl.lock);
	tl.lost_pending += n;
	if (!tl.failing) {
		tl.failing = 1;
		log_err(NULL, "timelog: %s: %s; timing rows are being lost "
		    "(counted as dropped) until it writes again", tl.path,
		    tl.why);
	}
}

/*
 * The path names another file than the one open, or none: close it and
 * open the path again (after a failure, every pass).  Rows wait in the
 * batch meanwhile; the file left behind keeps those it was given, its
 * WAL checkpointed into it.
 */
static void
reopen(void)
{
	if (tl.db != NULL) {
		log_warn(NULL, "timelog: %s was deleted or replaced; "
		    "opening it again", tl.path);
		/*
		 * Into the file it has open, which SQLite will not do at
		 * close: a database renamed away (rotated) keeps its rows.
		 */
		sqlite3_wal_checkpoint_v2(tl.db, NULL,
		    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		db_close();
		side_files(1);
	}
	if (db_open(tl.path) == 0)
		log_notice(NULL, "timelog: %s opened again", tl.path);
}

/*
 * Write a batch and account for it: a batch that failed, or that went
 * to a file deleted or replaced in the instant it was written, is lost
 * (and the queue's drops it was to record are recorded by a later one);
 * the first that commits after a failure ends the trouble.
 */
static void
write_pass(const struct timelog_rec *batch, size_t n,
    unsigned long long dropped, const struct timelog_lim *lim)
{
	int ok;

	ok = write_batch(batch, n, dropped, lim) == 0;
	if (ok && moved()) {
		snprintf(tl.why, sizeof(tl.why), "%s was deleted or replaced "
		    "as rows were written", tl.path);
		ok = 0;
		lose(n);
		reopen();
	} else if (!ok)
		lose(n);
	if (!ok) {
		pthread_mutex_lock(&tl.lock);
		tl.dropped_reported -= dropped;
		pthread_mutex_unlock(&tl.lock);
		return;
	}
	if (dropped > 0)
		log_warn(NULL, "timelog: queue full, dropped %llu rows",
		    dropped);
	if (tl.failing) {
		log_notice(NULL, "timelog: %s: writing again; %llu rows were "
		    "lost", tl.path, tl.lost_pending);
		tl.failing = 0;
		tl.lost_pending = 0;
	}
}

int
timelog_commit(const struct timelog_rec *r, size_t n,
    const struct timelog_lim *lim)
{
	if (write_batch(r, n, 0, lim) == -1)
		return -1;
	if (moved()) {
		/* To a file no longer at the path: again, to the new one. */
		reopen();
		return -1;
	}
	if (tl.failing) {
		log_notice(NULL, "timelog: %s: writing again; %llu rows were "
		    "lost", tl.path, tl.lost_pending);
		tl.failing = 0;
		tl.lost_pending = 0;
	}
	return 0;
}

void
timelog_lost(size_t n, const char *why)
{
	snprintf(tl.why, sizeof(tl.why), "%s", why);
	lose(n);
}

static void *
writer(void *arg)
{
	struct timelog_rec *batch;
	struct timelog_lim lim;
	struct timespec ts;
	size_t n;
	int stop;

	(void)arg;
	for (;;) {
		unsigned long long dropped = 0;

		pthread_mutex_lock(&tl.lock);
		/* A batch, or a tick; none while the spool has rows to go. */
		if (tl.len < tl.batch && !tl.stop && !spool_busy(tl.wal_cur)) {
			ts = clk_ts(clk_now_us() + BATCH_US);
			pthread_cond_timedwait(&tl.cond, &tl.lock, &ts);
		}
		batch = tl.q;
		n = tl.len;
		tl.q = tl.spare;
		tl.spare = batch;
		tl.len = 0;
		stop = tl.stop;
		lim = tl.lim;
		if (tl.dropped != tl.dropped_reported) {
			dropped = tl.dropped - tl.dropped_reported;
			tl.dropped_reported = tl.dropped;
		}
		pthread_mutex_unlock(&tl.lock);

		if (tl.db == NULL || moved())
			reopen();
		if (lim.wal_max != tl.wal_cur) {
			tl.wal_cur = lim.wal_max;
			if (tl.db != NULL)
				ckpt_limit(tl.db, lim.wal_max);
		}
		if (spool_active())
			spool_pass(batch, n, tl.cap, dropped, &lim);
		else if (n > 0 || dropped > 0 || tl.failing)
			write_pass(batch, n, dropped, &lim);
		else if (tl.db != NULL && (lim.max_age_us > 0 ||
		    lim.max_rows > 0))
			retain(lim.max_age_us, lim.max_rows, RETAIN_STEP);
		if (!stop && tl.db != NULL)
			spool_check(lim.wal_max);
		if (lim.max_age_us > 0 && tl.db != NULL && !spool_held() &&
		    clk_now_us() >= tl.next_retain) {
			retain_exec(timelog_sql_retain_events_age, clk_wall() -
			    (double)lim.max_age_us / 1e6, RETAIN_STEP);
			tl.next_retain = clk_now_us() + RETAIN_US;
		}
		if (stop)
			break;
	}
	if (spool_active())
		spool_finish(tl.db, batch, tl.cap, &lim);
	return NULL;
}

int
timelog_open(const char *path, int queue_len, int64_t max_age_us,
    long long max_rows, long long wal_max)
{
	if (strcmp(path, "off") == 0) {
		/* For measuring what the log costs; nothing is kept. */
		tl.off = 1;
		log_notice(NULL, "timings = off: no request is recorded");
		return 0;
	}
	/*
	 * SQLite's count of its memory, which nothing here reads, takes a
	 * global mutex at each allocation: 2-4% of the writer's CPU.  Only
	 * before SQLite's first use, which this is (from main, before any
	 * thread); later it is refused, and harmless.
	 */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if (make_parent(path) == -1)
		return -1;
	if ((tl.path = strdup(path)) == NULL) {
		log_err(NULL, "timelog: out of memory");
		return -1;
	}
	tl.lim.wal_max = tl.wal_cur = wal_max;
	if (db_open(path) == -1) {
		log_err(NULL, "timelog: %s", tl.why);
		goto fail;
	}
	tl.lim.max_age_us = max_age_us;
	tl.lim.max_rows = max_rows;
	tl.cap = (size_t)queue_len;
	tl.batch = tl.cap / 4 < BATCH_MAX ? tl.cap / 4 : BATCH_MAX;
	if ((tl.q = calloc(tl.cap, sizeof(*tl.q))) == NULL ||
	    (tl.spare = calloc(tl.cap, sizeof(*tl.spare))) == NULL) {
		log_err(NULL, "timelog: out of memory");
		goto fail;
	}
	spool_open(tl.path);
	if (ckpt_start(tl.path) == -1)
		goto fail;
	clk_cond_init(&tl.cond);
	tl.running = 1;
	if ((errno = pthread_create(&tl.thread, NULL, writer, NULL)) != 0) {
		log_err(NULL, "timelog: pthread_create: %s", strerror(errno));
		tl.running = 0;
		ckpt_stop();
		ckpt_release();
		goto fail;
	}
	pthread_setname_np(tl.thread, "cg-timelog");
	return 0;
fail:
	db_close();
	spool_close();
	free(tl.q);
	free(tl.spare);
	free(tl.path);
	tl.q = tl.spare = NULL;
	tl.path = NULL;
	return -1;
}

/*
 * The checkpointer stops first, so that what the writer does last (the
 * spool, a checkpoint of its own) meets no checkpoint of its.
 */
void
timelog_close(void)
{
	if (!tl.running)
		return;
	ckpt_stop();
	pthread_mutex_lock(&tl.lock);
	tl.stop = 1;
	pthread_cond_signal(&tl.cond);
	pthread_mutex_unlock(&tl.lock);
	pthread_join(tl.thread, NULL);
	ckpt_release();
	pthread_mutex_lock(&tl.lock);
	tl.running = 0;
	pthread_mutex_unlock(&tl.lock);
	db_close();
	spool_close();
	free(tl.q);
	free(tl.spare);
	free(tl.path);
	tl.q = tl.spare = NULL;
	tl.path = NULL;
}

size_t
timelog_depth(void)
{
	size_t n;

	pthread_mutex_lock(&tl.lock);
	n = tl.len;
	pthread_mutex_unlock(&tl.lock);
	return n;
}

void
timelog_retention(int64_t max_age_us, long long max_rows,
    long long wal_max)
{
	pthread_mutex_lock(&tl.lock);
	tl.lim.max_age_us = max_age_us;
	tl.lim.max_rows = max_rows;
	tl.lim.wal_max = wal_max;
	pthread_mutex_unlock(&tl.lock);
}

unsigned long long
timelog_spooled(int total)
{
	return total ? spool_total() : spool_rows();
}

const char *
timelog_path(void)
{
	return tl.path;
}
