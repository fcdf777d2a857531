/*
 * cwserve.c: civetweb on its own, as a benchmark peer: static files from
 * DIR, and every *.cgi under DIR run by civetweb's built-in CGI.  Prints
 * the port it listens on, then serves until SIGTERM.
 *
 *   cwserve DIR PORT [THREADS]      (50 threads, civetweb's default)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <civetweb.h>

static volatile sig_atomic_t done;

static void
on_term(int sig)
{
	(void)sig;
	done = 1;
}

int
main(int argc, char **argv)
{
	struct mg_callbacks cb = { 0 };
	struct mg_context *ctx;
	const char *opts[] = {
		"document_root", NULL,
		"listening_ports", NULL,
		"num_threads", NULL,
		"cgi_pattern", "**.cgi$",
		"enable_keep_alive", "yes",
		"tcp_nodelay", "1",	/* else Nagle holds the body 40 ms */
		NULL
	};

	if (argc < 3) {
		fprintf(stderr, "usage: cwserve DIR PORT [THREADS]\n");
		return 2;
	}
	if (!mg_check_feature(MG_FEATURES_CGI)) {
		fprintf(stderr, "cwserve: this civetweb has no CGI\n");
		return 1;
	}
	opts[1] = argv[1];
	opts[3] = argv[2];
	opts[5] = argc > 3 ? argv[3] : "50";
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	mg_init_library(0);
	if ((ctx = mg_start(&cb, NULL, opts)) == NULL) {
		fprintf(stderr, "cwserve: cannot start on %s\n", argv[2]);
		return 1;
	}
	printf("listening on %s\n", argv[2]);
	fflush(stdout);
	while (!done)
		pause();
	mg_stop(ctx);
	mg_exit_library();
	return 0;
}
