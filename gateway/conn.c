/*
 * conn.c: what civetweb hides of a connection, worked around.
 *
 * civetweb hands a request handler neither the client's socket nor a
 * way to read the body without waiting: mg_read blocks until all the
 * bytes asked for have come (for a chunked body, that many body bytes,
 * across chunks).  A CGI pump must not block on a slow client while the
 * handler has output, so it polls the socket (found by its addresses,
 * once a request) and asks civetweb only for what is already there: with
 * Content-Length, the bytes waiting in the socket (FIONREAD); chunked, a
 * sixteenth of them, since framing takes room (the smallest chunk,
 * "1\r\nx\r\n", takes six bytes; only chunk sizes padded with zeros take
 * more, and then a read waits for more of the client's bytes).
 *
 * Body bytes civetweb read together with the request head sit in its own
 * buffer, which no call shows; while any may be there, reads that find
 * the socket empty ask for 1, 2, 4, ... bytes, which civetweb copies from
 * that buffer without waiting (a Content-Length body's last byte, or a
 * chunked body's last chunk, ends such a read early, whatever it asked
 * for).  The buffer is known empty once a read took bytes from the
 * socket (the kernel's count of bytes received less those still queued
 * moved, TCP_INFO) or once more bytes were read than it holds.  What
 * remains is one wait, at most once per request, that no handler byte
 * ends: while that buffer may hold body bytes and the socket holds none
 * (the client sent its head, perhaps part of its body, and paused), the
 * read that finds the buffer empty waits for the client's next bytes.
 * Without the socket, each read blocks as civetweb's do.
 *
 * Two more of civetweb's ways are worked around here: its master thread
 * notices a stop only between 2 s polls (conn_stop wakes it), and its
 * threads format the dates of their answers (Date, Last-Modified) with
 * gmtime(3), whose result is one static struct that every thread
 * writes: cgigate's own gmtime, which the dynamic linker finds before
 * the C library's, gives each thread a struct of its own.
 *
 * All of this leans on civetweb 1.15's behaviour; it is the one file
 * besides http.c that includes its header.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <civetweb.h>

#include "http_int.h"

/* civetweb's request buffer (max_request_size, left at its default). */
#define HEAD_BUF	16384
/* Body bytes a chunked read may ask for, per byte waiting in the socket. */
#define CHUNK_SHARE	16

/* The port of a socket address, and its address as text. */
static int
sa_port(const struct sockaddr_storage *ss, char *addr, size_t len)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		if (addr != NULL)
			inet_ntop(AF_INET, &in->sin_addr, addr, len);
		return ntohs(in->sin_port);
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)ss;

		if (addr != NULL)
			inet_ntop(AF_INET6, &in6->sin6_addr, addr, len);
		return ntohs(in6->sin6_port);
	}
	return -1;
}

/*
 * The descriptor whose peer is this request's client and whose local
 * port is the one it came in on, or -1.
 */
static int
find_client_fd(struct mg_connection *conn)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	struct sockaddr_storage ss;
	struct rlimit rl;
	char addr[INET6_ADDRSTRLEN];
	socklen_t len;
	int fd, max;

	max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ?
	    (int)rl.rlim_cur : 65536;
	for (fd = 3; fd < max; fd++) {
		len = sizeof(ss);
		if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
			continue;
		if (sa_port(&ss, addr, sizeof(addr)) != ri->remote_port ||
		    strcmp(addr, ri->remote_addr) != 0)
			continue;
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
		    sa_port(&ss, NULL, 0) == ri->server_port)
			return fd;
	}
	return -1;
}

void
conn_body_init(struct conn_body *b, int chunked)
{
	memset(b, 0, sizeof(*b));
	b->fd = -2;		/* not looked for yet */
	b->chunked = chunked;
	b->head_bytes = 1;
	b->probe = 1;
}

int
conn_fd(struct mg_connection *conn, struct conn_body *b)
{
	if (b->fd == -2)
		b->fd = find_client_fd(conn);
	return b->fd;
}

/*
 * Bytes civetweb has taken from the client's socket so far: those the
 * kernel received less those still queued, read twice over so that no
 * arrival falls between the two.  0, or -1 when the kernel does not say.
 */
static int
sock_taken(int fd, unsigned long long *taken)
{
	struct tcp_info ti;
	socklen_t len;
	unsigned long long rcvd;
	int i, queued;

	for (i = 0; i < 4; i++) {
		len = sizeof(ti);
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1 ||
		    len < offsetof(struct tcp_info, tcpi_bytes_received) +
		    sizeof(ti.tcpi_bytes_received))
			return -1;
		rcvd = ti.tcpi_bytes_received;
		if (ioctl(fd, FIONREAD, &queued) == -1)
			return -1;
		len = sizeof(ti);
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
			return -1;
		if (ti.tcpi_bytes_received == rcvd) {
			*taken = rcvd - (unsigned long long)queued;
			return 0;
		}
	}
	return -1;
}

/*
 * How many body bytes to ask civetweb for now without waiting on the
 * client, 0 for none.  *probing says that the answer is a probe of
 * civetweb's own buffer.
 */
static size_t
body_want(struct conn_body *b, size_t room, int ready, int *probing)
{
	size_t k;
	int queued;

	*probing = 0;
	if (ioctl(b->fd, FIONREAD, &queued) == -1)
		queued = 0;
	if (queued > 0)
		k = b->chunked ? (size_t)queued / CHUNK_SHARE : (size_t)queued;
	else if (b->head_bytes) {
		k = b->probe;
		*probing = 1;
	} else if (ready)
		k = room;	/* EOF or an error: civetweb says which */
	else
		return 0;
	if (k == 0)
		k = 1;
	return k < room ? k : room;
}

int
conn_read_body(struct mg_connection *conn, struct conn_body *b, char *buf,
    size_t len, int w)
{
	unsigned long long t0, t1 = 0;
	size_t k = len;
	int n, probing = 0, known;

	if (b->ended)
		return 0;
	if (w != EXCH_WAIT && b->fd >= 0 &&
	    (k = body_want(b, len, w == EXCH_READY, &probing)) == 0)
		return -2;	/* nothing there yet */
	/* Only civetweb's reads move it: the last count holds. */
	known = b->head_bytes && b->fd >= 0 && (b->taken_ok ||
	    sock_taken(b->fd, &b->taken) == 0);
	t0 = b->taken;
	n = mg_read(conn, buf, k);
	if (n <= 0)
		return n;
	b->got += n;
	/* Chunked, civetweb stops short only at the last chunk. */
	if (b->chunked && (size_t)n < k)
		b->ended = 1;
	if (b->head_bytes) {
		if (probing && b->probe < 65536)
			b->probe *= 2;
		/* Bytes from the socket: civetweb's buffer is empty. */
		b->taken_ok = known && sock_taken(b->fd, &t1) == 0;
		if ((known && (!b->taken_ok || t1 != t0)) ||
		    b->got >= HEAD_BUF)
			b->head_bytes = 0;
		b->taken = t1;
	}
	return n;
}

int
conn_closed(struct mg_connection *conn, struct conn_body *b)
{
	char c;
	ssize_t n;

	if (conn_fd(conn, b) < 0)
		return 0;
	n = recv(b->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR);
}

/*
 * civetweb's master thread looks at its stop flag only between polls of
 * the internal port, up to 2 s apart, so mg_stop took that long with
 * nothing to do.  A connection to the port, made once mg_stop has set the
 * flag, ends the poll: the thread sees the flag and accepts nothing.
 */
struct waker {
	int		 port;
	atomic_int	 done;
};

static void *
wake_master(void *arg)
{
	struct waker *w = arg;
	struct sockaddr_in sin;
	int i, fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)w->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 200 && !atomic_load(&w->done); i++) {
		usleep(20000);	/* mg_stop sets the flag first of all */
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
		    -1)
			continue;
		(void)connect(fd, (struct sockaddr *)&sin, sizeof(sin));
		close(fd);
	}
	return NULL;
}

void
conn_stop(struct mg_context *ctx, int port)
{
	struct waker w = { .port = port };
	pthread_t t;
	int woken;

	woken = port > 0 && pthread_create(&t, NULL, wake_master, &w) == 0;
	mg_stop(ctx);
	atomic_store(&w.done, 1);
	if (woken)
		pthread_join(t, NULL);
}

/*
 * For civetweb's threads: two of them formatting a date at once wrote
 * the C library's one struct together (ThreadSanitizer saw it with
 * static files served on two threads), and a Date header could get
 * another answer's time.
 */
struct tm *
gmtime(const time_t *t)
{
	static _Thread_local struct tm tm;

	return gmtime_r(t, &tm);
}
