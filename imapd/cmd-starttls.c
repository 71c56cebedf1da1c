/*
 * cmd-starttls.c - STARTTLS (RFC 9051 6.2.1).
 *
 * Security: whatever the client pipelined after STARTTLS in plaintext is
 * thrown away by conn_starttls_server() (an injection defence), and the
 * capabilities must be asked for again (the client does so).
 */
#include "config.h"

#include "imapd/imapd.h"

int
cmd_starttls(struct imapd_session *s, struct imap_parser *p)
{
	size_t discarded = 0;

	if (imap_p_eol(p) < 0)
		return CMD_BAD;
	if (conn_is_tls(s->conn))
		return cmd_bad(s, "CLIENTBUG", "TLS is already active");
	if (s->srv->tls == NULL)
		return cmd_no(s, "UNAVAILABLE", "TLS is not configured");
	if (conn_printf(s->conn, "%s OK Begin TLS negotiation now\r\n",
	    s->tag) < 0 || conn_flush(s->conn) < 0)
		return CMD_CLOSE;
	if (conn_starttls_server(s->conn, s->srv->tls, &discarded) < 0) {
		log_info("STARTTLS handshake failed peer=%s",
		    s->srv->peer_addr);
		return CMD_CLOSE;
	}
	if (discarded > 0)
		log_info("STARTTLS discarded=%zu bytes of pipelined plaintext",
		    discarded);
	log_trace(TRACE_IMAP, "tls %s", conn_tls_info(s->conn));
	return CMD_SENT;
}
