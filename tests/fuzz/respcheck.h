/*
 * respcheck.h: an answer as httpout.c wrote it, read back the way the
 * door reads it (framing.c), for fuzz_httpout and fuzz_relay.
 *
 * The head must parse, with the status and version it was given and a
 * Connection that says what httpout decided; no Content-Length goes with
 * a 1xx or 204.  The body behind it must be framed so that a client
 * takes exactly what httpout was meant to send: with a Content-Length,
 * the bytes written up to it and nothing after; chunked, all of them,
 * and the last chunk unless the answer was cut; close-delimited, all of
 * them; for HEAD, 1xx, 204 and 304, nothing at all.
 */
#ifndef RESPCHECK_H
#define RESPCHECK_H

#include <string.h>
#include <strings.h>

#include "cgigate.h"
#include "fuzz.h"

struct resp_want {
	int		 minor;
	int		 head_req;
	int		 status;
	long long	 length;	/* declared, -1: none */
	const char	*body;		/* all httpout_body was given */
	size_t		 bodylen;
	int		 ka_head;	/* o->keep_alive after httpout_head */
	int		 ka_end;	/* and after httpout_end */
	int		 truncated;	/* what httpout_end was told */
	int		 cut;		/* what it returned */
};

/* Does the head h[0..n) have a field named name (lower case)? */
static inline int
resp_has_field(const char *h, size_t n, const char *name)
{
	size_t k = strlen(name), i;

	for (i = 0; i + 1 + k < n; i++)
		if (h[i] == '\n' && strncasecmp(h + i + 1, name, k) == 0 &&
		    h[i + 1 + k] == ':')
			return 1;
	return 0;
}

/*
 * The data of the chunked body s[0..n), which framing.c has accepted
 * whole (through the last chunk or not): is it want[0..wn)?
 */
static inline void
resp_chunks(const char *s, size_t n, const char *want, size_t wn)
{
	size_t p = 0, got = 0, size;
	int c;

	while (p < n) {
		for (size = 0; p < n && s[p] != '\r'; p++) {
			c = (unsigned char)s[p];
			/* httpout writes lower-case hex, no leading zero */
			CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
			CHECK(size != 0 || c != '0' ||
			    (p + 1 < n && s[p + 1] == '\r'));
			size = size * 16 + (size_t)(c <= '9' ? c - '0' :
			    c - 'a' + 10);
		}
		CHECK(p + 1 < n && s[p + 1] == '\n');
		p += 2;
		if (size == 0) {
			CHECK(p + 2 == n && memcmp(s + p, "\r\n", 2) == 0);
			break;
		}
		CHECK(size <= n - p && size <= wn - got);
		CHECK(memcmp(s + p, want + got, size) == 0);
		got += size;
		p += size + 2;
	}
	CHECK(got == wn);
}

static inline void
resp_check(const char *out, size_t n, const struct resp_want *w)
{
	struct framing_resp r;
	struct framing f;
	const char *body;
	size_t rest, k;
	long h;
	int allowed;

	allowed = !w->head_req && w->status >= 200 && w->status != 204 &&
	    w->status != 304;
	h = framing_response(out, n, n + 1, w->head_req, &r);
	CHECK(h > 0);
	CHECK(r.status == w->status);
	CHECK(r.minor == w->minor);
	if (w->status != 101)
		CHECK(r.close == !w->ka_head);
	if (w->status < 200 || w->status == 204)
		CHECK(!resp_has_field(out, (size_t)h, "content-length"));
	CHECK(w->cut == 0 || w->cut == 1);
	if (w->cut)
		CHECK(!w->ka_end);
	else
		CHECK(w->ka_end == w->ka_head);
	body = out + h;
	rest = n - (size_t)h;

	if (!allowed) {
		CHECK(r.kind == (w->status == 101 ? FRAMING_CLOSE :
		    FRAMING_NONE));
		CHECK(rest == 0);
		CHECK(w->cut == w->truncated);
		return;
	}
	if (w->length >= 0) {
		CHECK(r.kind == FRAMING_SIZED && r.length == w->length);
		k = (unsigned long long)w->length < w->bodylen ?
		    (size_t)w->length : w->bodylen;
		/* The bytes up to the length, and nothing after them. */
		CHECK(rest == k);
		CHECK(memcmp(body, w->body, k) == 0);
		CHECK(w->cut == (w->truncated ||
		    (unsigned long long)w->length > w->bodylen));
	} else if (w->minor >= 1) {
		CHECK(r.kind == FRAMING_CHUNKED);
		framing_init(&f, FRAMING_CHUNKED, 0);
		CHECK(framing_feed(&f, body, rest) == rest);
		CHECK(f.error == NULL);
		CHECK(f.done == !w->truncated);
		CHECK(f.data == (long long)w->bodylen);
		resp_chunks(body, rest, w->body, w->bodylen);
		CHECK(w->cut == w->truncated);
	} else {
		CHECK(r.kind == FRAMING_CLOSE && r.close);
		CHECK(rest == w->bodylen);
		CHECK(memcmp(body, w->body, rest) == 0);
		CHECK(w->cut == w->truncated);
	}
}

#endif
