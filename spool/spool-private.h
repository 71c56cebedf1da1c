/*
 * spool-private.h - what the files of spool/ share and nobody else sees:
 * the environment handle, the database layout, the record encodings and
 * the transaction runner.  Only the spool's own .c files include it (and <db.h>).
 *
 * Databases (all in the one environment, all transactional):
 *   meta.db      btree  "uidvalidity" -> u32 last given (creation is rare)
 *   users.db     btree  user name -> u32 user id
 *   uquota.db    queue  user id (recno) -> struct urec (quota, usage):
 *                       the Queue access method locks records, not pages,
 *                       so deliveries to different users do not serialise
 *   names.db     btree  u32 user id BE + mailbox name -> u32 mailbox id
 *   mbox.db      queue  mailbox id (recno, DB_APPEND: never reused) ->
 *                       struct mrec (uidvalidity, uidnext, modseq, counters)
 *   keywords.db  btree  u32 mailbox id BE -> keyword names, NUL-separated
 *   index.db     btree  u32 mailbox id BE + u32 uid BE -> struct irec
 *   changes.db   btree  u32 mailbox id BE + u64 modseq BE -> struct crec:
 *                       one entry per present message (its current modseq)
 *                       and one per expunged message
 *   msgs.db      btree  u64 body id -> refcount, size, MIME cache
 *   bodies-NN.db btree  u64 body id + u32 chunk BE -> up to CHUNK bytes,
 *                       in shard (body id % SPOOL_BODY_SHARDS)
 *   subs.db      btree  u32 user id BE + name -> ""
 *   queue.db     btree  queue id -> entry with recipients
 *   due.db       btree  u64 next_attempt BE + queue id -> ""
 */
#ifndef GMS_SPOOL_PRIVATE_H
#define GMS_SPOOL_PRIVATE_H

#include <pthread.h>
#include <string.h>
#include <db.h>

#include "spool/spool.h"

#define SPOOL_CHUNK		(64 * 1024)
/* Bodies are spread over this many database files: Berkeley DB locks a
 * database's metadata page until commit when it allocates a page, so one
 * file would serialise every large delivery and defeat group commit. */
#define SPOOL_BODY_SHARDS	16
#define SPOOL_BATCH		500	/* messages per transaction in big jobs */

enum spool_dbi {
	DBI_META = 0,
	DBI_USERS,
	DBI_UQUOTA,
	DBI_NAMES,
	DBI_MBOX,
	DBI_KEYWORDS,
	DBI_INDEX,
	DBI_CHANGES,
	DBI_MSGS,
	DBI_BODIES,
	DBI_SUBS,
	DBI_QUEUE,
	DBI_DUE,
	DBI_COUNT
};

struct spool_watcher;

struct spool_busy {
	struct spool_busy	*next, *prev;
	struct timespec		 start;		/* CLOCK_MONOTONIC */
};

struct spool {
	struct spool_settings	 set;
	char			*dir;		/* owned copy of set.dir */
	DB_ENV			*env;
	DB			*db[DBI_COUNT];	/* db[DBI_BODIES] unused */
	DB			*bodies[SPOOL_BODY_SHARDS];
	/* Readers (every API call) hold it shared; spool_recover holds it
	 * exclusively while it swaps the environment. */
	pthread_rwlock_t	 envlock;
	bool			 broken;	/* DB_RUNRECOVERY seen */
	/* The maintenance thread. */
	pthread_t		 maint;
	bool			 maint_running;
	pthread_mutex_t		 maint_mtx;
	pthread_cond_t		 maint_cv;
	bool			 maint_stop;
	bool			 watchdog_stop;	/* the watchdog stops last */
	/* The watchdog: every Berkeley DB call in progress is on this list
	 * with its start time; a call older than spool.watchdog seconds
	 * means the process is stuck on a mutex of a dead process. */
	pthread_mutex_t		 busy_mtx;
	struct spool_busy	*busy;
	pthread_t		 watchdog;
	bool			 watchdog_running;
	/* Notification (spool_watch.c). */
	pthread_mutex_t		 watch_mtx;
	int			 ino_fd;	/* -1 until the first watch */
	int			 ino_stop[2];	/* pipe to stop the thread */
	pthread_t		 watch_thread;
	bool			 watch_running;
	struct spool_watcher	*watchers;	/* list, under watch_mtx */
};

/* Fixed-length record of a mailbox (mbox.db, queue access method). */
struct mrec {
	uint32_t	magic;		/* MREC_MAGIC while in use */
	uint32_t	user;
	uint32_t	uidvalidity;
	uint32_t	uidnext;
	uint64_t	highestmodseq;
	uint32_t	messages;
	uint32_t	unseen;
	uint32_t	deleted;
	uint32_t	first_recent;	/* uids >= this are \Recent */
	uint64_t	size;
	uint32_t	special_use;
	uint32_t	attrs;		/* SPOOL_MBOX_NOSELECT */
	uint32_t	spare[4];
};
#define MREC_MAGIC	0x4d424f58u	/* "MBOX" */

/* Fixed-length record of a user (uquota.db). */
struct urec {
	uint32_t	magic;
	uint32_t	spare0;
	uint64_t	bytes_limit;
	uint64_t	bytes_used;
	uint64_t	messages_limit;
	uint64_t	messages_used;
	uint64_t	spare[3];
};
#define UREC_MAGIC	0x55534552u	/* "USER" */

/* A message index record (index.db), stored as is (host order; the
 * environment is not portable across architectures anyway). */
struct irec {
	uint64_t	body;
	uint64_t	keywords;
	uint64_t	modseq;
	int64_t		internal_date;
	uint32_t	size;
	uint16_t	flags;
	int16_t		tz_offset;
};

/* A change log record (changes.db). */
struct crec {
	uint32_t	uid;
	uint32_t	kind;		/* CREC_* */
};
#define CREC_PRESENT	1	/* the message's current modseq */
#define CREC_EXPUNGED	2

/* The fixed head of a msgs.db record, followed by the MIME cache. */
struct brec_head {
	uint32_t	refcount;
	uint32_t	nchunks;
	uint64_t	size;
};

/* spool_env.c */
/* Map a Berkeley DB (or errno) return to a spool error, logging the
 * unexpected ones with what; DB_RUNRECOVERY marks the spool broken. */
int spool_dberr(struct spool *sp, int ret, const char *what);
/* Run fn in a transaction, retrying deadlocks.  fn returns SPOOL_OK (the
 * transaction commits), or an error (it aborts; SPOOL_EDEADLOCK retries).
 * flags: TXN_READ (read committed, no log flush needed).  Holds envlock
 * shared during the call. */
#define TXN_READ	0x01
#define TXN_LONG	0x02	/* not watched (verify, big jobs) */
/* Commit without waiting for the log flush: only for a transaction whose
 * loss in a crash is harmless by protocol (claiming \Recent: RFC 3501
 * lets a message be recent again after a crash).  A later durable commit
 * flushes it with everything before it. */
#define TXN_LAZY	0x04
/* Enter and leave a watched Berkeley DB call. */
void spool_busy_enter(struct spool *sp, struct spool_busy *b);
void spool_busy_leave(struct spool *sp, struct spool_busy *b);
typedef int (*spool_txn_fn)(struct spool *sp, DB_TXN *txn, void *arg);
int spool_txn(struct spool *sp, unsigned flags, spool_txn_fn fn, void *arg);
/* Fill *out with fresh random bytes (getrandom). */
void spool_random(void *out, size_t n);

/* A buffer for zero-length partial reads (existence probes): with
 * DB_THREAD every DBT needs a memory flag. */
extern char spool_partial_none[1];
#define partial_none spool_partial_none

/* The body shard of a body id. */
static inline DB *
body_db(const struct spool *sp, uint64_t body)
{
	return sp->bodies[body % SPOOL_BODY_SHARDS];
}

/* Key helpers. */
static inline void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}
static inline uint32_t get_be32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | p[3];
}
static inline void put_be64(unsigned char *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32)); put_be32(p + 4, (uint32_t)v);
}
static inline uint64_t get_be64(const unsigned char *p)
{
	return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}
static inline void dbt_init(DBT *d, void *data, size_t size)
{
	memset(d, 0, sizeof(*d));
	d->data = data;
	d->size = (u_int32_t)size;
}
/* A DBT that Berkeley DB fills with malloc'd memory (caller frees). */
static inline void dbt_malloc(DBT *d)
{
	memset(d, 0, sizeof(*d));
	d->flags = DB_DBT_MALLOC;
}
/* A DBT that Berkeley DB fills into a caller buffer of ulen bytes. */
static inline void dbt_user(DBT *d, void *data, size_t ulen)
{
	memset(d, 0, sizeof(*d));
	d->data = data;
	d->ulen = (u_int32_t)ulen;
	d->flags = DB_DBT_USERMEM;
}

/* spool_store.c: shared by the view and queue code. */
int spool_mrec_get(struct spool *sp, DB_TXN *txn, uint32_t id, struct mrec *m,
    bool rmw);
int spool_mrec_put(struct spool *sp, DB_TXN *txn, uint32_t id,
    const struct mrec *m);
int spool_urec_get(struct spool *sp, DB_TXN *txn, uint32_t id, struct urec *u,
    bool rmw);
int spool_urec_put(struct spool *sp, DB_TXN *txn, uint32_t id,
    const struct urec *u);
int spool_user_id(struct spool *sp, DB_TXN *txn, const char *user,
    uint32_t *id_r);
int spool_mailbox_id(struct spool *sp, DB_TXN *txn, uint32_t user,
    const char *name, uint32_t *id_r);
/* Normalise a mailbox name (INBOX folding) into out; SPOOL_EINVAL. */
int spool_name_norm(const char *name, char *out, size_t outlen);
/* Change the refcount of a body by delta; removes it at 0. */
int spool_body_ref(struct spool *sp, DB_TXN *txn, uint64_t body, int delta);
/* Store a new body with its MIME cache and refcount. */
int spool_body_put(struct spool *sp, DB_TXN *txn, uint64_t body,
    const void *data, size_t len, const struct buf *cache, uint32_t refs);
/* Encode a MIME cache for msgs.db. */
void spool_cache_encode(const struct spool_cache *c, struct buf *out);
int spool_cache_decode(const void *p, size_t len, struct spool_cache *c);
/* Insert a message index record at uid = uidnext of m (updated), with a
 * new modseq; counters and change log updated.  The quota is the
 * caller's. */
int spool_index_add(struct spool *sp, DB_TXN *txn, uint32_t mbox,
    struct mrec *m, struct irec *r, uint32_t *uid_r);
/* Remove one index record (expunge): counters, change log, body ref. */
int spool_index_del(struct spool *sp, DB_TXN *txn, uint32_t mbox,
    struct mrec *m, uint32_t uid, const struct irec *r, struct urec *u);
/* Keyword table of a mailbox: names in bit order. */
int spool_keywords_get(struct spool *sp, DB_TXN *txn, uint32_t mbox,
    struct spool_strlist *l);
int spool_keywords_map(struct spool *sp, DB_TXN *txn, uint32_t mbox,
    const char *const *kw, size_t n, bool create, uint64_t *mask_r,
    bool *added_r);
/* Quota check of adding bytes/messages to u. */
int spool_quota_fits(const struct urec *u, uint64_t bytes, uint64_t msgs);

/* spool_queue.c: write a new queue entry for d's remote recipients. */
int spool_queue_put_new(struct spool *sp, DB_TXN *txn, const char *qid,
    const struct spool_delivery *d, uint64_t body, time_t now);
/* A fresh queue id (20 characters). */
void spool_qid_new(char qid[SPOOL_QID_SIZE]);
/* Create the user's mailbox set inside txn. */
int spool_user_create_txn(struct spool *sp, DB_TXN *txn, const char *user,
    uint32_t *id_r);

/* spool_view.c: a body handle on a known body id (the queue's). */
struct spool_body *spool_body_new(struct spool *sp, uint64_t body,
    uint64_t size);

/* spool_watch.c */
void spool_watch_shutdown(struct spool *sp);
void spool_notify_path(const struct spool *sp, uint64_t id, char *out,
    size_t outlen);

#endif /* GMS_SPOOL_PRIVATE_H */
