/*
 * out.c - what gmsadm prints: aligned tables and "key: value" lists for
 * people, one JSON value for scripts (--json), short notes, and a
 * progress bar on a terminal.
 *
 * A handler collects a result (struct adm_out) and prints it at the end,
 * so that column widths fit the data and a JSON document is complete or
 * absent, never half written.  Values are copied; control characters in
 * values are shown as '?' in tables so that directory contents cannot
 * move the terminal's cursor.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/admin.h"

enum out_kind { OUT_TABLE, OUT_OBJECT };
enum val_kind { VAL_STR, VAL_NUM, VAL_BOOL, VAL_LIST, VAL_NULL };

struct out_val {
	const char	*key;		/* borrowed (objects) */
	enum val_kind	 kind;
	char		*s;		/* owned (STR) */
	uint64_t	 n;		/* NUM, BOOL */
	char		**list;		/* owned (LIST) */
	size_t		 nlist;
};

struct adm_out {
	const struct adm	*a;
	enum out_kind		 kind;
	const char *const	*cols;	/* borrowed */
	size_t			 ncols;
	char			**cells;	/* owned: nrows * ncols */
	size_t			 nrows;
	size_t			 cap;
	struct out_val		*vals;		/* owned (objects) */
	size_t			 nvals;
};

void
adm_json_str(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");

	(void)buf_putc(b, '"');
	for (; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			(void)buf_puts(b, "\\\"");
			break;
		case '\\':
			(void)buf_puts(b, "\\\\");
			break;
		case '\n':
			(void)buf_puts(b, "\\n");
			break;
		case '\r':
			(void)buf_puts(b, "\\r");
			break;
		case '\t':
			(void)buf_puts(b, "\\t");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				(void)buf_printf(b, "\\u%04x", *p);
			else
				(void)buf_putc(b, *p);
		}
	}
	(void)buf_putc(b, '"');
}

struct adm_out *
adm_table_new(const struct adm *a, const char *const *cols, size_t ncols)
{
	struct adm_out *o = xcalloc(1, sizeof(*o));

	o->a = a;
	o->kind = OUT_TABLE;
	o->cols = cols;
	o->ncols = ncols;
	return o;
}

void
adm_table_row(struct adm_out *o, const char *const *vals)
{
	size_t i;

	if (o->nrows == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 16;
		o->cells = xreallocarray(o->cells, o->cap, o->ncols *
		    sizeof(char *));
	}
	for (i = 0; i < o->ncols; i++)
		o->cells[o->nrows * o->ncols + i] =
		    xstrdup(vals[i] != NULL ? vals[i] : "");
	o->nrows++;
}

struct adm_out *
adm_object_new(const struct adm *a)
{
	struct adm_out *o = xcalloc(1, sizeof(*o));

	o->a = a;
	o->kind = OUT_OBJECT;
	return o;
}

static struct out_val *
obj_add(struct adm_out *o, const char *key, enum val_kind kind)
{
	struct out_val *v;

	o->vals = xreallocarray(o->vals, o->nvals + 1, sizeof(*o->vals));
	v = &o->vals[o->nvals++];
	memset(v, 0, sizeof(*v));
	v->key = key;
	v->kind = kind;
	return v;
}

void
adm_object_str(struct adm_out *o, const char *key, const char *val)
{
	struct out_val *v = obj_add(o, key, val != NULL ? VAL_STR : VAL_NULL);

	v->s = xstrdup(val != NULL ? val : "");
}

void
adm_object_num(struct adm_out *o, const char *key, uint64_t val)
{
	obj_add(o, key, VAL_NUM)->n = val;
}

void
adm_object_bool(struct adm_out *o, const char *key, bool val)
{
	obj_add(o, key, VAL_BOOL)->n = val;
}

void
adm_object_list(struct adm_out *o, const char *key, const char *const *vals,
    size_t n)
{
	struct out_val *v = obj_add(o, key, VAL_LIST);
	size_t i;

	v->list = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		v->list[i] = xstrdup(vals[i]);
	v->nlist = n;
}

/* safe_put - a value for a terminal: control bytes become '?'. */
static void
safe_put(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		(void)buf_putc(b, ((unsigned char)*s < 0x20 || *s == 0x7f) ?
		    '?' : *s);
}

/* display_width - columns of a UTF-8 string (continuation bytes are not
 * counted; wide characters are rare in our data). */
static size_t
display_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void
print_table(struct adm_out *o, struct buf *b)
{
	size_t *w = xcalloc(o->ncols, sizeof(size_t));
	size_t r, i, k;

	if (o->a->json) {
		(void)buf_putc(b, '[');
		for (r = 0; r < o->nrows; r++) {
			(void)buf_puts(b, r ? ",{" : "{");
			for (i = 0; i < o->ncols; i++) {
				if (i)
					(void)buf_putc(b, ',');
				adm_json_str(b, o->cols[i]);
				(void)buf_putc(b, ':');
				adm_json_str(b, o->cells[r * o->ncols + i]);
			}
			(void)buf_putc(b, '}');
		}
		(void)buf_puts(b, "]\n");
		free(w);
		return;
	}
	if (o->nrows == 0) {
		free(w);
		return;
	}
	for (i = 0; i < o->ncols; i++)
		w[i] = display_width(o->cols[i]);
	for (r = 0; r < o->nrows; r++)
		for (i = 0; i < o->ncols; i++) {
			size_t cw = display_width(o->cells[r * o->ncols + i]);

			if (cw > w[i])
				w[i] = cw;
		}
	for (r = 0; r <= o->nrows; r++) {
		for (i = 0; i < o->ncols; i++) {
			const char *s = r == 0 ? o->cols[i] :
			    o->cells[(r - 1) * o->ncols + i];
			char upper[64];

			if (r == 0) {
				/* Column headers in capitals. */
				for (k = 0; s[k] != '\0' && k + 1 < sizeof(upper);
				    k++)
					upper[k] = (s[k] >= 'a' && s[k] <= 'z') ?
					    (char)(s[k] - 32) : s[k];
				upper[k] = '\0';
				s = upper;
			}
			safe_put(b, s);
			if (i + 1 < o->ncols)
				for (k = display_width(s); k < w[i] + 2; k++)
					(void)buf_putc(b, ' ');
		}
		(void)buf_putc(b, '\n');
	}
	free(w);
}

static void
print_object(struct adm_out *o, struct buf *b)
{
	size_t i, k, w = 0;

	if (o->a->json) {
		(void)buf_putc(b, '{');
		for (i = 0; i < o->nvals; i++) {
			struct out_val *v = &o->vals[i];

			if (i)
				(void)buf_putc(b, ',');
			adm_json_str(b, v->key);
			(void)buf_putc(b, ':');
			switch (v->kind) {
			case VAL_STR:
				adm_json_str(b, v->s);
				break;
			case VAL_NULL:
				(void)buf_puts(b, "null");
				break;
			case VAL_NUM:
				(void)buf_printf(b, "%llu",
				    (unsigned long long)v->n);
				break;
			case VAL_BOOL:
				(void)buf_puts(b, v->n ? "true" : "false");
				break;
			case VAL_LIST:
				(void)buf_putc(b, '[');
				for (k = 0; k < v->nlist; k++) {
					if (k)
						(void)buf_putc(b, ',');
					adm_json_str(b, v->list[k]);
				}
				(void)buf_putc(b, ']');
				break;
			}
		}
		(void)buf_puts(b, "}\n");
		return;
	}
	for (i = 0; i < o->nvals; i++)
		if (strlen(o->vals[i].key) > w)
			w = strlen(o->vals[i].key);
	for (i = 0; i < o->nvals; i++) {
		struct out_val *v = &o->vals[i];

		(void)buf_printf(b, "%s:", v->key);
		for (k = strlen(v->key); k < w + 1; k++)
			(void)buf_putc(b, ' ');
		switch (v->kind) {
		case VAL_STR:
			safe_put(b, v->s[0] != '\0' ? v->s : "-");
			break;
		case VAL_NULL:
			(void)buf_puts(b, "-");
			break;
		case VAL_NUM:
			(void)buf_printf(b, "%llu", (unsigned long long)v->n);
			break;
		case VAL_BOOL:
			(void)buf_puts(b, v->n ? "yes" : "no");
			break;
		case VAL_LIST:
			for (k = 0; k < v->nlist; k++) {
				if (k) {
					size_t p;

					(void)buf_putc(b, '\n');
					for (p = 0; p < w + 2; p++)
						(void)buf_putc(b, ' ');
				}
				safe_put(b, v->list[k]);
			}
			if (v->nlist == 0)
				(void)buf_puts(b, "-");
			break;
		}
		(void)buf_putc(b, '\n');
	}
}

void
adm_out_print(struct adm_out **op)
{
	struct adm_out *o = *op;
	struct buf b = BUF_INIT(0);
	size_t i, k;

	if (o == NULL)
		return;
	if (o->kind == OUT_TABLE)
		print_table(o, &b);
	else
		print_object(o, &b);
	fwrite(b.data != NULL ? b.data : "", 1, b.len, stdout);
	fflush(stdout);
	buf_free(&b);
	for (i = 0; i < o->nrows * o->ncols; i++)
		free(o->cells[i]);
	free(o->cells);
	for (i = 0; i < o->nvals; i++) {
		free(o->vals[i].s);
		for (k = 0; k < o->vals[i].nlist; k++)
			free(o->vals[i].list[k]);
		free(o->vals[i].list);
	}
	free(o->vals);
	free(o);
	*op = NULL;
}

void
adm_note(const struct adm *a, const char *fmt, ...)
{
	va_list ap;

	if (a->json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* DNS records. */

void
adm_dkim_zone_line(struct buf *b, const char *domain, const char *selector,
    const char *txt)
{
	size_t len = strlen(txt), off;

	(void)buf_printf(b, "%s._domainkey.%s. IN TXT", selector, domain);
	if (len <= 255) {
		(void)buf_printf(b, " \"%s\"", txt);
		return;
	}
	/* A TXT string holds at most 255 bytes: split, the resolver joins. */
	(void)buf_puts(b, " (");
	for (off = 0; off < len; off += 255)
		(void)buf_printf(b, " \"%.*s\"", (int)(len - off > 255 ? 255 :
		    len - off), txt + off);
	(void)buf_puts(b, " )");
}

/* ------------------------------------------------------------------ */
/* Progress bar. */

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
progress_draw(struct adm_progress *p)
{
	char bar[41];
	size_t i, fill;

	fill = p->total ? (size_t)(p->done * 40 / p->total) : 0;
	if (fill > 40)
		fill = 40;
	for (i = 0; i < 40; i++)
		bar[i] = i < fill ? '#' : ' ';
	bar[40] = '\0';
	fprintf(stderr, "\r%s [%s] %llu/%llu", p->label, bar,
	    (unsigned long long)p->done, (unsigned long long)p->total);
	fflush(stderr);
}

void
adm_progress_start(struct adm_progress *p, const struct adm *a,
    const char *label, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->a = a;
	p->label = label;
	p->total = total;
	p->on = a->tty && !a->json && !a->quiet;
	if (p->on) {
		p->last_ms = now_ms();
		progress_draw(p);
	}
}

void
adm_progress_set(struct adm_progress *p, uint64_t done)
{
	long long t;

	p->done = done;
	if (!p->on)
		return;
	t = now_ms();
	if (t - p->last_ms < 100 && done < p->total)
		return;
	p->last_ms = t;
	progress_draw(p);
}

void
adm_progress_end(struct adm_progress *p)
{
	if (!p->on)
		return;
	progress_draw(p);
	fputc('\n', stderr);
	p->on = false;
}
