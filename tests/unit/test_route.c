/*
 * test_route.c: route names, longest-prefix matching and the request
 * path cleaner that stands between a URL and the handlers directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cgigate.h"

static void
expect_name(const char *file, const char *want, enum route_kind wkind,
    int wnph)
{
	char name[ROUTE_NAME_MAX];
	enum route_kind kind;
	int nph;

	assert_int_equal(route_name(file, name, sizeof(name), &kind, &nph), 0);
	assert_string_equal(name, want);
	assert_int_equal(kind, wkind);
	assert_int_equal(nph, wnph);
}

static void
test_names(void **state)
{
	char name[ROUTE_NAME_MAX];
	enum route_kind kind;
	int nph;

	(void)state;
	expect_name("hello.cgi", "/hello", ROUTE_CGI, 0);
	expect_name("api/users.cgi", "/api/users", ROUTE_CGI, 0);
	expect_name("git-http-backend", "/git-http-backend", ROUTE_CGI, 0);
	expect_name("foo.fcgi", "/foo", ROUTE_FCGI, 0);
	expect_name("nph-raw.cgi", "/nph-raw", ROUTE_CGI, 1);
	expect_name("a/nph-x", "/a/nph-x", ROUTE_CGI, 1);
	expect_name("x.cgi.bak", "/x.cgi.bak", ROUTE_CGI, 0);
	/* not routes: hidden files, dot segments, empty names */
	assert_int_equal(route_name(".hidden.cgi", name, sizeof(name), &kind,
	    &nph), -1);
	assert_int_equal(route_name("a/../b.cgi", name, sizeof(name), &kind,
	    &nph), -1);
	assert_int_equal(route_name(".cgi", name, sizeof(name), &kind, &nph),
	    -1);
	assert_int_equal(route_name("", name, sizeof(name), &kind, &nph), -1);
	/* too long for the buffer */
	assert_int_equal(route_name("abcdefgh.cgi", name, 5, &kind, &nph), -1);
}

static void
test_match(void **state)
{
	struct route_table *t;
	const struct route *r;
	const char *pi;

	(void)state;
	t = route_table_new();
	assert_non_null(t);
	assert_int_equal(route_table_add(t, "hello.cgi"), 0);
	assert_int_equal(route_table_add(t, "api.cgi"), 0);
	assert_int_equal(route_table_add(t, "api/users.cgi"), 0);
	assert_int_equal(route_table_add(t, "hello"), 1);	/* duplicate */
	assert_int_equal(route_table_add(t, "../x.cgi"), -1);
	assert_int_equal(route_table_count(t), 3);

	r = route_match(t, "/hello", &pi);
	assert_non_null(r);
	assert_string_equal(r->name, "/hello");
	assert_string_equal(r->file, "hello.cgi");
	assert_string_equal(pi, "");
	r = route_match(t, "/hello/a/b", &pi);
	assert_non_null(r);
	assert_string_equal(r->name, "/hello");
	assert_string_equal(pi, "/a/b");
	assert_null(route_match(t, "/helloworld", &pi));
	assert_null(route_match(t, "/", &pi));
	assert_null(route_match(t, "/nothing", &pi));
	/* longest prefix wins */
	r = route_match(t, "/api/users/7", &pi);
	assert_non_null(r);
	assert_string_equal(r->name, "/api/users");
	assert_string_equal(pi, "/7");
	r = route_match(t, "/api/other", &pi);
	assert_non_null(r);
	assert_string_equal(r->name, "/api");
	assert_string_equal(pi, "/other");
	r = route_match(t, "/api/usersx", &pi);
	assert_string_equal(r->name, "/api");
	route_table_free(t);
	route_table_free(NULL);
}

static void
expect_clean(const char *raw, const char *want)
{
	char out[256];
	const char *why = NULL;

	assert_int_equal(route_clean_path(raw, out, sizeof(out), &why), 0);
	assert_string_equal(out, want);
}

static void
expect_refused(const char *raw, const char *reason)
{
	char out[256];
	const char *why = NULL;

	assert_int_equal(route_clean_path(raw, out, sizeof(out), &why), -1);
	assert_non_null(why);
	assert_non_null(strstr(why, reason));
}

static void
test_clean_accepts(void **state)
{
	(void)state;
	expect_clean("/", "/");
	expect_clean("/hello", "/hello");
	expect_clean("/hello/", "/hello/");
	expect_clean("/a%20b/c", "/a b/c");
	expect_clean("/caf%C3%A9", "/caf\xc3\xa9");
	expect_clean("/x.y/..z", "/x.y/..z");
	expect_clean("/%7euser", "/~user");
}

static void
test_clean_refuses(void **state)
{
	char out[8];
	const char *why;

	(void)state;
	expect_refused("hello", "start with /");
	expect_refused("/a/../b", "dot segment");
	expect_refused("/a/./b", "dot segment");
	expect_refused("/..", "dot segment");
	expect_refused("/%2e%2e/etc", "dot segment");
	expect_refused("/%2E%2e/etc", "dot segment");
	expect_refused("/a/%2e/b", "dot segment");
	expect_refused("/a%2fb", "encoded /");
	expect_refused("/a%2Fb", "encoded /");
	expect_refused("/a%5cb", "encoded /");
	expect_refused("/a%00b", "encoded /");
	expect_refused("/a\\b", "backslash");
	expect_refused("/a\tb", "control");
	expect_refused("/a%0ab", "control");
	expect_refused("//a", "empty path segment");
	expect_refused("/a//b", "empty path segment");
	expect_refused("/a%zz", "malformed");
	expect_refused("/a%2", "malformed");
	assert_int_equal(route_clean_path("/longer/than/eight", out,
	    sizeof(out), &why), -1);
	assert_non_null(strstr(why, "too long"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_clean_accepts),
		cmocka_unit_test(test_clean_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
