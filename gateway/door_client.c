/*
 * door_client.c: the front door's side toward the client (door.c says
 * what the door is and why): a request head read and vetted, rewritten
 * for civetweb, a request body read before its request goes on where
 * the route asks for it, and the door's own answers, each followed by a
 * lingering close.
 *
 * A head is looked for in what has come at every read, up to
 * DOOR_HEAD_MAX.  Once whole, it is split and vetted by reqhead.c and
 * civetweb gets the door's reading of it, written out afresh
 * (rewrite_head), so that the two cannot frame one request two ways.
 * Where the request's route has request_buffering, its body is read
 * here, its end found by framing.c, into memory while head and body fit
 * in DOOR_HEAD_MAX, then into an unlinked temporary file, and only then
 * is the request queued (door_relay.c): a slow upload holds none of
 * civetweb's threads and no route slot.  The door then answers an
 * Expect: 100-continue itself and refuses a body over max_body with
 * 413.  Otherwise the request is queued as soon as its head is whole
 * and the body streams through the relay, which reads it with
 * door_read_in and door_body_in_memory.
 *
 * Each refusal, expiry and early close is logged and written to the
 * timings database as a row of mode "http" (door_row), and to the
 * access log.  Everything here
 * runs on the door's one thread: no locks, and the static buffers of
 * wants_spool, rewrite_head and head_done are that thread's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sys/epoll.h>
#include <sys/socket.h>

#include "cgigate.h"
#include "door_int.h"

/* Input */

/*
 * Room for need more input bytes at inlen, moving what is left of the
 * input to the front first.  -1 past DOOR_IN_MAX or on ENOMEM.
 */
static int
in_room(struct dconn *c, size_t need)
{
	size_t cap;
	char *p;

	if (c->ioff > 0 && c->inlen + need > c->incap) {
		memmove(c->in, c->in + c->ioff, c->inlen - c->ioff);
		c->inlen -= c->ioff;
		c->reqend -= c->reqend >= c->ioff ? c->ioff : c->reqend;
		c->ioff = 0;
	}
	if (c->inlen + need <= c->incap)
		return 0;
	if (c->inlen + need > DOOR_IN_MAX)
		return -1;
	for (cap = c->incap ? c->incap : 1024; cap < c->inlen + need; cap *= 2)
		;
	if (cap > DOOR_IN_MAX)
		cap = DOOR_IN_MAX;
	if ((p = realloc(c->in, cap)) == NULL)
		return -1;
	c->in = p;
	c->incap = cap;
	return 0;
}

void
door_in_free(struct dconn *c)
{
	free(c->in);
	c->in = NULL;
	c->inlen = c->incap = c->ioff = c->reqend = 0;
}

/* Rows, answers and lines */

/* What the door still knows of a request it ends. */
struct ended {
	int		 known;		/* rl and the fields below are set */
	struct reqline	 rl;
	const char	*host, *agent, *referer;	/* first of each, or NULL */
};

/*
 * Read the request line and fields of the request c ends again from its
 * head, while that is whole and still where it was read, before it went
 * on to civetweb (D_HEAD with headlen set, D_SPOOL, D_QUEUE); otherwise
 * e->known is 0.  The door's thread only: e points into copy, its own,
 * until the next call.
 */
static void
reread(struct dconn *c, struct ended *e)
{
	static char copy[DOOR_HEAD_MAX];
	struct cgi_header f[DOOR_FIELDS];
	unsigned char spaced[DOOR_FIELDS];
	enum reqhead_end end;
	int nf, i;

	memset(e, 0, sizeof(*e));
	if (c->headlen == 0 || c->headlen > sizeof(copy) ||
	    c->ioff + c->headlen > c->inlen || (c->st != D_HEAD &&
	    c->st != D_SPOOL && c->st != D_QUEUE))
		return;
	memcpy(copy, c->in + c->ioff, c->headlen);
	if (reqhead_split(copy, c->headlen, &e->rl, f, DOOR_FIELDS, &nf,
	    spaced, &end) != 0)
		return;
	e->known = 1;
	for (i = 0; i < nf; i++)
		if (e->host == NULL && strcasecmp(f[i].name, "Host") == 0)
			e->host = f[i].value;
		else if (e->referer == NULL &&
		    strcasecmp(f[i].name, "Referer") == 0)
			e->referer = f[i].value;
		else if (e->agent == NULL &&
		    strcasecmp(f[i].name, "User-Agent") == 0)
			e->agent = f[i].value;
}

/*
 * The access log's line of a request the door ends: its request line
 * and fields as reread found them, or "-" for them.
 */
static void
door_alog(struct dconn *c, const struct ended *e, int status,
    long long bytes)
{
	struct alog_line l;
	char proto[24];
	uint64_t now = clk_now_us();

	if (status == 0 || !alog_enabled())
		return;
	memset(&l, 0, sizeof(l));
	l.addr = c->addr;
	l.when = time(NULL);
	if (c->t0 != 0 && now > c->t0)
		l.when -= (time_t)((now - c->t0) / 1000000);
	l.status = status;
	l.bytes = bytes;
	if (e->known) {
		l.method = e->rl.method;
		l.target = e->rl.target;	/* its query included */
		snprintf(proto, sizeof(proto), "HTTP/%s", e->rl.version);
		l.proto = proto;
		l.referer = e->referer;
		l.agent = e->agent;
	}
	alog_write(&l);
}

/*
 * Who sent it, into its row: the address the door had it from (the
 * door believes no X-Forwarded-For, cgigate.conf(5)), and what reread
 * found.
 */
static void
door_who(struct dconn *c, const struct ended *e, struct timing *t)
{
	const char *v[WHO_N] = { NULL }, *q;

	v[WHO_CLIENT] = c->addr[0] != '\0' ? c->addr : NULL;
	if (e->known) {
		v[WHO_HOST] = e->host;
		if ((q = strchr(e->rl.target, '?')) != NULL)
			v[WHO_QUERY] = q + 1;
		v[WHO_AGENT] = e->agent;
		v[WHO_REFERER] = e->referer;
	}
	timing_set_who(t, v);
}

/*
 * The row, the log line and the access log's line; out: the bytes of
 * the answer, bytes: its body's.
 */
static void
row(struct dconn *c, int status, const char *why, long long out,
    long long bytes)
{
	struct timing t;
	struct ended e;
	char id[24];

	http_reqid(id, sizeof(id));
	log_at(log_status_level(status), id, "%s port %d%s%s%s%s -> %d: %s",
	    c->addr, c->port, c->method[0] ? ": " : "", c->method,
	    c->method[0] ? " " : "", c->path, status, why);
	memset(&t, 0, sizeof(t));
	t.ts = clk_wall();
	t.exit_status = -1;
	t.connect_us = -1;
	t.status = status;
	t.total_us = c->t0 ? (long long)(clk_now_us() - c->t0) : 0;
	t.bytes_out = out;
	t.bytes_in = (long long)(c->inlen - c->ioff) + c->slen;
	snprintf(t.request_id, sizeof(t.request_id), "%s", id);
	snprintf(t.mode, sizeof(t.mode), "http");
	snprintf(t.route, sizeof(t.route), "%s", c->route);
	snprintf(t.method, sizeof(t.method), "%s", c->method);
	snprintf(t.path, sizeof(t.path), "%s", c->path);
	snprintf(t.error, sizeof(t.error), "%s", why);
	reread(c, &e);
	door_who(c, &e, &t);
	timelog_push(&t);
	if (status != 0)
		stats_leave(&t, -1);	/* 0: nothing was asked */
	door_alog(c, &e, status, bytes);
}

void
door_row(struct dconn *c, int status, const char *why)
{
	row(c, status, why, 0, 0);
}

/* Close after what was written, reading what still comes until EOF. */
void
door_linger(struct dconn *c)
{
	door_detach(c);
	door_set_state(c, D_LINGER);
	shutdown(c->fd, SHUT_WR);
	door_in_free(c);
	c->deadline = clk_now_us() + DOOR_LINGER_US;
	door_ep_set(c, c->fd, EPOLLIN | EPOLLRDHUP);
}

/* Answer with status and close. */
void
door_answer(struct dconn *c, int status, const char *why, const char *extra)
{
	const char *text = httpout_reason(status);
	char buf[512];
	ssize_t w;
	int n;

	n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\nServer: "
	    CGIGATE_NAME "\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "%sContent-Length: %zu\r\nConnection: close\r\n\r\n%d %s\n",
	    status, text, extra ? extra : "", strlen(text) + 5, status, text);
	/*
	 * Only ever before any response byte went out on this connection
	 * for this request, so the socket's buffer has room: one write.
	 */
	w = write(c->fd, buf, (size_t)n);
	row(c, status, why, w > 0 ? w : 0, w == n ? (long long)strlen(text) +
	    5 : 0);
	if (w != n) {
		door_drop(c);
		return;
	}
	door_linger(c);
}

/* Request heads */

/* The path of a request target, for the route, into out. */
static void
target_path(const char *t, char *out, size_t len)
{
	const char *s = t, *e;

	if (strncasecmp(s, "http://", 7) == 0 ||
	    strncasecmp(s, "https://", 8) == 0) {
		s = strchr(s + 8, '/');
		if (s == NULL)
			s = "/";
	}
	e = s + strcspn(s, "?#");
	snprintf(out, len, "%.*s", (int)(e - s), s);
}

/*
 * Does the request's route want its body read before it goes on?  Sets
 * c->max_body.  Paths that are no handler route stream: civetweb answers
 * them without reading much.
 */
static int
wants_spool(struct dconn *c, const char *target, const struct config *cfg)
{
	static char raw[4096], clean[4096], name[ROUTE_NAME_MAX],
	    file[4096];
	const char *why, *pi = "";
	struct route_pick pk;
	struct route rt;
	int found;

	c->max_body = -1;
	if (target[0] != '/' && strncasecmp(target, "http", 4) != 0)
		return 0;
	target_path(target, raw, sizeof(raw));
	if (route_clean_path(raw, clean, sizeof(clean), &why) == -1)
		return 0;
	found = scan_lookup(clean, &rt, name, file, &pi) == 0;
	route_pick(cfg, clean, found ? &rt : NULL, pi, &pk);
	if (pk.kind == PICK_NONE)
		return 0;
	snprintf(c->route, sizeof(c->route), "%s", pk.name);
	c->max_body = pk.conf->max_body;
	return pk.conf->request_buffering;
}

/*
 * Put the head civetweb gets in place of the one the client sent: the
 * fields as the door read them, one per line with CRLF, so that the two
 * cannot read it differently; an absolute-form target in origin form with
 * its authority as the Host (RFC 9112 3.2.2); without the Expect the door
 * answered itself.  0, or -1 when it does not fit.
 */
static int
rewrite_head(struct dconn *c, const struct reqline *rl,
    const struct cgi_header *f, int nf, int no_expect)
{
	static char h[DOOR_HEAD_MAX + 1024];
	const char *target = rl->target, *auth = NULL;
	size_t n, alen = 0, k;
	int i;

	if (strncasecmp(target, "http://", 7) == 0 ||
	    strncasecmp(target, "https://", 8) == 0) {
		auth = strchr(target, '/') + 2;
		alen = strcspn(auth, "/?#");
		target = auth + alen;
		if (*target != '/') {
			target = "/";	/* "http://host" or "http://host?q" */
		}
	}
	n = (size_t)snprintf(h, sizeof(h), "%s %s HTTP/%s\r\n", rl->method,
	    target, rl->version);
	if (auth != NULL && n < sizeof(h))
		n += (size_t)snprintf(h + n, sizeof(h) - n, "Host: %.*s\r\n",
		    (int)alen, auth);
	for (i = 0; i < nf && n < sizeof(h); i++) {
		if ((auth != NULL && strcasecmp(f[i].name, "Host") == 0) ||
		    (no_expect && strcasecmp(f[i].name, "Expect") == 0))
			continue;
		n += (size_t)snprintf(h + n, sizeof(h) - n, "%s: %s\r\n",
		    f[i].name, f[i].value);
	}
	if (n + 2 >= sizeof(h) || n + 2 >= DOOR_HEAD_MAX)
		return -1;
	memcpy(h + n, "\r\n", 2);
	n += 2;
	if (n > c->headlen && in_room(c, n - c->headlen) == -1)
		return -1;
	k = c->inlen - c->ioff - c->headlen;	/* what follows the head */
	memmove(c->in + c->ioff + n, c->in + c->ioff + c->headlen, k);
	memcpy(c->in + c->ioff, h, n);
	c->inlen = c->ioff + n + k;
	c->headlen = n;
	return 0;
}

/*
 * The head at ioff (headlen bytes) is whole: vet it and decide what
 * happens to the body.  0 to go on, -1 when answered.
 */
static int
head_done(struct dconn *c, const struct config *cfg)
{
	static char copy[DOOR_HEAD_MAX];
	struct cgi_header f[DOOR_FIELDS];
	unsigned char spaced[DOOR_FIELDS];
	struct reqhead_info ri;
	struct reqline rl;
	enum reqhead_end end;
	char *p;
	int nf, st;

	memcpy(copy, c->in + c->ioff, c->headlen);
	framing_init(&c->body, FRAMING_NONE, 0);
	c->head_req = c->spooled = 0;
	c->max_body = -1;
	if (reqhead_split(copy, c->headlen, &rl, f, DOOR_FIELDS, &nf, spaced,
	    &end) != 0) {
		/*
		 * No request line (or a NUL in the head).  Answered here:
		 * civetweb would echo the line's last word as the version
		 * of its status line.
		 */
		atomic_fetch_add(&door.n_bad, 1);
		door_answer(c, 400, "malformed request line", NULL);
		return -1;
	}
	snprintf(c->method, sizeof(c->method), "%s", rl.method);
	target_path(rl.target, c->path, sizeof(c->path));
	c->head_req = strcmp(rl.method, "HEAD") == 0;
	if ((st = reqhead_vet(rl.version, f, nf, spaced, end, &ri)) != 0) {
		atomic_fetch_add(&door.n_bad, 1);
		door_answer(c, st, ri.why, NULL);
		return -1;
	}
	/*
	 * A tab inside a field value is allowed (RFC 9110 5.5) but civetweb
	 * refuses it; a space says the same.  The head goes on as
	 * rewrite_head writes it from these fields.
	 */
	for (p = copy; (p = memchr(p, '\t', (size_t)(copy + c->headlen -
	    p))) != NULL; p++)
		*p = ' ';
	if (ri.chunked)
		framing_init(&c->body, FRAMING_CHUNKED, 0);
	else if (ri.content_length > 0)
		framing_init(&c->body, FRAMING_SIZED, ri.content_length);
	c->spooled = !c->body.done && wants_spool(c, rl.target, cfg);
	if (c->spooled && c->max_body >= 0 &&
	    ri.content_length > c->max_body) {
		door_answer(c, 413, "request body over max_body", NULL);
		return -1;
	}
	if (rewrite_head(c, &rl, f, nf, c->spooled && ri.expect_continue) ==
	    -1) {
		door_answer(c, 431, "request head too large", NULL);
		return -1;
	}
	/* The door reads the body, so it answers the expectation. */
	if (c->spooled && ri.expect_continue) {
		static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";

		if (write(c->fd, line, sizeof(line) - 1) !=
		    (ssize_t)sizeof(line) - 1) {
			door_drop(c);
			return -1;
		}
	}
	return 0;
}

/* The body's chunked framing is malformed. */
static void
bad_body(struct dconn *c)
{
	char why[128];

	atomic_fetch_add(&door.n_bad, 1);
	snprintf(why, sizeof(why), "malformed chunked request body (%s)",
	    c->body.error);
	door_answer(c, 400, why, NULL);
}

/* Body bytes in c->in after reqend: take what belongs to the body. */
void
door_body_in_memory(struct dconn *c)
{
	if (c->body.done || c->body.error != NULL)
		return;
	c->reqend += framing_feed(&c->body, c->in + c->reqend,
	    c->inlen - c->reqend);
}

/* Is there a whole head at ioff?  Go on with it if so. */
/*
 * A trusted proxy's PROXY header, before the first request: the client it
 * names becomes the connection's, for everything after (proxyproto.c).
 * 0 when it has been read, 1 while more of it must come, -1 when the
 * connection got its answer.
 */
static int
proxy_header(struct dconn *c, const struct config *cfg)
{
	struct proxy_src src;
	const char *why;
	int n;

	n = proxy_parse(c->in + c->ioff, c->inlen - c->ioff, &src, &why);
	if (n == 0 && !c->client_eof)
		return 1;
	if (n <= 0) {
		atomic_fetch_add(&door.n_bad, 1);
		door_answer(c, 400, n == 0 ? "client closed in the middle of "
		    "a PROXY protocol header" : why, NULL);
		return -1;
	}
	c->ioff += (size_t)n;
	c->proxy = 0;
	if (src.family != AF_UNSPEC) {
		snprintf(c->addr, sizeof(c->addr), "%s", src.addr);
		c->port = src.port;
	}
	return door_count_client(c, cfg);
}

void
door_try_head(struct dconn *c)
{
	const struct config *cfg = atomic_load(&door.cfg);
	char *s, *e = NULL, *p;
	size_t n;

	if (c->proxy && proxy_header(c, cfg) != 0)
		return;
	/* RFC 9112 2.2: empty lines before a request line are ignored. */
	while (c->ioff < c->inlen && (c->in[c->ioff] == '\r' ||
	    c->in[c->ioff] == '\n'))
		c->ioff++;
	s = c->in + c->ioff;
	n = c->inlen - c->ioff;
	for (p = s; n > 0 && (p = memchr(p, '\n', (size_t)(s + n - p))) !=
	    NULL; p++) {
		if (p + 1 < s + n && p[1] == '\n') {
			e = p + 2;
			break;
		}
		if (p + 2 < s + n && p[1] == '\r' && p[2] == '\n') {
			e = p + 3;
			break;
		}
	}
	if ((e == NULL && n >= DOOR_HEAD_MAX) ||
	    (e != NULL && (size_t)(e - s) >= DOOR_HEAD_MAX)) {
		atomic_fetch_add(&door.n_bad, 1);
		door_answer(c, 431, "request head larger than 16 KB", NULL);
		return;
	}
	if (e == NULL) {
		if (c->client_eof) {
			door_row(c, 400, "client closed in the middle of a "
			    "request head");
			door_drop(c);
		}
		return;
	}
	c->headlen = (size_t)(e - s);
	if (head_done(c, cfg) == -1)
		return;
	c->reqend = c->ioff + c->headlen;
	door_body_in_memory(c);
	if (c->body.error != NULL) {
		bad_body(c);
		return;
	}
	if (c->spooled && !c->body.done) {
		if (c->client_eof) {
			door_row(c, 499, "client went away while sending the "
			    "body");
			door_drop(c);
			return;
		}
		door_unpark_close(c);	/* no thread held while it comes */
		door_set_state(c, D_SPOOL);
		atomic_fetch_add(&door.n_spooled, 1);
		c->deadline = clk_now_us() + (uint64_t)cfg->body_timeout_us;
		return;
	}
	door_enqueue(c);
}

/* Read what the client sent, up to want bytes.  0, or -1: it is gone. */
int
door_read_in(struct dconn *c, size_t want)
{
	ssize_t n;

	if (c->inlen - c->ioff + want > DOOR_IN_MAX)
		want = DOOR_IN_MAX - (c->inlen - c->ioff);
	if (want == 0)
		return 0;	/* full: read later */
	if (in_room(c, want) == -1)
		return -1;
	n = read(c->fd, c->in + c->inlen, want);
	if (n > 0)
		c->inlen += (size_t)n;
	else if (n == 0)
		c->client_eof = 1;
	else if (errno != EAGAIN && errno != EINTR)
		return -1;
	return 0;
}

void
door_on_head(struct dconn *c)
{
	const struct config *cfg = atomic_load(&door.cfg);
	size_t before = c->inlen - c->ioff;

	if (door_read_in(c, 4096) == -1) {
		door_drop(c);
		return;
	}
	if (before == 0 && c->inlen > c->ioff) {
		door_set_idle(c, 0);
		c->t0 = clk_now_us();
		c->deadline = c->t0 + (uint64_t)cfg->header_timeout_us;
	}
	if (c->inlen > c->ioff)
		door_try_head(c);
	else if (c->client_eof)
		door_drop(c);	/* closed between requests: all is well */
}

/* Request bodies */

/* A spool file, unlinked from the start. */
static int
spool_open(void)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) == -1)
		log_err(NULL, "door: spool file in %s: %s", dir,
		    strerror(errno));
	return fd;
}

/* Body bytes into memory while they fit beside the head, then a file. */
void
door_on_spool(struct dconn *c)
{
	const struct config *cfg = atomic_load(&door.cfg);
	size_t room = DOOR_IN_MAX - (c->inlen - c->ioff), k;
	ssize_t n;

	if (room > sizeof(door.scratch))
		room = sizeof(door.scratch);
	n = room == 0 ? 0 : read(c->fd, door.scratch, room);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		door_row(c, 499, "client went away while sending the body");
		door_drop(c);
		return;
	}
	c->deadline = clk_now_us() + (uint64_t)cfg->body_timeout_us;
	k = framing_feed(&c->body, door.scratch, (size_t)n);
	if (c->body.error != NULL) {
		bad_body(c);
		return;
	}
	if (c->max_body >= 0 && c->body.data > c->max_body) {
		door_answer(c, 413, "request body over max_body", NULL);
		return;
	}
	if (c->sfd < 0 && c->inlen + k <= c->ioff + DOOR_HEAD_MAX) {
		if (in_room(c, k) == -1) {
			door_answer(c, 503, "out of memory", "Retry-After: 1\r\n");
			return;
		}
		memcpy(c->in + c->inlen, door.scratch, k);
		c->inlen += k;
		c->reqend += k;
	} else if (k > 0) {
		if (c->sfd < 0 && (c->sfd = spool_open()) == -1) {
			door_answer(c, 503, "cannot spool the request body",
			    "Retry-After: 1\r\n");
			return;
		}
		if (write(c->sfd, door.scratch, k) != (ssize_t)k) {
			log_err(NULL, "door: spool file: %s", strerror(errno));
			door_answer(c, 503, "cannot spool the request body",
			    "Retry-After: 1\r\n");
			return;
		}
		c->slen += (long long)k;
	}
	if ((size_t)n > k) {
		/* the next request, sent early: room was kept for it */
		if (in_room(c, (size_t)n - k) == -1) {
			door_drop(c);
			return;
		}
		memcpy(c->in + c->inlen, door.scratch + k, (size_t)n - k);
		c->inlen += (size_t)n - k;
	}
	if (c->body.done)
		door_enqueue(c);
}
