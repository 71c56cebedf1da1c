/*
 * gms-dns.h - the DNS stub resolver of lib/ (dns.c), shared by gms-smtpd's
 * SPF, DKIM and DMARC checks and by the outbound relay (MX, A/AAAA, TLSA,
 * MTA-STS TXT).
 *
 * A struct dns_resolver holds the servers to ask (IPv4 or IPv6, each
 * with its port; the system's from /etc/resolv.conf when none is given),
 * a timeout per try and a number of retries.  It is safe to share between
 * threads: every query uses its own socket, and a reconfiguration (reload)
 * takes effect at the next query.  Queries go over UDP with a random id
 * from a random source port; an answer is taken only from the server
 * asked, with our id and our question; a truncated answer (TC) is asked
 * again over TCP.  A server that answers SERVFAIL, REFUSED or NOTIMP makes
 * the resolver try the next server.
 *
 * The message code (building a query, walking the sections of an answer,
 * expanding compressed names, decoding TXT) checks every length against
 * the message: a malformed answer is an error, never an overrun.
 */
#ifndef GMS_DNS_H
#define GMS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Results of lookups besides a count or a length (> 0). */
#define DNS_NODATA	0	/* the name exists, no record of the type */
#define DNS_TEMP	(-1)	/* no answer, SERVFAIL, malformed: retry */
#define DNS_NXDOMAIN	(-2)	/* the name does not exist */
#define DNS_BADNAME	(-3)	/* the name cannot be asked (syntax) */

/* Record types and classes that we use (RFC 1035, 3596, 6698, 7208). */
#define DNS_T_A		1
#define DNS_T_NS	2
#define DNS_T_CNAME	5
#define DNS_T_SOA	6
#define DNS_T_PTR	12
#define DNS_T_MX	15
#define DNS_T_TXT	16
#define DNS_T_AAAA	28
#define DNS_T_OPT	41
#define DNS_T_TLSA	52
#define DNS_T_SPF	99
#define DNS_C_IN	1

#define DNS_R_NOERROR	0
#define DNS_R_FORMERR	1
#define DNS_R_SERVFAIL	2
#define DNS_R_NXDOMAIN	3
#define DNS_R_NOTIMP	4
#define DNS_R_REFUSED	5

#define DNS_HDR_LEN	12
#define DNS_NAME_MAX	1025	/* a name in text form with escapes, NUL */
#define DNS_WIRE_MAX	255	/* a name in wire form (RFC 1035 2.3.4) */
#define DNS_QUERY_MAX	512	/* room for any query we build */
#define DNS_EDNS_SIZE	1232	/* UDP payload we advertise (EDNS0) */
#define DNS_SERVERS_MAX	4

/* Query flags. */
#define DNS_Q_DNSSEC	0x1	/* DO bit and AD bit: ask for the validation */

/* Header flag bits (the 16 bits after the id). */
#define DNS_F_QR	0x8000
#define DNS_F_AA	0x0400
#define DNS_F_TC	0x0200
#define DNS_F_RD	0x0100
#define DNS_F_RA	0x0080
#define DNS_F_AD	0x0020
#define DNS_F_CD	0x0010

/* ------------------------------------------------------------------ */
/* The resolver object. */
struct dns_resolver;

/* A resolver asking server (see dns_resolver_configure).  Returns the
 * new resolver (the caller frees it with dns_resolver_free), or NULL
 * with a reason in err when server is not valid. */
struct dns_resolver *dns_resolver_new(const char *server, int timeout_ms,
    int retries, char *err, size_t errlen);
/* Change the servers and timings of r (thread-safe; queries already
 * running finish with the old ones).  server: "" or NULL for the
 * system's (the nameserver lines of /etc/resolv.conf, else 127.0.0.1),
 * or up to DNS_SERVERS_MAX of "ADDR", "ADDR:PORT" (IPv4), "[ADDR]:PORT",
 * "[ADDR]" or a bare IPv6 "ADDR", separated by spaces or commas.
 * timeout_ms: the first try's wait (each retry waits twice as long as the
 * one before); retries: tries after the first (0-10).  Returns 0, or -1
 * with a reason in err (r unchanged). */
int dns_resolver_configure(struct dns_resolver *r, const char *server,
    int timeout_ms, int retries, char *err, size_t errlen);
/* Free *rp and clear it (NULL is fine).  No query may be running. */
void dns_resolver_free(struct dns_resolver **rp);
/* "127.0.0.1:53 [::1]:5353" for logs: written into dst (truncated). */
void dns_resolver_describe(struct dns_resolver *r, char *dst, size_t len);

/* Parse one server address ("ADDR", "ADDR:PORT", "[ADDR]:PORT", "[ADDR]",
 * bare IPv6; no host names) into *ss with *sslen; the default port is
 * 53.  Returns 0 or -1. */
int dns_server_parse(const char *s, size_t len, struct sockaddr_storage *ss,
    socklen_t *sslen);

/* ------------------------------------------------------------------ */
/* Messages. */

/* A parsed message: borrowed from the caller's buffer. */
struct dns_msg {
	const unsigned char	*base;		/* borrowed */
	size_t			 len;
	uint16_t		 id;
	uint16_t		 flags;		/* DNS_F_*, opcode, rcode */
	uint16_t		 count[4];	/* qd, an, ns, ar */
	size_t			 sect[4];	/* offset of each section */
};
#define DNS_S_QD	0
#define DNS_S_AN	1
#define DNS_S_NS	2
#define DNS_S_AR	3

/* The rcode of m (DNS_R_*); whether the AD bit is set. */
static inline int
dns_msg_rcode(const struct dns_msg *m)
{
	return m->flags & 0xf;
}
static inline bool
dns_msg_ad(const struct dns_msg *m)
{
	return (m->flags & DNS_F_AD) != 0;
}

/* One resource record (or a question: type and class only). */
struct dns_rr {
	char			 name[DNS_NAME_MAX];	/* owner, text form */
	uint16_t		 type;
	uint16_t		 rclass;
	uint32_t		 ttl;
	const unsigned char	*rdata;		/* borrowed from the message */
	uint16_t		 rdlen;
	size_t			 rdoff;		/* offset of rdata in the message */
};

/* A walk over one section. */
struct dns_iter {
	int		section;
	unsigned	idx;
	size_t		off;
};

/* Build a query for name (text form; escapes \. \\ \DDD; a final dot is
 * optional) and type, class IN, RD set, with an EDNS0 OPT record (DO and
 * AD bits with DNS_Q_DNSSEC).  Returns the length written into buf, or
 * -1 when the name is not valid (empty label, label > 63 octets, name >
 * 255 octets) or buf is too small. */
int dns_query_build(unsigned char *buf, size_t len, uint16_t id,
    const char *name, int type, unsigned flags);
/* Check the header and the framing of every record of every section
 * (names, fixed fields, RDATA lengths) of buf[0..len).  Returns 0 (m
 * filled, borrowing buf) or -1 (malformed). */
int dns_msg_parse(struct dns_msg *m, const unsigned char *buf, size_t len);
/* Start a walk over section (DNS_S_*) of m. */
void dns_iter_init(const struct dns_msg *m, struct dns_iter *it, int section);
/* The next record of the walk into *rr.  Returns 1, 0 at the end of the
 * section, -1 when a record is malformed (e.g. a bad compression
 * pointer in its owner name). */
int dns_iter_next(const struct dns_msg *m, struct dns_iter *it,
    struct dns_rr *rr);
/* Expand the (possibly compressed) name at off in msg[0..len) into dst
 * (text form, "." for the root, special characters escaped as \. or
 * \DDD); *next_r (may be NULL) gets the offset after the name in place.
 * Pointers must point backwards (no loops).  Returns 0, or -1 when the
 * name is malformed or does not fit in dst. */
int dns_name_expand(const unsigned char *msg, size_t len, size_t off,
    char *dst, size_t dstlen, size_t *next_r);
/* Decode the character-strings of a TXT rdata, concatenated, into dst
 * with a NUL (dst needs rdlen + 1 bytes at most).  Returns the text
 * length, or -1 when a string overruns the rdata or dst is too small. */
int dns_txt_decode(const unsigned char *rdata, size_t rdlen, char *dst,
    size_t dstlen);

/* ------------------------------------------------------------------ */
/* Queries. */

/* Send one query and return the whole answer, whatever its rcode: its
 * length (ans holds it), DNS_BADNAME, or DNS_TEMP when no server gave a
 * usable answer in time.  A SERVFAIL/REFUSED/NOTIMP answer is returned
 * when every server gave one. */
int dns_raw(struct dns_resolver *r, const char *name, int type,
    unsigned flags, unsigned char *ans, size_t anslen);
/* dns_raw, then classify: returns the answer length (> 0; *m parsed)
 * when the rcode is NOERROR with answers, DNS_NODATA (NOERROR without
 * answers), DNS_NXDOMAIN, DNS_BADNAME or DNS_TEMP (no answer, another
 * rcode, malformed answer). */
int dns_lookup(struct dns_resolver *r, const char *name, int type,
    unsigned flags, unsigned char *ans, size_t anslen, struct dns_msg *m);

/* TXT records of name: cb gets each one's strings concatenated (len,
 * NUL-terminated; borrowed for the call).  Returns the count (> 0),
 * DNS_NODATA, DNS_NXDOMAIN, DNS_BADNAME or DNS_TEMP. */
int dns_txt(struct dns_resolver *r, const char *name,
    void (*cb)(void *arg, const char *txt, size_t len), void *arg);

/* An MX record. */
struct dns_mx {
	char		host[256];	/* lower case; "" for the null MX "." */
	unsigned	pref;
};
/* MX records of domain in answer order (at most max; hosts too long are
 * skipped).  Returns the count (> 0) or DNS_*. */
int dns_mx(struct dns_resolver *r, const char *domain, struct dns_mx *v,
    size_t max);

/* Addresses of host with port set: an address literal as is, else its
 * AAAA (when ipv6) then A records.  Returns the count (> 0), or DNS_TEMP
 * when a lookup failed, DNS_NXDOMAIN when the A lookup says so, else
 * DNS_NODATA. */
int dns_addrs(struct dns_resolver *r, const char *host, bool ipv6, int port,
    struct sockaddr_storage *v, size_t max);

/* A TLSA record (RFC 6698). */
struct dns_tlsa {
	uint8_t		usage;
	uint8_t		selector;
	uint8_t		mtype;
	uint8_t		data[64];
	size_t		len;
};
/* TLSA records of _PORT._tcp.host, asked with DNS_Q_DNSSEC; *secure_r
 * tells whether the answer had the AD bit (a validating resolver vouched
 * for it).  Records with more than 64 bytes of data are skipped.
 * Returns the count (> 0) or DNS_*. */
int dns_tlsa(struct dns_resolver *r, const char *host, int port,
    struct dns_tlsa *v, size_t max, bool *secure_r);

#endif /* GMS_DNS_H */
