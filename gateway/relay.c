/*
 * relay.c: a handler's output turned into an HTTP answer, whichever
 * transport (CGI pipes, FastCGI records) carried it.
 *
 * Pure: a state machine over a sink (http.c's writer).  Until the CGI
 * header block is whole, output goes to cgiresp.c; then the parsed head
 * goes to the sink and what follows is body.  A Location to a local
 * path without a Status is an internal redirect (RFC 3875 6.2.2) when
 * the route allows it: the rest of the output is dropped and the caller
 * serves the new path; without it, a 302.  An nph- handler's output goes
 * out untouched, its status read off the first bytes for the timing row.
 * stderr is cut into lines for the log, up to a cap per request; a line
 * longer than the buffer is logged in pieces.
 */
#include <stdio.h>
#include <string.h>

#include "cgigate.h"

void
relay_init(struct relay *r, const struct relay_sink *s, struct cgiresp *p,
    int nph, int redirect_ok, long long errcap)
{
	memset(r, 0, sizeof(*r));
	r->sink = s;
	r->p = p;
	r->phase = nph ? RELAY_RAW : RELAY_HEAD;
	r->redirect_ok = redirect_ok;
	r->errcap = errcap;
}

/* Give complete stderr lines (or, final, the tail) to the sink. */
static void
err_lines(struct relay *r, int final)
{
	char *line = r->errbuf, *nl, *end = r->errbuf + r->errlen;
	long long n;

	while (line < end) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL && !final && (line > r->errbuf ||
		    r->errlen < sizeof(r->errbuf)))
			break;
		if (nl == NULL)
			nl = end;
		n = nl - line;
		if (r->errlogged < r->errcap) {
			r->sink->errline(r->sink->arg, line, (size_t)n);
			r->errlogged += n + 1;
			if (r->errlogged > r->errcap)
				r->errlogged = r->errcap;
		} else if (r->errlogged == r->errcap) {
			/* The first line dropped: said once, then no more. */
			r->sink->errline(r->sink->arg, NULL, 0);
			r->errlogged++;
		}
		line = nl < end ? nl + 1 : end;
	}
	memmove(r->errbuf, line, (size_t)(end - line));
	r->errlen = (size_t)(end - line);
}

void
relay_err(struct relay *r, const char *buf, size_t n)
{
	size_t k;

	while (n > 0) {
		k = sizeof(r->errbuf) - r->errlen;
		if (k > n)
			k = n;
		memcpy(r->errbuf + r->errlen, buf, k);
		r->errlen += k;
		buf += k;
		n -= k;
		err_lines(r, 0);
	}
}

void
relay_err_end(struct relay *r)
{
	if (r->errlen > 0)
		err_lines(r, 1);
}

/*
 * An nph- handler's status: the code on its status line ("HTTP/1.1 299
 * ..."), read once from its first bytes, as many as nphline holds (or
 * all there were, at the end), so that where its writes were cut does
 * not change what is read.
 */
static void
nph_parse(struct relay *r)
{
	const char *sp;
	int st;

	if (strncmp(r->nphline, "HTTP/", 5) == 0 &&
	    (sp = strchr(r->nphline, ' ')) != NULL &&
	    sscanf(sp + 1, "%3d", &st) == 1 && st >= 100 && st <= 599)
		r->nph_status = st;
}

static void
nph_status(struct relay *r, const char *buf, size_t n)
{
	size_t room = sizeof(r->nphline) - 1 - r->nphlen;

	if (room == 0)
		return;
	if (n > room)
		n = room;
	memcpy(r->nphline + r->nphlen, buf, n);
	r->nphlen += n;
	r->nphline[r->nphlen] = '\0';
	if (r->nphlen == sizeof(r->nphline) - 1)
		nph_parse(r);
}

int
relay_out(struct relay *r, const char *buf, size_t n)
{
	const struct relay_sink *s = r->sink;
	enum cgiresp_state st;
	size_t used;

	if (r->phase == RELAY_RAW) {
		nph_status(r, buf, n);
		return s->raw(s->arg, buf, n);
	}
	while (r->phase == RELAY_HEAD) {
		st = cgiresp_feed(r->p, buf, n, &used);
		if (st == CGIRESP_MORE) {
			if (used == n)
				return 0;
			buf += used;
			n -= used;
			continue;
		}
		if (st == CGIRESP_ERROR) {
			r->fail = r->p->error;
			return -1;
		}
		buf += used;
		n -= used;
		if (r->p->status == 0 && r->redirect_ok) {
			r->phase = RELAY_REDIRECT;
			return 0;
		}
		if (r->p->status == 0)
			r->p->status = 302;
		r->phase = RELAY_BODY;
		if (s->head(s->arg, r->p) == -1 ||
		    s->body(s->arg, r->p->buf + r->p->body_off,
		    r->p->len - r->p->body_off) == -1)
			return -1;
	}
	if (r->phase == RELAY_REDIRECT || n == 0)
		return 0;	/* an internal redirect drops the body */
	return s->body(s->arg, buf, n);
}

enum relay_phase
relay_end(struct relay *r)
{
	if (r->phase == RELAY_RAW) {
		if (r->nphlen == 0) {
			/* An nph- handler that wrote nothing: no answer. */
			r->phase = RELAY_HEAD;
			r->fail = "no output";
		} else if (r->nphlen < sizeof(r->nphline) - 1)
			nph_parse(r);	/* all of its output was shorter */
	} else if (r->phase == RELAY_HEAD) {
		cgiresp_eof(r->p);
		r->fail = r->p->error;
	}
	return r->phase;
}
