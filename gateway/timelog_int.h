/*
 * timelog_int.h: what the modules of the timing log share; private to
 * them.
 *
 * timelog_sql.c holds the SQL text of the timings database (its schema,
 * the views, the dashboard's query, retention's deletes), timelog.c the
 * queue and the writer thread that runs it, and spoolrec.c the record
 * codec of a spool file.  No other module includes this: they see the
 * timings only through timelog_* in cgigate.h.
 */
#ifndef TIMELOG_INT_H
#define TIMELOG_INT_H

#include "cgigate.h"

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
 * Retention's deletes, formats for snprintf: the age ones take the
 * cutoff (%.6f, seconds since the epoch) then the step (%d), the count
 * one the rows to keep (%lld) then the step (%d).
 */
extern const char *const timelog_sql_retain_requests_age;
extern const char *const timelog_sql_retain_events_age;
extern const char *const timelog_sql_retain_requests_rows;
/*
 * The dashboard's JSON, and one route's: the window in seconds bound to
 * ?1, the width of a bucket in seconds to ?2, the route's name to ?3.
 */
extern const char *const timelog_sql_dashboard;
extern const char *const timelog_sql_route;

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
