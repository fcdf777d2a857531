/*
 * admit.c: per-route concurrency limits with a bounded wait.
 *
 * Each route name gets a slot counter the first time it is asked for;
 * counters are never freed (there is one per route name ever served, a
 * small set), so the list can be read without a lock.  A request takes a
 * slot with one compare-and-swap when nobody is queued; otherwise it waits
 * on the route's condition variable until its deadline, then gives up:
 * the caller answers 503 without starting anything.  Leaving is an atomic
 * decrement, plus a signal only when someone waits.  Newcomers queue
 * behind waiters instead of taking the slot a waiter was woken for;
 * beyond that, the order is the condition variable's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgigate.h"

struct admit {
	char		*route;
	atomic_int	 inflight;
	atomic_int	 waiting;	/* changed under lock, read without */
	pthread_cond_t	 cond;
	struct admit	*next;		/* never changes once published */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct admit *) routes;
static atomic_int draining;

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
	pthread_condattr_t ca;
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
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
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
	uint64_t deadline;
	struct timespec ts;
	struct admit *a;
	int ok;

	if ((a = lookup(route)) == NULL)
		return NULL;
	if (!atomic_load(&draining) && atomic_load(&a->waiting) == 0 &&
	    take(a, limit))
		return a;
	deadline = now_us() + (uint64_t)wait_us;
	ts.tv_sec = (time_t)(deadline / 1000000);
	ts.tv_nsec = (long)(deadline % 1000000) * 1000;
	pthread_mutex_lock(&lock);
	atomic_fetch_add(&a->waiting, 1);
	for (;;) {
		if (atomic_load(&draining)) {
			ok = 0;
			break;
		}
		if (take(a, limit)) {
			ok = 1;
			break;
		}
		if (pthread_cond_timedwait(&a->cond, &lock, &ts) ==
		    ETIMEDOUT) {
			ok = !atomic_load(&draining) && take(a, limit);
			break;
		}
	}
	atomic_fetch_sub(&a->waiting, 1);
	/* A slot freed while we gave up belongs to the next in line. */
	if (!ok && atomic_load(&a->waiting) > 0)
		pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&lock);
	return ok ? a : NULL;
}

void
admit_leave(struct admit *a)
{
	if (a == NULL)
		return;
	atomic_fetch_sub(&a->inflight, 1);
	/*
	 * A waiter adds itself before it tries for a slot, both under the
	 * lock: either it sees this slot free, or this sees it waiting.
	 * Taking the lock then means the waiter is inside its wait; the
	 * signal comes after we let go, so that the woken thread does not
	 * go back to sleep on the lock we still hold.
	 */
	if (atomic_load(&a->waiting) > 0) {
		pthread_mutex_lock(&lock);
		pthread_mutex_unlock(&lock);
		pthread_cond_signal(&a->cond);
	}
}

void
admit_drain(void)
{
	struct admit *a;

	pthread_mutex_lock(&lock);
	atomic_store(&draining, 1);
	for (a = atomic_load(&routes); a != NULL; a = a->next)
		pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&lock);
}

int
admit_waiting(const char *route)
{
	struct admit *a = find(route);

	return a != NULL ? atomic_load(&a->waiting) : 0;
}
