/*
 * test-relay.c - unit tests of the relay's pure parts: the SMTP reply
 * parser (fed whole and at every split), EHLO keywords, xtext, the header
 * helpers and the DSN text.
 */
#include "config.h"

#include <string.h>

#include "relay/relay.h"
#include "relay/relay-private.h"
#include "unit.h"

/* feed_text - feed "line\r\nline..." (CRLF separated); returns the last
 * feed result. */
static int
feed_text(struct relay_reply *r, const char *text)
{
	const char *p = text, *e;
	int rc = -9;

	if (*p == '\0')
		return relay_reply_feed(r, p, 0);
	while (*p != '\0') {
		e = strstr(p, "\r\n");
		if (e == NULL)
			e = p + strlen(p);
		rc = relay_reply_feed(r, p, (size_t)(e - p));
		if (rc != 0)
			return rc;
		p = *e ? e + 2 : e;
	}
	return rc;
}

static void
test_reply(void)
{
	struct relay_reply r;
	static const struct {
		const char	*in;
		int		 rc;
		int		 code;
		const char	*enh;
		const char	*text;
	} t[] = {
		{ "250 ok", 1, 250, "", "ok" },
		{ "250", 1, 250, "", "" },
		{ "550 5.1.1 no such user", 1, 550, "5.1.1", "5.1.1 no such user" },
		{ "451 4.3.0 try later", 1, 451, "4.3.0", "4.3.0 try later" },
		{ "550 4.1.1 class mismatch", 1, 550, "", "4.1.1 class mismatch" },
		{ "250-a\r\n250-b\r\n250 c", 1, 250, "", "a\nb\nc" },
		{ "250-a\r\n251 b", -1, 0, NULL, NULL },
		{ "25 short", -1, 0, NULL, NULL },
		{ "2x0 bad", -1, 0, NULL, NULL },
		{ "250_bad", -1, 0, NULL, NULL },
		{ "199 too low", -1, 0, NULL, NULL },
		{ "600 too high", -1, 0, NULL, NULL },
		{ "", -1, 0, NULL, NULL },
		{ "354 go ahead", 1, 354, "", "go ahead" },
		{ "220-x\r\n220-y", 0, 220, "", "x\ny" },
		{ "550 5.7.1234 long", 1, 550, "", "5.7.1234 long" },
		{ "550 5.7.12 x", 1, 550, "5.7.12", "5.7.12 x" },
	};
	size_t i;
	int rc;

	for (i = 0; i < GMS_NELEM(t); i++) {
		relay_reply_init(&r);
		rc = feed_text(&r, t[i].in);
		CHECK(rc == t[i].rc, "reply %zu result %d (want %d)", i, rc,
		    t[i].rc);
		if (t[i].rc >= 0) {
			CHECK(r.code == t[i].code, "reply %zu code %d", i, r.code);
			CHECK_STR(r.enh, t[i].enh, "reply enhanced code");
			CHECK_STR(buf_cstr(&r.text), t[i].text, "reply text");
		}
		relay_reply_free(&r);
	}

	/* A reply is reset by the next one after it completed. */
	relay_reply_init(&r);
	CHECK(feed_text(&r, "250 one") == 1, "first reply");
	CHECK(feed_text(&r, "421 4.4.2 bye") == 1 && r.code == 421 &&
	    r.nlines == 1, "second reply replaces the first");
	relay_reply_free(&r);

	/* Too many lines fail instead of growing. */
	relay_reply_init(&r);
	for (i = 0, rc = 0; i < RELAY_REPLY_MAX_LINES + 5 && rc == 0; i++)
		rc = relay_reply_feed(&r, "250-xxxxxxxx", 12);
	CHECK(rc == -1 && i == RELAY_REPLY_MAX_LINES + 1,
	    "more than %d lines is an error", RELAY_REPLY_MAX_LINES);
	CHECK(r.text.len <= RELAY_REPLY_MAX_TEXT, "text bounded");
	relay_reply_free(&r);

	/* A huge line keeps the text bounded and still parses. */
	{
		static char big[20000];

		memset(big, 'a', sizeof(big));
		memcpy(big, "250 ", 4);
		relay_reply_init(&r);
		rc = relay_reply_feed(&r, big, sizeof(big));
		CHECK(rc == 1 && r.text.len == RELAY_REPLY_MAX_TEXT,
		    "over-long text cut at the limit (len %zu)", r.text.len);
		relay_reply_free(&r);
	}
}

static void
test_ehlo(void)
{
	struct relay_reply r;
	struct relay_ehlo e;

	relay_reply_init(&r);
	CHECK(feed_text(&r, "250-mx.example greets you\r\n250-PIPELINING\r\n"
	    "250-SIZE 10240000\r\n250-8bitmime\r\n250-STARTTLS\r\n"
	    "250-DSN\r\n250-PIPELININGX\r\n250 SMTPUTF8") == 1, "ehlo reply");
	relay_ehlo_parse(&r, &e);
	CHECK(e.pipelining && e.starttls && e.eightbitmime && e.dsn &&
	    e.smtputf8 && e.size, "all keywords seen");
	CHECK(e.size_max == 10240000, "SIZE value %llu",
	    (unsigned long long)e.size_max);
	relay_reply_free(&r);

	relay_reply_init(&r);
	CHECK(feed_text(&r, "250-STARTTLS greeting line\r\n250-SIZE\r\n"
	    "250 STARTTLSX") == 1, "ehlo reply 2");
	relay_ehlo_parse(&r, &e);
	CHECK(!e.starttls, "keyword on the greeting line and a longer word "
	    "are not STARTTLS");
	CHECK(e.size && e.size_max == 0, "SIZE without a value");
	CHECK(!e.pipelining && !e.dsn && !e.smtputf8, "nothing else");
	relay_reply_free(&r);

	relay_reply_init(&r);
	CHECK(feed_text(&r, "502-x\r\n502 PIPELINING") == 1, "502 reply");
	relay_ehlo_parse(&r, &e);
	CHECK(!e.pipelining, "only a 250 reply counts");
	relay_reply_free(&r);
}

static void
test_xtext(void)
{
	struct buf b = BUF_INIT(0);

	CHECK(relay_xtext_encode(&b, "a+b=c d\x01", 8) == 0, "encode");
	CHECK_STR(buf_cstr(&b), "a+2Bb+3Dc+20d+01", "xtext encoding");
	buf_reset(&b);
	CHECK(relay_xtext_decode(&b, "rfc822;a+2Bb@x+2", 16) == 0, "decode");
	CHECK_STR(buf_cstr(&b), "rfc822;a+b@x+2", "xtext decoding keeps a bad +");
	buf_free(&b);
	{
		struct buf small = BUF_INIT(4);

		CHECK(relay_xtext_encode(&small, "+++", 3) == -1,
		    "encode fails when the buffer is full");
		buf_free(&small);
	}
}

static void
test_header(void)
{
	const char *m = "Received: from a\r\n\tby b\r\nreceived : x\r\n"
	    "X-Received: no\r\nSubject: Received: no\r\n\r\n"
	    "Received: in the body\r\n";

	CHECK(relay_count_received(m, strlen(m)) == 2, "two Received fields "
	    "in the header (got %u)", relay_count_received(m, strlen(m)));
	CHECK(relay_header_len(m, strlen(m)) == (size_t)(strstr(m,
	    "\r\n\r\n") + 4 - m), "header length includes the empty line");
	CHECK(relay_header_len("abc", 3) == 3, "no empty line: all header");
	CHECK(relay_header_len("a: b\n\nbody", 10) == 6, "bare LF header end");
}

static void
test_dsn(void)
{
	struct relay_dsn d;
	struct relay_dsn_rcpt rc[2];
	struct buf out = BUF_INIT(0);
	const char *orig = "From: a@b.test\r\nSubject: hello\r\n"
	    "Message-ID: <m1@b.test>\r\n\r\nsecret body\r\n";
	const char *s;

	memset(&d, 0, sizeof(d));
	memset(rc, 0, sizeof(rc));
	rc[0].address = "x@far.test";
	rc[0].orcpt = "rfc822;X+2Bq@far.test";
	rc[0].action = RELAY_DSN_FAILED;
	rc[0].status = "5.1.1";
	rc[0].remote_mta = "mx.far.test";
	rc[0].diag = "550 5.1.1 no\r\nInjected: header";
	rc[1].address = "y@far.test";
	rc[1].action = RELAY_DSN_DELAYED;
	rc[1].status = "4.4.1";
	d.reporting_mta = "mail.gms.test";
	d.sender = "a@b.test";
	d.envid = "ENV-1";
	d.qid = "Q123";
	d.arrival = 1700000000;
	d.now = 1700003600;
	d.retry_until = 1700432000;
	d.original = orig;
	d.original_len = strlen(orig);
	d.rcpt = rc;
	d.nrcpt = 2;
	CHECK(relay_dsn_build(&out, &d) == 0, "build a DSN");
	s = buf_cstr(&out);
	CHECK(strstr(s, "Content-Type: multipart/report; report-type="
	    "delivery-status;") != NULL, "multipart/report");
	CHECK(strstr(s, "Content-Type: message/delivery-status") != NULL,
	    "delivery-status part");
	CHECK(strstr(s, "Final-Recipient: rfc822; x@far.test\r\nAction: "
	    "failed\r\nStatus: 5.1.1\r\n") != NULL, "failed recipient");
	CHECK(strstr(s, "Original-Recipient: rfc822;X+q@far.test\r\n") != NULL,
	    "ORCPT decoded");
	CHECK(strstr(s, "Action: delayed\r\nStatus: 4.4.1") != NULL,
	    "delayed recipient");
	CHECK(strstr(s, "Original-Envelope-Id: ENV-1\r\n") != NULL, "ENVID");
	CHECK(strstr(s, "Remote-MTA: dns; mx.far.test\r\n") != NULL,
	    "Remote-MTA");
	CHECK(strstr(s, "\r\nInjected:") == NULL, "peer text cannot add "
	    "a header line");
	CHECK(strstr(s, "Content-Type: text/rfc822-headers\r\n\r\nFrom: "
	    "a@b.test\r\nSubject: hello\r\n") != NULL, "original headers");
	CHECK(strstr(s, "secret body") == NULL, "no body with headers only");
	CHECK(strstr(s, "From: Mail Delivery System <MAILER-DAEMON@"
	    "mail.gms.test>\r\n") != NULL, "From MAILER-DAEMON");
	CHECK(strstr(s, "Subject: Undelivered Mail Returned to Sender") !=
	    NULL, "failure subject");
	CHECK(strstr(s, "Will-Retry-Until: ") != NULL, "Will-Retry-Until");
	{
		const char *b = strstr(s, "boundary=\"");
		char bd[128], close[140];
		size_t l;

		CHECK(b != NULL, "boundary parameter");
		if (b != NULL) {
			b += 10;
			l = strcspn(b, "\"");
			memcpy(bd, b, l < sizeof(bd) ? l : sizeof(bd) - 1);
			bd[l < sizeof(bd) ? l : sizeof(bd) - 1] = '\0';
			(void)gms_snprintf(close, sizeof(close), "\r\n--%s--\r\n",
			    bd);
			l = strlen(close);
			CHECK(out.len >= l && memcmp(s + out.len - l, close, l) ==
			    0, "ends with the closing boundary");
		}
	}
	buf_reset(&out);
	d.full = true;
	d.nrcpt = 1;
	CHECK(relay_dsn_build(&out, &d) == 0, "build a full DSN");
	s = buf_cstr(&out);
	CHECK(strstr(s, "Content-Type: message/rfc822\r\n\r\nFrom:") != NULL &&
	    strstr(s, "secret body") != NULL, "RET=FULL returns the body");
	CHECK(strstr(s, "Action: delayed") == NULL, "only one recipient");
	buf_free(&out);
	{
		struct buf small = BUF_INIT(100);

		CHECK(relay_dsn_build(&small, &d) == -1, "DSN larger than the "
		    "buffer fails");
		buf_free(&small);
	}
	CHECK_STR(relay_dsn_action_name(RELAY_DSN_RELAYED), "relayed",
	    "action name");
	CHECK_STR(relay_dsn_action_name(42), "unknown (42)", "unknown action");
}

static void
test_sts(void)
{
	struct relay_sts p;
	const char *ok = "version: STSv1\r\nmode: enforce\r\n"
	    "mx: mx1.example.com\r\nmx: *.mail.example.com\r\n"
	    "max_age: 86400\r\n";

	CHECK(relay_sts_parse(ok, strlen(ok), &p) == 0, "parse a policy");
	CHECK(p.mode == RELAY_STS_ENFORCE && p.nmx == 2 && p.max_age == 86400,
	    "mode, mx and max_age");
	CHECK(relay_sts_match(&p, "mx1.example.com"), "exact mx matches");
	CHECK(relay_sts_match(&p, "A.mail.example.com"), "wildcard matches "
	    "one label, case-insensitively");
	CHECK(!relay_sts_match(&p, "a.b.mail.example.com"), "wildcard "
	    "matches only one label");
	CHECK(!relay_sts_match(&p, "mail.example.com"), "wildcard needs a "
	    "label");
	CHECK(!relay_sts_match(&p, "mx1.example.com.evil"), "no suffix "
	    "tricks");
#define PARSE(s) relay_sts_parse((s), strlen(s), &p)
	CHECK(PARSE("mode: enforce\nmx: a\nmax_age: 1\n") == -1,
	    "no version: invalid");
	CHECK(PARSE("version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n") ==
	    -1, "unknown mode: invalid");
	CHECK(PARSE("version: STSv1\nmode: enforce\nmax_age: 1\n") == -1,
	    "enforce without mx: invalid");
	CHECK(PARSE("version: STSv1\nmode: none\nmax_age: 99\n") == 0 &&
	    p.mode == RELAY_STS_NONE, "mode none");
	CHECK(PARSE("version: STSv1\nmode: testing\nmx: a\n") == -1,
	    "no max_age: invalid");
#undef PARSE
}

int
main(void)
{
	test_sts();
	test_reply();
	test_ehlo();
	test_xtext();
	test_header();
	test_dsn();
	return unit_done();
}
