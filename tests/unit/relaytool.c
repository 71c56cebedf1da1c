/*
 * relaytool.c - a small driver of the relay for the protocol tests and
 * the benchmark (a check_PROGRAM, not installed, not in TESTS): it queues
 * messages through the spool API, runs the queue runner in this process
 * as gms-smtpd would, and prints the queue and a user's INBOX.
 *
 *   relaytool -c gms.conf add [-e ENVID] [-r full|hdrs] [-n NOTIFY] [-8]
 *       [-U] [-o ORCPT] [-N COUNT] FROM RCPT...  < message
 *           queue the message (stdin, LF made CRLF) for the remote RCPTs
 *           (COUNT times: the benchmark); prints the queue id(s)
 *   relaytool -c gms.conf run [-t SECONDS] [-w]
 *           run the runner; -w: stop once the queue is empty (exit 0) or
 *           after SECONDS (exit 3); without -w run until SIGTERM/SIGINT
 *           or SECONDS (exit 0).  Prints the counters at the end.
 *   relaytool -c gms.conf list
 *           "QID from=<..> attempts=N held=0|1 next=+S" then per
 *           recipient "  <addr> STATE status=X flags=N diag=..."
 *   relaytool -c gms.conf inbox USER
 *           every INBOX message as "=== uid N size S\n" then the bytes
 *   relaytool -c gms.conf mkuser USER
 *           create USER's mailbox set (so that a DSN can go to its INBOX)
 *   relaytool -c gms.conf flush|hold|release|delete QID
 *
 * NOTIFY is a comma list of SUCCESS, FAILURE, DELAY, NEVER.  Exit status
 * 0, 1 on error, 2 when something named does not exist.  As root it drops
 * to server.user first (like gms-smtpd), so the environment stays usable.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gms.h"
#include "spool/spool.h"
#include "relay/relay.h"

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: relaytool -c CONF add|run|list|inbox|flush|"
	    "hold|release|delete ...\n");
	exit(1);
}

static unsigned
parse_notify(const char *s)
{
	unsigned n = 0;

	if (strstr(s, "SUCCESS") != NULL)
		n |= SPOOL_NOTIFY_SUCCESS;
	if (strstr(s, "FAILURE") != NULL)
		n |= SPOOL_NOTIFY_FAILURE;
	if (strstr(s, "DELAY") != NULL)
		n |= SPOOL_NOTIFY_DELAY;
	if (strstr(s, "NEVER") != NULL)
		n |= SPOOL_NOTIFY_NEVER;
	return n;
}

static int
cmd_add(struct spool *sp, int argc, char **argv)
{
	struct buf in = BUF_INIT(0), msg = BUF_INIT(0);
	struct spool_remote_rcpt *rr;
	const char *envid = NULL, *orcpt = NULL;
	char chunk[8192], qid[SPOOL_QID_SIZE];
	unsigned ret = SPOOL_RET_DEFAULT, notify = 0, qflags = 0;
	size_t n, i;
	long count = 1, k;
	int ch, r = SPOOL_OK;

	optind = 1;
	while ((ch = getopt(argc, argv, "e:r:n:8Uo:N:")) != -1) {
		switch (ch) {
		case 'e': envid = optarg; break;
		case 'r': ret = strcmp(optarg, "full") == 0 ? SPOOL_RET_FULL :
			      SPOOL_RET_HDRS; break;
		case 'n': notify = parse_notify(optarg); break;
		case '8': qflags |= SPOOL_QF_8BITMIME; break;
		case 'U': qflags |= SPOOL_QF_SMTPUTF8; break;
		case 'o': orcpt = optarg; break;
		case 'N': count = atol(optarg); break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		usage();
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		(void)buf_append(&in, chunk, n);
	for (i = 0; i < in.len; i++) {
		if (in.data[i] == '\n' && (i == 0 || in.data[i - 1] != '\r'))
			(void)buf_putc(&msg, '\r');
		(void)buf_putc(&msg, (unsigned char)in.data[i]);
	}
	rr = calloc((size_t)argc, sizeof(*rr));
	for (i = 1; i < (size_t)argc; i++) {
		rr[i - 1].address = argv[i];
		rr[i - 1].notify = notify;
		rr[i - 1].orcpt = orcpt;
	}
	for (k = 0; k < count && r == SPOOL_OK; k++) {
		r = spool_queue_add(sp, msg.data ? msg.data : "", msg.len,
		    strcmp(argv[0], "<>") == 0 ? "" : argv[0], envid, ret,
		    qflags, rr, (size_t)argc - 1, qid);
		if (r == SPOOL_OK)
			printf("%s\n", qid);
	}
	free(rr);
	buf_free(&in);
	buf_free(&msg);
	if (r != SPOOL_OK) {
		fprintf(stderr, "relaytool: queue add: %s\n", spool_err_name(r));
		return 1;
	}
	return 0;
}

static int
cmd_run(struct conf *c, struct spool *sp, int argc, char **argv)
{
	struct relay_stats st;
	struct spool_queue_entry *v = NULL;
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	long seconds = 0;
	bool wait_empty = false;
	time_t start = time(NULL);
	size_t n;
	int ch, rc = 0;

	optind = 1;
	while ((ch = getopt(argc, argv, "t:w")) != -1) {
		switch (ch) {
		case 't': seconds = atol(optarg); break;
		case 'w': wait_empty = true; break;
		default: usage();
		}
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (relay_start(c, sp) != 0)
		return 1;
	while (!got_signal) {
		nanosleep(&ts, NULL);
		if (seconds > 0 && time(NULL) - start >= seconds) {
			rc = wait_empty ? 3 : 0;
			break;
		}
		if (wait_empty && spool_queue_list(sp, &v, &n) == SPOOL_OK) {
			spool_queue_list_free(&v, n);
			if (n == 0)
				break;
		}
	}
	relay_stop();
	relay_get_stats(&st);
	printf("attempts=%llu delivered=%llu deferred=%llu failed=%llu "
	    "dsns=%llu\n", (unsigned long long)st.attempts,
	    (unsigned long long)st.delivered, (unsigned long long)st.deferred,
	    (unsigned long long)st.failed, (unsigned long long)st.dsns);
	return rc;
}

static int
cmd_list(struct spool *sp)
{
	struct spool_queue_entry *v = NULL;
	size_t n = 0, i, j;
	time_t now = time(NULL);
	int r;

	r = spool_queue_list(sp, &v, &n);
	if (r != SPOOL_OK) {
		fprintf(stderr, "relaytool: list: %s\n", spool_err_name(r));
		return 1;
	}
	for (i = 0; i < n; i++) {
		printf("%s from=<%s> attempts=%u held=%d next=%+lld size=%llu\n",
		    v[i].id, v[i].mail_from, v[i].attempts, v[i].held,
		    (long long)(v[i].next_attempt - now),
		    (unsigned long long)v[i].size);
		for (j = 0; j < v[i].nrcpt; j++)
			printf("  <%s> %s status=%s flags=%u attempts=%u "
			    "diag=%s\n", v[i].rcpt[j].address,
			    spool_rcpt_state_name(v[i].rcpt[j].state),
			    v[i].rcpt[j].status ? v[i].rcpt[j].status : "-",
			    v[i].rcpt[j].flags, v[i].rcpt[j].attempts,
			    v[i].rcpt[j].diag ? v[i].rcpt[j].diag : "-");
	}
	spool_queue_list_free(&v, n);
	return 0;
}

static int
cmd_inbox(struct spool *sp, const char *user)
{
	struct spool_view *v = NULL;
	struct spool_body *b = NULL;
	struct buf out = BUF_INIT(0);
	size_t i;
	int r;

	r = spool_view_open(sp, user, "INBOX", SPOOL_VIEW_READONLY, &v);
	if (r == SPOOL_ENOENT)
		return 2;
	if (r != SPOOL_OK) {
		fprintf(stderr, "relaytool: inbox: %s\n", spool_err_name(r));
		return 1;
	}
	for (i = 0; i < spool_view_count(v); i++) {
		const struct spool_msg *m = spool_view_msg(v, i);

		if (spool_body_open(v, m->uid, &b) != SPOOL_OK)
			continue;
		buf_reset(&out);
		if (spool_body_get(b, 0, spool_body_size(b), &out) == SPOOL_OK) {
			printf("=== uid %u size %zu\n", m->uid, out.len);
			fwrite(out.data ? out.data : "", 1, out.len, stdout);
			printf("\n");
		}
		spool_body_close(&b);
	}
	buf_free(&out);
	spool_view_close(&v);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *path = NULL, *cmd;
	struct conf *c;
	struct spool *sp = NULL;
	char err[512];
	int ch, r, rc = 1;

	while ((ch = getopt(argc, argv, "+c:")) != -1) {
		if (ch == 'c')
			path = optarg;
		else
			usage();
	}
	if (optind >= argc)
		usage();
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	conf_register(lib_conf_table);
	conf_register(spool_conf_table);
	conf_register(relay_conf_table);
	c = conf_load(path, err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, "relaytool: %s\n", err);
		return 1;
	}
	log_init("relaytool", true);
	{
		int lvl = log_level_parse(conf_str(c, "log.level"));
		unsigned int mask;

		if (lvl >= 0)
			log_set_level((enum log_level)lvl);
		if (log_trace_parse(conf_str(c, "log.trace"), &mask) == 0)
			log_trace_mask = mask;
	}
	signal(SIGPIPE, SIG_IGN);
	if (geteuid() == 0 && server_drop_privileges(conf_str(c, "server.user"),
	    conf_str(c, "server.group")) != 0)
		return 1;
	r = spool_open_conf(c, &sp);
	if (r != SPOOL_OK) {
		fprintf(stderr, "relaytool: spool: %s\n", spool_err_name(r));
		conf_free(&c);
		return 1;
	}
	if (strcmp(cmd, "add") == 0)
		rc = cmd_add(sp, argc, argv);
	else if (strcmp(cmd, "run") == 0)
		rc = cmd_run(c, sp, argc, argv);
	else if (strcmp(cmd, "list") == 0)
		rc = cmd_list(sp);
	else if (strcmp(cmd, "mkuser") == 0 && argc == 2) {
		r = spool_user_create(sp, argv[1]);
		rc = r == SPOOL_OK || r == SPOOL_EEXIST ? 0 : 1;
	} else if (strcmp(cmd, "inbox") == 0 && argc == 2)
		rc = cmd_inbox(sp, argv[1]);
	else if (argc == 2 && (strcmp(cmd, "flush") == 0 ||
	    strcmp(cmd, "hold") == 0 || strcmp(cmd, "release") == 0 ||
	    strcmp(cmd, "delete") == 0)) {
		if (strcmp(cmd, "flush") == 0)
			r = relay_queue_flush(sp, argv[1]);
		else if (strcmp(cmd, "delete") == 0)
			r = spool_queue_delete(sp, argv[1]);
		else
			r = spool_queue_hold(sp, argv[1], cmd[0] == 'h');
		rc = r == SPOOL_OK ? 0 : r == SPOOL_ENOENT ? 2 : 1;
	} else
		usage();
	spool_close(&sp);
	conf_free(&c);
	return rc;
}
