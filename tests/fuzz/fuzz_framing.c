/*
 * fuzz_framing.c: response heads and bodies from a misbehaving server.
 *
 * Input: three control bytes, then a stream.  The first two cut the body
 * into reads (fuzz.h); bit 0 of the third says the request was HEAD, its
 * bit 7 sets a small head limit (64 to 316 bytes) instead of 64 KiB.  The
 * stream is parsed as a response head; its body is then framed as the
 * head says, or, when there is no head, the whole stream as a chunked
 * body, so the chunked grammar sees arbitrary bytes too.
 *
 * A head is held to framing_response's contract: its length ends on a
 * LF within the stream and the limit, every shorter prefix is
 * incomplete, and the limit is exact.  A body is fed three ways, whole,
 * a byte at a time and in pieces, and the three must agree to the byte:
 * where it ended, or where and why it was refused.  No feed takes more
 * than it was given.  A chunked body is also read by a model of
 * civetweb 1.15's chunked reader (mg_read): wherever framing_feed says
 * the body ended, civetweb must end it there too, with the connection
 * kept; while framing_feed still waits for more, so must civetweb.
 */
#include <limits.h>
#include <string.h>

#include "cgigate.h"
#include "fuzz.h"

/* What one way of feeding ended with. */
struct outcome {
	size_t		 taken;
	struct framing	 f;
};

static void
feed(struct outcome *o, enum framing_kind kind, long long length,
    const char *s, size_t n, struct pieces *pc)
{
	size_t i = 0, k, got;

	framing_init(&o->f, kind, length);
	o->taken = 0;
	while (i < n) {
		k = pc == NULL ? n - i : pieces_next(pc, n - i);
		got = framing_feed(&o->f, s + i, k);
		CHECK(got <= k);
		if (got < k)
			CHECK(o->f.done || o->f.error != NULL);
		CHECK(!(o->f.done && o->f.error != NULL));
		o->taken += got;
		i += k;
	}
}

static void
same(const struct outcome *a, const struct outcome *b)
{
	CHECK(a->taken == b->taken);
	CHECK(a->f.done == b->f.done);
	CHECK(a->f.total == b->f.total);
	CHECK(a->f.left == b->f.left);
	CHECK((a->f.error == NULL) == (b->f.error == NULL));
	if (a->f.error != NULL)
		CHECK(strcmp(a->f.error, b->f.error) == 0);
}

static int
hexdigit(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

enum cw { CW_MORE, CW_KEEP, CW_NOKEEP, CW_ERROR };

/*
 * Where civetweb 1.15 ends a chunked body in s[0..n), read from how its
 * mg_read behaves: a size line of up to 63 bytes in which CR may follow
 * anything but CR, LF ends it after a CR (not before its third byte),
 * and every other byte is a hex digit; the size is the hex digits before
 * the first CR, saturating as strtoul does.  Data, then CRLF.  After a
 * zero size, two bytes: CRLF keeps the connection (*end behind them),
 * anything else ends the body without keeping it.
 */
static enum cw
civetweb_chunked(const unsigned char *s, size_t n, size_t *end)
{
	unsigned char line[64];
	unsigned long long size;
	size_t p = 0, i, k;
	int whole;

	for (;;) {
		whole = 0;
		for (i = 0; i < sizeof(line) - 1; i++) {
			if (p == n)
				return CW_MORE;
			line[i] = s[p++];
			if (i > 0 && line[i] == '\r' && line[i - 1] != '\r')
				continue;
			if (i > 1 && line[i] == '\n' && line[i - 1] == '\r') {
				whole = 1;
				break;
			}
			if (!hexdigit(line[i]))
				return CW_ERROR;
		}
		if (!whole)
			return CW_ERROR;
		size = 0;
		for (k = 0; hexdigit(line[k]); k++) {
			int v = line[k] <= '9' ? line[k] - '0' :
			    (line[k] | 0x20) - 'a' + 10;

			size = size > (ULLONG_MAX - 15) / 16 ? ULLONG_MAX :
			    size * 16 + (unsigned)v;
		}
		if (line[k] != '\r')
			return CW_ERROR;
		if (size == 0) {
			if (n - p < 2)
				return CW_MORE;
			*end = p + 2;
			return s[p] == '\r' && s[p + 1] == '\n' ? CW_KEEP :
			    CW_NOKEEP;
		}
		if (n - p < size)
			return CW_MORE;
		p += (size_t)size;
		if (n - p < 2)
			return CW_MORE;
		if (s[p] != '\r' || s[p + 1] != '\n')
			return CW_ERROR;
		p += 2;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome whole, bytes, cut;
	struct framing_resp r, r2;
	struct pieces pc, one;
	const char *s, *body;
	enum framing_kind kind = FRAMING_CHUNKED;
	long long length = 0;
	size_t n, max, bn, end;
	int head_request;
	long h;
	enum cw cw;

	if (size < 3)
		return 0;
	pieces_init(&pc, data[0], data[1]);
	head_request = data[2] & 1;
	max = data[2] & 0x80 ? 64 + (size_t)(data[2] & 0x3f) * 4 : 65536;
	s = (const char *)data + 3;
	n = size - 3;

	h = framing_response(s, n, max, head_request, &r);
	CHECK(h >= -1 && h <= (long)n && h <= (long)max);
	if (h == 0)
		CHECK(n < max);
	body = s;
	bn = n;
	if (h > 0) {
		CHECK(s[h - 1] == '\n');
		CHECK(r.status >= 100 && r.status <= 999);
		CHECK(r.minor >= 0 && r.minor <= 9);
		CHECK(r.close == 0 || r.close == 1);
		if (r.kind == FRAMING_CLOSE)
			CHECK(r.close);
		if (r.kind == FRAMING_SIZED)
			CHECK(r.length >= 0);
		else
			CHECK(r.length == 0);
		/* A switch of protocols is one even in answer to HEAD. */
		if (r.status == 101)
			CHECK(r.kind == FRAMING_CLOSE);
		else if (head_request || r.status < 200 || r.status == 204 ||
		    r.status == 304)
			CHECK(r.kind == FRAMING_NONE);
		/* Where the head ends does not depend on what follows. */
		CHECK(framing_response(s, (size_t)h, max, head_request,
		    &r2) == h);
		CHECK(memcmp(&r, &r2, sizeof(r)) == 0);
		CHECK(framing_response(s, (size_t)h - 1, max, head_request,
		    &r2) == 0);
		CHECK(framing_response(s, n, (size_t)h, head_request,
		    &r2) == h);
		CHECK(framing_response(s, n, (size_t)h - 1, head_request,
		    &r2) == -1);
		kind = r.kind;
		length = r.length;
		body = s + h;
		bn = n - (size_t)h;
	}

	feed(&whole, kind, length, body, bn, NULL);
	pieces_init(&one, 0, 0);	/* max 1 << 0: a byte or none */
	feed(&bytes, kind, length, body, bn, &one);
	feed(&cut, kind, length, body, bn, &pc);
	same(&whole, &bytes);
	same(&whole, &cut);
	CHECK(whole.taken <= bn);
	CHECK(whole.f.total == (long long)whole.taken);

	switch (kind) {
	case FRAMING_NONE:
		CHECK(whole.taken == 0 && whole.f.done);
		break;
	case FRAMING_SIZED:
		CHECK(whole.f.error == NULL);
		CHECK(whole.taken == ((unsigned long long)length < bn ?
		    (size_t)length : bn));
		CHECK(whole.f.done == ((unsigned long long)length <= bn));
		break;
	case FRAMING_CLOSE:
		CHECK(whole.taken == bn && !whole.f.done &&
		    whole.f.error == NULL);
		break;
	case FRAMING_CHUNKED:
		cw = civetweb_chunked((const unsigned char *)body, bn, &end);
		if (whole.f.done) {
			CHECK(cw == CW_KEEP && end == whole.taken);
			CHECK(whole.taken >= 5);
			CHECK(memcmp(body + whole.taken - 2, "\r\n", 2) == 0);
		} else if (whole.f.error == NULL) {
			CHECK(whole.taken == bn);
			CHECK(cw == CW_MORE);
		} else
			CHECK(whole.taken < bn);
		break;
	}
	return 0;
}
