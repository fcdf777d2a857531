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
 * Every directive is one entry of the table in confkeys.c, which also
 * writes each field from its value; this file holds the parse around it
 * (sections, lines, comments, the errors), loading, inheritance between
 * sections and the checks after it.
 *
 * Route sections inherit field by field: [route /api/users] takes what it
 * does not set from [route /api], then [route /], then the built-ins.
 * config_finish has config_inherit copy each route field whose bit is
 * clear, shortest prefix first.  config_check then refuses
 * what parses but cannot apply once inherited (document_root on a CGI
 * route), or beside another setting (an agent_listen port that a listen
 * address has too), naming the line that set it.
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
	c->timings_wal_max = 64 << 20;
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
	free(c->agent_listen);
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
	int i, j, before = c->nlisten;

	if ((i = config_key_find(scope, name)) == -1)
		return scope == CS_SERVER ? "unknown directive in [server]" :
		    "unknown directive in [route]";
	k = config_key_at((size_t)i);
	if (!k->repeat && seen[i] != 0) {
		snprintf(buf, buflen, "%s: given twice in [%s%s] (first at "
		    "line %d)", k->name, r == NULL ? "server" : "route ",
		    r == NULL ? "" : r->prefix, seen[i]);
		return buf;
	}
	if ((why = config_key_apply(k, c, r, v)) != NULL)
		return why;
	seen[i] = line;
	if (r == NULL) {
		if (strcmp(k->name, "user") == 0)
			c->user_line = line;
		if (strcmp(k->name, "access_log") == 0)
			c->access_log_line = line;
		if (strcmp(k->name, "error_log") == 0)
			c->error_log_line = line;
		if (strcmp(k->name, "agent_listen") == 0)
			c->agent_listen_line = line;
		for (j = before; j < c->nlisten; j++)
			c->listen_line[j] = line;
		return NULL;
	}
	r->set |= k->bit;
	if (k->lineoff != 0)
		*(int *)(void *)((char *)r + k->lineoff) = line;
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
	int seen[CONFIG_KEYS_MAX];

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
		line = config_trim(line);
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
			k = config_trim(line + 1);
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
				v = config_trim(k + 5);
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
			k = config_trim(line);
			v = config_trim(eq + 1);
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
				config_inherit(&c->routes[i], &c->routes[j]);
				break;
			}
	/* A pool never needs more warm workers than it may have. */
	for (i = 0; i < c->nroutes; i++)
		if (c->routes[i].fcgi.min_workers > c->routes[i].fcgi.max_workers)
			c->routes[i].fcgi.min_workers =
			    c->routes[i].fcgi.max_workers;
}

/* The port of a checked "ADDR:PORT". */
static long
port_of(const char *addr)
{
	return strtol(strrchr(addr, ':') + 1, NULL, 10);
}

/*
 * What parses but cannot apply once inherited, or beside another
 * setting (the command line's included); each goes to sk.
 */
static void
check(const struct config *c, struct sink *sk)
{
	const struct route_conf *r;
	const char *f = c->file != NULL ? c->file : "config";
	char msg[256];
	int i;

	for (i = 0; c->agent_listen != NULL && i < c->nlisten; i++)
		if (port_of(c->listen[i]) == port_of(c->agent_listen)) {
			snprintf(msg, sizeof(msg), "agent_listen: port %ld is "
			    "a listen port too (listen %s): the agent check "
			    "needs one of its own", port_of(c->agent_listen),
			    c->listen[i]);
			sink_add(sk, f, c->agent_listen_line, msg);
			break;
		}

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
