/*
 * test-directory.c - unit tests of the generic directory layer over the
 * static backend (tests/unit/test-directory.static) and of the result
 * cache: domains, mailboxes, resolution (exact, +tag, case, catch-all),
 * alias and list expansion with loops, depth and size limits, send-as,
 * list posting policies, authentication rules, password hashing, the
 * write operations' validation, and the cache's TTL, negative answers,
 * eviction and thread safety.  The LDAP backend is tested against a real
 * slapd in tests/protocol/test_directory.py.
 */
#include "config.h"

#include <sys/stat.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gms.h"
#include "directory/directory-private.h"
#include "tests/unit/unit.h"

#ifndef DIR_TEST_DATA
#define DIR_TEST_DATA "tests/unit/test-directory.static"
#endif

static time_t fake_now = 1000;

static time_t
fake_clock(void)
{
	return fake_now;
}

/* open_dir - a handle on the static test data with small limits. */
static struct directory *
open_dir(unsigned int flags, const char *extra)
{
	char path[] = "/tmp/gms-test-dir-XXXXXX";
	char err[256];
	struct conf *c;
	struct directory *d;
	FILE *fp;
	int fd;

	fd = mkstemp(path);
	if (fd < 0 || (fp = fdopen(fd, "w")) == NULL) {
		perror("mkstemp");
		exit(1);
	}
	fprintf(fp, "directory.uri = static:%s\n"
	    "directory.expand_limit = 5\n"
	    "directory.expand_depth = 3\n"
	    "directory.cache_ttl = 60\n"
	    "directory.negative_ttl = 10\n%s", DIR_TEST_DATA,
	    extra != NULL ? extra : "");
	fclose(fp);
	c = conf_load(path, err, sizeof(err));
	unlink(path);
	if (c == NULL) {
		printf("# conf_load: %s\n", err);
		exit(1);
	}
	d = directory_open(c, flags, err, sizeof(err));
	if (d == NULL)
		printf("# directory_open: %s\n", err);
	conf_free(&c);
	return d;
}

static void
test_domains(struct directory *d)
{
	struct dir_domain dom;

	CHECK(directory_domain(d, "mof.go.tz", &dom) == DIR_FOUND,
	    "mof.go.tz is ours");
	CHECK_STR(dom.institution, "mof", "domain owner");
	CHECK_STR(dom.dkim_selector, "gms2026", "domain DKIM selector");
	CHECK(dom.status == DIR_STATUS_ACTIVE, "domain active");
	CHECK(directory_domain(d, "MOF.Go.Tz", NULL) == DIR_FOUND,
	    "domain lookup is case-insensitive");
	CHECK(directory_domain(d, "example.org", &dom) == DIR_NOTFOUND,
	    "example.org is not ours");
	CHECK(directory_domain(d, "old.go.tz", &dom) == DIR_FOUND &&
	    dom.status == DIR_STATUS_SUSPENDED, "suspended domain found with status");
	CHECK(directory_domain(d, "*", &dom) == DIR_NOTFOUND, "'*' finds nothing");
	CHECK(directory_domain(d, "mof.go.tz)(x=*", &dom) == DIR_NOTFOUND,
	    "filter junk finds nothing");
	CHECK(directory_domain(d, NULL, &dom) == DIR_NOTFOUND, "NULL domain");
}

static void
test_institutions(struct directory *d)
{
	struct dir_institution in, *list = NULL;
	struct dir_inst_filter f = { DIR_INST_MINISTRY, NULL, NULL };
	struct dir_strv sv;
	size_t n = 0;

	CHECK(directory_institution(d, "MOF", &in) == DIR_FOUND,
	    "institution by id (any case)");
	CHECK_STR(in.name_sw, "Wizara ya Fedha na Mipango", "Swahili name");
	CHECK(in.kind == DIR_INST_MINISTRY, "kind ministry");
	CHECK(directory_institution(d, "nope", &in) == DIR_NOTFOUND,
	    "unknown institution");
	CHECK(directory_institutions(d, &f, &list, &n) == DIR_OK && n == 2,
	    "two ministries (n=%zu)", n);
	CHECK(n == 2 && strcmp(list[0].id, "afya") == 0 &&
	    strcmp(list[1].id, "mof") == 0, "sorted by id");
	free(list);
	f.kind = -1;
	f.country = "kenya";
	CHECK(directory_institutions(d, &f, &list, &n) == DIR_OK && n == 1 &&
	    strcmp(list[0].city, "Nairobi") == 0, "missions in Kenya: Nairobi");
	free(list);
	f.country = NULL;
	f.region = "Dodoma";
	CHECK(directory_institutions(d, &f, &list, &n) == DIR_OK && n == 2,
	    "institutions in Dodoma");
	free(list);
	CHECK(directory_institutions(d, NULL, &list, &n) == DIR_OK && n == 4,
	    "all institutions");
	free(list);
	CHECK(directory_domains(d, "mof", &sv) == DIR_OK && sv.n == 2 &&
	    strcmp(sv.v[0], "mof.go.tz") == 0 && strcmp(sv.v[1], "old.go.tz") == 0,
	    "domains of mof, sorted");
	dir_strv_free(&sv);
	CHECK(directory_mailboxes(d, "mof.go.tz", &sv) == DIR_OK && sv.n == 4,
	    "mailboxes of mof.go.tz (n=%zu)", sv.n);
	CHECK(sv.n == 4 && strcmp(sv.v[0], "a+b@mof.go.tz") == 0 &&
	    strcmp(sv.v[3], "susp@mof.go.tz") == 0, "mailboxes sorted");
	dir_strv_free(&sv);
	CHECK(directory_aliases(d, "MOF.go.tz", &sv) == DIR_OK && sv.n == 3 &&
	    strcmp(sv.v[0], "dangling@mof.go.tz") == 0, "aliases of mof.go.tz");
	dir_strv_free(&sv);
	CHECK(directory_lists(d, NULL, &sv) == DIR_OK && sv.n == 10,
	    "all lists (n=%zu)", sv.n);
	dir_strv_free(&sv);
	CHECK(directory_lists(d, "afya.go.tz", &sv) == DIR_OK && sv.n == 0,
	    "no lists in afya.go.tz");
	dir_strv_free(&sv);
	CHECK(directory_mailboxes(d, "*", &sv) == DIR_OK && sv.n == 0,
	    "mailboxes of domain '*': none");
	dir_strv_free(&sv);
	CHECK(dir_inst_kind_parse("Embassy") == DIR_INST_EMBASSY, "kind parse");
	CHECK(dir_inst_kind_parse("castle") == -1, "unknown kind");
	CHECK_STR(dir_inst_kind_name(99), "unknown (99)", "kind name fallback");
}

static void
test_mailbox(struct directory *d)
{
	struct dir_mailbox mb;

	CHECK(directory_mailbox(d, "juma@mof.go.tz", &mb) == DIR_FOUND,
	    "mailbox found");
	CHECK_STR(mb.display_name, "Juma Ali", "display name");
	CHECK(mb.quota_bytes == 1048576 && mb.quota_messages == 1000, "quota");
	CHECK(directory_mailbox(d, "JUMA@Mof.Go.Tz", &mb) == DIR_FOUND &&
	    strcmp(mb.address, "juma@mof.go.tz") == 0,
	    "mailbox case-insensitive, canonical address");
	CHECK(directory_mailbox(d, "asha@mof.go.tz", &mb) == DIR_FOUND &&
	    strcmp(mb.home_server, "mx2.gms.go.tz") == 0, "home server");
	CHECK(directory_mailbox(d, "info@mof.go.tz", &mb) == DIR_NOTFOUND,
	    "an alias is not a mailbox");
	CHECK(directory_mailbox(d, "juma+x@mof.go.tz", &mb) == DIR_NOTFOUND,
	    "mailbox lookup is exact (no +tag logic)");
	CHECK(directory_mailbox(d, "*@mof.go.tz", &mb) == DIR_NOTFOUND,
	    "'*' local part finds nothing");
	CHECK(directory_mailbox(d, "juma*@mof.go.tz", &mb) == DIR_NOTFOUND,
	    "'juma*' finds nothing");
}

/* has_target - is addr among the resolution's targets? */
static bool
has_target(const struct dir_resolution *r, const char *addr, bool local)
{
	size_t i;

	for (i = 0; i < r->ntargets; i++)
		if (strcmp(r->targets[i].address, addr) == 0 &&
		    r->targets[i].local == local)
			return true;
	return false;
}

static void
test_resolve(struct directory *d)
{
	struct dir_resolution *r = NULL;

	CHECK(directory_resolve(d, "Juma@MOF.GO.TZ", &r) == DIR_FOUND && r &&
	    r->kind == DIR_KIND_MAILBOX && r->ntargets == 1 &&
	    has_target(r, "juma@mof.go.tz", true), "mailbox resolves to itself");
	directory_resolution_free(&r);
	CHECK(r == NULL, "free clears the pointer");

	CHECK(directory_resolve(d, "juma+invoices@mof.go.tz", &r) == DIR_FOUND &&
	    r && strcmp(r->address, "juma@mof.go.tz") == 0 &&
	    strcmp(r->detail, "invoices") == 0, "plus-addressing");
	directory_resolution_free(&r);
	CHECK(directory_resolve(d, "a+b@mof.go.tz", &r) == DIR_FOUND && r &&
	    strcmp(r->address, "a+b@mof.go.tz") == 0 && r->detail[0] == '\0',
	    "an exact address with '+' wins over plus-addressing");
	directory_resolution_free(&r);
	CHECK(directory_resolve(d, "nobody+x@mof.go.tz", &r) == DIR_NOTFOUND &&
	    r == NULL, "unknown with +tag: not found");
	CHECK(directory_resolve(d, "+x@mof.go.tz", &r) == DIR_NOTFOUND,
	    "empty base before '+': not found");

	CHECK(directory_resolve(d, "info@mof.go.tz", &r) == DIR_FOUND && r &&
	    r->kind == DIR_KIND_ALIAS && r->ntargets == 2 &&
	    has_target(r, "juma@mof.go.tz", true) &&
	    has_target(r, "asha@mof.go.tz", true), "alias expands");
	directory_resolution_free(&r);
	CHECK(directory_resolve(d, "ext@mof.go.tz", &r) == DIR_FOUND && r &&
	    r->ntargets == 2 && has_target(r, "someone@example.org", false) &&
	    has_target(r, "juma@mof.go.tz", true),
	    "alias with a remote target; duplicate (other case) removed");
	directory_resolution_free(&r);
	CHECK(directory_resolve(d, "dangling@mof.go.tz", &r) == DIR_FOUND && r &&
	    r->ntargets == 1 && has_target(r, "asha@mof.go.tz", true),
	    "dangling local member skipped");
	directory_resolution_free(&r);

	CHECK(directory_resolve(d, "staff@mof.go.tz", &r) == DIR_FOUND && r &&
	    r->kind == DIR_KIND_LIST && r->policy == DIR_POST_MEMBERS &&
	    r->ntargets == 2 && has_target(r, "juma@mof.go.tz", true) &&
	    has_target(r, "asha@mof.go.tz", true),
	    "nested lists with a loop (staff <-> team) terminate");
	directory_resolution_free(&r);
	CHECK(directory_resolve(d, "self@mof.go.tz", &r) == DIR_FOUND && r &&
	    r->ntargets == 1, "a list containing itself terminates");
	directory_resolution_free(&r);
	CHECK(directory_resolve(d, "big@mof.go.tz", &r) == DIR_PERMFAIL &&
	    r == NULL, "expansion past expand_limit is a permanent failure");
	CHECK(directory_resolve(d, "deep1@mof.go.tz", &r) == DIR_PERMFAIL &&
	    r == NULL, "nesting past expand_depth is a permanent failure");
	CHECK(directory_resolve(d, "deep3@mof.go.tz", &r) == DIR_FOUND && r &&
	    has_target(r, "juma@mof.go.tz", true), "nesting within the depth works");
	directory_resolution_free(&r);

	CHECK(directory_resolve(d, "anything@afya.go.tz", &r) == DIR_FOUND && r &&
	    r->catchall && strcmp(r->address, "postmaster@afya.go.tz") == 0,
	    "catch-all");
	directory_resolution_free(&r);
	CHECK(directory_resolve(d, "postmaster@afya.go.tz", &r) == DIR_FOUND &&
	    r && !r->catchall, "exact match is not the catch-all");
	directory_resolution_free(&r);
	CHECK(directory_resolve(d, "nobody@mof.go.tz", &r) == DIR_NOTFOUND,
	    "unknown in a domain without catch-all");
	CHECK(directory_resolve(d, "juma@example.org", &r) == DIR_NOTFOUND,
	    "not our domain");
	CHECK(directory_resolve(d, "*@mof.go.tz", &r) == DIR_NOTFOUND,
	    "'*' does not match anything");
	CHECK(directory_resolve(d, "juma@mof.go.tz\n", &r) == DIR_NOTFOUND,
	    "trailing newline refused");
	CHECK(directory_resolve(d, "", &r) == DIR_NOTFOUND, "empty address");
	CHECK(directory_resolve(d, "susp@mof.go.tz", &r) == DIR_FOUND && r &&
	    r->targets[0].status == DIR_STATUS_SUSPENDED,
	    "suspended mailbox resolves with its status");
	directory_resolution_free(&r);
}

static void
test_policies(struct directory *d)
{
	CHECK(directory_may_send_as(d, "juma@mof.go.tz", "juma@mof.go.tz") == 1,
	    "send as own address");
	CHECK(directory_may_send_as(d, "juma@mof.go.tz", "JUMA+x@mof.go.tz") == 1,
	    "send as own address with tag and case");
	CHECK(directory_may_send_as(d, "juma@mof.go.tz", "info@mof.go.tz") == 1,
	    "send as an owned alias");
	CHECK(directory_may_send_as(d, "asha@mof.go.tz", "info@mof.go.tz") == 0,
	    "not as someone else's alias");
	CHECK(directory_may_send_as(d, "asha@mof.go.tz", "juma@mof.go.tz") == 0,
	    "not as another mailbox");
	CHECK(directory_may_send_as(d, "asha@mof.go.tz", "staff@mof.go.tz") == 1,
	    "send as an owned list");
	CHECK(directory_may_send_as(d, "juma@mof.go.tz", "ext@mof.go.tz") == 0,
	    "not as an alias without owner");
	CHECK(directory_may_send_as(d, "juma@mof.go.tz", "") == 0,
	    "not as the empty address");

	CHECK(directory_list_may_post(d, "team@mof.go.tz", "x@example.org") == 1,
	    "anyone may post to team");
	CHECK(directory_list_may_post(d, "staff@mof.go.tz", "juma@mof.go.tz") == 1,
	    "a member may post to staff");
	CHECK(directory_list_may_post(d, "staff@mof.go.tz", "Juma+t@MOF.go.tz") == 1,
	    "a member with tag and case may post");
	CHECK(directory_list_may_post(d, "staff@mof.go.tz", "x@example.org") == 0,
	    "an outsider may not post to staff");
	CHECK(directory_list_may_post(d, "staff@mof.go.tz",
	    "postmaster@afya.go.tz") == 0, "a non-member of ours may not post");
	CHECK(directory_list_may_post(d, "staff@mof.go.tz", "") == 0,
	    "the null sender may not post to a members list");
	CHECK(directory_list_may_post(d, "gov@mof.go.tz",
	    "postmaster@afya.go.tz") == 1, "our domains may post to gov");
	CHECK(directory_list_may_post(d, "gov@mof.go.tz", "x@example.org") == 0,
	    "others may not post to gov");
	CHECK(directory_list_may_post(d, "gov@mof.go.tz", "x@old.go.tz") == 0,
	    "a suspended domain may not post to gov");
	CHECK(directory_list_may_post(d, "info@mof.go.tz", "juma@mof.go.tz") == 0,
	    "an alias is not a list");
}

static void
test_auth(struct directory *d)
{
	struct dir_mailbox mb;

	CHECK(directory_authenticate(d, "juma@mof.go.tz", "secret-juma", 11,
	    &mb) == 1 && strcmp(mb.address, "juma@mof.go.tz") == 0,
	    "right password");
	CHECK(directory_authenticate(d, "JUMA@mof.go.tz", "secret-juma", 11,
	    NULL) == 1, "user name is case-insensitive");
	CHECK(directory_authenticate(d, "juma@mof.go.tz", "secret-jumA", 11,
	    NULL) == 0, "wrong password");
	CHECK(directory_authenticate(d, "nobody@mof.go.tz", "secret-juma", 11,
	    NULL) == 0, "unknown user: same answer as wrong password");
	CHECK(directory_authenticate(d, "juma@mof.go.tz", "", 0, NULL) == 0,
	    "empty password refused");
	CHECK(directory_authenticate(d, "juma@mof.go.tz", NULL, 0, NULL) == 0,
	    "NULL password refused");
	CHECK(directory_authenticate(d, "juma@mof.go.tz", "secret-juma\0x", 13,
	    NULL) == 0, "password with NUL refused");
	CHECK(directory_authenticate(d, "susp@mof.go.tz", "secret-susp", 11,
	    NULL) == 0, "suspended mailbox refused");
	CHECK(directory_authenticate(d, "info@mof.go.tz", "x", 1, NULL) == 0,
	    "an alias cannot log in");
	CHECK(directory_authenticate(d, "*", "x", 1, NULL) == 0,
	    "'*' as user refused");
	CHECK(directory_change_password(d, "asha@mof.go.tz", "wrong", 5,
	    "new-pass", 8) == DIR_EPERM, "change password: wrong old one");
	CHECK(directory_change_password(d, "asha@mof.go.tz", "secret-asha", 11,
	    "", 0) == DIR_EINVAL, "change password: empty new one");
	CHECK(directory_change_password(d, "asha@mof.go.tz", "secret-asha", 11,
	    "new-pass", 8) == DIR_OK, "change password");
	CHECK(directory_authenticate(d, "asha@mof.go.tz", "new-pass", 8,
	    NULL) == 1, "new password works (stored as {SSHA512})");
	CHECK(directory_authenticate(d, "asha@mof.go.tz", "secret-asha", 11,
	    NULL) == 0, "old password no longer works");
}

static void
test_hash(void)
{
	char *h1 = directory_hash_password("pw", 2);
	char *h2 = directory_hash_password("pw", 2);

	CHECK(h1 != NULL && strncmp(h1, "{SSHA512}", 9) == 0, "hash scheme");
	/* 64 bytes digest + 16 salt = 80 bytes = 108 base64 characters. */
	CHECK(h1 != NULL && strlen(h1) == 9 + 108, "hash length");
	CHECK(h1 && h2 && strcmp(h1, h2) != 0, "random salt: hashes differ");
	CHECK(directory_hash_password("", 0) == NULL, "empty password: no hash");
	free(h1);
	free(h2);
}

static void
test_writes(void)
{
	struct directory *ro = open_dir(0, NULL), *d = open_dir(DIR_OPEN_ADMIN, NULL);
	struct dir_institution in;
	struct dir_domain dom;
	struct dir_mailbox mb;
	struct dir_list l;
	struct dir_alias a;
	const char *t[] = { "Juma@mof.go.tz", "x@example.org" };

	CHECK(ro != NULL && d != NULL, "open read-only and admin handles");
	if (ro == NULL || d == NULL)
		return;
	memset(&in, 0, sizeof(in));
	(void)gms_strlcpy(in.id, "tcra", sizeof(in.id));
	in.kind = DIR_INST_AGENCY;
	(void)gms_strlcpy(in.name_en, "Communications Regulatory Authority",
	    sizeof(in.name_en));
	CHECK(directory_institution_add(ro, &in) == DIR_EPERM,
	    "read-only handle cannot write");
	CHECK(directory_institution_add(d, &in) == DIR_OK, "add institution");
	CHECK(directory_institution_add(d, &in) == DIR_EEXIST,
	    "add institution twice");
	in.kind = 42;
	CHECK(directory_institution_modify(d, &in) == DIR_EINVAL, "bad kind");
	in.kind = DIR_INST_AGENCY;
	(void)gms_strlcpy(in.id, "t*", sizeof(in.id));
	CHECK(directory_institution_add(d, &in) == DIR_EINVAL, "bad id");

	memset(&dom, 0, sizeof(dom));
	(void)gms_strlcpy(dom.name, "TCRA.go.tz", sizeof(dom.name));
	(void)gms_strlcpy(dom.institution, "nope", sizeof(dom.institution));
	CHECK(directory_domain_add(d, &dom) == DIR_ENOENT,
	    "domain of an unknown institution");
	(void)gms_strlcpy(dom.institution, "tcra", sizeof(dom.institution));
	CHECK(directory_domain(d, "tcra.go.tz", NULL) == DIR_NOTFOUND,
	    "domain absent before add (now cached negative)");
	CHECK(directory_domain_add(d, &dom) == DIR_OK, "add domain");
	CHECK(directory_domain(d, "tcra.go.tz", NULL) == DIR_FOUND,
	    "write flushed the negative cache");
	CHECK(directory_institution_delete(d, "tcra") == DIR_ENOTEMPTY,
	    "institution with a domain cannot go");

	memset(&mb, 0, sizeof(mb));
	(void)gms_strlcpy(mb.address, "Neema@tcra.go.tz", sizeof(mb.address));
	(void)gms_strlcpy(mb.display_name, "Neema Said", sizeof(mb.display_name));
	CHECK(directory_mailbox_add(d, &mb, "pw-neema", 8) == DIR_OK,
	    "add mailbox");
	CHECK(directory_authenticate(d, "neema@tcra.go.tz", "pw-neema", 8,
	    NULL) == 1, "new mailbox logs in (hashed password)");
	CHECK(directory_set_password(d, "neema@tcra.go.tz", "pw2", 3) == DIR_OK,
	    "set password");
	CHECK(directory_authenticate(d, "neema@tcra.go.tz", "pw2", 3, NULL) == 1,
	    "set password works");
	mb.status = DIR_STATUS_SUSPENDED;
	CHECK(directory_mailbox_modify(d, &mb) == DIR_OK, "suspend mailbox");
	CHECK(directory_authenticate(d, "neema@tcra.go.tz", "pw2", 3, NULL) == 0,
	    "suspended at once");
	(void)gms_strlcpy(mb.address, "x@nowhere.go.tz", sizeof(mb.address));
	CHECK(directory_mailbox_add(d, &mb, NULL, 0) == DIR_ENOENT,
	    "mailbox in a domain that is not ours");
	(void)gms_strlcpy(mb.address, "x\n@tcra.go.tz", sizeof(mb.address));
	CHECK(directory_mailbox_add(d, &mb, NULL, 0) == DIR_EINVAL,
	    "malformed mailbox address");

	CHECK(directory_alias_add(d, "help@tcra.go.tz", "neema@tcra.go.tz", t,
	    2) == DIR_OK, "add alias");
	CHECK(directory_alias(d, "help@tcra.go.tz", &a) == DIR_FOUND &&
	    a.targets.n == 2 && strcmp(a.targets.v[0], "juma@mof.go.tz") == 0,
	    "read alias (targets normalized)");
	dir_alias_clear(&a);
	CHECK(directory_alias_add(d, "help2@tcra.go.tz", NULL, t, 0) == DIR_EINVAL,
	    "alias without targets");

	memset(&l, 0, sizeof(l));
	(void)gms_strlcpy(l.address, "all@tcra.go.tz", sizeof(l.address));
	l.policy = DIR_POST_DOMAINS;
	CHECK(directory_list_add(d, &l) == DIR_OK, "add empty list");
	CHECK(directory_list_member_add(d, "all@tcra.go.tz", "neema@tcra.go.tz")
	    == DIR_OK, "add member");
	CHECK(directory_list_member_add(d, "all@tcra.go.tz", "NEEMA@tcra.go.tz")
	    == DIR_EEXIST, "add member twice");
	CHECK(directory_list(d, "all@tcra.go.tz", &l) == DIR_FOUND &&
	    l.members.n == 1 && l.policy == DIR_POST_DOMAINS, "read list");
	dir_list_clear(&l);
	CHECK(directory_list_member_remove(d, "all@tcra.go.tz", "neema@tcra.go.tz")
	    == DIR_OK, "remove member");
	CHECK(directory_list_member_remove(d, "all@tcra.go.tz", "neema@tcra.go.tz")
	    == DIR_ENOENT, "remove absent member");
	CHECK(directory_domain_delete(d, "tcra.go.tz") == DIR_ENOTEMPTY,
	    "domain with mailboxes cannot go");
	CHECK(directory_list_delete(d, "all@tcra.go.tz") == DIR_OK, "delete list");
	CHECK(directory_alias_delete(d, "help@tcra.go.tz") == DIR_OK,
	    "delete alias");
	CHECK(directory_alias_delete(d, "help@tcra.go.tz") == DIR_ENOENT,
	    "delete alias twice");
	CHECK(directory_mailbox_delete(d, "neema@tcra.go.tz") == DIR_OK,
	    "delete mailbox");
	CHECK(directory_domain_delete(d, "tcra.go.tz") == DIR_OK, "delete domain");
	CHECK(directory_institution_delete(d, "tcra") == DIR_OK,
	    "delete institution");
	CHECK(directory_institution(d, "tcra", NULL) == DIR_NOTFOUND,
	    "institution gone");
	directory_close(&ro);
	directory_close(&d);
	CHECK(d == NULL, "close clears the handle");
}

static void
test_cache_through_handle(void)
{
	struct directory *d = open_dir(0, NULL);
	struct dir_stats s0, s1;
	struct dir_mailbox mb;

	dcache_clock = fake_clock;
	directory_stats(d, &s0);
	CHECK(directory_mailbox(d, "juma@mof.go.tz", &mb) == DIR_FOUND,
	    "cold lookup");
	CHECK(directory_mailbox(d, "juma@mof.go.tz", &mb) == DIR_FOUND,
	    "warm lookup");
	directory_stats(d, &s1);
	CHECK(s1.backend_calls - s0.backend_calls == 1 &&
	    s1.cache_hits - s0.cache_hits == 1, "second lookup from the cache");
	CHECK(directory_mailbox(d, "ghost@mof.go.tz", &mb) == DIR_NOTFOUND &&
	    directory_mailbox(d, "ghost@mof.go.tz", &mb) == DIR_NOTFOUND,
	    "negative lookups");
	directory_stats(d, &s0);
	CHECK(s0.backend_calls - s1.backend_calls == 1, "negative answer cached");
	fake_now += 11;
	CHECK(directory_mailbox(d, "ghost@mof.go.tz", &mb) == DIR_NOTFOUND,
	    "negative lookup after negative_ttl");
	CHECK(directory_mailbox(d, "juma@mof.go.tz", &mb) == DIR_FOUND,
	    "positive lookup within ttl");
	directory_stats(d, &s1);
	CHECK(s1.backend_calls - s0.backend_calls == 1,
	    "negative entry expired, positive one kept");
	fake_now += 60;
	CHECK(directory_mailbox(d, "juma@mof.go.tz", &mb) == DIR_FOUND,
	    "positive lookup after ttl");
	directory_stats(d, &s0);
	CHECK(s0.backend_calls - s1.backend_calls == 1, "positive entry expired");
	directory_cache_flush(d);
	CHECK(directory_mailbox(d, "juma@mof.go.tz", &mb) == DIR_FOUND,
	    "lookup after flush");
	directory_stats(d, &s1);
	CHECK(s1.backend_calls - s0.backend_calls == 1, "flush empties the cache");
	directory_close(&d);
	dcache_clock = fake_clock;
}

static void
test_cache_unit(void)
{
	struct dcache *c = dcache_new(2, 60, 10);
	struct dir_domain a, b;
	struct dir_entry e, got;

	memset(&a, 0, sizeof(a));
	(void)gms_strlcpy(a.name, "a.tz", sizeof(a.name));
	CHECK(dcache_get(c, DCACHE_DOMAIN, "a.tz", &b) == DIR_TEMPFAIL,
	    "cache miss says ask the backend");
	dcache_put(c, DCACHE_DOMAIN, "a.tz", &a);
	CHECK(dcache_get(c, DCACHE_DOMAIN, "a.tz", &b) == DIR_FOUND &&
	    strcmp(b.name, "a.tz") == 0, "cache hit");
	CHECK(dcache_get(c, DCACHE_ENTRY, "a.tz", &e) == DIR_TEMPFAIL,
	    "types do not mix");
	dcache_put(c, DCACHE_DOMAIN, "n.tz", NULL);
	CHECK(dcache_get(c, DCACHE_DOMAIN, "n.tz", &b) == DIR_NOTFOUND,
	    "negative hit");
	(void)dcache_get(c, DCACHE_DOMAIN, "a.tz", &b);	/* a most recent */
	dcache_put(c, DCACHE_DOMAIN, "c.tz", &a);
	CHECK(dcache_count(c) == 2, "size bounded");
	CHECK(dcache_get(c, DCACHE_DOMAIN, "n.tz", &b) == DIR_TEMPFAIL,
	    "least recently used evicted");
	CHECK(dcache_get(c, DCACHE_DOMAIN, "a.tz", &b) == DIR_FOUND,
	    "recently used kept");

	memset(&e, 0, sizeof(e));
	e.kind = DIR_KIND_LIST;
	dir_strv_add(&e.members, "m1@x.tz");
	dcache_put(c, DCACHE_ENTRY, "l@x.tz", &e);
	dir_entry_clear(&e);
	CHECK(dcache_get(c, DCACHE_ENTRY, "l@x.tz", &got) == DIR_FOUND &&
	    got.members.n == 1 && strcmp(got.members.v[0], "m1@x.tz") == 0,
	    "entries deep-copied in and out");
	dir_entry_clear(&got);
	fake_now += 61;
	CHECK(dcache_get(c, DCACHE_ENTRY, "l@x.tz", &got) == DIR_TEMPFAIL,
	    "expired entry gone");
	dcache_flush(c);
	CHECK(dcache_count(c) == 0, "flush");
	dcache_free(&c);
	CHECK(c == NULL, "free clears");

	c = dcache_new(10, 0, 0);
	dcache_put(c, DCACHE_DOMAIN, "a.tz", &a);
	CHECK(dcache_count(c) == 0, "ttl 0 keeps nothing");
	dcache_free(&c);
}

struct hammer {
	struct directory	*d;
	int			 bad;
};

static void *
hammer_run(void *arg)
{
	struct hammer *h = arg;
	struct dir_resolution *r;
	int i;

	for (i = 0; i < 2000; i++) {
		const char *addr = (i % 3 == 0) ? "staff@mof.go.tz" :
		    (i % 3 == 1) ? "juma@mof.go.tz" : "ghost@mof.go.tz";
		int want = i % 3 == 2 ? DIR_NOTFOUND : DIR_FOUND;

		if (directory_resolve(h->d, addr, &r) != want)
			h->bad++;
		directory_resolution_free(&r);
		if (i % 100 == 0)
			directory_cache_flush(h->d);
	}
	return NULL;
}

static void
test_threads(void)
{
	struct directory *d = open_dir(0, "directory.cache_size = 3\n");
	struct hammer h[4];
	pthread_t t[4];
	int i, bad = 0;

	for (i = 0; i < 4; i++) {
		h[i].d = d;
		h[i].bad = 0;
		pthread_create(&t[i], NULL, hammer_run, &h[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		bad += h[i].bad;
	}
	CHECK(bad == 0, "4 threads x 2000 lookups with a tiny cache: all right "
	    "(bad=%d)", bad);
	directory_close(&d);
}

static void
test_open_errors(void)
{
	char err[256] = "";
	struct conf *c;
	char path[] = "/tmp/gms-test-dir-XXXXXX";
	FILE *fp;
	int fd = mkstemp(path);

	fp = fdopen(fd, "w");
	fprintf(fp, "directory.uri = http://x/\n");
	fclose(fp);
	c = conf_load(path, err, sizeof(err));
	CHECK(c != NULL && directory_open(c, 0, err, sizeof(err)) == NULL &&
	    strstr(err, "directory.uri") != NULL, "unknown URI scheme refused");
	conf_free(&c);
	fp = fopen(path, "w");
	fprintf(fp, "directory.uri = ldap://127.0.0.1:1/\n"
	    "directory.bind_password_file = %s\n", path);
	fclose(fp);
	chmod(path, 0644);
	c = conf_load(path, err, sizeof(err));
	CHECK(c != NULL && directory_open(c, 0, err, sizeof(err)) == NULL &&
	    strstr(err, "group or others") != NULL,
	    "world-readable password file refused");
	conf_free(&c);
	unlink(path);
}

static void
test_open_as(void)
{
	char path[] = "/tmp/gms-test-dir-XXXXXX", err[256];
	struct directory *d;
	struct conf *c;
	FILE *fp;
	int fd = mkstemp(path);

	fp = fdopen(fd, "w");
	fprintf(fp, "directory.uri = static:%s\n", DIR_TEST_DATA);
	fclose(fp);
	c = conf_load(path, err, sizeof(err));
	unlink(path);
	CHECK(c != NULL, "conf for open_as");
	if (c == NULL)
		return;
	CHECK(directory_open_as(c, "juma@mof.go.tz", "", 0, err,
	    sizeof(err)) == NULL, "open_as: empty password refused");
	CHECK(directory_open_as(c, "juma*", "x", 1, err, sizeof(err)) == NULL,
	    "open_as: malformed user refused");
	d = directory_open_as(c, "Juma@mof.go.tz", "secret-juma", 11, err,
	    sizeof(err));
	CHECK(d != NULL, "open_as: handle");
	if (d != NULL) {
		struct dir_domain dom;

		memset(&dom, 0, sizeof(dom));
		(void)gms_strlcpy(dom.name, "new.go.tz", sizeof(dom.name));
		(void)gms_strlcpy(dom.institution, "mof", sizeof(dom.institution));
		CHECK(directory_domain_add(d, &dom) == DIR_OK,
		    "open_as: writes reach the backend (slapd's ACLs decide)");
		directory_close(&d);
	}
	conf_free(&c);
}

int
main(void)
{
	struct directory *d;

	log_init("test-directory", true);
	log_set_level(LOG_LVL_ERROR);
	conf_register(directory_conf_table);
	dcache_clock = fake_clock;
	d = open_dir(0, NULL);
	CHECK(d != NULL, "open static directory");
	if (d == NULL)
		return unit_done();
	test_domains(d);
	test_institutions(d);
	test_mailbox(d);
	test_resolve(d);
	test_policies(d);
	test_auth(d);
	directory_close(&d);
	test_hash();
	test_writes();
	test_cache_through_handle();
	test_cache_unit();
	test_threads();
	test_open_errors();
	test_open_as();
	return unit_done();
}
