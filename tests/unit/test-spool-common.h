/*
 * test-spool-common.h - helpers of the spool unit tests: a scratch
 * environment in a fresh temporary directory (removed at the end), a
 * monotonic clock and small message builders.
 */
#ifndef GMS_TEST_SPOOL_COMMON_H
#define GMS_TEST_SPOOL_COMMON_H

#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool/spool.h"

/* Remove a directory tree (test scratch only; bounded depth 2). */
static inline void
rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[8192];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			rm_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* A new scratch directory (caller frees the string). */
static inline char *
scratch_dir(const char *tag)
{
	char tmpl[256];

	snprintf(tmpl, sizeof(tmpl), "/tmp/gms-%s-XXXXXX", tag);
	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		exit(99);
	}
	return strdup(tmpl);
}

static inline struct spool *
scratch_open(const char *dir, uint32_t lock_timeout_ms)
{
	struct spool_settings s;
	struct spool *sp = NULL;
	int r;

	spool_settings_default(&s);
	s.dir = dir;
	s.cache_size = 8 * 1024 * 1024;
	s.lock_timeout_ms = lock_timeout_ms;
	s.failchk_interval = 1;
	s.max_threads = 200;
	s.max_locks = 20000;
	if ((r = spool_open(&s, &sp)) != SPOOL_OK) {
		fprintf(stderr, "spool_open %s: %s\n", dir, spool_err_name(r));
		exit(99);
	}
	return sp;
}

static inline double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* A small RFC 5322 message with a unique Message-ID (static buffer per
 * call site: the caller copies it if needed). */
static inline size_t
make_msg(char *dst, size_t dstlen, const char *id, const char *to,
    size_t body_bytes)
{
	size_t n, i;

	n = (size_t)snprintf(dst, dstlen,
	    "From: Sender <sender@example.org>\r\n"
	    "To: %s\r\n"
	    "Subject: test %s\r\n"
	    "Message-ID: <%s@test>\r\n"
	    "Date: Sat, 28 Nov 2026 10:00:00 +0300\r\n"
	    "\r\n", to, id, id);
	for (i = 0; i < body_bytes && n + 3 < dstlen; i++) {
		if (i % 64 == 62) {
			dst[n++] = '\r';
			dst[n++] = '\n';
			i++;
		} else {
			dst[n++] = (char)('a' + i % 26);
		}
	}
	dst[n] = '\0';
	return n;
}

#endif
