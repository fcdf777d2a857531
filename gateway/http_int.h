/*
 * http_int.h: what http.c shares with admin.c and conn.c, and with no
 * other file: the request's state (struct exchange) and the calls that
 * work around civetweb.
 */
#ifndef HTTP_INT_H
#define HTTP_INT_H

#include <limits.h>

#include "cgigate.h"

/* conn.c */

struct mg_connection;
struct mg_context;

/* Where a request's body stands in civetweb's buffer and socket. */
struct conn_body {
	int		 fd;		/* the client's socket, -1: unknown */
	int		 chunked;
	int		 ended;		/* the last chunk came */
	int		 head_bytes;	/* civetweb may hold body bytes */
	size_t		 probe;		/* next read from its buffer */
	unsigned long long taken;	/* sock_taken, when taken_ok */
	int		 taken_ok;
	long long	 got;		/* body bytes read */
};

void	 conn_body_init(struct conn_body *b, int chunked);
/* The client's socket, looked for on the first call; -1: not found. */
int	 conn_fd(struct mg_connection *conn, struct conn_body *b);
/*
 * Read body bytes with mg_read, waiting only as w allows (see the design
 * comment of conn.c): mg_read's answer, or -2 when it would wait.
 */
int	 conn_read_body(struct mg_connection *conn, struct conn_body *b,
	    char *buf, size_t len, int w);
/* Has the client closed its side?  1 or 0 (also when unknown). */
int	 conn_closed(struct mg_connection *conn, struct conn_body *b);
/* mg_stop, without waiting for the master thread's next poll. */
void	 conn_stop(struct mg_context *ctx, int port);

/* http.c, for admin.c and answer.c */

#define RELAY_MAX_HEADERS	64

/* One request, from civetweb's callback to its row. */
struct exchange {
	struct mg_connection	*conn;
	const struct config	*cfg;
	const struct route_conf	*conf;		/* of the route it runs */
	char			 reqid[24];
	char			 path[4096];	/* decoded, clean */
	uint64_t		 start_us;
	struct timing		 t;
	struct httpout		 o;
	char			*out;		/* gathered output, lent */
	size_t			 outlen;
	int			 client_gone;
	int			 hops;		/* internal redirects taken */
	int			 stats;		/* stats_enter's handle, -1 */
	int			 expect_continue;	/* 100 Continue owed */
	/* the request body */
	long long		 body_left;	/* -1: chunked, until its end */
	const char		*body_fail;	/* why reading it failed */
	int			 body_status;	/* and the status, or 0 */
	struct conn_body	 body;
	/* the handler's answer, once it writes (lent) */
	struct relay		*relay;
	struct cgiresp		*resp;
	struct relay_sink	 sink;		/* the relay's, arg: this */
	int			 nph;
	int			 redirect_ok;
	char			 redirect[4096];	/* a local Location */
	char			 uri[4096];	/* target after a redirect */
	/* what the handler is told */
	struct xreq		 rq;
	struct cgi_header	 hdr[RELAY_MAX_HEADERS];
	char			 cgi_uri[8192], host[256], proto[16];
	char			 peer[64];	/* the client, as the door saw it */
	int			 peer_port, server_port;
	char			 fname[PATH_MAX], sname[PATH_MAX];
	char			 program[PATH_MAX];
};

/*
 * Answer with a whole body (len bytes) of type ctype, extra header lines
 * or NULL; returns the status.
 */
int	 http_answer(struct exchange *x, int status, const char *ctype,
	    const char *body, size_t len, const char *extra);
/* Answer with a small text body and log why; returns the status. */
int	 http_error(struct exchange *x, int status, const char *why,
	    const char *extra);
/* The query string of the request, or NULL. */
const char *http_query(struct exchange *x);
/*
 * The value of name= in the query, URL-decoded into buf: its length, -1
 * when absent, -2 when buf is too small (civetweb's mg_get_var).
 */
int	 http_query_var(struct exchange *x, const char *name, char *buf,
	    size_t len);

/* answer.c */

/*
 * Turn how a transport ended into the answer, the log line and the
 * row's status; 0 after an internal redirect (x->redirect).
 */
int	 answer_finish(struct exchange *x, const struct xresult *res);
/* Give back the relay the handler's output borrowed. */
void	 answer_release(struct exchange *x);

/* admin.c */

/* /_gateway/...: answer it; returns the status. */
int	 admin_serve(struct exchange *x);

#endif
