/*
 * confkeys.c: the directive table, and what walks it field by field.
 *
 * Every directive is one entry of keys[], the only place that names it:
 * its section, the type of its value, its field (an offset into struct
 * config or struct route_conf), its bounds with the message that refuses
 * a value past them and, for route keys, the RC_* bit saying a section
 * set it.  config.c's parser looks a key up here (config_key_find) and
 * config_key_apply writes the field: the setter of its type, or for
 * lists, address blocks and env lines a small setter of their own, named
 * by their entries.  config_inherit copies, type by type, the route
 * fields a section did not set from the section above it; env lines
 * merge instead, the section's own overriding inherited ones of the same
 * name.  cgigate --directives prints the table, and the manual page test
 * holds cgigate.conf(5) to it.  Pure, like config.c: no I/O.
 */
#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgigate.h"

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
		why = add(k, c, r, config_trim(item));
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

/*
 * Where HAProxy's agent check is answered: an address as listen takes,
 * but a real port (the balancer's configuration names it), or off.
 */
static const char *
set_agent_listen(const struct config_key *k, struct config *c,
    struct route_conf *r, const char *v)
{
	long long port;

	(void)r;
	if (strcmp(v, "off") == 0) {
		free(c->agent_listen);
		c->agent_listen = NULL;
		return NULL;
	}
	if (config_listen_addr(v, NULL, NULL) != NULL ||
	    config_int(strrchr(v, ':') + 1, 1, 65535, &port) == -1)
		return k->why;
	return config_set(&c->agent_listen, v) == -1 ? "out of memory" : NULL;
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
	{ "agent_listen", CT_STRING, SRV(agent_listen),
	    .set = set_agent_listen,
	    .why = "agent_listen wants ADDR:PORT (a numeric address, IPv6 "
	    "in brackets; a port from 1 to 65535) or off" },
	{ "allow_root", CT_BOOL, SRV(allow_root),
	    .why = "allow_root wants yes or no" },
	{ "body_timeout", CT_DURATION, SRV(body_timeout_us), .min = 1,
	    .max = LLONG_MAX, .why = DURATION },
	{ "chartjs", CT_ABSPATH, SRV(chartjs),
	    .why = "chartjs wants an absolute path" },
	{ "drain_grace", CT_DURATION, SRV(drain_grace_us), .min = 0,
	    .max = LLONG_MAX, .why = DURATION },
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
	{ "timings_wal_max", CT_SIZE, SRV(timings_wal_max), .min = 256 << 10,
	    .max = LLONG_MAX,
	    .why = "timings_wal_max wants a size of 256K or more" },
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
_Static_assert(NKEYS <= CONFIG_KEYS_MAX, "raise CONFIG_KEYS_MAX");

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


int
config_key_find(enum config_scope scope, const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].scope == scope && strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *
config_key_apply(const struct config_key *k, struct config *c,
    struct route_conf *r, const char *v)
{
	if (k->set != NULL)
		return k->set(k, c, r, v);
	return set_value(k, ptr_at(r == NULL ? (void *)c : (void *)r, k->off),
	    v);
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

void
config_inherit(struct route_conf *r, const struct route_conf *from)
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
