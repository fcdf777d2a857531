/*
 * cgiresp.c: the header block of a CGI (or FastCGI) response.
 *
 * Pure and incremental: bytes from the handler are fed as they arrive
 * until the blank line that ends the header block (RFC 3875 6.2; LF or
 * CRLF line ends, as 6.3.4 lets scripts use either).  The block is held in
 * a fixed buffer, which bounds it; bytes after the blank line stay in the
 * buffer as the start of the body.  Anything that could smuggle a header
 * or a second response to the client is an error: a bare CR, a folded or
 * nameless line, a non-token name, a bad Status or Content-Length; so is
 * a NUL, which would cut a field short of what the handler wrote.
 * Framing is the server's: Connection, Keep-Alive and Transfer-Encoding
 * from the handler are dropped, Content-Length is taken apart.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cgigate.h"

void
cgiresp_init(struct cgiresp *p)
{
	p->len = 0;
	p->body_off = 0;
	p->status = 0;
	p->reason[0] = '\0';
	p->location = NULL;
	p->content_length = -1;
	p->nfields = 0;
	p->error = NULL;
}

static int
is_tchar(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static enum cgiresp_state
fail(struct cgiresp *p, const char *why)
{
	p->error = why;
	return CGIRESP_ERROR;
}

static enum cgiresp_state
parse_status(struct cgiresp *p, const char *v)
{
	const char *r;

	if (!isdigit((unsigned char)v[0]) || !isdigit((unsigned char)v[1]) ||
	    !isdigit((unsigned char)v[2]) || (v[3] != '\0' && v[3] != ' '))
		return fail(p, "malformed Status header");
	p->status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
	if (p->status < 200 || p->status > 599)
		return fail(p, "Status out of range");
	r = v[3] == ' ' ? v + 4 : "";
	while (*r == ' ')
		r++;
	strncpy(p->reason, r, sizeof(p->reason) - 1);
	p->reason[sizeof(p->reason) - 1] = '\0';
	return CGIRESP_DONE;
}

/* Split buf[0..end) into fields; lines are NUL-terminated in place. */
static enum cgiresp_state
parse_block(struct cgiresp *p, size_t end)
{
	char *line = p->buf, *eol, *colon, *v, *e;
	int have_status = 0;

	while (line < p->buf + end) {
		eol = memchr(line, '\n', p->buf + end - line);
		if (eol == NULL)
			return fail(p, "unterminated header line");
		e = eol;
		if (e > line && e[-1] == '\r')
			e--;
		*e = '\0';
		if (e == line)
			break;		/* the blank line */
		if (memchr(line, '\r', e - line) != NULL)
			return fail(p, "CR inside a header line");
		/* What follows reads the line as C strings. */
		if (memchr(line, '\0', e - line) != NULL)
			return fail(p, "NUL inside a header line");
		if (*line == ' ' || *line == '\t')
			return fail(p, "folded header line");
		if ((colon = strchr(line, ':')) == NULL || colon == line)
			return fail(p, "header line without a name");
		for (v = line; v < colon; v++)
			if (!is_tchar((unsigned char)*v))
				return fail(p, "invalid header name");
		*colon = '\0';
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		/* RFC 9110 5.5: no CTL (RFC 5234: 0x00-0x1f, 0x7f) but HTAB. */
		for (e = v; *e != '\0'; e++)
			if (((unsigned char)*e < 0x20 && *e != '\t') ||
			    *e == 0x7f)
				return fail(p, "control character in header");
		if (strcasecmp(line, "Status") == 0) {
			if (have_status++)
				return fail(p, "duplicate Status header");
			if (parse_status(p, v) == CGIRESP_ERROR)
				return CGIRESP_ERROR;
		} else if (strcasecmp(line, "Content-Length") == 0) {
			long long had = p->content_length;
			char *end2;

			if (!isdigit((unsigned char)*v))
				return fail(p, "malformed Content-Length");
			errno = 0;
			p->content_length = strtoll(v, &end2, 10);
			if (*end2 != '\0' || errno == ERANGE)
				return fail(p, "malformed Content-Length");
			/* RFC 9112 6.3: which one frames the body?  Neither. */
			if (had >= 0 && had != p->content_length)
				return fail(p, "conflicting Content-Length");
		} else if (strcasecmp(line, "Connection") == 0 ||
		    strcasecmp(line, "Keep-Alive") == 0 ||
		    strcasecmp(line, "Transfer-Encoding") == 0) {
			;	/* hop-by-hop: the server frames the body */
		} else {
			if (p->nfields == CGIRESP_MAX_FIELDS)
				return fail(p, "too many header lines");
			if (strcasecmp(line, "Location") == 0) {
				if (p->location != NULL)
					return fail(p, "duplicate Location");
				p->location = v;
			}
			p->fields[p->nfields].name = line;
			p->fields[p->nfields].value = v;
			p->nfields++;
		}
		line = eol + 1;
	}
	if (p->nfields == 0 && !have_status)
		return fail(p, "empty header block");
	if (!have_status) {
		const char *l = p->location;

		/* RFC 3875 6.2.3: an absolute URI is a client redirect. */
		if (l != NULL && l[0] != '/')
			p->status = 302;
		else if (l == NULL)
			p->status = 200;
		/* A local path leaves status 0: the caller decides. */
	}
	return CGIRESP_DONE;
}

enum cgiresp_state
cgiresp_feed(struct cgiresp *p, const char *data, size_t n, size_t *used)
{
	size_t room = sizeof(p->buf) - p->len, from, i;

	*used = 0;
	if (p->error != NULL)
		return CGIRESP_ERROR;
	if (n > room)
		n = room;
	from = p->len > 2 ? p->len - 2 : 0;
	memcpy(p->buf + p->len, data, n);
	p->len += n;
	*used = n;
	for (i = from; i < p->len; i++) {
		if (p->buf[i] != '\n')
			continue;
		if (i == 0) {
			p->body_off = 1;
			return fail(p, "empty header block");
		}
		/* "\n\n" or "\n\r\n" ends the block. */
		if (i + 1 < p->len && p->buf[i + 1] == '\n') {
			p->body_off = i + 2;
			return parse_block(p, i + 1);
		}
		if (i + 2 < p->len && p->buf[i + 1] == '\r' &&
		    p->buf[i + 2] == '\n') {
			p->body_off = i + 3;
			return parse_block(p, i + 1);
		}
	}
	if (p->len == sizeof(p->buf))
		return fail(p, "header block too large");
	return CGIRESP_MORE;
}

enum cgiresp_state
cgiresp_eof(struct cgiresp *p)
{
	if (p->error == NULL)
		p->error = p->len == 0 ? "no output" :
		    "output ended inside the header block";
	return CGIRESP_ERROR;
}

const char *
cgiresp_header(const struct cgiresp *p, const char *name)
{
	int i;

	for (i = 0; i < p->nfields; i++)
		if (strcasecmp(p->fields[i].name, name) == 0)
			return p->fields[i].value;
	return NULL;
}
