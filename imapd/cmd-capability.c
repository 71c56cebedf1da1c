/*
 * cmd-capability.c - CAPABILITY (RFC 9051 6.1.1) and the capability list
 * used in the greeting and after login.
 *
 * Only what works is advertised: before TLS there is no AUTH= mechanism
 * and LOGINDISABLED is set; STARTTLS only where TLS is configured and not
 * yet on; the extensions only after login.
 */
#include "config.h"

#include "imapd/imapd.h"
#include "spool/spool.h"

void
imapd_capabilities(const struct imapd_session *s, struct buf *b)
{
	bool tls = conn_is_tls(s->conn);
	uint64_t limit;

	(void)buf_puts(b, "IMAP4rev1 IMAP4rev2");
	if (s->state == IMAPD_STATE_NOAUTH) {
		if (!tls && s->srv->tls != NULL)
			(void)buf_puts(b, " STARTTLS");
		if (tls)
			(void)buf_puts(b, " AUTH=PLAIN AUTH=LOGIN");
		else
			(void)buf_puts(b, " LOGINDISABLED");
		(void)buf_puts(b, " SASL-IR LITERAL- ID ENABLE");
		return;
	}
	(void)buf_puts(b, " LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT"
	    " UIDPLUS MOVE CHILDREN SPECIAL-USE CREATE-SPECIAL-USE"
	    " LIST-EXTENDED LIST-STATUS STATUS=SIZE CONDSTORE QRESYNC"
	    " ESEARCH SEARCHRES BINARY MULTIAPPEND UTF8=ACCEPT"
	    " QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE WITHIN"
	    " SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES"
	    " COMPRESS=DEFLATE");
	limit = imapd_spool != NULL ? spool_append_limit(imapd_spool) : 0;
	if (limit == 0 || limit > (uint64_t)conf_int(s->conf,
	    "imapd.literal_max"))
		limit = (uint64_t)conf_int(s->conf, "imapd.literal_max");
	(void)buf_printf(b, " APPENDLIMIT=%llu", (unsigned long long)limit);
}

int
cmd_capability(struct imapd_session *s, struct imap_parser *p)
{
	struct buf b = BUF_INIT(0);

	if (imap_p_eol(p) < 0)
		return CMD_BAD;
	imapd_capabilities(s, &b);
	(void)imapd_untagged(s, "CAPABILITY %s", buf_cstr(&b));
	buf_free(&b);
	return cmd_ok(s, NULL, "CAPABILITY completed");
}
