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
 * Reaping: each child comes with a pidfd (CLONE_PIDFD), and the thread
 * that owns it waits for exactly that process: poll on the pidfd, then
 * waitid(P_PIDFD), which also gives its rusage.  No shared registry, no
 * lock across the clone, no other thread woken per exit.  cgigate is also
 * a child subreaper (PR_SET_CHILD_SUBREAPER), so a handler's orphaned
 * grandchildren become ours: the kernel hands them to the main thread,
 * which reaps them with wait4(__WNOTHREAD) on its 100 ms tick
 * (spawn_tick), so it never takes another thread's child.  SIGCHLD stays
 * blocked and nobody waits for it.  A child released before it was reaped
 * (killed, but not gone yet) is left to that tick too.
 *
 * The keeper (keeper.c) hears of every process group: the child records
 * its own right after setpgid, before its copy of the keeper's pipe
 * closes at exec; and every reap here is in two steps, a look with
 * WNOWAIT, then keeper_forget, then the reap itself, so that a group id
 * the keeper holds always belongs to a leader not yet reaped.  When the
 * pipe is full the zombie is kept (held) and reaped by a later call or
 * tick.  A child spawned with kill_rest has what is left of its group
 * killed between the look and the reap, while the zombie still pins the
 * group's id.
 *
 * Built with ThreadSanitizer (configure --enable-sanitizers=thread), and
 * only then, children are forked instead (SPAWN_FORK, spawn_fork below):
 * TSan cannot follow a child that runs on the parent's memory.
 *
 * A child's peak memory (spawn_rss_kb) is not simply the ru_maxrss of its
 * rusage.  At execve the kernel keeps the hiwater RSS of the memory the
 * process leaves (fs/exec.c, exec_mmap: setmax_mm_hiwater_rss into
 * signal->maxrss), and that memory is cgigate's: borrowed under CLONE_VM,
 * or a fork's copy under TSan.  So ru_maxrss is the larger of cgigate's
 * peak at the exec and the handler's own (or that of a child it waited
 * for).  A figure above cgigate's own peak, read after the reap with
 * getrusage(RUSAGE_THREAD) (the process's hiwater, one cheap syscall,
 * made only when a figure passes the peak last read), can only be the
 * handler's; any other is unknown.  On top of the peak comes a margin,
 * a batch of pages per CPU plus an eighth of the peak: the kernel's RSS
 * counters are per-CPU and read without summing (percpu_counter_read,
 * off by up to a batch per CPU), and an RSS that passed cgigate's
 * recorded hiwater just before the exec, then was reclaimed without an
 * unmap, is in the figure but not in the later read (the eighth bounds
 * that only as far as it goes).  The peak last read is shared by every
 * thread without a lock: a store of an older, lower read costs only one
 * more syscall later, never a figure.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgigate.h"

#if defined(__SANITIZE_THREAD__)
#define SPAWN_FORK	1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SPAWN_FORK	1
#endif
#endif

#define CHILD_STACK	(64 * 1024)
#define STDOUT_PIPE_SIZE (256 * 1024)

/* The descriptor limit cgigate started with, for its handlers. */
static struct rlimit nofile;
static int nofile_raised;

/* cgigate's own peak RSS as last read, and the counters' slack (KB). */
static atomic_long self_peak_kb;
static long rss_slack_kb;

static const int rlim_res[RL_COUNT] = {
	RLIMIT_CPU, RLIMIT_AS, RLIMIT_NPROC, RLIMIT_NOFILE
};

#ifndef P_PIDFD
#define P_PIDFD		3
#endif

struct stray {
	int		 pidfd;
	pid_t		 pid;
};

static struct {
	pthread_mutex_t	 lock;
	struct stray	*stray;		/* released before reaping */
	int		 nstray, stray_cap;
	int		 orphans;
} reg = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

struct spawn_args {
	const struct spawn_req	*r;
	int			 fd[3];		/* child's 0, 1, 2 */
	volatile int		 err;
#ifdef SPAWN_FORK
	int			 errfd;		/* the exec failure's errno */
#endif
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

	if (setpgid(0, 0) == -1)
		goto fail;
	/*
	 * Recorded before this copy of the keeper's pipe closes, and while
	 * SIGPIPE is ignored.  A write to a dead keeper still leaves a
	 * SIGPIPE pending here, since every signal is blocked: ignoring it
	 * once more discards it (POSIX sigaction), or the default action
	 * set next would kill the handler as soon as signals are unblocked.
	 */
	keeper_add((pid_t)syscall(SYS_getpid));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &sa, NULL);
	if (r->pdeathsig != 0 &&
	    prctl(PR_SET_PDEATHSIG, (unsigned long)r->pdeathsig) == -1)
		goto fail;
	for (i = 0; i < 3; i++)
		if (dup2(a->fd[i], i) == -1)
			goto fail;
#ifdef SPAWN_FORK
	/* All but the errno pipe, which closes at exec (main.c holds 0-2). */
	if ((a->errfd > 3 && close_range(3, (unsigned)a->errfd - 1, 0) == -1) ||
	    close_range((unsigned)a->errfd + 1, ~0U, 0) == -1)
		goto fail;
#else
	if (close_range(3, ~0U, 0) == -1)
		goto fail;
#endif
	if (r->cwd != NULL && chdir(r->cwd) == -1)
		goto fail;
	if (nofile_raised && (r->rlim == NULL ||
	    r->rlim[RL_NOFILE] == RLIM_INFINITY) &&
	    setrlimit(RLIMIT_NOFILE, &nofile) == -1)
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
	/*
	 * A capability cgigate was given to bind (systemd's
	 * AmbientCapabilities=CAP_NET_BIND_SERVICE) would otherwise pass
	 * through execve to every handler.  Fails only on kernels without
	 * ambient capabilities (before 4.3), where there is none to clear.
	 */
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(r->path, r->argv, r->envp);
fail:
	a->err = errno;
#ifdef SPAWN_FORK
	i = errno;
	if (write(a->errfd, &i, sizeof(i)) == -1)
		_exit(127);
#endif
	_exit(127);
}

#ifdef SPAWN_FORK
/*
 * ThreadSanitizer builds only.  The child is a fork (which TSan
 * intercepts) running the same child_main on its own copy of memory, so
 * an exec failure's errno comes back through a close-on-exec pipe: end
 * of file means exec'd.  The caller, every signal blocked, reads it
 * before going on, as it would sleep through a vfork.  The pidfd is
 * opened after the fork: nobody else can reap the child meanwhile.  What
 * differs: the copy of the page tables, and a keeper record the child
 * drops is counted in the child's copy of keeper.c's counter only.
 */
static pid_t
spawn_fork(struct spawn_args *a, int *pidfd)
{
	int ep[2], err = 0;
	pid_t pid;

	if (pipe2(ep, O_CLOEXEC) == -1)
		return -1;
	a->errfd = ep[1];
	if ((pid = fork()) == 0)
		_exit(child_main(a));
	err = errno;
	close(ep[1]);
	if (pid == -1) {
		close(ep[0]);
		errno = err;
		return -1;
	}
	if (read(ep[0], &err, sizeof(err)) == (ssize_t)sizeof(err))
		a->err = err;
	close(ep[0]);
	if ((*pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) == -1) {
		/* No pidfd, no reaping by it: end the child here. */
		err = errno;
		kill(pid, SIGKILL);
		while (keeper_forget(pid) == -1)
			poll(NULL, 0, 10);
		waitpid(pid, NULL, 0);
		errno = err;
		return -1;
	}
	return pid;
}
#endif

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
	int pidfd = -1, saved;

	memset(c, 0, sizeof(*c));
	c->in = c->out = c->err = c->pidfd = -1;
	c->kill_rest = r->kill_rest;
	if ((r->stdio == NULL || r->stdio[0] < 0) &&
	    pipe2(pin, O_CLOEXEC) == -1)
		goto fail;
	if ((r->stdio == NULL || r->stdio[1] < 0) &&
	    pipe2(pout, O_CLOEXEC) == -1)
		goto fail;
	/*
	 * 256 KB instead of 64 KB: a handler with a large answer writes it
	 * with fewer waits for us to read (fewer context switches per
	 * request).  Best effort: over the user's pipe quota the kernel
	 * refuses, and the default stays.
	 */
	if (pout[0] >= 0)
		fcntl(pout[0], F_SETPIPE_SZ, STDOUT_PIPE_SIZE);
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
#ifdef SPAWN_FORK
	pid = spawn_fork(&a, &pidfd);
#else
	pid = clone(child_main, stack + CHILD_STACK,
	    CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &a, &pidfd);
#endif
	saved = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free(stack);
	stack = NULL;
	if (pid == -1) {
		errno = saved;
		goto fail;
	}
	c->pid = pid;
	c->pidfd = pidfd;
	if (a.err != 0) {
		spawn_wait(c, clk_now_us() + 1000000);	/* it is _exit(127)ing */
		spawn_release(c);
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

/*
 * Reap an exited child, the keeper told first (keeper.c): 1 once reaped,
 * 0 while the keeper's pipe is full (the zombie keeps its pid meanwhile).
 */
static int
settle(int pidfd, pid_t pid, struct rusage *ru)
{
	siginfo_t si;

	if (keeper_forget(pid) == -1)
		return 0;
	memset(&si, 0, sizeof(si));
	syscall(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED | WNOHANG, ru);
	return 1;
}

/* Exit status and rusage of c once it has exited: 1, or 0 while it runs. */
int
spawn_reap(struct child *c)
{
	siginfo_t si;
	struct rusage ru;

	if (c->done) {
		if (c->held && settle(c->pidfd, c->pid, &c->ru))
			c->held = 0;
		return 1;
	}
	if (c->pidfd < 0)
		return 0;
	/* A look first: the pid must stay ours until the keeper knows. */
	memset(&si, 0, sizeof(si));
	if (syscall(SYS_waitid, P_PIDFD, c->pidfd, &si,
	    WEXITED | WNOHANG | WNOWAIT, &ru) == -1 || si.si_pid == 0)
		return 0;
	/* Back to a wait(2) status, which is what callers decode. */
	if (si.si_code == CLD_EXITED)
		c->status = (si.si_status & 0xff) << 8;
	else
		c->status = (si.si_status & 0x7f) |
		    (si.si_code == CLD_DUMPED ? 0x80 : 0);
	c->ru = ru;
	c->done = 1;
	/* The unreaped leader pins the group's id: this hits only ours. */
	if (c->kill_rest)
		kill(-c->pid, SIGKILL);
	c->held = !settle(c->pidfd, c->pid, &c->ru);
	return 1;
}

int
spawn_wait(struct child *c, uint64_t deadline)
{
	struct pollfd pfd;
	uint64_t now;

	pfd.fd = c->pidfd;
	pfd.events = POLLIN;
	while (!spawn_reap(c)) {
		if (c->pidfd < 0 || (now = clk_now_us()) >= deadline)
			return -1;
		poll(&pfd, 1, (int)((deadline - now + 999) / 1000));
	}
	return 0;
}

/* Whether kb may be cgigate's own peak RSS, peak being what it was. */
static int
maybe_ours(long kb, long peak)
{
	return kb <= peak + peak / 8 + rss_slack_kb;
}

long long
spawn_rss_kb(const struct child *c)
{
	struct rusage self;
	long kb, peak;

	if (!c->done)
		return -1;
	kb = c->ru.ru_maxrss;
	peak = atomic_load_explicit(&self_peak_kb, memory_order_relaxed);
	if (maybe_ours(kb, peak))
		return -1;
	/* After the reap: no lower than cgigate's peak at the exec. */
	if (getrusage(RUSAGE_THREAD, &self) == -1)
		return -1;
	peak = self.ru_maxrss;
	atomic_store_explicit(&self_peak_kb, peak, memory_order_relaxed);
	if (maybe_ours(kb, peak))
		return -1;
	return kb;
}

void
spawn_kill_group(struct child *c, uint64_t grace_us)
{
	stats_count(STAT_KILLS);
	/*
	 * The leader may go while its group lives on: what is left is
	 * killed when it is reaped, while its id still pins the group, not
	 * after, when the id may be someone else's.
	 */
	c->kill_rest = 1;
	kill(-c->pid, SIGTERM);
	if (spawn_wait(c, clk_now_us() + grace_us) == -1) {
		kill(-c->pid, SIGKILL);
		spawn_wait(c, clk_now_us() + 1000000);
	}
}

void
spawn_release(struct child *c)
{
	if (c->in >= 0)
		close(c->in);
	if (c->out >= 0)
		close(c->out);
	if (c->err >= 0)
		close(c->err);
	c->in = c->out = c->err = -1;
	if (c->pidfd < 0)
		return;
	if (!spawn_reap(c) || c->held) {
		/* Still dying, or not reaped yet: spawn_tick takes over. */
		pthread_mutex_lock(&reg.lock);
		if (reg.nstray == reg.stray_cap) {
			int n = reg.stray_cap ? reg.stray_cap * 2 : 16;
			struct stray *v = realloc(reg.stray,
			    (size_t)n * sizeof(*v));

			if (v != NULL) {
				reg.stray = v;
				reg.stray_cap = n;
			}
		}
		if (reg.nstray < reg.stray_cap) {
			reg.stray[reg.nstray].pidfd = c->pidfd;
			reg.stray[reg.nstray++].pid = c->pid;
			c->pidfd = -1;
			c->held = 0;
		}
		pthread_mutex_unlock(&reg.lock);
		if (c->pidfd < 0)
			return;
		/* No memory to hand it over: wait for it here. */
		spawn_wait(c, clk_now_us() + 1000000);
	}
	close(c->pidfd);
	c->pidfd = -1;
}

void
spawn_tick(void)
{
	struct rusage ru;
	siginfo_t si;
	int i, status;

	/*
	 * __WNOTHREAD: the orphans the kernel gave this (main) thread only.
	 * Among them may be a child whose spawning thread has exited; like
	 * every child it is reaped only once the keeper knows.
	 */
	pthread_mutex_lock(&reg.lock);
	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT |
		    __WNOTHREAD) == -1 || si.si_pid == 0 ||
		    keeper_forget(si.si_pid) == -1 ||
		    wait4(si.si_pid, &status, WNOHANG | __WNOTHREAD, &ru) <= 0)
			break;
		reg.orphans++;
	}
	for (i = 0; i < reg.nstray; ) {
		memset(&si, 0, sizeof(si));
		if (syscall(SYS_waitid, P_PIDFD, reg.stray[i].pidfd, &si,
		    WEXITED | WNOHANG | WNOWAIT, &ru) == -1 ||
		    (si.si_pid != 0 && settle(reg.stray[i].pidfd,
		    reg.stray[i].pid, &ru))) {
			close(reg.stray[i].pidfd);
			reg.stray[i] = reg.stray[--reg.nstray];
		} else
			i++;
	}
	pthread_mutex_unlock(&reg.lock);
}

int
spawn_init(void)
{
	struct rlimit rl;
	long ncpu, page;

	/* mm/percpu_counter.c: batch = max(32, 2 * CPUs) pages per CPU. */
	ncpu = sysconf(_SC_NPROCESSORS_CONF);
	page = sysconf(_SC_PAGESIZE);
	if (ncpu < 1)
		ncpu = 1;
	if (page < 1024)
		page = 4096;
	rss_slack_kb = ncpu * (ncpu * 2 > 32 ? ncpu * 2 : 32) * (page / 1024);

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_warn(NULL, "spawn_init: PR_SET_CHILD_SUBREAPER: %s",
		    strerror(errno));
	/*
	 * Each connection costs a descriptor: take all the kernel allows.
	 * Handlers keep the limit they would have had, since some programs
	 * walk every descriptor up to it.
	 */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		nofile = rl;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
			nofile_raised = 1;
			log_info(NULL, "open files: limit raised from %llu to "
			    "%llu (handlers keep %llu)",
			    (unsigned long long)nofile.rlim_cur,
			    (unsigned long long)rl.rlim_cur,
			    (unsigned long long)nofile.rlim_cur);
		} else
			log_warn(NULL, "open files: cannot raise the limit of "
			    "%llu: %s", (unsigned long long)nofile.rlim_cur,
			    strerror(errno));
	} else if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_info(NULL, "open files: limit %llu, the most allowed",
		    (unsigned long long)rl.rlim_cur);
	return 0;
}

void
spawn_shutdown(void)
{
	spawn_tick();
	pthread_mutex_lock(&reg.lock);
	free(reg.stray);
	reg.stray = NULL;
	reg.nstray = reg.stray_cap = 0;
	pthread_mutex_unlock(&reg.lock);
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
