/*
 * cmd_store.c - "gmsadm store stats | verify | checkpoint | backup |
 * restore": operations on the mailstore (spool.h) for sysadmins.
 *
 * The store is opened with DB_REGISTER like every other process, so these
 * commands run while gms-smtpd and gms-imapd serve; only restore needs
 * the daemons stopped (it refuses a spool.dir that is not empty).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "spool/spool.h"

static int
no_operands(struct adm *a, int argc, char **argv, const char *what)
{
	if (argc != 0)
		return adm_fail(a, EX_USAGE, "'gmsadm store %s' takes no "
		    "operands (got '%s')", what, argv[0]);
	return EX_OK;
}

static int
cmd_store_stats(struct adm *a, int argc, char **argv)
{
	struct spool_stats st;
	struct adm_out *o;
	int r, code;

	if ((code = no_operands(a, argc, argv, "stats")) != EX_OK)
		return code;
	r = spool_stats(a->spool, &st);
	if (r != SPOOL_OK)
		return adm_fail(a, adm_spool_exit(r), "cannot read the store's "
		    "statistics: %s", spool_strerror(r));
	o = adm_object_new(a);
	adm_object_num(o, "users", st.users);
	adm_object_num(o, "mailboxes", st.mailboxes);
	adm_object_num(o, "messages", st.messages);
	adm_object_num(o, "bodies", st.bodies);
	adm_object_num(o, "body_bytes", st.body_bytes);
	adm_object_num(o, "queue_entries", st.queue_entries);
	adm_object_num(o, "txn_commits", st.txn_commits);
	adm_object_num(o, "txn_aborts", st.txn_aborts);
	adm_object_num(o, "log_flushes", st.log_flushes);
	adm_object_num(o, "log_writes", st.log_writes);
	adm_object_num(o, "log_bytes", st.log_bytes);
	adm_object_num(o, "deadlocks", st.deadlocks);
	adm_object_num(o, "lock_timeouts", st.lock_timeouts);
	adm_object_num(o, "cache_hit_pct", st.cache_hit_pct);
	adm_out_print(&o);
	return EX_OK;
}

static void
verify_line(void *arg, const char *line)
{
	const struct adm *a = arg;

	if (!a->json)
		printf("  %s\n", line);
}

static int
cmd_store_verify(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt opts[] = {
		{ "repair", false, 'r' }, { NULL, false, 0 } };
	struct adm_getopt g;
	struct spool_verify_report rep;
	struct adm_out *o;
	const char *arg;
	bool repair = false;
	int ch, r;

	adm_getopt_init(&g, argc, argv, opts);
	while ((ch = adm_getopt_next(&g, &arg)) != -1) {
		if (ch != 'r') {
			adm_getopt_free(&g);
			return EX_USAGE;
		}
		repair = true;
	}
	r = g.noperands;
	adm_getopt_free(&g);
	if (r != 0)
		return adm_fail(a, EX_USAGE, "'gmsadm store verify' takes no "
		    "operands");
	memset(&rep, 0, sizeof(rep));
	r = spool_verify(a->spool, repair, &rep, verify_line, a);
	if (r != SPOOL_OK)
		return adm_fail(a, adm_spool_exit(r), "verify failed: %s",
		    spool_strerror(r));
	o = adm_object_new(a);
	adm_object_num(o, "checked_mailboxes", rep.checked_mailboxes);
	adm_object_num(o, "checked_messages", rep.checked_messages);
	adm_object_num(o, "checked_bodies", rep.checked_bodies);
	adm_object_num(o, "bad_refcounts", rep.bad_refcounts);
	adm_object_num(o, "orphan_bodies", rep.orphan_bodies);
	adm_object_num(o, "missing_bodies", rep.missing_bodies);
	adm_object_num(o, "bad_counters", rep.bad_counters);
	adm_object_num(o, "bad_uids", rep.bad_uids);
	adm_object_num(o, "errors", rep.errors);
	adm_object_num(o, "repaired", rep.repaired);
	adm_out_print(&o);
	if (rep.errors > rep.repaired) {
		if (!a->json)
			fprintf(stderr, "gmsadm: the store has %llu problem%s; "
			    "run 'gmsadm store verify --repair' (after a "
			    "backup)\n", (unsigned long long)rep.errors,
			    rep.errors == 1 ? "" : "s");
		return EX_DATAERR;
	}
	return EX_OK;
}

static int
cmd_store_checkpoint(struct adm *a, int argc, char **argv)
{
	int r, code;

	if ((code = no_operands(a, argc, argv, "checkpoint")) != EX_OK)
		return code;
	r = spool_checkpoint(a->spool);
	if (r != SPOOL_OK)
		return adm_fail(a, adm_spool_exit(r), "checkpoint failed: %s",
		    spool_strerror(r));
	adm_note(a, "checkpoint done; logs no longer needed were removed");
	return EX_OK;
}

static int
cmd_store_backup(struct adm *a, int argc, char **argv)
{
	int r;

	if (argc != 1 || argv[0][0] == '-')
		return adm_fail(a, EX_USAGE, "usage: gmsadm store backup DIR");
	r = spool_backup(a->spool, argv[0]);
	if (r != SPOOL_OK)
		return adm_fail(a, adm_spool_exit(r), "backup into %s failed: "
		    "%s; check that the gms user may write there", argv[0],
		    spool_strerror(r));
	adm_note(a, "hot backup written to %s; restore it with 'gmsadm store "
	    "restore %s' (daemons stopped)", argv[0], argv[0]);
	if (a->json) {
		struct adm_out *o = adm_object_new(a);

		adm_object_str(o, "backup", argv[0]);
		adm_out_print(&o);
	}
	return EX_OK;
}

static int
cmd_store_restore(struct adm *a, int argc, char **argv)
{
	const char *dir;
	int r;

	if (argc != 1 || argv[0][0] == '-')
		return adm_fail(a, EX_USAGE, "usage: gmsadm store restore "
		    "BACKUP_DIR");
	dir = conf_str(a->conf, "spool.dir");
	r = spool_restore(argv[0], dir);
	if (r == SPOOL_EEXIST)
		return adm_fail(a, EX_CANTCREAT, "%s is not empty: stop "
		    "gms-smtpd and gms-imapd and move the old store away "
		    "first", dir);
	if (r == SPOOL_EINVAL)
		return adm_fail(a, EX_DATAERR, "%s is not a GMS backup",
		    argv[0]);
	if (r != SPOOL_OK)
		return adm_fail(a, adm_spool_exit(r), "restore failed: %s",
		    spool_strerror(r));
	adm_note(a, "restored %s into %s; start the daemons again", argv[0],
	    dir);
	return EX_OK;
}

#define S	ADM_NEED_CONF | ADM_NEED_SPOOL

const struct adm_cmd adm_store_cmds[] = {
	{ "store", "stats", "", "counts and Berkeley DB statistics", NULL, S,
	  cmd_store_stats },
	{ "store", "verify", "[--repair]",
	  "check reference counts, counters and UIDs (--repair fixes them)",
	  "Exits 0 when the store is consistent, 65 (EX_DATAERR) when\n"
	  "problems remain; each is printed on its own line.\n", S,
	  cmd_store_verify },
	{ "store", "checkpoint", "",
	  "checkpoint now and remove logs no longer needed", NULL, S,
	  cmd_store_checkpoint },
	{ "store", "backup", "DIR",
	  "hot backup of the mailstore into DIR (the daemons keep running)",
	  NULL, S, cmd_store_backup },
	{ "store", "restore", "BACKUP_DIR",
	  "restore a backup into an empty spool.dir (daemons stopped)",
	  NULL, ADM_NEED_CONF, cmd_store_restore },
	{ NULL, NULL, NULL, NULL, NULL, 0, NULL },
};
