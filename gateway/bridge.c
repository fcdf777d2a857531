/*
 * bridge.c: IPv6 listeners for a civetweb built without IPv6.
 *
 * Debian's libcivetweb is compiled without USE_IPV6, so it cannot listen
 * on [::1]:8080.  When such an address is configured, cgigate listens on
 * it itself and relays each accepted connection, byte for byte, to an
 * internal civetweb listener on 127.0.0.1 (an ephemeral port).  The real
 * client address is remembered under the relay connection's local port,
 * which is what civetweb reports as the remote port, so handlers and the
 * timing log see the IPv6 client (bridge_peer), not the relay.
 *
 * One thread does it all with poll(): accepts, and moves bytes through a
 * 16 KB buffer per direction, reading a side only while the buffer toward
 * the other side is empty, so a slow peer holds back the fast one instead
 * of growing memory.  The client's EOF is passed on as a half close, so
 * civetweb still answers; civetweb's ends the pair once its last bytes
 * are out (nothing more can come, and a client that never closes must
 * not hold a slot), as does a failure on either side.
 *
 * With a civetweb that has IPv6, none of this runs: http.c hands it the
 * address directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "cgigate.h"

#define BRIDGE_BUF	16384
#define BRIDGE_MAX	1024		/* connections relayed at once */

struct half {
	char	 buf[BRIDGE_BUF];
	size_t	 off, len;
	int	 eof;			/* source said EOF; sent on when empty */
};

struct pair {
	int		 fd[2];		/* 0: the client, 1: civetweb */
	struct half	 h[2];		/* h[i]: bytes read from fd[i] */
	int		 lport;		/* fd[1]'s local port */
	char		 addr[INET6_ADDRSTRLEN];
	int		 port;
	int		 sport;		/* the IPv6 port it came in on */
};

static struct {
	pthread_mutex_t	 lock;		/* guards pairs' lport/addr/port */
	pthread_t	 thread;
	int		 running;
	int		 lfd[MAX_LISTEN];
	int		 nlfd;
	int		 wake[2];	/* a pipe: stop */
	int		 target;	/* civetweb's internal port */
	struct pair	*pairs[BRIDGE_MAX];
	int		 npairs;
} br = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = { -1, -1 },
};

int
bridge_listen(const char *addr, int *port)
{
	struct addrinfo hints, *res;
	char host[128];
	const char *colon = strrchr(addr, ':');
	size_t n;
	int fd, on = 1;
	struct sockaddr_in6 sin6;
	socklen_t len = sizeof(sin6);

	if (addr[0] != '[' || colon == NULL || colon[-1] != ']' ||
	    (n = (size_t)(colon - addr - 2)) >= sizeof(host) ||
	    br.nlfd == MAX_LISTEN)
		return -1;
	memcpy(host, addr + 1, n);
	host[n] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET6;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0) {
		errno = EINVAL;
		return -1;
	}
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(fd, 1024) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin6, &len) == -1) {
		close(fd);
		goto fail;
	}
	freeaddrinfo(res);
	br.lfd[br.nlfd++] = fd;
	*port = ntohs(sin6.sin6_port);
	return 0;
fail:
	freeaddrinfo(res);
	return -1;
}

static void
drop(int i)
{
	struct pair *p = br.pairs[i];

	close(p->fd[0]);
	close(p->fd[1]);
	pthread_mutex_lock(&br.lock);
	br.pairs[i] = br.pairs[--br.npairs];
	pthread_mutex_unlock(&br.lock);
	free(p);
}

static void
accept_one(int lfd)
{
	struct sockaddr_in6 peer, here;
	struct sockaddr_in to, me;
	socklen_t len = sizeof(peer);
	struct pair *p;
	int cfd, sfd = -1, one = 1;

	cfd = accept4(lfd, (struct sockaddr *)&peer, &len,
	    SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd == -1)
		return;
	if (br.npairs == BRIDGE_MAX || (p = calloc(1, sizeof(*p))) == NULL) {
		close(cfd);
		return;
	}
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons((uint16_t)br.target);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	len = sizeof(me);
	/* Loopback: the connect completes (or fails) at once. */
	if ((sfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(sfd, (struct sockaddr *)&to, sizeof(to)) == -1 ||
	    getsockname(sfd, (struct sockaddr *)&me, &len) == -1) {
		log_msg(NULL, "bridge: cannot reach the internal listener: %s",
		    strerror(errno));
		if (sfd >= 0)
			close(sfd);
		close(cfd);
		free(p);
		return;
	}
	fcntl(sfd, F_SETFL, O_NONBLOCK);
	setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	p->fd[0] = cfd;
	p->fd[1] = sfd;
	p->lport = ntohs(me.sin_port);
	inet_ntop(AF_INET6, &peer.sin6_addr, p->addr, sizeof(p->addr));
	p->port = ntohs(peer.sin6_port);
	len = sizeof(here);
	if (getsockname(cfd, (struct sockaddr *)&here, &len) == 0)
		p->sport = ntohs(here.sin6_port);
	pthread_mutex_lock(&br.lock);
	br.pairs[br.npairs++] = p;
	pthread_mutex_unlock(&br.lock);
}

/* Move bytes of pair p as poll allowed; -1 when the pair is finished. */
static int
pump(struct pair *p, const short *rev)
{
	struct half *h;
	ssize_t n;
	int s, d;

	for (s = 0; s < 2; s++) {
		d = 1 - s;
		h = &p->h[s];
		if (h->len == 0 && !h->eof && (rev[s] & (POLLIN | POLLHUP |
		    POLLERR))) {
			n = read(p->fd[s], h->buf, sizeof(h->buf));
			if (n > 0) {
				h->off = 0;
				h->len = (size_t)n;
			} else if (n == 0) {
				h->eof = 1;
			} else if (errno != EAGAIN && errno != EINTR)
				return -1;
		}
		if (h->len > 0) {
			n = write(p->fd[d], h->buf + h->off, h->len);
			if (n > 0) {
				h->off += (size_t)n;
				h->len -= (size_t)n;
			} else if (n == -1 && errno != EAGAIN &&
			    errno != EINTR)
				return -1;
		}
		if (h->eof == 1 && h->len == 0) {
			shutdown(p->fd[d], SHUT_WR);
			h->eof = 2;
		}
	}
	return p->h[1].eof == 2 ? -1 : 0;
}

static void *
run(void *arg)
{
	struct pollfd *pfd;
	int i, n, k, nl;

	(void)arg;
	pfd = calloc(1 + MAX_LISTEN + 2 * BRIDGE_MAX, sizeof(*pfd));
	if (pfd == NULL)
		return NULL;
	for (;;) {
		n = 0;
		pfd[n].fd = br.wake[0];
		pfd[n++].events = POLLIN;
		for (i = 0; i < br.nlfd; i++) {
			pfd[n].fd = br.lfd[i];
			pfd[n++].events = POLLIN;
		}
		nl = n;
		for (i = 0; i < br.npairs; i++)
			for (k = 0; k < 2; k++) {
				struct pair *p = br.pairs[i];

				pfd[n].fd = p->fd[k];
				/* read a side while its buffer is empty;
				   write it while the other side's is full */
				pfd[n].events = (p->h[k].len == 0 &&
				    !p->h[k].eof ? POLLIN : 0) |
				    (p->h[1 - k].len > 0 ? POLLOUT : 0);
				n++;
			}
		if (poll(pfd, (nfds_t)n, -1) == -1 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		for (i = br.npairs - 1; i >= 0; i--) {
			short rev[2];

			rev[0] = pfd[nl + 2 * i].revents;
			rev[1] = pfd[nl + 2 * i + 1].revents;
			if ((rev[0] | rev[1]) && pump(br.pairs[i], rev) == -1)
				drop(i);
		}
		for (i = 1; i < nl; i++)
			if (pfd[i].revents & POLLIN)
				accept_one(pfd[i].fd);
	}
	free(pfd);
	return NULL;
}

int
bridge_start(int target)
{
	if (br.nlfd == 0)
		return 0;
	br.target = target;
	if (pipe2(br.wake, O_CLOEXEC) == -1 ||
	    (errno = pthread_create(&br.thread, NULL, run, NULL)) != 0) {
		log_msg(NULL, "bridge_start: %s", strerror(errno));
		return -1;
	}
	pthread_setname_np(br.thread, "cg-bridge");
	br.running = 1;
	return 0;
}

int
bridge_peer(int lport, char *addr, size_t len, int *port, int *sport)
{
	int i, found = -1;

	pthread_mutex_lock(&br.lock);
	for (i = 0; i < br.npairs; i++)
		if (br.pairs[i]->lport == lport) {
			snprintf(addr, len, "%s", br.pairs[i]->addr);
			*port = br.pairs[i]->port;
			*sport = br.pairs[i]->sport;
			found = 0;
			break;
		}
	pthread_mutex_unlock(&br.lock);
	return found;
}

void
bridge_stop(void)
{
	int i;

	if (br.running) {
		(void)write(br.wake[1], "x", 1);
		pthread_join(br.thread, NULL);
		br.running = 0;
	}
	while (br.npairs > 0)
		drop(br.npairs - 1);
	for (i = 0; i < br.nlfd; i++)
		close(br.lfd[i]);
	br.nlfd = 0;
	if (br.wake[0] >= 0) {
		close(br.wake[0]);
		close(br.wake[1]);
	}
}
