/*
 * directory.c - the generic layer of the directory.
 *
 * This is what the daemons and gmsadm call (directory.h).  It reads the
 * directory.* keys, picks a backend from directory.uri (LDAP, or the static
 * file of the unit tests), normalizes every key (lowercase, shape and length
 * checked) before a backend sees it, keeps the result cache, and implements
 * the logic that is the same for every backend: resolving a recipient
 * (exact address, then without +tag, then the domain's catch-all),
 * expanding aliases and nested lists with loop detection and limits,
 * send-as rights, list posting policies, and the rules of authentication
 * (empty password refused before any bind; unknown user, wrong password
 * and suspended mailbox look alike).
 *
 * Security: passwords pass through here only on their way to a bind or to
 * the hash function; they are never logged, cached or copied except into
 * buffers that are wiped.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "gms.h"
#include "directory/directory-private.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

const struct conf_def directory_conf_table[] = {
	{ "directory.uri", CONF_STR, "ldap://127.0.0.1:389/", 0, 0, NULL,
	  "LDAP URI (ldap://, ldapi://) or static:PATH (test backend)" },
	{ "directory.base", CONF_STR, "o=gms", 0, 0, NULL,
	  "base DN of the GMS tree" },
	{ "directory.bind_dn", CONF_STR, "cn=gms-service,ou=system,o=gms", 0, 0,
	  NULL, "read-only service DN of the daemons (empty: anonymous)" },
	{ "directory.bind_password_file", CONF_STR,
	  SYSCONFDIR "/gms/directory.secret", 0, 0, NULL,
	  "file holding the service DN's password (mode 0600)" },
	{ "directory.admin_dn", CONF_STR, "cn=admin,ou=system,o=gms", 0, 0,
	  NULL, "writer DN used by gmsadm" },
	{ "directory.admin_password_file", CONF_STR,
	  SYSCONFDIR "/gms/directory-admin.secret", 0, 0, NULL,
	  "file holding the admin DN's password (mode 0600)" },
	{ "directory.timeout", CONF_TIME, "5", 1, 120, NULL,
	  "network and operation timeout of LDAP requests" },
	{ "directory.pool_size", CONF_INT, "4", 1, 64, NULL,
	  "LDAP connections kept open per process" },
	{ "directory.cache_ttl", CONF_TIME, "60", 0, 86400, NULL,
	  "seconds a found answer is cached (0: no cache)" },
	{ "directory.negative_ttl", CONF_TIME, "10", 0, 86400, NULL,
	  "seconds a not-found answer is cached (0: none)" },
	{ "directory.cache_size", CONF_INT, "5000", 1, 1000000, NULL,
	  "cached answers at most" },
	{ "directory.expand_limit", CONF_INT, "1000", 1, 100000, NULL,
	  "addresses one recipient may expand to" },
	{ "directory.expand_depth", CONF_INT, "8", 1, 64, NULL,
	  "nesting depth of lists at most" },
	{ "directory.recipient_delimiter", CONF_STR, "+", 0, 0, NULL,
	  "plus-addressing separator (one character; empty: off)" },
	{ NULL, CONF_STR, NULL, 0, 0, NULL, NULL },
};

struct directory {
	struct dir_settings	 s;
	const struct dir_backend *be;
	void			*ctx;		/* the backend's */
	struct dcache		*cache;		/* owned */
	struct dir_stats	 st;		/* updated atomically */
};

#define STAT_INC(d, f) __atomic_add_fetch(&(d)->st.f, 1, __ATOMIC_RELAXED)

/* ------------------------------------------------------------------ */
/* Names. */

const char *
directory_strerror(int code)
{
	static __thread char unk[32];

	switch (code) {
	case DIR_FOUND:		return "found";
	case DIR_OK:		return "ok";
	case DIR_TEMPFAIL:	return "temporary failure";
	case DIR_PERMFAIL:	return "expansion limit exceeded";
	case DIR_EEXIST:	return "already exists";
	case DIR_ENOENT:	return "no such entry";
	case DIR_EINVAL:	return "invalid value";
	case DIR_EPERM:		return "permission denied";
	case DIR_ENOTEMPTY:	return "still in use";
	default:
		(void)gms_snprintf(unk, sizeof(unk), "unknown (%d)", code);
		return unk;
	}
}

static const char *const inst_kind_names[DIR_INST_KIND_COUNT] = {
	"ministry", "department", "agency", "region", "hospital", "council",
	"embassy",
};
static const char *const status_names[] = { "active", "suspended" };
static const char *const kind_names[] = { "mailbox", "alias", "list" };
static const char *const policy_names[] = { "anyone", "members", "domains" };

/* name_of - names[v] or "unknown (v)". */
static const char *
name_of(const char *const *names, size_t n, int v)
{
	static __thread char unk[32];

	if (v >= 0 && (size_t)v < n)
		return names[v];
	(void)gms_snprintf(unk, sizeof(unk), "unknown (%d)", v);
	return unk;
}

/* parse_of - the index of s in names, or -1. */
static int
parse_of(const char *const *names, size_t n, const char *s)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (gms_strcasecmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

const char *dir_inst_kind_name(int k)
{ return name_of(inst_kind_names, GMS_NELEM(inst_kind_names), k); }
int dir_inst_kind_parse(const char *s)
{ return parse_of(inst_kind_names, GMS_NELEM(inst_kind_names), s); }
const char *dir_status_name(int v)
{ return name_of(status_names, GMS_NELEM(status_names), v); }
int dir_status_parse(const char *s)
{ return parse_of(status_names, GMS_NELEM(status_names), s); }
const char *dir_kind_name(int v)
{ return name_of(kind_names, GMS_NELEM(kind_names), v); }
const char *dir_post_policy_name(int v)
{ return name_of(policy_names, GMS_NELEM(policy_names), v); }
int dir_post_policy_parse(const char *s)
{ return parse_of(policy_names, GMS_NELEM(policy_names), s); }

/* ------------------------------------------------------------------ */
/* Small owned containers. */

void
dir_strv_add(struct dir_strv *sv, const char *s)
{
	sv->v = xreallocarray(sv->v, sv->n + 1, sizeof(*sv->v));
	sv->v[sv->n++] = xstrdup(s);
}

void
dir_strv_free(struct dir_strv *sv)
{
	size_t i;

	if (sv == NULL)
		return;
	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

void
dir_strv_copy(struct dir_strv *dst, const struct dir_strv *src)
{
	size_t i;

	dst->v = NULL;
	dst->n = 0;
	for (i = 0; i < src->n; i++)
		dir_strv_add(dst, src->v[i]);
}

/* strv_cmp - qsort comparison of two string pointers. */
static int
strv_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
dir_strv_sort(struct dir_strv *sv)
{
	if (sv->n > 1)
		qsort(sv->v, sv->n, sizeof(*sv->v), strv_cmp);
}

void
dir_entry_clear(struct dir_entry *e)
{
	dir_strv_free(&e->members);
}

void
dir_entry_copy(struct dir_entry *dst, const struct dir_entry *src)
{
	memcpy(dst, src, sizeof(*dst));
	dir_strv_copy(&dst->members, &src->members);
}

void
dir_alias_clear(struct dir_alias *a)
{
	dir_strv_free(&a->targets);
}

void
dir_list_clear(struct dir_list *l)
{
	dir_strv_free(&l->members);
}

/* ------------------------------------------------------------------ */
/* Key normalization. */

/* domain_ok - is s (len bytes, lowercase) a plausible domain name? */
static bool
domain_ok(const char *s, size_t len)
{
	size_t i, label = 0;

	if (len == 0 || len > DIR_DOMAIN_MAX || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

int
dir_normalize_domain(const char *in, char *out)
{
	size_t len;

	if (in == NULL)
		return -1;
	len = strnlen(in, DIR_DOMAIN_MAX + 1);
	if (len > DIR_DOMAIN_MAX)
		return -1;
	memcpy(out, in, len);
	out[len] = '\0';
	gms_lowercase(out);
	return domain_ok(out, len) ? 0 : -1;
}

int
dir_normalize_address(const char *in, char *out)
{
	const char *at;
	size_t len, llen, i;

	if (in == NULL)
		return -1;
	len = strnlen(in, DIR_ADDR_MAX + 1);
	if (len > DIR_ADDR_MAX)
		return -1;
	at = memchr(in, '@', len);
	if (at == NULL || memchr(at + 1, '@', len - (size_t)(at - in) - 1) != NULL)
		return -1;
	llen = (size_t)(at - in);
	if (llen == 0 || llen > DIR_LOCAL_MAX)
		return -1;
	for (i = 0; i < llen; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c <= ' ' || c == 0x7f || strchr("\"\\(),;<>[]:", c) != NULL)
			return -1;
	}
	memcpy(out, in, len);
	out[len] = '\0';
	gms_lowercase(out);
	return domain_ok(out + llen + 1, len - llen - 1) ? 0 : -1;
}

int
dir_normalize_id(const char *in, char *out)
{
	size_t len, i;

	if (in == NULL)
		return -1;
	len = strnlen(in, DIR_ID_MAX + 1);
	if (len == 0 || len > DIR_ID_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-'))
			return -1;
		out[i] = c;
	}
	out[len] = '\0';
	return 0;
}

/* ------------------------------------------------------------------ */
/* Passwords. */

char *
directory_hash_password(const char *pass, size_t passlen)
{
	unsigned char salt[16], md[64 + 16];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	struct buf b = BUF_INIT(0);
	int ok;

	if (pass == NULL || passlen == 0 || passlen > DIR_PASSWORD_MAX)
		return NULL;
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return NULL;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return NULL;
	ok = EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, pass, passlen) == 1 &&
	    EVP_DigestUpdate(ctx, salt, sizeof(salt)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 64;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return NULL;
	memcpy(md + 64, salt, sizeof(salt));
	if (buf_puts(&b, "{SSHA512}") < 0 ||
	    base64_encode(&b, md, sizeof(md)) < 0) {
		buf_free(&b);
		return NULL;
	}
	gms_wipe(md, sizeof(md));
	return buf_steal(&b);
}

/* read_secret - read a password file (mode must deny group and others)
 * into *pw_r (caller wipes and frees).  Returns 0 or -1 with err set. */
static int
read_secret(const char *path, char **pw_r, size_t *len_r, char *err,
    size_t errlen)
{
	char tmp[DIR_PASSWORD_MAX + 2];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		(void)gms_snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		(void)gms_snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		(void)gms_snprintf(err, errlen,
		    "%s: readable by group or others (chmod 600)", path);
		close(fd);
		return -1;
	}
	while (len < sizeof(tmp)) {
		n = read(fd, tmp + len, sizeof(tmp) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	while (len > 0 && (tmp[len - 1] == '\n' || tmp[len - 1] == '\r'))
		len--;
	if (len > DIR_PASSWORD_MAX) {
		gms_wipe(tmp, sizeof(tmp));
		(void)gms_snprintf(err, errlen, "%s: password too long", path);
		return -1;
	}
	*pw_r = xmalloc(len + 1);
	memcpy(*pw_r, tmp, len);
	(*pw_r)[len] = '\0';
	*len_r = len;
	gms_wipe(tmp, sizeof(tmp));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Opening and closing. */

/* settings_free - free and wipe what s owns. */
static void
settings_free(struct dir_settings *s)
{
	free(s->uri);
	free(s->base);
	free(s->bind_dn);
	if (s->bind_pw != NULL) {
		gms_wipe(s->bind_pw, s->bind_pwlen);
		free(s->bind_pw);
	}
	memset(s, 0, sizeof(*s));
}

/* open_common - directory_open and directory_open_as.  With user set,
 * bind as the user's DN with pass instead of a configured DN. */
static struct directory *
open_common(const struct conf *c, unsigned int flags, const char *user,
    const char *pass, size_t passlen, char *err, size_t errlen)
{
	struct directory *d = xcalloc(1, sizeof(*d));
	struct dir_settings *s = &d->s;
	const char *delim, *pwfile;

	s->uri = xstrdup(conf_str(c, "directory.uri"));
	s->base = xstrdup(conf_str(c, "directory.base"));
	s->admin = (flags & DIR_OPEN_ADMIN) != 0;
	if (user != NULL) {
		char addr[DIR_ADDR_MAX + 1];
		struct buf dn = BUF_INIT(4096);

		if (dir_normalize_address(user, addr) < 0 || pass == NULL ||
		    passlen == 0 || passlen > DIR_PASSWORD_MAX ||
		    memchr(pass, '\0', passlen) != NULL) {
			(void)gms_snprintf(err, errlen,
			    "a mailbox address and a password are needed");
			goto fail;
		}
		if (buf_puts(&dn, "mail=") < 0 ||
		    dir_escape_dn(&dn, addr, strlen(addr)) < 0 ||
		    buf_printf(&dn, ",ou=people,%s", s->base) < 0) {
			buf_free(&dn);
			(void)gms_snprintf(err, errlen, "DN too long");
			goto fail;
		}
		s->bind_dn = buf_steal(&dn);
		s->bind_pw = xmalloc(passlen + 1);
		memcpy(s->bind_pw, pass, passlen);
		s->bind_pw[passlen] = '\0';
		s->bind_pwlen = passlen;
		pwfile = NULL;
	} else {
		s->bind_dn = xstrdup(conf_str(c, s->admin ?
		    "directory.admin_dn" : "directory.bind_dn"));
		pwfile = conf_str(c, s->admin ?
		    "directory.admin_password_file" :
		    "directory.bind_password_file");
	}
	s->timeout = (int)conf_int(c, "directory.timeout");
	s->pool_size = (int)conf_int(c, "directory.pool_size");
	s->cache_ttl = (int)conf_int(c, "directory.cache_ttl");
	s->negative_ttl = (int)conf_int(c, "directory.negative_ttl");
	s->cache_size = (int)conf_int(c, "directory.cache_size");
	s->expand_limit = (int)conf_int(c, "directory.expand_limit");
	s->expand_depth = (int)conf_int(c, "directory.expand_depth");
	delim = conf_str(c, "directory.recipient_delimiter");
	if (strlen(delim) > 1 || (delim[0] != '\0' &&
	    (delim[0] == '@' || (unsigned char)delim[0] <= ' '))) {
		(void)gms_snprintf(err, errlen,
		    "directory.recipient_delimiter: one character, not '@'");
		goto fail;
	}
	s->delimiter = delim[0];

	if (strncmp(s->uri, "static:", 7) == 0)
		d->be = &dir_backend_static;
	else if (strncmp(s->uri, "ldap://", 7) == 0 ||
	    strncmp(s->uri, "ldapi://", 8) == 0 ||
	    strncmp(s->uri, "ldaps://", 8) == 0) {
		d->be = &dir_backend_ldap;
		if (pwfile != NULL && s->bind_dn[0] != '\0' &&
		    read_secret(pwfile, &s->bind_pw, &s->bind_pwlen, err,
		    errlen) < 0)
			goto fail;
	} else {
		(void)gms_snprintf(err, errlen,
		    "directory.uri: want ldap://, ldapi://, ldaps:// or static:");
		goto fail;
	}
	if (d->be->open(s, &d->ctx, err, errlen) < 0)
		goto fail;
	d->cache = dcache_new(s->cache_size, s->cache_ttl, s->negative_ttl);
	return d;

fail:
	settings_free(s);
	free(d);
	return NULL;
}

struct directory *
directory_open(const struct conf *c, unsigned int flags, char *err,
    size_t errlen)
{
	return open_common(c, flags, NULL, NULL, 0, err, errlen);
}

struct directory *
directory_open_as(const struct conf *c, const char *user, const char *pass,
    size_t passlen, char *err, size_t errlen)
{
	return open_common(c, DIR_OPEN_ADMIN, user, pass, passlen, err, errlen);
}

void
directory_close(struct directory **dp)
{
	struct directory *d = *dp;

	if (d == NULL)
		return;
	d->be->close(d->ctx);
	dcache_free(&d->cache);
	settings_free(&d->s);
	free(d);
	*dp = NULL;
}

int
directory_ping(struct directory *d)
{
	return d->be->ping(d->ctx) < 0 ? DIR_TEMPFAIL : DIR_OK;
}

void
directory_cache_flush(struct directory *d)
{
	dcache_flush(d->cache);
}

void
directory_stats(struct directory *d, struct dir_stats *st_r)
{
	st_r->lookups = __atomic_load_n(&d->st.lookups, __ATOMIC_RELAXED);
	st_r->cache_hits = __atomic_load_n(&d->st.cache_hits, __ATOMIC_RELAXED);
	st_r->backend_calls = __atomic_load_n(&d->st.backend_calls,
	    __ATOMIC_RELAXED);
	st_r->tempfails = __atomic_load_n(&d->st.tempfails, __ATOMIC_RELAXED);
	st_r->reconnects = 0;
	if (d->be == &dir_backend_ldap)
		st_r->reconnects = dir_ldap_reconnects(d->ctx);
}

/* ------------------------------------------------------------------ */
/* Cached primitive lookups (keys already normalized). */

/* count - update the counters for one backend answer r. */
static int
count(struct directory *d, int r)
{
	STAT_INC(d, backend_calls);
	if (r == DIR_TEMPFAIL)
		STAT_INC(d, tempfails);
	return r;
}

/* get_domain - the domain name (normalized), cached. */
static int
get_domain(struct directory *d, const char *name, struct dir_domain *r)
{
	struct dir_domain tmp;
	int rc;

	STAT_INC(d, lookups);
	if (r == NULL)
		r = &tmp;
	rc = dcache_get(d->cache, DCACHE_DOMAIN, name, r);
	if (rc != DIR_TEMPFAIL) {
		STAT_INC(d, cache_hits);
		return rc;
	}
	memset(r, 0, sizeof(*r));
	rc = count(d, d->be->domain(d->ctx, name, r));
	if (rc == DIR_FOUND)
		dcache_put(d->cache, DCACHE_DOMAIN, name, r);
	else if (rc == DIR_NOTFOUND)
		dcache_put(d->cache, DCACHE_DOMAIN, name, NULL);
	return rc;
}

/* get_entry - what is at the address (normalized), cached.  On DIR_FOUND
 * the caller clears *e. */
static int
get_entry(struct directory *d, const char *addr, struct dir_entry *e)
{
	int rc;

	STAT_INC(d, lookups);
	rc = dcache_get(d->cache, DCACHE_ENTRY, addr, e);
	if (rc != DIR_TEMPFAIL) {
		STAT_INC(d, cache_hits);
		return rc;
	}
	memset(e, 0, sizeof(*e));
	rc = count(d, d->be->entry(d->ctx, addr, e));
	if (rc == DIR_FOUND)
		dcache_put(d->cache, DCACHE_ENTRY, addr, e);
	else {
		dir_entry_clear(e);
		if (rc == DIR_NOTFOUND)
			dcache_put(d->cache, DCACHE_ENTRY, addr, NULL);
	}
	return rc;
}

int
directory_domain(struct directory *d, const char *domain,
    struct dir_domain *dom_r)
{
	char key[DIR_DOMAIN_MAX + 1];

	if (dir_normalize_domain(domain, key) < 0)
		return DIR_NOTFOUND;
	return get_domain(d, key, dom_r);
}

int
directory_institution(struct directory *d, const char *id,
    struct dir_institution *inst_r)
{
	struct dir_institution tmp;
	char key[DIR_ID_MAX + 1];
	int rc;

	if (dir_normalize_id(id, key) < 0)
		return DIR_NOTFOUND;
	if (inst_r == NULL)
		inst_r = &tmp;
	STAT_INC(d, lookups);
	rc = dcache_get(d->cache, DCACHE_INSTITUTION, key, inst_r);
	if (rc != DIR_TEMPFAIL) {
		STAT_INC(d, cache_hits);
		return rc;
	}
	memset(inst_r, 0, sizeof(*inst_r));
	rc = count(d, d->be->institution(d->ctx, key, inst_r));
	if (rc == DIR_FOUND)
		dcache_put(d->cache, DCACHE_INSTITUTION, key, inst_r);
	else if (rc == DIR_NOTFOUND)
		dcache_put(d->cache, DCACHE_INSTITUTION, key, NULL);
	return rc;
}

int
directory_institutions(struct directory *d, const struct dir_inst_filter *f,
    struct dir_institution **list_r, size_t *n_r)
{
	struct dir_inst_filter nf = { -1, NULL, NULL };
	int rc;

	*list_r = NULL;
	*n_r = 0;
	if (f != NULL) {
		nf = *f;
		if (nf.region != NULL && nf.region[0] == '\0')
			nf.region = NULL;
		if (nf.country != NULL && nf.country[0] == '\0')
			nf.country = NULL;
		if ((nf.region != NULL && strlen(nf.region) > DIR_PLACE_MAX) ||
		    (nf.country != NULL && strlen(nf.country) > DIR_PLACE_MAX) ||
		    nf.kind >= DIR_INST_KIND_COUNT)
			return DIR_OK;	/* matches nothing */
	}
	STAT_INC(d, lookups);
	rc = count(d, d->be->institutions(d->ctx, &nf, list_r, n_r));
	return rc < 0 ? DIR_TEMPFAIL : DIR_OK;
}

int
directory_mailbox(struct directory *d, const char *address,
    struct dir_mailbox *mb_r)
{
	char key[DIR_ADDR_MAX + 1];
	struct dir_entry e;
	int rc;

	if (dir_normalize_address(address, key) < 0)
		return DIR_NOTFOUND;
	rc = get_entry(d, key, &e);
	if (rc != DIR_FOUND)
		return rc;
	if (e.kind != DIR_KIND_MAILBOX)
		rc = DIR_NOTFOUND;
	else if (mb_r != NULL)
		*mb_r = e.mb;
	dir_entry_clear(&e);
	return rc;
}

int
directory_alias(struct directory *d, const char *address, struct dir_alias *r)
{
	char key[DIR_ADDR_MAX + 1];
	struct dir_entry e;
	int rc;

	memset(r, 0, sizeof(*r));
	if (dir_normalize_address(address, key) < 0)
		return DIR_NOTFOUND;
	rc = get_entry(d, key, &e);
	if (rc != DIR_FOUND)
		return rc;
	if (e.kind != DIR_KIND_ALIAS) {
		dir_entry_clear(&e);
		return DIR_NOTFOUND;
	}
	memcpy(r->address, e.address, sizeof(r->address));
	memcpy(r->owner, e.owner, sizeof(r->owner));
	r->targets = e.members;		/* moved */
	return DIR_FOUND;
}

int
directory_list(struct directory *d, const char *address, struct dir_list *r)
{
	char key[DIR_ADDR_MAX + 1];
	struct dir_entry e;
	int rc;

	memset(r, 0, sizeof(*r));
	if (dir_normalize_address(address, key) < 0)
		return DIR_NOTFOUND;
	rc = get_entry(d, key, &e);
	if (rc != DIR_FOUND)
		return rc;
	if (e.kind != DIR_KIND_LIST) {
		dir_entry_clear(&e);
		return DIR_NOTFOUND;
	}
	memcpy(r->address, e.address, sizeof(r->address));
	memcpy(r->owner, e.owner, sizeof(r->owner));
	memcpy(r->name, e.name, sizeof(r->name));
	r->policy = e.policy;
	r->members = e.members;		/* moved */
	return DIR_FOUND;
}

/* addresses - the sorted addresses of one kind in domain ("" / NULL: all). */
static int
addresses(struct directory *d, int kind, const char *domain,
    struct dir_strv *sv_r)
{
	char key[DIR_DOMAIN_MAX + 1];
	int rc;

	memset(sv_r, 0, sizeof(*sv_r));
	key[0] = '\0';
	if (domain != NULL && domain[0] != '\0' &&
	    dir_normalize_domain(domain, key) < 0)
		return DIR_OK;
	rc = count(d, d->be->addresses(d->ctx, kind, key, sv_r));
	if (rc < 0) {
		dir_strv_free(sv_r);
		return DIR_TEMPFAIL;
	}
	dir_strv_sort(sv_r);
	return DIR_OK;
}

int
directory_mailboxes(struct directory *d, const char *domain,
    struct dir_strv *sv_r)
{
	return addresses(d, DIR_KIND_MAILBOX, domain, sv_r);
}

int
directory_aliases(struct directory *d, const char *domain,
    struct dir_strv *sv_r)
{
	return addresses(d, DIR_KIND_ALIAS, domain, sv_r);
}

int
directory_lists(struct directory *d, const char *domain,
    struct dir_strv *sv_r)
{
	return addresses(d, DIR_KIND_LIST, domain, sv_r);
}

int
directory_domains(struct directory *d, const char *institution,
    struct dir_strv *sv_r)
{
	char key[DIR_ID_MAX + 1];
	int rc;

	memset(sv_r, 0, sizeof(*sv_r));
	key[0] = '\0';
	if (institution != NULL && institution[0] != '\0' &&
	    dir_normalize_id(institution, key) < 0)
		return DIR_OK;
	rc = count(d, d->be->domains(d->ctx, key, sv_r));
	if (rc < 0) {
		dir_strv_free(sv_r);
		return DIR_TEMPFAIL;
	}
	dir_strv_sort(sv_r);
	return DIR_OK;
}

/* ------------------------------------------------------------------ */
/* Resolving and expanding. */

/* split_detail - if addr (normalized) is local+detail@domain, write
 * local@domain into base and the detail into detail.  Returns true if
 * there was a detail. */
static bool
split_detail(const struct directory *d, const char *addr, char *base,
    char *detail)
{
	const char *at = strrchr(addr, '@'), *sep;
	size_t llen;

	detail[0] = '\0';
	if (d->s.delimiter == '\0' || at == NULL)
		return false;
	sep = memchr(addr, d->s.delimiter, (size_t)(at - addr));
	if (sep == NULL || sep == addr)
		return false;
	llen = (size_t)(sep - addr);
	(void)gms_snprintf(detail, DIR_LOCAL_MAX + 1, "%.*s",
	    (int)(at - sep - 1), sep + 1);
	(void)gms_snprintf(base, DIR_ADDR_MAX + 1, "%.*s%s", (int)llen, addr,
	    at);
	return true;
}

/* The state of one expansion. */
struct expand {
	struct directory	*d;
	struct dir_strv		 seen;		/* addresses expanded */
	struct dir_target	*targets;	/* owned until moved */
	size_t			 ntargets;
	size_t			 captargets;
};

/* seen_add - remember addr; false if it was seen before. */
static bool
seen_add(struct expand *x, const char *addr)
{
	size_t i;

	for (i = 0; i < x->seen.n; i++)
		if (strcmp(x->seen.v[i], addr) == 0)
			return false;
	dir_strv_add(&x->seen, addr);
	return true;
}

/* target_add - append a final destination.  Returns 0 or DIR_PERMFAIL. */
static int
target_add(struct expand *x, const char *addr, bool local,
    const struct dir_mailbox *mb)
{
	struct dir_target *t;

	if (x->ntargets >= (size_t)x->d->s.expand_limit) {
		log_warnx("directory: expansion passes the limit limit=%d",
		    x->d->s.expand_limit);
		return DIR_PERMFAIL;
	}
	if (x->ntargets == x->captargets) {
		x->captargets = x->captargets ? x->captargets * 2 : 4;
		x->targets = xreallocarray(x->targets, x->captargets,
		    sizeof(*x->targets));
	}
	t = &x->targets[x->ntargets++];
	memset(t, 0, sizeof(*t));
	(void)gms_strlcpy(t->address, addr, sizeof(t->address));
	t->local = local;
	if (mb != NULL) {
		t->status = mb->status;
		(void)gms_strlcpy(t->home_server, mb->home_server,
		    sizeof(t->home_server));
	}
	return 0;
}

/* expand - add the final destinations of addr (normalized) at depth.
 * Returns 0, DIR_TEMPFAIL or DIR_PERMFAIL. */
static int
expand(struct expand *x, const char *addr, int depth)
{
	struct dir_entry e;
	const char *at;
	size_t i;
	int rc;

	if (!seen_add(x, addr))
		return 0;	/* a loop or a duplicate: expanded once */
	if (x->seen.n > (size_t)x->d->s.expand_limit * 2 + 16) {
		log_warnx("directory: expansion visits too many entries");
		return DIR_PERMFAIL;
	}
	rc = get_entry(x->d, addr, &e);
	if (rc == DIR_TEMPFAIL)
		return DIR_TEMPFAIL;
	if (rc == DIR_NOTFOUND) {
		at = strrchr(addr, '@');
		rc = get_domain(x->d, at + 1, NULL);
		if (rc == DIR_TEMPFAIL)
			return DIR_TEMPFAIL;
		if (rc == DIR_FOUND) {
			/* Ours but absent: a dangling member, skipped. */
			log_warnx("directory: dangling member skipped addr=%s",
			    addr);
			return 0;
		}
		return target_add(x, addr, false, NULL);
	}
	if (e.kind == DIR_KIND_MAILBOX) {
		rc = target_add(x, e.address, true, &e.mb);
		dir_entry_clear(&e);
		return rc;
	}
	if (depth >= x->d->s.expand_depth) {
		log_warnx("directory: lists nested too deep addr=%s depth=%d",
		    addr, depth);
		dir_entry_clear(&e);
		return DIR_PERMFAIL;
	}
	rc = 0;
	for (i = 0; i < e.members.n && rc == 0; i++) {
		char m[DIR_ADDR_MAX + 1];

		if (dir_normalize_address(e.members.v[i], m) < 0) {
			log_warnx("directory: malformed member skipped in=%s",
			    addr);
			continue;
		}
		rc = expand(x, m, depth + 1);
	}
	dir_entry_clear(&e);
	return rc;
}

int
directory_resolve(struct directory *d, const char *address,
    struct dir_resolution **res_r)
{
	char addr[DIR_ADDR_MAX + 1], base[DIR_ADDR_MAX + 1];
	char detail[DIR_LOCAL_MAX + 1];
	struct dir_domain dom;
	struct dir_entry e;
	struct dir_resolution *res;
	struct expand x;
	bool catchall = false;
	size_t i;
	int rc;

	*res_r = NULL;
	detail[0] = '\0';
	if (dir_normalize_address(address, addr) < 0)
		return DIR_NOTFOUND;
	rc = get_domain(d, strrchr(addr, '@') + 1, &dom);
	if (rc != DIR_FOUND)
		return rc;

	rc = get_entry(d, addr, &e);
	if (rc == DIR_NOTFOUND && split_detail(d, addr, base, detail)) {
		rc = get_entry(d, base, &e);
		if (rc != DIR_FOUND)
			detail[0] = '\0';
	}
	if (rc == DIR_NOTFOUND && dom.catchall[0] != '\0') {
		char ca[DIR_ADDR_MAX + 1];

		if (dir_normalize_address(dom.catchall, ca) == 0) {
			rc = get_entry(d, ca, &e);
			catchall = rc == DIR_FOUND;
		}
	}
	if (rc != DIR_FOUND)
		return rc;

	memset(&x, 0, sizeof(x));
	x.d = d;
	if (e.kind == DIR_KIND_MAILBOX) {
		(void)seen_add(&x, e.address);
		rc = target_add(&x, e.address, true, &e.mb);
	} else {
		(void)seen_add(&x, e.address);
		rc = 0;
		for (i = 0; i < e.members.n && rc == 0; i++) {
			char m[DIR_ADDR_MAX + 1];

			if (dir_normalize_address(e.members.v[i], m) < 0)
				continue;
			rc = expand(&x, m, 1);
		}
	}
	dir_strv_free(&x.seen);
	if (rc != 0) {
		free(x.targets);
		dir_entry_clear(&e);
		return rc;
	}
	res = xcalloc(1, sizeof(*res));
	res->kind = e.kind;
	memcpy(res->address, e.address, sizeof(res->address));
	memcpy(res->detail, detail, sizeof(res->detail));
	res->catchall = catchall;
	res->policy = e.policy;
	res->targets = x.targets;
	res->ntargets = x.ntargets;
	dir_entry_clear(&e);
	*res_r = res;
	return DIR_FOUND;
}

void
directory_resolution_free(struct dir_resolution **resp)
{
	if (*resp == NULL)
		return;
	free((*resp)->targets);
	free(*resp);
	*resp = NULL;
}

/* strip_detail - normalize addr into out and remove a +detail. */
static int
canonical(const struct directory *d, const char *addr, char *out)
{
	char tmp[DIR_ADDR_MAX + 1], detail[DIR_LOCAL_MAX + 1];

	if (dir_normalize_address(addr, tmp) < 0)
		return -1;
	if (!split_detail(d, tmp, out, detail))
		memcpy(out, tmp, sizeof(tmp));
	return 0;
}

int
directory_may_send_as(struct directory *d, const char *user, const char *from)
{
	char u[DIR_ADDR_MAX + 1], f[DIR_ADDR_MAX + 1], fx[DIR_ADDR_MAX + 1];
	struct dir_entry e;
	int rc;

	if (canonical(d, user, u) < 0 || dir_normalize_address(from, fx) < 0 ||
	    canonical(d, from, f) < 0)
		return 0;
	if (strcmp(u, f) == 0)
		return 1;
	rc = get_entry(d, fx, &e);
	if (rc == DIR_NOTFOUND && strcmp(fx, f) != 0)
		rc = get_entry(d, f, &e);
	if (rc != DIR_FOUND)
		return rc == DIR_TEMPFAIL ? DIR_TEMPFAIL : 0;
	rc = e.kind != DIR_KIND_MAILBOX && strcmp(e.owner, u) == 0;
	dir_entry_clear(&e);
	return rc;
}

int
directory_list_may_post(struct directory *d, const char *list,
    const char *sender)
{
	char l[DIR_ADDR_MAX + 1], s[DIR_ADDR_MAX + 1];
	struct dir_resolution *res = NULL;
	struct dir_entry e;
	size_t i;
	int rc, policy;
	bool owner;

	if (dir_normalize_address(list, l) < 0)
		return 0;
	rc = get_entry(d, l, &e);
	if (rc != DIR_FOUND)
		return rc == DIR_TEMPFAIL ? DIR_TEMPFAIL : 0;
	policy = e.policy;
	owner = canonical(d, sender, s) == 0 && strcmp(e.owner, s) == 0;
	rc = e.kind == DIR_KIND_LIST;
	dir_entry_clear(&e);
	if (rc == 0)
		return 0;
	if (policy == DIR_POST_ANYONE)
		return 1;
	if (canonical(d, sender, s) < 0)
		return 0;		/* the null sender, a malformed one */
	if (owner)
		return 1;
	if (policy == DIR_POST_DOMAINS) {
		struct dir_domain dom;

		rc = get_domain(d, strrchr(s, '@') + 1, &dom);
		if (rc != DIR_FOUND)
			return rc;
		return dom.status == DIR_STATUS_ACTIVE;
	}
	if (policy != DIR_POST_MEMBERS)
		return 0;		/* unknown policy: fail closed */
	rc = directory_resolve(d, l, &res);
	if (rc == DIR_TEMPFAIL)
		return DIR_TEMPFAIL;
	if (rc != DIR_FOUND)
		return 0;
	rc = 0;
	for (i = 0; i < res->ntargets; i++)
		if (strcmp(res->targets[i].address, s) == 0)
			rc = 1;
	directory_resolution_free(&res);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Authentication. */

int
directory_authenticate(struct directory *d, const char *user,
    const char *pass, size_t passlen, struct dir_mailbox *mb_r)
{
	char addr[DIR_ADDR_MAX + 1];
	struct dir_entry e;
	int rc;

	/* Security: an LDAP simple bind with an empty password is an
	 * unauthenticated bind that "succeeds"; refuse it here. */
	if (pass == NULL || passlen == 0 || passlen > DIR_PASSWORD_MAX ||
	    memchr(pass, '\0', passlen) != NULL)
		return 0;
	if (dir_normalize_address(user, addr) < 0)
		return 0;
	rc = count(d, d->be->authenticate(d->ctx, addr, pass, passlen));
	if (rc != 1)
		return rc < 0 ? DIR_TEMPFAIL : 0;
	/* The bind proved the password; now the mailbox must be usable.
	 * Read it fresh: a suspension must take effect at once. */
	memset(&e, 0, sizeof(e));
	rc = count(d, d->be->entry(d->ctx, addr, &e));
	if (rc != DIR_FOUND)
		return rc == DIR_TEMPFAIL ? DIR_TEMPFAIL : 0;
	rc = e.kind == DIR_KIND_MAILBOX && e.mb.status == DIR_STATUS_ACTIVE;
	if (rc && mb_r != NULL)
		*mb_r = e.mb;
	dir_entry_clear(&e);
	return rc;
}

int
directory_change_password(struct directory *d, const char *user,
    const char *oldpass, size_t oldlen, const char *newpass, size_t newlen)
{
	char addr[DIR_ADDR_MAX + 1];
	char *hash;
	int rc;

	if (oldpass == NULL || oldlen == 0 || oldlen > DIR_PASSWORD_MAX ||
	    dir_normalize_address(user, addr) < 0)
		return DIR_EPERM;
	if (newpass == NULL || newlen == 0 || newlen > DIR_PASSWORD_MAX ||
	    memchr(newpass, '\0', newlen) != NULL)
		return DIR_EINVAL;
	if (d->be->change_password == NULL)
		return DIR_EPERM;
	hash = directory_hash_password(newpass, newlen);
	if (hash == NULL)
		return DIR_TEMPFAIL;
	rc = count(d, d->be->change_password(d->ctx, addr, oldpass, oldlen,
	    hash));
	gms_wipe(hash, strlen(hash));
	free(hash);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Writing. */

/* write_done - flush the cache after a write and pass rc on. */
static int
write_done(struct directory *d, int rc)
{
	dcache_flush(d->cache);
	return count(d, rc);
}

/* field_ok - a text field fits and holds no control byte. */
static bool
field_ok(const char *s, size_t max)
{
	size_t len = strnlen(s, max + 1), i;

	if (len > max)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* opt_address - normalize an optional address field ("" stays ""). */
static int
opt_address(const char *in, char *out)
{
	if (in == NULL || in[0] == '\0') {
		out[0] = '\0';
		return 0;
	}
	return dir_normalize_address(in, out);
}

/* inst_check - validate and normalize an institution into out. */
static int
inst_check(const struct dir_institution *in, struct dir_institution *out)
{
	memset(out, 0, sizeof(*out));
	if (dir_normalize_id(in->id, out->id) < 0 ||
	    in->kind < 0 || in->kind >= DIR_INST_KIND_COUNT ||
	    in->name_en[0] == '\0' ||
	    !field_ok(in->name_en, DIR_NAME_MAX) ||
	    !field_ok(in->name_sw, DIR_NAME_MAX) ||
	    !field_ok(in->region, DIR_PLACE_MAX) ||
	    !field_ok(in->country, DIR_PLACE_MAX) ||
	    !field_ok(in->city, DIR_PLACE_MAX) ||
	    !field_ok(in->phone, DIR_PHONE_MAX) ||
	    opt_address(in->contact, out->contact) < 0)
		return DIR_EINVAL;
	if (in->domain[0] != '\0' &&
	    dir_normalize_domain(in->domain, out->domain) < 0)
		return DIR_EINVAL;
	out->kind = in->kind;
	memcpy(out->name_en, in->name_en, sizeof(out->name_en));
	memcpy(out->name_sw, in->name_sw, sizeof(out->name_sw));
	memcpy(out->region, in->region, sizeof(out->region));
	memcpy(out->country, in->country, sizeof(out->country));
	memcpy(out->city, in->city, sizeof(out->city));
	memcpy(out->phone, in->phone, sizeof(out->phone));
	return DIR_OK;
}

/* inst_put - add or modify an institution. */
static int
inst_put(struct directory *d, const struct dir_institution *inst, bool add)
{
	struct dir_institution n;
	int rc;

	if (!d->s.admin || d->be->institution_put == NULL)
		return DIR_EPERM;
	if ((rc = inst_check(inst, &n)) != DIR_OK)
		return rc;
	return write_done(d, d->be->institution_put(d->ctx, &n, add));
}

int
directory_institution_add(struct directory *d,
    const struct dir_institution *inst)
{
	return inst_put(d, inst, true);
}

int
directory_institution_modify(struct directory *d,
    const struct dir_institution *inst)
{
	return inst_put(d, inst, false);
}

/* remove_key - delete one entry of kind ('i', 'd', 'm', 'a', 'l'). */
static int
remove_key(struct directory *d, int kind, const char *key)
{
	char k[DIR_ADDR_MAX + 1];
	int rc;

	if (!d->s.admin || d->be->remove == NULL)
		return DIR_EPERM;
	if (kind == 'i')
		rc = dir_normalize_id(key, k);
	else if (kind == 'd')
		rc = dir_normalize_domain(key, k);
	else
		rc = dir_normalize_address(key, k);
	if (rc < 0)
		return DIR_EINVAL;
	return write_done(d, d->be->remove(d->ctx, kind, k));
}

int
directory_institution_delete(struct directory *d, const char *id)
{
	return remove_key(d, 'i', id);
}

/* domain_put - add or modify a domain. */
static int
domain_put(struct directory *d, const struct dir_domain *dom, bool add)
{
	struct dir_domain n;

	if (!d->s.admin || d->be->domain_put == NULL)
		return DIR_EPERM;
	memset(&n, 0, sizeof(n));
	if (dir_normalize_domain(dom->name, n.name) < 0 ||
	    dir_normalize_id(dom->institution, n.institution) < 0 ||
	    opt_address(dom->catchall, n.catchall) < 0 ||
	    !field_ok(dom->dkim_selector, DIR_SELECTOR_MAX) ||
	    strchr(dom->dkim_selector, ' ') != NULL ||
	    dom->status < 0 || dom->status > DIR_STATUS_SUSPENDED)
		return DIR_EINVAL;
	memcpy(n.dkim_selector, dom->dkim_selector, sizeof(n.dkim_selector));
	n.status = dom->status;
	return write_done(d, d->be->domain_put(d->ctx, &n, add));
}

int
directory_domain_add(struct directory *d, const struct dir_domain *dom)
{
	return domain_put(d, dom, true);
}

int
directory_domain_modify(struct directory *d, const struct dir_domain *dom)
{
	return domain_put(d, dom, false);
}

int
directory_domain_delete(struct directory *d, const char *domain)
{
	return remove_key(d, 'd', domain);
}

/* mailbox_put - add or modify a mailbox; hash may be NULL. */
static int
mailbox_put(struct directory *d, const struct dir_mailbox *mb,
    const char *hash, bool add)
{
	struct dir_mailbox n;

	if (!d->s.admin || d->be->mailbox_put == NULL)
		return DIR_EPERM;
	memset(&n, 0, sizeof(n));
	if (dir_normalize_address(mb->address, n.address) < 0 ||
	    !field_ok(mb->display_name, DIR_NAME_MAX) ||
	    !field_ok(mb->home_server, DIR_HOST_MAX) ||
	    strchr(mb->home_server, ' ') != NULL ||
	    mb->status < 0 || mb->status > DIR_STATUS_SUSPENDED)
		return DIR_EINVAL;
	if (mb->institution[0] != '\0' &&
	    dir_normalize_id(mb->institution, n.institution) < 0)
		return DIR_EINVAL;
	memcpy(n.display_name, mb->display_name, sizeof(n.display_name));
	memcpy(n.home_server, mb->home_server, sizeof(n.home_server));
	n.quota_bytes = mb->quota_bytes;
	n.quota_messages = mb->quota_messages;
	n.status = mb->status;
	return write_done(d, d->be->mailbox_put(d->ctx, &n, hash, add));
}

int
directory_mailbox_add(struct directory *d, const struct dir_mailbox *mb,
    const char *password, size_t passlen)
{
	char *hash = NULL;
	int rc;

	if (password != NULL && passlen > 0) {
		if (passlen > DIR_PASSWORD_MAX ||
		    memchr(password, '\0', passlen) != NULL)
			return DIR_EINVAL;
		if ((hash = directory_hash_password(password, passlen)) == NULL)
			return DIR_TEMPFAIL;
	}
	rc = mailbox_put(d, mb, hash, true);
	if (hash != NULL) {
		gms_wipe(hash, strlen(hash));
		free(hash);
	}
	return rc;
}

int
directory_mailbox_modify(struct directory *d, const struct dir_mailbox *mb)
{
	return mailbox_put(d, mb, NULL, false);
}

int
directory_mailbox_delete(struct directory *d, const char *address)
{
	return remove_key(d, 'm', address);
}

int
directory_set_password(struct directory *d, const char *address,
    const char *password, size_t passlen)
{
	char addr[DIR_ADDR_MAX + 1];
	char *hash;
	int rc;

	if (!d->s.admin || d->be->set_password == NULL)
		return DIR_EPERM;
	if (dir_normalize_address(address, addr) < 0 || password == NULL ||
	    passlen == 0 || passlen > DIR_PASSWORD_MAX ||
	    memchr(password, '\0', passlen) != NULL)
		return DIR_EINVAL;
	if ((hash = directory_hash_password(password, passlen)) == NULL)
		return DIR_TEMPFAIL;
	rc = write_done(d, d->be->set_password(d->ctx, addr, hash));
	gms_wipe(hash, strlen(hash));
	free(hash);
	return rc;
}

/* group_put - add or modify an alias (kind ALIAS) or list. */
static int
group_put(struct directory *d, int kind, const char *address,
    const char *owner, const char *name, int policy,
    const char *const *members, size_t n, bool add)
{
	struct dir_entry e;
	size_t i;
	int rc = DIR_EINVAL;

	if (!d->s.admin || d->be->group_put == NULL)
		return DIR_EPERM;
	memset(&e, 0, sizeof(e));
	e.kind = kind;
	e.policy = policy;
	if (dir_normalize_address(address, e.address) < 0 ||
	    opt_address(owner, e.owner) < 0 ||
	    (name != NULL && !field_ok(name, DIR_NAME_MAX)) ||
	    policy < 0 || policy > DIR_POST_DOMAINS ||
	    n > (size_t)d->s.expand_limit)
		return DIR_EINVAL;
	if (name != NULL)
		(void)gms_strlcpy(e.name, name, sizeof(e.name));
	for (i = 0; i < n; i++) {
		char m[DIR_ADDR_MAX + 1];
		size_t j;

		if (dir_normalize_address(members[i], m) < 0)
			goto out;
		for (j = 0; j < e.members.n; j++)
			if (strcmp(e.members.v[j], m) == 0)
				break;
		if (j == e.members.n)
			dir_strv_add(&e.members, m);
	}
	rc = write_done(d, d->be->group_put(d->ctx, &e, add));
out:
	dir_entry_clear(&e);
	return rc;
}

int
directory_alias_add(struct directory *d, const char *address,
    const char *owner, const char *const *targets, size_t n)
{
	if (n == 0)
		return DIR_EINVAL;
	return group_put(d, DIR_KIND_ALIAS, address, owner, NULL, 0, targets,
	    n, true);
}

int
directory_alias_modify(struct directory *d, const char *address,
    const char *owner, const char *const *targets, size_t n)
{
	if (n == 0)
		return DIR_EINVAL;
	return group_put(d, DIR_KIND_ALIAS, address, owner, NULL, 0, targets,
	    n, false);
}

int
directory_alias_delete(struct directory *d, const char *address)
{
	return remove_key(d, 'a', address);
}

int
directory_list_add(struct directory *d, const struct dir_list *l)
{
	return group_put(d, DIR_KIND_LIST, l->address, l->owner, l->name,
	    l->policy, (const char *const *)l->members.v, l->members.n, true);
}

int
directory_list_modify(struct directory *d, const struct dir_list *l)
{
	return group_put(d, DIR_KIND_LIST, l->address, l->owner, l->name,
	    l->policy, NULL, 0, false);
}

int
directory_list_delete(struct directory *d, const char *address)
{
	return remove_key(d, 'l', address);
}

/* member_change - add or remove one direct member of a list. */
static int
member_change(struct directory *d, const char *list, const char *member,
    bool add)
{
	char l[DIR_ADDR_MAX + 1], m[DIR_ADDR_MAX + 1];

	if (!d->s.admin || d->be->member_change == NULL)
		return DIR_EPERM;
	if (dir_normalize_address(list, l) < 0 ||
	    dir_normalize_address(member, m) < 0)
		return DIR_EINVAL;
	return write_done(d, d->be->member_change(d->ctx, l, m, add));
}

int
directory_list_member_add(struct directory *d, const char *list,
    const char *member)
{
	return member_change(d, list, member, true);
}

int
directory_list_member_remove(struct directory *d, const char *list,
    const char *member)
{
	return member_change(d, list, member, false);
}

/* ------------------------------------------------------------------ */
/* Delegated administration. */

int
directory_admin_of(struct directory *d, const char *address,
    char id_r[DIR_ID_MAX + 1])
{
	char a[DIR_ADDR_MAX + 1];

	id_r[0] = '\0';
	if (d->be->admin_of == NULL || dir_normalize_address(address, a) < 0)
		return DIR_NOTFOUND;
	STAT_INC(d, lookups);
	return count(d, d->be->admin_of(d->ctx, a, id_r, DIR_ID_MAX + 1));
}

int
directory_institution_admins(struct directory *d, const char *id,
    struct dir_strv *sv_r)
{
	char key[DIR_ID_MAX + 1];
	int rc;

	memset(sv_r, 0, sizeof(*sv_r));
	if (dir_normalize_id(id, key) < 0 || d->be->admins == NULL)
		return DIR_NOTFOUND;
	STAT_INC(d, lookups);
	rc = count(d, d->be->admins(d->ctx, key, sv_r));
	if (rc != DIR_FOUND) {
		dir_strv_free(sv_r);
		return rc;
	}
	dir_strv_sort(sv_r);
	return DIR_FOUND;
}

/* admin_change - add or remove one gmsAdmin value. */
static int
admin_change(struct directory *d, const char *id, const char *address,
    bool add)
{
	char key[DIR_ID_MAX + 1], a[DIR_ADDR_MAX + 1];

	if (!d->s.admin || d->be->admin_change == NULL)
		return DIR_EPERM;
	if (dir_normalize_id(id, key) < 0 ||
	    dir_normalize_address(address, a) < 0)
		return DIR_EINVAL;
	return write_done(d, d->be->admin_change(d->ctx, key, a, add));
}

int
directory_institution_admin_add(struct directory *d, const char *id,
    const char *address)
{
	return admin_change(d, id, address, true);
}

int
directory_institution_admin_remove(struct directory *d, const char *id,
    const char *address)
{
	return admin_change(d, id, address, false);
}
