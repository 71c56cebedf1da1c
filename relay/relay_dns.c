/*
 * relay_dns.c - the relay's resolver: MX, A/AAAA and TLSA lookups through
 * libresolv with a per-thread state pointed at relay.dns_server (so that
 * tests bring their own DNS server), and the DANE-EE certificate match.
 *
 * Answers are parsed with ns_initparse/ns_parserr, which check every
 * length against the message; names are expanded with dn_expand into
 * fixed buffers.  res_nsend retries over TCP when an answer is truncated.
 * A server failure or timeout is temporary (the message is retried); a
 * name that does not exist is permanent.
 */
#include "config.h"

#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "relay/relay-private.h"

static struct sockaddr_in dns_server;	/* sin_family 0: system resolvers */
static __thread struct __res_state *dns_res;
static pthread_key_t dns_key;
static pthread_once_t dns_once = PTHREAD_ONCE_INIT;

/* dns_res_free - thread exit: release the thread's resolver. */
static void
dns_res_free(void *p)
{
	struct __res_state *r = p;

	res_nclose(r);
	free(r);
}

/* dns_key_init - create the thread key once. */
static void
dns_key_init(void)
{
	if (pthread_key_create(&dns_key, dns_res_free) != 0)
		fatalx("pthread_key_create");
}

int
relay_dns_setup(const char *s)
{
	char host[64];
	const char *colon;
	uint64_t port = 53;
	size_t hl;

	(void)pthread_once(&dns_once, dns_key_init);
	memset(&dns_server, 0, sizeof(dns_server));
	if (s == NULL || s[0] == '\0')
		return 0;
	colon = strrchr(s, ':');
	hl = colon ? (size_t)(colon - s) : strlen(s);
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (colon != NULL && gms_parse_u64(colon + 1, strlen(colon + 1), 65535,
	    &port) != 0)
		return -1;
	if (inet_pton(AF_INET, host, &dns_server.sin_addr) != 1)
		return -1;
	dns_server.sin_family = AF_INET;
	dns_server.sin_port = htons((uint16_t)port);
	return 0;
}

/* dns_state - the calling thread's resolver. */
static struct __res_state *
dns_state(void)
{
	struct __res_state *r = dns_res;

	if (r != NULL)
		return r;
	(void)pthread_once(&dns_once, dns_key_init);
	r = xcalloc(1, sizeof(*r));
	if (res_ninit(r) != 0)
		log_warnx("event=relay_dns_error error=res_ninit");
	if (dns_server.sin_family == AF_INET) {
		r->nscount = 1;
		r->nsaddr_list[0] = dns_server;
	}
	r->retrans = 2;
	r->retry = 2;
	(void)pthread_setspecific(dns_key, r);
	dns_res = r;
	return r;
}

/* dns_query - ask for name/type; returns the answer length and *msg_r,
 * or RELAY_DNS_*.  dnssec asks with the DO bit and keeps the AD bit. */
static int
dns_query(const char *name, int type, bool dnssec, unsigned char *ans,
    int anslen, ns_msg *msg_r)
{
	struct __res_state *r = dns_state();
	unsigned char q[NS_PACKETSZ];
	unsigned long saved = r->options;
	int qlen, n;

	if (dnssec)
		r->options |= RES_USE_EDNS0 | RES_USE_DNSSEC | RES_TRUSTAD;
	qlen = res_nmkquery(r, ns_o_query, name, ns_c_in, type, NULL, 0, NULL,
	    q, sizeof(q));
	if (qlen < 0) {
		r->options = saved;
		return RELAY_DNS_NXDOMAIN;	/* not a valid name */
	}
	if (dnssec && qlen >= 4)
		q[3] |= 0x20;	/* AD: ask for the validation result */
	n = res_nsend(r, q, qlen, ans, anslen);
	r->options = saved;
	if (n < (int)NS_HFIXEDSZ)
		return RELAY_DNS_TEMP;
	if (ns_initparse(ans, n, msg_r) != 0)
		return RELAY_DNS_TEMP;
	switch (ns_msg_getflag(*msg_r, ns_f_rcode)) {
	case ns_r_noerror:
		return ns_msg_count(*msg_r, ns_s_an) == 0 ? RELAY_DNS_NODATA : n;
	case ns_r_nxdomain:
		return RELAY_DNS_NXDOMAIN;
	default:
		return RELAY_DNS_TEMP;
	}
}

/* mx_cmp - sort by preference. */
static int
mx_cmp(const void *a, const void *b)
{
	const struct relay_mx *x = a, *y = b;

	return x->pref < y->pref ? -1 : x->pref > y->pref ? 1 : 0;
}

int
relay_dns_mx(const char *domain, struct relay_mx *v, size_t max)
{
	unsigned char ans[8192];
	ns_msg msg;
	ns_rr rr;
	size_t n = 0, i, j;
	int len, k;

	len = dns_query(domain, ns_t_mx, false, ans, sizeof(ans), &msg);
	if (len <= 0)
		return len;
	for (k = 0; k < ns_msg_count(msg, ns_s_an) && n < max; k++) {
		const unsigned char *rd;
		char name[NS_MAXDNAME];

		if (ns_parserr(&msg, ns_s_an, k, &rr) != 0)
			return RELAY_DNS_TEMP;
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3)
			continue;
		rd = ns_rr_rdata(rr);
		if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd + 2, name,
		    sizeof(name)) < 0)
			return RELAY_DNS_TEMP;
		v[n].pref = (unsigned)rd[0] << 8 | rd[1];
		if (strcmp(name, ".") == 0)
			name[0] = '\0';
		if (gms_strlcpy(v[n].host, name, sizeof(v[n].host)) != 0)
			continue;
		gms_lowercase(v[n].host);
		n++;
	}
	if (n == 0)
		return RELAY_DNS_NODATA;
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

/* addrs_of - append the A or AAAA records of host; returns the count
 * added or RELAY_DNS_*. */
static int
addrs_of(const char *host, int type, int port, struct sockaddr_storage *v,
    size_t max, size_t *n)
{
	unsigned char ans[8192];
	ns_msg msg;
	ns_rr rr;
	int len, k, added = 0;

	len = dns_query(host, type, false, ans, sizeof(ans), &msg);
	if (len <= 0)
		return len;
	for (k = 0; k < ns_msg_count(msg, ns_s_an) && *n < max; k++) {
		if (ns_parserr(&msg, ns_s_an, k, &rr) != 0)
			return RELAY_DNS_TEMP;
		if ((int)ns_rr_type(rr) != type)
			continue;
		memset(&v[*n], 0, sizeof(v[*n]));
		if (type == ns_t_a && ns_rr_rdlen(rr) == 4) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&v[*n];

			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)port);
			memcpy(&sin->sin_addr, ns_rr_rdata(rr), 4);
		} else if (type == ns_t_aaaa && ns_rr_rdlen(rr) == 16) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&v[*n];

			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)port);
			memcpy(&s6->sin6_addr, ns_rr_rdata(rr), 16);
		} else
			continue;
		(*n)++;
		added++;
	}
	return added;
}

int
relay_dns_addrs(const char *host, bool ipv6, int port,
    struct sockaddr_storage *v, size_t max)
{
	struct in_addr a4;
	struct in6_addr a6;
	size_t n = 0;
	int r4, r6 = RELAY_DNS_NODATA;

	/* An address literal needs no lookup. */
	if (inet_pton(AF_INET, host, &a4) == 1 && max > 0) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&v[0];

		memset(&v[0], 0, sizeof(v[0]));
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr = a4;
		return 1;
	}
	if (inet_pton(AF_INET6, host, &a6) == 1 && max > 0) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&v[0];

		memset(&v[0], 0, sizeof(v[0]));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		s6->sin6_addr = a6;
		return 1;
	}
	if (ipv6)
		r6 = addrs_of(host, ns_t_aaaa, port, v, max, &n);
	r4 = addrs_of(host, ns_t_a, port, v, max, &n);
	if (n > 0)
		return (int)n;
	if (r4 == RELAY_DNS_TEMP || r6 == RELAY_DNS_TEMP)
		return RELAY_DNS_TEMP;
	if (r4 == RELAY_DNS_NXDOMAIN)
		return RELAY_DNS_NXDOMAIN;
	return RELAY_DNS_NODATA;
}

int
relay_dns_txt(const char *name, const char *prefix, char *dst, size_t len)
{
	unsigned char ans[8192];
	ns_msg msg;
	ns_rr rr;
	size_t pl = strlen(prefix);
	int n, k;

	n = dns_query(name, ns_t_txt, false, ans, sizeof(ans), &msg);
	if (n <= 0)
		return n;
	for (k = 0; k < ns_msg_count(msg, ns_s_an); k++) {
		const unsigned char *p, *end;
		size_t o = 0, l;

		if (ns_parserr(&msg, ns_s_an, k, &rr) != 0)
			return RELAY_DNS_TEMP;
		if (ns_rr_type(rr) != ns_t_txt)
			continue;
		p = ns_rr_rdata(rr);
		end = p + ns_rr_rdlen(rr);
		while (p < end) {
			l = *p++;
			if (l > (size_t)(end - p) || o + l >= len)
				break;
			memcpy(dst + o, p, l);
			o += l;
			p += l;
		}
		dst[o] = '\0';
		if (o >= pl && gms_strncasecmp(dst, prefix, pl) == 0)
			return 1;
	}
	return RELAY_DNS_NODATA;
}

int
relay_dns_tlsa(const char *host, int port, struct relay_tlsa *v, size_t max,
    bool *secure_r)
{
	unsigned char ans[8192];
	char name[NS_MAXDNAME];
	ns_msg msg;
	ns_rr rr;
	size_t n = 0;
	int len, k;

	*secure_r = false;
	if (gms_snprintf(name, sizeof(name), "_%d._tcp.%s", port, host) != 0)
		return RELAY_DNS_NXDOMAIN;
	len = dns_query(name, 52 /* TLSA */, true, ans, sizeof(ans), &msg);
	if (len <= 0)
		return len;
	*secure_r = ns_msg_getflag(msg, ns_f_ad) != 0;
	for (k = 0; k < ns_msg_count(msg, ns_s_an) && n < max; k++) {
		const unsigned char *rd;
		size_t dl;

		if (ns_parserr(&msg, ns_s_an, k, &rr) != 0)
			return RELAY_DNS_TEMP;
		if (ns_rr_type(rr) != 52 || ns_rr_rdlen(rr) < 4)
			continue;
		rd = ns_rr_rdata(rr);
		dl = ns_rr_rdlen(rr) - 3;
		if (dl > sizeof(v[n].data))
			continue;
		v[n].usage = rd[0];
		v[n].selector = rd[1];
		v[n].mtype = rd[2];
		memcpy(v[n].data, rd + 3, dl);
		v[n].len = dl;
		n++;
	}
	return n > 0 ? (int)n : RELAY_DNS_NODATA;
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
