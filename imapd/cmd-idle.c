/*
 * cmd-idle.c - IDLE (RFC 2177).  The session waits for "DONE" with the
 * selected mailbox's change watch (spool_watch_fd) as the connection's
 * wake fd: when another session or gms-smtpd commits a change, the wait
 * ends with CONN_WAKE within milliseconds, the view is refreshed and the
 * EXISTS / EXPUNGE / FETCH responses go out at once.
 */
#include "config.h"

#include "imapd/imapd.h"
#include "spool/spool.h"

/* idle_report - refresh and flush; -1 when the mailbox went away. */
static int
idle_report(struct imapd_session *s)
{
	if (s->sel == NULL)
		return 0;
	if (imapd_mailbox_sync(s, true) < 0)
		return -1;
	return conn_flush(s->conn) < 0 ? -1 : 0;
}

int
cmd_idle(struct imapd_session *s, struct imap_parser *p)
{
	struct line l;
	int r, ret = CMD_DONE;

	if (imap_p_eol(p) < 0)
		return CMD_BAD;
	if (conn_printf(s->conn, "+ idling\r\n") < 0 ||
	    idle_report(s) < 0)
		return CMD_CLOSE;
	if (s->sel != NULL && s->sel->watch != NULL)
		conn_set_wake_fd(s->conn, spool_watch_fd(s->sel->watch));
	conn_set_timeout(s->conn,
	    (int)conf_int(s->conf, "imapd.idle_timeout") * 1000);
	for (;;) {
		r = conn_getline(s->conn, &l, 1024);
		if (r == CONN_WAKE) {
			if (idle_report(s) < 0) {
				(void)conn_printf(s->conn, "* BYE [UNAVAILABLE]"
				    " The mailbox is no longer available\r\n");
				ret = CMD_CLOSE;
				break;
			}
			continue;
		}
		if (r == CONN_OK && l.end != LINE_NONE) {
			if (!l.too_long && l.len == 4 &&
			    gms_strncasecmp(l.data, "DONE", 4) == 0)
				ret = cmd_ok(s, NULL, "IDLE terminated");
			else
				ret = cmd_bad(s, "CLIENTBUG",
				    "Expected DONE to end IDLE");
			break;
		}
		if (r == CONN_TIMEOUT)
			(void)conn_printf(s->conn, "* BYE Autologout; idle "
			    "for too long\r\n");
		else if (r == CONN_STOP)
			(void)conn_printf(s->conn, "* BYE [UNAVAILABLE] Server "
			    "shutting down\r\n");
		ret = CMD_CLOSE;
		break;
	}
	conn_set_wake_fd(s->conn, -1);
	conn_set_timeout(s->conn,
	    (int)conf_int(s->conf, "imapd.timeout") * 1000);
	if (ret == CMD_CLOSE)
		(void)conn_flush(s->conn);
	return ret;
}
