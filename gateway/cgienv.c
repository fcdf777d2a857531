/*
 * cgienv.c: the RFC 3875 environment of a CGI request.
 *
 * Pure: a struct cgi_request in, an envp array out, built from scratch so
 * nothing of cgigate's own environment leaks to handlers.  The array and
 * its strings are one allocation, sized in a first pass, filled in a
 * second.  Request headers become HTTP_* (RFC 3875 4.1.18) except:
 * Proxy (httpoxy: HTTP_PROXY would be read as a proxy setting), names with
 * '_' (X_User would collide with X-User), names with characters outside
 * the token set, and the headers already carried by CONTENT_LENGTH and
 * CONTENT_TYPE (4.1.2, 4.1.3).  A header that comes more than once
 * becomes one variable, its values joined in order with ", " ("; " for
 * Cookie), as 4.1.18 asks: one copy each would leave a handler to read
 * whichever its getenv finds.  FastCGI reuses the same builder for PARAMS.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cgigate.h"

struct envbuf {
	char	**vec;
	char	 *str;
	size_t	  nvec, nstr;	/* counts, or fill positions */
	int	  sizing;
	int	  failed;	/* out of memory: no environment */
	char *const *extra;	/* the route's env lines, which win */
	int	  nextra;
};

static void
put(struct envbuf *b, const char *name, const char *value)
{
	size_t ln, lv;
	int i;

	if (value == NULL)
		return;
	ln = strlen(name);
	for (i = 0; i < b->nextra; i++)
		if (strncmp(b->extra[i], name, ln) == 0 &&
		    b->extra[i][ln] == '=')
			return;
	lv = strlen(value);
	if (!b->sizing) {
		char *p = b->str + b->nstr;

		memcpy(p, name, ln);
		p[ln] = '=';
		memcpy(p + ln + 1, value, lv + 1);
		b->vec[b->nvec] = p;
	}
	b->nvec++;
	b->nstr += ln + lv + 2;
}

static void
put_pair(struct envbuf *b, const char *pair)
{
	size_t n = strlen(pair) + 1;

	if (!b->sizing) {
		memcpy(b->str + b->nstr, pair, n);
		b->vec[b->nvec] = b->str + b->nstr;
	}
	b->nvec++;
	b->nstr += n;
}

int
cgienv_header_var(const char *name, char *out, size_t len)
{
	size_t i, n = strlen(name);

	if (n == 0 || n + 6 > len)
		return -1;
	/*
	 * Proxy would become HTTP_PROXY (httpoxy); credentials are not for
	 * scripts (RFC 3875 4.1.18); the body's headers have their own
	 * variables.
	 */
	if (strcasecmp(name, "Proxy") == 0 ||
	    strcasecmp(name, "Authorization") == 0 ||
	    strcasecmp(name, "Proxy-Authorization") == 0 ||
	    strcasecmp(name, "Content-Length") == 0 ||
	    strcasecmp(name, "Content-Type") == 0)
		return -1;
	memcpy(out, "HTTP_", 5);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '-')
			out[5 + i] = '_';
		else if (isalnum(c))
			out[5 + i] = (char)toupper(c);
		else
			return -1;	/* '_' and non-token characters */
	}
	out[5 + n] = '\0';
	return 0;
}

/* Header i's variable: its value, or all of its name's values joined. */
static void
put_header(struct envbuf *b, const struct cgi_request *r, int i,
    const char *var)
{
	const char *name = r->headers[i].name, *sep;
	size_t len = 0, n;
	char *v;
	int k, dup = 0;

	for (k = 0; k < r->nheaders; k++)
		if (strcasecmp(r->headers[k].name, name) == 0) {
			if (k < i)
				return;		/* joined at its first */
			dup += k > i;
			len += strlen(r->headers[k].value) + 2;
		}
	if (dup == 0) {
		put(b, var, r->headers[i].value);
		return;
	}
	sep = strcasecmp(name, "Cookie") == 0 ? "; " : ", ";
	if ((v = malloc(len + 1)) == NULL) {
		b->failed = 1;	/* both passes must size alike */
		return;
	}
	for (k = i, len = 0; k < r->nheaders; k++) {
		if (strcasecmp(r->headers[k].name, name) != 0)
			continue;
		if (len > 0) {
			memcpy(v + len, sep, 2);
			len += 2;
		}
		n = strlen(r->headers[k].value);
		memcpy(v + len, r->headers[k].value, n);
		len += n;
	}
	v[len] = '\0';
	put(b, var, v);
	free(v);
}

static void
fill(struct envbuf *b, const struct cgi_request *r)
{
	char num[32], var[128], translated[8192];
	int i;

	put(b, "GATEWAY_INTERFACE", "CGI/1.1");
	put(b, "SERVER_SOFTWARE", CGIGATE_NAME "/" PACKAGE_VERSION);
	put(b, "SERVER_NAME", r->server_name);
	snprintf(num, sizeof(num), "%d", r->server_port);
	put(b, "SERVER_PORT", num);
	put(b, "SERVER_PROTOCOL", r->server_protocol);
	put(b, "REQUEST_METHOD", r->method);
	put(b, "REQUEST_URI", r->request_uri);
	put(b, "SCRIPT_NAME", r->script_name);
	put(b, "SCRIPT_FILENAME", r->script_filename);
	put(b, "DOCUMENT_ROOT", r->document_root);
	put(b, "PATH_INFO", r->path_info);
	/* RFC 3875 4.1.6: only when there is a PATH_INFO to translate. */
	if (r->path_info != NULL && r->path_info[0] != '\0' &&
	    r->document_root != NULL &&
	    (size_t)snprintf(translated, sizeof(translated), "%s%s",
	    r->document_root, r->path_info) < sizeof(translated))
		put(b, "PATH_TRANSLATED", translated);
	put(b, "QUERY_STRING", r->query ? r->query : "");
	put(b, "REMOTE_ADDR", r->remote_addr);
	/* No reverse lookups: RFC 3875 4.1.9 allows REMOTE_ADDR instead. */
	put(b, "REMOTE_HOST", r->remote_addr);
	snprintf(num, sizeof(num), "%d", r->remote_port);
	put(b, "REMOTE_PORT", num);
	put(b, "REMOTE_USER", r->remote_user);
	put(b, "AUTH_TYPE", r->auth_type);
	if (r->content_length >= 0) {
		snprintf(num, sizeof(num), "%lld", r->content_length);
		put(b, "CONTENT_LENGTH", num);
	}
	put(b, "CONTENT_TYPE", r->content_type);
	if (r->https)
		put(b, "HTTPS", "on");
	put(b, "PATH", r->path_env);
	for (i = 0; i < r->nheaders; i++)
		if (cgienv_header_var(r->headers[i].name, var,
		    sizeof(var)) == 0)
			put_header(b, r, i, var);
	for (i = 0; i < r->nextra; i++)
		put_pair(b, r->extra_env[i]);
}

char **
cgienv_build(const struct cgi_request *r)
{
	struct envbuf b;
	char *mem;

	memset(&b, 0, sizeof(b));
	b.extra = r->extra_env;
	b.nextra = r->nextra;
	b.sizing = 1;
	fill(&b, r);
	if (b.failed ||
	    (mem = malloc((b.nvec + 1) * sizeof(char *) + b.nstr)) == NULL)
		return NULL;
	b.vec = (char **)(void *)mem;
	b.str = mem + (b.nvec + 1) * sizeof(char *);
	b.sizing = 0;
	b.nvec = b.nstr = 0;
	fill(&b, r);
	if (b.failed) {
		free(mem);
		return NULL;
	}
	b.vec[b.nvec] = NULL;
	return b.vec;
}
