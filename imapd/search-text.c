/*
 * search-text.c - the text side of SEARCH: Unicode simple case folding
 * (a compact table of the CaseFolding.txt "C" and "S" mappings for Latin,
 * Greek, Cyrillic, Armenian and the fullwidth forms; no locale is
 * involved), charset conversion to UTF-8 through iconv(3), the Content-Type
 * of a MIME part, and a streaming matcher that takes a part's raw body in
 * chunks of any size and undoes its transfer encoding (base64, quoted-
 * printable), converts its charset to UTF-8, folds case and looks for a
 * folded needle.  Each stage keeps only a few bytes of state between
 * chunks, so the memory used is bounded whatever the size of the part
 * (the needle's length plus fixed buffers), and the time is linear in the
 * part (memmem over each folded chunk with the needle's length of
 * overlap).  Pure functions: the unit tests link them without a spool.
 */
#include "config.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#include "imapd/imapd.h"

/* ------------------------------------------------------------------ */
/* Case folding. */

uint32_t
stext_fold_cp(uint32_t c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 32 : c;
	if (c < 0x100) {
		if (c == 0xB5)
			return 0x3BC;		/* MICRO SIGN -> mu */
		if ((c >= 0xC0 && c <= 0xD6) || (c >= 0xD8 && c <= 0xDE))
			return c + 32;
		return c;
	}
	if (c < 0x180) {			/* Latin Extended-A */
		if (c == 0x130)
			return c;		/* no simple folding */
		if (c == 0x178)
			return 0xFF;
		if (c == 0x17F)
			return 's';
		if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
			return (c & 1) == 0 ? c + 1 : c;
		if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
			return (c & 1) == 1 ? c + 1 : c;
		return c;
	}
	if (c < 0x250) {		/* Latin Extended-B: the regular runs */
		if ((c >= 0x1A0 && c <= 0x1A5) || (c >= 0x1DE && c <= 0x1EF) ||
		    (c >= 0x1F8 && c <= 0x21F) || (c >= 0x222 && c <= 0x233) ||
		    (c >= 0x246 && c <= 0x24F))
			return (c & 1) == 0 ? c + 1 : c;
		if (c >= 0x1CD && c <= 0x1DC)
			return (c & 1) == 1 ? c + 1 : c;
		switch (c) {
		case 0x1C4: case 0x1C5: return 0x1C6;
		case 0x1C7: case 0x1C8: return 0x1C9;
		case 0x1CA: case 0x1CB: return 0x1CC;
		case 0x1F1: case 0x1F2: return 0x1F3;
		case 0x1F4: return 0x1F5;
		default: return c;
		}
	}
	if (c >= 0x370 && c < 0x400) {		/* Greek and Coptic */
		if (c >= 0x391 && c <= 0x3AB && c != 0x3A2)
			return c + 32;
		if (c >= 0x3D8 && c <= 0x3EF)
			return (c & 1) == 0 ? c + 1 : c;
		if (c >= 0x388 && c <= 0x38A)
			return c + 37;
		if (c >= 0x3FD && c <= 0x3FF)
			return c - 130;
		switch (c) {
		case 0x370: case 0x372: case 0x376: return c + 1;
		case 0x37F: return 0x3F3;
		case 0x386: return 0x3AC;
		case 0x38C: return 0x3CC;
		case 0x38E: case 0x38F: return c + 63;
		case 0x3C2: return 0x3C3;	/* final sigma */
		case 0x3CF: return 0x3D7;
		case 0x3D0: return 0x3B2;
		case 0x3D1: return 0x3B8;
		case 0x3D5: return 0x3C6;
		case 0x3D6: return 0x3C0;
		case 0x3F0: return 0x3BA;
		case 0x3F1: return 0x3C1;
		case 0x3F4: return 0x3B8;
		case 0x3F5: return 0x3B5;
		case 0x3F7: case 0x3FA: return c + 1;
		case 0x3F9: return 0x3F2;
		default: return c;
		}
	}
	if (c >= 0x400 && c < 0x530) {		/* Cyrillic (+ Supplement) */
		if (c <= 0x40F)
			return c + 80;
		if (c <= 0x42F)
			return c + 32;
		if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF) ||
		    (c >= 0x4D0 && c <= 0x52F))
			return (c & 1) == 0 ? c + 1 : c;
		if (c == 0x4C0)
			return 0x4CF;
		if (c >= 0x4C1 && c <= 0x4CE)
			return (c & 1) == 1 ? c + 1 : c;
		return c;
	}
	if (c >= 0x531 && c <= 0x556)		/* Armenian */
		return c + 48;
	if (c >= 0x1E00 && c <= 0x1EFF) {	/* Latin Extended Additional */
		if (c == 0x1E9B)
			return 0x1E61;
		if (c == 0x1E9E)
			return 0xDF;		/* capital sharp s */
		if (c <= 0x1E95 || c >= 0x1EA0)
			return (c & 1) == 0 ? c + 1 : c;
		return c;
	}
	switch (c) {
	case 0x2126: return 0x3C9;		/* OHM SIGN */
	case 0x212A: return 'k';		/* KELVIN SIGN */
	case 0x212B: return 0xE5;		/* ANGSTROM SIGN */
	default: break;
	}
	if (c >= 0xFF21 && c <= 0xFF3A)		/* fullwidth A-Z */
		return c + 32;
	return c;
}

/* put_utf8 - encode c at d (room for 4); returns the bytes written. */
static size_t
put_utf8(char *d, uint32_t c)
{
	if (c < 0x80) {
		d[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		d[0] = (char)(0xC0 | (c >> 6));
		d[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		d[0] = (char)(0xE0 | (c >> 12));
		d[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		d[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	d[0] = (char)(0xF0 | (c >> 18));
	d[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	d[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	d[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

/* get_utf8 - decode one sequence at s (n bytes available): returns its
 * length with *c_r, 0 when the sequence is valid so far but incomplete,
 * or -1 when s[0] does not start a valid sequence. */
static int
get_utf8(const unsigned char *s, size_t n, uint32_t *c_r)
{
	uint32_t c;
	size_t need, i;

	if (s[0] < 0x80) {
		*c_r = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		need = 2;
		c = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		need = 3;
		c = s[0] & 0x0F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		need = 4;
		c = s[0] & 0x07;
	} else
		return -1;
	for (i = 1; i < need; i++) {
		if (i >= n)
			return 0;
		if ((s[i] & 0xC0) != 0x80)
			return -1;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((need == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) ||
	    (need == 4 && (c < 0x10000 || c > 0x10FFFF)))
		return -1;
	*c_r = c;
	return (int)need;
}

/* fold_run - fold the complete sequences of s into out; returns how many
 * bytes of s were used (less than n only when s ends inside a sequence
 * and final is false).  Invalid bytes are copied as they are. */
static size_t
fold_run(struct buf *out, const char *s, size_t n, bool final, bool *fail)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char *d;
	size_t i = 0;

	/* No mapping of the table makes a sequence longer: n bytes of room
	 * are enough, written in place. */
	if (buf_reserve(out, n) < 0) {
		*fail = true;
		return n;
	}
	d = (unsigned char *)out->data + out->len;
	while (i < n) {
		uint32_t c;
		int l;

		/* The common case first: a run of ASCII. */
		while (i < n && u[i] < 0x80) {
			*d++ = (unsigned char)((unsigned int)u[i] - 'A' < 26u ?
			    u[i] + 32 : u[i]);
			i++;
		}
		if (i == n)
			break;
		l = get_utf8(u + i, n - i, &c);
		if (l == 0 && !final)
			break;
		if (l <= 0) {
			*d++ = u[i++];
			continue;
		}
		d += put_utf8((char *)d, stext_fold_cp(c));
		i += (size_t)l;
	}
	out->len = (size_t)((char *)d - out->data);
	out->data[out->len] = '\0';
	return i;
}

int
stext_fold(struct buf *out, const char *s, size_t len)
{
	bool fail = false;

	(void)fold_run(out, s, len, true, &fail);
	return fail ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Charsets. */

/* is_utf8_name - charsets that need no conversion. */
static bool
is_utf8_name(const char *cs)
{
	return gms_strcasecmp(cs, "UTF-8") == 0 ||
	    gms_strcasecmp(cs, "UTF8") == 0 ||
	    gms_strcasecmp(cs, "US-ASCII") == 0 ||
	    gms_strcasecmp(cs, "ASCII") == 0 ||
	    gms_strcasecmp(cs, "ANSI_X3.4-1968") == 0;
}

/* cs_open - an iconv descriptor from cs to UTF-8, or (iconv_t)-1 for an
 * unknown name or one that is not a plain charset name. */
static iconv_t
cs_open(const char *cs)
{
	size_t i;

	/* iconv also takes "//TRANSLIT" and the like: names only. */
	for (i = 0; cs[i] != '\0'; i++)
		if (cs[i] == '/' || cs[i] == ',' || (unsigned char)cs[i] <= ' ')
			return (iconv_t)-1;
	if (i == 0 || i > 64)
		return (iconv_t)-1;
	return iconv_open("UTF-8", cs);
}

bool
stext_charset_known(const char *cs)
{
	iconv_t cd;

	if (is_utf8_name(cs))
		return true;
	if ((cd = cs_open(cs)) == (iconv_t)-1)
		return false;
	iconv_close(cd);
	return true;
}

/* conv_run - convert s with cd into out; a byte that is not valid in the
 * charset becomes U+FFFD.  Returns the bytes used (an incomplete
 * sequence at the end is left unless final). */
static size_t
conv_run(iconv_t cd, struct buf *out, const char *s, size_t n, bool final)
{
	char tmp[8192];
	char *in = (char *)(uintptr_t)s;
	size_t left = n;

	while (left > 0) {
		char *o = tmp;
		size_t room = sizeof(tmp), r;

		r = iconv(cd, &in, &left, &o, &room);
		(void)buf_append(out, tmp, (size_t)(o - tmp));
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG)
			continue;
		if (errno == EINVAL && !final && left < 16)
			break;
		/* EILSEQ (or a truncated end): skip one byte. */
		(void)buf_append(out, "\xEF\xBF\xBD", 3);
		in++;
		left--;
	}
	if (final) {
		char *o = tmp;
		size_t room = sizeof(tmp);

		(void)iconv(cd, NULL, NULL, &o, &room);
		(void)buf_append(out, tmp, (size_t)(o - tmp));
	}
	return n - left;
}

int
stext_to_utf8(struct buf *out, const char *cs, const char *s, size_t len)
{
	iconv_t cd;

	if (is_utf8_name(cs)) {
		(void)buf_append(out, s, len);
		return 0;
	}
	if ((cd = cs_open(cs)) == (iconv_t)-1)
		return -1;
	(void)conv_run(cd, out, s, len, true);
	iconv_close(cd);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Content-Type of a part. */

void
stext_part_type(const char *hdr, size_t len, bool *text_r, char *cs,
    size_t cssize)
{
	struct buf v = BUF_INIT(64 * 1024);
	const char *p, *e;

	*text_r = true;		/* no Content-Type: text/plain */
	if (cssize > 0)
		cs[0] = '\0';
	if (msghdr_get(hdr, len, "Content-Type", &v) != 1 || v.len == 0) {
		buf_free(&v);
		return;
	}
	p = v.data;
	e = v.data + v.len;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	*text_r = ((size_t)(e - p) >= 5 &&
	    gms_strncasecmp(p, "text/", 5) == 0) || ((size_t)(e - p) >= 8 &&
	    gms_strncasecmp(p, "message/", 8) == 0);
	/* Parameters: ; name = value (token or quoted string). */
	while (p < e) {
		const char *n, *ne;

		p = memchr(p, ';', (size_t)(e - p));
		if (p == NULL)
			break;
		p++;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		n = p;
		while (p < e && *p != '=' && *p != ';' && *p != ' ')
			p++;
		ne = p;
		while (p < e && *p == ' ')
			p++;
		if (p >= e || *p != '=')
			continue;
		p++;
		while (p < e && *p == ' ')
			p++;
		if (ne - n == 7 && gms_strncasecmp(n, "charset", 7) == 0) {
			size_t k = 0;

			if (p < e && *p == '"') {
				p++;
				while (p < e && *p != '"' && k + 1 < cssize)
					cs[k++] = *p++;
			} else
				while (p < e && *p != ';' && *p != ' ' &&
				    *p != '(' && k + 1 < cssize)
					cs[k++] = *p++;
			if (cssize > 0)
				cs[k] = '\0';
			break;
		}
	}
	buf_free(&v);
}

/* ------------------------------------------------------------------ */
/* The streaming matcher. */

void
stext_match_init(struct stext_match *m)
{
	memset(m, 0, sizeof(*m));
	m->cd = (void *)-1;
	buf_init(&m->dec, 0);
	buf_init(&m->utf, 0);
	buf_init(&m->fold, 0);
}

void
stext_match_begin(struct stext_match *m, const char *needle, size_t nlen,
    int enc, const char *cs)
{
	m->needle = needle;
	m->nlen = nlen;
	m->enc = enc;
	m->acc = 0;
	m->nacc = 0;
	m->qp = 0;
	m->qph = 0;
	if (m->cd != (void *)-1)
		iconv_close((iconv_t)m->cd);
	m->cd = (void *)-1;
	if (cs != NULL && cs[0] != '\0' && !is_utf8_name(cs)) {
		iconv_t cd = cs_open(cs);

		/* An unknown charset: match on the raw bytes. */
		if (cd != (iconv_t)-1)
			m->cd = (void *)cd;
	}
	buf_reset(&m->dec);
	buf_reset(&m->utf);
	buf_reset(&m->fold);
	m->found = nlen == 0;
}

void
stext_match_free(struct stext_match *m)
{
	if (m->cd != (void *)-1)
		iconv_close((iconv_t)m->cd);
	m->cd = (void *)-1;
	buf_free(&m->dec);
	buf_free(&m->utf);
	buf_free(&m->fold);
}

static const signed char b64val[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18,
	['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
	['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,
	['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
	['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54,
	['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60,
	['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
};

/* hexval - a hex digit's value or -1. */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* decode_te - undo the transfer encoding of a chunk into m->dec. */
static void
decode_te(struct stext_match *m, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i;

	if (m->enc == STEXT_ENC_BASE64) {
		for (i = 0; i < n; i++) {
			int v = b64val[u[i]];

			if (v == 0)
				continue;	/* line breaks, '=', junk */
			m->acc = (m->acc << 6) | (uint32_t)(v - 1);
			if (++m->nacc == 4) {
				char o[3] = { (char)(m->acc >> 16),
				    (char)(m->acc >> 8), (char)m->acc };

				(void)buf_append(&m->dec, o, 3);
				m->nacc = 0;
				m->acc = 0;
			}
		}
		return;
	}
	if (m->enc != STEXT_ENC_QP) {
		(void)buf_append(&m->dec, s, n);
		return;
	}
	for (i = 0; i < n; i++) {
		int c = u[i], h;

		switch (m->qp) {
		case 0:
			if (c == '=')
				m->qp = 1;
			else
				(void)buf_putc(&m->dec, (char)c);
			break;
		case 1:			/* after '=' */
			if (hexval(c) >= 0) {
				m->qph = (char)c;
				m->qp = 2;
			} else if (c == '\r') {
				m->qp = 3;
			} else if (c == '\n') {
				m->qp = 0;	/* soft line break */
			} else {
				(void)buf_putc(&m->dec, '=');
				(void)buf_putc(&m->dec, (char)c);
				m->qp = 0;
			}
			break;
		case 2:			/* after '=' and one hex digit */
			h = hexval(c);
			if (h >= 0) {
				(void)buf_putc(&m->dec,
				    (char)(hexval(m->qph) * 16 + h));
			} else {
				(void)buf_putc(&m->dec, '=');
				(void)buf_putc(&m->dec, m->qph);
				(void)buf_putc(&m->dec, (char)c);
			}
			m->qp = 0;
			break;
		default:		/* after "=\r" */
			m->qp = 0;
			if (c != '\n')
				i--;	/* a lone CR: look at c again */
			break;
		}
	}
}

/* search - look for the needle in m->fold (the overlap kept from before
 * plus what was just folded) and keep its last nlen - 1 bytes. */
static void
search(struct stext_match *m)
{
	size_t keep;

	if (m->fold.len >= m->nlen && memmem(m->fold.data, m->fold.len,
	    m->needle, m->nlen) != NULL) {
		m->found = true;
		return;
	}
	keep = m->nlen > 0 ? m->nlen - 1 : 0;
	if (m->fold.len > keep)
		buf_consume(&m->fold, m->fold.len - keep);
}

/* step - push m->dec on through conversion (into m->utf) and folding;
 * an incomplete sequence at the end stays where it is unless final. */
static void
step(struct stext_match *m, bool final)
{
	struct buf *src = &m->dec;
	size_t used;
	bool fail = false;

	if (m->cd != (void *)-1) {
		used = conv_run((iconv_t)m->cd, &m->utf, buf_cstr(&m->dec),
		    m->dec.len, final);
		buf_consume(&m->dec, used);
		src = &m->utf;
	}
	used = fold_run(&m->fold, buf_cstr(src), src->len, final, &fail);
	buf_consume(src, used);
	search(m);
}

bool
stext_match_feed(struct stext_match *m, const char *s, size_t n)
{
	size_t off = 0, slice;
	bool fail = false;

	/* In slices, so that the intermediate buffers stay small; a slice
	 * is at least as long as the needle, so that the overlap kept from
	 * one to the next is searched at most twice. */
	slice = m->nlen > 16384 ? m->nlen : 16384;

	while (!m->found && off < n) {
		size_t k = n - off > slice ? slice : n - off;

		if (m->enc == STEXT_ENC_NONE && m->cd == (void *)-1 &&
		    m->dec.len == 0) {
			/* Plain UTF-8 (or raw) text: folded straight from s. */
			size_t used = fold_run(&m->fold, s + off, k, false,
			    &fail);

			(void)buf_append(&m->dec, s + off + used, k - used);
			search(m);
		} else {
			decode_te(m, s + off, k);
			step(m, false);
		}
		off += k;
	}
	return m->found;
}

bool
stext_match_end(struct stext_match *m)
{
	if (!m->found) {
		if (m->enc == STEXT_ENC_BASE64 && m->nacc >= 2) {
			/* A last group cut short: its whole bytes. */
			char o[2];
			size_t k = m->nacc == 2 ? 1 : 2;
			uint32_t a = m->acc << (6 * (4 - m->nacc));

			o[0] = (char)(a >> 16);
			o[1] = (char)(a >> 8);
			(void)buf_append(&m->dec, o, k);
		}
		step(m, true);
	}
	if (m->cd != (void *)-1)
		iconv_close((iconv_t)m->cd);
	m->cd = (void *)-1;
	return m->found;
}
