/*
 * directory_static.c - the static directory backend, for unit tests.
 *
 * directory.uri = static:PATH reads a small text file into memory, one
 * entry per line, so that the generic layer (and the daemons' unit tests)
 * can be exercised without slapd:
 *
 *   institution ID kind=K en="English name" sw="Jina" region=R country=C
 *               city=C domain=D contact=ADDR phone=P
 *   domain NAME institution=ID selector=S catchall=ADDR status=active
 *   mailbox ADDR password=SECRET name="Display Name" institution=ID
 *           quota=BYTES messages=N status=active home=HOST
 *   alias ADDR owner=ADDR targets=a@x,b@y
 *   list ADDR owner=ADDR name="Text" policy=members members=a@x,b@y
 *
 * '#' starts a comment line.  Values are one word or "double quoted" (no
 * escapes).  password= is either an {SSHA512} hash, checked by hashing, or
 * clear text: this backend exists for tests only and is the one place in
 * GMS where a password is compared by our own code (XXX by design; the LDAP
 * backend always binds).  Writes change the memory copy only.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "gms.h"
#include "directory/directory-private.h"

#define STATIC_LINE_MAX 8192

struct smailbox_pw {
	char	*addr;		/* owned */
	char	*pw;		/* owned secret, or NULL */
};

struct sctx {
	pthread_mutex_t		 mtx;
	struct dir_institution	*inst;		/* owned arrays */
	size_t			 ninst;
	struct dir_domain	*dom;
	size_t			 ndom;
	struct dir_entry	*ent;
	size_t			 nent;
	struct smailbox_pw	*pw;		/* parallel to mailboxes */
	size_t			 npw;
};

/* ------------------------------------------------------------------ */
/* Parsing. */

struct tok {
	char	key[32];
	char	val[STATIC_LINE_MAX];
};

/* next_tok - take the next "word" or key=value (value maybe quoted) from
 * the cursor.  Returns 1, 0 at the end, -1 on a syntax error. */
static int
next_tok(struct cursor *c, struct tok *t)
{
	const char *p;
	size_t n, klen = 0;

	t->key[0] = t->val[0] = '\0';
	cur_skip_ws(c);
	if (cur_eof(c))
		return 0;
	n = cur_take_until(c, "= \t\"", &p);
	if (cur_peek(c) == '=') {
		if (n == 0 || n >= sizeof(t->key))
			return -1;
		memcpy(t->key, p, n);
		t->key[n] = '\0';
		klen = n;
		cur_skip(c, 1);
		if (cur_peek(c) == '"') {
			cur_skip(c, 1);
			n = cur_take_until(c, "\"", &p);
			if (cur_peek(c) != '"')
				return -1;
			cur_skip(c, 1);
		} else
			n = cur_take_until(c, " \t", &p);
	} else if (cur_peek(c) == '"')
		return -1;
	(void)klen;
	if (n >= sizeof(t->val))
		return -1;
	memcpy(t->val, p, n);
	t->val[n] = '\0';
	return 1;
}

/* split_list - add the comma-separated addresses of s to sv. */
static int
split_list(const char *s, struct dir_strv *sv)
{
	struct cursor c;
	const char *p;
	size_t n;

	cur_init(&c, s, strlen(s));
	while (!cur_eof(&c)) {
		char a[DIR_ADDR_MAX + 1], tmp[DIR_ADDR_MAX + 2];

		n = cur_take_until(&c, ",", &p);
		if (cur_peek(&c) == ',')
			cur_skip(&c, 1);
		if (n == 0)
			continue;
		if (n > DIR_ADDR_MAX)
			return -1;
		memcpy(tmp, p, n);
		tmp[n] = '\0';
		if (dir_normalize_address(tmp, a) < 0)
			return -1;
		dir_strv_add(sv, a);
	}
	return 0;
}

/* copy_field - bounded copy of a value into a fixed field. */
static int
copy_field(char *dst, size_t size, const char *v)
{
	return gms_strlcpy(dst, v, size);
}

/* parse_line - add the entry described by one line. */
static int
parse_line(struct sctx *x, const char *line, size_t len)
{
	struct cursor c;
	struct tok type, key, t;
	int r;

	cur_init(&c, line, len);
	if (next_tok(&c, &type) <= 0 || type.key[0] != '\0')
		return -1;
	if (next_tok(&c, &key) <= 0 || key.key[0] != '\0')
		return -1;

	if (strcmp(type.val, "institution") == 0) {
		struct dir_institution in;

		memset(&in, 0, sizeof(in));
		if (dir_normalize_id(key.val, in.id) < 0)
			return -1;
		in.kind = -1;
		while ((r = next_tok(&c, &t)) > 0) {
			if (strcmp(t.key, "kind") == 0)
				in.kind = dir_inst_kind_parse(t.val);
			else if (strcmp(t.key, "en") == 0)
				r = copy_field(in.name_en, sizeof(in.name_en), t.val);
			else if (strcmp(t.key, "sw") == 0)
				r = copy_field(in.name_sw, sizeof(in.name_sw), t.val);
			else if (strcmp(t.key, "region") == 0)
				r = copy_field(in.region, sizeof(in.region), t.val);
			else if (strcmp(t.key, "country") == 0)
				r = copy_field(in.country, sizeof(in.country), t.val);
			else if (strcmp(t.key, "city") == 0)
				r = copy_field(in.city, sizeof(in.city), t.val);
			else if (strcmp(t.key, "domain") == 0)
				r = dir_normalize_domain(t.val, in.domain);
			else if (strcmp(t.key, "contact") == 0)
				r = dir_normalize_address(t.val, in.contact);
			else if (strcmp(t.key, "phone") == 0)
				r = copy_field(in.phone, sizeof(in.phone), t.val);
			else
				return -1;
			if (r < 0)
				return -1;
		}
		if (r < 0 || in.kind < 0)
			return -1;
		x->inst = xreallocarray(x->inst, x->ninst + 1, sizeof(*x->inst));
		x->inst[x->ninst++] = in;
		return 0;
	}
	if (strcmp(type.val, "domain") == 0) {
		struct dir_domain dom;

		memset(&dom, 0, sizeof(dom));
		if (dir_normalize_domain(key.val, dom.name) < 0)
			return -1;
		while ((r = next_tok(&c, &t)) > 0) {
			if (strcmp(t.key, "institution") == 0)
				r = dir_normalize_id(t.val, dom.institution);
			else if (strcmp(t.key, "selector") == 0)
				r = copy_field(dom.dkim_selector,
				    sizeof(dom.dkim_selector), t.val);
			else if (strcmp(t.key, "catchall") == 0)
				r = dir_normalize_address(t.val, dom.catchall);
			else if (strcmp(t.key, "status") == 0)
				r = dom.status = dir_status_parse(t.val);
			else
				return -1;
			if (r < 0)
				return -1;
		}
		if (r < 0)
			return -1;
		x->dom = xreallocarray(x->dom, x->ndom + 1, sizeof(*x->dom));
		x->dom[x->ndom++] = dom;
		return 0;
	}

	{
		struct dir_entry e;
		char *pw = NULL;

		memset(&e, 0, sizeof(e));
		if (strcmp(type.val, "mailbox") == 0)
			e.kind = DIR_KIND_MAILBOX;
		else if (strcmp(type.val, "alias") == 0)
			e.kind = DIR_KIND_ALIAS;
		else if (strcmp(type.val, "list") == 0)
			e.kind = DIR_KIND_LIST;
		else
			return -1;
		if (dir_normalize_address(key.val, e.address) < 0)
			return -1;
		memcpy(e.mb.address, e.address, sizeof(e.mb.address));
		while ((r = next_tok(&c, &t)) > 0) {
			uint64_t v;

			if (e.kind == DIR_KIND_MAILBOX &&
			    strcmp(t.key, "password") == 0) {
				free(pw);
				pw = xstrdup(t.val);
			} else if (strcmp(t.key, "name") == 0)
				r = copy_field(e.kind == DIR_KIND_MAILBOX ?
				    e.mb.display_name : e.name,
				    sizeof(e.name), t.val);
			else if (strcmp(t.key, "institution") == 0)
				r = dir_normalize_id(t.val, e.mb.institution);
			else if (strcmp(t.key, "quota") == 0 ||
			    strcmp(t.key, "messages") == 0) {
				r = gms_parse_u64(t.val, strlen(t.val),
				    UINT64_MAX, &v);
				if (t.key[0] == 'q')
					e.mb.quota_bytes = v;
				else
					e.mb.quota_messages = v;
			} else if (strcmp(t.key, "status") == 0)
				r = e.mb.status = dir_status_parse(t.val);
			else if (strcmp(t.key, "home") == 0)
				r = copy_field(e.mb.home_server,
				    sizeof(e.mb.home_server), t.val);
			else if (strcmp(t.key, "owner") == 0)
				r = dir_normalize_address(t.val, e.owner);
			else if (strcmp(t.key, "policy") == 0)
				r = e.policy = dir_post_policy_parse(t.val);
			else if (strcmp(t.key, "targets") == 0 ||
			    strcmp(t.key, "members") == 0)
				r = split_list(t.val, &e.members);
			else
				r = -1;
			if (r < 0)
				break;
		}
		if (r < 0) {
			free(pw);
			dir_entry_clear(&e);
			return -1;
		}
		x->ent = xreallocarray(x->ent, x->nent + 1, sizeof(*x->ent));
		x->ent[x->nent++] = e;
		if (e.kind == DIR_KIND_MAILBOX) {
			x->pw = xreallocarray(x->pw, x->npw + 1, sizeof(*x->pw));
			x->pw[x->npw].addr = xstrdup(e.address);
			x->pw[x->npw++].pw = pw;
		} else
			free(pw);
		return 0;
	}
}

/* sctx_free - free everything the context holds. */
static void
sctx_free(struct sctx *x)
{
	size_t i;

	for (i = 0; i < x->nent; i++)
		dir_entry_clear(&x->ent[i]);
	for (i = 0; i < x->npw; i++) {
		free(x->pw[i].addr);
		if (x->pw[i].pw != NULL) {
			gms_wipe(x->pw[i].pw, strlen(x->pw[i].pw));
			free(x->pw[i].pw);
		}
	}
	free(x->inst);
	free(x->dom);
	free(x->ent);
	free(x->pw);
	pthread_mutex_destroy(&x->mtx);
	free(x);
}

static int
s_open(const struct dir_settings *s, void **ctx_r, char *err, size_t errlen)
{
	struct sctx *x = xcalloc(1, sizeof(*x));
	const char *path = s->uri + strlen("static:");
	char *line = xmalloc(STATIC_LINE_MAX + 2);
	unsigned int lineno = 0;
	FILE *fp;

	pthread_mutex_init(&x->mtx, NULL);
	fp = fopen(path, "re");
	if (fp == NULL) {
		(void)gms_snprintf(err, errlen, "%s: cannot open", path);
		goto fail;
	}
	while (fgets(line, STATIC_LINE_MAX + 2, fp) != NULL) {
		size_t len = strlen(line);

		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(fp)) {
			(void)gms_snprintf(err, errlen, "%s:%u: line too long",
			    path, lineno);
			goto fail;
		}
		{
			struct cursor c;

			cur_init(&c, line, len);
			cur_skip_ws(&c);
			if (cur_eof(&c) || cur_peek(&c) == '#')
				continue;
		}
		if (parse_line(x, line, len) < 0) {
			(void)gms_snprintf(err, errlen, "%s:%u: syntax error",
			    path, lineno);
			goto fail;
		}
	}
	fclose(fp);
	free(line);
	*ctx_r = x;
	return 0;
fail:
	if (fp != NULL)
		fclose(fp);
	free(line);
	sctx_free(x);
	return -1;
}

static void
s_close(void *ctx)
{
	if (ctx != NULL)
		sctx_free(ctx);
}

static int
s_ping(void *ctx)
{
	(void)ctx;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Lookups. */

/* find_* - index of the entry with this key, or -1.  Mutex held. */
static ssize_t
find_inst(struct sctx *x, const char *id)
{
	size_t i;

	for (i = 0; i < x->ninst; i++)
		if (strcmp(x->inst[i].id, id) == 0)
			return (ssize_t)i;
	return -1;
}

static ssize_t
find_dom(struct sctx *x, const char *name)
{
	size_t i;

	for (i = 0; i < x->ndom; i++)
		if (strcmp(x->dom[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

static ssize_t
find_ent(struct sctx *x, const char *addr)
{
	size_t i;

	for (i = 0; i < x->nent; i++)
		if (strcmp(x->ent[i].address, addr) == 0)
			return (ssize_t)i;
	return -1;
}

static ssize_t
find_pw(struct sctx *x, const char *addr)
{
	size_t i;

	for (i = 0; i < x->npw; i++)
		if (strcmp(x->pw[i].addr, addr) == 0)
			return (ssize_t)i;
	return -1;
}

static int
s_institution(void *ctx, const char *id, struct dir_institution *r)
{
	struct sctx *x = ctx;
	ssize_t i;

	pthread_mutex_lock(&x->mtx);
	if ((i = find_inst(x, id)) >= 0)
		*r = x->inst[i];
	pthread_mutex_unlock(&x->mtx);
	return i >= 0 ? DIR_FOUND : DIR_NOTFOUND;
}

/* inst_cmp - order institutions by id. */
static int
inst_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dir_institution *)a)->id,
	    ((const struct dir_institution *)b)->id);
}

static int
s_institutions(void *ctx, const struct dir_inst_filter *f,
    struct dir_institution **list_r, size_t *n_r)
{
	struct sctx *x = ctx;
	size_t i;

	pthread_mutex_lock(&x->mtx);
	for (i = 0; i < x->ninst; i++) {
		const struct dir_institution *in = &x->inst[i];

		if (f->kind >= 0 && in->kind != f->kind)
			continue;
		if (f->region != NULL && gms_strcasecmp(f->region, in->region))
			continue;
		if (f->country != NULL &&
		    gms_strcasecmp(f->country, in->country))
			continue;
		*list_r = xreallocarray(*list_r, *n_r + 1, sizeof(**list_r));
		(*list_r)[(*n_r)++] = *in;
	}
	pthread_mutex_unlock(&x->mtx);
	if (*n_r > 1)
		qsort(*list_r, *n_r, sizeof(**list_r), inst_cmp);
	return DIR_OK;
}

static int
s_domain(void *ctx, const char *name, struct dir_domain *r)
{
	struct sctx *x = ctx;
	ssize_t i;

	pthread_mutex_lock(&x->mtx);
	if ((i = find_dom(x, name)) >= 0)
		*r = x->dom[i];
	pthread_mutex_unlock(&x->mtx);
	return i >= 0 ? DIR_FOUND : DIR_NOTFOUND;
}

static int
s_entry(void *ctx, const char *addr, struct dir_entry *r)
{
	struct sctx *x = ctx;
	ssize_t i;

	pthread_mutex_lock(&x->mtx);
	if ((i = find_ent(x, addr)) >= 0)
		dir_entry_copy(r, &x->ent[i]);
	pthread_mutex_unlock(&x->mtx);
	return i >= 0 ? DIR_FOUND : DIR_NOTFOUND;
}

/* check_pw - does pass match stored ({SSHA512} or clear)?  Test only. */
static bool
check_pw(const char *stored, const char *pass, size_t passlen)
{
	static const char pfx[] = "{SSHA512}";
	struct buf raw = BUF_INIT(4096);
	unsigned char md[64];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	bool ok = false;

	if (strncmp(stored, pfx, sizeof(pfx) - 1) != 0)
		return strlen(stored) == passlen &&
		    CRYPTO_memcmp(stored, pass, passlen) == 0;
	if (base64_decode(&raw, stored + sizeof(pfx) - 1,
	    strlen(stored + sizeof(pfx) - 1)) < 0 || raw.len <= 64)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, pass, passlen) == 1 &&
	    EVP_DigestUpdate(ctx, raw.data + 64, raw.len - 64) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 64)
		ok = CRYPTO_memcmp(md, raw.data, 64) == 0;
	EVP_MD_CTX_free(ctx);
out:
	buf_free(&raw);
	return ok;
}

static int
s_authenticate(void *ctx, const char *addr, const char *pass, size_t passlen)
{
	struct sctx *x = ctx;
	ssize_t i;
	int ok = 0;

	pthread_mutex_lock(&x->mtx);
	if ((i = find_pw(x, addr)) >= 0 && x->pw[i].pw != NULL)
		ok = check_pw(x->pw[i].pw, pass, passlen);
	pthread_mutex_unlock(&x->mtx);
	return ok;
}

/* set_pw - store a hash for addr.  Mutex held. */
static void
set_pw(struct sctx *x, const char *addr, const char *hash)
{
	ssize_t i = find_pw(x, addr);

	if (i < 0) {
		x->pw = xreallocarray(x->pw, x->npw + 1, sizeof(*x->pw));
		i = (ssize_t)x->npw++;
		x->pw[i].addr = xstrdup(addr);
		x->pw[i].pw = NULL;
	}
	if (x->pw[i].pw != NULL) {
		gms_wipe(x->pw[i].pw, strlen(x->pw[i].pw));
		free(x->pw[i].pw);
	}
	x->pw[i].pw = hash != NULL ? xstrdup(hash) : NULL;
}

static int
s_change_password(void *ctx, const char *addr, const char *oldpass,
    size_t oldlen, const char *newhash)
{
	struct sctx *x = ctx;

	if (s_authenticate(ctx, addr, oldpass, oldlen) != 1)
		return DIR_EPERM;
	pthread_mutex_lock(&x->mtx);
	set_pw(x, addr, newhash);
	pthread_mutex_unlock(&x->mtx);
	return DIR_OK;
}

static int
s_addresses(void *ctx, int kind, const char *domain, struct dir_strv *sv)
{
	struct sctx *x = ctx;
	size_t i;

	pthread_mutex_lock(&x->mtx);
	for (i = 0; i < x->nent; i++) {
		const char *at = strrchr(x->ent[i].address, '@');

		if (x->ent[i].kind != kind)
			continue;
		if (domain[0] != '\0' && strcmp(at + 1, domain) != 0)
			continue;
		dir_strv_add(sv, x->ent[i].address);
	}
	pthread_mutex_unlock(&x->mtx);
	return DIR_OK;
}

static int
s_domains(void *ctx, const char *inst, struct dir_strv *sv)
{
	struct sctx *x = ctx;
	size_t i;

	pthread_mutex_lock(&x->mtx);
	for (i = 0; i < x->ndom; i++)
		if (inst[0] == '\0' || strcmp(x->dom[i].institution, inst) == 0)
			dir_strv_add(sv, x->dom[i].name);
	pthread_mutex_unlock(&x->mtx);
	return DIR_OK;
}

/* ------------------------------------------------------------------ */
/* Writes (memory only). */

static int
s_institution_put(void *ctx, const struct dir_institution *in, bool add)
{
	struct sctx *x = ctx;
	ssize_t i;
	int rc = DIR_OK;

	pthread_mutex_lock(&x->mtx);
	i = find_inst(x, in->id);
	if (add && i >= 0)
		rc = DIR_EEXIST;
	else if (!add && i < 0)
		rc = DIR_ENOENT;
	else if (add) {
		x->inst = xreallocarray(x->inst, x->ninst + 1, sizeof(*x->inst));
		x->inst[x->ninst++] = *in;
	} else
		x->inst[i] = *in;
	pthread_mutex_unlock(&x->mtx);
	return rc;
}

static int
s_domain_put(void *ctx, const struct dir_domain *dom, bool add)
{
	struct sctx *x = ctx;
	ssize_t i;
	int rc = DIR_OK;

	pthread_mutex_lock(&x->mtx);
	i = find_dom(x, dom->name);
	if (find_inst(x, dom->institution) < 0)
		rc = DIR_ENOENT;
	else if (add && i >= 0)
		rc = DIR_EEXIST;
	else if (!add && i < 0)
		rc = DIR_ENOENT;
	else if (add) {
		x->dom = xreallocarray(x->dom, x->ndom + 1, sizeof(*x->dom));
		x->dom[x->ndom++] = *dom;
	} else
		x->dom[i] = *dom;
	pthread_mutex_unlock(&x->mtx);
	return rc;
}

/* ent_put - add or replace an entry (checks done).  Mutex held. */
static int
ent_put(struct sctx *x, const struct dir_entry *e, bool add)
{
	ssize_t i = find_ent(x, e->address);

	if (find_dom(x, strrchr(e->address, '@') + 1) < 0)
		return DIR_ENOENT;
	if (add && i >= 0)
		return DIR_EEXIST;
	if (!add && (i < 0 || x->ent[i].kind != e->kind))
		return DIR_ENOENT;
	if (add) {
		x->ent = xreallocarray(x->ent, x->nent + 1, sizeof(*x->ent));
		dir_entry_copy(&x->ent[x->nent++], e);
	} else if (e->kind == DIR_KIND_LIST) {
		struct dir_entry *o = &x->ent[i];

		memcpy(o->owner, e->owner, sizeof(o->owner));
		memcpy(o->name, e->name, sizeof(o->name));
		o->policy = e->policy;
	} else {
		dir_entry_clear(&x->ent[i]);
		dir_entry_copy(&x->ent[i], e);
	}
	return DIR_OK;
}

static int
s_mailbox_put(void *ctx, const struct dir_mailbox *mb, const char *hash,
    bool add)
{
	struct sctx *x = ctx;
	struct dir_entry e;
	int rc;

	memset(&e, 0, sizeof(e));
	e.kind = DIR_KIND_MAILBOX;
	memcpy(e.address, mb->address, sizeof(e.address));
	e.mb = *mb;
	pthread_mutex_lock(&x->mtx);
	rc = ent_put(x, &e, add);
	if (rc == DIR_OK && (add || hash != NULL))
		set_pw(x, mb->address, hash);
	pthread_mutex_unlock(&x->mtx);
	return rc;
}

static int
s_set_password(void *ctx, const char *addr, const char *hash)
{
	struct sctx *x = ctx;
	ssize_t i;

	pthread_mutex_lock(&x->mtx);
	i = find_ent(x, addr);
	if (i >= 0 && x->ent[i].kind == DIR_KIND_MAILBOX)
		set_pw(x, addr, hash);
	pthread_mutex_unlock(&x->mtx);
	return i >= 0 ? DIR_OK : DIR_ENOENT;
}

static int
s_group_put(void *ctx, const struct dir_entry *e, bool add)
{
	struct sctx *x = ctx;
	int rc;

	pthread_mutex_lock(&x->mtx);
	rc = ent_put(x, e, add);
	pthread_mutex_unlock(&x->mtx);
	return rc;
}

static int
s_member_change(void *ctx, const char *list, const char *member, bool add)
{
	struct sctx *x = ctx;
	struct dir_strv *m;
	ssize_t i;
	size_t j;
	int rc = DIR_OK;

	pthread_mutex_lock(&x->mtx);
	i = find_ent(x, list);
	if (i < 0 || x->ent[i].kind != DIR_KIND_LIST) {
		rc = DIR_ENOENT;
		goto out;
	}
	m = &x->ent[i].members;
	for (j = 0; j < m->n; j++)
		if (strcmp(m->v[j], member) == 0)
			break;
	if (add && j < m->n)
		rc = DIR_EEXIST;
	else if (!add && j == m->n)
		rc = DIR_ENOENT;
	else if (add)
		dir_strv_add(m, member);
	else {
		free(m->v[j]);
		m->v[j] = m->v[--m->n];
	}
out:
	pthread_mutex_unlock(&x->mtx);
	return rc;
}

static int
s_remove(void *ctx, int kind, const char *key)
{
	struct sctx *x = ctx;
	ssize_t i;
	size_t j;
	int rc = DIR_OK;

	pthread_mutex_lock(&x->mtx);
	switch (kind) {
	case 'i':
		if ((i = find_inst(x, key)) < 0) {
			rc = DIR_ENOENT;
			break;
		}
		for (j = 0; j < x->ndom; j++)
			if (strcmp(x->dom[j].institution, key) == 0)
				rc = DIR_ENOTEMPTY;
		if (rc == DIR_OK)
			x->inst[i] = x->inst[--x->ninst];
		break;
	case 'd':
		if ((i = find_dom(x, key)) < 0) {
			rc = DIR_ENOENT;
			break;
		}
		for (j = 0; j < x->nent; j++)
			if (strcmp(strrchr(x->ent[j].address, '@') + 1, key) == 0)
				rc = DIR_ENOTEMPTY;
		if (rc == DIR_OK)
			x->dom[i] = x->dom[--x->ndom];
		break;
	case 'm':
	case 'a':
	case 'l':
		i = find_ent(x, key);
		if (i < 0 || x->ent[i].kind != (kind == 'm' ? DIR_KIND_MAILBOX :
		    kind == 'a' ? DIR_KIND_ALIAS : DIR_KIND_LIST)) {
			rc = DIR_ENOENT;
			break;
		}
		dir_entry_clear(&x->ent[i]);
		x->ent[i] = x->ent[--x->nent];
		if (kind == 'm' && (i = find_pw(x, key)) >= 0)
			set_pw(x, key, NULL);
		break;
	default:
		panic("static: remove of unknown kind %d", kind);
	}
	pthread_mutex_unlock(&x->mtx);
	return rc;
}

const struct dir_backend dir_backend_static = {
	.name = "static",
	.open = s_open,
	.close = s_close,
	.ping = s_ping,
	.institution = s_institution,
	.institutions = s_institutions,
	.domain = s_domain,
	.entry = s_entry,
	.authenticate = s_authenticate,
	.change_password = s_change_password,
	.addresses = s_addresses,
	.domains = s_domains,
	.institution_put = s_institution_put,
	.domain_put = s_domain_put,
	.mailbox_put = s_mailbox_put,
	.set_password = s_set_password,
	.group_put = s_group_put,
	.member_change = s_member_change,
	.remove = s_remove,
};
