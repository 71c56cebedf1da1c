/*
 * fuzz-relay-reply.c - libFuzzer target of the relay's SMTP reply parser:
 * the input is split into lines (as the line reader would deliver them)
 * and fed to relay_reply_feed; complete 250 replies go through the EHLO
 * keyword parser, and every reply's text through the xtext codec and a
 * DSN build (the peer text ends up in DSNs).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "relay/relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_reply r;
	struct relay_ehlo e;
	const char *p = (const char *)data, *nl;
	size_t left = size, len;
	int rc;

	relay_reply_init(&r);
	while (left > 0) {
		nl = memchr(p, '\n', left);
		len = nl != NULL ? (size_t)(nl - p) : left;
		rc = relay_reply_feed(&r, p, len);
		if (rc == 1) {
			struct buf x = BUF_INIT(65536), o = BUF_INIT(65536);
			struct relay_dsn d;
			struct relay_dsn_rcpt dr;

			relay_ehlo_parse(&r, &e);
			(void)relay_xtext_encode(&x, r.text.data ? r.text.data :
			    "", r.text.len);
			(void)relay_xtext_decode(&o, r.text.data ? r.text.data :
			    "", r.text.len);
			memset(&d, 0, sizeof(d));
			memset(&dr, 0, sizeof(dr));
			dr.address = "a@b";
			dr.diag = buf_cstr(&r.text);
			dr.orcpt = buf_cstr(&o);
			d.reporting_mta = "h";
			d.sender = "s@h";
			d.qid = "q";
			d.original = (const char *)data;
			d.original_len = size;
			d.rcpt = &dr;
			d.nrcpt = 1;
			buf_reset(&x);
			(void)relay_dsn_build(&x, &d);
			(void)relay_count_received((const char *)data, size);
			buf_free(&x);
			buf_free(&o);
		}
		if (nl == NULL)
			break;
		left -= len + 1;
		p = nl + 1;
	}
	relay_reply_free(&r);
	return 0;
}
