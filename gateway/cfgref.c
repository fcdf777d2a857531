/*
 * cfgref.c: the running configuration, and the older ones still in use.
 *
 * A SIGHUP publishes a new configuration while requests, the door's
 * thread and the pool manager may still be working with the old one:
 * each takes the current one with cfgref_hold and gives it back with
 * cfgref_drop when its request (or its pass) is over.  A configuration
 * that is no longer current is freed by cfgref_collect once nobody holds
 * it, so memory follows the configurations in use, however many reloads
 * come.  One mutex covers the counts; it is held for a few instructions
 * and nothing is called under it.
 */
#include <pthread.h>
#include <stdlib.h>

#include "cgigate.h"

struct held {
	struct config	*c;
	int		 refs;
	struct held	*next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct held *cur;	/* the current one */
static struct held *retired;	/* older ones, still held */
static int nretired;

int
cfgref_publish(struct config *c)
{
	struct held *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -1;
	h->c = c;
	pthread_mutex_lock(&lock);
	if (cur != NULL) {
		cur->next = retired;
		retired = cur;
		nretired++;
	}
	cur = h;
	pthread_mutex_unlock(&lock);
	cfgref_collect();
	return 0;
}

const struct config *
cfgref_hold(void)
{
	const struct config *c;

	pthread_mutex_lock(&lock);
	cur->refs++;
	c = cur->c;
	pthread_mutex_unlock(&lock);
	return c;
}

void
cfgref_drop(const struct config *c)
{
	struct held *h;

	pthread_mutex_lock(&lock);
	if (cur->c == c)
		cur->refs--;
	else
		for (h = retired; h != NULL; h = h->next)
			if (h->c == c) {
				h->refs--;
				break;
			}
	pthread_mutex_unlock(&lock);
}

void
cfgref_collect(void)
{
	struct held **hp, *h, *dead = NULL;

	pthread_mutex_lock(&lock);
	for (hp = &retired; (h = *hp) != NULL; ) {
		if (h->refs > 0) {
			hp = &h->next;
			continue;
		}
		*hp = h->next;
		h->next = dead;
		dead = h;
		nretired--;
	}
	pthread_mutex_unlock(&lock);
	while ((h = dead) != NULL) {
		dead = h->next;
		config_free(h->c);
		free(h->c);
		free(h);
	}
}

int
cfgref_retired(void)
{
	int n;

	pthread_mutex_lock(&lock);
	n = nretired;
	pthread_mutex_unlock(&lock);
	return n;
}

void
cfgref_free_all(void)
{
	struct held *h;

	cfgref_collect();
	pthread_mutex_lock(&lock);
	h = cur;
	cur = NULL;
	pthread_mutex_unlock(&lock);
	if (h != NULL) {
		config_free(h->c);
		free(h->c);
		free(h);
	}
}
