/*
 * waitq.c: a first-come first-served queue of waiting threads.
 *
 * Requests that find no free slot (admit.c) or no free FastCGI endpoint
 * (pool.c) queue here in arrival order.  Whoever frees one hands it to
 * the first waiter directly: nobody arriving later takes it first, which
 * made the latency tail long, and only the thread that gets it wakes up.
 * What is handed over (an item, and whatever the caller wrote into the
 * struct that embeds the waiter) is published by the waiter's handed
 * flag, so that the woken thread goes on without taking the lock again.
 * A waiter that reaches its deadline, or is told to look again (the pool
 * stops, a backoff began), takes the lock and leaves the queue, unless it
 * was handed something meanwhile.
 *
 * The queue does not lock: the caller holds its own mutex around every
 * call but waitq_wait.  Each waiter sleeps on its own semaphore, not on a
 * condition variable: a thread woken on a condition variable whose mutex
 * the waker still held cost a second sleep per request.  The wait runs on
 * clk_now_us()'s monotonic clock.
 *
 * A waiter is posted at most once per turn (from waitq_add to the end of
 * its wait), always under the caller's lock.  So a waiter that consumed
 * its post and finds itself handed over knows that no post is still on
 * its way and may let its semaphore go without the lock; one that takes
 * the lock finds every post done.  The semaphore is made anew each turn,
 * so a post that crossed a time-out is not left for the next one.
 */
#include <errno.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "cgigate.h"

void
waitq_add(struct waitq *q, struct waitq_waiter *w)
{
	sem_init(&w->sem, 0, 0);
	atomic_store_explicit(&w->handed, 0, memory_order_relaxed);
	w->item = NULL;
	w->posted = 0;
	w->queued = 1;
	w->next = NULL;
	if (q->tail != NULL)
		q->tail->next = w;
	else
		q->head = w;
	q->tail = w;
	atomic_fetch_add(&q->n, 1);
}

struct waitq_waiter *
waitq_first(const struct waitq *q)
{
	return q->head;
}

/* Take w out of q, wherever it is.  Lock held. */
static void
unlink_waiter(struct waitq *q, struct waitq_waiter *w)
{
	struct waitq_waiter **wp, *prev = NULL;

	for (wp = &q->head; *wp != NULL; prev = *wp, wp = &(*wp)->next)
		if (*wp == w) {
			*wp = w->next;
			if (q->tail == w)
				q->tail = prev;
			atomic_fetch_sub(&q->n, 1);
			break;
		}
	w->next = NULL;
	w->queued = 0;
}

/* Wake w, once per turn.  Lock held. */
static void
post(struct waitq_waiter *w)
{
	if (w->posted)
		return;
	w->posted = 1;
	sem_post(&w->sem);
}

int
waitq_hand(struct waitq *q, void *item)
{
	struct waitq_waiter *w;

	if ((w = q->head) == NULL)
		return 0;
	unlink_waiter(q, w);
	w->item = item;
	atomic_store_explicit(&w->handed, 1, memory_order_release);
	post(w);
	return 1;
}

void
waitq_wake_all(struct waitq *q)
{
	struct waitq_waiter *w;

	for (w = q->head; w != NULL; w = w->next)
		post(w);
}

int
waitq_wait(struct waitq_waiter *w, uint64_t deadline)
{
	struct timespec ts = clk_ts(deadline);
	int rc;

	/* Once handed over, the post is there or on its way. */
	do
		rc = sem_clockwait(&w->sem, CLOCK_MONOTONIC, &ts);
	while (rc == -1 && errno == EINTR);
	if (rc == 0 &&
	    atomic_load_explicit(&w->handed, memory_order_acquire)) {
		sem_destroy(&w->sem);
		return 1;
	}
	return 0;
}

int
waitq_leave(struct waitq *q, struct waitq_waiter *w)
{
	if (w->queued)
		unlink_waiter(q, w);
	sem_destroy(&w->sem);
	/* Set under the lock we hold. */
	return atomic_load_explicit(&w->handed, memory_order_relaxed);
}

int
waitq_count(const struct waitq *q)
{
	return atomic_load(&q->n);
}
