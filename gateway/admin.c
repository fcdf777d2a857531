/*
 * admin.c: the /_gateway/ endpoints, for admin_allow addresses only
 * (health: health_allow when it is set).  The address is the client's,
 * through trusted proxies (http.c).
 *
 * health answers load balancers (503 while draining), status the live
 * state as JSON, metrics the same as Prometheus text, timeseries and
 * route the dashboard's JSON from the timing database (all routes, or
 * one).  Each body is built whole in memory (they are small) and
 * answered through http.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <civetweb.h>

#include "http_int.h"

#define RETRY		"Retry-After: 1\r\n"
#define NO_STORE	"Cache-Control: no-store\r\n"
#define WINDOW_S	900		/* the dashboard's, by default */

/* Answer with what f gathered into buf (closed here), or a 503. */
static int
send_stream(struct exchange *x, FILE *f, char **buf, size_t *len,
    const char *ctype)
{
	int st;

	fclose(f);	/* sets buf and len */
	st = http_answer(x, 200, ctype, *buf, *len, NO_STORE);
	free(*buf);
	return st;
}

/*
 * The window=SECONDS of the query, from 10 s to 7 days; WINDOW_S when
 * it is absent or out of bounds.
 */
static int
query_window(struct exchange *x)
{
	const char *q = http_query(x);
	char v[16], *end;
	long w;

	if (q == NULL || mg_get_var(q, strlen(q), "window", v, sizeof(v)) < 0)
		return WINDOW_S;
	w = strtol(v, &end, 10);
	if (end == v || *end != '\0' || w < 10 || w > 86400 * 7)
		return WINDOW_S;
	return (int)w;
}

/* The JSON of the dashboard (name NULL) or of one route. */
static int
serve_timings(struct exchange *x, const char *name)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return http_error(x, 503, "out of memory", RETRY);
	rc = name == NULL ? timelog_dashboard(f, query_window(x)) :
	    timelog_route(f, name, query_window(x));
	if (rc == -1) {
		fclose(f);
		free(buf);
		return http_error(x, 503, "timing database unreadable", RETRY);
	}
	return send_stream(x, f, &buf, &len, "application/json");
}

/*
 * /_gateway/route?name=ROUTE: one route's JSON.  The name is decoded
 * from the query (%XX, and + for a space as in a form), any bytes but
 * NUL, and only ever bound to the query as a parameter.
 */
static int
serve_route(struct exchange *x)
{
	const char *q = http_query(x);
	char name[ROUTE_NAME_MAX];
	int n;

	if (q == NULL || (n = mg_get_var(q, strlen(q), "name", name,
	    sizeof(name))) == -1)
		return http_error(x, 400, "route: no name= in the query",
		    NULL);
	if (n < 0)
		return http_error(x, 400, "route: name too long", NULL);
	if (name[0] != '/' || strlen(name) != (size_t)n)
		return http_error(x, 400, "route: a name starts with / and "
		    "holds no NUL", NULL);
	return serve_timings(x, name);
}

int
admin_serve(struct exchange *x)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(x->t.mode, sizeof(x->t.mode), "admin");
	snprintf(x->t.route, sizeof(x->t.route), "/_gateway");
	if (strcmp(x->path, "/_gateway/health") == 0) {
		/* Load balancers may have a list of their own. */
		if (x->cfg->nhealth_allow > 0 ? !config_cidr_match(
		    x->cfg->health_allow, x->cfg->nhealth_allow, x->peer) :
		    !config_cidr_match(x->cfg->admin_allow,
		    x->cfg->nadmin_allow, x->peer))
			return http_error(x, 403, "health endpoint: address "
			    "not in health_allow (or admin_allow)", NULL);
		if (http_draining())
			return http_answer(x, 503, "text/plain; charset=utf-8",
			    "draining\n", 9, NULL);
		return http_answer(x, 200, "text/plain; charset=utf-8", "ok\n",
		    3, NULL);
	}
	if (!config_cidr_match(x->cfg->admin_allow, x->cfg->nadmin_allow,
	    x->peer))
		return http_error(x, 403, "admin endpoint: address not in "
		    "admin_allow", NULL);
	if (strcmp(x->path, "/_gateway/timeseries") == 0)
		return serve_timings(x, NULL);
	if (strcmp(x->path, "/_gateway/route") == 0)
		return serve_route(x);
	if (strcmp(x->path, "/_gateway/status") == 0) {
		if ((f = open_memstream(&buf, &len)) == NULL)
			return http_error(x, 503, "out of memory", RETRY);
		stats_json(f);
		return send_stream(x, f, &buf, &len, "application/json");
	}
	if (strcmp(x->path, "/_gateway/metrics") == 0) {
		if ((f = open_memstream(&buf, &len)) == NULL)
			return http_error(x, 503, "out of memory", RETRY);
		stats_prometheus(f);
		return send_stream(x, f, &buf, &len,
		    "text/plain; version=0.0.4");
	}
	return http_error(x, 404, "no such admin endpoint", NULL);
}
