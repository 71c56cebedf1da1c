/*
 * cmd-list.c - LIST (RFC 9051 6.3.9) with LIST-EXTENDED (RFC 5258:
 * selection SUBSCRIBED, RECURSIVEMATCH, SPECIAL-USE, REMOTE; return
 * SUBSCRIBED, CHILDREN, SPECIAL-USE, STATUS of RFC 5819), several
 * patterns, SPECIAL-USE attributes (RFC 6154), and LSUB (RFC 3501 6.3.9).
 *
 * The store returns all of a user's mailboxes (bounded by
 * SPOOL_MAILBOXES_MAX); matching is listmatch.c's, O(pattern x name) and
 * never recursive.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "imapd/imapd.h"
#include "spool/spool.h"

#define LIST_PATTERNS_MAX	32

/* full_pattern - reference + pattern, "INBOX" prefix folded to upper. */
static char *
full_pattern(struct imapd_session *s, const char *ref, const char *pat)
{
	size_t rl = strlen(ref);
	char *full;

	if (pat[0] == '/' || rl == 0)
		full = arena_strdup(&s->arena, pat);
	else {
		full = arena_alloc(&s->arena, rl + strlen(pat) + 2);
		memcpy(full, ref, rl);
		if (ref[rl - 1] != '/' && pat[0] != '\0')
			full[rl++] = '/';
		memcpy(full + rl, pat, strlen(pat) + 1);
	}
	if (gms_strncasecmp(full, "INBOX", 5) == 0 &&
	    (full[5] == '\0' || full[5] == '/' || full[5] == '*' ||
	    full[5] == '%'))
		memcpy(full, "INBOX", 5);
	return full;
}

/* decode_pattern - modified UTF-7 to UTF-8 unless UTF8=ACCEPT. */
static char *
decode_pattern(struct imapd_session *s, char *pat)
{
	struct buf b = BUF_INIT(4096);
	char *out = pat;

	if (!(s->enabled & IMAPD_EN_UTF8) && strchr(pat, '&') != NULL &&
	    mutf7_decode(&b, pat, strlen(pat)) == 0)
		out = arena_strndup(&s->arena, buf_cstr(&b), b.len);
	buf_free(&b);
	return out;
}

struct list_opts {
	bool	sel_subscribed, sel_recursive, sel_special, ret_subscribed,
		ret_children, ret_special, lsub;
	unsigned int status;	/* ST_* for LIST-STATUS */
};

/* is_subscribed - binary search in the sorted subscription list. */
static bool
is_subscribed(const struct spool_strlist *subs, const char *name)
{
	size_t lo = 0, hi = subs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, subs->v[mid]);

		if (c == 0)
			return true;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	/* The spool may sort differently; fall back to a scan. */
	for (lo = 0; lo < subs->n; lo++)
		if (strcmp(name, subs->v[lo]) == 0)
			return true;
	return false;
}

/* send_list - one "* LIST (attrs) "/" name" line (and STATUS). */
static void
send_list(struct imapd_session *s, const struct list_opts *o,
    const char *name, unsigned int attrs, uint32_t use, bool subscribed,
    bool nonexistent, const struct spool_mbox *st, const char *childinfo)
{
	struct buf b = BUF_INIT(0);
	const char *sp = "";
	uint32_t bit;

	(void)buf_printf(&b, "* %s (", o->lsub ? "LSUB" : "LIST");
#define ATTR(x) do { (void)buf_puts(&b, sp); (void)buf_puts(&b, x); \
	sp = " "; } while (0)
	if (nonexistent)
		ATTR("\\NonExistent");
	if (attrs & SPOOL_MBOX_NOSELECT)
		ATTR("\\Noselect");
	if (!nonexistent && !o->lsub)
		ATTR((attrs & SPOOL_MBOX_HASCHILDREN) ? "\\HasChildren" :
		    "\\HasNoChildren");
	if (subscribed && (o->ret_subscribed || o->sel_subscribed))
		ATTR("\\Subscribed");
	for (bit = SPOOL_USE_DRAFTS; bit <= SPOOL_USE_FLAGGED; bit <<= 1)
		if ((use & bit) && spool_use_name(bit) != NULL && !o->lsub)
			ATTR(spool_use_name(bit));
#undef ATTR
	(void)buf_puts(&b, ") \"/\" ");
	(void)imap_put_mailbox(s, &b, name);
	if (childinfo != NULL)
		(void)buf_puts(&b, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	(void)buf_puts(&b, "\r\n");
	(void)imapd_write_buf(s, &b);
	buf_free(&b);
	if (o->status != 0 && st != NULL && !nonexistent &&
	    !(attrs & SPOOL_MBOX_NOSELECT)) {
		struct spool_mbox full = *st;

		if ((o->status & ST_RECENT) && spool_mailbox_status(imapd_spool,
		    s->user, name, &full) != SPOOL_OK)
			full = *st;
		(void)imapd_send_status(s, name, o->status, &full);
	}
}

/* p_list_options - "(" opt *(SP opt) ")" for selection or return. */
static int
p_list_options(struct imap_parser *p, struct list_opts *o, bool ret)
{
	char *name;

	if (imap_p_list_begin(p) < 0)
		return -1;
	while (!imap_p_peek(p, ')')) {
		if (imap_p_atom(p, &name) < 0)
			return -1;
		if (!ret && gms_strcasecmp(name, "SUBSCRIBED") == 0)
			o->sel_subscribed = true;
		else if (!ret && gms_strcasecmp(name, "RECURSIVEMATCH") == 0)
			o->sel_recursive = true;
		else if (!ret && gms_strcasecmp(name, "SPECIAL-USE") == 0)
			o->sel_special = true;
		else if (!ret && gms_strcasecmp(name, "REMOTE") == 0)
			;
		else if (ret && gms_strcasecmp(name, "SUBSCRIBED") == 0)
			o->ret_subscribed = true;
		else if (ret && gms_strcasecmp(name, "CHILDREN") == 0)
			o->ret_children = true;
		else if (ret && gms_strcasecmp(name, "SPECIAL-USE") == 0)
			o->ret_special = true;
		else if (ret && gms_strcasecmp(name, "STATUS") == 0) {
			if (imap_p_sp(p) < 0 ||
			    imapd_p_status_items(p, &o->status) < 0)
				return -1;
		} else
			return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "Unknown LIST option");
		if (!imap_p_accept(p, ' '))
			break;
	}
	if (imap_p_list_end(p) < 0)
		return -1;
	if (o->sel_recursive && !o->sel_subscribed)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
		    "RECURSIVEMATCH needs another selection option");
	return 0;
}

/* any_match - does name match one of the patterns? */
static bool
any_match(char **pats, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (imapd_list_match(pats[i], name))
			return true;
	return false;
}

/* run_list - LIST/LSUB once the arguments are parsed. */
static int
run_list(struct imapd_session *s, struct list_opts *o, const char *ref,
    char **pats, size_t npats)
{
	struct spool_mbox_list l = { NULL, 0 };
	struct spool_strlist subs = { NULL, 0 };
	bool need_subs = o->lsub || o->sel_subscribed || o->ret_subscribed;
	size_t i, k;
	int r;

	/* LIST "" "" asks for the separator. */
	if (npats == 1 && pats[0][0] == '\0' && !o->lsub) {
		(void)imapd_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
		return cmd_ok(s, NULL, "LIST completed");
	}
	for (i = 0; i < npats; i++)
		pats[i] = full_pattern(s, ref, decode_pattern(s, pats[i]));
	r = spool_mailbox_list(imapd_spool, s->user, &l);
	if (r != SPOOL_OK && r != SPOOL_ENOENT)
		return cmd_spool_error(s, r, "list");
	if (need_subs && (r = spool_subscriptions(imapd_spool, s->user,
	    &subs)) != SPOOL_OK) {
		spool_mbox_list_free(&l);
		return cmd_spool_error(s, r, "list");
	}
	if (o->lsub || o->sel_subscribed) {
		/* Subscribed names, existing or not. */
		for (k = 0; k < subs.n; k++) {
			const struct spool_mbox *st = NULL;

			if (!any_match(pats, npats, subs.v[k]))
				continue;
			for (i = 0; i < l.n; i++)
				if (strcmp(l.v[i].name, subs.v[k]) == 0)
					st = &l.v[i];
			if (o->sel_special && (st == NULL ||
			    st->special_use == 0))
				continue;
			send_list(s, o, subs.v[k], st != NULL ? st->attrs : 0,
			    st != NULL ? st->special_use : 0, true, st == NULL,
			    st, NULL);
		}
		if (o->sel_recursive) {
			/* Parents that do not match as subscribed but have a
			 * subscribed child get CHILDINFO. */
			for (i = 0; i < l.n; i++) {
				size_t nl = strlen(l.v[i].name);

				if (!any_match(pats, npats, l.v[i].name) ||
				    is_subscribed(&subs, l.v[i].name))
					continue;
				for (k = 0; k < subs.n; k++)
					if (strncmp(subs.v[k], l.v[i].name,
					    nl) == 0 && subs.v[k][nl] == '/')
						break;
				if (k < subs.n)
					send_list(s, o, l.v[i].name,
					    l.v[i].attrs, l.v[i].special_use,
					    false, false, NULL, "");
			}
		}
	} else {
		for (i = 0; i < l.n; i++) {
			if (!any_match(pats, npats, l.v[i].name))
				continue;
			if (o->sel_special && l.v[i].special_use == 0)
				continue;
			send_list(s, o, l.v[i].name, l.v[i].attrs,
			    l.v[i].special_use, need_subs &&
			    is_subscribed(&subs, l.v[i].name), false,
			    &l.v[i], NULL);
		}
	}
	spool_mbox_list_free(&l);
	if (need_subs)
		spool_strlist_free(&subs);
	return cmd_ok(s, NULL, "%s completed", o->lsub ? "LSUB" : "LIST");
}

int
cmd_list(struct imapd_session *s, struct imap_parser *p)
{
	struct list_opts o;
	char *ref, *pats[LIST_PATTERNS_MAX];
	size_t len, n = 0;

	memset(&o, 0, sizeof(o));
	if (imap_p_sp(p) < 0)
		return CMD_BAD;
	if (imap_p_peek(p, '(')) {
		if (p_list_options(p, &o, false) < 0 || imap_p_sp(p) < 0)
			return CMD_BAD;
	}
	if (imap_p_astring(p, &ref, &len) < 0 || imap_p_sp(p) < 0)
		return CMD_BAD;
	if (imap_p_peek(p, '(')) {
		if (imap_p_list_begin(p) < 0)
			return CMD_BAD;
		for (;;) {
			if (n == LIST_PATTERNS_MAX)
				return imap_p_fail(p, IMAP_CODE_LIMIT,
				    "Too many patterns");
			if (imap_p_list_mailbox(p, &pats[n]) < 0)
				return CMD_BAD;
			n++;
			if (!imap_p_accept(p, ' '))
				break;
		}
		if (imap_p_list_end(p) < 0)
			return CMD_BAD;
	} else {
		if (imap_p_list_mailbox(p, &pats[0]) < 0)
			return CMD_BAD;
		n = 1;
	}
	if (imap_p_accept(p, ' ')) {
		char *kw;

		if (imap_p_atom(p, &kw) < 0 || gms_strcasecmp(kw, "RETURN") ||
		    imap_p_sp(p) < 0 || p_list_options(p, &o, true) < 0)
			return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "Expected RETURN options");
	}
	if (imap_p_eol(p) < 0)
		return CMD_BAD;
	return run_list(s, &o, ref, pats, n);
}

int
cmd_lsub(struct imapd_session *s, struct imap_parser *p)
{
	struct list_opts o;
	char *ref, *pat;
	size_t len;

	memset(&o, 0, sizeof(o));
	o.lsub = true;
	if (imap_p_sp(p) < 0 || imap_p_astring(p, &ref, &len) < 0 ||
	    imap_p_sp(p) < 0 || imap_p_list_mailbox(p, &pat) < 0 ||
	    imap_p_eol(p) < 0)
		return CMD_BAD;
	return run_list(s, &o, ref, &pat, 1);
}
