/*
 * scan.c: the handlers directory as a live route table.
 *
 * A walk of the directory builds a route table (route.c); a thread walks
 * it again every RESCAN_US and swaps the table in when the set of routes
 * changed, so a script dropped into handlers/ is live within a second and
 * a removed one stops answering.  A file is a handler when it is
 * executable or named *.cgi / *.fcgi; the latter with no execute bit stay
 * routes so that a request for them is refused (403, logged) rather than
 * served as something else.  Symbolic links to directories are not
 * followed.  Whether a handler may run is decided again at request time
 * by scan_resolve: the walk is only a map.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <time.h>
#include <unistd.h>

#include "cgigate.h"

#define RESCAN_US	500000
#define SCAN_DEPTH	16
#define SCAN_MAX	10000

static struct {
	pthread_rwlock_t	 lock;
	pthread_mutex_t		 wlock;
	pthread_cond_t		 wake;
	struct route_table	*table;
	char			*dir;
	char			 real[PATH_MAX];
	pthread_t		 thread;
	int			 stop, running;
} sc = {
	.lock = PTHREAD_RWLOCK_INITIALIZER,
	.wlock = PTHREAD_MUTEX_INITIALIZER,
};

static int
is_handler(const char *name, const struct stat *st)
{
	size_t n = strlen(name);

	if (!S_ISREG(st->st_mode))
		return 0;
	if (st->st_mode & 0111)
		return 1;
	return (n > 4 && strcmp(name + n - 4, ".cgi") == 0) ||
	    (n > 5 && strcmp(name + n - 5, ".fcgi") == 0);
}

/* Walk dirfd (relative name prefix rel) into t; problems go to report. */
static void
walk(int dirfd, const char *rel, int depth, struct route_table *t,
    int *count, void (*report)(const char *, const char *, int))
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd, rc;

	if ((d = fdopendir(dirfd)) == NULL) {
		close(dirfd);
		return;
	}
	while ((de = readdir(d)) != NULL && *count < SCAN_MAX) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s%s%s", rel,
		    *rel ? "/" : "", de->d_name) >= (int)sizeof(path))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth >= SCAN_DEPTH)
				continue;
			fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0)
				walk(fd, path, depth + 1, t, count, report);
			continue;
		}
		if (S_ISLNK(st.st_mode) &&
		    fstatat(dirfd, de->d_name, &st, 0) == -1)
			continue;
		if (!is_handler(de->d_name, &st))
			continue;
		rc = route_table_add(t, path);
		(*count)++;
		if (report != NULL)
			report(path, rc == 1 ? "answers the same route as "
			    "another handler (ignored)" : rc == -1 ?
			    "name cannot be a route (ignored)" : NULL, rc);
	}
	closedir(d);
}

static struct route_table *
build(const char *dir, void (*report)(const char *, const char *, int))
{
	struct route_table *t;
	int fd, count = 0;

	if ((t = route_table_new()) == NULL)
		return NULL;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		walk(fd, "", 0, t, &count, report);
	route_table_sort(t);	/* before any reader sees it */
	return t;
}

static int
same(const struct route_table *a, const struct route_table *b)
{
	const struct route *x, *y;
	size_t i;

	if (route_table_count(a) != route_table_count(b))
		return 0;
	for (i = 0; i < route_table_count(a); i++) {
		x = route_table_get(a, i);
		y = route_table_get(b, i);
		if (strcmp(x->name, y->name) != 0 ||
		    strcmp(x->file, y->file) != 0)
			return 0;
	}
	return 1;
}

static void *
rescan(void *arg)
{
	struct route_table *t, *old;
	struct timespec ts;

	(void)arg;
	pthread_mutex_lock(&sc.wlock);
	while (!sc.stop) {
		ts = clk_ts(clk_now_us() + RESCAN_US);
		pthread_cond_timedwait(&sc.wake, &sc.wlock, &ts);
		if (sc.stop)
			break;
		if ((t = build(sc.dir, NULL)) == NULL)
			continue;
		pthread_rwlock_rdlock(&sc.lock);
		old = sc.table;
		if (same(t, old)) {
			pthread_rwlock_unlock(&sc.lock);
			route_table_free(t);
			continue;
		}
		pthread_rwlock_unlock(&sc.lock);
		pthread_rwlock_wrlock(&sc.lock);
		old = sc.table;
		sc.table = t;
		pthread_rwlock_unlock(&sc.lock);
		log_notice(NULL, "handlers: %zu routes (was %zu)",
		    route_table_count(t), route_table_count(old));
		timelog_event("rescan", 0, "%zu routes",
		    route_table_count(t));
		route_table_free(old);
	}
	pthread_mutex_unlock(&sc.wlock);
	return NULL;
}

int
scan_start(const char *dir)
{
	if (realpath(dir, sc.real) == NULL) {
		log_err(NULL, "scan_start: %s: %s", dir, strerror(errno));
		return -1;
	}
	if ((sc.dir = strdup(sc.real)) == NULL ||
	    (sc.table = build(sc.dir, NULL)) == NULL) {
		log_err(NULL, "scan_start: out of memory");
		return -1;
	}
	log_notice(NULL, "handlers: %s, %zu routes", sc.dir,
	    route_table_count(sc.table));
	clk_cond_init(&sc.wake);
	if ((errno = pthread_create(&sc.thread, NULL, rescan, NULL)) != 0) {
		log_err(NULL, "scan_start: pthread_create: %s",
		    strerror(errno));
		return -1;
	}
	pthread_setname_np(sc.thread, "cg-scan");
	sc.running = 1;
	return 0;
}

void
scan_kick(void)
{
	pthread_mutex_lock(&sc.wlock);
	pthread_cond_signal(&sc.wake);
	pthread_mutex_unlock(&sc.wlock);
}

void
scan_stop(void)
{
	if (sc.running) {
		pthread_mutex_lock(&sc.wlock);
		sc.stop = 1;
		pthread_cond_signal(&sc.wake);
		pthread_mutex_unlock(&sc.wlock);
		pthread_join(sc.thread, NULL);
		sc.running = 0;
	}
	route_table_free(sc.table);
	sc.table = NULL;
	free(sc.dir);
	sc.dir = NULL;
}

int
scan_lookup(const char *path, struct route *out, char *name, char *file,
    const char **path_info)
{
	const struct route *r;
	int rc = -1;

	pthread_rwlock_rdlock(&sc.lock);
	if (sc.table != NULL &&
	    (r = route_match(sc.table, path, path_info)) != NULL) {
		snprintf(name, ROUTE_NAME_MAX, "%s", r->name);
		snprintf(file, PATH_MAX, "%s", r->file);
		out->name = name;
		out->file = file;
		out->kind = r->kind;
		out->nph = r->nph;
		rc = 0;
	}
	pthread_rwlock_unlock(&sc.lock);
	return rc;
}

void
scan_each(void (*fn)(const struct route *r, void *arg), void *arg)
{
	const struct route *r;
	size_t i;

	pthread_rwlock_rdlock(&sc.lock);
	for (i = 0; sc.table != NULL &&
	    (r = route_table_get(sc.table, i)) != NULL; i++)
		fn(r, arg);
	pthread_rwlock_unlock(&sc.lock);
}

/*
 * One system call for the common case: a path with no symbolic link in
 * it is its own real path, and RESOLVE_NO_SYMLINKS refuses any link.
 * Returns an O_PATH descriptor, or -1 with errno (ELOOP: a component is a
 * link; ENOSYS: a kernel before 5.6).
 */
static int
open_nolinks(const char *path)
{
#ifdef SYS_openat2
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_CLOEXEC;
	how.resolve = RESOLVE_NO_SYMLINKS;
	return (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
#else
	(void)path;
	errno = ENOSYS;
	return -1;
#endif
}

/*
 * Is a directory from the handlers directory (n bytes of abs) down to
 * the handler's own world-writable?  Then anyone may add a handler there,
 * or swap this one for theirs: refused as a world-writable file is.  The
 * sticky bit does not help: it stops the swap, not the adding.  abs has
 * no symbolic link in it.
 */
static int
in_open_dir(const char *abs, size_t n)
{
	char d[PATH_MAX];
	struct stat st;
	char *slash;

	if (snprintf(d, sizeof(d), "%s", abs) >= (int)sizeof(d))
		return 1;
	while ((slash = strrchr(d, '/')) != NULL && (size_t)(slash - d) >= n &&
	    slash > d) {
		*slash = '\0';
		if (stat(d, &st) == 0 && (st.st_mode & S_IWOTH))
			return 1;
	}
	return 0;
}

int
scan_resolve(const char *relpath, char *abs, const char **why)
{
	char joined[PATH_MAX];
	struct stat st;
	size_t n = strlen(sc.real);
	int fd, k, rc;

	k = snprintf(joined, sizeof(joined), "%s/%s", sc.real, relpath);
	if (k >= (int)sizeof(joined)) {
		*why = "path too long";
		return 404;
	}
	/*
	 * A route's path comes from the walk: no "." or ".." in it, and
	 * joined is already clean unless the handlers directory is "/".
	 */
	fd = -1;
	errno = ELOOP;		/* not tried: the realpath way */
	if (strstr(relpath, "./") == NULL && n > 1)
		fd = open_nolinks(joined);
	if (fd >= 0) {
		memcpy(abs, joined, (size_t)k + 1);
		rc = fstat(fd, &st);
	} else if (errno == ENOENT || errno == ENOTDIR) {
		*why = "handler vanished";
		return 404;
	} else {
		if (realpath(joined, abs) == NULL) {
			*why = "handler vanished";
			return 404;
		}
		if (strncmp(abs, sc.real, n) != 0 || abs[n] != '/') {
			*why = "handler resolves outside the handlers "
			    "directory";
			return 403;
		}
		rc = stat(abs, &st);
	}
	if (rc == -1 || !S_ISREG(st.st_mode))
		*why = "handler is not a regular file";
	else if (st.st_mode & S_IWOTH)
		*why = "handler is world-writable";
	else if (st.st_mode & (S_ISUID | S_ISGID))
		*why = "handler is setuid or setgid";
	else if (in_open_dir(abs, n))
		*why = "handler is in a world-writable directory";
	else if ((fd >= 0 ? faccessat(fd, "", X_OK, AT_EMPTY_PATH) :
	    access(abs, X_OK)) == -1)
		*why = "handler is not executable";
	else
		*why = NULL;
	if (fd >= 0)
		close(fd);
	return *why == NULL ? 0 : 403;
}

static int check_errors;

static void
check_report(const char *path, const char *why, int rc)
{
	if (why == NULL)
		return;
	fprintf(stderr, "%s: %s\n", path, why);
	if (rc == 1)
		check_errors++;
}

/*
 * Does a section's document_root (or script_suffix) reach no FastCGI
 * handler?  It covers the handlers below its prefix and the one that
 * answers the prefix itself; when all of those run as CGI, whose
 * DOCUMENT_ROOT is the www directory, it cannot apply: 1.  0 when one
 * of them is FastCGI, or when it covers none (reported as matching no
 * handler yet).
 */
static int
docroot_unused(const struct route_table *t, const struct config *c,
    const struct route_conf *sec)
{
	const struct route *r, *at;
	const struct route_conf *rc;
	const char *pi;
	size_t i, n = strlen(sec->prefix);
	int ncgi = 0, nfcgi = 0;

	at = route_match(t, sec->prefix, &pi);
	for (i = 0; (r = route_table_get(t, i)) != NULL; i++) {
		if (r != at && strcmp(sec->prefix, "/") != 0 &&
		    (strncmp(r->name, sec->prefix, n) != 0 ||
		    r->name[n] != '/'))
			continue;
		rc = config_route(c, r->name);
		if (rc->mode == MODE_FASTCGI || (rc->mode == MODE_AUTO &&
		    r->kind == ROUTE_FCGI))
			nfcgi++;
		else
			ncgi++;
	}
	return ncgi > 0 && nfcgi == 0;
}

int
scan_check(const char *dir, const struct config *c)
{
	struct route_table *t;
	const struct route *r;
	const char *pi;
	char real[PATH_MAX], abs[PATH_MAX];
	const char *why;
	size_t i;
	int k, st;

	check_errors = 0;
	if (realpath(dir, real) == NULL) {
		fprintf(stderr, "%s: handlers directory: %s\n", dir,
		    strerror(errno));
		return 1;
	}
	snprintf(sc.real, sizeof(sc.real), "%s", real);
	if ((t = build(real, check_report)) == NULL)
		return 1;
	for (i = 0; (r = route_table_get(t, i)) != NULL; i++) {
		if ((st = scan_resolve(r->file, abs, &why)) != 0) {
			fprintf(stderr, "%s: route %s is refused (%d): %s\n",
			    r->file, r->name, st, why);
			check_errors++;
		}
	}
	for (k = 0; k < c->nroutes; k++) {
		const char *p = c->routes[k].prefix;

		if (strcmp(p, "/") != 0 && route_match(t, p, &pi) == NULL &&
		    c->routes[k].line > 0 && c->routes[k].fcgi.nbackends == 0)
			fprintf(stderr, "%s:%d: [route %s] matches no handler "
			    "yet\n", c->file ? c->file : "config",
			    c->routes[k].line, p);
		if ((c->routes[k].set & (RC_DOCROOT | RC_SUFFIX)) &&
		    c->routes[k].fcgi.nbackends == 0 &&
		    docroot_unused(t, c, &c->routes[k])) {
			fprintf(stderr, "%s:%d: %s: applies to FastCGI routes "
			    "only, and [route %s] covers CGI handlers only\n",
			    c->file ? c->file : "config",
			    c->routes[k].set & RC_DOCROOT ?
			    c->routes[k].fcgi.docroot_line :
			    c->routes[k].fcgi.suffix_line,
			    c->routes[k].set & RC_DOCROOT ? "document_root" :
			    "script_suffix", p);
			check_errors++;
		}
	}
	fprintf(stderr, "%s: %zu routes, %d errors\n", real,
	    route_table_count(t), check_errors);
	route_table_free(t);
	return check_errors;
}
