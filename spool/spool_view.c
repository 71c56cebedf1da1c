/*
 * spool_view.c - a selected mailbox as one IMAP session sees it, and the
 * operations on it: the message rows in UID order, refresh from the
 * change log (new messages, flag changes, expunges), the cached MIME
 * data, STORE with CONDSTORE's UNCHANGEDSINCE, COPY and MOVE with UIDPLUS
 * answers, EXPUNGE, changes since a modseq, and reading bodies.
 *
 * A view holds no database handle and no lock between calls: each call
 * is one short transaction, so a session that sleeps in IDLE costs the
 * store nothing, and a view survives spool_recover().
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spool/spool-private.h"

struct spool_view {
	struct spool		*sp;
	char			*user;		/* owned */
	uint32_t		 user_id;
	uint32_t		 mbox;
	unsigned		 flags;
	struct spool_mbox	 st;
	struct spool_msg	*msgs;		/* owned, UID order */
	size_t			 n, cap;
	struct spool_strlist	 kw;
	uint64_t		 modseq;	/* synced up to this modseq */
	uint32_t		 uidnext;	/* rows exist below this uid */
};

struct spool_body {
	struct spool	*sp;
	uint64_t	 body;
	uint64_t	 size;
};

static void
index_key(unsigned char key[8], uint32_t mbox, uint32_t uid)
{
	put_be32(key, mbox);
	put_be32(key + 4, uid);
}

static void
row_from(struct spool_msg *m, uint32_t uid, const struct irec *r)
{
	m->uid = uid;
	m->flags = r->flags;
	m->keywords = r->keywords;
	m->modseq = r->modseq;
	m->internal_date = r->internal_date;
	m->size = r->size;
	m->tz_offset = r->tz_offset;
}

static void
rows_add(struct spool_view *v, const struct spool_msg *m)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->msgs = xreallocarray(v->msgs, v->cap, sizeof(*v->msgs));
	}
	v->msgs[v->n++] = *m;
}

/* index_get - one index record (rmw for update). */
static int
index_get(struct spool *sp, DB_TXN *txn, uint32_t mbox, uint32_t uid,
    struct irec *r, bool rmw)
{
	unsigned char key[8];
	DBT k, d;

	index_key(key, mbox, uid);
	dbt_init(&k, key, sizeof(key));
	dbt_user(&d, r, sizeof(*r));
	return spool_dberr(sp, sp->db[DBI_INDEX]->get(sp->db[DBI_INDEX], txn,
	    &k, &d, rmw ? DB_RMW : 0), "index get");
}

/* Rows allocated at once from the mailbox's message counter, at most. */
#define VIEW_PRESIZE_MAX	(4u * 1024 * 1024)

/* Bulk reads of the index (DB_MULTIPLE_KEY): used from this many expected
 * records on; the bytes a record takes in the buffer (key, data and the
 * offsets), and the largest buffer.  Each buffer is sized for the records
 * still expected, so a bulk read goes at most about one page past the
 * range: in a write transaction every page read stays locked until the
 * commit, and the pages past the range belong to other mailboxes. */
#define WALK_BULK_RECS		64
#define WALK_REC_BYTES		64
#define WALK_BULK_MAX		(64 * 1024)

typedef int (*irec_fn)(uint32_t uid, const struct irec *r, void *arg);

/* walk_one - the record-by-record walk (few records expected). */
static int
walk_one(struct spool *sp, DB_TXN *txn, uint32_t mbox, uint32_t from,
    uint32_t below, irec_fn fn, void *arg)
{
	unsigned char key[8];
	struct irec r;
	DBC *c;
	DBT k, d;
	int ret, rr = SPOOL_OK;

	if ((ret = sp->db[DBI_INDEX]->cursor(sp->db[DBI_INDEX], txn, &c, 0)) != 0)
		return spool_dberr(sp, ret, "cursor");
	index_key(key, mbox, from);
	dbt_user(&k, key, sizeof(key));
	k.size = sizeof(key);
	dbt_user(&d, &r, sizeof(r));
	ret = c->get(c, &k, &d, DB_SET_RANGE);
	while (ret == 0 && k.size == 8 && get_be32(key) == mbox) {
		uint32_t uid = get_be32(key + 4);

		if (uid >= below)
			break;
		if (d.size == sizeof(r) && (rr = fn(uid, &r, arg)) != SPOOL_OK)
			break;
		ret = c->get(c, &k, &d, DB_NEXT);
	}
	(void)c->close(c);
	if (rr != SPOOL_OK)
		return rr;
	if (ret != 0 && ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "index walk");
	return SPOOL_OK;
}

/* bulk_size - a bulk buffer for left more records: a multiple of 1024,
 * not below least (a page, or what Berkeley DB asked for), else at most
 * WALK_BULK_MAX. */
static size_t
bulk_size(size_t left, size_t least)
{
	size_t n = left > WALK_BULK_MAX / WALK_REC_BYTES ? WALK_BULK_MAX :
	    left * WALK_REC_BYTES + 1024;

	if (n < least)
		n = least;
	return (n + 1023) & ~(size_t)1023;
}

/* walk_index - call fn for each index record of mbox with uid in
 * [from, below); expect: about how many there are (a hint; 0 when
 * unknown).  Many records come in bulk (a buffer of records per cursor
 * call) rather than one cursor call each: the per-call cost of Berkeley
 * DB (cursor duplication, page latch, lock, mutexes) was most of the time
 * of a SELECT on a large mailbox.  Same transaction, same records. */
static int
walk_index(struct spool *sp, DB_TXN *txn, uint32_t mbox, uint32_t from,
    uint32_t below, size_t expect, irec_fn fn, void *arg)
{
	unsigned char key[8];
	struct irec r;
	u_int32_t page = 0;
	size_t cap = 0, want, seen = 0, least;
	void *bulk = NULL;
	DBC *c;
	DBT k, d;
	u_int32_t op = DB_SET_RANGE;
	bool done = false;
	int ret, rr = SPOOL_OK;

	if (from >= below)
		return SPOOL_OK;
	if (expect < WALK_BULK_RECS)
		return walk_one(sp, txn, mbox, from, below, fn, arg);
	if (sp->db[DBI_INDEX]->get_pagesize(sp->db[DBI_INDEX], &page) != 0 ||
	    page == 0)
		page = 4096;
	least = page;
	if ((ret = sp->db[DBI_INDEX]->cursor(sp->db[DBI_INDEX], txn, &c, 0)) != 0)
		return spool_dberr(sp, ret, "cursor");
	index_key(key, mbox, from);
	while (!done) {
		void *p, *kp, *dp;
		size_t klen, dlen;

		want = bulk_size(expect > seen ? expect - seen : 0, least);
		if (want > cap) {
			free(bulk);
			bulk = xmalloc(want);
			cap = want;
		}
		dbt_user(&k, key, sizeof(key));
		k.size = sizeof(key);
		dbt_user(&d, bulk, want);
		ret = c->get(c, &k, &d, op | DB_MULTIPLE_KEY);
		if (ret == DB_BUFFER_SMALL && d.size > want &&
		    d.size <= 64 * WALK_BULK_MAX) {
			/* More than the buffer holds at once: grow (the
			 * cursor has not moved). */
			least = d.size;
			continue;
		}
		if (ret != 0)
			break;
		op = DB_NEXT;
		DB_MULTIPLE_INIT(p, &d);
		for (;;) {
			uint32_t uid;

			DB_MULTIPLE_KEY_NEXT(p, &d, kp, klen, dp, dlen);
			if (p == NULL)
				break;
			if (klen != 8 || get_be32(kp) != mbox ||
			    (uid = get_be32((unsigned char *)kp + 4)) >= below) {
				done = true;
				break;
			}
			seen++;
			if (dlen != sizeof(r))
				continue;
			memcpy(&r, dp, sizeof(r));
			if ((rr = fn(uid, &r, arg)) != SPOOL_OK) {
				done = true;
				break;
			}
		}
	}
	(void)c->close(c);
	free(bulk);
	if (rr != SPOOL_OK)
		return rr;
	if (ret != 0 && ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "index walk");
	return SPOOL_OK;
}

/* walk_changes - call fn for each change log entry of mbox with modseq
 * > after. */
typedef int (*crec_fn)(uint64_t modseq, const struct crec *c, void *arg);
static int
walk_changes(struct spool *sp, DB_TXN *txn, uint32_t mbox, uint64_t after,
    crec_fn fn, void *arg)
{
	unsigned char key[12];
	struct crec cr;
	DBC *c;
	DBT k, d;
	int ret, rr = SPOOL_OK;

	if ((ret = sp->db[DBI_CHANGES]->cursor(sp->db[DBI_CHANGES], txn,
	    &c, 0)) != 0)
		return spool_dberr(sp, ret, "cursor");
	put_be32(key, mbox);
	put_be64(key + 4, after + 1);
	dbt_user(&k, key, sizeof(key));
	k.size = sizeof(key);
	dbt_user(&d, &cr, sizeof(cr));
	ret = c->get(c, &k, &d, DB_SET_RANGE);
	while (ret == 0 && k.size == 12 && get_be32(key) == mbox) {
		if (d.size == sizeof(cr) &&
		    (rr = fn(get_be64(key + 4), &cr, arg)) != SPOOL_OK)
			break;
		ret = c->get(c, &k, &d, DB_NEXT);
	}
	(void)c->close(c);
	if (rr != SPOOL_OK)
		return rr;
	if (ret != 0 && ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "changes walk");
	return SPOOL_OK;
}

/* ------------------------------------------------------------------ */
/* Open. */

static int
open_row(uint32_t uid, const struct irec *r, void *arg)
{
	struct spool_view *v = arg;
	struct spool_msg m;

	row_from(&m, uid, r);
	rows_add(v, &m);
	return SPOOL_OK;
}

static int
open_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct spool_view *v = arg;
	bool claim = (v->flags & SPOOL_VIEW_CLAIM_RECENT) &&
	    !(v->flags & SPOOL_VIEW_READONLY);
	char *name = (char *)v->st.name;
	struct mrec m;
	size_t i;
	int r;

	v->n = 0;
	spool_strlist_free(&v->kw);
	if ((r = spool_user_id(sp, txn, v->user, &v->user_id)) != SPOOL_OK)
		return r;
	if ((r = spool_mailbox_id(sp, txn, v->user_id, name, &v->mbox)) != 0)
		return r;
	if ((r = spool_mrec_get(sp, txn, v->mbox, &m, claim)) != SPOOL_OK)
		return r;
	if (m.attrs & SPOOL_MBOX_NOSELECT)
		return SPOOL_ENOSELECT;
	if ((r = spool_keywords_get(sp, txn, v->mbox, &v->kw)) != SPOOL_OK)
		return r;
	if (m.messages > v->cap && m.messages <= VIEW_PRESIZE_MAX) {
		/* The counter is a hint only (rows_add grows as needed): one
		 * allocation instead of a doubling series for a large
		 * mailbox, and never a huge one from a bad counter. */
		v->cap = (size_t)m.messages + 64;
		v->msgs = xreallocarray(v->msgs, v->cap, sizeof(*v->msgs));
	}
	if ((r = walk_index(sp, txn, v->mbox, 1, m.uidnext, m.messages,
	    open_row, v)) != 0)
		return r;
	memset(&v->st, 0, sizeof(v->st));
	v->st.name = name;
	v->st.id = v->mbox;
	v->st.uidvalidity = m.uidvalidity;
	v->st.uidnext = m.uidnext;
	v->st.highestmodseq = m.highestmodseq;
	v->st.special_use = m.special_use;
	v->st.recent = 0;
	for (i = 0; i < v->n; i++) {
		if (v->msgs[i].uid >= m.first_recent) {
			v->msgs[i].flags |= SPOOL_F_RECENT;
			v->st.recent++;
		}
	}
	v->modseq = m.highestmodseq;
	v->uidnext = m.uidnext;
	if (claim && m.first_recent < m.uidnext) {
		m.first_recent = m.uidnext;
		return spool_mrec_put(sp, txn, v->mbox, &m);
	}
	return SPOOL_OK;
}

/* view_counts - recompute the counters of the status from the rows. */
static void
view_counts(struct spool_view *v)
{
	size_t i;

	v->st.messages = (uint32_t)v->n;
	v->st.unseen = v->st.deleted = 0;
	v->st.recent = 0;
	v->st.size = 0;
	for (i = 0; i < v->n; i++) {
		if (!(v->msgs[i].flags & SPOOL_F_SEEN))
			v->st.unseen++;
		if (v->msgs[i].flags & SPOOL_F_DELETED)
			v->st.deleted++;
		if (v->msgs[i].flags & SPOOL_F_RECENT)
			v->st.recent++;
		v->st.size += v->msgs[i].size;
	}
}

int
spool_view_open(struct spool *sp, const char *user, const char *name,
    unsigned flags, struct spool_view **v_r)
{
	char norm[SPOOL_MAILBOX_MAX + 1];
	struct spool_view *v;
	int r;

	*v_r = NULL;
	if (user == NULL || user[0] == '\0' || strlen(user) > SPOOL_USER_MAX)
		return SPOOL_EINVAL;
	if ((r = spool_name_norm(name, norm, sizeof(norm))) != SPOOL_OK)
		return SPOOL_ENOENT;
	v = xcalloc(1, sizeof(*v));
	v->sp = sp;
	v->user = xstrdup(user);
	v->flags = flags;
	v->st.name = xstrdup(norm);
	/* Claiming \Recent is the only write here: no need to wait for
	 * the disk (TXN_LAZY). */
	r = spool_txn(sp, (flags & SPOOL_VIEW_CLAIM_RECENT) &&
	    !(flags & SPOOL_VIEW_READONLY) ? TXN_LAZY : TXN_READ, open_txn, v);
	if (r != SPOOL_OK) {
		spool_view_close(&v);
		return r;
	}
	view_counts(v);
	*v_r = v;
	return SPOOL_OK;
}

void
spool_view_close(struct spool_view **vp)
{
	struct spool_view *v = *vp;

	if (v == NULL)
		return;
	*vp = NULL;
	free(v->user);
	free(v->st.name);
	free(v->msgs);
	spool_strlist_free(&v->kw);
	free(v);
}

size_t
spool_view_count(const struct spool_view *v)
{
	return v->n;
}

const struct spool_msg *
spool_view_msg(const struct spool_view *v, size_t idx)
{
	return idx < v->n ? &v->msgs[idx] : NULL;
}

ssize_t
spool_view_find(const struct spool_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->msgs[mid].uid == uid)
			return (ssize_t)mid;
		if (v->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

const struct spool_mbox *
spool_view_status(const struct spool_view *v)
{
	return &v->st;
}

const char *const *
spool_view_keywords(const struct spool_view *v, size_t *n_r)
{
	*n_r = v->kw.n;
	return (const char *const *)v->kw.v;
}

uint64_t
spool_view_id(const struct spool_view *v)
{
	return v->mbox;
}

const char *
spool_view_user(const struct spool_view *v)
{
	return v->user;
}

/* ------------------------------------------------------------------ */
/* Refresh. */

/* view_lower - the first row index whose uid is >= uid (v->n if none). */
static size_t
view_lower(const struct spool_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* view_rows_between - how many rows have a uid in [lo, hi]. */
static size_t
view_rows_between(const struct spool_view *v, uint32_t lo, uint32_t hi)
{
	if (hi < lo)
		return 0;
	if (hi == UINT32_MAX)
		return v->n - view_lower(v, lo);
	return view_lower(v, hi + 1) - view_lower(v, lo);
}

void
spool_refresh_free(struct spool_refresh *r)
{
	if (r == NULL)
		return;
	free(r->expunged_seq);
	free(r->expunged_uid);
	spool_uidlist_free(&r->changed);
	memset(r, 0, sizeof(*r));
}

struct refresh_arg {
	struct spool_view	*v;
	struct mrec		 m;
	struct spool_uidlist	 expunged;	/* uids in the view */
	struct spool_uidlist	 changed_uid;
	struct spool_msg	*changed;	/* new rows for changed_uid */
	size_t			 nchanged;
	struct spool_msg	*added;
	size_t			 nadded, capadded;
	struct spool_strlist	 kw;
	bool			 claim;
	size_t			 walk_pos;	/* refresh_changed's place */
};

static void
refresh_reset(struct refresh_arg *a)
{
	spool_uidlist_free(&a->expunged);
	spool_uidlist_free(&a->changed_uid);
	free(a->changed);
	free(a->added);
	a->changed = a->added = NULL;
	a->nchanged = a->nadded = a->capadded = 0;
	spool_strlist_free(&a->kw);
}

static int
u32cmp(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

/* refresh_change - one change log entry after the view's modseq. */
static int
refresh_change(uint64_t modseq, const struct crec *c, void *arg)
{
	struct refresh_arg *a = arg;

	(void)modseq;
	if (c->uid >= a->v->uidnext)
		return SPOOL_OK;	/* new: read by the index walk */
	if (spool_view_find(a->v, c->uid) < 0)
		return SPOOL_OK;
	if (c->kind == CREC_EXPUNGED)
		spool_uidlist_add(&a->expunged, c->uid);
	else
		spool_uidlist_add(&a->changed_uid, c->uid);
	return SPOOL_OK;
}

/* Above this many changed uids a refresh reads their rows with one index
 * walk instead of one lookup each. */
#define REFRESH_WALK_MIN	64

/* refresh_changed - an index row in the range of the changed uids: keep
 * it when its uid is one of them (both in ascending order). */
static int
refresh_changed(uint32_t uid, const struct irec *r, void *arg)
{
	struct refresh_arg *a = arg;

	while (a->walk_pos < a->changed_uid.n &&
	    a->changed_uid.v[a->walk_pos] < uid)
		a->walk_pos++;
	if (a->walk_pos < a->changed_uid.n &&
	    a->changed_uid.v[a->walk_pos] == uid)
		row_from(&a->changed[a->nchanged++], uid, r);
	return SPOOL_OK;
}

static int
refresh_new(uint32_t uid, const struct irec *r, void *arg)
{
	struct refresh_arg *a = arg;

	if (a->nadded == a->capadded) {
		a->capadded = a->capadded ? a->capadded * 2 : 64;
		a->added = xreallocarray(a->added, a->capadded,
		    sizeof(*a->added));
	}
	row_from(&a->added[a->nadded], uid, r);
	if (uid >= a->m.first_recent)
		a->added[a->nadded].flags |= SPOOL_F_RECENT;
	a->nadded++;
	return SPOOL_OK;
}

static int
refresh_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct refresh_arg *a = arg;
	struct spool_view *v = a->v;
	size_t i, left;
	int r;

	refresh_reset(a);
	if ((r = spool_mrec_get(sp, txn, v->mbox, &a->m, a->claim)) != 0)
		return r;
	if (a->m.uidvalidity != v->st.uidvalidity ||
	    (a->m.attrs & SPOOL_MBOX_NOSELECT))
		return SPOOL_ENOENT;
	if (a->m.highestmodseq == v->modseq)
		return SPOOL_OK;
	if ((r = spool_keywords_get(sp, txn, v->mbox, &a->kw)) != SPOOL_OK)
		return r;
	if ((r = walk_changes(sp, txn, v->mbox, v->modseq, refresh_change,
	    a)) != SPOOL_OK)
		return r;
	/* Sort and dedupe the changed uids, then read their rows.  The log
	 * is in modseq order, which is not uid order once flags changed in
	 * another order: sort in n log n (a STORE 1:* elsewhere brings
	 * 100 000 entries). */
	if (a->changed_uid.n > 1) {
		size_t j = 0;

		qsort(a->changed_uid.v, a->changed_uid.n, sizeof(uint32_t),
		    u32cmp);
		for (i = 0; i < a->changed_uid.n; i++)
			if (j == 0 || a->changed_uid.v[j - 1] !=
			    a->changed_uid.v[i])
				a->changed_uid.v[j++] = a->changed_uid.v[i];
		a->changed_uid.n = j;
	}
	a->changed = xcalloc(a->changed_uid.n ? a->changed_uid.n : 1,
	    sizeof(*a->changed));
	if (a->changed_uid.n > REFRESH_WALK_MIN) {
		/* Many: one cursor pass over their uid range. */
		a->walk_pos = 0;
		r = walk_index(sp, txn, v->mbox, a->changed_uid.v[0],
		    a->changed_uid.v[a->changed_uid.n - 1] + 1,
		    view_rows_between(v, a->changed_uid.v[0],
		    a->changed_uid.v[a->changed_uid.n - 1]), refresh_changed,
		    a);
		if (r != SPOOL_OK)
			return r;
		goto added;
	}
	for (i = 0; i < a->changed_uid.n; i++) {
		struct irec ir;

		r = index_get(sp, txn, v->mbox, a->changed_uid.v[i], &ir, false);
		if (r == SPOOL_ENOENT)
			continue;	/* expunged meanwhile: its entry comes */
		if (r != SPOOL_OK)
			return r;
		row_from(&a->changed[a->nchanged++], a->changed_uid.v[i], &ir);
	}
added:
	/* New rows: the mailbox's count less the rows still here. */
	left = v->n > a->expunged.n ? v->n - a->expunged.n : 0;
	r = walk_index(sp, txn, v->mbox, v->uidnext, a->m.uidnext,
	    a->m.messages > left ? a->m.messages - left : 0, refresh_new, a);
	if (r != SPOOL_OK)
		return r;
	if (a->claim && a->m.first_recent < a->m.uidnext) {
		a->m.first_recent = a->m.uidnext;
		return spool_mrec_put(sp, txn, v->mbox, &a->m);
	}
	return SPOOL_OK;
}

int
spool_view_refresh(struct spool_view *v, struct spool_refresh *out)
{
	struct refresh_arg a;
	size_t i, j;
	int r;

	memset(out, 0, sizeof(*out));
	memset(&a, 0, sizeof(a));
	a.v = v;
	a.claim = (v->flags & SPOOL_VIEW_CLAIM_RECENT) &&
	    !(v->flags & SPOOL_VIEW_READONLY);
	r = spool_txn(v->sp, a.claim ? TXN_LAZY : TXN_READ, refresh_txn, &a);
	if (r != SPOOL_OK) {
		refresh_reset(&a);
		return r;
	}
	if (a.m.highestmodseq == v->modseq) {
		refresh_reset(&a);
		out->exists = (uint32_t)v->n;
		out->recent = v->st.recent;
		return SPOOL_OK;
	}
	/* Changed rows (skip those this view already has: its own stores). */
	for (i = 0; i < a.nchanged; i++) {
		ssize_t x = spool_view_find(v, a.changed[i].uid);

		if (x < 0 || v->msgs[x].modseq == a.changed[i].modseq)
			continue;
		a.changed[i].flags |= v->msgs[x].flags & SPOOL_F_RECENT;
		v->msgs[x] = a.changed[i];
		spool_uidlist_add(&out->changed, a.changed[i].uid);
	}
	/* Expunges: sequence numbers before the removal, descending. */
	if (a.expunged.n > 0) {
		qsort(a.expunged.v, a.expunged.n, sizeof(uint32_t), u32cmp);
		out->expunged_seq = xcalloc(a.expunged.n, sizeof(uint32_t));
		out->expunged_uid = xcalloc(a.expunged.n, sizeof(uint32_t));
		for (i = a.expunged.n; i-- > 0;) {
			ssize_t x = spool_view_find(v, a.expunged.v[i]);

			if (x < 0)
				continue;
			out->expunged_seq[out->nexpunged] = (uint32_t)x + 1;
			out->expunged_uid[out->nexpunged] = a.expunged.v[i];
			out->nexpunged++;
		}
		for (i = 0, j = 0; i < v->n; i++) {
			if (bsearch(&v->msgs[i].uid, a.expunged.v, a.expunged.n,
			    sizeof(uint32_t), u32cmp) != NULL)
				continue;
			v->msgs[j++] = v->msgs[i];
		}
		v->n = j;
		/* The changed list must not name expunged uids. */
		for (i = 0, j = 0; i < out->changed.n; i++)
			if (spool_view_find(v, out->changed.v[i]) >= 0)
				out->changed.v[j++] = out->changed.v[i];
		out->changed.n = j;
	}
	for (i = 0; i < a.nadded; i++)
		rows_add(v, &a.added[i]);
	if (a.kw.n != v->kw.n) {
		out->keywords_changed = true;
		spool_strlist_free(&v->kw);
		v->kw = a.kw;
		memset(&a.kw, 0, sizeof(a.kw));
	}
	v->modseq = a.m.highestmodseq;
	v->uidnext = a.m.uidnext;
	v->st.uidnext = a.m.uidnext;
	v->st.highestmodseq = a.m.highestmodseq;
	view_counts(v);
	out->exists = (uint32_t)v->n;
	out->recent = v->st.recent;
	refresh_reset(&a);
	return SPOOL_OK;
}

/* ------------------------------------------------------------------ */
/* The MIME cache. */

struct cache_arg {
	struct spool_view	*v;
	uint32_t		 uid;
	struct spool_cache	*c;
	uint64_t		 body;
	uint64_t		 size;
	bool			 want_cache;
};

static int
cache_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct cache_arg *a = arg;
	struct irec ir;
	struct brec_head h;
	DBT k, d;
	int r, ret;

	r = index_get(sp, txn, a->v->mbox, a->uid, &ir, false);
	if (r == SPOOL_ENOENT)
		return SPOOL_EEXPUNGED;
	if (r != SPOOL_OK)
		return r;
	a->body = ir.body;
	dbt_init(&k, &ir.body, sizeof(ir.body));
	if (!a->want_cache) {
		memset(&d, 0, sizeof(d));
		d.data = &h;
		d.ulen = d.dlen = sizeof(h);
		d.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
		ret = sp->db[DBI_MSGS]->get(sp->db[DBI_MSGS], txn, &k, &d, 0);
		if (ret == DB_NOTFOUND)
			return SPOOL_EEXPUNGED;
		if (ret != 0)
			return spool_dberr(sp, ret, "msgs get");
		a->size = h.size;
		return SPOOL_OK;
	}
	dbt_malloc(&d);
	ret = sp->db[DBI_MSGS]->get(sp->db[DBI_MSGS], txn, &k, &d, 0);
	if (ret == DB_NOTFOUND)
		return SPOOL_EEXPUNGED;
	if (ret != 0)
		return spool_dberr(sp, ret, "msgs get");
	if (d.size < sizeof(h)) {
		free(d.data);
		return SPOOL_ETEMP;
	}
	memcpy(&h, d.data, sizeof(h));
	a->size = h.size;
	spool_cache_free(a->c);
	r = spool_cache_decode((char *)d.data + sizeof(h), d.size - sizeof(h),
	    a->c);
	free(d.data);
	return r;
}

int
spool_view_cache(struct spool_view *v, uint32_t uid, struct spool_cache *c_r)
{
	struct cache_arg a = { v, uid, c_r, 0, 0, true };

	memset(c_r, 0, sizeof(*c_r));
	return spool_txn(v->sp, TXN_READ, cache_txn, &a);
}

/* The cursor's place in the index during spool_view_cache_many: the
 * first record of the mailbox with uid >= the last uid asked for. */
struct ixpos {
	bool		valid;
	uint32_t	uid;
	struct irec	r;
};

/* ix_seek - move p to the first index record of mbox with uid >= want,
 * reading forward from where it is when it can (a FETCH 1:* then costs
 * one DB_NEXT per message instead of a search from the root).  p->valid
 * is false when there is none.  Returns SPOOL_OK or an error. */
static int
ix_seek(struct spool *sp, DBC *c, uint32_t mbox, uint32_t want,
    struct ixpos *p)
{
	unsigned char key[8];
	DBT k, d;
	int ret;

	if (p->valid && p->uid >= want)
		return SPOOL_OK;
	dbt_user(&k, key, sizeof(key));
	dbt_user(&d, &p->r, sizeof(p->r));
	if (p->valid) {
		ret = c->get(c, &k, &d, DB_NEXT);
	} else {
		index_key(key, mbox, want);
		k.size = sizeof(key);
		ret = c->get(c, &k, &d, DB_SET_RANGE);
	}
	if (ret == DB_NOTFOUND) {
		p->valid = false;
		return SPOOL_OK;
	}
	if (ret != 0)
		return spool_dberr(sp, ret, "index seek");
	if (k.size != 8 || get_be32(key) != mbox || d.size != sizeof(p->r)) {
		p->valid = false;
		return SPOOL_OK;
	}
	p->valid = true;
	p->uid = get_be32(key + 4);
	if (p->uid < want) {
		/* Read forward but still short: search from the root. */
		p->valid = false;
		return ix_seek(sp, c, mbox, want, p);
	}
	return SPOOL_OK;
}

struct cache_many_arg {
	struct spool_view	*v;
	const uint32_t		*uids;
	size_t			 n;
	struct spool_cache	*c;
	int			*err;
};

static int
cache_many_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct cache_many_arg *a = arg;
	struct ixpos pos;
	struct brec_head h;
	DBC *c;
	DBT k, d;
	size_t i;
	int ret, r = SPOOL_OK;

	for (i = 0; i < a->n; i++) {
		spool_cache_free(&a->c[i]);
		a->err[i] = SPOOL_EEXPUNGED;
	}
	if ((ret = sp->db[DBI_INDEX]->cursor(sp->db[DBI_INDEX], txn, &c, 0)) != 0)
		return spool_dberr(sp, ret, "cursor");
	memset(&pos, 0, sizeof(pos));
	for (i = 0; i < a->n && r == SPOOL_OK; i++) {
		if (i > 0 && a->uids[i] <= a->uids[i - 1])
			pos.valid = false;	/* not ascending: search */
		if ((r = ix_seek(sp, c, a->v->mbox, a->uids[i], &pos)) != 0)
			break;
		if (!pos.valid || pos.uid != a->uids[i])
			continue;	/* expunged */
		dbt_init(&k, &pos.r.body, sizeof(pos.r.body));
		dbt_malloc(&d);
		ret = sp->db[DBI_MSGS]->get(sp->db[DBI_MSGS], txn, &k, &d, 0);
		if (ret == DB_NOTFOUND)
			continue;
		if (ret != 0) {
			r = spool_dberr(sp, ret, "msgs get");
			break;
		}
		if (d.size < sizeof(h)) {
			free(d.data);
			r = SPOOL_ETEMP;
			break;
		}
		memcpy(&h, d.data, sizeof(h));
		r = spool_cache_decode((char *)d.data + sizeof(h),
		    d.size - sizeof(h), &a->c[i]);
		free(d.data);
		if (r == SPOOL_OK)
			a->err[i] = SPOOL_OK;
	}
	(void)c->close(c);
	return r;
}

int
spool_view_cache_many(struct spool_view *v, const uint32_t *uids, size_t n,
    struct spool_cache *c_r, int *err_r)
{
	struct cache_many_arg a = { v, uids, n, c_r, err_r };
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		memset(&c_r[i], 0, sizeof(c_r[i]));
		err_r[i] = SPOOL_EEXPUNGED;
	}
	if (n == 0)
		return SPOOL_OK;
	r = spool_txn(v->sp, TXN_READ, cache_many_txn, &a);
	if (r != SPOOL_OK)
		for (i = 0; i < n; i++) {
			spool_cache_free(&c_r[i]);
			err_r[i] = r;
		}
	return r;
}

/* ------------------------------------------------------------------ */
/* Bodies. */

int
spool_body_open(struct spool_view *v, uint32_t uid, struct spool_body **b_r)
{
	struct cache_arg a = { v, uid, NULL, 0, 0, false };
	int r;

	*b_r = NULL;
	if ((r = spool_txn(v->sp, TXN_READ, cache_txn, &a)) != SPOOL_OK)
		return r;
	*b_r = xcalloc(1, sizeof(**b_r));
	(*b_r)->sp = v->sp;
	(*b_r)->body = a.body;
	(*b_r)->size = a.size;
	return SPOOL_OK;
}

struct spool_body *
spool_body_new(struct spool *sp, uint64_t body, uint64_t size)
{
	struct spool_body *b = xcalloc(1, sizeof(*b));

	b->sp = sp;
	b->body = body;
	b->size = size;
	return b;
}

uint64_t
spool_body_size(const struct spool_body *b)
{
	return b->size;
}

struct read_arg {
	struct spool_body	*b;
	uint64_t		 off;
	char			*dst;
	size_t			 len;
	size_t			 got;
};

static int
read_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct read_arg *a = arg;
	unsigned char key[12];
	DBT k, d;
	int ret;

	a->got = 0;
	while (a->got < a->len && a->off + a->got < a->b->size) {
		uint64_t pos = a->off + a->got;
		uint32_t chunk = (uint32_t)(pos / SPOOL_CHUNK);
		uint32_t in = (uint32_t)(pos % SPOOL_CHUNK);
		size_t want = a->len - a->got;

		if (want > SPOOL_CHUNK - in)
			want = SPOOL_CHUNK - in;
		if (want > a->b->size - pos)
			want = (size_t)(a->b->size - pos);
		memcpy(key, &a->b->body, 8);
		put_be32(key + 8, chunk);
		dbt_init(&k, key, sizeof(key));
		memset(&d, 0, sizeof(d));
		d.data = a->dst + a->got;
		d.ulen = (u_int32_t)want;
		d.dlen = (u_int32_t)want;
		d.doff = in;
		d.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
		ret = body_db(sp, a->b->body)->get(body_db(sp, a->b->body),
		    txn, &k, &d, 0);
		if (ret == DB_NOTFOUND)
			return SPOOL_EEXPUNGED;
		if (ret != 0)
			return spool_dberr(sp, ret, "body get");
		if (d.size == 0)
			break;
		a->got += d.size;
	}
	return SPOOL_OK;
}

int
spool_body_read(struct spool_body *b, uint64_t offset, void *dst, size_t len,
    size_t *got_r)
{
	struct read_arg a = { b, offset, dst, len, 0 };
	int r;

	*got_r = 0;
	if (offset >= b->size || len == 0)
		return SPOOL_OK;
	if (len > 2 * SPOOL_CHUNK)
		a.len = 2 * SPOOL_CHUNK;
	r = spool_txn(b->sp, TXN_READ, read_txn, &a);
	if (r == SPOOL_OK)
		*got_r = a.got;
	return r;
}

int
spool_body_get(struct spool_body *b, uint64_t offset, uint64_t len,
    struct buf *out)
{
	char tmp[16384];
	uint64_t end;
	int r;

	if (offset >= b->size)
		return SPOOL_OK;
	end = len > b->size - offset ? b->size : offset + len;
	while (offset < end) {
		size_t want = end - offset > sizeof(tmp) ? sizeof(tmp) :
		    (size_t)(end - offset), got;

		if ((r = spool_body_read(b, offset, tmp, want, &got)) != 0)
			return r;
		if (got == 0)
			break;
		if (buf_append(out, tmp, got) < 0)
			return SPOOL_ELIMIT;
		offset += got;
	}
	return SPOOL_OK;
}

void
spool_body_close(struct spool_body **bp)
{
	free(*bp);
	*bp = NULL;
}

/* ------------------------------------------------------------------ */
/* Store. */

struct store_arg {
	struct spool_view	*v;
	const uint32_t		*uids;
	size_t			 nuids;
	int			 mode;
	uint32_t		 flags;
	const char *const	*kw;
	size_t			 nkw;
	uint64_t		 unchangedsince;
	struct spool_uidlist	 changed, failed;
	struct spool_msg	*rows;		/* new rows of changed */
	struct spool_strlist	 newkw;
	bool			 kw_added;
	uint64_t		 highestmodseq;
};

static int
store_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct store_arg *a = arg;
	struct spool_view *v = a->v;
	uint64_t kwmask = 0;
	struct mrec m;
	size_t i;
	int r;

	spool_uidlist_free(&a->changed);
	spool_uidlist_free(&a->failed);
	spool_strlist_free(&a->newkw);
	free(a->rows);
	a->rows = NULL;
	if ((r = spool_mrec_get(sp, txn, v->mbox, &m, true)) != SPOOL_OK)
		return r;
	if (m.uidvalidity != v->st.uidvalidity)
		return SPOOL_ENOENT;
	r = spool_keywords_map(sp, txn, v->mbox, a->kw, a->nkw,
	    a->mode != SPOOL_STORE_REMOVE, &kwmask, &a->kw_added);
	if (r != SPOOL_OK)
		return r;
	if (a->kw_added &&
	    (r = spool_keywords_get(sp, txn, v->mbox, &a->newkw)) != SPOOL_OK)
		return r;
	a->rows = xcalloc(a->nuids ? a->nuids : 1, sizeof(*a->rows));
	for (i = 0; i < a->nuids; i++) {
		uint32_t uid = a->uids[i];
		unsigned char key[12];
		struct irec ir;
		uint16_t nf;
		uint64_t nk;
		struct crec cr;
		DBT k, d;
		int ret;

		r = index_get(sp, txn, v->mbox, uid, &ir, true);
		if (r == SPOOL_ENOENT)
			continue;
		if (r != SPOOL_OK)
			return r;
		if (a->unchangedsince != 0 && ir.modseq > a->unchangedsince) {
			spool_uidlist_add(&a->failed, uid);
			continue;
		}
		switch (a->mode) {
		case SPOOL_STORE_SET:
			nf = (uint16_t)(a->flags & SPOOL_F_STORED_MASK);
			nk = kwmask;
			break;
		case SPOOL_STORE_ADD:
			nf = ir.flags | (uint16_t)(a->flags & SPOOL_F_STORED_MASK);
			nk = ir.keywords | kwmask;
			break;
		default:
			nf = ir.flags & (uint16_t)~(a->flags & SPOOL_F_STORED_MASK);
			nk = ir.keywords & ~kwmask;
			break;
		}
		if (nf == ir.flags && nk == ir.keywords)
			continue;
		/* Counters. */
		if ((ir.flags & SPOOL_F_SEEN) && !(nf & SPOOL_F_SEEN))
			m.unseen++;
		if (!(ir.flags & SPOOL_F_SEEN) && (nf & SPOOL_F_SEEN) && m.unseen)
			m.unseen--;
		if ((ir.flags & SPOOL_F_DELETED) && !(nf & SPOOL_F_DELETED) &&
		    m.deleted)
			m.deleted--;
		if (!(ir.flags & SPOOL_F_DELETED) && (nf & SPOOL_F_DELETED))
			m.deleted++;
		/* The change log: the old entry goes, a new one comes. */
		put_be32(key, v->mbox);
		put_be64(key + 4, ir.modseq);
		dbt_init(&k, key, sizeof(key));
		ret = sp->db[DBI_CHANGES]->del(sp->db[DBI_CHANGES], txn, &k, 0);
		if (ret != 0 && ret != DB_NOTFOUND)
			return spool_dberr(sp, ret, "change del");
		ir.flags = nf;
		ir.keywords = nk;
		ir.modseq = ++m.highestmodseq;
		put_be64(key + 4, ir.modseq);
		cr.uid = uid;
		cr.kind = CREC_PRESENT;
		dbt_init(&d, &cr, sizeof(cr));
		ret = sp->db[DBI_CHANGES]->put(sp->db[DBI_CHANGES], txn, &k, &d, 0);
		if (ret != 0)
			return spool_dberr(sp, ret, "change put");
		index_key(key, v->mbox, uid);
		dbt_init(&k, key, 8);
		dbt_init(&d, &ir, sizeof(ir));
		ret = sp->db[DBI_INDEX]->put(sp->db[DBI_INDEX], txn, &k, &d, 0);
		if (ret != 0)
			return spool_dberr(sp, ret, "index put");
		row_from(&a->rows[a->changed.n], uid, &ir);
		spool_uidlist_add(&a->changed, uid);
	}
	a->highestmodseq = m.highestmodseq;
	if (a->changed.n == 0 && !a->kw_added)
		return SPOOL_OK;
	return spool_mrec_put(sp, txn, v->mbox, &m);
}

int
spool_store(struct spool_view *v, const uint32_t *uids, size_t nuids,
    int mode, uint32_t flags, const char *const *keywords, size_t nkeywords,
    uint64_t unchangedsince, struct spool_uidlist *changed_r,
    struct spool_uidlist *failed_r)
{
	struct store_arg a;
	size_t i;
	int r;

	if (changed_r != NULL)
		memset(changed_r, 0, sizeof(*changed_r));
	if (failed_r != NULL)
		memset(failed_r, 0, sizeof(*failed_r));
	if (v->flags & SPOOL_VIEW_READONLY)
		return SPOOL_EPERM;
	if (mode < SPOOL_STORE_SET || mode > SPOOL_STORE_REMOVE)
		return SPOOL_EINVAL;
	memset(&a, 0, sizeof(a));
	a.v = v;
	a.uids = uids;
	a.nuids = nuids;
	a.mode = mode;
	a.flags = flags;
	a.kw = keywords;
	a.nkw = nkeywords;
	a.unchangedsince = unchangedsince;
	r = spool_txn(v->sp, 0, store_txn, &a);
	if (r == SPOOL_OK) {
		/* Update the rows in place (no sequence change). */
		for (i = 0; i < a.changed.n; i++) {
			ssize_t x = spool_view_find(v, a.changed.v[i]);

			if (x < 0)
				continue;
			a.rows[i].flags |= v->msgs[x].flags & SPOOL_F_RECENT;
			a.rows[i].internal_date = v->msgs[x].internal_date;
			v->msgs[x] = a.rows[i];
		}
		if (a.kw_added) {
			spool_strlist_free(&v->kw);
			v->kw = a.newkw;
			memset(&a.newkw, 0, sizeof(a.newkw));
		}
		view_counts(v);
		/* The reported HIGHESTMODSEQ moves; the sync point
		 * (v->modseq) does not, so that the next refresh still
		 * reads what other sessions changed meanwhile. */
		if (a.highestmodseq > v->st.highestmodseq)
			v->st.highestmodseq = a.highestmodseq;
		if (a.changed.n > 0)
			spool_notify(v->sp, v->mbox);
		if (changed_r != NULL) {
			*changed_r = a.changed;
			memset(&a.changed, 0, sizeof(a.changed));
		}
		if (failed_r != NULL) {
			*failed_r = a.failed;
			memset(&a.failed, 0, sizeof(a.failed));
		}
	}
	spool_uidlist_free(&a.changed);
	spool_uidlist_free(&a.failed);
	spool_strlist_free(&a.newkw);
	free(a.rows);
	return r;
}

/* ------------------------------------------------------------------ */
/* Copy and move. */

void
spool_copy_result_free(struct spool_copy_result *r)
{
	if (r == NULL)
		return;
	spool_uidlist_free(&r->src);
	spool_uidlist_free(&r->dst);
	memset(r, 0, sizeof(*r));
}

struct copy_arg {
	struct spool_view		*v;
	const uint32_t			*uids;
	size_t				 nuids;
	char				 dest[SPOOL_MAILBOX_MAX + 1];
	bool				 move;
	uint32_t			 dst_id;
	struct spool_copy_result	*res;
};

static int
copy_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct copy_arg *a = arg;
	struct spool_view *v = a->v;
	struct mrec sm, dm, *dmp;
	struct urec u;
	struct spool_strlist skw;
	uint64_t map[SPOOL_KEYWORDS_MAX];
	struct irec *recs;
	uint32_t *uids;
	uint64_t bytes = 0;
	size_t n = 0, i, b;
	int r;

	spool_copy_result_free(a->res);
	if ((r = spool_mailbox_id(sp, txn, v->user_id, a->dest, &a->dst_id)) != 0)
		return r;
	if ((r = spool_mrec_get(sp, txn, v->mbox, &sm, a->move ||
	    a->dst_id == v->mbox)) != SPOOL_OK)
		return r;
	if (sm.uidvalidity != v->st.uidvalidity)
		return SPOOL_ENOENT;
	if (a->dst_id == v->mbox) {
		dmp = &sm;
	} else {
		if ((r = spool_mrec_get(sp, txn, a->dst_id, &dm, true)) != 0)
			return r;
		dmp = &dm;
	}
	if (dmp->attrs & SPOOL_MBOX_NOSELECT)
		return SPOOL_ENOSELECT;
	if ((r = spool_urec_get(sp, txn, v->user_id, &u, true)) != SPOOL_OK)
		return r;
	/* Keyword bits of the source map onto the destination's table. */
	if ((r = spool_keywords_get(sp, txn, v->mbox, &skw)) != SPOOL_OK)
		return r;
	for (b = 0; b < skw.n; b++) {
		const char *one = skw.v[b];

		r = spool_keywords_map(sp, txn, a->dst_id, &one, 1, true,
		    &map[b], NULL);
		if (r == SPOOL_ELIMIT || r == SPOOL_EINVAL) {
			map[b] = 0;	/* the destination is full: dropped */
			r = SPOOL_OK;
		}
		if (r != SPOOL_OK)
			break;
	}
	spool_strlist_free(&skw);
	if (r != SPOOL_OK)
		return r;
	recs = xcalloc(a->nuids ? a->nuids : 1, sizeof(*recs));
	uids = xcalloc(a->nuids ? a->nuids : 1, sizeof(*uids));
	for (i = 0; i < a->nuids; i++) {
		r = index_get(sp, txn, v->mbox, a->uids[i], &recs[n], a->move);
		if (r == SPOOL_ENOENT)
			continue;
		if (r != SPOOL_OK)
			goto out;
		uids[n] = a->uids[i];
		bytes += recs[n].size;
		n++;
	}
	r = SPOOL_OK;
	if (!a->move && n > 0 &&
	    (r = spool_quota_fits(&u, bytes, n)) != SPOOL_OK)
		goto out;
	a->res->dest_uidvalidity = dmp->uidvalidity;
	for (i = 0; i < n; i++) {
		struct irec nr = recs[i];
		uint32_t nuid;

		nr.keywords = 0;
		for (b = 0; b < SPOOL_KEYWORDS_MAX && b < 64; b++)
			if (recs[i].keywords & (1ULL << b))
				nr.keywords |= b < GMS_NELEM(map) ? map[b] : 0;
		if ((r = spool_index_add(sp, txn, a->dst_id, dmp, &nr,
		    &nuid)) != SPOOL_OK)
			goto out;
		if ((r = spool_body_ref(sp, txn, nr.body, 1)) != SPOOL_OK)
			goto out;
		if (a->move) {
			r = spool_index_del(sp, txn, v->mbox, &sm, uids[i],
			    &recs[i], NULL);
			if (r != SPOOL_OK)
				goto out;
		}
		spool_uidlist_add(&a->res->src, uids[i]);
		spool_uidlist_add(&a->res->dst, nuid);
	}
	if (!a->move) {
		u.bytes_used += bytes;
		u.messages_used += n;
		if ((r = spool_urec_put(sp, txn, v->user_id, &u)) != SPOOL_OK)
			goto out;
	}
	if (a->dst_id != v->mbox &&
	    (r = spool_mrec_put(sp, txn, a->dst_id, dmp)) != SPOOL_OK)
		goto out;
	if (a->move || a->dst_id == v->mbox)
		r = spool_mrec_put(sp, txn, v->mbox, &sm);
out:
	free(recs);
	free(uids);
	return r;
}

int
spool_copy(struct spool_view *v, const uint32_t *uids, size_t nuids,
    const char *dest, bool move, struct spool_copy_result *r_r)
{
	struct copy_arg a;
	int r;

	memset(r_r, 0, sizeof(*r_r));
	if (move && (v->flags & SPOOL_VIEW_READONLY))
		return SPOOL_EPERM;
	memset(&a, 0, sizeof(a));
	if (spool_name_norm(dest, a.dest, sizeof(a.dest)) != SPOOL_OK)
		return SPOOL_ENOENT;
	a.v = v;
	a.uids = uids;
	a.nuids = nuids;
	a.move = move;
	a.res = r_r;
	r = spool_txn(v->sp, 0, copy_txn, &a);
	if (r != SPOOL_OK) {
		spool_copy_result_free(r_r);
		return r;
	}
	spool_notify(v->sp, a.dst_id);
	if (move)
		spool_notify(v->sp, v->mbox);
	return SPOOL_OK;
}

/* ------------------------------------------------------------------ */
/* Expunge. */

struct expunge_arg {
	struct spool_view	*v;
	const uint32_t		*uids;
	size_t			 nuids;
	struct spool_uidlist	 done;
	struct spool_uidlist	 cand;
	struct irec		*recs;
	size_t			 nrecs, caprecs;
};

static int
expunge_collect(uint32_t uid, const struct irec *r, void *arg)
{
	struct expunge_arg *a = arg;

	if (!(r->flags & SPOOL_F_DELETED))
		return SPOOL_OK;
	if (a->nrecs == a->caprecs) {
		a->caprecs = a->caprecs ? a->caprecs * 2 : 64;
		a->recs = xreallocarray(a->recs, a->caprecs, sizeof(*a->recs));
	}
	a->recs[a->nrecs++] = *r;
	spool_uidlist_add(&a->cand, uid);
	return SPOOL_OK;
}

static int
expunge_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct expunge_arg *a = arg;
	struct spool_view *v = a->v;
	struct mrec m;
	struct urec u;
	size_t i;
	int r;

	spool_uidlist_free(&a->done);
	spool_uidlist_free(&a->cand);
	a->nrecs = 0;
	if ((r = spool_mrec_get(sp, txn, v->mbox, &m, true)) != SPOOL_OK)
		return r;
	if (m.uidvalidity != v->st.uidvalidity)
		return SPOOL_ENOENT;
	if ((r = spool_urec_get(sp, txn, v->user_id, &u, true)) != SPOOL_OK)
		return r;
	if (a->uids == NULL) {
		r = walk_index(sp, txn, v->mbox, 1, UINT32_MAX, v->n,
		    expunge_collect, a);
		if (r != SPOOL_OK)
			return r;
	} else {
		for (i = 0; i < a->nuids; i++) {
			struct irec ir;

			r = index_get(sp, txn, v->mbox, a->uids[i], &ir, true);
			if (r == SPOOL_ENOENT)
				continue;
			if (r != SPOOL_OK)
				return r;
			(void)expunge_collect(a->uids[i], &ir, a);
		}
	}
	for (i = 0; i < a->cand.n; i++) {
		r = spool_index_del(sp, txn, v->mbox, &m, a->cand.v[i],
		    &a->recs[i], &u);
		if (r != SPOOL_OK)
			return r;
		spool_uidlist_add(&a->done, a->cand.v[i]);
	}
	if (a->done.n == 0)
		return SPOOL_OK;
	if ((r = spool_urec_put(sp, txn, v->user_id, &u)) != SPOOL_OK)
		return r;
	return spool_mrec_put(sp, txn, v->mbox, &m);
}

int
spool_expunge(struct spool_view *v, const uint32_t *uids, size_t nuids,
    struct spool_uidlist *expunged_r)
{
	struct expunge_arg a;
	int r;

	if (expunged_r != NULL)
		memset(expunged_r, 0, sizeof(*expunged_r));
	if (v->flags & SPOOL_VIEW_READONLY)
		return SPOOL_EPERM;
	memset(&a, 0, sizeof(a));
	a.v = v;
	a.uids = uids;
	a.nuids = nuids;
	r = spool_txn(v->sp, 0, expunge_txn, &a);
	if (r == SPOOL_OK && a.done.n > 0)
		spool_notify(v->sp, v->mbox);
	if (r == SPOOL_OK && expunged_r != NULL) {
		*expunged_r = a.done;
		memset(&a.done, 0, sizeof(a.done));
	}
	spool_uidlist_free(&a.done);
	spool_uidlist_free(&a.cand);
	free(a.recs);
	return r;
}

/* ------------------------------------------------------------------ */
/* Changes since a modseq. */

void
spool_changes_free(struct spool_changes *c)
{
	if (c == NULL)
		return;
	spool_uidlist_free(&c->changed);
	spool_uidlist_free(&c->expunged);
	memset(c, 0, sizeof(*c));
}

struct changes_arg {
	struct spool_view	*v;
	uint64_t		 modseq;
	struct spool_changes	*c;
};

static int
changes_one(uint64_t modseq, const struct crec *c, void *arg)
{
	struct changes_arg *a = arg;

	(void)modseq;
	if (c->kind == CREC_EXPUNGED)
		spool_uidlist_add(&a->c->expunged, c->uid);
	else
		spool_uidlist_add(&a->c->changed, c->uid);
	return SPOOL_OK;
}

static int
changes_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct changes_arg *a = arg;
	struct mrec m;
	int r;

	spool_changes_free(a->c);
	if ((r = spool_mrec_get(sp, txn, a->v->mbox, &m, false)) != SPOOL_OK)
		return r;
	if (m.uidvalidity != a->v->st.uidvalidity)
		return SPOOL_ENOENT;
	a->c->highestmodseq = m.highestmodseq;
	return walk_changes(sp, txn, a->v->mbox, a->modseq, changes_one, a);
}

int
spool_changes_since(struct spool_view *v, uint64_t modseq,
    struct spool_changes *c_r)
{
	struct changes_arg a = { v, modseq, c_r };
	int r;

	memset(c_r, 0, sizeof(*c_r));
	r = spool_txn(v->sp, TXN_READ, changes_txn, &a);
	if (r != SPOOL_OK) {
		spool_changes_free(c_r);
		return r;
	}
	if (c_r->changed.n > 1)
		qsort(c_r->changed.v, c_r->changed.n, sizeof(uint32_t), u32cmp);
	if (c_r->expunged.n > 1)
		qsort(c_r->expunged.v, c_r->expunged.n, sizeof(uint32_t),
		    u32cmp);
	return SPOOL_OK;
}
