/*
 * pool_int.h: what pool.c and poolmgr.c share; private to those two.
 *
 * pool.c is the request side of the FastCGI pools (the pool table,
 * lending and taking back endpoints), poolmgr.c the manager thread
 * (spawning, reaping and retiring workers) and probe.c what that thread
 * asks remote backends.  All work on the structs below under the one
 * mutex pm.lock.  No other module includes this: they see struct pool
 * only through cgigate.h.
 */
#ifndef POOL_INT_H
#define POOL_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "cgigate.h"

#define TICK_US			100000
#define BACKOFF_MIN_US		100000
#define BACKOFF_MAX_US		(30 * 1000000LL)
#define EJECT_MIN_US		1000000
#define DIAL_MIN_US		1000000		/* a request's connect, at least */
#define PROBE_US		750000		/* a probe's connect and answer */
#define PROBE_KEEP_US		(10 * 1000000LL) /* a probe left unanswered */
#define HEARD_GRAIN_US		10000		/* heard_us is stored this often */
#define EJECT_MAX_US		(30 * 1000000LL)
#define RETIRE_GRACE_US		(5 * 1000000LL)
#define MAX_IDLE_CONNS		64

enum ep_state { EP_UP, EP_RETIRING, EP_DEAD };

/* Where a backend's probe is (probe.c). */
enum probe_state { PROBE_NONE, PROBE_DIALING, PROBE_ASKED };

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
	int			 ejections;	/* in a row, for the backoff */
	unsigned long		 ejected_total;
	uint64_t		 retry_us;	/* its next probe, ejected */
	atomic_int		 hung;		/* ejected: it did not answer */
	atomic_int		 suspect;	/* silent: probe it (pool_quiet) */
	atomic_ullong		 heard_us;	/* a byte came from it, lately */
	/* its probe, probe.c's */
	enum probe_state	 probe;
	int			 probe_fd;
	int			 probe_kept;	/* on a kept connection */
	int			 probe_late;	/* past PROBE_US, kept open */
	int			 conns_told;	/* FCGI_MAX_CONNS warned of */
	uint64_t		 probe_start, probe_until;
	unsigned char		 probe_buf[256];
	size_t			 probe_len;
};

/*
 * A request waiting for an endpoint, in its pool's waitq (waitq.c): a
 * freed endpoint is handed to the first one directly.  The hand-over
 * carries all the waiter needs (the endpoint, already counted, as the
 * item; an idle connection; its pid), so that it goes on without taking
 * the lock again.
 */
struct waiter {
	struct waitq_waiter	 wq;	/* first; its item: the endpoint */
	int			 fd;	/* its idle connection, or -1 */
	pid_t			 pid;
	unsigned long		 nreq;
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
	struct waitq		 wq;		/* of struct waiter */
	struct endpoint		*eps;
	int			 fails;		/* start-up failures in a row */
	int			 gone;		/* the program was removed */
	uint64_t		 backoff_until;
	unsigned long		 seq;
	atomic_ulong		 idle_data;	/* kept connections dropped: */
	atomic_ulong		 idle_closed;	/* bytes on them, or EOF */
};

/* The pool table and the manager thread's state, under lock. */
struct pool_mgr {
	pthread_mutex_t	 lock;
	pthread_cond_t	 wake;
	pthread_t	 thread;
	int		 running, stop, kick;
	int		 ready;		/* wake is initialised (pool_start) */
	struct pool	*pools;
	unsigned long	 seq;
	const struct config *cfg;
};

extern struct pool_mgr pm;

/* pool.c */

/* How many of p's endpoints are in state st.  Lock held. */
int	 pool_count(const struct pool *p, enum ep_state st);
/*
 * Mark an up endpoint retiring for why (others are left alone); the
 * manager signals it once it is idle.  Lock held.
 */
void	 pool_retire(struct pool *p, struct endpoint *e, const char *why);
/*
 * Close e's idle kept connections: it failed, retires or died, or the
 * pools stop.  Lock held, or the manager thread gone.
 */
void	 pool_close_idle(struct endpoint *e);
/* Hand free endpoints to the waiters, first come first.  Lock held. */
void	 pool_handoff(struct pool *p);
/* How many of p's backends are in service.  Lock held. */
int	 pool_live(const struct pool *p);
/*
 * How long until an ejected backend of p is probed again: the backoff
 * for e's ejections in a row, or EJECT_MIN_US when p has no backend in
 * service, so that a route is never out for long after a short fault.
 * Lock held.
 */
uint64_t pool_retry_wait(const struct pool *p, const struct endpoint *e);
/*
 * Take backend e out of service for why, logged and recorded; hung says
 * it stopped answering (rather than refused), which lets requests that
 * wait on it unanswered go elsewhere (pool_quiet) and a request it
 * completes restore it.  Idle connections are closed.  Lock held.
 */
void	 pool_eject(struct endpoint *e, const char *why, int hung);
/* Put ejected e back in service, how it showed itself alive.  Lock held. */
void	 pool_restore(struct endpoint *e, const char *how);

/* probe.c */

/*
 * Probe p's backends that want it (ejected ones when their time comes,
 * those in service that a request found silent), and act on what the
 * probes found: eject, restore, or schedule the next.  Non-blocking; on
 * every pass of the manager.  Lock held.
 */
void	 probe_tend(struct pool *p, uint64_t now);
/* Has e's probe asked and is it waiting for the answer?  Lock held. */
int	 probe_waiting(const struct endpoint *e);
/* Close e's probe, if any.  Lock held, or the manager thread gone. */
void	 probe_close(struct endpoint *e);

#endif /* POOL_INT_H */
