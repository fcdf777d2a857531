/*
 * cgigate.h: the map of the daemon.
 *
 * Every function one module offers another is declared here, grouped by
 * the file that defines it.  Pure modules (config, route, cgienv, cgiresp)
 * do no I/O and are what the unit tests link against; the rest wrap
 * processes, sockets, threads and SQLite around them.
 */
#ifndef CGIGATE_H
#define CGIGATE_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/resource.h>

#define CGIGATE_NAME		"cgigate"

#define DEFAULT_LISTEN		"127.0.0.1:8080"
#define DEFAULT_HANDLERS	"./handlers"
#define DEFAULT_WWW		"./www"
#define DEFAULT_TIMINGS		"./var/timings.db"
#define DEFAULT_PATH		"/usr/local/bin:/usr/bin:/bin"
#ifndef DEFAULT_CHARTJS		/* configure --with-chartjs */
#define DEFAULT_CHARTJS		"/usr/share/javascript/chart.js/chart.min.js"
#endif

#define MAX_LISTEN		16
#define MAX_ROUTE_ENV		32
#define ROUTE_NAME_MAX		256

/* config.c */

enum rlim_kind { RL_CPU, RL_AS, RL_NPROC, RL_NOFILE, RL_COUNT };

/* Bits of route_conf.set: which fields a section wrote itself. */
#define RC_MODE		0x001
#define RC_TIMEOUT	0x002
#define RC_MAXCONC	0x004
#define RC_QUEUEWAIT	0x008
#define RC_MAXBODY	0x010
#define RC_REDIRECT	0x020
#define RC_RLIM		0x040	/* shifted left by enum rlim_kind */
#define RC_MINWORKERS	0x0400
#define RC_MAXWORKERS	0x0800
#define RC_IDLE		0x1000
#define RC_START	0x2000
#define RC_MAXREQ	0x4000
#define RC_MAXCONN	0x8000
#define RC_BACKENDS	0x10000
#define RC_DOCROOT	0x20000
#define RC_SUFFIX	0x40000
#define RC_BUFFER	0x80000
#define RC_ENV		0x100000	/* merged with the inherited lines */

#define MAX_BACKENDS	16
#define MAX_SUFFIXES	8

/* FastCGI settings of a route: its local pool or its remote backends. */
struct pool_conf {
	int		 min_workers;
	int		 max_workers;
	int64_t		 idle_us;	/* idle workers above min retire */
	int64_t		 start_us;	/* a new worker's first answer */
	unsigned long	 max_requests;	/* recycle after, 0: never */
	int		 max_connections;	/* per remote backend */
	char		*backends[MAX_BACKENDS];	/* tcp:H:P, unix:/p */
	int		 nbackends;
	char		*document_root;	/* scripts' tree, or NULL */
	char		*suffixes[MAX_SUFFIXES];	/* script_suffix ".php" */
	int		 nsuffixes;
	int		 docroot_line;	/* where the section set them */
	int		 suffix_line;
};

enum route_mode { MODE_AUTO, MODE_CGI, MODE_FASTCGI };

struct route_conf {
	char		*prefix;	/* "/reports"; "/" for the defaults */
	int		 line;		/* where the section starts, 0: built in */
	unsigned	 set;		/* RC_* */
	enum route_mode	 mode;
	int64_t		 timeout_us;
	int		 max_concurrency;
	int64_t		 max_queue_wait_us;
	int64_t		 max_body;
	int		 internal_redirect;
	int		 request_buffering;	/* read bodies before the slot */
	rlim_t		 rlim[RL_COUNT];	/* RLIM_INFINITY: unset */
	char		*env[MAX_ROUTE_ENV];	/* "NAME=value" */
	int		 nenv;
	struct pool_conf fcgi;
};

#define MAX_ALLOW	16

/* An address block: who may use /_gateway/ (admin_allow). */
struct cidr {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 addr[16];
	int		 bits;
};

struct config {
	char		*file;		/* NULL: built-in defaults only */
	char		*listen[MAX_LISTEN];
	int		 listen_line[MAX_LISTEN];	/* in file, or 0 */
	int		 nlisten;
	char		*agent_listen;	/* HAProxy's agent, NULL: none */
	int		 agent_listen_line;	/* its line in the file, or 0 */
	char		*handlers;
	char		*www;
	char		*timings;
	char		*access_log;	/* NULL or "off": none */
	int		 access_log_line;	/* its line in the file, or 0 */
	char		*error_log;	/* NULL or "stderr": stderr */
	int		 error_log_line;	/* its line in the file, or 0 */
	int		 log_level;	/* enum log_level */
	char		*chartjs;	/* what /_gateway/chart.js serves */
	char		*path_env;	/* PATH handed to handlers */
	int		 threads;	/* civetweb worker threads */
	int64_t		 header_timeout_us;	/* a whole request head */
	int64_t		 keepalive_timeout_us;	/* between requests */
	int64_t		 body_timeout_us;	/* request body progress */
	int		 max_connections;	/* client connections */
	int		 max_client_connections;	/* per address, 0: any */
	int64_t		 drain_us;	/* bound on a graceful stop */
	int64_t		 drain_grace_us;	/* health 503 before closing */
	int64_t		 stderr_cap;	/* stderr bytes logged per request */
	int		 timings_queue;	/* records held in memory */
	char		*user;		/* drop to this user, or NULL */
	int		 user_line;	/* its line in the file, or 0 */
	int		 allow_root;	/* run handlers as root anyway */
	int64_t		 timings_max_age_us;	/* retention, 0: forever */
	long long	 timings_max_rows;	/* retention, 0: no limit */
	int64_t		 timings_wal_max;	/* bytes, then the spool */
	struct cidr	 admin_allow[MAX_ALLOW];	/* default: loopback */
	int		 nadmin_allow;
	int		 admin_allow_set;	/* the file replaced it */
	struct cidr	 health_allow[MAX_ALLOW];	/* none: admin_allow */
	int		 nhealth_allow;
	struct cidr	 trusted_proxies[MAX_ALLOW];	/* X-Forwarded-For */
	int		 ntrusted_proxies;
	int		 proxy_protocol;	/* trusted_proxies send one */
	struct route_conf *routes;	/* sorted, longest prefix first */
	int		 nroutes;
};

/*
 * Fill c with the built-in defaults.  Returns 0, or -1 on ENOMEM.
 */
int	 config_init(struct config *c);
/*
 * Parse INI text into c, on top of what c holds.  fname names the file in
 * messages.  On error returns -1 and writes "fname:line: reason" to err.
 */
int	 config_parse(struct config *c, const char *text, const char *fname,
	    char *err, size_t errlen);
/* Read and parse a file; same contract as config_parse. */
int	 config_load(struct config *c, const char *path, char *err,
	    size_t errlen);
/*
 * What --check uses: every "file:line: reason" goes to report, and the
 * parse goes on after a bad line (a bad section header skips its
 * section).  Returns the number of errors.
 */
typedef void	(*config_report_fn)(void *arg, const char *msg);
int	 config_parse_all(struct config *c, const char *text,
	    const char *fname, config_report_fn report, void *arg);
int	 config_load_all(struct config *c, const char *path,
	    config_report_fn report, void *arg);
int	 config_check_all(const struct config *c, config_report_fn report,
	    void *arg);
/*
 * After config_finish: refuse settings that cannot apply, whichever file
 * line set them (document_root or script_suffix on a mode = cgi route,
 * script_suffix without document_root, an agent_listen port that a
 * listen address has too).  Returns 0, or -1 with
 * "file:line: key: reason" in err.
 */
int	 config_check(const struct config *c, char *err, size_t errlen);
/*
 * Resolve inheritance: every section takes the fields it did not set from
 * the nearest enclosing section, then the built-ins; sorts longest first.
 */
void	 config_finish(struct config *c);
/* The settings for a route name: the longest section prefix that covers it. */
const struct route_conf *config_route(const struct config *c,
	    const char *route);
/* The longest route with remote FastCGI backends covering path, or NULL. */
const struct route_conf *config_remote(const struct config *c,
	    const char *path);
/* Replace a string field (listen list excluded); -1 on ENOMEM. */
int	 config_set(char **field, const char *value);
/* The enum log_level of a log_level value ("warn"), or -1. */
int	 config_log_level(const char *name);
int	 config_add_listen(struct config *c, const char *addr);
void	 config_free(struct config *c);

/* confval.c */

/*
 * Parse a listen address, "ADDR:PORT" or "[ADDR6]:PORT" (ADDR numeric or
 * empty, PORT 0 to 65535); fill *ss and *sslen when ss is not NULL.
 * Returns NULL, or the reason ("listen: ...").
 */
const char *config_listen_addr(const char *addr, struct sockaddr_storage *ss,
	    socklen_t *sslen);
/* Parse "ADDR[/BITS]" (IPv4 or IPv6).  0 or -1. */
int	 config_cidr(const char *s, struct cidr *out);
/* Does the textual address addr fall in one of the blocks?  1 or 0. */
int	 config_cidr_match(const struct cidr *c, int n, const char *addr);
/* "2s", "500ms", "1m", "3" (seconds) -> microseconds; -1 if malformed. */
int64_t	 config_duration(const char *s);
/* "10M", "512K", "1G", "100" -> bytes; -1 if malformed. */
int64_t	 config_size(const char *s);
/* A decimal integer, all of v, in min..max, into *out: 0 or -1. */
int	 config_int(const char *v, long long min, long long max,
	    long long *out);
/* yes/on/true/1 -> 1, no/off/false/0 -> 0, else -1. */
int	 config_bool(const char *v);
/* s without the white space around it (cut in place). */
char	*config_trim(char *s);

/*
 * The directive table: every key a section takes, its type, where its
 * field is, its bounds and, for route keys, the RC_* bit that stops
 * inheritance.  The parser and config_finish work from it alone.  A name
 * is one key per section (max_connections is a [server] key and a
 * different route key).
 */
enum config_scope { CS_SERVER, CS_ROUTE };

/* The value a key takes, and so its field and how a section inherits it. */
enum config_type {
	CT_STRING,	/* char * */
	CT_ABSPATH,	/* char *, starting with '/' */
	CT_INT,		/* int, long long or unsigned long: min..max */
	CT_DURATION,	/* int64_t microseconds: min..max */
	CT_SIZE,	/* int64_t bytes: min..max */
	CT_BOOL,	/* int, 0 or 1 */
	CT_ENUM,	/* an enum: one of choices */
	CT_RLIMIT,	/* rlim_t: "unlimited", or min..max written as unit */
	CT_LIST,	/* char *[size / sizeof(char *)], the count at noff */
	CT_CIDRS,	/* struct cidr[] (admin_allow) */
	CT_ENV		/* route_conf.env: inherited lines merge with its own */
};

struct config_choice {
	const char	*name;
	int		 value;
};

struct config_key {
	const char	*name;
	enum config_type type;
	enum config_scope scope;
	size_t		 off;		/* in struct config or route_conf */
	size_t		 size;		/* of that field */
	long long	 min, max;	/* numbers: the range taken */
	enum config_type unit;		/* CT_RLIMIT: the number's syntax */
	unsigned	 bit;		/* route keys: RC_* */
	const char	*why;		/* the refusal, for generic types */
	const struct config_choice *choices;	/* CT_ENUM, NULL name last */
	size_t		 noff;		/* lists, cidrs, env: their int count */
	size_t		 lineoff;	/* route int keeping the line, or 0 */
	int		 repeat;	/* may be given again in a section */
	/* Lists, cidrs, env: a dedicated setter; NULL or the reason. */
	const char	*(*set)(const struct config_key *k, struct config *c,
			    struct route_conf *r, const char *v);
};

/* confkeys.c */

#define CONFIG_KEYS_MAX	96	/* entries of the table, at most */

/* The i-th entry of the table, NULL past its end. */
const struct config_key *config_key_at(size_t i);
/* The index of scope's key name, or -1. */
int	 config_key_find(enum config_scope scope, const char *name);
/* Set k's field of c ([server], r NULL) or of r from v: NULL or why. */
const char *config_key_apply(const struct config_key *k, struct config *c,
	    struct route_conf *r, const char *v);
/* Copy into r every route field of the table that r did not set. */
void	 config_inherit(struct route_conf *r, const struct route_conf *from);
/* "route" or "server"; "string", "duration", ... as --directives says. */
const char *config_scope_name(enum config_scope s);
const char *config_type_name(enum config_type t);

/* confread.c */

/*
 * As root, before any thread: fork the reader that reads path for us
 * once we are no longer root.  0, or -1 with errno.
 */
int	 confread_start(const char *path);
/*
 * The file's text (malloc'd, NUL-terminated, *len bytes), read by the
 * reader; NULL with errno when it could not (ENOSYS: no reader).
 */
char	*confread_fetch(size_t *len);
void	 confread_stop(void);

/* cfgref.c */

/*
 * Make c (malloc'd, finished) the current configuration; the one before
 * is freed once nobody holds it.  0, or -1 on ENOMEM (nothing changed).
 */
int	 cfgref_publish(struct config *c);
/* The current configuration, held until cfgref_drop. */
const struct config *cfgref_hold(void);
void	 cfgref_drop(const struct config *c);
/* Free the older configurations nobody holds any more. */
void	 cfgref_collect(void);
/* Older configurations still held. */
int	 cfgref_retired(void);
/* At exit, when nothing runs: free them all. */
void	 cfgref_free_all(void);

/* route.c */

enum route_kind { ROUTE_CGI, ROUTE_FCGI };

struct route {
	char		*name;		/* "/api/users" */
	char		*file;		/* relative to handlers: "api/users.cgi" */
	enum route_kind	 kind;
	int		 nph;		/* basename starts with "nph-" */
};

struct route_table;

/*
 * Derive the route a handler file answers: "api/users.cgi" -> "/api/users",
 * kind from the ".fcgi" suffix.  Returns 0, or -1 for a name that cannot
 * be a route (empty, dot segments, hidden files, too long, not UTF-8).
 */
int	 route_name(const char *relpath, char *name, size_t len,
	    enum route_kind *kind, int *nph);
struct route_table *route_table_new(void);
/*
 * Add a handler file.  Returns 0, 1 when another file already answers the
 * same name (the first one kept), -1 when relpath is not a route or on
 * ENOMEM.
 */
int	 route_table_add(struct route_table *t, const char *relpath);
/*
 * Order the table longest name first, as route_table_get and route_match
 * see it.  They sort on first use otherwise: call this before a table is
 * shared between threads.
 */
void	 route_table_sort(struct route_table *t);
size_t	 route_table_count(const struct route_table *t);
const struct route *route_table_get(const struct route_table *t, size_t i);
/*
 * Longest-prefix match on segment boundaries: "/hello" answers "/hello"
 * and "/hello/x" but not "/helloworld".  *path_info points into path at
 * the rest ("" or "/x").  Returns NULL when nothing matches.
 */
const struct route *route_match(const struct route_table *t,
	    const char *path, const char **path_info);
void	 route_table_free(struct route_table *t);
/*
 * Decode a raw request path (before any decoding) into out.  Refuses
 * encoded slashes, backslashes and NULs, dot segments (raw or encoded),
 * empty segments, malformed escapes and anything not starting with "/".
 * Returns 0, or -1 with a short reason in *why.
 */
int	 route_clean_path(const char *raw, char *out, size_t len,
	    const char **why);

/* What answers a clean path: the dispatcher and the door ask alike. */
enum pick_kind { PICK_NONE, PICK_CGI, PICK_FASTCGI, PICK_REMOTE };

struct route_pick {
	enum pick_kind	 kind;
	const struct route_conf *conf;
	const char	*name;		/* the route, or a remote section's prefix */
	const char	*rest;		/* the path below it, "" or "/..." */
};

/*
 * found is the handler file route_match gave for path (NULL: none) and
 * path_info its rest.  A section with remote backends wins over a
 * handler file when its prefix is at least as long; a handler runs as
 * FastCGI when its section says so or (mode auto) its name ends in
 * ".fcgi".
 */
void	 route_pick(const struct config *c, const char *path,
	    const struct route *found, const char *path_info,
	    struct route_pick *out);

/* split.c */

/*
 * The script a FastCGI request names under root (cgigate.conf(5)
 * document_root and script_suffix).  rest is the clean path below the
 * route, "" or "/...": its script part runs up to and including the
 * first segment that ends in one of the n suffixes after a name, or (n
 * 0) to its end; the rest of rest is PATH_INFO.  On success returns 0,
 * with root joined to the script part in fname (len bytes) and the
 * part's length in *script_len.  Otherwise an HTTP status with the
 * reason in *why: 404 when no segment names a script (or the script
 * part ends in "/"), 403 for a dot or hidden segment in it, 414 when
 * fname is too small, 500 when root is not absolute.
 */
int	 split_path(const char *root, const char *rest, char *const *sfx,
	    int n, char *fname, size_t len, size_t *script_len,
	    const char **why);

/* cgienv.c */

struct cgi_header {
	const char	*name;
	const char	*value;
};

struct cgi_request {
	const char	*method;
	const char	*request_uri;	/* as sent, with query */
	const char	*query;		/* NULL or without "?" */
	const char	*script_name;	/* route name */
	const char	*path_info;	/* "" or "/..." decoded */
	const char	*script_filename;
	const char	*document_root;
	const char	*server_name;
	int		 server_port;
	const char	*server_protocol;	/* "HTTP/1.1" */
	const char	*remote_addr;
	int		 remote_port;
	const char	*remote_user;
	const char	*auth_type;
	int		 https;
	long long	 content_length;	/* -1: none */
	const char	*content_type;
	const struct cgi_header *headers;
	int		 nheaders;
	const char	*path_env;
	char *const	*extra_env;	/* "NAME=value"; replace built-ins */
	int		 nextra;
};

/*
 * Build the RFC 3875 environment from scratch.  Returns a NULL-terminated
 * array that is one allocation (free() it), or NULL on ENOMEM.
 */
char	**cgienv_build(const struct cgi_request *r);
/* Map a request header name to its meta-variable, NULL when dropped. */
int	 cgienv_header_var(const char *name, char *out, size_t len);

/* cgiresp.c */

#define CGIRESP_MAX_HEADER	16384
#define CGIRESP_MAX_FIELDS	64

enum cgiresp_state { CGIRESP_MORE, CGIRESP_DONE, CGIRESP_ERROR };

struct cgiresp {
	char		 buf[CGIRESP_MAX_HEADER];
	size_t		 len;
	size_t		 body_off;	/* first body byte in buf, when DONE */
	int		 status;
	char		 reason[64];
	const char	*location;
	long long	 content_length;	/* -1: not given */
	struct cgi_header fields[CGIRESP_MAX_FIELDS];	/* all but Status */
	int		 nfields;
	const char	*error;
};

void	 cgiresp_init(struct cgiresp *p);
/*
 * Feed handler output.  Returns CGIRESP_MORE while the header block is
 * incomplete, CGIRESP_DONE once it is parsed (buf[body_off..len) is body
 * that came with it), CGIRESP_ERROR with p->error set for output that must
 * not be forwarded.  *used is how much of data was consumed.
 */
enum cgiresp_state cgiresp_feed(struct cgiresp *p, const char *data,
	    size_t n, size_t *used);
/* Output ended before the header block did: always CGIRESP_ERROR. */
enum cgiresp_state cgiresp_eof(struct cgiresp *p);
/* Status for a response without Status: 302 for an absolute Location. */
const char *cgiresp_header(const struct cgiresp *p, const char *name);

/* reqhead.c */

/* What the framing fields of an accepted request head say. */
struct reqhead_info {
	long long	 content_length;	/* -1: none, or chunked */
	int		 chunked;
	int		 expect_continue;	/* HTTP/1.1, Expect: 100-continue */
	const char	*why;		/* when refused: a static string */
};

/* Where the fields handed to reqhead_vet stopped. */
enum reqhead_end {
	REQHEAD_WHOLE,	/* at the end of the head */
	REQHEAD_CUT,	/* at a line that is no field (obs-fold, no name) */
	REQHEAD_FULL	/* at the parser's limit, more to come */
};

/*
 * Hold a request head's fields to RFC 9112's framing rules before the
 * request goes anywhere.  version is "1.0" or "1.1"; spaced, when not
 * NULL, flags fields that had white space before their colon; end says
 * whether f is the whole head.  Returns 0 with *out filled in, or the
 * status to refuse it with (400, 417, 431, 501) and out->why; a refused
 * request's connection must be closed.
 */
int	 reqhead_vet(const char *version, const struct cgi_header *f,
	    int nf, const unsigned char *spaced, enum reqhead_end end,
	    struct reqhead_info *out);

/* The request line of a head split by reqhead_split. */
struct reqline {
	const char	*method;
	const char	*target;	/* as sent */
	const char	*version;	/* after "HTTP/": "1.1" */
};

/*
 * Split the request head in buf (len bytes, through its blank line) in
 * place: the request line, and up to maxf fields with their values
 * trimmed; spaced[i] says field i had white space before its colon.
 * *end says where the fields stopped, as reqhead_vet wants it.  Returns
 * 0, or 400 for a request line that is not "METHOD SP TARGET SP
 * HTTP/D.D", a NUL or a bare CR.
 */
int	 reqhead_split(char *buf, size_t len, struct reqline *rl,
	    struct cgi_header *f, int maxf, int *nf, unsigned char *spaced,
	    enum reqhead_end *end);

/* framing.c */

enum framing_kind { FRAMING_NONE, FRAMING_SIZED, FRAMING_CHUNKED, FRAMING_CLOSE };

/* Where one message body ends, fed as it streams past (RFC 9112 6, 7.1). */
struct framing {
	enum framing_kind kind;
	int		 state;		/* private to framing.c */
	long long	 left;		/* SIZED: body bytes to come; CHUNKED: of this chunk */
	unsigned	 linelen;	/* private: bytes of the current size/trailer line */
	int		 digits;	/* private */
	long long	 total;		/* body bytes seen so far, framing included */
	long long	 data;		/* of them, content: chunk framing left out */
	int		 done;		/* the body has ended */
	const char	*error;		/* malformed chunked framing: a static string */
};

void	 framing_init(struct framing *f, enum framing_kind kind,
	    long long length);
/*
 * n bytes that follow what came before: returns how many of them belong
 * to the body (fewer than n only once it ended, or at an error: then
 * f->done or f->error is set). NONE is done at once (returns 0); CLOSE
 * takes everything and never ends.
 */
size_t	 framing_feed(struct framing *f, const char *data, size_t n);

/* What a response head says about the body behind it. */
struct framing_resp {
	int		 status;	/* 100..999 */
	int		 minor;		/* HTTP/1.minor */
	int		 close;		/* the connection ends with this response */
	enum framing_kind kind;
	long long	 length;	/* SIZED */
};

/*
 * Parse a response head at the start of buf: returns its length (through
 * the blank line) with *out set; 0 while it is incomplete (more bytes
 * needed; a head longer than max is -1); -1 when it is malformed.
 * head_request: the request was HEAD, so no body follows whatever the
 * fields say.
 */
long	 framing_response(const char *buf, size_t len, size_t max,
	    int head_request, struct framing_resp *out);

/* httpout.c */

/*
 * An HTTP/1.x response as it is written: the head's framing decided
 * from the status, the request and what the handler declared, the body
 * sized, chunked or ended by the close.  Pure: the bytes go to write,
 * which returns 0, or -1 when the client is gone.
 */
struct httpout {
	int		(*write)(void *arg, const char *buf, size_t n);
	void		*arg;
	int		 minor;		/* the request's HTTP/1.minor */
	int		 head_req;	/* a HEAD request: no body */
	int		 keep_alive;	/* in: the client's wish; out: ours */
	int		 status;	/* the head's, 0: none sent */
	int		 chunked;
	int		 sized;		/* a Content-Length frames the body */
	long long	 left;		/* bytes it still owes, when sized */
	int		 gone;		/* write failed: the client is gone */
	int		 raw;		/* nph: the handler wrote it all */
	long long	 body_bytes;	/* written, without chunk framing */
	const char	*note;		/* an anomaly to log, set once each */
};

void	 httpout_init(struct httpout *o, int minor, int head_req,
	    int keep_alive, int (*write)(void *, const char *, size_t),
	    void *arg);
/* The reason phrase of status ("Not Found"); "" for an unknown one. */
const char *httpout_reason(int status);
/*
 * The status line, Date (date, preformatted), the fields, extra (whole
 * CRLF-ended lines, or NULL), then Content-Length when length >= 0 (not
 * for 1xx or 204), else chunked (HTTP/1.1) or the close ends it;
 * Connection.  reason NULL or "": the standard phrase.  0 or -1.
 */
int	 httpout_head(struct httpout *o, int status, const char *reason,
	    const struct cgi_header *f, int nf, const char *extra,
	    long long length, const char *date);
/*
 * Body bytes, chunked if so decided, none for HEAD, 1xx, 204 or 304;
 * bytes past a Content-Length are dropped (o->note says so).  0 or -1.
 */
int	 httpout_body(struct httpout *o, const char *buf, size_t n);
/* Bytes as they are (an nph- handler's): the connection then closes. */
int	 httpout_raw(struct httpout *o, const char *buf, size_t n);
/*
 * The body is over: the last chunk, unless truncated or the body came
 * short of its Content-Length (o->note), which ends the connection
 * instead.  Returns 1 when the answer was cut short, else 0.
 */
int	 httpout_end(struct httpout *o, int truncated);

/* relay.c */

/*
 * Where a relay puts a handler's answer: the HTTP writer behind it.
 * head and body return 0, or -1 when the client is gone; errline gets
 * each stderr line (n bytes, no newline) until the cap, then once a
 * NULL line when the rest is dropped.
 */
struct relay_sink {
	int	(*head)(void *arg, const struct cgiresp *p);
	int	(*body)(void *arg, const char *buf, size_t n);
	int	(*raw)(void *arg, const char *buf, size_t n);
	void	(*errline)(void *arg, const char *line, size_t n);
	void	*arg;
};

enum relay_phase {
	RELAY_HEAD,		/* reading the CGI header block */
	RELAY_BODY,		/* the head went out; body bytes follow */
	RELAY_REDIRECT,		/* a local Location: the body is dropped */
	RELAY_RAW		/* nph-: everything goes out as it is */
};

/*
 * A handler's output (stdout and stderr) turned into an HTTP answer,
 * whichever transport carries it: the CGI header block parsed (cgiresp.c)
 * and handed to the sink, the body after it, an nph- handler's bytes
 * untouched, stderr cut into lines up to a cap.  No I/O of its own.
 */
struct relay {
	const struct relay_sink *sink;
	struct cgiresp	*p;		/* the caller's, initialised */
	enum relay_phase phase;
	int		 redirect_ok;	/* a local Location may redirect */
	int		 nph_status;	/* an nph- status line's code, or 0;
					   final once relay_end ran */
	char		 nphline[16];
	size_t		 nphlen;
	char		 errbuf[4096];
	size_t		 errlen;
	long long	 errlogged, errcap;
	const char	*fail;		/* output that must not go out */
};

void	 relay_init(struct relay *r, const struct relay_sink *s,
	    struct cgiresp *p, int nph, int redirect_ok, long long errcap);
/*
 * Handler output; 0, or -1: r->fail set for output that cannot be
 * forwarded (502), else the sink failed (the client is gone).
 */
int	 relay_out(struct relay *r, const char *buf, size_t n);
/* Handler stderr, and its end (a last line without a newline). */
void	 relay_err(struct relay *r, const char *buf, size_t n);
void	 relay_err_end(struct relay *r);
/*
 * The output ended: RELAY_BODY (or RAW) when an answer went out,
 * RELAY_REDIRECT with the target in r->p->location, or RELAY_HEAD when
 * no header block came, or no byte from an nph- handler (r->fail says
 * why).
 */
enum relay_phase relay_end(struct relay *r);

/* fcgirec.c */

enum fcgirec_pstate {
	FCGIREC_PS_HEADER, FCGIREC_PS_CONTENT, FCGIREC_PS_PADDING, FCGIREC_PS_DONE,
	FCGIREC_PS_ERROR
};

enum fcgirec_event {
	FCGIREC_EV_MORE,		/* all input used, nothing to report */
	FCGIREC_EV_STDOUT,		/* *chunk holds response bytes */
	FCGIREC_EV_STDERR,		/* *chunk holds stderr bytes */
	FCGIREC_EV_END,		/* END_REQUEST: app_status, proto_status */
	FCGIREC_EV_ERROR		/* malformed; error says why */
};

/* Reads what an application sends back for one request id. */
struct fcgirec_parser {
	unsigned	 id;
	enum fcgirec_pstate state;
	unsigned char	 hdr[8];
	size_t		 hlen;
	int		 type;
	int		 skip;		/* content of no interest */
	size_t		 left;		/* content bytes still to come */
	size_t		 pad_left;
	unsigned char	 end[8];	/* END_REQUEST body */
	size_t		 endlen;
	unsigned	 app_status;
	int		 proto_status;
	const char	*error;
};

/* Padding that rounds clen up to a multiple of 8. */
size_t	 fcgirec_pad(size_t clen);
/* Write the 8-byte header of a record with clen content bytes (<= 65535). */
void	 fcgirec_header(unsigned char out[8], int type, unsigned id,
	    size_t clen);
/* The 16 bytes of a BEGIN_REQUEST for the RESPONDER role. */
void	 fcgirec_begin(unsigned char out[16], unsigned id,
	    int keep_conn);
void	 fcgirec_abort(unsigned char out[8], unsigned id);
/* Size and encoding of one name-value pair (FastCGI spec 3.4). */
size_t	 fcgirec_nv_size(size_t nlen, size_t vlen);
size_t	 fcgirec_nv_put(unsigned char *out, const char *name, size_t nlen,
	    const char *value, size_t vlen);
/*
 * Encode a NULL-terminated "NAME=value" array as PARAMS records, closed by
 * an empty PARAMS record.  Returns one malloc'd buffer (*len bytes) that
 * the caller frees, or NULL on ENOMEM.
 */
unsigned char *fcgirec_params(unsigned id, char *const *env,
	    size_t *len);
/*
 * Frame len bytes of a stream (STDIN, ...) as records of at most 65,535
 * bytes each, padded; len 0 gives the empty record that ends a stream.
 * out needs fcgirec_stream_size(len) bytes.  Returns the bytes written.
 */
size_t	 fcgirec_stream_size(size_t len);
size_t	 fcgirec_stream(unsigned char *out, int type, unsigned id,
	    const void *data, size_t len);
/*
 * An FCGI_GET_VALUES record (request id 0) asking for names, a NULL-
 * terminated list of names under 128 bytes (FastCGI spec 4.1), into out
 * of len bytes.  Returns its length, or 0 when it does not fit.
 */
size_t	 fcgirec_get_values(unsigned char *out, size_t len,
	    const char *const *names);
/* What an application says of itself; -1 for a value not given. */
struct fcgirec_values {
	long	 max_conns;	/* FCGI_MAX_CONNS */
	long	 max_reqs;	/* FCGI_MAX_REQS */
	long	 mpxs_conns;	/* FCGI_MPXS_CONNS */
};
/*
 * The answer to FCGI_GET_VALUES at the start of data: 1 when a whole
 * FCGI_GET_VALUES_RESULT is there (its values in *v), or FCGI_UNKNOWN_TYPE
 * from an application that knows no such request (spec 4.2; *v all -1);
 * 0 when more bytes are needed; -1 when the bytes are anything else, with
 * *why saying what.  Bytes behind the record are not looked at.
 */
int	 fcgirec_values(const unsigned char *data, size_t len,
	    struct fcgirec_values *v, const char **why);
void	 fcgirec_parser_init(struct fcgirec_parser *p, unsigned id);
/*
 * Consume application bytes.  Stops at the first event: *used says how
 * much of data was consumed; for STDOUT and STDERR, *chunk points into
 * data.  Call again with the rest.  After FCGIREC_EV_ERROR the connection
 * is unusable.
 */
enum fcgirec_event fcgirec_parse(struct fcgirec_parser *p, const unsigned char *data,
	    size_t len, size_t *used, const unsigned char **chunk,
	    size_t *chunklen);

/* backoff.c */

/*
 * min doubled once per failure (min for none), at most max; no overflow
 * for any count.
 */
uint64_t backoff_us(uint64_t min, uint64_t max, unsigned failures);

/* jsonq.c */

/*
 * The UTF-8 sequence at s (n > 0 bytes): its length (1 to 4) when it is
 * one well-formed character, else minus the length of its ill-formed
 * part (1 to 3), which stands for one U+FFFD.
 */
int	 utf8_next(const unsigned char *s, size_t n);
/* 1 when s is well-formed UTF-8 throughout, else 0. */
int	 utf8_valid(const char *s);
/*
 * s quoted as a JSON string, or as a Prometheus label value; ill-formed
 * UTF-8 becomes U+FFFD in both.
 */
void	 jsonq_string(FILE *f, const char *s);
void	 jsonq_label(FILE *f, const char *s);
/* n bytes of s as they are, but ill-formed UTF-8 as U+FFFD. */
void	 jsonq_utf8(FILE *f, const char *s, size_t n);

/* proxyproto.c */

#define PROXY_V2_MAX	4096	/* the longest version 2 header taken */

/* Who a PROXY protocol header says the client is. */
struct proxy_src {
	int		 family;	/* AF_INET, AF_INET6, or AF_UNSPEC:
					   the connection's own address */
	char		 addr[46];	/* INET6_ADDRSTRLEN */
	int		 port;
};

/*
 * Parse a PROXY protocol header (version 1 or 2) at the start of
 * buf[0..len).  Its length (> 0) when whole, 0 when what is there may
 * still become one, -1 (why set) when it cannot.
 */
int	 proxy_parse(const char *buf, size_t len, struct proxy_src *src,
	    const char **why);

/* alogfmt.c */

/* The longest line alog_format writes, its '\n' included. */
#define ALOG_LINE_MAX	8192

/* One request, as the access log tells it; NULL fields are absent. */
struct alog_line {
	const char	*addr;		/* the client's address */
	time_t		 when;		/* the request's start, UTC */
	const char	*method;	/* NULL: no request line ("-") */
	const char	*target;	/* as sent, without its query */
	const char	*query;		/* after '?', or NULL: no '?' */
	const char	*proto;		/* "HTTP/1.1", or NULL */
	int		 status;
	long long	 bytes;		/* body bytes; 0 or less: "-" */
	const char	*referer, *agent;
};

/*
 * The combined log format line of l into buf (ALOG_LINE_MAX bytes at
 * least), '\n'-ended, every field escaped (alogfmt.c); its length.
 */
size_t	 alog_format(char *buf, const struct alog_line *l);
/* The same, *at set to where the byte count (or its "-") starts. */
size_t	 alog_format_at(char *buf, const struct alog_line *l, size_t *at);

/* accesslog.c */

/*
 * Open path for appending as the access log (NULL or "off": none),
 * replacing the one open.  0, or -1 with errno (the old one stays).
 */
int	 alog_open(const char *path);
/* Reopen the same path (after a rotation): 0, 1 with none set, or -1. */
int	 alog_reopen(void);
/* The path open now, or NULL (the main thread's call). */
const char *alog_path(void);
/* Is a log open?  A hint, for skipping the work of a line. */
int	 alog_enabled(void);
/* Make the log file owned by uid:gid (started as root). */
int	 alog_chown(uid_t uid, gid_t gid);
/* Write l's line, in one write(2), when a log is open. */
void	 alog_write(const struct alog_line *l);
/* Write a line made by alog_format, n bytes, when a log is open. */
void	 alog_write_line(const char *line, size_t n);
void	 alog_close(void);

/* log.c */

/*
 * Levels, most severe first (syslog's order): a line is written when its
 * level is at or above the one set (log_level in cgigate.conf(5)).
 */
enum log_level { LL_ERROR, LL_WARN, LL_NOTICE, LL_INFO, LL_DEBUG };
/* Every line cgigate wrote before there were levels is info or above. */
#define LOG_LEVEL_DEFAULT	LL_INFO

void	 log_init(void);
/* "error", "warn", "notice", "info", "debug"; "?" for another number. */
const char *log_level_name(int level);
/* Write lines at level and above from now on (any thread). */
void	 log_set_level(int level);
int	 log_get_level(void);
/* Would a line at level be written?  For work done only to log. */
int	 log_on(int level);
/* Start-up is over: warnings and errors stop going to stderr as well. */
void	 log_started(void);
/*
 * Open path for appending as the log file (O_APPEND, 0640), without
 * using it yet: a descriptor, or -1 with errno.
 */
int	 log_file_open(const char *path);
/*
 * Log to fd, from log_file_open (taken, even on failure), which is path;
 * fd -1: to stderr.  The descriptor writers use is replaced in one step
 * (dup3).  0, or -1 with errno (the log stays where it was).  The main
 * thread's, like the four below.
 */
int	 log_use(int fd, const char *path);
/* log_file_open and log_use; NULL or "stderr": stderr. */
int	 log_open(const char *path);
/* Reopen the file at its path (after a rotation): 0, 1 on stderr, -1. */
int	 log_reopen(void);
/* The file written now, or NULL for stderr. */
const char *log_path(void);
/* Make the log file owned by uid:gid (started as root); 0 on stderr. */
int	 log_chown(uid_t uid, gid_t gid);
/* The level of the line for an answer with status: 5xx warn, else info. */
int	 log_status_level(int status);
/*
 * One line at a level, "TIME [reqid] level: text" (reqid NULL: "-"),
 * formatted only when the level is on, in one write(2).
 */
void	 log_at(int level, const char *reqid, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	 log_err(const char *reqid, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 log_warn(const char *reqid, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 log_notice(const char *reqid, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 log_info(const char *reqid, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 log_debug(const char *reqid, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* clk.c */

uint64_t clk_now_us(void);		/* CLOCK_MONOTONIC */
double	 clk_wall(void);	/* epoch seconds */
/* Initialise c so that its timed waits run on clk_now_us()'s clock. */
void	 clk_cond_init(pthread_cond_t *c);
/* The timespec of us, a clk_now_us() time, for a timed wait on such a c. */
struct timespec clk_ts(uint64_t us);

/* waitq.c */

/*
 * One thread's place in a waitq, for one wait at a time.  Callers read
 * item (and handed, under their lock); the rest is the queue's.  Embed
 * it first in a larger struct to hand over more than the item.
 */
struct waitq_waiter {
	sem_t			 sem;		/* posted once per turn */
	atomic_int		 handed;	/* item is set; publishes it */
	void			*item;
	int			 queued, posted;
	struct waitq_waiter	*next;
};

/* A FIFO of waiters, zeroed to begin; the caller's mutex guards it. */
struct waitq {
	struct waitq_waiter	*head, *tail;
	atomic_int		 n;		/* queued */
};

/* Queue w at the tail: its turn begins.  Lock held. */
void	 waitq_add(struct waitq *q, struct waitq_waiter *w);
/* The first waiter, NULL when none.  Lock held. */
struct waitq_waiter *waitq_first(const struct waitq *q);
/*
 * Hand item to the first waiter, which leaves the queue and wakes (NULL:
 * it is sent away empty-handed, as in a drain).  0 when nobody waits.
 * Lock held.
 */
int	 waitq_hand(struct waitq *q, void *item);
/* Wake every waiter to look again; they stay queued.  Lock held. */
void	 waitq_wake_all(struct waitq *q);
/*
 * Sleep until w is handed something or woken, or until deadline (a
 * clk_now_us() time).  Lock not held.  1: handed w->item, the turn is
 * over; 0: take the lock and end the turn with waitq_leave.
 */
int	 waitq_wait(struct waitq_waiter *w, uint64_t deadline);
/*
 * End w's turn: out of the queue if still in it.  1 when it was handed
 * w->item meanwhile.  Lock held.
 */
int	 waitq_leave(struct waitq *q, struct waitq_waiter *w);
/* How many are queued; any time, also without the lock. */
int	 waitq_count(const struct waitq *q);

/* notify.c */

/* A "KEY=value\n..." message for the service manager, if it listens. */
void	 notify(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/* timing.c */

/*
 * Who sent a request, in its timing row: the client's address (through
 * trusted proxies), Host, the query string, User-Agent and Referer.
 */
enum who { WHO_CLIENT, WHO_HOST, WHO_QUERY, WHO_AGENT, WHO_REFERER, WHO_N };

/* The area of struct timing that holds the five, their NULs included. */
#define TIMING_WHO_MAX		1024

struct timing;	/* timelog.c's */

/*
 * Copy v[WHO_N] (each NULL when absent) into t's area, each cut to its
 * cap and all to TIMING_WHO_MAX as timing.c says.  t's other fields
 * are left as they are.
 */
void	 timing_set_who(struct timing *t, const char *const v[WHO_N]);
/*
 * Value k of t, NUL-terminated and *len bytes long, or NULL when it was
 * absent.  It lives in t.
 */
const char *timing_who(const struct timing *t, enum who k, size_t *len);
/* The bytes of t that hold something: its fields and the values packed. */
size_t	 timing_size(const struct timing *t);

/* timelog.c */

struct timing {
	double		 ts;
	char		 request_id[24];
	char		 route[ROUTE_NAME_MAX];
	char		 mode[8];
	char		 method[16];
	char		 path[512];
	int		 status;
	long long	 bytes_in;
	long long	 bytes_out;
	long long	 queue_us;
	long long	 spawn_us;
	long long	 ttfb_us;
	long long	 total_us;
	int		 pid;
	int		 exit_status;	/* -1: none */
	int		 signal;
	long long	 user_cpu_us;
	long long	 sys_cpu_us;
	long long	 max_rss_kb;	/* CGI: -1 unknown (spawn_rss_kb) */
	long long	 connect_us;	/* FastCGI: -1 none, 0 reused */
	long long	 worker_requests;	/* FastCGI: this worker's count */
	char		 error[64];
	/* who sent it: timing_set_who and timing_who only, last */
	unsigned char	 who_set;	/* bit k: value k is present */
	unsigned short	 who_len[WHO_N];
	char		 who[TIMING_WHO_MAX];
};

/*
 * Open (creating) the database and its schema, start the writer and
 * checkpointer threads; rows an earlier run left in the spool are
 * written first.  wal_max bounds the WAL (timings_wal_max).  Returns 0,
 * or -1 with the reason logged.
 */
int	 timelog_open(const char *path, int queue_len, int64_t max_age_us,
	    long long max_rows, long long wal_max);
/* Copy t into the queue; never blocks on disk.  Counts a drop when full. */
void	 timelog_push(const struct timing *t);
void	 timelog_event(const char *kind, int pid, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/*
 * Rows lost since start: dropped by a full queue, or in a write that
 * failed (disk full, I/O error) or went to a file deleted meanwhile.
 */
unsigned long long timelog_dropped(void);
/* Rows waiting for the writer now. */
size_t	 timelog_depth(void);
/*
 * Rows (requests and events) waiting in the spool while a reader holds
 * the WAL; with total, every row spooled since the start.
 */
unsigned long long timelog_spooled(int total);
/* The dashboard's JSON for the last window_s seconds; 0 or -1. */
int	 timelog_dashboard(FILE *f, int window_s);
/*
 * The JSON of one route (the rows whose route is exactly name, any
 * bytes) for the last window_s seconds: its own series, status codes and
 * slowest requests.  A route without rows gives zeros and empty lists.
 * 0 or -1.
 */
int	 timelog_route(FILE *f, const char *name, int window_s);
/* New retention limits and bound of the WAL (SIGHUP). */
void	 timelog_retention(int64_t max_age_us, long long max_rows,
	    long long wal_max);
/* Write every queued record, stop the writer, close the database. */
void	 timelog_close(void);
/* The directory timelog_open created for the database, or NULL. */
const char *timelog_made_dir(void);

/* spawn.c */

struct spawn_req {
	const char	*path;		/* absolute */
	char *const	*argv;
	char *const	*envp;
	const char	*cwd;
	const rlim_t	*rlim;		/* RL_COUNT entries, or NULL */
	const int	*stdio;		/* 3 fds to give as 0, 1, 2 (-1: a
					   pipe), or NULL: three pipes */
	int		 pdeathsig;	/* signal when the spawning thread
					   dies, or 0 */
	int		 kill_rest;	/* once the leader has exited, SIGKILL
					   its group before reaping it */
};

struct child {
	pid_t		 pid;
	int		 pidfd;		/* -1 once released */
	int		 in, out, err;	/* parent's ends, non-blocking */
	int		 done;		/* exited: status and ru are set */
	int		 held;		/* exited, not reaped: the keeper
					   has not been told yet */
	int		 kill_rest;	/* from spawn_req */
	int		 status;	/* wait(2) status */
	struct rusage	 ru;
};

/*
 * Become a child subreaper and raise the descriptor limit to its hard
 * limit (logged); children get the limit cgigate started with.  0 or -1.
 */
int	 spawn_init(void);
/* Main thread only, every 100 ms: reap orphans and released children. */
void	 spawn_tick(void);
void	 spawn_shutdown(void);
/*
 * Spawn with a vfork-class clone: pipes on 0/1/2, every other descriptor
 * closed, its own process group, cwd and rlimits applied.  c->pidfd
 * becomes readable when it exits.  Returns 0, or -1 with errno set (exec
 * failures included).
 */
int	 spawn_child(const struct spawn_req *r, struct child *c);
/*
 * Reap c if it has exited (status and rusage in c): 1, else 0.  No wait.
 * Reaping comes after the keeper is told (keeper_forget); while it cannot
 * be, c stays a zombie (held) and a later call, spawn_release or
 * spawn_tick reaps it.
 */
int	 spawn_reap(struct child *c);
/* Wait until c is reaped or deadline (clk_now_us() clock) passes: 0 or -1. */
int	 spawn_wait(struct child *c, uint64_t deadline);
/* Close c's descriptors; one not yet reaped goes to spawn_tick. */
void	 spawn_release(struct child *c);
/*
 * SIGTERM to c's whole process group, then SIGKILL to what is left of it
 * when the leader is reaped, or after grace_us if it is not.  c must not
 * be reaped yet.
 */
void	 spawn_kill_group(struct child *c, uint64_t grace_us);
/*
 * The peak RSS in KB of reaped child c (its own, or a child's it waited
 * for), or -1 when unknown: its rusage figure may be cgigate's own peak,
 * which the kernel counts into it at exec (spawn.c says why).
 */
long long spawn_rss_kb(const struct child *c);
int	 spawn_zombies(void);	/* reaped orphans, for the log */

/* keeper.c */

struct passwd;
/*
 * Before any thread exists: fork the keeper, which SIGKILLs every process
 * group still recorded once cgigate has exited, whatever the cause.  As
 * root with pw, the keeper runs as pw.  0, or -1 (logged).
 */
int	 keeper_start(const struct passwd *pw);
/*
 * Record process group pgid (the caller's own, once it leads it).
 * Async-signal-safe, for the spawned child before exec.  0, or -1 when
 * the pipe was full (counted; that group is not covered).
 */
int	 keeper_add(pid_t pgid);
/*
 * Forget group pgid; call after its leader exited and BEFORE reaping it,
 * so that its id cannot be reused while the keeper still has it.  0 (also
 * with no keeper), or -1 when the pipe is full: do not reap yet.
 */
int	 keeper_forget(pid_t pgid);
/* Graceful stop, after the handlers are ended: close the pipe, reap it. */
void	 keeper_stop(void);

/* admit.c */

struct admit;
/*
 * Take a slot of route's concurrency limit, waiting up to wait_us.
 * Returns the slot, or NULL when none came free in time (or draining).
 */
struct admit *admit_enter(const char *route, int limit, int64_t wait_us);
void	 admit_leave(struct admit *a);
void	 admit_drain(void);
/* Requests waiting for a slot of route now. */
int	 admit_waiting(const char *route);
void	 admit_thread_exit(void);

/* scan.c */

/* Scan the handlers directory now and start the rescan thread.  0 or -1. */
int	 scan_start(const char *dir);
void	 scan_stop(void);
/* Rescan now rather than at the next tick. */
void	 scan_kick(void);
/*
 * Find the route for a clean path and copy it out.  Returns 0 when found,
 * with *path_info pointing into path, -1 otherwise.
 */
int	 scan_lookup(const char *path, struct route *out, char *name,
	    char *file, const char **path_info);
/* Call fn for every route, under the table's read lock. */
void	 scan_each(void (*fn)(const struct route *r, void *arg), void *arg);
/*
 * May relpath (from a route) run?  Writes its real path to abs (PATH_MAX).
 * Returns 0, or 403/404 with the reason in *why.
 */
int	 scan_resolve(const char *relpath, char *abs, const char **why);
/* Print problems found in dir to stderr; returns the number of errors. */
int	 scan_check(const char *dir, const struct config *c);

/* bufpool.c */

#define HTTP_OUTBUF	65536	/* http.c gathers output in this much */
#define CGI_IOBUF	65536	/* cgi.c reads a handler's stdout in this */

/* What a request borrows; each kind has one size. */
enum bufkind {
	BUF_HTTP_OUT,		/* HTTP_OUTBUF bytes */
	BUF_HTTP_CTX,		/* http.c's request, http_ctx_size */
	BUF_CGI_PUMP,		/* cgi.c's struct pump, cgi_pump_size */
	BUF_CGIRESP,		/* struct cgiresp */
	BUF_CGI_IO,		/* CGI_IOBUF bytes */
	BUF_FCGI_JOB,		/* fastcgi.c's struct fjob, fastcgi_job_size */
	BUF_RELAY,		/* struct relay */
	BUF_LATE_ROW,		/* struct late_row */
	BUF_NKINDS
};

/*
 * An object of kind k for the request in hand, not cleared; NULL on
 * ENOMEM.  Give it back with bufpool_put before the request ends: a few
 * of each kind are kept for the next requests, the rest freed.
 */
void	*bufpool_get(enum bufkind k);
/* Give p back (NULL: nothing). */
void	 bufpool_put(enum bufkind k, void *p);
/* The kind's name for the metrics: "http_out". */
const char *bufpool_name(enum bufkind k);
/* How many objects of kind k are lent now, and how many kept spare. */
void	 bufpool_count(enum bufkind k, int *in_use, int *spare);

/* pool.c */

struct pool;
struct endpoint;

enum pool_end {
	POOL_KEEP,	/* request complete; the connection may be reused */
	POOL_CLOSE,	/* close the connection; the endpoint is fine */
	POOL_FAIL,	/* the endpoint failed: replace or eject it */
	POOL_KILL	/* kill the worker (timeout, abandoned request) */
};

/*
 * A request that has waited on a remote backend this long with nothing
 * from it, while nothing came from it on any other connection either,
 * has it probed (pool_quiet).
 */
#define POOL_QUIET_US	1000000

/* A connection lent to one request by pool_acquire. */
struct pool_conn {
	struct endpoint	*ep;
	int		 fd;		/* non-blocking */
	int		 reused;	/* kept from an earlier request */
	long long	 connect_us;	/* 0 when reused */
	pid_t		 pid;		/* local worker, 0 for a backend */
	unsigned long	 nreq;		/* requests given to this endpoint */
};

/*
 * A reloaded configuration: pools take their new settings (a remote
 * pool's backends stay until restart); nothing of c is kept.
 */
void	 pool_set_config(const struct config *c);
/*
 * The pool of a route: a local one for program path, or (path NULL) the
 * route's remote backends.  Created on first use; NULL on ENOMEM.
 */
struct pool *pool_get(const char *route, const char *path,
	    const struct route_conf *rc);
/*
 * Borrow a connection to a free endpoint, waiting until deadline: a kept
 * one only if nothing (no byte, no EOF) arrived on it while it was idle,
 * else a new one.  Not avoid (NULL for any), unless no other is free
 * when the request's turn comes.  Returns 0, or 503 with the reason in
 * *why.
 */
int	 pool_acquire(struct pool *p, uint64_t deadline,
	    const struct endpoint *avoid, struct pool_conn *pc,
	    const char **why);
/* Give pc back; why is logged for POOL_FAIL and POOL_KILL. */
void	 pool_release(struct pool_conn *pc, enum pool_end how,
	    const char *why);
/*
 * Write all of buf to a non-blocking socket by deadline.  0, or -1 with
 * errno (ETIMEDOUT for the deadline); *sent says how many bytes the
 * kernel took either way.
 */
int	 pool_write_all(int fd, const void *buf, size_t len,
	    uint64_t deadline, size_t *sent);

/*
 * Bytes came from pc's backend at now: it is alive.  For every read; a
 * local worker's are not noted.
 */
void	 pool_heard(const struct pool_conn *pc, uint64_t now);
/*
 * pc's request has waited on its remote backend since since, with
 * nothing from it.  From POOL_QUIET_US on, with nothing from the backend
 * on any connection for as long, the manager is asked to probe it.
 * Returns 1 when the backend has been ejected for not answering (a
 * request that may be sent again may go elsewhere), else 0.
 */
int	 pool_quiet(const struct pool_conn *pc, uint64_t since, uint64_t now);
/* The name of pc's worker or backend, for the log; pc must be lent. */
const char *pool_conn_name(const struct pool_conn *pc);
/* Requests waiting for a worker of route's pools now. */
int	 pool_waiting(const char *route);
/*
 * The pools and their workers as a JSON array, and as Prometheus gauges;
 * quote writes a string escaped and quoted.
 */
void	 pool_report(FILE *f, void (*quote)(FILE *, const char *));
void	 pool_metrics(FILE *f, void (*quote)(FILE *, const char *));

/* poolmgr.c */

/*
 * Start the manager thread; each of its passes holds the current
 * configuration (cfgref.c).  0 or -1.
 */
int	 pool_start(const struct config *c);
/* After the HTTP side has drained: SIGTERM workers, wait, reap. */
void	 pool_stop(void);

/* procstat.c */

/* The process's gauges and cgigate_build_info, as Prometheus text. */
void	 procstat_metrics(FILE *f, double started);

/* stats.c */

enum stat_counter { STAT_SPAWNS, STAT_KILLS, STAT_NCOUNTERS };

void	 stats_init(void);
void	 stats_count(enum stat_counter c);
/* A request for route and mode starts: returns a handle for stats_leave. */
int	 stats_enter(const char *route, const char *mode);
/* Count a finished request; entered: stats_enter's handle, or -1. */
void	 stats_leave(const struct timing *t, int entered);
/* Live state as JSON (/_gateway/status) or Prometheus text (metrics). */
void	 stats_json(FILE *f, const struct config *c);
void	 stats_prometheus(FILE *f, const struct config *c);

/* What a load balancer weighs a node by: use against limits, now. */
struct load {
	int		 connections;	/* client connections open */
	int		 max_connections;
	long long	 in_flight;	/* route requests, queued ones too */
	long long	 capacity;	/* route requests that can run at once */
};

/*
 * Fill l for configuration c: the door's connections, and the requests
 * to routes against the sum of the routes' bounds (max_concurrency of a
 * CGI route, max_workers of a local pool, backends times max_connections
 * of a remote one), at most c->threads.
 */
void	 stats_load(const struct config *c, struct load *l);

/* agentfmt.c */

/* The longest line agent_reply writes, its NUL included. */
#define AGENT_REPLY_MAX		32

/*
 * The share of l's capacity that is free, in percent, 1 to 100: the
 * smaller of free connections and free request slots (capacity 0: not
 * counted), rounded down, never below 1.
 */
int	 agent_free(const struct load *l);
/*
 * The HAProxy agent-check answer into buf (AGENT_REPLY_MAX bytes):
 * "drain\n" while draining, else "up ready N%\n" with N agent_free(l).
 * Returns its length.
 */
size_t	 agent_reply(char *buf, int draining, const struct load *l);

/* agent.c */

/*
 * Listen on c's agent_listen (none: nothing to do), before privileges
 * are dropped.  0, or -1 with the reason logged.
 */
int	 agent_bind(const struct config *c);
/* Answer HAProxy's agent checks from a thread of its own.  0 or -1. */
int	 agent_start(void);
/* Stop the thread, close the socket; any time after agent_bind. */
void	 agent_stop(void);

/* cgi.c and fastcgi.c: the transports (struct exchange is http.c's) */

struct exchange;

/* How a transport's part of a request ended, for http.c to answer. */
enum xend {
	X_DONE,		/* the handler's output ended */
	X_FAIL,		/* no answer from the handler: status and why */
	X_BODY,		/* reading the request body failed (exch_body) */
	X_OUT		/* the answer cannot go on (exch_out) */
};

struct xresult {
	enum xend	 end;
	int		 status;	/* X_FAIL */
	const char	*why;		/* X_FAIL: static text */
	int		 retry_after;	/* X_FAIL: "Retry-After: 1" */
	int		 close;		/* X_FAIL: the connection closes */
	/* what the transport measured, for the timing row */
	long long	 queue_us, spawn_us, connect_us, worker_requests;
	int		 pid;
	int		 exit_status;	/* -1: none */
	int		 signal;
	long long	 user_cpu_us, sys_cpu_us, max_rss_kb;
};

/* End res with X_FAIL: status (503 adds Retry-After) and why (http.c). */
void	 xfail(struct xresult *res, int status, const char *why);

/* One request as a transport sees it; http.c fills it in. */
struct xreq {
	const struct config	*cfg;
	const struct route_conf	*conf;
	const char		*reqid;
	const char		*route;		/* name, for logs and pools */
	const char		*method;
	uint64_t		 start_us;	/* clk_now_us() */
	long long		 body;		/* declared length, -1 chunked */
	struct cgi_request	 cgi;		/* the meta-variables */
	struct exchange		*x;		/* for the exch_ calls */
};

/* What a transport runs: a program (CGI) or a pool (FastCGI). */
struct xtarget {
	const char	*program;	/* CGI: its real path */
	struct pool	*pool;		/* FastCGI */
};

/*
 * The one entry shape: run the request through the target, moving the
 * body in (exch_body) and the handler's output out (exch_out, exch_err),
 * and say in res how it ended.  res comes cleared, exit_status -1.
 */
typedef void transport_fn(const struct xreq *rq, const struct xtarget *tg,
	    struct xresult *res);
transport_fn	 cgi_run;
transport_fn	 fastcgi_run;
/* Their per-request state's size, for bufpool.c. */
extern const size_t cgi_pump_size;
extern const size_t fastcgi_job_size;

/* door.c */

/*
 * Listen on "addr:port" or "[addr6]:port" (numeric); *port gets the real
 * port.  0, or -1 with errno set.
 */
int	 door_listen(const char *addr, int *port);
/*
 * Serve the listeners, giving whole requests to civetweb's internal
 * listener on 127.0.0.1:target, at most c->threads at once.  0 or -1.
 */
int	 door_start(const struct config *c, int target);
/* Who is behind one of the door's internal connections. */
struct door_peer {
	char		 addr[64];	/* the client's address */
	int		 port;		/* its port */
	int		 sport;		/* the port it connected to */
	int		 stalled;	/* its body stalled past body_timeout */
	unsigned long long xseq;	/* the exchange under way on it */
	int		 slot;		/* the door's for it */
};
/*
 * The client behind the internal connection whose local port civetweb
 * sees as the remote port.  0 with *p set, or -1: no connection the
 * door made.
 */
int	 door_peer(int lport, struct door_peer *p);
int	 door_stalled(int lport);
/*
 * A static file's row and access log line, finished by the door.
 * civetweb sends files with sendfile(2) and counts nothing; the door
 * counts what it passes on to the client, and knows when the first and
 * the last byte went.
 */
struct late_row {
	struct timing	 t;		/* total_us: to civetweb's end */
	uint64_t	 end_us;	/* civetweb's end */
	struct late_row	*next;		/* lines that wait to be written */
	size_t		 alen;		/* the access log line, 0: none */
	size_t		 abytes;	/* where in it the byte count is */
	char		 aline[ALOG_LINE_MAX + 24];	/* room for it */
};
/*
 * Hand r (from bufpool, BUF_LATE_ROW) over: its row goes to the timing
 * log and its line to the access log, with the figures of exchange xseq
 * on internal connection lport (the door's slot for it: door_peer's),
 * once the door has ended it; at once, with the figures unknown (NULL),
 * when the door no longer has it.
 */
void	 door_late_row(int slot, int lport, unsigned long long xseq,
	    struct late_row *r);
/* Stop accepting; kept-alive connections between requests close. */
void	 door_drain(void);
/* Connections in the middle of a request. */
int	 door_busy(void);
/* Client connections open now. */
int	 door_connections(void);
void	 door_stop(void);
void	 door_metrics(FILE *f);

/* http.c */

int	 http_start(const struct config *c);
/* A fresh request id ("r123"), as civetweb's requests get. */
void	 http_reqid(char *buf, size_t len);
/*
 * Stop accepting, let requests in flight finish until drain_us from now
 * (then their handlers are killed), and return once civetweb has stopped.
 */
void	 http_stop_drain(int64_t drain_us);
int	 http_draining(void);
/* From now on the health check answers 503 (drain_grace). */
void	 http_fail_health(void);
/* Does the health check answer 200: neither draining nor failed? */
int	 http_healthy(void);
/* 0 while serving; the clk_now_us() by which a drain must be over. */
uint64_t http_drain_deadline(void);
/* Its size, for bufpool.c. */
extern const size_t http_ctx_size;

/* What a transport may ask of the request it runs (http.c). */

enum exch_wait {
	EXCH_WAIT,	/* block until bytes come */
	EXCH_NOWAIT,	/* only what is there: -1 with EAGAIN if none */
	EXCH_READY	/* the same, after poll saw exch_client_fd readable */
};

/*
 * Request body bytes into buf: how many, 0 at its end, -1 when it failed
 * (the request ends X_BODY) or, not waiting, with errno EAGAIN.
 */
ssize_t	 exch_body(struct exchange *x, char *buf, size_t len,
	    enum exch_wait w);
/* The handler's output; 0, or -1: stop, the request ends X_OUT. */
int	 exch_out(struct exchange *x, const char *buf, size_t n);
void	 exch_err(struct exchange *x, const char *buf, size_t n);
/* Send what is gathered, before the transport waits; 0 or -1 (X_OUT). */
int	 exch_flush(struct exchange *x);
/* Has an answer begun (its head sent or being sent)?  1 or 0. */
int	 exch_answered(struct exchange *x);
/* The client's socket to poll for body bytes, or -1. */
int	 exch_client_fd(struct exchange *x);
/* Has the client gone away?  1 or 0. */
int	 exch_client_closed(struct exchange *x);

#endif
