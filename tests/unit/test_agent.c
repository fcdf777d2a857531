/*
 * test_agent.c: what cgigate answers HAProxy's agent check: the exact
 * line, the free share by the tighter limit, never 0% while up.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cgigate.h"

static struct load
mk(int conns, int maxconns, long long in_flight, long long capacity)
{
	struct load l;

	l.connections = conns;
	l.max_connections = maxconns;
	l.in_flight = in_flight;
	l.capacity = capacity;
	return l;
}

/* The line for l, checked byte for byte and against its length. */
static void
expect_reply(int draining, struct load l, const char *want)
{
	char buf[AGENT_REPLY_MAX];
	size_t n;

	memset(buf, 'x', sizeof(buf));
	n = agent_reply(buf, draining, &l);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(buf, want, n);
	assert_int_equal(buf[n], '\0');
}

static void
idle_is_full(void **state)
{
	(void)state;
	expect_reply(0, mk(0, 16384, 0, 8), "up ready 100%\n");
	assert_int_equal(agent_free(&(struct load){ 0, 16384, 0, 8 }), 100);
}

static void
requests_count(void **state)
{
	(void)state;
	expect_reply(0, mk(2, 16384, 2, 4), "up ready 50%\n");
	expect_reply(0, mk(1, 16384, 1, 4), "up ready 75%\n");
	/* Rounded down: 2 of 3 free is 66%. */
	expect_reply(0, mk(1, 16384, 1, 3), "up ready 66%\n");
	expect_reply(0, mk(1, 100, 1, 1000), "up ready 99%\n");
}

static void
connections_count(void **state)
{
	(void)state;
	/* The tighter of the two limits wins. */
	expect_reply(0, mk(60, 100, 1, 4), "up ready 40%\n");
	expect_reply(0, mk(10, 100, 3, 4), "up ready 25%\n");
	/* No route at all: only connections weigh. */
	expect_reply(0, mk(30, 100, 0, 0), "up ready 70%\n");
	expect_reply(0, mk(0, 100, 5, 0), "up ready 100%\n");
}

static void
never_zero_while_up(void **state)
{
	(void)state;
	expect_reply(0, mk(1, 100, 4, 4), "up ready 1%\n");
	/* Queued requests count in flight: past capacity is still 1%. */
	expect_reply(0, mk(1, 100, 40, 4), "up ready 1%\n");
	expect_reply(0, mk(100, 100, 0, 4), "up ready 1%\n");
	expect_reply(0, mk(20000, 100, 0, 4), "up ready 1%\n");
	expect_reply(0, mk(199, 200, 0, 0), "up ready 1%\n");
	/* Odd figures do not go past 100. */
	expect_reply(0, mk(-1, 100, -3, 4), "up ready 100%\n");
	expect_reply(0, mk(0, 0, 0, 0), "up ready 100%\n");
}

static void
draining_says_drain(void **state)
{
	(void)state;
	expect_reply(1, mk(0, 100, 0, 4), "drain\n");
	expect_reply(1, mk(100, 100, 9, 4), "drain\n");
}

/* The longest answer fits its buffer. */
static void
longest_fits(void **state)
{
	(void)state;
	assert_true(strlen("up ready 100%\n") < AGENT_REPLY_MAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(idle_is_full),
		cmocka_unit_test(requests_count),
		cmocka_unit_test(connections_count),
		cmocka_unit_test(never_zero_while_up),
		cmocka_unit_test(draining_says_drain),
		cmocka_unit_test(longest_fits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
