/*
 * poolmgr.c: the manager thread of the FastCGI pools.
 *
 * Everything that changes the set of workers happens on this one thread,
 * which wakes every TICK_US or when a request thread (pool.c) asks: it
 * spawns workers up to demand (min_workers..max_workers), reaps and logs
 * exits, retires idle workers past idle_timeout and workers past their
 * max_requests (with jitter, the replacement started first), rolls the
 * pool when the program file changes, backs off exponentially when
 * workers die at start-up, and probes remote backends (probe.c).  Workers are
 * spawned from that one long-lived thread because their parent-death
 * signal (PR_SET_PDEATHSIG: a worker dies with cgigate at once; the
 * keeper, keeper.c, then ends the rest of its process group) follows the
 * spawning thread.  That signal also fires when pool_stop ends the
 * thread, before the workers; so every worker is spawned with kill_rest,
 * and a wrapper shell that dies alone takes its children with it when it
 * is reaped.  Lines workers write to stdout or
 * stderr go to the log.  Every ten ticks the handlers are scanned, so
 * that every FastCGI handler gets its pool, and min_workers, before use.
 *
 * It holds the pools' one mutex while it works and drops it around a
 * spawn and the handler scan.  pool_stop ends the
 * thread, then the workers (SIGTERM, then SIGKILL after a grace), and
 * frees the pools.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgigate.h"
#include "pool_int.h"

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
			log_warn(NULL, "pool %s worker %d: %.*s",
			    e->pool->route, (int)e->c.pid, (int)(nl - line),
			    line);
			line = nl + 1;
		}
		e->outlen -= (size_t)(line - e->outbuf);
		memmove(e->outbuf, line, e->outlen);
		if (e->outlen == sizeof(e->outbuf) || (final && n <= 0 &&
		    e->outlen > 0)) {
			log_warn(NULL, "pool %s worker %d: %.*s",
			    e->pool->route, (int)e->c.pid, (int)e->outlen,
			    e->outbuf);
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
		log_err(NULL, "pool %s: worker socket: %s", p->route,
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
	/* A wrapper's children go with it, also when it is killed alone. */
	sr.kill_rest = 1;
	pthread_mutex_unlock(&pm.lock);
	rc = spawn_child(&sr, &e->c);
	saved = errno;
	pthread_mutex_lock(&pm.lock);
	free(envp[0]);
	free(envp);
	close(lfd);
	lfd = -1;
	if (rc == -1) {
		log_err(NULL, "pool %s: spawn %s: %s", p->route, p->path,
		    strerror(saved));
		timelog_event("worker_spawn_failed", 0, "%s: %s", p->route,
		    strerror(saved));
		p->fails++;
		goto backoff;
	}
	e->spawned = 1;
	e->state = EP_UP;
	e->gen = p->gen;
	e->born_us = e->idle_since_us = clk_now_us();
	if (p->pc.max_requests > 0) {
		/* Up to 10% early, so that workers do not recycle together. */
		jitter = (unsigned long)random() % (p->pc.max_requests / 10 + 1);
		e->limit = p->pc.max_requests - jitter;
	}
	snprintf(e->name, sizeof(e->name), "pid %d", (int)e->c.pid);
	e->next = p->eps;
	p->eps = e;
	pool_handoff(p);
	timelog_event("worker_spawn", (int)e->c.pid, "%s", p->route);
	log_debug(NULL, "pool %s: worker %d started", p->route, (int)e->c.pid);
	return;
backoff:
	free(e);
	p->backoff_until = clk_now_us() + backoff_us(BACKOFF_MIN_US,
	    BACKOFF_MAX_US, (unsigned)p->fails);
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
		log_debug(NULL, "pool %s: worker %d exited: %s (%s)", p->route,
		    (int)e->c.pid, how, e->why ? e->why : "retired");
		timelog_event("worker_exit", (int)e->c.pid, "%s: %s (%s)",
		    p->route, how, e->why ? e->why : "retired");
	} else {
		log_warn(NULL, "pool %s: worker %d died: %s after %lu requests",
		    p->route, (int)e->c.pid, how, e->served);
		timelog_event("worker_exit", (int)e->c.pid, "%s: %s",
		    p->route, how);
		if (e->served == 0 || (e->served == 1 && e->busy > 0)) {
			p->fails++;
			/* Its own cap: BACKOFF_MIN_US << 8, 25.6 s. */
			wait = backoff_us(BACKOFF_MIN_US,
			    (uint64_t)BACKOFF_MIN_US << 8, (unsigned)p->fails - 1);
			p->backoff_until = clk_now_us() + wait;
			log_warn(NULL, "pool %s: worker failed at start-up "
			    "(%d in a row); next start in %llu ms", p->route,
			    p->fails, (unsigned long long)wait / 1000);
			timelog_event("backoff", 0, "%s: %d failures, %llu ms",
			    p->route, p->fails,
			    (unsigned long long)wait / 1000);
		}
	}
	e->state = EP_DEAD;
	pool_close_idle(e);
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
			log_notice(NULL, "pool %s: %s is gone; stopping its "
			    "workers", p->route, p->path);
		p->gone = 1;
		for (e = p->eps; e != NULL; e = e->next)
			pool_retire(p, e, "program removed");
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
		log_notice(NULL, "pool %s: %s changed; rolling workers",
		    p->route, p->path);
		for (e = p->eps; e != NULL; e = e->next)
			pool_retire(p, e, "program changed");
	}

	for (e = p->eps; e != NULL; e = e->next) {
		drain_output(e, e->c.out, 0);
		drain_output(e, e->c.err, 0);
		if (e->state != EP_DEAD && spawn_reap(&e->c))
			worker_exited(p, e);
		if (e->state == EP_UP && e->busy == 0 && e->limit > 0 &&
		    e->served >= e->limit)
			pool_retire(p, e, "max_requests reached");
		busy += e->busy > 0 && e->state == EP_UP;
	}

	/* Spawn up to demand first, so that retiring leaves no gap. */
	up = pool_count(p, EP_UP);
	want = p->gone ? 0 : busy + waitq_count(&p->wq);
	if (want < p->pc.min_workers)
		want = p->pc.min_workers;
	if (want > p->pc.max_workers || p->gone)
		want = p->gone ? 0 : p->pc.max_workers;
	while (up < want && now >= p->backoff_until && !pm.stop) {
		int before = pool_count(p, EP_UP);

		spawn_worker(p);
		if (pool_count(p, EP_UP) == before)
			break;
		up++;
	}

	/* Idle workers above min_workers go after idle_timeout. */
	spare = up - p->pc.min_workers;
	for (e = p->eps; e != NULL && spare > 0; e = e->next)
		if (e->state == EP_UP && e->busy == 0 &&
		    waitq_count(&p->wq) == 0 && now > e->idle_since_us &&
		    now - e->idle_since_us >= (uint64_t)p->pc.idle_us) {
			pool_retire(p, e, "idle");
			spare--;
		}

	/* Retiring workers get SIGTERM once idle, SIGKILL after a grace. */
	for (e = p->eps; e != NULL; e = e->next) {
		if (e->state != EP_RETIRING || e->busy > 0)
			continue;
		if (e->retire_us == 0) {
			pool_close_idle(e);
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
	if (up > 0 || waitq_count(&p->wq) == 0)
		return;
	/* Waiters with no worker coming: let them give up quickly. */
	if (now < p->backoff_until)
		waitq_wake_all(&p->wq);
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
		uint64_t now = clk_now_us();
		/* The configuration of this pass, held until its end. */
		const struct config *c = cfgref_hold();

		pm.cfg = c;

		if (now >= next_warm) {
			pthread_mutex_unlock(&pm.lock);
			scan_each(warm, NULL);
			pthread_mutex_lock(&pm.lock);
			next_warm = now + 10 * TICK_US;
		}

		for (p = pm.pools; p != NULL; p = p->next) {
			if (p->remote)
				probe_tend(p, now);
			else
				tend_local(p, now);
		}
		cfgref_drop(c);
		if (!pm.kick) {
			ts = clk_ts(clk_now_us() + TICK_US);
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
	pthread_mutex_lock(&pm.lock);
	pm.cfg = c;
	clk_cond_init(&pm.wake);
	pm.ready = 1;
	pthread_mutex_unlock(&pm.lock);
	srandom((unsigned)getpid() ^ (unsigned)clk_now_us());
	if ((errno = pthread_create(&pm.thread, NULL, manager, NULL)) != 0) {
		log_err(NULL, "pool_start: pthread_create: %s",
		    strerror(errno));
		return -1;
	}
	pthread_setname_np(pm.thread, "cg-poolmgr");
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
		waitq_wake_all(&p->wq);
	pthread_mutex_unlock(&pm.lock);
	pthread_join(pm.thread, NULL);
	pm.running = 0;

	/* Requests are over (the HTTP side drained first): end the workers. */
	for (p = pm.pools; p != NULL; p = p->next)
		for (e = p->eps; e != NULL; e = e->next) {
			pool_close_idle(e);
			if (e->spawned && !spawn_reap(&e->c))
				kill(-e->c.pid, SIGTERM);
		}
	deadline = clk_now_us() + RETIRE_GRACE_US;
	do {
		left = 0;
		for (p = pm.pools; p != NULL; p = p->next)
			for (e = p->eps; e != NULL; e = e->next)
				if (e->spawned && spawn_wait(&e->c,
				    clk_now_us() + 10000) == -1)
					left++;
	} while (left > 0 && clk_now_us() < deadline);
	for (p = pm.pools; p != NULL; p = pn) {
		pn = p->next;
		for (e = p->eps; e != NULL; e = en) {
			en = e->next;
			probe_close(e);
			if (e->spawned) {
				if (!spawn_reap(&e->c))
					kill(-e->c.pid, SIGKILL);
				spawn_wait(&e->c, clk_now_us() + 1000000);
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
