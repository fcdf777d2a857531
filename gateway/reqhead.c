/*
 * reqhead.c: is a request head's framing unambiguous?
 *
 * Before anything is spawned or sent to a backend, the request's header
 * fields are held to RFC 9112: the body's length must be known one way
 * only (Content-Length or chunked, never both, never two different
 * lengths, never a length that is not a plain decimal number), an
 * HTTP/1.1 request names exactly one Host, an expectation other than
 * 100-continue is refused, and a head whose fields civetweb stopped
 * reading early (too many, or a line that is no field) is refused rather
 * than cut.  Each rule names the status the RFC
 * gives it; every such answer closes the connection, since what follows
 * the head on it can no longer be read safely.
 *
 * Pure: the caller (http.c) hands over the fields civetweb parsed, and
 * what it alone can see of the raw bytes (a field name that had white
 * space before its colon).  Nothing here reads a socket.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "cgigate.h"

/*
 * A Content-Length value: 1*DIGIT (RFC 9110 8.6), no sign, no list; the
 * white space after it is not part of it (RFC 9112 5).
 */
static int
parse_length(const char *v, long long *out)
{
	const char *end = v + strlen(v);
	long long n = 0;

	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (v == end)
		return -1;
	for (; v < end; v++) {
		if (*v < '0' || *v > '9')
			return -1;
		if (n > (INT64_MAX - 9) / 10)
			return -1;	/* no body that long is honest */
		n = n * 10 + (*v - '0');
	}
	*out = n;
	return 0;
}

/*
 * The transfer codings of one Transfer-Encoding field, appended to
 * *count and *last: how many there are and whether the last is chunked.
 * -1 on an empty member.
 */
static int
codings(const char *v, int *count, int *last_chunked)
{
	const char *s = v, *e;
	size_t n;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		e = s;
		while (*e != '\0' && *e != ',' && *e != ';')
			e++;
		n = (size_t)(e - s);
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n == 0)
			return -1;
		(*count)++;
		*last_chunked = n == 7 && strncasecmp(s, "chunked", 7) == 0;
		if (*e == ';') {	/* parameters belong to the coding */
			*last_chunked = 0;
			while (*e != '\0' && *e != ',')
				e++;
		}
		if (*e == '\0')
			return 0;
		s = e + 1;
	}
}

static int
reject(struct reqhead_info *out, int status, const char *why)
{
	out->why = why;
	return status;
}

/* Is v, less white space after it, the token t (case aside)? */
static int
value_is(const char *v, const char *t)
{
	size_t n = strlen(v), k = strlen(t);

	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	return n == k && strncasecmp(v, t, k) == 0;
}

int
reqhead_vet(const char *version, const struct cgi_header *f, int nf,
    const unsigned char *spaced, enum reqhead_end end,
    struct reqhead_info *out)
{
	int i, nhost = 0, ncl = 0, nte = 0, ncodings = 0, chunked = 0;
	int http11 = version != NULL && strcmp(version, "1.1") == 0;
	long long len;

	memset(out, 0, sizeof(*out));
	out->content_length = -1;
	if (end == REQHEAD_FULL)
		return reject(out, 431, "more header fields than cgigate "
		    "reads");
	/*
	 * RFC 9112 5.2: an obs-fold is refused; so is any line the fields
	 * stopped at, since a length or a close behind it was lost.
	 */
	if (end == REQHEAD_CUT)
		return reject(out, 400, "a header line that is no field "
		    "(obs-fold, or no name)");
	for (i = 0; i < nf; i++) {
		const char *name = f[i].name, *v = f[i].value;

		/* RFC 9112 5.1: no white space between name and colon. */
		if (spaced != NULL && spaced[i])
			return reject(out, 400, "white space before a header "
			    "field's colon");
		if (strcasecmp(name, "Host") == 0)
			nhost++;
		else if (strcasecmp(name, "Content-Length") == 0) {
			/* RFC 9112 6.3 (5): invalid or repeated is fatal. */
			if (++ncl > 1)
				return reject(out, 400, "more than one "
				    "Content-Length");
			if (parse_length(v, &len) == -1)
				return reject(out, 400, "Content-Length is not "
				    "a decimal number");
			out->content_length = len;
		} else if (strcasecmp(name, "Transfer-Encoding") == 0) {
			nte++;
			if (codings(v, &ncodings, &chunked) == -1)
				return reject(out, 400, "empty transfer coding");
		} else if (strcasecmp(name, "Expect") == 0 && http11) {
			/* RFC 9110 10.1.1; ignored in HTTP/1.0 requests. */
			if (!value_is(v, "100-continue"))
				return reject(out, 417, "expectation other than "
				    "100-continue");
			out->expect_continue = 1;
		}
	}
	if (nte > 0) {
		/* RFC 9112 6.1: HTTP/1.0 framing with it is faulty. */
		if (!http11)
			return reject(out, 400, "Transfer-Encoding in an "
			    "HTTP/1.0 request");
		/* RFC 9112 6.1: both is how requests are smuggled. */
		if (ncl > 0)
			return reject(out, 400, "both Transfer-Encoding and "
			    "Content-Length");
		/* RFC 9112 6.3 (4): the length cannot be determined. */
		if (!chunked)
			return reject(out, 400, "chunked is not the final "
			    "transfer coding");
		/* RFC 9112 6.1: chunked once; no other coding is known. */
		if (ncodings > 1)
			return reject(out, 501, "transfer coding other than "
			    "chunked");
		out->chunked = 1;
		out->content_length = -1;
	}
	/* RFC 9112 3.2: exactly one Host in HTTP/1.1; at most one else. */
	if (nhost > 1)
		return reject(out, 400, "more than one Host");
	if (nhost == 0 && http11)
		return reject(out, 400, "HTTP/1.1 request without Host");
	return 0;
}

/* Is c a tchar (RFC 9110 5.6.2)? */
static int
tchar(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) !=
	    NULL);
}

/* The end of the line at s (its LF, or its CR before an LF), in [s, e). */
static char *
line_end(char *s, char *e, char **next)
{
	char *lf = memchr(s, '\n', (size_t)(e - s));

	if (lf == NULL) {
		*next = e;
		return e;
	}
	*next = lf + 1;
	return lf > s && lf[-1] == '\r' ? lf - 1 : lf;
}

int
reqhead_split(char *buf, size_t len, struct reqline *rl,
    struct cgi_header *f, int maxf, int *nf, unsigned char *spaced,
    enum reqhead_end *end)
{
	char *e = buf + len, *s = buf, *le, *next, *p, *colon, *v, *ve;

	*nf = 0;
	*end = REQHEAD_WHOLE;
	if (memchr(buf, '\0', len) != NULL)
		return 400;
	/* request-line = method SP request-target SP HTTP-version */
	le = line_end(s, e, &next);
	*le = '\0';
	rl->method = s;
	for (p = s; tchar((unsigned char)*p); p++)
		;
	if (p == s || *p != ' ')
		return 400;
	*p++ = '\0';
	rl->target = p;
	while (*p > ' ' && *p != 0x7f)
		p++;
	if (p == rl->target || *p != ' ')
		return 400;
	*p++ = '\0';
	if (strncmp(p, "HTTP/", 5) != 0 || !isdigit((unsigned char)p[5]) ||
	    p[6] != '.' || !isdigit((unsigned char)p[7]) || p[8] != '\0')
		return 400;
	rl->version = p + 5;
	for (s = next; s < e; s = next) {
		le = line_end(s, e, &next);
		if (le == s)
			return 0;	/* the blank line: the head's end */
		*le = '\0';
		if (memchr(s, '\r', (size_t)(le - s)) != NULL)
			return 400;	/* a bare CR (RFC 9112 2.2) */
		if (*nf == maxf) {
			*end = REQHEAD_FULL;
			return 0;
		}
		if (*s == ' ' || *s == '\t' || (colon = strchr(s, ':')) ==
		    NULL || colon == s) {
			*end = REQHEAD_CUT;	/* obs-fold, or no name */
			return 0;
		}
		*colon = '\0';
		spaced[*nf] = 0;
		for (p = colon; p > s && (p[-1] == ' ' || p[-1] == '\t'); p--)
			p[-1] = '\0', spaced[*nf] = 1;
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		for (ve = le; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		*ve = '\0';
		f[*nf].name = s;
		f[*nf].value = v;
		(*nf)++;
	}
	return 0;
}
