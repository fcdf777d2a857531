/*
 * admit.c: per-route concurrency limits with a bounded, first-come
 * first-served wait.
 *
 * Each route name gets a slot counter the first time it is asked for;
 * counters are never freed (there is one per route name ever served, a
 * small set), so the list can be read without a lock.  A request takes a
 * slot with one compare-and-swap when nobody is queued.  Otherwise it
 * joins the route's FIFO and sleeps on its own semaphore; a request that
 * leaves hands its slot straight to the head of the queue, so nobody is
 * overtaken and a woken waiter never contends for anything.  A waiter
 * that reaches its deadline leaves the queue: the caller answers 503
 * without starting anything.  Waiting in order keeps the latency tail
 * close to the median.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgigate.h"

struct waiter {
	sem_t		 sem;		/* posted once: granted or drained */
	int		 queued, granted;
	struct waiter	*next;
};

struct admit {
	char		*route;
	atomic_int	 inflight;
	atomic_int	 waiting;	/* queued or about to be; under lock */
	atomic_int	 limit;		/* the latest caller's */
	struct waiter	*head, *tail;
	struct admit	*next;		/* never changes once published */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct admit *) routes;
static atomic_int draining;
static _Thread_local struct waiter *self;
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

static void
dequeue(struct admit *a, struct waiter *w)
{
	struct waiter **p, *prev = NULL;

	for (p = &a->head; *p != NULL; prev = *p, p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			if (a->tail == w)
				a->tail = prev;
			break;
		}
	w->queued = 0;
	atomic_fetch_sub(&a->waiting, 1);
}

struct admit *
admit_enter(const char *route, int limit, int64_t wait_us)
{
	struct timespec ts;
	struct waiter *w;
	struct admit *a;
	uint64_t deadline;

	if ((a = lookup(route)) == NULL)
		return NULL;
	atomic_store(&a->limit, limit);
	if (!atomic_load(&draining) && atomic_load(&a->waiting) == 0 &&
	    take(a, limit))
		return a;
	if (self == NULL) {	/* one per thread, for its lifetime */
		if ((self = calloc(1, sizeof(*self))) == NULL)
			return NULL;
		sem_init(&self->sem, 0, 0);
	}
	w = self;
	deadline = clk_now_us() + (uint64_t)wait_us;
	ts = clk_ts(deadline);

	pthread_mutex_lock(&lock);
	if (atomic_load(&draining)) {
		pthread_mutex_unlock(&lock);
		return NULL;
	}
	/*
	 * Counted as waiting before looking for a slot, as admit_leave
	 * gives its slot back before looking for waiters: whichever comes
	 * second sees the other.
	 */
	atomic_fetch_add(&a->waiting, 1);
	if (a->head == NULL && take(a, limit)) {
		atomic_fetch_sub(&a->waiting, 1);
		pthread_mutex_unlock(&lock);
		return a;
	}
	w->granted = 0;
	w->queued = 1;
	w->next = NULL;
	if (a->tail != NULL)
		a->tail->next = w;
	else
		a->head = w;
	a->tail = w;
	pthread_mutex_unlock(&lock);

	while (sem_clockwait(&w->sem, CLOCK_MONOTONIC, &ts) == -1) {
		if (errno == EINTR)
			continue;
		/* The deadline: leave the queue, unless a post is coming. */
		pthread_mutex_lock(&lock);
		if (w->queued) {
			dequeue(a, w);
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		pthread_mutex_unlock(&lock);
		while (sem_wait(&w->sem) == -1 && errno == EINTR)
			;
		break;
	}
	return w->granted ? a : NULL;
}

void
admit_leave(struct admit *a)
{
	struct waiter *w = NULL;

	if (a == NULL)
		return;
	atomic_fetch_sub(&a->inflight, 1);
	/*
	 * A waiter counts itself, then looks for a slot (under the lock):
	 * either it saw this slot free, or this sees it waiting, and then
	 * finds it queued once the lock is free.  The slot goes to the head
	 * of the queue, taken on its behalf.
	 */
	if (atomic_load(&a->waiting) == 0)
		return;
	pthread_mutex_lock(&lock);
	if (a->head != NULL && take(a, atomic_load(&a->limit))) {
		w = a->head;
		dequeue(a, w);
		w->granted = 1;
	}
	pthread_mutex_unlock(&lock);
	if (w != NULL)
		sem_post(&w->sem);
}

void
admit_drain(void)
{
	struct admit *a;
	struct waiter *w;

	pthread_mutex_lock(&lock);
	atomic_store(&draining, 1);
	for (a = atomic_load(&routes); a != NULL; a = a->next)
		while ((w = a->head) != NULL) {
			dequeue(a, w);
			sem_post(&w->sem);	/* not granted: 503 */
		}
	pthread_mutex_unlock(&lock);
}

int
admit_waiting(const char *route)
{
	struct admit *a = find(route);

	return a != NULL ? atomic_load(&a->waiting) : 0;
}

/* A request thread ends: its waiter, never queued now, goes with it. */
void
admit_thread_exit(void)
{
	if (self == NULL)
		return;
	sem_destroy(&self->sem);
	free(self);
	self = NULL;
}
