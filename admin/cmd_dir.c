/*
 * cmd_dir.c - the directory commands of gmsadm: institution, domain,
 * mailbox, alias and list, on top of directory.h; and the scope checks of
 * delegated administration.
 *
 * Every write goes through the directory library (which escapes every
 * value that enters a DN or a filter).  With --as, the directory handle
 * is bound as the domain administrator's own mailbox, so slapd's ACLs
 * decide; gmsadm checks the same scope first (the institution that owns
 * the domain must be the administrator's) to give a clear message rather
 * than an LDAP error.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin.h"
#include "directory/directory.h"
#include "spool/spool.h"

/* ------------------------------------------------------------------ */
/* Helpers. */

/* dir_fail - a directory error with the advice that fits it. */
static int
dir_fail(struct adm *a, int rc, const char *what, const char *name)
{
	const char *advice = "";

	switch (rc) {
	case DIR_TEMPFAIL:
		advice = "; the directory is unavailable, try again later";
		break;
	case DIR_EEXIST:
		advice = "; it already exists";
		break;
	case DIR_NOTFOUND:
	case DIR_ENOENT:
		advice = "; check the name (or that what it refers to exists)";
		break;
	case DIR_EINVAL:
		advice = "; a value is malformed or too long";
		break;
	case DIR_EPERM:
		advice = a->as_user != NULL ?
		    "; the directory refused: your account may not change this" :
		    "; the directory refused: check directory.admin_dn";
		break;
	case DIR_ENOTEMPTY:
		advice = "; it is still in use: delete what it holds first";
		break;
	default:
		break;
	}
	/* Only failures come here: DIR_NOTFOUND (0) is "not found". */
	return adm_fail(a, rc == DIR_NOTFOUND ? EX_NOUSER : adm_dir_exit(rc),
	    "%s %s: %s%s", what, name, rc == DIR_NOTFOUND ? "not found" :
	    directory_strerror(rc), advice);
}

static const char *
domain_of(const char *address)
{
	const char *at = strrchr(address, '@');

	return at != NULL ? at + 1 : "";
}

int
adm_check_domain_scope(struct adm *a, const char *domain)
{
	struct dir_domain dom;
	int rc;

	if (a->scope[0] == '\0')
		return EX_OK;
	rc = directory_domain(a->dir, domain, &dom);
	if (rc == DIR_TEMPFAIL)
		return dir_fail(a, rc, "domain", domain);
	if (rc != DIR_FOUND || gms_strcasecmp(dom.institution, a->scope) != 0)
		return adm_fail(a, EX_NOPERM, "%s may administer only the "
		    "domains of institution '%s'; %s is not one of them "
		    "(ask that institution's administrator or the GMS "
		    "operators)", a->as_user, a->scope, domain);
	return EX_OK;
}

int
adm_check_address_scope(struct adm *a, const char *address)
{
	if (strchr(address, '@') == NULL)
		return adm_fail(a, EX_USAGE, "'%s' is not an address "
		    "(local@domain)", address);
	return adm_check_domain_scope(a, domain_of(address));
}

/* parse_size - "10M" style sizes for quotas; 0 or -1. */
static int
parse_size(const char *s, uint64_t *v_r)
{
	uint64_t n, mul = 1;
	size_t len = strlen(s);

	if (len == 0)
		return -1;
	switch (s[len - 1]) {
	case 'k': case 'K': mul = 1024; len--; break;
	case 'm': case 'M': mul = 1024 * 1024; len--; break;
	case 'g': case 'G': mul = 1024ULL * 1024 * 1024; len--; break;
	case 't': case 'T': mul = 1024ULL * 1024 * 1024 * 1024; len--; break;
	default: break;
	}
	if (gms_parse_u64(s, len, UINT64_MAX / mul, &n) < 0)
		return -1;
	*v_r = n * mul;
	return 0;
}

static void
fmt_size(uint64_t n, char *dst, size_t len)
{
	if (n == 0)
		(void)gms_snprintf(dst, len, "unlimited");
	else if (n % (1024ULL * 1024 * 1024) == 0)
		(void)gms_snprintf(dst, len, "%lluG",
		    (unsigned long long)(n >> 30));
	else if (n % (1024 * 1024) == 0)
		(void)gms_snprintf(dst, len, "%lluM",
		    (unsigned long long)(n >> 20));
	else
		(void)gms_snprintf(dst, len, "%llu", (unsigned long long)n);
}

/* copy_field - bounded copy of an option into a fixed field. */
static int
copy_field(struct adm *a, char *dst, size_t len, const char *v,
    const char *what)
{
	if (gms_strlcpy(dst, v, len) < 0)
		return adm_fail(a, EX_DATAERR, "%s is too long (at most %zu "
		    "bytes)", what, len - 1);
	return EX_OK;
}

/* Every handler starts with this: parse options, collect operands. */
#define OPTS_BEGIN(opts) \
	struct adm_getopt g; \
	const char *arg; \
	int ch, code = EX_OK; \
	adm_getopt_init(&g, argc, argv, (opts)); \
	while ((ch = adm_getopt_next(&g, &arg)) != -1) { \
		switch (ch) {
#define OPTS_END(cmd, nmin, nmax) \
		default: \
			adm_getopt_free(&g); \
			return EX_USAGE; \
		} \
		if (code != EX_OK) { \
			adm_getopt_free(&g); \
			return code; \
		} \
	} \
	if (g.noperands < (nmin) || ((nmax) >= 0 && g.noperands > (nmax))) { \
		adm_getopt_free(&g); \
		return adm_usage(a, (cmd), false); \
	}

static const struct adm_cmd *find_self(const char *group, const char *name);

/* ------------------------------------------------------------------ */
/* institution */

static void
inst_object(struct adm_out *o, const struct dir_institution *in)
{
	adm_object_str(o, "id", in->id);
	adm_object_str(o, "kind", dir_inst_kind_name(in->kind));
	adm_object_str(o, "name_en", in->name_en);
	adm_object_str(o, "name_sw", in->name_sw);
	adm_object_str(o, "region", in->region);
	adm_object_str(o, "country", in->country);
	adm_object_str(o, "city", in->city);
	adm_object_str(o, "domain", in->domain);
	adm_object_str(o, "contact", in->contact);
	adm_object_str(o, "phone", in->phone);
}

static const struct adm_opt inst_opts[] = {
	{ "kind", true, 'k' }, { "region", true, 'r' },
	{ "country", true, 'C' }, { "city", true, 't' },
	{ "name-en", true, 'n' }, { "name-sw", true, 's' },
	{ "domain", true, 'd' }, { "contact", true, 'm' },
	{ "phone", true, 'p' }, { NULL, false, 0 },
};

static int
cmd_inst_list(struct adm *a, int argc, char **argv)
{
	static const char *const cols[] = { "id", "kind", "name", "region",
	    "country", "city", "domain" };
	struct dir_inst_filter f = { -1, NULL, NULL };
	struct dir_institution *v = NULL;
	struct adm_out *o;
	size_t n = 0, i;
	int rc;

	OPTS_BEGIN(inst_opts)
	case 'k':
		if ((f.kind = dir_inst_kind_parse(arg)) < 0)
			code = adm_fail(a, EX_USAGE, "unknown kind '%s': one of "
			    "ministry department agency region hospital "
			    "council embassy", arg);
		break;
	case 'r':
		f.region = arg;
		break;
	case 'C':
		f.country = arg;
		break;
	OPTS_END(find_self("institution", "list"), 0, 0)
	adm_getopt_free(&g);
	rc = directory_institutions(a->dir, &f, &v, &n);
	if (rc != DIR_OK)
		return dir_fail(a, rc, "institutions", "");
	o = adm_table_new(a, cols, 7);
	for (i = 0; i < n; i++) {
		const char *row[7];

		if (a->scope[0] != '\0' && strcmp(v[i].id, a->scope) != 0)
			continue;
		row[0] = v[i].id;
		row[1] = dir_inst_kind_name(v[i].kind);
		row[2] = v[i].name_en;
		row[3] = v[i].region;
		row[4] = v[i].country;
		row[5] = v[i].city;
		row[6] = v[i].domain;
		adm_table_row(o, row);
	}
	adm_out_print(&o);
	free(v);
	return EX_OK;
}

static int
cmd_inst_show(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt none[] = { { NULL, false, 0 } };
	struct dir_institution in;
	struct dir_strv doms = { NULL, 0 };
	struct adm_out *o;
	int rc;

	OPTS_BEGIN(none)
	OPTS_END(find_self("institution", "show"), 1, 1)
	rc = directory_institution(a->dir, g.operands[0], &in);
	if (rc != DIR_FOUND) {
		code = dir_fail(a, rc, "institution", g.operands[0]);
		adm_getopt_free(&g);
		return code;
	}
	adm_getopt_free(&g);
	o = adm_object_new(a);
	inst_object(o, &in);
	if (directory_domains(a->dir, in.id, &doms) == DIR_OK)
		adm_object_list(o, "domains", (const char *const *)doms.v,
		    doms.n);
	dir_strv_free(&doms);
	adm_out_print(&o);
	return EX_OK;
}

/* inst_apply - options onto an institution record. */
static int
inst_apply(struct adm *a, struct dir_institution *in, int ch, const char *v)
{
	switch (ch) {
	case 'k':
		if ((in->kind = dir_inst_kind_parse(v)) < 0)
			return adm_fail(a, EX_USAGE, "unknown kind '%s': one of "
			    "ministry department agency region hospital "
			    "council embassy", v);
		return EX_OK;
	case 'r':
		return copy_field(a, in->region, sizeof(in->region), v,
		    "--region");
	case 'C':
		return copy_field(a, in->country, sizeof(in->country), v,
		    "--country");
	case 't':
		return copy_field(a, in->city, sizeof(in->city), v, "--city");
	case 'n':
		return copy_field(a, in->name_en, sizeof(in->name_en), v,
		    "--name-en");
	case 's':
		return copy_field(a, in->name_sw, sizeof(in->name_sw), v,
		    "--name-sw");
	case 'd':
		return copy_field(a, in->domain, sizeof(in->domain), v,
		    "--domain");
	case 'm':
		return copy_field(a, in->contact, sizeof(in->contact), v,
		    "--contact");
	case 'p':
		return copy_field(a, in->phone, sizeof(in->phone), v,
		    "--phone");
	default:
		return EX_USAGE;
	}
}

static int
cmd_inst_add_modify(struct adm *a, int argc, char **argv, bool add)
{
	struct dir_institution in;
	struct adm_getopt g;
	const char *arg;
	int ch, code = EX_OK, rc;
	const struct adm_cmd *self = find_self("institution", add ? "add" :
	    "modify");

	memset(&in, 0, sizeof(in));
	in.kind = -1;
	/* For modify: start from the stored record; options replace fields. */
	adm_getopt_init(&g, argc, argv, inst_opts);
	while ((ch = adm_getopt_next(&g, &arg)) != -1)
		if (ch == '?') {
			adm_getopt_free(&g);
			return EX_USAGE;
		}
	if (g.noperands != 1) {
		adm_getopt_free(&g);
		return adm_usage(a, self, false);
	}
	if (a->scope[0] != '\0' && (add || strcmp(g.operands[0], a->scope))) {
		code = adm_fail(a, EX_NOPERM, "%s may change only institution "
		    "'%s'%s", a->as_user, a->scope, add ? "; adding "
		    "institutions is for the GMS operators" : "");
		adm_getopt_free(&g);
		return code;
	}
	if (!add) {
		rc = directory_institution(a->dir, g.operands[0], &in);
		if (rc != DIR_FOUND) {
			code = dir_fail(a, rc, "institution", g.operands[0]);
			adm_getopt_free(&g);
			return code;
		}
	} else if ((code = copy_field(a, in.id, sizeof(in.id), g.operands[0],
	    "the id")) != EX_OK) {
		adm_getopt_free(&g);
		return code;
	}
	adm_getopt_free(&g);
	adm_getopt_init(&g, argc, argv, inst_opts);
	while (code == EX_OK && (ch = adm_getopt_next(&g, &arg)) != -1)
		code = inst_apply(a, &in, ch, arg);
	adm_getopt_free(&g);
	if (code != EX_OK)
		return code;
	if (in.kind < 0)
		return adm_fail(a, EX_USAGE, "--kind is required: ministry "
		    "department agency region hospital council embassy");
	if (in.name_en[0] == '\0')
		return adm_fail(a, EX_USAGE, "--name-en is required");
	rc = add ? directory_institution_add(a->dir, &in) :
	    directory_institution_modify(a->dir, &in);
	if (rc != DIR_OK)
		return dir_fail(a, rc, "institution", in.id);
	adm_note(a, "institution %s %s", in.id, add ? "added" : "modified");
	if (a->json) {
		struct adm_out *o = adm_object_new(a);

		inst_object(o, &in);
		adm_out_print(&o);
	}
	return EX_OK;
}

static int
cmd_inst_add(struct adm *a, int argc, char **argv)
{
	return cmd_inst_add_modify(a, argc, argv, true);
}

static int
cmd_inst_modify(struct adm *a, int argc, char **argv)
{
	return cmd_inst_add_modify(a, argc, argv, false);
}

/* ------------------------------------------------------------------ */
/* domain */

static int
cmd_domain_add(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt opts[] = {
		{ "selector", true, 's' }, { "catchall", true, 'c' },
		{ NULL, false, 0 } };
	struct dir_domain dom;
	struct dir_institution in;
	int rc;

	memset(&dom, 0, sizeof(dom));
	OPTS_BEGIN(opts)
	case 's':
		code = copy_field(a, dom.dkim_selector,
		    sizeof(dom.dkim_selector), arg, "--selector");
		break;
	case 'c':
		code = copy_field(a, dom.catchall, sizeof(dom.catchall), arg,
		    "--catchall");
		break;
	OPTS_END(find_self("domain", "add"), 2, 2)
	code = copy_field(a, dom.name, sizeof(dom.name), g.operands[0],
	    "the domain");
	if (code == EX_OK)
		code = copy_field(a, dom.institution, sizeof(dom.institution),
		    g.operands[1], "the institution id");
	adm_getopt_free(&g);
	if (code != EX_OK)
		return code;
	if (a->scope[0] != '\0' && gms_strcasecmp(dom.institution, a->scope))
		return adm_fail(a, EX_NOPERM, "%s may add domains only to "
		    "institution '%s', not '%s'", a->as_user, a->scope,
		    dom.institution);
	rc = directory_institution(a->dir, dom.institution, &in);
	if (rc != DIR_FOUND)
		return rc == DIR_NOTFOUND ? adm_fail(a, EX_NOUSER, "there is no "
		    "institution '%s'; see 'gmsadm institution list'",
		    dom.institution) : dir_fail(a, rc, "institution",
		    dom.institution);
	dom.status = DIR_STATUS_ACTIVE;
	rc = directory_domain_add(a->dir, &dom);
	if (rc != DIR_OK)
		return dir_fail(a, rc, "domain", dom.name);
	adm_note(a, "domain %s added for %s; next: gmsadm domain dkim-keygen "
	    "%s, then publish what 'gmsadm domain show %s' prints", dom.name,
	    dom.institution, dom.name, dom.name);
	if (a->json) {
		struct adm_out *o = adm_object_new(a);

		adm_object_str(o, "domain", dom.name);
		adm_object_str(o, "institution", dom.institution);
		adm_out_print(&o);
	}
	return EX_OK;
}

static int
cmd_domain_list(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt opts[] = {
		{ "institution", true, 'i' }, { NULL, false, 0 } };
	static const char *const cols[] = { "domain", "institution",
	    "status", "dkim_selector" };
	const char *inst = NULL;
	struct dir_strv sv = { NULL, 0 };
	struct adm_out *o;
	size_t i;
	int rc;

	OPTS_BEGIN(opts)
	case 'i':
		inst = arg;
		break;
	OPTS_END(find_self("domain", "list"), 0, 0)
	adm_getopt_free(&g);
	if (a->scope[0] != '\0')
		inst = a->scope;
	rc = directory_domains(a->dir, inst, &sv);
	if (rc != DIR_OK)
		return dir_fail(a, rc, "domains of", inst ? inst : "all");
	o = adm_table_new(a, cols, 4);
	for (i = 0; i < sv.n; i++) {
		struct dir_domain dom;
		const char *row[4];

		if (directory_domain(a->dir, sv.v[i], &dom) != DIR_FOUND)
			continue;
		row[0] = dom.name;
		row[1] = dom.institution;
		row[2] = dir_status_name(dom.status);
		row[3] = dom.dkim_selector;
		adm_table_row(o, row);
	}
	adm_out_print(&o);
	dir_strv_free(&sv);
	return EX_OK;
}

/* mx_host - the host MX records should name. */
static const char *
mx_host(struct adm *a, char *tmp, size_t len)
{
	const char *h = conf_str(a->conf, "admin.mx_host");

	if (h[0] != '\0')
		return h;
	if (conf_lookup_def("smtpd.hostname") != NULL &&
	    conf_str(a->conf, "smtpd.hostname")[0] != '\0')
		return conf_str(a->conf, "smtpd.hostname");
	if (gethostname(tmp, len) == 0) {
		tmp[len - 1] = '\0';
		return tmp;
	}
	return "mail.example";
}

static int
cmd_domain_show(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt none[] = { { NULL, false, 0 } };
	struct dir_domain dom;
	struct dir_strv mbs = { NULL, 0 };
	struct adm_dkim_key keys[8];
	struct adm_out *o;
	struct buf rec = BUF_INIT(0), line = BUF_INIT(0);
	char host[256], dmarc[512];
	const char *rua;
	int rc, nk, i;
	char **recs = NULL;
	size_t nrecs = 0;

	OPTS_BEGIN(none)
	OPTS_END(find_self("domain", "show"), 1, 1)
	code = adm_check_domain_scope(a, g.operands[0]);
	if (code == EX_OK) {
		rc = directory_domain(a->dir, g.operands[0], &dom);
		if (rc != DIR_FOUND)
			code = dir_fail(a, rc, "domain", g.operands[0]);
	}
	adm_getopt_free(&g);
	if (code != EX_OK)
		return code;
	nk = adm_dkim_keys(a, dom.name, keys, GMS_NELEM(keys));
	rua = conf_str(a->conf, "admin.dmarc_rua");
	(void)gms_snprintf(dmarc, sizeof(dmarc), "v=DMARC1; p=%s; adkim=r; "
	    "aspf=r%s%s", conf_str(a->conf, "admin.dmarc_policy"),
	    rua[0] != '\0' ? "; rua=mailto:" : "", rua);

	/* The records, in zone file syntax. */
#define ADD_REC() do { \
	recs = xreallocarray(recs, nrecs + 1, sizeof(char *)); \
	recs[nrecs++] = xstrdup(buf_cstr(&line)); \
	buf_reset(&line); \
} while (0)
	(void)buf_printf(&line, "%s. IN MX 10 %s.", dom.name,
	    mx_host(a, host, sizeof(host)));
	ADD_REC();
	(void)buf_printf(&line, "%s. IN TXT \"%s\"", dom.name,
	    conf_str(a->conf, "admin.spf_record"));
	ADD_REC();
	for (i = 0; i < nk; i++) {
		adm_dkim_zone_line(&line, dom.name, keys[i].selector,
		    keys[i].txt);
		ADD_REC();
	}
	(void)buf_printf(&line, "_dmarc.%s. IN TXT \"%s\"", dom.name, dmarc);
	ADD_REC();
#undef ADD_REC

	o = adm_object_new(a);
	adm_object_str(o, "domain", dom.name);
	adm_object_str(o, "institution", dom.institution);
	adm_object_str(o, "status", dir_status_name(dom.status));
	adm_object_str(o, "dkim_selector", dom.dkim_selector);
	adm_object_str(o, "catchall", dom.catchall);
	if (directory_mailboxes(a->dir, dom.name, &mbs) == DIR_OK)
		adm_object_num(o, "mailboxes", mbs.n);
	dir_strv_free(&mbs);
	if (nk == 0)
		adm_object_str(o, "dkim", "no key yet: run 'gmsadm domain "
		    "dkim-keygen DOMAIN'");
	adm_object_list(o, "dns_records", (const char *const *)recs, nrecs);
	adm_out_print(&o);
	for (i = 0; (size_t)i < nrecs; i++)
		free(recs[i]);
	free(recs);
	buf_free(&rec);
	buf_free(&line);
	return EX_OK;
}

static int
cmd_domain_delete(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt none[] = { { NULL, false, 0 } };
	int rc;

	OPTS_BEGIN(none)
	OPTS_END(find_self("domain", "delete"), 1, 1)
	code = adm_check_domain_scope(a, g.operands[0]);
	if (code == EX_OK) {
		rc = directory_domain_delete(a->dir, g.operands[0]);
		if (rc != DIR_OK)
			code = dir_fail(a, rc, "domain", g.operands[0]);
		else
			adm_note(a, "domain %s deleted; remove its DNS records "
			    "and DKIM keys too", g.operands[0]);
	}
	adm_getopt_free(&g);
	return code;
}

/* ------------------------------------------------------------------ */
/* mailbox */

/* try_spool - open the mailstore for a command that can do without. */
static bool
try_spool(struct adm *a)
{
	struct spool_settings s;

	if (a->spool != NULL)
		return true;
	spool_settings_from_conf(&s, a->conf);
	s.maintenance = false;
	s.create = false;
	if (access(s.dir, F_OK) != 0)
		return false;
	return spool_open(&s, &a->spool) == SPOOL_OK;
}

int
adm_sync_quota(struct adm *a, const struct dir_mailbox *mb)
{
	int r;

	if (!try_spool(a))
		return 0;
	r = spool_user_create(a->spool, mb->address);
	if (r != SPOOL_OK && r != SPOOL_EEXIST)
		goto fail;
	r = spool_quota_set(a->spool, mb->address, mb->quota_bytes,
	    mb->quota_messages);
	if (r == SPOOL_OK)
		return 0;
fail:
	fprintf(stderr, "gmsadm: warning: the mailstore did not take the "
	    "quota of %s: %s; run 'gmsadm mailbox quota %s' again later\n",
	    mb->address, spool_strerror(r), mb->address);
	return -1;
}

static void
mailbox_object(struct adm_out *o, const struct dir_mailbox *mb)
{
	char q[32];

	adm_object_str(o, "address", mb->address);
	adm_object_str(o, "name", mb->display_name);
	adm_object_str(o, "institution", mb->institution);
	adm_object_str(o, "status", dir_status_name(mb->status));
	fmt_size(mb->quota_bytes, q, sizeof(q));
	adm_object_str(o, "quota", q);
	adm_object_num(o, "quota_bytes", mb->quota_bytes);
	adm_object_num(o, "quota_messages", mb->quota_messages);
	adm_object_str(o, "home_server", mb->home_server);
}

static int
cmd_mailbox_add(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt opts[] = {
		{ "name", true, 'n' }, { "quota", true, 'q' },
		{ "quota-messages", true, 'M' }, { "password-file", true, 'p' },
		{ "no-password", false, 'N' }, { "home-server", true, 'H' },
		{ NULL, false, 0 } };
	struct dir_mailbox mb;
	struct dir_domain dom;
	struct buf pw = BUF_INIT(0);
	const char *pwfile = NULL;
	bool nopw = false;
	char prompt[400];
	int rc;

	memset(&mb, 0, sizeof(mb));
	OPTS_BEGIN(opts)
	case 'n':
		code = copy_field(a, mb.display_name, sizeof(mb.display_name),
		    arg, "--name");
		break;
	case 'q':
		if (parse_size(arg, &mb.quota_bytes) < 0)
			code = adm_fail(a, EX_USAGE, "--quota %s: give bytes "
			    "with an optional K M G suffix (0: unlimited)", arg);
		break;
	case 'M':
		if (gms_parse_u64(arg, strlen(arg), UINT64_MAX,
		    &mb.quota_messages) < 0)
			code = adm_fail(a, EX_USAGE, "--quota-messages %s: give "
			    "a number (0: unlimited)", arg);
		break;
	case 'p':
		pwfile = arg;
		break;
	case 'N':
		nopw = true;
		break;
	case 'H':
		code = copy_field(a, mb.home_server, sizeof(mb.home_server),
		    arg, "--home-server");
		break;
	OPTS_END(find_self("mailbox", "add"), 1, 1)
	code = copy_field(a, mb.address, sizeof(mb.address), g.operands[0],
	    "the address");
	adm_getopt_free(&g);
	if (code != EX_OK)
		return code;
	if ((code = adm_check_address_scope(a, mb.address)) != EX_OK)
		return code;
	rc = directory_domain(a->dir, domain_of(mb.address), &dom);
	if (rc == DIR_NOTFOUND)
		return adm_fail(a, EX_NOUSER, "%s is not one of our domains; "
		    "add it first with 'gmsadm domain add'",
		    domain_of(mb.address));
	if (rc != DIR_FOUND)
		return dir_fail(a, rc, "domain", domain_of(mb.address));
	(void)gms_strlcpy(mb.institution, dom.institution,
	    sizeof(mb.institution));
	mb.status = DIR_STATUS_ACTIVE;
	if (!nopw) {
		(void)gms_snprintf(prompt, sizeof(prompt), "New password for %s",
		    mb.address);
		if (adm_read_password(a, pwfile, prompt, true, &pw, &code) < 0)
			return code;
	}
	rc = directory_mailbox_add(a->dir, &mb, nopw ? NULL : buf_cstr(&pw),
	    nopw ? 0 : pw.len);
	buf_wipe_free(&pw);
	if (rc != DIR_OK)
		return dir_fail(a, rc, "mailbox", mb.address);
	(void)adm_sync_quota(a, &mb);
	adm_note(a, "mailbox %s added%s", mb.address, nopw ? " (no password: "
	    "it cannot log in until 'gmsadm mailbox passwd')" : "");
	if (a->json) {
		struct adm_out *o = adm_object_new(a);

		mailbox_object(o, &mb);
		adm_out_print(&o);
	}
	return EX_OK;
}

static int
cmd_mailbox_list(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt none[] = { { NULL, false, 0 } };
	static const char *const cols[] = { "address", "name", "status",
	    "quota" };
	struct dir_strv sv = { NULL, 0 }, doms = { NULL, 0 };
	struct adm_out *o;
	size_t i, d;
	int rc;

	OPTS_BEGIN(none)
	OPTS_END(find_self("mailbox", "list"), 0, 1)
	if (g.noperands == 1) {
		code = adm_check_domain_scope(a, g.operands[0]);
		if (code == EX_OK) {
			rc = directory_mailboxes(a->dir, g.operands[0], &sv);
			if (rc != DIR_OK)
				code = dir_fail(a, rc, "mailboxes of",
				    g.operands[0]);
		}
	} else if (a->scope[0] != '\0') {
		/* A delegated administrator sees their institution's. */
		rc = directory_domains(a->dir, a->scope, &doms);
		for (d = 0; rc == DIR_OK && d < doms.n; d++) {
			struct dir_strv one = { NULL, 0 };

			rc = directory_mailboxes(a->dir, doms.v[d], &one);
			for (i = 0; rc == DIR_OK && i < one.n; i++) {
				sv.v = xreallocarray(sv.v, sv.n + 1,
				    sizeof(char *));
				sv.v[sv.n++] = one.v[i];
				one.v[i] = NULL;
			}
			dir_strv_free(&one);
		}
		dir_strv_free(&doms);
		if (rc != DIR_OK)
			code = dir_fail(a, rc, "mailboxes of", a->scope);
	} else {
		rc = directory_mailboxes(a->dir, NULL, &sv);
		if (rc != DIR_OK)
			code = dir_fail(a, rc, "mailboxes", "");
	}
	adm_getopt_free(&g);
	if (code != EX_OK) {
		dir_strv_free(&sv);
		return code;
	}
	o = adm_table_new(a, cols, 4);
	for (i = 0; i < sv.n; i++) {
		struct dir_mailbox mb;
		const char *row[4];
		char q[32];

		if (directory_mailbox(a->dir, sv.v[i], &mb) != DIR_FOUND)
			continue;
		fmt_size(mb.quota_bytes, q, sizeof(q));
		row[0] = mb.address;
		row[1] = mb.display_name;
		row[2] = dir_status_name(mb.status);
		row[3] = q;
		adm_table_row(o, row);
	}
	adm_out_print(&o);
	dir_strv_free(&sv);
	return EX_OK;
}

/* one_mailbox - parse ADDRESS, check scope, read it. */
static int
one_mailbox(struct adm *a, const char *address, struct dir_mailbox *mb)
{
	int code, rc;

	if ((code = adm_check_address_scope(a, address)) != EX_OK)
		return code;
	rc = directory_mailbox(a->dir, address, mb);
	if (rc != DIR_FOUND)
		return rc == DIR_NOTFOUND ? adm_fail(a, EX_NOUSER, "there is no "
		    "mailbox %s; see 'gmsadm mailbox list %s'", address,
		    domain_of(address)) : dir_fail(a, rc, "mailbox", address);
	return EX_OK;
}

static int
cmd_mailbox_show(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt none[] = { { NULL, false, 0 } };
	struct dir_mailbox mb;
	struct spool_quota q;
	struct adm_out *o;

	OPTS_BEGIN(none)
	OPTS_END(find_self("mailbox", "show"), 1, 1)
	code = one_mailbox(a, g.operands[0], &mb);
	adm_getopt_free(&g);
	if (code != EX_OK)
		return code;
	o = adm_object_new(a);
	mailbox_object(o, &mb);
	if (try_spool(a) && spool_quota_get(a->spool, mb.address, &q) ==
	    SPOOL_OK) {
		adm_object_num(o, "used_bytes", q.bytes_used);
		adm_object_num(o, "used_messages", q.messages_used);
		adm_object_num(o, "store_quota_bytes", q.bytes_limit);
		adm_object_num(o, "store_quota_messages", q.messages_limit);
	}
	adm_out_print(&o);
	return EX_OK;
}

static int
cmd_mailbox_folders(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt none[] = { { NULL, false, 0 } };
	static const char *const cols[] = { "mailbox", "messages", "unseen",
	    "size", "uidvalidity", "uidnext", "special_use" };
	struct dir_mailbox mb;
	struct spool_mbox_list l;
	struct adm_out *o;
	size_t i;
	int r;

	OPTS_BEGIN(none)
	OPTS_END(find_self("mailbox", "folders"), 1, 1)
	code = one_mailbox(a, g.operands[0], &mb);
	adm_getopt_free(&g);
	if (code != EX_OK)
		return code;
	memset(&l, 0, sizeof(l));
	r = spool_mailbox_list(a->spool, mb.address, &l);
	if (r == SPOOL_ENOENT)
		return adm_fail(a, EX_NOUSER, "%s has no mail stored yet",
		    mb.address);
	if (r != SPOOL_OK)
		return adm_fail(a, adm_spool_exit(r), "cannot list the mailboxes "
		    "of %s: %s", mb.address, spool_strerror(r));
	o = adm_table_new(a, cols, 7);
	for (i = 0; i < l.n; i++) {
		char n[5][24];
		const char *row[7], *use = "";
		uint32_t bit;

		(void)gms_snprintf(n[0], sizeof(n[0]), "%u", l.v[i].messages);
		(void)gms_snprintf(n[1], sizeof(n[1]), "%u", l.v[i].unseen);
		(void)gms_snprintf(n[2], sizeof(n[2]), "%llu",
		    (unsigned long long)l.v[i].size);
		(void)gms_snprintf(n[3], sizeof(n[3]), "%u",
		    l.v[i].uidvalidity);
		(void)gms_snprintf(n[4], sizeof(n[4]), "%u", l.v[i].uidnext);
		for (bit = SPOOL_USE_DRAFTS; bit <= SPOOL_USE_FLAGGED; bit <<= 1)
			if ((l.v[i].special_use & bit) &&
			    spool_use_name(bit) != NULL)
				use = spool_use_name(bit);
		row[0] = l.v[i].name;
		row[1] = n[0];
		row[2] = n[1];
		row[3] = n[2];
		row[4] = n[3];
		row[5] = n[4];
		row[6] = use;
		adm_table_row(o, row);
	}
	adm_out_print(&o);
	spool_mbox_list_free(&l);
	return EX_OK;
}

static int
cmd_mailbox_passwd(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt opts[] = {
		{ "password-file", true, 'p' }, { NULL, false, 0 } };
	struct dir_mailbox mb;
	struct buf pw = BUF_INIT(0);
	const char *pwfile = NULL;
	char prompt[400];
	int rc;

	OPTS_BEGIN(opts)
	case 'p':
		pwfile = arg;
		break;
	OPTS_END(find_self("mailbox", "passwd"), 1, 1)
	code = one_mailbox(a, g.operands[0], &mb);
	adm_getopt_free(&g);
	if (code != EX_OK)
		return code;
	(void)gms_snprintf(prompt, sizeof(prompt), "New password for %s",
	    mb.address);
	if (adm_read_password(a, pwfile, prompt, true, &pw, &code) < 0)
		return code;
	rc = directory_set_password(a->dir, mb.address, buf_cstr(&pw), pw.len);
	buf_wipe_free(&pw);
	if (rc != DIR_OK)
		return dir_fail(a, rc, "mailbox", mb.address);
	adm_note(a, "password of %s changed", mb.address);
	return EX_OK;
}

static int
cmd_mailbox_quota(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt opts[] = {
		{ "messages", true, 'M' }, { NULL, false, 0 } };
	struct dir_mailbox mb;
	struct spool_quota q;
	struct adm_out *o;
	uint64_t bytes = 0, msgs = 0;
	bool set_msgs = false;
	int rc;

	OPTS_BEGIN(opts)
	case 'M':
		set_msgs = true;
		if (gms_parse_u64(arg, strlen(arg), UINT64_MAX, &msgs) < 0)
			code = adm_fail(a, EX_USAGE, "--messages %s: give a "
			    "number (0: unlimited)", arg);
		break;
	OPTS_END(find_self("mailbox", "quota"), 1, 2)
	code = one_mailbox(a, g.operands[0], &mb);
	if (code == EX_OK && g.noperands == 2 &&
	    parse_size(g.operands[1], &bytes) < 0)
		code = adm_fail(a, EX_USAGE, "quota %s: give bytes with an "
		    "optional K M G suffix (0: unlimited)", g.operands[1]);
	if (code == EX_OK && (g.noperands == 2 || set_msgs)) {
		if (g.noperands == 2)
			mb.quota_bytes = bytes;
		if (set_msgs)
			mb.quota_messages = msgs;
		rc = directory_mailbox_modify(a->dir, &mb);
		if (rc != DIR_OK)
			code = dir_fail(a, rc, "mailbox", mb.address);
		/* The mailstore enforces it; the directory records it. */
		else if (adm_sync_quota(a, &mb) < 0)
			code = EX_TEMPFAIL;
	}
	adm_getopt_free(&g);
	if (code != EX_OK)
		return code;
	o = adm_object_new(a);
	adm_object_str(o, "address", mb.address);
	adm_object_num(o, "quota_bytes", mb.quota_bytes);
	adm_object_num(o, "quota_messages", mb.quota_messages);
	if (try_spool(a) && spool_quota_get(a->spool, mb.address, &q) ==
	    SPOOL_OK) {
		adm_object_num(o, "used_bytes", q.bytes_used);
		adm_object_num(o, "used_messages", q.messages_used);
	}
	adm_out_print(&o);
	return EX_OK;
}

static int
mailbox_status(struct adm *a, int argc, char **argv, int status,
    const char *name)
{
	static const struct adm_opt none[] = { { NULL, false, 0 } };
	struct dir_mailbox mb;
	int rc;

	OPTS_BEGIN(none)
	OPTS_END(find_self("mailbox", name), 1, 1)
	code = one_mailbox(a, g.operands[0], &mb);
	adm_getopt_free(&g);
	if (code != EX_OK)
		return code;
	mb.status = status;
	rc = directory_mailbox_modify(a->dir, &mb);
	if (rc != DIR_OK)
		return dir_fail(a, rc, "mailbox", mb.address);
	adm_note(a, "mailbox %s is %s", mb.address, dir_status_name(status));
	return EX_OK;
}

static int
cmd_mailbox_suspend(struct adm *a, int argc, char **argv)
{
	return mailbox_status(a, argc, argv, DIR_STATUS_SUSPENDED, "suspend");
}

static int
cmd_mailbox_resume(struct adm *a, int argc, char **argv)
{
	return mailbox_status(a, argc, argv, DIR_STATUS_ACTIVE, "resume");
}

static int
cmd_mailbox_delete(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt opts[] = {
		{ "purge", false, 'P' }, { NULL, false, 0 } };
	struct dir_mailbox mb;
	bool purge = false;
	int rc, r;

	OPTS_BEGIN(opts)
	case 'P':
		purge = true;
		break;
	OPTS_END(find_self("mailbox", "delete"), 1, 1)
	code = one_mailbox(a, g.operands[0], &mb);
	adm_getopt_free(&g);
	if (code != EX_OK)
		return code;
	if (purge && !try_spool(a))
		return adm_fail(a, EX_UNAVAILABLE, "--purge needs the mailstore "
		    "(spool.dir), which cannot be opened; nothing was deleted");
	rc = directory_mailbox_delete(a->dir, mb.address);
	if (rc != DIR_OK)
		return dir_fail(a, rc, "mailbox", mb.address);
	if (purge) {
		r = spool_user_delete(a->spool, mb.address);
		if (r != SPOOL_OK && r != SPOOL_ENOENT)
			return adm_fail(a, adm_spool_exit(r), "mailbox %s left "
			    "the directory, but its mail could not be purged: "
			    "%s; run 'gmsadm mailbox delete --purge' again "
			    "later", mb.address, spool_strerror(r));
	}
	adm_note(a, "mailbox %s deleted%s", mb.address, purge ?
	    " and its mail purged" : " (its mail is kept; --purge removes it)");
	return EX_OK;
}

/* ------------------------------------------------------------------ */
/* alias */

static int
cmd_alias_add(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt opts[] = {
		{ "owner", true, 'o' }, { NULL, false, 0 } };
	const char *owner = NULL;
	int rc;

	OPTS_BEGIN(opts)
	case 'o':
		owner = arg;
		break;
	OPTS_END(find_self("alias", "add"), 2, -1)
	code = adm_check_address_scope(a, g.operands[0]);
	if (code == EX_OK) {
		rc = directory_alias_add(a->dir, g.operands[0], owner,
		    (const char *const *)g.operands + 1,
		    (size_t)g.noperands - 1);
		if (rc != DIR_OK)
			code = dir_fail(a, rc, "alias", g.operands[0]);
		else
			adm_note(a, "alias %s added (%d target%s)",
			    g.operands[0], g.noperands - 1,
			    g.noperands == 2 ? "" : "s");
	}
	adm_getopt_free(&g);
	return code;
}

static int
cmd_alias_show(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt none[] = { { NULL, false, 0 } };
	struct dir_alias al;
	struct adm_out *o;
	int rc;

	OPTS_BEGIN(none)
	OPTS_END(find_self("alias", "show"), 1, 1)
	code = adm_check_address_scope(a, g.operands[0]);
	if (code == EX_OK) {
		memset(&al, 0, sizeof(al));
		rc = directory_alias(a->dir, g.operands[0], &al);
		if (rc != DIR_FOUND)
			code = dir_fail(a, rc, "alias", g.operands[0]);
		else {
			o = adm_object_new(a);
			adm_object_str(o, "alias", al.address);
			adm_object_str(o, "owner", al.owner);
			adm_object_list(o, "targets",
			    (const char *const *)al.targets.v, al.targets.n);
			adm_out_print(&o);
			dir_alias_clear(&al);
		}
	}
	adm_getopt_free(&g);
	return code;
}

static int
cmd_alias_list(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt none[] = { { NULL, false, 0 } };
	static const char *const cols[] = { "alias", "targets", "owner" };
	struct dir_strv sv = { NULL, 0 };
	struct adm_out *o;
	size_t i, k;
	int rc;

	OPTS_BEGIN(none)
	OPTS_END(find_self("alias", "list"), 1, 1)
	code = adm_check_domain_scope(a, g.operands[0]);
	if (code == EX_OK) {
		rc = directory_aliases(a->dir, g.operands[0], &sv);
		if (rc != DIR_OK)
			code = dir_fail(a, rc, "aliases of", g.operands[0]);
	}
	adm_getopt_free(&g);
	if (code != EX_OK)
		return code;
	o = adm_table_new(a, cols, 3);
	for (i = 0; i < sv.n; i++) {
		struct dir_alias al;
		struct buf t = BUF_INIT(0);
		const char *row[3];

		memset(&al, 0, sizeof(al));
		if (directory_alias(a->dir, sv.v[i], &al) != DIR_FOUND)
			continue;
		for (k = 0; k < al.targets.n; k++)
			(void)buf_printf(&t, "%s%s", k ? " " : "",
			    al.targets.v[k]);
		row[0] = al.address;
		row[1] = buf_cstr(&t);
		row[2] = al.owner;
		adm_table_row(o, row);
		buf_free(&t);
		dir_alias_clear(&al);
	}
	adm_out_print(&o);
	dir_strv_free(&sv);
	return EX_OK;
}

static int
cmd_alias_delete(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt none[] = { { NULL, false, 0 } };
	int rc;

	OPTS_BEGIN(none)
	OPTS_END(find_self("alias", "delete"), 1, 1)
	code = adm_check_address_scope(a, g.operands[0]);
	if (code == EX_OK) {
		rc = directory_alias_delete(a->dir, g.operands[0]);
		if (rc != DIR_OK)
			code = dir_fail(a, rc, "alias", g.operands[0]);
		else
			adm_note(a, "alias %s deleted", g.operands[0]);
	}
	adm_getopt_free(&g);
	return code;
}

/* ------------------------------------------------------------------ */
/* list */

static int
cmd_list_add(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt opts[] = {
		{ "name", true, 'n' }, { "owner", true, 'o' },
		{ "policy", true, 'P' }, { NULL, false, 0 } };
	struct dir_list l;
	int rc, i;

	memset(&l, 0, sizeof(l));
	l.policy = DIR_POST_MEMBERS;
	OPTS_BEGIN(opts)
	case 'n':
		code = copy_field(a, l.name, sizeof(l.name), arg, "--name");
		break;
	case 'o':
		code = copy_field(a, l.owner, sizeof(l.owner), arg, "--owner");
		break;
	case 'P':
		if ((l.policy = dir_post_policy_parse(arg)) < 0)
			code = adm_fail(a, EX_USAGE, "--policy %s: one of anyone "
			    "members domains", arg);
		break;
	OPTS_END(find_self("list", "add"), 1, -1)
	code = copy_field(a, l.address, sizeof(l.address), g.operands[0],
	    "the list address");
	if (code == EX_OK)
		code = adm_check_address_scope(a, l.address);
	if (code == EX_OK) {
		l.members.n = (size_t)g.noperands - 1;
		l.members.v = xcalloc(l.members.n + 1, sizeof(char *));
		for (i = 1; i < g.noperands; i++)
			l.members.v[i - 1] = xstrdup(g.operands[i]);
		rc = directory_list_add(a->dir, &l);
		if (rc != DIR_OK)
			code = dir_fail(a, rc, "list", l.address);
		else
			adm_note(a, "list %s added (%zu member%s, policy %s)",
			    l.address, l.members.n, l.members.n == 1 ? "" : "s",
			    dir_post_policy_name(l.policy));
		dir_list_clear(&l);
	}
	adm_getopt_free(&g);
	return code;
}

static int
cmd_list_show(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt none[] = { { NULL, false, 0 } };
	struct dir_list l;
	struct adm_out *o;
	int rc;

	OPTS_BEGIN(none)
	OPTS_END(find_self("list", "show"), 1, 1)
	code = adm_check_address_scope(a, g.operands[0]);
	if (code == EX_OK) {
		memset(&l, 0, sizeof(l));
		rc = directory_list(a->dir, g.operands[0], &l);
		if (rc != DIR_FOUND)
			code = dir_fail(a, rc, "list", g.operands[0]);
		else {
			o = adm_object_new(a);
			adm_object_str(o, "list", l.address);
			adm_object_str(o, "name", l.name);
			adm_object_str(o, "owner", l.owner);
			adm_object_str(o, "policy",
			    dir_post_policy_name(l.policy));
			adm_object_list(o, "members",
			    (const char *const *)l.members.v, l.members.n);
			adm_out_print(&o);
			dir_list_clear(&l);
		}
	}
	adm_getopt_free(&g);
	return code;
}

static int
list_members(struct adm *a, int argc, char **argv, bool add)
{
	static const struct adm_opt none[] = { { NULL, false, 0 } };
	int rc, i, done = 0;

	OPTS_BEGIN(none)
	OPTS_END(find_self("list", add ? "add-member" : "remove-member"), 2, -1)
	code = adm_check_address_scope(a, g.operands[0]);
	for (i = 1; code == EX_OK && i < g.noperands; i++) {
		rc = add ? directory_list_member_add(a->dir, g.operands[0],
		    g.operands[i]) : directory_list_member_remove(a->dir,
		    g.operands[0], g.operands[i]);
		if (rc != DIR_OK)
			code = dir_fail(a, rc, add ? "adding member" :
			    "removing member", g.operands[i]);
		else
			done++;
	}
	if (code == EX_OK)
		adm_note(a, "list %s: %d member%s %s", g.operands[0], done,
		    done == 1 ? "" : "s", add ? "added" : "removed");
	adm_getopt_free(&g);
	return code;
}

static int
cmd_list_add_member(struct adm *a, int argc, char **argv)
{
	return list_members(a, argc, argv, true);
}

static int
cmd_list_remove_member(struct adm *a, int argc, char **argv)
{
	return list_members(a, argc, argv, false);
}

static int
cmd_list_delete(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt none[] = { { NULL, false, 0 } };
	int rc;

	OPTS_BEGIN(none)
	OPTS_END(find_self("list", "delete"), 1, 1)
	code = adm_check_address_scope(a, g.operands[0]);
	if (code == EX_OK) {
		rc = directory_list_delete(a->dir, g.operands[0]);
		if (rc != DIR_OK)
			code = dir_fail(a, rc, "list", g.operands[0]);
		else
			adm_note(a, "list %s deleted", g.operands[0]);
	}
	adm_getopt_free(&g);
	return code;
}

static int
cmd_list_list(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt none[] = { { NULL, false, 0 } };
	static const char *const cols[] = { "list", "name", "policy",
	    "members" };
	struct dir_strv sv = { NULL, 0 };
	struct adm_out *o;
	size_t i;
	int rc;

	OPTS_BEGIN(none)
	OPTS_END(find_self("list", "list"), 1, 1)
	code = adm_check_domain_scope(a, g.operands[0]);
	if (code == EX_OK) {
		rc = directory_lists(a->dir, g.operands[0], &sv);
		if (rc != DIR_OK)
			code = dir_fail(a, rc, "lists of", g.operands[0]);
	}
	adm_getopt_free(&g);
	if (code != EX_OK)
		return code;
	o = adm_table_new(a, cols, 4);
	for (i = 0; i < sv.n; i++) {
		struct dir_list l;
		const char *row[4];
		char n[32];

		memset(&l, 0, sizeof(l));
		if (directory_list(a->dir, sv.v[i], &l) != DIR_FOUND)
			continue;
		(void)gms_snprintf(n, sizeof(n), "%zu", l.members.n);
		row[0] = l.address;
		row[1] = l.name;
		row[2] = dir_post_policy_name(l.policy);
		row[3] = n;
		adm_table_row(o, row);
		dir_list_clear(&l);
	}
	adm_out_print(&o);
	dir_strv_free(&sv);
	return EX_OK;
}

/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* institution admin: who administers an institution (gmsAdmin). */

static int
cmd_inst_admin(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt none[] = { { NULL, false, 0 } };
	static const char *const cols[] = { "institution", "admin" };
	const struct adm_cmd *self = find_self("institution", "admin");
	char addr[DIR_ADDR_MAX + 1];
	struct dir_mailbox mb;
	struct dir_domain dom;
	struct dir_strv sv = { NULL, 0 };
	struct adm_out *o;
	const char *action, *id;
	bool add;
	size_t i;
	int rc;

	OPTS_BEGIN(none)
	OPTS_END(self, 2, 2)
	action = g.operands[0];
	if (strcmp(action, "list") == 0) {
		id = g.operands[1];
		if (a->scope[0] != '\0' && strcmp(id, a->scope) != 0) {
			code = adm_fail(a, EX_NOPERM, "%s may see only the "
			    "administrators of institution '%s'", a->as_user,
			    a->scope);
			adm_getopt_free(&g);
			return code;
		}
		rc = directory_institution_admins(a->dir, id, &sv);
		if (rc != DIR_FOUND) {
			code = dir_fail(a, rc, "institution", id);
			adm_getopt_free(&g);
			return code;
		}
		o = adm_table_new(a, cols, 2);
		for (i = 0; i < sv.n; i++) {
			const char *row[2];

			row[0] = id;
			row[1] = sv.v[i];
			adm_table_row(o, row);
		}
		adm_out_print(&o);
		dir_strv_free(&sv);
		adm_getopt_free(&g);
		return EX_OK;
	}
	if (strcmp(action, "add") != 0 && strcmp(action, "remove") != 0) {
		adm_getopt_free(&g);
		return adm_usage(a, self, false);
	}
	add = strcmp(action, "add") == 0;
	if (a->as_user != NULL) {
		adm_getopt_free(&g);
		return adm_fail(a, EX_NOPERM, "%s: granting and revoking "
		    "administration is for the GMS operators", a->as_user);
	}
	if (gms_strlcpy(addr, g.operands[1], sizeof(addr)) < 0 ||
	    strchr(addr, '@') == NULL) {
		code = adm_fail(a, EX_USAGE, "'%s' is not an address "
		    "(local@domain)", g.operands[1]);
		adm_getopt_free(&g);
		return code;
	}
	adm_getopt_free(&g);
	gms_lowercase(addr);
	/* The institution is the mailbox's (the owner of its domain). */
	rc = directory_mailbox(a->dir, addr, &mb);
	if (rc != DIR_FOUND)
		return dir_fail(a, rc, "mailbox", addr);
	rc = directory_domain(a->dir, domain_of(mb.address), &dom);
	if (rc == DIR_TEMPFAIL)
		return dir_fail(a, rc, "domain", domain_of(mb.address));
	if (rc == DIR_FOUND && dom.institution[0] != '\0')
		(void)gms_strlcpy(mb.institution, dom.institution,
		    sizeof(mb.institution));
	if (mb.institution[0] == '\0')
		return adm_fail(a, EX_DATAERR, "%s belongs to no institution",
		    addr);
	rc = add ? directory_institution_admin_add(a->dir, mb.institution,
	    mb.address) : directory_institution_admin_remove(a->dir,
	    mb.institution, mb.address);
	if (rc == DIR_EEXIST || (rc == DIR_ENOENT && !add)) {
		/* Granting twice or revoking what is not granted: done. */
		adm_note(a, "%s %s an administrator of institution '%s'",
		    mb.address, add ? "is already" : "was not",
		    mb.institution);
		return EX_OK;
	}
	if (rc != DIR_OK)
		return dir_fail(a, rc, "institution", mb.institution);
	adm_note(a, "%s %s administrator of institution '%s'", mb.address,
	    add ? "is now an" : "is no longer an", mb.institution);
	return EX_OK;
}

/* The DKIM handlers live in dkim.c. */
int adm_cmd_dkim_keygen(struct adm *a, int argc, char **argv);
int adm_cmd_dkim_show(struct adm *a, int argc, char **argv);

#define R	ADM_NEED_CONF | ADM_NEED_DIR
#define W	ADM_NEED_CONF | ADM_NEED_DIR_WRITE

const struct adm_cmd adm_dir_cmds[] = {
	{ "institution", "list", "[--kind K] [--region R] [--country C]",
	  "list institutions, filtered by kind, region or country",
	  "  --kind K      ministry department agency region hospital council "
	  "embassy\n  --region R    e.g. Dodoma\n"
	  "  --country C   missions abroad, e.g. Kenya\n", R, cmd_inst_list },
	{ "institution", "show", "ID", "show one institution and its domains",
	  NULL, R, cmd_inst_show },
	{ "institution", "add", "ID --kind K --name-en NAME [--name-sw NAME] "
	  "[--region R] [--country C] [--city C] [--domain D] [--contact A] "
	  "[--phone P]", "add an institution (operators only)", NULL, W,
	  cmd_inst_add },
	{ "institution", "modify", "ID [--kind K] [--name-en NAME] "
	  "[--name-sw NAME] [--region R] [--country C] [--city C] "
	  "[--domain D] [--contact A] [--phone P]",
	  "change the given fields of an institution", NULL, W,
	  cmd_inst_modify },
	{ "institution", "admin", "add|remove ADDRESS | list ID",
	  "grant, revoke or list delegated administrators (gmsAdmin)",
	  "  add ADDRESS     the mailbox administers its institution (the\n"
	  "                  owner of its domain): 'gmsadm --as ADDRESS' works\n"
	  "  remove ADDRESS  take that right away again\n"
	  "  list ID         the administrators of institution ID\n", W,
	  cmd_inst_admin },
	{ "domain", "add", "DOMAIN INSTITUTION [--selector S] "
	  "[--catchall ADDRESS]", "add a mail domain owned by an institution",
	  NULL, W, cmd_domain_add },
	{ "domain", "list", "[--institution ID]", "list mail domains", NULL, R,
	  cmd_domain_list },
	{ "domain", "show", "DOMAIN",
	  "show a domain and the MX, SPF, DKIM and DMARC records to publish",
	  NULL, R, cmd_domain_show },
	{ "domain", "delete", "DOMAIN",
	  "delete a domain that has no mailboxes, aliases or lists", NULL, W,
	  cmd_domain_delete },
	{ "domain", "dkim-keygen", "DOMAIN [--selector S] "
	  "[--algorithm rsa|ed25519|both] [--force]",
	  "make DKIM signing keys and print the TXT records to publish",
	  "  --selector S   base selector (default admin.dkim_selector, else\n"
	  "                 gmsYYYYMM); with both algorithms the keys get\n"
	  "                 S-rsa and S-ed25519\n"
	  "  --algorithm    rsa (2048 bits), ed25519 or both (default)\n"
	  "  --force        replace keys that exist\n"
	  "Keys go to dkim.key_dir as DOMAIN.SELECTOR.key (mode 0600) and\n"
	  "DOMAIN.SELECTOR.pub; gms-smtpd signs with every key of the domain.\n",
	  W, adm_cmd_dkim_keygen },
	{ "domain", "dkim-show", "DOMAIN",
	  "print the DKIM TXT records of a domain's keys", NULL, R,
	  adm_cmd_dkim_show },
	{ "mailbox", "add", "ADDRESS [--name NAME] [--quota SIZE] "
	  "[--quota-messages N] [--password-file FILE | --no-password]",
	  "add a mailbox; the password is asked for (no echo) or read from "
	  "a file", "The password never comes from the command line: it is\n"
	  "typed twice at a prompt without echo, read from --password-file\n"
	  "(mode 0600), or read from stdin when that is not a terminal.\n",
	  W, cmd_mailbox_add },
	{ "mailbox", "list", "[DOMAIN]", "list mailboxes", NULL, R,
	  cmd_mailbox_list },
	{ "mailbox", "show", "ADDRESS",
	  "show a mailbox with its quota and usage", NULL, R,
	  cmd_mailbox_show },
	{ "mailbox", "folders", "ADDRESS",
	  "the mailboxes (folders) of a user in the mailstore, with counts",
	  NULL, R | ADM_NEED_SPOOL, cmd_mailbox_folders },
	{ "mailbox", "passwd", "ADDRESS [--password-file FILE]",
	  "set a mailbox's password", NULL, W, cmd_mailbox_passwd },
	{ "mailbox", "quota", "ADDRESS [SIZE] [--messages N]",
	  "show or set a mailbox's quota (0: unlimited)", NULL, W,
	  cmd_mailbox_quota },
	{ "mailbox", "suspend", "ADDRESS",
	  "suspend a mailbox: no login, no delivery", NULL, W,
	  cmd_mailbox_suspend },
	{ "mailbox", "resume", "ADDRESS", "make a suspended mailbox active",
	  NULL, W, cmd_mailbox_resume },
	{ "mailbox", "delete", "ADDRESS [--purge]",
	  "delete a mailbox (--purge: and its stored mail)", NULL, W,
	  cmd_mailbox_delete },
	{ "alias", "add", "ALIAS TARGET... [--owner ADDRESS]",
	  "add an alias forwarding to one or more addresses", NULL, W,
	  cmd_alias_add },
	{ "alias", "show", "ALIAS", "show an alias and its targets", NULL, R,
	  cmd_alias_show },
	{ "alias", "list", "DOMAIN", "list the aliases of a domain", NULL, R,
	  cmd_alias_list },
	{ "alias", "delete", "ALIAS", "delete an alias", NULL, W,
	  cmd_alias_delete },
	{ "list", "add", "LIST [MEMBER...] [--name TEXT] [--owner ADDRESS] "
	  "[--policy anyone|members|domains]",
	  "add a distribution list (policy: who may post; default members)",
	  NULL, W, cmd_list_add },
	{ "list", "show", "LIST", "show a list and its members", NULL, R,
	  cmd_list_show },
	{ "list", "list", "DOMAIN", "list the distribution lists of a domain",
	  NULL, R, cmd_list_list },
	{ "list", "add-member", "LIST MEMBER...", "add members to a list",
	  NULL, W, cmd_list_add_member },
	{ "list", "remove-member", "LIST MEMBER...",
	  "remove members from a list", NULL, W, cmd_list_remove_member },
	{ "list", "delete", "LIST", "delete a list", NULL, W,
	  cmd_list_delete },
	{ NULL, NULL, NULL, NULL, NULL, 0, NULL },
};

#undef R
#undef W

static const struct adm_cmd *
find_self(const char *group, const char *name)
{
	const struct adm_cmd *c;

	for (c = adm_dir_cmds; c->group != NULL; c++)
		if (strcmp(c->group, group) == 0 && strcmp(c->name, name) == 0)
			return c;
	panic("find_self: %s %s", group, name);
}
