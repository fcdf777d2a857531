/*
 * main.c: options, start-up, signals and the graceful stop.
 *
 * Start-up is the only place that exits on error.  The order: built-in
 * defaults, then the config file, then command-line options on top;
 * then the keeper (a process forked before any thread, keeper.c), the
 * timing log, the subreaper, the handler scan, and civetweb last, so
 * nothing is served before everything behind it is ready; HAProxy's
 * agent check (agent.c) is bound with the listeners and answered once
 * serving.  Every signal the daemon cares about is blocked before any
 * thread exists; the main thread takes them with sigtimedwait() and,
 * every 100 ms, reaps the orphans the kernel gives it (spawn_tick).
 * SIGTERM, SIGINT and SIGQUIT stop gracefully (a drain); SIGHUP reloads
 * (and opens a new access_log or error_log path, and sets the
 * log_level); SIGUSR1, what logrotate sends, reopens the error log and
 * the access log at their paths (log.c, accesslog.c); SIGUSR2 is logged
 * and changes nothing.  The error log file is opened as soon as the
 * configuration is known: what goes wrong before that is said on
 * stderr.  SIGCHLD stays blocked and pending: each thread reaps its own
 * children.  A service manager that asked for it ($NOTIFY_SOCKET) hears
 * READY once serving, RELOADING and READY around a reload, STOPPING at
 * the drain (notify.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cgigate.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cgigate [--config FILE] [--listen ADDR:PORT]... "
	    "[--handlers DIR]\n"
	    "               [--www DIR] [--timings FILE] [--check] "
	    "[--directives]\n"
	    "               [--log-level LEVEL] [--version] [--help]\n"
	    "\n"
	    "  -c, --config FILE     read FILE (INI; see cgigate.conf(5))\n"
	    "  -l, --listen ADDR:PORT  listen here (repeatable; default "
	    DEFAULT_LISTEN ")\n"
	    "  -d, --handlers DIR    handlers directory (default "
	    DEFAULT_HANDLERS ")\n"
	    "  -w, --www DIR         static files (default " DEFAULT_WWW ")\n"
	    "  -t, --timings FILE    timing database (default "
	    DEFAULT_TIMINGS ")\n"
	    "  -n, --check           validate config and handlers, then exit\n"
	    "      --directives      list the config file's directives: "
	    "name section type\n"
	    "  -u, --user NAME       started as root: run as NAME after binding\n"
	    "      --allow-root      run handlers as root (when root, no user)\n"
	    "      --log-level LEVEL error, warn, notice, info or debug "
	    "(default info)\n"
	    "  -V, --version         print the version\n"
	    "  -h, --help            this text\n");
}

/* Descriptors 0-2 must be open so that no pipe or socket lands there. */
static void
sane_stdio(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

/* A log file setting's path: NULL when unset or none ("off", "stderr"). */
static const char *
log_wanted(const char *v, const char *none)
{
	return v == NULL || strcmp(v, none) == 0 ? NULL : v;
}
#define alog_wanted(c)	log_wanted((c)->access_log, "off")
#define elog_wanted(c)	log_wanted((c)->error_log, "stderr")

/* Where key was set, for messages: "file:line: key: ", or "key: ". */
static void
set_where(const struct config *c, const char *key, int line, char *buf,
    size_t len)
{
	if (line > 0)
		snprintf(buf, len, "%s:%d: %s: ", c->file, line, key);
	else
		snprintf(buf, len, "%s: ", key);
}

/*
 * Who handlers run as.  As root: the configured user (returned, to drop
 * to after binding), or root itself only with allow_root.  Otherwise the
 * current user, and a configured user must be that one.  NULL with err
 * set is a refusal; NULL with err empty means no switch.  A refusal about
 * the user names where it was set: "file:line: user: " or "--user: ".
 * dry (--check) only looks: no initgroups.
 */
static struct passwd *
who_runs(const struct config *c, int dry, char *err, size_t errlen)
{
	struct passwd *pw = NULL;
	char where[1024] = "";

	err[0] = '\0';
	if (c->user != NULL)
		set_where(c, c->user_line > 0 ? "user" : "--user",
		    c->user_line, where, sizeof(where));
	if (c->user != NULL && (pw = getpwnam(c->user)) == NULL) {
		snprintf(err, errlen, "%s%s: no such user", where, c->user);
		return NULL;
	}
	if (geteuid() != 0) {
		if (pw != NULL && pw->pw_uid != geteuid())
			snprintf(err, errlen, "%s%s: only root can switch "
			    "users", where, c->user);
		return NULL;
	}
	if (pw == NULL) {
		if (!c->allow_root)
			snprintf(err, errlen, "running as root would run "
			    "every handler as root: set user = NAME (or "
			    "--user NAME), or allow_root = yes (--allow-root)");
		return NULL;
	}
	if (pw->pw_uid == 0 && !c->allow_root) {
		snprintf(err, errlen, "%s%s is root: set allow_root = yes "
		    "to mean it", where, c->user);
		return NULL;
	}
	if (!dry && initgroups(pw->pw_name, pw->pw_gid) == -1) {
		snprintf(err, errlen, "%sinitgroups %s: %s", where, c->user,
		    strerror(errno));
		return NULL;
	}
	return pw;
}

/*
 * The timing database, opened as root, must stay writable as pw, and so
 * must the directory if cgigate made it (SQLite makes and removes the
 * WAL files there, and the dashboard's reader opens the file); one that
 * was there already is the admin's, and only checked (timings_dir_ok).
 */
static int
give_away(const char *db, const struct passwd *pw)
{
	static const char *sfx[] = { "", "-wal", "-shm", "-spool" };
	const char *dir = timelog_made_dir();
	char path[4096];
	size_t i;

	if (dir != NULL && chown(dir, pw->pw_uid, pw->pw_gid) == -1) {
		log_err(NULL, "chown %s: %s", dir, strerror(errno));
		return -1;
	}

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", db, sfx[i]);
		if (chown(path, pw->pw_uid, pw->pw_gid) == -1 &&
		    errno != ENOENT) {
			log_err(NULL, "chown %s: %s", path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/*
 * Warn, as the final user, when the timing database's directory is not
 * writable: SQLite could not remove its WAL files at the end, nor the
 * dashboard's reader make what it needs.
 */
static void
timings_dir_check(const char *db)
{
	char dir[4096], *slash;

	if (db == NULL || strcmp(db, "off") == 0 ||
	    snprintf(dir, sizeof(dir), "%s", db) >= (int)sizeof(dir))
		return;
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (access(dir, W_OK | X_OK) == -1)
		log_warn(NULL, "timings: the directory %s is not writable by "
		    "user %d: make it theirs, or the dashboard cannot read "
		    "the database and its -wal file stays behind", dir,
		    (int)getuid());
}

/*
 * drain_grace: before the listeners close, the health check answers 503
 * for grace_us while everything else is served as before, so that a load
 * balancer takes this node out first and no client finds its port
 * closed.  A second stop signal ends the wait.
 */
static void
grace(int64_t grace_us, const sigset_t *set, int sig)
{
	const struct timespec tick = { 0, 100 * 1000000L };
	uint64_t end = clk_now_us() + (uint64_t)grace_us;
	int s;

	http_fail_health();
	log_notice(NULL, "%s: the health check answers 503 for %lld ms, then "
	    "the listeners close (drain_grace; another stop signal skips "
	    "it)", strsignal(sig), (long long)(grace_us / 1000));
	while (clk_now_us() < end) {
		spawn_tick();
		cfgref_collect();
		s = sigtimedwait(set, NULL, &tick);
		if (s == SIGTERM || s == SIGINT || s == SIGQUIT) {
			log_notice(NULL, "%s: drain_grace cut short",
			    strsignal(s));
			return;
		}
		if (s != -1 && s != SIGCHLD)
			log_notice(NULL, "%s: ignored while stopping",
			    strsignal(s));
	}
}

/*
 * Open c's access log, or close the one open if c has none; nothing
 * when it is the one open already.  -1 with "file:line: access_log:
 * PATH: reason" in err.
 */
static int
alog_switch(const struct config *c, char *err, size_t errlen)
{
	const char *want = alog_wanted(c), *cur = alog_path();
	int e;

	if (want == NULL ? cur == NULL : cur != NULL && strcmp(want, cur) == 0)
		return 0;
	if (alog_open(want) == 0)
		return 0;
	e = errno;
	set_where(c, "access_log", c->access_log_line, err, errlen);
	snprintf(err + strlen(err), errlen - strlen(err), "%s: %s", want,
	    strerror(e));
	return -1;
}

/*
 * --check: could the log file p be opened for appending, by whoever runs
 * this?  Looked at without creating it.  The count of errors, each said
 * after where ("file:line: key: ").
 */
static int
check_logfile(const char *p, const char *where)
{
	char dir[4096], *slash;
	struct stat st;

	if (p == NULL)
		return 0;
	if (stat(p, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			fprintf(stderr, "%s%s: %s\n", where, p,
			    strerror(EISDIR));
			return 1;
		}
		if (access(p, W_OK) == -1) {
			fprintf(stderr, "%s%s: %s\n", where, p,
			    strerror(errno));
			return 1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		fprintf(stderr, "%s%s: %s\n", where, p, strerror(errno));
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s", p);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		slash[slash == dir ? 1 : 0] = '\0';
	if (access(dir, W_OK | X_OK) == -1) {
		fprintf(stderr, "%s%s: cannot create it: %s: %s\n", where, p,
		    dir, strerror(errno));
		return 1;
	}
	return 0;
}

static int
check_alog(const struct config *c)
{
	char where[1024];

	set_where(c, "access_log", c->access_log_line, where, sizeof(where));
	return check_logfile(alog_wanted(c), where);
}

static int
check_elog(const struct config *c)
{
	char where[1024];

	set_where(c, "error_log", c->error_log_line, where, sizeof(where));
	return check_logfile(elog_wanted(c), where);
}

/* elog_open's "nothing to change". */
#define ELOG_SAME	(-2)

/*
 * Open c's error log file, unless it is the one in use; not used yet, so
 * that a reload can still be refused.  *fd: the descriptor, -1 for
 * stderr, ELOG_SAME for no change.  -1 with "file:line: error_log: PATH:
 * reason" in err.
 */
static int
elog_open(const struct config *c, int *fd, char *err, size_t errlen)
{
	const char *want = elog_wanted(c), *cur = log_path();
	int e;

	*fd = ELOG_SAME;
	if (want == NULL ? cur == NULL : cur != NULL && strcmp(want, cur) == 0)
		return 0;
	if (want == NULL) {
		*fd = -1;
		return 0;
	}
	if ((*fd = log_file_open(want)) != -1)
		return 0;
	e = errno;
	set_where(c, "error_log", c->error_log_line, err, errlen);
	snprintf(err + strlen(err), errlen - strlen(err), "%s: %s", want,
	    strerror(e));
	*fd = ELOG_SAME;
	return -1;
}

/* Log to what elog_open gave for c from now on.  0 or -1 (logged). */
static int
elog_use(const struct config *c, int fd)
{
	const char *want = elog_wanted(c);

	if (fd == ELOG_SAME)
		return 0;
	if (log_use(fd, want) == 0)
		return 0;
	log_err(NULL, "error_log %s: %s", want ? want : "stderr",
	    strerror(errno));
	return -1;
}

/* What the command line says; it overrides the file, at every load. */
struct opts {
	const char	*conffile;
	const char	*listen[MAX_LISTEN];
	int		 nlisten;
	const char	*handlers, *www, *timings, *user;
	int		 allow_root;
	int		 log_level;	/* -1: the file's */
};

/* The command line over what the file said.  -1: out of memory. */
static int
apply_opts(const struct opts *o, struct config *c)
{
	int i;

	if (o->nlisten > 0) {
		for (i = 0; i < c->nlisten; i++)
			free(c->listen[i]);
		c->nlisten = 0;
		for (i = 0; i < o->nlisten; i++)
			if (config_add_listen(c, o->listen[i]) == -1)
				return -1;
	}
	if ((o->handlers && config_set(&c->handlers, o->handlers) == -1) ||
	    (o->www && config_set(&c->www, o->www) == -1) ||
	    (o->timings && config_set(&c->timings, o->timings) == -1) ||
	    (o->user && config_set(&c->user, o->user) == -1))
		return -1;
	if (o->user)
		c->user_line = 0;
	if (o->allow_root)
		c->allow_root = 1;
	if (o->log_level >= 0)
		c->log_level = o->log_level;
	return 0;
}

/*
 * The file, through the reader (confread.c) once there is one: after the
 * switch to the user, a file only root may read is still read.
 */
static int
load_file(struct config *c, const char *path, char *err, size_t errlen)
{
	size_t len;
	char *text;
	int rc;

	if ((text = confread_fetch(&len)) == NULL) {
		if (errno == ENOSYS)
			return config_load(c, path, err, errlen);
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = config_parse(c, text, path, err, errlen);
	free(text);
	return rc;
}

/* The configuration: built-ins, the file, the command line.  NULL: err. */
static struct config *
build_config(const struct opts *o, char *err, size_t errlen)
{
	struct config *c;

	if ((c = malloc(sizeof(*c))) == NULL || config_init(c) == -1) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (o->conffile != NULL && load_file(c, o->conffile, err, errlen) == -1)
		goto fail;
	if (apply_opts(o, c) == -1) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	config_finish(c);
	if (config_check(c, err, errlen) == -1)
		goto fail;
	return c;
fail:
	config_free(c);
	free(c);
	return NULL;
}

static void
print_error(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

/*
 * --check: bind addr and close it again; where names it in messages.
 * One in use is a warning only (a running cgigate holds it); anything
 * else, an error.  The count of errors.
 */
static int
check_bind(const char *where, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	const char *why;
	int fd, on = 1, errors = 0;

	if ((why = config_listen_addr(addr, &ss, &len)) != NULL) {
		fprintf(stderr, "%s: %s\n", where, why);
		return 1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		fprintf(stderr, "%s: socket: %s\n", where, strerror(errno));
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1) {
		if (errno == EADDRINUSE)
			fprintf(stderr, "%s: warning: address in use (by a "
			    "running cgigate?)\n", where);
		else {
			fprintf(stderr, "%s: cannot bind: %s\n", where,
			    strerror(errno));
			errors++;
		}
	}
	close(fd);
	return errors;
}

/* --check: the listen addresses and agent_listen, bound and closed. */
static int
check_listen(const struct config *c)
{
	char where[1024];
	int i, errors = 0;

	for (i = 0; i < c->nlisten; i++) {
		if (c->listen_line[i] > 0)
			snprintf(where, sizeof(where), "%s:%d: listen: %s",
			    c->file, c->listen_line[i], c->listen[i]);
		else
			snprintf(where, sizeof(where), "--listen %s",
			    c->listen[i]);
		errors += check_bind(where, c->listen[i]);
	}
	if (c->agent_listen != NULL) {
		set_where(c, "agent_listen", c->agent_listen_line, where,
		    sizeof(where));
		snprintf(where + strlen(where), sizeof(where) - strlen(where),
		    "%s", c->agent_listen);
		errors += check_bind(where, c->agent_listen);
	}
	return errors;
}

/*
 * --check: everything start-up would refuse, each error on a line of its
 * own ("file:line: key: reason" where a line of the file is to blame),
 * then the count.  Exit status 0 when there is none, else 1.
 */
static int
check_all(const struct opts *o)
{
	struct config *c;
	char err[512];
	int errors = 0;

	if ((c = malloc(sizeof(*c))) == NULL || config_init(c) == -1) {
		fprintf(stderr, "cgigate: out of memory\n");
		return 1;
	}
	if (o->conffile != NULL) {
		errors += config_load_all(c, o->conffile, print_error, NULL);
		if (c->file == NULL)		/* not read at all */
			goto out;
	}
	if (apply_opts(o, c) == -1) {
		fprintf(stderr, "cgigate: out of memory\n");
		errors++;
		goto out;
	}
	config_finish(c);
	errors += config_check_all(c, print_error, NULL);
	if (who_runs(c, 1, err, sizeof(err)) == NULL && err[0]) {
		fprintf(stderr, "%s%s\n", c->user != NULL ? "" : "cgigate: ",
		    err);
		errors++;
	}
	errors += check_listen(c);
	errors += check_alog(c);
	errors += check_elog(c);
	errors += scan_check(c->handlers, c);
	if (access(c->www, R_OK | X_OK) == -1) {
		fprintf(stderr, "%s: www directory: %s\n", c->www,
		    strerror(errno));
		errors++;
	}
out:
	if (errors)
		printf("cgigate: configuration has %d error%s\n", errors,
		    errors == 1 ? "" : "s");
	else
		printf("cgigate: configuration ok\n");
	config_free(c);
	free(c);
	return errors ? 1 : 0;
}

static void
need_restart(const char *what, const char *a, const char *b)
{
	if (strcmp(a, b) != 0)
		log_warn(NULL, "SIGHUP: %s changed (%s -> %s); that takes a "
		    "restart", what, a, b);
}

/*
 * Load the configuration again and switch to it: requests that start
 * from now on use it, requests in flight finish on the old one, which
 * cfgref.c frees once the last of them lets it go.  A configuration with
 * errors changes nothing.  Settings bound at start (listen, agent_listen,
 * handlers, www, timings, threads) are reported and take effect at the
 * next start.  0 when *cur was replaced (the caller keeps the old one for
 * requests still using it), or -1.
 */
static int
reload(const struct opts *o, struct config **cur)
{
	struct config *nc, *oc = *cur;
	char err[512], a[1024] = "", b[1024] = "";
	int i, efd;

	if ((nc = build_config(o, err, sizeof(err))) == NULL) {
		log_err(NULL, "SIGHUP: %s; keeping the running configuration",
		    err);
		timelog_event("reload_failed", getpid(), "%s", err);
		return -1;
	}
	if (elog_open(nc, &efd, err, sizeof(err)) == -1 ||
	    alog_switch(nc, err, sizeof(err)) == -1) {
		log_err(NULL, "SIGHUP: %s; keeping the running configuration",
		    err);
		timelog_event("reload_failed", getpid(), "%s", err);
		if (efd >= 0)
			close(efd);
		config_free(nc);
		free(nc);
		return -1;
	}
	if (efd != ELOG_SAME)
		log_notice(NULL, "SIGHUP: the log goes to %s from now on",
		    elog_wanted(nc) ? elog_wanted(nc) : "stderr");
	(void)elog_use(nc, efd);
	for (i = 0; i < oc->nlisten; i++)
		snprintf(a + strlen(a), sizeof(a) - strlen(a), "%s%s",
		    i ? "," : "", oc->listen[i]);
	for (i = 0; i < nc->nlisten; i++)
		snprintf(b + strlen(b), sizeof(b) - strlen(b), "%s%s",
		    i ? "," : "", nc->listen[i]);
	need_restart("listen", a, b);
	need_restart("agent_listen", oc->agent_listen ? oc->agent_listen :
	    "off", nc->agent_listen ? nc->agent_listen : "off");
	need_restart("handlers", oc->handlers, nc->handlers);
	need_restart("www", oc->www, nc->www);
	need_restart("timings", oc->timings, nc->timings);
	if (oc->threads != nc->threads)
		log_warn(NULL, "SIGHUP: threads changed; that takes a restart");
	if (cfgref_publish(nc) == -1) {
		log_err(NULL, "SIGHUP: out of memory; keeping the running "
		    "configuration");
		config_free(nc);
		free(nc);
		return -1;
	}
	/* oc may be gone from here on: it was only held by cfgref.c. */
	pool_set_config(nc);
	timelog_retention(nc->timings_max_age_us, nc->timings_max_rows,
	    nc->timings_wal_max);
	if (log_get_level() != nc->log_level)
		log_notice(NULL, "SIGHUP: log_level %s -> %s",
		    log_level_name(log_get_level()),
		    log_level_name(nc->log_level));
	log_set_level(nc->log_level);
	scan_kick();
	log_notice(NULL, "SIGHUP: configuration reloaded%s%s (%d older still "
	    "in use)", o->conffile ? " from " : "",
	    o->conffile ? o->conffile : "", cfgref_retired());
	timelog_event("reload", getpid(), "%s",
	    o->conffile ? o->conffile : "(no file)");
	*cur = nc;
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "listen",	required_argument,	NULL, 'l' },
		{ "handlers",	required_argument,	NULL, 'd' },
		{ "www",	required_argument,	NULL, 'w' },
		{ "timings",	required_argument,	NULL, 't' },
		{ "check",	no_argument,		NULL, 'n' },
		{ "user",	required_argument,	NULL, 'u' },
		{ "allow-root",	no_argument,		NULL, 'R' },
		{ "directives",	no_argument,		NULL, 'D' },
		{ "log-level",	required_argument,	NULL, 'L' },
		{ "version",	no_argument,		NULL, 'V' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	struct opts o;
	const struct config_key *k;
	struct passwd *pw;
	struct config *cfg;
	char err[512];
	const struct timespec tick = { 0, 100 * 1000000L };
	sigset_t set;
	const char *why;
	int ch, i, check = 0, sig, efd, bound;
	uint64_t t0;

	memset(&o, 0, sizeof(o));
	o.log_level = -1;

	while ((ch = getopt_long(argc, argv, "c:l:d:w:t:nu:Vh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			o.conffile = optarg;
			break;
		case 'l':
			if (o.nlisten == MAX_LISTEN ||
			    strchr(optarg, ':') == NULL) {
				fprintf(stderr, "cgigate: --listen %s: want "
				    "ADDR:PORT (at most %d)\n", optarg,
				    MAX_LISTEN);
				return 2;
			}
			if ((why = config_listen_addr(optarg, NULL, NULL)) !=
			    NULL) {
				fprintf(stderr, "cgigate: --listen %s: %s\n",
				    optarg, why);
				return 2;
			}
			o.listen[o.nlisten++] = optarg;
			break;
		case 'd':
			o.handlers = optarg;
			break;
		case 'w':
			o.www = optarg;
			break;
		case 't':
			o.timings = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'u':
			o.user = optarg;
			break;
		case 'R':
			o.allow_root = 1;
			break;
		case 'L':
			if ((o.log_level = config_log_level(optarg)) == -1) {
				fprintf(stderr, "cgigate: --log-level %s: want "
				    "error, warn, notice, info or debug\n",
				    optarg);
				return 2;
			}
			break;
		case 'D':
			for (i = 0; (k = config_key_at((size_t)i)) != NULL; i++)
				printf("%s %s %s\n", k->name,
				    config_scope_name(k->scope),
				    config_type_name(k->type));
			return 0;
		case 'V':
			printf("cgigate " PACKAGE_VERSION "\n");
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "cgigate: unexpected argument: %s\n",
		    argv[optind]);
		usage(stderr);
		return 2;
	}

	log_init();
	sane_stdio();
	if (check)
		return check_all(&o);
	if ((cfg = build_config(&o, err, sizeof(err))) == NULL) {
		fprintf(stderr, "cgigate: %s\n", err);
		return 1;
	}

	if ((pw = who_runs(cfg, 0, err, sizeof(err))) == NULL && err[0]) {
		fprintf(stderr, "cgigate: %s\n", err);
		return 1;
	}
	/* From here on the log is the error_log file, if there is one. */
	log_set_level(cfg->log_level);
	if (elog_open(cfg, &efd, err, sizeof(err)) == -1) {
		fprintf(stderr, "cgigate: %s\n", err);
		return 1;
	}
	if (elog_use(cfg, efd) == -1)
		return 1;

	/* Before any thread: the keeper is a fork of this process. */
	if (keeper_start(pw) == -1)
		return 1;
	/* So is the reader that lets a SIGHUP read a root-only file. */
	if (pw != NULL && o.conffile != NULL && geteuid() == 0 &&
	    confread_start(o.conffile) == -1)
		log_warn(NULL, "%s: no reader for reloads (%s): after the "
		    "switch to %s, the file must be readable by that user",
		    o.conffile, strerror(errno), cfg->user);
	/* After the keeper's fork, so that it holds no old log open. */
	if (alog_switch(cfg, err, sizeof(err)) == -1) {
		log_err(NULL, "%s", err);	/* and on stderr, while starting */
		keeper_stop();
		return 1;
	}

	/* Before any thread: every thread inherits this mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	stats_init();
	if (timelog_open(cfg->timings, cfg->timings_queue,
	    cfg->timings_max_age_us, cfg->timings_max_rows,
	    cfg->timings_wal_max) == -1) {
		keeper_stop();
		return 1;
	}
	if (pw != NULL && give_away(cfg->timings, pw) == -1) {
		keeper_stop();
		timelog_close();
		return 1;
	}
	/* Rotated files are then made by that user: see cgigate.conf(5). */
	if (pw != NULL && alog_chown(pw->pw_uid, pw->pw_gid) == -1) {
		log_err(NULL, "chown %s: %s", alog_path(), strerror(errno));
		keeper_stop();
		timelog_close();
		return 1;
	}
	if (pw != NULL && log_chown(pw->pw_uid, pw->pw_gid) == -1) {
		log_err(NULL, "chown %s: %s", log_path(), strerror(errno));
		keeper_stop();
		timelog_close();
		return 1;
	}
	if (spawn_init() == -1 || scan_start(cfg->handlers) == -1) {
		keeper_stop();
		timelog_close();
		return 1;
	}
	if (cfgref_publish(cfg) == -1) {
		log_err(NULL, "out of memory");
		scan_stop();
		spawn_shutdown();
		keeper_stop();
		timelog_close();
		return 1;
	}
	/* Binds, then (as root with a user) drops privileges for good. */
	if ((bound = agent_bind(cfg)) == -1 || http_start(cfg) == -1 ||
	    (pw != NULL && getuid() != pw->pw_uid)) {
		if (bound == 0 && pw != NULL && getuid() != pw->pw_uid)
			log_err(NULL, "could not switch to user %s", cfg->user);
		agent_stop();
		scan_stop();
		spawn_shutdown();
		keeper_stop();
		timelog_close();
		return 1;
	}
	timings_dir_check(cfg->timings);
	/* Workers are spawned from here on, as the final user. */
	if (pool_start(cfg) == -1 || agent_start() == -1) {
		http_stop_drain(0);
		pool_stop();
		agent_stop();
		scan_stop();
		spawn_shutdown();
		keeper_stop();
		timelog_close();
		return 1;
	}
	log_notice(NULL, "cgigate %s started (handlers %s, www %s, timings %s)",
	    PACKAGE_VERSION, cfg->handlers, cfg->www, cfg->timings);
	timelog_event("start", getpid(), "cgigate %s", PACKAGE_VERSION);
	log_started();
	notify("READY=1\nMAINPID=%d\nSTATUS=serving", (int)getpid());

	sigdelset(&set, SIGCHLD);
	for (;;) {
		spawn_tick();
		cfgref_collect();	/* what the last requests let go */
		if ((sig = sigtimedwait(&set, NULL, &tick)) == -1)
			continue;
		if (sig == SIGUSR1) {
			/* logrotate's postrotate: new files at the paths. */
			if ((i = log_reopen()) == 0)
				log_notice(NULL, "SIGUSR1: error log reopened");
			else if (i == -1)
				log_err(NULL, "SIGUSR1: error log %s: %s; still "
				    "writing to the old file", log_path(),
				    strerror(errno));
			if ((i = alog_reopen()) == 1)
				log_notice(NULL, "SIGUSR1: no access_log to "
				    "reopen");
			else if (i == 0)
				log_notice(NULL, "SIGUSR1: access log "
				    "reopened");
			else
				log_err(NULL, "SIGUSR1: access log %s: %s; "
				    "still writing to the old file",
				    alog_path(), strerror(errno));
			continue;
		}
		if (sig == SIGUSR2) {
			log_notice(NULL, "SIGUSR2: ignored (SIGUSR1 reopens "
			    "the log files)");
			continue;
		}
		if (sig != SIGHUP)
			break;
		notify("RELOADING=1\nMONOTONIC_USEC=%llu",
		    (unsigned long long)clk_now_us());
		(void)reload(&o, &cfg);
		notify("READY=1\nSTATUS=serving");
	}
	notify("STOPPING=1\nSTATUS=draining");
	if (cfg->drain_grace_us > 0)
		grace(cfg->drain_grace_us, &set, sig);
	log_notice(NULL, "%s: draining (up to %lld ms)", strsignal(sig),
	    (long long)(cfg->drain_us / 1000));
	t0 = clk_now_us();
	http_stop_drain(cfg->drain_us);
	pool_stop();
	/* It answered "drain" until now. */
	agent_stop();
	scan_stop();
	spawn_shutdown();
	keeper_stop();
	log_notice(NULL, "stopped after %llu ms; %d orphaned processes reaped",
	    (unsigned long long)((clk_now_us() - t0) / 1000), spawn_zombies());
	timelog_event("stop", getpid(), "%s", strsignal(sig));
	timelog_close();
	alog_close();
	/* Every request is over: the configurations can go. */
	cfgref_free_all();
	confread_stop();
	return 0;
}
