/*
 * test-admin.c - unit tests of gmsadm's pure parts: the CSV field parser
 * of "bulk add" (csv.c), the option parser of every subcommand (opt.c),
 * JSON string escaping, table/object output and the DKIM TXT zone line
 * (out.c).  The commands themselves are tested against slapd and the
 * mailstore in tests/protocol/test_gmsadm.py.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin.h"
#include "unit.h"

/* Parse a whole record; fields joined with '|' into out. */
static int
parse_record(const char *text, char *out, size_t outlen, const char **err,
    unsigned *line, size_t *used)
{
	const char *p = text, *end = text + strlen(text);
	struct buf b = BUF_INIT(0);
	bool eol = false, first = true;
	char *f;
	int rc = 0;

	*err = NULL;
	while (!eol) {
		f = adm_csv_field(&p, end, &eol, line, err);
		if (f == NULL) {
			rc = -1;
			break;
		}
		if (!first)
			(void)buf_putc(&b, '|');
		first = false;
		(void)buf_puts(&b, f);
		free(f);
	}
	(void)gms_strlcpy(out, buf_cstr(&b), outlen);
	buf_free(&b);
	*used = (size_t)(p - text);
	return rc;
}

static void
test_csv(void)
{
	char out[512];
	const char *err;
	unsigned line = 1;
	size_t used;
	struct buf big = BUF_INIT(0);
	size_t i;

	CHECK(parse_record("a,b,c\n", out, sizeof(out), &err, &line, &used) == 0,
	    "csv: plain record");
	CHECK_STR(out, "a|b|c", "csv: plain fields");
	CHECK(used == 6, "csv: consumed the record and its LF");
	CHECK(parse_record("\"Juma, Ali\",x\r\nnext", out, sizeof(out), &err,
	    &line, &used) == 0, "csv: quoted comma, CRLF");
	CHECK_STR(out, "Juma, Ali|x", "csv: quoted comma kept");
	CHECK(used == 15, "csv: CRLF consumed, next record left");
	CHECK(parse_record("\"say \"\"hi\"\"\",2", out, sizeof(out), &err, &line,
	    &used) == 0, "csv: doubled quotes");
	CHECK_STR(out, "say \"hi\"|2", "csv: doubled quote becomes one");
	line = 1;
	CHECK(parse_record("\"two\nlines\",y\n", out, sizeof(out), &err, &line,
	    &used) == 0 && line == 2, "csv: line break inside quotes counted");
	CHECK(parse_record(",,\n", out, sizeof(out), &err, &line, &used) == 0,
	    "csv: empty fields");
	CHECK_STR(out, "||", "csv: three empty fields");
	CHECK(parse_record("\"open,x\n", out, sizeof(out), &err, &line,
	    &used) < 0 && err != NULL && strstr(err, "not closed") != NULL,
	    "csv: unclosed quote refused");
	CHECK(parse_record("\"a\"b,c\n", out, sizeof(out), &err, &line,
	    &used) < 0 && strstr(err, "after a closing quote") != NULL,
	    "csv: text after closing quote refused");
	CHECK(parse_record("a\"b,c\n", out, sizeof(out), &err, &line,
	    &used) < 0 && strstr(err, "unquoted") != NULL,
	    "csv: quote in unquoted field refused");
	for (i = 0; i < ADM_CSV_FIELD_MAX + 1; i++)
		(void)buf_putc(&big, 'x');
	(void)buf_puts(&big, ",y\n");
	CHECK(parse_record(buf_cstr(&big), out, sizeof(out), &err, &line,
	    &used) < 0 && strstr(err, "longer") != NULL,
	    "csv: field over the limit refused");
	buf_reset(&big);
	for (i = 0; i < ADM_CSV_FIELD_MAX; i++)
		(void)buf_putc(&big, 'x');
	{
		const char *p = buf_cstr(&big), *end = p + big.len;
		bool eol;
		char *f = adm_csv_field(&p, end, &eol, &line, &err);

		CHECK(f != NULL && strlen(f) == ADM_CSV_FIELD_MAX && eol,
		    "csv: field at the limit accepted, end of data is eol");
		free(f);
	}
	buf_free(&big);
}

static void
test_getopt(void)
{
	static const struct adm_opt opts[] = {
		{ "name", true, 'n' }, { "force", false, 'f' },
		{ "quota", true, 'q' }, { NULL, false, 0 } };
	char *argv1[] = { "a@b", "--name", "Juma Ali", "x@y", "-f",
	    "--quota=2G", "--", "--not-an-option", NULL };
	char *argv2[] = { "--bogus", NULL };
	char *argv3[] = { "--name", NULL };
	char *argv4[] = { "--force=yes", NULL };
	struct adm_getopt g;
	const char *arg;
	int ch, seen_n = 0, seen_f = 0, seen_q = 0;

	adm_getopt_init(&g, 8, argv1, opts);
	while ((ch = adm_getopt_next(&g, &arg)) != -1) {
		if (ch == 'n' && strcmp(arg, "Juma Ali") == 0)
			seen_n++;
		else if (ch == 'f' && arg == NULL)
			seen_f++;
		else if (ch == 'q' && strcmp(arg, "2G") == 0)
			seen_q++;
		else
			seen_n = 100;
	}
	CHECK(seen_n == 1 && seen_f == 1 && seen_q == 1,
	    "getopt: long, short and --x=y options");
	CHECK(g.noperands == 3, "getopt: operands around options kept");
	CHECK(g.noperands == 3 && strcmp(g.operands[0], "a@b") == 0 &&
	    strcmp(g.operands[1], "x@y") == 0 &&
	    strcmp(g.operands[2], "--not-an-option") == 0,
	    "getopt: operands in order, -- ends options");
	adm_getopt_free(&g);

	adm_getopt_init(&g, 1, argv2, opts);
	CHECK(adm_getopt_next(&g, &arg) == '?', "getopt: unknown option");
	adm_getopt_free(&g);
	adm_getopt_init(&g, 1, argv3, opts);
	CHECK(adm_getopt_next(&g, &arg) == '?', "getopt: missing value");
	adm_getopt_free(&g);
	adm_getopt_init(&g, 1, argv4, opts);
	CHECK(adm_getopt_next(&g, &arg) == '?', "getopt: value for a flag");
	adm_getopt_free(&g);
}

static void
test_json(void)
{
	struct buf b = BUF_INIT(0);

	adm_json_str(&b, "a\"b\\c\nd\te\x01" "f\x7f");
	CHECK_STR(buf_cstr(&b), "\"a\\\"b\\\\c\\nd\\te\\u0001f\\u007f\"",
	    "json: quotes, backslash, controls escaped");
	buf_reset(&b);
	adm_json_str(&b, "Wizara ya Fedha \xc3\xa9");
	CHECK_STR(buf_cstr(&b), "\"Wizara ya Fedha \xc3\xa9\"",
	    "json: UTF-8 passes unchanged");
	buf_reset(&b);
	adm_json_str(&b, NULL);
	CHECK_STR(buf_cstr(&b), "\"\"", "json: NULL is the empty string");
	buf_free(&b);
}

static void
test_zone_line(void)
{
	struct buf b = BUF_INIT(0), txt = BUF_INIT(0);
	size_t i;

	adm_dkim_zone_line(&b, "mof.go.tz", "s1", "v=DKIM1; k=ed25519; p=AAAA");
	CHECK_STR(buf_cstr(&b), "s1._domainkey.mof.go.tz. IN TXT "
	    "\"v=DKIM1; k=ed25519; p=AAAA\"", "zone: short record on one string");
	buf_reset(&b);
	(void)buf_puts(&txt, "v=DKIM1; k=rsa; p=");
	for (i = 0; i < 392; i++)
		(void)buf_putc(&txt, 'A' + (char)(i % 26));
	adm_dkim_zone_line(&b, "mof.go.tz", "s2", buf_cstr(&txt));
	CHECK(strstr(buf_cstr(&b), " ( \"") != NULL &&
	    strstr(buf_cstr(&b), "\" )") != NULL, "zone: long record in parentheses");
	{
		/* Joining the strings gives the record back; none > 255. */
		const char *p = buf_cstr(&b);
		struct buf joined = BUF_INIT(0);
		bool ok = true;

		while ((p = strchr(p, '"')) != NULL) {
			const char *q = strchr(p + 1, '"');

			if (q == NULL || q - p - 1 > 255)
				ok = false;
			if (q == NULL)
				break;
			(void)buf_append(&joined, p + 1, (size_t)(q - p - 1));
			p = q + 1;
		}
		CHECK(ok, "zone: every string at most 255 bytes");
		CHECK_STR(buf_cstr(&joined), buf_cstr(&txt),
		    "zone: strings join to the record");
		buf_free(&joined);
	}
	buf_free(&b);
	buf_free(&txt);
}

static void
test_output(void)
{
	static const char *const cols[] = { "address", "name" };
	const char *row[2];
	struct adm a;
	struct adm_out *o;
	char path[] = "/tmp/test-admin.XXXXXX";
	char got[512];
	int fd, saved;
	ssize_t n;

	memset(&a, 0, sizeof(a));
	a.json = true;
	fd = mkstemp(path);
	CHECK(fd >= 0, "output: temp file");
	if (fd < 0)
		return;
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	o = adm_table_new(&a, cols, 2);
	row[0] = "a@b";
	row[1] = "A \"B\"";
	adm_table_row(o, row);
	adm_out_print(&o);
	a.json = false;
	o = adm_table_new(&a, cols, 2);
	row[1] = "evil\x1b[2Jname";
	adm_table_row(o, row);
	adm_out_print(&o);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	n = pread(fd, got, sizeof(got) - 1, 0);
	close(fd);
	unlink(path);
	got[n > 0 ? n : 0] = '\0';
	CHECK(strstr(got, "[{\"address\":\"a@b\",\"name\":\"A \\\"B\\\"\"}]\n") == got,
	    "output: a JSON table is an array of objects");
	CHECK(strstr(got, "ADDRESS  NAME\n") != NULL,
	    "output: a table for people has aligned capital headers");
	CHECK(strstr(got, "evil?[2Jname") != NULL && strchr(got, '\x1b') == NULL,
	    "output: control characters never reach the terminal");
	CHECK(o == NULL, "output: print frees and clears the pointer");
}

int
main(void)
{
	log_init("test-admin", true);
	test_csv();
	test_getopt();
	test_json();
	test_zone_line();
	test_output();
	return unit_done();
}
