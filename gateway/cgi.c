/*
 * cgi.c: one CGI request, from admission to the exit status.
 *
 * The order matters: limits that need no process are checked first (body
 * size 413, handler vetting 403/404, the route's concurrency slot 503),
 * then the handler is spawned (spawn.c) and one poll loop moves bytes:
 * the request body into the child's stdin, its stdout through the header
 * parser (cgiresp.c) to the client, its stderr to the log.  Nothing is
 * read from the child while a write to the client blocks, so a slow client
 * slows the handler instead of growing our memory.
 *
 * The request body.  Civetweb hides the client's socket and its mg_read
 * blocks until all the bytes asked for have come (for a chunked body,
 * until that many body bytes, across chunks), so the pump finds the socket
 * (conn_socket), polls it with the child's pipes and asks civetweb
 * only for what is already there: with Content-Length, the bytes waiting
 * in the socket (FIONREAD); chunked, a sixteenth of them, since framing
 * takes room (the smallest chunk, "1\r\nx\r\n", takes six bytes; only
 * chunk sizes padded with zeros take more, and then a read waits for more
 * of the client's bytes).  Body bytes civetweb read together with the
 * request head sit in its own buffer, which no call shows; while any may
 * be there, reads that find the socket empty ask for 1, 2, 4, ... bytes,
 * which civetweb copies from that buffer without waiting (a Content-Length
 * body's last byte, or a chunked body's last chunk, ends such a read
 * early, whatever it asked for).  The buffer is known empty once a read
 * took bytes from the socket (the kernel's count of bytes received less
 * those still queued moved, TCP_INFO) or once more bytes were read than
 * it holds.  What remains is one wait, at most once per request, that no
 * handler byte ends: while that buffer may hold body bytes and the socket
 * holds none (the client sent its head, perhaps part of its body, and
 * paused), the read that finds the buffer empty waits for the client's
 * next bytes.  Without the socket, each read blocks as civetweb's do.
 *
 * The body is read only while there is room to keep it, so a handler that
 * never reads its stdin is not fed, and its output still flows.  A client
 * that sends slowly costs the handler's output nothing: the loop waits on
 * both sides at once.
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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <unistd.h>

#include <civetweb.h>

#include "cgigate.h"

#define POLL_MAX_MS	250
#define KILL_GRACE_US	500000
#define BODY_BUF	65536
#define STDIN_PIPE	(1 << 20)
/* civetweb's request buffer (max_request_size, left at its default). */
#define HEAD_BUF	16384
/* Body bytes a chunked read may ask for, per byte waiting in the socket. */
#define CHUNK_SHARE	16

struct pump {
	struct relay		 r;
	struct child		 c;
	int			 out_open, err_open, in_open;
	int			 cfd;		/* client socket, -1: unknown */
	int			 chunked;
	int			 body_done;	/* relay_body said 0 */
	int			 head_bytes;	/* civetweb may hold body bytes */
	int			 client_ready;	/* poll saw the socket readable */
	size_t			 probe;		/* next read from its buffer */
	unsigned long long	 taken;		/* sock_taken, when taken_ok */
	int			 taken_ok;
	long long		 got;		/* body bytes read */
	char			 inbuf[BODY_BUF];
	size_t			 inoff, inlen;
	char			*iobuf;		/* CGI_IOBUF, for stdout */
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
		n = read(s->c.out, s->iobuf, CGI_IOBUF);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0) {
			s->out_open = 0;
			return 0;
		}
		if (relay_out(&s->r, s->iobuf, (size_t)n) == -1) {
			if (s->r.fail == NULL)
				s->r.fail = "client went away";
			return -1;
		}
	}
	return 0;
}

/*
 * Bytes civetweb has taken from the client's socket so far: those the
 * kernel received less those still queued, read twice over so that no
 * arrival falls between the two.  0, or -1 when the kernel does not say.
 */
static int
sock_taken(int fd, unsigned long long *taken)
{
	struct tcp_info ti;
	socklen_t len;
	unsigned long long rcvd;
	int i, queued;

	for (i = 0; i < 4; i++) {
		len = sizeof(ti);
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 ||
		    len < offsetof(struct tcp_info, tcpi_bytes_received) +
		    sizeof(ti.tcpi_bytes_received))
			return -1;
		rcvd = ti.tcpi_bytes_received;
		if (ioctl(fd, FIONREAD, &queued) == -1)
			return -1;
		len = sizeof(ti);
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
			return -1;
		if (ti.tcpi_bytes_received == rcvd) {
			*taken = rcvd - (unsigned long long)queued;
			return 0;
		}
	}
	return -1;
}

/*
 * How many body bytes to ask civetweb for now without waiting on the
 * client (see the design comment), 0 for none.  *probing says that the
 * answer is a probe of civetweb's own buffer.
 */
static size_t
body_want(struct pump *s, size_t room, int *probing)
{
	size_t k;
	int queued;

	*probing = 0;
	if (s->cfd < 0)
		return room;
	if (ioctl(s->cfd, FIONREAD, &queued) == -1)
		queued = 0;
	if (queued > 0)
		k = s->chunked ? (size_t)queued / CHUNK_SHARE : (size_t)queued;
	else if (s->head_bytes) {
		k = s->probe;
		*probing = 1;
	} else if (s->client_ready)
		k = room;	/* EOF or an error: civetweb says which */
	else
		return 0;
	if (k == 0)
		k = 1;
	return k < room ? k : room;
}

/*
 * Read what the client has sent into inbuf, as long as there is room and
 * no read would wait.  0, or -1 when the client went away or max_body was
 * passed (s->r says which).
 */
static int
read_body(struct pump *s)
{
	unsigned long long t0, t1 = 0;
	size_t room, k;
	ssize_t n;
	int probing, known;

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
		/* A Content-Length body all read: relay_body says 0 at once. */
		if (s->r.body_left == 0) {
			k = room;
			probing = 0;
		} else if ((k = body_want(s, room, &probing)) == 0)
			break;
		/* Only civetweb's reads move it: the last count holds. */
		known = s->head_bytes && (s->taken_ok ||
		    sock_taken(s->cfd, &s->taken) == 0);
		t0 = s->taken;
		n = relay_body(&s->r, s->inbuf + s->inoff + s->inlen, k);
		s->client_ready = 0;
		if (n < 0)
			return -1;
		if (n == 0) {
			s->body_done = 1;
			break;
		}
		s->inlen += (size_t)n;
		s->got += n;
		/* Chunked, civetweb stops short only at the last chunk. */
		if (s->chunked && (size_t)n < k)
			s->body_done = 1;
		if (s->head_bytes) {
			if (probing && s->probe < sizeof(s->inbuf))
				s->probe *= 2;
			/* Bytes from the socket: civetweb's buffer is empty. */
			s->taken_ok = known && sock_taken(s->cfd, &t1) == 0;
			if ((known && (!s->taken_ok || t1 != t0)) ||
			    s->got >= HEAD_BUF)
				s->head_bytes = 0;
			s->taken = t1;
		}
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
static int
pump(struct pump *s, uint64_t deadline)
{
	struct http_ctx *h = s->r.h;
	struct pollfd pfd[4];
	uint64_t now;
	int i, nfd, ms, idx_in, idx_out, idx_err, idx_cl;

	while (s->out_open || s->err_open) {
		now = clk_now_us();
		if (http_draining() && http_drain_deadline() < deadline)
			deadline = http_drain_deadline();
		if (now >= deadline)
			return 1;
		if (s->in_open) {
			if (read_body(s) == -1)
				return -1;
			write_stdin(s);
		}
		if (http_flush(h) == -1) {
			s->r.fail = "client went away";
			h->client_gone = 1;
			return -1;
		}
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
		/* Without the socket, reading the body is what waits. */
		if (s->in_open && !s->body_done && s->cfd < 0 &&
		    s->inoff + s->inlen < sizeof(s->inbuf))
			ms = 0;
		i = poll(pfd, (nfds_t)nfd, ms);
		if (i == -1 && errno != EINTR)
			return -1;
		if (i == 0 && !s->in_open && conn_closed(h)) {
			s->r.fail = "client went away";
			return -1;
		}
		if (idx_cl >= 0 && pfd[idx_cl].revents)
			s->client_ready = 1;
		if (idx_in >= 0 && pfd[idx_in].revents)
			write_stdin(s);
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

	t0 = clk_now_us();
	rc = spawn_child(&sr, &s->c);
	free(envp);
	h->t.spawn_us = (long long)(clk_now_us() - t0);
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
	s->chunked = s->r.body_left < 0;
	s->body_done = s->client_ready = 0;
	s->head_bytes = 1;
	s->probe = 1;
	s->got = 0;
	s->taken_ok = 0;
	s->cfd = s->in_open ? conn_socket(h) : -1;
	/* A large body crosses in fewer, larger steps (best effort). */
	if (s->in_open && (s->r.body_left < 0 || s->r.body_left > BODY_BUF))
		(void)fcntl(s->c.in, F_SETPIPE_SZ, STDIN_PIPE);
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
	if (rc != 0) {
		/*
		 * What is left of the group goes too, killed at the reap
		 * while the leader's id still pins the group (spawn.c).
		 */
		s->c.kill_rest = 1;
		if (!spawn_reap(&s->c))
			spawn_kill_group(&s->c, KILL_GRACE_US);
	}
	record_exit(h, &s->c);
	relay_err_end(&s->r);
	spawn_release(&s->c);

	if (rc == 1 && http_draining() && clk_now_us() >= http_drain_deadline())
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
	struct cgiresp *p;
	char *io;
	int st, ok;

	if (h->hops == 0 && ri->content_length > conf->max_body) {
		h->keep_alive = 0;
		return http_error(h, 413, "declared body over max_body", NULL);
	}
	if ((st = scan_resolve(rt->file, abs, &why)) != 0)
		return http_error(h, st, why, NULL);
	if ((slot = admit_enter(rt->name, conf->max_concurrency,
	    conf->max_queue_wait_us)) == NULL) {
		h->t.queue_us = (long long)(clk_now_us() - h->start_us);
		return http_error(h, 503, http_draining() ? "shutting down" :
		    "route at max_concurrency past max_queue_wait",
		    "Retry-After: 1\r\n");
	}
	h->t.queue_us = (long long)(clk_now_us() - h->start_us);
	/*
	 * The request's state (civetweb's worker stacks are small) is lent
	 * while it holds its slot, so what is lent is bounded by the
	 * routes' concurrency; an internal redirect takes it afresh.
	 */
	s = bufpool_get(BUF_CGI_PUMP);
	p = bufpool_get(BUF_CGIRESP);
	io = bufpool_get(BUF_CGI_IO);
	if ((ok = s != NULL && p != NULL && io != NULL)) {
		s->inoff = s->inlen = 0;
		s->iobuf = io;
		cgiresp_init(p);
		relay_init(&s->r, h, conf, p, rt->nph);
		st = run(s, rt, abs, path_info);
	}
	bufpool_put(BUF_CGI_IO, io);
	bufpool_put(BUF_CGIRESP, p);
	bufpool_put(BUF_CGI_PUMP, s);
	admit_leave(slot);
	if (!ok)
		return http_error(h, 503, "out of memory", "Retry-After: 1\r\n");
	return st;
}
