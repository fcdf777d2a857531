/*
 * fcgirec.c: the FastCGI 1.0 record codec, client side.  Pure: no I/O.
 *
 * Encoding produces the bytes a web server sends to an application:
 * BEGIN_REQUEST, PARAMS (the CGI environment as name-value pairs), STDIN
 * and ABORT_REQUEST records.  Decoding is an incremental parser for what
 * the application sends back on one connection for one request: STDOUT
 * and STDERR content is handed out as it arrives, without copying, and
 * END_REQUEST ends the request.  Anything malformed is an error with a
 * reason, never a read past the bytes given.
 *
 * The management pair (spec 4.1) asks an application about itself: the
 * GET_VALUES record that the pools' probe (probe.c) sends a backend, and
 * the reader of its answer, GET_VALUES_RESULT.
 *
 * Every record is an 8-byte header (version, type, request id, content
 * length, padding length) followed by content and padding (FastCGI spec
 * 3.3).  Content is at most 65,535 bytes; longer streams are split over
 * several records.  Padding rounds records up to a multiple of 8 bytes,
 * as the spec recommends.
 */
#include <stdlib.h>
#include <string.h>

#include <fastcgi.h>

#include "cgigate.h"

size_t
fcgirec_pad(size_t clen)
{
	return (8 - (clen & 7)) & 7;
}

void
fcgirec_header(unsigned char out[FCGI_HEADER_LEN], int type, unsigned id,
    size_t clen)
{
	out[0] = FCGI_VERSION_1;
	out[1] = (unsigned char)type;
	out[2] = (unsigned char)(id >> 8);
	out[3] = (unsigned char)id;
	out[4] = (unsigned char)(clen >> 8);
	out[5] = (unsigned char)clen;
	out[6] = (unsigned char)fcgirec_pad(clen);
	out[7] = 0;
}

void
fcgirec_begin(unsigned char out[16], unsigned id, int keep_conn)
{
	/* FastCGI spec 5.1: role RESPONDER, flags, five reserved bytes. */
	fcgirec_header(out, FCGI_BEGIN_REQUEST, id, 8);
	memset(out + 8, 0, 8);
	out[9] = FCGI_RESPONDER;
	out[10] = keep_conn ? FCGI_KEEP_CONN : 0;
}

void
fcgirec_abort(unsigned char out[FCGI_HEADER_LEN], unsigned id)
{
	fcgirec_header(out, FCGI_ABORT_REQUEST, id, 0);
}

/* Lengths under 128 take one byte, others four with the top bit set. */
static size_t
put_len(unsigned char *out, size_t n)
{
	if (n < 128) {
		out[0] = (unsigned char)n;
		return 1;
	}
	out[0] = (unsigned char)(0x80 | (n >> 24));
	out[1] = (unsigned char)(n >> 16);
	out[2] = (unsigned char)(n >> 8);
	out[3] = (unsigned char)n;
	return 4;
}

size_t
fcgirec_nv_size(size_t nlen, size_t vlen)
{
	return (nlen < 128 ? 1 : 4) + (vlen < 128 ? 1 : 4) + nlen + vlen;
}

size_t
fcgirec_nv_put(unsigned char *out, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
	size_t off;

	off = put_len(out, nlen);
	off += put_len(out + off, vlen);
	memcpy(out + off, name, nlen);
	off += nlen;
	memcpy(out + off, value, vlen);
	return off + vlen;
}

unsigned char *
fcgirec_params(unsigned id, char *const *env, size_t *lenp)
{
	unsigned char *stream = NULL, *out = NULL;
	size_t slen = 0, off, nrec, olen, chunk, i;
	const char *eq;

	/* The pairs form one stream, cut into records anywhere (spec 3.4). */
	for (i = 0; env[i] != NULL; i++) {
		if ((eq = strchr(env[i], '=')) == NULL)
			continue;
		if ((size_t)(eq - env[i]) > 0x7fffffff ||
		    strlen(eq + 1) > 0x7fffffff)
			return NULL;
		slen += fcgirec_nv_size((size_t)(eq - env[i]), strlen(eq + 1));
	}
	if (slen > 0 && (stream = malloc(slen)) == NULL)
		return NULL;
	for (off = 0, i = 0; env[i] != NULL; i++) {
		if ((eq = strchr(env[i], '=')) == NULL)
			continue;
		off += fcgirec_nv_put(stream + off, env[i], (size_t)(eq - env[i]),
		    eq + 1, strlen(eq + 1));
	}

	nrec = (slen + FCGI_MAX_LENGTH - 1) / FCGI_MAX_LENGTH;
	olen = nrec * (FCGI_HEADER_LEN + 7) + slen + FCGI_HEADER_LEN;
	if ((out = malloc(olen)) == NULL)
		goto fail;
	for (off = 0, olen = 0; off < slen; off += chunk) {
		chunk = slen - off > FCGI_MAX_LENGTH ? FCGI_MAX_LENGTH :
		    slen - off;
		fcgirec_header(out + olen, FCGI_PARAMS, id, chunk);
		olen += FCGI_HEADER_LEN;
		memcpy(out + olen, stream + off, chunk);
		olen += chunk;
		memset(out + olen, 0, fcgirec_pad(chunk));
		olen += fcgirec_pad(chunk);
	}
	/* An empty PARAMS record ends the stream. */
	fcgirec_header(out + olen, FCGI_PARAMS, id, 0);
	*lenp = olen + FCGI_HEADER_LEN;
	free(stream);
	return out;
fail:
	free(stream);
	return NULL;
}

size_t
fcgirec_stream_size(size_t len)
{
	size_t nrec = len == 0 ? 1 : (len + FCGI_MAX_LENGTH - 1) /
	    FCGI_MAX_LENGTH;

	return len + nrec * (FCGI_HEADER_LEN + 7);
}

size_t
fcgirec_stream(unsigned char *out, int type, unsigned id, const void *data,
    size_t len)
{
	const unsigned char *p = data;
	size_t off = 0, chunk;

	do {
		chunk = len > FCGI_MAX_LENGTH ? FCGI_MAX_LENGTH : len;
		fcgirec_header(out + off, type, id, chunk);
		off += FCGI_HEADER_LEN;
		if (chunk > 0)
			memcpy(out + off, p, chunk);
		off += chunk;
		memset(out + off, 0, fcgirec_pad(chunk));
		off += fcgirec_pad(chunk);
		p += chunk;
		len -= chunk;
	} while (len > 0);
	return off;
}

size_t
fcgirec_get_values(unsigned char *out, size_t len, const char *const *names)
{
	size_t off = FCGI_HEADER_LEN, n, i;

	/* Spec 4.1: each name with an empty value, on request id 0. */
	for (i = 0; names[i] != NULL; i++) {
		n = strlen(names[i]);
		if (n > 0x7fffffff || off + fcgirec_nv_size(n, 0) > len ||
		    off + fcgirec_nv_size(n, 0) - FCGI_HEADER_LEN >
		    FCGI_MAX_LENGTH)
			return 0;
		off += fcgirec_nv_put(out + off, names[i], n, "", 0);
	}
	n = off - FCGI_HEADER_LEN;
	if (off + fcgirec_pad(n) > len)
		return 0;
	fcgirec_header(out, FCGI_GET_VALUES, FCGI_NULL_REQUEST_ID, n);
	memset(out + off, 0, fcgirec_pad(n));
	return off + fcgirec_pad(n);
}

/* A pair's length at *p, before end: 0, or -1 when it runs past end. */
static int
get_len(const unsigned char **p, const unsigned char *end, size_t *n)
{
	if (*p >= end)
		return -1;
	if (!(**p & 0x80)) {
		*n = *(*p)++;
		return 0;
	}
	if (end - *p < 4)
		return -1;
	*n = (size_t)((*p)[0] & 0x7f) << 24 | (size_t)(*p)[1] << 16 |
	    (size_t)(*p)[2] << 8 | (*p)[3];
	*p += 4;
	return 0;
}

/* A value of up to 9 digits, or -1. */
static long
digits(const unsigned char *v, size_t n)
{
	long x = 0;
	size_t i;

	if (n == 0 || n > 9)
		return -1;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

/* Is the pair's name, nl bytes at name, s? */
static int
named(const unsigned char *name, size_t nl, const char *s)
{
	return nl == strlen(s) && memcmp(name, s, nl) == 0;
}

int
fcgirec_values(const unsigned char *data, size_t len,
    struct fcgirec_values *v, const char **why)
{
	const unsigned char *p, *end, *val;
	size_t clen, nl, vl;

	v->max_conns = v->max_reqs = v->mpxs_conns = -1;
	if (len < FCGI_HEADER_LEN)
		return 0;
	if (data[0] != FCGI_VERSION_1) {
		*why = "answer to FCGI_GET_VALUES is no FastCGI record";
		return -1;
	}
	if ((data[1] != FCGI_GET_VALUES_RESULT &&
	    data[1] != FCGI_UNKNOWN_TYPE) || data[2] != 0 || data[3] != 0) {
		*why = "answer to FCGI_GET_VALUES is another record";
		return -1;
	}
	clen = (size_t)data[4] << 8 | data[5];
	if (len < FCGI_HEADER_LEN + clen + data[6])
		return 0;
	/* Spec 4.2: an application that knows no GET_VALUES says so. */
	if (data[1] == FCGI_UNKNOWN_TYPE)
		return 1;
	p = data + FCGI_HEADER_LEN;
	end = p + clen;
	while (p < end) {
		if (get_len(&p, end, &nl) == -1 ||
		    get_len(&p, end, &vl) == -1 ||
		    nl > (size_t)(end - p) || vl > (size_t)(end - p) - nl) {
			*why = "malformed FCGI_GET_VALUES_RESULT";
			return -1;
		}
		val = p + nl;
		if (named(p, nl, FCGI_MAX_CONNS))
			v->max_conns = digits(val, vl);
		else if (named(p, nl, FCGI_MAX_REQS))
			v->max_reqs = digits(val, vl);
		else if (named(p, nl, FCGI_MPXS_CONNS))
			v->mpxs_conns = digits(val, vl);
		p = val + vl;
	}
	return 1;
}

void
fcgirec_parser_init(struct fcgirec_parser *p, unsigned id)
{
	memset(p, 0, sizeof(*p));
	p->id = id;
	p->state = FCGIREC_PS_HEADER;
}

static enum fcgirec_event
fail(struct fcgirec_parser *p, const char *why)
{
	p->state = FCGIREC_PS_ERROR;
	p->error = why;
	return FCGIREC_EV_ERROR;
}

/* A complete header is in p->hdr: decide what its content means. */
static enum fcgirec_event
start_record(struct fcgirec_parser *p)
{
	unsigned id = (unsigned)p->hdr[2] << 8 | p->hdr[3];

	if (p->hdr[0] != FCGI_VERSION_1)
		return fail(p, "FastCGI record with an unknown version");
	p->type = p->hdr[1];
	p->left = (size_t)p->hdr[4] << 8 | p->hdr[5];
	p->pad_left = p->hdr[6];
	p->hlen = 0;
	p->state = FCGIREC_PS_CONTENT;
	p->skip = 0;

	if (id == FCGI_NULL_REQUEST_ID) {
		/* Management records (spec 4.2): nothing for a request. */
		p->skip = 1;
		return FCGIREC_EV_MORE;
	}
	if (id != p->id)
		return fail(p, "FastCGI record for another request id");
	switch (p->type) {
	case FCGI_STDOUT:
	case FCGI_STDERR:
		break;
	case FCGI_END_REQUEST:
		if (p->left != 8)
			return fail(p, "FastCGI END_REQUEST of the wrong "
			    "length");
		p->endlen = 0;
		break;
	case FCGI_BEGIN_REQUEST:
	case FCGI_ABORT_REQUEST:
	case FCGI_PARAMS:
	case FCGI_STDIN:
	case FCGI_DATA:
	case FCGI_GET_VALUES:
		return fail(p, "FastCGI record type only a server may send");
	default:
		p->skip = 1;	/* unknown types are ignored */
		break;
	}
	return FCGIREC_EV_MORE;
}

/* Step past the finished parts of the record; 1 once END_REQUEST is whole. */
static int
settle(struct fcgirec_parser *p)
{
	if (p->state == FCGIREC_PS_CONTENT && p->left == 0) {
		if (p->type == FCGI_END_REQUEST && !p->skip) {
			/* Spec 5.5: appStatus (4 bytes), protocolStatus. */
			p->app_status = (unsigned)p->end[0] << 24 |
			    (unsigned)p->end[1] << 16 |
			    (unsigned)p->end[2] << 8 | p->end[3];
			p->proto_status = p->end[4];
		}
		p->state = FCGIREC_PS_PADDING;
	}
	if (p->state == FCGIREC_PS_PADDING && p->pad_left == 0) {
		if (p->type == FCGI_END_REQUEST && !p->skip) {
			p->state = FCGIREC_PS_DONE;
			return 1;
		}
		p->state = FCGIREC_PS_HEADER;
	}
	return 0;
}

enum fcgirec_event
fcgirec_parse(struct fcgirec_parser *p, const unsigned char *data, size_t len,
    size_t *used, const unsigned char **chunk, size_t *chunklen)
{
	size_t off = 0, n;

	*chunk = NULL;
	*chunklen = 0;
	*used = 0;
	if (p->state == FCGIREC_PS_ERROR)
		return FCGIREC_EV_ERROR;
	while (off < len) {
		switch (p->state) {
		case FCGIREC_PS_HEADER:
			n = FCGI_HEADER_LEN - p->hlen;
			if (n > len - off)
				n = len - off;
			memcpy(p->hdr + p->hlen, data + off, n);
			p->hlen += n;
			off += n;
			if (p->hlen == FCGI_HEADER_LEN &&
			    start_record(p) == FCGIREC_EV_ERROR) {
				*used = off;
				return FCGIREC_EV_ERROR;
			}
			break;
		case FCGIREC_PS_CONTENT:
			n = p->left < len - off ? p->left : len - off;
			p->left -= n;
			if (!p->skip && p->type == FCGI_END_REQUEST) {
				memcpy(p->end + p->endlen, data + off, n);
				p->endlen += n;
			} else if (!p->skip) {
				*chunk = data + off;
				*chunklen = n;
				*used = off + n;
				settle(p);
				return p->type == FCGI_STDOUT ?
				    FCGIREC_EV_STDOUT : FCGIREC_EV_STDERR;
			}
			off += n;
			break;
		case FCGIREC_PS_PADDING:
			n = p->pad_left < len - off ? p->pad_left : len - off;
			p->pad_left -= n;
			off += n;
			break;
		default:	/* FCGIREC_PS_DONE */
			*used = off;
			return fail(p, "FastCGI data after END_REQUEST");
		}
		if (settle(p)) {
			*used = off;
			return FCGIREC_EV_END;
		}
	}
	*used = off;
	return p->state == FCGIREC_PS_DONE ? FCGIREC_EV_END : FCGIREC_EV_MORE;
}
