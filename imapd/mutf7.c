/*
 * mutf7.c - modified UTF-7 mailbox names (RFC 3501 section 5.1.3) and a
 * UTF-8 validator.
 *
 * The store keeps names in UTF-8.  Clients that did not ENABLE UTF8=ACCEPT
 * send and expect modified UTF-7: printable ASCII as itself, "&" as "&-",
 * and anything else as "&" + base64 (with "," for "/") of UTF-16BE + "-".
 */
#include "config.h"

#include <string.h>

#include "imapd/imapd.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* b64val - value of a modified-base64 character, -1 if none. */
static int
b64val(int ch)
{
	const char *p;

	if (ch == 0)
		return -1;
	p = strchr(b64, ch);
	return p != NULL ? (int)(p - b64) : -1;
}

/* put_utf8 - append code point cp as UTF-8. */
static int
put_utf8(struct buf *out, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, u, n);
}

int
mutf7_decode(struct buf *out, const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char ch = (unsigned char)s[i];
		uint32_t bits = 0, hi = 0;
		int nbits = 0, v;
		size_t start;

		if (ch < 0x20 || ch > 0x7e)
			return -1;
		if (ch != '&') {
			if (buf_putc(out, ch) < 0)
				return -1;
			i++;
			continue;
		}
		i++;
		if (i < len && s[i] == '-') {
			if (buf_putc(out, '&') < 0)
				return -1;
			i++;
			continue;
		}
		start = i;
		while (i < len && s[i] != '-') {
			if ((v = b64val((unsigned char)s[i])) < 0)
				return -1;
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits >= 16) {
				uint32_t u;

				nbits -= 16;
				u = (bits >> nbits) & 0xffff;
				if (u >= 0xd800 && u <= 0xdbff) {
					if (hi != 0)
						return -1;
					hi = u;
				} else if (u >= 0xdc00 && u <= 0xdfff) {
					if (hi == 0)
						return -1;
					if (put_utf8(out, 0x10000 +
					    ((hi - 0xd800) << 10) +
					    (u - 0xdc00)) < 0)
						return -1;
					hi = 0;
				} else {
					/* Printable ASCII must not be encoded. */
					if (hi != 0 || (u >= 0x20 && u <= 0x7e))
						return -1;
					if (put_utf8(out, u) < 0)
						return -1;
				}
			}
			i++;
		}
		/* Needs the "-", no dangling surrogate, leftover bits zero. */
		if (i >= len || i == start || hi != 0 || nbits >= 6 ||
		    (bits & ((1u << nbits) - 1)) != 0)
			return -1;
		i++;
	}
	return 0;
}

/* utf8_next - decode one code point; returns its length or 0 if bad. */
static size_t
utf8_next(const unsigned char *s, size_t len, uint32_t *cp_r)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and out-of-range values are invalid. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

bool
utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		n = utf8_next(u + i, len - i, &cp);
		if (n == 0 || cp < 0x20 || cp == 0x7f)
			return false;
		i += n;
	}
	return true;
}

/* flush_b64 - write UTF-16 units as modified base64 and "-". */
static int
flush_b64(struct buf *out, const uint16_t *u, size_t n)
{
	uint32_t bits = 0;
	int nbits = 0;
	size_t i;

	if (buf_putc(out, '&') < 0)
		return -1;
	for (i = 0; i < n; i++) {
		bits = (bits << 16) | u[i];
		nbits += 16;
		while (nbits >= 6) {
			nbits -= 6;
			if (buf_putc(out, b64[(bits >> nbits) & 0x3f]) < 0)
				return -1;
		}
	}
	if (nbits > 0 && buf_putc(out, b64[(bits << (6 - nbits)) & 0x3f]) < 0)
		return -1;
	return buf_putc(out, '-');
}

int
mutf7_encode(struct buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint16_t units[1024];
	size_t i = 0, nu = 0, n;
	uint32_t cp;

	while (i < len) {
		n = utf8_next(p + i, len - i, &cp);
		if (n == 0)
			return -1;
		i += n;
		if (cp >= 0x20 && cp <= 0x7e) {
			if (nu > 0 && flush_b64(out, units, nu) < 0)
				return -1;
			nu = 0;
			if (cp == '&' ? buf_puts(out, "&-") < 0 :
			    buf_putc(out, (int)cp) < 0)
				return -1;
			continue;
		}
		if (nu + 2 > GMS_NELEM(units)) {
			if (flush_b64(out, units, nu) < 0)
				return -1;
			nu = 0;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			units[nu++] = (uint16_t)(0xd800 + (cp >> 10));
			units[nu++] = (uint16_t)(0xdc00 + (cp & 0x3ff));
		} else
			units[nu++] = (uint16_t)cp;
	}
	if (nu > 0 && flush_b64(out, units, nu) < 0)
		return -1;
	return 0;
}
