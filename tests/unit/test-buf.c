/*
 * test-buf.c - unit tests of lib/: the byte buffer, bounded copy and
 * format, the cursor, number parsing and log escaping.
 */
#include "config.h"

#include <string.h>

#include "gms.h"
#include "unit.h"

static void
test_buf(void)
{
	struct buf b = BUF_INIT(16);
	char *s;
	int i;

	CHECK(buf_cstr(&b)[0] == '\0', "empty buffer is an empty string");
	CHECK(buf_append(&b, "hello", 5) == 0 && b.len == 5, "append");
	CHECK(b.data[5] == '\0', "spare NUL after data");
	CHECK(buf_append(&b, "\0x", 2) == 0 && b.len == 7, "binary-safe append");
	CHECK(buf_printf(&b, "%d", 123456789) == 0 && b.len == 16,
	    "printf up to the maximum");
	CHECK(buf_putc(&b, 'z') == -1 && b.len == 16,
	    "append past max fails and leaves the buffer unchanged");
	CHECK(buf_printf(&b, "x") == -1 && b.len == 16, "printf past max fails");
	CHECK(memcmp(b.data, "hello\0x123456789", 16) == 0, "content intact");
	buf_consume(&b, 7);
	CHECK(b.len == 9 && strcmp(buf_cstr(&b), "123456789") == 0, "consume");
	buf_reset(&b);
	CHECK(b.len == 0 && buf_cstr(&b)[0] == '\0', "reset");
	s = buf_steal(&b);
	CHECK(s != NULL && b.data == NULL && b.len == 0, "steal empties");
	free(s);

	buf_init(&b, 0);
	CHECK(buf_reserve(&b, 100) == 0 && buf_cstr(&b)[0] == '\0' &&
	    b.data != NULL, "a fresh reservation is an empty string");
	for (i = 0; i < 10000; i++)
		if (buf_putc(&b, 'a' + i % 26) < 0)
			break;
	CHECK(i == 10000 && b.len == 10000 && b.data[9999] == 'a' + 9999 % 26,
	    "unbounded buffer grows");
	CHECK(buf_reserve(&b, SIZE_MAX) == -1, "reserve of SIZE_MAX fails");
	CHECK(buf_append(&b, "x", SIZE_MAX - 2) == -1, "overflowing append fails");
	buf_wipe_free(&b);
	CHECK(b.data == NULL && b.cap == 0, "wipe_free releases");
}

static void
test_str(void)
{
	char small[6];
	uint64_t v;

	CHECK(gms_strlcpy(small, "abcde", sizeof(small)) == 0 &&
	    strcmp(small, "abcde") == 0, "strlcpy fits");
	CHECK(gms_strlcpy(small, "abcdef", sizeof(small)) == -1 &&
	    strcmp(small, "abcde") == 0, "strlcpy reports truncation");
	CHECK(gms_snprintf(small, sizeof(small), "%d", 12345) == 0,
	    "snprintf fits");
	CHECK(gms_snprintf(small, sizeof(small), "%d", 123456) == -1,
	    "snprintf reports truncation");
	CHECK(gms_strcasecmp("MAIL", "mail") == 0, "strcasecmp folds");
	CHECK(gms_strcasecmp("MAIL", "mailx") < 0, "strcasecmp orders");
	CHECK(gms_strncasecmp("RCPT TO:", "rcpt to:<x>", 8) == 0, "strncasecmp");
	CHECK(gms_parse_u64("18446744073709551615", 20, UINT64_MAX, &v) == 0 &&
	    v == UINT64_MAX, "u64 maximum");
	CHECK(gms_parse_u64("18446744073709551616", 20, UINT64_MAX, &v) == -1,
	    "u64 overflow rejected");
	CHECK(gms_parse_u64("1000", 4, 999, &v) == -1, "u64 above max rejected");
	CHECK(gms_parse_u64("12a", 3, 999, &v) == -1, "u64 junk rejected");
	CHECK(gms_parse_u64("", 0, 999, &v) == -1, "u64 empty rejected");
	CHECK(gms_parse_u64("-1", 2, 999, &v) == -1, "u64 sign rejected");
}

static void
test_cursor(void)
{
	static const char in[] = "FROM:<a@b>  SIZE=10\0X";
	struct cursor c;
	const char *w;
	size_t n;

	cur_init(&c, in, sizeof(in) - 1);
	CHECK(cur_match_ci(&c, "from:"), "match_ci case-insensitive");
	CHECK(!cur_match_ci(&c, "x"), "match_ci miss leaves cursor");
	n = cur_take_until(&c, " ", &w);
	CHECK(n == 5 && memcmp(w, "<a@b>", 5) == 0, "take_until");
	CHECK(cur_skip_ws(&c) == 2, "skip_ws");
	n = cur_take_until(&c, " ", &w);
	CHECK(n == 9 && w[7] == '\0' && cur_eof(&c),
	    "a NUL byte does not stop take_until");
	CHECK(cur_peek(&c) == -1, "peek at end");
	cur_skip(&c, 10);
	CHECK(c.left == 0, "skip past end is clamped");
}

static void
test_log_escape(void)
{
	char out[64];

	CHECK_STR(log_escape(out, sizeof(out), "a\r\n\"b", 5, 100),
	    "a\\x0d\\x0a\\x22b", "escape control and quote");
	CHECK_STR(log_escape(out, sizeof(out), "abcdef", 6, 3), "abc...",
	    "cap peer text");
	CHECK_STR(log_escape(out, 8, "abcdefghij", 10, 100), "abcd...",
	    "cut at the output size");
	CHECK(log_level_parse("warn") == LOG_LVL_WARN && log_level_parse("x") == -1,
	    "level names");
	CHECK(strcmp(log_level_name(9), "unknown (9)") == 0, "unknown level name");
}

static void
test_trace(void)
{
	unsigned int m = 0;

	CHECK(log_trace_parse("smtp, imap", &m) == 0 &&
	    m == (TRACE_SMTP | TRACE_IMAP), "trace list");
	CHECK(log_trace_parse("smtp bogus", &m) == -1, "unknown trace word");
	CHECK(log_trace_parse("", &m) == 0 && m == 0, "empty trace");
}

static void
test_base64(void)
{
	struct buf b = BUF_INIT(0);

	CHECK(base64_encode(&b, "\0user\0pass", 10) == 0 &&
	    strcmp(buf_cstr(&b), "AHVzZXIAcGFzcw==") == 0, "base64 encode");
	buf_reset(&b);
	CHECK(base64_decode(&b, "AHVzZXIAcGFzcw==", 16) == 0 && b.len == 10 &&
	    memcmp(b.data, "\0user\0pass", 10) == 0, "base64 decode");
	buf_reset(&b);
	CHECK(base64_decode(&b, "AHVz*XI=", 8) == -1, "base64 junk rejected");
	buf_reset(&b);
	CHECK(base64_decode(&b, "AHV", 3) == -1, "base64 truncated rejected");
	buf_free(&b);
}

static void
test_putu64(void)
{
	struct buf b = BUF_INIT(0), small = BUF_INIT(3);

	CHECK(buf_putu64(&b, 0) == 0 && buf_putc(&b, ' ') == 0 &&
	    buf_putu64(&b, 7) == 0 && buf_putc(&b, ' ') == 0 &&
	    buf_putu64(&b, 1234567890123ULL) == 0 && buf_putc(&b, ' ') == 0 &&
	    buf_putu64(&b, UINT64_MAX) == 0, "buf_putu64");
	CHECK_STR(buf_cstr(&b), "0 7 1234567890123 18446744073709551615",
	    "buf_putu64: 0, one digit, many, the largest");
	CHECK(buf_putu64(&small, 1234) == -1 && small.len == 0,
	    "buf_putu64 past the buffer's maximum: -1, nothing written");
	buf_free(&b);
	buf_free(&small);
}

int
main(void)
{
	log_init("test-buf", true);
	test_putu64();
	test_buf();
	test_str();
	test_cursor();
	test_log_escape();
	test_trace();
	test_base64();
	return unit_done();
}
