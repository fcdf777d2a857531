/*
 * framing.c: where a message body ends, and what a response head says
 * about the body behind it.
 *
 * The front door relays bytes between a client and the internal server
 * without copying or holding a message, yet must know where each request
 * body and each response ends, so that the next message on either
 * connection is read from its first byte.  framing_feed is shown the
 * bytes as they stream past and says how many belong to the body;
 * framing_response reads a response head in place and gives its body the
 * framing RFC 9112 6.3 gives it.
 *
 * Chunked bodies are read by a grammar stricter than RFC 9112 7.1: a
 * subset of what civetweb 1.15's own chunked reader (mg_read in
 * src/civetweb.c) accepts, so that the two never disagree about where a
 * request body ends.  Whatever is accepted here civetweb reads the same
 * way; what is refused here it may read otherwise, or refuse too.
 *   - A chunk size is 1*HEXDIG then CRLF.  civetweb refuses any byte of
 *     the size line that is neither a hex digit nor a CR (nor the LF
 *     after a CR that follows a digit), so there are no chunk extensions,
 *     no white space and no bare LF.  (It lets a lone CR through, as in
 *     "5\r5\r\n"; that is refused here.)
 *   - The size line holds at most 61 digits (civetweb reads it into a
 *     64-byte buffer), of which at most 15 significant, so a size always
 *     fits and never turns negative where civetweb adds it up.
 *   - Chunk data is followed by exactly CRLF.
 *   - The last chunk ("0" CRLF, or more zeros) is followed by CRLF and
 *     nothing else: civetweb reads exactly two bytes there and keeps the
 *     connection only when they are CRLF; it reads no trailer fields, so
 *     a trailer section is refused here.
 *
 * Response heads are read as RFC 9112 has a client read them, lines
 * ending in CRLF or a bare LF; but since the bytes are relayed as they
 * came and cannot be mended on the way, a head the RFC lets a proxy
 * repair (an obs-fold, white space before a colon, a bare CR) or asks it
 * to treat as an error (both Transfer-Encoding and Content-Length,
 * Transfer-Encoding in HTTP/1.0, differing lengths) is refused.
 *
 * Pure: no I/O, no allocation, no locale (the character classes are
 * spelled out); every loop is bounded by the bytes it is given.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "cgigate.h"

#define SIZE_LINE_MAX	61	/* digits of a chunk size line */
#define SIZE_DIGITS_MAX	15	/* of them significant */

/* States of a chunked body. */
enum {
	CH_SIZE,	/* the hex digits of a chunk size */
	CH_SIZE_LF,	/* the CR after them */
	CH_DATA,	/* f->left bytes of chunk data */
	CH_DATA_CR,	/* the CRLF after them */
	CH_DATA_LF,
	CH_LAST_CR,	/* the CRLF after the last chunk's line */
	CH_LAST_LF
};

void
framing_init(struct framing *f, enum framing_kind kind, long long length)
{
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	switch (kind) {
	case FRAMING_NONE:
		f->done = 1;
		break;
	case FRAMING_SIZED:
		if (length < 0)
			f->error = "negative body length";
		else {
			f->left = length;
			f->done = length == 0;
		}
		break;
	case FRAMING_CHUNKED:
		f->state = CH_SIZE;
		break;
	case FRAMING_CLOSE:
		break;
	default:
		f->error = "unknown framing";
		break;
	}
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Stop at the i-th byte, which is not taken. */
static size_t
fail(struct framing *f, size_t i, const char *why)
{
	f->error = why;
	return i;
}

static size_t
feed_chunked(struct framing *f, const char *data, size_t n)
{
	size_t i = 0, k;
	int c, v;

	while (i < n && !f->done) {
		c = (unsigned char)data[i];
		switch (f->state) {
		case CH_SIZE:
			if ((v = hexval(c)) == -1) {
				if (c == '\r' && f->linelen > 0) {
					f->state = CH_SIZE_LF;
					break;
				}
				if (c == ';')
					return fail(f, i, "chunk extension");
				if (c == '\n')
					return fail(f, i, "chunk size line ends "
					    "in a bare LF");
				return fail(f, i, f->linelen > 0 ?
				    "chunk size is not hex digits" :
				    "chunk size missing");
			}
			if (++f->linelen > SIZE_LINE_MAX)
				return fail(f, i, "chunk size line too long");
			if (f->digits > 0 || v != 0) {
				if (++f->digits > SIZE_DIGITS_MAX)
					return fail(f, i, "chunk size too "
					    "large");
				f->left = f->left * 16 + v;
			}
			break;
		case CH_SIZE_LF:
			if (c != '\n')
				return fail(f, i, "chunk size line not ended "
				    "by CRLF");
			f->linelen = 0;
			f->digits = 0;
			f->state = f->left == 0 ? CH_LAST_CR : CH_DATA;
			break;
		case CH_DATA:
			k = n - i;
			if ((unsigned long long)f->left < k)
				k = (size_t)f->left;
			f->left -= (long long)k;
			f->total += (long long)k;
			f->data += (long long)k;
			i += k;
			if (f->left == 0)
				f->state = CH_DATA_CR;
			continue;
		case CH_DATA_CR:
		case CH_DATA_LF:
			if (c != (f->state == CH_DATA_CR ? '\r' : '\n'))
				return fail(f, i, "chunk data not followed by "
				    "CRLF");
			f->state = f->state == CH_DATA_CR ? CH_DATA_LF :
			    CH_SIZE;
			break;
		case CH_LAST_CR:
			/* civetweb 1.15 reads no trailer fields: see above. */
			if (c != '\r')
				return fail(f, i, "chunk trailer");
			f->state = CH_LAST_LF;
			break;
		case CH_LAST_LF:
			if (c != '\n')
				return fail(f, i, "last chunk not followed by "
				    "CRLF");
			f->done = 1;
			break;
		default:
			return fail(f, i, "chunked framing state lost");
		}
		i++;
		f->total++;
	}
	return i;
}

size_t
framing_feed(struct framing *f, const char *data, size_t n)
{
	size_t k;

	if (f->done || f->error != NULL || n == 0)
		return 0;
	switch (f->kind) {
	case FRAMING_SIZED:
		k = n;
		if ((unsigned long long)f->left < k)
			k = (size_t)f->left;
		f->left -= (long long)k;
		f->total += (long long)k;
		f->data += (long long)k;
		f->done = f->left == 0;
		return k;
	case FRAMING_CHUNKED:
		return feed_chunked(f, data, n);
	case FRAMING_CLOSE:
		if ((unsigned long long)(LLONG_MAX - f->total) < n)
			f->total = f->data = LLONG_MAX;
		else {
			f->total += (long long)n;
			f->data += (long long)n;
		}
		return n;
	default:
		return 0;
	}
}

/* RFC 9110 5.6.2 tchar. */
static int
tchar(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != '\0' &&
	    memchr("!#$%&'*+-.^_`|~", c, 15) != NULL);
}

/* What a field value or a reason phrase may hold: no control but HTAB. */
static int
textchar(int c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Is s[0..n) the lower-case word w, case aside? */
static int
is_word(const char *s, size_t n, const char *w)
{
	size_t i;

	if (strlen(w) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (lower((unsigned char)s[i]) != w[i])
			return 0;
	return 1;
}

static int
ows(int c)
{
	return c == ' ' || c == '\t';
}

/*
 * The line at buf[p..end): returns where its content ends (before CRLF
 * or a bare LF) with *next at the line after it, or -1 for a CR that
 * does not end the line.  The head's end has been found, so the LF is
 * there.
 */
static long
line_at(const char *buf, size_t p, size_t end, size_t *next)
{
	const char *nl = memchr(buf + p, '\n', end - p);
	size_t e = (size_t)(nl - buf);

	*next = e + 1;
	if (e > p && buf[e - 1] == '\r')
		e--;
	if (memchr(buf + p, '\r', e - p) != NULL)
		return -1;	/* RFC 9112 2.2: a bare CR */
	return (long)e;
}

/*
 * Where the head in buf[0..lim) ends, through its blank line; 0 when it
 * is not all there.
 */
static size_t
head_end(const char *buf, size_t lim)
{
	const char *nl;
	size_t p = 0, n;

	while (p < lim && (nl = memchr(buf + p, '\n', lim - p)) != NULL) {
		n = (size_t)(nl - (buf + p));
		if (p > 0 && (n == 0 || (n == 1 && buf[p] == '\r')))
			return p + n + 1;
		p += n + 1;
	}
	return 0;
}

/* The status line "HTTP/1.x 3DIGIT[ reason]" in s[0..n). */
static int
status_line(const char *s, size_t n, struct framing_resp *out)
{
	size_t i;

	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[8] != ' ')
		return -1;
	if (s[7] < '0' || s[7] > '9')
		return -1;
	out->minor = s[7] - '0';
	if (s[9] < '1' || s[9] > '9' || s[10] < '0' || s[10] > '9' ||
	    s[11] < '0' || s[11] > '9')
		return -1;
	out->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + s[11] - '0';
	if (n == 12)
		return 0;	/* no reason, not even its space */
	if (s[12] != ' ')
		return -1;
	for (i = 13; i < n; i++)
		if (!textchar((unsigned char)s[i]))
			return -1;
	return 0;
}

/* What the framing fields of a head say, field by field. */
struct fields {
	int		 ncl;		/* Content-Length fields */
	long long	 length;
	int		 nte;		/* Transfer-Encoding fields */
	int		 chunked;	/* the last coding is chunked */
	int		 conn_close;
	int		 keep_alive;
};

/* A Content-Length value: 1*DIGIT that fits, the same in every field. */
static int
content_length(const char *v, size_t n, struct fields *fl)
{
	long long x = 0;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		if (x > (INT64_MAX - 9) / 10)
			return -1;	/* no body that long is honest */
		x = x * 10 + (v[i] - '0');
	}
	if (fl->ncl++ > 0 && x != fl->length)
		return -1;	/* RFC 9112 6.3 (5): differing lengths */
	fl->length = x;
	return 0;
}

/*
 * The members of a comma list in v[0..n), white space around each cut
 * off, handed one by one to fn; an empty member is -1 when strict and
 * skipped otherwise (RFC 9110 5.6.1).
 */
static int
each_member(const char *v, size_t n, int strict,
    int (*fn)(const char *, size_t, struct fields *), struct fields *fl)
{
	size_t s = 0, e, b;

	for (;;) {
		for (e = s; e < n && v[e] != ','; e++)
			;
		for (b = s; b < e && ows(v[b]); b++)
			;
		while (e > b && ows(v[e - 1]))
			e--;
		if (e == b) {
			if (strict)
				return -1;
		} else if (fn(v + b, e - b, fl) == -1)
			return -1;
		while (e < n && v[e] != ',')
			e++;
		if (e == n)
			return 0;
		s = e + 1;
	}
}

/*
 * One transfer coding: is it chunked, with no parameters?  A quote is
 * refused, so that no comma inside a quoted parameter can pass for the
 * end of a coding.
 */
static int
coding(const char *s, size_t n, struct fields *fl)
{
	if (memchr(s, '"', n) != NULL)
		return -1;
	fl->chunked = is_word(s, n, "chunked");
	return 0;
}

static int
connection_option(const char *s, size_t n, struct fields *fl)
{
	if (is_word(s, n, "close"))
		fl->conn_close = 1;
	else if (is_word(s, n, "keep-alive"))
		fl->keep_alive = 1;
	return 0;
}

/* The field line s[0..n): "name:" OWS value OWS. */
static int
field_line(const char *s, size_t n, struct fields *fl)
{
	size_t i, c, b, e;

	/* RFC 9112 5.2: an obs-fold cannot be relayed as it stands. */
	if (n > 0 && ows(s[0]))
		return -1;
	for (c = 0; c < n && tchar((unsigned char)s[c]); c++)
		;
	/* RFC 9112 5.1: no white space between name and colon. */
	if (c == 0 || c == n || s[c] != ':')
		return -1;
	for (i = c + 1; i < n; i++)
		if (!textchar((unsigned char)s[i]))
			return -1;
	for (b = c + 1; b < n && ows(s[b]); b++)
		;
	for (e = n; e > b && ows(s[e - 1]); e--)
		;
	if (is_word(s, c, "content-length"))
		return content_length(s + b, e - b, fl);
	if (is_word(s, c, "transfer-encoding")) {
		fl->nte++;
		/* As reqhead.c does: an empty coding is not guessed at. */
		return each_member(s + b, e - b, 1, coding, fl);
	}
	if (is_word(s, c, "connection"))
		return each_member(s + b, e - b, 0, connection_option, fl);
	return 0;
}

long
framing_response(const char *buf, size_t len, size_t max, int head_request,
    struct framing_resp *out)
{
	struct fields fl;
	size_t lim, end, p, next;
	long e;

	memset(out, 0, sizeof(*out));
	memset(&fl, 0, sizeof(fl));
	if (max > LONG_MAX)
		max = LONG_MAX;
	lim = len < max ? len : max;
	/* Garbage is refused as soon as it shows, not at max bytes. */
	if (len > 0 && memcmp(buf, "HTTP/1.", len < 7 ? len : 7) != 0)
		return -1;
	if ((end = head_end(buf, lim)) == 0)
		return len >= max ? -1 : 0;

	if ((e = line_at(buf, 0, end, &next)) == -1 ||
	    status_line(buf, (size_t)e, out) == -1)
		return -1;
	for (p = next; ; p = next) {
		if ((e = line_at(buf, p, end, &next)) == -1)
			return -1;
		if ((size_t)e == p)
			break;	/* the blank line */
		if (field_line(buf + p, (size_t)e - p, &fl) == -1)
			return -1;
	}

	/*
	 * RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message is faulty
	 * framing.  RFC 9112 6.3 (3): with Content-Length too, it "ought to
	 * be handled as an error"; an intermediary may forward it only
	 * without the Content-Length, and the bytes are relayed as they are.
	 */
	if (fl.nte > 0 && (out->minor == 0 || fl.ncl > 0))
		return -1;

	out->close = fl.conn_close || (out->minor == 0 && !fl.keep_alive);
	if (out->status == 101) {
		/* The connection is another protocol's from here on. */
		out->kind = FRAMING_CLOSE;
		out->close = 1;
	} else if (out->status < 200 || out->status == 204 ||
	    out->status == 304 || head_request)
		out->kind = FRAMING_NONE;	/* RFC 9112 6.3 (1) */
	else if (fl.nte > 0) {
		/* RFC 9112 6.3 (4) */
		out->kind = fl.chunked ? FRAMING_CHUNKED : FRAMING_CLOSE;
		if (!fl.chunked)
			out->close = 1;
	} else if (fl.ncl > 0) {
		out->kind = FRAMING_SIZED;	/* RFC 9112 6.3 (6) */
		out->length = fl.length;
	} else {
		out->kind = FRAMING_CLOSE;	/* RFC 9112 6.3 (8) */
		out->close = 1;
	}
	return (long)end;
}
