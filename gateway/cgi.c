/*
 * cgi.c: the CGI transport: one handler process per request.
 *
 * The order matters: the route's concurrency slot comes first (503 when
 * none comes free in time), then the handler is spawned (spawn.c) and
 * one poll loop moves bytes: the request body (exch_body) into the
 * child's stdin, its stdout to exch_out, its stderr to exch_err.
 * Nothing is read from the child while a write to the client blocks, so
 * a slow client slows the handler instead of growing our memory.
 *
 * The body is read only while there is room to keep it, and without
 * waiting: the loop polls the client's socket with the child's pipes and
 * asks only for what is there (conn.c says how civetweb is made to
 * comply), so a handler that never reads its stdin is not fed, its
 * output still flows, and a client that sends slowly costs the
 * handler's output nothing.
 *
 * Ends: EOF on stdout and the child reaped (its status decides whether a
 * started body is finished or cut short), the route's timeout (the whole
 * process group is killed; 504 if nothing was sent yet), the client gone
 * (the group is killed), or a graceful stop's drain deadline.  What
 * happened goes back to http.c in the struct xresult; this file answers
 * nothing itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgigate.h"

#define POLL_MAX_MS	250
#define KILL_GRACE_US	500000
#define BODY_BUF	65536
#define STDIN_PIPE	(1 << 20)
#define EXIT_WAIT_US	50000	/* after stdout closes, for the exit */
#define FIRST_HOLD_US	5000	/* the first output, for the rest */

/* How the pump loop ended. */
enum pumped { P_EOF, P_TIMEOUT, P_OUT, P_BODY, P_POLL };

struct pump {
	const struct xreq	*rq;
	struct exchange		*x;
	struct child		 c;
	int			 out_open, err_open, in_open;
	int			 cfd;		/* client socket, -1: unknown */
	int			 body_done;	/* exch_body said 0 */
	int			 client_ready;	/* poll saw it readable */
	char			 inbuf[BODY_BUF];
	size_t			 inoff, inlen;
	char			*iobuf;		/* CGI_IOBUF, for stdout */
	uint64_t		 first_us;	/* the first output, or 0 */
};

const size_t cgi_pump_size = sizeof(struct pump);

static pthread_once_t null_once = PTHREAD_ONCE_INIT;
static int null_fd = -1;

static void
open_null(void)
{
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Bytes from the handler's stderr go to the log, line by line. */
static void
read_stderr(struct pump *s)
{
	char buf[4096];
	ssize_t n;

	n = read(s->c.err, buf, sizeof(buf));
	if (n > 0) {
		exch_err(s->x, buf, (size_t)n);
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	s->err_open = 0;
}

/*
 * Read what stdout has, a few times over while it keeps coming: a small
 * handler has usually written and exited by the time we run, so the read
 * after its output finds EOF, and the whole response leaves in one send
 * (the pump flushes only before it sleeps).  The bound keeps stdin and
 * stderr served while a large body streams.
 */
static int
read_stdout(struct pump *s)
{
	ssize_t n;
	int i;

	for (i = 0; i < 4; i++) {
		n = read(s->c.out, s->iobuf, CGI_IOBUF);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0) {
			s->out_open = 0;
			return 0;
		}
		if (s->first_us == 0)
			s->first_us = clk_now_us();
		if (exch_out(s->x, s->iobuf, (size_t)n) == -1)
			return -1;
	}
	return 0;
}

/*
 * The first output waits up to FIRST_HOLD_US for the rest: a handler
 * that writes its answer and exits has it leave in one piece with its
 * end, which no proxy in front can see cut in two if this node dies in
 * between.  A handler that goes on working has its first bytes sent
 * after that hold; later ones at once.  0: hold; else the microseconds
 * still to hold, or -1: none.
 */
static long long
holding(const struct pump *s, uint64_t now)
{
	if (s->first_us == 0 || !s->out_open ||
	    now >= s->first_us + FIRST_HOLD_US)
		return -1;
	return (long long)(s->first_us + FIRST_HOLD_US - now);
}

/*
 * Read what the client has sent into inbuf, as long as there is room and
 * no read would wait.  0, or -1 when reading the body failed.
 */
static int
read_body(struct pump *s)
{
	size_t room;
	ssize_t n;

	if (s->inlen == 0)
		s->inoff = 0;
	else if (s->inoff > 0 && s->inoff + s->inlen == sizeof(s->inbuf)) {
		memmove(s->inbuf, s->inbuf + s->inoff, s->inlen);
		s->inoff = 0;
	}
	while (!s->body_done) {
		room = sizeof(s->inbuf) - s->inoff - s->inlen;
		if (room == 0)
			break;
		n = exch_body(s->x, s->inbuf + s->inoff + s->inlen, room,
		    s->client_ready ? EXCH_READY : EXCH_NOWAIT);
		s->client_ready = 0;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n < 0)
			return -1;
		if (n == 0) {
			s->body_done = 1;
			break;
		}
		s->inlen += (size_t)n;
		if (s->cfd < 0)
			break;	/* that read may have waited: one at a time */
	}
	return 0;
}

/* Write what inbuf holds into the child's stdin, as far as it takes it. */
static void
write_stdin(struct pump *s)
{
	ssize_t n;

	while (s->inlen > 0) {
		n = write(s->c.in, s->inbuf + s->inoff, s->inlen);
		if (n > 0) {
			s->inoff += (size_t)n;
			s->inlen -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		/* EPIPE: the handler does not want (the rest of) the body. */
		s->inlen = 0;
		s->body_done = 1;
		break;
	}
	if (s->inlen == 0)
		s->inoff = 0;
	if (s->body_done && s->inlen == 0) {
		close(s->c.in);
		s->c.in = -1;
		s->in_open = 0;
	}
}

/* Move bytes until stdout closes, the deadline passes or something fails. */
static enum pumped
pump(struct pump *s, uint64_t deadline)
{
	struct pollfd pfd[4];
	uint64_t now;
	long long hold;
	int i, nfd, ms, idx_in, idx_out, idx_err, idx_cl;

	while (s->out_open || s->err_open) {
		now = clk_now_us();
		if (http_draining() && http_drain_deadline() < deadline)
			deadline = http_drain_deadline();
		if (now >= deadline)
			return P_TIMEOUT;
		if (s->in_open) {
			if (read_body(s) == -1)
				return P_BODY;
			write_stdin(s);
		}
		if ((hold = holding(s, now)) < 0 && exch_flush(s->x) == -1)
			return P_OUT;
		nfd = 0;
		idx_in = idx_out = idx_err = idx_cl = -1;
		if (s->in_open && s->inlen > 0) {
			pfd[nfd].fd = s->c.in;
			pfd[nfd].events = POLLOUT;
			idx_in = nfd++;
		}
		if (s->in_open && !s->body_done && s->cfd >= 0 &&
		    s->inoff + s->inlen < sizeof(s->inbuf)) {
			pfd[nfd].fd = s->cfd;
			pfd[nfd].events = POLLIN;
			idx_cl = nfd++;
		}
		if (s->out_open) {
			pfd[nfd].fd = s->c.out;
			pfd[nfd].events = POLLIN;
			idx_out = nfd++;
		}
		if (s->err_open) {
			pfd[nfd].fd = s->c.err;
			pfd[nfd].events = POLLIN;
			idx_err = nfd++;
		}
		ms = (int)((deadline - now + 999) / 1000);
		if (ms > POLL_MAX_MS)
			ms = POLL_MAX_MS;
		if (http_draining() && ms > 50)
			ms = 50;
		if (hold >= 0 && ms > (int)((hold + 999) / 1000))
			ms = (int)((hold + 999) / 1000);
		/* Without the socket, reading the body is what waits. */
		if (s->in_open && !s->body_done && s->cfd < 0 &&
		    s->inoff + s->inlen < sizeof(s->inbuf))
			ms = 0;
		i = poll(pfd, (nfds_t)nfd, ms);
		if (i == -1 && errno != EINTR)
			return P_POLL;
		if (i == 0 && !s->in_open && exch_client_closed(s->x))
			return P_OUT;
		if (idx_cl >= 0 && pfd[idx_cl].revents)
			s->client_ready = 1;
		if (idx_in >= 0 && pfd[idx_in].revents)
			write_stdin(s);
		if (idx_out >= 0 && pfd[idx_out].revents &&
		    read_stdout(s) == -1)
			return P_OUT;
		if (idx_err >= 0 && (pfd[idx_err].revents || !s->out_open))
			read_stderr(s);
		for (i = 0; i < nfd; i++)
			pfd[i].revents = 0;
	}
	return P_EOF;
}

static void
record_exit(struct xresult *res, const struct child *c)
{
	res->max_rss_kb = spawn_rss_kb(c);
	if (!c->done)
		return;
	if (WIFEXITED(c->status))
		res->exit_status = WEXITSTATUS(c->status);
	else if (WIFSIGNALED(c->status))
		res->signal = WTERMSIG(c->status);
	res->user_cpu_us = (long long)c->ru.ru_utime.tv_sec * 1000000 +
	    c->ru.ru_utime.tv_usec;
	res->sys_cpu_us = (long long)c->ru.ru_stime.tv_sec * 1000000 +
	    c->ru.ru_stime.tv_usec;
}

/* Spawn the handler, pump, reap: the ending in res. */
static void
run(struct pump *s, const char *program, struct xresult *res)
{
	const struct xreq *rq = s->rq;
	struct spawn_req sr;
	char *argv[2], cwd[PATH_MAX], *slash;
	char **envp;
	int stdio[3];
	uint64_t t0, deadline;
	enum pumped rc;
	int st;

	if ((envp = cgienv_build(&rq->cgi)) == NULL) {
		xfail(res, 503, "out of memory");
		return;
	}
	snprintf(cwd, sizeof(cwd), "%s", program);
	if ((slash = strrchr(cwd, '/')) != NULL)
		*slash = '\0';
	argv[0] = (char *)(uintptr_t)program;
	argv[1] = NULL;
	memset(&sr, 0, sizeof(sr));
	sr.path = program;
	sr.argv = argv;
	sr.envp = envp;
	sr.cwd = cwd;
	sr.rlim = rq->conf->rlim;
	/* No body to send: stdin is /dev/null, one pipe fewer to make. */
	if (rq->body == 0) {
		pthread_once(&null_once, open_null);
		if (null_fd >= 0) {
			stdio[0] = null_fd;
			stdio[1] = stdio[2] = -1;
			sr.stdio = stdio;
		}
	}

	t0 = clk_now_us();
	st = spawn_child(&sr, &s->c);
	free(envp);
	res->spawn_us = (long long)(clk_now_us() - t0);
	if (st == -1) {
		static _Thread_local char why[64];

		snprintf(why, sizeof(why), "spawn: %s", strerror(errno));
		xfail(res, errno == EAGAIN || errno == ENOMEM ? 503 : 502, why);
		return;
	}
	res->pid = s->c.pid;
	s->out_open = s->err_open = 1;
	s->first_us = 0;
	s->in_open = s->c.in >= 0;
	s->body_done = s->client_ready = 0;
	s->cfd = s->in_open ? exch_client_fd(s->x) : -1;
	/* A large body crosses in fewer, larger steps (best effort). */
	if (s->in_open && (rq->body < 0 || rq->body > BODY_BUF))
		(void)fcntl(s->c.in, F_SETPIPE_SZ, STDIN_PIPE);
	deadline = rq->start_us + (uint64_t)rq->conf->timeout_us;

	rc = pump(s, deadline);
	if (rc == P_EOF) {
		/*
		 * stdout closed: the exit status decides how the body ends.
		 * A handler nearly always exits a moment later; waiting that
		 * moment lets what it wrote leave with the answer's end, in
		 * one write, so that a node killed meanwhile leaves nothing
		 * half-sent for a proxy in front to be unable to retry.  One
		 * still running after EXIT_WAIT_US gets what it wrote sent
		 * now, not when it exits.
		 */
		if (spawn_wait(&s->c, deadline < clk_now_us() + EXIT_WAIT_US ?
		    deadline : clk_now_us() + EXIT_WAIT_US) == -1 &&
		    exch_flush(s->x) == -1)
			rc = P_OUT;
		else if (spawn_wait(&s->c, deadline) == -1)
			rc = P_TIMEOUT;
	}
	if (rc != P_EOF) {
		/*
		 * What is left of the group goes too, killed at the reap
		 * while the leader's id still pins the group (spawn.c).
		 */
		s->c.kill_rest = 1;
		if (!spawn_reap(&s->c))
			spawn_kill_group(&s->c, KILL_GRACE_US);
	}
	record_exit(res, &s->c);
	spawn_release(&s->c);

	switch (rc) {
	case P_EOF:
		res->end = X_DONE;
		break;
	case P_TIMEOUT:
		if (http_draining() && clk_now_us() >= http_drain_deadline())
			xfail(res, 503, "shutting down: drain_timeout passed; "
			    "process group killed");
		else
			xfail(res, 504, "handler timed out; process group "
			    "killed");
		break;
	case P_OUT:
		res->end = X_OUT;
		break;
	case P_BODY:
		res->end = X_BODY;
		break;
	case P_POLL:
		xfail(res, 502, "pump failed");
		break;
	}
}

void
cgi_run(const struct xreq *rq, const struct xtarget *tg, struct xresult *res)
{
	struct admit *slot;
	struct pump *s;
	char *io;

	if ((slot = admit_enter(rq->route, rq->conf->max_concurrency,
	    rq->conf->max_queue_wait_us)) == NULL) {
		res->queue_us = (long long)(clk_now_us() - rq->start_us);
		xfail(res, 503, http_draining() ? "shutting down" :
		    "route at max_concurrency past max_queue_wait");
		return;
	}
	res->queue_us = (long long)(clk_now_us() - rq->start_us);
	/*
	 * The request's state (civetweb's worker stacks are small) is lent
	 * while it holds its slot, so what is lent is bounded by the
	 * routes' concurrency.
	 */
	s = bufpool_get(BUF_CGI_PUMP);
	io = bufpool_get(BUF_CGI_IO);
	if (s != NULL && io != NULL) {
		s->rq = rq;
		s->x = rq->x;
		s->inoff = s->inlen = 0;
		s->iobuf = io;
		run(s, tg->program, res);
	} else
		xfail(res, 503, "out of memory");
	bufpool_put(BUF_CGI_IO, io);
	bufpool_put(BUF_CGI_PUMP, s);
	admit_leave(slot);
}
