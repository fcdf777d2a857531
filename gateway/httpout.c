/*
 * httpout.c: an HTTP/1.x response, framed as it is written.
 *
 * Pure: the bytes go to a write callback (http.c gathers them into one
 * buffer per request and sends it on).  The head decides the framing
 * once, from the status, the request and what the handler declared:
 * Content-Length when it gave one, chunked for HTTP/1.1 otherwise, or
 * the end of the connection for HTTP/1.0.  A HEAD request, a 1xx, 204
 * or 304 answer has no body whatever follows (RFC 9110 6.4.1).
 *
 * A declared length is held to: bytes beyond it are dropped, since on a
 * kept-alive connection they would be read as the next response, and a
 * body that ends short of it ends the connection, so that the client
 * sees the cut (RFC 9112 8).  A chunked body that is cut short gets no
 * last chunk, for the same reason.
 */
#include <stdio.h>
#include <string.h>

#include "cgigate.h"

void
httpout_init(struct httpout *o, int minor, int head_req, int keep_alive,
    int (*write)(void *, const char *, size_t), void *arg)
{
	memset(o, 0, sizeof(*o));
	o->write = write;
	o->arg = arg;
	o->minor = minor;
	o->head_req = head_req;
	o->keep_alive = keep_alive;
}

const char *
httpout_reason(int status)
{
	static const struct {
		int		 code;
		const char	*text;
	} tab[] = {
		{ 100, "Continue" }, { 101, "Switching Protocols" },
		{ 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
		{ 203, "Non-Authoritative Information" },
		{ 204, "No Content" }, { 205, "Reset Content" },
		{ 206, "Partial Content" }, { 207, "Multi-Status" },
		{ 300, "Multiple Choices" }, { 301, "Moved Permanently" },
		{ 302, "Found" }, { 303, "See Other" },
		{ 304, "Not Modified" }, { 305, "Use Proxy" },
		{ 307, "Temporary Redirect" }, { 308, "Permanent Redirect" },
		{ 400, "Bad Request" }, { 401, "Unauthorized" },
		{ 402, "Payment Required" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 406, "Not Acceptable" },
		{ 407, "Proxy Authentication Required" },
		{ 408, "Request Timeout" }, { 409, "Conflict" },
		{ 410, "Gone" }, { 411, "Length Required" },
		{ 412, "Precondition Failed" },
		{ 413, "Content Too Large" },
		{ 414, "URI Too Long" },
		{ 415, "Unsupported Media Type" },
		{ 416, "Range Not Satisfiable" },
		{ 417, "Expectation Failed" }, { 421, "Misdirected Request" },
		{ 422, "Unprocessable Content" }, { 423, "Locked" },
		{ 424, "Failed Dependency" }, { 426, "Upgrade Required" },
		{ 428, "Precondition Required" },
		{ 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" },
		{ 451, "Unavailable For Legal Reasons" },
		{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
		{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
		{ 505, "HTTP Version Not Supported" },
		{ 507, "Insufficient Storage" },
		{ 511, "Network Authentication Required" },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].code == status)
			return tab[i].text;
	/* A code of our own making has its class's name (RFC 9110 15). */
	switch (status / 100) {
	case 1: return "Information";
	case 2: return "Success";
	case 3: return "Redirection";
	case 4: return "Client Error";
	case 5: return "Server Error";
	}
	return "";
}

static int
put(struct httpout *o, const char *buf, size_t n)
{
	if (o->gone)
		return -1;
	if (n > 0 && o->write(o->arg, buf, n) == -1) {
		o->gone = 1;
		return -1;
	}
	return 0;
}

static int
puts_(struct httpout *o, const char *s)
{
	return put(o, s, strlen(s));
}

/* May a body follow a head with this status? */
static int
body_allowed(const struct httpout *o, int status)
{
	return !o->head_req && status != 204 && status != 304 &&
	    status >= 200;
}

int
httpout_head(struct httpout *o, int status, const char *reason,
    const struct cgi_header *f, int nf, const char *extra, long long length,
    const char *date)
{
	char line[128];
	int i;

	if (reason == NULL || *reason == '\0')
		reason = httpout_reason(status);
	o->status = status;
	if (length < 0 && body_allowed(o, status)) {
		if (o->minor >= 1)
			o->chunked = 1;
		else
			o->keep_alive = 0;	/* the close ends the body */
	}
	o->sized = length >= 0 && body_allowed(o, status);
	o->left = length;
	snprintf(line, sizeof(line), "HTTP/1.%d %d ", o->minor, status);
	puts_(o, line);
	puts_(o, reason);
	puts_(o, "\r\nDate: ");
	puts_(o, date);
	puts_(o, "\r\nServer: " CGIGATE_NAME "\r\n");
	for (i = 0; i < nf; i++) {
		puts_(o, f[i].name);
		put(o, ": ", 2);
		puts_(o, f[i].value);
		put(o, "\r\n", 2);
	}
	if (extra != NULL)
		puts_(o, extra);
	/* RFC 9110 8.6: none in a 1xx or 204. */
	if (length >= 0 && status != 204 && status >= 200) {
		snprintf(line, sizeof(line), "Content-Length: %lld\r\n",
		    length);
		puts_(o, line);
	} else if (o->chunked)
		puts_(o, "Transfer-Encoding: chunked\r\n");
	puts_(o, o->keep_alive ? "Connection: keep-alive\r\n\r\n" :
	    "Connection: close\r\n\r\n");
	return o->gone ? -1 : 0;
}

int
httpout_body(struct httpout *o, const char *buf, size_t n)
{
	char size[24];
	int k;

	if (n == 0 || o->status == 0 || !body_allowed(o, o->status))
		return o->gone ? -1 : 0;
	if (o->sized && (long long)n > o->left) {
		if (o->left >= 0)
			o->note = "output longer than its Content-Length";
		n = o->left > 0 ? (size_t)o->left : 0;
		o->left = -1;		/* owes nothing, and it has been said */
		if (n == 0)
			return o->gone ? -1 : 0;
	} else if (o->sized)
		o->left -= (long long)n;
	o->body_bytes += (long long)n;
	if (!o->chunked)
		return put(o, buf, n);
	k = snprintf(size, sizeof(size), "%zx\r\n", n);
	put(o, size, (size_t)k);
	put(o, buf, n);
	return put(o, "\r\n", 2);
}

int
httpout_raw(struct httpout *o, const char *buf, size_t n)
{
	o->keep_alive = 0;
	o->raw = 1;
	if (o->status == 0)
		o->status = 200;
	return put(o, buf, n);
}

int
httpout_end(struct httpout *o, int truncated)
{
	if (!truncated && o->sized && o->left > 0) {
		o->note = "truncated: output shorter than Content-Length";
		truncated = 1;
	}
	if (truncated)
		o->keep_alive = 0;
	else if (o->chunked && body_allowed(o, o->status))
		put(o, "0\r\n\r\n", 5);
	return truncated;
}
