/*
 * main.c: options, start-up, signals and the graceful stop.
 *
 * Start-up is the only place that exits on error.  The order: built-in
 * defaults, then the config file, then command-line options on top; then
 * the timing log, the reaper, the handler scan, and civetweb last, so
 * nothing is served before everything behind it is ready.  Every signal
 * the daemon cares about is blocked before any thread exists; the main
 * thread takes SIGTERM, SIGINT and SIGHUP with sigwait() and SIGCHLD is
 * left pending for the reaper (spawn.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgigate.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cgigate [--config FILE] [--listen ADDR:PORT]... "
	    "[--handlers DIR]\n"
	    "               [--www DIR] [--timings FILE] [--check] "
	    "[--version] [--help]\n"
	    "\n"
	    "  -c, --config FILE     read FILE (INI; see cgigate.conf(5))\n"
	    "  -l, --listen ADDR:PORT  listen here (repeatable; default "
	    DEFAULT_LISTEN ")\n"
	    "  -d, --handlers DIR    handlers directory (default "
	    DEFAULT_HANDLERS ")\n"
	    "  -w, --www DIR         static files (default " DEFAULT_WWW ")\n"
	    "  -t, --timings FILE    timing database (default "
	    DEFAULT_TIMINGS ")\n"
	    "  -n, --check           validate config and handlers, then exit\n"
	    "  -V, --version         print the version\n"
	    "  -h, --help            this text\n");
}

/* Descriptors 0-2 must be open so that no pipe or socket lands there. */
static void
sane_stdio(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "listen",	required_argument,	NULL, 'l' },
		{ "handlers",	required_argument,	NULL, 'd' },
		{ "www",	required_argument,	NULL, 'w' },
		{ "timings",	required_argument,	NULL, 't' },
		{ "check",	no_argument,		NULL, 'n' },
		{ "version",	no_argument,		NULL, 'V' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	const char *conffile = NULL, *handlers = NULL, *www = NULL;
	const char *timings = NULL, *listen[MAX_LISTEN];
	struct config cfg;
	char err[512];
	sigset_t set;
	int ch, i, nlisten = 0, check = 0, sig, errors;
	uint64_t t0;

	while ((ch = getopt_long(argc, argv, "c:l:d:w:t:nVh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			conffile = optarg;
			break;
		case 'l':
			if (nlisten == MAX_LISTEN ||
			    strchr(optarg, ':') == NULL) {
				fprintf(stderr, "cgigate: --listen %s: want "
				    "ADDR:PORT (at most %d)\n", optarg,
				    MAX_LISTEN);
				return 2;
			}
			listen[nlisten++] = optarg;
			break;
		case 'd':
			handlers = optarg;
			break;
		case 'w':
			www = optarg;
			break;
		case 't':
			timings = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'V':
			printf("cgigate " PACKAGE_VERSION "\n");
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "cgigate: unexpected argument: %s\n",
		    argv[optind]);
		usage(stderr);
		return 2;
	}

	log_init();
	sane_stdio();
	if (config_init(&cfg) == -1) {
		fprintf(stderr, "cgigate: out of memory\n");
		return 1;
	}
	if (conffile != NULL &&
	    config_load(&cfg, conffile, err, sizeof(err)) == -1) {
		fprintf(stderr, "cgigate: %s\n", err);
		config_free(&cfg);
		return 1;
	}
	if (nlisten > 0) {
		for (i = 0; i < cfg.nlisten; i++)
			free(cfg.listen[i]);
		cfg.nlisten = 0;
		for (i = 0; i < nlisten; i++)
			config_add_listen(&cfg, listen[i]);
	}
	if ((handlers && config_set(&cfg.handlers, handlers) == -1) ||
	    (www && config_set(&cfg.www, www) == -1) ||
	    (timings && config_set(&cfg.timings, timings) == -1)) {
		fprintf(stderr, "cgigate: out of memory\n");
		return 1;
	}
	config_finish(&cfg);

	if (check) {
		errors = scan_check(cfg.handlers, &cfg);
		if (access(cfg.www, R_OK | X_OK) == -1) {
			fprintf(stderr, "%s: www directory: %s\n", cfg.www,
			    strerror(errno));
			errors++;
		}
		printf("cgigate: configuration %s\n", errors ? "has errors" :
		    "ok");
		config_free(&cfg);
		return errors ? 1 : 0;
	}

	/* Before any thread: every thread inherits this mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	stats_init();
	if (timelog_open(cfg.timings, cfg.timings_queue,
	    cfg.timings_max_age_us, cfg.timings_max_rows) == -1)
		return 1;
	if (spawn_init() == -1 || scan_start(cfg.handlers) == -1 ||
	    pool_start(&cfg) == -1) {
		timelog_close();
		return 1;
	}
	if (http_start(&cfg) == -1) {
		pool_stop();
		scan_stop();
		spawn_shutdown();
		timelog_close();
		return 1;
	}
	log_msg(NULL, "cgigate %s started (handlers %s, www %s, timings %s)",
	    PACKAGE_VERSION, cfg.handlers, cfg.www, cfg.timings);
	timelog_event("start", getpid(), "cgigate %s", PACKAGE_VERSION);

	sigdelset(&set, SIGCHLD);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_msg(NULL, "SIGHUP: reload is not supported yet; "
			    "handlers are rescanned continuously");
			continue;
		}
		break;
	}
	log_msg(NULL, "%s: draining (up to %lld ms)", strsignal(sig),
	    (long long)(cfg.drain_us / 1000));
	t0 = now_us();
	http_stop_drain(cfg.drain_us);
	pool_stop();
	scan_stop();
	spawn_shutdown();
	log_msg(NULL, "stopped after %llu ms; %d orphaned processes reaped",
	    (unsigned long long)((now_us() - t0) / 1000), spawn_zombies());
	timelog_event("stop", getpid(), "%s", strsignal(sig));
	timelog_close();
	config_free(&cfg);
	return 0;
}
