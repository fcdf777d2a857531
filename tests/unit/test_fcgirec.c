/*
 * test_fcgirec.c: the FastCGI record codec, byte for byte.
 *
 * Encoders are checked against bytes written out from the FastCGI 1.0
 * specification; the parser is fed whole streams, streams cut at every
 * byte, and malformed input (which must fail cleanly, never read past
 * what it was given: run under valgrind or ASan to see that).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cgigate.h"

static void
test_begin_request(void **state)
{
	static const unsigned char want[16] = {
		1, 1, 0x12, 0x34, 0, 8, 0, 0,	/* v1 BEGIN_REQUEST id 0x1234 */
		0, 1, 1, 0, 0, 0, 0, 0		/* RESPONDER, KEEP_CONN */
	};
	unsigned char out[16];

	(void)state;
	fcgirec_begin(out, 0x1234, 1);
	assert_memory_equal(out, want, sizeof(want));
	fcgirec_begin(out, 1, 0);
	assert_int_equal(out[3], 1);
	assert_int_equal(out[10], 0);
}

static void
test_header_padding(void **state)
{
	unsigned char h[8];

	(void)state;
	fcgirec_header(h, 5, 1, 65535);
	assert_int_equal(h[1], 5);
	assert_int_equal(h[4], 0xff);
	assert_int_equal(h[5], 0xff);
	assert_int_equal(h[6], 1);	/* 65535 + 1 = 8 * 8192 */
	assert_int_equal(fcgirec_pad(0), 0);
	assert_int_equal(fcgirec_pad(1), 7);
	assert_int_equal(fcgirec_pad(8), 0);
	assert_int_equal(fcgirec_pad(13), 3);
	fcgirec_abort(h, 7);
	assert_int_equal(h[1], 2);
	assert_int_equal(h[3], 7);
	assert_int_equal(h[5], 0);
}

static void
test_params_short_and_long(void **state)
{
	char longval[300];
	char *env[4];
	char big[320];
	unsigned char *out;
	size_t len;

	(void)state;
	memset(longval, 'v', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	snprintf(big, sizeof(big), "LONG=%s", longval);
	env[0] = (char *)"A=bc";
	env[1] = big;
	env[2] = (char *)"EMPTY=";
	env[3] = NULL;
	out = fcgirec_params(3, env, &len);
	assert_non_null(out);
	/* pairs: 1+1+1+2, 1+4+4+299, 1+1+5+0 = 5 + 308 + 7 = 320 */
	assert_int_equal(len, 8 + 320 + 0 + 8);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 4);		/* PARAMS */
	assert_int_equal(out[3], 3);
	assert_int_equal(out[4] << 8 | out[5], 320);
	assert_int_equal(out[6], 0);
	assert_memory_equal(out + 8, "\001\002Abc", 5);
	/* name length 4 in one byte, value length 299 in four */
	assert_memory_equal(out + 13, "\004\200\000\001\053LONG", 9);
	assert_int_equal(out[22], 'v');
	assert_int_equal(out[22 + 298], 'v');
	assert_memory_equal(out + 321, "\005\000EMPTY", 7);
	/* the closing empty PARAMS record */
	assert_memory_equal(out + 328, "\001\004\000\003\000\000\000\000", 8);
	free(out);
}

static void
test_params_split_at_65535(void **state)
{
	char *val, *env[2];
	unsigned char *out;
	size_t len, stream, off, total = 0;
	int records = 0;

	(void)state;
	/* One pair of 100,000 bytes: must span two records, not truncate. */
	val = malloc(100000 + 3);
	assert_non_null(val);
	memcpy(val, "X=", 2);
	memset(val + 2, 'z', 100000);
	val[100002] = '\0';
	env[0] = val;
	env[1] = NULL;
	out = fcgirec_params(9, env, &len);
	assert_non_null(out);
	stream = fcgirec_nv_size(1, 100000);
	for (off = 0; off < len; ) {
		size_t clen = (size_t)out[off + 4] << 8 | out[off + 5];

		assert_int_equal(out[off + 1], 4);
		assert_true(clen <= 65535);
		assert_int_equal(out[off + 6], fcgirec_pad(clen));
		total += clen;
		off += 8 + clen + out[off + 6];
		records++;
	}
	assert_int_equal(off, len);
	assert_int_equal(total, stream);
	assert_int_equal(records, 3);	/* 65535 + rest + empty */
	free(out);
	free(val);
}

static void
test_params_empty_env(void **state)
{
	char *env[] = { NULL };
	unsigned char *out;
	size_t len;

	(void)state;
	out = fcgirec_params(1, env, &len);
	assert_non_null(out);
	assert_int_equal(len, 8);
	assert_int_equal(out[1], 4);
	assert_int_equal(out[5], 0);
	free(out);
}

static void
test_stdin_100k(void **state)
{
	unsigned char *body, *out;
	size_t len = 100 * 1024, n;

	(void)state;
	body = malloc(len);
	out = malloc(fcgirec_stream_size(len));
	assert_non_null(body);
	assert_non_null(out);
	for (n = 0; n < len; n++)
		body[n] = (unsigned char)(n * 7);
	n = fcgirec_stream(out, 5, 1, body, len);
	/* 65,535 (+1 padding) then 36,865 (+7 padding) */
	assert_int_equal(n, 8 + 65535 + 1 + 8 + 36865 + 7);
	assert_true(n <= fcgirec_stream_size(len));
	assert_memory_equal(out, "\001\005\000\001\377\377\001\000", 8);
	assert_memory_equal(out + 8, body, 65535);
	assert_int_equal(out[8 + 65535], 0);
	assert_memory_equal(out + 65544, "\001\005\000\001\220\001\007\000", 8);
	assert_memory_equal(out + 65552, body + 65535, 36865);
	/* the empty record that ends the stream */
	assert_int_equal(fcgirec_stream(out, 5, 1, NULL, 0), 8);
	assert_memory_equal(out, "\001\005\000\001\000\000\000\000", 8);
	free(body);
	free(out);
}

/* Append one record to buf, returning the new length. */
static size_t
rec(unsigned char *buf, size_t off, int type, unsigned id, const void *c,
    size_t clen)
{
	fcgirec_header(buf + off, type, id, clen);
	memcpy(buf + off + 8, c, clen);
	memset(buf + off + 8 + clen, 0, fcgirec_pad(clen));
	return off + 8 + clen + fcgirec_pad(clen);
}

static size_t
end_rec(unsigned char *buf, size_t off, unsigned id, unsigned app, int ps)
{
	unsigned char b[8] = { 0 };

	b[0] = (unsigned char)(app >> 24);
	b[1] = (unsigned char)(app >> 16);
	b[2] = (unsigned char)(app >> 8);
	b[3] = (unsigned char)app;
	b[4] = (unsigned char)ps;
	return rec(buf, off, 3, id, b, 8);
}

struct got {
	char	 out[1024];
	size_t	 outlen;
	char	 err[256];
	size_t	 errlen;
	int	 ended;
	const char *error;
};

/* Feed len bytes in slices of step bytes; collect what comes out. */
static void
run(struct fcgirec_parser *p, const unsigned char *buf, size_t len, size_t step,
    struct got *g)
{
	size_t off = 0;

	memset(g, 0, sizeof(*g));
	while (off < len && !g->error) {
		size_t n = len - off < step ? len - off : step, used, clen;
		const unsigned char *slice = buf + off, *c;

		while (n > 0) {
			enum fcgirec_event ev = fcgirec_parse(p, slice, n, &used, &c,
			    &clen);

			assert_true(used <= n);
			if (ev == FCGIREC_EV_STDOUT) {
				memcpy(g->out + g->outlen, c, clen);
				g->outlen += clen;
			} else if (ev == FCGIREC_EV_STDERR) {
				memcpy(g->err + g->errlen, c, clen);
				g->errlen += clen;
			} else if (ev == FCGIREC_EV_END) {
				g->ended++;
			} else if (ev == FCGIREC_EV_ERROR) {
				g->error = p->error;
				break;
			}
			slice += used;
			n -= used;
			off += used;
			if (ev == FCGIREC_EV_MORE)
				assert_int_equal(n, 0);
		}
	}
}

static void
test_parse_response(void **state)
{
	unsigned char buf[512];
	size_t len = 0, step;
	struct fcgirec_parser p;
	struct got g;

	(void)state;
	len = rec(buf, len, 6, 1, "Content-Type: text/plain\r\n\r\n", 28);
	len = rec(buf, len, 7, 1, "oops\n", 5);
	len = rec(buf, len, 11, 0, "\x08\0\0\0\0\0\0\0", 8);	/* mgmt */
	len = rec(buf, len, 99, 1, "ignored", 7);		/* unknown */
	len = rec(buf, len, 6, 1, "hi\n", 3);
	len = rec(buf, len, 6, 1, "", 0);			/* stdout end */
	len = end_rec(buf, len, 1, 42, 0);
	for (step = 1; step <= len; step++) {
		fcgirec_parser_init(&p, 1);
		run(&p, buf, len, step, &g);
		assert_null(g.error);
		assert_int_equal(g.ended, 1);
		assert_int_equal(g.outlen, 31);
		assert_memory_equal(g.out, "Content-Type: text/plain\r\n\r\nhi\n",
		    31);
		assert_int_equal(g.errlen, 5);
		assert_int_equal(p.app_status, 42);
		assert_int_equal(p.proto_status, 0);
	}
}

static void
test_parse_end_status(void **state)
{
	unsigned char buf[64];
	size_t len;
	struct fcgirec_parser p;
	struct got g;

	(void)state;
	len = end_rec(buf, 0, 2, 0xfffffffeu, 2);	/* FCGI_OVERLOADED */
	fcgirec_parser_init(&p, 2);
	run(&p, buf, len, len, &g);
	assert_int_equal(g.ended, 1);
	assert_int_equal(p.app_status, 0xfffffffeu);
	assert_int_equal(p.proto_status, 2);
}

static void
expect_error(const unsigned char *buf, size_t len, unsigned id)
{
	struct fcgirec_parser p;
	struct got g;
	size_t step;

	for (step = 1; step <= len; step++) {
		fcgirec_parser_init(&p, id);
		run(&p, buf, len, step, &g);
		assert_non_null(g.error);
	}
}

static void
test_parse_malformed(void **state)
{
	unsigned char buf[128];
	size_t len;

	(void)state;
	/* wrong version */
	len = rec(buf, 0, 6, 1, "x", 1);
	buf[0] = 2;
	expect_error(buf, len, 1);
	/* another request id */
	len = rec(buf, 0, 6, 5, "x", 1);
	expect_error(buf, len, 1);
	/* END_REQUEST of the wrong length */
	len = rec(buf, 0, 3, 1, "abc", 3);
	expect_error(buf, len, 1);
	/* a type only a server sends */
	len = rec(buf, 0, 5, 1, "x", 1);
	expect_error(buf, len, 1);
	/* a record after END_REQUEST */
	len = end_rec(buf, 0, 1, 0, 0);
	len = rec(buf, len, 6, 1, "late", 4);
	expect_error(buf, len, 1);
}

/*
 * A whole answer left on a kept connection by the previous request (id
 * 1), then this request's own (id 2): not one byte of the stale answer
 * comes out, wherever the reads cut the stream.
 */
static void
test_parse_stale_answer(void **state)
{
	unsigned char buf[256];
	size_t len, step;
	struct fcgirec_parser p;
	struct got g;

	(void)state;
	len = rec(buf, 0, 6, 1, "Status: 299 STALE\r\n\r\n", 21);
	len = rec(buf, len, 6, 1, "", 0);
	len = end_rec(buf, len, 1, 0, 0);
	len = rec(buf, len, 6, 2, "Content-Type: text/plain\r\n\r\nok", 30);
	len = rec(buf, len, 6, 2, "", 0);
	len = end_rec(buf, len, 2, 0, 0);
	for (step = 1; step <= len; step++) {
		fcgirec_parser_init(&p, 2);
		run(&p, buf, len, step, &g);
		assert_string_equal(g.error,
		    "FastCGI record for another request id");
		assert_int_equal(g.outlen, 0);
		assert_int_equal(g.ended, 0);
	}
}

static void
test_parse_truncated(void **state)
{
	unsigned char buf[64];
	const unsigned char *c;
	size_t len, used, clen;
	struct fcgirec_parser p;
	enum fcgirec_event ev;

	(void)state;
	/* A record cut short: the parser waits, it never ends or reads on. */
	len = rec(buf, 0, 6, 1, "abcdef", 6);
	fcgirec_parser_init(&p, 1);
	ev = fcgirec_parse(&p, buf, 5, &used, &c, &clen);
	assert_int_equal(ev, FCGIREC_EV_MORE);
	assert_int_equal(used, 5);
	ev = fcgirec_parse(&p, buf + 5, 6, &used, &c, &clen);
	assert_int_equal(ev, FCGIREC_EV_STDOUT);
	assert_int_equal(clen, 3);
	assert_memory_equal(c, "abc", 3);
	ev = fcgirec_parse(&p, buf + 11, len - 11, &used, &c, &clen);
	assert_int_equal(ev, FCGIREC_EV_STDOUT);
	assert_int_equal(clen, 3);
	assert_int_equal(p.state, FCGIREC_PS_PADDING);
	/* a parser in error stays in error */
	p.state = FCGIREC_PS_ERROR;
	assert_int_equal(fcgirec_parse(&p, buf, len, &used, &c, &clen),
	    FCGIREC_EV_ERROR);
}

static const char *const probe_names[] = {
	"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS", NULL
};

static void
test_get_values_bytes(void **state)
{
	static const unsigned char want[] = {
		1, 9, 0, 0, 0, 48, 0, 0,	/* v1 GET_VALUES id 0, 48 bytes */
		14, 0, 'F', 'C', 'G', 'I', '_', 'M', 'A', 'X', '_', 'C', 'O',
		'N', 'N', 'S',
		13, 0, 'F', 'C', 'G', 'I', '_', 'M', 'A', 'X', '_', 'R', 'E',
		'Q', 'S',
		15, 0, 'F', 'C', 'G', 'I', '_', 'M', 'P', 'X', 'S', '_', 'C',
		'O', 'N', 'N', 'S'
	};
	static const char *const one[] = { "ABC", NULL };
	unsigned char out[128];

	(void)state;
	assert_int_equal(fcgirec_get_values(out, sizeof(out), probe_names),
	    sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	/* Too small a buffer: nothing. */
	assert_int_equal(fcgirec_get_values(out, sizeof(want) - 1,
	    probe_names), 0);
	/* 5 bytes of content, padded to 8. */
	memset(out, 0xee, sizeof(out));
	assert_int_equal(fcgirec_get_values(out, sizeof(out), one), 16);
	assert_int_equal(out[5], 5);
	assert_int_equal(out[6], 3);
	assert_memory_equal(out + 8, "\3\0ABC\0\0\0", 8);
	assert_int_equal(fcgirec_get_values(out, 15, one), 0);
}

/* php-fpm 8.2's answer to the three names, as it came off the wire. */
static const unsigned char fpm_answer[] =
    "\1\12\0\0\0\22\6\0\17\1FCGI_MPXS_CONNS0\0\0\0\0\0\0";

static void
test_values_parse(void **state)
{
	unsigned char rec[64];
	struct fcgirec_values v;
	const char *why = NULL;
	size_t n = 8, i;

	(void)state;
	assert_int_equal(fcgirec_values(fpm_answer, sizeof(fpm_answer) - 1,
	    &v, &why), 1);
	assert_int_equal(v.mpxs_conns, 0);
	assert_int_equal(v.max_conns, -1);
	assert_int_equal(v.max_reqs, -1);
	/* Cut anywhere before its end, it wants more. */
	for (i = 0; i < sizeof(fpm_answer) - 1; i++)
		assert_int_equal(fcgirec_values(fpm_answer, i, &v, &why), 0);

	/* libfcgi's kind: all three, and a name it does not know. */
	n += fcgirec_nv_put(rec + n, "FCGI_MAX_CONNS", 14, "1", 1);
	n += fcgirec_nv_put(rec + n, "X", 1, "y", 1);
	n += fcgirec_nv_put(rec + n, "FCGI_MAX_REQS", 13, "12", 2);
	n += fcgirec_nv_put(rec + n, "FCGI_MPXS_CONNS", 15, "0", 1);
	fcgirec_header(rec, 10, 0, n - 8);
	memset(rec + n, 0, fcgirec_pad(n - 8));
	n += fcgirec_pad(n - 8);
	assert_int_equal(fcgirec_values(rec, n, &v, &why), 1);
	assert_int_equal(v.max_conns, 1);
	assert_int_equal(v.max_reqs, 12);
	assert_int_equal(v.mpxs_conns, 0);

	/* A value that is no number is not given. */
	n = 8 + fcgirec_nv_put(rec + 8, "FCGI_MAX_CONNS", 14, "lots", 4);
	fcgirec_header(rec, 10, 0, n - 8);
	assert_int_equal(fcgirec_values(rec, n + fcgirec_pad(n - 8), &v,
	    &why), 1);
	assert_int_equal(v.max_conns, -1);

	/* An application that knows no GET_VALUES says so: alive. */
	fcgirec_header(rec, 11, 0, 8);
	memset(rec + 8, 0, 8);
	rec[8] = 9;
	assert_int_equal(fcgirec_values(rec, 15, &v, &why), 0);
	assert_int_equal(fcgirec_values(rec, 16, &v, &why), 1);
}

static void
test_values_malformed(void **state)
{
	unsigned char rec[64];
	struct fcgirec_values v;
	const char *why;

	(void)state;
	/* Not FastCGI at all. */
	why = NULL;
	assert_int_equal(fcgirec_values((const unsigned char *)
	    "HTTP/1.1 400", 12, &v, &why), -1);
	assert_non_null(why);
	/* A stale STDOUT record of some request, not an answer. */
	fcgirec_header(rec, 6, 3, 0);
	why = NULL;
	assert_int_equal(fcgirec_values(rec, 8, &v, &why), -1);
	assert_non_null(why);
	/* GET_VALUES_RESULT on a request id but 0. */
	fcgirec_header(rec, 10, 1, 0);
	assert_int_equal(fcgirec_values(rec, 8, &v, &why), -1);
	/* A pair whose lengths run past the record. */
	fcgirec_header(rec, 10, 0, 8);
	memcpy(rec + 8, "\20\1FCGI_MA", 8);
	why = NULL;
	assert_int_equal(fcgirec_values(rec, 16, &v, &why), -1);
	assert_string_equal(why, "malformed FCGI_GET_VALUES_RESULT");
	/* A four-byte length cut short. */
	fcgirec_header(rec, 10, 0, 3);
	memcpy(rec + 8, "\200\0\0\0\0\0\0\0", 8);
	assert_int_equal(fcgirec_values(rec, 16, &v, &why), -1);
	/* An empty answer is an answer. */
	fcgirec_header(rec, 10, 0, 0);
	assert_int_equal(fcgirec_values(rec, 8, &v, &why), 1);
	assert_int_equal(v.max_conns, -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_begin_request),
		cmocka_unit_test(test_header_padding),
		cmocka_unit_test(test_params_short_and_long),
		cmocka_unit_test(test_params_split_at_65535),
		cmocka_unit_test(test_params_empty_env),
		cmocka_unit_test(test_stdin_100k),
		cmocka_unit_test(test_parse_response),
		cmocka_unit_test(test_parse_end_status),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_stale_answer),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_get_values_bytes),
		cmocka_unit_test(test_values_parse),
		cmocka_unit_test(test_values_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
