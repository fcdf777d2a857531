/*
 * test_cgiresp.c: the CGI response header parser (RFC 3875 6), whole and
 * byte by byte, and every malformed block that must never reach a client.
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

/* Feed text in slices of step bytes; returns the final state. */
static enum cgiresp_state
feed(struct cgiresp *p, const char *text, size_t step, size_t *consumed)
{
	size_t len = strlen(text), off = 0, n, used;
	enum cgiresp_state st = CGIRESP_MORE;

	cgiresp_init(p);
	while (off < len && st == CGIRESP_MORE) {
		n = len - off < step ? len - off : step;
		st = cgiresp_feed(p, text + off, n, &used);
		assert_true(used <= n);
		off += used;
		if (st == CGIRESP_MORE)
			assert_int_equal(used, n);
	}
	if (consumed != NULL)
		*consumed = off;
	return st;
}

static void
test_basic_crlf_and_lf(void **state)
{
	static const char *texts[] = {
		"Content-Type: text/plain\r\nX-A: 1\r\n\r\nbody",
		"Content-Type: text/plain\nX-A: 1\n\nbody",
	};
	struct cgiresp *p = malloc(sizeof(*p));
	size_t i, step, used;

	(void)state;
	for (i = 0; i < 2; i++)
		for (step = 1; step <= strlen(texts[i]); step++) {
			assert_int_equal(feed(p, texts[i], step, &used),
			    CGIRESP_DONE);
			assert_int_equal(p->status, 200);
			assert_string_equal(cgiresp_header(p, "Content-Type"),
			    "text/plain");
			assert_string_equal(cgiresp_header(p, "x-a"), "1");
			assert_null(cgiresp_header(p, "X-B"));
			assert_int_equal(p->content_length, -1);
			/*
			 * Body bytes that came with the block stay in buf;
			 * the rest of the input was not consumed.
			 */
			assert_int_equal(p->len - p->body_off +
			    (strlen(texts[i]) - used), 4);
			assert_memory_equal(p->buf + p->body_off, "body",
			    p->len - p->body_off);
		}
	free(p);
}

static void
test_status_and_reason(void **state)
{
	struct cgiresp *p = malloc(sizeof(*p));

	(void)state;
	assert_int_equal(feed(p, "Status: 404 Not Here\nContent-Type: a/b\n\n",
	    1000, NULL), CGIRESP_DONE);
	assert_int_equal(p->status, 404);
	assert_string_equal(p->reason, "Not Here");
	assert_null(cgiresp_header(p, "Status"));	/* not forwarded */
	assert_int_equal(feed(p, "Status: 201\n\n", 1000, NULL), CGIRESP_DONE);
	assert_int_equal(p->status, 201);
	assert_string_equal(p->reason, "");
	assert_int_equal(feed(p, "Status: abc\n\n", 1000, NULL), CGIRESP_ERROR);
	assert_int_equal(feed(p, "Status: 42\n\n", 1000, NULL), CGIRESP_ERROR);
	assert_int_equal(feed(p, "Status: 700 Big\n\n", 1000, NULL),
	    CGIRESP_ERROR);
	assert_int_equal(feed(p, "Status: 100 Continue\n\n", 1000, NULL),
	    CGIRESP_ERROR);
	free(p);
}

static void
test_location(void **state)
{
	struct cgiresp *p = malloc(sizeof(*p));

	(void)state;
	/* absolute URL, no Status: a client redirect, 302 (RFC 3875 6.2.3) */
	assert_int_equal(feed(p, "Location: http://x.example/y\n\n", 1000,
	    NULL), CGIRESP_DONE);
	assert_int_equal(p->status, 302);
	assert_string_equal(p->location, "http://x.example/y");
	/* a local path, no Status: local redirect, status left 0 (6.2.2) */
	assert_int_equal(feed(p, "Location: /other?x=1\n\n", 1000, NULL),
	    CGIRESP_DONE);
	assert_int_equal(p->status, 0);
	assert_string_equal(p->location, "/other?x=1");
	/* with a Status, the handler's status stands */
	assert_int_equal(feed(p, "Status: 301 Moved\nLocation: /n\n\n", 1000,
	    NULL), CGIRESP_DONE);
	assert_int_equal(p->status, 301);
	free(p);
}

static void
test_framing_headers(void **state)
{
	struct cgiresp *p = malloc(sizeof(*p));

	(void)state;
	assert_int_equal(feed(p, "Content-Length: 12\nConnection: close\n"
	    "Transfer-Encoding: chunked\nKeep-Alive: 5\nX-Keep: y\n\n", 1000,
	    NULL), CGIRESP_DONE);
	assert_int_equal(p->content_length, 12);
	assert_null(cgiresp_header(p, "Connection"));
	assert_null(cgiresp_header(p, "Transfer-Encoding"));
	assert_null(cgiresp_header(p, "Keep-Alive"));
	assert_null(cgiresp_header(p, "Content-Length"));
	assert_string_equal(cgiresp_header(p, "X-Keep"), "y");
	assert_int_equal(feed(p, "Content-Length: -1\n\n", 1000, NULL),
	    CGIRESP_ERROR);
	assert_int_equal(feed(p, "Content-Length: 12x\n\n", 1000, NULL),
	    CGIRESP_ERROR);
	/* The largest length there is, and past it (fuzz_cgiresp.c). */
	assert_int_equal(feed(p, "X: y\nContent-Length: 9223372036854775807"
	    "\n\n", 1000, NULL), CGIRESP_DONE);
	assert_int_equal(p->content_length, 9223372036854775807LL);
	assert_int_equal(feed(p, "X: y\nContent-Length: 9223372036854775808"
	    "\n\n", 1000, NULL), CGIRESP_ERROR);
	assert_string_equal(p->error, "malformed Content-Length");
	assert_int_equal(feed(p, "X: y\nContent-Length: 12222222222222222220"
	    "\n\n", 1000, NULL), CGIRESP_ERROR);
	/* Two lengths: the same one twice stands, two different ones fail. */
	assert_int_equal(feed(p, "X: y\nContent-Length: 5\nContent-Length: 5"
	    "\n\n", 1000, NULL), CGIRESP_DONE);
	assert_int_equal(p->content_length, 5);
	assert_int_equal(feed(p, "X: y\nContent-Length: 5\nContent-Length: 50"
	    "\n\n", 1000, NULL), CGIRESP_ERROR);
	assert_string_equal(p->error, "conflicting Content-Length");
	free(p);
}

static void
test_malformed(void **state)
{
	static const char *bad[] = {
		"no colon here\n\n",
		": empty name\n\n",
		"Bad Name: x\n\n",
		"Bad\x01Name: x\n\n",
		"X-A: 1\r\rX-B: 2\n\n",
		"X-A: one\rX-Injected: two\n\n",
		"X-A: 1\n folded\n\n",
		"X-A: 1\n\tfolded\n\n",
		/* DEL is a control too (RFC 5234 CTL): no field-vchar. */
		"X-A: a\x7f" "b\n\n",
		"Location: /x\x7f\n\n",
		"Status: 200 O\x7fK\n\n",
	};
	struct cgiresp *p = malloc(sizeof(*p));
	size_t i, step;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		for (step = 1; step <= strlen(bad[i]); step++) {
			assert_int_equal(feed(p, bad[i], step, NULL),
			    CGIRESP_ERROR);
			assert_non_null(p->error);
		}
	free(p);
}

/*
 * A NUL inside a header line: the fields are C strings, so it would cut a
 * value short of what the handler wrote ("; Secure" lost from a cookie).
 * Found by tests/fuzz/fuzz_cgiresp.c.
 */
static void
test_nul_in_line(void **state)
{
	static const struct {
		const char	*text;
		size_t		 len;
	} bad[] = {
#define T(s)	{ s, sizeof(s) - 1 }
		T("r:\0\n\n"),
		T("Set-Cookie: a=b\0; Secure\r\n\r\n"),
		T("Status: 200\0 OK\n\n"),
		T("Location: /a\0/b\n\n"),
		T("X-A\0: 1\n\n"),
#undef T
	};
	struct cgiresp *p = malloc(sizeof(*p));
	size_t i, off, n, used;
	enum cgiresp_state st;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cgiresp_init(p);
		for (off = 0, st = CGIRESP_MORE; st == CGIRESP_MORE &&
		    off < bad[i].len; off += used) {
			n = bad[i].len - off < 3 ? bad[i].len - off : 3;
			st = cgiresp_feed(p, bad[i].text + off, n, &used);
		}
		if (st != CGIRESP_ERROR)
			fail_msg("case %zu: parsed, value '%s'", i,
			    p->nfields ? p->fields[0].value : p->reason);
		assert_non_null(p->error);
	}
	free(p);
}

static void
test_eof_and_bound(void **state)
{
	struct cgiresp *p = malloc(sizeof(*p));
	char *huge;
	size_t n;

	(void)state;
	/* output ends before the blank line */
	assert_int_equal(feed(p, "Content-Type: text/plain\n", 1000, NULL),
	    CGIRESP_MORE);
	assert_int_equal(cgiresp_eof(p), CGIRESP_ERROR);
	assert_non_null(p->error);
	cgiresp_init(p);
	assert_int_equal(cgiresp_eof(p), CGIRESP_ERROR);
	assert_non_null(strstr(p->error, "no output"));

	/* a header block larger than the buffer */
	n = CGIRESP_MAX_HEADER + 100;
	huge = malloc(n + 1);
	memset(huge, 'a', n);
	memcpy(huge, "X-Big: ", 7);
	huge[n] = '\0';
	assert_int_equal(feed(p, huge, 4096, NULL), CGIRESP_ERROR);
	free(huge);

	/* too many fields */
	huge = malloc(CGIRESP_MAX_HEADER);
	huge[0] = '\0';
	for (n = 0; n < CGIRESP_MAX_FIELDS + 5; n++)
		sprintf(huge + strlen(huge), "X-%zu: v\n", n);
	strcat(huge, "\n");
	assert_int_equal(feed(p, huge, 1000, NULL), CGIRESP_ERROR);
	free(huge);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_crlf_and_lf),
		cmocka_unit_test(test_status_and_reason),
		cmocka_unit_test(test_location),
		cmocka_unit_test(test_framing_headers),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_nul_in_line),
		cmocka_unit_test(test_eof_and_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
