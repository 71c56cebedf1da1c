/*
 * test-imap-parser.c - unit tests of gms-imapd's pure layers: the command
 * reader (lines and literals under limits), the token parser, sequence
 * sets, modified UTF-7, FETCH sections, header filtering and the transfer
 * decoders.  Table-driven where it helps; every rejection path is checked
 * to reject.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "imapd/imapd.h"
#include "spool/spool.h"

static const struct imap_limits lim = { 200, 100, 400 };

/* read_one - run the reader on data; returns the result, cmd and sent. */
static int
read_one(const char *data, size_t len, struct buf *cmd, struct buf *sent)
{
	struct imap_memsrc m;
	struct imap_src src;
	int io, r;

	imap_memsrc_init(&m, &src, data, len);
	r = imap_read_command(&src, &lim, cmd, &io);
	buf_reset(sent);
	(void)buf_append(sent, m.sent.data != NULL ? m.sent.data : "",
	    m.sent.len);
	imap_memsrc_free(&m);
	return r;
}

static void
test_reader(void)
{
	struct buf cmd = BUF_INIT(0), sent = BUF_INIT(0);
	char big[600];
	int r;

	r = read_one("a1 NOOP\r\n", 9, &cmd, &sent);
	CHECK(r == IMAP_READ_OK, "plain line read");
	CHECK_STR(buf_cstr(&cmd), "a1 NOOP", "plain line content");

	r = read_one("a2 NOOP\n", 8, &cmd, &sent);
	CHECK(r == IMAP_READ_OK && strcmp(buf_cstr(&cmd), "a2 NOOP") == 0,
	    "bare LF ends a line");

	r = read_one("a LOGIN {3}\r\nbob {4}\r\npass\r\n", 28, &cmd, &sent);
	CHECK(r == IMAP_READ_OK, "two synchronising literals");
	CHECK(cmd.len == 26 && memcmp(cmd.data,
	    "a LOGIN {3}\r\nbob {4}\r\npass", 26) == 0, "literals joined");
	CHECK_STR(buf_cstr(&sent), "+ Ready for literal data\r\n"
	    "+ Ready for literal data\r\n", "one continuation per literal");

	r = read_one("a LOGIN {3+}\r\nbob x\r\n", 21, &cmd, &sent);
	CHECK(r == IMAP_READ_OK && sent.len == 0,
	    "non-synchronising literal: no continuation");
	CHECK_STR(buf_cstr(&cmd), "a LOGIN {3+}\r\nbob x", "LITERAL+ content");

	r = read_one("a APPEND x {101}\r\n", 18, &cmd, &sent);
	CHECK(r == IMAP_READ_TOOBIG && sent.len == 0,
	    "literal over the limit refused before +");
	r = read_one("a APPEND x {101+}\r\nxxxx", 23, &cmd, &sent);
	CHECK(r == IMAP_READ_TOOBIG_FATAL,
	    "non-synchronising literal over the limit is fatal");
	r = read_one("a APPEND x {9223372036854775808}\r\n", 34, &cmd, &sent);
	CHECK(r == IMAP_READ_TOOBIG && sent.len == 0, "2^63 literal refused");
	r = read_one("a APPEND x {99999999999999999999999}\r\n", 38, &cmd,
	    &sent);
	CHECK(r == IMAP_READ_TOOBIG && sent.len == 0,
	    "literal size beyond 64 bits refused");
	r = read_one("a APPEND x {18446744073709551615+}\r\n", 36, &cmd,
	    &sent);
	CHECK(r == IMAP_READ_TOOBIG_FATAL, "2^64-1 non-sync literal is fatal");

	memset(big, 'x', sizeof(big));
	memcpy(big, "a NOOP ", 7);
	big[sizeof(big) - 2] = '\r';
	big[sizeof(big) - 1] = '\n';
	r = read_one(big, sizeof(big), &cmd, &sent);
	CHECK(r == IMAP_READ_TOOLONG, "over-long line refused");

	r = read_one("a NO\0OP\r\n", 9, &cmd, &sent);
	CHECK(r == IMAP_READ_NUL, "NUL in a line refused");

	r = read_one("a LOGIN {10}\r\nabc", 17, &cmd, &sent);
	CHECK(r == IMAP_READ_IOERR, "unterminated literal: EOF inside it");

	r = read_one("a SELECT \"x{5}\"\r\n", 17, &cmd, &sent);
	CHECK(r == IMAP_READ_OK && sent.len == 0,
	    "{5} inside a quoted string is no literal");

	r = read_one("a X {90}\r\n"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    " {90}\r\n"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    " {90}\r\n"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    " {90}\r\n"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    " {90}\r\n", 10 + 4 * 97, &cmd, &sent);
	CHECK(r == IMAP_READ_TOOBIG, "command size bounded across literals");

	r = read_one("", 0, &cmd, &sent);
	CHECK(r == IMAP_READ_EOF, "EOF before a command");
	r = read_one("a NOOP", 6, &cmd, &sent);
	CHECK(r == IMAP_READ_EOF, "partial last line is no command");

	buf_free(&cmd);
	buf_free(&sent);
}

static void
test_line_literal(void)
{
	uint64_t n;
	bool sync, lit8;

	CHECK(imap_line_literal("a {12}", 6, &n, &sync, &lit8) == 1 &&
	    n == 12 && sync && !lit8, "{12}");
	CHECK(imap_line_literal("a ~{7+}", 7, &n, &sync, &lit8) == 1 &&
	    n == 7 && !sync && lit8, "~{7+}");
	CHECK(imap_line_literal("a {}", 4, &n, &sync, &lit8) == 0,
	    "{} is no literal");
	CHECK(imap_line_literal("a x}", 4, &n, &sync, &lit8) == 0,
	    "no brace");
	CHECK(imap_line_literal("\"a {1}", 6, &n, &sync, &lit8) == 0,
	    "inside an open quote");
}

static void
test_tokens(void)
{
	struct arena a = { NULL, 0 };
	struct imap_parser p;
	const char *tag;
	char *s;
	size_t len, i;
	uint32_t n;
	char deep[64];

#define P(str) imap_parser_init(&p, str, sizeof(str) - 1, &a)
	P("A001 NOOP");
	CHECK(imap_p_tag(&p, &tag, &len) == 0 && len == 4 &&
	    memcmp(tag, "A001", 4) == 0, "tag");
	P("+tag");
	CHECK(imap_p_tag(&p, &tag, &len) < 0, "tag with + refused");
	P(" x");
	CHECK(imap_p_tag(&p, &tag, &len) < 0, "empty tag refused");

	P("\"a\\\"b\\\\c\" rest");
	CHECK(imap_p_astring(&p, &s, &len) == 0 && strcmp(s, "a\"b\\c") == 0,
	    "quoted string with escapes");
	P("\"abc");
	CHECK(imap_p_astring(&p, &s, &len) < 0, "unterminated quoted string");
	P("\"a\\x\"");
	CHECK(imap_p_astring(&p, &s, &len) < 0, "bad escape refused");
	P("\"a\0b\"");
	CHECK(imap_p_astring(&p, &s, &len) < 0, "NUL in quoted refused");
	P("{5}\r\nhello");
	CHECK(imap_p_astring(&p, &s, &len) == 0 && strcmp(s, "hello") == 0 &&
	    imap_p_at_eol(&p), "literal astring");
	P("{5}\r\nhe\0lo");
	CHECK(imap_p_astring(&p, &s, &len) < 0, "NUL in literal refused");
	P("{50}\r\nhello");
	CHECK(imap_p_astring(&p, &s, &len) < 0, "literal longer than data");
	P("{9223372036854775808}\r\nx");
	CHECK(imap_p_astring(&p, &s, &len) < 0 &&
	    strcmp(p.code, IMAP_CODE_TOOBIG) == 0, "2^63 literal in parser");
	P("NIL");
	CHECK(imap_p_nstring(&p, &s, &len) == 0 && s == NULL, "NIL nstring");
	P("NILS");
	CHECK(imap_p_nstring(&p, &s, &len) < 0, "NILS is no nstring");
	P("4294967295");
	CHECK(imap_p_number(&p, &n) == 0 && n == 4294967295u, "max number");
	P("4294967296");
	CHECK(imap_p_number(&p, &n) < 0, "number overflow refused");
	P("0");
	CHECK(imap_p_nz_number(&p, &n) < 0, "nz-number 0 refused");
	P("a  b");
	CHECK(imap_p_atom(&p, &s) == 0 && imap_p_sp(&p) < 0,
	    "double space refused");

	memset(deep, '(', sizeof(deep));
	imap_parser_init(&p, deep, IMAP_LIST_DEPTH_MAX, &a);
	for (i = 0; i < IMAP_LIST_DEPTH_MAX; i++)
		if (imap_p_list_begin(&p) < 0)
			break;
	CHECK(i == IMAP_LIST_DEPTH_MAX, "nesting up to the bound");
	imap_parser_init(&p, deep, sizeof(deep), &a);
	for (i = 0; i < sizeof(deep); i++)
		if (imap_p_list_begin(&p) < 0)
			break;
	CHECK(i == IMAP_LIST_DEPTH_MAX && strcmp(p.code, IMAP_CODE_LIMIT) == 0,
	    "nesting past the bound refused with LIMIT");

	{
		char **flags;
		size_t nf;

		P("(\\Seen $Label \\Flagged)");
		CHECK(imap_p_flag_list(&p, &flags, &nf, 8) == 0 && nf == 3 &&
		    strcmp(flags[0], "\\Seen") == 0 &&
		    strcmp(flags[1], "$Label") == 0, "flag list");
		P("(a b c)");
		CHECK(imap_p_flag_list(&p, &flags, &nf, 2) < 0,
		    "flag list bound");
	}
	{
		int64_t t;

		P("1-Feb-2020");
		CHECK(imap_p_date(&p, &t) == 0 && t == 1580515200, "date");
		P("\"01-Feb-2020\"");
		CHECK(imap_p_date(&p, &t) == 0 && t == 1580515200,
		    "quoted date");
		P("30-Feb-2020");
		CHECK(imap_p_date(&p, &t) < 0, "30 February refused");
		P("\"17-Jul-1996 02:44:25 -0700\"");
		CHECK(imap_p_datetime(&p, &t) == 0 && t == 837596665 &&
		    p.tz_minutes == -420, "date-time with zone");
		P("\" 7-Jul-1996 02:44:25 +0000\"");
		CHECK(imap_p_datetime(&p, &t) == 0, "date-time with SP day");
		P("\"17-Jul-1996 24:44:25 -0700\"");
		CHECK(imap_p_datetime(&p, &t) < 0, "hour 24 refused");
	}
	{
		char *name;

		P("inbox");
		CHECK(imap_p_mailbox(&p, false, &name) == 0 &&
		    strcmp(name, "INBOX") == 0, "INBOX is case-insensitive");
		P("&AOk-t&AOk-");
		CHECK(imap_p_mailbox(&p, false, &name) == 0 &&
		    strcmp(name, "\xc3\xa9t\xc3\xa9") == 0,
		    "modified UTF-7 name decoded");
		P("&AOk-t&AOk-");
		CHECK(imap_p_mailbox(&p, true, &name) == 0 &&
		    strcmp(name, "&AOk-t&AOk-") == 0,
		    "UTF8=ACCEPT keeps the name");
		P("&AOk");
		CHECK(imap_p_mailbox(&p, false, &name) < 0,
		    "unterminated modified UTF-7 refused");
		P("\"\"");
		CHECK(imap_p_mailbox(&p, false, &name) < 0, "empty name refused");
	}
	arena_clear(&a);
#undef P
}

static void
test_seqset(void)
{
	struct arena a = { NULL, 0 };
	struct imap_parser p;
	struct seqset set;
	struct buf b = BUF_INIT(0);
	uint32_t v[] = { 1, 2, 3, 5, 7, 8 };
	char *many;
	size_t i;

	imap_parser_init(&p, "1,3:5,7:*", 9, &a);
	CHECK(imap_p_seqset(&p, false, &set) == 0 && set.n == 3, "parse set");
	seqset_resolve(&set, 10);
	CHECK(seqset_contains(&set, 1) && !seqset_contains(&set, 2) &&
	    seqset_contains(&set, 4) && !seqset_contains(&set, 6) &&
	    seqset_contains(&set, 10) && !seqset_contains(&set, 11),
	    "membership after resolve");
	imap_parser_init(&p, "5:3,4:9,20", 10, &a);
	CHECK(imap_p_seqset(&p, false, &set) == 0, "overlapping set");
	seqset_resolve(&set, 100);
	CHECK(set.n == 2 && set.r[0].lo == 3 && set.r[0].hi == 9,
	    "ranges ordered and merged");
	imap_parser_init(&p, "1:*", 3, &a);
	(void)imap_p_seqset(&p, false, &set);
	seqset_resolve(&set, 100000);
	CHECK(set.n == 1 && seqset_contains(&set, 100000),
	    "1:* on 100000 messages stays one range");
	imap_parser_init(&p, "0", 1, &a);
	CHECK(imap_p_seqset(&p, false, &set) < 0, "0 refused");
	imap_parser_init(&p, "$", 1, &a);
	CHECK(imap_p_seqset(&p, false, &set) < 0, "$ refused where not allowed");
	imap_parser_init(&p, "$", 1, &a);
	CHECK(imap_p_seqset(&p, true, &set) == 0 && set.dollar, "$ allowed");
	imap_parser_init(&p, "1:", 2, &a);
	CHECK(imap_p_seqset(&p, false, &set) < 0, "1: refused");

	many = xmalloc((IMAP_SEQSET_RANGES_MAX + 1) * 2);
	for (i = 0; i < IMAP_SEQSET_RANGES_MAX + 1; i++) {
		many[2 * i] = '1';
		many[2 * i + 1] = ',';
	}
	imap_parser_init(&p, many, (IMAP_SEQSET_RANGES_MAX + 1) * 2 - 1, &a);
	CHECK(imap_p_seqset(&p, false, &set) < 0 &&
	    strcmp(p.code, IMAP_CODE_LIMIT) == 0, "set size bounded (LIMIT)");
	free(many);

	CHECK(seqset_format_list(&b, v, GMS_NELEM(v)) == 0 &&
	    strcmp(buf_cstr(&b), "1:3,5,7:8") == 0, "compact set text");
	buf_free(&b);
	arena_clear(&a);
}

static void
test_mutf7(void)
{
	struct buf b = BUF_INIT(0);

	CHECK(mutf7_encode(&b, "\xc3\xa9t\xc3\xa9", 5) == 0 &&
	    strcmp(buf_cstr(&b), "&AOk-t&AOk-") == 0, "encode");
	buf_reset(&b);
	CHECK(mutf7_encode(&b, "a&b", 3) == 0 &&
	    strcmp(buf_cstr(&b), "a&-b") == 0, "encode &");
	buf_reset(&b);
	CHECK(mutf7_encode(&b, "\xf0\x9f\x93\xa7", 4) == 0, "encode emoji");
	{
		struct buf d = BUF_INIT(0);

		CHECK(mutf7_decode(&d, b.data, b.len) == 0 &&
		    strcmp(buf_cstr(&d), "\xf0\x9f\x93\xa7") == 0,
		    "surrogate pair round trip");
		buf_free(&d);
	}
	buf_reset(&b);
	CHECK(mutf7_decode(&b, "&AGE-", 5) < 0, "encoded ASCII refused");
	buf_reset(&b);
	CHECK(mutf7_decode(&b, "\xc3\xa9", 2) < 0, "8-bit refused");
	CHECK(!utf8_valid("\xc0\xaf", 2), "overlong UTF-8 refused");
	CHECK(!utf8_valid("\xed\xa0\x80", 3), "surrogate in UTF-8 refused");
	CHECK(utf8_valid("Ma\xc3\xb1" "ana", 6), "valid UTF-8");
	buf_free(&b);
}

static void
test_sections(void)
{
	struct arena a = { NULL, 0 };
	struct imap_parser p;
	struct fetch_section fs;
	struct buf b = BUF_INIT(0);
	static const char hdr[] = "From: a\r\nTo: b\r\n c\r\nSubject: x\r\n\r\n";
	char *fields[] = { "to" };

#define S(str) do { memset(&fs, 0, sizeof(fs)); \
	imap_parser_init(&p, str, sizeof(str) - 1, &a); } while (0)
	S("[1.2.HEADER.FIELDS (From To)]<0.100>");
	CHECK(fetch_p_section(&p, "BODY", &fs) == 0 && fs.depth == 2 &&
	    fs.path[1] == 2 && fs.what == FS_HEADER_FIELDS &&
	    fs.nfields == 2 && fs.partial && fs.len == 100, "section parse");
	CHECK_STR(fs.label, "BODY[1.2.HEADER.FIELDS (From To)]",
	    "section label");
	S("[]");
	CHECK(fetch_p_section(&p, "BODY", &fs) == 0 && fs.depth == 0 &&
	    fs.what == SPOOL_SECT_ALL, "empty section");
	S("[1.MIME]");
	CHECK(fetch_p_section(&p, "BODY", &fs) == 0 &&
	    fs.what == SPOOL_SECT_MIME, "MIME of a part");
	S("[MIME]");
	CHECK(fetch_p_section(&p, "BODY", &fs) < 0, "MIME needs a part");
	S("[1.]");
	CHECK(fetch_p_section(&p, "BODY", &fs) < 0, "trailing dot refused");
	S("[TEXT]<5.0>");
	CHECK(fetch_p_section(&p, "BODY", &fs) < 0, "partial length 0");
	S("[HEADER]");
	CHECK(fetch_p_section(&p, "BINARY", &fs) < 0,
	    "BINARY takes part numbers only");
	S("[HEADER.FIELDS (a:b)]");
	CHECK(fetch_p_section(&p, "BODY", &fs) < 0, "colon in field refused");
#undef S

	CHECK(fetch_header_filter(&b, hdr, sizeof(hdr) - 1, fields, 1,
	    false) == 0 && strcmp(buf_cstr(&b), "To: b\r\n c\r\n\r\n") == 0,
	    "HEADER.FIELDS keeps folded field");
	buf_reset(&b);
	CHECK(fetch_header_filter(&b, hdr, sizeof(hdr) - 1, fields, 1,
	    true) == 0 && strcmp(buf_cstr(&b),
	    "From: a\r\nSubject: x\r\n\r\n") == 0, "HEADER.FIELDS.NOT");
	buf_reset(&b);
	CHECK(fetch_qp_decode(&b, "a=3Db=\r\nc =\r\nd=ZZ", 18) == 0 &&
	    strcmp(buf_cstr(&b), "a=bc d=ZZ") == 0, "quoted-printable");
	buf_reset(&b);
	CHECK(fetch_b64_decode(&b, "aGVs\r\nbG8=", 10) == 0 &&
	    strcmp(buf_cstr(&b), "hello") == 0, "base64 across lines");
	buf_reset(&b);
	CHECK(fetch_b64_decode(&b, "!!!!", 4) < 0, "bad base64 refused");
	buf_free(&b);
	arena_clear(&a);
}

static void
test_msghdr(void)
{
	static const char hdr[] = "From: \"Ann\" <ann@x.org>\r\n"
	    "Subject: Re: [list] Fwd:  the\r\n   plan (fwd)\r\n"
	    "Date: Tue, 3 Feb 2026 10:00:00 +0200\r\n\r\nbody";
	struct buf v = BUF_INIT(0), o = BUF_INIT(0);

	CHECK(msghdr_get(hdr, sizeof(hdr) - 1, "subject", &v) == 1 &&
	    strcmp(buf_cstr(&v), "Re: [list] Fwd:  the     plan (fwd)") == 0,
	    "header field unfolded");
	msghdr_base_subject(v.data, v.len, &o);
	CHECK_STR(buf_cstr(&o), "THE PLAN", "base subject");
	msghdr_base_subject("[fwd: hello]", 12, &o);
	CHECK_STR(buf_cstr(&o), "HELLO", "base subject of [fwd: ...]");
	msghdr_base_subject("[only blob]", 11, &o);
	CHECK_STR(buf_cstr(&o), "[ONLY BLOB]", "a lone blob stays");
	CHECK(msghdr_get(hdr, sizeof(hdr) - 1, "From", &v) == 1, "From");
	msghdr_first_mailbox(v.data, v.len, &o);
	CHECK_STR(buf_cstr(&o), "ANN", "first mailbox");
	msghdr_first_mailbox("bob@y.org, c@z", 14, &o);
	CHECK_STR(buf_cstr(&o), "BOB", "bare address");
	CHECK(msghdr_get(hdr, sizeof(hdr) - 1, "Date", &v) == 1 &&
	    msghdr_date(v.data, v.len) == 1770112800 - 7200, "date with zone");
	CHECK(msghdr_date("garbage", 7) == INT64_MIN, "bad date");
	CHECK(msghdr_get(hdr, sizeof(hdr) - 1, "Cc", &v) == 0, "absent field");
	buf_free(&v);
	buf_free(&o);
}

static void
test_listmatch(void)
{
	static const struct { const char *pat, *name; bool want; } t[] = {
		{ "*", "a/b/c", true },
		{ "%", "a/b", false },
		{ "%", "INBOX", true },
		{ "a/%", "a/b", true },
		{ "a/%", "a/b/c", false },
		{ "a/*", "a/b/c", true },
		{ "a*c", "abc", true },
		{ "a*c", "abd", false },
		{ "%/%", "x/y", true },
		{ "", "", true },
		{ "", "a", false },
		{ "Work", "work", false },
	};
	char pat[2001], name[1001];
	size_t i;

	for (i = 0; i < GMS_NELEM(t); i++)
		CHECK(imapd_list_match(t[i].pat, t[i].name) == t[i].want,
		    "list match \"%s\" \"%s\"", t[i].pat, t[i].name);
	/* A hostile pattern stays fast and fails cleanly. */
	for (i = 0; i < 1000; i += 2) {
		pat[i] = '*';
		pat[i + 1] = '%';
	}
	pat[1000] = 'x';
	pat[1001] = '\0';
	memset(name, 'a', 1000);
	name[1000] = '\0';
	CHECK(!imapd_list_match(pat, name), "long wildcard pattern: no match");
	memset(pat, '*', 2000);
	pat[2000] = '\0';
	CHECK(!imapd_list_match(pat, "a"), "pattern over the bound never matches");
}

int
main(void)
{
	test_listmatch();
	test_msghdr();
	test_reader();
	test_line_literal();
	test_tokens();
	test_seqset();
	test_mutf7();
	test_sections();
	return unit_done();
}
