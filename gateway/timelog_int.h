/*
 * timelog_int.h: what the modules of the timing log share; private to
 * them.
 *
 * timelog_sql.c holds the SQL text of the timings database (its schema,
 * the views, the dashboard's query, retention's deletes), timelog.c the
 * queue and the writer thread that runs it, timelog_secs.c its notes in
 * request_seconds, timelog_read.c the dashboard's connections that read
 * it, timelog_spool.c the checkpointer thread and the spool file that
 * keep the WAL bounded while a reader holds it, and spoolrec.c the
 * record codec of the spool.  No
 * other module includes this: they see the timings only through
 * timelog_* in cgigate.h.
 */
#ifndef TIMELOG_INT_H
#define TIMELOG_INT_H

#include "cgigate.h"

struct sqlite3;

/* How long the writer waits for a lock of SQLite's (an admin writing). */
#define TIMELOG_BUSY_MS	5000

/* One record of the queue, and of the spool: a request's row or an event. */
enum rec_kind { REC_REQUEST, REC_EVENT };

struct timelog_event {
	double		 ts;
	int		 pid;
	char		 kind[32];
	char		 detail[256];
};

struct timelog_rec {
	enum rec_kind	 kind;
	union {
		struct timing		t;
		struct timelog_event	e;
	} u;
};

/* The tables and their index, with the pragmas of the connection. */
extern const char *const timelog_sql_schema;
/* The views of cgigate-timings(7), dropped and made again. */
extern const char *const timelog_sql_views;
/*
 * Columns of requests added since its first version, oldest first, up to
 * a NULL name: timelog.c adds each that a database lacks.
 */
struct timelog_col {
	const char	*name;
	const char	*type;
};
extern const struct timelog_col timelog_sql_added[];
/*
 * Retention's deletes, formats for snprintf: the age one of requests
 * takes the second the cutoff is in (%lld, since the epoch), the step
 * (%d) and the cutoff (%.6f), that of events the cutoff then the step,
 * the count one the rows to keep (%lld) then the step, that of
 * request_seconds the step.
 */
extern const char *const timelog_sql_retain_requests_age;
extern const char *const timelog_sql_retain_events_age;
extern const char *const timelog_sql_retain_requests_rows;
extern const char *const timelog_sql_retain_seconds;
/*
 * The dashboard's JSON, and one route's: the window in seconds bound to
 * ?1, the width of a bucket in seconds to ?2, the route's name to ?3.
 */
extern const char *const timelog_sql_dashboard;
extern const char *const timelog_sql_route;

/* What the writer goes by, read at each pass (SIGHUP sets them). */
struct timelog_lim {
	int64_t		 max_age_us;	/* timings_max_age, 0: none */
	long long	 max_rows;	/* timings_max_rows, 0: none */
	long long	 wal_max;	/* timings_wal_max */
};

/* timelog.c: for timelog_spool.c, on the writer's thread. */

/*
 * Write r[0..n), rows from the spool, in one transaction with
 * retention's share: 0, or -1 when they were not written (or went to a
 * file no longer at the path) and are to stay in the spool.
 */
int	 timelog_commit(const struct timelog_rec *r, size_t n,
	    const struct timelog_lim *lim);
/* n rows could not be kept, for why: counted and logged as lost. */
void	 timelog_lost(size_t n, const char *why);
/* Make r an event of kind, now, its detail from fmt. */
void	 timelog_event_rec(struct timelog_rec *r, const char *kind,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* timelog.c: for timelog_read.c, on any thread. */

/* The database's path; NULL when timings are off. */
const char *timelog_path(void);

/* timelog_secs.c: on the writer's thread, with its connection db. */

/* Prepare its statements and read the latest second; -1 on failure. */
int	 secs_prepare(struct sqlite3 *db);
void	 secs_finalize(void);
/* A transaction begins; secs_rollback: it was rolled back. */
void	 secs_begin(void);
void	 secs_rollback(void);
/*
 * Rows from id first on, the latest begun at maxts, were just inserted:
 * note their second in request_seconds.  -1, sqlite3_errmsg(db) saying
 * why, when a statement failed.
 */
int	 secs_mark(struct sqlite3 *db, long long first, double maxts);

/* timelog_spool.c */

/*
 * Start the checkpointer thread, for the database at path (which must
 * outlive it); -1 when it cannot start.
 */
int	 ckpt_start(const char *path);
/* Stop it and close its connection; nothing when it never started. */
void	 ckpt_stop(void);
/*
 * What ckpt_start made that the writer's hook still signals: given back
 * once the writer too has stopped.
 */
void	 ckpt_release(void);
/*
 * The writer opened db (dev and ino, as stat says): turn SQLite's own
 * checkpoints off, count its WAL's frames after each commit, and have the
 * checkpointer checkpoint this file.  Writer's thread.
 */
void	 ckpt_attach(struct sqlite3 *db, dev_t dev, ino_t ino,
	    long long wal_max);
/* timings_wal_max changed: journal_size_limit and when to checkpoint. */
void	 ckpt_limit(struct sqlite3 *db, long long wal_max);
/*
 * Open the spool of the database at dbpath (PATH-spool; dbpath must
 * outlive it) as an earlier run left it, if any: the rows in it, which
 * the writer then writes first (spool_active); 0 when there are none.
 * Before the writer starts.
 */
unsigned long long spool_open(const char *dbpath);
/* Whether rows go through the spool: the writer's passes are spool_pass. */
int	 spool_active(void);
/* Whether the writer commits nothing now (a reader holds the WAL). */
int	 spool_held(void);
/* Whether the spool has rows to write now: the writer does not wait. */
int	 spool_busy(long long wal_max);
/* After a pass: hold, and spool, when the WAL has passed wal_max. */
void	 spool_check(long long wal_max);
/*
 * A pass while spool_active: batch[0..n) and the drops go to the end of
 * the spool; then, unless held, a transaction of its oldest rows, read
 * into batch (cap records).
 */
void	 spool_pass(struct timelog_rec *batch, size_t n, size_t cap,
	    unsigned long long dropped, const struct timelog_lim *lim);
/*
 * The last pass of a stop, after ckpt_stop: write the whole spool
 * through db (its own checkpoints emptying the WAL), or, while a reader
 * holds the WAL, leave the rest for the next start and log it.
 */
void	 spool_finish(struct sqlite3 *db, struct timelog_rec *buf,
	    size_t cap, const struct timelog_lim *lim);
/* Close the spool; a file that still holds rows stays for the next run. */
void	 spool_close(void);
/* Rows (requests and events) waiting in the spool; any thread. */
unsigned long long spool_rows(void);
/* Rows ever put in the spool since the start; any thread. */
unsigned long long spool_total(void);

/* spoolrec.c */

/* The spool file's header: a magic and the offset of its oldest record. */
#define SPOOLREC_HEAD	16
/* Bytes of the longest record, its length field included. */
#define SPOOLREC_MAX	(160 + sizeof(struct timing))

/*
 * Encode r into b (cap bytes): the bytes written, or 0 when they would
 * not fit (never when cap >= SPOOLREC_MAX).
 */
size_t	 spoolrec_encode(unsigned char *b, size_t cap,
	    const struct timelog_rec *r);
/*
 * Decode the record at the start of b (len bytes) into r, setting *used
 * to its length: 1; 0 when b holds only part of it (nothing set); -1
 * when it is malformed (r partly set).  Never reads past b + len.
 */
int	 spoolrec_decode(const unsigned char *b, size_t len,
	    struct timelog_rec *r, size_t *used);
/* The header of a spool whose oldest record not yet written is at off. */
void	 spoolrec_head(unsigned char b[SPOOLREC_HEAD], uint64_t off);
/* The offset of a header; -1 when b is not one. */
int	 spoolrec_head_read(const unsigned char b[SPOOLREC_HEAD],
	    uint64_t *off);

#endif /* TIMELOG_INT_H */
