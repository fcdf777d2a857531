/*
 * split.c: which script a FastCGI request names under a document root.
 *
 * A route with document_root serves a tree of scripts through one pool
 * or backend, as php-fpm and fcgiwrap expect: the path below the route
 * is cut in two, the script part (joined to the root, it becomes
 * SCRIPT_FILENAME, and appended to the route, SCRIPT_NAME) and the rest
 * (PATH_INFO).  The cut comes after the first segment that ends in one
 * of the route's script suffixes, or, with none configured, at the end:
 *
 *	/app.php/extra, suffix .php	script /app.php, PATH_INFO /extra
 *	/a/b.cgi/c/d, suffix .cgi	script /a/b.cgi, PATH_INFO /c/d
 *	/a/b.cgi, no suffix		script /a/b.cgi, PATH_INFO ""
 *
 * The first segment wins, not the last, so a name like /x.php/y.php runs
 * x.php with PATH_INFO /y.php.  Pure: the path comes already cleaned by
 * route_clean_path, and the join is checked again here (no empty, dot or
 * hidden segment in the script part) so that the result cannot leave the
 * root whatever the caller hands in.  Whether the file exists is the
 * caller's business (a remote backend's files are not ours to see).
 */
#include <string.h>

#include "cgigate.h"

/* Does the segment seg[0..len) end in one of the suffixes, after a name? */
static int
has_suffix(const char *seg, size_t len, char *const *sfx, int n)
{
	size_t k;
	int i;

	for (i = 0; i < n; i++) {
		k = strlen(sfx[i]);
		if (len > k && memcmp(seg + len - k, sfx[i], k) == 0)
			return 1;
	}
	return 0;
}

int
split_path(const char *root, const char *rest, char *const *sfx, int n,
    char *fname, size_t len, size_t *script_len, const char **why)
{
	const char *seg, *end;
	size_t slen = 0, rlen;

	*why = NULL;
	if (root == NULL || root[0] != '/') {
		*why = "document_root is not an absolute path";
		return 500;
	}
	if (rest[0] != '/' && rest[0] != '\0') {
		*why = "path does not start with /";
		return 404;
	}
	for (seg = rest; *seg == '/'; seg = end) {
		seg++;
		if ((end = strchr(seg, '/')) == NULL)
			end = seg + strlen(seg);
		if (end == seg) {
			*why = "no script in the path (a directory)";
			return 404;
		}
		if (seg[0] == '.') {
			*why = "dot or hidden segment in the script path";
			return 403;
		}
		if (n == 0 || has_suffix(seg, (size_t)(end - seg), sfx, n)) {
			slen = (size_t)(end - rest);
			if (n > 0)
				break;
		}
	}
	if (slen == 0) {
		*why = "no script in the path";
		return 404;
	}
	/* One slash between them: "/srv/php/" and "/" join as "/srv/php". */
	rlen = strlen(root);
	while (rlen > 0 && root[rlen - 1] == '/')
		rlen--;
	if (rlen + slen + 1 > len) {
		*why = "script path too long";
		return 414;
	}
	memcpy(fname, root, rlen);
	memcpy(fname + rlen, rest, slen);
	fname[rlen + slen] = '\0';
	*script_len = slen;
	return 0;
}
