/*
 * csv.c - one field of RFC 4180 CSV at a time, for "gmsadm bulk add":
 * quoted fields with "" for a quote and line breaks inside, CRLF or LF
 * record ends, fields bounded by ADM_CSV_FIELD_MAX bytes.  Pure: no I/O,
 * unit-tested in tests/unit/test-admin.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"

char *
adm_csv_field(const char **pp, const char *end, bool *eol, unsigned *line,
    const char **err)
{
	const char *p = *pp;
	struct buf b = BUF_INIT(ADM_CSV_FIELD_MAX);

	*eol = false;
	if (p < end && *p == '"') {
		p++;
		for (;;) {
			if (p >= end) {
				*err = "a quoted field is not closed";
				buf_free(&b);
				return NULL;
			}
			if (*p == '"') {
				if (p + 1 < end && p[1] == '"') {
					if (buf_putc(&b, '"') < 0)
						goto toolong;
					p += 2;
					continue;
				}
				p++;
				break;
			}
			if (*p == '\n')
				(*line)++;
			if (buf_putc(&b, *p++) < 0)
				goto toolong;
		}
		if (p < end && *p != ',' && *p != '\n' && *p != '\r') {
			*err = "text after a closing quote";
			buf_free(&b);
			return NULL;
		}
	} else {
		while (p < end && *p != ',' && *p != '\n' && *p != '\r') {
			if (*p == '"') {
				*err = "a quote inside an unquoted field";
				buf_free(&b);
				return NULL;
			}
			if (buf_putc(&b, *p++) < 0)
				goto toolong;
		}
	}
	if (p < end && *p == ',')
		p++;
	else {
		if (p < end && *p == '\r')
			p++;
		if (p < end && *p == '\n')
			p++;
		*eol = true;
	}
	*pp = p;
	if (b.data == NULL)
		return xstrdup("");
	return buf_steal(&b);
toolong:
	*err = "a field is longer than 4096 bytes";
	buf_wipe_free(&b);
	return NULL;
}

