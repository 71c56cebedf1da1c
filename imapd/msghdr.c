/*
 * msghdr.c - reading a few header fields of a stored message for SORT and
 * THREAD (RFC 5256): the unfolded value of a field, the "base subject",
 * the first address's mailbox, the sent date and message-id lists.  Pure
 * functions over a header block, so they are unit-testable and fuzzable;
 * msghdr_display_name() gives the RFC 5957 DISPLAYFROM/DISPLAYTO name.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "imapd/imapd.h"

int
msghdr_get(const char *hdr, size_t len, const char *field, struct buf *out)
{
	size_t flen = strlen(field), i = 0, end;

	buf_reset(out);
	while (i < len) {
		const char *nl = memchr(hdr + i, '\n', len - i);

		end = nl != NULL ? (size_t)(nl - hdr) + 1 : len;
		if (end - i <= 2 && (hdr[i] == '\r' || hdr[i] == '\n'))
			return 0;
		if (end - i > flen && hdr[i + flen] == ':' &&
		    gms_strncasecmp(hdr + i, field, flen) == 0) {
			size_t k;

			(void)buf_append(out, hdr + i + flen + 1,
			    end - i - flen - 1);
			i = end;
			while (i < len && (hdr[i] == ' ' || hdr[i] == '\t')) {
				nl = memchr(hdr + i, '\n', len - i);
				end = nl != NULL ? (size_t)(nl - hdr) + 1 : len;
				(void)buf_append(out, hdr + i, end - i);
				i = end;
			}
			/* Unfold: CR and LF become spaces; trim the ends. */
			for (k = 0; k < out->len; k++)
				if (out->data[k] == '\r' || out->data[k] == '\n' ||
				    out->data[k] == '\t')
					out->data[k] = ' ';
			while (out->len > 0 && out->data[out->len - 1] == ' ')
				out->data[--out->len] = '\0';
			k = 0;
			while (k < out->len && out->data[k] == ' ')
				k++;
			buf_consume(out, k);
			return 1;
		}
		i = end;
	}
	return 0;
}

/* skip_blob - "[" *BLOBCHAR "]" *WSP at s; returns its length or 0. */
static size_t
skip_blob(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] != '[')
		return 0;
	for (i = 1; i < len && s[i] != ']'; i++)
		if (s[i] == '[')
			return 0;
	if (i >= len)
		return 0;
	i++;
	while (i < len && s[i] == ' ')
		i++;
	return i;
}

/* skip_refwd - subj-refwd: ("re" / ("fw" ["d"])) *WSP *subj-blob ":" */
static size_t
skip_refwd(const char *s, size_t len)
{
	size_t i, b;

	if (len >= 3 && gms_strncasecmp(s, "fwd", 3) == 0)
		i = 3;
	else if (len >= 2 && (gms_strncasecmp(s, "fw", 2) == 0 ||
	    gms_strncasecmp(s, "re", 2) == 0))
		i = 2;
	else
		return 0;
	while (i < len && s[i] == ' ')
		i++;
	while ((b = skip_blob(s + i, len - i)) > 0)
		i += b;
	if (i < len && s[i] == ':') {
		i++;
		while (i < len && s[i] == ' ')
			i++;
		return i;
	}
	return 0;
}

void
msghdr_base_subject(const char *subj, size_t len, struct buf *out)
{
	struct buf b = BUF_INIT(0);
	size_t i, k, n;
	bool changed;

	/* Collapse whitespace into single spaces. */
	for (i = 0; i < len; i++) {
		char c = subj[i] == '\t' || subj[i] == '\r' || subj[i] == '\n' ?
		    ' ' : subj[i];

		if (c == ' ' && (b.len == 0 || b.data[b.len - 1] == ' '))
			continue;
		(void)buf_putc(&b, c);
	}
	do {
		changed = false;
		/* Trailing "(fwd)" and spaces. */
		while (b.len > 0 && b.data[b.len - 1] == ' ')
			b.data[--b.len] = '\0';
		if (b.len >= 5 && gms_strcasecmp(b.data + b.len - 5, "(fwd)") == 0) {
			b.len -= 5;
			b.data[b.len] = '\0';
			changed = true;
			continue;
		}
		/* Leading blobs and re/fw/fwd prefixes. */
		for (;;) {
			n = skip_refwd(b.data != NULL ? b.data : "", b.len);
			if (n == 0) {
				/* A blob goes only if something remains. */
				k = skip_blob(b.data != NULL ? b.data : "", b.len);
				if (k > 0 && k < b.len)
					n = k;
			}
			if (n == 0)
				break;
			buf_consume(&b, n);
			changed = true;
		}
		/* "[fwd:" ... "]" wrapper. */
		if (b.len >= 6 && gms_strncasecmp(b.data, "[fwd:", 5) == 0 &&
		    b.data[b.len - 1] == ']') {
			b.data[--b.len] = '\0';
			buf_consume(&b, 5);
			while (b.len > 0 && b.data[0] == ' ')
				buf_consume(&b, 1);
			changed = true;
		}
	} while (changed);
	buf_reset(out);
	for (i = 0; i < b.len; i++) {
		char c = b.data[i];

		(void)buf_putc(out, c >= 'a' && c <= 'z' ? c - 32 : c);
	}
	buf_free(&b);
}

void
msghdr_first_mailbox(const char *v, size_t len, struct buf *out)
{
	const char *lt, *at;
	size_t i, start, end;

	buf_reset(out);
	lt = memchr(v, '<', len);
	if (lt != NULL) {
		start = (size_t)(lt - v) + 1;
	} else {
		/* No angle brackets: the first word with an "@". */
		at = memchr(v, '@', len);
		if (at == NULL)
			return;
		start = (size_t)(at - v);
		while (start > 0 && v[start - 1] != ' ' && v[start - 1] != ',' &&
		    v[start - 1] != '"')
			start--;
	}
	for (end = start; end < len && v[end] != '@' && v[end] != '>' &&
	    v[end] != ' ' && v[end] != ','; end++)
		;
	for (i = start; i < end; i++) {
		char c = v[i];

		(void)buf_putc(out, c >= 'a' && c <= 'z' ? c - 32 : c);
	}
}

int64_t
msghdr_date(const char *v, size_t len)
{
	static const char *mon[12] = { "jan", "feb", "mar", "apr", "may",
	    "jun", "jul", "aug", "sep", "oct", "nov", "dec" };
	char tmp[128];
	const char *p;
	int day = 0, year = 0, m, hh = 0, mm = 0, ss = 0, zone = 0, sign = 1;
	struct tm tm;

	if (len == 0)
		return INT64_MIN;
	if (len > sizeof(tmp) - 1)
		len = sizeof(tmp) - 1;
	memcpy(tmp, v, len);
	tmp[len] = '\0';
	p = strchr(tmp, ',');
	p = p != NULL ? p + 1 : tmp;
	while (*p == ' ')
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
	while (*p == ' ')
		p++;
	if (p[0] >= '0' && p[0] <= '9') {
		hh = (p[0] - '0') * 10 + (p[1] >= '0' && p[1] <= '9' ?
		    p[1] - '0' : 0);
		p += 2;
		if (*p == ':') {
			p++;
			mm = (p[0] >= '0' && p[0] <= '9' ? (p[0] - '0') * 10 : 0) +
			    (p[1] >= '0' && p[1] <= '9' ? p[1] - '0' : 0);
			p += p[0] && p[1] ? 2 : 0;
			if (*p == ':') {
				p++;
				ss = (p[0] >= '0' && p[0] <= '9' ?
				    (p[0] - '0') * 10 : 0) + (p[1] >= '0' &&
				    p[1] <= '9' ? p[1] - '0' : 0);
				p += p[0] && p[1] ? 2 : 0;
			}
		}
		while (*p == ' ')
			p++;
		if (*p == '+' || *p == '-') {
			sign = *p == '-' ? -1 : 1;
			p++;
			if (strlen(p) >= 4)
				zone = ((p[0] - '0') * 10 + (p[1] - '0')) * 60 +
				    (p[2] - '0') * 10 + (p[3] - '0');
		}
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = day;
	tm.tm_mon = m;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh % 24;
	tm.tm_min = mm % 60;
	tm.tm_sec = ss % 61;
	return (int64_t)timegm(&tm) - sign * (int64_t)zone * 60;
}

/* skip_comment - past the (nested) comment starting at v[i] == '('. */
static size_t
skip_comment(const char *v, size_t len, size_t i)
{
	unsigned int depth = 0;

	for (; i < len; i++) {
		if (v[i] == '\\' && i + 1 < len)
			i++;
		else if (v[i] == '(')
			depth++;
		else if (v[i] == ')' && --depth == 0)
			return i + 1;
	}
	return len;
}

void
msghdr_display_name(const char *v, size_t len, struct buf *out)
{
	struct buf raw = BUF_INIT(0);
	size_t i = 0;
	bool space = false, angle = false;

	buf_reset(out);
	while (i < len) {
		char c = v[i];

		if (c == '(') {
			i = skip_comment(v, len, i);
			space = true;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			space = true;
			i++;
			continue;
		}
		if (c == '"') {
			if (space && out->len > 0)
				(void)buf_putc(out, ' ');
			(void)buf_putc(&raw, '"');
			for (i++; i < len && v[i] != '"'; i++) {
				if (v[i] == '\\' && i + 1 < len)
					i++;
				(void)buf_putc(out, v[i]);
				(void)buf_putc(&raw, v[i]);
			}
			(void)buf_putc(&raw, '"');
			i++;
			space = false;
			continue;
		}
		if (c == '<') {
			/* name-addr: the phrase so far, else the addr-spec. */
			angle = true;
			if (out->len > 0)
				break;
			for (i++; i < len && v[i] != '>'; i++)
				if (v[i] != ' ' && v[i] != '\t')
					(void)buf_putc(out, v[i]);
			break;
		}
		if (c == ':') {		/* a group's name: not a display name */
			buf_reset(out);
			buf_reset(&raw);
			space = false;
			i++;
			continue;
		}
		if (c == ',' || c == ';') {
			if (raw.len > 0)
				break;
			buf_reset(out);
			space = false;
			i++;
			continue;
		}
		if (space && out->len > 0)
			(void)buf_putc(out, ' ');
		(void)buf_putc(out, c);
		(void)buf_putc(&raw, c);
		space = false;
		i++;
	}
	if (!angle) {
		/* No angle brackets: a bare addr-spec, written without the
		 * spaces and comments around its tokens. */
		buf_reset(out);
		(void)buf_append(out, buf_cstr(&raw), raw.len);
	}
	buf_free(&raw);
}
