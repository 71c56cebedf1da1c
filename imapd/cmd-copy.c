/*
 * cmd-copy.c - COPY and MOVE, with their UID forms (RFC 9051 6.4.7,
 * RFC 6851), answering UIDPLUS COPYUID (RFC 4315).  The store copies (and
 * for MOVE expunges) in one transaction; the expunges reach the client
 * through the dispatcher's mailbox sync, before the tagged OK.
 */
#include "config.h"

#include "imapd/imapd.h"
#include "spool/spool.h"

/* do_copy - COPY (move false) or MOVE. */
static int
do_copy(struct imapd_session *s, struct imap_parser *p, bool move)
{
	struct spool_copy_result res;
	struct seqset set;
	struct buf b = BUF_INIT(0);
	uint32_t *uids;
	size_t *idx, i;
	ssize_t n;
	char *dest;
	int r;

	if (imap_p_sp(p) < 0 || imap_p_seqset(p, true, &set) < 0 ||
	    imap_p_sp(p) < 0 || imap_p_mailbox(p,
	    (s->enabled & IMAPD_EN_UTF8) != 0, &dest) < 0 || imap_p_eol(p) < 0)
		return CMD_BAD;
	n = imapd_set_indexes(s, &set, s->uid, &idx);
	if (n < 0)
		return cmd_bad(s, "CLIENTBUG", "Invalid message sequence "
		    "number");
	if (move && s->sel->readonly)
		return cmd_no(s, "READ-ONLY", "Mailbox is read-only");
	if (n == 0)
		return cmd_ok(s, NULL, "%s completed (nothing)", move ? "MOVE" :
		    "COPY");
	if (n > conf_int(s->conf, "imapd.fetch_max_messages"))
		return cmd_no(s, "LIMIT", "Too many messages");
	uids = arena_alloc(&s->arena, (size_t)n * sizeof(*uids));
	for (i = 0; i < (size_t)n; i++)
		uids[i] = spool_view_msg(s->sel->view, idx[i])->uid;
	r = spool_copy(s->sel->view, uids, (size_t)n, dest, move, &res);
	if (r == SPOOL_ENOENT)
		return cmd_no(s, "TRYCREATE", "No such mailbox");
	if (r != SPOOL_OK)
		return cmd_spool_error(s, r, move ? "move" : "copy");
	if (res.src.n > 0) {
		(void)buf_printf(&b, "COPYUID %u ", res.dest_uidvalidity);
		(void)seqset_format_list(&b, res.src.v, res.src.n);
		(void)buf_putc(&b, ' ');
		/* dst is in src order; keep the pairing as a list. */
		for (i = 0; i < res.dst.n; i++)
			(void)buf_printf(&b, "%s%u", i ? "," : "",
			    res.dst.v[i]);
	}
	if (move) {
		if (b.len > 0)
			(void)imapd_untagged(s, "OK [%s] Moved", buf_cstr(&b));
		(void)cmd_ok(s, NULL, "MOVE completed");
	} else {
		(void)cmd_ok(s, NULL, "COPY completed");
		(void)buf_append(&s->resp_code, b.data, b.len);
	}
	buf_free(&b);
	spool_copy_result_free(&res);
	return CMD_DONE;
}

int
cmd_copy(struct imapd_session *s, struct imap_parser *p)
{
	return do_copy(s, p, false);
}

int
cmd_move(struct imapd_session *s, struct imap_parser *p)
{
	return do_copy(s, p, true);
}
