/*
 * proxyproto.c: the PROXY protocol header a load balancer puts before
 * the bytes of the connection it opens for a client.
 *
 * A proxy in front of cgigate (HAProxy's send-proxy and send-proxy-v2,
 * and others) opens one connection per client and starts it with a
 * header naming the client's address and port.  Version 1 is a line of
 * text, at most 107 bytes with its CRLF:
 *
 *	PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n
 *	PROXY TCP6 2001:db8::7 2001:db8::1 56324 443\r\n
 *	PROXY UNKNOWN ...\r\n		(the proxy's own connection)
 *
 * Version 2 is binary: a 12-byte signature, a version and command byte
 * (0x21 PROXY, 0x20 LOCAL: the proxy's own connection, a health check),
 * a family and transport byte, the length of what follows in network
 * order, then the addresses (4 + 4 + 2 + 2 bytes for IPv4, 16 + 16 +
 * 2 + 2 for IPv6) and optional TLVs, skipped.
 *
 * The door (door_client.c) asks for this header only on connections
 * from trusted_proxies when proxy_protocol is on, and only before the
 * first request; a header from anyone else is not one, just a bad
 * request line.  Pure: bytes in, the client (or "keep the connection's
 * own address") out.  Whatever the bytes, it reads none past len, and
 * a header that is not whole yet asks for more rather than failing, so
 * the door can feed it bytes as they come.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cgigate.h"

#define V1_MAX		107	/* the longest line, CRLF included */

static const char v2sig[12] = "\r\n\r\n\0\r\nQUIT\n";

/* Is buf[0..len) the start of what[0..wlen)? */
static int
prefix_of(const char *buf, size_t len, const char *what, size_t wlen)
{
	return memcmp(buf, what, len < wlen ? len : wlen) == 0;
}

/* A port: 1 to 5 digits, no more than 65535.  Its value, or -1. */
static int
v1_port(const char *s)
{
	long v = 0;
	size_t i, n = strlen(s);

	if (n == 0 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 65535 ? (int)v : -1;
}

/* The line "PROXY ..." without its CRLF, NUL-terminated in line. */
static int
v1_line(char *line, struct proxy_src *src, const char **why)
{
	char *f[6], *p = line;
	unsigned char bin[16];
	int af, n = 0;

	while (n < 6 && (f[n] = strsep(&p, " ")) != NULL)
		n++;
	if (n >= 2 && strcmp(f[1], "UNKNOWN") == 0) {
		src->family = AF_UNSPEC;	/* the rest is not looked at */
		return 0;
	}
	if (n != 6 || p != NULL) {
		*why = "PROXY v1: not six fields";
		return -1;
	}
	if (strcmp(f[1], "TCP4") == 0)
		af = AF_INET;
	else if (strcmp(f[1], "TCP6") == 0)
		af = AF_INET6;
	else {
		*why = "PROXY v1: unknown protocol";
		return -1;
	}
	if (inet_pton(af, f[3], bin) != 1 || inet_pton(af, f[2], bin) != 1) {
		*why = "PROXY v1: bad address";
		return -1;
	}
	if ((src->port = v1_port(f[4])) == -1 || v1_port(f[5]) == -1) {
		*why = "PROXY v1: bad port";
		return -1;
	}
	inet_ntop(af, bin, src->addr, sizeof(src->addr));
	src->family = af;
	return 0;
}

static int
v1(const char *buf, size_t len, struct proxy_src *src, const char **why)
{
	char line[V1_MAX + 1];
	const char *nl;
	size_t n;

	nl = memchr(buf, '\n', len < V1_MAX ? len : V1_MAX);
	if (nl == NULL) {
		if (len < V1_MAX)
			return 0;
		*why = "PROXY v1: line longer than 107 bytes";
		return -1;
	}
	n = (size_t)(nl - buf);
	if (n == 0 || buf[n - 1] != '\r') {
		*why = "PROXY v1: line does not end in CRLF";
		return -1;
	}
	memcpy(line, buf, n - 1);
	line[n - 1] = '\0';
	if (strlen(line) != n - 1) {
		*why = "PROXY v1: NUL in the line";
		return -1;
	}
	if (v1_line(line, src, why) == -1)
		return -1;
	return (int)n + 1;
}

static int
v2(const unsigned char *b, size_t len, struct proxy_src *src,
    const char **why)
{
	size_t body, alen;
	int af;

	if (len < 16)
		return 0;
	if ((b[12] >> 4) != 2) {
		*why = "PROXY v2: unknown version";
		return -1;
	}
	if ((b[12] & 0xf) > 1) {
		*why = "PROXY v2: unknown command";
		return -1;
	}
	body = (size_t)b[14] << 8 | b[15];
	if (16 + body > PROXY_V2_MAX) {
		*why = "PROXY v2: header longer than 4096 bytes";
		return -1;
	}
	if (len < 16 + body)
		return 0;
	src->family = AF_UNSPEC;
	if ((b[12] & 0xf) == 0)		/* LOCAL: the proxy itself */
		return (int)(16 + body);
	switch (b[13] >> 4) {
	case 1:		/* IPv4: 4 + 4 address bytes, then the ports */
	case 2:		/* IPv6: 16 + 16 */
		af = (b[13] >> 4) == 1 ? AF_INET : AF_INET6;
		alen = af == AF_INET ? 4 : 16;
		if (body < 2 * alen + 4) {
			*why = af == AF_INET ? "PROXY v2: IPv4 addresses cut "
			    "short" : "PROXY v2: IPv6 addresses cut short";
			return -1;
		}
		inet_ntop(af, b + 16, src->addr, sizeof(src->addr));
		src->port = b[16 + 2 * alen] << 8 | b[17 + 2 * alen];
		src->family = af;
		break;
	case 0:
	case 3:		/* unspecified, or a Unix socket: no address */
		break;
	default:
		*why = "PROXY v2: unknown address family";
		return -1;
	}
	return (int)(16 + body);
}

int
proxy_parse(const char *buf, size_t len, struct proxy_src *src,
    const char **why)
{
	memset(src, 0, sizeof(*src));
	src->family = AF_UNSPEC;
	*why = NULL;
	if (len == 0)
		return 0;
	if (prefix_of(buf, len, v2sig, sizeof(v2sig)))
		return len < sizeof(v2sig) ? 0 :
		    v2((const unsigned char *)buf, len, src, why);
	if (prefix_of(buf, len, "PROXY ", 6))
		return len < 6 ? 0 : v1(buf, len, src, why);
	*why = "no PROXY protocol header";
	return -1;
}
