/*
 * test-conn-deflate.c - the deflate layer of lib/conn.c (IMAP COMPRESS,
 * RFC 4978) over a socketpair, with plain zlib on the peer's side:
 * output queued before conn_start_deflate() leaves uncompressed and
 * compressed input the peer pipelined before it is inflated; round trips
 * of lines, a 1 MiB write and a 1 MiB exact read; the compressed stream
 * split at every byte boundary (both across the start and fed one byte
 * per read); a peer flushing with Z_PARTIAL_FLUSH; a decompression bomb
 * against the line bound (resident memory must not follow it); a corrupt
 * stream and the end of the peer's stream; the wake fd (IDLE) with
 * compression on; STARTTLS refused over compression; and the zlib memory
 * a compressed connection costs (printed as a TAP comment).
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include <zlib.h>

#include "gms.h"
#include "unit.h"
#include "testcert.h"

static char *tmpdir;
static struct tls_ctx *server_tls;

/* ------------------------------------------------------------------ */
/* The peer: plain zlib on a raw fd. */

struct peer {
	z_stream	 def;	/* peer to conn */
	z_stream	 inf;	/* conn to peer */
};

static void
peer_init(struct peer *p)
{
	memset(p, 0, sizeof(*p));
	if (deflateInit2(&p->def, 6, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK || inflateInit2(&p->inf, -15) != Z_OK)
		abort();
}

static void
peer_free(struct peer *p)
{
	deflateEnd(&p->def);
	inflateEnd(&p->inf);
}

/* peer_compress - deflate len bytes with flush into out (grown). */
static void
peer_compress(struct peer *p, const void *data, size_t len, int flush,
    struct buf *out)
{
	unsigned char tmp[16384];

	p->def.next_in = (unsigned char *)data;
	p->def.avail_in = (uInt)len;
	do {
		p->def.next_out = tmp;
		p->def.avail_out = sizeof(tmp);
		(void)deflate(&p->def, flush);
		if (buf_append(out, tmp, sizeof(tmp) - p->def.avail_out) == -1)
			abort();
	} while (p->def.avail_out == 0 || p->def.avail_in > 0);
}

static int
write_all(int fd, const void *d, size_t n)
{
	const char *s = d;

	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* wait_drained - until the conn has read everything we wrote (bounded). */
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

/* read_raw - up to cap bytes the conn wrote, waiting at most ms for the
 * first and 10 ms for more. */
static size_t
read_raw(int fd, char *dst, size_t cap, int ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t got = 0;

	while (got < cap && poll(&pfd, 1, got == 0 ? ms : 10) == 1) {
		ssize_t n = read(fd, dst + got, cap - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

/* peer_inflate - inflate n bytes into out; returns zlib's status. */
static int
peer_inflate(struct peer *p, const void *in, size_t n, struct buf *out)
{
	unsigned char tmp[16384];
	int r = Z_OK;

	p->inf.next_in = (unsigned char *)in;
	p->inf.avail_in = (uInt)n;
	do {
		p->inf.next_out = tmp;
		p->inf.avail_out = sizeof(tmp);
		r = inflate(&p->inf, Z_SYNC_FLUSH);
		if (r != Z_OK && r != Z_BUF_ERROR && r != Z_STREAM_END)
			return r;
		if (buf_append(out, tmp, sizeof(tmp) - p->inf.avail_out) == -1)
			abort();
	} while (p->inf.avail_out == 0);
	return r == Z_BUF_ERROR ? Z_OK : r;
}

/* line_is - read a line from c and compare. */
static bool
line_is(struct conn *c, const char *want, size_t max)
{
	struct line l;
	int r = conn_getline(c, &l, max);

	if (r != CONN_OK || strcmp(l.data, want) != 0) {
		printf("#   got r=%d \"%.60s\", want \"%s\"\n", r,
		    r == CONN_OK ? l.data : "", want);
		return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */

/* The switch: plain OK out, pipelined compressed command in, replies. */
static void
test_start_and_lines(void)
{
	struct peer p;
	struct buf w = BUF_INIT(0), got = BUF_INIT(0);
	struct conn *c;
	char raw[4096];
	size_t n;
	int sv[2];

	peer_init(&p);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	c = conn_new(sv[0], 5000, -1);
	CHECK(!conn_is_deflate(c) && conn_deflate_mem(c) == 0,
	    "not compressed at first");
	/* The client pipelines compressed commands right after COMPRESS. */
	(void)buf_puts(&w, "a COMPRESS DEFLATE\r\n");
	peer_compress(&p, "b NOOP\r\nc LOGOUT\r\n", 18, Z_SYNC_FLUSH, &w);
	write_all(sv[1], w.data, w.len);
	CHECK(line_is(c, "a COMPRESS DEFLATE", 1000), "COMPRESS line read plain");
	CHECK(conn_pending(c), "compressed bytes held in the buffer");
	conn_printf(c, "a OK DEFLATE active\r\n");
	CHECK(conn_start_deflate(c, 6) == 0, "deflate started");
	CHECK(conn_is_deflate(c), "conn_is_deflate once started");
	CHECK(conn_start_deflate(c, 6) == CONN_ERR, "a second start fails");
	n = read_raw(sv[1], raw, sizeof(raw), 2000);
	CHECK(n == 21 && memcmp(raw, "a OK DEFLATE active\r\n", 21) == 0,
	    "tagged OK went out uncompressed (%zu bytes)", n);
	CHECK(conn_pending(c), "held input still pending after the start");
	CHECK(line_is(c, "b NOOP", 1000), "held compressed input inflated");
	CHECK(line_is(c, "c LOGOUT", 1000), "second pipelined line");
	conn_printf(c, "* BYE bye\r\n");
	conn_printf(c, "c OK done\r\n");
	CHECK(conn_flush(c) == 0, "flush compressed");
	n = read_raw(sv[1], raw, sizeof(raw), 2000);
	CHECK(n > 0 && n < 30, "reply compressed on the wire (%zu bytes)", n);
	CHECK(peer_inflate(&p, raw, n, &got) == Z_OK &&
	    got.len == 22 && memcmp(got.data, "* BYE bye\r\nc OK done\r\n", 22) == 0,
	    "sync flush: the peer decodes the complete replies");
	/* A flush with nothing queued sends nothing. */
	CHECK(conn_flush(c) == 0 && read_raw(sv[1], raw, sizeof(raw), 50) == 0,
	    "empty flush sends no bytes");
	conn_free(&c);
	close(sv[1]);
	peer_free(&p);
	buf_free(&w);
	buf_free(&got);
}

/* A 1 MiB write read by a thread, a 1 MiB exact read sent by a thread. */
struct bulk {
	int		 fd;
	struct peer	*p;
	const char	*data;
	size_t		 len;
	struct buf	 got;
	int		 status;
};

static void *
bulk_reader(void *arg)
{
	struct bulk *b = arg;
	char raw[8192];
	size_t n;

	while (b->got.len < b->len &&
	    (n = read_raw(b->fd, raw, sizeof(raw), 5000)) > 0) {
		if ((b->status = peer_inflate(b->p, raw, n, &b->got)) != Z_OK)
			break;
	}
	return NULL;
}

static void *
bulk_writer(void *arg)
{
	struct bulk *b = arg;
	struct buf w = BUF_INIT(0);
	size_t off;

	/* In pieces with partial flushes, as some clients do. */
	for (off = 0; off < b->len; off += 65536) {
		size_t k = b->len - off < 65536 ? b->len - off : 65536;

		buf_reset(&w);
		peer_compress(b->p, b->data + off, k, Z_PARTIAL_FLUSH, &w);
		if (write_all(b->fd, w.data, w.len) == -1)
			break;
	}
	buf_free(&w);
	return NULL;
}

static void
test_bulk(void)
{
	struct peer p;
	struct bulk b;
	struct conn *c;
	pthread_t t;
	size_t len = 1 << 20, i;
	char *data = xmalloc(len), *back = xmalloc(len);
	unsigned int x = 12345;
	int sv[2];

	/* Text-like data that compresses somewhat, not trivially. */
	for (i = 0; i < len; i++) {
		x = x * 1103515245 + 12345;
		data[i] = (i % 77 == 76) ? '\n' : (char)('a' + (x >> 16) % 20);
	}
	peer_init(&p);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	c = conn_new(sv[0], 5000, -1);
	CHECK(conn_start_deflate(c, 6) == 0, "bulk: deflate started");
	memset(&b, 0, sizeof(b));
	b.fd = sv[1];
	b.p = &p;
	b.data = data;
	b.len = len;
	buf_init(&b.got, 0);
	pthread_create(&t, NULL, bulk_reader, &b);
	CHECK(conn_write(c, data, len) == 0 && conn_flush(c) == 0,
	    "bulk: 1 MiB written through deflate");
	pthread_join(t, NULL);
	CHECK(b.status == Z_OK && b.got.len == len &&
	    memcmp(b.got.data, data, len) == 0,
	    "bulk: peer inflated the same 1 MiB (%zu bytes)", b.got.len);
	buf_free(&b.got);

	b.got.len = 0;
	pthread_create(&t, NULL, bulk_writer, &b);
	CHECK(conn_read_exact(c, back, len) == CONN_OK &&
	    memcmp(back, data, len) == 0,
	    "bulk: 1 MiB read exactly through inflate (partial flushes)");
	pthread_join(t, NULL);
	conn_free(&c);
	close(sv[1]);
	peer_free(&p);
	free(data);
	free(back);
}

/* The compressed stream cut at every byte: once across the start (the
 * first k bytes held in the buffer), once fed one byte per read. */
struct feeder {
	int		 fd;
	const char	*data;
	size_t		 len;
	int		 done;	/* set by the reader: stop waiting */
};

static void *
feed_bytes(void *arg)
{
	struct feeder *f = arg;
	size_t i;

	for (i = 0; i < f->len; i++) {
		if (write_all(f->fd, f->data + i, 1) == -1)
			break;
		if (!__atomic_load_n(&f->done, __ATOMIC_ACQUIRE))
			wait_drained(f->fd);
	}
	return NULL;
}

static void
test_splits(void)
{
	static const char cmds[] = "x LOGIN a b\r\ny NOOP\r\nz IDLE\r\n";
	struct peer p;
	struct buf z = BUF_INIT(0), w = BUF_INIT(0);
	struct feeder f;
	struct conn *c;
	pthread_t t;
	size_t k, bad = 0;
	int sv[2];
	bool ok;

	peer_init(&p);
	peer_compress(&p, cmds, sizeof(cmds) - 1, Z_SYNC_FLUSH, &z);
	peer_free(&p);
	for (k = 0; k <= z.len; k++) {
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		c = conn_new(sv[0], 3000, -1);
		buf_reset(&w);
		(void)buf_puts(&w, "s COMPRESS DEFLATE\r\n");
		(void)buf_append(&w, z.data, k);
		write_all(sv[1], w.data, w.len);
		ok = line_is(c, "s COMPRESS DEFLATE", 100) &&
		    conn_start_deflate(c, 1) == 0;
		write_all(sv[1], z.data + k, z.len - k);
		ok = ok && line_is(c, "x LOGIN a b", 100) &&
		    line_is(c, "y NOOP", 100) && line_is(c, "z IDLE", 100);
		if (!ok) {
			printf("#   split at %zu failed\n", k);
			bad++;
		}
		conn_free(&c);
		close(sv[1]);
	}
	CHECK(bad == 0, "stream cut at each of %zu points across the start",
	    z.len + 1);

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	c = conn_new(sv[0], 3000, -1);
	CHECK(conn_start_deflate(c, 6) == 0, "split: deflate started");
	f.fd = sv[1];
	f.data = z.data;
	f.len = z.len;
	f.done = 0;
	pthread_create(&t, NULL, feed_bytes, &f);
	CHECK(line_is(c, "x LOGIN a b", 100) && line_is(c, "y NOOP", 100) &&
	    line_is(c, "z IDLE", 100),
	    "stream fed one byte per read (%zu reads)", z.len);
	/* The sync flush marker after the last line is not waited for. */
	__atomic_store_n(&f.done, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	conn_free(&c);
	close(sv[1]);
	buf_free(&z);
	buf_free(&w);
}

/* A bomb: 256 MiB of one byte without a line end, about 250 KiB on the
 * wire; the reader keeps 1000 bytes of it and memory stays flat. */
struct bomb {
	int	fd;
	size_t	mib;
};

static void *
bomb_writer(void *arg)
{
	struct bomb *b = arg;
	struct peer p;
	struct buf w = BUF_INIT(0);
	char *mib = xmalloc(1 << 20);
	size_t i;

	memset(mib, 'A', 1 << 20);
	peer_init(&p);
	for (i = 0; i < b->mib; i++) {
		buf_reset(&w);
		peer_compress(&p, mib, 1 << 20, Z_NO_FLUSH, &w);
		if (write_all(b->fd, w.data, w.len) == -1)
			goto out;
	}
	buf_reset(&w);
	peer_compress(&p, "\r\nq NOOP\r\n", 10, Z_SYNC_FLUSH, &w);
	write_all(b->fd, w.data, w.len);
out:
	peer_free(&p);
	buf_free(&w);
	free(mib);
	return NULL;
}

static long
maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void
test_bomb(void)
{
	struct bomb b;
	struct conn *c;
	struct line l;
	pthread_t t;
	long before, after;
	int sv[2], r;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	c = conn_new(sv[0], 20000, -1);
	CHECK(conn_start_deflate(c, 6) == 0, "bomb: deflate started");
	b.fd = sv[1];
	b.mib = 256;
	before = maxrss_kib();
	pthread_create(&t, NULL, bomb_writer, &b);
	r = conn_getline(c, &l, 1000);
	CHECK(r == CONN_OK && l.too_long && l.len == 1000 &&
	    l.end == LINE_CRLF, "bomb: 256 MiB line cut at the bound "
	    "(r=%d len=%zu)", r, r == CONN_OK ? l.len : 0);
	CHECK(line_is(c, "q NOOP", 1000), "bomb: the next line intact");
	pthread_join(t, NULL);
	after = maxrss_kib();
	printf("# bomb: max RSS %ld KiB before, %ld KiB after\n", before, after);
	/* The writer thread holds 1 MiB and its zlib state. */
	CHECK(after - before < 8 * 1024, "bomb: resident memory grew by "
	    "%ld KiB (< 8 MiB)", after - before);
	conn_free(&c);
	close(sv[1]);
}

/* Garbage, then a cleanly ended stream. */
static void
test_corrupt_and_end(void)
{
	static const unsigned char junk[] = {
		0xff, 0xff, 0x00, 0x13, 0x37, 0xde, 0xad, 0xbe, 0xef, 0x0a
	};
	struct peer p;
	struct buf w = BUF_INIT(0);
	struct conn *c;
	struct line l;
	int sv[2], r;

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	c = conn_new(sv[0], 3000, -1);
	conn_start_deflate(c, 6);
	write_all(sv[1], junk, sizeof(junk));
	r = conn_getline(c, &l, 100);
	CHECK(r == CONN_ERR, "corrupt stream: CONN_ERR (r=%d)", r);
	r = conn_getline(c, &l, 100);
	CHECK(r == CONN_ERR, "corrupt stream: the error sticks (r=%d)", r);
	CHECK(conn_flush(c) == CONN_ERR, "corrupt stream: writes fail too");
	conn_free(&c);
	close(sv[1]);

	/* Valid data, then garbage inside the same read. */
	peer_init(&p);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	c = conn_new(sv[0], 3000, -1);
	conn_start_deflate(c, 6);
	peer_compress(&p, "ok line\r\n", 9, Z_SYNC_FLUSH, &w);
	(void)buf_append(&w, junk, sizeof(junk));
	write_all(sv[1], w.data, w.len);
	CHECK(line_is(c, "ok line", 100), "data before the garbage is read");
	r = conn_getline(c, &l, 100);
	CHECK(r == CONN_ERR, "then the garbage is an error (r=%d)", r);
	conn_free(&c);
	close(sv[1]);
	peer_free(&p);

	/* The peer ends its stream (Z_FINISH): the last line, then EOF. */
	peer_init(&p);
	buf_reset(&w);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	c = conn_new(sv[0], 3000, -1);
	conn_start_deflate(c, 6);
	peer_compress(&p, "z LOGOUT\r\n", 10, Z_FINISH, &w);
	(void)buf_puts(&w, "trailing plain bytes are not read\r\n");
	write_all(sv[1], w.data, w.len);
	CHECK(line_is(c, "z LOGOUT", 100), "last line before the stream end");
	r = conn_getline(c, &l, 100);
	CHECK(r == CONN_EOF, "end of the peer's stream is EOF (r=%d)", r);
	conn_free(&c);
	close(sv[1]);
	peer_free(&p);
	buf_free(&w);
}

/* IDLE: the wake fd ends a wait on a compressed connection; the stream
 * goes on afterwards, and STARTTLS over compression is refused. */
static void
test_wake_and_tls(void)
{
	struct peer p;
	struct buf w = BUF_INIT(0), got = BUF_INIT(0);
	struct conn *c;
	struct line l;
	char raw[4096];
	size_t n;
	int sv[2], wake[2], r;

	peer_init(&p);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	if (pipe(wake) == -1)
		abort();
	c = conn_new(sv[0], 3000, -1);
	conn_start_deflate(c, 6);
	peer_compress(&p, "i IDLE\r\n", 8, Z_SYNC_FLUSH, &w);
	write_all(sv[1], w.data, w.len);
	CHECK(line_is(c, "i IDLE", 100), "idle: command read");
	conn_printf(c, "+ idling\r\n");
	conn_set_wake_fd(c, wake[0]);
	write_all(wake[1], "x", 1);
	r = conn_getline(c, &l, 100);
	CHECK(r == CONN_WAKE, "idle: wake fd ends the wait (r=%d)", r);
	n = read_raw(sv[1], raw, sizeof(raw), 2000);
	CHECK(peer_inflate(&p, raw, n, &got) == Z_OK &&
	    got.len == 10 && memcmp(got.data, "+ idling\r\n", 10) == 0,
	    "idle: continuation flushed before the wait");
	conn_set_wake_fd(c, -1);
	buf_reset(&w);
	peer_compress(&p, "DONE\r\n", 6, Z_SYNC_FLUSH, &w);
	write_all(sv[1], w.data, w.len);
	CHECK(line_is(c, "DONE", 100), "idle: DONE read after the wake");
	CHECK(server_tls != NULL &&
	    conn_starttls_server(c, server_tls, NULL) == CONN_ERR,
	    "STARTTLS over compression refused");
	conn_free(&c);
	close(sv[1]);
	close(wake[0]);
	close(wake[1]);
	peer_free(&p);
	buf_free(&w);
	buf_free(&got);
}

/* What one compressed connection costs, after traffic both ways: while
 * it writes (deflate and inflate) and once it waits idle (inflate only). */
static void
test_memory(void)
{
	struct peer p;
	struct buf w = BUF_INIT(0), got = BUF_INIT(0);
	struct conn *c;
	struct mallinfo2 m0, m1;
	struct line l;
	char raw[65536];
	int sv[2], r = 0;
	size_t i, n, busy, idle;
	bool all = true;

	peer_init(&p);
	/* The peer's own lazy allocations (its inflate window, our buffers)
	 * come before the baseline: a separate sync-flushed deflate stream
	 * is a valid start of the conn's stream. */
	{
		struct peer q;
		char pad[4096];

		peer_init(&q);
		memset(pad, 'p', sizeof(pad));
		peer_compress(&q, pad, sizeof(pad), Z_SYNC_FLUSH, &w);
		peer_compress(&q, pad, sizeof(pad), Z_SYNC_FLUSH, &w);
		(void)peer_inflate(&p, w.data, w.len, &got);
		peer_free(&q);
		buf_reset(&w);
		buf_reset(&got);
	}
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	c = conn_new(sv[0], 3000, -1);
	m0 = mallinfo2();
	conn_start_deflate(c, 6);
	for (i = 0; i < 20; i++) {
		buf_reset(&w);
		peer_compress(&p, "m NOOP\r\n", 8, Z_SYNC_FLUSH, &w);
		write_all(sv[1], w.data, w.len);
		all = all && line_is(c, "m NOOP", 100);
		conn_printf(c, "* 3 EXISTS\r\n* 0 RECENT\r\nm OK NOOP completed\r\n");
		conn_flush(c);
		n = read_raw(sv[1], raw, sizeof(raw), 1000);
		all = all && peer_inflate(&p, raw, n, &got) == Z_OK;
	}
	/* Every command's answer decoded, across the deflate restarts. */
	CHECK(all && got.len == 20 * 45, "20 round trips (%zu bytes back)",
	    got.len);
	busy = conn_deflate_mem(c);
	/* A short wait keeps it (a busy session pays no re-init). */
	conn_set_timeout(c, 100);
	r = conn_getline(c, &l, 100);
	CHECK(r == CONN_TIMEOUT && conn_deflate_mem(c) == busy,
	    "a 100 ms wait keeps the deflate state (r=%d)", r);
	/* Now wait for the peer: after 2 s the deflate state goes. */
	conn_set_timeout(c, 2300);
	r = conn_getline(c, &l, 100);
	idle = conn_deflate_mem(c);
	printf("# zlib memory of one compressed connection: %zu KiB while "
	    "writing, %zu KiB idle\n", busy / 1024, idle / 1024);
	CHECK(r == CONN_TIMEOUT, "idle wait timed out (r=%d)", r);
	CHECK(busy > 200 * 1024 && busy < 400 * 1024,
	    "writing costs %zu KiB (200..400 expected)", busy / 1024);
	CHECK(idle < 56 * 1024, "idle costs %zu KiB (< 56 expected)",
	    idle / 1024);
	/* And it comes back for the next answer. */
	conn_set_timeout(c, 3000);
	conn_printf(c, "* OK still here\r\n");
	conn_flush(c);
	buf_reset(&got);
	n = read_raw(sv[1], raw, sizeof(raw), 1000);
	CHECK(peer_inflate(&p, raw, n, &got) == Z_OK && got.len == 17 &&
	    memcmp(got.data, "* OK still here\r\n", 17) == 0,
	    "output after the idle drop decodes on the same stream");
	CHECK(conn_deflate_mem(c) == busy, "the state is back at full size");
	conn_free(&c);
	m1 = mallinfo2();
	CHECK(m1.uordblks <= m0.uordblks + 1024,
	    "conn_free releases what malloc gave");
	close(sv[1]);
	peer_free(&p);
	buf_free(&w);
	buf_free(&got);
}

int
main(void)
{
	char crt[600], key[600], err[512];

	(void)testcert_peer_cn;		/* testcert.h helper not needed here */
	signal(SIGPIPE, SIG_IGN);
	log_init("test-conn-deflate", true);
	log_set_level(LOG_LVL_ERROR);
	tmpdir = testcert_tmpdir();
	if (tmpdir != NULL && testcert_make(tmpdir, "server", "localhost") == 0) {
		snprintf(crt, sizeof(crt), "%s/server.crt", tmpdir);
		snprintf(key, sizeof(key), "%s/server.key", tmpdir);
		server_tls = tls_server_new(crt, key, "", err, sizeof(err));
	}
	CHECK(server_tls != NULL, "server TLS context");

	test_memory();
	test_bomb();
	test_start_and_lines();
	test_bulk();
	test_splits();
	test_corrupt_and_end();
	test_wake_and_tls();

	tls_unref(&server_tls);
	if (tmpdir != NULL)
		testcert_rmdir(tmpdir);
	return unit_done();
}
