/*
 * test_jsonq.c: the escapers of jsonq.c, byte for byte.  ASCII as it is;
 * quotes, backslashes and controls escaped as JSON and as a Prometheus
 * label value each want; well-formed 2, 3 and 4 byte UTF-8 kept; and
 * every kind of ill-formed sequence (a lone continuation byte, C0/C1
 * and F5..FF leads, overlongs, surrogates, past U+10FFFF, cut short)
 * replaced by U+FFFD once per maximal subpart.  Also utf8_valid, and
 * route_name refusing a handler file name that is not UTF-8.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cgigate.h"

#define FFFD	"\xef\xbf\xbd"

enum how { JSON, LABEL, RAW };

/* What jsonq writes for in (n bytes for RAW), compared to want. */
static void
check(enum how how, const char *in, size_t n, const char *want)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	assert_non_null(f = open_memstream(&buf, &len));
	if (how == JSON)
		jsonq_string(f, in);
	else if (how == LABEL)
		jsonq_label(f, in);
	else
		jsonq_utf8(f, in, n);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	free(buf);
}

#define JS(in, want)	check(JSON, in, 0, want)
#define LB(in, want)	check(LABEL, in, 0, want)

static void
test_ascii(void **state)
{
	(void)state;
	JS("", "\"\"");
	LB("", "\"\"");
	JS("/api/users", "\"/api/users\"");
	LB("/api/users", "\"/api/users\"");
	JS(" ~\x7f", "\" ~\x7f\"");
	LB(" ~\x7f", "\" ~\x7f\"");
}

static void
test_escapes(void **state)
{
	(void)state;
	JS("a\"b\\c", "\"a\\\"b\\\\c\"");
	LB("a\"b\\c", "\"a\\\"b\\\\c\"");
	JS("\n\r\t", "\"\\n\\r\\t\"");
	JS("\x01\x08\x0c\x1f", "\"\\u0001\\u0008\\u000c\\u001f\"");
	/* The exposition format escapes only \, " and line feed. */
	LB("a\nb", "\"a\\nb\"");
	LB("\r\t\x01\x1f", "\"\r\t\x01\x1f\"");
}

static void
test_valid_kept(void **state)
{
	static const char *ok[] = {
		"\xc2\x80",			/* U+0080 */
		"caf\xc3\xa9",			/* U+00E9 */
		"\xdf\xbf",			/* U+07FF */
		"\xe0\xa0\x80",			/* U+0800 */
		"\xe2\x82\xac",			/* U+20AC */
		"\xed\x9f\xbf",			/* U+D7FF */
		"\xee\x80\x80",			/* U+E000 */
		"\xef\xbf\xbd",			/* U+FFFD */
		"\xef\xbf\xbf",			/* U+FFFF */
		"\xf0\x90\x80\x80",		/* U+10000 */
		"\xf0\x9f\x98\x80",		/* U+1F600 */
		"\xf4\x8f\xbf\xbf",		/* U+10FFFF */
	};
	char want[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(want, sizeof(want), "\"%s\"", ok[i]);
		JS(ok[i], want);
		LB(ok[i], want);
		check(RAW, ok[i], strlen(ok[i]), ok[i]);
		assert_true(utf8_valid(ok[i]));
	}
}

/* Each ill-formed input, and what it becomes (as JSON and as a label). */
static const struct {
	const char	*in, *want;
} bad[] = {
	{ "\x80", FFFD },			/* lone continuation */
	{ "a\xbf" "b", "a" FFFD "b" },
	{ "\x80\x80", FFFD FFFD },
	{ "\xc0\x80", FFFD FFFD },		/* overlong NUL */
	{ "\xc1\xbf", FFFD FFFD },		/* overlong U+007F */
	{ "\xe0\x80\x80", FFFD FFFD FFFD },	/* overlong 3 */
	{ "\xe0\x9f\xbf", FFFD FFFD FFFD },
	{ "\xf0\x80\x80\x80", FFFD FFFD FFFD FFFD },	/* overlong 4 */
	{ "\xf0\x8f\xbf\xbf", FFFD FFFD FFFD FFFD },
	{ "\xed\xa0\x80", FFFD FFFD FFFD },	/* U+D800 */
	{ "\xed\xbf\xbf", FFFD FFFD FFFD },	/* U+DFFF */
	{ "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD },	/* U+110000 */
	{ "\xf5\x80\x80\x80", FFFD FFFD FFFD FFFD },
	{ "\xf8\x88\x80\x80\x80", FFFD FFFD FFFD FFFD FFFD },
	{ "bad\xffname", "bad" FFFD "name" },
	{ "\xfe\xff", FFFD FFFD },
	/* Cut short: the well-formed start is one U+FFFD. */
	{ "\xc3", FFFD },
	{ "\xc3" "a", FFFD "a" },
	{ "\xe2\x82", FFFD },
	{ "\xe2\x82" "a", FFFD "a" },
	{ "\xe2" "a", FFFD "a" },
	{ "\xf0\x9f\x98", FFFD },
	{ "\xf0\x9f\x98" "\"", FFFD "\\\"" },
	{ "\xf0\x9f", FFFD },
	{ "\xf4\x8f\xbf", FFFD },
	/* A lead where a continuation should be starts anew. */
	{ "\xe2\xc3\xa9", FFFD "\xc3\xa9" },
	{ "\xf0\x9f\xe2\x82\xac", FFFD "\xe2\x82\xac" },
	/* Ill-formed next to the escapes. */
	{ "\xff\\\xff", FFFD "\\\\" FFFD },
};

static void
test_invalid_replaced(void **state)
{
	char want[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want), "\"%s\"", bad[i].want);
		JS(bad[i].in, want);
		LB(bad[i].in, want);
		assert_false(utf8_valid(bad[i].in));
	}
	JS("\xc3\n", "\"" FFFD "\\n\"");
	LB("\xc3\n", "\"" FFFD "\\n\"");
	JS("\xe2\x01", "\"" FFFD "\\u0001\"");
}

static void
test_raw(void **state)
{
	(void)state;
	/* SQLite's JSON: escapes kept, other bytes mended. */
	check(RAW, "{\"r\":\"a\\\"\xff\"}", 12, "{\"r\":\"a\\\"" FFFD "\"}");
	check(RAW, "\xe2\x82", 2, FFFD);
	check(RAW, "\xe2\x82\xac", 2, FFFD);	/* n cuts it */
	check(RAW, NULL, 0, "");
}

static void
test_next(void **state)
{
	(void)state;
	assert_int_equal(utf8_next((const unsigned char *)"a", 1), 1);
	assert_int_equal(utf8_next((const unsigned char *)"\xc3\xa9", 2), 2);
	assert_int_equal(utf8_next((const unsigned char *)"\xe2\x82\xac",
	    3), 3);
	assert_int_equal(utf8_next((const unsigned char *)"\xf0\x9f\x98\x80",
	    4), 4);
	assert_int_equal(utf8_next((const unsigned char *)"\xff", 1), -1);
	assert_int_equal(utf8_next((const unsigned char *)"\xe2\x82\xac",
	    2), -2);
	assert_int_equal(utf8_next((const unsigned char *)"\xf0\x9f\x98"
	    "a", 4), -3);
	assert_int_equal(utf8_next((const unsigned char *)"\xed\xa0\x80",
	    3), -1);
}

static void
test_route_name(void **state)
{
	char name[ROUTE_NAME_MAX];
	enum route_kind kind;
	int nph;

	(void)state;
	assert_int_equal(route_name("bad\xffname.cgi", name, sizeof(name),
	    &kind, &nph), -1);
	assert_int_equal(route_name("d\xc3/x.cgi", name, sizeof(name),
	    &kind, &nph), -1);
	assert_int_equal(route_name("\xed\xa0\x80.fcgi", name, sizeof(name),
	    &kind, &nph), -1);
	assert_int_equal(route_name("caf\xc3\xa9/\xe2\x82\xac.cgi", name,
	    sizeof(name), &kind, &nph), 0);
	assert_string_equal(name, "/caf\xc3\xa9/\xe2\x82\xac");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ascii),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_valid_kept),
		cmocka_unit_test(test_invalid_replaced),
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_route_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
