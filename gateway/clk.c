/*
 * clk.c: the daemon's two clocks.
 *
 * Durations and deadlines use CLOCK_MONOTONIC in microseconds
 * (clk_now_us), and so do timed condition waits (clk_cond_init, clk_ts);
 * only the timestamps written to the log and the timing rows are wall
 * time (clk_wall).
 */
#include <pthread.h>
#include <time.h>

#include "cgigate.h"

uint64_t
clk_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * Timed waits run on the monotonic clock, so that a step of the wall
 * clock (NTP, an admin's date) neither stretches nor cuts a deadline.
 */
void
clk_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
}

struct timespec
clk_ts(uint64_t us)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(us / 1000000);
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	return ts;
}

double
clk_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
