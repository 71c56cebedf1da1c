/*
 * cmd-subscribe.c - SUBSCRIBE and UNSUBSCRIBE (RFC 9051 6.3.7, 6.3.8).
 * Subscriptions are names, independent of the mailboxes' existence.
 */
#include "config.h"

#include "imapd/imapd.h"
#include "spool/spool.h"

/* do_sub - parse the name and (un)subscribe. */
static int
do_sub(struct imapd_session *s, struct imap_parser *p, bool on)
{
	char *name;
	int r;

	if (imap_p_sp(p) < 0 || imap_p_mailbox(p,
	    (s->enabled & IMAPD_EN_UTF8) != 0, &name) < 0 ||
	    imap_p_eol(p) < 0)
		return CMD_BAD;
	r = on ? spool_subscribe(imapd_spool, s->user, name) :
	    spool_unsubscribe(imapd_spool, s->user, name);
	if (r == SPOOL_ENOENT && !on)
		return cmd_no(s, "NONEXISTENT", "Not subscribed");
	if (r != SPOOL_OK)
		return cmd_spool_error(s, r, on ? "subscribe" : "unsubscribe");
	return cmd_ok(s, NULL, "%s completed", on ? "SUBSCRIBE" :
	    "UNSUBSCRIBE");
}

int
cmd_subscribe(struct imapd_session *s, struct imap_parser *p)
{
	return do_sub(s, p, true);
}

int
cmd_unsubscribe(struct imapd_session *s, struct imap_parser *p)
{
	return do_sub(s, p, false);
}
