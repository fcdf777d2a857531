/*
 * config.c: the configuration file and the built-in defaults.
 *
 * The file is INI-shaped: a [server] section and [route PREFIX] sections
 * of "key = value" lines; '#' and ';' start comments.  Parsing is pure
 * (text in, struct out) so the unit tests feed it strings; config_load is
 * the one function that touches the disk.  A bad line stops the parse with
 * "file:line: reason"; nothing is half-applied that the caller keeps, since
 * a failed parse means cgigate refuses to start.
 *
 * Route sections inherit field by field: [route /api/users] takes what it
 * does not set from [route /api], then [route /], then the built-ins.
 * config_check then refuses what parses but cannot apply once inherited
 * (document_root on a CGI route), naming the line that set it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgigate.h"

/* max_concurrency is set at first use: 4 per online CPU (builtin()). */
static struct route_conf builtin_route = {
	.prefix = NULL,
	.mode = MODE_AUTO,
	.timeout_us = 30 * 1000000LL,
	.max_concurrency = 0,
	.max_queue_wait_us = 5 * 1000000LL,
	.max_body = 10 * 1024 * 1024LL,
	.internal_redirect = 0,
	.request_buffering = 1,
	.rlim = { RLIM_INFINITY, RLIM_INFINITY, RLIM_INFINITY, RLIM_INFINITY },
	.fcgi = {
		.min_workers = 1,
		.max_workers = 4,
		.idle_us = 60 * 1000000LL,
		.start_us = 10 * 1000000LL,
		.max_requests = 0,
		.max_connections = 4,
	},
};

static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

/*
 * CGI handlers mostly want CPU: past a few per core, more of them at once
 * only spread the latency (hello-c on 2 CPUs, 30 connections: p99 16 ms
 * with 8 slots, 27 ms with 16, the same throughput).  A route whose
 * handlers wait on something else raises it.
 */
static void
builtin_init(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	builtin_route.max_concurrency = n < 1 ? 4 : n > 64 ? 256 : (int)n * 4;
}

static const struct route_conf *
builtin(void)
{
	pthread_once(&builtin_once, builtin_init);
	return &builtin_route;
}

static const char *rlim_keys[RL_COUNT] = {
	"rlimit_cpu", "rlimit_as", "rlimit_nproc", "rlimit_nofile"
};

int
config_set(char **field, const char *value)
{
	char *s;

	if ((s = strdup(value)) == NULL)
		return -1;
	free(*field);
	*field = s;
	return 0;
}

int
config_add_listen(struct config *c, const char *addr)
{
	if (c->nlisten == MAX_LISTEN) {
		errno = E2BIG;
		return -1;
	}
	if ((c->listen[c->nlisten] = strdup(addr)) == NULL)
		return -1;
	c->nlisten++;
	return 0;
}

int
config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->threads = 64;
	c->header_timeout_us = 10 * 1000000LL;
	c->keepalive_timeout_us = 15 * 1000000LL;
	c->body_timeout_us = 30 * 1000000LL;
	c->max_connections = 16384;
	c->max_client_connections = 0;
	c->drain_us = 10 * 1000000LL;
	c->stderr_cap = 64 * 1024;
	c->timings_queue = 8192;
	config_cidr("127.0.0.0/8", &c->admin_allow[c->nadmin_allow++]);
	config_cidr("::1", &c->admin_allow[c->nadmin_allow++]);
	if (config_set(&c->handlers, DEFAULT_HANDLERS) == -1 ||
	    config_set(&c->www, DEFAULT_WWW) == -1 ||
	    config_set(&c->timings, DEFAULT_TIMINGS) == -1 ||
	    config_set(&c->path_env, DEFAULT_PATH) == -1)
		return -1;
	return 0;
}

void
config_free(struct config *c)
{
	int i, j;

	if (c == NULL)
		return;
	free(c->file);
	for (i = 0; i < c->nlisten; i++)
		free(c->listen[i]);
	free(c->handlers);
	free(c->www);
	free(c->timings);
	free(c->path_env);
	free(c->user);
	for (i = 0; i < c->nroutes; i++) {
		free(c->routes[i].prefix);
		for (j = 0; j < c->routes[i].nenv; j++)
			free(c->routes[i].env[j]);
		for (j = 0; j < c->routes[i].fcgi.nbackends; j++)
			free(c->routes[i].fcgi.backends[j]);
		free(c->routes[i].fcgi.document_root);
		for (j = 0; j < c->routes[i].fcgi.nsuffixes; j++)
			free(c->routes[i].fcgi.suffixes[j]);
	}
	free(c->routes);
	memset(c, 0, sizeof(*c));
}

int64_t
config_duration(const char *s)
{
	char *end;
	double v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s)
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

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
parse_int(const char *v, long min, long max, long *out)
{
	char *end;
	long n;

	if (!isdigit((unsigned char)*v) && *v != '-')
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

static int
parse_bool(const char *v)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "on") == 0 ||
	    strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		return 1;
	if (strcmp(v, "no") == 0 || strcmp(v, "off") == 0 ||
	    strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		return 0;
	return -1;
}

/* A route prefix: "/" or "/seg/seg", no trailing slash, no dot segments. */
static int
valid_prefix(const char *p)
{
	const char *s;

	if (p[0] != '/')
		return 0;
	if (p[1] == '\0')
		return 1;
	for (s = p; *s != '\0'; s++) {
		if (*s == '/' && (s[1] == '/' || s[1] == '\0'))
			return 0;
		if (*s == '/' && s[1] == '.' &&
		    (s[2] == '/' || s[2] == '\0' ||
		    (s[2] == '.' && (s[3] == '/' || s[3] == '\0'))))
			return 0;
		if ((unsigned char)*s <= ' ' || *s == '\\' || *s == '%')
			return 0;
	}
	return strlen(p) < ROUTE_NAME_MAX;
}

static struct route_conf *
route_section(struct config *c, const char *prefix, int line)
{
	struct route_conf *r;
	int i;

	for (i = 0; i < c->nroutes; i++)
		if (strcmp(c->routes[i].prefix, prefix) == 0)
			return &c->routes[i];
	r = realloc(c->routes, (c->nroutes + 1) * sizeof(*r));
	if (r == NULL)
		return NULL;
	c->routes = r;
	r = &c->routes[c->nroutes];
	*r = *builtin();
	r->set = 0;
	r->line = line;
	if ((r->prefix = strdup(prefix)) == NULL)
		return NULL;
	c->nroutes++;
	return r;
}

static const char *
server_key(struct config *c, const char *k, const char *v)
{
	long n;
	int64_t d;

	if (strcmp(k, "listen") == 0) {
		if (*v == '\0' || strchr(v, ':') == NULL)
			return "listen wants ADDR:PORT";
		if (config_add_listen(c, v) == -1)
			return "too many listen lines";
	} else if (strcmp(k, "handlers") == 0) {
		if (config_set(&c->handlers, v) == -1)
			return "out of memory";
	} else if (strcmp(k, "www") == 0) {
		if (config_set(&c->www, v) == -1)
			return "out of memory";
	} else if (strcmp(k, "timings") == 0) {
		if (config_set(&c->timings, v) == -1)
			return "out of memory";
	} else if (strcmp(k, "path") == 0) {
		if (config_set(&c->path_env, v) == -1)
			return "out of memory";
	} else if (strcmp(k, "threads") == 0) {
		if (parse_int(v, 2, 1024, &n) == -1)
			return "threads wants a number from 2 to 1024";
		c->threads = (int)n;
	} else if (strcmp(k, "header_timeout") == 0 ||
	    strcmp(k, "keepalive_timeout") == 0 ||
	    strcmp(k, "body_timeout") == 0) {
		if ((d = config_duration(v)) <= 0)
			return "bad duration (use ms, s, m, h or d)";
		*(k[0] == 'h' ? &c->header_timeout_us : k[0] == 'k' ?
		    &c->keepalive_timeout_us : &c->body_timeout_us) = d;
	} else if (strcmp(k, "max_connections") == 0) {
		if (parse_int(v, 16, 1 << 20, &n) == -1)
			return "max_connections wants a number from 16 to "
			    "1048576";
		c->max_connections = (int)n;
	} else if (strcmp(k, "max_client_connections") == 0) {
		if (parse_int(v, 0, 1 << 20, &n) == -1)
			return "max_client_connections wants a number "
			    "(0: no limit)";
		c->max_client_connections = (int)n;
	} else if (strcmp(k, "drain_timeout") == 0) {
		if ((d = config_duration(v)) < 0)
			return "bad duration (use ms, s, m, h or d)";
		c->drain_us = d;
	} else if (strcmp(k, "stderr_limit") == 0) {
		if ((d = config_size(v)) < 0)
			return "bad size (use K, M or G)";
		c->stderr_cap = d;
	} else if (strcmp(k, "timings_max_age") == 0) {
		if ((d = config_duration(v)) < 0)
			return "bad duration (use ms, s, m, h or d; 0: forever)";
		c->timings_max_age_us = d;
	} else if (strcmp(k, "timings_max_rows") == 0) {
		if (parse_int(v, 0, LONG_MAX, &n) == -1)
			return "timings_max_rows wants a number (0: no limit)";
		c->timings_max_rows = n;
	} else if (strcmp(k, "user") == 0) {
		if (*v == '\0' || config_set(&c->user, v) == -1)
			return "user wants a user name";
	} else if (strcmp(k, "allow_root") == 0) {
		if ((c->allow_root = parse_bool(v)) == -1)
			return "allow_root wants yes or no";
	} else if (strcmp(k, "admin_allow") == 0) {
		char *list, *item, *save = NULL;

		if (!c->admin_allow_set)
			c->nadmin_allow = 0;	/* the file's list replaces */
		c->admin_allow_set = 1;
		if ((list = strdup(v)) == NULL)
			return "out of memory";
		for (item = strtok_r(list, ",", &save); item != NULL;
		    item = strtok_r(NULL, ",", &save)) {
			item = trim(item);
			if (c->nadmin_allow == MAX_ALLOW ||
			    config_cidr(item,
			    &c->admin_allow[c->nadmin_allow]) == -1) {
				free(list);
				return "admin_allow wants addresses or "
				    "ADDR/BITS blocks, separated by commas";
			}
			c->nadmin_allow++;
		}
		free(list);
	} else if (strcmp(k, "timings_queue") == 0) {
		if (parse_int(v, 16, 1 << 20, &n) == -1)
			return "timings_queue wants a number from 16 to 1048576";
		c->timings_queue = (int)n;
	} else
		return "unknown directive in [server]";
	return NULL;
}

/* "tcp:HOST:PORT" or "unix:/absolute/path". */
static int
valid_backend(const char *b)
{
	const char *colon;
	long port;

	if (strncmp(b, "unix:", 5) == 0)
		return b[5] == '/' && strlen(b + 5) < 108;
	if (strncmp(b, "tcp:", 4) != 0 || (colon = strrchr(b + 4, ':')) ==
	    NULL || colon == b + 4)
		return 0;
	return parse_int(colon + 1, 1, 65535, &port) == 0;
}

/*
 * One script_suffix: a dot and a name part, nothing that could not end a
 * path segment that route_clean_path lets through (no "/", blanks,
 * controls).  Returns NULL or the reason.
 */
static const char *
valid_suffix(const char *x)
{
	const char *s;

	if (x[0] != '.' || x[1] == '\0')
		return "script_suffix: a suffix is a dot and a name, "
		    "like .php";
	for (s = x; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s == 0x7f ||
		    strchr("/\\%?#", *s) != NULL)
			return "script_suffix: a suffix cannot hold /, \\, %, "
			    "?, #, blanks or control characters";
	return NULL;
}

static const char *
suffix_key(struct pool_conf *f, const char *v)
{
	char *list, *item, *save = NULL;
	const char *why = NULL;

	if ((list = strdup(v)) == NULL)
		return "out of memory";
	for (item = strtok_r(list, ",", &save); item != NULL && why == NULL;
	    item = strtok_r(NULL, ",", &save)) {
		item = trim(item);
		if ((why = valid_suffix(item)) != NULL)
			break;
		if (f->nsuffixes == MAX_SUFFIXES)
			why = "script_suffix: at most 8 suffixes";
		else if ((f->suffixes[f->nsuffixes] = strdup(item)) == NULL)
			why = "out of memory";
		else
			f->nsuffixes++;
	}
	free(list);
	if (why == NULL && f->nsuffixes == 0)
		why = "script_suffix: wants suffixes like .php, separated by "
		    "commas";
	return why;
}

/*
 * FastCGI keys of a route.  Returns NULL when k is not one of them, ""
 * when it was applied, or the reason it was refused.
 */
static const char *
fcgi_key(struct route_conf *r, const char *k, const char *v)
{
	struct pool_conf *f = &r->fcgi;
	char *list, *item, *save = NULL;
	const char *why;
	int64_t d;
	long n;

	if (strcmp(k, "min_workers") == 0) {
		if (parse_int(v, 0, 1024, &n) == -1)
			return "min_workers wants a number from 0 to 1024";
		f->min_workers = (int)n;
		r->set |= RC_MINWORKERS;
	} else if (strcmp(k, "max_workers") == 0) {
		if (parse_int(v, 1, 1024, &n) == -1)
			return "max_workers wants a number from 1 to 1024";
		f->max_workers = (int)n;
		r->set |= RC_MAXWORKERS;
	} else if (strcmp(k, "idle_timeout") == 0) {
		if ((d = config_duration(v)) <= 0)
			return "bad duration (use ms, s, m, h or d)";
		f->idle_us = d;
		r->set |= RC_IDLE;
	} else if (strcmp(k, "start_timeout") == 0) {
		if ((d = config_duration(v)) <= 0)
			return "bad duration (use ms, s, m, h or d)";
		f->start_us = d;
		r->set |= RC_START;
	} else if (strcmp(k, "max_requests") == 0) {
		if (parse_int(v, 0, INT_MAX, &n) == -1)
			return "max_requests wants a number (0: never recycle)";
		f->max_requests = (unsigned long)n;
		r->set |= RC_MAXREQ;
	} else if (strcmp(k, "max_connections") == 0) {
		if (parse_int(v, 1, 4096, &n) == -1)
			return "max_connections wants a number from 1 to 4096";
		f->max_connections = (int)n;
		r->set |= RC_MAXCONN;
	} else if (strcmp(k, "document_root") == 0) {
		if (v[0] != '/')
			return "document_root wants an absolute path";
		if (config_set(&f->document_root, v) == -1)
			return "out of memory";
		r->set |= RC_DOCROOT;
	} else if (strcmp(k, "script_suffix") == 0) {
		if (r->set & RC_SUFFIX)
			return "script_suffix: given twice in one route";
		if ((why = suffix_key(f, v)) != NULL)
			return why;
		r->set |= RC_SUFFIX;
	} else if (strcmp(k, "fastcgi") == 0) {
		if (r->set & RC_BACKENDS)
			return "fastcgi given twice in one route";
		if ((list = strdup(v)) == NULL)
			return "out of memory";
		for (item = strtok_r(list, ",", &save); item != NULL;
		    item = strtok_r(NULL, ",", &save)) {
			item = trim(item);
			if (!valid_backend(item)) {
				free(list);
				return "fastcgi wants tcp:HOST:PORT or "
				    "unix:/path, separated by commas";
			}
			if (f->nbackends == MAX_BACKENDS) {
				free(list);
				return "too many FastCGI backends";
			}
			if ((f->backends[f->nbackends] = strdup(item)) ==
			    NULL) {
				free(list);
				return "out of memory";
			}
			f->nbackends++;
		}
		free(list);
		if (f->nbackends == 0)
			return "fastcgi wants at least one backend";
		r->set |= RC_BACKENDS;
	} else
		return NULL;
	return "";
}

static const char *
route_key(struct route_conf *r, const char *k, const char *v)
{
	const char *why;
	int64_t d;
	long n;
	int i, b;

	if (strcmp(k, "mode") == 0) {
		if (strcmp(v, "cgi") == 0)
			r->mode = MODE_CGI;
		else if (strcmp(v, "fastcgi") == 0)
			r->mode = MODE_FASTCGI;
		else
			return "mode wants cgi or fastcgi";
		r->set |= RC_MODE;
	} else if (strcmp(k, "timeout") == 0) {
		if ((d = config_duration(v)) <= 0)
			return "bad duration (use ms, s, m, h or d)";
		r->timeout_us = d;
		r->set |= RC_TIMEOUT;
	} else if (strcmp(k, "max_concurrency") == 0) {
		if (parse_int(v, 1, 100000, &n) == -1)
			return "max_concurrency wants a number from 1 to 100000";
		r->max_concurrency = (int)n;
		r->set |= RC_MAXCONC;
	} else if (strcmp(k, "max_queue_wait") == 0) {
		if ((d = config_duration(v)) < 0)
			return "bad duration (use ms, s, m, h or d)";
		r->max_queue_wait_us = d;
		r->set |= RC_QUEUEWAIT;
	} else if (strcmp(k, "max_body") == 0) {
		if ((d = config_size(v)) < 0)
			return "bad size (use K, M or G)";
		r->max_body = d;
		r->set |= RC_MAXBODY;
	} else if (strcmp(k, "internal_redirect") == 0) {
		if ((b = parse_bool(v)) == -1)
			return "internal_redirect wants yes or no";
		r->internal_redirect = b;
		r->set |= RC_REDIRECT;
	} else if (strcmp(k, "request_buffering") == 0) {
		if ((b = parse_bool(v)) == -1)
			return "request_buffering wants yes or no";
		r->request_buffering = b;
		r->set |= RC_BUFFER;
	} else if (strcmp(k, "env") == 0) {
		const char *eq = strchr(v, '=');

		if (eq == NULL || eq == v)
			return "env wants NAME=value";
		for (i = 0; v + i < eq; i++)
			if (!isalnum((unsigned char)v[i]) && v[i] != '_')
				return "env name must be letters, digits and _";
		if (r->nenv == MAX_ROUTE_ENV)
			return "too many env lines in one route";
		if ((r->env[r->nenv] = strdup(v)) == NULL)
			return "out of memory";
		r->nenv++;
	} else if ((why = fcgi_key(r, k, v)) != NULL) {
		return *why == '\0' ? NULL : why;
	} else {
		for (i = 0; i < RL_COUNT; i++)
			if (strcmp(k, rlim_keys[i]) == 0)
				break;
		if (i == RL_COUNT)
			return "unknown directive in [route]";
		if (strcmp(v, "unlimited") == 0)
			r->rlim[i] = RLIM_INFINITY;
		else if (i == RL_CPU) {
			if ((d = config_duration(v)) <= 0)
				return "bad duration (use ms, s, m, h or d)";
			r->rlim[i] = (rlim_t)((d + 999999) / 1000000);
		} else if (i == RL_AS) {
			if ((d = config_size(v)) <= 0)
				return "bad size (use K, M or G)";
			r->rlim[i] = (rlim_t)d;
		} else {
			if (parse_int(v, 1, INT_MAX, &n) == -1)
				return "wants a positive number or unlimited";
			r->rlim[i] = (rlim_t)n;
		}
		r->set |= RC_RLIM << i;
	}
	return NULL;
}

int
config_parse(struct config *c, const char *text, const char *fname,
    char *err, size_t errlen)
{
	struct route_conf *route = NULL;
	char *copy, *line, *next, *k, *v, *eq;
	const char *why = NULL;
	int lineno = 0, in_server = 0, in_section = 0;

	if ((copy = strdup(text)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", fname);
		return -1;
	}
	for (line = copy; line != NULL; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line = trim(line);
		if (*line == '\0' || *line == '#' || *line == ';')
			continue;
		if (*line == '[') {
			size_t n = strlen(line);

			if (line[n - 1] != ']') {
				why = "section header lacks ']'";
				break;
			}
			line[n - 1] = '\0';
			k = trim(line + 1);
			in_section = 1;
			if (strcmp(k, "server") == 0) {
				in_server = 1;
				route = NULL;
			} else if (strncmp(k, "route", 5) == 0 &&
			    isspace((unsigned char)k[5])) {
				v = trim(k + 5);
				if (!valid_prefix(v)) {
					why = "route wants a path like /name "
					    "(no trailing /, no . or ..)";
					break;
				}
				in_server = 0;
				if ((route = route_section(c, v, lineno)) ==
				    NULL) {
					why = "out of memory";
					break;
				}
			} else {
				why = "unknown section (want [server] or "
				    "[route /path])";
				break;
			}
			continue;
		}
		if ((eq = strchr(line, '=')) == NULL) {
			why = "expected key = value";
			break;
		}
		*eq = '\0';
		k = trim(line);
		v = trim(eq + 1);
		if (*k == '\0') {
			why = "missing key before '='";
			break;
		}
		if (!in_section) {
			why = "directive outside a section";
			break;
		}
		if (*v == '\0') {
			why = "missing value";
			break;
		}
		if (in_server)
			why = server_key(c, k, v);
		else
			why = route_key(route, k, v);
		if (why != NULL)
			break;
		if (route != NULL && strcmp(k, "document_root") == 0)
			route->fcgi.docroot_line = lineno;
		if (route != NULL && strcmp(k, "script_suffix") == 0)
			route->fcgi.suffix_line = lineno;
	}
	free(copy);
	if (why != NULL) {
		snprintf(err, errlen, "%s:%d: %s", fname, lineno, why);
		return -1;
	}
	return 0;
}

int
config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	FILE *f;
	char *text = NULL;
	size_t len = 0, cap = 0, n;
	int rc;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (cap - len < 4096) {
			char *t;

			cap = cap ? cap * 2 : 8192;
			if (cap > (16u << 20) ||
			    (t = realloc(text, cap)) == NULL) {
				snprintf(err, errlen, "%s: too large", path);
				free(text);
				fclose(f);
				return -1;
			}
			text = t;
		}
		n = fread(text + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(text);
		fclose(f);
		return -1;
	}
	fclose(f);
	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		free(text);
		return -1;
	}
	rc = config_parse(c, text, path, err, errlen);
	free(text);
	if (rc == 0 && config_set(&c->file, path) == -1)
		rc = -1;
	return rc;
}

/* Is route name (or prefix) r covered by section prefix p? */
static int
covers(const char *p, const char *r)
{
	size_t n = strlen(p);

	if (strcmp(p, "/") == 0)
		return 1;
	return strncmp(p, r, n) == 0 && (r[n] == '\0' || r[n] == '/');
}

static int
longest_first(const void *a, const void *b)
{
	const struct route_conf *x = a, *y = b;
	size_t lx = strlen(x->prefix), ly = strlen(y->prefix);

	if (lx != ly)
		return lx < ly ? 1 : -1;
	return strcmp(x->prefix, y->prefix);
}

static void
inherit(struct route_conf *r, const struct route_conf *from)
{
	char *env[MAX_ROUTE_ENV] = { NULL };
	int i, j, nenv = 0;

	if (!(r->set & RC_MODE))
		r->mode = from->mode;
	if (!(r->set & RC_TIMEOUT))
		r->timeout_us = from->timeout_us;
	if (!(r->set & RC_MAXCONC))
		r->max_concurrency = from->max_concurrency;
	if (!(r->set & RC_QUEUEWAIT))
		r->max_queue_wait_us = from->max_queue_wait_us;
	if (!(r->set & RC_MAXBODY))
		r->max_body = from->max_body;
	if (!(r->set & RC_REDIRECT))
		r->internal_redirect = from->internal_redirect;
	if (!(r->set & RC_BUFFER))
		r->request_buffering = from->request_buffering;
	for (i = 0; i < RL_COUNT; i++)
		if (!(r->set & (RC_RLIM << i)))
			r->rlim[i] = from->rlim[i];
	if (!(r->set & RC_MINWORKERS))
		r->fcgi.min_workers = from->fcgi.min_workers;
	if (!(r->set & RC_MAXWORKERS))
		r->fcgi.max_workers = from->fcgi.max_workers;
	if (!(r->set & RC_IDLE))
		r->fcgi.idle_us = from->fcgi.idle_us;
	if (!(r->set & RC_START))
		r->fcgi.start_us = from->fcgi.start_us;
	if (!(r->set & RC_MAXREQ))
		r->fcgi.max_requests = from->fcgi.max_requests;
	if (!(r->set & RC_MAXCONN))
		r->fcgi.max_connections = from->fcgi.max_connections;
	if (!(r->set & RC_DOCROOT) && from->fcgi.document_root != NULL)
		r->fcgi.document_root = strdup(from->fcgi.document_root);
	if (!(r->set & RC_SUFFIX))
		for (i = 0; i < from->fcgi.nsuffixes; i++)
			if ((r->fcgi.suffixes[r->fcgi.nsuffixes] =
			    strdup(from->fcgi.suffixes[i])) != NULL)
				r->fcgi.nsuffixes++;
	if (!(r->set & RC_BACKENDS))
		for (i = 0; i < from->fcgi.nbackends; i++)
			if ((r->fcgi.backends[r->fcgi.nbackends] =
			    strdup(from->fcgi.backends[i])) != NULL)
				r->fcgi.nbackends++;
	/* Inherited env comes first; the section's own lines override it. */
	for (i = 0; i < from->nenv; i++) {
		size_t n = strcspn(from->env[i], "=") + 1;

		for (j = 0; j < r->nenv; j++)
			if (strncmp(r->env[j], from->env[i], n) == 0)
				break;
		if (j < r->nenv || nenv + r->nenv >= MAX_ROUTE_ENV)
			continue;
		if ((env[nenv] = strdup(from->env[i])) != NULL)
			nenv++;
	}
	for (j = 0; j < r->nenv; j++)
		env[nenv++] = r->env[j];
	memcpy(r->env, env, sizeof(env));
	r->nenv = nenv;
}

void
config_finish(struct config *c)
{
	int i, j;

	if (c->nlisten == 0)
		config_add_listen(c, DEFAULT_LISTEN);
	if (c->nroutes > 0)
		qsort(c->routes, (size_t)c->nroutes, sizeof(c->routes[0]),
		    longest_first);
	/*
	 * Shortest first, so every ancestor is complete before its
	 * descendants copy from it.
	 */
	for (i = c->nroutes - 1; i >= 0; i--)
		for (j = i + 1; j < c->nroutes; j++)
			if (covers(c->routes[j].prefix, c->routes[i].prefix)) {
				inherit(&c->routes[i], &c->routes[j]);
				break;
			}
	/* A pool never needs more warm workers than it may have. */
	for (i = 0; i < c->nroutes; i++)
		if (c->routes[i].fcgi.min_workers > c->routes[i].fcgi.max_workers)
			c->routes[i].fcgi.min_workers =
			    c->routes[i].fcgi.max_workers;
}

int
config_check(const struct config *c, char *err, size_t errlen)
{
	const struct route_conf *r;
	const char *f = c->file != NULL ? c->file : "config";
	int i;

	for (i = 0; i < c->nroutes; i++) {
		r = &c->routes[i];
		/* A CGI handler's DOCUMENT_ROOT is the www directory. */
		if (r->mode == MODE_CGI && r->fcgi.nbackends == 0) {
			if (r->set & RC_DOCROOT) {
				snprintf(err, errlen, "%s:%d: document_root: "
				    "applies to FastCGI routes only, and "
				    "[route %s] has mode = cgi", f,
				    r->fcgi.docroot_line, r->prefix);
				return -1;
			}
			if (r->set & RC_SUFFIX) {
				snprintf(err, errlen, "%s:%d: script_suffix: "
				    "applies to FastCGI routes only, and "
				    "[route %s] has mode = cgi", f,
				    r->fcgi.suffix_line, r->prefix);
				return -1;
			}
		}
		if ((r->set & RC_SUFFIX) && r->fcgi.document_root == NULL) {
			snprintf(err, errlen, "%s:%d: script_suffix: needs a "
			    "document_root for [route %s] to find the scripts "
			    "under", f, r->fcgi.suffix_line, r->prefix);
			return -1;
		}
	}
	return 0;
}

const struct route_conf *
config_route(const struct config *c, const char *route)
{
	int i;

	for (i = 0; i < c->nroutes; i++)
		if (covers(c->routes[i].prefix, route))
			return &c->routes[i];
	return builtin();
}

const struct route_conf *
config_remote(const struct config *c, const char *path)
{
	int i;

	for (i = 0; i < c->nroutes; i++)
		if (c->routes[i].fcgi.nbackends > 0 &&
		    covers(c->routes[i].prefix, path))
			return &c->routes[i];
	return NULL;
}

int
config_cidr(const char *s, struct cidr *out)
{
	char addr[64], *slash;
	long bits = -1;

	if (snprintf(addr, sizeof(addr), "%s", s) >= (int)sizeof(addr))
		return -1;
	if ((slash = strchr(addr, '/')) != NULL) {
		*slash = '\0';
		if (parse_int(slash + 1, 0, 128, &bits) == -1)
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
