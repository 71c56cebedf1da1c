/*
 * relay_queue.c - the queue runner: the threads that take due entries
 * from the spool's outbound queue and deliver them, the retry schedule,
 * expiry, delay warnings and the DSNs.
 *
 * One dispatcher thread claims due entries (spool_queue_claim_due moves
 * their next attempt relay.lease into the future, so that nobody else
 * takes them and a crashed process gives them back by itself) as long as
 * a delivery thread is free, then sleeps until the next entry is due, a
 * delivery ends, relay_wakeup() or relay_stop().  A delivery thread takes
 * one entry: it checks the hop count, groups the pending recipients by
 * domain, and for each domain waits for a slot (relay.max_per_destination)
 * and runs the SMTP client (relay_smtp.c).  The outcome of each domain is
 * written to the queue at once (DELIVERED after the remote 250, PENDING
 * with the reason); permanent failures are written only after their DSN
 * is stored, so a crash in between sends a DSN twice but never loses one.
 * An entry whose recipients are all final leaves the queue; otherwise its
 * next attempt follows a doubling backoff between relay.retry_min and
 * relay.retry_max.  After relay.max_lifetime the pending recipients fail
 * (4.4.7); after relay.delay_warning a "delayed" DSN goes out once.
 * DSNs come from the null sender and are never bounced themselves.
 */
#include "config.h"

#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay/relay-private.h"

struct dest {
	char		domain[256];
	unsigned	active;
};

static struct runner {
	pthread_mutex_t		 mu;
	pthread_cond_t		 work_cv;
	pthread_cond_t		 dest_cv;
	bool			 running;
	bool			 stopping;
	struct relay_cfg	 cfg;
	struct spool		*sp;		/* borrowed */
	struct tls_ctx		*tls;		/* owned reference */
	int			 stop_pipe[2];
	int			 wake_pipe[2];
	pthread_t		 disp;
	pthread_t		*workers;	/* owned */
	unsigned		 nworkers;
	char			**jobs;		/* owned queue ids */
	char			**inflight;	/* per worker: its entry
						   (borrowed from the worker) */
	size_t			 njobs;
	unsigned		 busy;
	struct dest		*dests;		/* owned, nworkers entries */
	struct relay_stats	 st;
	relay_local_fn		 local_fn;
	void			*local_arg;
} R = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.work_cv = PTHREAD_COND_INITIALIZER,
	.dest_cv = PTHREAD_COND_INITIALIZER,
	.stop_pipe = { -1, -1 },
	.wake_pipe = { -1, -1 },
};

void
relay_set_local(relay_local_fn fn, void *arg)
{
	R.local_fn = fn;
	R.local_arg = arg;
}

void
relay_get_stats(struct relay_stats *st_r)
{
	pthread_mutex_lock(&R.mu);
	*st_r = R.st;
	pthread_mutex_unlock(&R.mu);
}

void
relay_wakeup(void)
{
	char ch = 'w';

	if (R.wake_pipe[1] >= 0 && write(R.wake_pipe[1], &ch, 1) == -1)
		return;	/* full: a wakeup is pending anyway */
}

/* cfg_load - copy the relay.* values of c. */
static int
cfg_load(const struct conf *c, struct relay_cfg *cfg)
{
	const char *s;

	memset(cfg, 0, sizeof(*cfg));
	s = conf_str(c, "relay.hostname");
	/* In gms-smtpd the relay speaks with the name of the server. */
	if (s[0] == '\0' && conf_lookup_def("smtpd.hostname") != NULL)
		s = conf_str(c, "smtpd.hostname");
	if (s[0] != '\0')
		(void)gms_strlcpy(cfg->hostname, s, sizeof(cfg->hostname));
	else if (gethostname(cfg->hostname, sizeof(cfg->hostname) - 1) != 0)
		(void)gms_strlcpy(cfg->hostname, "localhost",
		    sizeof(cfg->hostname));
	cfg->hostname[sizeof(cfg->hostname) - 1] = '\0';
	s = conf_str(c, "relay.dns_server");
	/* In gms-smtpd one resolver setting serves both. */
	if (s[0] == '\0' && conf_lookup_def("smtpd.dns_server") != NULL)
		s = conf_str(c, "smtpd.dns_server");
	if (gms_strlcpy(cfg->dns_server, s, sizeof(cfg->dns_server)) != 0 ||
	    gms_strlcpy(cfg->source_address, conf_str(c,
	    "relay.source_address"), sizeof(cfg->source_address)) != 0)
		return -1;
	cfg->port = (int)conf_int(c, "relay.port");
	cfg->ipv6 = conf_bool(c, "relay.ipv6");
	cfg->max_deliveries = (unsigned)conf_int(c, "relay.max_deliveries");
	cfg->max_per_destination = (unsigned)conf_int(c,
	    "relay.max_per_destination");
	cfg->max_hosts = (unsigned)conf_int(c, "relay.max_hosts");
	cfg->max_lifetime = (time_t)conf_int(c, "relay.max_lifetime");
	cfg->delay_warning = (time_t)conf_int(c, "relay.delay_warning");
	cfg->retry_min = (time_t)conf_int(c, "relay.retry_min");
	cfg->retry_max = (time_t)conf_int(c, "relay.retry_max");
	cfg->lease = (time_t)conf_int(c, "relay.lease");
	cfg->poll_interval = (time_t)conf_int(c, "relay.poll_interval");
	cfg->connect_timeout_ms = (int)conf_int(c, "relay.connect_timeout") *
	    1000;
	cfg->timeout_ms = (int)conf_int(c, "relay.timeout") * 1000;
	cfg->data_timeout_ms = (int)conf_int(c, "relay.data_timeout") * 1000;
	s = conf_str(c, "relay.tls");
	cfg->tls = strcmp(s, "none") == 0 ? RELAY_TLS_NONE :
	    strcmp(s, "encrypt") == 0 ? RELAY_TLS_ENCRYPT : RELAY_TLS_MAY;
	cfg->dane = conf_bool(c, "relay.dane");
	cfg->mta_sts = conf_bool(c, "relay.mta_sts");
	cfg->mta_sts_port = (int)conf_int(c, "relay.mta_sts_port");
	cfg->max_hops = (unsigned)conf_int(c, "relay.max_hops");
	cfg->max_line = (size_t)conf_int(c, "relay.max_line");
	cfg->bounce_full_limit = (uint64_t)conf_int(c,
	    "relay.bounce_full_limit");
	if (cfg->retry_max < cfg->retry_min)
		cfg->retry_max = cfg->retry_min;
	return 0;
}

/* dest_acquire - wait for a delivery slot of domain; -1 when stopping. */
static int
dest_acquire(const char *domain)
{
	struct timespec ts;
	size_t i, freeslot;

	pthread_mutex_lock(&R.mu);
	for (;;) {
		freeslot = R.nworkers;
		for (i = 0; i < R.nworkers; i++) {
			if (R.dests[i].active == 0) {
				if (freeslot == R.nworkers)
					freeslot = i;
				continue;
			}
			if (strcmp(R.dests[i].domain, domain) == 0)
				break;
		}
		if (i < R.nworkers &&
		    R.dests[i].active < R.cfg.max_per_destination) {
			R.dests[i].active++;
			break;
		}
		if (i == R.nworkers && freeslot < R.nworkers) {
			(void)gms_strlcpy(R.dests[freeslot].domain, domain,
			    sizeof(R.dests[freeslot].domain));
			R.dests[freeslot].active = 1;
			break;
		}
		if (R.stopping) {
			pthread_mutex_unlock(&R.mu);
			return -1;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		(void)pthread_cond_timedwait(&R.dest_cv, &R.mu, &ts);
	}
	pthread_mutex_unlock(&R.mu);
	return 0;
}

/* dest_release - give back a slot of domain. */
static void
dest_release(const char *domain)
{
	size_t i;

	pthread_mutex_lock(&R.mu);
	for (i = 0; i < R.nworkers; i++)
		if (R.dests[i].active > 0 &&
		    strcmp(R.dests[i].domain, domain) == 0) {
			R.dests[i].active--;
			break;
		}
	pthread_cond_broadcast(&R.dest_cv);
	pthread_mutex_unlock(&R.mu);
}

/* domain_of - the part after the last '@' (lowercase copy). */
static void
domain_of(const char *addr, char *dst, size_t len)
{
	const char *at = strrchr(addr, '@');

	(void)gms_strlcpy(dst, at != NULL ? at + 1 : "", len);
	gms_lowercase(dst);
}

/* notify_wants - does notify (SPOOL_NOTIFY_*, 0 = default) ask for bit? */
static bool
notify_wants(unsigned notify, unsigned bit)
{
	if (notify & SPOOL_NOTIFY_NEVER)
		return false;
	if (notify == 0)
		return bit == SPOOL_NOTIFY_FAILURE || bit == SPOOL_NOTIFY_DELAY;
	return (notify & bit) != 0;
}

/* read_original - the message (whole when full, else at most its first
 * 256 KiB, enough for the header) into out.  Returns 0 or -1. */
static int
read_original(const char *qid, uint64_t size, bool full, struct buf *out)
{
	struct spool_body *b = NULL;
	uint64_t want = full ? size : (size < 262144 ? size : 262144);
	int r;

	if (spool_queue_body_open(R.sp, qid, &b) != SPOOL_OK)
		return -1;
	r = spool_body_get(b, 0, want, out);
	spool_body_close(&b);
	return r == SPOOL_OK || r == SPOOL_ELIMIT ? 0 : -1;
}

/* dsn_store - deliver a DSN to sender: into the INBOX when the sender is
 * ours, else queued for the relay.  Returns 0 or -1 (temporary). */
static int
dsn_store(const char *sender, const struct buf *msg, const char *for_qid)
{
	char user[SPOOL_USER_MAX + 1], qid[SPOOL_QID_SIZE];
	int local, r;

	if (R.local_fn != NULL)
		local = R.local_fn(R.local_arg, sender, user, sizeof(user));
	else {
		if (gms_strlcpy(user, sender, sizeof(user)) != 0)
			return -1;
		gms_lowercase(user);
		local = spool_user_exists(R.sp, user);
		if (local < 0)
			local = -1;
	}
	if (local < 0)
		return -1;
	if (local == 1) {
		struct spool_local_rcpt lr;
		struct spool_delivery d;

		memset(&lr, 0, sizeof(lr));
		lr.user = user;
		memset(&d, 0, sizeof(d));
		d.data = msg->data;
		d.len = msg->len;
		d.mail_from = "";
		d.qflags = SPOOL_QF_BOUNCE;
		d.origin = "relay DSN";
		d.local = &lr;
		d.nlocal = 1;
		r = spool_deliver(R.sp, &d, qid);
		if (r != SPOOL_OK && spool_err_temporary(r))
			return -1;
		log_info("event=relay_dsn qid=%s dsn=%s to=<%s> local=1 "
		    "status=%s", for_qid, qid, user,
		    r == SPOOL_OK ? spool_err_name(lr.status) :
		    spool_err_name(r));
		return 0;
	} else {
		struct spool_remote_rcpt rr;

		memset(&rr, 0, sizeof(rr));
		rr.address = sender;
		rr.notify = SPOOL_NOTIFY_NEVER;
		r = spool_queue_add(R.sp, msg->data, msg->len, "", NULL,
		    SPOOL_RET_HDRS, SPOOL_QF_BOUNCE, &rr, 1, qid);
		if (r != SPOOL_OK)
			return spool_err_temporary(r) ? -1 : 0;
		log_info("event=relay_dsn qid=%s dsn=%s to=<%s> local=0",
		    for_qid, qid, sender);
		relay_wakeup();
		return 0;
	}
}

/* retry_pause - a short, growing pause before retrying a spool call
 * that failed temporarily (lock contention between delivery threads). */
static void
retry_pause(size_t attempt)
{
	struct timespec ts;

	ts.tv_sec = 0;
	ts.tv_nsec = (long)(20 + (random() % 30)) * 1000000L * (long)(attempt + 1);
	(void)nanosleep(&ts, NULL);
}

/* update_some - write the outcome of the recipients selected by pick. */
static int
update_some(const char *qid, struct relay_rcpt *rc, const bool *pick,
    const unsigned *flags, size_t n, time_t next)
{
	struct spool_rcpt_update *u;
	size_t i, k = 0;
	int r;

	u = xcalloc(n + 1, sizeof(*u));
	for (i = 0; i < n; i++) {
		if (!pick[i])
			continue;
		u[k].address = rc[i].address;
		u[k].state = rc[i].state;
		u[k].set_flags = flags != NULL ? flags[i] : 0;
		u[k].status = rc[i].status[0] ? rc[i].status : NULL;
		u[k].diag = rc[i].diag[0] ? rc[i].diag : NULL;
		k++;
	}
	if (k == 0 && next == 0) {
		free(u);
		return SPOOL_OK;
	}
	r = spool_queue_update(R.sp, qid, u, k, next);
	for (i = 0; i < 5 && r != SPOOL_OK && spool_err_temporary(r); i++) {
		retry_pause(i);
		r = spool_queue_update(R.sp, qid, u, k, next);
	}
	free(u);
	if (r != SPOOL_OK)
		log_warnx("event=relay_update_error qid=%s error=%s", qid,
		    spool_err_name(r));
	return r;
}

/* rcpt_cmp - order recipient indexes by domain. */
static int
rcpt_cmp(const void *a, const void *b, void *arg)
{
	char **doms = arg;

	return strcmp(doms[*(const size_t *)a], doms[*(const size_t *)b]);
}

/* process - one attempt over one queue entry. */
static void
process(const char *qid)
{
	struct spool_queue_entry e;
	struct relay_rcpt *rc = NULL;
	struct relay_msg m;
	struct buf orig = BUF_INIT(0);
	struct relay_dsn_rcpt *dr = NULL;
	char **doms = NULL;
	size_t *order = NULL, *map = NULL;
	bool *pick = NULL, *attempted = NULL;
	unsigned *flags = NULL;
	size_t i, j, k, n = 0, ndr = 0;
	time_t now = time(NULL), next;
	bool expired, full, stopped = false, bounce_ok, pending = false;
	unsigned hops;
	int r;

	memset(&e, 0, sizeof(e));
	r = spool_queue_get(R.sp, qid, &e);
	if (r != SPOOL_OK) {
		if (r != SPOOL_ENOENT)
			log_warnx("event=relay_queue_error qid=%s error=%s",
			    qid, spool_err_name(r));
		return;
	}
	if (e.held)
		goto out;
	log_set_session(qid);
	pthread_mutex_lock(&R.mu);
	R.st.attempts++;
	pthread_mutex_unlock(&R.mu);

	/* The pending recipients. */
	rc = xcalloc(e.nrcpt + 1, sizeof(*rc));
	map = xcalloc(e.nrcpt + 1, sizeof(*map));
	for (i = 0; i < e.nrcpt; i++) {
		if (e.rcpt[i].state != SPOOL_RCPT_PENDING)
			continue;
		rc[n].address = e.rcpt[i].address;
		rc[n].orcpt = e.rcpt[i].orcpt;
		rc[n].notify = e.rcpt[i].notify;
		rc[n].state = SPOOL_RCPT_PENDING;
		map[n] = i;
		n++;
	}
	if (n == 0) {
		/* Everything was final already (a crash after the last
		 * update): the entry only has to go. */
		(void)spool_queue_delete(R.sp, qid);
		goto out;
	}
	pick = xcalloc(n, sizeof(*pick));
	attempted = xcalloc(n, sizeof(*attempted));
	flags = xcalloc(n, sizeof(*flags));
	doms = xcalloc(n, sizeof(*doms));
	order = xcalloc(n, sizeof(*order));

	full = e.ret == SPOOL_RET_FULL && e.size <= R.cfg.bounce_full_limit;
	if (read_original(qid, e.size, full, &orig) != 0) {
		log_warnx("event=relay_body_error qid=%s", qid);
		next = now + R.cfg.retry_min;
		(void)spool_queue_update(R.sp, qid, NULL, 0, next);
		goto out;
	}
	hops = relay_count_received(orig.data ? orig.data : "", orig.len);
	if (hops > R.cfg.max_hops) {
		for (i = 0; i < n; i++) {
			rc[i].state = SPOOL_RCPT_FAILED;
			(void)gms_strlcpy(rc[i].status, "5.4.6",
			    sizeof(rc[i].status));
			(void)gms_snprintf(rc[i].diag, sizeof(rc[i].diag),
			    "mail forwarding loop: %u Received: fields", hops);
			attempted[i] = true;
		}
		log_warnx("event=relay_loop qid=%s hops=%u", qid, hops);
	} else {
		for (i = 0; i < n; i++) {
			doms[i] = xmalloc(256);
			domain_of(rc[i].address, doms[i], 256);
			order[i] = i;
		}
		qsort_r(order, n, sizeof(*order), rcpt_cmp, doms);
		memset(&m, 0, sizeof(m));
		m.qid = qid;
		m.mail_from = e.mail_from;
		m.envid = e.envid;
		m.ret = e.ret;
		m.qflags = e.qflags;
		m.size = e.size;
		m.sp = R.sp;
		for (i = 0; i < n; i = j) {
			struct relay_rcpt *grp;
			size_t g;

			for (j = i + 1; j < n &&
			    strcmp(doms[order[j]], doms[order[i]]) == 0; j++)
				;
			if (R.stopping || dest_acquire(doms[order[i]]) != 0) {
				stopped = true;
				break;
			}
			/* Renew the lease for the time this domain may take. */
			(void)spool_queue_schedule(R.sp, qid, time(NULL) +
			    R.cfg.lease);
			g = j - i;
			grp = xcalloc(g, sizeof(*grp));
			for (k = 0; k < g; k++)
				grp[k] = rc[order[i + k]];
			m.rcpt = grp;
			m.nrcpt = g;
			relay_smtp_deliver(&R.cfg, R.tls, R.stop_pipe[0],
			    doms[order[i]], &m);
			dest_release(doms[order[i]]);
			memset(pick, 0, n * sizeof(*pick));
			for (k = 0; k < g; k++) {
				size_t x = order[i + k];

				rc[x] = grp[k];
				attempted[x] = true;
				/* Failures are written after their DSN; an
				 * attempt cut short by relay_stop() keeps the
				 * previous reason. */
				pick[x] = rc[x].state != SPOOL_RCPT_FAILED &&
				    !(R.stopping &&
				    rc[x].state == SPOOL_RCPT_PENDING);
				pthread_mutex_lock(&R.mu);
				if (rc[x].state == SPOOL_RCPT_DELIVERED)
					R.st.delivered++;
				else if (rc[x].state == SPOOL_RCPT_PENDING)
					R.st.deferred++;
				pthread_mutex_unlock(&R.mu);
			}
			free(grp);
			(void)update_some(qid, rc, pick, NULL, n, 0);
		}
	}

	/* Expiry, DSNs, the next attempt. */
	expired = now - e.created >= R.cfg.max_lifetime;
	bounce_ok = e.mail_from[0] != '\0' && !(e.qflags & SPOOL_QF_BOUNCE);
	dr = xcalloc(n, sizeof(*dr));
	memset(pick, 0, n * sizeof(*pick));
	for (i = 0; i < n; i++) {
		const struct spool_queue_rcpt *qr = &e.rcpt[map[i]];

		if (rc[i].state == SPOOL_RCPT_PENDING && attempted[i] &&
		    expired && !R.stopping) {
			char why[sizeof(rc[i].diag)];

			(void)gms_snprintf(why, sizeof(why), "delivery time "
			    "expired; last error: %s", rc[i].diag);
			(void)gms_strlcpy(rc[i].diag, why, sizeof(rc[i].diag));
			(void)gms_strlcpy(rc[i].status, "4.4.7",
			    sizeof(rc[i].status));
			rc[i].state = SPOOL_RCPT_FAILED;
		}
		if (rc[i].state == SPOOL_RCPT_FAILED) {
			pick[i] = true;
			pthread_mutex_lock(&R.mu);
			R.st.failed++;
			pthread_mutex_unlock(&R.mu);
			if (bounce_ok && notify_wants(rc[i].notify,
			    SPOOL_NOTIFY_FAILURE)) {
				dr[ndr].action = RELAY_DSN_FAILED;
				flags[i] |= SPOOL_QR_DSN_SENT;
				goto add;
			}
			log_info("event=relay_failed qid=%s to=<%s> status=%s "
			    "dsn=0", qid, rc[i].address, rc[i].status);
			continue;
		}
		if (rc[i].state == SPOOL_RCPT_DELIVERED) {
			if (bounce_ok && !rc[i].peer_dsn &&
			    (rc[i].notify & SPOOL_NOTIFY_SUCCESS)) {
				dr[ndr].action = RELAY_DSN_RELAYED;
				goto add;
			}
			continue;
		}
		pending = true;
		if (rc[i].state == SPOOL_RCPT_PENDING && attempted[i] &&
		    bounce_ok && R.cfg.delay_warning > 0 &&
		    now - e.created >= R.cfg.delay_warning &&
		    !(qr->flags & SPOOL_QR_DELAY_SENT) &&
		    notify_wants(rc[i].notify, SPOOL_NOTIFY_DELAY)) {
			dr[ndr].action = RELAY_DSN_DELAYED;
			flags[i] |= SPOOL_QR_DELAY_SENT;
			pick[i] = true;
			goto add;
		}
		continue;
add:
		dr[ndr].address = rc[i].address;
		dr[ndr].orcpt = rc[i].orcpt;
		dr[ndr].status = rc[i].status[0] ? rc[i].status : NULL;
		dr[ndr].remote_mta = rc[i].remote_mta[0] ? rc[i].remote_mta :
		    NULL;
		dr[ndr].diag = rc[i].diag[0] ? rc[i].diag : NULL;
		dr[ndr].last_attempt = now;
		ndr++;
	}
	if (ndr > 0) {
		struct relay_dsn d;
		struct buf out = BUF_INIT(0);

		memset(&d, 0, sizeof(d));
		d.reporting_mta = R.cfg.hostname;
		d.sender = e.mail_from;
		d.envid = e.envid;
		d.qid = qid;
		d.arrival = e.created;
		d.now = now;
		d.retry_until = e.created + R.cfg.max_lifetime;
		d.full = full;
		d.original = orig.data ? orig.data : "";
		d.original_len = orig.len;
		d.rcpt = dr;
		d.nrcpt = ndr;
		if (relay_dsn_build(&out, &d) != 0 ||
		    dsn_store(e.mail_from, &out, qid) != 0) {
			/* Try again later: the failures stay pending. */
			log_warnx("event=relay_dsn_error qid=%s", qid);
			for (i = 0; i < n; i++)
				if (flags[i] != 0) {
					pick[i] = false;
					if (rc[i].state == SPOOL_RCPT_FAILED)
						pending = true;
				}
		} else {
			pthread_mutex_lock(&R.mu);
			R.st.dsns++;
			pthread_mutex_unlock(&R.mu);
		}
		buf_free(&out);
	}
	for (i = 0; i < n; i++)
		if (!attempted[i] && rc[i].state == SPOOL_RCPT_PENDING)
			pending = true;
	if (!pending) {
		/* Record the failures first: if the delete fails the entry
		 * is retried with nothing left to do. */
		(void)update_some(qid, rc, pick, flags, n, 0);
		r = spool_queue_delete(R.sp, qid);
		for (i = 0; i < 5 && r != SPOOL_OK && spool_err_temporary(r);
		    i++) {
			retry_pause(i);
			r = spool_queue_delete(R.sp, qid);
		}
		if (r != SPOOL_OK && r != SPOOL_ENOENT) {
			/* Come back soon: the next run only deletes it. */
			log_warnx("event=relay_delete_error qid=%s error=%s",
			    qid, spool_err_name(r));
			(void)spool_queue_schedule(R.sp, qid, now +
			    R.cfg.retry_min);
		} else
			log_info("event=relay_done qid=%s", qid);
		goto out;
	}
	if (stopped || R.stopping)
		next = now;
	else {
		uint32_t a = e.attempts > 0 ? e.attempts - 1 : 0;
		time_t delay = R.cfg.retry_min;

		while (a-- > 0 && delay < R.cfg.retry_max)
			delay *= 2;
		if (delay > R.cfg.retry_max)
			delay = R.cfg.retry_max;
		next = now + delay;
		if (!expired && next > e.created + R.cfg.max_lifetime)
			next = e.created + R.cfg.max_lifetime;
		if (next <= now)
			next = now + 1;
	}
	(void)update_some(qid, rc, pick, flags, n, next);
	log_info("event=relay_deferred qid=%s next=%lld", qid,
	    (long long)(next - now));
out:
	if (doms != NULL)
		for (i = 0; i < n; i++)
			free(doms[i]);
	free(doms);
	free(order);
	free(pick);
	free(attempted);
	free(flags);
	free(dr);
	free(rc);
	free(map);
	buf_free(&orig);
	spool_queue_entry_free(&e);
	log_set_session("-");
}

/* worker - a delivery thread. */
static void *
worker(void *arg)
{
	size_t self = (size_t)(uintptr_t)arg;
	char *qid, ch = 'd';

	log_set_session("relay");
	for (;;) {
		pthread_mutex_lock(&R.mu);
		while (!R.stopping && R.njobs == 0)
			pthread_cond_wait(&R.work_cv, &R.mu);
		if (R.stopping) {
			pthread_mutex_unlock(&R.mu);
			break;
		}
		qid = R.jobs[--R.njobs];
		R.busy++;
		R.inflight[self] = qid;
		pthread_mutex_unlock(&R.mu);
		process(qid);
		pthread_mutex_lock(&R.mu);
		R.inflight[self] = NULL;
		R.busy--;
		pthread_mutex_unlock(&R.mu);
		free(qid);
		pthread_mutex_lock(&R.mu);
		pthread_mutex_unlock(&R.mu);
		if (write(R.wake_pipe[1], &ch, 1) == -1)
			continue;	/* full: the dispatcher wakes anyway */
	}
	return NULL;
}

/* busy_with - is qid queued or in delivery here?  R.mu held. */
static bool
busy_with(const char *qid)
{
	size_t i;

	for (i = 0; i < R.nworkers; i++)
		if (R.inflight[i] != NULL && strcmp(R.inflight[i], qid) == 0)
			return true;
	for (i = 0; i < R.njobs; i++)
		if (strcmp(R.jobs[i], qid) == 0)
			return true;
	return false;
}

/* dispatcher - claim due entries while delivery threads are free. */
static void *
dispatcher(void *arg)
{
	struct spool_strlist ids;
	struct pollfd pfd[2];
	char drain[64];
	size_t freen, i;
	time_t now, when;
	int r, timeout_ms;

	(void)arg;
	log_set_session("relay");
	while (!R.stopping && !server_stopping()) {
		pthread_mutex_lock(&R.mu);
		freen = R.nworkers - R.busy - R.njobs;
		pthread_mutex_unlock(&R.mu);
		timeout_ms = (int)R.cfg.poll_interval * 1000;
		if (freen > 0) {
			now = time(NULL);
			memset(&ids, 0, sizeof(ids));
			r = spool_queue_claim_due(R.sp, now,
			    (uint32_t)R.cfg.lease, freen, &ids);
			if (r != SPOOL_OK)
				log_warnx("event=relay_claim_error error=%s",
				    spool_err_name(r));
			else if (ids.n > 0) {
				pthread_mutex_lock(&R.mu);
				for (i = 0; i < ids.n; i++) {
					/* A lease that ran out while our own
					 * attempt still runs: not twice. */
					if (busy_with(ids.v[i]))
						continue;
					R.jobs[R.njobs++] = ids.v[i];
					ids.v[i] = NULL;
				}
				pthread_cond_broadcast(&R.work_cv);
				pthread_mutex_unlock(&R.mu);
				freen -= ids.n;
			}
			spool_strlist_free(&ids);
			if (r == SPOOL_OK && freen > 0 &&
			    spool_queue_next_due(R.sp, &when) == SPOOL_OK &&
			    when != 0) {
				now = time(NULL);
				if (when <= now)
					timeout_ms = 1000;
				else if (when - now < R.cfg.poll_interval)
					timeout_ms = (int)(when - now) * 1000;
			}
		}
		pfd[0].fd = R.wake_pipe[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = R.stop_pipe[0];
		pfd[1].events = POLLIN;
		r = poll(pfd, 2, timeout_ms);
		if (r > 0 && (pfd[0].revents & POLLIN))
			while (read(R.wake_pipe[0], drain, sizeof(drain)) > 0)
				;
	}
	return NULL;
}

/* make_pipe - a non-blocking close-on-exec pipe. */
static int
make_pipe(int p[2])
{
	return pipe2(p, O_NONBLOCK | O_CLOEXEC);
}

int
relay_start(const struct conf *c, struct spool *sp)
{
	sigset_t block, old;
	char err[256];
	unsigned i;

	if (R.running) {
		relay_wakeup();
		return 0;
	}
	if (!conf_bool(c, "relay.enable")) {
		log_info("event=relay_disabled");
		return 0;
	}
	if (cfg_load(c, &R.cfg) != 0) {
		log_errorx("event=relay_config_error");
		return -1;
	}
	if (relay_dns_setup(c, R.cfg.dns_server) != 0) {
		log_errorx("event=relay_config_error key=relay.dns_server");
		return -1;
	}
	if (R.cfg.tls != RELAY_TLS_NONE) {
		R.tls = tls_client_new(conf_str(c, "relay.tls_ca_file"), err,
		    sizeof(err));
		if (R.tls == NULL) {
			log_errorx("event=relay_tls_error error=\"%s\"", err);
			return -1;
		}
	}
	if (make_pipe(R.stop_pipe) != 0 || make_pipe(R.wake_pipe) != 0) {
		log_error("event=relay_error what=pipe");
		return -1;
	}
	R.sp = sp;
	R.stopping = false;
	memset(&R.st, 0, sizeof(R.st));
	R.nworkers = R.cfg.max_deliveries;
	R.workers = xcalloc(R.nworkers, sizeof(*R.workers));
	R.jobs = xcalloc(R.nworkers + 1, sizeof(*R.jobs));
	R.dests = xcalloc(R.nworkers, sizeof(*R.dests));
	R.inflight = xcalloc(R.nworkers, sizeof(*R.inflight));
	R.njobs = 0;
	R.busy = 0;
	/* The threads inherit a mask without the daemon's signals, so that
	 * SIGTERM and SIGHUP reach the server loop's thread. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (i = 0; i < R.nworkers; i++) {
		pthread_attr_t attr;

		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 256 * 1024);
		if (pthread_create(&R.workers[i], &attr, worker,
		    (void *)(uintptr_t)i) != 0)
			fatalx("relay: pthread_create");
		pthread_attr_destroy(&attr);
	}
	if (pthread_create(&R.disp, NULL, dispatcher, NULL) != 0)
		fatalx("relay: pthread_create");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	R.running = true;
	log_info("event=relay_started hostname=%s deliveries=%u "
	    "per_destination=%u dns=%s", R.cfg.hostname, R.nworkers,
	    R.cfg.max_per_destination,
	    R.cfg.dns_server[0] ? R.cfg.dns_server : "system");
	return 0;
}

void
relay_stop(void)
{
	char ch = 's';
	unsigned i;
	time_t now = time(NULL);

	if (!R.running)
		return;
	pthread_mutex_lock(&R.mu);
	R.stopping = true;
	pthread_cond_broadcast(&R.work_cv);
	pthread_cond_broadcast(&R.dest_cv);
	pthread_mutex_unlock(&R.mu);
	if (write(R.stop_pipe[1], &ch, 1) == -1)
		log_warn("event=relay_stop_write");
	(void)pthread_join(R.disp, NULL);
	for (i = 0; i < R.nworkers; i++)
		(void)pthread_join(R.workers[i], NULL);
	/* Claimed but never started: due again at once. */
	for (i = 0; i < R.njobs; i++) {
		(void)spool_queue_schedule(R.sp, R.jobs[i], now);
		free(R.jobs[i]);
	}
	R.njobs = 0;
	free(R.jobs);
	free(R.workers);
	free(R.dests);
	free(R.inflight);
	R.inflight = NULL;
	R.jobs = NULL;
	R.workers = NULL;
	R.dests = NULL;
	tls_unref(&R.tls);
	for (i = 0; i < 2; i++) {
		(void)close(R.stop_pipe[i]);
		(void)close(R.wake_pipe[i]);
		R.stop_pipe[i] = R.wake_pipe[i] = -1;
	}
	R.running = false;
	log_info("event=relay_stopped attempts=%llu delivered=%llu "
	    "deferred=%llu failed=%llu dsns=%llu",
	    (unsigned long long)R.st.attempts,
	    (unsigned long long)R.st.delivered,
	    (unsigned long long)R.st.deferred,
	    (unsigned long long)R.st.failed, (unsigned long long)R.st.dsns);
}

int
relay_queue_flush(struct spool *sp, const char *qid)
{
	struct spool_queue_entry *v = NULL;
	size_t n = 0, i;
	time_t now = time(NULL);
	int r;

	if (qid != NULL) {
		r = spool_queue_schedule(sp, qid, now);
		relay_wakeup();
		return r;
	}
	r = spool_queue_list(sp, &v, &n);
	if (r != SPOOL_OK)
		return r;
	for (i = 0; i < n && r == SPOOL_OK; i++)
		if (!v[i].held)
			r = spool_queue_schedule(sp, v[i].id, now);
	spool_queue_list_free(&v, n);
	relay_wakeup();
	return r;
}
