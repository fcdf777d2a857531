/*
 * test_cgienv.c: the environment a handler gets (RFC 3875 4.1), built
 * from scratch, with the httpoxy and underscore-header rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cgigate.h"

static const struct cgi_header headers[] = {
	{ "Host", "example.org:8080" },
	{ "User-Agent", "test/1.0" },
	{ "Proxy", "http://evil.example:3128" },
	{ "X_Forwarded_User", "mallory" },
	{ "X-Forwarded-User", "alice" },
	{ "Content-Type", "text/plain" },
	{ "Content-Length", "5" },
	{ "Authorization", "Basic c2VjcmV0" },
};

static void
base(struct cgi_request *r)
{
	memset(r, 0, sizeof(*r));
	r->method = "POST";
	r->request_uri = "/app/x/y?q=1";
	r->query = "q=1";
	r->script_name = "/app";
	r->path_info = "/x/y";
	r->script_filename = "/srv/h/app.cgi";
	r->document_root = "/srv/www";
	r->server_name = "example.org";
	r->server_port = 8080;
	r->server_protocol = "HTTP/1.1";
	r->remote_addr = "192.0.2.7";
	r->remote_port = 40000;
	r->content_length = 5;
	r->content_type = "text/plain";
	r->headers = headers;
	r->nheaders = sizeof(headers) / sizeof(headers[0]);
	r->path_env = "/usr/bin:/bin";
}

static const char *
get(char **env, const char *name)
{
	size_t n = strlen(name);

	for (; *env != NULL; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

static int
count(char **env, const char *name)
{
	size_t n = strlen(name);
	int c = 0;

	for (; *env != NULL; env++)
		c += strncmp(*env, name, n) == 0 && (*env)[n] == '=';
	return c;
}

static void
test_meta_variables(void **state)
{
	struct cgi_request r;
	char **env;

	(void)state;
	base(&r);
	env = cgienv_build(&r);
	assert_non_null(env);
	assert_string_equal(get(env, "GATEWAY_INTERFACE"), "CGI/1.1");
	assert_string_equal(get(env, "REQUEST_METHOD"), "POST");
	assert_string_equal(get(env, "SCRIPT_NAME"), "/app");
	assert_string_equal(get(env, "PATH_INFO"), "/x/y");
	assert_string_equal(get(env, "PATH_TRANSLATED"), "/srv/www/x/y");
	assert_string_equal(get(env, "QUERY_STRING"), "q=1");
	assert_string_equal(get(env, "REQUEST_URI"), "/app/x/y?q=1");
	assert_string_equal(get(env, "SCRIPT_FILENAME"), "/srv/h/app.cgi");
	assert_string_equal(get(env, "DOCUMENT_ROOT"), "/srv/www");
	assert_string_equal(get(env, "SERVER_NAME"), "example.org");
	assert_string_equal(get(env, "SERVER_PORT"), "8080");
	assert_string_equal(get(env, "SERVER_PROTOCOL"), "HTTP/1.1");
	assert_non_null(strstr(get(env, "SERVER_SOFTWARE"), "cgigate"));
	assert_string_equal(get(env, "REMOTE_ADDR"), "192.0.2.7");
	assert_string_equal(get(env, "REMOTE_HOST"), "192.0.2.7");
	assert_string_equal(get(env, "REMOTE_PORT"), "40000");
	assert_string_equal(get(env, "CONTENT_LENGTH"), "5");
	assert_string_equal(get(env, "CONTENT_TYPE"), "text/plain");
	assert_string_equal(get(env, "PATH"), "/usr/bin:/bin");
	assert_string_equal(get(env, "HTTP_HOST"), "example.org:8080");
	assert_string_equal(get(env, "HTTP_USER_AGENT"), "test/1.0");
	assert_null(get(env, "HTTPS"));
	/* 4.1.18: Content-Type/Length are not repeated as HTTP_ variables */
	assert_null(get(env, "HTTP_CONTENT_TYPE"));
	assert_null(get(env, "HTTP_CONTENT_LENGTH"));
	/* credentials are not handed to scripts */
	assert_null(get(env, "HTTP_AUTHORIZATION"));
	free(env);
}

static void
test_hostile_headers(void **state)
{
	struct cgi_request r;
	char **env;

	(void)state;
	base(&r);
	env = cgienv_build(&r);
	assert_null(get(env, "HTTP_PROXY"));			/* httpoxy */
	assert_string_equal(get(env, "HTTP_X_FORWARDED_USER"), "alice");
	assert_int_equal(count(env, "HTTP_X_FORWARDED_USER"), 1);
	free(env);
}

/* RFC 3875 4.1.18: a repeated header is one variable, values in order. */
static void
test_repeated_headers(void **state)
{
	static const struct cgi_header rep[] = {
		{ "X-Forwarded-For", "192.0.2.1" },
		{ "Accept", "text/html" },
		{ "x-forwarded-for", "198.51.100.2" },
		{ "Cookie", "a=1" },
		{ "X-Forwarded-For", "203.0.113.3" },
		{ "Cookie", "b=2" },
	};
	struct cgi_request r;
	char **env;

	(void)state;
	base(&r);
	r.headers = rep;
	r.nheaders = sizeof(rep) / sizeof(rep[0]);
	env = cgienv_build(&r);
	assert_non_null(env);
	assert_int_equal(count(env, "HTTP_X_FORWARDED_FOR"), 1);
	assert_string_equal(get(env, "HTTP_X_FORWARDED_FOR"),
	    "192.0.2.1, 198.51.100.2, 203.0.113.3");
	assert_int_equal(count(env, "HTTP_COOKIE"), 1);
	assert_string_equal(get(env, "HTTP_COOKIE"), "a=1; b=2");
	assert_string_equal(get(env, "HTTP_ACCEPT"), "text/html");
	free(env);
}

static void
test_optional_parts(void **state)
{
	struct cgi_request r;
	char **env;

	(void)state;
	base(&r);
	r.method = "GET";
	r.query = NULL;
	r.path_info = "";
	r.content_length = -1;
	r.content_type = NULL;
	r.nheaders = 0;
	r.https = 1;
	r.remote_user = "bob";
	r.auth_type = "Basic";
	env = cgienv_build(&r);
	assert_string_equal(get(env, "QUERY_STRING"), "");	/* 4.1.7 */
	assert_null(get(env, "PATH_TRANSLATED"));
	assert_null(get(env, "CONTENT_LENGTH"));
	assert_null(get(env, "CONTENT_TYPE"));
	assert_string_equal(get(env, "HTTPS"), "on");
	assert_string_equal(get(env, "REMOTE_USER"), "bob");
	assert_string_equal(get(env, "AUTH_TYPE"), "Basic");
	free(env);
}

static void
test_from_scratch(void **state)
{
	static char *extra[] = { "APP_MODE=test", "PATH=/evil" };
	struct cgi_request r;
	char **env;

	(void)state;
	setenv("CGIGATE_UNIT_SECRET", "must-not-leak", 1);
	base(&r);
	r.extra_env = extra;
	r.nextra = 1;
	env = cgienv_build(&r);
	assert_null(get(env, "CGIGATE_UNIT_SECRET"));
	assert_null(get(env, "HOME"));
	assert_string_equal(get(env, "APP_MODE"), "test");
	free(env);
	/* configured extras cannot add a second PATH */
	r.nextra = 2;
	env = cgienv_build(&r);
	assert_int_equal(count(env, "PATH"), 1);
	free(env);
}

static void
test_header_var(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(cgienv_header_var("X-Forwarded-For", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "HTTP_X_FORWARDED_FOR");
	assert_int_equal(cgienv_header_var("accept", out, sizeof(out)), 0);
	assert_string_equal(out, "HTTP_ACCEPT");
	assert_int_equal(cgienv_header_var("Proxy", out, sizeof(out)), -1);
	assert_int_equal(cgienv_header_var("X_User", out, sizeof(out)), -1);
	assert_int_equal(cgienv_header_var("Bad Name", out, sizeof(out)), -1);
	assert_int_equal(cgienv_header_var("A-Very-Long-Header-Name-Indeed",
	    out, 10), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta_variables),
		cmocka_unit_test(test_hostile_headers),
		cmocka_unit_test(test_repeated_headers),
		cmocka_unit_test(test_optional_parts),
		cmocka_unit_test(test_from_scratch),
		cmocka_unit_test(test_header_var),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
