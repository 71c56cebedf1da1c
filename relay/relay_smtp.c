/*
 * relay_smtp.c - the SMTP client of the relay: deliver one queued
 * message to the recipients of one destination domain.
 *
 * The MX hosts are tried in preference order (the null MX of RFC 7505
 * fails at once; no MX means the domain's own A/AAAA records; MX hosts at
 * or below our own preference are dropped, and nothing left is a loop),
 * each address in turn, until every recipient has an answer for this
 * attempt.  One session: greeting, EHLO (HELO when EHLO is refused),
 * STARTTLS when offered (opportunistic, or required by relay.tls =
 * encrypt, or by DANE-EE TLSA records that the resolver validated), EHLO
 * again, then MAIL, the RCPTs and DATA, pipelined when the peer offers
 * PIPELINING (RFC 2920), SIZE, BODY=8BITMIME, SMTPUTF8 and the DSN
 * parameters when the peer offers them.  The body streams from the spool
 * with dot-stuffing.  Outcomes per recipient: 2xx after the final dot is
 * DELIVERED, 5xx is FAILED, everything else stays PENDING with the reason
 * (the runner retries).  A connection lost after the final dot leaves the
 * recipients pending: a duplicate is possible, a loss is not.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "relay/relay-private.h"

/* Results of one session with one address. */
#define HOST_NEXT	0	/* try the next address */
#define HOST_DONE	1	/* every open recipient has its answer */
#define HOST_PLAIN	2	/* TLS failed: same address without TLS */

struct sess {
	const struct relay_cfg	*cfg;
	struct tls_ctx		*tls;	/* borrowed; may be NULL */
	int			 stop_fd;
	struct conn		*c;
	struct relay_reply	 rep;
	struct relay_ehlo	 ehlo;
	const char		*host;	/* MX name (borrowed) */
	char			 addr[INET6_ADDRSTRLEN + 8];
	char			 peer[320];	/* "host[addr]" for logs, DSNs */
	bool			 no_tls;	/* retrying without TLS */
	const struct relay_tlsa	*tlsa;	/* validated DANE records or NULL */
	size_t			 ntlsa;
	bool			 tls_required;	/* DANE records, none usable */
	bool			 sts_enforce;	/* MTA-STS: verified TLS only */
	struct relay_msg	*msg;
	bool			*open;	/* per recipient: still to answer */
};

/* clean_text - copy a reply into dst as one printable line. */
static void
clean_text(char *dst, size_t dstlen, const char *src, size_t len)
{
	size_t i, o = 0;
	unsigned char ch;

	for (i = 0; i < len && o + 1 < dstlen; i++) {
		ch = (unsigned char)src[i];
		if (ch == '\n' || ch == '\r' || ch == '\t')
			ch = ' ';
		else if (ch < 32 || ch > 126)
			ch = '?';
		dst[o++] = (char)ch;
	}
	dst[o] = '\0';
}

/* set_rcpt - record an outcome for recipient i. */
static void
set_rcpt(struct sess *s, size_t i, int state, const char *status,
    const char *diag)
{
	struct relay_rcpt *r = &s->msg->rcpt[i];

	r->state = state;
	(void)gms_strlcpy(r->status, status, sizeof(r->status));
	clean_text(r->diag, sizeof(r->diag), diag, strlen(diag));
	(void)gms_strlcpy(r->remote_mta, s->host != NULL ? s->host : "",
	    sizeof(r->remote_mta));
}

/* set_open - record an outcome for every recipient still open; final
 * outcomes close them. */
static void
set_open(struct sess *s, int state, const char *status, const char *diag,
    bool close)
{
	size_t i;

	for (i = 0; i < s->msg->nrcpt; i++) {
		if (!s->open[i])
			continue;
		set_rcpt(s, i, state, status, diag);
		if (close)
			s->open[i] = false;
	}
}

/* reply_diag - "host[addr] said: 550 5.1.1 text (in reply to WHAT)". */
static void
reply_diag(struct sess *s, const char *what, char *dst, size_t len)
{
	char text[400];

	clean_text(text, sizeof(text), s->rep.text.data ? s->rep.text.data :
	    "", s->rep.text.len);
	(void)gms_snprintf(dst, len, "host %s said: %d %s (in reply to %s)",
	    s->peer, s->rep.code, text, what);
}

/* reply_status - the enhanced code of the reply or a default by class. */
static const char *
reply_status(struct sess *s, const char *def5, const char *def4)
{
	if (s->rep.enh[0] != '\0')
		return s->rep.enh;
	return s->rep.code >= 500 ? def5 : s->rep.code >= 400 ? def4 : "2.0.0";
}

/* io_diag - text for a failed read. */
static void
io_diag(struct sess *s, int r, const char *what, char *dst, size_t len)
{
	const char *why = r == CONN_TIMEOUT ? "conversation timed out" :
	    r == CONN_EOF ? "lost connection" : r == CONN_STOP ?
	    "delivery stopped (shutdown)" : r == -5 ? "malformed reply" :
	    "connection error";

	(void)gms_snprintf(dst, len, "%s with %s while %s", why, s->peer, what);
}

/* read_reply - read one complete reply with timeout_ms.  Returns the
 * code, or < 0 (CONN_* or -5: malformed). */
static int
read_reply(struct sess *s, int timeout_ms)
{
	struct line l;
	int r;

	conn_set_timeout(s->c, timeout_ms);
	relay_reply_reset(&s->rep);
	for (;;) {
		r = conn_getline(s->c, &l, s->cfg->max_line);
		if (r == CONN_EOF)
			return CONN_EOF;
		if (r != CONN_OK)
			return r;
		if (l.end == LINE_NONE)
			return CONN_EOF;
		r = relay_reply_feed(&s->rep, l.data, l.len);
		if (r < 0)
			return -5;
		if (r == 1) {
			log_trace(TRACE_RELAY, "event=relay_reply peer=%s code=%d",
			    s->peer, s->rep.code);
			return s->rep.code;
		}
	}
}

/* send_cmd - queue one command line (flushed before the next read). */
static int
send_cmd(struct sess *s, const char *fmt, ...) GMS_PRINTF(2, 3);
static int
send_cmd(struct sess *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT(4096);
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (r == 0)
		r = buf_puts(&b, "\r\n");
	if (r == 0) {
		log_trace(TRACE_RELAY, "event=relay_send peer=%s len=%zu",
		    s->peer, b.len);
		r = conn_write(s->c, b.data, b.len) < 0 ? -1 : 0;
	}
	buf_free(&b);
	return r;
}

int
relay_connect(const struct relay_cfg *cfg, const struct sockaddr_storage *sa,
    int stop_fd)
{
	struct pollfd pfd[2];
	socklen_t sl = sa->ss_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int fd, err = 0, r;
	socklen_t el = sizeof(err);

	fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
	if (cfg->source_address[0] != '\0') {
		struct sockaddr_storage src;

		memset(&src, 0, sizeof(src));
		if (sa->ss_family == AF_INET && inet_pton(AF_INET,
		    cfg->source_address,
		    &((struct sockaddr_in *)&src)->sin_addr) == 1) {
			src.ss_family = AF_INET;
			(void)bind(fd, (struct sockaddr *)&src,
			    sizeof(struct sockaddr_in));
		} else if (sa->ss_family == AF_INET6 && inet_pton(AF_INET6,
		    cfg->source_address,
		    &((struct sockaddr_in6 *)&src)->sin6_addr) == 1) {
			src.ss_family = AF_INET6;
			(void)bind(fd, (struct sockaddr *)&src,
			    sizeof(struct sockaddr_in6));
		}
	}
	if (connect(fd, (const struct sockaddr *)sa, sl) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		err = errno;
		goto fail;
	}
	pfd[0].fd = fd;
	pfd[0].events = POLLOUT;
	pfd[1].fd = stop_fd;
	pfd[1].events = POLLIN;
	do {
		r = poll(pfd, stop_fd >= 0 ? 2 : 1, cfg->connect_timeout_ms);
	} while (r == -1 && errno == EINTR);
	if (r == 0) {
		err = ETIMEDOUT;
		goto fail;
	}
	if (r < 0) {
		err = errno;
		goto fail;
	}
	if (stop_fd >= 0 && (pfd[1].revents & POLLIN)) {
		err = ECANCELED;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == -1)
		err = errno;
	if (err != 0)
		goto fail;
	return fd;
fail:
	(void)close(fd);
	errno = err;
	return -1;
}

/* send_body - stream the message with dot-stuffing and the final dot.
 * Returns 0, -1 (connection: *io_r set) or -2 (spool: temporary). */
static int
send_body(struct sess *s, int *io_r)
{
	struct spool_body *b = NULL;
	struct buf out = BUF_INIT(0);
	char in[32768];
	uint64_t off = 0;
	size_t got, i, start;
	bool bol = true;
	char last = '\n';
	int r, rc = 0;

	*io_r = 0;
	r = spool_queue_body_open(s->msg->sp, s->msg->qid, &b);
	if (r != SPOOL_OK) {
		log_warnx("event=relay_body_error qid=%s error=%s",
		    s->msg->qid, spool_err_name(r));
		return -2;
	}
	for (;;) {
		r = spool_body_read(b, off, in, sizeof(in), &got);
		if (r != SPOOL_OK) {
			rc = -2;
			break;
		}
		if (got == 0)
			break;
		off += got;
		buf_reset(&out);
		start = 0;
		for (i = 0; i < got; i++) {
			if (bol && in[i] == '.') {
				if (buf_append(&out, in + start, i - start) != 0 ||
				    buf_putc(&out, '.') != 0) {
					rc = -2;
					break;
				}
				start = i;
			}
			bol = in[i] == '\n';
		}
		if (rc != 0)
			break;
		(void)buf_append(&out, in + start, got - start);
		last = in[got - 1];
		if ((r = conn_write(s->c, out.data, out.len)) < 0) {
			*io_r = r;
			rc = -1;
			break;
		}
	}
	spool_body_close(&b);
	buf_free(&out);
	if (rc != 0)
		return rc;
	if ((r = conn_write(s->c, last == '\n' ? ".\r\n" : "\r\n.\r\n",
	    last == '\n' ? 3 : 5)) < 0 || (r = conn_flush(s->c)) < 0) {
		*io_r = r;
		return -1;
	}
	return 0;
}

/* ehlo - EHLO (HELO when refused); returns the code or < 0. */
static int
ehlo(struct sess *s)
{
	int r;

	if (send_cmd(s, "EHLO %s", s->cfg->hostname) != 0)
		return CONN_ERR;
	r = read_reply(s, s->cfg->timeout_ms);
	if (r >= 500 && r < 600) {
		if (send_cmd(s, "HELO %s", s->cfg->hostname) != 0)
			return CONN_ERR;
		r = read_reply(s, s->cfg->timeout_ms);
		memset(&s->ehlo, 0, sizeof(s->ehlo));
		return r;
	}
	if (r == 250)
		relay_ehlo_parse(&s->rep, &s->ehlo);
	return r;
}

/* session - one SMTP session with one address. */
static int
session(struct sess *s, const struct sockaddr_storage *sa)
{
	struct relay_msg *m = s->msg;
	char diag[600];
	size_t i, accepted = 0;
	bool *acc = NULL;
	int fd, r, io, rc = HOST_NEXT;
	bool pipe;

	fd = relay_connect(s->cfg, sa, s->stop_fd);
	if (fd == -1) {
		(void)gms_snprintf(diag, sizeof(diag), "connect to %s: %s",
		    s->peer, strerror(errno));
		set_open(s, SPOOL_RCPT_PENDING, "4.4.1", diag, false);
		log_info("event=relay_connect_failed qid=%s peer=%s error=\"%s\"",
		    m->qid, s->peer, strerror(errno));
		return HOST_NEXT;
	}
	s->c = conn_new(fd, s->cfg->timeout_ms, s->stop_fd);
	r = read_reply(s, s->cfg->timeout_ms);
	if (r != 220) {
		if (r < 0)
			io_diag(s, r, "receiving the initial server greeting",
			    diag, sizeof(diag));
		else
			reply_diag(s, "the greeting", diag, sizeof(diag));
		set_open(s, SPOOL_RCPT_PENDING, "4.4.2", diag, false);
		if (r < 0)
			goto drop;
		goto quit;
	}
	r = ehlo(s);
	if (r != 250) {
		if (r < 0)
			io_diag(s, r, "sending EHLO", diag, sizeof(diag));
		else
			reply_diag(s, "EHLO", diag, sizeof(diag));
		set_open(s, SPOOL_RCPT_PENDING, "4.4.2", diag, false);
		goto quit;
	}
	if (s->ehlo.starttls && s->tls != NULL && !s->no_tls &&
	    s->cfg->tls != RELAY_TLS_NONE) {
		if (send_cmd(s, "STARTTLS") != 0 ||
		    (r = read_reply(s, s->cfg->timeout_ms)) != 220) {
			reply_diag(s, "STARTTLS", diag, sizeof(diag));
			set_open(s, SPOOL_RCPT_PENDING, "4.7.5", diag, false);
			goto quit;
		}
		r = conn_starttls_client(s->c, s->tls, s->host);
		if (r < 0) {
			(void)gms_snprintf(diag, sizeof(diag),
			    "TLS handshake with %s failed", s->peer);
			set_open(s, SPOOL_RCPT_PENDING, "4.7.5", diag, false);
			log_info("event=relay_tls_failed qid=%s peer=%s",
			    m->qid, s->peer);
			conn_free(&s->c);
			return s->tlsa == NULL && !s->tls_required &&
			    !s->sts_enforce && s->cfg->tls == RELAY_TLS_MAY ?
			    HOST_PLAIN : HOST_NEXT;
		}
		if (s->sts_enforce && s->tlsa == NULL &&
		    SSL_get_verify_result(conn_ssl(s->c)) != X509_V_OK) {
			(void)gms_snprintf(diag, sizeof(diag), "the certificate "
			    "of %s does not verify, and the MTA-STS policy "
			    "of the domain is enforce", s->peer);
			set_open(s, SPOOL_RCPT_PENDING, "4.7.5", diag, false);
			log_warnx("event=relay_sts_cert_failed qid=%s peer=%s",
			    m->qid, s->peer);
			goto quit;
		}
		if (s->tlsa != NULL && !relay_dane_match(conn_ssl(s->c),
		    s->tlsa, s->ntlsa)) {
			(void)gms_snprintf(diag, sizeof(diag), "the certificate "
			    "of %s matches no DANE TLSA record", s->peer);
			set_open(s, SPOOL_RCPT_PENDING, "4.7.5", diag, false);
			log_warnx("event=relay_dane_mismatch qid=%s peer=%s",
			    m->qid, s->peer);
			goto quit;
		}
		log_info("event=relay_tls qid=%s peer=%s tls=\"%s\" dane=%d",
		    m->qid, s->peer, conn_tls_info(s->c), s->tlsa != NULL);
		r = ehlo(s);
		if (r != 250) {
			reply_diag(s, "EHLO", diag, sizeof(diag));
			set_open(s, SPOOL_RCPT_PENDING, "4.4.2", diag, false);
			goto quit;
		}
	} else if (s->tlsa != NULL || s->tls_required || s->sts_enforce ||
	    s->cfg->tls == RELAY_TLS_ENCRYPT) {
		(void)gms_snprintf(diag, sizeof(diag), "TLS is required, but "
		    "was not offered by host %s", s->peer);
		set_open(s, SPOOL_RCPT_PENDING, "4.7.4", diag, false);
		goto quit;
	}
	if ((m->qflags & SPOOL_QF_SMTPUTF8) && !s->ehlo.smtputf8) {
		(void)gms_snprintf(diag, sizeof(diag), "host %s does not offer "
		    "SMTPUTF8, which the message needs", s->peer);
		set_open(s, SPOOL_RCPT_FAILED, "5.6.7", diag, true);
		rc = HOST_DONE;
		goto quit;
	}
	if (s->ehlo.size_max != 0 && m->size > s->ehlo.size_max) {
		(void)gms_snprintf(diag, sizeof(diag), "message size %llu "
		    "exceeds the limit %llu of host %s",
		    (unsigned long long)m->size,
		    (unsigned long long)s->ehlo.size_max, s->peer);
		set_open(s, SPOOL_RCPT_FAILED, "5.3.4", diag, true);
		rc = HOST_DONE;
		goto quit;
	}

	/* The transaction. */
	pipe = s->ehlo.pipelining;
	{
		struct buf cmd = BUF_INIT(4096);
		int e = 0;

		e |= buf_printf(&cmd, "MAIL FROM:<%s>", m->mail_from);
		if (s->ehlo.size)
			e |= buf_printf(&cmd, " SIZE=%llu",
			    (unsigned long long)m->size);
		if ((m->qflags & SPOOL_QF_8BITMIME) && s->ehlo.eightbitmime)
			e |= buf_puts(&cmd, " BODY=8BITMIME");
		if ((m->qflags & SPOOL_QF_SMTPUTF8) && s->ehlo.smtputf8)
			e |= buf_puts(&cmd, " SMTPUTF8");
		if (s->ehlo.dsn) {
			if (m->ret == SPOOL_RET_FULL)
				e |= buf_puts(&cmd, " RET=FULL");
			else if (m->ret == SPOOL_RET_HDRS)
				e |= buf_puts(&cmd, " RET=HDRS");
			if (m->envid != NULL && m->envid[0] != '\0') {
				e |= buf_puts(&cmd, " ENVID=");
				e |= relay_xtext_encode(&cmd, m->envid,
				    strlen(m->envid));
			}
		}
		if (e == 0)
			e = send_cmd(s, "%s", buf_cstr(&cmd));
		buf_free(&cmd);
		if (e != 0)
			goto lost;
	}
	if (!pipe) {
		r = read_reply(s, s->cfg->timeout_ms);
		if (r < 0) {
			io_diag(s, r, "sending MAIL FROM", diag, sizeof(diag));
			set_open(s, SPOOL_RCPT_PENDING, "4.4.2", diag, false);
			goto quit;
		}
		if (r >= 300)
			goto mail_refused;
	}
	acc = xcalloc(m->nrcpt, sizeof(*acc));
	for (i = 0; i < m->nrcpt; i++) {
		struct buf cmd = BUF_INIT(4096);
		int e = 0;

		if (!s->open[i])
			continue;
		e |= buf_printf(&cmd, "RCPT TO:<%s>", m->rcpt[i].address);
		if (s->ehlo.dsn) {
			unsigned n = m->rcpt[i].notify;

			if (n & SPOOL_NOTIFY_NEVER)
				e |= buf_puts(&cmd, " NOTIFY=NEVER");
			else if (n != 0)
				e |= buf_printf(&cmd, " NOTIFY=%s%s%s%s%s",
				    (n & SPOOL_NOTIFY_SUCCESS) ? "SUCCESS" : "",
				    (n & SPOOL_NOTIFY_SUCCESS) &&
				    (n & (SPOOL_NOTIFY_FAILURE |
				    SPOOL_NOTIFY_DELAY)) ? "," : "",
				    (n & SPOOL_NOTIFY_FAILURE) ? "FAILURE" : "",
				    (n & SPOOL_NOTIFY_FAILURE) &&
				    (n & SPOOL_NOTIFY_DELAY) ? "," : "",
				    (n & SPOOL_NOTIFY_DELAY) ? "DELAY" : "");
			if (m->rcpt[i].orcpt != NULL)
				e |= buf_printf(&cmd, " ORCPT=%s",
				    m->rcpt[i].orcpt);
		}
		if (e == 0)
			e = send_cmd(s, "%s", buf_cstr(&cmd));
		buf_free(&cmd);
		if (e != 0)
			goto lost;
		if (!pipe) {
			r = read_reply(s, s->cfg->timeout_ms);
			if (r < 0)
				goto lost_read;
			goto rcpt_reply;
		}
		continue;
rcpt_reply:
		if (r >= 200 && r < 300) {
			acc[i] = true;
			accepted++;
		} else {
			char what[400];

			(void)gms_snprintf(what, sizeof(what), "RCPT TO:<%s>",
			    m->rcpt[i].address);
			reply_diag(s, what, diag, sizeof(diag));
			set_rcpt(s, i, r >= 500 ? SPOOL_RCPT_FAILED :
			    SPOOL_RCPT_PENDING, reply_status(s, "5.0.0", "4.0.0"),
			    diag);
			s->open[i] = false;
		}
	}
	if (pipe) {
		if (send_cmd(s, "DATA") != 0)
			goto lost;
		r = read_reply(s, s->cfg->timeout_ms);
		if (r < 0) {
			io_diag(s, r, "sending MAIL FROM", diag, sizeof(diag));
			set_open(s, SPOOL_RCPT_PENDING, "4.4.2", diag, false);
			goto quit;
		}
		if (r >= 300)
			goto mail_refused;
		for (i = 0; i < m->nrcpt; i++) {
			if (!s->open[i])
				continue;
			r = read_reply(s, s->cfg->timeout_ms);
			if (r < 0)
				goto lost_read;
			if (r >= 200 && r < 300) {
				acc[i] = true;
				accepted++;
			} else {
				char what[400];

				(void)gms_snprintf(what, sizeof(what),
				    "RCPT TO:<%s>", m->rcpt[i].address);
				reply_diag(s, what, diag, sizeof(diag));
				set_rcpt(s, i, r >= 500 ? SPOOL_RCPT_FAILED :
				    SPOOL_RCPT_PENDING,
				    reply_status(s, "5.0.0", "4.0.0"), diag);
				s->open[i] = false;
			}
		}
	} else if (accepted > 0) {
		if (send_cmd(s, "DATA") != 0)
			goto lost;
	}
	if (accepted == 0 && !pipe) {
		rc = HOST_DONE;
		goto quit;
	}
	r = read_reply(s, s->cfg->timeout_ms);
	if (r < 0)
		goto lost_read;
	if (r != 354) {
		if (accepted > 0) {
			reply_diag(s, "DATA", diag, sizeof(diag));
			set_open(s, r >= 500 ? SPOOL_RCPT_FAILED :
			    SPOOL_RCPT_PENDING, reply_status(s, "5.0.0", "4.0.0"),
			    diag, true);
		}
		rc = HOST_DONE;
		goto quit;
	}
	if (accepted == 0) {
		/* RFC 2920: 354 without a recipient; end the empty data. */
		(void)conn_write(s->c, ".\r\n", 3);
		(void)read_reply(s, s->cfg->timeout_ms);
		rc = HOST_DONE;
		goto quit;
	}
	r = send_body(s, &io);
	if (r == -2) {
		(void)gms_snprintf(diag, sizeof(diag), "cannot read the "
		    "queued message (spool)");
		set_open(s, SPOOL_RCPT_PENDING, "4.3.0", diag, true);
		rc = HOST_DONE;
		goto drop;
	}
	if (r == -1) {
		io_diag(s, io, "sending the message body", diag, sizeof(diag));
		set_open(s, SPOOL_RCPT_PENDING, "4.4.2", diag, true);
		rc = HOST_DONE;
		goto drop;
	}
	r = read_reply(s, s->cfg->data_timeout_ms);
	if (r < 0) {
		/* The peer may have the message: retry (duplicate possible). */
		io_diag(s, r, "waiting for the reply to the end of data", diag,
		    sizeof(diag));
		set_open(s, SPOOL_RCPT_PENDING, "4.4.2", diag, true);
		rc = HOST_DONE;
		goto drop;
	}
	reply_diag(s, "end of DATA", diag, sizeof(diag));
	for (i = 0; i < m->nrcpt; i++) {
		if (!s->open[i] || !acc[i])
			continue;
		set_rcpt(s, i, r < 300 ? SPOOL_RCPT_DELIVERED : r >= 500 ?
		    SPOOL_RCPT_FAILED : SPOOL_RCPT_PENDING,
		    reply_status(s, "5.0.0", "4.0.0"), diag);
		m->rcpt[i].peer_dsn = s->ehlo.dsn;
		s->open[i] = false;
		log_info("event=relay_result qid=%s to=<%s> peer=%s code=%d "
		    "tls=%d", m->qid, m->rcpt[i].address, s->peer, r,
		    conn_is_tls(s->c));
	}
	rc = HOST_DONE;
	goto quit;

mail_refused:
	reply_diag(s, "MAIL FROM", diag, sizeof(diag));
	if (r >= 500) {
		set_open(s, SPOOL_RCPT_FAILED, reply_status(s, "5.0.0", "4.0.0"),
		    diag, true);
		rc = HOST_DONE;
	} else
		set_open(s, SPOOL_RCPT_PENDING, reply_status(s, "5.0.0",
		    "4.0.0"), diag, false);
	goto quit;
lost_read:
	io_diag(s, r, "in the transaction", diag, sizeof(diag));
	set_open(s, SPOOL_RCPT_PENDING, "4.4.2", diag, false);
	goto drop;
lost:
	(void)gms_snprintf(diag, sizeof(diag), "lost connection with %s",
	    s->peer);
	set_open(s, SPOOL_RCPT_PENDING, "4.4.2", diag, false);
	goto drop;
quit:
	if (s->c != NULL && send_cmd(s, "QUIT") == 0 && conn_flush(s->c) == 0)
		(void)read_reply(s, 2000);
drop:
	free(acc);
	conn_free(&s->c);
	return rc;
}

/* fail_all - every recipient gets the same final outcome. */
static void
fail_all(struct relay_msg *m, int state, const char *status,
    const char *diag)
{
	size_t i;

	for (i = 0; i < m->nrcpt; i++) {
		m->rcpt[i].state = state;
		(void)gms_strlcpy(m->rcpt[i].status, status,
		    sizeof(m->rcpt[i].status));
		clean_text(m->rcpt[i].diag, sizeof(m->rcpt[i].diag), diag,
		    strlen(diag));
		m->rcpt[i].remote_mta[0] = '\0';
	}
}

/* any_open - is some recipient still without an answer? */
static bool
any_open(const bool *open, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (open[i])
			return true;
	return false;
}

void
relay_smtp_deliver(const struct relay_cfg *cfg, struct tls_ctx *tls,
    int stop_fd, const char *domain, struct relay_msg *m)
{
	struct relay_mx mx[RELAY_MX_MAX];
	struct sockaddr_storage addrs[RELAY_ADDR_MAX];
	struct relay_tlsa tlsa[8];
	struct sess s;
	char diag[600];
	unsigned self = UINT32_MAX, tried = 0;
	size_t i, j;
	int n, na, nt, r;
	bool implicit = false, secure;

	memset(&s, 0, sizeof(s));
	s.cfg = cfg;
	s.tls = tls;
	s.stop_fd = stop_fd;
	s.msg = m;
	relay_reply_init(&s.rep);
	s.open = xcalloc(m->nrcpt, sizeof(*s.open));
	for (i = 0; i < m->nrcpt; i++)
		s.open[i] = true;
	fail_all(m, SPOOL_RCPT_PENDING, "4.4.3", "not attempted");

	n = relay_dns_mx(domain, mx, GMS_NELEM(mx));
	if (n == RELAY_DNS_TEMP) {
		(void)gms_snprintf(diag, sizeof(diag), "DNS lookup of the MX "
		    "records of %s failed temporarily", domain);
		fail_all(m, SPOOL_RCPT_PENDING, "4.4.3", diag);
		goto out;
	}
	if (n == RELAY_DNS_NXDOMAIN) {
		(void)gms_snprintf(diag, sizeof(diag), "domain %s not found "
		    "in the DNS", domain);
		fail_all(m, SPOOL_RCPT_FAILED, "5.1.2", diag);
		goto out;
	}
	if (n == RELAY_DNS_NODATA) {
		/* RFC 5321 5.1: the domain itself is the implicit MX. */
		(void)gms_strlcpy(mx[0].host, domain, sizeof(mx[0].host));
		mx[0].pref = 0;
		n = 1;
		implicit = true;
	}
	for (i = 0; i < (size_t)n; i++)
		if (mx[i].host[0] == '\0') {
			(void)gms_snprintf(diag, sizeof(diag), "domain %s does "
			    "not accept mail (null MX, RFC 7505)", domain);
			fail_all(m, SPOOL_RCPT_FAILED, "5.1.10", diag);
			log_info("event=relay_null_mx qid=%s domain=%s", m->qid,
			    domain);
			goto out;
		}
	/* RFC 5321 5.1: drop ourselves and every MX not better than us. */
	for (i = 0; i < (size_t)n; i++)
		if (gms_strcasecmp(mx[i].host, cfg->hostname) == 0 &&
		    mx[i].pref < self)
			self = mx[i].pref;
	if (self != UINT32_MAX) {
		for (i = j = 0; i < (size_t)n; i++)
			if (mx[i].pref < self)
				mx[j++] = mx[i];
		n = (int)j;
		if (n == 0) {
			(void)gms_snprintf(diag, sizeof(diag), "mail for %s "
			    "loops back to myself", domain);
			fail_all(m, SPOOL_RCPT_FAILED, "5.4.6", diag);
			log_warnx("event=relay_loop qid=%s domain=%s", m->qid,
			    domain);
			goto out;
		}
	}
	/* MTA-STS (RFC 8461): in enforce mode only the MX hosts the policy
	 * names, each with a certificate that verifies. */
	if (cfg->mta_sts) {
		struct relay_sts sts;

		r = relay_sts_get(cfg, tls, stop_fd, domain, &sts);
		if (r < 0) {
			(void)gms_snprintf(diag, sizeof(diag), "the MTA-STS "
			    "policy of %s could not be fetched", domain);
			fail_all(m, SPOOL_RCPT_PENDING, "4.7.5", diag);
			goto out;
		}
		if (r == 1 && sts.mode != RELAY_STS_NONE) {
			for (i = j = 0; i < (size_t)n; i++) {
				if (relay_sts_match(&sts, mx[i].host))
					mx[j++] = mx[i];
				else
					log_info("event=relay_sts_mx_mismatch "
					    "qid=%s domain=%s mx=%s mode=%s",
					    m->qid, domain, mx[i].host,
					    sts.mode == RELAY_STS_ENFORCE ?
					    "enforce" : "testing");
			}
			if (sts.mode == RELAY_STS_ENFORCE) {
				n = (int)j;
				s.sts_enforce = true;
				if (n == 0) {
					(void)gms_snprintf(diag, sizeof(diag),
					    "no MX host of %s matches its "
					    "MTA-STS policy", domain);
					fail_all(m, SPOOL_RCPT_PENDING, "4.7.5",
					    diag);
					goto out;
				}
			}
		}
	}
	for (i = 0; i < (size_t)n && tried < cfg->max_hosts &&
	    any_open(s.open, m->nrcpt); i++) {
		s.host = mx[i].host;
		na = relay_dns_addrs(mx[i].host, cfg->ipv6, cfg->port, addrs,
		    GMS_NELEM(addrs));
		if (na <= 0) {
			if (implicit && na == RELAY_DNS_NXDOMAIN) {
				(void)gms_snprintf(diag, sizeof(diag),
				    "domain %s not found", domain);
				fail_all(m, SPOOL_RCPT_FAILED, "5.1.2", diag);
				goto out;
			}
			(void)gms_snprintf(diag, sizeof(diag), "%s lookup of "
			    "MX host %s", na == RELAY_DNS_TEMP ?
			    "temporary failure in the address" :
			    "no address found in the", mx[i].host);
			set_open(&s, SPOOL_RCPT_PENDING, "4.4.3", diag, false);
			continue;
		}
		s.tlsa = NULL;
		s.ntlsa = 0;
		s.tls_required = false;
		if (cfg->dane) {
			nt = relay_dns_tlsa(mx[i].host, cfg->port, tlsa,
			    GMS_NELEM(tlsa), &secure);
			if (nt > 0 && secure) {
				/* RFC 7672 2.2: only DANE-EE is usable here;
				 * with none usable, TLS is still required. */
				for (j = 0; j < (size_t)nt; j++)
					if (tlsa[j].usage == 3 &&
					    tlsa[j].selector <= 1 &&
					    tlsa[j].mtype <= 2)
						break;
				if (j < (size_t)nt) {
					s.tlsa = tlsa;
					s.ntlsa = (size_t)nt;
				} else
					s.tls_required = true;
			} else if (nt == RELAY_DNS_TEMP) {
				(void)gms_snprintf(diag, sizeof(diag), "TLSA "
				    "lookup for %s failed", mx[i].host);
				set_open(&s, SPOOL_RCPT_PENDING, "4.7.5", diag,
				    false);
				continue;
			}
		}
		for (j = 0; j < (size_t)na && tried < cfg->max_hosts &&
		    any_open(s.open, m->nrcpt); j++) {
			char a[INET6_ADDRSTRLEN];
			const void *ap = addrs[j].ss_family == AF_INET6 ?
			    (const void *)&((struct sockaddr_in6 *)&addrs[j])->sin6_addr :
			    (const void *)&((struct sockaddr_in *)&addrs[j])->sin_addr;

			if (inet_ntop(addrs[j].ss_family, ap, a, sizeof(a)) == NULL)
				(void)gms_strlcpy(a, "?", sizeof(a));
			(void)gms_snprintf(s.peer, sizeof(s.peer), "%s[%s]",
			    mx[i].host, a);
			tried++;
			s.no_tls = false;
			r = session(&s, &addrs[j]);
			if (r == HOST_PLAIN) {
				s.no_tls = true;
				r = session(&s, &addrs[j]);
			}
			if (r == HOST_DONE)
				break;
		}
	}
out:
	relay_reply_free(&s.rep);
	free(s.open);
}
