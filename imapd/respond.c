/*
 * respond.c - writing IMAP responses: untagged lines, strings as quoted
 * strings or literals, mailbox names in the client's encoding.
 *
 * Strings that come from the store or from other people's mail (subjects,
 * addresses, names) are never written raw: imap_put_string() picks a
 * quoted string only for short, printable text and a literal otherwise,
 * so no peer-controlled byte can end a response line early.
 */
#include "config.h"

#include <string.h>

#include "imapd/imapd.h"

int
imapd_untagged(struct imapd_session *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT(0);
	va_list ap;
	int r;

	(void)buf_puts(&b, "* ");
	va_start(ap, fmt);
	r = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (r == 0)
		r = buf_puts(&b, "\r\n");
	if (r == 0)
		r = conn_write(s->conn, b.data, b.len);
	buf_free(&b);
	return r < 0 ? -1 : 0;
}

int
imapd_write_buf(struct imapd_session *s, const struct buf *b)
{
	if (b->len == 0)
		return 0;
	return conn_write(s->conn, b->data, b->len) < 0 ? -1 : 0;
}

/* needs_literal - true when s cannot be a quoted string. */
static bool
needs_literal(const char *s, size_t len, bool utf8)
{
	size_t i;

	if (len > 1024)
		return true;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\0' || ch == '\r' || ch == '\n')
			return true;
		if (ch >= 0x80 && !utf8)
			return true;
	}
	if (utf8 && !utf8_valid(s, len)) {
		/* Controls other than CR/LF are fine in a quoted string only
		 * as TEXT-CHAR; fall back to a literal for anything odd. */
		for (i = 0; i < len; i++)
			if ((unsigned char)s[i] >= 0x80)
				return true;
	}
	return false;
}

int
imap_put_string(struct buf *b, const char *s, size_t len, bool utf8)
{
	size_t i;

	if (needs_literal(s, len, utf8)) {
		if (buf_printf(b, "{%zu}\r\n", len) < 0)
			return -1;
		return buf_append(b, s, len);
	}
	if (buf_putc(b, '"') < 0)
		return -1;
	for (i = 0; i < len; i++) {
		if ((s[i] == '"' || s[i] == '\\') && buf_putc(b, '\\') < 0)
			return -1;
		if (buf_putc(b, s[i]) < 0)
			return -1;
	}
	return buf_putc(b, '"');
}

int
imap_put_nstring(struct buf *b, const char *s, size_t len, bool utf8)
{
	if (s == NULL)
		return buf_puts(b, "NIL");
	return imap_put_string(b, s, len, utf8);
}

int
imap_put_astring(struct buf *b, const char *s, size_t len, bool utf8)
{
	size_t i;
	bool atom = len > 0 && len < 256 &&
	    !(len == 3 && gms_strncasecmp(s, "NIL", 3) == 0);

	for (i = 0; atom && i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch >= 0x7f || strchr("(){%*\"\\]", ch) != NULL)
			atom = false;
	}
	if (atom)
		return buf_append(b, s, len);
	return imap_put_string(b, s, len, utf8);
}

int
imap_put_mailbox(struct imapd_session *s, struct buf *b, const char *name)
{
	struct buf enc = BUF_INIT(0);
	bool utf8 = (s->enabled & IMAPD_EN_UTF8) != 0;
	int r;

	if (utf8)
		return imap_put_string(b, name, strlen(name), true);
	if (mutf7_encode(&enc, name, strlen(name)) < 0) {
		buf_free(&enc);
		return imap_put_string(b, name, strlen(name), false);
	}
	r = imap_put_string(b, buf_cstr(&enc), enc.len, false);
	buf_free(&enc);
	return r;
}
