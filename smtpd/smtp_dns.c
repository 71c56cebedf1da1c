/*
 * smtp_dns.c - the DNS client of gms-smtpd's SPF, DKIM and DMARC checks.
 *
 * Every thread gets its own resolver state (res_ninit), pointed at
 * smtpd.dns_server when that is set ("ADDR", "ADDR:PORT"; IPv4) so that
 * the tests can run against their own DNS server on a loopback port, and
 * at the system's resolvers otherwise.  smtp_dns_raw() returns the whole
 * answer, rcode included, so that each caller tells NXDOMAIN / no data
 * (a permanent "nothing there") from a server failure (temporary).
 */
#include "config.h"

#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtp_private.h"

static struct sockaddr_in dns_server;	/* sin_family 0: system resolvers */

/* Per-thread resolver; freed when the thread ends. */
static __thread struct __res_state *dns_res;
static pthread_key_t dns_key;
static pthread_once_t dns_once = PTHREAD_ONCE_INIT;

static void
dns_res_free(void *p)
{
	struct __res_state *r = p;

	res_nclose(r);
	free(r);
}

static void
dns_key_init(void)
{
	if (pthread_key_create(&dns_key, dns_res_free) != 0)
		fatalx("pthread_key_create");
}

int
smtp_dns_setup(const struct conf *c)
{
	const char *s = conf_str(c, "smtpd.dns_server");
	char host[64];
	const char *colon;
	uint64_t port = 53;
	size_t hl;

	(void)pthread_once(&dns_once, dns_key_init);
	memset(&dns_server, 0, sizeof(dns_server));
	if (s[0] == '\0')
		return 0;
	colon = strrchr(s, ':');
	hl = colon ? (size_t)(colon - s) : strlen(s);
	if (hl == 0 || hl >= sizeof(host)) {
		log_errorx("event=config_error key=smtpd.dns_server");
		return -1;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (colon != NULL && gms_parse_u64(colon + 1, strlen(colon + 1), 65535,
	    &port) != 0) {
		log_errorx("event=config_error key=smtpd.dns_server");
		return -1;
	}
	if (inet_pton(AF_INET, host, &dns_server.sin_addr) != 1) {
		log_errorx("event=config_error key=smtpd.dns_server "
		    "error=\"IPv4 address expected\"");
		return -1;
	}
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
		log_warnx("event=dns_error error=res_ninit");
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

int
smtp_dns_raw(const char *name, int type, unsigned char *ans, int anslen)
{
	struct __res_state *r = dns_state();
	unsigned char q[NS_PACKETSZ];
	int qlen;

	qlen = res_nmkquery(r, ns_o_query, name, ns_c_in, type, NULL, 0, NULL,
	    q, sizeof(q));
	if (qlen < 0)
		return -1;
	return res_nsend(r, q, qlen, ans, anslen);
}

int
smtp_dns_query(const char *name, int type, unsigned char *answer, int anslen,
    int *herr_r)
{
	HEADER *h;
	int n;

	n = smtp_dns_raw(name, type, answer, anslen);
	if (n < (int)sizeof(HEADER)) {
		*herr_r = TRY_AGAIN;
		return -1;
	}
	h = (HEADER *)(void *)answer;
	switch (h->rcode) {
	case ns_r_noerror:
		if (ntohs(h->ancount) == 0) {
			*herr_r = NO_DATA;
			return -1;
		}
		*herr_r = NETDB_SUCCESS;
		return n;
	case ns_r_nxdomain:
		*herr_r = HOST_NOT_FOUND;
		return -1;
	default:
		/* SERVFAIL, REFUSED, ...: the DNS failed us, try later. */
		*herr_r = TRY_AGAIN;
		return -1;
	}
}

int
smtp_dns_txt(const char *name, void (*cb)(void *, const char *, size_t),
    void *arg)
{
	unsigned char ans[8192];
	char txt[4096];
	ns_msg msg;
	ns_rr rr;
	int n, herr, i, found = 0;

	n = smtp_dns_query(name, ns_t_txt, ans, sizeof(ans), &herr);
	if (n < 0)
		return herr == TRY_AGAIN ? -1 : 0;
	if (ns_initparse(ans, n, &msg) != 0)
		return -1;
	for (i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		const unsigned char *p, *end;
		size_t o = 0;

		if (ns_parserr(&msg, ns_s_an, i, &rr) != 0)
			return -1;
		if (ns_rr_type(rr) != ns_t_txt)
			continue;
		p = ns_rr_rdata(rr);
		end = p + ns_rr_rdlen(rr);
		/* Concatenate the character-strings of one record. */
		while (p < end) {
			size_t l = *p++;

			if (l > (size_t)(end - p) || o + l >= sizeof(txt))
				break;
			memcpy(txt + o, p, l);
			o += l;
			p += l;
		}
		txt[o] = '\0';
		cb(arg, txt, o);
		found = 1;
	}
	return found;
}
