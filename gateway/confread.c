/*
 * confread.c: the configuration file, still readable after cgigate has
 * become its user.
 *
 * Started as root with a user, cgigate gives up root for good before it
 * serves, and a SIGHUP could then no longer read a configuration only
 * root may read (0600, as admins keep them).  So, before any thread
 * exists and while still root, it forks a reader: a process that keeps
 * root's right to read and does nothing else.  On each request (one
 * byte on a socketpair) it opens the one path it was given at start and
 * sends back its errno (0) and length, then the bytes; it dies with
 * cgigate (PR_SET_PDEATHSIG) or when the socketpair closes.  It uses no
 * heap and holds no other descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cgigate.h"

#define CONFREAD_MAX	(4 << 20)	/* a configuration, at most */

static int sock = -1;
static pid_t reader;

/* All n bytes to fd (out) or from it: 0, or -1 (an early EOF too). */
static int
move_all(int fd, void *buf, size_t n, int out)
{
	char *p = buf;
	ssize_t k;

	while (n > 0) {
		k = out ? write(fd, p, n) : read(fd, p, n);
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* The reader's life: one answer per request byte, until EOF. */
static void
serve(int fd, const char *path)
{
	char buf[65536], req;
	uint32_t hdr[2];
	struct stat sb;
	ssize_t k;
	size_t left;
	int f;

	while (move_all(fd, &req, 1, 0) == 0) {
		hdr[0] = hdr[1] = 0;
		if ((f = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
		    fstat(f, &sb) == -1)
			hdr[0] = (uint32_t)errno;
		else if (sb.st_size > CONFREAD_MAX)
			hdr[0] = EFBIG;
		else
			hdr[1] = (uint32_t)sb.st_size;
		if (move_all(fd, hdr, sizeof(hdr), 1) == -1)
			_exit(0);
		/* Exactly the length said: what grew since is left out. */
		for (left = hdr[0] ? 0 : hdr[1]; left > 0; left -= (size_t)k) {
			k = read(f, buf, left < sizeof(buf) ? left :
			    sizeof(buf));
			if (k <= 0) {
				memset(buf, '\n', sizeof(buf));
				k = (ssize_t)(left < sizeof(buf) ? left :
				    sizeof(buf));
			}
			if (move_all(fd, buf, (size_t)k, 1) == -1)
				_exit(0);
		}
		if (f != -1)
			close(f);
	}
	_exit(0);
}

int
confread_start(const char *path)
{
	sigset_t all;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if ((reader = fork()) == -1) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (reader == 0) {
		sigfillset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(0);
		if (sv[1] > 3)
			close_range(3, (unsigned)sv[1] - 1, 0);
		close_range((unsigned)sv[1] + 1, ~0U, 0);
		serve(sv[1], path);
	}
	close(sv[1]);
	sock = sv[0];
	return 0;
}

char *
confread_fetch(size_t *len)
{
	uint32_t hdr[2];
	char req = 'r', *text;

	if (sock == -1) {
		errno = ENOSYS;
		return NULL;
	}
	if (move_all(sock, &req, 1, 1) == -1 ||
	    move_all(sock, hdr, sizeof(hdr), 0) == -1) {
		errno = EPIPE;
		return NULL;
	}
	if (hdr[0] != 0) {
		errno = (int)hdr[0];
		return NULL;
	}
	if ((text = malloc((size_t)hdr[1] + 1)) == NULL)
		return NULL;
	if (move_all(sock, text, hdr[1], 0) == -1) {
		free(text);
		errno = EPIPE;
		return NULL;
	}
	text[hdr[1]] = '\0';
	*len = hdr[1];
	return text;
}

void
confread_stop(void)
{
	if (sock == -1)
		return;
	close(sock);
	sock = -1;
	(void)waitpid(reader, NULL, 0);
}
