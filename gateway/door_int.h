/*
 * door_int.h: what door.c, door_client.c and door_relay.c share; private
 * to those three.
 *
 * The front door is one epoll thread (run in door.c) with its state in
 * the one struct door below.  A client connection is a struct dconn,
 * which goes through the states of enum dstate: D_HEAD and D_SPOOL are
 * door_client.c's, D_QUEUE and D_RELAY door_relay.c's, D_LINGER follows
 * the door's own answers.  Other threads touch only what is atomic or
 * under door.lock: draining, the counters (door_busy, door_metrics) and
 * door.peers (door_peer, from civetweb's threads).  door.cfg is the
 * configuration the thread holds for its current pass (cfgref.c).  No other module includes this: they see the
 * door only through door_* in cgigate.h.
 */
#ifndef DOOR_INT_H
#define DOOR_INT_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

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
#define DOOR_ENDED	4		/* figures kept per thread, */
#define DOOR_ENDED_MIN	1024		/* and at least this many */

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
	size_t		 headlen_out;	/* the response head's, once parsed */
	uint64_t	 first_us;	/* when the first of them went, or 0 */
	unsigned long long xseq;	/* this exchange's number */
	int		 xended;	/* door_exchange_end was told */
	struct framing	 resp;
	/* who */
	char		 addr[INET6_ADDRSTRLEN];
	int		 port, sport;
	int		 proxy;		/* a PROXY header must come first */
	unsigned	 ahash;
	char		 method[16];
	char		 path[256];
	char		 route[128];	/* when it names one */
};

/* What the door counted of an exchange, for a late row. */
struct xcount {
	unsigned long long xseq;	/* the exchange's number, 0: none */
	long long	 sent;		/* bytes to the client, head and body */
	long long	 body;		/* the body's alone */
	uint64_t	 first_us, end_us;	/* first and last byte, or 0 */
};

struct peer {
	int		 lport;		/* 0: free */
	char		 addr[INET6_ADDRSTRLEN];
	int		 port, sport;
	atomic_int	 stalled;
	unsigned long long xseq;	/* the exchange under way */
	struct late_row	*late;		/* the row that waits for xseq's */
};

/* Connections per client address, for max_client_connections. */
struct acount {
	struct acount	*next;
	char		 addr[INET6_ADDRSTRLEN];
	int		 n;
};
#define ABUCKETS	4096

/*
 * The door's state, the door thread's alone but for the atomics and what
 * door.lock guards.
 */
struct door_state {
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
	unsigned long long xseq;	/* exchanges begun */
	struct xcount	*ended;		/* figures of ended ones, by number */
	int		 nended;
	struct late_row	*lines;		/* access log lines to write */
	uint64_t	 lines_since;	/* when the first of them came */
	/* counters for the metrics */
	atomic_ullong	 n_accepted, n_full, n_per_client, n_head_to,
			 n_idle_to, n_body_to, n_wait_to, n_bad, n_spooled;
	atomic_int	 open, idle;
};

extern struct door_state door;

/* door.c */

/*
 * Have epoll wait for ev on fd, c's client side or its internal
 * connection; no system call when that is what it waits for already.
 */
void	 door_ep_set(struct dconn *c, int fd, uint32_t ev);
/* Take fd out of epoll, then close it. */
void	 door_ep_close(int fd);
/* Count c as kept alive between requests (1) or not (0). */
void	 door_set_idle(struct dconn *c, int idle);
/* Put c in state st, keeping the counts of spooling and idle ones. */
void	 door_set_state(struct dconn *c, enum dstate st);
/* End c now: closed, and freed once this batch of events is done. */
void	 door_drop(struct dconn *c);
/*
 * Count c against max_client_connections for its address; -1 when that
 * is past the limit (c then has its 503).
 */
int	 door_count_client(struct dconn *c, const struct config *cfg);

/* door_late.c */

/*
 * c's exchange with civetweb begins: it gets its number, which
 * civetweb's thread learns from door_peer.
 */
void	 door_exchange_begin(struct dconn *c);
/*
 * It is over, the whole response passed on or not: its figures go to
 * the late row waiting for them, or wait for it.  Once per exchange.
 */
void	 door_exchange_end(struct dconn *c);

/*
 * Write the access log lines of late rows that the door finished and no
 * civetweb thread took: all of them (all), or those that waited a tick.
 */
void	 door_late_flush(int all);

/* door_client.c */

/*
 * Log what c asked with status and why, and give it a timings row;
 * status 0: no answer went out, and the metrics do not count it.
 */
void	 door_row(struct dconn *c, int status, const char *why);
/* Answer status (extra: header lines to add) and close, lingering. */
void	 door_answer(struct dconn *c, int status, const char *why,
	    const char *extra);
/* Close after what was written, reading what still comes until EOF. */
void	 door_linger(struct dconn *c);
/* Free c's input buffer. */
void	 door_in_free(struct dconn *c);
/* Read up to want bytes from the client.  0, or -1: it is gone. */
int	 door_read_in(struct dconn *c, size_t want);
/* Take what belongs to the request body from the input after reqend. */
void	 door_body_in_memory(struct dconn *c);
/* Go on with the head at ioff if it is whole. */
void	 door_try_head(struct dconn *c);
/* The client's events in D_HEAD and in D_SPOOL. */
void	 door_on_head(struct dconn *c);
void	 door_on_spool(struct dconn *c);

/* door_relay.c */

/*
 * Give back what is held for c's exchange with civetweb: its place in
 * the queue, its internal connection, its buffers and spool file.
 */
void	 door_detach(struct dconn *c);
/*
 * Close c's internal connection (parked or not), which frees its
 * thread, and forget the client behind it.
 */
void	 door_unpark_close(struct dconn *c);
/* A whole request: to civetweb at once if parked, else in the queue. */
void	 door_enqueue(struct dconn *c);
/* Give waiting requests to civetweb while it has threads free. */
void	 door_give_all(void);
/*
 * Move what can move between the client and civetweb, then say what to
 * wait for.  cev and bev: the events seen on either side.
 */
void	 door_relay(struct dconn *c, uint32_t cev, uint32_t bev);

#endif /* DOOR_INT_H */
