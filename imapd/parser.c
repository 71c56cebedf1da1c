/*
 * parser.c - the IMAP command grammar as pure functions over a cursor.
 *
 * The reader (reader.c) hands over a whole command: its lines joined by
 * CRLF with each literal's octets in place.  The command handlers pull
 * tokens from it with the functions below, each of which either consumes
 * a complete token or fails with a static message and a response code
 * (the first error is kept).  Nothing here reads the network or allocates
 * outside the per-command arena, so the whole file is easy to fuzz
 * (tests/fuzz/fuzz-imap-parser.c).
 *
 * Security: nesting of parentheses is bounded (IMAP_LIST_DEPTH_MAX), a
 * literal's announced size is checked against the bytes really present,
 * strings that become names, passwords or flags refuse NUL, and numbers
 * are checked for overflow before the arithmetic.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include "imapd/imapd.h"

void
imap_parser_init(struct imap_parser *p, const char *data, size_t len,
    struct arena *a)
{
	memset(p, 0, sizeof(*p));
	cur_init(&p->c, data, len);
	p->arena = a;
}

int
imap_p_fail(struct imap_parser *p, const char *code, const char *msg)
{
	if (p->error == NULL) {
		p->error = msg;
		p->code = code;
	}
	return -1;
}

/* is_atom_char - ATOM-CHAR of RFC 3501 (8-bit refused). */
static bool
is_atom_char(int ch)
{
	if (ch <= 0x1f || ch >= 0x7f)
		return false;
	switch (ch) {
	case '(': case ')': case '{': case ' ': case '%': case '*':
	case '"': case '\\': case ']':
		return false;
	default:
		return true;
	}
}

/* is_astring_char - ASTRING-CHAR: ATOM-CHAR or "]". */
static bool
is_astring_char(int ch)
{
	return ch == ']' || is_atom_char(ch);
}

int
imap_p_sp(struct imap_parser *p)
{
	if (cur_peek(&p->c) != ' ')
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Missing argument");
	cur_skip(&p->c, 1);
	if (cur_peek(&p->c) == ' ')
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Double space");
	return 0;
}

int
imap_p_eol(struct imap_parser *p)
{
	if (!cur_eof(&p->c))
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
		    "Unexpected extra arguments");
	return 0;
}

bool
imap_p_at_eol(const struct imap_parser *p)
{
	return cur_eof(&p->c);
}

bool
imap_p_peek(const struct imap_parser *p, int ch)
{
	return cur_peek(&p->c) == ch;
}

bool
imap_p_accept(struct imap_parser *p, int ch)
{
	if (cur_peek(&p->c) != ch)
		return false;
	cur_skip(&p->c, 1);
	return true;
}

int
imap_p_expect(struct imap_parser *p, int ch)
{
	if (!imap_p_accept(p, ch))
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Syntax error");
	return 0;
}

int
imap_p_tag(struct imap_parser *p, const char **tag_r, size_t *len_r)
{
	size_t n = 0;

	while (n < p->c.left && is_astring_char((unsigned char)p->c.p[n]) &&
	    p->c.p[n] != '+')
		n++;
	if (n == 0 || n > IMAP_TAG_MAX)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Invalid tag");
	*tag_r = p->c.p;
	*len_r = n;
	cur_skip(&p->c, n);
	return 0;
}

int
imap_p_atom(struct imap_parser *p, char **atom_r)
{
	size_t n = 0;

	while (n < p->c.left && is_atom_char((unsigned char)p->c.p[n]))
		n++;
	if (n == 0)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Expected an atom");
	*atom_r = arena_strndup(p->arena, p->c.p, n);
	cur_skip(&p->c, n);
	return 0;
}

/* p_quoted - a quoted string; the cursor is on the opening quote. */
static int
p_quoted(struct imap_parser *p, char **s_r, size_t *len_r)
{
	size_t i, n = 0;
	char *out;

	/* First pass: find the end and the unescaped length. */
	for (i = 1; i < p->c.left; i++) {
		unsigned char ch = (unsigned char)p->c.p[i];

		if (ch == '"')
			break;
		if (ch == '\r' || ch == '\n' || ch == '\0')
			return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "Invalid character in quoted string");
		if (ch == '\\') {
			if (i + 1 >= p->c.left || (p->c.p[i + 1] != '\\' &&
			    p->c.p[i + 1] != '"'))
				return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
				    "Invalid escape in quoted string");
			i++;
		}
		n++;
	}
	if (i >= p->c.left)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
		    "Unterminated quoted string");
	out = arena_alloc(p->arena, n + 1);
	n = 0;
	for (i = 1; p->c.p[i] != '"'; i++) {
		if (p->c.p[i] == '\\')
			i++;
		out[n++] = p->c.p[i];
	}
	out[n] = '\0';
	cur_skip(&p->c, i + 1);
	*s_r = out;
	*len_r = n;
	return 0;
}

/* p_literal_hdr - "{N}" / "{N+}" (and "~" before it when lit8_ok) then
 * CRLF; checks that N octets follow. */
static int
p_literal_hdr(struct imap_parser *p, bool lit8_ok, size_t *len_r,
    bool *lit8_r)
{
	uint64_t n;
	size_t digits = 0;

	*lit8_r = false;
	if (cur_peek(&p->c) == '~') {
		if (!lit8_ok)
			return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "literal8 not allowed here");
		*lit8_r = true;
		cur_skip(&p->c, 1);
	}
	if (imap_p_expect(p, '{') < 0)
		return -1;
	while (digits < p->c.left && p->c.p[digits] >= '0' &&
	    p->c.p[digits] <= '9')
		digits++;
	if (digits == 0 || gms_parse_u64(p->c.p, digits, SIZE_MAX / 2, &n) < 0)
		return imap_p_fail(p, IMAP_CODE_TOOBIG, "Invalid literal size");
	cur_skip(&p->c, digits);
	(void)imap_p_accept(p, '+');
	if (!imap_p_accept(p, '}') || !imap_p_accept(p, '\r') ||
	    !imap_p_accept(p, '\n'))
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Invalid literal");
	if (n > p->c.left)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Literal too short");
	*len_r = (size_t)n;
	return 0;
}

/* p_literal - a literal copied into the arena; NUL refused. */
static int
p_literal(struct imap_parser *p, char **s_r, size_t *len_r)
{
	size_t n;
	bool lit8;

	if (p_literal_hdr(p, false, &n, &lit8) < 0)
		return -1;
	if (memchr(p->c.p, '\0', n) != NULL)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "NUL in literal");
	*s_r = arena_strndup(p->arena, p->c.p, n);
	*len_r = n;
	cur_skip(&p->c, n);
	return 0;
}

int
imap_p_string(struct imap_parser *p, char **s_r, size_t *len_r)
{
	switch (cur_peek(&p->c)) {
	case '"':
		return p_quoted(p, s_r, len_r);
	case '{':
		return p_literal(p, s_r, len_r);
	default:
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Expected a string");
	}
}

int
imap_p_astring(struct imap_parser *p, char **s_r, size_t *len_r)
{
	size_t n = 0;
	int ch = cur_peek(&p->c);

	if (ch == '"' || ch == '{')
		return imap_p_string(p, s_r, len_r);
	while (n < p->c.left && is_astring_char((unsigned char)p->c.p[n]))
		n++;
	if (n == 0)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Expected a string");
	*s_r = arena_strndup(p->arena, p->c.p, n);
	*len_r = n;
	cur_skip(&p->c, n);
	return 0;
}

int
imap_p_nstring(struct imap_parser *p, char **s_r, size_t *len_r)
{
	if (p->c.left >= 3 && gms_strncasecmp(p->c.p, "NIL", 3) == 0 &&
	    (p->c.left == 3 || !is_atom_char((unsigned char)p->c.p[3]))) {
		cur_skip(&p->c, 3);
		*s_r = NULL;
		*len_r = 0;
		return 0;
	}
	return imap_p_string(p, s_r, len_r);
}

int
imap_p_literal_data(struct imap_parser *p, bool binary_ok,
    const char **data_r, size_t *len_r, bool *lit8_r)
{
	size_t n;

	if (p_literal_hdr(p, binary_ok, &n, lit8_r) < 0)
		return -1;
	if (!*lit8_r && memchr(p->c.p, '\0', n) != NULL)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
		    "NUL in literal (use literal8)");
	*data_r = p->c.p;
	*len_r = n;
	cur_skip(&p->c, n);
	return 0;
}

int
imap_p_number64(struct imap_parser *p, uint64_t *n_r)
{
	size_t digits = 0;

	while (digits < p->c.left && p->c.p[digits] >= '0' &&
	    p->c.p[digits] <= '9')
		digits++;
	if (digits == 0)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Expected a number");
	if (gms_parse_u64(p->c.p, digits, INT64_MAX, n_r) < 0)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Number too large");
	cur_skip(&p->c, digits);
	return 0;
}

int
imap_p_number(struct imap_parser *p, uint32_t *n_r)
{
	uint64_t n;

	if (imap_p_number64(p, &n) < 0)
		return -1;
	if (n > UINT32_MAX)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Number too large");
	*n_r = (uint32_t)n;
	return 0;
}

int
imap_p_nz_number(struct imap_parser *p, uint32_t *n_r)
{
	if (imap_p_number(p, n_r) < 0)
		return -1;
	if (*n_r == 0)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Zero not allowed");
	return 0;
}

int
imap_p_list_begin(struct imap_parser *p)
{
	if (imap_p_expect(p, '(') < 0)
		return -1;
	if (++p->depth > IMAP_LIST_DEPTH_MAX)
		return imap_p_fail(p, IMAP_CODE_LIMIT, "Lists nested too deeply");
	return 0;
}

int
imap_p_list_end(struct imap_parser *p)
{
	if (imap_p_expect(p, ')') < 0)
		return -1;
	if (p->depth > 0)
		p->depth--;
	return 0;
}

int
imap_p_flag(struct imap_parser *p, bool allow_star, char **flag_r)
{
	char *atom;
	size_t n;

	if (imap_p_accept(p, '\\')) {
		if (allow_star && imap_p_accept(p, '*')) {
			*flag_r = arena_strdup(p->arena, "\\*");
			return 0;
		}
		if (imap_p_atom(p, &atom) < 0)
			return -1;
		n = strlen(atom);
		*flag_r = arena_alloc(p->arena, n + 2);
		(*flag_r)[0] = '\\';
		memcpy(*flag_r + 1, atom, n + 1);
		return 0;
	}
	return imap_p_atom(p, flag_r);
}

int
imap_p_flag_list(struct imap_parser *p, char ***flags_r, size_t *n_r,
    size_t max)
{
	char **v;
	size_t n = 0;

	if (imap_p_list_begin(p) < 0)
		return -1;
	v = arena_alloc(p->arena, (max + 1) * sizeof(*v));
	if (!imap_p_peek(p, ')')) {
		for (;;) {
			if (n >= max)
				return imap_p_fail(p, IMAP_CODE_LIMIT,
				    "Too many flags");
			if (imap_p_flag(p, false, &v[n]) < 0)
				return -1;
			n++;
			if (!imap_p_accept(p, ' '))
				break;
		}
	}
	if (imap_p_list_end(p) < 0)
		return -1;
	*flags_r = v;
	*n_r = n;
	return 0;
}

/* days_from_civil - days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* p_digits - exactly n digits (n <= 4) into *v. */
static int
p_digits(struct imap_parser *p, size_t n, unsigned *v)
{
	size_t i;

	*v = 0;
	if (p->c.left < n)
		return -1;
	for (i = 0; i < n; i++) {
		if (p->c.p[i] < '0' || p->c.p[i] > '9')
			return -1;
		*v = *v * 10 + (unsigned)(p->c.p[i] - '0');
	}
	cur_skip(&p->c, n);
	return 0;
}

/* p_date_body - day "-" month "-" year, day of 1 or 2 digits (or " d"
 * when fixed).  Returns days since the epoch. */
static int
p_date_body(struct imap_parser *p, bool fixed, int64_t *days_r)
{
	unsigned day, year, m, dim;
	static const unsigned mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31,
	    30, 31, 30, 31 };

	if (fixed && imap_p_accept(p, ' ')) {
		if (p_digits(p, 1, &day) < 0)
			goto bad;
	} else if (p_digits(p, 2, &day) < 0 && (fixed ||
	    p_digits(p, 1, &day) < 0))
		goto bad;
	if (!imap_p_accept(p, '-') || p->c.left < 4)
		goto bad;
	for (m = 0; m < 12; m++)
		if (gms_strncasecmp(p->c.p, months[m], 3) == 0)
			break;
	if (m == 12)
		goto bad;
	cur_skip(&p->c, 3);
	if (!imap_p_accept(p, '-') || p_digits(p, 4, &year) < 0)
		goto bad;
	dim = mdays[m];
	if (m == 1 && !((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		dim = 28;
	if (day < 1 || day > dim)
		goto bad;
	*days_r = days_from_civil(year, m + 1, day);
	return 0;
bad:
	return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Invalid date");
}

int
imap_p_date(struct imap_parser *p, int64_t *t_r)
{
	bool quoted = imap_p_accept(p, '"');
	int64_t days;

	if (p_date_body(p, false, &days) < 0)
		return -1;
	if (quoted && imap_p_expect(p, '"') < 0)
		return -1;
	*t_r = days * 86400;
	return 0;
}

int
imap_p_datetime(struct imap_parser *p, int64_t *t_r)
{
	unsigned hh, mm, ss, zh, zm;
	int64_t days;
	int sign;

	if (imap_p_expect(p, '"') < 0 || p_date_body(p, true, &days) < 0)
		return -1;
	if (!imap_p_accept(p, ' ') || p_digits(p, 2, &hh) < 0 ||
	    !imap_p_accept(p, ':') || p_digits(p, 2, &mm) < 0 ||
	    !imap_p_accept(p, ':') || p_digits(p, 2, &ss) < 0 ||
	    !imap_p_accept(p, ' '))
		goto bad;
	if (imap_p_accept(p, '+'))
		sign = 1;
	else if (imap_p_accept(p, '-'))
		sign = -1;
	else
		goto bad;
	if (p_digits(p, 2, &zh) < 0 || p_digits(p, 2, &zm) < 0 ||
	    !imap_p_accept(p, '"'))
		goto bad;
	if (hh > 23 || mm > 59 || ss > 60 || zm > 59)
		goto bad;
	*t_r = days * 86400 + hh * 3600 + mm * 60 + ss -
	    sign * (int64_t)(zh * 3600 + zm * 60);
	p->tz_minutes = sign * (int)(zh * 60 + zm);
	return 0;
bad:
	return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Invalid date-time");
}

/* name_fixup - INBOX in any case is INBOX; decode modified UTF-7. */
static int
name_fixup(struct imap_parser *p, bool utf8, const char *s, size_t len,
    char **name_r)
{
	struct buf b = BUF_INIT(4096);

	if (len == 0)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG, "Empty mailbox name");
	if (len == 5 && gms_strncasecmp(s, "INBOX", 5) == 0) {
		*name_r = arena_strdup(p->arena, "INBOX");
		return 0;
	}
	if (!utf8 && memchr(s, '&', len) != NULL) {
		if (mutf7_decode(&b, s, len) < 0) {
			buf_free(&b);
			return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "Invalid modified UTF-7 in mailbox name");
		}
		*name_r = arena_strndup(p->arena, b.data, b.len);
		buf_free(&b);
	} else
		*name_r = arena_strndup(p->arena, s, len);
	if (!utf8_valid(*name_r, strlen(*name_r)))
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
		    "Mailbox name is not valid UTF-8");
	return 0;
}

int
imap_p_mailbox(struct imap_parser *p, bool utf8, char **name_r)
{
	char *s;
	size_t len;

	if (imap_p_astring(p, &s, &len) < 0)
		return -1;
	return name_fixup(p, utf8, s, len, name_r);
}

int
imap_p_list_mailbox(struct imap_parser *p, char **pat_r)
{
	size_t n = 0, len;
	int ch = cur_peek(&p->c);
	char *s;

	if (ch == '"' || ch == '{') {
		if (imap_p_string(p, &s, &len) < 0)
			return -1;
		*pat_r = s;
		return 0;
	}
	while (n < p->c.left) {
		ch = (unsigned char)p->c.p[n];
		if (!is_astring_char(ch) && ch != '%' && ch != '*')
			break;
		n++;
	}
	if (n == 0)
		return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
		    "Expected a mailbox pattern");
	*pat_r = arena_strndup(p->arena, p->c.p, n);
	cur_skip(&p->c, n);
	return 0;
}
