/*
 * log.c: cgigate's own log, on stderr or in the error_log file, by level.
 *
 * One line per event, "2026-11-22T15:30:51.123Z [r42] warn: message",
 * written with a single write(2) so lines from concurrent threads never
 * interleave; the file is opened with O_APPEND, so a line is never split
 * by another process appending to it either.  The request id ties a
 * request's lines (and its handler's stderr, which comes here too) to its
 * row in the timing database.
 *
 * Levels follow syslog's order, most severe first: error (cgigate itself
 * failed), warn (a handler, a backend or the load is wrong), notice (the
 * life of the daemon), info (one request's trouble of its own making),
 * debug.  The level is one atomic integer read before anything is
 * formatted, so a line below it costs a function call and a load.
 *
 * The file is written through one descriptor number that, once taken,
 * is never closed: a reopen (SIGUSR1, after logrotate renamed the file)
 * or a new path (SIGHUP) opens the new file and dup3()s it onto that
 * number, which the kernel does in one step, so a writer never holds a
 * closed descriptor or one that a socket has taken since; a write in
 * flight ends in the old file.  Going back to stderr points the number
 * at stderr too.  Descriptor 2 itself is left alone: what the C library
 * or a sanitizer writes there stays on the real stderr.
 *
 * While cgigate starts, lines at warn and above written to the file are
 * copied to stderr as well, so that whoever started it sees why it
 * stopped; log_started() ends that.  A line the file refuses (a full
 * disk) goes to stderr instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgigate.h"

static atomic_int level = LOG_LEVEL_DEFAULT;
static atomic_int out = STDERR_FILENO;	/* stderr, or slot */
static atomic_int starting = 1;		/* copy warn and above to stderr */
static int slot = -1;			/* the file's number, never closed */
static char path[PATH_MAX];		/* the main thread's; "" for stderr */

void
log_init(void)
{
	setvbuf(stderr, NULL, _IOLBF, 0);
}

const char *
log_level_name(int l)
{
	static const char *names[] = {
		[LL_ERROR] = "error", [LL_WARN] = "warn",
		[LL_NOTICE] = "notice", [LL_INFO] = "info",
		[LL_DEBUG] = "debug"
	};

	if (l < LL_ERROR || l > LL_DEBUG)
		return "?";
	return names[l];
}

void
log_set_level(int l)
{
	if (l < LL_ERROR)
		l = LL_ERROR;
	if (l > LL_DEBUG)
		l = LL_DEBUG;
	atomic_store(&level, l);
}

int
log_get_level(void)
{
	return atomic_load_explicit(&level, memory_order_relaxed);
}

int
log_on(int l)
{
	return l <= atomic_load_explicit(&level, memory_order_relaxed);
}

void
log_started(void)
{
	atomic_store(&starting, 0);
}

int
log_file_open(const char *p)
{
	if (strlen(p) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
	    0640);
}

int
log_use(int fd, const char *p)
{
	int saved;

	if (fd == -1) {
		/* Writers that read slot already now write to stderr too. */
		atomic_store(&out, STDERR_FILENO);
		if (slot != -1 && dup3(STDERR_FILENO, slot, O_CLOEXEC) == -1)
			return -1;
		path[0] = '\0';
		return 0;
	}
	if (slot == -1)
		slot = fd;
	else if (fd != slot) {
		if (dup3(fd, slot, O_CLOEXEC) == -1) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		close(fd);
	}
	snprintf(path, sizeof(path), "%s", p);
	atomic_store(&out, slot);
	return 0;
}

int
log_open(const char *p)
{
	int fd;

	if (p == NULL || strcmp(p, "stderr") == 0)
		return log_use(-1, NULL);
	if ((fd = log_file_open(p)) == -1)
		return -1;
	return log_use(fd, p);
}

int
log_reopen(void)
{
	char p[PATH_MAX];

	if (path[0] == '\0')
		return 1;
	snprintf(p, sizeof(p), "%s", path);
	return log_open(p);
}

const char *
log_path(void)
{
	return path[0] ? path : NULL;
}

int
log_chown(uid_t uid, gid_t gid)
{
	if (path[0] == '\0')
		return 0;
	return fchown(slot, uid, gid);
}

int
log_status_level(int status)
{
	return status >= 500 ? LL_WARN : LL_INFO;
}

/* Format and write one line; the level was checked by the caller. */
static void
put(int l, const char *reqid, const char *fmt, va_list ap)
{
	char buf[2048];
	struct timespec ts;
	struct tm tm;
	int n, m, fd;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(buf + n, sizeof(buf) - n, ".%03ldZ [%s] %s: ",
	    ts.tv_nsec / 1000000, reqid ? reqid : "-", log_level_name(l));
	m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	fd = atomic_load_explicit(&out, memory_order_relaxed);
	if (write(fd, buf, n) != n && fd != STDERR_FILENO)
		(void)!write(STDERR_FILENO, buf, n);
	else if (fd != STDERR_FILENO && l <= LL_WARN &&
	    atomic_load_explicit(&starting, memory_order_relaxed))
		(void)!write(STDERR_FILENO, buf, n);
}

#define LOG_AT(l) do {							\
	va_list ap;							\
									\
	if (!log_on(l))							\
		return;							\
	va_start(ap, fmt);						\
	put((l), reqid, fmt, ap);					\
	va_end(ap);							\
} while (0)

void
log_at(int l, const char *reqid, const char *fmt, ...)
{
	LOG_AT(l);
}

void
log_err(const char *reqid, const char *fmt, ...)
{
	LOG_AT(LL_ERROR);
}

void
log_warn(const char *reqid, const char *fmt, ...)
{
	LOG_AT(LL_WARN);
}

void
log_notice(const char *reqid, const char *fmt, ...)
{
	LOG_AT(LL_NOTICE);
}

void
log_info(const char *reqid, const char *fmt, ...)
{
	LOG_AT(LL_INFO);
}

void
log_debug(const char *reqid, const char *fmt, ...)
{
	LOG_AT(LL_DEBUG);
}
