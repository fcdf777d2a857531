/*
 * door_late.c: the rows of static files, finished with what the door
 * counted.
 *
 * civetweb sends a file with sendfile(2) and counts nothing; the door
 * passes every byte of the answer on to the client, so it knows how many
 * went (head and body), and when the first and the last one did.  The
 * row (and the access log line) of such a request is made by civetweb's
 * thread at its end_request, lent as a struct late_row, and finished
 * with those figures by whichever of the two sides comes second:
 *
 *   - the door ended the exchange first: its figures wait in the peer
 *     slot (door.peers) and civetweb's thread finishes the row at once;
 *   - civetweb's thread came first: the row waits in the slot, and the
 *     door finishes it when the exchange ends (all passed on, or cut).
 *
 * Each exchange has a number (door.xseq, never reused), which civetweb's
 * thread learns from door_peer at begin_request, with the door's slot:
 * the next exchange on a connection begins only after civetweb has ended
 * the one before, so a slot holds at most one set of figures and one
 * waiting row.  The figures of ended exchanges are kept by number, in a
 * ring of DOOR_ENDED per thread and at least DOOR_ENDED_MIN (door.ended),
 * not in the slot: with few threads, one of them may be kept from its
 * end_request while the others serve many short exchanges.  The door
 * may close a connection and lend its slot to a request that waited, and
 * end that one's exchange too, before civetweb's thread has come to the
 * first.  A number found neither there nor waiting means the figures are
 * gone (the row goes with them unknown, NULL).
 *
 * The door thread serves every client: when it finishes a row it pushes
 * the row but does not write the access log line, since appends to one
 * file from many threads take turns in the kernel.  The line waits on
 * door.lines for the next civetweb thread that comes by, or for the
 * door's tick when none does.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cgigate.h"
#include "door_int.h"

#define LINES_WAIT_US	100000	/* before the door writes them itself */

/*
 * Put the figures n into r's row (NULL: unknown) and push it; put the
 * body's byte count into its access log line, which says "-" until then.
 * Times are civetweb's from its begin_request: the start is civetweb's
 * end less its total.
 */
static void
fill(struct late_row *r, const struct xcount *n)
{
	struct timing *t = &r->t;
	uint64_t start;
	char num[24];
	size_t k;
	int w;

	if (n != NULL) {
		start = r->end_us - (uint64_t)t->total_us;
		t->bytes_out = n->sent;
		if (n->end_us > r->end_us)
			t->total_us = (long long)(n->end_us - start);
		if (n->first_us != 0)
			t->ttfb_us = n->first_us > start ?
			    (long long)(n->first_us - start) : 1;
	}
	timelog_push(t);
	if (r->alen == 0 || r->abytes >= r->alen || n == NULL || n->body <= 0)
		return;
	/* "-" at abytes becomes the count: the rest moves w - 1 on. */
	w = snprintf(num, sizeof(num), "%lld", n->body);
	k = r->abytes;
	memmove(r->aline + k + (size_t)w, r->aline + k + 1, r->alen - k - 1);
	memcpy(r->aline + k, num, (size_t)w);
	r->alen += (size_t)w - 1;
}

static void
write_line(struct late_row *r)
{
	if (r->alen > 0)
		alog_write_line(r->aline, r->alen);
	bufpool_put(BUF_LATE_ROW, r);
}

/* Write the lines of list, oldest first (the list is newest first). */
static void
write_lines(struct late_row *list)
{
	struct late_row *r, *prev = NULL;

	while (list != NULL) {
		r = list->next;
		list->next = prev;
		prev = list;
		list = r;
	}
	while ((r = prev) != NULL) {
		prev = r->next;
		write_line(r);
	}
}

void
door_exchange_begin(struct dconn *c)
{
	c->xended = 0;
	c->first_us = 0;
	c->headlen_out = 0;
	c->xseq = ++door.xseq;
	if (c->slot < 0)
		return;
	pthread_mutex_lock(&door.lock);
	door.peers[c->slot].xseq = c->xseq;
	pthread_mutex_unlock(&door.lock);
}

void
door_exchange_end(struct dconn *c)
{
	struct late_row *r = NULL;
	struct peer *p;
	struct xcount n;

	if (c->slot < 0 || c->xended)
		return;
	c->xended = 1;
	n.xseq = c->xseq;
	n.sent = c->sent;
	n.body = c->headlen_out > 0 && c->sent >= (long long)c->headlen_out ?
	    c->sent - (long long)c->headlen_out : 0;
	n.first_us = c->first_us;
	n.end_us = clk_now_us();
	pthread_mutex_lock(&door.lock);
	p = &door.peers[c->slot];
	if (p->late != NULL && p->xseq == c->xseq) {
		r = p->late;
		p->late = NULL;
	} else if (door.nended > 0)
		door.ended[c->xseq % (unsigned)door.nended] = n;
	pthread_mutex_unlock(&door.lock);
	if (r == NULL)
		return;
	fill(r, &n);
	if (r->alen == 0) {
		bufpool_put(BUF_LATE_ROW, r);
		return;
	}
	pthread_mutex_lock(&door.lock);
	if (door.lines == NULL)
		door.lines_since = n.end_us;
	r->next = door.lines;
	door.lines = r;
	pthread_mutex_unlock(&door.lock);
}

void
door_late_row(int slot, int lport, unsigned long long xseq,
    struct late_row *r)
{
	struct late_row *lines;
	struct xcount n;
	struct peer *p;
	int have = 0;

	pthread_mutex_lock(&door.lock);
	lines = door.lines;	/* the door's, to write while here */
	door.lines = NULL;
	if (xseq != 0 && door.nended > 0 &&
	    door.ended[xseq % (unsigned)door.nended].xseq == xseq) {
		n = door.ended[xseq % (unsigned)door.nended];
		door.ended[xseq % (unsigned)door.nended].xseq = 0;
		have = 1;
	} else if (xseq != 0 && slot >= 0 && slot < door.npeers &&
	    (p = &door.peers[slot])->lport == lport && p->xseq == xseq &&
	    p->late == NULL) {
		p->late = r;
		r = NULL;
	}
	pthread_mutex_unlock(&door.lock);
	write_lines(lines);
	if (r == NULL)
		return;
	fill(r, have ? &n : NULL);
	write_line(r);
}

void
door_late_flush(int all)
{
	struct late_row *lines = NULL, *orphans = NULL, *r;
	int i;

	pthread_mutex_lock(&door.lock);
	if (door.lines != NULL && (all ||
	    clk_now_us() - door.lines_since >= LINES_WAIT_US)) {
		lines = door.lines;
		door.lines = NULL;
	}
	for (i = 0; all && door.peers != NULL && i < door.npeers; i++)
		if ((r = door.peers[i].late) != NULL) {
			door.peers[i].late = NULL;
			r->next = orphans;
			orphans = r;
		}
	pthread_mutex_unlock(&door.lock);
	write_lines(lines);
	while ((r = orphans) != NULL) {
		/* the door is gone: no figures will come */
		orphans = r->next;
		fill(r, NULL);
		write_line(r);
	}
}
