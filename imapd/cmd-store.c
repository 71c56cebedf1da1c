/*
 * cmd-store.c - STORE and UID STORE (RFC 9051 6.4.6) with .SILENT and the
 * UNCHANGEDSINCE modifier (RFC 7162 3.1.3: messages changed since then are
 * left alone and reported in [MODIFIED]).
 */
#include "config.h"

#include <string.h>

#include "imapd/imapd.h"
#include "spool/spool.h"

#define STORE_FLAGS_MAX		(SPOOL_KEYWORDS_MAX + 8)

int
cmd_store(struct imapd_session *s, struct imap_parser *p)
{
	struct spool_uidlist failed = { NULL, 0, 0 };
	struct seqset set;
	struct buf b = BUF_INIT(0);
	uint64_t unchangedsince = 0;
	uint32_t flags = 0, *uids;
	char *name, **fl;
	const char **kw;
	size_t nfl = 0, nkw = 0, i, *idx;
	ssize_t n;
	bool silent = false, has_unch = false;
	int mode, bit, r;

	if (imap_p_sp(p) < 0 || imap_p_seqset(p, true, &set) < 0 ||
	    imap_p_sp(p) < 0)
		return CMD_BAD;
	if (imap_p_peek(p, '(')) {
		if (imap_p_list_begin(p) < 0 || imap_p_atom(p, &name) < 0 ||
		    gms_strcasecmp(name, "UNCHANGEDSINCE") != 0 ||
		    imap_p_sp(p) < 0 || imap_p_number64(p, &unchangedsince) < 0 ||
		    imap_p_list_end(p) < 0 || imap_p_sp(p) < 0)
			return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "Expected (UNCHANGEDSINCE n)");
		has_unch = true;
		s->enabled |= IMAPD_EN_CONDSTORE;
	}
	mode = imap_p_accept(p, '+') ? SPOOL_STORE_ADD :
	    imap_p_accept(p, '-') ? SPOOL_STORE_REMOVE : SPOOL_STORE_SET;
	if (imap_p_atom(p, &name) < 0)
		return CMD_BAD;
	if (gms_strcasecmp(name, "FLAGS.SILENT") == 0)
		silent = true;
	else if (gms_strcasecmp(name, "FLAGS") != 0)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
		    "Expected FLAGS or FLAGS.SILENT");
	if (imap_p_sp(p) < 0)
		return CMD_BAD;
	if (imap_p_peek(p, '(')) {
		if (imap_p_flag_list(p, &fl, &nfl, STORE_FLAGS_MAX) < 0)
			return CMD_BAD;
	} else {
		fl = arena_alloc(&s->arena, STORE_FLAGS_MAX * sizeof(*fl));
		for (;;) {
			if (nfl == STORE_FLAGS_MAX)
				return imap_p_fail(p, IMAP_CODE_LIMIT,
				    "Too many flags");
			if (imap_p_flag(p, false, &fl[nfl]) < 0)
				return CMD_BAD;
			nfl++;
			if (!imap_p_accept(p, ' '))
				break;
		}
	}
	if (imap_p_eol(p) < 0)
		return CMD_BAD;
	kw = arena_alloc(&s->arena, (nfl + 1) * sizeof(*kw));
	for (i = 0; i < nfl; i++) {
		bit = imapd_flag_bit(fl[i]);
		if (bit < 0) {
			if (gms_strcasecmp(fl[i], "\\Recent") == 0)
				continue;
			return cmd_bad(s, "CLIENTBUG", "Invalid system flag");
		}
		if (bit > 0)
			flags |= (uint32_t)bit;
		else
			kw[nkw++] = fl[i];
	}
	if (s->sel->readonly)
		return cmd_no(s, "READ-ONLY", "Mailbox is read-only");
	n = imapd_set_indexes(s, &set, s->uid, &idx);
	if (n < 0)
		return cmd_bad(s, "CLIENTBUG", "Invalid message sequence "
		    "number");
	if (n == 0)
		return cmd_ok(s, NULL, "STORE completed");
	uids = arena_alloc(&s->arena, (size_t)n * sizeof(*uids));
	for (i = 0; i < (size_t)n; i++)
		uids[i] = spool_view_msg(s->sel->view, idx[i])->uid;
	r = spool_store(s->sel->view, uids, (size_t)n, mode, flags, kw, nkw,
	    has_unch ? (unchangedsince > 0 ? unchangedsince : 1) : 0, NULL,
	    &failed);
	if (r != SPOOL_OK) {
		spool_uidlist_free(&failed);
		return cmd_spool_error(s, r, "store");
	}
	if (has_unch && unchangedsince == 0) {
		/* UNCHANGEDSINCE 0 fails for every message (RFC 7162). */
		spool_uidlist_free(&failed);
		for (i = 0; i < (size_t)n; i++)
			spool_uidlist_add(&failed, uids[i]);
	}
	/* Keyword list may have grown: tell the client the new FLAGS. */
	{
		size_t nk;

		(void)spool_view_keywords(s->sel->view, &nk);
		if (nk != s->sel->nkeywords)
			(void)imapd_send_flags(s);
	}
	for (i = 0; i < (size_t)n; i++) {
		bool was_failed = false;
		size_t k;

		for (k = 0; k < failed.n; k++)
			if (failed.v[k] == uids[i])
				was_failed = true;
		if (was_failed || (silent && !has_unch))
			continue;
		if (silent) {
			const struct spool_msg *m = spool_view_msg(s->sel->view,
			    idx[i]);

			(void)imapd_untagged(s, "%zu FETCH (UID %u MODSEQ (%llu))",
			    idx[i] + 1, m->uid, (unsigned long long)m->modseq);
			continue;
		}
		(void)imapd_send_fetch_flags(s, idx[i]);
	}
	if (failed.n > 0) {
		if (s->uid)
			(void)seqset_format_list(&b, failed.v, failed.n);
		else {
			uint32_t *seqs = arena_alloc(&s->arena, failed.n *
			    sizeof(*seqs));
			size_t ns = 0;

			for (i = 0; i < failed.n; i++) {
				ssize_t x = spool_view_find(s->sel->view,
				    failed.v[i]);

				if (x >= 0)
					seqs[ns++] = (uint32_t)x + 1;
			}
			(void)seqset_format_list(&b, seqs, ns);
		}
		(void)cmd_ok(s, NULL, "Conditional STORE failed for some");
		(void)buf_printf(&s->resp_code, "MODIFIED %s", buf_cstr(&b));
		buf_free(&b);
		spool_uidlist_free(&failed);
		return CMD_DONE;
	}
	spool_uidlist_free(&failed);
	return cmd_ok(s, NULL, "STORE completed");
}
