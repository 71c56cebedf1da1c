/*
 * seqset.c - IMAP sequence sets ("1,3:5,7:*", "$").
 *
 * A set is parsed as written, with "*" kept as SEQ_STAR, because what "*"
 * means depends on the mailbox (the highest sequence number or UID) at the
 * moment the command runs.  seqset_resolve() then turns it into sorted,
 * merged ranges, so that "1:*" on a 100 000-message mailbox stays one
 * range and membership is a binary search.
 *
 * Security: the number of ranges is bounded (IMAP_SEQSET_RANGES_MAX), and
 * the parse is linear in the input.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "imapd/imapd.h"

/* p_seq_number - nz-number or "*". */
static int
p_seq_number(struct imap_parser *p, uint32_t *n_r)
{
	if (imap_p_accept(p, '*')) {
		*n_r = SEQ_STAR;
		return 0;
	}
	return imap_p_nz_number(p, n_r);
}

int
imap_p_seqset(struct imap_parser *p, bool allow_dollar, struct seqset *set_r)
{
	struct seq_range *v;
	size_t n = 0, cap = 8;

	memset(set_r, 0, sizeof(*set_r));
	if (imap_p_accept(p, '$')) {
		if (!allow_dollar)
			return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "$ not allowed here");
		set_r->dollar = true;
		return 0;
	}
	v = arena_alloc(p->arena, cap * sizeof(*v));
	for (;;) {
		uint32_t lo, hi;

		if (p_seq_number(p, &lo) < 0)
			return -1;
		hi = lo;
		if (imap_p_accept(p, ':') && p_seq_number(p, &hi) < 0)
			return -1;
		if (n == IMAP_SEQSET_RANGES_MAX)
			return imap_p_fail(p, IMAP_CODE_LIMIT,
			    "Sequence set too large");
		if (n == cap) {
			struct seq_range *nv;

			nv = arena_alloc(p->arena, cap * 2 * sizeof(*v));
			memcpy(nv, v, cap * sizeof(*v));
			v = nv;
			cap *= 2;
		}
		v[n].lo = lo;
		v[n].hi = hi;
		n++;
		if (!imap_p_accept(p, ','))
			break;
	}
	set_r->r = v;
	set_r->n = n;
	return 0;
}

/* range_cmp - qsort order by lo. */
static int
range_cmp(const void *a, const void *b)
{
	const struct seq_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void
seqset_resolve(struct seqset *set, uint32_t max)
{
	size_t i, out = 0;

	for (i = 0; i < set->n; i++) {
		struct seq_range *r = &set->r[i];

		if (r->lo == SEQ_STAR)
			r->lo = max;
		if (r->hi == SEQ_STAR)
			r->hi = max;
		if (r->lo > r->hi) {
			uint32_t t = r->lo;

			r->lo = r->hi;
			r->hi = t;
		}
	}
	if (set->n < 2)
		return;
	qsort(set->r, set->n, sizeof(set->r[0]), range_cmp);
	for (i = 1; i < set->n; i++) {
		if (set->r[i].lo <= set->r[out].hi ||
		    set->r[i].lo - 1 == set->r[out].hi) {
			if (set->r[i].hi > set->r[out].hi)
				set->r[out].hi = set->r[i].hi;
		} else
			set->r[++out] = set->r[i];
	}
	set->n = out + 1;
}

bool
seqset_contains(const struct seqset *set, uint32_t n)
{
	size_t lo = 0, hi = set->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (n < set->r[mid].lo)
			hi = mid;
		else if (n > set->r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* put_num - a number or "*". */
static int
put_num(struct buf *b, uint32_t n)
{
	return n == SEQ_STAR ? buf_putc(b, '*') : buf_printf(b, "%u", n);
}

int
seqset_format(struct buf *b, const struct seqset *set)
{
	size_t i;

	if (set->dollar)
		return buf_putc(b, '$');
	for (i = 0; i < set->n; i++) {
		if (i > 0 && buf_putc(b, ',') < 0)
			return -1;
		if (put_num(b, set->r[i].lo) < 0)
			return -1;
		if (set->r[i].hi != set->r[i].lo &&
		    (buf_putc(b, ':') < 0 || put_num(b, set->r[i].hi) < 0))
			return -1;
	}
	return 0;
}

int
seqset_format_list(struct buf *b, const uint32_t *v, size_t n)
{
	size_t i = 0, j;

	while (i < n) {
		j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (i > 0 && buf_putc(b, ',') < 0)
			return -1;
		if (j == i ? buf_printf(b, "%u", v[i]) < 0 :
		    buf_printf(b, "%u:%u", v[i], v[j]) < 0)
			return -1;
		i = j + 1;
	}
	return 0;
}
