/*
 * cgi.c: one CGI request, from admission to the exit status.
 *
 * The order matters: limits that need no process are checked first (body
 * size 413, handler vetting 403/404, the route's concurrency slot 503),
 * then the handler is spawned (spawn.c) and one poll loop moves bytes:
 * the request body into the child's stdin, its stdout through the header
 * parser (cgiresp.c) to the client, its stderr to the log.  Nothing is
 * read from the child while a write to the client blocks, so a slow client
 * slows the handler instead of growing our memory.  Reading the request
 * body from civetweb blocks too, but only while the client is sending it.
 *
 * Ends: EOF on stdout and the child reaped (its status decides whether a
 * started body is finished or cut short), the route's timeout (the whole
 * process group is killed; 504 if nothing was sent yet), the client gone
 * (the group is killed), or a graceful stop's drain deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <civetweb.h>

#include "cgigate.h"

#define PIPE_CHUNK	65536
#define POLL_MAX_MS	250
#define KILL_GRACE_US	500000

struct pump {
	struct relay		 r;
	struct child		 c;
	int			 out_open, err_open, in_open;
	char			 inbuf[16384];
	size_t			 inoff, inlen;
};

static pthread_once_t null_once = PTHREAD_ONCE_INIT;
static int null_fd = -1;

static void
open_null(void)
{
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Per-thread state, allocated once: civetweb's worker stacks are small. */
static _Thread_local struct pump *tls_pump;
static _Thread_local struct cgiresp *tls_parser;
static _Thread_local char *tls_buf;

/* Bytes from the handler's stderr go to the log, line by line. */
static void
read_stderr(struct pump *s)
{
	char buf[4096];
	ssize_t n;

	n = read(s->c.err, buf, sizeof(buf));
	if (n > 0) {
		relay_err(&s->r, buf, (size_t)n);
		return;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	relay_err_end(&s->r);
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
		n = read(s->c.out, tls_buf, PIPE_CHUNK);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0) {
			s->out_open = 0;
			return 0;
		}
		if (relay_out(&s->r, tls_buf, (size_t)n) == -1) {
			if (s->r.fail == NULL)
				s->r.fail = "client went away";
			return -1;
		}
	}
	return 0;
}

/* Feed the request body; reads from the client block until data comes. */
static int
feed_stdin(struct pump *s)
{
	ssize_t n;

	if (s->inlen == 0) {
		n = relay_body(&s->r, s->inbuf, sizeof(s->inbuf));
		if (n < 0)
			return -1;
		if (n == 0) {
			close(s->c.in);
			s->c.in = -1;
			s->in_open = 0;
			return 0;
		}
		s->inoff = 0;
		s->inlen = (size_t)n;
	}
	n = write(s->c.in, s->inbuf + s->inoff, s->inlen);
	if (n > 0) {
		s->inoff += (size_t)n;
		s->inlen -= (size_t)n;
	} else if (n == -1 && errno == EPIPE) {
		/* The handler does not want (the rest of) the body. */
		close(s->c.in);
		s->c.in = -1;
		s->in_open = 0;
	}
	return 0;
}

/* Move bytes until stdout closes, the deadline passes or something fails. */
static int
pump(struct pump *s, uint64_t deadline)
{
	struct http_ctx *h = s->r.h;
	struct pollfd pfd[3];
	uint64_t now;
	int i, nfd, ms, idx_in, idx_out, idx_err;

	while (s->out_open || s->err_open) {
		now = now_us();
		if (http_draining() && http_drain_deadline() < deadline)
			deadline = http_drain_deadline();
		if (now >= deadline)
			return 1;
		if (s->in_open && s->inlen == 0 && feed_stdin(s) == -1)
			return -1;
		if (http_flush(h) == -1) {
			s->r.fail = "client went away";
			h->client_gone = 1;
			return -1;
		}
		nfd = 0;
		idx_in = idx_out = idx_err = -1;
		if (s->in_open && s->inlen > 0) {
			pfd[nfd].fd = s->c.in;
			pfd[nfd].events = POLLOUT;
			idx_in = nfd++;
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
		i = poll(pfd, (nfds_t)nfd, ms);
		if (i == -1 && errno != EINTR)
			return -1;
		if (i == 0 && !s->in_open && http_client_closed(h)) {
			s->r.fail = "client went away";
			return -1;
		}
		if (idx_in >= 0 && pfd[idx_in].revents & (POLLOUT | POLLERR))
			if (feed_stdin(s) == -1)
				return -1;
		if (idx_out >= 0 && pfd[idx_out].revents &&
		    read_stdout(s) == -1)
			return -1;
		if (idx_err >= 0 && (pfd[idx_err].revents || !s->out_open))
			read_stderr(s);
		for (i = 0; i < nfd; i++)
			pfd[i].revents = 0;
	}
	return 0;
}

static void
record_exit(struct http_ctx *h, const struct child *c)
{
	struct timing *t = &h->t;

	if (!c->done)
		return;
	if (WIFEXITED(c->status))
		t->exit_status = WEXITSTATUS(c->status);
	else if (WIFSIGNALED(c->status))
		t->signal = WTERMSIG(c->status);
	t->user_cpu_us = (long long)c->ru.ru_utime.tv_sec * 1000000 +
	    c->ru.ru_utime.tv_usec;
	t->sys_cpu_us = (long long)c->ru.ru_stime.tv_sec * 1000000 +
	    c->ru.ru_stime.tv_usec;
	t->max_rss_kb = c->ru.ru_maxrss;
}

static int
run(struct pump *s, const struct route *rt, const char *abs,
    const char *path_info)
{
	struct http_ctx *h = s->r.h;
	const struct route_conf *conf = s->r.conf;
	struct cgi_header hdr[RELAY_MAX_HEADERS];
	struct cgi_request req;
	struct spawn_req sr;
	char *argv[2], cwd[PATH_MAX], *slash;
	char **envp;
	int stdio[3];
	uint64_t t0, deadline;
	int rc, truncated = 0;

	relay_request(h, rt->name, abs, NULL, path_info, &req, hdr);
	req.extra_env = conf->env;
	req.nextra = conf->nenv;
	if ((envp = cgienv_build(&req)) == NULL)
		return http_error(h, 503, "out of memory", "Retry-After: 1\r\n");
	snprintf(cwd, sizeof(cwd), "%s", abs);
	if ((slash = strrchr(cwd, '/')) != NULL)
		*slash = '\0';
	argv[0] = (char *)(uintptr_t)abs;
	argv[1] = NULL;
	memset(&sr, 0, sizeof(sr));
	sr.path = abs;
	sr.argv = argv;
	sr.envp = envp;
	sr.cwd = cwd;
	sr.rlim = conf->rlim;
	/* No body to send: stdin is /dev/null, one pipe fewer to make. */
	if (s->r.body_left == 0 || (s->r.body_left < 0 &&
	    mg_get_header(h->conn, "Transfer-Encoding") == NULL)) {
		pthread_once(&null_once, open_null);
		if (null_fd >= 0) {
			stdio[0] = null_fd;
			stdio[1] = stdio[2] = -1;
			sr.stdio = stdio;
		}
	}

	t0 = now_us();
	rc = spawn_child(&sr, &s->c);
	free(envp);
	h->t.spawn_us = (long long)(now_us() - t0);
	if (rc == -1) {
		char why[64];
		int st = (errno == EAGAIN || errno == ENOMEM) ? 503 : 502;

		snprintf(why, sizeof(why), "spawn: %s", strerror(errno));
		return http_error(h, st, why,
		    st == 503 ? "Retry-After: 1\r\n" : NULL);
	}
	h->t.pid = s->c.pid;
	s->out_open = s->err_open = 1;
	s->in_open = s->c.in >= 0;
	deadline = h->start_us + (uint64_t)conf->timeout_us;

	rc = pump(s, deadline);
	if (rc == 0) {
		/*
		 * stdout closed: the exit status decides how the body ends.
		 * A handler still running after closing it gets what it
		 * wrote sent now, not when it exits.
		 */
		if (!spawn_reap(&s->c) && http_flush(h) == -1) {
			s->r.fail = "client went away";
			rc = -1;
		} else if (spawn_wait(&s->c, deadline) == -1)
			rc = 1;
	}
	if (rc != 0 && !spawn_reap(&s->c))
		spawn_kill_group(&s->c, KILL_GRACE_US);
	else if (rc != 0)
		kill(-s->c.pid, SIGKILL);	/* leftovers of the group */
	record_exit(h, &s->c);
	relay_err_end(&s->r);
	spawn_release(&s->c);

	if (rc == 1 && http_draining() && now_us() >= http_drain_deadline())
		return http_error(h, 503, "shutting down: drain_timeout "
		    "passed; process group killed", "Retry-After: 1\r\n");
	if (rc == 1)
		return http_error(h, 504, "handler timed out; process group "
		    "killed", NULL);
	if (rc == -1) {
		if (h->client_gone)
			return relay_client_gone(&s->r);
		if (s->r.fail_status == 413)
			h->keep_alive = 0;
		return http_error(h, s->r.fail_status ? s->r.fail_status :
		    502, s->r.fail ? s->r.fail : "pump failed", NULL);
	}
	if (h->t.signal > 0) {
		snprintf(h->t.error, sizeof(h->t.error), "%skilled by signal "
		    "%d", h->sent_header ? "truncated: " : "", h->t.signal);
		if (h->sent_header) {
			log_msg(h->reqid, "%s %s -> %d sent, then handler killed "
			    "by signal %d: response truncated", h->t.method,
			    h->t.path, h->t.status, h->t.signal);
			truncated = 1;
		}
	}
	return relay_end(&s->r, truncated);
}

int
cgi_serve(struct http_ctx *h, const struct route *rt, const char *path_info)
{
	const struct mg_request_info *ri = mg_get_request_info(h->conn);
	const struct route_conf *conf = config_route(h->cfg, rt->name);
	char abs[PATH_MAX];
	const char *why;
	struct admit *slot;
	struct pump *s;
	int st;

	if (h->hops == 0 && ri->content_length > conf->max_body) {
		h->keep_alive = 0;
		return http_error(h, 413, "declared body over max_body", NULL);
	}
	if ((st = scan_resolve(rt->file, abs, &why)) != 0)
		return http_error(h, st, why, NULL);
	if ((slot = admit_enter(rt->name, conf->max_concurrency,
	    conf->max_queue_wait_us)) == NULL) {
		h->t.queue_us = (long long)(now_us() - h->start_us);
		return http_error(h, 503, http_draining() ? "shutting down" :
		    "route at max_concurrency past max_queue_wait",
		    "Retry-After: 1\r\n");
	}
	h->t.queue_us = (long long)(now_us() - h->start_us);
	if (tls_parser == NULL && (tls_parser = malloc(sizeof(*tls_parser))) ==
	    NULL)
		goto oom;
	if (tls_buf == NULL && (tls_buf = malloc(PIPE_CHUNK)) == NULL)
		goto oom;
	if (tls_pump == NULL && (tls_pump = malloc(sizeof(*tls_pump))) == NULL)
		goto oom;
	s = tls_pump;
	s->inoff = s->inlen = 0;
	cgiresp_init(tls_parser);
	relay_init(&s->r, h, conf, tls_parser, rt->nph);
	st = run(s, rt, abs, path_info);
	admit_leave(slot);
	return st;
oom:
	admit_leave(slot);
	return http_error(h, 503, "out of memory", "Retry-After: 1\r\n");
}

void
cgi_thread_exit(void)
{
	free(tls_pump);
	free(tls_parser);
	free(tls_buf);
	tls_pump = NULL;
	tls_parser = NULL;
	tls_buf = NULL;
}
