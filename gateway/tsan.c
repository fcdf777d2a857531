/*
 * tsan.c: what ThreadSanitizer is not told by itself, in a build with
 * configure --enable-sanitizers=thread; empty in any other build.
 *
 * GCC 12's TSan runtime (Debian's libtsan2) intercepts sem_wait,
 * sem_timedwait and sem_post, but not sem_clockwait, which admit.c and
 * pool.c wait with: a post and the wait it ends look unordered to TSan,
 * and what the poster wrote before sem_post (admit_leave's w->granted)
 * is reported as racing with what the waiter reads after its wait.  This
 * sem_clockwait, linked into cgigate ahead of libc's, calls libc's and,
 * when the wait took the semaphore, tells TSan so at the semaphore's
 * address, as its own sem_wait does: a post then orders as it does for
 * sem_wait.  Nothing else changes.
 */
#if defined(__SANITIZE_THREAD__)
#define TSAN_SHIM	1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN_SHIM	1
#endif
#endif

#ifdef TSAN_SHIM
#include <dlfcn.h>
#include <semaphore.h>
#include <time.h>
#include <sanitizer/tsan_interface.h>

typedef int (*clockwait_fn)(sem_t *, clockid_t, const struct timespec *);

int
sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *abstime)
{
	static clockwait_fn real;
	clockwait_fn f;
	int rc;

	/* Every thread finds the same one: the race is benign, and said. */
	if ((f = __atomic_load_n(&real, __ATOMIC_RELAXED)) == NULL) {
		f = (clockwait_fn)dlsym(RTLD_NEXT, "sem_clockwait");
		__atomic_store_n(&real, f, __ATOMIC_RELAXED);
	}
	if ((rc = f(sem, clock, abstime)) == 0)
		__tsan_acquire(sem);
	return rc;
}
#else
typedef int tsan_shim_unused;	/* ISO C: no empty translation unit */
#endif
