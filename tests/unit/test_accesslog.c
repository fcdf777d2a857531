/*
 * test_accesslog.c: the access log's line, to the byte.
 *
 * alog_format is held to the combined log format GoAccess, awstats and
 * fail2ban read: the client, "- -", the time in brackets (UTC, English
 * months), the request line in quotes, the status, the body bytes or
 * "-", the Referer and the User-Agent in quotes or "-".  What the client
 * chose is escaped so that no line can end a field or the line early:
 * quotes and backslashes with a backslash, control bytes, DEL and bytes
 * from 0x80 as \xHH.  A field too long is cut at a whole escape and the
 * line still ends as it must.
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

/* 2026-12-07 02:04:14 UTC */
#define WHEN	((time_t)1796609054)

static char buf[ALOG_LINE_MAX];

static struct alog_line
base(void)
{
	struct alog_line l;

	memset(&l, 0, sizeof(l));
	l.addr = "127.0.0.1";
	l.when = WHEN;
	l.method = "GET";
	l.target = "/cgi/hello.cgi";
	l.query = "q=1&r=2";
	l.proto = "HTTP/1.1";
	l.status = 200;
	l.bytes = 1234;
	l.referer = "http://example.com/";
	l.agent = "curl/8.0";
	return l;
}

static void
expect(const struct alog_line *l, const char *want)
{
	size_t n = alog_format(buf, l);

	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, n);
}

static void
test_combined(void **state)
{
	struct alog_line l = base();

	(void)state;
	expect(&l, "127.0.0.1 - - [07/Dec/2026:02:04:14 +0000] "
	    "\"GET /cgi/hello.cgi?q=1&r=2 HTTP/1.1\" 200 1234 "
	    "\"http://example.com/\" \"curl/8.0\"\n");
}

static void
test_absent(void **state)
{
	struct alog_line l = base();

	(void)state;
	l.query = NULL;
	l.referer = NULL;
	l.agent = NULL;
	l.bytes = 0;
	l.status = 404;
	l.addr = "::1";
	expect(&l, "::1 - - [07/Dec/2026:02:04:14 +0000] "
	    "\"GET /cgi/hello.cgi HTTP/1.1\" 404 - \"-\" \"-\"\n");
	/* "/x?" keeps its '?'; an empty header is "" */
	l.target = "/x";
	l.query = "";
	l.agent = "";
	expect(&l, "::1 - - [07/Dec/2026:02:04:14 +0000] "
	    "\"GET /x? HTTP/1.1\" 404 - \"-\" \"\"\n");
}

/* Where the byte count goes: "-" or the number starts there. */
static void
test_bytes_at(void **state)
{
	struct alog_line l = base();
	char buf[ALOG_LINE_MAX];
	size_t n, at;

	(void)state;
	l.bytes = 0;
	n = alog_format_at(buf, &l, &at);
	assert_true(at < n);
	assert_memory_equal(buf + at, "- \"", 3);
	assert_memory_equal(buf + at - 5, " 200 ", 5);
	l.bytes = 12345;
	n = alog_format_at(buf, &l, &at);
	assert_memory_equal(buf + at, "12345 \"", 7);
	assert_int_equal(n, alog_format(buf, &l));
}

static void
test_no_request_line(void **state)
{
	struct alog_line l;

	(void)state;
	memset(&l, 0, sizeof(l));
	l.addr = "10.0.0.2";
	l.when = 0;
	l.status = 400;
	expect(&l, "10.0.0.2 - - [01/Jan/1970:00:00:00 +0000] \"-\" 400 - "
	    "\"-\" \"-\"\n");
	l.addr = NULL;
	expect(&l, "- - - [01/Jan/1970:00:00:00 +0000] \"-\" 400 - "
	    "\"-\" \"-\"\n");
}

static void
test_escapes(void **state)
{
	struct alog_line l = base();

	(void)state;
	l.agent = "a\"b\\c\nd\re\tf\x7fg\x01\xc3\xa9";
	l.referer = "\" 200 1 \"x";
	l.target = "/p\"q";
	l.query = "a=\x1b[31m";
	expect(&l, "127.0.0.1 - - [07/Dec/2026:02:04:14 +0000] "
	    "\"GET /p\\\"q?a=\\x1B[31m HTTP/1.1\" 200 1234 "
	    "\"\\\" 200 1 \\\"x\" "
	    "\"a\\\"b\\\\c\\x0Ad\\x0De\\x09f\\x7Fg\\x01\\xC3\\xA9\"\n");
}

/* Every month's name, whatever the locale. */
static void
test_months(void **state)
{
	static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct alog_line l = base();
	char want[64];
	int m;

	(void)state;
	for (m = 0; m < 12; m++) {
		/* The 15th of each month of 2026, 12:00 UTC. */
		static const int yday[] = { 14, 45, 73, 104, 134, 165, 195,
		    226, 257, 287, 318, 348 };

		l.when = (time_t)1767225600 + (time_t)yday[m] * 86400 + 43200;
		alog_format(buf, &l);
		snprintf(want, sizeof(want), "[15/%s/2026:12:00:00 +0000]",
		    mon[m]);
		assert_non_null(strstr(buf, want));
	}
}

/* Too long: cut at a whole escape, the line still whole and short. */
static void
test_long(void **state)
{
	struct alog_line l = base();
	static char big[20000];
	size_t n, i;
	char *q;

	(void)state;
	memset(big, '"', sizeof(big) - 1);
	l.target = big;
	l.query = big;
	l.referer = big;
	l.agent = big;
	n = alog_format(buf, &l);
	assert_true(n <= ALOG_LINE_MAX);
	assert_int_equal(buf[n - 1], '\n');
	assert_null(memchr(buf, '\n', n - 1));
	/* Every '"' in a field is escaped: count the bare ones. */
	for (i = 0, q = buf; q < buf + n; q++)
		if (*q == '"' && q[-1] != '\\')
			i++;
	assert_int_equal(i, 6);
	assert_non_null(strstr(buf, "\\\" HTTP/1.1\" 200 1234 \""));
	memset(big, 0x01, sizeof(big) - 1);
	n = alog_format(buf, &l);
	assert_true(n <= ALOG_LINE_MAX);
	assert_non_null(strstr(buf, "\\x01\\x01 HTTP/1.1\" 200 1234 \""));
	assert_non_null(strstr(buf, "\\x01\"\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_combined),
		cmocka_unit_test(test_absent),
		cmocka_unit_test(test_bytes_at),
		cmocka_unit_test(test_no_request_line),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_months),
		cmocka_unit_test(test_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
