/*
 * log.c: timestamped lines on stderr, and the two clocks.
 *
 * One line per event, "2026-11-22T15:30:51.123Z [r42] message", written
 * with a single write(2) so lines from concurrent threads never interleave.
 * The request id ties a request's lines (and its stderr) to its row in the
 * timing database.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgigate.h"

void
log_init(void)
{
	setvbuf(stderr, NULL, _IOLBF, 0);
}

uint64_t
now_us(void)
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
mono_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
}

struct timespec
mono_ts(uint64_t us)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(us / 1000000);
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	return ts;
}

double
wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
log_msg(const char *reqid, const char *fmt, ...)
{
	char buf[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(buf + n, sizeof(buf) - n, ".%03ldZ [%s] ",
	    ts.tv_nsec / 1000000, reqid ? reqid : "-");
	va_start(ap, fmt);
	m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, n);
}
