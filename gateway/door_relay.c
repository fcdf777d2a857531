/*
 * door_relay.c: the front door's exchange with civetweb (door.c says
 * what the door is and why).
 *
 * A whole request waits in a queue, first come first served, for one of
 * civetweb's threads: at most threads internal connections are open at
 * once (door.given), and door_give_all, called by the door loop after
 * each batch of events, opens one for the queue's head as soon as there
 * is room.  Each is a fresh loopback connection to civetweb's internal
 * port; its local port goes into door.peers, by which door_peer tells
 * http.c who the client is.  door_relay then moves what can move both
 * ways: the request (head and body from memory, then the spool file by
 * sendfile), a streamed body as the client sends it, and the response,
 * read into a DOOR_OUTBUF buffer and followed by framing.c just far
 * enough to know where it ends.  Nothing past that end is passed on, so
 * the client's connection can carry its next request.
 *
 * An exchange that ends cleanly leaves its internal connection parked:
 * civetweb's thread waits on it, and the client's next request goes on
 * over it without queueing.  A parked connection is closed, freeing the
 * thread, after DOOR_PARK_US, or at once when a queued request needs a
 * thread; an exchange that does not end cleanly closes it at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "cgigate.h"
#include "door_int.h"

/* Buffers */

static char *
out_get(void)
{
	if (door.nspare > 0)
		return door.spare[--door.nspare];
	return malloc(DOOR_OUTBUF);
}

static void
out_put(char *b)
{
	if (b == NULL)
		return;
	if (door.nspare < DOOR_SPARE)
		door.spare[door.nspare++] = b;
	else
		free(b);
}

/* The queue and parking */

static void
unqueue(struct dconn *c)
{
	struct dconn **pp, *prev = NULL;

	for (pp = &door.qhead; *pp != NULL; prev = *pp, pp = &(*pp)->qnext)
		if (*pp == c) {
			*pp = c->qnext;
			if (door.qtail == c)
				door.qtail = prev;
			door.nqueue--;
			break;
		}
	c->qnext = NULL;
}

/* Parking: a client between requests keeps its internal connection. */
static void
unpark(struct dconn *c)
{
	if (c->parked == 0)
		return;
	if (c->pprev != NULL)
		c->pprev->pnext = c->pnext;
	else
		door.phead = c->pnext;
	if (c->pnext != NULL)
		c->pnext->pprev = c->pprev;
	else
		door.ptail = c->pprev;
	c->pprev = c->pnext = NULL;
	c->parked = 0;
}

static void
park(struct dconn *c)
{
	c->parked = clk_now_us();
	c->pnext = NULL;
	c->pprev = door.ptail;
	if (door.ptail != NULL)
		door.ptail->pnext = c;
	else
		door.phead = c;
	door.ptail = c;
}

/*
 * Close c's internal connection (parked or not), which frees its thread,
 * and forget the client behind it.
 */
void
door_unpark_close(struct dconn *c)
{
	unpark(c);
	if (c->bfd >= 0) {
		door_ep_close(c->bfd);
		c->bfd = -1;
		c->bmask = 0;
		door.given--;
	}
	if (c->slot >= 0) {
		door_exchange_end(c);	/* if it was cut short */
		pthread_mutex_lock(&door.lock);
		door.peers[c->slot].lport = 0;
		pthread_mutex_unlock(&door.lock);
		c->slot = -1;
	}
}

/* Give back the response buffer and the spool of the last exchange. */
static void
put_buffers(struct dconn *c)
{
	out_put(c->out);
	c->out = NULL;
	c->ooff = c->olen = c->rpos = 0;
	if (c->sfd >= 0) {
		close(c->sfd);
		c->sfd = -1;
	}
	c->slen = c->soff = 0;
}

/* Give back what is held for the current exchange with civetweb. */
void
door_detach(struct dconn *c)
{
	if (c->st == D_QUEUE)
		unqueue(c);
	door_unpark_close(c);
	put_buffers(c);
}

static void	 begin_exchange(struct dconn *);

/* A whole request: to civetweb at once if parked, else in the queue. */
void
door_enqueue(struct dconn *c)
{
	if (c->parked) {
		unpark(c);
		begin_exchange(c);
		return;
	}
	door_set_state(c, D_QUEUE);
	c->deadline = clk_now_us() + DOOR_WAIT_US;
	c->qnext = NULL;
	if (door.qtail != NULL)
		door.qtail->qnext = c;
	else
		door.qhead = c;
	door.qtail = c;
	door.nqueue++;
	/* Nothing is read from the client while it waits. */
	door_ep_set(c, c->fd, c->client_eof ? 0 : EPOLLRDHUP);
}

/* Given to civetweb */

/* Give waiting requests to civetweb while it has threads free. */
void
door_give_all(void)
{
	struct sockaddr_in to, me;
	socklen_t len;
	struct dconn *c;
	int i, one = 1, rcvbuf = DOOR_RCVBUF;

	/* Parked clients give their threads back to requests that wait. */
	while (door.qhead != NULL && door.given >= door.threads &&
	    door.phead != NULL)
		door_unpark_close(door.phead);
	while (door.qhead != NULL && door.given < door.threads) {
		c = door.qhead;
		unqueue(c);
		door_set_state(c, D_RELAY);
		c->deadline = 0;
		c->bfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0);
		if (c->bfd == -1) {
			log_err(NULL, "door: cannot reach the workers: %s",
			    strerror(errno));
			door_answer(c, 503, "cannot reach the workers",
			    "Retry-After: 1\r\n");
			continue;
		}
		door.given++;
		setsockopt(c->bfd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		/*
		 * A fixed window toward civetweb: left to grow (up to
		 * tcp_rmem's 32 MB here), it would soak up a whole answer
		 * that a slow client reads, and the handler's timeout would
		 * never see the client was slow.  Set before connect, so the
		 * window scale follows it.
		 */
		setsockopt(c->bfd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		    sizeof(rcvbuf));
		memset(&to, 0, sizeof(to));
		to.sin_family = AF_INET;
		to.sin_port = htons((uint16_t)door.target);
		to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		c->connecting = 0;
		if (connect(c->bfd, (struct sockaddr *)&to, sizeof(to)) == -1) {
			if (errno != EINPROGRESS) {
				log_err(NULL, "door: connect to the internal "
				    "port: %s", strerror(errno));
				door_answer(c, 503, "cannot reach the workers",
				    "Retry-After: 1\r\n");
				continue;
			}
			c->connecting = 1;
		}
		len = sizeof(me);
		getsockname(c->bfd, (struct sockaddr *)&me, &len);
		pthread_mutex_lock(&door.lock);
		for (i = 0; i < door.npeers && door.peers[i].lport != 0; i++)
			;
		if (i < door.npeers) {
			struct peer *p = &door.peers[i];

			p->lport = ntohs(me.sin_port);
			snprintf(p->addr, sizeof(p->addr), "%s", c->addr);
			p->port = c->port;
			p->sport = c->sport;
			p->xseq = 0;
			atomic_store(&p->stalled, 0);
			c->slot = i;
		}
		pthread_mutex_unlock(&door.lock);
		begin_exchange(c);
	}
}

/* Send the request waiting in c to civetweb, take the answer back. */
static void
begin_exchange(struct dconn *c)
{
	if (c->out == NULL && (c->out = out_get()) == NULL) {
		door_answer(c, 503, "out of memory", "Retry-After: 1\r\n");
		return;
	}
	door_set_state(c, D_RELAY);
	c->deadline = 0;
	c->rhead = c->rclose = c->stalled = c->eof_sent = 0;
	c->sent = 0;
	door_exchange_begin(c);
	framing_init(&c->resp, FRAMING_NONE, 0);
	c->resp.done = 0;
	if (c->slot >= 0)
		atomic_store(&door.peers[c->slot].stalled, 0);
	door_relay(c, 0, 0);
}

/* The request on: head and body bytes in memory, then the spool. */
static int
send_request(struct dconn *c)
{
	ssize_t n;

	while (c->ioff < c->reqend) {
		n = write(c->bfd, c->in + c->ioff, c->reqend - c->ioff);
		if (n > 0)
			c->ioff += (size_t)n;
		else
			return n == -1 && errno == EAGAIN ? 0 : -1;
	}
	while (c->soff < c->slen) {
		off_t off = c->soff;

		n = sendfile(c->bfd, c->sfd, &off, (size_t)(c->slen -
		    c->soff));
		if (n > 0)
			c->soff = off;
		else
			return n == -1 && errno == EAGAIN ? 0 : -1;
	}
	return 0;
}

/* The response as far as it came: where does it end? */
static void
parse_response(struct dconn *c)
{
	struct framing_resp fr;
	long k;

	while (c->rpos < c->olen && !c->resp.done) {
		if (!c->rhead) {
			k = framing_response(c->out + c->rpos, c->olen -
			    c->rpos, DOOR_OUTBUF, c->head_req, &fr);
			if (k == 0)
				return;
			if (k < 0) {
				/* cannot tell: pass it all on, then close */
				c->rhead = c->rclose = 1;
				framing_init(&c->resp, FRAMING_CLOSE, 0);
				continue;
			}
			c->rpos += (size_t)k;
			c->headlen_out += (size_t)k;
			if (fr.status < 200 && fr.status != 101)
				continue;	/* 100 Continue: a head follows */
			c->rhead = 1;
			c->rclose = fr.close;
			framing_init(&c->resp, fr.kind, fr.length);
			continue;
		}
		c->rpos += framing_feed(&c->resp, c->out + c->rpos, c->olen -
		    c->rpos);
		if (c->resp.error != NULL) {
			c->rclose = 1;
			break;
		}
	}
	if (c->resp.done || c->resp.error != NULL)
		c->olen = c->rpos;	/* nothing may follow its end */
}

/* The exchange is over: wait for the next request, or close. */
static void
finish(struct dconn *c)
{
	const struct config *cfg = atomic_load(&door.cfg);
	int keep = !c->rclose && c->resp.error == NULL && c->body.done &&
	    !c->client_eof && !c->stalled && !atomic_load(&door.draining);

	door_exchange_end(c);
	if (keep) {
		/* civetweb waits for its next request: keep it for now */
		put_buffers(c);
		park(c);
		door_ep_set(c, c->bfd, EPOLLIN | EPOLLRDHUP);
	} else
		door_detach(c);
	if (!keep && c->body.done && c->inlen == c->ioff) {
		door_drop(c);	/* nothing of the client's left unread */
		return;
	}
	if (!keep) {
		door_linger(c);
		return;
	}
	c->nreq++;
	if (c->ioff > 0) {	/* the next request, if it came early */
		memmove(c->in, c->in + c->ioff, c->inlen - c->ioff);
		c->inlen -= c->ioff;
		c->ioff = 0;
	}
	c->reqend = c->headlen = 0;
	c->method[0] = c->path[0] = c->route[0] = '\0';
	door_set_state(c, D_HEAD);
	door_ep_set(c, c->fd, EPOLLIN | EPOLLRDHUP);
	if (c->inlen == 0) {
		door_in_free(c);
		door_set_idle(c, 1);
		c->deadline = clk_now_us() + (uint64_t)cfg->keepalive_timeout_us;
		return;
	}
	c->t0 = clk_now_us();
	c->deadline = c->t0 + (uint64_t)cfg->header_timeout_us;
	door_try_head(c);
}

/* Response bytes from civetweb; 0, or -1 when c was answered or ended. */
static int
from_civetweb(struct dconn *c, int *progress)
{
	ssize_t n;

	if (c->ooff < c->rpos)
		return 0;	/* the client has first to take what came */
	if (c->ooff > 0) {
		memmove(c->out, c->out + c->ooff, c->olen - c->ooff);
		c->olen -= c->ooff;
		c->rpos -= c->ooff;
		c->ooff = 0;
	}
	if (c->olen == DOOR_OUTBUF)
		return 0;
	n = read(c->bfd, c->out + c->olen, DOOR_OUTBUF - c->olen);
	if (n > 0) {
		c->olen += (size_t)n;
		parse_response(c);
		if (!c->rhead && c->olen == DOOR_OUTBUF) {
			/* a head that does not fit: pass on, then close */
			c->rhead = c->rclose = 1;
			framing_init(&c->resp, FRAMING_CLOSE, 0);
			c->rpos = c->olen;
		}
		*progress = 1;
		return 0;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	/* civetweb closed: the answer is what came */
	if (c->sent == 0 && c->olen == 0 && c->client_eof) {
		door_drop(c);	/* the client left first: its row says so */
		return -1;
	}
	if (c->sent == 0 && c->olen == 0) {
		door_answer(c, 502, "closed by civetweb without an answer", NULL);
		return -1;
	}
	c->rclose = 1;
	if (c->resp.kind != FRAMING_CLOSE || !c->rhead)
		c->resp.error = "cut short";
	c->resp.done = 1;
	c->rpos = c->olen;
	*progress = 1;
	return 0;
}

/*
 * Move what can move between the client and civetweb, then say what to
 * wait for.  cev and bev: the events seen on either side.
 */
void
door_relay(struct dconn *c, uint32_t cev, uint32_t bev)
{
	const struct config *cfg = atomic_load(&door.cfg);
	uint32_t want_c = 0, want_b = EPOLLRDHUP;
	ssize_t n;
	int progress, err;
	socklen_t len;

	if (c->connecting) {
		if (!(bev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
			door_ep_set(c, c->bfd, EPOLLOUT);
			door_ep_set(c, c->fd, c->client_eof ? 0 : EPOLLRDHUP);
			return;
		}
		err = 0;
		len = sizeof(err);
		getsockopt(c->bfd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			log_err(NULL, "door: connect to the internal port: %s",
			    strerror(err));
			door_answer(c, 503, "cannot reach the workers",
			    "Retry-After: 1\r\n");
			return;
		}
		c->connecting = 0;
	}
	if (cev & (EPOLLERR | EPOLLHUP)) {
		door_drop(c);	/* the client is gone: civetweb sees it go */
		return;
	}
	if ((cev & EPOLLRDHUP) && (c->spooled || c->body.done))
		c->client_eof = 1;	/* the rest of the body reads it */
	do {
		progress = 0;
		if (c->ioff < c->reqend || c->soff < c->slen) {
			size_t before = c->ioff;
			long long sbefore = c->soff;

			if (send_request(c) == -1) {
				/* civetweb stopped reading: its answer says */
				c->ioff = c->reqend;
				c->soff = c->slen;
				c->body.done = c->body.done ||
				    c->body.error != NULL;
				c->eof_sent = 1;
			}
			progress |= c->ioff != before || c->soff != sbefore;
		}
		if (!c->spooled && !c->body.done && c->body.error == NULL &&
		    c->ioff == c->reqend && !c->client_eof && !c->stalled) {
			size_t before = c->inlen;

			if (door_read_in(c, 16384) == -1)
				c->client_eof = 1;
			if (c->inlen != before) {
				door_body_in_memory(c);
				c->deadline = clk_now_us() +
				    (uint64_t)cfg->body_timeout_us;
				progress = 1;
			} else if (c->client_eof)
				progress = 1;
		}
		if (c->ooff < c->rpos) {
			n = write(c->fd, c->out + c->ooff, c->rpos - c->ooff);
			if (n > 0) {
				if (c->sent == 0)
					c->first_us = clk_now_us();
				c->ooff += (size_t)n;
				c->sent += n;
				progress = 1;
			} else if (n == -1 && errno != EAGAIN &&
			    errno != EINTR) {
				door_drop(c);	/* the client is gone */
				return;
			}
		}
		if (c->resp.done && c->ooff == c->olen) {
			finish(c);
			return;
		}
		if (from_civetweb(c, &progress) == -1)
			return;
	} while (progress);
	/* The client's FIN goes on once its request is all out. */
	if (c->client_eof && !c->eof_sent && c->ioff == c->reqend &&
	    c->soff == c->slen) {
		shutdown(c->bfd, SHUT_WR);
		c->eof_sent = 1;
	}
	if (!c->client_eof)
		want_c |= EPOLLRDHUP;
	if (c->ooff < c->rpos)
		want_c |= EPOLLOUT;
	if (!c->spooled && !c->body.done && !c->client_eof && !c->stalled &&
	    c->ioff == c->reqend)
		want_c |= EPOLLIN;
	if (c->ioff < c->reqend || c->soff < c->slen)
		want_b |= EPOLLOUT;
	if (c->ooff == c->rpos)
		want_b |= EPOLLIN;
	door_ep_set(c, c->fd, want_c);
	door_ep_set(c, c->bfd, want_b);
	/* Only a streamed body the door waits for has a deadline here. */
	if (c->stalled)
		;
	else if (!c->spooled && !c->body.done && !c->client_eof &&
	    c->ioff == c->reqend) {
		if (c->deadline == 0)
			c->deadline = clk_now_us() +
			    (uint64_t)cfg->body_timeout_us;
	} else
		c->deadline = 0;
}
