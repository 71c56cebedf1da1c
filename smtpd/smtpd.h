/*
 * smtpd.h - gms-smtpd, the SMTP server of GMS: inbound mail from the
 * world (MTA port), message submission (STARTTLS port and implicit TLS
 * port), SPF/DKIM/DMARC, and durable local delivery into the mailstore.
 *
 * This header is the interface between the files of smtpd/ and towards
 * the unit tests and fuzz targets: the configuration table, the pure
 * parsers (paths, ESMTP parameters, xtext, the DATA/BDAT byte filter,
 * header filtering) that read hostile network input and can be tested
 * one byte at a time, and the session entry point used by main.
 *
 * Conventions as in gms.h: int functions return 0 / -1, lookups 1/0/-1.
 * The parsers never allocate on a failure path and never accept a byte
 * outside the grammar: whatever they return can be stored in a record or
 * written into a header without further escaping (no CR, LF, NUL, no
 * control characters, no spaces in values).
 */
#ifndef GMS_SMTPD_H
#define GMS_SMTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gms.h"

/* ------------------------------------------------------------------ */
/* Configuration (smtpd.* keys; see gms.conf(5)). */
extern const struct conf_def smtpd_conf_table[];

/* The listener kinds (struct listen_spec.kind). */
enum smtp_listen_kind {
	SMTP_KIND_MTA = 0,	/* smtpd.listen: mail from the world */
	SMTP_KIND_SUBMISSION,	/* smtpd.submission_listen: STARTTLS, AUTH */
	SMTP_KIND_SUBMISSIONS,	/* smtpd.submissions_listen: implicit TLS */
};

/* RFC 5321 sizes. */
#define SMTP_LOCAL_MAX		64
#define SMTP_DOMAIN_MAX		255
#define SMTP_PATH_MAX		256
#define SMTP_ENVID_MAX		100	/* RFC 3461 */
#define SMTP_ORCPT_MAX		500	/* RFC 3461 */
#define SMTP_AUTHPARAM_MAX	500	/* RFC 4954 AUTH= of MAIL */

/* ------------------------------------------------------------------ */
/* Paths and ESMTP parameters (smtp_parse.c). */

enum smtp_body {
	SMTP_BODY_7BIT = 0,
	SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME,
};

enum smtp_ret {
	SMTP_RET_NONE = 0,
	SMTP_RET_FULL,
	SMTP_RET_HDRS,
};

/* NOTIFY= bits of RCPT (RFC 3461); 0 means "not given". */
#define SMTP_NOTIFY_NEVER	0x01
#define SMTP_NOTIFY_SUCCESS	0x02
#define SMTP_NOTIFY_FAILURE	0x04
#define SMTP_NOTIFY_DELAY	0x08

/* A parsed reverse-path or forward-path.  addr is "local@domain" with the
 * domain lowercased, the source route dropped and a quoted local part kept
 * in its quotes; "" for the null path "<>". */
struct smtp_path {
	char	addr[SMTP_PATH_MAX + 1];
	char	local[SMTP_LOCAL_MAX + 3];	/* +2 for quotes */
	char	domain[SMTP_DOMAIN_MAX + 1];	/* lowercase */
	bool	null;		/* "<>" */
	bool	quoted;		/* the local part was a quoted-string */
	bool	literal;	/* the domain is an address literal [..] */
	bool	utf8;		/* non-ASCII (only with SMTPUTF8) */
	bool	routed;		/* a source route was given (and dropped) */
	bool	special;	/* local part holds % ! or @ (quoted) */
};

struct smtp_mail_params {
	uint64_t	size;		/* SIZE=, 0 when absent */
	bool		has_size;
	int		body;		/* enum smtp_body */
	bool		smtputf8;
	int		ret;		/* enum smtp_ret */
	char		envid[SMTP_ENVID_MAX + 1];	/* xtext as sent, "" */
	char		auth[SMTP_AUTHPARAM_MAX + 1];	/* xtext as sent, "" */
};

struct smtp_rcpt_params {
	unsigned int	notify;		/* SMTP_NOTIFY_* */
	char		orcpt[SMTP_ORCPT_MAX + 1];	/* "rfc822;xtext", "" */
};

/* Parse the argument of MAIL (the text after "MAIL", e.g.
 * " FROM:<a@b> SIZE=10"); utf8_ok tells whether SMTPUTF8 was advertised
 * (it always is, but the parameter must then be present for a non-ASCII
 * path).  Fills *path and *params.  Returns NULL on success, or a static
 * full reply line without CRLF ("501 5.1.7 ...") to send on failure. */
const char *smtp_parse_mail(const char *arg, size_t len,
    struct smtp_path *path, struct smtp_mail_params *params);
/* The same for RCPT; smtputf8 is the MAIL transaction's SMTPUTF8 flag.
 * The null path is refused; "<postmaster>" is accepted and returned with
 * an empty domain. */
const char *smtp_parse_rcpt(const char *arg, size_t len, bool smtputf8,
    struct smtp_path *path, struct smtp_rcpt_params *params);
/* Parse a path "<...>" from a cursor (used by the two above and fuzzed on
 * its own).  is_mail allows "<>".  Returns NULL or a static reply line. */
const char *smtp_parse_path(struct cursor *c, bool is_mail, bool utf8_ok,
    struct smtp_path *path);
/* True if s (len bytes) is valid xtext (RFC 3461 section 4). */
bool smtp_xtext_valid(const char *s, size_t len);
/* Decode xtext into dst (dstlen bytes, terminated).  Returns the decoded
 * length or -1 when invalid or too long, or when it decodes to a control
 * character (no CR/LF/NUL can come out). */
ssize_t smtp_xtext_decode(const char *s, size_t len, char *dst, size_t dstlen);
/* Check a HELO/EHLO argument: a domain or an address literal.  Returns
 * true when acceptable; *literal_r tells which. */
bool smtp_helo_valid(const char *s, size_t len, bool *literal_r);
/* Is this a syntactically valid domain (LDH labels, <= 255, no trailing
 * dot)?  utf8 allows UTF-8 U-labels. */
bool smtp_domain_valid(const char *s, size_t len, bool utf8);
/* Is s well-formed UTF-8 without overlongs and surrogates? */
bool smtp_utf8_valid(const char *s, size_t len);

/* ------------------------------------------------------------------ */
/* The DATA / BDAT byte filter (smtp_data.c).  A pure state machine: feed
 * it the bytes read from the network, it appends the message (dot-
 * unstuffed for DATA) to a buffer and finds the end of DATA, which is
 * only ever CRLF "." CRLF.  A bare LF or bare CR is never a line end:
 * by policy it is recorded as an error (the message is rejected with
 * 5.5.2 once the real end arrives) or normalised to CRLF.  NUL bytes are
 * an error except in BINARYMIME.  Size is counted while streaming; once
 * over max (or after an error) nothing more is stored but the stream is
 * still read to its end. */

#define SMTP_DATA_ERR_BARE_LF	0x01
#define SMTP_DATA_ERR_BARE_CR	0x02
#define SMTP_DATA_ERR_NUL	0x04
#define SMTP_DATA_ERR_SIZE	0x08
#define SMTP_DATA_ERR_LINE	0x10	/* a line longer than max_line */

struct smtp_data {
	struct buf	*out;		/* borrowed */
	uint64_t	 max;		/* message size limit */
	uint64_t	 size;		/* bytes of message seen (after unstuffing) */
	size_t		 max_line;	/* 0: no limit */
	size_t		 linelen;
	int		 state;
	unsigned int	 errors;	/* SMTP_DATA_ERR_* */
	bool		 dotted;	/* DATA (dot-stuffing, end line) vs BDAT */
	bool		 normalise;	/* bare CR/LF -> CRLF instead of error */
	bool		 binary;	/* BINARYMIME: store every byte as is */
};

/* Start a filter.  out is where the message goes (its own max should be
 * >= max, the filter stops appending at max itself). */
void smtp_data_init(struct smtp_data *d, struct buf *out, uint64_t max,
    bool dotted, bool normalise, bool binary);
/* Feed n bytes.  Returns 1 when the end of DATA was found (*used_r is the
 * number of bytes consumed, the rest is the next command), 0 when all n
 * bytes were consumed and more are needed.  Always 0 for BDAT. */
int smtp_data_feed(struct smtp_data *d, const char *p, size_t n,
    size_t *used_r);
/* BDAT LAST: flush a pending CR (a bare CR at the very end). */
void smtp_data_finish(struct smtp_data *d);

/* ------------------------------------------------------------------ */
/* Header work (smtp_headers.c). */

/* Copy the message msg (len bytes, CRLF lines) into out without the
 * Authentication-Results header fields whose authserv-id is authserv_id
 * (ASCII case-insensitive), continuation lines included.  *eight_bit_r
 * tells whether the header section holds a byte >= 0x80; *nhdr_r counts
 * the fields kept.  Returns 0, or -1 when out's max is reached. */
int smtp_headers_filter(const char *msg, size_t len, const char *authserv_id,
    struct buf *out, bool *eight_bit_r, size_t *removed_r);
/* Find the value of the first header field name (case-insensitive) in
 * the header section of msg, unfolded into dst (dstlen bytes).
 * Returns 1 found, 0 not found (dst = ""). */
int smtp_header_get(const char *msg, size_t len, const char *name,
    char *dst, size_t dstlen);
/* How many header fields named name (case-insensitive) msg has. */
int smtp_header_count(const char *msg, size_t len, const char *name);
/* Extract the one address of a From: value ("Name <a@b>" or "a@b") into
 * dst, the domain lowercased.  Returns 1, or 0 when there is no single
 * parsable address (no domain, several addresses, a group, a quoted or
 * blank local part, too long for dst). */
int smtp_from_address(const char *value, char *dst, size_t dstlen);
/* The same, giving only the domain (lowercased). */
int smtp_from_domain(const char *value, char *dst, size_t dstlen);

/* ------------------------------------------------------------------ */
/* The session (smtp_session.c). */

/* Serve one SMTP session (struct server_def.serve). */
void smtp_serve(struct session *s);
/* Set up process-wide state after the configuration is loaded and
 * privileges are dropped (server_def.after_setup): directory, spool,
 * DKIM keys, SASL.  Returns 0 or -1. */
int smtpd_setup(struct conf *c);
/* Log the per-command counters (at shutdown). */
void smtp_cmd_stats_log(void);

#endif /* GMS_SMTPD_H */
