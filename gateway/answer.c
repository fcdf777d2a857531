/*
 * answer.c: the one owner of a request's answer.
 *
 * Whatever a transport reports (struct xresult) and whatever a handler
 * writes (through relay.c) ends here: the head and body through
 * httpout.c into the request's output buffer (http.c sends it), the
 * stderr lines and framing anomalies into the log, the status and the
 * error into the timing row.  http_error answers a failure, or cuts an
 * answer that has begun; answer_finish maps a transport's ending onto
 * that.  No civetweb call is made here.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http_int.h"

#define RETRY		"Retry-After: 1\r\n"

/* The Date field, formatted once a second per thread. */
static _Thread_local struct {
	time_t		 sec;
	char		 text[40];
} date;

static const char *
date_now(void)
{
	time_t t = time(NULL);
	struct tm tm;

	if (t != date.sec) {
		gmtime_r(&t, &tm);
		strftime(date.text, sizeof(date.text),
		    "%a, %d %b %Y %H:%M:%S GMT", &tm);
		date.sec = t;
	}
	return date.text;
}

/* What httpout.c noticed about the handler's framing: log and row. */
static void
noted(struct exchange *x)
{
	const char *n = x->o.note;

	if (n == NULL)
		return;
	x->o.note = NULL;
	if (strncmp(n, "truncated: ", 11) == 0)
		log_warn(x->reqid, "output ended %lld bytes short of its "
		    "Content-Length: connection closed", x->o.left);
	else
		log_warn(x->reqid, "%s: the rest dropped", n);
	if (x->t.error[0] == '\0')
		snprintf(x->t.error, sizeof(x->t.error), "%s", n);
}

static int
head(struct exchange *x, int status, const char *reason,
    const struct cgi_header *f, int nf, const char *extra, long long length)
{
	x->t.status = status;
	return httpout_head(&x->o, status, reason, f, nf, extra, length,
	    date_now());
}

/* The body is over: the last chunk, or the close of a cut one. */
static void
end_body(struct exchange *x, int truncated)
{
	httpout_end(&x->o, truncated);
	noted(x);
	exch_flush(x);
}

int
http_answer(struct exchange *x, int status, const char *ctype,
    const char *body, size_t len, const char *extra)
{
	struct cgi_header f = { "Content-Type", ctype };

	x->outlen = 0;	/* nothing gathered goes out */
	head(x, status, NULL, &f, 1, extra, (long long)len);
	httpout_body(&x->o, body, len);
	end_body(x, 0);
	return status;
}

int
http_error(struct exchange *x, int status, const char *why, const char *extra)
{
	char body[256];
	int n;

	if (x->o.status != 0) {
		/*
		 * The client has a status line already and gets a cut body:
		 * the log and the row tell that, with the status it got.
		 */
		log_warn(x->reqid, "%s %s -> %d sent, then %s (%d): response "
		    "truncated", x->t.method, x->t.path, x->t.status, why,
		    status);
		snprintf(x->t.error, sizeof(x->t.error), "truncated: %s",
		    status == 504 ? "timeout after headers" : why);
		end_body(x, 1);
		return x->t.status;
	}
	log_at(log_status_level(status), x->reqid, "%s %s -> %d: %s",
	    x->t.method, x->t.path, status, why);
	if (why != x->t.error)
		snprintf(x->t.error, sizeof(x->t.error), "%s", why);
	n = snprintf(body, sizeof(body), "%d %s\n", status,
	    httpout_reason(status));
	return http_answer(x, status, "text/plain; charset=utf-8", body,
	    (size_t)n, extra);
}

/* The relay's sink: httpout.c behind it, the log for stderr. */

static int
sink_head(void *arg, const struct cgiresp *p)
{
	return head(arg, p->status, p->reason, p->fields, p->nfields, NULL,
	    p->content_length);
}

static int
sink_body(void *arg, const char *buf, size_t n)
{
	struct exchange *x = arg;
	int rc = httpout_body(&x->o, buf, n);

	noted(x);
	return rc;
}

static int
sink_raw(void *arg, const char *buf, size_t n)
{
	struct exchange *x = arg;

	if (x->t.status == 0)
		x->t.status = 200;	/* until its status line is read */
	return httpout_raw(&x->o, buf, n);
}

static void
sink_errline(void *arg, const char *line, size_t n)
{
	struct exchange *x = arg;

	if (line != NULL)
		log_warn(x->reqid, "stderr: %.*s", (int)n, line);
	else
		log_warn(x->reqid, "stderr: (more output dropped, limit %lld "
		    "bytes)", (long long)x->cfg->stderr_cap);
}

static const struct relay_sink sink = {
	sink_head, sink_body, sink_raw, sink_errline, NULL
};

/*
 * The relay and its parser, lent from the handler's first byte: -1 on
 * ENOMEM.
 */
static int
relay_setup(struct exchange *x)
{
	if (x->relay != NULL)
		return 0;
	if ((x->resp = bufpool_get(BUF_CGIRESP)) == NULL ||
	    (x->relay = bufpool_get(BUF_RELAY)) == NULL) {
		bufpool_put(BUF_CGIRESP, x->resp);
		x->resp = NULL;
		return -1;
	}
	x->sink = sink;
	x->sink.arg = x;
	cgiresp_init(x->resp);
	relay_init(x->relay, &x->sink, x->resp, x->nph, x->redirect_ok,
	    x->cfg->stderr_cap);
	return 0;
}

void
answer_release(struct exchange *x)
{
	bufpool_put(BUF_RELAY, x->relay);
	bufpool_put(BUF_CGIRESP, x->resp);
	x->relay = NULL;
	x->resp = NULL;
}


int
exch_out(struct exchange *x, const char *buf, size_t n)
{
	if (relay_setup(x) == -1)
		return -1;
	return relay_out(x->relay, buf, n);
}

void
exch_err(struct exchange *x, const char *buf, size_t n)
{
	if (relay_setup(x) == 0)
		relay_err(x->relay, buf, n);
}

int
exch_answered(struct exchange *x)
{
	return x->relay != NULL && x->relay->phase != RELAY_HEAD;
}


void
xfail(struct xresult *res, int status, const char *why)
{
	res->end = X_FAIL;
	res->status = status;
	res->why = why;
	res->retry_after = status == 503;
}

/* The client went away: log, 499 if nothing was sent, close. */
static int
client_gone(struct exchange *x, const char *why)
{
	snprintf(x->t.error, sizeof(x->t.error), "%s", why);
	log_info(x->reqid, "%s; handler stopped", x->t.error);
	if (x->o.status == 0)
		x->t.status = 499;
	httpout_end(&x->o, 1);
	x->o.keep_alive = 0;
	return x->t.status;
}

int
answer_finish(struct exchange *x, const struct xresult *res)
{
	struct timing *t = &x->t;
	enum relay_phase ph;
	int truncated = 0;

	t->queue_us = res->queue_us;
	t->spawn_us = res->spawn_us;
	t->connect_us = res->connect_us;
	t->worker_requests = res->worker_requests;
	t->pid = res->pid;
	t->exit_status = res->exit_status;
	t->signal = res->signal;
	t->user_cpu_us = res->user_cpu_us;
	t->sys_cpu_us = res->sys_cpu_us;
	t->max_rss_kb = res->max_rss_kb;
	if (x->relay != NULL)
		relay_err_end(x->relay);	/* a last unended line */
	switch (res->end) {
	case X_FAIL:
		if (res->close)
			x->o.keep_alive = 0;
		return http_error(x, res->status, res->why,
		    res->retry_after ? RETRY : NULL);
	case X_BODY:
		if (x->client_gone || x->body_status == 0)
			return client_gone(x, x->body_fail);
		return http_error(x, x->body_status, x->body_fail, NULL);
	case X_OUT:
		if (x->client_gone || x->relay == NULL ||
		    x->relay->fail == NULL)
			return client_gone(x, "client went away");
		return http_error(x, 502, x->relay->fail, NULL);
	case X_DONE:
		break;
	}
	if (t->signal > 0) {
		snprintf(t->error, sizeof(t->error), "%skilled by signal %d",
		    x->o.status ? "truncated: " : "", t->signal);
		if (x->o.status) {
			log_warn(x->reqid, "%s %s -> %d sent, then handler "
			    "killed by signal %d: response truncated",
			    t->method, t->path, t->status, t->signal);
			truncated = 1;
		}
	}
	if (relay_setup(x) == -1)
		return http_error(x, 503, "out of memory", RETRY);
	ph = relay_end(x->relay);
	if (ph == RELAY_REDIRECT) {
		snprintf(x->redirect, sizeof(x->redirect), "%s",
		    x->resp->location);
		return 0;
	}
	if (ph == RELAY_HEAD)
		return http_error(x, 502, t->signal > 0 ? t->error :
		    x->relay->fail, NULL);
	if (ph == RELAY_RAW)
		t->status = x->relay->nph_status ? x->relay->nph_status : 200;
	end_body(x, truncated);
	log_debug(x->reqid, "%s %s -> %d", t->method, t->path, t->status);
	return t->status;
}
