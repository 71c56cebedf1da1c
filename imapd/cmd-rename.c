/*
 * cmd-rename.c - RENAME from to (RFC 9051 6.3.6): children move along;
 * renaming INBOX moves its messages into a new mailbox (the store does
 * both).
 */
#include "config.h"

#include "imapd/imapd.h"
#include "spool/spool.h"

int
cmd_rename(struct imapd_session *s, struct imap_parser *p)
{
	bool utf8 = (s->enabled & IMAPD_EN_UTF8) != 0;
	char *from, *to;
	int r;

	if (imap_p_sp(p) < 0 || imap_p_mailbox(p, utf8, &from) < 0 ||
	    imap_p_sp(p) < 0 || imap_p_mailbox(p, utf8, &to) < 0 ||
	    imap_p_eol(p) < 0)
		return CMD_BAD;
	r = spool_mailbox_rename(imapd_spool, s->user, from, to);
	if (r != SPOOL_OK)
		return cmd_spool_error(s, r, "rename");
	return cmd_ok(s, NULL, "RENAME completed");
}
