/*
 * spawn.c: starting handler processes, and reaping every process we own.
 *
 * Spawning uses clone(CLONE_VM | CLONE_VFORK): the child borrows the
 * parent's memory instead of copying the page tables of a large
 * multithreaded daemon, and the calling thread sleeps until the child has
 * exec'd or failed.  Because memory is shared, the child only makes
 * system calls (no malloc, no locks, no stdio) and reports an exec failure
 * by storing errno in the caller's frame before _exit(127).  All signals
 * are blocked around the clone so no handler ever runs on the borrowed
 * stack; the child clears its mask before exec.
 *
 * Reaping: cgigate is a child subreaper (PR_SET_CHILD_SUBREAPER), so a
 * handler's orphaned grandchildren become ours too.  One reaper thread
 * collects every exit with wait4() and hands status and rusage to the
 * request that spawned the process through a registry; exits nobody
 * waits for (orphans) are simply reaped, so no zombie stays behind.  The
 * registry lock is held across the clone, so the reaper cannot reap a
 * child before it is registered.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgigate.h"

#define CHILD_STACK	(64 * 1024)

static const int rlim_res[RL_COUNT] = {
	RLIMIT_CPU, RLIMIT_AS, RLIMIT_NPROC, RLIMIT_NOFILE
};

static struct {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;		/* a registered child was reaped */
	struct child	*head;
	pthread_t	 thread;
	int		 stop, running;
	int		 orphans;
} reg = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

struct spawn_args {
	const struct spawn_req	*r;
	int			 fd[3];		/* child's 0, 1, 2 */
	volatile int		 err;
};

/* Runs in the child, on memory shared with the parent: syscalls only. */
static int
child_main(void *arg)
{
	struct spawn_args *a = arg;
	const struct spawn_req *r = a->r;
	struct sigaction sa;
	sigset_t none;
	int i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &sa, NULL);
	if (setpgid(0, 0) == -1)
		goto fail;
	if (r->pdeathsig != 0 &&
	    prctl(PR_SET_PDEATHSIG, (unsigned long)r->pdeathsig) == -1)
		goto fail;
	for (i = 0; i < 3; i++)
		if (dup2(a->fd[i], i) == -1)
			goto fail;
	if (close_range(3, ~0U, 0) == -1)
		goto fail;
	if (r->cwd != NULL && chdir(r->cwd) == -1)
		goto fail;
	if (r->rlim != NULL)
		for (i = 0; i < RL_COUNT; i++) {
			struct rlimit rl;

			if (r->rlim[i] == RLIM_INFINITY)
				continue;
			rl.rlim_cur = rl.rlim_max = r->rlim[i];
			if (setrlimit(rlim_res[i], &rl) == -1)
				goto fail;
		}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(r->path, r->argv, r->envp);
fail:
	a->err = errno;
	_exit(127);
}

static void
close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
}

int
spawn_child(const struct spawn_req *r, struct child *c)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	struct spawn_args a;
	sigset_t all, old;
	char *stack = NULL;
	pid_t pid;
	int saved;

	memset(c, 0, sizeof(*c));
	c->in = c->out = c->err = -1;
	if ((r->stdio == NULL || r->stdio[0] < 0) &&
	    pipe2(pin, O_CLOEXEC) == -1)
		goto fail;
	if ((r->stdio == NULL || r->stdio[1] < 0) &&
	    pipe2(pout, O_CLOEXEC) == -1)
		goto fail;
	if ((r->stdio == NULL || r->stdio[2] < 0) &&
	    pipe2(perr, O_CLOEXEC) == -1)
		goto fail;
	if ((stack = malloc(CHILD_STACK)) == NULL)
		goto fail;
	a.r = r;
	a.fd[0] = pin[0] >= 0 ? pin[0] : r->stdio[0];
	a.fd[1] = pout[1] >= 0 ? pout[1] : r->stdio[1];
	a.fd[2] = perr[1] >= 0 ? perr[1] : r->stdio[2];
	a.err = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_mutex_lock(&reg.lock);
	pid = clone(child_main, stack + CHILD_STACK,
	    CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
	saved = errno;
	if (pid > 0 && a.err == 0) {
		c->pid = pid;
		c->next = reg.head;
		reg.head = c;
	}
	pthread_mutex_unlock(&reg.lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free(stack);
	stack = NULL;
	if (pid == -1) {
		errno = saved;
		goto fail;
	}
	if (a.err != 0) {
		/* The failed child is reaped by the reaper as an orphan. */
		errno = a.err;
		goto fail;
	}
	stats_count(STAT_SPAWNS);
	c->in = pin[1];
	c->out = pout[0];
	c->err = perr[0];
	pin[1] = pout[0] = perr[0] = -1;
	close_pair(pin);
	close_pair(pout);
	close_pair(perr);
	if (c->in >= 0)
		fcntl(c->in, F_SETFL, O_NONBLOCK);
	if (c->out >= 0)
		fcntl(c->out, F_SETFL, O_NONBLOCK);
	if (c->err >= 0)
		fcntl(c->err, F_SETFL, O_NONBLOCK);
	return 0;
fail:
	saved = errno;
	free(stack);
	close_pair(pin);
	close_pair(pout);
	close_pair(perr);
	errno = saved;
	return -1;
}

static void
deliver(pid_t pid, int status, const struct rusage *ru)
{
	struct child *c;

	pthread_mutex_lock(&reg.lock);
	for (c = reg.head; c != NULL; c = c->next)
		if (c->pid == pid)
			break;
	if (c != NULL) {
		c->status = status;
		c->ru = *ru;
		c->done = 1;
		pthread_cond_broadcast(&reg.cond);
	} else
		reg.orphans++;
	pthread_mutex_unlock(&reg.lock);
}

static void *
reaper(void *arg)
{
	struct timespec tick = { 0, 100 * 1000000L };
	struct rusage ru;
	sigset_t set;
	pid_t pid;
	int status;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (;;) {
		while ((pid = wait4(-1, &status, WNOHANG, &ru)) > 0)
			deliver(pid, status, &ru);
		pthread_mutex_lock(&reg.lock);
		if (reg.stop) {
			pthread_mutex_unlock(&reg.lock);
			break;
		}
		pthread_mutex_unlock(&reg.lock);
		sigtimedwait(&set, NULL, &tick);
	}
	return NULL;
}

int
spawn_init(void)
{
	pthread_condattr_t ca;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_msg(NULL, "spawn_init: PR_SET_CHILD_SUBREAPER: %s",
		    strerror(errno));
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&reg.cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((errno = pthread_create(&reg.thread, NULL, reaper, NULL)) != 0) {
		log_msg(NULL, "spawn_init: pthread_create: %s",
		    strerror(errno));
		return -1;
	}
	reg.running = 1;
	return 0;
}

void
spawn_shutdown(void)
{
	if (!reg.running)
		return;
	pthread_mutex_lock(&reg.lock);
	reg.stop = 1;
	pthread_mutex_unlock(&reg.lock);
	pthread_join(reg.thread, NULL);
	reg.running = 0;
}

int
spawn_wait(struct child *c, uint64_t deadline)
{
	struct timespec ts;
	int rc = 0;

	ts.tv_sec = (time_t)(deadline / 1000000);
	ts.tv_nsec = (long)(deadline % 1000000) * 1000;
	pthread_mutex_lock(&reg.lock);
	while (!c->done && rc == 0)
		if (pthread_cond_timedwait(&reg.cond, &reg.lock, &ts) ==
		    ETIMEDOUT)
			rc = c->done ? 0 : -1;
	pthread_mutex_unlock(&reg.lock);
	return rc;
}

void
spawn_kill_group(struct child *c, uint64_t grace_us)
{
	stats_count(STAT_KILLS);
	kill(-c->pid, SIGTERM);
	spawn_wait(c, now_us() + grace_us);
	/* The leader may be gone while its group lives on: kill it all. */
	kill(-c->pid, SIGKILL);
	spawn_wait(c, now_us() + 1000000);
}

void
spawn_release(struct child *c)
{
	struct child **p;

	pthread_mutex_lock(&reg.lock);
	for (p = &reg.head; *p != NULL; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	pthread_mutex_unlock(&reg.lock);
	if (c->in >= 0)
		close(c->in);
	if (c->out >= 0)
		close(c->out);
	if (c->err >= 0)
		close(c->err);
	c->in = c->out = c->err = -1;
}

int
spawn_zombies(void)
{
	int n;

	pthread_mutex_lock(&reg.lock);
	n = reg.orphans;
	pthread_mutex_unlock(&reg.lock);
	return n;
}
