/*
 * fuzz_cgiresp.c: the CGI response header parser, fed as a pipe feeds it.
 *
 * Input: two control bytes, then what a handler writes on stdout.  The
 * control bytes cut the output into reads (fuzz.h); bit 7 of the first
 * repeats the output past CGIRESP_MAX_HEADER, so the bound is reached
 * without inputs that long.  The output is parsed twice, in pieces and in
 * one call: the result may not depend on where reads end.  A parsed block
 * is then held to what RFC 3875 6 and the parser's own comment promise:
 * only valid names, no control characters, no framing fields, and every
 * value is what its line holds, so nothing reaches the client that the
 * handler did not write, and nothing it wrote is silently cut.
 */
#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "cgigate.h"
#include "fuzz.h"

static struct cgiresp	 whole, piecewise;
static char		 stream[CGIRESP_MAX_HEADER + 4096];

static int
tchar(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/*
 * The last Content-Length among the lines of s[0..end), read the slow
 * way: -1 when there is none, -2 when it is not a number that fits.
 */
static long long
written_length(const char *s, size_t end)
{
	const char *line, *eol, *v;
	long long n = -1;

	for (line = s; line < s + end; line = eol + 1) {
		eol = memchr(line, '\n', s + end - line);
		CHECK(eol != NULL);
		if (eol - line < 15 || strncasecmp(line, "content-length:", 15))
			continue;
		for (v = line + 15; *v == ' ' || *v == '\t'; v++)
			;
		for (n = 0; v < eol && isdigit((unsigned char)*v); v++) {
			if (n > (LLONG_MAX - (*v - '0')) / 10)
				return -2;
			n = n * 10 + (*v - '0');
		}
		for (; v < eol; v++)
			if (*v != ' ' && *v != '\t' && *v != '\r')
				return -2;
	}
	return n;
}

static void
check_block(const struct cgiresp *p, const char *s)
{
	const char *name, *value, *q;
	size_t nl, vl, k;
	int i, j;

	CHECK(p->body_off > 0 && p->body_off <= p->len);
	CHECK(p->len <= sizeof(p->buf));
	CHECK(p->buf[p->body_off - 1] == '\n');
	/* The body is left as it came. */
	CHECK(memcmp(p->buf + p->body_off, s + p->body_off,
	    p->len - p->body_off) == 0);
	CHECK(p->nfields >= 0 && p->nfields <= CGIRESP_MAX_FIELDS);
	if (p->status == 0)
		CHECK(p->location != NULL && p->location[0] == '/');
	else
		CHECK(p->status >= 200 && p->status <= 599);
	CHECK(strlen(p->reason) < sizeof(p->reason));
	for (q = p->reason; *q != '\0'; q++)
		CHECK(((unsigned char)*q >= 0x20 && *q != 0x7f) || *q == '\t');
	CHECK(p->content_length >= -1);
	CHECK(p->content_length == written_length(s, p->body_off));

	for (i = 0; i < p->nfields; i++) {
		name = p->fields[i].name;
		value = p->fields[i].value;
		CHECK(name >= p->buf && name < p->buf + p->body_off);
		CHECK(value > name && value < p->buf + p->body_off);
		nl = strlen(name);
		vl = strlen(value);
		CHECK(nl > 0);
		for (q = name; *q != '\0'; q++)
			CHECK(tchar((unsigned char)*q));
		CHECK(s[name - p->buf + nl] == ':');
		for (k = name - p->buf + nl + 1; k < (size_t)(value - p->buf);
		    k++)
			CHECK(s[k] == ' ' || s[k] == '\t');
		CHECK(strcasecmp(name, "Status") != 0);
		CHECK(strcasecmp(name, "Content-Length") != 0);
		CHECK(strcasecmp(name, "Connection") != 0);
		CHECK(strcasecmp(name, "Keep-Alive") != 0);
		CHECK(strcasecmp(name, "Transfer-Encoding") != 0);
		for (q = value; *q != '\0'; q++)
			CHECK(((unsigned char)*q >= 0x20 && *q != 0x7f) ||
			    *q == '\t');
		if (vl > 0)
			CHECK(value[0] != ' ' && value[0] != '\t' &&
			    value[vl - 1] != ' ' && value[vl - 1] != '\t');
		/* What the client gets is the rest of the line, all of it. */
		for (k = value - p->buf + vl; s[k] != '\n'; k++) {
			CHECK(k < p->body_off);
			CHECK(s[k] == ' ' || s[k] == '\t' || s[k] == '\r');
		}
		/* A lookup finds the first field of that name. */
		for (j = 0; strcasecmp(p->fields[j].name, name) != 0; j++)
			;
		CHECK(cgiresp_header(p, name) == p->fields[j].value);
	}
	CHECK(cgiresp_header(p, "Location") == p->location);
	CHECK(cgiresp_header(p, "status") == NULL);
	CHECK(cgiresp_header(p, "Transfer-Encoding") == NULL);
	(void)cgiresp_header(p, "Content-Type");
}

/* Both parses ended alike, down to where each field sits. */
static void
check_same(const struct cgiresp *a, const struct cgiresp *b)
{
	int i;

	CHECK(a->body_off == b->body_off);
	CHECK(a->status == b->status);
	CHECK(strcmp(a->reason, b->reason) == 0);
	CHECK(a->content_length == b->content_length);
	CHECK(a->nfields == b->nfields);
	CHECK((a->location == NULL) == (b->location == NULL));
	if (a->location != NULL)
		CHECK(a->location - a->buf == b->location - b->buf);
	for (i = 0; i < a->nfields; i++) {
		CHECK(a->fields[i].name - a->buf == b->fields[i].name - b->buf);
		CHECK(strcmp(a->fields[i].value, b->fields[i].value) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pieces pc;
	enum cgiresp_state st, st1;
	size_t len, off, n, used;

	if (size < 2)
		return 0;
	pieces_init(&pc, data[0], data[1]);
	len = size - 2;
	if (len > sizeof(stream))
		len = sizeof(stream);
	memcpy(stream, data + 2, len);
	if ((data[0] & 0x80) && len > 0)
		for (; len < sizeof(stream); len++)
			stream[len] = stream[len % (size - 2)];

	cgiresp_init(&piecewise);
	st = CGIRESP_MORE;
	for (off = 0; st == CGIRESP_MORE && off < len; off += used) {
		n = pieces_next(&pc, len - off);
		st = cgiresp_feed(&piecewise, stream + off, n, &used);
		CHECK(used <= n);
		if (st == CGIRESP_MORE)
			CHECK(used == n);
		CHECK(piecewise.len == off + used);
	}
	if (st == CGIRESP_MORE)
		st = cgiresp_eof(&piecewise);
	CHECK((st == CGIRESP_ERROR) == (piecewise.error != NULL));

	cgiresp_init(&whole);
	st1 = cgiresp_feed(&whole, stream, len, &used);
	CHECK(used <= len);
	if (st1 == CGIRESP_MORE) {
		CHECK(used == len);
		st1 = cgiresp_eof(&whole);
	}
	CHECK(st == st1);
	if (st == CGIRESP_ERROR) {
		CHECK(piecewise.error != NULL && whole.error != NULL);
		CHECK(strcmp(piecewise.error, whole.error) == 0);
		CHECK(cgiresp_feed(&piecewise, "x", 1, &used) ==
		    CGIRESP_ERROR);
		return 0;
	}
	check_same(&piecewise, &whole);
	check_block(&piecewise, stream);
	check_block(&whole, stream);
	return 0;
}
