/*
 * gmsadm.c - main() of gmsadm: global options, the subcommand table, help,
 * loading gms.conf with every module's table, opening the directory and
 * the mailstore as the command needs, dropping root privileges, and the
 * mapping of failures onto <sysexits.h> exit codes.
 *
 *   gmsadm [-c FILE] [--json] [-q] [--as ADDRESS [--as-password-file F]]
 *          GROUP COMMAND [ARGS...]
 *
 * Security: when started as root gmsadm reads what only root may read
 * (the directory password files) and then drops to server.user /
 * server.group for good, before it touches the mailstore or the DKIM key
 * folder, so every file it creates belongs to the gms user like the
 * daemons' files.  With --as a domain administrator binds with their own
 * mailbox credentials and may act only on their own institution: the
 * mailbox must be listed in an institution's gmsAdmin (checked first,
 * exit 77 otherwise), and that institution is the scope.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin.h"
#include "directory/directory.h"
#include "spool/spool.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif

/*
 * The daemons' tables.  gmsadm links only the files that hold them
 * (smtpd/smtp_conf.c, relay/relay_conf.c, imapd/imapd_conf.c; see
 * admin/local.mk), never a daemon's code.
 */
extern const struct conf_def smtpd_conf_table[];
extern const struct conf_def relay_conf_table[];
extern const struct conf_def imapd_conf_table[];

/* gmsadm's own keys. */
const struct conf_def admin_conf_table[] = {
	{ "admin.mx_host", CONF_STR, "", 0, 0, NULL,
	  "host the MX records printed by 'domain show' name (empty: "
	  "smtpd.hostname, else this machine's name)" },
	{ "admin.spf_record", CONF_STR, "v=spf1 mx -all", 0, 0, NULL,
	  "SPF record printed by 'domain show'" },
	{ "admin.dmarc_policy", CONF_ENUM, "quarantine", 0, 0,
	  "none|quarantine|reject", "DMARC policy printed by 'domain show'" },
	{ "admin.dmarc_rua", CONF_STR, "", 0, 0, NULL,
	  "address for DMARC aggregate reports (empty: none)" },
	{ "admin.dkim_selector", CONF_STR, "", 0, 0, NULL,
	  "selector of new DKIM keys (empty: gmsYYYYMM)" },
	{ NULL, CONF_STR, NULL, 0, 0, NULL, NULL },
};

#define ADM_MAX_TABLES	8
static const struct conf_def *adm_tables[ADM_MAX_TABLES + 1];

/* register_tables - every module's table, in the order of gms.conf(5). */
static void
register_tables(void)
{
	size_t n = 0;

	if (adm_tables[0] != NULL)
		return;
	adm_tables[n++] = lib_conf_table;
	adm_tables[n++] = spool_conf_table;
	adm_tables[n++] = directory_conf_table;
	adm_tables[n++] = smtpd_conf_table;
	adm_tables[n++] = relay_conf_table;
	adm_tables[n++] = imapd_conf_table;
	adm_tables[n++] = admin_conf_table;
	adm_tables[n] = NULL;
	for (n = 0; adm_tables[n] != NULL; n++)
		conf_register(adm_tables[n]);
}

const struct conf_def *const *
adm_conf_tables(void)
{
	register_tables();
	return adm_tables;
}

/* ------------------------------------------------------------------ */
/* Errors and exit codes. */

int
adm_fail(struct adm *a, int code, const char *fmt, ...)
{
	va_list ap;
	struct buf b = BUF_INIT(0);
	struct buf j = BUF_INIT(0);

	va_start(ap, fmt);
	(void)buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (a != NULL && a->json) {
		(void)buf_puts(&j, "{\"error\":");
		adm_json_str(&j, buf_cstr(&b));
		(void)buf_printf(&j, ",\"exit\":%d}\n", code);
		fputs(buf_cstr(&j), stdout);
		fflush(stdout);
	}
	fprintf(stderr, "gmsadm: %s\n", buf_cstr(&b));
	buf_free(&b);
	buf_free(&j);
	return code;
}

int
adm_dir_exit(int code)
{
	switch (code) {
	case DIR_OK:
	case DIR_FOUND:
		return EX_OK;
	case DIR_ENOENT:
		return EX_NOUSER;
	case DIR_TEMPFAIL:
		return EX_TEMPFAIL;
	case DIR_EEXIST:
		return EX_CANTCREAT;
	case DIR_EINVAL:
	case DIR_ENOTEMPTY:
	case DIR_PERMFAIL:
		return EX_DATAERR;
	case DIR_EPERM:
		return EX_NOPERM;
	default:
		return EX_SOFTWARE;
	}
}

int
adm_spool_exit(int code)
{
	if (code == SPOOL_OK)
		return EX_OK;
	if (spool_err_temporary(code))
		return code == SPOOL_EIO || code == SPOOL_ENOSPC ? EX_IOERR :
		    EX_TEMPFAIL;
	switch (code) {
	case SPOOL_ENOENT:
		return EX_NOUSER;
	case SPOOL_EEXIST:
		return EX_CANTCREAT;
	case SPOOL_EPERM:
		return EX_NOPERM;
	default:
		return EX_DATAERR;
	}
}

/* ------------------------------------------------------------------ */
/* The command table. */

static const struct adm_cmd *const adm_all_tables[] = {
	adm_config_cmds, adm_dir_cmds, adm_store_cmds, adm_queue_cmds,
	adm_bulk_cmds, adm_import_cmds, NULL,
};

static const char *const group_help[][2] = {
	{ "institution", "the institutions: list, show, add, modify" },
	{ "domain", "mail domains, their DNS records and DKIM keys" },
	{ "mailbox", "mailboxes: add, passwords, quotas, suspend, delete" },
	{ "alias", "aliases: add, list, delete" },
	{ "list", "distribution lists and their members" },
	{ "bulk", "provision many mailboxes from a CSV file at once" },
	{ "import", "bring existing mail in from Maildir or mbox" },
	{ "store", "the mailstore: statistics, verify, checkpoint, backup" },
	{ "queue", "the outbound queue: list, show, flush, hold, delete" },
	{ "config", "gms.conf: what is in force, check it, the defaults" },
	{ NULL, NULL },
};

static const struct adm_cmd *
find_cmd(const char *group, const char *name)
{
	size_t t;
	const struct adm_cmd *c;

	for (t = 0; adm_all_tables[t] != NULL; t++)
		for (c = adm_all_tables[t]; c->group != NULL; c++)
			if (strcmp(c->group, group) == 0 && name != NULL &&
			    strcmp(c->name, name) == 0)
				return c;
	return NULL;
}

static bool
group_exists(const char *group)
{
	size_t t;
	const struct adm_cmd *c;

	for (t = 0; adm_all_tables[t] != NULL; t++)
		for (c = adm_all_tables[t]; c->group != NULL; c++)
			if (strcmp(c->group, group) == 0)
				return true;
	return false;
}

/* print_group - the commands of one group (all groups when NULL). */
static void
print_group(FILE *fp, const char *group)
{
	size_t t, g;
	const struct adm_cmd *c;

	for (g = 0; group_help[g][0] != NULL; g++) {
		if (group != NULL && strcmp(group, group_help[g][0]) != 0)
			continue;
		if (!group_exists(group_help[g][0]))
			continue;
		fprintf(fp, "\n%s - %s\n", group_help[g][0], group_help[g][1]);
		for (t = 0; adm_all_tables[t] != NULL; t++)
			for (c = adm_all_tables[t]; c->group != NULL; c++)
				if (strcmp(c->group, group_help[g][0]) == 0)
					fprintf(fp, "  gmsadm %s %s %s\n      %s\n",
					    c->group, c->name, c->usage, c->help);
	}
}

static void
print_main_usage(FILE *fp, bool full)
{
	fprintf(fp,
	    "usage: gmsadm [-c FILE] [--json] [-qv] [--as ADDRESS "
	    "[--as-password-file FILE]]\n"
	    "              GROUP COMMAND [ARGS...]\n"
	    "       gmsadm GROUP COMMAND --help\n"
	    "       gmsadm help [GROUP]\n");
	if (!full) {
		fprintf(fp, "Run 'gmsadm help' for the list of commands.\n");
		return;
	}
	fprintf(fp,
	    "\nGlobal options:\n"
	    "  -c, --config FILE   gms.conf to use (default %s/gms/gms.conf)\n"
	    "  --json              machine-readable output (one JSON value)\n"
	    "  -q, --quiet         no progress bars\n"
	    "  -v, --verbose       show the libraries' log lines\n"
	    "  --as ADDRESS        act as this domain administrator (bind with\n"
	    "                      the mailbox's own password: only its\n"
	    "                      institution can be changed)\n"
	    "  --as-password-file FILE   that password, else it is asked for\n",
	    SYSCONFDIR);
	print_group(fp, NULL);
	fprintf(fp, "\nExit codes follow sysexits(3); see gmsadm(8).\n");
}

int
adm_usage(struct adm *a, const struct adm_cmd *cmd, bool asked)
{
	FILE *fp = asked ? stdout : stderr;

	(void)a;
	fprintf(fp, "usage: gmsadm %s %s %s\n%s\n", cmd->group, cmd->name,
	    cmd->usage, cmd->help);
	if (cmd->details != NULL)
		fprintf(fp, "\n%s", cmd->details);
	return asked ? EX_OK : EX_USAGE;
}

/* ------------------------------------------------------------------ */
/* Setup. */

/* open_directory - as the operator's writer or reader DN, or as a
 * delegated domain administrator. */
static int
open_directory(struct adm *a, unsigned int needs)
{
	char err[512], id[DIR_ID_MAX + 1];
	unsigned int flags = 0;
	struct dir_mailbox mb;
	struct buf pw = BUF_INIT(DIR_PASSWORD_MAX + 2);
	int r, code;

	if ((needs & ADM_NEED_DIR_WRITE) && a->as_user == NULL)
		flags |= DIR_OPEN_ADMIN;
	a->dir = directory_open(a->conf, flags, err, sizeof(err));
	if (a->dir == NULL)
		return adm_fail(a, EX_CONFIG, "cannot open the directory: %s "
		    "(check directory.* in %s)", err, conf_path(a->conf));
	if (directory_ping(a->dir) != DIR_OK)
		return adm_fail(a, EX_UNAVAILABLE, "the directory at %s does not "
		    "answer: is slapd running? (directory.uri in %s)",
		    conf_str(a->conf, "directory.uri"), conf_path(a->conf));
	if (a->as_user == NULL)
		return EX_OK;

	/*
	 * Delegated administration.  The administrator proves who they are
	 * with their own password; their scope is their mailbox's
	 * institution.  Security: the handle used from here on is bound as
	 * that mailbox, so slapd's ACLs enforce the scope; gmsadm checks it
	 * first to say clearly what is refused.
	 */
	(void)gms_snprintf(err, sizeof(err), "Password for %s", a->as_user);
	if (adm_read_password(a, a->as_password_file, err, false, &pw,
	    &code) < 0)
		return code;
	r = directory_authenticate(a->dir, a->as_user, buf_cstr(&pw), pw.len,
	    &mb);
	if (r == DIR_TEMPFAIL) {
		buf_wipe_free(&pw);
		return adm_fail(a, EX_TEMPFAIL, "the directory is unavailable; "
		    "try again later");
	}
	if (r != 1) {
		buf_wipe_free(&pw);
		return adm_fail(a, EX_NOPERM, "%s: wrong password, or not an "
		    "active mailbox", a->as_user);
	}
	if (mb.institution[0] == '\0') {
		buf_wipe_free(&pw);
		return adm_fail(a, EX_NOPERM, "%s belongs to no institution, so "
		    "it cannot administer one; ask the GMS operators",
		    a->as_user);
	}
	(void)gms_strlcpy(a->scope, mb.institution, sizeof(a->scope));
	directory_close(&a->dir);
	a->dir = directory_open_as(a->conf, a->as_user, buf_cstr(&pw), pw.len,
	    err, sizeof(err));
	buf_wipe_free(&pw);
	if (a->dir == NULL)
		return adm_fail(a, EX_CONFIG, "cannot open the directory as %s: "
		    "%s", a->as_user, err);
	/*
	 * Only the mailboxes listed in their institution's gmsAdmin are
	 * administrators: say so up front rather than let every write fail
	 * with slapd's insufficientAccessRights.  The search runs with the
	 * administrator's own bind (they may read their institution's
	 * gmsAdmin); the institution found is the scope.
	 */
	r = directory_admin_of(a->dir, a->as_user, id);
	if (r == DIR_TEMPFAIL)
		return adm_fail(a, EX_TEMPFAIL, "the directory is unavailable; "
		    "try again later");
	if (r != DIR_FOUND)
		return adm_fail(a, EX_NOPERM, "%s is not an administrator of any "
		    "institution; refused before any change (the GMS operators "
		    "grant it with 'gmsadm institution admin add')", a->as_user);
	(void)gms_strlcpy(a->scope, id, sizeof(a->scope));
	return EX_OK;
}

/* drop_root - become server.user:server.group when started as root. */
static int
drop_root(struct adm *a)
{
	const char *user = "gms", *group = "gms";

	if (geteuid() != 0)
		return EX_OK;
	if (a->conf != NULL) {
		user = conf_str(a->conf, "server.user");
		group = conf_str(a->conf, "server.group");
	}
	if (server_drop_privileges(user, group) < 0)
		return adm_fail(a, EX_NOUSER, "cannot become %s:%s; create that "
		    "user and group (scripts/deps does) or set server.user and "
		    "server.group in gms.conf", user, group);
	return EX_OK;
}

static int
open_spool(struct adm *a)
{
	struct spool_settings s;
	int r;

	spool_settings_from_conf(&s, a->conf);
	s.maintenance = false;
	s.create = false;
	if (access(s.dir, F_OK) != 0)
		return errno == ENOENT ? adm_fail(a, EX_NOINPUT, "there is no "
		    "mailstore at %s (spool.dir in %s): start gms-smtpd once, "
		    "or fix the path", s.dir, conf_path(a->conf)) :
		    adm_fail(a, EX_NOPERM, "the %s user cannot reach the "
		    "mailstore at %s: %s (every folder above it must be "
		    "searchable by that user)", conf_str(a->conf, "server.user"),
		    s.dir, strerror(errno));
	r = spool_open(&s, &a->spool);
	if (r != SPOOL_OK)
		return adm_fail(a, adm_spool_exit(r), "cannot open the mailstore "
		    "at %s: %s%s", s.dir, spool_strerror(r),
		    r == SPOOL_EPERM || errno == EACCES ?
		    " (run gmsadm as root or as the gms user)" : "");
	return EX_OK;
}

int
adm_open_input(struct adm *a, const char *path)
{
	int i;

	for (i = 0; i < a->npre; i++)
		if (strcmp(a->pre[i].path, path) == 0 && a->pre[i].fd >= 0)
			return fcntl(a->pre[i].fd, F_DUPFD_CLOEXEC, 0);
	return open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

/* preopen - open the input files of the command line while still root. */
static void
preopen(struct adm *a, const struct adm_cmd *cmd, int argc, char **argv)
{
	int i;

	for (i = 0; i < argc && a->npre < (int)GMS_NELEM(a->pre); i++) {
		const char *p = NULL;

		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--password-file") == 0 && i + 1 < argc)
			p = argv[++i];
		else if (strncmp(argv[i], "--password-file=", 16) == 0)
			p = argv[i] + 16;
		if (p == NULL)
			continue;
		a->pre[a->npre].path = p;
		a->pre[a->npre++].fd = open(p, O_RDONLY | O_NOFOLLOW |
		    O_CLOEXEC);
	}
	if ((cmd->needs & ADM_PREOPEN_ARG) && a->npre < (int)GMS_NELEM(a->pre))
		for (i = 0; i < argc; i++)
			if (argv[i][0] != '-') {
				a->pre[a->npre].path = argv[i];
				a->pre[a->npre++].fd = open(argv[i], O_RDONLY |
				    O_NOFOLLOW | O_CLOEXEC);
				break;
			}
}

/* ------------------------------------------------------------------ */

static bool
wants_help(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

int
main(int argc, char **argv)
{
	struct adm a;
	const struct adm_cmd *cmd;
	char err[1024];
	int i, n, code;
	char **av;

	memset(&a, 0, sizeof(a));
	a.conf_path = SYSCONFDIR "/gms/gms.conf";
	a.tty = isatty(STDERR_FILENO) == 1;
	log_init("gmsadm", true);
	/* The libraries' warnings repeat what gmsadm says better; -v shows
	 * them (and more). */
	log_set_level(LOG_LVL_ERROR);

	/* --json and -q are accepted anywhere before "--". */
	av = xcalloc((size_t)argc + 1, sizeof(char *));
	for (i = 1, n = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			for (; i < argc; i++)
				av[n++] = argv[i];
			break;
		}
		if (strcmp(argv[i], "--json") == 0)
			a.json = true;
		else if (strcmp(argv[i], "-q") == 0 ||
		    strcmp(argv[i], "--quiet") == 0)
			a.quiet = true;
		else if (strcmp(argv[i], "-v") == 0 ||
		    strcmp(argv[i], "--verbose") == 0)
			log_set_level(LOG_LVL_DEBUG);
		else
			av[n++] = argv[i];
	}

	/* Global options, before the group. */
	for (i = 0; i < n && av[i][0] == '-'; i++) {
		const char *o = av[i];
		const char **dst = NULL;

		if (strcmp(o, "-c") == 0 || strcmp(o, "--config") == 0)
			dst = &a.conf_path;
		else if (strcmp(o, "--as") == 0)
			dst = &a.as_user;
		else if (strcmp(o, "--as-password-file") == 0)
			dst = &a.as_password_file;
		else if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
			print_main_usage(stdout, true);
			free(av);
			return EX_OK;
		} else if (strcmp(o, "--version") == 0) {
			printf("gmsadm %s\n", PACKAGE_VERSION);
			free(av);
			return EX_OK;
		} else {
			fprintf(stderr, "gmsadm: unknown option %s\n", o);
			print_main_usage(stderr, false);
			free(av);
			return EX_USAGE;
		}
		if (i + 1 >= n) {
			fprintf(stderr, "gmsadm: option %s needs a value\n", o);
			free(av);
			return EX_USAGE;
		}
		*dst = av[++i];
	}
	if (i >= n) {
		print_main_usage(stderr, false);
		free(av);
		return EX_USAGE;
	}
	if (strcmp(av[i], "help") == 0) {
		if (i + 1 < n && group_exists(av[i + 1])) {
			printf("usage: gmsadm %s COMMAND [ARGS...]\n", av[i + 1]);
			print_group(stdout, av[i + 1]);
		} else
			print_main_usage(stdout, true);
		free(av);
		return EX_OK;
	}
	if (!group_exists(av[i])) {
		fprintf(stderr, "gmsadm: unknown command '%s'; run 'gmsadm help' "
		    "for the list\n", av[i]);
		free(av);
		return EX_USAGE;
	}
	cmd = i + 1 < n ? find_cmd(av[i], av[i + 1]) : NULL;
	if (cmd == NULL) {
		bool asked = i + 1 < n && (strcmp(av[i + 1], "--help") == 0 ||
		    strcmp(av[i + 1], "-h") == 0);

		if (i + 1 < n && !asked)
			fprintf(stderr, "gmsadm: unknown command '%s %s'\n",
			    av[i], av[i + 1]);
		fprintf(asked ? stdout : stderr,
		    "usage: gmsadm %s COMMAND [ARGS...]\n", av[i]);
		print_group(asked ? stdout : stderr, av[i]);
		free(av);
		return asked ? EX_OK : EX_USAGE;
	}
	if (wants_help(n - i - 2, av + i + 2)) {
		code = adm_usage(&a, cmd, true);
		free(av);
		return code;
	}

	register_tables();
	code = EX_OK;
	if (!(cmd->needs & ADM_NO_CONF)) {
		a.conf = conf_load(a.conf_path, err, sizeof(err));
		if (a.conf == NULL) {
			if (cmd->needs & ADM_NEED_CONF) {
				code = adm_fail(&a, EX_CONFIG, "%s; fix gms.conf "
				    "(see gms.conf(5)) or give another one "
				    "with -c", err);
				goto out;
			}
		}
	}
	if (a.as_user != NULL && !(cmd->needs & (ADM_NEED_DIR |
	    ADM_NEED_DIR_WRITE))) {
		code = adm_fail(&a, EX_USAGE, "--as is for the directory "
		    "commands; '%s %s' needs the operator's rights",
		    cmd->group, cmd->name);
		goto out;
	}
	if (cmd->needs & (ADM_NEED_DIR | ADM_NEED_DIR_WRITE))
		if ((code = open_directory(&a, cmd->needs)) != EX_OK)
			goto out;
	preopen(&a, cmd, n - i - 2, av + i + 2);
	if (!(cmd->needs & ADM_KEEP_ROOT))
		if ((code = drop_root(&a)) != EX_OK)
			goto out;
	if (cmd->needs & ADM_NEED_SPOOL)
		if ((code = open_spool(&a)) != EX_OK)
			goto out;
	code = cmd->run(&a, n - i - 2, av + i + 2);
out:
	for (i = 0; i < a.npre; i++)
		if (a.pre[i].fd >= 0)
			close(a.pre[i].fd);
	spool_close(&a.spool);
	if (a.dir != NULL)
		directory_close(&a.dir);
	conf_free(&a.conf);
	free(av);
	return code;
}
