/*
 * pool.c: FastCGI endpoints, local worker pools and remote backends.
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
 * Request threads only borrow: pool_acquire waits (bounded by the route's
 * max_queue_wait) for a free endpoint and hands out a connection,
 * pool_release gives it back and says how the request ended.  Everything
 * that changes the set of workers happens on one manager thread, which
 * wakes every TICK_US or when asked: it spawns workers up to demand
 * (min_workers..max_workers), reaps and logs exits, retires idle workers
 * past idle_timeout and workers past their max_requests (with jitter, the
 * replacement started first), rolls the pool when the program file
 * changes, backs off exponentially when workers die at start-up, and
 * probes ejected backends.  Workers are spawned from that one long-lived
 * thread because their parent-death signal (PR_SET_PDEATHSIG, so that a
 * kill -9 of cgigate leaves no worker behind) follows the spawning thread.
 *
 * One mutex guards every pool; the work done under it is a few pointer
 * moves, and each request takes it twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "cgigate.h"

#define TICK_US			100000
#define BACKOFF_MIN_US		100000
#define BACKOFF_MAX_US		(30 * 1000000LL)
#define EJECT_MIN_US		1000000
#define EJECT_MAX_US		(30 * 1000000LL)
#define RETIRE_GRACE_US		(5 * 1000000LL)
#define MAX_IDLE_CONNS		64

enum ep_state { EP_UP, EP_RETIRING, EP_DEAD };

struct endpoint {
	struct pool		*pool;
	struct endpoint		*next;
	enum ep_state		 state;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			 name[128];
	int			 busy;		/* requests in flight */
	int			 idle[MAX_IDLE_CONNS];
	int			 nidle;
	/* local workers */
	struct child		 c;
	int			 spawned;
	unsigned long		 served;	/* requests handed to it */
	unsigned long		 limit;		/* recycle after, 0: never */
	uint64_t		 born_us, idle_since_us, retire_us;
	const char		*why;		/* retired or failed: why */
	unsigned		 gen;
	char			 outbuf[1024];
	size_t			 outlen;
	/* remote backends */
	int			 ejected;
	int			 ejections;
	uint64_t		 retry_us;
};

/*
 * A request waiting for an endpoint.  Waiters queue in arrival order and
 * a freed endpoint is handed to the first one directly, so that nobody
 * arriving later takes it first (which made the latency tail long) and
 * only the thread that gets it wakes up.
 */
struct waiter {
	pthread_cond_t		 cond;
	struct endpoint		*ep;	/* handed over, already counted */
	int			 recheck;	/* the pool changed: look again */
	struct waiter		*next;
};

struct pool {
	struct pool		*next;
	char			 route[ROUTE_NAME_MAX];
	int			 remote;
	char			 path[PATH_MAX];
	struct stat		 st;		/* of path when last spawned */
	unsigned		 gen;
	struct pool_conf	 pc;
	rlim_t			 rlim[RL_COUNT];
	char			*env[MAX_ROUTE_ENV];
	int			 nenv;
	struct waiter		*wq_head, *wq_tail;	/* FIFO */
	struct endpoint		*eps;
	int			 waiters;
	int			 fails;		/* start-up failures in a row */
	int			 gone;		/* the program was removed */
	uint64_t		 backoff_until;
	unsigned long		 seq;
};

static struct {
	pthread_mutex_t	 lock;
	pthread_cond_t	 wake;
	pthread_t	 thread;
	int		 running, stop, kick;
	struct pool	*pools;
	unsigned long	 seq;
	const struct config *cfg;
} pm = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static void
cond_init(pthread_cond_t *c)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
}

static struct timespec
abs_ts(uint64_t us)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(us / 1000000);
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	return ts;
}

/* Ask the manager to look at the pools now.  Lock held. */
static void
kick(void)
{
	pm.kick = 1;
	pthread_cond_signal(&pm.wake);
}

static int
count(const struct pool *p, enum ep_state st)
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
		if (backend_addr(e, rc->fcgi.backends[i]) == -1) {
			log_msg(NULL, "pool %s: bad backend %s", route,
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

static void
retire(struct pool *p, struct endpoint *e, const char *why)
{
	if (e->state != EP_UP)
		return;
	e->state = EP_RETIRING;
	e->why = why;
	e->retire_us = 0;	/* signalled once it is idle */
	timelog_event("worker_retire", (int)e->c.pid, "%s: %s", p->route,
	    why);
}

/* A free endpoint: an idle worker, or the least loaded backend. */
static struct endpoint *
pick(struct pool *p)
{
	struct endpoint *e, *best = NULL;

	for (e = p->eps; e != NULL; e = e->next) {
		if (e->state != EP_UP || e->ejected ||
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
	return best;
}

/* Count e as taken by one more request.  Lock held. */
static void
take(struct endpoint *e)
{
	e->busy++;
	e->served++;
}

/* Hand free endpoints to the waiters, first come first.  Lock held. */
static void
handoff(struct pool *p)
{
	struct endpoint *e;
	struct waiter *w;

	while ((w = p->wq_head) != NULL && (e = pick(p)) != NULL) {
		take(e);
		w->ep = e;
		p->wq_head = w->next;
		if (p->wq_head == NULL)
			p->wq_tail = NULL;
		w->next = NULL;
		pthread_cond_signal(&w->cond);
	}
}

/* Something changed that waiters must see (backoff, stop).  Lock held. */
static void
wake_all(struct pool *p)
{
	struct waiter *w;

	for (w = p->wq_head; w != NULL; w = w->next) {
		w->recheck = 1;
		pthread_cond_signal(&w->cond);
	}
}

/* Leave the queue (timed out or told to look again).  Lock held. */
static void
unqueue(struct pool *p, struct waiter *me)
{
	struct waiter **wp, *prev = NULL;

	for (wp = &p->wq_head; *wp != NULL; prev = *wp, wp = &(*wp)->next)
		if (*wp == me) {
			*wp = me->next;
			if (p->wq_tail == me)
				p->wq_tail = prev;
			break;
		}
	me->next = NULL;
}

static int
dial(const struct endpoint *e)
{
	int fd, one = 1;

	fd = socket(e->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)&e->addr, e->addrlen) ==
	    -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	if (e->addr.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Take e out of service after a failure.  Lock held. */
static void
endpoint_failed(struct endpoint *e, const char *why)
{
	struct pool *p = e->pool;
	uint64_t wait;

	if (p->remote) {
		if (e->ejected)
			return;
		wait = (uint64_t)EJECT_MIN_US << (e->ejections < 5 ?
		    e->ejections : 5);
		if (wait > EJECT_MAX_US)
			wait = EJECT_MAX_US;
		e->ejected = 1;
		e->ejections++;
		e->retry_us = now_us() + wait;
		while (e->nidle > 0)
			close(e->idle[--e->nidle]);
		log_msg(NULL, "pool %s: backend %s ejected (%s); retry in "
		    "%llu ms", p->route, e->name, why,
		    (unsigned long long)wait / 1000);
		timelog_event("backend_ejected", 0, "%s %s: %s", p->route,
		    e->name, why);
		return;
	}
	if (e->state == EP_UP) {
		log_msg(NULL, "pool %s: worker %d failed (%s); replacing it",
		    p->route, (int)e->c.pid, why);
		e->state = EP_RETIRING;
		e->why = "failed";
		e->retire_us = now_us();
		stats_count(STAT_KILLS);
		kill(-e->c.pid, SIGKILL);
	}
}

int
pool_acquire(struct pool *p, uint64_t deadline, struct pool_conn *pc,
    const char **why)
{
	struct endpoint *e;
	struct waiter me;
	struct timespec ts;
	uint64_t t0;
	int fd, tries = 0;

	memset(pc, 0, sizeof(*pc));
	pc->fd = -1;
	memset(&me, 0, sizeof(me));
	cond_init(&me.cond);
	pthread_mutex_lock(&pm.lock);
	for (;;) {
		if (pm.stop) {
			if (me.ep != NULL) {
				me.ep->busy--;
				me.ep->served--;
			}
			*why = "shutting down";
			break;
		}
		/* Only when nobody queues ahead: no overtaking. */
		e = me.ep;
		me.ep = NULL;
		if (e == NULL && p->wq_head == NULL && (e = pick(p)) != NULL)
			take(e);
		if (e != NULL) {
			pc->ep = e;
			pc->pid = p->remote ? 0 : e->c.pid;
			pc->nreq = e->served;
			if (e->nidle > 0) {
				pc->fd = e->idle[--e->nidle];
				pc->reused = 1;
				pthread_mutex_unlock(&pm.lock);
				pthread_cond_destroy(&me.cond);
				return 0;
			}
			pthread_mutex_unlock(&pm.lock);
			t0 = now_us();
			fd = dial(e);
			pc->connect_us = (long long)(now_us() - t0);
			if (fd >= 0) {
				pc->fd = fd;
				pthread_cond_destroy(&me.cond);
				return 0;
			}
			pthread_mutex_lock(&pm.lock);
			e->busy--;
			e->served--;
			endpoint_failed(e, strerror(errno));
			handoff(p);
			kick();
			if (++tries < 4)
				continue;
			*why = "cannot connect to any FastCGI endpoint";
			break;
		}
		if (p->remote && count(p, EP_UP) > 0) {
			int live = 0;

			for (e = p->eps; e != NULL; e = e->next)
				live += !e->ejected;
			if (live == 0) {
				*why = "every FastCGI backend is ejected";
				break;
			}
		}
		if (!p->remote && count(p, EP_UP) == 0 &&
		    now_us() < p->backoff_until) {
			*why = "workers fail at start-up; backing off";
			break;
		}
		if (now_us() >= deadline) {
			*why = "pool at max_workers past max_queue_wait";
			break;
		}
		me.recheck = 0;
		if (p->wq_tail != NULL)
			p->wq_tail->next = &me;
		else
			p->wq_head = &me;
		p->wq_tail = &me;
		p->waiters++;
		handoff(p);	/* in case one is free already */
		if (!p->remote && count(p, EP_UP) < p->pc.max_workers)
			kick();		/* room to grow */
		ts = abs_ts(deadline);
		while (me.ep == NULL && !me.recheck && !pm.stop &&
		    pthread_cond_timedwait(&me.cond, &pm.lock, &ts) == 0)
			;
		p->waiters--;
		if (me.ep == NULL)
			unqueue(p, &me);
	}
	pthread_mutex_unlock(&pm.lock);
	pthread_cond_destroy(&me.cond);
	return 503;
}

int
pool_write_all(int fd, const void *buf, size_t len, uint64_t deadline)
{
	const char *p = buf;
	struct pollfd pfd;
	uint64_t now;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
		if ((now = now_us()) >= deadline)
			return -1;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		poll(&pfd, 1, (int)((deadline - now + 999) / 1000));
	}
	return 0;
}

int
pool_redial(struct pool_conn *pc)
{
	uint64_t t0 = now_us();
	int fd;

	if ((fd = dial(pc->ep)) == -1)
		return -1;
	close(pc->fd);
	pc->fd = fd;
	pc->reused = 0;
	pc->connect_us = (long long)(now_us() - t0);
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
			retire(p, e, "max_requests reached");
		if (e->state == EP_UP && e->nidle < MAX_IDLE_CONNS &&
		    !e->ejected) {
			e->idle[e->nidle++] = pc->fd;
			pc->fd = -1;
		}
		if (!p->remote)
			p->fails = 0;
		else
			e->ejections = 0;
		break;
	case POOL_CLOSE:
		break;
	case POOL_FAIL:
		endpoint_failed(e, why ? why : "failed");
		break;
	case POOL_KILL:
		if (!p->remote) {
			log_msg(NULL, "pool %s: killing worker %d (%s)",
			    p->route, (int)e->c.pid, why ? why : "killed");
			timelog_event("worker_killed", (int)e->c.pid, "%s: %s",
			    p->route, why ? why : "killed");
			if (e->state != EP_DEAD) {
				e->state = EP_RETIRING;
				e->why = "killed";
				e->retire_us = now_us();
			}
			stats_count(STAT_KILLS);
			kill(-e->c.pid, SIGKILL);
		} else
			endpoint_failed(e, why ? why : "timed out");
		break;
	}
	if (pc->fd >= 0)
		close(pc->fd);
	pc->fd = -1;
	e->idle_since_us = now_us();
	pc->ep = NULL;
	/*
	 * The endpoint came free: straight to the first waiter, the only
	 * thread woken.  The manager has work only when it is leaving.
	 */
	handoff(p);
	if (how != POOL_KEEP || e->state != EP_UP)
		kick();
	pthread_mutex_unlock(&pm.lock);
}

/* Lines a worker wrote to its own stdout or stderr go to our log. */
static void
drain_output(struct endpoint *e, int fd, int final)
{
	char *nl, *line;
	ssize_t n;

	if (fd < 0)
		return;
	for (;;) {
		n = read(fd, e->outbuf + e->outlen,
		    sizeof(e->outbuf) - e->outlen);
		if (n > 0)
			e->outlen += (size_t)n;
		line = e->outbuf;
		while ((nl = memchr(line, '\n', e->outlen - (size_t)(line -
		    e->outbuf))) != NULL) {
			log_msg(NULL, "pool %s worker %d: %.*s", e->pool->route,
			    (int)e->c.pid, (int)(nl - line), line);
			line = nl + 1;
		}
		e->outlen -= (size_t)(line - e->outbuf);
		memmove(e->outbuf, line, e->outlen);
		if (e->outlen == sizeof(e->outbuf) || (final && n <= 0 &&
		    e->outlen > 0)) {
			log_msg(NULL, "pool %s worker %d: %.*s", e->pool->route,
			    (int)e->c.pid, (int)e->outlen, e->outbuf);
			e->outlen = 0;
		}
		if (n <= 0)
			return;
	}
}

/*
 * A worker's environment: built from scratch like a CGI handler's, with
 * PATH and the route's env lines; per-request variables come as PARAMS.
 */
static char **
worker_env(const struct pool *p)
{
	char **envp;
	int i, n = 0;

	if ((envp = calloc((size_t)p->nenv + 2, sizeof(*envp))) == NULL)
		return NULL;
	if (asprintf(&envp[n], "PATH=%s", pm.cfg->path_env) == -1) {
		free(envp);
		return NULL;
	}
	n++;
	for (i = 0; i < p->nenv; i++)
		envp[n++] = p->env[i];
	return envp;
}

/* Start one worker.  Lock held; dropped around the spawn itself. */
static void
spawn_worker(struct pool *p)
{
	struct endpoint *e;
	struct sockaddr_un *sun;
	struct spawn_req sr;
	char *argv[2], cwd[PATH_MAX], *slash, **envp;
	int lfd = -1, stdio[3], rc, saved;
	unsigned long jitter;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return;
	e->pool = p;
	e->c.pid = -1;
	sun = (struct sockaddr_un *)&e->addr;
	sun->sun_family = AF_UNIX;
	/* Abstract namespace: nothing on disk to clean up (unix(7)). */
	rc = snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1,
	    "cgigate.%ld.%lu", (long)getpid(), ++pm.seq);
	e->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
	    (size_t)rc);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)sun, e->addrlen) == -1 ||
	    listen(lfd, 64) == -1) {
		log_msg(NULL, "pool %s: worker socket: %s", p->route,
		    strerror(errno));
		goto fail;
	}
	if ((envp = worker_env(p)) == NULL)
		goto fail;
	snprintf(cwd, sizeof(cwd), "%s", p->path);
	if ((slash = strrchr(cwd, '/')) != NULL)
		*slash = '\0';
	argv[0] = p->path;
	argv[1] = NULL;
	stdio[0] = lfd;
	stdio[1] = -1;
	stdio[2] = -1;
	memset(&sr, 0, sizeof(sr));
	sr.path = p->path;
	sr.argv = argv;
	sr.envp = envp;
	sr.cwd = cwd;
	sr.rlim = p->rlim;
	sr.stdio = stdio;
	sr.pdeathsig = SIGKILL;
	pthread_mutex_unlock(&pm.lock);
	rc = spawn_child(&sr, &e->c);
	saved = errno;
	pthread_mutex_lock(&pm.lock);
	free(envp[0]);
	free(envp);
	close(lfd);
	lfd = -1;
	if (rc == -1) {
		log_msg(NULL, "pool %s: spawn %s: %s", p->route, p->path,
		    strerror(saved));
		timelog_event("worker_spawn_failed", 0, "%s: %s", p->route,
		    strerror(saved));
		p->fails++;
		goto backoff;
	}
	e->spawned = 1;
	e->state = EP_UP;
	e->gen = p->gen;
	e->born_us = e->idle_since_us = now_us();
	if (p->pc.max_requests > 0) {
		/* Up to 10% early, so that workers do not recycle together. */
		jitter = (unsigned long)random() % (p->pc.max_requests / 10 + 1);
		e->limit = p->pc.max_requests - jitter;
	}
	snprintf(e->name, sizeof(e->name), "pid %d", (int)e->c.pid);
	e->next = p->eps;
	p->eps = e;
	handoff(p);
	timelog_event("worker_spawn", (int)e->c.pid, "%s", p->route);
	return;
backoff:
	free(e);
	{
		uint64_t wait = (uint64_t)BACKOFF_MIN_US << (p->fails < 9 ?
		    p->fails : 9);

		if (wait > BACKOFF_MAX_US)
			wait = BACKOFF_MAX_US;
		p->backoff_until = now_us() + wait;
	}
	return;
fail:
	if (lfd >= 0)
		close(lfd);
	free(e);
}

/* A worker's process is gone: log it, and count start-up failures. */
static void
worker_exited(struct pool *p, struct endpoint *e)
{
	char how[64];
	int st = e->c.status;
	uint64_t wait;

	if (WIFSIGNALED(st))
		snprintf(how, sizeof(how), "killed by signal %d",
		    WTERMSIG(st));
	else
		snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(st));
	drain_output(e, e->c.out, 1);
	drain_output(e, e->c.err, 1);
	if (e->state == EP_RETIRING) {
		timelog_event("worker_exit", (int)e->c.pid, "%s: %s (%s)",
		    p->route, how, e->why ? e->why : "retired");
	} else {
		log_msg(NULL, "pool %s: worker %d died: %s after %lu requests",
		    p->route, (int)e->c.pid, how, e->served);
		timelog_event("worker_exit", (int)e->c.pid, "%s: %s",
		    p->route, how);
		if (e->served == 0 || (e->served == 1 && e->busy > 0)) {
			p->fails++;
			wait = (uint64_t)BACKOFF_MIN_US << (p->fails < 9 ?
			    p->fails - 1 : 8);
			if (wait > BACKOFF_MAX_US)
				wait = BACKOFF_MAX_US;
			p->backoff_until = now_us() + wait;
			log_msg(NULL, "pool %s: worker failed at start-up "
			    "(%d in a row); next start in %llu ms", p->route,
			    p->fails, (unsigned long long)wait / 1000);
			timelog_event("backoff", 0, "%s: %d failures, %llu ms",
			    p->route, p->fails,
			    (unsigned long long)wait / 1000);
		}
	}
	e->state = EP_DEAD;
	while (e->nidle > 0)
		close(e->idle[--e->nidle]);
}

/* One pass over a local pool.  Lock held. */
static void
tend_local(struct pool *p, uint64_t now)
{
	struct endpoint *e, **ep;
	struct stat st;
	int up, want, busy = 0, spare;

	/* The program is gone: retire its workers, start none. */
	if (stat(p->path, &st) == -1) {
		if (!p->gone)
			log_msg(NULL, "pool %s: %s is gone; stopping its "
			    "workers", p->route, p->path);
		p->gone = 1;
		for (e = p->eps; e != NULL; e = e->next)
			retire(p, e, "program removed");
	} else if (p->gone) {
		p->gone = 0;
		p->st.st_ino = 0;	/* roll below */
	}
	/* The program was replaced or touched: roll to the new one. */
	if (!p->gone &&
	    (st.st_ino != p->st.st_ino || st.st_dev != p->st.st_dev ||
	    st.st_mtim.tv_sec != p->st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != p->st.st_mtim.tv_nsec ||
	    st.st_ctim.tv_nsec != p->st.st_ctim.tv_nsec)) {
		p->st = st;
		p->gen++;
		p->fails = 0;
		p->backoff_until = 0;
		log_msg(NULL, "pool %s: %s changed; rolling workers", p->route,
		    p->path);
		for (e = p->eps; e != NULL; e = e->next)
			retire(p, e, "program changed");
	}

	for (e = p->eps; e != NULL; e = e->next) {
		drain_output(e, e->c.out, 0);
		drain_output(e, e->c.err, 0);
		if (e->state != EP_DEAD && spawn_reap(&e->c))
			worker_exited(p, e);
		if (e->state == EP_UP && e->busy == 0 && e->limit > 0 &&
		    e->served >= e->limit)
			retire(p, e, "max_requests reached");
		busy += e->busy > 0 && e->state == EP_UP;
	}

	/* Spawn up to demand first, so that retiring leaves no gap. */
	up = count(p, EP_UP);
	want = p->gone ? 0 : busy + p->waiters;
	if (want < p->pc.min_workers)
		want = p->pc.min_workers;
	if (want > p->pc.max_workers || p->gone)
		want = p->gone ? 0 : p->pc.max_workers;
	while (up < want && now >= p->backoff_until && !pm.stop) {
		int before = count(p, EP_UP);

		spawn_worker(p);
		if (count(p, EP_UP) == before)
			break;
		up++;
	}

	/* Idle workers above min_workers go after idle_timeout. */
	spare = up - p->pc.min_workers;
	for (e = p->eps; e != NULL && spare > 0; e = e->next)
		if (e->state == EP_UP && e->busy == 0 &&
		    p->waiters == 0 && now > e->idle_since_us &&
		    now - e->idle_since_us >= (uint64_t)p->pc.idle_us) {
			retire(p, e, "idle");
			spare--;
		}

	/* Retiring workers get SIGTERM once idle, SIGKILL after a grace. */
	for (e = p->eps; e != NULL; e = e->next) {
		if (e->state != EP_RETIRING || e->busy > 0)
			continue;
		if (e->retire_us == 0) {
			while (e->nidle > 0)
				close(e->idle[--e->nidle]);
			kill(-e->c.pid, SIGTERM);
			e->retire_us = now;
		} else if (now - e->retire_us > RETIRE_GRACE_US)
			kill(-e->c.pid, SIGKILL);
	}

	/* Forget the dead once nobody holds them. */
	for (ep = &p->eps; (e = *ep) != NULL; ) {
		if (e->state == EP_DEAD && e->busy == 0) {
			*ep = e->next;
			spawn_release(&e->c);
			free(e);
		} else
			ep = &e->next;
	}
	if (up > 0 || p->waiters == 0)
		return;
	/* Waiters with no worker coming: let them give up quickly. */
	if (now < p->backoff_until)
		wake_all(p);
}

/* Ejected backends whose time has come are probed with a connect. */
static void
tend_remote(struct pool *p, uint64_t now)
{
	struct endpoint *e;
	int fd;

	for (e = p->eps; e != NULL; e = e->next) {
		if (!e->ejected || now < e->retry_us)
			continue;
		pthread_mutex_unlock(&pm.lock);
		fd = dial(e);
		pthread_mutex_lock(&pm.lock);
		if (fd >= 0) {
			close(fd);
			e->ejected = 0;
			log_msg(NULL, "pool %s: backend %s restored", p->route,
			    e->name);
			timelog_event("backend_restored", 0, "%s %s", p->route,
			    e->name);
			handoff(p);
		} else {
			uint64_t wait = (uint64_t)EJECT_MIN_US <<
			    (e->ejections < 5 ? e->ejections : 5);

			e->ejections++;
			e->retry_us = now_us() + (wait > EJECT_MAX_US ?
			    EJECT_MAX_US : wait);
		}
	}
}

/* Every FastCGI handler gets its pool, and min_workers, before use. */
static void
warm(const struct route *rt, void *arg)
{
	const struct route_conf *rc = config_route(pm.cfg, rt->name);
	char abs[PATH_MAX];
	const char *why;

	(void)arg;
	if (rc->mode == MODE_CGI || (rc->mode == MODE_AUTO &&
	    rt->kind != ROUTE_FCGI))
		return;
	if (scan_resolve(rt->file, abs, &why) == 0)
		pool_get(rt->name, abs, rc);
}

static void *
manager(void *arg)
{
	uint64_t next_warm = 0;
	struct pool *p;
	struct timespec ts;

	(void)arg;
	pthread_mutex_lock(&pm.lock);
	while (!pm.stop) {
		uint64_t now = now_us();

		if (now >= next_warm) {
			pthread_mutex_unlock(&pm.lock);
			scan_each(warm, NULL);
			pthread_mutex_lock(&pm.lock);
			next_warm = now + 10 * TICK_US;
		}

		for (p = pm.pools; p != NULL; p = p->next) {
			if (p->remote)
				tend_remote(p, now);
			else
				tend_local(p, now);
		}
		if (!pm.kick) {
			ts = abs_ts(now_us() + TICK_US);
			pthread_cond_timedwait(&pm.wake, &pm.lock, &ts);
		}
		pm.kick = 0;
	}
	pthread_mutex_unlock(&pm.lock);
	return NULL;
}

int
pool_start(const struct config *c)
{
	pm.cfg = c;
	cond_init(&pm.wake);
	srandom((unsigned)getpid() ^ (unsigned)now_us());
	if ((errno = pthread_create(&pm.thread, NULL, manager, NULL)) != 0) {
		log_msg(NULL, "pool_start: pthread_create: %s",
		    strerror(errno));
		return -1;
	}
	pm.running = 1;
	return 0;
}

void
pool_stop(void)
{
	struct pool *p, *pn;
	struct endpoint *e, *en;
	uint64_t deadline;
	int left;

	if (!pm.running)
		return;
	pthread_mutex_lock(&pm.lock);
	pm.stop = 1;
	pthread_cond_signal(&pm.wake);
	for (p = pm.pools; p != NULL; p = p->next)
		wake_all(p);
	pthread_mutex_unlock(&pm.lock);
	pthread_join(pm.thread, NULL);
	pm.running = 0;

	/* Requests are over (the HTTP side drained first): end the workers. */
	for (p = pm.pools; p != NULL; p = p->next)
		for (e = p->eps; e != NULL; e = e->next) {
			while (e->nidle > 0)
				close(e->idle[--e->nidle]);
			if (e->spawned && !spawn_reap(&e->c))
				kill(-e->c.pid, SIGTERM);
		}
	deadline = now_us() + RETIRE_GRACE_US;
	do {
		left = 0;
		for (p = pm.pools; p != NULL; p = p->next)
			for (e = p->eps; e != NULL; e = e->next)
				if (e->spawned && spawn_wait(&e->c,
				    now_us() + 10000) == -1)
					left++;
	} while (left > 0 && now_us() < deadline);
	for (p = pm.pools; p != NULL; p = pn) {
		pn = p->next;
		for (e = p->eps; e != NULL; e = en) {
			en = e->next;
			if (e->spawned) {
				if (!spawn_reap(&e->c))
					kill(-e->c.pid, SIGKILL);
				spawn_wait(&e->c, now_us() + 1000000);
				drain_output(e, e->c.out, 1);
				drain_output(e, e->c.err, 1);
				timelog_event("worker_exit", (int)e->c.pid,
				    "%s: stopped", p->route);
				spawn_release(&e->c);
			}
			free(e);
		}
		for (left = 0; left < p->nenv; left++)
			free(p->env[left]);
		free(p);
	}
	pm.pools = NULL;
}

int
pool_waiting(const char *route)
{
	struct pool *p;
	int n = 0;

	pthread_mutex_lock(&pm.lock);
	for (p = pm.pools; p != NULL; p = p->next)
		if (strcmp(p->route, route) == 0)
			n += p->waiters;
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
	uint64_t now = now_us();

	pthread_mutex_lock(&pm.lock);
	putc('[', f);
	for (p = pm.pools; p != NULL; p = p->next) {
		fputs(p == pm.pools ? "{\"route\":" : ",{\"route\":", f);
		quote(f, p->route);
		fprintf(f, ",\"remote\":%s,\"waiting\":%d,\"workers\":[",
		    p->remote ? "true" : "false", p->waiters);
		for (e = p->eps; e != NULL; e = e->next) {
			fputs(e == p->eps ? "{\"name\":" : ",{\"name\":", f);
			quote(f, e->name);
			fprintf(f, ",\"pid\":%d,\"state\":\"%s\",\"busy\":%d,"
			    "\"requests\":%lu,\"age_s\":%.3f}",
			    p->remote ? 0 : (int)e->c.pid, state_name(e),
			    e->busy, e->served, p->remote ? 0.0 :
			    (double)(now - e->born_us) / 1e6);
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
	fputs("# HELP cgigate_pool_waiting Requests waiting for a worker.\n"
	    "# TYPE cgigate_pool_waiting gauge\n", f);
	for (p = pm.pools; p != NULL; p = p->next) {
		fputs("cgigate_pool_waiting{route=", f);
		quote(f, p->route);
		fprintf(f, "} %d\n", p->waiters);
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
	pm.cfg = c;
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
