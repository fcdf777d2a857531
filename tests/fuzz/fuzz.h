/*
 * fuzz.h: what the libFuzzer targets in tests/fuzz/ share.
 *
 * CHECK aborts whatever NDEBUG says, so libFuzzer keeps the input that
 * broke an invariant as it keeps one that crashed.  A piece generator
 * cuts an input into the short reads a pipe or socket hands out; it is
 * seeded from control bytes at the front of the input, so every cut is
 * reproducible from the saved input alone and the fuzzer mutates the
 * cuts as it mutates the bytes.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(x) do {							\
	if (!(x)) {							\
		fprintf(stderr, "%s:%d: CHECK failed: %s\n",		\
		    __FILE__, __LINE__, #x);				\
		abort();						\
	}								\
} while (0)

int	 LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct pieces {
	uint32_t	 x;
	size_t		 max;
};

/* c0 picks the largest piece (1 << (c0 % 16) bytes), c1 the sequence. */
static inline void
pieces_init(struct pieces *pc, uint8_t c0, uint8_t c1)
{
	pc->x = 0x9e3779b9u ^ ((uint32_t)c0 << 8 | c1);
	pc->max = (size_t)1 << (c0 % 16);
}

/* The next read: 0 (an empty read) to max bytes, never more than left. */
static inline size_t
pieces_next(struct pieces *pc, size_t left)
{
	size_t n;

	pc->x ^= pc->x << 13;
	pc->x ^= pc->x >> 17;
	pc->x ^= pc->x << 5;
	n = pc->x % (pc->max + 1);
	return n < left ? n : left;
}

#endif
