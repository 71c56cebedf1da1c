/*
 * test-conn.c - the connection layer (lib/conn.c, lib/tls.c): the line
 * reader over a socketpair fed one byte at a time and split at every
 * point, over-long lines with bounded memory, bare LF, bare CR (also as
 * the last byte of a read and of the stream), NUL, CRLF split across
 * reads; the same over TLS with records of one byte and records cut
 * across socket reads; STARTTLS throwing away pipelined plaintext; SNI
 * choosing a certificate; deadlines, the stop fd and the wake fd; exact
 * reads; writes that flush and writes that time out.
 *
 * The feeder writes one piece, then waits until the reader has taken it
 * from the socket (SIOCOUTQ reaches 0), so every split really reaches the
 * reader as a separate read.
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "gms.h"
#include "unit.h"
#include "testcert.h"

static char *tmpdir;
static struct tls_ctx *server_tls;
static SSL_CTX *client_ctx;

/* ------------------------------------------------------------------ */
/* Feeding a socket. */

/* wait_drained - until the peer has read everything we wrote (bounded). */
static void
wait_drained(int fd)
{
	int q, i;

	for (i = 0; i < 4000; i++) {
		if (ioctl(fd, SIOCOUTQ, &q) == 0 && q == 0)
			return;
		usleep(250);
	}
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* write_pieces - data in pieces of chunk bytes, or two pieces cut at cut. */
static void
write_pieces(int fd, const char *data, size_t len, size_t chunk, size_t cut)
{
	size_t off = 0;

	if (chunk == 0) {
		if (cut > 0 && cut < len) {
			(void)write_all(fd, data, cut);
			wait_drained(fd);
			off = cut;
		}
		(void)write_all(fd, data + off, len - off);
		wait_drained(fd);
		return;
	}
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;

		(void)write_all(fd, data + off, n);
		wait_drained(fd);
		off += n;
	}
}

struct feed {
	int		 fd;
	const char	*data;
	size_t		 len;
	size_t		 chunk;
	size_t		 cut;
};

static void *
feeder(void *arg)
{
	struct feed *f = arg;

	write_pieces(f->fd, f->data, f->len, f->chunk, f->cut);
	shutdown(f->fd, SHUT_WR);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Reading lines into a text that the checks compare. */

static const char *
end_name(enum line_end e)
{
	switch (e) {
	case LINE_CRLF: return "CRLF";
	case LINE_LF: return "LF";
	case LINE_CR: return "CR";
	case LINE_NONE: return "NONE";
	default: return "?";
	}
}

/* read_lines - every line until EOF or error; returns the last status. */
static int
read_lines(struct conn *c, size_t max, struct buf *out)
{
	struct line l;
	size_t i;
	int r;

	buf_reset(out);
	while ((r = conn_getline(c, &l, max)) == CONN_OK) {
		for (i = 0; i < l.len; i++) {
			if (l.data[i] == '\0')
				buf_puts(out, "\\0");
			else
				buf_putc(out, l.data[i]);
		}
		buf_printf(out, "|%s%s%s\n", end_name(l.end),
		    l.too_long ? "|long" : "", l.has_nul ? "|nul" : "");
		if (l.data[l.len] != '\0')
			buf_puts(out, "(unterminated)\n");
	}
	return r;
}

static const char lines_in[] =
    "hello\r\n"
    "bare lf\n"
    "bare cr\r"
    "next\r\n"
    "a\0b\r\n"
    "0123456789ABCDEF\r\n"
    "after\r\n"
    "x\r\r\n"
    "end\r";
static const char lines_want[] =
    "hello|CRLF\n"
    "bare lf|LF\n"
    "bare cr|CR\n"
    "next|CRLF\n"
    "a\\0b|CRLF|nul\n"
    "0123456789|CRLF|long\n"
    "after|CRLF\n"
    "x|CR\n"
    "|CRLF\n"
    "end|CR\n";
#define LINES_MAX 10

/* plain_run - feed lines_in (pieces of chunk, or cut) and read it back. */
static int
plain_run(const char *data, size_t len, size_t chunk, size_t cut, size_t max,
    struct buf *out)
{
	int sv[2], r;
	pthread_t t;
	struct feed f;
	struct conn *c;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return -99;
	f.fd = sv[1];
	f.data = data;
	f.len = len;
	f.chunk = chunk;
	f.cut = cut;
	c = conn_new(sv[0], 5000, -1);
	pthread_create(&t, NULL, feeder, &f);
	r = read_lines(c, max, out);
	pthread_join(t, NULL);
	conn_free(&c);
	close(sv[1]);
	return r;
}

static void
test_plain_lines(void)
{
	struct buf out = BUF_INIT(0);
	size_t len = sizeof(lines_in) - 1, cut;
	int r;
	bool all = true;

	r = plain_run(lines_in, len, 0, 0, LINES_MAX, &out);
	CHECK(r == CONN_EOF, "plain: whole input ends with CONN_EOF (got %d)", r);
	CHECK_STR(buf_cstr(&out), lines_want, "plain: whole input, every line end apart");

	r = plain_run(lines_in, len, 1, 0, LINES_MAX, &out);
	CHECK(r == CONN_EOF && strcmp(buf_cstr(&out), lines_want) == 0,
	    "plain: one byte at a time");
	if (strcmp(buf_cstr(&out), lines_want) != 0)
		printf("# got:\n%s", buf_cstr(&out));

	for (cut = 1; cut < len; cut++) {
		r = plain_run(lines_in, len, 0, cut, LINES_MAX, &out);
		if (r != CONN_EOF || strcmp(buf_cstr(&out), lines_want) != 0) {
			printf("# split at %zu:\n%s", cut, buf_cstr(&out));
			all = false;
			break;
		}
	}
	CHECK(all, "plain: split at every one of the %zu points", len - 1);

	/* A last line without its end, then EOF. */
	r = plain_run("one\r\nlast", 9, 0, 0, 100, &out);
	CHECK(r == CONN_EOF, "plain: EOF after a partial last line");
	CHECK_STR(buf_cstr(&out), "one|CRLF\nlast|NONE\n", "plain: partial last line is LINE_NONE");

	/* CRLF split across two reads, CR as the last byte of the first. */
	r = plain_run("abc\r\ndef\r\n", 10, 0, 4, 100, &out);
	CHECK_STR(buf_cstr(&out), "abc|CRLF\ndef|CRLF\n", "plain: CRLF split across two reads");
	/* Bare CR as the last byte of a read, next read starts a new line. */
	r = plain_run("abc\rdef\r\n", 9, 0, 4, 100, &out);
	CHECK_STR(buf_cstr(&out), "abc|CR\ndef|CRLF\n", "plain: bare CR at the end of a read");
	/* NUL at the start, the middle and the end. */
	r = plain_run("\0x\0\r\n", 5, 1, 0, 100, &out);
	CHECK_STR(buf_cstr(&out), "\\0x\\0|CRLF|nul\n", "plain: NUL bytes reported, line kept");
	/* An empty stream. */
	r = plain_run("", 0, 0, 0, 100, &out);
	CHECK(r == CONN_EOF && out.len == 0, "plain: empty stream is CONN_EOF at once");
	buf_free(&out);
}

/* test_long_line - 1 MiB line, max 100: bounded memory, next line fine. */
static void
test_long_line(void)
{
	struct buf out = BUF_INIT(0);
	size_t n = 1024 * 1024, i;
	char *big = malloc(n + 32);
	struct mallinfo2 before, during;
	int sv[2];
	pthread_t t;
	struct feed f;
	struct conn *c;
	struct line l;
	int r;

	for (i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	memcpy(big + n, "\r\nnext line\r\n", 13);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	f.fd = sv[1];
	f.data = big;
	f.len = n + 13;
	f.chunk = 0;
	f.cut = 0;
	c = conn_new(sv[0], 5000, -1);
	before = mallinfo2();
	pthread_create(&t, NULL, feeder, &f);
	r = conn_getline(c, &l, 100);
	during = mallinfo2();
	CHECK(r == CONN_OK && l.too_long && l.len == 100 && l.end == LINE_CRLF &&
	    memcmp(l.data, big, 100) == 0,
	    "long line: cut at max, too_long, CRLF end seen");
	CHECK(during.uordblks < before.uordblks + 64 * 1024,
	    "long line: memory grew by %zd bytes for a 1 MiB line (bound 64 KiB)",
	    (ssize_t)(during.uordblks - before.uordblks));
	r = conn_getline(c, &l, 100);
	CHECK(r == CONN_OK && l.len == 9 && memcmp(l.data, "next line", 9) == 0 &&
	    !l.too_long && l.end == LINE_CRLF, "long line: the next line reads fine");
	r = conn_getline(c, &l, 100);
	CHECK(r == CONN_EOF, "long line: then EOF");
	pthread_join(t, NULL);
	conn_free(&c);
	close(sv[1]);
	free(big);
	buf_free(&out);
}

/* ------------------------------------------------------------------ */
/* TLS client in a thread, through memory BIOs so that the raw record
 * bytes can be cut anywhere. */

struct tclient {
	int		 fd;
	const char	*sni;
	const char	*pre;		/* plaintext before the handshake */
	size_t		 prelen;
	bool		 wait_line;	/* read one plaintext line before TLS */
	const char	*data;
	size_t		 len;
	size_t		 rec;		/* bytes per SSL_write, 0: all */
	size_t		 raw;		/* bytes per socket write, 0: all */
	int		 max_version;	/* 0: default */
	bool		 handshake_ok;
	char		 cn[128];
};

static int
pump_out(int fd, BIO *wb, size_t raw)
{
	char buf[16384];
	int n;

	while (BIO_pending(wb) > 0) {
		n = BIO_read(wb, buf, raw > 0 && raw < sizeof(buf) ? (int)raw : (int)sizeof(buf));
		if (n <= 0)
			break;
		if (write_all(fd, buf, (size_t)n) == -1)
			return -1;
		if (raw > 0)
			wait_drained(fd);
	}
	return 0;
}

static void *
tls_client(void *arg)
{
	struct tclient *tc = arg;
	SSL *ssl;
	BIO *rb, *wb;
	char buf[16384];
	size_t off;
	int i, r;

	if (tc->pre != NULL) {
		(void)write_all(tc->fd, tc->pre, tc->prelen);
		wait_drained(tc->fd);
	}
	if (tc->wait_line) {
		struct pollfd p = { tc->fd, POLLIN, 0 };
		char ch;

		while (poll(&p, 1, 5000) == 1 && read(tc->fd, &ch, 1) == 1 && ch != '\n')
			;
	}
	ssl = SSL_new(client_ctx);
	rb = BIO_new(BIO_s_mem());
	wb = BIO_new(BIO_s_mem());
	SSL_set_bio(ssl, rb, wb);
	SSL_set_connect_state(ssl);
	if (tc->max_version != 0)
		SSL_set_max_proto_version(ssl, tc->max_version);
	if (tc->sni != NULL)
		SSL_set_tlsext_host_name(ssl, tc->sni);
	for (i = 0; i < 1000; i++) {
		struct pollfd p = { tc->fd, POLLIN, 0 };
		ssize_t n;

		r = SSL_do_handshake(ssl);
		if (pump_out(tc->fd, wb, 0) == -1)
			goto out;
		if (r == 1)
			break;
		if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ)
			goto out;
		if (poll(&p, 1, 5000) != 1)
			goto out;
		n = read(tc->fd, buf, sizeof(buf));
		if (n <= 0)
			goto out;
		BIO_write(rb, buf, (int)n);
	}
	if (r != 1)
		goto out;
	tc->handshake_ok = true;
	testcert_peer_cn(ssl, tc->cn, sizeof(tc->cn));
	for (off = 0; off < tc->len; ) {
		size_t n = tc->rec == 0 || tc->len - off < tc->rec ? tc->len - off : tc->rec;

		SSL_write(ssl, tc->data + off, (int)n);
		off += n;
	}
	SSL_shutdown(ssl);
	(void)pump_out(tc->fd, wb, tc->raw);
out:
	shutdown(tc->fd, SHUT_WR);
	SSL_free(ssl);
	ERR_clear_error();
	return NULL;
}

/* tls_run - lines over TLS: a client thread sends, we read lines. */
static int
tls_run(size_t rec, size_t raw, struct buf *out)
{
	struct tclient tc;
	struct conn *c;
	pthread_t t;
	size_t disc = 99;
	int sv[2], r;

	memset(&tc, 0, sizeof(tc));
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	tc.fd = sv[1];
	tc.data = lines_in;
	tc.len = sizeof(lines_in) - 1;
	tc.rec = rec;
	tc.raw = raw;
	c = conn_new(sv[0], 5000, -1);
	pthread_create(&t, NULL, tls_client, &tc);
	r = conn_starttls_server(c, server_tls, &disc);
	if (r == 0 && disc == 0)
		r = read_lines(c, LINES_MAX, out);
	else
		r = -100;
	pthread_join(t, NULL);
	conn_free(&c);
	close(sv[1]);
	return r;
}

static void
test_tls_lines(void)
{
	struct buf out = BUF_INIT(0);
	static const struct { size_t rec, raw; const char *what; } runs[] = {
		{ 0, 0, "TLS: whole input in one record" },
		{ 1, 0, "TLS: one record per byte" },
		{ 0, 1, "TLS: one record, socket fed one byte at a time" },
		{ 3, 7, "TLS: 3-byte records cut into 7-byte socket writes" },
		{ 1, 1, "TLS: one-byte records fed one byte at a time" },
	};
	size_t i;
	int r;

	for (i = 0; i < GMS_NELEM(runs); i++) {
		r = tls_run(runs[i].rec, runs[i].raw, &out);
		CHECK(r == CONN_EOF && strcmp(buf_cstr(&out), lines_want) == 0,
		    "%s", runs[i].what);
		if (strcmp(buf_cstr(&out), lines_want) != 0)
			printf("# status %d, got:\n%s", r, buf_cstr(&out));
	}
	buf_free(&out);
}

/* test_starttls_discard - plaintext pipelined after STARTTLS is dropped. */
static void
test_starttls_discard(void)
{
	static const char pre[] = "STARTTLS\r\nMAIL FROM:<evil>\r\n";
	struct tclient tc;
	struct conn *c;
	struct line l;
	pthread_t t;
	size_t disc = 0;
	int sv[2], r;

	memset(&tc, 0, sizeof(tc));
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	tc.fd = sv[1];
	tc.pre = pre;
	tc.prelen = sizeof(pre) - 1;
	tc.wait_line = true;
	tc.data = "NOOP\r\n";
	tc.len = 6;
	c = conn_new(sv[0], 5000, -1);
	pthread_create(&t, NULL, tls_client, &tc);
	r = conn_getline(c, &l, 100);
	CHECK(r == CONN_OK && strcmp(l.data, "STARTTLS") == 0, "starttls: command read");
	CHECK(conn_pending(c), "starttls: pipelined bytes are pending");
	conn_printf(c, "220 go\r\n");
	r = conn_starttls_server(c, server_tls, &disc);
	CHECK(r == 0, "starttls: handshake after the 220 reply");
	CHECK(disc == 18, "starttls: the 18 pipelined plaintext bytes were thrown away (%zu)", disc);
	CHECK(conn_is_tls(c) && strncmp(conn_tls_info(c), "TLSv1.3 ", 8) == 0,
	    "starttls: TLS 1.3 in force (%s)", conn_tls_info(c));
	r = conn_getline(c, &l, 100);
	CHECK(r == CONN_OK && strcmp(l.data, "NOOP") == 0,
	    "starttls: the first line read is the one sent under TLS");
	r = conn_getline(c, &l, 100);
	CHECK(r == CONN_EOF, "starttls: close_notify gives CONN_EOF");
	pthread_join(t, NULL);
	conn_free(&c);
	close(sv[1]);
}

/* tls_handshake_only - handshake with sni/max version; returns the CN. */
static int
tls_handshake_only(struct tls_ctx *srv, const char *sni, int maxv, char *cn,
    size_t cnlen, char *sni_seen, size_t sni_len)
{
	struct tclient tc;
	struct conn *c;
	pthread_t t;
	int sv[2], r;

	memset(&tc, 0, sizeof(tc));
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	tc.fd = sv[1];
	tc.sni = sni;
	tc.max_version = maxv;
	c = conn_new(sv[0], 3000, -1);
	pthread_create(&t, NULL, tls_client, &tc);
	r = conn_starttls_server(c, srv, NULL);
	if (sni_seen != NULL)
		gms_strlcpy(sni_seen, conn_tls_sni(c) != NULL ? conn_tls_sni(c) : "",
		    sni_len);
	pthread_join(t, NULL);
	conn_free(&c);
	close(sv[1]);
	gms_strlcpy(cn, tc.cn, cnlen);
	return r == 0 && tc.handshake_ok ? 0 : -1;
}

static void
test_sni(void)
{
	char sni_dir[600], def_crt[600], def_key[600], err[512], cn[128], seen[256];
	struct tls_ctx *t;
	int r;

	snprintf(sni_dir, sizeof(sni_dir), "%s/sni", tmpdir);
	mkdir(sni_dir, 0700);
	testcert_make(sni_dir, "example.org", "example.org");
	testcert_make(sni_dir, "Other.Test", "other.test");
	testcert_make(tmpdir, "default", "default.invalid");
	snprintf(def_crt, sizeof(def_crt), "%s/default.crt", tmpdir);
	snprintf(def_key, sizeof(def_key), "%s/default.key", tmpdir);
	t = tls_server_new(def_crt, def_key, sni_dir, err, sizeof(err));
	CHECK(t != NULL, "sni: context with a sni_dir loads (%s)", t ? "ok" : err);
	if (t == NULL)
		return;
	r = tls_handshake_only(t, "example.org", 0, cn, sizeof(cn), seen, sizeof(seen));
	CHECK(r == 0 && strcmp(cn, "example.org") == 0, "sni: example.org gets its certificate (%s)", cn);
	CHECK_STR(seen, "example.org", "sni: conn_tls_sni reports the name");
	r = tls_handshake_only(t, "mail.EXAMPLE.org", 0, cn, sizeof(cn), NULL, 0);
	CHECK(r == 0 && strcmp(cn, "example.org") == 0, "sni: mail.EXAMPLE.org falls to example.org (%s)", cn);
	r = tls_handshake_only(t, "other.test", 0, cn, sizeof(cn), NULL, 0);
	CHECK(r == 0 && strcmp(cn, "other.test") == 0, "sni: file names are case-folded (%s)", cn);
	r = tls_handshake_only(t, "unknown.test", 0, cn, sizeof(cn), NULL, 0);
	CHECK(r == 0 && strcmp(cn, "default.invalid") == 0, "sni: unknown name gets the default (%s)", cn);
	r = tls_handshake_only(t, NULL, 0, cn, sizeof(cn), NULL, 0);
	CHECK(r == 0 && strcmp(cn, "default.invalid") == 0, "sni: no SNI gets the default (%s)", cn);
	r = tls_handshake_only(t, NULL, TLS1_2_VERSION, cn, sizeof(cn), NULL, 0);
	CHECK(r == 0, "tls: a TLS 1.2 client is served");
	r = tls_handshake_only(t, NULL, TLS1_1_VERSION, cn, sizeof(cn), NULL, 0);
	CHECK(r == -1, "tls: a TLS 1.1 client is refused");
	tls_unref(&t);
	CHECK(t == NULL, "tls: tls_unref clears the pointer");

	t = tls_server_new(def_crt, sni_dir, "", err, sizeof(err));
	CHECK(t == NULL && strstr(err, "key") != NULL, "tls: a bad key path is an error (%s)", err);
	t = tls_server_new("/nonexistent.crt", def_key, "", err, sizeof(err));
	CHECK(t == NULL && strstr(err, "/nonexistent.crt") != NULL, "tls: a missing certificate is named (%s)", err);
}

/* ------------------------------------------------------------------ */
/* Deadlines, stop, wake, exact reads, writes. */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_waits(void)
{
	int sv[2], stop[2], wake[2], r;
	struct conn *c;
	struct line l;
	int64_t t0, dt;
	char b = 'x';

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	CHECK(pipe(stop) == 0 && pipe(wake) == 0, "pipes for stop and wake");
	c = conn_new(sv[0], 200, stop[0]);
	t0 = now_ms();
	r = conn_getline(c, &l, 100);
	dt = now_ms() - t0;
	CHECK(r == CONN_TIMEOUT, "deadline: a silent peer gives CONN_TIMEOUT (%d)", r);
	CHECK(dt >= 190 && dt < 2000, "deadline: after about 200 ms (%lld)", (long long)dt);

	/* A slow drip does not extend a line's deadline. */
	CHECK(write(sv[1], "ab", 2) == 2, "slow drip: two bytes sent");
	t0 = now_ms();
	r = conn_getline(c, &l, 100);
	CHECK(r == CONN_TIMEOUT, "deadline: an unfinished line times out too");

	conn_set_wake_fd(c, wake[0]);
	CHECK(write(wake[1], &b, 1) == 1, "wake fd made readable");
	r = conn_getline(c, &l, 100);
	CHECK(r == CONN_WAKE, "wake fd: a wait ends with CONN_WAKE (%d)", r);
	conn_set_wake_fd(c, -1);

	conn_set_timeout(c, 5000);
	CHECK(write(stop[1], &b, 1) == 1, "stop fd made readable");
	t0 = now_ms();
	r = conn_getline(c, &l, 100);
	CHECK(r == CONN_STOP && now_ms() - t0 < 1000, "stop fd: a wait ends with CONN_STOP at once (%d)", r);
	/* Writes still work while stopping: the goodbye goes out. */
	r = conn_printf(c, "421 bye\r\n");
	r = r == 0 ? conn_flush(c) : r;
	{
		char got[16] = "";
		ssize_t n = read(sv[1], got, sizeof(got) - 1);

		CHECK(r == 0 && n == 9 && memcmp(got, "421 bye\r\n", 9) == 0,
		    "stop fd: the goodbye is written after CONN_STOP");
	}
	conn_free(&c);
	close(sv[1]);
	close(stop[0]);
	close(stop[1]);
	close(wake[0]);
	close(wake[1]);
}

static void
test_read_exact(void)
{
	size_t n = 100000, i;
	char *lit = malloc(n + 32), *dst = malloc(n);
	int sv[2], r;
	pthread_t t;
	struct feed f;
	struct conn *c;
	struct line l;
	char small[5];
	ssize_t got;
	int status;

	memcpy(lit, "A1 {100000}\r\n", 13);
	for (i = 0; i < n; i++)
		lit[13 + i] = (char)(i * 7);
	memcpy(lit + 13 + n, ")\r\nxyz", 6);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	f.fd = sv[1];
	f.data = lit;
	f.len = 13 + n + 6;
	f.chunk = 4999;
	f.cut = 0;
	c = conn_new(sv[0], 5000, -1);
	pthread_create(&t, NULL, feeder, &f);
	r = conn_getline(c, &l, 100);
	CHECK(r == CONN_OK && strcmp(l.data, "A1 {100000}") == 0, "read_exact: command line");
	r = conn_read_exact(c, dst, n);
	CHECK(r == CONN_OK && memcmp(dst, lit + 13, n) == 0,
	    "read_exact: 100000 literal bytes across 4999-byte pieces, binary intact");
	r = conn_getline(c, &l, 100);
	CHECK(r == CONN_OK && strcmp(l.data, ")") == 0, "read_exact: the line after the literal");
	got = conn_read_some(c, small, sizeof(small), &status);
	CHECK(got == 3 && status == CONN_OK && memcmp(small, "xyz", 3) == 0, "read_some: what is there");
	got = conn_read_some(c, small, sizeof(small), &status);
	CHECK(got == 0 && status == CONN_EOF, "read_some: EOF");
	r = conn_read_exact(c, small, 1);
	CHECK(r == CONN_EOF, "read_exact: EOF before the count is CONN_EOF");
	pthread_join(t, NULL);
	conn_free(&c);
	close(sv[1]);
	free(lit);
	free(dst);
}

struct sink {
	int	fd;
	size_t	got;
	unsigned long sum;
};

static void *
sink_reader(void *arg)
{
	struct sink *s = arg;
	unsigned char buf[8192];
	ssize_t n, i;

	while ((n = read(s->fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++)
			s->sum = s->sum * 31 + buf[i];
		s->got += (size_t)n;
	}
	return NULL;
}

static void
test_writes(void)
{
	int sv[2], r;
	struct conn *c;
	struct sink s = { 0, 0, 0 };
	pthread_t t;
	size_t n = 3 * 1024 * 1024 + 17, i;
	unsigned char *big = malloc(n);
	unsigned long want = 0;
	int64_t t0;

	for (i = 0; i < n; i++) {
		big[i] = (unsigned char)(i * 13 + 5);
		want = want * 31 + big[i];
	}
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	s.fd = sv[1];
	c = conn_new(sv[0], 5000, -1);
	pthread_create(&t, NULL, sink_reader, &s);
	r = conn_write(c, big, n);
	r = r == 0 ? conn_flush(c) : r;
	conn_free(&c);
	pthread_join(t, NULL);
	CHECK(r == 0 && s.got == n && s.sum == want, "write: 3 MiB arrive whole and in order");
	close(sv[1]);

	/* A peer that never reads: the write deadline ends it. */
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	c = conn_new(sv[0], 200, -1);
	t0 = now_ms();
	r = conn_write(c, big, n);
	r = r == 0 ? conn_flush(c) : r;
	CHECK(r == CONN_TIMEOUT && now_ms() - t0 < 5000, "write: a peer that does not read gives CONN_TIMEOUT (%d)", r);
	r = conn_printf(c, "more");
	CHECK(r == CONN_TIMEOUT, "write: the error sticks");
	conn_free(&c);
	close(sv[1]);
	free(big);
}

/* test_flush_before_wait - queued replies go out before a read waits. */
static void
test_flush_before_wait(void)
{
	int sv[2], r;
	struct conn *c;
	struct line l;
	char got[16] = "";
	ssize_t n;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	c = conn_new(sv[0], 300, -1);
	conn_printf(c, "250 ok\r\n");
	r = conn_getline(c, &l, 100);	/* times out: nobody writes */
	n = read(sv[1], got, sizeof(got) - 1);
	CHECK(r == CONN_TIMEOUT && n == 8 && memcmp(got, "250 ok\r\n", 8) == 0,
	    "pending output is flushed before waiting for input");
	conn_free(&c);
	n = read(sv[1], got, sizeof(got));
	CHECK(n == 0, "conn_free closes the socket");
	close(sv[1]);
}

/* ------------------------------------------------------------------ */
/* The client side (relay): conn_starttls_client against our server. */

struct tserver {
	int	fd;
	int	status;
	char	line[64];
};

static void *
tls_server_thread(void *arg)
{
	struct tserver *ts = arg;
	struct conn *c = conn_new(ts->fd, 5000, -1);
	struct line l;

	ts->status = conn_starttls_server(c, server_tls, NULL);
	if (ts->status == 0) {
		ts->status = conn_getline(c, &l, sizeof(ts->line) - 1);
		if (ts->status == CONN_OK)
			gms_strlcpy(ts->line, l.data, sizeof(ts->line));
		conn_printf(c, "250 ok\r\n");
	}
	conn_free(&c);
	return NULL;
}

/* client_run - one client handshake; returns the verify result or -1. */
static long
client_run(struct tls_ctx *ct, const char *name, char *reply, size_t rlen)
{
	struct tserver ts;
	struct conn *c;
	struct line l;
	pthread_t t;
	int sv[2], r;
	long vr = -1;

	memset(&ts, 0, sizeof(ts));
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	ts.fd = sv[1];
	pthread_create(&t, NULL, tls_server_thread, &ts);
	c = conn_new(sv[0], 5000, -1);
	reply[0] = '\0';
	r = conn_starttls_client(c, ct, name);
	if (r == 0) {
		vr = SSL_get_verify_result(conn_ssl(c));
		conn_printf(c, "EHLO relay\r\n");
		if (conn_getline(c, &l, 100) == CONN_OK)
			gms_strlcpy(reply, l.data, rlen);
	}
	conn_free(&c);
	pthread_join(t, NULL);
	return vr;
}

static void
test_tls_client(void)
{
	char ca[600], err[512], reply[64];
	struct tls_ctx *ct;
	long vr;

	ct = tls_client_new("", err, sizeof(err));
	CHECK(ct != NULL, "client: context with the system store (%s)", ct ? "ok" : err);
	if (ct != NULL) {
		vr = client_run(ct, "localhost", reply, sizeof(reply));
		CHECK(vr != -1 && vr != X509_V_OK, "client: an unknown self-signed peer completes but does not verify (%ld)", vr);
		CHECK_STR(reply, "250 ok", "client: lines both ways under TLS");
		tls_unref(&ct);
	}
	snprintf(ca, sizeof(ca), "%s/server.crt", tmpdir);
	ct = tls_client_new(ca, err, sizeof(err));
	CHECK(ct != NULL, "client: context with a CA file (%s)", ct ? "ok" : err);
	if (ct != NULL) {
		vr = client_run(ct, "localhost", reply, sizeof(reply));
		CHECK(vr == X509_V_OK, "client: the trusted peer verifies for its name (%ld)", vr);
		vr = client_run(ct, "mx.other.example", reply, sizeof(reply));
		CHECK(vr == X509_V_ERR_HOSTNAME_MISMATCH, "client: a wrong name does not verify (%ld)", vr);
		tls_unref(&ct);
	}
	ct = tls_client_new("/nonexistent-ca.pem", err, sizeof(err));
	CHECK(ct == NULL, "client: a missing CA file is an error (%s)", err);
}

int
main(void)
{
	char crt[600], key[600], err[512];

	signal(SIGPIPE, SIG_IGN);
	log_init("test-conn", true);
	log_set_level(LOG_LVL_WARN);
	tmpdir = testcert_tmpdir();
	CHECK(tmpdir != NULL && testcert_make(tmpdir, "server", "localhost") == 0,
	    "test certificate made");
	snprintf(crt, sizeof(crt), "%s/server.crt", tmpdir);
	snprintf(key, sizeof(key), "%s/server.key", tmpdir);
	server_tls = tls_server_new(crt, key, "", err, sizeof(err));
	CHECK(server_tls != NULL, "server TLS context (%s)", server_tls ? "ok" : err);
	client_ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);

	test_plain_lines();
	test_long_line();
	test_waits();
	test_read_exact();
	test_writes();
	test_flush_before_wait();
	if (server_tls != NULL) {
		test_tls_lines();
		test_starttls_discard();
		test_sni();
		test_tls_client();
	}
	tls_unref(&server_tls);
	SSL_CTX_free(client_ctx);
	testcert_rmdir(tmpdir);
	return unit_done();
}
