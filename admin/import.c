/*
 * import.c - "gmsadm import maildir | mbox PATH ADDRESS": bring existing
 * mail into the mailstore, so that an institution moving to GMS keeps its
 * history.
 *
 * Maildir (and Maildir++ as Dovecot and Courier write it): PATH/cur and
 * PATH/new become INBOX, each PATH/.A.B folder becomes "A/B".  The flags
 * of a file name's ":2," suffix are kept (D draft, F flagged, R answered,
 * S seen, T deleted, P forwarded as the $Forwarded keyword) and so are
 * Dovecot's keyword letters a-z, named in PATH/dovecot-keywords.  A file's
 * modification time is its internal date, as Dovecot and Courier use it.
 * Messages are appended in the order of dovecot-uidlist when there is one
 * (so UIDs come out in the same order), else of the file names (which start
 * with the delivery time).
 *
 * mbox: messages separated by "From " lines; mboxrd quoting (">From ") is
 * undone; Status (R: seen) and X-Status (A answered, F flagged, T draft,
 * D deleted) give the flags and the "From " line's date the internal date.
 *
 * Messages are stored with spool_append, in batches of at most
 * IMPORT_BATCH messages per transaction; LF line ends become CRLF.
 *
 * XXX: the mailstore assigns new UIDs and UIDVALIDITY (spool.h has no way
 * to set them), so the UIDs recorded in dovecot-uidlist and
 * courierimapuiddb are not kept: clients download imported mail once.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin.h"
#include "directory/directory.h"
#include "spool/spool.h"

#define IMPORT_BATCH		100
#define IMPORT_MSG_MAX		(256u * 1024 * 1024)
#define IMPORT_FOLDERS_MAX	10000
#define IMPORT_KEYWORDS		26

/* One message waiting in a batch. */
struct pending {
	struct buf	 data;		/* CRLF text */
	uint32_t	 flags;
	const char	*kw[IMPORT_KEYWORDS + 1];	/* borrowed */
	size_t		 nkw;
	time_t		 date;
};

struct importer {
	struct adm	*a;
	const char	*user;
	char		*mailbox;	/* owned: current target */
	struct pending	 batch[IMPORT_BATCH];
	size_t		 nbatch;
	uint64_t	 imported;
	uint64_t	 skipped;
	uint64_t	 folders;
	struct adm_progress pg;
	uint64_t	 seen;		/* progress */
	char		*keywords[IMPORT_KEYWORDS];	/* owned */
};

/* lf_to_crlf - append text to out with every bare LF made CRLF. */
static int
lf_to_crlf(struct buf *out, const char *p, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++)
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r')) {
			if (buf_append(out, p + start, i - start) < 0 ||
			    buf_append(out, "\r\n", 2) < 0)
				return -1;
			start = i + 1;
		}
	return buf_append(out, p + start, n - start);
}

static int
flush_batch(struct importer *im)
{
	struct spool_append ap[IMPORT_BATCH];
	uint32_t uids[IMPORT_BATCH], uidvalidity;
	size_t i;
	int r;

	if (im->nbatch == 0)
		return EX_OK;
	for (i = 0; i < im->nbatch; i++) {
		memset(&ap[i], 0, sizeof(ap[i]));
		ap[i].data = im->batch[i].data.data;
		ap[i].len = im->batch[i].data.len;
		ap[i].flags = im->batch[i].flags & SPOOL_F_STORED_MASK;
		ap[i].keywords = im->batch[i].nkw ? im->batch[i].kw : NULL;
		ap[i].nkeywords = im->batch[i].nkw;
		ap[i].internal_date = im->batch[i].date;
	}
	r = spool_append(im->a->spool, im->user, im->mailbox, ap, im->nbatch,
	    &uidvalidity, uids);
	for (i = 0; i < im->nbatch; i++)
		buf_free(&im->batch[i].data);
	if (r != SPOOL_OK) {
		size_t n = im->nbatch;

		im->nbatch = 0;
		return adm_fail(im->a, adm_spool_exit(r), "storing %zu message%s "
		    "in %s of %s failed: %s; %llu message%s imported before "
		    "stay", n, n == 1 ? "" : "s", im->mailbox, im->user,
		    spool_strerror(r), (unsigned long long)im->imported,
		    im->imported == 1 ? "" : "s");
	}
	im->imported += im->nbatch;
	im->nbatch = 0;
	return EX_OK;
}

/* add_message - queue one message (text borrowed, converted now). */
static int
add_message(struct importer *im, const char *p, size_t n, uint32_t flags,
    const char *const *kw, size_t nkw, time_t date)
{
	struct pending *m;
	size_t i;

	if (n == 0) {
		im->skipped++;
		return EX_OK;
	}
	m = &im->batch[im->nbatch];
	buf_init(&m->data, IMPORT_MSG_MAX);
	if (lf_to_crlf(&m->data, p, n) < 0) {
		buf_free(&m->data);
		im->skipped++;
		fprintf(stderr, "gmsadm: warning: a message larger than %u "
		    "bytes was skipped\n", IMPORT_MSG_MAX);
		return EX_OK;
	}
	m->flags = flags;
	m->nkw = 0;
	for (i = 0; i < nkw && i < IMPORT_KEYWORDS; i++)
		m->kw[m->nkw++] = kw[i];
	m->date = date;
	if (++im->nbatch == IMPORT_BATCH)
		return flush_batch(im);
	return EX_OK;
}

/* set_mailbox - make sure the target mailbox exists and switch to it. */
static int
set_mailbox(struct importer *im, const char *name)
{
	int r, code;

	if ((code = flush_batch(im)) != EX_OK)
		return code;
	free(im->mailbox);
	im->mailbox = xstrdup(name);
	if (gms_strcasecmp(name, "INBOX") == 0)
		return EX_OK;
	r = spool_mailbox_create(im->a->spool, im->user, name, 0);
	if (r != SPOOL_OK && r != SPOOL_EEXIST)
		return adm_fail(im->a, adm_spool_exit(r), "cannot create "
		    "mailbox '%s' of %s: %s", name, im->user, spool_strerror(r));
	(void)spool_subscribe(im->a->spool, im->user, name);
	im->folders++;
	return EX_OK;
}

/* read_small_file - a whole file (bounded) into b; 0 or -1 (errno). */
static int
read_small_file(int dirfd, const char *name, struct buf *b, size_t max,
    struct stat *st)
{
	char chunk[65536];
	ssize_t r;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	buf_init(b, max);
	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (buf_append(b, chunk, (size_t)r) < 0) {
			close(fd);
			buf_free(b);
			errno = EFBIG;
			return -1;
		}
	}
	close(fd);
	return r < 0 ? -1 : 0;
}

/* next_line - cut the next line off *pp (NUL-terminated text): returns
 * it (the newline replaced by NUL), or NULL at the end. */
static char *
next_line(char **pp)
{
	char *line = *pp, *nl;

	if (line == NULL || *line == '\0')
		return NULL;
	nl = strchr(line, '\n');
	if (nl != NULL) {
		*nl = '\0';
		*pp = nl + 1;
	} else
		*pp = line + strlen(line);
	return line;
}

/* ------------------------------------------------------------------ */
/* Maildir. */

struct mfile {
	char	*name;		/* owned: "cur/..." or "new/..." */
	char	*base;		/* owned: the name without ":2,..." */
	long	 order;		/* dovecot-uidlist position, or -1 */
};

/* load_keywords - dovecot-keywords: "N name" lines, N = 0..25. */
static void
load_keywords(struct importer *im, int dirfd)
{
	struct buf b;
	struct stat st;
	char *line, *cur, *end;
	long n;

	for (n = 0; n < IMPORT_KEYWORDS; n++) {
		free(im->keywords[n]);
		im->keywords[n] = NULL;
	}
	if (read_small_file(dirfd, "dovecot-keywords", &b, 65536, &st) < 0)
		return;
	if (b.data == NULL)
		return;
	cur = b.data;
	while ((line = next_line(&cur)) != NULL) {
		errno = 0;
		n = strtol(line, &end, 10);
		if (errno != 0 || end == line || *end != ' ' || n < 0 ||
		    n >= IMPORT_KEYWORDS || end[1] == '\0' ||
		    strlen(end + 1) > SPOOL_KEYWORD_MAX)
			continue;
		free(im->keywords[n]);
		im->keywords[n] = xstrdup(end + 1);
	}
	buf_free(&b);
}

/* load_uidlist - base names in the order of Dovecot's dovecot-uidlist or,
 * failing that, Courier's courierimapuiddb (owned vector).  Both start
 * with a header line, then "UID [extensions] :name" (Dovecot v3) or
 * "UID name" (Dovecot v1, Courier). */
static void
load_uidlist(int dirfd, struct spool_strlist *l)
{
	struct buf b;
	struct stat st;
	char *line, *cur, *colon, *p;

	memset(l, 0, sizeof(*l));
	if (read_small_file(dirfd, "dovecot-uidlist", &b, 64u << 20, &st) < 0 &&
	    read_small_file(dirfd, "courierimapuiddb", &b, 64u << 20, &st) < 0)
		return;
	if (b.data == NULL)
		return;
	cur = b.data;
	(void)next_line(&cur);	/* the header: version, uidvalidity, ... */
	while ((line = next_line(&cur)) != NULL) {
		/* "UID [extensions] :filename" (v3) or "UID filename" (v1). */
		colon = strchr(line, ':');
		if (colon != NULL)
			p = colon + 1;
		else if ((p = strrchr(line, ' ')) != NULL)
			p++;
		else
			continue;
		/* The name may carry ":2,FLAGS"; the key is the base. */
		if ((colon = strstr(p, ":2,")) != NULL)
			*colon = '\0';
		l->v = xreallocarray(l->v, l->n + 1, sizeof(char *));
		l->v[l->n++] = xstrdup(p);
	}
	buf_free(&b);
}

static int
cmp_mfile(const void *x, const void *y)
{
	const struct mfile *a = x, *b = y;

	if (a->order != b->order) {
		if (a->order < 0)
			return 1;
		if (b->order < 0)
			return -1;
		return a->order < b->order ? -1 : 1;
	}
	return strcmp(a->base, b->base);
}

static int
cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* list_messages - the files of cur/ and new/ of one Maildir folder. */
static int
list_messages(int dirfd, struct mfile **v_r, size_t *n_r)
{
	static const char *const subs[] = { "cur", "new" };
	struct dirent *de;
	struct mfile *v = NULL;
	size_t n = 0, s;
	DIR *dp;
	int fd;

	for (s = 0; s < 2; s++) {
		fd = openat(dirfd, subs[s], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if ((dp = fdopendir(fd)) == NULL) {
			close(fd);
			continue;
		}
		while ((de = readdir(dp)) != NULL) {
			char *c;

			if (de->d_name[0] == '.')
				continue;
			v = xreallocarray(v, n + 1, sizeof(*v));
			v[n].name = xasprintf("%s/%s", subs[s], de->d_name);
			v[n].base = xstrdup(de->d_name);
			if ((c = strstr(v[n].base, ":2,")) != NULL)
				*c = '\0';
			v[n].order = -1;
			n++;
		}
		closedir(dp);
	}
	*v_r = v;
	*n_r = n;
	return 0;
}

/* maildir_flags - ":2,FLAGS" of a file name into flags and keywords. */
static void
maildir_flags(struct importer *im, const char *name, uint32_t *flags,
    const char **kw, size_t *nkw)
{
	const char *p = strstr(name, ":2,");

	*flags = 0;
	*nkw = 0;
	if (strncmp(name, "new/", 4) == 0 || p == NULL)
		return;
	for (p += 3; *p != '\0' && *p != ','; p++) {
		switch (*p) {
		case 'D': *flags |= SPOOL_F_DRAFT; break;
		case 'F': *flags |= SPOOL_F_FLAGGED; break;
		case 'R': *flags |= SPOOL_F_ANSWERED; break;
		case 'S': *flags |= SPOOL_F_SEEN; break;
		case 'T': *flags |= SPOOL_F_DELETED; break;
		case 'P':
			if (*nkw < IMPORT_KEYWORDS)
				kw[(*nkw)++] = "$Forwarded";
			break;
		default:
			if (*p >= 'a' && *p <= 'z' &&
			    im->keywords[*p - 'a'] != NULL &&
			    *nkw < IMPORT_KEYWORDS)
				kw[(*nkw)++] = im->keywords[*p - 'a'];
			break;
		}
	}
}

/* import_folder - one Maildir folder (its cur/ and new/) into mailbox. */
static int
import_folder(struct importer *im, int dirfd, const char *mailbox)
{
	struct mfile *v = NULL;
	struct spool_strlist ul;
	size_t n = 0, i, k;
	int code;

	if ((code = set_mailbox(im, mailbox)) != EX_OK)
		return code;
	load_keywords(im, dirfd);
	load_uidlist(dirfd, &ul);
	(void)list_messages(dirfd, &v, &n);
	if (ul.n > 0) {
		/* Sort the uidlist names to find positions by bsearch. */
		long *pos = xcalloc(ul.n, sizeof(long));
		char **sorted = xcalloc(ul.n, sizeof(char *));

		for (k = 0; k < ul.n; k++)
			sorted[k] = ul.v[k];
		qsort(sorted, ul.n, sizeof(char *), cmp_str);
		for (k = 0; k < ul.n; k++) {
			size_t j;

			/* position of sorted[k] in the file order */
			for (j = 0; j < ul.n && ul.v[j] != sorted[k]; j++)
				;
			pos[k] = (long)j;
		}
		for (i = 0; i < n; i++) {
			char *key = v[i].base, **hit;

			hit = bsearch(&key, sorted, ul.n, sizeof(char *),
			    cmp_str);
			if (hit != NULL)
				v[i].order = pos[hit - sorted];
		}
		free(pos);
		free(sorted);
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_mfile);
	for (i = 0; i < n && code == EX_OK; i++) {
		struct buf b;
		struct stat st;
		uint32_t flags;
		const char *kw[IMPORT_KEYWORDS + 1];
		size_t nkw;

		if (read_small_file(dirfd, v[i].name, &b, IMPORT_MSG_MAX,
		    &st) < 0) {
			fprintf(stderr, "gmsadm: warning: %s skipped: %s\n",
			    v[i].name, strerror(errno));
			im->skipped++;
		} else {
			maildir_flags(im, v[i].name, &flags, kw, &nkw);
			code = add_message(im, b.data != NULL ? b.data : "",
			    b.len, flags, kw, nkw, st.st_mtime);
			buf_free(&b);
		}
		adm_progress_set(&im->pg, ++im->seen);
	}
	if (code == EX_OK)
		code = flush_batch(im);
	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].base);
	}
	free(v);
	spool_strlist_free(&ul);
	return code;
}

/* count_files - messages under a Maildir folder (for the progress bar). */
static uint64_t
count_files(int dirfd)
{
	struct mfile *v = NULL;
	size_t n = 0, i;

	(void)list_messages(dirfd, &v, &n);
	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].base);
	}
	free(v);
	return n;
}

/* folder_name - ".A.B" -> "A/B"; NULL for names we do not import. */
static char *
folder_name(const char *d)
{
	char *s, *p;

	if (d[0] != '.' || d[1] == '\0' || strcmp(d, "..") == 0 ||
	    strlen(d) > SPOOL_MAILBOX_MAX)
		return NULL;
	s = xstrdup(d + 1);
	for (p = s; *p != '\0'; p++)
		if (*p == '.')
			*p = '/';
		else if ((unsigned char)*p < 0x20)
			*p = '_';
	if (s[0] == '/' || s[strlen(s) - 1] == '/' || strstr(s, "//")) {
		free(s);
		return NULL;
	}
	return s;
}

static int
import_maildir(struct importer *im, const char *path)
{
	int top, fd, code = EX_OK;
	DIR *dp;
	struct dirent *de;
	char **folders = NULL;
	size_t nf = 0, i;
	uint64_t total;
	struct stat st;

	top = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0)
		return adm_fail(im->a, errno == EACCES ? EX_NOPERM : EX_NOINPUT,
		    "cannot open %s: %s%s", path, strerror(errno),
		    errno == EACCES ? " (gmsadm reads it as the gms user: make "
		    "it readable)" : "");
	if (fstatat(top, "cur", &st, 0) != 0 && fstatat(top, "new", &st, 0) != 0) {
		close(top);
		return adm_fail(im->a, EX_DATAERR, "%s is not a Maildir (no cur/ "
		    "or new/)", path);
	}
	total = count_files(top);
	fd = dup(top);
	if (fd >= 0 && (dp = fdopendir(fd)) != NULL) {
		while ((de = readdir(dp)) != NULL && nf < IMPORT_FOLDERS_MAX) {
			int sub;
			struct stat s2;

			if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			sub = openat(top, de->d_name, O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC | O_NOFOLLOW);
			if (sub < 0)
				continue;
			if (fstatat(sub, "cur", &s2, 0) == 0) {
				folders = xreallocarray(folders, nf + 1,
				    sizeof(char *));
				folders[nf++] = xstrdup(de->d_name);
				total += count_files(sub);
			}
			close(sub);
		}
		closedir(dp);
	} else if (fd >= 0)
		close(fd);
	if (nf > 1)
		qsort(folders, nf, sizeof(char *), cmp_str);

	adm_progress_start(&im->pg, im->a, "importing", total);
	code = import_folder(im, top, "INBOX");
	for (i = 0; i < nf && code == EX_OK; i++) {
		char *name = folder_name(folders[i]);
		int sub;

		if (name == NULL) {
			fprintf(stderr, "gmsadm: warning: folder %s skipped\n",
			    folders[i]);
			continue;
		}
		sub = openat(top, folders[i], O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC | O_NOFOLLOW);
		if (sub >= 0) {
			/* "INBOX.x" style trees keep INBOX as the parent. */
			code = import_folder(im, sub, name);
			close(sub);
		}
		free(name);
	}
	adm_progress_end(&im->pg);
	for (i = 0; i < nf; i++)
		free(folders[i]);
	free(folders);
	close(top);
	return code;
}

/* ------------------------------------------------------------------ */
/* mbox. */

/* from_date - the date of a "From sender DATE" line (asctime format). */
static time_t
from_date(const char *line, size_t len)
{
	char tmp[128];
	const char *p;
	struct tm tm;
	size_t i;

	if (len >= sizeof(tmp))
		return 0;
	memcpy(tmp, line, len);
	tmp[len] = '\0';
	/* Skip "From " and the sender. */
	p = tmp + 5;
	while (*p != '\0' && *p != ' ')
		p++;
	while (*p == ' ')
		p++;
	for (i = 0; i < 2; i++) {
		memset(&tm, 0, sizeof(tm));
		if (strptime(p, i == 0 ? "%a %b %d %H:%M:%S %Y" :
		    "%a %b %d %H:%M %Y", &tm) != NULL)
			return timegm(&tm);
	}
	return 0;
}

/* mbox_flags - Status and X-Status of the header of one message. */
static uint32_t
mbox_flags(const char *p, size_t n)
{
	uint32_t f = 0;
	size_t i = 0, e;

	while (i < n) {
		for (e = i; e < n && p[e] != '\n'; e++)
			;
		if (e == i || (e == i + 1 && p[i] == '\r'))
			break;		/* end of the header */
		if (e - i > 7 && gms_strncasecmp(p + i, "Status:", 7) == 0) {
			if (memchr(p + i + 7, 'R', e - i - 7))
				f |= SPOOL_F_SEEN;
		} else if (e - i > 9 &&
		    gms_strncasecmp(p + i, "X-Status:", 9) == 0) {
			const char *v = p + i + 9;
			size_t vl = e - i - 9;

			if (memchr(v, 'A', vl))
				f |= SPOOL_F_ANSWERED;
			if (memchr(v, 'F', vl))
				f |= SPOOL_F_FLAGGED;
			if (memchr(v, 'T', vl))
				f |= SPOOL_F_DRAFT;
			if (memchr(v, 'D', vl))
				f |= SPOOL_F_DELETED;
		}
		i = e + 1;
	}
	return f;
}

static int
import_mbox(struct importer *im, const char *path, const char *mailbox)
{
	struct buf file, msg = BUF_INIT(IMPORT_MSG_MAX);
	struct stat st;
	const char *p, *end, *line, *nl;
	time_t date = 0;
	bool in_msg = false;
	uint64_t total = 0;
	int code;

	if (read_small_file(AT_FDCWD, path, &file, 2048u << 20, &st) < 0)
		return adm_fail(im->a, errno == EACCES ? EX_NOPERM : EX_NOINPUT,
		    "cannot read %s: %s%s", path, strerror(errno),
		    errno == EACCES ? " (gmsadm reads it as the gms user)" : "");
	p = file.data != NULL ? file.data : "";
	end = p + file.len;
	if (file.len > 0 && strncmp(p, "From ", 5) != 0) {
		buf_free(&file);
		return adm_fail(im->a, EX_DATAERR, "%s is not an mbox (it does "
		    "not start with a \"From \" line)", path);
	}
	for (line = p; line < end; line = nl) {
		nl = memchr(line, '\n', (size_t)(end - line));
		nl = nl != NULL ? nl + 1 : end;
		if (nl - line >= 5 && strncmp(line, "From ", 5) == 0)
			total++;
	}
	if ((code = set_mailbox(im, mailbox)) != EX_OK) {
		buf_free(&file);
		return code;
	}
	adm_progress_start(&im->pg, im->a, "importing", total);
	for (line = p; line <= end && code == EX_OK; line = nl) {
		bool last = line == end;
		size_t len;

		nl = last ? end : memchr(line, '\n', (size_t)(end - line));
		nl = last ? end + 1 : nl != NULL ? nl + 1 : end;
		len = last ? 0 : (size_t)(nl - line);
		if (last || (len >= 5 && strncmp(line, "From ", 5) == 0)) {
			if (in_msg) {
				/* The blank line before "From " belongs to
				 * the separator. */
				if (msg.len > 0 && msg.data[msg.len - 1] ==
				    '\n')
					msg.len--;
				if (msg.len > 0 && msg.data[msg.len - 1] ==
				    '\r')
					msg.len--;
				msg.data[msg.len] = '\0';
				code = add_message(im, msg.data != NULL ?
				    msg.data : "", msg.len,
				    mbox_flags(msg.data != NULL ? msg.data : "",
				    msg.len), NULL, 0, date);
				adm_progress_set(&im->pg, ++im->seen);
			}
			if (last)
				break;
			buf_reset(&msg);
			date = from_date(line, len - 1);
			in_msg = true;
			continue;
		}
		/* mboxrd: ">From " (any number of '>') loses one '>'. */
		if (len > 5 && line[0] == '>') {
			size_t q = 0;

			while (q < len && line[q] == '>')
				q++;
			if (len - q >= 5 && strncmp(line + q, "From ", 5) == 0) {
				line++;
				len--;
			}
		}
		if (buf_append(&msg, line, len) < 0) {
			fprintf(stderr, "gmsadm: warning: a message larger than "
			    "%u bytes was cut\n", IMPORT_MSG_MAX);
		}
	}
	if (code == EX_OK)
		code = flush_batch(im);
	adm_progress_end(&im->pg);
	buf_free(&msg);
	buf_free(&file);
	return code;
}

/* ------------------------------------------------------------------ */

static int
cmd_import(struct adm *a, int argc, char **argv, bool maildir)
{
	static const struct adm_opt opts[] = {
		{ "mailbox", true, 'm' }, { NULL, false, 0 } };
	struct adm_getopt g;
	struct importer im;
	struct dir_mailbox mb;
	const char *arg, *mailbox = "INBOX";
	char path[4096], user[DIR_ADDR_MAX + 1];
	int ch, code, rc, r;
	size_t i;
	struct adm_out *o;

	adm_getopt_init(&g, argc, argv, opts);
	while ((ch = adm_getopt_next(&g, &arg)) != -1) {
		if (ch != 'm' || maildir) {
			adm_getopt_free(&g);
			if (ch == 'm')
				return adm_fail(a, EX_USAGE, "--mailbox is for "
				    "mbox; a Maildir tree keeps its folders");
			return EX_USAGE;
		}
		mailbox = arg;
	}
	if (g.noperands != 2) {
		adm_getopt_free(&g);
		return adm_fail(a, EX_USAGE, "usage: gmsadm import %s PATH "
		    "ADDRESS%s", maildir ? "maildir" : "mbox",
		    maildir ? "" : " [--mailbox NAME]");
	}
	(void)gms_strlcpy(path, g.operands[0], sizeof(path));
	code = gms_strlcpy(user, g.operands[1], sizeof(user)) < 0 ?
	    adm_fail(a, EX_USAGE, "address too long") : EX_OK;
	adm_getopt_free(&g);
	if (code != EX_OK)
		return code;
	gms_lowercase(user);
	if ((code = adm_check_address_scope(a, user)) != EX_OK)
		return code;
	rc = directory_mailbox(a->dir, user, &mb);
	if (rc != DIR_FOUND)
		return rc == DIR_TEMPFAIL ? adm_fail(a, EX_TEMPFAIL, "the "
		    "directory is unavailable; try again later") :
		    adm_fail(a, EX_NOUSER, "there is no mailbox %s; add it "
		    "first with 'gmsadm mailbox add'", user);
	r = spool_user_create(a->spool, mb.address);
	if (r != SPOOL_OK && r != SPOOL_EEXIST)
		return adm_fail(a, adm_spool_exit(r), "cannot create the "
		    "mailboxes of %s: %s", mb.address, spool_strerror(r));

	memset(&im, 0, sizeof(im));
	im.a = a;
	im.user = mb.address;
	code = maildir ? import_maildir(&im, path) :
	    import_mbox(&im, path, mailbox);
	if (code == EX_OK) {
		adm_note(a, "%llu message%s imported for %s into %s%s",
		    (unsigned long long)im.imported, im.imported == 1 ? "" : "s",
		    mb.address, maildir ? "its folders" : mailbox, im.skipped ?
		    "; some files were skipped, see the warnings" : "");
		if (a->json) {
			o = adm_object_new(a);
			adm_object_str(o, "address", mb.address);
			adm_object_num(o, "imported", im.imported);
			adm_object_num(o, "skipped", im.skipped);
			adm_object_num(o, "folders", im.folders + 1);
			adm_out_print(&o);
		}
	}
	free(im.mailbox);
	for (i = 0; i < IMPORT_KEYWORDS; i++)
		free(im.keywords[i]);
	return code;
}

static int
cmd_import_maildir(struct adm *a, int argc, char **argv)
{
	return cmd_import(a, argc, argv, true);
}

static int
cmd_import_mbox(struct adm *a, int argc, char **argv)
{
	return cmd_import(a, argc, argv, false);
}

#define I	ADM_NEED_CONF | ADM_NEED_DIR | ADM_NEED_SPOOL

const struct adm_cmd adm_import_cmds[] = {
	{ "import", "maildir", "PATH ADDRESS",
	  "import a Maildir tree with its flags, keywords and dates",
	  "PATH/cur and PATH/new go to INBOX, PATH/.A.B to mailbox A/B.\n"
	  "The path must be readable by the gms user.\n", I,
	  cmd_import_maildir },
	{ "import", "mbox", "PATH ADDRESS [--mailbox NAME]",
	  "import an mbox file (into INBOX, or --mailbox)", NULL, I,
	  cmd_import_mbox },
	{ NULL, NULL, NULL, NULL, NULL, 0, NULL },
};
