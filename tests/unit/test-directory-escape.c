/*
 * test-directory-escape.c - table-driven tests of the two functions where
 * user input enters LDAP syntax: dir_escape_filter (RFC 4515) and
 * dir_escape_dn (RFC 4514), plus the key normalization that runs before
 * them.  Every special character, NUL, non-ASCII bytes, leading and
 * trailing spaces and '#', and the buffer limit are covered.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "gms.h"
#include "directory/directory-private.h"
#include "tests/unit/unit.h"

struct esc_case {
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	const char	*want;
};

#define S(x) x, sizeof(x) - 1

static const struct esc_case filter_cases[] = {
	{ S(""), "" },
	{ S("juma@mof.go.tz"), "juma@mof.go.tz" },
	{ S("*"), "\\2a" },
	{ S("a*b"), "a\\2ab" },
	{ S("("), "\\28" },
	{ S(")"), "\\29" },
	{ S("\\"), "\\5c" },
	{ S("*)(uid=*"), "\\2a\\29\\28uid=\\2a" },
	{ S("x)(|(mail=*))"), "x\\29\\28|\\28mail=\\2a\\29\\29" },
	{ "a\0b", 3, "a\\00b" },
	{ "\0", 1, "\\00" },
	{ S("caf\xc3\xa9"), "caf\\c3\\a9" },
	{ S("\xff\xfe"), "\\ff\\fe" },
	{ S("tab\there"), "tab\\09here" },
	{ S("del\x7f"), "del\\7f" },
	{ S(" lead and trail "), " lead and trail " },
	{ S("#hash"), "#hash" },
	{ S("a=b,c+d;e<f>g\"h"), "a=b,c+d;e<f>g\"h" },
};

static const struct esc_case dn_cases[] = {
	{ S(""), "" },
	{ S("juma@mof.go.tz"), "juma@mof.go.tz" },
	{ S("a,b"), "a\\,b" },
	{ S("a+b"), "a\\+b" },
	{ S("a\"b"), "a\\\"b" },
	{ S("a\\b"), "a\\\\b" },
	{ S("a;b"), "a\\;b" },
	{ S("<a>"), "\\<a\\>" },
	{ S("a=b"), "a\\=b" },
	{ S(" lead"), "\\ lead" },
	{ S("trail "), "trail\\ " },
	{ S(" "), "\\ " },
	{ S("  "), "\\ \\ " },
	{ S("#hash"), "\\#hash" },
	{ S("mid#hash"), "mid#hash" },
	{ S("mid space"), "mid space" },
	{ "a\0b", 3, "a\\00b" },
	{ S("caf\xc3\xa9"), "caf\\C3\\A9" },
	{ S("x,ou=people,o=gms"), "x\\,ou\\=people\\,o\\=gms" },
	{ S("*()"), "*()" },
	{ S("nl\n"), "nl\\0A" },
};

static void
run_cases(const char *what, int (*fn)(struct buf *, const char *, size_t),
    const struct esc_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct buf b = BUF_INIT(0);
		size_t len = cases[i].len;
		char name[128];
		int rc;

		rc = fn(&b, cases[i].in, len);
		(void)gms_snprintf(name, sizeof(name), "%s case %zu", what, i);
		CHECK(rc == 0, "%s returns 0", name);
		CHECK_STR(buf_cstr(&b), cases[i].want, name);
		buf_free(&b);
	}
}

/* An escaped filter value never holds an unescaped special. */
static void
check_filter_safe(void)
{
	unsigned char all[256];
	struct buf b = BUF_INIT(0);
	size_t i;
	bool safe = true;

	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)i;
	CHECK(dir_escape_filter(&b, (const char *)all, sizeof(all)) == 0,
	    "filter: all 256 bytes escape");
	for (i = 0; i < b.len; i++) {
		unsigned char c = (unsigned char)b.data[i];

		if (c == '(' || c == ')' || c == '*' || c == '\0' || c >= 0x7f)
			safe = false;
		if (c == '\\') {
			if (i + 2 >= b.len || !isxdigit((unsigned char)b.data[i + 1]) ||
			    !isxdigit((unsigned char)b.data[i + 2])) {
				safe = false;
				break;
			}
			i += 2;
		}
	}
	CHECK(safe, "filter: no raw special or non-ASCII byte survives");
	CHECK(b.len == 256 + 2 * (32 + 4 + 129),
	    "filter: exactly the expected bytes are escaped (len=%zu)", b.len);
	buf_free(&b);
}

/* The buffer limit is reported, not overrun. */
static void
check_limits(void)
{
	struct buf b = BUF_INIT(8);

	CHECK(dir_escape_filter(&b, "****", 4) < 0,
	    "filter: a value past the buffer maximum fails");
	CHECK(b.len <= 8, "filter: buffer stays within its maximum");
	buf_free(&b);
	buf_init(&b, 8);
	CHECK(dir_escape_dn(&b, ",,,,,", 5) < 0,
	    "dn: a value past the buffer maximum fails");
	buf_free(&b);
	buf_init(&b, 8);
	CHECK(dir_escape_dn(&b, "abcd", 4) == 0, "dn: a value that fits passes");
	buf_free(&b);
}

struct norm_case {
	const char	*in;
	const char	*want;		/* NULL: must be refused */
};

static const struct norm_case addr_cases[] = {
	{ "Juma@MOF.go.tz", "juma@mof.go.tz" },
	{ "a.b+tag@x.go.tz", "a.b+tag@x.go.tz" },
	{ "", NULL },
	{ "@x.go.tz", NULL },
	{ "juma@", NULL },
	{ "juma", NULL },
	{ "a@b@c.go.tz", NULL },
	{ "a b@x.go.tz", NULL },
	{ "a*)(mail=*@x.go.tz", NULL },
	{ "a\\@x.go.tz", NULL },
	{ "\"q\"@x.go.tz", NULL },
	{ "a@x..go.tz", NULL },
	{ "a@.x.go.tz", NULL },
	{ "a@x.go.tz.", NULL },
	{ "a@x*.go.tz", NULL },
	{ "a@x(.go.tz", NULL },
	{ "a\t@x.go.tz", NULL },
	{ "caf\xc3\xa9@x.go.tz", "caf\xc3\xa9@x.go.tz" },
	{ "a@caf\xc3\xa9.tz", NULL },
	/* 65-byte local part */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.tz",
	  NULL },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.tz",
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.tz" },
};

static void
check_normalize(void)
{
	char out[DIR_ADDR_MAX + 1], big[400];
	size_t i;

	for (i = 0; i < GMS_NELEM(addr_cases); i++) {
		int rc = dir_normalize_address(addr_cases[i].in, out);

		if (addr_cases[i].want == NULL)
			CHECK(rc < 0, "address case %zu refused", i);
		else {
			CHECK(rc == 0, "address case %zu accepted", i);
			if (rc == 0)
				CHECK_STR(out, addr_cases[i].want, "address normalized");
		}
	}
	CHECK(dir_normalize_address(NULL, out) < 0, "NULL address refused");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[10] = '@';
	CHECK(dir_normalize_address(big, out) < 0, "399-byte address refused");
	CHECK(dir_normalize_domain("MOF.Go.TZ", out) == 0 &&
	    strcmp(out, "mof.go.tz") == 0, "domain lowercased");
	CHECK(dir_normalize_domain("*", out) < 0, "domain '*' refused");
	CHECK(dir_normalize_domain("", out) < 0, "empty domain refused");
	CHECK(dir_normalize_id("MoF", out) == 0 && strcmp(out, "mof") == 0,
	    "id lowercased");
	CHECK(dir_normalize_id("mo*f", out) < 0, "id with '*' refused");
	CHECK(dir_normalize_id("mo)f", out) < 0, "id with ')' refused");
	CHECK(dir_normalize_id("", out) < 0, "empty id refused");
}

int
main(void)
{
	run_cases("filter", dir_escape_filter, filter_cases,
	    GMS_NELEM(filter_cases));
	run_cases("dn", dir_escape_dn, dn_cases, GMS_NELEM(dn_cases));
	check_filter_safe();
	check_limits();
	check_normalize();
	return unit_done();
}
