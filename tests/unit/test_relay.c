/*
 * test_relay.c: a handler's output through relay.c to a sink that
 * records every call.
 *
 * The head must not depend on how the output was cut into writes; body
 * bytes that came with the header block follow the head at once; a
 * local Location is an internal redirect only where the route allows
 * one; output that cannot be forwarded sends nothing; an nph- handler's
 * bytes go out untouched, its status read off them; stderr comes out as
 * lines without their newline, in pieces when longer than the buffer,
 * up to the cap and one note that the rest is dropped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cgigate.h"

#define MAXLINES	32

/* Everything the sink was given, in order. */
struct rec {
	char		 events[256];	/* H head, B body, R raw, E errline */
	size_t		 nev;
	int		 heads;
	int		 status;
	char		 reason[64];
	long long	 content_length;
	int		 nfields;
	char		 names[8][32];
	char		 values[8][64];
	char		 body[8192];
	size_t		 bodylen;
	char		 raw[8192];
	size_t		 rawlen;
	int		 nlines;
	int		 isnull[MAXLINES];
	size_t		 linelen[MAXLINES];
	char		 lines[MAXLINES][4200];
	int		 head_ret, body_ret, raw_ret;
};

static void
event(struct rec *r, char c)
{
	if (r->nev < sizeof(r->events) - 1)
		r->events[r->nev++] = c;
}

static int
rec_head(void *arg, const struct cgiresp *p)
{
	struct rec *r = arg;
	int i;

	event(r, 'H');
	r->heads++;
	r->status = p->status;
	snprintf(r->reason, sizeof(r->reason), "%s", p->reason);
	r->content_length = p->content_length;
	r->nfields = p->nfields;
	for (i = 0; i < p->nfields && i < 8; i++) {
		snprintf(r->names[i], sizeof(r->names[i]), "%s",
		    p->fields[i].name);
		snprintf(r->values[i], sizeof(r->values[i]), "%s",
		    p->fields[i].value);
	}
	return r->head_ret;
}

static int
rec_body(void *arg, const char *buf, size_t n)
{
	struct rec *r = arg;

	event(r, 'B');
	assert_true(n <= sizeof(r->body) - r->bodylen);
	memcpy(r->body + r->bodylen, buf, n);
	r->bodylen += n;
	return r->body_ret;
}

static int
rec_raw(void *arg, const char *buf, size_t n)
{
	struct rec *r = arg;

	event(r, 'R');
	assert_true(n <= sizeof(r->raw) - r->rawlen);
	memcpy(r->raw + r->rawlen, buf, n);
	r->rawlen += n;
	return r->raw_ret;
}

static void
rec_errline(void *arg, const char *line, size_t n)
{
	struct rec *r = arg;

	event(r, 'E');
	assert_true(r->nlines < MAXLINES);
	r->isnull[r->nlines] = line == NULL;
	r->linelen[r->nlines] = n;
	if (line != NULL) {
		assert_true(n <= sizeof(r->lines[0]) - 1);
		assert_null(memchr(line, '\n', n));
		memcpy(r->lines[r->nlines], line, n);
		r->lines[r->nlines][n] = '\0';
	} else
		assert_int_equal(n, 0);
	r->nlines++;
}

/* One relay at a time: big buffers, kept out of the stack. */
static struct rec rec, rec2;
static struct cgiresp resp, resp2;
static struct relay relay, relay2;
static struct relay_sink sink, sink2;

static void
setup(struct relay *r, struct relay_sink *s, struct rec *rc,
    struct cgiresp *p, int nph, int redirect_ok, long long errcap)
{
	memset(rc, 0, sizeof(*rc));
	s->head = rec_head;
	s->body = rec_body;
	s->raw = rec_raw;
	s->errline = rec_errline;
	s->arg = rc;
	cgiresp_init(p);
	relay_init(r, s, p, nph, redirect_ok, errcap);
}

static void
start(int nph, int redirect_ok, long long errcap)
{
	setup(&relay, &sink, &rec, &resp, nph, redirect_ok, errcap);
}

/* Output in writes of step bytes; what the last relay_out said. */
static int
out_by(struct relay *r, const char *s, size_t n, size_t step)
{
	size_t i, k;
	int rc = 0;

	for (i = 0; i < n && rc == 0; i += k) {
		k = n - i < step ? n - i : step;
		rc = relay_out(r, s + i, k);
	}
	return rc;
}

static void
err_by(struct relay *r, const char *s, size_t n, size_t step)
{
	size_t i, k;

	for (i = 0; i < n; i += k) {
		k = n - i < step ? n - i : step;
		relay_err(r, s + i, k);
	}
}

#define OUT(s)	relay_out(&relay, s, sizeof(s) - 1)
#define ERR(s)	relay_err(&relay, s, sizeof(s) - 1)

static void
same_record(const struct rec *a, const struct rec *b)
{
	int i;

	assert_int_equal(a->events[0], 'H');
	assert_int_equal(b->events[0], 'H');
	assert_int_equal(a->heads, 1);
	assert_int_equal(b->heads, 1);
	assert_int_equal(a->status, b->status);
	assert_string_equal(a->reason, b->reason);
	assert_int_equal(a->content_length, b->content_length);
	assert_int_equal(a->nfields, b->nfields);
	for (i = 0; i < a->nfields && i < 8; i++) {
		assert_string_equal(a->names[i], b->names[i]);
		assert_string_equal(a->values[i], b->values[i]);
	}
	assert_int_equal(a->bodylen, b->bodylen);
	assert_memory_equal(a->body, b->body, a->bodylen);
	assert_int_equal(a->rawlen, 0);
	assert_int_equal(b->rawlen, 0);
}

static void
test_whole_and_bytewise(void **state)
{
	static const char *outs[] = {
		"Content-Type: text/plain\r\nX-A: 1\r\n\r\nhello world\n",
		"Status: 404 Not Here\nContent-Type: text/html\n\n<p>x</p>",
		"Content-Length: 3\nX-B:  spaced  \n\nabc",
		"X-Only: 1\r\n\r\n",
	};
	size_t i, n, step;

	(void)state;
	for (i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
		n = strlen(outs[i]);
		setup(&relay2, &sink2, &rec2, &resp2, 0, 1, 1 << 20);
		assert_int_equal(relay_out(&relay2, outs[i], n), 0);
		assert_int_equal(relay_end(&relay2), RELAY_BODY);
		assert_null(relay2.fail);
		for (step = 1; step <= n; step++) {
			start(0, 1, 1 << 20);
			assert_int_equal(out_by(&relay, outs[i], n, step), 0);
			assert_int_equal(relay.phase, RELAY_BODY);
			assert_int_equal(relay_end(&relay), RELAY_BODY);
			same_record(&rec, &rec2);
		}
	}
	/* What the first one gave. */
	start(0, 1, 1 << 20);
	out_by(&relay, outs[0], strlen(outs[0]), 1);
	assert_int_equal(rec.status, 200);
	assert_string_equal(rec.reason, "");
	assert_int_equal(rec.content_length, -1);
	assert_int_equal(rec.nfields, 2);
	assert_string_equal(rec.names[0], "Content-Type");
	assert_string_equal(rec.values[0], "text/plain");
	assert_string_equal(rec.names[1], "X-A");
	assert_string_equal(rec.values[1], "1");
	assert_int_equal(rec.bodylen, 12);
	assert_memory_equal(rec.body, "hello world\n", 12);
	/* The third: the length declared, the value trimmed. */
	start(0, 1, 1 << 20);
	assert_int_equal(relay_out(&relay, outs[2], strlen(outs[2])), 0);
	assert_int_equal(rec.content_length, 3);
	assert_int_equal(rec.nfields, 1);
	assert_string_equal(rec.values[0], "spaced");
}

static void
test_body_with_head(void **state)
{
	(void)state;
	start(0, 1, 1 << 20);
	assert_int_equal(OUT("Status: 201 Made\nContent-Length: 6\n\nabcd"), 0);
	/* The body that came with the header block, right after the head. */
	assert_string_equal(rec.events, "HB");
	assert_int_equal(rec.status, 201);
	assert_string_equal(rec.reason, "Made");
	assert_int_equal(rec.content_length, 6);
	assert_int_equal(rec.bodylen, 4);
	assert_memory_equal(rec.body, "abcd", 4);
	assert_int_equal(OUT("ef"), 0);
	assert_int_equal(OUT(""), 0);	/* an empty write is no call */
	assert_string_equal(rec.events, "HBB");
	assert_int_equal(rec.bodylen, 6);
	assert_memory_equal(rec.body, "abcdef", 6);
	assert_int_equal(relay_end(&relay), RELAY_BODY);
	assert_null(relay.fail);

	/* The block's end and the body split across writes. */
	start(0, 1, 1 << 20);
	assert_int_equal(OUT("Status: 200\r\n\r"), 0);
	assert_string_equal(rec.events, "");
	assert_int_equal(OUT("\nxyz"), 0);
	assert_string_equal(rec.events, "HB");
	assert_int_equal(rec.status, 200);
	assert_string_equal(rec.reason, "");
	assert_int_equal(rec.nfields, 0);
	assert_int_equal(rec.bodylen, 3);
	assert_memory_equal(rec.body, "xyz", 3);
}

static void
test_status_line(void **state)
{
	(void)state;
	start(0, 1, 1 << 20);
	assert_int_equal(OUT("Status: 503 Come Back Later\nRetry-After: 5\n"
	    "\n"), 0);
	assert_int_equal(rec.status, 503);
	assert_string_equal(rec.reason, "Come Back Later");
	assert_int_equal(rec.nfields, 1);
	assert_string_equal(rec.names[0], "Retry-After");

	start(0, 1, 1 << 20);
	assert_int_equal(OUT("status: 299\n\n"), 0);
	assert_int_equal(rec.status, 299);
	assert_string_equal(rec.reason, "");
	assert_int_equal(rec.nfields, 0);
}

static void
test_location(void **state)
{
	(void)state;
	/* Absolute: a client redirect, even where internal ones may be. */
	start(0, 1, 1 << 20);
	assert_int_equal(OUT("Location: http://example.com/x\n\nmoved"), 0);
	assert_string_equal(rec.events, "HB");
	assert_int_equal(rec.status, 302);
	assert_string_equal(rec.names[0], "Location");
	assert_string_equal(rec.values[0], "http://example.com/x");
	assert_int_equal(relay_end(&relay), RELAY_BODY);

	/* Local, no Status, allowed: the body is dropped, nothing sent. */
	start(0, 1, 1 << 20);
	assert_int_equal(OUT("Location: /other?a=b\n\nbody"), 0);
	assert_int_equal(relay.phase, RELAY_REDIRECT);
	assert_int_equal(OUT("more body"), 0);
	assert_int_equal(OUT(""), 0);
	assert_int_equal(rec.nev, 0);
	assert_int_equal(relay_end(&relay), RELAY_REDIRECT);
	assert_null(relay.fail);
	assert_string_equal(relay.p->location, "/other?a=b");
	assert_int_equal(rec.nev, 0);

	/* Byte by byte the same. */
	start(0, 1, 1 << 20);
	assert_int_equal(out_by(&relay, "Location: /o\r\n\r\nbody", 20, 1), 0);
	assert_int_equal(relay_end(&relay), RELAY_REDIRECT);
	assert_string_equal(relay.p->location, "/o");
	assert_int_equal(rec.nev, 0);

	/* Not allowed: a 302 to the client, with the body. */
	start(0, 0, 1 << 20);
	assert_int_equal(OUT("Location: /other\n\nbody"), 0);
	assert_int_equal(OUT("!"), 0);
	assert_string_equal(rec.events, "HBB");
	assert_int_equal(rec.status, 302);
	assert_string_equal(rec.values[0], "/other");
	assert_int_equal(rec.bodylen, 5);
	assert_memory_equal(rec.body, "body!", 5);
	assert_int_equal(relay_end(&relay), RELAY_BODY);

	/* With a Status, a local Location is the handler's own answer. */
	start(0, 1, 1 << 20);
	assert_int_equal(OUT("Status: 201\nLocation: /new\n\n"), 0);
	assert_int_equal(rec.status, 201);
	assert_int_equal(relay_end(&relay), RELAY_BODY);
}

static void
test_malformed(void **state)
{
	static const char *bad[] = {
		"Bad Header\n\nbody",
		"Status: 99\n\n",
		"X: a\rb\n\n",
		"\nbody",
		" folded: x\n\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		start(0, 1, 1 << 20);
		assert_int_equal(relay_out(&relay, bad[i], strlen(bad[i])),
		    -1);
		assert_non_null(relay.fail);
		assert_ptr_equal(relay.fail, resp.error);
		/* Nothing went out, and nothing will. */
		assert_int_equal(relay_out(&relay, "X: y\n\nz", 7), -1);
		assert_non_null(relay.fail);
		assert_int_equal(relay_end(&relay), RELAY_HEAD);
		assert_non_null(relay.fail);
		assert_int_equal(rec.nev, 0);

		/* Byte by byte: refused at some byte, nothing sent. */
		start(0, 1, 1 << 20);
		assert_int_equal(out_by(&relay, bad[i], strlen(bad[i]), 1),
		    -1);
		assert_non_null(relay.fail);
		assert_int_equal(rec.nev, 0);
	}
}

static void
test_eof_in_head(void **state)
{
	(void)state;
	start(0, 1, 1 << 20);
	assert_int_equal(OUT("Content-Type: text/plain\n"), 0);
	assert_null(relay.fail);
	assert_int_equal(relay_end(&relay), RELAY_HEAD);
	assert_string_equal(relay.fail, "output ended inside the header "
	    "block");
	assert_int_equal(rec.nev, 0);

	start(0, 1, 1 << 20);
	assert_int_equal(relay_end(&relay), RELAY_HEAD);
	assert_string_equal(relay.fail, "no output");
	assert_int_equal(rec.nev, 0);
}

static void
test_nph(void **state)
{
	static const char out[] = "HTTP/1.1 299 X\r\nA: b\r\n\r\nbody\n";
	static const char odd[] = "HTTP/1.1  299 X\r\n\r\n";
	size_t n = sizeof(out) - 1, cut, step;

	(void)state;
	start(1, 1, 1 << 20);
	assert_int_equal(relay.phase, RELAY_RAW);
	assert_int_equal(relay_out(&relay, out, n), 0);
	assert_int_equal(relay.nph_status, 299);
	assert_int_equal(relay_end(&relay), RELAY_RAW);
	assert_int_equal(rec.heads, 0);
	assert_int_equal(rec.bodylen, 0);
	assert_int_equal(rec.rawlen, n);
	assert_memory_equal(rec.raw, out, n);

	/* The status line split anywhere, an empty write at the cut. */
	for (cut = 0; cut <= n; cut++) {
		start(1, 1, 1 << 20);
		assert_int_equal(relay_out(&relay, out, cut), 0);
		assert_int_equal(relay_out(&relay, out + cut, 0), 0);
		assert_int_equal(relay_out(&relay, out + cut, n - cut), 0);
		assert_int_equal(relay.nph_status, 299);
		assert_int_equal(rec.rawlen, n);
		assert_memory_equal(rec.raw, out, n);
	}
	for (step = 1; step <= 16; step++) {
		start(1, 1, 1 << 20);
		assert_int_equal(out_by(&relay, out, n, step), 0);
		assert_int_equal(relay.nph_status, 299);
		assert_int_equal(rec.rawlen, n);
		assert_memory_equal(rec.raw, out, n);
	}

	/* Not a status line: 0, and the bytes still go out as they are. */
	start(1, 1, 1 << 20);
	assert_int_equal(OUT("Content-Type: text/plain\n\nhello"), 0);
	assert_int_equal(relay.nph_status, 0);
	assert_int_equal(rec.rawlen, 31);
	start(1, 1, 1 << 20);
	assert_int_equal(OUT("HTTP/1.1 999 Nine\r\n\r\n"), 0);
	assert_int_equal(relay.nph_status, 0);
	start(1, 1, 1 << 20);
	assert_int_equal(OUT("HTTP/1.0 abc\r\n\r\n"), 0);
	assert_int_equal(relay.nph_status, 0);
	/* Read once: a status line later in the output is body. */
	start(1, 1, 1 << 20);
	assert_int_equal(OUT("hello there, world\n"), 0);
	assert_int_equal(OUT("HTTP/1.1 200 OK\r\n"), 0);
	assert_int_equal(relay.nph_status, 0);
	/*
	 * Whatever the cut, the code is read off the same bytes: here the
	 * status line's first 12 bytes end inside it.
	 */
	for (cut = 0; cut <= sizeof(odd) - 1; cut++) {
		start(1, 1, 1 << 20);
		assert_int_equal(relay_out(&relay, odd, cut), 0);
		assert_int_equal(relay_out(&relay, odd + cut,
		    sizeof(odd) - 1 - cut), 0);
		assert_int_equal(relay_end(&relay), RELAY_RAW);
		assert_int_equal(relay.nph_status, 299);
	}
	/* The whole output a status line and no more. */
	start(1, 1, 1 << 20);
	assert_int_equal(OUT("HTTP/1.1 204"), 0);
	assert_int_equal(relay_end(&relay), RELAY_RAW);
	assert_int_equal(relay.nph_status, 204);

	/* No output at all is no answer, as for any handler: a 502. */
	start(1, 1, 1 << 20);
	assert_int_equal(relay_end(&relay), RELAY_HEAD);
	assert_string_equal(relay.fail, "no output");
	assert_int_equal(rec.nev, 0);
	start(1, 1, 1 << 20);
	assert_int_equal(OUT(""), 0);
	ERR("on stderr only\n");
	relay_err_end(&relay);
	assert_int_equal(relay_end(&relay), RELAY_HEAD);
	assert_string_equal(relay.fail, "no output");
	assert_int_equal(rec.rawlen, 0);
	/* One byte is an answer begun. */
	start(1, 1, 1 << 20);
	assert_int_equal(OUT("H"), 0);
	assert_int_equal(relay_end(&relay), RELAY_RAW);
	assert_null(relay.fail);

	/* Shorter than a status line: nothing to read. */
	start(1, 1, 1 << 20);
	assert_int_equal(OUT("HTTP/1.1"), 0);
	assert_int_equal(relay_end(&relay), RELAY_RAW);
	assert_int_equal(relay.nph_status, 0);
	assert_int_equal(rec.rawlen, 8);
}

static void
test_stderr_lines(void **state)
{
	static const char err[] = "one\ntwo\n\nthree\r\nfour";
	size_t n = sizeof(err) - 1, step;

	(void)state;
	for (step = 1; step <= n; step++) {
		start(0, 1, 1 << 20);
		err_by(&relay, err, n, step);
		/* The partial line waits for its newline or the end. */
		assert_int_equal(rec.nlines, 4);
		relay_err_end(&relay);
		assert_int_equal(rec.nlines, 5);
		assert_string_equal(rec.lines[0], "one");
		assert_string_equal(rec.lines[1], "two");
		assert_string_equal(rec.lines[2], "");
		assert_int_equal(rec.linelen[2], 0);
		assert_false(rec.isnull[2]);
		assert_string_equal(rec.lines[3], "three\r");
		assert_string_equal(rec.lines[4], "four");
		assert_int_equal(rec.linelen[4], 4);
		relay_err_end(&relay);
		assert_int_equal(rec.nlines, 5);
	}

	/* A partial line completed by a later write. */
	start(0, 1, 1 << 20);
	ERR("par");
	assert_int_equal(rec.nlines, 0);
	ERR("tial\nnext");
	assert_int_equal(rec.nlines, 1);
	assert_string_equal(rec.lines[0], "partial");
	ERR("\n");
	assert_int_equal(rec.nlines, 2);
	assert_string_equal(rec.lines[1], "next");
	relay_err_end(&relay);
	assert_int_equal(rec.nlines, 2);
	/* stderr is no part of the answer. */
	assert_int_equal(rec.heads, 0);
	assert_int_equal(rec.bodylen, 0);
}

static void
test_stderr_long_line(void **state)
{
	static char big[10001];
	size_t step;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[5000] = '\n';
	/* 5000 bytes: the buffer's 4096, then the rest at the newline. */
	for (step = 1; step <= 8192; step *= 2) {
		start(0, 1, 1 << 20);
		err_by(&relay, big, 5001, step);
		assert_int_equal(rec.nlines, 2);
		assert_int_equal(rec.linelen[0], 4096);
		assert_int_equal(rec.linelen[1], 904);
		assert_int_equal(strspn(rec.lines[0], "x"), 4096);
		assert_int_equal(strspn(rec.lines[1], "x"), 904);
	}
	/* 10000 bytes in one write, no newline: 4096, 4096, then the end. */
	big[5000] = 'x';
	start(0, 1, 1 << 20);
	relay_err(&relay, big, 10000);
	assert_int_equal(rec.nlines, 2);
	assert_int_equal(rec.linelen[0], 4096);
	assert_int_equal(rec.linelen[1], 4096);
	relay_err_end(&relay);
	assert_int_equal(rec.nlines, 3);
	assert_int_equal(rec.linelen[2], 1808);
}

static void
test_stderr_cap(void **state)
{
	int i;

	(void)state;
	/* 4 bytes a line against 10: three lines, the note, then nothing. */
	start(0, 1, 10);
	for (i = 0; i < 6; i++)
		ERR("abc\n");
	relay_err_end(&relay);
	assert_int_equal(rec.nlines, 4);
	for (i = 0; i < 3; i++) {
		assert_false(rec.isnull[i]);
		assert_string_equal(rec.lines[i], "abc");
	}
	assert_true(rec.isnull[3]);
	assert_int_equal(rec.linelen[3], 0);

	/* A long line past the cap: the note comes with the next line. */
	start(0, 1, 10);
	ERR("0123456789012345678\nb\nc\n");
	relay_err_end(&relay);
	assert_int_equal(rec.nlines, 2);
	assert_string_equal(rec.lines[0], "0123456789012345678");
	assert_true(rec.isnull[1]);

	/* Lines of any length after the note: no second note. */
	start(0, 1, 10);
	ERR("12345678\n\nabcde\n0123456789\nabcdefghijklmnop\n\nx");
	relay_err_end(&relay);
	assert_int_equal(rec.nlines, 3);
	assert_string_equal(rec.lines[0], "12345678");
	assert_string_equal(rec.lines[1], "");
	assert_true(rec.isnull[2]);

	/* A cap of 0: the note alone, whatever the first line is. */
	start(0, 1, 0);
	ERR("\nabc\nabcdefgh\n");
	relay_err_end(&relay);
	assert_int_equal(rec.nlines, 1);
	assert_true(rec.isnull[0]);
	start(0, 1, 0);
	ERR("abc\nabcdefgh\n");
	relay_err_end(&relay);
	assert_int_equal(rec.nlines, 1);
	assert_true(rec.isnull[0]);

	/* The cap reached by the tail at the end. */
	start(0, 1, 4);
	ERR("abc\nlast");
	relay_err_end(&relay);
	assert_int_equal(rec.nlines, 2);
	assert_string_equal(rec.lines[0], "abc");
	assert_true(rec.isnull[1]);
}

static void
test_sink_fails(void **state)
{
	(void)state;
	/* The head fails: the client is gone, nothing to blame on output. */
	start(0, 1, 1 << 20);
	rec.head_ret = -1;
	assert_int_equal(OUT("X: y\n\nbody"), -1);
	assert_null(relay.fail);
	assert_string_equal(rec.events, "H");

	/* The body that came with the head fails. */
	start(0, 1, 1 << 20);
	rec.body_ret = -1;
	assert_int_equal(OUT("X: y\n\nbody"), -1);
	assert_null(relay.fail);
	assert_string_equal(rec.events, "HB");

	/* A later body write fails. */
	start(0, 1, 1 << 20);
	assert_int_equal(OUT("X: y\n\n"), 0);
	rec.body_ret = -1;
	assert_int_equal(OUT("body"), -1);
	assert_null(relay.fail);
	assert_int_equal(relay_end(&relay), RELAY_BODY);
	assert_null(relay.fail);

	/* Raw output the same. */
	start(1, 1, 1 << 20);
	rec.raw_ret = -1;
	assert_int_equal(OUT("HTTP/1.1 200 OK\r\n\r\n"), -1);
	assert_null(relay.fail);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_and_bytewise),
		cmocka_unit_test(test_body_with_head),
		cmocka_unit_test(test_status_line),
		cmocka_unit_test(test_location),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_eof_in_head),
		cmocka_unit_test(test_nph),
		cmocka_unit_test(test_stderr_lines),
		cmocka_unit_test(test_stderr_long_line),
		cmocka_unit_test(test_stderr_cap),
		cmocka_unit_test(test_sink_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
