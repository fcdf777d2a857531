/*
 * fuzz_relay.c: a handler's stdout and stderr through relay.c into
 * httpout.c, the answer read back by framing.c.
 *
 * Input: four control bytes, then what the handler writes.  Bytes 0 and
 * 1 cut it into writes (fuzz.h); byte 3, when not 0, seeds which writes
 * go to stderr rather than stdout (about one in four).  Byte 2 holds
 * flags: bit 0 an nph- handler, 1 internal redirects allowed, 2 a HEAD
 * request, 3 HTTP/1.1, 4 the client's keep-alive; bits 5 to 7 pick the
 * stderr cap (0 to 1 MiB).
 *
 * The sink behind the relay feeds httpout as http.c does and holds the
 * relay to its contract as the calls come: one head, and no body before
 * it; nothing at all once the output was refused; raw bytes only from
 * an nph- handler; stderr lines with no newline in them, only while
 * under the cap, then one NULL line and nothing more.  At the end: a
 * refused or unfinished header block sent nothing; a redirect sent
 * nothing and names a local path; the body is the stdout after the
 * header block, to the byte, and the answer reads back as respcheck.h
 * says; nph- output is the stdout as it came.  The delivered stderr
 * lines are the stderr with its newlines taken out, all of it unless
 * the cap was reached (then a prefix).  The stdout is fed once more in
 * one write to a second relay, which must end the same way.
 */
#include <string.h>

#include "cgigate.h"
#include "fuzz.h"
#include "respcheck.h"

#define DATE	"Sun, 06 Nov 1994 08:49:37 GMT"
#define MAXIN	65536

struct fz {
	struct httpout	 o;
	struct relay	*r;
	int		 nph;
	int		 refused;	/* relay_out said -1 with r->fail */
	int		 heads;
	int		 status;
	char		 reason[64];
	long long	 length;
	int		 nfields;
	int		 ka_head;
	char		 body[MAXIN];
	size_t		 bodylen;
	char		 raw[MAXIN];
	size_t		 rawlen;
	char		 out[8 * MAXIN + 65536];	/* httpout's bytes */
	size_t		 outlen;
	/* stderr */
	long long	 errcap, tally;
	int		 nulls;
	char		 errcat[MAXIN];
	size_t		 errlen;
};

static struct fz fz, ref;
static struct cgiresp resp, resp2;
static struct relay relay, relay2;
static char stdout_s[MAXIN], stderr_s[MAXIN];

static int
out_write(void *arg, const char *buf, size_t n)
{
	struct fz *z = arg;

	CHECK(n <= sizeof(z->out) - z->outlen);
	memcpy(z->out + z->outlen, buf, n);
	z->outlen += n;
	return 0;
}

static int
s_head(void *arg, const struct cgiresp *p)
{
	struct fz *z = arg;

	CHECK(!z->refused && !z->nph);
	CHECK(z->heads++ == 0);
	CHECK(z->bodylen == 0);
	CHECK(p->status >= 200 && p->status <= 599);
	CHECK(z->r->phase == RELAY_BODY);
	z->status = p->status;
	memcpy(z->reason, p->reason, sizeof(z->reason));
	z->length = p->content_length;
	z->nfields = p->nfields;
	CHECK(httpout_head(&z->o, p->status, p->reason, p->fields,
	    p->nfields, NULL, p->content_length, DATE) == 0);
	z->ka_head = z->o.keep_alive;
	return 0;
}

static int
s_body(void *arg, const char *buf, size_t n)
{
	struct fz *z = arg;

	CHECK(!z->refused && !z->nph);
	CHECK(z->heads == 1);		/* never a body before the head */
	CHECK(z->r->phase == RELAY_BODY);
	CHECK(n <= sizeof(z->body) - z->bodylen);
	memcpy(z->body + z->bodylen, buf, n);
	z->bodylen += n;
	return httpout_body(&z->o, buf, n);
}

static int
s_raw(void *arg, const char *buf, size_t n)
{
	struct fz *z = arg;

	CHECK(z->nph && z->heads == 0);
	CHECK(n <= sizeof(z->raw) - z->rawlen);
	memcpy(z->raw + z->rawlen, buf, n);
	z->rawlen += n;
	return httpout_raw(&z->o, buf, n);
}

static void
s_errline(void *arg, const char *line, size_t n)
{
	struct fz *z = arg;

	CHECK(z->nulls == 0);		/* nothing after the note */
	if (line == NULL) {
		CHECK(n == 0);
		CHECK(z->tally >= z->errcap);
		z->nulls++;
		return;
	}
	CHECK(z->tally < z->errcap);
	CHECK(n <= sizeof(z->r->errbuf));
	CHECK(memchr(line, '\n', n) == NULL);
	CHECK(n <= sizeof(z->errcat) - z->errlen);
	memcpy(z->errcat + z->errlen, line, n);
	z->errlen += n;
	z->tally += (long long)n + 1;
}

static const struct relay_sink sink = { s_head, s_body, s_raw, s_errline,
    &fz };
static const struct relay_sink sink2 = { s_head, s_body, s_raw, s_errline,
    &ref };

static void
fz_init(struct fz *z, struct relay *r, struct cgiresp *p,
    const struct relay_sink *s, int flags, long long errcap)
{
	z->r = r;
	z->nph = flags & 1;
	z->refused = 0;
	z->heads = 0;
	z->bodylen = z->rawlen = z->outlen = z->errlen = 0;
	z->errcap = errcap;
	z->tally = 0;
	z->nulls = 0;
	httpout_init(&z->o, (flags >> 3) & 1, (flags >> 2) & 1,
	    (flags >> 4) & 1, out_write, z);
	cgiresp_init(p);
	relay_init(r, s, p, flags & 1, (flags >> 1) & 1, errcap);
}

static void
out(struct fz *z, const char *buf, size_t n)
{
	size_t sent = z->outlen + z->bodylen + z->rawlen;
	int rc;

	rc = relay_out(z->r, buf, n);
	CHECK(rc == 0 || rc == -1);
	if (z->refused)
		CHECK(rc == -1);
	if (rc == -1) {
		/* The sink never fails here: the output was refused. */
		CHECK(z->r->fail != NULL && z->r->phase == RELAY_HEAD);
		CHECK(z->r->fail == z->r->p->error);
		CHECK(z->outlen + z->bodylen + z->rawlen == sent);
		CHECK(z->heads == 0);
		z->refused = 1;
	} else
		CHECK(z->r->fail == NULL);
}

/*
 * An nph- status line's code the slow way: the first 15 bytes, to a NUL,
 * "HTTP/" then up to the first space, white space, three digits in
 * 100..599 (a sign leaves room for two digits only, less than 100).
 */
static int
nph_code(const char *s, size_t n)
{
	char line[16];
	const char *p;

	memcpy(line, s, n < 15 ? n : 15);
	line[n < 15 ? n : 15] = '\0';
	if (strncmp(line, "HTTP/", 5) != 0 ||
	    (p = strchr(line, ' ')) == NULL)
		return 0;
	for (p++; *p != '\0' && strchr(" \t\n\v\f\r", *p) != NULL; p++)
		;
	if (p[0] < '1' || p[0] > '5' || p[1] < '0' || p[1] > '9' ||
	    p[2] < '0' || p[2] > '9')
		return 0;
	return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long long caps[8] = { 0, 1, 10, 100, 4096, 5000, 65536,
	    1 << 20 };
	struct pieces pc;
	struct resp_want w;
	enum relay_phase ph, ph2;
	const char *s;
	size_t n, i, k, nout = 0, nerr = 0, j, m;
	uint32_t x;
	int flags, cut;

	if (size < 4 || size - 4 > MAXIN)
		return 0;
	pieces_init(&pc, data[0], data[1]);
	flags = data[2];
	x = data[3] ? 0x2545f491u ^ data[3] : 0;
	s = (const char *)data + 4;
	n = size - 4;

	fz_init(&fz, &relay, &resp, &sink, flags, caps[flags >> 5]);
	for (i = 0; i < n; i += k) {
		k = pieces_next(&pc, n - i);
		if (x != 0) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
		}
		if (x != 0 && (x & 3) == 0) {
			memcpy(stderr_s + nerr, s + i, k);
			nerr += k;
			relay_err(&relay, s + i, k);
		} else {
			memcpy(stdout_s + nout, s + i, k);
			nout += k;
			out(&fz, s + i, k);
		}
	}
	relay_err_end(&relay);
	ph = relay_end(&relay);
	CHECK(ph == relay.phase);

	/* stderr: its lines, newlines out, all or up to the cap. */
	for (j = m = 0; j < nerr; j++) {
		if (stderr_s[j] == '\n')
			continue;
		if (m < fz.errlen)
			CHECK(fz.errcat[m] == stderr_s[j]);
		m++;
	}
	CHECK(fz.errlen <= m);
	CHECK(fz.errlen <= nerr);
	if (fz.nulls == 0)
		CHECK(fz.errlen == m);
	CHECK(relay.errlen == 0);

	switch (ph) {
	case RELAY_HEAD:
		CHECK(relay.fail != NULL);
		CHECK(fz.heads == 0 && fz.bodylen == 0 && fz.rawlen == 0 &&
		    fz.outlen == 0);
		break;
	case RELAY_REDIRECT:
		CHECK(flags & 2);
		CHECK(relay.fail == NULL && !fz.refused);
		CHECK(fz.heads == 0 && fz.bodylen == 0 && fz.outlen == 0);
		CHECK(resp.location != NULL && resp.location[0] == '/');
		CHECK(resp.status == 0);
		break;
	case RELAY_BODY:
		CHECK(relay.fail == NULL && !fz.refused && fz.heads == 1);
		/* The body is the stdout after the header block. */
		CHECK(resp.body_off > 0 && resp.body_off <= nout);
		CHECK(fz.bodylen == nout - resp.body_off);
		CHECK(memcmp(fz.body, stdout_s + resp.body_off,
		    fz.bodylen) == 0);
		cut = httpout_end(&fz.o, 0);
		memset(&w, 0, sizeof(w));
		w.minor = (flags >> 3) & 1;
		w.head_req = (flags >> 2) & 1;
		w.status = fz.status;
		w.length = fz.length;
		w.body = fz.body;
		w.bodylen = fz.bodylen;
		w.ka_head = fz.ka_head;
		w.ka_end = fz.o.keep_alive;
		w.truncated = 0;
		w.cut = cut;
		resp_check(fz.out, fz.outlen, &w);
		break;
	case RELAY_RAW:
		CHECK(flags & 1);
		CHECK(fz.rawlen == nout && memcmp(fz.raw, stdout_s, nout) == 0);
		CHECK(fz.outlen == nout && memcmp(fz.out, stdout_s, nout) == 0);
		CHECK(!fz.o.keep_alive);
		CHECK(relay.nph_status == nph_code(stdout_s, nout));
		break;
	}

	/* The same stdout in one write ends the same way. */
	fz_init(&ref, &relay2, &resp2, &sink2, flags, caps[flags >> 5]);
	out(&ref, stdout_s, nout);
	ph2 = relay_end(&relay2);
	CHECK(ph2 == ph);
	CHECK((relay.fail == NULL) == (relay2.fail == NULL));
	if (relay.fail != NULL)
		CHECK(strcmp(relay.fail, relay2.fail) == 0);
	CHECK(ref.heads == fz.heads);
	if (fz.heads) {
		CHECK(ref.status == fz.status);
		CHECK(strcmp(ref.reason, fz.reason) == 0);
		CHECK(ref.length == fz.length);
		CHECK(ref.nfields == fz.nfields);
	}
	CHECK(ref.bodylen == fz.bodylen);
	CHECK(memcmp(ref.body, fz.body, fz.bodylen) == 0);
	CHECK(relay2.nph_status == relay.nph_status);
	if (ph == RELAY_REDIRECT)
		CHECK(strcmp(resp.location, resp2.location) == 0);
	return 0;
}
