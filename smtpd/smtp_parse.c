/*
 * smtp_parse.c - the parsers of gms-smtpd for what a client puts in the
 * MAIL, RCPT and HELO commands: reverse and forward paths (RFC 5321
 * section 4.1.2, RFC 6531 for UTF-8), ESMTP parameters (SIZE, BODY,
 * SMTPUTF8, AUTH, RET, ENVID, NOTIFY, ORCPT) and xtext (RFC 3461).
 *
 * Everything is read through a cursor and checked against the grammar
 * byte by byte; nothing outside it is accepted, so a parsed address or
 * parameter can never carry CR, LF, NUL, a space or a control character
 * into a stored record or a header.  The relay decision is taken by the
 * session on the domain returned here, which is the part after the last
 * '@' outside quotes, lowercased, with any source route dropped: the
 * percent hack, bang paths and quoted '@' never change the domain.
 * Used by smtp_session.c, the unit tests and the fuzz targets.
 */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "smtpd/smtpd.h"

#define R_MAIL_SYNTAX	"501 5.5.4 Syntax: MAIL FROM:<address> [parameters]"
#define R_RCPT_SYNTAX	"501 5.5.4 Syntax: RCPT TO:<address> [parameters]"
#define R_BAD_SENDER	"501 5.1.7 Bad sender address syntax"
#define R_BAD_RCPT	"501 5.1.3 Bad recipient address syntax"
#define R_NONASCII	"553 5.6.7 Non-ASCII address requires SMTPUTF8"
#define R_PARAM_SYNTAX	"501 5.5.4 Invalid parameter syntax"
#define R_PARAM_UNKNOWN	"555 5.5.4 Unsupported parameter"
#define R_PARAM_DUP	"501 5.5.4 Duplicate parameter"
#define R_NULL_RCPT	"501 5.1.3 Null recipient not allowed"
#define R_TOO_LONG	"501 5.5.4 Address too long"

/* is_atext - RFC 5322 atext, ASCII part. */
static bool
is_atext(int ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9'))
		return true;
	return ch != 0 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

static bool
is_alnum(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9');
}

bool
smtp_utf8_valid(const char *s, size_t len)
{
	size_t i = 0, n, k;
	unsigned int cp;
	unsigned char c;

	while (i < len) {
		c = (unsigned char)s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else
			return false;
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			c = (unsigned char)s[i + k];
			if ((c & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (c & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

bool
smtp_domain_valid(const char *s, size_t len, bool utf8)
{
	size_t i, lablen = 0;
	unsigned char c, prev = '.';

	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return false;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '.') {
			if (lablen == 0 || prev == '-')
				return false;
			lablen = 0;
		} else if (is_alnum(c) || (c >= 0x80 && utf8)) {
			if (++lablen > 63)
				return false;
		} else if (c == '-') {
			if (lablen == 0)
				return false;
			lablen++;
		} else
			return false;
		prev = c;
	}
	/* No trailing dot: "ours.example." is not "ours.example". */
	if (lablen == 0 || prev == '-')
		return false;
	if (utf8 && !smtp_utf8_valid(s, len))
		return false;
	return true;
}

/* literal_valid - "[1.2.3.4]" or "[IPv6:...]" (len includes brackets). */
static bool
literal_valid(const char *s, size_t len)
{
	char tmp[64];
	unsigned char addr[16];

	if (len < 3 || s[0] != '[' || s[len - 1] != ']' || len - 2 >= sizeof(tmp))
		return false;
	memcpy(tmp, s + 1, len - 2);
	tmp[len - 2] = '\0';
	if (memchr(tmp, '\0', len - 2) != NULL)
		return false;
	if (gms_strncasecmp(tmp, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, tmp + 5, addr) == 1;
	return inet_pton(AF_INET, tmp, addr) == 1;
}

bool
smtp_helo_valid(const char *s, size_t len, bool *literal_r)
{
	*literal_r = false;
	if (len > 0 && s[0] == '[') {
		*literal_r = true;
		return literal_valid(s, len);
	}
	/* Accept one trailing dot in HELO, a common client habit. */
	if (len > 1 && s[len - 1] == '.')
		len--;
	return smtp_domain_valid(s, len, false);
}

/* take_domain - read a domain or an address literal from c into the
 * path; stops before ">" or ",", ":".  Returns 0 or -1. */
static int
take_domain(struct cursor *c, bool utf8_ok, char *dst, size_t dstlen,
    bool *literal_r, bool *utf8_r)
{
	const char *p;
	size_t n, i;
	bool utf8 = false;

	*literal_r = false;
	if (cur_peek(c) == '[') {
		n = 0;
		while (n < c->left && c->p[n] != ']')
			n++;
		if (n == c->left)
			return -1;
		n++;
		if (!literal_valid(c->p, n) || n >= dstlen)
			return -1;
		memcpy(dst, c->p, n);
		dst[n] = '\0';
		cur_skip(c, n);
		*literal_r = true;
		return 0;
	}
	p = c->p;
	n = 0;
	while (n < c->left && c->p[n] != '>' && c->p[n] != ',' &&
	    c->p[n] != ':')
		n++;
	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			utf8 = true;
	if (utf8 && !utf8_ok)
		return -2;
	if (!smtp_domain_valid(p, n, utf8) || n >= dstlen)
		return -1;
	memcpy(dst, p, n);
	dst[n] = '\0';
	/* Lowercase the ASCII letters only; UTF-8 bytes are left alone. */
	for (i = 0; i < n; i++)
		if (dst[i] >= 'A' && dst[i] <= 'Z')
			dst[i] = (char)(dst[i] - 'A' + 'a');
	cur_skip(c, n);
	*utf8_r = *utf8_r || utf8;
	return 0;
}

/* take_local - read a local part (dot-string or quoted-string) into
 * path->local.  A quoted string whose content is a valid dot-string is
 * stored unquoted (they are the same address).  Returns 0, -1 syntax,
 * -2 non-ASCII without SMTPUTF8. */
static int
take_local(struct cursor *c, bool utf8_ok, struct smtp_path *path)
{
	char tmp[SMTP_LOCAL_MAX + 1];
	size_t n = 0, i;
	int ch;
	bool dotok, prevdot;

	if (cur_peek(c) == '"') {
		cur_skip(c, 1);
		for (;;) {
			ch = cur_peek(c);
			if (ch < 0)
				return -1;
			if (ch == '"')
				break;
			if (ch == '\\') {
				cur_skip(c, 1);
				ch = cur_peek(c);
				if (ch < 32 || ch > 126)
					return -1;
			} else if (ch >= 0x80) {
				if (!utf8_ok)
					return -2;
				path->utf8 = true;
			} else if (ch < 32 || ch > 126)
				return -1;
			if (n >= SMTP_LOCAL_MAX)
				return -1;
			tmp[n++] = (char)ch;
			cur_skip(c, 1);
		}
		cur_skip(c, 1);
		if (n == 0)
			return -1;
		tmp[n] = '\0';
		if (path->utf8 && !smtp_utf8_valid(tmp, n))
			return -1;
		/* Is the content a plain dot-string? */
		dotok = tmp[0] != '.' && tmp[n - 1] != '.';
		prevdot = false;
		for (i = 0; i < n && dotok; i++) {
			ch = (unsigned char)tmp[i];
			if (ch == '.') {
				if (prevdot)
					dotok = false;
				prevdot = true;
			} else {
				prevdot = false;
				if (!is_atext(ch) && ch < 0x80)
					dotok = false;
			}
		}
		if (dotok) {
			memcpy(path->local, tmp, n + 1);
		} else {
			/* Keep the quotes; escape '"' and '\' again. */
			size_t o = 0;

			path->quoted = true;
			path->local[o++] = '"';
			for (i = 0; i < n; i++) {
				if (tmp[i] == '"' || tmp[i] == '\\') {
					/* Such addresses are never ours and
					 * never worth relaying: refuse. */
					return -1;
				}
				if (o + 2 >= sizeof(path->local))
					return -1;
				path->local[o++] = tmp[i];
			}
			path->local[o++] = '"';
			path->local[o] = '\0';
		}
		for (i = 0; i < n; i++)
			if (tmp[i] == '@' || tmp[i] == '%' || tmp[i] == '!')
				path->special = true;
		return 0;
	}
	prevdot = true;		/* no leading dot */
	while ((ch = cur_peek(c)) >= 0 && ch != '@' && ch != '>') {
		if (ch == '.') {
			if (prevdot)
				return -1;
			prevdot = true;
		} else if (ch >= 0x80) {
			if (!utf8_ok)
				return -2;
			path->utf8 = true;
			prevdot = false;
		} else if (is_atext(ch)) {
			prevdot = false;
		} else
			return -1;
		if (ch == '%' || ch == '!')
			path->special = true;
		if (n >= SMTP_LOCAL_MAX)
			return -1;
		tmp[n++] = (char)ch;
		cur_skip(c, 1);
	}
	if (n == 0 || prevdot)
		return -1;
	tmp[n] = '\0';
	if (path->utf8 && !smtp_utf8_valid(tmp, n))
		return -1;
	memcpy(path->local, tmp, n + 1);
	return 0;
}

const char *
smtp_parse_path(struct cursor *c, bool is_mail, bool utf8_ok,
    struct smtp_path *path)
{
	const char *bad = is_mail ? R_BAD_SENDER : R_BAD_RCPT;
	char route[SMTP_DOMAIN_MAX + 1];
	bool lit, u8 = false;
	int r;

	memset(path, 0, sizeof(*path));
	if (cur_peek(c) != '<')
		return bad;
	cur_skip(c, 1);
	if (cur_peek(c) == '>') {
		cur_skip(c, 1);
		if (!is_mail)
			return R_NULL_RCPT;
		path->null = true;
		return NULL;
	}
	/* A source route "@a,@b:" is accepted and ignored (RFC 5321 C). */
	if (cur_peek(c) == '@') {
		for (;;) {
			if (cur_peek(c) != '@')
				return bad;
			cur_skip(c, 1);
			if (take_domain(c, utf8_ok, route, sizeof(route), &lit,
			    &u8) != 0)
				return bad;
			if (cur_peek(c) == ',') {
				cur_skip(c, 1);
				continue;
			}
			if (cur_peek(c) == ':') {
				cur_skip(c, 1);
				break;
			}
			return bad;
		}
		path->routed = true;
	}
	r = take_local(c, utf8_ok, path);
	if (r == -2)
		return R_NONASCII;
	if (r != 0)
		return bad;
	if (cur_peek(c) != '@') {
		/* "<postmaster>" alone is valid for RCPT (RFC 5321 4.5.1). */
		if (!is_mail && cur_peek(c) == '>' && !path->quoted &&
		    gms_strcasecmp(path->local, "postmaster") == 0) {
			cur_skip(c, 1);
			gms_strlcpy(path->addr, "postmaster", sizeof(path->addr));
			return NULL;
		}
		return bad;
	}
	cur_skip(c, 1);
	r = take_domain(c, utf8_ok, path->domain, sizeof(path->domain),
	    &path->literal, &u8);
	if (r == -2)
		return R_NONASCII;
	if (r != 0)
		return bad;
	if (u8)
		path->utf8 = true;
	if (cur_peek(c) != '>')
		return bad;
	cur_skip(c, 1);
	if (strlen(path->local) + 1 + strlen(path->domain) > SMTP_PATH_MAX - 2)
		return R_TOO_LONG;
	if (gms_snprintf(path->addr, sizeof(path->addr), "%s@%s", path->local,
	    path->domain) != 0)
		return R_TOO_LONG;
	return NULL;
}

bool
smtp_xtext_valid(const char *s, size_t len)
{
	size_t i;
	unsigned char ch;

	for (i = 0; i < len; i++) {
		ch = (unsigned char)s[i];
		if (ch == '+') {
			if (len - i < 3)
				return false;
			if (!strchr("0123456789ABCDEF", s[i + 1]) || s[i + 1] == 0 ||
			    !strchr("0123456789ABCDEF", s[i + 2]) || s[i + 2] == 0)
				return false;
			i += 2;
		} else if (ch < 33 || ch > 126 || ch == '=')
			return false;
	}
	return true;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

ssize_t
smtp_xtext_decode(const char *s, size_t len, char *dst, size_t dstlen)
{
	size_t i, o = 0;
	int v;

	if (dstlen == 0 || !smtp_xtext_valid(s, len))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] == '+') {
			v = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
			i += 2;
		} else
			v = (unsigned char)s[i];
		/* Security: a decoded control character (CR, LF, NUL...) could
		 * end up in a DSN header: refuse it. */
		if (v < 32 || v == 127)
			return -1;
		if (o + 1 >= dstlen)
			return -1;
		dst[o++] = (char)v;
	}
	dst[o] = '\0';
	return (ssize_t)o;
}

/* Parameter scanning shared by MAIL and RCPT. */
struct param {
	const char	*key;
	size_t		 keylen;
	const char	*val;	/* NULL when no "=" */
	size_t		 vallen;
};

/* next_param - read " KEY[=VALUE]"; returns 1 got one, 0 end, -1 syntax. */
static int
next_param(struct cursor *c, struct param *pm)
{
	size_t n;
	int ch;

	if (cur_eof(c))
		return 0;
	if (cur_skip_ws(c) == 0)
		return -1;
	if (cur_eof(c))
		return 0;	/* trailing blanks */
	pm->key = c->p;
	n = 0;
	while (n < c->left && (is_alnum(c->p[n]) || (n > 0 && c->p[n] == '-')))
		n++;
	if (n == 0)
		return -1;
	pm->keylen = n;
	cur_skip(c, n);
	pm->val = NULL;
	pm->vallen = 0;
	if (cur_peek(c) == '=') {
		cur_skip(c, 1);
		pm->val = c->p;
		n = 0;
		while (n < c->left) {
			ch = (unsigned char)c->p[n];
			if (ch < 33 || ch > 126 || ch == '=')
				break;
			n++;
		}
		if (n == 0)
			return -1;
		pm->vallen = n;
		cur_skip(c, n);
	}
	ch = cur_peek(c);
	if (ch != -1 && ch != ' ' && ch != '\t')
		return -1;
	return 1;
}

static bool
key_is(const struct param *pm, const char *name)
{
	return strlen(name) == pm->keylen &&
	    gms_strncasecmp(pm->key, name, pm->keylen) == 0;
}

static bool
val_is(const struct param *pm, const char *v)
{
	return pm->val != NULL && strlen(v) == pm->vallen &&
	    gms_strncasecmp(pm->val, v, pm->vallen) == 0;
}

/* copy_xtext - validate an xtext value and copy it as sent. */
static int
copy_xtext(const struct param *pm, char *dst, size_t dstlen)
{
	char tmp[SMTP_ORCPT_MAX + 1];

	if (pm->val == NULL || pm->vallen >= dstlen)
		return -1;
	if (smtp_xtext_decode(pm->val, pm->vallen, tmp, sizeof(tmp)) < 0)
		return -1;
	memcpy(dst, pm->val, pm->vallen);
	dst[pm->vallen] = '\0';
	return 0;
}

/* skip_verb - "FROM:" / "TO:" with optional blanks after the colon. */
static bool
skip_verb(struct cursor *c, const char *word)
{
	cur_skip_ws(c);
	if (!cur_match_ci(c, word))
		return false;
	/* Tolerate "MAIL FROM: <a@b>" as most servers do. */
	cur_skip_ws(c);
	return true;
}

const char *
smtp_parse_mail(const char *arg, size_t len, struct smtp_path *path,
    struct smtp_mail_params *params)
{
	struct cursor c;
	struct param pm;
	const char *err;
	unsigned int seen = 0;
	uint64_t v;
	int r;

	memset(params, 0, sizeof(*params));
	cur_init(&c, arg, len);
	if (!skip_verb(&c, "FROM:"))
		return R_MAIL_SYNTAX;
	if ((err = smtp_parse_path(&c, true, true, path)) != NULL)
		return err;
	while ((r = next_param(&c, &pm)) == 1) {
		unsigned int bit;

		if (key_is(&pm, "SIZE")) {
			bit = 0x01;
			if (pm.val == NULL || pm.vallen > 20 ||
			    gms_parse_u64(pm.val, pm.vallen, UINT64_MAX, &v) != 0)
				return R_PARAM_SYNTAX;
			params->size = v;
			params->has_size = true;
		} else if (key_is(&pm, "BODY")) {
			bit = 0x02;
			if (val_is(&pm, "7BIT"))
				params->body = SMTP_BODY_7BIT;
			else if (val_is(&pm, "8BITMIME"))
				params->body = SMTP_BODY_8BITMIME;
			else if (val_is(&pm, "BINARYMIME"))
				params->body = SMTP_BODY_BINARYMIME;
			else
				return R_PARAM_SYNTAX;
		} else if (key_is(&pm, "SMTPUTF8")) {
			bit = 0x04;
			if (pm.val != NULL)
				return R_PARAM_SYNTAX;
			params->smtputf8 = true;
		} else if (key_is(&pm, "RET")) {
			bit = 0x08;
			if (val_is(&pm, "FULL"))
				params->ret = SMTP_RET_FULL;
			else if (val_is(&pm, "HDRS"))
				params->ret = SMTP_RET_HDRS;
			else
				return R_PARAM_SYNTAX;
		} else if (key_is(&pm, "ENVID")) {
			bit = 0x10;
			if (copy_xtext(&pm, params->envid,
			    sizeof(params->envid)) != 0)
				return R_PARAM_SYNTAX;
		} else if (key_is(&pm, "AUTH")) {
			bit = 0x20;
			if (val_is(&pm, "<>")) {
				gms_strlcpy(params->auth, "<>",
				    sizeof(params->auth));
			} else if (copy_xtext(&pm, params->auth,
			    sizeof(params->auth)) != 0)
				return R_PARAM_SYNTAX;
		} else
			return R_PARAM_UNKNOWN;
		if (seen & bit)
			return R_PARAM_DUP;
		seen |= bit;
	}
	if (r < 0)
		return R_PARAM_SYNTAX;
	if (path->utf8 && !params->smtputf8)
		return R_NONASCII;
	return NULL;
}

const char *
smtp_parse_rcpt(const char *arg, size_t len, bool smtputf8,
    struct smtp_path *path, struct smtp_rcpt_params *params)
{
	struct cursor c, vc;
	struct param pm;
	const char *err, *w;
	unsigned int seen = 0;
	size_t n;
	int r;

	memset(params, 0, sizeof(*params));
	cur_init(&c, arg, len);
	if (!skip_verb(&c, "TO:"))
		return R_RCPT_SYNTAX;
	if ((err = smtp_parse_path(&c, false, smtputf8, path)) != NULL)
		return err;
	while ((r = next_param(&c, &pm)) == 1) {
		if (key_is(&pm, "NOTIFY")) {
			if (seen & 1)
				return R_PARAM_DUP;
			seen |= 1;
			if (pm.val == NULL)
				return R_PARAM_SYNTAX;
			if (val_is(&pm, "NEVER")) {
				params->notify = SMTP_NOTIFY_NEVER;
				continue;
			}
			cur_init(&vc, pm.val, pm.vallen);
			while (!cur_eof(&vc)) {
				n = cur_take_until(&vc, ",", &w);
				if (n == 7 && gms_strncasecmp(w, "SUCCESS", 7) == 0)
					params->notify |= SMTP_NOTIFY_SUCCESS;
				else if (n == 7 && gms_strncasecmp(w, "FAILURE", 7) == 0)
					params->notify |= SMTP_NOTIFY_FAILURE;
				else if (n == 5 && gms_strncasecmp(w, "DELAY", 5) == 0)
					params->notify |= SMTP_NOTIFY_DELAY;
				else
					return R_PARAM_SYNTAX;
				if (cur_peek(&vc) == ',') {
					cur_skip(&vc, 1);
					if (cur_eof(&vc))
						return R_PARAM_SYNTAX;
				}
			}
		} else if (key_is(&pm, "ORCPT")) {
			const char *semi;

			if (seen & 2)
				return R_PARAM_DUP;
			seen |= 2;
			if (pm.val == NULL)
				return R_PARAM_SYNTAX;
			/* addr-type ";" xtext; the addr-type is an atom. */
			semi = memchr(pm.val, ';', pm.vallen);
			if (semi == NULL || semi == pm.val ||
			    pm.vallen >= sizeof(params->orcpt))
				return R_PARAM_SYNTAX;
			for (w = pm.val; w < semi; w++)
				if (!is_alnum(*w) && *w != '-')
					return R_PARAM_SYNTAX;
			{
				struct param x = pm;

				x.val = semi + 1;
				x.vallen = pm.vallen - (size_t)(semi + 1 - pm.val);
				if (x.vallen == 0 || copy_xtext(&x, params->orcpt,
				    sizeof(params->orcpt)) != 0)
					return R_PARAM_SYNTAX;
			}
			memcpy(params->orcpt, pm.val, pm.vallen);
			params->orcpt[pm.vallen] = '\0';
		} else
			return R_PARAM_UNKNOWN;
	}
	if (r < 0)
		return R_PARAM_SYNTAX;
	return NULL;
}
