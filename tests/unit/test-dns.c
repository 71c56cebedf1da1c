/*
 * test-dns.c - unit tests of lib/dns.c: query building, message parsing,
 * name compression, TXT decoding, server address forms, and the bounds
 * (every truncation or corruption of an answer is an error, never a read
 * past its end).  A small responder thread on 127.0.0.1 and ::1 checks
 * the transport: answers with a wrong id are ignored, a truncated UDP
 * answer is asked again over TCP, REFUSED is reported, a silent server
 * times out within the configured time.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "lib/gms.h"
#include "lib/gms-dns.h"
#include "tests/unit/unit.h"

/* ------------------------------------------------------------------ */
/* Building answers. */

struct msgb {
	unsigned char	b[4096];
	size_t		len;
};

static void
mb_put(struct msgb *m, const void *p, size_t n)
{
	if (m->len + n > sizeof(m->b))
		abort();
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static void
mb_16(struct msgb *m, unsigned v)
{
	unsigned char x[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	mb_put(m, x, 2);
}

/* An answer to query q (its header and question copied), rcode, with
 * ancount records appended by the caller. */
static void
mb_answer(struct msgb *m, const unsigned char *q, size_t qlen, unsigned rcode,
    unsigned ancount)
{
	size_t ql = qlen - 11;	/* without our OPT record */

	m->len = 0;
	mb_put(m, q, ql);
	m->b[2] = (unsigned char)(0x80 | (q[2] & 0x01));	/* QR, RD */
	m->b[3] = (unsigned char)(0x80 | rcode);		/* RA */
	m->b[6] = (unsigned char)(ancount >> 8);
	m->b[7] = (unsigned char)ancount;
	m->b[10] = m->b[11] = 0;
}

/* A record whose owner is a pointer to the question name (offset 12). */
static void
mb_rr(struct msgb *m, unsigned type, const void *rdata, size_t rdlen)
{
	mb_16(m, 0xc00c);
	mb_16(m, type);
	mb_16(m, DNS_C_IN);
	mb_16(m, 0);
	mb_16(m, 300);
	mb_16(m, (unsigned)rdlen);
	mb_put(m, rdata, rdlen);
}

/* ------------------------------------------------------------------ */
/* Query building. */

static void
test_build(void)
{
	unsigned char q[DNS_QUERY_MAX];
	static const unsigned char want[] = {
		0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1,
		7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0,
		0, 1, 0, 1,
		0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0,
	};
	char name[400];
	int n;

	n = dns_query_build(q, sizeof(q), 0x1234, "example.test", DNS_T_A, 0);
	CHECK(n == (int)sizeof(want) && memcmp(q, want, sizeof(want)) == 0,
	    "query for example.test A is the expected bytes");
	n = dns_query_build(q, sizeof(q), 0x1234, "example.test.", DNS_T_A, 0);
	CHECK(n == (int)sizeof(want) && memcmp(q, want, sizeof(want)) == 0,
	    "a final dot makes no difference");
	n = dns_query_build(q, sizeof(q), 1, "a.b", DNS_T_TLSA, DNS_Q_DNSSEC);
	CHECK(n == 12 + 5 + 4 + 11 && q[3] == 0x20 && q[2] == 0x01,
	    "DNSSEC query sets RD and AD");
	CHECK(n > 0 && q[n - 4] == 0x80 && q[n - 10] == 0 && q[n - 9] == 41,
	    "DNSSEC query carries an OPT record with the DO bit");
	n = dns_query_build(q, sizeof(q), 1, "a\\.b.c", DNS_T_TXT, 0);
	CHECK(n > 0 && q[12] == 3 && memcmp(q + 13, "a.b", 3) == 0 &&
	    q[16] == 1 && q[17] == 'c' && q[18] == 0,
	    "\\. is a dot inside a label");
	n = dns_query_build(q, sizeof(q), 1, "\\065\\\\", DNS_T_TXT, 0);
	CHECK(n > 0 && q[12] == 2 && q[13] == 'A' && q[14] == '\\',
	    "\\DDD and \\\\ escapes");
	n = dns_query_build(q, sizeof(q), 1, ".", DNS_T_NS, 0);
	CHECK(n == 12 + 1 + 4 + 11 && q[12] == 0, "the root name");
	CHECK(dns_query_build(q, sizeof(q), 1, "a..b", DNS_T_A, 0) == -1,
	    "empty label refused");
	CHECK(dns_query_build(q, sizeof(q), 1, ".a", DNS_T_A, 0) == -1,
	    "leading dot refused");
	CHECK(dns_query_build(q, sizeof(q), 1, "a\\", DNS_T_A, 0) == -1,
	    "trailing backslash refused");
	CHECK(dns_query_build(q, sizeof(q), 1, "a\\256", DNS_T_A, 0) == -1,
	    "\\256 refused");
	memset(name, 'x', 63);
	memcpy(name + 63, ".t", 3);
	CHECK(dns_query_build(q, sizeof(q), 1, name, DNS_T_A, 0) > 0,
	    "63-octet label accepted");
	memset(name, 'x', 64);
	memcpy(name + 64, ".t", 3);
	CHECK(dns_query_build(q, sizeof(q), 1, name, DNS_T_A, 0) == -1,
	    "64-octet label refused");
	/* 4 x 63 + 3 more: 63*4 + 4 length octets + 1 = 257 > 255. */
	memset(name, 'y', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[255] = '\0';
	CHECK(dns_query_build(q, sizeof(q), 1, name, DNS_T_A, 0) == -1,
	    "name of more than 255 octets refused");
	name[253] = '\0';	/* 253 characters: wire 255 */
	CHECK(dns_query_build(q, sizeof(q), 1, name, DNS_T_A, 0) > 0,
	    "name of exactly 255 octets accepted");
	CHECK(dns_query_build(q, 30, 1, "example.test", DNS_T_A, 0) == -1,
	    "a buffer too small is an error");
}

/* ------------------------------------------------------------------ */
/* Parsing. */

/* An MX answer for mail.test: two records, the second's exchange name
 * compressed against the first's. */
static size_t
mx_answer(unsigned char *out, size_t outlen)
{
	unsigned char q[DNS_QUERY_MAX];
	struct msgb m;
	size_t first;
	int ql;

	ql = dns_query_build(q, sizeof(q), 7, "mail.test", DNS_T_MX, 0);
	if (ql < 0)
		abort();
	mb_answer(&m, q, (size_t)ql, 0, 2);
	/* 10 mx1.mail.test */
	mb_16(&m, 0xc00c);
	mb_16(&m, DNS_T_MX);
	mb_16(&m, DNS_C_IN);
	mb_16(&m, 0);
	mb_16(&m, 60);
	mb_16(&m, 2 + 4 + 2);
	mb_16(&m, 10);
	first = m.len;
	mb_put(&m, "\3MX1\xc0\x0c", 6);
	/* 20 "b" + pointer to the first exchange name */
	mb_16(&m, 0xc00c);
	mb_16(&m, DNS_T_MX);
	mb_16(&m, DNS_C_IN);
	mb_16(&m, 0);
	mb_16(&m, 60);
	mb_16(&m, 2 + 2 + 2);
	mb_16(&m, 20);
	mb_put(&m, "\1b", 2);
	mb_16(&m, 0xc000 | (unsigned)first);
	if (m.len > outlen)
		abort();
	memcpy(out, m.b, m.len);
	return m.len;
}

static void
test_parse(void)
{
	unsigned char a[1024];
	char name[DNS_NAME_MAX];
	struct dns_msg m;
	struct dns_iter it;
	struct dns_rr rr;
	size_t len, next, cut;
	int k, bad;

	len = mx_answer(a, sizeof(a));
	CHECK(dns_msg_parse(&m, a, len) == 0, "MX answer parses");
	CHECK(m.id == 7 && dns_msg_rcode(&m) == 0 && m.count[DNS_S_QD] == 1 &&
	    m.count[DNS_S_AN] == 2 && !dns_msg_ad(&m), "header fields");
	dns_iter_init(&m, &it, DNS_S_QD);
	k = dns_iter_next(&m, &it, &rr);
	CHECK(k == 1 && strcmp(rr.name, "mail.test") == 0 &&
	    rr.type == DNS_T_MX && rr.rclass == DNS_C_IN, "the question");
	CHECK(dns_iter_next(&m, &it, &rr) == 0, "one question only");
	dns_iter_init(&m, &it, DNS_S_AN);
	k = dns_iter_next(&m, &it, &rr);
	CHECK(k == 1 && strcmp(rr.name, "mail.test") == 0 && rr.ttl == 60 &&
	    rr.rdlen == 8 && rr.rdata == a + rr.rdoff, "first answer record");
	CHECK(k == 1 && dns_name_expand(a, len, rr.rdoff + 2, name,
	    sizeof(name), &next) == 0 && strcmp(name, "MX1.mail.test") == 0 &&
	    next == rr.rdoff + rr.rdlen, "compressed exchange name expands");
	k = dns_iter_next(&m, &it, &rr);
	CHECK(k == 1 && dns_name_expand(a, len, rr.rdoff + 2, name,
	    sizeof(name), &next) == 0 && strcmp(name, "b.MX1.mail.test") == 0,
	    "pointer to a pointer expands");
	CHECK(dns_iter_next(&m, &it, &rr) == 0, "end of the answer section");
	CHECK(dns_name_expand(a, len, 12, name, 10, NULL) == -1,
	    "a name longer than dst is an error");
	CHECK(dns_name_expand(a, len, 12, name, 10, NULL) == -1 &&
	    dns_name_expand(a, len, 12, name, 11, NULL) == 0,
	    "a name expands into dst of its length + 2 (spare for the dot)");

	/* Every truncation is an error (parse or walk), never an overrun:
	 * the copy sits at the end of a heap block so ASan/valgrind would
	 * see a read past it. */
	bad = 0;
	for (cut = 0; cut < len; cut++) {
		unsigned char *t = xmalloc(cut ? cut : 1);
		int ok = 1;

		memcpy(t, a, cut);
		if (dns_msg_parse(&m, t, cut) == 0) {
			int s;

			for (s = 0; s < 4 && ok; s++) {
				dns_iter_init(&m, &it, s);
				while ((k = dns_iter_next(&m, &it, &rr)) == 1)
					;
				if (k < 0)
					ok = 0;
			}
			if (ok)
				bad++;
		}
		free(t);
	}
	CHECK(bad == 0, "every truncation of the answer is refused (%d not)",
	    bad);

	/* Flip every byte of the answer: no crash, and the walk stays inside. */
	bad = 0;
	for (cut = 0; cut < len; cut++) {
		unsigned char *t = xmalloc(len);
		unsigned v;

		for (v = 0; v < 256; v += 17) {
			memcpy(t, a, len);
			t[cut] = (unsigned char)v;
			if (dns_msg_parse(&m, t, len) != 0)
				continue;
			dns_iter_init(&m, &it, DNS_S_AN);
			while ((k = dns_iter_next(&m, &it, &rr)) == 1) {
				if (rr.rdoff + rr.rdlen > len)
					bad++;
				(void)dns_name_expand(t, len, rr.rdoff + 2,
				    name, sizeof(name), NULL);
			}
		}
		free(t);
	}
	CHECK(bad == 0, "corrupted answers never yield rdata past the end");
}

static void
test_malformed(void)
{
	unsigned char q[DNS_QUERY_MAX], b[600];
	char name[DNS_NAME_MAX];
	struct dns_msg m;
	struct dns_iter it;
	struct dns_rr rr;
	struct msgb mb;
	size_t i;
	int ql;

	ql = dns_query_build(q, sizeof(q), 9, "x.test", DNS_T_A, 0);
	CHECK(dns_msg_parse(&m, q, (size_t)ql) == 0 && m.count[DNS_S_AR] == 1,
	    "our own query parses, with its OPT record");
	CHECK(dns_msg_parse(&m, q, 11) == -1, "shorter than a header");

	/* A pointer to itself. */
	memset(b, 0, sizeof(b));
	b[12] = 0xc0;
	b[13] = 12;
	CHECK(dns_name_expand(b, 14, 12, name, sizeof(name), NULL) == -1,
	    "a pointer to itself is refused");
	/* A forward pointer. */
	b[13] = 14;
	b[14] = 0;
	CHECK(dns_name_expand(b, 15, 12, name, sizeof(name), NULL) == -1,
	    "a forward pointer is refused");
	/* Two names pointing at each other through labels. */
	memcpy(b + 12, "\1a\xc0\x0c", 4);
	CHECK(dns_name_expand(b, 16, 14, name, sizeof(name), NULL) == -1,
	    "a pointer loop through a label is refused");
	/* A pointer cut in half. */
	memcpy(b + 12, "\1a\xc0", 3);
	CHECK(dns_name_expand(b, 15, 12, name, sizeof(name), NULL) == -1,
	    "half a pointer at the end is refused");
	/* Label types 01 and 10 are not in use. */
	b[12] = 0x41;
	CHECK(dns_name_expand(b, 20, 12, name, sizeof(name), NULL) == -1,
	    "label type 0x40 refused");
	b[12] = 0x81;
	CHECK(dns_name_expand(b, 20, 12, name, sizeof(name), NULL) == -1,
	    "label type 0x80 refused");
	/* A label longer than what is left. */
	b[12] = 10;
	memcpy(b + 13, "abc", 3);
	CHECK(dns_name_expand(b, 16, 12, name, sizeof(name), NULL) == -1,
	    "label past the end refused");
	/* No final zero. */
	memcpy(b + 12, "\3abc", 4);
	CHECK(dns_name_expand(b, 16, 12, name, sizeof(name), NULL) == -1,
	    "name without its root label refused");
	/* A name of more than 255 octets built with pointers: 5 chained
	 * 63-octet labels each pointing back at the previous one. */
	{
		size_t o = 12, prev = 0;
		int j;

		memset(b, 0, sizeof(b));
		for (j = 0; j < 5; j++) {
			size_t start = o;

			b[o++] = 63;
			memset(b + o, 'z', 63);
			o += 63;
			if (j == 0)
				b[o++] = 0;
			else {
				b[o++] = (unsigned char)(0xc0 | prev >> 8);
				b[o++] = (unsigned char)prev;
			}
			prev = start;
		}
		CHECK(dns_name_expand(b, o, prev, name, sizeof(name), NULL) == -1,
		    "a compressed name of more than 255 octets is refused");
	}
	/* Special characters come out escaped. */
	memset(b, 0, sizeof(b));
	memcpy(b + 12, "\4a.\x01z\0", 7);
	CHECK(dns_name_expand(b, 19, 12, name, sizeof(name), NULL) == 0 &&
	    strcmp(name, "a\\.\\001z") == 0, "dot and control octet escaped");
	CHECK(dns_name_expand(b, 19, 18, name, sizeof(name), NULL) == 0 &&
	    strcmp(name, ".") == 0, "the root name expands to \".\"");

	/* RDATA longer than the message. */
	ql = dns_query_build(q, sizeof(q), 9, "x.test", DNS_T_A, 0);
	mb_answer(&mb, q, (size_t)ql, 0, 1);
	mb_rr(&mb, DNS_T_A, "\x7f\0\0\1", 4);
	CHECK(dns_msg_parse(&m, mb.b, mb.len) == 0, "well-formed A answer");
	mb.b[mb.len - 5] = 5;	/* rdlength 5, 4 bytes there */
	CHECK(dns_msg_parse(&m, mb.b, mb.len) == -1,
	    "rdlength past the end refused");
	mb.b[mb.len - 5] = 4;
	mb.b[7] = 2;		/* ancount 2, one record there */
	CHECK(dns_msg_parse(&m, mb.b, mb.len) == -1,
	    "a count larger than the records refused");
	mb.b[7] = 1;
	/* An owner name with a bad pointer: framing parses (a pointer is
	 * two octets), the walk refuses it. */
	mb.b[mb.len - 16 + 1] = 0xff;	/* pointer 0xc0ff: past the record */
	if (dns_msg_parse(&m, mb.b, mb.len) == 0) {
		dns_iter_init(&m, &it, DNS_S_AN);
		CHECK(dns_iter_next(&m, &it, &rr) == -1,
		    "owner name with a forward pointer refused by the walk");
	} else
		CHECK(1, "owner name with a forward pointer refused by parse");

	/* TXT decoding. */
	{
		char t[32];

		CHECK(dns_txt_decode((const unsigned char *)"\3abc\2de", 7, t,
		    sizeof(t)) == 5 && strcmp(t, "abcde") == 0,
		    "TXT strings concatenated");
		CHECK(dns_txt_decode((const unsigned char *)"\0", 1, t,
		    sizeof(t)) == 0 && t[0] == '\0', "an empty TXT string");
		CHECK(dns_txt_decode((const unsigned char *)"\5abc", 4, t,
		    sizeof(t)) == -1, "TXT string past the rdata refused");
		CHECK(dns_txt_decode((const unsigned char *)"\3abc\2de", 7, t,
		    5) == -1, "TXT text larger than dst refused");
		CHECK(dns_txt_decode((const unsigned char *)"\3abc\2de", 7, t,
		    6) == 5, "TXT text that just fits");
	}
	/* Random messages: whatever parses walks inside its buffer. */
	{
		unsigned seed = 12345, bad = 0, parsed = 0, t;

		for (t = 0; t < 20000; t++) {
			size_t bl = 12 + (rand_r(&seed) % 200), j;
			unsigned char *x = xmalloc(bl);

			for (j = 0; j < bl; j++)
				x[j] = (unsigned char)rand_r(&seed);
			/* Small counts, so that some of them parse. */
			for (j = 4; j < 12; j++)
				x[j] = j % 2 ? (unsigned char)(x[j] % 3) : 0;
			if (dns_msg_parse(&m, x, bl) == 0) {
				int s2;

				parsed++;
				for (s2 = 0; s2 < 4; s2++) {
					dns_iter_init(&m, &it, s2);
					while (dns_iter_next(&m, &it, &rr) == 1)
						if (rr.rdata != NULL &&
						    rr.rdoff + rr.rdlen > bl)
							bad++;
				}
			}
			free(x);
		}
		CHECK(bad == 0 && parsed > 0,
		    "random messages: %u parsed, none walks outside", parsed);
	}
	for (i = 0; i < sizeof(b); i++)
		b[i] = (unsigned char)(i * 7 + 3);
	CHECK(dns_msg_parse(&m, b, sizeof(b)) == -1 || m.len == sizeof(b),
	    "noise: refused or framed inside the buffer");
}

/* ------------------------------------------------------------------ */
/* Server addresses. */

static int
port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)(const void *)ss)->sin_port);
}

static int
parse(const char *s, int *family, int *port)
{
	struct sockaddr_storage ss;
	socklen_t l;

	if (dns_server_parse(s, strlen(s), &ss, &l) != 0)
		return -1;
	*family = ss.ss_family;
	*port = port_of(&ss);
	return 0;
}

static void
test_servers(void)
{
	char err[128], d[128];
	struct dns_resolver *r;
	int f = 0, p = 0;

	CHECK(parse("127.0.0.1", &f, &p) == 0 && f == AF_INET && p == 53,
	    "ADDR: IPv4, port 53");
	CHECK(parse("127.0.0.1:5353", &f, &p) == 0 && f == AF_INET && p == 5353,
	    "ADDR:PORT");
	CHECK(parse("[::1]:5353", &f, &p) == 0 && f == AF_INET6 && p == 5353,
	    "[IPV6]:PORT");
	CHECK(parse("[::1]", &f, &p) == 0 && f == AF_INET6 && p == 53,
	    "[IPV6]");
	CHECK(parse("::1", &f, &p) == 0 && f == AF_INET6 && p == 53,
	    "bare IPv6");
	CHECK(parse("2001:db8::53", &f, &p) == 0 && f == AF_INET6,
	    "bare IPv6 with several groups");
	CHECK(parse("localhost", &f, &p) == -1, "host names refused");
	CHECK(parse("127.0.0.1:0", &f, &p) == -1, "port 0 refused");
	CHECK(parse("127.0.0.1:65536", &f, &p) == -1, "port 65536 refused");
	CHECK(parse("127.0.0.1:", &f, &p) == -1, "empty port refused");
	CHECK(parse("[127.0.0.1]:53", &f, &p) == -1, "bracketed IPv4 refused");
	CHECK(parse("[::1]x", &f, &p) == -1, "junk after ] refused");
	CHECK(parse("[::1", &f, &p) == -1, "no closing bracket refused");
	CHECK(parse("::1:53x", &f, &p) == -1, "junk IPv6 refused");

	r = dns_resolver_new("127.0.0.1:5353, [::1]:5354", 1000, 1, err,
	    sizeof(err));
	CHECK(r != NULL, "resolver with two servers");
	if (r != NULL) {
		dns_resolver_describe(r, d, sizeof(d));
		CHECK(strcmp(d, "127.0.0.1:5353 [::1]:5354") == 0,
		    "describe: %s", d);
		CHECK(dns_resolver_configure(r, "nonsense", 1000, 1, err,
		    sizeof(err)) == -1 && strstr(err, "nonsense") != NULL,
		    "a bad server is refused with a reason");
		dns_resolver_describe(r, d, sizeof(d));
		CHECK(strcmp(d, "127.0.0.1:5353 [::1]:5354") == 0,
		    "a refused configuration leaves the resolver unchanged");
		CHECK(dns_resolver_configure(r, "", 1000, 1, err,
		    sizeof(err)) == 0, "empty: the system's servers");
		dns_resolver_describe(r, d, sizeof(d));
		CHECK(d[0] != '\0', "system servers: %s", d);
		dns_resolver_free(&r);
		CHECK(r == NULL, "free clears the pointer");
	}
	CHECK(dns_resolver_new("1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 5.5.5.5", 1000,
	    1, err, sizeof(err)) == NULL, "more than four servers refused");
	CHECK(dns_resolver_new("", 0, 1, err, sizeof(err)) == NULL,
	    "timeout 0 refused");
}

/* ------------------------------------------------------------------ */
/* Transport, against a responder thread. */

enum mode { M_OK, M_WRONG_ID_FIRST, M_TRUNCATE, M_REFUSE, M_SILENT };

struct responder {
	int		udp, tcp;
	int		family;
	int		port;
	enum mode	mode;
	int		udp_queries, tcp_queries;
	int		stop[2];
	pthread_t	th;
};

/* The answer to query q: A 192.0.2.N for N in 1..count. */
static void
make_answer(const unsigned char *q, size_t ql, unsigned rcode, unsigned count,
    struct msgb *m)
{
	unsigned i;

	mb_answer(m, q, ql, rcode, count);
	for (i = 1; i <= count; i++) {
		unsigned char a[4] = { 192, 0, 2, (unsigned char)i };

		mb_rr(m, DNS_T_A, a, 4);
	}
}

static void *
responder_main(void *arg)
{
	struct responder *s = arg;

	for (;;) {
		struct pollfd p[3] = {
			{ s->udp, POLLIN, 0 }, { s->tcp, POLLIN, 0 },
			{ s->stop[0], POLLIN, 0 },
		};
		unsigned char q[600];
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		struct msgb m;
		ssize_t n;

		if (poll(p, 3, 10000) <= 0 || p[2].revents)
			return NULL;
		if (p[0].revents) {
			n = recvfrom(s->udp, q, sizeof(q), 0,
			    (struct sockaddr *)&from, &fl);
			if (n < 12)
				continue;
			s->udp_queries++;
			switch (s->mode) {
			case M_SILENT:
				continue;
			case M_REFUSE:
				make_answer(q, (size_t)n, DNS_R_REFUSED, 0, &m);
				break;
			case M_TRUNCATE:
				make_answer(q, (size_t)n, 0, 0, &m);
				m.b[2] |= 0x02;	/* TC */
				break;
			case M_WRONG_ID_FIRST:
				make_answer(q, (size_t)n, 0, 1, &m);
				m.b[0] ^= 0xff;
				m.b[m.len - 1] = 99;	/* 192.0.2.99: bogus */
				(void)sendto(s->udp, m.b, m.len, 0,
				    (struct sockaddr *)&from, fl);
				make_answer(q, (size_t)n, 0, 1, &m);
				break;
			default:
				make_answer(q, (size_t)n, 0, 1, &m);
				break;
			}
			(void)sendto(s->udp, m.b, m.len, 0,
			    (struct sockaddr *)&from, fl);
		}
		if (p[1].revents) {
			int c = accept(s->tcp, NULL, NULL);
			unsigned char l2[2];
			size_t ql;

			if (c < 0)
				continue;
			if (recv(c, l2, 2, MSG_WAITALL) == 2) {
				ql = (size_t)(l2[0] << 8 | l2[1]);
				if (ql <= sizeof(q) &&
				    recv(c, q, ql, MSG_WAITALL) == (ssize_t)ql) {
					s->tcp_queries++;
					/* Over TCP the whole answer: 40 records. */
					make_answer(q, ql, 0, 40, &m);
					l2[0] = (unsigned char)(m.len >> 8);
					l2[1] = (unsigned char)m.len;
					(void)send(c, l2, 2, MSG_NOSIGNAL);
					(void)send(c, m.b, m.len, MSG_NOSIGNAL);
				}
			}
			close(c);
		}
	}
}

/* bind_pair - UDP and TCP sockets on the same free loopback port. */
static int
bind_pair(struct responder *s)
{
	struct sockaddr_storage ss;
	socklen_t l;
	int one = 1;

	memset(&ss, 0, sizeof(ss));
	if (s->family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		l = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		l = sizeof(*a);
	}
	s->udp = socket(s->family, SOCK_DGRAM, 0);
	if (s->udp < 0)
		return -1;
	if (bind(s->udp, (struct sockaddr *)&ss, l) != 0 ||
	    getsockname(s->udp, (struct sockaddr *)&ss, &l) != 0) {
		close(s->udp);
		return -1;
	}
	s->port = port_of(&ss);
	s->tcp = socket(s->family, SOCK_STREAM, 0);
	if (s->tcp < 0) {
		close(s->udp);
		return -1;
	}
	(void)setsockopt(s->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->tcp, (struct sockaddr *)&ss, l) != 0 ||
	    listen(s->tcp, 8) != 0) {
		close(s->udp);
		close(s->tcp);
		return -1;	/* the TCP port is taken: try another */
	}
	return 0;
}

static int
responder_start(struct responder *s, int family)
{
	int tries;

	memset(s, 0, sizeof(*s));
	s->family = family;
	for (tries = 0; tries < 50; tries++)
		if (bind_pair(s) == 0)
			break;
	if (tries == 50)
		return -1;
	if (pipe(s->stop) != 0)
		return -1;
	return pthread_create(&s->th, NULL, responder_main, s) == 0 ? 0 : -1;
}

static void
responder_stop(struct responder *s)
{
	if (write(s->stop[1], "x", 1) != 1)
		abort();
	pthread_join(s->th, NULL);
	close(s->udp);
	close(s->tcp);
	close(s->stop[0]);
	close(s->stop[1]);
}

static long long
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_transport(int family)
{
	const char *fam = family == AF_INET6 ? "IPv6" : "IPv4";
	struct responder s;
	struct dns_resolver *r;
	struct sockaddr_storage v[64];
	unsigned char ans[4096];
	struct dns_msg m;
	char srv[64], err[128];
	long long t0;
	int n;

	if (responder_start(&s, family) != 0) {
		CHECK(family == AF_INET6, "%s responder starts", fam);
		printf("# %s loopback unavailable: transport tests skipped\n",
		    fam);
		return;
	}
	(void)gms_snprintf(srv, sizeof(srv), family == AF_INET6 ?
	    "[::1]:%d" : "127.0.0.1:%d", s.port);
	r = dns_resolver_new(srv, 300, 1, err, sizeof(err));
	CHECK(r != NULL, "%s resolver for %s", fam, srv);
	if (r == NULL) {
		responder_stop(&s);
		return;
	}
	s.mode = M_OK;
	n = dns_addrs(r, "host.test", false, 25, v, 64);
	CHECK(n == 1 && v[0].ss_family == AF_INET &&
	    ((struct sockaddr_in *)&v[0])->sin_addr.s_addr == htonl(0xc0000201) &&
	    port_of(&v[0]) == 25, "%s: A lookup over UDP", fam);

	s.mode = M_WRONG_ID_FIRST;
	n = dns_addrs(r, "host.test", false, 25, v, 64);
	CHECK(n == 1 && ((struct sockaddr_in *)&v[0])->sin_addr.s_addr ==
	    htonl(0xc0000201), "%s: an answer with a wrong id is ignored", fam);

	s.mode = M_TRUNCATE;
	s.tcp_queries = 0;
	n = dns_addrs(r, "host.test", false, 25, v, 64);
	CHECK(n == 40 && s.tcp_queries == 1,
	    "%s: truncated answer asked again over TCP (%d records)", fam, n);

	s.mode = M_REFUSE;
	n = dns_raw(r, "host.test", DNS_T_A, 0, ans, sizeof(ans));
	CHECK(n > 0 && dns_msg_parse(&m, ans, (size_t)n) == 0 &&
	    dns_msg_rcode(&m) == DNS_R_REFUSED, "%s: REFUSED is handed back",
	    fam);
	CHECK(dns_lookup(r, "host.test", DNS_T_A, 0, ans, sizeof(ans), &m) ==
	    DNS_TEMP, "%s: REFUSED is a temporary failure", fam);

	s.mode = M_SILENT;
	s.udp_queries = 0;
	t0 = ms_now();
	n = dns_lookup(r, "host.test", DNS_T_A, 0, ans, sizeof(ans), &m);
	t0 = ms_now() - t0;
	CHECK(n == DNS_TEMP && s.udp_queries == 2 && t0 >= 850 && t0 < 3000,
	    "%s: silent server: 2 tries, 300+600 ms (%lld ms, %d tries)", fam,
	    t0, s.udp_queries);
	CHECK(dns_lookup(r, "a..b", DNS_T_A, 0, ans, sizeof(ans), &m) ==
	    DNS_BADNAME, "%s: a bad name is not sent", fam);
	dns_resolver_free(&r);
	responder_stop(&s);
}

int
main(void)
{
	test_build();
	test_parse();
	test_malformed();
	test_servers();
	test_transport(AF_INET);
	test_transport(AF_INET6);
	return unit_done();
}
