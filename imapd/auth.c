/*
 * auth.c - the password check shared by LOGIN and AUTHENTICATE, and the
 * step into the authenticated state.
 *
 * Security: an empty password is refused before anything else (an LDAP
 * bind with an empty password would "succeed" anonymously); every attempt
 * goes through the process-wide throttle first, counted as a failure
 * until it ends well, so parallel guesses count together; the directory
 * checks the password by binding as the user.  The caller wipes the
 * password afterwards; it is never logged.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imapd/imapd.h"
#include "spool/spool.h"
#include "directory/directory.h"

/* sleep_ms - wait (the throttle's delay). */
static void
sleep_ms(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && !server_stopping())
		;
}

int
imapd_check_password(struct imapd_session *s, const char *user,
    const char *pass, size_t passlen, char **canon_r)
{
	struct throttle_ticket tk;
	struct dir_mailbox mb;
	char esc[128];
	int delay, r;

	*canon_r = NULL;
	(void)log_escape(esc, sizeof(esc), user, strlen(user), 100);
	if (passlen == 0 || user[0] == '\0' || strlen(user) > DIR_ADDR_MAX) {
		log_info("login refused user=\"%s\" reason=empty", esc);
		return 0;
	}
	delay = throttle_begin(imapd_throttle, s->srv->peer_addr, user, &tk);
	if (delay < 0) {
		log_info("login refused user=\"%s\" peer=%s reason=throttled",
		    esc, s->srv->peer_addr);
		return -2;
	}
	if (delay > 0)
		sleep_ms(delay);
	r = directory_authenticate(imapd_dir, user, pass, passlen, &mb);
	throttle_end(imapd_throttle, &tk, r == 1 ? 1 : r == 0 ? 0 : -1);
	if (r == 1) {
		*canon_r = xstrdup(mb.address);
		return 1;
	}
	log_info("login failed user=\"%s\" peer=%s result=%s", esc,
	    s->srv->peer_addr, r == 0 ? "refused" : "tempfail");
	return r == 0 ? 0 : -1;
}

void
imapd_login_done(struct imapd_session *s, char *user)
{
	struct buf b = BUF_INIT(0);
	int r;

	free(s->user);
	s->user = user;
	imapd_enter_state(s, IMAPD_STATE_AUTH);
	conn_set_timeout(s->conn, (int)conf_int(s->conf, "imapd.timeout") * 1000);
	/* First login: give the user the standard mailbox set. */
	r = spool_user_create(imapd_spool, user);
	if (r != SPOOL_OK && r != SPOOL_EEXIST)
		log_warnx("cannot create the mailbox set user=%s: %s", user,
		    spool_strerror(r));
	log_info("login user=%s peer=%s tls=\"%s\"", user, s->srv->peer_addr,
	    conn_tls_info(s->conn));
	imapd_capabilities(s, &b);
	(void)cmd_ok(s, NULL, "Logged in");
	buf_reset(&s->resp_code);
	(void)buf_puts(&s->resp_code, "CAPABILITY ");
	(void)buf_append(&s->resp_code, b.data, b.len);
	buf_free(&b);
}

int
cmd_spool_error(struct imapd_session *s, int err, const char *what)
{
	if (spool_err_temporary(err)) {
		log_warnx("store error op=%s user=%s err=%s", what,
		    s->user != NULL ? s->user : "-", spool_err_name(err));
		return cmd_no(s, "UNAVAILABLE", "Temporary failure, try again");
	}
	switch (err) {
	case SPOOL_ENOENT:
		return cmd_no(s, "NONEXISTENT", "No such mailbox");
	case SPOOL_EEXIST:
		return cmd_no(s, "ALREADYEXISTS", "Mailbox already exists");
	case SPOOL_EQUOTA_BYTES:
	case SPOOL_EQUOTA_MESSAGES:
		return cmd_no(s, "OVERQUOTA", "Quota exceeded");
	case SPOOL_ETOOBIG:
		return cmd_no(s, "TOOBIG", "Message too large");
	case SPOOL_EINVAL:
		return cmd_no(s, "CANNOT", "Invalid name or argument");
	case SPOOL_EPERM:
		return cmd_no(s, "CANNOT", "Operation not permitted");
	case SPOOL_EHASCHILDREN:
		return cmd_no(s, "INUSE", "Mailbox has children");
	case SPOOL_ENOSELECT:
		return cmd_no(s, "CANNOT", "Mailbox cannot be selected");
	case SPOOL_ELIMIT:
		return cmd_no(s, "LIMIT", "Limit reached");
	case SPOOL_EEXPUNGED:
		return cmd_no(s, "EXPUNGEISSUED", "Message was expunged");
	default:
		return cmd_no(s, "SERVERBUG", "Internal error");
	}
}
