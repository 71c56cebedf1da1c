/*
 * gsasl.c - the Cyrus SASL server glue of both daemons (SMTP AUTH, IMAP
 * AUTHENTICATE).  Cyrus SASL speaks the mechanisms (its PLAIN and LOGIN
 * plugins from libsasl2-modules); the password itself is checked by the
 * daemon's callback (the directory's LDAP bind), never by sasldb,
 * saslauthd or an auxprop plugin.
 *
 * Security:
 * - The mechanism list is forced to "PLAIN LOGIN" through SASL_CB_GETOPT,
 *   whatever a sasl2 configuration file on the host says.
 * - When our check fails, libsasl2 falls back to its "pwcheck_method"; we
 *   name a verifier that does not exist, so the fallback can never accept
 *   a password, and we report the outcome our own callback gave (so a
 *   directory outage stays a temporary failure).
 * - An empty password is refused before the callback: an LDAP bind with
 *   an empty password is an anonymous bind that "succeeds".
 * - An authorization id other than the authenticated id is refused
 *   (SASL_CB_PROXY_POLICY).
 * - User names are taken as sent (SASL_CB_CANON_USER): no realm is added,
 *   and names with control characters are refused.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sasl/sasl.h>

#include "gms.h"

/* libsasl2 stores every callback as int (*)(void). */
typedef int (*gsasl_cb_ft)(void);
#define GSASL_CB(f) ((gsasl_cb_ft)(void (*)(void))(f))

#define GSASL_USER_MAX	320	/* local part 64 + "@" + domain 255 */

/* Not called yet; otherwise the last result of our checkpass (1, 0, -1). */
#define GSASL_CB_NONE	2

struct gsasl {
	sasl_conn_t		*conn;		/* owned */
	gsasl_checkpass_fn	 check;
	void			*arg;		/* borrowed, the caller's */
	sasl_callback_t		 cbs[4];	/* must outlive conn */
	int			 cb_result;
	bool			 started;
	bool			 done;
	char			*user;		/* owned, after GSASL_DONE */
};

static pthread_mutex_t gsasl_init_lock = PTHREAD_MUTEX_INITIALIZER;
static bool gsasl_ready;

/* gsasl_getopt - the options we impose on libsasl2. */
static int
gsasl_getopt(void *context, const char *plugin_name, const char *option,
    const char **result, unsigned *len)
{
	const char *v = NULL;

	(void)context;
	(void)plugin_name;
	if (option == NULL || result == NULL)
		return SASL_BADPARAM;
	if (strcmp(option, "mech_list") == 0)
		v = "PLAIN LOGIN";
	else if (strcmp(option, "pwcheck_method") == 0)
		v = "gms_callback_only";	/* no such verifier: no fallback */
	else if (strcmp(option, "auxprop_plugin") == 0)
		v = "gms_none";			/* no sasldb or other auxprop */
	else if (strcmp(option, "allowanonymouslogin") == 0)
		v = "no";
	if (v == NULL)
		return SASL_FAIL;
	*result = v;
	if (len != NULL)
		*len = (unsigned)strlen(v);
	return SASL_OK;
}

/* gsasl_log - libsasl2's messages; our own code logs the outcomes. */
static int
gsasl_log(void *context, int level, const char *message)
{
	char esc[256];

	(void)context;
	if (message == NULL || level == SASL_LOG_NONE || level == SASL_LOG_PASS)
		return SASL_OK;
	log_escape(esc, sizeof(esc), message, strlen(message), 200);
	/* "unknown password verifier" is an error to libsasl2 and routine
	 * to us (see above): its messages are debug lines. */
	if (level <= SASL_LOG_WARN)
		log_debug("event=sasl_lib level=%d msg=\"%s\"", level, esc);
	else
		log_trace(TRACE_SASL, "event=sasl_lib level=%d msg=\"%s\"", level, esc);
	return SASL_OK;
}

static void *
gsasl_mutex_alloc(void)
{
	pthread_mutex_t *m = xmalloc(sizeof(*m));

	pthread_mutex_init(m, NULL);
	return m;
}

static int
gsasl_mutex_lock(void *m)
{
	return pthread_mutex_lock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static int
gsasl_mutex_unlock(void *m)
{
	return pthread_mutex_unlock(m) == 0 ? SASL_OK : SASL_FAIL;
}

static void
gsasl_mutex_free(void *m)
{
	if (m != NULL) {
		pthread_mutex_destroy(m);
		free(m);
	}
}

static const sasl_callback_t gsasl_global_cbs[] = {
	{ SASL_CB_GETOPT, GSASL_CB(gsasl_getopt), NULL },
	{ SASL_CB_LOG, GSASL_CB(gsasl_log), NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

/* gsasl_has_mech - is mech in libsasl2's global list. */
static bool
gsasl_has_mech(const char *const *mechs, const char *mech)
{
	size_t i;

	for (i = 0; mechs != NULL && mechs[i] != NULL; i++)
		if (gms_strcasecmp(mechs[i], mech) == 0)
			return true;
	return false;
}

int
gsasl_init(const char *appname)
{
	const char **mechs;
	int r;

	pthread_mutex_lock(&gsasl_init_lock);
	if (gsasl_ready) {
		pthread_mutex_unlock(&gsasl_init_lock);
		return 0;
	}
	sasl_set_mutex(gsasl_mutex_alloc, gsasl_mutex_lock, gsasl_mutex_unlock,
	    gsasl_mutex_free);
	r = sasl_server_init(gsasl_global_cbs, appname);
	if (r != SASL_OK) {
		log_errorx("event=sasl_init_failed error=\"%s\"",
		    sasl_errstring(r, NULL, NULL));
		pthread_mutex_unlock(&gsasl_init_lock);
		return -1;
	}
	mechs = sasl_global_listmech();
	if (!gsasl_has_mech(mechs, "PLAIN") || !gsasl_has_mech(mechs, "LOGIN")) {
		log_errorx("event=sasl_init_failed error=\"the PLAIN and LOGIN "
		    "mechanisms are missing: apt-get install libsasl2-modules\"");
		sasl_server_done();
		pthread_mutex_unlock(&gsasl_init_lock);
		return -1;
	}
	gsasl_ready = true;
	pthread_mutex_unlock(&gsasl_init_lock);
	return 0;
}

void
gsasl_done(void)
{
	pthread_mutex_lock(&gsasl_init_lock);
	if (gsasl_ready) {
		sasl_server_done();
		gsasl_ready = false;
	}
	pthread_mutex_unlock(&gsasl_init_lock);
}

/* gsasl_checkpass_cb - SASL_CB_SERVER_USERDB_CHECKPASS: our callback. */
static int
gsasl_checkpass_cb(sasl_conn_t *conn, void *context, const char *user,
    const char *pass, unsigned passlen, struct propctx *propctx)
{
	struct gsasl *g = context;
	int r;

	(void)conn;
	(void)propctx;
	if (user == NULL || *user == '\0' || pass == NULL || passlen == 0) {
		/* Security: an empty password never reaches the directory. */
		g->cb_result = 0;
		log_trace(TRACE_SASL, "event=sasl_refused reason=empty");
		return SASL_BADAUTH;
	}
	r = g->check(g->arg, user, pass, passlen);
	g->cb_result = r;
	if (r == 1)
		return SASL_OK;
	if (r == 0)
		return SASL_BADAUTH;
	return SASL_UNAVAIL;
}

/* gsasl_proxy_cb - SASL_CB_PROXY_POLICY: authzid must be the authcid. */
static int
gsasl_proxy_cb(sasl_conn_t *conn, void *context, const char *requested_user,
    unsigned rlen, const char *auth_identity, unsigned alen,
    const char *def_realm, unsigned urlen, struct propctx *propctx)
{
	(void)context;
	(void)def_realm;
	(void)urlen;
	(void)propctx;
	if (requested_user == NULL || auth_identity == NULL || rlen != alen ||
	    gms_strncasecmp(requested_user, auth_identity, alen) != 0) {
		sasl_seterror(conn, 0, "authorization id differs from authentication id");
		return SASL_NOAUTHZ;
	}
	return SASL_OK;
}

/* gsasl_canon_cb - SASL_CB_CANON_USER: take the name as sent. */
static int
gsasl_canon_cb(sasl_conn_t *conn, void *context, const char *in, unsigned inlen,
    unsigned flags, const char *user_realm, char *out, unsigned out_max,
    unsigned *out_len)
{
	unsigned i;

	(void)conn;
	(void)context;
	(void)flags;
	(void)user_realm;
	if (in == NULL || out == NULL || out_len == NULL)
		return SASL_BADPARAM;
	if (inlen == 0)
		inlen = (unsigned)strlen(in);
	if (inlen == 0 || inlen > GSASL_USER_MAX || inlen >= out_max)
		return SASL_BADPROT;
	for (i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c < 0x21 || c == 0x7f)
			return SASL_BADPROT;
	}
	memmove(out, in, inlen);
	out[inlen] = '\0';
	*out_len = inlen;
	return SASL_OK;
}

/* gsasl_ipport - "addr;port" as libsasl2 wants it, or NULL. */
static const char *
gsasl_ipport(char *dst, size_t len, const char *addr, int port)
{
	if (addr == NULL || *addr == '\0' || port <= 0)
		return NULL;
	if (gms_snprintf(dst, len, "%s;%d", addr, port) == -1)
		return NULL;
	return dst;
}

struct gsasl *
gsasl_new(const char *service, const struct session *s,
    gsasl_checkpass_fn check, void *arg)
{
	sasl_security_properties_t sec;
	struct gsasl *g;
	char lip[96], rip[96];
	int r;

	if (!gsasl_ready) {
		log_errorx("event=sasl_error error=\"gsasl_init was not called\"");
		return NULL;
	}
	g = xcalloc(1, sizeof(*g));
	g->check = check;
	g->arg = arg;
	g->cb_result = GSASL_CB_NONE;
	g->cbs[0].id = SASL_CB_SERVER_USERDB_CHECKPASS;
	g->cbs[0].proc = GSASL_CB(gsasl_checkpass_cb);
	g->cbs[0].context = g;
	g->cbs[1].id = SASL_CB_PROXY_POLICY;
	g->cbs[1].proc = GSASL_CB(gsasl_proxy_cb);
	g->cbs[1].context = g;
	g->cbs[2].id = SASL_CB_CANON_USER;
	g->cbs[2].proc = GSASL_CB(gsasl_canon_cb);
	g->cbs[2].context = g;
	g->cbs[3].id = SASL_CB_LIST_END;
	g->cbs[3].proc = NULL;
	g->cbs[3].context = NULL;
	r = sasl_server_new(service, NULL, NULL,
	    s != NULL ? gsasl_ipport(lip, sizeof(lip), s->local_addr, s->local_port) : NULL,
	    s != NULL ? gsasl_ipport(rip, sizeof(rip), s->peer_addr, s->peer_port) : NULL,
	    g->cbs, 0, &g->conn);
	if (r != SASL_OK) {
		log_errorx("event=sasl_error call=sasl_server_new error=\"%s\"",
		    sasl_errstring(r, NULL, NULL));
		free(g);
		return NULL;
	}
	/* No SASL security layer: TLS protects the session. */
	memset(&sec, 0, sizeof(sec));
	sec.min_ssf = 0;
	sec.max_ssf = 0;
	sec.maxbufsize = 0;
	sec.security_flags = SASL_SEC_NOANONYMOUS;
	r = sasl_setprop(g->conn, SASL_SEC_PROPS, &sec);
	if (r != SASL_OK) {
		log_errorx("event=sasl_error call=sasl_setprop error=\"%s\"",
		    sasl_errstring(r, NULL, NULL));
		gsasl_free(&g);
		return NULL;
	}
	return g;
}

void
gsasl_free(struct gsasl **gp)
{
	struct gsasl *g = *gp;

	if (g == NULL)
		return;
	*gp = NULL;
	if (g->conn != NULL)
		sasl_dispose(&g->conn);
	free(g->user);
	free(g);
}

/* gsasl_result - map a libsasl2 result (and our callback's) to GSASL_*. */
static int
gsasl_result(struct gsasl *g, int r, const char *out, unsigned outlen,
    const char **out_r, size_t *outlen_r)
{
	const void *v = NULL;

	*out_r = NULL;
	*outlen_r = 0;
	if (r == SASL_CONTINUE) {
		*out_r = out != NULL ? out : "";
		*outlen_r = out != NULL ? outlen : 0;
		return GSASL_CONTINUE;
	}
	if (r == SASL_OK) {
		if (g->cb_result != 1 ||
		    sasl_getprop(g->conn, SASL_USERNAME, &v) != SASL_OK || v == NULL) {
			/* Success that our check did not grant: refuse. */
			log_errorx("event=sasl_refused reason=\"no password check\"");
			g->done = true;
			return GSASL_FAIL;
		}
		g->user = xstrndup(v, GSASL_USER_MAX);
		g->done = true;
		return GSASL_DONE;
	}
	g->done = true;
	if (g->cb_result == -1 || r == SASL_UNAVAIL || r == SASL_TRYAGAIN)
		return GSASL_TEMPFAIL;
	log_trace(TRACE_SASL, "event=sasl_failed error=\"%s\"",
	    sasl_errstring(r, NULL, NULL));
	return GSASL_FAIL;
}

int
gsasl_start(struct gsasl *g, const char *mech, const char *in, size_t inlen,
    const char **out_r, size_t *outlen_r)
{
	const char *out = NULL, *m;
	unsigned outlen = 0;
	int r;

	*out_r = NULL;
	*outlen_r = 0;
	if (g->started)
		return GSASL_FAIL;
	if (gms_strcasecmp(mech, "PLAIN") == 0)
		m = "PLAIN";
	else if (gms_strcasecmp(mech, "LOGIN") == 0)
		m = "LOGIN";
	else
		return GSASL_BADMECH;
	if (inlen > 65535)
		return GSASL_FAIL;
	g->started = true;
	r = sasl_server_start(g->conn, m, in, (unsigned)inlen, &out, &outlen);
	return gsasl_result(g, r, out, outlen, out_r, outlen_r);
}

int
gsasl_step(struct gsasl *g, const char *in, size_t inlen, const char **out_r,
    size_t *outlen_r)
{
	const char *out = NULL;
	unsigned outlen = 0;
	int r;

	*out_r = NULL;
	*outlen_r = 0;
	if (!g->started || g->done || inlen > 65535)
		return GSASL_FAIL;
	r = sasl_server_step(g->conn, in != NULL ? in : "", (unsigned)inlen,
	    &out, &outlen);
	return gsasl_result(g, r, out, outlen, out_r, outlen_r);
}

const char *
gsasl_user(const struct gsasl *g)
{
	return g->user;
}

const char *
gsasl_mechs(void)
{
	return "PLAIN LOGIN";
}
