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
 * Maildir++ folder names are modified UTF-7 (as IMAP sends them) and
 * become UTF-8; a name that is not valid modified UTF-7 is kept as it is.
 *
 * UIDs are kept.  Dovecot's dovecot-uidlist ("3 V<uidvalidity> N<uidnext>
 * ..." then "UID [extensions] :name", or version 1 "1 UIDVALIDITY UIDNEXT"
 * then "UID name") and, without it, Courier's courierimapuiddb ("1
 * UIDVALIDITY UIDNEXT" then "UID name") give each folder's UIDVALIDITY
 * and the UID of each file: the mailbox gets that UIDVALIDITY
 * (spool_mailbox_set_uids), the files listed keep their UIDs
 * (spool_append.uid), UIDNEXT is raised to the list's, and files not
 * listed (arrived since) follow with new UIDs, as the old server would
 * have given them.  So clients keep their caches.  That needs an empty
 * target mailbox: importing into one that already holds mail (a second
 * import, or mail delivered meanwhile) appends with new UIDs and says so.
 * Without a list, messages are appended in the order of the file names
 * (which start with the delivery time).
 *
 * mbox: messages separated by "From " lines; mboxrd quoting (">From ") is
 * undone; Status (R: seen) and X-Status (A answered, F flagged, T draft,
 * D deleted) give the flags, X-Keywords (as Dovecot and Thunderbird write
 * it, separated by spaces or commas) the keywords and the "From " line's
 * date the internal date.  UW-IMAP/Dovecot UIDs are kept the same way:
 * X-IMAPbase (or X-IMAP) "UIDVALIDITY UIDNEXT" in the first message and
 * X-UID in each; UW's pseudo message (X-IMAP) is skipped.
 *
 * Messages are stored with spool_append, in batches of at most
 * IMPORT_BATCH messages per transaction; LF line ends become CRLF.
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
#include "imapd/imapd.h"
#include "spool/spool.h"

#define IMPORT_BATCH		100
#define IMPORT_MSG_MAX		(256u * 1024 * 1024)
#define IMPORT_FOLDERS_MAX	10000
#define IMPORT_KEYWORDS		26

/* One message waiting in a batch. */
struct pending {
	struct buf	 data;		/* CRLF text */
	uint32_t	 flags;
	const char	*kw[IMPORT_KEYWORDS + 1];	/* into kwdata */
	size_t		 nkw;
	char		*kwdata;	/* owned: the keywords, NUL-separated */
	time_t		 date;
	uint32_t	 uid;		/* kept UID or 0 */
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
	bool		 keep_uids;	/* the current mailbox takes UIDs */
	uint32_t	 last_uid;	/* the last UID kept in it */
	uint64_t	 uids_kept;
	uint64_t	 uid_folders_lost;	/* folders whose UIDs changed */
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
		ap[i].uid = im->keep_uids ? im->batch[i].uid : 0;
	}
	r = spool_append(im->a->spool, im->user, im->mailbox, ap, im->nbatch,
	    &uidvalidity, uids);
	for (i = 0; i < im->nbatch; i++) {
		buf_free(&im->batch[i].data);
		free(im->batch[i].kwdata);
		im->batch[i].kwdata = NULL;
		if (r == SPOOL_OK && im->keep_uids && im->batch[i].uid != 0)
			im->uids_kept++;
	}
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

/* add_message - queue one message (text and keywords borrowed, copied
 * now).  uid: the UID to keep (0: a new one; ignored unless im->keep_uids
 * and above the last one kept). */
static int
add_message(struct importer *im, const char *p, size_t n, uint32_t flags,
    const char *const *kw, size_t nkw, time_t date, uint32_t uid)
{
	struct pending *m;
	size_t i, total = 0, off = 0;

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
	if (nkw > IMPORT_KEYWORDS)
		nkw = IMPORT_KEYWORDS;
	for (i = 0; i < nkw; i++)
		total += strlen(kw[i]) + 1;
	m->kwdata = total > 0 ? xmalloc(total) : NULL;
	for (i = 0; i < nkw; i++) {
		size_t l = strlen(kw[i]) + 1;

		memcpy(m->kwdata + off, kw[i], l);
		m->kw[m->nkw++] = m->kwdata + off;
		off += l;
	}
	m->date = date;
	m->uid = 0;
	if (im->keep_uids) {
		/* Track the mailbox's UIDNEXT: a message without a usable
		 * UID gets the next one. */
		if (uid != 0 && uid > im->last_uid && uid < UINT32_MAX)
			m->uid = uid;
		else
			uid = im->last_uid + 1;
		im->last_uid = uid;
	}
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
	im->keep_uids = false;
	im->last_uid = 0;
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

/* start_uids - give the current (empty) mailbox the old server's
 * UIDVALIDITY with UIDNEXT first (the lowest UID to keep), so that
 * add_message keeps UIDs.  A mailbox that already holds mail keeps its
 * own UIDs: a warning, not an error. */
static int
start_uids(struct importer *im, uint32_t uidvalidity, uint32_t first)
{
	int r;

	im->keep_uids = false;
	im->last_uid = 0;
	if (uidvalidity == 0)
		return EX_OK;
	if (first == 0 || first == UINT32_MAX)
		first = 1;
	r = spool_mailbox_set_uids(im->a->spool, im->user, im->mailbox,
	    uidvalidity, first);
	if (r == SPOOL_OK) {
		im->keep_uids = true;
		im->last_uid = first - 1;
		return EX_OK;
	}
	if (spool_err_temporary(r))
		return adm_fail(im->a, adm_spool_exit(r), "cannot set the UIDs "
		    "of %s of %s: %s", im->mailbox, im->user,
		    spool_strerror(r));
	im->uid_folders_lost++;
	fprintf(stderr, "gmsadm: warning: %s of %s already holds mail (or "
	    "UIDVALIDITY %u is not usable): its imported messages get new "
	    "UIDs, clients download them again\n", im->mailbox, im->user,
	    uidvalidity);
	return EX_OK;
}

/* end_kept_uids - after the messages with kept UIDs: raise UIDNEXT to
 * the old server's (uidnext), so that later messages follow it. */
static int
end_kept_uids(struct importer *im, uint32_t uidvalidity, uint32_t uidnext)
{
	int code, r;

	if (!im->keep_uids || uidnext <= im->last_uid + 1 ||
	    uidnext == UINT32_MAX)
		return EX_OK;
	if ((code = flush_batch(im)) != EX_OK)
		return code;
	r = spool_mailbox_set_uids(im->a->spool, im->user, im->mailbox,
	    uidvalidity, uidnext);
	if (r != SPOOL_OK && spool_err_temporary(r))
		return adm_fail(im->a, adm_spool_exit(r), "cannot set UIDNEXT "
		    "of %s of %s: %s", im->mailbox, im->user,
		    spool_strerror(r));
	if (r == SPOOL_OK)
		im->last_uid = uidnext - 1;
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
	char	 *name;		/* owned: "cur/..." or "new/..." */
	char	 *base;		/* owned: the name without ":2,..." */
	uint32_t  uid;		/* from the uid list, or 0 */
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

/* One folder's UID list. */
struct uidentry {
	char		*base;	/* owned */
	uint32_t	 uid;
};
struct uidlist {
	uint32_t	 uidvalidity;	/* 0: none */
	uint32_t	 uidnext;
	struct uidentry	*v;
	size_t		 n;
};

/* parse_u32 - a decimal number > 0 at p (to end or space); 0 if none. */
static uint32_t
parse_u32(const char *p, char **end)
{
	unsigned long long v = 0;
	const char *q = p;

	while (*q >= '0' && *q <= '9' && v <= UINT32_MAX)
		v = v * 10 + (unsigned long long)(*q++ - '0');
	if (end != NULL)
		*end = (char *)q;
	if (q == p || v > UINT32_MAX || (*q != '\0' && *q != ' '))
		return 0;
	return (uint32_t)v;
}

/* uidlist_header - the first line: "3 V<uidv> N<next> ..." (Dovecot v3)
 * or "1 UIDVALIDITY UIDNEXT" (Dovecot v1, Courier).  Returns the version
 * (1 or 3) or 0 when the header is not understood. */
static int
uidlist_header(char *line, struct uidlist *ul)
{
	char *tok, *end;
	int field = 0, version = 0;

	for (tok = line; *tok != '\0'; tok = end) {
		while (*tok == ' ')
			tok++;
		if (*tok == '\0')
			break;
		for (end = tok; *end != '\0' && *end != ' '; end++)
			;
		if (field == 0)
			version = tok[0] == '3' && (tok[1] == ' ' ||
			    tok[1] == '\0') ? 3 : tok[0] == '1' &&
			    (tok[1] == ' ' || tok[1] == '\0') ? 1 : 0;
		else if (version == 3 && tok[0] == 'V')
			ul->uidvalidity = parse_u32(tok + 1, NULL);
		else if (version == 3 && tok[0] == 'N')
			ul->uidnext = parse_u32(tok + 1, NULL);
		else if (version == 1 && field == 1)
			ul->uidvalidity = parse_u32(tok, NULL);
		else if (version == 1 && field == 2)
			ul->uidnext = parse_u32(tok, NULL);
		field++;
		if (version == 0)
			break;
	}
	return version;
}

static int
cmp_uidentry(const void *x, const void *y)
{
	const struct uidentry *a = x, *b = y;

	return strcmp(a->base, b->base);
}

/* load_uidlist - Dovecot's dovecot-uidlist or, failing that, Courier's
 * courierimapuiddb: the folder's UIDVALIDITY, UIDNEXT and each listed
 * base name's UID, sorted by name (owned; free with uidlist_free).  An
 * unreadable or unknown list leaves ul empty. */
static void
load_uidlist(int dirfd, struct uidlist *ul)
{
	struct buf b;
	struct stat st;
	char *line, *cur, *colon, *p, *end;
	uint32_t uid;
	int version;

	memset(ul, 0, sizeof(*ul));
	if (read_small_file(dirfd, "dovecot-uidlist", &b, 64u << 20, &st) < 0 &&
	    read_small_file(dirfd, "courierimapuiddb", &b, 64u << 20, &st) < 0)
		return;
	if (b.data == NULL)
		return;
	cur = b.data;
	version = uidlist_header(next_line(&cur), ul);
	if (version == 0 || ul->uidvalidity == 0) {
		ul->uidvalidity = 0;
		buf_free(&b);
		return;
	}
	while ((line = next_line(&cur)) != NULL) {
		uid = parse_u32(line, &end);
		if (uid == 0 || *end != ' ')
			continue;
		if (version == 3) {
			/* "UID [extensions] :filename" */
			if ((p = strstr(end, " :")) == NULL)
				continue;
			p += 2;
		} else {
			/* "UID filename" */
			p = end + 1;
		}
		/* The name may carry ":2,FLAGS"; the key is the base. */
		if ((colon = strstr(p, ":2,")) != NULL)
			*colon = '\0';
		if (*p == '\0')
			continue;
		ul->v = xreallocarray(ul->v, ul->n + 1, sizeof(*ul->v));
		ul->v[ul->n].base = xstrdup(p);
		ul->v[ul->n].uid = uid;
		ul->n++;
	}
	buf_free(&b);
	if (ul->n > 1)
		qsort(ul->v, ul->n, sizeof(*ul->v), cmp_uidentry);
}

static void
uidlist_free(struct uidlist *ul)
{
	size_t i;

	for (i = 0; i < ul->n; i++)
		free(ul->v[i].base);
	free(ul->v);
	memset(ul, 0, sizeof(*ul));
}

/* cmp_mfile - listed files by UID first, then the others by name. */
static int
cmp_mfile(const void *x, const void *y)
{
	const struct mfile *a = x, *b = y;

	if (a->uid != b->uid) {
		if (a->uid == 0)
			return 1;
		if (b->uid == 0)
			return -1;
		return a->uid < b->uid ? -1 : 1;
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
			v[n].uid = 0;
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
	struct uidlist ul;
	size_t n = 0, i;
	uint32_t first = 0;
	bool gap_done = false;
	int code;

	if ((code = set_mailbox(im, mailbox)) != EX_OK)
		return code;
	load_keywords(im, dirfd);
	load_uidlist(dirfd, &ul);
	(void)list_messages(dirfd, &v, &n);
	for (i = 0; i < n && ul.n > 0; i++) {
		struct uidentry key, *hit;

		key.base = v[i].base;
		hit = bsearch(&key, ul.v, ul.n, sizeof(*ul.v), cmp_uidentry);
		if (hit != NULL)
			v[i].uid = hit->uid;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_mfile);
	/* The same UID twice (a damaged list): the later file is new. */
	for (i = 1; i < n; i++)
		if (v[i].uid != 0 && v[i].uid == v[i - 1].uid)
			v[i].uid = 0;
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_mfile);
	if (ul.uidvalidity != 0) {
		first = n > 0 && v[0].uid != 0 ? v[0].uid : ul.uidnext;
		code = start_uids(im, ul.uidvalidity, first);
	}
	for (i = 0; i < n && code == EX_OK; i++) {
		struct buf b;
		struct stat st;
		uint32_t flags;
		const char *kw[IMPORT_KEYWORDS + 1];
		size_t nkw;

		if (v[i].uid == 0 && !gap_done) {
			/* Files not in the list follow the list's UIDNEXT. */
			gap_done = true;
			code = end_kept_uids(im, ul.uidvalidity, ul.uidnext);
			if (code != EX_OK)
				break;
		}
		if (read_small_file(dirfd, v[i].name, &b, IMPORT_MSG_MAX,
		    &st) < 0) {
			fprintf(stderr, "gmsadm: warning: %s skipped: %s\n",
			    v[i].name, strerror(errno));
			im->skipped++;
		} else {
			maildir_flags(im, v[i].name, &flags, kw, &nkw);
			code = add_message(im, b.data != NULL ? b.data : "",
			    b.len, flags, kw, nkw, st.st_mtime, v[i].uid);
			buf_free(&b);
		}
		adm_progress_set(&im->pg, ++im->seen);
	}
	if (code == EX_OK)
		code = flush_batch(im);
	if (code == EX_OK && !gap_done)
		code = end_kept_uids(im, ul.uidvalidity, ul.uidnext);
	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].base);
	}
	free(v);
	uidlist_free(&ul);
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
	/* Modified UTF-7 ("Entw&APw-rfe") to UTF-8 ("Entwürfe"); a name
	 * that is not valid modified UTF-7 (UTF-8 already) stays. */
	if (strchr(s, '&') != NULL) {
		struct buf u = BUF_INIT(SPOOL_MAILBOX_MAX * 4 + 1);

		if (mutf7_decode(&u, s, strlen(s)) == 0 && u.len > 0 &&
		    u.len <= SPOOL_MAILBOX_MAX) {
			free(s);
			s = xstrdup(buf_cstr(&u));
		}
		buf_free(&u);
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

/* What the header of one mbox message says besides its text. */
struct mbox_meta {
	uint32_t	 flags;
	const char	*kw[IMPORT_KEYWORDS];	/* into kwbuf */
	size_t		 nkw;
	char		 kwbuf[1024];
	uint32_t	 uid;		/* X-UID, or 0 */
	uint32_t	 uidvalidity;	/* X-IMAPbase / X-IMAP, or 0 */
	uint32_t	 uidnext;
	bool		 pseudo;	/* UW-IMAP's folder data (X-IMAP) */
};

/* keyword_ok - may s (len bytes) be an IMAP keyword (an atom without
 * "]", not a system flag)? */
static bool
keyword_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > SPOOL_KEYWORD_MAX || s[0] == '\\')
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

/* mbox_keywords - the keywords of an X-Keywords value (spaces or commas
 * between them) into m; invalid names and repeats are skipped. */
static void
mbox_keywords(struct mbox_meta *m, const char *v, size_t vl)
{
	size_t i = 0, start, used = 0, k;

	for (k = 0; k < m->nkw; k++)
		used += strlen(m->kw[k]) + 1;
	while (i < vl) {
		while (i < vl && (v[i] == ' ' || v[i] == ',' || v[i] == '\t' ||
		    v[i] == '\r' || v[i] == '\n'))
			i++;
		start = i;
		while (i < vl && v[i] != ' ' && v[i] != ',' && v[i] != '\t' &&
		    v[i] != '\r' && v[i] != '\n')
			i++;
		if (!keyword_ok(v + start, i - start) ||
		    m->nkw == IMPORT_KEYWORDS ||
		    used + (i - start) + 1 > sizeof(m->kwbuf))
			continue;
		for (k = 0; k < m->nkw; k++)
			if (strlen(m->kw[k]) == i - start &&
			    gms_strncasecmp(m->kw[k], v + start, i - start) == 0)
				break;
		if (k < m->nkw)
			continue;
		memcpy(m->kwbuf + used, v + start, i - start);
		m->kwbuf[used + (i - start)] = '\0';
		m->kw[m->nkw++] = m->kwbuf + used;
		used += i - start + 1;
	}
}

/* header_is - does the header line p (len bytes) have the field name
 * name?  Sets *v / *vl to the value. */
static bool
header_is(const char *p, size_t len, const char *name, const char **v,
    size_t *vl)
{
	size_t n = strlen(name);

	if (len <= n || p[n] != ':' || gms_strncasecmp(p, name, n) != 0)
		return false;
	*v = p + n + 1;
	*vl = len - n - 1;
	return true;
}

/* value_u32 - the n-th (0-based) number of a header value, or 0. */
static uint32_t
value_u32(const char *v, size_t vl, int n)
{
	char tmp[64];
	size_t i = 0, j;

	for (;;) {
		while (i < vl && (v[i] == ' ' || v[i] == '\t'))
			i++;
		for (j = 0; i < vl && v[i] >= '0' && v[i] <= '9' &&
		    j < sizeof(tmp) - 1; i++)
			tmp[j++] = v[i];
		tmp[j] = '\0';
		if (j == 0)
			return 0;
		if (n-- == 0)
			return parse_u32(tmp, NULL);
	}
}

/* mbox_header - Status, X-Status, X-Keywords, X-UID and X-IMAPbase /
 * X-IMAP of the header of one message (folded lines joined). */
static void
mbox_header(const char *p, size_t n, struct mbox_meta *m)
{
	size_t i = 0, e, vl;
	const char *v;

	memset(m, 0, sizeof(*m));
	while (i < n) {
		for (e = i; e < n && p[e] != '\n'; e++)
			;
		/* A field continues on lines that start with white space. */
		while (e + 1 < n && (p[e + 1] == ' ' || p[e + 1] == '\t'))
			for (e++; e < n && p[e] != '\n'; e++)
				;
		if (e == i || (e == i + 1 && p[i] == '\r'))
			break;		/* end of the header */
		if (header_is(p + i, e - i, "Status", &v, &vl)) {
			if (memchr(v, 'R', vl))
				m->flags |= SPOOL_F_SEEN;
		} else if (header_is(p + i, e - i, "X-Status", &v, &vl)) {
			if (memchr(v, 'A', vl))
				m->flags |= SPOOL_F_ANSWERED;
			if (memchr(v, 'F', vl))
				m->flags |= SPOOL_F_FLAGGED;
			if (memchr(v, 'T', vl))
				m->flags |= SPOOL_F_DRAFT;
			if (memchr(v, 'D', vl))
				m->flags |= SPOOL_F_DELETED;
		} else if (header_is(p + i, e - i, "X-Keywords", &v, &vl)) {
			mbox_keywords(m, v, vl);
		} else if (header_is(p + i, e - i, "X-UID", &v, &vl)) {
			m->uid = value_u32(v, vl, 0);
		} else if (header_is(p + i, e - i, "X-IMAPbase", &v, &vl) ||
		    header_is(p + i, e - i, "X-IMAP", &v, &vl)) {
			m->pseudo = e - i > 7 && p[i + 6] == ':';
			m->uidvalidity = value_u32(v, vl, 0);
			m->uidnext = value_u32(v, vl, 1);
		}
		i = e + 1;
	}
}

/* The UIDs of an mbox, from its first message(s). */
struct mbox_uids {
	uint32_t	uidvalidity;
	uint32_t	uidnext;
	bool		started;	/* start_uids was called */
};

/* mbox_message - one message of the mbox (text in msg). */
static int
mbox_message(struct importer *im, struct buf *msg, time_t date,
    struct mbox_uids *u)
{
	struct mbox_meta m;
	const char *text = msg->data != NULL ? msg->data : "";
	int code;

	mbox_header(text, msg->len, &m);
	if (m.uidvalidity != 0 && u->uidvalidity == 0 && !u->started) {
		u->uidvalidity = m.uidvalidity;
		u->uidnext = m.uidnext;
	}
	if (m.pseudo) {
		/* UW-IMAP's "DON'T DELETE THIS MESSAGE" holds folder data. */
		return EX_OK;
	}
	if (!u->started) {
		u->started = true;
		if (u->uidvalidity != 0 && (code = start_uids(im,
		    u->uidvalidity, m.uid != 0 ? m.uid : u->uidnext)) != EX_OK)
			return code;
	}
	return add_message(im, text, msg->len, m.flags,
	    (const char *const *)m.kw, m.nkw, date, m.uid);
}

static int
import_mbox(struct importer *im, const char *path, const char *mailbox)
{
	struct mbox_uids uids = { 0, 0, false };
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
				code = mbox_message(im, &msg, date, &uids);
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
	if (code == EX_OK && uids.started)
		code = end_kept_uids(im, uids.uidvalidity, uids.uidnext);
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
			adm_object_num(o, "uids_kept", im.uids_kept);
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
