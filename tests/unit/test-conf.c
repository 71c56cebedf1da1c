/*
 * test-conf.c - unit tests of the gms.conf parser: syntax, types, ranges,
 * include, unknown keys and the file:line form of every error.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gms.h"
#include "unit.h"

static const struct conf_def test_table[] = {
	{ "smtpd.max_line_length", CONF_INT, "1000", 512, 65536, NULL, "" },
	{ "smtpd.message_size_limit", CONF_SIZE, "25M", 1024, 1LL << 32, NULL, "" },
	{ "smtpd.timeout", CONF_TIME, "5m", 1, 86400, NULL, "" },
	{ "smtpd.require_tls", CONF_BOOL, "no", 0, 0, NULL, "" },
	{ "smtpd.bare_lf", CONF_ENUM, "reject", 0, 0, "reject|normalise", "" },
	{ "smtpd.hostname", CONF_STR, "mail.example", 0, 0, NULL, "" },
	{ NULL, CONF_STR, NULL, 0, 0, NULL, NULL },
};

static char dir[] = "/tmp/gms-test-conf-XXXXXX";

static char *
write_file(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		fatal("fopen %s", path);
	fputs(text, fp);
	fclose(fp);
	return path;
}

/* expect_error - load text and check that the error starts with want. */
static void
expect_error(const char *text, const char *want, const char *what)
{
	char err[512];
	char *path = write_file("bad.conf", text);
	char *full = xasprintf("%s:%s", path, want);
	struct conf *c = conf_load(path, err, sizeof(err));

	CHECK(c == NULL && strncmp(err, full, strlen(full)) == 0, "%s", what);
	if (c != NULL || strncmp(err, full, strlen(full)) != 0)
		printf("#   got \"%s\", want prefix \"%s\"\n", c ? "(loaded)" : err, full);
	conf_free(&c);
	free(path);
	free(full);
}

int
main(void)
{
	char err[512];
	struct conf *c, *held;
	char *path, *inc;

	log_init("test-conf", true);
	if (mkdtemp(dir) == NULL)
		fatal("mkdtemp");
	conf_register(lib_conf_table);
	conf_register(test_table);

	c = conf_load(NULL, err, sizeof(err));
	CHECK(c != NULL, "defaults load without a file");
	CHECK(conf_int(c, "smtpd.max_line_length") == 1000, "int default");
	CHECK(conf_int(c, "smtpd.message_size_limit") == 25LL * 1024 * 1024,
	    "size default with suffix");
	CHECK(conf_int(c, "smtpd.timeout") == 300, "time default with suffix");
	CHECK(!conf_bool(c, "smtpd.require_tls"), "bool default");
	CHECK_STR(conf_str(c, "server.user"), "gms", "lib default");
	conf_free(&c);
	CHECK(c == NULL, "conf_free clears the pointer");

	inc = write_file("inc.conf", "smtpd.hostname = mx.go.tz # trailing comment\n");
	path = write_file("gms.conf",
	    "# a comment\n"
	    "\n"
	    "  smtpd.max_line_length   =   2048  \n"
	    "smtpd.message_size_limit = 10M\n"
	    "smtpd.timeout = 2h\n"
	    "smtpd.require_tls = yes\n"
	    "smtpd.bare_lf = normalise\n"
	    "log.level = debug\n"
	    "tls.cert = /etc/gms/a#b.pem\n"
	    "imapd.some_future_key = anything\n"
	    "include inc.conf\n");
	c = conf_load(path, err, sizeof(err));
	CHECK(c != NULL, "a good file loads");
	if (c == NULL) {
		printf("# %s\n", err);
		return unit_done();
	}
	CHECK(conf_int(c, "smtpd.max_line_length") == 2048, "int value");
	CHECK(conf_int(c, "smtpd.message_size_limit") == 10LL * 1024 * 1024,
	    "size value");
	CHECK(conf_int(c, "smtpd.timeout") == 7200, "time value");
	CHECK(conf_bool(c, "smtpd.require_tls"), "bool value");
	CHECK_STR(conf_str(c, "smtpd.bare_lf"), "normalise", "enum value");
	CHECK_STR(conf_str(c, "smtpd.hostname"), "mx.go.tz",
	    "include relative to the file, trailing comment cut");
	CHECK_STR(conf_str(c, "tls.cert"), "/etc/gms/a#b.pem",
	    "'#' inside a value is kept");
	CHECK_STR(conf_path(c), path, "path recorded");

	/* The current configuration and references. */
	conf_set_current(c);
	held = conf_acquire();
	CHECK(held == c, "acquire returns the current configuration");
	conf_set_current(conf_load(NULL, err, sizeof(err)));
	CHECK(conf_int(held, "smtpd.max_line_length") == 2048,
	    "a held configuration survives a reload");
	conf_release(&held);
	CHECK(held == NULL, "release clears the pointer");
	held = conf_acquire();
	CHECK(held != NULL && conf_int(held, "smtpd.max_line_length") == 1000,
	    "the new configuration is current");
	conf_release(&held);

	expect_error("smtpd.max_line_length 2048\n", "1: syntax error",
	    "missing '=' is a syntax error with file:line");
	expect_error("\n\nsmtpd.bogus = 1\n", "3: unknown key 'smtpd.bogus'",
	    "unknown key of a registered module");
	expect_error("nosuchmodule.x = 1\n", "1: unknown key",
	    "unknown module");
	expect_error("justaword = 1\n", "1: unknown key", "key without module");
	expect_error("smtpd.max_line_length = 10\n", "1: smtpd.max_line_length: 10 is out of range",
	    "value below min");
	expect_error("smtpd.max_line_length = 99999999\n", "1: smtpd.max_line_length: 99999999 is out of range",
	    "value above max");
	expect_error("smtpd.max_line_length = 12x\n", "1: smtpd.max_line_length: '12x' is not an integer",
	    "junk after an integer");
	expect_error("smtpd.message_size_limit = 10Q\n", "1: smtpd.message_size_limit: '10Q' is not a size",
	    "bad size suffix");
	expect_error("smtpd.timeout = 5k\n", "1: smtpd.timeout: '5k' is not a duration",
	    "bad time suffix");
	expect_error("smtpd.require_tls = maybe\n", "1: smtpd.require_tls: 'maybe' is not yes or no",
	    "bad boolean");
	expect_error("smtpd.bare_lf = accept\n", "1: smtpd.bare_lf: 'accept' is not one of",
	    "bad enum");
	{
		char *big = xmalloc(5000);

		memset(big, 'x', 4999);
		big[4999] = '\0';
		big[0] = '#';
		expect_error(big, "1: line longer than", "an over-long line");
		free(big);
	}
	{
		char *p2 = write_file("nul.conf", "");
		FILE *fp = fopen(p2, "w");

		fputs("log.level = info\n", fp);
		fwrite("log.trace = a\0b\n", 1, 16, fp);
		fclose(fp);
		c = conf_load(p2, err, sizeof(err));
		CHECK(c == NULL && strstr(err, "nul.conf:2: NUL byte") != NULL,
		    "a NUL byte is an error with file:line");
		free(p2);
	}
	expect_error("SMTPD.Timeout = 5\n", "1: syntax error: bad character in key",
	    "keys are lower case");
	expect_error("log.level = info\ninclude missing.conf\n",
	    "2: cannot include", "a missing include fails with file:line");
	free(write_file("loop.conf", "include loop.conf\n"));
	free(path);
	path = write_file("top.conf", "include loop.conf\n");
	c = conf_load(path, err, sizeof(err));
	CHECK(c == NULL && strstr(err, "nested too deeply") != NULL,
	    "an include loop is bounded");
	free(path);
	path = xasprintf("%s/absent.conf", dir);
	c = conf_load(path, err, sizeof(err));
	CHECK(c == NULL && strstr(err, "absent.conf: cannot open") != NULL,
	    "a missing file is reported");
	free(path);
	free(inc);
	return unit_done();
}
