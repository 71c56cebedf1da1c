/*
 * spool_env.c - the Berkeley DB environment of the spool: settings from
 * gms.conf, opening (with recovery when DB_REGISTER asks for it), the
 * failchk / checkpoint / log removal thread, the transaction runner that
 * retries deadlocks and turns every Berkeley DB failure into a temporary
 * spool error, and automatic recovery after DB_RUNRECOVERY.
 *
 * Every process of the suite opens the environment with DB_REGISTER, so a
 * process that died inside it is noticed by the next one that opens it;
 * failchk, run at open and then periodically, releases the locks and
 * aborts the transactions of dead threads so that the living ones never
 * wait for them.  Lock waits are bounded (lock and transaction timeouts,
 * DB_TIME_NOTGRANTED), so a process stopped while holding locks makes
 * the others fail with SPOOL_ETIMEOUT instead of hanging.  The log is
 * flushed at every commit that stores or changes mail; the one exception
 * is the commit that only claims \Recent for a session (TXN_LAZY),
 * which a crash may undo harmlessly.  In-memory logs are never used.
 */
#include "config.h"

#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool/spool-private.h"

const struct conf_def spool_conf_table[] = {
	{ "spool.dir", CONF_STR, LOCALSTATEDIR "/gms/spool", 0, 0, NULL,
	  "the Berkeley DB environment directory (mode 0700)" },
	{ "spool.cache_size", CONF_SIZE, "64m", 1024 * 1024,
	  64LL * 1024 * 1024 * 1024, NULL, "Berkeley DB cache size" },
	{ "spool.log_buffer_size", CONF_SIZE, "1m", 64 * 1024,
	  256 * 1024 * 1024, NULL, "in-memory log buffer" },
	{ "spool.log_file_size", CONF_SIZE, "16m", 1024 * 1024,
	  1024LL * 1024 * 1024, NULL, "size of one transaction log file" },
	{ "spool.lock_timeout_ms", CONF_INT, "5000", 10, 600000, NULL,
	  "a lock wait longer than this fails with a temporary error" },
	{ "spool.txn_timeout_ms", CONF_INT, "30000", 10, 3600000, NULL,
	  "a transaction older than this is aborted at its next lock wait" },
	{ "spool.deadlock_retries", CONF_INT, "10", 0, 1000, NULL,
	  "retries of a transaction chosen as a deadlock victim" },
	{ "spool.checkpoint_interval", CONF_TIME, "60", 1, 86400, NULL,
	  "seconds between checkpoints and log removal" },
	{ "spool.failchk_interval", CONF_TIME, "5", 1, 3600, NULL,
	  "seconds between checks for dead processes in the environment" },
	{ "spool.max_threads", CONF_INT, "4000", 16, 1000000, NULL,
	  "threads of all processes that use the environment" },
	{ "spool.max_locks", CONF_INT, "100000", 1000, 10000000, NULL,
	  "locks, lockers and lock objects of the environment" },
	{ "spool.mime_max_depth", CONF_INT, "100", 1, 1000, NULL,
	  "MIME nesting depth parsed; deeper parts are opaque" },
	{ "spool.mime_max_parts", CONF_INT, "10000", 1, 1000000, NULL,
	  "MIME parts parsed per message" },
	{ "spool.append_limit", CONF_SIZE, "0", 0, 4LL * 1024 * 1024 * 1024 - 1,
	  NULL, "largest message stored (0: no limit)" },
	{ "spool.quota_bytes", CONF_SIZE, "0", 0, INT64_MAX, NULL,
	  "default storage quota of a new user (0: none)" },
	{ "spool.quota_messages", CONF_INT, "0", 0, INT64_MAX, NULL,
	  "default message quota of a new user (0: none)" },
	{ "spool.watchdog", CONF_TIME, "120", 0, 86400, NULL,
	  "a store call stuck longer than this ends the process (0: never)" },
	{ NULL, 0, NULL, 0, 0, NULL, NULL },
};

char spool_partial_none[1];

static const char *const db_files[DBI_COUNT] = {
	"meta.db", "users.db", "uquota.db", "names.db", "mbox.db",
	"keywords.db", "index.db", "changes.db", "msgs.db", "bodies.db",
	"subs.db", "queue.db", "due.db",
};

/* ------------------------------------------------------------------ */
/* Errors. */

bool
spool_err_temporary(int err)
{
	return err <= SPOOL_EDEADLOCK;
}

const char *
spool_strerror(int err)
{
	switch (err) {
	case SPOOL_OK: return "success";
	case SPOOL_ENOENT: return "no such mailbox or message";
	case SPOOL_EEXIST: return "already exists";
	case SPOOL_EQUOTA_BYTES: return "storage quota exceeded";
	case SPOOL_EQUOTA_MESSAGES: return "message quota exceeded";
	case SPOOL_ETOOBIG: return "message too large";
	case SPOOL_EINVAL: return "invalid name or argument";
	case SPOOL_EPERM: return "operation not permitted";
	case SPOOL_EHASCHILDREN: return "mailbox has children";
	case SPOOL_ENOSELECT: return "mailbox cannot be selected";
	case SPOOL_ELIMIT: return "limit reached";
	case SPOOL_EEXPUNGED: return "message was expunged";
	case SPOOL_EDEADLOCK: return "temporary failure (deadlock)";
	case SPOOL_ETIMEOUT: return "temporary failure (lock timeout)";
	case SPOOL_ERUNRECOVERY: return "temporary failure (store recovering)";
	case SPOOL_ENOSPC: return "temporary failure (disk full)";
	case SPOOL_EIO: return "temporary failure (I/O error)";
	case SPOOL_ETEMP: return "temporary failure";
	default: return "unknown error";
	}
}

const char *
spool_err_name(int err)
{
	static __thread char unknown[32];

	switch (err) {
	case SPOOL_OK: return "SPOOL_OK";
	case SPOOL_ENOENT: return "SPOOL_ENOENT";
	case SPOOL_EEXIST: return "SPOOL_EEXIST";
	case SPOOL_EQUOTA_BYTES: return "SPOOL_EQUOTA_BYTES";
	case SPOOL_EQUOTA_MESSAGES: return "SPOOL_EQUOTA_MESSAGES";
	case SPOOL_ETOOBIG: return "SPOOL_ETOOBIG";
	case SPOOL_EINVAL: return "SPOOL_EINVAL";
	case SPOOL_EPERM: return "SPOOL_EPERM";
	case SPOOL_EHASCHILDREN: return "SPOOL_EHASCHILDREN";
	case SPOOL_ENOSELECT: return "SPOOL_ENOSELECT";
	case SPOOL_ELIMIT: return "SPOOL_ELIMIT";
	case SPOOL_EEXPUNGED: return "SPOOL_EEXPUNGED";
	case SPOOL_EDEADLOCK: return "SPOOL_EDEADLOCK";
	case SPOOL_ETIMEOUT: return "SPOOL_ETIMEOUT";
	case SPOOL_ERUNRECOVERY: return "SPOOL_ERUNRECOVERY";
	case SPOOL_ENOSPC: return "SPOOL_ENOSPC";
	case SPOOL_EIO: return "SPOOL_EIO";
	case SPOOL_ETEMP: return "SPOOL_ETEMP";
	default:
		(void)gms_snprintf(unknown, sizeof(unknown), "unknown (%d)", err);
		return unknown;
	}
}

int
spool_dberr(struct spool *sp, int ret, const char *what)
{
	switch (ret) {
	case 0:
		return SPOOL_OK;
	case DB_LOCK_DEADLOCK:
		return SPOOL_EDEADLOCK;
	case DB_LOCK_NOTGRANTED:
		log_warnx("spool: %s: lock timeout", what);
		return SPOOL_ETIMEOUT;
	case DB_NOTFOUND:
	case DB_KEYEMPTY:
		return SPOOL_ENOENT;
	case DB_KEYEXIST:
		return SPOOL_EEXIST;
	case DB_RUNRECOVERY:
		log_errorx("spool: %s: %s", what, db_strerror(ret));
		if (sp != NULL)
			__atomic_store_n(&sp->broken, true, __ATOMIC_SEQ_CST);
		return SPOOL_ERUNRECOVERY;
	case ENOSPC:
	case EDQUOT:
		log_errorx("spool: %s: %s", what, db_strerror(ret));
		return SPOOL_ENOSPC;
	case EIO:
		log_errorx("spool: %s: %s", what, db_strerror(ret));
		return SPOOL_EIO;
	default:
		log_errorx("spool: %s: %s", what, db_strerror(ret));
		return SPOOL_ETEMP;
	}
}

void
spool_random(void *out, size_t n)
{
	unsigned char *p = out;

	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			fatal("getrandom");
		}
		p += r;
		n -= (size_t)r;
	}
}

/* ------------------------------------------------------------------ */
/* Settings. */

void
spool_settings_default(struct spool_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->dir = LOCALSTATEDIR "/gms/spool";
	s->cache_size = 64ULL * 1024 * 1024;
	s->log_buffer_size = 1024 * 1024;
	s->log_file_size = 16 * 1024 * 1024;
	s->lock_timeout_ms = 5000;
	s->txn_timeout_ms = 30000;
	s->deadlock_retries = 10;
	s->checkpoint_interval = 60;
	s->failchk_interval = 5;
	s->max_threads = 4000;
	s->max_locks = 100000;
	s->mime_max_depth = 100;
	s->mime_max_parts = 10000;
	s->append_limit = 0;
	s->watchdog = 120;
	s->maintenance = true;
	s->create = true;
}

void
spool_settings_from_conf(struct spool_settings *s, const struct conf *c)
{
	spool_settings_default(s);
	s->dir = conf_str(c, "spool.dir");
	s->cache_size = (uint64_t)conf_int(c, "spool.cache_size");
	s->log_buffer_size = (uint32_t)conf_int(c, "spool.log_buffer_size");
	s->log_file_size = (uint32_t)conf_int(c, "spool.log_file_size");
	s->lock_timeout_ms = (uint32_t)conf_int(c, "spool.lock_timeout_ms");
	s->txn_timeout_ms = (uint32_t)conf_int(c, "spool.txn_timeout_ms");
	s->deadlock_retries = (uint32_t)conf_int(c, "spool.deadlock_retries");
	s->checkpoint_interval = (uint32_t)conf_int(c, "spool.checkpoint_interval");
	s->failchk_interval = (uint32_t)conf_int(c, "spool.failchk_interval");
	s->max_threads = (uint32_t)conf_int(c, "spool.max_threads");
	s->max_locks = (uint32_t)conf_int(c, "spool.max_locks");
	s->mime_max_depth = (uint32_t)conf_int(c, "spool.mime_max_depth");
	s->mime_max_parts = (uint32_t)conf_int(c, "spool.mime_max_parts");
	s->append_limit = (uint64_t)conf_int(c, "spool.append_limit");
	s->quota_bytes = (uint64_t)conf_int(c, "spool.quota_bytes");
	s->quota_messages = (uint64_t)conf_int(c, "spool.quota_messages");
	s->watchdog = (uint32_t)conf_int(c, "spool.watchdog");
}

/* ------------------------------------------------------------------ */
/* The environment. */

/* The process id, cached: Berkeley DB asks thread_id() on every mutex
 * and lock operation, and getpid() is a system call each time (glibc no
 * longer caches it), which was most of the CPU time of a large FETCH or
 * SELECT.  Set by spool_open and again in a forked child. */
static pid_t spool_pid;
static pthread_once_t spool_pid_once = PTHREAD_ONCE_INIT;

static void
pid_refresh(void)
{
	__atomic_store_n(&spool_pid, getpid(), __ATOMIC_RELAXED);
}

static void
pid_init(void)
{
	pid_refresh();
	(void)pthread_atfork(NULL, NULL, pid_refresh);
}

static pid_t
cached_pid(void)
{
	pid_t p = __atomic_load_n(&spool_pid, __ATOMIC_RELAXED);

	return p != 0 ? p : getpid();
}

/* isalive - failchk's question: is this process (thread) still there? */
static int
isalive(DB_ENV *env, pid_t pid, db_threadid_t tid, u_int32_t flags)
{
	(void)env;
	(void)tid;
	(void)flags;
	if (pid == cached_pid())
		return 1;	/* a thread of ours that died took us with it */
	if (kill(pid, 0) == 0 || errno == EPERM)
		return 1;
	return 0;
}

/* thread_id - who is calling, for failchk. */
static void
thread_id(DB_ENV *env, pid_t *pid, db_threadid_t *tid)
{
	(void)env;
	if (pid != NULL)
		*pid = cached_pid();
	if (tid != NULL)
		*tid = pthread_self();
}

/* errcall - Berkeley DB's own messages go to our log. */
static void
errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env;
	(void)pfx;
	log_warnx("spool: bdb: %s", msg);
}

/* msgcall - Berkeley DB's informational messages (failchk cleaning up
 * after a dead process) go to the log at info level. */
static void
msgcall(const DB_ENV *env, const char *msg)
{
	(void)env;
	log_info("spool: bdb: %s", msg);
}

/* region_mapped_end - how far this process maps the region file (dev,
 * ino): the end (offset + length) of its mappings in /proc/self/maps, or
 * 0 when it maps none (or /proc is absent). */
static off_t
region_mapped_end(dev_t dev, ino_t ino)
{
	char line[4600];
	FILE *f;
	off_t best = 0;

	if ((f = fopen("/proc/self/maps", "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long lo, hi, off, inode;
		unsigned int maj, min;
		char perms[8];

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu", &lo, &hi,
		    perms, &off, &maj, &min, &inode) != 7)
			continue;
		if ((ino_t)inode != ino || inode == 0 || hi <= lo ||
		    maj != major(dev) || min != minor(dev))
			continue;
		if ((off_t)(off + (hi - lo)) > best)
			best = (off_t)(off + (hi - lo));
	}
	(void)fclose(f);
	return best;
}

/* regions_reserve - give every shared region file of the environment
 * disk blocks for all that this process maps of it.  Berkeley DB 5.3
 * maps a region at its maximum size but creates the file smaller and
 * sparse, and grows it later: a page first written when the file system
 * is full (or beyond the end of the file) has no block behind it, and
 * the process dies of SIGBUS in the middle of a commit.
 * posix_fallocate() reserves the blocks (and sets the length) now, so a
 * full disk shows up here, at open, as ENOSPC, and later as a failed log
 * write (a clean temporary error) instead of a signal.  Cheap when the
 * blocks are already there: every process does it at every open. */
static int
regions_reserve(const char *dir)
{
	char path[4200];
	int i, err;

	for (i = 1; i < 100; i++) {
		struct stat st;
		off_t want;
		int fd;

		if (gms_snprintf(path, sizeof(path), "%s/__db.%03d", dir,
		    i) < 0)
			return EINVAL;
		if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0) {
			if (errno == ENOENT)
				continue;	/* not every number is used */
			return errno;
		}
		err = 0;
		if (fstat(fd, &st) < 0) {
			err = errno;
		} else {
			want = region_mapped_end(st.st_dev, st.st_ino);
			if (want < st.st_size)
				want = st.st_size;
			if (want > 0)
				err = posix_fallocate(fd, 0, want);
		}
		(void)close(fd);
		if (err == EOPNOTSUPP || err == EINVAL)
			err = 0;	/* a file system without it: as before */
		if (err != 0) {
			log_errorx("spool: reserve %s: %s", path, strerror(err));
			return err;
		}
	}
	return 0;
}

/* env_open - create and open the environment and the databases. */
static int
env_open(struct spool *sp)
{
	const struct spool_settings *s = &sp->set;
	DB_ENV *env = NULL;
	u_int32_t flags;
	int ret, i;

	if ((ret = db_env_create(&env, 0)) != 0)
		return spool_dberr(sp, ret, "db_env_create");
	env->set_errcall(env, errcall);
	env->set_msgcall(env, msgcall);
	(void)env->set_cachesize(env, (u_int32_t)(s->cache_size >> 30),
	    (u_int32_t)(s->cache_size & ((1U << 30) - 1)), 1);
	(void)env->set_lg_bsize(env, s->log_buffer_size);
	(void)env->set_lg_max(env, s->log_file_size);
	(void)env->set_lg_filemode(env, 0600);
	(void)env->set_lk_max_locks(env, s->max_locks);
	(void)env->set_lk_max_lockers(env, s->max_locks);
	(void)env->set_lk_max_objects(env, s->max_locks);
	(void)env->set_tx_max(env, s->max_threads);
	(void)env->set_thread_count(env, s->max_threads);
	(void)env->set_isalive(env, isalive);
	(void)env->set_thread_id(env, thread_id);
	(void)env->set_lk_detect(env, DB_LOCK_DEFAULT);
	(void)env->set_timeout(env, (db_timeout_t)s->lock_timeout_ms * 1000,
	    DB_SET_LOCK_TIMEOUT);
	(void)env->set_timeout(env, (db_timeout_t)s->txn_timeout_ms * 1000,
	    DB_SET_TXN_TIMEOUT);
	/* A timed-out lock request answers DB_LOCK_NOTGRANTED, not
	 * DB_LOCK_DEADLOCK, so that timeouts are not retried. */
	(void)env->set_flags(env, DB_TIME_NOTGRANTED, 1);
	/* Every commit flushes the log: the default, stated explicitly. */
	(void)env->set_flags(env, DB_TXN_NOSYNC, 0);
	(void)env->set_flags(env, DB_TXN_WRITE_NOSYNC, 0);

	/* No DB_FAILCHK here: with it, Berkeley DB 5.3 attaches and spins
	 * for ever when the dead process held the thread-tracking mutex.
	 * A process found dead by DB_REGISTER therefore means recovery (the
	 * others see DB_RUNRECOVERY and reopen); failchk runs in the living
	 * processes' maintenance threads. */
	flags = DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG |
	    DB_INIT_MPOOL | DB_THREAD | DB_REGISTER | DB_RECOVER;
	ret = env->open(env, sp->dir, flags, 0600);
	if (ret != 0) {
		int r = spool_dberr(sp, ret, "open environment");

		log_errorx("spool: cannot open the environment in %s: %s",
		    sp->dir, db_strerror(ret));
		(void)env->close(env, 0);
		return r == SPOOL_ENOENT ? SPOOL_ETEMP : r;
	}
	(void)env->set_flags(env, DB_AUTO_COMMIT, 0);
	sp->env = env;
	if ((ret = regions_reserve(sp->dir)) != 0) {
		sp->env = NULL;
		(void)env->close(env, 0);
		return spool_dberr(sp, ret, "reserve the region files");
	}
	{
		char reg[4200];

		/* Berkeley DB creates it 0640; nothing here is for others. */
		if (gms_snprintf(reg, sizeof(reg), "%s/__db.register",
		    sp->dir) == 0)
			(void)chmod(reg, 0600);
	}

	for (i = 0; i < DBI_COUNT; i++) {
		DB *db;
		DB_TXN *txn = NULL;
		DBTYPE type = DB_BTREE;

		if (i == DBI_BODIES)
			continue;	/* the shards, below */
		if ((ret = db_create(&db, env, 0)) != 0)
			goto fail;
		if (i == DBI_MBOX || i == DBI_UQUOTA) {
			type = DB_QUEUE;
			(void)db->set_re_len(db, i == DBI_MBOX ?
			    sizeof(struct mrec) : sizeof(struct urec));
			(void)db->set_pagesize(db, 4096);
		}
		if ((ret = env->txn_begin(env, NULL, &txn, 0)) != 0) {
			(void)db->close(db, 0);
			goto fail;
		}
		ret = db->open(db, txn, db_files[i], NULL, type,
		    DB_CREATE | DB_THREAD, 0600);
		if (ret != 0) {
			(void)txn->abort(txn);
			(void)db->close(db, 0);
			goto fail;
		}
		if ((ret = txn->commit(txn, 0)) != 0) {
			(void)db->close(db, 0);
			goto fail;
		}
		sp->db[i] = db;
	}
	for (i = 0; i < SPOOL_BODY_SHARDS; i++) {
		char name[32];
		DB *db;
		DB_TXN *txn = NULL;

		(void)gms_snprintf(name, sizeof(name), "bodies-%02d.db", i);
		if ((ret = db_create(&db, env, 0)) != 0)
			goto fail;
		(void)db->set_pagesize(db, 16384);
		if ((ret = env->txn_begin(env, NULL, &txn, 0)) != 0) {
			(void)db->close(db, 0);
			goto fail;
		}
		ret = db->open(db, txn, name, NULL, DB_BTREE,
		    DB_CREATE | DB_THREAD, 0600);
		if (ret != 0) {
			(void)txn->abort(txn);
			(void)db->close(db, 0);
			goto fail;
		}
		if ((ret = txn->commit(txn, 0)) != 0) {
			(void)db->close(db, 0);
			goto fail;
		}
		sp->bodies[i] = db;
	}
	return SPOOL_OK;
fail:
	log_errorx("spool: open database %d: %s", i, db_strerror(ret));
	{
		int r = spool_dberr(sp, ret, "open database");

		for (i = 0; i < DBI_COUNT; i++) {
			if (sp->db[i] != NULL)
				(void)sp->db[i]->close(sp->db[i], 0);
			sp->db[i] = NULL;
		}
		for (i = 0; i < SPOOL_BODY_SHARDS; i++) {
			if (sp->bodies[i] != NULL)
				(void)sp->bodies[i]->close(sp->bodies[i], 0);
			sp->bodies[i] = NULL;
		}
		(void)env->close(env, 0);
		sp->env = NULL;
		return r;
	}
}

/* env_close - close the databases and the environment handle. */
static void
env_close(struct spool *sp)
{
	int i;

	for (i = 0; i < DBI_COUNT; i++) {
		if (sp->db[i] != NULL)
			(void)sp->db[i]->close(sp->db[i], 0);
		sp->db[i] = NULL;
	}
	for (i = 0; i < SPOOL_BODY_SHARDS; i++) {
		if (sp->bodies[i] != NULL)
			(void)sp->bodies[i]->close(sp->bodies[i], 0);
		sp->bodies[i] = NULL;
	}
	if (sp->env != NULL)
		(void)sp->env->close(sp->env, 0);
	sp->env = NULL;
}

/* do_checkpoint - checkpoint, then remove the logs recovery no longer
 * needs (a hot backup copies the logs it needs itself). */
static int
do_checkpoint(struct spool *sp, bool force)
{
	char **list = NULL;
	int ret;

	ret = sp->env->txn_checkpoint(sp->env, 0, 0, force ? DB_FORCE : 0);
	if (ret != 0)
		return spool_dberr(sp, ret, "checkpoint");
	ret = sp->env->log_archive(sp->env, &list, DB_ARCH_REMOVE);
	if (ret != 0)
		return spool_dberr(sp, ret, "log_archive");
	free(list);
	return SPOOL_OK;
}

int
spool_checkpoint(struct spool *sp)
{
	int r;

	pthread_rwlock_rdlock(&sp->envlock);
	r = sp->env == NULL ? SPOOL_ERUNRECOVERY : do_checkpoint(sp, true);
	pthread_rwlock_unlock(&sp->envlock);
	return r;
}

/* recover_locked - close and reopen; envlock held exclusively. */
static int
recover_locked(struct spool *sp)
{
	int r = SPOOL_OK;

	if (sp->broken || sp->env == NULL) {
		struct spool_busy busy;

		log_warnx("spool: recovering the environment in %s", sp->dir);
		spool_busy_enter(sp, &busy);
		env_close(sp);
		r = env_open(sp);
		spool_busy_leave(sp, &busy);
		if (r == SPOOL_OK)
			__atomic_store_n(&sp->broken, false, __ATOMIC_SEQ_CST);
	}
	return r;
}

int
spool_recover(struct spool *sp)
{
	struct timespec ts;
	int r;

	/* Wait (bounded) for the calls in progress to leave. */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	if (pthread_rwlock_timedwrlock(&sp->envlock, &ts) != 0)
		return SPOOL_ERUNRECOVERY;
	r = recover_locked(sp);
	pthread_rwlock_unlock(&sp->envlock);
	return r;
}

/* maint_main - the maintenance thread: every 100 ms the lock detector
 * expires lock waits older than their timeout (a waiter sleeps on a
 * mutex and nobody else would wake it), every failchk_interval failchk
 * frees what dead processes held, every checkpoint_interval a checkpoint
 * and log removal; recovery after DB_RUNRECOVERY. */
static void *
maint_main(void *arg)
{
	struct spool *sp = arg;
	time_t last_ckp = time(NULL), last_fck = 0, broken_since = 0;
	struct spool_busy busy;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	log_set_session("spool");
	pthread_mutex_lock(&sp->maint_mtx);
	while (!sp->maint_stop) {
		struct timespec ts;
		time_t now;
		int ret;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		(void)pthread_cond_timedwait(&sp->maint_cv, &sp->maint_mtx, &ts);
		if (sp->maint_stop)
			break;
		pthread_mutex_unlock(&sp->maint_mtx);

		now = time(NULL);
		if (__atomic_load_n(&sp->broken, __ATOMIC_SEQ_CST)) {
			/* Never block here: this thread also runs the lock
			 * detector that frees the others. */
			if (pthread_rwlock_trywrlock(&sp->envlock) == 0) {
				(void)recover_locked(sp);
				pthread_rwlock_unlock(&sp->envlock);
				broken_since = 0;
			} else if (broken_since == 0) {
				broken_since = now;
			} else if (now - broken_since > 15) {
				/* Threads are stuck inside Berkeley DB on
				 * locks of a dead process in a panicked
				 * environment: only a new process gets out.
				 * The supervisor restarts us. */
				log_errorx("spool: the environment needs "
				    "recovery and threads are stuck in it; "
				    "exiting for a restart");
				_exit(75);
			}
			pthread_mutex_lock(&sp->maint_mtx);
			continue;
		}
		broken_since = 0;
		pthread_rwlock_rdlock(&sp->envlock);
		spool_busy_enter(sp, &busy);
		if (sp->env != NULL) {
			ret = sp->env->lock_detect(sp->env, 0, DB_LOCK_EXPIRE,
			    NULL);
			if (ret != 0)
				(void)spool_dberr(sp, ret, "lock_detect");
			if (now - last_fck >= (time_t)sp->set.failchk_interval) {
				ret = sp->env->failchk(sp->env, 0);
				if (ret != 0)
					(void)spool_dberr(sp, ret, "failchk");
				last_fck = now;
			}
			if (now - last_ckp >=
			    (time_t)sp->set.checkpoint_interval) {
				(void)do_checkpoint(sp, false);
				last_ckp = now;
			}
		}
		spool_busy_leave(sp, &busy);
		pthread_rwlock_unlock(&sp->envlock);

		pthread_mutex_lock(&sp->maint_mtx);
	}
	pthread_mutex_unlock(&sp->maint_mtx);
	return NULL;
}

void
spool_busy_enter(struct spool *sp, struct spool_busy *b)
{
	clock_gettime(CLOCK_MONOTONIC, &b->start);
	pthread_mutex_lock(&sp->busy_mtx);
	b->prev = NULL;
	b->next = sp->busy;
	if (sp->busy != NULL)
		sp->busy->prev = b;
	sp->busy = b;
	pthread_mutex_unlock(&sp->busy_mtx);
}

void
spool_busy_leave(struct spool *sp, struct spool_busy *b)
{
	pthread_mutex_lock(&sp->busy_mtx);
	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		sp->busy = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	pthread_mutex_unlock(&sp->busy_mtx);
}

/* watchdog_main - end the process when a Berkeley DB call is stuck.
 * Berkeley DB 5.3 blocks on process-shared mutexes that are not robust:
 * a process killed while holding one (SIGKILL, OOM) leaves every other
 * process that needs it blocked for good, and failchk cannot wake them.
 * Lock waits end by themselves (lock timeout), so a call that lasts much
 * longer than any timeout is such a hang; the only way out is a new
 * process, which the supervisor starts (and DB_REGISTER recovers). */
static void *
watchdog_main(void *arg)
{
	struct spool *sp = arg;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&sp->maint_mtx);
	while (!sp->watchdog_stop) {
		struct timespec ts, now;
		struct spool_busy *b;
		double oldest = 0;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		(void)pthread_cond_timedwait(&sp->maint_cv, &sp->maint_mtx, &ts);
		if (sp->watchdog_stop)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		pthread_mutex_lock(&sp->busy_mtx);
		for (b = sp->busy; b != NULL; b = b->next) {
			double age = (double)(now.tv_sec - b->start.tv_sec) +
			    (now.tv_nsec - b->start.tv_nsec) / 1e9;

			if (age > oldest)
				oldest = age;
		}
		pthread_mutex_unlock(&sp->busy_mtx);
		if (oldest > (double)sp->set.watchdog) {
			log_errorx("spool: a store call has been stuck for %.0f s "
			    "(a process died holding a Berkeley DB mutex); "
			    "exiting so that a new process recovers",
			    oldest);
			_exit(75);
		}
	}
	pthread_mutex_unlock(&sp->maint_mtx);
	return NULL;
}

/* make_dir - create dir (and missing parents) with mode 0700. */
static int
make_dir(const char *dir)
{
	char path[4096];
	size_t i;

	if (gms_strlcpy(path, dir, sizeof(path)) < 0)
		return -1;
	for (i = 1; path[i] != '\0'; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -1;
		path[i] = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	return chmod(path, 0700);
}

int
spool_open(const struct spool_settings *s, struct spool **sp_r)
{
	struct spool *sp;
	struct stat st;
	char path[4096];
	int r;

	*sp_r = NULL;
	(void)pthread_once(&spool_pid_once, pid_init);
	pid_refresh();
	if (s->dir == NULL || s->dir[0] == '\0') {
		log_errorx("spool: spool.dir is empty");
		return SPOOL_EINVAL;
	}
	if (stat(s->dir, &st) < 0) {
		if (errno != ENOENT || !s->create || make_dir(s->dir) < 0) {
			log_error("spool: %s", s->dir);
			return SPOOL_ETEMP;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		log_errorx("spool: %s is not a directory", s->dir);
		return SPOOL_EINVAL;
	} else if ((st.st_mode & 077) != 0) {
		log_warnx("spool: %s was readable by others; mode set to 0700",
		    s->dir);
		if (chmod(s->dir, 0700) < 0)
			log_warn("spool: chmod %s", s->dir);
	}
	if (gms_snprintf(path, sizeof(path), "%s/notify", s->dir) < 0)
		return SPOOL_EINVAL;
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		log_error("spool: %s", path);
		return SPOOL_ETEMP;
	}

	sp = xcalloc(1, sizeof(*sp));
	sp->set = *s;
	sp->dir = xstrdup(s->dir);
	sp->set.dir = sp->dir;
	sp->ino_fd = -1;
	sp->ino_stop[0] = sp->ino_stop[1] = -1;
	pthread_rwlock_init(&sp->envlock, NULL);
	pthread_mutex_init(&sp->maint_mtx, NULL);
	pthread_cond_init(&sp->maint_cv, NULL);
	pthread_mutex_init(&sp->watch_mtx, NULL);
	pthread_mutex_init(&sp->busy_mtx, NULL);

	/* The watchdog watches the open too: recovery or failchk at open
	 * can block on a mutex that a killed process held. */
	if (s->watchdog > 0) {
		if (pthread_create(&sp->watchdog, NULL, watchdog_main, sp) != 0)
			log_error("spool: pthread_create");
		else
			sp->watchdog_running = true;
	}
	{
		struct spool_busy busy;

		spool_busy_enter(sp, &busy);
		r = env_open(sp);
		spool_busy_leave(sp, &busy);
	}
	if (r != SPOOL_OK) {
		pthread_mutex_lock(&sp->maint_mtx);
		sp->maint_stop = true;
		sp->watchdog_stop = true;
		pthread_cond_broadcast(&sp->maint_cv);
		pthread_mutex_unlock(&sp->maint_mtx);
		if (sp->watchdog_running)
			pthread_join(sp->watchdog, NULL);
		free(sp->dir);
		free(sp);
		return r;
	}
	if (s->maintenance) {
		if (pthread_create(&sp->maint, NULL, maint_main, sp) != 0) {
			log_error("spool: pthread_create");
		} else {
			sp->maint_running = true;
		}
	}
	*sp_r = sp;
	return SPOOL_OK;
}

int
spool_open_conf(const struct conf *c, struct spool **sp_r)
{
	struct spool_settings s;

	spool_settings_from_conf(&s, c);
	return spool_open(&s, sp_r);
}

void
spool_close(struct spool **spp)
{
	struct spool *sp = *spp;

	if (sp == NULL)
		return;
	*spp = NULL;
	pthread_mutex_lock(&sp->maint_mtx);
	sp->maint_stop = true;
	pthread_cond_broadcast(&sp->maint_cv);
	pthread_mutex_unlock(&sp->maint_mtx);
	/* The watchdog keeps watching until the environment is closed: the
	 * maintenance thread being joined, and the close itself, can block
	 * on a mutex that a killed process held, like any other call. */
	if (sp->maint_running)
		pthread_join(sp->maint, NULL);
	spool_watch_shutdown(sp);
	pthread_rwlock_wrlock(&sp->envlock);
	{
		struct spool_busy busy;

		spool_busy_enter(sp, &busy);
		env_close(sp);
		spool_busy_leave(sp, &busy);
	}
	pthread_rwlock_unlock(&sp->envlock);
	pthread_mutex_lock(&sp->maint_mtx);
	sp->watchdog_stop = true;
	pthread_cond_broadcast(&sp->maint_cv);
	pthread_mutex_unlock(&sp->maint_mtx);
	if (sp->watchdog_running)
		pthread_join(sp->watchdog, NULL);
	pthread_rwlock_destroy(&sp->envlock);
	pthread_mutex_destroy(&sp->maint_mtx);
	pthread_cond_destroy(&sp->maint_cv);
	pthread_mutex_destroy(&sp->watch_mtx);
	pthread_mutex_destroy(&sp->busy_mtx);
	free(sp->dir);
	free(sp);
}

/* ------------------------------------------------------------------ */
/* The transaction runner. */

int
spool_txn(struct spool *sp, unsigned flags, spool_txn_fn fn, void *arg)
{
	struct spool_busy busy;
	uint32_t attempt;
	int r = SPOOL_ETEMP;

	pthread_rwlock_rdlock(&sp->envlock);
	if (!(flags & TXN_LONG))
		spool_busy_enter(sp, &busy);
	for (attempt = 0; attempt <= sp->set.deadlock_retries; attempt++) {
		DB_TXN *txn = NULL;
		int ret;

		if (sp->env == NULL ||
		    __atomic_load_n(&sp->broken, __ATOMIC_SEQ_CST)) {
			r = SPOOL_ERUNRECOVERY;
			break;
		}
		ret = sp->env->txn_begin(sp->env, NULL, &txn,
		    (flags & TXN_READ) ? DB_READ_COMMITTED : 0);
		if (ret != 0) {
			r = spool_dberr(sp, ret, "txn_begin");
			break;
		}
		r = fn(sp, txn, arg);
		if (r != SPOOL_OK) {
			ret = txn->abort(txn);
			if (ret != 0)
				(void)spool_dberr(sp, ret, "txn_abort");
			if (r == SPOOL_EDEADLOCK) {
				/* Back off a little, more each time. */
				struct timespec ts = { 0, (long)(attempt + 1) *
				    (200000 + (rand() % 800000)) };
				nanosleep(&ts, NULL);
				continue;
			}
			break;
		}
		ret = txn->commit(txn, (flags & TXN_LAZY) ?
		    DB_TXN_NOSYNC : 0);
		if (ret != 0)
			r = spool_dberr(sp, ret, "txn_commit");
		if (r == SPOOL_EDEADLOCK)
			continue;
		break;
	}
	if (!(flags & TXN_LONG))
		spool_busy_leave(sp, &busy);
	pthread_rwlock_unlock(&sp->envlock);
	if (r == SPOOL_EDEADLOCK)
		log_warnx("spool: deadlock retries exhausted");
	return r;
}
