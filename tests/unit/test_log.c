/*
 * test_log.c: cgigate's own log (log.c), written to files in a private
 * directory.
 *
 * Each line is "TIME [id] level: text\n" with the time in UTC to the
 * millisecond; a line below the level set is not written; the level
 * names are the ones log_level takes in cgigate.conf(5).  The file is
 * appended to, reopened at its path after a rename (old lines stay in
 * the renamed file, new ones go to the new file, no descriptor is left
 * behind), and given up for stderr.  While starting, warnings and errors
 * go to stderr as well; once started, only to the file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cgigate.h"

static char dir[PATH_MAX];

/* The whole of path, or "" when it does not exist. */
static char *
slurp(const char *path)
{
	static char buf[64 * 1024];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY)) == -1)
		return buf;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static int
open_fds(void)
{
	struct dirent *d;
	DIR *dp;
	int n = 0;

	assert_non_null(dp = opendir("/proc/self/fd"));
	while ((d = readdir(dp)) != NULL)
		n += d->d_name[0] != '.';
	closedir(dp);
	return n;
}

static void
in_dir(char *buf, const char *name)
{
	snprintf(buf, PATH_MAX, "%s/%s", dir, name);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/test_log.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -1;
	log_set_level(LOG_LEVEL_DEFAULT);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	(void)log_open(NULL);
	log_set_level(LOG_LEVEL_DEFAULT);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_names(void **state)
{
	static const char *want[] = {
		"error", "warn", "notice", "info", "debug"
	};
	int l;

	(void)state;
	for (l = LL_ERROR; l <= LL_DEBUG; l++) {
		assert_string_equal(log_level_name(l), want[l - LL_ERROR]);
		/* What the file says is what the line says. */
		assert_int_equal(config_log_level(log_level_name(l)), l);
	}
	assert_string_equal(log_level_name(LL_DEBUG + 1), "?");
	assert_string_equal(log_level_name(-1), "?");
	assert_int_equal(LOG_LEVEL_DEFAULT, LL_INFO);
	assert_int_equal(log_status_level(502), LL_WARN);
	assert_int_equal(log_status_level(504), LL_WARN);
	assert_int_equal(log_status_level(503), LL_WARN);
	assert_int_equal(log_status_level(500), LL_WARN);
	assert_int_equal(log_status_level(404), LL_INFO);
	assert_int_equal(log_status_level(413), LL_INFO);
	assert_int_equal(log_status_level(200), LL_INFO);
}

static void
test_filter(void **state)
{
	(void)state;
	log_set_level(LL_WARN);
	assert_int_equal(log_get_level(), LL_WARN);
	assert_true(log_on(LL_ERROR));
	assert_true(log_on(LL_WARN));
	assert_false(log_on(LL_NOTICE));
	assert_false(log_on(LL_DEBUG));
	log_set_level(LL_DEBUG);
	assert_true(log_on(LL_DEBUG));
	log_set_level(LL_ERROR);
	assert_false(log_on(LL_WARN));
	/* Past either end: the end. */
	log_set_level(LL_DEBUG + 5);
	assert_int_equal(log_get_level(), LL_DEBUG);
	log_set_level(-3);
	assert_int_equal(log_get_level(), LL_ERROR);
}

static void
test_lines(void **state)
{
	char path[PATH_MAX], *text, *nl, xs[5000];
	regex_t re;
	int n;

	(void)state;
	in_dir(path, "error.log");
	assert_int_equal(log_open(path), 0);
	assert_string_equal(log_path(), path);
	log_started();
	log_set_level(LL_NOTICE);
	log_err("r7", "one %d", 1);
	log_warn(NULL, "two %s", "2");
	log_notice("r8", "three");
	log_info("r9", "not written");
	log_debug("r9", "not written");
	log_at(LL_INFO, "r9", "not written");
	log_at(LL_WARN, "r10", "four");
	text = slurp(path);
	assert_int_equal(count_lines(text), 4);
	assert_null(strstr(text, "not written"));
	assert_int_equal(regcomp(&re,
	    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
	    "\\[r7\\] error: one 1\n"
	    "[0-9T:.Z-]{24} \\[-\\] warn: two 2\n"
	    "[0-9T:.Z-]{24} \\[r8\\] notice: three\n"
	    "[0-9T:.Z-]{24} \\[r10\\] warn: four\n$", REG_EXTENDED), 0);
	if (regexec(&re, text, 0, NULL, 0) != 0)
		fail_msg("unexpected lines:\n%s", text);
	regfree(&re);

	/* A line too long is cut, and still ends the line. */
	log_set_level(LL_DEBUG);
	memset(xs, 'x', sizeof(xs) - 1);
	xs[sizeof(xs) - 1] = '\0';
	log_debug("r11", "%s", xs);
	text = slurp(path);
	assert_int_equal(count_lines(text), 5);
	nl = strrchr(text, '\n');
	n = (int)(nl - text);
	while (n > 0 && text[n - 1] != '\n')
		n--;
	assert_int_equal(nl - (text + n) + 1, 2047);
	assert_int_equal(nl[-1], 'x');
}

static void
test_reopen(void **state)
{
	char path[PATH_MAX], old[PATH_MAX], bad[PATH_MAX];
	int fds;

	(void)state;
	in_dir(path, "error.log");
	in_dir(old, "error.log.1");
	in_dir(bad, "no-such-dir/x.log");
	log_started();
	assert_int_equal(log_open(path), 0);
	log_notice(NULL, "before rotation");
	fds = open_fds();
	assert_int_equal(rename(path, old), 0);
	log_notice(NULL, "after rename");
	assert_int_equal(log_reopen(), 0);
	log_notice(NULL, "after reopen");
	assert_int_equal(open_fds(), fds);	/* the old file let go */
	assert_int_equal(count_lines(slurp(path)), 1);
	assert_non_null(strstr(slurp(path), "notice: after reopen\n"));
	assert_int_equal(count_lines(slurp(old)), 2);
	assert_non_null(strstr(slurp(old), "after rename"));
	assert_null(strstr(slurp(old), "after reopen"));

	/* A path that cannot be opened changes nothing. */
	errno = 0;
	assert_int_equal(log_open(bad), -1);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(log_path(), path);
	log_notice(NULL, "still here");
	assert_non_null(strstr(slurp(path), "still here"));
	assert_int_equal(open_fds(), fds);
}

/*
 * Runs fn with stderr sent to the file err, then puts stderr back.
 */
static void
with_stderr(const char *err, void (*fn)(void))
{
	int saved, fd;

	assert_true((saved = dup(STDERR_FILENO)) != -1);
	assert_true((fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600)) !=
	    -1);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	fn();
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
}

static char logfile[PATH_MAX];

static void
back_to_stderr(void)
{
	assert_int_equal(log_open(logfile), 0);
	log_notice(NULL, "to the file");
	assert_int_equal(log_open("stderr"), 0);
	assert_null(log_path());
	assert_int_equal(log_reopen(), 1);
	log_notice(NULL, "to stderr");
	assert_int_equal(log_open(logfile), 0);
	log_notice(NULL, "to the file again");
	assert_int_equal(log_open(NULL), 0);
	log_notice(NULL, "to stderr again");
}

static void
test_stderr(void **state)
{
	char err[PATH_MAX], *text;

	(void)state;
	in_dir(logfile, "error.log");
	in_dir(err, "stderr");
	log_started();
	with_stderr(err, back_to_stderr);
	text = slurp(logfile);
	assert_int_equal(count_lines(text), 2);
	assert_non_null(strstr(text, "notice: to the file\n"));
	assert_non_null(strstr(text, "notice: to the file again\n"));
	text = slurp(err);
	assert_int_equal(count_lines(text), 2);
	assert_non_null(strstr(text, "notice: to stderr\n"));
	assert_non_null(strstr(text, "notice: to stderr again\n"));
}

static void
starting_lines(void)
{
	assert_int_equal(log_open(logfile), 0);
	log_err(NULL, "early error");
	log_warn(NULL, "early warning");
	log_notice(NULL, "early notice");
	log_started();
	log_err(NULL, "later error");
}

/* Run first: log.c starts in its start-up state. */
static void
test_starting(void **state)
{
	char err[PATH_MAX], *text;

	(void)state;
	in_dir(logfile, "error.log");
	in_dir(err, "stderr");
	with_stderr(err, starting_lines);
	text = slurp(logfile);
	assert_int_equal(count_lines(text), 4);
	text = slurp(err);
	assert_int_equal(count_lines(text), 2);
	assert_non_null(strstr(text, "error: early error\n"));
	assert_non_null(strstr(text, "warn: early warning\n"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_starting, setup, teardown),
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stderr, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
