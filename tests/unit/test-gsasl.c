/*
 * test-gsasl.c - lib/gsasl.c driven through the real Cyrus SASL library
 * and its PLAIN and LOGIN plugins, with our own password callback (a
 * table of two users and one "directory down" user):  PLAIN with and
 * without an initial response, LOGIN step by step and with an initial
 * response, wrong passwords, an authorization id other than the
 * authentication id refused even with the right password, an empty
 * password refused before the callback is ever called, a directory outage
 * reported as a temporary failure, other mechanisms refused.
 */
#include "config.h"

#include "gms.h"
#include "unit.h"

static int calls;
static char last_pass[64];
static size_t last_passlen;

/* check - the password check of the test: our callback, not a mock. */
static int
check(void *arg, const char *user, const char *pass, size_t passlen)
{
	(void)arg;
	calls++;
	snprintf(last_pass, sizeof(last_pass), "%.*s", (int)passlen, pass);
	last_passlen = passlen;
	if (strcmp(user, "down@example.org") == 0)
		return -1;
	if (strcmp(user, "alice@example.org") == 0 && passlen == 6 &&
	    memcmp(pass, "secret", 6) == 0)
		return 1;
	if (strcmp(user, "bob@example.org") == 0 && passlen == 3 &&
	    memcmp(pass, "b\0b", 3) == 0)
		return 1;
	return 0;
}

/* plain - one PLAIN exchange with an initial response; the result. */
static int
plain(const char *msg, size_t len, char *user, size_t ulen)
{
	struct gsasl *g = gsasl_new("smtp", NULL, check, NULL);
	const char *out;
	size_t outlen;
	int r;

	if (g == NULL)
		return -99;
	r = gsasl_start(g, "PLAIN", msg, len, &out, &outlen);
	user[0] = '\0';
	if (r == GSASL_DONE)
		gms_strlcpy(user, gsasl_user(g), ulen);
	gsasl_free(&g);
	return r;
}

#define PLAIN(s) plain(s, sizeof(s) - 1, user, sizeof(user))

int
main(void)
{
	struct session s;
	struct gsasl *g;
	const char *out;
	size_t outlen;
	char user[128];
	int r, before;

	log_init("test-gsasl", true);
	log_set_level(LOG_LVL_WARN);
	CHECK(gsasl_init("gms-unit") == 0, "gsasl_init (PLAIN and LOGIN plugins present)");
	CHECK(gsasl_init("gms-unit") == 0, "gsasl_init twice is harmless");
	CHECK_STR(gsasl_mechs(), "PLAIN LOGIN", "mechanisms offered");

	r = PLAIN("\0alice@example.org\0secret");
	CHECK(r == GSASL_DONE && strcmp(user, "alice@example.org") == 0,
	    "PLAIN: right password authenticates (%d, %s)", r, user);
	CHECK(calls == 1 && strcmp(last_pass, "secret") == 0, "PLAIN: our callback checked it");
	r = PLAIN("\0alice@example.org\0wrong!");
	CHECK(r == GSASL_FAIL, "PLAIN: wrong password fails (%d)", r);
	r = PLAIN("\0nobody@example.org\0secret");
	CHECK(r == GSASL_FAIL, "PLAIN: unknown user fails (%d)", r);
	r = PLAIN("alice@example.org\0alice@example.org\0secret");
	CHECK(r == GSASL_DONE && strcmp(user, "alice@example.org") == 0,
	    "PLAIN: authzid equal to authcid is fine (%d)", r);
	before = calls;
	r = PLAIN("bob@example.org\0alice@example.org\0secret");
	CHECK(r == GSASL_FAIL, "PLAIN: authzid bob with alice's right password is refused (%d)", r);
	before = calls;
	r = PLAIN("\0alice@example.org\0");
	CHECK(r == GSASL_FAIL && calls == before,
	    "PLAIN: empty password refused without calling the check (%d, calls %d->%d)",
	    r, before, calls);
	r = PLAIN("\0down@example.org\0secret");
	CHECK(r == GSASL_TEMPFAIL, "PLAIN: directory down is a temporary failure (%d)", r);
	r = PLAIN("garbage-without-nuls");
	CHECK(r == GSASL_FAIL, "PLAIN: malformed message fails (%d)", r);
	r = PLAIN("\0ali\tce@example.org\0secret");
	CHECK(r == GSASL_FAIL, "PLAIN: control characters in the name are refused (%d)", r);

	/* PLAIN without an initial response, with a session's addresses. */
	memset(&s, 0, sizeof(s));
	gms_strlcpy(s.peer_addr, "192.0.2.1", sizeof(s.peer_addr));
	s.peer_port = 40000;
	gms_strlcpy(s.local_addr, "192.0.2.2", sizeof(s.local_addr));
	s.local_port = 587;
	g = gsasl_new("smtp", &s, check, NULL);
	r = gsasl_start(g, "plain", NULL, 0, &out, &outlen);
	CHECK(r == GSASL_CONTINUE && outlen == 0, "PLAIN: no initial response asks with an empty challenge (%d)", r);
	r = gsasl_step(g, "\0alice@example.org\0secret", 25, &out, &outlen);
	CHECK(r == GSASL_DONE && strcmp(gsasl_user(g), "alice@example.org") == 0,
	    "PLAIN: the response step authenticates (%d)", r);
	r = gsasl_step(g, "x", 1, &out, &outlen);
	CHECK(r == GSASL_FAIL, "a step after the end fails");
	gsasl_free(&g);
	CHECK(g == NULL, "gsasl_free clears the pointer");

	/* LOGIN, step by step. */
	g = gsasl_new("imap", NULL, check, NULL);
	r = gsasl_start(g, "LOGIN", NULL, 0, &out, &outlen);
	CHECK(r == GSASL_CONTINUE && outlen == 9 && memcmp(out, "Username:", 9) == 0,
	    "LOGIN: asks for the user name (%d)", r);
	r = gsasl_step(g, "alice@example.org", 17, &out, &outlen);
	CHECK(r == GSASL_CONTINUE && outlen == 9 && memcmp(out, "Password:", 9) == 0,
	    "LOGIN: asks for the password (%d)", r);
	r = gsasl_step(g, "secret", 6, &out, &outlen);
	CHECK(r == GSASL_DONE && strcmp(gsasl_user(g), "alice@example.org") == 0,
	    "LOGIN: right password authenticates (%d)", r);
	gsasl_free(&g);

	g = gsasl_new("imap", NULL, check, NULL);
	r = gsasl_start(g, "LOGIN", "alice@example.org", 17, &out, &outlen);
	CHECK(r == GSASL_CONTINUE && outlen == 9 && memcmp(out, "Password:", 9) == 0,
	    "LOGIN: an initial response is the user name (%d)", r);
	r = gsasl_step(g, "wrong", 5, &out, &outlen);
	CHECK(r == GSASL_FAIL, "LOGIN: wrong password fails (%d)", r);
	gsasl_free(&g);

	g = gsasl_new("imap", NULL, check, NULL);
	r = gsasl_start(g, "LOGIN", NULL, 0, &out, &outlen);
	r = gsasl_step(g, "alice@example.org", 17, &out, &outlen);
	before = calls;
	r = gsasl_step(g, "", 0, &out, &outlen);
	CHECK(r == GSASL_FAIL && calls == before,
	    "LOGIN: empty password refused without calling the check (%d)", r);
	gsasl_free(&g);

	g = gsasl_new("imap", NULL, check, NULL);
	r = gsasl_start(g, "LOGIN", NULL, 0, &out, &outlen);
	r = gsasl_step(g, "down@example.org", 16, &out, &outlen);
	r = gsasl_step(g, "secret", 6, &out, &outlen);
	CHECK(r == GSASL_TEMPFAIL, "LOGIN: directory down is a temporary failure (%d)", r);
	gsasl_free(&g);

	/* A password with a NUL inside reaches the callback whole. */
	g = gsasl_new("imap", NULL, check, NULL);
	r = gsasl_start(g, "LOGIN", "bob@example.org", 15, &out, &outlen);
	r = gsasl_step(g, "b\0b", 3, &out, &outlen);
	CHECK(r == GSASL_FAIL || (r == GSASL_DONE && last_passlen == 3),
	    "LOGIN: a password with a NUL is never taken for its prefix (%d, %zu)", r, last_passlen);
	gsasl_free(&g);

	/* Other mechanisms are not offered. */
	g = gsasl_new("smtp", NULL, check, NULL);
	CHECK(gsasl_start(g, "CRAM-MD5", NULL, 0, &out, &outlen) == GSASL_BADMECH, "CRAM-MD5 refused");
	CHECK(gsasl_start(g, "ANONYMOUS", "x", 1, &out, &outlen) == GSASL_BADMECH, "ANONYMOUS refused");
	CHECK(gsasl_start(g, "PLAINX", NULL, 0, &out, &outlen) == GSASL_BADMECH, "PLAINX refused");
	gsasl_free(&g);
	gsasl_done();
	return unit_done();
}
