/*
 * cmd-fetch.c - FETCH and UID FETCH (RFC 9051 6.4.5) with every item:
 * FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODY, BODYSTRUCTURE (from
 * the store's cached strings, never by re-parsing), BODY[section]<partial>
 * and BODY.PEEK, RFC822, RFC822.HEADER, RFC822.TEXT, BINARY[] and
 * BINARY.SIZE (RFC 3516), MODSEQ and the CHANGEDSINCE / VANISHED modifiers
 * (RFC 7162), and the macros ALL, FAST, FULL.
 *
 * Bodies are streamed: a section that is a plain byte range of the stored
 * message goes out in 64 KiB reads from the store, so a 20 MB message
 * never sits in memory.  Only HEADER.FIELDS and decoded BINARY sections
 * are built in a bounded buffer first.  The cached MIME data (ENVELOPE,
 * BODYSTRUCTURE, the part table) is read FETCH_BATCH messages at a time
 * in one transaction with spool_view_cache_many().
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imapd/imapd.h"
#include "spool/spool.h"

#define FETCH_ITEMS_MAX		64
#define FETCH_CHUNK		65536
/* Messages whose cached MIME data is read in one transaction. */
#define FETCH_BATCH		64
/* Responses gathered before they go to the connection: many FETCH lines
 * per write instead of one call per message. */
#define FETCH_OUT_FLUSH		16384

enum fi_kind {
	FI_UID = 0,
	FI_FLAGS,
	FI_INTERNALDATE,
	FI_SIZE,
	FI_ENVELOPE,
	FI_BODY,
	FI_BODYSTRUCTURE,
	FI_MODSEQ,
	FI_SECTION,
};

struct fetch_item {
	enum fi_kind		kind;
	struct fetch_section	fs;
};

struct fetch_req {
	struct fetch_item	items[FETCH_ITEMS_MAX];
	size_t			n;
	bool			need_cache;
	bool			set_seen;
	bool			has_uid, has_flags, has_modseq;
	bool			has_section;	/* may stream (flush) */
	uint64_t		changedsince;
	bool			has_changedsince;
	bool			vanished;
};

/* add_item - append a simple item. */
static int
add_item(struct imap_parser *p, struct fetch_req *r, enum fi_kind k)
{
	if (r->n == FETCH_ITEMS_MAX)
		return imap_p_fail(p, IMAP_CODE_LIMIT, "Too many FETCH items");
	memset(&r->items[r->n], 0, sizeof(r->items[0]));
	r->items[r->n].kind = k;
	r->n++;
	switch (k) {
	case FI_UID:		r->has_uid = true; break;
	case FI_FLAGS:		r->has_flags = true; break;
	case FI_MODSEQ:		r->has_modseq = true; break;
	case FI_SECTION:	r->has_section = true; break;
	case FI_ENVELOPE:
	case FI_BODY:
	case FI_BODYSTRUCTURE:	r->need_cache = true; break;
	default:		break;
	}
	return 0;
}

/* add_section - append a section item for the RFC822 forms. */
static int
add_rfc822(struct imap_parser *p, struct fetch_req *r, int what, bool peek,
    const char *label)
{
	struct fetch_section *fs;

	if (add_item(p, r, FI_SECTION) < 0)
		return -1;
	fs = &r->items[r->n - 1].fs;
	fs->what = what;
	fs->peek = peek;
	fs->label = arena_strdup(p->arena, label);
	if (what != SPOOL_SECT_ALL)
		r->need_cache = true;
	if (!peek)
		r->set_seen = true;
	return 0;
}

/* p_att - one fetch-att (macros only when top is true). */
static int
p_att(struct imap_parser *p, struct fetch_req *r, bool top)
{
	char name[32];
	size_t n = 0;
	struct fetch_section *fs;
	const char *prefix;

	while (n < p->c.left && n < sizeof(name) - 1) {
		char ch = p->c.p[n];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '.'))
			break;
		name[n] = ch;
		n++;
	}
	name[n] = '\0';
	if (n == 0)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
		    "Expected a FETCH item");
	cur_skip(&p->c, n);
	if (imap_p_peek(p, '[')) {
		bool peek = false, binary = false, size = false;

		if (gms_strcasecmp(name, "BODY") == 0)
			;
		else if (gms_strcasecmp(name, "BODY.PEEK") == 0)
			peek = true;
		else if (gms_strcasecmp(name, "BINARY") == 0)
			binary = true;
		else if (gms_strcasecmp(name, "BINARY.PEEK") == 0)
			binary = peek = true;
		else if (gms_strcasecmp(name, "BINARY.SIZE") == 0)
			binary = size = true;
		else
			return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "Unknown FETCH item");
		if (add_item(p, r, FI_SECTION) < 0)
			return -1;
		fs = &r->items[r->n - 1].fs;
		prefix = size ? "BINARY.SIZE" : binary ? "BINARY" : "BODY";
		if (fetch_p_section(p, prefix, fs) < 0)
			return -1;
		fs->peek = peek || size;
		fs->binary = binary;
		fs->binary_size = size;
		if (size && fs->partial)
			return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "BINARY.SIZE takes no partial");
		if (fs->depth > 0 || fs->what != SPOOL_SECT_ALL || binary)
			r->need_cache = true;
		if (!fs->peek)
			r->set_seen = true;
		return 0;
	}
	if (top && gms_strcasecmp(name, "ALL") == 0)
		return add_item(p, r, FI_FLAGS) < 0 ||
		    add_item(p, r, FI_INTERNALDATE) < 0 ||
		    add_item(p, r, FI_SIZE) < 0 ||
		    add_item(p, r, FI_ENVELOPE) < 0 ? -1 : 0;
	if (top && gms_strcasecmp(name, "FAST") == 0)
		return add_item(p, r, FI_FLAGS) < 0 ||
		    add_item(p, r, FI_INTERNALDATE) < 0 ||
		    add_item(p, r, FI_SIZE) < 0 ? -1 : 0;
	if (top && gms_strcasecmp(name, "FULL") == 0)
		return add_item(p, r, FI_FLAGS) < 0 ||
		    add_item(p, r, FI_INTERNALDATE) < 0 ||
		    add_item(p, r, FI_SIZE) < 0 ||
		    add_item(p, r, FI_ENVELOPE) < 0 ||
		    add_item(p, r, FI_BODY) < 0 ? -1 : 0;
	if (gms_strcasecmp(name, "UID") == 0)
		return add_item(p, r, FI_UID);
	if (gms_strcasecmp(name, "FLAGS") == 0)
		return add_item(p, r, FI_FLAGS);
	if (gms_strcasecmp(name, "INTERNALDATE") == 0)
		return add_item(p, r, FI_INTERNALDATE);
	if (gms_strcasecmp(name, "RFC822.SIZE") == 0)
		return add_item(p, r, FI_SIZE);
	if (gms_strcasecmp(name, "ENVELOPE") == 0)
		return add_item(p, r, FI_ENVELOPE);
	if (gms_strcasecmp(name, "BODY") == 0)
		return add_item(p, r, FI_BODY);
	if (gms_strcasecmp(name, "BODYSTRUCTURE") == 0)
		return add_item(p, r, FI_BODYSTRUCTURE);
	if (gms_strcasecmp(name, "MODSEQ") == 0)
		return add_item(p, r, FI_MODSEQ);
	if (gms_strcasecmp(name, "RFC822") == 0)
		return add_rfc822(p, r, SPOOL_SECT_ALL, false, "RFC822");
	if (gms_strcasecmp(name, "RFC822.HEADER") == 0)
		return add_rfc822(p, r, SPOOL_SECT_HEADER, true,
		    "RFC822.HEADER");
	if (gms_strcasecmp(name, "RFC822.TEXT") == 0)
		return add_rfc822(p, r, SPOOL_SECT_TEXT, false, "RFC822.TEXT");
	return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Unknown FETCH item");
}

/* p_modifiers - "(" CHANGEDSINCE n [SP VANISHED] ")". */
static int
p_modifiers(struct imapd_session *s, struct imap_parser *p,
    struct fetch_req *r)
{
	char *name;

	if (imap_p_list_begin(p) < 0)
		return -1;
	for (;;) {
		if (imap_p_atom(p, &name) < 0)
			return -1;
		if (gms_strcasecmp(name, "CHANGEDSINCE") == 0) {
			if (imap_p_sp(p) < 0 ||
			    imap_p_number64(p, &r->changedsince) < 0)
				return -1;
			r->has_changedsince = true;
		} else if (gms_strcasecmp(name, "VANISHED") == 0) {
			if (!s->uid || !(s->enabled & IMAPD_EN_QRESYNC))
				return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
				    "VANISHED needs UID FETCH and QRESYNC");
			r->vanished = true;
		} else
			return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "Unknown FETCH modifier");
		if (!imap_p_accept(p, ' '))
			break;
	}
	if (r->vanished && !r->has_changedsince)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
		    "VANISHED needs CHANGEDSINCE");
	return imap_p_list_end(p);
}

/* put_internaldate - "dd-Mon-yyyy hh:mm:ss +zzzz" in the stored zone. */
static void
put_internaldate(struct buf *b, const struct spool_msg *m)
{
	static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)(m->internal_date + (int64_t)m->tz_offset * 60);
	int tz = m->tz_offset < 0 ? -m->tz_offset : m->tz_offset;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	(void)buf_printf(b, "\"%02d-%s-%04d %02d:%02d:%02d %c%02d%02d\"",
	    tm.tm_mday, mon[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, m->tz_offset < 0 ? '-' : '+', tz / 60,
	    tz % 60);
}

/* flush_out - move the buffered response to the connection. */
static int
flush_out(struct imapd_session *s, struct buf *out)
{
	int r = imapd_write_buf(s, out);

	buf_reset(out);
	return r;
}

/* stream_range - write len bytes of the body at off. */
static int
stream_range(struct imapd_session *s, struct spool_body *body, uint64_t off,
    uint64_t len, char *chunk)
{
	size_t got;
	int r;

	while (len > 0) {
		size_t want = len > FETCH_CHUNK ? FETCH_CHUNK : (size_t)len;

		r = spool_body_read(body, off, chunk, want, &got);
		if (r != SPOOL_OK || got == 0) {
			/* The literal's size is promised: pad, then fail. */
			log_warnx("body read failed user=%s err=%s", s->user,
			    spool_err_name(r));
			memset(chunk, ' ', want);
			while (len > 0) {
				want = len > FETCH_CHUNK ? FETCH_CHUNK :
				    (size_t)len;
				if (conn_write(s->conn, chunk, want) < 0)
					return -1;
				len -= want;
			}
			return -1;
		}
		if (conn_write(s->conn, chunk, got) < 0)
			return -1;
		off += got;
		len -= got;
	}
	return 0;
}

/* part_index - the part table entry a section path addresses, or -1. */
static ssize_t
part_index(const struct spool_cache *c, const uint32_t *path, size_t depth)
{
	size_t cur = 0, lvl, j, k;

	if (c->nparts == 0)
		return -1;
	for (lvl = 0; lvl < depth; lvl++) {
		size_t ent = cur;

		if (lvl > 0 && c->parts[ent].kind == SPOOL_PART_MESSAGE) {
			for (j = ent + 1; j < c->nparts; j++)
				if (c->parts[j].parent == ent)
					break;
			if (j == c->nparts)
				return -1;
			ent = j;
		}
		if (c->parts[ent].kind == SPOOL_PART_MULTIPART) {
			for (j = ent + 1, k = 0; j < c->nparts; j++)
				if (c->parts[j].parent == ent && ++k ==
				    path[lvl])
					break;
			if (j == c->nparts)
				return -1;
			cur = j;
		} else {
			if (path[lvl] != 1)
				return -1;
			cur = ent;
		}
	}
	return (ssize_t)cur;
}

/* put_section - one BODY[...] / BINARY[...] / RFC822* item. */
static int
put_section(struct imapd_session *s, struct buf *out, uint32_t uid,
    const struct fetch_section *fs, const struct spool_cache *c,
    struct spool_body **bodyp, char *chunk, int *err_r)
{
	struct buf data = BUF_INIT((size_t)conf_int(s->conf,
	    "imapd.literal_max"));
	uint64_t off = 0, len = 0, size;
	bool inmem = false, lit8 = false;
	int r, what;
	ssize_t pi;

	if (*bodyp == NULL) {
		r = spool_body_open(s->sel->view, uid, bodyp);
		if (r != SPOOL_OK) {
			*err_r = r;
			return -1;
		}
	}
	size = spool_body_size(*bodyp);
	what = fs->what == FS_HEADER_FIELDS || fs->what ==
	    FS_HEADER_FIELDS_NOT ? SPOOL_SECT_HEADER : fs->what;
	if (fs->depth == 0 && what == SPOOL_SECT_ALL) {
		off = 0;
		len = size;
	} else if (c == NULL || spool_section_find(c->parts, c->nparts,
	    fs->path, fs->depth, what, &off, &len) != SPOOL_OK) {
		off = len = 0;
	}
	if (off > size || len > size - off)
		off = len = 0;
	if (what != fs->what) {
		struct buf hdr = BUF_INIT(16 * 1024 * 1024);

		(void)spool_body_get(*bodyp, off, len, &hdr);
		(void)fetch_header_filter(&data, hdr.data != NULL ? hdr.data :
		    "", hdr.len, fs->fields, fs->nfields,
		    fs->what == FS_HEADER_FIELDS_NOT);
		buf_free(&hdr);
		inmem = true;
	} else if (fs->binary && c != NULL && len > 0) {
		pi = part_index(c, fs->path, fs->depth);
		if (pi >= 0 && (c->parts[pi].encoding == SPOOL_ENC_BASE64 ||
		    c->parts[pi].encoding == SPOOL_ENC_QP)) {
			struct buf raw = BUF_INIT(data.max);

			if (spool_body_get(*bodyp, off, len, &raw) != SPOOL_OK)
				r = -1;
			else if (c->parts[pi].encoding == SPOOL_ENC_BASE64)
				r = fetch_b64_decode(&data, raw.data != NULL ?
				    raw.data : "", raw.len);
			else
				r = fetch_qp_decode(&data, raw.data != NULL ?
				    raw.data : "", raw.len);
			buf_free(&raw);
			if (r < 0) {
				buf_free(&data);
				*err_r = SPOOL_EINVAL;
				return -1;
			}
			inmem = true;
		} else if (pi >= 0 && c->parts[pi].encoding ==
		    SPOOL_ENC_OTHER) {
			buf_free(&data);
			*err_r = SPOOL_EINVAL;
			return -1;
		}
	}
	if (inmem) {
		off = 0;
		len = data.len;
		lit8 = fs->binary && data.len > 0 &&
		    memchr(data.data, '\0', data.len) != NULL;
	} else if (fs->binary && len > 0) {
		/* A binary body sent unchanged may hold NUL. */
		lit8 = true;
	}
	if (fs->binary_size) {
		(void)buf_printf(out, "%s %llu", fs->label,
		    (unsigned long long)len);
		buf_free(&data);
		return 0;
	}
	/* The partial range applies to the (decoded) section. */
	if (fs->partial) {
		uint64_t o = fs->off > len ? len : fs->off;
		uint64_t l = fs->len > len - o ? len - o : fs->len;

		off += o;
		len = l;
		(void)buf_printf(out, "%s<%llu> ", fs->label,
		    (unsigned long long)fs->off);
	} else
		(void)buf_printf(out, "%s ", fs->label);
	(void)buf_printf(out, "%s{%llu}\r\n", lit8 ? "~" : "",
	    (unsigned long long)len);
	if (inmem) {
		(void)buf_append(out, data.data + off, (size_t)len);
		buf_free(&data);
		return 0;
	}
	buf_free(&data);
	if (len == 0)
		return 0;
	if (flush_out(s, out) < 0)
		return -1;
	if (stream_range(s, *bodyp, off, len, chunk) < 0) {
		*err_r = SPOOL_EIO;
		return -1;
	}
	return 0;
}

/* fetch_one - append the FETCH response for the view row idx to out.
 * pre: its cached MIME data read ahead by the caller (pre_err its
 * status), or NULL to read it here when needed.  Only a section item
 * writes to the connection (out first, then the streamed body); without
 * one, a failure (the cached data unreadable) comes before anything is
 * appended. */
static int
fetch_one(struct imapd_session *s, struct fetch_req *rq, size_t idx,
    bool add_flags, struct buf *out, char *chunk, int *err_r,
    const struct spool_cache *pre, int pre_err)
{
	const struct spool_msg *m = spool_view_msg(s->sel->view, idx);
	struct spool_cache own;
	const struct spool_cache *cp = NULL;
	struct spool_body *body = NULL;
	const char *sp = "";
	bool have_cache = false;
	size_t i;
	int r = 0;

	if (rq->need_cache && pre != NULL) {
		if (pre_err != SPOOL_OK) {
			*err_r = pre_err;
			return -1;
		}
		cp = pre;
	} else if (rq->need_cache) {
		memset(&own, 0, sizeof(own));
		r = spool_view_cache(s->sel->view, m->uid, &own);
		if (r != SPOOL_OK) {
			*err_r = r;
			return -1;
		}
		have_cache = true;
		cp = &own;
	}
	(void)buf_puts(out, "* ");
	(void)buf_putu64(out, idx + 1);
	(void)buf_puts(out, " FETCH (");
	if (s->uid && !rq->has_uid) {
		(void)buf_puts(out, "UID ");
		(void)buf_putu64(out, m->uid);
		sp = " ";
	}
	for (i = 0; i < rq->n && r == 0; i++) {
		struct fetch_item *it = &rq->items[i];

		(void)buf_puts(out, sp);
		sp = " ";
		switch (it->kind) {
		case FI_UID:
			(void)buf_puts(out, "UID ");
			(void)buf_putu64(out, m->uid);
			break;
		case FI_FLAGS:
			(void)buf_puts(out, "FLAGS ");
			(void)imapd_put_flags(s, out, m);
			break;
		case FI_INTERNALDATE:
			(void)buf_puts(out, "INTERNALDATE ");
			put_internaldate(out, m);
			break;
		case FI_SIZE:
			(void)buf_puts(out, "RFC822.SIZE ");
			(void)buf_putu64(out, m->size);
			break;
		case FI_ENVELOPE:
			(void)buf_puts(out, "ENVELOPE ");
			(void)buf_puts(out, cp->envelope ? cp->envelope :
			    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
			break;
		case FI_BODY:
			(void)buf_puts(out, "BODY ");
			(void)buf_puts(out, cp->body ? cp->body : "NIL");
			break;
		case FI_BODYSTRUCTURE:
			(void)buf_puts(out, "BODYSTRUCTURE ");
			(void)buf_puts(out, cp->bodystructure ?
			    cp->bodystructure : "NIL");
			break;
		case FI_MODSEQ:
			(void)buf_puts(out, "MODSEQ (");
			(void)buf_putu64(out, m->modseq);
			(void)buf_putc(out, ')');
			break;
		case FI_SECTION:
			r = put_section(s, out, m->uid, &it->fs, cp, &body,
			    chunk, err_r);
			break;
		default:
			panic("fetch item %d", (int)it->kind);
		}
	}
	if (r == 0 && add_flags && !rq->has_flags) {
		(void)buf_puts(out, sp);
		(void)buf_puts(out, "FLAGS ");
		(void)imapd_put_flags(s, out, m);
	}
	if (r == 0 && (s->enabled & IMAPD_EN_CONDSTORE) && !rq->has_modseq &&
	    (add_flags || rq->has_changedsince)) {
		(void)buf_puts(out, " MODSEQ (");
		(void)buf_putu64(out, m->modseq);
		(void)buf_putc(out, ')');
	}
	if (r == 0)
		(void)buf_append(out, ")\r\n", 3);
	if (body != NULL)
		spool_body_close(&body);
	if (have_cache)
		spool_cache_free(&own);
	return r < 0 ? -1 : 0;
}

/* send_vanished - VANISHED (EARLIER) for UID FETCH (VANISHED). */
static void
send_vanished(struct imapd_session *s, struct seqset *set, uint64_t modseq)
{
	struct spool_changes ch;
	struct spool_uidlist gone = { NULL, 0, 0 };
	struct buf b = BUF_INIT(0);
	size_t i;

	memset(&ch, 0, sizeof(ch));
	if (spool_changes_since(s->sel->view, modseq, &ch) != SPOOL_OK)
		return;
	for (i = 0; i < ch.expunged.n; i++)
		if (seqset_contains(set, ch.expunged.v[i]))
			spool_uidlist_add(&gone, ch.expunged.v[i]);
	if (gone.n > 0) {
		(void)buf_puts(&b, "* VANISHED (EARLIER) ");
		(void)seqset_format_list(&b, gone.v, gone.n);
		(void)buf_puts(&b, "\r\n");
		(void)imapd_write_buf(s, &b);
	}
	buf_free(&b);
	spool_uidlist_free(&gone);
	spool_changes_free(&ch);
}

int
cmd_fetch(struct imapd_session *s, struct imap_parser *p)
{
	struct fetch_req *rq;
	struct seqset set;
	struct buf out = BUF_INIT(0);
	struct spool_uidlist seen = { NULL, 0, 0 };
	bool *mark;
	size_t *idx, i, olen;
	ssize_t n;
	char *chunk;
	struct spool_cache *pre = NULL;
	int *pre_err = NULL;
	size_t bstart = 0, bn = 0;
	int err = SPOOL_OK, r = 0;

	rq = arena_alloc(&s->arena, sizeof(*rq));
	if (imap_p_sp(p) < 0 || imap_p_seqset(p, true, &set) < 0 ||
	    imap_p_sp(p) < 0)
		return CMD_BAD;
	if (imap_p_peek(p, '(')) {
		if (imap_p_list_begin(p) < 0)
			return CMD_BAD;
		for (;;) {
			if (p_att(p, rq, false) < 0)
				return CMD_BAD;
			if (!imap_p_accept(p, ' '))
				break;
		}
		if (imap_p_list_end(p) < 0)
			return CMD_BAD;
	} else if (p_att(p, rq, true) < 0)
		return CMD_BAD;
	if (imap_p_accept(p, ' ') && p_modifiers(s, p, rq) < 0)
		return CMD_BAD;
	if (imap_p_eol(p) < 0)
		return CMD_BAD;
	if (rq->has_modseq || rq->has_changedsince)
		s->enabled |= IMAPD_EN_CONDSTORE;
	if (rq->has_changedsince && !rq->has_modseq)
		(void)add_item(p, rq, FI_MODSEQ);
	n = imapd_set_indexes(s, &set, s->uid, &idx);
	if (n < 0)
		return cmd_bad(s, "CLIENTBUG", "Invalid message sequence "
		    "number");
	if (n > conf_int(s->conf, "imapd.fetch_max_messages"))
		return cmd_no(s, "LIMIT", "Too many messages");
	if (rq->vanished)
		send_vanished(s, &set, rq->changedsince);
	mark = arena_alloc(&s->arena, (size_t)n + 1);
	/* \Seen first, in one transaction, so FLAGS below are current. */
	if (rq->set_seen && !s->sel->readonly) {
		for (i = 0; i < (size_t)n; i++) {
			const struct spool_msg *m = spool_view_msg(s->sel->view,
			    idx[i]);

			if (!(m->flags & SPOOL_F_SEEN)) {
				spool_uidlist_add(&seen, m->uid);
				mark[i] = true;
			}
		}
		if (seen.n > 0 && (err = spool_store(s->sel->view, seen.v,
		    seen.n, SPOOL_STORE_ADD, SPOOL_F_SEEN, NULL, 0, 0, NULL,
		    NULL)) != SPOOL_OK)
			log_warnx("cannot set \\Seen user=%s err=%s", s->user,
			    spool_err_name(err));
		spool_uidlist_free(&seen);
		err = SPOOL_OK;
	}
	chunk = xmalloc(FETCH_CHUNK);
	if (rq->need_cache) {
		pre = xcalloc(FETCH_BATCH, sizeof(*pre));
		pre_err = xcalloc(FETCH_BATCH, sizeof(*pre_err));
	}
	for (i = 0; i < (size_t)n; i++) {
		const struct spool_msg *m = spool_view_msg(s->sel->view,
		    idx[i]);

		if (rq->has_changedsince && m->modseq <= rq->changedsince)
			continue;
		if (pre != NULL && (i >= bstart + bn || bn == 0)) {
			/* Read the MIME data of the next batch at once. */
			uint32_t uids[FETCH_BATCH];
			size_t k;

			for (k = 0; k < bn; k++)
				spool_cache_free(&pre[k]);
			bstart = i;
			bn = (size_t)n - i < FETCH_BATCH ? (size_t)n - i :
			    FETCH_BATCH;
			for (k = 0; k < bn; k++)
				uids[k] = spool_view_msg(s->sel->view,
				    idx[i + k])->uid;
			(void)spool_view_cache_many(s->sel->view, uids, bn, pre,
			    pre_err);
		}
		/* Without sections the lines gather in out and go out every
		 * FETCH_OUT_FLUSH bytes; a section may stream, so its
		 * message starts and ends with an empty out. */
		if (rq->has_section && out.len > 0 && flush_out(s, &out) < 0) {
			r = -1;
			break;
		}
		olen = out.len;
		if (fetch_one(s, rq, idx[i], mark[i], &out, chunk, &err,
		    pre != NULL ? &pre[i - bstart] : NULL,
		    pre != NULL ? pre_err[i - bstart] : SPOOL_OK) < 0) {
			/* Drop this message's partial response. */
			if (rq->has_section)
				buf_reset(&out);
			else if (out.data != NULL) {
				out.len = olen;
				out.data[olen] = '\0';
			}
			if (err == SPOOL_EEXPUNGED) {
				/* Gone meanwhile: skip it, say so at the end. */
				r = 1;
				continue;
			}
			r = -1;
			break;
		}
		if ((rq->has_section || out.len >= FETCH_OUT_FLUSH) &&
		    flush_out(s, &out) < 0) {
			r = -1;
			break;
		}
	}
	/* The complete responses gathered before the end or an error. */
	if (out.len > 0 && flush_out(s, &out) < 0 && r == 0)
		r = -1;
	free(chunk);
	if (pre != NULL) {
		for (i = 0; i < bn; i++)
			spool_cache_free(&pre[i]);
		free(pre);
		free(pre_err);
	}
	buf_free(&out);
	if (r == 1)
		return cmd_no(s, "EXPUNGEISSUED", "Some messages were "
		    "expunged meanwhile");
	if (r < 0 && err == SPOOL_EINVAL)
		return cmd_no(s, "UNKNOWN-CTE", "Cannot decode the content");
	if (r < 0)
		return cmd_spool_error(s, err != SPOOL_OK ? err : SPOOL_EIO,
		    "fetch");
	return cmd_ok(s, NULL, "FETCH completed");
}
