/*
 * test_reqhead.c: request framing held to RFC 9112: each ambiguity gets
 * its status, and the heads real clients send pass with what they say.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cgigate.h"

#define MAXF	64

/*
 * Vet a head given as "Name: value" lines joined by '\n' (a name ending
 * in a space stands for a field sent with white space before its colon).
 */
static int
vet(const char *version, const char *lines, struct reqhead_info *out)
{
	static char buf[8192];
	struct cgi_header f[MAXF + 8];
	unsigned char spaced[MAXF + 8];
	char *line, *colon, *save = NULL;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", lines);
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		colon = strchr(line, ':');
		assert_non_null(colon);
		*colon = '\0';
		spaced[n] = colon > line && colon[-1] == ' ';
		if (spaced[n])
			colon[-1] = '\0';
		f[n].name = line;
		f[n].value = colon[1] == ' ' ? colon + 2 : colon + 1;
		n++;
	}
	return reqhead_vet(version, f, n, spaced, REQHEAD_WHOLE, out);
}

static void
test_plain_heads_pass(void **state)
{
	struct reqhead_info ri;

	(void)state;
	assert_int_equal(vet("1.1", "Host: x", &ri), 0);
	assert_int_equal(ri.content_length, -1);
	assert_false(ri.chunked);
	assert_false(ri.expect_continue);
	assert_int_equal(vet("1.1", "Host: x\nContent-Length: 0", &ri), 0);
	assert_int_equal(ri.content_length, 0);
	assert_int_equal(vet("1.1", "host: x\ncontent-length: 1234567890",
	    &ri), 0);
	assert_int_equal(ri.content_length, 1234567890LL);
	assert_int_equal(vet("1.1", "Host: x\nContent-Length: 7 \t", &ri), 0);
	assert_int_equal(ri.content_length, 7);
	assert_int_equal(vet("1.1", "Host: x\nTransfer-Encoding: chunked",
	    &ri), 0);
	assert_true(ri.chunked);
	assert_int_equal(ri.content_length, -1);
	assert_int_equal(vet("1.1", "Host: x\nTransfer-Encoding: CHUNKED",
	    &ri), 0);
	assert_true(ri.chunked);
	/* HTTP/1.0 needs no Host. */
	assert_int_equal(vet("1.0", "Content-Length: 5", &ri), 0);
	assert_int_equal(ri.content_length, 5);
	/* An empty Host is allowed (RFC 9112 3.2). */
	assert_int_equal(vet("1.1", "Host: ", &ri), 0);
}

static void
test_length_ambiguity(void **state)
{
	static const char *bad[] = {
		"Host: x\nTransfer-Encoding: chunked\nContent-Length: 5",
		"Host: x\nContent-Length: 5\nTransfer-Encoding: chunked",
		"Host: x\nContent-Length: 5\nContent-Length: 44",
		"Host: x\nContent-Length: 5\nContent-Length: 5",
		"Host: x\nContent-Length: 5, 44",
		"Host: x\nContent-Length: 5, 5",
		"Host: x\nContent-Length: +5",
		"Host: x\nContent-Length: -5",
		"Host: x\nContent-Length: 5x",
		"Host: x\nContent-Length: 0x10",
		"Host: x\nContent-Length: ",
		"Host: x\nContent-Length: 99999999999999999999",
		"Host: x\nTransfer-Encoding: chunked\nTransfer-Encoding: gzip",
		"Host: x\nTransfer-Encoding: gzip",
		"Host: x\nTransfer-Encoding: chunked, gzip",
		"Host: x\nTransfer-Encoding: chunked;x=1",
		"Host: x\nTransfer-Encoding: ,chunked",
		"Host: x\nTransfer-Encoding: ",
	};
	struct reqhead_info ri;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(vet("1.1", bad[i], &ri), 400);
		assert_non_null(ri.why);
	}
}

static void
test_unknown_codings_501(void **state)
{
	struct reqhead_info ri;

	(void)state;
	/* Chunked last, so the length is known, but not the coding. */
	assert_int_equal(vet("1.1", "Host: x\nTransfer-Encoding: gzip, chunked",
	    &ri), 501);
	assert_int_equal(vet("1.1", "Host: x\nTransfer-Encoding: gzip\n"
	    "Transfer-Encoding: chunked", &ri), 501);
	/* Chunked twice is not allowed either. */
	assert_int_equal(vet("1.1", "Host: x\nTransfer-Encoding: chunked, "
	    "chunked", &ri), 501);
}

static void
test_host(void **state)
{
	struct reqhead_info ri;

	(void)state;
	assert_int_equal(vet("1.1", "Accept: */*", &ri), 400);
	assert_string_equal(ri.why, "HTTP/1.1 request without Host");
	assert_int_equal(vet("1.1", "Host: a\nHost: b", &ri), 400);
	assert_int_equal(vet("1.0", "Host: a\nHost: a", &ri), 400);
}

static void
test_expect(void **state)
{
	struct reqhead_info ri;

	(void)state;
	assert_int_equal(vet("1.1", "Host: x\nExpect: 100-continue", &ri), 0);
	assert_true(ri.expect_continue);
	assert_int_equal(vet("1.1", "Host: x\nExpect: 100-Continue", &ri), 0);
	assert_true(ri.expect_continue);
	assert_int_equal(vet("1.1", "Host: x\nExpect: tea", &ri), 417);
	/* Trailing white space is not part of a field value. */
	assert_int_equal(vet("1.1", "Host: x\nExpect: 100-continue \t", &ri),
	    0);
	assert_true(ri.expect_continue);
	/* RFC 9110 10.1.1: HTTP/1.0 expectations are ignored. */
	assert_int_equal(vet("1.0", "Expect: 100-continue", &ri), 0);
	assert_false(ri.expect_continue);
	assert_int_equal(vet("1.0", "Expect: tea", &ri), 0);
}

static void
test_space_before_colon(void **state)
{
	struct reqhead_info ri;

	(void)state;
	assert_int_equal(vet("1.1", "Host: x\nTransfer-Encoding : chunked",
	    &ri), 400);
	assert_int_equal(vet("1.1", "Host : x", &ri), 400);
	/* Without the flags, nothing is known of the raw bytes. */
	{
		struct cgi_header f[] = { { "Host", "x" } };

		assert_int_equal(reqhead_vet("1.1", f, 1, NULL, REQHEAD_WHOLE,
		    &ri), 0);
	}
}

static void
test_cut_head(void **state)
{
	struct cgi_header f[] = {
		{ "Host", "x" }, { "Content-Length", "5" }
	};
	struct reqhead_info ri;

	(void)state;
	/* Whatever the fields say, a head read only in part is refused. */
	assert_int_equal(reqhead_vet("1.1", f, 2, NULL, REQHEAD_CUT, &ri),
	    400);
	assert_non_null(ri.why);
	assert_int_equal(reqhead_vet("1.1", f, 2, NULL, REQHEAD_FULL, &ri),
	    431);
	assert_int_equal(reqhead_vet("1.1", f, 2, NULL, REQHEAD_WHOLE, &ri),
	    0);
}

static void
test_http10_transfer_encoding(void **state)
{
	struct reqhead_info ri;

	(void)state;
	/* RFC 9112 6.1: HTTP/1.0 with Transfer-Encoding is faulty. */
	assert_int_equal(vet("1.0", "Transfer-Encoding: chunked", &ri), 400);
	assert_int_equal(vet("1.1", "Host: x\nTransfer-Encoding: chunked",
	    &ri), 0);
}

/* reqhead_split on the raw bytes of a head. */
static int
split(const char *head, struct reqline *rl, struct cgi_header *f, int maxf,
    int *nf, unsigned char *spaced, enum reqhead_end *end)
{
	static char buf[8192];
	size_t n = strlen(head);

	memcpy(buf, head, n + 1);
	return reqhead_split(buf, n, rl, f, maxf, nf, spaced, end);
}

static void
test_split_fields(void **state)
{
	struct cgi_header f[8];
	unsigned char spaced[8];
	struct reqline rl;
	enum reqhead_end end;
	int nf;

	(void)state;
	assert_int_equal(split("POST /a?b=c HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length:  5 \r\nX-Empty:\r\n\r\n", &rl, f, 8, &nf,
	    spaced, &end), 0);
	assert_string_equal(rl.method, "POST");
	assert_string_equal(rl.target, "/a?b=c");
	assert_string_equal(rl.version, "1.1");
	assert_int_equal(nf, 3);
	assert_int_equal(end, REQHEAD_WHOLE);
	assert_string_equal(f[0].name, "Host");
	assert_string_equal(f[0].value, "x");
	assert_string_equal(f[1].name, "Content-Length");
	assert_string_equal(f[1].value, "5");	/* OWS trimmed both ends */
	assert_string_equal(f[2].value, "");
	assert_int_equal(spaced[0] | spaced[1] | spaced[2], 0);
	/* bare LF line ends, and white space before a colon is flagged */
	assert_int_equal(split("GET / HTTP/1.0\nHost : x\n\n", &rl, f, 8,
	    &nf, spaced, &end), 0);
	assert_int_equal(nf, 1);
	assert_string_equal(f[0].name, "Host");
	assert_int_equal(spaced[0], 1);
}

static void
test_split_stops(void **state)
{
	struct cgi_header f[2];
	unsigned char spaced[2];
	struct reqline rl;
	enum reqhead_end end;
	int nf;

	(void)state;
	/* an obs-fold line, a line with no name, more fields than room */
	assert_int_equal(split("GET / HTTP/1.1\r\nA: 1\r\n b\r\n"
	    "Content-Length: 9\r\n\r\n", &rl, f, 2, &nf, spaced, &end), 0);
	assert_int_equal(end, REQHEAD_CUT);
	assert_int_equal(nf, 1);
	assert_int_equal(split("GET / HTTP/1.1\r\n: a\r\n\r\n", &rl, f, 2,
	    &nf, spaced, &end), 0);
	assert_int_equal(end, REQHEAD_CUT);
	assert_int_equal(split("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n"
	    "C: 3\r\n\r\n", &rl, f, 2, &nf, spaced, &end), 0);
	assert_int_equal(end, REQHEAD_FULL);
	assert_int_equal(nf, 2);
}

static void
test_split_bad_lines(void **state)
{
	static const char *bad[] = {
		"GET  / HTTP/1.1\r\n\r\n",		/* two spaces */
		"GET / HTTP/1.1 \r\n\r\n",		/* trailing space */
		"GET /\r\n\r\n",			/* HTTP/0.9 */
		"GET / HTTP/11\r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",		/* not a token */
		"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",	/* bare CR */
		" GET / HTTP/1.1\r\n\r\n",
	};
	struct cgi_header f[4];
	unsigned char spaced[4];
	struct reqline rl;
	enum reqhead_end end;
	size_t i;
	int nf;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(split(bad[i], &rl, f, 4, &nf, spaced, &end),
		    400);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_heads_pass),
		cmocka_unit_test(test_length_ambiguity),
		cmocka_unit_test(test_unknown_codings_501),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_expect),
		cmocka_unit_test(test_space_before_colon),
		cmocka_unit_test(test_cut_head),
		cmocka_unit_test(test_http10_transfer_encoding),
		cmocka_unit_test(test_split_fields),
		cmocka_unit_test(test_split_stops),
		cmocka_unit_test(test_split_bad_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
