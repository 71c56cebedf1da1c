/*
 * gms.h - the GMS runtime library (lib/), shared by every program.
 *
 * lib/ knows no mail protocol.  It offers: allocation that never fails,
 * one bounded byte buffer and a parsing cursor, bounded copy and format,
 * logging with a session id and key=value fields, the gms.conf parser,
 * connections with deadlines and a bounded line reader over plain sockets
 * or TLS, TLS contexts (OpenSSL 3, SNI per domain), the server loop (listen,
 * thread per session, limits, privilege drop, SIGTERM/SIGHUP) and the Cyrus
 * SASL server glue.  This header is the folder's whole interface.
 *
 * Conventions: int functions return 0 on success and -1 on failure;
 * lookups return 1 (found), 0 (not found), -1 (error).  Destructors take a
 * pointer to the pointer and clear it.  Output parameters end in _r.
 */
#ifndef GMS_LIB_H
#define GMS_LIB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GMS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define GMS_NORETURN __attribute__((noreturn))
#define GMS_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ */
/* Memory (xmalloc.c).  These never return NULL: on failure they log and
 * exit.  The caller frees what they return. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) GMS_PRINTF(1, 2);
/* Wipe a secret (password, SASL payload) so the compiler cannot drop it. */
void gms_wipe(void *p, size_t n);

/* ------------------------------------------------------------------ */
/* Bounded copy and format (str.c). */

/* Copy src into dst (size bytes, always NUL-terminated when size > 0).
 * Returns 0, or -1 when src did not fit (dst then holds a truncated copy). */
int gms_strlcpy(char *dst, const char *src, size_t size);
/* snprintf that returns 0, or -1 on truncation or format error. */
int gms_snprintf(char *dst, size_t size, const char *fmt, ...) GMS_PRINTF(3, 4);
/* ASCII-only case-insensitive helpers (locale never matters for protocol). */
int gms_strcasecmp(const char *a, const char *b);
int gms_strncasecmp(const char *a, const char *b, size_t n);
void gms_lowercase(char *s);
/* Parse a decimal unsigned number of at most max; the whole string must
 * be digits.  Returns 0 or -1 (empty, junk, overflow, > max). */
int gms_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *value_r);

/* ------------------------------------------------------------------ */
/* The byte buffer (buf.c).  Binary-safe, keeps a spare NUL after data so
 * that data is always a C string when it holds no NUL itself, and has a
 * hard maximum: an append that would pass max fails with -1 and leaves
 * the buffer unchanged.  max == 0 means SIZE_MAX/2. */
struct buf {
	char	*data;		/* owned; NULL until the first append */
	size_t	 len;
	size_t	 cap;
	size_t	 max;
};

#define BUF_INIT(m) { NULL, 0, 0, (m) }
void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);		/* frees data, keeps max */
void buf_wipe_free(struct buf *b);	/* wipes, then frees: for secrets */
void buf_reset(struct buf *b);		/* len = 0, keeps the memory */
int buf_reserve(struct buf *b, size_t more);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, int c);
/* A decimal number, without format parsing (hot paths). */
int buf_putu64(struct buf *b, uint64_t v);
int buf_printf(struct buf *b, const char *fmt, ...) GMS_PRINTF(2, 3);
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) GMS_PRINTF(2, 0);
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Always a valid NUL-terminated string (borrowed until the next change). */
const char *buf_cstr(const struct buf *b);
/* Take the data away (caller frees); the buffer is left empty. */
char *buf_steal(struct buf *b);

/* ------------------------------------------------------------------ */
/* A parsing cursor over peer input: pointer plus bytes left.  Peer input
 * is never walked with a raw pointer. */
struct cursor {
	const char	*p;	/* borrowed */
	size_t		 left;
};

void cur_init(struct cursor *c, const char *p, size_t len);
static inline bool cur_eof(const struct cursor *c) { return c->left == 0; }
static inline int cur_peek(const struct cursor *c)
{ return c->left ? (unsigned char)c->p[0] : -1; }
void cur_skip(struct cursor *c, size_t n);
/* Skip spaces and tabs; returns how many were skipped. */
size_t cur_skip_ws(struct cursor *c);
/* If the cursor starts with s (ASCII case-insensitive), skip it; true. */
bool cur_match_ci(struct cursor *c, const char *s);
/* Take bytes up to (not including) any byte in stop, or to the end. */
size_t cur_take_until(struct cursor *c, const char *stop, const char **p_r);

/* ------------------------------------------------------------------ */
/* Logging (log.c).  To syslog (facility mail) or to stderr in foreground
 * mode.  Every line starts with the thread's session id (or "-") and
 * carries key=value fields.  The _x variants omit errno; the others append
 * ": strerror(errno)".  Messages below the level are never formatted. */
enum log_level {
	LOG_LVL_DEBUG = 0,
	LOG_LVL_INFO,
	LOG_LVL_WARN,
	LOG_LVL_ERROR,
};

/* Trace categories, switched on at run time (log.trace = smtp imap ...). */
#define TRACE_SMTP	0x01
#define TRACE_IMAP	0x02
#define TRACE_SPOOL	0x04
#define TRACE_DIR	0x08
#define TRACE_TLS	0x10
#define TRACE_SASL	0x20
#define TRACE_RELAY	0x40

extern int log_level_current;
extern unsigned int log_trace_mask;

void log_init(const char *ident, bool foreground);
void log_set_level(enum log_level lvl);
/* Parse "debug" / "info" / "warn" / "error"; -1 if unknown. */
int log_level_parse(const char *s);
const char *log_level_name(int lvl);
/* Parse "smtp imap tls" into a mask; -1 on an unknown word. */
int log_trace_parse(const char *s, unsigned int *mask_r);
/* The calling thread's session id, copied (at most 31 bytes). */
void log_set_session(const char *sid);
const char *log_get_session(void);

void log_msg(int lvl, bool with_errno, const char *fmt, ...) GMS_PRINTF(3, 4);
#define log_debug(...) do { if (log_level_current <= LOG_LVL_DEBUG) \
	log_msg(LOG_LVL_DEBUG, false, __VA_ARGS__); } while (0)
#define log_info(...) do { if (log_level_current <= LOG_LVL_INFO) \
	log_msg(LOG_LVL_INFO, false, __VA_ARGS__); } while (0)
#define log_warn(...) log_msg(LOG_LVL_WARN, true, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_LVL_WARN, false, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, true, __VA_ARGS__)
#define log_errorx(...) log_msg(LOG_LVL_ERROR, false, __VA_ARGS__)
#define log_trace(cat, ...) do { if (log_trace_mask & (cat)) \
	log_msg(LOG_LVL_DEBUG, false, __VA_ARGS__); } while (0)
/* fatal: the environment is broken (exit 1).  panic: a bug (abort). */
void fatal(const char *fmt, ...) GMS_PRINTF(1, 2) GMS_NORETURN;
void fatalx(const char *fmt, ...) GMS_PRINTF(1, 2) GMS_NORETURN;
void panic(const char *fmt, ...) GMS_PRINTF(1, 2) GMS_NORETURN;

/* Make peer text safe for a log line: at most max input bytes, printable
 * ASCII kept, everything else (and '"', '\\') as \xNN, "..." when cut.
 * Writes into dst (dstlen bytes, always terminated); returns dst. */
char *log_escape(char *dst, size_t dstlen, const char *src, size_t srclen, size_t max);

/* ------------------------------------------------------------------ */
/* Configuration (conf.c).  gms.conf is "key = value" lines, '#' comments,
 * "include PATH" (relative to the including file, depth bounded).  Keys are
 * "module.name".  Every module registers one declarative table before the
 * file is loaded; the loader validates types and ranges and reports errors
 * as "file:line: message".  A key of a module of the suite that this
 * program did not register (imapd.* read by gms-smtpd) is kept unchecked;
 * a key of a registered module that the table lacks, or of no module of
 * the suite, is an error. */
enum conf_type {
	CONF_STR,	/* any text, may be empty */
	CONF_INT,	/* integer in [min, max] */
	CONF_BOOL,	/* yes/no/true/false/on/off/1/0 */
	CONF_SIZE,	/* bytes, suffix k/K m/M g/G allowed, in [min, max] */
	CONF_TIME,	/* seconds, suffix s m h d allowed, in [min, max] */
	CONF_ENUM,	/* one of the words in choices ("a|b|c") */
};

struct conf_def {
	const char	*key;		/* "module.name" */
	enum conf_type	 type;
	const char	*def;		/* default as text (NULL: empty string) */
	long long	 min;
	long long	 max;
	const char	*choices;	/* CONF_ENUM only */
	const char	*help;		/* one line, for "gmsadm config" */
};

struct conf;

/* The modules of the suite (a key "x.y" needs x in this list). */
extern const char *const conf_modules[];

/* Register a table terminated by an entry with key == NULL.  Call before
 * conf_load(); tables are static and borrowed forever. */
void conf_register(const struct conf_def *table);
/* Parse path.  Returns a new configuration (caller frees with conf_free),
 * or NULL with "file:line: message" in err.  A NULL path gives defaults. */
struct conf *conf_load(const char *path, char *err, size_t errlen);
void conf_free(struct conf **cp);
/* Getters panic on a key nobody registered: that is a bug, not input. */
const char *conf_str(const struct conf *c, const char *key);	/* borrowed */
long long conf_int(const struct conf *c, const char *key);	/* INT SIZE TIME */
bool conf_bool(const struct conf *c, const char *key);
/* The file name the configuration came from (or "(defaults)"). */
const char *conf_path(const struct conf *c);
/* Visit every registered key in table order with the value in force and
 * whether it was set in the file. */
void conf_foreach(const struct conf *c,
    void (*cb)(const struct conf_def *def, const char *value, bool set, void *arg),
    void *arg);
/* Find the definition of a registered key, or NULL. */
const struct conf_def *conf_lookup_def(const char *key);

/* The process-wide configuration in force, swapped on reload.  A session
 * holds a reference for its lifetime, so values it borrowed stay valid. */
void conf_set_current(struct conf *c);		/* takes ownership */
struct conf *conf_acquire(void);		/* +1 reference */
void conf_release(struct conf **cp);		/* -1 reference */

/* The keys lib/ itself registers (log.*, server.*, tls.*). */
extern const struct conf_def lib_conf_table[];

/* ------------------------------------------------------------------ */
/* TLS (tls.c), OpenSSL 3, TLS 1.2 and 1.3 only. */
struct tls_ctx;		/* opaque; reference-counted */
struct ssl_st;

/* A server context from the default certificate and key, plus, when sni_dir
 * is non-empty, one certificate per domain: sni_dir/DOMAIN.crt and
 * sni_dir/DOMAIN.key, chosen by SNI (falls back to the default).
 * Returns NULL and a message in err on failure. */
struct tls_ctx *tls_server_new(const char *cert, const char *key,
    const char *sni_dir, char *err, size_t errlen);
/* A client context (the relay); ca_file may be empty (system store). */
struct tls_ctx *tls_client_new(const char *ca_file, char *err, size_t errlen);
struct tls_ctx *tls_ref(struct tls_ctx *t);
void tls_unref(struct tls_ctx **tp);

/* ------------------------------------------------------------------ */
/* Connections (conn.c): a socket, optionally under TLS, with an input
 * buffer, an output buffer and a deadline on every read and write.  Used
 * by one thread at a time. */
struct conn;

/* Results of reads (and of conn_flush for the negative ones). */
#define CONN_OK		1
#define CONN_EOF	0
#define CONN_ERR	(-1)	/* I/O or TLS error */
#define CONN_TIMEOUT	(-2)	/* the deadline passed */
#define CONN_STOP	(-3)	/* the server is stopping (SIGTERM) */
#define CONN_WAKE	(-4)	/* the wake fd became readable */

/* How a line ended, so the protocols can tell them apart. */
enum line_end {
	LINE_CRLF = 0,	/* "\r\n" */
	LINE_LF,	/* bare "\n" */
	LINE_CR,	/* bare "\r" not followed by "\n" */
	LINE_NONE,	/* EOF before any end of line */
};

struct line {
	const char	*data;	/* borrowed until the next read; NUL-terminated,
				   without the line end */
	size_t		 len;
	enum line_end	 end;
	bool		 has_nul;	/* a NUL byte inside the line */
	bool		 too_long;	/* longer than max: data holds the first
					   max bytes, the rest was skipped */
};

/* Take ownership of fd (closed by conn_free; switched to non-blocking).
 * timeout_ms applies to each read and write; stop_fd (-1 for none) is
 * polled with every wait for input and ends it with CONN_STOP when
 * readable.  The process must ignore SIGPIPE (server_main does). */
struct conn *conn_new(int fd, int timeout_ms, int stop_fd);
/* Flushes queued output (bounded by the timeout), sends TLS close_notify
 * if any, closes the fd, clears *cp. */
void conn_free(struct conn **cp);
int conn_fd(const struct conn *c);
void conn_set_timeout(struct conn *c, int timeout_ms);
/* An extra fd that ends a wait with CONN_WAKE (IDLE, -1 to clear). */
void conn_set_wake_fd(struct conn *c, int fd);
/* Read one line of at most max bytes (without its end).  Over-long lines
 * are consumed to their end and reported with too_long; memory stays
 * bounded by max.  The timeout is a deadline for the whole line.  Returns
 * CONN_OK, CONN_EOF (no more bytes at all; a partial last line is returned
 * first with end == LINE_NONE) or < 0. */
int conn_getline(struct conn *c, struct line *l, size_t max);
/* Read exactly n bytes (an IMAP literal, BDAT chunk) into dst.  Returns
 * CONN_OK, CONN_EOF (the stream ended first) or < 0.  The deadline applies
 * to each wait (progress), not to the whole count. */
int conn_read_exact(struct conn *c, void *dst, size_t n);
/* Read at most n bytes that are available (after at most one wait).
 * Returns the count (> 0, *status_r = CONN_OK), 0 at EOF (CONN_EOF) or -1
 * with the reason (< 0) in *status_r. */
ssize_t conn_read_some(struct conn *c, void *dst, size_t n, int *status_r);
/* True when input is already buffered (pipelining: do not flush yet). */
bool conn_pending(const struct conn *c);
/* Queue output; it goes out at conn_flush, when the buffer is large
 * (16 KiB), or before the next wait for input.  Returns 0 or < 0; a write
 * error or timeout sticks to the connection. */
int conn_write(struct conn *c, const void *p, size_t n);
int conn_printf(struct conn *c, const char *fmt, ...) GMS_PRINTF(2, 3);
int conn_flush(struct conn *c);
/* Server side TLS handshake.  Everything the peer sent before it (buffered
 * plaintext, e.g. commands pipelined after STARTTLS) is discarded first and
 * counted in *discarded_r (may be NULL); queued output is flushed first.
 * Returns 0, or < 0 (CONN_ERR, CONN_TIMEOUT, CONN_STOP): the connection is
 * then unusable.  The connection keeps a reference to t. */
int conn_starttls_server(struct conn *c, struct tls_ctx *t, size_t *discarded_r);
/* Client side TLS handshake (relay) with SNI servername (may be NULL),
 * which is also the name SSL_get_verify_result() checks.  The handshake
 * goes on whatever the certificate: the relay judges it via conn_ssl().
 * Returns 0 or < 0 like conn_starttls_server. */
int conn_starttls_client(struct conn *c, struct tls_ctx *t, const char *servername);
bool conn_is_tls(const struct conn *c);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" or "" (borrowed). */
const char *conn_tls_info(const struct conn *c);
/* The SNI name the client asked for, or NULL (borrowed). */
const char *conn_tls_sni(const struct conn *c);
/* The SSL object, for the relay's certificate checks (borrowed). */
struct ssl_st *conn_ssl(struct conn *c);
/* Turn on compression both ways (RFC 4978 DEFLATE: raw deflate, 32 KiB
 * window, memLevel 8; level -1..9, -1 for zlib's default).  Output queued
 * so far is flushed uncompressed first (the tagged OK); input already
 * buffered but unread is taken as compressed.  From then on every
 * conn_flush ends with a sync flush; inflated input meets the same bounds
 * as plain input.  STARTTLS is refused afterwards.  Returns 0, or < 0
 * (CONN_ERR when already on or the connection failed, or the flush's
 * error).  Costs about 45 KiB (inflate) until conn_free, plus about
 * 256 KiB (deflate) while the session is busy; that part is dropped
 * once a wait for the peer lasts 2 s, and made again for the next reply. */
int conn_start_deflate(struct conn *c, int level);
/* True once conn_start_deflate succeeded. */
bool conn_is_deflate(const struct conn *c);
/* Bytes the compression layer holds now (its buffer and zlib's state),
 * 0 without it: for logs and tests. */
size_t conn_deflate_mem(const struct conn *c);

/* ------------------------------------------------------------------ */
/* The server loop (server.c).  Listen on the configured addresses, load TLS,
 * drop privileges for good, then accept: one thread per session, a bound
 * on sessions overall and per client address, small stacks.  SIGTERM:
 * stop accepting, wake every session with CONN_STOP so it can say goodbye,
 * wait for them (bounded), exit.  SIGHUP: reload gms.conf and the TLS
 * certificates; running sessions keep what they had. */
enum listen_tls {
	LISTEN_PLAIN = 0,	/* plaintext, STARTTLS offered when TLS is set up */
	LISTEN_IMPLICIT,	/* TLS from the first byte (465, 993) */
};

struct listen_spec {
	const char	*conf_key;	/* key holding "addr:port ..." */
	enum listen_tls	 tls;
	int		 kind;		/* the program's own tag (MTA, MSA, ...) */
};

struct session {
	struct conn	*conn;		/* owned by the server loop */
	struct conf	*conf;		/* a reference held for the session */
	struct tls_ctx	*tls;		/* may be NULL; a reference */
	int		 kind;		/* listen_spec.kind */
	enum listen_tls	 listen_tls;
	char		 id[24];	/* session id for the logs */
	char		 peer_addr[64];	/* numeric, no port */
	int		 peer_port;
	char		 local_addr[64];
	int		 local_port;
};

struct server_def {
	const char		*name;		/* "gms-smtpd" */
	/* The program's conf module: the loop reads PREFIX.max_sessions,
	 * PREFIX.max_sessions_per_ip and PREFIX.timeout (seconds), which the
	 * program's table must define. */
	const char		*conf_prefix;
	const struct listen_spec *listen;	/* terminated by conf_key NULL */
	/* Serve one session; runs on its own thread.  The loop frees the
	 * connection and the references afterwards. */
	void			(*serve)(struct session *s);
	/* Write a one-line refusal ("421 4.3.2 too busy") to a connection
	 * that exceeds the limits, before closing it. */
	const char		*busy_reply;
	/* Called in the main thread after privileges are dropped and before
	 * the first accept, and after each reload (may be NULL). */
	int			(*after_setup)(struct conf *c);
};

/* Run the server until SIGTERM/SIGINT.  c becomes the current
 * configuration (server_main takes ownership unless c already is current).
 * Returns the exit status (0 after a stop, 1 when setup failed).  TLS keys
 * and gms.conf must stay readable by server.user for SIGHUP reloads. */
int server_main(const struct server_def *def, struct conf *c, bool foreground);
/* Drop to user:group for good (initgroups, setgid, setuid), then verify
 * that root cannot be regained.  A no-op when not running as root.
 * Returns 0 or -1 with a log line. */
int server_drop_privileges(const char *user, const char *group);
/* True once SIGTERM was received (for loops that do not read). */
bool server_stopping(void);

/* ------------------------------------------------------------------ */
/* Cyrus SASL server glue (gsasl.c).  Mechanisms PLAIN and LOGIN only; the
 * password is checked by the callback (the directory's bind), never by
 * sasldb or saslauthd. */

/* Returns 1: password right, 0: wrong (or unknown user), -1: temporary
 * failure (directory down).  pass is wiped by the caller afterwards. */
typedef int (*gsasl_checkpass_fn)(void *arg, const char *user,
    const char *pass, size_t passlen);

int gsasl_init(const char *appname);	/* once per process */
void gsasl_done(void);

struct gsasl;
/* service: "smtp" or "imap". */
struct gsasl *gsasl_new(const char *service, const struct session *s,
    gsasl_checkpass_fn check, void *arg);
void gsasl_free(struct gsasl **gp);
/* Result of a step. */
#define GSASL_DONE	0	/* authenticated: see gsasl_user() */
#define GSASL_CONTINUE	1	/* send *out (base64 by the caller), read more */
#define GSASL_FAIL	(-1)	/* wrong credentials, bad data or authzid */
#define GSASL_TEMPFAIL	(-2)	/* the directory is unavailable */
#define GSASL_BADMECH	(-3)	/* mechanism not offered */
/* Start mechanism mech with an optional initial response (decoded). */
int gsasl_start(struct gsasl *g, const char *mech, const char *in,
    size_t inlen, const char **out_r, size_t *outlen_r);
int gsasl_step(struct gsasl *g, const char *in, size_t inlen,
    const char **out_r, size_t *outlen_r);
/* The authenticated user (borrowed), after GSASL_DONE. */
const char *gsasl_user(const struct gsasl *g);
/* "PLAIN LOGIN" (borrowed). */
const char *gsasl_mechs(void);

/* ------------------------------------------------------------------ */
/* Authentication failure throttle (throttle.c).  Counts failed password
 * checks per client address (IPv6 per /64) and per account, answers with a
 * delay that doubles per failure and, past a limit, a lockout window.
 * Once a key has failed, attempts in flight count with its failures, so
 * parallel guesses wait together; a key without failures is never slowed,
 * and only confirmed failures lock out.  Memory is bounded:
 * fixed tables, the least recently used entry is evicted.  Thread safe.
 * The daemons call it from their gsasl checkpass callback (where both the
 * address and the account are known): begin, wait the delay, check, end;
 * a lockout answers "wrong password" without asking the directory. */
struct throttle_rule {
	unsigned int	free;		/* failures that cost no delay */
	unsigned int	delay_ms;	/* first delay, doubled per failure */
	unsigned int	max_delay_ms;	/* cap of the delay */
	unsigned int	lockout;	/* failures that start a lockout (0: never) */
	unsigned int	lockout_s;	/* length of the lockout window */
	unsigned int	forget_s;	/* failures are forgotten after this quiet time */
};

struct throttle_config {
	struct throttle_rule	addr;
	struct throttle_rule	account;
	size_t			slots;	/* entries per table (rounded up to 2^n) */
};

/* What throttle_begin() counted, for throttle_end(); the caller's storage. */
struct throttle_ticket {
	uint64_t	addr_key;
	uint64_t	account_key;
	bool		has_account;
	bool		active;
};

struct throttle;

/* Fill cfg with the defaults (documented in throttle.c). */
void throttle_defaults(struct throttle_config *cfg);
/* A new throttle (caller frees with throttle_free); never NULL. */
struct throttle *throttle_new(const struct throttle_config *cfg);
void throttle_free(struct throttle **tp);
/* Before checking a password of account (may be NULL or "" when not yet
 * known) from addr (numeric).  Returns -1: locked out, refuse without
 * checking (tk is then inactive); otherwise the delay in milliseconds the
 * caller waits before checking (0: none), and the attempt is counted as in
 * progress in tk. */
int throttle_begin(struct throttle *t, const char *addr, const char *account,
    struct throttle_ticket *tk);
/* After the check: result 1 (success: the account's failures are
 * forgotten), 0 (failure: counted), -1 (temporary failure: not counted).
 * Does nothing for an inactive ticket; tk becomes inactive. */
void throttle_end(struct throttle *t, struct throttle_ticket *tk, int result);

/* base64 (base64.c).  Encode into b; decode returns -1 on bad input. */
int base64_encode(struct buf *b, const void *p, size_t n);
int base64_decode(struct buf *b, const char *p, size_t n);

#endif /* GMS_LIB_H */
