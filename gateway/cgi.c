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
#include <limits.h>
#include <poll.h>
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
	struct http_ctx		*h;
	const struct route_conf	*conf;
	struct child		 c;
	struct cgiresp		*p;
	int			 nph;
	int			 headers_done;
	int			 out_open, err_open, in_open;
	long long		 body_left;	/* -1: chunked, until EOF */
	char			 inbuf[16384];
	size_t			 inoff, inlen;
	char			 errbuf[4096];
	size_t			 errlen, errlogged;
	const char		*fail;		/* why we gave up */
	int			 fail_status;
};

/* Per-thread state, allocated once: civetweb's worker stacks are small. */
static _Thread_local struct pump *tls_pump;
static _Thread_local struct cgiresp *tls_parser;
static _Thread_local char *tls_buf;

/* Log complete stderr lines (or the tail at EOF), up to the cap. */
static void
log_stderr(struct pump *s, int final)
{
	char *line = s->errbuf, *nl, *end = s->errbuf + s->errlen;
	const struct config *cfg = s->h->cfg;

	while (line < end) {
		nl = memchr(line, '\n', end - line);
		if (nl == NULL && !final && line > s->errbuf)
			break;
		if (nl == NULL && !final && s->errlen < 4096)
			break;
		if (nl == NULL)
			nl = end;
		if ((long long)s->errlogged < cfg->stderr_cap)
			log_msg(s->h->reqid, "stderr: %.*s", (int)(nl - line),
			    line);
		else if ((long long)s->errlogged - (nl - line) <
		    cfg->stderr_cap)
			log_msg(s->h->reqid, "stderr: (more output dropped, "
			    "limit %lld bytes)", (long long)cfg->stderr_cap);
		s->errlogged += (size_t)(nl - line) + 1;
		line = nl < end ? nl + 1 : end;
	}
	memmove(s->errbuf, line, end - line);
	s->errlen = (size_t)(end - line);
}

static int
read_stderr(struct pump *s)
{
	ssize_t n;

	n = read(s->c.err, s->errbuf + s->errlen, 4096 - s->errlen);
	if (n > 0) {
		s->errlen += (size_t)n;
		log_stderr(s, 0);
		return 0;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	log_stderr(s, 1);
	s->err_open = 0;
	return 0;
}

/* Local Location without Status: internal redirect or a 302. */
static int
local_redirect(struct pump *s)
{
	struct http_ctx *h = s->h;

	if (s->conf->internal_redirect && h->hops < 5) {
		snprintf(h->redirect, sizeof(h->redirect), "%s",
		    s->p->location);
		return 1;
	}
	s->p->status = 302;
	return 0;
}

/* Bytes from the child's stdout. */
static int
on_stdout(struct pump *s, const char *buf, size_t n)
{
	struct http_ctx *h = s->h;
	enum cgiresp_state st;
	size_t used;

	if (s->nph)
		return http_send_raw(h, buf, n);
	if (s->headers_done == 2)
		return 0;	/* internal redirect: body discarded */
	if (s->headers_done)
		return http_send_body(h, buf, n);
	st = cgiresp_feed(s->p, buf, n, &used);
	if (st == CGIRESP_MORE)
		return used < n ? on_stdout(s, buf + used, n - used) : 0;
	if (st == CGIRESP_ERROR) {
		s->fail = s->p->error;
		s->fail_status = 502;
		return -1;
	}
	if (s->p->status == 0 && local_redirect(s)) {
		s->headers_done = 2;
		return 0;
	}
	s->headers_done = 1;
	h->t.ttfb_us = 0;
	if (http_send_header(h, s->p, s->p->content_length) == -1 ||
	    http_send_body(h, s->p->buf + s->p->body_off,
	    s->p->len - s->p->body_off) == -1)
		return -1;
	return used < n ? http_send_body(h, buf + used, n - used) : 0;
}

/* Feed the request body; reads from the client block until data comes. */
static int
feed_stdin(struct pump *s)
{
	struct http_ctx *h = s->h;
	ssize_t n;
	int r;

	if (s->inlen == 0) {
		size_t want = sizeof(s->inbuf);

		if (s->body_left == 0) {
			close(s->c.in);
			s->c.in = -1;
			s->in_open = 0;
			return 0;
		}
		if (s->body_left > 0 && (long long)want > s->body_left)
			want = (size_t)s->body_left;
		r = mg_read(h->conn, s->inbuf, want);
		if (r < 0) {
			s->fail = "client went away while sending the body";
			h->client_gone = 1;
			return -1;
		}
		if (r == 0) {
			s->body_left = 0;
			return 0;
		}
		s->inoff = 0;
		s->inlen = (size_t)r;
		h->t.bytes_in += r;
		if (s->body_left > 0)
			s->body_left -= r;
		if (h->t.bytes_in > s->conf->max_body) {
			s->fail = "request body over max_body";
			s->fail_status = 413;
			return -1;
		}
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
	struct http_ctx *h = s->h;
	struct pollfd pfd[3];
	uint64_t now;
	ssize_t n;
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
			s->fail = "client went away";
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
		if (poll(pfd, (nfds_t)nfd, ms) == -1 && errno != EINTR)
			return -1;
		if (idx_in >= 0 && pfd[idx_in].revents & (POLLOUT | POLLERR))
			if (feed_stdin(s) == -1)
				return -1;
		if (idx_out >= 0 && pfd[idx_out].revents) {
			n = read(s->c.out, tls_buf, PIPE_CHUNK);
			if (n > 0) {
				if (on_stdout(s, tls_buf, (size_t)n) == -1) {
					if (s->fail == NULL)
						s->fail = "client went away";
					return -1;
				}
			} else if (n == 0 || (errno != EAGAIN &&
			    errno != EINTR))
				s->out_open = 0;
		}
		if (idx_err >= 0 && pfd[idx_err].revents)
			read_stderr(s);
		for (i = 0; i < nfd; i++)
			pfd[i].revents = 0;
	}
	return 0;
}

static void
fill_request(struct http_ctx *h, const struct route *rt, const char *abs,
    const char *path_info, struct cgi_request *r, struct cgi_header *hdr)
{
	const struct mg_request_info *ri = mg_get_request_info(h->conn);
	static _Thread_local char proto[16], root[PATH_MAX], host[256];
	static _Thread_local char uri[8192];
	const char *hv;
	int i;

	memset(r, 0, sizeof(*r));
	r->method = h->hops > 0 ? "GET" : ri->request_method;
	if (h->hops == 0 && ri->query_string != NULL)
		snprintf(uri, sizeof(uri), "%s?%s", ri->request_uri,
		    ri->query_string);
	else
		snprintf(uri, sizeof(uri), "%s", h->hops > 0 ? h->uri :
		    ri->request_uri);
	r->request_uri = uri;
	r->query = ri->query_string;
	if (h->hops > 0)
		r->query = strchr(h->uri, '?') ? strchr(h->uri, '?') + 1 : NULL;
	r->script_name = rt->name;
	r->path_info = path_info;
	r->script_filename = abs;
	if (realpath(h->cfg->www, root) == NULL)
		snprintf(root, sizeof(root), "%s", h->cfg->www);
	r->document_root = root;
	snprintf(host, sizeof(host), "%s", (hv = mg_get_header(h->conn,
	    "Host")) != NULL ? hv : "localhost");
	if (host[0] != '[' && strchr(host, ':') != NULL)
		*strchr(host, ':') = '\0';
	else if (host[0] == '[' && strstr(host, "]:") != NULL)
		strstr(host, "]:")[1] = '\0';
	r->server_name = host;
	r->server_port = ri->server_port;
	snprintf(proto, sizeof(proto), "HTTP/%s", ri->http_version);
	r->server_protocol = proto;
	r->remote_addr = ri->remote_addr;
	r->remote_port = ri->remote_port;
	r->remote_user = ri->remote_user;
	r->https = ri->is_ssl;
	r->content_length = h->hops > 0 ? -1 : ri->content_length;
	r->content_type = mg_get_header(h->conn, "Content-Type");
	for (i = 0; i < ri->num_headers; i++) {
		hdr[i].name = ri->http_headers[i].name;
		hdr[i].value = ri->http_headers[i].value;
	}
	r->headers = hdr;
	r->nheaders = ri->num_headers;
	r->path_env = h->cfg->path_env;
	r->extra_env = NULL;
	r->nextra = 0;
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
	struct http_ctx *h = s->h;
	const struct mg_request_info *ri = mg_get_request_info(h->conn);
	struct cgi_header hdr[64];
	struct cgi_request req;
	struct spawn_req sr;
	char *argv[2], cwd[PATH_MAX], *slash;
	char **envp;
	uint64_t t0, deadline;
	int rc, truncated = 0;

	fill_request(h, rt, abs, path_info, &req, hdr);
	req.extra_env = s->conf->env;
	req.nextra = s->conf->nenv;
	if ((envp = cgienv_build(&req)) == NULL)
		return http_error(h, 503, "out of memory", "Retry-After: 1\r\n");
	snprintf(cwd, sizeof(cwd), "%s", abs);
	if ((slash = strrchr(cwd, '/')) != NULL)
		*slash = '\0';
	argv[0] = (char *)(uintptr_t)abs;
	argv[1] = NULL;
	sr.path = abs;
	sr.argv = argv;
	sr.envp = envp;
	sr.cwd = cwd;
	sr.rlim = s->conf->rlim;

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
	s->out_open = s->err_open = s->in_open = 1;
	s->body_left = h->hops > 0 ? 0 : ri->content_length;
	if (s->body_left < 0 && mg_get_header(h->conn, "Transfer-Encoding"))
		s->body_left = -1;
	else if (s->body_left < 0)
		s->body_left = 0;
	deadline = h->start_us + (uint64_t)s->conf->timeout_us;

	rc = pump(s, deadline);
	if (rc == 0) {
		/* stdout closed: the exit status decides how the body ends. */
		if (spawn_wait(&s->c, deadline) == -1)
			rc = 1;
	}
	if (rc != 0 && !s->c.done)
		spawn_kill_group(&s->c, KILL_GRACE_US);
	else if (rc != 0)
		kill(-s->c.pid, SIGKILL);	/* leftovers of the group */
	record_exit(h, &s->c);
	if (s->err_open)
		log_stderr(s, 1);
	spawn_release(&s->c);

	if (rc == 1)
		return http_error(h, 504, "handler timed out; process group "
		    "killed", NULL);
	if (rc == -1) {
		if (h->client_gone) {
			snprintf(h->t.error, sizeof(h->t.error), "%s",
			    s->fail ? s->fail : "client went away");
			log_msg(h->reqid, "%s; handler killed", h->t.error);
			if (!h->sent_header)
				h->t.status = 499;
			http_finish(h, 1);
			return h->t.status;
		}
		return http_error(h, s->fail_status ? s->fail_status : 502,
		    s->fail ? s->fail : "pump failed", NULL);
	}
	if (h->t.signal > 0) {
		snprintf(h->t.error, sizeof(h->t.error), "killed by signal %d",
		    h->t.signal);
		if (h->sent_header) {
			log_msg(h->reqid, "handler %s; response cut short",
			    h->t.error);
			truncated = 1;
		}
	}
	if (s->headers_done == 2)
		return 0;	/* internal redirect */
	if (!s->nph && !s->headers_done) {
		cgiresp_eof(s->p);
		return http_error(h, 502, h->t.signal > 0 ? h->t.error :
		    s->p->error, NULL);
	}
	http_finish(h, truncated);
	return h->t.status ? h->t.status : 200;
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
	memset(s, 0, sizeof(*s));
	s->h = h;
	s->conf = conf;
	s->p = tls_parser;
	s->nph = rt->nph;
	cgiresp_init(s->p);
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
