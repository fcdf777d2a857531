/*
 * test_backoff.c: the pools' exponential backoff, exact values: the
 * minimum for no failure, doubling, the cap, and no overflow however
 * many failures there were.  The pools call it with 100 ms up to 30 s
 * (workers failing at start-up) and 1 s up to 30 s (ejected backends).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cgigate.h"

#define MS	1000ULL
#define S	1000000ULL

static void
test_growth(void **state)
{
	(void)state;
	assert_int_equal(backoff_us(100 * MS, 30 * S, 0), 100 * MS);
	assert_int_equal(backoff_us(100 * MS, 30 * S, 1), 200 * MS);
	assert_int_equal(backoff_us(100 * MS, 30 * S, 2), 400 * MS);
	assert_int_equal(backoff_us(100 * MS, 30 * S, 8), 25600 * MS);
	assert_int_equal(backoff_us(1 * S, 30 * S, 0), 1 * S);
	assert_int_equal(backoff_us(1 * S, 30 * S, 4), 16 * S);
	assert_int_equal(backoff_us(1, UINT64_MAX, 63), 1ULL << 63);
}

static void
test_cap(void **state)
{
	(void)state;
	assert_int_equal(backoff_us(100 * MS, 30 * S, 9), 30 * S);
	assert_int_equal(backoff_us(1 * S, 30 * S, 5), 30 * S);
	/* Exactly the cap is not past it. */
	assert_int_equal(backoff_us(1 * S, 32 * S, 5), 32 * S);
	assert_int_equal(backoff_us(1 * S, 32 * S, 6), 32 * S);
	/* A minimum at or above the cap: the cap. */
	assert_int_equal(backoff_us(30 * S, 30 * S, 0), 30 * S);
	assert_int_equal(backoff_us(40 * S, 30 * S, 3), 30 * S);
	assert_int_equal(backoff_us(0, 30 * S, 7), 0);
}

/* Shifts past 63 bits, and values that would wrap: the cap. */
static void
test_overflow(void **state)
{
	(void)state;
	assert_int_equal(backoff_us(100 * MS, 30 * S, 63), 30 * S);
	assert_int_equal(backoff_us(100 * MS, 30 * S, 64), 30 * S);
	assert_int_equal(backoff_us(100 * MS, 30 * S, 1000), 30 * S);
	assert_int_equal(backoff_us(100 * MS, 30 * S, UINT32_MAX), 30 * S);
	assert_int_equal(backoff_us(3, UINT64_MAX, 63), UINT64_MAX);
	assert_int_equal(backoff_us(1, UINT64_MAX, 64), UINT64_MAX);
	assert_int_equal(backoff_us(UINT64_MAX / 2 + 1, UINT64_MAX, 1),
	    UINT64_MAX);
}

/* The formulas the pools had inline, to which it must be equal. */
static void
test_old_formulas(void **state)
{
	uint64_t old;
	int n;

	(void)state;
	for (n = 0; n < 200; n++) {
		/* an ejected backend: shift at most 5, cap 30 s */
		old = (1 * S) << (n < 5 ? n : 5);
		assert_int_equal(backoff_us(1 * S, 30 * S, (unsigned)n),
		    old > 30 * S ? 30 * S : old);
		/* a worker that could not be spawned: shift at most 9 */
		old = (100 * MS) << (n < 9 ? n : 9);
		assert_int_equal(backoff_us(100 * MS, 30 * S, (unsigned)n),
		    old > 30 * S ? 30 * S : old);
		if (n == 0)
			continue;
		/* a worker that died at start-up: n - 1, at most 8 */
		old = (100 * MS) << (n < 9 ? n - 1 : 8);
		assert_int_equal(backoff_us(100 * MS, (100 * MS) << 8,
		    (unsigned)n - 1), old > 30 * S ? 30 * S : old);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_old_formulas),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
