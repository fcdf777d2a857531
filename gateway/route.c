/*
 * route.c: handler file names to routes, and request paths to routes.
 *
 * Pure: the table is built from relative file names that scan.c finds and
 * matched against request paths that route_clean_path has already vetted.
 * A handler answers its name and everything below it on segment
 * boundaries; the longest name wins.  The table is immutable once built,
 * so readers share it under scan.c's lock without copying.  route_pick
 * then weighs the handler file found against the configuration's remote
 * FastCGI sections and modes: the one decision of what runs a request,
 * made alike by the dispatcher and by the door (which must know whether
 * to read the body first).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cgigate.h"

struct route_table {
	struct route	*r;
	size_t		 n, cap;
	int		 sorted;
};

int
route_name(const char *relpath, char *name, size_t len,
    enum route_kind *kind, int *nph)
{
	const char *base, *s;
	size_t n = strlen(relpath);

	if (n == 0 || relpath[0] == '/' || n + 2 > len)
		return -1;
	for (s = relpath; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == '\\' || *s == '%' ||
		    *s == '?' || *s == '#' || (unsigned char)*s == 0x7f)
			return -1;
	/* A route is text that status and metrics show: UTF-8 only. */
	if (!utf8_valid(relpath))
		return -1;
	/* No empty, hidden or dot segments anywhere in the path. */
	for (s = relpath; s != NULL; s = strchr(s, '/')) {
		if (*s == '/')
			s++;
		if (*s == '/' || *s == '\0' || *s == '.')
			return -1;
	}
	base = strrchr(relpath, '/');
	base = base ? base + 1 : relpath;
	*kind = ROUTE_CGI;
	if (n > 5 && strcmp(relpath + n - 5, ".fcgi") == 0) {
		*kind = ROUTE_FCGI;
		n -= 5;
	} else if (n > 4 && strcmp(relpath + n - 4, ".cgi") == 0)
		n -= 4;
	if (relpath + n <= base)
		return -1;	/* nothing left of the name: ".cgi" */
	*nph = strncmp(base, "nph-", 4) == 0;
	name[0] = '/';
	memcpy(name + 1, relpath, n);
	name[n + 1] = '\0';
	return 0;
}

struct route_table *
route_table_new(void)
{
	return calloc(1, sizeof(struct route_table));
}

static struct route *
find(const struct route_table *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->r[i].name, name) == 0)
			return &t->r[i];
	return NULL;
}

int
route_table_add(struct route_table *t, const char *relpath)
{
	char name[ROUTE_NAME_MAX];
	struct route *r;
	enum route_kind kind;
	int nph;

	if (route_name(relpath, name, sizeof(name), &kind, &nph) == -1)
		return -1;
	if (find(t, name) != NULL)
		return 1;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;

		if ((r = realloc(t->r, cap * sizeof(*r))) == NULL)
			return -1;
		t->r = r;
		t->cap = cap;
	}
	r = &t->r[t->n];
	r->name = strdup(name);
	r->file = strdup(relpath);
	if (r->name == NULL || r->file == NULL) {
		free(r->name);
		free(r->file);
		return -1;
	}
	r->kind = kind;
	r->nph = nph;
	t->n++;
	t->sorted = 0;
	return 0;
}

size_t
route_table_count(const struct route_table *t)
{
	return t->n;
}

static int
longest_first(const void *a, const void *b)
{
	const struct route *x = a, *y = b;
	size_t lx = strlen(x->name), ly = strlen(y->name);

	if (lx != ly)
		return lx < ly ? 1 : -1;
	return strcmp(x->name, y->name);
}

void
route_table_sort(struct route_table *t)
{
	if (!t->sorted && t->n > 0)
		qsort(t->r, t->n, sizeof(t->r[0]), longest_first);
	t->sorted = 1;
}

const struct route *
route_table_get(const struct route_table *t, size_t i)
{
	if (!t->sorted) {
		/* Single-threaded use; shared tables are sorted up front. */
		route_table_sort((struct route_table *)(uintptr_t)t);
	}
	return i < t->n ? &t->r[i] : NULL;
}

const struct route *
route_match(const struct route_table *t, const char *path,
    const char **path_info)
{
	const struct route *r;
	size_t i, n;

	for (i = 0; (r = route_table_get(t, i)) != NULL; i++) {
		n = strlen(r->name);
		if (strncmp(path, r->name, n) == 0 &&
		    (path[n] == '\0' || path[n] == '/')) {
			*path_info = path + n;
			return r;
		}
	}
	return NULL;
}

void
route_table_free(struct route_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		free(t->r[i].name);
		free(t->r[i].file);
	}
	free(t->r);
	free(t);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
route_clean_path(const char *raw, char *out, size_t len, const char **why)
{
	const char *s, *seg, *end;
	size_t o = 0;
	int c, hi, lo;

	if (raw[0] != '/') {
		*why = "path does not start with /";
		return -1;
	}
	for (s = raw; *s != '\0' && *s != '?'; s++) {
		c = (unsigned char)*s;
		if (c == '%') {
			if ((hi = hexval(s[1])) < 0 || (lo = hexval(s[2])) < 0) {
				*why = "malformed %-escape";
				return -1;
			}
			c = hi * 16 + lo;
			s += 2;
			if (c == '/' || c == '\\' || c == 0) {
				*why = "encoded /, \\ or NUL in path";
				return -1;
			}
		} else if (c == '\\') {
			*why = "backslash in path";
			return -1;
		}
		if (c < 0x20 || c == 0x7f) {
			*why = "control character in path";
			return -1;
		}
		if (o + 2 > len) {
			*why = "path too long";
			return -1;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	/* Vet segments; only the last may be empty (a trailing slash). */
	for (seg = out + 1; ; seg = end + 1) {
		if ((end = strchr(seg, '/')) == NULL)
			end = seg + strlen(seg);
		if (end == seg && *end == '/') {
			*why = "empty path segment";
			return -1;
		}
		if ((end - seg == 1 && seg[0] == '.') ||
		    (end - seg == 2 && seg[0] == '.' && seg[1] == '.')) {
			*why = "dot segment in path";
			return -1;
		}
		if (*end == '\0')
			break;
	}
	return 0;
}

void
route_pick(const struct config *c, const char *path, const struct route *found,
    const char *path_info, struct route_pick *out)
{
	const struct route_conf *remote = config_remote(c, path);

	memset(out, 0, sizeof(*out));
	if (remote != NULL && (found == NULL ||
	    strlen(remote->prefix) >= strlen(found->name))) {
		out->kind = PICK_REMOTE;
		out->conf = remote;
		out->name = remote->prefix;
		out->rest = strcmp(remote->prefix, "/") == 0 ? path :
		    path + strlen(remote->prefix);
		return;
	}
	if (found == NULL) {
		out->kind = PICK_NONE;
		return;
	}
	out->conf = config_route(c, found->name);
	out->name = found->name;
	out->rest = path_info;
	out->kind = out->conf->mode == MODE_FASTCGI ||
	    (out->conf->mode == MODE_AUTO && found->kind == ROUTE_FCGI) ?
	    PICK_FASTCGI : PICK_CGI;
}
