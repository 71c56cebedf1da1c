/*
 * bench-spool.c - the spool benchmark (not part of the test suite).
 *
 * Measures, in one run and on one disk (the directory given):
 *  - the raw fdatasync rate of the disk (512-byte write + fdatasync), the
 *    physical limit of durable commits without group commit;
 *  - deliveries per second of 1 KiB and 100 KiB messages with 1, 8 and 32
 *    concurrent writers (threads of one process, each delivering to its
 *    own user: every delivery is a durable transaction);
 *  - log flushes per commit (DB_ENV->log_stat st_scount against
 *    txn_stat st_ncommits): below 1 means concurrent commits shared a
 *    flush (group commit);
 *  - one 1 MiB message delivered to 300 mailboxes in one transaction, and
 *    the bytes stored for it (the body is stored once).
 * Prints a Markdown report on stdout.
 *
 * usage: bench-spool DIR [SECONDS-PER-CASE]
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool/spool.h"
#include "tests/unit/test-spool-common.h"

static struct spool *sp;
static double run_seconds = 3.0;
static size_t msg_size;
static volatile int go, stop;

struct worker {
	pthread_t	 t;
	int		 id;
	long		 done;
	long		 failed;
	int		 last_err;
	char		*msg;
	size_t		 len;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	char user[64];
	char qid[SPOOL_QID_SIZE];

	snprintf(user, sizeof(user), "w%d@bench.example", w->id);
	while (!go)
		usleep(1000);
	while (!stop) {
		struct spool_local_rcpt rc;
		struct spool_delivery d;

		memset(&rc, 0, sizeof(rc));
		rc.user = user;
		memset(&d, 0, sizeof(d));
		d.data = w->msg;
		d.len = w->len;
		d.mail_from = "bench@example.org";
		d.local = &rc;
		d.nlocal = 1;
		int r = spool_deliver(sp, &d, qid);

		if (r == SPOOL_OK) {
			w->done++;
		} else {
			w->failed++;
			w->last_err = r;
		}
	}
	return NULL;
}

/* fsync_rate - 512-byte writes with fdatasync for secs seconds. */
static double
fsync_rate(const char *dir, double secs)
{
	char path[4096], block[512];
	double t0 = now_ms(), t;
	long n = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/fsync-probe", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return 0;
	memset(block, 'x', sizeof(block));
	do {
		if (pwrite(fd, block, sizeof(block), (off_t)(n % 64) * 512) < 0 ||
		    fdatasync(fd) < 0)
			break;
		n++;
		t = now_ms();
	} while (t - t0 < secs * 1000.0);
	close(fd);
	unlink(path);
	return n / ((now_ms() - t0) / 1000.0);
}

static void
run_case(size_t size, int writers)
{
	struct worker *w = calloc((size_t)writers, sizeof(*w));
	struct spool_stats a, b;
	double t0, t1;
	long total = 0, failed = 0;
	int i, last_err = 0;

	msg_size = size;
	go = stop = 0;
	for (i = 0; i < writers; i++) {
		char id[32];

		w[i].id = i;
		w[i].msg = malloc(size + 1024);
		snprintf(id, sizeof(id), "b%d", i);
		w[i].len = make_msg(w[i].msg, size + 1024, id, "x", size);
		pthread_create(&w[i].t, NULL, worker_main, &w[i]);
	}
	spool_stats_db(sp, &a);
	t0 = now_ms();
	go = 1;
	usleep((useconds_t)(run_seconds * 1e6));
	stop = 1;
	for (i = 0; i < writers; i++) {
		pthread_join(w[i].t, NULL);
		total += w[i].done;
		failed += w[i].failed;
		if (w[i].last_err)
			last_err = w[i].last_err;
		free(w[i].msg);
	}
	t1 = now_ms();
	spool_stats_db(sp, &b);
	printf("| %zu KiB | %d | %.0f | %.2f | %llu | %llu | %ld%s%s |\n",
	    size / 1024, writers, total / ((t1 - t0) / 1000.0),
	    (b.txn_commits - a.txn_commits) ?
	    (double)(b.log_flushes - a.log_flushes) /
	    (double)(b.txn_commits - a.txn_commits) : 0.0,
	    (unsigned long long)(b.txn_commits - a.txn_commits),
	    (unsigned long long)(b.log_flushes - a.log_flushes), failed,
	    failed ? " " : "", failed ? spool_err_name(last_err) : "");
	fflush(stdout);
	free(w);
}

int
main(int argc, char **argv)
{
	struct spool_settings s;
	struct spool_stats a, b;
	struct spool_local_rcpt *rc;
	struct spool_delivery d;
	char qid[SPOOL_QID_SIZE], *big;
	double rate, t0, t1;
	size_t len;
	int i, r;

	if (argc < 2) {
		fprintf(stderr, "usage: bench-spool DIR [SECONDS]\n");
		return 2;
	}
	if (argc > 2)
		run_seconds = atof(argv[2]);
	log_init("bench-spool", true);
	log_set_level(LOG_LVL_ERROR);
	spool_settings_default(&s);
	s.dir = argv[1];
	s.cache_size = 256 * 1024 * 1024;
	s.log_buffer_size = 8 * 1024 * 1024;
	s.max_threads = 500;
	s.max_locks = 100000;
	if ((r = spool_open(&s, &sp)) != SPOOL_OK) {
		fprintf(stderr, "spool_open: %s\n", spool_err_name(r));
		return 1;
	}
	rate = fsync_rate(argv[1], 2.0);
	printf("## Spool benchmark\n\n");
	printf("Disk: raw `fdatasync` rate %.0f/s (512-byte writes, same "
	    "directory, same run).\n\n", rate);
	printf("| size | writers | deliveries/s | log flushes per commit | "
	    "commits | flushes | failed |\n|---|---|---|---|---|---|---|\n");
	run_case(1024, 1);
	run_case(1024, 8);
	run_case(1024, 32);
	run_case(100 * 1024, 1);
	run_case(100 * 1024, 8);
	run_case(100 * 1024, 32);

	/* One 1 MiB message to 300 mailboxes. */
	big = malloc(1024 * 1024 + 1024);
	len = make_msg(big, 1024 * 1024 + 1024, "circular", "all", 1024 * 1024);
	rc = calloc(300, sizeof(*rc));
	for (i = 0; i < 300; i++) {
		char *u = malloc(64);

		snprintf(u, 64, "inst%03d@bench.example", i);
		rc[i].user = u;
		/* Create the users first: measure the delivery alone. */
		spool_user_create(sp, u);
	}
	memset(&d, 0, sizeof(d));
	d.data = big;
	d.len = len;
	d.mail_from = "circular@example.go.tz";
	d.local = rc;
	d.nlocal = 300;
	spool_stats(sp, &a);
	t0 = now_ms();
	r = spool_deliver(sp, &d, qid);
	t1 = now_ms();
	spool_stats(sp, &b);
	printf("\nOne %zu-byte message to 300 mailboxes in one transaction: "
	    "%s in %.0f ms; bodies stored +%llu (%llu bytes), index records "
	    "+%llu.\n", len, r == SPOOL_OK ? "delivered" : spool_err_name(r),
	    t1 - t0, (unsigned long long)(b.bodies - a.bodies),
	    (unsigned long long)(b.body_bytes - a.body_bytes),
	    (unsigned long long)(b.messages - a.messages));
	for (i = 0; i < 300; i++)
		free((char *)rc[i].user);
	free(rc);
	free(big);
	spool_close(&sp);
	return 0;
}
