/*
 * admin.h - the interface between the files of gmsadm (admin/), the
 * provisioning and operations command line of GMS.
 *
 * gmsadm is one program with subcommands ("gmsadm domain add ...").  Each
 * subcommand is one entry of a table {group, name, usage, help, needs,
 * handler}; the dispatcher in gmsadm.c parses the global options, loads
 * gms.conf with every module's table registered, opens what the entry
 * says it needs (directory as reader or writer, mailstore), drops root
 * privileges, and runs the handler.  Handlers print through the output
 * helpers (out.c): aligned tables for people, JSON with --json.
 *
 * Exit codes come from <sysexits.h>; every error message says what to do.
 */
#ifndef GMS_ADMIN_H
#define GMS_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>

#include "gms.h"

struct directory;
struct dir_mailbox;
struct spool;

/* What a command needs before it runs (struct adm_cmd.needs). */
#define ADM_NEED_CONF		0x01	/* a valid gms.conf */
#define ADM_NEED_DIR		0x02	/* the directory, read only */
#define ADM_NEED_DIR_WRITE	0x04	/* the directory, as writer */
#define ADM_NEED_SPOOL		0x08	/* the mailstore open */
#define ADM_KEEP_ROOT		0x10	/* do not drop privileges */
#define ADM_NO_CONF		0x20	/* works without any gms.conf */
#define ADM_PREOPEN_ARG		0x40	/* open the first operand before
					   dropping privileges (bulk add) */

/* The state of one gmsadm run. */
struct adm {
	const char		*conf_path;	/* borrowed from argv or default */
	struct conf		*conf;		/* owned; NULL before loading */
	struct directory	*dir;		/* owned, or NULL */
	struct spool		*spool;		/* owned, or NULL */
	bool			 json;		/* --json */
	bool			 quiet;		/* -q: no progress bars */
	bool			 tty;		/* stderr is a terminal */
	/* Delegated administration: bind as this mailbox (--as). */
	const char		*as_user;	/* borrowed from argv */
	const char		*as_password_file; /* borrowed from argv */
	/* The institution a delegated administrator may manage ("" when the
	 * run uses the operator's admin DN and may touch everything). */
	char			 scope[64];
	const char		*prog;		/* "gmsadm group name" for usage */
	/* Files named on the command line that the invoking user may read
	 * but the gms user may not (a root-owned 0600 password file, a CSV
	 * with passwords): opened before privileges are dropped. */
	struct {
		const char	*path;		/* borrowed from argv */
		int		 fd;		/* owned */
	} pre[8];
	int			 npre;
};

/* One subcommand. */
struct adm_cmd {
	const char	*group;		/* "domain" */
	const char	*name;		/* "add"; NULL for a group alone */
	const char	*usage;		/* "DOMAIN INSTITUTION [--selector S]" */
	const char	*help;		/* one line */
	const char	*details;	/* more lines for --help, or NULL */
	unsigned int	 needs;		/* ADM_NEED_* */
	int		(*run)(struct adm *a, int argc, char **argv);
};

/* The command tables of each file, terminated by group == NULL. */
extern const struct adm_cmd adm_config_cmds[];
extern const struct adm_cmd adm_dir_cmds[];
extern const struct adm_cmd adm_store_cmds[];
extern const struct adm_cmd adm_queue_cmds[];
extern const struct adm_cmd adm_bulk_cmds[];
extern const struct adm_cmd adm_import_cmds[];

/* The configuration tables gmsadm registers (gmsadm.c), in order, NULL
 * terminated, for "config defaults" and the man page test. */
const struct conf_def *const *adm_conf_tables(void);
/* gmsadm's own keys (admin.*). */
extern const struct conf_def admin_conf_table[];

/* ------------------------------------------------------------------ */
/* Errors (gmsadm.c).  Print "gmsadm: message" to stderr (or a JSON
 * object {"error": ..., "exit": N} to stdout with --json) and return
 * code, so that handlers can write "return adm_fail(a, EX_USAGE, ...)". */
int adm_fail(struct adm *a, int code, const char *fmt, ...) GMS_PRINTF(3, 4);
/* The exit code for a directory result (DIR_* codes). */
int adm_dir_exit(int dircode);
/* The exit code for a spool result (SPOOL_* codes). */
int adm_spool_exit(int spoolcode);
/* Print the usage of a command (to stdout for --help, stderr on misuse)
 * and return EX_USAGE (or EX_OK when asked for). */
int adm_usage(struct adm *a, const struct adm_cmd *cmd, bool asked);

/* ------------------------------------------------------------------ */
/* Option parsing for handlers (gmsadm.c).  A tiny getopt_long wrapper:
 * specs is a table of long options {name, has_arg, short}; parse returns
 * the short letter of the next option and sets *arg_r, -1 at the end of
 * the options (argv[*ind_r] is the first operand), '?' on an unknown
 * option or a missing argument (after printing what is wrong), 'h' for
 * --help / -h. */
struct adm_opt {
	const char	*name;
	bool		 has_arg;
	int		 letter;
};
struct adm_getopt {
	int		 ind;		/* next argv index */
	int		 argc;
	char		**argv;
	const struct adm_opt *opts;
	bool		 done;
	/* Operands met before options are moved here (GNU style). */
	char		**operands;	/* owned */
	int		 noperands;
};
void adm_getopt_init(struct adm_getopt *g, int argc, char **argv,
    const struct adm_opt *opts);
int adm_getopt_next(struct adm_getopt *g, const char **arg_r);
/* After the options: the operands in order (borrowed until free). */
void adm_getopt_free(struct adm_getopt *g);

/* ------------------------------------------------------------------ */
/* Output (out.c).  A result is a table (rows of the same columns) or an
 * object (key/value pairs, in order).  For people a table is printed
 * with aligned columns and a header, an object as "key: value" lines;
 * with --json a table is an array of objects and an object one JSON
 * object, on one line. */
struct adm_out;

/* Begin a table with ncols column names (borrowed: static strings). */
struct adm_out *adm_table_new(const struct adm *a, const char *const *cols,
    size_t ncols);
/* Add a row: ncols values (copied).  A NULL value prints as "" / null. */
void adm_table_row(struct adm_out *o, const char *const *vals);
/* Begin an object. */
struct adm_out *adm_object_new(const struct adm *a);
/* Add a key (borrowed, static) with a text, a number or a list value. */
void adm_object_str(struct adm_out *o, const char *key, const char *val);
void adm_object_num(struct adm_out *o, const char *key, uint64_t val);
void adm_object_bool(struct adm_out *o, const char *key, bool val);
void adm_object_list(struct adm_out *o, const char *key,
    const char *const *vals, size_t n);
/* Print and free. */
void adm_out_print(struct adm_out **op);

/* Append s as a JSON string (with quotes) to b. */
void adm_json_str(struct buf *b, const char *s);
/* A plain message for people (suppressed with --json); newline added. */
void adm_note(const struct adm *a, const char *fmt, ...) GMS_PRINTF(2, 3);

/* A progress bar on stderr when it is a terminal and not --json/-q:
 * "label [#####     ] done/total".  Redrawn at most 10 times a second. */
struct adm_progress {
	const struct adm *a;
	const char	*label;
	uint64_t	 total;
	uint64_t	 done;
	long long	 last_ms;
	bool		 on;
};
void adm_progress_start(struct adm_progress *p, const struct adm *a,
    const char *label, uint64_t total);
void adm_progress_set(struct adm_progress *p, uint64_t done);
void adm_progress_end(struct adm_progress *p);

/* Open a file named on the command line for reading: the descriptor
 * opened before privileges were dropped when there is one (a dup the
 * caller closes), else open(2) now.  Returns an fd or -1 with errno. */
int adm_open_input(struct adm *a, const char *path);

/* ------------------------------------------------------------------ */
/* CSV (csv.c). */
#define ADM_CSV_FIELD_MAX	4096

/* Parse one RFC 4180 field at *pp (before end) and advance *pp past it
 * and its separator; *eol tells whether it ended a record; *line counts
 * line breaks inside quotes.  Returns a new string (caller frees), or
 * NULL with *err set to a static message (unclosed quote, text after a
 * closing quote, a quote in an unquoted field, a field too long). */
char *adm_csv_field(const char **pp, const char *end, bool *eol,
    unsigned *line, const char **err);

/* ------------------------------------------------------------------ */
/* Secrets (secret.c). */

/* Read a password: from file (first line, without its newline; the file
 * must not be readable by group or others) when file is non-NULL, else
 * from the terminal without echo (twice when confirm), else from a
 * non-terminal stdin (first line).  Returns 0 and a buffer the caller
 * wipes with buf_wipe_free, or -1 with a message already printed (and
 * *exit_r set). */
int adm_read_password(struct adm *a, const char *file, const char *prompt,
    bool confirm, struct buf *pw, int *exit_r);

/* ------------------------------------------------------------------ */
/* Checks shared by the directory commands (cmd_dir.c). */

/* Is domain within the delegated administrator's scope?  Returns EX_OK,
 * or prints a clear message and returns EX_NOPERM (or another code on a
 * lookup failure). */
int adm_check_domain_scope(struct adm *a, const char *domain);
/* Same for an address (its domain). */
int adm_check_address_scope(struct adm *a, const char *address);
/* Give the mailstore the mailbox's quota (creating its mailbox set when
 * needed), when the mailstore can be opened: it is the mailstore that
 * enforces quotas.  Returns 0, or -1 after a warning. */
int adm_sync_quota(struct adm *a, const struct dir_mailbox *mb);

/* DKIM keys (dkim.c). */
/* The folder holding the signing keys (smtpd.dkim_key_dir, or --key-dir). */
const char *adm_dkim_key_dir(const struct adm *a);
/* One DKIM key found in the key folder. */
struct adm_dkim_key {
	char	selector[64];
	char	alg[16];		/* "rsa" or "ed25519" */
	char	txt[1024];		/* "v=DKIM1; k=rsa; p=..." */
	char	path[512];		/* the private key file */
};
/* The keys of domain in the key folder (DOMAIN.SELECTOR.key), sorted by
 * selector.  Returns the number found (at most max) or -1 when the
 * folder cannot be read (message printed). */
int adm_dkim_keys(struct adm *a, const char *domain, struct adm_dkim_key *v,
    size_t max);
/* Append a TXT record in zone file syntax to b, split in strings of at
 * most 255 bytes (out.c). */
void adm_dkim_zone_line(struct buf *b, const char *domain,
    const char *selector, const char *txt);

#endif /* GMS_ADMIN_H */
