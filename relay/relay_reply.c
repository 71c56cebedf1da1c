/*
 * relay_reply.c - the pure text handling of the SMTP client: the reply
 * parser (multi-line replies, codes, enhanced status codes), the EHLO
 * keywords, RFC 3461 xtext, and two header helpers (header length, hop
 * count).  Everything here reads peer or message text through a cursor
 * and is fuzzed (tests/fuzz/fuzz-relay-reply.c).
 */
#include "config.h"

#include <string.h>

#include "relay/relay.h"

void
relay_reply_init(struct relay_reply *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->text, RELAY_REPLY_MAX_TEXT);
}

void
relay_reply_reset(struct relay_reply *r)
{
	r->code = 0;
	r->enh[0] = '\0';
	r->nlines = 0;
	r->done = false;
	buf_reset(&r->text);
}

void
relay_reply_free(struct relay_reply *r)
{
	buf_free(&r->text);
	relay_reply_reset(r);
}

static bool
is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

/* parse_enh - "C.SSS.DDD" at the start of c when C matches class; copies it. */
static void
parse_enh(struct relay_reply *r, const char *p, size_t len)
{
	size_t i = 0, n, part;

	if (len < 5 || p[0] != '0' + r->code / 100 || p[1] != '.')
		return;
	i = 2;
	for (part = 0; part < 2; part++) {
		n = 0;
		while (i < len && is_digit((unsigned char)p[i]) && n < 3) {
			i++;
			n++;
		}
		if (n == 0)
			return;
		if (part == 0) {
			if (i >= len || p[i] != '.')
				return;
			i++;
		}
	}
	if (i < len && p[i] != ' ' && p[i] != '\t')
		return;
	if (i >= sizeof(r->enh))
		return;
	memcpy(r->enh, p, i);
	r->enh[i] = '\0';
}

int
relay_reply_feed(struct relay_reply *r, const char *line, size_t len)
{
	struct cursor c;
	int code, sep;
	size_t i;

	if (r->done)
		relay_reply_reset(r);
	cur_init(&c, line, len);
	if (c.left < 3)
		return -1;
	for (i = 0; i < 3; i++)
		if (!is_digit((unsigned char)c.p[i]))
			return -1;
	code = (c.p[0] - '0') * 100 + (c.p[1] - '0') * 10 + (c.p[2] - '0');
	if (code < 200 || code > 599)
		return -1;
	if (r->nlines > 0 && code != r->code)
		return -1;
	if (r->nlines >= RELAY_REPLY_MAX_LINES)
		return -1;
	r->code = code;
	cur_skip(&c, 3);
	sep = cur_peek(&c);
	if (sep != -1 && sep != ' ' && sep != '-')
		return -1;
	if (sep != -1)
		cur_skip(&c, 1);
	if (r->nlines == 0)
		parse_enh(r, c.p, c.left);
	if (r->nlines > 0)
		(void)buf_putc(&r->text, '\n');
	/* Over the limit the text is cut; the reply still parses. */
	if (buf_append(&r->text, c.p, c.left) != 0 && r->text.len < r->text.max)
		(void)buf_append(&r->text, c.p, r->text.max - r->text.len);
	r->nlines++;
	if (sep == '-')
		return 0;
	r->done = true;
	return 1;
}

/* keyword - does line (one EHLO line) start with kw followed by end or SP? */
static bool
keyword(struct cursor *c, const char *kw)
{
	struct cursor t = *c;

	if (!cur_match_ci(&t, kw))
		return false;
	if (!cur_eof(&t) && cur_peek(&t) != ' ')
		return false;
	*c = t;
	return true;
}

void
relay_ehlo_parse(const struct relay_reply *r, struct relay_ehlo *e_r)
{
	struct cursor all, c;
	const char *p;
	size_t n;
	uint64_t v;
	bool first = true;

	memset(e_r, 0, sizeof(*e_r));
	if (r->code != 250 || r->text.len == 0)
		return;
	cur_init(&all, r->text.data, r->text.len);
	while (!cur_eof(&all)) {
		n = cur_take_until(&all, "\n", &p);
		if (!cur_eof(&all))
			cur_skip(&all, 1);
		if (first) {
			first = false;
			continue;
		}
		cur_init(&c, p, n);
		if (keyword(&c, "PIPELINING"))
			e_r->pipelining = true;
		else if (keyword(&c, "STARTTLS"))
			e_r->starttls = true;
		else if (keyword(&c, "8BITMIME"))
			e_r->eightbitmime = true;
		else if (keyword(&c, "SMTPUTF8"))
			e_r->smtputf8 = true;
		else if (keyword(&c, "DSN"))
			e_r->dsn = true;
		else if (keyword(&c, "SIZE")) {
			e_r->size = true;
			(void)cur_skip_ws(&c);
			n = cur_take_until(&c, " ", &p);
			if (n > 0 && n <= 20 &&
			    gms_parse_u64(p, n, UINT64_MAX, &v) == 0)
				e_r->size_max = v;
		}
	}
}

static const char hexdig[] = "0123456789ABCDEF";

int
relay_xtext_encode(struct buf *out, const char *s, size_t len)
{
	size_t i;
	unsigned char ch;

	for (i = 0; i < len; i++) {
		ch = (unsigned char)s[i];
		if (ch >= 33 && ch <= 126 && ch != '+' && ch != '=') {
			if (buf_putc(out, ch) != 0)
				return -1;
		} else if (buf_putc(out, '+') != 0 ||
		    buf_putc(out, hexdig[ch >> 4]) != 0 ||
		    buf_putc(out, hexdig[ch & 15]) != 0)
			return -1;
	}
	return 0;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

int
relay_xtext_decode(struct buf *out, const char *s, size_t len)
{
	struct cursor c;
	int hi, lo, ch;

	cur_init(&c, s, len);
	while (!cur_eof(&c)) {
		ch = cur_peek(&c);
		if (ch == '+' && c.left >= 3 &&
		    (hi = hexval((unsigned char)c.p[1])) >= 0 &&
		    (lo = hexval((unsigned char)c.p[2])) >= 0) {
			if (buf_putc(out, hi * 16 + lo) != 0)
				return -1;
			cur_skip(&c, 3);
			continue;
		}
		if (buf_putc(out, ch) != 0)
			return -1;
		cur_skip(&c, 1);
	}
	return 0;
}

size_t
relay_header_len(const char *msg, size_t len)
{
	struct cursor c;
	const char *p;
	size_t n;

	cur_init(&c, msg, len);
	while (!cur_eof(&c)) {
		n = cur_take_until(&c, "\n", &p);
		if (cur_eof(&c))
			break;
		cur_skip(&c, 1);
		if (n == 0 || (n == 1 && p[0] == '\r'))
			return len - c.left;
	}
	return len;
}

unsigned
relay_count_received(const char *msg, size_t len)
{
	struct cursor c, l;
	const char *p;
	size_t n, hlen = relay_header_len(msg, len);
	unsigned count = 0;

	cur_init(&c, msg, hlen);
	while (!cur_eof(&c)) {
		n = cur_take_until(&c, "\n", &p);
		if (!cur_eof(&c))
			cur_skip(&c, 1);
		cur_init(&l, p, n);
		if (cur_match_ci(&l, "Received")) {
			(void)cur_skip_ws(&l);
			if (cur_peek(&l) == ':')
				count++;
		}
	}
	return count;
}
