/*
 * fuzz_httpout.c: answers of every shape written by httpout.c and read
 * back by framing.c.
 *
 * Input: eight control bytes, then the body a handler writes.  Bytes 0
 * and 1 cut the body into writes (fuzz.h); 2 and 3 give the status (100
 * to 999); byte 4 holds flags: bit 0 HTTP/1.1 (else 1.0), 1 a HEAD
 * request, 2 the client's keep-alive, 3 the answer cut (httpout_end's
 * truncated), 4 a declared length, 5 a reason of our own, 6 an extra
 * field line; bytes 5 and 6 the length (0 to 4095); byte 7 bit 7 an
 * nph- answer (httpout_raw), its low bits the write call that fails
 * (0: none).
 *
 * Whatever the shape, the answer must read back as respcheck.h says:
 * the head parses with the status, version and Connection httpout
 * decided, and the body framing delivers exactly the bytes due; o->note
 * is set when, and only when, the body missed its declared length.  A
 * failing write is the last one made: every call after it returns -1
 * (httpout_end aside, which returns what was cut) and what went out is
 * a prefix of the answer that would have gone.
 */
#include <string.h>

#include "cgigate.h"
#include "fuzz.h"
#include "respcheck.h"

#define DATE	"Sun, 06 Nov 1994 08:49:37 GMT"

/* What the write callback got. */
struct sinkbuf {
	char		*buf;
	size_t		 len, cap;
	int		 calls;
	int		 fail_at;	/* 0: never */
	int		 failed;
};

static int
out_write(void *arg, const char *buf, size_t n)
{
	struct sinkbuf *s = arg;

	CHECK(n > 0);
	CHECK(!s->failed);	/* nothing after a failed write */
	s->calls++;
	if (s->fail_at != 0 && s->calls == s->fail_at) {
		s->failed = 1;
		return -1;
	}
	CHECK(n <= s->cap - s->len);
	memcpy(s->buf + s->len, buf, n);
	s->len += n;
	return 0;
}

struct shape {
	int		 status, minor, head_req, keep_alive, truncated;
	long long	 length;
	const char	*reason;
	const char	*extra;
	int		 nph;
	uint8_t		 c0, c1;
};

/* Write the answer; in w what it was meant to be. */
static void
answer(const struct shape *sh, const char *body, size_t n,
    struct sinkbuf *sb, struct resp_want *w)
{
	static const struct cgi_header f[] = {
		{ "Content-Type", "text/plain" }, { "X-Fuzz", "1" },
	};
	struct httpout o;
	struct pieces pc;
	size_t i, k;
	int rc, cut, gone, sized;

	httpout_init(&o, sh->minor, sh->head_req, sh->keep_alive, out_write,
	    sb);
	pieces_init(&pc, sh->c0, sh->c1);
	memset(w, 0, sizeof(*w));
	w->minor = sh->minor;
	w->head_req = sh->head_req;
	w->status = sh->status;
	w->length = sh->length;
	w->body = body;
	w->bodylen = n;
	w->truncated = sh->truncated;
	if (!sh->nph) {
		rc = httpout_head(&o, sh->status, sh->reason, f, 2, sh->extra,
		    sh->length, DATE);
		CHECK(rc == (o.gone ? -1 : 0));
		CHECK(o.status == sh->status);
		CHECK(!(o.chunked && o.sized));
		if (sh->minor == 0)
			CHECK(!o.chunked);
		w->ka_head = o.keep_alive;
	}
	i = 0;
	do {
		k = pieces_next(&pc, n - i);
		gone = o.gone;
		rc = sh->nph ? httpout_raw(&o, body + i, k) :
		    httpout_body(&o, body + i, k);
		CHECK(rc == 0 || rc == -1);
		CHECK(rc == (o.gone ? -1 : 0));
		if (gone)
			CHECK(rc == -1);
		if (sh->nph)
			CHECK(!o.keep_alive && o.status != 0);
		i += k;
	} while (i < n);
	cut = httpout_end(&o, sh->truncated);
	CHECK(cut == 0 || cut == 1);
	if (cut)
		CHECK(!o.keep_alive);
	w->cut = cut;
	w->ka_end = o.keep_alive;
	/* The note says what went wrong with a declared length, if so. */
	sized = !sh->nph && sh->length >= 0 && !sh->head_req &&
	    sh->status >= 200 && sh->status != 204 && sh->status != 304;
	if (sb->fail_at != 0)
		;	/* writes cut short: whatever the body came to */
	else if (sized && (unsigned long long)sh->length < n)
		CHECK(o.note != NULL && strcmp(o.note, "output longer than "
		    "its Content-Length") == 0);
	else if (sized && (unsigned long long)sh->length > n &&
	    !sh->truncated)
		CHECK(o.note != NULL && strcmp(o.note, "truncated: output "
		    "shorter than Content-Length") == 0);
	else
		CHECK(o.note == NULL);
	if (o.gone) {
		/* Every later call fails, and none writes. */
		CHECK(httpout_body(&o, "x", 1) == -1);
		CHECK(httpout_raw(&o, "x", 1) == -1);
		CHECK(httpout_head(&o, 200, NULL, NULL, 0, NULL, 0, DATE) ==
		    -1);
		httpout_end(&o, 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char empty[1];
	struct sinkbuf full, part;
	struct resp_want w, w2;
	struct shape sh;
	const char *body;
	size_t n;

	if (size < 8 || size > 65536)
		return 0;
	memset(&sh, 0, sizeof(sh));
	sh.c0 = data[0];
	sh.c1 = data[1];
	sh.status = 100 + (data[2] << 8 | data[3]) % 900;
	sh.minor = data[4] & 1;
	sh.head_req = (data[4] >> 1) & 1;
	sh.keep_alive = (data[4] >> 2) & 1;
	sh.truncated = (data[4] >> 3) & 1;
	sh.length = data[4] & 0x10 ? (data[5] | (data[6] & 0x0f) << 8) : -1;
	sh.reason = data[4] & 0x20 ? "Fuzzy Reason" : NULL;
	sh.extra = data[4] & 0x40 ? "Retry-After: 1\r\nX-Extra: \t y\r\n" :
	    NULL;
	sh.nph = data[7] >> 7;
	body = size > 8 ? (const char *)data + 8 : empty;
	n = size - 8;

	/* Whole chunk framing of one-byte writes is 6 bytes a byte. */
	memset(&full, 0, sizeof(full));
	full.cap = 8 * n + 1024;
	CHECK((full.buf = malloc(full.cap)) != NULL);
	answer(&sh, body, n, &full, &w);
	CHECK(!full.failed);
	if (sh.nph) {
		/* Bytes as they came, nothing added. */
		CHECK(full.len == n && memcmp(full.buf, body, n) == 0);
		CHECK(!w.ka_end && w.cut == sh.truncated);
	} else
		resp_check(full.buf, full.len, &w);

	if ((data[7] & 0x7f) != 0) {
		memset(&part, 0, sizeof(part));
		part.cap = full.cap;
		part.fail_at = data[7] & 0x7f;
		CHECK((part.buf = malloc(part.cap)) != NULL);
		answer(&sh, body, n, &part, &w2);
		CHECK(part.failed == (part.fail_at <= full.calls));
		CHECK(part.calls == (part.failed ? part.fail_at : full.calls));
		CHECK(part.len <= full.len);
		CHECK(memcmp(part.buf, full.buf, part.len) == 0);
		free(part.buf);
	}
	free(full.buf);
	return 0;
}
