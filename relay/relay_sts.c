/*
 * relay_sts.c - MTA-STS (RFC 8461) for the relay: is a policy published
 * (the TXT record _mta-sts.DOMAIN, "v=STSv1; id=..."), fetch it over HTTPS
 * from https://mta-sts.DOMAIN/.well-known/mta-sts.txt with a certificate
 * that verifies for that name, parse it, and keep it in a small cache for
 * max_age (refetched when the TXT id changes).  In enforce mode the SMTP
 * client then only uses MX hosts that match the policy's mx patterns, and
 * only over TLS with a certificate that verifies for the MX name.
 *
 * The policy fetch reads at most RELAY_STS_MAX_BODY bytes through the
 * bounded line reader with the relay's timeouts.  A published policy that
 * cannot be fetched falls back to an unexpired cached one, else the
 * domain is treated as having none (RFC 8461 5.1).  Only a DNS failure of
 * the TXT lookup without a cached policy defers the delivery.
 */
#include "config.h"

#include <sys/socket.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "relay/relay-private.h"

#define RELAY_STS_MAX_BODY	65536
#define RELAY_STS_CACHE		128

struct sts_cached {
	char		domain[256];
	char		id[64];
	time_t		expires;
	struct relay_sts p;
};

static struct sts_cached sts_cache[RELAY_STS_CACHE];
static pthread_mutex_t sts_mu = PTHREAD_MUTEX_INITIALIZER;

bool
relay_sts_match(const struct relay_sts *p, const char *host)
{
	size_t i, hl = strlen(host), pl;
	const char *dot;

	for (i = 0; i < p->nmx; i++) {
		if (p->mx[i][0] == '*' && p->mx[i][1] == '.') {
			/* "*.example.com" matches exactly one more label. */
			dot = strchr(host, '.');
			if (dot != NULL && dot != host &&
			    gms_strcasecmp(dot + 1, p->mx[i] + 2) == 0)
				return true;
			continue;
		}
		pl = strlen(p->mx[i]);
		if (pl == hl && gms_strcasecmp(host, p->mx[i]) == 0)
			return true;
	}
	return false;
}

int
relay_sts_parse(const char *text, size_t len, struct relay_sts *p_r)
{
	struct cursor all, c;
	const char *line, *v;
	size_t n, vl;
	uint64_t age;
	bool version = false, mode = false, maxage = false;

	memset(p_r, 0, sizeof(*p_r));
	cur_init(&all, text, len);
	while (!cur_eof(&all)) {
		n = cur_take_until(&all, "\n", &line);
		if (!cur_eof(&all))
			cur_skip(&all, 1);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		cur_init(&c, line, n);
		if (cur_match_ci(&c, "version:")) {
			(void)cur_skip_ws(&c);
			version = c.left == 5 && memcmp(c.p, "STSv1", 5) == 0;
		} else if (cur_match_ci(&c, "mode:")) {
			(void)cur_skip_ws(&c);
			mode = true;
			if (c.left == 7 && memcmp(c.p, "enforce", 7) == 0)
				p_r->mode = RELAY_STS_ENFORCE;
			else if (c.left == 7 && memcmp(c.p, "testing", 7) == 0)
				p_r->mode = RELAY_STS_TESTING;
			else if (c.left == 4 && memcmp(c.p, "none", 4) == 0)
				p_r->mode = RELAY_STS_NONE;
			else
				mode = false;
		} else if (cur_match_ci(&c, "mx:")) {
			(void)cur_skip_ws(&c);
			vl = cur_take_until(&c, " \t", &v);
			if (vl == 0 || vl >= sizeof(p_r->mx[0]) ||
			    p_r->nmx >= RELAY_STS_MAX_MX)
				continue;
			memcpy(p_r->mx[p_r->nmx], v, vl);
			p_r->mx[p_r->nmx][vl] = '\0';
			p_r->nmx++;
		} else if (cur_match_ci(&c, "max_age:")) {
			(void)cur_skip_ws(&c);
			vl = cur_take_until(&c, " \t", &v);
			if (vl > 0 && vl <= 10 &&
			    gms_parse_u64(v, vl, 31557600, &age) == 0) {
				p_r->max_age = (long)age;
				maxage = true;
			}
		}
	}
	if (!version || !mode || !maxage)
		return -1;
	if (p_r->mode != RELAY_STS_NONE && p_r->nmx == 0)
		return -1;
	return 0;
}

/* sts_id - the id of the TXT record "v=STSv1; id=ID;" into id.  Returns
 * 1, 0 (no policy) or -1 (temporary). */
static int
sts_id(const char *domain, char *id, size_t idlen)
{
	char name[300], txt[1024];
	const char *p;
	size_t n;
	int r;

	if (gms_snprintf(name, sizeof(name), "_mta-sts.%s", domain) != 0)
		return 0;
	r = relay_dns_txt(name, "v=STSv1", txt, sizeof(txt));
	if (r == RELAY_DNS_TEMP)
		return -1;
	if (r <= 0)
		return 0;
	p = strstr(txt, "id=");
	if (p == NULL)
		return 0;
	p += 3;
	n = strcspn(p, "; \t");
	if (n == 0 || n >= idlen)
		return 0;
	memcpy(id, p, n);
	id[n] = '\0';
	return 1;
}

/* sts_fetch - GET the policy over verified HTTPS.  Returns 0 or -1. */
static int
sts_fetch(const struct relay_cfg *cfg, struct tls_ctx *tls, int stop_fd,
    const char *domain, struct relay_sts *p_r)
{
	struct sockaddr_storage addrs[4];
	struct buf body = BUF_INIT(RELAY_STS_MAX_BODY);
	struct conn *c = NULL;
	struct line l;
	char host[300];
	uint64_t clen = 0;
	int na, i, fd, r, rc = -1;
	bool header = true, ok = false, has_clen = false;

	if (tls == NULL || gms_snprintf(host, sizeof(host), "mta-sts.%s",
	    domain) != 0)
		return -1;
	na = relay_dns_addrs(host, cfg->ipv6, cfg->mta_sts_port, addrs,
	    GMS_NELEM(addrs));
	for (i = 0; i < na && c == NULL; i++) {
		fd = relay_connect(cfg, &addrs[i], stop_fd);
		if (fd == -1)
			continue;
		c = conn_new(fd, cfg->timeout_ms, stop_fd);
		if (conn_starttls_client(c, tls, host) != 0 ||
		    SSL_get_verify_result(conn_ssl(c)) != X509_V_OK) {
			log_info("event=relay_sts_tls_failed domain=%s", domain);
			conn_free(&c);
		}
	}
	if (c == NULL)
		return -1;
	if (conn_printf(c, "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: %s\r\n"
	    "Connection: close\r\nUser-Agent: gms-relay\r\n\r\n", host) < 0 ||
	    conn_flush(c) < 0)
		goto out;
	r = conn_getline(c, &l, 1024);
	if (r != CONN_OK || l.len < 12 || memcmp(l.data, "HTTP/1.", 7) != 0 ||
	    memcmp(l.data + 8, " 200", 4) != 0)
		goto out;
	/* The header (redirects are not followed: RFC 8461 3.3). */
	while (header) {
		struct cursor hc;

		r = conn_getline(c, &l, 4096);
		if (r != CONN_OK)
			goto out;
		if (l.len == 0)
			header = false;
		cur_init(&hc, l.data, l.len);
		if (cur_match_ci(&hc, "Content-Length:")) {
			(void)cur_skip_ws(&hc);
			if (hc.left == 0 || hc.left > 10 ||
			    gms_parse_u64(hc.p, hc.left, RELAY_STS_MAX_BODY,
			    &clen) != 0)
				goto out;
			has_clen = true;
		}
	}
	if (has_clen) {
		/* Exactly that many bytes: a missing close_notify after
		 * them cannot truncate the policy. */
		if (buf_reserve(&body, (size_t)clen + 1) != 0 ||
		    conn_read_exact(c, body.data, (size_t)clen) != CONN_OK)
			goto out;
		body.len = (size_t)clen;
		body.data[body.len] = '\0';
		ok = true;
	} else {
		/* Up to a clean end of the TLS stream. */
		for (;;) {
			r = conn_getline(c, &l, 4096);
			if (r != CONN_OK)
				break;
			if (buf_append(&body, l.data, l.len) != 0 ||
			    buf_putc(&body, '\n') != 0)
				goto out;
		}
		ok = r == CONN_EOF;
	}
	if (ok && relay_sts_parse(body.data ? body.data : "", body.len,
	    p_r) == 0)
		rc = 0;
out:
	conn_free(&c);
	buf_free(&body);
	return rc;
}

int
relay_sts_get(const struct relay_cfg *cfg, struct tls_ctx *tls, int stop_fd,
    const char *domain, struct relay_sts *p_r)
{
	char id[64];
	time_t now = time(NULL);
	size_t i, slot = 0;
	int r, found = -1;

	r = sts_id(domain, id, sizeof(id));
	pthread_mutex_lock(&sts_mu);
	for (i = 0; i < RELAY_STS_CACHE; i++) {
		if (sts_cache[i].domain[0] != '\0' &&
		    gms_strcasecmp(sts_cache[i].domain, domain) == 0) {
			found = (int)i;
			break;
		}
		if (sts_cache[i].expires < sts_cache[slot].expires)
			slot = i;
	}
	if (found >= 0 && sts_cache[found].expires > now &&
	    (r != 1 || strcmp(sts_cache[found].id, id) == 0)) {
		/* Cached, and the id did not change (or DNS is down). */
		*p_r = sts_cache[found].p;
		pthread_mutex_unlock(&sts_mu);
		return 1;
	}
	pthread_mutex_unlock(&sts_mu);
	if (r == 0)
		return 0;
	if (r < 0)
		return -1;
	if (sts_fetch(cfg, tls, stop_fd, domain, p_r) != 0) {
		/* RFC 8461 5.1: keep using an unexpired cached policy, and
		 * without one deliver as if none were published. */
		log_warnx("event=relay_sts_fetch_failed domain=%s", domain);
		pthread_mutex_lock(&sts_mu);
		if (found >= 0 && sts_cache[found].expires > now) {
			*p_r = sts_cache[found].p;
			pthread_mutex_unlock(&sts_mu);
			return 1;
		}
		pthread_mutex_unlock(&sts_mu);
		return 0;
	}
	log_info("event=relay_sts_policy domain=%s id=%s mode=%d mx=%zu "
	    "max_age=%ld", domain, id, p_r->mode, p_r->nmx, p_r->max_age);
	pthread_mutex_lock(&sts_mu);
	if (found >= 0)
		slot = (size_t)found;
	(void)gms_strlcpy(sts_cache[slot].domain, domain,
	    sizeof(sts_cache[slot].domain));
	(void)gms_strlcpy(sts_cache[slot].id, id, sizeof(sts_cache[slot].id));
	sts_cache[slot].expires = now + p_r->max_age;
	sts_cache[slot].p = *p_r;
	pthread_mutex_unlock(&sts_mu);
	return 1;
}
