/*
 * fuzz_route.c: request paths from clients, handler names from the disk.
 *
 * Input: two control bytes, then lines.  The first line is a raw request
 * path for route_clean_path; the rest are handler files, relative to the
 * handlers directory, for route_name and a route table.  The control
 * bytes size the output buffers (the daemon's sizes, or 1 to 128 bytes),
 * each allocated to the byte so ASan sees a write past it.
 *
 * route_clean_path is held to its contract in cgigate.h by a second,
 * plain decoder that refuses the same things; a path it lets through
 * has no dot or empty segment, no backslash, no control character, and
 * cleans to itself.  Every route name must be a path that cleans to
 * itself too, or its handler could never be reached, and route_match
 * must pick the longest name that covers a path on a segment boundary.
 */
#include <string.h>

#include "cgigate.h"
#include "fuzz.h"

#define PATH_BUF	4096	/* struct http_ctx's path */
#define MAX_FILES	32

static int
hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* What route_clean_path should do, the slow way: 0 or -1. */
static int
reference(const char *raw, char *out, size_t len)
{
	const char *s;
	size_t o = 0, i, seg;
	int c;

	if (raw[0] != '/')
		return -1;
	for (s = raw; *s != '\0' && *s != '?'; s++) {
		c = (unsigned char)*s;
		if (c == '\\')
			return -1;
		if (c == '%') {
			if (hex(s[1]) < 0 || hex(s[2]) < 0)
				return -1;
			c = hex(s[1]) * 16 + hex(s[2]);
			if (c == '/' || c == '\\' || c == '\0')
				return -1;
			s += 2;
		}
		if (c < 0x20 || c == 0x7f || o + 1 >= len)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	for (i = 1, seg = 1; i <= o; i++) {
		if (i < o && out[i] != '/')
			continue;
		if (i == seg && i < o)
			return -1;	/* empty, and not the last */
		if ((i - seg == 1 && out[seg] == '.') || (i - seg == 2 &&
		    out[seg] == '.' && out[seg + 1] == '.'))
			return -1;
		seg = i + 1;
	}
	return 0;
}

static void
check_clean(const char *raw, size_t len)
{
	char *out, *ref, *again;
	const char *why = NULL;
	size_t n, k;
	int rc;

	CHECK((out = malloc(len)) != NULL);
	CHECK((ref = malloc(strlen(raw) + 1)) != NULL);
	rc = route_clean_path(raw, out, len, &why);
	CHECK(rc == 0 || rc == -1);
	CHECK(reference(raw, ref, len) == rc);
	if (rc == -1) {
		CHECK(why != NULL && *why != '\0');
		goto done;
	}
	CHECK(strcmp(out, ref) == 0);
	n = strlen(out);
	CHECK(n < len && out[0] == '/');
	CHECK(strstr(out, "//") == NULL);
	CHECK(strstr(out, "/./") == NULL && strstr(out, "/../") == NULL);
	CHECK(n < 2 || strcmp(out + n - 2, "/.") != 0);
	CHECK(n < 3 || strcmp(out + n - 3, "/..") != 0);
	CHECK(strchr(out, '\\') == NULL);
	for (k = 0; k < n; k++)
		CHECK((unsigned char)out[k] >= 0x20 && out[k] != 0x7f);
	/* Clean stays clean, unless decoding made a new '%' or '?'. */
	if (strpbrk(out, "%?") == NULL) {
		CHECK((again = malloc(len)) != NULL);
		CHECK(route_clean_path(out, again, len, &why) == 0);
		CHECK(strcmp(again, out) == 0);
		free(again);
	}
done:
	free(ref);
	free(out);
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n > k && strcmp(s + n - k, suffix) == 0;
}

static void
check_name(const char *rel, size_t len)
{
	char *name, out[PATH_BUF];
	const char *base, *why;
	enum route_kind kind;
	size_t n = strlen(rel);
	int nph;

	CHECK((name = malloc(len)) != NULL);
	if (route_name(rel, name, len, &kind, &nph) == -1) {
		free(name);
		return;
	}
	CHECK(strlen(name) < len && name[0] == '/');
	CHECK(utf8_valid(name));
	CHECK(kind == (ends_with(rel, ".fcgi") ? ROUTE_FCGI : ROUTE_CGI));
	if (kind == ROUTE_FCGI)
		n -= 5;
	else if (ends_with(rel, ".cgi"))
		n -= 4;
	CHECK(strlen(name) == n + 1 && strncmp(name + 1, rel, n) == 0);
	base = strrchr(rel, '/');
	base = base != NULL ? base + 1 : rel;
	CHECK(nph == (strncmp(base, "nph-", 4) == 0));
	/* A request for the name itself reaches the handler. */
	CHECK(route_clean_path(name, out, sizeof(out), &why) == 0);
	CHECK(strcmp(out, name) == 0);
	free(name);
}

/* The longest name covering path on a segment boundary, the slow way. */
static const struct route *
longest(const struct route_table *t, const char *path)
{
	const struct route *r, *best = NULL;
	size_t i, n;

	for (i = 0; i < route_table_count(t); i++) {
		r = route_table_get(t, i);
		n = strlen(r->name);
		if (strncmp(path, r->name, n) == 0 &&
		    (path[n] == '\0' || path[n] == '/') &&
		    (best == NULL || n > strlen(best->name)))
			best = r;
	}
	return best;
}

static void
check_match(const struct route_table *t, const char *path)
{
	const struct route *r, *want;
	const char *pi = NULL;

	r = route_match(t, path, &pi);
	want = longest(t, path);
	CHECK(r == want);
	if (r != NULL)
		CHECK(pi == path + strlen(r->name) &&
		    (*pi == '\0' || *pi == '/'));
}

static void
check_table(char **files, int nfiles, const char *path)
{
	struct route_table *t;
	char name[ROUTE_NAME_MAX], other[ROUTE_NAME_MAX];
	enum route_kind kind;
	size_t i, added = 0;
	int f, g, nph, rc, dup;

	CHECK((t = route_table_new()) != NULL);
	for (f = 0; f < nfiles; f++) {
		rc = route_table_add(t, files[f]);
		if (route_name(files[f], name, sizeof(name), &kind, &nph) ==
		    -1) {
			CHECK(rc == -1);
			continue;
		}
		for (dup = 0, g = 0; g < f && !dup; g++)
			dup = route_name(files[g], other, sizeof(other), &kind,
			    &nph) == 0 && strcmp(name, other) == 0;
		CHECK(rc == (dup ? 1 : 0));
		added += rc == 0;
	}
	route_table_sort(t);
	CHECK(route_table_count(t) == added);
	CHECK(route_table_get(t, added) == NULL);
	for (i = 0; i < added; i++) {
		if (i + 1 < added)
			CHECK(strlen(route_table_get(t, i)->name) >=
			    strlen(route_table_get(t, i + 1)->name));
		check_match(t, route_table_get(t, i)->name);
	}
	if (path != NULL)
		check_match(t, path);
	route_table_free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *line, *next, *files[MAX_FILES], out[PATH_BUF];
	const char *why;
	size_t plen, nlen;
	int nfiles = 0, clean;

	if (size < 2)
		return 0;
	plen = data[0] < 0x80 ? PATH_BUF : 1 + (data[0] & 0x7f);
	nlen = data[1] < 0x80 ? ROUTE_NAME_MAX : 1 + (data[1] & 0x7f);
	CHECK((text = malloc(size - 1)) != NULL);
	memcpy(text, data + 2, size - 2);
	text[size - 2] = '\0';
	if ((next = strchr(text, '\n')) != NULL)
		*next++ = '\0';
	check_clean(text, plen);
	clean = route_clean_path(text, out, sizeof(out), &why) == 0;
	for (line = next; line != NULL && nfiles < MAX_FILES; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		check_name(line, nlen);
		files[nfiles++] = line;
	}
	check_table(files, nfiles, clean ? out : NULL);
	free(text);
	return 0;
}
