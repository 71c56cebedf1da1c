/*
 * cmd-close.c - CLOSE (RFC 9051 6.4.1: expunge silently unless read-only,
 * then leave the selected state) and UNSELECT (RFC 3691: leave without
 * expunging).
 */
#include "config.h"

#include "imapd/imapd.h"
#include "spool/spool.h"

int
cmd_close(struct imapd_session *s, struct imap_parser *p)
{
	int r;

	if (imap_p_eol(p) < 0)
		return CMD_BAD;
	if (!s->sel->readonly) {
		r = spool_expunge(s->sel->view, NULL, 0, NULL);
		if (r != SPOOL_OK && r != SPOOL_EPERM)
			log_warnx("CLOSE expunge failed user=%s err=%s",
			    s->user, spool_err_name(r));
	}
	imapd_mailbox_close(s);
	return cmd_ok(s, NULL, "CLOSE completed");
}

int
cmd_unselect(struct imapd_session *s, struct imap_parser *p)
{
	if (imap_p_eol(p) < 0)
		return CMD_BAD;
	imapd_mailbox_close(s);
	return cmd_ok(s, NULL, "UNSELECT completed");
}
