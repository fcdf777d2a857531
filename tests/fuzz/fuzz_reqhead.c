/*
 * fuzz_reqhead.c: request heads from hostile clients.
 *
 * Input: lines "Name:value" (a name ending in a space stands for white
 * space before the colon), the first line the HTTP version.  reqhead_vet
 * is held to its contract: a refusal has a reason and one of the RFC's
 * statuses; an accepted head frames its body one way only, by a length
 * that is the one Content-Length's digits or by chunked, and an
 * HTTP/1.1 one has exactly one Host.
 *
 * The same bytes, raw, go to reqhead_split (the front door's reading of
 * a head): it says 0 or 400, and what it hands out is clean: a token for
 * a method, a target without blanks, D.D for a version, field names
 * without colons or white space, values trimmed, nothing past the input.
 */
#include <string.h>
#include <strings.h>

#include "cgigate.h"
#include "fuzz.h"

#define MAXF	64

static void
split_check(const uint8_t *data, size_t size)
{
	static char raw[65536];
	struct cgi_header f[8];
	unsigned char spaced[8];
	struct reqline rl;
	enum reqhead_end end;
	const char *p;
	size_t k;
	int nf, i, st;

	memcpy(raw, data, size);
	raw[size] = '\0';
	st = reqhead_split(raw, size, &rl, f, 8, &nf, spaced, &end);
	CHECK(st == 0 || st == 400);
	if (st != 0)
		return;
	CHECK(rl.method[0] != '\0' && strpbrk(rl.method, " \t\r\n:") == NULL);
	CHECK(rl.target[0] != '\0' && strpbrk(rl.target, " \t\r\n") == NULL);
	CHECK(strlen(rl.version) == 3 && rl.version[1] == '.');
	CHECK(nf >= 0 && nf <= 8);
	for (i = 0; i < nf; i++) {
		CHECK(f[i].name[0] != '\0');
		CHECK(strpbrk(f[i].name, ":\r\n") == NULL);
		k = strlen(f[i].name);
		CHECK(f[i].name[k - 1] != ' ' && f[i].name[k - 1] != '\t');
		CHECK(f[i].value[0] != ' ' && f[i].value[0] != '\t');
		CHECK(strpbrk(f[i].value, "\r\n") == NULL);
		k = strlen(f[i].value);
		CHECK(k == 0 || (f[i].value[k - 1] != ' ' &&
		    f[i].value[k - 1] != '\t'));
		for (p = f[i].value; p < f[i].value + k; p++)
			CHECK(p >= raw && p < raw + size);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[65536];
	struct cgi_header f[MAXF + 16];
	unsigned char spaced[MAXF + 16];
	struct reqhead_info ri;
	char *line, *colon, *save = NULL, *version;
	int n = 0, i, st, ncl = 0, nte = 0, nhost = 0;

	if (size >= sizeof(buf))
		return 0;
	split_check(data, size);
	memcpy(buf, data, size);
	buf[size] = '\0';
	if ((version = strtok_r(buf, "\n", &save)) == NULL)
		return 0;
	while (n < MAXF + 16 && (line = strtok_r(NULL, "\n", &save)) != NULL) {
		if ((colon = strchr(line, ':')) == NULL)
			continue;
		*colon = '\0';
		spaced[n] = colon > line && colon[-1] == ' ';
		f[n].name = line;
		f[n].value = colon + 1;
		n++;
	}
	st = reqhead_vet(version, f, n, spaced, REQHEAD_WHOLE, &ri);
	if (st != 0) {
		CHECK(ri.why != NULL);
		CHECK(st == 400 || st == 417 || st == 431 || st == 501);
		return 0;
	}
	for (i = 0; i < n; i++) {
		CHECK(!spaced[i]);
		ncl += strcasecmp(f[i].name, "Content-Length") == 0;
		nte += strcasecmp(f[i].name, "Transfer-Encoding") == 0;
		nhost += strcasecmp(f[i].name, "Host") == 0;
	}
	CHECK(ncl <= 1 && !(ncl && nte));
	CHECK(nhost <= 1);
	CHECK(strcmp(version, "1.1") != 0 || nhost == 1);
	CHECK(strcmp(version, "1.1") == 0 || nte == 0);
	CHECK(ri.chunked == (nte > 0));
	CHECK(ri.chunked ? ri.content_length == -1 :
	    (ri.content_length >= 0) == (ncl == 1));
	return 0;
}
