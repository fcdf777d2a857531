/*
 * fuzz_spoolrec.c: the record codec of the timing log's spool.
 *
 * Input: what a spool file holds after its header, records one after
 * another, as a crash, a full disk or another program may leave them.
 * Each record is decoded (spoolrec_decode), with its length checked
 * against the bytes given and against a decode of a copy cut one byte
 * short (never a record then), until one is short or refused.  Each
 * record decoded is encoded again; that encoding must decode to the
 * same fields and encode to the same bytes (the six strings of a request
 * and the two of an event stop at a NUL on the way out, so the first
 * encoding may be shorter than the input, never longer).  The input is
 * also read as a header.
 */
#include <string.h>

#include "timelog_int.h"
#include "fuzz.h"

static struct timelog_rec a, b;
static unsigned char enc1[SPOOLREC_MAX], enc2[SPOOLREC_MAX];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *cut;
	size_t off = 0, used, n1, n2, u2;
	uint64_t head;
	int rc;

	if (size >= SPOOLREC_HEAD && spoolrec_head_read(data, &head) == 0)
		CHECK(head >= SPOOLREC_HEAD);
	while (off < size) {
		rc = spoolrec_decode(data + off, size - off, &a, &used);
		CHECK(rc >= -1 && rc <= 1);
		if (rc != 1)
			break;
		CHECK(used >= 5 && used <= size - off && used <= SPOOLREC_MAX);
		cut = malloc(used - 1);
		CHECK(cut != NULL);
		memcpy(cut, data + off, used - 1);
		CHECK(spoolrec_decode(cut, used - 1, &b, &u2) != 1);
		free(cut);

		n1 = spoolrec_encode(enc1, sizeof(enc1), &a);
		CHECK(n1 > 0 && n1 <= used);
		CHECK(spoolrec_decode(enc1, n1, &b, &u2) == 1 && u2 == n1);
		n2 = spoolrec_encode(enc2, sizeof(enc2), &b);
		CHECK(n2 == n1 && memcmp(enc1, enc2, n1) == 0);
		CHECK(a.kind == b.kind);
		if (a.kind == REC_REQUEST)
			CHECK(a.u.t.status == b.u.t.status &&
			    a.u.t.who_set == b.u.t.who_set &&
			    timing_size(&a.u.t) == timing_size(&b.u.t));
		else
			CHECK(a.u.e.pid == b.u.e.pid &&
			    strcmp(a.u.e.kind, b.u.e.kind) == 0);
		off += used;
	}
	return 0;
}
