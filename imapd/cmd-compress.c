/*
 * cmd-compress.c - COMPRESS (RFC 4978): DEFLATE on the whole connection.
 *
 * Valid once authenticated (and, like every command after login, only
 * under TLS here, so compression always sits above TLS).  The tagged OK
 * goes out uncompressed; conn_start_deflate() flushes it, then compresses
 * every later response and inflates everything the client sent after the
 * CRLF of this command, including bytes it pipelined already.  A second
 * COMPRESS gets NO [COMPRESSIONACTIVE]; an unknown mechanism gets BAD.
 * STARTTLS cannot follow: it is a not-authenticated command, and the
 * connection layer refuses TLS over compression anyway.
 */
#include "config.h"

#include "imapd/imapd.h"

/* zlib's default level (6): a good ratio for mail text at modest CPU. */
#define IMAPD_COMPRESS_LEVEL	6

int
cmd_compress(struct imapd_session *s, struct imap_parser *p)
{
	char *mech;

	if (imap_p_sp(p) < 0 || imap_p_atom(p, &mech) < 0 ||
	    imap_p_eol(p) < 0)
		return CMD_BAD;
	if (gms_strcasecmp(mech, "DEFLATE") != 0)
		return cmd_bad(s, "CLIENTBUG", "Unknown compression mechanism");
	if (conn_is_deflate(s->conn))
		return cmd_no(s, "COMPRESSIONACTIVE",
		    "DEFLATE is active already");
	if (conn_printf(s->conn, "%s OK DEFLATE active\r\n", s->tag) < 0)
		return CMD_CLOSE;
	if (conn_start_deflate(s->conn, IMAPD_COMPRESS_LEVEL) < 0) {
		log_info("COMPRESS failed user=%s", s->user != NULL ?
		    s->user : "-");
		return CMD_CLOSE;
	}
	log_trace(TRACE_IMAP, "compress deflate level=%d",
	    IMAPD_COMPRESS_LEVEL);
	return CMD_SENT;
}
