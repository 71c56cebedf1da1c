/*
 * smtp_spf.c - SPF (RFC 7208) for gms-smtpd with libspf2.
 *
 * libspf2 evaluates the records; its DNS comes from a small layer of our
 * own (an SPF_dns_server_t whose lookup goes through lib/dns.c's
 * resolver smtpd_ctx.dns), so that the servers named by smtpd.dns_server
 * answer, with the
 * distinction between "no such name" (HOST_NOT_FOUND / NO_DATA) and a
 * failing DNS (TRY_AGAIN: temperror) kept.  One SPF_server_t serves every
 * session; requests and responses are per call.
 */
#include "config.h"

#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_dns_rr.h>

#include "smtpd/smtp_private.h"

static SPF_server_t *spf_server;
static SPF_dns_server_t spf_dns;

/* spf_lookup - the DNS layer: answer one query for libspf2 through
 * smtpd_ctx.dns.  The herrno values keep "no such name" (HOST_NOT_FOUND,
 * NO_DATA) apart from a failing DNS (TRY_AGAIN: temperror). */
static SPF_dns_rr_t *
spf_lookup(SPF_dns_server_t *srv, const char *domain, ns_type type, int cache)
{
	unsigned char ans[8192];
	char name[DNS_NAME_MAX];
	SPF_dns_rr_t *rr;
	struct dns_msg msg;
	struct dns_iter it;
	struct dns_rr r;
	int n, cnt = 0;

	(void)cache;
	n = dns_lookup(smtpd_ctx.dns, domain, (int)type, 0, ans, sizeof(ans),
	    &msg);
	if (n <= 0)
		return SPF_dns_rr_new_init(srv, domain, type, 0,
		    n == DNS_NODATA ? NO_DATA : n == DNS_NXDOMAIN ?
		    HOST_NOT_FOUND : TRY_AGAIN);
	rr = SPF_dns_rr_new_init(srv, domain, type, 0, NETDB_SUCCESS);
	if (rr == NULL)
		return NULL;
	dns_iter_init(&msg, &it, DNS_S_AN);
	while (dns_iter_next(&msg, &it, &r) == 1) {
		const unsigned char *p = r.rdata;
		int o;

		if (r.type != (uint16_t)type)
			continue;	/* CNAMEs on the way */
		switch (type) {
		case ns_t_a:
			if (r.rdlen != 4 ||
			    SPF_dns_rr_buf_realloc(rr, cnt, 4) != SPF_E_SUCCESS)
				continue;
			memcpy(&rr->rr[cnt]->a, p, 4);
			break;
		case ns_t_aaaa:
			if (r.rdlen != 16 ||
			    SPF_dns_rr_buf_realloc(rr, cnt, 16) != SPF_E_SUCCESS)
				continue;
			memcpy(&rr->rr[cnt]->aaaa, p, 16);
			break;
		case ns_t_mx:
			if (r.rdlen < 3 || dns_name_expand(msg.base, msg.len,
			    r.rdoff + 2, name, sizeof(name), NULL) != 0)
				continue;
			if (SPF_dns_rr_buf_realloc(rr, cnt, strlen(name) + 1) !=
			    SPF_E_SUCCESS)
				continue;
			memcpy(rr->rr[cnt]->mx, name, strlen(name) + 1);
			break;
		case ns_t_ptr:
			if (dns_name_expand(msg.base, msg.len, r.rdoff, name,
			    sizeof(name), NULL) != 0)
				continue;
			if (SPF_dns_rr_buf_realloc(rr, cnt, strlen(name) + 1) !=
			    SPF_E_SUCCESS)
				continue;
			memcpy(rr->rr[cnt]->ptr, name, strlen(name) + 1);
			break;
		case ns_t_txt:
		case ns_t_spf:
			/* The strings of one record, concatenated: the text
			 * is never longer than the rdata. */
			if (SPF_dns_rr_buf_realloc(rr, cnt, (size_t)r.rdlen + 1) !=
			    SPF_E_SUCCESS)
				continue;
			o = dns_txt_decode(p, r.rdlen, rr->rr[cnt]->txt,
			    (size_t)r.rdlen + 1);
			if (o < 0)
				continue;	/* malformed: skipped */
			break;
		default:
			continue;
		}
		cnt++;
	}
	rr->num_rr = cnt;
	if (cnt == 0)
		rr->herrno = NO_DATA;
	return rr;
}

int
smtp_spf_setup(const struct conf *c)
{
	const char *h = conf_str(c, "smtpd.hostname");

	if (spf_server != NULL)
		return 0;
	memset(&spf_dns, 0, sizeof(spf_dns));
	spf_dns.destroy = NULL;		/* static: never freed by libspf2 */
	spf_dns.lookup = spf_lookup;
	spf_dns.name = "gms";
	spf_server = SPF_server_new_dns(&spf_dns, 0);
	if (spf_server == NULL) {
		log_errorx("event=spf_error error=\"SPF_server_new_dns\"");
		return -1;
	}
	if (h[0] != '\0')
		(void)SPF_server_set_rec_dom(spf_server, h);
	return 0;
}

/*
 * spf_query - SPF_request_query_mailfrom() without its "localhost always
 * passes" shortcut: a loopback client is evaluated like any other (our
 * tests, and a local relay that must not be waved through).  The steps
 * are the library's own public ones: pick the domain, fetch the record,
 * interpret it.
 */
static SPF_response_t *
spf_query(SPF_request_t *req)
{
	SPF_response_t *resp;
	SPF_record_t *rec = NULL;
	SPF_errcode_t err;

	resp = SPF_response_new(req);
	if (resp == NULL)
		return NULL;
	req->cur_dom = req->use_helo ? req->helo_dom : req->env_from_dp;
	if (req->cur_dom == NULL) {
		SPF_i_done(resp, SPF_RESULT_NONE, SPF_REASON_NONE, SPF_E_SUCCESS);
		return resp;
	}
	err = SPF_server_get_record(spf_server, req, resp, &rec);
	if (err != SPF_E_SUCCESS) {
		if (rec != NULL)
			SPF_record_free(rec);
		switch (err) {
		case SPF_E_NOT_SPF:
			SPF_i_done(resp, SPF_RESULT_NONE, SPF_REASON_NONE, err);
			break;
		case SPF_E_DNS_ERROR:
			SPF_i_done(resp, SPF_RESULT_TEMPERROR, SPF_REASON_NONE,
			    err);
			break;
		default:
			SPF_i_done(resp, SPF_RESULT_PERMERROR, SPF_REASON_NONE,
			    err);
			break;
		}
		return resp;
	}
	resp->spf_record_exp = rec;
	(void)SPF_record_interpret(rec, req, resp, 0);
	SPF_record_free(rec);
	return resp;
}

int
smtp_spf_check(const char *ip, const char *helo, const char *mailfrom)
{
	SPF_request_t *req;
	SPF_response_t *resp = NULL;
	char from[SMTP_PATH_MAX + 16];
	const char *v4;
	int r = SMTP_AR_NONE;

	if (spf_server == NULL)
		return SMTP_AR_NONE;
	req = SPF_request_new(spf_server);
	if (req == NULL)
		return SMTP_AR_TEMPERROR;
	/* "::ffff:192.0.2.1" is the IPv4 client on a dual-stack socket. */
	v4 = strncmp(ip, "::ffff:", 7) == 0 && strchr(ip + 7, '.') ? ip + 7 : ip;
	if (strchr(v4, ':') != NULL) {
		if (SPF_request_set_ipv6_str(req, v4) != SPF_E_SUCCESS)
			goto out;
	} else if (SPF_request_set_ipv4_str(req, v4) != SPF_E_SUCCESS)
		goto out;
	if (helo != NULL && helo[0] != '\0')
		(void)SPF_request_set_helo_dom(req, helo);
	if (mailfrom != NULL && mailfrom[0] != '\0') {
		gms_strlcpy(from, mailfrom, sizeof(from));
	} else {
		/* The HELO identity: checked as postmaster@helo. */
		if (helo == NULL || helo[0] == '\0')
			goto out;
		if (gms_snprintf(from, sizeof(from), "postmaster@%s", helo) != 0)
			goto out;
	}
	if (SPF_request_set_env_from(req, from) != 0)
		goto out;
	resp = spf_query(req);
	if (resp == NULL) {
		r = SMTP_AR_TEMPERROR;
		goto out;
	}
	switch (SPF_response_result(resp)) {
	case SPF_RESULT_PASS:		r = SMTP_AR_PASS; break;
	case SPF_RESULT_FAIL:		r = SMTP_AR_FAIL; break;
	case SPF_RESULT_SOFTFAIL:	r = SMTP_AR_SOFTFAIL; break;
	case SPF_RESULT_NEUTRAL:	r = SMTP_AR_NEUTRAL; break;
	case SPF_RESULT_NONE:		r = SMTP_AR_NONE; break;
	case SPF_RESULT_TEMPERROR:	r = SMTP_AR_TEMPERROR; break;
	case SPF_RESULT_PERMERROR:	r = SMTP_AR_PERMERROR; break;
	default:			r = SMTP_AR_PERMERROR; break;
	}
out:
	if (resp != NULL)
		SPF_response_free(resp);
	SPF_request_free(req);
	return r;
}
