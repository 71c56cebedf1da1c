/*
 * smtp_data.c - the byte filter that reads a message after DATA or in
 * BDAT chunks.
 *
 * It is a pure state machine over the bytes the client sends, so that
 * the end of a message is decided in one place that is tested one byte
 * at a time and fuzzed.  Security: the end of DATA is only CRLF "." CRLF
 * (the CRLF that ends the previous line counts, so an empty message is
 * ".\r\n" right after DATA).  A bare LF or a bare CR is never a line end
 * here, whatever follows it: that closes the 2023 "SMTP smuggling"
 * family (\n.\n, \n.\r\n, \r.\r, \r\n.\r, \r\n.\n), because a message
 * that contains one is either rejected whole (5.5.2, the default) or has
 * it turned into CRLF in the stored copy without ever ending the data.
 * The size is counted while streaming; past the limit, or after an
 * error, nothing more is stored but the stream is still followed to its
 * end so that the session stays in step with the client.
 */
#include "config.h"

#include <string.h>

#include "smtpd/smtpd.h"

enum {
	D_BOL = 0,	/* at the start of a line (after CRLF) */
	D_TEXT,		/* inside a line */
	D_CR,		/* a CR seen inside a line, LF expected */
	D_DOT,		/* "." at the start of a line */
	D_DOTCR,	/* ".\r" at the start of a line */
};

void
smtp_data_init(struct smtp_data *d, struct buf *out, uint64_t max,
    bool dotted, bool normalise, bool binary)
{
	memset(d, 0, sizeof(*d));
	d->out = out;
	d->max = max;
	d->dotted = dotted;
	d->normalise = normalise;
	d->binary = binary;
	d->state = dotted ? D_BOL : D_TEXT;
}

/* emit - store n bytes of message text, counting them. */
static void
emit(struct smtp_data *d, const char *p, size_t n)
{
	if (d->size > UINT64_MAX - n)
		d->size = UINT64_MAX;
	else
		d->size += n;
	if (d->size > d->max)
		d->errors |= SMTP_DATA_ERR_SIZE;
	if (d->errors != 0)
		return;
	if (buf_append(d->out, p, n) != 0)
		d->errors |= SMTP_DATA_ERR_SIZE;
}

/* line_end - a real CRLF was seen: emit it and reset the line length. */
static void
line_end(struct smtp_data *d)
{
	emit(d, "\r\n", 2);
	d->linelen = 0;
}

/* bare - a bare CR or LF: an error, or a CRLF by policy. */
static void
bare(struct smtp_data *d, unsigned int err)
{
	if (d->normalise) {
		emit(d, "\r\n", 2);
		d->linelen = 0;
	} else
		d->errors |= err;
}

/* text - one byte inside a line (state D_TEXT). */
static void
text(struct smtp_data *d, char ch)
{
	if (ch == '\r') {
		d->state = D_CR;
		return;
	}
	if (ch == '\n') {
		/* Security: never a line end, never BOL afterwards. */
		bare(d, SMTP_DATA_ERR_BARE_LF);
		d->state = D_TEXT;
		return;
	}
	if (ch == '\0')
		d->errors |= SMTP_DATA_ERR_NUL;
	if (d->max_line != 0 && ++d->linelen > d->max_line)
		d->errors |= SMTP_DATA_ERR_LINE;
	emit(d, &ch, 1);
	d->state = D_TEXT;
}

int
smtp_data_feed(struct smtp_data *d, const char *p, size_t n, size_t *used_r)
{
	size_t i;
	char ch;

	if (d->binary && !d->dotted) {
		emit(d, p, n);
		*used_r = n;
		return 0;
	}
	for (i = 0; i < n; i++) {
		ch = p[i];
		switch (d->state) {
		case D_BOL:
			if (d->dotted && ch == '.') {
				d->state = D_DOT;
				break;
			}
			d->state = D_TEXT;
			text(d, ch);
			break;
		case D_TEXT:
			text(d, ch);
			break;
		case D_CR:
			if (ch == '\n') {
				line_end(d);
				d->state = d->dotted ? D_BOL : D_TEXT;
				break;
			}
			/* The CR was bare; the byte after it is plain text
			 * (a CR again starts a new wait for LF). */
			bare(d, SMTP_DATA_ERR_BARE_CR);
			d->state = D_TEXT;
			text(d, ch);
			break;
		case D_DOT:
			if (ch == '\r') {
				d->state = D_DOTCR;
				break;
			}
			/* Dot-stuffing: the leading dot is dropped. */
			d->state = D_TEXT;
			text(d, ch);
			break;
		case D_DOTCR:
			if (ch == '\n') {
				*used_r = i + 1;
				d->state = D_BOL;
				return 1;
			}
			/* ".\r" then something else: the dot was stuffing and
			 * the CR is bare. */
			bare(d, SMTP_DATA_ERR_BARE_CR);
			d->state = D_TEXT;
			text(d, ch);
			break;
		default:
			panic("smtp_data_feed: bad state %d", d->state);
		}
	}
	*used_r = n;
	return 0;
}

void
smtp_data_finish(struct smtp_data *d)
{
	if (d->state == D_CR || d->state == D_DOTCR) {
		bare(d, SMTP_DATA_ERR_BARE_CR);
		d->state = D_TEXT;
	}
}
