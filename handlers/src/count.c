/*
 * count.cgi: reads the request body to EOF, then answers with its length.
 * A handler that takes all its input before it writes anything; the
 * upload rows of tests/bench/bench.sh run it under every server.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int
main(void)
{
	static char buf[65536];
	long long total = 0;
	ssize_t n;

	for (;;) {
		n = read(0, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
	printf("Content-Type: text/plain\r\n\r\n%lld\n", total);
	return n == 0 ? 0 : 1;
}
