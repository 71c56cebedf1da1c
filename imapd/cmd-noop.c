/*
 * cmd-noop.c - NOOP (RFC 9051 6.1.2) and CHECK (RFC 3501 6.4.1).  Both
 * only give the dispatcher a chance to report the selected mailbox's
 * changes; every change of the store is durable already, so CHECK has
 * nothing else to do.
 */
#include "config.h"

#include "imapd/imapd.h"

int
cmd_noop(struct imapd_session *s, struct imap_parser *p)
{
	if (imap_p_eol(p) < 0)
		return CMD_BAD;
	return cmd_ok(s, NULL, "NOOP completed");
}

int
cmd_check(struct imapd_session *s, struct imap_parser *p)
{
	if (imap_p_eol(p) < 0)
		return CMD_BAD;
	return cmd_ok(s, NULL, "CHECK completed");
}
