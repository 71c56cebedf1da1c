/*
 * cmd_config.c - "gmsadm config show | check | defaults": the gms.conf in
 * force, a check of it that goes beyond syntax (files that must exist,
 * secrets that must not be readable by others), and every key that the
 * suite registers with its default, range and meaning (the source of
 * gms.conf(5), compared with it by tests/protocol/test_manpages.py).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin/admin.h"

static const char *
type_name(enum conf_type t)
{
	switch (t) {
	case CONF_STR:	return "string";
	case CONF_INT:	return "integer";
	case CONF_BOOL:	return "boolean";
	case CONF_SIZE:	return "size";
	case CONF_TIME:	return "time";
	case CONF_ENUM:	return "enum";
	default:	return "unknown";
	}
}

/* ------------------------------------------------------------------ */
/* config show */

struct show_ctx {
	struct adm_out	*o;
	bool		 all;
	size_t		 n;
};

static void
show_cb(const struct conf_def *def, const char *value, bool set, void *arg)
{
	struct show_ctx *sc = arg;

	if (!set && !sc->all)
		return;
	if (sc->o != NULL)
		adm_object_str(sc->o, def->key, value);
	else
		printf("%s = %s\n", def->key, value);
	sc->n++;
}

static int
cmd_config_show(struct adm *a, int argc, char **argv)
{
	static const struct adm_opt opts[] = {
		{ "all", false, 'a' }, { NULL, false, 0 } };
	struct adm_getopt g;
	struct show_ctx sc;
	const char *arg;
	int ch;

	memset(&sc, 0, sizeof(sc));
	adm_getopt_init(&g, argc, argv, opts);
	while ((ch = adm_getopt_next(&g, &arg)) != -1) {
		if (ch == 'a')
			sc.all = true;
		else {
			adm_getopt_free(&g);
			return EX_USAGE;
		}
	}
	if (g.noperands != 0) {
		adm_getopt_free(&g);
		return adm_fail(a, EX_USAGE, "config show takes no operands");
	}
	adm_getopt_free(&g);
	if (a->json)
		sc.o = adm_object_new(a);
	else
		printf("# %s%s\n", conf_path(a->conf), sc.all ?
		    " (every key, defaults included)" :
		    " (keys set in the file; --all for every key)");
	conf_foreach(a->conf, show_cb, &sc);
	if (sc.o != NULL)
		adm_out_print(&sc.o);
	return EX_OK;
}

/* ------------------------------------------------------------------ */
/* config check */

struct check_ctx {
	struct adm	*a;
	struct adm_out	*o;	/* table: severity, key, problem */
	int		 errors;
	int		 warnings;
};

static void
problem(struct check_ctx *cc, bool error, const char *key, const char *fmt,
    ...) GMS_PRINTF(4, 5);

static void
problem(struct check_ctx *cc, bool error, const char *key, const char *fmt,
    ...)
{
	va_list ap;
	struct buf b = BUF_INIT(0);
	const char *row[3];

	va_start(ap, fmt);
	(void)buf_vprintf(&b, fmt, ap);
	va_end(ap);
	row[0] = error ? "error" : "warning";
	row[1] = key;
	row[2] = buf_cstr(&b);
	adm_table_row(cc->o, row);
	buf_free(&b);
	if (error)
		cc->errors++;
	else
		cc->warnings++;
}

/* check_secret - a password or key file: must exist, be a regular file,
 * and not be readable by group or others. */
static void
check_secret(struct check_ctx *cc, const char *key, bool required)
{
	const char *path;
	struct stat st;

	if (conf_lookup_def(key) == NULL)
		return;
	path = conf_str(cc->a->conf, key);
	if (path[0] == '\0') {
		if (required)
			problem(cc, true, key, "is empty");
		return;
	}
	if (stat(path, &st) < 0) {
		problem(cc, required, key, "%s: %s", path, strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode))
		problem(cc, true, key, "%s is not a regular file", path);
	else if (st.st_mode & (S_IRWXG | S_IRWXO) & ~(mode_t)S_IRGRP)
		problem(cc, true, key, "%s can be read by other users: chmod "
		    "600 %s", path, path);
	else if (st.st_mode & S_IRGRP)
		problem(cc, false, key, "%s is readable by its group; 0600 is "
		    "safer", path);
}

/* check_dir - a folder that must exist and be closed to others. */
static void
check_dir(struct check_ctx *cc, const char *key, bool required)
{
	const char *path;
	struct stat st;

	if (conf_lookup_def(key) == NULL)
		return;
	path = conf_str(cc->a->conf, key);
	if (path[0] == '\0')
		return;
	if (stat(path, &st) < 0) {
		problem(cc, required, key, "%s: %s%s", path, strerror(errno),
		    required ? "" : " (it is created on first use)");
		return;
	}
	if (!S_ISDIR(st.st_mode))
		problem(cc, true, key, "%s is not a folder", path);
	else if (st.st_mode & (S_IRWXG | S_IRWXO))
		problem(cc, true, key, "%s is open to other users: chmod 700 %s",
		    path, path);
}

static void
check_readable(struct check_ctx *cc, const char *key)
{
	const char *path;

	if (conf_lookup_def(key) == NULL)
		return;
	path = conf_str(cc->a->conf, key);
	if (path[0] != '\0' && access(path, R_OK) != 0)
		problem(cc, true, key, "%s: %s", path, strerror(errno));
}

static int
cmd_config_check(struct adm *a, int argc, char **argv)
{
	struct check_ctx cc;
	static const char *const cols[] = { "severity", "key", "problem" };

	(void)argv;
	if (argc != 0)
		return adm_fail(a, EX_USAGE, "config check takes no operands");
	memset(&cc, 0, sizeof(cc));
	cc.a = a;
	cc.o = adm_table_new(a, cols, 3);

	/* The file parsed and every value is in range (conf_load did it,
	 * with the tables of every program, imapd.* and smtpd.* included);
	 * now what the values point at. */
	if (conf_str(a->conf, "tls.cert")[0] != '\0' &&
	    conf_str(a->conf, "tls.key")[0] == '\0')
		problem(&cc, true, "tls.key", "tls.cert is set but tls.key is "
		    "empty");
	check_readable(&cc, "tls.cert");
	check_secret(&cc, "tls.key", false);
	check_readable(&cc, "tls.ca_file");
	if (strncmp(conf_str(a->conf, "directory.uri"), "static:", 7) != 0) {
		check_secret(&cc, "directory.bind_password_file",
		    conf_str(a->conf, "directory.bind_dn")[0] != '\0');
		check_secret(&cc, "directory.admin_password_file", false);
	}
	check_dir(&cc, "spool.dir", false);
	check_dir(&cc, "dkim.key_dir", false);

	adm_out_print(&cc.o);
	if (!a->json)
		printf("%s: %d error%s, %d warning%s\n", conf_path(a->conf),
		    cc.errors, cc.errors == 1 ? "" : "s", cc.warnings,
		    cc.warnings == 1 ? "" : "s");
	return cc.errors ? EX_CONFIG : EX_OK;
}

/* ------------------------------------------------------------------ */
/* config defaults */

static void
range_text(const struct conf_def *d, char *dst, size_t len)
{
	switch (d->type) {
	case CONF_INT:
	case CONF_SIZE:
	case CONF_TIME:
		(void)gms_snprintf(dst, len, "%lld..%lld", d->min, d->max);
		break;
	case CONF_ENUM:
		(void)gms_snprintf(dst, len, "%s", d->choices);
		break;
	case CONF_BOOL:
		(void)gms_snprintf(dst, len, "yes|no");
		break;
	default:
		dst[0] = '\0';
	}
}

static int
cmd_config_defaults(struct adm *a, int argc, char **argv)
{
	static const char *const cols[] = { "key", "type", "default", "range",
	    "help" };
	const struct conf_def *const *t;
	struct adm_out *o;
	char range[128];
	const char *row[5];
	size_t i;

	(void)argv;
	if (argc != 0)
		return adm_fail(a, EX_USAGE, "config defaults takes no operands");
	o = adm_table_new(a, cols, 5);
	for (t = adm_conf_tables(); *t != NULL; t++)
		for (i = 0; (*t)[i].key != NULL; i++) {
			const struct conf_def *d = &(*t)[i];

			range_text(d, range, sizeof(range));
			row[0] = d->key;
			row[1] = type_name(d->type);
			row[2] = d->def != NULL ? d->def : "";
			row[3] = range;
			row[4] = d->help != NULL ? d->help : "";
			adm_table_row(o, row);
		}
	adm_out_print(&o);
	return EX_OK;
}

const struct adm_cmd adm_config_cmds[] = {
	{ "config", "show", "[--all]",
	  "print the configuration in force (keys set in the file, or --all)",
	  "  --all   every key, the defaults included\n"
	  "Output is gms.conf syntax (key = value); with --json one object.\n",
	  ADM_NEED_CONF | ADM_KEEP_ROOT, cmd_config_show },
	{ "config", "check", "",
	  "check gms.conf: syntax, ranges, files and their permissions",
	  "Exits 0 when the file is usable, 78 (EX_CONFIG) when it is not;\n"
	  "each problem is printed with the key that causes it.\n",
	  ADM_NEED_CONF | ADM_KEEP_ROOT, cmd_config_check },
	{ "config", "defaults", "",
	  "print every key of every module: type, default, range, meaning",
	  NULL, ADM_NO_CONF | ADM_KEEP_ROOT, cmd_config_defaults },
	{ NULL, NULL, NULL, NULL, NULL, 0, NULL },
};
