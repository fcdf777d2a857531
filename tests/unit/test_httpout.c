/*
 * test_httpout.c: the HTTP/1.x writer, to the byte.
 *
 * Every test collects what httpout writes through its callback and holds
 * the whole of it against the bytes a client must see: the status line,
 * the fields in their order, the framing decided from the version, the
 * status, the method and the declared length, the body sized, chunked
 * (sizes in hex) or ended by the close, and the last chunk.  A declared
 * length is held to both ways; a write that fails ends all writing.
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

#define DATE	"Sun, 06 Nov 1994 08:49:37 GMT"
/* What every head has after its status line. */
#define DS	"\r\nDate: " DATE "\r\nServer: cgigate\r\n"
#define KEEP	"Connection: keep-alive\r\n\r\n"
#define CLOSE	"Connection: close\r\n\r\n"
#define LONGER	"output longer than its Content-Length"
#define SHORTER	"truncated: output shorter than Content-Length"

/* What the write callback was given. */
struct cap {
	char		 buf[16384];
	size_t		 len;
	int		 calls;
	int		 fail_at;	/* the call that fails, 1 on; 0: none */
};

static struct cap cap;

static int
cap_write(void *arg, const char *buf, size_t n)
{
	struct cap *c = arg;

	assert_ptr_equal(c, &cap);
	assert_true(n > 0);
	c->calls++;
	if (c->fail_at != 0 && c->calls >= c->fail_at)
		return -1;
	assert_true(n <= sizeof(c->buf) - c->len);
	memcpy(c->buf + c->len, buf, n);
	c->len += n;
	return 0;
}

static void
start(struct httpout *o, int minor, int head_req, int keep_alive)
{
	memset(&cap, 0, sizeof(cap));
	httpout_init(o, minor, head_req, keep_alive, cap_write, &cap);
}

/* The bytes written so far are want[0..n), all of them and no more. */
static void
same_bytes_at(const char *want, size_t n, const char *file, int line)
{
	if (cap.len != n || memcmp(cap.buf, want, n) != 0) {
		fprintf(stderr, "want %zu bytes:\n%.*s\ngot %zu bytes:\n%.*s\n",
		    n, (int)n, want, cap.len, (int)cap.len, cap.buf);
		_fail(file, line);
	}
}

#define same_bytes(s, n)	same_bytes_at(s, n, __FILE__, __LINE__)
#define SAME(lit)		same_bytes(lit, sizeof(lit) - 1)

static const struct cgi_header ctype = { "Content-Type", "text/plain" };

static void
test_sized_11(void **state)
{
	struct httpout o;

	(void)state;
	start(&o, 1, 0, 1);
	assert_int_equal(httpout_head(&o, 200, NULL, &ctype, 1, NULL, 5,
	    DATE), 0);
	assert_int_equal(o.status, 200);
	assert_true(o.sized);
	assert_false(o.chunked);
	assert_int_equal(o.left, 5);
	assert_int_equal(httpout_body(&o, "hel", 3), 0);
	assert_int_equal(httpout_body(&o, "", 0), 0);
	assert_int_equal(httpout_body(&o, "lo", 2), 0);
	assert_int_equal(o.left, 0);
	assert_int_equal(httpout_end(&o, 0), 0);
	SAME("HTTP/1.1 200 OK" DS "Content-Type: text/plain\r\n"
	    "Content-Length: 5\r\n" KEEP "hello");
	assert_true(o.keep_alive);
	assert_null(o.note);
	assert_false(o.gone);

	/* A client that does not keep the connection is told so. */
	start(&o, 1, 0, 0);
	assert_int_equal(httpout_head(&o, 200, NULL, NULL, 0, NULL, 0, DATE),
	    0);
	assert_int_equal(httpout_end(&o, 0), 0);
	SAME("HTTP/1.1 200 OK" DS "Content-Length: 0\r\n" CLOSE);
}

static void
test_chunked_11(void **state)
{
	static const char head[] = "HTTP/1.1 200 OK" DS
	    "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n" KEEP;
	static const size_t sizes[] = { 1, 15, 16, 4096, 255, 256 };
	static const char *hex[] = { "1", "f", "10", "1000", "ff", "100" };
	static char data[4096], want[8192];
	struct httpout o;
	size_t i, w = 0;

	(void)state;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	start(&o, 1, 0, 1);
	assert_int_equal(httpout_head(&o, 200, NULL, &ctype, 1, NULL, -1,
	    DATE), 0);
	assert_true(o.chunked);
	assert_false(o.sized);
	memcpy(want + w, head, sizeof(head) - 1);
	w += sizeof(head) - 1;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_int_equal(httpout_body(&o, data, sizes[i]), 0);
		/* An empty write is no chunk: it would end the body. */
		assert_int_equal(httpout_body(&o, data, 0), 0);
		w += (size_t)sprintf(want + w, "%s\r\n", hex[i]);
		memcpy(want + w, data, sizes[i]);
		w += sizes[i];
		memcpy(want + w, "\r\n", 2);
		w += 2;
	}
	same_bytes(want, w);
	assert_int_equal(httpout_end(&o, 0), 0);
	memcpy(want + w, "0\r\n\r\n", 5);
	w += 5;
	same_bytes(want, w);
	assert_true(o.keep_alive);
	assert_null(o.note);

	/* An empty chunked body is the last chunk alone. */
	start(&o, 1, 0, 1);
	httpout_head(&o, 200, NULL, NULL, 0, NULL, -1, DATE);
	assert_int_equal(httpout_end(&o, 0), 0);
	SAME("HTTP/1.1 200 OK" DS "Transfer-Encoding: chunked\r\n" KEEP
	    "0\r\n\r\n");
}

static void
test_http10(void **state)
{
	struct httpout o;

	(void)state;
	/* No length: no chunking in HTTP/1.0, the close ends the body. */
	start(&o, 0, 0, 1);
	assert_int_equal(httpout_head(&o, 200, NULL, &ctype, 1, NULL, -1,
	    DATE), 0);
	assert_false(o.keep_alive);
	assert_false(o.chunked);
	assert_false(o.sized);
	assert_int_equal(httpout_body(&o, "abc", 3), 0);
	assert_int_equal(httpout_body(&o, "defghijklmnopq", 14), 0);
	assert_int_equal(httpout_end(&o, 0), 0);
	SAME("HTTP/1.0 200 OK" DS "Content-Type: text/plain\r\n" CLOSE
	    "abcdefghijklmnopq");

	/* With a length the connection may stay. */
	start(&o, 0, 0, 1);
	assert_int_equal(httpout_head(&o, 200, NULL, &ctype, 1, NULL, 3,
	    DATE), 0);
	assert_true(o.keep_alive);
	assert_int_equal(httpout_body(&o, "abc", 3), 0);
	assert_int_equal(httpout_end(&o, 0), 0);
	assert_true(o.keep_alive);
	SAME("HTTP/1.0 200 OK" DS "Content-Type: text/plain\r\n"
	    "Content-Length: 3\r\n" KEEP "abc");

	/* Unless the client did not ask for it. */
	start(&o, 0, 0, 0);
	httpout_head(&o, 200, NULL, NULL, 0, NULL, 3, DATE);
	httpout_body(&o, "abc", 3);
	assert_int_equal(httpout_end(&o, 0), 0);
	SAME("HTTP/1.0 200 OK" DS "Content-Length: 3\r\n" CLOSE "abc");
}

static void
test_longer_than_length(void **state)
{
	struct httpout o;

	(void)state;
	/* Across writes: exactly the declared bytes go out. */
	start(&o, 1, 0, 1);
	httpout_head(&o, 200, NULL, NULL, 0, NULL, 5, DATE);
	assert_int_equal(httpout_body(&o, "hel", 3), 0);
	assert_null(o.note);
	assert_int_equal(httpout_body(&o, "lo wo", 5), 0);
	assert_string_equal(o.note, LONGER);
	o.note = NULL;		/* as http.c takes it */
	assert_int_equal(httpout_body(&o, "rld", 3), 0);
	assert_int_equal(httpout_body(&o, "!", 1), 0);
	assert_null(o.note);	/* said once */
	assert_int_equal(httpout_end(&o, 0), 0);
	assert_null(o.note);
	assert_true(o.keep_alive);
	SAME("HTTP/1.1 200 OK" DS "Content-Length: 5\r\n" KEEP "hello");

	/* All in one write. */
	start(&o, 1, 0, 1);
	httpout_head(&o, 200, NULL, NULL, 0, NULL, 5, DATE);
	assert_int_equal(httpout_body(&o, "hello world", 11), 0);
	assert_string_equal(o.note, LONGER);
	assert_int_equal(httpout_end(&o, 0), 0);
	SAME("HTTP/1.1 200 OK" DS "Content-Length: 5\r\n" KEEP "hello");

	/* The length reached exactly, then one byte more. */
	start(&o, 1, 0, 1);
	httpout_head(&o, 200, NULL, NULL, 0, NULL, 5, DATE);
	assert_int_equal(httpout_body(&o, "hello", 5), 0);
	assert_null(o.note);
	assert_int_equal(httpout_body(&o, "x", 1), 0);
	assert_string_equal(o.note, LONGER);
	SAME("HTTP/1.1 200 OK" DS "Content-Length: 5\r\n" KEEP "hello");

	/* A declared empty body takes nothing. */
	start(&o, 1, 0, 1);
	httpout_head(&o, 200, NULL, NULL, 0, NULL, 0, DATE);
	assert_int_equal(httpout_body(&o, "x", 1), 0);
	assert_string_equal(o.note, LONGER);
	assert_int_equal(httpout_end(&o, 0), 0);
	SAME("HTTP/1.1 200 OK" DS "Content-Length: 0\r\n" KEEP);
}

static void
test_shorter_than_length(void **state)
{
	struct httpout o;

	(void)state;
	start(&o, 1, 0, 1);
	httpout_head(&o, 200, NULL, NULL, 0, NULL, 10, DATE);
	assert_int_equal(httpout_body(&o, "hello", 5), 0);
	assert_int_equal(httpout_end(&o, 0), 1);
	assert_false(o.keep_alive);
	assert_string_equal(o.note, SHORTER);
	assert_int_equal(o.left, 5);
	SAME("HTTP/1.1 200 OK" DS "Content-Length: 10\r\n" KEEP "hello");

	/* Cut short by the caller: no note of ours, the connection ends. */
	start(&o, 1, 0, 1);
	httpout_head(&o, 200, NULL, NULL, 0, NULL, 10, DATE);
	httpout_body(&o, "hello", 5);
	assert_int_equal(httpout_end(&o, 1), 1);
	assert_false(o.keep_alive);
	assert_null(o.note);
	SAME("HTTP/1.1 200 OK" DS "Content-Length: 10\r\n" KEEP "hello");
}

static void
test_chunked_truncated(void **state)
{
	struct httpout o;

	(void)state;
	start(&o, 1, 0, 1);
	httpout_head(&o, 200, NULL, NULL, 0, NULL, -1, DATE);
	assert_int_equal(httpout_body(&o, "abc", 3), 0);
	assert_int_equal(httpout_end(&o, 1), 1);
	assert_false(o.keep_alive);
	assert_null(o.note);
	/* No last chunk: the client sees the body cut. */
	SAME("HTTP/1.1 200 OK" DS "Transfer-Encoding: chunked\r\n" KEEP
	    "3\r\nabc\r\n");
}

static void
test_head_request(void **state)
{
	struct httpout o;

	(void)state;
	/* The length a GET would get, and no body. */
	start(&o, 1, 1, 1);
	assert_int_equal(httpout_head(&o, 200, NULL, &ctype, 1, NULL, 5,
	    DATE), 0);
	assert_false(o.sized);
	assert_int_equal(httpout_body(&o, "hello", 5), 0);
	assert_int_equal(httpout_body(&o, "more", 4), 0);
	assert_null(o.note);
	assert_int_equal(httpout_end(&o, 0), 0);
	assert_true(o.keep_alive);
	assert_null(o.note);
	SAME("HTTP/1.1 200 OK" DS "Content-Type: text/plain\r\n"
	    "Content-Length: 5\r\n" KEEP);

	/*
	 * No length: no framing field, no chunk, no last chunk, and the
	 * connection stays since no body is to be delimited.  (RFC 9110
	 * 9.3.2 lets a server leave out what only the content decides.)
	 */
	start(&o, 1, 1, 1);
	assert_int_equal(httpout_head(&o, 200, NULL, &ctype, 1, NULL, -1,
	    DATE), 0);
	assert_false(o.chunked);
	assert_int_equal(httpout_body(&o, "hello", 5), 0);
	assert_int_equal(httpout_end(&o, 0), 0);
	assert_true(o.keep_alive);
	SAME("HTTP/1.1 200 OK" DS "Content-Type: text/plain\r\n" KEEP);

	/* HTTP/1.0 the same. */
	start(&o, 0, 1, 1);
	httpout_head(&o, 404, NULL, NULL, 0, NULL, -1, DATE);
	httpout_body(&o, "gone", 4);
	assert_int_equal(httpout_end(&o, 0), 0);
	assert_true(o.keep_alive);
	SAME("HTTP/1.0 404 Not Found" DS KEEP);

	/* A length never reached is no truncation: no body was due. */
	start(&o, 1, 1, 1);
	httpout_head(&o, 200, NULL, NULL, 0, NULL, 100, DATE);
	assert_int_equal(httpout_end(&o, 0), 0);
	assert_true(o.keep_alive);
	assert_null(o.note);
	SAME("HTTP/1.1 200 OK" DS "Content-Length: 100\r\n" KEEP);
}

static void
test_no_body_statuses(void **state)
{
	struct httpout o;

	(void)state;
	/* 204: no Content-Length even when given, no body, nothing cut. */
	start(&o, 1, 0, 1);
	httpout_head(&o, 204, NULL, NULL, 0, NULL, 10, DATE);
	assert_false(o.sized);
	assert_false(o.chunked);
	assert_int_equal(httpout_body(&o, "0123456789", 10), 0);
	assert_int_equal(httpout_end(&o, 0), 0);
	assert_true(o.keep_alive);
	assert_null(o.note);
	SAME("HTTP/1.1 204 No Content" DS KEEP);

	/* Nor a chunked one, and HTTP/1.0 keeps the connection. */
	start(&o, 0, 0, 1);
	httpout_head(&o, 204, NULL, NULL, 0, NULL, -1, DATE);
	httpout_body(&o, "x", 1);
	assert_int_equal(httpout_end(&o, 0), 0);
	assert_true(o.keep_alive);
	SAME("HTTP/1.0 204 No Content" DS KEEP);

	/* 304: the length of what a 200 would carry, but no body. */
	start(&o, 1, 0, 1);
	httpout_head(&o, 304, NULL, NULL, 0, NULL, 10, DATE);
	assert_false(o.sized);
	assert_int_equal(httpout_body(&o, "0123456789", 10), 0);
	assert_int_equal(httpout_end(&o, 0), 0);
	assert_true(o.keep_alive);
	assert_null(o.note);
	SAME("HTTP/1.1 304 Not Modified" DS "Content-Length: 10\r\n" KEEP);

	start(&o, 1, 0, 1);
	httpout_head(&o, 304, NULL, NULL, 0, NULL, -1, DATE);
	httpout_body(&o, "x", 1);
	assert_int_equal(httpout_end(&o, 0), 0);
	SAME("HTTP/1.1 304 Not Modified" DS KEEP);

	/* 1xx: no body, no chunking, no last chunk. */
	start(&o, 1, 0, 1);
	httpout_head(&o, 100, NULL, NULL, 0, NULL, -1, DATE);
	assert_false(o.chunked);
	httpout_body(&o, "x", 1);
	assert_int_equal(httpout_end(&o, 0), 0);
	SAME("HTTP/1.1 100 Continue" DS KEEP);

	/* Nor a Content-Length (RFC 9110 8.6), whatever was declared. */
	start(&o, 1, 0, 1);
	httpout_head(&o, 100, NULL, NULL, 0, NULL, 0, DATE);
	assert_false(o.sized);
	assert_int_equal(httpout_end(&o, 0), 0);
	SAME("HTTP/1.1 100 Continue" DS KEEP);

	start(&o, 1, 0, 1);
	httpout_head(&o, 103, NULL, NULL, 0, NULL, -1, DATE);
	httpout_body(&o, "x", 1);
	assert_int_equal(httpout_end(&o, 0), 0);
	assert_true(o.keep_alive);
	SAME("HTTP/1.1 103 Information" DS KEEP);
}

static void
test_reasons(void **state)
{
	struct httpout o;

	(void)state;
	assert_string_equal(httpout_reason(200), "OK");
	assert_string_equal(httpout_reason(404), "Not Found");
	assert_string_equal(httpout_reason(413), "Content Too Large");
	assert_string_equal(httpout_reason(502), "Bad Gateway");
	assert_string_equal(httpout_reason(101), "Switching Protocols");
	/* Codes of no table entry: their class. */
	assert_string_equal(httpout_reason(199), "Information");
	assert_string_equal(httpout_reason(299), "Success");
	assert_string_equal(httpout_reason(306), "Redirection");
	assert_string_equal(httpout_reason(499), "Client Error");
	assert_string_equal(httpout_reason(599), "Server Error");
	/* Outside 100..599: none. */
	assert_string_equal(httpout_reason(0), "");
	assert_string_equal(httpout_reason(99), "");
	assert_string_equal(httpout_reason(600), "");
	assert_string_equal(httpout_reason(999), "");
	assert_string_equal(httpout_reason(-200), "");
	assert_string_equal(httpout_reason(2000), "");

	start(&o, 1, 0, 1);
	httpout_head(&o, 299, NULL, NULL, 0, NULL, 0, DATE);
	SAME("HTTP/1.1 299 Success" DS "Content-Length: 0\r\n" KEEP);
	start(&o, 1, 0, 1);
	httpout_head(&o, 404, "", NULL, 0, NULL, 0, DATE);
	SAME("HTTP/1.1 404 Not Found" DS "Content-Length: 0\r\n" KEEP);
	start(&o, 1, 0, 1);
	httpout_head(&o, 404, "Nowhere To Be Found", NULL, 0, NULL, 0, DATE);
	SAME("HTTP/1.1 404 Nowhere To Be Found" DS "Content-Length: 0\r\n"
	    KEEP);
	/* An out-of-range code keeps the space before its empty reason. */
	start(&o, 1, 0, 1);
	httpout_head(&o, 600, NULL, NULL, 0, NULL, 0, DATE);
	SAME("HTTP/1.1 600 " DS "Content-Length: 0\r\n" KEEP);
}

static void
test_fields_and_extra(void **state)
{
	static const struct cgi_header f[] = {
		{ "X-Zeta", "1" }, { "Content-Type", "text/html" },
		{ "Set-Cookie", "a=b" }, { "X-Alpha", "" },
		{ "Set-Cookie", "c=d; Path=/" },
	};
	struct httpout o;

	(void)state;
	start(&o, 1, 0, 1);
	assert_int_equal(httpout_head(&o, 503, "Busy", f, 5,
	    "Retry-After: 1\r\nX-Extra: y\r\n", 2, DATE), 0);
	httpout_body(&o, "ok", 2);
	assert_int_equal(httpout_end(&o, 0), 0);
	SAME("HTTP/1.1 503 Busy" DS "X-Zeta: 1\r\nContent-Type: text/html\r\n"
	    "Set-Cookie: a=b\r\nX-Alpha: \r\nSet-Cookie: c=d; Path=/\r\n"
	    "Retry-After: 1\r\nX-Extra: y\r\n"
	    "Content-Length: 2\r\n" KEEP "ok");

	/* Before the chunked framing too. */
	start(&o, 1, 0, 0);
	httpout_head(&o, 200, NULL, f, 1, "X-Extra: y\r\n", -1, DATE);
	httpout_body(&o, "ok", 2);
	assert_int_equal(httpout_end(&o, 0), 0);
	SAME("HTTP/1.1 200 OK" DS "X-Zeta: 1\r\nX-Extra: y\r\n"
	    "Transfer-Encoding: chunked\r\n" CLOSE "2\r\nok\r\n0\r\n\r\n");
}

static void
test_raw(void **state)
{
	static const char nph[] = "HTTP/1.1 299 Mine\r\nX: y\r\n\r\nbody\0\r\n";
	struct httpout o;

	(void)state;
	start(&o, 1, 0, 1);
	assert_int_equal(httpout_raw(&o, nph, 10), 0);
	assert_false(o.keep_alive);
	assert_int_equal(o.status, 200);
	assert_int_equal(httpout_raw(&o, nph + 10, sizeof(nph) - 1 - 10), 0);
	assert_int_equal(httpout_raw(&o, nph, 0), 0);
	assert_int_equal(httpout_end(&o, 0), 0);
	assert_false(o.keep_alive);
	same_bytes(nph, sizeof(nph) - 1);

	/* After a head (it is not meant to be, but stays verbatim). */
	start(&o, 1, 0, 1);
	httpout_head(&o, 201, NULL, NULL, 0, NULL, -1, DATE);
	assert_int_equal(httpout_raw(&o, "\r\n\x01", 3), 0);
	assert_int_equal(o.status, 201);
	assert_false(o.keep_alive);
	SAME("HTTP/1.1 201 Created" DS "Transfer-Encoding: chunked\r\n" KEEP
	    "\r\n\x01");
}

static void
test_body_before_head(void **state)
{
	struct httpout o;

	(void)state;
	start(&o, 1, 0, 1);
	assert_int_equal(httpout_body(&o, "early", 5), 0);
	assert_int_equal(cap.calls, 0);
	assert_int_equal(httpout_end(&o, 0), 0);
	assert_int_equal(cap.calls, 0);
}

static void
test_write_fails(void **state)
{
	struct httpout o;
	int at, calls;

	(void)state;
	/* Whichever write of the head fails, it is the last one made. */
	for (at = 1; at <= 12; at++) {
		start(&o, 1, 0, 1);
		cap.fail_at = at;
		assert_int_equal(httpout_head(&o, 200, NULL, &ctype, 1,
		    "X: y\r\n", -1, DATE), -1);
		assert_true(o.gone);
		assert_int_equal(cap.calls, at);
		assert_int_equal(httpout_body(&o, "abc", 3), -1);
		assert_int_equal(httpout_body(&o, "abc", 0), -1);
		assert_int_equal(httpout_raw(&o, "abc", 3), -1);
		assert_int_equal(httpout_head(&o, 200, NULL, NULL, 0, NULL,
		    0, DATE), -1);
		httpout_end(&o, 0);
		httpout_end(&o, 1);
		assert_int_equal(cap.calls, at);
		assert_true(o.gone);
	}

	/* In the middle of a chunk. */
	start(&o, 1, 0, 1);
	httpout_head(&o, 200, NULL, NULL, 0, NULL, -1, DATE);
	assert_int_equal(httpout_body(&o, "abc", 3), 0);
	calls = cap.calls;
	cap.fail_at = calls + 2;	/* the chunk's data */
	assert_int_equal(httpout_body(&o, "defg", 4), -1);
	assert_true(o.gone);
	assert_int_equal(cap.calls, calls + 2);
	assert_int_equal(httpout_body(&o, "h", 1), -1);
	httpout_end(&o, 0);
	assert_int_equal(cap.calls, calls + 2);
	SAME("HTTP/1.1 200 OK" DS "Transfer-Encoding: chunked\r\n" KEEP
	    "3\r\nabc\r\n4\r\n");

	/* Sized and raw bodies alike. */
	start(&o, 1, 0, 1);
	httpout_head(&o, 200, NULL, NULL, 0, NULL, 10, DATE);
	cap.fail_at = cap.calls + 1;
	assert_int_equal(httpout_body(&o, "abc", 3), -1);
	assert_int_equal(httpout_body(&o, "def", 3), -1);
	assert_int_equal(cap.calls, cap.fail_at);
	start(&o, 1, 0, 1);
	cap.fail_at = 1;
	assert_int_equal(httpout_raw(&o, "abc", 3), -1);
	assert_int_equal(httpout_raw(&o, "abc", 3), -1);
	assert_int_equal(cap.calls, 1);
	assert_int_equal(cap.len, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sized_11),
		cmocka_unit_test(test_chunked_11),
		cmocka_unit_test(test_http10),
		cmocka_unit_test(test_longer_than_length),
		cmocka_unit_test(test_shorter_than_length),
		cmocka_unit_test(test_chunked_truncated),
		cmocka_unit_test(test_head_request),
		cmocka_unit_test(test_no_body_statuses),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_fields_and_extra),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_body_before_head),
		cmocka_unit_test(test_write_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
