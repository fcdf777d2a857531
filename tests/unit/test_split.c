/*
 * test_split.c: the path below a FastCGI route cut into the script under
 * document_root and PATH_INFO, and the paths that must never become a
 * SCRIPT_FILENAME.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cgigate.h"

static char *php[] = { ".php" };
static char *several[] = { ".php", ".cgi", ".pl" };

/* Split rest and check the file, SCRIPT_NAME part and PATH_INFO. */
static void
expect_split(const char *root, const char *rest, char **sfx, int n,
    const char *wfile, const char *wscript, const char *wpi)
{
	char fname[256];
	const char *why = "unset";
	size_t len = 12345;

	assert_int_equal(split_path(root, rest, sfx, n, fname, sizeof(fname),
	    &len, &why), 0);
	assert_null(why);
	assert_string_equal(fname, wfile);
	assert_int_equal(len, strlen(wscript));
	assert_memory_equal(rest, wscript, len);
	assert_string_equal(rest + len, wpi);
}

static void
expect_refused(const char *root, const char *rest, char **sfx, int n,
    int wstatus)
{
	char fname[256];
	const char *why = NULL;
	size_t len = 12345;

	assert_int_equal(split_path(root, rest, sfx, n, fname, sizeof(fname),
	    &len, &why), wstatus);
	assert_non_null(why);
	assert_int_equal(len, 12345);	/* untouched */
}

static void
test_suffix(void **state)
{
	(void)state;
	expect_split("/srv/php", "/app.php/extra", php, 1,
	    "/srv/php/app.php", "/app.php", "/extra");
	expect_split("/srv/php", "/app.php", php, 1,
	    "/srv/php/app.php", "/app.php", "");
	expect_split("/srv/php", "/app.php/", php, 1,
	    "/srv/php/app.php", "/app.php", "/");
	expect_split("/srv/php", "/dir/sub/index.php/a/b", php, 1,
	    "/srv/php/dir/sub/index.php", "/dir/sub/index.php", "/a/b");
	/* The first segment that ends in a suffix, not the last. */
	expect_split("/srv/php", "/x.php/y.php", php, 1,
	    "/srv/php/x.php", "/x.php", "/y.php");
	/* A suffix is the end of a segment, not of a substring. */
	expect_split("/srv/php", "/x.php.txt/y.php", php, 1,
	    "/srv/php/x.php.txt/y.php", "/x.php.txt/y.php", "");
	expect_split("/srv/php", "/a.phpx/b.php/c", php, 1,
	    "/srv/php/a.phpx/b.php", "/a.phpx/b.php", "/c");
	/* Any of several. */
	expect_split("/srv/cgi", "/tools/run.cgi/x", several, 3,
	    "/srv/cgi/tools/run.cgi", "/tools/run.cgi", "/x");
	expect_split("/srv/cgi", "/a.pl/b.cgi", several, 3,
	    "/srv/cgi/a.pl", "/a.pl", "/b.cgi");
	/* PATH_INFO may hold what a script name may not. */
	expect_split("/srv/php", "/app.php/.hidden/../x//y", php, 1,
	    "/srv/php/app.php", "/app.php", "/.hidden/../x//y");
	/* Case matters, as in file names. */
	expect_refused("/srv/php", "/APP.PHP/x", php, 1, 404);
	/* The suffix alone is not a name. */
	expect_refused("/srv/php", "/.php/x", php, 1, 403);
	expect_refused("/srv/php", "/dir/x", php, 1, 404);
	expect_refused("/srv/php", "", php, 1, 404);
	expect_refused("/srv/php", "/", php, 1, 404);
}

static void
test_whole(void **state)
{
	(void)state;
	/* No suffixes: the whole path below the route is the script. */
	expect_split("/srv/php", "/app/index.php", NULL, 0,
	    "/srv/php/app/index.php", "/app/index.php", "");
	expect_split("/srv/php", "/a.php/extra", NULL, 0,
	    "/srv/php/a.php/extra", "/a.php/extra", "");
	expect_refused("/srv/php", "", NULL, 0, 404);
	expect_refused("/srv/php", "/", NULL, 0, 404);
	expect_refused("/srv/php", "/dir/", NULL, 0, 404);
}

static void
test_root(void **state)
{
	(void)state;
	/* One slash between root and script, whatever the root ends in. */
	expect_split("/srv/php/", "/a.php", php, 1, "/srv/php/a.php",
	    "/a.php", "");
	expect_split("/srv/php//", "/a.php", php, 1, "/srv/php/a.php",
	    "/a.php", "");
	expect_split("/", "/a.php/b", php, 1, "/a.php", "/a.php", "/b");
	expect_refused("srv/php", "/a.php", php, 1, 500);
	expect_refused(NULL, "/a.php", php, 1, 500);
}

static void
test_never_outside(void **state)
{
	char fname[23];
	const char *why;
	size_t len;

	(void)state;
	/*
	 * route_clean_path refuses these before a route is matched; the
	 * split refuses them again rather than trust its caller.
	 */
	expect_refused("/srv/php", "/../etc/passwd.php", php, 1, 403);
	expect_refused("/srv/php", "/a/../../b.php", php, 1, 403);
	expect_refused("/srv/php", "/./a.php", php, 1, 403);
	expect_refused("/srv/php", "/../x", NULL, 0, 403);
	expect_refused("/srv/php", "/a/..", NULL, 0, 403);
	expect_refused("/srv/php", "//etc/passwd.php", php, 1, 404);
	expect_refused("/srv/php", "/a//b.php", php, 1, 404);
	expect_refused("/srv/php", "etc/passwd.php", php, 1, 404);
	/* Hidden files and directories are never scripts. */
	expect_refused("/srv/php", "/.git/hooks/x.php", php, 1, 403);
	expect_refused("/srv/php", "/a/.x.php", php, 1, 403);
	/* Too long for the buffer: refused, never cut. */
	assert_int_equal(split_path("/srv/php", "/abcdefghij.php", php, 1,
	    fname, sizeof(fname), &len, &why), 414);
	assert_int_equal(split_path("/srv/php", "/abcdefghi.php", php, 1,
	    fname, sizeof(fname), &len, &why), 0);
	assert_string_equal(fname, "/srv/php/abcdefghi.php");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suffix),
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_root),
		cmocka_unit_test(test_never_outside),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
