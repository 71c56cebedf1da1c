/*
 * dns.c - the DNS stub resolver shared by gms-smtpd (SPF, DKIM, DMARC)
 * and the relay (MX, A/AAAA, TLSA, MTA-STS TXT); see gms-dns.h.
 *
 * It replaces two copies of a libresolv wrapper whose res_state could
 * only hold IPv4 servers.  Here the transport is our own: one socket per
 * query (so one resolver serves every thread), UDP first with a random
 * id from a kernel-chosen source port, the answer accepted only from the
 * server asked with our id and our question, TCP when the answer is
 * truncated, each try bounded by a deadline.  The message code walks
 * answers with explicit offsets and checks every length before reading.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/gms.h"
#include "lib/gms-dns.h"

#define DNS_RESOLV_CONF	"/etc/resolv.conf"
#define DNS_PTR_HOPS	64	/* compression pointers followed per name */
#define DNS_TIMEOUT_MAX	60000

struct dns_server {
	struct sockaddr_storage	addr;
	socklen_t		len;
};

/* The settings a query works with (copied under the lock). */
struct dns_config {
	struct dns_server	srv[DNS_SERVERS_MAX];
	size_t			nsrv;
	int			timeout_ms;
	int			retries;
};

struct dns_resolver {
	pthread_mutex_t		lock;
	struct dns_config	cfg;	/* guarded by lock */
};

/* ------------------------------------------------------------------ */
/* Servers. */

int
dns_server_parse(const char *s, size_t len, struct sockaddr_storage *ss,
    socklen_t *sslen)
{
	struct addrinfo hints, *ai = NULL;
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2], port[8] = "53";
	const char *h = s, *p = NULL, *colon;
	size_t hl = len, pl = 0;
	uint64_t pv;

	if (len == 0)
		return -1;
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', len);

		if (rb == NULL)
			return -1;
		h = s + 1;
		hl = (size_t)(rb - h);
		if ((size_t)(rb + 1 - s) < len) {
			if (rb[1] != ':')
				return -1;
			p = rb + 2;
			pl = len - (size_t)(p - s);
		}
	} else {
		colon = memchr(s, ':', len);
		/* One colon: IPv4:PORT.  More: a bare IPv6 address. */
		if (colon != NULL && memchr(colon + 1, ':',
		    len - (size_t)(colon + 1 - s)) == NULL) {
			hl = (size_t)(colon - s);
			p = colon + 1;
			pl = len - hl - 1;
		}
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	if (p != NULL) {
		if (pl == 0 || gms_parse_u64(p, pl, 65535, &pv) != 0 || pv == 0)
			return -1;
		(void)gms_snprintf(port, sizeof(port), "%u", (unsigned)pv);
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL)
		return -1;
	/* A bracketed address must be IPv6. */
	if ((s[0] == '[' && ai->ai_family != AF_INET6) ||
	    ai->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(ai);
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*sslen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* system_servers - the nameserver lines of /etc/resolv.conf (at most
 * three, as libc takes), else 127.0.0.1.  Options and search lines do
 * not apply: we never search, and timings are ours. */
static void
system_servers(struct dns_config *cfg)
{
	char line[512], b[INET6_ADDRSTRLEN + IF_NAMESIZE + 4];
	FILE *f;

	f = fopen(DNS_RESOLV_CONF, "re");
	while (f != NULL && cfg->nsrv < 3 && fgets(line, sizeof(line), f)) {
		char *p = line;
		size_t n;

		if (strncmp(p, "nameserver", 10) != 0 ||
		    (p[10] != ' ' && p[10] != '\t'))
			continue;
		p += 10;
		p += strspn(p, " \t");
		n = strcspn(p, " \t\r\n#;");
		/* Bare addresses there: an IPv6 one gets brackets. */
		if (gms_snprintf(b, sizeof(b), memchr(p, ':', n) != NULL ?
		    "[%.*s]" : "%.*s", (int)n, p) != 0)
			continue;
		if (dns_server_parse(b, strlen(b), &cfg->srv[cfg->nsrv].addr,
		    &cfg->srv[cfg->nsrv].len) == 0)
			cfg->nsrv++;
	}
	if (f != NULL)
		fclose(f);
	if (cfg->nsrv == 0 && dns_server_parse("127.0.0.1", 9,
	    &cfg->srv[0].addr, &cfg->srv[0].len) == 0)
		cfg->nsrv = 1;
}

int
dns_resolver_configure(struct dns_resolver *r, const char *server,
    int timeout_ms, int retries, char *err, size_t errlen)
{
	struct dns_config cfg;
	const char *p = server != NULL ? server : "";

	memset(&cfg, 0, sizeof(cfg));
	if (timeout_ms < 1 || timeout_ms > DNS_TIMEOUT_MAX || retries < 0 ||
	    retries > 10) {
		(void)gms_snprintf(err, errlen, "timeout or retries out of range");
		return -1;
	}
	cfg.timeout_ms = timeout_ms;
	cfg.retries = retries;
	for (;;) {
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		n = strcspn(p, " \t,");
		if (cfg.nsrv == DNS_SERVERS_MAX) {
			(void)gms_snprintf(err, errlen, "more than %d servers",
			    DNS_SERVERS_MAX);
			return -1;
		}
		if (dns_server_parse(p, n, &cfg.srv[cfg.nsrv].addr,
		    &cfg.srv[cfg.nsrv].len) != 0) {
			(void)gms_snprintf(err, errlen, "not an address: %.*s "
			    "(ADDR, ADDR:PORT, [IPV6]:PORT expected)",
			    (int)(n > 64 ? 64 : n), p);
			return -1;
		}
		cfg.nsrv++;
		p += n;
	}
	if (cfg.nsrv == 0)
		system_servers(&cfg);
	pthread_mutex_lock(&r->lock);
	r->cfg = cfg;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

struct dns_resolver *
dns_resolver_new(const char *server, int timeout_ms, int retries, char *err,
    size_t errlen)
{
	struct dns_resolver *r = xcalloc(1, sizeof(*r));

	if (pthread_mutex_init(&r->lock, NULL) != 0)
		fatalx("pthread_mutex_init");
	if (dns_resolver_configure(r, server, timeout_ms, retries, err,
	    errlen) != 0) {
		dns_resolver_free(&r);
		return NULL;
	}
	return r;
}

void
dns_resolver_free(struct dns_resolver **rp)
{
	struct dns_resolver *r = *rp;

	if (r == NULL)
		return;
	*rp = NULL;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void
dns_resolver_describe(struct dns_resolver *r, char *dst, size_t len)
{
	struct dns_config cfg;
	size_t i, o = 0;

	pthread_mutex_lock(&r->lock);
	cfg = r->cfg;
	pthread_mutex_unlock(&r->lock);
	if (len == 0)
		return;
	dst[0] = '\0';
	for (i = 0; i < cfg.nsrv; i++) {
		char a[INET6_ADDRSTRLEN];
		const struct sockaddr_storage *ss = &cfg.srv[i].addr;
		int port;

		if (ss->ss_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (const void *)ss;

			(void)inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
			port = ntohs(s6->sin6_port);
		} else {
			const struct sockaddr_in *s4 = (const void *)ss;

			(void)inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
			port = ntohs(s4->sin_port);
		}
		if (o < len)
			(void)gms_snprintf(dst + o, len - o,
			    ss->ss_family == AF_INET6 ? "%s[%s]:%d" : "%s%s:%d",
			    i ? " " : "", a, port);
		o = strlen(dst);
	}
}

/* ------------------------------------------------------------------ */
/* Messages. */

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* name_to_wire - a text name into wire form; returns its length or -1. */
static int
name_to_wire(const char *name, unsigned char *dst, size_t len)
{
	size_t o = 0, lp = 0;	/* lp: where the current label's length goes */
	const char *p = name;
	unsigned ll = 0;

	if (strcmp(name, ".") == 0 || name[0] == '\0') {
		if (len < 1)
			return -1;
		dst[0] = 0;
		return 1;
	}
	if (len < 2)
		return -1;
	o = 1;
	for (;;) {
		int ch = (unsigned char)*p;

		if (ch == '\0' || ch == '.') {
			if (ll == 0) {
				/* Empty label: only a final dot may end. */
				if (ch == '.' || o != 1)
					return -1;
			}
			dst[lp] = (unsigned char)ll;
			if (ch == '\0' || p[1] == '\0')
				break;
			lp = o++;
			ll = 0;
			p++;
			if (o >= len || o > DNS_WIRE_MAX)
				return -1;
			continue;
		}
		if (ch == '\\') {
			if (p[1] >= '0' && p[1] <= '9') {
				unsigned v = 0, k;

				for (k = 1; k <= 3; k++) {
					if (p[k] < '0' || p[k] > '9')
						return -1;
					v = v * 10 + (unsigned)(p[k] - '0');
				}
				if (v > 255)
					return -1;
				ch = (int)v;
				p += 3;
			} else if (p[1] == '\0')
				return -1;
			else
				ch = (unsigned char)*++p;
		}
		if (++ll > 63 || o >= len || o >= DNS_WIRE_MAX)
			return -1;
		dst[o++] = (unsigned char)ch;
		p++;
	}
	if (o >= len || o >= DNS_WIRE_MAX)
		return -1;
	dst[o++] = 0;
	return (int)o;
}

int
dns_query_build(unsigned char *buf, size_t len, uint16_t id,
    const char *name, int type, unsigned flags)
{
	int nl;
	size_t o;

	if (len < DNS_HDR_LEN + 4 + 11)
		return -1;
	memset(buf, 0, DNS_HDR_LEN);
	put16(buf, id);
	put16(buf + 2, DNS_F_RD | ((flags & DNS_Q_DNSSEC) ? DNS_F_AD : 0));
	put16(buf + 4, 1);		/* QDCOUNT */
	put16(buf + 10, 1);		/* ARCOUNT: the OPT record */
	nl = name_to_wire(name, buf + DNS_HDR_LEN, len - DNS_HDR_LEN - 4 - 11);
	if (nl < 0)
		return -1;
	o = DNS_HDR_LEN + (size_t)nl;
	put16(buf + o, (unsigned)type);
	put16(buf + o + 2, DNS_C_IN);
	o += 4;
	/* OPT (RFC 6891): root name, type, payload size, ext-rcode and
	 * version 0, the DO bit, no options. */
	buf[o] = 0;
	put16(buf + o + 1, DNS_T_OPT);
	put16(buf + o + 3, DNS_EDNS_SIZE);
	buf[o + 5] = 0;
	buf[o + 6] = 0;
	put16(buf + o + 7, (flags & DNS_Q_DNSSEC) ? 0x8000 : 0);
	put16(buf + o + 9, 0);
	return (int)(o + 11);
}

/* name_walk - the name at off: its wire length in place into *next_r,
 * and (when dst) its text form.  Checks pointers, label types and the
 * 255-octet limit. */
static int
name_walk(const unsigned char *msg, size_t len, size_t off, char *dst,
    size_t dstlen, size_t *next_r)
{
	size_t o = 0, wire = 0, end = 0, pos = off;
	unsigned hops = 0;
	bool jumped = false;

	if (dst != NULL) {
		if (dstlen < 2)
			return -1;
		dst[0] = '\0';
	}
	for (;;) {
		unsigned l;

		if (pos >= len)
			return -1;
		l = msg[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= len)
				return -1;
			target = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
			/* Only backwards: no loops, and bounded anyway. */
			if (target >= pos || ++hops > DNS_PTR_HOPS)
				return -1;
			if (!jumped) {
				end = pos + 2;
				jumped = true;
			}
			pos = target;
			continue;
		}
		if ((l & 0xc0) != 0)
			return -1;	/* 0x40, 0x80: not in use */
		wire += l + 1;
		if (wire > DNS_WIRE_MAX)
			return -1;
		if (l == 0) {
			if (!jumped)
				end = pos + 1;
			break;
		}
		if (l > len - pos - 1)
			return -1;
		if (dst != NULL) {
			size_t k;

			for (k = 0; k < l; k++) {
				unsigned char ch = msg[pos + 1 + k];
				char e[5];
				size_t el;

				if (ch == '.' || ch == '\\' || ch == '"' ||
				    ch == '(' || ch == ')' || ch == ';' ||
				    ch == '@' || ch == '$') {
					e[0] = '\\';
					e[1] = (char)ch;
					el = 2;
				} else if (ch <= 0x20 || ch >= 0x7f) {
					(void)gms_snprintf(e, sizeof(e), "\\%03u",
					    ch);
					el = 4;
				} else {
					e[0] = (char)ch;
					el = 1;
				}
				if (o + el + 1 >= dstlen)
					return -1;
				memcpy(dst + o, e, el);
				o += el;
			}
			dst[o++] = '.';
		}
		pos += 1 + l;
	}
	if (dst != NULL) {
		if (o == 0)
			dst[o++] = '.';
		else if (o > 1)
			o--;		/* no final dot */
		dst[o] = '\0';
	}
	if (next_r != NULL)
		*next_r = end;
	return 0;
}

int
dns_name_expand(const unsigned char *msg, size_t len, size_t off,
    char *dst, size_t dstlen, size_t *next_r)
{
	return name_walk(msg, len, off, dst, dstlen, next_r);
}

int
dns_msg_parse(struct dns_msg *m, const unsigned char *buf, size_t len)
{
	size_t off = DNS_HDR_LEN;
	int s;
	unsigned i;

	memset(m, 0, sizeof(*m));
	if (buf == NULL || len < DNS_HDR_LEN || len > 65535)
		return -1;
	m->base = buf;
	m->len = len;
	m->id = get16(buf);
	m->flags = get16(buf + 2);
	for (s = 0; s < 4; s++)
		m->count[s] = get16(buf + 4 + 2 * s);
	for (s = 0; s < 4; s++) {
		m->sect[s] = off;
		for (i = 0; i < m->count[s]; i++) {
			if (name_walk(buf, len, off, NULL, 0, &off) != 0)
				return -1;
			if (s == DNS_S_QD) {
				if (len - off < 4)
					return -1;
				off += 4;
				continue;
			}
			if (len - off < 10)
				return -1;
			if (get16(buf + off + 8) > len - off - 10)
				return -1;
			off += 10 + get16(buf + off + 8);
		}
	}
	return 0;
}

void
dns_iter_init(const struct dns_msg *m, struct dns_iter *it, int section)
{
	it->section = section;
	it->idx = 0;
	it->off = section >= 0 && section < 4 ? m->sect[section] : 0;
}

int
dns_iter_next(const struct dns_msg *m, struct dns_iter *it,
    struct dns_rr *rr)
{
	size_t off = it->off;

	if (it->section < 0 || it->section > 3 ||
	    it->idx >= m->count[it->section])
		return 0;
	memset(rr, 0, sizeof(*rr));
	if (name_walk(m->base, m->len, off, rr->name, sizeof(rr->name),
	    &off) != 0)
		return -1;
	if (m->len - off < 4)
		return -1;
	rr->type = get16(m->base + off);
	rr->rclass = get16(m->base + off + 2);
	off += 4;
	if (it->section != DNS_S_QD) {
		if (m->len - off < 6)
			return -1;
		rr->ttl = (uint32_t)get16(m->base + off) << 16 |
		    get16(m->base + off + 2);
		rr->rdlen = get16(m->base + off + 4);
		off += 6;
		if (rr->rdlen > m->len - off)
			return -1;
		rr->rdata = m->base + off;
		rr->rdoff = off;
		off += rr->rdlen;
	}
	it->off = off;
	it->idx++;
	return 1;
}

int
dns_txt_decode(const unsigned char *rdata, size_t rdlen, char *dst,
    size_t dstlen)
{
	size_t i = 0, o = 0;

	if (dstlen == 0)
		return -1;
	while (i < rdlen) {
		size_t l = rdata[i++];

		if (l > rdlen - i || l >= dstlen - o)
			return -1;
		memcpy(dst + o, rdata + i, l);
		o += l;
		i += l;
	}
	dst[o] = '\0';
	return (int)o;
}

/* ------------------------------------------------------------------ */
/* Transport. */

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint16_t
random_id(void)
{
	uint16_t id;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id))
		id = (uint16_t)random();
	return id;
}

/* wait_fd - poll fd for events until deadline; 1 ready, 0 timeout, -1. */
static int
wait_fd(int fd, short events, long long deadline)
{
	struct pollfd pfd;

	for (;;) {
		long long left = deadline - now_ms();
		int n;

		if (left <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* answers_query - is ans an answer to q (id, QR, same question)? */
static bool
answers_query(const unsigned char *q, size_t qlen, const unsigned char *ans,
    size_t alen)
{
	struct dns_msg mq, ma;
	struct dns_iter iq, ia;
	struct dns_rr rq, ra;

	if (dns_msg_parse(&mq, q, qlen) != 0 || alen < DNS_HDR_LEN)
		return false;
	if (get16(ans) != mq.id || (get16(ans + 2) & DNS_F_QR) == 0)
		return false;
	/* A FORMERR may come without the question: id and QR must do. */
	if ((get16(ans + 2) & 0xf) == DNS_R_FORMERR && get16(ans + 4) == 0)
		return true;
	if (dns_msg_parse(&ma, ans, alen) != 0)
		return true;	/* ours, but malformed: the caller says so */
	if (ma.count[DNS_S_QD] != 1)
		return false;
	dns_iter_init(&mq, &iq, DNS_S_QD);
	dns_iter_init(&ma, &ia, DNS_S_QD);
	if (dns_iter_next(&mq, &iq, &rq) != 1 ||
	    dns_iter_next(&ma, &ia, &ra) != 1)
		return false;
	return rq.type == ra.type && rq.rclass == ra.rclass &&
	    gms_strcasecmp(rq.name, ra.name) == 0;
}

/* try_udp - one UDP try; returns the answer length, 0 on timeout or
 * no answer, -1 when the server cannot be reached. */
static int
try_udp(const struct dns_server *srv, const unsigned char *q, size_t qlen,
    unsigned char *ans, size_t anslen, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int fd, r = 0;

	fd = socket(srv->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	/* connect: the kernel takes datagrams from this server only. */
	if (connect(fd, (const struct sockaddr *)&srv->addr, srv->len) != 0 ||
	    send(fd, q, qlen, 0) != (ssize_t)qlen) {
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t n;
		int w = wait_fd(fd, POLLIN, deadline);

		if (w <= 0) {
			r = w;
			break;
		}
		/* MSG_TRUNC: the datagram's real length, even if cut. */
		n = recv(fd, ans, anslen, MSG_TRUNC);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			r = -1;		/* ECONNREFUSED: nobody there */
			break;
		}
		if (answers_query(q, qlen, ans, (size_t)n > anslen ? anslen :
		    (size_t)n)) {
			if ((size_t)n > anslen) {
				/* Larger than ans: treat as truncated (TC),
				 * the caller asks over TCP. */
				ans[2] |= DNS_F_TC >> 8;
				n = (ssize_t)anslen;
			}
			r = (int)n;
			break;
		}
		/* Not ours (late answer, spoof): keep waiting. */
	}
	close(fd);
	return r;
}

/* io_all - read or write exactly n bytes on a non-blocking fd by the
 * deadline.  Returns 0 or -1. */
static int
io_all(int fd, unsigned char *p, size_t n, bool rd, long long deadline)
{
	while (n > 0) {
		ssize_t k;

		if (wait_fd(fd, rd ? POLLIN : POLLOUT, deadline) <= 0)
			return -1;
		k = rd ? recv(fd, p, n, 0) : send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* try_tcp - one TCP try (RFC 1035 4.2.2, RFC 7766); returns the answer
 * length or -1. */
static int
try_tcp(const struct dns_server *srv, const unsigned char *q, size_t qlen,
    unsigned char *ans, size_t anslen, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	unsigned char l2[2], out[DNS_QUERY_MAX + 2];
	size_t alen;
	int fd, err = 0;
	socklen_t el = sizeof(err);

	if (qlen > DNS_QUERY_MAX)
		return -1;
	fd = socket(srv->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&srv->addr, srv->len) != 0) {
		if (errno != EINPROGRESS ||
		    wait_fd(fd, POLLOUT, deadline) <= 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 ||
		    err != 0)
			goto fail;
	}
	put16(out, (unsigned)qlen);
	memcpy(out + 2, q, qlen);
	if (io_all(fd, out, qlen + 2, false, deadline) != 0 ||
	    io_all(fd, l2, 2, true, deadline) != 0)
		goto fail;
	alen = get16(l2);
	if (alen > anslen || alen < DNS_HDR_LEN ||
	    io_all(fd, ans, alen, true, deadline) != 0 ||
	    !answers_query(q, qlen, ans, alen))
		goto fail;
	close(fd);
	return (int)alen;
fail:
	close(fd);
	return -1;
}

int
dns_raw(struct dns_resolver *r, const char *name, int type, unsigned flags,
    unsigned char *ans, size_t anslen)
{
	struct dns_config cfg;
	unsigned char q[DNS_QUERY_MAX], *refusal = NULL;
	bool dead[DNS_SERVERS_MAX] = { false };
	int qlen, a, nref = 0;
	size_t i;

	qlen = dns_query_build(q, sizeof(q), random_id(), name, type, flags);
	if (qlen < 0)
		return DNS_BADNAME;
	if (anslen > 65535)
		anslen = 65535;
	if (anslen < DNS_HDR_LEN)
		return DNS_TEMP;
	pthread_mutex_lock(&r->lock);
	cfg = r->cfg;
	pthread_mutex_unlock(&r->lock);
	for (a = 0; a <= cfg.retries; a++) {
		int to = cfg.timeout_ms << (a > 4 ? 4 : a);
		bool any = false;

		for (i = 0; i < cfg.nsrv; i++) {
			int n, rc;

			if (dead[i])
				continue;
			any = true;
			n = try_udp(&cfg.srv[i], q, (size_t)qlen, ans, anslen,
			    to);
			if (n < 0)
				dead[i] = true;	/* unreachable */
			if (n <= 0)
				continue;
			if ((get16(ans + 2) & DNS_F_TC) != 0) {
				n = try_tcp(&cfg.srv[i], q, (size_t)qlen, ans,
				    anslen, to);
				if (n <= 0)
					continue;
			}
			rc = get16(ans + 2) & 0xf;
			if (rc == DNS_R_SERVFAIL || rc == DNS_R_REFUSED ||
			    rc == DNS_R_NOTIMP) {
				/* A server that says no: ask the others, keep
				 * its answer in case they all say so. */
				dead[i] = true;
				free(refusal);
				refusal = xmalloc((size_t)n);
				memcpy(refusal, ans, (size_t)n);
				nref = n;
				continue;
			}
			free(refusal);
			return n;
		}
		if (!any)
			break;
	}
	if (refusal != NULL) {
		memcpy(ans, refusal, (size_t)nref);
		free(refusal);
		return nref;
	}
	return DNS_TEMP;
}

int
dns_lookup(struct dns_resolver *r, const char *name, int type,
    unsigned flags, unsigned char *ans, size_t anslen, struct dns_msg *m)
{
	int n;

	n = dns_raw(r, name, type, flags, ans, anslen);
	if (n < 0)
		return n;
	if (dns_msg_parse(m, ans, (size_t)n) != 0)
		return DNS_TEMP;
	switch (dns_msg_rcode(m)) {
	case DNS_R_NOERROR:
		return m->count[DNS_S_AN] == 0 ? DNS_NODATA : n;
	case DNS_R_NXDOMAIN:
		return DNS_NXDOMAIN;
	default:
		return DNS_TEMP;
	}
}

/* ------------------------------------------------------------------ */
/* Typed lookups. */

int
dns_txt(struct dns_resolver *r, const char *name,
    void (*cb)(void *arg, const char *txt, size_t len), void *arg)
{
	unsigned char ans[8192];
	struct dns_msg m;
	struct dns_iter it;
	struct dns_rr rr;
	int n, k, found = 0;

	n = dns_lookup(r, name, DNS_T_TXT, 0, ans, sizeof(ans), &m);
	if (n <= 0)
		return n;
	dns_iter_init(&m, &it, DNS_S_AN);
	while ((k = dns_iter_next(&m, &it, &rr)) == 1) {
		char *txt;
		int l;

		if (rr.type != DNS_T_TXT || rr.rclass != DNS_C_IN)
			continue;
		txt = xmalloc((size_t)rr.rdlen + 1);
		l = dns_txt_decode(rr.rdata, rr.rdlen, txt, (size_t)rr.rdlen + 1);
		if (l < 0) {
			free(txt);
			return DNS_TEMP;
		}
		cb(arg, txt, (size_t)l);
		free(txt);
		found++;
	}
	if (k < 0)
		return DNS_TEMP;
	return found > 0 ? found : DNS_NODATA;
}

int
dns_mx(struct dns_resolver *r, const char *domain, struct dns_mx *v,
    size_t max)
{
	unsigned char ans[8192];
	char name[DNS_NAME_MAX];
	struct dns_msg m;
	struct dns_iter it;
	struct dns_rr rr;
	size_t n = 0;
	int len, k;

	len = dns_lookup(r, domain, DNS_T_MX, 0, ans, sizeof(ans), &m);
	if (len <= 0)
		return len;
	dns_iter_init(&m, &it, DNS_S_AN);
	while (n < max && (k = dns_iter_next(&m, &it, &rr)) != 0) {
		size_t next;

		if (k < 0)
			return DNS_TEMP;
		if (rr.type != DNS_T_MX || rr.rdlen < 3)
			continue;
		if (dns_name_expand(m.base, m.len, rr.rdoff + 2, name,
		    sizeof(name), &next) != 0 || next != rr.rdoff + rr.rdlen)
			return DNS_TEMP;
		v[n].pref = get16(rr.rdata);
		if (strcmp(name, ".") == 0)
			name[0] = '\0';
		if (gms_strlcpy(v[n].host, name, sizeof(v[n].host)) != 0)
			continue;
		gms_lowercase(v[n].host);
		n++;
	}
	return n > 0 ? (int)n : DNS_NODATA;
}

/* addrs_of - append the A or AAAA records of host; returns the count
 * added or DNS_*. */
static int
addrs_of(struct dns_resolver *r, const char *host, int type, int port,
    struct sockaddr_storage *v, size_t max, size_t *n)
{
	unsigned char ans[8192];
	struct dns_msg m;
	struct dns_iter it;
	struct dns_rr rr;
	int len, k, added = 0;

	len = dns_lookup(r, host, type, 0, ans, sizeof(ans), &m);
	if (len <= 0)
		return len;
	dns_iter_init(&m, &it, DNS_S_AN);
	while (*n < max && (k = dns_iter_next(&m, &it, &rr)) != 0) {
		if (k < 0)
			return DNS_TEMP;
		if (rr.type != type || rr.rclass != DNS_C_IN)
			continue;
		memset(&v[*n], 0, sizeof(v[*n]));
		if (type == DNS_T_A && rr.rdlen == 4) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&v[*n];

			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)port);
			memcpy(&sin->sin_addr, rr.rdata, 4);
		} else if (type == DNS_T_AAAA && rr.rdlen == 16) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&v[*n];

			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons((uint16_t)port);
			memcpy(&s6->sin6_addr, rr.rdata, 16);
		} else
			continue;
		(*n)++;
		added++;
	}
	return added;
}

int
dns_addrs(struct dns_resolver *r, const char *host, bool ipv6, int port,
    struct sockaddr_storage *v, size_t max)
{
	struct in_addr a4;
	struct in6_addr a6;
	size_t n = 0;
	int r4, r6 = DNS_NODATA;

	if (max == 0)
		return DNS_NODATA;
	/* An address literal needs no lookup. */
	if (inet_pton(AF_INET, host, &a4) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&v[0];

		memset(&v[0], 0, sizeof(v[0]));
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr = a4;
		return 1;
	}
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&v[0];

		memset(&v[0], 0, sizeof(v[0]));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		s6->sin6_addr = a6;
		return 1;
	}
	if (ipv6)
		r6 = addrs_of(r, host, DNS_T_AAAA, port, v, max, &n);
	r4 = addrs_of(r, host, DNS_T_A, port, v, max, &n);
	if (n > 0)
		return (int)n;
	if (r4 == DNS_TEMP || r6 == DNS_TEMP)
		return DNS_TEMP;
	if (r4 == DNS_NXDOMAIN || r4 == DNS_BADNAME)
		return r4;
	return DNS_NODATA;
}

int
dns_tlsa(struct dns_resolver *r, const char *host, int port,
    struct dns_tlsa *v, size_t max, bool *secure_r)
{
	unsigned char ans[8192];
	char name[DNS_NAME_MAX];
	struct dns_msg m;
	struct dns_iter it;
	struct dns_rr rr;
	size_t n = 0;
	int len, k;

	*secure_r = false;
	if (gms_snprintf(name, sizeof(name), "_%d._tcp.%s", port, host) != 0)
		return DNS_BADNAME;
	len = dns_lookup(r, name, DNS_T_TLSA, DNS_Q_DNSSEC, ans, sizeof(ans),
	    &m);
	if (len <= 0)
		return len;
	*secure_r = dns_msg_ad(&m);
	dns_iter_init(&m, &it, DNS_S_AN);
	while (n < max && (k = dns_iter_next(&m, &it, &rr)) != 0) {
		size_t dl;

		if (k < 0)
			return DNS_TEMP;
		if (rr.type != DNS_T_TLSA || rr.rdlen < 4)
			continue;
		dl = (size_t)rr.rdlen - 3;
		if (dl > sizeof(v[n].data))
			continue;
		v[n].usage = rr.rdata[0];
		v[n].selector = rr.rdata[1];
		v[n].mtype = rr.rdata[2];
		memcpy(v[n].data, rr.rdata + 3, dl);
		v[n].len = dl;
		n++;
	}
	return n > 0 ? (int)n : DNS_NODATA;
}
