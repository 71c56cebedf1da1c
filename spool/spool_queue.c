/*
 * spool_queue.c - the outbound queue: entries written by spool_deliver
 * for remote recipients (envelope, DSN parameters, one state per
 * recipient), and what the relay and gmsadm do with them: claim the due
 * ones with a lease (so that two runners never take the same entry),
 * record attempts, hold, release, reschedule and delete.
 *
 * queue.db maps the queue id to the encoded entry; due.db holds one key
 * (next attempt, big-endian, then the queue id) per entry that is not
 * held, so finding due work is a short range scan.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spool/spool-private.h"

const char *
spool_rcpt_state_name(int state)
{
	static __thread char unknown[32];

	switch (state) {
	case SPOOL_RCPT_PENDING: return "pending";
	case SPOOL_RCPT_DELIVERED: return "delivered";
	case SPOOL_RCPT_FAILED: return "failed";
	default:
		(void)gms_snprintf(unknown, sizeof(unknown), "unknown (%d)",
		    state);
		return unknown;
	}
}

void
spool_qid_new(char qid[SPOOL_QID_SIZE])
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char rnd[6];
	uint32_t now = (uint32_t)time(NULL);
	size_t i;

	spool_random(rnd, sizeof(rnd));
	for (i = 0; i < 8; i++)
		qid[i] = hex[(now >> (28 - 4 * i)) & 0xf];
	for (i = 0; i < 6; i++) {
		qid[8 + 2 * i] = hex[rnd[i] >> 4];
		qid[9 + 2 * i] = hex[rnd[i] & 0xf];
	}
	qid[20] = '\0';
}

/* ------------------------------------------------------------------ */
/* Encoding. */

#define QREC_VERSION	1
#define NOSTR		0xffffffffu

static void
put32(struct buf *b, uint32_t v)
{
	(void)buf_append(b, &v, sizeof(v));
}

static void
put64(struct buf *b, uint64_t v)
{
	(void)buf_append(b, &v, sizeof(v));
}

static void
putstr(struct buf *b, const char *s)
{
	if (s == NULL) {
		put32(b, NOSTR);
		return;
	}
	put32(b, (uint32_t)strlen(s));
	(void)buf_append(b, s, strlen(s));
}

static int
get32(struct cursor *c, uint32_t *v)
{
	if (c->left < 4)
		return -1;
	memcpy(v, c->p, 4);
	cur_skip(c, 4);
	return 0;
}

static int
get64(struct cursor *c, uint64_t *v)
{
	if (c->left < 8)
		return -1;
	memcpy(v, c->p, 8);
	cur_skip(c, 8);
	return 0;
}

static int
getstr(struct cursor *c, char **s)
{
	uint32_t n;

	*s = NULL;
	if (get32(c, &n) < 0)
		return -1;
	if (n == NOSTR)
		return 0;
	if (c->left < n)
		return -1;
	*s = xstrndup(c->p, n);
	cur_skip(c, n);
	return 0;
}

static void
entry_encode(const struct spool_queue_entry *e, uint64_t body, struct buf *b)
{
	size_t i;

	put32(b, QREC_VERSION);
	put64(b, body);
	put64(b, e->size);
	put64(b, (uint64_t)e->created);
	put64(b, (uint64_t)e->next_attempt);
	put32(b, e->attempts);
	put32(b, e->ret);
	put32(b, e->qflags);
	put32(b, e->held ? 1 : 0);
	putstr(b, e->mail_from);
	putstr(b, e->envid);
	putstr(b, e->origin);
	put32(b, (uint32_t)e->nrcpt);
	for (i = 0; i < e->nrcpt; i++) {
		const struct spool_queue_rcpt *r = &e->rcpt[i];

		putstr(b, r->address);
		putstr(b, r->orcpt);
		put32(b, r->notify);
		put32(b, (uint32_t)r->state);
		put32(b, r->flags);
		put32(b, r->attempts);
		put64(b, (uint64_t)r->last_attempt);
		putstr(b, r->status);
		putstr(b, r->diag);
	}
}

void
spool_queue_entry_free(struct spool_queue_entry *e)
{
	size_t i;

	if (e == NULL)
		return;
	free(e->mail_from);
	free(e->envid);
	free(e->origin);
	for (i = 0; i < e->nrcpt; i++) {
		free(e->rcpt[i].address);
		free(e->rcpt[i].orcpt);
		free(e->rcpt[i].status);
		free(e->rcpt[i].diag);
	}
	free(e->rcpt);
	memset(e, 0, sizeof(*e));
}

static int
entry_decode(const char *qid, const void *p, size_t len,
    struct spool_queue_entry *e, uint64_t *body_r)
{
	struct cursor c;
	uint32_t v, held, n, st;
	uint64_t created, next;
	size_t i;

	memset(e, 0, sizeof(*e));
	(void)gms_strlcpy(e->id, qid, sizeof(e->id));
	cur_init(&c, p, len);
	if (get32(&c, &v) < 0 || v != QREC_VERSION ||
	    get64(&c, body_r) < 0 || get64(&c, &e->size) < 0 ||
	    get64(&c, &created) < 0 || get64(&c, &next) < 0 ||
	    get32(&c, &e->attempts) < 0 || get32(&c, &e->ret) < 0 ||
	    get32(&c, &e->qflags) < 0 || get32(&c, &held) < 0 ||
	    getstr(&c, &e->mail_from) < 0 || getstr(&c, &e->envid) < 0 ||
	    getstr(&c, &e->origin) < 0 || get32(&c, &n) < 0 ||
	    n > c.left / 20)
		goto bad;
	e->created = (time_t)created;
	e->next_attempt = (time_t)next;
	e->held = held != 0;
	e->rcpt = xcalloc(n ? n : 1, sizeof(*e->rcpt));
	e->nrcpt = n;
	for (i = 0; i < n; i++) {
		struct spool_queue_rcpt *r = &e->rcpt[i];
		uint64_t last;

		if (getstr(&c, &r->address) < 0 || getstr(&c, &r->orcpt) < 0 ||
		    get32(&c, &r->notify) < 0 || get32(&c, &st) < 0 ||
		    get32(&c, &r->flags) < 0 || get32(&c, &r->attempts) < 0 ||
		    get64(&c, &last) < 0 || getstr(&c, &r->status) < 0 ||
		    getstr(&c, &r->diag) < 0)
			goto bad;
		r->state = (int)st;
		r->last_attempt = (time_t)last;
	}
	if (e->mail_from == NULL)
		e->mail_from = xstrdup("");
	return SPOOL_OK;
bad:
	spool_queue_entry_free(e);
	log_errorx("spool: queue entry %s is damaged", qid);
	return SPOOL_ETEMP;
}

/* ------------------------------------------------------------------ */
/* Records. */

static int
due_put(struct spool *sp, DB_TXN *txn, time_t when, const char *qid, bool del)
{
	unsigned char key[8 + SPOOL_QID_SIZE];
	size_t n = strlen(qid);
	DBT k, d;
	int ret;

	put_be64(key, (uint64_t)(when < 0 ? 0 : when));
	memcpy(key + 8, qid, n);
	dbt_init(&k, key, 8 + n);
	if (del) {
		ret = sp->db[DBI_DUE]->del(sp->db[DBI_DUE], txn, &k, 0);
		if (ret == DB_NOTFOUND)
			ret = 0;
		return spool_dberr(sp, ret, "due del");
	}
	dbt_init(&d, (void *)"", 0);
	return spool_dberr(sp, sp->db[DBI_DUE]->put(sp->db[DBI_DUE], txn, &k,
	    &d, 0), "due put");
}

static int
entry_get(struct spool *sp, DB_TXN *txn, const char *qid,
    struct spool_queue_entry *e, uint64_t *body_r, bool rmw)
{
	DBT k, d;
	int ret, r;

	dbt_init(&k, (void *)qid, strlen(qid));
	dbt_malloc(&d);
	ret = sp->db[DBI_QUEUE]->get(sp->db[DBI_QUEUE], txn, &k, &d,
	    rmw ? DB_RMW : 0);
	if (ret != 0)
		return spool_dberr(sp, ret, "queue get");
	r = entry_decode(qid, d.data, d.size, e, body_r);
	free(d.data);
	return r;
}

static int
entry_put(struct spool *sp, DB_TXN *txn, const struct spool_queue_entry *e,
    uint64_t body, bool create)
{
	struct buf b = BUF_INIT(0);
	DBT k, d;
	int ret;

	entry_encode(e, body, &b);
	dbt_init(&k, (void *)e->id, strlen(e->id));
	dbt_init(&d, b.data, b.len);
	ret = sp->db[DBI_QUEUE]->put(sp->db[DBI_QUEUE], txn, &k, &d,
	    create ? DB_NOOVERWRITE : 0);
	buf_free(&b);
	return spool_dberr(sp, ret, "queue put");
}

int
spool_queue_put_new(struct spool *sp, DB_TXN *txn, const char *qid,
    const struct spool_delivery *d, uint64_t body, time_t now)
{
	struct spool_queue_entry e;
	size_t i;
	int r;

	memset(&e, 0, sizeof(e));
	(void)gms_strlcpy(e.id, qid, sizeof(e.id));
	e.mail_from = (char *)(d->mail_from ? d->mail_from : "");
	e.envid = (char *)d->envid;
	e.origin = (char *)d->origin;
	e.ret = d->ret;
	e.qflags = d->qflags;
	e.created = now;
	e.next_attempt = now;
	e.size = d->len;
	e.nrcpt = d->nremote;
	e.rcpt = xcalloc(d->nremote, sizeof(*e.rcpt));
	for (i = 0; i < d->nremote; i++) {
		e.rcpt[i].address = (char *)d->remote[i].address;
		e.rcpt[i].orcpt = (char *)d->remote[i].orcpt;
		e.rcpt[i].notify = d->remote[i].notify;
	}
	r = entry_put(sp, txn, &e, body, true);
	free(e.rcpt);
	if (r != SPOOL_OK)
		return r;
	return due_put(sp, txn, now, qid, false);
}

/* ------------------------------------------------------------------ */
/* The API. */

int
spool_queue_add(struct spool *sp, const void *data, size_t len,
    const char *mail_from, const char *envid, unsigned ret, unsigned qflags,
    const struct spool_remote_rcpt *rcpt, size_t nrcpt,
    char qid_r[SPOOL_QID_SIZE])
{
	struct spool_delivery d;

	memset(&d, 0, sizeof(d));
	d.data = data;
	d.len = len;
	d.mail_from = mail_from;
	d.envid = envid;
	d.ret = ret;
	d.qflags = qflags;
	d.remote = rcpt;
	d.nremote = nrcpt;
	if (nrcpt == 0) {
		qid_r[0] = '\0';
		return SPOOL_EINVAL;
	}
	return spool_deliver(sp, &d, qid_r);
}

struct qarg {
	const char			*qid;
	struct spool_queue_entry	*e;
	uint64_t			 body;
	const struct spool_rcpt_update	*u;
	size_t				 nu;
	time_t				 when;
	bool				 hold;
	int				 op;
	struct spool_queue_entry	*list;
	size_t				 nlist;
	time_t				 now;
	uint32_t			 lease;
	size_t				 max;
	struct spool_strlist		*ids;
};

static bool
qid_ok(const char *qid)
{
	size_t n;

	if (qid == NULL)
		return false;
	n = strlen(qid);
	return n > 0 && n < SPOOL_QID_SIZE;
}

static int
get_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct qarg *a = arg;

	spool_queue_entry_free(a->e);
	return entry_get(sp, txn, a->qid, a->e, &a->body, false);
}

int
spool_queue_get(struct spool *sp, const char *qid,
    struct spool_queue_entry *e_r)
{
	struct qarg a;

	memset(e_r, 0, sizeof(*e_r));
	if (!qid_ok(qid))
		return SPOOL_ENOENT;
	memset(&a, 0, sizeof(a));
	a.qid = qid;
	a.e = e_r;
	return spool_txn(sp, TXN_READ, get_txn, &a);
}

int
spool_queue_body_open(struct spool *sp, const char *qid,
    struct spool_body **b_r)
{
	struct spool_queue_entry e;
	struct qarg a;
	int r;

	*b_r = NULL;
	if (!qid_ok(qid))
		return SPOOL_ENOENT;
	memset(&a, 0, sizeof(a));
	memset(&e, 0, sizeof(e));
	a.qid = qid;
	a.e = &e;
	if ((r = spool_txn(sp, TXN_READ, get_txn, &a)) != SPOOL_OK)
		return r;
	*b_r = spool_body_new(sp, a.body, e.size);
	spool_queue_entry_free(&e);
	return SPOOL_OK;
}

static int
list_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct qarg *a = arg;
	DBC *c;
	DBT k, d;
	int ret, r = SPOOL_OK;
	size_t i;

	spool_queue_list_free(&a->list, a->nlist);
	a->nlist = 0;
	if ((ret = sp->db[DBI_QUEUE]->cursor(sp->db[DBI_QUEUE], txn, &c, 0)) != 0)
		return spool_dberr(sp, ret, "cursor");
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.flags = d.flags = DB_DBT_REALLOC;
	while ((ret = c->get(c, &k, &d, DB_NEXT)) == 0) {
		char qid[SPOOL_QID_SIZE];
		uint64_t body;

		if (k.size == 0 || k.size >= sizeof(qid))
			continue;
		memcpy(qid, k.data, k.size);
		qid[k.size] = '\0';
		a->list = xreallocarray(a->list, a->nlist + 1, sizeof(*a->list));
		r = entry_decode(qid, d.data, d.size, &a->list[a->nlist], &body);
		if (r != SPOOL_OK)
			break;
		a->nlist++;
	}
	free(k.data);
	free(d.data);
	(void)c->close(c);
	if (r != SPOOL_OK)
		return r;
	if (ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "queue walk");
	/* By creation time (insertion sort: the list is for humans). */
	for (i = 1; i < a->nlist; i++) {
		struct spool_queue_entry t = a->list[i];
		size_t j = i;

		while (j > 0 && a->list[j - 1].created > t.created) {
			a->list[j] = a->list[j - 1];
			j--;
		}
		a->list[j] = t;
	}
	return SPOOL_OK;
}

void
spool_queue_list_free(struct spool_queue_entry **v, size_t n)
{
	size_t i;

	if (*v == NULL)
		return;
	for (i = 0; i < n; i++)
		spool_queue_entry_free(&(*v)[i]);
	free(*v);
	*v = NULL;
}

int
spool_queue_list(struct spool *sp, struct spool_queue_entry **v_r, size_t *n_r)
{
	struct qarg a;
	int r;

	memset(&a, 0, sizeof(a));
	r = spool_txn(sp, TXN_READ, list_txn, &a);
	if (r != SPOOL_OK) {
		spool_queue_list_free(&a.list, a.nlist);
		a.nlist = 0;
	}
	*v_r = a.list;
	*n_r = a.nlist;
	return r;
}

static int
claim_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct qarg *a = arg;
	struct spool_strlist found;
	DBC *c;
	DBT k, d;
	size_t i;
	int ret, r = SPOOL_OK;

	spool_strlist_free(a->ids);
	memset(&found, 0, sizeof(found));
	if ((ret = sp->db[DBI_DUE]->cursor(sp->db[DBI_DUE], txn, &c, 0)) != 0)
		return spool_dberr(sp, ret, "cursor");
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.flags = DB_DBT_REALLOC;
	d.data = partial_none;
	d.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
	while (found.n < a->max && (ret = c->get(c, &k, &d, DB_NEXT)) == 0) {
		if (k.size <= 8 || k.size >= 8 + SPOOL_QID_SIZE)
			continue;
		if ((time_t)get_be64(k.data) > a->now)
			break;
		found.v = xreallocarray(found.v, found.n + 1, sizeof(char *));
		found.v[found.n++] = xstrndup((char *)k.data + 8, k.size - 8);
	}
	free(k.data);
	(void)c->close(c);
	if (ret != 0 && ret != DB_NOTFOUND) {
		spool_strlist_free(&found);
		return spool_dberr(sp, ret, "due walk");
	}
	for (i = 0; i < found.n; i++) {
		struct spool_queue_entry e;
		uint64_t body;

		r = entry_get(sp, txn, found.v[i], &e, &body, true);
		if (r == SPOOL_ENOENT) {
			r = SPOOL_OK;
			continue;
		}
		if (r != SPOOL_OK)
			break;
		if (e.held || e.next_attempt > a->now) {
			spool_queue_entry_free(&e);
			continue;
		}
		if ((r = due_put(sp, txn, e.next_attempt, e.id, true)) == 0) {
			e.next_attempt = a->now + (time_t)a->lease;
			e.attempts++;
			r = entry_put(sp, txn, &e, body, false);
		}
		if (r == SPOOL_OK)
			r = due_put(sp, txn, e.next_attempt, e.id, false);
		spool_queue_entry_free(&e);
		if (r != SPOOL_OK)
			break;
		a->ids->v = xreallocarray(a->ids->v, a->ids->n + 1,
		    sizeof(char *));
		a->ids->v[a->ids->n++] = xstrdup(found.v[i]);
	}
	spool_strlist_free(&found);
	return r;
}

int
spool_queue_claim_due(struct spool *sp, time_t now, uint32_t lease,
    size_t max, struct spool_strlist *ids_r)
{
	struct qarg a;
	int r;

	memset(ids_r, 0, sizeof(*ids_r));
	memset(&a, 0, sizeof(a));
	a.now = now;
	a.lease = lease;
	a.max = max;
	a.ids = ids_r;
	r = spool_txn(sp, 0, claim_txn, &a);
	if (r != SPOOL_OK)
		spool_strlist_free(ids_r);
	return r;
}

static int
next_due_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct qarg *a = arg;
	DBC *c;
	DBT k, d;
	int ret;

	a->when = 0;
	if ((ret = sp->db[DBI_DUE]->cursor(sp->db[DBI_DUE], txn, &c, 0)) != 0)
		return spool_dberr(sp, ret, "cursor");
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.flags = DB_DBT_REALLOC;
	d.data = partial_none;
	d.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
	ret = c->get(c, &k, &d, DB_FIRST);
	if (ret == 0 && k.size > 8)
		a->when = (time_t)get_be64(k.data);
	free(k.data);
	(void)c->close(c);
	if (ret != 0 && ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "due first");
	return SPOOL_OK;
}

int
spool_queue_next_due(struct spool *sp, time_t *when_r)
{
	struct qarg a;
	int r;

	memset(&a, 0, sizeof(a));
	r = spool_txn(sp, TXN_READ, next_due_txn, &a);
	*when_r = r == SPOOL_OK ? a.when : 0;
	return r;
}

#define QOP_UPDATE	1
#define QOP_DELETE	2
#define QOP_HOLD	3
#define QOP_SCHEDULE	4

static int
modify_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct qarg *a = arg;
	struct spool_queue_entry e;
	uint64_t body;
	time_t now = time(NULL);
	size_t i, j;
	int r;

	if ((r = entry_get(sp, txn, a->qid, &e, &body, true)) != SPOOL_OK)
		return r;
	if (!e.held && (r = due_put(sp, txn, e.next_attempt, e.id, true)) != 0)
		goto out;
	switch (a->op) {
	case QOP_DELETE: {
		DBT k;
		int ret;

		dbt_init(&k, e.id, strlen(e.id));
		ret = sp->db[DBI_QUEUE]->del(sp->db[DBI_QUEUE], txn, &k, 0);
		r = spool_dberr(sp, ret, "queue del");
		if (r == SPOOL_OK)
			r = spool_body_ref(sp, txn, body, -1);
		goto out;
	}
	case QOP_UPDATE:
		for (i = 0; i < a->nu; i++) {
			for (j = 0; j < e.nrcpt; j++)
				if (strcmp(e.rcpt[j].address, a->u[i].address) == 0)
					break;
			if (j == e.nrcpt) {
				r = SPOOL_ENOENT;
				goto out;
			}
			e.rcpt[j].state = a->u[i].state;
			e.rcpt[j].flags |= a->u[i].set_flags;
			e.rcpt[j].attempts++;
			e.rcpt[j].last_attempt = now;
			if (a->u[i].status != NULL) {
				free(e.rcpt[j].status);
				e.rcpt[j].status = xstrdup(a->u[i].status);
			}
			if (a->u[i].diag != NULL) {
				free(e.rcpt[j].diag);
				e.rcpt[j].diag = xstrndup(a->u[i].diag, 1000);
			}
		}
		if (a->when != 0)
			e.next_attempt = a->when;
		break;
	case QOP_HOLD:
		e.held = a->hold;
		if (!a->hold)
			e.next_attempt = now;
		break;
	case QOP_SCHEDULE:
		e.next_attempt = a->when;
		break;
	default:
		panic("spool: queue op %d", a->op);
	}
	if ((r = entry_put(sp, txn, &e, body, false)) != SPOOL_OK)
		goto out;
	if (!e.held)
		r = due_put(sp, txn, e.next_attempt, e.id, false);
out:
	spool_queue_entry_free(&e);
	return r;
}

static int
modify(struct spool *sp, struct qarg *a)
{
	if (!qid_ok(a->qid))
		return SPOOL_ENOENT;
	return spool_txn(sp, 0, modify_txn, a);
}

int
spool_queue_update(struct spool *sp, const char *qid,
    const struct spool_rcpt_update *u, size_t n, time_t next_attempt)
{
	struct qarg a;

	memset(&a, 0, sizeof(a));
	a.qid = qid;
	a.u = u;
	a.nu = n;
	a.when = next_attempt;
	a.op = QOP_UPDATE;
	return modify(sp, &a);
}

int
spool_queue_delete(struct spool *sp, const char *qid)
{
	struct qarg a;

	memset(&a, 0, sizeof(a));
	a.qid = qid;
	a.op = QOP_DELETE;
	return modify(sp, &a);
}

int
spool_queue_hold(struct spool *sp, const char *qid, bool hold)
{
	struct qarg a;

	memset(&a, 0, sizeof(a));
	a.qid = qid;
	a.hold = hold;
	a.op = QOP_HOLD;
	return modify(sp, &a);
}

int
spool_queue_schedule(struct spool *sp, const char *qid, time_t when)
{
	struct qarg a;

	memset(&a, 0, sizeof(a));
	a.qid = qid;
	a.when = when;
	a.op = QOP_SCHEDULE;
	return modify(sp, &a);
}
