/*
 * http.c: the civetweb glue.
 *
 * One request handler sees every request.  It vets the raw path (civetweb
 * runs with decode_url=no so that %2f and %00 are still visible), answers
 * /_gateway/ itself, hands handler routes to cgi.c, and returns anything
 * else to civetweb, which serves it from the www directory with its own
 * ETag and Last-Modified handling.  end_request writes the timing row of
 * requests civetweb answered on its own.
 *
 * Responses from handlers are framed here: the CGI header block becomes a
 * status line plus headers, the body goes out with Content-Length when the
 * handler gave one, chunked otherwise (HTTP/1.1), or delimited by close.
 * Output is gathered in a buffer and written when it fills or when the
 * pump is about to wait, so a small response is one send().  The buffer
 * and the request's struct http_ctx are lent by bufpool.c for the
 * request only: the context from the start of handle() to its end, the
 * buffer from the first byte of output (a request waiting for a slot
 * holds none) to the end.  Without a buffer, output goes straight out.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <fcntl.h>

#include <civetweb.h>

#include "cgigate.h"

#define OUTBUF		HTTP_OUTBUF

static struct mg_context *ctx;
static atomic_int inflight;		/* between begin and end_request */
static _Atomic(const struct config *) cfg;	/* for new requests */
static atomic_int draining;
static atomic_ullong drain_deadline;
static atomic_ullong reqseq;

static _Thread_local struct {
	uint64_t	 start;
	int		 answered;
	int		 in_request;	/* between begin_ and end_request */
	char		 reqid[24];
	char		*out;		/* lent for the request, or NULL */
	size_t		 outlen;
	time_t		 date_sec;
	char		 date[40];
} tls;

int
http_draining(void)
{
	return atomic_load(&draining);
}

static const char *
date_now(void)
{
	time_t t = time(NULL);
	struct tm tm;

	if (t != tls.date_sec) {
		gmtime_r(&t, &tm);
		strftime(tls.date, sizeof(tls.date),
		    "%a, %d %b %Y %H:%M:%S GMT", &tm);
		tls.date_sec = t;
	}
	return tls.date;
}

/* Write n bytes to the client now. */
static int
send_now(struct http_ctx *h, const char *buf, size_t n)
{
	if (h->t.ttfb_us == 0)
		h->t.ttfb_us = (long long)(clk_now_us() - h->start_us);
	if (mg_write(h->conn, buf, n) != (int)n) {
		h->client_gone = 1;
		return -1;
	}
	h->t.bytes_out += (long long)n;
	return 0;
}

int
http_flush(struct http_ctx *h)
{
	size_t n = tls.outlen;

	if (n == 0)
		return 0;
	tls.outlen = 0;
	return send_now(h, tls.out, n);
}

int
http_continue(struct http_ctx *h)
{
	static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (!h->expect_continue)
		return 0;
	h->expect_continue = 0;
	if (h->sent_header || tls.outlen > 0)
		return 0;	/* the final answer is on its way */
	if (mg_write(h->conn, line, sizeof(line) - 1) != (int)sizeof(line) - 1) {
		h->client_gone = 1;
		return -1;
	}
	return 0;
}

/*
 * Append to the output buffer, sending it each time it fills: a large
 * body leaves in full OUTBUF sends, whatever the framing around it.
 */
static int
out(struct http_ctx *h, const char *buf, size_t n)
{
	size_t k;

	if (h->client_gone)
		return -1;
	if (tls.out == NULL && (tls.out = bufpool_get(BUF_HTTP_OUT)) == NULL)
		return send_now(h, buf, n);	/* ENOMEM: unbuffered */
	while (n > 0) {
		if (tls.outlen == OUTBUF && http_flush(h) == -1)
			return -1;
		k = OUTBUF - tls.outlen < n ? OUTBUF - tls.outlen : n;
		memcpy(tls.out + tls.outlen, buf, k);
		tls.outlen += k;
		buf += k;
		n -= k;
	}
	return 0;
}

static int
outf(struct http_ctx *h, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(buf))
		return -1;
	return out(h, buf, (size_t)n);
}

static int
body_allowed(const struct http_ctx *h, int status)
{
	return !h->head && status != 204 && status != 304 && status >= 200;
}

/* Status line, Date, the given fields, framing and Connection. */
static int
head_block(struct http_ctx *h, int status, const char *reason,
    const struct cgi_header *f, int nf, const char *extra, long long length)
{
	const struct mg_request_info *ri = mg_get_request_info(h->conn);
	int i;

	if (reason == NULL || *reason == '\0')
		reason = mg_get_response_code_text(h->conn, status);
	h->t.status = status;
	h->sent_header = 1;
	if (length < 0 && body_allowed(h, status)) {
		if (strcmp(ri->http_version, "1.1") == 0)
			h->chunked = 1;
		else
			h->keep_alive = 0;	/* the close ends the body */
	}
	if (!h->keep_alive)
		mg_disable_connection_keep_alive(h->conn);
	outf(h, "HTTP/%s %d %s\r\nDate: %s\r\nServer: " CGIGATE_NAME
	    "\r\n", ri->http_version, status, reason, date_now());
	for (i = 0; i < nf; i++) {
		/* Not through outf: a name may be longer than its buffer. */
		out(h, f[i].name, strlen(f[i].name));
		out(h, ": ", 2);
		out(h, f[i].value, strlen(f[i].value));
		out(h, "\r\n", 2);
	}
	if (extra != NULL)
		out(h, extra, strlen(extra));
	if (length >= 0 && status != 204)	/* RFC 9110 8.6 */
		outf(h, "Content-Length: %lld\r\n", length);
	else if (h->chunked)
		out(h, "Transfer-Encoding: chunked\r\n", 28);
	return outf(h, "Connection: %s\r\n\r\n",
	    h->keep_alive ? "keep-alive" : "close");
}

int
http_send_header(struct http_ctx *h, const struct cgiresp *p, long long len)
{
	int rc = head_block(h, p->status, p->reason, p->fields, p->nfields,
	    NULL, len);

	h->sized = len >= 0 && body_allowed(h, h->t.status);
	h->left = len;
	return rc;
}

int
http_send_body(struct http_ctx *h, const char *buf, size_t n)
{
	char size[24];
	int k;

	if (n == 0 || !body_allowed(h, h->t.status))
		return h->client_gone ? -1 : 0;
	/*
	 * What a Content-Length did not announce is not sent: on a kept-alive
	 * connection it would be read as the start of the next response.
	 */
	if (h->sized && (long long)n > h->left) {
		if (h->left >= 0) {
			log_msg(h->reqid, "output longer than its "
			    "Content-Length: the rest dropped");
			if (h->t.error[0] == '\0')
				snprintf(h->t.error, sizeof(h->t.error),
				    "output longer than its Content-Length");
		}
		n = h->left > 0 ? (size_t)h->left : 0;
		h->left = -1;		/* owes nothing, and it has been said */
		if (n == 0)
			return h->client_gone ? -1 : 0;
	} else if (h->sized)
		h->left -= (long long)n;
	if (!h->chunked)
		return out(h, buf, n);
	k = snprintf(size, sizeof(size), "%zx\r\n", n);
	if (out(h, size, (size_t)k) == -1 || out(h, buf, n) == -1)
		return -1;
	return out(h, "\r\n", 2);
}

void
http_finish(struct http_ctx *h, int truncated)
{
	if (!truncated && h->sized && h->left > 0) {
		log_msg(h->reqid, "output ended %lld bytes short of its "
		    "Content-Length: connection closed", h->left);
		if (h->t.error[0] == '\0')
			snprintf(h->t.error, sizeof(h->t.error),
			    "truncated: output shorter than Content-Length");
		truncated = 1;
	}
	if (truncated) {
		/* No last chunk: the client sees the body was cut short. */
		h->keep_alive = 0;
		mg_disable_connection_keep_alive(h->conn);
	} else if (h->chunked && body_allowed(h, h->t.status))
		out(h, "0\r\n\r\n", 5);
	http_flush(h);
}

int
http_send_raw(struct http_ctx *h, const char *buf, size_t n)
{
	h->sent_header = 1;
	h->keep_alive = 0;
	mg_disable_connection_keep_alive(h->conn);
	return out(h, buf, n);
}

int
http_error(struct http_ctx *h, int status, const char *why,
    const char *extra)
{
	const char *text = mg_get_response_code_text(h->conn, status);
	static const struct cgi_header ctype = {
		"Content-Type", "text/plain; charset=utf-8"
	};
	char body[256];
	int n;

	if (h->sent_header) {
		/*
		 * The client has a status line already and gets a cut body:
		 * the log and the row tell that, with the status it got.
		 */
		log_msg(h->reqid, "%s %s -> %d sent, then %s (%d): response "
		    "truncated", h->t.method, h->t.path, h->t.status, why,
		    status);
		snprintf(h->t.error, sizeof(h->t.error), "truncated: %s",
		    status == 504 ? "timeout after headers" : why);
		http_finish(h, 1);
		return h->t.status;
	}
	log_msg(h->reqid, "%s %s -> %d: %s", h->t.method, h->t.path, status,
	    why);
	if (why != h->t.error)
		snprintf(h->t.error, sizeof(h->t.error), "%s", why);
	tls.outlen = 0;
	n = snprintf(body, sizeof(body), "%d %s\n", status, text);
	head_block(h, status, text, &ctype, 1, extra, n);
	if (!h->head)
		out(h, body, (size_t)n);
	http_flush(h);
	return status;
}

static int
want_keep_alive(const struct mg_connection *conn)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const char *c = mg_get_header(conn, "Connection");

	if (strcmp(ri->http_version, "1.1") == 0)
		return c == NULL || strcasecmp(c, "close") != 0;
	return c != NULL && strcasecmp(c, "keep-alive") == 0;
}

/* The client's address, as the door saw it. */
static const char *
client_addr(struct http_ctx *h, char *buf, size_t len)
{
	const struct mg_request_info *ri = mg_get_request_info(h->conn);
	int port, sport, stalled;

	if (door_peer(ri->remote_port, buf, len, &port, &sport,
	    &stalled) == 0)
		return buf;
	return ri->remote_addr;
}

/* Send buf (from an open_memstream, closed) as the whole body. */
static int
send_buf(struct http_ctx *h, const char *ctype, char *buf, size_t len)
{
	struct cgi_header hdr = { "Content-Type", ctype };

	head_block(h, 200, NULL, &hdr, 1, "Cache-Control: no-store\r\n",
	    (long long)len);
	if (!h->head)
		out(h, buf, len);
	free(buf);
	http_flush(h);
	return h->t.status;
}

/*
 * /_gateway/: health for load balancers (503 while draining), status
 * (JSON) and metrics (Prometheus text), to admin_allow addresses only.
 */
static int
admin(struct http_ctx *h)
{
	static const struct cgi_header ctype = {
		"Content-Type", "text/plain; charset=utf-8"
	};
	char addr[64], *buf = NULL;
	const char *body;
	size_t len = 0;
	FILE *f;

	snprintf(h->t.mode, sizeof(h->t.mode), "admin");
	snprintf(h->t.route, sizeof(h->t.route), "/_gateway");
	if (!config_cidr_match(h->cfg->admin_allow, h->cfg->nadmin_allow,
	    client_addr(h, addr, sizeof(addr))))
		return http_error(h, 403, "admin endpoint: address not in "
		    "admin_allow", NULL);
	if (strcmp(h->path, "/_gateway/timeseries") == 0) {
		const char *q = mg_get_request_info(h->conn)->query_string;
		int win = q != NULL && strncmp(q, "window=", 7) == 0 ?
		    atoi(q + 7) : 900;

		if (win < 10 || win > 86400 * 7)
			win = 900;
		if ((f = open_memstream(&buf, &len)) == NULL)
			return http_error(h, 503, "out of memory",
			    "Retry-After: 1\r\n");
		if (timelog_dashboard(f, win) == -1) {
			fclose(f);
			free(buf);
			return http_error(h, 503, "timing database unreadable",
			    "Retry-After: 1\r\n");
		}
		fclose(f);
		return send_buf(h, "application/json", buf, len);
	}
	if (strcmp(h->path, "/_gateway/status") == 0 ||
	    strcmp(h->path, "/_gateway/metrics") == 0) {
		if ((f = open_memstream(&buf, &len)) == NULL)
			return http_error(h, 503, "out of memory",
			    "Retry-After: 1\r\n");
		if (h->path[10] == 's')
			stats_json(f);
		else
			stats_prometheus(f);
		fclose(f);	/* sets buf and len */
		return send_buf(h, h->path[10] == 's' ? "application/json" :
		    "text/plain; version=0.0.4", buf, len);
	}
	if (strcmp(h->path, "/_gateway/health") != 0)
		return http_error(h, 404, "no such admin endpoint", NULL);
	if (http_draining()) {
		body = "draining\n";
		head_block(h, 503, NULL, &ctype, 1, NULL, strlen(body));
	} else {
		body = "ok\n";
		head_block(h, 200, NULL, &ctype, 1, NULL, strlen(body));
	}
	if (!h->head)
		out(h, body, strlen(body));
	http_flush(h);
	return h->t.status;
}

/* A static path with escapes: civetweb would look up the raw name. */
static int
static_escaped(struct http_ctx *h)
{
	char joined[PATH_MAX], real[PATH_MAX], root[PATH_MAX];
	size_t n;

	if (realpath(h->cfg->www, root) == NULL ||
	    snprintf(joined, sizeof(joined), "%s%s", root, h->path) >=
	    (int)sizeof(joined) || realpath(joined, real) == NULL)
		return http_error(h, 404, "no such file", NULL);
	n = strlen(root);
	if (strncmp(real, root, n) != 0 || real[n] != '/')
		return http_error(h, 403, "resolves outside www", NULL);
	mg_send_file(h->conn, real);
	return 200;
}

/*
 * A route with document_root serves a tree of scripts (split.c): the
 * path below the route, rest, gives SCRIPT_FILENAME under the root,
 * SCRIPT_NAME and PATH_INFO, as php-fpm, php-cgi and fcgiwrap expect:
 * /php/app.php/extra -> <root>/app.php, /php/app.php, /extra.  For a
 * local pool the script must be a regular file here, or the request is
 * a 404 that never reaches the program (nor php-cgi's cgi.fix_pathinfo
 * search for another file); a remote backend's files are its own.
 * Returns 0 with tg filled, or the status already answered.
 */
static int
script_target(struct http_ctx *h, const char *route, const char *rest,
    const struct pool_conf *f, int local, struct fastcgi_target *tg)
{
	static _Thread_local char fname[PATH_MAX], sname[PATH_MAX];
	struct stat sb;
	const char *why;
	size_t n;
	int st;

	if ((st = split_path(f->document_root, rest, f->suffixes,
	    f->nsuffixes, fname, sizeof(fname), &n, &why)) != 0)
		return http_error(h, st, why, NULL);
	if (local && (stat(fname, &sb) == -1 || !S_ISREG(sb.st_mode)))
		return http_error(h, 404, "no such script under "
		    "document_root", NULL);
	if (snprintf(sname, sizeof(sname), "%s%.*s",
	    strcmp(route, "/") == 0 ? "" : route, (int)n, rest) >=
	    (int)sizeof(sname))
		return http_error(h, 414, "path too long", NULL);
	tg->script_name = sname;
	tg->script_filename = fname;
	tg->document_root = f->document_root;
	tg->path_info = rest + n;
	return 0;
}

/*
 * A handler run as a FastCGI worker pool: handlers/foo.fcgi -> /foo.
 * Without document_root the program is the script.
 */
static int
serve_local_fcgi(struct http_ctx *h, const struct route *rt,
    const struct route_conf *conf, const char *path_info)
{
	static _Thread_local char abs[PATH_MAX];
	struct fastcgi_target tg;
	const char *why;
	int st;

	snprintf(h->t.mode, sizeof(h->t.mode), "fastcgi");
	if ((st = scan_resolve(rt->file, abs, &why)) != 0)
		return http_error(h, st, why, NULL);
	memset(&tg, 0, sizeof(tg));
	if (conf->fcgi.document_root != NULL) {
		if ((st = script_target(h, rt->name, path_info, &conf->fcgi,
		    1, &tg)) != 0)
			return st;
	} else {
		tg.script_name = rt->name;
		tg.script_filename = abs;
		tg.path_info = path_info;
	}
	tg.pool = pool_get(rt->name, abs, conf);
	return fastcgi_serve(h, conf, &tg, rt->nph);
}

/*
 * A route served by remote FastCGI backends: with document_root, the
 * script its path names; without, the prefix is SCRIPT_NAME and the
 * rest PATH_INFO.
 */
static int
serve_remote(struct http_ctx *h, const struct route_conf *conf)
{
	const char *rest = h->path;
	struct fastcgi_target tg;
	int st;

	snprintf(h->t.route, sizeof(h->t.route), "%s", conf->prefix);
	snprintf(h->t.mode, sizeof(h->t.mode), "fastcgi");
	if (strcmp(conf->prefix, "/") != 0)
		rest += strlen(conf->prefix);
	memset(&tg, 0, sizeof(tg));
	if (conf->fcgi.document_root != NULL) {
		if ((st = script_target(h, conf->prefix, rest, &conf->fcgi,
		    0, &tg)) != 0)
			return st;
	} else {
		tg.script_name = strcmp(conf->prefix, "/") == 0 ? "" :
		    conf->prefix;
		tg.path_info = rest;
	}
	tg.pool = pool_get(conf->prefix, NULL, conf);
	return fastcgi_serve(h, conf, &tg, 0);
}

static int
dispatch(struct http_ctx *h, const char *raw)
{
	char name[ROUTE_NAME_MAX], file[PATH_MAX];
	const char *why, *path_info;
	const struct route_conf *remote;
	struct route rt;
	int found;

	if (route_clean_path(raw, h->path, sizeof(h->path), &why) == -1)
		return http_error(h, strstr(why, "malformed") ? 400 : 403,
		    why, NULL);
	if (strcmp(h->path, "/_gateway") == 0 ||
	    strncmp(h->path, "/_gateway/", 10) == 0)
		return admin(h);
	found = scan_lookup(h->path, &rt, name, file, &path_info) == 0;
	remote = config_remote(h->cfg, h->path);
	if (remote != NULL && (!found ||
	    strlen(remote->prefix) >= strlen(rt.name))) {
		if (h->stats < 0)
			h->stats = stats_enter(remote->prefix, "fastcgi");
		return serve_remote(h, remote);
	}
	if (found) {
		const struct route_conf *conf = config_route(h->cfg, rt.name);
		int fcgi = conf->mode == MODE_FASTCGI ||
		    (conf->mode == MODE_AUTO && rt.kind == ROUTE_FCGI);

		snprintf(h->t.route, sizeof(h->t.route), "%s", rt.name);
		if (h->stats < 0)
			h->stats = stats_enter(rt.name, fcgi ? "fastcgi" :
			    "cgi");
		if (fcgi)
			return serve_local_fcgi(h, &rt, conf, path_info);
		snprintf(h->t.mode, sizeof(h->t.mode), "cgi");
		return cgi_serve(h, &rt, path_info);
	}
	if (h->hops > 0)
		return http_error(h, 500, "internal redirect to a path that "
		    "is not a handler", NULL);
	if (strchr(raw, '%') != NULL && strcspn(raw, "%") < strcspn(raw, "?"))
		return static_escaped(h);
	return 0;
}

static int
handle(struct mg_connection *conn, void *cbdata)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	struct reqhead_info rh;
	struct http_ctx *hp;
	int status;

	(void)cbdata;
	/* civetweb's worker stacks are small: request state is lent. */
	if ((hp = bufpool_get(BUF_HTTP_CTX)) == NULL) {
		log_msg(tls.reqid, "%s %s -> 503: out of memory",
		    ri->request_method, ri->local_uri_raw);
		mg_printf(conn, "HTTP/1.1 503 Service Unavailable\r\n"
		    "Content-Length: 0\r\nRetry-After: 1\r\n"
		    "Connection: close\r\n\r\n");
		mg_disable_connection_keep_alive(conn);
		return 503;	/* end_request writes its row */
	}
#define h (*hp)
	memset(&h, 0, sizeof(h));
	h.conn = conn;
	h.cfg = atomic_load(&cfg);
	h.start_us = tls.start ? tls.start : clk_now_us();
	snprintf(h.reqid, sizeof(h.reqid), "%s", tls.reqid);
	h.head = strcmp(ri->request_method, "HEAD") == 0;
	h.keep_alive = want_keep_alive(conn) && !http_draining();
	h.t.ts = clk_wall();
	h.t.exit_status = -1;
	h.t.connect_us = -1;
	h.stats = -1;
	snprintf(h.t.request_id, sizeof(h.t.request_id), "%s", h.reqid);
	snprintf(h.t.method, sizeof(h.t.method), "%s", ri->request_method);
	snprintf(h.t.path, sizeof(h.t.path), "%s", ri->local_uri_raw);
	snprintf(h.t.mode, sizeof(h.t.mode), "static");
	tls.outlen = 0;

	if ((status = conn_vet_head(ri, &rh)) != 0) {
		/* Nothing after this head can be trusted: close. */
		snprintf(h.t.mode, sizeof(h.t.mode), "http");
		h.keep_alive = 0;
		status = http_error(&h, status, rh.why, NULL);
	} else {
		h.expect_continue = rh.expect_continue;
		status = dispatch(&h, ri->local_uri_raw);
	}
	while (status == 0 && h.redirect[0] != '\0') {
		/* RFC 3875 6.2.2: serve the new path as a fresh GET. */
		memcpy(h.uri, h.redirect, sizeof(h.uri));
		h.redirect[0] = '\0';
		h.hops++;
		status = dispatch(&h, h.uri);
	}
	if (status != 0) {
		tls.answered = 1;
		if (h.t.status == 0)	/* answered through civetweb */
			h.t.status = status;
		h.t.total_us = (long long)(clk_now_us() - h.start_us);
		timelog_push(&h.t);
		stats_leave(&h.t, h.stats);
	}
	/* 0: civetweb serves it, end_request logs it. */
	bufpool_put(BUF_HTTP_OUT, tls.out);
	tls.out = NULL;
	tls.outlen = 0;
	bufpool_put(BUF_HTTP_CTX, hp);
	return status;
#undef h
}

void
http_reqid(char *buf, size_t len)
{
	snprintf(buf, len, "r%llu",
	    (unsigned long long)atomic_fetch_add(&reqseq, 1) + 1);
}

const char *
http_status_text(int status)
{
	return mg_get_response_code_text(NULL, status);
}

/*
 * Every connection civetweb serves comes from the door, which knows its
 * client; any other that reaches the internal port is refused.
 */
static int
begin_request(struct mg_connection *conn)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	char addr[64];
	int port, sport, stalled;

	atomic_fetch_add(&inflight, 1);
	tls.start = clk_now_us();
	tls.answered = 0;
	tls.in_request = 1;
	http_reqid(tls.reqid, sizeof(tls.reqid));
	if (door_peer(ri->remote_port, addr, sizeof(addr), &port, &sport,
	    &stalled) == 0)
		return 0;
	log_msg(tls.reqid, "connection to the internal port from %s port %d "
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
	struct timing t;

	atomic_fetch_sub(&inflight, 1);
	tls.in_request = 0;
	if (tls.answered || ri == NULL)
		return;
	memset(&t, 0, sizeof(t));
	t.ts = clk_wall();
	t.exit_status = -1;
	snprintf(t.request_id, sizeof(t.request_id), "%s", tls.reqid);
	snprintf(t.mode, sizeof(t.mode), "static");
	snprintf(t.method, sizeof(t.method), "%s",
	    ri->request_method ? ri->request_method : "");
	snprintf(t.path, sizeof(t.path), "%s",
	    ri->local_uri_raw ? ri->local_uri_raw : "");
	t.status = status;
	t.total_us = tls.start ? (long long)(clk_now_us() - tls.start) : 0;
	timelog_push(&t);
	stats_leave(&t, -1);
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
	char id[24], addr[64];
	int port, sport, stalled;

	if (tls.in_request)
		return 1;	/* a request's own error: end_request logs it */
	http_reqid(id, sizeof(id));
	if (ri == NULL || door_peer(ri->remote_port, addr, sizeof(addr),
	    &port, &sport, &stalled) == -1)
		snprintf(addr, sizeof(addr), "?");
	log_msg(id, "request from %s refused by civetweb -> %d: %s", addr,
	    status, msg);
	memset(&t, 0, sizeof(t));
	t.ts = clk_wall();
	t.exit_status = -1;
	t.connect_us = -1;
	t.status = status;
	snprintf(t.request_id, sizeof(t.request_id), "%s", id);
	snprintf(t.mode, sizeof(t.mode), "http");
	snprintf(t.error, sizeof(t.error), "%s", msg);
	timelog_push(&t);
	stats_leave(&t, -1);
	return 1;
}

static int
log_message(const struct mg_connection *conn, const char *msg)
{
	(void)conn;
	log_msg(NULL, "civetweb: %s", msg);
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

void
http_set_config(const struct config *c)
{
	atomic_store(&cfg, c);
	door_set_config(c);
}

int
http_start(const struct config *c)
{
	struct mg_callbacks cb;
	struct mg_server_port sp[1];
	char threads[16];
	const char *opts[40];
	int i, n = 0, port;

	atomic_store(&cfg, c);
	/* The door listens; civetweb only where the door connects. */
	for (i = 0; i < c->nlisten; i++) {
		if (door_listen(c->listen[i], &port) == -1) {
			log_msg(NULL, "listen %s: %s", c->listen[i],
			    strerror(errno));
			return -1;
		}
		log_msg(NULL, "listening on %.*s:%d",
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
		log_msg(NULL, "http_start: civetweb did not start");
		return -1;
	}
	mg_set_auth_handler(ctx, "/", authorize, NULL);
	mg_set_request_handler(ctx, "/", handle, NULL);
	if (mg_get_server_ports(ctx, 1, sp) != 1 ||
	    door_start(c, sp[0].port) == -1) {
		http_stop_drain(0);
		return -1;
	}
	return 0;
}

uint64_t
http_drain_deadline(void)
{
	return atomic_load(&drain_deadline);
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
	mg_stop(ctx);
	ctx = NULL;
	door_stop();
}
