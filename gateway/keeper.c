/*
 * keeper.c: nothing cgigate started outlives it, even after a kill -9.
 *
 * At start-up, before any thread exists, cgigate forks a small process,
 * "cgigate-keeper" in ps(1).  It keeps nothing of cgigate but the read end
 * of one pipe: it closes every other descriptor, moves to its own process
 * group and ignores SIGINT, SIGQUIT, SIGTERM, SIGHUP and SIGPIPE, so that
 * a Ctrl-C at a terminal, or a signal sent to cgigate's process group,
 * does not end it before cgigate.  Started as root to run handlers as
 * another user, it becomes that user too.
 *
 * Every handler cgigate spawns, CGI handler or pool worker, leads its own
 * process group (spawn.c), and a shell wrapper's children are in it.  The
 * pipe carries one 4-byte record per event, a pid as int32_t: +P when
 * group P starts, -P when cgigate is about to reap P.  The keeper keeps
 * the set in a bitmap indexed by pid.  When the pipe reaches end of file,
 * every copy of its write end is closed, which happens only when cgigate
 * has exited, whatever the cause; the keeper then sends SIGKILL to every
 * group still in the set, and exits.  A graceful stop (keeper_stop)
 * closes the pipe itself, after cgigate has ended its handlers, and waits
 * for the keeper.
 *
 * The keeper reads at most about 50 times a second, draining all that
 * waits at each read, so a burst of spawns costs it one wakeup and the
 * writers in between wake nobody; a 64 KB pipe holds 16,384 records,
 * 20 ms of 400,000 spawns a second.  End of file is seen within 20 ms.
 *
 * Why the keeper never kills a stranger: a pid, and with it a process
 * group id, cannot be given to a new process while the process that had
 * it exists, zombie included; only its parent's wait frees it.  So:
 * - +P is written by the child itself, after setpgid(0, 0) and before it
 *   closes its descriptors to exec (spawn.c): the child holds a copy of
 *   the write end until then, so end of file cannot come before +P is in
 *   the pipe, even when cgigate dies in the middle of the spawn.
 * - -P is written after P has exited but before it is reaped: spawn_reap
 *   first looks with WNOWAIT, then writes -P, and reaps only once the
 *   write succeeded.  The pipe is one ordered stream, so the keeper reads
 *   -P before end of file and before any later +P of a new process that
 *   got pid P.  Hence a pid in the set is always a leader cgigate has not
 *   reaped, whose pid nobody else can have, and group P holds that leader
 *   and the descendants that stayed in its group.
 * - Writes never block (O_NONBLOCK; 4 bytes is below PIPE_BUF, so each
 *   is whole or absent).  A -P that finds the pipe full is not lost: the
 *   leader stays a zombie, which keeps P pinned, and spawn_tick tries
 *   again.  A +P that finds the pipe full is dropped and counted: that
 *   group would survive a kill -9, but no wrong group is ever killed.
 *   A keeper that takes nothing for 10 s (stopped by a signal, say)
 *   would let those zombies use up the pids, so cgigate then kills it
 *   with SIGKILL, which it cannot ignore and which ends it before it
 *   kills anything, logs that, and reaps as if there were no keeper.
 * - One window remains, and it is the kernel's: between the keeper's end
 *   of file and its kill, a leader that had already exited but was not
 *   yet reaped is handed to init, which may reap it, after which a new
 *   process would need to be given that very pid and make it a group, in
 *   the microseconds before the keeper's kill(2).  Pids are allocated
 *   cyclically up to pid_max, so that takes a full wrap of the pid space
 *   within those microseconds.
 *
 * A handler that left a process running after it exited normally is
 * released when it is reaped: after a kill -9 that process lives on, as
 * it would after a graceful stop.  Under systemd the unit's control group
 * is a second net (cgigate.service: KillMode=mixed).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgigate.h"

/* Linux's PID_MAX_LIMIT on 64-bit: no pid is larger. */
#define PID_LIMIT	(1U << 22)
/* Between two reads: records wait in the pipe, nobody wakes per spawn. */
#define NAP_NS		(20 * 1000000L)
/* A keeper that took nothing for this long is stopped or stuck. */
#define STALL_US	(10 * 1000000ULL)

#ifndef P_PIDFD
#define P_PIDFD		3
#endif

static struct {
	int		 fd;		/* write end, non-blocking; -1: none */
	int		 pidfd;		/* the keeper process */
	pid_t		 pid;
	int		 gone;		/* the keeper died or was disarmed */
	uint64_t	 full_since;	/* clk_now_us() of the first -P refused */
	unsigned long	 dropped;	/* +P records the pipe had no room for */
} kp = { .fd = -1, .pidfd = -1 };

static void
set_bit(unsigned char *map, int32_t rec)
{
	uint32_t p = (uint32_t)(rec < 0 ? -(int64_t)rec : rec);

	if (p <= 1 || p >= PID_LIMIT)
		return;
	if (rec > 0)
		map[p / 8] |= (unsigned char)(1U << (p % 8));
	else
		map[p / 8] &= (unsigned char)~(1U << (p % 8));
}

/* The keeper itself: follow the pipe until end of file, then kill. */
static void __attribute__((noreturn))
keeper_main(int rfd, const struct passwd *pw)
{
	static const int ignored[] = {
		SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE
	};
	const struct timespec nap = { 0, NAP_NS };
	int32_t buf[4096];
	unsigned char *map;
	size_t i, have = 0;
	sigset_t none;
	ssize_t n;
	uint32_t p;

	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	prctl(PR_SET_NAME, "cgigate-keeper");
	if (rfd != 3) {
		dup2(rfd, 3);
		rfd = 3;
	}
	/* Every other copy of the write end must go, or EOF never comes. */
	if (close_range(0, 2, 0) == -1 || close_range(4, ~0U, 0) == -1)
		_exit(1);
	if (chdir("/") == -1)
		_exit(1);
	if (pw != NULL && getuid() == 0 && pw->pw_uid != 0 &&
	    (setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1))
		_exit(1);
	if ((map = calloc(PID_LIMIT / 8, 1)) == NULL)
		_exit(1);
	for (;;) {
		n = read(rfd, (char *)buf + have, sizeof(buf) - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		for (i = 0; i < have / sizeof(buf[0]); i++)
			set_bit(map, buf[i]);
		/* Records are written whole; keep a partial one anyway. */
		memmove(buf, buf + i, have % sizeof(buf[0]));
		have %= sizeof(buf[0]);
		if ((size_t)n < sizeof(buf) - have)
			nanosleep(&nap, NULL);
	}
	for (p = 2; p < PID_LIMIT; p++)
		if (map[p / 8] != 0 && (map[p / 8] & (1U << (p % 8))))
			kill(-(pid_t)p, SIGKILL);
	_exit(0);
}

int
keeper_start(const struct passwd *pw)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) == -1) {
		log_err(NULL, "keeper_start: pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_err(NULL, "keeper_start: fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0)
		keeper_main(fds[0], pw);
	close(fds[0]);
	if (fcntl(fds[1], F_SETFL, O_NONBLOCK) == -1) {
		log_err(NULL, "keeper_start: O_NONBLOCK: %s", strerror(errno));
		close(fds[1]);
		kill(pid, SIGKILL);
		return -1;
	}
	kp.fd = fds[1];
	kp.pid = pid;
	kp.pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	return 0;
}

int
keeper_add(pid_t pgid)
{
	int32_t rec = (int32_t)pgid;

	if (kp.fd < 0 || __atomic_load_n(&kp.gone, __ATOMIC_RELAXED))
		return 0;
	if (write(kp.fd, &rec, sizeof(rec)) == (ssize_t)sizeof(rec))
		return 0;
	__atomic_add_fetch(&kp.dropped, 1, __ATOMIC_RELAXED);
	return -1;
}

/* From now on nothing is recorded, and nothing will be killed. */
static void
disarm(const char *why)
{
	if (__atomic_exchange_n(&kp.gone, 1, __ATOMIC_RELAXED) == 0)
		log_err(NULL, "keeper: %s; a kill -9 would now leave handlers "
		    "running", why);
}

int
keeper_forget(pid_t pgid)
{
	int32_t rec = -(int32_t)pgid;
	uint64_t since = 0, t;

	if (kp.fd < 0 || __atomic_load_n(&kp.gone, __ATOMIC_RELAXED))
		return 0;
	if (write(kp.fd, &rec, sizeof(rec)) == (ssize_t)sizeof(rec)) {
		if (__atomic_load_n(&kp.full_since, __ATOMIC_RELAXED) != 0)
			__atomic_store_n(&kp.full_since, 0, __ATOMIC_RELAXED);
		return 0;
	}
	if (errno != EAGAIN) {
		/* EPIPE: nobody left to tell, hence nobody to kill anything. */
		disarm(strerror(errno));
		return 0;
	}
	/*
	 * Full.  Zombies kept for the keeper hold pids; if it has taken
	 * nothing for STALL_US (stopped, say), end it, unheard, so that
	 * they can be reaped before the pids run out.  SIGKILL cannot be
	 * ignored, and the pidfd names that very process.
	 */
	t = clk_now_us();
	if (__atomic_compare_exchange_n(&kp.full_since, &since, t, 0,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED) || t - since < STALL_US)
		return -1;
	if (kp.pidfd >= 0)
		syscall(SYS_pidfd_send_signal, kp.pidfd, SIGKILL, NULL, 0);
	disarm("its pipe stayed full for 10 s; killed it");
	return 0;
}

void
keeper_stop(void)
{
	struct pollfd pfd;
	siginfo_t si;

	if (kp.fd < 0)
		return;
	close(kp.fd);
	kp.fd = -1;
	if (kp.dropped > 0)
		log_warn(NULL, "keeper: %lu process groups were not recorded "
		    "(its pipe was full)", kp.dropped);
	if (kp.pidfd < 0)
		return;
	/* It kills what is left, if anything, and exits: reap it. */
	pfd.fd = kp.pidfd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 1000) == 1) {
		memset(&si, 0, sizeof(si));
		syscall(SYS_waitid, P_PIDFD, kp.pidfd, &si, WEXITED | WNOHANG,
		    NULL);
	}
	close(kp.pidfd);
	kp.pidfd = -1;
}
