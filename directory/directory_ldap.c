/*
 * directory_ldap.c - the OpenLDAP backend of the directory.
 *
 * Two small pools of connections to slapd: one bound as the read-only
 * service DN (or the admin DN for gmsadm) for lookups and writes, and one
 * for authentication, where each check is a simple bind as the user's DN
 * (our code never sees a password hash).  A connection is opened when first
 * needed; when an operation finds it broken (slapd restarted, network
 * gone) it is dropped and the operation is retried once on a fresh
 * connection, so that a restart costs the caller at most a temporary
 * failure.  Every request has a network timeout and an operation timeout
 * (directory.timeout).
 *
 * The tree (base B = directory.base):
 *   gmsInstitutionId=ID,ou=institutions,B   objectClass gmsInstitution
 *   gmsDomainName=NAME,ou=domains,B          objectClass gmsDomain
 *   mail=ADDR,ou=people,B                    inetOrgPerson + gmsMailbox
 *   mail=ADDR,ou=aliases,B                   gmsAlias
 *   mail=ADDR,ou=lists,B                     gmsList
 * Every value that enters a filter passes dir_escape_filter() and every
 * value that enters a DN passes dir_escape_dn().
 *
 * This is the only file of GMS that includes ldap.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldap.h>

#include "gms.h"
#include "directory/directory-private.h"

#define LDAP_FILTER_MAX	4096
#define LDAP_DN_MAX	2048

struct lpool {
	LDAP	**ld;		/* owned handles, NULL when not connected */
	bool	 *busy;
	int	  n;
	bool	  bind;		/* bind as the configured DN on connect */
};

struct lctx {
	const struct dir_settings *s;	/* borrowed: lives in struct directory */
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cv;
	struct lpool	 main;
	struct lpool	 auth;
	uint64_t	 reconnects;
};

/* ------------------------------------------------------------------ */
/* Connections. */

/* is_conn_error - does rc mean the connection is unusable? */
static bool
is_conn_error(int rc)
{
	return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR ||
	    rc == LDAP_TIMEOUT || rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY ||
	    rc == LDAP_LOCAL_ERROR || rc == LDAP_ENCODING_ERROR ||
	    rc == LDAP_DECODING_ERROR || rc == LDAP_NO_MEMORY ||
	    rc == LDAP_ADMINLIMIT_EXCEEDED || rc == LDAP_TIMELIMIT_EXCEEDED ||
	    rc == LDAP_OTHER;
}

/* map_rc - an LDAP result code of a write as a DIR_ code. */
static int
map_rc(int rc)
{
	switch (rc) {
	case LDAP_SUCCESS:
		return DIR_OK;
	case LDAP_ALREADY_EXISTS:
	case LDAP_TYPE_OR_VALUE_EXISTS:
		return DIR_EEXIST;
	case LDAP_NO_SUCH_OBJECT:
	case LDAP_NO_SUCH_ATTRIBUTE:
		return DIR_ENOENT;
	case LDAP_INSUFFICIENT_ACCESS:
	case LDAP_STRONG_AUTH_REQUIRED:
	case LDAP_INVALID_CREDENTIALS:
	case LDAP_INAPPROPRIATE_AUTH:
	case LDAP_UNWILLING_TO_PERFORM:
		return DIR_EPERM;
	case LDAP_NOT_ALLOWED_ON_NONLEAF:
		return DIR_ENOTEMPTY;
	case LDAP_INVALID_SYNTAX:
	case LDAP_INVALID_DN_SYNTAX:
	case LDAP_OBJECT_CLASS_VIOLATION:
	case LDAP_CONSTRAINT_VIOLATION:
	case LDAP_UNDEFINED_TYPE:
	case LDAP_NAMING_VIOLATION:
		return DIR_EINVAL;
	default:
		return DIR_TEMPFAIL;
	}
}

/* lconnect - open a handle to the configured URI, with timeouts; bind as
 * dn (NULL: stay anonymous).  Returns the handle or NULL (logged). */
static LDAP *
lconnect(struct lctx *x, const char *dn, const char *pw, size_t pwlen)
{
	struct timeval tv = { x->s->timeout, 0 };
	int v3 = LDAP_VERSION3, rc;
	LDAP *ld = NULL;

	rc = ldap_initialize(&ld, x->s->uri);
	if (rc != LDAP_SUCCESS) {
		log_warnx("directory: ldap_initialize failed uri=%s error=\"%s\"",
		    x->s->uri, ldap_err2string(rc));
		return NULL;
	}
	(void)ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	(void)ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
	(void)ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
	(void)ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	(void)ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON);
	__atomic_add_fetch(&x->reconnects, 1, __ATOMIC_RELAXED);
	if (dn != NULL && dn[0] != '\0') {
		struct berval cred;

		cred.bv_val = (char *)pw;
		cred.bv_len = pwlen;
		rc = ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL,
		    NULL, NULL);
		if (rc != LDAP_SUCCESS) {
			log_warnx("directory: bind failed dn=\"%s\" error=\"%s\"",
			    dn, ldap_err2string(rc));
			ldap_unbind_ext_s(ld, NULL, NULL);
			return NULL;
		}
	}
	return ld;
}

/* acquire - take a free slot of pool p, waiting at most the timeout.
 * Returns the slot or -1. */
static int
acquire(struct lctx *x, struct lpool *p)
{
	struct timespec until;
	int i, rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += x->s->timeout;
	pthread_mutex_lock(&x->mtx);
	for (;;) {
		for (i = 0; i < p->n; i++)
			if (!p->busy[i]) {
				p->busy[i] = true;
				pthread_mutex_unlock(&x->mtx);
				return i;
			}
		if (rc == ETIMEDOUT)
			break;
		rc = pthread_cond_timedwait(&x->cv, &x->mtx, &until);
	}
	pthread_mutex_unlock(&x->mtx);
	log_warnx("directory: no free LDAP connection within timeout=%d",
	    x->s->timeout);
	return -1;
}

/* release - give slot i of pool p back. */
static void
release(struct lctx *x, struct lpool *p, int i)
{
	pthread_mutex_lock(&x->mtx);
	p->busy[i] = false;
	pthread_cond_broadcast(&x->cv);	/* both pools share cv */
	pthread_mutex_unlock(&x->mtx);
}

/* drop - close the handle of slot i (it is broken). */
static void
drop(struct lpool *p, int i)
{
	if (p->ld[i] != NULL) {
		ldap_unbind_ext_s(p->ld[i], NULL, NULL);
		p->ld[i] = NULL;
	}
}

/* An operation on one connection: returns an LDAP result code. */
typedef int (*lop_fn)(struct lctx *x, LDAP *ld, void *arg);

/* run - run op on a connection of the main pool, reconnecting and
 * retrying once if the connection turns out broken.  Returns the
 * operation's LDAP code, or LDAP_SERVER_DOWN when no connection could be
 * had. */
static int
run(struct lctx *x, lop_fn op, void *arg)
{
	struct lpool *p = &x->main;
	int i, attempt, rc = LDAP_SERVER_DOWN;

	if ((i = acquire(x, p)) < 0)
		return LDAP_BUSY;
	for (attempt = 0; attempt < 2; attempt++) {
		if (p->ld[i] == NULL) {
			p->ld[i] = lconnect(x, x->s->bind_dn, x->s->bind_pw,
			    x->s->bind_pwlen);
			if (p->ld[i] == NULL) {
				rc = LDAP_SERVER_DOWN;
				break;
			}
		}
		rc = op(x, p->ld[i], arg);
		if (!is_conn_error(rc))
			break;
		log_warnx("directory: LDAP connection lost, reconnecting "
		    "error=\"%s\" attempt=%d", ldap_err2string(rc), attempt + 1);
		drop(p, i);
		/* A server that timed out once will likely do it again: do
		 * not make the caller wait twice. */
		if (rc == LDAP_TIMEOUT || rc == LDAP_TIMELIMIT_EXCEEDED)
			break;
	}
	release(x, p, i);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Helpers for DNs, filters and values. */

/* make_dn - "ATTR=escaped(value),ou=OU,BASE" into out.  -1 if too long. */
static int
make_dn(struct lctx *x, struct buf *out, const char *attr, const char *value,
    const char *ou)
{
	buf_reset(out);
	if (buf_printf(out, "%s=", attr) < 0 ||
	    dir_escape_dn(out, value, strlen(value)) < 0 ||
	    buf_printf(out, ",ou=%s,%s", ou, x->s->base) < 0)
		return -1;
	return 0;
}

/* ou_base - "ou=OU,BASE" into out. */
static int
ou_base(struct lctx *x, struct buf *out, const char *ou)
{
	buf_reset(out);
	return buf_printf(out, "ou=%s,%s", ou, x->s->base);
}

/* filter_eq - append "(ATTR=escaped(value))". */
static int
filter_eq(struct buf *f, const char *attr, const char *value)
{
	if (buf_printf(f, "(%s=", attr) < 0 ||
	    dir_escape_filter(f, value, strlen(value)) < 0 ||
	    buf_putc(f, ')') < 0)
		return -1;
	return 0;
}

/* get_str - copy the first value of attr into dst (size bytes).  Returns
 * 1 found, 0 absent (dst ""), -1 too long or holding a NUL (dst ""). */
static int
get_str(LDAP *ld, LDAPMessage *e, const char *attr, char *dst, size_t size)
{
	struct berval **v = ldap_get_values_len(ld, e, attr);
	int r = 0;

	dst[0] = '\0';
	if (v == NULL)
		return 0;
	if (v[0] != NULL) {
		if (v[0]->bv_len >= size ||
		    memchr(v[0]->bv_val, '\0', v[0]->bv_len) != NULL)
			r = -1;
		else {
			memcpy(dst, v[0]->bv_val, v[0]->bv_len);
			dst[v[0]->bv_len] = '\0';
			r = 1;
		}
	}
	ldap_value_free_len(v);
	return r;
}

/* get_lower - get_str, then lowercase (addresses, ids, domains). */
static int
get_lower(LDAP *ld, LDAPMessage *e, const char *attr, char *dst, size_t size)
{
	int r = get_str(ld, e, attr, dst, size);

	gms_lowercase(dst);
	return r;
}

/* get_u64 - a decimal attribute, 0 when absent or malformed. */
static uint64_t
get_u64(LDAP *ld, LDAPMessage *e, const char *attr)
{
	char tmp[32];
	uint64_t v = 0;

	if (get_str(ld, e, attr, tmp, sizeof(tmp)) == 1 &&
	    gms_parse_u64(tmp, strlen(tmp), UINT64_MAX, &v) < 0)
		v = 0;
	return v;
}

/* get_all - add every value of attr (lowercased) to sv. */
static void
get_all(LDAP *ld, LDAPMessage *e, const char *attr, struct dir_strv *sv)
{
	struct berval **v = ldap_get_values_len(ld, e, attr);
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++) {
		char tmp[DIR_ADDR_MAX + 1];

		if (v[i]->bv_len > DIR_ADDR_MAX ||
		    memchr(v[i]->bv_val, '\0', v[i]->bv_len) != NULL)
			continue;
		memcpy(tmp, v[i]->bv_val, v[i]->bv_len);
		tmp[v[i]->bv_len] = '\0';
		gms_lowercase(tmp);
		dir_strv_add(sv, tmp);
	}
	ldap_value_free_len(v);
}

/* has_class - does entry e have objectClass oc? */
static bool
has_class(LDAP *ld, LDAPMessage *e, const char *oc)
{
	struct berval **v = ldap_get_values_len(ld, e, "objectClass");
	bool yes = false;
	size_t i;

	if (v == NULL)
		return false;
	for (i = 0; v[i] != NULL && !yes; i++)
		yes = v[i]->bv_len == strlen(oc) &&
		    gms_strncasecmp(v[i]->bv_val, oc, v[i]->bv_len) == 0;
	ldap_value_free_len(v);
	return yes;
}

/* A search and what to do with each entry. */
struct search {
	const char	*base;
	int		 scope;
	const char	*filter;
	char		**attrs;
	int		 sizelimit;
	/* Called for each entry; returns 0 or -1 (the entry is malformed). */
	void		(*each)(LDAP *ld, LDAPMessage *e, void *arg);
	void		*arg;
	int		 count;		/* entries seen */
};

/* op_search - lop_fn: run a search and visit its entries. */
static int
op_search(struct lctx *x, LDAP *ld, void *arg)
{
	struct search *s = arg;
	struct timeval tv = { x->s->timeout, 0 };
	LDAPMessage *res = NULL, *e;
	int rc;

	s->count = 0;
	rc = ldap_search_ext_s(ld, s->base, s->scope, s->filter, s->attrs, 0,
	    NULL, NULL, &tv, s->sizelimit, &res);
	if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) {
		for (e = ldap_first_entry(ld, res); e != NULL;
		    e = ldap_next_entry(ld, e)) {
			s->count++;
			if (s->each != NULL)
				s->each(ld, e, s->arg);
		}
		if (rc == LDAP_SIZELIMIT_EXCEEDED && s->sizelimit == 0)
			log_warnx("directory: size limit reached filter=%.200s",
			    s->filter);
		rc = LDAP_SUCCESS;
	}
	if (res != NULL)
		ldap_msgfree(res);
	return rc;
}

/* do_search - run a search on the pool; DIR_OK, DIR_NOTFOUND (no such
 * base) or DIR_TEMPFAIL. */
static int
do_search(struct lctx *x, struct search *s)
{
	int rc = run(x, op_search, s);

	if (rc == LDAP_SUCCESS)
		return DIR_OK;
	if (rc == LDAP_NO_SUCH_OBJECT)
		return DIR_NOTFOUND;
	log_warnx("directory: search failed error=\"%s\"", ldap_err2string(rc));
	return DIR_TEMPFAIL;
}

/* search_class - search the entries directly under ou=OU (one level) of
 * objectClass oc (none: any class) and, when attr is not NULL, whose attr
 * equals value (escaped here), visiting each with each(arg), at most
 * sizelimit of them (0: the server's limit).  Returns do_search's
 * DIR_OK / DIR_NOTFOUND (no such ou) / DIR_TEMPFAIL; the number of
 * entries seen goes to *count_r when not NULL. */
static int
search_class(struct lctx *x, const char *ou, const char *oc,
    const char *attr, const char *value, char **attrs, int sizelimit,
    void (*each)(LDAP *, LDAPMessage *, void *), void *arg, int *count_r)
{
	struct buf base = BUF_INIT(LDAP_DN_MAX), filt = BUF_INIT(LDAP_FILTER_MAX);
	struct search s;
	int rc = DIR_TEMPFAIL;

	if (count_r != NULL)
		*count_r = 0;
	if (ou_base(x, &base, ou) < 0 || buf_puts(&filt, "(&") < 0 ||
	    (oc != NULL && buf_printf(&filt, "(objectClass=%s)", oc) < 0) ||
	    (attr != NULL && filter_eq(&filt, attr, value) < 0) ||
	    (oc == NULL && attr == NULL &&
	    buf_puts(&filt, "(objectClass=*)") < 0) ||
	    buf_putc(&filt, ')') < 0)
		goto out;
	memset(&s, 0, sizeof(s));
	s.base = buf_cstr(&base);
	s.scope = LDAP_SCOPE_ONELEVEL;
	s.filter = buf_cstr(&filt);
	s.attrs = attrs;
	s.sizelimit = sizelimit;
	s.each = each;
	s.arg = arg;
	rc = do_search(x, &s);
	if (count_r != NULL)
		*count_r = s.count;
out:
	buf_free(&base);
	buf_free(&filt);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Lookups. */

static char *inst_attrs[] = {
	"gmsInstitutionId", "gmsInstitutionKind", "gmsNameEn", "gmsNameSw",
	"gmsRegion", "gmsCountry", "gmsCity", "gmsDomainName", "mail",
	"telephoneNumber", NULL
};

/* each_inst - fill one institution (arg: struct dir_institution **,
 * size_t * as a pair). */
struct inst_acc {
	struct dir_institution	*list;
	size_t			 n;
};

static void
each_inst(LDAP *ld, LDAPMessage *e, void *arg)
{
	struct inst_acc *a = arg;
	struct dir_institution in;
	char kind[32];

	memset(&in, 0, sizeof(in));
	if (get_lower(ld, e, "gmsInstitutionId", in.id, sizeof(in.id)) != 1)
		return;
	(void)get_str(ld, e, "gmsInstitutionKind", kind, sizeof(kind));
	in.kind = dir_inst_kind_parse(kind);
	(void)get_str(ld, e, "gmsNameEn", in.name_en, sizeof(in.name_en));
	(void)get_str(ld, e, "gmsNameSw", in.name_sw, sizeof(in.name_sw));
	(void)get_str(ld, e, "gmsRegion", in.region, sizeof(in.region));
	(void)get_str(ld, e, "gmsCountry", in.country, sizeof(in.country));
	(void)get_str(ld, e, "gmsCity", in.city, sizeof(in.city));
	(void)get_lower(ld, e, "gmsDomainName", in.domain, sizeof(in.domain));
	(void)get_lower(ld, e, "mail", in.contact, sizeof(in.contact));
	(void)get_str(ld, e, "telephoneNumber", in.phone, sizeof(in.phone));
	a->list = xreallocarray(a->list, a->n + 1, sizeof(*a->list));
	a->list[a->n++] = in;
}

/* inst_cmp - order by id. */
static int
inst_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dir_institution *)a)->id,
	    ((const struct dir_institution *)b)->id);
}

static int
l_institutions(void *ctx, const struct dir_inst_filter *f,
    struct dir_institution **list_r, size_t *n_r)
{
	struct lctx *x = ctx;
	struct buf base = BUF_INIT(LDAP_DN_MAX), filt = BUF_INIT(LDAP_FILTER_MAX);
	struct inst_acc a = { NULL, 0 };
	struct search s;
	int rc = DIR_TEMPFAIL;

	if (ou_base(x, &base, "institutions") < 0 ||
	    buf_puts(&filt, "(&(objectClass=gmsInstitution)") < 0 ||
	    (f->kind >= 0 && filter_eq(&filt, "gmsInstitutionKind",
	    dir_inst_kind_name(f->kind)) < 0) ||
	    (f->region != NULL && filter_eq(&filt, "gmsRegion", f->region) < 0) ||
	    (f->country != NULL && filter_eq(&filt, "gmsCountry",
	    f->country) < 0) ||
	    buf_putc(&filt, ')') < 0)
		goto out;
	memset(&s, 0, sizeof(s));
	s.base = buf_cstr(&base);
	s.scope = LDAP_SCOPE_ONELEVEL;
	s.filter = buf_cstr(&filt);
	s.attrs = inst_attrs;
	s.each = each_inst;
	s.arg = &a;
	rc = do_search(x, &s);
	if (rc == DIR_NOTFOUND)
		rc = DIR_OK;
	if (rc == DIR_OK) {
		if (a.n > 1)
			qsort(a.list, a.n, sizeof(*a.list), inst_cmp);
		*list_r = a.list;
		*n_r = a.n;
		a.list = NULL;
	}
out:
	free(a.list);
	buf_free(&base);
	buf_free(&filt);
	return rc;
}

static int
l_institution(void *ctx, const char *id, struct dir_institution *r)
{
	struct inst_acc a = { NULL, 0 };
	int rc;

	rc = search_class(ctx, "institutions", "gmsInstitution",
	    "gmsInstitutionId", id, inst_attrs, 2, each_inst, &a, NULL);
	if (rc == DIR_OK) {
		rc = a.n == 1 ? DIR_FOUND : DIR_NOTFOUND;
		if (a.n == 1)
			*r = a.list[0];
	}
	free(a.list);
	return rc;
}

static char *domain_attrs[] = {
	"gmsDomainName", "gmsInstitution", "gmsDkimSelector", "gmsCatchAll",
	"gmsStatus", NULL
};

struct dom_acc {
	struct dir_domain	*r;
	int			 n;
};

static void
each_domain(LDAP *ld, LDAPMessage *e, void *arg)
{
	struct dom_acc *a = arg;
	struct dir_domain *d = a->r;
	char st[32];

	if (a->n++ > 0)
		return;
	memset(d, 0, sizeof(*d));
	(void)get_lower(ld, e, "gmsDomainName", d->name, sizeof(d->name));
	(void)get_lower(ld, e, "gmsInstitution", d->institution,
	    sizeof(d->institution));
	(void)get_str(ld, e, "gmsDkimSelector", d->dkim_selector,
	    sizeof(d->dkim_selector));
	(void)get_lower(ld, e, "gmsCatchAll", d->catchall, sizeof(d->catchall));
	d->status = DIR_STATUS_ACTIVE;
	if (get_str(ld, e, "gmsStatus", st, sizeof(st)) == 1 &&
	    dir_status_parse(st) >= 0)
		d->status = dir_status_parse(st);
}

static int
l_domain(void *ctx, const char *name, struct dir_domain *r)
{
	struct dom_acc a = { r, 0 };
	int rc;

	rc = search_class(ctx, "domains", "gmsDomain", "gmsDomainName", name,
	    domain_attrs, 2, each_domain, &a, NULL);
	if (rc == DIR_OK)
		rc = a.n == 1 ? DIR_FOUND : DIR_NOTFOUND;
	return rc;
}

static char *entry_attrs[] = {
	"objectClass", "mail", "cn", "displayName", "gmsInstitution",
	"gmsQuotaBytes", "gmsQuotaMessages", "gmsStatus", "gmsHomeServer",
	"gmsTarget", "gmsMember", "gmsOwner", "gmsPostPolicy", NULL
};

struct ent_acc {
	struct dir_entry	*r;
	int			 n;
};

static void
each_entry(LDAP *ld, LDAPMessage *e, void *arg)
{
	struct ent_acc *a = arg;
	struct dir_entry *r = a->r;
	char tmp[32];

	if (a->n++ > 0)
		return;
	memset(r, 0, sizeof(*r));
	(void)get_lower(ld, e, "mail", r->address, sizeof(r->address));
	(void)get_lower(ld, e, "gmsOwner", r->owner, sizeof(r->owner));
	if (has_class(ld, e, "gmsMailbox")) {
		struct dir_mailbox *mb = &r->mb;

		r->kind = DIR_KIND_MAILBOX;
		memcpy(mb->address, r->address, sizeof(mb->address));
		if (get_str(ld, e, "displayName", mb->display_name,
		    sizeof(mb->display_name)) != 1)
			(void)get_str(ld, e, "cn", mb->display_name,
			    sizeof(mb->display_name));
		(void)get_lower(ld, e, "gmsInstitution", mb->institution,
		    sizeof(mb->institution));
		mb->quota_bytes = get_u64(ld, e, "gmsQuotaBytes");
		mb->quota_messages = get_u64(ld, e, "gmsQuotaMessages");
		mb->status = DIR_STATUS_ACTIVE;
		if (get_str(ld, e, "gmsStatus", tmp, sizeof(tmp)) == 1 &&
		    dir_status_parse(tmp) >= 0)
			mb->status = dir_status_parse(tmp);
		(void)get_lower(ld, e, "gmsHomeServer", mb->home_server,
		    sizeof(mb->home_server));
	} else if (has_class(ld, e, "gmsAlias")) {
		r->kind = DIR_KIND_ALIAS;
		get_all(ld, e, "gmsTarget", &r->members);
	} else {
		r->kind = DIR_KIND_LIST;
		(void)get_str(ld, e, "cn", r->name, sizeof(r->name));
		r->policy = DIR_POST_MEMBERS;	/* fail closed */
		if (get_str(ld, e, "gmsPostPolicy", tmp, sizeof(tmp)) == 1 &&
		    dir_post_policy_parse(tmp) >= 0)
			r->policy = dir_post_policy_parse(tmp);
		get_all(ld, e, "gmsMember", &r->members);
	}
}

static int
l_entry(void *ctx, const char *addr, struct dir_entry *r)
{
	struct lctx *x = ctx;
	struct buf filt = BUF_INIT(LDAP_FILTER_MAX);
	struct ent_acc a = { r, 0 };
	struct search s;
	int rc = DIR_TEMPFAIL;

	memset(r, 0, sizeof(*r));
	if (buf_puts(&filt, "(&") < 0 || filter_eq(&filt, "mail", addr) < 0 ||
	    buf_puts(&filt, "(|(objectClass=gmsMailbox)(objectClass=gmsAlias)"
	    "(objectClass=gmsList)))") < 0)
		goto out;
	memset(&s, 0, sizeof(s));
	s.base = x->s->base;
	s.scope = LDAP_SCOPE_SUBTREE;
	s.filter = buf_cstr(&filt);
	s.attrs = entry_attrs;
	s.sizelimit = 2;
	s.each = each_entry;
	s.arg = &a;
	rc = do_search(x, &s);
	if (rc == DIR_OK) {
		if (a.n > 1)
			log_warnx("directory: address held by several entries "
			    "addr=%s", addr);
		rc = a.n >= 1 ? DIR_FOUND : DIR_NOTFOUND;
	}
	if (rc != DIR_FOUND)
		dir_entry_clear(r);
out:
	buf_free(&filt);
	return rc;
}

/* each_value - add the first value of the attribute named by the search's
 * first requested attribute (arg: struct strv_acc). */
struct strv_acc {
	const char	*attr;
	struct dir_strv	*sv;
};

static void
each_value(LDAP *ld, LDAPMessage *e, void *arg)
{
	struct strv_acc *a = arg;
	char tmp[DIR_ADDR_MAX + 1];

	if (get_lower(ld, e, a->attr, tmp, sizeof(tmp)) == 1)
		dir_strv_add(a->sv, tmp);
}

static int
l_addresses(void *ctx, int kind, const char *domain, struct dir_strv *sv)
{
	struct lctx *x = ctx;
	struct buf base = BUF_INIT(LDAP_DN_MAX), filt = BUF_INIT(LDAP_FILTER_MAX);
	char *attrs[] = { "mail", NULL };
	struct strv_acc a = { "mail", sv };
	struct search s;
	int rc = DIR_TEMPFAIL;

	if (ou_base(x, &base, kind == DIR_KIND_MAILBOX ? "people" :
	    kind == DIR_KIND_ALIAS ? "aliases" : "lists") < 0 ||
	    buf_printf(&filt, "(&(objectClass=%s)", kind == DIR_KIND_MAILBOX ?
	    "gmsMailbox" : kind == DIR_KIND_ALIAS ? "gmsAlias" : "gmsList") < 0)
		goto out;
	if (domain[0] != '\0' && (buf_puts(&filt, "(mail=*@") < 0 ||
	    dir_escape_filter(&filt, domain, strlen(domain)) < 0 ||
	    buf_putc(&filt, ')') < 0))
		goto out;
	if (buf_putc(&filt, ')') < 0)
		goto out;
	memset(&s, 0, sizeof(s));
	s.base = buf_cstr(&base);
	s.scope = LDAP_SCOPE_ONELEVEL;
	s.filter = buf_cstr(&filt);
	s.attrs = attrs;
	s.each = each_value;
	s.arg = &a;
	rc = do_search(x, &s);
	if (rc == DIR_NOTFOUND)
		rc = DIR_OK;
out:
	buf_free(&base);
	buf_free(&filt);
	return rc;
}

static int
l_domains(void *ctx, const char *inst, struct dir_strv *sv)
{
	char *attrs[] = { "gmsDomainName", NULL };
	struct strv_acc a = { "gmsDomainName", sv };
	int rc;

	rc = search_class(ctx, "domains", "gmsDomain",
	    inst[0] != '\0' ? "gmsInstitution" : NULL, inst, attrs, 0,
	    each_value, &a, NULL);
	return rc == DIR_NOTFOUND ? DIR_OK : rc;
}

/* exists - is there an entry under ou matching attr=value?  DIR_FOUND,
 * DIR_NOTFOUND or DIR_TEMPFAIL.  A value ending in "*@" style substring
 * is not supported here: value is always escaped. */
static int
exists(struct lctx *x, const char *ou, const char *attr, const char *value)
{
	char *attrs[] = { "1.1", NULL };
	int rc, n;

	rc = search_class(x, ou, NULL, attr, value, attrs, 1, NULL, NULL, &n);
	if (rc == DIR_OK)
		rc = n > 0 ? DIR_FOUND : DIR_NOTFOUND;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Authentication. */

/* auth_bind - one simple bind as dn on slot i of the auth pool. */
static int
auth_bind(struct lctx *x, int i, const char *dn, const char *pass,
    size_t passlen)
{
	struct lpool *p = &x->auth;
	struct berval cred;
	int attempt, rc = LDAP_SERVER_DOWN;

	cred.bv_val = (char *)pass;
	cred.bv_len = passlen;
	for (attempt = 0; attempt < 2; attempt++) {
		if (p->ld[i] == NULL &&
		    (p->ld[i] = lconnect(x, NULL, NULL, 0)) == NULL)
			return LDAP_SERVER_DOWN;
		rc = ldap_sasl_bind_s(p->ld[i], dn, LDAP_SASL_SIMPLE, &cred,
		    NULL, NULL, NULL);
		if (!is_conn_error(rc))
			break;
		drop(p, i);
	}
	return rc;
}

static int
l_authenticate(void *ctx, const char *addr, const char *pass, size_t passlen)
{
	struct lctx *x = ctx;
	struct buf dn = BUF_INIT(LDAP_DN_MAX);
	int i, rc;

	if (make_dn(x, &dn, "mail", addr, "people") < 0) {
		buf_free(&dn);
		return 0;
	}
	if ((i = acquire(x, &x->auth)) < 0) {
		buf_free(&dn);
		return DIR_TEMPFAIL;
	}
	/* Security: an unknown DN and a wrong password both give
	 * invalidCredentials from slapd, after the same work. */
	rc = auth_bind(x, i, buf_cstr(&dn), pass, passlen);
	release(x, &x->auth, i);
	buf_free(&dn);
	switch (rc) {
	case LDAP_SUCCESS:
		return 1;
	case LDAP_INVALID_CREDENTIALS:
	case LDAP_INVALID_DN_SYNTAX:
	case LDAP_INAPPROPRIATE_AUTH:
	case LDAP_UNWILLING_TO_PERFORM:
	case LDAP_NO_SUCH_OBJECT:
		return 0;
	default:
		log_warnx("directory: authentication bind failed error=\"%s\"",
		    ldap_err2string(rc));
		return DIR_TEMPFAIL;
	}
}

static int
l_change_password(void *ctx, const char *addr, const char *oldpass,
    size_t oldlen, const char *newhash)
{
	struct lctx *x = ctx;
	struct buf dn = BUF_INIT(LDAP_DN_MAX);
	char *vals[] = { (char *)newhash, NULL };
	LDAPMod mod, *mods[] = { &mod, NULL };
	LDAP *ld;
	int rc;

	if (make_dn(x, &dn, "mail", addr, "people") < 0) {
		buf_free(&dn);
		return DIR_EPERM;
	}
	/* A connection of its own, bound as the user. */
	ld = lconnect(x, NULL, NULL, 0);
	if (ld == NULL) {
		buf_free(&dn);
		return DIR_TEMPFAIL;
	}
	{
		struct berval cred;

		cred.bv_val = (char *)oldpass;
		cred.bv_len = oldlen;
		rc = ldap_sasl_bind_s(ld, buf_cstr(&dn), LDAP_SASL_SIMPLE,
		    &cred, NULL, NULL, NULL);
	}
	if (rc == LDAP_SUCCESS) {
		mod.mod_op = LDAP_MOD_REPLACE;
		mod.mod_type = "userPassword";
		mod.mod_values = vals;
		rc = ldap_modify_ext_s(ld, buf_cstr(&dn), mods, NULL, NULL);
		rc = is_conn_error(rc) ? DIR_TEMPFAIL : map_rc(rc);
	} else
		rc = is_conn_error(rc) ? DIR_TEMPFAIL : DIR_EPERM;
	ldap_unbind_ext_s(ld, NULL, NULL);
	buf_free(&dn);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Writes. */

#define MODS_MAX 24

/* A list of modifications (or of attributes for an add). */
struct mods {
	LDAPMod		 m[MODS_MAX];
	LDAPMod		*p[MODS_MAX + 1];
	char		*one[MODS_MAX][2];	/* single values, borrowed */
	int		 n;
};

/* mods_set - one attribute with one value; for an add an empty value is
 * skipped, for a modify it removes the attribute. */
static void
mods_set(struct mods *ms, int op, const char *attr, const char *val)
{
	LDAPMod *m;

	if (op == LDAP_MOD_ADD && (val == NULL || val[0] == '\0'))
		return;
	if (ms->n >= MODS_MAX)
		panic("directory: too many modifications");
	m = &ms->m[ms->n];
	m->mod_op = op;
	m->mod_type = (char *)attr;
	if (val == NULL || val[0] == '\0')
		m->mod_values = NULL;
	else {
		ms->one[ms->n][0] = (char *)val;
		ms->one[ms->n][1] = NULL;
		m->mod_values = ms->one[ms->n];
	}
	ms->p[ms->n++] = m;
	ms->p[ms->n] = NULL;
}

/* mods_setv - one attribute with several values (NULL-terminated). */
static void
mods_setv(struct mods *ms, int op, const char *attr, char **vals)
{
	LDAPMod *m;

	if (op == LDAP_MOD_ADD && (vals == NULL || vals[0] == NULL))
		return;
	if (ms->n >= MODS_MAX)
		panic("directory: too many modifications");
	m = &ms->m[ms->n];
	m->mod_op = op;
	m->mod_type = (char *)attr;
	m->mod_values = (vals != NULL && vals[0] != NULL) ? vals : NULL;
	ms->p[ms->n++] = m;
	ms->p[ms->n] = NULL;
}

struct wop {
	int		 type;		/* 'a' add, 'm' modify, 'd' delete */
	const char	*dn;
	LDAPMod		**mods;
};

/* op_write - lop_fn: run one add, modify or delete. */
static int
op_write(struct lctx *x, LDAP *ld, void *arg)
{
	struct wop *w = arg;

	(void)x;
	switch (w->type) {
	case 'a':
		return ldap_add_ext_s(ld, w->dn, w->mods, NULL, NULL);
	case 'm':
		return ldap_modify_ext_s(ld, w->dn, w->mods, NULL, NULL);
	case 'd':
		return ldap_delete_ext_s(ld, w->dn, NULL, NULL);
	default:
		panic("directory: unknown write %d", w->type);
	}
}

/* do_write - run a write and map its result. */
static int
do_write(struct lctx *x, int type, const char *dn, struct mods *ms)
{
	struct wop w = { type, dn, ms != NULL ? ms->p : NULL };
	int rc = run(x, op_write, &w);

	if (rc != LDAP_SUCCESS)
		log_warnx("directory: write failed op=%c dn=\"%.200s\" "
		    "error=\"%s\"", type, dn, ldap_err2string(rc));
	return is_conn_error(rc) ? DIR_TEMPFAIL : map_rc(rc);
}

static int
l_institution_put(void *ctx, const struct dir_institution *in, bool add)
{
	struct lctx *x = ctx;
	struct buf dn = BUF_INIT(LDAP_DN_MAX);
	char *oc[] = { "top", "gmsInstitution", NULL };
	struct mods ms;
	int op = add ? LDAP_MOD_ADD : LDAP_MOD_REPLACE, rc;

	memset(&ms, 0, sizeof(ms));
	if (make_dn(x, &dn, "gmsInstitutionId", in->id, "institutions") < 0) {
		buf_free(&dn);
		return DIR_EINVAL;
	}
	if (add) {
		mods_setv(&ms, op, "objectClass", oc);
		mods_set(&ms, op, "gmsInstitutionId", in->id);
	}
	mods_set(&ms, op, "gmsInstitutionKind", dir_inst_kind_name(in->kind));
	mods_set(&ms, op, "gmsNameEn", in->name_en);
	mods_set(&ms, op, "gmsNameSw", in->name_sw);
	mods_set(&ms, op, "gmsRegion", in->region);
	mods_set(&ms, op, "gmsCountry", in->country);
	mods_set(&ms, op, "gmsCity", in->city);
	mods_set(&ms, op, "gmsDomainName", in->domain);
	mods_set(&ms, op, "mail", in->contact);
	mods_set(&ms, op, "telephoneNumber", in->phone);
	rc = do_write(x, add ? 'a' : 'm', buf_cstr(&dn), &ms);
	buf_free(&dn);
	return rc;
}

static int
l_domain_put(void *ctx, const struct dir_domain *dom, bool add)
{
	struct lctx *x = ctx;
	struct buf dn = BUF_INIT(LDAP_DN_MAX);
	char *oc[] = { "top", "gmsDomain", NULL };
	struct mods ms;
	int op = add ? LDAP_MOD_ADD : LDAP_MOD_REPLACE, rc;

	rc = exists(x, "institutions", "gmsInstitutionId", dom->institution);
	if (rc != DIR_FOUND)
		return rc == DIR_NOTFOUND ? DIR_ENOENT : rc;
	memset(&ms, 0, sizeof(ms));
	if (make_dn(x, &dn, "gmsDomainName", dom->name, "domains") < 0) {
		buf_free(&dn);
		return DIR_EINVAL;
	}
	if (add) {
		mods_setv(&ms, op, "objectClass", oc);
		mods_set(&ms, op, "gmsDomainName", dom->name);
	}
	mods_set(&ms, op, "gmsInstitution", dom->institution);
	mods_set(&ms, op, "gmsDkimSelector", dom->dkim_selector);
	mods_set(&ms, op, "gmsCatchAll", dom->catchall);
	mods_set(&ms, op, "gmsStatus", dir_status_name(dom->status));
	rc = do_write(x, add ? 'a' : 'm', buf_cstr(&dn), &ms);
	buf_free(&dn);
	return rc;
}

/* domain_of - the domain part of a normalized address. */
static const char *
domain_of(const char *addr)
{
	return strrchr(addr, '@') + 1;
}

static int
l_mailbox_put(void *ctx, const struct dir_mailbox *mb, const char *hash,
    bool add)
{
	struct lctx *x = ctx;
	struct buf dn = BUF_INIT(LDAP_DN_MAX);
	char *oc[] = { "top", "inetOrgPerson", "gmsMailbox", NULL };
	char cn[DIR_NAME_MAX + 1], sn[DIR_NAME_MAX + 1];
	char qb[32], qm[32];
	const char *sp;
	struct mods ms;
	int op = add ? LDAP_MOD_ADD : LDAP_MOD_REPLACE, rc;

	rc = exists(x, "domains", "gmsDomainName", domain_of(mb->address));
	if (rc != DIR_FOUND)
		return rc == DIR_NOTFOUND ? DIR_ENOENT : rc;
	memset(&ms, 0, sizeof(ms));
	if (make_dn(x, &dn, "mail", mb->address, "people") < 0) {
		buf_free(&dn);
		return DIR_EINVAL;
	}
	/* inetOrgPerson needs cn and sn: the display name and its last word,
	 * or the local part when there is no name. */
	if (mb->display_name[0] != '\0')
		(void)gms_strlcpy(cn, mb->display_name, sizeof(cn));
	else
		(void)gms_snprintf(cn, sizeof(cn), "%.*s",
		    (int)(strchr(mb->address, '@') - mb->address), mb->address);
	sp = strrchr(cn, ' ');
	(void)gms_strlcpy(sn, sp != NULL && sp[1] != '\0' ? sp + 1 : cn,
	    sizeof(sn));
	(void)gms_snprintf(qb, sizeof(qb), "%llu",
	    (unsigned long long)mb->quota_bytes);
	(void)gms_snprintf(qm, sizeof(qm), "%llu",
	    (unsigned long long)mb->quota_messages);
	if (add) {
		mods_setv(&ms, op, "objectClass", oc);
		mods_set(&ms, op, "mail", mb->address);
	}
	mods_set(&ms, op, "cn", cn);
	mods_set(&ms, op, "sn", sn);
	mods_set(&ms, op, "displayName", mb->display_name);
	mods_set(&ms, op, "gmsInstitution", mb->institution);
	mods_set(&ms, op, "gmsQuotaBytes", qb);
	mods_set(&ms, op, "gmsQuotaMessages", qm);
	mods_set(&ms, op, "gmsStatus", dir_status_name(mb->status));
	mods_set(&ms, op, "gmsHomeServer", mb->home_server);
	if (hash != NULL)
		mods_set(&ms, op, "userPassword", hash);
	rc = do_write(x, add ? 'a' : 'm', buf_cstr(&dn), &ms);
	buf_free(&dn);
	return rc;
}

static int
l_set_password(void *ctx, const char *addr, const char *hash)
{
	struct lctx *x = ctx;
	struct buf dn = BUF_INIT(LDAP_DN_MAX);
	struct mods ms;
	int rc;

	memset(&ms, 0, sizeof(ms));
	if (make_dn(x, &dn, "mail", addr, "people") < 0) {
		buf_free(&dn);
		return DIR_EINVAL;
	}
	mods_set(&ms, LDAP_MOD_REPLACE, "userPassword", hash);
	rc = do_write(x, 'm', buf_cstr(&dn), &ms);
	buf_free(&dn);
	return rc;
}

static int
l_group_put(void *ctx, const struct dir_entry *e, bool add)
{
	struct lctx *x = ctx;
	struct buf dn = BUF_INIT(LDAP_DN_MAX);
	char *oc_alias[] = { "top", "gmsAlias", NULL };
	char *oc_list[] = { "top", "gmsList", NULL };
	char **vals;
	bool alias = e->kind == DIR_KIND_ALIAS;
	struct mods ms;
	int op = add ? LDAP_MOD_ADD : LDAP_MOD_REPLACE, rc;
	size_t i;

	rc = exists(x, "domains", "gmsDomainName", domain_of(e->address));
	if (rc != DIR_FOUND)
		return rc == DIR_NOTFOUND ? DIR_ENOENT : rc;
	if (add) {
		/* One address, one entry, whatever its kind. */
		struct dir_entry tmp;

		rc = l_entry(ctx, e->address, &tmp);
		if (rc == DIR_FOUND)
			dir_entry_clear(&tmp);
		if (rc != DIR_NOTFOUND)
			return rc == DIR_FOUND ? DIR_EEXIST : rc;
	}
	memset(&ms, 0, sizeof(ms));
	if (make_dn(x, &dn, "mail", e->address, alias ? "aliases" : "lists") < 0) {
		buf_free(&dn);
		return DIR_EINVAL;
	}
	vals = xcalloc(e->members.n + 1, sizeof(*vals));
	for (i = 0; i < e->members.n; i++)
		vals[i] = e->members.v[i];
	if (add) {
		mods_setv(&ms, op, "objectClass", alias ? oc_alias : oc_list);
		mods_set(&ms, op, "mail", e->address);
	}
	mods_set(&ms, op, "gmsOwner", e->owner);
	if (alias)
		mods_setv(&ms, op, "gmsTarget", vals);
	else {
		mods_set(&ms, op, "cn", e->name);
		mods_set(&ms, op, "gmsPostPolicy", dir_post_policy_name(e->policy));
		if (add)
			mods_setv(&ms, op, "gmsMember", vals);
	}
	rc = do_write(x, add ? 'a' : 'm', buf_cstr(&dn), &ms);
	free(vals);
	buf_free(&dn);
	return rc;
}

static int
l_member_change(void *ctx, const char *list, const char *member, bool add)
{
	struct lctx *x = ctx;
	struct buf dn = BUF_INIT(LDAP_DN_MAX);
	struct mods ms;
	int rc;

	memset(&ms, 0, sizeof(ms));
	if (make_dn(x, &dn, "mail", list, "lists") < 0) {
		buf_free(&dn);
		return DIR_EINVAL;
	}
	mods_set(&ms, add ? LDAP_MOD_ADD : LDAP_MOD_DELETE, "gmsMember", member);
	rc = do_write(x, 'm', buf_cstr(&dn), &ms);
	buf_free(&dn);
	return rc;
}

static int
l_remove(void *ctx, int kind, const char *key)
{
	struct lctx *x = ctx;
	struct buf dn = BUF_INIT(LDAP_DN_MAX);
	const char *attr = "mail", *ou;
	int rc;

	switch (kind) {
	case 'i':
		rc = exists(x, "domains", "gmsInstitution", key);
		if (rc != DIR_NOTFOUND)
			return rc == DIR_FOUND ? DIR_ENOTEMPTY : rc;
		attr = "gmsInstitutionId";
		ou = "institutions";
		break;
	case 'd': {
		static const char *const ous[] = { "people", "aliases", "lists" };
		size_t i;

		for (i = 0; i < GMS_NELEM(ous); i++) {
			struct buf base = BUF_INIT(LDAP_DN_MAX);
			struct buf filt = BUF_INIT(LDAP_FILTER_MAX);
			char *attrs[] = { "1.1", NULL };
			struct search s;

			rc = DIR_TEMPFAIL;
			memset(&s, 0, sizeof(s));
			if (ou_base(x, &base, ous[i]) == 0 &&
			    buf_puts(&filt, "(mail=*@") == 0 &&
			    dir_escape_filter(&filt, key, strlen(key)) == 0 &&
			    buf_putc(&filt, ')') == 0) {
				s.base = buf_cstr(&base);
				s.scope = LDAP_SCOPE_ONELEVEL;
				s.filter = buf_cstr(&filt);
				s.attrs = attrs;
				s.sizelimit = 1;
				rc = do_search(x, &s);
			}
			buf_free(&base);
			buf_free(&filt);
			if (rc == DIR_TEMPFAIL)
				return rc;
			if (rc == DIR_OK && s.count > 0)
				return DIR_ENOTEMPTY;
		}
		attr = "gmsDomainName";
		ou = "domains";
		break;
	}
	case 'm':
		ou = "people";
		break;
	case 'a':
		ou = "aliases";
		break;
	case 'l':
		ou = "lists";
		break;
	default:
		panic("directory: remove of unknown kind %d", kind);
	}
	if (make_dn(x, &dn, attr, key, ou) < 0) {
		buf_free(&dn);
		return DIR_EINVAL;
	}
	rc = do_write(x, 'd', buf_cstr(&dn), NULL);
	buf_free(&dn);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Opening. */

/* pool_init - n empty slots. */
static void
pool_init(struct lpool *p, int n)
{
	p->ld = xcalloc((size_t)n, sizeof(*p->ld));
	p->busy = xcalloc((size_t)n, sizeof(*p->busy));
	p->n = n;
}

/* pool_free - close every handle. */
static void
pool_free(struct lpool *p)
{
	int i;

	for (i = 0; i < p->n; i++)
		drop(p, i);
	free(p->ld);
	free(p->busy);
}

static int
l_open(const struct dir_settings *s, void **ctx_r, char *err, size_t errlen)
{
	struct lctx *x;
	LDAP *probe = NULL;

	/* Check the URI's syntax now: a typo is a configuration error. */
	if (ldap_initialize(&probe, s->uri) != LDAP_SUCCESS) {
		(void)gms_snprintf(err, errlen, "directory.uri: bad URI %s",
		    s->uri);
		return -1;
	}
	ldap_unbind_ext_s(probe, NULL, NULL);
	if (s->base[0] == '\0') {
		(void)gms_snprintf(err, errlen, "directory.base is empty");
		return -1;
	}
	x = xcalloc(1, sizeof(*x));
	x->s = s;
	pthread_mutex_init(&x->mtx, NULL);
	pthread_cond_init(&x->cv, NULL);
	pool_init(&x->main, s->pool_size);
	pool_init(&x->auth, s->pool_size);
	*ctx_r = x;
	return 0;
}

static void
l_close(void *ctx)
{
	struct lctx *x = ctx;

	if (x == NULL)
		return;
	pool_free(&x->main);
	pool_free(&x->auth);
	pthread_cond_destroy(&x->cv);
	pthread_mutex_destroy(&x->mtx);
	free(x);
}

/* op_ping - lop_fn: read the root DSE. */
static int
op_ping(struct lctx *x, LDAP *ld, void *arg)
{
	struct search s;

	(void)arg;
	memset(&s, 0, sizeof(s));
	s.base = x->s->base;
	s.scope = LDAP_SCOPE_BASE;
	s.filter = "(objectClass=*)";
	return op_search(x, ld, &s);
}

static int
l_ping(void *ctx)
{
	return run(ctx, op_ping, NULL) == LDAP_SUCCESS ? 0 : -1;
}

uint64_t
dir_ldap_reconnects(void *ctx)
{
	struct lctx *x = ctx;

	return __atomic_load_n(&x->reconnects, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ */
/* Delegated administration: gmsAdmin of institution entries holds the
 * DNs of the mailboxes that administer the institution. */

/* each_inst_id - the id of the first institution found (arg: char[]
 * of DIR_ID_MAX + 1). */
static void
each_inst_id(LDAP *ld, LDAPMessage *e, void *arg)
{
	char *id = arg;

	if (id[0] == '\0')
		(void)get_lower(ld, e, "gmsInstitutionId", id, DIR_ID_MAX + 1);
}

static int
l_admin_of(void *ctx, const char *address, char *id_r, size_t idlen)
{
	struct buf dn = BUF_INIT(LDAP_DN_MAX);
	char *attrs[] = { "gmsInstitutionId", NULL };
	char id[DIR_ID_MAX + 1] = "";
	int rc = DIR_NOTFOUND;

	if (make_dn(ctx, &dn, "mail", address, "people") == 0) {
		rc = search_class(ctx, "institutions", "gmsInstitution",
		    "gmsAdmin", buf_cstr(&dn), attrs, 2, each_inst_id, id,
		    NULL);
		if (rc == DIR_OK)
			rc = id[0] != '\0' ? DIR_FOUND : DIR_NOTFOUND;
		if (rc == DIR_FOUND)
			(void)gms_strlcpy(id_r, id, idlen);
	}
	buf_free(&dn);
	return rc;
}

/* each_admin - the addresses of the gmsAdmin DNs of the form
 * mail=ADDR,ou=people,BASE (others are skipped; arg: struct strv_acc). */
static void
each_admin(LDAP *ld, LDAPMessage *e, void *arg)
{
	struct strv_acc *a = arg;
	struct berval **v = ldap_get_values_len(ld, e, "gmsAdmin");
	char tmp[DIR_ADDR_MAX + 1];
	size_t i, j;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++) {
		const char *p = v[i]->bv_val;
		size_t n = v[i]->bv_len;

		if (n < 6 || gms_strncasecmp(p, "mail=", 5) != 0)
			continue;
		for (j = 5; j < n && p[j] != ',' && p[j] != '\\' &&
		    j - 5 < DIR_ADDR_MAX; j++)
			tmp[j - 5] = p[j];
		if (j == 5 || j >= n || p[j] != ',')
			continue;
		tmp[j - 5] = '\0';
		gms_lowercase(tmp);
		dir_strv_add(a->sv, tmp);
	}
	ldap_value_free_len(v);
}

static int
l_admins(void *ctx, const char *id, struct dir_strv *sv)
{
	char *attrs[] = { "gmsAdmin", NULL };
	struct strv_acc a = { "gmsAdmin", sv };
	int rc, n;

	rc = search_class(ctx, "institutions", "gmsInstitution",
	    "gmsInstitutionId", id, attrs, 2, each_admin, &a, &n);
	if (rc == DIR_OK)
		rc = n > 0 ? DIR_FOUND : DIR_NOTFOUND;
	return rc;
}

static int
l_admin_change(void *ctx, const char *id, const char *address, bool add)
{
	struct lctx *x = ctx;
	struct buf dn = BUF_INIT(LDAP_DN_MAX), val = BUF_INIT(LDAP_DN_MAX);
	struct mods ms;
	int rc;

	memset(&ms, 0, sizeof(ms));
	if (make_dn(x, &dn, "gmsInstitutionId", id, "institutions") < 0 ||
	    make_dn(x, &val, "mail", address, "people") < 0) {
		buf_free(&dn);
		buf_free(&val);
		return DIR_EINVAL;
	}
	mods_set(&ms, add ? LDAP_MOD_ADD : LDAP_MOD_DELETE, "gmsAdmin",
	    buf_cstr(&val));
	rc = do_write(x, 'm', buf_cstr(&dn), &ms);
	buf_free(&dn);
	buf_free(&val);
	return rc;
}

const struct dir_backend dir_backend_ldap = {
	.name = "ldap",
	.open = l_open,
	.close = l_close,
	.ping = l_ping,
	.institution = l_institution,
	.institutions = l_institutions,
	.domain = l_domain,
	.entry = l_entry,
	.authenticate = l_authenticate,
	.change_password = l_change_password,
	.addresses = l_addresses,
	.domains = l_domains,
	.institution_put = l_institution_put,
	.domain_put = l_domain_put,
	.mailbox_put = l_mailbox_put,
	.set_password = l_set_password,
	.group_put = l_group_put,
	.member_change = l_member_change,
	.remove = l_remove,
	.admin_of = l_admin_of,
	.admins = l_admins,
	.admin_change = l_admin_change,
};
