/*
 * tls.c - TLS contexts on OpenSSL 3 for the daemons (server side, with a
 * certificate per mail domain chosen by SNI) and for the relay (client
 * side).  Only TLS 1.2 and 1.3 are spoken, with forward-secret AEAD
 * ciphers for 1.2 and OpenSSL's defaults for 1.3; compression and
 * renegotiation are off.
 *
 * A struct tls_ctx is reference-counted: the server loop holds one, every
 * session holds one for its lifetime, so SIGHUP can swap in a context with
 * new certificates while running sessions keep the old one.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "gms.h"
#include "lib-private.h"

/* TLS 1.2 suites: ECDHE or DHE key exchange, AEAD only. */
#define TLS12_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"

/* At most this many per-domain certificates are loaded from sni_dir. */
#define TLS_SNI_MAX	100000
#define TLS_DOMAIN_MAX	253

struct tls_domain {
	char	*name;		/* owned, lowercase */
	SSL_CTX	*ctx;		/* owned */
};

struct tls_ctx {
	atomic_int		 refs;
	bool			 server;
	SSL_CTX			*ctx;		/* owned: the default */
	struct tls_domain	*domains;	/* owned, sorted by name */
	size_t			 ndomains;
};

void
tls_error_string(char *err, size_t errlen, const char *what)
{
	unsigned long e;
	char ebuf[256];

	e = ERR_get_error();
	if (e != 0) {
		ERR_error_string_n(e, ebuf, sizeof(ebuf));
		(void)gms_snprintf(err, errlen, "%s: %s", what, ebuf);
	} else
		(void)gms_snprintf(err, errlen, "%s", what);
	ERR_clear_error();
}

SSL_CTX *
tls_ctx_ssl(struct tls_ctx *t)
{
	return t->ctx;
}

bool
tls_ctx_is_server(const struct tls_ctx *t)
{
	return t->server;
}

/* tls_ctx_common - the protocol settings every context shares. */
static int
tls_ctx_common(SSL_CTX *ctx)
{
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
		return -1;
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1)
		return -1;
	/* conn.c writes from a buffer that may move between retries. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	return 0;
}

/* tls_server_ctx - a server SSL_CTX for one certificate and key. */
static SSL_CTX *
tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		tls_error_string(err, errlen, "SSL_CTX_new");
		return NULL;
	}
	if (tls_ctx_common(ctx) == -1) {
		tls_error_string(err, errlen, "TLS settings");
		goto fail;
	}
	SSL_CTX_set_dh_auto(ctx, 1);
	(void)SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"gms", 3);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		char what[512];

		(void)gms_snprintf(what, sizeof(what), "%s: cannot load certificate", cert);
		tls_error_string(err, errlen, what);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		char what[512];

		(void)gms_snprintf(what, sizeof(what), "%s: cannot load key", key);
		tls_error_string(err, errlen, what);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		char what[512];

		(void)gms_snprintf(what, sizeof(what),
		    "%s: key does not match certificate %s", key, cert);
		tls_error_string(err, errlen, what);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static int
tls_domain_cmp(const void *a, const void *b)
{
	const struct tls_domain *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* tls_domain_find - the context for name (lowercase), or NULL. */
static SSL_CTX *
tls_domain_find(const struct tls_ctx *t, const char *name)
{
	struct tls_domain key, *d;

	if (t->ndomains == 0)
		return NULL;
	key.name = (char *)(uintptr_t)name;
	key.ctx = NULL;
	d = bsearch(&key, t->domains, t->ndomains, sizeof(*t->domains),
	    tls_domain_cmp);
	return d != NULL ? d->ctx : NULL;
}

/*
 * tls_sni_cb - choose the certificate of the name the client asked for:
 * the exact name, else its parent (mail.example.org -> example.org), else
 * the default.  An unknown name is not an error: the default answers.
 */
static int
tls_sni_cb(SSL *ssl, int *alert, void *arg)
{
	struct tls_ctx *t = arg;
	const char *sni;
	const char *dot;
	char name[TLS_DOMAIN_MAX + 1];
	SSL_CTX *ctx;

	(void)alert;
	sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (sni == NULL || t->ndomains == 0)
		return SSL_TLSEXT_ERR_OK;
	if (gms_strlcpy(name, sni, sizeof(name)) == -1)
		return SSL_TLSEXT_ERR_OK;
	gms_lowercase(name);
	ctx = tls_domain_find(t, name);
	if (ctx == NULL && (dot = strchr(name, '.')) != NULL)
		ctx = tls_domain_find(t, dot + 1);
	if (ctx != NULL) {
		if (SSL_set_SSL_CTX(ssl, ctx) == NULL)
			return SSL_TLSEXT_ERR_ALERT_FATAL;
		log_trace(TRACE_TLS, "event=sni name=%s cert=domain", name);
	}
	return SSL_TLSEXT_ERR_OK;
}

/* tls_valid_domain - a file name stem that can be a domain name. */
static bool
tls_valid_domain(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > TLS_DOMAIN_MAX || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* tls_load_sni_dir - load every DOMAIN.crt with its DOMAIN.key. */
static int
tls_load_sni_dir(struct tls_ctx *t, const char *dir, char *err, size_t errlen)
{
	DIR *d;
	struct dirent *de;
	size_t cap = 0;

	d = opendir(dir);
	if (d == NULL) {
		(void)gms_snprintf(err, errlen, "%s: cannot open: %s", dir,
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char *crt, *key, *name;
		struct stat st;
		SSL_CTX *ctx;

		if (len <= 4 || strcmp(de->d_name + len - 4, ".crt") != 0)
			continue;
		if (!tls_valid_domain(de->d_name, len - 4)) {
			log_warnx("event=tls_sni_skip file=%s/%s reason=\"not a domain name\"",
			    dir, de->d_name);
			continue;
		}
		if (t->ndomains >= TLS_SNI_MAX) {
			(void)gms_snprintf(err, errlen, "%s: more than %d certificates",
			    dir, TLS_SNI_MAX);
			goto fail;
		}
		name = xstrndup(de->d_name, len - 4);
		crt = xasprintf("%s/%s", dir, de->d_name);
		key = xasprintf("%s/%s.key", dir, name);
		gms_lowercase(name);
		if (stat(key, &st) == -1) {
			(void)gms_snprintf(err, errlen, "%s: missing key %s", crt, key);
			free(crt);
			free(key);
			free(name);
			goto fail;
		}
		ctx = tls_server_ctx(crt, key, err, errlen);
		free(crt);
		free(key);
		if (ctx == NULL) {
			free(name);
			goto fail;
		}
		if (t->ndomains == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			t->domains = xreallocarray(t->domains, cap, sizeof(*t->domains));
		}
		t->domains[t->ndomains].name = name;
		t->domains[t->ndomains].ctx = ctx;
		t->ndomains++;
	}
	closedir(d);
	qsort(t->domains, t->ndomains, sizeof(*t->domains), tls_domain_cmp);
	return 0;
fail:
	closedir(d);
	return -1;
}

struct tls_ctx *
tls_server_new(const char *cert, const char *key, const char *sni_dir,
    char *err, size_t errlen)
{
	struct tls_ctx *t;

	if (cert == NULL || *cert == '\0' || key == NULL || *key == '\0') {
		(void)gms_snprintf(err, errlen, "tls.cert and tls.key are both needed");
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	atomic_init(&t->refs, 1);
	t->server = true;
	t->ctx = tls_server_ctx(cert, key, err, errlen);
	if (t->ctx == NULL)
		goto fail;
	if (sni_dir != NULL && *sni_dir != '\0') {
		if (tls_load_sni_dir(t, sni_dir, err, errlen) == -1)
			goto fail;
		SSL_CTX_set_tlsext_servername_callback(t->ctx, tls_sni_cb);
		SSL_CTX_set_tlsext_servername_arg(t->ctx, t);
	}
	log_debug("event=tls_loaded cert=%s domains=%zu", cert, t->ndomains);
	return t;
fail:
	tls_unref(&t);
	return NULL;
}

struct tls_ctx *
tls_client_new(const char *ca_file, char *err, size_t errlen)
{
	struct tls_ctx *t;
	int ok;

	t = xcalloc(1, sizeof(*t));
	atomic_init(&t->refs, 1);
	t->server = false;
	ERR_clear_error();
	t->ctx = SSL_CTX_new(TLS_client_method());
	if (t->ctx == NULL) {
		tls_error_string(err, errlen, "SSL_CTX_new");
		goto fail;
	}
	if (tls_ctx_common(t->ctx) == -1) {
		tls_error_string(err, errlen, "TLS settings");
		goto fail;
	}
	if (ca_file != NULL && *ca_file != '\0')
		ok = SSL_CTX_load_verify_locations(t->ctx, ca_file, NULL);
	else
		ok = SSL_CTX_set_default_verify_paths(t->ctx);
	if (ok != 1) {
		tls_error_string(err, errlen, "cannot load the CA certificates");
		goto fail;
	}
	/*
	 * Opportunistic TLS: the handshake goes on whatever the peer shows;
	 * the verification result is kept for the relay to judge
	 * (SSL_get_verify_result on conn_ssl()).
	 */
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
	return t;
fail:
	tls_unref(&t);
	return NULL;
}

struct tls_ctx *
tls_ref(struct tls_ctx *t)
{
	if (t != NULL)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

void
tls_unref(struct tls_ctx **tp)
{
	struct tls_ctx *t = *tp;
	size_t i;

	*tp = NULL;
	if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	for (i = 0; i < t->ndomains; i++) {
		free(t->domains[i].name);
		SSL_CTX_free(t->domains[i].ctx);
	}
	free(t->domains);
	SSL_CTX_free(t->ctx);
	free(t);
}
