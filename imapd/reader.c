/*
 * reader.c - assemble one IMAP command from its line and literals.
 *
 * An IMAP command is a line that may end with a literal announcement
 * "{N}" (synchronising: the client waits for "+"), "{N+}" (non-
 * synchronising, RFC 7888) or the literal8 forms "~{N}"/"~{N+}" (RFC 3516);
 * the literal's N octets follow, then the rest of the command, which may
 * announce another literal.  This file joins all of that into one buffer,
 * exactly as sent, so that the parser (parser.c) works on memory only.
 *
 * Security: every size is decided before it costs anything.  A line is
 * bounded by the line reader (conn_getline consumes an over-long line
 * without buffering it); a literal's size is checked against the literal
 * and command limits before "+" is sent, and for a non-synchronising
 * literal before any of its octets is read.  A too-large synchronising
 * literal is refused without "+" so the client never sends it; a too-large
 * non-synchronising literal cannot be skipped safely (its octets are on the
 * way and may be 2^63 of them), so the caller answers BAD [TOOBIG] and
 * closes the connection.
 */
#include "config.h"

#include <string.h>

#include "imapd/imapd.h"

int
imap_line_literal(const char *line, size_t len, uint64_t *size_r,
    bool *sync_r, bool *lit8_r)
{
	bool in_quote = false;
	size_t i, end, digits_end;

	*size_r = 0;
	*sync_r = true;
	*lit8_r = false;
	/* A "{" inside a quoted string announces nothing. */
	for (i = 0; i < len; i++) {
		if (in_quote) {
			if (line[i] == '\\' && i + 1 < len)
				i++;
			else if (line[i] == '"')
				in_quote = false;
		} else if (line[i] == '"')
			in_quote = true;
	}
	if (in_quote || len < 3 || line[len - 1] != '}')
		return 0;
	end = len - 1;
	if (line[end - 1] == '+') {
		*sync_r = false;
		end--;
	}
	digits_end = end;
	while (end > 0 && line[end - 1] >= '0' && line[end - 1] <= '9')
		end--;
	if (end == digits_end || end == 0 || line[end - 1] != '{') {
		*sync_r = true;
		return 0;
	}
	if (end >= 2 && line[end - 2] == '~')
		*lit8_r = true;
	if (gms_parse_u64(line + end, digits_end - end, UINT64_MAX, size_r) < 0) {
		*size_r = UINT64_MAX;
		return -1;
	}
	return 1;
}

const char *
imap_read_result_name(int r)
{
	static __thread char unknown[32];

	switch (r) {
	case IMAP_READ_OK:		return "ok";
	case IMAP_READ_EOF:		return "eof";
	case IMAP_READ_IOERR:		return "ioerr";
	case IMAP_READ_TOOLONG:		return "line-too-long";
	case IMAP_READ_TOOBIG:		return "too-big";
	case IMAP_READ_TOOBIG_FATAL:	return "nonsync-literal-too-big";
	case IMAP_READ_NUL:		return "nul";
	case IMAP_READ_BADLITERAL:	return "bad-literal";
	default:
		(void)gms_snprintf(unknown, sizeof(unknown), "unknown (%d)", r);
		return unknown;
	}
}

int
imap_read_command(const struct imap_src *src, const struct imap_limits *lim,
    struct buf *cmd, int *io_status_r)
{
	struct line l;
	uint64_t size;
	bool sync, lit8, first = true;
	int r, lr;

	buf_reset(cmd);
	*io_status_r = CONN_OK;
	for (;;) {
		r = src->getline(src->arg, &l, lim->line_max);
		if (r != CONN_OK) {
			*io_status_r = r;
			return r == CONN_EOF && first ? IMAP_READ_EOF :
			    IMAP_READ_IOERR;
		}
		if (l.end == LINE_NONE) {
			/* EOF in the middle of a line: the command never ended. */
			*io_status_r = CONN_EOF;
			return first ? IMAP_READ_EOF : IMAP_READ_IOERR;
		}
		if (l.too_long)
			return IMAP_READ_TOOLONG;
		if (cmd->len > lim->command_max ||
		    l.len + 2 > lim->command_max - cmd->len)
			return IMAP_READ_TOOBIG;
		if (buf_append(cmd, l.data, l.len) < 0)
			return IMAP_READ_TOOBIG;
		if (l.has_nul)
			return IMAP_READ_NUL;
		first = false;
		lr = imap_line_literal(l.data, l.len, &size, &sync, &lit8);
		if (lr == 0)
			return IMAP_READ_OK;
		if (buf_append(cmd, "\r\n", 2) < 0)
			return IMAP_READ_TOOBIG;
		/* Decide the size before "+" or before reading any octet. */
		if (lr < 0 || size > lim->literal_max ||
		    size > lim->command_max - cmd->len)
			return sync ? IMAP_READ_TOOBIG : IMAP_READ_TOOBIG_FATAL;
		if (sync && src->cont != NULL &&
		    src->cont(src->arg, "Ready for literal data") < 0) {
			*io_status_r = CONN_ERR;
			return IMAP_READ_IOERR;
		}
		if (size > 0) {
			if (buf_reserve(cmd, (size_t)size) < 0)
				return IMAP_READ_TOOBIG;
			r = src->read_exact(src->arg, cmd->data + cmd->len,
			    (size_t)size);
			if (r != CONN_OK) {
				*io_status_r = r == 0 ? CONN_EOF : r;
				return IMAP_READ_IOERR;
			}
			cmd->len += (size_t)size;
			cmd->data[cmd->len] = '\0';
		}
	}
}

/* ------------------------------------------------------------------ */
/* The memory source. */

/* mem_getline - conn_getline() over memory. */
static int
mem_getline(void *arg, struct line *l, size_t max)
{
	struct imap_memsrc *m = arg;
	const char *nl;
	size_t n, take;

	if (m->in.left == 0)
		return CONN_EOF;
	nl = memchr(m->in.p, '\n', m->in.left);
	n = nl != NULL ? (size_t)(nl - m->in.p) : m->in.left;
	memset(l, 0, sizeof(*l));
	if (nl == NULL)
		l->end = LINE_NONE;
	else if (n > 0 && m->in.p[n - 1] == '\r') {
		l->end = LINE_CRLF;
		n--;
	} else
		l->end = LINE_LF;
	take = n > max ? max : n;
	buf_reset(&m->line);
	if (buf_append(&m->line, m->in.p, take) < 0)
		return CONN_ERR;
	l->data = buf_cstr(&m->line);
	l->len = take;
	l->too_long = n > max;
	l->has_nul = memchr(m->in.p, '\0', take) != NULL;
	cur_skip(&m->in, n + (l->end == LINE_CRLF ? 2 :
	    l->end == LINE_LF ? 1 : 0));
	return CONN_OK;
}

/* mem_read_exact - conn_read_exact() over memory. */
static int
mem_read_exact(void *arg, void *dst, size_t n)
{
	struct imap_memsrc *m = arg;

	if (m->in.left < n) {
		cur_skip(&m->in, m->in.left);
		return CONN_EOF;
	}
	memcpy(dst, m->in.p, n);
	cur_skip(&m->in, n);
	return CONN_OK;
}

/* mem_cont - record a continuation request. */
static int
mem_cont(void *arg, const char *text)
{
	struct imap_memsrc *m = arg;

	return buf_printf(&m->sent, "+ %s\r\n", text);
}

void
imap_memsrc_init(struct imap_memsrc *m, struct imap_src *src,
    const char *data, size_t len)
{
	cur_init(&m->in, data, len);
	buf_init(&m->sent, 0);
	buf_init(&m->line, 0);
	src->getline = mem_getline;
	src->read_exact = mem_read_exact;
	src->cont = mem_cont;
	src->arg = m;
}

void
imap_memsrc_free(struct imap_memsrc *m)
{
	buf_free(&m->sent);
	buf_free(&m->line);
}
