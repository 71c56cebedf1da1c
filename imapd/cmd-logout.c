/*
 * cmd-logout.c - LOGOUT (RFC 9051 6.1.3): BYE, then the tagged OK, then
 * the session ends (state LOGOUT).
 */
#include "config.h"

#include "imapd/imapd.h"

int
cmd_logout(struct imapd_session *s, struct imap_parser *p)
{
	if (imap_p_eol(p) < 0)
		return CMD_BAD;
	(void)imapd_untagged(s, "BYE Logging out");
	if (s->sel != NULL)
		imapd_mailbox_close(s);
	imapd_enter_state(s, IMAPD_STATE_LOGOUT);
	return cmd_ok(s, NULL, "LOGOUT completed");
}
