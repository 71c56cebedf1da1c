/*
 * spool_mime.c - the MIME parser of the store.  At delivery (and APPEND)
 * it reads a message once and computes what IMAP FETCH needs later
 * without reading the body again: the ENVELOPE, the BODYSTRUCTURE (with
 * extension data) and BODY strings in the exact syntax of RFC 3501 /
 * RFC 9051, and the table of MIME part offsets that spool_section_find()
 * turns into byte ranges (BODY[2.1], [2.HEADER], [1.MIME], ...).
 *
 * The input is hostile and often broken, so the parser never fails: it
 * walks the bytes through bounded indexes, accepts LF as well as CRLF,
 * ends a part without its closing boundary at the end of its parent,
 * treats a header without a blank line as all header, and stops at the
 * configured nesting depth and part count (deeper entities become opaque
 * application/octet-stream leaves).  Conventions of the output: media
 * types, subtypes, encodings, disposition types and parameter names are
 * lowercased; RFC 2231 continuations are joined (an extended parameter
 * is given as NAME* with its charset'language'%XX value); ENVELOPE
 * strings are the raw unfolded header values (clients decode RFC 2047);
 * strings that hold CR, LF or 8-bit bytes are sent as literals; NUL
 * bytes are dropped from strings.
 */
#include "config.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#include "spool/spool-private.h"

struct param {
	char	*name;		/* owned, lowercase */
	char	*value;		/* owned */
};

struct hdr {
	char	*ctype, *cte, *cid, *cdesc, *cmd5, *cdisp, *clang, *cloc;
	char	*date, *subject, *from, *sender, *reply_to, *to, *cc, *bcc;
	char	*in_reply_to, *message_id;
};

struct node {
	char		*type, *subtype;	/* owned, lowercase */
	struct param	*params;
	size_t		 nparams;
	char		*disp;			/* owned or NULL */
	struct param	*dparams;
	size_t		 ndparams;
	struct hdr	 h;
	uint64_t	 size, lines;
	int		 kind;
	struct node	**kids;
	size_t		 nkids;
};

struct mp {
	const unsigned char	*b;
	size_t			 len;
	uint32_t		 max_depth, max_parts;
	struct spool_part	*parts;
	size_t			 nparts, cap;
	bool			 truncated;
};

/* ------------------------------------------------------------------ */
/* Headers. */

static bool
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* trim_dup - copy [p, p+n) without leading/trailing whitespace, CR, LF
 * and NUL bytes inside. */
static char *
trim_dup(const char *p, size_t n)
{
	char *s;
	size_t i, j = 0;

	while (n > 0 && (is_wsp((unsigned char)p[0]) || p[0] == '\r' ||
	    p[0] == '\n'))
		p++, n--;
	while (n > 0 && (is_wsp((unsigned char)p[n - 1]) || p[n - 1] == '\r' ||
	    p[n - 1] == '\n'))
		n--;
	s = xmalloc(n + 1);
	for (i = 0; i < n; i++)
		if (p[i] != '\0')
			s[j++] = p[i];
	s[j] = '\0';
	return s;
}

/* hdr_slot - where a field of this name is kept (NULL: not wanted). */
static char **
hdr_slot(struct hdr *h, const char *name, size_t n)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} fields[] = {
		{ "content-type", offsetof(struct hdr, ctype) },
		{ "content-transfer-encoding", offsetof(struct hdr, cte) },
		{ "content-id", offsetof(struct hdr, cid) },
		{ "content-description", offsetof(struct hdr, cdesc) },
		{ "content-md5", offsetof(struct hdr, cmd5) },
		{ "content-disposition", offsetof(struct hdr, cdisp) },
		{ "content-language", offsetof(struct hdr, clang) },
		{ "content-location", offsetof(struct hdr, cloc) },
		{ "date", offsetof(struct hdr, date) },
		{ "subject", offsetof(struct hdr, subject) },
		{ "from", offsetof(struct hdr, from) },
		{ "sender", offsetof(struct hdr, sender) },
		{ "reply-to", offsetof(struct hdr, reply_to) },
		{ "to", offsetof(struct hdr, to) },
		{ "cc", offsetof(struct hdr, cc) },
		{ "bcc", offsetof(struct hdr, bcc) },
		{ "in-reply-to", offsetof(struct hdr, in_reply_to) },
		{ "message-id", offsetof(struct hdr, message_id) },
	};
	size_t i;

	for (i = 0; i < GMS_NELEM(fields); i++)
		if (strlen(fields[i].name) == n &&
		    gms_strncasecmp(fields[i].name, name, n) == 0)
			return (char **)((char *)h + fields[i].off);
	return NULL;
}

static void
hdr_free(struct hdr *h)
{
	char **f = (char **)h;
	size_t i;

	for (i = 0; i < sizeof(*h) / sizeof(char *); i++)
		free(f[i]);
	memset(h, 0, sizeof(*h));
}

/* parse_header - read the header of the entity at [off, end): fills h
 * (first occurrence of each field wins) and returns the header size,
 * blank line included. */
static size_t
parse_header(const struct mp *mp, size_t off, size_t end, struct hdr *h)
{
	const char *b = (const char *)mp->b;
	struct buf val = BUF_INIT(0);
	char **slot = NULL;
	size_t pos = off;

	memset(h, 0, sizeof(*h));
	while (pos < end) {
		size_t ls = pos, le, next;
		const char *nl = memchr(b + pos, '\n', end - pos);

		next = nl ? (size_t)(nl - b) + 1 : end;
		le = nl ? (size_t)(nl - b) : end;
		if (le > ls && b[le - 1] == '\r')
			le--;
		pos = next;
		if (le == ls) {
			/* The blank line ends the header. */
			if (slot != NULL && *slot == NULL)
				*slot = trim_dup(val.data ? val.data : "", val.len);
			slot = NULL;
			break;
		}
		if (is_wsp((unsigned char)b[ls])) {
			if (slot != NULL)
				(void)buf_append(&val, b + ls, le - ls);
			continue;
		}
		if (slot != NULL && *slot == NULL)
			*slot = trim_dup(val.data ? val.data : "", val.len);
		slot = NULL;
		buf_reset(&val);
		{
			const char *colon = memchr(b + ls, ':', le - ls);
			size_t n;

			if (colon == NULL)
				continue;	/* not a field: skipped */
			n = (size_t)(colon - (b + ls));
			while (n > 0 && is_wsp((unsigned char)b[ls + n - 1]))
				n--;
			slot = hdr_slot(h, b + ls, n);
			if (slot != NULL && *slot == NULL)
				(void)buf_append(&val, colon + 1,
				    le - (size_t)(colon + 1 - b));
			else
				slot = NULL;
		}
	}
	if (slot != NULL && *slot == NULL)
		*slot = trim_dup(val.data ? val.data : "", val.len);
	buf_free(&val);
	return pos - off;
}

/* ------------------------------------------------------------------ */
/* Content-Type style values: token/token *(; param). */

static bool
is_tspecial(int c)
{
	return c <= ' ' || c >= 0x7f || strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* skip_cfws - skip whitespace and (nested) comments. */
static void
skip_cfws(struct cursor *c)
{
	for (;;) {
		int ch = cur_peek(c);

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			cur_skip(c, 1);
		} else if (ch == '(') {
			int depth = 0;

			while (!cur_eof(c)) {
				ch = cur_peek(c);
				cur_skip(c, 1);
				if (ch == '\\' && !cur_eof(c))
					cur_skip(c, 1);
				else if (ch == '(')
					depth++;
				else if (ch == ')' && --depth == 0)
					break;
			}
		} else {
			return;
		}
	}
}

/* take_token - a run of token characters (lowercased when lower). */
static char *
take_token(struct cursor *c, bool lower)
{
	size_t n = 0;
	char *s;

	while (n < c->left && !is_tspecial((unsigned char)c->p[n]))
		n++;
	s = xstrndup(c->p, n);
	cur_skip(c, n);
	if (lower)
		gms_lowercase(s);
	return s;
}

/* take_quoted - a quoted string (cursor on the '"'), unescaped. */
static char *
take_quoted(struct cursor *c)
{
	struct buf b = BUF_INIT(0);

	cur_skip(c, 1);
	while (!cur_eof(c)) {
		int ch = cur_peek(c);

		cur_skip(c, 1);
		if (ch == '"')
			break;
		if (ch == '\\' && !cur_eof(c)) {
			ch = cur_peek(c);
			cur_skip(c, 1);
		}
		if (ch == '\r' || ch == '\n')
			continue;
		(void)buf_putc(&b, ch);
	}
	return b.data ? buf_steal(&b) : xstrdup("");
}

/* take_value - a parameter value: quoted string, or anything up to ';'
 * (lenient: unquoted values with stray characters are common). */
static char *
take_value(struct cursor *c)
{
	size_t n = 0;

	if (cur_peek(c) == '"')
		return take_quoted(c);
	while (n < c->left && c->p[n] != ';')
		n++;
	{
		char *s = trim_dup(c->p, n);

		cur_skip(c, n);
		return s;
	}
}

static void
params_free(struct param *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].value);
	}
	free(p);
}

static bool
attr_char(int c)
{
	return c > ' ' && c < 0x7f && strchr("*'%()<>@,;:\\\"/[]?=", c) == NULL;
}

/* rfc2231_join - join NAME*0, NAME*1*, ... continuations and mark
 * extended parameters NAME* (value charset'lang'%XX). */
static void
rfc2231_join(struct param **pp, size_t *np)
{
	struct param *in = *pp, *out = NULL;
	size_t n = *np, nout = 0, i, j;
	bool *used = xcalloc(n ? n : 1, sizeof(bool));

	for (i = 0; i < n; i++) {
		char *star, base[128];
		size_t blen;
		bool extended = false;
		struct buf v = BUF_INIT(0);
		uint32_t seg;

		if (used[i])
			continue;
		star = strchr(in[i].name, '*');
		if (star == NULL) {
			out = xreallocarray(out, nout + 1, sizeof(*out));
			out[nout].name = xstrdup(in[i].name);
			out[nout].value = xstrdup(in[i].value);
			nout++;
			used[i] = true;
			continue;
		}
		blen = (size_t)(star - in[i].name);
		if (blen >= sizeof(base))
			blen = sizeof(base) - 1;
		memcpy(base, in[i].name, blen);
		base[blen] = '\0';
		if (strcmp(star, "*") == 0) {
			/* NAME*=charset'lang'value: already in final form. */
			out = xreallocarray(out, nout + 1, sizeof(*out));
			out[nout].name = xasprintf("%s*", base);
			out[nout].value = xstrdup(in[i].value);
			nout++;
			used[i] = true;
			continue;
		}
		/* Continuations: find *0, *1, ... in order (bounded). */
		for (j = 0; j < n; j++) {
			if (!used[j] && strncmp(in[j].name, base, blen) == 0 &&
			    strcmp(in[j].name + blen, "*0*") == 0)
				extended = true;
		}
		for (seg = 0; seg < 1000; seg++) {
			char plain[32], enc[32];
			bool found = false;

			(void)gms_snprintf(plain, sizeof(plain), "*%u", seg);
			(void)gms_snprintf(enc, sizeof(enc), "*%u*", seg);
			for (j = 0; j < n; j++) {
				const char *rest;

				if (used[j] || strncmp(in[j].name, base, blen) != 0)
					continue;
				rest = in[j].name + blen;
				if (strcmp(rest, enc) == 0) {
					(void)buf_puts(&v, in[j].value);
				} else if (strcmp(rest, plain) == 0) {
					const char *s = in[j].value;

					for (; *s != '\0'; s++) {
						if (extended && !attr_char(
						    (unsigned char)*s))
							(void)buf_printf(&v, "%%%02X",
							    (unsigned char)*s);
						else
							(void)buf_putc(&v, *s);
					}
				} else {
					continue;
				}
				used[j] = true;
				found = true;
				break;
			}
			if (!found)
				break;
		}
		if (seg == 0) {
			/* NAME*junk: keep as it is. */
			out = xreallocarray(out, nout + 1, sizeof(*out));
			out[nout].name = xstrdup(in[i].name);
			out[nout].value = xstrdup(in[i].value);
			nout++;
			used[i] = true;
			buf_free(&v);
			continue;
		}
		out = xreallocarray(out, nout + 1, sizeof(*out));
		out[nout].name = extended ? xasprintf("%s*", base) : xstrdup(base);
		out[nout].value = v.data ? buf_steal(&v) : xstrdup("");
		nout++;
		buf_free(&v);
		/* Any stray continuation of this name is dropped. */
		for (j = 0; j < n; j++)
			if (!used[j] && strncmp(in[j].name, base, blen) == 0 &&
			    in[j].name[blen] == '*')
				used[j] = true;
	}
	free(used);
	params_free(in, n);
	*pp = out;
	*np = nout;
}

/* parse_params - "; name=value" pairs after the cursor. */
static void
parse_params(struct cursor *c, struct param **pp, size_t *np)
{
	struct param *p = NULL;
	size_t n = 0;

	for (;;) {
		char *name, *value;

		skip_cfws(c);
		if (cur_eof(c))
			break;
		if (cur_peek(c) != ';') {
			/* Junk: skip to the next ';'. */
			while (!cur_eof(c) && cur_peek(c) != ';')
				cur_skip(c, 1);
			continue;
		}
		cur_skip(c, 1);
		skip_cfws(c);
		name = take_token(c, true);
		skip_cfws(c);
		if (name[0] == '\0' || cur_peek(c) != '=') {
			free(name);
			continue;
		}
		cur_skip(c, 1);
		skip_cfws(c);
		value = take_value(c);
		if (n >= 200) {		/* bounded */
			free(name);
			free(value);
			continue;
		}
		p = xreallocarray(p, n + 1, sizeof(*p));
		p[n].name = name;
		p[n].value = value;
		n++;
	}
	rfc2231_join(&p, &n);
	*pp = p;
	*np = n;
}

static const char *
param_get(const struct param *p, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(p[i].name, name) == 0)
			return p[i].value;
	return NULL;
}

/* parse_ctype - type, subtype and parameters of the node. */
static void
parse_ctype(struct node *nd, const char *def_type, const char *def_sub)
{
	struct cursor c;
	char *type, *sub = NULL;

	if (nd->h.ctype == NULL)
		goto deflt;
	cur_init(&c, nd->h.ctype, strlen(nd->h.ctype));
	skip_cfws(&c);
	type = take_token(&c, true);
	skip_cfws(&c);
	if (cur_peek(&c) == '/') {
		cur_skip(&c, 1);
		skip_cfws(&c);
		sub = take_token(&c, true);
	}
	if (type[0] == '\0' || sub == NULL || sub[0] == '\0') {
		free(type);
		free(sub);
		/* RFC 2045 5.2: an invalid Content-Type is text/plain. */
		nd->type = xstrdup("text");
		nd->subtype = xstrdup("plain");
		nd->params = xcalloc(1, sizeof(*nd->params));
		nd->params[0].name = xstrdup("charset");
		nd->params[0].value = xstrdup("us-ascii");
		nd->nparams = 1;
		return;
	}
	nd->type = type;
	nd->subtype = sub;
	parse_params(&c, &nd->params, &nd->nparams);
	return;
deflt:
	nd->type = xstrdup(def_type);
	nd->subtype = xstrdup(def_sub);
	if (strcmp(def_type, "text") == 0) {
		nd->params = xcalloc(1, sizeof(*nd->params));
		nd->params[0].name = xstrdup("charset");
		nd->params[0].value = xstrdup("us-ascii");
		nd->nparams = 1;
	}
}

/* parse_disp - Content-Disposition. */
static void
parse_disp(struct node *nd)
{
	struct cursor c;
	char *t;

	if (nd->h.cdisp == NULL)
		return;
	cur_init(&c, nd->h.cdisp, strlen(nd->h.cdisp));
	skip_cfws(&c);
	t = take_token(&c, true);
	if (t[0] == '\0') {
		free(t);
		return;
	}
	nd->disp = t;
	parse_params(&c, &nd->dparams, &nd->ndparams);
}

/* ------------------------------------------------------------------ */
/* The entity tree. */

static void
node_free(struct node *nd)
{
	size_t i;

	if (nd == NULL)
		return;
	for (i = 0; i < nd->nkids; i++)
		node_free(nd->kids[i]);
	free(nd->kids);
	free(nd->type);
	free(nd->subtype);
	params_free(nd->params, nd->nparams);
	free(nd->disp);
	params_free(nd->dparams, nd->ndparams);
	hdr_free(&nd->h);
	free(nd);
}

static uint64_t
count_lines(const unsigned char *p, size_t n)
{
	uint64_t lines = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] == '\n')
			lines++;
	if (n > 0 && p[n - 1] != '\n')
		lines++;
	return lines;
}

static uint16_t
encoding_of(const char *cte)
{
	if (cte == NULL || gms_strcasecmp(cte, "7bit") == 0)
		return SPOOL_ENC_7BIT;
	if (gms_strcasecmp(cte, "8bit") == 0)
		return SPOOL_ENC_8BIT;
	if (gms_strcasecmp(cte, "binary") == 0)
		return SPOOL_ENC_BINARY;
	if (gms_strcasecmp(cte, "base64") == 0)
		return SPOOL_ENC_BASE64;
	if (gms_strcasecmp(cte, "quoted-printable") == 0)
		return SPOOL_ENC_QP;
	return SPOOL_ENC_OTHER;
}

/* part_add - a new part table entry; UINT32_MAX when the limit is hit. */
static uint32_t
part_add(struct mp *mp, uint32_t parent, size_t off)
{
	struct spool_part *p;

	if (mp->nparts >= mp->max_parts) {
		mp->truncated = true;
		return UINT32_MAX;
	}
	if (mp->nparts == mp->cap) {
		mp->cap = mp->cap ? mp->cap * 2 : 8;
		mp->parts = xreallocarray(mp->parts, mp->cap, sizeof(*mp->parts));
	}
	p = &mp->parts[mp->nparts];
	memset(p, 0, sizeof(*p));
	p->offset = off;
	p->parent = parent;
	return (uint32_t)mp->nparts++;
}

/* delimiter_at - is there a boundary delimiter line at ls (the start of
 * a line)?  RFC 2046: "--" boundary ["--"] then only linear whitespace
 * to the end of the line (so "--b1" never matches a line "--b10").
 * Returns 0 no, 1 delimiter, 2 close delimiter. */
static int
delimiter_at(const struct mp *mp, size_t ls, size_t end, const char *bnd,
    size_t blen)
{
	const unsigned char *b = mp->b;
	size_t p = ls + 2 + blen;
	int kind = 1;

	if (end - ls < 2 + blen || b[ls] != '-' || b[ls + 1] != '-' ||
	    memcmp(b + ls + 2, bnd, blen) != 0)
		return 0;
	if (end >= p + 2 && b[p] == '-' && b[p + 1] == '-') {
		kind = 2;
		p += 2;
	}
	while (p < end && (b[p] == ' ' || b[p] == '\t'))
		p++;
	if (p < end && b[p] != '\r' && b[p] != '\n')
		return 0;
	return kind;
}

static struct node *parse_entity(struct mp *mp, size_t off, size_t end,
    uint32_t depth, uint32_t parent, bool digest, bool headerless,
    uint32_t *idx_r);

/* parse_multipart - split the body [bs, be) of nd at its boundary. */
static void
parse_multipart(struct mp *mp, struct node *nd, uint32_t idx, size_t bs,
    size_t be, uint32_t depth, const char *bnd)
{
	const unsigned char *b = mp->b;
	size_t blen = strlen(bnd), pos = bs, part_start = 0;
	bool in_part = false, closed = false;
	bool digest = strcmp(nd->subtype, "digest") == 0;

	while (pos < be && !closed) {
		const unsigned char *nl = memchr(b + pos, '\n', be - pos);
		size_t next = nl ? (size_t)(nl - b) + 1 : be;
		int kind = delimiter_at(mp, pos, be, bnd, blen);

		if (kind != 0) {
			if (in_part) {
				size_t pe = pos;

				if (pe > part_start && b[pe - 1] == '\n')
					pe--;
				if (pe > part_start && b[pe - 1] == '\r')
					pe--;
				if (pe < part_start)
					pe = part_start;
				{
					uint32_t ci;
					struct node *kid = parse_entity(mp,
					    part_start, pe, depth + 1, idx,
					    digest, false, &ci);

					if (kid == NULL)
						break;
					nd->kids = xreallocarray(nd->kids,
					    nd->nkids + 1, sizeof(*nd->kids));
					nd->kids[nd->nkids++] = kid;
				}
			}
			if (kind == 2)
				closed = true;
			in_part = true;
			part_start = next;
		}
		pos = next;
	}
	if (in_part && !closed && part_start <= be) {
		/* No closing delimiter: the last part runs to the end. */
		uint32_t ci;
		struct node *kid = parse_entity(mp, part_start, be, depth + 1,
		    idx, digest, false, &ci);

		if (kid != NULL) {
			nd->kids = xreallocarray(nd->kids, nd->nkids + 1,
			    sizeof(*nd->kids));
			nd->kids[nd->nkids++] = kid;
		}
	}
	if (nd->nkids == 0) {
		/* No delimiter at all: the whole body is one part, without
		 * a header of its own. */
		uint32_t ci;
		struct node *kid = parse_entity(mp, bs, be, depth + 1, idx,
		    digest, true, &ci);

		if (kid != NULL) {
			nd->kids = xcalloc(1, sizeof(*nd->kids));
			nd->kids[nd->nkids++] = kid;
		}
	}
}

/* make_opaque - turn a node into application/octet-stream. */
static void
make_opaque(struct node *nd)
{
	free(nd->type);
	free(nd->subtype);
	params_free(nd->params, nd->nparams);
	nd->params = NULL;
	nd->nparams = 0;
	nd->type = xstrdup("application");
	nd->subtype = xstrdup("octet-stream");
	nd->kind = SPOOL_PART_LEAF;
}

/* parse_entity - one entity (header and body) at [off, end). */
static struct node *
parse_entity(struct mp *mp, size_t off, size_t end, uint32_t depth,
    uint32_t parent, bool digest, bool headerless, uint32_t *idx_r)
{
	struct node *nd;
	uint32_t idx;
	size_t hsize, bs;
	struct spool_part *p;

	idx = part_add(mp, parent, off);
	*idx_r = idx;
	if (idx == UINT32_MAX)
		return NULL;
	nd = xcalloc(1, sizeof(*nd));
	hsize = headerless ? 0 : parse_header(mp, off, end, &nd->h);
	bs = off + hsize;
	parse_ctype(nd, digest ? "message" : "text", digest ? "rfc822" : "plain");
	parse_disp(nd);
	nd->size = end - bs;
	nd->kind = SPOOL_PART_LEAF;
	mp->parts[idx].header_size = hsize;
	mp->parts[idx].body_size = end - bs;
	mp->parts[idx].encoding = encoding_of(nd->h.cte);

	if (strcmp(nd->type, "multipart") == 0) {
		const char *bnd = param_get(nd->params, nd->nparams, "boundary");

		if (bnd == NULL || bnd[0] == '\0' || strlen(bnd) > 200) {
			/* Unusable: the body is plain text (RFC 2046 5.1.1
			 * requires the parameter). */
			free(nd->type);
			free(nd->subtype);
			params_free(nd->params, nd->nparams);
			nd->type = xstrdup("text");
			nd->subtype = xstrdup("plain");
			nd->params = xcalloc(1, sizeof(*nd->params));
			nd->params[0].name = xstrdup("charset");
			nd->params[0].value = xstrdup("us-ascii");
			nd->nparams = 1;
		} else if (depth >= mp->max_depth ||
		    mp->nparts >= mp->max_parts) {
			mp->truncated = true;
			make_opaque(nd);
		} else {
			char *b = xstrdup(bnd);

			nd->kind = SPOOL_PART_MULTIPART;
			parse_multipart(mp, nd, idx, bs, end, depth, b);
			free(b);
			if (nd->nkids == 0)
				make_opaque(nd);
		}
	} else if (strcmp(nd->type, "message") == 0 &&
	    (strcmp(nd->subtype, "rfc822") == 0 ||
	    strcmp(nd->subtype, "global") == 0)) {
		uint16_t enc = mp->parts[idx].encoding;

		if (enc == SPOOL_ENC_BASE64 || enc == SPOOL_ENC_QP ||
		    depth >= mp->max_depth || mp->nparts >= mp->max_parts) {
			if (depth >= mp->max_depth || mp->nparts >= mp->max_parts)
				mp->truncated = true;
			make_opaque(nd);
		} else {
			uint32_t ci;
			struct node *kid = parse_entity(mp, bs, end, depth + 1,
			    idx, false, false, &ci);

			if (kid == NULL) {
				make_opaque(nd);
			} else {
				nd->kind = SPOOL_PART_MESSAGE;
				nd->kids = xcalloc(1, sizeof(*nd->kids));
				nd->kids[0] = kid;
				nd->nkids = 1;
			}
		}
	}
	p = &mp->parts[idx];
	p->kind = (uint16_t)nd->kind;
	p->nchildren = (uint32_t)nd->nkids;
	if (nd->kind != SPOOL_PART_MULTIPART)
		nd->lines = count_lines(mp->b + bs, end - bs);
	p->lines = (uint32_t)(nd->lines > UINT32_MAX ? UINT32_MAX : nd->lines);
	return nd;
}

/* ------------------------------------------------------------------ */
/* Output in IMAP syntax. */

/* put_nstring - NIL, a quoted string or a literal. */
static void
put_nstring(struct buf *o, const char *s)
{
	const char *p;
	bool literal = false;

	if (s == NULL) {
		(void)buf_puts(o, "NIL");
		return;
	}
	for (p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '\r' || c == '\n' || c >= 0x80 || c < 0x20 || c == 0x7f)
			literal = true;
	}
	if (literal) {
		(void)buf_printf(o, "{%zu}\r\n", strlen(s));
		(void)buf_puts(o, s);
		return;
	}
	(void)buf_putc(o, '"');
	for (p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			(void)buf_putc(o, '\\');
		(void)buf_putc(o, *p);
	}
	(void)buf_putc(o, '"');
}

static void
put_params(struct buf *o, const struct param *p, size_t n)
{
	size_t i;

	if (n == 0) {
		(void)buf_puts(o, "NIL");
		return;
	}
	(void)buf_putc(o, '(');
	for (i = 0; i < n; i++) {
		if (i > 0)
			(void)buf_putc(o, ' ');
		put_nstring(o, p[i].name);
		(void)buf_putc(o, ' ');
		put_nstring(o, p[i].value);
	}
	(void)buf_putc(o, ')');
}

/* ----- addresses ----- */

enum tok_kind { TK_WORD, TK_QUOTED, TK_SPECIAL, TK_COMMENT, TK_LITERAL };
struct tok {
	enum tok_kind	 kind;
	char		*text;	/* owned (unquoted for TK_QUOTED) */
	char		 ch;	/* TK_SPECIAL */
};

static void
toks_free(struct tok *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(t[i].text);
	free(t);
}

/* tokenize - RFC 5322 structured field tokens (bounded count). */
static struct tok *
tokenize(const char *s, size_t *n_r)
{
	struct cursor c;
	struct tok *t = NULL;
	size_t n = 0;

	cur_init(&c, s, strlen(s));
	while (!cur_eof(&c) && n < 2000) {
		int ch = cur_peek(&c);
		struct tok k;

		memset(&k, 0, sizeof(k));
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			cur_skip(&c, 1);
			continue;
		}
		if (ch == '(') {
			struct buf b = BUF_INIT(0);
			int depth = 0;

			while (!cur_eof(&c)) {
				ch = cur_peek(&c);
				cur_skip(&c, 1);
				if (ch == '\\' && !cur_eof(&c)) {
					(void)buf_putc(&b, cur_peek(&c));
					cur_skip(&c, 1);
					continue;
				}
				if (ch == '(') {
					if (depth++ > 0)
						(void)buf_putc(&b, ch);
					continue;
				}
				if (ch == ')') {
					if (--depth == 0)
						break;
				}
				(void)buf_putc(&b, ch);
			}
			k.kind = TK_COMMENT;
			k.text = b.data ? buf_steal(&b) : xstrdup("");
		} else if (ch == '"') {
			k.kind = TK_QUOTED;
			k.text = take_quoted(&c);
		} else if (ch == '[') {
			size_t m = 0;

			while (m < c.left && c.p[m] != ']')
				m++;
			if (m < c.left)
				m++;
			k.kind = TK_LITERAL;
			k.text = xstrndup(c.p, m);
			cur_skip(&c, m);
		} else if (strchr("<>@,;:.", ch) != NULL) {
			k.kind = TK_SPECIAL;
			k.ch = (char)ch;
			cur_skip(&c, 1);
		} else {
			size_t m = 0;

			while (m < c.left && strchr(" \t\r\n()\"[<>@,;:.",
			    c.p[m]) == NULL)
				m++;
			if (m == 0)	/* a lone ']' or '\\' */
				m = 1;
			k.kind = TK_WORD;
			k.text = xstrndup(c.p, m);
			cur_skip(&c, m);
		}
		t = xreallocarray(t, n + 1, sizeof(*t));
		t[n++] = k;
	}
	*n_r = n;
	return t;
}

struct addr {
	struct buf	name, route, local, domain;
	bool		have_name;
	const char	*comment;	/* borrowed: last comment seen */
};

static void
addr_reset(struct addr *a)
{
	buf_free(&a->name);
	buf_free(&a->route);
	buf_free(&a->local);
	buf_free(&a->domain);
	a->have_name = false;
	a->comment = NULL;
}

/* put_addr - one address (name adl mailbox host). */
static void
put_addr(struct buf *o, struct addr *a, bool *any)
{
	const char *local = a->local.len ? buf_cstr(&a->local) : NULL;
	const char *domain = a->domain.len ? buf_cstr(&a->domain) : NULL;
	const char *name = NULL;

	if (local == NULL && domain == NULL)
		return;
	if (!*any)
		(void)buf_putc(o, '(');
	*any = true;
	if (a->have_name && a->name.len > 0)
		name = buf_cstr(&a->name);
	else if (a->comment != NULL && a->comment[0] != '\0')
		name = a->comment;
	(void)buf_putc(o, '(');
	put_nstring(o, name);
	(void)buf_putc(o, ' ');
	put_nstring(o, a->route.len ? buf_cstr(&a->route) : NULL);
	(void)buf_putc(o, ' ');
	put_nstring(o, local ? local : "MISSING_MAILBOX");
	(void)buf_putc(o, ' ');
	put_nstring(o, domain ? domain : "MISSING_DOMAIN");
	(void)buf_putc(o, ')');
}

/* word_text - a token as it appears in a local part or domain. */
static void
append_word(struct buf *b, const struct tok *t)
{
	if (t->kind == TK_QUOTED) {
		const char *p;

		(void)buf_putc(b, '"');
		for (p = t->text; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				(void)buf_putc(b, '\\');
			(void)buf_putc(b, *p);
		}
		(void)buf_putc(b, '"');
	} else if (t->kind == TK_SPECIAL) {
		(void)buf_putc(b, t->ch);
	} else {
		(void)buf_puts(b, t->text);
	}
}

/* addr_spec - split tokens [i, j) at the last '@' into local/domain. */
static void
addr_spec(struct addr *a, const struct tok *t, size_t i, size_t j)
{
	size_t at = j, k;

	for (k = i; k < j; k++)
		if (t[k].kind == TK_SPECIAL && t[k].ch == '@')
			at = k;
	for (k = i; k < at; k++) {
		if (t[k].kind == TK_COMMENT) {
			a->comment = t[k].text;
			continue;
		}
		append_word(&a->local, &t[k]);
	}
	for (k = at + 1; k < j; k++) {
		if (t[k].kind == TK_COMMENT) {
			a->comment = t[k].text;
			continue;
		}
		append_word(&a->domain, &t[k]);
	}
}

/* put_addresses - an address list as a parenthesized list, or NIL. */
static void
put_addresses(struct buf *o, const char *value)
{
	struct tok *t;
	struct addr a;
	size_t n, i = 0;
	bool any = false, in_group = false;
	unsigned count = 0;

	if (value == NULL) {
		(void)buf_puts(o, "NIL");
		return;
	}
	t = tokenize(value, &n);
	memset(&a, 0, sizeof(a));
	while (i < n && count < 1000) {
		size_t start = i, j;
		bool angle = false;

		/* Find the end of this mailbox: ',' ';' ':' or '<'. */
		for (j = i; j < n; j++) {
			if (t[j].kind != TK_SPECIAL)
				continue;
			if (t[j].ch == ',' || t[j].ch == ';' || t[j].ch == '<')
				break;
			if (t[j].ch == ':' && !in_group)
				break;
		}
		addr_reset(&a);
		if (j < n && t[j].kind == TK_SPECIAL && t[j].ch == ':') {
			/* Group start: the phrase is the group name. */
			struct buf g = BUF_INIT(0);
			size_t k;

			for (k = start; k < j; k++) {
				if (t[k].kind == TK_COMMENT)
					continue;
				if (g.len > 0)
					(void)buf_putc(&g, ' ');
				if (t[k].kind == TK_SPECIAL)
					(void)buf_putc(&g, t[k].ch);
				else
					(void)buf_puts(&g, t[k].text);
			}
			if (!any)
				(void)buf_putc(o, '(');
			any = true;
			(void)buf_puts(o, "(NIL NIL ");
			put_nstring(o, g.len ? buf_cstr(&g) : "");
			(void)buf_puts(o, " NIL)");
			buf_free(&g);
			in_group = true;
			i = j + 1;
			count++;
			continue;
		}
		if (j < n && t[j].ch == '<' && t[j].kind == TK_SPECIAL) {
			size_t k, close, colon = j;

			angle = true;
			for (k = start; k < j; k++) {
				if (t[k].kind == TK_COMMENT)
					continue;
				if (a.name.len > 0)
					(void)buf_putc(&a.name, ' ');
				if (t[k].kind == TK_SPECIAL)
					(void)buf_putc(&a.name, t[k].ch);
				else
					(void)buf_puts(&a.name, t[k].text);
				a.have_name = true;
			}
			for (close = j + 1; close < n; close++)
				if (t[close].kind == TK_SPECIAL &&
				    t[close].ch == '>')
					break;
			/* Source route "@a,@b:" before the addr-spec. */
			for (k = j + 1; k < close; k++)
				if (t[k].kind == TK_SPECIAL && t[k].ch == ':')
					colon = k;
			if (colon != j) {
				for (k = j + 1; k < colon; k++)
					append_word(&a.route, &t[k]);
			}
			addr_spec(&a, t, (colon != j ? colon : j) + 1, close);
			j = close < n ? close + 1 : n;
			/* Skip to the separator. */
			while (j < n && !(t[j].kind == TK_SPECIAL &&
			    (t[j].ch == ',' || t[j].ch == ';')))
				j++;
		} else {
			addr_spec(&a, t, start, j);
		}
		(void)angle;
		put_addr(o, &a, &any);
		count++;
		if (j < n && t[j].kind == TK_SPECIAL && t[j].ch == ';' &&
		    in_group) {
			if (!any)
				(void)buf_putc(o, '(');
			any = true;
			(void)buf_puts(o, "(NIL NIL NIL NIL)");
			in_group = false;
		}
		i = j + 1;
	}
	if (in_group) {
		(void)buf_puts(o, "(NIL NIL NIL NIL)");
	}
	addr_reset(&a);
	toks_free(t, n);
	(void)buf_puts(o, any ? ")" : "NIL");
}

static void
put_envelope(struct buf *o, const struct hdr *h)
{
	(void)buf_putc(o, '(');
	put_nstring(o, h->date);
	(void)buf_putc(o, ' ');
	put_nstring(o, h->subject);
	(void)buf_putc(o, ' ');
	put_addresses(o, h->from);
	(void)buf_putc(o, ' ');
	/* RFC 3501: sender and reply-to default to from. */
	put_addresses(o, h->sender && h->sender[0] ? h->sender : h->from);
	(void)buf_putc(o, ' ');
	put_addresses(o, h->reply_to && h->reply_to[0] ? h->reply_to : h->from);
	(void)buf_putc(o, ' ');
	put_addresses(o, h->to);
	(void)buf_putc(o, ' ');
	put_addresses(o, h->cc);
	(void)buf_putc(o, ' ');
	put_addresses(o, h->bcc);
	(void)buf_putc(o, ' ');
	put_nstring(o, h->in_reply_to);
	(void)buf_putc(o, ' ');
	put_nstring(o, h->message_id);
	(void)buf_putc(o, ')');
}

/* put_language - Content-Language: NIL, a string or a list. */
static void
put_language(struct buf *o, const char *v)
{
	struct tok *t;
	size_t n, i, words = 0;

	if (v == NULL) {
		(void)buf_puts(o, "NIL");
		return;
	}
	t = tokenize(v, &n);
	for (i = 0; i < n; i++)
		if (t[i].kind == TK_WORD)
			words++;
	if (words == 0) {
		(void)buf_puts(o, "NIL");
	} else if (words == 1) {
		for (i = 0; i < n; i++)
			if (t[i].kind == TK_WORD)
				put_nstring(o, t[i].text);
	} else {
		bool first = true;

		(void)buf_putc(o, '(');
		for (i = 0; i < n; i++) {
			if (t[i].kind != TK_WORD)
				continue;
			if (!first)
				(void)buf_putc(o, ' ');
			first = false;
			put_nstring(o, t[i].text);
		}
		(void)buf_putc(o, ')');
	}
	toks_free(t, n);
}

static void
put_ext(struct buf *o, const struct node *nd)
{
	(void)buf_putc(o, ' ');
	if (nd->disp == NULL) {
		(void)buf_puts(o, "NIL");
	} else {
		(void)buf_putc(o, '(');
		put_nstring(o, nd->disp);
		(void)buf_putc(o, ' ');
		put_params(o, nd->dparams, nd->ndparams);
		(void)buf_putc(o, ')');
	}
	(void)buf_putc(o, ' ');
	put_language(o, nd->h.clang);
	(void)buf_putc(o, ' ');
	put_nstring(o, nd->h.cloc);
}

/* put_body - BODYSTRUCTURE (ext) or BODY of a node. */
static void
put_body(struct buf *o, const struct node *nd, bool ext)
{
	size_t i;

	(void)buf_putc(o, '(');
	if (nd->kind == SPOOL_PART_MULTIPART) {
		for (i = 0; i < nd->nkids; i++)
			put_body(o, nd->kids[i], ext);
		(void)buf_putc(o, ' ');
		put_nstring(o, nd->subtype);
		if (ext) {
			(void)buf_putc(o, ' ');
			put_params(o, nd->params, nd->nparams);
			put_ext(o, nd);
		}
		(void)buf_putc(o, ')');
		return;
	}
	put_nstring(o, nd->type);
	(void)buf_putc(o, ' ');
	put_nstring(o, nd->subtype);
	(void)buf_putc(o, ' ');
	put_params(o, nd->params, nd->nparams);
	(void)buf_putc(o, ' ');
	put_nstring(o, nd->h.cid);
	(void)buf_putc(o, ' ');
	put_nstring(o, nd->h.cdesc);
	(void)buf_putc(o, ' ');
	if (nd->h.cte != NULL && nd->h.cte[0] != '\0') {
		char *e = xstrdup(nd->h.cte);

		gms_lowercase(e);
		put_nstring(o, e);
		free(e);
	} else {
		put_nstring(o, "7bit");
	}
	(void)buf_printf(o, " %llu", (unsigned long long)nd->size);
	if (nd->kind == SPOOL_PART_MESSAGE) {
		(void)buf_putc(o, ' ');
		put_envelope(o, &nd->kids[0]->h);
		(void)buf_putc(o, ' ');
		put_body(o, nd->kids[0], ext);
		(void)buf_printf(o, " %llu", (unsigned long long)nd->lines);
	} else if (strcmp(nd->type, "text") == 0) {
		(void)buf_printf(o, " %llu", (unsigned long long)nd->lines);
	}
	if (ext) {
		(void)buf_putc(o, ' ');
		put_nstring(o, nd->h.cmd5);
		put_ext(o, nd);
	}
	(void)buf_putc(o, ')');
}

void
spool_cache_free(struct spool_cache *c)
{
	if (c == NULL)
		return;
	free(c->envelope);
	free(c->bodystructure);
	free(c->body);
	free(c->parts);
	memset(c, 0, sizeof(*c));
}

void
spool_mime_parse(const void *data, size_t len, uint32_t max_depth,
    uint32_t max_parts, struct spool_cache *c_r)
{
	struct mp mp;
	struct node *root;
	struct buf o = BUF_INIT(0);
	uint32_t idx;

	memset(c_r, 0, sizeof(*c_r));
	memset(&mp, 0, sizeof(mp));
	mp.b = data;
	mp.len = len;
	mp.max_depth = max_depth ? max_depth : 1;
	mp.max_parts = max_parts ? max_parts : 1;
	root = parse_entity(&mp, 0, len, 0, UINT32_MAX, false, false, &idx);
	put_envelope(&o, &root->h);
	c_r->envelope = buf_steal(&o);
	put_body(&o, root, true);
	c_r->bodystructure = buf_steal(&o);
	put_body(&o, root, false);
	c_r->body = buf_steal(&o);
	c_r->parts = mp.parts;
	c_r->nparts = mp.nparts;
	c_r->truncated = mp.truncated;
	node_free(root);
}

/* ------------------------------------------------------------------ */
/* Sections. */

/* child - the k-th (1-based) child of entry i, or UINT32_MAX. */
static uint32_t
child(const struct spool_part *p, size_t n, uint32_t i, uint32_t k)
{
	uint32_t seen = 0;
	size_t j;

	for (j = (size_t)i + 1; j < n; j++) {
		if (p[j].parent == i && ++seen == k)
			return (uint32_t)j;
		/* Descendants are contiguous: stop at the first entry
		 * outside i's subtree. */
		if (p[j].parent < i || p[j].parent == UINT32_MAX)
			break;
	}
	return UINT32_MAX;
}

int
spool_section_find(const struct spool_part *parts, size_t nparts,
    const uint32_t *path, size_t depth, int what, uint64_t *offset_r,
    uint64_t *size_r)
{
	uint32_t cur = 0, x = 0;
	size_t i;

	*offset_r = *size_r = 0;
	if (nparts == 0)
		return SPOOL_ENOENT;
	if (depth == 0) {
		const struct spool_part *r = &parts[0];

		switch (what) {
		case SPOOL_SECT_ALL:
			*offset_r = r->offset;
			*size_r = r->header_size + r->body_size;
			return SPOOL_OK;
		case SPOOL_SECT_HEADER:
			*offset_r = r->offset;
			*size_r = r->header_size;
			return SPOOL_OK;
		case SPOOL_SECT_TEXT:
			*offset_r = r->offset + r->header_size;
			*size_r = r->body_size;
			return SPOOL_OK;
		default:
			return SPOOL_EINVAL;
		}
	}
	for (i = 0; i < depth; i++) {
		uint32_t k = path[i];

		if (k == 0)
			return SPOOL_ENOENT;
		if (parts[cur].kind == SPOOL_PART_MULTIPART)
			x = child(parts, nparts, cur, k);
		else if (k == 1)
			x = cur;
		else
			return SPOOL_ENOENT;
		if (x == UINT32_MAX)
			return SPOOL_ENOENT;
		if (i + 1 < depth) {
			if (parts[x].kind == SPOOL_PART_MESSAGE) {
				cur = child(parts, nparts, x, 1);
				if (cur == UINT32_MAX)
					return SPOOL_ENOENT;
			} else if (parts[x].kind == SPOOL_PART_MULTIPART &&
			    x != cur) {
				cur = x;
			} else {
				return SPOOL_ENOENT;
			}
		}
	}
	switch (what) {
	case SPOOL_SECT_ALL:
		*offset_r = parts[x].offset + parts[x].header_size;
		*size_r = parts[x].body_size;
		return SPOOL_OK;
	case SPOOL_SECT_MIME:
		*offset_r = parts[x].offset;
		*size_r = parts[x].header_size;
		return SPOOL_OK;
	case SPOOL_SECT_HEADER:
	case SPOOL_SECT_TEXT: {
		uint32_t e;

		if (parts[x].kind != SPOOL_PART_MESSAGE)
			return SPOOL_EINVAL;
		e = child(parts, nparts, x, 1);
		if (e == UINT32_MAX)
			return SPOOL_ENOENT;
		if (what == SPOOL_SECT_HEADER) {
			*offset_r = parts[e].offset;
			*size_r = parts[e].header_size;
		} else {
			*offset_r = parts[e].offset + parts[e].header_size;
			*size_r = parts[e].body_size;
		}
		return SPOOL_OK;
	}
	default:
		return SPOOL_EINVAL;
	}
}

/* ------------------------------------------------------------------ */
/* RFC 2047. */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* decode_word - decode one encoded word's text into raw bytes. */
static int
decode_word(char enc, const char *p, size_t n, struct buf *raw)
{
	size_t i;

	if (enc == 'Q' || enc == 'q') {
		for (i = 0; i < n; i++) {
			if (p[i] == '_') {
				(void)buf_putc(raw, ' ');
			} else if (p[i] == '=' && i + 2 < n &&
			    hexval((unsigned char)p[i + 1]) >= 0 &&
			    hexval((unsigned char)p[i + 2]) >= 0) {
				(void)buf_putc(raw, hexval((unsigned char)p[i + 1]) * 16 +
				    hexval((unsigned char)p[i + 2]));
				i += 2;
			} else {
				(void)buf_putc(raw, p[i]);
			}
		}
		return 0;
	}
	if (enc == 'B' || enc == 'b') {
		uint32_t acc = 0;
		int bits = 0;

		for (i = 0; i < n; i++) {
			int v;

			if (p[i] == '=')
				break;
			if ((v = b64val((unsigned char)p[i])) < 0)
				return -1;
			acc = (acc << 6) | (uint32_t)v;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				(void)buf_putc(raw, (int)((acc >> bits) & 0xff));
			}
		}
		return 0;
	}
	return -1;
}

/* convert - charset bytes to UTF-8 appended to out; -1 if unknown. */
static int
convert(const char *charset, const struct buf *raw, struct buf *out)
{
	char cs[64];
	char *star;
	iconv_t cd;
	char *in = raw->data;
	size_t inleft = raw->len;

	if (gms_strlcpy(cs, charset, sizeof(cs)) < 0)
		return -1;
	if ((star = strchr(cs, '*')) != NULL)	/* RFC 2231 language */
		*star = '\0';
	if (gms_strcasecmp(cs, "us-ascii") == 0 ||
	    gms_strcasecmp(cs, "utf-8") == 0) {
		(void)buf_append(out, raw->data ? raw->data : "", raw->len);
		return 0;
	}
	cd = iconv_open("UTF-8", cs);
	if (cd == (iconv_t)-1)
		return -1;
	while (inleft > 0) {
		char tmp[512], *op = tmp;
		size_t outleft = sizeof(tmp);
		size_t r = iconv(cd, &in, &inleft, &op, &outleft);

		(void)buf_append(out, tmp, sizeof(tmp) - outleft);
		if (r == (size_t)-1) {
			if (errno == E2BIG)
				continue;
			/* Invalid byte: a replacement character, go on. */
			(void)buf_puts(out, "\xef\xbf\xbd");
			in++;
			inleft--;
		}
	}
	iconv_close(cd);
	return 0;
}

int
spool_mime_decode_header(const char *s, size_t len, struct buf *out)
{
	size_t i = 0, pending_ws = 0, ws_start = 0;
	bool last_encoded = false;

	while (i < len) {
		/* Try an encoded word at i: =?charset?X?text?= */
		if (s[i] == '=' && i + 1 < len && s[i + 1] == '?') {
			size_t q1, q2, q3;
			const char *cs;

			for (q1 = i + 2; q1 < len && s[q1] != '?' &&
			    !is_wsp((unsigned char)s[q1]); q1++)
				continue;
			q2 = q1 + 2;
			if (q1 < len && q2 < len && s[q2] == '?') {
				for (q3 = q2 + 1; q3 + 1 < len &&
				    !(s[q3] == '?' && s[q3 + 1] == '='); q3++)
					continue;
				if (q3 + 1 < len && q1 - (i + 2) < 64) {
					struct buf raw = BUF_INIT(0);
					char csbuf[64];
					struct buf tmp = BUF_INIT(0);

					memcpy(csbuf, s + i + 2, q1 - (i + 2));
					csbuf[q1 - (i + 2)] = '\0';
					cs = csbuf;
					if (decode_word(s[q1 + 1], s + q2 + 1,
					    q3 - (q2 + 1), &raw) == 0 &&
					    convert(cs, &raw, &tmp) == 0) {
						if (!last_encoded && pending_ws)
							(void)buf_append(out,
							    s + ws_start,
							    pending_ws);
						(void)buf_append(out, tmp.data ?
						    tmp.data : "", tmp.len);
						buf_free(&raw);
						buf_free(&tmp);
						pending_ws = 0;
						last_encoded = true;
						i = q3 + 2;
						continue;
					}
					buf_free(&raw);
					buf_free(&tmp);
				}
			}
		}
		if (is_wsp((unsigned char)s[i])) {
			if (pending_ws == 0)
				ws_start = i;
			pending_ws++;
			i++;
			continue;
		}
		if (pending_ws) {
			(void)buf_append(out, s + ws_start, pending_ws);
			pending_ws = 0;
		}
		last_encoded = false;
		if (buf_putc(out, s[i]) < 0)
			return SPOOL_ELIMIT;
		i++;
	}
	if (pending_ws)
		(void)buf_append(out, s + ws_start, pending_ws);
	if (out->max != 0 && out->len >= out->max)
		return SPOOL_ELIMIT;
	return SPOOL_OK;
}
