/*
 * cmd-expunge.c - EXPUNGE (RFC 9051 6.4.3) and UID EXPUNGE (RFC 4315).
 *
 * The store removes the messages; the EXPUNGE (or VANISHED) responses come
 * from the dispatcher's mailbox sync right after, with the same code that
 * reports other sessions' expunges, so the numbers are always right.
 */
#include "config.h"

#include "imapd/imapd.h"
#include "spool/spool.h"

int
cmd_expunge(struct imapd_session *s, struct imap_parser *p)
{
	struct spool_uidlist uids = { NULL, 0, 0 };
	struct seqset set;
	size_t *idx, i;
	ssize_t n;
	int r;

	if (s->uid) {
		if (imap_p_sp(p) < 0 || imap_p_seqset(p, true, &set) < 0 ||
		    imap_p_eol(p) < 0)
			return CMD_BAD;
	} else if (imap_p_eol(p) < 0)
		return CMD_BAD;
	if (s->sel->readonly)
		return cmd_no(s, "READ-ONLY", "Mailbox is read-only");
	if (s->uid) {
		n = imapd_set_indexes(s, &set, true, &idx);
		for (i = 0; i < (size_t)(n > 0 ? n : 0); i++)
			spool_uidlist_add(&uids,
			    spool_view_msg(s->sel->view, idx[i])->uid);
		if (uids.n == 0)
			return cmd_ok(s, NULL, "UID EXPUNGE completed");
		r = spool_expunge(s->sel->view, uids.v, uids.n, NULL);
		spool_uidlist_free(&uids);
	} else
		r = spool_expunge(s->sel->view, NULL, 0, NULL);
	if (r != SPOOL_OK)
		return cmd_spool_error(s, r, "expunge");
	return cmd_ok(s, NULL, "EXPUNGE completed");
}
