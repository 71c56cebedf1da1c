/*
 * smtp_dmarc.c - DMARC (RFC 7489) for gms-smtpd with libopendmarc.
 *
 * We fetch the policy record ourselves through lib/dns.c's resolver
 * smtpd_ctx.dns (so that smtpd.dns_server answers): _dmarc.FROMDOMAIN,
 * else _dmarc.ORGDOMAIN, and hand it to libopendmarc with the SPF and
 * DKIM results; the library decides alignment and the policy to apply.
 * p=reject gives a 550 5.7.1 at the end of DATA, p=quarantine a delivery
 * into the recipients' Junk.
 *
 * The organisational domain comes from the Public Suffix List (Debian's
 * publicsuffix package, smtpd.public_suffix_list), loaded into
 * libopendmarc, which also uses it for relaxed alignment: "go.tz" is a
 * public suffix, so x.mof.go.tz belongs to mof.go.tz, never to go.tz.
 * Without the list there is no organisational-domain fallback at all
 * (fail safe: never ask _dmarc of a public suffix).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <opendmarc/dmarc.h>

#include "smtpd/smtp_private.h"

static bool dmarc_ready;
static bool dmarc_psl;		/* the Public Suffix List is loaded */

/* Exported by libopendmarc but missing from its header: the registrable
 * (organisational) domain of domain per the loaded list; 0 on success. */
int opendmarc_get_tld(u_char *domain, u_char *tld, size_t tld_len);

int
smtp_dmarc_setup(const struct conf *c)
{
	OPENDMARC_LIB_T lib;

	const char *psl = conf_str(c, "smtpd.public_suffix_list");

	if (dmarc_ready)
		return 0;
	memset(&lib, 0, sizeof(lib));
	lib.tld_type = OPENDMARC_TLD_TYPE_NONE;
	if (opendmarc_policy_library_init(&lib) != DMARC_PARSE_OKAY) {
		log_errorx("event=dmarc_error error=library_init");
		return -1;
	}
	if (psl[0] != '\0') {
		if (access(psl, R_OK) == 0 &&
		    opendmarc_tld_read_file((char *)(uintptr_t)psl, "//", "*.",
		    "!") == 0)
			dmarc_psl = true;
		else
			log_warnx("event=dmarc_psl_unavailable path=%s", psl);
	}
	dmarc_ready = true;
	return 0;
}

struct dmarc_rec {
	char	txt[1024];
	int	count;
};

static void
dmarc_txt(void *arg, const char *txt, size_t len)
{
	struct dmarc_rec *r = arg;

	/* Only records that start with "v=DMARC1" count; two is an error
	 * (RFC 7489 6.6.3), handled by the caller. */
	if (len < 8 || gms_strncasecmp(txt, "v=DMARC1", 8) != 0)
		return;
	if (r->count++ == 0)
		gms_strlcpy(r->txt, txt, sizeof(r->txt));
}

/* fetch - find the record; returns 1 found, 0 none, -1 temporary. */
static int
fetch(const char *domain, struct dmarc_rec *r, char *org, size_t orglen)
{
	char name[SMTP_DOMAIN_MAX + 16];
	int res;

	/* The organisational domain (RFC 7489 3.2): from the list, or the
	 * domain itself when there is no list. */
	if (!dmarc_psl || opendmarc_get_tld((u_char *)(uintptr_t)domain,
	    (u_char *)org, orglen) != 0 || org[0] == '\0')
		gms_strlcpy(org, domain, orglen);
	memset(r, 0, sizeof(*r));
	if (gms_snprintf(name, sizeof(name), "_dmarc.%s", domain) != 0)
		return 0;
	res = dns_txt(smtpd_ctx.dns, name, dmarc_txt, r);
	if (res == DNS_TEMP || res == DNS_BADNAME)
		return -1;
	if (r->count == 1)
		return 1;
	if (r->count > 1 || gms_strcasecmp(org, domain) == 0)
		return 0;
	/* No record at the domain: the organisational domain's applies
	 * (RFC 7489 6.6.3). */
	if (gms_snprintf(name, sizeof(name), "_dmarc.%s", org) != 0)
		return 0;
	memset(r, 0, sizeof(*r));
	res = dns_txt(smtpd_ctx.dns, name, dmarc_txt, r);
	if (res == DNS_TEMP || res == DNS_BADNAME)
		return -1;
	return r->count == 1 ? 1 : 0;
}

static int
spf_outcome(int r)
{
	switch (r) {
	case SMTP_AR_PASS:	return DMARC_POLICY_SPF_OUTCOME_PASS;
	case SMTP_AR_TEMPERROR:	return DMARC_POLICY_SPF_OUTCOME_TMPFAIL;
	case SMTP_AR_NONE:	return DMARC_POLICY_SPF_OUTCOME_NONE;
	default:		return DMARC_POLICY_SPF_OUTCOME_FAIL;
	}
}

static int
dkim_outcome(int r)
{
	switch (r) {
	case SMTP_AR_PASS:	return DMARC_POLICY_DKIM_OUTCOME_PASS;
	case SMTP_AR_TEMPERROR:	return DMARC_POLICY_DKIM_OUTCOME_TMPFAIL;
	case SMTP_AR_NONE:	return DMARC_POLICY_DKIM_OUTCOME_NONE;
	default:		return DMARC_POLICY_DKIM_OUTCOME_FAIL;
	}
}

int
smtp_dmarc_check(const char *from_domain, const char *spf_domain,
    int spf_result, const struct smtp_dkim_sig *sigs, size_t nsigs,
    int *result_r, char *policy_r, size_t policylen)
{
	DMARC_POLICY_T *pctx;
	struct dmarc_rec rec;
	char org[SMTP_DOMAIN_MAX + 1];
	int r, act = SMTP_DMARC_ACCEPT, p = 0;
	size_t i;

	*result_r = SMTP_AR_NONE;
	if (policylen > 0)
		policy_r[0] = '\0';
	if (!dmarc_ready)
		return SMTP_DMARC_ACCEPT;
	r = fetch(from_domain, &rec, org, sizeof(org));
	if (r < 0) {
		*result_r = SMTP_AR_TEMPERROR;
		return SMTP_DMARC_ACCEPT;
	}
	if (r == 0)
		return SMTP_DMARC_ACCEPT;
	pctx = opendmarc_policy_connect_init((u_char *)"0.0.0.0", 4);
	if (pctx == NULL) {
		*result_r = SMTP_AR_TEMPERROR;
		return SMTP_DMARC_ACCEPT;
	}
	(void)opendmarc_policy_store_from_domain(pctx, (u_char *)from_domain);
	if (spf_domain != NULL && spf_domain[0] != '\0')
		(void)opendmarc_policy_store_spf(pctx, (u_char *)spf_domain,
		    spf_outcome(spf_result), DMARC_POLICY_SPF_ORIGIN_MAILFROM,
		    NULL);
	for (i = 0; i < nsigs; i++)
		(void)opendmarc_policy_store_dkim(pctx, (u_char *)sigs[i].domain,
		    (u_char *)sigs[i].selector, dkim_outcome(sigs[i].result),
		    NULL);
	if (opendmarc_policy_store_dmarc(pctx, (u_char *)rec.txt,
	    (u_char *)from_domain, (u_char *)org) != DMARC_PARSE_OKAY) {
		*result_r = SMTP_AR_PERMERROR;
		(void)opendmarc_policy_connect_shutdown(pctx);
		return SMTP_DMARC_ACCEPT;
	}
	(void)opendmarc_policy_fetch_p(pctx, &p);
	if (policylen > 0)
		gms_strlcpy(policy_r, p == DMARC_RECORD_P_REJECT ? "reject" :
		    p == DMARC_RECORD_P_QUARANTINE ? "quarantine" : "none",
		    policylen);
	switch (opendmarc_get_policy_to_enforce(pctx)) {
	case DMARC_POLICY_PASS:
		*result_r = SMTP_AR_PASS;
		break;
	case DMARC_POLICY_REJECT:
		*result_r = SMTP_AR_FAIL;
		act = SMTP_DMARC_REJECT;
		break;
	case DMARC_POLICY_QUARANTINE:
		*result_r = SMTP_AR_FAIL;
		act = SMTP_DMARC_QUARANTINE;
		break;
	case DMARC_POLICY_NONE:
		*result_r = SMTP_AR_FAIL;
		break;
	default:
		*result_r = SMTP_AR_NONE;
		break;
	}
	(void)opendmarc_policy_connect_shutdown(pctx);
	return act;
}
