/*
 * relay.c: what CGI and FastCGI requests share between the client and a
 * handler, whichever way the handler runs.
 *
 * Toward the handler: the request's RFC 3875 description (relay_request,
 * fed to cgienv.c) and its body, read from civetweb in pieces and counted
 * against max_body (relay_body).  From the handler: its output, parsed by
 * cgiresp.c until the header block is complete and then streamed through
 * http.c (relay_out), and its stderr, logged line by line with the request
 * id up to stderr_limit (relay_err).  relay_end and relay_client_gone turn
 * the way an exchange ended into the answer and the log line.
 *
 * The caller owns the transport (pipes or a FastCGI connection) and the
 * relay's memory; nothing here blocks except reading the request body.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <civetweb.h>

#include "cgigate.h"

/* A failed body read that took this long waited on the client. */
#define SLOW_READ_US	1000000

static pthread_mutex_t www_lock = PTHREAD_MUTEX_INITIALIZER;
static char www_real[PATH_MAX];
static atomic_int www_done;

/*
 * The www directory as DOCUMENT_ROOT: resolved by the first request, it
 * does not move (www is bound at start).
 */
static const char *
www_root(const struct config *cfg)
{
	if (atomic_load(&www_done))
		return www_real;
	pthread_mutex_lock(&www_lock);
	if (!atomic_load(&www_done)) {
		if (realpath(cfg->www, www_real) == NULL)
			snprintf(www_real, sizeof(www_real), "%s", cfg->www);
		atomic_store(&www_done, 1);
	}
	pthread_mutex_unlock(&www_lock);
	return www_real;
}

void
relay_init(struct relay *r, struct http_ctx *h, const struct route_conf *conf,
    struct cgiresp *p, int nph)
{
	const struct mg_request_info *ri = mg_get_request_info(h->conn);

	memset(r, 0, sizeof(*r));
	r->h = h;
	r->conf = conf;
	r->p = p;
	r->nph = nph;
	r->body_left = h->hops > 0 ? 0 : ri->content_length;
	if (r->body_left < 0 && mg_get_header(h->conn, "Transfer-Encoding"))
		r->body_left = -1;
	else if (r->body_left < 0)
		r->body_left = 0;
}

/* Log complete stderr lines (or the tail at the end), up to the cap. */
static void
log_err(struct relay *r, int final)
{
	char *line = r->errbuf, *nl, *end = r->errbuf + r->errlen;
	const struct config *cfg = r->h->cfg;

	while (line < end) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL && !final && (line > r->errbuf ||
		    r->errlen < sizeof(r->errbuf)))
			break;
		if (nl == NULL)
			nl = end;
		if ((long long)r->errlogged < cfg->stderr_cap)
			log_msg(r->h->reqid, "stderr: %.*s", (int)(nl - line),
			    line);
		else if ((long long)r->errlogged - (nl - line) <
		    cfg->stderr_cap)
			log_msg(r->h->reqid, "stderr: (more output dropped, "
			    "limit %lld bytes)", (long long)cfg->stderr_cap);
		r->errlogged += (size_t)(nl - line) + 1;
		line = nl < end ? nl + 1 : end;
	}
	memmove(r->errbuf, line, (size_t)(end - line));
	r->errlen = (size_t)(end - line);
}

void
relay_err(struct relay *r, const char *buf, size_t n)
{
	size_t k;

	while (n > 0) {
		k = sizeof(r->errbuf) - r->errlen;
		if (k > n)
			k = n;
		memcpy(r->errbuf + r->errlen, buf, k);
		r->errlen += k;
		buf += k;
		n -= k;
		log_err(r, 0);
	}
}

void
relay_err_end(struct relay *r)
{
	if (r->errlen > 0)
		log_err(r, 1);
}

/* Local Location without Status: internal redirect or a 302. */
static int
local_redirect(struct relay *r)
{
	struct http_ctx *h = r->h;

	if (r->conf->internal_redirect && h->hops < 5) {
		snprintf(h->redirect, sizeof(h->redirect), "%s",
		    r->p->location);
		return 1;
	}
	r->p->status = 302;
	return 0;
}

/*
 * An NPH handler's status, for the timing row: the code on its status
 * line ("HTTP/1.1 299 ..."), read from the first bytes it writes.
 */
static void
nph_status(struct relay *r, const char *buf, size_t n)
{
	size_t room = sizeof(r->nphline) - 1 - r->nphlen;
	const char *sp;
	int st;

	if (room == 0)
		return;
	if (n > room)
		n = room;
	memcpy(r->nphline + r->nphlen, buf, n);
	r->nphlen += n;
	r->nphline[r->nphlen] = '\0';
	if (r->nphlen < 12 && n > 0)
		return;			/* "HTTP/1.1 200" is 12 */
	if (strncmp(r->nphline, "HTTP/", 5) == 0 &&
	    (sp = strchr(r->nphline, ' ')) != NULL &&
	    sscanf(sp + 1, "%3d", &st) == 1 && st >= 100 && st <= 599)
		r->h->t.status = st;
	r->nphlen = sizeof(r->nphline) - 1;	/* read once */
}

int
relay_out(struct relay *r, const char *buf, size_t n)
{
	struct http_ctx *h = r->h;
	enum cgiresp_state st;
	size_t used;

	if (r->nph) {
		nph_status(r, buf, n);
		return http_send_raw(h, buf, n);
	}
	while (!r->headers_done) {
		st = cgiresp_feed(r->p, buf, n, &used);
		if (st == CGIRESP_MORE) {
			if (used == n)
				return 0;
			buf += used;
			n -= used;
			continue;
		}
		if (st == CGIRESP_ERROR) {
			r->fail = r->p->error;
			r->fail_status = 502;
			return -1;
		}
		if (r->p->status == 0 && local_redirect(r)) {
			r->headers_done = 2;
			return 0;
		}
		r->headers_done = 1;
		if (http_send_header(h, r->p, r->p->content_length) == -1 ||
		    http_send_body(h, r->p->buf + r->p->body_off,
		    r->p->len - r->p->body_off) == -1)
			return -1;
		buf += used;
		n -= used;
	}
	if (r->headers_done == 2 || n == 0)
		return 0;	/* an internal redirect discards the body */
	return http_send_body(h, buf, n);
}

ssize_t
relay_body(struct relay *r, char *buf, size_t len)
{
	struct http_ctx *h = r->h;
	uint64_t t0;
	int n;

	if (r->body_left == 0)
		return 0;
	if (r->body_left > 0 && (long long)len > r->body_left)
		len = (size_t)r->body_left;
	if (http_continue(h) == -1) {
		r->fail = "client went away before sending the body";
		return -1;
	}
	t0 = clk_now_us();
	n = mg_read(h->conn, buf, len);
	if (n <= 0 && door_stalled(mg_get_request_info(h->conn)->remote_port)) {
		/* the door saw the client stop sending (body_timeout) */
		r->fail = "request body stalled past body_timeout";
		r->fail_status = 408;
		h->keep_alive = 0;
		return -1;
	}
	if (n < 0 && r->body_left < 0 && !conn_closed(h)) {
		/*
		 * civetweb gave up on the chunked framing with the client
		 * still there: at once, it was a bad chunk size or a chunk
		 * extension (which it does not parse); after a wait, its
		 * request_timeout on a client that stopped sending.
		 */
		if (clk_now_us() - t0 >= SLOW_READ_US) {
			r->fail = "client too slow sending the request body";
			r->fail_status = 408;
		} else {
			r->fail = "malformed chunked request body";
			r->fail_status = 400;
		}
		h->keep_alive = 0;
		return -1;
	}
	if (n < 0) {
		r->fail = "client went away while sending the body";
		h->client_gone = 1;
		return -1;
	}
	if (n == 0 && r->body_left > 0) {
		/*
		 * mg_read's "no more data" short of the Content-Length (its
		 * contract allows it at EOF or past request_timeout; 1.15
		 * says -1 at EOF and, as measured, waits on a stalled client
		 * for good): an incomplete message (RFC 9112 8), never to
		 * reach the handler as if it were whole.
		 */
		r->fail = "request body shorter than its Content-Length";
		h->keep_alive = 0;
		if (conn_closed(h))
			return -1;
		r->fail_status = 408;
		return -1;
	}
	if (n == 0) {
		r->body_left = 0;
		return 0;
	}
	h->t.bytes_in += n;
	if (r->body_left > 0)
		r->body_left -= n;
	if (h->t.bytes_in > r->conf->max_body) {
		r->fail = "request body over max_body";
		r->fail_status = 413;
		return -1;
	}
	return n;
}

void
relay_request(struct http_ctx *h, const char *script_name,
    const char *script_filename, const char *document_root,
    const char *path_info, struct cgi_request *req, struct cgi_header *hdr)
{
	const struct mg_request_info *ri = mg_get_request_info(h->conn);
	static _Thread_local char proto[16], host[256];
	static _Thread_local char uri[8192], peer[64];
	const char *hv;
	int i, port, sport, stalled;

	memset(req, 0, sizeof(*req));
	req->method = h->hops > 0 ? "GET" : ri->request_method;
	if (h->hops == 0 && ri->query_string != NULL)
		snprintf(uri, sizeof(uri), "%s?%s", ri->local_uri_raw,
		    ri->query_string);
	else
		snprintf(uri, sizeof(uri), "%s", h->hops > 0 ? h->uri :
		    ri->local_uri_raw);
	req->request_uri = uri;
	req->query = ri->query_string;
	if (h->hops > 0)
		req->query = strchr(h->uri, '?') ? strchr(h->uri, '?') + 1 :
		    NULL;
	req->script_name = script_name;
	req->path_info = path_info;
	req->script_filename = script_filename;
	if (document_root == NULL)
		document_root = www_root(h->cfg);
	req->document_root = document_root;
	snprintf(host, sizeof(host), "%s", (hv = mg_get_header(h->conn,
	    "Host")) != NULL ? hv : "localhost");
	if (host[0] != '[' && strchr(host, ':') != NULL)
		*strchr(host, ':') = '\0';
	else if (host[0] == '[' && strstr(host, "]:") != NULL)
		strstr(host, "]:")[1] = '\0';
	req->server_name = host;
	req->server_port = ri->server_port;
	snprintf(proto, sizeof(proto), "HTTP/%s", ri->http_version);
	req->server_protocol = proto;
	req->remote_addr = ri->remote_addr;
	req->remote_port = ri->remote_port;
	if (door_peer(ri->remote_port, peer, sizeof(peer), &port, &sport,
	    &stalled) == 0) {
		req->remote_addr = peer;	/* the client, not the door */
		req->remote_port = port;
		req->server_port = sport;
	}
	req->remote_user = ri->remote_user;
	req->https = ri->is_ssl;
	req->content_length = h->hops > 0 ? -1 : ri->content_length;
	req->content_type = mg_get_header(h->conn, "Content-Type");
	for (i = 0; i < ri->num_headers && i < RELAY_MAX_HEADERS; i++) {
		hdr[i].name = ri->http_headers[i].name;
		hdr[i].value = ri->http_headers[i].value;
	}
	req->headers = hdr;
	req->nheaders = i;
	req->path_env = h->cfg->path_env;
}

int
relay_client_gone(struct relay *r)
{
	struct http_ctx *h = r->h;

	snprintf(h->t.error, sizeof(h->t.error), "%s",
	    r->fail ? r->fail : "client went away");
	log_msg(h->reqid, "%s; handler stopped", h->t.error);
	if (!h->sent_header)
		h->t.status = 499;
	http_finish(h, 1);
	return h->t.status;
}

int
relay_end(struct relay *r, int truncated)
{
	struct http_ctx *h = r->h;

	if (r->headers_done == 2)
		return 0;	/* internal redirect */
	if (!r->nph && !r->headers_done) {
		cgiresp_eof(r->p);
		return http_error(h, 502, h->t.signal > 0 ? h->t.error :
		    r->p->error, NULL);
	}
	http_finish(h, truncated);
	return h->t.status ? h->t.status : 200;
}
