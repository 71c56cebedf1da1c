/*
 * relay-private.h - contracts between the files of relay/: the resolver
 * (relay_dns.c), the SMTP client session (relay_smtp.c) and the runner
 * (relay_queue.c).  Nothing outside relay/ includes it.
 */
#ifndef GMS_RELAY_PRIVATE_H
#define GMS_RELAY_PRIVATE_H

#include <sys/socket.h>
#include <netinet/in.h>

#include "relay/relay.h"

/* The settings in force, copied from the configuration at start. */
struct relay_cfg {
	char		hostname[256];
	char		dns_server[64];
	int		port;
	char		source_address[64];
	bool		ipv6;
	unsigned	max_deliveries;
	unsigned	max_per_destination;
	unsigned	max_hosts;
	time_t		max_lifetime;
	time_t		delay_warning;
	time_t		retry_min;
	time_t		retry_max;
	time_t		lease;
	time_t		poll_interval;
	int		connect_timeout_ms;
	int		timeout_ms;
	int		data_timeout_ms;
	int		tls;		/* RELAY_TLS_* */
	bool		dane;
	unsigned	max_hops;
	size_t		max_line;
	uint64_t	bounce_full_limit;
	bool		mta_sts;
	int		mta_sts_port;
};

#define RELAY_TLS_NONE		0
#define RELAY_TLS_MAY		1
#define RELAY_TLS_ENCRYPT	2

/* ---- relay_dns.c (on lib/dns.c's resolver) ---- */

/* Results of lookups (besides the count > 0 found); the same values as
 * lib/gms-dns.h's DNS_NODATA, DNS_TEMP and DNS_NXDOMAIN. */
#define RELAY_DNS_NODATA	0	/* the name exists, no such records */
#define RELAY_DNS_TEMP		(-1)	/* server failure, timeout: retry */
#define RELAY_DNS_NXDOMAIN	(-2)	/* the name does not exist */

#define RELAY_MX_MAX		32
#define RELAY_ADDR_MAX		16
#define RELAY_TLSA_MAX		16

struct relay_mx {
	char		host[256];	/* "" for the null MX "." */
	unsigned	pref;
};

/* Create (or reconfigure) the relay's resolver for server ("" for the
 * system's, else addresses as dns_resolver_configure() takes: ADDR,
 * ADDR:PORT, [IPV6]:PORT), with the timings of smtpd.dns_timeout and
 * smtpd.dns_retries when c has them (else 2 s, 1 retry).  Returns 0 or
 * -1 (bad address, logged). */
int relay_dns_setup(const struct conf *c, const char *server);
/* MX records of domain (at most max and RELAY_MX_MAX), sorted by
 * preference (random order among equals).  Returns the count (> 0), or
 * RELAY_DNS_*. */
int relay_dns_mx(const char *domain, struct relay_mx *v, size_t max);
/* A (and AAAA when ipv6) addresses of host with port set.  Returns the
 * count (> 0), or RELAY_DNS_*. */
int relay_dns_addrs(const char *host, bool ipv6, int port,
    struct sockaddr_storage *v, size_t max);

/* A TLSA record (RFC 6698). */
struct relay_tlsa {
	uint8_t		usage;
	uint8_t		selector;
	uint8_t		mtype;
	uint8_t		data[64];
	size_t		len;
};
/* TLSA records of _PORT._tcp.host (at most max and RELAY_TLSA_MAX);
 * *secure_r tells whether the answer
 * came with the AD bit (a validating resolver vouched for it).  Returns
 * the count (> 0), or RELAY_DNS_*. */
int relay_dns_tlsa(const char *host, int port, struct relay_tlsa *v,
    size_t max, bool *secure_r);
/* Does a TLSA record with usage 3 (DANE-EE) match the peer's certificate
 * (selector 0/1, matching type 0/1/2)?  ssl is an SSL *. */
bool relay_dane_match(struct ssl_st *ssl, const struct relay_tlsa *v,
    size_t n);

/* TXT records of name: the first one that starts with prefix (case
 * insensitive), concatenated, into dst.  Returns 1, or RELAY_DNS_*. */
int relay_dns_txt(const char *name, const char *prefix, char *dst,
    size_t len);

/* ---- relay_sts.c: MTA-STS (RFC 8461) ---- */

#define RELAY_STS_NONE		0
#define RELAY_STS_TESTING	1
#define RELAY_STS_ENFORCE	2
#define RELAY_STS_MAX_MX	16

struct relay_sts {
	int	mode;				/* RELAY_STS_* */
	char	mx[RELAY_STS_MAX_MX][256];	/* patterns, "*.x.y" allowed */
	size_t	nmx;
	long	max_age;
};

/* The policy of domain: from the cache while its id is unchanged and
 * max_age has not passed, else fetched over HTTPS (PKIX-verified) from
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt.  Returns 1 (policy in
 * *p_r), 0 (none published, or published but not retrievable and none
 * cached: RFC 8461 5.1) or -1 (the TXT lookup failed temporarily and
 * nothing is cached: the caller defers). */
int relay_sts_get(const struct relay_cfg *cfg, struct tls_ctx *tls,
    int stop_fd, const char *domain, struct relay_sts *p_r);
/* Does host match one of the policy's mx patterns? */
bool relay_sts_match(const struct relay_sts *p, const char *host);
/* Parse a policy text; returns 0 or -1 (not a valid STSv1 policy). */
int relay_sts_parse(const char *text, size_t len, struct relay_sts *p_r);

/* A TCP connection to sa with cfg's connect timeout and source address,
 * ended early by stop_fd.  Returns the fd or -1 with errno. */
int relay_connect(const struct relay_cfg *cfg,
    const struct sockaddr_storage *sa, int stop_fd);

/* ---- relay_smtp.c ---- */

/* One recipient of a transaction and its outcome. */
struct relay_rcpt {
	const char	*address;	/* borrowed from the queue entry */
	const char	*orcpt;		/* borrowed, or NULL */
	unsigned	 notify;	/* SPOOL_NOTIFY_* */
	int		 state;		/* SPOOL_RCPT_* outcome */
	char		 status[16];	/* enhanced code "5.1.1" */
	char		 diag[512];	/* reply text, printable */
	char		 remote_mta[256];	/* who answered, or "" */
	bool		 peer_dsn;	/* the peer took NOTIFY itself */
};

/* One message to send to one destination domain. */
struct relay_msg {
	const char		*qid;		/* for logs */
	const char		*mail_from;	/* "" for <> */
	const char		*envid;		/* decoded, or NULL */
	unsigned		 ret;		/* SPOOL_RET_* */
	unsigned		 qflags;	/* SPOOL_QF_* */
	uint64_t		 size;
	struct spool		*sp;		/* the body comes from here */
	struct relay_rcpt	*rcpt;
	size_t			 nrcpt;
};

/* Deliver msg to domain: MX lookup, each host in order until every
 * recipient has a final answer or the hosts are exhausted.  Sets each
 * recipient's state (DELIVERED, FAILED, or PENDING with the reason).
 * stop_fd ends waits early (relay_stop). */
void relay_smtp_deliver(const struct relay_cfg *cfg, struct tls_ctx *tls,
    int stop_fd, const char *domain, struct relay_msg *msg);

#endif /* GMS_RELAY_PRIVATE_H */
