/*
 * str.c - bounded copy and format, ASCII case folding and strict number
 * parsing.  Protocol code compares and folds with these rather than the
 * locale-dependent libc functions, and every copy reports truncation.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "gms.h"

int
gms_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size == 0)
		return -1;
	if (len >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, len + 1);
	return 0;
}

int
gms_snprintf(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return 0;
}

static inline int
ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

int
gms_strcasecmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a;
	const unsigned char *y = (const unsigned char *)b;

	while (*x != '\0' && ascii_lower(*x) == ascii_lower(*y)) {
		x++;
		y++;
	}
	return ascii_lower(*x) - ascii_lower(*y);
}

int
gms_strncasecmp(const char *a, const char *b, size_t n)
{
	const unsigned char *x = (const unsigned char *)a;
	const unsigned char *y = (const unsigned char *)b;

	for (; n > 0; n--, x++, y++) {
		if (ascii_lower(*x) != ascii_lower(*y))
			return ascii_lower(*x) - ascii_lower(*y);
		if (*x == '\0')
			break;
	}
	return 0;
}

void
gms_lowercase(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)ascii_lower((unsigned char)*s);
}

int
gms_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *value_r)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*value_r = v;
	return 0;
}

/* The parsing cursor. */

void
cur_init(struct cursor *c, const char *p, size_t len)
{
	c->p = p;
	c->left = len;
}

void
cur_skip(struct cursor *c, size_t n)
{
	if (n > c->left)
		n = c->left;
	c->p += n;
	c->left -= n;
}

size_t
cur_skip_ws(struct cursor *c)
{
	size_t n = 0;

	while (n < c->left && (c->p[n] == ' ' || c->p[n] == '\t'))
		n++;
	cur_skip(c, n);
	return n;
}

bool
cur_match_ci(struct cursor *c, const char *s)
{
	size_t n = strlen(s);

	if (n > c->left || gms_strncasecmp(c->p, s, n) != 0)
		return false;
	/* gms_strncasecmp stops at a NUL in either string: be exact. */
	if (memchr(c->p, '\0', n) != NULL)
		return false;
	cur_skip(c, n);
	return true;
}

size_t
cur_take_until(struct cursor *c, const char *stop, const char **p_r)
{
	size_t n = 0;

	/* strchr() would match the terminating NUL: a NUL byte never stops. */
	while (n < c->left && (c->p[n] == '\0' || strchr(stop, c->p[n]) == NULL))
		n++;
	*p_r = c->p;
	cur_skip(c, n);
	return n;
}
