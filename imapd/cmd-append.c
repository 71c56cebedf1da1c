/*
 * cmd-append.c - APPEND (RFC 9051 6.3.12) with flags, keywords and date,
 * MULTIAPPEND (RFC 3502: several messages, all or none), literal8 for
 * BINARY (RFC 3516), UIDPLUS APPENDUID and APPENDLIMIT (the reader has
 * refused a too-large literal before "+" already).
 *
 * The messages stay in the command buffer (the reader bounded it); the
 * store copies them in one transaction and returns after the commit.
 */
#include "config.h"

#include <string.h>

#include "imapd/imapd.h"
#include "spool/spool.h"

#define APPEND_MESSAGES_MAX	1000
#define APPEND_FLAGS_MAX	(SPOOL_KEYWORDS_MAX + 8)

/* p_one - one message: [flag-list SP] [date-time SP] literal. */
static int
p_one(struct imapd_session *s, struct imap_parser *p, struct spool_append *a)
{
	char **flags;
	const char **kw;
	size_t nflags, i, nkw = 0;
	int64_t t;
	bool lit8;
	int bit;

	memset(a, 0, sizeof(*a));
	if (imap_p_peek(p, '(')) {
		if (imap_p_flag_list(p, &flags, &nflags, APPEND_FLAGS_MAX) < 0 ||
		    imap_p_sp(p) < 0)
			return -1;
		kw = arena_alloc(&s->arena, (nflags + 1) * sizeof(*kw));
		for (i = 0; i < nflags; i++) {
			bit = imapd_flag_bit(flags[i]);
			if (bit < 0)
				return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
				    "Invalid flag");
			if (bit > 0)
				a->flags |= (uint32_t)bit;
			else
				kw[nkw++] = flags[i];
		}
		a->keywords = kw;
		a->nkeywords = nkw;
	}
	if (imap_p_peek(p, '"')) {
		if (imap_p_datetime(p, &t) < 0 || imap_p_sp(p) < 0)
			return -1;
		a->internal_date = (time_t)t;
		a->tz_offset = p->tz_minutes;
	}
	if (cur_match_ci(&p->c, "UTF8 (")) {
		/* RFC 6855: "UTF8" SP "(" literal8 ")" after ENABLE. */
		if (!(s->enabled & IMAPD_EN_UTF8))
			return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "UTF8 APPEND needs ENABLE UTF8=ACCEPT");
		if (imap_p_literal_data(p, true, (const char **)&a->data,
		    &a->len, &lit8) < 0 || imap_p_expect(p, ')') < 0)
			return -1;
	} else if (imap_p_literal_data(p, true, (const char **)&a->data,
	    &a->len, &lit8) < 0)
		return -1;
	if (a->len == 0)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Empty message");
	return 0;
}

int
cmd_append(struct imapd_session *s, struct imap_parser *p)
{
	struct spool_append *msgs;
	struct buf b = BUF_INIT(0);
	uint32_t uidvalidity, *uids;
	char *name;
	size_t n = 0;
	int r;

	if (imap_p_sp(p) < 0 || imap_p_mailbox(p,
	    (s->enabled & IMAPD_EN_UTF8) != 0, &name) < 0 ||
	    imap_p_sp(p) < 0)
		return CMD_BAD;
	msgs = arena_alloc(&s->arena, APPEND_MESSAGES_MAX * sizeof(*msgs));
	for (;;) {
		if (n == APPEND_MESSAGES_MAX)
			return imap_p_fail(p, IMAP_CODE_LIMIT,
			    "Too many messages");
		if (p_one(s, p, &msgs[n]) < 0)
			return CMD_BAD;
		n++;
		if (!imap_p_accept(p, ' '))
			break;
	}
	if (imap_p_eol(p) < 0)
		return CMD_BAD;
	uids = arena_alloc(&s->arena, n * sizeof(*uids));
	r = spool_append(imapd_spool, s->user, name, msgs, n, &uidvalidity,
	    uids);
	if (r == SPOOL_ENOENT)
		return cmd_no(s, "TRYCREATE", "No such mailbox");
	if (r != SPOOL_OK)
		return cmd_spool_error(s, r, "append");
	(void)buf_printf(&b, "APPENDUID %u ", uidvalidity);
	(void)seqset_format_list(&b, uids, n);
	(void)cmd_ok(s, NULL, "APPEND completed");
	(void)buf_append(&s->resp_code, b.data, b.len);
	buf_free(&b);
	return CMD_DONE;
}
