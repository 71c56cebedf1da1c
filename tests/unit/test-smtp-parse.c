/*
 * test-smtp-parse.c - unit tests of smtpd/smtp_parse.c and
 * smtpd/smtp_headers.c: MAIL/RCPT paths and parameters, the domain the
 * relay decision is taken on (the open-relay tricks), xtext, HELO names,
 * Authentication-Results removal and the From domain.  Table-driven;
 * every rejection path is exercised.
 */
#include "config.h"

#include <string.h>

#include "smtpd/smtpd.h"
#include "unit.h"

struct mail_case {
	const char	*arg;
	const char	*want;		/* reply prefix, or NULL for success */
	const char	*addr;		/* expected addr on success */
	const char	*domain;	/* expected domain on success */
};

static const struct mail_case mail_cases[] = {
	{ "FROM:<a@b.example>", NULL, "a@b.example", "b.example" },
	{ "from:<A.B@Example.ORG>", NULL, "A.B@example.org", "example.org" },
	{ "FROM: <a@b.example>", NULL, "a@b.example", "b.example" },
	{ "FROM:<>", NULL, "", "" },
	{ "FROM:<> SIZE=100", NULL, "", "" },
	{ "FROM:<a@b.example> BODY=8BITMIME SMTPUTF8", NULL, "a@b.example", NULL },
	{ "FROM:<a@b.example> RET=HDRS ENVID=abc+2B", NULL, "a@b.example", NULL },
	{ "FROM:<a@b.example> AUTH=<>", NULL, "a@b.example", NULL },
	{ "FROM:<a@b.example> AUTH=u+40x.example", NULL, "a@b.example", NULL },
	{ "FROM:<@relay.example:a@b.example>", NULL, "a@b.example", "b.example" },
	{ "FROM:<@r1.example,@r2.example:a@b.example>", NULL, "a@b.example", NULL },
	{ "FROM:<\"a b\"@b.example>", NULL, "\"a b\"@b.example", "b.example" },
	{ "FROM:<\"plain\"@b.example>", NULL, "plain@b.example", "b.example" },
	{ "FROM:<a@[192.0.2.1]>", NULL, "a@[192.0.2.1]", "[192.0.2.1]" },
	{ "FROM:<a@[IPv6:2001:db8::1]>", NULL, NULL, NULL },
	{ "FROM:<a@b.example> SIZE=18446744073709551615", NULL, NULL, NULL },
	{ "FROM:<\xc3\xa9@b.example> SMTPUTF8", NULL, NULL, NULL },
	/* Rejections. */
	{ "FROM:a@b.example", "501 5.1.7", NULL, NULL },
	{ "TO:<a@b.example>", "501 5.5.4", NULL, NULL },
	{ "FROM:<a@b.example", "501 5.1.7", NULL, NULL },
	{ "FROM:<a@b.example.>", "501 5.1.7", NULL, NULL },
	{ "FROM:<a@-b.example>", "501 5.1.7", NULL, NULL },
	{ "FROM:<a@b-.example>", "501 5.1.7", NULL, NULL },
	{ "FROM:<a@b..example>", "501 5.1.7", NULL, NULL },
	{ "FROM:<a..b@b.example>", "501 5.1.7", NULL, NULL },
	{ "FROM:<.a@b.example>", "501 5.1.7", NULL, NULL },
	{ "FROM:<a.@b.example>", "501 5.1.7", NULL, NULL },
	{ "FROM:<a@b@c.example>", "501 5.1.7", NULL, NULL },
	{ "FROM:<a b@c.example>", "501 5.1.7", NULL, NULL },
	{ "FROM:<a@[300.0.0.1]>", "501 5.1.7", NULL, NULL },
	{ "FROM:<a@[evil]>", "501 5.1.7", NULL, NULL },
	{ "FROM:<a\r@b.example>", "501 5.1.7", NULL, NULL },
	{ "FROM:<a@b.example\r>", "501 5.1.7", NULL, NULL },
	{ "FROM:<@relay:a@b.example>x", "501 5.5.4", NULL, NULL },
	{ "FROM:<\xc3\xa9@b.example>", "553 5.6.7", NULL, NULL },
	{ "FROM:<\xff@b.example> SMTPUTF8", "501 5.1.7", NULL, NULL },
	{ "FROM:<a@b.example> SIZE=abc", "501 5.5.4", NULL, NULL },
	{ "FROM:<a@b.example> SIZE=", "501 5.5.4", NULL, NULL },
	{ "FROM:<a@b.example> SIZE=184467440737095516150", "501 5.5.4", NULL, NULL },
	{ "FROM:<a@b.example> SIZE=1 SIZE=2", "501 5.5.4", NULL, NULL },
	{ "FROM:<a@b.example> BODY=9BIT", "501 5.5.4", NULL, NULL },
	{ "FROM:<a@b.example> SMTPUTF8=yes", "501 5.5.4", NULL, NULL },
	{ "FROM:<a@b.example> RET=ALL", "501 5.5.4", NULL, NULL },
	{ "FROM:<a@b.example> ENVID=a+0D+0Ab", "501 5.5.4", NULL, NULL },
	{ "FROM:<a@b.example> ENVID=a+0", "501 5.5.4", NULL, NULL },
	{ "FROM:<a@b.example> ENVID=a+zz", "501 5.5.4", NULL, NULL },
	{ "FROM:<a@b.example> AUTH=x+00", "501 5.5.4", NULL, NULL },
	{ "FROM:<a@b.example> XFOO=1", "555 5.5.4", NULL, NULL },
	{ "FROM:<a@b.example> =1", "501 5.5.4", NULL, NULL },
	{ "FROM:<a@b.example>SIZE=1", "501 5.5.4", NULL, NULL },
	{ "FROM:<a@b.example> SIZE=1\r\nRCPT", "501 5.5.4", NULL, NULL },
	{ "FROM:<a@b.example> SIZE=1\x01", "501 5.5.4", NULL, NULL },
};

struct rcpt_case {
	const char	*arg;
	bool		 utf8;
	const char	*want;
	const char	*domain;	/* the relay decision is taken on this */
	bool		 special;
	bool		 literal;
};

static const struct rcpt_case rcpt_cases[] = {
	{ "TO:<u@ours.example>", false, NULL, "ours.example", false, false },
	{ "TO:<u@OURS.Example>", false, NULL, "ours.example", false, false },
	{ "TO:<postmaster>", false, NULL, "", false, false },
	{ "TO:<PostMaster>", false, NULL, "", false, false },
	/* Open-relay tricks: the domain is never the attacker's target
	 * hidden in the local part, and special local parts are flagged. */
	{ "TO:<victim%evil.example@ours.example>", false, NULL, "ours.example",
	  true, false },
	{ "TO:<evil.example!victim@ours.example>", false, NULL, "ours.example",
	  true, false },
	{ "TO:<\"victim@evil.example\"@ours.example>", false, NULL,
	  "ours.example", true, false },
	{ "TO:<@ours.example:victim@evil.example>", false, NULL, "evil.example",
	  false, false },
	{ "TO:<victim@evil.example@ours.example>", false, "501 5.1.3", NULL,
	  false, false },
	{ "TO:<victim@ours.example.evil.example>", false, NULL,
	  "ours.example.evil.example", false, false },
	{ "TO:<victim@[127.0.0.1]>", false, NULL, "[127.0.0.1]", false, true },
	{ "TO:<victim@ours.example.>", false, "501 5.1.3", NULL, false, false },
	{ "TO:<victim@ours.example >", false, "501 5.1.3", NULL, false, false },
	{ "TO:<>", false, "501 5.1.3", NULL, false, false },
	{ "TO:<postmaster@>", false, "501 5.1.3", NULL, false, false },
	{ "TO:<u@ours.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u+40x.example",
	  false, NULL, "ours.example", false, false },
	{ "TO:<u@ours.example> NOTIFY=NEVER", false, NULL, NULL, false, false },
	{ "TO:<u@ours.example> NOTIFY=NEVER,SUCCESS", false, "501 5.5.4", NULL,
	  false, false },
	{ "TO:<u@ours.example> NOTIFY=SUCCESS,", false, "501 5.5.4", NULL,
	  false, false },
	{ "TO:<u@ours.example> NOTIFY=", false, "501 5.5.4", NULL, false, false },
	{ "TO:<u@ours.example> ORCPT=rfc822", false, "501 5.5.4", NULL,
	  false, false },
	{ "TO:<u@ours.example> ORCPT=rfc822;a+0Ab", false, "501 5.5.4", NULL,
	  false, false },
	{ "TO:<u@ours.example> ORCPT=;abc", false, "501 5.5.4", NULL, false, false },
	{ "TO:<u@ours.example> SIZE=1", false, "555 5.5.4", NULL, false, false },
	{ "TO:<\xc3\xa9@ours.example>", false, "553 5.6.7", NULL, false, false },
	{ "TO:<\xc3\xa9@ours.example>", true, NULL, "ours.example", false, false },
	{ "TO:<u@\xc3\xa9.example>", true, NULL, "\xc3\xa9.example", false, false },
	{ "FROM:<u@ours.example>", false, "501 5.5.4", NULL, false, false },
};

static void
test_mail(void)
{
	struct smtp_path p;
	struct smtp_mail_params mp;
	const char *r;
	size_t i;

	for (i = 0; i < GMS_NELEM(mail_cases); i++) {
		const struct mail_case *t = &mail_cases[i];

		r = smtp_parse_mail(t->arg, strlen(t->arg), &p, &mp);
		if (t->want == NULL) {
			CHECK(r == NULL, "MAIL %zu accepted (%s)", i, r ? r : "");
			if (t->addr)
				CHECK_STR(p.addr, t->addr, "MAIL addr");
			if (t->domain)
				CHECK_STR(p.domain, t->domain, "MAIL domain");
		} else {
			CHECK(r != NULL && strncmp(r, t->want, strlen(t->want)) == 0,
			    "MAIL %zu rejected with %s (got %s)", i, t->want,
			    r ? r : "success");
		}
	}
	r = smtp_parse_mail("FROM:<a@b.example> SIZE=42 BODY=BINARYMIME RET=FULL",
	    51, &p, &mp);
	CHECK(r == NULL && mp.size == 42 && mp.has_size &&
	    mp.body == SMTP_BODY_BINARYMIME && mp.ret == SMTP_RET_FULL,
	    "MAIL parameters are stored");
	r = smtp_parse_mail("FROM:<a@b.example> ENVID=x+2By", 30, &p, &mp);
	CHECK(r == NULL && strcmp(mp.envid, "x+2By") == 0,
	    "ENVID kept as valid xtext");
}

static void
test_rcpt(void)
{
	struct smtp_path p;
	struct smtp_rcpt_params rp;
	const char *r;
	size_t i;

	for (i = 0; i < GMS_NELEM(rcpt_cases); i++) {
		const struct rcpt_case *t = &rcpt_cases[i];

		r = smtp_parse_rcpt(t->arg, strlen(t->arg), t->utf8, &p, &rp);
		if (t->want == NULL) {
			CHECK(r == NULL, "RCPT %zu accepted (%s)", i, r ? r : "");
			if (t->domain)
				CHECK_STR(p.domain, t->domain, "RCPT domain");
			CHECK(p.special == t->special, "RCPT %zu special=%d", i,
			    t->special);
			CHECK(p.literal == t->literal, "RCPT %zu literal=%d", i,
			    t->literal);
		} else {
			CHECK(r != NULL && strncmp(r, t->want, strlen(t->want)) == 0,
			    "RCPT %zu rejected with %s (got %s)", i, t->want,
			    r ? r : "success");
		}
	}
	r = smtp_parse_rcpt("TO:<u@x.example> NOTIFY=FAILURE,DELAY", 37, false,
	    &p, &rp);
	CHECK(r == NULL && rp.notify == (SMTP_NOTIFY_FAILURE | SMTP_NOTIFY_DELAY),
	    "NOTIFY bits");
}

/* Every parsed path and parameter is free of CR, LF, NUL and controls. */
static void
test_no_controls(void)
{
	struct smtp_path p;
	struct smtp_mail_params mp;
	char arg[64];
	size_t k, bad = 0;
	int ch;

	for (ch = 0; ch < 256; ch++) {
		if (ch >= 32 && ch < 127)
			continue;
		(void)gms_snprintf(arg, sizeof(arg), "FROM:<a%cb@x.example>", ch ? ch : 'z');
		if (ch == 0)
			arg[7] = '\0';
		if (smtp_parse_mail(arg, ch == 0 ? 20 : strlen(arg), &p, &mp) == NULL)
			for (k = 0; p.addr[k]; k++)
				if ((unsigned char)p.addr[k] < 32)
					bad++;
		(void)gms_snprintf(arg, sizeof(arg), "FROM:<ab@x.example> ENVID=a%cb",
		    ch ? ch : 'z');
		if (smtp_parse_mail(arg, strlen(arg), &p, &mp) == NULL)
			for (k = 0; mp.envid[k]; k++)
				if ((unsigned char)mp.envid[k] < 33)
					bad++;
	}
	CHECK(bad == 0, "no control character passes into a path or ENVID");
}

static void
test_xtext(void)
{
	char out[32];

	CHECK(smtp_xtext_valid("abc", 3), "xtext plain");
	CHECK(smtp_xtext_valid("a+2Bb", 5), "xtext hexchar");
	CHECK(!smtp_xtext_valid("a+2bb", 5), "xtext lowercase hex refused");
	CHECK(!smtp_xtext_valid("a=b", 3), "xtext '=' refused");
	CHECK(!smtp_xtext_valid("a b", 3), "xtext space refused");
	CHECK(!smtp_xtext_valid("a+", 2), "xtext short hexchar refused");
	CHECK(smtp_xtext_decode("a+2Bb", 5, out, sizeof(out)) == 3 &&
	    strcmp(out, "a+b") == 0, "xtext decodes");
	CHECK(smtp_xtext_decode("a+0Db", 5, out, sizeof(out)) == -1,
	    "xtext decoding to CR refused");
	CHECK(smtp_xtext_decode("a+00", 4, out, sizeof(out)) == -1,
	    "xtext decoding to NUL refused");
	CHECK(smtp_xtext_decode("abcdef", 6, out, 4) == -1,
	    "xtext too long for the buffer refused");
}

static void
test_helo(void)
{
	bool lit;

	CHECK(smtp_helo_valid("mail.example", 12, &lit) && !lit, "HELO name");
	CHECK(smtp_helo_valid("mail.example.", 13, &lit), "HELO trailing dot");
	CHECK(smtp_helo_valid("[192.0.2.1]", 11, &lit) && lit, "HELO literal");
	CHECK(!smtp_helo_valid("[192.0.2.x]", 11, &lit), "HELO bad literal");
	CHECK(!smtp_helo_valid("a b", 3, &lit), "HELO with space");
	CHECK(!smtp_helo_valid("a;b", 3, &lit), "HELO with ';'");
	CHECK(!smtp_helo_valid("a\xc3\xa9", 3, &lit), "HELO non-ASCII");
	CHECK(smtp_utf8_valid("\xc3\xa9", 2), "UTF-8 valid");
	CHECK(!smtp_utf8_valid("\xc0\xaf", 2), "UTF-8 overlong refused");
	CHECK(!smtp_utf8_valid("\xed\xa0\x80", 3), "UTF-8 surrogate refused");
	CHECK(!smtp_utf8_valid("\xe2\x82", 2), "UTF-8 truncated refused");
}

static void
test_headers(void)
{
	static const char msg[] =
	    "Received: x\r\n"
	    "Authentication-Results: mx.ours.example; spf=pass\r\n"
	    "Authentication-Results: (comment) MX.OURS.EXAMPLE;\r\n"
	    "\tdkim=pass\r\n"
	    "authentication-results : other.example; dmarc=pass\r\n"
	    "Authentication-Results: mx.ours.example.evil; spf=pass\r\n"
	    "From: \"Doe, John\" <john@Sender.Example>\r\n"
	    "Subject: hi\r\n"
	    "\r\n"
	    "Authentication-Results: mx.ours.example; in the body\r\n";
	struct buf out = BUF_INIT(0);
	char v[256], d[256];
	size_t removed;
	bool eight;

	CHECK(smtp_headers_filter(msg, strlen(msg), "mx.ours.example", &out,
	    &eight, &removed) == 0, "filter runs");
	CHECK(removed == 2, "two A-R fields of ours removed (got %zu)", removed);
	CHECK(strstr(buf_cstr(&out), "MX.OURS.EXAMPLE") == NULL,
	    "folded A-R of ours removed with its continuation");
	CHECK(strstr(buf_cstr(&out), "\tdkim=pass") == NULL,
	    "continuation line removed");
	CHECK(strstr(buf_cstr(&out), "other.example") != NULL,
	    "foreign A-R kept");
	CHECK(strstr(buf_cstr(&out), "mx.ours.example.evil") != NULL,
	    "A-R of a longer id kept");
	CHECK(strstr(buf_cstr(&out), "in the body") != NULL, "body untouched");
	CHECK(!eight, "no 8-bit header");
	buf_free(&out);
	CHECK(smtp_headers_filter("Subject: \xc3\xa9\r\n\r\nx", 16, "id", &out,
	    &eight, &removed) == 0 && eight, "8-bit header detected");
	buf_free(&out);
	CHECK(smtp_header_get(msg, strlen(msg), "from", v, sizeof(v)) == 1,
	    "From found");
	CHECK(smtp_from_domain(v, d, sizeof(d)) == 1 &&
	    strcmp(d, "sender.example") == 0, "From domain (got %s)", d);
	CHECK(smtp_from_domain("a@x.example, b@y.example", d, sizeof(d)) == 0,
	    "two From addresses refused");
	CHECK(smtp_from_domain("plain@x.example", d, sizeof(d)) == 1 &&
	    strcmp(d, "x.example") == 0, "bare From address");
	CHECK(smtp_from_domain("no address", d, sizeof(d)) == 0,
	    "From without address refused");
	CHECK(smtp_from_domain("\"a@evil.example\" <b@good.example>", d,
	    sizeof(d)) == 1 && strcmp(d, "good.example") == 0,
	    "quoted display name with @ ignored");
	CHECK(smtp_from_domain("group: a@x.example;", d, sizeof(d)) == 0,
	    "group syntax refused");
	CHECK(smtp_from_address("John <John.Doe@X.Example>", d, sizeof(d)) == 1 &&
	    strcmp(d, "John.Doe@x.example") == 0, "From address (got %s)", d);
	CHECK(smtp_from_address("a@x.example (comment)", d, sizeof(d)) == 1 &&
	    strcmp(d, "a@x.example") == 0, "bare From with a comment");
	CHECK(smtp_from_address("<@x.example>", d, sizeof(d)) == 0,
	    "empty local part refused");
	CHECK(smtp_from_address("<a b@x.example>", d, sizeof(d)) == 0,
	    "blank in local part refused");
	CHECK(smtp_from_address("<a@x.example", d, sizeof(d)) == 0,
	    "unclosed angle refused");
	CHECK(smtp_from_address("<a@x.example> <b@y.example>", d, sizeof(d)) == 0,
	    "two angle addresses refused");
	CHECK(smtp_header_count(msg, strlen(msg), "authentication-results") == 4,
	    "header_count counts fields, not body lines");
	CHECK(smtp_header_count("From: a\r\nFrom: b\r\n\r\n", 20, "From") == 2,
	    "two From fields counted");
}

int
main(void)
{
	test_mail();
	test_rcpt();
	test_no_controls();
	test_xtext();
	test_helo();
	test_headers();
	return unit_done();
}
