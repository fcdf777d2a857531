/*
 * test_waitq.c: the waiter queue of admit.c and pool.c.  The list alone,
 * in one thread (a hand-over posts the semaphore, so the wait that
 * follows returns at once); then threads: waiters get what is handed out
 * in the order they queued, one that times out leaves from wherever it
 * is and the others keep their places, and a hand-over that crosses a
 * time-out is received exactly once.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "cgigate.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int items[16];

static void
test_list(void **state)
{
	struct waitq q;
	struct waitq_waiter w[4];

	(void)state;
	memset(&q, 0, sizeof(q));
	memset(w, 0, sizeof(w));
	assert_null(waitq_first(&q));
	assert_int_equal(waitq_hand(&q, &items[0]), 0);
	waitq_add(&q, &w[0]);
	waitq_add(&q, &w[1]);
	waitq_add(&q, &w[2]);
	assert_int_equal(waitq_count(&q), 3);
	assert_ptr_equal(waitq_first(&q), &w[0]);

	/* From the middle. */
	assert_int_equal(waitq_leave(&q, &w[1]), 0);
	assert_int_equal(waitq_count(&q), 2);
	assert_ptr_equal(waitq_first(&q), &w[0]);

	/* To the head. */
	assert_int_equal(waitq_hand(&q, &items[1]), 1);
	assert_int_equal(waitq_count(&q), 1);
	assert_ptr_equal(waitq_first(&q), &w[2]);
	assert_int_equal(waitq_wait(&w[0], clk_now_us() + 1000000), 1);
	assert_ptr_equal(w[0].item, &items[1]);

	/* From the tail, which is also the head; the tail follows. */
	assert_int_equal(waitq_leave(&q, &w[2]), 0);
	assert_int_equal(waitq_count(&q), 0);
	assert_null(waitq_first(&q));
	waitq_add(&q, &w[3]);
	waitq_add(&q, &w[1]);
	assert_ptr_equal(waitq_first(&q), &w[3]);
	assert_int_equal(waitq_leave(&q, &w[1]), 0);
	waitq_add(&q, &w[2]);
	assert_int_equal(waitq_hand(&q, NULL), 1);	/* sent away */
	assert_int_equal(waitq_wait(&w[3], clk_now_us() + 1000000), 1);
	assert_null(w[3].item);
	assert_int_equal(waitq_hand(&q, &items[2]), 1);
	assert_int_equal(waitq_count(&q), 0);
	/* Handed before its wait timed out: leave says so. */
	assert_int_equal(waitq_leave(&q, &w[2]), 1);
	assert_ptr_equal(w[2].item, &items[2]);
}

/* Woken to look again, waiters stay queued; a later hand-over counts. */
static void
test_wake_all(void **state)
{
	struct waitq q;
	struct waitq_waiter w[2];
	uint64_t t0;

	(void)state;
	memset(&q, 0, sizeof(q));
	memset(w, 0, sizeof(w));
	waitq_add(&q, &w[0]);
	waitq_add(&q, &w[1]);
	waitq_wake_all(&q);
	waitq_wake_all(&q);		/* posts once a turn */
	t0 = clk_now_us();
	assert_int_equal(waitq_wait(&w[0], t0 + 1000000), 0);
	assert_int_equal(waitq_wait(&w[1], t0 + 1000000), 0);
	assert_true(clk_now_us() - t0 < 500000);
	assert_int_equal(waitq_count(&q), 2);
	assert_int_equal(waitq_hand(&q, &items[3]), 1);
	assert_int_equal(waitq_leave(&q, &w[0]), 1);
	assert_ptr_equal(w[0].item, &items[3]);
	assert_int_equal(waitq_leave(&q, &w[1]), 0);
	assert_int_equal(waitq_count(&q), 0);
}

static void
test_timeout(void **state)
{
	struct waitq q;
	struct waitq_waiter w;
	uint64_t t0;

	(void)state;
	memset(&q, 0, sizeof(q));
	memset(&w, 0, sizeof(w));
	waitq_add(&q, &w);
	t0 = clk_now_us();
	assert_int_equal(waitq_wait(&w, t0 + 30000), 0);
	assert_true(clk_now_us() - t0 >= 30000);
	assert_int_equal(waitq_leave(&q, &w), 0);
	assert_int_equal(waitq_count(&q), 0);
}

/* A waiting thread, as admit.c and pool.c wait. */
struct sleeper {
	pthread_t		 t;
	struct waitq		*q;
	struct waitq_waiter	 w;
	uint64_t		 wait_us;
	atomic_int		 queued;
	int			 handed;
	void			*got;
};

static void *
sleeper(void *arg)
{
	struct sleeper *s = arg;
	uint64_t deadline = clk_now_us() + s->wait_us;

	pthread_mutex_lock(&lock);
	waitq_add(s->q, &s->w);
	atomic_store(&s->queued, 1);
	pthread_mutex_unlock(&lock);
	if ((s->handed = waitq_wait(&s->w, deadline)) == 0) {
		pthread_mutex_lock(&lock);
		s->handed = waitq_leave(s->q, &s->w);
		pthread_mutex_unlock(&lock);
	}
	s->got = s->handed ? s->w.item : NULL;
	return NULL;
}

/* Start s and wait until it has queued (it may have left again). */
static void
start(struct sleeper *s, struct waitq *q, uint64_t wait_us)
{
	memset(s, 0, sizeof(*s));
	s->q = q;
	s->wait_us = wait_us;
	assert_int_equal(pthread_create(&s->t, NULL, sleeper, s), 0);
	while (!atomic_load(&s->queued))
		nanosleep(&(struct timespec){ 0, 100000 }, NULL);
}

static void
test_fifo_threads(void **state)
{
	struct sleeper s[8];
	struct waitq q;
	int i;

	(void)state;
	memset(&q, 0, sizeof(q));
	for (i = 0; i < 8; i++)
		start(&s[i], &q, 10 * 1000000);
	for (i = 0; i < 8; i++) {
		pthread_mutex_lock(&lock);
		assert_int_equal(waitq_hand(&q, &items[i]), 1);
		pthread_mutex_unlock(&lock);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(s[i].t, NULL);
		assert_int_equal(s[i].handed, 1);
		assert_ptr_equal(s[i].got, &items[i]);
	}
	assert_int_equal(waitq_count(&q), 0);
}

/* The middle one times out; the first and the last keep their turns. */
static void
test_timeout_threads(void **state)
{
	struct sleeper s[3];
	struct waitq q;

	(void)state;
	memset(&q, 0, sizeof(q));
	start(&s[0], &q, 10 * 1000000);
	start(&s[1], &q, 50000);
	start(&s[2], &q, 10 * 1000000);
	pthread_join(s[1].t, NULL);
	assert_int_equal(s[1].handed, 0);
	assert_int_equal(waitq_count(&q), 2);
	pthread_mutex_lock(&lock);
	assert_int_equal(waitq_hand(&q, &items[0]), 1);
	assert_int_equal(waitq_hand(&q, &items[1]), 1);
	assert_int_equal(waitq_hand(&q, &items[2]), 0);
	pthread_mutex_unlock(&lock);
	pthread_join(s[0].t, NULL);
	pthread_join(s[2].t, NULL);
	assert_ptr_equal(s[0].got, &items[0]);
	assert_ptr_equal(s[2].got, &items[1]);
}

/*
 * Hand-overs timed to cross the deadline: whatever was handed out was
 * received, and nothing else.
 */
static void
test_race(void **state)
{
	struct sleeper s;
	struct waitq q;
	int i, handed, got = 0, out = 0;

	(void)state;
	memset(&q, 0, sizeof(q));
	for (i = 0; i < 300; i++) {
		start(&s, &q, 2000);
		nanosleep(&(struct timespec){ 0, (i % 7) * 500000 }, NULL);
		pthread_mutex_lock(&lock);
		handed = waitq_hand(&q, &items[i % 16]);
		pthread_mutex_unlock(&lock);
		pthread_join(s.t, NULL);
		assert_int_equal(s.handed, handed);
		if (handed)
			assert_ptr_equal(s.got, &items[i % 16]);
		out += handed;
		got += s.handed;
		assert_int_equal(waitq_count(&q), 0);
	}
	assert_int_equal(got, out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_wake_all),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_fifo_threads),
		cmocka_unit_test(test_timeout_threads),
		cmocka_unit_test(test_race),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
