/*
 * agent.c: the responder to HAProxy's agent check (agent_listen in
 * cgigate.conf(5)), so that a balancer weighs this node by its free
 * capacity and drains it when it drains.
 *
 * One thread of its own and one listening socket, bound at start-up
 * before privileges go, like the listen addresses.  The thread polls the
 * socket and a wake pipe; each connection is answered at once and
 * closed: whatever the check sent (agent-send) is read if it is there
 * and dropped, one line (agentfmt.c) goes out, and the socket closes.
 * Nothing waits on a peer and nothing is kept per connection beyond the
 * stack of one call, so a slow or hostile peer costs one accept.  The
 * figures come from stats_load with the current configuration; the
 * answer is "drain" from the moment the health check answers 503
 * (drain_grace, then the drain) until cgigate exits.  civetweb's threads
 * and the door never wait on this one.
 *
 * The socket is bound once: a reload that changes agent_listen is told
 * it takes a restart, as one that changes listen is (main.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "cgigate.h"

#define AGENT_BACKLOG	64
#define AGENT_BATCH	64	/* connections answered per wake-up */
#define AGENT_PAUSE_MS	100	/* after an accept that failed */

static struct {
	int		 fd;
	int		 wake[2];
	pthread_t	 thread;
	int		 running;
} ag = { -1, { -1, -1 }, 0, 0 };

int
agent_bind(const struct config *c)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	int on = 1;

	if (c->agent_listen == NULL)
		return 0;
	if (config_listen_addr(c->agent_listen, &ss, &len) != NULL ||
	    len == 0) {
		log_err(NULL, "agent_listen %s: not an address",
		    c->agent_listen);
		return -1;
	}
	if ((ag.fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1)
		goto fail;
	setsockopt(ag.fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ss.ss_family == AF_INET6)
		setsockopt(ag.fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(ag.fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(ag.fd, AGENT_BACKLOG) == -1)
		goto fail;
	log_notice(NULL, "agent check answered on %s", c->agent_listen);
	return 0;
fail:
	log_err(NULL, "agent_listen %s: %s", c->agent_listen,
	    strerror(errno));
	agent_stop();
	return -1;
}

/* One connection: drop what came, answer, close. */
static void
answer(int fd)
{
	const struct config *c;
	struct load l;
	char buf[512], line[AGENT_REPLY_MAX];
	size_t n;
	int i;

	c = cfgref_hold();
	stats_load(c, &l);
	cfgref_drop(c);
	n = agent_reply(line, !http_healthy(), &l);
	for (i = 0; i < 4 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0;
	    i++)
		;
	if (send(fd, line, n, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)n)
		log_debug(NULL, "agent: answer not sent: %s",
		    strerror(errno));
	else
		log_debug(NULL, "agent: %.*s", (int)n - 1, line);
	close(fd);
}

static void *
serve(void *arg)
{
	struct pollfd p[2];
	uint64_t warned = 0;
	int fd, i;

	(void)arg;
	p[0].fd = ag.wake[0];
	p[0].events = POLLIN;
	p[1].fd = ag.fd;
	p[1].events = POLLIN;
	for (;;) {
		if (poll(p, 2, -1) == -1 && errno != EINTR) {
			log_err(NULL, "agent: poll: %s", strerror(errno));
			return NULL;
		}
		if (p[0].revents != 0)
			return NULL;
		if (p[1].revents == 0)
			continue;
		for (i = 0; i < AGENT_BATCH; i++) {
			fd = accept4(ag.fd, NULL, NULL, SOCK_CLOEXEC |
			    SOCK_NONBLOCK);
			if (fd >= 0) {
				answer(fd);
				continue;
			}
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				break;
			/* Out of descriptors: the socket stays readable. */
			if (clk_now_us() - warned >= 1000000) {
				log_warn(NULL, "agent: accept: %s",
				    strerror(errno));
				warned = clk_now_us();
			}
			(void)poll(p, 1, AGENT_PAUSE_MS);
			break;
		}
	}
}

int
agent_start(void)
{
	if (ag.fd == -1)
		return 0;
	if (pipe2(ag.wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_err(NULL, "agent_start: %s", strerror(errno));
		return -1;
	}
	if ((errno = pthread_create(&ag.thread, NULL, serve, NULL)) != 0) {
		log_err(NULL, "agent_start: pthread_create: %s",
		    strerror(errno));
		return -1;
	}
	pthread_setname_np(ag.thread, "cg-agent");
	ag.running = 1;
	return 0;
}

void
agent_stop(void)
{
	if (ag.running) {
		(void)!write(ag.wake[1], "q", 1);
		pthread_join(ag.thread, NULL);
		ag.running = 0;
	}
	if (ag.wake[0] >= 0) {
		close(ag.wake[0]);
		close(ag.wake[1]);
		ag.wake[0] = ag.wake[1] = -1;
	}
	if (ag.fd >= 0) {
		close(ag.fd);
		ag.fd = -1;
	}
}
