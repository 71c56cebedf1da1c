/*
 * cmd-namespace.c - NAMESPACE (RFC 2342): one personal namespace with
 * "/" as separator, no other users' or shared namespaces.
 */
#include "config.h"

#include "imapd/imapd.h"

int
cmd_namespace(struct imapd_session *s, struct imap_parser *p)
{
	if (imap_p_eol(p) < 0)
		return CMD_BAD;
	(void)imapd_untagged(s, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	return cmd_ok(s, NULL, "NAMESPACE completed");
}
