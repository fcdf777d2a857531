/*
 * admit.c: per-route concurrency limits with a bounded, first-come
 * first-served wait.
 *
 * Each route name gets a slot counter the first time it is asked for;
 * counters are never freed (there is one per route name ever served, a
 * small set), so the list can be read without a lock.  A request takes a
 * slot with one compare-and-swap when nobody is queued.  Otherwise it
 * joins the route's FIFO (waitq.c) and sleeps on its own semaphore; a
 * request that leaves hands its slot straight to the head of the queue,
 * so nobody is overtaken and a woken waiter never contends for anything.
 * A waiter that reaches its deadline leaves the queue: the caller answers
 * 503 without starting anything.  Waiting in order keeps the latency tail
 * close to the median.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cgigate.h"

struct admit {
	char		*route;
	atomic_int	 inflight;
	atomic_int	 limit;		/* the latest caller's */
	struct waitq	 q;		/* under lock; counted without */
	struct admit	*next;		/* never changes once published */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct admit *) routes;
static atomic_int draining;
static _Thread_local struct waitq_waiter *self;
static struct admit *
find(const char *route)
{
	struct admit *a;

	for (a = atomic_load(&routes); a != NULL; a = a->next)
		if (strcmp(a->route, route) == 0)
			return a;
	return NULL;
}

static struct admit *
lookup(const char *route)
{
	struct admit *a;

	if ((a = find(route)) != NULL)
		return a;
	pthread_mutex_lock(&lock);
	if ((a = find(route)) != NULL)
		goto out;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		goto out;
	if ((a->route = strdup(route)) == NULL) {
		free(a);
		a = NULL;
		goto out;
	}
	a->next = atomic_load(&routes);
	atomic_store(&routes, a);
out:
	pthread_mutex_unlock(&lock);
	return a;
}

static int
take(struct admit *a, int limit)
{
	int n = atomic_load(&a->inflight);

	while (n < limit)
		if (atomic_compare_exchange_weak(&a->inflight, &n, n + 1))
			return 1;
	return 0;
}

struct admit *
admit_enter(const char *route, int limit, int64_t wait_us)
{
	struct waitq_waiter *w;
	struct admit *a;
	uint64_t deadline;
	int handed;

	if ((a = lookup(route)) == NULL)
		return NULL;
	atomic_store(&a->limit, limit);
	if (!atomic_load(&draining) && waitq_count(&a->q) == 0 &&
	    take(a, limit))
		return a;
	if (self == NULL &&	/* one per thread, for its lifetime */
	    (self = calloc(1, sizeof(*self))) == NULL)
		return NULL;
	w = self;
	deadline = clk_now_us() + (uint64_t)wait_us;

	pthread_mutex_lock(&lock);
	if (atomic_load(&draining)) {
		pthread_mutex_unlock(&lock);
		return NULL;
	}
	/*
	 * Queued, and so counted, before looking for a slot, as admit_leave
	 * gives its slot back before counting waiters: whichever comes
	 * second sees the other.  Only the head of the queue may take one.
	 */
	waitq_add(&a->q, w);
	if (waitq_first(&a->q) == w && take(a, limit)) {
		waitq_leave(&a->q, w);
		pthread_mutex_unlock(&lock);
		return a;
	}
	pthread_mutex_unlock(&lock);

	if (waitq_wait(w, deadline))
		return w->item;		/* a, or NULL: drained */
	/* The deadline: leave the queue, unless handed a slot meanwhile. */
	pthread_mutex_lock(&lock);
	handed = waitq_leave(&a->q, w);
	pthread_mutex_unlock(&lock);
	return handed ? w->item : NULL;
}

void
admit_leave(struct admit *a)
{
	if (a == NULL)
		return;
	atomic_fetch_sub(&a->inflight, 1);
	/*
	 * A waiter queues, then looks for a slot (under the lock): either it
	 * saw this slot free, or this sees it counted, and then finds it
	 * queued once the lock is free.  The slot goes to the head of the
	 * queue, taken on its behalf.
	 */
	if (waitq_count(&a->q) == 0)
		return;
	pthread_mutex_lock(&lock);
	if (waitq_first(&a->q) != NULL && take(a, atomic_load(&a->limit)))
		waitq_hand(&a->q, a);
	pthread_mutex_unlock(&lock);
}

void
admit_drain(void)
{
	struct admit *a;

	pthread_mutex_lock(&lock);
	atomic_store(&draining, 1);
	for (a = atomic_load(&routes); a != NULL; a = a->next)
		while (waitq_hand(&a->q, NULL))
			;		/* handed no slot: 503 */
	pthread_mutex_unlock(&lock);
}

int
admit_waiting(const char *route)
{
	struct admit *a = find(route);

	return a != NULL ? waitq_count(&a->q) : 0;
}

/* A request thread ends: its waiter, never queued now, goes with it. */
void
admit_thread_exit(void)
{
	free(self);
	self = NULL;
}
