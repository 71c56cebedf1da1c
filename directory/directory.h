/*
 * directory.h - the GMS directory: who is ours, where mail goes, who may
 * log in.  This header is the whole interface of directory/.
 *
 * The directory holds the 359 institutions, their mail domains, the
 * mailboxes, the aliases and the distribution lists.  In production the
 * backend is OpenLDAP (slapd, MDB) reached through a small connection pool
 * with reconnect and timeouts; unit tests use a static file backend that
 * answers the same questions (select it with directory.uri = static:PATH).
 * Only directory/ includes the LDAP headers and only it holds the bind
 * credentials.
 *
 * One handle serves a whole process: every function is thread safe.  The
 * generic layer lowercases keys and bounds their length before any backend
 * sees them, and keeps a result cache with a TTL and negative caching.
 *
 * Return conventions, everywhere in this header:
 *   lookups           DIR_FOUND (1), DIR_NOTFOUND (0), DIR_TEMPFAIL (-1);
 *                     directory_resolve() may also give DIR_PERMFAIL (-2).
 *   int operations    DIR_OK (0) or a negative DIR_E* code (write ops) /
 *                     DIR_TEMPFAIL (-1).
 * DIR_TEMPFAIL (an LDAP outage, a timeout, a broken connection) is never
 * reported as "not found": map it to 4xx / NO [UNAVAILABLE], never 5xx.
 * A key that is malformed or too long is simply not found (fail closed).
 *
 * Addresses: the local part is case-insensitive (lowercased), the domain
 * too.  "user+tag@domain" resolves like "user@domain" when the exact
 * address does not exist (the separator is directory.recipient_delimiter).
 * A domain may name a catch-all address that receives mail for unknown
 * local parts.
 */
#ifndef GMS_DIRECTORY_H
#define GMS_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gms.h"	/* struct conf, struct conf_def */

/* ------------------------------------------------------------------ */
/* Results. */
#define DIR_FOUND	1
#define DIR_NOTFOUND	0
#define DIR_TEMPFAIL	(-1)	/* try again later: 4xx, never "unknown" */
#define DIR_PERMFAIL	(-2)	/* resolve only: exists but cannot be used
				   (expansion limit exceeded): 5xx */

/* Codes of the write operations and of directory_open (DIR_OK is 0,
 * DIR_TEMPFAIL is -1 as above). */
#define DIR_OK		0
#define DIR_EEXIST	(-3)	/* the entry already exists */
#define DIR_ENOENT	(-4)	/* the entry (or what it refers to) is absent */
#define DIR_EINVAL	(-5)	/* a value is malformed or too long */
#define DIR_EPERM	(-6)	/* the directory refused (ACL, read-only
				   handle, wrong old password) */
#define DIR_ENOTEMPTY	(-7)	/* delete refused: still referenced */

/* A short static text for any of the codes above ("unknown (N)" else). */
const char *directory_strerror(int code);

/* ------------------------------------------------------------------ */
/* Sizes.  Every text field below is NUL-terminated and fits its array;
 * a value longer than the limit is refused (DIR_EINVAL / not found). */
#define DIR_LOCAL_MAX		64	/* RFC 5321 local part */
#define DIR_DOMAIN_MAX		253
#define DIR_ADDR_MAX		254	/* local@domain */
#define DIR_NAME_MAX		255	/* display and institution names, UTF-8 */
#define DIR_ID_MAX		63	/* institution id, e.g. "mof" */
#define DIR_SELECTOR_MAX	63	/* DKIM selector */
#define DIR_HOST_MAX		253	/* home server host name */
#define DIR_PLACE_MAX		127	/* region, country, city */
#define DIR_PHONE_MAX		63
#define DIR_PASSWORD_MAX	1024	/* bytes of a password */

/* ------------------------------------------------------------------ */
/* Configuration keys (register before conf_load):
 *   directory.uri                  "ldap://127.0.0.1:389/", "ldapi://...",
 *                                  or "static:PATH" (test backend)
 *   directory.base                 base DN (default "o=gms")
 *   directory.bind_dn              the read-only service DN of the daemons
 *   directory.bind_password_file   its password (mode 0600 or stricter)
 *   directory.admin_dn             the writer DN of gmsadm
 *   directory.admin_password_file  its password (mode 0600 or stricter)
 *   directory.timeout              network and operation timeout (s)
 *   directory.pool_size            connections kept open
 *   directory.cache_ttl            positive cache TTL (s), 0 = no cache
 *   directory.negative_ttl         negative cache TTL (s), 0 = none
 *   directory.cache_size           cache entries at most
 *   directory.expand_limit         addresses a list may expand to
 *   directory.expand_depth         list nesting depth at most
 *   directory.recipient_delimiter  "+" (empty: no plus-addressing)
 */
extern const struct conf_def directory_conf_table[];

/* ------------------------------------------------------------------ */
/* Opening. */
struct directory;	/* opaque, thread safe */

/* Flags of directory_open. */
#define DIR_OPEN_ADMIN	0x01	/* bind as directory.admin_dn: write ops
				   allowed (gmsadm) */

/* Open the directory described by c (borrowed only during the call: the
 * values are copied).  No connection is made yet: slapd may be down at
 * start, lookups then give DIR_TEMPFAIL until it answers.  Reads the
 * password file now and refuses one readable by group or others.
 * Returns a handle (caller closes it), or NULL with a message in err. */
struct directory *directory_open(const struct conf *c, unsigned int flags,
    char *err, size_t errlen);
/* Like directory_open(c, DIR_OPEN_ADMIN, ...), but every connection binds
 * as the mailbox user (mail=USER,ou=people,BASE) with pass (copied, wiped
 * at close) instead of a configured DN: slapd's ACLs then decide what the
 * writes may change (gmsadm --as, delegated administration).  The password
 * is not checked here (use directory_authenticate first); a wrong one
 * makes every operation DIR_TEMPFAIL with "bind failed" in the log.
 * Returns a handle or NULL with a message in err. */
struct directory *directory_open_as(const struct conf *c, const char *user,
    const char *pass, size_t passlen, char *err, size_t errlen);
/* Close every connection, wipe the credentials, free; *dp becomes NULL. */
void directory_close(struct directory **dp);
/* Connect (if needed) and check that the server answers.
 * Returns DIR_OK or DIR_TEMPFAIL. */
int directory_ping(struct directory *d);
/* Forget every cached answer (after a write made elsewhere). */
void directory_cache_flush(struct directory *d);

struct dir_stats {
	uint64_t	lookups;	/* requests to the generic layer */
	uint64_t	cache_hits;	/* answered from the cache (+ and -) */
	uint64_t	backend_calls;	/* questions sent to the backend */
	uint64_t	tempfails;
	uint64_t	reconnects;	/* LDAP connections (re)opened */
};
/* Copy the counters (for the benchmark and "gmsadm status"). */
void directory_stats(struct directory *d, struct dir_stats *st_r);

/* ------------------------------------------------------------------ */
/* Institutions. */
enum dir_inst_kind {
	DIR_INST_MINISTRY = 0,
	DIR_INST_DEPARTMENT,	/* independent department */
	DIR_INST_AGENCY,
	DIR_INST_REGION,	/* regional administration */
	DIR_INST_HOSPITAL,	/* regional referral hospital */
	DIR_INST_COUNCIL,	/* local government authority */
	DIR_INST_EMBASSY,	/* embassy or high commission abroad */
	DIR_INST_KIND_COUNT
};
/* "ministry", "department", ... as stored; "unknown (N)" otherwise. */
const char *dir_inst_kind_name(int kind);
/* The kind for a name (case-insensitive), or -1. */
int dir_inst_kind_parse(const char *s);

struct dir_institution {
	char	id[DIR_ID_MAX + 1];		/* "mof", unique, lowercase */
	int	kind;				/* enum dir_inst_kind */
	char	name_en[DIR_NAME_MAX + 1];	/* "Ministry of Finance" */
	char	name_sw[DIR_NAME_MAX + 1];	/* "Wizara ya Fedha" */
	char	region[DIR_PLACE_MAX + 1];	/* "" for missions abroad */
	char	country[DIR_PLACE_MAX + 1];	/* missions: "Kenya"; else "" */
	char	city[DIR_PLACE_MAX + 1];	/* missions: "Nairobi" */
	char	domain[DIR_DOMAIN_MAX + 1];	/* primary mail domain */
	char	contact[DIR_ADDR_MAX + 1];	/* contact address, may be "" */
	char	phone[DIR_PHONE_MAX + 1];	/* may be "" */
};

/* Find one institution by id.  Fills *inst_r (may be NULL).
 * Returns DIR_FOUND, DIR_NOTFOUND or DIR_TEMPFAIL. */
int directory_institution(struct directory *d, const char *id,
    struct dir_institution *inst_r);

/* Selection for directory_institutions: NULL/empty/-1 fields match all;
 * text fields compare case-insensitively and exactly. */
struct dir_inst_filter {
	int		 kind;		/* enum dir_inst_kind or -1 */
	const char	*region;	/* borrowed */
	const char	*country;	/* borrowed */
};

/* List the institutions matching f (NULL: all), sorted by id.  On DIR_OK
 * *list_r is an array of *n_r entries the caller frees with free() (NULL
 * when none).  Returns DIR_OK or DIR_TEMPFAIL. */
int directory_institutions(struct directory *d, const struct dir_inst_filter *f,
    struct dir_institution **list_r, size_t *n_r);

/* ------------------------------------------------------------------ */
/* Domains. */
enum dir_status {
	DIR_STATUS_ACTIVE = 0,
	DIR_STATUS_SUSPENDED,
};
/* "active" / "suspended" / "unknown (N)". */
const char *dir_status_name(int status);
/* The status for a name, or -1. */
int dir_status_parse(const char *s);

struct dir_domain {
	char	name[DIR_DOMAIN_MAX + 1];		/* "mof.go.tz" */
	char	institution[DIR_ID_MAX + 1];		/* owner id */
	char	dkim_selector[DIR_SELECTOR_MAX + 1];	/* "" if none */
	char	catchall[DIR_ADDR_MAX + 1];		/* "" if none */
	int	status;					/* enum dir_status */
};

/* Is domain one of ours?  Fills *dom_r (may be NULL).  A suspended domain
 * is still found (status tells).  Returns DIR_FOUND, DIR_NOTFOUND or
 * DIR_TEMPFAIL. */
int directory_domain(struct directory *d, const char *domain,
    struct dir_domain *dom_r);

/* ------------------------------------------------------------------ */
/* Mailboxes. */
struct dir_mailbox {
	char		address[DIR_ADDR_MAX + 1];	/* canonical, lowercase */
	char		display_name[DIR_NAME_MAX + 1];
	char		institution[DIR_ID_MAX + 1];	/* may be "" */
	uint64_t	quota_bytes;			/* 0 = unlimited */
	uint64_t	quota_messages;			/* 0 = unlimited */
	int		status;				/* enum dir_status */
	char		home_server[DIR_HOST_MAX + 1];	/* "" = this one */
};

/* The mailbox with exactly this address (case-insensitive; no +tag or
 * catch-all logic: see directory_resolve).  Fills *mb_r (may be NULL).
 * Returns DIR_FOUND, DIR_NOTFOUND or DIR_TEMPFAIL. */
int directory_mailbox(struct directory *d, const char *address,
    struct dir_mailbox *mb_r);

/* ------------------------------------------------------------------ */
/* Resolving a recipient. */
enum dir_kind {
	DIR_KIND_MAILBOX = 0,
	DIR_KIND_ALIAS,
	DIR_KIND_LIST,
};
/* "mailbox" / "alias" / "list" / "unknown (N)". */
const char *dir_kind_name(int kind);

enum dir_post_policy {
	DIR_POST_ANYONE = 0,	/* anybody, from anywhere */
	DIR_POST_MEMBERS,	/* only addresses the list expands to */
	DIR_POST_DOMAINS,	/* only senders in one of our domains */
};
/* "anyone" / "members" / "domains" / "unknown (N)". */
const char *dir_post_policy_name(int policy);
/* The policy for a name, or -1. */
int dir_post_policy_parse(const char *s);

/* One final destination of a resolved address. */
struct dir_target {
	char	address[DIR_ADDR_MAX + 1];	/* lowercase */
	bool	local;		/* a mailbox of ours: deliver to the spool;
				   else a remote address: relay */
	int	status;		/* local only: enum dir_status */
	char	home_server[DIR_HOST_MAX + 1];	/* local only; "" = here */
};

struct dir_resolution {
	int	kind;			/* enum dir_kind of the address found */
	char	address[DIR_ADDR_MAX + 1];	/* the entry found (canonical:
					   lowercase, +tag removed, or the
					   catch-all address) */
	char	detail[DIR_LOCAL_MAX + 1];	/* "tag" of user+tag, or "" */
	bool	catchall;		/* found through the domain's catch-all */
	int	policy;			/* lists: enum dir_post_policy */
	/* The final destinations, deduplicated, in a stable order: a mailbox
	 * gives itself, an alias its targets, a list its members with nested
	 * lists and aliases expanded.  Loops are cut (an address is expanded
	 * once); owned by the resolution. */
	struct dir_target *targets;
	size_t	ntargets;
};

/* Resolve a recipient address: exact (lowercased) → without +tag → the
 * domain's catch-all.  On DIR_FOUND *res_r is a new resolution the caller
 * frees with directory_resolution_free().  Returns DIR_FOUND, DIR_NOTFOUND
 * (not ours, or ours but unknown), DIR_TEMPFAIL, or DIR_PERMFAIL when the
 * expansion passes directory.expand_limit or expand_depth (*res_r NULL). */
int directory_resolve(struct directory *d, const char *address,
    struct dir_resolution **res_r);
void directory_resolution_free(struct dir_resolution **resp);

/* May the authenticated user (a mailbox address) use from as envelope
 * sender / From?  Yes for the user's own address (any case, any +tag)
 * and for an alias or list whose owner is the user.
 * Returns 1 (yes), 0 (no) or DIR_TEMPFAIL. */
int directory_may_send_as(struct directory *d, const char *user,
    const char *from);

/* May sender post to the list?  By the list's policy: anyone; members
 * (the sender is among the addresses the list expands to, or is its
 * owner); domains (the sender's domain is one of ours).  Returns 1 (yes),
 * 0 (no, or list is not a list) or DIR_TEMPFAIL. */
int directory_list_may_post(struct directory *d, const char *list,
    const char *sender);

/* ------------------------------------------------------------------ */
/* Authentication.  The password is checked by slapd, by binding as the
 * mailbox's DN on a connection of its own; our code never sees a hash.
 * An empty password is refused before any bind.  A wrong password, an
 * unknown user and a suspended mailbox give the same answer (0), and an
 * unknown user still costs a bind so that the time is alike.  The
 * password is never logged or cached; the caller wipes its copy.
 * Fills *mb_r on success (may be NULL).
 * Returns 1 (authenticated), 0 (refused) or DIR_TEMPFAIL. */
int directory_authenticate(struct directory *d, const char *user,
    const char *pass, size_t passlen, struct dir_mailbox *mb_r);

/* Change the user's own password: bind as the user with old, then write
 * new as an {SSHA512} hash (the user's own right in the ACLs).
 * Returns DIR_OK, DIR_EPERM (old password wrong, unknown user),
 * DIR_EINVAL (new empty or too long) or DIR_TEMPFAIL. */
int directory_change_password(struct directory *d, const char *user,
    const char *oldpass, size_t oldlen, const char *newpass, size_t newlen);

/* Hash a password for userPassword: "{SSHA512}" + base64(SHA-512(pass ||
 * salt) || salt) with 16 random salt bytes (verified at bind by slapd's
 * pw-sha2 module).  Returns a string the caller frees, or NULL when the
 * random source fails or passlen is 0 or > DIR_PASSWORD_MAX. */
char *directory_hash_password(const char *pass, size_t passlen);

/* ------------------------------------------------------------------ */
/* Reading aliases and lists (gmsadm). */

/* A vector of owned strings. */
struct dir_strv {
	char	**v;	/* owned, each owned */
	size_t	  n;
};
void dir_strv_free(struct dir_strv *sv);	/* frees v and its strings */

struct dir_alias {
	char		address[DIR_ADDR_MAX + 1];
	char		owner[DIR_ADDR_MAX + 1];	/* mailbox, or "" */
	struct dir_strv	targets;			/* owned */
};
struct dir_list {
	char		address[DIR_ADDR_MAX + 1];
	char		name[DIR_NAME_MAX + 1];		/* description */
	char		owner[DIR_ADDR_MAX + 1];	/* mailbox, or "" */
	int		policy;				/* enum dir_post_policy */
	struct dir_strv	members;	/* direct members only; owned */
};
/* Free the vectors inside (the struct itself is the caller's). */
void dir_alias_clear(struct dir_alias *a);
void dir_list_clear(struct dir_list *l);

/* Read one alias / list entry (no expansion).  On DIR_FOUND the caller
 * clears *r with dir_alias_clear / dir_list_clear.
 * Returns DIR_FOUND, DIR_NOTFOUND or DIR_TEMPFAIL. */
int directory_alias(struct directory *d, const char *address,
    struct dir_alias *r);
int directory_list(struct directory *d, const char *address,
    struct dir_list *r);

/* Mailboxes of one domain (""/NULL: all), sorted.  On DIR_OK the caller
 * frees *sv_r with dir_strv_free.  Returns DIR_OK or DIR_TEMPFAIL. */
int directory_mailboxes(struct directory *d, const char *domain,
    struct dir_strv *sv_r);
/* Aliases / lists of one domain (""/NULL: all), sorted; as above. */
int directory_aliases(struct directory *d, const char *domain,
    struct dir_strv *sv_r);
int directory_lists(struct directory *d, const char *domain,
    struct dir_strv *sv_r);
/* Domains of one institution (""/NULL: all), sorted; as above. */
int directory_domains(struct directory *d, const char *institution,
    struct dir_strv *sv_r);

/* ------------------------------------------------------------------ */
/* Writing (gmsadm; a handle opened with DIR_OPEN_ADMIN, else DIR_EPERM).
 * Each write flushes the handle's cache.  Each returns DIR_OK,
 * DIR_EEXIST (add), DIR_ENOENT (modify/delete, or a referenced
 * institution/domain is absent), DIR_EINVAL, DIR_EPERM, DIR_ENOTEMPTY
 * (delete of an institution that still owns domains, of a domain that
 * still has mailboxes, aliases or lists) or DIR_TEMPFAIL.
 * Modify replaces every field with the given one ("" removes an optional
 * field); the key (id, name, address) selects the entry. */
int directory_institution_add(struct directory *d,
    const struct dir_institution *inst);
int directory_institution_modify(struct directory *d,
    const struct dir_institution *inst);
int directory_institution_delete(struct directory *d, const char *id);

/* The owner institution must exist. */
int directory_domain_add(struct directory *d, const struct dir_domain *dom);
int directory_domain_modify(struct directory *d, const struct dir_domain *dom);
int directory_domain_delete(struct directory *d, const char *domain);

/* The domain must be ours.  password (passlen bytes) is hashed with
 * directory_hash_password; NULL/0 creates a mailbox that cannot log in
 * until a password is set. */
int directory_mailbox_add(struct directory *d, const struct dir_mailbox *mb,
    const char *password, size_t passlen);
/* Replaces display name, institution, quotas, status, home server. */
int directory_mailbox_modify(struct directory *d, const struct dir_mailbox *mb);
int directory_mailbox_delete(struct directory *d, const char *address);
/* Set a password (hashed as above) as the administrator. */
int directory_set_password(struct directory *d, const char *address,
    const char *password, size_t passlen);

/* targets: n addresses (at least one; local or remote).  owner may be
 * NULL or "". */
int directory_alias_add(struct directory *d, const char *address,
    const char *owner, const char *const *targets, size_t n);
/* Replace the targets and owner. */
int directory_alias_modify(struct directory *d, const char *address,
    const char *owner, const char *const *targets, size_t n);
int directory_alias_delete(struct directory *d, const char *address);

/* l->members may be empty. */
int directory_list_add(struct directory *d, const struct dir_list *l);
/* Replace name, owner and policy (members are left alone). */
int directory_list_modify(struct directory *d, const struct dir_list *l);
int directory_list_delete(struct directory *d, const char *address);
/* Add / remove one direct member (DIR_EEXIST / DIR_ENOENT when it is
 * already there / absent). */
int directory_list_member_add(struct directory *d, const char *list,
    const char *member);
int directory_list_member_remove(struct directory *d, const char *list,
    const char *member);

/* ------------------------------------------------------------------ */
/* Delegated administration (data/README.md): an institution entry's
 * gmsAdmin lists the mailboxes (their DNs) that administer it. */

/* The institution that the mailbox address administers: a search for
 * (gmsAdmin=<the mailbox's DN>) under ou=institutions with the handle's
 * own bind (a --as handle sees its own institution's gmsAdmin).  On
 * DIR_FOUND id_r gets the institution id.  Not cached.  Returns
 * DIR_FOUND, DIR_NOTFOUND (none, or a backend without delegation) or
 * DIR_TEMPFAIL. */
int directory_admin_of(struct directory *d, const char *address,
    char id_r[DIR_ID_MAX + 1]);
/* The administrators (mailbox addresses) of institution id, sorted, in
 * *sv_r (caller frees with dir_strv_free; empty on other answers).
 * Returns DIR_FOUND, DIR_NOTFOUND (no such institution) or DIR_TEMPFAIL. */
int directory_institution_admins(struct directory *d, const char *id,
    struct dir_strv *sv_r);
/* Add / remove a mailbox to / from gmsAdmin of institution id (a handle
 * opened with DIR_OPEN_ADMIN; the mailbox is not checked here).  Returns
 * DIR_OK, DIR_EEXIST (already there), DIR_ENOENT (no such institution,
 * or not there on remove), DIR_EINVAL, DIR_EPERM or DIR_TEMPFAIL. */
int directory_institution_admin_add(struct directory *d, const char *id,
    const char *address);
int directory_institution_admin_remove(struct directory *d, const char *id,
    const char *address);

#endif /* GMS_DIRECTORY_H */
