/*
 * cmd_queue.c - "gmsadm queue list | show | flush | hold | release |
 * delete": the outbound queue kept in the mailstore (spool.h) and worked
 * by the relay inside gms-smtpd.  These commands change only the queue
 * records; the queue runner sees the change at its next look.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin/admin.h"
#include "spool/spool.h"

static void
fmt_time(time_t t, char *dst, size_t len)
{
	struct tm tm;

	if (t == 0) {
		(void)gms_strlcpy(dst, "-", len);
		return;
	}
	gmtime_r(&t, &tm);
	if (strftime(dst, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)gms_strlcpy(dst, "?", len);
}

static int
cmd_queue_list(struct adm *a, int argc, char **argv)
{
	static const char *const cols[] = { "id", "created", "next_attempt",
	    "state", "size", "from", "recipients" };
	struct spool_queue_entry *v = NULL;
	struct adm_out *o;
	size_t n = 0, i, k, pending;
	int r;

	(void)argv;
	if (argc != 0)
		return adm_fail(a, EX_USAGE, "'gmsadm queue list' takes no "
		    "operands");
	r = spool_queue_list(a->spool, &v, &n);
	if (r != SPOOL_OK)
		return adm_fail(a, adm_spool_exit(r), "cannot read the queue: %s",
		    spool_strerror(r));
	o = adm_table_new(a, cols, 7);
	for (i = 0; i < n; i++) {
		char created[32], next[32], size[24], rc[32];
		const char *row[7];

		for (k = 0, pending = 0; k < v[i].nrcpt; k++)
			if (v[i].rcpt[k].state == SPOOL_RCPT_PENDING)
				pending++;
		fmt_time(v[i].created, created, sizeof(created));
		fmt_time(v[i].next_attempt, next, sizeof(next));
		(void)gms_snprintf(size, sizeof(size), "%llu",
		    (unsigned long long)v[i].size);
		(void)gms_snprintf(rc, sizeof(rc), "%zu/%zu pending", pending,
		    v[i].nrcpt);
		row[0] = v[i].id;
		row[1] = created;
		row[2] = next;
		row[3] = v[i].held ? "held" : "queued";
		row[4] = size;
		row[5] = v[i].mail_from[0] != '\0' ? v[i].mail_from : "<>";
		row[6] = rc;
		adm_table_row(o, row);
	}
	adm_out_print(&o);
	spool_queue_list_free(&v, n);
	if (!a->json && n == 0)
		printf("the queue is empty\n");
	return EX_OK;
}

/* one_id - exactly one queue id operand. */
static int
one_id(struct adm *a, int argc, char **argv, const char *what)
{
	if (argc != 1 || argv[0][0] == '-')
		return adm_fail(a, EX_USAGE, "usage: gmsadm queue %s QUEUE_ID "
		    "(see 'gmsadm queue list')", what);
	return EX_OK;
}

static int
queue_fail(struct adm *a, int r, const char *id)
{
	if (r == SPOOL_ENOENT)
		return adm_fail(a, EX_NOUSER, "there is no queue entry %s; see "
		    "'gmsadm queue list'", id);
	return adm_fail(a, adm_spool_exit(r), "queue entry %s: %s", id,
	    spool_strerror(r));
}

static int
cmd_queue_show(struct adm *a, int argc, char **argv)
{
	static const char *const cols[] = { "recipient", "state", "attempts",
	    "last_attempt", "status", "diagnostic" };
	struct spool_queue_entry e;
	struct adm_out *o;
	char t1[32], t2[32], t3[32];
	size_t k;
	int r, code;

	if ((code = one_id(a, argc, argv, "show")) != EX_OK)
		return code;
	memset(&e, 0, sizeof(e));
	r = spool_queue_get(a->spool, argv[0], &e);
	if (r != SPOOL_OK)
		return queue_fail(a, r, argv[0]);
	fmt_time(e.created, t1, sizeof(t1));
	fmt_time(e.next_attempt, t2, sizeof(t2));
	if (a->json) {
		struct buf b = BUF_INIT(0);

		(void)buf_puts(&b, "{\"id\":");
		adm_json_str(&b, e.id);
		(void)buf_puts(&b, ",\"from\":");
		adm_json_str(&b, e.mail_from);
		(void)buf_printf(&b, ",\"created\":\"%s\",\"next_attempt\":\"%s\","
		    "\"held\":%s,\"size\":%llu,\"attempts\":%u,\"recipients\":[",
		    t1, t2, e.held ? "true" : "false",
		    (unsigned long long)e.size, e.attempts);
		for (k = 0; k < e.nrcpt; k++) {
			(void)buf_puts(&b, k ? ",{\"address\":" : "{\"address\":");
			adm_json_str(&b, e.rcpt[k].address);
			(void)buf_printf(&b, ",\"state\":\"%s\",\"attempts\":%u,"
			    "\"status\":", spool_rcpt_state_name(e.rcpt[k].state),
			    e.rcpt[k].attempts);
			adm_json_str(&b, e.rcpt[k].status);
			(void)buf_puts(&b, ",\"diagnostic\":");
			adm_json_str(&b, e.rcpt[k].diag);
			(void)buf_putc(&b, '}');
		}
		(void)buf_puts(&b, "]}\n");
		fputs(buf_cstr(&b), stdout);
		buf_free(&b);
		spool_queue_entry_free(&e);
		return EX_OK;
	}
	o = adm_object_new(a);
	adm_object_str(o, "id", e.id);
	adm_object_str(o, "from", e.mail_from[0] != '\0' ? e.mail_from : "<>");
	adm_object_str(o, "created", t1);
	adm_object_str(o, "next_attempt", t2);
	adm_object_bool(o, "held", e.held);
	adm_object_num(o, "size", e.size);
	adm_object_num(o, "attempts", e.attempts);
	if (e.origin != NULL)
		adm_object_str(o, "origin", e.origin);
	adm_out_print(&o);
	o = adm_table_new(a, cols, 6);
	for (k = 0; k < e.nrcpt; k++) {
		const char *row[6];
		char n[16];

		(void)gms_snprintf(n, sizeof(n), "%u", e.rcpt[k].attempts);
		fmt_time(e.rcpt[k].last_attempt, t3, sizeof(t3));
		row[0] = e.rcpt[k].address;
		row[1] = spool_rcpt_state_name(e.rcpt[k].state);
		row[2] = n;
		row[3] = t3;
		row[4] = e.rcpt[k].status;
		row[5] = e.rcpt[k].diag;
		adm_table_row(o, row);
	}
	printf("\n");
	adm_out_print(&o);
	spool_queue_entry_free(&e);
	return EX_OK;
}

/* queue_change - flush, hold, release or delete each operand ("all"
 * for flush). */
static int
queue_change(struct adm *a, int argc, char **argv, const char *what)
{
	int r, i, done = 0;
	struct spool_queue_entry *v = NULL;
	size_t n = 0, k;

	if (argc < 1)
		return adm_fail(a, EX_USAGE, "usage: gmsadm queue %s QUEUE_ID..."
		    "%s", what, strcmp(what, "flush") == 0 ? " | all" : "");
	if (strcmp(what, "flush") == 0 && argc == 1 &&
	    strcmp(argv[0], "all") == 0) {
		r = spool_queue_list(a->spool, &v, &n);
		if (r != SPOOL_OK)
			return adm_fail(a, adm_spool_exit(r), "cannot read the "
			    "queue: %s", spool_strerror(r));
		for (k = 0; k < n; k++)
			if (!v[k].held && spool_queue_schedule(a->spool,
			    v[k].id, time(NULL)) == SPOOL_OK)
				done++;
		spool_queue_list_free(&v, n);
		adm_note(a, "%d entr%s due now", done, done == 1 ? "y is" :
		    "ies are");
		return EX_OK;
	}
	for (i = 0; i < argc; i++) {
		if (strcmp(what, "flush") == 0)
			r = spool_queue_schedule(a->spool, argv[i], time(NULL));
		else if (strcmp(what, "hold") == 0)
			r = spool_queue_hold(a->spool, argv[i], true);
		else if (strcmp(what, "release") == 0)
			r = spool_queue_hold(a->spool, argv[i], false);
		else
			r = spool_queue_delete(a->spool, argv[i]);
		if (r != SPOOL_OK)
			return queue_fail(a, r, argv[i]);
		done++;
	}
	adm_note(a, "%d entr%s %s", done, done == 1 ? "y" : "ies",
	    strcmp(what, "flush") == 0 ? "due now" :
	    strcmp(what, "hold") == 0 ? "held" :
	    strcmp(what, "release") == 0 ? "released (due now)" :
	    "deleted (no bounce is sent)");
	return EX_OK;
}

static int
cmd_queue_flush(struct adm *a, int argc, char **argv)
{
	return queue_change(a, argc, argv, "flush");
}

static int
cmd_queue_hold(struct adm *a, int argc, char **argv)
{
	return queue_change(a, argc, argv, "hold");
}

static int
cmd_queue_release(struct adm *a, int argc, char **argv)
{
	return queue_change(a, argc, argv, "release");
}

static int
cmd_queue_delete(struct adm *a, int argc, char **argv)
{
	return queue_change(a, argc, argv, "delete");
}

#define Q	ADM_NEED_CONF | ADM_NEED_SPOOL

const struct adm_cmd adm_queue_cmds[] = {
	{ "queue", "list", "", "the outbound queue: one line per message",
	  NULL, Q, cmd_queue_list },
	{ "queue", "show", "QUEUE_ID",
	  "one queued message with each recipient's state and last reply",
	  NULL, Q, cmd_queue_show },
	{ "queue", "flush", "QUEUE_ID... | all",
	  "make entries due now (the relay tries them at once)", NULL, Q,
	  cmd_queue_flush },
	{ "queue", "hold", "QUEUE_ID...",
	  "stop delivery attempts for entries until released", NULL, Q,
	  cmd_queue_hold },
	{ "queue", "release", "QUEUE_ID...",
	  "release held entries (due now)", NULL, Q, cmd_queue_release },
	{ "queue", "delete", "QUEUE_ID...",
	  "remove entries without a bounce", NULL, Q, cmd_queue_delete },
	{ NULL, NULL, NULL, NULL, NULL, 0, NULL },
};
