/*
 * conf.c - the gms.conf parser and the configuration in force.
 *
 * Syntax: one "key = value" a line; blank lines; '#' starts a comment when
 * it is the first non-blank character of a line or follows a blank;
 * "include PATH" reads another file (relative paths are relative to the
 * including file; depth bounded).  Keys are "module.name".  Every module
 * registers one declarative table {key, type, default, min, max} and the
 * loader validates each value against it, reporting "file:line: message".
 *
 * Each program registers the tables of the modules it links; a key that
 * belongs to another program's module (imapd.* in gms-smtpd) is accepted
 * unchecked, so that all programs share one file, while gmsadm, which
 * registers every table, checks all of it.
 *
 * A loaded configuration is immutable.  SIGHUP loads a new one and swaps
 * the current pointer; sessions hold references to the one they started
 * with, so strings they borrowed stay valid.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gms.h"

#define CONF_MAX_TABLES		16
#define CONF_MAX_LINE		4096
#define CONF_MAX_INCLUDE_DEPTH	8

const char *const conf_modules[] = {
	"log", "server", "tls", "spool", "directory", "smtpd", "relay",
	"dkim", "imapd", "admin", "echod", NULL,
};

const struct conf_def lib_conf_table[] = {
	{ "log.level", CONF_ENUM, "info", 0, 0, "debug|info|warn|error",
	  "lowest level that is logged" },
	{ "log.trace", CONF_STR, "", 0, 0, NULL,
	  "trace categories: smtp imap spool directory tls sasl relay" },
	{ "server.user", CONF_STR, "gms", 0, 0, NULL,
	  "user the daemons run as after binding their ports" },
	{ "server.group", CONF_STR, "gms", 0, 0, NULL,
	  "group the daemons run as after binding their ports" },
	{ "tls.cert", CONF_STR, "", 0, 0, NULL,
	  "default certificate chain (PEM); empty: no TLS" },
	{ "tls.key", CONF_STR, "", 0, 0, NULL, "private key of tls.cert (PEM)" },
	{ "tls.sni_dir", CONF_STR, "", 0, 0, NULL,
	  "folder of DOMAIN.crt and DOMAIN.key chosen by SNI" },
	{ "tls.ca_file", CONF_STR, "", 0, 0, NULL,
	  "CA bundle for verifying peers (empty: system store)" },
	{ NULL, CONF_STR, NULL, 0, 0, NULL, NULL },
};

struct conf_entry {
	const struct conf_def	*def;	/* borrowed from a registered table */
	char			*value;	/* owned */
	long long		 num;	/* INT SIZE TIME BOOL */
	bool			 set;	/* given in the file */
};

struct conf {
	char			*path;		/* owned */
	struct conf_entry	*entries;	/* owned, nentries */
	size_t			 nentries;
	int			 refs;		/* under conf_lock */
};

static const struct conf_def *conf_tables[CONF_MAX_TABLES];
static size_t conf_ntables;

static pthread_mutex_t conf_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conf *conf_current;

void
conf_register(const struct conf_def *table)
{
	size_t i;

	for (i = 0; i < conf_ntables; i++)
		if (conf_tables[i] == table)
			return;
	if (conf_ntables == CONF_MAX_TABLES)
		panic("conf_register: too many tables");
	conf_tables[conf_ntables++] = table;
}

const struct conf_def *
conf_lookup_def(const char *key)
{
	size_t i;
	const struct conf_def *d;

	for (i = 0; i < conf_ntables; i++)
		for (d = conf_tables[i]; d->key != NULL; d++)
			if (strcmp(d->key, key) == 0)
				return d;
	return NULL;
}

/* module_registered - true if some registered table has keys of module. */
static bool
module_registered(const char *key, size_t modlen)
{
	size_t i;
	const struct conf_def *d;

	for (i = 0; i < conf_ntables; i++)
		for (d = conf_tables[i]; d->key != NULL; d++)
			if (strncmp(d->key, key, modlen) == 0 &&
			    d->key[modlen] == '.')
				return true;
	return false;
}

static bool
module_known(const char *key, size_t modlen)
{
	size_t i;

	for (i = 0; conf_modules[i] != NULL; i++)
		if (strlen(conf_modules[i]) == modlen &&
		    strncmp(conf_modules[i], key, modlen) == 0)
			return true;
	return false;
}

static struct conf_entry *
conf_entry_find(const struct conf *c, const char *key)
{
	size_t i;

	for (i = 0; i < c->nentries; i++)
		if (strcmp(c->entries[i].def->key, key) == 0)
			return &c->entries[i];
	return NULL;
}

/* parse_scaled - a number with an optional unit suffix; 0 or -1. */
static int
parse_scaled(const char *v, enum conf_type type, long long *num_r)
{
	char *end;
	long long n, mul = 1;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (end == v || errno != 0)
		return -1;
	if (*end != '\0') {
		if (end[1] != '\0' || type == CONF_INT)
			return -1;
		switch (*end) {
		case 'k': case 'K':
			mul = type == CONF_SIZE ? 1024LL : -1;
			break;
		case 'm': case 'M':
			mul = type == CONF_SIZE ? 1024LL * 1024 : 60;
			break;
		case 'g': case 'G':
			mul = type == CONF_SIZE ? 1024LL * 1024 * 1024 : -1;
			break;
		case 's':
			mul = type == CONF_TIME ? 1 : -1;
			break;
		case 'h':
			mul = type == CONF_TIME ? 3600 : -1;
			break;
		case 'd':
			mul = type == CONF_TIME ? 86400 : -1;
			break;
		default:
			return -1;
		}
		if (mul < 0)
			return -1;
		if (type == CONF_TIME && (*end == 'M'))
			return -1;
	}
	if (n > 0 && n > LLONG_MAX / mul)
		return -1;
	if (n < 0 && n < LLONG_MIN / mul)
		return -1;
	*num_r = n * mul;
	return 0;
}

static bool
enum_has(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices;

	while (p != NULL && *p != '\0') {
		const char *bar = strchr(p, '|');
		size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncmp(p, v, n) == 0)
			return true;
		p = bar != NULL ? bar + 1 : NULL;
	}
	return false;
}

/* conf_check_value - validate v for def; fill num; message in err. */
static int
conf_check_value(const struct conf_def *def, const char *v, long long *num_r,
    char *err, size_t errlen)
{
	long long n = 0;

	switch (def->type) {
	case CONF_STR:
		break;
	case CONF_BOOL:
		if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") ||
		    !strcmp(v, "1"))
			n = 1;
		else if (!strcmp(v, "no") || !strcmp(v, "false") ||
		    !strcmp(v, "off") || !strcmp(v, "0"))
			n = 0;
		else {
			(void)gms_snprintf(err, errlen,
			    "%s: '%s' is not yes or no", def->key, v);
			return -1;
		}
		break;
	case CONF_INT:
	case CONF_SIZE:
	case CONF_TIME:
		if (parse_scaled(v, def->type, &n) < 0) {
			(void)gms_snprintf(err, errlen, "%s: '%s' is not %s",
			    def->key, v, def->type == CONF_INT ? "an integer" :
			    def->type == CONF_SIZE ? "a size (e.g. 10M)" :
			    "a duration (e.g. 5m)");
			return -1;
		}
		if (n < def->min || n > def->max) {
			(void)gms_snprintf(err, errlen,
			    "%s: %lld is out of range [%lld, %lld]",
			    def->key, n, def->min, def->max);
			return -1;
		}
		break;
	case CONF_ENUM:
		if (!enum_has(def->choices, v)) {
			(void)gms_snprintf(err, errlen,
			    "%s: '%s' is not one of %s", def->key, v, def->choices);
			return -1;
		}
		break;
	default:
		panic("conf_check_value: type %d", (int)def->type);
	}
	*num_r = n;
	return 0;
}

static void
trim(char **s, char **e)
{
	while (*s < *e && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' ||
	    (*e)[-1] == '\r' || (*e)[-1] == '\n'))
		(*e)--;
}

static int conf_parse_file(struct conf *c, const char *path, int depth,
    char *err, size_t errlen);

/* conf_parse_line - one line of path; 0 or -1 with "file:line: msg". */
static int
conf_parse_line(struct conf *c, const char *path, unsigned lineno, char *line,
    int depth, char *err, size_t errlen)
{
	char *s = line, *e = line + strlen(line), *eq, *ks, *ke, *vs, *ve;
	char msg[512];
	char key[128];
	struct conf_entry *ent;
	size_t modlen, i;
	long long num;

	/* Comments: '#' first, or after a blank. */
	for (i = 0; line[i] != '\0'; i++)
		if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' ||
		    line[i - 1] == '\t')) {
			e = line + i;
			break;
		}
	trim(&s, &e);
	if (s == e)
		return 0;
	*e = '\0';

	if (strncmp(s, "include", 7) == 0 && (s[7] == ' ' || s[7] == '\t')) {
		char *inc = s + 7, *incpath;
		int r;

		while (*inc == ' ' || *inc == '\t')
			inc++;
		if (*inc == '/') {
			incpath = xstrdup(inc);
		} else {
			const char *slash = strrchr(path, '/');

			incpath = slash == NULL ? xstrdup(inc) :
			    xasprintf("%.*s/%s", (int)(slash - path), path, inc);
		}
		if (depth + 1 > CONF_MAX_INCLUDE_DEPTH) {
			(void)gms_snprintf(err, errlen,
			    "%s:%u: includes nested too deeply", path, lineno);
			free(incpath);
			return -1;
		}
		r = conf_parse_file(c, incpath, depth + 1, err, errlen);
		if (r == -2) {
			(void)gms_snprintf(err, errlen,
			    "%s:%u: cannot include %s: %s", path, lineno,
			    incpath, strerror(errno));
			r = -1;
		}
		free(incpath);
		return r;
	}

	if ((eq = strchr(s, '=')) == NULL) {
		(void)gms_snprintf(err, errlen,
		    "%s:%u: syntax error: expected 'key = value'", path, lineno);
		return -1;
	}
	ks = s;
	ke = eq;
	vs = eq + 1;
	ve = e;
	trim(&ks, &ke);
	trim(&vs, &ve);
	*ve = '\0';
	if (ks == ke || (size_t)(ke - ks) >= sizeof(key)) {
		(void)gms_snprintf(err, errlen, "%s:%u: syntax error: bad key",
		    path, lineno);
		return -1;
	}
	memcpy(key, ks, (size_t)(ke - ks));
	key[ke - ks] = '\0';
	for (i = 0; key[i] != '\0'; i++) {
		char ch = key[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '_' || ch == '.')) {
			(void)gms_snprintf(err, errlen,
			    "%s:%u: syntax error: bad character in key '%s'",
			    path, lineno, key);
			return -1;
		}
	}
	eq = strchr(key, '.');
	if (eq == NULL || eq == key || eq[1] == '\0') {
		(void)gms_snprintf(err, errlen,
		    "%s:%u: unknown key '%s' (keys are module.name)",
		    path, lineno, key);
		return -1;
	}
	modlen = (size_t)(eq - key);
	if ((ent = conf_entry_find(c, key)) == NULL) {
		if (module_known(key, modlen) && !module_registered(key, modlen))
			return 0;	/* another program's key */
		(void)gms_snprintf(err, errlen, "%s:%u: unknown key '%s'",
		    path, lineno, key);
		return -1;
	}
	if (conf_check_value(ent->def, vs, &num, msg, sizeof(msg)) < 0) {
		(void)gms_snprintf(err, errlen, "%s:%u: %s", path, lineno, msg);
		return -1;
	}
	free(ent->value);
	ent->value = xstrdup(vs);
	ent->num = num;
	ent->set = true;
	return 0;
}

static int
conf_parse_file(struct conf *c, const char *path, int depth, char *err,
    size_t errlen)
{
	char line[CONF_MAX_LINE + 1];
	unsigned lineno = 0;
	FILE *fp;
	int r = 0, ch = 0;

	/* -2: the file cannot be opened; the caller says where from. */
	if ((fp = fopen(path, "r")) == NULL)
		return -2;
	while (r == 0 && ch != EOF) {
		size_t n = 0;
		bool nul = false;

		/* Read one line, bounded: a longer one is an error. */
		while ((ch = getc(fp)) != EOF && ch != '\n') {
			if (ch == '\0')
				nul = true;
			if (n == CONF_MAX_LINE)
				break;
			line[n++] = (char)ch;
		}
		if (ch == EOF && n == 0)
			break;
		lineno++;
		line[n] = '\0';
		if (n == CONF_MAX_LINE && ch != '\n' && ch != EOF) {
			(void)gms_snprintf(err, errlen,
			    "%s:%u: line longer than %d bytes", path, lineno,
			    CONF_MAX_LINE);
			r = -1;
		} else if (nul) {
			(void)gms_snprintf(err, errlen, "%s:%u: NUL byte in line",
			    path, lineno);
			r = -1;
		} else {
			r = conf_parse_line(c, path, lineno, line, depth, err,
			    errlen);
		}
	}
	if (r == 0 && ferror(fp)) {
		(void)gms_snprintf(err, errlen, "%s: read error", path);
		r = -1;
	}
	fclose(fp);
	return r;
}

struct conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct conf *c = xcalloc(1, sizeof(*c));
	const struct conf_def *d;
	size_t i, n = 0;
	char msg[512];
	int r;

	if (errlen > 0)
		err[0] = '\0';
	for (i = 0; i < conf_ntables; i++)
		for (d = conf_tables[i]; d->key != NULL; d++)
			n++;
	c->entries = xcalloc(n, sizeof(*c->entries));
	c->refs = 1;
	c->path = xstrdup(path != NULL ? path : "(defaults)");
	for (i = 0; i < conf_ntables; i++)
		for (d = conf_tables[i]; d->key != NULL; d++) {
			struct conf_entry *ent = &c->entries[c->nentries++];

			ent->def = d;
			ent->value = xstrdup(d->def != NULL ? d->def : "");
			if (conf_check_value(d, ent->value, &ent->num, msg,
			    sizeof(msg)) < 0)
				panic("default of %s: %s", d->key, msg);
		}
	if (path != NULL && (r = conf_parse_file(c, path, 0, err, errlen)) != 0) {
		if (r == -2)
			(void)gms_snprintf(err, errlen, "%s: cannot open: %s",
			    path, strerror(errno));
		conf_free(&c);
		return NULL;
	}
	return c;
}

void
conf_free(struct conf **cp)
{
	struct conf *c = *cp;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nentries; i++)
		free(c->entries[i].value);
	free(c->entries);
	free(c->path);
	free(c);
	*cp = NULL;
}

static struct conf_entry *
conf_get(const struct conf *c, const char *key)
{
	struct conf_entry *ent;

	if (c == NULL)
		panic("conf_get(%s): no configuration", key);
	if ((ent = conf_entry_find(c, key)) == NULL)
		panic("conf_get: key '%s' was never registered", key);
	return ent;
}

const char *
conf_str(const struct conf *c, const char *key)
{
	return conf_get(c, key)->value;
}

long long
conf_int(const struct conf *c, const char *key)
{
	struct conf_entry *ent = conf_get(c, key);

	if (ent->def->type == CONF_STR || ent->def->type == CONF_ENUM)
		panic("conf_int: key '%s' is not numeric", key);
	return ent->num;
}

bool
conf_bool(const struct conf *c, const char *key)
{
	struct conf_entry *ent = conf_get(c, key);

	if (ent->def->type != CONF_BOOL)
		panic("conf_bool: key '%s' is not a boolean", key);
	return ent->num != 0;
}

const char *
conf_path(const struct conf *c)
{
	return c->path;
}

void
conf_foreach(const struct conf *c,
    void (*cb)(const struct conf_def *def, const char *value, bool set, void *arg),
    void *arg)
{
	size_t i;

	for (i = 0; i < c->nentries; i++)
		cb(c->entries[i].def, c->entries[i].value, c->entries[i].set, arg);
}

void
conf_set_current(struct conf *c)
{
	struct conf *old;

	pthread_mutex_lock(&conf_lock);
	old = conf_current;
	conf_current = c;
	if (old != NULL && --old->refs > 0)
		old = NULL;
	pthread_mutex_unlock(&conf_lock);
	conf_free(&old);
}

struct conf *
conf_acquire(void)
{
	struct conf *c;

	pthread_mutex_lock(&conf_lock);
	c = conf_current;
	if (c != NULL)
		c->refs++;
	pthread_mutex_unlock(&conf_lock);
	return c;
}

void
conf_release(struct conf **cp)
{
	struct conf *c = *cp;
	bool last;

	if (c == NULL)
		return;
	pthread_mutex_lock(&conf_lock);
	last = --c->refs == 0;
	pthread_mutex_unlock(&conf_lock);
	if (last)
		conf_free(&c);
	*cp = NULL;
}
