/*
 * fuzz_jsonq.c: any bytes as a route name in the admin output.
 *
 * Input: the bytes of a name.  Up to its first NUL it is written by
 * jsonq_string and jsonq_label as /_gateway/status and /_gateway/metrics
 * would; the whole input by jsonq_utf8 as the dashboard's JSON is.
 *
 * Every output must be well-formed UTF-8, by a decoder of this file's
 * own (code points, not jsonq.c's byte ranges).  The JSON string must be
 * one string by RFC 8259's grammar and nothing after it; the label value
 * one quoted value by the exposition format (escapes \\, \" and \n only,
 * no raw line feed).  Both read back to the same text, which is the
 * name itself when the name was UTF-8, and to what jsonq_utf8 makes of
 * the name otherwise.  jsonq_utf8 keeps every byte below 0x80 in order,
 * so the JSON it mends keeps its structure, and changes nothing in
 * input that was UTF-8.
 */
#include <string.h>

#include "cgigate.h"
#include "fuzz.h"

/* Well-formed UTF-8, decoded to code points. */
static int
wellformed(const unsigned char *s, size_t n)
{
	size_t i = 0, k, j;
	unsigned long cp, min;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			k = 1;
			cp = s[i] & 0x1f;
			min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			k = 2;
			cp = s[i] & 0x0f;
			min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			k = 3;
			cp = s[i] & 0x07;
			min = 0x10000;
		} else
			return 0;
		if (n - i <= k)
			return 0;
		for (j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

static int
hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * s (n bytes) as one quoted string and nothing after it, read back into
 * out (*outn bytes).  label: the exposition format's escapes, else
 * JSON's.  0, or -1 when it is not one.
 */
static int
unquote(const char *s, size_t n, int label, char *out, size_t *outn)
{
	size_t i, o = 0;
	int c, k, v;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return -1;
	for (i = 1; i < n - 1; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || (label ? c == '\n' : c < 0x20))
			return -1;
		if (c != '\\') {
			out[o++] = (char)c;
			continue;
		}
		if (++i >= n - 1)
			return -1;
		switch (s[i]) {
		case '"':
		case '\\':
			out[o++] = s[i];
			break;
		case 'n':
			out[o++] = '\n';
			break;
		case '/': case 'b': case 'f': case 'r': case 't':
			if (label)
				return -1;
			out[o++] = s[i] == '/' ? '/' : s[i] == 'b' ? '\b' :
			    s[i] == 'f' ? '\f' : s[i] == 'r' ? '\r' : '\t';
			break;
		case 'u':
			if (label || i + 4 >= n - 1)
				return -1;
			for (v = 0, k = 1; k <= 4; k++) {
				if (hex((unsigned char)s[i + k]) < 0)
					return -1;
				v = v << 4 | hex((unsigned char)s[i + k]);
			}
			/* jsonq writes \u for controls only. */
			CHECK(v < 0x20);
			out[o++] = (char)v;
			i += 4;
			break;
		default:
			return -1;
		}
	}
	*outn = o;
	return 0;
}

/* What writer makes of s (or n bytes of s, for jsonq_utf8). */
static char *
run(int which, const char *s, size_t n, size_t *len)
{
	char *buf = NULL;
	FILE *f;

	CHECK((f = open_memstream(&buf, len)) != NULL);
	if (which == 0)
		jsonq_string(f, s);
	else if (which == 1)
		jsonq_label(f, s);
	else
		jsonq_utf8(f, s, n);
	CHECK(fclose(f) == 0);
	return buf;
}

/* The bytes below 0x80 of a and of b are the same, in the same order. */
static int
same_ascii(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i < an && (unsigned char)a[i] >= 0x80)
			i++;
		while (j < bn && (unsigned char)b[j] >= 0x80)
			j++;
		if (i == an || j == bn)
			return i == an && j == bn;
		if (a[i++] != b[j++])
			return 0;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name, *js, *lb, *raw, *mended, *back;
	size_t n, jn, ln, rn, mn, bn;
	int valid;

	CHECK((name = malloc(size + 1)) != NULL);
	memcpy(name, data, size);
	name[size] = '\0';
	n = strlen(name);
	valid = wellformed((const unsigned char *)name, n);
	CHECK(valid == utf8_valid(name));

	mended = run(2, name, n, &mn);
	CHECK(wellformed((unsigned char *)mended, mn));
	CHECK(same_ascii(mended, mn, name, n));
	if (valid)
		CHECK(mn == n && memcmp(mended, name, n) == 0);
	else
		CHECK(memmem(mended, mn, "\xef\xbf\xbd", 3) != NULL);

	js = run(0, name, 0, &jn);
	CHECK(wellformed((unsigned char *)js, jn));
	CHECK((back = malloc(jn)) != NULL);
	CHECK(unquote(js, jn, 0, back, &bn) == 0);
	CHECK(bn == mn && memcmp(back, mended, mn) == 0);
	free(back);

	lb = run(1, name, 0, &ln);
	CHECK(wellformed((unsigned char *)lb, ln));
	CHECK((back = malloc(ln)) != NULL);
	CHECK(unquote(lb, ln, 1, back, &bn) == 0);
	CHECK(bn == mn && memcmp(back, mended, mn) == 0);
	free(back);

	/* The whole input, NULs and all, as the dashboard's JSON. */
	raw = run(2, (const char *)data, size, &rn);
	CHECK(wellformed((unsigned char *)raw, rn));
	CHECK(same_ascii(raw, rn, (const char *)data, size));
	if (wellformed(data, size))
		CHECK(rn == size && memcmp(raw, data, size) == 0);

	free(name);
	free(mended);
	free(js);
	free(lb);
	free(raw);
	return 0;
}
