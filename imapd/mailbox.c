/*
 * mailbox.c - the selected mailbox of a session: its spool view, its
 * change watch, and the untagged responses that keep the client's idea of
 * the mailbox in step with the store.
 *
 * The client's message sequence numbers are the view's row indexes + 1.
 * The view only changes in imapd_mailbox_sync(), which the dispatcher calls
 * before a tagged OK/NO and IDLE calls when the watch fires; it reports
 * expunges (EXPUNGE, or VANISHED with QRESYNC) in the order that keeps
 * every number right, then EXISTS/RECENT, then the FETCH FLAGS of messages
 * other sessions changed.  After FETCH, STORE and SEARCH (not their UID
 * forms) no expunge may be reported (RFC 9051 7.5.1), so the view is not
 * refreshed at all then and sequence numbers stay stable.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "imapd/imapd.h"
#include "spool/spool.h"

static const struct {
	const char	*name;
	uint32_t	 bit;
} sysflags[] = {
	{ "\\Answered",	SPOOL_F_ANSWERED },
	{ "\\Flagged",	SPOOL_F_FLAGGED },
	{ "\\Deleted",	SPOOL_F_DELETED },
	{ "\\Seen",	SPOOL_F_SEEN },
	{ "\\Draft",	SPOOL_F_DRAFT },
};

int
imapd_flag_bit(const char *name)
{
	size_t i;

	if (name[0] != '\\')
		return 0;
	for (i = 0; i < GMS_NELEM(sysflags); i++)
		if (gms_strcasecmp(name, sysflags[i].name) == 0)
			return (int)sysflags[i].bit;
	return -1;
}

int
imapd_put_flags(struct imapd_session *s, struct buf *b,
    const struct spool_msg *m)
{
	/* Called once per message of a FETCH 1:* (FLAGS): the system flags
	 * are gathered in a local array (names of known length, no format,
	 * no strlen) and appended at once; keywords take the general path. */
	static const struct {
		const char	name[10];
		uint8_t		len;
		uint32_t	bit;
	} fl[] = {
		{ "\\Answered",	9, SPOOL_F_ANSWERED },
		{ "\\Flagged",	8, SPOOL_F_FLAGGED },
		{ "\\Deleted",	8, SPOOL_F_DELETED },
		{ "\\Seen",	5, SPOOL_F_SEEN },
		{ "\\Draft",	6, SPOOL_F_DRAFT },
		{ "\\Recent",	7, SPOOL_F_RECENT },
	};
	const char *const *kw;
	char tmp[64];	/* "(" + the six names with spaces + ")": 50 */
	size_t i, n, len = 1;
	uint32_t want = m->flags;
	bool sp;

	if (s->enabled & IMAPD_EN_IMAP4REV2)
		want &= ~(uint32_t)SPOOL_F_RECENT;
	tmp[0] = '(';
	for (i = 0; i < GMS_NELEM(fl); i++)
		if (want & fl[i].bit) {
			if (len > 1)
				tmp[len++] = ' ';
			memcpy(tmp + len, fl[i].name, fl[i].len);
			len += fl[i].len;
		}
	if (m->keywords == 0) {
		tmp[len++] = ')';
		return buf_append(b, tmp, len);
	}
	if (buf_append(b, tmp, len) < 0)
		return -1;
	sp = len > 1;
	kw = spool_view_keywords(s->sel->view, &n);
	for (i = 0; i < n && i < 64; i++)
		if (m->keywords & ((uint64_t)1 << i)) {
			if (sp)
				(void)buf_putc(b, ' ');
			sp = true;
			(void)buf_puts(b, kw[i]);
		}
	return buf_putc(b, ')');
}

int
imapd_send_flags(struct imapd_session *s)
{
	struct buf b = BUF_INIT(0);
	const char *const *kw;
	size_t i, n;

	kw = spool_view_keywords(s->sel->view, &n);
	(void)buf_puts(&b, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen "
	    "\\Draft");
	for (i = 0; i < n; i++)
		(void)buf_printf(&b, " %s", kw[i]);
	(void)buf_puts(&b, ")\r\n* OK [PERMANENTFLAGS (");
	if (!s->sel->readonly) {
		(void)buf_puts(&b, "\\Answered \\Flagged \\Deleted \\Seen "
		    "\\Draft");
		for (i = 0; i < n; i++)
			(void)buf_printf(&b, " %s", kw[i]);
		if (n < SPOOL_KEYWORDS_MAX)
			(void)buf_puts(&b, " \\*");
	}
	(void)buf_puts(&b, ")] Flags permitted\r\n");
	s->sel->nkeywords = n;
	i = (size_t)imapd_write_buf(s, &b);
	buf_free(&b);
	return (int)i;
}

/* put_fetch_flags - append "* seq FETCH (UID u FLAGS (...) [MODSEQ])"
 * for a view index: one line per message another session changed (a
 * STORE 1:* elsewhere brings one per message), so no format parsing. */
static void
put_fetch_flags(struct imapd_session *s, struct buf *b, size_t idx)
{
	const struct spool_msg *m = spool_view_msg(s->sel->view, idx);

	(void)buf_append(b, "* ", 2);
	(void)buf_putu64(b, idx + 1);
	(void)buf_append(b, " FETCH (UID ", 12);
	(void)buf_putu64(b, m->uid);
	(void)buf_append(b, " FLAGS ", 7);
	(void)imapd_put_flags(s, b, m);
	if (s->enabled & IMAPD_EN_CONDSTORE) {
		(void)buf_append(b, " MODSEQ (", 9);
		(void)buf_putu64(b, m->modseq);
		(void)buf_append(b, ")", 1);
	}
	(void)buf_append(b, ")\r\n", 3);
}

int
imapd_send_fetch_flags(struct imapd_session *s, size_t idx)
{
	struct buf b = BUF_INIT(0);
	int r;

	put_fetch_flags(s, &b, idx);
	r = imapd_write_buf(s, &b);
	buf_free(&b);
	return r;
}

void
imapd_mailbox_close(struct imapd_session *s)
{
	struct imapd_mailbox *mb = s->sel;

	if (mb == NULL)
		return;
	conn_set_wake_fd(s->conn, -1);
	if (mb->watch != NULL)
		spool_watch_close(&mb->watch);
	spool_view_close(&mb->view);
	free(mb->name);
	free(mb);
	s->sel = NULL;
	free(s->saved);
	s->saved = NULL;
	s->nsaved = 0;
	s->saved_valid = false;
	if (s->state == IMAPD_STATE_SELECTED)
		imapd_enter_state(s, IMAPD_STATE_AUTH);
}

int
imapd_mailbox_open(struct imapd_session *s, const char *name, bool readonly)
{
	struct imapd_mailbox *mb;
	struct spool_view *v;
	int r;

	if (s->sel != NULL)
		imapd_mailbox_close(s);
	r = spool_view_open(imapd_spool, s->user, name, (readonly ? 
	    SPOOL_VIEW_READONLY : SPOOL_VIEW_CLAIM_RECENT), &v);
	if (r != SPOOL_OK)
		return r;
	mb = xcalloc(1, sizeof(*mb));
	mb->name = xstrdup(name);
	mb->view = v;
	mb->readonly = readonly;
	mb->exists = (uint32_t)spool_view_count(v);
	mb->recent = spool_view_status(v)->recent;
	if (spool_watch_open(imapd_spool, spool_view_id(v), &mb->watch) !=
	    SPOOL_OK) {
		log_warnx("no change watch for mailbox user=%s", s->user);
		mb->watch = NULL;
	}
	s->sel = mb;
	imapd_enter_state(s, IMAPD_STATE_SELECTED);
	return SPOOL_OK;
}

/* cmp_u32 - qsort order. */
static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int
imapd_mailbox_sync(struct imapd_session *s, bool allow_expunge)
{
	struct imapd_mailbox *mb = s->sel;
	struct spool_refresh r;
	size_t i, nkw;
	ssize_t idx;
	int err;

	if (mb == NULL || !allow_expunge)
		return 0;
	if (mb->watch != NULL)
		spool_watch_ack(mb->watch);
	memset(&r, 0, sizeof(r));
	err = spool_view_refresh(mb->view, &r);
	if (err == SPOOL_ENOENT) {
		log_info("selected mailbox vanished user=%s", s->user);
		return -1;
	}
	if (err != SPOOL_OK) {
		log_warnx("refresh failed user=%s err=%s", s->user,
		    spool_err_name(err));
		return 0;
	}
	if (r.nexpunged > 0) {
		if (s->enabled & IMAPD_EN_QRESYNC) {
			struct buf b = BUF_INIT(0);
			uint32_t *u = xreallocarray(NULL, r.nexpunged,
			    sizeof(*u));

			memcpy(u, r.expunged_uid, r.nexpunged * sizeof(*u));
			qsort(u, r.nexpunged, sizeof(*u), cmp_u32);
			(void)buf_puts(&b, "* VANISHED ");
			(void)seqset_format_list(&b, u, r.nexpunged);
			(void)buf_puts(&b, "\r\n");
			(void)imapd_write_buf(s, &b);
			buf_free(&b);
			free(u);
		} else {
			for (i = 0; i < r.nexpunged; i++)
				(void)imapd_untagged(s, "%u EXPUNGE",
				    r.expunged_seq[i]);
		}
		mb->exists = mb->exists >= r.nexpunged ?
		    mb->exists - (uint32_t)r.nexpunged : 0;
	}
	(void)spool_view_keywords(mb->view, &nkw);
	if (r.keywords_changed || nkw != mb->nkeywords)
		(void)imapd_send_flags(s);
	if (r.exists != mb->exists || r.nexpunged > 0) {
		(void)imapd_untagged(s, "%u EXISTS", r.exists);
		mb->exists = r.exists;
	}
	if (r.recent != mb->recent && !(s->enabled & IMAPD_EN_IMAP4REV2)) {
		(void)imapd_untagged(s, "%u RECENT", r.recent);
		mb->recent = r.recent;
	}
	if (r.changed.n > 0) {
		struct buf b = BUF_INIT(0);

		/* One write per 16 KiB of lines, not one per line. */
		for (i = 0; i < r.changed.n; i++) {
			idx = spool_view_find(mb->view, r.changed.v[i]);
			if (idx >= 0)
				put_fetch_flags(s, &b, (size_t)idx);
			if (b.len >= 16384 || i + 1 == r.changed.n) {
				(void)imapd_write_buf(s, &b);
				buf_reset(&b);
			}
		}
		buf_free(&b);
	}
	spool_refresh_free(&r);
	return 0;
}

void
imapd_saved_to_set(struct imapd_session *s, struct seqset *set)
{
	size_t i;

	set->n = 0;
	set->r = arena_alloc(&s->arena, (s->nsaved + 1) * sizeof(*set->r));
	for (i = 0; i < s->nsaved; i++) {
		set->r[set->n].lo = set->r[set->n].hi = s->saved[i];
		set->n++;
	}
}

ssize_t
imapd_set_indexes(struct imapd_session *s, struct seqset *set, bool uid,
    size_t **idx_r)
{
	struct spool_view *v = s->sel->view;
	size_t count = spool_view_count(v), n = 0, cap, i, k;
	size_t *out;
	uint32_t maxuid;

	if (set->dollar) {
		imapd_saved_to_set(s, set);
		uid = true;
	} else if (uid) {
		maxuid = count > 0 ? spool_view_msg(v, count - 1)->uid : 0;
		seqset_resolve(set, maxuid);
	} else {
		seqset_resolve(set, (uint32_t)count);
		for (i = 0; i < set->n; i++) {
			/* "*" in an empty mailbox resolves to 0: nothing. */
			if (set->r[i].lo == 0 && set->r[i].hi == 0)
				continue;
			if (set->r[i].hi > count || set->r[i].lo == 0)
				return -1;
		}
	}
	/* Bound the work before allocating for it. */
	cap = 0;
	for (i = 0; i < set->n; i++) {
		uint64_t width = (uint64_t)set->r[i].hi - set->r[i].lo + 1;

		cap += width > count ? count : (size_t)width;
		if (cap > count)
			cap = count;
	}
	out = arena_alloc(&s->arena, (cap + 1) * sizeof(*out));
	if (!uid) {
		for (i = 0; i < set->n; i++)
			for (k = set->r[i].lo; k <= set->r[i].hi && k > 0 &&
			    n < cap; k++)
				out[n++] = k - 1;
	} else {
		/* Walk the rows once; the set is sorted and merged. */
		if (set->dollar)
			seqset_resolve(set, 0);
		for (k = 0; k < count && n < cap; k++)
			if (seqset_contains(set, spool_view_msg(v, k)->uid))
				out[n++] = k;
	}
	*idx_r = out;
	return (ssize_t)n;
}
