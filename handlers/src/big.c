/*
 * big.cgi: streams a large body, for testing and benchmarks.  The size in
 * bytes comes from the query string (default 163840), written in 64 KiB
 * writes without a Content-Length, so it goes out chunked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(void)
{
	static char buf[65536];
	const char *q = getenv("QUERY_STRING");
	long long left = (q && *q) ? atoll(q) : 163840;
	size_t n;

	memset(buf, 'x', sizeof(buf));
	fputs("Content-Type: application/octet-stream\r\n\r\n", stdout);
	fflush(stdout);
	while (left > 0) {
		n = left > (long long)sizeof(buf) ? sizeof(buf) : (size_t)left;
		if (write(STDOUT_FILENO, buf, n) != (ssize_t)n)
			return 1;
		left -= (long long)n;
	}
	return 0;
}
