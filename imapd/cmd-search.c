/*
 * cmd-search.c - SEARCH and UID SEARCH (RFC 9051 6.4.4) with every search
 * key of RFC 3501/9051, CHARSET (iconv), ESEARCH return options
 * (RFC 4731: MIN MAX ALL COUNT), SEARCHRES (RFC 5182: SAVE and "$"),
 * MODSEQ (RFC 7162) and OLDER/YOUNGER (WITHIN, RFC 5032).
 *
 * The program is parsed into a tree in the per-command arena, bounded in
 * keys (IMAP_SEARCH_KEYS_MAX) and in depth, then evaluated per message
 * with the cheap keys (flags, sizes, dates, sets) first.  SUBJECT, FROM,
 * TO, CC, BCC (and HEADER on those fields) and the SENT* dates are
 * answered from the ENVELOPE the store cached at delivery, without
 * reading the message: the subject is the unfolded field value, an
 * address is matched as "name <mailbox@host>" (the display name without
 * its quotes or comments), as Dovecot does.  Other header fields read the
 * header only.  BODY and TEXT walk the part table the store cached: every
 * text part (text/..., message/... or no Content-Type) is decoded from
 * base64 or quoted-printable and converted from its charset to UTF-8 as
 * it streams through search-text.c's matcher (a message up to
 * SEARCH_WHOLE_MAX is read at once, a larger one in windows), the headers
 * of attached messages count as body, and TEXT adds the message header;
 * other parts (attachments) are not searched.
 * The needles are converted from the CHARSET (any charset iconv knows;
 * else NO [BADCHARSET]) to UTF-8 and case-folded once; matching is
 * substring matching after Unicode simple case folding; header values
 * are matched raw and after RFC 2047 decoding to UTF-8.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imapd/imapd.h"
#include "spool/spool.h"

#define SEARCH_DEPTH_MAX	64
#define SEARCH_WHOLE_MAX	(1024 * 1024)	/* loaded at once up to this */
#define SEARCH_WINDOW		(256 * 1024)	/* else read in windows */
#define SEARCH_HEADER_MAX	(1024 * 1024)	/* a header block's bound */

enum sk_op {
	SK_ALL = 0, SK_FLAG, SK_KEYWORD, SK_SEQ, SK_UID, SK_NOT, SK_OR,
	SK_AND, SK_LARGER, SK_SMALLER, SK_BEFORE, SK_ON, SK_SINCE,
	SK_SENTBEFORE, SK_SENTON, SK_SENTSINCE, SK_HEADER, SK_BODY, SK_TEXT,
	SK_MODSEQ, SK_OLDER, SK_YOUNGER, SK_NEW, SK_OLD, SK_RECENT,
};

struct skey {
	enum sk_op	 op;
	bool		 want;		/* SK_FLAG / SK_KEYWORD: set or unset */
	uint32_t	 bit;
	uint64_t	 num;		/* sizes, modseq, seconds */
	int64_t		 date;		/* days since the epoch */
	char		*field;		/* SK_HEADER */
	char		*str;		/* needle */
	size_t		 len;
	struct seqset	 set;
	struct skey	*a, *b;		/* NOT/OR operands */
	struct skey	**v;		/* SK_AND */
	size_t		 n;
};

struct sctx {
	struct imapd_session	*s;
	const char		*charset;	/* of needles; NULL: UTF-8 */
	unsigned int		 keys;
	unsigned int		 depth;
	bool			 has_modseq;
	/* Per message. */
	size_t			 idx;
	const struct spool_msg	*m;
	struct buf		 hdr;	/* header, loaded on demand */
	bool			 hdr_loaded;
	struct buf		 text;	/* whole message, on demand */
	bool			 text_loaded;
	struct spool_body	*body;	/* open when the message is too large
					   to load: read in windows */
	struct stext_match	 mt;	/* the body matcher, buffers reused */
	struct buf		 scratch;	/* part headers */
	struct spool_cache	 cache;
	bool			 cache_loaded;
	/* Cached MIME data read ahead for the rows [wstart, wstart + wn),
	 * in one transaction, once a key needed it. */
	struct spool_cache	*win;
	int			*win_err;
	size_t			 wstart, wn;
	bool			 walking;	/* search_run over every row */
};

/* Rows whose cached MIME data is read ahead at once. */
#define SEARCH_BATCH		64

static int p_key(struct sctx *x, struct imap_parser *p, struct skey **k_r);

/* new_key - a key in the arena, counted against the bound. */
static struct skey *
new_key(struct sctx *x, struct imap_parser *p, enum sk_op op)
{
	struct skey *k;

	if (++x->keys > IMAP_SEARCH_KEYS_MAX) {
		imap_p_fail(p, IMAP_CODE_LIMIT, "Search program too large");
		return NULL;
	}
	k = arena_alloc(p->arena, sizeof(*k));
	k->op = op;
	return k;
}

/* p_keys_and - keys separated by SP until ')' or the end. */
static int
p_keys_and(struct sctx *x, struct imap_parser *p, struct skey **k_r,
    bool in_list)
{
	struct skey *k, **v;
	size_t n = 0, cap = 8;

	if ((k = new_key(x, p, SK_AND)) == NULL)
		return -1;
	v = arena_alloc(p->arena, cap * sizeof(*v));
	for (;;) {
		if (n == cap) {
			struct skey **nv = arena_alloc(p->arena,
			    cap * 2 * sizeof(*v));

			memcpy(nv, v, cap * sizeof(*v));
			v = nv;
			cap *= 2;
		}
		if (p_key(x, p, &v[n]) < 0)
			return -1;
		n++;
		if (in_list && imap_p_peek(p, ')'))
			break;
		if (!in_list && imap_p_at_eol(p))
			break;
		if (imap_p_sp(p) < 0)
			return -1;
	}
	k->v = v;
	k->n = n;
	*k_r = k;
	return 0;
}

/* p_str - an astring needle, converted from the command's charset to
 * UTF-8 and case-folded once here. */
static int
p_str(struct sctx *x, struct imap_parser *p, struct skey *k)
{
	struct buf u = BUF_INIT(0), f = BUF_INIT(0);

	if (imap_p_sp(p) < 0 || imap_p_astring(p, &k->str, &k->len) < 0)
		return -1;
	if (x->charset == NULL ||
	    stext_to_utf8(&u, x->charset, k->str, k->len) < 0)
		(void)buf_append(&u, k->str, k->len);
	(void)stext_fold(&f, buf_cstr(&u), u.len);
	k->str = arena_strndup(p->arena, buf_cstr(&f), f.len);
	k->len = f.len;
	buf_free(&u);
	buf_free(&f);
	return 0;
}

static const struct {
	const char	*name;
	enum sk_op	 op;
	uint32_t	 bit;
	bool		 want;
} simple[] = {
	{ "ALL", SK_ALL, 0, true },
	{ "ANSWERED", SK_FLAG, SPOOL_F_ANSWERED, true },
	{ "DELETED", SK_FLAG, SPOOL_F_DELETED, true },
	{ "DRAFT", SK_FLAG, SPOOL_F_DRAFT, true },
	{ "FLAGGED", SK_FLAG, SPOOL_F_FLAGGED, true },
	{ "SEEN", SK_FLAG, SPOOL_F_SEEN, true },
	{ "UNANSWERED", SK_FLAG, SPOOL_F_ANSWERED, false },
	{ "UNDELETED", SK_FLAG, SPOOL_F_DELETED, false },
	{ "UNDRAFT", SK_FLAG, SPOOL_F_DRAFT, false },
	{ "UNFLAGGED", SK_FLAG, SPOOL_F_FLAGGED, false },
	{ "UNSEEN", SK_FLAG, SPOOL_F_SEEN, false },
	{ "RECENT", SK_RECENT, 0, true },
	{ "NEW", SK_NEW, 0, true },
	{ "OLD", SK_OLD, 0, true },
};

static const struct {
	const char	*name;
	enum sk_op	 op;
} dated[] = {
	{ "BEFORE", SK_BEFORE }, { "ON", SK_ON }, { "SINCE", SK_SINCE },
	{ "SENTBEFORE", SK_SENTBEFORE }, { "SENTON", SK_SENTON },
	{ "SENTSINCE", SK_SENTSINCE },
};

static int
p_key(struct sctx *x, struct imap_parser *p, struct skey **k_r)
{
	struct skey *k;
	char *name;
	size_t i;
	int c = cur_peek(&p->c);
	int r = 0;

	if (++x->depth > SEARCH_DEPTH_MAX)
		return imap_p_fail(p, IMAP_CODE_LIMIT, "Search nested too "
		    "deeply");
	if (c == '(') {
		if (imap_p_list_begin(p) < 0 || p_keys_and(x, p, k_r, true) < 0 ||
		    imap_p_list_end(p) < 0)
			return -1;
		x->depth--;
		return 0;
	}
	if ((c >= '0' && c <= '9') || c == '*' || c == '$') {
		if ((k = new_key(x, p, SK_SEQ)) == NULL ||
		    imap_p_seqset(p, true, &k->set) < 0)
			return -1;
		if (k->set.dollar)
			k->op = SK_UID;
		*k_r = k;
		x->depth--;
		return 0;
	}
	if (imap_p_atom(p, &name) < 0)
		return -1;
	if ((k = new_key(x, p, SK_ALL)) == NULL)
		return -1;
	*k_r = k;
	for (i = 0; i < GMS_NELEM(simple); i++)
		if (gms_strcasecmp(name, simple[i].name) == 0) {
			k->op = simple[i].op;
			k->bit = simple[i].bit;
			k->want = simple[i].want;
			x->depth--;
			return 0;
		}
	for (i = 0; i < GMS_NELEM(dated); i++)
		if (gms_strcasecmp(name, dated[i].name) == 0) {
			int64_t t;

			k->op = dated[i].op;
			if (imap_p_sp(p) < 0 || imap_p_date(p, &t) < 0)
				return -1;
			k->date = t / 86400;
			x->depth--;
			return 0;
		}
	if (gms_strcasecmp(name, "FROM") == 0 || gms_strcasecmp(name, "TO") == 0 ||
	    gms_strcasecmp(name, "CC") == 0 || gms_strcasecmp(name, "BCC") == 0 ||
	    gms_strcasecmp(name, "SUBJECT") == 0) {
		k->op = SK_HEADER;
		k->field = name;
		r = p_str(x, p, k);
	} else if (gms_strcasecmp(name, "HEADER") == 0) {
		size_t flen;

		k->op = SK_HEADER;
		r = imap_p_sp(p) < 0 || imap_p_astring(p, &k->field, &flen) < 0 ||
		    p_str(x, p, k) < 0 ? -1 : 0;
	} else if (gms_strcasecmp(name, "BODY") == 0) {
		k->op = SK_BODY;
		r = p_str(x, p, k);
	} else if (gms_strcasecmp(name, "TEXT") == 0) {
		k->op = SK_TEXT;
		r = p_str(x, p, k);
	} else if (gms_strcasecmp(name, "KEYWORD") == 0 ||
	    gms_strcasecmp(name, "UNKEYWORD") == 0) {
		k->op = SK_KEYWORD;
		k->want = gms_strcasecmp(name, "KEYWORD") == 0;
		r = imap_p_sp(p) < 0 || imap_p_flag(p, false, &k->str) < 0 ?
		    -1 : 0;
		if (r == 0 && k->str[0] == '\\') {
			int bit = imapd_flag_bit(k->str);

			/* KEYWORD \Seen is nonsense but harmless. */
			k->op = SK_FLAG;
			k->bit = bit > 0 ? (uint32_t)bit : 0;
		}
	} else if (gms_strcasecmp(name, "LARGER") == 0 ||
	    gms_strcasecmp(name, "SMALLER") == 0) {
		k->op = gms_strcasecmp(name, "LARGER") == 0 ? SK_LARGER :
		    SK_SMALLER;
		r = imap_p_sp(p) < 0 || imap_p_number64(p, &k->num) < 0 ? -1 : 0;
	} else if (gms_strcasecmp(name, "OLDER") == 0 ||
	    gms_strcasecmp(name, "YOUNGER") == 0) {
		uint32_t secs;

		k->op = gms_strcasecmp(name, "OLDER") == 0 ? SK_OLDER :
		    SK_YOUNGER;
		r = imap_p_sp(p) < 0 || imap_p_nz_number(p, &secs) < 0 ? -1 : 0;
		k->num = secs;
	} else if (gms_strcasecmp(name, "UID") == 0) {
		k->op = SK_UID;
		r = imap_p_sp(p) < 0 || imap_p_seqset(p, true, &k->set) < 0 ?
		    -1 : 0;
	} else if (gms_strcasecmp(name, "MODSEQ") == 0) {
		k->op = SK_MODSEQ;
		x->has_modseq = true;
		if (imap_p_sp(p) < 0)
			return -1;
		if (imap_p_peek(p, '"')) {
			/* entry-name SP entry-type-req: accepted, ignored. */
			char *en, *et;
			size_t l;

			if (imap_p_string(p, &en, &l) < 0 || imap_p_sp(p) < 0 ||
			    imap_p_atom(p, &et) < 0 || imap_p_sp(p) < 0)
				return -1;
		}
		r = imap_p_number64(p, &k->num);
	} else if (gms_strcasecmp(name, "NOT") == 0) {
		k->op = SK_NOT;
		r = imap_p_sp(p) < 0 || p_key(x, p, &k->a) < 0 ? -1 : 0;
	} else if (gms_strcasecmp(name, "OR") == 0) {
		k->op = SK_OR;
		r = imap_p_sp(p) < 0 || p_key(x, p, &k->a) < 0 ||
		    imap_p_sp(p) < 0 || p_key(x, p, &k->b) < 0 ? -1 : 0;
	} else
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Unknown search key");
	x->depth--;
	return r;
}

/* ------------------------------------------------------------------ */
/* Evaluation. */

/* ci_find - the folded needle in hay, folded (Unicode simple case
 * folding; bytes that are not UTF-8 compare as they are).  For header
 * values: hay is bounded by the header's size. */
static bool
ci_find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	struct buf f = BUF_INIT(0);
	bool found;

	if (nlen == 0)
		return true;
	(void)stext_fold(&f, hay, hlen);
	found = f.len >= nlen && memmem(f.data, f.len, needle, nlen) != NULL;
	buf_free(&f);
	return found;
}

/* win_free - drop the read-ahead window. */
static void
win_free(struct sctx *x)
{
	size_t i;

	for (i = 0; i < x->wn; i++)
		spool_cache_free(&x->win[i]);
	free(x->win);
	free(x->win_err);
	x->win = NULL;
	x->win_err = NULL;
	x->wstart = x->wn = 0;
}

/* load_cache - the part table (and strings) of the current message: from
 * the read-ahead window when the search walks the rows (x->m is row
 * x->idx), else read alone. */
static bool
load_cache(struct sctx *x)
{
	struct spool_view *v = x->s->sel->view;
	size_t count = spool_view_count(v), k;
	uint32_t uids[SEARCH_BATCH];

	if (x->cache_loaded)
		return true;
	memset(&x->cache, 0, sizeof(x->cache));
	if (!x->walking || x->m != spool_view_msg(v, x->idx)) {
		if (spool_view_cache(v, x->m->uid, &x->cache) != SPOOL_OK)
			return false;
		x->cache_loaded = true;
		return true;
	}
	if (x->win == NULL || x->idx < x->wstart ||
	    x->idx >= x->wstart + x->wn) {
		win_free(x);
		x->wstart = x->idx;
		x->wn = count - x->idx < SEARCH_BATCH ? count - x->idx :
		    SEARCH_BATCH;
		x->win = xcalloc(x->wn, sizeof(*x->win));
		x->win_err = xcalloc(x->wn, sizeof(*x->win_err));
		for (k = 0; k < x->wn; k++)
			uids[k] = spool_view_msg(v, x->wstart + k)->uid;
		(void)spool_view_cache_many(v, uids, x->wn, x->win,
		    x->win_err);
	}
	k = x->idx - x->wstart;
	if (x->win_err[k] != SPOOL_OK)
		return false;
	/* Move it out of the window: freed with the row as before. */
	x->cache = x->win[k];
	memset(&x->win[k], 0, sizeof(x->win[k]));
	x->win_err[k] = SPOOL_EEXPUNGED;
	x->cache_loaded = true;
	return true;
}

/* load_header - the message's header into x->hdr. */
static bool
load_header(struct sctx *x)
{
	struct spool_body *b;
	uint64_t size = 64 * 1024;

	if (x->hdr_loaded)
		return true;
	if (load_cache(x) && x->cache.nparts > 0)
		size = x->cache.parts[0].header_size;
	if (spool_body_open(x->s->sel->view, x->m->uid, &b) != SPOOL_OK)
		return false;
	buf_reset(&x->hdr);
	(void)spool_body_get(b, 0, size, &x->hdr);
	spool_body_close(&b);
	x->hdr_loaded = true;
	return true;
}

/* load_text - the whole message into x->text when it is small enough
 * (SEARCH_WHOLE_MAX); a larger one is opened (x->body) and read in
 * windows by feed_range().  Returns false when the body cannot be read. */
static bool
load_text(struct sctx *x)
{
	struct spool_body *b;

	if (x->text_loaded || x->body != NULL)
		return true;
	if (spool_body_open(x->s->sel->view, x->m->uid, &b) != SPOOL_OK)
		return false;
	if (spool_body_size(b) > SEARCH_WHOLE_MAX) {
		x->body = b;
		return true;
	}
	buf_reset(&x->text);
	(void)spool_body_get(b, 0, SEARCH_WHOLE_MAX, &x->text);
	spool_body_close(&b);
	x->text_loaded = true;
	return true;
}

/* get_range - bytes [off, off + len) of the message into out (reset
 * first), at most max of them. */
static void
get_range(struct sctx *x, uint64_t off, uint64_t len, size_t max,
    struct buf *out)
{
	buf_reset(out);
	if (len > max)
		len = max;
	if (x->text_loaded) {
		if (off < x->text.len)
			(void)buf_append(out, x->text.data + off,
			    (size_t)(x->text.len - off < len ?
			    x->text.len - off : len));
		return;
	}
	if (x->body != NULL)
		(void)spool_body_get(x->body, off, len, out);
}

/* feed_range - run the matcher over bytes [off, off + len) of the
 * message: from memory, or in windows of SEARCH_WINDOW bytes. */
static void
feed_range(struct sctx *x, uint64_t off, uint64_t len, struct stext_match *mt)
{
	struct buf w = BUF_INIT(0);

	if (x->text_loaded) {
		if (off < x->text.len)
			(void)stext_match_feed(mt, x->text.data + off,
			    (size_t)(x->text.len - off < len ?
			    x->text.len - off : len));
		return;
	}
	while (x->body != NULL && len > 0) {
		get_range(x, off, len, SEARCH_WINDOW, &w);
		if (w.len == 0 || stext_match_feed(mt, w.data, w.len))
			break;
		off += w.len;
		len -= w.len;
	}
	buf_free(&w);
}

/* header_match - any field named field whose (unfolded) value contains
 * needle; an empty needle matches when the field exists. */
static bool
header_match(const char *hdr, size_t len, const char *field,
    const char *needle, size_t nlen)
{
	size_t flen = strlen(field), i = 0, end;
	struct buf val = BUF_INIT(1024 * 1024);
	bool found = false;

	while (i < len && !found) {
		const char *nl = memchr(hdr + i, '\n', len - i);

		end = nl != NULL ? (size_t)(nl - hdr) + 1 : len;
		if (end - i <= 2 && (hdr[i] == '\r' || hdr[i] == '\n'))
			break;
		if (end - i > flen && hdr[i + flen] == ':' &&
		    gms_strncasecmp(hdr + i, field, flen) == 0) {
			buf_reset(&val);
			(void)buf_append(&val, hdr + i + flen + 1,
			    end - i - flen - 1);
			i = end;
			/* Continuation lines. */
			while (i < len && (hdr[i] == ' ' || hdr[i] == '\t')) {
				nl = memchr(hdr + i, '\n', len - i);
				end = nl != NULL ? (size_t)(nl - hdr) + 1 : len;
				(void)buf_append(&val, hdr + i, end - i);
				i = end;
			}
			found = ci_find(val.data != NULL ? val.data : "",
			    val.len, needle, nlen);
			if (!found && val.len > 0 && memmem(val.data, val.len,
			    "=?", 2) != NULL) {
				/* RFC 2047 encoded words, decoded to UTF-8. */
				struct buf dec = BUF_INIT(1024 * 1024);
				size_t k;

				for (k = 0; k < val.len; k++)
					if (val.data[k] == '\r' ||
					    val.data[k] == '\n')
						val.data[k] = ' ';
				(void)spool_mime_decode_header(val.data, val.len,
				    &dec);
				found = ci_find(dec.data != NULL ? dec.data : "",
				    dec.len, needle, nlen);
				buf_free(&dec);
			}
			continue;
		}
		i = end;
	}
	buf_free(&val);
	return found;
}

/* ------------------------------------------------------------------ */
/* The cached ENVELOPE: "(" date SP subject SP from SP sender SP reply-to
 * SP to SP cc SP bcc SP in-reply-to SP message-id ")", each field an
 * nstring or an address list "((name adl mailbox host) ...)" / NIL. */

#define ENV_DATE	0
#define ENV_SUBJECT	1
#define ENV_FROM	2
#define ENV_TO		5
#define ENV_CC		6
#define ENV_BCC		7

/* env_ws - skip spaces. */
static void
env_ws(struct cursor *c)
{
	while (c->left > 0 && (*c->p == ' ' || *c->p == '\r' ||
	    *c->p == '\n'))
		cur_skip(c, 1);
}

/* env_nstring - one nstring at c: NIL (*nil_r true), a quoted string or
 * a literal, its value appended to out (when not NULL).  Returns 0, or
 * -1 when c holds something else. */
static int
env_nstring(struct cursor *c, struct buf *out, bool *nil_r)
{
	*nil_r = false;
	env_ws(c);
	if (c->left >= 3 && gms_strncasecmp(c->p, "NIL", 3) == 0) {
		cur_skip(c, 3);
		*nil_r = true;
		return 0;
	}
	if (c->left > 0 && *c->p == '"') {
		cur_skip(c, 1);
		while (c->left > 0 && *c->p != '"') {
			if (*c->p == '\\' && c->left > 1)
				cur_skip(c, 1);
			if (out != NULL)
				(void)buf_putc(out, *c->p);
			cur_skip(c, 1);
		}
		if (c->left == 0)
			return -1;
		cur_skip(c, 1);
		return 0;
	}
	if (c->left > 0 && (*c->p == '{' || *c->p == '~')) {
		uint64_t n = 0;

		if (*c->p == '~')
			cur_skip(c, 1);
		if (c->left == 0 || *c->p != '{')
			return -1;
		cur_skip(c, 1);
		while (c->left > 0 && *c->p >= '0' && *c->p <= '9' &&
		    n < ((uint64_t)1 << 40)) {
			n = n * 10 + (uint64_t)(*c->p - '0');
			cur_skip(c, 1);
		}
		if (c->left > 0 && *c->p == '+')
			cur_skip(c, 1);
		if (c->left < 3 || memcmp(c->p, "}\r\n", 3) != 0)
			return -1;
		cur_skip(c, 3);
		if (n > c->left)
			return -1;
		if (out != NULL)
			(void)buf_append(out, c->p, (size_t)n);
		cur_skip(c, (size_t)n);
		return 0;
	}
	return -1;
}

/* env_skip - skip one field (nstring or parenthesised list). */
static int
env_skip(struct cursor *c)
{
	bool nil;
	int depth = 0;

	env_ws(c);
	if (c->left == 0 || *c->p != '(')
		return env_nstring(c, NULL, &nil);
	do {
		env_ws(c);
		if (c->left == 0)
			return -1;
		if (*c->p == '(') {
			depth++;
			cur_skip(c, 1);
		} else if (*c->p == ')') {
			depth--;
			cur_skip(c, 1);
		} else if (env_nstring(c, NULL, &nil) < 0)
			return -1;
	} while (depth > 0);
	return 0;
}

/* env_field - position c at field number which of the envelope env.
 * Returns 0 or -1 (not an envelope). */
static int
env_field(const char *env, struct cursor *c, int which)
{
	int i;

	c->p = env;
	c->left = strlen(env);
	env_ws(c);
	if (c->left == 0 || *c->p != '(')
		return -1;
	cur_skip(c, 1);
	for (i = 0; i < which; i++)
		if (env_skip(c) < 0)
			return -1;
	env_ws(c);
	return 0;
}

/* env_addresses - the address list at c as text, one "name <mbox@host>"
 * per address, separated by ", " (a group's name stands for the group).
 * Returns 1 when there is at least one address, 0 for NIL, -1 on a
 * malformed list. */
static int
env_addresses(struct cursor *c, struct buf *out)
{
	bool nil;
	int n = 0;

	env_ws(c);
	if (c->left >= 3 && gms_strncasecmp(c->p, "NIL", 3) == 0)
		return 0;
	if (c->left == 0 || *c->p != '(')
		return -1;
	cur_skip(c, 1);
	for (;;) {
		struct buf name = BUF_INIT(1024 * 1024);
		struct buf mbox = BUF_INIT(1024 * 1024);
		struct buf host = BUF_INIT(1024 * 1024);
		bool nname, nmbox, nhost;
		int r;

		env_ws(c);
		if (c->left > 0 && *c->p == ')')
			break;
		if (c->left == 0 || *c->p != '(')
			return -1;
		cur_skip(c, 1);
		r = env_nstring(c, &name, &nname) < 0 ||
		    env_nstring(c, NULL, &nil) < 0 ||
		    env_nstring(c, &mbox, &nmbox) < 0 ||
		    env_nstring(c, &host, &nhost) < 0 ? -1 : 0;
		env_ws(c);
		if (r == 0 && (c->left == 0 || *c->p != ')'))
			r = -1;
		if (r == 0) {
			cur_skip(c, 1);
			if (!nmbox) {	/* not a group's end marker */
				if (n++ > 0)
					(void)buf_puts(out, ", ");
				if (!nname && name.len > 0) {
					(void)buf_append(out, name.data,
					    name.len);
					(void)buf_putc(out, ' ');
				}
				if (nhost) {	/* a group's start */
					(void)buf_append(out, mbox.data,
					    mbox.len);
					(void)buf_putc(out, ':');
				} else {
					(void)buf_putc(out, '<');
					(void)buf_append(out, mbox.data,
					    mbox.len);
					(void)buf_putc(out, '@');
					(void)buf_append(out, host.data,
					    host.len);
					(void)buf_putc(out, '>');
				}
			}
		}
		buf_free(&name);
		buf_free(&mbox);
		buf_free(&host);
		if (r < 0)
			return -1;
	}
	return n > 0 ? 1 : 0;
}

/* value_match - needle in a field value, raw or with its RFC 2047
 * encoded words decoded to UTF-8. */
static bool
value_match(const char *val, size_t len, const char *needle, size_t nlen)
{
	struct buf dec = BUF_INIT(1024 * 1024);
	bool found;

	if (ci_find(val, len, needle, nlen))
		return true;
	if (len == 0 || memmem(val, len, "=?", 2) == NULL)
		return false;
	(void)spool_mime_decode_header(val, len, &dec);
	found = ci_find(dec.data != NULL ? dec.data : "", dec.len, needle,
	    nlen);
	buf_free(&dec);
	return found;
}

/* env_index - the envelope field that answers a header key on field, or
 * -1 when the header itself must be read. */
static int
env_index(const char *field)
{
	if (gms_strcasecmp(field, "SUBJECT") == 0)
		return ENV_SUBJECT;
	if (gms_strcasecmp(field, "FROM") == 0)
		return ENV_FROM;
	if (gms_strcasecmp(field, "TO") == 0)
		return ENV_TO;
	if (gms_strcasecmp(field, "CC") == 0)
		return ENV_CC;
	if (gms_strcasecmp(field, "BCC") == 0)
		return ENV_BCC;
	return -1;
}

/* envelope_match - a header key answered from the cached envelope:
 * 1 match, 0 no match, -1 no usable envelope (read the header). */
static int
envelope_match(struct sctx *x, int which, const char *needle, size_t nlen)
{
	struct buf val = BUF_INIT(16 * 1024 * 1024);
	struct cursor c;
	bool nil = false;
	int r;

	if (!load_cache(x) || x->cache.envelope == NULL ||
	    env_field(x->cache.envelope, &c, which) < 0)
		return -1;
	if (which == ENV_SUBJECT)
		r = env_nstring(&c, &val, &nil) < 0 ? -1 : nil ? 0 : 1;
	else
		r = env_addresses(&c, &val);
	if (r > 0) {
		size_t i;

		/* A folded value counts as unfolded. */
		for (i = 0; i < val.len; i++)
			if (val.data[i] == '\r' || val.data[i] == '\n')
				val.data[i] = ' ';
	}
	if (r > 0)
		r = value_match(val.data != NULL ? val.data : "", val.len,
		    needle, nlen) ? 1 : 0;
	buf_free(&val);
	return r;
}

/* date_days - days since the epoch of an RFC 5322 date value, or
 * INT64_MIN. */
static int64_t
date_days(const char *p, size_t len)
{
	static const char *mon[12] = { "jan", "feb", "mar", "apr", "may",
	    "jun", "jul", "aug", "sep", "oct", "nov", "dec" };
	int day = 0, year = 0, m;
	char tmp[256];
	struct tm tm;

	if (len > sizeof(tmp) - 1)
		len = sizeof(tmp) - 1;
	memcpy(tmp, p, len);
	tmp[len] = '\0';
	/* "[Day,] DD Mon YYYY ..." */
	p = strchr(tmp, ',');
	p = p != NULL ? p + 1 : tmp;
	while (*p == ' ' || *p == '\t')
		p++;
	while (*p >= '0' && *p <= '9' && day < 100)
		day = day * 10 + (*p++ - '0');
	while (*p == ' ' || *p == '-')
		p++;
	for (m = 0; m < 12; m++)
		if (gms_strncasecmp(p, mon[m], 3) == 0)
			break;
	if (m == 12 || day < 1 || day > 31)
		return INT64_MIN;
	p += 3;
	while (*p == ' ' || *p == '-')
		p++;
	while (*p >= '0' && *p <= '9' && year < 10000)
		year = year * 10 + (*p++ - '0');
	if (year < 100)
		year += year < 50 ? 2000 : 1900;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = day;
	tm.tm_mon = m;
	tm.tm_year = year - 1900;
	return (int64_t)timegm(&tm) / 86400;
}

/* sent_date - days since the epoch of the Date: header, or INT64_MIN:
 * from the cached envelope, else from the header. */
static int64_t
sent_date(struct sctx *x)
{
	const char *h;
	size_t len, i;

	if (load_cache(x) && x->cache.envelope != NULL) {
		struct buf val = BUF_INIT(4096);
		struct cursor c;
		bool nil = true;
		int64_t d = INT64_MIN;

		if (env_field(x->cache.envelope, &c, ENV_DATE) == 0 &&
		    env_nstring(&c, &val, &nil) == 0) {
			if (!nil)
				d = date_days(val.data != NULL ? val.data : "",
				    val.len);
			buf_free(&val);
			return d;
		}
		buf_free(&val);
	}
	if (!load_header(x) || x->hdr.len == 0)
		return INT64_MIN;
	h = x->hdr.data;
	len = x->hdr.len;
	for (i = 0; i + 5 < len; i++) {
		if ((i == 0 || h[i - 1] == '\n') &&
		    gms_strncasecmp(h + i, "Date:", 5) == 0)
			break;
	}
	if (i + 5 >= len)
		return INT64_MIN;
	return date_days(h + i + 5, len - i - 5);
}

/* header_block_match - needle in a header block (the message's or an
 * attached message's), raw or with its fields unfolded and their RFC 2047
 * encoded words decoded to UTF-8. */
static bool
header_block_match(struct sctx *x, uint64_t off, uint64_t len,
    const struct skey *k)
{
	struct buf h = BUF_INIT(0), u = BUF_INIT(0), dec = BUF_INIT(0);
	bool found;
	size_t i;

	get_range(x, off, len, SEARCH_HEADER_MAX, &h);
	found = ci_find(buf_cstr(&h), h.len, k->str, k->len);
	if (!found && h.len > 0 && memmem(h.data, h.len, "=?", 2) != NULL) {
		/* Unfold: a line break before white space goes. */
		for (i = 0; i < h.len; i++) {
			if ((h.data[i] == '\r' || h.data[i] == '\n') &&
			    i + 1 < h.len && (h.data[i + 1] == ' ' ||
			    h.data[i + 1] == '\t' || h.data[i + 1] == '\n'))
				continue;
			(void)buf_putc(&u, h.data[i] == '\r' ? ' ' : h.data[i]);
		}
		(void)spool_mime_decode_header(buf_cstr(&u), u.len, &dec);
		found = ci_find(buf_cstr(&dec), dec.len, k->str, k->len);
	}
	buf_free(&h);
	buf_free(&u);
	buf_free(&dec);
	return found;
}

/* part_match - needle in one leaf part's body: skipped unless text
 * (text/... message/... or no Content-Type), decoded from its transfer
 * encoding and its charset. */
static bool
part_match(struct sctx *x, const struct spool_part *pt, const struct skey *k)
{
	char cs[64];
	bool text;
	int enc;

	if (x->text_loaded && pt->offset < x->text.len)
		stext_part_type(x->text.data + pt->offset,
		    (size_t)(x->text.len - pt->offset < pt->header_size ?
		    x->text.len - pt->offset : pt->header_size), &text, cs,
		    sizeof(cs));
	else {
		get_range(x, pt->offset, pt->header_size, SEARCH_HEADER_MAX,
		    &x->scratch);
		stext_part_type(buf_cstr(&x->scratch), x->scratch.len, &text,
		    cs, sizeof(cs));
	}
	if (!text)
		return false;
	enc = pt->encoding == SPOOL_ENC_BASE64 ? STEXT_ENC_BASE64 :
	    pt->encoding == SPOOL_ENC_QP ? STEXT_ENC_QP : STEXT_ENC_NONE;
	stext_match_begin(&x->mt, k->str, k->len, enc, cs);
	feed_range(x, pt->offset + pt->header_size, pt->body_size, &x->mt);
	return stext_match_end(&x->mt);
}

/* simple_match - the needle in a message read whole whose own header
 * says it is a single text part (no Content-Type, or text/...): matched
 * from the header's Content-Type and Content-Transfer-Encoding without
 * reading the cached part table, which costs as much as the text.
 * Returns 1 (match), 0 (no match) or -1 (use the part table). */
static int
simple_match(struct sctx *x, const struct skey *k, bool body_only)
{
	const char *t = x->text.data, *p, *nl;
	size_t len = x->text.len, hs, i;
	char cs[64];
	bool text;
	int enc = STEXT_ENC_NONE;

	if (!x->text_loaded || len == 0)
		return -1;
	/* The header ends at the first empty line. */
	if (t[0] == '\n' || (len > 1 && t[0] == '\r' && t[1] == '\n')) {
		hs = t[0] == '\n' ? 1 : 2;
	} else {
		for (p = t; ; p = nl + 1) {
			nl = memchr(p, '\n', len - (size_t)(p - t));
			if (nl == NULL)
				return -1;
			i = (size_t)(nl - t) + 1;
			if (i < len && t[i] == '\n') {
				hs = i + 1;
				break;
			}
			if (i + 1 < len && t[i] == '\r' && t[i + 1] == '\n') {
				hs = i + 2;
				break;
			}
		}
	}
	buf_reset(&x->scratch);
	if (msghdr_get(t, hs, "Content-Type", &x->scratch) == 1 &&
	    (x->scratch.len < 5 ||
	    gms_strncasecmp(x->scratch.data, "text/", 5) != 0))
		return -1;
	if (msghdr_get(t, hs, "Content-Transfer-Encoding", &x->scratch) == 1) {
		if (gms_strcasecmp(buf_cstr(&x->scratch), "base64") == 0)
			enc = STEXT_ENC_BASE64;
		else if (gms_strcasecmp(buf_cstr(&x->scratch),
		    "quoted-printable") == 0)
			enc = STEXT_ENC_QP;
	}
	stext_part_type(t, hs, &text, cs, sizeof(cs));
	if (!body_only && header_block_match(x, 0, hs, k))
		return 1;
	stext_match_begin(&x->mt, k->str, k->len, enc, cs);
	feed_range(x, hs, len - hs, &x->mt);
	return stext_match_end(&x->mt) ? 1 : 0;
}

/* text_match - needle in the message's text parts (BODY), or in them and
 * the message's header (TEXT); the headers of attached messages count as
 * body. */
static bool
text_match(struct sctx *x, const struct skey *k, bool body_only)
{
	const struct spool_part *pt;
	size_t i;
	int r;

	if (k->len == 0)
		return true;
	if (!load_text(x))
		return false;
	if (!x->cache_loaded && (r = simple_match(x, k, body_only)) >= 0)
		return r == 1;
	if (!load_cache(x) || x->cache.nparts == 0) {
		/* No part table: the whole message as plain text. */
		struct spool_part whole;

		memset(&whole, 0, sizeof(whole));
		whole.body_size = x->m->size;
		whole.encoding = SPOOL_ENC_7BIT;
		return part_match(x, &whole, k);
	}
	if (!body_only && header_block_match(x, 0,
	    x->cache.parts[0].header_size, k))
		return true;
	for (i = 0; i < x->cache.nparts; i++) {
		pt = &x->cache.parts[i];
		if (i > 0 && pt->parent < x->cache.nparts &&
		    x->cache.parts[pt->parent].kind == SPOOL_PART_MESSAGE &&
		    header_block_match(x, pt->offset, pt->header_size, k))
			return true;
		if (pt->kind == SPOOL_PART_LEAF && part_match(x, pt, k))
			return true;
	}
	return false;
}

/* has_keyword - does the message carry keyword name? */
static bool
has_keyword(struct sctx *x, const char *name)
{
	const char *const *kw;
	size_t n, i;

	kw = spool_view_keywords(x->s->sel->view, &n);
	for (i = 0; i < n && i < 64; i++)
		if (gms_strcasecmp(kw[i], name) == 0)
			return (x->m->keywords & ((uint64_t)1 << i)) != 0;
	return false;
}

static bool
eval(struct sctx *x, const struct skey *k)
{
	int64_t d, now;
	size_t i;

	switch (k->op) {
	case SK_ALL:
		return true;
	case SK_FLAG:
		return ((x->m->flags & k->bit) != 0) == k->want;
	case SK_KEYWORD:
		return has_keyword(x, k->str) == k->want;
	case SK_SEQ:
		return seqset_contains(&k->set, (uint32_t)x->idx + 1);
	case SK_UID:
		return seqset_contains(&k->set, x->m->uid);
	case SK_NOT:
		return !eval(x, k->a);
	case SK_OR:
		return eval(x, k->a) || eval(x, k->b);
	case SK_AND:
		for (i = 0; i < k->n; i++)
			if (!eval(x, k->v[i]))
				return false;
		return true;
	case SK_LARGER:
		return x->m->size > k->num;
	case SK_SMALLER:
		return x->m->size < k->num;
	case SK_BEFORE:
	case SK_ON:
	case SK_SINCE:
		/* The internal date's own zone decides its day. */
		d = (x->m->internal_date + (int64_t)x->m->tz_offset * 60);
		d = d >= 0 ? d / 86400 : -((-d + 86399) / 86400);
		return k->op == SK_BEFORE ? d < k->date : k->op == SK_ON ?
		    d == k->date : d >= k->date;
	case SK_SENTBEFORE:
	case SK_SENTON:
	case SK_SENTSINCE:
		d = sent_date(x);
		if (d == INT64_MIN)
			return false;
		return k->op == SK_SENTBEFORE ? d < k->date :
		    k->op == SK_SENTON ? d == k->date : d >= k->date;
	case SK_HEADER:
		if (env_index(k->field) >= 0) {
			int r = envelope_match(x, env_index(k->field), k->str,
			    k->len);

			if (r >= 0)
				return r == 1;
		}
		if (!load_header(x))
			return false;
		return header_match(x->hdr.data != NULL ? x->hdr.data : "",
		    x->hdr.len, k->field, k->str, k->len);
	case SK_BODY:
		return text_match(x, k, true);
	case SK_TEXT:
		return text_match(x, k, false);
	case SK_MODSEQ:
		return x->m->modseq >= k->num;
	case SK_OLDER:
	case SK_YOUNGER:
		now = (int64_t)time(NULL);
		return k->op == SK_OLDER ?
		    x->m->internal_date <= now - (int64_t)k->num :
		    x->m->internal_date >= now - (int64_t)k->num;
	case SK_NEW:
		return (x->m->flags & SPOOL_F_RECENT) &&
		    !(x->m->flags & SPOOL_F_SEEN);
	case SK_OLD:
		return !(x->m->flags & SPOOL_F_RECENT);
	case SK_RECENT:
		return (x->m->flags & SPOOL_F_RECENT) != 0;
	default:
		panic("search op %d", (int)k->op);
	}
}

/* resolve_sets - turn every set of the tree into sorted ranges. */
static void
resolve_sets(struct sctx *x, struct skey *k)
{
	struct spool_view *v = x->s->sel->view;
	size_t count = spool_view_count(v), i;

	switch (k->op) {
	case SK_SEQ:
		seqset_resolve(&k->set, (uint32_t)count);
		break;
	case SK_UID:
		if (k->set.dollar) {
			imapd_saved_to_set(x->s, &k->set);
			k->set.dollar = false;
			seqset_resolve(&k->set, 0);
		} else
			seqset_resolve(&k->set, count > 0 ?
			    spool_view_msg(v, count - 1)->uid : 0);
		break;
	case SK_NOT:
		resolve_sets(x, k->a);
		break;
	case SK_OR:
		resolve_sets(x, k->a);
		resolve_sets(x, k->b);
		break;
	case SK_AND:
		for (i = 0; i < k->n; i++)
			resolve_sets(x, k->v[i]);
		break;
	default:
		break;
	}
}

/* search_run - parse the keys to the end and evaluate them. */
static int
search_run(struct sctx *x, struct imap_parser *p, uint32_t **idx_r,
    size_t *n_r)
{
	struct imapd_session *s = x->s;
	struct skey *prog;
	size_t count, i, n = 0;
	uint32_t *idx;

	if (p_keys_and(x, p, &prog, false) < 0 || imap_p_eol(p) < 0)
		return -1;
	if (x->has_modseq)
		s->enabled |= IMAPD_EN_CONDSTORE;
	resolve_sets(x, prog);
	buf_init(&x->hdr, 16 * 1024 * 1024);
	buf_init(&x->text, SEARCH_WHOLE_MAX + 1);
	buf_init(&x->scratch, 0);
	stext_match_init(&x->mt);
	count = spool_view_count(s->sel->view);
	idx = arena_alloc(&s->arena, (count + 1) * sizeof(*idx));
	x->walking = true;
	for (i = 0; i < count; i++) {
		x->idx = i;
		x->m = spool_view_msg(s->sel->view, i);
		x->hdr_loaded = x->text_loaded = false;
		if (eval(x, prog))
			idx[n++] = (uint32_t)i;
		if (x->cache_loaded) {
			spool_cache_free(&x->cache);
			x->cache_loaded = false;
		}
		if (x->body != NULL)
			spool_body_close(&x->body);
		if (x->text.cap > 256 * 1024)
			buf_free(&x->text);
	}
	win_free(x);
	x->walking = false;
	buf_free(&x->hdr);
	buf_free(&x->text);
	buf_free(&x->scratch);
	stext_match_free(&x->mt);
	*idx_r = idx;
	*n_r = n;
	return 0;
}

int
imapd_search_match(struct imapd_session *s, struct imap_parser *p,
    const char *charset, uint32_t **idx_r, size_t *n_r)
{
	struct sctx x;

	memset(&x, 0, sizeof(x));
	x.s = s;
	x.charset = charset;
	return search_run(&x, p, idx_r, n_r);
}

int
imapd_read_header(struct imapd_session *s, uint32_t uid, struct buf *out)
{
	struct sctx x;
	int r;

	memset(&x, 0, sizeof(x));
	x.s = s;
	x.m = NULL;
	buf_reset(out);
	{
		ssize_t i = spool_view_find(s->sel->view, uid);

		if (i < 0)
			return -1;
		x.m = spool_view_msg(s->sel->view, (size_t)i);
	}
	x.hdr = *out;
	r = load_header(&x) ? 0 : -1;
	*out = x.hdr;
	if (x.cache_loaded)
		spool_cache_free(&x.cache);
	return r;
}

#define RET_MIN		0x01
#define RET_MAX		0x02
#define RET_ALL		0x04
#define RET_COUNT	0x08
#define RET_SAVE	0x10

int
imapd_search_charset(struct imapd_session *s, struct imap_parser *p,
    const char **cs_r)
{
	char *name;
	size_t len;

	*cs_r = NULL;
	if (imap_p_astring(p, &name, &len) < 0 || imap_p_sp(p) < 0)
		return CMD_BAD;
	/* RFC 6855 3: after ENABLE UTF8=ACCEPT the client sends no CHARSET
	 * but UTF-8 (which RFC 9051 still allows, as redundant). */
	if ((s->enabled & IMAPD_EN_UTF8) && gms_strcasecmp(name, "UTF-8") != 0)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "CHARSET conflicts "
		    "with UTF8=ACCEPT");
	if (!stext_charset_known(name)) {
		(void)cmd_no(s, "BADCHARSET (UTF-8 US-ASCII)",
		    "Unsupported charset");
		return 1;
	}
	if (gms_strcasecmp(name, "UTF-8") != 0 &&
	    gms_strcasecmp(name, "US-ASCII") != 0)
		*cs_r = name;
	return 0;
}

int
cmd_search(struct imapd_session *s, struct imap_parser *p)
{
	struct sctx x;
	struct buf out = BUF_INIT(0);
	struct spool_uidlist res = { NULL, 0, 0 };
	bool esearch = false;
	unsigned int ret = 0;
	uint64_t maxmod = 0;
	uint32_t *idx;
	size_t nidx, i;
	char *name;

	memset(&x, 0, sizeof(x));
	x.s = s;
	if (imap_p_sp(p) < 0)
		return CMD_BAD;
	if (cur_match_ci(&p->c, "RETURN ")) {
		esearch = true;
		if (imap_p_list_begin(p) < 0)
			return CMD_BAD;
		while (!imap_p_peek(p, ')')) {
			if (imap_p_atom(p, &name) < 0)
				return CMD_BAD;
			if (gms_strcasecmp(name, "MIN") == 0)
				ret |= RET_MIN;
			else if (gms_strcasecmp(name, "MAX") == 0)
				ret |= RET_MAX;
			else if (gms_strcasecmp(name, "ALL") == 0)
				ret |= RET_ALL;
			else if (gms_strcasecmp(name, "COUNT") == 0)
				ret |= RET_COUNT;
			else if (gms_strcasecmp(name, "SAVE") == 0)
				ret |= RET_SAVE;
			else
				return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
				    "Unknown RETURN option");
			if (!imap_p_accept(p, ' '))
				break;
		}
		if (imap_p_list_end(p) < 0 || imap_p_sp(p) < 0)
			return CMD_BAD;
		if (ret == 0)
			ret = RET_ALL;
	}
	/* IMAP4rev2 answers every SEARCH with ESEARCH (RFC 9051 6.4.4). */
	if (!esearch && (s->enabled & IMAPD_EN_IMAP4REV2)) {
		esearch = true;
		ret = RET_ALL;
	}
	if (cur_match_ci(&p->c, "CHARSET ")) {
		int r;

		if ((r = imapd_search_charset(s, p, &x.charset)) != 0)
			return r < 0 ? CMD_BAD : CMD_DONE;
	}
	if (search_run(&x, p, &idx, &nidx) < 0)
		return CMD_BAD;
	for (i = 0; i < nidx; i++) {
		const struct spool_msg *m = spool_view_msg(s->sel->view, idx[i]);

		spool_uidlist_add(&res, s->uid || (ret & RET_SAVE) ? m->uid :
		    idx[i] + 1);
		if (m->modseq > maxmod)
			maxmod = m->modseq;
	}
	if (ret & RET_SAVE) {
		free(s->saved);
		s->saved = xreallocarray(NULL, res.n + 1, sizeof(uint32_t));
		memcpy(s->saved, res.v != NULL ? res.v : s->saved,
		    res.n * sizeof(uint32_t));
		s->nsaved = res.n;
		s->saved_valid = true;
		if (!s->uid)
			for (i = 0; i < res.n; i++) {
				ssize_t k = spool_view_find(s->sel->view,
				    res.v[i]);

				res.v[i] = k >= 0 ? (uint32_t)k + 1 : 0;
			}
	}
	if (!esearch) {
		(void)buf_puts(&out, "* SEARCH");
		for (i = 0; i < res.n; i++)
			(void)buf_printf(&out, " %u", res.v[i]);
		if (x.has_modseq && res.n > 0)
			(void)buf_printf(&out, " (MODSEQ %llu)",
			    (unsigned long long)maxmod);
		(void)buf_puts(&out, "\r\n");
	} else if (ret != RET_SAVE) {
		(void)buf_printf(&out, "* ESEARCH (TAG \"%s\")%s", s->tag,
		    s->uid ? " UID" : "");
		if ((ret & RET_MIN) && res.n > 0)
			(void)buf_printf(&out, " MIN %u", res.v[0]);
		if ((ret & RET_MAX) && res.n > 0)
			(void)buf_printf(&out, " MAX %u", res.v[res.n - 1]);
		if ((ret & RET_ALL) && res.n > 0) {
			(void)buf_puts(&out, " ALL ");
			(void)seqset_format_list(&out, res.v, res.n);
		}
		if (ret & RET_COUNT)
			(void)buf_printf(&out, " COUNT %zu", res.n);
		if (x.has_modseq && res.n > 0)
			(void)buf_printf(&out, " MODSEQ %llu",
			    (unsigned long long)maxmod);
		(void)buf_puts(&out, "\r\n");
	}
	(void)imapd_write_buf(s, &out);
	buf_free(&out);
	spool_uidlist_free(&res);
	return cmd_ok(s, NULL, "SEARCH completed");
}
