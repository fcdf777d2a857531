/*
 * fuzz_fcgirec.c: the FastCGI record codec.
 *
 * Input: two control bytes, then what an application sends back for
 * request id 1.  The reply goes through fcgirec_parse cut into reads
 * (fuzz.h) and in one call, and is decoded a third time by a plain
 * whole-buffer reading of FastCGI spec 3.3 and 5.3-5.5; all three must
 * agree on the STDOUT and STDERR bytes and on how the reply ends.  The
 * same bytes then make a round trip through the encoders: as a STDOUT
 * stream framed by fcgirec_stream and read back by the parser, and split at
 * newlines into an environment for fcgirec_params, whose records are
 * checked byte by byte and whose name-value pairs (spec 3.4) must come
 * back as they went in.  Bit 7 of the first control byte makes both
 * payloads longer than one record's 65,535 bytes.  Last, the same reply
 * as an answer to FCGI_GET_VALUES: fcgirec_values reads no byte past
 * what it is given, and a shorter piece of it says "more" or what the
 * whole says, never another thing.
 */
#include <string.h>

#include <fastcgi.h>

#include "cgigate.h"
#include "fuzz.h"

#define ID		1
#define BIG		(FCGI_MAX_LENGTH + 4000)
#define MAX_ENV		64

enum end { END_MORE, END_END, END_ERROR };

struct got {
	unsigned char	*out, *err;
	size_t		 outlen, errlen;
	enum end	 end;
	unsigned	 app_status;
	int		 proto_status;
	const char	*error;
};

static void
got_init(struct got *g, size_t cap)
{
	memset(g, 0, sizeof(*g));
	g->out = malloc(cap + 1);
	g->err = malloc(cap + 1);
	CHECK(g->out != NULL && g->err != NULL);
}

static void
got_free(struct got *g)
{
	free(g->out);
	free(g->err);
}

/* One call to fcgirec_parse and what it promises about its answer. */
static enum fcgirec_event
parse(struct fcgirec_parser *p, const unsigned char *b, size_t len,
    size_t *used, struct got *g)
{
	const unsigned char *chunk;
	size_t clen;
	enum fcgirec_event ev;

	ev = fcgirec_parse(p, b, len, used, &chunk, &clen);
	CHECK(*used <= len);
	switch (ev) {
	case FCGIREC_EV_MORE:
		CHECK(*used == len);
		CHECK(p->state != FCGIREC_PS_DONE && p->state != FCGIREC_PS_ERROR);
		break;
	case FCGIREC_EV_STDOUT:
	case FCGIREC_EV_STDERR:
		CHECK(chunk != NULL && clen > 0);
		CHECK(chunk >= b && chunk + clen == b + *used);
		if (ev == FCGIREC_EV_STDOUT) {
			memcpy(g->out + g->outlen, chunk, clen);
			g->outlen += clen;
		} else {
			memcpy(g->err + g->errlen, chunk, clen);
			g->errlen += clen;
		}
		break;
	case FCGIREC_EV_END:
		CHECK(p->state == FCGIREC_PS_DONE);
		g->end = END_END;
		g->app_status = p->app_status;
		g->proto_status = p->proto_status;
		break;
	case FCGIREC_EV_ERROR:
		CHECK(p->state == FCGIREC_PS_ERROR && p->error != NULL);
		g->end = END_ERROR;
		g->error = p->error;
		break;
	}
	return ev;
}

/* Feed b in reads cut by pc, as fastcgi.c's on_input does. */
static void
run(const unsigned char *b, size_t len, struct pieces *pc, struct got *g)
{
	struct fcgirec_parser p;
	const unsigned char *chunk;
	size_t off = 0, n, used, clen;
	enum fcgirec_event ev;

	fcgirec_parser_init(&p, ID);
	while (off < len && g->end != END_ERROR) {
		n = pc != NULL ? pieces_next(pc, len - off) : len - off;
		do {
			ev = parse(&p, b + off, n, &used, g);
			off += used;
			n -= used;
		} while (n > 0 && ev != FCGIREC_EV_ERROR);
	}
	if (g->end == END_ERROR) {
		/* The connection stays unusable. */
		CHECK(fcgirec_parse(&p, b, len, &used, &chunk, &clen) ==
		    FCGIREC_EV_ERROR && used == 0);
		return;
	}
	CHECK(off == len);
	if (g->end == END_END)
		CHECK(parse(&p, b, 0, &used, g) == FCGIREC_EV_END);
}

/* The reply read whole, straight from the spec. */
static void
reference(const unsigned char *b, size_t len, struct got *g)
{
	size_t off = 0, clen, plen, have;
	unsigned id;
	int type;

	while (off < len) {
		if (g->end == END_END) {
			g->end = END_ERROR;
			return;
		}
		if (len - off < FCGI_HEADER_LEN)
			return;
		type = b[off + 1];
		id = (unsigned)b[off + 2] << 8 | b[off + 3];
		clen = (size_t)b[off + 4] << 8 | b[off + 5];
		plen = b[off + 6];
		if (b[off] != FCGI_VERSION_1 || (id != 0 && id != ID) ||
		    (id == ID && (type == FCGI_BEGIN_REQUEST ||
		    type == FCGI_ABORT_REQUEST || type == FCGI_PARAMS ||
		    type == FCGI_STDIN || type == FCGI_DATA ||
		    type == FCGI_GET_VALUES ||
		    (type == FCGI_END_REQUEST && clen != 8)))) {
			g->end = END_ERROR;
			return;
		}
		off += FCGI_HEADER_LEN;
		have = len - off < clen ? len - off : clen;
		if (id == ID && type == FCGI_STDOUT) {
			memcpy(g->out + g->outlen, b + off, have);
			g->outlen += have;
		} else if (id == ID && type == FCGI_STDERR) {
			memcpy(g->err + g->errlen, b + off, have);
			g->errlen += have;
		}
		if (have < clen || len - off - clen < plen)
			return;
		if (id == ID && type == FCGI_END_REQUEST) {
			g->end = END_END;
			g->app_status = (unsigned)b[off] << 24 |
			    (unsigned)b[off + 1] << 16 |
			    (unsigned)b[off + 2] << 8 | b[off + 3];
			g->proto_status = b[off + 4];
		}
		off += clen + plen;
	}
}

static void
check_same(const struct got *a, const struct got *b, int errors_too)
{
	CHECK(a->end == b->end);
	CHECK(a->outlen == b->outlen && memcmp(a->out, b->out,
	    a->outlen) == 0);
	CHECK(a->errlen == b->errlen && memcmp(a->err, b->err,
	    a->errlen) == 0);
	if (a->end == END_END)
		CHECK(a->app_status == b->app_status &&
		    a->proto_status == b->proto_status);
	if (errors_too && a->end == END_ERROR)
		CHECK(strcmp(a->error, b->error) == 0);
}

/* The payload as a STDOUT stream and an END_REQUEST, read back. */
static void
stream_trip(const unsigned char *s, size_t len, unsigned app,
    struct pieces *pc)
{
	unsigned char *b;
	size_t cap = fcgirec_stream_size(len) + 16, blen;
	struct got g;

	CHECK((b = malloc(cap)) != NULL);
	blen = fcgirec_stream(b, FCGI_STDOUT, ID, s, len);
	CHECK(blen <= fcgirec_stream_size(len));
	CHECK(blen % 8 == 0);
	fcgirec_header(b + blen, FCGI_END_REQUEST, ID, 8);
	memset(b + blen + 8, 0, 8);
	b[blen + 8] = (unsigned char)(app >> 24);
	b[blen + 9] = (unsigned char)(app >> 16);
	b[blen + 10] = (unsigned char)(app >> 8);
	b[blen + 11] = (unsigned char)app;
	got_init(&g, len);
	run(b, blen + 16, pc, &g);
	CHECK(g.end == END_END && g.app_status == app &&
	    g.proto_status == 0);
	CHECK(g.outlen == len && memcmp(g.out, s, len) == 0);
	CHECK(g.errlen == 0);
	got_free(&g);
	free(b);
}

/* A spec 3.4 length; *off moves past it. */
static size_t
get_len(const unsigned char *b, size_t len, size_t *off)
{
	size_t n;

	CHECK(*off < len);
	if (b[*off] < 128)
		return b[(*off)++];
	CHECK(len - *off >= 4);
	n = (size_t)(b[*off] & 0x7f) << 24 | (size_t)b[*off + 1] << 16 |
	    (size_t)b[*off + 2] << 8 | b[*off + 3];
	*off += 4;
	return n;
}

static void
params_trip(char *const *env, unsigned id)
{
	unsigned char *rec, *pairs;
	size_t len, off, clen, plen, k, nlen, vlen, plenall = 0;
	const char *eq;
	int i, last = 0;

	CHECK((rec = fcgirec_params(id, env, &len)) != NULL);
	CHECK((pairs = malloc(len)) != NULL);
	for (off = 0; off < len; off += FCGI_HEADER_LEN + clen + plen) {
		CHECK(!last && len - off >= FCGI_HEADER_LEN);
		CHECK(rec[off] == FCGI_VERSION_1 && rec[off + 1] == FCGI_PARAMS);
		CHECK(((unsigned)rec[off + 2] << 8 | rec[off + 3]) ==
		    (id & 0xffff));
		clen = (size_t)rec[off + 4] << 8 | rec[off + 5];
		plen = rec[off + 6];
		CHECK(rec[off + 7] == 0 && plen == fcgirec_pad(clen));
		CHECK(len - off - FCGI_HEADER_LEN >= clen + plen);
		memcpy(pairs + plenall, rec + off + FCGI_HEADER_LEN, clen);
		plenall += clen;
		for (k = 0; k < plen; k++)
			CHECK(rec[off + FCGI_HEADER_LEN + clen + k] == 0);
		last = clen == 0;
	}
	CHECK(last);
	for (off = 0, i = 0; env[i] != NULL; i++) {
		if ((eq = strchr(env[i], '=')) == NULL)
			continue;
		nlen = get_len(pairs, plenall, &off);
		vlen = get_len(pairs, plenall, &off);
		CHECK(nlen == (size_t)(eq - env[i]) && vlen == strlen(eq + 1));
		CHECK(plenall - off >= nlen + vlen);
		CHECK(memcmp(pairs + off, env[i], nlen) == 0);
		CHECK(memcmp(pairs + off + nlen, eq + 1, vlen) == 0);
		off += nlen + vlen;
	}
	CHECK(off == plenall);
	free(pairs);
	free(rec);
}

/* Lines of s as "NAME=value" strings, with a long one when big. */
static void
env_trip(const unsigned char *s, size_t len, unsigned id, int big)
{
	char *env[MAX_ENV + 2], *copy, *line, *next;
	int n = 0;

	CHECK((copy = malloc(len + 1)) != NULL);
	memcpy(copy, s, len);
	copy[len] = '\0';
	for (line = copy; line != NULL && n < MAX_ENV; line = next) {
		if ((next = memchr(line, '\n', copy + len - line)) != NULL)
			*next++ = '\0';
		env[n++] = line;
	}
	if (big) {
		CHECK((env[n] = malloc(BIG + 1)) != NULL);
		memset(env[n], 'v', BIG);
		memcpy(env[n], "BIG=", 4);
		env[n++][BIG] = '\0';
	}
	env[n] = NULL;
	params_trip(env, id);
	if (big)
		free(env[n - 1]);
	free(copy);
}

/* fcgirec_values on every prefix, up to 300 bytes, agrees with the whole. */
static void
values_trip(const unsigned char *s, size_t len)
{
	struct fcgirec_values v;
	const char *why = NULL;
	unsigned char *copy;
	size_t i;
	int whole, part;

	/* An exact-size copy: ASan sees any read past its end. */
	CHECK((copy = malloc(len + 1)) != NULL);
	memcpy(copy, s, len);
	whole = fcgirec_values(copy, len, &v, &why);
	CHECK(whole >= -1 && whole <= 1);
	CHECK(whole != -1 || why != NULL);
	for (i = 0; i < len && i < 300; i++) {
		part = fcgirec_values(copy, i, &v, &why);
		CHECK(part == 0 || part == whole);
	}
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pieces pc;
	struct got a, b, ref;
	const unsigned char *s = data + 2;
	unsigned char *big;
	size_t len, i;
	unsigned app;

	if (size < 2)
		return 0;
	len = size - 2;

	got_init(&a, len);
	got_init(&b, len);
	got_init(&ref, len);
	pieces_init(&pc, data[0], data[1]);
	run(s, len, &pc, &a);
	run(s, len, NULL, &b);
	reference(s, len, &ref);
	check_same(&a, &b, 1);
	check_same(&a, &ref, 0);
	got_free(&a);
	got_free(&b);
	got_free(&ref);

	app = (unsigned)data[1] << 24 | (unsigned)data[0] << 8 | data[1];
	if ((data[0] & 0x80) && len > 0) {
		/* Reads of 4 KB and up: a byte at a time is not news here. */
		pieces_init(&pc, 12 | (data[1] & 3), data[0]);
		CHECK((big = malloc(BIG)) != NULL);
		for (i = 0; i < BIG; i++)
			big[i] = s[i % len];
		stream_trip(big, BIG, app, &pc);
		free(big);
	} else {
		pieces_init(&pc, data[1], data[0]);
		stream_trip(s, len, app, &pc);
	}
	env_trip(s, len, (unsigned)data[0] << 8 | data[1], data[0] & 0x80);
	values_trip(s, len);
	return 0;
}
