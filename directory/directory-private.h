/*
 * directory-private.h - the contract between the generic directory layer
 * (directory.c) and its backends (directory_ldap.c, directory_static.c),
 * plus the escaping functions and the result cache.  Only directory/ and
 * its unit tests include this file.
 *
 * The generic layer hands a backend only normalized keys: lowercase,
 * length-checked, free of control characters.  A backend answers the
 * primitive questions (what is at this address, this domain, this
 * institution) and never expands lists itself.
 */
#ifndef GMS_DIRECTORY_PRIVATE_H
#define GMS_DIRECTORY_PRIVATE_H

#include <pthread.h>
#include <time.h>

#include "gms.h"
#include "directory/directory.h"

/* What one address is, as stored (no expansion). */
struct dir_entry {
	int			kind;		/* enum dir_kind */
	char			address[DIR_ADDR_MAX + 1];
	char			owner[DIR_ADDR_MAX + 1];	/* alias/list */
	char			name[DIR_NAME_MAX + 1];		/* list */
	int			policy;				/* list */
	struct dir_strv		members;	/* alias targets / list members;
						   owned */
	struct dir_mailbox	mb;		/* kind == DIR_KIND_MAILBOX */
};

void dir_entry_clear(struct dir_entry *e);
/* Deep copy of src into dst (dst is overwritten, not cleared first). */
void dir_entry_copy(struct dir_entry *dst, const struct dir_entry *src);
void dir_strv_add(struct dir_strv *sv, const char *s);
void dir_strv_copy(struct dir_strv *dst, const struct dir_strv *src);
void dir_strv_sort(struct dir_strv *sv);

/* Settings copied out of gms.conf at open. */
struct dir_settings {
	char		*uri;		/* owned */
	char		*base;		/* owned */
	char		*bind_dn;	/* owned; service or admin DN */
	char		*bind_pw;	/* owned secret, wiped at close */
	size_t		 bind_pwlen;
	bool		 admin;		/* opened with DIR_OPEN_ADMIN */
	int		 timeout;	/* seconds */
	int		 pool_size;
	int		 cache_ttl;
	int		 negative_ttl;
	int		 cache_size;
	int		 expand_limit;
	int		 expand_depth;
	char		 delimiter;	/* '+' or 0 */
};

/* A backend.  Every function gets the backend's own context.  Lookups
 * return DIR_FOUND / DIR_NOTFOUND / DIR_TEMPFAIL; the others DIR_OK or a
 * DIR_E* code.  A NULL write function means the backend is read-only
 * (the generic layer answers DIR_EPERM). */
struct dir_backend {
	const char *name;
	int (*open)(const struct dir_settings *s, void **ctx_r, char *err,
	    size_t errlen);
	void (*close)(void *ctx);
	int (*ping)(void *ctx);
	int (*institution)(void *ctx, const char *id, struct dir_institution *r);
	int (*institutions)(void *ctx, const struct dir_inst_filter *f,
	    struct dir_institution **list_r, size_t *n_r);
	int (*domain)(void *ctx, const char *name, struct dir_domain *r);
	int (*entry)(void *ctx, const char *address, struct dir_entry *r);
	/* 1 the password is right for address, 0 not (or unknown), -1. */
	int (*authenticate)(void *ctx, const char *address, const char *pass,
	    size_t passlen);
	int (*change_password)(void *ctx, const char *address,
	    const char *oldpass, size_t oldlen, const char *newhash);
	/* Addresses of entries of one kind (enum dir_kind) in one domain
	 * ("" for all). */
	int (*addresses)(void *ctx, int kind, const char *domain,
	    struct dir_strv *sv);
	int (*domains)(void *ctx, const char *institution, struct dir_strv *sv);

	int (*institution_put)(void *ctx, const struct dir_institution *i,
	    bool add);
	int (*domain_put)(void *ctx, const struct dir_domain *dom, bool add);
	/* hash may be NULL (add: no password; modify: leave it). */
	int (*mailbox_put)(void *ctx, const struct dir_mailbox *mb,
	    const char *hash, bool add);
	int (*set_password)(void *ctx, const char *address, const char *hash);
	/* Aliases and lists share one shape (struct dir_entry).  Modify of
	 * an alias replaces its targets; of a list, name, owner and policy
	 * only (members change through member_change). */
	int (*group_put)(void *ctx, const struct dir_entry *e, bool add);
	int (*member_change)(void *ctx, const char *list, const char *member,
	    bool add);
	/* kind: 'i' institution, 'd' domain, 'm' mailbox, 'a' alias, 'l' list */
	int (*remove)(void *ctx, int kind, const char *key);

	/* Delegated administration (NULL: the backend has none).  admin_of:
	 * the id of an institution whose gmsAdmin lists the mailbox address
	 * (lookup codes); admins: the mailbox addresses in gmsAdmin of
	 * institution id (DIR_FOUND, DIR_NOTFOUND, DIR_TEMPFAIL); admin_change:
	 * add or delete one gmsAdmin value (write codes). */
	int (*admin_of)(void *ctx, const char *address, char *id_r,
	    size_t idlen);
	int (*admins)(void *ctx, const char *id, struct dir_strv *sv);
	int (*admin_change)(void *ctx, const char *id, const char *address,
	    bool add);
};

extern const struct dir_backend dir_backend_ldap;
/* LDAP connections opened so far (directory_stats). */
uint64_t dir_ldap_reconnects(void *ctx);
extern const struct dir_backend dir_backend_static;

/* ------------------------------------------------------------------ */
/* Escaping (directory_escape.c).  Both append to out and return 0, or -1
 * when out's maximum is reached (out may then hold a partial value: the
 * caller must not use it). */

/* RFC 4515 assertion value: '*' '(' ')' '\\' NUL, every byte below 0x20,
 * 0x7f and every non-ASCII byte become "\\xx" (lowercase hex), so nothing
 * a user sends can change a filter's structure. */
int dir_escape_filter(struct buf *out, const char *s, size_t len);
/* RFC 4514 attribute value: '"' '+' ',' ';' '<' '>' '\\' '=' get a
 * backslash; a leading ' ' or '#' and a trailing ' ' too; NUL, control
 * bytes and non-ASCII bytes become "\\XX". */
int dir_escape_dn(struct buf *out, const char *s, size_t len);

/* ------------------------------------------------------------------ */
/* Key normalization (directory.c): lowercase a copy of an address into
 * out (DIR_ADDR_MAX + 1 bytes) after checking its shape (one '@', local
 * part 1..64, domain 1..253, no byte <= ' ', no 0x7f, no '"', '\\', '(',
 * ')', ',', ';', '<', '>').  Returns 0 or -1. */
int dir_normalize_address(const char *in, char *out);
/* Same for a domain name (out DIR_DOMAIN_MAX + 1 bytes). */
int dir_normalize_domain(const char *in, char *out);
/* Same for an institution id: [a-z0-9-] only, 1..63 (after lowercasing). */
int dir_normalize_id(const char *in, char *out);

/* ------------------------------------------------------------------ */
/* The result cache (directory_cache.c): keys are strings, values are
 * either a struct dir_domain, a struct dir_institution or a struct
 * dir_entry, or a negative answer.  Thread safe; least recently used
 * entries leave first when full. */
enum dcache_type {
	DCACHE_DOMAIN = 1,
	DCACHE_INSTITUTION,
	DCACHE_ENTRY,
};

struct dcache;

/* max entries; ttl and neg_ttl in seconds (0: do not keep). */
struct dcache *dcache_new(int max, int ttl, int neg_ttl);
void dcache_free(struct dcache **cp);
void dcache_flush(struct dcache *c);
/* Look key up.  DIR_FOUND: a copy is written to val (of the type's
 * struct; entries deep-copied, the caller clears them); DIR_NOTFOUND: a
 * cached negative answer; DIR_TEMPFAIL: nothing cached (ask the backend). */
int dcache_get(struct dcache *c, int type, const char *key, void *val);
/* Remember a positive (val != NULL, copied) or negative (val == NULL)
 * answer. */
void dcache_put(struct dcache *c, int type, const char *key, const void *val);
/* Entries held now (tests). */
size_t dcache_count(struct dcache *c);
/* The clock used by the cache; tests move it forward. */
extern time_t (*dcache_clock)(void);

#endif /* GMS_DIRECTORY_PRIVATE_H */
