/*
 * procstat.c: the process's own gauges for /_gateway/metrics, under the
 * names Prometheus's client libraries use for them (process_*), and
 * cgigate_build_info.
 *
 * CPU time comes from getrusage(2) (all threads), memory and threads
 * from /proc/self/status, descriptors from /proc/self/fd; each is read
 * when scraped, nothing is kept.  A value that cannot be read is left
 * out rather than shown as 0.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cgigate.h"

/* A "Name:   123 kB" line of /proc/self/status, in its unit; -1. */
static long long
status_field(const char *name)
{
	char line[256];
	size_t n = strlen(name);
	long long v = -1;
	FILE *f;

	if ((f = fopen("/proc/self/status", "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			v = strtoll(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* Open descriptors, the directory's own left out; -1. */
static int
open_fds(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

void
procstat_metrics(FILE *f, double started)
{
	struct rusage ru;
	struct rlimit rl;
	long long v;
	int fds;

	fprintf(f, "# HELP cgigate_build_info The running version.\n"
	    "# TYPE cgigate_build_info gauge\n"
	    "cgigate_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		fprintf(f, "# HELP process_cpu_seconds_total User and system "
		    "CPU time of cgigate's threads.\n"
		    "# TYPE process_cpu_seconds_total counter\n"
		    "process_cpu_seconds_total %.6f\n",
		    (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	if ((v = status_field("VmRSS")) >= 0)
		fprintf(f, "# HELP process_resident_memory_bytes Resident "
		    "memory.\n# TYPE process_resident_memory_bytes gauge\n"
		    "process_resident_memory_bytes %lld\n", v * 1024);
	if ((v = status_field("VmSize")) >= 0)
		fprintf(f, "# HELP process_virtual_memory_bytes Virtual "
		    "memory.\n# TYPE process_virtual_memory_bytes gauge\n"
		    "process_virtual_memory_bytes %lld\n", v * 1024);
	if ((v = status_field("Threads")) >= 0)
		fprintf(f, "# HELP process_threads Threads of the process.\n"
		    "# TYPE process_threads gauge\n"
		    "process_threads %lld\n", v);
	if ((fds = open_fds()) >= 0)
		fprintf(f, "# HELP process_open_fds Open descriptors.\n"
		    "# TYPE process_open_fds gauge\n"
		    "process_open_fds %d\n", fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		fprintf(f, "# HELP process_max_fds The descriptor limit.\n"
		    "# TYPE process_max_fds gauge\n"
		    "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	fprintf(f, "# HELP process_start_time_seconds Start time, in "
	    "seconds since the epoch.\n"
	    "# TYPE process_start_time_seconds gauge\n"
	    "process_start_time_seconds %.3f\n", started);
}
