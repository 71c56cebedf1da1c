/*
 * cmd-sort.c - SORT and UID SORT (RFC 5256) with ARRIVAL, CC, DATE, FROM,
 * SIZE, SUBJECT, TO and REVERSE, the RFC 5957 SORT=DISPLAY keys
 * DISPLAYFROM and DISPLAYTO, and THREAD=ORDEREDSUBJECT (cmd_thread below
 * shares the sort records; THREAD=REFERENCES is in thread-refs.c).
 *
 * The search part is cmd-search.c's; the sort keys come from each
 * matching message's header, read once.  Ties are broken by sequence
 * number, as the RFC wants.  DISPLAYFROM/DISPLAYTO sort on the first
 * address's display name with its RFC 2047 words decoded, or its
 * addr-spec when it has none, compared after Unicode simple case folding
 * (search-text.c) octet by octet: the i;unicode-casemap collation of
 * RFC 5051 without its decomposition step.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "imapd/imapd.h"
#include "spool/spool.h"

#define SORT_KEYS_MAX	16

enum sort_key {
	SORT_ARRIVAL = 0, SORT_CC, SORT_DATE, SORT_FROM, SORT_SIZE,
	SORT_SUBJECT, SORT_TO, SORT_DISPLAYFROM, SORT_DISPLAYTO,
};

struct sort_crit {
	enum sort_key	key;
	bool		reverse;
};

struct sort_rec {
	uint32_t	 idx;		/* view index */
	int64_t		 date, arrival;
	uint32_t	 size;
	char		*subject, *from, *to, *cc;	/* arena */
	char		*dfrom, *dto;	/* arena; "" unless display keys */
};

struct sort_ctx {
	struct sort_crit	c[SORT_KEYS_MAX];
	size_t			n;
};

/* cmp_rec - compare two records by the criteria, then by number. */
static int
cmp_rec(const void *a, const void *b, void *arg)
{
	const struct sort_rec *x = a, *y = b;
	const struct sort_ctx *sc = arg;
	size_t i;
	int c = 0;

	for (i = 0; i < sc->n && c == 0; i++) {
		switch (sc->c[i].key) {
		case SORT_ARRIVAL:
			c = x->arrival < y->arrival ? -1 : x->arrival > y->arrival;
			break;
		case SORT_DATE:
			c = x->date < y->date ? -1 : x->date > y->date;
			break;
		case SORT_SIZE:
			c = x->size < y->size ? -1 : x->size > y->size;
			break;
		case SORT_SUBJECT:
			c = strcmp(x->subject, y->subject);
			break;
		case SORT_FROM:
			c = strcmp(x->from, y->from);
			break;
		case SORT_TO:
			c = strcmp(x->to, y->to);
			break;
		case SORT_CC:
			c = strcmp(x->cc, y->cc);
			break;
		case SORT_DISPLAYFROM:
			c = strcmp(x->dfrom, y->dfrom);
			break;
		case SORT_DISPLAYTO:
			c = strcmp(x->dto, y->dto);
			break;
		default:
			panic("sort key %d", (int)sc->c[i].key);
		}
		if (sc->c[i].reverse)
			c = -c;
	}
	if (c == 0)
		c = x->idx < y->idx ? -1 : x->idx > y->idx;
	return c;
}

/* display_key - the RFC 5957 display sort key of an address field's
 * value: display name (decoded) or addr-spec, case-folded, in the arena. */
static char *
display_key(struct imapd_session *s, const char *v, size_t len)
{
	struct buf name = BUF_INIT(64 * 1024), dec = BUF_INIT(64 * 1024),
	    f = BUF_INIT(0);
	char *r;

	msghdr_display_name(v, len, &name);
	if (name.len > 0 && strstr(buf_cstr(&name), "=?") != NULL)
		(void)spool_mime_decode_header(name.data, name.len, &dec);
	else
		(void)buf_append(&dec, buf_cstr(&name), name.len);
	(void)stext_fold(&f, buf_cstr(&dec), dec.len);
	r = arena_strndup(&s->arena, buf_cstr(&f), f.len);
	buf_free(&name);
	buf_free(&dec);
	buf_free(&f);
	return r;
}

/* load_recs - one record per matching message, keys filled (the display
 * keys only when display is true). */
static struct sort_rec *
load_recs(struct imapd_session *s, const uint32_t *idx, size_t n,
    bool display)
{
	struct sort_rec *v = arena_alloc(&s->arena, (n + 1) * sizeof(*v));
	struct buf hdr = BUF_INIT(16 * 1024 * 1024), val = BUF_INIT(0),
	    out = BUF_INIT(0);
	size_t i;

	for (i = 0; i < n; i++) {
		const struct spool_msg *m = spool_view_msg(s->sel->view, idx[i]);
		struct sort_rec *r = &v[i];
		const char *h;

		r->idx = idx[i];
		r->arrival = m->internal_date;
		r->size = m->size;
		(void)imapd_read_header(s, m->uid, &hdr);
		h = hdr.data != NULL ? hdr.data : "";
		r->date = msghdr_get(h, hdr.len, "Date", &val) ?
		    msghdr_date(buf_cstr(&val), val.len) : INT64_MIN;
		if (r->date == INT64_MIN)
			r->date = m->internal_date;
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
		msghdr_base_subject(buf_cstr(&val), val.len, &out);
		r->subject = arena_strndup(&s->arena, buf_cstr(&out), out.len);
		(void)msghdr_get(h, hdr.len, "From", &val);
		msghdr_first_mailbox(buf_cstr(&val), val.len, &out);
		r->from = arena_strndup(&s->arena, buf_cstr(&out), out.len);
		r->dfrom = display ? display_key(s, buf_cstr(&val), val.len) :
		    (char *)"";
		(void)msghdr_get(h, hdr.len, "To", &val);
		msghdr_first_mailbox(buf_cstr(&val), val.len, &out);
		r->to = arena_strndup(&s->arena, buf_cstr(&out), out.len);
		r->dto = display ? display_key(s, buf_cstr(&val), val.len) :
		    (char *)"";
		(void)msghdr_get(h, hdr.len, "Cc", &val);
		msghdr_first_mailbox(buf_cstr(&val), val.len, &out);
		r->cc = arena_strndup(&s->arena, buf_cstr(&out), out.len);
	}
	buf_free(&hdr);
	buf_free(&val);
	buf_free(&out);
	return v;
}

int
cmd_sort(struct imapd_session *s, struct imap_parser *p)
{
	static const struct { const char *name; enum sort_key key; } keys[] = {
		{ "ARRIVAL", SORT_ARRIVAL }, { "CC", SORT_CC },
		{ "DATE", SORT_DATE }, { "FROM", SORT_FROM },
		{ "SIZE", SORT_SIZE }, { "SUBJECT", SORT_SUBJECT },
		{ "TO", SORT_TO }, { "DISPLAYFROM", SORT_DISPLAYFROM },
		{ "DISPLAYTO", SORT_DISPLAYTO },
	};
	struct sort_ctx sc;
	struct sort_rec *recs;
	struct buf out = BUF_INIT(0);
	uint32_t *idx;
	size_t n, i, k;
	bool rev = false, display = false;
	const char *cs;
	char *name;
	int r;

	memset(&sc, 0, sizeof(sc));
	if (imap_p_sp(p) < 0 || imap_p_list_begin(p) < 0)
		return CMD_BAD;
	for (;;) {
		if (imap_p_atom(p, &name) < 0)
			return CMD_BAD;
		if (gms_strcasecmp(name, "REVERSE") == 0) {
			rev = true;
			if (imap_p_sp(p) < 0)
				return CMD_BAD;
			continue;
		}
		for (k = 0; k < GMS_NELEM(keys); k++)
			if (gms_strcasecmp(name, keys[k].name) == 0)
				break;
		if (k == GMS_NELEM(keys))
			return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "Unknown sort key");
		if (sc.n == SORT_KEYS_MAX)
			return imap_p_fail(p, IMAP_CODE_LIMIT, "Too many keys");
		sc.c[sc.n].key = keys[k].key;
		display |= keys[k].key == SORT_DISPLAYFROM ||
		    keys[k].key == SORT_DISPLAYTO;
		sc.c[sc.n].reverse = rev;
		sc.n++;
		rev = false;
		if (!imap_p_accept(p, ' '))
			break;
	}
	if (rev)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "REVERSE needs a key");
	if (imap_p_list_end(p) < 0 || imap_p_sp(p) < 0)
		return CMD_BAD;
	if ((r = imapd_search_charset(s, p, &cs)) != 0)
		return r < 0 ? CMD_BAD : CMD_DONE;
	if (imapd_search_match(s, p, cs, &idx, &n) < 0)
		return CMD_BAD;
	recs = load_recs(s, idx, n, display);
	qsort_r(recs, n, sizeof(*recs), cmp_rec, &sc);
	(void)buf_puts(&out, "* SORT");
	for (i = 0; i < n; i++)
		(void)buf_printf(&out, " %u", s->uid ?
		    spool_view_msg(s->sel->view, recs[i].idx)->uid :
		    recs[i].idx + 1);
	(void)buf_puts(&out, "\r\n");
	(void)imapd_write_buf(s, &out);
	buf_free(&out);
	return cmd_ok(s, NULL, "SORT completed");
}

/* thread_cmp - ORDEREDSUBJECT order: base subject, date, number. */
static int
thread_cmp(const void *a, const void *b, void *arg)
{
	const struct sort_rec *x = a, *y = b;
	int c = strcmp(x->subject, y->subject);

	(void)arg;
	if (c == 0)
		c = x->date < y->date ? -1 : x->date > y->date;
	if (c == 0)
		c = x->idx < y->idx ? -1 : x->idx > y->idx;
	return c;
}

struct thread_group {
	size_t		first, n;	/* range in the sorted records */
	int64_t		date;
	uint32_t	idx;
};

/* group_cmp - threads by the date of their first message. */
static int
group_cmp(const void *a, const void *b)
{
	const struct thread_group *x = a, *y = b;

	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int
cmd_thread(struct imapd_session *s, struct imap_parser *p)
{
	struct sort_rec *recs;
	struct thread_group *g;
	struct buf out = BUF_INIT(0);
	uint32_t *idx;
	size_t n, i, k, ng = 0;
	const char *cs;
	char *alg;
	int rc;

	if (imap_p_sp(p) < 0 || imap_p_atom(p, &alg) < 0 || imap_p_sp(p) < 0)
		return CMD_BAD;
	if (gms_strcasecmp(alg, "ORDEREDSUBJECT") != 0 &&
	    gms_strcasecmp(alg, "REFERENCES") != 0)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
		    "Unsupported threading algorithm");
	if ((rc = imapd_search_charset(s, p, &cs)) != 0)
		return rc < 0 ? CMD_BAD : CMD_DONE;
	if (imapd_search_match(s, p, cs, &idx, &n) < 0)
		return CMD_BAD;
	if (gms_strcasecmp(alg, "REFERENCES") == 0) {
		(void)imapd_thread_references(s, idx, n, &out);
		(void)imapd_write_buf(s, &out);
		buf_free(&out);
		return cmd_ok(s, NULL, "THREAD completed");
	}
	recs = load_recs(s, idx, n, false);
	qsort_r(recs, n, sizeof(*recs), thread_cmp, NULL);
	g = arena_alloc(&s->arena, (n + 1) * sizeof(*g));
	for (i = 0; i < n; i++) {
		if (i == 0 || strcmp(recs[i].subject, recs[i - 1].subject) != 0) {
			g[ng].first = i;
			g[ng].n = 0;
			g[ng].date = recs[i].date;
			g[ng].idx = recs[i].idx;
			ng++;
		}
		g[ng - 1].n++;
	}
	qsort(g, ng, sizeof(*g), group_cmp);
	(void)buf_puts(&out, "* THREAD ");
	for (i = 0; i < ng; i++) {
		const struct sort_rec *r = &recs[g[i].first];

#define NUM(rr) (s->uid ? spool_view_msg(s->sel->view, (rr)->idx)->uid : \
	(rr)->idx + 1)
		(void)buf_printf(&out, "(%u", NUM(r));
		if (g[i].n == 2)
			(void)buf_printf(&out, " %u", NUM(r + 1));
		else if (g[i].n > 2) {
			(void)buf_putc(&out, ' ');
			for (k = 1; k < g[i].n; k++)
				(void)buf_printf(&out, "(%u)", NUM(r + k));
		}
#undef NUM
		(void)buf_putc(&out, ')');
	}
	(void)buf_puts(&out, "\r\n");
	(void)imapd_write_buf(s, &out);
	buf_free(&out);
	return cmd_ok(s, NULL, "THREAD completed");
}
