/*
 * pool_int.h: what pool.c and poolmgr.c share; private to those two.
 *
 * pool.c is the request side of the FastCGI pools (the pool table,
 * lending and taking back endpoints) and poolmgr.c the manager thread
 * (spawning, reaping and retiring workers, probing ejected backends).
 * Both work on the structs below under the one mutex pm.lock.  No other
 * module includes this: they see struct pool only through cgigate.h.
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
#define PROBE_US		250000		/* an ejected backend's probe */
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
/*
 * Connect to e by deadline: a non-blocking socket, or -1 with errno
 * (ETIMEDOUT when the deadline came first).  Lock not held.
 */
int	 pool_dial(const struct endpoint *e, uint64_t deadline);

#endif /* POOL_INT_H */
