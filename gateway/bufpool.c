/*
 * bufpool.c: the large buffers a request needs, lent for that request.
 *
 * A request answered here needs some tens of kilobytes of state (the
 * output buffer, http.c's struct exchange, the CGI pump or the FastCGI job, a
 * header parser and relay), too much for civetweb's small worker stacks.  Kept per
 * thread, they would stay with every thread that ever served a request,
 * however idle; taken from here at the start of a request (or of the
 * part that needs them) and given back at its end, what is held follows
 * the requests in flight, and those that run handlers are bounded by the
 * routes' concurrency.  Up to BUFPOOL_SPARE objects of each kind wait
 * for the next request, so a steady load does not go to malloc each
 * time; the rest go back to malloc at once.
 *
 * Each kind has one size.  Objects are not cleared: their users set
 * them up.  One mutex covers the lists and the counts; malloc and free
 * run outside it.  No I/O.
 */
#include <pthread.h>
#include <stdlib.h>

#include "cgigate.h"

#define BUFPOOL_SPARE	8	/* idle objects kept per kind */

static const char *const kind_names[BUF_NKINDS] = {
	[BUF_HTTP_OUT] = "http_out",
	[BUF_HTTP_CTX] = "http_ctx",
	[BUF_CGI_PUMP] = "cgi_pump",
	[BUF_CGIRESP] = "cgiresp",
	[BUF_CGI_IO] = "cgi_io",
	[BUF_FCGI_JOB] = "fcgi_job",
	[BUF_RELAY] = "relay",
	[BUF_LATE_ROW] = "late_row",
};

static struct {
	pthread_mutex_t	 lock;
	void		*spare[BUF_NKINDS][BUFPOOL_SPARE];
	int		 nspare[BUF_NKINDS];
	int		 in_use[BUF_NKINDS];
} bp = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static size_t
kind_size(enum bufkind k)
{
	switch (k) {
	case BUF_HTTP_OUT:
		return HTTP_OUTBUF;
	case BUF_HTTP_CTX:
		return http_ctx_size;
	case BUF_CGI_PUMP:
		return cgi_pump_size;
	case BUF_CGIRESP:
		return sizeof(struct cgiresp);
	case BUF_CGI_IO:
		return CGI_IOBUF;
	case BUF_FCGI_JOB:
		return fastcgi_job_size;
	case BUF_RELAY:
		return sizeof(struct relay);
	case BUF_LATE_ROW:
		return sizeof(struct late_row);
	case BUF_NKINDS:
		break;
	}
	return 0;
}

void *
bufpool_get(enum bufkind k)
{
	void *p = NULL;

	if ((unsigned)k >= BUF_NKINDS)
		return NULL;
	pthread_mutex_lock(&bp.lock);
	if (bp.nspare[k] > 0)
		p = bp.spare[k][--bp.nspare[k]];
	else {
		pthread_mutex_unlock(&bp.lock);
		if ((p = malloc(kind_size(k))) == NULL)
			return NULL;
		pthread_mutex_lock(&bp.lock);
	}
	bp.in_use[k]++;
	pthread_mutex_unlock(&bp.lock);
	return p;
}

void
bufpool_put(enum bufkind k, void *p)
{
	if (p == NULL || (unsigned)k >= BUF_NKINDS)
		return;
	pthread_mutex_lock(&bp.lock);
	bp.in_use[k]--;
	if (bp.nspare[k] < BUFPOOL_SPARE) {
		bp.spare[k][bp.nspare[k]++] = p;
		p = NULL;
	}
	pthread_mutex_unlock(&bp.lock);
	free(p);
}

const char *
bufpool_name(enum bufkind k)
{
	if ((unsigned)k >= BUF_NKINDS)
		return "?";
	return kind_names[k];
}

void
bufpool_count(enum bufkind k, int *in_use, int *spare)
{
	*in_use = *spare = 0;
	if ((unsigned)k >= BUF_NKINDS)
		return;
	pthread_mutex_lock(&bp.lock);
	*in_use = bp.in_use[k];
	*spare = bp.nspare[k];
	pthread_mutex_unlock(&bp.lock);
}
