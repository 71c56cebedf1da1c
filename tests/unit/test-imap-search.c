/*
 * test-imap-search.c - unit tests of gms-imapd's search text layer
 * (imapd/search-text.c): Unicode simple case folding across scripts,
 * charset conversion through iconv, the Content-Type of a part, the
 * streaming matcher over base64 / quoted-printable bodies in several
 * charsets fed in chunks of every size (needles split across chunk
 * boundaries), and the RFC 5957 display name (imapd/msghdr.c).
 */
#include "config.h"

#include <string.h>

#include "imapd/imapd.h"
#include "unit.h"

/* folded - s folded into a static-free caller buffer. */
static bool
fold_eq(const char *in, const char *want)
{
	struct buf b = BUF_INIT(0);
	bool ok;

	(void)stext_fold(&b, in, strlen(in));
	ok = b.len == strlen(want) && memcmp(buf_cstr(&b), want, b.len) == 0;
	buf_free(&b);
	return ok;
}

static void
test_fold(void)
{
	CHECK(stext_fold_cp('A') == 'a' && stext_fold_cp('z') == 'z',
	    "ASCII folds");
	CHECK(stext_fold_cp(0xC9) == 0xE9, "E acute folds to e acute");
	CHECK(stext_fold_cp(0xD7) == 0xD7, "multiplication sign unchanged");
	CHECK(stext_fold_cp(0xDF) == 0xDF, "sharp s has no simple folding");
	CHECK(stext_fold_cp(0x1E9E) == 0xDF, "capital sharp s folds to sharp s");
	CHECK(stext_fold_cp(0x160) == 0x161 && stext_fold_cp(0x161) == 0x161,
	    "S caron folds (Latin Extended-A even/odd)");
	CHECK(stext_fold_cp(0x141) == 0x142, "L stroke folds (odd run)");
	CHECK(stext_fold_cp(0x178) == 0xFF, "Y diaeresis folds to 0xFF");
	CHECK(stext_fold_cp(0x17F) == 's', "long s folds to s");
	CHECK(stext_fold_cp(0x130) == 0x130, "dotted I has no simple folding");
	CHECK(stext_fold_cp(0x391) == 0x3B1 && stext_fold_cp(0x3A9) == 0x3C9,
	    "Greek capitals fold");
	CHECK(stext_fold_cp(0x3A2) == 0x3A2, "reserved 0x3A2 unchanged");
	CHECK(stext_fold_cp(0x3C2) == 0x3C3, "final sigma folds to sigma");
	CHECK(stext_fold_cp(0x386) == 0x3AC && stext_fold_cp(0x38F) == 0x3CE,
	    "Greek tonos capitals fold");
	CHECK(stext_fold_cp(0x410) == 0x430 && stext_fold_cp(0x42F) == 0x44F,
	    "Cyrillic A..YA fold");
	CHECK(stext_fold_cp(0x401) == 0x451 && stext_fold_cp(0x40F) == 0x45F,
	    "Cyrillic IO..DZHE fold");
	CHECK(stext_fold_cp(0x490) == 0x491, "Ukrainian GHE with upturn folds");
	CHECK(stext_fold_cp(0x4C0) == 0x4CF, "palochka folds");
	CHECK(stext_fold_cp(0x531) == 0x561, "Armenian folds");
	CHECK(stext_fold_cp(0x212A) == 'k', "Kelvin sign folds to k");
	CHECK(stext_fold_cp(0xFF21) == 0xFF41, "fullwidth A folds");
	CHECK(stext_fold_cp(0x4E2D) == 0x4E2D, "CJK unchanged");
	CHECK(fold_eq("\xC3\x89T\xC3\x89", "\xC3\xA9t\xC3\xA9"),
	    "ETE with acutes folds to ete");
	CHECK(fold_eq("\xD0\x9F\xD0\xA0\xD0\x98\xD0\x92\xD0\x95\xD0\xA2",
	    "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82"),
	    "Cyrillic word folds");
	CHECK(fold_eq("A\xFF" "B\xC3", "a\xFF" "b\xC3"),
	    "invalid UTF-8 bytes copied as they are");
	CHECK(fold_eq("\xE2\x84\xAA" "M", "km"), "three bytes fold to one");
}

static void
test_charset(void)
{
	struct buf b = BUF_INIT(0);

	CHECK(stext_charset_known("UTF-8") && stext_charset_known("us-ascii"),
	    "UTF-8 and US-ASCII known");
	CHECK(stext_charset_known("ISO-8859-1") &&
	    stext_charset_known("windows-1251") && stext_charset_known("KOI8-R"),
	    "iconv charsets known");
	CHECK(!stext_charset_known("X-NO-SUCH-CHARSET"), "unknown charset");
	CHECK(!stext_charset_known("UTF-8//TRANSLIT") &&
	    !stext_charset_known(""), "iconv suffixes and empty refused");
	CHECK(stext_to_utf8(&b, "ISO-8859-1", "\xE9t\xE9", 3) == 0 &&
	    b.len == 5 && memcmp(b.data, "\xC3\xA9t\xC3\xA9", 5) == 0,
	    "Latin-1 converted");
	buf_reset(&b);
	CHECK(stext_to_utf8(&b, "windows-1251", "\xCF\xF0\xE8", 3) == 0 &&
	    b.len == 6 && memcmp(b.data, "\xD0\x9F\xD1\x80\xD0\xB8", 6) == 0,
	    "windows-1251 converted");
	buf_reset(&b);
	CHECK(stext_to_utf8(&b, "X-NO-SUCH", "abc", 3) == -1 && b.len == 0,
	    "unknown charset refused, nothing appended");
	buf_reset(&b);
	CHECK(stext_to_utf8(&b, "UTF-8", "\xFF", 1) == 0 && b.len == 1,
	    "UTF-8 passes through");
	buf_free(&b);
}

static void
test_part_type(void)
{
	char cs[64];
	bool text;
	static const char h1[] = "Content-Type: text/plain;\r\n"
	    "\tcharset=\"ISO-8859-1\"; format=flowed\r\n\r\n";
	static const char h2[] = "Content-Type: application/pdf; "
	    "name=x.pdf\r\n\r\n";
	static const char h3[] = "Subject: x\r\n\r\n";
	static const char h4[] = "content-type: TEXT/HTML; format=x; "
	    "CharSet=windows-1251\r\n\r\n";

	stext_part_type(h1, sizeof(h1) - 1, &text, cs, sizeof(cs));
	CHECK(text && strcmp(cs, "ISO-8859-1") == 0,
	    "text/plain with folded quoted charset");
	stext_part_type(h2, sizeof(h2) - 1, &text, cs, sizeof(cs));
	CHECK(!text && cs[0] == '\0', "application/pdf is not text");
	stext_part_type(h3, sizeof(h3) - 1, &text, cs, sizeof(cs));
	CHECK(text && cs[0] == '\0', "no Content-Type: text, no charset");
	stext_part_type(h4, sizeof(h4) - 1, &text, cs, sizeof(cs));
	CHECK(text && strcmp(cs, "windows-1251") == 0,
	    "upper-case type, charset as the third parameter");
}

/* match_chunks - match needle (folded by the test) in body fed in chunks
 * of size chunk. */
static bool
match_chunks(const char *needle, const char *body, size_t blen, int enc,
    const char *cs, size_t chunk)
{
	struct buf f = BUF_INIT(0);
	struct stext_match m;
	size_t off = 0;
	bool r;

	(void)stext_fold(&f, needle, strlen(needle));
	stext_match_init(&m);
	stext_match_begin(&m, buf_cstr(&f), f.len, enc, cs);
	while (off < blen) {
		size_t k = blen - off < chunk ? blen - off : chunk;

		(void)stext_match_feed(&m, body + off, k);
		off += k;
	}
	r = stext_match_end(&m);
	stext_match_free(&m);
	buf_free(&f);
	return r;
}

/* all_chunks - the same answer for every chunk size from 1 to 9 and
 * whole. */
static int
all_chunks(const char *needle, const char *body, int enc, const char *cs)
{
	size_t len = strlen(body), c;
	bool first = match_chunks(needle, body, len, enc, cs, len + 1);

	for (c = 1; c < 10; c++)
		if (match_chunks(needle, body, len, enc, cs, c) != first)
			return -1;
	return first ? 1 : 0;
}

static void
test_match(void)
{
	/* "Été à Paris" in ISO-8859-1, quoted-printable, with a soft break
	 * inside the word "Paris". */
	static const char qp1[] = "=C9t=E9 =E0 Pa=\r\nris\r\n";
	/* "Привет мир" in windows-1251, base64 over two lines. */
	static const char b64cyr[] = "z/Do4uXy\r\nIOzo8A==\r\n";
	/* "Grüße aus Köln" in UTF-8, base64. */
	static const char b64utf[] = "R3LDvMOfZSBhdXMgS8O2bG4=\r\n";
	/* "Καλημέρα" in ISO-8859-7, quoted-printable. */
	static const char qpgr[] = "=CA=E1=EB=E7=EC=DD=F1=E1\r\n";
	/* Raw bytes in an unknown charset. */
	static const char raw[] = "abc\xE9\xE9 DEF\r\n";

	CHECK(all_chunks("\xC3\x89T\xC3\x89", qp1, STEXT_ENC_QP,
	    "ISO-8859-1") == 1, "QP Latin-1: ETE finds ete at any chunking");
	CHECK(all_chunks("paris", qp1, STEXT_ENC_QP, "ISO-8859-1") == 1,
	    "QP soft line break joins the word");
	CHECK(all_chunks("\xC3\xA9t\xC3\xA9 \xC3\xA0 pas", qp1, STEXT_ENC_QP,
	    "ISO-8859-1") == 0, "QP Latin-1: a missing phrase is not found");
	CHECK(all_chunks("=C9", qp1, STEXT_ENC_QP, "ISO-8859-1") == 0,
	    "QP escapes are not matched raw");
	CHECK(all_chunks("\xD0\x9F\xD0\xA0\xD0\x98\xD0\x92\xD0\x95\xD0\xA2 "
	    "\xD0\x9C\xD0\x98\xD0\xA0", b64cyr, STEXT_ENC_BASE64,
	    "windows-1251") == 1,
	    "base64 windows-1251: upper-case Cyrillic finds lower-case");
	CHECK(all_chunks("\xD0\xBC\xD0\xB8\xD1\x80", b64cyr, STEXT_ENC_BASE64,
	    "windows-1251") == 1, "base64 word after a line break");
	CHECK(all_chunks("IOzo8A", b64cyr, STEXT_ENC_BASE64,
	    "windows-1251") == 0, "base64 text is not matched raw");
	CHECK(all_chunks("GR\xC3\x9C\xC3\x9F" "E AUS K\xC3\x96LN", b64utf,
	    STEXT_ENC_BASE64, "utf-8") == 1, "base64 UTF-8 folded");
	CHECK(all_chunks("\xCE\xBA\xCE\xB1\xCE\xBB\xCE\xB7\xCE\xBC\xCE\xAD"
	    "\xCF\x81\xCE\xB1", qpgr, STEXT_ENC_QP, "ISO-8859-7") == 1,
	    "QP ISO-8859-7 Greek lower finds capital first letter");
	CHECK(all_chunks("C\xE9\xE9 def", raw, STEXT_ENC_NONE, "X-UNKNOWN") == 1,
	    "unknown charset: raw bytes matched, ASCII still folded");
	CHECK(all_chunks("\xC3\xA9", raw, STEXT_ENC_NONE, "X-UNKNOWN") == 0,
	    "unknown charset: not converted");
	CHECK(all_chunks("\xC3\xA9\xC3\xA9", raw, STEXT_ENC_NONE,
	    "ISO-8859-1") == 1, "Latin-1 raw 8-bit converted");
	CHECK(all_chunks("", raw, STEXT_ENC_NONE, NULL) == 1,
	    "empty needle matches");
	CHECK(all_chunks("xyz", "", STEXT_ENC_NONE, NULL) == 0,
	    "empty body does not match");
}

/* A large body in small memory: 8 MiB of base64 with the needle at the
 * very end; the matcher's buffers must stay small. */
static void
test_large(void)
{
	static const char line[] = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n";
	struct stext_match m;
	size_t i, peak = 0;
	bool found_early = false;

	stext_match_init(&m);
	stext_match_begin(&m, "needle", 6, STEXT_ENC_BASE64, "utf-8");
	for (i = 0; i < 8 * 1024 * 1024 / (sizeof(line) - 1); i++) {
		found_early |= stext_match_feed(&m, line, sizeof(line) - 1);
		if (m.dec.cap + m.utf.cap + m.fold.cap > peak)
			peak = m.dec.cap + m.utf.cap + m.fold.cap;
	}
	/* base64 of "NEEDLE". */
	(void)stext_match_feed(&m, "TkVFRExF\r\n", 10);
	CHECK(!found_early && stext_match_end(&m),
	    "needle found after 8 MiB, not before");
	/* Reused: a second, plain match with the same buffers. */
	stext_match_begin(&m, "abc", 3, STEXT_ENC_NONE, NULL);
	(void)stext_match_feed(&m, "xxAB", 4);
	(void)stext_match_feed(&m, "Cyy", 3);
	CHECK(stext_match_end(&m), "reused matcher finds a needle split in two");
	stext_match_begin(&m, "abd", 3, STEXT_ENC_NONE, NULL);
	(void)stext_match_feed(&m, "xxAB", 4);
	(void)stext_match_feed(&m, "Cyy", 3);
	CHECK(!stext_match_end(&m), "reused matcher: no false match");
	{
		/* A needle longer than a slice, straddling two feeds. */
		size_t nl = 40000, bl = 200000;
		char *nd = malloc(nl), *body = malloc(bl);

		memset(nd, 'q', nl);
		nd[nl - 1] = 'z';
		memset(body, 'Q', bl);
		body[bl - 7] = 'Z';
		stext_match_begin(&m, nd, nl, STEXT_ENC_NONE, NULL);
		(void)stext_match_feed(&m, body, bl - 100000);
		(void)stext_match_feed(&m, body + bl - 100000, 100000);
		CHECK(stext_match_end(&m), "40000-byte needle found across feeds");
		body[bl - 7] = 'Q';
		stext_match_begin(&m, nd, nl, STEXT_ENC_NONE, NULL);
		(void)stext_match_feed(&m, body, bl);
		CHECK(!stext_match_end(&m), "40000-byte needle: no false match");
		free(nd);
		free(body);
	}
	stext_match_free(&m);
	CHECK(peak < 256 * 1024, "matcher memory stays bounded (%zu bytes)",
	    peak);
}

static bool
display_eq(const char *v, const char *want)
{
	struct buf b = BUF_INIT(0);
	bool ok;

	msghdr_display_name(v, strlen(v), &b);
	ok = strcmp(buf_cstr(&b), want) == 0;
	if (!ok)
		printf("# got \"%s\"\n", buf_cstr(&b));
	buf_free(&b);
	return ok;
}

static void
test_display(void)
{
	CHECK(display_eq("John Doe <jd@example.org>", "John Doe"),
	    "phrase display name");
	CHECK(display_eq("\"Doe, John\" <jd@example.org>, x@y", "Doe, John"),
	    "quoted display name with a comma");
	CHECK(display_eq("<jd@example.org>", "jd@example.org"),
	    "no display name: addr-spec");
	CHECK(display_eq("jd@example.org (John Doe)", "jd@example.org"),
	    "a comment is not a display name");
	CHECK(display_eq("  jd@example.org, b@c", "jd@example.org"),
	    "bare addr-spec, first of a list");
	CHECK(display_eq("Team: Anna  Smith <a@b>, c@d;", "Anna Smith"),
	    "first mailbox of a group, whitespace collapsed");
	CHECK(display_eq("\"\" <jd@example.org>", "jd@example.org"),
	    "empty quoted name: addr-spec");
	CHECK(display_eq("=?utf-8?q?=C3=89lise?= <e@x>", "=?utf-8?q?=C3=89lise?="),
	    "encoded words left for the caller");
	CHECK(display_eq("", ""), "empty value");
}

int
main(void)
{
	test_fold();
	test_charset();
	test_part_type();
	test_match();
	test_large();
	test_display();
	return unit_done();
}
