/*
 * smtp_spooldump.c - smtp-spooldump, a small test tool that reads what
 * gms-smtpd delivered back through the spool API, for the protocol tests
 * (durability, DMARC quarantine, headers): it prints every message of a
 * user's mailbox, or the queue.  Not installed.
 *
 *   smtp-spooldump -c gms.conf USER [MAILBOX]   every message, as
 *       "=== uid N size S\n" followed by the S bytes and "\n"
 *   smtp-spooldump -c gms.conf -q               queue entries, one a line:
 *       "QID from=<...> rcpt=a,b"
 *
 * Exit status 0, 2 when the user or mailbox does not exist, 1 on error.
 * As root it first drops to server.user/server.group, so that it never
 * leaves files in the environment that the daemons could not open.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gms.h"
#include "spool/spool.h"
#include "directory/directory.h"
#include "smtpd/smtpd.h"

static int
dump_mailbox(struct spool *sp, const char *user, const char *name)
{
	struct spool_view *v = NULL;
	struct spool_body *b;
	struct buf out = BUF_INIT(0);
	size_t i, n;
	int r;

	r = spool_view_open(sp, user, name, SPOOL_VIEW_READONLY, &v);
	if (r == SPOOL_ENOENT)
		return 2;
	if (r != SPOOL_OK) {
		fprintf(stderr, "spool_view_open: %s\n", spool_strerror(r));
		return 1;
	}
	n = spool_view_count(v);
	for (i = 0; i < n; i++) {
		const struct spool_msg *m = spool_view_msg(v, i);

		r = spool_body_open(v, m->uid, &b);
		if (r != SPOOL_OK) {
			fprintf(stderr, "spool_body_open: %s\n", spool_strerror(r));
			spool_view_close(&v);
			return 1;
		}
		buf_reset(&out);
		r = spool_body_get(b, 0, spool_body_size(b), &out);
		spool_body_close(&b);
		if (r != SPOOL_OK) {
			fprintf(stderr, "spool_body_get: %s\n", spool_strerror(r));
			spool_view_close(&v);
			return 1;
		}
		printf("=== uid %u size %zu\n", m->uid, out.len);
		fwrite(out.data ? out.data : "", 1, out.len, stdout);
		printf("\n");
	}
	buf_free(&out);
	spool_view_close(&v);
	return 0;
}

static int
dump_queue(struct spool *sp)
{
	struct spool_queue_entry *v = NULL;
	size_t n = 0, i, j;
	int r;

	r = spool_queue_list(sp, &v, &n);
	if (r != SPOOL_OK) {
		fprintf(stderr, "spool_queue_list: %s\n", spool_strerror(r));
		return 1;
	}
	for (i = 0; i < n; i++) {
		printf("%s from=<%s> rcpt=", v[i].id, v[i].mail_from);
		for (j = 0; j < v[i].nrcpt; j++)
			printf("%s%s", j ? "," : "", v[i].rcpt[j].address);
		printf("\n");
	}
	spool_queue_list_free(&v, n);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *path = NULL;
	struct spool_settings ss;
	struct spool *sp = NULL;
	struct conf *c;
	char err[512];
	bool queue = false;
	int ch, rc;

	while ((ch = getopt(argc, argv, "c:q")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'q':
			queue = true;
			break;
		default:
			goto usage;
		}
	}
	if (path == NULL || (!queue && (argc - optind < 1 || argc - optind > 2)))
		goto usage;
	conf_register(lib_conf_table);
	conf_register(spool_conf_table);
	conf_register(directory_conf_table);
	conf_register(smtpd_conf_table);
	c = conf_load(path, err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, "smtp-spooldump: %s\n", err);
		return 1;
	}
	log_init("smtp-spooldump", true);
	log_set_level(LOG_LVL_WARN);
	if (geteuid() == 0 && server_drop_privileges(conf_str(c, "server.user"),
	    conf_str(c, "server.group")) != 0)
		return 1;
	spool_settings_from_conf(&ss, c);
	ss.maintenance = false;
	ss.create = false;
	rc = spool_open(&ss, &sp);
	if (rc != SPOOL_OK) {
		fprintf(stderr, "spool_open: %s\n", spool_strerror(rc));
		return 1;
	}
	if (queue)
		rc = dump_queue(sp);
	else
		rc = dump_mailbox(sp, argv[optind],
		    argc - optind == 2 ? argv[optind + 1] : "INBOX");
	spool_close(&sp);
	conf_free(&c);
	fflush(stdout);
	return rc;
usage:
	fprintf(stderr, "usage: smtp-spooldump -c config USER [MAILBOX] | "
	    "-c config -q\n");
	return 2;
}
