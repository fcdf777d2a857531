/*
 * pool.c: FastCGI pools, the request side.
 *
 * A pool belongs to one route and holds endpoints.  In a local pool every
 * endpoint is one worker process that cgigate spawned with a listening
 * Unix socket (abstract namespace, one per worker) on fd 0, the
 * FCGI_LISTENSOCK_FILENO convention, and it serves exactly one request at
 * a time over one kept-alive connection.  In a remote pool every endpoint
 * is a backend address (tcp:HOST:PORT or unix:/path) with up to
 * max_connections requests in flight, and a request goes to the backend
 * with the fewest outstanding requests.
 *
 * This file owns the pool table (pools are made on first use) and what
 * request threads do with it.  They only borrow: pool_acquire waits
 * (bounded by the route's max_queue_wait) for a free endpoint and hands
 * out a connection, pool_release gives it back and says how the request
 * ended, and a freed endpoint goes straight to the first waiter.  At most
 * a request marks its endpoint retiring or failed (a failed worker is
 * killed, a failed backend ejected) and kicks the manager thread
 * (poolmgr.c), which alone changes the set of workers.
 *
 * A remote backend is ejected when it fails: a connect refused or timed
 * out, a request timed out, or a probe unanswered (probe.c).  Request
 * threads tell the probe when to look: each byte from a backend is noted
 * (pool_heard), and a request that has waited on its backend for
 * POOL_QUIET_US while nothing came from it on any connection either asks
 * the manager to probe it (pool_quiet).  While every backend of a route
 * is ejected, a request gets 503 at once, unless a probe has reached one
 * and waits for its answer: a backend that is stopped or has every worker
 * busy, which may answer any moment, so the request waits its
 * max_queue_wait for it.
 *
 * A kept connection is lent again only when it is known clean: before a
 * request is sent on it, one non-blocking peek must find nothing to read.
 * An application has nothing to say between requests (the server opens
 * every exchange with BEGIN_REQUEST, FastCGI spec 3.3 and 5.1), so any
 * byte there is a late or stray record of an earlier request, which the
 * next request would read as its own answer, and EOF means the
 * application closed the connection (php-cgi does at its
 * PHP_FCGI_MAX_REQUESTS).  Either way the connection is closed, logged
 * and counted, and the request dials a fresh one; nginx's upstream
 * keepalive likewise drops a cached connection that turns readable.
 *
 * One mutex guards every pool; the work done under it is a few pointer
 * moves, and each request takes it twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "cgigate.h"
#include "pool_int.h"

struct pool_mgr pm = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/*
 * Ask the manager to look at the pools now.  Lock held.  A request may
 * come before pool_start (civetweb serves from http_start on): the
 * manager then finds the flag when it starts.
 */
static void
kick(void)
{
	pm.kick = 1;
	if (pm.ready)
		pthread_cond_signal(&pm.wake);
}

int
pool_count(const struct pool *p, enum ep_state st)
{
	const struct endpoint *e;
	int n = 0;

	for (e = p->eps; e != NULL; e = e->next)
		n += e->state == st;
	return n;
}

/* Parse "tcp:HOST:PORT" or "unix:/path" into e's address. */
static int
backend_addr(struct endpoint *e, const char *spec)
{
	struct addrinfo hints, *res;
	char host[256];
	const char *port;
	struct sockaddr_un *sun;

	snprintf(e->name, sizeof(e->name), "%s", spec);
	if (strncmp(spec, "unix:", 5) == 0) {
		sun = (struct sockaddr_un *)&e->addr;
		sun->sun_family = AF_UNIX;
		if (strlen(spec + 5) >= sizeof(sun->sun_path))
			return -1;
		strcpy(sun->sun_path, spec + 5);
		e->addrlen = sizeof(*sun);
		return 0;
	}
	if (strncmp(spec, "tcp:", 4) != 0 ||
	    (port = strrchr(spec + 4, ':')) == NULL ||
	    (size_t)(port - spec - 4) >= sizeof(host))
		return -1;
	memcpy(host, spec + 4, (size_t)(port - spec - 4));
	host[port - spec - 4] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port + 1, &hints, &res) != 0)
		return -1;
	memcpy(&e->addr, res->ai_addr, res->ai_addrlen);
	e->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static struct pool *
pool_new(const char *route, const char *path, const struct route_conf *rc)
{
	struct pool *p;
	struct endpoint *e;
	int i;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	snprintf(p->route, sizeof(p->route), "%s", route);
	p->pc = rc->fcgi;
	memcpy(p->rlim, rc->rlim, sizeof(p->rlim));
	p->remote = rc->fcgi.nbackends > 0;
	if (path != NULL) {
		snprintf(p->path, sizeof(p->path), "%s", path);
		stat(path, &p->st);
	}
	for (i = 0; i < rc->nenv; i++)
		if ((p->env[p->nenv] = strdup(rc->env[i])) != NULL)
			p->nenv++;
	for (i = 0; i < rc->fcgi.nbackends; i++) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			continue;
		e->pool = p;
		e->state = EP_UP;
		e->probe_fd = -1;
		if (backend_addr(e, rc->fcgi.backends[i]) == -1) {
			log_err(NULL, "pool %s: bad backend %s", route,
			    rc->fcgi.backends[i]);
			free(e);
			continue;
		}
		e->next = p->eps;
		p->eps = e;
	}
	return p;
}

struct pool *
pool_get(const char *route, const char *path, const struct route_conf *rc)
{
	struct pool *p;

	pthread_mutex_lock(&pm.lock);
	for (p = pm.pools; p != NULL; p = p->next)
		if (strcmp(p->route, route) == 0 &&
		    (path == NULL || strcmp(p->path, path) == 0))
			break;
	if (p == NULL && (p = pool_new(route, path, rc)) != NULL) {
		p->next = pm.pools;
		pm.pools = p;
		kick();
	}
	pthread_mutex_unlock(&pm.lock);
	return p;
}

void
pool_retire(struct pool *p, struct endpoint *e, const char *why)
{
	if (e->state != EP_UP)
		return;
	e->state = EP_RETIRING;
	e->why = why;
	e->retire_us = 0;	/* signalled once it is idle */
	timelog_event("worker_retire", (int)e->c.pid, "%s: %s", p->route,
	    why);
}

void
pool_close_idle(struct endpoint *e)
{
	while (e->nidle > 0)
		close(e->idle[--e->nidle]);
}

/*
 * A free endpoint: an idle worker, or the least loaded backend; avoid
 * only when there is no other.
 */
static struct endpoint *
pick(struct pool *p, const struct endpoint *avoid)
{
	struct endpoint *e, *best = NULL;

	for (e = p->eps; e != NULL; e = e->next) {
		if (e == avoid || e->state != EP_UP || e->ejected ||
		    (e->limit > 0 && e->served >= e->limit))
			continue;
		if (!p->remote) {
			if (e->busy == 0 && (best == NULL ||
			    e->idle_since_us > best->idle_since_us))
				best = e;	/* the most recently used */
		} else if (e->busy < p->pc.max_connections &&
		    (best == NULL || e->busy < best->busy))
			best = e;
	}
	return best == NULL && avoid != NULL ? pick(p, NULL) : best;
}

/* Count e as taken by one more request.  Lock held. */
static void
take(struct endpoint *e)
{
	e->busy++;
	e->served++;
}

/* Lend e to w: counted as taken, with an idle connection if any.  Lock held. */
static void
lend(struct pool *p, struct endpoint *e, struct waiter *w)
{
	take(e);
	w->pid = p->remote ? 0 : e->c.pid;
	w->nreq = e->served;
	w->fd = e->nidle > 0 ? e->idle[--e->nidle] : -1;
}

/* Hand free endpoints to the waiters, first come first.  Lock held. */
void
pool_handoff(struct pool *p)
{
	struct endpoint *e;
	struct waiter *w;

	while ((w = (struct waiter *)waitq_first(&p->wq)) != NULL &&
	    (e = pick(p, NULL)) != NULL) {
		lend(p, e, w);
		waitq_hand(&p->wq, e);
	}
}

/*
 * Connect to e by deadline: a non-blocking socket, or -1 with errno
 * (ETIMEDOUT when the deadline came first).  Lock not held.
 *
 * Non-blocking all the way: a backend whose listen queue is full (every
 * php-fpm child stuck) would otherwise hold a blocking connect for as
 * long as it stays full on a Unix socket, and some two minutes on TCP.
 * TCP completes in the background; a full Unix queue says EAGAIN, and
 * is asked again every few milliseconds.
 */
static int
pool_dial(const struct endpoint *e, uint64_t deadline)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	uint64_t now;
	int fd, err, one = 1;

	fd = socket(e->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
	while (connect(fd, (const struct sockaddr *)&e->addr, e->addrlen) ==
	    -1) {
		err = errno;
		now = clk_now_us();
		if (err == EAGAIN && now < deadline) {
			poll(NULL, 0, 5);
			continue;
		}
		if (err != EINPROGRESS && err != EINTR)
			goto fail;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		err = ETIMEDOUT;
		if (now < deadline && poll(&pfd, 1,
		    (int)((deadline - now + 999) / 1000)) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
		    err == 0)
			break;
		goto fail;
	}
	if (e->addr.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
fail:
	close(fd);
	errno = err == EAGAIN ? ETIMEDOUT : err;
	return -1;
}

int
pool_live(const struct pool *p)
{
	const struct endpoint *e;
	int n = 0;

	for (e = p->eps; e != NULL; e = e->next)
		n += !e->ejected;
	return n;
}

uint64_t
pool_retry_wait(const struct pool *p, const struct endpoint *e)
{
	if (pool_live(p) == 0)
		return EJECT_MIN_US;
	return backoff_us(EJECT_MIN_US, EJECT_MAX_US, (unsigned)e->ejections);
}

void
pool_eject(struct endpoint *e, const char *why, int hung)
{
	struct pool *p = e->pool;
	uint64_t wait;

	if (e->ejected)
		return;
	e->ejected = 1;
	e->ejected_total++;
	atomic_store(&e->hung, hung);
	atomic_store(&e->suspect, 0);
	wait = pool_retry_wait(p, e);
	e->ejections++;
	e->retry_us = clk_now_us() + wait;
	pool_close_idle(e);
	if (probe_waiting(e))
		log_warn(NULL, "pool %s: backend %s ejected (%s); back in "
		    "when it answers", p->route, e->name, why);
	else
		log_warn(NULL, "pool %s: backend %s ejected (%s); retry in "
		    "%llu ms", p->route, e->name, why,
		    (unsigned long long)wait / 1000);
	timelog_event("backend_ejected", 0, "%s %s: %s", p->route, e->name,
	    why);
}

void
pool_restore(struct endpoint *e, const char *how)
{
	struct pool *p = e->pool;

	if (!e->ejected)
		return;
	probe_close(e);
	e->ejected = 0;
	atomic_store(&e->hung, 0);
	atomic_store(&e->suspect, 0);
	atomic_store(&e->heard_us, clk_now_us());
	log_notice(NULL, "pool %s: backend %s restored (%s)", p->route,
	    e->name, how);
	timelog_event("backend_restored", 0, "%s %s: %s", p->route, e->name,
	    how);
	pool_handoff(p);
}

/* Take e out of service after a failure.  Lock held. */
static void
endpoint_failed(struct endpoint *e, const char *why, int hung)
{
	struct pool *p = e->pool;

	if (p->remote) {
		pool_eject(e, why, hung);
		return;
	}
	if (e->state == EP_UP) {
		log_warn(NULL, "pool %s: worker %d failed (%s); replacing it",
		    p->route, (int)e->c.pid, why);
		e->state = EP_RETIRING;
		e->why = "failed";
		e->retire_us = clk_now_us();
		stats_count(STAT_KILLS);
		kill(-e->c.pid, SIGKILL);
	}
}

/*
 * Wait for an endpoint: it is returned lent to us (w holds the rest) and
 * the lock is let go; on NULL, *why says why not, and the lock is still
 * held.  Entered with the lock held.
 */
static struct endpoint *
wait_turn(struct pool *p, uint64_t deadline, const struct endpoint *avoid,
    struct waiter *w, const char **why)
{
	struct endpoint *e;

	for (;;) {
		if (pm.stop) {
			*why = "shutting down";
			return NULL;
		}
		/* Only when nobody queues ahead: no overtaking. */
		if (waitq_first(&p->wq) == NULL &&
		    (e = pick(p, avoid)) != NULL) {
			lend(p, e, w);
			pthread_mutex_unlock(&pm.lock);
			return e;
		}
		if (p->remote && p->eps != NULL && pool_live(p) == 0) {
			int asked = 0;

			/* One may answer its probe any moment: wait for it. */
			for (e = p->eps; e != NULL; e = e->next)
				asked += probe_waiting(e);
			if (asked == 0) {
				*why = "every FastCGI backend is ejected";
				return NULL;
			}
		}
		if (!p->remote && pool_count(p, EP_UP) == 0 &&
		    clk_now_us() < p->backoff_until) {
			*why = "workers fail at start-up; backing off";
			return NULL;
		}
		if (clk_now_us() >= deadline) {
			*why = "pool at max_workers past max_queue_wait";
			return NULL;
		}
		waitq_add(&p->wq, &w->wq);
		pool_handoff(p);	/* in case one is free already */
		if (!atomic_load_explicit(&w->wq.handed, memory_order_relaxed) &&
		    !p->remote && pool_count(p, EP_UP) < p->pc.max_workers)
			kick();		/* room to grow */
		pthread_mutex_unlock(&pm.lock);
		if (waitq_wait(&w->wq, deadline))
			return w->wq.item;
		/* Told to look again, or the deadline passed. */
		pthread_mutex_lock(&pm.lock);
		if (waitq_leave(&p->wq, &w->wq)) {
			pthread_mutex_unlock(&pm.lock);
			return w->wq.item;
		}
	}
}

enum { IDLE_CLEAN, IDLE_DATA, IDLE_CLOSED };

/*
 * What arrived on an idle kept connection: nothing (IDLE_CLEAN), bytes
 * (IDLE_DATA) or EOF or an error (IDLE_CLOSED).  Anything but nothing is
 * logged, once per connection, and counted.  Lock not held.
 */
static int
idle_state(struct pool *p, const struct endpoint *e, int fd)
{
	ssize_t n;
	char c;

	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return IDLE_CLEAN;
	if (n > 0) {
		atomic_fetch_add(&p->idle_data, 1);
		log_warn(NULL, "pool %s: %s: data on an idle kept connection "
		    "(late or stray records); closed it", p->route, e->name);
		return IDLE_DATA;
	}
	atomic_fetch_add(&p->idle_closed, 1);
	log_info(NULL, "pool %s: %s closed its idle kept connection%s%s%s%s",
	    p->route, e->name, n == 0 ? "" : " (", n == 0 ? "" :
	    strerror(errno), n == 0 ? "" : ")", p->remote ? "" :
	    "; retiring it");
	return IDLE_CLOSED;
}

int
pool_acquire(struct pool *p, uint64_t deadline, const struct endpoint *avoid,
    struct pool_conn *pc, const char **why)
{
	struct endpoint *e;
	struct waiter me;
	uint64_t t0;
	char failed[128];
	int fd, tries = 0, closed;

	memset(pc, 0, sizeof(*pc));
	pc->fd = -1;
	memset(&me, 0, sizeof(me));
	pthread_mutex_lock(&pm.lock);
	while ((e = wait_turn(p, deadline, avoid, &me, why)) != NULL) {
		/* Unlocked: the endpoint is ours to use. */
		pc->ep = e;
		pc->pid = me.pid;
		pc->nreq = me.nreq;
		closed = 0;
		if (me.fd >= 0) {
			if ((closed = idle_state(p, e, me.fd)) == IDLE_CLEAN) {
				pc->fd = me.fd;
				pc->reused = 1;
				return 0;
			}
			close(me.fd);
			if (closed == IDLE_CLOSED && !p->remote) {
				/*
				 * A worker serves one connection and keeps it:
				 * one that closed it is on its way out (php-cgi
				 * at PHP_FCGI_MAX_REQUESTS), and may still hold
				 * its listening socket, so that a new connection
				 * would be accepted by the kernel, never by the
				 * worker, and the request lost.  Retire it; take
				 * another worker.
				 */
				pthread_mutex_lock(&pm.lock);
				e->busy--;
				e->served--;
				pool_retire(p, e, "closed its kept connection");
				pool_handoff(p);
				kick();
				if (++tries >= 4)
					goto fail;
				continue;
			}
		}
		t0 = clk_now_us();
		fd = pool_dial(e, deadline > t0 + DIAL_MIN_US ? deadline :
		    t0 + DIAL_MIN_US);
		pc->connect_us = (long long)(clk_now_us() - t0);
		if (fd >= 0) {
			pc->fd = fd;
			return 0;
		}
		snprintf(failed, sizeof(failed), "%s%s", closed ?
		    "after a dirty idle connection: " : "", strerror(errno));
		pthread_mutex_lock(&pm.lock);
		e->busy--;
		e->served--;
		endpoint_failed(e, failed, 0);
		pool_handoff(p);
		kick();
		if (++tries >= 4)
			goto fail;
	}
	pc->ep = NULL;
	pthread_mutex_unlock(&pm.lock);
	return 503;
fail:
	*why = "cannot connect to any FastCGI endpoint";
	pc->ep = NULL;
	pthread_mutex_unlock(&pm.lock);
	return 503;
}

int
pool_write_all(int fd, const void *buf, size_t len, uint64_t deadline,
    size_t *sent)
{
	const char *p = buf;
	struct pollfd pfd;
	uint64_t now;
	ssize_t n;

	*sent = 0;
	while (len > 0) {
		n = write(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			*sent += (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
		if ((now = clk_now_us()) >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		poll(&pfd, 1, (int)((deadline - now + 999) / 1000));
	}
	return 0;
}

void
pool_release(struct pool_conn *pc, enum pool_end how, const char *why)
{
	struct endpoint *e = pc->ep;
	struct pool *p;

	if (e == NULL)
		return;
	p = e->pool;
	pthread_mutex_lock(&pm.lock);
	e->busy--;
	switch (how) {
	case POOL_KEEP:
		if (e->limit > 0 && e->served >= e->limit)
			pool_retire(p, e, "max_requests reached");
		if (!p->remote)
			p->fails = 0;
		else {
			e->ejections = 0;
			/* Ejected as hung, it answered after all. */
			if (e->ejected && atomic_load(&e->hung))
				pool_restore(e, "a request completed");
		}
		if (e->state == EP_UP && e->nidle < MAX_IDLE_CONNS &&
		    !e->ejected) {
			e->idle[e->nidle++] = pc->fd;
			pc->fd = -1;
		}
		break;
	case POOL_CLOSE:
		break;
	case POOL_FAIL:
		endpoint_failed(e, why ? why : "failed", 0);
		break;
	case POOL_KILL:
		if (!p->remote) {
			log_warn(NULL, "pool %s: killing worker %d (%s)",
			    p->route, (int)e->c.pid, why ? why : "killed");
			timelog_event("worker_killed", (int)e->c.pid, "%s: %s",
			    p->route, why ? why : "killed");
			/* A dead worker's id may be someone else's by now. */
			if (e->state != EP_DEAD) {
				e->state = EP_RETIRING;
				e->why = "killed";
				e->retire_us = clk_now_us();
				stats_count(STAT_KILLS);
				kill(-e->c.pid, SIGKILL);
			}
		} else
			endpoint_failed(e, why ? why : "timed out", 1);
		break;
	}
	if (pc->fd >= 0)
		close(pc->fd);
	pc->fd = -1;
	e->idle_since_us = clk_now_us();
	pc->ep = NULL;
	/*
	 * The endpoint came free: straight to the first waiter, the only
	 * thread woken.  The manager has work only when it is leaving.
	 */
	pool_handoff(p);
	if (how != POOL_KEEP || e->state != EP_UP)
		kick();
	pthread_mutex_unlock(&pm.lock);
}

void
pool_heard(const struct pool_conn *pc, uint64_t now)
{
	struct endpoint *e = pc->ep;

	/* Stored now and then, not on every read by every thread. */
	if (pc->pid == 0 && now > atomic_load_explicit(&e->heard_us,
	    memory_order_relaxed) + HEARD_GRAIN_US)
		atomic_store_explicit(&e->heard_us, now, memory_order_relaxed);
}

int
pool_quiet(const struct pool_conn *pc, uint64_t since, uint64_t now)
{
	struct endpoint *e = pc->ep;

	if (pc->pid != 0 || now < since + POOL_QUIET_US)
		return 0;
	if (atomic_load(&e->hung))
		return 1;
	/* Another connection heard from it lately: it is working. */
	if (now < atomic_load(&e->heard_us) + POOL_QUIET_US)
		return 0;
	if (!atomic_exchange(&e->suspect, 1)) {
		pthread_mutex_lock(&pm.lock);
		kick();
		pthread_mutex_unlock(&pm.lock);
	}
	return 0;
}

const char *
pool_conn_name(const struct pool_conn *pc)
{
	return pc->ep->name;
}

int
pool_waiting(const char *route)
{
	struct pool *p;
	int n = 0;

	pthread_mutex_lock(&pm.lock);
	for (p = pm.pools; p != NULL; p = p->next)
		if (strcmp(p->route, route) == 0)
			n += waitq_count(&p->wq);
	pthread_mutex_unlock(&pm.lock);
	return n;
}

static const char *
state_name(const struct endpoint *e)
{
	if (e->state == EP_DEAD)
		return "dead";
	if (e->state == EP_RETIRING)
		return "retiring";
	if (e->ejected)
		return "ejected";
	return e->busy > 0 ? "busy" : "idle";
}

void
pool_report(FILE *f, void (*quote)(FILE *, const char *))
{
	struct endpoint *e;
	struct pool *p;
	uint64_t now = clk_now_us();

	pthread_mutex_lock(&pm.lock);
	putc('[', f);
	for (p = pm.pools; p != NULL; p = p->next) {
		fputs(p == pm.pools ? "{\"route\":" : ",{\"route\":", f);
		quote(f, p->route);
		fprintf(f, ",\"remote\":%s,\"waiting\":%d,\"workers\":[",
		    p->remote ? "true" : "false", waitq_count(&p->wq));
		for (e = p->eps; e != NULL; e = e->next) {
			fputs(e == p->eps ? "{\"name\":" : ",{\"name\":", f);
			quote(f, e->name);
			fprintf(f, ",\"pid\":%d,\"state\":\"%s\",\"busy\":%d,"
			    "\"requests\":%lu,\"age_s\":%.3f",
			    p->remote ? 0 : (int)e->c.pid, state_name(e),
			    e->busy, e->served, p->remote ? 0.0 :
			    (double)(now - e->born_us) / 1e6);
			if (p->remote)
				fprintf(f, ",\"ejections\":%lu",
				    e->ejected_total);
			putc('}', f);
		}
		fputs("]}", f);
	}
	putc(']', f);
	pthread_mutex_unlock(&pm.lock);
}

void
pool_metrics(FILE *f, void (*quote)(FILE *, const char *))
{
	static const char *states[] = {
		"idle", "busy", "retiring", "ejected", "dead"
	};
	struct endpoint *e;
	struct pool *p;
	size_t i;
	int n;

	fputs("# HELP cgigate_pool_workers FastCGI workers (or backends) "
	    "by state.\n# TYPE cgigate_pool_workers gauge\n", f);
	pthread_mutex_lock(&pm.lock);
	for (p = pm.pools; p != NULL; p = p->next)
		for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
			for (n = 0, e = p->eps; e != NULL; e = e->next)
				n += strcmp(state_name(e), states[i]) == 0;
			fputs("cgigate_pool_workers{route=", f);
			quote(f, p->route);
			fprintf(f, ",state=\"%s\"} %d\n", states[i], n);
		}
	fputs("# HELP cgigate_pool_backend_up Remote FastCGI backends: 1 in "
	    "service, 0 ejected.\n# TYPE cgigate_pool_backend_up gauge\n", f);
	for (p = pm.pools; p != NULL; p = p->next)
		for (e = p->remote ? p->eps : NULL; e != NULL; e = e->next) {
			fputs("cgigate_pool_backend_up{route=", f);
			quote(f, p->route);
			fputs(",backend=", f);
			quote(f, e->name);
			fprintf(f, "} %d\n", !e->ejected);
		}
	fputs("# HELP cgigate_pool_backend_ejections_total Times a remote "
	    "FastCGI backend was ejected.\n"
	    "# TYPE cgigate_pool_backend_ejections_total counter\n", f);
	for (p = pm.pools; p != NULL; p = p->next)
		for (e = p->remote ? p->eps : NULL; e != NULL; e = e->next) {
			fputs("cgigate_pool_backend_ejections_total{route=", f);
			quote(f, p->route);
			fputs(",backend=", f);
			quote(f, e->name);
			fprintf(f, "} %lu\n", e->ejected_total);
		}
	fputs("# HELP cgigate_pool_waiting Requests waiting for a worker.\n"
	    "# TYPE cgigate_pool_waiting gauge\n", f);
	for (p = pm.pools; p != NULL; p = p->next) {
		fputs("cgigate_pool_waiting{route=", f);
		quote(f, p->route);
		fprintf(f, "} %d\n", waitq_count(&p->wq));
	}
	fputs("# HELP cgigate_pool_idle_dropped_total Kept connections "
	    "closed when taken from idle: data (late or stray records) or "
	    "closed (by the application).\n"
	    "# TYPE cgigate_pool_idle_dropped_total counter\n", f);
	for (p = pm.pools; p != NULL; p = p->next) {
		fputs("cgigate_pool_idle_dropped_total{route=", f);
		quote(f, p->route);
		fprintf(f, ",reason=\"data\"} %lu\n",
		    atomic_load(&p->idle_data));
		fputs("cgigate_pool_idle_dropped_total{route=", f);
		quote(f, p->route);
		fprintf(f, ",reason=\"closed\"} %lu\n",
		    atomic_load(&p->idle_closed));
	}
	pthread_mutex_unlock(&pm.lock);
}

void
pool_set_config(const struct config *c)
{
	const struct route_conf *rc;
	struct pool *p;
	int i;

	pthread_mutex_lock(&pm.lock);
	for (p = pm.pools; p != NULL; p = p->next) {
		rc = config_route(c, p->route);
		if (p->remote) {
			/* The backends themselves are fixed until restart. */
			p->pc.max_connections = rc->fcgi.max_connections;
		} else {
			p->pc = rc->fcgi;
			memcpy(p->rlim, rc->rlim, sizeof(p->rlim));
		}
		/* New workers get the new environment; running ones keep
		   theirs until they are replaced. */
		for (i = 0; i < p->nenv; i++)
			free(p->env[i]);
		for (p->nenv = 0, i = 0; i < rc->nenv; i++)
			if ((p->env[p->nenv] = strdup(rc->env[i])) != NULL)
				p->nenv++;
	}
	kick();
	pthread_mutex_unlock(&pm.lock);
}
