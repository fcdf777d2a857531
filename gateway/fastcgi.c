/*
 * fastcgi.c: one request through a FastCGI pool.
 *
 * The request borrows a connection from the route's pool (pool.c), sends
 * BEGIN_REQUEST with FCGI_KEEP_CONN, the same RFC 3875 environment a CGI
 * handler gets as PARAMS (cgienv.c, fcgirec.c), and the request body as
 * STDIN records while one poll loop reads the answer: STDOUT goes through
 * the shared relay (the CGI header parser and the streaming writer),
 * STDERR to the log.  Like the CGI pump, nothing is read from the worker
 * while a write to the client blocks, so a slow client slows the worker
 * rather than growing our memory.
 *
 * Each request on a connection gets the next request id (the endpoint's
 * request count, from 1 up to 65535 and round again), not always 1: a
 * record that arrives for an earlier request, however late, then cannot
 * pass for this one's answer; the parser ends the exchange with 502 and
 * the connection is closed.  Anything behind END_REQUEST closes it too,
 * and pool.c never lends a kept connection on which anything arrived
 * while it was idle.
 *
 * Ends: END_REQUEST (the connection goes back to the pool), the route's
 * timeout (a local worker's process group is killed and replaced; 504;
 * a remote backend is ejected only if it, not a slow client, was behind;
 * 503 when it was a graceful stop's drain that ran out),
 * the client gone (a local worker is killed, since it may go on working
 * on an abandoned request; a remote connection is closed), or a worker
 * that dies or talks nonsense (502, or 503 when a fresh worker never
 * answered: it failed at start-up).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <civetweb.h>
#include <fastcgi.h>

#include "cgigate.h"

#define READ_CHUNK	65536
#define STDIN_CHUNK	16384
#define POLL_MAX_MS	250
#define MAX_ATTEMPTS	4	/* endpoints found gone before a request */

struct fjob {
	struct relay		 r;
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
	unsigned		 id;		/* request id on the connection */
};

const size_t fastcgi_job_size = sizeof(struct fjob);

/* Queue the next STDIN record from the request body. */
static int
next_stdin(struct fjob *j)
{
	ssize_t n;

	n = relay_body(&j->r, j->body, sizeof(j->body));
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

/* Bytes from the application: 1 at END_REQUEST, 0 for more, -1 failed. */
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
			if (relay_out(&j->r, (const char *)chunk, clen) == -1)
				return -1;
			break;
		case FCGIREC_EV_STDERR:
			relay_err(&j->r, (const char *)chunk, clen);
			break;
		case FCGIREC_EV_END:
			if (len > 0)
				j->fp.error = "FastCGI data after END_REQUEST";
			return 1;
		case FCGIREC_EV_ERROR:
			j->r.fail = j->fp.error;
			j->r.fail_status = 502;
			return -1;
		case FCGIREC_EV_MORE:
			break;
		}
	}
	return 0;
}

enum outcome { DONE, TIMEOUT, APP_GONE, APP_BAD, CLIENT_GONE, FAILED };

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
	struct http_ctx *h = j->r.h;
	struct pollfd pfd;
	uint64_t now, until;
	ssize_t n;
	int ms, rc;

	for (;;) {
		now = clk_now_us();
		/* Nobody answers a request before its body has come. */
		until = j->got_bytes || !j->stdin_done ? deadline :
		    first_deadline;
		if (http_draining() && http_drain_deadline() < until)
			until = http_drain_deadline();
		if (now >= until)
			return TIMEOUT;
		if (j->outlen == 0 && !j->stdin_done && next_stdin(j) == -1)
			return h->client_gone ? CLIENT_GONE : FAILED;
		if (http_flush(h) == -1) {
			j->r.fail = "client went away";
			h->client_gone = 1;
			return CLIENT_GONE;
		}
		pfd.fd = j->pc.fd;
		pfd.events = POLLIN | (j->outlen > 0 ? POLLOUT : 0);
		pfd.revents = 0;
		ms = (int)((until - now + 999) / 1000);
		if (ms > POLL_MAX_MS)
			ms = POLL_MAX_MS;
		rc = poll(&pfd, 1, ms);
		if (rc == -1 && errno != EINTR)
			return FAILED;
		if (rc == 0 && j->stdin_done && j->outlen == 0 &&
		    conn_closed(h)) {
			j->r.fail = "client went away";
			return CLIENT_GONE;
		}
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
				j->r.fail = "FastCGI application closed the "
				    "connection before END_REQUEST";
				return APP_GONE;
			}
			if (n > 0) {
				j->got_bytes = 1;
				rc = on_input(j, (size_t)n);
				if (rc == 1)
					return DONE;
				if (rc == -1)
					return j->r.fail_status == 502 ?
					    APP_BAD : h->client_gone ?
					    CLIENT_GONE : FAILED;
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
	if (j->r.body_left == 0)
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
	n = 16 + plen + (j->r.body_left == 0 ? fcgirec_stream_size(0) : 0);
	if ((msg = malloc(n)) == NULL) {
		free(params);
		return NULL;
	}
	fcgirec_begin(msg, j->id, 1);
	memcpy(msg + 16, params, plen);
	*len = 16 + plen;
	if (j->r.body_left == 0)
		*len += fcgirec_stream(msg + *len, FCGI_STDIN, j->id, NULL, 0);
	free(params);
	return msg;
}

/*
 * Borrow a connection for the request into *pc, with the request id to
 * use on it in *id; 0, or the status to answer.
 */
static int
acquire(struct http_ctx *h, const struct route_conf *conf,
    const struct fastcgi_target *tg, struct pool_conn *pc, unsigned *id,
    const char **why)
{
	int st;

	st = pool_acquire(tg->pool, h->start_us +
	    (uint64_t)conf->max_queue_wait_us, pc, why);
	h->t.queue_us = (long long)(clk_now_us() - h->start_us);
	if (st != 0)
		return st;
	h->t.queue_us -= pc->connect_us;
	h->t.connect_us = pc->connect_us;
	h->t.pid = (int)pc->pid;
	h->t.worker_requests = (long long)pc->nreq;
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
replayable(const struct http_ctx *h, const struct relay *r)
{
	static const char *const methods[] = {
		"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"
	};
	size_t i;

	if (h->t.bytes_in > 0 || r->body_left != 0)
		return 0;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(h->t.method, methods[i]) == 0)
			return 1;
	return 0;
}

static int
run(struct fjob *j, const struct fastcgi_target *tg)
{
	struct relay *r = &j->r;
	struct http_ctx *h = r->h;
	const struct route_conf *conf = r->conf;
	struct cgi_header hdr[64];
	struct cgi_request req;
	unsigned char *msg = NULL;
	char **envp;
	size_t mlen, sent = 0;
	uint64_t deadline, first = 0;
	enum outcome oc = FAILED;
	const char *why;
	int st, attempt, err = 0, replayed = 0;

	relay_request(h, tg->script_name, tg->script_filename,
	    tg->document_root, tg->path_info, &req, hdr);
	req.extra_env = conf->env;
	req.nextra = conf->nenv;
	if ((envp = cgienv_build(&req)) == NULL) {
		pool_release(&j->pc, POOL_CLOSE, NULL);
		return http_error(h, 503, "out of memory", "Retry-After: 1\r\n");
	}
	deadline = h->start_us + (uint64_t)conf->timeout_us;
	for (attempt = 1; ; attempt++) {
		/* The records carry the id, which comes with the connection. */
		if ((msg = opening(j, envp, &mlen)) == NULL) {
			free(envp);
			pool_release(&j->pc, POOL_CLOSE, NULL);
			return http_error(h, 503, "out of memory",
			    "Retry-After: 1\r\n");
		}
		fcgirec_parser_init(&j->fp, j->id);
		j->outlen = j->outoff = 0;
		j->stdin_done = 0;
		j->got_bytes = 0;
		st = begin(j, msg, mlen, deadline, &sent);
		err = errno;
		free(msg);
		if (st == 0) {
			first = deadline;
			if (j->pc.nreq == 1 && j->pc.pid > 0 && clk_now_us() +
			    (uint64_t)conf->fcgi.start_us < first)
				first = clk_now_us() + (uint64_t)conf->fcgi.start_us;
			oc = converse(j, deadline, first);
			if (oc != APP_GONE || j->got_bytes || !j->pc.reused ||
			    replayed || !replayable(h, r))
				break;
			/*
			 * A kept connection died after the request went out
			 * but before any answer: the application may have
			 * acted on it, so only a request that may be repeated
			 * (RFC 9110 9.2.2: an idempotent method) and that has
			 * no body to lose is sent again, once, to another
			 * worker.  A worker that exits on its own after its
			 * last answer (php-cgi) leaves exactly this behind; a
			 * request that kills every worker it reaches is not
			 * tried on a fresh connection.
			 */
			replayed = 1;
			log_msg(h->reqid, "pool %s: the connection died "
			    "unanswered (%s); %s is idempotent: trying again",
			    h->t.route, r->fail, h->t.method);
			pool_release(&j->pc, j->pc.pid > 0 ? POOL_FAIL :
			    POOL_CLOSE, r->fail);
			r->fail = NULL;
			if ((st = acquire(h, conf, tg, &j->pc, &j->id,
			    &why)) != 0) {
				free(envp);
				return http_error(h, st, why,
				    "Retry-After: 1\r\n");
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
		log_msg(h->reqid, "pool %s: a %s connection was closed before "
		    "it took any of the request (%s); trying again",
		    h->t.route, j->pc.reused ? "kept" : "new", strerror(err));
		/*
		 * A backend may close a kept connection (its worker was
		 * recycled): the next acquire dials it anew.  A local worker
		 * that does, or any endpoint that drops a new connection,
		 * has failed: it is replaced or ejected.
		 */
		pool_release(&j->pc, j->pc.reused && j->pc.pid == 0 ?
		    POOL_CLOSE : POOL_FAIL, "closed the connection before "
		    "taking a request");
		if ((st = acquire(h, conf, tg, &j->pc, &j->id,
		    &why)) != 0) {
			free(envp);
			return http_error(h, st, why, "Retry-After: 1\r\n");
		}
	}
	free(envp);
	if (st == -1) {
		pool_release(&j->pc, POOL_FAIL, "cannot send the request");
		return http_error(h, 502, "FastCGI application refused the "
		    "request", NULL);
	}
	relay_err_end(r);

	switch (oc) {
	case DONE:
		if (j->fp.proto_status != FCGI_REQUEST_COMPLETE &&
		    !r->headers_done) {
			pool_release(&j->pc, POOL_CLOSE, NULL);
			return http_error(h, 503, "FastCGI application "
			    "overloaded or refused the role",
			    "Retry-After: 1\r\n");
		}
		if (j->fp.error != NULL)
			log_msg(h->reqid, "%s", j->fp.error);
		/*
		 * An answer before the whole body was sent leaves the rest
		 * of it, maybe half a record, on the connection: the next
		 * request would be read as part of this one's STDIN.
		 */
		pool_release(&j->pc, j->fp.error == NULL && j->stdin_done &&
		    j->outlen == 0 ? POOL_KEEP : POOL_CLOSE, NULL);
		return relay_end(r, 0);
	case TIMEOUT:
		/*
		 * Out of time with all the body so far sent on and more to
		 * come: the client is slow, not the application.
		 */
		if (!j->stdin_done && j->outlen == 0 && !j->got_bytes) {
			pool_release(&j->pc, POOL_CLOSE, NULL);
			h->keep_alive = 0;
			return http_error(h, 408, "client too slow sending the "
			    "request body", NULL);
		}
		if (http_draining() && clk_now_us() >= http_drain_deadline()) {
			pool_release(&j->pc, j->pc.pid > 0 ? POOL_KILL :
			    POOL_CLOSE, "shutting down");
			return http_error(h, 503, "shutting down: drain_timeout "
			    "passed", "Retry-After: 1\r\n");
		}
		if (backend_ahead(j)) {
			/*
			 * The application has output we have not taken: it
			 * was the client, reading slowly, that ran the clock
			 * out.  Not the backend's fault; a local worker is
			 * still mid-request, so it goes all the same.
			 */
			pool_release(&j->pc, j->pc.pid > 0 ? POOL_KILL :
			    POOL_CLOSE, "client too slow reading the answer");
			return http_error(h, 504, "request timed out: client "
			    "too slow reading the answer", NULL);
		}
		pool_release(&j->pc, POOL_KILL, "request timed out");
		if (!j->got_bytes && j->pc.nreq == 1 && first < deadline)
			return http_error(h, 503, "FastCGI worker did not "
			    "answer within start_timeout", "Retry-After: 1\r\n");
		return http_error(h, 504, "FastCGI request timed out", NULL);
	case CLIENT_GONE:
		/* A local worker may go on with an abandoned request. */
		pool_release(&j->pc, j->pc.pid > 0 ? POOL_KILL : POOL_CLOSE,
		    "client went away");
		return relay_client_gone(r);
	case APP_GONE:
		/* A backend dropping one connection is not a dead backend. */
		pool_release(&j->pc, j->pc.pid > 0 ? POOL_FAIL : POOL_CLOSE,
		    r->fail);
		/* A request sent again killed its worker too: not start-up. */
		if (!j->got_bytes && j->pc.nreq == 1 && j->pc.pid > 0 &&
		    !replayed)
			return http_error(h, 503, "FastCGI worker failed at "
			    "start-up", "Retry-After: 1\r\n");
		return http_error(h, 502, r->fail, NULL);
	case APP_BAD:
		pool_release(&j->pc, j->pc.pid > 0 ? POOL_KILL : POOL_CLOSE,
		    r->fail);
		return http_error(h, r->fail_status ? r->fail_status : 502,
		    r->fail, NULL);
	case FAILED:
	default:
		pool_release(&j->pc, POOL_CLOSE, NULL);
		if (r->fail_status == 413)
			h->keep_alive = 0;
		return http_error(h, r->fail_status ? r->fail_status : 502,
		    r->fail ? r->fail : "FastCGI exchange failed", NULL);
	}
}

int
fastcgi_serve(struct http_ctx *h, const struct route_conf *conf,
    const struct fastcgi_target *tg, int nph)
{
	const struct mg_request_info *ri = mg_get_request_info(h->conn);
	struct pool_conn pc;
	struct cgiresp *p;
	struct fjob *j;
	const char *why;
	unsigned id;
	int st;

	if (h->hops == 0 && ri->content_length > conf->max_body) {
		h->keep_alive = 0;
		return http_error(h, 413, "declared body over max_body", NULL);
	}
	if (tg->pool == NULL)
		return http_error(h, 503, "no FastCGI pool for this route",
		    "Retry-After: 1\r\n");
	if ((st = acquire(h, conf, tg, &pc, &id, &why)) != 0)
		return http_error(h, st, why, "Retry-After: 1\r\n");
	/*
	 * The request's state (civetweb's worker stacks are small) is lent
	 * only once it has a connection: a request waiting for a worker
	 * holds none, so what is lent is bounded by the pools' workers and
	 * connections.
	 */
	p = bufpool_get(BUF_CGIRESP);
	if ((j = bufpool_get(BUF_FCGI_JOB)) == NULL || p == NULL) {
		bufpool_put(BUF_FCGI_JOB, j);
		bufpool_put(BUF_CGIRESP, p);
		pool_release(&pc, POOL_CLOSE, NULL);
		return http_error(h, 503, "out of memory", "Retry-After: 1\r\n");
	}
	j->pc = pc;
	j->id = id;
	j->outlen = j->outoff = 0;
	j->stdin_done = 0;
	j->got_bytes = 0;
	cgiresp_init(p);
	relay_init(&j->r, h, conf, p, nph);
	st = run(j, tg);
	bufpool_put(BUF_FCGI_JOB, j);
	bufpool_put(BUF_CGIRESP, p);
	return st;
}
