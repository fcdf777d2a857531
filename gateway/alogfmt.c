/*
 * alogfmt.c: one line of the access log, in the combined log format.
 *
 * Pure: a struct alog_line in, the bytes of its line out, so the unit
 * test holds them to the byte.  The format is the one GoAccess, awstats
 * and fail2ban read by default (Apache's "combined", nginx's default):
 *
 *   ADDR - - [07/Dec/2026:02:04:14 +0000] "GET /p?q HTTP/1.1" 200 1234
 *   "referer" "user-agent"
 *
 * on one line.  The client chooses the target, the Referer and the
 * User-Agent, so every quoted field is escaped: '"' as \", '\' as \\,
 * and any byte below 0x20, DEL and any byte from 0x80 as \xHH (what
 * Apache does; nginx writes \x22 and \x5C for the first two).  No byte
 * of a field can then end the field or the line, and a line cannot be
 * forged.  A field that would not fit is cut at a whole escape, with
 * room kept for the rest of the line, which always ends with '\n'.
 * The time is UTC, the month names English whatever the locale.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cgigate.h"

/* The room a field may take, escaped, within ALOG_LINE_MAX. */
#define CAP_ADDR	64
#define CAP_METHOD	64
#define CAP_TARGET	4096
#define CAP_PROTO	32
#define CAP_HEADER	1024

/* Append s (n bytes), escaped, to b at *off, in at most cap bytes. */
static void
put_escaped(char *b, size_t *off, const char *s, size_t n, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, used = 0;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			if (used + 2 > cap)
				break;
			b[*off + used++] = '\\';
			b[*off + used++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			if (used + 4 > cap)
				break;
			b[*off + used++] = '\\';
			b[*off + used++] = 'x';
			b[*off + used++] = hex[c >> 4];
			b[*off + used++] = hex[c & 0xf];
		} else {
			if (used + 1 > cap)
				break;
			b[*off + used++] = (char)c;
		}
	}
	*off += used;
}

static void
put_str(char *b, size_t *off, const char *s)
{
	size_t n = strlen(s);

	memcpy(b + *off, s, n);
	*off += n;
}

/* A quoted header field: "-" when absent. */
static void
put_header(char *b, size_t *off, const char *s)
{
	put_str(b, off, " \"");
	if (s == NULL)
		put_str(b, off, "-");
	else
		put_escaped(b, off, s, strlen(s), CAP_HEADER);
	put_str(b, off, "\"");
}

size_t
alog_format(char *buf, const struct alog_line *l)
{
	size_t at;

	return alog_format_at(buf, l, &at);
}

size_t
alog_format_at(char *buf, const struct alog_line *l, size_t *at)
{
	static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	char num[64];
	size_t off = 0, start;
	time_t t = l->when;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	if (l->addr == NULL || l->addr[0] == '\0')
		put_str(buf, &off, "-");
	else
		put_escaped(buf, &off, l->addr, strlen(l->addr), CAP_ADDR);
	snprintf(num, sizeof(num), " - - [%02d/%s/%04d:%02d:%02d:%02d "
	    "+0000] \"", tm.tm_mday, mon[tm.tm_mon % 12], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
	put_str(buf, &off, num);
	if (l->method == NULL) {
		/* No request line could be read. */
		put_str(buf, &off, "-");
	} else {
		put_escaped(buf, &off, l->method, strlen(l->method),
		    CAP_METHOD);
		put_str(buf, &off, " ");
		start = off;
		if (l->target != NULL)
			put_escaped(buf, &off, l->target, strlen(l->target),
			    CAP_TARGET);
		if (l->query != NULL && off - start < CAP_TARGET) {
			put_str(buf, &off, "?");
			put_escaped(buf, &off, l->query, strlen(l->query),
			    CAP_TARGET - (off - start));
		}
		if (l->proto != NULL) {
			put_str(buf, &off, " ");
			put_escaped(buf, &off, l->proto, strlen(l->proto),
			    CAP_PROTO);
		}
	}
	snprintf(num, sizeof(num), "\" %d ", l->status);
	put_str(buf, &off, num);
	*at = off;
	if (l->bytes > 0)
		snprintf(num, sizeof(num), "%lld", l->bytes);
	else
		snprintf(num, sizeof(num), "-");
	put_str(buf, &off, num);
	put_header(buf, &off, l->referer);
	put_header(buf, &off, l->agent);
	buf[off++] = '\n';
	return off;
}
