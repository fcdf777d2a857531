/*
 * test_spoolrec.c: the spool's record codec (spoolrec.c).  The exact
 * bytes of an event, of a request's head and tail, and of the file's
 * header; a request with every field set decoded back field by field;
 * every prefix of a record short, read no further than given; a record
 * that fills every field to its cap within SPOOLREC_MAX; and malformed
 * records refused: a zero or huge length, an unknown type, a string
 * longer than its field, a who past its area or with an unknown bit, a
 * number out of its type, bytes left over.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "timelog_int.h"

/* The bytes of fill_request's who_set and who values, at the end. */
#define TAIL	34

static struct timelog_rec r, back;
static unsigned char buf[SPOOLREC_MAX + 64];

static void
fill_request(struct timelog_rec *x)
{
	struct timing *t = &x->u.t;
	const char *v[WHO_N] = { "198.51.100.7", NULL, "a=1&b=2", "curl/8",
	    "" };

	memset(x, 0xa5, sizeof(*x));	/* no byte left as it was */
	x->kind = REC_REQUEST;
	t->ts = 1700000000.123456;
	snprintf(t->request_id, sizeof(t->request_id), "r42");
	snprintf(t->route, sizeof(t->route), "/api/users");
	snprintf(t->mode, sizeof(t->mode), "fastcgi");
	snprintf(t->method, sizeof(t->method), "POST");
	snprintf(t->path, sizeof(t->path), "/api/users/7");
	t->status = 502;
	t->bytes_in = 1234;
	t->bytes_out = -1;
	t->queue_us = 5;
	t->spawn_us = 6;
	t->ttfb_us = 7;
	t->total_us = 8000000000LL;
	t->pid = 4321;
	t->exit_status = -1;
	t->signal = 9;
	t->user_cpu_us = 11;
	t->sys_cpu_us = 12;
	t->max_rss_kb = -1;
	t->connect_us = 0;
	t->worker_requests = 99;
	t->error[0] = '\0';
	timing_set_who(t, v);
}

static void
same_request(const struct timing *a, const struct timing *b)
{
	const char *va, *vb;
	size_t na, nb;
	int k;

	assert_memory_equal(&a->ts, &b->ts, sizeof(a->ts));
	assert_string_equal(a->request_id, b->request_id);
	assert_string_equal(a->route, b->route);
	assert_string_equal(a->mode, b->mode);
	assert_string_equal(a->method, b->method);
	assert_string_equal(a->path, b->path);
	assert_string_equal(a->error, b->error);
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->bytes_in, b->bytes_in);
	assert_int_equal(a->bytes_out, b->bytes_out);
	assert_int_equal(a->queue_us, b->queue_us);
	assert_int_equal(a->spawn_us, b->spawn_us);
	assert_int_equal(a->ttfb_us, b->ttfb_us);
	assert_int_equal(a->total_us, b->total_us);
	assert_int_equal(a->pid, b->pid);
	assert_int_equal(a->exit_status, b->exit_status);
	assert_int_equal(a->signal, b->signal);
	assert_int_equal(a->user_cpu_us, b->user_cpu_us);
	assert_int_equal(a->sys_cpu_us, b->sys_cpu_us);
	assert_int_equal(a->max_rss_kb, b->max_rss_kb);
	assert_int_equal(a->connect_us, b->connect_us);
	assert_int_equal(a->worker_requests, b->worker_requests);
	assert_int_equal(a->who_set, b->who_set);
	for (k = 0; k < WHO_N; k++) {
		va = timing_who(a, (enum who)k, &na);
		vb = timing_who(b, (enum who)k, &nb);
		if (va == NULL) {
			assert_null(vb);
			continue;
		}
		assert_non_null(vb);
		assert_int_equal(na, nb);
		assert_memory_equal(va, vb, na + 1);	/* and the NUL */
	}
	assert_int_equal(timing_size(a), timing_size(b));
	assert_memory_equal(a->who, b->who,
	    timing_size(a) - offsetof(struct timing, who));
}

static void
test_event_bytes(void **state)
{
	static const unsigned char want[] = {
		29, 0, 0, 0, 'E',
		0, 0, 0, 0, 0, 0, 0xf8, 0x3f,		/* 1.5 */
		42, 0, 0, 0, 0, 0, 0, 0,
		7, 0, 'd', 'r', 'o', 'p', 'p', 'e', 'd',
		1, 0, '7',
	};
	size_t n, used = 0;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.kind = REC_EVENT;
	r.u.e.ts = 1.5;
	r.u.e.pid = 42;
	strcpy(r.u.e.kind, "dropped");
	strcpy(r.u.e.detail, "7");
	n = spoolrec_encode(buf, sizeof(buf), &r);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	memset(&back, 0x5a, sizeof(back));
	assert_int_equal(spoolrec_decode(want, sizeof(want), &back, &used), 1);
	assert_int_equal(used, sizeof(want));
	assert_int_equal(back.kind, REC_EVENT);
	assert_true(back.u.e.ts == 1.5);
	assert_int_equal(back.u.e.pid, 42);
	assert_string_equal(back.u.e.kind, "dropped");
	assert_string_equal(back.u.e.detail, "7");
	/* A pid of 0 (none) and a negative one go as they are. */
	r.u.e.pid = -3;
	n = spoolrec_encode(buf, sizeof(buf), &r);
	assert_int_equal(spoolrec_decode(buf, n, &back, &used), 1);
	assert_int_equal(back.u.e.pid, -3);
}

static void
test_request_roundtrip(void **state)
{
	size_t n, used = 0;

	(void)state;
	fill_request(&r);
	n = spoolrec_encode(buf, sizeof(buf), &r);
	/* 4 + 1 + 8 + 15 * 8, the strings, who_set, then who. */
	assert_int_equal(n, 133 + (2 + 3) + (2 + 10) + (2 + 7) + (2 + 4) +
	    (2 + 12) + 2 + 1 + (2 + 12) + (2 + 7) + (2 + 6) + 2);
	assert_int_equal(buf[0] | buf[1] << 8 | buf[2] << 16 | buf[3] << 24,
	    n - 4);
	assert_int_equal(buf[4], 'R');
	/* status 502, then bytes_in 1234, then bytes_out -1. */
	assert_memory_equal(buf + 13, "\xf6\x01\0\0\0\0\0\0\xd2\x04\0\0\0\0\0\0"
	    "\xff\xff\xff\xff\xff\xff\xff\xff", 24);
	/* The end: who_set (client, query, agent, referer), then each. */
	assert_memory_equal(buf + n - TAIL, "\x1d\x0c\0" "198.51.100.7"
	    "\x07\0" "a=1&b=2" "\x06\0" "curl/8" "\0\0", TAIL);
	memset(&back, 0x5a, sizeof(back));
	assert_int_equal(spoolrec_decode(buf, n, &back, &used), 1);
	assert_int_equal(used, n);
	assert_int_equal(back.kind, REC_REQUEST);
	same_request(&r.u.t, &back.u.t);
}

/* Two records back to back: each decodes on its own, in turn. */
static void
test_stream(void **state)
{
	size_t n1, n2, used = 0;

	(void)state;
	fill_request(&r);
	n1 = spoolrec_encode(buf, sizeof(buf), &r);
	r.u.t.status = 200;
	n2 = spoolrec_encode(buf + n1, sizeof(buf) - n1, &r);
	assert_int_equal(spoolrec_decode(buf, n1 + n2, &back, &used), 1);
	assert_int_equal(used, n1);
	assert_int_equal(back.u.t.status, 502);
	assert_int_equal(spoolrec_decode(buf + n1, n2, &back, &used), 1);
	assert_int_equal(used, n2);
	assert_int_equal(back.u.t.status, 200);
}

/* Every prefix is short, and nothing past it is read (under ASan). */
static void
test_short(void **state)
{
	unsigned char *p;
	size_t n, k, used = 77;

	(void)state;
	fill_request(&r);
	n = spoolrec_encode(buf, sizeof(buf), &r);
	for (k = 0; k < n; k++) {
		p = malloc(k ? k : 1);
		assert_non_null(p);
		memcpy(p, buf, k);
		assert_int_equal(spoolrec_decode(p, k, &back, &used), 0);
		assert_int_equal(used, 77);
		free(p);
	}
}

/* Every field at its cap: within SPOOLREC_MAX, and read back. */
static void
test_largest(void **state)
{
	static char big[4][600];
	const char *v[WHO_N];
	struct timing *t = &r.u.t;
	size_t n, used = 0;
	int k;

	(void)state;
	fill_request(&r);
	memset(t->request_id, 'i', sizeof(t->request_id) - 1);
	memset(t->route, 'r', sizeof(t->route) - 1);
	memset(t->mode, 'm', sizeof(t->mode) - 1);
	memset(t->method, 'M', sizeof(t->method) - 1);
	memset(t->path, 'p', sizeof(t->path) - 1);
	memset(t->error, 'e', sizeof(t->error) - 1);
	t->request_id[sizeof(t->request_id) - 1] = '\0';
	t->route[sizeof(t->route) - 1] = '\0';
	t->mode[sizeof(t->mode) - 1] = '\0';
	t->method[sizeof(t->method) - 1] = '\0';
	t->path[sizeof(t->path) - 1] = '\0';
	t->error[sizeof(t->error) - 1] = '\0';
	for (k = 0; k < 4; k++)
		memset(big[k], 'a' + k, sizeof(big[k]) - 1);
	v[0] = big[0];
	for (k = 1; k < WHO_N; k++)
		v[k] = big[(k - 1) % 4];
	timing_set_who(t, v);
	n = spoolrec_encode(buf, sizeof(buf), &r);
	assert_true(n > 1000);
	assert_true(n <= SPOOLREC_MAX);
	assert_int_equal(spoolrec_encode(buf, n - 1, &r), 0);
	assert_int_equal(spoolrec_encode(buf, n, &r), n);
	assert_int_equal(spoolrec_decode(buf, n, &back, &used), 1);
	same_request(t, &back.u.t);
}

/* Decode buf[0..n) with its length field set to what follows: -1. */
static void
refused(size_t n)
{
	size_t used = 0;

	buf[0] = (unsigned char)(n - 4);
	buf[1] = (unsigned char)((n - 4) >> 8);
	buf[2] = buf[3] = 0;
	assert_int_equal(spoolrec_decode(buf, n, &back, &used), -1);
}

static void
test_malformed(void **state)
{
	static const unsigned char zero[] = { 0, 0, 0, 0, 'E' };
	static const unsigned char huge[] = { 0xff, 0xff, 0xff, 0x7f, 'R' };
	size_t n, used = 0, off;

	(void)state;
	assert_int_equal(spoolrec_decode(zero, sizeof(zero), &back, &used),
	    -1);
	assert_int_equal(spoolrec_decode(huge, sizeof(huge), &back, &used),
	    -1);
	/* An unknown type. */
	fill_request(&r);
	n = spoolrec_encode(buf, sizeof(buf), &r);
	buf[4] = 'X';
	refused(n);
	/* Bytes left over past the record's fields. */
	n = spoolrec_encode(buf, sizeof(buf), &r);
	buf[n++] = 0;
	refused(n);
	/* status out of an int. */
	n = spoolrec_encode(buf, sizeof(buf), &r);
	buf[13 + 4] = 1;
	refused(n);
	/* mode ("fastcgi", 7 bytes) said to be 8: no room for its NUL. */
	n = spoolrec_encode(buf, sizeof(buf), &r);
	off = 133 + (2 + 3) + (2 + 10);
	assert_int_equal(buf[off], 7);
	assert_memory_equal(buf + off + 2, "fastcgi", 7);
	memmove(buf + off + 3, buf + off + 2, n - off - 2);
	buf[off] = 8;
	refused(n + 1);
	/* An unknown bit of who_set. */
	n = spoolrec_encode(buf, sizeof(buf), &r);
	buf[n - TAIL] |= 0x20;
	refused(n);
	/* An event whose kind is longer than its field (31 bytes and NUL). */
	memset(&r, 0, sizeof(r));
	r.kind = REC_EVENT;
	memset(r.u.e.kind, 'k', 31);
	n = spoolrec_encode(buf, sizeof(buf), &r);
	assert_int_equal(spoolrec_decode(buf, n, &back, &used), 1);
	assert_int_equal(strlen(back.u.e.kind), 31);
	memmove(buf + 21 + 2 + 32, buf + 21 + 2 + 31, n - 21 - 2 - 31);
	buf[21] = 32;
	buf[21 + 2 + 31] = 'k';
	refused(n + 1);
}

/* Who values that together pass the area of struct timing. */
static void
test_who_overflow(void **state)
{
	unsigned char *p;
	size_t n, used = 0;
	int k;

	(void)state;
	n = 0;
	p = buf + 4;
	*p++ = 'R';
	memset(p, 0, 8 + 15 * 8);
	p += 8 + 15 * 8;
	for (k = 0; k < 6; k++) {		/* six empty strings */
		*p++ = 0;
		*p++ = 0;
	}
	*p++ = 0x03;				/* client and host */
	*p++ = 0x00;				/* 512 bytes each: fits */
	*p++ = 0x02;
	memset(p, 'x', 512);
	p += 512;
	*p++ = 0xfe;				/* 510 and a NUL: fits */
	*p++ = 0x01;
	memset(p, 'y', 510);
	p += 510;
	n = (size_t)(p - buf);
	buf[0] = (unsigned char)(n - 4);
	buf[1] = (unsigned char)((n - 4) >> 8);
	buf[2] = buf[3] = 0;
	assert_int_equal(spoolrec_decode(buf, n, &back, &used), 1);
	assert_int_equal(back.u.t.who_len[1], 510);
	/* 511 bytes: with the two NULs, one past the 1,024 of the area. */
	p[-512] = 0xff;
	*p++ = 'y';
	refused(n + 1);
}

static void
test_head(void **state)
{
	unsigned char h[SPOOLREC_HEAD];
	uint64_t off = 0;

	(void)state;
	spoolrec_head(h, 0x0102030405060708ULL);
	assert_memory_equal(h, "CGSPOOL1\x08\x07\x06\x05\x04\x03\x02\x01",
	    SPOOLREC_HEAD);
	assert_int_equal(spoolrec_head_read(h, &off), 0);
	assert_true(off == 0x0102030405060708ULL);
	spoolrec_head(h, SPOOLREC_HEAD);
	assert_int_equal(spoolrec_head_read(h, &off), 0);
	assert_int_equal(off, SPOOLREC_HEAD);
	spoolrec_head(h, SPOOLREC_HEAD - 1);	/* inside the header */
	assert_int_equal(spoolrec_head_read(h, &off), -1);
	spoolrec_head(h, 100);
	h[7] = '2';
	assert_int_equal(spoolrec_head_read(h, &off), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_bytes),
		cmocka_unit_test(test_request_roundtrip),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_short),
		cmocka_unit_test(test_largest),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_who_overflow),
		cmocka_unit_test(test_head),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
