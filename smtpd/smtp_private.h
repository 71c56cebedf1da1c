/*
 * smtp_private.h - what the files of smtpd/ share among themselves and
 * nobody else needs: the session and transaction objects, the process
 * context (directory, spool, SPF, DKIM, DMARC handles) and the small
 * interfaces of the authentication modules (smtp_spf.c, smtp_dkim.c,
 * smtp_dmarc.c; their DNS is lib/dns.c's resolver smtpd_ctx.dns).
 */
#ifndef GMS_SMTP_PRIVATE_H
#define GMS_SMTP_PRIVATE_H

#include "smtpd/smtpd.h"
#include "directory/directory.h"
#include "spool/spool.h"
#include "lib/gms-dns.h"

/* ------------------------------------------------------------------ */
/* The process context, set up once by smtpd_setup(). */
struct smtpd_ctx {
	struct directory	*dir;		/* owned */
	struct spool		*spool;		/* owned */
	bool			 dkim_ready;
	bool			 spf_ready;
	struct throttle		*throttle;	/* owned: AUTH failures */
	struct dns_resolver	*dns;		/* owned: smtpd.dns_server, for
					   SPF, DKIM and DMARC */
};
extern struct smtpd_ctx smtpd_ctx;

/* ------------------------------------------------------------------ */
/* Authentication results (RFC 8601 result names). */
enum smtp_auth_result {
	SMTP_AR_NONE = 0,
	SMTP_AR_PASS,
	SMTP_AR_FAIL,
	SMTP_AR_SOFTFAIL,
	SMTP_AR_NEUTRAL,
	SMTP_AR_TEMPERROR,
	SMTP_AR_PERMERROR,
	SMTP_AR_POLICY,
};
/* "pass", "fail", ... "unknown (N)". */
const char *smtp_ar_name(int r);

/* SPF (smtp_spf.c, libspf2 with our DNS layer). */
int smtp_spf_setup(const struct conf *c);
/* Check identity (a mail-from address, or a HELO name when mailfrom is
 * NULL/empty) for the client ip.  Returns an enum smtp_auth_result. */
int smtp_spf_check(const char *ip, const char *helo, const char *mailfrom);

/* Our ed25519-sha256 signer (smtp_dkim_ed.c; libopendkim leaks its
 * Ed25519 keys).  Appends a folded "DKIM-Signature:" field with CRLF to
 * out, signing msg (header and body, CRLF or LF line ends) for domain
 * and selector with the PEM Ed25519 private key pem, timestamp now,
 * relaxed/relaxed.  Returns 0, or -1 (not an Ed25519 key, no field to
 * sign, or a crypto failure; out unchanged). */
int smtp_dkim_ed25519_sign(const char *domain, const char *selector,
    const char *pem, size_t pemlen, const char *msg, size_t len, time_t now,
    struct buf *out);
/* Relaxed canonical forms (RFC 6376 3.4.2, 3.4.4), appended to out: of
 * one header field f (name, colon, value, with or without its line end),
 * and of a body. */
void smtp_dkim_canon_header(const char *f, size_t n, struct buf *out);
void smtp_dkim_canon_body(const char *b, size_t n, struct buf *out);

/* DKIM (smtp_dkim.c, libopendkim). */
struct smtp_dkim_sig {
	int	result;		/* enum smtp_auth_result */
	char	domain[256];	/* d= (sanitised) */
	char	selector[64];	/* s= (sanitised) */
	char	algo[32];	/* "rsa-sha256" */
};
#define SMTP_DKIM_MAXSIGS	8
int smtp_dkim_setup(const struct conf *c);
/* Verify every signature of msg (CRLF text).  Fills sigs (at most
 * SMTP_DKIM_MAXSIGS) and returns how many (0: no signature). */
size_t smtp_dkim_verify(const char *msg, size_t len,
    struct smtp_dkim_sig *sigs, size_t max);
/* Sign msg for domain with the keys in smtpd.dkim_key_dir
 * (DOMAIN.SELECTOR.key; the selector from the directory, else every key
 * file of the domain: rsa and ed25519 both sign).  Appends the
 * DKIM-Signature fields (CRLF-terminated) to out.  Returns the number of
 * signatures made (0: no key) or -1 on error. */
int smtp_dkim_sign(const struct conf *c, const char *domain,
    const char *selector, const char *msg, size_t len, struct buf *out);

/* DMARC (smtp_dmarc.c, libopendmarc). */
enum smtp_dmarc_action {
	SMTP_DMARC_ACCEPT = 0,
	SMTP_DMARC_QUARANTINE,
	SMTP_DMARC_REJECT,
	SMTP_DMARC_TEMPFAIL,
};
int smtp_dmarc_setup(const struct conf *c);
/* Evaluate the From domain with the SPF result for spf_domain and the
 * DKIM signatures.  *result_r is the dmarc= result; returns the action. */
int smtp_dmarc_check(const char *from_domain, const char *spf_domain,
    int spf_result, const struct smtp_dkim_sig *sigs, size_t nsigs,
    int *result_r, char *policy_r, size_t policylen);

#endif /* GMS_SMTP_PRIVATE_H */
