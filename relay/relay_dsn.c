/*
 * relay_dsn.c - delivery status notifications (RFC 3464, RFC 3461) as the
 * queue runner sends them: a multipart/report with a short text for
 * people, the machine-readable message/delivery-status part, and the
 * original message or its header.  Pure text building: the runner decides
 * who gets one and queues it.  Everything taken from a peer (its replies)
 * or from the envelope is made single-line printable ASCII first, so that
 * nothing a remote server answers can add header fields or MIME parts.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "relay/relay.h"

const char *
relay_dsn_action_name(int a)
{
	static __thread char unknown[32];

	switch (a) {
	case RELAY_DSN_FAILED:		return "failed";
	case RELAY_DSN_DELAYED:		return "delayed";
	case RELAY_DSN_DELIVERED:	return "delivered";
	case RELAY_DSN_RELAYED:		return "relayed";
	default:
		(void)gms_snprintf(unknown, sizeof(unknown), "unknown (%d)", a);
		return unknown;
	}
}

/* put_safe - append s as printable ASCII on one line, at most max bytes. */
static int
put_safe(struct buf *b, const char *s, size_t max)
{
	size_t i;
	unsigned char ch;
	int r = 0;

	for (i = 0; s != NULL && s[i] != '\0' && i < max; i++) {
		ch = (unsigned char)s[i];
		if (ch == '\r' || ch == '\n' || ch == '\t')
			ch = ' ';
		else if (ch < 32 || ch > 126)
			ch = '?';
		r |= buf_putc(b, ch);
	}
	if (s != NULL && s[i] != '\0')
		r |= buf_puts(b, "...");
	return r;
}

/* put_date - an RFC 5322 date in UTC. */
static int
put_date(struct buf *b, time_t t)
{
	struct tm tm;
	char s[64];
	static const char *const days[] =
	    { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	if (gms_snprintf(s, sizeof(s), "%s, %d %s %d %02d:%02d:%02d +0000",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec) != 0)
		return -1;
	return buf_puts(b, s);
}

/* put_orcpt - "Original-Recipient: type;decoded" from "type;xtext". */
static int
put_orcpt(struct buf *b, const char *orcpt)
{
	struct buf dec = BUF_INIT(1024);
	int r;

	if (relay_xtext_decode(&dec, orcpt, strlen(orcpt)) != 0) {
		buf_free(&dec);
		return 0;
	}
	r = buf_puts(b, "Original-Recipient: ");
	r |= put_safe(b, buf_cstr(&dec), 998);
	r |= buf_puts(b, "\r\n");
	buf_free(&dec);
	return r;
}

/* put_original - the original text with CRLF line ends (bare LF fixed). */
static int
put_original(struct buf *b, const char *p, size_t len)
{
	size_t i;
	int r = 0;

	for (i = 0; i < len && r == 0; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			r |= buf_putc(b, '\r');
		r |= buf_putc(b, (unsigned char)p[i]);
	}
	if (len > 0 && p[len - 1] != '\n')
		r |= buf_puts(b, "\r\n");
	return r;
}

int
relay_dsn_build(struct buf *out, const struct relay_dsn *d)
{
	char boundary[96];
	bool delayed = false, failed = false, ok = false;
	size_t i, hlen;
	int r = 0;

	for (i = 0; i < d->nrcpt; i++) {
		if (d->rcpt[i].action == RELAY_DSN_DELAYED)
			delayed = true;
		else if (d->rcpt[i].action == RELAY_DSN_FAILED)
			failed = true;
		else
			ok = true;
	}
	if (gms_snprintf(boundary, sizeof(boundary), "%lld/%s/%s",
	    (long long)d->now, d->qid, "gms-dsn") != 0)
		return -1;

	r |= buf_puts(out, "From: Mail Delivery System <MAILER-DAEMON@");
	r |= put_safe(out, d->reporting_mta, 255);
	r |= buf_puts(out, ">\r\nTo: <");
	r |= put_safe(out, d->sender, 512);
	r |= buf_puts(out, ">\r\nSubject: ");
	if (failed)
		r |= buf_puts(out, "Undelivered Mail Returned to Sender");
	else if (delayed)
		r |= buf_puts(out, "Delayed Mail (still being retried)");
	else
		r |= buf_puts(out, "Successful Mail Delivery Report");
	r |= buf_puts(out, "\r\nDate: ");
	r |= put_date(out, d->now);
	r |= buf_printf(out, "\r\nMessage-ID: <%lld.%s.dsn@", (long long)d->now,
	    d->qid);
	r |= put_safe(out, d->reporting_mta, 255);
	r |= buf_puts(out, ">\r\nAuto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"");
	r |= buf_puts(out, boundary);
	r |= buf_puts(out, "\"\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n");

	/* Part 1: for people. */
	r |= buf_printf(out, "--%s\r\n", boundary);
	r |= buf_puts(out, "Content-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
	r |= buf_puts(out, "This is the mail system at host ");
	r |= put_safe(out, d->reporting_mta, 255);
	r |= buf_puts(out, ".\r\n\r\n");
	if (failed)
		r |= buf_puts(out, "Your message could not be delivered to one "
		    "or more recipients.\r\nIt is attached below.\r\n\r\n");
	if (delayed) {
		r |= buf_puts(out, "Your message could not be delivered yet to "
		    "one or more recipients.\r\nThe mail system will keep "
		    "trying");
		if (d->retry_until != 0) {
			r |= buf_puts(out, " until ");
			r |= put_date(out, d->retry_until);
		}
		r |= buf_puts(out, ".\r\nYou do not need to send it "
		    "again.\r\n\r\n");
	}
	if (ok)
		r |= buf_puts(out, "Your message was delivered to the "
		    "recipients listed below as you asked.\r\n\r\n");
	for (i = 0; i < d->nrcpt; i++) {
		const struct relay_dsn_rcpt *rc = &d->rcpt[i];

		r |= buf_puts(out, "<");
		r |= put_safe(out, rc->address, 512);
		r |= buf_printf(out, ">: %s", relay_dsn_action_name(rc->action));
		if (rc->diag != NULL) {
			r |= buf_puts(out, ": ");
			r |= put_safe(out, rc->diag, 900);
		}
		r |= buf_puts(out, "\r\n");
	}
	r |= buf_puts(out, "\r\n");

	/* Part 2: message/delivery-status. */
	r |= buf_printf(out, "--%s\r\n", boundary);
	r |= buf_puts(out, "Content-Description: Delivery report\r\n"
	    "Content-Type: message/delivery-status\r\n\r\n");
	r |= buf_puts(out, "Reporting-MTA: dns; ");
	r |= put_safe(out, d->reporting_mta, 255);
	r |= buf_puts(out, "\r\nX-GMS-Queue-ID: ");
	r |= put_safe(out, d->qid, 64);
	r |= buf_puts(out, "\r\n");
	if (d->envid != NULL && d->envid[0] != '\0') {
		r |= buf_puts(out, "Original-Envelope-Id: ");
		r |= put_safe(out, d->envid, 100);
		r |= buf_puts(out, "\r\n");
	}
	r |= buf_puts(out, "Arrival-Date: ");
	r |= put_date(out, d->arrival);
	r |= buf_puts(out, "\r\n");
	for (i = 0; i < d->nrcpt; i++) {
		const struct relay_dsn_rcpt *rc = &d->rcpt[i];

		r |= buf_puts(out, "\r\n");
		if (rc->orcpt != NULL && rc->orcpt[0] != '\0')
			r |= put_orcpt(out, rc->orcpt);
		r |= buf_puts(out, "Final-Recipient: rfc822; ");
		r |= put_safe(out, rc->address, 512);
		r |= buf_printf(out, "\r\nAction: %s\r\nStatus: ",
		    relay_dsn_action_name(rc->action));
		r |= put_safe(out, rc->status != NULL ? rc->status :
		    rc->action == RELAY_DSN_FAILED ? "5.0.0" :
		    rc->action == RELAY_DSN_DELAYED ? "4.0.0" : "2.0.0", 15);
		r |= buf_puts(out, "\r\n");
		if (rc->remote_mta != NULL && rc->remote_mta[0] != '\0') {
			r |= buf_puts(out, "Remote-MTA: dns; ");
			r |= put_safe(out, rc->remote_mta, 255);
			r |= buf_puts(out, "\r\n");
		}
		if (rc->diag != NULL && rc->diag[0] != '\0') {
			r |= buf_puts(out, rc->remote_mta != NULL ?
			    "Diagnostic-Code: smtp; " :
			    "Diagnostic-Code: X-GMS; ");
			r |= put_safe(out, rc->diag, 900);
			r |= buf_puts(out, "\r\n");
		}
		if (rc->last_attempt != 0) {
			r |= buf_puts(out, "Last-Attempt-Date: ");
			r |= put_date(out, rc->last_attempt);
			r |= buf_puts(out, "\r\n");
		}
		if (rc->action == RELAY_DSN_DELAYED && d->retry_until != 0) {
			r |= buf_puts(out, "Will-Retry-Until: ");
			r |= put_date(out, d->retry_until);
			r |= buf_puts(out, "\r\n");
		}
	}
	r |= buf_puts(out, "\r\n");

	/* Part 3: the original, whole or its header. */
	r |= buf_printf(out, "--%s\r\n", boundary);
	if (d->full) {
		r |= buf_puts(out, "Content-Description: Undelivered Message\r\n"
		    "Content-Type: message/rfc822\r\n\r\n");
		r |= put_original(out, d->original, d->original_len);
	} else {
		hlen = relay_header_len(d->original, d->original_len);
		r |= buf_puts(out, "Content-Description: Undelivered Message "
		    "Headers\r\nContent-Type: text/rfc822-headers\r\n\r\n");
		r |= put_original(out, d->original, hlen);
	}
	r |= buf_printf(out, "\r\n--%s--\r\n", boundary);
	return r != 0 ? -1 : 0;
}
