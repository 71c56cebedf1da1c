/*
 * spool_store.c - users, mailboxes, quotas, subscriptions and the two
 * ways a message enters the store: spool_deliver (SMTP: one body, many
 * mailboxes, queue entries, one transaction) and spool_append (IMAP).
 * Also the record helpers the view and queue code share: mailbox and
 * user records, index insertion and removal with the change log and the
 * counters, body storage and reference counting, keyword tables.
 *
 * Lock order inside a transaction, kept everywhere to make deadlocks
 * rare (they are retried anyway): users/names (btree) -> mailbox records
 * -> user records -> index -> change log -> msgs/bodies -> queue.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spool/spool-private.h"

/* ------------------------------------------------------------------ */
/* Small helpers. */

void
spool_strlist_free(struct spool_strlist *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* strlist_add - append a copy of s (n bytes). */
static void
strlist_add(struct spool_strlist *l, const char *s, size_t n)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrndup(s, n);
}

void
spool_uidlist_free(struct spool_uidlist *l)
{
	if (l == NULL)
		return;
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

void
spool_uidlist_add(struct spool_uidlist *l, uint32_t uid)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = uid;
}

void
spool_mbox_list_free(struct spool_mbox_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

const char *
spool_use_name(uint32_t use)
{
	switch (use) {
	case SPOOL_USE_DRAFTS: return "\\Drafts";
	case SPOOL_USE_SENT: return "\\Sent";
	case SPOOL_USE_TRASH: return "\\Trash";
	case SPOOL_USE_JUNK: return "\\Junk";
	case SPOOL_USE_ARCHIVE: return "\\Archive";
	case SPOOL_USE_FLAGGED: return "\\Flagged";
	default: return NULL;
	}
}

uint64_t
spool_append_limit(const struct spool *sp)
{
	return sp->set.append_limit;
}

/* user_ok - a user name the store accepts. */
static bool
user_ok(const char *user)
{
	size_t i, n;

	if (user == NULL)
		return false;
	n = strlen(user);
	if (n == 0 || n > SPOOL_USER_MAX)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)user[i];

		if (c <= 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

int
spool_name_norm(const char *name, char *out, size_t outlen)
{
	size_t i, n;

	if (name == NULL)
		return SPOOL_EINVAL;
	n = strlen(name);
	if (n == 0 || n > SPOOL_MAILBOX_MAX || n >= outlen)
		return SPOOL_EINVAL;
	if (name[0] == SPOOL_HIER_SEP || name[n - 1] == SPOOL_HIER_SEP)
		return SPOOL_EINVAL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c == 0x7f)
			return SPOOL_EINVAL;
		if (c == SPOOL_HIER_SEP && name[i + 1] == SPOOL_HIER_SEP)
			return SPOOL_EINVAL;
	}
	memcpy(out, name, n + 1);
	if (gms_strncasecmp(out, "INBOX", 5) == 0 &&
	    (out[5] == '\0' || out[5] == SPOOL_HIER_SEP))
		memcpy(out, "INBOX", 5);
	return SPOOL_OK;
}

/* name_key - names.db / subs.db key: user id BE + name. */
static size_t
name_key(unsigned char *key, size_t keylen, uint32_t user, const char *name)
{
	size_t n = strlen(name);

	if (n + 4 > keylen)
		n = keylen - 4;
	put_be32(key, user);
	memcpy(key + 4, name, n);
	return n + 4;
}

/* ------------------------------------------------------------------ */
/* Records. */

/* recno_get / recno_put - a fixed-size record of a queue database (the
 * mailbox and user records) by record number. */
static int
recno_get(struct spool *sp, DB_TXN *txn, int dbi, uint32_t id, void *rec,
    size_t size, bool rmw, const char *what)
{
	db_recno_t recno = id;
	DBT k, d;

	dbt_init(&k, &recno, sizeof(recno));
	dbt_user(&d, rec, (uint32_t)size);
	return spool_dberr(sp, sp->db[dbi]->get(sp->db[dbi], txn, &k, &d,
	    rmw ? DB_RMW : 0), what);
}

static int
recno_put(struct spool *sp, DB_TXN *txn, int dbi, uint32_t id,
    const void *rec, size_t size, const char *what)
{
	db_recno_t recno = id;
	DBT k, d;

	dbt_init(&k, &recno, sizeof(recno));
	dbt_init(&d, (void *)(uintptr_t)rec, (uint32_t)size);
	return spool_dberr(sp, sp->db[dbi]->put(sp->db[dbi], txn, &k, &d, 0),
	    what);
}

int
spool_mrec_get(struct spool *sp, DB_TXN *txn, uint32_t id, struct mrec *m,
    bool rmw)
{
	int r = recno_get(sp, txn, DBI_MBOX, id, m, sizeof(*m), rmw,
	    "mailbox record");

	return r == SPOOL_OK && m->magic != MREC_MAGIC ? SPOOL_ENOENT : r;
}

int
spool_mrec_put(struct spool *sp, DB_TXN *txn, uint32_t id,
    const struct mrec *m)
{
	return recno_put(sp, txn, DBI_MBOX, id, m, sizeof(*m),
	    "mailbox record put");
}

int
spool_urec_get(struct spool *sp, DB_TXN *txn, uint32_t id, struct urec *u,
    bool rmw)
{
	int r = recno_get(sp, txn, DBI_UQUOTA, id, u, sizeof(*u), rmw,
	    "user record");

	return r == SPOOL_OK && u->magic != UREC_MAGIC ? SPOOL_ENOENT : r;
}

int
spool_urec_put(struct spool *sp, DB_TXN *txn, uint32_t id,
    const struct urec *u)
{
	return recno_put(sp, txn, DBI_UQUOTA, id, u, sizeof(*u),
	    "user record put");
}

int
spool_user_id(struct spool *sp, DB_TXN *txn, const char *user, uint32_t *id_r)
{
	DBT k, d;
	uint32_t id;
	int ret;

	dbt_init(&k, (void *)user, strlen(user));
	dbt_user(&d, &id, sizeof(id));
	ret = sp->db[DBI_USERS]->get(sp->db[DBI_USERS], txn, &k, &d, 0);
	if (ret == 0)
		*id_r = id;
	return spool_dberr(sp, ret, "user lookup");
}

int
spool_mailbox_id(struct spool *sp, DB_TXN *txn, uint32_t user,
    const char *name, uint32_t *id_r)
{
	unsigned char key[4 + SPOOL_MAILBOX_MAX + 1];
	DBT k, d;
	uint32_t id;
	int ret;

	dbt_init(&k, key, name_key(key, sizeof(key), user, name));
	dbt_user(&d, &id, sizeof(id));
	ret = sp->db[DBI_NAMES]->get(sp->db[DBI_NAMES], txn, &k, &d, 0);
	if (ret == 0)
		*id_r = id;
	return spool_dberr(sp, ret, "mailbox lookup");
}

/* next_uidvalidity - a UIDVALIDITY above every one given before. */
static int
next_uidvalidity(struct spool *sp, DB_TXN *txn, uint32_t *v_r)
{
	static const char name[] = "uidvalidity";
	uint32_t last = 0, now = (uint32_t)time(NULL);
	DBT k, d;
	int ret;

	dbt_init(&k, (void *)name, sizeof(name) - 1);
	dbt_user(&d, &last, sizeof(last));
	ret = sp->db[DBI_META]->get(sp->db[DBI_META], txn, &k, &d, DB_RMW);
	if (ret != 0 && ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "meta");
	if (ret == DB_NOTFOUND)
		last = 0;
	last = now > last ? now : last + 1;
	if (last == 0)
		last = 1;
	dbt_init(&d, &last, sizeof(last));
	ret = sp->db[DBI_META]->put(sp->db[DBI_META], txn, &k, &d, 0);
	if (ret != 0)
		return spool_dberr(sp, ret, "meta put");
	*v_r = last;
	return SPOOL_OK;
}

/* mailbox_new - create one mailbox record and its name. */
static int
mailbox_new(struct spool *sp, DB_TXN *txn, uint32_t user, const char *name,
    uint32_t use, uint32_t *id_r)
{
	unsigned char key[4 + SPOOL_MAILBOX_MAX + 1];
	struct mrec m;
	db_recno_t recno = 0;
	uint32_t id;
	DBT k, d;
	int r, ret;

	memset(&m, 0, sizeof(m));
	m.magic = MREC_MAGIC;
	m.user = user;
	m.uidnext = 1;
	m.first_recent = 1;
	m.highestmodseq = 1;
	m.special_use = use;
	if ((r = next_uidvalidity(sp, txn, &m.uidvalidity)) != SPOOL_OK)
		return r;
	dbt_user(&k, &recno, sizeof(recno));
	k.size = sizeof(recno);
	dbt_init(&d, &m, sizeof(m));
	ret = sp->db[DBI_MBOX]->put(sp->db[DBI_MBOX], txn, &k, &d, DB_APPEND);
	if (ret != 0)
		return spool_dberr(sp, ret, "mailbox append");
	id = recno;
	dbt_init(&k, key, name_key(key, sizeof(key), user, name));
	dbt_init(&d, &id, sizeof(id));
	ret = sp->db[DBI_NAMES]->put(sp->db[DBI_NAMES], txn, &k, &d,
	    DB_NOOVERWRITE);
	if (ret != 0)
		return spool_dberr(sp, ret, "mailbox name");
	if (id_r != NULL)
		*id_r = id;
	return SPOOL_OK;
}

/* count_mailboxes - how many names the user has (bounded walk). */
static int
count_mailboxes(struct spool *sp, DB_TXN *txn, uint32_t user, size_t *n_r)
{
	unsigned char key[4];
	DBC *c;
	DBT k, d;
	size_t n = 0;
	int ret;

	*n_r = 0;
	put_be32(key, user);
	if ((ret = sp->db[DBI_NAMES]->cursor(sp->db[DBI_NAMES], txn, &c, 0)) != 0)
		return spool_dberr(sp, ret, "cursor");
	memset(&k, 0, sizeof(k));
	k.data = xmalloc(4);
	memcpy(k.data, key, 4);
	k.size = 4;
	k.flags = DB_DBT_REALLOC;
	memset(&d, 0, sizeof(d));
	d.data = partial_none;
	d.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
	ret = c->get(c, &k, &d, DB_SET_RANGE);
	while (ret == 0 && k.size >= 4 && get_be32(k.data) == user &&
	    n <= SPOOL_MAILBOXES_MAX) {
		n++;
		ret = c->get(c, &k, &d, DB_NEXT);
	}
	free(k.data);
	(void)c->close(c);
	if (ret != 0 && ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "count mailboxes");
	*n_r = n;
	return SPOOL_OK;
}

/* mailbox_create_txn - create name and missing parents. */
static int
mailbox_create_txn(struct spool *sp, DB_TXN *txn, uint32_t user,
    const char *name, uint32_t use, uint32_t *id_r)
{
	char part[SPOOL_MAILBOX_MAX + 1];
	uint32_t id;
	size_t i, n = strlen(name), count;
	int r;

	r = spool_mailbox_id(sp, txn, user, name, &id);
	if (r == SPOOL_OK)
		return SPOOL_EEXIST;
	if (r != SPOOL_ENOENT)
		return r;
	if ((r = count_mailboxes(sp, txn, user, &count)) != SPOOL_OK)
		return r;
	if (count >= SPOOL_MAILBOXES_MAX)
		return SPOOL_ELIMIT;
	for (i = 0; i < n; i++) {
		if (name[i] != SPOOL_HIER_SEP)
			continue;
		memcpy(part, name, i);
		part[i] = '\0';
		r = spool_mailbox_id(sp, txn, user, part, &id);
		if (r == SPOOL_ENOENT)
			r = mailbox_new(sp, txn, user, part, 0, NULL);
		if (r != SPOOL_OK)
			return r;
	}
	return mailbox_new(sp, txn, user, name, use, id_r);
}

/* subs_put - subscribe inside txn. */
static int
subs_put(struct spool *sp, DB_TXN *txn, uint32_t user, const char *name)
{
	unsigned char key[4 + SPOOL_MAILBOX_MAX + 1];
	DBT k, d;

	dbt_init(&k, key, name_key(key, sizeof(key), user, name));
	dbt_init(&d, (void *)"", 0);
	return spool_dberr(sp, sp->db[DBI_SUBS]->put(sp->db[DBI_SUBS], txn,
	    &k, &d, 0), "subscribe");
}

static const struct {
	const char	*name;
	uint32_t	 use;
} default_boxes[] = {
	{ "INBOX", SPOOL_USE_INBOX },
	{ "Drafts", SPOOL_USE_DRAFTS },
	{ "Sent", SPOOL_USE_SENT },
	{ "Trash", SPOOL_USE_TRASH },
	{ "Junk", SPOOL_USE_JUNK },
	{ "Archive", SPOOL_USE_ARCHIVE },
};

int
spool_user_create_txn(struct spool *sp, DB_TXN *txn, const char *user,
    uint32_t *id_r)
{
	struct urec u;
	db_recno_t recno = 0;
	uint32_t id;
	DBT k, d;
	size_t i;
	int r, ret;

	if (!user_ok(user))
		return SPOOL_EINVAL;
	/* Look up with a write lock: two creators that both read the page
	 * first and then upgrade would deadlock. */
	dbt_init(&k, (void *)user, strlen(user));
	dbt_user(&d, &id, sizeof(id));
	ret = sp->db[DBI_USERS]->get(sp->db[DBI_USERS], txn, &k, &d, DB_RMW);
	if (ret == 0)
		return SPOOL_EEXIST;
	if (ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "user lookup");
	memset(&u, 0, sizeof(u));
	u.magic = UREC_MAGIC;
	u.bytes_limit = sp->set.quota_bytes;
	u.messages_limit = sp->set.quota_messages;
	dbt_user(&k, &recno, sizeof(recno));
	k.size = sizeof(recno);
	dbt_init(&d, &u, sizeof(u));
	ret = sp->db[DBI_UQUOTA]->put(sp->db[DBI_UQUOTA], txn, &k, &d, DB_APPEND);
	if (ret != 0)
		return spool_dberr(sp, ret, "user append");
	id = recno;
	dbt_init(&k, (void *)user, strlen(user));
	dbt_init(&d, &id, sizeof(id));
	ret = sp->db[DBI_USERS]->put(sp->db[DBI_USERS], txn, &k, &d,
	    DB_NOOVERWRITE);
	if (ret != 0)
		return spool_dberr(sp, ret, "user put");
	for (i = 0; i < GMS_NELEM(default_boxes); i++) {
		r = mailbox_new(sp, txn, id, default_boxes[i].name,
		    default_boxes[i].use, NULL);
		if (r == SPOOL_OK)
			r = subs_put(sp, txn, id, default_boxes[i].name);
		if (r != SPOOL_OK)
			return r;
	}
	if (id_r != NULL)
		*id_r = id;
	return SPOOL_OK;
}

/* ------------------------------------------------------------------ */
/* Bodies and the MIME cache. */

static void
buf_put32(struct buf *b, uint32_t v)
{
	(void)buf_append(b, &v, sizeof(v));
}

static void
buf_putstr(struct buf *b, const char *s)
{
	uint32_t n = s ? (uint32_t)strlen(s) : 0;

	buf_put32(b, n);
	(void)buf_append(b, s ? s : "", n);
}

void
spool_cache_encode(const struct spool_cache *c, struct buf *out)
{
	buf_putstr(out, c->envelope);
	buf_putstr(out, c->bodystructure);
	buf_putstr(out, c->body);
	buf_put32(out, (uint32_t)c->nparts);
	(void)buf_append(out, c->parts, c->nparts * sizeof(*c->parts));
	buf_put32(out, c->truncated ? 1 : 0);
}

/* get_str - decode one length-prefixed string. */
static int
get_str(struct cursor *cur, char **s_r)
{
	uint32_t n;

	if (cur->left < 4)
		return -1;
	memcpy(&n, cur->p, 4);
	cur_skip(cur, 4);
	if (cur->left < n)
		return -1;
	*s_r = xstrndup(cur->p, n);
	cur_skip(cur, n);
	return 0;
}

int
spool_cache_decode(const void *p, size_t len, struct spool_cache *c)
{
	struct cursor cur;
	uint32_t n, t;

	memset(c, 0, sizeof(*c));
	cur_init(&cur, p, len);
	if (get_str(&cur, &c->envelope) < 0 ||
	    get_str(&cur, &c->bodystructure) < 0 ||
	    get_str(&cur, &c->body) < 0 || cur.left < 4)
		goto bad;
	memcpy(&n, cur.p, 4);
	cur_skip(&cur, 4);
	if (n > cur.left / sizeof(struct spool_part))
		goto bad;
	c->parts = xcalloc(n ? n : 1, sizeof(*c->parts));
	memcpy(c->parts, cur.p, n * sizeof(*c->parts));
	c->nparts = n;
	cur_skip(&cur, n * sizeof(*c->parts));
	if (cur.left >= 4) {
		memcpy(&t, cur.p, 4);
		c->truncated = t != 0;
	}
	return SPOOL_OK;
bad:
	spool_cache_free(c);
	return SPOOL_ETEMP;
}

int
spool_body_put(struct spool *sp, DB_TXN *txn, uint64_t body,
    const void *data, size_t len, const struct buf *cache, uint32_t refs)
{
	struct brec_head h;
	struct buf rec = BUF_INIT(0);
	unsigned char key[12];
	DBT k, d;
	uint32_t i;
	int ret;

	h.refcount = refs;
	h.nchunks = (uint32_t)((len + SPOOL_CHUNK - 1) / SPOOL_CHUNK);
	h.size = len;
	(void)buf_append(&rec, &h, sizeof(h));
	(void)buf_append(&rec, cache->data, cache->len);
	dbt_init(&k, &body, sizeof(body));
	dbt_init(&d, rec.data, rec.len);
	ret = sp->db[DBI_MSGS]->put(sp->db[DBI_MSGS], txn, &k, &d,
	    DB_NOOVERWRITE);
	buf_free(&rec);
	if (ret != 0)
		return spool_dberr(sp, ret, "msgs put");
	for (i = 0; i < h.nchunks; i++) {
		size_t off = (size_t)i * SPOOL_CHUNK;
		size_t n = len - off < SPOOL_CHUNK ? len - off : SPOOL_CHUNK;

		memcpy(key, &body, 8);
		put_be32(key + 8, i);
		dbt_init(&k, key, sizeof(key));
		dbt_init(&d, (char *)data + off, n);
		ret = body_db(sp, body)->put(body_db(sp, body), txn, &k, &d, 0);
		if (ret != 0)
			return spool_dberr(sp, ret, "body put");
	}
	return SPOOL_OK;
}

int
spool_body_ref(struct spool *sp, DB_TXN *txn, uint64_t body, int delta)
{
	struct brec_head h;
	unsigned char key[12];
	DBT k, d;
	uint32_t i;
	int ret;

	/* The whole record is read and written back: a partial put of the
	 * head alone did not keep the rest intact on overflow items. */
	dbt_init(&k, &body, sizeof(body));
	dbt_malloc(&d);
	ret = sp->db[DBI_MSGS]->get(sp->db[DBI_MSGS], txn, &k, &d, DB_RMW);
	if (ret == DB_NOTFOUND) {
		log_warnx("spool: body %016llx missing (ref %d)",
		    (unsigned long long)body, delta);
		return SPOOL_OK;	/* verify reports it */
	}
	if (ret != 0)
		return spool_dberr(sp, ret, "msgs get");
	if (d.size < sizeof(h)) {
		free(d.data);
		return SPOOL_ETEMP;
	}
	memcpy(&h, d.data, sizeof(h));
	if (delta < 0 && h.refcount <= (uint32_t)-delta) {
		free(d.data);
		ret = sp->db[DBI_MSGS]->del(sp->db[DBI_MSGS], txn, &k, 0);
		if (ret != 0)
			return spool_dberr(sp, ret, "msgs del");
		for (i = 0; i < h.nchunks; i++) {
			memcpy(key, &body, 8);
			put_be32(key + 8, i);
			dbt_init(&k, key, sizeof(key));
			ret = body_db(sp, body)->del(body_db(sp, body), txn,
			    &k, 0);
			if (ret != 0 && ret != DB_NOTFOUND)
				return spool_dberr(sp, ret, "body del");
		}
		return SPOOL_OK;
	}
	h.refcount = (uint32_t)((int64_t)h.refcount + delta);
	memcpy(d.data, &h, sizeof(h));
	d.flags = 0;
	ret = sp->db[DBI_MSGS]->put(sp->db[DBI_MSGS], txn, &k, &d, 0);
	free(d.data);
	return spool_dberr(sp, ret, "msgs ref");
}

/* ------------------------------------------------------------------ */
/* Index records and the change log. */

static void
index_key(unsigned char key[8], uint32_t mbox, uint32_t uid)
{
	put_be32(key, mbox);
	put_be32(key + 4, uid);
}

static int
change_put(struct spool *sp, DB_TXN *txn, uint32_t mbox, uint64_t modseq,
    uint32_t uid, uint32_t kind)
{
	unsigned char key[12];
	struct crec c = { uid, kind };
	DBT k, d;

	put_be32(key, mbox);
	put_be64(key + 4, modseq);
	dbt_init(&k, key, sizeof(key));
	dbt_init(&d, &c, sizeof(c));
	return spool_dberr(sp, sp->db[DBI_CHANGES]->put(sp->db[DBI_CHANGES],
	    txn, &k, &d, 0), "change put");
}

static int
change_del(struct spool *sp, DB_TXN *txn, uint32_t mbox, uint64_t modseq)
{
	unsigned char key[12];
	DBT k;
	int ret;

	put_be32(key, mbox);
	put_be64(key + 4, modseq);
	dbt_init(&k, key, sizeof(key));
	ret = sp->db[DBI_CHANGES]->del(sp->db[DBI_CHANGES], txn, &k, 0);
	if (ret == DB_NOTFOUND)
		return SPOOL_OK;
	return spool_dberr(sp, ret, "change del");
}

int
spool_index_add(struct spool *sp, DB_TXN *txn, uint32_t mbox,
    struct mrec *m, struct irec *r, uint32_t *uid_r)
{
	unsigned char key[8];
	uint32_t uid;
	DBT k, d;
	int ret, rr;

	if (m->uidnext == UINT32_MAX)
		return SPOOL_ELIMIT;
	uid = m->uidnext++;
	r->modseq = ++m->highestmodseq;
	index_key(key, mbox, uid);
	dbt_init(&k, key, sizeof(key));
	dbt_init(&d, r, sizeof(*r));
	ret = sp->db[DBI_INDEX]->put(sp->db[DBI_INDEX], txn, &k, &d,
	    DB_NOOVERWRITE);
	if (ret != 0)
		return spool_dberr(sp, ret, "index put");
	if ((rr = change_put(sp, txn, mbox, r->modseq, uid, CREC_PRESENT)) != 0)
		return rr;
	m->messages++;
	if (!(r->flags & SPOOL_F_SEEN))
		m->unseen++;
	if (r->flags & SPOOL_F_DELETED)
		m->deleted++;
	m->size += r->size;
	if (uid_r != NULL)
		*uid_r = uid;
	return SPOOL_OK;
}

int
spool_index_del(struct spool *sp, DB_TXN *txn, uint32_t mbox,
    struct mrec *m, uint32_t uid, const struct irec *r, struct urec *u)
{
	unsigned char key[8];
	DBT k;
	int ret, rr;

	index_key(key, mbox, uid);
	dbt_init(&k, key, sizeof(key));
	ret = sp->db[DBI_INDEX]->del(sp->db[DBI_INDEX], txn, &k, 0);
	if (ret != 0)
		return spool_dberr(sp, ret, "index del");
	if ((rr = change_del(sp, txn, mbox, r->modseq)) != SPOOL_OK)
		return rr;
	if (m != NULL) {
		++m->highestmodseq;
		rr = change_put(sp, txn, mbox, m->highestmodseq, uid,
		    CREC_EXPUNGED);
		if (rr != SPOOL_OK)
			return rr;
		if (m->messages > 0)
			m->messages--;
		if (!(r->flags & SPOOL_F_SEEN) && m->unseen > 0)
			m->unseen--;
		if ((r->flags & SPOOL_F_DELETED) && m->deleted > 0)
			m->deleted--;
		m->size = m->size >= r->size ? m->size - r->size : 0;
	}
	if (u != NULL) {
		u->bytes_used = u->bytes_used >= r->size ?
		    u->bytes_used - r->size : 0;
		if (u->messages_used > 0)
			u->messages_used--;
	}
	return spool_body_ref(sp, txn, r->body, -1);
}

/* ------------------------------------------------------------------ */
/* Keywords. */

int
spool_keywords_get(struct spool *sp, DB_TXN *txn, uint32_t mbox,
    struct spool_strlist *l)
{
	unsigned char key[4];
	DBT k, d;
	int ret;

	memset(l, 0, sizeof(*l));
	put_be32(key, mbox);
	dbt_init(&k, key, 4);
	dbt_malloc(&d);
	ret = sp->db[DBI_KEYWORDS]->get(sp->db[DBI_KEYWORDS], txn, &k, &d, 0);
	if (ret == DB_NOTFOUND)
		return SPOOL_OK;
	if (ret != 0)
		return spool_dberr(sp, ret, "keywords get");
	{
		const char *p = d.data;
		size_t i, start = 0;

		for (i = 0; i < d.size; i++) {
			if (p[i] == '\0') {
				strlist_add(l, p + start, i - start);
				start = i + 1;
			}
		}
	}
	free(d.data);
	return SPOOL_OK;
}

/* keyword_ok - an IMAP flag-keyword (atom, not starting with '\'). */
static bool
keyword_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > SPOOL_KEYWORD_MAX || s[0] == '\\')
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

int
spool_keywords_map(struct spool *sp, DB_TXN *txn, uint32_t mbox,
    const char *const *kw, size_t n, bool create, uint64_t *mask_r,
    bool *added_r)
{
	struct spool_strlist l;
	uint64_t mask = 0;
	bool added = false;
	size_t i, j;
	int r;

	*mask_r = 0;
	if (added_r != NULL)
		*added_r = false;
	if (n == 0)
		return SPOOL_OK;
	for (i = 0; i < n; i++)
		if (!keyword_ok(kw[i]))
			return SPOOL_EINVAL;
	if ((r = spool_keywords_get(sp, txn, mbox, &l)) != SPOOL_OK)
		return r;
	for (i = 0; i < n; i++) {
		for (j = 0; j < l.n; j++)
			if (gms_strcasecmp(l.v[j], kw[i]) == 0)
				break;
		if (j == l.n) {
			if (!create)
				continue;
			if (l.n >= SPOOL_KEYWORDS_MAX) {
				spool_strlist_free(&l);
				return SPOOL_ELIMIT;
			}
			strlist_add(&l, kw[i], strlen(kw[i]));
			added = true;
		}
		mask |= 1ULL << j;
	}
	if (added) {
		struct buf b = BUF_INIT(0);
		unsigned char key[4];
		DBT k, d;
		int ret;

		for (j = 0; j < l.n; j++)
			(void)buf_append(&b, l.v[j], strlen(l.v[j]) + 1);
		put_be32(key, mbox);
		dbt_init(&k, key, 4);
		dbt_init(&d, b.data, b.len);
		ret = sp->db[DBI_KEYWORDS]->put(sp->db[DBI_KEYWORDS], txn,
		    &k, &d, 0);
		buf_free(&b);
		if (ret != 0) {
			spool_strlist_free(&l);
			return spool_dberr(sp, ret, "keywords put");
		}
	}
	spool_strlist_free(&l);
	*mask_r = mask;
	if (added_r != NULL)
		*added_r = added;
	return SPOOL_OK;
}

/* ------------------------------------------------------------------ */
/* Quota. */

int
spool_quota_fits(const struct urec *u, uint64_t bytes, uint64_t msgs)
{
	if (u->bytes_limit != 0 && (u->bytes_used > u->bytes_limit ||
	    bytes > u->bytes_limit - u->bytes_used))
		return SPOOL_EQUOTA_BYTES;
	if (u->messages_limit != 0 && (u->messages_used > u->messages_limit ||
	    msgs > u->messages_limit - u->messages_used))
		return SPOOL_EQUOTA_MESSAGES;
	return SPOOL_OK;
}

struct quota_arg {
	const char		*user;
	struct spool_quota	*q;
	uint64_t		 bytes_limit, messages_limit, size;
	bool			 set;
};

static int
quota_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct quota_arg *a = arg;
	struct urec u;
	uint32_t id;
	int r;

	if ((r = spool_user_id(sp, txn, a->user, &id)) != SPOOL_OK)
		return r;
	if ((r = spool_urec_get(sp, txn, id, &u, a->set)) != SPOOL_OK)
		return r;
	if (a->set) {
		u.bytes_limit = a->bytes_limit;
		u.messages_limit = a->messages_limit;
		return spool_urec_put(sp, txn, id, &u);
	}
	if (a->q != NULL) {
		a->q->bytes_limit = u.bytes_limit;
		a->q->bytes_used = u.bytes_used;
		a->q->messages_limit = u.messages_limit;
		a->q->messages_used = u.messages_used;
		return SPOOL_OK;
	}
	return spool_quota_fits(&u, a->size, 1);
}

int
spool_quota_get(struct spool *sp, const char *user, struct spool_quota *q_r)
{
	struct quota_arg a = { .user = user, .q = q_r };

	memset(q_r, 0, sizeof(*q_r));
	if (!user_ok(user))
		return SPOOL_EINVAL;
	return spool_txn(sp, TXN_READ, quota_txn, &a);
}

int
spool_quota_set(struct spool *sp, const char *user, uint64_t bytes_limit,
    uint64_t messages_limit)
{
	struct quota_arg a = { .user = user, .set = true,
	    .bytes_limit = bytes_limit, .messages_limit = messages_limit };

	if (!user_ok(user))
		return SPOOL_EINVAL;
	return spool_txn(sp, 0, quota_txn, &a);
}

int
spool_quota_check(struct spool *sp, const char *user, uint64_t size)
{
	struct quota_arg a = { .user = user, .size = size };
	int r;

	if (!user_ok(user))
		return SPOOL_EINVAL;
	if (sp->set.append_limit != 0 && size > sp->set.append_limit)
		return SPOOL_ETOOBIG;
	r = spool_txn(sp, TXN_READ, quota_txn, &a);
	if (r == SPOOL_ENOENT) {
		struct urec u;

		memset(&u, 0, sizeof(u));
		u.bytes_limit = sp->set.quota_bytes;
		u.messages_limit = sp->set.quota_messages;
		return spool_quota_fits(&u, size, 1);
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* Users. */

struct user_arg {
	const char		*user;
	struct spool_strlist	*list;
};

static int
user_create_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct user_arg *a = arg;

	return spool_user_create_txn(sp, txn, a->user, NULL);
}

int
spool_user_create(struct spool *sp, const char *user)
{
	struct user_arg a = { user, NULL };

	if (!user_ok(user))
		return SPOOL_EINVAL;
	return spool_txn(sp, 0, user_create_txn, &a);
}

static int
user_exists_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct user_arg *a = arg;
	uint32_t id;

	return spool_user_id(sp, txn, a->user, &id);
}

int
spool_user_exists(struct spool *sp, const char *user)
{
	struct user_arg a = { user, NULL };
	int r;

	if (!user_ok(user))
		return 0;
	r = spool_txn(sp, TXN_READ, user_exists_txn, &a);
	if (r == SPOOL_OK)
		return 1;
	if (r == SPOOL_ENOENT)
		return 0;
	return r;
}

/* prefix_walk - call fn for each key of db starting with prefix. */
typedef int (*walk_fn)(struct spool *sp, DB_TXN *txn, const DBT *k,
    const DBT *d, void *arg);
static int
prefix_walk(struct spool *sp, DB_TXN *txn, int dbi, const void *prefix,
    size_t plen, walk_fn fn, void *arg)
{
	DBC *c;
	DBT k, d;
	int ret, r = SPOOL_OK;

	if ((ret = sp->db[dbi]->cursor(sp->db[dbi], txn, &c, 0)) != 0)
		return spool_dberr(sp, ret, "cursor");
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.data = xmalloc(plen ? plen : 1);
	memcpy(k.data, prefix, plen);
	k.size = (u_int32_t)plen;
	k.flags = DB_DBT_REALLOC;
	d.flags = DB_DBT_REALLOC;
	ret = c->get(c, &k, &d, DB_SET_RANGE);
	while (ret == 0 && k.size >= plen &&
	    memcmp(k.data, prefix, plen) == 0) {
		if ((r = fn(sp, txn, &k, &d, arg)) != SPOOL_OK)
			break;
		ret = c->get(c, &k, &d, DB_NEXT);
	}
	free(k.data);
	free(d.data);
	(void)c->close(c);
	if (r != SPOOL_OK)
		return r;
	if (ret != 0 && ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "walk");
	return SPOOL_OK;
}

/* Collected names of a user: (name, id) pairs. */
struct name_ent {
	char		*name;
	uint32_t	 id;
};
struct name_set {
	struct name_ent	*v;
	size_t		 n;
};

static void
name_set_free(struct name_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].name);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static int
collect_name(struct spool *sp, DB_TXN *txn, const DBT *k, const DBT *d,
    void *arg)
{
	struct name_set *s = arg;
	uint32_t id = 0;

	(void)sp;
	(void)txn;
	if (d->size == sizeof(id))
		memcpy(&id, d->data, sizeof(id));
	s->v = xreallocarray(s->v, s->n + 1, sizeof(*s->v));
	s->v[s->n].name = xstrndup((const char *)k->data + 4, k->size - 4);
	s->v[s->n].id = id;
	s->n++;
	return SPOOL_OK;
}

static int
user_names(struct spool *sp, DB_TXN *txn, int dbi, uint32_t user,
    struct name_set *s)
{
	unsigned char key[4];

	memset(s, 0, sizeof(*s));
	put_be32(key, user);
	return prefix_walk(sp, txn, dbi, key, 4, collect_name, s);
}

/* purge_mailbox - remove up to SPOOL_BATCH index records of mailbox
 * mbox (gone or not), releasing bodies and quota; *done_r when none
 * left.  When m is not NULL the expunges are logged. */
static int
purge_batch(struct spool *sp, DB_TXN *txn, uint32_t mbox, struct mrec *m,
    struct urec *u, bool *done_r)
{
	unsigned char key[8];
	DBC *c;
	DBT k, d;
	struct irec r;
	uint32_t uids[SPOOL_BATCH];
	struct irec recs[SPOOL_BATCH];
	size_t n = 0, i;
	int ret, rr;

	*done_r = false;
	if ((ret = sp->db[DBI_INDEX]->cursor(sp->db[DBI_INDEX], txn, &c, 0)) != 0)
		return spool_dberr(sp, ret, "cursor");
	index_key(key, mbox, 0);
	dbt_user(&k, key, sizeof(key));
	k.size = sizeof(key);
	dbt_user(&d, &r, sizeof(r));
	ret = c->get(c, &k, &d, DB_SET_RANGE);
	while (ret == 0 && k.size == 8 && get_be32(key) == mbox &&
	    n < SPOOL_BATCH) {
		uids[n] = get_be32(key + 4);
		recs[n] = r;
		n++;
		ret = c->get(c, &k, &d, DB_NEXT);
	}
	(void)c->close(c);
	if (ret != 0 && ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "purge walk");
	for (i = 0; i < n; i++) {
		rr = spool_index_del(sp, txn, mbox, m, uids[i], &recs[i], u);
		if (rr != SPOOL_OK)
			return rr;
	}
	*done_r = n < SPOOL_BATCH;
	return SPOOL_OK;
}

/* The state of a multi-transaction purge. */
struct purge_arg {
	uint32_t	mbox;
	uint32_t	user;
	bool		gone;	/* the mailbox record is deleted */
	bool		done;
};

/* changes_purge - delete every change log record of mailbox mbox. */
static int
changes_purge(struct spool *sp, DB_TXN *txn, uint32_t mbox)
{
	unsigned char key[4];
	DBC *c;
	DBT k, d;
	int ret;

	put_be32(key, mbox);
	ret = sp->db[DBI_CHANGES]->cursor(sp->db[DBI_CHANGES], txn, &c, 0);
	if (ret != 0)
		return spool_dberr(sp, ret, "cursor");
	memset(&k, 0, sizeof(k));
	k.data = xmalloc(12);
	memcpy(k.data, key, 4);
	k.size = 4;
	k.flags = DB_DBT_REALLOC;
	memset(&d, 0, sizeof(d));
	d.data = partial_none;
	d.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
	ret = c->get(c, &k, &d, DB_SET_RANGE);
	while (ret == 0 && k.size == 12 && memcmp(k.data, key, 4) == 0) {
		if ((ret = c->del(c, 0)) != 0)
			break;
		ret = c->get(c, &k, &d, DB_NEXT);
	}
	free(k.data);
	(void)c->close(c);
	if (ret != 0 && ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "changes purge");
	return SPOOL_OK;
}

static int
purge_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct purge_arg *a = arg;
	struct mrec m;
	struct urec u;
	int r, ru;

	if (!a->gone) {
		if ((r = spool_mrec_get(sp, txn, a->mbox, &m, true)) != SPOOL_OK)
			return r;
	}
	ru = spool_urec_get(sp, txn, a->user, &u, true);
	if (ru != SPOOL_OK && ru != SPOOL_ENOENT)
		return ru;
	r = purge_batch(sp, txn, a->mbox, a->gone ? NULL : &m,
	    ru == SPOOL_OK ? &u : NULL, &a->done);
	if (r != SPOOL_OK)
		return r;
	if (a->gone && a->done) {
		/* The change log of a gone mailbox goes too. */
		if ((r = changes_purge(sp, txn, a->mbox)) != SPOOL_OK)
			return r;
	}
	if (!a->gone && (r = spool_mrec_put(sp, txn, a->mbox, &m)) != SPOOL_OK)
		return r;
	if (ru == SPOOL_OK && (r = spool_urec_put(sp, txn, a->user, &u)) != 0)
		return r;
	return SPOOL_OK;
}

/* purge - run purge_txn until the mailbox is empty. */
static int
purge(struct spool *sp, uint32_t mbox, uint32_t user, bool gone)
{
	struct purge_arg a = { mbox, user, gone, false };
	int r;

	do {
		r = spool_txn(sp, 0, purge_txn, &a);
	} while (r == SPOOL_OK && !a.done);
	if (r == SPOOL_OK)
		spool_notify(sp, mbox);
	return r;
}

struct user_del_arg {
	const char	*user;
	uint32_t	 id;
	struct name_set	 names;
};

static int
user_delete_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct user_del_arg *a = arg;
	unsigned char key[4 + SPOOL_MAILBOX_MAX + 1];
	struct name_set subs;
	db_recno_t recno;
	DBT k;
	size_t i;
	int r, ret = 0;

	name_set_free(&a->names);
	if ((r = spool_user_id(sp, txn, a->user, &a->id)) != SPOOL_OK)
		return r;
	if ((r = user_names(sp, txn, DBI_NAMES, a->id, &a->names)) != SPOOL_OK)
		return r;
	for (i = 0; i < a->names.n; i++) {
		dbt_init(&k, key, name_key(key, sizeof(key), a->id,
		    a->names.v[i].name));
		ret = sp->db[DBI_NAMES]->del(sp->db[DBI_NAMES], txn, &k, 0);
		if (ret != 0)
			return spool_dberr(sp, ret, "name del");
		recno = a->names.v[i].id;
		dbt_init(&k, &recno, sizeof(recno));
		ret = sp->db[DBI_MBOX]->del(sp->db[DBI_MBOX], txn, &k, 0);
		if (ret != 0 && ret != DB_NOTFOUND && ret != DB_KEYEMPTY)
			return spool_dberr(sp, ret, "mbox del");
		put_be32(key, a->names.v[i].id);
		dbt_init(&k, key, 4);
		ret = sp->db[DBI_KEYWORDS]->del(sp->db[DBI_KEYWORDS], txn, &k, 0);
		if (ret != 0 && ret != DB_NOTFOUND)
			return spool_dberr(sp, ret, "keywords del");
	}
	if ((r = user_names(sp, txn, DBI_SUBS, a->id, &subs)) != SPOOL_OK)
		return r;
	for (i = 0; i < subs.n && ret == 0; i++) {
		dbt_init(&k, key, name_key(key, sizeof(key), a->id,
		    subs.v[i].name));
		ret = sp->db[DBI_SUBS]->del(sp->db[DBI_SUBS], txn, &k, 0);
	}
	name_set_free(&subs);
	if (ret != 0 && ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "subs del");
	/* The user record stays until the mailboxes are purged (quota
	 * bookkeeping of the purge); the name goes now. */
	dbt_init(&k, (void *)a->user, strlen(a->user));
	ret = sp->db[DBI_USERS]->del(sp->db[DBI_USERS], txn, &k, 0);
	return spool_dberr(sp, ret, "user del");
}

static int
urec_del_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct user_del_arg *a = arg;
	db_recno_t recno = a->id;
	DBT k;
	int ret;

	dbt_init(&k, &recno, sizeof(recno));
	ret = sp->db[DBI_UQUOTA]->del(sp->db[DBI_UQUOTA], txn, &k, 0);
	if (ret == DB_NOTFOUND || ret == DB_KEYEMPTY)
		ret = 0;
	return spool_dberr(sp, ret, "urec del");
}

int
spool_user_delete(struct spool *sp, const char *user)
{
	struct user_del_arg a;
	size_t i;
	int r;

	memset(&a, 0, sizeof(a));
	a.user = user;
	if (!user_ok(user))
		return SPOOL_EINVAL;
	r = spool_txn(sp, 0, user_delete_txn, &a);
	for (i = 0; r == SPOOL_OK && i < a.names.n; i++)
		r = purge(sp, a.names.v[i].id, a.id, true);
	if (r == SPOOL_OK)
		r = spool_txn(sp, 0, urec_del_txn, &a);
	name_set_free(&a.names);
	return r;
}

static int
collect_user(struct spool *sp, DB_TXN *txn, const DBT *k, const DBT *d,
    void *arg)
{
	(void)sp;
	(void)txn;
	(void)d;
	strlist_add(arg, k->data, k->size);
	return SPOOL_OK;
}

static int
user_list_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct user_arg *a = arg;

	spool_strlist_free(a->list);
	return prefix_walk(sp, txn, DBI_USERS, "", 0, collect_user, a->list);
}

int
spool_user_list(struct spool *sp, struct spool_strlist *l_r)
{
	struct user_arg a = { NULL, l_r };
	int r;

	memset(l_r, 0, sizeof(*l_r));
	r = spool_txn(sp, TXN_READ, user_list_txn, &a);
	if (r != SPOOL_OK)
		spool_strlist_free(l_r);
	return r;
}

/* ------------------------------------------------------------------ */
/* Mailboxes. */

struct mbox_arg {
	const char		*user;
	char			 name[SPOOL_MAILBOX_MAX + 1];
	char			 to[SPOOL_MAILBOX_MAX + 1];
	uint32_t		 use;
	uint32_t		 user_id;
	uint32_t		 id;
	bool			 purge;		/* messages left to purge */
	bool			 gone;
	struct spool_mbox	*st;
	struct spool_mbox_list	*list;
	struct name_set		 moved;		/* rename: ids to notify */
};

static int
create_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct mbox_arg *a = arg;
	uint32_t user;
	int r;

	if ((r = spool_user_id(sp, txn, a->user, &user)) != SPOOL_OK)
		return r;
	r = spool_mailbox_id(sp, txn, user, a->name, &a->id);
	if (r == SPOOL_OK) {
		struct mrec m;

		/* A \Noselect placeholder becomes a real mailbox again. */
		if ((r = spool_mrec_get(sp, txn, a->id, &m, true)) != SPOOL_OK)
			return r;
		if (!(m.attrs & SPOOL_MBOX_NOSELECT))
			return SPOOL_EEXIST;
		m.attrs &= ~SPOOL_MBOX_NOSELECT;
		m.special_use = a->use;
		return spool_mrec_put(sp, txn, a->id, &m);
	}
	if (r != SPOOL_ENOENT)
		return r;
	return mailbox_create_txn(sp, txn, user, a->name, a->use, &a->id);
}

int
spool_mailbox_create(struct spool *sp, const char *user, const char *name,
    uint32_t special_use)
{
	struct mbox_arg a;
	int r;

	memset(&a, 0, sizeof(a));
	a.user = user;
	a.use = special_use;
	if (!user_ok(user))
		return SPOOL_EINVAL;
	if ((r = spool_name_norm(name, a.name, sizeof(a.name))) != SPOOL_OK)
		return r;
	return spool_txn(sp, 0, create_txn, &a);
}

/* ------------------------------------------------------------------ */
/* Setting UIDVALIDITY and UIDNEXT (imports). */

struct set_uids_arg {
	const char	*user;
	char		 name[SPOOL_MAILBOX_MAX + 1];
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	uint32_t	 mbox;
};

/* uidvalidity_raise - make the environment's UIDVALIDITY counter at least
 * v, so that mailboxes created later still get values above it. */
static int
uidvalidity_raise(struct spool *sp, DB_TXN *txn, uint32_t v)
{
	static const char name[] = "uidvalidity";
	uint32_t last = 0;
	DBT k, d;
	int ret;

	dbt_init(&k, (void *)name, sizeof(name) - 1);
	dbt_user(&d, &last, sizeof(last));
	ret = sp->db[DBI_META]->get(sp->db[DBI_META], txn, &k, &d, DB_RMW);
	if (ret != 0 && ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "meta");
	if (ret == 0 && last >= v)
		return SPOOL_OK;
	dbt_init(&d, &v, sizeof(v));
	return spool_dberr(sp, sp->db[DBI_META]->put(sp->db[DBI_META], txn,
	    &k, &d, 0), "meta put");
}

static int
set_uids_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct set_uids_arg *a = arg;
	struct mrec m;
	uint32_t user;
	int r;

	if ((r = spool_user_id(sp, txn, a->user, &user)) != SPOOL_OK)
		return r;
	if ((r = spool_mailbox_id(sp, txn, user, a->name, &a->mbox)) != 0)
		return r;
	if ((r = spool_mrec_get(sp, txn, a->mbox, &m, true)) != SPOOL_OK)
		return r;
	if (m.attrs & SPOOL_MBOX_NOSELECT)
		return SPOOL_ENOSELECT;
	/* With messages, only UIDNEXT may grow (an import's gap after its
	 * last message); the rest needs an empty mailbox. */
	if (m.messages != 0 && a->uidvalidity != m.uidvalidity)
		return SPOOL_EPERM;
	/* Same UIDVALIDITY: UIDs already given must never come back. */
	if (a->uidvalidity == m.uidvalidity && a->uidnext < m.uidnext)
		return m.messages != 0 ? SPOOL_EPERM : SPOOL_EINVAL;
	if (m.messages != 0) {
		m.uidnext = a->uidnext;
		m.highestmodseq++;
		return spool_mrec_put(sp, txn, a->mbox, &m);
	}
	/* The expunge records belong to the old UIDs. */
	if (a->uidvalidity != m.uidvalidity &&
	    (r = changes_purge(sp, txn, a->mbox)) != SPOOL_OK)
		return r;
	if ((r = uidvalidity_raise(sp, txn, a->uidvalidity)) != SPOOL_OK)
		return r;
	m.uidvalidity = a->uidvalidity;
	m.uidnext = a->uidnext;
	m.first_recent = a->uidnext;
	m.highestmodseq++;
	return spool_mrec_put(sp, txn, a->mbox, &m);
}

int
spool_mailbox_set_uids(struct spool *sp, const char *user, const char *name,
    uint32_t uidvalidity, uint32_t uidnext)
{
	struct set_uids_arg a;
	int r;

	memset(&a, 0, sizeof(a));
	if (!user_ok(user) || uidvalidity == 0 || uidnext == 0 ||
	    uidnext == UINT32_MAX)
		return SPOOL_EINVAL;
	if ((r = spool_name_norm(name, a.name, sizeof(a.name))) != SPOOL_OK)
		return r == SPOOL_EINVAL ? SPOOL_ENOENT : r;
	a.user = user;
	a.uidvalidity = uidvalidity;
	a.uidnext = uidnext;
	r = spool_txn(sp, 0, set_uids_txn, &a);
	if (r == SPOOL_OK)
		spool_notify(sp, a.mbox);
	return r;
}

/* has_children - does user have a name below name? */
static int
has_children(struct spool *sp, DB_TXN *txn, uint32_t user, const char *name,
    bool *yes_r)
{
	unsigned char key[4 + SPOOL_MAILBOX_MAX + 2];
	size_t klen = name_key(key, sizeof(key) - 1, user, name);
	DBC *c;
	DBT k, d;
	int ret;

	key[klen++] = SPOOL_HIER_SEP;
	*yes_r = false;
	if ((ret = sp->db[DBI_NAMES]->cursor(sp->db[DBI_NAMES], txn, &c, 0)) != 0)
		return spool_dberr(sp, ret, "cursor");
	memset(&k, 0, sizeof(k));
	k.data = xmalloc(klen);
	memcpy(k.data, key, klen);
	k.size = (u_int32_t)klen;
	k.flags = DB_DBT_REALLOC;
	memset(&d, 0, sizeof(d));
	d.data = partial_none;
	d.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
	ret = c->get(c, &k, &d, DB_SET_RANGE);
	if (ret == 0 && k.size > klen && memcmp(k.data, key, klen) == 0)
		*yes_r = true;
	free(k.data);
	(void)c->close(c);
	if (ret != 0 && ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "children");
	return SPOOL_OK;
}

static int
delete_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct mbox_arg *a = arg;
	unsigned char key[4 + SPOOL_MAILBOX_MAX + 1];
	struct mrec m;
	db_recno_t recno;
	bool children;
	DBT k;
	int r, ret;

	a->purge = a->gone = false;
	if ((r = spool_user_id(sp, txn, a->user, &a->user_id)) != SPOOL_OK)
		return r;
	if ((r = spool_mailbox_id(sp, txn, a->user_id, a->name, &a->id)) != 0)
		return r;
	if ((r = spool_mrec_get(sp, txn, a->id, &m, true)) != SPOOL_OK)
		return r;
	if ((r = has_children(sp, txn, a->user_id, a->name, &children)) != 0)
		return r;
	if (children) {
		if (m.attrs & SPOOL_MBOX_NOSELECT)
			return SPOOL_EHASCHILDREN;
		m.attrs |= SPOOL_MBOX_NOSELECT;
		m.special_use = 0;
		a->purge = m.messages > 0 || m.uidnext > 1;
		return spool_mrec_put(sp, txn, a->id, &m);
	}
	dbt_init(&k, key, name_key(key, sizeof(key), a->user_id, a->name));
	ret = sp->db[DBI_NAMES]->del(sp->db[DBI_NAMES], txn, &k, 0);
	if (ret != 0)
		return spool_dberr(sp, ret, "name del");
	recno = a->id;
	dbt_init(&k, &recno, sizeof(recno));
	ret = sp->db[DBI_MBOX]->del(sp->db[DBI_MBOX], txn, &k, 0);
	if (ret != 0)
		return spool_dberr(sp, ret, "mbox del");
	put_be32(key, a->id);
	dbt_init(&k, key, 4);
	ret = sp->db[DBI_KEYWORDS]->del(sp->db[DBI_KEYWORDS], txn, &k, 0);
	if (ret != 0 && ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "keywords del");
	a->purge = true;
	a->gone = true;
	return SPOOL_OK;
}

int
spool_mailbox_delete(struct spool *sp, const char *user, const char *name)
{
	struct mbox_arg a;
	int r;

	memset(&a, 0, sizeof(a));
	a.user = user;
	if (!user_ok(user))
		return SPOOL_EINVAL;
	if ((r = spool_name_norm(name, a.name, sizeof(a.name))) != SPOOL_OK)
		return r == SPOOL_EINVAL ? SPOOL_ENOENT : r;
	if (strcmp(a.name, "INBOX") == 0)
		return SPOOL_EPERM;
	r = spool_txn(sp, 0, delete_txn, &a);
	if (r == SPOOL_OK && a.purge)
		r = purge(sp, a.id, a.user_id, a.gone);
	else if (r == SPOOL_OK)
		spool_notify(sp, a.id);
	return r;
}

/* rename_inbox - move INBOX's messages into a new mailbox a->to. */
static int
rename_inbox(struct spool *sp, DB_TXN *txn, struct mbox_arg *a)
{
	unsigned char key[8];
	struct mrec src, dst;
	uint32_t src_id, dst_id;
	struct spool_strlist kw;
	DBC *c;
	DBT k, d;
	struct irec r;
	struct irec *recs = NULL;
	uint32_t *uids = NULL;
	size_t n = 0, i;
	int rr, ret;

	if ((rr = spool_mailbox_id(sp, txn, a->user_id, "INBOX", &src_id)) != 0)
		return rr;
	if ((rr = spool_mrec_get(sp, txn, src_id, &src, true)) != SPOOL_OK)
		return rr;
	if ((rr = mailbox_create_txn(sp, txn, a->user_id, a->to, 0, &dst_id)) != 0)
		return rr;
	if ((rr = spool_mrec_get(sp, txn, dst_id, &dst, true)) != SPOOL_OK)
		return rr;
	/* Keywords keep their bits: copy the table. */
	if ((rr = spool_keywords_get(sp, txn, src_id, &kw)) != SPOOL_OK)
		return rr;
	if (kw.n > 0) {
		uint64_t mask;

		rr = spool_keywords_map(sp, txn, dst_id,
		    (const char *const *)kw.v, kw.n, true, &mask, NULL);
	}
	spool_strlist_free(&kw);
	if (rr != SPOOL_OK)
		return rr;
	if ((ret = sp->db[DBI_INDEX]->cursor(sp->db[DBI_INDEX], txn, &c, 0)) != 0)
		return spool_dberr(sp, ret, "cursor");
	index_key(key, src_id, 0);
	dbt_user(&k, key, sizeof(key));
	k.size = sizeof(key);
	dbt_user(&d, &r, sizeof(r));
	ret = c->get(c, &k, &d, DB_SET_RANGE);
	while (ret == 0 && get_be32(key) == src_id) {
		recs = xreallocarray(recs, n + 1, sizeof(*recs));
		uids = xreallocarray(uids, n + 1, sizeof(*uids));
		recs[n] = r;
		uids[n] = get_be32(key + 4);
		n++;
		ret = c->get(c, &k, &d, DB_NEXT);
	}
	(void)c->close(c);
	rr = SPOOL_OK;
	if (ret != 0 && ret != DB_NOTFOUND)
		rr = spool_dberr(sp, ret, "rename walk");
	for (i = 0; rr == SPOOL_OK && i < n; i++) {
		struct irec nr = recs[i];

		/* Move: the body reference moves with it (add +1, del -1). */
		rr = spool_index_add(sp, txn, dst_id, &dst, &nr, NULL);
		if (rr == SPOOL_OK)
			rr = spool_body_ref(sp, txn, nr.body, 1);
		if (rr == SPOOL_OK)
			rr = spool_index_del(sp, txn, src_id, &src, uids[i],
			    &recs[i], NULL);
	}
	free(recs);
	free(uids);
	if (rr == SPOOL_OK)
		rr = spool_mrec_put(sp, txn, src_id, &src);
	if (rr == SPOOL_OK)
		rr = spool_mrec_put(sp, txn, dst_id, &dst);
	if (rr == SPOOL_OK) {
		a->moved.v = xreallocarray(a->moved.v, a->moved.n + 2,
		    sizeof(*a->moved.v));
		a->moved.v[a->moved.n].name = NULL;
		a->moved.v[a->moved.n++].id = src_id;
		a->moved.v[a->moved.n].name = NULL;
		a->moved.v[a->moved.n++].id = dst_id;
	}
	return rr;
}

static int
rename_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct mbox_arg *a = arg;
	unsigned char key[4 + SPOOL_MAILBOX_MAX + 1];
	char newname[SPOOL_MAILBOX_MAX + 1];
	struct name_set all;
	size_t flen = strlen(a->name), tlen = strlen(a->to), i;
	uint32_t id;
	DBT k, d;
	int r, ret;

	name_set_free(&a->moved);
	if ((r = spool_user_id(sp, txn, a->user, &a->user_id)) != SPOOL_OK)
		return r;
	if ((r = spool_mailbox_id(sp, txn, a->user_id, a->name, &id)) != 0)
		return r;
	if (strcmp(a->name, a->to) == 0)
		return SPOOL_EEXIST;
	r = spool_mailbox_id(sp, txn, a->user_id, a->to, &id);
	if (r == SPOOL_OK)
		return SPOOL_EEXIST;
	if (r != SPOOL_ENOENT)
		return r;
	if (strcmp(a->name, "INBOX") == 0)
		return rename_inbox(sp, txn, a);
	if (tlen > flen && strncmp(a->to, a->name, flen) == 0 &&
	    a->to[flen] == SPOOL_HIER_SEP)
		return SPOOL_EPERM;
	if ((r = user_names(sp, txn, DBI_NAMES, a->user_id, &all)) != SPOOL_OK)
		return r;
	for (i = 0; r == SPOOL_OK && i < all.n; i++) {
		const char *old = all.v[i].name;

		if (strncmp(old, a->name, flen) != 0 ||
		    (old[flen] != '\0' && old[flen] != SPOOL_HIER_SEP))
			continue;
		if (tlen + strlen(old + flen) > SPOOL_MAILBOX_MAX) {
			r = SPOOL_EINVAL;
			break;
		}
		memcpy(newname, a->to, tlen);
		memcpy(newname + tlen, old + flen, strlen(old + flen) + 1);
		dbt_init(&k, key, name_key(key, sizeof(key), a->user_id, old));
		ret = sp->db[DBI_NAMES]->del(sp->db[DBI_NAMES], txn, &k, 0);
		if (ret != 0) {
			r = spool_dberr(sp, ret, "rename del");
			break;
		}
		dbt_init(&k, key, name_key(key, sizeof(key), a->user_id,
		    newname));
		dbt_init(&d, &all.v[i].id, sizeof(all.v[i].id));
		ret = sp->db[DBI_NAMES]->put(sp->db[DBI_NAMES], txn, &k, &d,
		    DB_NOOVERWRITE);
		if (ret != 0) {
			r = spool_dberr(sp, ret, "rename put");
			break;
		}
		a->moved.v = xreallocarray(a->moved.v, a->moved.n + 1,
		    sizeof(*a->moved.v));
		a->moved.v[a->moved.n].name = NULL;
		a->moved.v[a->moved.n++].id = all.v[i].id;
	}
	name_set_free(&all);
	if (r != SPOOL_OK)
		return r;
	/* Parents of the new name. */
	for (i = 0; i < tlen; i++) {
		if (a->to[i] != SPOOL_HIER_SEP)
			continue;
		memcpy(newname, a->to, i);
		newname[i] = '\0';
		r = spool_mailbox_id(sp, txn, a->user_id, newname, &id);
		if (r == SPOOL_ENOENT)
			r = mailbox_new(sp, txn, a->user_id, newname, 0, NULL);
		if (r != SPOOL_OK)
			return r;
	}
	return SPOOL_OK;
}

int
spool_mailbox_rename(struct spool *sp, const char *user, const char *from,
    const char *to)
{
	struct mbox_arg a;
	size_t i;
	int r;

	memset(&a, 0, sizeof(a));
	a.user = user;
	if (!user_ok(user))
		return SPOOL_EINVAL;
	if ((r = spool_name_norm(from, a.name, sizeof(a.name))) != SPOOL_OK)
		return r == SPOOL_EINVAL ? SPOOL_ENOENT : r;
	if ((r = spool_name_norm(to, a.to, sizeof(a.to))) != SPOOL_OK)
		return r;
	if (strcmp(a.to, "INBOX") == 0 ||
	    strncmp(a.to, "INBOX/", 6) == 0) {
		if (strcmp(a.name, "INBOX") == 0)
			return SPOOL_EPERM;
	}
	r = spool_txn(sp, 0, rename_txn, &a);
	if (r == SPOOL_OK)
		for (i = 0; i < a.moved.n; i++)
			spool_notify(sp, a.moved.v[i].id);
	name_set_free(&a.moved);
	return r;
}

/* fill_status - spool_mbox from a record. */
static void
fill_status(struct spool_mbox *st, uint32_t id, const struct mrec *m)
{
	st->id = id;
	st->uidvalidity = m->uidvalidity;
	st->uidnext = m->uidnext;
	st->highestmodseq = m->highestmodseq;
	st->messages = m->messages;
	st->unseen = m->unseen;
	st->deleted = m->deleted;
	st->size = m->size;
	st->special_use = m->special_use;
	st->attrs = m->attrs & SPOOL_MBOX_NOSELECT;
}

static int
list_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct mbox_arg *a = arg;
	struct name_set names, subs;
	size_t i, j;
	int r;

	spool_mbox_list_free(a->list);
	if ((r = spool_user_id(sp, txn, a->user, &a->user_id)) != SPOOL_OK)
		return r;
	if ((r = user_names(sp, txn, DBI_NAMES, a->user_id, &names)) != 0)
		return r;
	if ((r = user_names(sp, txn, DBI_SUBS, a->user_id, &subs)) != 0) {
		name_set_free(&names);
		return r;
	}
	a->list->v = xcalloc(names.n ? names.n : 1, sizeof(*a->list->v));
	/* INBOX first, then the btree (byte) order. */
	for (i = 0; i < names.n; i++) {
		if (strcmp(names.v[i].name, "INBOX") == 0 && i != 0) {
			struct name_ent t = names.v[i];

			memmove(&names.v[1], &names.v[0], i * sizeof(t));
			names.v[0] = t;
			break;
		}
	}
	for (i = 0; i < names.n; i++) {
		struct spool_mbox *st = &a->list->v[a->list->n];
		struct mrec m;
		size_t len = strlen(names.v[i].name);

		r = spool_mrec_get(sp, txn, names.v[i].id, &m, false);
		if (r == SPOOL_ENOENT)
			continue;
		if (r != SPOOL_OK)
			break;
		fill_status(st, names.v[i].id, &m);
		st->name = xstrdup(names.v[i].name);
		for (j = 0; j < names.n; j++) {
			if (strncmp(names.v[j].name, st->name, len) == 0 &&
			    names.v[j].name[len] == SPOOL_HIER_SEP) {
				st->attrs |= SPOOL_MBOX_HASCHILDREN;
				break;
			}
		}
		for (j = 0; j < subs.n; j++) {
			if (strcmp(subs.v[j].name, st->name) == 0) {
				st->attrs |= SPOOL_MBOX_SUBSCRIBED;
				break;
			}
		}
		a->list->n++;
	}
	name_set_free(&names);
	name_set_free(&subs);
	return r;
}

int
spool_mailbox_list(struct spool *sp, const char *user,
    struct spool_mbox_list *l_r)
{
	struct mbox_arg a;
	int r;

	memset(&a, 0, sizeof(a));
	memset(l_r, 0, sizeof(*l_r));
	if (!user_ok(user))
		return SPOOL_EINVAL;
	a.user = user;
	a.list = l_r;
	r = spool_txn(sp, TXN_READ, list_txn, &a);
	if (r != SPOOL_OK)
		spool_mbox_list_free(l_r);
	return r;
}

/* count_recent - messages with uid >= first. */
static int
count_recent(struct spool *sp, DB_TXN *txn, uint32_t mbox, uint32_t first,
    uint32_t *n_r)
{
	unsigned char key[8];
	DBC *c;
	DBT k, d;
	uint32_t n = 0;
	int ret;

	*n_r = 0;
	if ((ret = sp->db[DBI_INDEX]->cursor(sp->db[DBI_INDEX], txn, &c, 0)) != 0)
		return spool_dberr(sp, ret, "cursor");
	index_key(key, mbox, first);
	dbt_user(&k, key, sizeof(key));
	k.size = sizeof(key);
	memset(&d, 0, sizeof(d));
	d.data = partial_none;
	d.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
	ret = c->get(c, &k, &d, DB_SET_RANGE);
	while (ret == 0 && get_be32(key) == mbox) {
		n++;
		ret = c->get(c, &k, &d, DB_NEXT);
	}
	(void)c->close(c);
	if (ret != 0 && ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "recent");
	*n_r = n;
	return SPOOL_OK;
}

static int
status_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct mbox_arg *a = arg;
	struct mrec m;
	bool children;
	int r;

	if ((r = spool_user_id(sp, txn, a->user, &a->user_id)) != SPOOL_OK)
		return r;
	if ((r = spool_mailbox_id(sp, txn, a->user_id, a->name, &a->id)) != 0)
		return r;
	if ((r = spool_mrec_get(sp, txn, a->id, &m, false)) != SPOOL_OK)
		return r;
	memset(a->st, 0, sizeof(*a->st));
	fill_status(a->st, a->id, &m);
	if ((r = has_children(sp, txn, a->user_id, a->name, &children)) != 0)
		return r;
	if (children)
		a->st->attrs |= SPOOL_MBOX_HASCHILDREN;
	return count_recent(sp, txn, a->id, m.first_recent, &a->st->recent);
}

int
spool_mailbox_status(struct spool *sp, const char *user, const char *name,
    struct spool_mbox *st_r)
{
	struct mbox_arg a;
	int r;

	memset(&a, 0, sizeof(a));
	memset(st_r, 0, sizeof(*st_r));
	if (!user_ok(user))
		return SPOOL_EINVAL;
	if ((r = spool_name_norm(name, a.name, sizeof(a.name))) != SPOOL_OK)
		return r == SPOOL_EINVAL ? SPOOL_ENOENT : r;
	a.user = user;
	a.st = st_r;
	return spool_txn(sp, TXN_READ, status_txn, &a);
}

/* find_use - the name and id of the user's mailbox with special use. */
static int
find_use(struct spool *sp, DB_TXN *txn, uint32_t user, uint32_t use,
    char **name_r, uint32_t *id_r)
{
	struct name_set names;
	size_t i;
	int r;

	if ((r = user_names(sp, txn, DBI_NAMES, user, &names)) != SPOOL_OK)
		return r;
	r = SPOOL_ENOENT;
	for (i = 0; i < names.n; i++) {
		struct mrec m;
		int rr = spool_mrec_get(sp, txn, names.v[i].id, &m, false);

		if (rr == SPOOL_ENOENT)
			continue;
		if (rr != SPOOL_OK) {
			r = rr;
			break;
		}
		if ((m.special_use & use) && !(m.attrs & SPOOL_MBOX_NOSELECT)) {
			if (name_r != NULL)
				*name_r = xstrdup(names.v[i].name);
			if (id_r != NULL)
				*id_r = names.v[i].id;
			r = SPOOL_OK;
			break;
		}
	}
	name_set_free(&names);
	return r;
}

struct use_arg {
	const char	*user;
	uint32_t	 use;
	char		*name;
};

static int
by_use_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct use_arg *a = arg;
	uint32_t user;
	int r;

	free(a->name);
	a->name = NULL;
	if ((r = spool_user_id(sp, txn, a->user, &user)) != SPOOL_OK)
		return r;
	return find_use(sp, txn, user, a->use, &a->name, NULL);
}

int
spool_mailbox_by_use(struct spool *sp, const char *user, uint32_t use,
    char **name_r)
{
	struct use_arg a = { user, use, NULL };
	int r;

	*name_r = NULL;
	if (!user_ok(user))
		return SPOOL_EINVAL;
	r = spool_txn(sp, TXN_READ, by_use_txn, &a);
	if (r == SPOOL_OK)
		*name_r = a.name;
	else
		free(a.name);
	return r;
}

/* ------------------------------------------------------------------ */
/* Subscriptions. */

struct subs_arg {
	const char		*user;
	char			 name[SPOOL_MAILBOX_MAX + 1];
	bool			 on;
	struct spool_strlist	*list;
};

static int
subs_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct subs_arg *a = arg;
	unsigned char key[4 + SPOOL_MAILBOX_MAX + 1];
	uint32_t user;
	DBT k;
	int r, ret;

	if ((r = spool_user_id(sp, txn, a->user, &user)) != SPOOL_OK)
		return r;
	if (a->list != NULL) {
		struct name_set s;
		size_t i;

		if ((r = user_names(sp, txn, DBI_SUBS, user, &s)) != SPOOL_OK)
			return r;
		spool_strlist_free(a->list);
		for (i = 0; i < s.n; i++)
			strlist_add(a->list, s.v[i].name, strlen(s.v[i].name));
		name_set_free(&s);
		return SPOOL_OK;
	}
	if (a->on)
		return subs_put(sp, txn, user, a->name);
	dbt_init(&k, key, name_key(key, sizeof(key), user, a->name));
	ret = sp->db[DBI_SUBS]->del(sp->db[DBI_SUBS], txn, &k, 0);
	return spool_dberr(sp, ret, "unsubscribe");
}

static int
subscribe(struct spool *sp, const char *user, const char *name, bool on)
{
	struct subs_arg a;
	int r;

	memset(&a, 0, sizeof(a));
	if (!user_ok(user))
		return SPOOL_EINVAL;
	if ((r = spool_name_norm(name, a.name, sizeof(a.name))) != SPOOL_OK)
		return r;
	a.user = user;
	a.on = on;
	return spool_txn(sp, 0, subs_txn, &a);
}

int
spool_subscribe(struct spool *sp, const char *user, const char *name)
{
	return subscribe(sp, user, name, true);
}

int
spool_unsubscribe(struct spool *sp, const char *user, const char *name)
{
	return subscribe(sp, user, name, false);
}

int
spool_subscriptions(struct spool *sp, const char *user,
    struct spool_strlist *l_r)
{
	struct subs_arg a;
	int r;

	memset(&a, 0, sizeof(a));
	memset(l_r, 0, sizeof(*l_r));
	if (!user_ok(user))
		return SPOOL_EINVAL;
	a.user = user;
	a.list = l_r;
	r = spool_txn(sp, TXN_READ, subs_txn, &a);
	if (r != SPOOL_OK)
		spool_strlist_free(l_r);
	return r;
}

/* ------------------------------------------------------------------ */
/* Deliver. */

struct deliver_arg {
	struct spool_delivery	*d;
	struct buf		 cache;
	uint64_t		 body;
	size_t			*order;		/* local rcpts, sorted */
	uint32_t		*mbox;		/* target mailbox per rcpt */
	const char		*need_user;	/* create it first, then retry */
	time_t			 now;
	char			 qid[SPOOL_QID_SIZE];
};

/* resolve_target - the mailbox a local recipient's copy goes to. */
static int
resolve_target(struct spool *sp, DB_TXN *txn, uint32_t user,
    const struct spool_local_rcpt *rc, uint32_t *id_r)
{
	char name[SPOOL_MAILBOX_MAX + 1];
	int r;

	if (rc->mailbox != NULL &&
	    spool_name_norm(rc->mailbox, name, sizeof(name)) == SPOOL_OK) {
		r = spool_mailbox_id(sp, txn, user, name, id_r);
		if (r != SPOOL_ENOENT)
			return r;
	} else if (rc->mailbox == NULL && rc->special_use != 0) {
		r = find_use(sp, txn, user, rc->special_use, NULL, id_r);
		if (r != SPOOL_ENOENT)
			return r;
	}
	return spool_mailbox_id(sp, txn, user, "INBOX", id_r);
}

static int
deliver_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct deliver_arg *a = arg;
	struct spool_delivery *d = a->d;
	uint32_t refs = 0;
	int first_err = SPOOL_OK;
	size_t i;
	int r;

	for (i = 0; i < d->nlocal; i++) {
		struct spool_local_rcpt *rc = &d->local[a->order[i]];
		struct mrec m;
		struct urec u;
		struct irec ir;
		uint32_t user, mbox;

		rc->status = SPOOL_OK;
		rc->uid = rc->uidvalidity = 0;
		a->mbox[a->order[i]] = 0;
		if (!user_ok(rc->user)) {
			rc->status = SPOOL_EINVAL;
			goto failed;
		}
		r = spool_user_id(sp, txn, rc->user, &user);
		if (r == SPOOL_ENOENT) {
			/* Created in a transaction of its own (short, and
			 * without lock upgrades), then this one again. */
			a->need_user = rc->user;
			return SPOOL_ENOENT;
		}
		if (r != SPOOL_OK)
			return r;
		if ((r = resolve_target(sp, txn, user, rc, &mbox)) != SPOOL_OK)
			return r == SPOOL_ENOENT ? SPOOL_ETEMP : r;
		if ((r = spool_mrec_get(sp, txn, mbox, &m, true)) != SPOOL_OK)
			return r == SPOOL_ENOENT ? SPOOL_ETEMP : r;
		if (m.attrs & SPOOL_MBOX_NOSELECT) {
			if ((r = spool_mailbox_id(sp, txn, user, "INBOX",
			    &mbox)) != SPOOL_OK)
				return r;
			if ((r = spool_mrec_get(sp, txn, mbox, &m, true)) != 0)
				return r;
		}
		if ((r = spool_urec_get(sp, txn, user, &u, true)) != SPOOL_OK)
			return r == SPOOL_ENOENT ? SPOOL_ETEMP : r;
		if ((r = spool_quota_fits(&u, d->len, 1)) != SPOOL_OK) {
			rc->status = r;
			goto failed;
		}
		memset(&ir, 0, sizeof(ir));
		ir.body = a->body;
		ir.flags = (uint16_t)(rc->flags & SPOOL_F_STORED_MASK);
		ir.internal_date = d->internal_date ? d->internal_date : a->now;
		ir.size = (uint32_t)d->len;
		if ((r = spool_index_add(sp, txn, mbox, &m, &ir, &rc->uid)) != 0)
			return r;
		if ((r = spool_mrec_put(sp, txn, mbox, &m)) != SPOOL_OK)
			return r;
		u.bytes_used += d->len;
		u.messages_used++;
		if ((r = spool_urec_put(sp, txn, user, &u)) != SPOOL_OK)
			return r;
		rc->uidvalidity = m.uidvalidity;
		a->mbox[a->order[i]] = mbox;
		refs++;
		continue;
failed:
		if (first_err == SPOOL_OK)
			first_err = rc->status;
	}
	if (d->nremote > 0) {
		r = spool_queue_put_new(sp, txn, a->qid, d, a->body, a->now);
		if (r != SPOOL_OK)
			return r;
		refs++;
	}
	if (refs == 0)
		return first_err != SPOOL_OK ? first_err : SPOOL_EINVAL;
	return spool_body_put(sp, txn, a->body, d->data, d->len, &a->cache, refs);
}

/* The sort key of local recipients: user, then index (stable). */
static __thread const struct spool_local_rcpt *tl_sort_base;

static int
rcpt_cmp(const void *x, const void *y)
{
	size_t a = *(const size_t *)x, b = *(const size_t *)y;
	int c = strcmp(tl_sort_base[a].user ? tl_sort_base[a].user : "",
	    tl_sort_base[b].user ? tl_sort_base[b].user : "");

	if (c != 0)
		return c;
	return a < b ? -1 : a > b;
}

int
spool_deliver(struct spool *sp, struct spool_delivery *d,
    char qid_r[SPOOL_QID_SIZE])
{
	struct deliver_arg a;
	struct spool_cache c;
	size_t i;
	int r;

	spool_qid_new(qid_r);
	if (d->nlocal == 0 && d->nremote == 0)
		return SPOOL_EINVAL;
	if (d->len > UINT32_MAX ||
	    (sp->set.append_limit != 0 && d->len > sp->set.append_limit))
		return SPOOL_ETOOBIG;
	memset(&a, 0, sizeof(a));
	a.d = d;
	a.now = time(NULL);
	memcpy(a.qid, qid_r, SPOOL_QID_SIZE);
	do
		spool_random(&a.body, sizeof(a.body));
	while (a.body == 0);
	spool_mime_parse(d->data, d->len, sp->set.mime_max_depth,
	    sp->set.mime_max_parts, &c);
	buf_init(&a.cache, 0);
	spool_cache_encode(&c, &a.cache);
	spool_cache_free(&c);
	a.order = xcalloc(d->nlocal ? d->nlocal : 1, sizeof(*a.order));
	a.mbox = xcalloc(d->nlocal ? d->nlocal : 1, sizeof(*a.mbox));
	for (i = 0; i < d->nlocal; i++)
		a.order[i] = i;
	tl_sort_base = d->local;
	qsort(a.order, d->nlocal, sizeof(*a.order), rcpt_cmp);

	for (i = 0; i <= d->nlocal; i++) {
		a.need_user = NULL;
		r = spool_txn(sp, 0, deliver_txn, &a);
		if (r != SPOOL_ENOENT || a.need_user == NULL)
			break;
		r = spool_user_create(sp, a.need_user);
		if (r != SPOOL_OK && r != SPOOL_EEXIST)
			break;
		r = SPOOL_ENOENT;
	}
	if (r == SPOOL_OK) {
		for (i = 0; i < d->nlocal; i++)
			if (a.mbox[i] != 0)
				spool_notify(sp, a.mbox[i]);
		log_trace(TRACE_SPOOL, "spool: delivered qid=%s size=%zu "
		    "local=%zu remote=%zu", qid_r, d->len, d->nlocal, d->nremote);
	}
	buf_free(&a.cache);
	free(a.order);
	free(a.mbox);
	return r;
}

/* ------------------------------------------------------------------ */
/* Append. */

struct append_arg {
	const char			*user;
	char				 name[SPOOL_MAILBOX_MAX + 1];
	const struct spool_append	*a;
	size_t				 n;
	struct buf			*caches;
	uint64_t			*bodies;
	uint32_t			*uids;
	uint32_t			 uidvalidity;
	uint32_t			 mbox;
	time_t				 now;
};

static int
append_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct append_arg *a = arg;
	struct mrec m;
	struct urec u;
	uint64_t total = 0;
	uint32_t user;
	size_t i;
	int r;

	if ((r = spool_user_id(sp, txn, a->user, &user)) != SPOOL_OK)
		return r;
	if ((r = spool_mailbox_id(sp, txn, user, a->name, &a->mbox)) != 0)
		return r;
	if ((r = spool_mrec_get(sp, txn, a->mbox, &m, true)) != SPOOL_OK)
		return r;
	if (m.attrs & SPOOL_MBOX_NOSELECT)
		return SPOOL_ENOSELECT;
	if ((r = spool_urec_get(sp, txn, user, &u, true)) != SPOOL_OK)
		return r == SPOOL_ENOENT ? SPOOL_ETEMP : r;
	for (i = 0; i < a->n; i++)
		total += a->a[i].len;
	if ((r = spool_quota_fits(&u, total, a->n)) != SPOOL_OK)
		return r;
	for (i = 0; i < a->n; i++) {
		const struct spool_append *ap = &a->a[i];
		struct irec ir;

		memset(&ir, 0, sizeof(ir));
		r = spool_keywords_map(sp, txn, a->mbox, ap->keywords,
		    ap->nkeywords, true, &ir.keywords, NULL);
		if (r != SPOOL_OK)
			return r;
		ir.body = a->bodies[i];
		ir.flags = (uint16_t)(ap->flags & SPOOL_F_STORED_MASK);
		ir.internal_date = ap->internal_date ? ap->internal_date : a->now;
		ir.tz_offset = (int16_t)ap->tz_offset;
		ir.size = (uint32_t)ap->len;
		if (ap->uid != 0) {
			/* A UID kept by an import: above every UID given. */
			if (ap->uid < m.uidnext || ap->uid == UINT32_MAX)
				return SPOOL_EINVAL;
			m.uidnext = ap->uid;
		}
		if ((r = spool_index_add(sp, txn, a->mbox, &m, &ir,
		    &a->uids[i])) != SPOOL_OK)
			return r;
		r = spool_body_put(sp, txn, a->bodies[i], ap->data, ap->len,
		    &a->caches[i], 1);
		if (r != SPOOL_OK)
			return r;
	}
	u.bytes_used += total;
	u.messages_used += a->n;
	if ((r = spool_urec_put(sp, txn, user, &u)) != SPOOL_OK)
		return r;
	a->uidvalidity = m.uidvalidity;
	return spool_mrec_put(sp, txn, a->mbox, &m);
}

int
spool_append(struct spool *sp, const char *user, const char *mailbox,
    const struct spool_append *ap, size_t n, uint32_t *uidvalidity_r,
    uint32_t *uids_r)
{
	struct append_arg a;
	size_t i;
	int r;

	memset(&a, 0, sizeof(a));
	if (!user_ok(user) || n == 0)
		return SPOOL_EINVAL;
	if ((r = spool_name_norm(mailbox, a.name, sizeof(a.name))) != SPOOL_OK)
		return r == SPOOL_EINVAL ? SPOOL_ENOENT : r;
	for (i = 0; i < n; i++) {
		if (ap[i].len > UINT32_MAX || (sp->set.append_limit != 0 &&
		    ap[i].len > sp->set.append_limit))
			return SPOOL_ETOOBIG;
		if (ap[i].tz_offset < -1440 || ap[i].tz_offset > 1440)
			return SPOOL_EINVAL;
	}
	a.user = user;
	a.a = ap;
	a.n = n;
	a.uids = uids_r;
	a.now = time(NULL);
	a.caches = xcalloc(n, sizeof(*a.caches));
	a.bodies = xcalloc(n, sizeof(*a.bodies));
	for (i = 0; i < n; i++) {
		struct spool_cache c;

		do
			spool_random(&a.bodies[i], sizeof(a.bodies[i]));
		while (a.bodies[i] == 0);
		spool_mime_parse(ap[i].data, ap[i].len, sp->set.mime_max_depth,
		    sp->set.mime_max_parts, &c);
		buf_init(&a.caches[i], 0);
		spool_cache_encode(&c, &a.caches[i]);
		spool_cache_free(&c);
	}
	r = spool_txn(sp, 0, append_txn, &a);
	if (r == SPOOL_OK) {
		if (uidvalidity_r != NULL)
			*uidvalidity_r = a.uidvalidity;
		spool_notify(sp, a.mbox);
	}
	for (i = 0; i < n; i++)
		buf_free(&a.caches[i]);
	free(a.caches);
	free(a.bodies);
	return r;
}
