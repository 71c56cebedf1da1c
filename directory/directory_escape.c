/*
 * directory_escape.c - the two places where a value enters LDAP syntax.
 *
 * Every value that goes into a search filter passes dir_escape_filter()
 * (RFC 4515) and every value that goes into a DN passes dir_escape_dn()
 * (RFC 4514).  Both are deliberately stricter than the RFCs require: any
 * byte that is not plain printable ASCII is hex-escaped, so no input, not
 * even invalid UTF-8 or a NUL, can change a filter's or DN's structure.
 * Unit-tested in tests/unit/test-directory-escape.c.
 */
#include "config.h"

#include <string.h>

#include "gms.h"
#include "directory/directory-private.h"

static const char hexdigits_lower[] = "0123456789abcdef";
static const char hexdigits_upper[] = "0123456789ABCDEF";

/* put_hex - append "\\XX" for byte c using the digit set hex. */
static int
put_hex(struct buf *out, unsigned char c, const char *hex)
{
	char e[3];

	e[0] = '\\';
	e[1] = hex[c >> 4];
	e[2] = hex[c & 0x0f];
	return buf_append(out, e, sizeof(e));
}

int
dir_escape_filter(struct buf *out, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '*' || c == '(' || c == ')' || c == '\\' ||
		    c < 0x20 || c >= 0x7f) {
			if (put_hex(out, c, hexdigits_lower) < 0)
				return -1;
		} else if (buf_putc(out, c) < 0)
			return -1;
	}
	return 0;
}

int
dir_escape_dn(struct buf *out, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int r;

		if (c < 0x20 || c >= 0x7f) {
			r = put_hex(out, c, hexdigits_upper);
		} else if (c == '"' || c == '+' || c == ',' || c == ';' ||
		    c == '<' || c == '>' || c == '\\' || c == '=' ||
		    (i == 0 && (c == ' ' || c == '#')) ||
		    (i == len - 1 && c == ' ')) {
			char e[2] = { '\\', (char)c };

			r = buf_append(out, e, sizeof(e));
		} else
			r = buf_putc(out, c);
		if (r < 0)
			return -1;
	}
	return 0;
}
