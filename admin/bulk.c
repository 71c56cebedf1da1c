/*
 * bulk.c - "gmsadm bulk add FILE.csv": provision an institution's staff
 * (thousands of rows) in one command, all or nothing.
 *
 * The file is CSV (RFC 4180: quoted fields, "" inside quotes, CRLF or LF)
 * with a header naming the columns: address (required), name, quota,
 * quota_messages, password.  Every row is checked first, against the file
 * itself (syntax, duplicates) and the directory (the domain is ours and in
 * the administrator's scope, the address is free); one bad row and nothing
 * is changed, every bad row is reported with its line.  Then the
 * mailboxes are added one by one with a progress bar on a terminal; if the
 * directory fails in the middle, the ones already added are deleted again,
 * so the directory ends as it was.
 *
 * Security: the file may hold passwords.  It is opened before privileges
 * are dropped (so it can stay root-only), refused when other users can
 * read it and it has a password column, and the passwords are wiped from
 * memory after use.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/admin.h"
#include "directory/directory.h"

#define BULK_FILE_MAX	(64u * 1024 * 1024)	/* bytes of a CSV file */
#define BULK_ROWS_MAX	100000
#define BULK_ERRORS_MAX	50			/* bad rows reported */

enum { COL_ADDRESS, COL_NAME, COL_QUOTA, COL_QMSGS, COL_PASSWORD, COL_N };
static const char *const col_names[COL_N] = {
	"address", "name", "quota", "quota_messages", "password",
};

struct bulk_row {
	unsigned	 line;
	char		*f[COL_N];	/* owned, or NULL when the column is absent */
	struct dir_mailbox mb;
};

/* trim_inplace - remove blanks around a field. */
static void
trim_inplace(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	while (s[i] == ' ' || s[i] == '\t')
		i++;
	if (i > 0)
		memmove(s, s + i, n - i + 1);
}

static int
parse_size(const char *s, uint64_t *v_r)
{
	uint64_t n, mul = 1;
	size_t len = strlen(s);

	if (len == 0) {
		*v_r = 0;
		return 0;
	}
	switch (s[len - 1]) {
	case 'k': case 'K': mul = 1024; len--; break;
	case 'm': case 'M': mul = 1024 * 1024; len--; break;
	case 'g': case 'G': mul = 1024ULL * 1024 * 1024; len--; break;
	default: break;
	}
	if (gms_parse_u64(s, len, UINT64_MAX / mul, &n) < 0)
		return -1;
	*v_r = n * mul;
	return 0;
}

/* address_ok - local@domain with sane characters and lengths. */
static bool
address_ok(const char *a)
{
	const char *at = strrchr(a, '@');
	size_t i;

	if (at == NULL || at == a || at[1] == '\0' ||
	    (size_t)(at - a) > DIR_LOCAL_MAX || strlen(a) > DIR_ADDR_MAX)
		return false;
	for (i = 0; a[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)a[i];

		if (ch <= ' ' || ch >= 0x7f || strchr("\"(),:;<>[\\]", ch))
			return false;
	}
	return strchr(a, '@') == at;
}

struct bulk {
	struct adm	*a;
	struct bulk_row	*rows;
	size_t		 nrows;
	int		 col[COL_N];	/* field index of each column, or -1 */
	unsigned	 bad;
	/* Domains already looked up: name, and 1 ok / 0 bad. */
	char		**doms;
	int		*dom_ok;
	size_t		 ndoms;
};

static void
row_error(struct bulk *bk, unsigned line, const char *addr, const char *fmt,
    ...) GMS_PRINTF(4, 5);

static void
row_error(struct bulk *bk, unsigned line, const char *addr, const char *fmt,
    ...)
{
	va_list ap;

	bk->bad++;
	if (bk->bad > BULK_ERRORS_MAX)
		return;
	fprintf(stderr, "gmsadm: line %u%s%s: ", line, addr ? ": " : "",
	    addr ? addr : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* check_domain - is the domain ours and ours to manage?  Cached. */
static int
check_domain(struct bulk *bk, const char *domain, const char **why)
{
	struct dir_domain dom;
	size_t i;
	int rc, ok;

	for (i = 0; i < bk->ndoms; i++)
		if (gms_strcasecmp(bk->doms[i], domain) == 0)
			goto cached;
	rc = directory_domain(bk->a->dir, domain, &dom);
	if (rc == DIR_TEMPFAIL)
		return -1;
	ok = rc != DIR_FOUND ? 0 : (bk->a->scope[0] != '\0' &&
	    gms_strcasecmp(dom.institution, bk->a->scope) != 0) ? 2 : 1;
	bk->doms = xreallocarray(bk->doms, bk->ndoms + 1, sizeof(char *));
	bk->dom_ok = xreallocarray(bk->dom_ok, bk->ndoms + 1, sizeof(int));
	bk->doms[bk->ndoms] = xstrdup(domain);
	bk->dom_ok[bk->ndoms] = ok;
	i = bk->ndoms++;
cached:
	*why = bk->dom_ok[i] == 0 ? "is not one of our domains" :
	    bk->dom_ok[i] == 2 ? "is outside your institution" : NULL;
	return bk->dom_ok[i] == 1 ? 1 : 0;
}

static void
bulk_free(struct bulk *bk)
{
	size_t i, k;

	for (i = 0; i < bk->nrows; i++)
		for (k = 0; k < COL_N; k++)
			if (bk->rows[i].f[k] != NULL) {
				gms_wipe(bk->rows[i].f[k],
				    strlen(bk->rows[i].f[k]));
				free(bk->rows[i].f[k]);
			}
	free(bk->rows);
	for (i = 0; i < bk->ndoms; i++)
		free(bk->doms[i]);
	free(bk->doms);
	free(bk->dom_ok);
}

/* read_file - the whole file, bounded. */
static int
read_file(struct adm *a, const char *path, struct buf *b, bool *open_r)
{
	struct stat st;
	char chunk[65536];
	ssize_t r;
	int fd;

	fd = adm_open_input(a, path);
	if (fd < 0)
		return adm_fail(a, EX_NOINPUT, "cannot open %s: %s", path,
		    strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return adm_fail(a, EX_NOINPUT, "%s is not a regular file", path);
	}
	*open_r = (st.st_mode & (S_IRWXG | S_IRWXO)) != 0;
	buf_init(b, BULK_FILE_MAX);
	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return adm_fail(a, EX_IOERR, "reading %s: %s", path,
			    strerror(errno));
		}
		if (r == 0)
			break;
		if (buf_append(b, chunk, (size_t)r) < 0) {
			close(fd);
			return adm_fail(a, EX_DATAERR, "%s is larger than %u "
			    "bytes; split it", path, BULK_FILE_MAX);
		}
	}
	close(fd);
	return EX_OK;
}

/* parse_csv - header and rows into bk.  EX_OK or an exit code. */
static int
parse_csv(struct bulk *bk, const char *path, const char *p, const char *end)
{
	char **fields = NULL;
	size_t nf = 0, k, i;
	unsigned line = 1, rec_line;
	bool eol, header = true;
	const char *err = NULL;
	char *f;

	for (k = 0; k < COL_N; k++)
		bk->col[k] = -1;
	/* A UTF-8 byte order mark is not part of the first column's name. */
	if (end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end) {
		rec_line = line;
		nf = 0;
		do {
			f = adm_csv_field(&p, end, &eol, &line, &err);
			if (f == NULL) {
				for (k = 0; k < nf; k++)
					free(fields[k]);
				free(fields);
				return adm_fail(bk->a, EX_DATAERR, "%s:%u: %s; "
				    "nothing was changed", path, rec_line, err);
			}
			fields = xreallocarray(fields, nf + 1, sizeof(char *));
			fields[nf++] = f;
		} while (!eol && nf < 64);
		line++;
		if (nf == 1 && fields[0][0] == '\0') {	/* blank line */
			free(fields[0]);
			continue;
		}
		if (header) {
			for (k = 0; k < nf; k++) {
				trim_inplace(fields[k]);
				gms_lowercase(fields[k]);
				for (i = 0; i < COL_N; i++)
					if (strcmp(fields[k], col_names[i]) == 0)
						break;
				if (i == COL_N) {
					err = fields[k];
					break;
				}
				bk->col[i] = (int)k;
			}
			if (err != NULL) {
				i = (size_t)adm_fail(bk->a, EX_DATAERR, "%s:%u: "
				    "unknown column '%s' (columns: address, "
				    "name, quota, quota_messages, password)",
				    path, rec_line, err);
				for (k = 0; k < nf; k++)
					free(fields[k]);
				free(fields);
				return (int)i;
			}
			for (k = 0; k < nf; k++)
				free(fields[k]);
			header = false;
			if (bk->col[COL_ADDRESS] < 0) {
				free(fields);
				return adm_fail(bk->a, EX_DATAERR, "%s:1: the "
				    "header must name an 'address' column",
				    path);
			}
			continue;
		}
		if (bk->nrows == BULK_ROWS_MAX) {
			for (k = 0; k < nf; k++)
				free(fields[k]);
			free(fields);
			return adm_fail(bk->a, EX_DATAERR, "%s has more than %d "
			    "rows; split it", path, BULK_ROWS_MAX);
		}
		bk->rows = xreallocarray(bk->rows, bk->nrows + 1,
		    sizeof(*bk->rows));
		memset(&bk->rows[bk->nrows], 0, sizeof(*bk->rows));
		bk->rows[bk->nrows].line = rec_line;
		for (i = 0; i < COL_N; i++)
			if (bk->col[i] >= 0)
				bk->rows[bk->nrows].f[i] = xstrdup(
				    (size_t)bk->col[i] < nf ?
				    fields[bk->col[i]] : "");
		bk->nrows++;
		for (k = 0; k < nf; k++) {
			gms_wipe(fields[k], strlen(fields[k]));
			free(fields[k]);
		}
	}
	free(fields);
	if (header)
		return adm_fail(bk->a, EX_DATAERR, "%s is empty", path);
	return EX_OK;
}

/* cmp_addr - qsort of row pointers by address, for duplicates. */
static int
cmp_addr(const void *x, const void *y)
{
	const struct bulk_row *const *a = x, *const *b = y;

	return strcmp((*a)->mb.address, (*b)->mb.address);
}

static int
validate(struct bulk *bk)
{
	struct bulk_row **sorted;
	size_t i;
	const char *why;
	int rc;

	for (i = 0; i < bk->nrows; i++) {
		struct bulk_row *r = &bk->rows[i];
		char *addr = r->f[COL_ADDRESS];
		const char *at;

		trim_inplace(addr);
		gms_lowercase(addr);
		if (!address_ok(addr)) {
			row_error(bk, r->line, addr[0] ? addr : NULL,
			    "not a valid address");
			continue;
		}
		(void)gms_strlcpy(r->mb.address, addr, sizeof(r->mb.address));
		at = strrchr(addr, '@');
		rc = check_domain(bk, at + 1, &why);
		if (rc < 0)
			return adm_fail(bk->a, EX_TEMPFAIL, "the directory is "
			    "unavailable; nothing was changed, try again later");
		if (rc == 0) {
			row_error(bk, r->line, addr, "%s %s", at + 1, why);
			continue;
		}
		if (r->f[COL_NAME] != NULL && gms_strlcpy(r->mb.display_name,
		    r->f[COL_NAME], sizeof(r->mb.display_name)) < 0)
			row_error(bk, r->line, addr, "name longer than %d bytes",
			    DIR_NAME_MAX);
		if (r->f[COL_QUOTA] != NULL && parse_size(r->f[COL_QUOTA],
		    &r->mb.quota_bytes) < 0)
			row_error(bk, r->line, addr, "quota '%s' is not a size "
			    "(bytes with K M G)", r->f[COL_QUOTA]);
		if (r->f[COL_QMSGS] != NULL && r->f[COL_QMSGS][0] != '\0' &&
		    gms_parse_u64(r->f[COL_QMSGS], strlen(r->f[COL_QMSGS]),
		    UINT64_MAX, &r->mb.quota_messages) < 0)
			row_error(bk, r->line, addr, "quota_messages '%s' is "
			    "not a number", r->f[COL_QMSGS]);
		if (r->f[COL_PASSWORD] != NULL &&
		    strlen(r->f[COL_PASSWORD]) > DIR_PASSWORD_MAX)
			row_error(bk, r->line, addr, "password too long");
		rc = directory_mailbox(bk->a->dir, addr, NULL);
		if (rc == DIR_TEMPFAIL)
			return adm_fail(bk->a, EX_TEMPFAIL, "the directory is "
			    "unavailable; nothing was changed, try again later");
		if (rc == DIR_FOUND)
			row_error(bk, r->line, addr, "the mailbox exists already");
		r->mb.status = DIR_STATUS_ACTIVE;
	}
	/* Duplicates inside the file. */
	sorted = xcalloc(bk->nrows + 1, sizeof(*sorted));
	for (i = 0; i < bk->nrows; i++)
		sorted[i] = &bk->rows[i];
	qsort(sorted, bk->nrows, sizeof(*sorted), cmp_addr);
	for (i = 1; i < bk->nrows; i++)
		if (sorted[i]->mb.address[0] != '\0' &&
		    strcmp(sorted[i]->mb.address, sorted[i - 1]->mb.address) == 0)
			row_error(bk, sorted[i]->line, sorted[i]->mb.address,
			    "appears again (first on line %u)",
			    sorted[i - 1]->line);
	free(sorted);
	return EX_OK;
}

static int
cmd_bulk_add(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt opts[] = {
		{ "dry-run", false, 'n' }, { NULL, false, 0 } };
	struct adm_getopt g;
	struct bulk bk;
	struct buf file = BUF_INIT(0);
	struct adm_progress pg;
	struct dir_domain dom;
	const char *arg, *path;
	bool dry = false, open_file = false;
	size_t i, added = 0;
	int ch, code, rc = DIR_OK;
	struct adm_out *o;

	adm_getopt_init(&g, argc, argv, opts);
	while ((ch = adm_getopt_next(&g, &arg)) != -1) {
		if (ch != 'n') {
			adm_getopt_free(&g);
			return EX_USAGE;
		}
		dry = true;
	}
	if (g.noperands != 1) {
		adm_getopt_free(&g);
		return adm_fail(a, EX_USAGE, "usage: gmsadm bulk add FILE.csv "
		    "[--dry-run]");
	}
	path = g.operands[0];
	adm_getopt_free(&g);
	memset(&bk, 0, sizeof(bk));
	bk.a = a;
	if ((code = read_file(a, path, &file, &open_file)) != EX_OK)
		goto out;
	code = parse_csv(&bk, path, file.data != NULL ? file.data : "",
	    (file.data != NULL ? file.data : "") + file.len);
	buf_wipe_free(&file);
	if (code != EX_OK)
		goto out;
	if (bk.col[COL_PASSWORD] >= 0 && open_file) {
		code = adm_fail(a, EX_NOPERM, "%s holds passwords and other "
		    "users can read it: chmod 600 %s; nothing was changed", path,
		    path);
		goto out;
	}
	if ((code = validate(&bk)) != EX_OK)
		goto out;
	if (bk.bad > 0) {
		if (bk.bad > BULK_ERRORS_MAX)
			fprintf(stderr, "gmsadm: ... and %u more\n",
			    bk.bad - BULK_ERRORS_MAX);
		code = adm_fail(a, EX_DATAERR, "%u of %zu row%s of %s %s bad; "
		    "nothing was changed: fix %s and run the command again",
		    bk.bad, bk.nrows, bk.nrows == 1 ? "" : "s", path,
		    bk.bad == 1 ? "is" : "are", bk.bad == 1 ? "it" : "them");
		goto out;
	}
	if (dry) {
		adm_note(a, "%s: %zu mailbox%s can be added (dry run: nothing "
		    "was changed)", path, bk.nrows, bk.nrows == 1 ? "" : "es");
		goto report;
	}

	adm_progress_start(&pg, a, "adding mailboxes", bk.nrows);
	for (i = 0; i < bk.nrows; i++) {
		struct bulk_row *r = &bk.rows[i];
		const char *pw = r->f[COL_PASSWORD];

		if (directory_domain(a->dir, strrchr(r->mb.address, '@') + 1,
		    &dom) == DIR_FOUND)
			(void)gms_strlcpy(r->mb.institution, dom.institution,
			    sizeof(r->mb.institution));
		rc = directory_mailbox_add(a->dir, &r->mb,
		    pw != NULL && pw[0] != '\0' ? pw : NULL,
		    pw != NULL ? strlen(pw) : 0);
		if (rc != DIR_OK)
			break;
		added++;
		(void)adm_sync_quota(a, &r->mb);
		adm_progress_set(&pg, added);
	}
	adm_progress_end(&pg);
	if (rc != DIR_OK) {
		size_t undone = 0, k;

		/* All or nothing: take back what was added. */
		for (k = added; k > 0; k--)
			if (directory_mailbox_delete(a->dir,
			    bk.rows[k - 1].mb.address) == DIR_OK)
				undone++;
		code = adm_fail(a, adm_dir_exit(rc), "line %u: %s: %s; the %zu "
		    "mailbox%s added before %s removed again%s",
		    bk.rows[added].line, bk.rows[added].mb.address,
		    directory_strerror(rc), added, added == 1 ? "" : "es",
		    undone == added ? "were" : "could not all be",
		    undone == added ? "" : " (see 'gmsadm mailbox list')");
		goto out;
	}
	adm_note(a, "%zu mailbox%s added from %s", added, added == 1 ? "" :
	    "es", path);
report:
	if (a->json) {
		o = adm_object_new(a);
		adm_object_num(o, "rows", bk.nrows);
		adm_object_num(o, "added", added);
		adm_object_bool(o, "dry_run", dry);
		adm_out_print(&o);
	}
	code = EX_OK;
out:
	bulk_free(&bk);
	buf_wipe_free(&file);
	return code;
}

const struct adm_cmd adm_bulk_cmds[] = {
	{ "bulk", "add", "FILE.csv [--dry-run]",
	  "add many mailboxes from a CSV file, all or nothing",
	  "The first line names the columns: address (required), name,\n"
	  "quota (bytes, K M G suffix), quota_messages, password.  Every row\n"
	  "is checked before anything changes; one bad row and nothing is\n"
	  "added.  A file with a password column must be mode 0600.\n"
	  "  --dry-run   only check the file\n",
	  ADM_NEED_CONF | ADM_NEED_DIR_WRITE | ADM_PREOPEN_ARG, cmd_bulk_add },
	{ NULL, NULL, NULL, NULL, NULL, 0, NULL },
};
