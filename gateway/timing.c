/*
 * timing.c: who sent a request, packed into its timing record.
 *
 * A struct timing is a fixed-size record: timelog.c's queue holds two
 * arrays of timings_queue of them (8192 by default), and a full queue
 * costs records times size.  The client's address, Host, the query
 * string, User-Agent and Referer would take 1,841 bytes as five arrays
 * at their caps (45, 255, 512, 512, 512), which nearly tripled the
 * record (1,000 bytes without them), and most of it would sit empty:
 * a browser's request needs 200 to 400 bytes of the five together.  So
 * they share one area of TIMING_WHO_MAX (1,024) bytes instead, packed
 * one after the other, each with its NUL, in the order of enum who;
 * who_len and who_set say where each is and whether it was sent at all.
 * The record grows to about 2 KB, not 2.8.
 *
 * Each value is first cut to its own cap.  If the five still do not fit
 * the area, the longest are cut to one length, the largest that lets
 * them fit, so that a short value is never cut for a long one: a 10 KB
 * User-Agent takes its 512 bytes and no byte of Host.  A cut falls
 * before a byte that continues a UTF-8 sequence (at most three bytes
 * back), so that a cut value that was UTF-8 stays UTF-8.  Nothing marks
 * a value as cut; cgigate-timings(7) gives the caps.
 *
 * The bytes are the client's, copied as they are; the writer binds them
 * with their length, as text, and never builds SQL from them.  Pure: no
 * I/O, for the unit test.
 */
#include <stddef.h>
#include <string.h>

#include "cgigate.h"

/*
 * Each value's own cap, in bytes, its NUL not counted.  An address as
 * inet_ntop writes it is at most INET6_ADDRSTRLEN - 1 (45) bytes; a
 * host name at most 253, with room for a short port.
 */
static const size_t cap[WHO_N] = { 45, 255, 512, 512, 512 };

/* How many bytes of s (n long) to keep within lim: no cut UTF-8. */
static size_t
cut(const char *s, size_t n, size_t lim)
{
	size_t k = lim, back = 0;

	if (n <= lim)
		return n;
	while (k > 0 && back < 3 && ((unsigned char)s[k] & 0xc0) == 0x80) {
		k--;
		back++;
	}
	if (((unsigned char)s[k] & 0xc0) == 0x80)
		return lim;	/* no UTF-8 here: any byte will do */
	return k;
}

void
timing_set_who(struct timing *t, const char *const v[WHO_N])
{
	size_t len[WHO_N], full[WHO_N], room = TIMING_WHO_MAX, total = 0;
	size_t level, off = 0;
	int k, j, n = 0, left, done[WHO_N];

	t->who_set = 0;
	for (k = 0; k < WHO_N; k++) {
		t->who_len[k] = 0;
		done[k] = 0;
		if (v[k] == NULL) {
			full[k] = len[k] = 0;
			continue;
		}
		t->who_set |= 1u << k;
		full[k] = strnlen(v[k], cap[k] + 1);
		len[k] = full[k] < cap[k] ? full[k] : cap[k];
		total += len[k];
		room--;			/* its NUL */
		n++;
	}
	if (total > room) {
		/*
		 * The shortest first: each that is no longer than an equal
		 * share of what is left keeps its length; the rest, longer,
		 * get the share.
		 */
		left = n;
		for (;;) {
			for (j = -1, k = 0; k < WHO_N; k++)
				if ((t->who_set & (1u << k)) && !done[k] &&
				    (j == -1 || len[k] < len[j]))
					j = k;
			if (j == -1)
				break;
			level = room / (size_t)left;
			if (len[j] > level) {
				for (k = 0; k < WHO_N; k++)
					if ((t->who_set & (1u << k)) &&
					    !done[k])
						len[k] = level;
				break;
			}
			room -= len[j];
			done[j] = 1;
			left--;
		}
	}
	for (k = 0; k < WHO_N; k++) {
		if (!(t->who_set & (1u << k)))
			continue;
		len[k] = cut(v[k], full[k], len[k]);
		memcpy(t->who + off, v[k], len[k]);
		t->who[off + len[k]] = '\0';
		t->who_len[k] = (unsigned short)len[k];
		off += len[k] + 1;
	}
}

const char *
timing_who(const struct timing *t, enum who k, size_t *len)
{
	size_t off = 0;
	int i;

	if ((unsigned)k >= WHO_N || !(t->who_set & (1u << k)))
		return NULL;
	for (i = 0; i < (int)k; i++)
		if (t->who_set & (1u << i))
			off += (size_t)t->who_len[i] + 1;
	*len = t->who_len[k];
	return t->who + off;
}

size_t
timing_size(const struct timing *t)
{
	size_t n = offsetof(struct timing, who);
	int k;

	for (k = 0; k < WHO_N; k++)
		if (t->who_set & (1u << k))
			n += (size_t)t->who_len[k] + 1;
	return n;
}
