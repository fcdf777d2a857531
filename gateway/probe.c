/*
 * probe.c: is a remote FastCGI backend alive?  Asked by the manager thread.
 *
 * A TCP connection says little: the kernel of a host whose backend is
 * stopped (SIGSTOP) or stuck still completes connections into its listen
 * queue and takes the bytes sent, and nothing ever answers.  So a probe
 * asks the application itself, with an FCGI_GET_VALUES record (FastCGI
 * spec 4.1), which php-fpm and libfcgi answer from whichever worker reads
 * it without running a script; an FCGI_UNKNOWN_TYPE answer (spec 4.2)
 * will do as well.  It has PROBE_US to connect and be answered.
 *
 * A backend in service is probed when a request found it silent
 * (pool_quiet in pool.c: a request has waited on it POOL_QUIET_US with
 * nothing from it on any connection).  The probe goes over one of its
 * idle kept connections if there is one, since the worker behind it waits
 * on that connection for our next request and takes no new one; else
 * over a new connection.  An answer counts as hearing from the backend,
 * so that one busy on a long request is asked once a second at most; no
 * answer ejects it as hung.  A worker that is free answers in a
 * millisecond, so only a backend with none free is ejected: stopped,
 * stuck, or every worker busy on requests that have sent nothing for a
 * second (the probe then waits in the listen queue like any connection).
 * The last cannot be told from the others by anything a client sees, and
 * ejecting it does little harm: it could take no more requests anyway,
 * and it is back as soon as a worker takes the probe or completes a
 * request (pool_release).
 *
 * An ejected backend is probed when its retry time comes (pool.c's
 * backoff), always on a new connection: answered, it is restored.  A
 * probe that has asked and has no answer yet is kept open, PROBE_KEEP_US
 * at most, so that a backend is restored the moment a worker takes it
 * from the listen queue and answers: a stopped backend continued, a busy
 * one with a worker free again.  A probe that fails (refused, reset,
 * closed, nonsense) schedules the next one.
 *
 * Every step is non-blocking and taken under pm.lock, once per pass of
 * the manager (TICK_US, or sooner when kicked), so a probe's times are
 * good to a tick.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fastcgi.h>

#include "cgigate.h"
#include "pool_int.h"

enum result {
	R_WAIT,		/* nothing yet */
	R_ALIVE,	/* answered */
	R_FAIL,		/* refused, reset, closed or nonsense */
	R_SILENT,	/* asked, and no answer by probe_until */
	R_AGAIN		/* the kept connection will not do: a new one */
};

static const char *const names[] = {
	FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS, NULL
};

int
probe_waiting(const struct endpoint *e)
{
	return e->probe == PROBE_ASKED;
}

void
probe_close(struct endpoint *e)
{
	if (e->probe != PROBE_NONE)
		close(e->probe_fd);
	e->probe = PROBE_NONE;
	e->probe_fd = -1;
	e->probe_late = 0;
}

/* Send the question on the connected probe.  0, or -1 with errno. */
static int
ask(struct endpoint *e)
{
	unsigned char rec[64];
	size_t len;
	ssize_t n;

	len = fcgirec_get_values(rec, sizeof(rec), names);
	/* A few dozen bytes into an empty socket buffer: all or nothing. */
	n = send(e->probe_fd, rec, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n != (ssize_t)len) {
		if (n >= 0)
			errno = EAGAIN;
		return -1;
	}
	e->probe = PROBE_ASKED;
	return 0;
}

/*
 * An idle kept connection of e with nothing on it, taken from the idle
 * list, or -1.  Dirty or closed ones are closed on the way (pool.c would
 * not lend them either).
 */
static int
take_idle(struct endpoint *e)
{
	ssize_t n;
	char c;
	int fd;

	while (e->nidle > 0) {
		fd = e->idle[--e->nidle];
		n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return fd;
		close(fd);
	}
	return -1;
}

/*
 * Open a probe of e: on an idle kept connection if kept allows and there
 * is one, else a new connection.  0, or -1 with errno.
 */
static int
probe_open(struct endpoint *e, uint64_t now, int kept)
{
	int fd;

	if (kept && (fd = take_idle(e)) >= 0) {
		e->probe_fd = fd;
		e->probe = PROBE_DIALING;
		if (ask(e) == 0)
			goto opened;
		probe_close(e);
	}
	kept = 0;
	fd = socket(e->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
	e->probe_fd = fd;
	e->probe = PROBE_DIALING;
	if (connect(fd, (const struct sockaddr *)&e->addr, e->addrlen) == 0) {
		if (ask(e) == -1)
			return -1;
	} else if (errno != EINPROGRESS)
		return -1;	/* a Unix socket's full queue: EAGAIN */
opened:
	e->probe_kept = kept;
	e->probe_len = 0;
	e->probe_late = 0;
	e->probe_start = now;
	e->probe_until = now + PROBE_US;
	return 0;
}

/* One look at e's probe; err (of len bytes) says what failed. */
static enum result
step(struct endpoint *e, uint64_t now, char *err, size_t len)
{
	struct fcgirec_values v;
	struct pollfd pfd;
	socklen_t slen = sizeof(int);
	const char *why = NULL;
	ssize_t n;
	int soerr = 0, rc;

	if (e->probe == PROBE_DIALING) {
		pfd.fd = e->probe_fd;
		pfd.events = POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) == 0) {
			snprintf(err, len, "connect timed out");
			return now >= e->probe_until ? R_FAIL : R_WAIT;
		}
		if (getsockopt(e->probe_fd, SOL_SOCKET, SO_ERROR, &soerr,
		    &slen) == -1)
			soerr = errno;
		if (soerr != 0 || ask(e) == -1) {
			snprintf(err, len, "connect: %s",
			    strerror(soerr != 0 ? soerr : errno));
			return R_FAIL;
		}
	}
	n = recv(e->probe_fd, e->probe_buf + e->probe_len,
	    sizeof(e->probe_buf) - e->probe_len, MSG_DONTWAIT);
	if (n > 0) {
		e->probe_len += (size_t)n;
		rc = fcgirec_values(e->probe_buf, e->probe_len, &v, &why);
		if (rc == 1) {
			if (v.max_conns > 0 && !e->conns_told &&
			    v.max_conns < e->pool->pc.max_connections) {
				e->conns_told = 1;
				log_warn(NULL, "pool %s: backend %s says "
				    "FCGI_MAX_CONNS %ld, below max_connections "
				    "%d", e->pool->route, e->name, v.max_conns,
				    e->pool->pc.max_connections);
			}
			return R_ALIVE;
		}
		if (rc == -1) {
			snprintf(err, len, "%s", why);
			return e->probe_kept ? R_AGAIN : R_FAIL;
		}
		if (e->probe_len == sizeof(e->probe_buf)) {
			snprintf(err, len, "answer to FCGI_GET_VALUES too "
			    "long");
			return R_FAIL;
		}
	} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR)) {
		snprintf(err, len, "%s before answering FCGI_GET_VALUES",
		    n == 0 ? "closed the connection" : strerror(errno));
		/* A kept connection may have been closed by its worker. */
		return e->probe_kept ? R_AGAIN : R_FAIL;
	}
	return now >= e->probe_until ? R_SILENT : R_WAIT;
}

/* Act on what e's probe found.  Lock held. */
static void
settle(struct pool *p, struct endpoint *e, enum result r, const char *why,
    uint64_t now)
{
	char what[160];

	switch (r) {
	case R_WAIT:
		return;
	case R_AGAIN:
		probe_close(e);
		if (probe_open(e, now, 0) == -1) {
			snprintf(what, sizeof(what), "connect: %s",
			    strerror(errno));
			settle(p, e, R_FAIL, what, now);
		}
		return;
	case R_ALIVE:
		snprintf(what, sizeof(what), "answered FCGI_GET_VALUES in "
		    "%llu ms", (unsigned long long)(now - e->probe_start) / 1000);
		probe_close(e);
		if (e->ejected)
			pool_restore(e, what);
		else {
			atomic_store(&e->heard_us, now);
			atomic_store(&e->suspect, 0);
			log_debug(NULL, "pool %s: backend %s %s", p->route,
			    e->name, what);
		}
		return;
	case R_FAIL:
		probe_close(e);
		snprintf(what, sizeof(what), "probe: %s", why);
		if (!e->ejected)
			pool_eject(e, what, 0);
		else {
			e->retry_us = now + pool_retry_wait(p, e);
			e->ejections++;
			log_debug(NULL, "pool %s: backend %s still out (%s)",
			    p->route, e->name, what);
		}
		return;
	case R_SILENT:
		if (!e->ejected) {
			snprintf(what, sizeof(what), "no answer to "
			    "FCGI_GET_VALUES within %d ms", PROBE_US / 1000);
			e->probe_late = 1;
			e->probe_until = e->probe_start + PROBE_KEEP_US;
			pool_eject(e, what, 1);
		} else if (!e->probe_late) {
			e->probe_late = 1;
			e->probe_until = e->probe_start + PROBE_KEEP_US;
		} else {
			/* Long unanswered: ask again on a new connection. */
			probe_close(e);
			e->retry_us = now;
		}
		return;
	}
}

void
probe_tend(struct pool *p, uint64_t now)
{
	struct endpoint *e;
	char why[128];
	int live = pool_live(p), asked = 0;

	for (e = p->eps; e != NULL; e = e->next) {
		if (e->probe == PROBE_NONE) {
			if (e->ejected) {
				/* Nothing else serves: never a long wait. */
				if (live == 0 && e->retry_us > now +
				    EJECT_MIN_US)
					e->retry_us = now + EJECT_MIN_US;
				if (now < e->retry_us)
					continue;
			} else if (!atomic_load(&e->suspect))
				continue;
			if (probe_open(e, now, !e->ejected) == -1) {
				snprintf(why, sizeof(why), "connect: %s",
				    strerror(errno));
				settle(p, e, R_FAIL, why, now);
				continue;
			}
		}
		settle(p, e, step(e, now, why, sizeof(why)), why, now);
	}
	/* Requests waiting for a probe's answer that is not coming. */
	for (e = p->eps; e != NULL; e = e->next)
		asked += probe_waiting(e);
	if (pool_live(p) == 0 && asked == 0 && waitq_count(&p->wq) > 0)
		waitq_wake_all(&p->wq);
}
