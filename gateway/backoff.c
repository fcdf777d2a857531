/*
 * backoff.c: exponential backoff, the one formula.
 *
 * The pools wait before trying again after failures: a local pool before
 * the next worker start when workers die at start-up, a remote one before
 * probing an ejected backend.  The wait doubles with every failure in a
 * row from a minimum up to a cap; this computes it without overflow
 * however many failures there were.  Pure, so that it is unit tested.
 */
#include "cgigate.h"

uint64_t
backoff_us(uint64_t min, uint64_t max, unsigned failures)
{
	if (min == 0 || min >= max)
		return min < max ? min : max;
	/* min << failures > max exactly when min > max >> failures. */
	if (failures >= 64 || min > max >> failures)
		return max;
	return min << failures;
}
