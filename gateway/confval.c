/*
 * confval.c: the syntax of a configuration value, whatever directive it
 * belongs to: durations and sizes with their units, plain integers and
 * yes/no, numeric listen addresses, address blocks and the match of an
 * address against them.  Pure, like config.c, which uses them; the
 * messages that name a file and line are config.c's.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "cgigate.h"

int64_t
config_duration(const char *s)
{
	char *end;
	const char *p = s;
	double v;

	/*
	 * Digits, then maybe a point and more digits: nothing else that
	 * strtod takes (0x10, 1e3, inf) is a duration.
	 */
	while (isdigit((unsigned char)*p))
		p++;
	if (p == s)
		return -1;
	if (*p == '.') {
		if (!isdigit((unsigned char)p[1]))
			return -1;
		for (p++; isdigit((unsigned char)*p); p++)
			;
	}
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end != p)
		return -1;
	if (*end == '\0' || strcmp(end, "s") == 0)
		v *= 1e6;
	else if (strcmp(end, "ms") == 0)
		v *= 1e3;
	else if (strcmp(end, "m") == 0)
		v *= 60e6;
	else if (strcmp(end, "h") == 0)
		v *= 3600e6;
	else if (strcmp(end, "d") == 0)
		v *= 86400e6;
	else
		return -1;
	if (v > 1e15)
		return -1;
	return (int64_t)v;
}

int64_t
config_size(const char *s)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (end[0] != '\0' && end[1] != '\0')
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'K': case 'k':
		shift = 10;
		break;
	case 'M': case 'm':
		shift = 20;
		break;
	case 'G': case 'g':
		shift = 30;
		break;
	default:
		return -1;
	}
	if (v > (1ULL << (62 - shift)))
		return -1;
	return (int64_t)(v << shift);
}

int
config_int(const char *v, long long min, long long max, long long *out)
{
	char *end;
	long long n;

	if (!isdigit((unsigned char)*v) && *v != '-')
		return -1;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

int
config_bool(const char *v)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "on") == 0 ||
	    strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		return 1;
	if (strcmp(v, "no") == 0 || strcmp(v, "off") == 0 ||
	    strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		return 0;
	return -1;
}

const char *
config_listen_addr(const char *addr, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	struct addrinfo hints, *res;
	const char *colon = strrchr(addr, ':'), *h = addr, *p;
	char host[128];
	size_t n;
	long port = 0;

	if (colon == NULL)
		return "listen: wants ADDR:PORT";
	for (p = colon + 1; isdigit((unsigned char)*p) && port <= 65535; p++)
		port = port * 10 + (*p - '0');
	if (p == colon + 1 || *p != '\0' || port > 65535)
		return "listen: the port must be a number from 0 to "
		    "65535";
	n = (size_t)(colon - addr);
	if (addr[0] == '[') {
		if (n < 2 || colon[-1] != ']')
			return "listen: an IPv6 address goes in "
			    "brackets: [ADDR]:PORT";
		h = addr + 1;
		n -= 2;
	}
	if (n >= sizeof(host))
		return "listen: address too long";
	memcpy(host, h, n);
	host[n] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = addr[0] == '[' ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(n > 0 ? host : NULL, colon + 1, &hints, &res) != 0)
		return addr[0] == '[' ? "listen: not a numeric IPv6 address" :
		    "listen: not a numeric IPv4 address (IPv6 goes in "
		    "brackets)";
	if (ss != NULL && res->ai_addrlen <= sizeof(*ss)) {
		memcpy(ss, res->ai_addr, res->ai_addrlen);
		*sslen = res->ai_addrlen;
	}
	freeaddrinfo(res);
	return NULL;
}

int
config_cidr(const char *s, struct cidr *out)
{
	char addr[64], *slash;
	long long bits = -1;

	if (snprintf(addr, sizeof(addr), "%s", s) >= (int)sizeof(addr))
		return -1;
	if ((slash = strchr(addr, '/')) != NULL) {
		*slash = '\0';
		if (config_int(slash + 1, 0, 128, &bits) == -1)
			return -1;
	}
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = AF_INET;
		out->bits = bits < 0 ? 32 : (int)bits;
		return out->bits <= 32 ? 0 : -1;
	}
	if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = AF_INET6;
		out->bits = bits < 0 ? 128 : (int)bits;
		return 0;
	}
	return -1;
}

int
config_cidr_match(const struct cidr *c, int n, const char *addr)
{
	unsigned char a[16];
	int i, fam, b, full;

	if (inet_pton(AF_INET, addr, a) == 1)
		fam = AF_INET;
	else if (inet_pton(AF_INET6, addr, a) == 1)
		fam = AF_INET6;
	else
		return 0;
	for (i = 0; i < n; i++) {
		if (c[i].family != fam)
			continue;
		full = c[i].bits / 8;
		b = c[i].bits % 8;
		if (memcmp(a, c[i].addr, (size_t)full) != 0)
			continue;
		if (b == 0 || ((a[full] ^ c[i].addr[full]) &
		    (0xff << (8 - b)) & 0xff) == 0)
			return 1;
	}
	return 0;
}

char *
config_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}
