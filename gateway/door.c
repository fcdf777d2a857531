/*
 * door.c: the front door.  Every client connection is held here, without
 * a thread, until it has a whole request to give.
 *
 * civetweb serves each connection on one of its worker threads for as
 * long as the connection lasts, so a few thousand clients that send
 * nothing, send a head one line every few seconds, or stay idle between
 * requests would hold every thread and shut everyone else out.  So
 * cgigate listens itself, with one thread and epoll, and civetweb
 * listens only on an internal loopback port that this thread alone
 * connects to.  A connection costs a small struct while it is idle, and
 * its head's bytes while they arrive (up to DOOR_HEAD_MAX).  Once the
 * head is whole and its framing vetted (reqhead.c), and, where the route
 * buffers request bodies, once the body has arrived too (in memory up to
 * DOOR_HEAD_MAX, then in an unlinked temporary file), the request is
 * given to civetweb over a fresh internal connection: bytes at loopback
 * speed, so a worker thread and the route's slot are held only while
 * there is work.  The response is relayed back and read just enough
 * (framing.c) to know where it ends; then the internal connection is
 * closed, which frees civetweb's thread, and the client's connection
 * waits here for its next request.
 *
 * Deadlines (cgigate.conf(5)): header_timeout for a whole request head,
 * keepalive_timeout for the next request's first byte, body_timeout for
 * any progress of a request body.  Limits: max_connections in all (a
 * client past it gets 503 and a close at once, not a silent wait in the
 * kernel's queue) and max_client_connections per client address.  Each
 * refusal and expiry is logged and gets a row in the timings database.
 *
 * Requests wait here for one of civetweb's threads (at most threads are
 * given to it at once) up to DOOR_WAIT_US, then get 503.  Answers of the
 * door's own (400, 408, 413, 431, 503) close the connection, lingering:
 * the write side is shut and what the client still sends is read and
 * dropped for up to DOOR_LINGER_US, so that a close with unread bytes
 * does not reset the answer away before the client reads it.
 *
 * civetweb sees every request come from 127.0.0.1; door_peer gives the
 * client's own address by the internal connection's local port, and a
 * connection to the internal port that the door did not make is refused
 * (http.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "cgigate.h"

#define DOOR_HEAD_MAX	16384		/* a head, and body bytes in memory */
#define DOOR_IN_MAX	(2 * DOOR_HEAD_MAX)	/* with pipelined bytes */
#define DOOR_OUTBUF	65536		/* response bytes on their way */
#define DOOR_RCVBUF	131072		/* the kernel's, from civetweb */
#define DOOR_WAIT_US	5000000LL	/* for one of civetweb's threads */
#define DOOR_LINGER_US	2000000LL
#define DOOR_TICK_MS	100
#define DOOR_SPARE	64		/* response buffers kept for reuse */
#define DOOR_PARK_US	1000000LL	/* an idle client keeps its thread */
#define DOOR_FIELDS	64		/* civetweb's MG_MAX_HEADERS */

enum dstate {
	D_HEAD,		/* reading a request head; idle while inlen is 0 */
	D_SPOOL,	/* reading a request body before it goes on */
	D_QUEUE,	/* whole, waiting for one of civetweb's threads */
	D_RELAY,	/* given to civetweb: request out, response back */
	D_LINGER	/* our own answer out, the rest of the input dropped */
};

struct dconn {
	int		 fd;		/* the client's */
	int		 bfd;		/* to civetweb, or -1 */
	enum dstate	 st;
	uint64_t	 deadline;	/* of this state; 0: none */
	uint64_t	 t0;		/* the head's first byte */
	int		 slot;		/* in door.peers while given, or -1 */
	struct dconn	*qnext;		/* D_QUEUE order */
	struct dconn	*prev, *next;	/* all connections */
	/* the client's bytes: [ioff, reqend) go to civetweb now */
	char		*in;
	size_t		 inlen, incap, ioff, reqend;
	size_t		 headlen;	/* the current request's, once whole */
	int		 nreq;		/* requests served on it */
	int		 head_req;	/* HEAD: no response body */
	int		 spooled;	/* body read before going on */
	int		 client_eof;	/* it sent FIN */
	int		 eof_sent;	/* and civetweb was told */
	int		 stalled;	/* body_timeout passed while given */
	int		 connecting;	/* bfd's connect in progress */
	int		 idle;		/* between requests, nothing read */
	int		 counted;	/* in door.acount */
	int		 dead;		/* dropped: freed after this batch */
	uint32_t	 cmask, bmask;	/* what epoll waits for on each side */
	/* parked: between requests, its internal connection kept */
	struct dconn	*pprev, *pnext;
	uint64_t	 parked;	/* since when, or 0 */
	struct framing	 body;		/* the request body */
	long long	 max_body;	/* the route's, -1: not checked here */
	int		 sfd;		/* spool file, or -1 */
	long long	 slen, soff;
	/* response bytes: [ooff, rpos) may go to the client */
	char		*out;
	size_t		 ooff, olen, rpos;
	int		 rhead;		/* the response head is parsed */
	int		 rclose;	/* it ends the connection */
	long long	 sent;		/* response bytes to the client */
	struct framing	 resp;
	/* who */
	char		 addr[INET6_ADDRSTRLEN];
	int		 port, sport;
	unsigned	 ahash;
	char		 method[16];
	char		 path[256];
	char		 route[128];	/* when it names one */
};

struct peer {
	int		 lport;		/* 0: free */
	char		 addr[INET6_ADDRSTRLEN];
	int		 port, sport;
	atomic_int	 stalled;
};

/* Connections per client address, for max_client_connections. */
struct acount {
	struct acount	*next;
	char		 addr[INET6_ADDRSTRLEN];
	int		 n;
};
#define ABUCKETS	4096

static struct {
	pthread_t	 thread;
	int		 running;
	int		 ep;
	int		 lfd[MAX_LISTEN];
	int		 lport[MAX_LISTEN];
	int		 nlfd;
	int		 wake[2];
	int		 reserve;	/* a descriptor kept for EMFILE */
	uint64_t	 emfile_logged;
	int		 target;	/* civetweb's internal port */
	int		 threads;	/* given at most at once */
	int		 given;
	_Atomic(const struct config *) cfg;
	atomic_int	 draining;
	struct dconn	*all;
	struct dconn	*dead;		/* dropped during this batch */
	int		 nconns;
	struct dconn	*qhead, *qtail;	/* D_QUEUE */
	struct dconn	*phead, *ptail;	/* parked, oldest first */
	int		 nqueue, nspool;
	char		*spare[DOOR_SPARE];
	int		 nspare;
	char		 scratch[65536];
	struct acount	*acount[ABUCKETS];
	/* given connections, for door_peer */
	pthread_mutex_t	 lock;
	struct peer	*peers;
	int		 npeers;
	/* counters for the metrics */
	atomic_ullong	 n_accepted, n_full, n_per_client, n_head_to,
			 n_idle_to, n_body_to, n_wait_to, n_bad, n_spooled;
	atomic_int	 open, idle;
} door = {
	.ep = -1,
	.wake = { -1, -1 },
	.reserve = -1,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

int
door_listen(const char *addr, int *port)
{
	struct addrinfo hints, *res;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[128];
	const char *colon = strrchr(addr, ':'), *h = addr;
	size_t n;
	int fd, on = 1;

	if (door.nlfd == MAX_LISTEN || colon == NULL) {
		errno = EINVAL;
		return -1;
	}
	n = (size_t)(colon - addr);
	if (addr[0] == '[') {
		if (n < 2 || colon[-1] != ']') {
			errno = EINVAL;
			return -1;
		}
		h = addr + 1;
		n -= 2;
	}
	if (n >= sizeof(host)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = addr[0] == '[' ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(n > 0 ? host : NULL, colon + 1, &hints, &res) != 0) {
		errno = EINVAL;
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (fd == -1) {
		freeaddrinfo(res);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(fd, 4096) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		n = (size_t)errno;
		close(fd);
		freeaddrinfo(res);
		errno = (int)n;
		return -1;
	}
	freeaddrinfo(res);
	*port = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	door.lport[door.nlfd] = *port;
	door.lfd[door.nlfd++] = fd;
	return 0;
}

/* Buffers */

static char *
out_get(void)
{
	if (door.nspare > 0)
		return door.spare[--door.nspare];
	return malloc(DOOR_OUTBUF);
}

static void
out_put(char *b)
{
	if (b == NULL)
		return;
	if (door.nspare < DOOR_SPARE)
		door.spare[door.nspare++] = b;
	else
		free(b);
}

/*
 * Room for need more input bytes at inlen, moving what is left of the
 * input to the front first.  -1 past DOOR_IN_MAX or on ENOMEM.
 */
static int
in_room(struct dconn *c, size_t need)
{
	size_t cap;
	char *p;

	if (c->ioff > 0 && c->inlen + need > c->incap) {
		memmove(c->in, c->in + c->ioff, c->inlen - c->ioff);
		c->inlen -= c->ioff;
		c->reqend -= c->reqend >= c->ioff ? c->ioff : c->reqend;
		c->ioff = 0;
	}
	if (c->inlen + need <= c->incap)
		return 0;
	if (c->inlen + need > DOOR_IN_MAX)
		return -1;
	for (cap = c->incap ? c->incap : 1024; cap < c->inlen + need; cap *= 2)
		;
	if (cap > DOOR_IN_MAX)
		cap = DOOR_IN_MAX;
	if ((p = realloc(c->in, cap)) == NULL)
		return -1;
	c->in = p;
	c->incap = cap;
	return 0;
}

static void
in_free(struct dconn *c)
{
	free(c->in);
	c->in = NULL;
	c->inlen = c->incap = c->ioff = c->reqend = 0;
}

/* Per-client counts */

static unsigned
ahash(const char *a)
{
	unsigned h = 2166136261u;

	for (; *a != '\0'; a++)
		h = (h ^ (unsigned char)*a) * 16777619u;
	return h % ABUCKETS;
}

/* Count c's address in (delta 1) or out (-1); the count it has now. */
static int
acount_add(struct dconn *c, int delta)
{
	struct acount **pp, *a;

	for (pp = &door.acount[c->ahash]; (a = *pp) != NULL; pp = &a->next)
		if (strcmp(a->addr, c->addr) == 0)
			break;
	if (a == NULL) {
		if (delta < 0 || (a = calloc(1, sizeof(*a))) == NULL)
			return 0;
		snprintf(a->addr, sizeof(a->addr), "%s", c->addr);
		a->next = NULL;
		*pp = a;
	}
	a->n += delta;
	if (a->n > 0)
		return a->n;
	*pp = a->next;
	free(a);
	return 0;
}

/* Rows and lines */

static void
row(struct dconn *c, int status, const char *why)
{
	struct timing t;
	char id[24];

	http_reqid(id, sizeof(id));
	log_msg(id, "%s port %d%s%s%s%s -> %d: %s", c->addr, c->port,
	    c->method[0] ? ": " : "", c->method, c->method[0] ? " " : "",
	    c->path, status, why);
	memset(&t, 0, sizeof(t));
	t.ts = clk_wall();
	t.exit_status = -1;
	t.connect_us = -1;
	t.status = status;
	t.total_us = c->t0 ? (long long)(clk_now_us() - c->t0) : 0;
	t.bytes_in = (long long)(c->inlen - c->ioff) + c->slen;
	snprintf(t.request_id, sizeof(t.request_id), "%s", id);
	snprintf(t.mode, sizeof(t.mode), "http");
	snprintf(t.route, sizeof(t.route), "%s", c->route);
	snprintf(t.method, sizeof(t.method), "%s", c->method);
	snprintf(t.path, sizeof(t.path), "%s", c->path);
	snprintf(t.error, sizeof(t.error), "%s", why);
	timelog_push(&t);
	if (status != 0)
		stats_leave(&t, -1);	/* 0: nothing was asked */
}

/* Connections */

static void
ep_set(struct dconn *c, int fd, uint32_t ev)
{
	struct epoll_event e;

	memset(&e, 0, sizeof(e));
	e.events = ev;
	uint32_t *m = fd == c->bfd ? &c->bmask : &c->cmask;

	if (*m == ev)
		return;		/* one system call less per relay step */
	*m = ev;
	/* the low bit tells the sides apart */
	e.data.u64 = (uint64_t)(uintptr_t)c | (fd == c->bfd && fd >= 0);
	if (epoll_ctl(door.ep, EPOLL_CTL_MOD, fd, &e) == -1 && errno == ENOENT)
		epoll_ctl(door.ep, EPOLL_CTL_ADD, fd, &e);
}

/*
 * Out of epoll, then closed.  A close alone would not do: a handler
 * being spawned holds a copy of every descriptor until its exec, and
 * epoll forgets a socket only once no copy is left, so its events would
 * still come, for a connection already freed.
 */
static void
ep_close(int fd)
{
	epoll_ctl(door.ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
}

static void
set_idle(struct dconn *c, int idle)
{
	if (c->idle != idle)
		atomic_fetch_add(&door.idle, idle ? 1 : -1);
	c->idle = idle;
}

static void
set_state(struct dconn *c, enum dstate st)
{
	if (c->st == D_SPOOL && st != D_SPOOL)
		door.nspool--;
	if (st == D_SPOOL && c->st != D_SPOOL)
		door.nspool++;
	c->st = st;
	if (st != D_HEAD)
		set_idle(c, 0);
}

static void
unqueue(struct dconn *c)
{
	struct dconn **pp, *prev = NULL;

	for (pp = &door.qhead; *pp != NULL; prev = *pp, pp = &(*pp)->qnext)
		if (*pp == c) {
			*pp = c->qnext;
			if (door.qtail == c)
				door.qtail = prev;
			door.nqueue--;
			break;
		}
	c->qnext = NULL;
}

/* Parking: a client between requests keeps its internal connection. */
static void
unpark(struct dconn *c)
{
	if (c->parked == 0)
		return;
	if (c->pprev != NULL)
		c->pprev->pnext = c->pnext;
	else
		door.phead = c->pnext;
	if (c->pnext != NULL)
		c->pnext->pprev = c->pprev;
	else
		door.ptail = c->pprev;
	c->pprev = c->pnext = NULL;
	c->parked = 0;
}

static void
park(struct dconn *c)
{
	c->parked = clk_now_us();
	c->pnext = NULL;
	c->pprev = door.ptail;
	if (door.ptail != NULL)
		door.ptail->pnext = c;
	else
		door.phead = c;
	door.ptail = c;
}

/*
 * Close c's internal connection (parked or not), which frees its thread,
 * and forget the client behind it.
 */
static void
unpark_close(struct dconn *c)
{
	unpark(c);
	if (c->bfd >= 0) {
		ep_close(c->bfd);
		c->bfd = -1;
		c->bmask = 0;
		door.given--;
	}
	if (c->slot >= 0) {
		pthread_mutex_lock(&door.lock);
		door.peers[c->slot].lport = 0;
		pthread_mutex_unlock(&door.lock);
		c->slot = -1;
	}
}

/* Give back the response buffer and the spool of the last exchange. */
static void
put_buffers(struct dconn *c)
{
	out_put(c->out);
	c->out = NULL;
	c->ooff = c->olen = c->rpos = 0;
	if (c->sfd >= 0) {
		close(c->sfd);
		c->sfd = -1;
	}
	c->slen = c->soff = 0;
}

/* Give back what the current exchange with civetweb holds. */
static void
detach(struct dconn *c)
{
	if (c->st == D_QUEUE)
		unqueue(c);
	unpark_close(c);
	put_buffers(c);
}

static void
drop(struct dconn *c)
{
	if (c->dead)
		return;
	detach(c);
	set_state(c, D_LINGER);
	ep_close(c->fd);
	in_free(c);
	if (c->counted)
		acount_add(c, -1);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		door.all = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	door.nconns--;
	atomic_fetch_sub(&door.open, 1);
	c->dead = 1;
	c->next = door.dead;	/* events for it may still be in the batch */
	door.dead = c;
}

/* Close after what was written, reading what still comes until EOF. */
static void
linger(struct dconn *c)
{
	detach(c);
	set_state(c, D_LINGER);
	shutdown(c->fd, SHUT_WR);
	in_free(c);
	c->deadline = clk_now_us() + DOOR_LINGER_US;
	ep_set(c, c->fd, EPOLLIN | EPOLLRDHUP);
}

/* Answer with status and close. */
static void
answer(struct dconn *c, int status, const char *why, const char *extra)
{
	const char *text = httpout_reason(status);
	char buf[512];
	int n;

	row(c, status, why);
	n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\nServer: "
	    CGIGATE_NAME "\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "%sContent-Length: %zu\r\nConnection: close\r\n\r\n%d %s\n",
	    status, text, extra ? extra : "", strlen(text) + 5, status, text);
	/*
	 * Only ever before any response byte went out on this connection
	 * for this request, so the socket's buffer has room: one write.
	 */
	if (write(c->fd, buf, (size_t)n) != n) {
		drop(c);
		return;
	}
	linger(c);
}

/*
 * No descriptor left: the connection would wait in the kernel's queue,
 * and the listener stay readable for ever.  A descriptor kept in reserve
 * is given up to take it, answer 503 and close, then taken back.
 */
static void
out_of_fds(int lfd)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Retry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n"
	    "\r\n";
	uint64_t now = clk_now_us();
	int fd;

	if (now - door.emfile_logged >= 1000000) {
		log_msg(NULL, "door: out of file descriptors (%s): new "
		    "connections get 503", strerror(errno));
		door.emfile_logged = now;
	}
	atomic_fetch_add(&door.n_full, 1);
	if (door.reserve >= 0) {
		close(door.reserve);
		door.reserve = -1;
	}
	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC |
	    SOCK_NONBLOCK)) >= 0) {
		(void)write(fd, busy, sizeof(busy) - 1);
		close(fd);
	}
	door.reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void
accept_all(int lfd, int sport)
{
	const struct config *cfg = atomic_load(&door.cfg);
	struct sockaddr_storage ss;
	socklen_t len;
	struct dconn *c;
	int fd, one = 1;

	for (;;) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd == -1 && (errno == EMFILE || errno == ENFILE)) {
			out_of_fds(lfd);
			return;
		}
		if (fd == -1)
			return;
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->bfd = c->sfd = c->slot = -1;
		c->sport = sport;
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, c->addr,
			    sizeof(c->addr));
			c->port = ntohs(s6->sin6_port);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, c->addr,
			    sizeof(c->addr));
			c->port = ntohs(s4->sin_port);
		}
		c->ahash = ahash(c->addr);
		c->t0 = clk_now_us();
		c->next = door.all;
		if (door.all != NULL)
			door.all->prev = c;
		door.all = c;
		door.nconns++;
		atomic_fetch_add(&door.open, 1);
		atomic_fetch_add(&door.n_accepted, 1);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->st = D_HEAD;
		if (door.nconns > cfg->max_connections) {
			atomic_fetch_add(&door.n_full, 1);
			answer(c, 503, "max_connections reached",
			    "Retry-After: 1\r\n");
			continue;
		}
		if (cfg->max_client_connections > 0) {
			c->counted = 1;
			if (acount_add(c, 1) > cfg->max_client_connections) {
				atomic_fetch_add(&door.n_per_client, 1);
				answer(c, 503, "max_client_connections "
				    "reached for this address",
				    "Retry-After: 1\r\n");
				continue;
			}
		}
		c->deadline = c->t0 + (uint64_t)cfg->header_timeout_us;
		ep_set(c, fd, EPOLLIN | EPOLLRDHUP);
	}
}

/* Request heads */

/* The path of a request target, for the route, into out. */
static void
target_path(const char *t, char *out, size_t len)
{
	const char *s = t, *e;

	if (strncasecmp(s, "http://", 7) == 0 ||
	    strncasecmp(s, "https://", 8) == 0) {
		s = strchr(s + 8, '/');
		if (s == NULL)
			s = "/";
	}
	e = s + strcspn(s, "?#");
	snprintf(out, len, "%.*s", (int)(e - s), s);
}

/*
 * Does the request's route want its body read before it goes on?  Sets
 * c->max_body.  Paths that are no handler route stream: civetweb answers
 * them without reading much.
 */
static int
wants_spool(struct dconn *c, const char *target, const struct config *cfg)
{
	static char raw[4096], clean[4096], name[ROUTE_NAME_MAX],
	    file[4096];
	const struct route_conf *rc, *remote;
	const char *why, *pi;
	struct route rt;
	int found;

	c->max_body = -1;
	if (target[0] != '/' && strncasecmp(target, "http", 4) != 0)
		return 0;
	target_path(target, raw, sizeof(raw));
	if (route_clean_path(raw, clean, sizeof(clean), &why) == -1)
		return 0;
	found = scan_lookup(clean, &rt, name, file, &pi) == 0;
	remote = config_remote(cfg, clean);
	if (remote != NULL && (!found ||
	    strlen(remote->prefix) >= strlen(rt.name)))
		rc = remote;
	else if (found)
		rc = config_route(cfg, rt.name);
	else
		return 0;
	snprintf(c->route, sizeof(c->route), "%s", rc == remote ?
	    remote->prefix : rt.name);
	c->max_body = rc->max_body;
	return rc->request_buffering;
}

/*
 * Put the head civetweb gets in place of the one the client sent: the
 * fields as the door read them, one per line with CRLF, so that the two
 * cannot read it differently; an absolute-form target in origin form with
 * its authority as the Host (RFC 9112 3.2.2); without the Expect the door
 * answered itself.  0, or -1 when it does not fit.
 */
static int
rewrite_head(struct dconn *c, const struct reqline *rl,
    const struct cgi_header *f, int nf, int no_expect)
{
	static char h[DOOR_HEAD_MAX + 1024];
	const char *target = rl->target, *auth = NULL;
	size_t n, alen = 0, k;
	int i;

	if (strncasecmp(target, "http://", 7) == 0 ||
	    strncasecmp(target, "https://", 8) == 0) {
		auth = strchr(target, '/') + 2;
		alen = strcspn(auth, "/?#");
		target = auth + alen;
		if (*target != '/') {
			target = "/";	/* "http://host" or "http://host?q" */
		}
	}
	n = (size_t)snprintf(h, sizeof(h), "%s %s HTTP/%s\r\n", rl->method,
	    target, rl->version);
	if (auth != NULL && n < sizeof(h))
		n += (size_t)snprintf(h + n, sizeof(h) - n, "Host: %.*s\r\n",
		    (int)alen, auth);
	for (i = 0; i < nf && n < sizeof(h); i++) {
		if ((auth != NULL && strcasecmp(f[i].name, "Host") == 0) ||
		    (no_expect && strcasecmp(f[i].name, "Expect") == 0))
			continue;
		n += (size_t)snprintf(h + n, sizeof(h) - n, "%s: %s\r\n",
		    f[i].name, f[i].value);
	}
	if (n + 2 >= sizeof(h) || n + 2 >= DOOR_HEAD_MAX)
		return -1;
	memcpy(h + n, "\r\n", 2);
	n += 2;
	if (n > c->headlen && in_room(c, n - c->headlen) == -1)
		return -1;
	k = c->inlen - c->ioff - c->headlen;	/* what follows the head */
	memmove(c->in + c->ioff + n, c->in + c->ioff + c->headlen, k);
	memcpy(c->in + c->ioff, h, n);
	c->inlen = c->ioff + n + k;
	c->headlen = n;
	return 0;
}

/*
 * The head at ioff (headlen bytes) is whole: vet it and decide what
 * happens to the body.  0 to go on, -1 when answered.
 */
static int
head_done(struct dconn *c, const struct config *cfg)
{
	static char copy[DOOR_HEAD_MAX];
	struct cgi_header f[DOOR_FIELDS];
	unsigned char spaced[DOOR_FIELDS];
	struct reqhead_info ri;
	struct reqline rl;
	enum reqhead_end end;
	int nf, st;

	memcpy(copy, c->in + c->ioff, c->headlen);
	framing_init(&c->body, FRAMING_NONE, 0);
	c->head_req = c->spooled = 0;
	c->max_body = -1;
	if (reqhead_split(copy, c->headlen, &rl, f, DOOR_FIELDS, &nf, spaced,
	    &end) != 0)
		return 0;	/* no request line: civetweb answers it */
	snprintf(c->method, sizeof(c->method), "%s", rl.method);
	target_path(rl.target, c->path, sizeof(c->path));
	c->head_req = strcmp(rl.method, "HEAD") == 0;
	if ((st = reqhead_vet(rl.version, f, nf, spaced, end, &ri)) != 0) {
		atomic_fetch_add(&door.n_bad, 1);
		answer(c, st, ri.why, NULL);
		return -1;
	}
	if (ri.chunked)
		framing_init(&c->body, FRAMING_CHUNKED, 0);
	else if (ri.content_length > 0)
		framing_init(&c->body, FRAMING_SIZED, ri.content_length);
	c->spooled = !c->body.done && wants_spool(c, rl.target, cfg);
	if (c->spooled && c->max_body >= 0 &&
	    ri.content_length > c->max_body) {
		answer(c, 413, "request body over max_body", NULL);
		return -1;
	}
	if (rewrite_head(c, &rl, f, nf, c->spooled && ri.expect_continue) ==
	    -1) {
		answer(c, 431, "request head too large", NULL);
		return -1;
	}
	/* The door reads the body, so it answers the expectation. */
	if (c->spooled && ri.expect_continue) {
		static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";

		if (write(c->fd, line, sizeof(line) - 1) !=
		    (ssize_t)sizeof(line) - 1) {
			drop(c);
			return -1;
		}
	}
	return 0;
}

/* The body's chunked framing is malformed. */
static void
bad_body(struct dconn *c)
{
	char why[128];

	atomic_fetch_add(&door.n_bad, 1);
	snprintf(why, sizeof(why), "malformed chunked request body (%s)",
	    c->body.error);
	answer(c, 400, why, NULL);
}

/* Body bytes in c->in after reqend: take what belongs to the body. */
static void
body_in_memory(struct dconn *c)
{
	if (c->body.done || c->body.error != NULL)
		return;
	c->reqend += framing_feed(&c->body, c->in + c->reqend,
	    c->inlen - c->reqend);
}

static void	 begin_exchange(struct dconn *);

/* A whole request: to civetweb at once if parked, else in the queue. */
static void
enqueue(struct dconn *c)
{
	if (c->parked) {
		unpark(c);
		begin_exchange(c);
		return;
	}
	set_state(c, D_QUEUE);
	c->deadline = clk_now_us() + DOOR_WAIT_US;
	c->qnext = NULL;
	if (door.qtail != NULL)
		door.qtail->qnext = c;
	else
		door.qhead = c;
	door.qtail = c;
	door.nqueue++;
	/* Nothing is read from the client while it waits. */
	ep_set(c, c->fd, c->client_eof ? 0 : EPOLLRDHUP);
}

/* Is there a whole head at ioff?  Go on with it if so. */
static void
try_head(struct dconn *c)
{
	const struct config *cfg = atomic_load(&door.cfg);
	char *s, *e = NULL, *p;
	size_t n;

	/* RFC 9112 2.2: empty lines before a request line are ignored. */
	while (c->ioff < c->inlen && (c->in[c->ioff] == '\r' ||
	    c->in[c->ioff] == '\n'))
		c->ioff++;
	s = c->in + c->ioff;
	n = c->inlen - c->ioff;
	for (p = s; n > 0 && (p = memchr(p, '\n', (size_t)(s + n - p))) !=
	    NULL; p++) {
		if (p + 1 < s + n && p[1] == '\n') {
			e = p + 2;
			break;
		}
		if (p + 2 < s + n && p[1] == '\r' && p[2] == '\n') {
			e = p + 3;
			break;
		}
	}
	if ((e == NULL && n >= DOOR_HEAD_MAX) ||
	    (e != NULL && (size_t)(e - s) >= DOOR_HEAD_MAX)) {
		atomic_fetch_add(&door.n_bad, 1);
		answer(c, 431, "request head larger than 16 KB", NULL);
		return;
	}
	if (e == NULL) {
		if (c->client_eof) {
			row(c, 400, "client closed in the middle of a "
			    "request head");
			drop(c);
		}
		return;
	}
	c->headlen = (size_t)(e - s);
	if (head_done(c, cfg) == -1)
		return;
	c->reqend = c->ioff + c->headlen;
	body_in_memory(c);
	if (c->body.error != NULL) {
		bad_body(c);
		return;
	}
	if (c->spooled && !c->body.done) {
		if (c->client_eof) {
			row(c, 499, "client went away while sending the "
			    "body");
			drop(c);
			return;
		}
		unpark_close(c);	/* no thread held while it comes */
		set_state(c, D_SPOOL);
		atomic_fetch_add(&door.n_spooled, 1);
		c->deadline = clk_now_us() + (uint64_t)cfg->body_timeout_us;
		return;
	}
	enqueue(c);
}

/* Read what the client sent, up to want bytes.  0, or -1: it is gone. */
static int
read_in(struct dconn *c, size_t want)
{
	ssize_t n;

	if (c->inlen - c->ioff + want > DOOR_IN_MAX)
		want = DOOR_IN_MAX - (c->inlen - c->ioff);
	if (want == 0)
		return 0;	/* full: read later */
	if (in_room(c, want) == -1)
		return -1;
	n = read(c->fd, c->in + c->inlen, want);
	if (n > 0)
		c->inlen += (size_t)n;
	else if (n == 0)
		c->client_eof = 1;
	else if (errno != EAGAIN && errno != EINTR)
		return -1;
	return 0;
}

static void
on_head(struct dconn *c)
{
	const struct config *cfg = atomic_load(&door.cfg);
	size_t before = c->inlen - c->ioff;

	if (read_in(c, 4096) == -1) {
		drop(c);
		return;
	}
	if (before == 0 && c->inlen > c->ioff) {
		set_idle(c, 0);
		c->t0 = clk_now_us();
		c->deadline = c->t0 + (uint64_t)cfg->header_timeout_us;
	}
	if (c->inlen > c->ioff)
		try_head(c);
	else if (c->client_eof)
		drop(c);	/* closed between requests: all is well */
}

/* A spool file, unlinked from the start. */
static int
spool_open(void)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) == -1)
		log_msg(NULL, "door: spool file in %s: %s", dir,
		    strerror(errno));
	return fd;
}

/* Body bytes into memory while they fit beside the head, then a file. */
static void
on_spool(struct dconn *c)
{
	const struct config *cfg = atomic_load(&door.cfg);
	size_t room = DOOR_IN_MAX - (c->inlen - c->ioff), k;
	ssize_t n;

	if (room > sizeof(door.scratch))
		room = sizeof(door.scratch);
	n = room == 0 ? 0 : read(c->fd, door.scratch, room);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		row(c, 499, "client went away while sending the body");
		drop(c);
		return;
	}
	c->deadline = clk_now_us() + (uint64_t)cfg->body_timeout_us;
	k = framing_feed(&c->body, door.scratch, (size_t)n);
	if (c->body.error != NULL) {
		bad_body(c);
		return;
	}
	if (c->max_body >= 0 && c->body.data > c->max_body) {
		answer(c, 413, "request body over max_body", NULL);
		return;
	}
	if (c->sfd < 0 && c->inlen + k <= c->ioff + DOOR_HEAD_MAX) {
		if (in_room(c, k) == -1) {
			answer(c, 503, "out of memory", "Retry-After: 1\r\n");
			return;
		}
		memcpy(c->in + c->inlen, door.scratch, k);
		c->inlen += k;
		c->reqend += k;
	} else if (k > 0) {
		if (c->sfd < 0 && (c->sfd = spool_open()) == -1) {
			answer(c, 503, "cannot spool the request body",
			    "Retry-After: 1\r\n");
			return;
		}
		if (write(c->sfd, door.scratch, k) != (ssize_t)k) {
			log_msg(NULL, "door: spool file: %s", strerror(errno));
			answer(c, 503, "cannot spool the request body",
			    "Retry-After: 1\r\n");
			return;
		}
		c->slen += (long long)k;
	}
	if ((size_t)n > k) {
		/* the next request, sent early: room was kept for it */
		if (in_room(c, (size_t)n - k) == -1) {
			drop(c);
			return;
		}
		memcpy(c->in + c->inlen, door.scratch + k, (size_t)n - k);
		c->inlen += (size_t)n - k;
	}
	if (c->body.done)
		enqueue(c);
}

/* Given to civetweb */

static void	 relay(struct dconn *, uint32_t, uint32_t);

/* Give waiting requests to civetweb while it has threads free. */
static void
give_all(void)
{
	struct sockaddr_in to, me;
	socklen_t len;
	struct dconn *c;
	int i, one = 1, rcvbuf = DOOR_RCVBUF;

	/* Parked clients give their threads back to requests that wait. */
	while (door.qhead != NULL && door.given >= door.threads &&
	    door.phead != NULL)
		unpark_close(door.phead);
	while (door.qhead != NULL && door.given < door.threads) {
		c = door.qhead;
		unqueue(c);
		set_state(c, D_RELAY);
		c->deadline = 0;
		c->bfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0);
		if (c->bfd == -1) {
			log_msg(NULL, "door: cannot reach the workers: %s",
			    strerror(errno));
			answer(c, 503, "cannot reach the workers",
			    "Retry-After: 1\r\n");
			continue;
		}
		door.given++;
		setsockopt(c->bfd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		/*
		 * A fixed window toward civetweb: left to grow (up to
		 * tcp_rmem's 32 MB here), it would soak up a whole answer
		 * that a slow client reads, and the handler's timeout would
		 * never see the client was slow.  Set before connect, so the
		 * window scale follows it.
		 */
		setsockopt(c->bfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		    sizeof(rcvbuf));
		memset(&to, 0, sizeof(to));
		to.sin_family = AF_INET;
		to.sin_port = htons((uint16_t)door.target);
		to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		c->connecting = 0;
		if (connect(c->bfd, (struct sockaddr *)&to, sizeof(to)) == -1) {
			if (errno != EINPROGRESS) {
				log_msg(NULL, "door: connect to the internal "
				    "port: %s", strerror(errno));
				answer(c, 503, "cannot reach the workers",
				    "Retry-After: 1\r\n");
				continue;
			}
			c->connecting = 1;
		}
		len = sizeof(me);
		getsockname(c->bfd, (struct sockaddr *)&me, &len);
		pthread_mutex_lock(&door.lock);
		for (i = 0; i < door.npeers && door.peers[i].lport != 0; i++)
			;
		if (i < door.npeers) {
			struct peer *p = &door.peers[i];

			p->lport = ntohs(me.sin_port);
			snprintf(p->addr, sizeof(p->addr), "%s", c->addr);
			p->port = c->port;
			p->sport = c->sport;
			atomic_store(&p->stalled, 0);
			c->slot = i;
		}
		pthread_mutex_unlock(&door.lock);
		begin_exchange(c);
	}
}

/* Send the request waiting in c to civetweb, take the answer back. */
static void
begin_exchange(struct dconn *c)
{
	if (c->out == NULL && (c->out = out_get()) == NULL) {
		answer(c, 503, "out of memory", "Retry-After: 1\r\n");
		return;
	}
	set_state(c, D_RELAY);
	c->deadline = 0;
	c->rhead = c->rclose = c->stalled = c->eof_sent = 0;
	c->sent = 0;
	framing_init(&c->resp, FRAMING_NONE, 0);
	c->resp.done = 0;
	if (c->slot >= 0)
		atomic_store(&door.peers[c->slot].stalled, 0);
	relay(c, 0, 0);
}

/* The request on: head and body bytes in memory, then the spool. */
static int
send_request(struct dconn *c)
{
	ssize_t n;

	while (c->ioff < c->reqend) {
		n = write(c->bfd, c->in + c->ioff, c->reqend - c->ioff);
		if (n > 0)
			c->ioff += (size_t)n;
		else
			return n == -1 && errno == EAGAIN ? 0 : -1;
	}
	while (c->soff < c->slen) {
		off_t off = c->soff;

		n = sendfile(c->bfd, c->sfd, &off, (size_t)(c->slen -
		    c->soff));
		if (n > 0)
			c->soff = off;
		else
			return n == -1 && errno == EAGAIN ? 0 : -1;
	}
	return 0;
}

/* The response as far as it came: where does it end? */
static void
parse_response(struct dconn *c)
{
	struct framing_resp fr;
	long k;

	while (c->rpos < c->olen && !c->resp.done) {
		if (!c->rhead) {
			k = framing_response(c->out + c->rpos, c->olen -
			    c->rpos, DOOR_OUTBUF, c->head_req, &fr);
			if (k == 0)
				return;
			if (k < 0) {
				/* cannot tell: pass it all on, then close */
				c->rhead = c->rclose = 1;
				framing_init(&c->resp, FRAMING_CLOSE, 0);
				continue;
			}
			c->rpos += (size_t)k;
			if (fr.status < 200 && fr.status != 101)
				continue;	/* 100 Continue: a head follows */
			c->rhead = 1;
			c->rclose = fr.close;
			framing_init(&c->resp, fr.kind, fr.length);
			continue;
		}
		c->rpos += framing_feed(&c->resp, c->out + c->rpos, c->olen -
		    c->rpos);
		if (c->resp.error != NULL) {
			c->rclose = 1;
			break;
		}
	}
	if (c->resp.done || c->resp.error != NULL)
		c->olen = c->rpos;	/* nothing may follow its end */
}

/* The exchange is over: wait for the next request, or close. */
static void
finish(struct dconn *c)
{
	const struct config *cfg = atomic_load(&door.cfg);
	int keep = !c->rclose && c->resp.error == NULL && c->body.done &&
	    !c->client_eof && !c->stalled && !atomic_load(&door.draining);

	if (keep) {
		/* civetweb waits for its next request: keep it for now */
		put_buffers(c);
		park(c);
		ep_set(c, c->bfd, EPOLLIN | EPOLLRDHUP);
	} else
		detach(c);
	if (!keep && c->body.done && c->inlen == c->ioff) {
		drop(c);	/* nothing of the client's left unread */
		return;
	}
	if (!keep) {
		linger(c);
		return;
	}
	c->nreq++;
	if (c->ioff > 0) {	/* the next request, if it came early */
		memmove(c->in, c->in + c->ioff, c->inlen - c->ioff);
		c->inlen -= c->ioff;
		c->ioff = 0;
	}
	c->reqend = c->headlen = 0;
	c->method[0] = c->path[0] = c->route[0] = '\0';
	set_state(c, D_HEAD);
	ep_set(c, c->fd, EPOLLIN | EPOLLRDHUP);
	if (c->inlen == 0) {
		in_free(c);
		set_idle(c, 1);
		c->deadline = clk_now_us() + (uint64_t)cfg->keepalive_timeout_us;
		return;
	}
	c->t0 = clk_now_us();
	c->deadline = c->t0 + (uint64_t)cfg->header_timeout_us;
	try_head(c);
}

/* Response bytes from civetweb; 0, or -1 when c was answered or ended. */
static int
from_civetweb(struct dconn *c, int *progress)
{
	ssize_t n;

	if (c->ooff < c->rpos)
		return 0;	/* the client has first to take what came */
	if (c->ooff > 0) {
		memmove(c->out, c->out + c->ooff, c->olen - c->ooff);
		c->olen -= c->ooff;
		c->rpos -= c->ooff;
		c->ooff = 0;
	}
	if (c->olen == DOOR_OUTBUF)
		return 0;
	n = read(c->bfd, c->out + c->olen, DOOR_OUTBUF - c->olen);
	if (n > 0) {
		c->olen += (size_t)n;
		parse_response(c);
		if (!c->rhead && c->olen == DOOR_OUTBUF) {
			/* a head that does not fit: pass on, then close */
			c->rhead = c->rclose = 1;
			framing_init(&c->resp, FRAMING_CLOSE, 0);
			c->rpos = c->olen;
		}
		*progress = 1;
		return 0;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	/* civetweb closed: the answer is what came */
	if (c->sent == 0 && c->olen == 0 && c->client_eof) {
		drop(c);	/* the client left first: its row says so */
		return -1;
	}
	if (c->sent == 0 && c->olen == 0) {
		answer(c, 502, "closed by civetweb without an answer", NULL);
		return -1;
	}
	c->rclose = 1;
	if (c->resp.kind != FRAMING_CLOSE || !c->rhead)
		c->resp.error = "cut short";
	c->resp.done = 1;
	c->rpos = c->olen;
	*progress = 1;
	return 0;
}

/*
 * Move what can move between the client and civetweb, then say what to
 * wait for.  cev and bev: the events seen on either side.
 */
static void
relay(struct dconn *c, uint32_t cev, uint32_t bev)
{
	const struct config *cfg = atomic_load(&door.cfg);
	uint32_t want_c = 0, want_b = EPOLLRDHUP;
	ssize_t n;
	int progress, err;
	socklen_t len;

	if (c->connecting) {
		if (!(bev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
			ep_set(c, c->bfd, EPOLLOUT);
			ep_set(c, c->fd, c->client_eof ? 0 : EPOLLRDHUP);
			return;
		}
		err = 0;
		len = sizeof(err);
		getsockopt(c->bfd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			log_msg(NULL, "door: connect to the internal port: %s",
			    strerror(err));
			answer(c, 503, "cannot reach the workers",
			    "Retry-After: 1\r\n");
			return;
		}
		c->connecting = 0;
	}
	if (cev & (EPOLLERR | EPOLLHUP)) {
		drop(c);	/* the client is gone: civetweb sees it go */
		return;
	}
	if ((cev & EPOLLRDHUP) && (c->spooled || c->body.done))
		c->client_eof = 1;	/* the rest of the body reads it */
	do {
		progress = 0;
		if (c->ioff < c->reqend || c->soff < c->slen) {
			size_t before = c->ioff;
			long long sbefore = c->soff;

			if (send_request(c) == -1) {
				/* civetweb stopped reading: its answer says */
				c->ioff = c->reqend;
				c->soff = c->slen;
				c->body.done = c->body.done ||
				    c->body.error != NULL;
				c->eof_sent = 1;
			}
			progress |= c->ioff != before || c->soff != sbefore;
		}
		if (!c->spooled && !c->body.done && c->body.error == NULL &&
		    c->ioff == c->reqend && !c->client_eof && !c->stalled) {
			size_t before = c->inlen;

			if (read_in(c, 16384) == -1)
				c->client_eof = 1;
			if (c->inlen != before) {
				body_in_memory(c);
				c->deadline = clk_now_us() +
				    (uint64_t)cfg->body_timeout_us;
				progress = 1;
			} else if (c->client_eof)
				progress = 1;
		}
		if (c->ooff < c->rpos) {
			n = write(c->fd, c->out + c->ooff, c->rpos - c->ooff);
			if (n > 0) {
				c->ooff += (size_t)n;
				c->sent += n;
				progress = 1;
			} else if (n == -1 && errno != EAGAIN &&
			    errno != EINTR) {
				drop(c);	/* the client is gone */
				return;
			}
		}
		if (c->resp.done && c->ooff == c->olen) {
			finish(c);
			return;
		}
		if (from_civetweb(c, &progress) == -1)
			return;
	} while (progress);
	/* The client's FIN goes on once its request is all out. */
	if (c->client_eof && !c->eof_sent && c->ioff == c->reqend &&
	    c->soff == c->slen) {
		shutdown(c->bfd, SHUT_WR);
		c->eof_sent = 1;
	}
	if (!c->client_eof)
		want_c |= EPOLLRDHUP;
	if (c->ooff < c->rpos)
		want_c |= EPOLLOUT;
	if (!c->spooled && !c->body.done && !c->client_eof && !c->stalled &&
	    c->ioff == c->reqend)
		want_c |= EPOLLIN;
	if (c->ioff < c->reqend || c->soff < c->slen)
		want_b |= EPOLLOUT;
	if (c->ooff == c->rpos)
		want_b |= EPOLLIN;
	ep_set(c, c->fd, want_c);
	ep_set(c, c->bfd, want_b);
	/* Only a streamed body the door waits for has a deadline here. */
	if (c->stalled)
		;
	else if (!c->spooled && !c->body.done && !c->client_eof &&
	    c->ioff == c->reqend) {
		if (c->deadline == 0)
			c->deadline = clk_now_us() +
			    (uint64_t)cfg->body_timeout_us;
	} else
		c->deadline = 0;
}

/* Deadlines */

static void
expire(struct dconn *c, uint64_t now)
{
	switch (c->st) {
	case D_HEAD:
		atomic_fetch_add(c->idle ? &door.n_idle_to : &door.n_head_to,
		    1);
		if (c->idle) {
			row(c, 0, "keep-alive idle past keepalive_timeout");
			drop(c);
		} else if (c->inlen == c->ioff) {
			row(c, 408, "no request within header_timeout");
			drop(c);
		} else
			answer(c, 408, "request head not whole within "
			    "header_timeout", NULL);
		break;
	case D_SPOOL:
		atomic_fetch_add(&door.n_body_to, 1);
		answer(c, 408, "request body stalled past body_timeout",
		    NULL);
		break;
	case D_QUEUE:
		atomic_fetch_add(&door.n_wait_to, 1);
		answer(c, 503, "no worker thread free within 5 s",
		    "Retry-After: 1\r\n");
		break;
	case D_RELAY:
		if (c->stalled || c->sent > 0) {
			if (!c->stalled)
				atomic_fetch_add(&door.n_body_to, 1);
			log_msg(NULL, "door: %s port %d: request body stalled "
			    "past body_timeout: connection closed", c->addr,
			    c->port);
			drop(c);
			break;
		}
		/*
		 * A streamed body stalled.  civetweb's side sees it end
		 * short, learns why (door_peer), answers 408, ends the
		 * handler and writes the row; that answer goes out.
		 */
		atomic_fetch_add(&door.n_body_to, 1);
		c->stalled = 1;
		if (c->slot >= 0)
			atomic_store(&door.peers[c->slot].stalled, 1);
		shutdown(c->bfd, SHUT_WR);
		c->eof_sent = 1;
		c->deadline = now + DOOR_WAIT_US;
		relay(c, 0, 0);
		break;
	case D_LINGER:
		drop(c);
		break;
	}
}

static void
tick(void)
{
	struct dconn *c, *next;
	uint64_t now = clk_now_us();

	while (door.phead != NULL &&
	    now - door.phead->parked >= (uint64_t)DOOR_PARK_US)
		unpark_close(door.phead);
	for (c = door.all; c != NULL; c = next) {
		next = c->next;
		if (c->deadline != 0 && now >= c->deadline)
			expire(c, now);
	}
}

static void
on_event(struct dconn *c, int civetweb_side, uint32_t ev)
{
	char sink[4096];
	ssize_t n;

	if (c->dead)
		return;
	if (civetweb_side && c->parked) {
		/* civetweb ended a kept connection (or spoke out of turn) */
		unpark_close(c);
		return;
	}
	switch (c->st) {
	case D_HEAD:
		on_head(c);
		break;
	case D_SPOOL:
		on_spool(c);
		break;
	case D_QUEUE:
		if (ev & (EPOLLERR | EPOLLHUP)) {
			row(c, 0, "client gone while its request waited");
			drop(c);
		} else if (ev & EPOLLRDHUP) {
			c->client_eof = 1;	/* it may still read */
			ep_set(c, c->fd, 0);
		}
		break;
	case D_RELAY:
		if (civetweb_side)
			relay(c, 0, ev);
		else
			relay(c, ev, 0);
		break;
	case D_LINGER:
		n = read(c->fd, sink, sizeof(sink));
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			drop(c);
		break;
	}
}

/* Draining: no new connections; idle ones close. */
static void
drain_now(void)
{
	struct dconn *c, *next;
	int i;

	for (i = 0; i < door.nlfd; i++)
		if (door.lfd[i] >= 0) {
			ep_close(door.lfd[i]);
			door.lfd[i] = -1;
		}
	for (c = door.all; c != NULL; c = next) {
		next = c->next;
		if (c->st == D_HEAD && c->inlen == c->ioff)
			drop(c);
	}
}

static void
bury(void)
{
	struct dconn *c;

	while ((c = door.dead) != NULL) {
		door.dead = c->next;
		free(c);
	}
}

static void *
run(void *arg)
{
	struct epoll_event ev[256];
	uint64_t next_tick = clk_now_us();
	int i, n, k;
	char b[16];

	(void)arg;
	for (;;) {
		n = epoll_wait(door.ep, ev, 256, DOOR_TICK_MS);
		for (i = 0; i < n; i++) {
			uint64_t u = ev[i].data.u64;
			void *p = (void *)(uintptr_t)(u & ~(uint64_t)1);

			if (p == (void *)&door.wake) {
				if (read(door.wake[0], b, sizeof(b)) > 0 &&
				    b[0] == 'q') {
					bury();
					return NULL;
				}
				drain_now();
			} else if ((uintptr_t)p <= 2 * MAX_LISTEN) {
				k = (int)((uintptr_t)p / 2) - 1;
				if (door.lfd[k] >= 0)
					accept_all(door.lfd[k], door.lport[k]);
			} else
				on_event(p, (int)(u & 1), ev[i].events);
		}
		if (clk_now_us() >= next_tick) {
			tick();
			next_tick = clk_now_us() + DOOR_TICK_MS * 1000;
		}
		give_all();
		bury();
	}
}

/* The interface */

void
door_set_config(const struct config *c)
{
	atomic_store(&door.cfg, c);
}

int
door_start(const struct config *c, int target)
{
	struct epoll_event e;
	int i;

	atomic_store(&door.cfg, c);
	door.reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
	door.target = target;
	door.threads = c->threads;
	door.npeers = c->threads;
	if ((door.peers = calloc((size_t)door.npeers,
	    sizeof(*door.peers))) == NULL ||
	    (door.ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    pipe2(door.wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_msg(NULL, "door_start: %s", strerror(errno));
		return -1;
	}
	memset(&e, 0, sizeof(e));
	e.events = EPOLLIN;
	e.data.ptr = &door.wake;
	epoll_ctl(door.ep, EPOLL_CTL_ADD, door.wake[0], &e);
	for (i = 0; i < door.nlfd; i++) {
		e.data.u64 = 2 * (uint64_t)(i + 1);	/* even: see run() */
		if (epoll_ctl(door.ep, EPOLL_CTL_ADD, door.lfd[i], &e) == -1) {
			log_msg(NULL, "door_start: %s", strerror(errno));
			return -1;
		}
	}
	if ((errno = pthread_create(&door.thread, NULL, run, NULL)) != 0) {
		log_msg(NULL, "door_start: %s", strerror(errno));
		return -1;
	}
	pthread_setname_np(door.thread, "cg-door");
	door.running = 1;
	return 0;
}

int
door_peer(int lport, char *addr, size_t len, int *port, int *sport,
    int *stalled)
{
	int i, found = -1;

	pthread_mutex_lock(&door.lock);
	for (i = 0; i < door.npeers; i++)
		if (door.peers[i].lport == lport) {
			snprintf(addr, len, "%s", door.peers[i].addr);
			*port = door.peers[i].port;
			*sport = door.peers[i].sport;
			*stalled = atomic_load(&door.peers[i].stalled);
			found = 0;
			break;
		}
	pthread_mutex_unlock(&door.lock);
	return found;
}

int
door_stalled(int lport)
{
	char addr[INET6_ADDRSTRLEN];
	int port, sport, stalled;

	return door_peer(lport, addr, sizeof(addr), &port, &sport,
	    &stalled) == 0 && stalled;
}

void
door_drain(void)
{
	atomic_store(&door.draining, 1);
	if (door.running)
		(void)write(door.wake[1], "d", 1);
}

int
door_busy(void)
{
	return door.running ? atomic_load(&door.open) -
	    atomic_load(&door.idle) : 0;
}

void
door_stop(void)
{
	struct dconn *c;
	int i;

	if (door.running) {
		(void)write(door.wake[1], "q", 1);
		pthread_join(door.thread, NULL);
		door.running = 0;
	}
	while ((c = door.all) != NULL)
		drop(c);
	bury();
	for (i = 0; i < door.nlfd; i++)
		if (door.lfd[i] >= 0)
			close(door.lfd[i]);
	door.nlfd = 0;
	while (door.nspare > 0)
		free(door.spare[--door.nspare]);
	free(door.peers);
	door.peers = NULL;
	if (door.ep >= 0)
		close(door.ep);
	if (door.wake[0] >= 0) {
		close(door.wake[0]);
		close(door.wake[1]);
	}
}

void
door_metrics(FILE *f)
{
	fprintf(f,
	    "# HELP cgigate_connections Client connections open now.\n"
	    "# TYPE cgigate_connections gauge\n"
	    "cgigate_connections %d\n"
	    "# HELP cgigate_connections_idle Kept-alive connections between "
	    "requests now.\n"
	    "# TYPE cgigate_connections_idle gauge\n"
	    "cgigate_connections_idle %d\n"
	    "# HELP cgigate_connections_accepted_total Client connections "
	    "accepted.\n"
	    "# TYPE cgigate_connections_accepted_total counter\n"
	    "cgigate_connections_accepted_total %llu\n"
	    "# HELP cgigate_connections_refused_total Connections answered "
	    "503 at once, by limit.\n"
	    "# TYPE cgigate_connections_refused_total counter\n"
	    "cgigate_connections_refused_total{limit=\"max_connections\"} "
	    "%llu\n"
	    "cgigate_connections_refused_total{limit="
	    "\"max_client_connections\"} %llu\n"
	    "# HELP cgigate_timeouts_total Deadlines that passed, by kind.\n"
	    "# TYPE cgigate_timeouts_total counter\n"
	    "cgigate_timeouts_total{kind=\"header\"} %llu\n"
	    "cgigate_timeouts_total{kind=\"keepalive\"} %llu\n"
	    "cgigate_timeouts_total{kind=\"body\"} %llu\n"
	    "cgigate_timeouts_total{kind=\"thread_wait\"} %llu\n"
	    "# HELP cgigate_requests_refused_total Request heads or bodies "
	    "refused as malformed or too large.\n"
	    "# TYPE cgigate_requests_refused_total counter\n"
	    "cgigate_requests_refused_total %llu\n"
	    "# HELP cgigate_bodies_spooled_total Request bodies read whole "
	    "before their request went on.\n"
	    "# TYPE cgigate_bodies_spooled_total counter\n"
	    "cgigate_bodies_spooled_total %llu\n",
	    atomic_load(&door.open), atomic_load(&door.idle),
	    (unsigned long long)atomic_load(&door.n_accepted),
	    (unsigned long long)atomic_load(&door.n_full),
	    (unsigned long long)atomic_load(&door.n_per_client),
	    (unsigned long long)atomic_load(&door.n_head_to),
	    (unsigned long long)atomic_load(&door.n_idle_to),
	    (unsigned long long)atomic_load(&door.n_body_to),
	    (unsigned long long)atomic_load(&door.n_wait_to),
	    (unsigned long long)atomic_load(&door.n_bad),
	    (unsigned long long)atomic_load(&door.n_spooled));
}
