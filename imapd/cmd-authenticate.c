/*
 * cmd-authenticate.c - AUTHENTICATE mechanism [initial-response]
 * (RFC 9051 6.2.2, SASL-IR RFC 4959), through the Cyrus SASL glue of lib/
 * with PLAIN and LOGIN; the password check is imapd_check_password().
 *
 * Security: only over TLS (the dispatcher); each continuation line is
 * bounded, the number of rounds too; decoded payloads are wiped.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "imapd/imapd.h"

#define AUTH_LINE_MAX	8192
#define AUTH_ROUNDS_MAX	5

struct auth_ctx {
	struct imapd_session	*s;
	char			*canon;		/* owned */
	int			 result;	/* last check result */
};

/* auth_check - the gsasl password callback. */
static int
auth_check(void *arg, const char *user, const char *pass, size_t passlen)
{
	struct auth_ctx *a = arg;
	int r;

	free(a->canon);
	a->canon = NULL;
	r = imapd_check_password(a->s, user, pass, passlen, &a->canon);
	a->result = r;
	return r == 1 ? 1 : r == -1 ? -1 : 0;
}

/* send_challenge - "+ base64" and flush. */
static int
send_challenge(struct imapd_session *s, const char *out, size_t outlen)
{
	struct buf b = BUF_INIT(0);
	int r;

	(void)buf_puts(&b, "+ ");
	if (outlen > 0)
		(void)base64_encode(&b, out, outlen);
	(void)buf_puts(&b, "\r\n");
	r = conn_write(s->conn, b.data, b.len);
	buf_free(&b);
	if (r < 0 || conn_flush(s->conn) < 0)
		return -1;
	return 0;
}

int
cmd_authenticate(struct imapd_session *s, struct imap_parser *p)
{
	struct auth_ctx a = { s, NULL, 0 };
	struct buf dec = BUF_INIT(AUTH_LINE_MAX);
	struct gsasl *g;
	struct line l;
	const char *out;
	size_t outlen;
	char *mech, *ir = NULL;
	int r, rounds = 0, ret;

	if (imap_p_sp(p) < 0 || imap_p_atom(p, &mech) < 0)
		return CMD_BAD;
	if (imap_p_accept(p, ' ')) {
		size_t n = 0;

		while (n < p->c.left && p->c.p[n] != ' ')
			n++;
		ir = arena_strndup(p->arena, p->c.p, n);
		cur_skip(&p->c, n);
	}
	if (imap_p_eol(p) < 0)
		return CMD_BAD;
	if (ir != NULL && strcmp(ir, "=") != 0 &&
	    base64_decode(&dec, ir, strlen(ir)) < 0)
		return cmd_bad(s, "CLIENTBUG", "Invalid base64");
	g = gsasl_new("imap", s->srv, auth_check, &a);
	if (g == NULL)
		return cmd_no(s, "UNAVAILABLE", "Authentication unavailable");
	r = gsasl_start(g, mech, ir != NULL ? (dec.data != NULL ? dec.data :
	    "") : NULL, ir != NULL ? dec.len : 0, &out, &outlen);
	buf_wipe_free(&dec);
	buf_init(&dec, AUTH_LINE_MAX);
	while (r == GSASL_CONTINUE) {
		if (++rounds > AUTH_ROUNDS_MAX ||
		    send_challenge(s, out, outlen) < 0) {
			r = GSASL_FAIL;
			break;
		}
		if (conn_getline(s->conn, &l, AUTH_LINE_MAX) != CONN_OK ||
		    l.end == LINE_NONE) {
			gsasl_free(&g);
			free(a.canon);
			return CMD_CLOSE;
		}
		if (l.too_long) {
			r = GSASL_FAIL;
			break;
		}
		if (l.len == 1 && l.data[0] == '*') {
			gsasl_free(&g);
			free(a.canon);
			return cmd_bad(s, "CLIENTBUG", "Authentication cancelled");
		}
		buf_wipe_free(&dec);
		buf_init(&dec, AUTH_LINE_MAX);
		if (base64_decode(&dec, l.data, l.len) < 0) {
			gms_wipe((char *)l.data, l.len);
			gsasl_free(&g);
			buf_wipe_free(&dec);
			free(a.canon);
			return cmd_bad(s, "CLIENTBUG", "Invalid base64");
		}
		gms_wipe((char *)l.data, l.len);
		r = gsasl_step(g, dec.data != NULL ? dec.data : "", dec.len,
		    &out, &outlen);
	}
	buf_wipe_free(&dec);
	if (s->cmdbuf.data != NULL)
		gms_wipe(s->cmdbuf.data, s->cmdbuf.len);
	gsasl_free(&g);
	switch (r) {
	case GSASL_DONE:
		if (a.canon == NULL) {
			ret = cmd_no(s, "AUTHENTICATIONFAILED",
			    "Authentication failed");
			break;
		}
		imapd_login_done(s, a.canon);
		return CMD_DONE;
	case GSASL_TEMPFAIL:
		ret = cmd_no(s, "UNAVAILABLE", "Temporary failure, try again");
		break;
	case GSASL_BADMECH:
		ret = cmd_no(s, "CANNOT", "Unsupported mechanism");
		break;
	default:
		s->auth_failures++;
		ret = cmd_no(s, "AUTHENTICATIONFAILED", "Authentication failed");
		break;
	}
	free(a.canon);
	return ret;
}
