/*
 * session.c - one IMAP session: the state machine, the command table and
 * the dispatcher.
 *
 * A session is in one of four states (RFC 9051 section 3): not
 * authenticated, authenticated, selected, logout.  The state is data in
 * struct imapd_session, changed only through imapd_enter_state().  Every
 * command has one entry in imapd_commands[] whose flags say in which
 * states it is valid, whether it needs TLS, whether it has a UID form and
 * whether expunges may be reported after it; the dispatcher checks them
 * once, so no handler is reachable in a state it was not written for: in
 * particular no mailbox or store call can run before authentication.
 *
 * The loop reads one command (reader.c) under limits that are smaller
 * before authentication, parses tag and name, checks the flags, runs the
 * handler, reports the selected mailbox's changes, and writes the tagged
 * answer the handler prepared.  Output is flushed when no pipelined input
 * is waiting.  Syntax errors get BAD with a response code; too many of
 * them end the session with BYE.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "imapd/imapd.h"

const struct imapd_cmd imapd_commands[] = {
	/* Any state. */
	{ "CAPABILITY",	cmd_capability,	CMDF_PRETLS },
	{ "NOOP",	cmd_noop,	CMDF_PRETLS },
	{ "LOGOUT",	cmd_logout,	CMDF_PRETLS },
	{ "ID",		cmd_id,		CMDF_PRETLS },
	/* Not authenticated. */
	{ "STARTTLS",	cmd_starttls,	CMDF_NOAUTH | CMDF_PRETLS },
	{ "LOGIN",	cmd_login,	CMDF_NOAUTH },
	{ "AUTHENTICATE", cmd_authenticate, CMDF_NOAUTH },
	/* Authenticated. */
	{ "ENABLE",	cmd_enable,	CMDF_AUTH },
	{ "NAMESPACE",	cmd_namespace,	CMDF_AUTH },
	{ "SELECT",	cmd_select,	CMDF_AUTH },
	{ "EXAMINE",	cmd_examine,	CMDF_AUTH },
	{ "CREATE",	cmd_create,	CMDF_AUTH },
	{ "DELETE",	cmd_delete,	CMDF_AUTH },
	{ "RENAME",	cmd_rename,	CMDF_AUTH },
	{ "SUBSCRIBE",	cmd_subscribe,	CMDF_AUTH },
	{ "UNSUBSCRIBE", cmd_unsubscribe, CMDF_AUTH },
	{ "LIST",	cmd_list,	CMDF_AUTH },
	{ "LSUB",	cmd_lsub,	CMDF_AUTH },
	{ "STATUS",	cmd_status,	CMDF_AUTH },
	{ "APPEND",	cmd_append,	CMDF_AUTH },
	{ "IDLE",	cmd_idle,	CMDF_AUTH },
	{ "GETQUOTA",	cmd_getquota,	CMDF_AUTH },
	{ "GETQUOTAROOT", cmd_getquotaroot, CMDF_AUTH },
	{ "SETQUOTA",	cmd_setquota,	CMDF_AUTH },
	{ "COMPRESS",	cmd_compress,	CMDF_AUTH },
	/* Selected. */
	{ "CHECK",	cmd_check,	CMDF_AUTH | CMDF_SELECTED },
	{ "CLOSE",	cmd_close,	CMDF_AUTH | CMDF_SELECTED },
	{ "UNSELECT",	cmd_unselect,	CMDF_AUTH | CMDF_SELECTED },
	{ "EXPUNGE",	cmd_expunge,	CMDF_AUTH | CMDF_SELECTED | CMDF_UID },
	{ "SEARCH",	cmd_search,	CMDF_AUTH | CMDF_SELECTED | CMDF_UID |
					CMDF_NOEXPUNGE },
	{ "FETCH",	cmd_fetch,	CMDF_AUTH | CMDF_SELECTED | CMDF_UID |
					CMDF_NOEXPUNGE },
	{ "STORE",	cmd_store,	CMDF_AUTH | CMDF_SELECTED | CMDF_UID |
					CMDF_NOEXPUNGE },
	{ "SORT",	cmd_sort,	CMDF_AUTH | CMDF_SELECTED | CMDF_UID |
					CMDF_NOEXPUNGE },
	{ "THREAD",	cmd_thread,	CMDF_AUTH | CMDF_SELECTED | CMDF_UID |
					CMDF_NOEXPUNGE },
	{ "COPY",	cmd_copy,	CMDF_AUTH | CMDF_SELECTED | CMDF_UID },
	{ "MOVE",	cmd_move,	CMDF_AUTH | CMDF_SELECTED | CMDF_UID },
	{ NULL,		NULL,		0 }
};

/* Counters per command, same index as imapd_commands[]; the last slot
 * counts unknown commands. */
static unsigned long cmd_calls[GMS_NELEM(imapd_commands)];

const struct imapd_cmd *
imapd_cmd_find(const char *name)
{
	const struct imapd_cmd *c;

	for (c = imapd_commands; c->name != NULL; c++)
		if (gms_strcasecmp(c->name, name) == 0)
			return c;
	return NULL;
}

const char *
imapd_state_name(int st)
{
	static __thread char unknown[32];

	switch (st) {
	case IMAPD_STATE_NOAUTH:	return "not-authenticated";
	case IMAPD_STATE_AUTH:		return "authenticated";
	case IMAPD_STATE_SELECTED:	return "selected";
	case IMAPD_STATE_LOGOUT:	return "logout";
	default:
		(void)gms_snprintf(unknown, sizeof(unknown), "unknown (%d)", st);
		return unknown;
	}
}

void
imapd_enter_state(struct imapd_session *s, enum imapd_state st)
{
	log_trace(TRACE_IMAP, "state %s -> %s", imapd_state_name(s->state),
	    imapd_state_name(st));
	s->state = st;
}

/* ------------------------------------------------------------------ */
/* The tagged answer. */

/* set_resp - record status, code and text for the tagged answer. */
static int
set_resp(struct imapd_session *s, const char *status, const char *code,
    const char *fmt, va_list ap)
{
	s->resp_status = status;
	buf_reset(&s->resp_code);
	buf_reset(&s->resp_text);
	if (code != NULL)
		(void)buf_puts(&s->resp_code, code);
	(void)buf_vprintf(&s->resp_text, fmt, ap);
	return CMD_DONE;
}

int
cmd_ok(struct imapd_session *s, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)set_resp(s, "OK", code, fmt, ap);
	va_end(ap);
	return CMD_DONE;
}

int
cmd_no(struct imapd_session *s, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)set_resp(s, "NO", code, fmt, ap);
	va_end(ap);
	return CMD_DONE;
}

int
cmd_bad(struct imapd_session *s, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)set_resp(s, "BAD", code, fmt, ap);
	va_end(ap);
	return CMD_DONE;
}

/* send_tagged - write "tag STATUS [code] text". */
static int
send_tagged(struct imapd_session *s, const char *tag, const char *status,
    const char *code, const char *text)
{
	if (code != NULL && code[0] != '\0')
		return conn_printf(s->conn, "%s %s [%s] %s\r\n", tag, status,
		    code, text);
	return conn_printf(s->conn, "%s %s %s\r\n", tag, status, text);
}

/* too_many_bad - count a BAD; true when the session must end. */
static bool
too_many_bad(struct imapd_session *s)
{
	long long max = conf_int(s->conf, "imapd.bad_commands_max");

	if (++s->bad_count < (unsigned long long)max)
		return false;
	log_info("too many bad commands user=%s count=%u",
	    s->user != NULL ? s->user : "-", s->bad_count);
	(void)conn_printf(s->conn, "* BYE [CLIENTBUG] Too many invalid "
	    "commands\r\n");
	(void)conn_flush(s->conn);
	return true;
}

/* ------------------------------------------------------------------ */
/* Reading from the connection. */

static int
src_getline(void *arg, struct line *l, size_t max)
{
	return conn_getline(arg, l, max);
}

static int
src_read_exact(void *arg, void *dst, size_t n)
{
	return conn_read_exact(arg, dst, n);
}

static int
src_cont(void *arg, const char *text)
{
	if (conn_printf(arg, "+ %s\r\n", text) < 0)
		return -1;
	return conn_flush(arg) < 0 ? -1 : 0;
}

/* session_limits - the reader's limits for the current state. */
static void
session_limits(const struct imapd_session *s, struct imap_limits *lim)
{
	if (s->state == IMAPD_STATE_NOAUTH) {
		lim->line_max = IMAP_PREAUTH_LINE_MAX;
		lim->literal_max = IMAP_PREAUTH_LITERAL_MAX;
		lim->command_max = IMAP_PREAUTH_COMMAND_MAX;
		return;
	}
	lim->line_max = (size_t)conf_int(s->conf, "imapd.line_max");
	lim->literal_max = (size_t)conf_int(s->conf, "imapd.literal_max");
	/* A command may carry several literals (MULTIAPPEND). */
	lim->command_max = (size_t)conf_int(s->conf, "imapd.command_max");
}

/* tag_of - copy the tag at the start of cmd, or "*" if there is none. */
static void
tag_of(struct imapd_session *s)
{
	struct imap_parser p;
	const char *t;
	size_t n;

	imap_parser_init(&p, s->cmdbuf.data != NULL ? s->cmdbuf.data : "",
	    s->cmdbuf.len, &s->arena);
	if (imap_p_tag(&p, &t, &n) < 0 || n >= sizeof(s->tag)) {
		(void)gms_strlcpy(s->tag, "*", sizeof(s->tag));
		return;
	}
	memcpy(s->tag, t, n);
	s->tag[n] = '\0';
}

/* ------------------------------------------------------------------ */
/* The dispatcher. */

/* check_state - the command's preconditions; sends the refusal. */
static int
check_state(struct imapd_session *s, const struct imapd_cmd *c)
{
	if ((c->flags & CMDF_NOAUTH) && s->state != IMAPD_STATE_NOAUTH)
		return cmd_bad(s, "CLIENTBUG", "Already authenticated"), -1;
	if ((c->flags & CMDF_AUTH) && s->state == IMAPD_STATE_NOAUTH)
		return cmd_bad(s, "CLIENTBUG", "Not authenticated"), -1;
	if ((c->flags & CMDF_SELECTED) && s->state != IMAPD_STATE_SELECTED)
		return cmd_bad(s, "CLIENTBUG", "No mailbox selected"), -1;
	if (!(c->flags & CMDF_PRETLS) && !conn_is_tls(s->conn))
		return cmd_no(s, "PRIVACYREQUIRED",
		    "TLS is required: use STARTTLS"), -1;
	if (s->uid && !(c->flags & (CMDF_UID | CMDF_UIDONLY)))
		return cmd_bad(s, "CLIENTBUG", "No UID form of %s", c->name),
		    -1;
	return 0;
}

/* dispatch - run the command in s->cmdbuf.  Returns 0 to go on, -1 to
 * end the session. */
static int
dispatch(struct imapd_session *s)
{
	struct imap_parser p;
	const struct imapd_cmd *c = NULL;
	const char *tag;
	size_t taglen;
	char *name;
	int r;

	imap_parser_init(&p, s->cmdbuf.data, s->cmdbuf.len, &s->arena);
	s->uid = false;
	s->cmd = NULL;
	s->resp_status = NULL;
	if (imap_p_tag(&p, &tag, &taglen) < 0 || imap_p_sp(&p) < 0 ||
	    imap_p_atom(&p, &name) < 0) {
		tag_of(s);
		if (s->tag[0] == '*' && s->cmdbuf.len == 0)
			(void)conn_printf(s->conn,
			    "* BAD [CLIENTBUG] Empty command line\r\n");
		else
			(void)send_tagged(s, s->tag, "BAD", "CLIENTBUG",
			    "Error in IMAP command: missing tag or name");
		return too_many_bad(s) ? -1 : 0;
	}
	memcpy(s->tag, tag, taglen);
	s->tag[taglen] = '\0';
	if (gms_strcasecmp(name, "UID") == 0) {
		s->uid = true;
		if (imap_p_sp(&p) < 0 || imap_p_atom(&p, &name) < 0) {
			(void)send_tagged(s, s->tag, "BAD", "CLIENTBUG",
			    "UID needs a command");
			return too_many_bad(s) ? -1 : 0;
		}
	}
	c = imapd_cmd_find(name);
	if (c == NULL || ((c->flags & CMDF_UIDONLY) && !s->uid)) {
		cmd_calls[GMS_NELEM(imapd_commands) - 1]++;
		(void)send_tagged(s, s->tag, "BAD", "CLIENTBUG",
		    "Unknown command");
		return too_many_bad(s) ? -1 : 0;
	}
	__atomic_add_fetch(&cmd_calls[c - imapd_commands], 1,
	    __ATOMIC_RELAXED);
	s->cmd = c;
	log_trace(TRACE_IMAP, "command tag=%.40s name=%s uid=%d state=%s",
	    s->tag, c->name, s->uid, imapd_state_name(s->state));
	if (check_state(s, c) < 0) {
		r = CMD_DONE;
	} else
		r = c->fn(s, &p);
	if (r == CMD_CLOSE)
		return -1;
	if (r == CMD_SENT)
		return s->state == IMAPD_STATE_LOGOUT ? -1 : 0;
	if (r == CMD_BAD) {
		(void)send_tagged(s, s->tag, "BAD",
		    p.code != NULL ? p.code : "CLIENTBUG",
		    p.error != NULL ? p.error : "Syntax error");
		return too_many_bad(s) ? -1 : 0;
	}
	if (s->state == IMAPD_STATE_SELECTED && s->resp_status != NULL &&
	    strcmp(s->resp_status, "BAD") != 0) {
		bool allow = !(c->flags & CMDF_NOEXPUNGE) || s->uid;

		if (imapd_mailbox_sync(s, allow) < 0) {
			(void)conn_printf(s->conn, "* BYE [UNAVAILABLE] "
			    "The mailbox is no longer available\r\n");
			return -1;
		}
	}
	if (s->resp_status == NULL)
		(void)cmd_ok(s, NULL, "%s completed", c->name);
	(void)send_tagged(s, s->tag, s->resp_status, buf_cstr(&s->resp_code),
	    buf_cstr(&s->resp_text));
	if (strcmp(s->resp_status, "BAD") == 0 && too_many_bad(s))
		return -1;
	if (s->state == IMAPD_STATE_LOGOUT)
		return -1;
	return 0;
}

/* greet - the greeting, with the capabilities so clients skip a round. */
static void
greet(struct imapd_session *s)
{
	struct buf b = BUF_INIT(0);

	imapd_capabilities(s, &b);
	(void)conn_printf(s->conn, "* OK [CAPABILITY %s] GMS IMAP ready\r\n",
	    buf_cstr(&b));
	buf_free(&b);
}

void
imapd_serve(struct session *srv)
{
	struct imapd_session s;
	struct imap_src src;
	struct imap_limits lim;
	int r, io;

	memset(&s, 0, sizeof(s));
	s.srv = srv;
	s.conn = srv->conn;
	s.conf = srv->conf;
	s.state = IMAPD_STATE_NOAUTH;
	buf_init(&s.cmdbuf, 0);
	buf_init(&s.resp_code, 8192);
	buf_init(&s.resp_text, 4096);
	src.getline = src_getline;
	src.read_exact = src_read_exact;
	src.cont = src_cont;
	src.arg = s.conn;

	log_info("connect peer=%s port=%d local_port=%d tls=%d", srv->peer_addr,
	    srv->peer_port, srv->local_port, srv->listen_tls == LISTEN_IMPLICIT);
	if (srv->listen_tls == LISTEN_IMPLICIT && !conn_is_tls(s.conn)) {
		size_t discarded;

		if (srv->tls == NULL ||
		    conn_starttls_server(s.conn, srv->tls, &discarded) < 0) {
			log_info("TLS handshake failed peer=%s", srv->peer_addr);
			goto out;
		}
	}
	conn_set_timeout(s.conn,
	    (int)conf_int(s.conf, "imapd.preauth_timeout") * 1000);
	greet(&s);
	for (;;) {
		if (!conn_pending(s.conn) && conn_flush(s.conn) < 0)
			break;
		arena_clear(&s.arena);
		session_limits(&s, &lim);
		r = imap_read_command(&src, &lim, &s.cmdbuf, &io);
		if (r == IMAP_READ_OK) {
			if (dispatch(&s) < 0)
				break;
			/* Do not keep a 50 MB APPEND buffer while idle. */
			if (s.cmdbuf.cap > 65536)
				buf_free(&s.cmdbuf);
			continue;
		}
		if (r == IMAP_READ_EOF || r == IMAP_READ_IOERR) {
			if (io == CONN_TIMEOUT)
				(void)conn_printf(s.conn, "* BYE Autologout; "
				    "idle for too long\r\n");
			else if (io == CONN_STOP)
				(void)conn_printf(s.conn, "* BYE [UNAVAILABLE] "
				    "Server shutting down\r\n");
			log_info("disconnect reason=%s status=%d user=%s",
			    imap_read_result_name(r), io,
			    s.user != NULL ? s.user : "-");
			break;
		}
		tag_of(&s);
		log_info("bad input reason=%s user=%s",
		    imap_read_result_name(r), s.user != NULL ? s.user : "-");
		switch (r) {
		case IMAP_READ_TOOLONG:
			(void)send_tagged(&s, "*", "BAD", "TOOBIG",
			    "Command line too long");
			break;
		case IMAP_READ_TOOBIG:
			(void)send_tagged(&s, s.tag, "NO", "TOOBIG",
			    "Literal or command too large");
			break;
		case IMAP_READ_NUL:
			(void)send_tagged(&s, s.tag, "BAD", "CLIENTBUG",
			    "NUL byte in command");
			break;
		case IMAP_READ_TOOBIG_FATAL:
			(void)send_tagged(&s, s.tag, "BAD", "TOOBIG",
			    "Non-synchronizing literal too large");
			(void)conn_printf(s.conn, "* BYE [TOOBIG] Cannot skip "
			    "the literal, closing\r\n");
			goto out;
		default:
			(void)send_tagged(&s, s.tag, "BAD", "CLIENTBUG",
			    "Invalid command");
			break;
		}
		if (too_many_bad(&s))
			break;
	}
out:
	(void)conn_flush(s.conn);
	if (s.sel != NULL)
		imapd_mailbox_close(&s);
	log_info("session end user=%s", s.user != NULL ? s.user : "-");
	arena_clear(&s.arena);
	buf_free(&s.cmdbuf);
	buf_free(&s.resp_code);
	buf_free(&s.resp_text);
	free(s.user);
	free(s.saved);
}
