/*
 * cmd-delete.c - DELETE mailbox (RFC 9051 6.3.5).  INBOX cannot be
 * deleted; a mailbox with children becomes \Noselect (the store decides).
 * Deleting the mailbox this session has selected leaves the selection
 * first, so that this session is not told BYE about its own deed.
 */
#include "config.h"

#include <string.h>

#include "imapd/imapd.h"
#include "spool/spool.h"

int
cmd_delete(struct imapd_session *s, struct imap_parser *p)
{
	char *name;
	int r;

	if (imap_p_sp(p) < 0 || imap_p_mailbox(p,
	    (s->enabled & IMAPD_EN_UTF8) != 0, &name) < 0 ||
	    imap_p_eol(p) < 0)
		return CMD_BAD;
	if (strcmp(name, "INBOX") == 0)
		return cmd_no(s, "CANNOT", "INBOX cannot be deleted");
	if (s->sel != NULL && strcmp(s->sel->name, name) == 0)
		imapd_mailbox_close(s);
	r = spool_mailbox_delete(imapd_spool, s->user, name);
	if (r != SPOOL_OK)
		return cmd_spool_error(s, r, "delete");
	return cmd_ok(s, NULL, "DELETE completed");
}
