/*
 * accesslog.c: the access log file (access_log = PATH).
 *
 * One line per request that gets a timing row, in the combined log
 * format (alogfmt.c writes the bytes), so that GoAccess, awstats and
 * fail2ban read it as they read Apache's or nginx's.  The file is opened
 * with O_APPEND and each line is one write(2): lines from civetweb's
 * threads and the door's never interleave, and a line is never split
 * by another process appending to the same file.
 *
 * The descriptor is shared by every thread and replaced by SIGHUP (a new
 * path) and SIGUSR1 (the same path, after logrotate renamed the file):
 * writers hold a read lock around their write(2) and the switch takes
 * it for writing, so a write never goes to a descriptor that is being
 * closed, or that a socket has taken over since.  A failed write is
 * reported in the log once, until a write succeeds again, not once per
 * request.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgigate.h"

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static int fd = -1;				/* under lock */
static char path[PATH_MAX];			/* under lock, "" when none */
static atomic_int failing;			/* a write failed, said so */
static atomic_int enabled;			/* fd != -1, without the lock */

static int
open_log(const char *p)
{
	return open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
	    0640);
}

int
alog_open(const char *p)
{
	int nfd = -1, ofd;

	if (p != NULL && strcmp(p, "off") != 0) {
		if (strlen(p) >= sizeof(path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if ((nfd = open_log(p)) == -1)
			return -1;
	}
	pthread_rwlock_wrlock(&lock);
	ofd = fd;
	fd = nfd;
	snprintf(path, sizeof(path), "%s", nfd == -1 ? "" : p);
	atomic_store(&enabled, nfd != -1);
	pthread_rwlock_unlock(&lock);
	if (ofd != -1)
		close(ofd);
	atomic_store(&failing, 0);
	return 0;
}

int
alog_reopen(void)
{
	char p[PATH_MAX];

	pthread_rwlock_rdlock(&lock);
	snprintf(p, sizeof(p), "%s", path);
	pthread_rwlock_unlock(&lock);
	if (p[0] == '\0')
		return 1;
	return alog_open(p);
}

const char *
alog_path(void)
{
	static char copy[PATH_MAX];	/* the main thread's */

	pthread_rwlock_rdlock(&lock);
	snprintf(copy, sizeof(copy), "%s", path);
	pthread_rwlock_unlock(&lock);
	return copy[0] ? copy : NULL;
}

int
alog_enabled(void)
{
	return atomic_load_explicit(&enabled, memory_order_relaxed);
}

int
alog_chown(uid_t uid, gid_t gid)
{
	int rc = 0;

	pthread_rwlock_rdlock(&lock);
	if (fd != -1)
		rc = fchown(fd, uid, gid);
	pthread_rwlock_unlock(&lock);
	return rc;
}

/* civetweb's worker stacks are small: the line is the thread's. */
static _Thread_local char buf[ALOG_LINE_MAX];

void
alog_write(const struct alog_line *l)
{
	if (alog_enabled())
		alog_write_line(buf, alog_format(buf, l));
}

void
alog_write_line(const char *line, size_t n)
{
	ssize_t w = 0;
	int err = 0;

	pthread_rwlock_rdlock(&lock);
	if (fd == -1) {
		pthread_rwlock_unlock(&lock);
		return;
	}
	if ((w = write(fd, line, n)) != (ssize_t)n)
		err = w == -1 ? errno : ENOSPC;
	pthread_rwlock_unlock(&lock);
	if (err == 0) {
		atomic_store(&failing, 0);
		return;
	}
	if (atomic_exchange(&failing, 1) == 0)
		log_err(NULL, "access log: write: %s (said once until a "
		    "write succeeds)", strerror(err));
}

void
alog_close(void)
{
	(void)alog_open(NULL);
}
