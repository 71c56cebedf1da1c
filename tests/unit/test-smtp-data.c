/*
 * test-smtp-data.c - unit tests of the DATA/BDAT byte filter
 * (smtpd/smtp_data.c): the end of DATA is only CRLF.CRLF, the SMTP
 * smuggling variants never end the data and are rejected (or normalised
 * by policy), dot-unstuffing, NUL, the size limit while streaming, and
 * the same results whatever the split of the input (fed whole, one byte
 * at a time, and split at every position).
 */
#include "config.h"

#include <string.h>

#include "smtpd/smtpd.h"
#include "unit.h"

struct dcase {
	const char	*name;
	const char	*in;		/* after DATA's 354 */
	bool		 normalise;
	int		 end;		/* 1: the end is found */
	size_t		 used;		/* bytes consumed when end */
	const char	*out;		/* stored message when no error */
	unsigned int	 errors;
};

#define E_LF	SMTP_DATA_ERR_BARE_LF
#define E_CR	SMTP_DATA_ERR_BARE_CR

static const struct dcase cases[] = {
	{ "plain", "a\r\nb\r\n.\r\nQUIT\r\n", false, 1, 9, "a\r\nb\r\n", 0 },
	{ "empty message", ".\r\n", false, 1, 3, "", 0 },
	{ "dot-stuffing", "..a\r\n..\r\n.\r\n", false, 1, 12, ".a\r\n.\r\n", 0 },
	{ "dot inside a line", "a.\r\n.b\r\n.\r\n", false, 1, 11, "a.\r\nb\r\n", 0 },
	{ "no end yet", "a\r\n.", false, 0, 0, NULL, 0 },
	{ "dot CR only", "a\r\n.\r", false, 0, 0, NULL, 0 },
	/* Smuggling: none of these ends the data. */
	{ "LF.LF", "a\n.\nMAIL FROM:<x@y>\n", false, 0, 0, NULL, E_LF },
	{ "LF.CRLF", "a\n.\r\nMAIL FROM:<x@y>\r\n", false, 0, 0, NULL, E_LF },
	{ "CR.CR", "a\r.\rMAIL FROM:<x@y>\r", false, 0, 0, NULL, E_CR },
	{ "CRLF.CR", "a\r\n.\rMAIL FROM:<x@y>\r\n", false, 0, 0, NULL, E_CR },
	{ "CRLF.LF", "a\r\n.\nMAIL FROM:<x@y>\r\n", false, 0, 0, NULL, E_LF },
	{ "CR.CRLF", "a\r.\r\nMAIL\r\n", false, 0, 0, NULL, E_CR },
	{ "LF.LF then real end", "a\n.\nX\r\n.\r\n", false, 1, 10, NULL, E_LF },
	{ "bare CR mid-line", "a\rb\r\n.\r\n", false, 1, 8, NULL, E_CR },
	{ "CR CR LF", "a\r\r\n.\r\n", false, 1, 7, NULL, E_CR },
	/* Normalising: stored as CRLF, and still never an end. */
	{ "normalise LF", "a\nb\r\n.\r\n", true, 1, 8, "a\r\nb\r\n", 0 },
	{ "normalise LF.LF", "a\n.\nb\r\n.\r\n", true, 1, 10,
	  "a\r\n.\r\nb\r\n", 0 },
	{ "normalise CR", "a\rb\r\n.\r\n", true, 1, 8, "a\r\nb\r\n", 0 },
	{ "normalise CRLF.CR", "a\r\n.\rb\r\n.\r\n", true, 1, 11,
	  "a\r\n\r\nb\r\n", 0 },
	{ "NUL", "a\0b\r\n.\r\n", false, 1, 8, NULL, SMTP_DATA_ERR_NUL },
};

/* run - feed in with the given split; returns end, fills used. */
static int
run(const struct dcase *t, size_t inlen, size_t split, bool bytewise,
    struct buf *out, struct smtp_data *d, size_t *used_r)
{
	size_t off = 0, used, n;
	int end = 0;

	buf_reset(out);
	smtp_data_init(d, out, 1000, true, t->normalise, false);
	while (off < inlen && !end) {
		if (bytewise)
			n = 1;
		else if (split > 0 && off < split)
			n = split - off;
		else
			n = inlen - off;
		end = smtp_data_feed(d, t->in + off, n, &used);
		off += used;
	}
	*used_r = off;
	return end;
}

static void
test_cases(void)
{
	struct buf out = BUF_INIT(0);
	struct smtp_data d;
	size_t i, s, used, inlen;
	int end, mismatches;

	for (i = 0; i < GMS_NELEM(cases); i++) {
		const struct dcase *t = &cases[i];

		inlen = strlen(t->in);
		if (strcmp(t->name, "NUL") == 0)
			inlen = 8;
		end = run(t, inlen, 0, false, &out, &d, &used);
		CHECK(end == t->end, "%s: end=%d", t->name, t->end);
		if (t->end)
			CHECK(used == t->used, "%s: used %zu (got %zu)", t->name,
			    t->used, used);
		CHECK((d.errors & ~SMTP_DATA_ERR_SIZE) == t->errors,
		    "%s: errors %#x (got %#x)", t->name, t->errors, d.errors);
		if (t->out != NULL && t->end)
			CHECK(out.len == strlen(t->out) &&
			    memcmp(out.data ? out.data : "", t->out, out.len) == 0,
			    "%s: stored text", t->name);
		/* The same result one byte at a time and at every split. */
		mismatches = 0;
		if (run(t, inlen, 0, true, &out, &d, &used) != t->end ||
		    (t->end && used != t->used) ||
		    (d.errors & ~SMTP_DATA_ERR_SIZE) != t->errors)
			mismatches++;
		for (s = 1; s < inlen; s++) {
			if (run(t, inlen, s, false, &out, &d, &used) != t->end ||
			    (t->end && used != t->used) ||
			    (d.errors & ~SMTP_DATA_ERR_SIZE) != t->errors)
				mismatches++;
		}
		CHECK(mismatches == 0, "%s: same at every split", t->name);
	}
	buf_free(&out);
}

static void
test_size(void)
{
	struct buf out = BUF_INIT(0);
	struct smtp_data d;
	char big[300];
	size_t used, i;
	int end = 0;

	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 2] = '\r';
	big[sizeof(big) - 1] = '\n';
	smtp_data_init(&d, &out, 1000, true, false, false);
	for (i = 0; i < 5; i++)
		end |= smtp_data_feed(&d, big, sizeof(big), &used);
	CHECK(!end, "no end inside a big message");
	CHECK((d.errors & SMTP_DATA_ERR_SIZE) != 0, "size error at 1500 > 1000");
	CHECK(out.len <= 1000, "no more than max stored (%zu)", out.len);
	end = smtp_data_feed(&d, ".\r\n", 3, &used);
	CHECK(end == 1 && used == 3, "end still found after the limit");
	CHECK(d.size == 1500, "size counted past the limit (%llu)",
	    (unsigned long long)d.size);
	buf_free(&out);
}

static void
test_bdat(void)
{
	struct buf out = BUF_INIT(0);
	struct smtp_data d;
	size_t used;

	smtp_data_init(&d, &out, 1000, false, false, false);
	CHECK(smtp_data_feed(&d, "a\r\n.\r\n", 6, &used) == 0,
	    "BDAT: a dot line is no end");
	CHECK(smtp_data_feed(&d, "b\r", 2, &used) == 0 && d.errors == 0,
	    "BDAT: CR at a chunk end waits");
	CHECK(smtp_data_feed(&d, "\nc", 2, &used) == 0 && d.errors == 0,
	    "BDAT: CRLF across chunks");
	CHECK(out.len == 10 && memcmp(out.data, "a\r\n.\r\nb\r\nc", 10) == 0,
	    "BDAT: stored without unstuffing");
	smtp_data_finish(&d);
	CHECK(d.errors == 0, "BDAT: clean finish");
	CHECK(smtp_data_feed(&d, "x\r", 2, &used) == 0, "BDAT: trailing CR");
	smtp_data_finish(&d);
	CHECK(d.errors & SMTP_DATA_ERR_BARE_CR, "BDAT: bare CR at the end");
	buf_reset(&out);
	smtp_data_init(&d, &out, 1000, false, false, false);
	(void)smtp_data_feed(&d, "a\nb", 3, &used);
	CHECK(d.errors & SMTP_DATA_ERR_BARE_LF, "BDAT: bare LF refused");
	buf_reset(&out);
	smtp_data_init(&d, &out, 1000, false, false, true);
	(void)smtp_data_feed(&d, "a\nb\0c\r", 6, &used);
	smtp_data_finish(&d);
	CHECK(d.errors == 0 && out.len == 6, "BINARYMIME: bytes as they are");
	buf_free(&out);
}

int
main(void)
{
	test_cases();
	test_size();
	test_bdat();
	return unit_done();
}
