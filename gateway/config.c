/*
 * config.c: the configuration file and the built-in defaults.
 *
 * The file is INI-shaped: a [server] section and [route PREFIX] sections
 * of "key = value" lines; '#' and ';' start comments.  Parsing is pure
 * (text in, struct out) so the unit tests feed it strings; config_load is
 * the one function that touches the disk (config_load_all for --check).
 * A bad line stops the parse with "file:line: reason"; nothing is
 * half-applied that the caller keeps, since a failed parse means cgigate
 * refuses to start.  The *_all variants, for --check, report every bad
 * line and go on.  A section, or a key that is not a list (keys[].repeat),
 * given twice is a bad line naming the first; listen addresses are parsed
 * as the file is read (numeric, port 0-65535) so that start-up refuses
 * them by line.  The syntax of single values (durations, sizes, numbers,
 * addresses and blocks) is confval.c's.
 *
 * Every directive is one entry of keys[], the only place that names it:
 * its section, the type of its value, its field (an offset into struct
 * config or struct route_conf), its bounds with the message that refuses
 * a value past them and, for route keys, the RC_* bit saying a section
 * set it.  The parser looks a key up there and the setter of its type
 * writes the field; lists, address blocks and env lines have small
 * setters of their own, named by their entries.  cgigate --directives
 * prints the table, and the manual page test holds cgigate.conf(5) to it.
 *
 * Route sections inherit field by field: [route /api/users] takes what it
 * does not set from [route /api], then [route /], then the built-ins.
 * config_finish walks the same table, copying each route field whose bit
 * is clear by its type; env lines merge instead, the section's own
 * overriding inherited ones of the same name.  config_check then refuses
 * what parses but cannot apply once inherited (document_root on a CGI
 * route), naming the line that set it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
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
	c->listen_line[c->nlisten++] = 0;
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
	c->log_level = LOG_LEVEL_DEFAULT;
	config_cidr("127.0.0.0/8", &c->admin_allow[c->nadmin_allow++]);
	config_cidr("::1", &c->admin_allow[c->nadmin_allow++]);
	if (config_set(&c->handlers, DEFAULT_HANDLERS) == -1 ||
	    config_set(&c->www, DEFAULT_WWW) == -1 ||
	    config_set(&c->timings, DEFAULT_TIMINGS) == -1 ||
	    config_set(&c->path_env, DEFAULT_PATH) == -1 ||
	    config_set(&c->chartjs, DEFAULT_CHARTJS) == -1)
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
	free(c->access_log);
	free(c->error_log);
	free(c->chartjs);
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

static void *
ptr_at(void *base, size_t off)
{
	return (char *)base + off;
}

static const void *
cptr_at(const void *base, size_t off)
{
	return (const char *)base + off;
}

/* Store n in an integer field of size bytes: an int or a 64-bit one. */
static void
put_int(void *p, size_t size, long long n)
{
	int i = (int)n;
	int64_t l = n;

	if (size == sizeof(i))
		memcpy(p, &i, sizeof(i));
	else
		memcpy(p, &l, sizeof(l));
}

/* A number written as unit (CT_INT, CT_DURATION, CT_SIZE), in min..max. */
static int
parse_number(enum config_type unit, const char *v, long long min,
    long long max, long long *out)
{
	int64_t n;

	if (unit == CT_INT)
		return config_int(v, min, max, out);
	n = unit == CT_DURATION ? config_duration(v) : config_size(v);
	if (n < 0 || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

/*
 * Hand each item of a comma-separated value, trimmed, to add; the first
 * reason it returns stops the walk.
 */
static const char *
each_item(const struct config_key *k, struct config *c, struct route_conf *r,
    const char *v, const char *(*add)(const struct config_key *,
    struct config *, struct route_conf *, const char *))
{
	char *list, *item, *save = NULL;
	const char *why = NULL;

	if ((list = strdup(v)) == NULL)
		return "out of memory";
	for (item = strtok_r(list, ",", &save); item != NULL && why == NULL;
	    item = strtok_r(NULL, ",", &save))
		why = add(k, c, r, trim(item));
	free(list);
	return why;
}

static const char *
set_listen(const struct config_key *k, struct config *c,
    struct route_conf *r, const char *v)
{
	const char *why;

	(void)k;
	(void)r;
	if ((why = config_listen_addr(v, NULL, NULL)) != NULL)
		return why;
	if (config_add_listen(c, v) == -1)
		return "too many listen lines";
	return NULL;
}

/* One address block into the list at k's offsets (admin_allow, ...). */
static const char *
cidr_item(const struct config_key *k, struct config *c,
    struct route_conf *r, const char *item)
{
	struct cidr *a = (struct cidr *)(void *)((char *)c + k->off);
	int *n = (int *)(void *)((char *)c + k->noff);

	(void)r;
	if (*n == MAX_ALLOW || config_cidr(item, &a[*n]) == -1)
		return k->why;
	(*n)++;
	return NULL;
}

/* A list that starts empty: every line adds to it. */
static const char *
set_cidrs(const struct config_key *k, struct config *c,
    struct route_conf *r, const char *v)
{
	return each_item(k, c, r, v, cidr_item);
}

static const char *
set_admin_allow(const struct config_key *k, struct config *c,
    struct route_conf *r, const char *v)
{
	if (!c->admin_allow_set)
		c->nadmin_allow = 0;	/* the file's list replaces */
	c->admin_allow_set = 1;
	return each_item(k, c, r, v, cidr_item);
}

static const char *
set_env(const struct config_key *k, struct config *c, struct route_conf *r,
    const char *v)
{
	const char *eq = strchr(v, '=');
	int i;

	(void)k;
	(void)c;
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
	return NULL;
}

/* "tcp:HOST:PORT" or "unix:/absolute/path". */
static int
valid_backend(const char *b)
{
	const char *colon;
	long long port;

	if (strncmp(b, "unix:", 5) == 0)
		return b[5] == '/' && strlen(b + 5) < 108;
	if (strncmp(b, "tcp:", 4) != 0 || (colon = strrchr(b + 4, ':')) ==
	    NULL || colon == b + 4)
		return 0;
	return config_int(colon + 1, 1, 65535, &port) == 0;
}

static const char *
backend_item(const struct config_key *k, struct config *c,
    struct route_conf *r, const char *item)
{
	struct pool_conf *f = &r->fcgi;

	(void)k;
	(void)c;
	if (!valid_backend(item))
		return "fastcgi wants tcp:HOST:PORT or unix:/path, separated "
		    "by commas";
	if (f->nbackends == MAX_BACKENDS)
		return "too many FastCGI backends";
	if ((f->backends[f->nbackends] = strdup(item)) == NULL)
		return "out of memory";
	f->nbackends++;
	return NULL;
}

static const char *
set_backends(const struct config_key *k, struct config *c,
    struct route_conf *r, const char *v)
{
	const char *why;

	if ((why = each_item(k, c, r, v, backend_item)) != NULL)
		return why;
	if (r->fcgi.nbackends == 0)
		return "fastcgi wants at least one backend";
	return NULL;
}

/*
 * One script_suffix: a dot and a name part, nothing that could not end a
 * path segment that route_clean_path lets through (no "/", blanks,
 * controls).
 */
static const char *
suffix_item(const struct config_key *k, struct config *c,
    struct route_conf *r, const char *item)
{
	struct pool_conf *f = &r->fcgi;
	const char *s;

	(void)k;
	(void)c;
	if (item[0] != '.' || item[1] == '\0')
		return "script_suffix: a suffix is a dot and a name, "
		    "like .php";
	for (s = item; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s == 0x7f ||
		    strchr("/\\%?#", *s) != NULL)
			return "script_suffix: a suffix cannot hold /, \\, %, "
			    "?, #, blanks or control characters";
	if (f->nsuffixes == MAX_SUFFIXES)
		return "script_suffix: at most 8 suffixes";
	if ((f->suffixes[f->nsuffixes] = strdup(item)) == NULL)
		return "out of memory";
	f->nsuffixes++;
	return NULL;
}

static const char *
set_suffixes(const struct config_key *k, struct config *c,
    struct route_conf *r, const char *v)
{
	const char *why;

	if ((why = each_item(k, c, r, v, suffix_item)) != NULL)
		return why;
	if (r->fcgi.nsuffixes == 0)
		return "script_suffix: wants suffixes like .php, separated by "
		    "commas";
	return NULL;
}

static const struct config_choice modes[] = {
	{ "cgi", MODE_CGI },
	{ "fastcgi", MODE_FASTCGI },
	{ NULL, 0 }
};

static const struct config_choice levels[] = {
	{ "error", LL_ERROR },
	{ "warn", LL_WARN },
	{ "notice", LL_NOTICE },
	{ "info", LL_INFO },
	{ "debug", LL_DEBUG },
	{ NULL, 0 }
};

int
config_log_level(const char *name)
{
	const struct config_choice *ch;

	for (ch = levels; ch->name != NULL; ch++)
		if (strcmp(name, ch->name) == 0)
			return ch->value;
	return -1;
}

#define SRV(f)	.scope = CS_SERVER, .off = offsetof(struct config, f), \
		.size = sizeof(((struct config *)0)->f)
#define RT(f, b) .scope = CS_ROUTE, .off = offsetof(struct route_conf, f), \
		.size = sizeof(((struct route_conf *)0)->f), .bit = (b)
#define DURATION	"bad duration (use ms, s, m, h or d)"
#define SIZE		"bad size (use K, M or G)"

/*
 * Every directive, in cgigate.conf(5)'s order.  A bound is refused with
 * why; min is 0 or more for durations and sizes (in microseconds and
 * bytes), 1 for "more than 0".
 */
static const struct config_key keys[] = {
	{ "access_log", CT_STRING, SRV(access_log) },
	{ "admin_allow", CT_CIDRS, SRV(admin_allow), .repeat = 1,
	    .noff = offsetof(struct config, nadmin_allow),
	    .set = set_admin_allow,
	    .why = "admin_allow wants addresses or ADDR/BITS blocks, "
	    "separated by commas" },
	{ "allow_root", CT_BOOL, SRV(allow_root),
	    .why = "allow_root wants yes or no" },
	{ "body_timeout", CT_DURATION, SRV(body_timeout_us), .min = 1,
	    .max = LLONG_MAX, .why = DURATION },
	{ "chartjs", CT_ABSPATH, SRV(chartjs),
	    .why = "chartjs wants an absolute path" },
	{ "drain_timeout", CT_DURATION, SRV(drain_us), .min = 0,
	    .max = LLONG_MAX, .why = DURATION },
	{ "error_log", CT_STRING, SRV(error_log) },
	{ "handlers", CT_STRING, SRV(handlers) },
	{ "header_timeout", CT_DURATION, SRV(header_timeout_us), .min = 1,
	    .max = LLONG_MAX, .why = DURATION },
	{ "health_allow", CT_CIDRS, SRV(health_allow), .repeat = 1,
	    .noff = offsetof(struct config, nhealth_allow),
	    .set = set_cidrs,
	    .why = "health_allow wants addresses or ADDR/BITS blocks, "
	    "at most 16" },
	{ "keepalive_timeout", CT_DURATION, SRV(keepalive_timeout_us),
	    .min = 1, .max = LLONG_MAX, .why = DURATION },
	{ "listen", CT_LIST, SRV(listen), .noff = offsetof(struct config,
	    nlisten), .set = set_listen, .repeat = 1 },
	{ "log_level", CT_ENUM, SRV(log_level), .choices = levels,
	    .why = "log_level wants error, warn, notice, info or debug" },
	{ "max_client_connections", CT_INT, SRV(max_client_connections),
	    .min = 0, .max = 1 << 20,
	    .why = "max_client_connections wants a number (0: no limit)" },
	{ "max_connections", CT_INT, SRV(max_connections), .min = 16,
	    .max = 1 << 20,
	    .why = "max_connections wants a number from 16 to 1048576" },
	{ "path", CT_STRING, SRV(path_env) },
	{ "proxy_protocol", CT_BOOL, SRV(proxy_protocol),
	    .why = "proxy_protocol wants yes or no" },
	{ "stderr_limit", CT_SIZE, SRV(stderr_cap), .min = 0,
	    .max = LLONG_MAX, .why = SIZE },
	{ "threads", CT_INT, SRV(threads), .min = 2, .max = 1024,
	    .why = "threads wants a number from 2 to 1024" },
	{ "timings", CT_STRING, SRV(timings) },
	{ "timings_max_age", CT_DURATION, SRV(timings_max_age_us), .min = 0,
	    .max = LLONG_MAX,
	    .why = "bad duration (use ms, s, m, h or d; 0: forever)" },
	{ "timings_max_rows", CT_INT, SRV(timings_max_rows), .min = 0,
	    .max = LONG_MAX,
	    .why = "timings_max_rows wants a number (0: no limit)" },
	{ "timings_queue", CT_INT, SRV(timings_queue), .min = 16,
	    .max = 1 << 20,
	    .why = "timings_queue wants a number from 16 to 1048576" },
	{ "trusted_proxies", CT_CIDRS, SRV(trusted_proxies), .repeat = 1,
	    .noff = offsetof(struct config, ntrusted_proxies),
	    .set = set_cidrs,
	    .why = "trusted_proxies wants addresses or ADDR/BITS blocks, "
	    "at most 16" },
	{ "user", CT_STRING, SRV(user) },
	{ "www", CT_STRING, SRV(www) },

	/* Every route. */
	{ "env", CT_ENV, RT(env, RC_ENV), .noff = offsetof(struct route_conf,
	    nenv), .set = set_env, .repeat = 1 },
	{ "internal_redirect", CT_BOOL, RT(internal_redirect, RC_REDIRECT),
	    .why = "internal_redirect wants yes or no" },
	{ "max_body", CT_SIZE, RT(max_body, RC_MAXBODY), .min = 0,
	    .max = LLONG_MAX, .why = SIZE },
	{ "max_concurrency", CT_INT, RT(max_concurrency, RC_MAXCONC),
	    .min = 1, .max = 100000,
	    .why = "max_concurrency wants a number from 1 to 100000" },
	{ "max_queue_wait", CT_DURATION, RT(max_queue_wait_us, RC_QUEUEWAIT),
	    .min = 0, .max = LLONG_MAX, .why = DURATION },
	{ "mode", CT_ENUM, RT(mode, RC_MODE), .choices = modes,
	    .why = "mode wants cgi or fastcgi" },
	{ "request_buffering", CT_BOOL, RT(request_buffering, RC_BUFFER),
	    .why = "request_buffering wants yes or no" },
	{ "rlimit_as", CT_RLIMIT, RT(rlim[RL_AS], RC_RLIM << RL_AS),
	    .unit = CT_SIZE, .min = 1, .max = LLONG_MAX, .why = SIZE },
	{ "rlimit_cpu", CT_RLIMIT, RT(rlim[RL_CPU], RC_RLIM << RL_CPU),
	    .unit = CT_DURATION, .min = 1, .max = LLONG_MAX,
	    .why = DURATION },
	{ "rlimit_nofile", CT_RLIMIT, RT(rlim[RL_NOFILE],
	    RC_RLIM << RL_NOFILE), .unit = CT_INT, .min = 1, .max = INT_MAX,
	    .why = "wants a positive number or unlimited" },
	{ "rlimit_nproc", CT_RLIMIT, RT(rlim[RL_NPROC], RC_RLIM << RL_NPROC),
	    .unit = CT_INT, .min = 1, .max = INT_MAX,
	    .why = "wants a positive number or unlimited" },
	{ "timeout", CT_DURATION, RT(timeout_us, RC_TIMEOUT), .min = 1,
	    .max = LLONG_MAX, .why = DURATION },

	/* FastCGI pools. */
	{ "idle_timeout", CT_DURATION, RT(fcgi.idle_us, RC_IDLE), .min = 1,
	    .max = LLONG_MAX, .why = DURATION },
	{ "max_requests", CT_INT, RT(fcgi.max_requests, RC_MAXREQ), .min = 0,
	    .max = INT_MAX,
	    .why = "max_requests wants a number (0: never recycle)" },
	{ "max_workers", CT_INT, RT(fcgi.max_workers, RC_MAXWORKERS),
	    .min = 1, .max = 1024,
	    .why = "max_workers wants a number from 1 to 1024" },
	{ "min_workers", CT_INT, RT(fcgi.min_workers, RC_MINWORKERS),
	    .min = 0, .max = 1024,
	    .why = "min_workers wants a number from 0 to 1024" },
	{ "start_timeout", CT_DURATION, RT(fcgi.start_us, RC_START), .min = 1,
	    .max = LLONG_MAX, .why = DURATION },

	/* FastCGI trees of scripts. */
	{ "document_root", CT_ABSPATH, RT(fcgi.document_root, RC_DOCROOT),
	    .lineoff = offsetof(struct route_conf, fcgi.docroot_line),
	    .why = "document_root wants an absolute path" },
	{ "script_suffix", CT_LIST, RT(fcgi.suffixes, RC_SUFFIX),
	    .noff = offsetof(struct route_conf, fcgi.nsuffixes),
	    .lineoff = offsetof(struct route_conf, fcgi.suffix_line),
	    .set = set_suffixes },

	/* Remote FastCGI servers. */
	{ "fastcgi", CT_LIST, RT(fcgi.backends, RC_BACKENDS),
	    .noff = offsetof(struct route_conf, fcgi.nbackends),
	    .set = set_backends },
	{ "max_connections", CT_INT, RT(fcgi.max_connections, RC_MAXCONN),
	    .min = 1, .max = 4096,
	    .why = "max_connections wants a number from 1 to 4096" },
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

const struct config_key *
config_key_at(size_t i)
{
	return i < NKEYS ? &keys[i] : NULL;
}

const char *
config_scope_name(enum config_scope s)
{
	return s == CS_SERVER ? "server" : "route";
}

const char *
config_type_name(enum config_type t)
{
	static const char *names[] = {
		[CT_STRING] = "string", [CT_ABSPATH] = "absolute-path",
		[CT_INT] = "int", [CT_DURATION] = "duration",
		[CT_SIZE] = "size", [CT_BOOL] = "bool", [CT_ENUM] = "enum",
		[CT_RLIMIT] = "rlimit", [CT_LIST] = "string-list",
		[CT_CIDRS] = "cidr-list", [CT_ENV] = "env"
	};

	if ((size_t)t >= sizeof(names) / sizeof(names[0]) || names[t] == NULL)
		return "?";
	return names[t];
}

/* The generic setters: p is the field. */
static const char *
set_value(const struct config_key *k, void *p, const char *v)
{
	const struct config_choice *ch;
	long long n;
	int b;

	switch (k->type) {
	case CT_STRING:
	case CT_ABSPATH:
		if (k->type == CT_ABSPATH && v[0] != '/')
			return k->why;
		return config_set(p, v) == -1 ? "out of memory" : NULL;
	case CT_INT:
	case CT_DURATION:
	case CT_SIZE:
		if (parse_number(k->type, v, k->min, k->max, &n) == -1)
			return k->why;
		put_int(p, k->size, n);
		return NULL;
	case CT_BOOL:
		if ((b = config_bool(v)) == -1)
			return k->why;
		put_int(p, k->size, b);
		return NULL;
	case CT_ENUM:
		for (ch = k->choices; ch->name != NULL; ch++)
			if (strcmp(v, ch->name) == 0) {
				put_int(p, k->size, ch->value);
				return NULL;
			}
		return k->why;
	case CT_RLIMIT:
		if (strcmp(v, "unlimited") == 0)
			*(rlim_t *)p = RLIM_INFINITY;
		else if (parse_number(k->unit, v, k->min, k->max, &n) == -1)
			return k->why;
		else if (k->unit == CT_DURATION)	/* whole seconds */
			*(rlim_t *)p = (rlim_t)((n + 999999) / 1000000);
		else
			*(rlim_t *)p = (rlim_t)n;
		return NULL;
	default:
		return "directive has no setter";	/* see keys[] */
	}
}

/*
 * Apply "name = v" to c's [server] (r NULL) or to the route r.  seen[]
 * holds, per entry of keys[], the line of this section that set it: a
 * key that is not a list is refused the second time, naming the first
 * line (in buf).
 */
static const char *
set_key(struct config *c, struct route_conf *r, const char *name,
    const char *v, int line, int *seen, char *buf, size_t buflen)
{
	enum config_scope scope = r == NULL ? CS_SERVER : CS_ROUTE;
	const struct config_key *k;
	const char *why;
	size_t i;
	int j, before = c->nlisten;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].scope == scope && strcmp(keys[i].name, name) == 0)
			break;
	if (i == NKEYS)
		return scope == CS_SERVER ? "unknown directive in [server]" :
		    "unknown directive in [route]";
	k = &keys[i];
	if (!k->repeat && seen[i] != 0) {
		snprintf(buf, buflen, "%s: given twice in [%s%s] (first at "
		    "line %d)", k->name, r == NULL ? "server" : "route ",
		    r == NULL ? "" : r->prefix, seen[i]);
		return buf;
	}
	if (k->set != NULL)
		why = k->set(k, c, r, v);
	else
		why = set_value(k, ptr_at(r == NULL ? (void *)c : (void *)r,
		    k->off), v);
	if (why != NULL)
		return why;
	seen[i] = line;
	if (r == NULL) {
		if (strcmp(k->name, "user") == 0)
			c->user_line = line;
		if (strcmp(k->name, "access_log") == 0)
			c->access_log_line = line;
		if (strcmp(k->name, "error_log") == 0)
			c->error_log_line = line;
		for (j = before; j < c->nlisten; j++)
			c->listen_line[j] = line;
		return NULL;
	}
	r->set |= k->bit;
	if (k->lineoff != 0)
		*(int *)ptr_at(r, k->lineoff) = line;
	return NULL;
}

/* Where the errors of a parse go; stop: at the first (start-up). */
struct sink {
	config_report_fn report;
	void		*arg;
	int		 n, stop;
};

static void
sink_add(struct sink *s, const char *fname, int line, const char *why)
{
	char msg[640];

	if (line > 0)
		snprintf(msg, sizeof(msg), "%s:%d: %s", fname, line, why);
	else
		snprintf(msg, sizeof(msg), "%s: %s", fname, why);
	s->report(s->arg, msg);
	s->n++;
}

/*
 * The parse.  A line that cannot be used is reported; unless the sink
 * stops there, the parse goes on with the next line, and a section
 * header that cannot be used (or repeats one) skips its lines.
 */
static void
parse(struct config *c, const char *text, const char *fname,
    struct sink *sk)
{
	struct route_conf *route = NULL;
	char *copy, *line, *next, *k, *v, *eq, buf[256];
	const char *why;
	int lineno = 0, in_section = 0, skip = 0, server_line = 0, i;
	int seen[NKEYS];

	if ((copy = strdup(text)) == NULL) {
		sink_add(sk, fname, 0, "out of memory");
		return;
	}
	memset(seen, 0, sizeof(seen));
	for (line = copy; line != NULL && !(sk->stop && sk->n > 0);
	    line = next) {
		lineno++;
		why = NULL;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line = trim(line);
		if (*line == '\0' || *line == '#' || *line == ';')
			continue;
		if (*line == '[') {
			size_t n = strlen(line);

			memset(seen, 0, sizeof(seen));
			skip = 1;
			in_section = 1;
			route = NULL;
			if (line[n - 1] != ']') {
				sink_add(sk, fname, lineno,
				    "section header lacks ']'");
				continue;
			}
			line[n - 1] = '\0';
			k = trim(line + 1);
			if (strcmp(k, "server") == 0) {
				if (server_line != 0) {
					snprintf(buf, sizeof(buf), "[server] "
					    "given twice (first at line %d)",
					    server_line);
					why = buf;
				} else
					server_line = lineno;
			} else if (strncmp(k, "route", 5) == 0 &&
			    isspace((unsigned char)k[5])) {
				v = trim(k + 5);
				for (i = 0; i < c->nroutes; i++)
					if (strcmp(c->routes[i].prefix, v) ==
					    0)
						break;
				if (!valid_prefix(v))
					why = "route wants a path like /name "
					    "(no trailing /, no . or ..)";
				else if (i < c->nroutes) {
					snprintf(buf, sizeof(buf), "[route %s] "
					    "given twice (first at line %d)",
					    v, c->routes[i].line);
					why = buf;
				} else if ((route = route_section(c, v,
				    lineno)) == NULL)
					why = "out of memory";
			} else
				why = "unknown section (want [server] or "
				    "[route /path])";
			if (why != NULL)
				sink_add(sk, fname, lineno, why);
			else
				skip = 0;
			continue;
		}
		if ((eq = strchr(line, '=')) == NULL)
			why = "expected key = value";
		else {
			*eq = '\0';
			k = trim(line);
			v = trim(eq + 1);
			if (*k == '\0')
				why = "missing key before '='";
			else if (!in_section)
				why = "directive outside a section";
			else if (skip)
				continue;	/* its header was reported */
			else if (*v == '\0')
				why = "missing value";
			else
				why = set_key(c, route, k, v, lineno, seen,
				    buf, sizeof(buf));
		}
		if (why != NULL)
			sink_add(sk, fname, lineno, why);
	}
	free(copy);
}

/* The first message, for start-up. */
struct first {
	char	*err;
	size_t	 errlen;
	int	 kept;
};

static void
keep_first(void *arg, const char *msg)
{
	struct first *f = arg;

	if (!f->kept++)
		snprintf(f->err, f->errlen, "%s", msg);
}

int
config_parse(struct config *c, const char *text, const char *fname,
    char *err, size_t errlen)
{
	struct first f = { err, errlen, 0 };
	struct sink sk = { keep_first, &f, 0, 1 };

	parse(c, text, fname, &sk);
	return sk.n > 0 ? -1 : 0;
}

int
config_parse_all(struct config *c, const char *text, const char *fname,
    config_report_fn report, void *arg)
{
	struct sink sk = { report, arg, 0, 0 };

	parse(c, text, fname, &sk);
	return sk.n;
}

/* Read path whole into *text (NUL-terminated); NULL, or the reason. */
static const char *
slurp(const char *path, char **text)
{
	FILE *f;
	char *t;
	size_t len = 0, cap = 0, n;
	const char *why = NULL;

	*text = NULL;
	if ((f = fopen(path, "re")) == NULL)
		return strerror(errno);
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			if (cap > (16u << 20) ||
			    (t = realloc(*text, cap)) == NULL) {
				why = "too large";
				break;
			}
			*text = t;
		}
		n = fread(*text + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (why == NULL && ferror(f))
		why = strerror(errno);
	fclose(f);
	if (why == NULL) {
		(*text)[len] = '\0';
		if (memchr(*text, '\0', len) != NULL)
			why = "contains a NUL byte";
	}
	if (why != NULL) {
		free(*text);
		*text = NULL;
	}
	return why;
}

static int
load(struct config *c, const char *path, struct sink *sk)
{
	char *text;
	const char *why;

	if ((why = slurp(path, &text)) != NULL) {
		sink_add(sk, path, 0, why);
		return -1;
	}
	parse(c, text, path, sk);
	free(text);
	if (config_set(&c->file, path) == -1) {
		sink_add(sk, path, 0, "out of memory");
		return -1;
	}
	return 0;
}

int
config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	struct first f = { err, errlen, 0 };
	struct sink sk = { keep_first, &f, 0, 1 };

	load(c, path, &sk);
	return sk.n > 0 ? -1 : 0;
}

int
config_load_all(struct config *c, const char *path, config_report_fn report,
    void *arg)
{
	struct sink sk = { report, arg, 0, 0 };

	load(c, path, &sk);
	return sk.n;
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

/* Inherited env lines come first; the section's own override them. */
static void
inherit_env(struct route_conf *r, const struct route_conf *from)
{
	char *env[MAX_ROUTE_ENV] = { NULL };
	int i, j, nenv = 0;

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

/* Copy into r every route field of the table that r did not set. */
static void
inherit(struct route_conf *r, const struct route_conf *from)
{
	const struct config_key *k;
	char *const *src;
	char **dst;
	int i, n, *dn;

	for (k = keys; k < keys + NKEYS; k++) {
		if (k->scope != CS_ROUTE)
			continue;
		if (k->type == CT_ENV) {
			inherit_env(r, from);
			continue;
		}
		if (r->set & k->bit)
			continue;
		switch (k->type) {
		case CT_STRING:
		case CT_ABSPATH:
			src = cptr_at(from, k->off);
			dst = ptr_at(r, k->off);
			if (*src != NULL && *dst == NULL)
				*dst = strdup(*src);
			break;
		case CT_LIST:
			src = cptr_at(from, k->off);
			dst = ptr_at(r, k->off);
			memcpy(&n, cptr_at(from, k->noff), sizeof(n));
			dn = ptr_at(r, k->noff);
			for (i = 0; i < n; i++)
				if ((dst[*dn] = strdup(src[i])) != NULL)
					(*dn)++;
			break;
		default:
			memcpy(ptr_at(r, k->off), cptr_at(from, k->off),
			    k->size);
			break;
		}
	}
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

/* What parses but cannot apply once inherited; each goes to sk. */
static void
check(const struct config *c, struct sink *sk)
{
	const struct route_conf *r;
	const char *f = c->file != NULL ? c->file : "config";
	char msg[256];
	int i;

	for (i = 0; i < c->nroutes && !(sk->stop && sk->n > 0); i++) {
		r = &c->routes[i];
		/* A CGI handler's DOCUMENT_ROOT is the www directory. */
		if (r->mode == MODE_CGI && r->fcgi.nbackends == 0) {
			if (r->set & RC_DOCROOT) {
				snprintf(msg, sizeof(msg), "document_root: "
				    "applies to FastCGI routes only, and "
				    "[route %s] has mode = cgi", r->prefix);
				sink_add(sk, f, r->fcgi.docroot_line, msg);
			}
			if (r->set & RC_SUFFIX) {
				snprintf(msg, sizeof(msg), "script_suffix: "
				    "applies to FastCGI routes only, and "
				    "[route %s] has mode = cgi", r->prefix);
				sink_add(sk, f, r->fcgi.suffix_line, msg);
			}
			continue;
		}
		if ((r->set & RC_SUFFIX) && r->fcgi.document_root == NULL) {
			snprintf(msg, sizeof(msg), "script_suffix: needs a "
			    "document_root for [route %s] to find the scripts "
			    "under", r->prefix);
			sink_add(sk, f, r->fcgi.suffix_line, msg);
		}
	}
}

int
config_check(const struct config *c, char *err, size_t errlen)
{
	struct first fi = { err, errlen, 0 };
	struct sink sk = { keep_first, &fi, 0, 1 };

	check(c, &sk);
	return sk.n > 0 ? -1 : 0;
}

int
config_check_all(const struct config *c, config_report_fn report, void *arg)
{
	struct sink sk = { report, arg, 0, 0 };

	check(c, &sk);
	return sk.n;
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
