/*
 * fuzz-smtp-headers.c - libFuzzer target for the header code of
 * smtpd/smtp_headers.c: Authentication-Results removal, field lookup and
 * the From domain.  Checks: the filtered message is never longer than
 * the input and the From domain, when found, is a valid domain.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct buf out = BUF_INIT(0);
	char v[512], d[300], a[300];
	size_t removed;
	bool eight;

	if (smtp_headers_filter((const char *)data, size, "mx.example", &out,
	    &eight, &removed) != 0 || out.len > size)
		abort();
	if (removed == 0 && out.len != size)
		abort();
	if (smtp_header_get((const char *)data, size, "From", v, sizeof(v)) == 1) {
		if (smtp_from_domain(v, d, sizeof(d)) == 1 &&
		    !smtp_domain_valid(d, strlen(d), true))
			abort();
		/* An address, when found: one '@' at least, no blank, no
		 * control character, and its domain agrees. */
		if (smtp_from_address(v, a, sizeof(a)) == 1) {
			const char *at = strrchr(a, '@');
			size_t i;

			if (at == NULL || at == a ||
			    smtp_from_domain(v, d, sizeof(d)) != 1 ||
			    strcmp(at + 1, d) != 0)
				abort();
			for (i = 0; a[i] != '\0'; i++)
				if ((unsigned char)a[i] <= ' ' || a[i] == 0x7f)
					abort();
		}
	}
	if (smtp_header_count((const char *)data, size, "From") < 0)
		abort();
	buf_free(&out);
	return 0;
}
