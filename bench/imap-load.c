/*
 * bench/imap-load.c - the IMAP load tool of the GMS benchmark.
 *
 * One binary drives gms-imapd and Dovecot alike, so that both servers see
 * exactly the same client.  It speaks IMAP over implicit TLS (or plain TCP
 * with -N) and knows these modes:
 *
 *   mixed     CLIENTS threads, each looping for SECONDS over whole sessions:
 *             LOGIN, SELECT, FETCH (FLAGS ENVELOPE) of the newest 50,
 *             FETCH BODY.PEEK[] of 5 random messages, STORE, SEARCH SUBJECT,
 *             APPEND, NOOP, STORE \Deleted + EXPUNGE of what it appended,
 *             LOGOUT.  Client i logs in as user (first + i % users).
 *   append    fill one user's INBOX with COUNT generated messages over
 *             CLIENTS connections, stopping at SECONDS.
 *   maildir   write COUNT generated messages straight into a Maildir's cur/
 *             (direct delivery for Dovecot, no server involved).
 *   fetchall  ROUNDS times: SELECT INBOX, then FETCH 1:* (FLAGS), timed.
 *   search    SELECT INBOX, then ROUNDS times SEARCH BODY "WORD", timed.
 *   idle      open CLIENTS connections (LOGIN, SELECT INBOX), print
 *             "ready=N", hold them until standard input closes or SECONDS
 *             pass, then LOGOUT.
 *
 * Every mode prints one line of key=value pairs on stdout; errors go to
 * stderr and make the exit status non-zero.  Messages are generated from a
 * seed (their index), so every server gets the same bytes; one message in a
 * hundred carries the word "needle" in its body for the search test.
 *
 * Every network read and write has a deadline (-t); every loop is bounded
 * in count and in time.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define RBUF_SIZE	65536
#define LINE_MAX_BYTES	(64u * 1024 * 1024)
#define MSG_MAX_BYTES	(16u * 1024 * 1024)
#define MAX_CLIENTS	5000
#define MAX_ROUNDS	1000
#define MAX_COUNT	10000000u

struct opts {
	const char	*host;
	const char	*port;
	const char	*user_fmt;	/* local@domain: user i is local%03u@domain */
	const char	*password;
	const char	*word;
	const char	*dir;
	unsigned	 first_user;
	unsigned	 users;
	unsigned	 clients;
	unsigned	 count;
	unsigned	 first_msg;
	unsigned	 size;
	unsigned	 rounds;
	double		 seconds;
	int		 timeout;
	int		 tls;
};

struct conn {
	int		 fd;
	SSL		*ssl;
	char		 rbuf[RBUF_SIZE];
	size_t		 roff, rlen;
	char		*line;		/* owned; one response line, literals left out */
	size_t		 line_len, line_cap;
	unsigned	 tagno;
	/* What the responses to the last command said. */
	unsigned long	 exists;
	unsigned long	 fetches;
	unsigned long	 hits;
	unsigned long	 literal_bytes;
	char		 status[256];	/* the tagged response of the last command */
};

static struct opts opt;
static SSL_CTX *ssl_ctx;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const words[] = {
	"ministry", "budget", "report", "meeting", "health", "education",
	"water", "transport", "embassy", "council", "circular", "minutes",
	"agenda", "tender", "audit", "training", "regional", "district",
	"hospital", "permit", "license", "revenue", "statistics", "census",
	"agriculture", "fisheries", "energy", "roads", "planning", "finance",
	"procurement", "policy",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

/* now - monotonic seconds. */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* die - print a message and exit with status 2. */
static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("imap-load: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

/* warnmsg - print a message to stderr, serialised between threads. */
static void __attribute__((format(printf, 1, 2)))
warnmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pthread_mutex_lock(&out_lock);
	fputs("imap-load: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&out_lock);
	va_end(ap);
}

/* xorshift - a small deterministic PRNG step. */
static uint32_t
xorshift(uint32_t *s)
{
	uint32_t x = *s ? *s : 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

/* add - append n bytes to out (cap bytes) at *len; 0, or -1 when full. */
static int
add(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
	if (n > cap - *len)
		return -1;
	memcpy(out + *len, s, n);
	*len += n;
	return 0;
}

/* addf - bounded formatted append; 0, or -1 when it does not fit. */
static int __attribute__((format(printf, 4, 5)))
addf(char *out, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return -1;
	*len += (size_t)n;
	return 0;
}

/*
 * gen_message - the message with index idx, about size bytes of body, into
 * out (cap bytes).  Returns its length; the same idx gives the same bytes.
 */
static size_t
gen_message(char *out, size_t cap, unsigned idx, unsigned size)
{
	uint32_t seed = idx * 2654435761u + 1;
	size_t len = 0, body_start, col = 0;
	const char *w;

	if (addf(out, cap, &len,
	    "From: Sender %u <sender%u@example.test>\r\n"
	    "To: Bench <bench@bench.test>\r\n"
	    "Subject: Bench message %u about %s and %s\r\n"
	    "Date: Sat, 28 Nov 2026 12:%02u:%02u +0000\r\n"
	    "Message-ID: <%u.bench@bench.test>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n",
	    idx % 97, idx % 97, idx, words[idx % NWORDS],
	    words[(idx / NWORDS) % NWORDS], (idx / 60) % 60, idx % 60,
	    idx) == -1)
		return 0;
	body_start = len;
	if (idx % 100 == 7) {
		if (add(out, cap, &len, "needle ", 7) == -1)
			return 0;
		col = 7;
	}
	while (len - body_start < size && len + 32 < cap) {
		w = words[xorshift(&seed) % NWORDS];
		if (col + strlen(w) + 1 > 72) {
			add(out, cap, &len, "\r\n", 2);
			col = 0;
		}
		add(out, cap, &len, w, strlen(w));
		add(out, cap, &len, " ", 1);
		col += strlen(w) + 1;
	}
	add(out, cap, &len, "\r\n", 2);
	return len;
}

/* conn_close - LOGOUT is the caller's business; this frees everything. */
static void
conn_close(struct conn **cp)
{
	struct conn *c = *cp;

	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c->line);
	free(c);
	*cp = NULL;
}

/* fill - read more bytes into the read buffer; 0, or -1 on EOF/error. */
static int
fill(struct conn *c)
{
	int n;

	if (c->roff == c->rlen)
		c->roff = c->rlen = 0;
	if (c->rlen == sizeof(c->rbuf)) {
		memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
		c->rlen -= c->roff;
		c->roff = 0;
	}
	if (c->ssl != NULL) {
		n = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(sizeof(c->rbuf) - c->rlen));
		if (n <= 0)
			return -1;
	} else {
		do {
			n = (int)read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
		} while (n < 0 && errno == EINTR);
		if (n <= 0)
			return -1;
	}
	c->rlen += (size_t)n;
	return 0;
}

/* conn_write - write all of data; 0, or -1 on error or timeout. */
static int
conn_write(struct conn *c, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if (c->ssl != NULL) {
			n = SSL_write(c->ssl, data, (int)(len > 1 << 30 ? 1 << 30 : len));
			if (n <= 0)
				return -1;
		} else {
			n = write(c->fd, data, len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* line_add - append to c->line, growing it up to LINE_MAX_BYTES. */
static int
line_add(struct conn *c, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (n > LINE_MAX_BYTES - c->line_len)
		return -1;
	if (c->line_len + n + 1 > c->line_cap) {
		cap = c->line_cap ? c->line_cap : 4096;
		while (cap < c->line_len + n + 1)
			cap *= 2;
		if ((p = realloc(c->line, cap)) == NULL)
			return -1;
		c->line = p;
		c->line_cap = cap;
	}
	memcpy(c->line + c->line_len, s, n);
	c->line_len += n;
	c->line[c->line_len] = '\0';
	return 0;
}

/* literal_size - when the line so far ends in {N}, N; else -1. */
static long
literal_size(const struct conn *c)
{
	size_t i = c->line_len;
	long n = 0, mul = 1;

	if (i < 3 || c->line[i - 1] != '}')
		return -1;
	i--;
	if (c->line[i - 1] == '+')
		i--;
	while (i > 0 && c->line[i - 1] >= '0' && c->line[i - 1] <= '9') {
		if (mul > 100000000000L)
			return -1;
		n += (c->line[i - 1] - '0') * mul;
		mul *= 10;
		i--;
	}
	if (i == 0 || c->line[i - 1] != '{' || mul == 1)
		return -1;
	return n;
}

/*
 * read_line - one response line into c->line without its CRLF; literal
 * contents are skipped (counted in literal_bytes), the text around them is
 * kept.  Returns 0, or -1 on EOF, error, timeout or an overlong line.
 */
static int
read_line(struct conn *c)
{
	char *nl;
	size_t n;
	long lit;

	c->line_len = 0;
	if (line_add(c, "", 0) == -1)
		return -1;
	for (;;) {
		if (c->roff == c->rlen && fill(c) == -1)
			return -1;
		nl = memchr(c->rbuf + c->roff, '\n', c->rlen - c->roff);
		n = nl ? (size_t)(nl - (c->rbuf + c->roff)) : c->rlen - c->roff;
		if (line_add(c, c->rbuf + c->roff, n) == -1)
			return -1;
		c->roff += n;
		if (nl == NULL)
			continue;
		c->roff++;	/* the LF */
		if (c->line_len > 0 && c->line[c->line_len - 1] == '\r')
			c->line[--c->line_len] = '\0';
		if ((lit = literal_size(c)) < 0)
			return 0;
		/* Skip the literal's bytes, then go on with the line. */
		c->literal_bytes += (unsigned long)lit;
		while (lit > 0) {
			if (c->roff == c->rlen && fill(c) == -1)
				return -1;
			n = c->rlen - c->roff;
			if ((long)n > lit)
				n = (size_t)lit;
			c->roff += n;
			lit -= (long)n;
		}
	}
}

/* untagged - note what an untagged response says. */
static void
untagged(struct conn *c)
{
	const char *p = c->line + 2;
	char *end;
	unsigned long n;

	if (strncmp(p, "SEARCH", 6) == 0) {
		for (p += 6; *p == ' '; ) {
			while (*p == ' ')
				p++;
			if (*p >= '0' && *p <= '9') {
				c->hits++;
				while (*p >= '0' && *p <= '9')
					p++;
			} else
				break;
		}
		return;
	}
	if (*p < '0' || *p > '9')
		return;
	n = strtoul(p, &end, 10);
	if (strncmp(end, " EXISTS", 7) == 0)
		c->exists = n;
	else if (strncmp(end, " FETCH", 6) == 0)
		c->fetches++;
}

/*
 * wait_tagged - read responses until the one tagged tag.  Returns 0 on OK,
 * 1 on NO or BAD (c->status holds the line), -1 on a connection failure.
 * With plus != 0 it also returns 2 on a "+" continuation request.
 */
static int
wait_tagged(struct conn *c, const char *tag, int plus)
{
	size_t tl = strlen(tag);
	const char *st;

	for (;;) {
		if (read_line(c) == -1) {
			snprintf(c->status, sizeof(c->status), "connection lost");
			return -1;
		}
		if (c->line[0] == '*' && c->line[1] == ' ') {
			untagged(c);
			continue;
		}
		if (c->line[0] == '+') {
			if (plus)
				return 2;
			continue;
		}
		if (strncmp(c->line, tag, tl) == 0 && c->line[tl] == ' ') {
			snprintf(c->status, sizeof(c->status), "%.250s", c->line);
			st = c->line + tl + 1;
			return strncmp(st, "OK", 2) == 0 ? 0 : 1;
		}
	}
}

/*
 * cmd - send "TAG command" and wait for its tagged response.  Returns 0 on
 * OK, 1 on NO/BAD, -1 when the connection failed.
 */
static int __attribute__((format(printf, 2, 3)))
cmd(struct conn *c, const char *fmt, ...)
{
	char out[4096], tag[16];
	size_t len = 0;
	va_list ap;
	int n;

	snprintf(tag, sizeof(tag), "a%u", ++c->tagno);
	if (addf(out, sizeof(out) - 2, &len, "%s ", tag) == -1)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(out + len, sizeof(out) - 2 - len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(out) - 2 - len)
		return -1;
	len += (size_t)n;
	out[len++] = '\r';
	out[len++] = '\n';
	c->fetches = c->hits = 0;
	if (conn_write(c, out, len) == -1) {
		snprintf(c->status, sizeof(c->status), "write failed");
		return -1;
	}
	return wait_tagged(c, tag, 0);
}

/* append - APPEND msg (len bytes) to INBOX; 0 OK, 1 NO/BAD, -1 failure. */
static int
append(struct conn *c, const char *msg, size_t len)
{
	char out[128], tag[16];
	int n, r;

	snprintf(tag, sizeof(tag), "a%u", ++c->tagno);
	n = snprintf(out, sizeof(out), "%s APPEND INBOX {%zu}\r\n", tag, len);
	if (n < 0 || (size_t)n >= sizeof(out))
		return -1;
	if (conn_write(c, out, (size_t)n) == -1)
		return -1;
	if ((r = wait_tagged(c, tag, 1)) != 2)
		return r == 0 ? 1 : r;	/* OK without "+" makes no sense */
	if (conn_write(c, msg, len) == -1 || conn_write(c, "\r\n", 2) == -1)
		return -1;
	return wait_tagged(c, tag, 0);
}

/* conn_open - connect, handshake, read the greeting; NULL on failure. */
static struct conn *
conn_open(void)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct timeval tv;
	struct conn *c;
	int one = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->fd = -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(opt.host, opt.port, &hints, &res) != 0)
		goto fail;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			continue;
		tv.tv_sec = opt.timeout;
		tv.tv_usec = 0;
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(res);
	if (c->fd < 0)
		goto fail;
	if (opt.tls) {
		if ((c->ssl = SSL_new(ssl_ctx)) == NULL ||
		    SSL_set_fd(c->ssl, c->fd) != 1 ||
		    SSL_connect(c->ssl) != 1)
			goto fail;
	}
	if (read_line(c) == -1 || strncmp(c->line, "* OK", 4) != 0)
		goto fail;
	return c;
fail:
	conn_close(&c);
	return NULL;
}

/* user_name - the address of user number i: the digits go before the '@'. */
static void
user_name(char *out, size_t cap, unsigned i)
{
	const char *at = strchr(opt.user_fmt, '@');
	int n;

	if (at == NULL)
		die("user must look like local@domain: %s", opt.user_fmt);
	n = snprintf(out, cap, "%.*s%03u%s", (int)(at - opt.user_fmt), opt.user_fmt, i, at);
	if (n < 0 || (size_t)n >= cap)
		die("user name too long");
}

/* login - open a connection and LOGIN as user i; NULL on failure. */
static struct conn *
login(unsigned i)
{
	char user[256];
	struct conn *c;

	user_name(user, sizeof(user), i);
	if ((c = conn_open()) == NULL) {
		warnmsg("connect/TLS to %s:%s failed", opt.host, opt.port);
		return NULL;
	}
	if (cmd(c, "LOGIN \"%s\" \"%s\"", user, opt.password) != 0) {
		warnmsg("LOGIN %s: %s", user, c->status);
		conn_close(&c);
	}
	return c;
}

/* -- mixed ------------------------------------------------------------- */

/* The commands of a mixed session, for the latency report. */
enum mixed_cmd {
	MC_LOGIN, MC_SELECT, MC_FETCH_ENV, MC_FETCH_BODY, MC_STORE, MC_SEARCH,
	MC_APPEND, MC_NOOP, MC_EXPUNGE, MC_LOGOUT, MC_N
};
static const char *const mixed_cmd_names[MC_N] = {
	"login", "select", "fetch_env", "fetch_body", "store", "search",
	"append", "noop", "expunge", "logout",
};

struct worker {
	pthread_t	 th;
	unsigned	 id;
	double		 deadline;
	unsigned long	 sessions, commands, errors;
	double		 lat_sum[MC_N];	/* seconds spent in each kind of command */
	unsigned long	 lat_n[MC_N];
	char		*msg;		/* owned; scratch for APPEND */
};

/* mixed_session - one whole client session; counts into w. */
static void
mixed_session(struct worker *w, uint32_t *seed)
{
	struct conn *c;
	unsigned long e, lo, i;
	char set[128];
	size_t len, slen;
	double t;
	int r;

#define COUNT(kind, expr) do {						\
	t = now();							\
	r = (expr);							\
	w->lat_sum[kind] += now() - t;					\
	w->lat_n[kind]++;						\
	if (r == 0) w->commands++; else w->errors++;			\
	if (r < 0) goto out;						\
} while (0)

	/* LOGIN's time includes the connection and the TLS handshake. */
	t = now();
	c = login(opt.first_user + w->id % opt.users);
	w->lat_sum[MC_LOGIN] += now() - t;
	w->lat_n[MC_LOGIN]++;
	if (c == NULL) {
		w->errors++;
		return;
	}
	w->commands++;
	COUNT(MC_SELECT, cmd(c, "SELECT INBOX"));
	e = c->exists;
	if (e > 0) {
		lo = e > 50 ? e - 49 : 1;
		COUNT(MC_FETCH_ENV, cmd(c, "FETCH %lu:%lu (FLAGS ENVELOPE)", lo, e));
		slen = 0;
		for (i = 0; i < 5; i++)
			addf(set, sizeof(set), &slen, "%s%lu", i ? "," : "",
			    1 + xorshift(seed) % e);
		COUNT(MC_FETCH_BODY, cmd(c, "FETCH %s BODY.PEEK[]", set));
		COUNT(MC_STORE, cmd(c, "STORE %lu +FLAGS (\\Seen)", 1 + xorshift(seed) % e));
	}
	COUNT(MC_SEARCH, cmd(c, "SEARCH SUBJECT \"%s\"", words[xorshift(seed) % NWORDS]));
	len = gen_message(w->msg, MSG_MAX_BYTES, 1000000 + xorshift(seed) % 1000000, 2048);
	COUNT(MC_APPEND, append(c, w->msg, len));
	COUNT(MC_NOOP, cmd(c, "NOOP"));
	if (c->exists > e) {
		COUNT(MC_STORE, cmd(c, "STORE %lu +FLAGS (\\Deleted)", c->exists));
		COUNT(MC_EXPUNGE, cmd(c, "EXPUNGE"));
	} else
		w->errors++;	/* the appended message never showed up */
	COUNT(MC_LOGOUT, cmd(c, "LOGOUT"));
	w->sessions++;
out:
	if (r != 0 && w->errors < 3)
		warnmsg("client %u: %s", w->id, c->status);
	conn_close(&c);
#undef COUNT
}

/* mixed_thread - sessions until the deadline (bounded by a session count). */
static void *
mixed_thread(void *arg)
{
	struct worker *w = arg;
	uint32_t seed = w->id * 7919u + 17;
	unsigned long n;

	for (n = 0; n < 1000000 && now() < w->deadline; n++)
		mixed_session(w, &seed);
	return NULL;
}

/* run_workers - start opt.clients threads of fn and join them. */
static struct worker *
run_workers(void *(*fn)(void *), double deadline)
{
	struct worker *ws;
	unsigned i;

	if ((ws = calloc(opt.clients, sizeof(*ws))) == NULL)
		die("out of memory");
	for (i = 0; i < opt.clients; i++) {
		ws[i].id = i;
		ws[i].deadline = deadline;
		if ((ws[i].msg = malloc(MSG_MAX_BYTES)) == NULL)
			die("out of memory");
		if (pthread_create(&ws[i].th, NULL, fn, &ws[i]) != 0)
			die("pthread_create failed");
	}
	for (i = 0; i < opt.clients; i++)
		pthread_join(ws[i].th, NULL);
	return ws;
}

static int
mode_mixed(void)
{
	unsigned long sessions = 0, commands = 0, errors = 0, n;
	double t0 = now(), t, sum;
	struct worker *ws;
	unsigned i, k;

	ws = run_workers(mixed_thread, t0 + opt.seconds);
	t = now() - t0;
	for (i = 0; i < opt.clients; i++) {
		sessions += ws[i].sessions;
		commands += ws[i].commands;
		errors += ws[i].errors;
	}
	printf("mode=mixed clients=%u seconds=%.3f sessions=%lu commands=%lu errors=%lu",
	    opt.clients, t, sessions, commands, errors);
	/* Mean latency of each kind of command, in milliseconds. */
	for (k = 0; k < MC_N; k++) {
		sum = 0;
		n = 0;
		for (i = 0; i < opt.clients; i++) {
			sum += ws[i].lat_sum[k];
			n += ws[i].lat_n[k];
		}
		if (n > 0)
			printf(" ms_%s=%.2f", mixed_cmd_names[k], sum / (double)n * 1000);
	}
	printf("\n");
	for (i = 0; i < opt.clients; i++)
		free(ws[i].msg);
	free(ws);
	return errors > 0 && commands == 0 ? 1 : 0;
}

/* -- append ------------------------------------------------------------ */

static void *
append_thread(void *arg)
{
	struct worker *w = arg;
	struct conn *c;
	unsigned long k;
	size_t len;
	int r;

	if ((c = login(opt.first_user)) == NULL) {
		w->errors++;
		return NULL;
	}
	for (k = opt.first_msg + w->id; k < (unsigned long)opt.first_msg + opt.count;
	    k += opt.clients) {
		if (now() >= w->deadline)
			break;
		len = gen_message(w->msg, MSG_MAX_BYTES, (unsigned)k, opt.size);
		if ((r = append(c, w->msg, len)) != 0) {
			w->errors++;
			warnmsg("APPEND: %s", c->status);
			break;
		}
		w->commands++;
	}
	cmd(c, "LOGOUT");
	conn_close(&c);
	return NULL;
}

static int
mode_append(void)
{
	unsigned long done = 0, errors = 0;
	double t0 = now(), t;
	struct worker *ws;
	unsigned i;

	ws = run_workers(append_thread, t0 + opt.seconds);
	t = now() - t0;
	for (i = 0; i < opt.clients; i++) {
		done += ws[i].commands;
		errors += ws[i].errors;
		free(ws[i].msg);
	}
	free(ws);
	printf("mode=append clients=%u seconds=%.3f appended=%lu errors=%lu\n",
	    opt.clients, t, done, errors);
	return errors > 0 ? 1 : 0;
}

/* -- maildir ----------------------------------------------------------- */

static int
mode_maildir(void)
{
	char path[4096], *msg;
	double t0 = now();
	unsigned long k, done = 0;
	size_t len;
	int fd, n;

	if (opt.dir == NULL)
		die("maildir needs -D DIR");
	if ((msg = malloc(MSG_MAX_BYTES)) == NULL)
		die("out of memory");
	for (k = opt.first_msg; k < (unsigned long)opt.first_msg + opt.count; k++) {
		if (now() - t0 > opt.seconds)
			break;
		len = gen_message(msg, MSG_MAX_BYTES, (unsigned)k, opt.size);
		n = snprintf(path, sizeof(path), "%s/cur/%lu.M%luP%d.bench,S=%zu:2,",
		    opt.dir, 1700000000UL + k, k, (int)getpid(), len);
		if (n < 0 || (size_t)n >= sizeof(path))
			die("path too long");
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
			die("%s: %s", path, strerror(errno));
		if (write(fd, msg, len) != (ssize_t)len)
			die("%s: short write", path);
		close(fd);
		done++;
	}
	free(msg);
	printf("mode=maildir seconds=%.3f written=%lu\n", now() - t0, done);
	return 0;
}

/* -- fetchall, search ---------------------------------------------------- */

static int
mode_fetchall(void)
{
	struct conn *c;
	unsigned i;
	double t;

	if ((c = login(opt.first_user)) == NULL)
		return 1;
	printf("mode=fetchall");
	for (i = 0; i < opt.rounds; i++) {
		t = now();
		if (cmd(c, "SELECT INBOX") != 0) {
			warnmsg("SELECT: %s", c->status);
			break;
		}
		printf(" select_ms=%.3f", (now() - t) * 1000);
		t = now();
		if (cmd(c, "FETCH 1:* (FLAGS)") != 0) {
			warnmsg("FETCH: %s", c->status);
			break;
		}
		printf(" fetch_ms=%.3f", (now() - t) * 1000);
	}
	printf(" messages=%lu fetched=%lu\n", c->exists, c->fetches);
	cmd(c, "LOGOUT");
	conn_close(&c);
	return i == opt.rounds ? 0 : 1;
}

static int
mode_search(void)
{
	struct conn *c;
	unsigned i;
	double t;

	if ((c = login(opt.first_user)) == NULL)
		return 1;
	if (cmd(c, "SELECT INBOX") != 0) {
		warnmsg("SELECT: %s", c->status);
		conn_close(&c);
		return 1;
	}
	printf("mode=search messages=%lu", c->exists);
	for (i = 0; i < opt.rounds; i++) {
		t = now();
		if (cmd(c, "SEARCH BODY \"%s\"", opt.word) != 0) {
			warnmsg("SEARCH: %s", c->status);
			break;
		}
		printf(" search_ms=%.3f", (now() - t) * 1000);
	}
	printf(" hits=%lu\n", c->hits);
	cmd(c, "LOGOUT");
	conn_close(&c);
	return i == opt.rounds ? 0 : 1;
}

/* -- idle -------------------------------------------------------------- */

static int
mode_idle(void)
{
	struct conn **cs;
	struct pollfd pfd;
	unsigned i, ok = 0, failed = 0;
	double t0 = now(), left;
	char buf[256];

	if ((cs = calloc(opt.clients, sizeof(*cs))) == NULL)
		die("out of memory");
	for (i = 0; i < opt.clients; i++) {
		if (now() - t0 > opt.seconds)
			break;
		cs[i] = login(opt.first_user + i % opt.users);
		if (cs[i] != NULL && cmd(cs[i], "SELECT INBOX") != 0) {
			warnmsg("SELECT: %s", cs[i]->status);
			conn_close(&cs[i]);
		}
		if (cs[i] == NULL) {
			if (++failed >= 10)
				break;
		} else
			ok++;
	}
	printf("ready=%u failed=%u seconds=%.3f\n", ok, failed, now() - t0);
	fflush(stdout);
	/* Hold the connections until stdin closes (or says anything). */
	pfd.fd = 0;
	pfd.events = POLLIN;
	for (;;) {
		left = opt.seconds - (now() - t0);
		if (left <= 0)
			break;
		if (poll(&pfd, 1, (int)(left * 1000 > 1000 ? 1000 : left * 1000)) > 0) {
			if (read(0, buf, sizeof(buf)) >= 0)
				break;
		}
	}
	for (i = 0; i < opt.clients; i++) {
		if (cs[i] != NULL) {
			cmd(cs[i], "LOGOUT");
			conn_close(&cs[i]);
		}
	}
	free(cs);
	return ok > 0 ? 0 : 1;
}

/* -- main -------------------------------------------------------------- */

static void
usage(void)
{
	fputs("usage: imap-load [-N] [-H host] -p port [-u local@domain] [-f first_user]\n"
	    "         [-U users] [-w password] [-c clients] [-d seconds] [-m count]\n"
	    "         [-o first_msg] [-l size] [-r rounds] [-q word] [-t timeout]\n"
	    "         [-D maildir] mixed|append|maildir|fetchall|search|idle\n", stderr);
	exit(2);
}

/* num - parse an unsigned option within [lo, hi]. */
static unsigned
num(const char *s, unsigned lo, unsigned hi, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi)
		die("bad %s: %s (%u..%u)", what, s, lo, hi);
	return (unsigned)v;
}

int
main(int argc, char **argv)
{
	struct rlimit rl;
	const char *mode;
	int ch;

	opt.host = "127.0.0.1";
	opt.user_fmt = "bench@bench.test";
	opt.password = "Bench-Passw0rd";
	opt.word = "needle";
	opt.users = 1;
	opt.clients = 1;
	opt.count = 100;
	opt.size = 1024;
	opt.rounds = 3;
	opt.seconds = 10;
	opt.timeout = 120;
	opt.tls = 1;
	while ((ch = getopt(argc, argv, "NH:p:u:f:U:w:c:d:m:o:l:r:q:t:D:")) != -1) {
		switch (ch) {
		case 'N': opt.tls = 0; break;
		case 'H': opt.host = optarg; break;
		case 'p': opt.port = optarg; break;
		case 'u': opt.user_fmt = optarg; break;
		case 'f': opt.first_user = num(optarg, 0, 1000000, "first user"); break;
		case 'U': opt.users = num(optarg, 1, 1000000, "users"); break;
		case 'w': opt.password = optarg; break;
		case 'c': opt.clients = num(optarg, 1, MAX_CLIENTS, "clients"); break;
		case 'd': opt.seconds = num(optarg, 1, 3600, "seconds"); break;
		case 'm': opt.count = num(optarg, 1, MAX_COUNT, "count"); break;
		case 'o': opt.first_msg = num(optarg, 0, MAX_COUNT, "first message"); break;
		case 'l': opt.size = num(optarg, 0, MSG_MAX_BYTES / 2, "size"); break;
		case 'r': opt.rounds = num(optarg, 1, MAX_ROUNDS, "rounds"); break;
		case 'q': opt.word = optarg; break;
		case 't': opt.timeout = (int)num(optarg, 1, 3600, "timeout"); break;
		case 'D': opt.dir = optarg; break;
		default: usage();
		}
	}
	if (optind + 1 != argc)
		usage();
	mode = argv[optind];
	signal(SIGPIPE, SIG_IGN);
	if (strchr(opt.password, '"') || strchr(opt.password, '\\') ||
	    strchr(opt.word, '"') || strchr(opt.word, '\\'))
		die("password and word must not hold quotes or backslashes");
	if (strcmp(mode, "maildir") == 0)
		return mode_maildir();
	if (opt.port == NULL)
		usage();

	/* 1 000 connections need more than the usual 1 024 descriptors. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (opt.tls) {
		/* A benchmark on loopback: the certificate is not checked. */
		if ((ssl_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
			die("SSL_CTX_new failed");
		SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_OFF);
	}
	if (strcmp(mode, "mixed") == 0)
		return mode_mixed();
	if (strcmp(mode, "append") == 0)
		return mode_append();
	if (strcmp(mode, "fetchall") == 0)
		return mode_fetchall();
	if (strcmp(mode, "search") == 0)
		return mode_search();
	if (strcmp(mode, "idle") == 0)
		return mode_idle();
	usage();
	return 2;
}
