/*
 * stats.c: live counters for the admin endpoints, kept in memory.
 *
 * The timing database is the record; this is the dashboard's and the
 * scraper's view of now: requests by route, mode and status, histograms
 * per route and mode of the whole answer, the wait for a slot or worker
 * and the first byte, requests in flight, and process counters (spawns,
 * kills).  Request threads update it once at the start and once at the
 * end of a request under one mutex; the tables are fixed-size
 * (STATS_MAX rows), and a route past that is counted under "(other)".
 * Output is written to a stdio stream as JSON (/_gateway/status) or in
 * the Prometheus text exposition format (/_gateway/metrics), which also
 * shows the request buffers bufpool.c lends and keeps.  stats_load sums
 * up the node against its limits, for both and for HAProxy's agent
 * (agent.c): connections, and requests to routes against the routes'
 * bounds, which it adds up from the handlers directory (scan.c) and the
 * configuration as the request path would pick them (route_pick).  A
 * route name is whatever bytes a file or the configuration gave:
 * jsonq.c writes it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cgigate.h"

#define STATS_MAX	512
#define NBUCKETS	17

/* Up to the longest route timeouts people set: minutes. */
static const double bucket_s[NBUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
	10, 30, 60, 120, 300
};

struct hist {
	long long	 count;
	double		 sum_s;
	long long	 bucket[NBUCKETS + 1];	/* last: +Inf */
};

struct rstat {			/* one route and mode */
	char		 route[ROUTE_NAME_MAX];
	char		 mode[8];
	long long	 inflight;
	struct hist	 total;		/* to the last byte */
	struct hist	 queue;		/* waiting for a slot or a worker */
	struct hist	 ttfb;		/* to the first byte sent */
};

/* The histograms of /_gateway/metrics: name, help, the field. */
static const struct {
	const char	*name;
	const char	*help;
	size_t		 off;
} hists[] = {
	{ "cgigate_request_duration_seconds",
	  "Time to answer a request, to its last byte.",
	  offsetof(struct rstat, total) },
	{ "cgigate_queue_wait_seconds",
	  "Time a request waited for its route's slot or a FastCGI worker.",
	  offsetof(struct rstat, queue) },
	{ "cgigate_time_to_first_byte_seconds",
	  "Time to the answer's first byte, for answers that sent one.",
	  offsetof(struct rstat, ttfb) },
};

struct sstat {			/* one route, mode and status */
	int		 r;	/* index into routes */
	int		 status;
	long long	 count;
};

static struct {
	pthread_mutex_t	 lock;
	struct rstat	 routes[STATS_MAX];
	int		 nroutes;
	struct sstat	 statuses[STATS_MAX];
	int		 nstatuses;
	atomic_llong	 counters[STAT_NCOUNTERS];
	double		 started;
} st = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

void
stats_init(void)
{
	st.started = clk_wall();
}

void
stats_count(enum stat_counter c)
{
	atomic_fetch_add(&st.counters[c], 1);
}

/* The row of route and mode; lock held. */
static int
row(const char *route, const char *mode)
{
	int i;

	if (route[0] == '\0')
		route = "(none)";
	for (i = 0; i < st.nroutes; i++)
		if (strcmp(st.routes[i].route, route) == 0 &&
		    strcmp(st.routes[i].mode, mode) == 0)
			return i;
	if (st.nroutes == STATS_MAX - 1)
		route = "(other)";
	for (i = 0; i < st.nroutes; i++)
		if (strcmp(st.routes[i].route, route) == 0 &&
		    strcmp(st.routes[i].mode, mode) == 0)
			return i;
	if (st.nroutes == STATS_MAX)
		return STATS_MAX - 1;
	i = st.nroutes++;
	snprintf(st.routes[i].route, sizeof(st.routes[i].route), "%s", route);
	snprintf(st.routes[i].mode, sizeof(st.routes[i].mode), "%s", mode);
	return i;
}

int
stats_enter(const char *route, const char *mode)
{
	int i;

	pthread_mutex_lock(&st.lock);
	i = row(route, mode);
	st.routes[i].inflight++;
	pthread_mutex_unlock(&st.lock);
	return i;
}

static void
observe(struct hist *h, long long us)
{
	double s = (double)us / 1e6;
	int b;

	h->count++;
	h->sum_s += s;
	for (b = 0; b < NBUCKETS && s > bucket_s[b]; b++)
		;
	h->bucket[b]++;
}

void
stats_leave(const struct timing *t, int entered)
{
	struct rstat *r;
	int i, b;

	pthread_mutex_lock(&st.lock);
	if (entered >= 0 && st.routes[entered].inflight > 0)
		st.routes[entered].inflight--;
	i = row(t->route, t->mode);
	r = &st.routes[i];
	observe(&r->total, t->total_us);
	if (strcmp(t->mode, "cgi") == 0 || strcmp(t->mode, "fastcgi") == 0)
		observe(&r->queue, t->queue_us);
	if (t->ttfb_us > 0)
		observe(&r->ttfb, t->ttfb_us);
	for (b = 0; b < st.nstatuses; b++)
		if (st.statuses[b].r == i && st.statuses[b].status == t->status)
			break;
	if (b == st.nstatuses && st.nstatuses < STATS_MAX) {
		st.statuses[b].r = i;
		st.statuses[b].status = t->status;
		st.nstatuses++;
	}
	if (b < st.nstatuses)
		st.statuses[b].count++;
	pthread_mutex_unlock(&st.lock);
}

struct bounds {
	const struct config *c;
	long long	 sum;
};

/* A handler's route: its slots, unless remote backends answer it. */
static void
add_route(const struct route *r, void *arg)
{
	struct bounds *b = arg;
	struct route_pick pk;

	route_pick(b->c, r->name, r, "", &pk);
	if (pk.kind == PICK_CGI)
		b->sum += pk.conf->max_concurrency;
	else if (pk.kind == PICK_FASTCGI)
		b->sum += pk.conf->fcgi.max_workers;
}

void
stats_load(const struct config *c, struct load *l)
{
	struct bounds b = { c, 0 };
	int i;

	scan_each(add_route, &b);
	for (i = 0; i < c->nroutes; i++)
		b.sum += (long long)c->routes[i].fcgi.nbackends *
		    c->routes[i].fcgi.max_connections;
	/* The door gives civetweb at most threads requests at once. */
	l->connections = door_connections();
	l->max_connections = c->max_connections;
	l->capacity = b.sum > c->threads ? c->threads : b.sum;
	l->in_flight = 0;
	pthread_mutex_lock(&st.lock);
	for (i = 0; i < st.nroutes; i++)
		l->in_flight += st.routes[i].inflight;
	pthread_mutex_unlock(&st.lock);
}

void
stats_json(FILE *f, const struct config *c)
{
	struct load l;
	int i;

	stats_load(c, &l);
	pthread_mutex_lock(&st.lock);
	fprintf(f, "{\"uptime_s\":%.3f,\"draining\":%s,\"healthy\":%s,"
	    "\"connections\":%d,\"max_connections\":%d,\"in_flight\":%lld,"
	    "\"capacity\":%lld,\"spawns\":%lld,"
	    "\"kills\":%lld,\"timings\":{\"queue_depth\":%zu,"
	    "\"dropped\":%llu,\"spooled\":%llu},\"routes\":[",
	    clk_wall() - st.started, http_draining() ? "true" : "false",
	    http_healthy() ? "true" : "false", l.connections,
	    l.max_connections, l.in_flight, l.capacity,
	    (long long)atomic_load(&st.counters[STAT_SPAWNS]),
	    (long long)atomic_load(&st.counters[STAT_KILLS]),
	    timelog_depth(), timelog_dropped(), timelog_spooled(0));
	for (i = 0; i < st.nroutes; i++) {
		const struct rstat *r = &st.routes[i];

		fputs(i ? ",{\"route\":" : "{\"route\":", f);
		jsonq_string(f, r->route);
		fprintf(f, ",\"mode\":\"%s\",\"in_flight\":%lld,"
		    "\"queued\":%d,\"requests\":%lld,\"mean_ms\":%.3f}",
		    r->mode, r->inflight, admit_waiting(r->route) +
		    pool_waiting(r->route), r->total.count,
		    r->total.count ? r->total.sum_s * 1e3 /
		    (double)r->total.count : 0.0);
	}
	pthread_mutex_unlock(&st.lock);
	fputs("],\"pools\":", f);
	pool_report(f, jsonq_string);
	fputs("}\n", f);
}

static void
labels(FILE *f, const struct rstat *r)
{
	fputs("route=", f);
	jsonq_label(f, r->route);
	fprintf(f, ",mode=\"%s\"", r->mode);
}

/* The request buffers bufpool.c lends, by kind. */
static void
buffer_metrics(FILE *f)
{
	int in_use[BUF_NKINDS], spare[BUF_NKINDS];
	int k;

	for (k = 0; k < BUF_NKINDS; k++)
		bufpool_count((enum bufkind)k, &in_use[k], &spare[k]);
	fputs("# HELP cgigate_buffers_in_use Request buffers lent to "
	    "requests in flight, by kind.\n"
	    "# TYPE cgigate_buffers_in_use gauge\n", f);
	for (k = 0; k < BUF_NKINDS; k++)
		fprintf(f, "cgigate_buffers_in_use{kind=\"%s\"} %d\n",
		    bufpool_name((enum bufkind)k), in_use[k]);
	fputs("# HELP cgigate_buffers_spare Request buffers kept idle for "
	    "the next requests, by kind.\n"
	    "# TYPE cgigate_buffers_spare gauge\n", f);
	for (k = 0; k < BUF_NKINDS; k++)
		fprintf(f, "cgigate_buffers_spare{kind=\"%s\"} %d\n",
		    bufpool_name((enum bufkind)k), spare[k]);
}

/* One route's histogram: cumulative buckets, sum and count. */
static void
histogram(FILE *f, const char *name, const struct rstat *r,
    const struct hist *h)
{
	long long cum = 0;
	int b;

	for (b = 0; b <= NBUCKETS; b++) {
		cum += h->bucket[b];
		fprintf(f, "%s_bucket{", name);
		labels(f, r);
		if (b < NBUCKETS)
			fprintf(f, ",le=\"%g\"} %lld\n", bucket_s[b], cum);
		else
			fprintf(f, ",le=\"+Inf\"} %lld\n", cum);
	}
	fprintf(f, "%s_sum{", name);
	labels(f, r);
	fprintf(f, "} %.6f\n%s_count{", h->sum_s, name);
	labels(f, r);
	fprintf(f, "} %lld\n", h->count);
}

void
stats_prometheus(FILE *f, const struct config *c)
{
	struct load l;
	size_t k;
	int i;

	stats_load(c, &l);
	pthread_mutex_lock(&st.lock);
	fputs("# HELP cgigate_requests_total Requests answered.\n"
	    "# TYPE cgigate_requests_total counter\n", f);
	for (i = 0; i < st.nstatuses; i++) {
		fputs("cgigate_requests_total{", f);
		labels(f, &st.routes[st.statuses[i].r]);
		fprintf(f, ",status=\"%d\"} %lld\n", st.statuses[i].status,
		    st.statuses[i].count);
	}
	for (k = 0; k < sizeof(hists) / sizeof(hists[0]); k++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n",
		    hists[k].name, hists[k].help, hists[k].name);
		for (i = 0; i < st.nroutes; i++)
			histogram(f, hists[k].name, &st.routes[i],
			    (const struct hist *)(const void *)
			    ((const char *)&st.routes[i] + hists[k].off));
	}
	fputs("# HELP cgigate_requests_in_flight Requests being answered.\n"
	    "# TYPE cgigate_requests_in_flight gauge\n", f);
	for (i = 0; i < st.nroutes; i++) {
		fputs("cgigate_requests_in_flight{", f);
		labels(f, &st.routes[i]);
		fprintf(f, "} %lld\n", st.routes[i].inflight);
	}
	pthread_mutex_unlock(&st.lock);
	pool_metrics(f, jsonq_label);
	fprintf(f, "# HELP cgigate_spawns_total Processes started (CGI "
	    "handlers and FastCGI workers).\n# TYPE cgigate_spawns_total "
	    "counter\ncgigate_spawns_total %lld\n"
	    "# HELP cgigate_kills_total Handlers and workers killed "
	    "(timeouts, clients gone, failures).\n# TYPE cgigate_kills_total "
	    "counter\ncgigate_kills_total %lld\n"
	    "# HELP cgigate_timings_dropped_total Timing rows lost (a full "
	    "queue, a failed write).\n# TYPE cgigate_timings_dropped_total counter\n"
	    "cgigate_timings_dropped_total %llu\n"
	    "# HELP cgigate_timings_queue_depth Timing rows waiting for the "
	    "writer.\n# TYPE cgigate_timings_queue_depth gauge\n"
	    "cgigate_timings_queue_depth %zu\n"
	    "# HELP cgigate_timings_spooled Timing rows waiting in the spool "
	    "while a reader holds the WAL.\n"
	    "# TYPE cgigate_timings_spooled gauge\n"
	    "cgigate_timings_spooled %llu\n"
	    "# HELP cgigate_timings_spooled_total Timing rows put in the "
	    "spool.\n# TYPE cgigate_timings_spooled_total counter\n"
	    "cgigate_timings_spooled_total %llu\n"
	    "# HELP cgigate_uptime_seconds Seconds since start.\n"
	    "# TYPE cgigate_uptime_seconds gauge\n"
	    "cgigate_uptime_seconds %.3f\n",
	    (long long)atomic_load(&st.counters[STAT_SPAWNS]),
	    (long long)atomic_load(&st.counters[STAT_KILLS]),
	    timelog_dropped(), timelog_depth(), timelog_spooled(0),
	    timelog_spooled(1), clk_wall() - st.started);
	fprintf(f, "# HELP cgigate_max_connections Client connections "
	    "allowed at once (max_connections).\n"
	    "# TYPE cgigate_max_connections gauge\n"
	    "cgigate_max_connections %d\n"
	    "# HELP cgigate_request_capacity Requests the routes can run at "
	    "once: their max_concurrency, max_workers or backend connections, "
	    "at most threads.\n"
	    "# TYPE cgigate_request_capacity gauge\n"
	    "cgigate_request_capacity %lld\n",
	    l.max_connections, l.capacity);
	door_metrics(f);
	buffer_metrics(f);
	procstat_metrics(f, st.started);
}
