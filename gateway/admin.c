/*
 * admin.c: the /_gateway/ endpoints, for admin_allow addresses only
 * (health: health_allow when it is set).  The address is the client's,
 * through trusted proxies (http.c).
 *
 * health answers load balancers (503 while draining), status the live
 * state as JSON, metrics the same as Prometheus text, timeseries and
 * route the dashboard's JSON from the timing database (all routes, or
 * one), chart.js the dashboard's chart library.  Each body is built
 * whole in memory (they are small) and answered through http.c.
 *
 * chart.js is the file of the chartjs directive, by default Debian's
 * libjs-chart.js: cgigate ships no copy of it.  When it cannot be read
 * the answer is a 404 that says so, logged once until it can be read
 * again; the dashboard then shows its tables without charts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "http_int.h"

#define RETRY		"Retry-After: 1\r\n"
#define NO_STORE	"Cache-Control: no-store\r\n"
#define WINDOW_S	900		/* the dashboard's, by default */
#define CHARTJS_MAX	(16 * 1024 * 1024)	/* Debian 12's: 200 K */

/* Logged that chartjs cannot be read, and not served since. */
static atomic_int chartjs_missing;

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
	char v[16], *end;
	long w;

	if (http_query_var(x, "window", v, sizeof(v)) < 0)
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
	char name[ROUTE_NAME_MAX];
	int n;

	if ((n = http_query_var(x, "name", name, sizeof(name))) == -1)
		return http_error(x, 400, "route: no name= in the query",
		    NULL);
	if (n < 0)
		return http_error(x, 400, "route: name too long", NULL);
	if (name[0] != '/' || strlen(name) != (size_t)n)
		return http_error(x, 400, "route: a name starts with / and "
		    "holds no NUL", NULL);
	return serve_timings(x, name);
}

/*
 * /_gateway/chart.js: the file of chartjs, whole.  When it cannot be
 * read, a 404 whose body says what to install; logged once until it is
 * served again.
 */
static int
serve_chartjs(struct exchange *x)
{
	const char *path = x->cfg->chartjs;
	const char *why;
	struct stat sb;
	char *buf = NULL, msg[512];
	size_t len = 0;
	ssize_t n;
	int fd, st;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &sb) == -1)
		goto fail;
	if (!S_ISREG(sb.st_mode) || sb.st_size > CHARTJS_MAX) {
		why = !S_ISREG(sb.st_mode) ? "not a regular file" :
		    "larger than 16 MB";
		goto fail_why;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL)
		goto fail;
	while (len < (size_t)sb.st_size &&
	    (n = read(fd, buf + len, (size_t)sb.st_size - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		len += (size_t)n;
	}
	close(fd);
	atomic_store(&chartjs_missing, 0);
	st = http_answer(x, 200, "text/javascript; charset=utf-8", buf, len,
	    "Cache-Control: max-age=3600\r\n");
	free(buf);
	return st;
fail:
	why = strerror(errno);
fail_why:
	if (fd != -1)
		close(fd);
	free(buf);
	if (atomic_exchange(&chartjs_missing, 1) == 0)
		log_warn(x->reqid, "chartjs: %s: %s: the dashboard has no "
		    "charts (install libjs-chart.js, or set chartjs)", path,
		    why);
	snprintf(x->t.error, sizeof(x->t.error), "chartjs: %s", why);
	n = snprintf(msg, sizeof(msg), "404 Not Found\n%s: %s\nThe "
	    "dashboard's charts need Chart.js: install Debian's "
	    "libjs-chart.js, or set chartjs in cgigate.conf.\n", path, why);
	return http_answer(x, 404, "text/plain; charset=utf-8", msg,
	    n < (int)sizeof(msg) ? (size_t)n : sizeof(msg) - 1, NO_STORE);
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
		if (!http_healthy())
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
	if (strcmp(x->path, "/_gateway/chart.js") == 0)
		return serve_chartjs(x);
	if (strcmp(x->path, "/_gateway/status") == 0) {
		if ((f = open_memstream(&buf, &len)) == NULL)
			return http_error(x, 503, "out of memory", RETRY);
		stats_json(f, x->cfg);
		return send_stream(x, f, &buf, &len, "application/json");
	}
	if (strcmp(x->path, "/_gateway/metrics") == 0) {
		if ((f = open_memstream(&buf, &len)) == NULL)
			return http_error(x, 503, "out of memory", RETRY);
		stats_prometheus(f, x->cfg);
		return send_stream(x, f, &buf, &len,
		    "text/plain; version=0.0.4");
	}
	return http_error(x, 404, "no such admin endpoint", NULL);
}
