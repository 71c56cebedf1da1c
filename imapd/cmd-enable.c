/*
 * cmd-enable.c - ENABLE (RFC 5161) for CONDSTORE, QRESYNC (which implies
 * CONDSTORE), IMAP4rev2 and UTF8=ACCEPT.  Unknown names are ignored as
 * the RFC says; "* ENABLED" lists what this command newly enabled.
 */
#include "config.h"

#include "imapd/imapd.h"

int
cmd_enable(struct imapd_session *s, struct imap_parser *p)
{
	static const struct { const char *name; unsigned int bit; } ext[] = {
		{ "CONDSTORE", IMAPD_EN_CONDSTORE },
		{ "QRESYNC", IMAPD_EN_QRESYNC | IMAPD_EN_CONDSTORE },
		{ "IMAP4rev2", IMAPD_EN_IMAP4REV2 },
		{ "UTF8=ACCEPT", IMAPD_EN_UTF8 },
	};
	struct buf out = BUF_INIT(0);
	char *name;
	size_t i, n = 0;

	while (imap_p_accept(p, ' ')) {
		if (++n > 32 || imap_p_atom(p, &name) < 0) {
			buf_free(&out);
			return n > 32 ? imap_p_fail(p, IMAP_CODE_LIMIT,
			    "Too many names") : CMD_BAD;
		}
		for (i = 0; i < GMS_NELEM(ext); i++) {
			if (gms_strcasecmp(name, ext[i].name) != 0)
				continue;
			if ((s->enabled & ext[i].bit) != ext[i].bit) {
				s->enabled |= ext[i].bit;
				(void)buf_printf(&out, " %s", ext[i].name);
			}
		}
	}
	if (n == 0 || imap_p_eol(p) < 0) {
		buf_free(&out);
		return n == 0 ? imap_p_fail(p, IMAP_CODE_CLIENTBUG,
		    "ENABLE needs a name") : CMD_BAD;
	}
	(void)imapd_untagged(s, "ENABLED%s", buf_cstr(&out));
	buf_free(&out);
	return cmd_ok(s, NULL, "ENABLE completed");
}
