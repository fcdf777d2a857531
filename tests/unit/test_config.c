/*
 * test_config.c: the configuration file: values and units, every error
 * reported as file:line: reason, and inheritance between route sections.
 * The directive table is walked whole: names, bits, every route key
 * inherited and kept, every bound refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cgigate.h"

static void
test_units(void **state)
{
	(void)state;
	assert_int_equal(config_duration("2"), 2000000);
	assert_int_equal(config_duration("2s"), 2000000);
	assert_int_equal(config_duration("500ms"), 500000);
	assert_int_equal(config_duration("1.5s"), 1500000);
	assert_int_equal(config_duration("3m"), 180000000);
	assert_int_equal(config_duration("0"), 0);
	assert_true(config_duration("") < 0);
	assert_true(config_duration("s") < 0);
	assert_true(config_duration("-1") < 0);
	assert_int_equal(config_duration("2h"), 7200000000LL);
	assert_int_equal(config_duration("7d"), 604800000000LL);
	assert_true(config_duration("5w") < 0);
	assert_true(config_duration("5 s") < 0);
	assert_int_equal(config_size("100"), 100);
	assert_int_equal(config_size("4K"), 4096);
	assert_int_equal(config_size("10M"), 10485760);
	assert_int_equal(config_size("2G"), 2147483648LL);
	assert_true(config_size("5Q") < 0);
	assert_true(config_size("-5") < 0);
	assert_true(config_size("") < 0);
	/* Decimal only: nothing else strtod or base 0 would take. */
	assert_true(config_duration("0x10") < 0);
	assert_true(config_duration("0x10s") < 0);
	assert_true(config_duration("1e3") < 0);
	assert_true(config_duration("1e3ms") < 0);
	assert_true(config_duration("1.") < 0);
	assert_true(config_duration("1.s") < 0);
	assert_true(config_duration("1.5e2s") < 0);
	assert_true(config_duration("0xAp0") < 0);
	assert_int_equal(config_duration("0.25s"), 250000);
	assert_int_equal(config_duration("010s"), 10000000);
	assert_true(config_size("0x10") < 0);
	assert_true(config_size("1e3") < 0);
	assert_true(config_size("1.5K") < 0);
	assert_int_equal(config_size("010K"), 10240);
}

static void
test_defaults(void **state)
{
	struct config c;
	const struct route_conf *r;
	long ncpu;

	(void)state;
	assert_int_equal(config_init(&c), 0);
	config_finish(&c);
	assert_int_equal(c.nlisten, 1);
	assert_string_equal(c.listen[0], "127.0.0.1:8080");
	assert_string_equal(c.handlers, "./handlers");
	assert_string_equal(c.www, "./www");
	assert_string_equal(c.timings, "./var/timings.db");
	r = config_route(&c, "/anything");
	assert_int_equal(r->timeout_us, 30000000);
	/* 4 per online CPU, 256 at most (past 64 CPUs) */
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	assert_int_equal(r->max_concurrency, ncpu < 1 ? 4 : ncpu > 64 ? 256 :
	    4 * (int)ncpu);
	assert_true(r->max_concurrency >= 4 && r->max_concurrency <= 256);
	assert_int_equal(r->max_queue_wait_us, 5000000);
	assert_int_equal(r->max_body, 10485760);
	assert_int_equal(r->internal_redirect, 0);
	assert_int_equal(r->request_buffering, 1);
	assert_int_equal(c.header_timeout_us, 10000000);
	assert_int_equal(c.keepalive_timeout_us, 15000000);
	assert_int_equal(c.body_timeout_us, 30000000);
	assert_int_equal(c.max_connections, 16384);
	assert_int_equal(c.max_client_connections, 0);
	assert_int_equal(c.timings_wal_max, 64 << 20);
	assert_int_equal(r->rlim[RL_CPU], RLIM_INFINITY);
	assert_int_equal(r->fcgi.min_workers, 1);
	assert_int_equal(r->fcgi.max_workers, 4);
	assert_int_equal(r->fcgi.nbackends, 0);
	config_free(&c);
}

static const char good[] =
    "# a comment\n"
    "; another\n"
    "[server]\n"
    "listen = 127.0.0.1:9000\n"
    "listen = 127.0.0.2:9001\n"
    "handlers = /srv/h\n"
    "www = /srv/www\n"
    "timings = /var/lib/t.db\n"
    "path = /opt/bin:/bin\n"
    "threads = 8\n"
    "header_timeout = 2s\n"
    "keepalive_timeout = 500ms\n"
    "body_timeout = 1m\n"
    "max_connections = 100\n"
    "max_client_connections = 7\n"
    "drain_timeout = 3s\n"
    "stderr_limit = 1K\n"
    "timings_queue = 128\n"
    "timings_max_age = 30d\n"
    "timings_max_rows = 1000000\n"
    "timings_wal_max = 2M\n"
    "\n"
    "[route /]\n"
    "timeout = 10s\n"
    "env = SITE=main\n"
    "\n"
    "[route /reports]\n"
    "timeout = 2s\n"
    "max_concurrency = 4\n"
    "max_queue_wait = 500ms\n"
    "max_body = 1M\n"
    "internal_redirect = yes\n"
    "request_buffering = no\n"
    "env = DB=/srv/db\n"
    "rlimit_cpu = 5\n"
    "rlimit_as = 256M\n"
    "rlimit_nproc = 10\n"
    "rlimit_nofile = unlimited\n"
    "\n"
    "[route /reports/daily]\n"
    "max_body = 2K\n"
    "env = DB=/srv/daily\n"
    "\n"
    "[route /php]\n"
    "fastcgi = tcp:127.0.0.1:9000 , unix:/run/php.sock\n"
    "document_root = /srv/php\n"
    "script_suffix = .php , .phtml\n"
    "max_connections = 2\n"
    "[route /php/legacy]\n"
    "timeout = 1s\n"
    "[route /tree]\n"
    "document_root = /srv/tree/\n"
    "[route /tree/cgi]\n"
    "script_suffix = .cgi\n"
    "[route /pool]\n"
    "mode = fastcgi\n"
    "min_workers = 9\n"
    "max_workers = 3\n"
    "idle_timeout = 1m\n"
    "max_requests = 100\n"
    "start_timeout = 2s\n";

static const char *
env_of(const struct route_conf *r, const char *name)
{
	size_t n = strlen(name);
	int i;

	for (i = 0; i < r->nenv; i++)
		if (strncmp(r->env[i], name, n) == 0 && r->env[i][n] == '=')
			return r->env[i] + n + 1;
	return NULL;
}

static void
test_good_file(void **state)
{
	struct config c;
	const struct route_conf *r;
	char err[256] = "";

	(void)state;
	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_parse(&c, good, "good.conf", err, sizeof(err)),
	    0);
	config_finish(&c);
	assert_int_equal(c.nlisten, 2);
	assert_string_equal(c.listen[1], "127.0.0.2:9001");
	assert_string_equal(c.handlers, "/srv/h");
	assert_string_equal(c.www, "/srv/www");
	assert_string_equal(c.timings, "/var/lib/t.db");
	assert_string_equal(c.path_env, "/opt/bin:/bin");
	assert_int_equal(c.threads, 8);
	assert_int_equal(c.header_timeout_us, 2000000);
	assert_int_equal(c.keepalive_timeout_us, 500000);
	assert_int_equal(c.body_timeout_us, 60000000);
	assert_int_equal(c.max_connections, 100);
	assert_int_equal(c.max_client_connections, 7);
	assert_int_equal(c.drain_us, 3000000);
	assert_int_equal(c.stderr_cap, 1024);
	assert_int_equal(c.timings_queue, 128);
	assert_int_equal(c.timings_max_age_us, 30 * 86400000000LL);
	assert_int_equal(c.timings_max_rows, 1000000);
	assert_int_equal(c.timings_wal_max, 2 << 20);

	r = config_route(&c, "/reports/daily/x");
	assert_string_equal(r->prefix, "/reports/daily");
	assert_int_equal(r->max_body, 2048);		/* its own */
	assert_int_equal(r->timeout_us, 2000000);	/* from /reports */
	assert_int_equal(r->max_concurrency, 4);
	assert_int_equal(r->internal_redirect, 1);
	assert_int_equal(r->request_buffering, 0);	/* from /reports */
	assert_int_equal(r->rlim[RL_CPU], 5);
	assert_int_equal(r->rlim[RL_AS], 256 << 20);
	assert_int_equal(r->rlim[RL_NOFILE], RLIM_INFINITY);
	assert_string_equal(env_of(r, "DB"), "/srv/daily");	/* overridden */
	assert_string_equal(env_of(r, "SITE"), "main");		/* inherited */

	r = config_route(&c, "/reports");
	assert_string_equal(env_of(r, "DB"), "/srv/db");
	assert_int_equal(config_route(&c, "/other")->request_buffering, 1);
	r = config_route(&c, "/reportsx");	/* not a segment boundary */
	assert_string_equal(r->prefix, "/");
	assert_int_equal(r->timeout_us, 10000000);
	assert_int_equal(r->max_body, 10485760);

	r = config_route(&c, "/php/app/index.php");
	assert_int_equal(r->fcgi.nbackends, 2);
	assert_string_equal(r->fcgi.backends[0], "tcp:127.0.0.1:9000");
	assert_string_equal(r->fcgi.backends[1], "unix:/run/php.sock");
	assert_string_equal(r->fcgi.document_root, "/srv/php");
	assert_int_equal(r->fcgi.nsuffixes, 2);
	assert_string_equal(r->fcgi.suffixes[0], ".php");
	assert_string_equal(r->fcgi.suffixes[1], ".phtml");
	assert_int_equal(r->fcgi.max_connections, 2);
	assert_ptr_equal(config_remote(&c, "/php/x.php"), r);
	r = config_route(&c, "/php/legacy");	/* inherits the split */
	assert_string_equal(r->fcgi.document_root, "/srv/php");
	assert_int_equal(r->fcgi.nsuffixes, 2);
	assert_string_equal(r->fcgi.suffixes[1], ".phtml");
	r = config_route(&c, "/tree");	/* a local pool's tree */
	assert_string_equal(r->fcgi.document_root, "/srv/tree/");
	assert_int_equal(r->fcgi.nsuffixes, 0);
	r = config_route(&c, "/tree/cgi/x.cgi");
	assert_string_equal(r->fcgi.document_root, "/srv/tree/");
	assert_int_equal(r->fcgi.nsuffixes, 1);
	assert_string_equal(r->fcgi.suffixes[0], ".cgi");
	assert_int_equal(config_check(&c, err, sizeof(err)), 0);
	assert_null(config_remote(&c, "/phpx"));
	assert_null(config_remote(&c, "/reports"));

	r = config_route(&c, "/pool");
	assert_int_equal(r->mode, MODE_FASTCGI);
	assert_int_equal(r->fcgi.max_workers, 3);
	assert_int_equal(r->fcgi.min_workers, 3);	/* capped at max */
	assert_int_equal(r->fcgi.idle_us, 60000000);
	assert_int_equal(r->fcgi.max_requests, 100);
	assert_int_equal(r->fcgi.start_us, 2000000);
	config_free(&c);
}

/* Parse text; it must fail with "f.conf:LINE: " and the reason. */
static void
bad(const char *text, int line, const char *reason)
{
	struct config c;
	char err[256] = "", want[32];

	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_parse(&c, text, "f.conf", err, sizeof(err)),
	    -1);
	snprintf(want, sizeof(want), "f.conf:%d: ", line);
	if (strncmp(err, want, strlen(want)) != 0 ||
	    strstr(err, reason) == NULL)
		fail_msg("'%s': got '%s', want '%s...%s'", text, err, want,
		    reason);
	config_free(&c);
}

static void
test_bad_lines(void **state)
{
	(void)state;
	bad("listen = 1:2\n", 1, "outside");
	bad("[server]\nlisten\n", 2, "");
	bad("[server]\nbogus = 1\n", 2, "unknown directive");
	bad("[server]\nlisten = noport\n", 2, "ADDR:PORT");
	bad("[server]\nthreads = 1\n", 2, "threads");
	bad("[server]\nthreads = many\n", 2, "threads");
	bad("[server]\ndrain_timeout = soon\n", 2, "bad duration");
	bad("[server]\nheader_timeout = 0\n", 2, "bad duration");
	bad("[server]\nbody_timeout = forever\n", 2, "bad duration");
	bad("[server]\nmax_connections = 15\n", 2, "max_connections");
	bad("[server]\nmax_client_connections = -1\n", 2,
	    "max_client_connections");
	bad("[route /a]\nrequest_buffering = sometimes\n", 2, "yes or no");
	bad("[server]\nstderr_limit = 5Q\n", 2, "bad size");
	bad("[server]\ntimings_max_age = 1y\n", 2, "bad duration");
	bad("[server]\ntimings_max_rows = -1\n", 2, "timings_max_rows");
	bad("[server]\ntimings_wal_max = 255K\n", 2, "timings_wal_max");
	bad("[nonsense]\n", 1, "");
	bad("[route]\n", 1, "");
	bad("[route relative]\n", 1, "");
	bad("[route /a/../b]\n", 1, "");
	bad("[route /a/]\n", 1, "");
	bad("[server\n", 1, "");
	bad("\n\n[route /a]\ntimeout = 0\n", 4, "bad duration");
	bad("[route /a]\nmax_concurrency = 0\n", 2, "max_concurrency");
	bad("[route /a]\nmax_queue_wait = x\n", 2, "bad duration");
	bad("[route /a]\nmax_body = -1\n", 2, "bad size");
	bad("[route /a]\ninternal_redirect = maybe\n", 2, "yes or no");
	bad("[route /a]\nmode = magic\n", 2, "cgi or fastcgi");
	bad("[route /a]\nenv = NOEQUALS\n", 2, "NAME=value");
	bad("[route /a]\nenv = BAD-NAME=1\n", 2, "letters");
	bad("[route /a]\nrlimit_cpu = -3\n", 2, "duration");
	bad("[route /a]\nrlimit_nproc = lots\n", 2, "positive");
	bad("[route /a]\nwhatever = 1\n", 2, "unknown directive");
	bad("[route /a]\nfastcgi = http://x\n", 2, "tcp:HOST:PORT");
	bad("[route /a]\nfastcgi = tcp:host\n", 2, "tcp:HOST:PORT");
	bad("[route /a]\nfastcgi = tcp:h:99999\n", 2, "tcp:HOST:PORT");
	bad("[route /a]\nfastcgi = unix:relative\n", 2, "tcp:HOST:PORT");
	bad("[route /a]\nfastcgi = tcp:h:1\nfastcgi = tcp:h:2\n", 3, "twice");
	bad("[route /a]\ndocument_root = rel\n", 2, "absolute");
	bad("[route /a]\nscript_suffix = php\n", 2,
	    "script_suffix: a suffix is a dot and a name");
	bad("[route /a]\nscript_suffix = .\n", 2, "script_suffix: ");
	bad("[route /a]\nscript_suffix = .php, x\n", 2, "script_suffix: ");
	bad("[route /a]\nscript_suffix = .p/hp\n", 2,
	    "script_suffix: a suffix cannot hold /");
	bad("[route /a]\nscript_suffix = .p hp\n", 2, "script_suffix: ");
	bad("[route /a]\nscript_suffix = .p%2fhp\n", 2, "script_suffix: ");
	bad("[route /a]\nscript_suffix = , ,\n", 2,
	    "script_suffix: a suffix is a dot and a name");
	bad("[route /a]\nscript_suffix = ,\n", 2,
	    "script_suffix: wants suffixes like .php");
	bad("[route /a]\nscript_suffix = .a,.b,.c,.d,.e,.f,.g,.h,.i\n", 2,
	    "script_suffix: at most 8");
	bad("[route /a]\nscript_suffix = .php\nscript_suffix = .cgi\n", 3,
	    "script_suffix: given twice");
	bad("[route /a]\nmax_workers = 0\n", 2, "max_workers");
	bad("[route /a]\nmax_connections = 0\n", 2, "max_connections");
	bad("[server]\nheader_timeout = 0x10\n", 2, "bad duration");
	bad("[route /a]\ntimeout = 1e3\n", 2, "bad duration");
	bad("[route /a]\nmax_body = 0x10\n", 2, "bad size");
	/* A listen address must parse: numeric, a port in range. */
	bad("[server]\nlisten = 127.0.0.1:99999\n", 2,
	    "listen: the port must be a number from 0 to 65535");
	bad("[server]\nlisten = 127.0.0.1:-1\n", 2, "listen: the port");
	bad("[server]\nlisten = 127.0.0.1:\n", 2, "listen: the port");
	bad("[server]\nlisten = 127.0.0.1:0x50\n", 2, "listen: the port");
	bad("[server]\nlisten = 300.1.2.3:80\n", 2,
	    "listen: not a numeric IPv4 address");
	bad("[server]\nlisten = localhost:80\n", 2, "listen: not a numeric");
	bad("[server]\nlisten = ::1:80\n", 2, "listen: not a numeric IPv4");
	bad("[server]\nlisten = [::1:80\n", 2, "listen: an IPv6 address");
	bad("[server]\nlisten = [1.2.3.4]:80\n", 2,
	    "listen: not a numeric IPv6");
	/* agent_listen: as listen, but a real port, in [server] once. */
	bad("[server]\nagent_listen = 127.0.0.1:0\n", 2,
	    "agent_listen wants ADDR:PORT");
	bad("[server]\nagent_listen = 127.0.0.1:65536\n", 2,
	    "agent_listen wants ADDR:PORT");
	bad("[server]\nagent_listen = 127.0.0.1\n", 2, "agent_listen wants");
	bad("[server]\nagent_listen = localhost:8081\n", 2,
	    "agent_listen wants");
	bad("[server]\nagent_listen = ::1:8081\n", 2, "agent_listen wants");
	bad("[server]\nagent_listen = yes\n", 2, "agent_listen wants");
	bad("[route /a]\nagent_listen = 127.0.0.1:1\n", 2,
	    "unknown directive in [route]");
	bad("[server]\nagent_listen = 127.0.0.1:1\nagent_listen = off\n", 3,
	    "agent_listen: given twice in [server] (first at line 2)");
	/* A section or a key once; list keys repeat. */
	bad("[route /x]\ntimeout = 1s\n[route /y]\n[route /x]\n", 4,
	    "[route /x] given twice (first at line 1)");
	bad("[server]\nthreads = 4\n[server]\n", 3,
	    "[server] given twice (first at line 1)");
	bad("[server]\nthreads = 4\nthreads = 8\n", 3,
	    "threads: given twice in [server] (first at line 2)");
	bad("[route /a]\ntimeout = 1s\n\ntimeout = 2s\n", 4,
	    "timeout: given twice in [route /a] (first at line 2)");
	bad("[route /a]\nmode = cgi\n[route /b]\nmode = cgi\n"
	    "mode = fastcgi\n", 5, "first at line 4");
}

static void
count_msg(void *arg, const char *msg)
{
	(void)msg;
	(*(int *)arg)++;
}

/* Set once per section, a key is fine in the next one. */
static void
test_once(void **state)
{
	struct config c;
	char err[256] = "";
	int n = 0;

	(void)state;
	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_parse(&c, "[server]\nlisten = 127.0.0.1:1\n"
	    "listen = [::1]:2\nadmin_allow = ::1\nadmin_allow = 10.0.0.0/8\n"
	    "user = nobody\n[route /a]\ntimeout = 1s\nenv = A=1\nenv = B=2\n"
	    "[route /b]\ntimeout = 2s\n", "f.conf", err, sizeof(err)), 0);
	assert_int_equal(c.nlisten, 2);
	assert_int_equal(c.listen_line[0], 2);
	assert_int_equal(c.listen_line[1], 3);
	assert_int_equal(c.user_line, 6);
	assert_int_equal(c.nadmin_allow, 2);
	config_free(&c);

	/* --check's parse reports every bad line and goes on. */
	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_parse_all(&c, "[server]\nthreads = 0\n"
	    "threads = 4\nlisten = 1.2.3.4:70000\n[route /a]\ntimeout = 0x1\n"
	    "[route /a]\ntimeout = 1s\n[nope]\nmode = cgi\n[route /b]\n"
	    "mode = cgi\nmode = cgi\n", "f.conf", count_msg, &n), 6);
	assert_int_equal(n, 6);
	config_free(&c);
}

/* Parses, but config_check refuses it: "f.conf:LINE: key: reason". */
static void
bad_check(const char *text, int line, const char *reason)
{
	struct config c;
	char err[256] = "", want[32];

	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_parse(&c, text, "f.conf", err, sizeof(err)),
	    0);
	assert_int_equal(config_set(&c.file, "f.conf"), 0);
	config_finish(&c);
	assert_int_equal(config_check(&c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "f.conf:%d: ", line);
	if (strncmp(err, want, strlen(want)) != 0 ||
	    strstr(err, reason) == NULL)
		fail_msg("'%s': got '%s', want '%s...%s'", text, err, want,
		    reason);
	config_free(&c);
}

static void
good_check(const char *text)
{
	struct config c;
	char err[256] = "";

	assert_int_equal(config_init(&c), 0);
	assert_int_equal(config_parse(&c, text, "f.conf", err, sizeof(err)),
	    0);
	config_finish(&c);
	if (config_check(&c, err, sizeof(err)) != 0)
		fail_msg("'%s': %s", text, err);
	config_free(&c);
}

static void
test_check(void **state)
{
	(void)state;
	/* A CGI handler's DOCUMENT_ROOT is www: document_root is a mistake. */
	bad_check("[route /c]\nmode = cgi\ndocument_root = /srv\n", 3,
	    "document_root: applies to FastCGI routes only");
	bad_check("[route /]\nmode = cgi\n\n[route /c]\n"
	    "document_root = /srv\n", 5, "document_root: applies to FastCGI");
	bad_check("[route /c]\nmode = cgi\ndocument_root = /srv\n"
	    "script_suffix = .php\n", 3, "document_root: ");
	bad_check("[route /c]\nscript_suffix = .php\nmode = cgi\n", 2,
	    "script_suffix: applies to FastCGI routes only");
	bad_check("[route /c]\nscript_suffix = .php\n", 2,
	    "script_suffix: needs a document_root");
	bad_check("[route /a]\ndocument_root = /srv\n[route /b]\n"
	    "script_suffix = .php\n", 4, "script_suffix: needs a document_root");
	/* The agent check needs a port of its own. */
	bad_check("[server]\nlisten = 127.0.0.1:9000\n\nagent_listen = "
	    "127.0.0.1:9000\n", 4, "agent_listen: port 9000 is a listen port "
	    "too (listen 127.0.0.1:9000)");
	bad_check("[server]\nlisten = 127.0.0.1:9000\nlisten = [::1]:8081\n"
	    "agent_listen = 10.0.0.1:8081\n", 4, "(listen [::1]:8081)");
	bad_check("[server]\nagent_listen = 127.0.0.1:8080\n", 2,
	    "(listen 127.0.0.1:8080)");	/* the default listen */
	good_check("[server]\nagent_listen = [::1]:8081\n");
	good_check("[server]\nlisten = 127.0.0.1:18080\n"
	    "agent_listen = 127.0.0.1:8080\n");
	/* Inherited, or on a remote route, they apply. */
	good_check("[route /c]\ndocument_root = /srv\n[route /c/x]\n"
	    "mode = cgi\n");
	good_check("[route /c]\nmode = cgi\nfastcgi = tcp:h:1\n"
	    "document_root = /srv\nscript_suffix = .php\n");
	good_check("[route /]\ndocument_root = /srv\n[route /c]\n"
	    "script_suffix = .php\n");
	good_check("[route /c]\nmode = fastcgi\ndocument_root = /srv\n");
}

/* The table's own shape: what the parser and config_finish rely on. */
static void
test_table(void **state)
{
	const struct config_key *k, *o;
	unsigned bits = 0;
	size_t i, j, n = 0;
	const char *s;

	(void)state;
	for (i = 0; (k = config_key_at(i)) != NULL; i++, n++) {
		assert_non_null(k->name);
		assert_true(k->name[0] != '\0');
		for (s = k->name; *s != '\0'; s++)
			if ((*s < 'a' || *s > 'z') && *s != '_')
				fail_msg("%s: not a lower-case name", k->name);
		assert_true(k->scope == CS_SERVER || k->scope == CS_ROUTE);
		if (strcmp(config_type_name(k->type), "?") == 0)
			fail_msg("%s: type %d has no name", k->name, k->type);
		/* A name once per section. */
		for (j = 0; j < i; j++) {
			o = config_key_at(j);
			if (o->scope == k->scope &&
			    strcmp(o->name, k->name) == 0)
				fail_msg("%s: twice in [%s]", k->name,
				    config_scope_name(k->scope));
		}
		assert_true(k->size > 0);
		if (k->scope == CS_SERVER) {
			if (k->bit != 0 || k->lineoff != 0)
				fail_msg("%s: a [server] key with a route bit",
				    k->name);
			assert_true(k->off + k->size <= sizeof(struct config));
		} else {
			/* One bit of its own, or inheritance cannot tell. */
			if (k->bit == 0 || (k->bit & (k->bit - 1)) != 0 ||
			    (bits & k->bit) != 0)
				fail_msg("%s: bit %#x not one bit of its own",
				    k->name, k->bit);
			bits |= k->bit;
			assert_true(k->off + k->size <=
			    sizeof(struct route_conf));
		}
		switch (k->type) {
		case CT_INT:
		case CT_DURATION:
		case CT_SIZE:
		case CT_BOOL:
		case CT_ENUM:
			if (k->size != sizeof(int) &&
			    k->size != sizeof(int64_t))
				fail_msg("%s: size %zu", k->name, k->size);
			/* FALLTHROUGH */
		case CT_RLIMIT:
		case CT_ABSPATH:
			if (k->why == NULL)
				fail_msg("%s: no refusal message", k->name);
			assert_true(k->min <= k->max);
			break;
		case CT_LIST:
		case CT_CIDRS:
		case CT_ENV:
			if (k->set == NULL)
				fail_msg("%s: no setter", k->name);
			break;
		default:
			break;
		}
		if (k->type == CT_ENUM)
			assert_non_null(k->choices);
		if (k->type == CT_RLIMIT)
			assert_true(k->unit == CT_INT ||
			    k->unit == CT_DURATION || k->unit == CT_SIZE);
		if ((k->type == CT_DURATION || k->type == CT_SIZE ||
		    k->type == CT_RLIMIT) && k->min < 0)
			fail_msg("%s: min below 0", k->name);
	}
	assert_true(n >= 40);
	assert_string_equal(config_scope_name(CS_SERVER), "server");
	assert_string_equal(config_scope_name(CS_ROUTE), "route");
}

/*
 * Two values for every route key: a differs from the built-in and b
 * from a.  A route key missing here fails test_inherit_each.
 */
static const struct {
	const char	*name, *a, *b;
} samples[] = {
	{ "env", "X=1", "X=2" },
	{ "internal_redirect", "yes", "no" },
	{ "max_body", "1K", "2K" },
	{ "max_concurrency", "2", "3" },
	{ "max_queue_wait", "1s", "2s" },
	{ "mode", "cgi", "fastcgi" },
	{ "request_buffering", "no", "yes" },
	{ "rlimit_as", "1M", "2M" },
	{ "rlimit_cpu", "5", "7" },
	{ "rlimit_nofile", "100", "200" },
	{ "rlimit_nproc", "10", "20" },
	{ "timeout", "1s", "2s" },
	{ "idle_timeout", "1s", "2s" },
	{ "max_requests", "10", "20" },
	{ "max_workers", "2", "3" },
	{ "min_workers", "0", "2" },
	{ "start_timeout", "3s", "4s" },
	{ "document_root", "/a", "/b" },
	{ "script_suffix", ".php", ".cgi, .pl" },
	{ "fastcgi", "tcp:h:1", "unix:/x, tcp:h:2" },
	{ "max_connections", "2", "3" },
};

/* Do routes x and y hold the same value for k? */
static int
same(const struct config_key *k, const struct route_conf *x,
    const struct route_conf *y)
{
	const char *px = (const char *)x + k->off;
	const char *py = (const char *)y + k->off;
	char *const *lx = (char *const *)(const void *)px;
	char *const *ly = (char *const *)(const void *)py;
	int i, nx, ny;

	switch (k->type) {
	case CT_STRING:
	case CT_ABSPATH:
		if (*lx == NULL || *ly == NULL)
			return *lx == *ly;
		return strcmp(*lx, *ly) == 0;
	case CT_LIST:
	case CT_ENV:
		memcpy(&nx, (const char *)x + k->noff, sizeof(nx));
		memcpy(&ny, (const char *)y + k->noff, sizeof(ny));
		if (nx != ny)
			return 0;
		for (i = 0; i < nx; i++)
			if (strcmp(lx[i], ly[i]) != 0)
				return 0;
		return 1;
	default:
		return memcmp(px, py, k->size) == 0;
	}
}

/* Parse and resolve text, which must be good. */
static void
load(struct config *c, const char *text)
{
	char err[256] = "";

	assert_int_equal(config_init(c), 0);
	if (config_parse(c, text, "f.conf", err, sizeof(err)) != 0)
		fail_msg("'%s': %s", text, err);
	config_finish(c);
}

/* The section of c at prefix (not merely one covering it). */
static const struct route_conf *
section(const struct config *c, const char *prefix)
{
	const struct route_conf *r = config_route(c, prefix);

	assert_string_equal(r->prefix, prefix);
	return r;
}

/*
 * Every route key of the table: set in [route /], a subsection takes it;
 * set in the subsection too, the subsection keeps its own.
 */
static void
test_inherit_each(void **state)
{
	const struct config_key *k;
	struct config c, ref, none;
	const struct route_conf *top, *sub;
	char text[512];
	size_t i, j, nroute = 0;

	(void)state;
	for (i = 0; (k = config_key_at(i)) != NULL; i++) {
		if (k->scope != CS_ROUTE)
			continue;
		nroute++;
		for (j = 0; j < sizeof(samples) / sizeof(samples[0]); j++)
			if (strcmp(samples[j].name, k->name) == 0)
				break;
		if (j == sizeof(samples) / sizeof(samples[0]))
			fail_msg("%s: no sample values in test_config.c",
			    k->name);

		/* Nothing set: the built-ins, which a must change. */
		load(&none, "[route /s]\n");

		snprintf(text, sizeof(text), "[route /]\n%s = %s\n"
		    "[route /s]\n", k->name, samples[j].a);
		load(&c, text);
		top = section(&c, "/");
		sub = section(&c, "/s");
		if (!(top->set & k->bit) || (sub->set & k->bit))
			fail_msg("%s: set bits %#x, %#x", k->name, top->set,
			    sub->set);
		if (same(k, top, section(&none, "/s")))
			fail_msg("%s = %s: the built-in value", k->name,
			    samples[j].a);
		if (!same(k, sub, top))
			fail_msg("%s: [route /s] did not inherit it",
			    k->name);
		config_free(&c);

		snprintf(text, sizeof(text), "[route /]\n%s = %s\n"
		    "[route /s]\n%s = %s\n", k->name, samples[j].a, k->name,
		    samples[j].b);
		load(&c, text);
		snprintf(text, sizeof(text), "[route /s]\n%s = %s\n",
		    k->name, samples[j].b);
		load(&ref, text);
		top = section(&c, "/");
		sub = section(&c, "/s");
		if (!(sub->set & k->bit))
			fail_msg("%s: [route /s] set it, no bit", k->name);
		if (same(k, sub, top))
			fail_msg("%s: [route /s] took / over its own",
			    k->name);
		if (!same(k, sub, section(&ref, "/s")))
			fail_msg("%s: [route /s] did not keep its own",
			    k->name);
		config_free(&ref);
		config_free(&c);
		config_free(&none);
	}
	assert_int_equal(nroute, sizeof(samples) / sizeof(samples[0]));
}

/* Parse text; it must fail with exactly "f.conf:LINE: why". */
static void
refused(const char *text, int line, const char *why)
{
	struct config c;
	char err[256] = "", want[256];

	assert_int_equal(config_init(&c), 0);
	if (config_parse(&c, text, "f.conf", err, sizeof(err)) != -1)
		fail_msg("'%s': accepted, want '%s'", text, why);
	snprintf(want, sizeof(want), "f.conf:%d: %s", line, why);
	if (strcmp(err, want) != 0)
		fail_msg("'%s': got '%s', want '%s'", text, err, want);
	config_free(&c);
}

/* v as unit writes it: a count, microseconds as seconds, bytes. */
static void
spell(enum config_type unit, long long v, char *buf, size_t len)
{
	if (v < 0)
		snprintf(buf, len, "%lld", v);
	else if (unit == CT_DURATION)
		snprintf(buf, len, "%lld.%06lld", v / 1000000, v % 1000000);
	else
		snprintf(buf, len, "%lld", v);
}

/*
 * Every bounded key takes its bounds and refuses one past them with
 * "file:line: " and its message; the other typed keys refuse a value
 * that is not one.
 */
static void
test_bounds_each(void **state)
{
	const struct config_key *k;
	enum config_type unit;
	struct config c;
	const char *head, *s;
	char text[512], v[64];
	long long got, want;
	rlim_t rl;
	int32_t i32;
	int64_t i64;
	size_t i, nbound = 0;

	(void)state;
	for (i = 0; (k = config_key_at(i)) != NULL; i++) {
		head = k->scope == CS_SERVER ? "# bounds\n[server]\n" :
		    "# bounds\n[route /a]\n";
		switch (k->type) {
		case CT_BOOL:
		case CT_ENUM:
		case CT_ABSPATH:
			snprintf(text, sizeof(text), "%s%s = maybe\n", head,
			    k->name);
			refused(text, 3, k->why);
			continue;
		case CT_INT:
		case CT_DURATION:
		case CT_SIZE:
		case CT_RLIMIT:
			break;
		default:
			continue;
		}
		nbound++;
		unit = k->type == CT_RLIMIT ? k->unit : k->type;
		/* A message that states the bounds states these. */
		if ((s = strstr(k->why, " from ")) != NULL &&
		    (sscanf(s, " from %lld to %lld", &got, &want) != 2 ||
		    got != k->min || want != k->max))
			fail_msg("%s: '%s' against %lld..%lld", k->name,
			    k->why, k->min, k->max);
		if (k->min > LLONG_MIN) {
			spell(unit, k->min - 1, v, sizeof(v));
			snprintf(text, sizeof(text), "%s%s = %s\n", head,
			    k->name, v);
			refused(text, 3, k->why);
		}
		if (k->max < LLONG_MAX) {
			spell(unit, k->max + 1, v, sizeof(v));
			snprintf(text, sizeof(text), "%s%s = %s\n", head,
			    k->name, v);
			refused(text, 3, k->why);
		}
		/* The bounds themselves are taken, as written. */
		spell(unit, k->min, v, sizeof(v));
		snprintf(text, sizeof(text), "%s%s = %s\n", head, k->name, v);
		load(&c, text);
		if (k->scope == CS_SERVER)
			memcpy(k->size == 4 ? (void *)&i32 : (void *)&i64,
			    (const char *)&c + k->off, k->size);
		else
			memcpy(k->type == CT_RLIMIT ? (void *)&rl :
			    k->size == 4 ? (void *)&i32 : (void *)&i64,
			    (const char *)section(&c, "/a") + k->off, k->size);
		if (k->type == CT_RLIMIT) {
			got = (long long)rl;
			want = unit == CT_DURATION ?
			    (k->min + 999999) / 1000000 : k->min;
		} else {
			got = k->size == 4 ? i32 : i64;
			want = k->min;
		}
		if (got != want)
			fail_msg("%s = %s: got %lld", k->name, v, got);
		config_free(&c);
		if (k->type == CT_INT && k->max < LLONG_MAX) {
			snprintf(text, sizeof(text), "%s%s = %lld\n", head,
			    k->name, k->max);
			load(&c, text);
			config_free(&c);
		}
		if (k->type == CT_RLIMIT) {
			snprintf(text, sizeof(text), "%s%s = unlimited\n", head,
			    k->name);
			load(&c, text);
			config_free(&c);
		}
	}
	assert_true(nbound >= 25);
}

/*
 * error_log and log_level: stderr and info by default (what cgigate did
 * before either existed); a path is kept with its line; each level by
 * name, in severity order; anything else refused by line.
 */
static void
test_log_directives(void **state)
{
	static const char *names[] = {
		"error", "warn", "notice", "info", "debug"
	};
	struct config c;
	char text[256];
	size_t i;

	(void)state;
	load(&c, "[server]\n");
	assert_null(c.error_log);
	assert_int_equal(c.error_log_line, 0);
	assert_int_equal(c.log_level, LL_INFO);
	config_free(&c);
	load(&c, "[server]\nthreads = 4\nerror_log = /var/log/cg.log\n");
	assert_string_equal(c.error_log, "/var/log/cg.log");
	assert_int_equal(c.error_log_line, 3);
	config_free(&c);
	load(&c, "[server]\nerror_log = stderr\n");
	assert_string_equal(c.error_log, "stderr");
	config_free(&c);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(text, sizeof(text), "[server]\nlog_level = %s\n",
		    names[i]);
		load(&c, text);
		assert_int_equal(c.log_level, LL_ERROR + (int)i);
		assert_int_equal(config_log_level(names[i]),
		    LL_ERROR + (int)i);
		config_free(&c);
	}
	assert_true(LL_ERROR < LL_WARN && LL_WARN < LL_NOTICE &&
	    LL_NOTICE < LL_INFO && LL_INFO < LL_DEBUG);
	assert_int_equal(config_log_level("verbose"), -1);
	assert_int_equal(config_log_level("Warn"), -1);
	assert_int_equal(config_log_level(""), -1);
	refused("[server]\nlog_level = verbose\n", 2,
	    "log_level wants error, warn, notice, info or debug");
	refused("[server]\nlog_level = warning\n", 2,
	    "log_level wants error, warn, notice, info or debug");
	refused("[route /a]\nlog_level = debug\n", 2,
	    "unknown directive in [route]");
	refused("[server]\nerror_log = /a\nerror_log = /b\n", 3,
	    "error_log: given twice in [server] (first at line 2)");
}

/* agent_listen: off by default; the address and its line kept; off. */
static void
test_agent_listen(void **state)
{
	struct config c;

	(void)state;
	load(&c, "[server]\n");
	assert_null(c.agent_listen);
	assert_int_equal(c.agent_listen_line, 0);
	config_free(&c);
	load(&c, "[server]\nthreads = 4\nagent_listen = 0.0.0.0:8081\n");
	assert_string_equal(c.agent_listen, "0.0.0.0:8081");
	assert_int_equal(c.agent_listen_line, 3);
	config_free(&c);
	load(&c, "[server]\nagent_listen = [::]:65535\n");
	assert_string_equal(c.agent_listen, "[::]:65535");
	config_free(&c);
	load(&c, "[server]\nagent_listen = off\n");
	assert_null(c.agent_listen);
	config_free(&c);
}

/* A key of one section is unknown in the other, unless it is both's. */
static void
test_scope_each(void **state)
{
	const struct config_key *k, *o;
	char text[256];
	size_t i, j;

	(void)state;
	for (i = 0; (k = config_key_at(i)) != NULL; i++) {
		for (j = 0; (o = config_key_at(j)) != NULL; j++)
			if (o->scope != k->scope &&
			    strcmp(o->name, k->name) == 0)
				break;
		if (o != NULL)
			continue;	/* max_connections: one per section */
		if (k->scope == CS_SERVER) {
			snprintf(text, sizeof(text), "[route /a]\n%s = 1\n",
			    k->name);
			refused(text, 2, "unknown directive in [route]");
		} else {
			snprintf(text, sizeof(text), "[server]\n%s = 1\n",
			    k->name);
			refused(text, 2, "unknown directive in [server]");
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_units),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_once),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_inherit_each),
		cmocka_unit_test(test_bounds_each),
		cmocka_unit_test(test_scope_each),
		cmocka_unit_test(test_log_directives),
		cmocka_unit_test(test_agent_listen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
