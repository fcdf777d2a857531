/*
 * stats.c: live counters for the admin endpoints, kept in memory.
 *
 * The timing database is the record; this is the dashboard's and the
 * scraper's view of now: requests by route, mode and status, a latency
 * histogram per route and mode, requests in flight, and process counters
 * (spawns, kills).  Request threads update it once at the start and once
 * at the end of a request under one mutex; the tables are fixed-size
 * (STATS_MAX rows), and a route past that is counted under "(other)".
 * Output is written to a stdio stream as JSON (/_gateway/status) or in
 * the Prometheus text exposition format (/_gateway/metrics), which also
 * shows the request buffers bufpool.c lends and keeps.  A route name is
 * whatever bytes a file or the configuration gave: jsonq.c writes it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "cgigate.h"

#define STATS_MAX	512
#define NBUCKETS	13

static const double bucket_s[NBUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};

struct rstat {			/* one route and mode */
	char		 route[ROUTE_NAME_MAX];
	char		 mode[8];
	long long	 inflight;
	long long	 count;
	double		 sum_s;
	long long	 bucket[NBUCKETS + 1];	/* last: +Inf */
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

void
stats_leave(const struct timing *t, int entered)
{
	struct rstat *r;
	double s = (double)t->total_us / 1e6;
	int i, b;

	pthread_mutex_lock(&st.lock);
	if (entered >= 0 && st.routes[entered].inflight > 0)
		st.routes[entered].inflight--;
	i = row(t->route, t->mode);
	r = &st.routes[i];
	r->count++;
	r->sum_s += s;
	for (b = 0; b < NBUCKETS && s > bucket_s[b]; b++)
		;
	r->bucket[b]++;
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

void
stats_json(FILE *f)
{
	int i;

	pthread_mutex_lock(&st.lock);
	fprintf(f, "{\"uptime_s\":%.3f,\"draining\":%s,\"spawns\":%lld,"
	    "\"kills\":%lld,\"timings\":{\"queue_depth\":%zu,"
	    "\"dropped\":%llu},\"routes\":[", clk_wall() - st.started,
	    http_draining() ? "true" : "false",
	    (long long)atomic_load(&st.counters[STAT_SPAWNS]),
	    (long long)atomic_load(&st.counters[STAT_KILLS]),
	    timelog_depth(), timelog_dropped());
	for (i = 0; i < st.nroutes; i++) {
		const struct rstat *r = &st.routes[i];

		fputs(i ? ",{\"route\":" : "{\"route\":", f);
		jsonq_string(f, r->route);
		fprintf(f, ",\"mode\":\"%s\",\"in_flight\":%lld,"
		    "\"queued\":%d,\"requests\":%lld,\"mean_ms\":%.3f}",
		    r->mode, r->inflight, admit_waiting(r->route) +
		    pool_waiting(r->route), r->count,
		    r->count ? r->sum_s * 1e3 / (double)r->count : 0.0);
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

void
stats_prometheus(FILE *f)
{
	int i, b;
	long long cum;

	pthread_mutex_lock(&st.lock);
	fputs("# HELP cgigate_requests_total Requests answered.\n"
	    "# TYPE cgigate_requests_total counter\n", f);
	for (i = 0; i < st.nstatuses; i++) {
		fputs("cgigate_requests_total{", f);
		labels(f, &st.routes[st.statuses[i].r]);
		fprintf(f, ",status=\"%d\"} %lld\n", st.statuses[i].status,
		    st.statuses[i].count);
	}
	fputs("# HELP cgigate_request_duration_seconds Time to answer a "
	    "request, to its last byte.\n"
	    "# TYPE cgigate_request_duration_seconds histogram\n", f);
	for (i = 0; i < st.nroutes; i++) {
		const struct rstat *r = &st.routes[i];

		for (b = 0, cum = 0; b <= NBUCKETS; b++) {
			cum += r->bucket[b];
			fputs("cgigate_request_duration_seconds_bucket{", f);
			labels(f, r);
			if (b < NBUCKETS)
				fprintf(f, ",le=\"%g\"} %lld\n", bucket_s[b],
				    cum);
			else
				fprintf(f, ",le=\"+Inf\"} %lld\n", cum);
		}
		fputs("cgigate_request_duration_seconds_sum{", f);
		labels(f, r);
		fprintf(f, "} %.6f\ncgigate_request_duration_seconds_count{",
		    r->sum_s);
		labels(f, r);
		fprintf(f, "} %lld\n", r->count);
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
	    "# HELP cgigate_timings_dropped_total Timing rows lost to a full "
	    "queue.\n# TYPE cgigate_timings_dropped_total counter\n"
	    "cgigate_timings_dropped_total %llu\n"
	    "# HELP cgigate_timings_queue_depth Timing rows waiting for the "
	    "writer.\n# TYPE cgigate_timings_queue_depth gauge\n"
	    "cgigate_timings_queue_depth %zu\n"
	    "# HELP cgigate_uptime_seconds Seconds since start.\n"
	    "# TYPE cgigate_uptime_seconds gauge\n"
	    "cgigate_uptime_seconds %.3f\n",
	    (long long)atomic_load(&st.counters[STAT_SPAWNS]),
	    (long long)atomic_load(&st.counters[STAT_KILLS]),
	    timelog_dropped(), timelog_depth(), clk_wall() - st.started);
	door_metrics(f);
	buffer_metrics(f);
	procstat_metrics(f, st.started);
}
