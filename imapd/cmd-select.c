/*
 * cmd-select.c - SELECT and EXAMINE (RFC 9051 6.3.2, 6.3.3) with the
 * CONDSTORE and QRESYNC parameters (RFC 7162).
 *
 * A failed SELECT leaves no mailbox selected (the earlier one is closed
 * first, with [CLOSED]).  With QRESYNC and a matching UIDVALIDITY the
 * client gets VANISHED (EARLIER) for what was expunged since its modseq
 * and FETCH for what changed, so it can resynchronise in one round.
 */
#include "config.h"

#include <string.h>

#include "imapd/imapd.h"
#include "spool/spool.h"

struct qresync {
	bool		 on;
	uint32_t	 uidvalidity;
	uint64_t	 modseq;
	struct seqset	 known;		/* known UIDs, may be empty */
	bool		 has_known;
};

/* p_select_params - "(CONDSTORE)" / "(QRESYNC (...))". */
static int
p_select_params(struct imapd_session *s, struct imap_parser *p,
    bool *condstore_r, struct qresync *q)
{
	char *name;

	if (imap_p_list_begin(p) < 0)
		return -1;
	while (!imap_p_peek(p, ')')) {
		if (imap_p_atom(p, &name) < 0)
			return -1;
		if (gms_strcasecmp(name, "CONDSTORE") == 0) {
			*condstore_r = true;
		} else if (gms_strcasecmp(name, "QRESYNC") == 0) {
			if (!(s->enabled & IMAPD_EN_QRESYNC))
				return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
				    "QRESYNC is not enabled");
			q->on = true;
			if (imap_p_sp(p) < 0 || imap_p_list_begin(p) < 0 ||
			    imap_p_nz_number(p, &q->uidvalidity) < 0 ||
			    imap_p_sp(p) < 0 ||
			    imap_p_number64(p, &q->modseq) < 0)
				return -1;
			if (imap_p_accept(p, ' ')) {
				if (!imap_p_peek(p, '(')) {
					if (imap_p_seqset(p, false,
					    &q->known) < 0)
						return -1;
					q->has_known = true;
					(void)imap_p_accept(p, ' ');
				}
				if (imap_p_peek(p, '(')) {
					/* seq-match-data: accepted, unused. */
					struct seqset a, b;

					if (imap_p_list_begin(p) < 0 ||
					    imap_p_seqset(p, false, &a) < 0 ||
					    imap_p_sp(p) < 0 ||
					    imap_p_seqset(p, false, &b) < 0 ||
					    imap_p_list_end(p) < 0)
						return -1;
				}
			}
			if (imap_p_list_end(p) < 0)
				return -1;
		} else
			return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "Unknown SELECT parameter");
		if (!imap_p_accept(p, ' '))
			break;
	}
	return imap_p_list_end(p);
}

/* qresync_report - VANISHED (EARLIER) and FETCH of changes. */
static void
qresync_report(struct imapd_session *s, struct qresync *q)
{
	struct spool_changes ch;
	struct buf b = BUF_INIT(0);
	struct spool_uidlist gone = { NULL, 0, 0 };
	size_t i;
	ssize_t idx;

	memset(&ch, 0, sizeof(ch));
	if (spool_changes_since(s->sel->view, q->modseq, &ch) != SPOOL_OK)
		return;
	if (q->has_known)
		seqset_resolve(&q->known, UINT32_MAX - 1);
	for (i = 0; i < ch.expunged.n; i++)
		if (!q->has_known || seqset_contains(&q->known,
		    ch.expunged.v[i]))
			spool_uidlist_add(&gone, ch.expunged.v[i]);
	if (gone.n > 0) {
		(void)buf_puts(&b, "* VANISHED (EARLIER) ");
		(void)seqset_format_list(&b, gone.v, gone.n);
		(void)buf_puts(&b, "\r\n");
		(void)imapd_write_buf(s, &b);
	}
	for (i = 0; i < ch.changed.n; i++) {
		idx = spool_view_find(s->sel->view, ch.changed.v[i]);
		if (idx >= 0)
			(void)imapd_send_fetch_flags(s, (size_t)idx);
	}
	buf_free(&b);
	spool_uidlist_free(&gone);
	spool_changes_free(&ch);
}

/* do_select - SELECT (readonly false) or EXAMINE. */
static int
do_select(struct imapd_session *s, struct imap_parser *p, bool readonly)
{
	const struct spool_mbox *st;
	struct qresync q;
	struct buf b = BUF_INIT(0);
	bool condstore = false, utf8 = (s->enabled & IMAPD_EN_UTF8) != 0;
	char *name;
	size_t i, count;
	int r;

	memset(&q, 0, sizeof(q));
	if (imap_p_sp(p) < 0 || imap_p_mailbox(p, utf8, &name) < 0)
		return CMD_BAD;
	if (imap_p_accept(p, ' ') &&
	    p_select_params(s, p, &condstore, &q) < 0)
		return CMD_BAD;
	if (imap_p_eol(p) < 0)
		return CMD_BAD;
	if (s->sel != NULL) {
		imapd_mailbox_close(s);
		(void)imapd_untagged(s, "OK [CLOSED] Previous mailbox closed");
	}
	if (condstore)
		s->enabled |= IMAPD_EN_CONDSTORE;
	r = imapd_mailbox_open(s, name, readonly);
	if (r != SPOOL_OK)
		return cmd_spool_error(s, r, "select");
	st = spool_view_status(s->sel->view);
	count = spool_view_count(s->sel->view);
	(void)imapd_send_flags(s);
	(void)imapd_untagged(s, "%zu EXISTS", count);
	if (!(s->enabled & IMAPD_EN_IMAP4REV2)) {
		(void)imapd_untagged(s, "%u RECENT", st->recent);
		for (i = 0; i < count; i++)
			if (!(spool_view_msg(s->sel->view, i)->flags &
			    SPOOL_F_SEEN)) {
				(void)imapd_untagged(s, "OK [UNSEEN %zu] First "
				    "unseen", i + 1);
				break;
			}
	} else {
		(void)buf_puts(&b, "* LIST () \"/\" ");
		(void)imap_put_mailbox(s, &b, name);
		(void)buf_puts(&b, "\r\n");
		(void)imapd_write_buf(s, &b);
		buf_free(&b);
	}
	(void)imapd_untagged(s, "OK [UIDVALIDITY %u] UIDs valid",
	    st->uidvalidity);
	(void)imapd_untagged(s, "OK [UIDNEXT %u] Predicted next UID",
	    st->uidnext);
	/* Modseqs are persistent here: always (RFC 7162 3.1.2.1). */
	(void)imapd_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest",
	    (unsigned long long)(st->highestmodseq > 0 ?
	    st->highestmodseq : 1));
	if (q.on && q.uidvalidity == st->uidvalidity)
		qresync_report(s, &q);
	return cmd_ok(s, readonly ? "READ-ONLY" : "READ-WRITE",
	    "%s completed", readonly ? "EXAMINE" : "SELECT");
}

int
cmd_select(struct imapd_session *s, struct imap_parser *p)
{
	return do_select(s, p, false);
}

int
cmd_examine(struct imapd_session *s, struct imap_parser *p)
{
	return do_select(s, p, true);
}
