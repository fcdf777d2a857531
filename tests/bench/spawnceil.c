/*
 * spawnceil.c: the machine's spawn ceiling for one CGI program, without
 * HTTP.  N threads each posix_spawn the program with a stdout pipe, read
 * all its output, reap it, and go again, for the given seconds; prints
 * spawns per second.  What no gateway can beat on the same machine.
 * On stderr: the CPU each spawn cost this process (clone, pipe, read,
 * wait) and the child (from its start to its exit), in microseconds.
 *
 *   spawnceil PROGRAM [THREADS] [SECONDS]        (2 threads, 10 s)
 */
#define _GNU_SOURCE	/* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *prog;
static atomic_long spawns;
static atomic_int stop;

static void *
loop(void *arg)
{
	char *argv[2] = { (char *)(uintptr_t)prog, NULL };
	posix_spawn_file_actions_t fa;
	char buf[65536];
	int p[2], st;
	pid_t pid;

	(void)arg;
	while (!atomic_load(&stop)) {
		if (pipe2(p, O_CLOEXEC) == -1)
			return NULL;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, p[1], 1);
		if (posix_spawn(&pid, prog, &fa, NULL, argv, environ) != 0)
			return NULL;
		posix_spawn_file_actions_destroy(&fa);
		close(p[1]);
		while (read(p[0], buf, sizeof(buf)) > 0)
			;
		close(p[0]);
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		atomic_fetch_add(&spawns, 1);
	}
	return NULL;
}

static double
cpu_us(const struct rusage *ru)
{
	return (ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1e6 +
	    ru->ru_utime.tv_usec + ru->ru_stime.tv_usec;
}

int
main(int argc, char *argv[])
{
	struct rusage self, kids;
	int i, n = argc > 2 ? atoi(argv[2]) : 2;
	double secs = argc > 3 ? atof(argv[3]) : 10;
	struct timespec t = { (time_t)secs, (long)((secs - (time_t)secs) * 1e9) };
	pthread_t th[64];

	if (argc < 2 || n < 1 || n > 64) {
		fprintf(stderr, "usage: spawnceil PROGRAM [THREADS] [SECONDS]\n");
		return 2;
	}
	prog = argv[1];
	for (i = 0; i < n; i++)
		pthread_create(&th[i], NULL, loop, NULL);
	nanosleep(&t, NULL);
	atomic_store(&stop, 1);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	n = (int)atomic_load(&spawns);
	printf("%.2f\n", n / secs);
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	if (n > 0)
		fprintf(stderr, "cpu per spawn: parent %.0f us, child %.0f us\n",
		    cpu_us(&self) / n, cpu_us(&kids) / n);
	return 0;
}
