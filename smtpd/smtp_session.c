/*
 * smtp_session.c - one SMTP session of gms-smtpd, from the greeting to
 * QUIT, on its own thread with blocking I/O (RFC 5321, with ESMTP
 * PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, STARTTLS,
 * AUTH, CHUNKING/BINARYMIME, DSN and LIMITS).
 *
 * The session is an explicit state machine (enum smtp_state, changed only
 * by smtp_enter_state, which logs old -> new).  Commands come from one
 * static table of {verb, handler, flags}; the dispatcher checks the flags
 * (before HELO, before TLS, before AUTH) once, so no handler that touches
 * the directory or the spool is reachable on a submission port before
 * TLS and AUTH.  Handlers keep the pure checks (check_*: validate, reply
 * on error) apart from the actions (proceed_*).  The mail transaction is
 * its own object, created at MAIL and freed at RSET, after the message,
 * or on error.
 *
 * Security: replies to a pipelined group are held while more input is
 * buffered (conn flushes before it blocks); STARTTLS throws away whatever
 * the client pipelined in the clear; the end of DATA is decided by the
 * byte filter in smtp_data.c only; the final 250 follows the spool's
 * durable commit and names its queue id.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "smtpd/smtp_private.h"
#include "relay/relay.h"

struct smtpd_ctx smtpd_ctx;

enum smtp_state {
	SMTP_STATE_CONNECTED = 0,	/* before the greeting */
	SMTP_STATE_GREETED,		/* greeting sent, HELO/EHLO expected */
	SMTP_STATE_READY,		/* after HELO: MAIL allowed */
	SMTP_STATE_MAIL,		/* MAIL accepted, no recipient yet */
	SMTP_STATE_RCPT,		/* at least one recipient */
	SMTP_STATE_DATA,		/* reading DATA */
	SMTP_STATE_BDAT,		/* between BDAT chunks */
	SMTP_STATE_AUTH,		/* inside a SASL exchange */
	SMTP_STATE_TLS,			/* TLS handshake */
	SMTP_STATE_QUIT,		/* closing */
};

static const char *
smtp_state_name(int st)
{
	static __thread char unknown[32];

	switch (st) {
	case SMTP_STATE_CONNECTED:	return "connected";
	case SMTP_STATE_GREETED:	return "greeted";
	case SMTP_STATE_READY:		return "ready";
	case SMTP_STATE_MAIL:		return "mail";
	case SMTP_STATE_RCPT:		return "rcpt";
	case SMTP_STATE_DATA:		return "data";
	case SMTP_STATE_BDAT:		return "bdat";
	case SMTP_STATE_AUTH:		return "auth";
	case SMTP_STATE_TLS:		return "tls";
	case SMTP_STATE_QUIT:		return "quit";
	default:
		(void)gms_snprintf(unknown, sizeof(unknown), "unknown (%d)", st);
		return unknown;
	}
}

/* One recipient accepted at RCPT. */
struct smtp_rcpt {
	char			 addr[SMTP_PATH_MAX + 1];
	struct smtp_rcpt_params	 params;
	bool			 remote;	/* relay (authenticated sender) */
	bool			 list;		/* a distribution list */
	struct dir_resolution	*res;		/* owned; local only */
};

/* The mail transaction, MAIL to the end of the message. */
struct smtp_tx {
	char			 id[40];	/* session id + number */
	struct smtp_path	 from;
	struct smtp_mail_params	 mp;
	int			 spf;		/* enum smtp_auth_result */
	char			 spf_domain[SMTP_DOMAIN_MAX + 1];
	struct smtp_rcpt	*rcpt;		/* owned, nrcpt */
	size_t			 nrcpt;
	struct buf		 msg;		/* the message as received */
	struct smtp_data	 data;
	bool			 bdat;		/* BDAT started */
};

struct smtp_sess {
	struct session		*s;		/* borrowed */
	struct conn		*c;		/* borrowed (s->conn) */
	const struct conf	*conf;		/* borrowed (s->conf) */
	int			 state;
	char			 hostname[256];
	char			 authserv_id[256];
	char			 helo[SMTP_DOMAIN_MAX + 1];
	bool			 esmtp;
	bool			 helo_literal;
	int			 helo_spf;
	char			*user;		/* owned: authenticated user */
	struct smtp_tx		*tx;		/* owned */
	unsigned int		 errors;
	unsigned int		 junk;
	unsigned int		 ntx;		/* transactions started */
	unsigned int		 nauth;		/* AUTH attempts */
	/* Settings, read once. */
	size_t			 max_line;
	uint64_t		 max_msg;
	unsigned int		 max_rcpt;
	unsigned int		 max_tx;
	unsigned int		 max_errors;
	unsigned int		 max_junk;
	bool			 normalise;
	bool			 accept_8bit_headers;
};

/* AUTH commands in one session before it is closed. */
#define SMTP_AUTH_TRIES	5
/* Longest AUTH command line (RFC 4954 4: 12288 octets). */
#define SMTP_AUTH_LINE	12288

/* Command flags, checked by the dispatcher. */
#define CMD_F_PRETLS	0x01	/* allowed before TLS where TLS is required */
#define CMD_F_NEEDAUTH	0x02	/* needs AUTH where AUTH is required */
#define CMD_F_ENDGROUP	0x04	/* ends a pipeline group (RFC 2920) */
#define CMD_F_JUNK	0x08	/* counts as junk (NOOP, VRFY, unknown) */
#define CMD_F_NEEDHELO	0x10	/* needs HELO/EHLO first */

struct smtp_cmd {
	const char	*verb;
	int		(*handler)(struct smtp_sess *, const char *, size_t);
	unsigned int	 flags;
	unsigned long	 count;		/* atomic; for smtp_cmd_stats_log */
};

static int cmd_helo(struct smtp_sess *, const char *, size_t);
static int cmd_ehlo(struct smtp_sess *, const char *, size_t);
static int cmd_starttls(struct smtp_sess *, const char *, size_t);
static int cmd_auth(struct smtp_sess *, const char *, size_t);
static int cmd_mail(struct smtp_sess *, const char *, size_t);
static int cmd_rcpt(struct smtp_sess *, const char *, size_t);
static int cmd_data(struct smtp_sess *, const char *, size_t);
static int cmd_bdat(struct smtp_sess *, const char *, size_t);
static int cmd_rset(struct smtp_sess *, const char *, size_t);
static int cmd_noop(struct smtp_sess *, const char *, size_t);
static int cmd_quit(struct smtp_sess *, const char *, size_t);
static int cmd_vrfy(struct smtp_sess *, const char *, size_t);
static int cmd_expn(struct smtp_sess *, const char *, size_t);
static int cmd_help(struct smtp_sess *, const char *, size_t);
static int cmd_http(struct smtp_sess *, const char *, size_t);
static int cmd_unknown(struct smtp_sess *, const char *, size_t);

static struct smtp_cmd smtp_cmds[] = {
	{ "HELO", cmd_helo, CMD_F_PRETLS | CMD_F_ENDGROUP, 0 },
	{ "EHLO", cmd_ehlo, CMD_F_PRETLS | CMD_F_ENDGROUP, 0 },
	{ "STARTTLS", cmd_starttls, CMD_F_PRETLS | CMD_F_ENDGROUP |
	    CMD_F_NEEDHELO, 0 },
	{ "AUTH", cmd_auth, CMD_F_ENDGROUP | CMD_F_NEEDHELO, 0 },
	{ "MAIL", cmd_mail, CMD_F_NEEDAUTH | CMD_F_NEEDHELO, 0 },
	{ "RCPT", cmd_rcpt, CMD_F_NEEDAUTH | CMD_F_NEEDHELO, 0 },
	{ "DATA", cmd_data, CMD_F_NEEDAUTH | CMD_F_NEEDHELO | CMD_F_ENDGROUP, 0 },
	{ "BDAT", cmd_bdat, CMD_F_NEEDAUTH | CMD_F_NEEDHELO, 0 },
	{ "RSET", cmd_rset, CMD_F_PRETLS, 0 },
	{ "NOOP", cmd_noop, CMD_F_PRETLS | CMD_F_ENDGROUP | CMD_F_JUNK, 0 },
	{ "QUIT", cmd_quit, CMD_F_PRETLS | CMD_F_ENDGROUP, 0 },
	{ "VRFY", cmd_vrfy, CMD_F_JUNK | CMD_F_ENDGROUP, 0 },
	{ "EXPN", cmd_expn, CMD_F_JUNK | CMD_F_ENDGROUP, 0 },
	{ "HELP", cmd_help, CMD_F_PRETLS | CMD_F_JUNK | CMD_F_ENDGROUP, 0 },
	/* A web browser or proxy aimed at us: hang up at once. */
	{ "GET", cmd_http, CMD_F_PRETLS, 0 },
	{ "POST", cmd_http, CMD_F_PRETLS, 0 },
	{ "CONNECT", cmd_http, CMD_F_PRETLS, 0 },
	/* The sentinel: every unknown verb lands here. */
	{ NULL, cmd_unknown, CMD_F_PRETLS | CMD_F_JUNK | CMD_F_ENDGROUP, 0 },
};

void
smtp_cmd_stats_log(void)
{
	size_t i;

	for (i = 0; i < GMS_NELEM(smtp_cmds); i++)
		if (__atomic_load_n(&smtp_cmds[i].count, __ATOMIC_RELAXED) > 0)
			log_info("event=command_stats verb=%s count=%lu",
			    smtp_cmds[i].verb ? smtp_cmds[i].verb : "(unknown)",
			    __atomic_load_n(&smtp_cmds[i].count,
			    __ATOMIC_RELAXED));
}

static void
smtp_enter_state(struct smtp_sess *ss, int st)
{
	if (ss->state == st)
		return;
	log_trace(TRACE_SMTP, "state %s -> %s", smtp_state_name(ss->state),
	    smtp_state_name(st));
	ss->state = st;
}

/* reply - send one reply line (CRLF added); 4xx/5xx count as errors. */
static void GMS_PRINTF(2, 3)
reply(struct smtp_sess *ss, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		panic("reply: format");
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	log_trace(TRACE_SMTP, "reply=\"%.*s\"", n, line);
	if (line[0] == '4' || line[0] == '5')
		ss->errors++;
	line[n++] = '\r';
	line[n++] = '\n';
	(void)conn_write(ss->c, line, (size_t)n);
}

/* esc - a log-safe copy of peer text (per-thread static buffer). */
static const char *
esc(const char *s)
{
	static __thread char b[2][300];
	static __thread int i;

	i ^= 1;
	return log_escape(b[i], sizeof(b[i]), s, strlen(s), 256);
}

/* ------------------------------------------------------------------ */
/* The transaction. */

static void
tx_free(struct smtp_tx **txp)
{
	struct smtp_tx *tx = *txp;
	size_t i;

	if (tx == NULL)
		return;
	for (i = 0; i < tx->nrcpt; i++)
		directory_resolution_free(&tx->rcpt[i].res);
	free(tx->rcpt);
	buf_free(&tx->msg);
	free(tx);
	*txp = NULL;
}

/* tx_reset - end the transaction, back to READY (or GREETED). */
static void
tx_reset(struct smtp_sess *ss)
{
	tx_free(&ss->tx);
	smtp_enter_state(ss, ss->helo[0] ? SMTP_STATE_READY : SMTP_STATE_GREETED);
}

static bool
is_tls(const struct smtp_sess *ss)
{
	return conn_is_tls(ss->c);
}

/* tls_required - listeners where STARTTLS must precede AUTH and MAIL. */
static bool
tls_required(const struct smtp_sess *ss)
{
	return ss->s->kind != SMTP_KIND_MTA;
}

static bool
auth_required(const struct smtp_sess *ss)
{
	return ss->s->kind != SMTP_KIND_MTA;
}

/* ------------------------------------------------------------------ */
/* HELO / EHLO. */

static const char *
check_helo(struct smtp_sess *ss, const char *arg, size_t len, bool *lit_r)
{
	(void)ss;
	while (len > 0 && (arg[len - 1] == ' ' || arg[len - 1] == '\t'))
		len--;
	if (len == 0)
		return "501 5.5.4 Syntax: EHLO hostname";
	if (len >= SMTP_DOMAIN_MAX || !smtp_helo_valid(arg, len, lit_r))
		return "501 5.5.4 Invalid domain name";
	return NULL;
}

static void
proceed_helo(struct smtp_sess *ss, const char *arg, size_t len, bool esmtp,
    bool literal)
{
	while (len > 0 && (arg[len - 1] == ' ' || arg[len - 1] == '\t'))
		len--;
	memcpy(ss->helo, arg, len);
	ss->helo[len] = '\0';
	if (!literal)
		gms_lowercase(ss->helo);
	ss->helo_literal = literal;
	ss->esmtp = esmtp;
	/* A new HELO resets any transaction (RFC 5321 4.1.4). */
	tx_free(&ss->tx);
	ss->helo_spf = SMTP_AR_NONE;
	if (ss->s->kind == SMTP_KIND_MTA && !literal && smtpd_ctx.spf_ready &&
	    conf_bool(ss->conf, "smtpd.spf"))
		ss->helo_spf = smtp_spf_check(ss->s->peer_addr, ss->helo, NULL);
	smtp_enter_state(ss, SMTP_STATE_READY);
}

static int
cmd_helo(struct smtp_sess *ss, const char *arg, size_t len)
{
	const char *err;
	bool lit;

	if ((err = check_helo(ss, arg, len, &lit)) != NULL) {
		reply(ss, "%s", err);
		return 0;
	}
	proceed_helo(ss, arg, len, false, lit);
	reply(ss, "250 %s", ss->hostname);
	return 0;
}

static int
cmd_ehlo(struct smtp_sess *ss, const char *arg, size_t len)
{
	const char *err;
	bool lit;

	if ((err = check_helo(ss, arg, len, &lit)) != NULL) {
		reply(ss, "%s", err);
		return 0;
	}
	proceed_helo(ss, arg, len, true, lit);
	reply(ss, "250-%s Hello %s [%s]", ss->hostname, ss->helo,
	    ss->s->peer_addr);
	reply(ss, "250-PIPELINING");
	reply(ss, "250-SIZE %llu", (unsigned long long)ss->max_msg);
	reply(ss, "250-8BITMIME");
	reply(ss, "250-SMTPUTF8");
	reply(ss, "250-ENHANCEDSTATUSCODES");
	reply(ss, "250-CHUNKING");
	reply(ss, "250-BINARYMIME");
	reply(ss, "250-DSN");
	if (!is_tls(ss) && ss->s->tls != NULL)
		reply(ss, "250-STARTTLS");
	if (is_tls(ss) && ss->user == NULL)
		reply(ss, "250-AUTH %s", gsasl_mechs());
	reply(ss, "250 LIMITS RCPTMAX=%u MAILMAX=%u", ss->max_rcpt, ss->max_tx);
	return 0;
}

/* ------------------------------------------------------------------ */
/* STARTTLS. */

static int
cmd_starttls(struct smtp_sess *ss, const char *arg, size_t len)
{
	size_t discarded = 0;

	(void)arg;
	if (len != 0) {
		reply(ss, "501 5.5.4 Syntax: STARTTLS");
		return 0;
	}
	if (is_tls(ss)) {
		reply(ss, "503 5.5.1 TLS already active");
		return 0;
	}
	if (ss->s->tls == NULL) {
		reply(ss, "454 4.7.0 TLS not available");
		return 0;
	}
	reply(ss, "220 2.0.0 Ready to start TLS");
	if (conn_flush(ss->c) < 0)
		return -1;
	smtp_enter_state(ss, SMTP_STATE_TLS);
	/* Security: whatever was pipelined after STARTTLS in the clear is
	 * thrown away by conn before the handshake (CVE-2011-0411 family). */
	if (conn_starttls_server(ss->c, ss->s->tls, &discarded) != 0) {
		log_info("event=starttls_failed");
		return -1;
	}
	if (discarded > 0)
		log_warnx("event=starttls_discarded bytes=%zu reason=\"data pipelined "
		    "after STARTTLS\"", discarded);
	log_info("event=starttls tls=\"%s\"", conn_tls_info(ss->c));
	/* RFC 3207 4.2: forget everything learnt before TLS. */
	tx_free(&ss->tx);
	ss->helo[0] = '\0';
	ss->esmtp = false;
	smtp_enter_state(ss, SMTP_STATE_GREETED);
	return 0;
}

/* ------------------------------------------------------------------ */
/* AUTH. */

struct auth_check {
	struct smtp_sess	*ss;
	bool			 locked;
};

/* auth_checkpass - the gsasl password callback: throttle, then bind. */
static int
auth_checkpass(void *arg, const char *user, const char *pass, size_t passlen)
{
	struct auth_check *ac = arg;
	struct throttle_ticket tk;
	int delay, r;

	delay = throttle_begin(smtpd_ctx.throttle, ac->ss->s->peer_addr, user,
	    &tk);
	if (delay < 0) {
		ac->locked = true;
		log_warnx("event=auth_locked_out user=%s", esc(user));
		return 0;
	}
	if (delay > 0) {
		struct timespec ts;

		ts.tv_sec = delay / 1000;
		ts.tv_nsec = (long)(delay % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	if (passlen == 0)
		r = 0;		/* never bind with an empty password */
	else
		r = directory_authenticate(smtpd_ctx.dir, user, pass, passlen,
		    NULL);
	if (r < 0)
		r = -1;
	throttle_end(smtpd_ctx.throttle, &tk, r);
	return r;
}

static const char *
check_auth(struct smtp_sess *ss)
{
	if (ss->user != NULL)
		return "503 5.5.1 Already authenticated";
	if (ss->tx != NULL)
		return "503 5.5.1 AUTH not allowed during a transaction";
	if (!is_tls(ss))
		return "538 5.7.11 Encryption required for requested "
		    "authentication mechanism";
	if (smtpd_ctx.dir == NULL)
		return "454 4.7.0 Temporary authentication failure";
	return NULL;
}

/* auth_read - read one client response line of the SASL exchange into
 * b (decoded).  Returns 1 ok, 0 cancelled ("*"), -2 bad base64, or a
 * negative conn status. */
static int
auth_read(struct smtp_sess *ss, struct buf *b)
{
	struct line l;
	int r;

	r = conn_getline(ss->c, &l, 16384);
	if (r != CONN_OK)
		return r == CONN_EOF ? CONN_ERR : r;
	if (l.too_long || l.has_nul)
		return -2;
	if (l.len == 1 && l.data[0] == '*')
		return 0;
	buf_reset(b);
	if (base64_decode(b, l.data, l.len) != 0)
		return -2;
	return 1;
}

static int
cmd_auth(struct smtp_sess *ss, const char *arg, size_t len)
{
	struct auth_check ac = { ss, false };
	struct buf in = BUF_INIT(16384), out = BUF_INIT(16384);
	struct cursor c;
	struct gsasl *g = NULL;
	const char *err, *mech_p, *ir_p, *sout;
	char mech[32];
	size_t mlen, irlen, soutlen;
	int r, ret = 0;

	if ((err = check_auth(ss)) != NULL) {
		reply(ss, "%s", err);
		return 0;
	}
	cur_init(&c, arg, len);
	mlen = cur_take_until(&c, " ", &mech_p);
	if (mlen == 0 || mlen >= sizeof(mech)) {
		reply(ss, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		return 0;
	}
	memcpy(mech, mech_p, mlen);
	mech[mlen] = '\0';
	cur_skip_ws(&c);
	irlen = cur_take_until(&c, " ", &ir_p);
	if (!cur_eof(&c)) {
		reply(ss, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		return 0;
	}
	if (++ss->nauth > SMTP_AUTH_TRIES) {
		reply(ss, "421 4.7.0 Too many AUTH attempts, closing");
		return -1;
	}
	smtp_enter_state(ss, SMTP_STATE_AUTH);
	g = gsasl_new("smtp", ss->s, auth_checkpass, &ac);
	if (irlen == 1 && ir_p[0] == '=') {
		r = gsasl_start(g, mech, "", 0, &sout, &soutlen);
	} else if (irlen > 0) {
		if (base64_decode(&in, ir_p, irlen) != 0) {
			reply(ss, "501 5.5.2 Invalid base64 data");
			goto done;
		}
		r = gsasl_start(g, mech, in.data ? in.data : "", in.len, &sout,
		    &soutlen);
	} else
		r = gsasl_start(g, mech, NULL, 0, &sout, &soutlen);
	while (r == GSASL_CONTINUE) {
		buf_reset(&out);
		if (base64_encode(&out, sout, soutlen) != 0) {
			reply(ss, "454 4.7.0 Temporary authentication failure");
			goto done;
		}
		reply(ss, "334 %s", buf_cstr(&out));
		r = auth_read(ss, &in);
		if (r == 0) {
			reply(ss, "501 5.0.0 Authentication cancelled");
			goto done;
		}
		if (r == -2) {
			reply(ss, "501 5.5.2 Invalid base64 data");
			goto done;
		}
		if (r < 0) {
			ret = -1;
			goto done;
		}
		r = gsasl_step(g, in.data ? in.data : "", in.len, &sout,
		    &soutlen);
	}
	switch (r) {
	case GSASL_DONE:
		ss->user = xstrdup(gsasl_user(g));
		log_info("event=auth_ok user=%s mech=%s", esc(ss->user), esc(mech));
		reply(ss, "235 2.7.0 Authentication successful");
		break;
	case GSASL_FAIL:
		log_info("event=auth_failed mech=%s locked=%d", esc(mech), ac.locked);
		if (ac.locked)
			reply(ss, "454 4.7.0 Too many failed attempts, try "
			    "again later");
		else
			reply(ss, "535 5.7.8 Authentication credentials invalid");
		break;
	case GSASL_TEMPFAIL:
		reply(ss, "454 4.7.0 Temporary authentication failure");
		break;
	case GSASL_BADMECH:
		reply(ss, "504 5.5.4 Unrecognized authentication type");
		break;
	default:
		reply(ss, "454 4.7.0 Temporary authentication failure");
		break;
	}
done:
	gsasl_free(&g);
	buf_wipe_free(&in);
	buf_wipe_free(&out);
	if (ss->state == SMTP_STATE_AUTH)
		smtp_enter_state(ss, SMTP_STATE_READY);
	return ret;
}

/* ------------------------------------------------------------------ */
/* MAIL. */

static const char *
check_mail(struct smtp_sess *ss, const char *arg, size_t len,
    struct smtp_path *from, struct smtp_mail_params *mp)
{
	const char *err;
	int r;

	if (ss->tx != NULL)
		return "503 5.5.1 Nested MAIL command";
	if (ss->ntx >= ss->max_tx)
		return "452 4.5.3 Too many transactions in this session";
	if ((err = smtp_parse_mail(arg, len, from, mp)) != NULL)
		return err;
	if (mp->has_size && mp->size > ss->max_msg)
		return "552 5.3.4 Message size exceeds fixed maximum message size";
	if (ss->user != NULL) {
		/* The sender restriction: own address or an owned alias. */
		if (from->null)
			return "553 5.7.1 Sender address rejected: not owned "
			    "by you";
		r = directory_may_send_as(smtpd_ctx.dir, ss->user, from->addr);
		if (r < 0)
			return "451 4.4.3 Directory unavailable, try again later";
		if (r == 0) {
			log_info("event=sender_refused user=%s from=%s",
			    esc(ss->user), esc(from->addr));
			return "553 5.7.1 Sender address rejected: not owned "
			    "by you";
		}
	}
	return NULL;
}

static int
cmd_mail(struct smtp_sess *ss, const char *arg, size_t len)
{
	struct smtp_path from;
	struct smtp_mail_params mp;
	const char *err;
	struct smtp_tx *tx;
	int spf = SMTP_AR_NONE;

	if ((err = check_mail(ss, arg, len, &from, &mp)) != NULL) {
		reply(ss, "%s", err);
		return 0;
	}
	/* SPF for mail from the world (RFC 7208): MAIL FROM, or the HELO
	 * identity for the null sender. */
	if (ss->user == NULL && ss->s->kind == SMTP_KIND_MTA &&
	    smtpd_ctx.spf_ready && conf_bool(ss->conf, "smtpd.spf")) {
		if (from.null || from.literal)
			spf = ss->helo_spf;
		else
			spf = smtp_spf_check(ss->s->peer_addr, ss->helo,
			    from.addr);
		log_info("event=spf result=%s from=%s helo=%s", smtp_ar_name(spf),
		    esc(from.addr), esc(ss->helo));
		if (spf == SMTP_AR_FAIL &&
		    conf_bool(ss->conf, "smtpd.spf_reject_fail")) {
			reply(ss, "550 5.7.23 SPF validation failed for %s",
			    from.null ? "HELO" : from.domain);
			return 0;
		}
		if (spf == SMTP_AR_TEMPERROR) {
			reply(ss, "451 4.4.3 SPF temporary error, try again "
			    "later");
			return 0;
		}
	}
	tx = xcalloc(1, sizeof(*tx));
	ss->ntx++;
	(void)gms_snprintf(tx->id, sizeof(tx->id), "%s.%u", ss->s->id, ss->ntx);
	tx->from = from;
	tx->mp = mp;
	tx->spf = spf;
	gms_strlcpy(tx->spf_domain, from.null ? ss->helo : from.domain,
	    sizeof(tx->spf_domain));
	buf_init(&tx->msg, (size_t)ss->max_msg + 1);
	ss->tx = tx;
	smtp_enter_state(ss, SMTP_STATE_MAIL);
	log_info("event=mail tx=%s from=<%s> size=%llu body=%d utf8=%d", tx->id,
	    esc(from.addr), (unsigned long long)mp.size, mp.body, mp.smtputf8);
	reply(ss, "250 2.1.0 Sender OK");
	return 0;
}

/* ------------------------------------------------------------------ */
/* RCPT. */

/*
 * rcpt_quota - would a message of size bytes still fit in the mailbox?
 * The directory holds the quota an administrator set; the spool enforces
 * its own copy at delivery, so a difference is written into the spool
 * first (the spool then refuses over-quota deliveries by itself).
 * Returns 1 fits, 0 full, -1 temporary failure.
 */
static int
rcpt_quota(const char *user, uint64_t size)
{
	struct dir_mailbox mb;
	struct spool_quota q;
	int r;

	if (smtpd_ctx.spool == NULL)
		return -1;
	r = directory_mailbox(smtpd_ctx.dir, user, &mb);
	if (r == DIR_TEMPFAIL)
		return -1;
	if (r == DIR_FOUND && (mb.quota_bytes != 0 || mb.quota_messages != 0)) {
		r = spool_quota_get(smtpd_ctx.spool, user, &q);
		if (r == SPOOL_ENOENT) {
			r = spool_user_create(smtpd_ctx.spool, user);
			if (r != SPOOL_OK && r != SPOOL_EEXIST)
				return -1;
			r = spool_quota_get(smtpd_ctx.spool, user, &q);
		}
		if (r != SPOOL_OK)
			return -1;
		if (q.bytes_limit != mb.quota_bytes ||
		    q.messages_limit != mb.quota_messages) {
			r = spool_quota_set(smtpd_ctx.spool, user, mb.quota_bytes,
			    mb.quota_messages);
			if (r != SPOOL_OK)
				return -1;
		}
	}
	r = spool_quota_check(smtpd_ctx.spool, user, size);
	if (r == SPOOL_EQUOTA_BYTES || r == SPOOL_EQUOTA_MESSAGES)
		return 0;
	if (r == SPOOL_OK || r == SPOOL_ENOENT || r == SPOOL_ETOOBIG)
		return 1;	/* too big is the size limit's business */
	return -1;
}

static const char *
check_rcpt_local(struct smtp_sess *ss, struct smtp_path *to,
    struct smtp_rcpt *rc)
{
	struct dir_resolution *res = NULL;
	const char *sender;
	size_t i;
	int r;

	/* Security: the percent hack, bang paths and quoted '@' never
	 * name one of our mailboxes; refuse them like any unknown user. */
	if (to->special || to->quoted)
		return "550 5.1.1 Recipient address rejected: user unknown";
	r = directory_resolve(smtpd_ctx.dir, to->addr, &res);
	if (r == DIR_TEMPFAIL)
		return "451 4.4.3 Directory unavailable, try again later";
	if (r == DIR_PERMFAIL)
		return "550 5.7.1 Recipient list cannot be expanded";
	if (r != DIR_FOUND)
		return "550 5.1.1 Recipient address rejected: user unknown";
	if (res->kind == DIR_KIND_LIST) {
		sender = ss->tx->from.null ? "" : ss->tx->from.addr;
		if (ss->user != NULL)
			sender = ss->user;
		r = directory_list_may_post(smtpd_ctx.dir, res->address, sender);
		if (r < 0) {
			directory_resolution_free(&res);
			return "451 4.4.3 Directory unavailable, try again later";
		}
		if (r == 0) {
			directory_resolution_free(&res);
			return "550 5.7.1 Not allowed to post to this list";
		}
		rc->list = true;
	} else {
		for (i = 0; i < res->ntargets; i++) {
			if (!res->targets[i].local)
				continue;
			if (res->targets[i].status != DIR_STATUS_ACTIVE) {
				directory_resolution_free(&res);
				return "550 5.2.1 Mailbox disabled";
			}
			r = rcpt_quota(res->targets[i].address,
			    ss->tx->mp.has_size ? ss->tx->mp.size : 1);
			if (r <= 0) {
				directory_resolution_free(&res);
				return r < 0 ? "451 4.3.0 Mail store unavailable, "
				    "try again later" : "452 4.2.2 Mailbox full";
			}
		}
	}
	rc->res = res;
	return NULL;
}

static const char *
check_rcpt(struct smtp_sess *ss, const char *arg, size_t len,
    struct smtp_rcpt *rc)
{
	struct smtp_path to;
	const char *err, *pm;
	char addr[SMTP_PATH_MAX + 1];
	int r;

	if (ss->tx == NULL)
		return "503 5.5.1 Need MAIL command first";
	if ((err = smtp_parse_rcpt(arg, len, ss->tx->mp.smtputf8, &to,
	    &rc->params)) != NULL)
		return err;
	if (ss->tx->nrcpt >= ss->max_rcpt)
		return "452 4.5.3 Too many recipients";
	if (to.domain[0] == '\0') {
		/* "<postmaster>": the configured postmaster address. */
		pm = conf_str(ss->conf, "smtpd.postmaster");
		if (pm[0] == '\0' || strchr(pm, '@') == NULL)
			return "550 5.1.1 Recipient address rejected: user unknown";
		if (gms_snprintf(addr, sizeof(addr), "<%s>", pm) != 0)
			return "550 5.1.1 Recipient address rejected: user unknown";
		{
			struct cursor c;

			cur_init(&c, addr, strlen(addr));
			if (smtp_parse_path(&c, false, false, &to) != NULL)
				return "550 5.1.1 Recipient address rejected: "
				    "user unknown";
		}
	}
	gms_strlcpy(rc->addr, to.addr, sizeof(rc->addr));
	if (to.literal) {
		/* Address literals are never ours, and relaying to them only
		 * helps abuse: refuse for everyone. */
		return ss->user ? "550 5.1.2 Domain literals not accepted" :
		    "554 5.7.1 Relay access denied";
	}
	r = directory_domain(smtpd_ctx.dir, to.domain, NULL);
	if (r == DIR_TEMPFAIL)
		return "451 4.4.3 Directory unavailable, try again later";
	if (r == DIR_FOUND)
		return check_rcpt_local(ss, &to, rc);
	/* Not ours: relay only for an authenticated sender. */
	if (ss->user == NULL)
		return "554 5.7.1 Relay access denied";
	rc->remote = true;
	return NULL;
}

static int
cmd_rcpt(struct smtp_sess *ss, const char *arg, size_t len)
{
	struct smtp_rcpt rc;
	const char *err;
	struct smtp_tx *tx;

	memset(&rc, 0, sizeof(rc));
	if ((err = check_rcpt(ss, arg, len, &rc)) != NULL) {
		if (ss->tx != NULL)
			log_info("event=rcpt_refused tx=%s to=%s reply=\"%s\"",
			    ss->tx->id, esc(rc.addr), err);
		reply(ss, "%s", err);
		return 0;
	}
	tx = ss->tx;
	tx->rcpt = xreallocarray(tx->rcpt, tx->nrcpt + 1, sizeof(*tx->rcpt));
	tx->rcpt[tx->nrcpt++] = rc;
	smtp_enter_state(ss, SMTP_STATE_RCPT);
	log_info("event=rcpt tx=%s to=<%s> remote=%d", tx->id, esc(rc.addr),
	    rc.remote);
	reply(ss, "250 2.1.5 Recipient OK");
	return 0;
}

/* ------------------------------------------------------------------ */
/* The end of a message: checks, headers, DKIM/DMARC, delivery. */

static void
date_rfc5322(char *dst, size_t len)
{
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	if (strftime(dst, len, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		dst[0] = '\0';
}

/* add_received - the Received field of RFC 5321 4.4. */
static void
add_received(struct smtp_sess *ss, struct buf *b)
{
	char date[64];
	const char *proto;
	bool tls = is_tls(ss), auth = ss->user != NULL;

	date_rfc5322(date, sizeof(date));
	if (ss->tx->mp.smtputf8)
		proto = auth ? (tls ? "UTF8SMTPSA" : "UTF8SMTPA") :
		    (tls ? "UTF8SMTPS" : "UTF8SMTP");
	else if (ss->esmtp)
		proto = auth ? (tls ? "ESMTPSA" : "ESMTPA") :
		    (tls ? "ESMTPS" : "ESMTP");
	else
		proto = "SMTP";
	(void)buf_printf(b, "Received: from %s ([%s])\r\n\tby %s with %s",
	    ss->helo, ss->s->peer_addr, ss->hostname, proto);
	if (tls)
		(void)buf_printf(b, "\r\n\t(%s)", conn_tls_info(ss->c));
	(void)buf_printf(b, "\r\n\tid %s; %s\r\n", ss->tx->id, date);
}

/* ar_token - copy s keeping only characters safe in an A-R value. */
static void
ar_token(char *dst, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s != '\0' && o + 1 < len; s++) {
		char ch = *s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		    ch == '_' || ch == '@' || ch == '+')
			dst[o++] = ch;
	}
	dst[o] = '\0';
}

struct msg_auth {
	struct smtp_dkim_sig	sigs[SMTP_DKIM_MAXSIGS];
	size_t			nsigs;
	int			dmarc;		/* enum smtp_auth_result */
	int			action;		/* enum smtp_dmarc_action */
	char			policy[16];
	char			from_domain[SMTP_DOMAIN_MAX + 1];
	bool			checked;
};

static void
add_auth_results(struct smtp_sess *ss, const struct msg_auth *ma,
    struct buf *b)
{
	char v1[300], v2[300];
	size_t i;

	(void)buf_printf(b, "Authentication-Results: %s", ss->authserv_id);
	if (!ma->checked) {
		(void)buf_printf(b, "; none\r\n");
		return;
	}
	ar_token(v1, sizeof(v1), ss->tx->from.null ? ss->helo :
	    (ss->tx->from.quoted ? ss->tx->from.domain : ss->tx->from.addr));
	(void)buf_printf(b, ";\r\n\tspf=%s smtp.%s=%s", smtp_ar_name(ss->tx->spf),
	    ss->tx->from.null ? "helo" : "mailfrom", v1);
	if (ma->nsigs == 0)
		(void)buf_printf(b, ";\r\n\tdkim=none");
	for (i = 0; i < ma->nsigs; i++) {
		ar_token(v1, sizeof(v1), ma->sigs[i].domain);
		ar_token(v2, sizeof(v2), ma->sigs[i].selector);
		(void)buf_printf(b, ";\r\n\tdkim=%s header.d=%s header.s=%s",
		    smtp_ar_name(ma->sigs[i].result), v1, v2);
		if (ma->sigs[i].algo[0] != '\0') {
			ar_token(v1, sizeof(v1), ma->sigs[i].algo);
			(void)buf_printf(b, " header.a=%s", v1);
		}
	}
	if (ma->from_domain[0] != '\0') {
		ar_token(v1, sizeof(v1), ma->from_domain);
		(void)buf_printf(b, ";\r\n\tdmarc=%s", smtp_ar_name(ma->dmarc));
		if (ma->policy[0] != '\0')
			(void)buf_printf(b, " policy.dmarc=%s", ma->policy);
		(void)buf_printf(b, " header.from=%s", v1);
	} else
		(void)buf_printf(b, ";\r\n\tdmarc=none");
	(void)buf_printf(b, "\r\n");
}

/* deliver - one spool transaction for every local target and the remote
 * recipients; sends the final reply. */
static void
deliver(struct smtp_sess *ss, const char *msg, size_t len, bool junk)
{
	struct smtp_tx *tx = ss->tx;
	struct spool_delivery d;
	struct spool_local_rcpt *loc = NULL;
	struct spool_remote_rcpt *rem = NULL;
	size_t nloc = 0, nrem = 0, i, j, k, ok = 0, quota = 0;
	char qid[SPOOL_QID_SIZE];
	int r, qr;

	for (i = 0; i < tx->nrcpt; i++) {
		struct smtp_rcpt *rc = &tx->rcpt[i];

		if (rc->remote) {
			rem = xreallocarray(rem, nrem + 1, sizeof(*rem));
			memset(&rem[nrem], 0, sizeof(*rem));
			rem[nrem].address = rc->addr;
			rem[nrem].orcpt = rc->params.orcpt[0] ? rc->params.orcpt :
			    NULL;
			rem[nrem].notify =
			    ((rc->params.notify & SMTP_NOTIFY_SUCCESS) ?
			    SPOOL_NOTIFY_SUCCESS : 0) |
			    ((rc->params.notify & SMTP_NOTIFY_FAILURE) ?
			    SPOOL_NOTIFY_FAILURE : 0) |
			    ((rc->params.notify & SMTP_NOTIFY_DELAY) ?
			    SPOOL_NOTIFY_DELAY : 0) |
			    ((rc->params.notify & SMTP_NOTIFY_NEVER) ?
			    SPOOL_NOTIFY_NEVER : 0);
			nrem++;
			continue;
		}
		for (j = 0; rc->res != NULL && j < rc->res->ntargets; j++) {
			const struct dir_target *t = &rc->res->targets[j];
			bool dup = false;

			if (!t->local) {
				/* An alias or list member outside: forward. */
				for (k = 0; k < nrem; k++)
					if (strcmp(rem[k].address, t->address) == 0)
						dup = true;
				if (dup)
					continue;
				rem = xreallocarray(rem, nrem + 1, sizeof(*rem));
				memset(&rem[nrem], 0, sizeof(*rem));
				rem[nrem++].address = t->address;
				continue;
			}
			if (t->status != DIR_STATUS_ACTIVE) {
				log_info("event=skip tx=%s member=%s reason=suspended",
				    tx->id, esc(t->address));
				continue;
			}
			/* One copy per mailbox, however often it is named. */
			for (k = 0; k < nloc; k++)
				if (strcmp(loc[k].user, t->address) == 0)
					dup = true;
			if (dup)
				continue;
			/* The quota with the real size: a direct recipient
			 * that is full fails the whole message (4xx, nothing
			 * stored, the client retries), a full list member is
			 * left out so the list still works. */
			qr = smtpd_ctx.spool == NULL ? SPOOL_OK :
			    spool_quota_check(smtpd_ctx.spool, t->address, len);
			if (qr == SPOOL_EQUOTA_BYTES ||
			    qr == SPOOL_EQUOTA_MESSAGES) {
				log_info("event=over_quota tx=%s user=%s list=%d",
				    tx->id, esc(t->address), rc->list);
				if (!rc->list) {
					reply(ss, "452 4.2.2 Mailbox full");
					goto out;
				}
				continue;
			}
			loc = xreallocarray(loc, nloc + 1, sizeof(*loc));
			memset(&loc[nloc], 0, sizeof(*loc));
			loc[nloc].user = t->address;
			loc[nloc].special_use = junk ? SPOOL_USE_JUNK : 0;
			nloc++;
		}
	}
	if (nloc == 0 && nrem == 0) {
		reply(ss, "554 5.5.1 No valid recipients");
		goto out;
	}
	memset(&d, 0, sizeof(d));
	d.data = msg;
	d.len = len;
	d.mail_from = tx->from.null ? "" : tx->from.addr;
	d.envid = tx->mp.envid[0] ? tx->mp.envid : NULL;
	d.ret = tx->mp.ret == SMTP_RET_FULL ? SPOOL_RET_FULL :
	    tx->mp.ret == SMTP_RET_HDRS ? SPOOL_RET_HDRS : SPOOL_RET_DEFAULT;
	d.qflags = (tx->mp.body != SMTP_BODY_7BIT ? SPOOL_QF_8BITMIME : 0) |
	    (tx->mp.smtputf8 ? SPOOL_QF_SMTPUTF8 : 0);
	d.origin = tx->id;
	d.local = loc;
	d.nlocal = nloc;
	d.remote = rem;
	d.nremote = nrem;
	if (smtpd_ctx.spool == NULL) {
		reply(ss, "451 4.3.0 Mail store unavailable");
		goto out;
	}
	r = spool_deliver(smtpd_ctx.spool, &d, qid);
	if (r != SPOOL_OK) {
		log_warnx("event=deliver_failed tx=%s error=%s", tx->id,
		    spool_err_name(r));
		if (r == SPOOL_ENOSPC)
			reply(ss, "452 4.3.1 Insufficient system storage");
		else if (r == SPOOL_EQUOTA_BYTES || r == SPOOL_EQUOTA_MESSAGES)
			reply(ss, "452 4.2.2 Mailbox full");
		else if (r == SPOOL_ETOOBIG)
			reply(ss, "552 5.3.4 Message too big");
		else if (spool_err_temporary(r))
			reply(ss, "451 4.3.0 Local error in processing, try "
			    "again later");
		else
			reply(ss, "554 5.3.0 Message could not be stored");
		goto out;
	}
	for (i = 0; i < nloc; i++) {
		if (loc[i].status == SPOOL_OK)
			ok++;
		else {
			quota++;
			log_warnx("event=deliver_skipped tx=%s qid=%s user=%s error=%s",
			    tx->id, qid, esc(loc[i].user),
			    spool_err_name(loc[i].status));
		}
	}
	log_info("event=delivered tx=%s qid=%s size=%zu local=%zu remote=%zu "
	    "failed=%zu junk=%d", tx->id, qid, len, ok, nrem, quota, junk);
	if (nrem > 0)
		relay_wakeup();		/* go out now, not at the next scan */
	reply(ss, "250 2.0.0 Ok: queued as %s", qid);
out:
	free(loc);
	free(rem);
}

static void
finish_message(struct smtp_sess *ss)
{
	struct smtp_tx *tx = ss->tx;
	struct buf filtered = BUF_INIT(0), final = BUF_INIT(0);
	struct msg_auth ma;
	const char *msg = tx->msg.data ? tx->msg.data : "";
	size_t len = tx->msg.len, removed;
	unsigned int e = tx->data.errors;
	bool eight;
	char from[1024], dom[SMTP_DOMAIN_MAX + 1], fromaddr[SMTP_PATH_MAX + 1];

	memset(&ma, 0, sizeof(ma));
	if (e & SMTP_DATA_ERR_SIZE) {
		reply(ss, "552 5.3.4 Message size exceeds fixed maximum "
		    "message size");
		goto out;
	}
	if (e & (SMTP_DATA_ERR_BARE_LF | SMTP_DATA_ERR_BARE_CR)) {
		log_warnx("event=rejected tx=%s reason=\"bare %s in message\"", tx->id,
		    (e & SMTP_DATA_ERR_BARE_LF) ? "LF" : "CR");
		reply(ss, "550 5.5.2 Message contains bare CR or LF, "
		    "which is not allowed");
		goto out;
	}
	if (e & SMTP_DATA_ERR_NUL) {
		reply(ss, "554 5.6.0 Message contains NUL characters");
		goto out;
	}
	if (e != 0) {
		reply(ss, "554 5.6.0 Message content rejected");
		goto out;
	}
	if (smtp_headers_filter(msg, len, ss->authserv_id, &filtered, &eight,
	    &removed) != 0) {
		reply(ss, "451 4.3.0 Local error in processing");
		goto out;
	}
	if (removed > 0)
		log_info("event=removed_headers tx=%s authentication-results=%zu", tx->id,
		    removed);
	if (eight && !tx->mp.smtputf8 && !ss->accept_8bit_headers) {
		reply(ss, "554 5.6.7 Non-ASCII header fields require SMTPUTF8");
		goto out;
	}
	/* Exactly one From address (RFC 5322 3.6): DMARC and the sender
	 * restriction both hang on it, so a message that hides it behind a
	 * second field or an unparsable value is refused (RFC 7489 6.6.1). */
	if (smtp_header_count(msg, len, "From") != 1 ||
	    smtp_header_get(msg, len, "From", from, sizeof(from)) != 1 ||
	    smtp_from_address(from, fromaddr, sizeof(fromaddr)) != 1) {
		reply(ss, "550 5.7.1 Message must have exactly one valid From "
		    "address");
		goto out;
	}
	(void)smtp_from_domain(from, dom, sizeof(dom));
	if (ss->user != NULL) {
		int r = directory_may_send_as(smtpd_ctx.dir, ss->user, fromaddr);

		if (r < 0) {
			reply(ss, "451 4.4.3 Directory unavailable, try again "
			    "later");
			goto out;
		}
		if (r == 0) {
			log_info("event=sender_refused tx=%s user=%s header_from=%s",
			    tx->id, esc(ss->user), esc(fromaddr));
			reply(ss, "553 5.7.1 From address not owned by you");
			goto out;
		}
	}
	if (ss->user == NULL && ss->s->kind == SMTP_KIND_MTA) {
		ma.checked = true;
		if (smtpd_ctx.dkim_ready &&
		    conf_bool(ss->conf, "smtpd.dkim_verify"))
			ma.nsigs = smtp_dkim_verify(msg, len, ma.sigs,
			    SMTP_DKIM_MAXSIGS);
		gms_strlcpy(ma.from_domain, dom, sizeof(ma.from_domain));
		ma.dmarc = SMTP_AR_NONE;
		ma.action = SMTP_DMARC_ACCEPT;
		if (ma.from_domain[0] != '\0' &&
		    conf_bool(ss->conf, "smtpd.dmarc"))
			ma.action = smtp_dmarc_check(ma.from_domain,
			    tx->spf_domain, tx->spf, ma.sigs, ma.nsigs,
			    &ma.dmarc, ma.policy, sizeof(ma.policy));
		log_info("event=auth_results tx=%s spf=%s dkim=%s dmarc=%s action=%d",
		    tx->id, smtp_ar_name(tx->spf), ma.nsigs ?
		    smtp_ar_name(ma.sigs[0].result) : "none",
		    smtp_ar_name(ma.dmarc), ma.action);
		if (ma.action == SMTP_DMARC_REJECT) {
			reply(ss, "550 5.7.1 Rejected by the DMARC policy of %s",
			    ma.from_domain);
			goto out;
		}
	}
	/* The stored message: our trace fields, then the client's. */
	if (ss->user != NULL && conf_bool(ss->conf, "smtpd.dkim_sign") &&
	    smtpd_ctx.dkim_ready) {
		struct dir_domain dd;
		int r;

		/* Sign for the From domain: the one DMARC aligns with. */
		r = directory_domain(smtpd_ctx.dir, dom, &dd);
		if (r == DIR_FOUND && smtp_dkim_sign(ss->conf, dom,
		    dd.dkim_selector, filtered.data ? filtered.data : "",
		    filtered.len, &final) < 0) {
			reply(ss, "451 4.3.0 Signing failed, try again later");
			goto out;
		}
	}
	add_received(ss, &final);
	if (ss->s->kind == SMTP_KIND_MTA && ss->user == NULL)
		add_auth_results(ss, &ma, &final);
	if (buf_append(&final, filtered.data ? filtered.data : "",
	    filtered.len) != 0) {
		reply(ss, "451 4.3.0 Local error in processing");
		goto out;
	}
	buf_free(&tx->msg);	/* the copy is in final now */
	deliver(ss, final.data, final.len,
	    ma.action == SMTP_DMARC_QUARANTINE);
out:
	buf_free(&filtered);
	buf_free(&final);
	tx_reset(ss);
}

/* ------------------------------------------------------------------ */
/* DATA and BDAT. */

static const char *
check_data(struct smtp_sess *ss, size_t len)
{
	if (len != 0)
		return "501 5.5.4 Syntax: DATA";
	if (ss->tx == NULL)
		return "503 5.5.1 Need MAIL command first";
	if (ss->tx->nrcpt == 0)
		return "554 5.5.1 No valid recipients";
	if (ss->tx->bdat)
		return "503 5.5.1 DATA not allowed after BDAT";
	if (ss->tx->mp.body == SMTP_BODY_BINARYMIME)
		return "503 5.5.1 BINARYMIME requires BDAT";
	return NULL;
}

static int
cmd_data(struct smtp_sess *ss, const char *arg, size_t len)
{
	struct smtp_tx *tx = ss->tx;
	const char *err;
	struct line l;
	size_t used;
	int r, end = 0;
	static const char *const ends[] = { "\r\n", "\n", "\r", "" };

	(void)arg;
	if ((err = check_data(ss, len)) != NULL) {
		reply(ss, "%s", err);
		return 0;
	}
	smtp_data_init(&tx->data, &tx->msg, ss->max_msg, true, ss->normalise,
	    false);
	reply(ss, "354 End data with <CR><LF>.<CR><LF>");
	smtp_enter_state(ss, SMTP_STATE_DATA);
	conn_set_timeout(ss->c, (int)conf_int(ss->conf, "smtpd.data_timeout") *
	    1000);
	while (!end) {
		/* Lines are bounded by the conn reader; an over-long one is
		 * cut, which we record as an error, and its end still comes
		 * through as a line end, so the terminator is never lost. */
		r = conn_getline(ss->c, &l, 65536);
		if (r != CONN_OK || l.end == LINE_NONE) {
			log_info("event=data_aborted tx=%s status=%d", tx->id, r);
			conn_set_timeout(ss->c, (int)conf_int(ss->conf,
			    "smtpd.timeout") * 1000);
			tx_reset(ss);
			if (r == CONN_TIMEOUT)
				reply(ss, "421 4.4.2 Timeout during DATA");
			else if (r == CONN_STOP)
				reply(ss, "421 4.3.2 Service shutting down");
			return -1;
		}
		if (l.too_long)
			tx->data.errors |= SMTP_DATA_ERR_LINE;
		end = smtp_data_feed(&tx->data, l.data, l.len, &used);
		if (!end)
			end = smtp_data_feed(&tx->data, ends[l.end],
			    strlen(ends[l.end]), &used);
	}
	conn_set_timeout(ss->c, (int)conf_int(ss->conf, "smtpd.timeout") * 1000);
	finish_message(ss);
	return 0;
}

/* bdat_discard - read and drop n bytes of a chunk we will not take. */
static int
bdat_read(struct smtp_sess *ss, uint64_t n, bool keep)
{
	char chunk[16384];
	size_t want, used;

	while (n > 0) {
		want = n > sizeof(chunk) ? sizeof(chunk) : (size_t)n;
		if (conn_read_exact(ss->c, chunk, want) != CONN_OK)
			return -1;
		if (keep)
			(void)smtp_data_feed(&ss->tx->data, chunk, want, &used);
		n -= want;
	}
	return 0;
}

static int
cmd_bdat(struct smtp_sess *ss, const char *arg, size_t len)
{
	struct smtp_tx *tx = ss->tx;
	struct cursor c;
	const char *num, *err = NULL;
	size_t nlen;
	uint64_t size, total;
	bool last = false;

	cur_init(&c, arg, len);
	nlen = cur_take_until(&c, " \t", &num);
	cur_skip_ws(&c);
	if (cur_match_ci(&c, "LAST"))
		last = true;
	cur_skip_ws(&c);
	/* Security: a BDAT we cannot parse leaves us out of step with the
	 * client (the chunk would be read as commands): hang up. */
	if (nlen == 0 || nlen > 20 || !cur_eof(&c) ||
	    gms_parse_u64(num, nlen, UINT64_MAX, &size) != 0) {
		reply(ss, "554 5.5.4 Syntax: BDAT size [LAST], closing");
		return -1;
	}
	total = tx != NULL ? tx->data.size : 0;
	if (size > ss->max_msg || total > ss->max_msg - size) {
		reply(ss, "552 5.3.4 Message size exceeds fixed maximum "
		    "message size, closing");
		return -1;
	}
	if (tx == NULL)
		err = "503 5.5.1 Need MAIL command first";
	else if (tx->nrcpt == 0)
		err = "554 5.5.1 No valid recipients";
	if (err != NULL) {
		if (bdat_read(ss, size, false) != 0)
			return -1;
		reply(ss, "%s", err);
		return 0;
	}
	if (!tx->bdat) {
		smtp_data_init(&tx->data, &tx->msg, ss->max_msg, false,
		    ss->normalise, tx->mp.body == SMTP_BODY_BINARYMIME);
		tx->bdat = true;
	}
	smtp_enter_state(ss, SMTP_STATE_BDAT);
	conn_set_timeout(ss->c, (int)conf_int(ss->conf, "smtpd.data_timeout") *
	    1000);
	if (bdat_read(ss, size, true) != 0) {
		log_info("event=bdat_aborted tx=%s", tx->id);
		tx_reset(ss);
		return -1;
	}
	conn_set_timeout(ss->c, (int)conf_int(ss->conf, "smtpd.timeout") * 1000);
	if (!last) {
		reply(ss, "250 2.0.0 %llu octets received",
		    (unsigned long long)size);
		return 0;
	}
	smtp_data_finish(&tx->data);
	finish_message(ss);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The small commands. */

static int
cmd_rset(struct smtp_sess *ss, const char *arg, size_t len)
{
	(void)arg;
	if (len != 0) {
		reply(ss, "501 5.5.4 Syntax: RSET");
		return 0;
	}
	tx_reset(ss);
	reply(ss, "250 2.0.0 Reset state");
	return 0;
}

static int
cmd_noop(struct smtp_sess *ss, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	reply(ss, "250 2.0.0 OK");
	return 0;
}

static int
cmd_quit(struct smtp_sess *ss, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	reply(ss, "221 2.0.0 Bye");
	smtp_enter_state(ss, SMTP_STATE_QUIT);
	return -1;
}

/* Security: VRFY and EXPN reveal nothing about who exists. */
static int
cmd_vrfy(struct smtp_sess *ss, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	reply(ss, "252 2.5.2 Cannot VRFY user, but will accept message and "
	    "attempt delivery");
	return 0;
}

static int
cmd_expn(struct smtp_sess *ss, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	reply(ss, "502 5.5.1 EXPN not available");
	return 0;
}

static int
cmd_help(struct smtp_sess *ss, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	reply(ss, "214 2.0.0 See RFC 5321");
	return 0;
}

static int
cmd_http(struct smtp_sess *ss, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	log_info("event=http_request action=close");
	reply(ss, "554 5.5.1 This is an SMTP server, closing");
	return -1;
}

static int
cmd_unknown(struct smtp_sess *ss, const char *arg, size_t len)
{
	(void)arg;
	(void)len;
	reply(ss, "500 5.5.2 Command not recognized");
	return 0;
}

/* ------------------------------------------------------------------ */
/* The dispatcher. */

static struct smtp_cmd *
lookup_cmd(const char *verb, size_t len)
{
	size_t i;

	for (i = 0; smtp_cmds[i].verb != NULL; i++)
		if (strlen(smtp_cmds[i].verb) == len &&
		    gms_strncasecmp(smtp_cmds[i].verb, verb, len) == 0)
			return &smtp_cmds[i];
	return &smtp_cmds[i];	/* the sentinel */
}

/* dispatch - run one command line.  Returns 0 to go on, -1 to close. */
static int
dispatch(struct smtp_sess *ss, const char *line, size_t len)
{
	struct smtp_cmd *cmd;
	struct cursor c;
	const char *verb;
	size_t vlen;

	cur_init(&c, line, len);
	vlen = cur_take_until(&c, " ", &verb);
	/* MAIL FROM / RCPT TO keep "FROM:..." as argument; others lose the
	 * single space after the verb. */
	if (cur_peek(&c) == ' ')
		cur_skip(&c, 1);
	cmd = lookup_cmd(verb, vlen);
	__atomic_fetch_add(&cmd->count, 1, __ATOMIC_RELAXED);
	if (cmd->verb != NULL && strcmp(cmd->verb, "AUTH") == 0)
		log_trace(TRACE_SMTP, "command=\"AUTH ********\"");
	else
		log_trace(TRACE_SMTP, "command=\"%s\"", esc(line));
	if (cmd->flags & CMD_F_JUNK)
		ss->junk++;
	if (ss->junk > ss->max_junk) {
		reply(ss, "421 4.7.0 Too many useless commands, closing");
		return -1;
	}
	if ((cmd->flags & CMD_F_NEEDHELO) && ss->helo[0] == '\0') {
		reply(ss, "503 5.5.1 Send HELO/EHLO first");
		return 0;
	}
	if (tls_required(ss) && !is_tls(ss) && !(cmd->flags & CMD_F_PRETLS)) {
		reply(ss, "530 5.7.0 Must issue a STARTTLS command first");
		return 0;
	}
	if (auth_required(ss) && ss->user == NULL &&
	    (cmd->flags & CMD_F_NEEDAUTH)) {
		reply(ss, "530 5.7.0 Authentication required");
		return 0;
	}
	return cmd->handler(ss, c.p, c.left);
}

/* talked_early - did the client send before our greeting? */
static bool
talked_early(struct smtp_sess *ss, int pause_ms)
{
	struct pollfd pfd;
	char ch;

	if (pause_ms <= 0)
		pause_ms = 0;
	pfd.fd = conn_fd(ss->c);
	pfd.events = POLLIN;
	if (poll(&pfd, 1, pause_ms) <= 0)
		return false;
	return recv(pfd.fd, &ch, 1, MSG_PEEK) == 1;
}

static void
sess_settings(struct smtp_sess *ss)
{
	const char *h = conf_str(ss->conf, "smtpd.hostname");
	const char *id = conf_str(ss->conf, "smtpd.authserv_id");

	if (h[0] == '\0') {
		if (gethostname(ss->hostname, sizeof(ss->hostname) - 1) != 0)
			gms_strlcpy(ss->hostname, "localhost",
			    sizeof(ss->hostname));
		ss->hostname[sizeof(ss->hostname) - 1] = '\0';
	} else
		gms_strlcpy(ss->hostname, h, sizeof(ss->hostname));
	gms_strlcpy(ss->authserv_id, id[0] ? id : ss->hostname,
	    sizeof(ss->authserv_id));
	ss->max_line = (size_t)conf_int(ss->conf, "smtpd.max_line");
	ss->max_msg = (uint64_t)conf_int(ss->conf, "smtpd.max_message_size");
	ss->max_rcpt = (unsigned int)conf_int(ss->conf, "smtpd.max_recipients");
	ss->max_tx = (unsigned int)conf_int(ss->conf, "smtpd.max_transactions");
	ss->max_errors = (unsigned int)conf_int(ss->conf, "smtpd.max_errors");
	ss->max_junk = (unsigned int)conf_int(ss->conf, "smtpd.max_junk");
	ss->normalise = strcmp(conf_str(ss->conf, "smtpd.bare_newline"),
	    "normalise") == 0;
	ss->accept_8bit_headers = strcmp(conf_str(ss->conf,
	    "smtpd.eightbit_headers"), "accept") == 0;
}

void
smtp_serve(struct session *s)
{
	struct smtp_sess *ss;
	struct line l;
	int r;

	ss = xcalloc(1, sizeof(*ss));
	ss->s = s;
	ss->c = s->conn;
	ss->conf = s->conf;
	ss->state = SMTP_STATE_CONNECTED;
	sess_settings(ss);
	if (s->listen_tls == LISTEN_IMPLICIT && !conn_is_tls(ss->c)) {
		size_t discarded;

		if (s->tls == NULL || conn_starttls_server(ss->c, s->tls,
		    &discarded) != 0) {
			log_info("event=tls_handshake_failed");
			goto out;
		}
	}
	if (s->listen_tls != LISTEN_IMPLICIT && talked_early(ss,
	    (int)conf_int(ss->conf, "smtpd.greet_pause_ms"))) {
		log_warnx("event=early_talker action=close");
		reply(ss, "554 5.5.0 Protocol error: talked before the greeting");
		(void)conn_flush(ss->c);
		goto out;
	}
	reply(ss, "220 %s ESMTP ready", ss->hostname);
	smtp_enter_state(ss, SMTP_STATE_GREETED);
	for (;;) {
		/* conn flushes held replies before it blocks for input, so a
		 * pipelined group gets its replies in one write. */
		r = conn_getline(ss->c, &l, ss->max_line < SMTP_AUTH_LINE ?
		    SMTP_AUTH_LINE : ss->max_line);
		if (r == CONN_TIMEOUT) {
			reply(ss, "421 4.4.2 %s Timeout, closing", ss->hostname);
			break;
		}
		if (r == CONN_STOP) {
			reply(ss, "421 4.3.2 %s Service shutting down",
			    ss->hostname);
			break;
		}
		if (r != CONN_OK || l.end == LINE_NONE)
			break;
		if (l.too_long || (l.len > ss->max_line &&
		    gms_strncasecmp(l.data, "AUTH ", 5) != 0))
			reply(ss, "500 5.5.2 Line too long");
		else if (l.has_nul)
			reply(ss, "500 5.5.2 NUL character not allowed");
		else if (l.end == LINE_CR)
			reply(ss, "500 5.5.2 Bare CR not allowed");
		else if (dispatch(ss, l.data, l.len) != 0)
			break;
		if (ss->errors >= ss->max_errors) {
			reply(ss, "421 4.7.0 %s Too many errors, closing",
			    ss->hostname);
			break;
		}
		if (!conn_pending(ss->c) && conn_flush(ss->c) < 0)
			break;
	}
	(void)conn_flush(ss->c);
out:
	smtp_enter_state(ss, SMTP_STATE_QUIT);
	log_info("event=session_end ip=%s transactions=%u errors=%u", s->peer_addr,
	    ss->ntx, ss->errors);
	tx_free(&ss->tx);
	if (ss->user != NULL) {
		gms_wipe(ss->user, strlen(ss->user));
		free(ss->user);
	}
	free(ss);
}
