/*
 * relay.h - the outbound queue runner and SMTP relay client of GMS
 * (relay/), the one public header of the folder.
 *
 * The relay is a library linked into gms-smtpd.  relay_start() starts a
 * dispatcher thread and a pool of delivery threads in the calling process
 * (after the privileges are dropped, so every file it creates belongs to
 * the gms user); relay_stop() asks them to finish at a safe point and
 * joins them.  The dispatcher claims due entries of the spool's outbound
 * queue (spool_queue_claim_due, with a lease so that a crashed process
 * does not hold them for ever), a delivery thread groups the pending
 * recipients of one entry by destination domain, looks up the MX hosts
 * with its own resolver address (relay.dns_server), and talks SMTP to
 * them over lib/'s conn_* with opportunistic STARTTLS (DANE-EE when the
 * resolver vouches for the TLSA records).  Each recipient's outcome is
 * written back to the queue as soon as its destination answered: a
 * recipient leaves the queue only after the remote 250.  Permanent
 * failures, expiry (relay.max_lifetime) and delays (relay.delay_warning)
 * produce RFC 3464 delivery status notifications from the null sender,
 * stored in the sender's INBOX when the sender is ours, queued otherwise.
 *
 * The pure parts (SMTP reply parser, EHLO keywords, xtext, DSN text) are
 * public for the unit tests and the fuzz target.
 */
#ifndef GMS_RELAY_H
#define GMS_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "gms.h"
#include "spool/spool.h"

/* The keys of the relay module (relay.*), registered with conf_register().
 * See relay_conf.c (and gms.conf(5)) for each key's meaning and range. */
extern const struct conf_def relay_conf_table[];

/* ------------------------------------------------------------------ */
/* The runner. */

/* Decide whether an address is one of our mailboxes (for DSNs to the
 * sender).  Returns 1 (ours: the canonical mailbox user name is copied
 * into user_r, at most userlen bytes with the NUL), 0 (not ours) or -1
 * (temporary failure: the DSN is queued for another try later). */
typedef int (*relay_local_fn)(void *arg, const char *address, char *user_r,
    size_t userlen);

/* Install the local-mailbox check (gms-smtpd: the directory).  Without
 * one, an address whose user has a mailbox set in the spool is ours.
 * Call before relay_start(); fn and arg are borrowed until relay_stop(). */
void relay_set_local(relay_local_fn fn, void *arg);

/* Start the runner threads with the relay.* values of c (copied) on the
 * open spool sp (borrowed until relay_stop()).  A second call while the
 * runner runs (gms-smtpd's after_setup hook runs after each SIGHUP) only
 * wakes it.  relay.enable = no makes it a no-op.  Returns 0, or -1 with a
 * log line (bad TLS client context, threads). */
int relay_start(const struct conf *c, struct spool *sp);

/* Stop: no new attempts, open SMTP sessions are ended at their next wait
 * (CONN_STOP), results of finished transactions are still recorded, then
 * the threads are joined.  Entries in flight keep their lease and are
 * retried by the next start after relay.lease.  Safe to call when the
 * runner was never started. */
void relay_stop(void);

/* Look at the queue now (a new entry was queued, gmsadm queue flush).
 * Cheap; a no-op when the runner does not run. */
void relay_wakeup(void);

/* Counters since relay_start, for logs and the benchmark. */
struct relay_stats {
	uint64_t	attempts;	/* entries processed */
	uint64_t	delivered;	/* recipients accepted with 2xx */
	uint64_t	deferred;	/* recipient attempts that failed
					   temporarily */
	uint64_t	failed;		/* recipients failed permanently */
	uint64_t	dsns;		/* DSNs generated */
};
void relay_get_stats(struct relay_stats *st_r);

/* ------------------------------------------------------------------ */
/* Operations for gmsadm (work without a running runner; a running
 * gms-smtpd picks the change up at its next scan). */

/* Make entry qid (or every entry when qid is NULL) due now.  Returns
 * SPOOL_OK, SPOOL_ENOENT or a spool error. */
int relay_queue_flush(struct spool *sp, const char *qid);

/* ------------------------------------------------------------------ */
/* SMTP replies (relay_reply.c): pure, fuzzed. */

#define RELAY_REPLY_MAX_LINES	100	/* lines of one reply */
#define RELAY_REPLY_MAX_TEXT	8192	/* bytes of text kept */

struct relay_reply {
	int		code;		/* 3 digits, 0 until the first line */
	char		enh[16];	/* enhanced status "5.1.1" or "" */
	struct buf	text;		/* lines' text joined by '\n' (owned) */
	unsigned	nlines;
	bool		done;		/* the last line was seen */
};

/* Prepare r (its text buffer is bounded by RELAY_REPLY_MAX_TEXT). */
void relay_reply_init(struct relay_reply *r);
/* Forget the previous reply, keep the memory. */
void relay_reply_reset(struct relay_reply *r);
void relay_reply_free(struct relay_reply *r);
/* Feed one line (without its CRLF).  Returns 1 when the reply is
 * complete, 0 when more lines follow, -1 when the line is malformed (no
 * 3-digit code, a code that changes between lines, a bad separator, too
 * many lines).  Text beyond the limit is dropped silently. */
int relay_reply_feed(struct relay_reply *r, const char *line, size_t len);

/* What the EHLO reply offers. */
struct relay_ehlo {
	bool		pipelining;
	bool		starttls;
	bool		eightbitmime;
	bool		smtputf8;
	bool		dsn;
	bool		size;
	uint64_t	size_max;	/* 0: no limit announced */
};
/* Read the keywords of a complete 250 EHLO reply (the first line is the
 * greeting and is skipped). */
void relay_ehlo_parse(const struct relay_reply *r, struct relay_ehlo *e_r);

/* Append s (len bytes) as RFC 3461 xtext to out.  Returns 0 or -1 (out
 * full). */
int relay_xtext_encode(struct buf *out, const char *s, size_t len);
/* Decode xtext; a bad "+XX" is kept literally.  Returns 0 or -1. */
int relay_xtext_decode(struct buf *out, const char *s, size_t len);

/* ------------------------------------------------------------------ */
/* Delivery status notifications (relay_dsn.c): pure. */

enum relay_dsn_action {
	RELAY_DSN_FAILED = 0,
	RELAY_DSN_DELAYED,
	RELAY_DSN_DELIVERED,	/* "relayed" when the peer lacked DSN */
	RELAY_DSN_RELAYED,
};
/* "failed", "delayed", "delivered", "relayed" or "unknown (N)". */
const char *relay_dsn_action_name(int a);

struct relay_dsn_rcpt {
	const char	*address;	/* borrowed */
	const char	*orcpt;		/* "rfc822;xtext" or NULL */
	int		 action;	/* enum relay_dsn_action */
	const char	*status;	/* "5.1.1" */
	const char	*remote_mta;	/* host name or NULL */
	const char	*diag;		/* remote reply or reason, or NULL */
	time_t		 last_attempt;	/* 0: none */
};

struct relay_dsn {
	const char		*reporting_mta;	/* our host name */
	const char		*sender;	/* the original envelope sender */
	const char		*envid;		/* decoded, or NULL */
	const char		*qid;
	time_t			 arrival;
	time_t			 now;
	time_t			 retry_until;	/* for delayed; 0: none */
	bool			 full;		/* return the whole message */
	const char		*original;	/* borrowed: original message or
						   just its header */
	size_t			 original_len;
	const struct relay_dsn_rcpt *rcpt;
	size_t			 nrcpt;
};

/* Write the whole DSN message (RFC 5322 header, multipart/report with a
 * text/plain part, the message/delivery-status part and the original
 * message (message/rfc822) or its header (text/rfc822-headers)) with CRLF
 * line ends into out.  Peer text is made printable ASCII on one line.
 * Returns 0, or -1 when out's maximum was reached. */
int relay_dsn_build(struct buf *out, const struct relay_dsn *d);

/* The length of the header of msg (up to and including the empty line,
 * or all of it when there is none). */
size_t relay_header_len(const char *msg, size_t len);
/* The number of Received: header fields in the header of msg. */
unsigned relay_count_received(const char *msg, size_t len);

#endif /* GMS_RELAY_H */
