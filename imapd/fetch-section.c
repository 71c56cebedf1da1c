/*
 * fetch-section.c - the pure parts of FETCH BODY[section] and BINARY:
 * the section grammar, HEADER.FIELDS filtering and the transfer decoders.
 *
 * section = "[" [section-spec] "]", section-spec = section-msgtext /
 * (section-part ["." section-text]), section-msgtext = "HEADER" /
 * "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT", section-text =
 * section-msgtext / "MIME" (RFC 9051 9).  BINARY takes only part numbers.
 * The label echoed in the response is rebuilt canonically (upper case,
 * field names as atoms or strings), never copied from the client.
 */
#include "config.h"

#include <string.h>

#include "imapd/imapd.h"
#include "spool/spool.h"

/* p_header_list - "(" astring *(SP astring) ")". */
static int
p_header_list(struct imap_parser *p, struct fetch_section *fs)
{
	char *f;
	size_t len;

	fs->fields = arena_alloc(p->arena, FS_FIELDS_MAX * sizeof(char *));
	if (imap_p_list_begin(p) < 0)
		return -1;
	for (;;) {
		if (fs->nfields == FS_FIELDS_MAX)
			return imap_p_fail(p, IMAP_CODE_LIMIT,
			    "Too many header fields");
		if (imap_p_astring(p, &f, &len) < 0)
			return -1;
		if (len == 0 || strpbrk(f, ": \t\r\n") != NULL)
			return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "Invalid header field name");
		fs->fields[fs->nfields++] = f;
		if (!imap_p_accept(p, ' '))
			break;
	}
	return imap_p_list_end(p);
}

int
fetch_p_section(struct imap_parser *p, const char *prefix,
    struct fetch_section *fs)
{
	struct buf label = BUF_INIT(8192);
	bool binary = strncmp(prefix, "BINARY", 6) == 0;
	size_t i;
	int r = -1;

	fs->what = SPOOL_SECT_ALL;
	if (imap_p_expect(p, '[') < 0)
		return -1;
	(void)buf_printf(&label, "%s[", prefix);
	/* Part numbers. */
	while (cur_peek(&p->c) >= '1' && cur_peek(&p->c) <= '9') {
		if (fs->depth == IMAP_SECTION_DEPTH_MAX) {
			imap_p_fail(p, IMAP_CODE_LIMIT, "Section too deep");
			goto out;
		}
		if (imap_p_nz_number(p, &fs->path[fs->depth]) < 0)
			goto out;
		(void)buf_printf(&label, "%s%u", fs->depth ? "." : "",
		    fs->path[fs->depth]);
		fs->depth++;
		if (!imap_p_accept(p, '.'))
			break;
		if (cur_peek(&p->c) < '1' || cur_peek(&p->c) > '9') {
			(void)buf_putc(&label, '.');
			break;
		}
	}
	if (!imap_p_peek(p, ']')) {
		if (binary) {
			imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "BINARY takes part numbers only");
			goto out;
		}
		if (cur_match_ci(&p->c, "HEADER.FIELDS.NOT")) {
			fs->what = FS_HEADER_FIELDS_NOT;
			(void)buf_puts(&label, "HEADER.FIELDS.NOT");
		} else if (cur_match_ci(&p->c, "HEADER.FIELDS")) {
			fs->what = FS_HEADER_FIELDS;
			(void)buf_puts(&label, "HEADER.FIELDS");
		} else if (cur_match_ci(&p->c, "HEADER")) {
			fs->what = SPOOL_SECT_HEADER;
			(void)buf_puts(&label, "HEADER");
		} else if (cur_match_ci(&p->c, "TEXT")) {
			fs->what = SPOOL_SECT_TEXT;
			(void)buf_puts(&label, "TEXT");
		} else if (fs->depth > 0 && cur_match_ci(&p->c, "MIME")) {
			fs->what = SPOOL_SECT_MIME;
			(void)buf_puts(&label, "MIME");
		} else {
			imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Invalid section");
			goto out;
		}
		if (fs->what == FS_HEADER_FIELDS ||
		    fs->what == FS_HEADER_FIELDS_NOT) {
			if (imap_p_sp(p) < 0 || p_header_list(p, fs) < 0)
				goto out;
			(void)buf_puts(&label, " (");
			for (i = 0; i < fs->nfields; i++) {
				if (i > 0)
					(void)buf_putc(&label, ' ');
				(void)imap_put_astring(&label, fs->fields[i],
				    strlen(fs->fields[i]), false);
			}
			(void)buf_putc(&label, ')');
		}
	} else if (label.len > 0 && label.data[label.len - 1] == '.') {
		imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Invalid section");
		goto out;
	}
	if (imap_p_expect(p, ']') < 0)
		goto out;
	(void)buf_putc(&label, ']');
	if (imap_p_accept(p, '<')) {
		uint64_t off, len;

		if (imap_p_number64(p, &off) < 0 || imap_p_expect(p, '.') < 0 ||
		    imap_p_number64(p, &len) < 0 || imap_p_expect(p, '>') < 0)
			goto out;
		if (len == 0) {
			imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "Partial length must not be 0");
			goto out;
		}
		fs->partial = true;
		fs->off = off;
		fs->len = len;
	}
	fs->label = arena_strndup(p->arena, buf_cstr(&label), label.len);
	r = 0;
out:
	buf_free(&label);
	return r;
}

/* field_listed - is the field name (len bytes) in fields? */
static bool
field_listed(const char *name, size_t len, char *const *fields, size_t n)
{
	size_t i;

	while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
		len--;
	for (i = 0; i < n; i++)
		if (strlen(fields[i]) == len &&
		    gms_strncasecmp(fields[i], name, len) == 0)
			return true;
	return false;
}

int
fetch_header_filter(struct buf *out, const char *hdr, size_t len,
    char *const *fields, size_t nfields, bool not)
{
	size_t i = 0, end, colon;
	bool keep = false;

	while (i < len) {
		const char *nl = memchr(hdr + i, '\n', len - i);

		end = nl != NULL ? (size_t)(nl - hdr) + 1 : len;
		/* The blank line ends the header. */
		if ((end - i == 2 && hdr[i] == '\r') || end - i == 1)
			break;
		if (hdr[i] != ' ' && hdr[i] != '\t') {
			for (colon = i; colon < end && hdr[colon] != ':';
			    colon++)
				;
			keep = colon < end && field_listed(hdr + i,
			    colon - i, fields, nfields) != not;
		}
		if (keep && buf_append(out, hdr + i, end - i) < 0)
			return -1;
		i = end;
	}
	return buf_puts(out, "\r\n");
}

/* hexval - value of a hex digit or -1. */
static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

int
fetch_qp_decode(struct buf *out, const char *p, size_t n)
{
	size_t i = 0, j;

	while (i < n) {
		if (p[i] != '=') {
			/* Trailing whitespace before a line break goes. */
			if (p[i] == ' ' || p[i] == '\t') {
				for (j = i; j < n && (p[j] == ' ' ||
				    p[j] == '\t'); j++)
					;
				if (j == n || p[j] == '\r' || p[j] == '\n') {
					i = j;
					continue;
				}
			}
			if (buf_putc(out, p[i]) < 0)
				return -1;
			i++;
			continue;
		}
		/* Soft line break "=" [WSP] CRLF. */
		for (j = i + 1; j < n && (p[j] == ' ' || p[j] == '\t'); j++)
			;
		if (j < n && (p[j] == '\r' || p[j] == '\n')) {
			if (p[j] == '\r' && j + 1 < n && p[j + 1] == '\n')
				j++;
			i = j + 1;
			continue;
		}
		if (j == n) {
			i = n;
			continue;
		}
		if (i + 2 < n && hexval((unsigned char)p[i + 1]) >= 0 &&
		    hexval((unsigned char)p[i + 2]) >= 0) {
			if (buf_putc(out, hexval((unsigned char)p[i + 1]) * 16 +
			    hexval((unsigned char)p[i + 2])) < 0)
				return -1;
			i += 3;
			continue;
		}
		if (buf_putc(out, '=') < 0)
			return -1;
		i++;
	}
	return 0;
}

int
fetch_b64_decode(struct buf *out, const char *p, size_t n)
{
	struct buf clean = BUF_INIT(0);
	size_t i;
	int r;

	for (i = 0; i < n; i++) {
		if (p[i] == '\r' || p[i] == '\n' || p[i] == ' ' ||
		    p[i] == '\t')
			continue;
		if (buf_putc(&clean, p[i]) < 0) {
			buf_free(&clean);
			return -1;
		}
	}
	r = base64_decode(out, clean.data != NULL ? clean.data : "", clean.len);
	buf_free(&clean);
	return r;
}
