/*
 * fuzz_split.c: the script a FastCGI path names under document_root.
 *
 * Input: one control byte, then lines: a document_root, the path below
 * the route, and up to MAX_SUFFIXES script suffixes.  The control byte
 * sizes the output buffer (PATH_MAX, or 1 to 128 bytes), allocated to the
 * byte so ASan sees a write past it.  The path goes in twice: as given
 * (split_path must hold whatever it is handed) and, when it is one,
 * cleaned by route_clean_path as the daemon hands it.
 *
 * A split that succeeds must give the root (less trailing slashes)
 * followed by a prefix of the path that ends on a segment boundary and
 * holds no empty, dot or hidden segment, so the file stays inside the
 * root; with suffixes, its last segment and no earlier one ends in a
 * suffix after a name.
 */
#include <limits.h>
#include <string.h>

#include "cgigate.h"
#include "fuzz.h"

/* Does segment s[0..n) end in one of the suffixes, after a name? */
static int
named(const char *s, size_t n, char **sfx, int nsfx)
{
	size_t k;
	int i;

	for (i = 0; i < nsfx; i++) {
		k = strlen(sfx[i]);
		if (n > k && memcmp(s + n - k, sfx[i], k) == 0)
			return 1;
	}
	return 0;
}

static void
check_split(const char *root, const char *rest, char **sfx, int nsfx,
    size_t len)
{
	char *fname;
	const char *why = NULL, *seg, *end;
	size_t slen = 0, rlen;
	int rc;

	CHECK((fname = malloc(len)) != NULL);
	rc = split_path(root, rest, sfx, nsfx, fname, len, &slen, &why);
	CHECK(rc == 0 || rc == 403 || rc == 404 || rc == 414 || rc == 500);
	if (rc != 0) {
		CHECK(why != NULL && *why != '\0');
		free(fname);
		return;
	}
	CHECK(why == NULL);
	CHECK(root[0] == '/');
	rlen = strlen(root);
	while (rlen > 0 && root[rlen - 1] == '/')
		rlen--;
	CHECK(slen > 0 && slen <= strlen(rest));
	CHECK(rest[0] == '/' && (rest[slen] == '\0' || rest[slen] == '/'));
	CHECK(strlen(fname) == rlen + slen && strlen(fname) < len);
	CHECK(memcmp(fname, root, rlen) == 0);
	CHECK(memcmp(fname + rlen, rest, slen) == 0);
	for (seg = rest + 1; seg < rest + slen; seg = end + 1) {
		if ((end = memchr(seg, '/', (size_t)(rest + slen - seg))) ==
		    NULL)
			end = rest + slen;
		CHECK(end > seg && seg[0] != '.');
		if (nsfx > 0)
			CHECK(named(seg, (size_t)(end - seg), sfx, nsfx) ==
			    (end == rest + slen));
	}
	if (nsfx == 0)
		CHECK(slen == strlen(rest));
	free(fname);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *line, *next, *root, *rest, *sfx[MAX_SUFFIXES];
	char clean[4096];
	const char *why;
	size_t len;
	int n = 0;

	if (size < 1)
		return 0;
	len = data[0] < 0x80 ? PATH_MAX : 1 + (data[0] & 0x7f);
	CHECK((text = malloc(size)) != NULL);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	root = text;
	rest = "";
	if ((next = strchr(root, '\n')) != NULL) {
		*next++ = '\0';
		rest = next;
		if ((next = strchr(rest, '\n')) != NULL)
			*next++ = '\0';
	}
	for (line = next; line != NULL && n < MAX_SUFFIXES; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		sfx[n++] = line;
	}
	check_split(root, rest, sfx, n, len);
	check_split(root, rest, NULL, 0, len);
	if (rest[0] == '/' &&
	    route_clean_path(rest, clean, sizeof(clean), &why) == 0) {
		check_split(root, clean, sfx, n, len);
		check_split(root, clean, NULL, 0, len);
	}
	free(text);
	return 0;
}
