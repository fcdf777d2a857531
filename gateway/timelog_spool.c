/*
 * timelog_spool.c: the timing database's checkpoints, and the spool file
 * that keeps its WAL bounded while a reader holds it.
 *
 * The writer (timelog.c) commits with SQLite's automatic checkpoints off.
 * Its WAL hook (hook) counts the WAL's frames after each commit and,
 * past wake_frames, wakes the checkpointer thread, which runs a PASSIVE
 * checkpoint on a connection of its own: the writer never waits for a
 * checkpoint's copying and fsyncs.  Once everything in the WAL is copied,
 * the writer's next transaction starts it again from its beginning, and
 * journal_size_limit trims the file then, to a size the WAL outgrows
 * only while a reader holds it.
 *
 * A reader's snapshot stops both: SQLite copies no frame past what a
 * reader may still read, and restarts no WAL that a reader is in.  So
 * under load the WAL grows for as long as a reader stays, by whatever is
 * committed (300 MB in the minute of issue 19), and the checkpoint once
 * the reader goes copies all of it.  So when a commit leaves the WAL
 * past timings_wal_max (spool_check), the writer holds: it commits
 * nothing and appends its rows to a spool file beside the database
 * (PATH-spool) instead.  While it holds, the checkpointer tries a
 * TRUNCATE checkpoint every CKPT_POLL_US, which copies what the reader
 * allows and empties the WAL once no reader is left; nothing else writes
 * to the database then, so it takes the write lock from no one.  Once the
 * WAL is empty, the writer writes the spool back, oldest first, in
 * transactions that leave the WAL well within its bound, with new rows
 * appended behind the old, so that the rows keep their order; it waits
 * for nothing while the spool has rows, unless the WAL is half full.
 * A hold that one checkpoint ends (a large transaction, no reader) is
 * not logged; one that a reader prolongs is, when it starts and ends,
 * and spool_start and spool_end events frame the rows it spooled.
 *
 * The spool survives a stop or a crash: its header holds the offset of
 * the oldest record not yet in the database, written after each
 * transaction that took some (a crash between the two writes those rows
 * twice), and the next start writes what is left (spool_open).  A stop
 * writes the whole spool unless a reader still holds the WAL.  Appends
 * are not fsynced, as commits are not (synchronous=NORMAL): a crash of
 * the process loses nothing, one of the machine may.  spoolrec.c is the
 * format.
 *
 * The queue, the INSERTs, retention and the accounting of lost rows are
 * timelog.c's (timelog_commit, timelog_lost).  The spool is the writer's
 * alone; other threads read only its counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "timelog_int.h"

#define CKPT_FRAMES_MAX	1000	/* SQLite's own autocheckpoint */
#define CKPT_FRAMES_MIN	16
#define CKPT_POLL_US	100000	/* between attempts while the writer holds */
#define SPOOL_BUF	(256 * 1024)
#define REPLAY_MAX	4096	/* spooled rows per transaction */
#define WAL_HEAD	32	/* the WAL's header, then frames */
#define FRAME_HEAD	24	/* each frame's, then a page */

static struct {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	pthread_t	 thread;
	int		 running, stop, wake;
	int		 held;		/* the writer commits nothing */
	unsigned	 holds;		/* holds begun: whose clear it is */
	int		 clear;		/* held: 1 emptied, -1 a reader kept */
	unsigned	 gen;		/* of the writer's file: a new one */
	dev_t		 dev;
	ino_t		 ino;
	const char	*path;		/* timelog.c's */
	/* The writer's own, from its hook. */
	long long	 frames;	/* in the WAL after the last commit */
	long long	 frame_bytes;
	long long	 wake_frames;
} ck = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* The writer's own, but for the counts. */
static struct {
	/* The file. */
	int		 fd;		/* -1: no spool */
	char		 path[4096];
	const char	*dbpath;	/* timelog.c's */
	uint64_t	 head;		/* the oldest record not in the db */
	uint64_t	 next;		/* past what read_rows handed out */
	uint64_t	 end;		/* where the next record goes */
	unsigned long long taken;	/* rows read_rows handed out */
	unsigned char	*buf;		/* SPOOL_BUF bytes */
	atomic_ullong	 rows, total;	/* waiting; ever spooled */
	/* What goes on. */
	int		 spooling;	/* rows go through the spool */
	int		 held;		/* and none is committed */
	int		 pinned;	/* a reader holds it: logged */
	int		 said;		/* and spool_start recorded */
	int		 stuck;		/* its last write failed: not at once */
	uint64_t	 first_us, held_us, unheld_us;	/* since when */
	double		 held_wall, held_mb;
	unsigned long long unspooled;	/* rows written from it */
} sp = {
	.fd = -1,
};

/*
 * The writer's WAL hook, after each commit, on its thread: frames is the
 * WAL's length in frames.  Past wake_frames, the checkpointer is woken;
 * below, nothing is locked.
 */
static int
hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	(void)arg;
	(void)db;
	(void)name;
	ck.frames = frames;
	if (frames >= ck.wake_frames) {
		pthread_mutex_lock(&ck.lock);
		ck.wake = 1;
		pthread_cond_signal(&ck.cond);
		pthread_mutex_unlock(&ck.lock);
	}
	return SQLITE_OK;
}

/*
 * The checkpointer's connection to the writer's file: NULL when it
 * cannot be opened, which is logged unless *failing says it was, or when
 * the path names another file by now (the writer opens the path again,
 * and a new gen comes).
 */
static sqlite3 *
ckpt_open(const char *path, dev_t dev, ino_t ino, int *failing)
{
	sqlite3 *db = NULL;
	struct stat sb;

	/*
	 * A connection finds the file in WAL mode, and opens its WAL, when
	 * it first reads; until then a checkpoint of it does nothing.
	 */
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "SELECT 1 FROM sqlite_master LIMIT 1", NULL,
	    NULL, NULL) != SQLITE_OK) {
		if (!*failing)
			log_err(NULL, "timelog: checkpointer: %s: %s", path,
			    db ? sqlite3_errmsg(db) : "out of memory");
		*failing = 1;
		sqlite3_close(db);
		return NULL;
	}
	if (stat(path, &sb) == -1 || sb.st_dev != dev || sb.st_ino != ino) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

static void *
checkpointer(void *arg)
{
	sqlite3 *db = NULL;
	struct timespec ts;
	unsigned gen = 0, holds;
	int held, rc, nlog, failing = 0, reopen;
	dev_t dev = 0;
	ino_t ino = 0;

	(void)arg;
	pthread_mutex_lock(&ck.lock);
	for (;;) {
		if (!ck.stop && !ck.wake) {
			if (ck.held) {
				ts = clk_ts(clk_now_us() + CKPT_POLL_US);
				pthread_cond_timedwait(&ck.cond, &ck.lock, &ts);
			} else
				pthread_cond_wait(&ck.cond, &ck.lock);
		}
		if (ck.stop)
			break;
		ck.wake = 0;
		held = ck.held;
		holds = ck.holds;
		if ((reopen = gen != ck.gen || db == NULL)) {
			gen = ck.gen;
			dev = ck.dev;
			ino = ck.ino;
		}
		pthread_mutex_unlock(&ck.lock);

		if (reopen) {
			sqlite3_close(db);
			db = gen != 0 ? ckpt_open(ck.path, dev, ino,
			    &failing) : NULL;
		}
		nlog = -1;
		rc = db == NULL ? SQLITE_ERROR : sqlite3_wal_checkpoint_v2(db,
		    NULL, held ? SQLITE_CHECKPOINT_TRUNCATE :
		    SQLITE_CHECKPOINT_PASSIVE, &nlog, NULL);
		if (db != NULL && rc != SQLITE_OK && rc != SQLITE_BUSY &&
		    !failing) {
			log_err(NULL, "timelog: checkpoint of %s: %s", ck.path,
			    sqlite3_errmsg(db));
			failing = 1;
		} else if (rc == SQLITE_OK)
			failing = 0;

		pthread_mutex_lock(&ck.lock);
		/* Not a hold's that ended and began again meanwhile. */
		if (held && ck.held && holds == ck.holds && gen == ck.gen &&
		    db != NULL)
			ck.clear = rc == SQLITE_OK && nlog == 0 ? 1 : -1;
	}
	pthread_mutex_unlock(&ck.lock);
	sqlite3_close(db);
	return NULL;
}

int
ckpt_start(const char *path)
{
	ck.path = path;
	clk_cond_init(&ck.cond);
	if ((errno = pthread_create(&ck.thread, NULL, checkpointer, NULL)) !=
	    0) {
		log_err(NULL, "timelog: pthread_create: %s", strerror(errno));
		pthread_cond_destroy(&ck.cond);
		return -1;
	}
	pthread_setname_np(ck.thread, "cg-checkpoint");
	ck.running = 1;
	return 0;
}

void
ckpt_stop(void)
{
	if (!ck.running)
		return;
	pthread_mutex_lock(&ck.lock);
	ck.stop = 1;
	pthread_cond_signal(&ck.cond);
	pthread_mutex_unlock(&ck.lock);
	pthread_join(ck.thread, NULL);
	ck.running = 0;
	ck.stop = 0;
}

void
ckpt_release(void)
{
	pthread_cond_destroy(&ck.cond);
}

void
ckpt_limit(struct sqlite3 *db, long long wal_max)
{
	char sql[64];
	long long f;

	/* Four checkpoints to the bound, and no more often than SQLite's. */
	f = (wal_max - WAL_HEAD) / ck.frame_bytes / 4;
	ck.wake_frames = f > CKPT_FRAMES_MAX ? CKPT_FRAMES_MAX :
	    f < CKPT_FRAMES_MIN ? CKPT_FRAMES_MIN : f;
	/*
	 * A restart trims the file to four times that (16 MB, or the bound
	 * when smaller), which the WAL reaches only when a reader held it:
	 * no file stays the size a long read made it.
	 */
	snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit=%lld",
	    WAL_HEAD + 4 * ck.wake_frames * ck.frame_bytes);
	sqlite3_exec(db, sql, NULL, NULL, NULL);
}

void
ckpt_attach(struct sqlite3 *db, dev_t dev, ino_t ino, long long wal_max)
{
	sqlite3_stmt *st;
	long long page = 4096;

	if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL) ==
	    SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		page = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	ck.frame_bytes = page + FRAME_HEAD;
	ck.frames = 0;
	ckpt_limit(db, wal_max);
	sqlite3_wal_autocheckpoint(db, 0);
	sqlite3_wal_hook(db, hook, NULL);
	pthread_mutex_lock(&ck.lock);
	if (++ck.gen == 0)
		ck.gen = 1;
	ck.dev = dev;
	ck.ino = ino;
	ck.wake = 1;
	pthread_cond_signal(&ck.cond);
	pthread_mutex_unlock(&ck.lock);
}

static long long
ckpt_wal_bytes(void)
{
	return ck.frames > 0 ? WAL_HEAD + ck.frames * ck.frame_bytes : 0;
}

static void
ckpt_hold(int on)
{
	pthread_mutex_lock(&ck.lock);
	ck.held = on;
	ck.holds += on;
	ck.clear = 0;
	ck.wake = on;
	pthread_cond_signal(&ck.cond);
	pthread_mutex_unlock(&ck.lock);
}

static int
ckpt_clear(void)
{
	int c;

	pthread_mutex_lock(&ck.lock);
	c = ck.clear;
	pthread_mutex_unlock(&ck.lock);
	if (c == 1)
		ck.frames = 0;
	return c;
}

static int
ckpt_truncate(struct sqlite3 *db)
{
	int rc, nlog = -1;

	sqlite3_busy_timeout(db, 0);
	rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
	    &nlog, NULL);
	sqlite3_busy_timeout(db, TIMELOG_BUSY_MS);
	if (rc != SQLITE_OK || nlog != 0)
		return -1;
	ck.frames = 0;
	return 0;
}

/* Write all of b[0..n) at off. */
static int
pwrite_all(int fd, const unsigned char *b, size_t n, uint64_t off)
{
	ssize_t w;

	while (n > 0) {
		if ((w = pwrite(fd, b, n, (off_t)off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static int
write_head(void)
{
	unsigned char h[SPOOLREC_HEAD];

	spoolrec_head(h, sp.head);
	return pwrite_all(sp.fd, h, sizeof(h), 0);
}

/* The buffer, made the first time the spool is used: -1 without memory. */
static int
need_buf(void)
{
	if (sp.buf == NULL && (sp.buf = malloc(SPOOL_BUF)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/*
 * Decode up to max records from off on into r (NULL: count them only),
 * and none past the first that reaches bytes, reading the file through
 * the buffer.  Returns how many; *stop is the offset past the last, and
 * *bad is set when a record at *stop cannot be read: damaged, or cut
 * short (by a crash).  -1 on a read error.
 */
static long long
scan(uint64_t off, uint64_t end, struct timelog_rec *r, size_t max,
    uint64_t bytes, uint64_t *stop, int *bad)
{
	static struct timelog_rec scratch;
	uint64_t from = off;
	size_t have = 0, pos = 0, used, want;
	long long n = 0;
	ssize_t got;

	/* sp.buf[pos..have) holds the file's bytes from off on. */
	*bad = 0;
	while ((size_t)n < max && off < end && off - from < bytes) {
		if (have - pos < SPOOLREC_MAX && off + (have - pos) < end) {
			memmove(sp.buf, sp.buf + pos, have - pos);
			have -= pos;
			pos = 0;
			want = SPOOL_BUF - have;
			if (want > end - (off + have))
				want = (size_t)(end - (off + have));
			got = pread(sp.fd, sp.buf + have, want,
			    (off_t)(off + have));
			if (got == -1 && errno == EINTR)
				continue;
			if (got == -1) {
				*stop = off;
				return -1;
			}
			have += (size_t)got;
			if (got == 0)
				end = off + have;	/* shorter */
		}
		if (spoolrec_decode(sp.buf + pos, have - pos,
		    r != NULL ? &r[n] : &scratch, &used) != 1) {
			*bad = off < end;
			break;
		}
		pos += used;
		off += used;
		n++;
	}
	*stop = off;
	return n;
}

/* Close the spool, and remove it when it holds nothing. */
static void
drop(void)
{
	if (sp.fd == -1)
		return;
	if (sp.head >= sp.end && unlink(sp.path) == -1 && errno != ENOENT)
		log_err(NULL, "timelog: unlink %s: %s", sp.path,
		    strerror(errno));
	close(sp.fd);
	sp.fd = -1;
	sp.head = sp.next = sp.end = 0;
}

unsigned long long
spool_open(const char *dbpath)
{
	unsigned char h[SPOOLREC_HEAD];
	char aside[sizeof(sp.path) + 8];
	struct stat sb;
	uint64_t stop;
	long long n;
	int bad;

	sp.dbpath = dbpath;
	snprintf(sp.path, sizeof(sp.path), "%s-spool", dbpath);
	if ((sp.fd = open(sp.path, O_RDWR | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_err(NULL, "timelog: open %s: %s", sp.path,
			    strerror(errno));
		return 0;
	}
	if (fstat(sp.fd, &sb) == -1 || need_buf() == -1) {
		log_err(NULL, "timelog: %s: %s", sp.path, strerror(errno));
		goto aside;
	}
	if (pread(sp.fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    spoolrec_head_read(h, &sp.head) == -1) {
		/* Not to be written over by the next spool. */
		snprintf(aside, sizeof(aside), "%s.bad", sp.path);
		if (rename(sp.path, aside) == 0)
			log_err(NULL, "timelog: %s is no spool of cgigate's; "
			    "moved to %s", sp.path, aside);
		else
			log_err(NULL, "timelog: %s is no spool of cgigate's; "
			    "rename: %s", sp.path, strerror(errno));
		goto fail;
	}
	sp.end = (uint64_t)sb.st_size;
	if ((n = scan(sp.head, sp.end, NULL, (size_t)-1, UINT64_MAX, &stop,
	    &bad)) == -1) {
		log_err(NULL, "timelog: read %s: %s", sp.path,
		    strerror(errno));
		goto aside;
	}
	if (bad || stop < sp.end) {
		log_err(NULL, "timelog: %s: the last %llu bytes are no whole "
		    "record (cut short by a crash?); dropped", sp.path,
		    (unsigned long long)(sp.end - stop));
		if (ftruncate(sp.fd, (off_t)stop) == -1)
			log_err(NULL, "timelog: truncate %s: %s", sp.path,
			    strerror(errno));
		sp.end = stop;
	}
	sp.next = sp.head;
	if (n == 0) {
		drop();
		return 0;
	}
	atomic_store(&sp.rows, (unsigned long long)n);
	log_notice(NULL, "timelog: %s holds %llu rows of an earlier run; "
	    "writing them first", sp.path, (unsigned long long)n);
	sp.spooling = sp.said = 1;
	sp.first_us = sp.unheld_us = clk_now_us();
	return (unsigned long long)n;
aside:
	/* Its rows could not be read now: kept, not written over. */
	snprintf(aside, sizeof(aside), "%s.unread", sp.path);
	if (rename(sp.path, aside) == 0)
		log_err(NULL, "timelog: %s moved to %s, its rows unwritten",
		    sp.path, aside);
fail:
	close(sp.fd);
	sp.fd = -1;
	sp.head = sp.next = sp.end = 0;
	return 0;
}

/*
 * Append r[0..n) to the spool, made when missing: 0; or -1, with errno
 * set, having appended none of them.
 */
static int
append_rows(const struct timelog_rec *r, size_t n)
{
	unsigned char h[SPOOLREC_HEAD];
	uint64_t at;
	size_t i, len = 0;
	int e;

	if (n == 0)
		return 0;
	if (need_buf() == -1)
		return -1;
	if (sp.fd == -1) {
		if ((sp.fd = open(sp.path, O_RDWR | O_CREAT | O_TRUNC |
		    O_CLOEXEC, 0600)) == -1)
			return -1;
		sp.head = sp.next = sp.end = SPOOLREC_HEAD;
		spoolrec_head(h, sp.head);
		if (pwrite_all(sp.fd, h, sizeof(h), 0) == -1) {
			e = errno;
			drop();
			errno = e;
			return -1;
		}
	}
	at = sp.end;
	for (i = 0; i < n; i++) {
		if (SPOOL_BUF - len < SPOOLREC_MAX) {
			if (pwrite_all(sp.fd, sp.buf, len, at) == -1)
				goto undo;
			at += len;
			len = 0;
		}
		len += spoolrec_encode(sp.buf + len, SPOOL_BUF - len, &r[i]);
	}
	if (pwrite_all(sp.fd, sp.buf, len, at) == -1)
		goto undo;
	sp.end = at + len;
	atomic_fetch_add(&sp.rows, n);
	atomic_fetch_add(&sp.total, n);
	return 0;
undo:
	/* No part of the records stays to be read back. */
	e = errno;
	if (ftruncate(sp.fd, (off_t)sp.end) == -1)
		log_err(NULL, "timelog: truncate %s: %s", sp.path,
		    strerror(errno));
	errno = e;
	return -1;
}

static size_t
read_rows(struct timelog_rec *r, size_t max, uint64_t bytes, int *last)
{
	uint64_t stop;
	long long n;
	int bad;

	*last = 1;
	sp.taken = 0;
	if (sp.fd == -1 || need_buf() == -1)
		return 0;
	n = scan(sp.head, sp.end, r, max, bytes, &stop, &bad);
	if (n == -1 || bad) {
		/* Not from the writer's appends: the disk's, another's. */
		log_err(NULL, "timelog: %s: %s at offset %llu; the %llu bytes "
		    "from there are dropped", sp.path, n == -1 ?
		    strerror(errno) : "a damaged record",
		    (unsigned long long)stop, (unsigned long long)(sp.end -
		    stop));
		if (n == -1)
			n = 0;
		sp.end = stop;
		if (ftruncate(sp.fd, (off_t)stop) == -1)
			log_err(NULL, "timelog: truncate %s: %s", sp.path,
			    strerror(errno));
		atomic_store(&sp.rows, (unsigned long long)n);
	}
	sp.next = stop;
	sp.taken = (unsigned long long)n;
	*last = stop == sp.end;
	return (size_t)n;
}

static void
forget_rows(void)
{
	unsigned long long left;

	if (sp.fd == -1)
		return;
	sp.head = sp.next;
	left = atomic_load(&sp.rows);
	atomic_store(&sp.rows, left > sp.taken ? left - sp.taken : 0);
	sp.taken = 0;
	if (sp.head >= sp.end) {
		drop();
		atomic_store(&sp.rows, 0);
	} else if (write_head() == -1)
		log_err(NULL, "timelog: write %s: %s", sp.path,
		    strerror(errno));
}

void
spool_close(void)
{
	drop();
	free(sp.buf);
	sp.buf = NULL;
}

unsigned long long
spool_rows(void)
{
	return atomic_load(&sp.rows);
}

unsigned long long
spool_total(void)
{
	return atomic_load(&sp.total);
}

/* Append to the spool: 0; or -1, the rows lost and counted. */
static int
to_spool(const struct timelog_rec *r, size_t n)
{
	char why[64];

	if (append_rows(r, n) == 0)
		return 0;
	snprintf(why, sizeof(why), "writing the spool: %s", strerror(errno));
	timelog_lost(n, why);
	return -1;
}

/*
 * The WAL passed timings_wal_max with a commit: commit nothing more
 * until the checkpointer has emptied it, and spool the rows meanwhile.
 * Without a reader that takes one checkpoint, and nothing is said; with
 * one, pinned() says it.
 */
static void
hold(void)
{
	sp.held = 1;
	sp.pinned = 0;
	sp.held_us = clk_now_us();
	sp.held_wall = clk_wall();
	sp.held_mb = (double)ckpt_wal_bytes() / 1048576;
	ckpt_hold(1);
	if (!sp.spooling) {
		sp.spooling = 1;
		sp.unspooled = 0;
		sp.first_us = sp.held_us;
	}
}

/*
 * A checkpoint could not empty the WAL: log it once per hold, and the
 * first time until the spool is written again, record it in events.
 */
static void
pinned(void)
{
	struct timelog_rec ev;

	if (sp.pinned)
		return;
	sp.pinned = 1;
	log_notice(NULL, "timelog: %s-wal is %.1f MB, past timings_wal_max, "
	    "and a reader holds it; rows go to %s until it lets go",
	    sp.dbpath, sp.held_mb, sp.path);
	if (sp.said)
		return;
	sp.said = 1;
	timelog_event_rec(&ev, "spool_start", "WAL %.1f MB; rows to %s",
	    sp.held_mb, sp.path);
	ev.u.e.ts = sp.held_wall;
	to_spool(&ev, 1);
}

/*
 * Write the oldest rows of the spool in one transaction: at most
 * REPLAY_MAX, a batch's worth (buf has cap), and an eighth of
 * timings_wal_max, so that a transaction leaves the WAL well within its
 * bound.  1 when that empties the spool, 0 when rows are left, -1 when
 * they could not be written: they stay in the spool, for a later pass
 * (not at once: spool_busy) or the next start.
 */
static int
unspool(struct timelog_rec *buf, size_t cap, const struct timelog_lim *lim)
{
	size_t k, rows, max = cap - 1 < REPLAY_MAX ? cap - 1 : REPLAY_MAX;
	int last;

	k = rows = read_rows(buf, max, (uint64_t)lim->wal_max / 8, &last);
	if (last && sp.said)
		timelog_event_rec(&buf[k++], "spool_end", "%llu rows, held "
		    "%.1f s", sp.unspooled + rows, (double)(sp.unheld_us -
		    sp.first_us) / 1e6);
	if (timelog_commit(buf, k, lim) == -1) {
		sp.next = sp.head;
		sp.stuck = 1;
		return -1;
	}
	sp.stuck = 0;
	sp.unspooled += rows;
	forget_rows();
	if (!last)
		return 0;
	if (sp.said)
		log_notice(NULL, "timelog: spool written: %llu rows in %.1f s",
		    sp.unspooled, (double)(clk_now_us() - sp.unheld_us) / 1e6);
	sp.spooling = sp.said = 0;
	return 1;
}

int
spool_active(void)
{
	return sp.spooling;
}

int
spool_held(void)
{
	return sp.held;
}

int
spool_busy(long long wal_max)
{
	return sp.spooling && !sp.held && !sp.stuck &&
	    ckpt_wal_bytes() < wal_max / 2;
}

void
spool_check(long long wal_max)
{
	if (!sp.held && ckpt_wal_bytes() >= wal_max)
		hold();
}

void
spool_pass(struct timelog_rec *batch, size_t n, size_t cap,
    unsigned long long dropped, const struct timelog_lim *lim)
{
	struct timelog_rec ev;
	int c;

	to_spool(batch, n);
	if (dropped > 0) {
		timelog_event_rec(&ev, "dropped", "%llu", dropped);
		log_warn(NULL, "timelog: queue full, dropped %llu rows",
		    dropped);
		to_spool(&ev, 1);
	}
	if (sp.held) {
		if ((c = ckpt_clear()) == -1)
			pinned();
		if (c != 1)
			return;
		sp.held = 0;
		sp.unheld_us = clk_now_us();
		ckpt_hold(0);
		if (sp.pinned)
			log_notice(NULL, "timelog: %s-wal emptied after "
			    "%.1f s; writing the %llu rows of %s", sp.dbpath,
			    (double)(sp.unheld_us - sp.held_us) / 1e6,
			    spool_rows(), sp.path);
	}
	unspool(batch, cap, lim);
}

void
spool_finish(struct sqlite3 *db, struct timelog_rec *buf, size_t cap,
    const struct timelog_lim *lim)
{
	int c = 0;

	while (db != NULL) {
		if (sp.held || ckpt_wal_bytes() >= lim->wal_max) {
			if (ckpt_truncate(db) == -1)
				break;
			if (sp.held)
				sp.unheld_us = clk_now_us();
			sp.held = 0;
		}
		if ((c = unspool(buf, cap, lim)) == 1)
			return;
		if (c == -1)
			break;
	}
	log_warn(NULL, "timelog: %llu rows stay in %s for the next start: %s",
	    spool_rows(), sp.path, db == NULL ? "the database is not open" :
	    c == -1 ? "they could not be written" : "a reader holds the WAL");
}
