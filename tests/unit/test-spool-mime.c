/*
 * test-spool-mime.c - the MIME parser against the corpus in tests/mime/:
 * for every NAME.eml the ENVELOPE, BODYSTRUCTURE, BODY, part table and
 * decoded Subject must equal NAME.expected line by line.  Bytes outside
 * printable ASCII are written \xNN and a backslash as \\ in the expected
 * files.  Then robustness: every prefix of every corpus message and a
 * few thousand seeded random mutations are parsed (no crash, no hang,
 * the part table always inside the message), and section lookups are
 * checked on the nested corpus messages.
 *
 * With "--write" it (re)writes the expected files instead: only for
 * review by a person, never to make a failing test pass unseen.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool/spool.h"
#include "tests/unit/unit.h"

#ifndef GMS_SRCDIR
#define GMS_SRCDIR "."
#endif

static void
escape(struct buf *o, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\')
			(void)buf_puts(o, "\\\\");
		else if (c < 0x20 || c >= 0x7f)
			(void)buf_printf(o, "\\x%02x", c);
		else
			(void)buf_putc(o, (char)c);
	}
}

/* describe - the text that NAME.expected holds for one message. */
static void
describe(const char *data, size_t len, struct buf *o)
{
	struct spool_cache c;
	struct buf subj = BUF_INIT(0);
	size_t i;

	spool_mime_parse(data, len, 100, 10000, &c);
	(void)buf_puts(o, "ENVELOPE ");
	escape(o, c.envelope);
	(void)buf_puts(o, "\nBODYSTRUCTURE ");
	escape(o, c.bodystructure);
	(void)buf_puts(o, "\nBODY ");
	escape(o, c.body);
	(void)buf_printf(o, "\nPARTS %zu truncated=%d\n", c.nparts,
	    c.truncated ? 1 : 0);
	for (i = 0; i < c.nparts && i < 12; i++) {
		const struct spool_part *p = &c.parts[i];

		(void)buf_printf(o, "PART %zu off=%llu header=%llu body=%llu "
		    "parent=%d children=%u kind=%u lines=%u enc=%u\n", i,
		    (unsigned long long)p->offset,
		    (unsigned long long)p->header_size,
		    (unsigned long long)p->body_size,
		    p->parent == UINT32_MAX ? -1 : (int)p->parent,
		    p->nchildren, p->kind, p->lines, p->encoding);
	}
	/* The decoded Subject, through the RFC 2047 decoder. */
	{
		const char *s = data, *end = data + len;

		while (s < end) {
			const char *nl = memchr(s, '\n', (size_t)(end - s));
			size_t ll = nl ? (size_t)(nl - s) : (size_t)(end - s);

			if (ll == 0 || (ll == 1 && s[0] == '\r'))
				break;
			if (ll > 8 && gms_strncasecmp(s, "Subject:", 8) == 0) {
				struct buf raw = BUF_INIT(0);
				const char *t = nl ? nl + 1 : end;

				{
					size_t sk = 8;

					while (sk < ll && (s[sk] == ' ' ||
					    s[sk] == '\t'))
						sk++;
					(void)buf_append(&raw, s + sk, ll - sk);
				}
				/* unfold */
				while (t < end && (*t == ' ' || *t == '\t')) {
					const char *n2 = memchr(t, '\n',
					    (size_t)(end - t));
					size_t l2 = n2 ? (size_t)(n2 - t) :
					    (size_t)(end - t);

					(void)buf_append(&raw, t, l2);
					t = n2 ? n2 + 1 : end;
				}
				while (raw.len > 0 && (raw.data[raw.len - 1] ==
				    '\r'))
					raw.len--;
				{
					size_t k, j = 0;

					for (k = 0; k < raw.len; k++)
						if (raw.data[k] != '\r')
							raw.data[j++] = raw.data[k];
					raw.len = j;
				}
				spool_mime_decode_header(raw.data, raw.len, &subj);
				buf_free(&raw);
				break;
			}
			s = nl ? nl + 1 : end;
		}
	}
	(void)buf_puts(o, "SUBJECT ");
	escape(o, subj.data ? buf_cstr(&subj) : "");
	(void)buf_puts(o, "\n");
	buf_free(&subj);
	spool_cache_free(&c);
}

static char *
slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(p);
		return NULL;
	}
	p[n] = '\0';
	fclose(f);
	*len_r = (size_t)n;
	return p;
}

/* check_parts - every part lies inside the message. */
static bool
parts_inside(const struct spool_cache *c, size_t len)
{
	size_t i;

	for (i = 0; i < c->nparts; i++) {
		const struct spool_part *p = &c->parts[i];

		if (p->offset > len || p->header_size > len - p->offset ||
		    p->body_size > len - p->offset - p->header_size)
			return false;
		if (i > 0 && p->parent >= i)
			return false;
	}
	return c->nparts >= 1 && c->envelope && c->bodystructure && c->body;
}

static void
test_sections(const char *dir)
{
	char path[4096];
	struct spool_cache c;
	uint32_t pth[3];
	uint64_t off, sz;
	size_t len;
	char *data;

	if (snprintf(path, sizeof(path), "%s/rfc822-in-multipart.eml", dir) >=
	    (int)sizeof(path))
		return;
	data = slurp(path, &len);
	if (data == NULL) {
		CHECK(false, "read %s", path);
		return;
	}
	spool_mime_parse(data, len, 100, 10000, &c);
	pth[0] = 2;
	CHECK(spool_section_find(c.parts, c.nparts, pth, 1, SPOOL_SECT_HEADER,
	    &off, &sz) == SPOOL_OK && sz > 5 &&
	    strncmp(data + off, "From: Original", 14) == 0 &&
	    memcmp(data + off + sz - 4, "\r\n\r\n", 4) == 0,
	    "BODY[2.HEADER] is the encapsulated header");
	CHECK(spool_section_find(c.parts, c.nparts, pth, 1, SPOOL_SECT_TEXT,
	    &off, &sz) == SPOOL_OK && strncmp(data + off, "--B2", 4) == 0,
	    "BODY[2.TEXT] is the encapsulated body");
	pth[1] = 2;
	CHECK(spool_section_find(c.parts, c.nparts, pth, 2, SPOOL_SECT_ALL,
	    &off, &sz) == SPOOL_OK && sz == 15 &&
	    memcmp(data + off, "<b>original</b>", 15) == 0,
	    "BODY[2.2] is the html part inside the forwarded message");
	CHECK(spool_section_find(c.parts, c.nparts, pth, 2, SPOOL_SECT_MIME,
	    &off, &sz) == SPOOL_OK &&
	    memcmp(data + off, "Content-Type: text/html\r\n\r\n", sz) == 0,
	    "BODY[2.2.MIME]");
	pth[1] = 3;
	CHECK(spool_section_find(c.parts, c.nparts, pth, 2, SPOOL_SECT_ALL,
	    &off, &sz) == SPOOL_ENOENT, "BODY[2.3] does not exist");
	pth[0] = 1;
	pth[1] = 1;
	CHECK(spool_section_find(c.parts, c.nparts, pth, 2, SPOOL_SECT_ALL,
	    &off, &sz) == SPOOL_ENOENT, "BODY[1.1] of a text part: none");
	pth[0] = 1;
	CHECK(spool_section_find(c.parts, c.nparts, pth, 1, SPOOL_SECT_ALL,
	    &off, &sz) == SPOOL_OK && sz == 26 &&
	    memcmp(data + off, "See the forwarded message.", 26) == 0,
	    "BODY[1]");
	spool_cache_free(&c);
	free(data);

	if (snprintf(path, sizeof(path), "%s/simple.eml", dir) >=
	    (int)sizeof(path))
		return;
	data = slurp(path, &len);
	if (data == NULL)
		return;
	spool_mime_parse(data, len, 100, 10000, &c);
	pth[0] = 1;
	CHECK(spool_section_find(c.parts, c.nparts, pth, 1, SPOOL_SECT_ALL,
	    &off, &sz) == SPOOL_OK && strncmp(data + off, "Hello Joe", 9) == 0,
	    "BODY[1] of a single-part message is its body");
	pth[0] = 2;
	CHECK(spool_section_find(c.parts, c.nparts, pth, 1, SPOOL_SECT_ALL,
	    &off, &sz) == SPOOL_ENOENT, "BODY[2] of a single-part message");
	CHECK(spool_section_find(c.parts, c.nparts, pth, 0, SPOOL_SECT_ALL,
	    &off, &sz) == SPOOL_OK && off == 0 && sz == len, "BODY[]");
	spool_cache_free(&c);
	free(data);
}

/* A tiny deterministic generator for the mutations. */
static uint32_t rng = 12345;
static uint32_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

int
main(int argc, char **argv)
{
	const char *src = getenv("srcdir");
	char dir[4096], path[4096 + 256 + 16];	/* dir, "/", a file name */
	bool write_mode = argc > 1 && strcmp(argv[1], "--write") == 0;
	struct dirent **names = NULL;
	int n, i, files = 0;
	size_t all_prefixes = 0, bad_prefixes = 0;
	unsigned mutations = 0, bad_mutations = 0;

	snprintf(dir, sizeof(dir), "%s/tests/mime", src ? src : GMS_SRCDIR);
	n = scandir(dir, &names, NULL, alphasort);
	CHECK(n > 0, "corpus directory %s readable", dir);
	for (i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		size_t nl = strlen(nm), len, elen;
		struct buf o = BUF_INIT(0);
		char *data, *exp;

		if (nl < 5 || strcmp(nm + nl - 4, ".eml") != 0)
			continue;
		files++;
		snprintf(path, sizeof(path), "%s/%s", dir, nm);
		data = slurp(path, &len);
		if (data == NULL) {
			CHECK(false, "read %s", path);
			continue;
		}
		describe(data, len, &o);
		snprintf(path, sizeof(path), "%s/%.*s.expected", dir,
		    (int)(nl - 4), nm);
		if (write_mode) {
			FILE *f = fopen(path, "w");

			if (f != NULL) {
				fwrite(o.data, 1, o.len, f);
				fclose(f);
			}
			printf("# wrote %s\n", path);
		} else {
			exp = slurp(path, &elen);
			CHECK(exp != NULL && elen == o.len &&
			    memcmp(exp, o.data, o.len) == 0,
			    "%s matches its .expected", nm);
			if (exp == NULL || elen != o.len ||
			    memcmp(exp, o.data, o.len) != 0)
				printf("# got:\n# %s\n", buf_cstr(&o));
			free(exp);
		}
		/* Every prefix parses. */
		{
			size_t cut;

			for (cut = 0; cut <= len; cut++) {
				struct spool_cache c;
				char *copy = malloc(cut + 1);

				memcpy(copy, data, cut);
				spool_mime_parse(copy, cut, 100, 10000, &c);
				all_prefixes++;
				if (!parts_inside(&c, cut))
					bad_prefixes++;
				spool_cache_free(&c);
				free(copy);
				if (len > 2000 && cut > 200)
					cut += 97;	/* the deep one: sample */
			}
		}
		/* Seeded random mutations. */
		{
			unsigned m;

			for (m = 0; m < 300; m++) {
				struct spool_cache c;
				char *copy = malloc(len + 1);
				unsigned k, edits = 1 + next_rand() % 8;

				memcpy(copy, data, len);
				for (k = 0; k < edits && len > 0; k++) {
					static const char pool[] =
					    "-\r\n:;=\"()<>@,\\*'%\x80\xff\0 \tB";
					copy[next_rand() % len] =
					    pool[next_rand() % (sizeof(pool) - 1)];
				}
				spool_mime_parse(copy, len, 20, 50, &c);
				mutations++;
				if (!parts_inside(&c, len) || c.nparts > 50)
					bad_mutations++;
				spool_cache_free(&c);
				free(copy);
			}
		}
		buf_free(&o);
		free(data);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	CHECK(files >= 12, "%d corpus messages", files);
	CHECK(bad_prefixes == 0, "%zu prefixes parsed, parts inside the data",
	    all_prefixes);
	CHECK(bad_mutations == 0, "%u mutated messages parsed within limits",
	    mutations);
	{
		/* Limits: a flat multipart with many parts. */
		struct buf m = BUF_INIT(0);
		struct spool_cache c;
		int k;

		(void)buf_puts(&m, "Content-Type: multipart/mixed; boundary=q\r\n\r\n");
		for (k = 0; k < 300; k++)
			(void)buf_puts(&m, "--q\r\n\r\nx\r\n");
		(void)buf_puts(&m, "--q--\r\n");
		spool_mime_parse(m.data, m.len, 100, 100, &c);
		CHECK(c.nparts == 100 && c.truncated, "part limit of 100 holds "
		    "(%zu parts)", c.nparts);
		spool_cache_free(&c);
		spool_mime_parse(m.data, m.len, 100, 10000, &c);
		CHECK(c.nparts == 301 && !c.truncated, "301 parts without limit");
		spool_cache_free(&c);
		buf_free(&m);
	}
	test_sections(dir);
	return unit_done();
}
