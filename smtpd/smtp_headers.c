/*
 * smtp_headers.c - what gms-smtpd reads in and removes from the header
 * section of a received message (RFC 5322): Authentication-Results
 * fields that claim our authserv-id (RFC 8601 section 5: a receiver must
 * delete them, or a forger could vouch for himself), a field's value for
 * DKIM/DMARC (From), and the domain of the From address that DMARC
 * aligns with.
 *
 * The message reaching here went through the DATA filter, so its lines
 * end in CRLF (BINARYMIME excepted: then bare LFs are simply part of a
 * line).  All scanning goes through explicit lengths.
 */
#include "config.h"

#include <string.h>

#include "smtpd/smtpd.h"

/* line_len - length of the line at p (up to and including CRLF, or to
 * the end of the data). */
static size_t
line_len(const char *p, size_t left)
{
	const char *nl = memchr(p, '\n', left);

	return nl == NULL ? left : (size_t)(nl - p) + 1;
}

/* content_len - a line's length without its CRLF / LF. */
static size_t
content_len(const char *p, size_t n)
{
	if (n > 0 && p[n - 1] == '\n')
		n--;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	return n;
}

/* field_len - the length of the header field at p with its continuation
 * lines; 0 at the end of the header section (empty line or no data). */
static size_t
field_len(const char *p, size_t left)
{
	size_t n, l;

	if (left == 0)
		return 0;
	l = line_len(p, left);
	if (content_len(p, l) == 0)
		return 0;
	n = l;
	while (n < left && (p[n] == ' ' || p[n] == '\t'))
		n += line_len(p + n, left - n);
	return n;
}

/* name_is - does the field at p (n bytes) have this name? */
static bool
name_is(const char *p, size_t n, const char *name, size_t *vstart_r)
{
	size_t k = strlen(name), i;

	if (n <= k || gms_strncasecmp(p, name, k) != 0)
		return false;
	i = k;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i >= n || p[i] != ':')
		return false;
	*vstart_r = i + 1;
	return true;
}

/* ar_is_ours - does an Authentication-Results value start with id? */
static bool
ar_is_ours(const char *v, size_t n, const char *id)
{
	struct cursor c;
	const char *tok;
	size_t tlen, depth;
	int ch;

	cur_init(&c, v, n);
	for (;;) {
		/* Skip folding white space and comments. */
		while ((ch = cur_peek(&c)) == ' ' || ch == '\t' || ch == '\r' ||
		    ch == '\n')
			cur_skip(&c, 1);
		if (ch != '(')
			break;
		depth = 0;
		while ((ch = cur_peek(&c)) >= 0) {
			cur_skip(&c, 1);
			if (ch == '\\' && !cur_eof(&c))
				cur_skip(&c, 1);
			else if (ch == '(')
				depth++;
			else if (ch == ')' && --depth == 0)
				break;
		}
	}
	tlen = cur_take_until(&c, " \t\r\n;(", &tok);
	/* A quoted authserv-id is a value too (RFC 8601 allows it). */
	if (tlen >= 2 && tok[0] == '"' && tok[tlen - 1] == '"') {
		tok++;
		tlen -= 2;
	}
	return tlen == strlen(id) && tlen > 0 && gms_strncasecmp(tok, id, tlen) == 0;
}

int
smtp_headers_filter(const char *msg, size_t len, const char *authserv_id,
    struct buf *out, bool *eight_bit_r, size_t *removed_r)
{
	size_t off = 0, n, vs, i;

	*eight_bit_r = false;
	*removed_r = 0;
	while ((n = field_len(msg + off, len - off)) > 0) {
		for (i = 0; i < n; i++)
			if ((unsigned char)msg[off + i] >= 0x80)
				*eight_bit_r = true;
		if (name_is(msg + off, n, "Authentication-Results", &vs) &&
		    ar_is_ours(msg + off + vs, n - vs, authserv_id)) {
			(*removed_r)++;
		} else if (buf_append(out, msg + off, n) != 0)
			return -1;
		off += n;
	}
	/* The empty line and the body, as they are. */
	if (buf_append(out, msg + off, len - off) != 0)
		return -1;
	return 0;
}

int
smtp_header_get(const char *msg, size_t len, const char *name, char *dst,
    size_t dstlen)
{
	size_t off = 0, n, vs, i, o = 0;
	char ch;

	if (dstlen == 0)
		return 0;
	dst[0] = '\0';
	while ((n = field_len(msg + off, len - off)) > 0) {
		if (name_is(msg + off, n, name, &vs)) {
			/* Unfold: drop CR and LF, keep the rest. */
			for (i = vs; i < n; i++) {
				ch = msg[off + i];
				if (ch == '\r' || ch == '\n')
					continue;
				if (o + 1 >= dstlen)
					break;
				dst[o++] = ch;
			}
			while (o > 0 && (dst[o - 1] == ' ' || dst[o - 1] == '\t'))
				o--;
			i = 0;
			while (i < o && (dst[i] == ' ' || dst[i] == '\t'))
				i++;
			memmove(dst, dst + i, o - i);
			dst[o - i] = '\0';
			return 1;
		}
		off += n;
	}
	return 0;
}

int
smtp_header_count(const char *msg, size_t len, const char *name)
{
	size_t off = 0, n, vs;
	int count = 0;

	while ((n = field_len(msg + off, len - off)) > 0) {
		if (name_is(msg + off, n, name, &vs))
			count++;
		off += n;
	}
	return count;
}

int
smtp_from_address(const char *value, char *dst, size_t dstlen)
{
	struct cursor c;
	const char *addr = NULL, *at = NULL;
	size_t addrlen = 0, depth, i, n;
	bool inq = false, inangle = false;
	int ch, groups = 0;
	const char *start = value;

	if (dstlen == 0)
		return 0;
	dst[0] = '\0';
	cur_init(&c, value, strlen(value));
	/* One pass: find an angle address or the bare address, refuse a
	 * list (a comma outside quotes, comments and angles). */
	while ((ch = cur_peek(&c)) >= 0) {
		if (inq) {
			if (ch == '\\')
				cur_skip(&c, 1);
			else if (ch == '"')
				inq = false;
			cur_skip(&c, 1);
			continue;
		}
		if (ch == '"') {
			inq = true;
		} else if (ch == '(') {
			depth = 0;
			while ((ch = cur_peek(&c)) >= 0) {
				cur_skip(&c, 1);
				if (ch == '\\' && !cur_eof(&c))
					cur_skip(&c, 1);
				else if (ch == '(')
					depth++;
				else if (ch == ')' && --depth == 0)
					break;
			}
			continue;
		} else if (ch == '<' && !inangle) {
			if (addr != NULL)
				return 0;
			inangle = true;
			addr = c.p + 1;
		} else if (ch == '>' && inangle) {
			inangle = false;
			addrlen = (size_t)(c.p - addr);
		} else if (ch == ',' && !inangle) {
			return 0;
		} else if (ch == ':' && !inangle) {
			groups++;
		}
		cur_skip(&c, 1);
	}
	if (inq || inangle || groups > 0)
		return 0;
	if (addr == NULL) {
		/* A bare addr-spec: trim blanks, drop a trailing comment. */
		addr = start;
		addrlen = strcspn(start, "(");
		while (addrlen > 0 && (*addr == ' ' || *addr == '\t')) {
			addr++;
			addrlen--;
		}
		while (addrlen > 0 && (addr[addrlen - 1] == ' ' ||
		    addr[addrlen - 1] == '\t'))
			addrlen--;
	}
	for (i = 0; i < addrlen; i++)
		if (addr[i] == '@')
			at = addr + i;
	if (at == NULL || at == addr)
		return 0;
	n = addrlen - (size_t)(at + 1 - addr);
	if (n == 0 || addrlen >= dstlen || !smtp_domain_valid(at + 1, n, true))
		return 0;
	/* The local part: printable, no blanks (quoted forms are refused). */
	for (i = 0; addr + i < at; i++)
		if ((unsigned char)addr[i] <= ' ' || addr[i] == 0x7f ||
		    addr[i] == '"' || addr[i] == '<' || addr[i] == '>')
			return 0;
	memcpy(dst, addr, addrlen);
	dst[addrlen] = '\0';
	gms_lowercase(dst + (at + 1 - addr));
	return 1;
}

int
smtp_from_domain(const char *value, char *dst, size_t dstlen)
{
	char addr[SMTP_PATH_MAX + 1];
	const char *at;

	if (dstlen == 0)
		return 0;
	dst[0] = '\0';
	if (smtp_from_address(value, addr, sizeof(addr)) != 1)
		return 0;
	at = strrchr(addr, '@');
	if (strlen(at + 1) >= dstlen)
		return 0;
	memcpy(dst, at + 1, strlen(at + 1) + 1);
	return 1;
}
