/*
 * test_proxyproto.c: the PROXY protocol header of a load balancer,
 * versions 1 and 2: whole, in pieces, and every way it can be wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "cgigate.h"

static const char sig[12] = "\r\n\r\n\0\r\nQUIT\n";

/* A version 2 header: command byte, family byte, then n body bytes. */
static size_t
v2(char *out, int cmd, int fam, const unsigned char *body, size_t n)
{
	memcpy(out, sig, 12);
	out[12] = (char)cmd;
	out[13] = (char)fam;
	out[14] = (char)(n >> 8);
	out[15] = (char)(n & 0xff);
	memcpy(out + 16, body, n);
	return 16 + n;
}

/* buf whole gives want; each shorter prefix of it asks for more. */
static void
expect_whole(const char *buf, size_t len, int want, struct proxy_src *src)
{
	const char *why;
	size_t k;

	for (k = 0; k < (size_t)want; k++)
		assert_int_equal(proxy_parse(buf, k, src, &why), 0);
	assert_int_equal(proxy_parse(buf, len, src, &why), want);
	assert_null(why);
}

static void
expect_bad(const char *buf, size_t len, const char *wwhy)
{
	struct proxy_src src;
	const char *why;

	assert_int_equal(proxy_parse(buf, len, &src, &why), -1);
	assert_non_null(why);
	assert_non_null(strstr(why, wwhy));
}

/* A literal, NULs included. */
#define BAD(lit, wwhy)	expect_bad(lit, sizeof(lit) - 1, wwhy)

static void
v1_tcp4(void **state)
{
	const char *h = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n";
	char buf[256];
	struct proxy_src src;

	(void)state;
	snprintf(buf, sizeof(buf), "%sGET / HTTP/1.1\r\n\r\n", h);
	expect_whole(buf, strlen(buf), (int)strlen(h), &src);
	assert_int_equal(src.family, AF_INET);
	assert_string_equal(src.addr, "192.0.2.7");
	assert_int_equal(src.port, 56324);
}

static void
v1_tcp6(void **state)
{
	const char *h = "PROXY TCP6 2001:DB8:0:0::7 2001:db8::1 0 65535\r\n";
	struct proxy_src src;

	(void)state;
	expect_whole(h, strlen(h), (int)strlen(h), &src);
	assert_int_equal(src.family, AF_INET6);
	assert_string_equal(src.addr, "2001:db8::7");	/* as inet_ntop */
	assert_int_equal(src.port, 0);
}

static void
v1_unknown(void **state)
{
	const char *h = "PROXY UNKNOWN ffff:f...f:ffff 65535 65535\r\nGET";
	struct proxy_src src;

	(void)state;
	expect_whole(h, strlen(h), (int)strlen(h) - 3, &src);
	assert_int_equal(src.family, AF_UNSPEC);
	expect_whole("PROXY UNKNOWN\r\n", 15, 15, &src);
	assert_int_equal(src.family, AF_UNSPEC);
}

static void
v1_longest(void **state)
{
	const char *h6 = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	/* 107 bytes with CRLF: the longest the specification allows. */
	const char *hu = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	char buf[200];
	struct proxy_src src;

	(void)state;
	expect_whole(h6, strlen(h6), (int)strlen(h6), &src);
	assert_string_equal(src.addr, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_int_equal(src.port, 65535);
	assert_int_equal(strlen(hu), 107);
	expect_whole(hu, strlen(hu), 107, &src);
	assert_int_equal(src.family, AF_UNSPEC);
	/* 107 bytes and no end in sight: refused, not waited for. */
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "PROXY UNKNOWN ", 14);
	expect_bad(buf, 107, "longer than 107");
	assert_int_equal(proxy_parse(buf, 106, &src, &(const char *){ 0 }), 0);
}

static void
v1_bad(void **state)
{
	(void)state;
	BAD("PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\n", "CRLF");
	BAD("PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n", "six fields");
	BAD("PROXY TCP4 192.0.2.7 198.51.100.1 1 2 3\r\n", "six fields");
	BAD("PROXY TCP4  192.0.2.7 198.51.100.1 1 2\r\n", "six fields");
	BAD("PROXY TCP5 192.0.2.7 198.51.100.1 1 2\r\n", "unknown protocol");
	BAD("PROXY TCP4 192.0.2 198.51.100.1 1 2\r\n", "bad address");
	BAD("PROXY TCP4 ::1 198.51.100.1 1 2\r\n", "bad address");
	BAD("PROXY TCP6 ::1 127.0.0.1 1 2\r\n", "bad address");
	BAD("PROXY TCP4 192.0.2.7 198.51.100.1 65536 2\r\n", "bad port");
	BAD("PROXY TCP4 192.0.2.7 198.51.100.1 1 -2\r\n", "bad port");
	BAD("PROXY TCP4 192.0.2.7 198.51.100.1 1 \r\n", "bad port");
	BAD("PROXY TCP4 192.0.2.7\0 198.51.100.1 1 2\r\n", "NUL");
	BAD("GET / HTTP/1.1\r\n\r\n", "no PROXY");
	BAD("proxy TCP4", "no PROXY");
}

static void
prefixes_wait(void **state)
{
	struct proxy_src src;
	const char *why;

	(void)state;
	assert_int_equal(proxy_parse("", 0, &src, &why), 0);
	assert_int_equal(proxy_parse("PROX", 4, &src, &why), 0);
	assert_int_equal(proxy_parse("\r\n\r\n\0\r", 6, &src, &why), 0);
	/* An empty line before a request is not a version 2 signature. */
	assert_int_equal(proxy_parse("\r\nGET", 5, &src, &why), -1);
}

static void
v2_inet(void **state)
{
	unsigned char body[12 + 7] = { 192, 0, 2, 7, 198, 51, 100, 1,
	    0xdb, 0x04, 0x01, 0xbb,
	    /* a TLV: type 0x01 (ALPN), length 4, "h1.1": skipped */
	    0x01, 0x00, 0x04, 'h', '1', '.', '1' };
	char buf[64];
	struct proxy_src src;
	size_t n;

	(void)state;
	n = v2(buf, 0x21, 0x11, body, sizeof(body));
	memcpy(buf + n, "GET", 3);
	expect_whole(buf, n + 3, (int)n, &src);
	assert_int_equal(src.family, AF_INET);
	assert_string_equal(src.addr, "192.0.2.7");
	assert_int_equal(src.port, 56068);
}

static void
v2_inet6(void **state)
{
	unsigned char body[36] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7,
	    0x20, 0x01, 0x0d, 0xb8, [31] = 1, 0x00, 0x50, 0x01, 0xbb };
	char buf[64];
	struct proxy_src src;
	size_t n;

	(void)state;
	n = v2(buf, 0x21, 0x21, body, sizeof(body));
	expect_whole(buf, n, (int)n, &src);
	assert_int_equal(src.family, AF_INET6);
	assert_string_equal(src.addr, "2001:db8::7");
	assert_int_equal(src.port, 80);
}

static void
v2_local_and_unix(void **state)
{
	unsigned char body[216] = { 0 };
	char buf[300];
	struct proxy_src src;
	size_t n;

	(void)state;
	/* LOCAL: the proxy's own health check; its addresses ignored. */
	n = v2(buf, 0x20, 0x11, body, 12);
	expect_whole(buf, n, (int)n, &src);
	assert_int_equal(src.family, AF_UNSPEC);
	n = v2(buf, 0x20, 0x00, body, 0);
	expect_whole(buf, n, 16, &src);
	assert_int_equal(src.family, AF_UNSPEC);
	/* A Unix socket or an unspecified family: no address to take. */
	n = v2(buf, 0x21, 0x31, body, sizeof(body));
	expect_whole(buf, n, (int)n, &src);
	assert_int_equal(src.family, AF_UNSPEC);
	n = v2(buf, 0x21, 0x00, body, 0);
	expect_whole(buf, n, 16, &src);
	assert_int_equal(src.family, AF_UNSPEC);
}

static void
v2_bad(void **state)
{
	unsigned char body[36] = { 0 };
	char buf[64];

	(void)state;
	expect_bad(buf, v2(buf, 0x11, 0x11, body, 12), "version");
	expect_bad(buf, v2(buf, 0x31, 0x11, body, 12), "version");
	expect_bad(buf, v2(buf, 0x22, 0x11, body, 12), "command");
	expect_bad(buf, v2(buf, 0x21, 0x41, body, 12), "family");
	expect_bad(buf, v2(buf, 0x21, 0x11, body, 11), "cut short");
	expect_bad(buf, v2(buf, 0x21, 0x21, body, 35), "cut short");
	/* A length past the limit is refused at once, not waited for. */
	v2(buf, 0x21, 0x11, body, 12);
	buf[14] = (char)((PROXY_V2_MAX - 16 + 1) >> 8);
	buf[15] = (char)((PROXY_V2_MAX - 16 + 1) & 0xff);
	expect_bad(buf, 16, "longer than");
	buf[14] = (char)((PROXY_V2_MAX - 16) >> 8);
	buf[15] = (char)((PROXY_V2_MAX - 16) & 0xff);
	assert_int_equal(proxy_parse(buf, 28, &(struct proxy_src){ 0 },
	    &(const char *){ 0 }), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(v1_tcp4),
		cmocka_unit_test(v1_tcp6),
		cmocka_unit_test(v1_unknown),
		cmocka_unit_test(v1_longest),
		cmocka_unit_test(v1_bad),
		cmocka_unit_test(prefixes_wait),
		cmocka_unit_test(v2_inet),
		cmocka_unit_test(v2_inet6),
		cmocka_unit_test(v2_local_and_unix),
		cmocka_unit_test(v2_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
