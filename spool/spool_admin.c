/*
 * spool_admin.c - operations on the whole store, for gmsadm and the
 * tests: statistics, verify (with repair), hot backup and restore.
 *
 * Verify reads everything in one transaction at full isolation, so what
 * it compares is one consistent state even while deliveries go on (they
 * wait for it).  XXX: on a very large store that transaction holds many
 * page locks; spool.max_locks must cover the database pages.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool/spool-private.h"

/* ------------------------------------------------------------------ */
/* Statistics. */

static int
count_keys(struct spool *sp, DB_TXN *txn, int dbi, uint64_t *n_r)
{
	DBC *c;
	DBT k, d;
	uint64_t n = 0;
	int ret;

	if ((ret = sp->db[dbi]->cursor(sp->db[dbi], txn, &c, 0)) != 0)
		return spool_dberr(sp, ret, "cursor");
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.flags = DB_DBT_REALLOC;
	d.data = partial_none;
	d.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
	while ((ret = c->get(c, &k, &d, DB_NEXT)) == 0)
		n++;
	free(k.data);
	(void)c->close(c);
	if (ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "count");
	*n_r = n;
	return SPOOL_OK;
}

static int
stats_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct spool_stats *st = arg;
	struct brec_head h;
	DBC *c;
	DBT k, d;
	int r, ret;

	if ((r = count_keys(sp, txn, DBI_USERS, &st->users)) != SPOOL_OK ||
	    (r = count_keys(sp, txn, DBI_NAMES, &st->mailboxes)) != SPOOL_OK ||
	    (r = count_keys(sp, txn, DBI_INDEX, &st->messages)) != SPOOL_OK ||
	    (r = count_keys(sp, txn, DBI_QUEUE, &st->queue_entries)) != 0)
		return r;
	st->bodies = st->body_bytes = 0;
	if ((ret = sp->db[DBI_MSGS]->cursor(sp->db[DBI_MSGS], txn, &c, 0)) != 0)
		return spool_dberr(sp, ret, "cursor");
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.flags = DB_DBT_REALLOC;
	d.data = &h;
	d.ulen = d.dlen = sizeof(h);
	d.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
	while ((ret = c->get(c, &k, &d, DB_NEXT)) == 0) {
		st->bodies++;
		if (d.size == sizeof(h))
			st->body_bytes += h.size;
	}
	free(k.data);
	(void)c->close(c);
	if (ret != DB_NOTFOUND)
		return spool_dberr(sp, ret, "msgs walk");
	return SPOOL_OK;
}

int
spool_stats_db(struct spool *sp, struct spool_stats *st)
{
	DB_TXN_STAT *ts = NULL;
	DB_LOG_STAT *ls = NULL;
	DB_LOCK_STAT *ks = NULL;
	DB_MPOOL_STAT *ms = NULL;
	int ret, r = SPOOL_OK;

	pthread_rwlock_rdlock(&sp->envlock);
	if (sp->env == NULL) {
		pthread_rwlock_unlock(&sp->envlock);
		return SPOOL_ERUNRECOVERY;
	}
	if ((ret = sp->env->txn_stat(sp->env, &ts, 0)) == 0) {
		st->txn_commits = ts->st_ncommits;
		st->txn_aborts = ts->st_naborts;
		free(ts);
	} else {
		r = spool_dberr(sp, ret, "txn_stat");
	}
	if ((ret = sp->env->log_stat(sp->env, &ls, 0)) == 0) {
		st->log_flushes = ls->st_scount;
		st->log_writes = ls->st_wcount;
		st->log_bytes = (uint64_t)ls->st_w_mbytes * 1024 * 1024 +
		    ls->st_w_bytes;
		free(ls);
	} else {
		r = spool_dberr(sp, ret, "log_stat");
	}
	if ((ret = sp->env->lock_stat(sp->env, &ks, 0)) == 0) {
		st->deadlocks = ks->st_ndeadlocks;
		st->lock_timeouts = ks->st_nlocktimeouts;
		free(ks);
	} else {
		r = spool_dberr(sp, ret, "lock_stat");
	}
	if ((ret = sp->env->memp_stat(sp->env, &ms, NULL, 0)) == 0) {
		uint64_t all = (uint64_t)ms->st_cache_hit + ms->st_cache_miss;

		st->cache_hit_pct = all ? (uint64_t)ms->st_cache_hit * 100 / all
		    : 100;
		free(ms);
	} else {
		r = spool_dberr(sp, ret, "memp_stat");
	}
	pthread_rwlock_unlock(&sp->envlock);
	return r;
}

int
spool_stats(struct spool *sp, struct spool_stats *st_r)
{
	int r;

	memset(st_r, 0, sizeof(*st_r));
	if ((r = spool_txn(sp, TXN_READ, stats_txn, st_r)) != SPOOL_OK)
		return r;
	return spool_stats_db(sp, st_r);
}

/* ------------------------------------------------------------------ */
/* Verify. */

/* A small open-addressing map: u64 key -> counters. */
struct vent {
	uint64_t	key;		/* 0: empty */
	uint64_t	a, b, c, d;
	uint32_t	user;
	bool		seen;
};
struct vmap {
	struct vent	*v;
	size_t		 cap, n;
};

static struct vent *
vmap_get(struct vmap *m, uint64_t key, bool add)
{
	size_t i;

	if (key == 0)
		key = UINT64_MAX;
	if (add && (m->n + 1) * 2 > m->cap) {
		struct vent *old = m->v;
		size_t oldcap = m->cap, j;

		m->cap = m->cap ? m->cap * 2 : 1024;
		m->v = xcalloc(m->cap, sizeof(*m->v));
		m->n = 0;
		for (j = 0; j < oldcap; j++) {
			if (old[j].key != 0) {
				struct vent *e = vmap_get(m, old[j].key, true);

				*e = old[j];
			}
		}
		free(old);
	}
	if (m->cap == 0)
		return NULL;
	for (i = (size_t)(key * 0x9E3779B97F4A7C15ULL) & (m->cap - 1);;
	    i = (i + 1) & (m->cap - 1)) {
		if (m->v[i].key == key)
			return &m->v[i];
		if (m->v[i].key == 0) {
			if (!add)
				return NULL;
			memset(&m->v[i], 0, sizeof(m->v[i]));
			m->v[i].key = key;
			m->n++;
			return &m->v[i];
		}
	}
}

static void
vmap_free(struct vmap *m)
{
	free(m->v);
	memset(m, 0, sizeof(*m));
}

struct verify_arg {
	bool				 repair;
	struct spool_verify_report	*r;
	void				(*report)(void *, const char *);
	void				*rarg;
};

static void vreport(struct verify_arg *a, uint64_t *counter,
    const char *fmt, ...) GMS_PRINTF(3, 4);
static void
vreport(struct verify_arg *a, uint64_t *counter, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	(*counter)++;
	a->r->errors++;
	if (a->report == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	a->report(a->rarg, line);
}

static int
verify_txn(struct spool *sp, DB_TXN *txn, void *arg)
{
	struct verify_arg *a = arg;
	struct spool_verify_report *r = a->r;
	struct vmap mboxes = { NULL, 0, 0 }, users = { NULL, 0, 0 },
	    bodies = { NULL, 0, 0 };
	unsigned char key[12];
	struct irec ir;
	struct brec_head h;
	DBC *c = NULL;
	DBT k, d;
	size_t i;
	int ret, rr = SPOOL_OK;

	memset(r, 0, sizeof(*r));
	/* 1. Mailbox names -> records. */
	if ((ret = sp->db[DBI_NAMES]->cursor(sp->db[DBI_NAMES], txn, &c, 0)))
		goto dberr;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.flags = d.flags = DB_DBT_REALLOC;
	while ((ret = c->get(c, &k, &d, DB_NEXT)) == 0) {
		uint32_t id;
		struct mrec m;
		struct vent *e;

		if (k.size < 4 || d.size != sizeof(id))
			continue;
		memcpy(&id, d.data, sizeof(id));
		r->checked_mailboxes++;
		rr = spool_mrec_get(sp, txn, id, &m, false);
		if (rr == SPOOL_ENOENT) {
			vreport(a, &r->bad_counters, "mailbox %u named but "
			    "missing", id);
			rr = SPOOL_OK;
			continue;
		}
		if (rr != SPOOL_OK)
			break;
		e = vmap_get(&mboxes, id, true);
		e->user = get_be32(k.data);
		e->seen = true;
		(void)vmap_get(&users, e->user, true);
	}
	free(k.data);
	free(d.data);
	(void)c->close(c);
	c = NULL;
	if (rr != SPOOL_OK)
		goto out;
	if (ret != DB_NOTFOUND)
		goto dberr;

	/* 2. The index: per mailbox and per user sums, body references. */
	if ((ret = sp->db[DBI_INDEX]->cursor(sp->db[DBI_INDEX], txn, &c, 0)))
		goto dberr;
	dbt_user(&k, key, 8);
	dbt_user(&d, &ir, sizeof(ir));
	while ((ret = c->get(c, &k, &d, DB_NEXT)) == 0) {
		uint32_t mbox = get_be32(key), uid = get_be32(key + 4);
		struct vent *e = vmap_get(&mboxes, mbox, false), *u, *b;

		r->checked_messages++;
		if (e == NULL) {
			vreport(a, &r->bad_uids, "index record %u:%u of no "
			    "mailbox", mbox, uid);
			if (a->repair) {
				if ((ret = c->del(c, 0)) != 0)
					goto dberr;
				r->repaired++;
			} else {
				b = vmap_get(&bodies, ir.body, true);
				b->a++;
			}
			continue;
		}
		e->a++;
		if (!(ir.flags & SPOOL_F_SEEN))
			e->b++;
		if (ir.flags & SPOOL_F_DELETED)
			e->c++;
		e->d += ir.size;
		u = vmap_get(&users, e->user, true);
		u->a++;
		u->b += ir.size;
		b = vmap_get(&bodies, ir.body, true);
		b->a++;
		/* uid and modseq against the mailbox record. */
		{
			struct mrec m;

			rr = spool_mrec_get(sp, txn, mbox, &m, false);
			if (rr != SPOOL_OK)
				break;
			if (uid >= m.uidnext || ir.modseq > m.highestmodseq)
				vreport(a, &r->bad_uids, "mailbox %u uid %u: "
				    "uid or modseq above the mailbox's", mbox,
				    uid);
		}
		/* The change log entry of the message's modseq. */
		{
			unsigned char ck[12];
			struct crec cr;
			DBT k2, d2;
			int r2;

			put_be32(ck, mbox);
			put_be64(ck + 4, ir.modseq);
			dbt_init(&k2, ck, sizeof(ck));
			dbt_user(&d2, &cr, sizeof(cr));
			r2 = sp->db[DBI_CHANGES]->get(sp->db[DBI_CHANGES], txn,
			    &k2, &d2, 0);
			if (r2 == DB_NOTFOUND || (r2 == 0 && cr.uid != uid)) {
				vreport(a, &r->bad_uids, "mailbox %u uid %u: "
				    "change log entry missing", mbox, uid);
				if (a->repair) {
					cr.uid = uid;
					cr.kind = CREC_PRESENT;
					dbt_init(&d2, &cr, sizeof(cr));
					r2 = sp->db[DBI_CHANGES]->put(
					    sp->db[DBI_CHANGES], txn, &k2, &d2, 0);
					if (r2 != 0) {
						ret = r2;
						goto dberr;
					}
					r->repaired++;
				}
			} else if (r2 != 0) {
				ret = r2;
				goto dberr;
			}
		}
	}
	(void)c->close(c);
	c = NULL;
	if (rr != SPOOL_OK)
		goto out;
	if (ret != DB_NOTFOUND)
		goto dberr;

	/* 3. Queue entries reference bodies too. */
	if ((ret = sp->db[DBI_QUEUE]->cursor(sp->db[DBI_QUEUE], txn, &c, 0)))
		goto dberr;
	memset(&k, 0, sizeof(k));
	memset(&d, 0, sizeof(d));
	k.flags = d.flags = DB_DBT_REALLOC;
	while ((ret = c->get(c, &k, &d, DB_NEXT)) == 0) {
		uint64_t body;

		if (d.size >= 12) {
			memcpy(&body, (char *)d.data + 4, 8);
			vmap_get(&bodies, body, true)->a++;
		}
	}
	free(k.data);
	free(d.data);
	(void)c->close(c);
	c = NULL;
	if (ret != DB_NOTFOUND)
		goto dberr;

	/* 4. Bodies: refcounts against the references found. */
	if ((ret = sp->db[DBI_MSGS]->cursor(sp->db[DBI_MSGS], txn, &c, 0)))
		goto dberr;
	{
		uint64_t body;

		dbt_user(&k, &body, sizeof(body));
		memset(&d, 0, sizeof(d));
		d.data = &h;
		d.ulen = d.dlen = sizeof(h);
		d.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
		while ((ret = c->get(c, &k, &d, DB_NEXT)) == 0) {
			struct vent *e = vmap_get(&bodies, body, false);
			uint64_t refs = e ? e->a : 0;
			unsigned char bk[12];
			DBT k2, d2;
			uint32_t ch;

			r->checked_bodies++;
			if (e != NULL)
				e->seen = true;
			/* Every chunk present? */
			for (ch = 0; ch < h.nchunks; ch++) {
				memcpy(bk, &body, 8);
				put_be32(bk + 8, ch);
				dbt_init(&k2, bk, sizeof(bk));
				memset(&d2, 0, sizeof(d2));
				d2.data = partial_none;
				d2.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
				ret = body_db(sp, body)->get(body_db(sp, body),
				    txn, &k2, &d2, 0);
				if (ret == DB_NOTFOUND) {
					vreport(a, &r->missing_bodies, "body "
					    "%016llx: chunk %u missing",
					    (unsigned long long)body, ch);
					break;
				}
				if (ret != 0)
					goto dberr;
			}
			ret = 0;
			if (refs == 0) {
				vreport(a, &r->orphan_bodies, "body %016llx: "
				    "no reference", (unsigned long long)body);
				if (a->repair) {
					if ((ret = c->del(c, 0)) != 0)
						goto dberr;
					for (ch = 0; ch < h.nchunks; ch++) {
						memcpy(bk, &body, 8);
						put_be32(bk + 8, ch);
						dbt_init(&k2, bk, sizeof(bk));
						(void)body_db(sp, body)->del(
						    body_db(sp, body), txn, &k2, 0);
					}
					r->repaired++;
				}
			} else if (refs != h.refcount) {
				vreport(a, &r->bad_refcounts, "body %016llx: "
				    "refcount %u, %llu references",
				    (unsigned long long)body, h.refcount,
				    (unsigned long long)refs);
				if (a->repair) {
					/* Whole record, as spool_body_ref. */
					dbt_malloc(&d2);
					dbt_init(&k2, &body, sizeof(body));
					ret = sp->db[DBI_MSGS]->get(
					    sp->db[DBI_MSGS], txn, &k2, &d2, 0);
					if (ret != 0)
						goto dberr;
					h.refcount = (uint32_t)refs;
					memcpy(d2.data, &h, sizeof(h));
					d2.flags = 0;
					ret = c->put(c, &k, &d2, DB_CURRENT);
					free(d2.data);
					if (ret != 0)
						goto dberr;
					r->repaired++;
				}
			}
		}
	}
	(void)c->close(c);
	c = NULL;
	if (ret != DB_NOTFOUND)
		goto dberr;
	for (i = 0; i < bodies.cap; i++) {
		if (bodies.v[i].key != 0 && !bodies.v[i].seen)
			vreport(a, &r->missing_bodies, "body %016llx: "
			    "referenced %llu times, not stored",
			    (unsigned long long)bodies.v[i].key,
			    (unsigned long long)bodies.v[i].a);
	}

	/* 5. Counters of the mailboxes and the users. */
	for (i = 0; i < mboxes.cap; i++) {
		struct vent *e = &mboxes.v[i];
		struct mrec m;

		if (e->key == 0)
			continue;
		if ((rr = spool_mrec_get(sp, txn, (uint32_t)e->key, &m,
		    a->repair)) != SPOOL_OK)
			goto out;
		if (m.messages != e->a || m.unseen != e->b ||
		    m.deleted != e->c || m.size != e->d) {
			vreport(a, &r->bad_counters, "mailbox %llu: counters "
			    "%u/%u/%u/%llu, found %llu/%llu/%llu/%llu",
			    (unsigned long long)e->key, m.messages, m.unseen,
			    m.deleted, (unsigned long long)m.size,
			    (unsigned long long)e->a, (unsigned long long)e->b,
			    (unsigned long long)e->c, (unsigned long long)e->d);
			if (a->repair) {
				m.messages = (uint32_t)e->a;
				m.unseen = (uint32_t)e->b;
				m.deleted = (uint32_t)e->c;
				m.size = e->d;
				if ((rr = spool_mrec_put(sp, txn,
				    (uint32_t)e->key, &m)) != SPOOL_OK)
					goto out;
				r->repaired++;
			}
		}
	}
	for (i = 0; i < users.cap; i++) {
		struct vent *e = &users.v[i];
		struct urec u;

		if (e->key == 0)
			continue;
		rr = spool_urec_get(sp, txn, (uint32_t)e->key, &u, a->repair);
		if (rr == SPOOL_ENOENT) {
			rr = SPOOL_OK;
			continue;
		}
		if (rr != SPOOL_OK)
			goto out;
		if (u.messages_used != e->a || u.bytes_used != e->b) {
			vreport(a, &r->bad_counters, "user %llu: usage %llu "
			    "messages %llu bytes, found %llu and %llu",
			    (unsigned long long)e->key,
			    (unsigned long long)u.messages_used,
			    (unsigned long long)u.bytes_used,
			    (unsigned long long)e->a, (unsigned long long)e->b);
			if (a->repair) {
				u.messages_used = e->a;
				u.bytes_used = e->b;
				if ((rr = spool_urec_put(sp, txn,
				    (uint32_t)e->key, &u)) != SPOOL_OK)
					goto out;
				r->repaired++;
			}
		}
	}
	goto out;
dberr:
	rr = spool_dberr(sp, ret, "verify");
	if (c != NULL)
		(void)c->close(c);
out:
	vmap_free(&mboxes);
	vmap_free(&users);
	vmap_free(&bodies);
	return rr;
}

int
spool_verify(struct spool *sp, bool repair, struct spool_verify_report *r_r,
    void (*report)(void *arg, const char *line), void *arg)
{
	struct spool_verify_report local;
	struct verify_arg a;

	memset(&a, 0, sizeof(a));
	a.repair = repair;
	a.r = r_r != NULL ? r_r : &local;
	a.report = report;
	a.rarg = arg;
	return spool_txn(sp, TXN_LONG, verify_txn, &a);
}

/* ------------------------------------------------------------------ */
/* Backup and restore. */

int
spool_backup(struct spool *sp, const char *target_dir)
{
	int ret, r;

	if (mkdir(target_dir, 0700) < 0 && errno != EEXIST) {
		log_error("spool: backup %s", target_dir);
		return SPOOL_ETEMP;
	}
	if (chmod(target_dir, 0700) < 0)
		log_warn("spool: chmod %s", target_dir);
	pthread_rwlock_rdlock(&sp->envlock);
	if (sp->env == NULL) {
		pthread_rwlock_unlock(&sp->envlock);
		return SPOOL_ERUNRECOVERY;
	}
	ret = sp->env->backup(sp->env, target_dir, DB_CREATE | DB_BACKUP_CLEAN);
	r = spool_dberr(sp, ret, "backup");
	pthread_rwlock_unlock(&sp->envlock);
	if (r == SPOOL_OK)
		log_info("spool: hot backup written to %s", target_dir);
	return r;
}

/* copy_file - copy src to dst (0600). */
static int
copy_file(const char *src, const char *dst)
{
	char buf[65536];
	int in, out;
	ssize_t n;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		char *p = buf;

		while (n > 0) {
			ssize_t w = write(out, p, (size_t)n);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				close(in);
				close(out);
				return -1;
			}
			p += w;
			n -= w;
		}
	}
	if (n < 0 || fsync(out) < 0) {
		close(in);
		close(out);
		return -1;
	}
	close(in);
	return close(out);
}

int
spool_restore(const char *backup_dir, const char *spool_dir)
{
	DIR *dir;
	struct dirent *de;
	DB_ENV *env;
	char src[4200], dst[4200];
	bool have_db = false;
	int ret;

	if ((dir = opendir(spool_dir)) != NULL) {
		while ((de = readdir(dir)) != NULL) {
			if (strcmp(de->d_name, ".") != 0 &&
			    strcmp(de->d_name, "..") != 0) {
				closedir(dir);
				return SPOOL_EEXIST;
			}
		}
		closedir(dir);
	} else if (mkdir(spool_dir, 0700) < 0) {
		log_error("spool: restore %s", spool_dir);
		return SPOOL_ETEMP;
	}
	if ((dir = opendir(backup_dir)) == NULL) {
		log_error("spool: restore from %s", backup_dir);
		return SPOOL_EINVAL;
	}
	while ((de = readdir(dir)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.' || strncmp(de->d_name, "__db", 4) == 0)
			continue;
		if (gms_snprintf(src, sizeof(src), "%s/%s", backup_dir,
		    de->d_name) < 0 || gms_snprintf(dst, sizeof(dst), "%s/%s",
		    spool_dir, de->d_name) < 0)
			continue;
		if (stat(src, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (strcmp(de->d_name, "mbox.db") == 0)
			have_db = true;
		if (copy_file(src, dst) < 0) {
			log_error("spool: restore %s", dst);
			closedir(dir);
			return SPOOL_ETEMP;
		}
	}
	closedir(dir);
	if (!have_db) {
		log_errorx("spool: %s holds no spool backup", backup_dir);
		return SPOOL_EINVAL;
	}
	if (chmod(spool_dir, 0700) < 0)
		log_warn("spool: chmod %s", spool_dir);
	if (gms_snprintf(dst, sizeof(dst), "%s/notify", spool_dir) == 0)
		(void)mkdir(dst, 0700);
	if ((ret = db_env_create(&env, 0)) != 0)
		return spool_dberr(NULL, ret, "db_env_create");
	/* No DB_REGISTER here: catastrophic recovery needs the directory to
	 * itself (the contract of this call), and Berkeley DB refuses the
	 * combination. */
	ret = env->open(env, spool_dir, DB_CREATE | DB_INIT_TXN |
	    DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL | DB_RECOVER_FATAL, 0600);
	if (ret != 0) {
		log_errorx("spool: catastrophic recovery in %s: %s", spool_dir,
		    db_strerror(ret));
		(void)env->close(env, 0);
		return SPOOL_ETEMP;
	}
	(void)env->close(env, 0);
	log_info("spool: restored %s into %s", backup_dir, spool_dir);
	return SPOOL_OK;
}
