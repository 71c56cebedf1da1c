/*
 * cmd-create.c - CREATE mailbox [(USE (special-use ...))] (RFC 9051
 * 6.3.4, CREATE-SPECIAL-USE of RFC 6154).  A trailing "/" only says that
 * the client means to create children under it; it is dropped.
 */
#include "config.h"

#include <string.h>

#include "imapd/imapd.h"
#include "spool/spool.h"

/* use_bit - a special-use attribute name to its SPOOL_USE_* bit, or 0. */
static uint32_t
use_bit(const char *flag)
{
	uint32_t bit;

	for (bit = SPOOL_USE_DRAFTS; bit <= SPOOL_USE_FLAGGED; bit <<= 1)
		if (spool_use_name(bit) != NULL &&
		    gms_strcasecmp(spool_use_name(bit), flag) == 0)
			return bit;
	return 0;
}

int
cmd_create(struct imapd_session *s, struct imap_parser *p)
{
	char *name, *kw, **flags;
	size_t len, i, nflags;
	uint32_t use = 0, bit;
	int r;

	if (imap_p_sp(p) < 0 || imap_p_mailbox(p,
	    (s->enabled & IMAPD_EN_UTF8) != 0, &name) < 0)
		return CMD_BAD;
	if (imap_p_accept(p, ' ')) {
		if (imap_p_list_begin(p) < 0 || imap_p_atom(p, &kw) < 0 ||
		    gms_strcasecmp(kw, "USE") != 0 || imap_p_sp(p) < 0 ||
		    imap_p_flag_list(p, &flags, &nflags, 8) < 0 ||
		    imap_p_list_end(p) < 0)
			return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "Expected (USE (...))");
		for (i = 0; i < nflags; i++) {
			bit = use_bit(flags[i]);
			if (bit == 0)
				return cmd_no(s, "USEATTR",
				    "Unsupported special-use attribute");
			use |= bit;
		}
	}
	if (imap_p_eol(p) < 0)
		return CMD_BAD;
	len = strlen(name);
	while (len > 1 && name[len - 1] == '/')
		name[--len] = '\0';
	if (strcmp(name, "INBOX") == 0)
		return cmd_no(s, "ALREADYEXISTS", "INBOX always exists");
	r = spool_mailbox_create(imapd_spool, s->user, name, use);
	if (r != SPOOL_OK)
		return cmd_spool_error(s, r, "create");
	return cmd_ok(s, NULL, "CREATE completed");
}
