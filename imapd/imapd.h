/*
 * imapd.h - gms-imapd, the IMAP4rev1/IMAP4rev2 server of GMS.
 *
 * The daemon is built from a few layers, each in its own file:
 *   reader.c   assembles one command (its line plus any literals) from the
 *              connection under limits on line, literal and command size,
 *              deciding each literal's size before any "+" is sent;
 *   parser.c   pure functions over the assembled command: tags, atoms,
 *              quoted strings, literals, lists with a nesting bound,
 *              sequence sets with a size bound, dates, flags;
 *   respond.c  tagged and untagged responses with response codes;
 *   session.c  the session state machine, the one static command table
 *              and the dispatcher that checks each command's preconditions;
 *   cmd-*.c    one file per IMAP command;
 *   imapd.c    main(): options, configuration, server_main().
 * This header is the folder's interface; nothing outside imapd/ includes
 * it except the imapd unit tests and fuzz targets.
 */
#ifndef GMS_IMAPD_H
#define GMS_IMAPD_H

#include "gms.h"

/* ------------------------------------------------------------------ */
/* Limits (defaults; gms.conf can change the post-authentication ones). */
#define IMAP_PREAUTH_LINE_MAX		8192
#define IMAP_PREAUTH_LITERAL_MAX	8192
#define IMAP_PREAUTH_COMMAND_MAX	16384
#define IMAP_LINE_MAX_DEFAULT		65536
#define IMAP_LITERAL_MAX_DEFAULT	(64 * 1024 * 1024)
#define IMAP_NONSYNC_LITERAL_MAX	4096	/* LITERAL- (RFC 7888) */
#define IMAP_LIST_DEPTH_MAX		16	/* nesting of parentheses */
#define IMAP_SEQSET_RANGES_MAX		10000	/* ranges in one set */
#define IMAP_SEARCH_KEYS_MAX		1000	/* keys in one SEARCH */
#define IMAP_BAD_COMMANDS_MAX		20	/* then BYE */
#define IMAP_TAG_MAX			64

/* ------------------------------------------------------------------ */
/* Command reader (reader.c). */

/* Where the bytes of a command come from: the connection in the daemon,
 * memory in unit tests and fuzz targets. */
struct imap_src {
	/* As conn_getline(): CONN_OK, CONN_EOF or < 0. */
	int	(*getline)(void *arg, struct line *l, size_t max);
	/* As conn_read_exact(): CONN_OK or <= 0. */
	int	(*read_exact)(void *arg, void *dst, size_t n);
	/* Send a continuation request ("+ text") and flush; 0 or -1. */
	int	(*cont)(void *arg, const char *text);
	void	*arg;
};

struct imap_limits {
	size_t	line_max;	/* one line, without CRLF */
	size_t	literal_max;	/* one literal */
	size_t	command_max;	/* the whole command, literals included */
};

/* Outcome of imap_read_command(). */
enum imap_read_result {
	IMAP_READ_OK = 0,	/* a command is in the buffer */
	IMAP_READ_EOF,		/* the peer closed before a command began */
	IMAP_READ_IOERR,	/* I/O error, timeout, stop, wake: see io_status */
	IMAP_READ_TOOLONG,	/* a line passed line_max (consumed): BAD */
	IMAP_READ_TOOBIG,	/* a synchronising literal or the command is
				   too large; no "+" was sent: NO [TOOBIG] */
	IMAP_READ_TOOBIG_FATAL,	/* a non-synchronising literal too large:
				   its bytes are coming; BAD then BYE */
	IMAP_READ_NUL,		/* a NUL byte in a line: BAD */
	IMAP_READ_BADLITERAL,	/* a literal's data had a NUL or ended early */
};

/* Read one command into cmd (reset first): the first line, and for each
 * literal announced at a line's end, its data and the line after it,
 * joined with CRLF exactly as the client sent them.  The size of every
 * literal is checked before the continuation is sent (synchronising) or
 * before any of its data is read (non-synchronising).  Bare LF ends a
 * line like CRLF.  io_status_r receives the source's status on
 * IMAP_READ_IOERR/EOF.  Returns an enum imap_read_result.  Memory stays
 * bounded by limits->command_max. */
int imap_read_command(const struct imap_src *src, const struct imap_limits *lim,
    struct buf *cmd, int *io_status_r);
/* Name of a read result for the logs. */
const char *imap_read_result_name(int r);

/* Find the literal announced at the end of a line: "{N}", "{N+}" (and the
 * literal8 forms "~{N}", "~{N+}"), outside a quoted string.  Returns 1 with
 * the size and whether it is synchronising, 0 when the line announces no
 * literal, -1 when the announced size is not a number that fits 64 bits
 * (size_r is then UINT64_MAX). */
int imap_line_literal(const char *line, size_t len, uint64_t *size_r,
    bool *sync_r, bool *lit8_r);

/* A source reading from memory (tests, fuzzing).  cont() appends to
 * 'sent' so tests can see what the server asked for. */
struct imap_memsrc {
	struct cursor	 in;
	struct buf	 sent;		/* owned: continuations sent */
	struct buf	 line;		/* owned: the current line */
};
void imap_memsrc_init(struct imap_memsrc *m, struct imap_src *src,
    const char *data, size_t len);
void imap_memsrc_free(struct imap_memsrc *m);

/* ------------------------------------------------------------------ */
/* Arena (arena.c): per-command scratch memory, freed at once. */
struct arena_block;
struct arena {
	struct arena_block	*head;	/* owned */
	size_t			 total;
};
/* Zeroed memory that lives until arena_clear(); never NULL. */
void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
void arena_clear(struct arena *a);

/* ------------------------------------------------------------------ */
/* Parser (parser.c): a cursor over an assembled command. */

/* Response codes for errors (printed as "[CODE]"). */
#define IMAP_CODE_CLIENTBUG	"CLIENTBUG"
#define IMAP_CODE_LIMIT		"LIMIT"
#define IMAP_CODE_TOOBIG	"TOOBIG"

struct imap_parser {
	struct cursor	 c;
	struct arena	*arena;		/* borrowed: where strings go */
	const char	*error;		/* static text of the first error */
	const char	*code;		/* its response code */
	unsigned int	 depth;		/* current list nesting */
};

void imap_parser_init(struct imap_parser *p, const char *data, size_t len,
    struct arena *a);
/* Record an error (the first one wins); always returns -1. */
int imap_p_fail(struct imap_parser *p, const char *code, const char *msg);

/* All the following return 0 on success and -1 on a syntax error (with
 * p->error set); strings are NUL-terminated and live in the arena. */
int imap_p_sp(struct imap_parser *p);			/* exactly one SP */
int imap_p_eol(struct imap_parser *p);			/* nothing left */
bool imap_p_at_eol(const struct imap_parser *p);
bool imap_p_peek(const struct imap_parser *p, int ch);
bool imap_p_accept(struct imap_parser *p, int ch);	/* skip ch if next */
int imap_p_expect(struct imap_parser *p, int ch);
/* tag = 1*<ASTRING-CHAR except "+">; not copied: borrowed from the
 * command buffer, length in *len_r. */
int imap_p_tag(struct imap_parser *p, const char **tag_r, size_t *len_r);
/* atom: 1*ATOM-CHAR. */
int imap_p_atom(struct imap_parser *p, char **atom_r);
/* astring: 1*ASTRING-CHAR / string.  NUL in a literal is refused. */
int imap_p_astring(struct imap_parser *p, char **s_r, size_t *len_r);
/* string: quoted / literal. */
int imap_p_string(struct imap_parser *p, char **s_r, size_t *len_r);
/* nstring: NIL / string (NULL for NIL). */
int imap_p_nstring(struct imap_parser *p, char **s_r, size_t *len_r);
/* A literal or literal8 header and data, for APPEND: the data is borrowed
 * from the command buffer (not copied).  binary_ok allows "~{N}" and NUL. */
int imap_p_literal_data(struct imap_parser *p, bool binary_ok,
    const char **data_r, size_t *len_r, bool *lit8_r);
/* number: 32-bit unsigned; nz_number: the same but not 0. */
int imap_p_number(struct imap_parser *p, uint32_t *n_r);
int imap_p_nz_number(struct imap_parser *p, uint32_t *n_r);
/* 63-bit number (mod-sequence). */
int imap_p_number64(struct imap_parser *p, uint64_t *n_r);
/* "(" and ")" with the nesting bound. */
int imap_p_list_begin(struct imap_parser *p);
int imap_p_list_end(struct imap_parser *p);
/* flag: "\" atom / atom (keywords); "\*" only when allow_star. */
int imap_p_flag(struct imap_parser *p, bool allow_star, char **flag_r);
/* flag-list: "(" [flag *(SP flag)] ")"; at most max flags. */
int imap_p_flag_list(struct imap_parser *p, char ***flags_r, size_t *n_r,
    size_t max);
/* date "d-Mon-yyyy" (optionally quoted): time_t of 00:00 UTC. */
int imap_p_date(struct imap_parser *p, int64_t *t_r);
/* date-time "dd-Mon-yyyy hh:mm:ss +zzzz" (quoted): time_t (UTC). */
int imap_p_datetime(struct imap_parser *p, int64_t *t_r);
/* A mailbox name (astring); "INBOX" in any case becomes "INBOX".  With
 * utf8 false the name is decoded from modified UTF-7 (RFC 3501 5.1.3).
 * Returns the UTF-8 name. */
int imap_p_mailbox(struct imap_parser *p, bool utf8, char **name_r);
/* list-mailbox: a pattern with % and * (atom chars plus wildcards, or a
 * string). */
int imap_p_list_mailbox(struct imap_parser *p, char **pat_r);

/* ------------------------------------------------------------------ */
/* Sequence sets (seqset.c). */
#define SEQ_STAR	UINT32_MAX	/* "*" before resolution */

struct seq_range {
	uint32_t	lo, hi;		/* lo <= hi after resolution */
};

struct seqset {
	struct seq_range	*r;	/* in the arena */
	size_t			 n;
	bool			 dollar;	/* "$" (SEARCHRES) */
};

/* sequence-set (or "$" when allow_dollar), at most IMAP_SEQSET_RANGES_MAX
 * ranges.  Numbers stay as written (SEQ_STAR for "*"). */
int imap_p_seqset(struct imap_parser *p, bool allow_dollar,
    struct seqset *set_r);
/* Replace "*" by max, order each range, sort and merge.  max == 0 (an
 * empty mailbox) leaves "*" as 0 so that nothing matches but "*". */
void seqset_resolve(struct seqset *set, uint32_t max);
/* True if n is in the (resolved) set: binary search. */
bool seqset_contains(const struct seqset *set, uint32_t n);
/* Write a set (resolved or not) as IMAP text; 0 or -1 (buffer limit). */
int seqset_format(struct buf *b, const struct seqset *set);
/* Build a compact set text from a sorted list of numbers. */
int seqset_format_list(struct buf *b, const uint32_t *v, size_t n);

/* ------------------------------------------------------------------ */
/* Modified UTF-7 (mutf7.c). */
/* Decode an RFC 3501 modified UTF-7 name into UTF-8 (appended to out).
 * Returns 0, or -1 on bad input. */
int mutf7_decode(struct buf *out, const char *s, size_t len);
/* Encode UTF-8 into modified UTF-7.  Returns 0, or -1 on bad UTF-8. */
int mutf7_encode(struct buf *out, const char *s, size_t len);
/* True if s is valid UTF-8 without NUL or C0 controls. */
bool utf8_valid(const char *s, size_t len);

#endif /* GMS_IMAPD_H */
