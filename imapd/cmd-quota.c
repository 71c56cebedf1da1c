/*
 * cmd-quota.c - GETQUOTA, GETQUOTAROOT and SETQUOTA (RFC 9208).  Each
 * user has one quota root, "", over all mailboxes, with the STORAGE (in
 * units of 1024 octets) and MESSAGE resources; unlimited resources are
 * not listed.  Limits are set by the administrator (gmsadm), so SETQUOTA
 * is refused and QUOTASET is not advertised.
 */
#include "config.h"

#include <string.h>

#include "imapd/imapd.h"
#include "spool/spool.h"

/* send_quota - "* QUOTA "" (...)"; returns a spool error or SPOOL_OK. */
static int
send_quota(struct imapd_session *s)
{
	struct spool_quota q;
	const char *sp = "";
	struct buf b = BUF_INIT(0);
	int r;

	memset(&q, 0, sizeof(q));
	r = spool_quota_get(imapd_spool, s->user, &q);
	if (r != SPOOL_OK)
		return r;
	(void)buf_puts(&b, "* QUOTA \"\" (");
	if (q.bytes_limit > 0) {
		(void)buf_printf(&b, "STORAGE %llu %llu",
		    (unsigned long long)((q.bytes_used + 1023) / 1024),
		    (unsigned long long)(q.bytes_limit / 1024));
		sp = " ";
	}
	if (q.messages_limit > 0)
		(void)buf_printf(&b, "%sMESSAGE %llu %llu", sp,
		    (unsigned long long)q.messages_used,
		    (unsigned long long)q.messages_limit);
	(void)buf_puts(&b, ")\r\n");
	(void)imapd_write_buf(s, &b);
	buf_free(&b);
	return SPOOL_OK;
}

int
cmd_getquota(struct imapd_session *s, struct imap_parser *p)
{
	char *root;
	size_t len;
	int r;

	if (imap_p_sp(p) < 0 || imap_p_astring(p, &root, &len) < 0 ||
	    imap_p_eol(p) < 0)
		return CMD_BAD;
	if (len != 0)
		return cmd_no(s, "NONEXISTENT", "No such quota root");
	if ((r = send_quota(s)) != SPOOL_OK)
		return cmd_spool_error(s, r, "getquota");
	return cmd_ok(s, NULL, "GETQUOTA completed");
}

int
cmd_getquotaroot(struct imapd_session *s, struct imap_parser *p)
{
	struct spool_mbox st;
	struct buf b = BUF_INIT(0);
	char *name;
	int r;

	if (imap_p_sp(p) < 0 || imap_p_mailbox(p,
	    (s->enabled & IMAPD_EN_UTF8) != 0, &name) < 0 || imap_p_eol(p) < 0)
		return CMD_BAD;
	memset(&st, 0, sizeof(st));
	r = spool_mailbox_status(imapd_spool, s->user, name, &st);
	if (r != SPOOL_OK)
		return cmd_spool_error(s, r, "getquotaroot");
	(void)buf_puts(&b, "* QUOTAROOT ");
	(void)imap_put_mailbox(s, &b, name);
	(void)buf_puts(&b, " \"\"\r\n");
	(void)imapd_write_buf(s, &b);
	buf_free(&b);
	if ((r = send_quota(s)) != SPOOL_OK)
		return cmd_spool_error(s, r, "getquotaroot");
	return cmd_ok(s, NULL, "GETQUOTAROOT completed");
}

int
cmd_setquota(struct imapd_session *s, struct imap_parser *p)
{
	(void)p;
	return cmd_no(s, "NOPERM", "Quotas are set by the administrator");
}
