/*
 * relay_dns.c - the relay's lookups (MX, A/AAAA, TLSA, MTA-STS TXT) on
 * lib/dns.c's resolver, pointed at relay.dns_server (so that tests bring
 * their own DNS server; IPv4 or IPv6), and the DANE-EE certificate match.
 *
 * The resolver and the message parsing are lib/dns.c's (one copy for
 * gms-smtpd and the relay): answers are walked with every length checked,
 * a truncated answer is asked again over TCP.  Here only what is the
 * relay's own: MX ordering (preference, random among equals), the
 * mapping of results to RELAY_DNS_* (a name that cannot be asked does
 * not exist), and DANE.  A server failure or timeout is temporary (the
 * message is retried); a name that does not exist is permanent.
 */
#include "config.h"

#include <sys/types.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "relay/relay-private.h"
#include "lib/gms-dns.h"

#define RELAY_DNS_TIMEOUT_MS	2000	/* without smtpd.dns_timeout */
#define RELAY_DNS_RETRIES	1

static struct dns_resolver *relay_resolver;	/* owned, lives forever */

/* result - a lib/dns.c result as a RELAY_DNS_* one. */
static int
result(int r)
{
	return r == DNS_BADNAME ? RELAY_DNS_NXDOMAIN : r;
}

int
relay_dns_setup(const struct conf *c, const char *server)
{
	int to = RELAY_DNS_TIMEOUT_MS, retries = RELAY_DNS_RETRIES;
	char err[256];

	/* In gms-smtpd the timings of smtpd.dns_* serve both. */
	if (c != NULL && conf_lookup_def("smtpd.dns_timeout") != NULL) {
		to = (int)conf_int(c, "smtpd.dns_timeout") * 1000;
		retries = (int)conf_int(c, "smtpd.dns_retries");
	}
	if (relay_resolver != NULL)
		return dns_resolver_configure(relay_resolver, server, to,
		    retries, err, sizeof(err)) == 0 ? 0 : -1;
	relay_resolver = dns_resolver_new(server, to, retries, err,
	    sizeof(err));
	if (relay_resolver == NULL) {
		log_errorx("event=relay_dns_error error=\"%s\"", err);
		return -1;
	}
	return 0;
}

/* mx_cmp - sort by preference. */
static int
mx_cmp(const struct relay_mx *x, const struct relay_mx *y)
{
	return x->pref < y->pref ? -1 : x->pref > y->pref ? 1 : 0;
}

int
relay_dns_mx(const char *domain, struct relay_mx *v, size_t max)
{
	struct dns_mx mx[RELAY_MX_MAX];
	size_t n, i, j;
	int r;

	r = dns_mx(relay_resolver, domain, mx,
	    max < RELAY_MX_MAX ? max : RELAY_MX_MAX);
	if (r <= 0)
		return result(r);
	n = (size_t)r;
	for (i = 0; i < n; i++) {
		memcpy(v[i].host, mx[i].host, sizeof(v[i].host));
		v[i].pref = mx[i].pref;
	}
	/* Shuffle, then a stable sort keeps equal preferences shuffled. */
	for (i = n; i > 1; i--) {
		struct relay_mx t;

		j = (size_t)random() % i;
		t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && mx_cmp(&v[j - 1], &v[j]) > 0; j--) {
			struct relay_mx t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return (int)n;
}

int
relay_dns_addrs(const char *host, bool ipv6, int port,
    struct sockaddr_storage *v, size_t max)
{
	return result(dns_addrs(relay_resolver, host, ipv6, port, v, max));
}

/* The first TXT record that starts with a prefix. */
struct txt_find {
	const char	*prefix;
	char		*dst;
	size_t		 len;
	bool		 found;
};

static void
txt_find(void *arg, const char *txt, size_t len)
{
	struct txt_find *f = arg;
	size_t pl = strlen(f->prefix);

	if (f->found || len < pl || gms_strncasecmp(txt, f->prefix, pl) != 0)
		return;
	/* A longer record is cut to dst, as before. */
	if (f->len == 0)
		return;
	if (len >= f->len)
		len = f->len - 1;
	memcpy(f->dst, txt, len);
	f->dst[len] = '\0';
	f->found = true;
}

int
relay_dns_txt(const char *name, const char *prefix, char *dst, size_t len)
{
	struct txt_find f = { prefix, dst, len, false };
	int r;

	r = dns_txt(relay_resolver, name, txt_find, &f);
	if (r < 0)
		return result(r);
	return f.found ? 1 : RELAY_DNS_NODATA;
}

int
relay_dns_tlsa(const char *host, int port, struct relay_tlsa *v, size_t max,
    bool *secure_r)
{
	struct dns_tlsa t[RELAY_TLSA_MAX];
	size_t i;
	int r;

	r = dns_tlsa(relay_resolver, host, port, t,
	    max < RELAY_TLSA_MAX ? max : RELAY_TLSA_MAX, secure_r);
	if (r <= 0)
		return result(r);
	for (i = 0; i < (size_t)r; i++) {
		v[i].usage = t[i].usage;
		v[i].selector = t[i].selector;
		v[i].mtype = t[i].mtype;
		memcpy(v[i].data, t[i].data, sizeof(v[i].data));
		v[i].len = t[i].len;
	}
	return r;
}

bool
relay_dane_match(struct ssl_st *ssl, const struct relay_tlsa *v, size_t n)
{
	X509 *cert;
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	int derlen;
	size_t i;
	bool ok = false;

	cert = SSL_get1_peer_certificate(ssl);
	if (cert == NULL)
		return false;
	for (i = 0; i < n && !ok; i++) {
		if (v[i].usage != 3)
			continue;	/* only DANE-EE is supported */
		der = NULL;
		if (v[i].selector == 0)
			derlen = i2d_X509(cert, &der);
		else if (v[i].selector == 1)
			derlen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
		else
			continue;
		if (derlen <= 0)
			continue;
		if (v[i].mtype == 0)
			ok = (size_t)derlen == v[i].len &&
			    memcmp(der, v[i].data, v[i].len) == 0;
		else if ((v[i].mtype == 1 || v[i].mtype == 2) &&
		    EVP_Digest(der, (size_t)derlen, md, &mdlen,
		    v[i].mtype == 1 ? EVP_sha256() : EVP_sha512(), NULL) == 1)
			ok = mdlen == v[i].len && memcmp(md, v[i].data, mdlen) == 0;
		OPENSSL_free(der);
	}
	X509_free(cert);
	return ok;
}
