/*
 * fastcgi.c: the FastCGI transport: one request through a pool.
 *
 * The request borrows a connection from the route's pool (pool.c), sends
 * BEGIN_REQUEST with FCGI_KEEP_CONN, the same RFC 3875 environment a CGI
 * handler gets as PARAMS (cgienv.c, fcgirec.c), and the request body as
 * STDIN records (from exch_body) while one poll loop reads the answer:
 * STDOUT goes to exch_out, STDERR to exch_err.  Like the CGI pump,
 * nothing is read from the worker while a write to the client blocks,
 * so a slow client slows the worker rather than growing our memory.
 *
 * Each request on a connection gets the next request id (the endpoint's
 * request count, from 1 up to 65535 and round again), not always 1: a
 * record that arrives for an earlier request, however late, then cannot
 * pass for this one's answer; the parser ends the exchange with 502 and
 * the connection is closed.  Anything behind END_REQUEST closes it too,
 * and pool.c never lends a kept connection on which anything arrived
 * while it was idle.
 *
 * A remote backend can hang: stopped or stuck, its kernel still takes
 * connections and bytes, and nothing comes back.  The loop notes every
 * byte that comes (pool_heard), and a request that has waited on its
 * backend for POOL_QUIET_US with nothing received (time spent on the
 * client, reading the body or writing the answer, does not count) tells
 * the pool (pool_quiet), which has the backend probed and maybe ejected.
 * Once it is ejected for not answering, a request waiting on it that may
 * be sent again (idempotent, no body, nothing of an answer yet) goes to a
 * backend in service that is free; any other keeps waiting for its
 * answer, since the backend may be merely busy and may have acted on it.
 *
 * Ends: END_REQUEST (the connection goes back to the pool), the route's
 * timeout (a local worker's process group is killed and replaced; 504;
 * a remote backend is ejected only if it, not a slow client, was behind;
 * 503 when it was a graceful stop's drain that ran out),
 * the client gone (a local worker is killed, since it may go on working
 * on an abandoned request; a remote connection is closed), or a worker
 * that dies or talks nonsense (502, or 503 when a fresh worker never
 * answered: it failed at start-up).  What happened goes back to http.c
 * in the struct xresult; this file answers nothing itself.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <fastcgi.h>

#include "cgigate.h"

#define READ_CHUNK	65536
#define STDIN_CHUNK	16384
#define POLL_MAX_MS	250
#define MAX_ATTEMPTS	4	/* endpoints found gone before a request */

struct fjob {
	const struct xreq	*rq;
	struct exchange		*x;
	struct xresult		*res;
	const char		*fail;		/* why the application failed */
	struct pool_conn	 pc;
	struct fcgirec_parser	 fp;
	unsigned char		 rbuf[READ_CHUNK];
	/* bytes waiting to go to the application */
	unsigned char		*out;
	size_t			 outoff, outlen;
	char			 body[STDIN_CHUNK];
	unsigned char		 stdin_rec[8 + STDIN_CHUNK + 8];
	int			 stdin_done;	/* empty STDIN record queued */
	int			 got_bytes;	/* anything from the app yet */
	int			 movable;	/* may go to another backend */
	unsigned		 id;		/* request id on the connection */
};

const size_t fastcgi_job_size = sizeof(struct fjob);

/* Queue the next STDIN record from the request body. */
static int
next_stdin(struct fjob *j)
{
	ssize_t n;

	n = exch_body(j->x, j->body, sizeof(j->body), EXCH_WAIT);
	if (n < 0)
		return -1;
	j->out = j->stdin_rec;
	j->outoff = 0;
	j->outlen = fcgirec_stream(j->stdin_rec, FCGI_STDIN, j->id, j->body,
	    (size_t)n);
	if (n == 0)
		j->stdin_done = 1;
	return 0;
}

/*
 * Bytes from the application: 1 at END_REQUEST, 0 for more, -1 when
 * the answer cannot go on, -2 for a malformed record (j->fail).
 */
static int
on_input(struct fjob *j, size_t len)
{
	const unsigned char *p = j->rbuf, *chunk;
	size_t used, clen;
	enum fcgirec_event ev;

	while (len > 0) {
		ev = fcgirec_parse(&j->fp, p, len, &used, &chunk, &clen);
		p += used;
		len -= used;
		switch (ev) {
		case FCGIREC_EV_STDOUT:
			if (exch_out(j->x, (const char *)chunk, clen) == -1)
				return -1;
			break;
		case FCGIREC_EV_STDERR:
			exch_err(j->x, (const char *)chunk, clen);
			break;
		case FCGIREC_EV_END:
			if (len > 0)
				j->fp.error = "FastCGI data after END_REQUEST";
			return 1;
		case FCGIREC_EV_ERROR:
			j->fail = j->fp.error;
			return -2;
		case FCGIREC_EV_MORE:
			break;
		}
	}
	return 0;
}

enum outcome {
	DONE,		/* END_REQUEST */
	TIMEOUT,
	APP_GONE,	/* it closed the connection first */
	APP_BAD,	/* it sent a malformed record */
	OUT,		/* the answer cannot go on (client gone, bad head) */
	BODY,		/* reading the request body failed */
	FAILED,		/* poll failed */
	HUNG		/* the backend was ejected unanswering; movable */
};

/* Has the application sent bytes we have not read yet (not EOF)? */
static int
backend_ahead(struct fjob *j)
{
	char c;

	return recv(j->pc.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

static enum outcome
converse(struct fjob *j, uint64_t deadline, uint64_t first_deadline)
{
	struct pollfd pfd;
	uint64_t now, until, quiet;
	ssize_t n;
	int ms, rc, restart = 0;

	/* Waiting on the application, with nothing from it, since. */
	quiet = clk_now_us();
	for (;;) {
		now = clk_now_us();
		/* Nobody answers a request before its body has come. */
		until = j->got_bytes || !j->stdin_done ? deadline :
		    first_deadline;
		if (http_draining() && http_drain_deadline() < until)
			until = http_drain_deadline();
		if (now >= until)
			return TIMEOUT;
		if (j->outlen == 0 && !j->stdin_done) {
			if (next_stdin(j) == -1)
				return BODY;
			restart = 1;	/* the client's time, not the app's */
		}
		if (exch_flush(j->x) == -1)
			return OUT;
		if (restart) {
			quiet = clk_now_us();
			restart = 0;
		}
		pfd.fd = j->pc.fd;
		pfd.events = POLLIN | (j->outlen > 0 ? POLLOUT : 0);
		pfd.revents = 0;
		ms = (int)((until - now + 999) / 1000);
		if (ms > POLL_MAX_MS)
			ms = POLL_MAX_MS;
		/* Awake when the silence reaches POOL_QUIET_US. */
		if (quiet + POOL_QUIET_US > now && ms > (int)((quiet +
		    POOL_QUIET_US - now + 999) / 1000))
			ms = (int)((quiet + POOL_QUIET_US - now + 999) / 1000);
		rc = poll(&pfd, 1, ms);
		if (rc == -1 && errno != EINTR)
			return FAILED;
		if (rc == 0 && j->stdin_done && j->outlen == 0 &&
		    exch_client_closed(j->x))
			return OUT;
		if (rc == 0 && pool_quiet(&j->pc, quiet, clk_now_us()) &&
		    j->movable && !j->got_bytes && j->stdin_done &&
		    j->outlen == 0)
			return HUNG;
		if (pfd.revents & POLLOUT && j->outlen > 0) {
			n = write(j->pc.fd, j->out + j->outoff, j->outlen);
			if (n > 0) {
				j->outoff += (size_t)n;
				j->outlen -= (size_t)n;
			} else if (n == -1 && errno != EAGAIN &&
			    errno != EINTR) {
				/* Read what it said before hanging up. */
				j->outlen = 0;
				j->stdin_done = 1;
			}
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(j->pc.fd, j->rbuf, sizeof(j->rbuf));
			if (n == 0 || (n == -1 && errno != EAGAIN &&
			    errno != EINTR)) {
				j->fail = "FastCGI application closed the "
				    "connection before END_REQUEST";
				return APP_GONE;
			}
			if (n > 0) {
				j->got_bytes = 1;
				restart = 1;	/* exch_out may wait on the client */
				pool_heard(&j->pc, clk_now_us());
				rc = on_input(j, (size_t)n);
				if (rc == 1)
					return DONE;
				if (rc == -1)
					return OUT;
				if (rc == -2)
					return APP_BAD;
			}
		}
	}
}

/*
 * Send BEGIN_REQUEST, PARAMS and, for a request without a body, the empty
 * STDIN record, in one write: an application that answers before reading
 * STDIN (libfcgi's accept loop does) then finds no stray record of this
 * request on the connection when it reads the next one.
 */
static int
begin(struct fjob *j, unsigned char *msg, size_t len, uint64_t deadline,
    size_t *sent)
{
	if (pool_write_all(j->pc.fd, msg, len, deadline, sent) == -1)
		return -1;
	if (j->rq->body == 0)
		j->stdin_done = 1;
	return 0;
}

/* Build the opening records: BEGIN_REQUEST, PARAMS, maybe empty STDIN. */
static unsigned char *
opening(struct fjob *j, char **envp, size_t *len)
{
	unsigned char *params, *msg;
	size_t plen, n;

	if ((params = fcgirec_params(j->id, envp, &plen)) == NULL)
		return NULL;
	n = 16 + plen + (j->rq->body == 0 ? fcgirec_stream_size(0) : 0);
	if ((msg = malloc(n)) == NULL) {
		free(params);
		return NULL;
	}
	fcgirec_begin(msg, j->id, 1);
	memcpy(msg + 16, params, plen);
	*len = 16 + plen;
	if (j->rq->body == 0)
		*len += fcgirec_stream(msg + *len, FCGI_STDIN, j->id, NULL, 0);
	free(params);
	return msg;
}

/*
 * Borrow a connection for the request into *pc, not to avoid if another
 * is free, with the request id to use on it in *id; 0, or the status to
 * answer (why says why).
 */
static int
acquire(const struct xreq *rq, const struct xtarget *tg,
    const struct endpoint *avoid, struct xresult *res, struct pool_conn *pc,
    unsigned *id, const char **why)
{
	int st;

	st = pool_acquire(tg->pool, rq->start_us +
	    (uint64_t)rq->conf->max_queue_wait_us, avoid, pc, why);
	res->queue_us = (long long)(clk_now_us() - rq->start_us);
	if (st != 0)
		return st;
	res->queue_us -= pc->connect_us;
	res->connect_us = pc->connect_us;
	res->pid = (int)pc->pid;
	res->worker_requests = (long long)pc->nreq;
	/* FastCGI spec 3.3: any id but 0 (FCGI_NULL_REQUEST_ID). */
	*id = (unsigned)((pc->nreq - 1) % 0xffff) + 1;
	return 0;
}

/*
 * May the request be sent again after a connection died under it?  Only
 * an idempotent method (RFC 9110 9.2.2) with no body: a body read from
 * the client is gone.
 */
static int
replayable(const struct xreq *rq)
{
	static const char *const methods[] = {
		"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"
	};
	size_t i;

	if (rq->body != 0)
		return 0;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(rq->method, methods[i]) == 0)
			return 1;
	return 0;
}

/*
 * The request's backend was ejected for not answering, and the request
 * may be sent again (RFC 9110 9.2.2) with nothing of an answer come: to
 * a backend in service, if one is free now; not to wait for one, which
 * would only stop it waiting for its own.  1 when j holds a connection to
 * the new one, 0 to go on waiting where it is.
 */
static int
move(struct fjob *j, const struct xtarget *tg)
{
	struct pool_conn pc;
	const char *why;

	if (pool_acquire(tg->pool, clk_now_us(), NULL, &pc, &why) != 0)
		return 0;
	if (pc.ep == j->pc.ep) {
		/* Back in service meanwhile: stay. */
		pool_release(&pc, POOL_CLOSE, NULL);
		return 0;
	}
	log_info(j->rq->reqid, "pool %s: backend %s ejected for not "
	    "answering; %s is idempotent and unanswered: sent again to %s",
	    j->rq->route, pool_conn_name(&j->pc), j->rq->method,
	    pool_conn_name(&pc));
	pool_release(&j->pc, POOL_CLOSE, NULL);
	j->pc = pc;
	j->id = (unsigned)((pc.nreq - 1) % 0xffff) + 1;
	j->res->connect_us += pc.connect_us;
	j->res->worker_requests = (long long)pc.nreq;
	return 1;
}

/* Give the connection back, as the way the request ended says. */
static void
conclude(struct fjob *j, enum outcome oc, uint64_t deadline, uint64_t first,
    int replayed)
{
	struct xresult *res = j->res;
	int local = j->pc.pid > 0;

	switch (oc) {
	case DONE:
		if (j->fp.proto_status != FCGI_REQUEST_COMPLETE &&
		    !exch_answered(j->x)) {
			pool_release(&j->pc, POOL_CLOSE, NULL);
			xfail(res, 503, "FastCGI application overloaded or "
			    "refused the role");
			return;
		}
		if (j->fp.error != NULL)
			log_warn(j->rq->reqid, "%s", j->fp.error);
		/*
		 * An answer before the whole body was sent leaves the rest
		 * of it, maybe half a record, on the connection: the next
		 * request would be read as part of this one's STDIN.
		 */
		pool_release(&j->pc, j->fp.error == NULL && j->stdin_done &&
		    j->outlen == 0 ? POOL_KEEP : POOL_CLOSE, NULL);
		res->end = X_DONE;
		return;
	case TIMEOUT:
		/*
		 * Out of time with all the body so far sent on and more to
		 * come: the client is slow, not the application.
		 */
		if (!j->stdin_done && j->outlen == 0 && !j->got_bytes) {
			pool_release(&j->pc, POOL_CLOSE, NULL);
			xfail(res, 408, "client too slow sending the request "
			    "body");
			res->close = 1;
			return;
		}
		if (http_draining() && clk_now_us() >= http_drain_deadline()) {
			pool_release(&j->pc, local ? POOL_KILL : POOL_CLOSE,
			    "shutting down");
			xfail(res, 503, "shutting down: drain_timeout passed");
			return;
		}
		if (backend_ahead(j)) {
			/*
			 * The application has output we have not taken: it
			 * was the client, reading slowly, that ran the clock
			 * out.  Not the backend's fault; a local worker is
			 * still mid-request, so it goes all the same.
			 */
			pool_release(&j->pc, local ? POOL_KILL : POOL_CLOSE,
			    "client too slow reading the answer");
			xfail(res, 504, "request timed out: client too slow "
			    "reading the answer");
			return;
		}
		pool_release(&j->pc, POOL_KILL, "request timed out");
		if (!j->got_bytes && j->pc.nreq == 1 && first < deadline)
			xfail(res, 503, "FastCGI worker did not answer within "
			    "start_timeout");
		else
			xfail(res, 504, "FastCGI request timed out");
		return;
	case OUT:
		/* A local worker may go on with an abandoned request. */
		pool_release(&j->pc, local ? POOL_KILL : POOL_CLOSE,
		    "the answer could not go on");
		res->end = X_OUT;
		return;
	case BODY:
		pool_release(&j->pc, POOL_CLOSE, NULL);
		res->end = X_BODY;
		return;
	case APP_GONE:
		/* A backend dropping one connection is not a dead backend. */
		pool_release(&j->pc, local ? POOL_FAIL : POOL_CLOSE, j->fail);
		/* A request sent again killed its worker too: not start-up. */
		if (!j->got_bytes && j->pc.nreq == 1 && local && !replayed)
			xfail(res, 503, "FastCGI worker failed at start-up");
		else
			xfail(res, 502, j->fail);
		return;
	case APP_BAD:
		pool_release(&j->pc, local ? POOL_KILL : POOL_CLOSE, j->fail);
		xfail(res, 502, j->fail);
		return;
	case FAILED:
	case HUNG:	/* run() goes on with it */
		pool_release(&j->pc, POOL_CLOSE, NULL);
		xfail(res, 502, "FastCGI exchange failed");
		return;
	}
}

static void
run(struct fjob *j, const struct xtarget *tg)
{
	const struct xreq *rq = j->rq;
	struct xresult *res = j->res;
	unsigned char *msg = NULL;
	char **envp;
	size_t mlen, sent = 0;
	uint64_t deadline, first = 0;
	enum outcome oc = FAILED;
	const struct endpoint *last;
	const char *why;
	int st, attempt, err = 0, replayed = 0, moved = 0;

	if ((envp = cgienv_build(&rq->cgi)) == NULL) {
		pool_release(&j->pc, POOL_CLOSE, NULL);
		xfail(res, 503, "out of memory");
		return;
	}
	deadline = rq->start_us + (uint64_t)rq->conf->timeout_us;
	for (attempt = 1; ; attempt++) {
		/* The records carry the id, which comes with the connection. */
		if ((msg = opening(j, envp, &mlen)) == NULL) {
			free(envp);
			pool_release(&j->pc, POOL_CLOSE, NULL);
			xfail(res, 503, "out of memory");
			return;
		}
		fcgirec_parser_init(&j->fp, j->id);
		j->outlen = j->outoff = 0;
		j->stdin_done = 0;
		j->got_bytes = 0;
		j->movable = j->pc.pid == 0 && !replayed && replayable(rq);
		st = begin(j, msg, mlen, deadline, &sent);
		err = errno;
		free(msg);
		if (st == 0) {
			first = deadline;
			if (j->pc.nreq == 1 && j->pc.pid > 0 && clk_now_us() +
			    (uint64_t)rq->conf->fcgi.start_us < first)
				first = clk_now_us() +
				    (uint64_t)rq->conf->fcgi.start_us;
			oc = converse(j, deadline, first);
			while (oc == HUNG && !(moved = move(j, tg)))
				oc = converse(j, deadline, first);
			if (moved) {
				moved = 0;
				replayed = 1;
				continue;
			}
			if (oc != APP_GONE || j->got_bytes || (!j->pc.reused &&
			    j->pc.pid > 0) || replayed || !replayable(rq))
				break;
			/*
			 * A connection died after the request went out but
			 * before any answer: the application may have acted
			 * on it, so only a request that may be repeated (RFC
			 * 9110 9.2.2: an idempotent method) and that has no
			 * body to lose is sent again, once, to another worker
			 * or backend.  A worker that exits on its own after
			 * its last answer (php-cgi) leaves exactly this
			 * behind on a kept connection, a backend that dies
			 * (killed, restarted) on any; a request that kills
			 * every local worker it reaches is not tried on a
			 * fresh connection, and none is sent more than twice.
			 */
			replayed = 1;
			log_info(rq->reqid, "pool %s: the connection died "
			    "unanswered (%s); %s is idempotent: trying again",
			    rq->route, j->fail, rq->method);
			last = j->pc.pid > 0 ? NULL : j->pc.ep;
			pool_release(&j->pc, j->pc.pid > 0 ? POOL_FAIL :
			    POOL_CLOSE, j->fail);
			j->fail = NULL;
			/* Another backend if any: that one may be dying. */
			if ((st = acquire(rq, tg, last, res, &j->pc, &j->id,
			    &why)) != 0) {
				free(envp);
				xfail(res, st, why);
				res->retry_after = 1;
				return;
			}
			continue;
		}
		/*
		 * Retried elsewhere only when no byte of this request reached
		 * the application: write() failed (the peer had closed or
		 * reset the connection) before the kernel took any of it.
		 * Once it took one, the application may have read the request
		 * and acted on it, and a request must not be repeated unless
		 * it is known never to have been applied, or may be repeated
		 * (RFC 9110 9.2.2): a connection that dies after the request
		 * went out (EOF or reset before any answer) is retried above
		 * for idempotent requests without a body only, and gets 502
		 * otherwise.  pool.c catches the usual case, a connection the
		 * application closed while it lay idle, before anything is
		 * sent.  The body is read from the client only after begin(),
		 * so none is lost.
		 */
		if (sent > 0 || err == ETIMEDOUT || attempt >= MAX_ATTEMPTS)
			break;
		log_info(rq->reqid, "pool %s: a %s connection was closed "
		    "before it took any of the request (%s); trying again",
		    rq->route, j->pc.reused ? "kept" : "new", strerror(err));
		/*
		 * A backend may close a kept connection (its worker was
		 * recycled): the next acquire dials it anew.  A local worker
		 * that does, or any endpoint that drops a new connection,
		 * has failed: it is replaced or ejected.
		 */
		pool_release(&j->pc, j->pc.reused && j->pc.pid == 0 ?
		    POOL_CLOSE : POOL_FAIL, "closed the connection before "
		    "taking a request");
		if ((st = acquire(rq, tg, NULL, res, &j->pc, &j->id,
		    &why)) != 0) {
			free(envp);
			xfail(res, st, why);
			res->retry_after = 1;
			return;
		}
	}
	free(envp);
	if (st == -1) {
		pool_release(&j->pc, POOL_FAIL, "cannot send the request");
		xfail(res, 502, "FastCGI application refused the request");
		return;
	}
	conclude(j, oc, deadline, first, replayed);
}

void
fastcgi_run(const struct xreq *rq, const struct xtarget *tg,
    struct xresult *res)
{
	struct pool_conn pc;
	struct fjob *j;
	const char *why;
	unsigned id;
	int st;

	if ((st = acquire(rq, tg, NULL, res, &pc, &id, &why)) != 0) {
		xfail(res, st, why);
		res->retry_after = 1;
		return;
	}
	/*
	 * The request's state (civetweb's worker stacks are small) is lent
	 * only once it has a connection: a request waiting for a worker
	 * holds none, so what is lent is bounded by the pools' workers and
	 * connections.
	 */
	if ((j = bufpool_get(BUF_FCGI_JOB)) == NULL) {
		pool_release(&pc, POOL_CLOSE, NULL);
		xfail(res, 503, "out of memory");
		return;
	}
	j->rq = rq;
	j->x = rq->x;
	j->res = res;
	j->fail = NULL;
	j->pc = pc;
	j->id = id;
	j->outlen = j->outoff = 0;
	j->stdin_done = 0;
	j->got_bytes = 0;
	j->movable = 0;
	run(j, tg);
	bufpool_put(BUF_FCGI_JOB, j);
}
