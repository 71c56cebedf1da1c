/*
 * smtp_dkim.c - DKIM (RFC 6376, RFC 8463) for gms-smtpd with libopendkim:
 * verification of incoming mail and signing of mail submitted from our
 * domains with rsa-sha256 and ed25519-sha256 (the latter by our own
 * signer in smtp_dkim_ed.c: libopendkim 2.11 leaks every Ed25519 key it
 * loads for signing).
 *
 * Key lookups go through lib/dns.c's resolver smtpd_ctx.dns
 * (libopendkim's DNS hooks: the query is answered synchronously at
 * "start" and handed over at "wait"), so the servers named by
 * smtpd.dns_server answer.  Signing keys are files DOMAIN.SELECTOR.key
 * in smtpd.dkim_key_dir (PEM; RSA or Ed25519; gmsadm writes them);
 * every key of the sender's domain signs, so a domain can publish an
 * RSA and an Ed25519 selector side by side.  Key files are read per
 * message (they are small and rotate without a reload).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <arpa/nameser.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <opendkim/dkim.h>

#include "smtpd/smtp_private.h"

#define DKIM_KEY_MAX	16384	/* bytes of a key file */
#define DKIM_SIGS_MAX	4	/* keys that sign one message */

static DKIM_LIB *dkim_lib;

/* A query already answered (libopendkim asks, then waits). */
struct dkim_q {
	int	len;	/* answer length or -1 */
};

static int
dkim_q_start(void *srv, int type, unsigned char *query, unsigned char *buf,
    size_t buflen, void **qh)
{
	struct dkim_q *q = xcalloc(1, sizeof(*q));

	(void)srv;
	/* libopendkim reads the rcode itself: hand it the whole answer. */
	q->len = dns_raw(smtpd_ctx.dns, (const char *)query, type, 0, buf,
	    buflen);
	*qh = q;
	return 0;
}

static int
dkim_q_wait(void *srv, void *qh, struct timeval *to, size_t *bytes,
    int *error, int *dnssec)
{
	struct dkim_q *q = qh;

	(void)srv;
	(void)to;
	if (dnssec != NULL)
		*dnssec = DKIM_DNSSEC_UNKNOWN;
	if (q->len < 0) {
		if (error != NULL)
			*error = -1;
		if (bytes != NULL)
			*bytes = 0;
		return DKIM_DNS_ERROR;
	}
	if (bytes != NULL)
		*bytes = (size_t)q->len;
	if (error != NULL)
		*error = 0;
	return DKIM_DNS_SUCCESS;
}

static int
dkim_q_cancel(void *srv, void *qh)
{
	(void)srv;
	free(qh);
	return 0;
}

int
smtp_dkim_setup(const struct conf *c)
{
	(void)c;
	if (dkim_lib != NULL)
		return 0;
	dkim_lib = dkim_init(NULL, NULL);
	if (dkim_lib == NULL) {
		log_errorx("event=dkim_error error=dkim_init");
		return -1;
	}
	dkim_dns_set_query_service(dkim_lib, NULL);
	dkim_dns_set_query_start(dkim_lib, dkim_q_start);
	dkim_dns_set_query_waitreply(dkim_lib, dkim_q_wait);
	dkim_dns_set_query_cancel(dkim_lib, dkim_q_cancel);
	return 0;
}

/* sane - copy an identifier keeping only domain-name characters. */
static void
sane(char *dst, size_t len, const unsigned char *s)
{
	size_t o = 0;

	for (; s != NULL && *s != '\0' && o + 1 < len; s++) {
		unsigned char ch = *s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		    ch == '_')
			dst[o++] = (char)ch;
	}
	dst[o] = '\0';
}

size_t
smtp_dkim_verify(const char *msg, size_t len, struct smtp_dkim_sig *sigs,
    size_t max)
{
	DKIM *d;
	DKIM_STAT st;
	DKIM_SIGINFO **sl = NULL;
	int nsl = 0, i, err;
	size_t n = 0;
	dkim_alg_t alg;

	if (dkim_lib == NULL)
		return 0;
	d = dkim_verify(dkim_lib, (const unsigned char *)"gms", NULL, &st);
	if (d == NULL)
		return 0;
	st = dkim_chunk(d, (unsigned char *)(uintptr_t)msg, len);
	if (st == DKIM_STAT_OK)
		st = dkim_chunk(d, NULL, 0);
	if (st == DKIM_STAT_OK || st == DKIM_STAT_NOSIG)
		st = dkim_eom(d, NULL);
	if (dkim_getsiglist(d, &sl, &nsl) != DKIM_STAT_OK)
		nsl = 0;
	for (i = 0; i < nsl && n < max; i++) {
		struct smtp_dkim_sig *s = &sigs[n];
		unsigned int flags = dkim_sig_getflags(sl[i]);

		memset(s, 0, sizeof(*s));
		sane(s->domain, sizeof(s->domain), dkim_sig_getdomain(sl[i]));
		sane(s->selector, sizeof(s->selector),
		    dkim_sig_getselector(sl[i]));
		if (dkim_sig_getsignalg(sl[i], &alg) == DKIM_STAT_OK)
			gms_strlcpy(s->algo, alg == DKIM_SIGN_ED25519SHA256 ?
			    "ed25519-sha256" : alg == DKIM_SIGN_RSASHA256 ?
			    "rsa-sha256" : alg == DKIM_SIGN_RSASHA1 ?
			    "rsa-sha1" : "", sizeof(s->algo));
		err = dkim_sig_geterror(sl[i]);
		if ((flags & DKIM_SIGFLAG_PASSED) &&
		    dkim_sig_getbh(sl[i]) == DKIM_SIGBH_MATCH)
			s->result = SMTP_AR_PASS;
		else if (err == DKIM_SIGERROR_KEYFAIL)
			s->result = SMTP_AR_TEMPERROR;
		else if (flags & DKIM_SIGFLAG_IGNORE)
			s->result = SMTP_AR_NEUTRAL;
		else if (err == DKIM_SIGERROR_NOKEY ||
		    err == DKIM_SIGERROR_DNSSYNTAX ||
		    (flags & DKIM_SIGFLAG_PROCESSED) == 0)
			s->result = SMTP_AR_PERMERROR;
		else
			s->result = SMTP_AR_FAIL;
		log_debug("event=dkim d=%s s=%s result=%s error=%s", s->domain,
		    s->selector, smtp_ar_name(s->result),
		    dkim_sig_geterrorstr(err) ? dkim_sig_geterrorstr(err) : "-");
		n++;
	}
	(void)st;
	dkim_free(d);
	return n;
}

/* read_key - read a small key file into a NUL-terminated buffer. */
static char *
read_key(const char *path, size_t *len_r)
{
	struct stat st;
	char *b;
	ssize_t r;
	size_t got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size <= 0 || st.st_size > DKIM_KEY_MAX) {
		close(fd);
		return NULL;
	}
	b = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		r = read(fd, b + got, (size_t)st.st_size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	b[got] = '\0';
	*len_r = got;
	return b;
}

/* key_alg - which DKIM algorithm a PEM key is for, or -1. */
static int
key_alg(const char *pem, size_t len)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k;
	int alg = -1;

	if (bio == NULL)
		return -1;
	k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (k == NULL)
		return -1;
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA)
		alg = DKIM_SIGN_RSASHA256;
	else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519)
		alg = DKIM_SIGN_ED25519SHA256;
	EVP_PKEY_free(k);
	return alg;
}

/* sign_one - one signature with one key; appends the field to out. */
static int
sign_one(const char *domain, const char *selector, const char *key,
    int alg, const char *msg, size_t len, struct buf *out)
{
	static const char prefix[] = "DKIM-Signature: ";
	unsigned char hdr[4096];
	DKIM *d;
	DKIM_STAT st;
	int rc = -1;

	/* Ed25519: our own signer, libopendkim's leaks its keys. */
	if (alg == DKIM_SIGN_ED25519SHA256) {
		rc = smtp_dkim_ed25519_sign(domain, selector, key, strlen(key),
		    msg, len, time(NULL), out);
		if (rc < 0)
			log_warnx("event=dkim_sign_error domain=%s selector=%s "
			    "alg=ed25519-sha256", domain, selector);
		return rc;
	}
	d = dkim_sign(dkim_lib, (const unsigned char *)"gms", NULL,
	    (dkim_sigkey_t)(uintptr_t)key, (const unsigned char *)selector,
	    (const unsigned char *)domain, DKIM_CANON_RELAXED,
	    DKIM_CANON_RELAXED, alg, -1, &st);
	if (d == NULL) {
		log_warnx("event=dkim_sign_error domain=%s selector=%s status=%d",
		    domain, selector, (int)st);
		return -1;
	}
	st = dkim_chunk(d, (unsigned char *)(uintptr_t)msg, len);
	if (st == DKIM_STAT_OK)
		st = dkim_chunk(d, NULL, 0);
	if (st == DKIM_STAT_OK)
		st = dkim_eom(d, NULL);
	if (st == DKIM_STAT_OK)
		st = dkim_getsighdr(d, hdr, sizeof(hdr), sizeof(prefix) - 1);
	if (st == DKIM_STAT_OK) {
		/* libopendkim folds with LF only: make it CRLF. */
		const unsigned char *p;

		(void)buf_puts(out, prefix);
		for (p = hdr; *p != '\0'; p++) {
			if (*p == '\r')
				continue;
			if (*p == '\n')
				(void)buf_puts(out, "\r\n");
			else
				(void)buf_putc(out, *p);
		}
		(void)buf_puts(out, "\r\n");
		rc = 0;
	} else
		log_warnx("event=dkim_sign_error domain=%s selector=%s "
		    "status=%d", domain, selector, (int)st);
	dkim_free(d);
	return rc;
}

int
smtp_dkim_sign(const struct conf *c, const char *domain, const char *selector,
    const char *msg, size_t len, struct buf *out)
{
	const char *dir = conf_str(c, "smtpd.dkim_key_dir");
	char sels[DKIM_SIGS_MAX][64], path[1024];
	size_t dlen = strlen(domain), nsel = 0, i, klen;
	struct dirent *de;
	DIR *dp;
	char *key;
	int made = 0, alg;

	(void)selector;
	if (dkim_lib == NULL || dir[0] == '\0')
		return 0;
	dp = opendir(dir);
	if (dp == NULL)
		return 0;
	while ((de = readdir(dp)) != NULL && nsel < DKIM_SIGS_MAX) {
		const char *n = de->d_name;
		size_t nl = strlen(n), sl;

		/* DOMAIN.SELECTOR.key, the selector one label. */
		if (nl <= dlen + 5 || strncmp(n, domain, dlen) != 0 ||
		    n[dlen] != '.' || strcmp(n + nl - 4, ".key") != 0)
			continue;
		sl = nl - dlen - 5;
		if (sl == 0 || sl >= sizeof(sels[0]) ||
		    memchr(n + dlen + 1, '.', sl) != NULL)
			continue;
		memcpy(sels[nsel], n + dlen + 1, sl);
		sels[nsel][sl] = '\0';
		nsel++;
	}
	closedir(dp);
	/* A stable order: sort the selectors. */
	for (i = 1; i < nsel; i++) {
		size_t j = i;
		char tmp[64];

		while (j > 0 && strcmp(sels[j - 1], sels[j]) > 0) {
			memcpy(tmp, sels[j], sizeof(tmp));
			memcpy(sels[j], sels[j - 1], sizeof(tmp));
			memcpy(sels[j - 1], tmp, sizeof(tmp));
			j--;
		}
	}
	for (i = 0; i < nsel; i++) {
		if (gms_snprintf(path, sizeof(path), "%s/%s.%s.key", dir, domain,
		    sels[i]) != 0)
			continue;
		key = read_key(path, &klen);
		if (key == NULL) {
			log_warnx("event=dkim_key_error path=%s", path);
			continue;
		}
		alg = key_alg(key, klen);
		if (alg < 0)
			log_warnx("event=dkim_key_error path=%s "
			    "error=\"not an RSA or Ed25519 PEM key\"", path);
		else if (sign_one(domain, sels[i], key, alg, msg, len, out) == 0)
			made++;
		gms_wipe(key, klen);
		free(key);
	}
	return made;
}
