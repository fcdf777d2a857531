/*
 * slowload.c: slow and idle clients against one server on 127.0.0.1, and
 * probes that time normal requests meanwhile; the load generator of
 * tests/bench/bench.sh slow.  One process, one epoll loop.  It holds at
 * once, each connection reopened when the server closes it:
 *
 *   slowloris  a partial request head, then one more header line every
 *              EVERY seconds, never the blank line that ends the head;
 *   silent     a connection that sends nothing;
 *   idle       one complete GET of a cheap path (-K), its whole response
 *              read (Content-Length or chunked), then nothing: a kept-alive
 *              client that went quiet.
 *
 * Connections are opened in a shuffled order of kinds, at most BURST new
 * ones per 10 ms, so that no kind gets to the server first.  Every PROBE
 * milliseconds a fresh connection sends a normal request ("Connection:
 * close"), for the -q paths in turn, and the time from connect(2) to the
 * end of the response is recorded; a status other than 200, a reset or no
 * end within TIMEOUT seconds is a failure.  Also recorded: how long the
 * connect itself took (a second or more means a SYN was dropped and sent
 * again: the listen queue was full).
 *
 * Bounded: at most MAXCONN attack connections, at most MAXSECS seconds
 * (and TIMEOUT more for the probes still in flight, the attack held
 * meanwhile); the program stops by itself.  It raises its RLIMIT_NOFILE
 * soft limit to the hard limit.
 *
 * On stderr every REPORT seconds: connections per kind (open as the
 * client sees it, i.e. its SYN was answered, whether or not the server
 * accepted it yet; still connecting), reconnects, connect errors; probes
 * done and failed so far.  On stdout at the end, one line per probe path
 * and one for all paths:
 *
 *   probes path=P n=N failed=F p50_ms= p90_ms= p99_ms= max_ms=
 *       connect_p99_ms= connect_max_ms= connect_1s=K
 *
 * Percentiles by nearest rank over all probes; a failed probe ranks
 * above every success and shows as "fail".  Then one line per kind:
 *
 *   attack kind=K target=N open_max= connecting_max= reconnects=
 *       connect_errors= responses=
 *
 *   slowload [-d seconds] [-l slowloris] [-e every] [-s silent]
 *       [-k idle] [-K path] [-q probe-path]... [-i probe-ms]
 *       [-t timeout] [-r report] [-b burst] port
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAXCONN		10000	/* attack connections, all kinds */
#define MAXSECS		600
#define MAXPATHS	8
#define INBUF		16384	/* an idle connection's response */
#define TICK_MS		10

enum kind { K_SLOW, K_SILENT, K_IDLE, K_PROBE, NKIND };
static const char *kname[NKIND] = { "slowloris", "silent", "idle", "probe" };

enum state {
	S_WAIT,		/* closed, reopened at .next */
	S_CONNECTING,
	S_SENDING,	/* head (or a slowloris line) not all written */
	S_READING,	/* idle, probe: response not complete */
	S_HELD		/* open, nothing owed either way */
};

struct conn {
	int		 fd;
	enum kind	 kind;
	enum state	 st;
	int		 path;		/* probe: index into paths */
	int		 lines;		/* slowloris: header lines sent */
	double		 t0;		/* connect(2) called */
	double		 tconn;		/* connect completed */
	double		 next;		/* S_WAIT: reopen; slowloris: next line */
	char		 out[512];
	size_t		 outlen, outoff;
	char		*in;		/* idle, probe: response so far */
	size_t		 inlen;
	long		 inbytes;	/* probe: all bytes read */
};

struct probe {
	int		 path;
	int		 ok;
	double		 total, conn;
};

struct kstat {
	int		 target;
	int		 open, connecting;
	int		 open_max, connecting_max;
	long		 reconnects, errors, responses;
};

static struct conn *conns;	/* attack connections, then probe slots */
static int nattack, nprobeslots;
static struct kstat ks[NKIND];
static struct probe *probes;
static int nprobes, nfailed, maxprobes;
static const char *paths[MAXPATHS];
static int npaths;
static const char *idlepath = "/";
static double every = 5, timeout = 5;
static int epfd;
static struct sockaddr_in dst;
static volatile sig_atomic_t stop;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
setev(struct conn *c, uint32_t ev, int op)
{
	struct epoll_event e;

	memset(&e, 0, sizeof(e));
	e.events = ev;
	e.data.ptr = c;
	if (epoll_ctl(epfd, op, c->fd, &e) == -1) {
		perror("slowload: epoll_ctl");
		exit(1);
	}
}

static void
count(struct conn *c, enum state from, enum state to)
{
	struct kstat *k = &ks[c->kind];

	if (from == S_CONNECTING)
		k->connecting--;
	else if (from != S_WAIT)
		k->open--;
	if (to == S_CONNECTING)
		k->connecting++;
	else if (to != S_WAIT)
		k->open++;
	if (k->open > k->open_max)
		k->open_max = k->open;
	if (k->connecting > k->connecting_max)
		k->connecting_max = k->connecting;
	c->st = to;
}

static void
probe_done(struct conn *c, int ok)
{
	struct probe *p;

	if (nprobes >= maxprobes)
		return;
	p = &probes[nprobes++];
	p->path = c->path;
	p->total = now() - c->t0;
	p->conn = c->tconn > 0 ? c->tconn - c->t0 : p->total;
	/* A status line "HTTP/1.x 200" and the server's close. */
	p->ok = ok && c->inlen >= 12 && strncmp(c->in, "HTTP/1.", 7) == 0 &&
	    strncmp(c->in + 8, " 200", 4) == 0;
	if (!p->ok)
		nfailed++;
}

/* Close; an attack connection is reopened at once (after 100 ms when it
 * failed, so that a refusing server is not hammered). */
static void
drop(struct conn *c, int failed)
{
	if (c->st == S_WAIT)
		return;
	close(c->fd);
	c->fd = -1;
	if (c->kind == K_PROBE) {
		probe_done(c, !failed);
		count(c, c->st, S_WAIT);
		c->next = INFINITY;
		return;
	}
	if (failed)
		ks[c->kind].errors++;
	else
		ks[c->kind].reconnects++;
	count(c, c->st, S_WAIT);
	c->next = now() + (failed ? 0.1 : 0);
}

static void
queue_out(struct conn *c, const char *s)
{
	size_t n = strlen(s);

	if (n > sizeof(c->out) - c->outlen)
		n = sizeof(c->out) - c->outlen;
	memcpy(c->out + c->outlen, s, n);
	c->outlen += n;
}

static void
open_conn(struct conn *c)
{
	int fd, one = 1;

	c->outlen = c->outoff = 0;
	c->inlen = 0;
	c->inbytes = 0;
	c->lines = 0;
	c->tconn = 0;
	c->t0 = now();
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		/* EMFILE and the like: a connect error, tried again later. */
		ks[c->kind].errors++;
		c->next = c->t0 + 0.1;
		if (c->kind == K_PROBE) {
			probe_done(c, 0);
			c->next = INFINITY;
		}
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	count(c, S_WAIT, S_CONNECTING);
	switch (c->kind) {
	case K_SLOW:
		queue_out(c, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
		break;
	case K_IDLE:
		queue_out(c, "GET ");
		queue_out(c, idlepath);
		queue_out(c, " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
		break;
	case K_PROBE:
		queue_out(c, "GET ");
		queue_out(c, paths[c->path]);
		queue_out(c, " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		    "Connection: close\r\n\r\n");
		break;
	default:
		break;
	}
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == -1 &&
	    errno != EINPROGRESS) {
		setev(c, EPOLLIN, EPOLL_CTL_ADD);
		drop(c, 1);
		return;
	}
	setev(c, EPOLLOUT | EPOLLIN, EPOLL_CTL_ADD);
}

/*
 * Is the response in c->in complete?  Content-Length or chunked
 * (RFC 9112 6.3, 7.1); a response with neither ends at the close, which
 * the caller sees as EOF.  Returns 1 when complete, 0 when not yet, -1
 * when it cannot be read.
 */
static int
response_done(struct conn *c)
{
	char *h, *e, *p, *end;
	long cl = -1;
	int chunked = 0;
	size_t body, off;

	c->in[c->inlen] = '\0';
	if ((e = strstr(c->in, "\r\n\r\n")) == NULL)
		return c->inlen >= INBUF - 1 ? -1 : 0;
	body = (size_t)(e - c->in) + 4;
	for (h = strstr(c->in, "\r\n"); h != NULL && h < e;
	    h = strstr(h + 2, "\r\n")) {
		if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
			cl = strtol(h + 17, NULL, 10);
		else if (strncasecmp(h + 2, "Transfer-Encoding:", 18) == 0 &&
		    strstr(h + 20, "chunked") != NULL &&
		    strstr(h + 20, "chunked") < e)
			chunked = 1;
	}
	if (chunked) {
		off = body;
		for (;;) {
			long n;

			p = c->in + off;
			if ((end = strstr(p, "\r\n")) == NULL)
				return 0;
			n = strtol(p, NULL, 16);
			if (n < 0)
				return -1;
			off = (size_t)(end - c->in) + 2;
			if (n == 0)
				/* No trailer fields expected: the last CRLF. */
				return c->inlen >= off + 2 ? 1 : 0;
			off += (size_t)n + 2;
			if (off > c->inlen)
				return off >= INBUF - 1 ? -1 : 0;
		}
	}
	if (cl >= 0)
		return c->inlen >= body + (size_t)cl ? 1 :
		    body + (size_t)cl >= INBUF - 1 ? -1 : 0;
	return 0;
}

static void
on_readable(struct conn *c)
{
	char sink[4096];
	ssize_t n;
	int r;

	for (;;) {
		if ((c->kind == K_IDLE || c->kind == K_PROBE) &&
		    c->inlen < INBUF - 1)
			n = read(c->fd, c->in + c->inlen, INBUF - 1 - c->inlen);
		else
			n = read(c->fd, sink, sizeof(sink));
		if (n == 0) {
			/* A probe's response ends here. */
			drop(c, 0);
			return;
		}
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			drop(c, c->kind == K_PROBE);
			return;
		}
		if (c->kind == K_PROBE) {
			c->inbytes += n;
			if (c->inlen < INBUF - 1)
				c->inlen += (size_t)n;
			continue;
		}
		if (c->kind != K_IDLE)
			continue;
		if (c->st == S_HELD) {
			/* Anything after the response: unexpected; drop it. */
			continue;
		}
		c->inlen += (size_t)n;
		if ((r = response_done(c)) == 1) {
			ks[K_IDLE].responses++;
			count(c, c->st, S_HELD);
			c->inlen = 0;
		} else if (r == -1 || c->inlen >= INBUF - 1) {
			drop(c, 1);
			return;
		}
	}
}

static void
on_writable(struct conn *c)
{
	ssize_t n;
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->st == S_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
		    err != 0) {
			drop(c, 1);
			return;
		}
		c->tconn = now();
		count(c, S_CONNECTING, S_SENDING);
		c->next = c->tconn + every;
	}
	while (c->outoff < c->outlen) {
		n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			drop(c, 1);
			return;
		}
		c->outoff += (size_t)n;
	}
	c->outlen = c->outoff = 0;
	count(c, c->st, c->kind == K_IDLE || c->kind == K_PROBE ?
	    S_READING : S_HELD);
	setev(c, EPOLLIN, EPOLL_CTL_MOD);
}

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
fmt_ms(char *buf, size_t len, double s)
{
	if (isinf(s))
		snprintf(buf, len, "fail");
	else
		snprintf(buf, len, "%.1f", s * 1e3);
}

/* Nearest rank: the smallest value with at least p% of them at or below. */
static double
rank(const double *v, int n, double p)
{
	int i = (int)ceil(p / 100 * n) - 1;

	return v[i < 0 ? 0 : i];
}

static void
summary(int path)
{
	double *t, *cn;
	char p50[32], p90[32], p99[32], mx[32], c99[32], cmx[32];
	int i, n = 0, failed = 0, slowconn = 0;

	t = calloc((size_t)nprobes + 1, sizeof(*t));
	cn = calloc((size_t)nprobes + 1, sizeof(*cn));
	if (t == NULL || cn == NULL) {
		perror("slowload: calloc");
		exit(1);
	}
	for (i = 0; i < nprobes; i++) {
		if (path >= 0 && probes[i].path != path)
			continue;
		t[n] = probes[i].ok ? probes[i].total : INFINITY;
		cn[n] = probes[i].conn;
		if (!probes[i].ok)
			failed++;
		if (probes[i].conn >= 1)
			slowconn++;
		n++;
	}
	if (n == 0) {
		printf("probes path=%s n=0\n", path >= 0 ? paths[path] : "all");
		free(t);
		free(cn);
		return;
	}
	qsort(t, (size_t)n, sizeof(*t), cmpd);
	qsort(cn, (size_t)n, sizeof(*cn), cmpd);
	fmt_ms(p50, sizeof(p50), rank(t, n, 50));
	fmt_ms(p90, sizeof(p90), rank(t, n, 90));
	fmt_ms(p99, sizeof(p99), rank(t, n, 99));
	fmt_ms(mx, sizeof(mx), t[n - 1]);
	fmt_ms(c99, sizeof(c99), rank(cn, n, 99));
	fmt_ms(cmx, sizeof(cmx), cn[n - 1]);
	printf("probes path=%s n=%d failed=%d p50_ms=%s p90_ms=%s p99_ms=%s "
	    "max_ms=%s connect_p99_ms=%s connect_max_ms=%s connect_1s=%d\n",
	    path >= 0 ? paths[path] : "all", n, failed, p50, p90, p99, mx,
	    c99, cmx, slowconn);
	free(t);
	free(cn);
}

static void
report(double t)
{
	fprintf(stderr, "slowload %3.0fs:", t);
	for (int k = 0; k < NKIND; k++) {
		if (ks[k].target == 0 && k != K_PROBE)
			continue;
		if (k == K_PROBE) {
			fprintf(stderr, " | probes %d failed %d", nprobes,
			    nfailed);
			continue;
		}
		fprintf(stderr, " | %s open %d connecting %d reconnects %ld "
		    "errors %ld", kname[k], ks[k].open, ks[k].connecting,
		    ks[k].reconnects, ks[k].errors);
		if (k == K_IDLE)
			fprintf(stderr, " responses %ld", ks[k].responses);
	}
	fputc('\n', stderr);
}

static void
usage(void)
{
	fprintf(stderr, "usage: slowload [-d seconds] [-l slowloris] "
	    "[-e every] [-s silent] [-k idle] [-K path] [-q probe-path]... "
	    "[-i probe-ms] [-t timeout] [-r report] [-b burst] port\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct epoll_event ev[256];
	struct rlimit rl;
	struct sigaction sa;
	double start, t, dur = 10, rep = 5, lastrep, nextprobe, pms = 100;
	int ch, i, n, k, burst = 100, port, nextpath = 0, opened, ending = 0;
	int want[3] = { 0, 0, 0 };
	unsigned int seed = 12345;

	while ((ch = getopt(argc, argv, "b:d:e:i:k:K:l:q:r:s:t:")) != -1) {
		switch (ch) {
		case 'b': burst = atoi(optarg); break;
		case 'd': dur = atof(optarg); break;
		case 'e': every = atof(optarg); break;
		case 'i': pms = atof(optarg); break;
		case 'k': want[K_IDLE] = atoi(optarg); break;
		case 'K': idlepath = optarg; break;
		case 'l': want[K_SLOW] = atoi(optarg); break;
		case 'q':
			if (npaths == MAXPATHS)
				usage();
			paths[npaths++] = optarg;
			break;
		case 'r': rep = atof(optarg); break;
		case 's': want[K_SILENT] = atoi(optarg); break;
		case 't': timeout = atof(optarg); break;
		default: usage();
		}
	}
	if (argc - optind != 1)
		usage();
	port = atoi(argv[optind]);
	nattack = want[0] + want[1] + want[2];
	if (port <= 0 || port > 65535 || dur <= 0 || dur > MAXSECS ||
	    want[0] < 0 || want[1] < 0 || want[2] < 0 || nattack > MAXCONN ||
	    every <= 0 || pms < 10 || timeout <= 0 || rep <= 0 || burst < 1) {
		fprintf(stderr, "slowload: at most %d connections and %d s; "
		    "probes every 10 ms or more\n", MAXCONN, MAXSECS);
		usage();
	}

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			perror("slowload: setrlimit");
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	nprobeslots = npaths > 0 ? (int)(timeout * 1e3 / pms) + 4 : 0;
	if (rl.rlim_cur < (rlim_t)(nattack + nprobeslots + 16))
		fprintf(stderr, "slowload: RLIMIT_NOFILE %lu is below %d "
		    "connections\n", (unsigned long)rl.rlim_cur,
		    nattack + nprobeslots);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)port);
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("slowload: epoll_create1");
		return 1;
	}
	conns = calloc((size_t)(nattack + nprobeslots) + 1, sizeof(*conns));
	maxprobes = (int)(dur * 1e3 / pms) + nprobeslots + 2;
	probes = calloc((size_t)maxprobes, sizeof(*probes));
	if (conns == NULL || probes == NULL) {
		perror("slowload: calloc");
		return 1;
	}
	/* The kinds in a shuffled order (a fixed seed: the same every run). */
	for (i = 0, k = 0; k < 3; k++)
		for (n = 0; n < want[k]; n++)
			conns[i++].kind = (enum kind)k;
	for (i = nattack - 1; i > 0; i--) {
		int j = (int)(rand_r(&seed) % (unsigned int)(i + 1));
		enum kind tmp = conns[i].kind;

		conns[i].kind = conns[j].kind;
		conns[j].kind = tmp;
	}
	for (k = 0; k < 3; k++)
		ks[k].target = want[k];
	start = now();
	for (i = 0; i < nattack + nprobeslots; i++) {
		if (i >= nattack)
			conns[i].kind = K_PROBE;
		conns[i].fd = -1;
		conns[i].st = S_WAIT;
		conns[i].next = i < nattack ? start : INFINITY;
		if (conns[i].kind == K_IDLE || conns[i].kind == K_PROBE) {
			conns[i].in = malloc(INBUF);
			if (conns[i].in == NULL) {
				perror("slowload: malloc");
				return 1;
			}
		}
	}

	lastrep = start;
	nextprobe = start;
	while (!stop) {
		/* At the end, the probes in flight finish (or time out) while
		 * the attack still holds. */
		if ((t = now()) - start >= dur) {
			if (ks[K_PROBE].open + ks[K_PROBE].connecting == 0 ||
			    t - start >= dur + timeout + 1)
				break;
			ending = 1;
		}
		/* Probes: a fresh connection each interval. */
		if (npaths > 0 && !ending && t >= nextprobe) {
			nextprobe += pms / 1e3;
			for (i = nattack; i < nattack + nprobeslots; i++)
				if (conns[i].st == S_WAIT)
					break;
			if (i < nattack + nprobeslots) {
				conns[i].path = nextpath;
				nextpath = (nextpath + 1) % npaths;
				open_conn(&conns[i]);
			}
		}
		/* Attack connections due to (re)open, a line due, a timeout. */
		opened = 0;
		for (i = 0; i < nattack + nprobeslots; i++) {
			struct conn *c = &conns[i];

			if (c->st == S_WAIT) {
				if (c->kind != K_PROBE && t >= c->next &&
				    opened < burst) {
					open_conn(c);
					opened++;
				}
			} else if (c->kind == K_PROBE) {
				if (t - c->t0 >= timeout)
					drop(c, 1);
			} else if (c->kind == K_SLOW && c->st == S_HELD &&
			    t >= c->next) {
				char line[64];

				snprintf(line, sizeof(line),
				    "X-Slow-%d: %d\r\n", c->lines, c->lines);
				c->lines++;
				c->next = t + every;
				queue_out(c, line);
				count(c, S_HELD, S_SENDING);
				setev(c, EPOLLOUT | EPOLLIN, EPOLL_CTL_MOD);
			}
		}
		n = epoll_wait(epfd, ev, 256, TICK_MS);
		for (i = 0; i < n; i++) {
			struct conn *c = ev[i].data.ptr;

			if (c->st == S_WAIT)
				continue;
			if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR) &&
			    c->st != S_CONNECTING)
				on_readable(c);
			if (c->st == S_WAIT)
				continue;
			if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP) &&
			    (c->st == S_CONNECTING || c->st == S_SENDING))
				on_writable(c);
		}
		if ((t = now()) - lastrep >= rep) {
			lastrep = t;
			report(t - start);
		}
	}
	report(now() - start);
	for (i = 0; i < npaths; i++)
		summary(i);
	if (npaths > 0)
		summary(-1);
	for (k = 0; k < 3; k++)
		if (want[k] > 0)
			printf("attack kind=%s target=%d open_max=%d "
			    "connecting_max=%d reconnects=%ld "
			    "connect_errors=%ld responses=%ld\n", kname[k],
			    want[k], ks[k].open_max, ks[k].connecting_max,
			    ks[k].reconnects, ks[k].errors, ks[k].responses);
	return 0;
}
