/*
 * test_clock.c: timed waits run on clk_now_us()'s monotonic clock, so that
 * a step of the wall clock moves none of the daemon's deadlines.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "cgigate.h"

static void
test_mono_ts(void **state)
{
	struct timespec ts;

	(void)state;
	ts = clk_ts(1234567890123ULL);
	assert_int_equal(ts.tv_sec, 1234567);
	assert_int_equal(ts.tv_nsec, 890123000L);
	ts = clk_ts(5000000);
	assert_int_equal(ts.tv_sec, 5);
	assert_int_equal(ts.tv_nsec, 0);
	ts = clk_ts(999999);
	assert_int_equal(ts.tv_sec, 0);
	assert_int_equal(ts.tv_nsec, 999999000L);
}

/*
 * A wait on a clk_cond_init() condition until clk_now_us() + 50 ms times
 * out, and not before then.  On a condition left on the wall clock the
 * same deadline lies decades in the past and the wait returns at once.
 */
static void
test_mono_wait(void **state)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c;
	struct timespec ts;
	uint64_t t0, t1;
	int rc;

	(void)state;
	clk_cond_init(&c);
	pthread_mutex_lock(&m);
	t0 = clk_now_us();
	ts = clk_ts(t0 + 50000);
	do
		rc = pthread_cond_timedwait(&c, &m, &ts);
	while (rc == 0);	/* spurious wake-ups are allowed */
	t1 = clk_now_us();
	pthread_mutex_unlock(&m);
	pthread_cond_destroy(&c);
	assert_int_equal(rc, ETIMEDOUT);
	assert_true(t1 - t0 >= 50000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mono_ts),
		cmocka_unit_test(test_mono_wait),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
