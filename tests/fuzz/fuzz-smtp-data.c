/*
 * fuzz-smtp-data.c - libFuzzer target for the DATA/BDAT byte filter
 * (smtpd/smtp_data.c).  The first byte picks the mode and a split point;
 * the rest is fed in two pieces.  Checks: the end of DATA is found only
 * right after CRLF "." CRLF at a line start, the same way whatever the
 * split, and the stored message of an error-free DATA in reject mode
 * holds no bare CR or LF and never more than the limit.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static int
feed(const char *p, size_t n, size_t split, bool dotted, bool norm,
    bool bin, struct buf *out, struct smtp_data *d, size_t *used_r)
{
	size_t used = 0, off = 0;
	int end;

	smtp_data_init(d, out, 4096, dotted, norm, bin);
	if (split > n)
		split = n;
	end = smtp_data_feed(d, p, split, &used);
	off = used;
	if (!end) {
		end = smtp_data_feed(d, p + split, n - split, &used);
		off = split + used;
	}
	if (!dotted)
		smtp_data_finish(d);
	*used_r = off;
	return end;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct buf a = BUF_INIT(0), b = BUF_INIT(0);
	struct smtp_data da, db;
	size_t ua, ub, i;
	const char *p;
	bool dotted, norm, bin;
	int ea, eb;

	if (size < 2)
		return 0;
	dotted = !(data[0] & 1);
	norm = data[0] & 2;
	bin = !dotted && (data[0] & 4);
	p = (const char *)data + 2;
	size -= 2;
	ea = feed(p, size, data[1], dotted, norm, bin, &a, &da, &ua);
	eb = feed(p, size, 0, dotted, norm, bin, &b, &db, &ub);
	if (ea != eb || (ea && ua != ub) || da.errors != db.errors ||
	    a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))
		abort();
	if (ea) {
		/* The end is ".\r\n" at the start of the input or after CRLF. */
		if (ua < 3 || memcmp(p + ua - 3, ".\r\n", 3) != 0)
			abort();
		if (ua > 3 && (ua < 5 || memcmp(p + ua - 5, "\r\n", 2) != 0))
			abort();
	}
	if (!bin && da.errors == 0 && !norm) {
		for (i = 0; i < a.len; i++) {
			if (a.data[i] == '\n' && (i == 0 || a.data[i - 1] != '\r'))
				abort();
			if (a.data[i] == '\r' && (i + 1 >= a.len ||
			    a.data[i + 1] != '\n') && (ea || !dotted))
				abort();
		}
	}
	if (a.len > 4096)
		abort();
	buf_free(&a);
	buf_free(&b);
	return 0;
}
