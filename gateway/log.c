/*
 * log.c: timestamped lines on stderr.
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
