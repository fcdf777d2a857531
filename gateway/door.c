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
 * closed, which frees civetweb's thread (or kept a moment for the
 * client's next request, door_relay.c), and the client's connection
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
 *
 * The door is three files that share door_int.h (the state, struct
 * dconn, the sizes and times).  This one holds the listeners, accepting
 * and the limits on connections, the epoll loop and its dispatch, the
 * end of a connection, deadlines, draining, the metrics and the door_*
 * interface of cgigate.h.  door_client.c is the client's side: reading,
 * vetting and rewriting a request head, spooling a body, and the door's
 * own answers with the lingering close after them.  door_relay.c is the
 * exchange with civetweb: the queue for its threads, parked internal
 * connections, the relay both ways and where a response ends.  All of
 * it runs on the door's one thread; while that runs, the door_* calls
 * of other threads touch only atomics, what door.lock guards and the
 * wake pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "cgigate.h"
#include "door_int.h"

struct door_state door = {
	.ep = -1,
	.wake = { -1, -1 },
	.reserve = -1,
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

int
door_listen(const char *addr, int *port)
{
	struct sockaddr_storage sa, ss;
	socklen_t salen = 0, len = sizeof(ss);
	int fd, on = 1, err;

	if (door.nlfd == MAX_LISTEN ||
	    config_listen_addr(addr, &sa, &salen) != NULL || salen == 0) {
		errno = EINVAL;
		return -1;
	}
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (sa.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&sa, salen) == -1 ||
	    listen(fd, 4096) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	*port = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	door.lport[door.nlfd] = *port;
	door.lfd[door.nlfd++] = fd;
	return 0;
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

/* Connections */

void
door_ep_set(struct dconn *c, int fd, uint32_t ev)
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
void
door_ep_close(int fd)
{
	epoll_ctl(door.ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
}

void
door_set_idle(struct dconn *c, int idle)
{
	if (c->idle != idle)
		atomic_fetch_add(&door.idle, idle ? 1 : -1);
	c->idle = idle;
}

void
door_set_state(struct dconn *c, enum dstate st)
{
	if (c->st == D_SPOOL && st != D_SPOOL)
		door.nspool--;
	if (st == D_SPOOL && c->st != D_SPOOL)
		door.nspool++;
	c->st = st;
	if (st != D_HEAD)
		door_set_idle(c, 0);
}

void
door_drop(struct dconn *c)
{
	if (c->dead)
		return;
	door_detach(c);
	door_set_state(c, D_LINGER);
	door_ep_close(c->fd);
	door_in_free(c);
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
		log_err(NULL, "door: out of file descriptors (%s): new "
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
		(void)!write(fd, busy, sizeof(busy) - 1);
		close(fd);
	}
	door.reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int
door_count_client(struct dconn *c, const struct config *cfg)
{
	c->ahash = ahash(c->addr);
	if (cfg->max_client_connections <= 0)
		return 0;
	c->counted = 1;
	if (acount_add(c, 1) > cfg->max_client_connections) {
		atomic_fetch_add(&door.n_per_client, 1);
		door_answer(c, 503, "max_client_connections reached for this "
		    "address", "Retry-After: 1\r\n");
		return -1;
	}
	return 0;
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
			door_answer(c, 503, "max_connections reached",
			    "Retry-After: 1\r\n");
			continue;
		}
		/*
		 * A trusted proxy's PROXY header names the client; it is
		 * counted once that has been read (door_client.c).
		 */
		c->proxy = cfg->proxy_protocol && config_cidr_match(
		    cfg->trusted_proxies, cfg->ntrusted_proxies, c->addr);
		if (!c->proxy && door_count_client(c, cfg) == -1)
			continue;
		c->deadline = c->t0 + (uint64_t)cfg->header_timeout_us;
		door_ep_set(c, fd, EPOLLIN | EPOLLRDHUP);
	}
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
			door_row(c, 0, "keep-alive idle past keepalive_timeout");
			door_drop(c);
		} else if (c->inlen == c->ioff) {
			door_row(c, 408, "no request within header_timeout");
			door_drop(c);
		} else
			door_answer(c, 408, "request head not whole within "
			    "header_timeout", NULL);
		break;
	case D_SPOOL:
		atomic_fetch_add(&door.n_body_to, 1);
		door_answer(c, 408, "request body stalled past body_timeout",
		    NULL);
		break;
	case D_QUEUE:
		atomic_fetch_add(&door.n_wait_to, 1);
		door_answer(c, 503, "no worker thread free within 5 s",
		    "Retry-After: 1\r\n");
		break;
	case D_RELAY:
		if (c->stalled || c->sent > 0) {
			if (!c->stalled)
				atomic_fetch_add(&door.n_body_to, 1);
			log_info(NULL, "door: %s port %d: request body stalled "
			    "past body_timeout: connection closed", c->addr,
			    c->port);
			door_drop(c);
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
		door_relay(c, 0, 0);
		break;
	case D_LINGER:
		door_drop(c);
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
		door_unpark_close(door.phead);
	for (c = door.all; c != NULL; c = next) {
		next = c->next;
		if (c->deadline != 0 && now >= c->deadline)
			expire(c, now);
	}
	door_late_flush(0);
}

/* The loop */

static void
on_event(struct dconn *c, int civetweb_side, uint32_t ev)
{
	char sink[4096];
	ssize_t n;

	if (c->dead)
		return;
	if (civetweb_side && c->parked) {
		/* civetweb ended a kept connection (or spoke out of turn) */
		door_unpark_close(c);
		return;
	}
	switch (c->st) {
	case D_HEAD:
		door_on_head(c);
		break;
	case D_SPOOL:
		door_on_spool(c);
		break;
	case D_QUEUE:
		if (ev & (EPOLLERR | EPOLLHUP)) {
			door_row(c, 0, "client gone while its request waited");
			door_drop(c);
		} else if (ev & EPOLLRDHUP) {
			c->client_eof = 1;	/* it may still read */
			door_ep_set(c, c->fd, 0);
		}
		break;
	case D_RELAY:
		if (civetweb_side)
			door_relay(c, 0, ev);
		else
			door_relay(c, ev, 0);
		break;
	case D_LINGER:
		n = read(c->fd, sink, sizeof(sink));
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			door_drop(c);
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
			door_ep_close(door.lfd[i]);
			door.lfd[i] = -1;
		}
	for (c = door.all; c != NULL; c = next) {
		next = c->next;
		if (c->st == D_HEAD && c->inlen == c->ioff)
			door_drop(c);
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
	const struct config *cfg;
	uint64_t next_tick = clk_now_us();
	int i, n, k;
	char b[16];

	(void)arg;
	for (;;) {
		n = epoll_wait(door.ep, ev, 256, DOOR_TICK_MS);
		/* The configuration of this pass, held until its end. */
		cfg = cfgref_hold();
		atomic_store(&door.cfg, cfg);
		for (i = 0; i < n; i++) {
			uint64_t u = ev[i].data.u64;
			void *p = (void *)(uintptr_t)(u & ~(uint64_t)1);

			if (p == (void *)&door.wake) {
				if (read(door.wake[0], b, sizeof(b)) > 0 &&
				    b[0] == 'q') {
					bury();
					cfgref_drop(cfg);
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
		door_give_all();
		bury();
		cfgref_drop(cfg);
	}
}

/* The interface */

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
	door.nended = DOOR_ENDED * c->threads > DOOR_ENDED_MIN ?
	    DOOR_ENDED * c->threads : DOOR_ENDED_MIN;
	if ((door.peers = calloc((size_t)door.npeers,
	    sizeof(*door.peers))) == NULL ||
	    (door.ended = calloc((size_t)door.nended,
	    sizeof(*door.ended))) == NULL ||
	    (door.ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    pipe2(door.wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_err(NULL, "door_start: %s", strerror(errno));
		return -1;
	}
	memset(&e, 0, sizeof(e));
	e.events = EPOLLIN;
	e.data.ptr = &door.wake;
	epoll_ctl(door.ep, EPOLL_CTL_ADD, door.wake[0], &e);
	for (i = 0; i < door.nlfd; i++) {
		e.data.u64 = 2 * (uint64_t)(i + 1);	/* even: see run() */
		if (epoll_ctl(door.ep, EPOLL_CTL_ADD, door.lfd[i], &e) == -1) {
			log_err(NULL, "door_start: %s", strerror(errno));
			return -1;
		}
	}
	if ((errno = pthread_create(&door.thread, NULL, run, NULL)) != 0) {
		log_err(NULL, "door_start: %s", strerror(errno));
		return -1;
	}
	pthread_setname_np(door.thread, "cg-door");
	door.running = 1;
	return 0;
}

int
door_peer(int lport, struct door_peer *pi)
{
	struct peer *p;
	int i, found = -1;

	pthread_mutex_lock(&door.lock);
	for (i = 0; i < door.npeers; i++)
		if ((p = &door.peers[i])->lport == lport) {
			snprintf(pi->addr, sizeof(pi->addr), "%s", p->addr);
			pi->port = p->port;
			pi->sport = p->sport;
			pi->stalled = atomic_load(&p->stalled);
			pi->xseq = p->xseq;
			pi->slot = i;
			found = 0;
			break;
		}
	pthread_mutex_unlock(&door.lock);
	return found;
}

int
door_stalled(int lport)
{
	struct door_peer pi;

	return door_peer(lport, &pi) == 0 && pi.stalled;
}

void
door_drain(void)
{
	atomic_store(&door.draining, 1);
	if (door.running)
		(void)!write(door.wake[1], "d", 1);
}

int
door_busy(void)
{
	return door.running ? atomic_load(&door.open) -
	    atomic_load(&door.idle) : 0;
}

int
door_connections(void)
{
	return atomic_load(&door.open);
}

void
door_stop(void)
{
	struct dconn *c;
	int i;

	if (door.running) {
		(void)!write(door.wake[1], "q", 1);
		pthread_join(door.thread, NULL);
		door.running = 0;
	}
	while ((c = door.all) != NULL)
		door_drop(c);
	bury();
	door_late_flush(1);
	for (i = 0; i < door.nlfd; i++)
		if (door.lfd[i] >= 0)
			close(door.lfd[i]);
	door.nlfd = 0;
	while (door.nspare > 0)
		free(door.spare[--door.nspare]);
	free(door.peers);
	free(door.ended);
	door.ended = NULL;
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
