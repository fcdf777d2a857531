/*
 * agentfmt.c: what cgigate answers HAProxy's agent check, from the
 * figures of stats_load.  Pure: agent.c does the socket.
 *
 * HAProxy 2.6 configuration.txt, "agent-check": the agent sends one
 * line of words; "N%" sets the server's weight to N percent of the
 * weight it was configured with, "drain" sets its administrative state
 * to DRAIN (no new connections but persistent ones), "ready" sets it
 * back to READY, "up" sets its operational state UP if the regular
 * checks agree.  Only the agent undoes what the agent did, so every
 * answer but "drain" carries "ready": a node that drained and was
 * started again is back in service at its next check.
 *
 * The weight is the free share of the node, by the tighter of its two
 * limits: client connections against max_connections, and requests to
 * routes (those waiting for a slot too) against what the routes can run
 * at once.  A node at its limit still says 1%, not 0%, which HAProxy
 * would show and treat as DRAIN: it is up, and gets a little traffic.
 */
#include <stdio.h>

#include "cgigate.h"

/* Free share of limit with used taken, in whole percent, rounded down. */
static int
free_pct(long long used, long long limit)
{
	if (used <= 0)
		return 100;
	if (used >= limit)
		return 0;
	return (int)((limit - used) * 100 / limit);
}

int
agent_free(const struct load *l)
{
	int pct = 100, p;

	if (l->max_connections > 0 &&
	    (p = free_pct(l->connections, l->max_connections)) < pct)
		pct = p;
	if (l->capacity > 0 && (p = free_pct(l->in_flight, l->capacity)) < pct)
		pct = p;
	return pct < 1 ? 1 : pct;
}

size_t
agent_reply(char *buf, int draining, const struct load *l)
{
	int n;

	if (draining)
		n = snprintf(buf, AGENT_REPLY_MAX, "drain\n");
	else
		n = snprintf(buf, AGENT_REPLY_MAX, "up ready %d%%\n",
		    agent_free(l));
	return n > 0 ? (size_t)n : 0;
}
