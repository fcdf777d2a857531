/*
 * jsonq.c: names made safe for JSON and Prometheus output.
 *
 * Route names come from file names in handlers/ and from the
 * configuration, and a file name is bytes, not text: one byte 0xff in a
 * name made /_gateway/status invalid JSON and /_gateway/metrics a scrape
 * that Prometheus refuses whole.  Every string that reaches that output
 * goes through here.  Both formats want UTF-8, so an ill-formed sequence
 * becomes U+FFFD, one for each maximal subpart (the Unicode Standard,
 * 3.9, "U+FFFD Substitution of Maximal Subparts"): an overlong form, a
 * surrogate, a code point past U+10FFFF, a lone continuation byte, a
 * sequence cut short.  JSON (RFC 8259 7) then escapes '"', '\' and the
 * controls; a Prometheus label value escapes '\', '"' and the line feed,
 * the only escapes the text exposition format knows, and takes any other
 * character as it is.
 *
 * Pure: the caller's stdio stream (an open_memstream buffer in admin.c)
 * is the only thing written.
 */
#include <stdio.h>
#include <string.h>

#include "cgigate.h"

#define REPLACEMENT	"\xef\xbf\xbd"	/* U+FFFD in UTF-8 */

int
utf8_next(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	int need, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 1;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* below: overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* above: surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		if (s[0] == 0xf0)
			lo = 0x90;	/* below: overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* above: past U+10FFFF */
	} else
		return -1;	/* continuation, C0, C1 or F5..FF */
	for (i = 1; i <= need; i++) {
		if ((size_t)i >= n || s[i] < lo || s[i] > hi)
			return -i;
		lo = 0x80;
		hi = 0xbf;
	}
	return need + 1;
}

int
utf8_valid(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);
	int k;

	while (n > 0) {
		if ((k = utf8_next(u, n)) < 0)
			return 0;
		u += k;
		n -= (size_t)k;
	}
	return 1;
}

/*
 * s written with each ill-formed sequence as U+FFFD; esc, when not NULL,
 * writes the characters below 0x80 it wants escaped and returns 1.
 */
static void
put(FILE *f, const char *s, size_t n, int (*esc)(FILE *, int))
{
	const unsigned char *u = (const unsigned char *)s;
	int k;

	while (n > 0) {
		k = utf8_next(u, n);
		if (k < 0) {
			fputs(REPLACEMENT, f);
			k = -k;
		} else if (k > 1 || esc == NULL || !esc(f, u[0]))
			fwrite(u, 1, (size_t)k, f);
		u += k;
		n -= (size_t)k;
	}
}

/* What both quote: the quote, the backslash and a newline. */
static int
label_esc(FILE *f, int c)
{
	switch (c) {
	case '"':
	case '\\':
		fprintf(f, "\\%c", c);
		return 1;
	case '\n':
		fputs("\\n", f);
		return 1;
	}
	return 0;
}

/* JSON also escapes every other control character. */
static int
json_esc(FILE *f, int c)
{
	if (label_esc(f, c))
		return 1;
	switch (c) {
	case '\r':
		fputs("\\r", f);
		return 1;
	case '\t':
		fputs("\\t", f);
		return 1;
	}
	if (c < 0x20) {
		fprintf(f, "\\u%04x", c);
		return 1;
	}
	return 0;
}

void
jsonq_string(FILE *f, const char *s)
{
	putc('"', f);
	put(f, s, strlen(s), json_esc);
	putc('"', f);
}

void
jsonq_label(FILE *f, const char *s)
{
	putc('"', f);
	put(f, s, strlen(s), label_esc);
	putc('"', f);
}

void
jsonq_utf8(FILE *f, const char *s, size_t n)
{
	put(f, s, n, NULL);
}
