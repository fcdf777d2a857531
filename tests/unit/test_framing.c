/*
 * test_framing.c: where bodies end, to the byte, however the bytes are
 * cut; chunked framing outside the strict grammar is refused with its
 * reason; response heads get the framing RFC 9112 6.3 gives them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cgigate.h"

#define NEXT	"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"

/* Feed s[0..n) in pieces of at most step bytes; the sum taken. */
static size_t
feed_by(struct framing *f, const char *s, size_t n, size_t step)
{
	size_t i, k, sum = 0, got;

	for (i = 0; i < n; i += k) {
		k = n - i < step ? n - i : step;
		got = framing_feed(f, s + i, k);
		assert_true(got <= k);
		if (got < k)
			assert_true(f->done || f->error != NULL);
		sum += got;
	}
	return sum;
}

static void
test_sized_every_split(void **state)
{
	static const char all[] = "hello world" NEXT;
	size_t n = sizeof(all) - 1, cut, a, b;
	struct framing f;

	(void)state;
	for (cut = 0; cut <= n; cut++) {
		framing_init(&f, FRAMING_SIZED, 11);
		a = framing_feed(&f, all, cut);
		assert_int_equal(a, cut < 11 ? cut : 11);
		assert_int_equal(f.done, cut >= 11);
		b = framing_feed(&f, all + cut, n - cut);
		assert_int_equal(a + b, 11);
		assert_true(f.done);
		assert_null(f.error);
		assert_int_equal(f.left, 0);
		assert_int_equal(f.total, 11);
	}
	/* One byte at a time, and nothing once it ended. */
	framing_init(&f, FRAMING_SIZED, 11);
	assert_int_equal(feed_by(&f, all, n, 1), 11);
	assert_int_equal(framing_feed(&f, "x", 1), 0);
}

static void
test_none_sized_zero_close(void **state)
{
	struct framing f;

	(void)state;
	framing_init(&f, FRAMING_NONE, 0);
	assert_true(f.done);
	assert_int_equal(framing_feed(&f, NEXT, strlen(NEXT)), 0);
	framing_init(&f, FRAMING_SIZED, 0);
	assert_true(f.done);
	assert_int_equal(framing_feed(&f, NEXT, strlen(NEXT)), 0);
	framing_init(&f, FRAMING_SIZED, -1);
	assert_non_null(f.error);
	assert_int_equal(framing_feed(&f, "abc", 3), 0);
	framing_init(&f, FRAMING_CLOSE, 0);
	assert_int_equal(framing_feed(&f, NEXT, strlen(NEXT)), strlen(NEXT));
	assert_int_equal(framing_feed(&f, "0\r\n\r\n", 5), 5);
	assert_false(f.done);
	assert_null(f.error);
	assert_int_equal(f.total, strlen(NEXT) + 5);
}

/* 26 bytes of data in a chunk sized in upper case, one in lower case. */
#define CHUNKED_BODY							\
	"5\r\nhello\r\n"						\
	"1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"				\
	"00b\r\n\r\n012345678\r\n"					\
	"000\r\n\r\n"

static void
test_chunked_whole_vs_bytes(void **state)
{
	static const char all[] = CHUNKED_BODY NEXT;
	size_t body = sizeof(CHUNKED_BODY) - 1, n = sizeof(all) - 1;
	size_t step, cut, a;
	struct framing f;

	(void)state;
	for (step = 1; step <= n; step++) {
		framing_init(&f, FRAMING_CHUNKED, 0);
		assert_int_equal(feed_by(&f, all, n, step), body);
		assert_true(f.done);
		assert_null(f.error);
		assert_int_equal(f.total, body);
		assert_int_equal(f.left, 0);
	}
	for (cut = 0; cut <= n; cut++) {
		framing_init(&f, FRAMING_CHUNKED, 0);
		a = framing_feed(&f, all, cut);
		assert_int_equal(a, cut < body ? cut : body);
		assert_int_equal(f.done, cut >= body);
		a += framing_feed(&f, all + cut, n - cut);
		assert_int_equal(a, body);
		assert_true(f.done);
	}
	/* An empty body is the last chunk alone. */
	framing_init(&f, FRAMING_CHUNKED, 0);
	assert_int_equal(framing_feed(&f, "0\r\n\r\n" NEXT,
	    5 + strlen(NEXT)), 5);
	assert_true(f.done);
}

static void
test_chunked_left_and_sizes(void **state)
{
	static const char zeros61[] =
	    "0000000000000000000000000000000000000000000000000000000000001\r\n";
	struct framing f;

	(void)state;
	framing_init(&f, FRAMING_CHUNKED, 0);
	assert_int_equal(framing_feed(&f, "10\r\nabc", 7), 7);
	assert_int_equal(f.left, 13);
	assert_false(f.done);
	/* 15 significant digits are the most; leading zeros are not. */
	framing_init(&f, FRAMING_CHUNKED, 0);
	assert_int_equal(framing_feed(&f, "0fffffffffffffff\r\n", 18), 18);
	assert_null(f.error);
	assert_int_equal(f.left, 0xfffffffffffffffLL);
	/* 61 digits in all fit civetweb's size line. */
	assert_int_equal(strlen(zeros61), 63);
	framing_init(&f, FRAMING_CHUNKED, 0);
	assert_int_equal(framing_feed(&f, zeros61, 63), 63);
	assert_null(f.error);
	assert_int_equal(f.left, 1);
}

struct bad {
	const char	*in;
	size_t		 taken;	/* bytes before the fault */
	const char	*error;
};

static void
test_chunked_malformed(void **state)
{
	static const struct bad bad[] = {
		{ "5;ext=1\r\nhello\r\n0\r\n\r\n", 1, "chunk extension" },
		{ "5;\r\nhello\r\n0\r\n\r\n", 1, "chunk extension" },
		{ "5\nhello\r\n0\r\n\r\n", 1,
		    "chunk size line ends in a bare LF" },
		{ "\r\n", 0, "chunk size missing" },
		{ " 5\r\n", 0, "chunk size missing" },
		{ "5 \r\n", 1, "chunk size is not hex digits" },
		{ "0x5\r\n", 1, "chunk size is not hex digits" },
		{ "-5\r\n", 0, "chunk size missing" },
		{ "1000000000000000\r\n", 15, "chunk size too large" },
		{ "00000000000000000000000000000000000000000000000000000000000"
		    "0001\r\n", 61, "chunk size line too long" },
		{ "5\r\rhello", 2, "chunk size line not ended by CRLF" },
		{ "5\r\nhelloX\r\n", 8, "chunk data not followed by CRLF" },
		{ "5\r\nhello\n0\r\n\r\n", 8,
		    "chunk data not followed by CRLF" },
		{ "5\r\nhello\rX", 9, "chunk data not followed by CRLF" },
		{ "0\r\nExpires: 0\r\n\r\n", 3, "chunk trailer" },
		{ "0\r\n\n", 3, "chunk trailer" },
		{ "0\r\n\r\r\n", 4, "last chunk not followed by CRLF" },
		{ "0;x\r\n\r\n", 1, "chunk extension" },
	};
	struct framing f, g;
	size_t i, n, got;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = strlen(bad[i].in);
		framing_init(&f, FRAMING_CHUNKED, 0);
		got = framing_feed(&f, bad[i].in, n);
		if (got != bad[i].taken || f.error == NULL ||
		    strcmp(f.error, bad[i].error) != 0)
			fail_msg("case %zu \"%s\": took %zu, error %s", i,
			    bad[i].in, got, f.error ? f.error : "(none)");
		assert_false(f.done);
		assert_int_equal(f.total, bad[i].taken);
		/* Nothing more is taken after an error. */
		assert_int_equal(framing_feed(&f, "0\r\n\r\n", 5), 0);
		/* A byte at a time stops at the same byte, for the same. */
		framing_init(&g, FRAMING_CHUNKED, 0);
		assert_int_equal(feed_by(&g, bad[i].in, n, 1), got);
		assert_string_equal(g.error, f.error);
	}
}

static void
test_chunked_body_after_response_head(void **state)
{
	static const char stream[] =
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3\r\nabc\r\n0\r\n\r\n"
	    "HTTP/1.1 204 No Content\r\n\r\n";
	struct framing_resp r;
	struct framing f;
	long h;
	size_t off, n = sizeof(stream) - 1;

	(void)state;
	h = framing_response(stream, n, 8192, 0, &r);
	assert_int_equal(h, 47);
	assert_int_equal(r.kind, FRAMING_CHUNKED);
	framing_init(&f, r.kind, r.length);
	off = (size_t)h + framing_feed(&f, stream + h, n - (size_t)h);
	assert_true(f.done);
	h = framing_response(stream + off, n - off, 8192, 0, &r);
	assert_int_equal(off + (size_t)h, n);
	assert_int_equal(r.status, 204);
	assert_int_equal(r.kind, FRAMING_NONE);
}

static long
resp(const char *s, int head_request, struct framing_resp *r)
{
	return framing_response(s, strlen(s), 8192, head_request, r);
}

static void
test_response_bodies(void **state)
{
	struct framing_resp r;
	const char *s;

	(void)state;
	s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP";
	assert_int_equal(resp(s, 0, &r), strlen(s) - 9);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.minor, 1);
	assert_int_equal(r.kind, FRAMING_SIZED);
	assert_int_equal(r.length, 5);
	assert_false(r.close);
	/* HEAD, 204, 304: no body whatever the fields say. */
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
	    1, &r), 38);
	assert_int_equal(r.kind, FRAMING_NONE);
	assert_false(r.close);
	assert_true(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n", 1, &r) > 0);
	assert_int_equal(r.kind, FRAMING_NONE);
	assert_true(resp("HTTP/1.1 204 No Content\r\n\r\n", 0, &r) > 0);
	assert_int_equal(r.kind, FRAMING_NONE);
	assert_false(r.close);
	assert_true(resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n"
	    "\r\n", 0, &r) > 0);
	assert_int_equal(r.kind, FRAMING_NONE);
	/* An interim response is the head alone; the next one follows. */
	s = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n";
	assert_int_equal(resp(s, 0, &r), 25);
	assert_int_equal(r.status, 100);
	assert_int_equal(r.kind, FRAMING_NONE);
	assert_false(r.close);
	assert_int_equal(resp("HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 0, &r), 77);
	assert_int_equal(r.kind, FRAMING_CLOSE);
	assert_true(r.close);
	/* Chunked when it is the last coding; else to the close. */
	assert_true(resp("HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n"
	    "\r\n", 0, &r) > 0);
	assert_int_equal(r.kind, FRAMING_CHUNKED);
	assert_false(r.close);
	assert_true(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 0, &r) > 0);
	assert_int_equal(r.kind, FRAMING_CHUNKED);
	assert_true(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, "
	    "gzip\r\n\r\n", 0, &r) > 0);
	assert_int_equal(r.kind, FRAMING_CLOSE);
	assert_true(r.close);
	assert_true(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;x=1"
	    "\r\n\r\n", 0, &r) > 0);
	assert_int_equal(r.kind, FRAMING_CLOSE);
	/* Neither: the body runs to the close. */
	assert_true(resp("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", 0, &r) > 0);
	assert_int_equal(r.kind, FRAMING_CLOSE);
	assert_true(r.close);
}

static void
test_response_close(void **state)
{
	struct framing_resp r;

	(void)state;
	assert_true(resp("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n"
	    "Connection: Keep-Alive\r\n\r\n", 0, &r) > 0);
	assert_int_equal(r.minor, 0);
	assert_int_equal(r.kind, FRAMING_SIZED);
	assert_false(r.close);
	assert_true(resp("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", 0,
	    &r) > 0);
	assert_int_equal(r.kind, FRAMING_SIZED);
	assert_true(r.close);
	assert_true(resp("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
	    "Connection: te, CLOSE\r\n\r\n", 0, &r) > 0);
	assert_true(r.close);
	assert_true(resp("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
	    "Connection: ,,closer, x-close\r\n\r\n", 0, &r) > 0);
	assert_false(r.close);
	assert_true(resp("HTTP/1.1 204 No Content\r\nconnection: close\r\n"
	    "\r\n", 0, &r) > 0);
	assert_true(r.close);
}

static void
test_response_lengths(void **state)
{
	struct framing_resp r;

	(void)state;
	assert_true(resp("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n"
	    "content-length:7 \r\n\r\n", 0, &r) > 0);
	assert_int_equal(r.kind, FRAMING_SIZED);
	assert_int_equal(r.length, 7);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n"
	    "Content-Length: 8\r\n\r\n", 0, &r), -1);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n"
	    "\r\n", 0, &r), -1);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: +7\r\n\r\n",
	    0, &r), -1);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
	    0, &r), -1);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: "
	    "99999999999999999999\r\n\r\n", 0, &r), -1);
	/* Both framings, or chunked in HTTP/1.0: faulty framing. */
	assert_int_equal(resp("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 0, &r), -1);
	assert_int_equal(resp("HTTP/1.0 200 OK\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 0, &r), -1);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: ,chunked\r\n\r\n", 0, &r), -1);
	assert_int_equal(resp("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: x;a=\", chunked\r\n\r\n", 0, &r), -1);
}

static void
test_response_lines(void **state)
{
	static const char *bad[] = {
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 099 Odd\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.x 200 OK\r\n\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: 1\rX-B: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-A: a\001b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: no name\r\n\r\n",
		"HTTP/1.1 200 O\rK\r\n\r\n",
	};
	struct framing_resp r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (resp(bad[i], 0, &r) != -1)
			fail_msg("accepted: %s", bad[i]);
	/* No reason phrase, with or without its space; bare LF lines. */
	assert_int_equal(resp("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0,
	    &r), 35);
	assert_int_equal(r.kind, FRAMING_SIZED);
	assert_int_equal(resp("HTTP/1.1 404 \r\n\r\n", 0, &r), 17);
	assert_int_equal(r.status, 404);
	assert_int_equal(resp("HTTP/1.1 200 OK\nContent-Length: 3\n\nabc", 0,
	    &r), 35);
	assert_int_equal(r.length, 3);
	assert_int_equal(resp("HTTP/1.1 599 X\r\nX-Empty:\r\nX-Tab:\ta\tb\t"
	    "\r\n\r\n", 0, &r), 41);
	assert_int_equal(r.status, 599);
	/* Garbage shows before the head is all there. */
	assert_int_equal(framing_response("XTT", 3, 8192, 0, &r), -1);
	assert_int_equal(framing_response("HTTP/2", 6, 8192, 0, &r), -1);
}

static void
test_response_incomplete_and_max(void **state)
{
	static const char head[] =
	    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
	size_t n = sizeof(head) - 1, i;
	struct framing_resp r;

	(void)state;
	for (i = 0; i < n; i++)
		assert_int_equal(framing_response(head, i, 8192, 0, &r), 0);
	assert_int_equal(framing_response(head, n, 8192, 0, &r), (long)n);
	/* A head of exactly max bytes fits; one more does not. */
	assert_int_equal(framing_response(head, n, n, 0, &r), (long)n);
	assert_int_equal(framing_response(head, n, n - 1, 0, &r), -1);
	assert_int_equal(framing_response(head, n - 1, n - 1, 0, &r), -1);
	assert_int_equal(framing_response(head, n - 2, n - 1, 0, &r), 0);
	assert_int_equal(framing_response("", 0, 8192, 0, &r), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sized_every_split),
		cmocka_unit_test(test_none_sized_zero_close),
		cmocka_unit_test(test_chunked_whole_vs_bytes),
		cmocka_unit_test(test_chunked_left_and_sizes),
		cmocka_unit_test(test_chunked_malformed),
		cmocka_unit_test(test_chunked_body_after_response_head),
		cmocka_unit_test(test_response_bodies),
		cmocka_unit_test(test_response_close),
		cmocka_unit_test(test_response_lengths),
		cmocka_unit_test(test_response_lines),
		cmocka_unit_test(test_response_incomplete_and_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
