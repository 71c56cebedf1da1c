/*
 * fuzz-smtp-path.c - libFuzzer target for the MAIL and RCPT argument
 * parsers (smtpd/smtp_parse.c).  Checks the promise of the parser: what
 * it accepts holds no byte below 0x20, no DEL, no space outside quotes,
 * and the domain is a valid domain or address literal.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void
check_clean(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct smtp_path p;
	struct smtp_mail_params mp;
	struct smtp_rcpt_params rp;
	bool lit;
	char out[600];

	if (smtp_parse_mail((const char *)data, size, &p, &mp) == NULL) {
		check_clean(p.addr);
		check_clean(mp.envid);
		check_clean(mp.auth);
		if (strchr(mp.envid, ' ') || strchr(mp.auth, ' '))
			abort();
		if (!p.null && !p.literal && !smtp_domain_valid(p.domain,
		    strlen(p.domain), true))
			abort();
	}
	if (smtp_parse_rcpt((const char *)data, size, size & 1, &p, &rp) == NULL) {
		check_clean(p.addr);
		check_clean(rp.orcpt);
		if (strchr(rp.orcpt, ' '))
			abort();
	}
	(void)smtp_helo_valid((const char *)data, size, &lit);
	if (smtp_xtext_decode((const char *)data, size, out, sizeof(out)) >= 0)
		check_clean(out);
	return 0;
}
