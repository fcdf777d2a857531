/*
 * test_timing.c: who sent a request, as timing.c packs it into a struct
 * timing.  The exact bytes of the area; absent apart from empty; each
 * value's cap (client 45, host 255, query, User-Agent and Referer 512);
 * the longest cut to one length when the five pass the area, the short
 * ones whole; cuts that step back before a UTF-8 continuation byte, and
 * not for bytes that are no UTF-8; a second packing leaving nothing of
 * the first; timing_size.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cgigate.h"

/* The lengths timing_who gives, -1 for absent. */
static void
lengths(const struct timing *t, const long want[WHO_N])
{
	const char *v;
	size_t n;
	int k;

	for (k = 0; k < WHO_N; k++) {
		v = timing_who(t, (enum who)k, &n);
		if (want[k] < 0) {
			assert_null(v);
			continue;
		}
		assert_non_null(v);
		assert_int_equal(n, want[k]);
		assert_int_equal(strlen(v), n);		/* NUL-terminated */
	}
}

/* A string of n bytes c, from a buffer of the test's. */
static char *
fill(char *buf, int c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

static void
test_none(void **state)
{
	static struct timing t;
	const char *v[WHO_N] = { NULL };
	const long want[WHO_N] = { -1, -1, -1, -1, -1 };
	size_t n = 99;

	(void)state;
	lengths(&t, want);		/* zeroed: nothing sent */
	assert_int_equal(timing_size(&t), offsetof(struct timing, who));
	timing_set_who(&t, v);
	lengths(&t, want);
	assert_null(timing_who(&t, WHO_N, &n));
	assert_int_equal(n, 99);
	assert_int_equal(timing_size(&t), offsetof(struct timing, who));
}

static void
test_packed(void **state)
{
	static struct timing t;
	const char *v[WHO_N] = { "198.51.100.7", "example.org", NULL,
	    "curl/8", "" };
	const long want[WHO_N] = { 12, 11, -1, 6, 0 };
	static const char area[] = "198.51.100.7\0example.org\0curl/8\0";
	const char *p;
	size_t n;

	(void)state;
	timing_set_who(&t, v);
	lengths(&t, want);
	/* one after the other, each with its NUL, the absent one skipped */
	assert_memory_equal(t.who, area, sizeof(area));
	p = timing_who(&t, WHO_REFERER, &n);
	assert_non_null(p);		/* sent empty: not absent */
	assert_int_equal(n, 0);
	assert_ptr_equal(p, t.who + sizeof(area) - 1);
	assert_string_equal(timing_who(&t, WHO_AGENT, &n), "curl/8");
	assert_int_equal(timing_size(&t),
	    offsetof(struct timing, who) + sizeof(area));
}

static void
test_caps(void **state)
{
	static struct timing t;
	static char b[WHO_N][10001];
	const char *v[WHO_N];
	const long want[WHO_N] = { 45, 255, 512, 512, 512 };
	const long whole[WHO_N] = { 45, 255, 512, 100, 44 };
	const long agent[WHO_N] = { 7, -1, 3, 512, -1 };
	const char *p;
	size_t n;

	(void)state;
	/* Each alone past its cap: cut to it. */
	v[WHO_CLIENT] = fill(b[0], '1', 100);
	v[WHO_HOST] = NULL;
	v[WHO_QUERY] = NULL;
	v[WHO_AGENT] = NULL;
	v[WHO_REFERER] = NULL;
	timing_set_who(&t, v);
	assert_int_equal(timing_who(&t, WHO_CLIENT, &n) != NULL, 1);
	assert_int_equal(n, want[WHO_CLIENT]);
	v[WHO_CLIENT] = NULL;
	v[WHO_HOST] = fill(b[1], 'h', 300);
	timing_set_who(&t, v);
	assert_non_null(timing_who(&t, WHO_HOST, &n));
	assert_int_equal(n, want[WHO_HOST]);
	v[WHO_HOST] = NULL;
	v[WHO_QUERY] = fill(b[2], 'q', 513);
	timing_set_who(&t, v);
	assert_non_null(timing_who(&t, WHO_QUERY, &n));
	assert_int_equal(n, want[WHO_QUERY]);
	v[WHO_QUERY] = NULL;
	v[WHO_REFERER] = fill(b[4], 'r', 4000);
	timing_set_who(&t, v);
	assert_non_null(timing_who(&t, WHO_REFERER, &n));
	assert_int_equal(n, want[WHO_REFERER]);

	/* At their caps exactly, within the area: whole. */
	v[WHO_CLIENT] = fill(b[0], '1', 45);
	v[WHO_HOST] = fill(b[1], 'h', 255);
	v[WHO_QUERY] = fill(b[2], 'q', 512);
	v[WHO_AGENT] = fill(b[3], 'a', 100);
	v[WHO_REFERER] = fill(b[4], 'r', 44);
	timing_set_who(&t, v);
	lengths(&t, whole);
	assert_int_equal(timing_size(&t), offsetof(struct timing, who) +
	    45 + 255 + 512 + 100 + 44 + 5);

	/* A 10 KB User-Agent takes its cap and nothing of the others. */
	v[WHO_CLIENT] = "1.2.3.4";
	v[WHO_HOST] = NULL;
	v[WHO_QUERY] = "a=1";
	v[WHO_AGENT] = fill(b[3], 'a', 10000);
	v[WHO_REFERER] = NULL;
	timing_set_who(&t, v);
	lengths(&t, agent);
	assert_string_equal(timing_who(&t, WHO_CLIENT, &n), "1.2.3.4");
	assert_string_equal(timing_who(&t, WHO_QUERY, &n), "a=1");
	p = timing_who(&t, WHO_AGENT, &n);
	assert_memory_equal(p, b[3], 512);
	assert_int_equal(p[512], '\0');
}

static void
test_shared(void **state)
{
	static struct timing t;
	static char b[WHO_N][700];
	const char *v[WHO_N];
	/* 1,019 bytes for text: 45 kept, 974 / 4 = 243 for the rest */
	const long all[WHO_N] = { 45, 243, 243, 243, 243 };
	/* 45 and 100 kept, 874 / 3 = 291 for the three long ones */
	const long three[WHO_N] = { 45, 100, 291, 291, 291 };
	/* 45, 100 and 280 kept, 594 / 2 = 297 each for the two longest */
	const long two[WHO_N] = { 45, 100, 280, 297, 297 };
	size_t n, sum;
	int k;

	(void)state;
	v[WHO_CLIENT] = fill(b[0], '1', 60);
	v[WHO_HOST] = fill(b[1], 'h', 600);
	v[WHO_QUERY] = fill(b[2], 'q', 600);
	v[WHO_AGENT] = fill(b[3], 'a', 600);
	v[WHO_REFERER] = fill(b[4], 'r', 600);
	timing_set_who(&t, v);
	lengths(&t, all);
	assert_true(timing_size(&t) <= sizeof(t));
	v[WHO_HOST] = fill(b[1], 'h', 100);
	timing_set_who(&t, v);
	lengths(&t, three);
	v[WHO_QUERY] = fill(b[2], 'q', 280);
	timing_set_who(&t, v);
	lengths(&t, two);
	for (sum = 0, k = 0; k < WHO_N; k++) {
		assert_non_null(timing_who(&t, (enum who)k, &n));
		sum += n + 1;
	}
	assert_true(sum <= TIMING_WHO_MAX);
	assert_int_equal(timing_size(&t), offsetof(struct timing, who) + sum);
	assert_string_equal(timing_who(&t, WHO_QUERY, &n), b[2]);
}

static void
test_utf8(void **state)
{
	static struct timing t;
	static char b[1100];
	const char *v[WHO_N] = { NULL };
	const char *p;
	size_t n;

	(void)state;
	/* "é" (C3 A9) at bytes 511 and 512: the cap would split it. */
	memset(b, 'a', 511);
	memcpy(b + 511, "\xc3\xa9zzz", 6);
	v[WHO_AGENT] = b;
	timing_set_who(&t, v);
	p = timing_who(&t, WHO_AGENT, &n);
	assert_int_equal(n, 511);
	assert_int_equal(p[510], 'a');
	/* a 4-byte character (U+1F600) at 510..513: back to 510 */
	memset(b, 'a', 510);
	memcpy(b + 510, "\xf0\x9f\x98\x80zzz", 8);
	timing_set_who(&t, v);
	assert_non_null(timing_who(&t, WHO_AGENT, &n));
	assert_int_equal(n, 510);
	/* one that ends right at the cap stays */
	memset(b, 'a', 510);
	memcpy(b + 510, "\xc3\xa9zz", 5);
	timing_set_who(&t, v);
	p = timing_who(&t, WHO_AGENT, &n);
	assert_int_equal(n, 512);
	assert_memory_equal(p + 510, "\xc3\xa9", 2);
	/* continuation bytes and nothing else are no UTF-8: cut at 512 */
	memset(b, 0x80, 600);
	b[600] = '\0';
	timing_set_who(&t, v);
	assert_non_null(timing_who(&t, WHO_AGENT, &n));
	assert_int_equal(n, 512);
}

static void
test_again(void **state)
{
	static struct timing t;
	const char *one[WHO_N] = { "10.0.0.1", "a.example", "x=1", "ua",
	    "http://r/" };
	const char *two[WHO_N] = { NULL, NULL, NULL, "b", NULL };
	const long want[WHO_N] = { -1, -1, -1, 1, -1 };
	size_t n;

	(void)state;
	timing_set_who(&t, one);
	timing_set_who(&t, two);
	lengths(&t, want);
	assert_string_equal(timing_who(&t, WHO_AGENT, &n), "b");
	assert_ptr_equal(timing_who(&t, WHO_AGENT, &n), t.who);
	assert_int_equal(timing_size(&t), offsetof(struct timing, who) + 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_packed),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_shared),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_again),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
