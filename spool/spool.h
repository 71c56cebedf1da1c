/*
 * spool.h - the GMS mailstore and outbound queue (spool/), the one public
 * header of the folder.
 *
 * gms-smtpd, gms-imapd and gmsadm share one transactional Berkeley DB 5.3
 * environment (the directory named by spool.dir).  Every process opens it
 * with spool_open(); the handle is shared by all threads of the process.
 * Everything that changes the store is one transaction that has reached
 * the disk when the call returns success: an SMTP 250 or an IMAP "OK" may
 * follow it directly.  Only spool/ includes <db.h>.
 *
 * What lives here:
 *  - per user a set of mailboxes (INBOX, Drafts, Sent, Trash, Junk,
 *    Archive, and the user's own), each with UIDVALIDITY, UIDNEXT,
 *    HIGHESTMODSEQ and counters;
 *  - the message index keyed by (mailbox id, UID): flags, keywords,
 *    internal date, size, modseq and the ENVELOPE / BODYSTRUCTURE / BODY
 *    strings and the MIME part table, computed once by the MIME parser
 *    (spool_mime.c) when the message is stored;
 *  - message bodies, stored once and reference-counted (one circular to
 *    300 institutions is written once), in chunks;
 *  - a per-mailbox change log keyed by modseq (flag changes, expunges) for
 *    CONDSTORE / QRESYNC / IDLE;
 *  - quotas, subscriptions and the outbound queue;
 *  - change notification across processes (spool_watch_*).
 *
 * Conventions.  Functions that can fail return an int: SPOOL_OK (0) on
 * success or a negative enum spool_err value.  spool_err_temporary() tells
 * temporary failures (SMTP 4xx, IMAP NO [UNAVAILABLE]) from permanent ones.
 * Temporary errors never leave anything half-written: the transaction was
 * aborted.  Deadlocks are retried inside the spool a bounded number of times
 * (spool.deadlock_retries); a lock held too long (a process stopped with
 * SIGSTOP, say) yields SPOOL_ETIMEOUT after spool.lock_timeout_ms, never a
 * hang.  Output structures are filled by the spool and freed with the
 * matching *_free() function; strings inside them are owned by them.
 * Input strings are borrowed for the duration of the call.
 *
 * User names are mailbox addresses, compared as given (the caller folds
 * case; the directory does).  Mailbox names are UTF-8 (gms-imapd converts
 * modified UTF-7 for IMAP4rev1 clients) with SPOOL_HIER_SEP as hierarchy
 * separator; "INBOX" is matched case-insensitively and stored as "INBOX".
 *
 * Threads: a struct spool is thread-safe.  A struct spool_view, a struct
 * spool_body and a struct spool_watch belong to one thread at a time (one
 * session).  Do not fork with an open spool; open it in the child.
 */
#ifndef GMS_SPOOL_H
#define GMS_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "gms.h"

/* ------------------------------------------------------------------ */
/* Errors. */

enum spool_err {
	SPOOL_OK = 0,

	/* Permanent: the request itself cannot succeed. */
	SPOOL_ENOENT = -1,		/* no such user, mailbox, message or
					   queue entry */
	SPOOL_EEXIST = -2,		/* the mailbox (or user) exists */
	SPOOL_EQUOTA_BYTES = -3,	/* storage quota would be exceeded */
	SPOOL_EQUOTA_MESSAGES = -4,	/* message-count quota would be
					   exceeded */
	SPOOL_ETOOBIG = -5,		/* message larger than spool.append_limit */
	SPOOL_EINVAL = -6,		/* bad name or argument */
	SPOOL_EPERM = -7,		/* not allowed (delete INBOX, rename a
					   mailbox into itself, ...) */
	SPOOL_EHASCHILDREN = -8,	/* \Noselect mailbox with children */
	SPOOL_ENOSELECT = -9,		/* the mailbox is \Noselect */
	SPOOL_ELIMIT = -10,		/* a structural limit (keywords per
					   mailbox, mailboxes per user) */
	SPOOL_EEXPUNGED = -11,		/* the message was expunged meanwhile */

	/* Temporary: retry later; nothing was changed. */
	SPOOL_EDEADLOCK = -100,		/* deadlock, retries exhausted */
	SPOOL_ETIMEOUT = -101,		/* lock or transaction timeout */
	SPOOL_ERUNRECOVERY = -102,	/* the environment needs recovery:
					   see spool_recover() */
	SPOOL_ENOSPC = -103,		/* disk full */
	SPOOL_EIO = -104,		/* write or fsync failed */
	SPOOL_ETEMP = -105,		/* any other database failure */
};

/* True for the temporary errors (<= SPOOL_EDEADLOCK). */
bool spool_err_temporary(int err);
/* A short English text for err ("no such mailbox"); never NULL, static. */
const char *spool_strerror(int err);
/* The enum's name ("SPOOL_ENOENT", or "unknown (N)" in a static buffer
 * per thread) for logs. */
const char *spool_err_name(int err);

/* ------------------------------------------------------------------ */
/* Configuration and the environment. */

/* The keys of the spool module (spool.*), registered with conf_register():
 *  spool.dir                the environment directory (mode 0700)
 *  spool.cache_size         Berkeley DB cache (bytes)
 *  spool.log_buffer_size    in-memory log buffer before a flush (bytes)
 *  spool.log_file_size      size of one log file (bytes)
 *  spool.lock_timeout_ms    a lock wait longer than this fails (temporary)
 *  spool.txn_timeout_ms     a transaction older than this is aborted
 *  spool.deadlock_retries   retries of a transaction that deadlocked
 *  spool.checkpoint_interval seconds between checkpoints (and log removal)
 *  spool.failchk_interval   seconds between failchk runs (dead processes)
 *  spool.max_threads        threads of all processes together (failchk)
 *  spool.max_locks          locks, lockers and lock objects
 *  spool.mime_max_depth     MIME nesting depth parsed (deeper: opaque)
 *  spool.mime_max_parts     MIME parts parsed per message
 *  spool.append_limit       largest message stored (0: no limit)
 *  spool.quota_bytes        default storage quota of a new user (0: none)
 *  spool.quota_messages     default message quota of a new user (0: none)
 *  spool.watchdog           a Berkeley DB call running longer than this
 *                           (seconds) means the process is stuck on a
 *                           mutex a killed process held: it exits (75)
 *                           so that its supervisor restarts it
 */
extern const struct conf_def spool_conf_table[];

/* The settings the spool runs with, from gms.conf or set by a test. */
struct spool_settings {
	const char	*dir;			/* borrowed during spool_open */
	uint64_t	 cache_size;
	uint32_t	 log_buffer_size;
	uint32_t	 log_file_size;
	uint32_t	 lock_timeout_ms;
	uint32_t	 txn_timeout_ms;
	uint32_t	 deadlock_retries;
	uint32_t	 checkpoint_interval;	/* seconds */
	uint32_t	 failchk_interval;	/* seconds */
	uint32_t	 max_threads;
	uint32_t	 max_locks;
	uint32_t	 mime_max_depth;
	uint32_t	 mime_max_parts;
	uint64_t	 append_limit;
	uint64_t	 quota_bytes;
	uint64_t	 quota_messages;
	uint32_t	 watchdog;		/* seconds; 0: no watchdog */
	/* Run the maintenance thread (failchk, checkpoint, log removal,
	 * automatic recovery) in this process.  Default true. */
	bool		 maintenance;
	/* Create the directory if it is missing.  Default true. */
	bool		 create;
};

/* Fill s with the built-in defaults (dir is LOCALSTATEDIR "/gms/spool"). */
void spool_settings_default(struct spool_settings *s);
/* Fill s from a loaded configuration (spool_conf_table must have been
 * registered).  s->dir is borrowed from c. */
void spool_settings_from_conf(struct spool_settings *s, const struct conf *c);

struct spool;	/* opaque; one per process, thread-safe */

/* Open (and create when needed) the environment in s->dir: DB_INIT_TXN |
 * DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL | DB_THREAD | DB_REGISTER |
 * DB_RECOVER (recovery runs only when DB_REGISTER finds that a process
 * died inside the environment; the others then see SPOOL_ERUNRECOVERY
 * and reopen by themselves), deadlock detection on every conflict, lock
 * and transaction timeouts.  Threads started: maintenance (lock timeouts
 * every 100 ms, failchk every spool.failchk_interval, checkpoint and log
 * removal, automatic recovery) and the watchdog (a call stuck longer
 * than spool.watchdog seconds, on a mutex a killed process held, ends
 * the process with exit status 75 for its supervisor to restart it:
 * Berkeley DB 5.3 mutexes cannot be taken back from a dead process).
 * The directory is created mode 0700 and the files 0600.  One open spool
 * per process and environment (DB_REGISTER's rule).  Returns SPOOL_OK
 * and *sp_r (free with spool_close), or an error with a log line. */
int spool_open(const struct spool_settings *s, struct spool **sp_r);
/* spool_open with spool_settings_from_conf(c). */
int spool_open_conf(const struct conf *c, struct spool **sp_r);
/* Stop the maintenance and notification threads, close the databases and
 * the environment.  Every view, body and watch must be closed first.
 * Sets *spp to NULL; NULL is allowed. */
void spool_close(struct spool **spp);
/* After SPOOL_ERUNRECOVERY: close and reopen the environment in place
 * (with recovery), waiting for the calls in progress in other threads.
 * Views, bodies and watches stay valid (they hold no database handles).
 * The maintenance thread does this by itself; calling it again is
 * harmless.  Returns SPOOL_OK or an error. */
int spool_recover(struct spool *sp);
/* Force a checkpoint now and remove the log files that are no longer
 * needed for recovery.  Returns SPOOL_OK or an error. */
int spool_checkpoint(struct spool *sp);

/* ------------------------------------------------------------------ */
/* Users and their mailbox sets. */

#define SPOOL_HIER_SEP		'/'
#define SPOOL_USER_MAX		320	/* bytes of a user name */
#define SPOOL_MAILBOX_MAX	1000	/* bytes of a mailbox name */
#define SPOOL_MAILBOXES_MAX	10000	/* mailboxes per user */
#define SPOOL_KEYWORDS_MAX	64	/* keywords per mailbox */
#define SPOOL_KEYWORD_MAX	100	/* bytes of a keyword */

/* Special uses (RFC 6154), as bits. */
#define SPOOL_USE_INBOX		0x01	/* not an RFC 6154 attribute */
#define SPOOL_USE_DRAFTS	0x02
#define SPOOL_USE_SENT		0x04
#define SPOOL_USE_TRASH		0x08
#define SPOOL_USE_JUNK		0x10
#define SPOOL_USE_ARCHIVE	0x20
#define SPOOL_USE_FLAGGED	0x40	/* \Flagged: never created by the spool */

/* "\Drafts" for one bit (NULL for SPOOL_USE_INBOX and unknown bits). */
const char *spool_use_name(uint32_t use);

/* Create the user's mailbox set: INBOX, Drafts, Sent, Trash, Junk and
 * Archive with their special uses, all subscribed, and the quota from
 * spool.quota_bytes / spool.quota_messages.  Returns SPOOL_OK, or
 * SPOOL_EEXIST when the user exists (nothing changed), SPOOL_EINVAL for a
 * bad name, or a temporary error.  spool_deliver() does this by itself
 * for a recipient seen for the first time. */
int spool_user_create(struct spool *sp, const char *user);
/* Returns 1 when the user has a mailbox set, 0 when not, or an error. */
int spool_user_exists(struct spool *sp, const char *user);
/* Delete every mailbox, message reference, subscription and the quota of
 * the user.  Returns SPOOL_OK, SPOOL_ENOENT or a temporary error. */
int spool_user_delete(struct spool *sp, const char *user);

/* A list of strings (owned; free with spool_strlist_free). */
struct spool_strlist {
	char	**v;
	size_t	  n;
};
void spool_strlist_free(struct spool_strlist *l);

/* Every user with a mailbox set, sorted.  Returns SPOOL_OK or an error. */
int spool_user_list(struct spool *sp, struct spool_strlist *l_r);

/* ------------------------------------------------------------------ */
/* Mailboxes. */

/* Mailbox attributes (as reported by list/status). */
#define SPOOL_MBOX_NOSELECT	0x01	/* a placeholder for its children */
#define SPOOL_MBOX_HASCHILDREN	0x02
#define SPOOL_MBOX_SUBSCRIBED	0x04

/* The status of one mailbox. */
struct spool_mbox {
	char		*name;		/* owned (in lists) or NULL */
	uint64_t	 id;		/* unique in the environment, never reused */
	uint32_t	 uidvalidity;
	uint32_t	 uidnext;
	uint64_t	 highestmodseq;
	uint32_t	 messages;
	uint32_t	 unseen;	/* messages without \Seen */
	uint32_t	 deleted;	/* messages with \Deleted */
	uint32_t	 recent;	/* only from spool_mailbox_status() and
					   views; 0 in lists */
	uint64_t	 size;		/* bytes of all messages */
	uint32_t	 special_use;	/* SPOOL_USE_* bits */
	uint32_t	 attrs;		/* SPOOL_MBOX_* */
};

/* An array of mailboxes (owned; free with spool_mbox_list_free). */
struct spool_mbox_list {
	struct spool_mbox	*v;
	size_t			 n;
};
void spool_mbox_list_free(struct spool_mbox_list *l);

/* Create a mailbox with the given special uses (0 for none).  Missing
 * parents ("a" for "a/b") are created as ordinary mailboxes.  A new
 * mailbox always gets a UIDVALIDITY that no earlier mailbox of that name
 * had (a strictly increasing counter of the environment).  Returns
 * SPOOL_OK, SPOOL_EEXIST, SPOOL_EINVAL (empty name, empty level, a name
 * ending in the separator, too long), SPOOL_ENOENT (no such user),
 * SPOOL_ELIMIT or a temporary error. */
int spool_mailbox_create(struct spool *sp, const char *user,
    const char *name, uint32_t special_use);
/* Delete a mailbox and expunge its messages.  A mailbox with children
 * becomes \Noselect instead (its messages are expunged); deleting a
 * \Noselect mailbox that still has children is SPOOL_EHASCHILDREN.
 * INBOX cannot be deleted (SPOOL_EPERM).  Returns SPOOL_OK, SPOOL_ENOENT
 * or a temporary error.  Sessions that have it selected see
 * SPOOL_ENOENT from spool_view_refresh(). */
int spool_mailbox_delete(struct spool *sp, const char *user, const char *name);
/* Rename a mailbox and all its children ("a" -> "b" also renames "a/x"
 * to "b/x").  Ids, UIDVALIDITY and messages move with the names.
 * Renaming INBOX moves all its messages into a new mailbox named to and
 * leaves INBOX empty (RFC 3501).  Missing parents of to are created.
 * Returns SPOOL_OK, SPOOL_ENOENT (from missing), SPOOL_EEXIST (to
 * exists), SPOOL_EPERM (to inside from), SPOOL_EINVAL or a temporary
 * error. */
int spool_mailbox_rename(struct spool *sp, const char *user,
    const char *from, const char *to);
/* Every mailbox of the user, sorted by name (INBOX first), with counters
 * (recent is 0) and attributes.  Pattern matching is the caller's.
 * Returns SPOOL_OK, SPOOL_ENOENT (no such user) or an error. */
int spool_mailbox_list(struct spool *sp, const char *user,
    struct spool_mbox_list *l_r);
/* The status of one mailbox, recent included.  st_r->name is NULL.
 * Returns SPOOL_OK, SPOOL_ENOENT or an error. */
int spool_mailbox_status(struct spool *sp, const char *user,
    const char *name, struct spool_mbox *st_r);
/* The name of the user's mailbox with special use `use` (one bit):
 * returns SPOOL_OK and a string the caller frees, or SPOOL_ENOENT. */
int spool_mailbox_by_use(struct spool *sp, const char *user, uint32_t use,
    char **name_r);

/* For imports that keep the UIDs of another server: give the user's
 * mailbox name the UIDVALIDITY uidvalidity and the UIDNEXT uidnext
 * (both > 0, uidnext < UINT32_MAX), then append with
 * spool_append.uid set.  A new UIDVALIDITY needs a mailbox that holds no
 * message; on a mailbox with messages only UIDNEXT may be raised (same
 * uidvalidity, uidnext >= the current UIDNEXT: the other server's UIDNEXT
 * after its last messages were expunged).  On an empty mailbox the
 * messages appended from uidnext on count as \Recent.  HIGHESTMODSEQ
 * grows; the environment's UIDVALIDITY counter is raised to at least
 * uidvalidity so that mailboxes created later still get new values.
 * Keeping the current UIDVALIDITY with a lower UIDNEXT is refused (UIDs
 * must not be reused).  Returns SPOOL_OK, SPOOL_ENOENT (no such user or
 * mailbox), SPOOL_ENOSELECT, SPOOL_EPERM (the mailbox has messages and
 * the request is not a raise of UIDNEXT), SPOOL_EINVAL (zero values, or a
 * lower UIDNEXT of an empty mailbox) or a temporary error. */
int spool_mailbox_set_uids(struct spool *sp, const char *user,
    const char *name, uint32_t uidvalidity, uint32_t uidnext);

/* Subscriptions (independent of existence, as RFC 3501 wants).
 * Return SPOOL_OK, SPOOL_EINVAL or an error; unsubscribing a name that
 * is not subscribed is SPOOL_ENOENT. */
int spool_subscribe(struct spool *sp, const char *user, const char *name);
int spool_unsubscribe(struct spool *sp, const char *user, const char *name);
/* The subscribed names, sorted.  Returns SPOOL_OK or an error. */
int spool_subscriptions(struct spool *sp, const char *user,
    struct spool_strlist *l_r);

/* ------------------------------------------------------------------ */
/* Quota: per user, bytes and messages over all mailboxes.  A limit of 0
 * means unlimited.  Enforced by spool_deliver (per recipient),
 * spool_append and spool_copy: a message fits when used + its size <=
 * limit (the exact boundary fits); expunge frees. */
struct spool_quota {
	uint64_t	bytes_limit;
	uint64_t	bytes_used;
	uint64_t	messages_limit;
	uint64_t	messages_used;
};

/* Returns SPOOL_OK, SPOOL_ENOENT (no such user) or an error. */
int spool_quota_get(struct spool *sp, const char *user, struct spool_quota *q_r);
/* Set the limits (the usage is the store's).  Lowering a limit below the
 * usage is allowed; further deliveries fail.  Returns SPOOL_OK,
 * SPOOL_ENOENT or an error. */
int spool_quota_set(struct spool *sp, const char *user,
    uint64_t bytes_limit, uint64_t messages_limit);
/* Would a message of size bytes fit now?  For RCPT TO and the IMAP
 * APPEND pre-check; the final word is spool_deliver's.  Returns SPOOL_OK,
 * SPOOL_EQUOTA_BYTES, SPOOL_EQUOTA_MESSAGES, SPOOL_ETOOBIG, SPOOL_ENOENT
 * or an error.  A user without a mailbox set fits (nothing stored yet,
 * default quota applies at creation). */
int spool_quota_check(struct spool *sp, const char *user, uint64_t size);

/* ------------------------------------------------------------------ */
/* Messages: flags and the MIME cache. */

/* System flags (stored). */
#define SPOOL_F_SEEN		0x01
#define SPOOL_F_ANSWERED	0x02
#define SPOOL_F_FLAGGED		0x04
#define SPOOL_F_DELETED		0x08
#define SPOOL_F_DRAFT		0x10
#define SPOOL_F_STORED_MASK	0x1f
/* Session flag, set only in view rows (never stored). */
#define SPOOL_F_RECENT		0x8000

/* One entry of the MIME part table.  The table is in pre-order: entry 0
 * is the whole message.  A multipart entity's children are its body
 * parts; a message/rfc822 (or message/global) entity has exactly one
 * child, the encapsulated message; other entities are leaves.  Offsets
 * are bytes from the start of the stored message. */
#define SPOOL_PART_LEAF		0
#define SPOOL_PART_MULTIPART	1
#define SPOOL_PART_MESSAGE	2	/* message/rfc822 or message/global */
struct spool_part {
	uint64_t	offset;		/* start of the entity's header */
	uint64_t	header_size;	/* header, blank line included */
	uint64_t	body_size;	/* the body after the blank line */
	uint32_t	parent;		/* index of the parent; UINT32_MAX for 0 */
	uint32_t	nchildren;
	uint32_t	lines;		/* lines of the body */
	uint16_t	kind;		/* SPOOL_PART_* */
	uint16_t	encoding;	/* SPOOL_ENC_* of the body */
};

#define SPOOL_ENC_7BIT		0
#define SPOOL_ENC_8BIT		1
#define SPOOL_ENC_BINARY	2
#define SPOOL_ENC_BASE64	3
#define SPOOL_ENC_QP		4
#define SPOOL_ENC_OTHER		5

/* What the MIME parser computed for one message (owned strings; free
 * with spool_cache_free). */
struct spool_cache {
	char			*envelope;	/* "(date subject from ...)" */
	char			*bodystructure;	/* with extension data */
	char			*body;		/* BODY: no extension data */
	struct spool_part	*parts;
	size_t			 nparts;
	bool			 truncated;	/* depth or part limit hit */
};
void spool_cache_free(struct spool_cache *c);

/* Parse a message (headers folded, RFC 2047 encoded words, RFC 2231
 * parameters, nested multiparts, message/rfc822, transfer encodings) and
 * compute the IMAP ENVELOPE, BODYSTRUCTURE and BODY strings exactly as
 * RFC 3501 / RFC 9051 define them, and the part table.  Nesting deeper
 * than max_depth or parts beyond max_parts are treated as opaque leaves
 * (c_r->truncated).  Never fails on broken input: best effort (a missing
 * closing boundary ends the part at the end of the data, a header without
 * a blank line is all header, bytes >= 0x80 are kept, NUL bytes are kept
 * in offsets but never in strings).  Strings are quoted, or literals
 * {N}\r\n... when they hold CR, LF, '"' needing more than quoting, or
 * 8-bit bytes.  Used at delivery; public for the tests and fuzzing. */
void spool_mime_parse(const void *data, size_t len, uint32_t max_depth,
    uint32_t max_parts, struct spool_cache *c_r);

/* Decode the RFC 2047 encoded words of an unfolded header value into
 * UTF-8 (charsets converted with iconv; whitespace between adjacent
 * encoded words dropped; an encoded word that cannot be decoded is kept
 * as it is; other bytes are copied).  For SEARCH and for logs.  Appends
 * to out; returns SPOOL_OK or SPOOL_ELIMIT when out's max is reached. */
int spool_mime_decode_header(const char *s, size_t len, struct buf *out);

/* Find an IMAP section in a part table.  path holds the section numbers
 * ("2.1" -> {2, 1}, depth 2; depth 0 is the whole message).  what:
 *   SPOOL_SECT_ALL     the whole entity addressed by path (BODY[] for
 *                      depth 0; for a part, its body: BODY[2.1])
 *   SPOOL_SECT_HEADER  the header of the message (depth 0) or of the
 *                      message/rfc822 part addressed (BODY[2.HEADER])
 *   SPOOL_SECT_TEXT    the body of that message (BODY[TEXT], [2.TEXT])
 *   SPOOL_SECT_MIME    the MIME header of the part (BODY[2.1.MIME];
 *                      depth must be >= 1)
 * Follows RFC 3501 6.4.5: in a non-multipart message or message/rfc822
 * part, part 1 is its body.  Returns SPOOL_OK with the byte range, or
 * SPOOL_ENOENT when the section does not exist (IMAP then returns an
 * empty string) or SPOOL_EINVAL (HEADER/TEXT on a part that is not a
 * message). */
#define SPOOL_SECT_ALL		0
#define SPOOL_SECT_HEADER	1
#define SPOOL_SECT_TEXT		2
#define SPOOL_SECT_MIME		3
int spool_section_find(const struct spool_part *parts, size_t nparts,
    const uint32_t *path, size_t depth, int what,
    uint64_t *offset_r, uint64_t *size_r);

/* ------------------------------------------------------------------ */
/* UID lists (ascending, owned; free with spool_uidlist_free). */
struct spool_uidlist {
	uint32_t	*v;
	size_t		 n;
	size_t		 cap;
};
void spool_uidlist_free(struct spool_uidlist *l);
/* Append one uid (lists are built by the spool; public for callers that
 * build input arrays the same way). */
void spool_uidlist_add(struct spool_uidlist *l, uint32_t uid);

/* ------------------------------------------------------------------ */
/* Views: a selected mailbox as one IMAP session sees it. */

/* One message row of a view, in UID order; sequence number = index + 1. */
struct spool_msg {
	uint32_t	uid;
	uint32_t	flags;		/* SPOOL_F_*, SPOOL_F_RECENT included */
	uint64_t	keywords;	/* bit i = spool_view_keywords()[i] */
	uint64_t	modseq;
	int64_t		internal_date;	/* seconds since the epoch (UTC) */
	uint32_t	size;		/* RFC822.SIZE: bytes as stored */
	int16_t		tz_offset;	/* internal date's zone, minutes east */
};

struct spool_view;	/* opaque; one session (thread) at a time */

#define SPOOL_VIEW_READONLY	0x01	/* EXAMINE: store/expunge refused */
#define SPOOL_VIEW_CLAIM_RECENT	0x02	/* this session takes \Recent: later
					   views no longer see these as recent */

/* Open a view of the user's mailbox: reads the rows of every message (in
 * one read transaction, so they are consistent) and the mailbox status.
 * Returns SPOOL_OK and *v_r (free with spool_view_close), SPOOL_ENOENT,
 * SPOOL_ENOSELECT or an error. */
int spool_view_open(struct spool *sp, const char *user, const char *name,
    unsigned flags, struct spool_view **v_r);
void spool_view_close(struct spool_view **vp);

/* The rows (borrowed until the next spool_view_refresh/store/close). */
size_t spool_view_count(const struct spool_view *v);
const struct spool_msg *spool_view_msg(const struct spool_view *v, size_t idx);
/* Index of uid in the view (binary search), or -1. */
ssize_t spool_view_find(const struct spool_view *v, uint32_t uid);
/* The status as of the last open/refresh (name is NULL; borrowed). */
const struct spool_mbox *spool_view_status(const struct spool_view *v);
/* The mailbox's keyword names, bit order (borrowed until the next
 * refresh/store); *n_r <= SPOOL_KEYWORDS_MAX. */
const char *const *spool_view_keywords(const struct spool_view *v, size_t *n_r);
/* The mailbox id and the user of the view (borrowed). */
uint64_t spool_view_id(const struct spool_view *v);
const char *spool_view_user(const struct spool_view *v);

/* What changed since the previous open/refresh, as spool_view_refresh
 * reports it (owned arrays; free with spool_refresh_free). */
struct spool_refresh {
	/* Expunged messages, as sequence numbers of the view before the
	 * refresh, in descending order (each EXPUNGE response can be sent in
	 * this order as listed), with their UIDs (VANISHED). */
	uint32_t	*expunged_seq;
	uint32_t	*expunged_uid;
	size_t		 nexpunged;
	/* UIDs still in the view whose flags or keywords changed (by another
	 * session or process), ascending: send FETCH (FLAGS [MODSEQ]). */
	struct spool_uidlist changed;
	uint32_t	 exists;	/* messages now (EXISTS when it grew) */
	uint32_t	 recent;	/* \Recent messages now */
	bool		 keywords_changed;	/* send FLAGS again */
};
void spool_refresh_free(struct spool_refresh *r);

/* Bring the view up to date: drops expunged rows, adds new messages,
 * updates flags from the change log (cheap: reads only what changed
 * since the view's modseq).  Returns SPOOL_OK, SPOOL_ENOENT when the
 * mailbox was deleted or replaced (UIDVALIDITY changed: the session must
 * give up the selection) or an error (the view is then unchanged). */
int spool_view_refresh(struct spool_view *v, struct spool_refresh *r_r);

/* Read the cached ENVELOPE, BODYSTRUCTURE, BODY and part table of one
 * message of the view.  Returns SPOOL_OK, SPOOL_EEXPUNGED (gone meanwhile)
 * or an error.  Free c_r with spool_cache_free. */
int spool_view_cache(struct spool_view *v, uint32_t uid, struct spool_cache *c_r);
/* The same for n messages in one read transaction, the index read
 * forward with one cursor (FETCH ENVELOPE / BODYSTRUCTURE over many
 * messages: one transaction per batch instead of one per message).
 * uids: best ascending (others work, more slowly).  c_r and err_r have n
 * entries: err_r[i] is SPOOL_OK (c_r[i] filled) or SPOOL_EEXPUNGED (gone
 * meanwhile; c_r[i] empty).  Returns SPOOL_OK, or an error with every
 * err_r[i] set to it and every c_r[i] empty.  Free each c_r[i] with
 * spool_cache_free. */
int spool_view_cache_many(struct spool_view *v, const uint32_t *uids,
    size_t n, struct spool_cache *c_r, int *err_r);

/* Store flags.  mode: SPOOL_STORE_SET replaces, _ADD adds, _REMOVE removes
 * flags (SPOOL_F_STORED_MASK bits) and keywords (names; a new name is added
 * to the mailbox's keyword list, SPOOL_ELIMIT when it is full).  uids:
 * ascending; UIDs not in the mailbox are skipped.  unchangedsince: 0 for
 * none, else a message whose modseq is greater is not changed and its uid
 * goes to failed_r (RFC 7162 MODIFIED).  Each message that actually changes
 * gets a new modseq (one per message, all above the old HIGHESTMODSEQ),
 * and its view row is updated in place; changed_r gets its uid.  One
 * transaction.  failed_r and changed_r may be NULL.  Returns SPOOL_OK,
 * SPOOL_EPERM (read-only view), SPOOL_ELIMIT, SPOOL_EINVAL or an error. */
#define SPOOL_STORE_SET		0
#define SPOOL_STORE_ADD		1
#define SPOOL_STORE_REMOVE	2
int spool_store(struct spool_view *v, const uint32_t *uids, size_t nuids,
    int mode, uint32_t flags, const char *const *keywords, size_t nkeywords,
    uint64_t unchangedsince, struct spool_uidlist *changed_r,
    struct spool_uidlist *failed_r);

/* The answer of a copy or move (UIDPLUS COPYUID), owned arrays. */
struct spool_copy_result {
	uint32_t		dest_uidvalidity;
	struct spool_uidlist	src;	/* source uids copied, ascending */
	struct spool_uidlist	dst;	/* their new uids, same order */
};
void spool_copy_result_free(struct spool_copy_result *r);

/* Copy (or move) the messages uids of the view into the user's mailbox
 * dest (may be the same mailbox), in one transaction: index records with
 * the same flags, keywords and internal date, the body shared (its
 * reference count raised), quota checked.  move also expunges them from
 * the source in the same transaction (the view learns it at the next
 * refresh, which reports them as expunged).  UIDs no longer present are
 * skipped.  Returns SPOOL_OK, SPOOL_ENOENT (no dest), SPOOL_ENOSELECT,
 * SPOOL_EQUOTA_*, SPOOL_EPERM (move from a read-only view) or an error. */
int spool_copy(struct spool_view *v, const uint32_t *uids, size_t nuids,
    const char *dest, bool move, struct spool_copy_result *r_r);

/* Expunge the messages with \Deleted: all of them (uids NULL) or those of
 * uids (UID EXPUNGE).  Bodies whose last reference goes are removed in
 * the same transaction.  The view learns it at the next refresh.
 * expunged_r (may be NULL) gets the uids removed.  Returns SPOOL_OK,
 * SPOOL_EPERM (read-only) or an error. */
int spool_expunge(struct spool_view *v, const uint32_t *uids, size_t nuids,
    struct spool_uidlist *expunged_r);

/* Changes since a modseq, from the change log (CONDSTORE FETCH
 * CHANGEDSINCE, QRESYNC SELECT, SEARCH MODSEQ): changed gets the UIDs of
 * present messages whose modseq > modseq (their current rows are in the
 * view after spool_view_refresh), expunged the UIDs expunged after modseq.
 * Both ascending.  Returns SPOOL_OK or an error. */
struct spool_changes {
	struct spool_uidlist	changed;
	struct spool_uidlist	expunged;
	uint64_t		highestmodseq;
};
void spool_changes_free(struct spool_changes *c);
int spool_changes_since(struct spool_view *v, uint64_t modseq,
    struct spool_changes *c_r);

/* ------------------------------------------------------------------ */
/* Bodies: read a stored message. */

struct spool_body;	/* opaque; one thread at a time */

/* Open the body of a message of the view (or of a queue entry).  The body
 * stays readable while the handle is open only as long as some mailbox or
 * queue entry references it: a read after the last reference went returns
 * SPOOL_EEXPUNGED.  Returns SPOOL_OK and *b_r, SPOOL_EEXPUNGED or an error. */
int spool_body_open(struct spool_view *v, uint32_t uid, struct spool_body **b_r);
int spool_queue_body_open(struct spool *sp, const char *qid,
    struct spool_body **b_r);
/* Total size in bytes. */
uint64_t spool_body_size(const struct spool_body *b);
/* Read up to len bytes at offset into dst: *got_r is 0 only at the end.
 * Each call is one short read transaction of at most one or two chunks,
 * so a large FETCH streams without holding locks.  Returns SPOOL_OK,
 * SPOOL_EEXPUNGED or an error. */
int spool_body_read(struct spool_body *b, uint64_t offset, void *dst,
    size_t len, size_t *got_r);
/* Append bytes [offset, offset + len) to out (len is clipped at the end).
 * Returns SPOOL_OK, SPOOL_ELIMIT when out's max would be passed (out then
 * holds what fitted), SPOOL_EEXPUNGED or an error. */
int spool_body_get(struct spool_body *b, uint64_t offset, uint64_t len,
    struct buf *out);
void spool_body_close(struct spool_body **bp);

/* ------------------------------------------------------------------ */
/* Storing messages: deliver (SMTP) and append (IMAP). */

/* One local recipient of a delivery. */
struct spool_local_rcpt {
	const char	*user;		/* borrowed */
	/* Target: mailbox when not NULL, else the mailbox with special use
	 * special_use when not 0, else INBOX.  A named or special mailbox
	 * that does not exist falls back to INBOX. */
	const char	*mailbox;
	uint32_t	 special_use;
	uint32_t	 flags;		/* initial SPOOL_F_* flags */
	/* Set by spool_deliver: SPOOL_OK or this recipient's permanent
	 * error (SPOOL_EQUOTA_BYTES, SPOOL_EQUOTA_MESSAGES, SPOOL_EINVAL),
	 * and where the message went. */
	int		 status;
	uint32_t	 uidvalidity;
	uint32_t	 uid;
};

/* DSN parameters (RFC 3461). */
#define SPOOL_NOTIFY_SUCCESS	0x01
#define SPOOL_NOTIFY_FAILURE	0x02
#define SPOOL_NOTIFY_DELAY	0x04
#define SPOOL_NOTIFY_NEVER	0x08
#define SPOOL_RET_DEFAULT	0
#define SPOOL_RET_FULL		1
#define SPOOL_RET_HDRS		2

/* One remote recipient (queued for the relay). */
struct spool_remote_rcpt {
	const char	*address;	/* borrowed */
	const char	*orcpt;		/* "rfc822;a@b" or NULL */
	unsigned	 notify;	/* SPOOL_NOTIFY_* or 0 (default) */
};

/* Queue entry flags. */
#define SPOOL_QF_8BITMIME	0x01
#define SPOOL_QF_SMTPUTF8	0x02
#define SPOOL_QF_BOUNCE		0x04	/* a DSN we generated: never bounced */

#define SPOOL_QID_SIZE		24	/* 20 characters and the NUL */

/* A message to store (the whole text in memory, bounded by the daemons'
 * message size limits) and where it goes. */
struct spool_delivery {
	const void		*data;		/* borrowed; CRLF text as received */
	size_t			 len;
	time_t			 internal_date;	/* 0: now */
	const char		*mail_from;	/* envelope sender, "" for <> */
	const char		*envid;		/* DSN ENVID or NULL */
	unsigned		 ret;		/* SPOOL_RET_* */
	unsigned		 qflags;	/* SPOOL_QF_* for the queue entry */
	const char		*origin;	/* free text for logs and the
						   queue listing, or NULL */
	struct spool_local_rcpt	*local;		/* status fields are set */
	size_t			 nlocal;
	const struct spool_remote_rcpt *remote;
	size_t			 nremote;
};

/* Deliver: parse the message once (MIME cache), store the body once,
 * add an index record to each local recipient's target mailbox (creating
 * the user's mailbox set on first delivery), update the counters and
 * quotas, and add one queue entry for the remote recipients (when any),
 * all in one transaction.  A local recipient over quota gets its status
 * set and is skipped; the others are delivered.  Returns after the commit
 * is on disk.  qid_r always gets a fresh queue id (use it in logs; it
 * names the queue entry when there are remote recipients).  Watchers of
 * the target mailboxes are notified after the commit.
 * Returns SPOOL_OK when the transaction committed (check each local
 * status), the permanent error of the first local recipient when nothing
 * at all could be stored (no remote recipient and every local one
 * failed), SPOOL_ETOOBIG, SPOOL_EINVAL (no recipient), or a temporary
 * error (nothing was stored). */
int spool_deliver(struct spool *sp, struct spool_delivery *d,
    char qid_r[SPOOL_QID_SIZE]);

/* One message of an APPEND (MULTIAPPEND appends several atomically). */
struct spool_append {
	const void		*data;		/* borrowed */
	size_t			 len;
	uint32_t		 flags;		/* SPOOL_F_STORED_MASK bits */
	const char *const	*keywords;	/* borrowed, may be NULL */
	size_t			 nkeywords;
	time_t			 internal_date;	/* 0: now */
	int			 tz_offset;	/* minutes east of UTC */
	/* 0: the mailbox assigns the next UID.  Else the UID to give this
	 * message (imports keeping their UIDs): it must be >= the
	 * mailbox's UIDNEXT (so strictly above the previous message of the
	 * same call); UIDNEXT becomes uid + 1. */
	uint32_t		 uid;
};

/* Append n messages to the user's mailbox in one transaction (all or
 * none).  uids_r (n entries) gets the new UIDs and *uidvalidity_r the
 * mailbox's UIDVALIDITY (APPENDUID).  Returns after the commit is on
 * disk.  Returns SPOOL_OK, SPOOL_ENOENT (TRYCREATE), SPOOL_ENOSELECT,
 * SPOOL_ETOOBIG (over spool.append_limit, APPENDLIMIT), SPOOL_EQUOTA_BYTES
 * or SPOOL_EQUOTA_MESSAGES (OVERQUOTA), SPOOL_ELIMIT (keywords), SPOOL_EINVAL
 * (a given uid below UIDNEXT or UINT32_MAX; nothing was stored) or a
 * temporary error. */
int spool_append(struct spool *sp, const char *user, const char *mailbox,
    const struct spool_append *a, size_t n, uint32_t *uidvalidity_r,
    uint32_t *uids_r);
/* spool.append_limit (0: none), for the APPENDLIMIT capability. */
uint64_t spool_append_limit(const struct spool *sp);

/* ------------------------------------------------------------------ */
/* The outbound queue. */

enum spool_rcpt_state {
	SPOOL_RCPT_PENDING = 0,		/* not yet delivered (maybe deferred) */
	SPOOL_RCPT_DELIVERED,		/* relayed: 250 from the remote MX */
	SPOOL_RCPT_FAILED,		/* permanent failure: bounce */
};
/* "pending", "delivered", "failed" or "unknown (N)" (static). */
const char *spool_rcpt_state_name(int state);

#define SPOOL_QR_DELAY_SENT	0x01	/* a delay DSN went out already */
#define SPOOL_QR_DSN_SENT	0x02	/* the final DSN went out */

struct spool_queue_rcpt {
	char		*address;	/* owned */
	char		*orcpt;		/* owned, or NULL */
	unsigned	 notify;
	int		 state;		/* enum spool_rcpt_state */
	unsigned	 flags;		/* SPOOL_QR_* */
	uint32_t	 attempts;
	time_t		 last_attempt;	/* 0: never */
	char		*status;	/* owned: last enhanced code "4.4.1" or NULL */
	char		*diag;		/* owned: last remote reply / reason or NULL */
};

struct spool_queue_entry {
	char			 id[SPOOL_QID_SIZE];
	char			*mail_from;	/* owned; "" for <> */
	char			*envid;		/* owned or NULL */
	char			*origin;	/* owned or NULL */
	unsigned		 ret;
	unsigned		 qflags;
	time_t			 created;
	time_t			 next_attempt;
	uint32_t		 attempts;	/* runs over this entry */
	bool			 held;
	uint64_t		 size;		/* message bytes */
	struct spool_queue_rcpt	*rcpt;		/* owned */
	size_t			 nrcpt;
};
void spool_queue_entry_free(struct spool_queue_entry *e);

/* Queue a message for remote recipients only (a DSN, a forward):
 * spool_deliver with no local recipients.  Returns as spool_deliver. */
int spool_queue_add(struct spool *sp, const void *data, size_t len,
    const char *mail_from, const char *envid, unsigned ret, unsigned qflags,
    const struct spool_remote_rcpt *rcpt, size_t nrcpt,
    char qid_r[SPOOL_QID_SIZE]);
/* Read one entry.  Returns SPOOL_OK, SPOOL_ENOENT or an error. */
int spool_queue_get(struct spool *sp, const char *qid,
    struct spool_queue_entry *e_r);
/* Every entry (the recipients included), by creation time: for gmsadm.
 * Returns SPOOL_OK or an error; free each entry and then v. */
int spool_queue_list(struct spool *sp, struct spool_queue_entry **v_r,
    size_t *n_r);
void spool_queue_list_free(struct spool_queue_entry **v, size_t n);
/* Claim up to max entries that are due (next_attempt <= now, not held),
 * atomically: their next_attempt moves to now + lease seconds, so that a
 * second runner (thread or process) does not take them too, and their
 * attempts counter goes up.  ids_r gets the queue ids, earliest due first.
 * Returns SPOOL_OK (maybe none) or an error. */
int spool_queue_claim_due(struct spool *sp, time_t now, uint32_t lease,
    size_t max, struct spool_strlist *ids_r);
/* The earliest next_attempt of the entries not held (to sleep until), or
 * 0 when the queue is empty.  Returns SPOOL_OK or an error. */
int spool_queue_next_due(struct spool *sp, time_t *when_r);

/* One recipient's outcome of a delivery attempt. */
struct spool_rcpt_update {
	const char	*address;	/* which recipient (borrowed) */
	int		 state;		/* enum spool_rcpt_state */
	unsigned	 set_flags;	/* SPOOL_QR_* to add */
	const char	*status;	/* "5.1.1" or NULL (borrowed) */
	const char	*diag;		/* reply text or NULL (borrowed) */
};
/* Record the outcome of an attempt: each named recipient's state, flags,
 * attempts + 1, last attempt time and diagnostics; then next_attempt of
 * the entry (0 keeps it).  Returns SPOOL_OK, SPOOL_ENOENT (entry or a
 * recipient unknown: nothing changed) or an error. */
int spool_queue_update(struct spool *sp, const char *qid,
    const struct spool_rcpt_update *u, size_t n, time_t next_attempt);
/* Remove an entry and release its body.  Returns SPOOL_OK, SPOOL_ENOENT or
 * an error. */
int spool_queue_delete(struct spool *sp, const char *qid);
/* Hold (no more attempts) or release (due now) an entry.  Returns SPOOL_OK,
 * SPOOL_ENOENT or an error. */
int spool_queue_hold(struct spool *sp, const char *qid, bool hold);
/* Make an entry due now (gmsadm queue flush).  Same returns. */
int spool_queue_schedule(struct spool *sp, const char *qid, time_t when);

/* ------------------------------------------------------------------ */
/* Change notification across processes.
 *
 * After every commit that changes a mailbox (deliver, append, store,
 * copy, move, expunge, rename, delete) the writer updates the time stamp
 * of the mailbox's notify file, DIR/notify/MAILBOX-ID (utimensat; created
 * when missing).  Each process that watches has one inotify instance and
 * one small thread that turns inotify events into writes on per-watcher
 * eventfds, so an idle watcher costs one fd and no CPU, the inotify
 * per-user instance limit is not consumed per session, and the fd becomes
 * readable within milliseconds (well under 100 ms) of the commit.  The
 * watcher then calls spool_view_refresh() to learn what changed.
 * A notification may be spurious or coalesce several changes. */
struct spool_watch;

/* Watch a mailbox (by id, e.g. spool_view_id()).  Returns SPOOL_OK and
 * *w_r (free with spool_watch_close) or SPOOL_ETEMP (out of fds or
 * inotify watches). */
int spool_watch_open(struct spool *sp, uint64_t mailbox_id,
    struct spool_watch **w_r);
/* The fd to poll for POLLIN (e.g. conn_set_wake_fd); owned by the watch. */
int spool_watch_fd(const struct spool_watch *w);
/* Clear the readable state (call before refreshing, then poll again). */
void spool_watch_ack(struct spool_watch *w);
void spool_watch_close(struct spool_watch **wp);
/* Signal the watchers of a mailbox now (the writers call it; public for
 * tools that change the store by other means). */
void spool_notify(struct spool *sp, uint64_t mailbox_id);

/* ------------------------------------------------------------------ */
/* Operations: statistics, verify, backup and restore. */

struct spool_stats {
	uint64_t	users;
	uint64_t	mailboxes;
	uint64_t	messages;	/* index records */
	uint64_t	bodies;		/* distinct stored bodies */
	uint64_t	body_bytes;
	uint64_t	queue_entries;
	/* Berkeley DB, since the environment was created or stats reset. */
	uint64_t	txn_commits;
	uint64_t	txn_aborts;
	uint64_t	log_flushes;	/* st_scount: fsyncs of the log */
	uint64_t	log_writes;	/* st_wcount */
	uint64_t	log_bytes;
	uint64_t	deadlocks;
	uint64_t	lock_timeouts;
	uint64_t	cache_hit_pct;
};
/* Counts are taken by walking the databases (cheap: record counts), the
 * Berkeley DB figures from the subsystems' stat calls.  Returns SPOOL_OK or
 * an error. */
int spool_stats(struct spool *sp, struct spool_stats *st_r);
/* Only the Berkeley DB counters (no walk): for the benchmark. */
int spool_stats_db(struct spool *sp, struct spool_stats *st_r);

/* What verify found (and fixed with repair). */
struct spool_verify_report {
	uint64_t	checked_mailboxes;
	uint64_t	checked_messages;
	uint64_t	checked_bodies;
	uint64_t	bad_refcounts;		/* body refcount != references */
	uint64_t	orphan_bodies;		/* no reference at all */
	uint64_t	missing_bodies;		/* referenced, not stored */
	uint64_t	bad_counters;		/* mailbox or quota counters */
	uint64_t	bad_uids;		/* uid >= uidnext, modseq >
						   highestmodseq, bad log */
	uint64_t	errors;			/* sum of the above */
	uint64_t	repaired;
};
/* Walk everything in one consistent read (or, with repair, one write
 * transaction per user plus one for bodies) and check: each body's
 * refcount equals the index records and queue entries that point at it;
 * each mailbox's messages/unseen/deleted/size and each user's quota usage
 * equal the sums; uids < uidnext, modseqs <= highestmodseq; the change log
 * matches the index.  With repair the counters and refcounts are set to
 * what was found, orphans removed, and records that point at a missing body
 * removed.  report (may be NULL) is called with one line per problem.
 * Returns SPOOL_OK (see r_r->errors) or an error. */
int spool_verify(struct spool *sp, bool repair, struct spool_verify_report *r_r,
    void (*report)(void *arg, const char *line), void *arg);

/* Hot backup into target_dir (created 0700; emptied of an earlier backup
 * first): the database files and then the logs, while the others keep
 * working (DB_ENV->backup).  The backup is restorable with
 * spool_restore().  Returns SPOOL_OK or an error. */
int spool_backup(struct spool *sp, const char *target_dir);
/* Restore a backup into spool_dir (which must not be open by any process,
 * and must be missing or empty): copy the files and run catastrophic
 * recovery on them.  Returns SPOOL_OK, SPOOL_EEXIST (spool_dir not
 * empty), SPOOL_EINVAL (not a backup) or an error. */
int spool_restore(const char *backup_dir, const char *spool_dir);

#endif /* GMS_SPOOL_H */
