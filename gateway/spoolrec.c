/*
 * spoolrec.c: the record codec of the timing log's spool file.  Pure: no
 * I/O, for the unit test and the fuzzer.
 *
 * While a reader holds the WAL past timings_wal_max, the writer puts the
 * rows it cannot commit into a spool file beside the database
 * (timelog_spool.c), and the next start writes what a stop left there.
 * So the records outlive the process that wrote them and may be read by
 * another build: each field is written on its own, little-endian, with
 * no struct layout, padding or uninitialised byte in the file, and only
 * the bytes a string holds (a row takes 150 to 400 bytes, not the 2 KB
 * of a struct timing).  A file is a header, SPOOLREC_HEAD bytes: the
 * magic "CGSPOOL1" and, as a 64-bit number, the offset of the oldest
 * record not yet in the database; then the records, one after another:
 *
 *	u32 n		bytes that follow, 1 to SPOOLREC_MAX - 4
 *	u8 type		'R' a request, 'E' an event
 *	request:	f64 ts; i64 status, bytes_in, bytes_out, queue_us,
 *			spawn_us, ttfb_us, total_us, pid, exit_status,
 *			signal, user_cpu_us, sys_cpu_us, max_rss_kb,
 *			connect_us, worker_requests; str request_id, route,
 *			mode, method, path, error; u8 who_set, then a str per
 *			bit set (enum who order)
 *	event:		f64 ts; i64 pid; str kind, detail
 *
 * where f64 is the IEEE 754 bits as a u64 and str a u16 length and that
 * many bytes, no NUL.  Decoding checks every length against the field it
 * fills (its NUL included, the five values of who against their shared
 * area) and every number against its type, and a record must end where
 * its n says: a torn or damaged record is refused, never read past.
 */
#include <limits.h>
#include <string.h>

#include "timelog_int.h"

static const unsigned char magic[8] = "CGSPOOL1";

/* The integers of a request's record, in their order. */
#define NINTS	15

struct out {
	unsigned char	*p, *end;
};

struct in {
	const unsigned char *p, *end;
};

static int
put(struct out *o, const void *v, size_t n)
{
	if ((size_t)(o->end - o->p) < n)
		return -1;
	memcpy(o->p, v, n);
	o->p += n;
	return 0;
}

static int
put_u(struct out *o, uint64_t v, int bytes)
{
	unsigned char b[8];
	int i;

	for (i = 0; i < bytes; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return put(o, b, (size_t)bytes);
}

static int
put_f64(struct out *o, double d)
{
	uint64_t v;

	memcpy(&v, &d, sizeof(v));
	return put_u(o, v, 8);
}

static int
put_str(struct out *o, const char *s, size_t n)
{
	if (n > 0xffff || put_u(o, n, 2) == -1)
		return -1;
	return put(o, s, n);
}

static int
get(struct in *in, void *v, size_t n)
{
	if ((size_t)(in->end - in->p) < n)
		return -1;
	memcpy(v, in->p, n);
	in->p += n;
	return 0;
}

static int
get_u(struct in *in, uint64_t *v, int bytes)
{
	unsigned char b[8];
	int i;

	if (get(in, b, (size_t)bytes) == -1)
		return -1;
	*v = 0;
	for (i = 0; i < bytes; i++)
		*v |= (uint64_t)b[i] << (8 * i);
	return 0;
}

static int
get_f64(struct in *in, double *d)
{
	uint64_t v;

	if (get_u(in, &v, 8) == -1)
		return -1;
	memcpy(d, &v, sizeof(*d));
	return 0;
}

static int
get_ll(struct in *in, long long *v)
{
	uint64_t u;

	if (get_u(in, &u, 8) == -1)
		return -1;
	*v = (long long)u;	/* two's complement, as it was written */
	return 0;
}

static int
get_int(struct in *in, int *v)
{
	long long l;

	if (get_ll(in, &l) == -1 || l < INT_MIN || l > INT_MAX)
		return -1;
	*v = (int)l;
	return 0;
}

/* A string into a field of cap bytes, NUL-terminated. */
static int
get_str(struct in *in, char *s, size_t cap)
{
	uint64_t n;

	if (get_u(in, &n, 2) == -1 || n >= cap || get(in, s, n) == -1)
		return -1;
	s[n] = '\0';
	return 0;
}

static int
encode_request(struct out *o, const struct timing *t)
{
	const long long ints[NINTS] = { t->status, t->bytes_in,
	    t->bytes_out, t->queue_us, t->spawn_us, t->ttfb_us, t->total_us,
	    t->pid, t->exit_status, t->signal, t->user_cpu_us, t->sys_cpu_us,
	    t->max_rss_kb, t->connect_us, t->worker_requests };
	const char *const strs[] = { t->request_id, t->route, t->mode,
	    t->method, t->path, t->error };
	const size_t caps[] = { sizeof(t->request_id), sizeof(t->route),
	    sizeof(t->mode), sizeof(t->method), sizeof(t->path),
	    sizeof(t->error) };
	const char *v;
	size_t i, n;

	if (put_f64(o, t->ts) == -1)
		return -1;
	for (i = 0; i < NINTS; i++)
		if (put_u(o, (uint64_t)ints[i], 8) == -1)
			return -1;
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (put_str(o, strs[i], strnlen(strs[i], caps[i] - 1)) == -1)
			return -1;
	if (put_u(o, t->who_set & ((1u << WHO_N) - 1), 1) == -1)
		return -1;
	for (i = 0; i < WHO_N; i++)
		if ((v = timing_who(t, (enum who)i, &n)) != NULL &&
		    put_str(o, v, n) == -1)
			return -1;
	return 0;
}

static int
decode_request(struct in *in, struct timing *t)
{
	long long *const ll[] = { &t->bytes_in, &t->bytes_out, &t->queue_us,
	    &t->spawn_us, &t->ttfb_us, &t->total_us };
	long long *const ll2[] = { &t->user_cpu_us, &t->sys_cpu_us,
	    &t->max_rss_kb, &t->connect_us, &t->worker_requests };
	uint64_t set, n;
	size_t i, off = 0;

	if (get_f64(in, &t->ts) == -1 || get_int(in, &t->status) == -1)
		return -1;
	for (i = 0; i < sizeof(ll) / sizeof(ll[0]); i++)
		if (get_ll(in, ll[i]) == -1)
			return -1;
	if (get_int(in, &t->pid) == -1 || get_int(in, &t->exit_status) == -1 ||
	    get_int(in, &t->signal) == -1)
		return -1;
	for (i = 0; i < sizeof(ll2) / sizeof(ll2[0]); i++)
		if (get_ll(in, ll2[i]) == -1)
			return -1;
	if (get_str(in, t->request_id, sizeof(t->request_id)) == -1 ||
	    get_str(in, t->route, sizeof(t->route)) == -1 ||
	    get_str(in, t->mode, sizeof(t->mode)) == -1 ||
	    get_str(in, t->method, sizeof(t->method)) == -1 ||
	    get_str(in, t->path, sizeof(t->path)) == -1 ||
	    get_str(in, t->error, sizeof(t->error)) == -1)
		return -1;
	if (get_u(in, &set, 1) == -1 || set >> WHO_N != 0)
		return -1;
	t->who_set = (unsigned char)set;
	for (i = 0; i < WHO_N; i++) {
		t->who_len[i] = 0;
		if (!(set & (1u << i)))
			continue;
		if (get_u(in, &n, 2) == -1 || n >= sizeof(t->who) - off ||
		    get(in, t->who + off, n) == -1)
			return -1;
		t->who[off + n] = '\0';
		t->who_len[i] = (unsigned short)n;
		off += n + 1;
	}
	return 0;
}

size_t
spoolrec_encode(unsigned char *b, size_t cap, const struct timelog_rec *r)
{
	struct out o = { b, b + cap };
	const struct timelog_event *e = &r->u.e;
	size_t n;

	if (put_u(&o, 0, 4) == -1 ||
	    put_u(&o, r->kind == REC_EVENT ? 'E' : 'R', 1) == -1)
		return 0;
	if (r->kind == REC_EVENT) {
		if (put_f64(&o, e->ts) == -1 ||
		    put_u(&o, (uint64_t)(long long)e->pid, 8) == -1 ||
		    put_str(&o, e->kind, strnlen(e->kind,
		    sizeof(e->kind) - 1)) == -1 ||
		    put_str(&o, e->detail, strnlen(e->detail,
		    sizeof(e->detail) - 1)) == -1)
			return 0;
	} else if (encode_request(&o, &r->u.t) == -1)
		return 0;
	n = (size_t)(o.p - b);
	o.p = b;
	(void)put_u(&o, n - 4, 4);
	return n;
}

int
spoolrec_decode(const unsigned char *b, size_t len, struct timelog_rec *r,
    size_t *used)
{
	struct in in = { b, b + len };
	uint64_t n, type;
	int rc;

	if (get_u(&in, &n, 4) == -1)
		return 0;
	if (n < 1 || n > SPOOLREC_MAX - 4)
		return -1;
	if (len - 4 < n)
		return 0;
	in.end = in.p + n;
	if (get_u(&in, &type, 1) == -1)
		return -1;
	if (type == 'E') {
		r->kind = REC_EVENT;
		rc = get_f64(&in, &r->u.e.ts) == -1 ||
		    get_int(&in, &r->u.e.pid) == -1 ||
		    get_str(&in, r->u.e.kind, sizeof(r->u.e.kind)) == -1 ||
		    get_str(&in, r->u.e.detail, sizeof(r->u.e.detail)) == -1;
	} else if (type == 'R') {
		r->kind = REC_REQUEST;
		rc = decode_request(&in, &r->u.t) == -1;
	} else
		return -1;
	if (rc || in.p != in.end)
		return -1;
	*used = 4 + (size_t)n;
	return 1;
}

void
spoolrec_head(unsigned char b[SPOOLREC_HEAD], uint64_t off)
{
	struct out o = { b, b + SPOOLREC_HEAD };

	(void)put(&o, magic, sizeof(magic));
	(void)put_u(&o, off, 8);
}

int
spoolrec_head_read(const unsigned char b[SPOOLREC_HEAD], uint64_t *off)
{
	struct in in = { b + sizeof(magic), b + SPOOLREC_HEAD };

	if (memcmp(b, magic, sizeof(magic)) != 0 || get_u(&in, off, 8) == -1 ||
	    *off < SPOOLREC_HEAD)
		return -1;
	return 0;
}
