/*
 * imapd.h - gms-imapd, the IMAP4rev1/IMAP4rev2 server of GMS.
 *
 * The daemon is built from a few layers, each in its own file:
 *   reader.c   assembles one command (its line plus any literals) from the
 *              connection under limits on line, literal and command size,
 *              deciding each literal's size before any "+" is sent;
 *   parser.c   pure functions over the assembled command: tags, atoms,
 *              quoted strings, literals, lists with a nesting bound,
 *              dates, flags, mailbox names (seqset.c: sequence sets with
 *              a size bound; mutf7.c: modified UTF-7; arena.c: the
 *              per-command scratch memory);
 *   respond.c  strings, literals and mailbox names in responses;
 *   session.c  the session state machine, the one static command table
 *              and the dispatcher that checks each command's preconditions
 *              and writes the tagged answer;
 *   mailbox.c  the selected mailbox: the store's view, the change watch
 *              and the untagged EXPUNGE/EXISTS/FETCH that keep the client
 *              in step;
 *   auth.c     the throttled password check through the directory;
 *   cmd-*.c    one file per IMAP command (fetch-section.c, msghdr.c and
 *              thread-refs.c hold the pure parts of FETCH, SORT, THREAD);
 *   imapd.c    main(): options, configuration, server_main();
 *   imapd_conf.c  the imapd.* keys of gms.conf (imapd_conf_table).
 * This header is the folder's interface; outside imapd/ only the imapd
 * unit tests and fuzz targets include it, and gmsadm, which links
 * imapd_conf.c and imapd/libimapd.a (for mutf7_decode in its import).
 */
#ifndef GMS_IMAPD_H
#define GMS_IMAPD_H

#include "gms.h"

struct imapd_session;
struct imapd_cmd;

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
	int		 tz_minutes;	/* zone of the last date-time parsed */
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
#define SEQ_STAR	0	/* "*" before resolution (0 is no nz-number) */

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


/* ------------------------------------------------------------------ */
/* FETCH sections (fetch-section.c). */
#define IMAP_SECTION_DEPTH_MAX	32
#define FS_HEADER_FIELDS	10	/* beside SPOOL_SECT_* */
#define FS_HEADER_FIELDS_NOT	11
#define FS_FIELDS_MAX		100

struct fetch_section {
	bool		 peek;		/* .PEEK: do not set \Seen */
	bool		 binary;	/* BINARY[...] (decoded) */
	bool		 binary_size;	/* BINARY.SIZE[...] */
	uint32_t	 path[IMAP_SECTION_DEPTH_MAX];
	size_t		 depth;
	int		 what;		/* SPOOL_SECT_* or FS_HEADER_FIELDS* */
	char		**fields;	/* arena */
	size_t		 nfields;
	bool		 partial;
	uint64_t	 off, len;
	char		*label;		/* arena: "BODY[1.MIME]" */
};

/* Parse "[" section "]" ["<" off "." len ">"] after BODY, BODY.PEEK,
 * BINARY, BINARY.PEEK or BINARY.SIZE (prefix is the name to echo:
 * "BODY", "BINARY", "BINARY.SIZE").  Returns 0 or -1 (p->error). */
int fetch_p_section(struct imap_parser *p, const char *prefix,
    struct fetch_section *fs);
/* Keep (or with not, drop) the header fields named in fields from a
 * header block (hdr, len; the blank line may be included); the result
 * ends with the blank line.  Returns 0 or -1 (out's limit). */
int fetch_header_filter(struct buf *out, const char *hdr, size_t len,
    char *const *fields, size_t nfields, bool not);
/* Decode quoted-printable (RFC 2045 6.7) into out; soft line breaks go,
 * bad escapes are kept as they are.  Returns 0 or -1 (out's limit). */
int fetch_qp_decode(struct buf *out, const char *p, size_t n);
/* Decode base64 ignoring line breaks and whitespace.  Returns 0, or -1
 * when the data is not base64. */
int fetch_b64_decode(struct buf *out, const char *p, size_t n);


/* ------------------------------------------------------------------ */
/* Header fields for SORT and THREAD (msghdr.c). */
/* The first field named field, unfolded and trimmed, into out.  Returns
 * 1 when found, 0 when not. */
int msghdr_get(const char *hdr, size_t len, const char *field,
    struct buf *out);
/* The RFC 5256 base subject (prefixes "Re:", "Fwd:", "[blob]" and the
 * "(fwd)" trailer removed, whitespace collapsed), upper-cased. */
void msghdr_base_subject(const char *subj, size_t len, struct buf *out);
/* The mailbox (local part) of the first address, upper-cased. */
void msghdr_first_mailbox(const char *v, size_t len, struct buf *out);
/* An RFC 5322 date as seconds since the epoch (UTC); INT64_MIN when it
 * cannot be read. */
int64_t msghdr_date(const char *v, size_t len);

/* The RFC 5957 display name of the first address of an (unfolded) address
 * field value, comments and quotes removed, whitespace collapsed (RFC 2047
 * words are left encoded: the caller decodes them).  Without a display
 * name, the first addr-spec ("mailbox@host").  Empty when the value holds
 * no address.  out is reset first. */
void msghdr_display_name(const char *v, size_t len, struct buf *out);

/* ------------------------------------------------------------------ */
/* Text for SEARCH (search-text.c). */

/* Unicode simple case folding of one code point (CaseFolding.txt C + S)
 * for Latin, Greek, Cyrillic, Armenian and fullwidth Latin; other code
 * points are returned as they are.  Independent of the process locale. */
uint32_t stext_fold_cp(uint32_t c);
/* Append the case-folded form of UTF-8 text s to out; bytes that are not
 * valid UTF-8 are copied as they are.  Returns 0, or -1 when out's limit
 * was reached (out then holds a prefix). */
int stext_fold(struct buf *out, const char *s, size_t len);
/* True when text in charset cs can be converted to UTF-8 (UTF-8,
 * US-ASCII or any name glibc's iconv knows). */
bool stext_charset_known(const char *cs);
/* Append s (in charset cs) converted to UTF-8 to out; bytes invalid in
 * the charset become U+FFFD.  Returns 0, or -1 for an unknown charset
 * (out unchanged). */
int stext_to_utf8(struct buf *out, const char *cs, const char *s,
    size_t len);
/* From a MIME part's header block: whether it holds text to search
 * (text/..., message/... or no Content-Type) and its charset parameter
 * into cs (cssize bytes, NUL-terminated; "" when absent or too long). */
void stext_part_type(const char *hdr, size_t len, bool *text_r, char *cs,
    size_t cssize);

/* Transfer encodings the matcher undoes. */
#define STEXT_ENC_NONE		0
#define STEXT_ENC_BASE64	1
#define STEXT_ENC_QP		2

/* A streaming matcher over one part's raw body: transfer decoding, charset
 * conversion (an unknown charset is matched on its raw bytes), case
 * folding, substring search.  Memory is bounded by the needle's length
 * plus small fixed buffers, whatever the size of the input. */
struct stext_match {
	const char	*needle;	/* borrowed, already folded */
	size_t		 nlen;
	int		 enc;		/* STEXT_ENC_* */
	void		*cd;		/* iconv_t or (void *)-1 */
	uint32_t	 acc;		/* base64 bits */
	unsigned int	 nacc;
	int		 qp;		/* quoted-printable state */
	char		 qph;
	bool		 found;
	struct buf	 dec, utf, fold;	/* owned: stage carries */
};
/* Make m empty (once, before its first use). */
void stext_match_init(struct stext_match *m);
/* Start matching the folded needle (borrowed until the end) in a body with
 * transfer encoding enc and charset cs (NULL or "" for US-ASCII).  The
 * buffers of an earlier match are reused. */
void stext_match_begin(struct stext_match *m, const char *needle,
    size_t nlen, int enc, const char *cs);
/* Feed the next raw bytes; returns true once the needle was seen (more
 * feeding is then useless). */
bool stext_match_feed(struct stext_match *m, const char *s, size_t n);
/* End of the body: flush the stages.  Returns whether the needle was
 * found.  Call it exactly once after each stext_match_begin(). */
bool stext_match_end(struct stext_match *m);
/* Free m's buffers (it can be begun again afterwards). */
void stext_match_free(struct stext_match *m);

/* Search (cmd-search.c), shared with SORT and THREAD: parse the search
 * keys to the end of the command and return the view indexes that match,
 * ascending, in the arena; string needles are converted from charset
 * (NULL: UTF-8) and case-folded.  Returns 0, or -1 on a syntax error. */
int imapd_search_match(struct imapd_session *s, struct imap_parser *p,
    const char *charset, uint32_t **idx_r, size_t *n_r);
/* The charset of SEARCH, SORT or THREAD (the astring and the SP after
 * it): *cs_r is NULL for UTF-8 and US-ASCII (no conversion), else the
 * name (arena) to convert the needles from, given as charset above.
 * Returns 0; 1 when the charset is unknown (NO [BADCHARSET] prepared);
 * -1 on a syntax error or a CHARSET other than UTF-8 after
 * ENABLE UTF8=ACCEPT (RFC 6855: BAD, p->error set). */
int imapd_search_charset(struct imapd_session *s, struct imap_parser *p,
    const char **cs_r);
/* THREAD=REFERENCES (thread-refs.c) over the view indexes idx: the whole
 * "* THREAD ..." line into out.  Returns 0. */
int imapd_thread_references(struct imapd_session *s, const uint32_t *idx,
    size_t n, struct buf *out);
/* The header block of a message of the view into out (bounded). */
int imapd_read_header(struct imapd_session *s, uint32_t uid,
    struct buf *out);

/* ------------------------------------------------------------------ */
/* Configuration (imapd.c). */
extern const struct conf_def imapd_conf_table[];


/* ------------------------------------------------------------------ */
/* Process-wide state (imapd.c), set up before the first session. */
struct spool;
struct directory;
extern struct spool *imapd_spool;		/* the mailstore */
extern struct directory *imapd_dir;		/* the directory */
extern struct throttle *imapd_throttle;	/* login failures */

/* Check a password (auth.c): throttled, empty refused, directory bind.
 * On success *canon_r (caller frees) is the canonical address.  Returns
 * 1 (good), 0 (refused), -1 (temporary failure), -2 (locked out). */
int imapd_check_password(struct imapd_session *s, const char *user,
    const char *pass, size_t passlen, char **canon_r);
/* Enter the authenticated state as user (owned by the session now). */
void imapd_login_done(struct imapd_session *s, char *user);
/* NO text and code for a spool error; returns CMD_DONE. */
int cmd_spool_error(struct imapd_session *s, int err, const char *what);


/* ------------------------------------------------------------------ */
/* The selected mailbox (mailbox.c). */
struct spool_view;
struct spool_watch;
struct spool_msg;

struct imapd_mailbox {
	char			*name;		/* owned, UTF-8 */
	struct spool_view	*view;		/* owned */
	struct spool_watch	*watch;		/* owned, may be NULL */
	bool			 readonly;	/* EXAMINE */
	uint32_t		 exists;	/* the count the client knows */
	uint32_t		 recent;	/* the RECENT count reported */
	size_t			 nkeywords;	/* keywords announced in FLAGS */
};

/* Open the user's mailbox name as the selected one (closing any earlier
 * selection first).  Returns SPOOL_OK or a spool error. */
int imapd_mailbox_open(struct imapd_session *s, const char *name,
    bool readonly);
/* Append "(\Seen $Label ...)" for a row. */
int imapd_put_flags(struct imapd_session *s, struct buf *b,
    const struct spool_msg *m);
/* Write "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]". */
int imapd_send_flags(struct imapd_session *s);
/* Send "* seq FETCH (UID u FLAGS (...) [MODSEQ (m)])" for a view index. */
int imapd_send_fetch_flags(struct imapd_session *s, size_t idx);
/* Turn a flag name into a SPOOL_F_* bit; 0 for a keyword, -1 for a
 * system flag that cannot be stored (\Recent, unknown "\X"). */
int imapd_flag_bit(const char *name);
/* Resolve a sequence set (seq or UID) against the view into ascending
 * view indexes (arena).  Returns the count; UIDs not present are
 * skipped, sequence numbers past the end give -1 (BAD). */
ssize_t imapd_set_indexes(struct imapd_session *s, struct seqset *set,
    bool uid, size_t **idx_r);
/* Fill set from the SEARCHRES saved result when set->dollar. */
void imapd_saved_to_set(struct imapd_session *s, struct seqset *set);


/* STATUS items (cmd-status.c), shared with LIST-STATUS. */
#define ST_MESSAGES	0x01
#define ST_RECENT	0x02
#define ST_UIDNEXT	0x04
#define ST_UIDVALIDITY	0x08
#define ST_UNSEEN	0x10
#define ST_DELETED	0x20
#define ST_SIZE		0x40
#define ST_HIGHESTMODSEQ 0x80
#define ST_APPENDLIMIT	0x100
struct spool_mbox;
/* "(" status-att *(SP status-att) ")". */
int imapd_p_status_items(struct imap_parser *p, unsigned int *items_r);
/* Write "* STATUS name (...)" for st (RECENT needs the exact status). */
int imapd_send_status(struct imapd_session *s, const char *name,
    unsigned int items, const struct spool_mbox *st);
/* LIST pattern matching: '*' anything, '%' anything but '/'.  Patterns
 * longer than SPOOL_MAILBOX_MAX never match. */
bool imapd_list_match(const char *pattern, const char *name);

/* ------------------------------------------------------------------ */
/* Sessions (session.c). */

enum imapd_state {
	IMAPD_STATE_NOAUTH = 0,	/* not authenticated */
	IMAPD_STATE_AUTH,	/* authenticated */
	IMAPD_STATE_SELECTED,	/* a mailbox is selected */
	IMAPD_STATE_LOGOUT,	/* the session ends after this command */
};
const char *imapd_state_name(int st);

/* ENABLE'd extensions (RFC 5161). */
#define IMAPD_EN_CONDSTORE	0x01
#define IMAPD_EN_QRESYNC	0x02
#define IMAPD_EN_IMAP4REV2	0x04
#define IMAPD_EN_UTF8		0x08

struct imapd_mailbox;	/* the selected mailbox (mailbox.c) */

struct imapd_session {
	struct session		*srv;		/* borrowed from the server loop */
	struct conn		*conn;		/* borrowed: srv->conn */
	struct conf		*conf;		/* borrowed: srv->conf */
	enum imapd_state	 state;
	char			*user;		/* owned; the login name */
	unsigned int		 enabled;	/* IMAPD_EN_* */
	unsigned int		 bad_count;	/* BAD answers so far */
	unsigned int		 auth_failures;
	struct imapd_mailbox	*sel;		/* owned; NULL unless selected */

	/* The command being run. */
	struct buf		 cmdbuf;	/* the assembled command */
	struct arena		 arena;		/* scratch, cleared per command */
	const struct imapd_cmd	*cmd;
	char			 tag[IMAP_TAG_MAX + 1];
	bool			 uid;		/* "UID ..." form */
	/* The tagged answer a handler prepared (see cmd_ok()). */
	const char		*resp_status;	/* "OK", "NO", "BAD" */
	struct buf		 resp_code;	/* without brackets */
	struct buf		 resp_text;
	/* SEARCHRES: the last saved result (UIDs, sorted). */
	uint32_t		*saved;		/* owned */
	size_t			 nsaved;
	bool			 saved_valid;
};

/* What a handler returns. */
#define CMD_DONE	0	/* the tagged answer is prepared */
#define CMD_BAD		(-1)	/* syntax error: BAD with p->error */
#define CMD_CLOSE	1	/* end the session now, nothing more to send */
#define CMD_SENT	2	/* the handler wrote the tagged answer itself */

/* Command flags, checked once by the dispatcher. */
#define CMDF_NOAUTH	0x0001	/* only when not authenticated */
#define CMDF_AUTH	0x0002	/* needs authenticated or selected */
#define CMDF_SELECTED	0x0004	/* needs a selected mailbox */
#define CMDF_PRETLS	0x0008	/* allowed before TLS */
#define CMDF_UID	0x0010	/* has a "UID" form */
#define CMDF_NOEXPUNGE	0x0020	/* no EXPUNGE responses after it (unless UID) */
#define CMDF_UIDONLY	0x0040	/* only as "UID name" (UID EXPUNGE) */

typedef int (*imapd_cmd_fn)(struct imapd_session *s, struct imap_parser *p);

struct imapd_cmd {
	const char	*name;
	imapd_cmd_fn	 fn;
	unsigned int	 flags;
};

/* The command table (session.c): sorted by nothing, ended by name NULL. */
extern const struct imapd_cmd imapd_commands[];
/* Find a command by name (case-insensitive); NULL if unknown. */
const struct imapd_cmd *imapd_cmd_find(const char *name);

/* Serve one connection (the server_def.serve callback). */
void imapd_serve(struct session *srv);
/* Change state and log "old -> new". */
void imapd_enter_state(struct imapd_session *s, enum imapd_state st);

/* Prepare the tagged answer; each returns CMD_DONE.  code may be NULL. */
int cmd_ok(struct imapd_session *s, const char *code, const char *fmt, ...)
    GMS_PRINTF(3, 4);
int cmd_no(struct imapd_session *s, const char *code, const char *fmt, ...)
    GMS_PRINTF(3, 4);
int cmd_bad(struct imapd_session *s, const char *code, const char *fmt, ...)
    GMS_PRINTF(3, 4);

/* Untagged output: "* " fmt CRLF.  0 or -1 (write error). */
int imapd_untagged(struct imapd_session *s, const char *fmt, ...)
    GMS_PRINTF(2, 3);
/* Append a string as an IMAP quoted string or, when it holds CR, LF, NUL,
 * 8-bit (without UTF-8 allowed) or is long, as a literal. */
int imap_put_string(struct buf *b, const char *s, size_t len, bool utf8);
/* As imap_put_string(), "NIL" for NULL. */
int imap_put_nstring(struct buf *b, const char *s, size_t len, bool utf8);
/* astring: an atom when it is one, else a string. */
int imap_put_astring(struct buf *b, const char *s, size_t len, bool utf8);
/* A mailbox name for the client (modified UTF-7 unless UTF8=ACCEPT). */
int imap_put_mailbox(struct imapd_session *s, struct buf *b, const char *name);
/* Write buffered bytes to the connection; 0 or -1. */
int imapd_write_buf(struct imapd_session *s, const struct buf *b);

/* The capability list for the session's state (without "CAPABILITY"). */
void imapd_capabilities(const struct imapd_session *s, struct buf *b);

/* Report the selected mailbox's changes from other sessions (EXPUNGE or
 * VANISHED when allowed, EXISTS, FETCH of changed flags).  Returns 0, or
 * -1 when the session must end (the mailbox vanished, store failure). */
int imapd_mailbox_sync(struct imapd_session *s, bool allow_expunge);
/* Close the selected mailbox (no expunge); back to AUTH state. */
void imapd_mailbox_close(struct imapd_session *s);

/* Handlers (cmd-*.c). */
int cmd_capability(struct imapd_session *s, struct imap_parser *p);
int cmd_noop(struct imapd_session *s, struct imap_parser *p);
int cmd_logout(struct imapd_session *s, struct imap_parser *p);
int cmd_starttls(struct imapd_session *s, struct imap_parser *p);
int cmd_compress(struct imapd_session *s, struct imap_parser *p);
int cmd_login(struct imapd_session *s, struct imap_parser *p);
int cmd_authenticate(struct imapd_session *s, struct imap_parser *p);
int cmd_id(struct imapd_session *s, struct imap_parser *p);
int cmd_enable(struct imapd_session *s, struct imap_parser *p);
int cmd_namespace(struct imapd_session *s, struct imap_parser *p);
int cmd_select(struct imapd_session *s, struct imap_parser *p);
int cmd_examine(struct imapd_session *s, struct imap_parser *p);
int cmd_create(struct imapd_session *s, struct imap_parser *p);
int cmd_delete(struct imapd_session *s, struct imap_parser *p);
int cmd_rename(struct imapd_session *s, struct imap_parser *p);
int cmd_subscribe(struct imapd_session *s, struct imap_parser *p);
int cmd_unsubscribe(struct imapd_session *s, struct imap_parser *p);
int cmd_list(struct imapd_session *s, struct imap_parser *p);
int cmd_lsub(struct imapd_session *s, struct imap_parser *p);
int cmd_status(struct imapd_session *s, struct imap_parser *p);
int cmd_append(struct imapd_session *s, struct imap_parser *p);
int cmd_check(struct imapd_session *s, struct imap_parser *p);
int cmd_close(struct imapd_session *s, struct imap_parser *p);
int cmd_unselect(struct imapd_session *s, struct imap_parser *p);
int cmd_expunge(struct imapd_session *s, struct imap_parser *p);
int cmd_search(struct imapd_session *s, struct imap_parser *p);
int cmd_fetch(struct imapd_session *s, struct imap_parser *p);
int cmd_store(struct imapd_session *s, struct imap_parser *p);
int cmd_copy(struct imapd_session *s, struct imap_parser *p);
int cmd_move(struct imapd_session *s, struct imap_parser *p);
int cmd_idle(struct imapd_session *s, struct imap_parser *p);
int cmd_getquota(struct imapd_session *s, struct imap_parser *p);
int cmd_getquotaroot(struct imapd_session *s, struct imap_parser *p);
int cmd_setquota(struct imapd_session *s, struct imap_parser *p);
int cmd_sort(struct imapd_session *s, struct imap_parser *p);
int cmd_thread(struct imapd_session *s, struct imap_parser *p);

#endif /* GMS_IMAPD_H */
