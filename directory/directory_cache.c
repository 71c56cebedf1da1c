/*
 * directory_cache.c - the result cache of the directory.
 *
 * Every daemon thread asks the directory the same few questions (is this
 * domain ours, what is this address) many times a second; the cache keeps
 * the answers for directory.cache_ttl seconds, and the "no such thing"
 * answers for directory.negative_ttl seconds (shorter: a new mailbox should
 * not stay unknown for long).  A temporary failure is never cached.
 *
 * One hash table with chaining, plus a doubly linked list in least recently
 * used order for eviction when the table holds directory.cache_size
 * entries; one mutex guards both.  Values are copied in and out, so a
 * caller never holds a pointer into the cache.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gms.h"
#include "directory/directory-private.h"

struct dnode {
	char		*key;		/* owned */
	int		 type;		/* enum dcache_type */
	bool		 negative;
	time_t		 expires;
	union {
		struct dir_domain	dom;
		struct dir_institution	inst;
		struct dir_entry	ent;	/* members owned */
	} v;
	struct dnode	*hnext;		/* hash chain */
	struct dnode	*prev, *next;	/* LRU: head is the most recent */
};

struct dcache {
	pthread_mutex_t	  mtx;
	struct dnode	**table;	/* owned, nbuckets */
	size_t		  nbuckets;
	size_t		  count;
	size_t		  max;
	int		  ttl;
	int		  neg_ttl;
	struct dnode	 *head, *tail;
};

/* dcache_realclock - the default clock. */
static time_t
dcache_realclock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

time_t (*dcache_clock)(void) = dcache_realclock;

/* hash - FNV-1a of the type and the key. */
static size_t
hash(int type, const char *key)
{
	uint64_t h = 1469598103934665603ULL;

	h ^= (unsigned char)type;
	h *= 1099511628211ULL;
	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

struct dcache *
dcache_new(int max, int ttl, int neg_ttl)
{
	struct dcache *c = xcalloc(1, sizeof(*c));

	if (max < 1)
		max = 1;
	c->max = (size_t)max;
	c->nbuckets = 64;
	while (c->nbuckets < c->max && c->nbuckets < (1u << 20))
		c->nbuckets *= 2;
	c->table = xcalloc(c->nbuckets, sizeof(*c->table));
	c->ttl = ttl;
	c->neg_ttl = neg_ttl;
	pthread_mutex_init(&c->mtx, NULL);
	return c;
}

/* node_free - free one node and what it owns. */
static void
node_free(struct dnode *n)
{
	if (n->type == DCACHE_ENTRY && !n->negative)
		dir_entry_clear(&n->v.ent);
	free(n->key);
	free(n);
}

/* lru_unlink - take n out of the LRU list. */
static void
lru_unlink(struct dcache *c, struct dnode *n)
{
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		c->head = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		c->tail = n->prev;
	n->prev = n->next = NULL;
}

/* lru_push - make n the most recent. */
static void
lru_push(struct dcache *c, struct dnode *n)
{
	n->prev = NULL;
	n->next = c->head;
	if (c->head != NULL)
		c->head->prev = n;
	c->head = n;
	if (c->tail == NULL)
		c->tail = n;
}

/* node_remove - unlink n from its chain and the LRU list, then free it. */
static void
node_remove(struct dcache *c, struct dnode *n)
{
	struct dnode **pp = &c->table[hash(n->type, n->key) & (c->nbuckets - 1)];

	while (*pp != NULL && *pp != n)
		pp = &(*pp)->hnext;
	if (*pp == n)
		*pp = n->hnext;
	lru_unlink(c, n);
	node_free(n);
	c->count--;
}

/* find - the node for (type, key), or NULL.  Caller holds the mutex. */
static struct dnode *
find(struct dcache *c, int type, const char *key)
{
	struct dnode *n = c->table[hash(type, key) & (c->nbuckets - 1)];

	for (; n != NULL; n = n->hnext)
		if (n->type == type && strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

void
dcache_flush(struct dcache *c)
{
	pthread_mutex_lock(&c->mtx);
	while (c->head != NULL)
		node_remove(c, c->head);
	pthread_mutex_unlock(&c->mtx);
}

void
dcache_free(struct dcache **cp)
{
	struct dcache *c = *cp;

	if (c == NULL)
		return;
	dcache_flush(c);
	pthread_mutex_destroy(&c->mtx);
	free(c->table);
	free(c);
	*cp = NULL;
}

/* copy_out - write the node's value into val. */
static void
copy_out(const struct dnode *n, void *val)
{
	switch (n->type) {
	case DCACHE_DOMAIN:
		memcpy(val, &n->v.dom, sizeof(n->v.dom));
		break;
	case DCACHE_INSTITUTION:
		memcpy(val, &n->v.inst, sizeof(n->v.inst));
		break;
	case DCACHE_ENTRY:
		dir_entry_copy(val, &n->v.ent);
		break;
	default:
		panic("dcache: unknown type %d", n->type);
	}
}

int
dcache_get(struct dcache *c, int type, const char *key, void *val)
{
	struct dnode *n;
	int r = DIR_TEMPFAIL;

	pthread_mutex_lock(&c->mtx);
	n = find(c, type, key);
	if (n != NULL && n->expires <= dcache_clock()) {
		node_remove(c, n);
		n = NULL;
	}
	if (n != NULL) {
		lru_unlink(c, n);
		lru_push(c, n);
		if (n->negative)
			r = DIR_NOTFOUND;
		else {
			copy_out(n, val);
			r = DIR_FOUND;
		}
	}
	pthread_mutex_unlock(&c->mtx);
	return r;
}

void
dcache_put(struct dcache *c, int type, const char *key, const void *val)
{
	struct dnode *n;
	int ttl = val != NULL ? c->ttl : c->neg_ttl;
	size_t b;

	if (ttl <= 0)
		return;
	n = xcalloc(1, sizeof(*n));
	n->key = xstrdup(key);
	n->type = type;
	n->negative = val == NULL;
	n->expires = dcache_clock() + ttl;
	if (val != NULL) {
		switch (type) {
		case DCACHE_DOMAIN:
			memcpy(&n->v.dom, val, sizeof(n->v.dom));
			break;
		case DCACHE_INSTITUTION:
			memcpy(&n->v.inst, val, sizeof(n->v.inst));
			break;
		case DCACHE_ENTRY:
			dir_entry_copy(&n->v.ent, val);
			break;
		default:
			panic("dcache: unknown type %d", type);
		}
	}

	pthread_mutex_lock(&c->mtx);
	{
		struct dnode *old = find(c, type, key);

		if (old != NULL)
			node_remove(c, old);
	}
	while (c->count >= c->max && c->tail != NULL)
		node_remove(c, c->tail);
	b = hash(type, key) & (c->nbuckets - 1);
	n->hnext = c->table[b];
	c->table[b] = n;
	lru_push(c, n);
	c->count++;
	pthread_mutex_unlock(&c->mtx);
}

size_t
dcache_count(struct dcache *c)
{
	size_t n;

	pthread_mutex_lock(&c->mtx);
	n = c->count;
	pthread_mutex_unlock(&c->mtx);
	return n;
}
