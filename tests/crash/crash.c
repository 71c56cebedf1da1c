/*
 * crash.c - the spool crash test.  Several child processes deliver,
 * append, flag, copy and expunge in one environment while this driver
 * kills them with SIGKILL at random moments, many times, and starts new
 * ones.  A child writes the id of a delivery into its side file only
 * after spool_deliver returned success.  Afterwards: every acknowledged
 * delivery is present exactly once in both of its mailboxes and reads
 * back whole, no message id appears twice anywhere, verify finds the
 * refcounts and counters consistent, the driver's own calls never waited
 * longer than a bound while the others were killed, and every child
 * stopped when asked (nobody hung on a lock).  The run is bounded
 * (CRASH_SECONDS, default 30 s, at most twice that when the machine is
 * slow; an alarm ends a hung run).
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool/spool.h"
#include "tests/unit/unit.h"
#include "tests/unit/test-spool-common.h"

#define NCHILD		4
#define LOCK_MS		2000

struct progress {
	volatile double	last_ok[NCHILD + 1];	/* now_ms() of the last success */
	volatile long	ops[NCHILD + 1];
	volatile double	max_call;		/* the prober's longest call */
	volatile long	delivered;		/* acknowledged deliveries */
	volatile long	probe_fail;		/* its failed calls */
};

static struct progress *prog;
static volatile sig_atomic_t stopping;
static char *envdir, *sidedir;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static void
user_name(char *dst, size_t n, int i)
{
	snprintf(dst, n, "u%d@crash.example", i);
}

/* child_deliver - one delivery to u<i>/INBOX and shared/INBOX. */
static int
child_deliver(struct spool *sp, int i, int ackfd, unsigned long seq)
{
	static char msg[8192];
	struct spool_local_rcpt rc[2];
	struct spool_delivery d;
	char id[64], user[64], qid[SPOOL_QID_SIZE], line[80];
	int r;

	snprintf(id, sizeof(id), "c%d-%d-%lu", i, (int)getpid(), seq);
	user_name(user, sizeof(user), i);
	memset(rc, 0, sizeof(rc));
	rc[0].user = user;
	rc[1].user = "shared@crash.example";
	memset(&d, 0, sizeof(d));
	d.len = make_msg(msg, sizeof(msg), id, user, 200 + (seq % 7) * 500);
	d.data = msg;
	d.mail_from = "s@crash.example";
	d.local = rc;
	d.nlocal = 2;
	r = spool_deliver(sp, &d, qid);
	if (r == SPOOL_OK && rc[0].status == SPOOL_OK &&
	    rc[1].status == SPOOL_OK) {
		int n = snprintf(line, sizeof(line), "%s\n", id);

		/* Only now is it acknowledged. */
		if (write(ackfd, line, (size_t)n) != n)
			_exit(3);
		__atomic_add_fetch(&prog->delivered, 1, __ATOMIC_SEQ_CST);
	}
	return r;
}

static int
child_append(struct spool *sp, int i)
{
	struct spool_append ap[2];
	char user[64];
	uint32_t uv, uids[2];
	static const char m[] = "Subject: trash\r\n\r\nto be expunged\r\n";

	user_name(user, sizeof(user), i);
	memset(ap, 0, sizeof(ap));
	ap[0].data = ap[1].data = m;
	ap[0].len = ap[1].len = sizeof(m) - 1;
	ap[0].flags = ap[1].flags = SPOOL_F_DELETED;
	return spool_append(sp, user, "Trash", ap, 2, &uv, uids);
}

static int
child_view_op(struct spool *sp, int i, int op)
{
	struct spool_view *v = NULL;
	char user[64];
	int r;

	user_name(user, sizeof(user), i);
	r = spool_view_open(sp, user, op == 0 ? "Trash" : "INBOX", 0, &v);
	if (r != SPOOL_OK)
		return r;
	if (op == 0) {
		r = spool_expunge(v, NULL, 0, NULL);
	} else if (spool_view_count(v) > 0) {
		uint32_t uid = spool_view_msg(v, (size_t)rand() %
		    spool_view_count(v))->uid;

		if (op == 1) {
			r = spool_store(v, &uid, 1, rand() % 2 ? SPOOL_STORE_ADD :
			    SPOOL_STORE_REMOVE, SPOOL_F_SEEN | SPOOL_F_FLAGGED,
			    NULL, 0, 0, NULL, NULL);
		} else {
			struct spool_copy_result cr;

			r = spool_copy(v, &uid, 1, "Archive", false, &cr);
			spool_copy_result_free(&cr);
		}
	}
	spool_view_close(&v);
	return r;
}

static void
child_main(int i)
{
	struct spool_settings s;
	struct spool *sp = NULL;
	char path[4096];
	unsigned long seq = 0;
	int ackfd, r;

	signal(SIGTERM, on_term);
	srand((unsigned)getpid());
	log_init("crash-child", true);
	log_set_level(LOG_LVL_ERROR);
	snprintf(path, sizeof(path), "%s/ack.%d", sidedir, i);
	ackfd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
	if (ackfd < 0)
		_exit(2);
	spool_settings_default(&s);
	s.dir = envdir;
	s.cache_size = 8 * 1024 * 1024;
	s.lock_timeout_ms = LOCK_MS;
	s.failchk_interval = 1;
	s.max_threads = 200;
	s.max_locks = 20000;
	s.watchdog = 10;
	while (!stopping && spool_open(&s, &sp) != SPOOL_OK)
		usleep(100000);
	/* The prober (never killed by the driver): a reader whose calls
	 * must stay bounded while the writers are killed around it. */
	while (i == NCHILD && !stopping && sp != NULL) {
		struct spool_mbox st;
		double c0 = now_ms(), c1;

		r = spool_mailbox_status(sp, "shared@crash.example", "INBOX", &st);
		c1 = now_ms();
		if (c1 - c0 > prog->max_call)
			prog->max_call = c1 - c0;
		if (r == SPOOL_OK) {
			prog->last_ok[i] = c1;
			prog->ops[i]++;
		} else if (r == SPOOL_ERUNRECOVERY) {
			(void)spool_recover(sp);
		} else {
			prog->probe_fail++;
		}
		usleep(50000);
	}
	while (!stopping && i < NCHILD) {
		int op = rand() % 10;

		if (op < 5)
			r = child_deliver(sp, i, ackfd, seq++);
		else if (op == 5)
			r = child_append(sp, i);
		else if (op == 6)
			r = child_view_op(sp, i, 0);
		else if (op < 9)
			r = child_view_op(sp, i, 1);
		else
			r = child_view_op(sp, i, 2);
		if (r == SPOOL_OK) {
			prog->last_ok[i] = now_ms();
			prog->ops[i]++;
		} else if (r == SPOOL_ERUNRECOVERY) {
			(void)spool_recover(sp);
			usleep(50000);
		} else if (!spool_err_temporary(r)) {
			/* A permanent error here is a bug. */
			fprintf(stderr, "child %d: op %d: %s\n", i, op,
			    spool_err_name(r));
			_exit(4);
		}
	}
	spool_close(&sp);
	close(ackfd);
	_exit(0);
}

static pid_t
spawn(int i)
{
	pid_t pid = fork();

	if (pid == 0)
		child_main(i);
	return pid;
}

static void
on_alarm(int sig)
{
	(void)sig;
	static const char m[] = "not ok - the crash test hung (alarm)\n";

	if (write(1, m, sizeof(m) - 1) < 0)
		_exit(1);
	_exit(1);
}

/* An id seen in a mailbox: count occurrences. */
struct seen {
	char	**ids;
	int	 *count;
	size_t	  n, cap;
};

static void
seen_add(struct seen *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (strcmp(s->ids[i], id) == 0) {
			s->count[i]++;
			return;
		}
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->ids = realloc(s->ids, s->cap * sizeof(*s->ids));
		s->count = realloc(s->count, s->cap * sizeof(*s->count));
	}
	s->ids[s->n] = strdup(id);
	s->count[s->n++] = 1;
}

static int
seen_count(const struct seen *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->ids[i], id) == 0)
			return s->count[i];
	return 0;
}

static void
seen_free(struct seen *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->ids[i]);
	free(s->ids);
	free(s->count);
	memset(s, 0, sizeof(*s));
}

/* scan - the message ids of a mailbox (from the cached ENVELOPE);
 * *bad_r counts messages whose body does not read back whole. */
static int
scan(struct spool *sp, const char *user, const char *box, struct seen *s,
    size_t *bad_r)
{
	struct spool_view *v = NULL;
	size_t i;
	int r;

	if ((r = spool_view_open(sp, user, box, 0, &v)) != SPOOL_OK)
		return r;
	for (i = 0; i < spool_view_count(v); i++) {
		const struct spool_msg *m = spool_view_msg(v, i);
		struct spool_cache c;
		struct spool_body *b = NULL;
		struct buf out = BUF_INIT(0);
		char *lt, *gt;

		if (spool_view_cache(v, m->uid, &c) != SPOOL_OK) {
			(*bad_r)++;
			continue;
		}
		lt = strrchr(c.envelope, '<');
		gt = lt ? strchr(lt, '@') : NULL;
		if (lt && gt) {
			*gt = '\0';
			seen_add(s, lt + 1);
		}
		spool_cache_free(&c);
		if (spool_body_open(v, m->uid, &b) != SPOOL_OK ||
		    spool_body_get(b, 0, UINT64_MAX, &out) != SPOOL_OK ||
		    out.len != m->size || strncmp(out.data, "From: ", 6) != 0)
			(*bad_r)++;
		spool_body_close(&b);
		buf_free(&out);
	}
	spool_view_close(&v);
	return SPOOL_OK;
}

/* dump_stacks - with CRASH_GDB=1 in the environment, print the stacks
 * of a child that did not stop (to diagnose a hang; needs gdb). */
static void
dump_stacks(pid_t pid)
{
	char cmd[128];

	if (getenv("CRASH_GDB") == NULL)
		return;
	snprintf(cmd, sizeof(cmd), "gdb -p %d -batch -ex 'thread apply all bt' "
	    "2>&1 | sed 's/^/# /'", (int)pid);
	fflush(stdout);
	if (system(cmd) != 0)
		printf("# gdb could not read pid %d\n", (int)pid);
}

static void
report_line(void *arg, const char *line)
{
	(void)arg;
	printf("# verify: %s\n", line);
}

int
main(void)
{
	const char *secs_env = getenv("CRASH_SECONDS");
	int seconds = secs_env ? atoi(secs_env) : 30;
	struct spool *sp;
	pid_t pids[NCHILD + 1];
	double t0, max_call, max_stall = 0;
	int i, kills = 0, hung = 0, failed_calls = 0, self_exits = 0;
	struct spool_verify_report rep;
	size_t acked = 0, missing = 0, dup = 0, bad = 0, total_ids = 0;

	signal(SIGALRM, on_alarm);
	alarm((unsigned)(2 * seconds + 50));
	log_init("crash", true);
	log_set_level(LOG_LVL_ERROR);
	envdir = scratch_dir("crash-env");
	sidedir = scratch_dir("crash-side");
	prog = mmap(NULL, sizeof(*prog), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (prog == MAP_FAILED)
		return 99;
	memset((void *)prog, 0, sizeof(*prog));
	sp = scratch_open(envdir, LOCK_MS);
	for (i = 0; i < NCHILD; i++) {
		char user[64];

		user_name(user, sizeof(user), i);
		spool_user_create(sp, user);
	}
	spool_user_create(sp, "shared@crash.example");
	/* The driver leaves the environment to the children while it kills
	 * them: it only watches their progress. */
	spool_close(&sp);
	t0 = now_ms();
	for (i = 0; i <= NCHILD; i++) {
		prog->last_ok[i] = t0;
		pids[i] = spawn(i);
	}

	/* Kill at random moments until the time is up. */
	srand(4242);
	/* Until the time is up and enough deliveries were acknowledged to
	 * make the check meaningful (a loaded machine is slower), bounded by
	 * twice the time. */
	while ((now_ms() - t0 < seconds * 1000.0 || prog->delivered < 100) &&
	    now_ms() - t0 < 2 * seconds * 1000.0) {
		double now;
		int victim = rand() % NCHILD, status;

		usleep(50000 + (rand() % 300) * 1000);
		/* A child that left by itself (exit 75: its watchdog found it
		 * stuck on a mutex of a killed process) is started again. */
		for (i = 0; i <= NCHILD; i++) {
			if (waitpid(pids[i], &status, WNOHANG) == pids[i]) {
				if (WIFEXITED(status) && WEXITSTATUS(status) == 4)
					failed_calls += 1000;
				else
					self_exits++;
				pids[i] = spawn(i);
				prog->last_ok[i] = now_ms();
			}
		}
		kill(pids[victim], SIGKILL);
		waitpid(pids[victim], &status, 0);
		kills++;
		pids[victim] = spawn(victim);
		prog->last_ok[victim] = now_ms();
		now = now_ms();
		for (i = 0; i <= NCHILD; i++)
			if (now - prog->last_ok[i] > max_stall)
				max_stall = now - prog->last_ok[i];
	}
	max_call = prog->max_call;

	/* Ask the children to stop; they must, within a bound. */
	for (i = 0; i <= NCHILD; i++)
		kill(pids[i], SIGTERM);
	for (i = 0; i <= NCHILD; i++) {
		double w0 = now_ms();
		int status;

		while (waitpid(pids[i], &status, WNOHANG) == 0) {
			if (now_ms() - w0 > 15000) {
				hung++;
				dump_stacks(pids[i]);
				kill(pids[i], SIGKILL);
				waitpid(pids[i], &status, 0);
				break;
			}
			usleep(20000);
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 4)
			failed_calls += 1000;	/* a permanent error: bug */
	}

	printf("# %d kills, %d children left by themselves, ops per child: "
	    "%ld %ld %ld %ld\n", kills, self_exits,
	    prog->ops[0], prog->ops[1], prog->ops[2], prog->ops[3]);
	CHECK(kills >= 50, "children killed %d times", kills);
	/* A child stuck on a mutex of a killed process (in any call, in
	 * spool_open or in spool_close) is ended by its watchdog (exit 75),
	 * so every child leaves within the watchdog's bound. */
	CHECK(hung == 0, "every child stopped when asked (%d hung)", hung);
	CHECK(max_call < 12000, "the prober's calls stayed bounded by the lock "
	    "timeout or the watchdog (longest %.0f ms, %ld failed)", max_call,
	    prog->probe_fail);
	CHECK(failed_calls < 1000, "no child saw a permanent error");
	CHECK(max_stall < 25000, "no process went 25 s without progress "
	    "(longest %.0f ms)", max_stall);

	/* Reopen (recovery if needed) and check the acknowledged work.  The
	 * first open runs in a helper process: if a killed process left a
	 * Berkeley DB mutex held, the helper's watchdog ends it and the next
	 * one recovers. */
	{
		int attempt, opened = 0;

		for (attempt = 0; attempt < 6 && !opened; attempt++) {
			pid_t h = fork();
			double w0 = now_ms();
			int status = 0;

			if (h == 0) {
				struct spool_settings s;
				struct spool *hsp = NULL;

				spool_settings_default(&s);
				s.dir = envdir;
				s.cache_size = 8 * 1024 * 1024;
				s.max_threads = 200;
				s.max_locks = 20000;
				s.watchdog = 10;
				if (spool_open(&s, &hsp) != SPOOL_OK)
					_exit(1);
				spool_close(&hsp);
				_exit(0);
			}
			while (waitpid(h, &status, WNOHANG) == 0) {
				if (now_ms() - w0 > 25000) {
					kill(h, SIGKILL);
					waitpid(h, &status, 0);
					break;
				}
				usleep(50000);
			}
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				opened = 1;
		}
		CHECK(opened, "the environment opens after the run (%d attempts)",
		    attempt);
		if (!opened)
			return unit_done();
	}
	sp = scratch_open(envdir, LOCK_MS);
	{
		struct seen shared = { 0 };

		CHECK(scan(sp, "shared@crash.example", "INBOX", &shared, &bad) ==
		    SPOOL_OK, "scan the shared INBOX");
		for (i = 0; i < NCHILD; i++) {
			struct seen own = { 0 };
			char user[64], path[4096], line[128];
			FILE *f;
			size_t k;

			user_name(user, sizeof(user), i);
			(void)scan(sp, user, "INBOX", &own, &bad);
			for (k = 0; k < own.n; k++) {
				total_ids++;
				if (own.count[k] != 1)
					dup++;
			}
			snprintf(path, sizeof(path), "%s/ack.%d", sidedir, i);
			f = fopen(path, "r");
			while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
				size_t l = strlen(line);

				if (l == 0 || line[l - 1] != '\n')
					continue;	/* killed mid-write */
				line[l - 1] = '\0';
				acked++;
				if (seen_count(&own, line) != 1 ||
				    seen_count(&shared, line) != 1) {
					missing++;
					if (missing < 5)
						printf("# %s: own %d shared %d\n",
						    line, seen_count(&own, line),
						    seen_count(&shared, line));
				}
			}
			if (f != NULL)
				fclose(f);
			seen_free(&own);
		}
		for (i = 0; i < (int)shared.n; i++)
			if (shared.count[i] != 1)
				dup++;
		seen_free(&shared);
	}
	CHECK(acked >= 50, "%zu acknowledged deliveries", acked);
	CHECK(missing == 0, "every acknowledged delivery present exactly once "
	    "in both mailboxes (%zu not)", missing);
	CHECK(dup == 0, "no message id twice in a mailbox (%zu of %zu)", dup,
	    total_ids);
	CHECK(bad == 0, "every stored message reads back whole (%zu bad)", bad);
	CHECK(spool_verify(sp, false, &rep, report_line, NULL) == SPOOL_OK &&
	    rep.errors == 0, "verify: refcounts, counters, uids consistent "
	    "(%llu errors in %llu messages, %llu bodies)",
	    (unsigned long long)rep.errors,
	    (unsigned long long)rep.checked_messages,
	    (unsigned long long)rep.checked_bodies);
	spool_close(&sp);
	rm_tree(envdir);
	rm_tree(sidedir);
	free(envdir);
	free(sidedir);
	return unit_done();
}
