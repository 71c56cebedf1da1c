/*
 * cmd-login.c - LOGIN userid password (RFC 9051 6.2.3).
 *
 * Only reachable over TLS (the dispatcher answers NO [PRIVACYREQUIRED]
 * before; CAPABILITY says LOGINDISABLED).  The password is copied into the
 * per-command arena by the parser and wiped there before we return.
 */
#include "config.h"

#include <string.h>

#include "imapd/imapd.h"

int
cmd_login(struct imapd_session *s, struct imap_parser *p)
{
	char *user, *pass, *canon;
	size_t ulen, plen;
	int r;

	if (imap_p_sp(p) < 0 || imap_p_astring(p, &user, &ulen) < 0 ||
	    imap_p_sp(p) < 0 || imap_p_astring(p, &pass, &plen) < 0 ||
	    imap_p_eol(p) < 0)
		return CMD_BAD;
	r = imapd_check_password(s, user, pass, plen, &canon);
	gms_wipe(pass, plen);
	/* The command buffer holds the password too. */
	gms_wipe(s->cmdbuf.data, s->cmdbuf.len);
	switch (r) {
	case 1:
		imapd_login_done(s, canon);
		return CMD_DONE;
	case -1:
		return cmd_no(s, "UNAVAILABLE", "Temporary failure, try again");
	default:
		s->auth_failures++;
		return cmd_no(s, "AUTHENTICATIONFAILED",
		    "Authentication failed");
	}
}
