/*
 * thread-refs.c - THREAD=REFERENCES (RFC 5256, the REFERENCES algorithm):
 * build the parent/child tree from Message-ID, References and In-Reply-To,
 * prune empty containers, sort by sent date and group the root set by
 * base subject, then write the THREAD response.
 *
 * Bounded: at most THREAD_REFS_MAX references per message are used, so
 * the containers are at most (refs + 1) per message; the id table is an
 * open-addressing hash in the per-command arena.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "imapd/imapd.h"
#include "spool/spool.h"

#define THREAD_REFS_MAX	64

struct tnode {
	char		*id;		/* message id (arena), NULL: none */
	int64_t		 idx;		/* view index, -1 for a dummy */
	int64_t		 date;		/* sent date (or of first child) */
	char		*subject;	/* base subject (arena) */
	bool		 reply;		/* the subject had a Re:/Fwd: */
	struct tnode	*parent, *child, *next;
};

struct ttable {
	struct tnode	**slot;
	size_t		  mask;
};

/* hash - FNV-1a. */
static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/* lookup - the container of id, created when missing. */
static struct tnode *
lookup(struct arena *a, struct ttable *t, const char *id)
{
	size_t i = (size_t)hash(id) & t->mask;
	struct tnode *n;

	while (t->slot[i] != NULL) {
		if (strcmp(t->slot[i]->id, id) == 0)
			return t->slot[i];
		i = (i + 1) & t->mask;
	}
	n = arena_alloc(a, sizeof(*n));
	n->id = arena_strdup(a, id);
	n->idx = -1;
	t->slot[i] = n;
	return n;
}

/* is_ancestor - is a an ancestor of (or equal to) b? */
static bool
is_ancestor(const struct tnode *a, const struct tnode *b)
{
	size_t guard = 0;

	for (; b != NULL && guard < 1000000; b = b->parent, guard++)
		if (a == b)
			return true;
	return false;
}

static void
unlink_node(struct tnode *c)
{
	struct tnode **pp;

	if (c->parent == NULL)
		return;
	for (pp = &c->parent->child; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->parent = NULL;
	c->next = NULL;
}

static void
add_child(struct tnode *parent, struct tnode *c)
{
	struct tnode **pp;

	unlink_node(c);
	c->parent = parent;
	for (pp = &parent->child; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = c;
}

/* next_id - the next "<...>" of a header value; 0 when none. */
static size_t
next_id(const char *v, size_t len, size_t *pos, const char **id_r)
{
	const char *lt, *gt;

	if (*pos >= len)
		return 0;
	lt = memchr(v + *pos, '<', len - *pos);
	if (lt == NULL)
		return 0;
	gt = memchr(lt, '>', len - (size_t)(lt - v));
	if (gt == NULL)
		return 0;
	*pos = (size_t)(gt - v) + 1;
	*id_r = lt;
	return (size_t)(gt - lt) + 1;
}

/* date_of - a container's date: its message's, or its first child's. */
static int64_t
date_of(const struct tnode *n)
{
	if (n->idx >= 0 || n->child == NULL)
		return n->date;
	return date_of(n->child);
}

/* sort_siblings - sort a sibling list by date (then number). */
static struct tnode *
sort_siblings(struct tnode *head)
{
	struct tnode *out = NULL, *n, **pp;

	while (head != NULL) {
		n = head;
		head = head->next;
		for (pp = &out; *pp != NULL; pp = &(*pp)->next) {
			int64_t d1 = date_of(n), d2 = date_of(*pp);

			if (d1 < d2 || (d1 == d2 && n->idx >= 0 && (*pp)->idx >= 0 &&
			    n->idx < (*pp)->idx))
				break;
		}
		n->next = *pp;
		*pp = n;
	}
	return out;
}

/* sort_tree - sort every level, children first. */
static void
sort_tree(struct tnode *n, unsigned int depth)
{
	struct tnode *c;

	if (depth > 10000)
		return;
	for (c = n->child; c != NULL; c = c->next)
		sort_tree(c, depth + 1);
	n->child = sort_siblings(n->child);
}

/* prune - step 4: drop empty dummies, promote children of dummies. */
static void
prune(struct tnode *parent, unsigned int depth)
{
	struct tnode *c, *next, *k;

	if (depth > 10000)
		return;
	for (c = parent->child; c != NULL; c = next) {
		next = c->next;
		prune(c, depth + 1);
		if (c->idx >= 0)
			continue;
		if (c->child == NULL) {
			unlink_node(c);
			continue;
		}
		/* A dummy at the top keeps its children unless it has one. */
		if (parent->parent == NULL && parent->idx == -2 &&
		    c->child->next != NULL)
			continue;
		while ((k = c->child) != NULL)
			add_child(parent, k);
		unlink_node(c);
	}
}

/* emit - the THREAD text of one node and its descendants. */
static void
emit(struct imapd_session *s, struct buf *b, const struct tnode *n,
    unsigned int depth)
{
	const struct tnode *c;
	bool sp = false;

	if (depth > 1000)
		return;
	if (n->idx >= 0) {
		(void)buf_printf(b, "%u", s->uid ? spool_view_msg(s->sel->view,
		    (size_t)n->idx)->uid : (uint32_t)n->idx + 1);
		sp = true;
	}
	if (n->child == NULL)
		return;
	if (n->child->next == NULL) {
		if (sp)
			(void)buf_putc(b, ' ');
		emit(s, b, n->child, depth + 1);
		return;
	}
	if (sp)
		(void)buf_putc(b, ' ');
	for (c = n->child; c != NULL; c = c->next) {
		(void)buf_putc(b, '(');
		emit(s, b, c, depth + 1);
		(void)buf_putc(b, ')');
	}
}

int
imapd_thread_references(struct imapd_session *s, const uint32_t *idx,
    size_t n, struct buf *out)
{
	struct arena *a = &s->arena;
	struct ttable t;
	struct tnode root, *c, *next;
	struct buf hdr = BUF_INIT(16 * 1024 * 1024), val = BUF_INIT(0),
	    subj = BUF_INIT(0);
	size_t i, cap = 16, pos, len, k;
	const char *id;

	while (cap < (n + 1) * (THREAD_REFS_MAX + 1) * 2)
		cap *= 2;
	t.slot = arena_alloc(a, cap * sizeof(*t.slot));
	t.mask = cap - 1;
	memset(&root, 0, sizeof(root));
	root.idx = -2;

	for (i = 0; i < n; i++) {
		const struct spool_msg *m = spool_view_msg(s->sel->view, idx[i]);
		struct tnode *me, *prev = NULL, *ref;
		const char *h;
		char tmp[32];

		(void)imapd_read_header(s, m->uid, &hdr);
		h = hdr.data != NULL ? hdr.data : "";
		/* 1A: the message's own container. */
		pos = 0;
		if (msghdr_get(h, hdr.len, "Message-ID", &val) &&
		    (len = next_id(val.data, val.len, &pos, &id)) > 0) {
			char *mid = arena_strndup(a, id, len);

			me = lookup(a, &t, mid);
			if (me->idx >= 0) {
				/* Duplicate id: a container of its own. */
				(void)gms_snprintf(tmp, sizeof(tmp), "\x01%zu", i);
				me = lookup(a, &t, tmp);
			}
		} else {
			(void)gms_snprintf(tmp, sizeof(tmp), "\x01%zu", i);
			me = lookup(a, &t, tmp);
		}
		me->idx = idx[i];
		me->date = msghdr_get(h, hdr.len, "Date", &val) ?
		    msghdr_date(buf_cstr(&val), val.len) : INT64_MIN;
		if (me->date == INT64_MIN)
			me->date = m->internal_date;
		(void)msghdr_get(h, hdr.len, "Subject", &val);
		if (val.len > 0 && strstr(buf_cstr(&val), "=?") != NULL) {
			/* RFC 5256 step 1: decode encoded words first. */
			struct buf dec = BUF_INIT(64 * 1024);

			(void)spool_mime_decode_header(val.data, val.len, &dec);
			buf_reset(&val);
			(void)buf_append(&val, dec.data != NULL ? dec.data : "",
			    dec.len);
			buf_free(&dec);
		}
		msghdr_base_subject(buf_cstr(&val), val.len, &subj);
		me->subject = arena_strndup(a, buf_cstr(&subj), subj.len);
		me->reply = val.len > 0 && (val.len != subj.len ||
		    gms_strncasecmp(val.data, subj.data, subj.len) != 0);
		/* 1B: the references, linked in order. */
		pos = 0;
		k = 0;
		if (!msghdr_get(h, hdr.len, "References", &val) || val.len == 0)
			(void)msghdr_get(h, hdr.len, "In-Reply-To", &val);
		while (k < THREAD_REFS_MAX && (len = next_id(val.data != NULL ?
		    val.data : "", val.len, &pos, &id)) > 0) {
			char *rid = arena_strndup(a, id, len);

			k++;
			ref = lookup(a, &t, rid);
			if (prev != NULL && ref->parent == NULL &&
			    !is_ancestor(ref, prev))
				add_child(prev, ref);
			prev = ref;
		}
		/* 1C: the last reference is the parent. */
		if (prev != NULL && prev != me && !is_ancestor(me, prev))
			add_child(prev, me);
		else if (prev == NULL)
			unlink_node(me);
	}
	/* 2: the root set. */
	for (i = 0; i <= t.mask; i++) {
		c = t.slot[i];
		if (c != NULL && c->parent == NULL) {
			c->parent = &root;
			c->next = root.child;
			root.child = c;
		}
	}
	/* 3/4: prune and sort. */
	prune(&root, 0);
	sort_tree(&root, 0);
	/* 5: group the root set by base subject. */
	for (c = root.child; c != NULL; c = next) {
		struct tnode *o;
		const char *sj;

		next = c->next;
		sj = c->idx >= 0 ? c->subject : c->child->subject;
		if (sj == NULL || sj[0] == '\0')
			continue;
		for (o = root.child; o != c; o = o->next) {
			const char *oj = o->idx >= 0 ? o->subject :
			    o->child->subject;

			if (oj != NULL && strcmp(oj, sj) == 0)
				break;
		}
		if (o == c)
			continue;
		if (o->idx < 0 && c->idx < 0) {
			struct tnode *kk;

			while ((kk = c->child) != NULL)
				add_child(o, kk);
			unlink_node(c);
		} else if (o->idx < 0) {
			add_child(o, c);
		} else if (!o->reply && c->reply) {
			add_child(o, c);
		} else {
			struct tnode *d = arena_alloc(a, sizeof(*d));
			struct tnode **pp;

			d->idx = -1;
			d->date = o->date;
			/* d takes o's place in the root list. */
			for (pp = &root.child; *pp != o; pp = &(*pp)->next)
				;
			d->parent = &root;
			d->next = o->next;
			*pp = d;
			o->parent = NULL;
			o->next = NULL;
			add_child(d, o);
			add_child(d, c);
		}
	}
	sort_tree(&root, 0);
	(void)buf_puts(out, "* THREAD ");
	for (c = root.child; c != NULL; c = c->next) {
		(void)buf_putc(out, '(');
		emit(s, out, c, 0);
		(void)buf_putc(out, ')');
	}
	(void)buf_puts(out, "\r\n");
	buf_free(&hdr);
	buf_free(&val);
	buf_free(&subj);
	return 0;
}
