/*
 * notify.c: tell the service manager how start-up, reloads and the stop
 * go (systemd's Type=notify).
 *
 * The protocol is one datagram of "KEY=value" lines to the Unix socket
 * named by $NOTIFY_SOCKET (a path, or "@name" for the abstract
 * namespace); without it, nothing is sent.  It is small and stable
 * enough (sd_notify(3)) to speak directly rather than link a library for
 * it.  A message that cannot be sent is logged once and otherwise
 * ignored: the daemon serves the same either way.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "cgigate.h"

void
notify(const char *fmt, ...)
{
	static int warned;
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	char msg[256];
	socklen_t len;
	va_list ap;
	int fd, n;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sun.sun_path))
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(msg))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path) + (path[0] == '/'));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    sendto(fd, msg, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    len) != n) {
		if (!warned++)
			log_warn(NULL, "NOTIFY_SOCKET %s: %s", path,
			    strerror(errno));
	}
	if (fd != -1)
		close(fd);
}
