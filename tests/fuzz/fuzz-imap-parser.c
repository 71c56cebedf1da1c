/*
 * fuzz-imap-parser.c - libFuzzer target for gms-imapd's command parser.
 *
 * The input is one assembled command (what reader.c hands to the
 * dispatcher).  It is parsed the way the handlers do: tag, name, then a
 * grammar chosen by the first byte of the input among sequence sets,
 * flag lists, astrings, nstrings, mailbox names, dates, FETCH sections,
 * literal data and nested lists; every function must stop cleanly with
 * an error or a token, never read outside the input, and keep memory
 * bounded.  Build: make fuzz-imap; run e.g.
 *   tests/fuzz/fuzz-imap-parser -max_total_time=60 -max_len=4096
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imapd/imapd.h"
#include "spool/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a = { NULL, 0 };
	struct imap_parser p;
	struct seqset set;
	struct fetch_section fs;
	struct buf b = BUF_INIT(1 << 20);
	const char *tag, *lit;
	char *s, **flags;
	size_t len, n, i;
	uint32_t num;
	uint64_t n64;
	int64_t t;
	bool lit8;
	int mode;

	if (size == 0)
		return 0;
	mode = data[0] % 12;
	imap_parser_init(&p, (const char *)data + 1, size - 1, &a);
	if (mode == 0) {
		(void)imap_p_tag(&p, &tag, &len);
		(void)imap_p_sp(&p);
		(void)imap_p_atom(&p, &s);
	}
	for (i = 0; i < 64 && !imap_p_at_eol(&p) && p.error == NULL; i++) {
		switch ((mode + i) % 12) {
		case 0:
			if (imap_p_seqset(&p, true, &set) == 0) {
				seqset_resolve(&set, 100000);
				(void)seqset_contains(&set, 77);
				(void)seqset_format(&b, &set);
			}
			break;
		case 1:
			(void)imap_p_flag_list(&p, &flags, &n, 70);
			break;
		case 2:
			(void)imap_p_astring(&p, &s, &len);
			break;
		case 3:
			(void)imap_p_nstring(&p, &s, &len);
			break;
		case 4:
			(void)imap_p_mailbox(&p, (data[0] & 0x80) != 0, &s);
			break;
		case 5:
			(void)imap_p_datetime(&p, &t);
			break;
		case 6:
			(void)imap_p_date(&p, &t);
			break;
		case 7:
			memset(&fs, 0, sizeof(fs));
			(void)fetch_p_section(&p, "BODY", &fs);
			break;
		case 8:
			(void)imap_p_literal_data(&p, true, &lit, &len, &lit8);
			break;
		case 9:
			while (imap_p_list_begin(&p) == 0)
				;
			break;
		case 10:
			(void)imap_p_number64(&p, &n64);
			(void)imap_p_number(&p, &num);
			break;
		default:
			(void)imap_p_list_mailbox(&p, &s);
			break;
		}
		(void)imap_p_accept(&p, ' ');
	}
	buf_reset(&b);
	(void)mutf7_decode(&b, (const char *)data, size);
	buf_reset(&b);
	(void)mutf7_encode(&b, (const char *)data, size);
	buf_reset(&b);
	(void)fetch_qp_decode(&b, (const char *)data, size);
	buf_reset(&b);
	{
		char *fl[] = { "subject", "from" };

		(void)fetch_header_filter(&b, (const char *)data, size, fl, 2,
		    data[0] & 1);
	}
	buf_reset(&b);
	msghdr_base_subject((const char *)data, size, &b);
	msghdr_first_mailbox((const char *)data, size, &b);
	(void)msghdr_date((const char *)data, size);
	(void)msghdr_get((const char *)data, size, "subject", &b);
	if (size > 2) {
		char *pat = xstrndup((const char *)data + 1, size / 2);
		char *nm = xstrndup((const char *)data + 1 + size / 2,
		    size - 1 - size / 2);

		(void)imapd_list_match(pat, nm);
		free(pat);
		free(nm);
	}
	buf_free(&b);
	arena_clear(&a);
	return 0;
}
