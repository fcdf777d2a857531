/*
 * http.c: the civetweb glue: every request in, every byte out.
 *
 * One request handler sees every request.  It vets the raw path (civetweb
 * runs with decode_url=no so that %2f and %00 are still visible), decides
 * once what answers it (route_pick: a CGI handler, a FastCGI pool, remote
 * backends, /_gateway/ or a static file), makes the checks that need no
 * process (declared body over max_body, the handler file may run, the
 * script under document_root), and hands the request to a transport
 * (cgi_run, fastcgi_run) as a struct xreq.  The transport moves bytes
 * through the exch_ calls below and says how it ended in a struct
 * xresult, which answer.c alone turns into a status, a log line and
 * the timing row.  Anything that is no route goes back to civetweb, which
 * serves it from the www directory; end_request writes its row.
 *
 * A handler's output goes through relay.c (the CGI header block, nph-,
 * local redirects, stderr lines) into httpout.c (the HTTP framing), both
 * driven by answer.c; the bytes are gathered in a buffer and written when it fills or when the
 * transport is about to wait, so a small response is one send().  The
 * buffer, the request's state and the relay are lent by bufpool.c for
 * the request only: the state from the start of handle() to its end, the
 * relay and buffer from the handler's first byte (a request waiting for
 * a slot holds none).  Without a buffer, output goes straight out.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include <civetweb.h>

#include "http_int.h"

#define OUTBUF		HTTP_OUTBUF
#define RETRY		"Retry-After: 1\r\n"
/* A failed body read that took this long waited on the client. */
#define SLOW_READ_US	1000000
#define MAX_HOPS	5	/* internal redirects a request may take */

const size_t http_ctx_size = sizeof(struct exchange);

static struct mg_context *ctx;
static int internal_port;	/* civetweb's, on 127.0.0.1 */
static atomic_int inflight;		/* between begin and end_request */
static atomic_int draining;
static atomic_ullong drain_deadline;
static atomic_ullong reqseq;

static pthread_mutex_t www_lock = PTHREAD_MUTEX_INITIALIZER;
static char www_real[PATH_MAX];
static atomic_int www_done;

static _Thread_local struct {
	uint64_t	 start;
	time_t		 wall;		/* the start, for the access log */
	int		 answered;
	int		 in_request;	/* between begin_ and end_request */
	char		 reqid[24];
	char		 peer[64];	/* the client, from door_peer */
	int		 peer_port, server_port;
	unsigned long long xseq;	/* the door's exchange */
	int		 dslot;		/* and its slot */
} tls;

int
http_draining(void)
{
	return atomic_load(&draining);
}

static atomic_int health_failed;

void
http_fail_health(void)
{
	atomic_store(&health_failed, 1);
}

int
http_healthy(void)
{
	return !atomic_load(&draining) && !atomic_load(&health_failed);
}

uint64_t
http_drain_deadline(void)
{
	return atomic_load(&drain_deadline);
}

void
http_reqid(char *buf, size_t len)
{
	snprintf(buf, len, "r%llu",
	    (unsigned long long)atomic_fetch_add(&reqseq, 1) + 1);
}

/*
 * The www directory as DOCUMENT_ROOT: resolved by the first request, it
 * does not move (www is bound at start).
 */
static const char *
www_root(const struct config *c)
{
	if (atomic_load(&www_done))
		return www_real;
	pthread_mutex_lock(&www_lock);
	if (!atomic_load(&www_done)) {
		if (realpath(c->www, www_real) == NULL)
			snprintf(www_real, sizeof(www_real), "%s", c->www);
		atomic_store(&www_done, 1);
	}
	pthread_mutex_unlock(&www_lock);
	return www_real;
}

const char *
http_query(struct exchange *x)
{
	return mg_get_request_info(x->conn)->query_string;
}

int
http_query_var(struct exchange *x, const char *name, char *buf, size_t len)
{
	const char *q = http_query(x);

	if (q == NULL)
		return -1;
	return mg_get_var(q, strlen(q), name, buf, len);
}

/* Output */

/* Write n bytes to the client now. */
static int
send_now(struct exchange *x, const char *buf, size_t n)
{
	if (x->t.ttfb_us == 0)
		x->t.ttfb_us = (long long)(clk_now_us() - x->start_us);
	if (mg_write(x->conn, buf, n) != (int)n) {
		x->client_gone = 1;
		return -1;
	}
	x->t.bytes_out += (long long)n;
	return 0;
}

int
exch_flush(struct exchange *x)
{
	size_t n = x->outlen;

	if (x->client_gone)
		return -1;
	if (n == 0)
		return 0;
	x->outlen = 0;
	return send_now(x, x->out, n);
}

/*
 * httpout.c's writer: append to the output buffer, sending it each time
 * it fills, so that a large body leaves in full OUTBUF sends.
 */
static int
gather(void *arg, const char *buf, size_t n)
{
	struct exchange *x = arg;
	size_t k;

	if (x->client_gone)
		return -1;
	if (x->out == NULL && (x->out = bufpool_get(BUF_HTTP_OUT)) == NULL)
		return send_now(x, buf, n);	/* ENOMEM: unbuffered */
	while (n > 0) {
		if (x->outlen == OUTBUF && exch_flush(x) == -1)
			return -1;
		k = OUTBUF - x->outlen < n ? OUTBUF - x->outlen : n;
		memcpy(x->out + x->outlen, buf, k);
		x->outlen += k;
		buf += k;
		n -= k;
	}
	return 0;
}

int
exch_client_fd(struct exchange *x)
{
	return conn_fd(x->conn, &x->body);
}

int
exch_client_closed(struct exchange *x)
{
	if (!conn_closed(x->conn, &x->body))
		return 0;
	x->client_gone = 1;
	return 1;
}

/*
 * The interim 100 Continue that an "Expect: 100-continue" asked for, once,
 * as the body is about to be read, unless the answer has already begun
 * (RFC 9110 10.1.1).  0, or -1 when the client is gone.
 */
static int
send_continue(struct exchange *x)
{
	static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (!x->expect_continue)
		return 0;
	x->expect_continue = 0;
	if (x->o.status != 0 || x->outlen > 0)
		return 0;	/* the final answer is on its way */
	if (mg_write(x->conn, line, sizeof(line) - 1) !=
	    (int)sizeof(line) - 1) {
		x->client_gone = 1;
		return -1;
	}
	return 0;
}

static ssize_t
body_fail(struct exchange *x, const char *why, int status)
{
	x->body_fail = why;
	x->body_status = status;
	errno = EPROTO;		/* not EAGAIN: this is final */
	if (status != 0)
		x->o.keep_alive = 0;	/* what follows cannot be trusted */
	return -1;
}

ssize_t
exch_body(struct exchange *x, char *buf, size_t len, enum exch_wait w)
{
	const struct mg_request_info *ri = mg_get_request_info(x->conn);
	uint64_t t0;
	int n;

	if (x->body_left == 0)
		return 0;
	if (x->body_left > 0 && (long long)len > x->body_left)
		len = (size_t)x->body_left;
	if (send_continue(x) == -1)
		return body_fail(x, "client went away before sending the "
		    "body", 0);
	t0 = clk_now_us();
	n = conn_read_body(x->conn, &x->body, buf, len, (int)w);
	if (n == -2) {
		errno = EAGAIN;
		return -1;
	}
	if (n <= 0 && door_stalled(ri->remote_port))
		/* the door saw the client stop sending (body_timeout) */
		return body_fail(x, "request body stalled past body_timeout",
		    408);
	if (n < 0 && x->body_left < 0 && !exch_client_closed(x)) {
		/*
		 * civetweb gave up on the chunked framing with the client
		 * still there: at once, it was a bad chunk size or a chunk
		 * extension (which it does not parse); after a wait, its
		 * request_timeout on a client that stopped sending.
		 */
		if (clk_now_us() - t0 >= SLOW_READ_US)
			return body_fail(x, "client too slow sending the "
			    "request body", 408);
		return body_fail(x, "malformed chunked request body", 400);
	}
	if (n < 0) {
		x->client_gone = 1;
		return body_fail(x, "client went away while sending the body",
		    0);
	}
	if (n == 0 && x->body_left > 0) {
		/*
		 * mg_read's "no more data" short of the Content-Length (its
		 * contract allows it at EOF or past request_timeout; 1.15
		 * says -1 at EOF and, as measured, waits on a stalled client
		 * for good): an incomplete message (RFC 9112 8), never to
		 * reach the handler as if it were whole.
		 */
		x->o.keep_alive = 0;
		return body_fail(x, "request body shorter than its "
		    "Content-Length", exch_client_closed(x) ? 0 : 408);
	}
	if (n == 0) {
		x->body_left = 0;
		return 0;
	}
	x->t.bytes_in += n;
	if (x->body_left > 0)
		x->body_left -= n;
	if (x->t.bytes_in > x->conf->max_body)
		return body_fail(x, "request body over max_body", 413);
	return n;
}

/* The request as the handler is told it (RFC 3875 4.1) */

static void
describe(struct exchange *x, const char *script_name,
    const char *script_filename, const char *document_root,
    const char *path_info)
{
	const struct mg_request_info *ri = mg_get_request_info(x->conn);
	struct cgi_request *req = &x->rq.cgi;
	const char *hv, *q;
	char *p;
	int i;

	memset(req, 0, sizeof(*req));
	req->method = x->hops > 0 ? "GET" : ri->request_method;
	if (x->hops == 0 && ri->query_string != NULL)
		snprintf(x->cgi_uri, sizeof(x->cgi_uri), "%s?%s",
		    ri->local_uri_raw, ri->query_string);
	else
		snprintf(x->cgi_uri, sizeof(x->cgi_uri), "%s", x->hops > 0 ?
		    x->uri : ri->local_uri_raw);
	req->request_uri = x->cgi_uri;
	req->query = ri->query_string;
	if (x->hops > 0)
		req->query = (q = strchr(x->uri, '?')) != NULL ? q + 1 : NULL;
	req->script_name = script_name;
	req->path_info = path_info;
	req->script_filename = script_filename;
	req->document_root = document_root != NULL ? document_root :
	    www_root(x->cfg);
	snprintf(x->host, sizeof(x->host), "%s", (hv = mg_get_header(x->conn,
	    "Host")) != NULL ? hv : "localhost");
	if (x->host[0] != '[' && (p = strchr(x->host, ':')) != NULL)
		*p = '\0';
	else if (x->host[0] == '[' && (p = strstr(x->host, "]:")) != NULL)
		p[1] = '\0';
	req->server_name = x->host;
	snprintf(x->proto, sizeof(x->proto), "HTTP/%s", ri->http_version);
	req->server_protocol = x->proto;
	req->remote_addr = x->peer;	/* the client, not the door */
	req->remote_port = x->peer_port;
	req->server_port = x->server_port;
	req->remote_user = ri->remote_user;
	req->https = ri->is_ssl;
	req->content_length = x->hops > 0 ? -1 : ri->content_length;
	req->content_type = mg_get_header(x->conn, "Content-Type");
	for (i = 0; i < ri->num_headers && i < RELAY_MAX_HEADERS; i++) {
		x->hdr[i].name = ri->http_headers[i].name;
		x->hdr[i].value = ri->http_headers[i].value;
	}
	req->headers = x->hdr;
	req->nheaders = i;
	req->path_env = x->cfg->path_env;
	req->extra_env = x->conf->env;
	req->nextra = x->conf->nenv;
}

/* Hand the request to a transport and answer what it reports. */
static int
run(struct exchange *x, transport_fn *fn, const struct xtarget *tg)
{
	struct xresult res;
	int st;

	x->rq.cfg = x->cfg;
	x->rq.conf = x->conf;
	x->rq.reqid = x->reqid;
	x->rq.route = x->t.route;
	x->rq.method = x->rq.cgi.method;
	x->rq.start_us = x->start_us;
	x->rq.body = x->body_left;
	x->rq.x = x;
	x->redirect_ok = x->conf->internal_redirect && x->hops < MAX_HOPS;
	memset(&res, 0, sizeof(res));
	res.exit_status = -1;
	res.connect_us = -1;
	fn(&x->rq, tg, &res);
	st = answer_finish(x, &res);
	answer_release(x);
	return st;
}

/*
 * A route with document_root serves a tree of scripts (split.c): the
 * path below the route, rest, gives SCRIPT_FILENAME under the root,
 * SCRIPT_NAME and PATH_INFO, as php-fpm, php-cgi and fcgiwrap expect:
 * /php/app.php/extra -> <root>/app.php, /php/app.php, /extra.  For a
 * local pool the script must be a regular file here, or the request is
 * a 404 that never reaches the program (nor php-cgi's cgi.fix_pathinfo
 * search for another file); a remote backend's files are its own.
 * Without document_root the route's program is the script: the route
 * is SCRIPT_NAME, rest PATH_INFO.  Returns 0, or the status answered.
 */
static int
script(struct exchange *x, const struct route_pick *pk, const char *program)
{
	const struct pool_conf *f = &x->conf->fcgi;
	struct stat sb;
	const char *why;
	size_t n;
	int st;

	if (f->document_root == NULL) {
		describe(x, strcmp(pk->name, "/") == 0 &&
		    pk->kind == PICK_REMOTE ? "" : pk->name, program, NULL,
		    pk->rest);
		return 0;
	}
	if ((st = split_path(f->document_root, pk->rest, f->suffixes,
	    f->nsuffixes, x->fname, sizeof(x->fname), &n, &why)) != 0)
		return http_error(x, st, why, NULL);
	if (program != NULL && (stat(x->fname, &sb) == -1 ||
	    !S_ISREG(sb.st_mode)))
		return http_error(x, 404, "no such script under "
		    "document_root", NULL);
	if (snprintf(x->sname, sizeof(x->sname), "%s%.*s",
	    strcmp(pk->name, "/") == 0 ? "" : pk->name, (int)n, pk->rest) >=
	    (int)sizeof(x->sname))
		return http_error(x, 414, "path too long", NULL);
	describe(x, x->sname, x->fname, f->document_root, pk->rest + n);
	return 0;
}

/* A static path with escapes: civetweb would look up the raw name. */
static int
static_escaped(struct exchange *x)
{
	char joined[PATH_MAX], real[PATH_MAX], root[PATH_MAX];
	size_t n;

	if (realpath(x->cfg->www, root) == NULL ||
	    snprintf(joined, sizeof(joined), "%s%s", root, x->path) >=
	    (int)sizeof(joined) || realpath(joined, real) == NULL)
		return http_error(x, 404, "no such file", NULL);
	n = strlen(root);
	if (strncmp(real, root, n) != 0 || real[n] != '/')
		return http_error(x, 403, "resolves outside www", NULL);
	mg_send_file(x->conn, real);
	return 200;
}

/*
 * What answers the path, and the checks that need no process; then the
 * transport.  0 hands the request back to civetweb (a static file), or
 * to handle() after an internal redirect (x->redirect).
 */
static int
dispatch(struct exchange *x, const char *raw)
{
	char name[ROUTE_NAME_MAX], file[PATH_MAX];
	const char *why, *path_info = "";
	struct route_pick pk;
	struct route rt;
	struct xtarget tg;
	int st, found;

	if (route_clean_path(raw, x->path, sizeof(x->path), &why) == -1)
		return http_error(x, strstr(why, "malformed") ? 400 : 403,
		    why, NULL);
	if (strcmp(x->path, "/_gateway") == 0 ||
	    strncmp(x->path, "/_gateway/", 10) == 0)
		return admin_serve(x);
	found = scan_lookup(x->path, &rt, name, file, &path_info) == 0;
	route_pick(x->cfg, x->path, found ? &rt : NULL, path_info, &pk);
	if (pk.kind == PICK_NONE) {
		if (x->hops > 0)
			return http_error(x, 500, "internal redirect to a "
			    "path that is not a handler", NULL);
		if (strchr(raw, '%') != NULL &&
		    strcspn(raw, "%") < strcspn(raw, "?"))
			return static_escaped(x);
		return 0;
	}
	x->conf = pk.conf;
	snprintf(x->t.route, sizeof(x->t.route), "%s", pk.name);
	snprintf(x->t.mode, sizeof(x->t.mode), "%s", pk.kind == PICK_CGI ?
	    "cgi" : "fastcgi");
	if (x->stats < 0)
		x->stats = stats_enter(pk.name, x->t.mode);
	if (x->hops == 0 && mg_get_request_info(x->conn)->content_length >
	    pk.conf->max_body) {
		x->o.keep_alive = 0;
		return http_error(x, 413, "declared body over max_body", NULL);
	}
	memset(&tg, 0, sizeof(tg));
	if (pk.kind != PICK_REMOTE) {
		if ((st = scan_resolve(rt.file, x->program, &why)) != 0)
			return http_error(x, st, why, NULL);
		tg.program = x->program;
	}
	x->nph = pk.kind != PICK_REMOTE && rt.nph;
	if (pk.kind == PICK_CGI) {
		describe(x, pk.name, x->program, NULL, pk.rest);
		return run(x, cgi_run, &tg);
	}
	if ((st = script(x, &pk, tg.program)) != 0)
		return st;
	tg.pool = pool_get(pk.name, tg.program, pk.conf);
	if (tg.pool == NULL)
		return http_error(x, 503, "no FastCGI pool for this route",
		    RETRY);
	return run(x, fastcgi_run, &tg);
}

/*
 * The request's line in the access log: the request line as civetweb
 * read it (the door's rewrite of what the client sent), the client as
 * the door saw it, and body bytes, or 0 when unknown.  proto: room for
 * the protocol's name, which l points to.
 */
static void
access_fill(struct alog_line *l, char proto[24],
    const struct mg_connection *conn, const char *peer, time_t when,
    int status, long long bytes)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);

	memset(l, 0, sizeof(*l));
	l->addr = peer;
	l->when = when;
	l->method = ri->request_method;
	l->target = ri->request_uri;
	l->query = ri->query_string;
	if (ri->http_version != NULL) {
		snprintf(proto, 24, "HTTP/%s", ri->http_version);
		l->proto = proto;
	}
	l->status = status;
	l->bytes = bytes;
	l->referer = mg_get_header(conn, "Referer");
	l->agent = mg_get_header(conn, "User-Agent");
}

static void
access_line(const struct mg_connection *conn, const char *peer,
    time_t when, int status, long long bytes)
{
	struct alog_line l;
	char proto[24];

	if (!alog_enabled() || mg_get_request_info(conn) == NULL)
		return;
	access_fill(&l, proto, conn, peer, when, status, bytes);
	alog_write(&l);
}

/*
 * Behind a proxy of trusted_proxies, the client is the rightmost address
 * of X-Forwarded-For (all its lines, in order) that is not a trusted
 * proxy itself: each proxy appends the address it had the request from,
 * and only what trusted ones appended can be believed.  An entry that is
 * not an address stops the walk at what was found so far.
 */
static void
real_client(struct exchange *x)
{
	const struct mg_request_info *ri = mg_get_request_info(x->conn);
	const struct config *c = x->cfg;
	unsigned char bin[16];
	char list[2048], *p, *a, *e;
	size_t n = 0;
	int i, k;

	if (c->ntrusted_proxies == 0 || !config_cidr_match(c->trusted_proxies,
	    c->ntrusted_proxies, x->peer))
		return;
	list[0] = '\0';
	for (i = 0; i < ri->num_headers; i++) {
		if (strcasecmp(ri->http_headers[i].name, "X-Forwarded-For"))
			continue;
		k = snprintf(list + n, sizeof(list) - n, "%s%s", n ? "," : "",
		    ri->http_headers[i].value);
		if (k < 0 || (size_t)k >= sizeof(list) - n)
			return;		/* too long to trust any of it */
		n += (size_t)k;
	}
	while (n > 0) {
		p = strrchr(list, ',');
		a = p != NULL ? p + 1 : list;
		a += strspn(a, " \t");
		for (e = a + strlen(a); e > a && (e[-1] == ' ' ||
		    e[-1] == '\t'); e--)
			;
		*e = '\0';
		if (inet_pton(AF_INET, a, bin) != 1 &&
		    inet_pton(AF_INET6, a, bin) != 1)
			return;
		snprintf(x->peer, sizeof(x->peer), "%s", a);
		x->peer_port = 0;	/* the proxy's is no client's */
		if (p == NULL || !config_cidr_match(c->trusted_proxies,
		    c->ntrusted_proxies, a))
			return;
		*p = '\0';
		n = (size_t)(p - list);
	}
}

/*
 * Who sent the request, into its row: client, the address it came from
 * (through trusted proxies), and the request's Host, query string,
 * User-Agent and Referer as civetweb read them.
 */
static void
who(struct timing *t, const struct mg_connection *conn, const char *client)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *v[WHO_N];

	v[WHO_CLIENT] = client != NULL && client[0] != '\0' ? client : NULL;
	v[WHO_HOST] = mg_get_header(conn, "Host");
	v[WHO_QUERY] = ri->query_string;
	v[WHO_AGENT] = mg_get_header(conn, "User-Agent");
	v[WHO_REFERER] = mg_get_header(conn, "Referer");
	timing_set_who(t, v);
}

/* Does the client want the connection kept (RFC 9112 9.3)? */
static int
want_keep_alive(const struct mg_connection *conn)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *c = mg_get_header(conn, "Connection");

	if (strcmp(ri->http_version, "1.1") == 0)
		return c == NULL || strcasecmp(c, "close") != 0;
	return c != NULL && strcasecmp(c, "keep-alive") == 0;
}

static int
handle(struct mg_connection *conn, void *cbdata)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *ex, *te;
	struct exchange *x;
	int status, v11;

	(void)cbdata;
	/* civetweb's worker stacks are small: request state is lent. */
	if ((x = bufpool_get(BUF_HTTP_CTX)) == NULL) {
		log_err(tls.reqid, "%s %s -> 503: out of memory",
		    ri->request_method, ri->local_uri_raw);
		mg_printf(conn, "HTTP/1.1 503 Service Unavailable\r\n"
		    "Content-Length: 0\r\nRetry-After: 1\r\n"
		    "Connection: close\r\n\r\n");
		mg_disable_connection_keep_alive(conn);
		return 503;	/* end_request writes its row */
	}
	memset(x, 0, offsetof(struct exchange, hdr));
	x->conn = conn;
	x->cfg = cfgref_hold();	/* until the request ends */
	x->start_us = tls.start ? tls.start : clk_now_us();
	snprintf(x->reqid, sizeof(x->reqid), "%s", tls.reqid);
	v11 = strcmp(ri->http_version, "1.1") == 0;
	httpout_init(&x->o, v11, strcmp(ri->request_method, "HEAD") == 0,
	    want_keep_alive(conn) && !http_draining(), gather, x);
	ex = mg_get_header(conn, "Expect");
	x->expect_continue = v11 && ex != NULL &&
	    strcasecmp(ex, "100-continue") == 0;
	x->t.ts = clk_wall();
	x->t.exit_status = -1;
	x->t.connect_us = -1;
	x->stats = -1;
	snprintf(x->t.request_id, sizeof(x->t.request_id), "%s", x->reqid);
	snprintf(x->t.method, sizeof(x->t.method), "%s", ri->request_method);
	snprintf(x->t.path, sizeof(x->t.path), "%s", ri->local_uri_raw);
	snprintf(x->t.mode, sizeof(x->t.mode), "static");
	memcpy(x->peer, tls.peer, sizeof(x->peer));	/* begin_request's */
	x->peer_port = tls.peer_port;
	x->server_port = tls.server_port;
	real_client(x);
	who(&x->t, conn, x->peer);
	te = mg_get_header(conn, "Transfer-Encoding");
	x->body_left = ri->content_length >= 0 ? ri->content_length :
	    te != NULL ? -1 : 0;
	conn_body_init(&x->body, x->body_left < 0);
	x->outlen = 0;

	status = dispatch(x, ri->local_uri_raw);
	while (status == 0 && x->redirect[0] != '\0') {
		/* RFC 3875 6.2.2: serve the new path as a fresh GET. */
		memcpy(x->uri, x->redirect, sizeof(x->uri));
		x->redirect[0] = '\0';
		x->hops++;
		x->body_left = 0;
		status = dispatch(x, x->uri);
	}
	if (status != 0) {
		tls.answered = 1;
		if (x->t.status == 0)	/* answered through civetweb */
			x->t.status = status;
		if (!x->o.keep_alive)
			mg_disable_connection_keep_alive(conn);
		x->t.total_us = (long long)(clk_now_us() - x->start_us);
		timelog_push(&x->t);
		stats_leave(&x->t, x->stats);
		/* nph: the handler's own head is among the bytes. */
		access_line(conn, x->peer, (time_t)x->t.ts, x->t.status,
		    x->o.raw ? x->t.bytes_out : x->o.body_bytes);
	}
	/*
	 * 0: civetweb serves it, end_request logs it, with the client
	 * found here.
	 */
	if (status == 0)
		memcpy(tls.peer, x->peer, sizeof(tls.peer));
	bufpool_put(BUF_HTTP_OUT, x->out);
	x->out = NULL;
	x->outlen = 0;
	cfgref_drop(x->cfg);
	bufpool_put(BUF_HTTP_CTX, x);
	return status;
}

/*
 * Every connection civetweb serves comes from the door, which knows its
 * client; any other that reaches the internal port is refused.
 */
static int
begin_request(struct mg_connection *conn)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	struct door_peer dp;

	atomic_fetch_add(&inflight, 1);
	tls.start = clk_now_us();
	tls.wall = time(NULL);
	tls.answered = 0;
	tls.in_request = 1;
	http_reqid(tls.reqid, sizeof(tls.reqid));
	if (door_peer(ri->remote_port, &dp) == 0) {
		memcpy(tls.peer, dp.addr, sizeof(tls.peer));
		tls.peer_port = dp.port;
		tls.server_port = dp.sport;
		tls.xseq = dp.xseq;
		tls.dslot = dp.slot;
		return 0;
	}
	tls.xseq = 0;
	tls.dslot = -1;
	log_warn(tls.reqid, "connection to the internal port from %s port %d "
	    "refused: not made by cgigate", ri->remote_addr, ri->remote_port);
	tls.answered = 1;
	mg_printf(conn, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
	    "Connection: close\r\n\r\n");
	mg_disable_connection_keep_alive(conn);
	return 403;
}

static void
end_request(const struct mg_connection *conn, int status)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	struct late_row *r;
	struct timing *t, tt;
	struct alog_line l;
	char proto[24];

	atomic_fetch_sub(&inflight, 1);
	tls.in_request = 0;
	if (tls.answered || ri == NULL)
		return;
	/*
	 * civetweb sends files with sendfile(2), which it does not count;
	 * the door does.  The row and the access log line wait for its
	 * figures (door_late_row); without a late row to lend, the row
	 * says it does not know (NULL) rather than a wrong figure.
	 */
	r = bufpool_get(BUF_LATE_ROW);
	t = r != NULL ? &r->t : &tt;
	memset(t, 0, sizeof(*t));
	t->ts = clk_wall();
	t->exit_status = -1;
	t->ttfb_us = -1;
	snprintf(t->request_id, sizeof(t->request_id), "%s", tls.reqid);
	snprintf(t->mode, sizeof(t->mode), "static");
	snprintf(t->method, sizeof(t->method), "%s",
	    ri->request_method ? ri->request_method : "");
	snprintf(t->path, sizeof(t->path), "%s",
	    ri->local_uri_raw ? ri->local_uri_raw : "");
	t->status = status;
	t->total_us = tls.start ? (long long)(clk_now_us() - tls.start) : 0;
	t->bytes_out = -1;
	who(t, conn, tls.peer);
	stats_leave(t, -1);
	if (r == NULL) {
		timelog_push(t);
		access_line(conn, tls.peer, tls.wall, status, 0);
		return;
	}
	r->end_us = clk_now_us();
	r->alen = 0;
	if (alog_enabled()) {
		access_fill(&l, proto, conn, tls.peer, tls.wall, status, 0);
		r->alen = alog_format_at(r->aline, &l, &r->abytes);
	}
	door_late_row(tls.dslot, ri->remote_port, tls.xseq, r);
}

/*
 * civetweb refuses some heads before any request callback runs (a head
 * it cannot parse, too large, an HTTP version it does not speak) and
 * answers them itself.  Such a request still gets its log line and its
 * row.  What it parsed of the head may be stale or half-written, so only
 * the client's address is taken from it.  Returns 1: civetweb answers.
 */
static int
refused(struct mg_connection *conn, int status, const char *msg)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	struct timing t;
	struct alog_line l;
	const char *v[WHO_N] = { NULL };
	struct door_peer dp;
	char id[24];

	if (tls.in_request)
		return 1;	/* a request's own error: end_request logs it */
	http_reqid(id, sizeof(id));
	if (ri == NULL || door_peer(ri->remote_port, &dp) == -1)
		snprintf(dp.addr, sizeof(dp.addr), "?");
	log_at(log_status_level(status), id, "request from %s refused by "
	    "civetweb -> %d: %s", dp.addr, status, msg);
	memset(&t, 0, sizeof(t));
	t.ts = clk_wall();
	t.exit_status = -1;
	t.connect_us = -1;
	t.status = status;
	snprintf(t.request_id, sizeof(t.request_id), "%s", id);
	snprintf(t.mode, sizeof(t.mode), "http");
	snprintf(t.error, sizeof(t.error), "%s", msg);
	if (strcmp(dp.addr, "?") != 0)
		v[WHO_CLIENT] = dp.addr;
	timing_set_who(&t, v);
	timelog_push(&t);
	stats_leave(&t, -1);
	memset(&l, 0, sizeof(l));	/* no request line to trust: "-" */
	l.addr = dp.addr;
	l.when = time(NULL);
	l.status = status;
	alog_write(&l);
	return 1;
}

static int
log_message(const struct mg_connection *conn, const char *msg)
{
	(void)conn;
	log_warn(NULL, "civetweb: %s", msg);
	return 1;
}

/*
 * cgigate authenticates nobody, so civetweb must not either: without an
 * authorization handler it looks for a password file on every request,
 * at "/.htpasswd" for ours, and answers 401 to all if one is there.
 */
static int
authorize(struct mg_connection *conn, void *arg)
{
	(void)conn;
	(void)arg;
	return 1;
}

/* A worker thread ends: its admission waiter goes with it. */
static void
exit_thread(const struct mg_context *c, int type, void *ptr)
{
	(void)c;
	(void)type;
	(void)ptr;
	admit_thread_exit();
}

int
http_start(const struct config *c)
{
	struct mg_callbacks cb;
	struct mg_server_port sp[1];
	char threads[16];
	const char *opts[40];
	int i, n = 0, port;

	/* The door listens; civetweb only where the door connects. */
	for (i = 0; i < c->nlisten; i++) {
		if (door_listen(c->listen[i], &port) == -1) {
			log_err(NULL, "listen %s: %s", c->listen[i],
			    strerror(errno));
			return -1;
		}
		log_notice(NULL, "listening on %.*s:%d",
		    (int)(strrchr(c->listen[i], ':') - c->listen[i]),
		    c->listen[i], port);
	}
	snprintf(threads, sizeof(threads), "%d", c->threads);
	opts[n++] = "listening_ports";		opts[n++] = "127.0.0.1:0";
	opts[n++] = "document_root";		opts[n++] = c->www;
	opts[n++] = "num_threads";		opts[n++] = threads;
	opts[n++] = "enable_keep_alive";	opts[n++] = "yes";
	opts[n++] = "keep_alive_timeout_ms";	opts[n++] = "15000";
	opts[n++] = "decode_url";		opts[n++] = "no";
	/* RFC 9112 3.2.2: absolute-form for our own port is served. */
	opts[n++] = "enable_auth_domain_check"; opts[n++] = "no";
	opts[n++] = "tcp_nodelay";		opts[n++] = "1";
	opts[n++] = "enable_directory_listing";	opts[n++] = "no";
	opts[n++] = "access_control_allow_origin"; opts[n++] = "";
	opts[n++] = "cgi_pattern";		opts[n++] = "";
	opts[n++] = "ssi_pattern";		opts[n++] = "";
	opts[n++] = "listen_backlog";		opts[n++] = "1024";
	opts[n++] = "connection_queue";		opts[n++] = "256";
	if (c->user != NULL && geteuid() == 0) {
		/* civetweb binds, then setgid + setuid, before serving. */
		opts[n++] = "run_as_user";		opts[n++] = c->user;
	}
	opts[n] = NULL;

	memset(&cb, 0, sizeof(cb));
	cb.begin_request = begin_request;
	cb.end_request = end_request;
	cb.log_message = log_message;
	cb.http_error = refused;
	cb.exit_thread = exit_thread;
	if ((ctx = mg_start(&cb, NULL, opts)) == NULL) {
		log_err(NULL, "http_start: civetweb did not start");
		return -1;
	}
	mg_set_auth_handler(ctx, "/", authorize, NULL);
	mg_set_request_handler(ctx, "/", handle, NULL);
	if (mg_get_server_ports(ctx, 1, sp) != 1 ||
	    door_start(c, (internal_port = sp[0].port)) == -1) {
		http_stop_drain(0);
		return -1;
	}
	return 0;
}

void
http_stop_drain(int64_t drain_us)
{
	uint64_t deadline = clk_now_us() + (uint64_t)drain_us;

	atomic_store(&drain_deadline, deadline);
	atomic_store(&draining, 1);
	admit_drain();
	if (ctx == NULL)
		return;
	door_drain();
	/* Requests in flight finish; they cut themselves off at deadline. */
	while ((atomic_load(&inflight) > 0 || door_busy() > 0) &&
	    clk_now_us() < deadline + 1000000) {
		spawn_tick();	/* the main thread's orphans, meanwhile */
		usleep(20000);
	}
	conn_stop(ctx, internal_port);
	ctx = NULL;
	door_stop();
}
