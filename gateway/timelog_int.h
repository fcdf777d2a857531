/*
 * timelog_int.h: what timelog.c and timelog_sql.c share; private to
 * those two.
 *
 * timelog_sql.c holds the SQL text of the timings database (its schema,
 * the views, the dashboard's query, retention's deletes) and timelog.c
 * the writer thread that runs it.  No other module includes this: they
 * see the timings only through timelog_* in cgigate.h.
 */
#ifndef TIMELOG_INT_H
#define TIMELOG_INT_H

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

#endif /* TIMELOG_INT_H */
