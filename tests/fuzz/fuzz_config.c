/*
 * fuzz_config.c: the configuration parser, on text an operator (or a
 * broken deployment script) wrote.
 *
 * The input is the file's text, as config_load would hand it over: cut
 * at the first NUL.  A bad file must come back as -1 and one message of
 * the form "file:line: reason" that fits the caller's buffer, which is
 * sized from the input length so that short buffers are tried too and
 * ASan sees a byte written past one.  A good file is resolved with
 * config_finish, as main.c does, and the result must be a configuration
 * the daemon can run with: sections sorted longest first, each found by
 * config_route under its own prefix, every number in its range.  The
 * text also goes to config_duration, config_size and config_cidr whole.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include "cgigate.h"
#include "fuzz.h"

#define FNAME		"fuzz.conf"

static void
check_error(const char *text, const char *err, size_t errlen)
{
	const char *s;
	long line, lines = 1;
	char *end;

	CHECK(strlen(err) < errlen);
	CHECK(strncmp(err, FNAME ":", errlen - 1 < 10 ? errlen - 1 : 10) ==
	    0);
	if (errlen < 64)
		return;
	for (s = text; (s = strchr(s, '\n')) != NULL; s++)
		lines++;
	line = strtol(err + 10, &end, 10);
	CHECK(line >= 1 && line <= lines);
	CHECK(strncmp(end, ": ", 2) == 0 && end[2] != '\0');
}

static int
valid_prefix(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n >= ROUTE_NAME_MAX || p[0] != '/')
		return 0;
	if (n == 1)
		return 1;
	return p[n - 1] != '/' && strstr(p, "//") == NULL &&
	    strstr(p, "/./") == NULL && strstr(p, "/../") == NULL &&
	    strcmp(p + n - 2, "/.") != 0 &&
	    (n < 3 || strcmp(p + n - 3, "/..") != 0);
}

static void
check_route(const struct config *c, int i)
{
	const struct route_conf *r = &c->routes[i];
	const char *eq;
	int j;

	CHECK(valid_prefix(r->prefix));
	if (i + 1 < c->nroutes)
		CHECK(strlen(r->prefix) >= strlen(c->routes[i + 1].prefix));
	for (j = 0; j < i; j++)
		CHECK(strcmp(c->routes[j].prefix, r->prefix) != 0);
	CHECK(config_route(c, r->prefix) == r);
	if (r->fcgi.nbackends > 0)
		CHECK(config_remote(c, r->prefix) == r);
	CHECK(r->mode == MODE_AUTO || r->mode == MODE_CGI ||
	    r->mode == MODE_FASTCGI);
	CHECK(r->timeout_us > 0 && r->max_queue_wait_us >= 0);
	CHECK(r->max_concurrency >= 1 && r->max_body >= 0);
	CHECK(r->fcgi.max_workers >= 1 && r->fcgi.max_workers <= 1024);
	CHECK(r->fcgi.min_workers >= 0 &&
	    r->fcgi.min_workers <= r->fcgi.max_workers);
	CHECK(r->fcgi.idle_us > 0 && r->fcgi.start_us > 0);
	CHECK(r->fcgi.max_connections >= 1);
	CHECK(r->fcgi.nbackends >= 0 && r->fcgi.nbackends <= MAX_BACKENDS);
	for (j = 0; j < r->fcgi.nbackends; j++)
		CHECK(strncmp(r->fcgi.backends[j], "tcp:", 4) == 0 ||
		    strncmp(r->fcgi.backends[j], "unix:/", 6) == 0);
	if (r->fcgi.document_root != NULL)
		CHECK(r->fcgi.document_root[0] == '/');
	CHECK(r->fcgi.nsuffixes >= 0 && r->fcgi.nsuffixes <= MAX_SUFFIXES);
	for (j = 0; j < r->fcgi.nsuffixes; j++)
		CHECK(r->fcgi.suffixes[j][0] == '.' &&
		    r->fcgi.suffixes[j][1] != '\0' &&
		    strchr(r->fcgi.suffixes[j], '/') == NULL);
	CHECK(r->nenv >= 0 && r->nenv <= MAX_ROUTE_ENV);
	for (j = 0; j < r->nenv; j++) {
		CHECK((eq = strchr(r->env[j], '=')) != NULL &&
		    eq > r->env[j]);
		while (--eq >= r->env[j])
			CHECK(isalnum((unsigned char)*eq) || *eq == '_');
	}
}

static void
check_config(const struct config *c)
{
	int i;

	CHECK(c->nlisten >= 1 && c->nlisten <= MAX_LISTEN);
	for (i = 0; i < c->nlisten; i++)
		CHECK(strchr(c->listen[i], ':') != NULL);
	CHECK(c->handlers != NULL && c->www != NULL && c->timings != NULL &&
	    c->path_env != NULL);
	CHECK(c->threads >= 2 && c->threads <= 1024);
	CHECK(c->timings_queue >= 16 && c->timings_queue <= 1 << 20);
	CHECK(c->drain_us >= 0 && c->stderr_cap >= 0);
	CHECK(c->timings_max_age_us >= 0 && c->timings_max_rows >= 0);
	CHECK(c->allow_root == 0 || c->allow_root == 1);
	CHECK(c->nadmin_allow >= 0 && c->nadmin_allow <= MAX_ALLOW);
	for (i = 0; i < c->nadmin_allow; i++)
		CHECK((c->admin_allow[i].family == AF_INET &&
		    c->admin_allow[i].bits <= 32) ||
		    (c->admin_allow[i].family == AF_INET6 &&
		    c->admin_allow[i].bits <= 128));
	(void)config_cidr_match(c->admin_allow, c->nadmin_allow,
	    "127.0.0.1");
	(void)config_cidr_match(c->admin_allow, c->nadmin_allow, "::1");
	for (i = 0; i < c->nroutes; i++)
		check_route(c, i);
	(void)config_route(c, "/");
	(void)config_remote(c, "/a/b");
}

/* The helpers on their own, on the text whole. */
static void
check_values(const char *text)
{
	struct cidr cidr;
	int64_t v;

	v = config_duration(text);
	CHECK(v >= -1 && v <= (int64_t)1e15);
	v = config_size(text);
	CHECK(v >= -1 && v <= (int64_t)1 << 62);
	if (config_cidr(text, &cidr) == 0) {
		CHECK((cidr.family == AF_INET && cidr.bits <= 32) ||
		    (cidr.family == AF_INET6 && cidr.bits <= 128));
		if (strchr(text, '/') == NULL)
			CHECK(config_cidr_match(&cidr, 1, text) == 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char *text, *err;
	size_t errlen = 1 + size % 128;
	int rc;

	CHECK((text = malloc(size + 1)) != NULL);
	CHECK((err = malloc(errlen)) != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	CHECK(config_init(&c) == 0);
	err[0] = '\0';
	rc = config_parse(&c, text, FNAME, err, errlen);
	CHECK(rc == 0 || rc == -1);
	if (rc == -1)
		check_error(text, err, errlen);
	else {
		config_finish(&c);
		check_config(&c);
		err[0] = '\0';
		CHECK(config_check(&c, err, errlen) == 0 ||
		    (strlen(err) < errlen && strncmp(err, "config:",
		    errlen - 1 < 7 ? errlen - 1 : 7) == 0));
	}
	config_free(&c);
	check_values(text);
	free(err);
	free(text);
	return 0;
}
