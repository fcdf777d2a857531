/*
 * fuzz_proxyproto.c: the PROXY protocol header, whatever the bytes.
 *
 * The input is what a trusted proxy's connection starts with, in a buffer
 * of exactly its size (ASan sees a read past it).  proxy_parse says
 * -1 (with a reason), 0 (more may make a header) or the length of the
 * header, never more than the input nor than the longest header taken.
 * A header's every shorter prefix asks for more; an address it names is
 * one inet_pton reads back to the same text; a refusal stays a refusal,
 * and a header the same header, when more bytes follow.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "cgigate.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_src src, again;
	unsigned char bin[16];
	char back[INET6_ADDRSTRLEN];
	const char *why, *why2;
	char *buf;
	size_t k;
	int n;

	CHECK((buf = malloc(size ? size : 1)) != NULL);
	memcpy(buf, data, size);
	n = proxy_parse(buf, size, &src, &why);
	CHECK(n >= -1 && (size_t)(n > 0 ? n : 0) <= size);
	CHECK(n <= PROXY_V2_MAX);
	CHECK((n == -1) == (why != NULL));
	if (n > 0) {
		for (k = 0; k < (size_t)n; k += 1 + k / 8)
			CHECK(proxy_parse(buf, k, &again, &why2) == 0);
		CHECK(src.family == AF_UNSPEC || src.family == AF_INET ||
		    src.family == AF_INET6);
		if (src.family != AF_UNSPEC) {
			CHECK(inet_pton(src.family, src.addr, bin) == 1);
			CHECK(inet_ntop(src.family, bin, back, sizeof(back)));
			CHECK(strcmp(back, src.addr) == 0);
			CHECK(src.port >= 0 && src.port <= 65535);
		}
	}
	/* One byte less: a refusal or a header already, the same one. */
	if (size > 0) {
		k = (size_t)proxy_parse(buf, size - 1, &again, &why2);
		if ((int)k == -1)
			CHECK(n == -1);
		else if (k > 0)
			CHECK((size_t)n == k);
	}
	free(buf);
	return 0;
}
