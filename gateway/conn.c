/*
 * conn.c: what civetweb hides of a connection, recovered.
 *
 * civetweb hands a request handler neither the client's socket nor the
 * raw bytes of the request head.  The socket is found by its addresses
 * (once a request, by those that must poll it or see it close), and the
 * head's framing is read off what civetweb's in-place parse left in its
 * buffer: the NULs it wrote over white space, CRs and LFs.  Both lean on
 * civetweb 1.15's behaviour, described where it is used; nothing here
 * reads from or writes to the client.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <civetweb.h>

#include "cgigate.h"

/*
 * Did civetweb stop reading fields before the head's end?  It stops
 * without a word at its limit of MG_MAX_HEADERS and at the first line
 * that is no field (an obs-fold's leading white space, a line with no
 * name), and what it did not read is lost: a Content-Length behind such
 * a line would leave the body to be read as the next request.
 *
 * It parses the head in place, overwriting each line's CR and LF with
 * NULs, and the head's last byte with one.  So after the last value it
 * read, a line ending in CRLF leaves two NULs and then the next line, or
 * the blank line's CR; one ending in LF leaves one NUL and then the next
 * line, or the zeroed last byte.  Which of the two the head uses is read
 * off the line before (the request line for the first field): its end
 * left as many NULs.  Every byte looked at lies inside the head unless
 * the last line alone ends in a bare LF after CRLF lines and the head
 * fills civetweb's buffer to its last byte; then one more byte of that
 * buffer's allocation is read.
 */
static enum reqhead_end
head_end(const struct mg_request_info *ri)
{
	const struct mg_header *last;
	const char *p, *q;
	int n = ri->num_headers;

	if (n <= 0)
		return REQHEAD_WHOLE;	/* HTTP/1.1 needs a Host anyway */
	last = &ri->http_headers[n - 1];
	q = n > 1 ? ri->http_headers[n - 2].value : ri->http_version;
	q += strlen(q);
	p = last->value + strlen(last->value);
	if (p[1] != '\0' || (last->name - q >= 2 && p[2] != '\r'))
		return n >= MG_MAX_HEADERS ? REQHEAD_FULL : REQHEAD_CUT;
	return REQHEAD_WHOLE;
}

/*
 * civetweb keeps no trace of white space before a field's colon but
 * this: it zeroes that space and the colon both, so the byte after the
 * name's end is 0 where a plain "Name:" has the value or its leading
 * white space there.  (Either byte lies inside the field's own line.)
 */
int
conn_vet_head(const struct mg_request_info *ri, struct reqhead_info *out)
{
	struct cgi_header f[MG_MAX_HEADERS];
	unsigned char spaced[MG_MAX_HEADERS];
	const char *end;
	int i, n = ri->num_headers < MG_MAX_HEADERS ? ri->num_headers :
	    MG_MAX_HEADERS;

	for (i = 0; i < n; i++) {
		f[i].name = ri->http_headers[i].name;
		f[i].value = ri->http_headers[i].value;
		end = f[i].name + strlen(f[i].name);
		spaced[i] = end + 1 != f[i].value && end[1] == '\0';
	}
	return reqhead_vet(ri->http_version, f, n, spaced, head_end(ri), out);
}

/*
 * Civetweb does not hand out a connection's socket, so find it: the
 * descriptor whose peer is this request's client and whose local port is
 * the one it came in on.  Asked once a request, by those that wait on
 * the client or poll it.
 */
static int
find_client_fd(struct http_ctx *h)
{
	const struct mg_request_info *ri = mg_get_request_info(h->conn);
	struct sockaddr_storage ss;
	struct rlimit rl;
	char addr[INET6_ADDRSTRLEN];
	socklen_t len;
	int fd, max, port;

	max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ?
	    (int)rl.rlim_cur : 65536;
	for (fd = 3; fd < max; fd++) {
		len = sizeof(ss);
		if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
			continue;
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &in->sin_addr, addr, sizeof(addr));
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &in6->sin6_addr, addr,
			    sizeof(addr));
			port = ntohs(in6->sin6_port);
		} else
			continue;
		if (port != ri->remote_port || strcmp(addr, ri->remote_addr))
			continue;
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
		    ((ss.ss_family == AF_INET && ntohs(((struct sockaddr_in *)
		    &ss)->sin_port) == ri->server_port) ||
		    (ss.ss_family == AF_INET6 && ntohs(((struct sockaddr_in6 *)
		    &ss)->sin6_port) == ri->server_port)))
			return fd;
	}
	return -1;
}

int
conn_closed(struct http_ctx *h)
{
	char c;
	ssize_t n;
	int fd;

	if (h->client_fd == 0) {	/* not looked for yet */
		fd = find_client_fd(h);
		h->client_fd = fd >= 0 ? fd + 1 : -1;
	}
	if (h->client_fd < 0)
		return 0;
	n = recv(h->client_fd - 1, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		h->client_gone = 1;
		return 1;
	}
	return 0;
}

int
conn_socket(struct http_ctx *h)
{
	int fd;

	if (h->client_fd == 0) {	/* not looked for yet */
		fd = find_client_fd(h);
		h->client_fd = fd >= 0 ? fd + 1 : -1;
	}
	return h->client_fd > 0 ? h->client_fd - 1 : -1;
}
