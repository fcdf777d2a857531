/*
 * admit.c: per-route concurrency limits with a bounded wait.
 *
 * Each route name gets a slot counter the first time it is asked for;
 * counters are never freed (there is one per route name ever served, a
 * small set).  A request takes a slot or waits on the route's condition
 * variable until its deadline, then gives up: the caller answers 503
 * without starting anything.  Waiting is first come, first served only as
 * far as the condition variable is; the bound is what matters.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgigate.h"

struct admit {
	char		*route;
	int		 inflight;
	int		 waiting;
	pthread_cond_t	 cond;
	struct admit	*next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct admit *routes;
static int draining;

static struct admit *
lookup(const char *route)
{
	pthread_condattr_t ca;
	struct admit *a;

	for (a = routes; a != NULL; a = a->next)
		if (strcmp(a->route, route) == 0)
			return a;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return NULL;
	if ((a->route = strdup(route)) == NULL) {
		free(a);
		return NULL;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	a->next = routes;
	routes = a;
	return a;
}

struct admit *
admit_enter(const char *route, int limit, int64_t wait_us)
{
	uint64_t deadline = now_us() + (uint64_t)wait_us;
	struct timespec ts;
	struct admit *a;

	ts.tv_sec = (time_t)(deadline / 1000000);
	ts.tv_nsec = (long)(deadline % 1000000) * 1000;
	pthread_mutex_lock(&lock);
	if ((a = lookup(route)) == NULL)
		goto out;
	a->waiting++;
	while (a->inflight >= limit && !draining)
		if (pthread_cond_timedwait(&a->cond, &lock, &ts) == ETIMEDOUT)
			break;
	a->waiting--;
	if (a->inflight >= limit || draining)
		a = NULL;
	else
		a->inflight++;
out:
	pthread_mutex_unlock(&lock);
	return a;
}

void
admit_leave(struct admit *a)
{
	if (a == NULL)
		return;
	pthread_mutex_lock(&lock);
	a->inflight--;
	if (a->waiting > 0)
		pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&lock);
}

void
admit_drain(void)
{
	struct admit *a;

	pthread_mutex_lock(&lock);
	draining = 1;
	for (a = routes; a != NULL; a = a->next)
		pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&lock);
}

int
admit_waiting(const char *route)
{
	struct admit *a;
	int n = 0;

	pthread_mutex_lock(&lock);
	for (a = routes; a != NULL; a = a->next)
		if (strcmp(a->route, route) == 0)
			n = a->waiting;
	pthread_mutex_unlock(&lock);
	return n;
}
