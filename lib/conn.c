/*
 * conn.c - one network connection of a session: a socket, optionally
 * under TLS, with a small input buffer, an output buffer and a deadline on
 * every wait.  The protocol code (smtpd, imapd, the relay) reads top to
 * bottom with conn_getline()/conn_read_exact() and writes with
 * conn_write()/conn_flush(); it never sees EAGAIN, SSL_ERROR_WANT_* or
 * partial records.
 *
 * The socket is switched to non-blocking mode and every wait is a poll()
 * on it together with the server's stop fd (readable once SIGTERM came:
 * reads end with CONN_STOP so the session can say goodbye) and an optional
 * wake fd (IMAP IDLE).  Writes only wait for the socket: a goodbye must
 * still go out while the server stops.
 *
 * The line reader keeps memory bounded by the caller's maximum: an
 * over-long line is cut at max bytes, the rest is read and dropped up to
 * the end of the line, and the line is reported with too_long.  Line ends
 * are reported apart (CRLF, bare LF, bare CR): a CR that is the last byte
 * read so far needs one byte of lookahead before we know which it is.
 *
 * Before blocking for input, pending output is flushed, so a protocol that
 * holds replies back while conn_pending() is true can never deadlock with
 * a client that waits for them.
 *
 * An optional deflate layer (IMAP COMPRESS=DEFLATE, RFC 4978) sits below
 * the line reader and above TLS: conn_src_read() inflates what
 * conn_raw_read() returns straight into the reader's buffer (or a
 * literal's destination), so inflated bytes meet exactly the bounds plain
 * input meets and a decompression bomb cannot grow memory; compressed
 * input waits in one fixed buffer of CONN_IBUF_SIZE.  conn_flush()
 * deflates the output buffer through a fixed buffer on the stack and ends
 * with Z_SYNC_FLUSH, so the peer can decode every complete response; the
 * intermediate flushes of a large write do not sync.  The inflate state
 * (7 KiB plus the 32 KiB window the peer's dictionary needs) lives as
 * long as the connection; the deflate state (about 256 KiB at memLevel 8
 * and a 32 KiB window) is dropped once the connection has waited for the
 * peer for CONN_ZIDLE_MS with everything sync-flushed, and made afresh
 * for the next response (see conn_deflate_idle()).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <zlib.h>

#include "gms.h"
#include "lib-private.h"

#define CONN_IBUF_SIZE	4096		/* input buffer, inside struct conn */
#define CONN_OBUF_FLUSH	16384		/* conn_write flushes beyond this */
#define CONN_OBUF_KEEP	4096		/* larger output buffers are freed when empty */
#define CONN_LINE_KEEP	8192		/* larger line buffers are freed on the next read */
#define CONN_ZOUT_SIZE	8192		/* deflate output chunk, on the stack */
#define CONN_ZIDLE_MS	2000		/* waiting this long drops the deflate state */

/* The deflate layer of a connection (RFC 4978), allocated when started. */
struct conn_zlib {
	z_stream	 in;		/* inflate: peer to us */
	z_stream	 out;		/* deflate: us to peer */
	size_t		 zpos;		/* next unread byte of zin */
	size_t		 zlen;		/* compressed bytes held in zin */
	bool		 in_more;	/* inflate may hold output it could not give */
	bool		 in_end;	/* the peer ended its deflate stream */
	bool		 in_bad;	/* the peer's stream is corrupt */
	bool		 out_dirty;	/* deflate holds input not yet sync-flushed */
	bool		 out_on;	/* out is initialised (dropped while idle) */
	int		 level;		/* deflate level */
	size_t		 mem;		/* bytes zlib holds now */
	unsigned char	 zin[CONN_IBUF_SIZE];	/* compressed input */
};

struct conn {
	int		 fd;		/* owned */
	int		 timeout_ms;
	int		 stop_fd;	/* borrowed, -1 for none */
	int		 wake_fd;	/* borrowed, -1 for none */
	SSL		*ssl;		/* owned, NULL before TLS */
	struct tls_ctx	*tls;		/* a reference while ssl is set */
	bool		 eof;		/* the peer will send nothing more */
	int		 error;		/* sticky: 0 or CONN_ERR / CONN_TIMEOUT */
	size_t		 ipos;		/* next unread byte of ibuf */
	size_t		 ilen;		/* bytes held in ibuf */
	struct buf	 out;		/* queued output */
	struct buf	 line;		/* the last line returned */
	char		 tls_info[96];
	char		*sni;		/* owned copy, or NULL */
	struct conn_zlib *z;		/* owned, NULL unless deflate is on */
	char		 ibuf[CONN_IBUF_SIZE];
};

static int conn_flush_mode(struct conn *c, bool sync);
static int conn_deflate_idle(struct conn *c, int64_t deadline);

/* conn_now_ms - a monotonic clock in milliseconds. */
static int64_t
conn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* conn_deadline - the absolute deadline of a wait starting now. */
static int64_t
conn_deadline(const struct conn *c)
{
	return conn_now_ms() + (c->timeout_ms > 0 ? c->timeout_ms : 0);
}

/*
 * conn_wait - wait until the socket is ready for events, the deadline
 * passes or (when asked for) the stop or wake fd becomes readable.
 * Returns 0 (ready), CONN_TIMEOUT, CONN_STOP, CONN_WAKE or CONN_ERR.
 */
static int
conn_wait(struct conn *c, short events, int64_t deadline, bool with_stop,
    bool with_wake)
{
	struct pollfd pfd[3];
	nfds_t n;
	int64_t left;
	int r, stop_i = -1, wake_i = -1;

	for (;;) {
		n = 0;
		pfd[n].fd = c->fd;
		pfd[n].events = events;
		pfd[n].revents = 0;
		n++;
		if (with_stop && c->stop_fd >= 0) {
			stop_i = (int)n;
			pfd[n].fd = c->stop_fd;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			n++;
		}
		if (with_wake && c->wake_fd >= 0) {
			wake_i = (int)n;
			pfd[n].fd = c->wake_fd;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			n++;
		}
		left = deadline - conn_now_ms();
		if (left < 0)
			left = 0;
		if (left > 0x7fffffff)
			left = 0x7fffffff;
		r = poll(pfd, n, (int)left);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			log_warn("event=poll_error");
			return CONN_ERR;
		}
		if (stop_i >= 0 && pfd[stop_i].revents != 0)
			return CONN_STOP;
		if (wake_i >= 0 && pfd[wake_i].revents != 0)
			return CONN_WAKE;
		if (pfd[0].revents != 0)
			return 0;	/* ready, hung up or failed: the I/O says which */
		if (r == 0 || conn_now_ms() >= deadline)
			return CONN_TIMEOUT;
	}
}

/* conn_output_held - output queued or held inside deflate, unsent. */
static bool
conn_output_held(const struct conn *c)
{
	return c->out.len > 0 || (c->z != NULL && c->z->out_dirty);
}

/*
 * conn_raw_read - read up to len bytes from the socket or TLS into dst,
 * waiting at most until deadline.  Returns 1 with *got_r > 0, 0 at EOF,
 * or a negative CONN_ status.
 */
static int
conn_raw_read(struct conn *c, void *dst, size_t len, int64_t deadline,
    size_t *got_r)
{
	short want = POLLIN;
	bool try_first;
	int r;

	*got_r = 0;
	if (c->eof)
		return 0;
	if (c->error != 0)
		return c->error;
	/* Data OpenSSL already holds would never wake poll(). */
	try_first = c->ssl != NULL && SSL_has_pending(c->ssl);
	for (;;) {
		if (!try_first) {
			r = conn_wait(c, want, deadline, true, true);
			if (r < 0)
				return r;
		}
		try_first = false;
		if (c->ssl != NULL) {
			size_t got = 0;
			int e;

			ERR_clear_error();
			errno = 0;
			r = SSL_read_ex(c->ssl, dst, len, &got);
			if (r == 1) {
				*got_r = got;
				return 1;
			}
			e = SSL_get_error(c->ssl, r);
			switch (e) {
			case SSL_ERROR_WANT_READ:
				want = POLLIN;
				continue;
			case SSL_ERROR_WANT_WRITE:
				want = POLLOUT;
				continue;
			case SSL_ERROR_ZERO_RETURN:
				c->eof = true;
				return 0;
			case SSL_ERROR_SYSCALL:
				if (ERR_peek_error() == 0 && (errno == 0 ||
				    errno == ECONNRESET || errno == EPIPE)) {
					/* Closed without close_notify. */
					c->eof = true;
					return 0;
				}
				/* FALLTHROUGH */
			default: {
				char err[256];

				tls_error_string(err, sizeof(err), "TLS read");
				log_debug("event=tls_error error=\"%s\"", err);
				c->error = CONN_ERR;
				return CONN_ERR;
			}
			}
		} else {
			ssize_t n = read(c->fd, dst, len);

			if (n > 0) {
				*got_r = (size_t)n;
				return 1;
			}
			if (n == 0) {
				c->eof = true;
				return 0;
			}
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			if (errno == ECONNRESET) {
				c->eof = true;
				return 0;
			}
			log_debug("event=read_error error=\"%s\"", strerror(errno));
			c->error = CONN_ERR;
			return CONN_ERR;
		}
	}
}

/*
 * conn_src_read - conn_raw_read() through the inflate layer when it is
 * on: up to len inflated bytes go straight to dst, so the caller's bound
 * is the only bound.  Returns 1 with *got_r > 0, 0 at EOF (of the socket
 * or of the peer's deflate stream), or a negative CONN_ status; a corrupt
 * stream is CONN_ERR and sticks.
 */
static int
conn_src_read(struct conn *c, void *dst, size_t len, int64_t deadline,
    size_t *got_r)
{
	struct conn_zlib *z = c->z;
	size_t got;
	int r;

	if (z == NULL)
		return conn_raw_read(c, dst, len, deadline, got_r);
	*got_r = 0;
	if (c->error != 0)
		return c->error;
	for (;;) {
		if (z->in_bad) {
			c->error = CONN_ERR;
			return CONN_ERR;
		}
		if (z->in_end)
			return 0;
		if (z->zpos < z->zlen || z->in_more) {
			size_t before = z->zpos;

			z->in.next_in = z->zin + z->zpos;
			z->in.avail_in = (uInt)(z->zlen - z->zpos);
			z->in.next_out = dst;
			z->in.avail_out = len > UINT_MAX ? UINT_MAX : (uInt)len;
			got = z->in.avail_out;
			r = inflate(&z->in, Z_SYNC_FLUSH);
			z->zpos = z->zlen - z->in.avail_in;
			got -= z->in.avail_out;
			z->in_more = z->in.avail_out == 0;
			switch (r) {
			case Z_OK:
			case Z_BUF_ERROR:	/* no progress: needs input */
				break;
			case Z_STREAM_END:
				z->in_end = true;
				z->in_more = false;
				break;
			default:
				log_info("event=inflate_error error=\"%s\"",
				    z->in.msg != NULL ? z->in.msg : "zlib error");
				/* What came before the damage is still read. */
				z->in_bad = true;
				z->in_more = false;
				z->zpos = z->zlen;
				break;
			}
			if (got > 0) {
				*got_r = got;
				return 1;
			}
			if (z->in_bad || z->in_end)
				continue;
			if (z->zpos < z->zlen) {
				if (z->zpos == before) {
					/* Cannot happen with room to write. */
					log_warn("event=inflate_stuck");
					c->error = CONN_ERR;
					return CONN_ERR;
				}
				continue;
			}
		}
		z->zpos = z->zlen = 0;
		if ((r = conn_deflate_idle(c, deadline)) < 0)
			return r;
		r = conn_raw_read(c, z->zin, sizeof(z->zin), deadline, &got);
		if (r != 1)
			return r;
		z->zlen = got;
	}
}

/*
 * conn_fill - compact the input buffer and read more into it.  Flushes
 * pending output first.  Returns 1 (more bytes), 0 (EOF) or < 0.
 */
static int
conn_fill(struct conn *c, int64_t deadline)
{
	size_t got;
	int r;

	if (c->ipos > 0) {
		memmove(c->ibuf, c->ibuf + c->ipos, c->ilen - c->ipos);
		c->ilen -= c->ipos;
		c->ipos = 0;
	}
	if (c->ilen == sizeof(c->ibuf))
		panic("conn_fill: input buffer full");
	if (conn_output_held(c) && (r = conn_flush(c)) < 0)
		return r;
	r = conn_src_read(c, c->ibuf + c->ilen, sizeof(c->ibuf) - c->ilen,
	    deadline, &got);
	if (r == 1)
		c->ilen += got;
	return r;
}

struct conn *
conn_new(int fd, int timeout_ms, int stop_fd)
{
	struct conn *c;
	int fl;

	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->timeout_ms = timeout_ms;
	c->stop_fd = stop_fd;
	c->wake_fd = -1;
	buf_init(&c->out, 0);
	buf_init(&c->line, 0);
	fl = fcntl(fd, F_GETFL);
	if (fl != -1 && (fl & O_NONBLOCK) == 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	return c;
}

void
conn_free(struct conn **cp)
{
	struct conn *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->error == 0 && conn_output_held(c))
		(void)conn_flush(c);
	if (c->ssl != NULL) {
		/* One close_notify, without waiting for the peer's. */
		if (c->error == 0) {
			ERR_clear_error();
			(void)SSL_shutdown(c->ssl);
		}
		SSL_free(c->ssl);
		ERR_clear_error();
	}
	tls_unref(&c->tls);
	if (c->z != NULL) {
		(void)inflateEnd(&c->z->in);
		if (c->z->out_on)
			(void)deflateEnd(&c->z->out);
		gms_wipe(c->z->zin, sizeof(c->z->zin));
		free(c->z);
	}
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->out);
	buf_free(&c->line);
	free(c->sni);
	gms_wipe(c->ibuf, sizeof(c->ibuf));
	free(c);
}

int
conn_fd(const struct conn *c)
{
	return c->fd;
}

void
conn_set_timeout(struct conn *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

void
conn_set_wake_fd(struct conn *c, int fd)
{
	c->wake_fd = fd;
}

/* conn_line_add - keep what fits of n content bytes of a line. */
static void
conn_line_add(struct conn *c, struct line *l, const char *p, size_t n, size_t max)
{
	size_t room = max - c->line.len;

	if (n > room) {
		l->too_long = true;
		n = room;
	}
	if (n > 0 && buf_append(&c->line, p, n) == -1)
		panic("conn_getline: line buffer");
}

int
conn_getline(struct conn *c, struct line *l, size_t max)
{
	int64_t deadline = conn_deadline(c);
	size_t seen = 0;
	int r;

	if (c->line.cap > CONN_LINE_KEEP)
		buf_free(&c->line);
	buf_reset(&c->line);
	c->line.max = max + 1;
	l->data = "";
	l->len = 0;
	l->end = LINE_NONE;
	l->has_nul = false;
	l->too_long = false;

	for (;;) {
		while (c->ipos < c->ilen) {
			const char *p = c->ibuf + c->ipos;
			size_t avail = c->ilen - c->ipos, i;

			for (i = 0; i < avail; i++)
				if (p[i] == '\r' || p[i] == '\n')
					break;
			if (i > 0) {
				if (memchr(p, '\0', i) != NULL)
					l->has_nul = true;
				conn_line_add(c, l, p, i, max);
				seen += i;
				c->ipos += i;
			}
			if (i == avail)
				break;
			if (p[i] == '\n') {
				l->end = LINE_LF;
				c->ipos++;
				goto done;
			}
			if (i + 1 < avail) {
				if (p[i + 1] == '\n') {
					l->end = LINE_CRLF;
					c->ipos += 2;
				} else {
					l->end = LINE_CR;
					c->ipos++;
				}
				goto done;
			}
			/* A CR ends the buffered data: read one more byte. */
			break;
		}
		r = conn_fill(c, deadline);
		if (r < 0)
			return r;
		if (r == 0) {
			if (c->ipos < c->ilen) {
				/* The stream ended right after a CR. */
				c->ipos++;
				l->end = LINE_CR;
				goto done;
			}
			if (seen > 0)
				goto done;	/* a last line without its end */
			return CONN_EOF;
		}
	}
done:
	l->data = buf_cstr(&c->line);
	l->len = c->line.len;
	return CONN_OK;
}

int
conn_read_exact(struct conn *c, void *dst, size_t n)
{
	char *d = dst;
	size_t got;
	int r;

	while (n > 0) {
		if (c->ipos < c->ilen) {
			size_t take = c->ilen - c->ipos;

			if (take > n)
				take = n;
			memcpy(d, c->ibuf + c->ipos, take);
			c->ipos += take;
			d += take;
			n -= take;
			continue;
		}
		if (conn_output_held(c) && (r = conn_flush(c)) < 0)
			return r;
		/* Large remainders go straight to dst, small ones through ibuf. */
		c->ipos = c->ilen = 0;
		if (n >= sizeof(c->ibuf)) {
			r = conn_src_read(c, d, n, conn_deadline(c), &got);
			if (r == 1) {
				d += got;
				n -= got;
			}
		} else
			r = conn_fill(c, conn_deadline(c));
		if (r == 0)
			return CONN_EOF;
		if (r < 0)
			return r;
	}
	return CONN_OK;
}

ssize_t
conn_read_some(struct conn *c, void *dst, size_t n, int *status_r)
{
	size_t got;
	int r;

	if (n == 0) {
		*status_r = CONN_OK;
		return 0;
	}
	if (c->ipos < c->ilen) {
		got = c->ilen - c->ipos;
		if (got > n)
			got = n;
		memcpy(dst, c->ibuf + c->ipos, got);
		c->ipos += got;
		*status_r = CONN_OK;
		return (ssize_t)got;
	}
	if (conn_output_held(c) && (r = conn_flush(c)) < 0) {
		*status_r = r;
		return -1;
	}
	r = conn_src_read(c, dst, n, conn_deadline(c), &got);
	if (r == 1) {
		*status_r = CONN_OK;
		return (ssize_t)got;
	}
	*status_r = r == 0 ? CONN_EOF : r;
	return r == 0 ? 0 : -1;
}

bool
conn_pending(const struct conn *c)
{
	if (c->ipos < c->ilen)
		return true;
	/* Compressed input may inflate to nothing (a flush marker): a wrong
	 * guess only delays the flush until the reader would wait. */
	if (c->z != NULL && !c->z->in_end && !c->z->in_bad &&
	    (c->z->zpos < c->z->zlen || c->z->in_more))
		return true;
	return c->ssl != NULL && SSL_pending(c->ssl) > 0;
}

int
conn_write(struct conn *c, const void *p, size_t n)
{
	const char *s = p;
	int r;

	if (c->error != 0)
		return c->error;
	while (n > 0) {
		size_t room, take;

		if (c->out.len >= CONN_OBUF_FLUSH &&
		    (r = conn_flush_mode(c, false)) < 0)
			return r;
		room = CONN_OBUF_FLUSH - c->out.len;
		take = n < room ? n : room;
		if (buf_append(&c->out, s, take) == -1)
			panic("conn_write: output buffer");
		s += take;
		n -= take;
	}
	if (c->out.len >= CONN_OBUF_FLUSH)
		return conn_flush_mode(c, false);
	return 0;
}

int
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (c->error != 0)
		return c->error;
	va_start(ap, fmt);
	r = buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
	if (r == -1) {
		log_errorx("event=conn_printf_failed");
		return CONN_ERR;
	}
	if (c->out.len >= CONN_OBUF_FLUSH)
		return conn_flush_mode(c, false);
	return 0;
}

/*
 * conn_raw_write - write len bytes to the socket or TLS, waiting at most
 * the timeout for each bit of progress.  Returns 0 or < 0 (sticky).
 */
static int
conn_raw_write(struct conn *c, const void *data, size_t len)
{
	const char *p = data;
	size_t off = 0;
	int r;

	while (off < len) {
		int64_t deadline = conn_deadline(c);
		size_t left = len - off, w = 0;

		if (c->ssl != NULL) {
			int e;

			ERR_clear_error();
			r = SSL_write_ex(c->ssl, p + off, left, &w);
			if (r == 1) {
				off += w;
				continue;
			}
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
				r = conn_wait(c, e == SSL_ERROR_WANT_WRITE ?
				    POLLOUT : POLLIN, deadline, false, false);
				if (r < 0) {
					c->error = r;
					return r;
				}
				continue;
			}
			{
				char err[256];

				tls_error_string(err, sizeof(err), "TLS write");
				log_debug("event=tls_error error=\"%s\"", err);
			}
			c->error = CONN_ERR;
			return CONN_ERR;
		} else {
			ssize_t n = send(c->fd, p + off, left, MSG_NOSIGNAL);

			if (n >= 0) {
				off += (size_t)n;
				continue;
			}
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				r = conn_wait(c, POLLOUT, deadline, false, false);
				if (r < 0) {
					c->error = r;
					return r;
				}
				continue;
			}
			log_debug("event=write_error error=\"%s\"", strerror(errno));
			c->error = CONN_ERR;
			return CONN_ERR;
		}
	}
	return 0;
}

/*
 * zlib's allocator.  Its large buffers (the windows, the hash chains, the
 * pending buffer: 32 or 64 KiB each) are mapped on their own, so that
 * dropping the deflate state of an idle connection gives the pages back
 * to the system at once instead of leaving holes in a malloc arena; small
 * ones come from malloc.  A header before each block says which.  Like
 * zlib's own allocator nothing is zeroed (zlib needs no zeroes, and pages
 * never touched cost no resident memory).  NULL on failure: zlib then
 * answers Z_MEM_ERROR and the connection fails.
 */
#define CONN_ZMAP_MIN	(16 * 1024)

struct conn_zhdr {
	size_t	size;		/* of the whole block, header included */
	size_t	mapped;		/* 1: mmap()ed, 0: malloc()ed */
};

static voidpf
conn_zalloc(voidpf opaque, uInt items, uInt size)
{
	struct conn_zlib *z = opaque;
	struct conn_zhdr *h;
	size_t n;

	if (size != 0 && items > (SIZE_MAX - sizeof(*h)) / size)
		return NULL;
	n = (size_t)items * size + sizeof(*h);
	if (n >= CONN_ZMAP_MIN) {
		h = mmap(NULL, n, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (h == MAP_FAILED)
			return NULL;
		h->mapped = 1;
	} else {
		if ((h = malloc(n)) == NULL)
			return NULL;
		h->mapped = 0;
	}
	h->size = n;
	z->mem += n;
	return h + 1;
}

static void
conn_zfree(voidpf opaque, voidpf p)
{
	struct conn_zlib *z = opaque;
	struct conn_zhdr *h = (struct conn_zhdr *)p - 1;

	z->mem -= h->size;
	if (h->mapped)
		(void)munmap(h, h->size);
	else
		free(h);
}

/*
 * conn_deflate_init - a fresh deflate stream: raw deflate, 32 KiB window,
 * memLevel 8 (about 256 KiB).  Returns zlib's status.
 */
static int
conn_deflate_init(struct conn_zlib *z)
{
	int r;

	memset(&z->out, 0, sizeof(z->out));
	z->out.zalloc = conn_zalloc;
	z->out.zfree = conn_zfree;
	z->out.opaque = z;
	r = deflateInit2(&z->out, z->level, Z_DEFLATED, -15, 8,
	    Z_DEFAULT_STRATEGY);
	z->out_on = r == Z_OK;
	return r;
}

/*
 * conn_deflate_idle - before waiting for the peer until deadline: when
 * nothing comes for CONN_ZIDLE_MS, drop the deflate state.  After a sync
 * flush the peer's inflater is at a block boundary and needs nothing from
 * us: the next response starts a new raw deflate stream that continues
 * the old one without back references into it.  An idle compressed
 * connection (IDLE, a client left open) then holds only the inflate
 * state, about 40 KiB instead of about 300 KiB; a busy one keeps its
 * state, since making it afresh costs the page faults of 256 KiB.
 * Returns 0 (go on reading) or the wait's CONN_STOP, CONN_WAKE, CONN_ERR.
 */
static int
conn_deflate_idle(struct conn *c, int64_t deadline)
{
	struct conn_zlib *z = c->z;
	int64_t soon;
	int r;

	if (z == NULL || !z->out_on || z->out_dirty || c->out.len > 0 ||
	    c->eof || c->error != 0)
		return 0;
	if (c->ssl != NULL && SSL_has_pending(c->ssl))
		return 0;
	soon = conn_now_ms() + CONN_ZIDLE_MS;
	if (soon >= deadline)
		return 0;
	r = conn_wait(c, POLLIN, soon, true, true);
	if (r == CONN_TIMEOUT) {
		(void)deflateEnd(&z->out);
		z->out_on = false;
		log_debug("event=deflate_idle_drop");
		return 0;
	}
	return r;
}

/*
 * conn_deflate_out - compress the output buffer and write the result in
 * chunks of CONN_ZOUT_SIZE.  With sync, everything given to deflate so
 * far is flushed to a byte boundary (Z_SYNC_FLUSH) so the peer can
 * decode it all.  Returns 0 or < 0 (sticky).
 */
static int
conn_deflate_out(struct conn *c, bool sync)
{
	struct conn_zlib *z = c->z;
	unsigned char zout[CONN_ZOUT_SIZE];
	int flush = sync ? Z_SYNC_FLUSH : Z_NO_FLUSH, r;
	size_t have;

	if (c->out.len == 0 && (!sync || !z->out_dirty))
		return 0;
	if (!z->out_on && (r = conn_deflate_init(z)) != Z_OK) {
		log_warn("event=deflate_init_failed status=%d", r);
		c->error = CONN_ERR;
		return CONN_ERR;
	}
	z->out.next_in = (unsigned char *)c->out.data;
	z->out.avail_in = (uInt)c->out.len;	/* at most CONN_OBUF_FLUSH + a printf */
	for (;;) {
		z->out.next_out = zout;
		z->out.avail_out = sizeof(zout);
		r = deflate(&z->out, flush);
		if (r != Z_OK && r != Z_BUF_ERROR) {
			log_warn("event=deflate_error status=%d", r);
			c->error = CONN_ERR;
			return CONN_ERR;
		}
		have = sizeof(zout) - z->out.avail_out;
		if (have > 0 && (r = conn_raw_write(c, zout, have)) < 0)
			return r;
		if (z->out.avail_out == 0)
			continue;	/* deflate may hold more */
		if (z->out.avail_in == 0)
			break;
	}
	z->out.next_in = NULL;
	z->out_dirty = !sync;
	return 0;
}

/* conn_flush_mode - write the output buffer out (compressed, with a sync
 * flush or not, when deflate is on) and empty it. */
static int
conn_flush_mode(struct conn *c, bool sync)
{
	int r;

	if (c->error != 0)
		return c->error;
	if (c->z != NULL)
		r = conn_deflate_out(c, sync);
	else
		r = conn_raw_write(c, c->out.data, c->out.len);
	if (r < 0)
		return r;
	buf_reset(&c->out);
	if (c->out.cap > CONN_OBUF_KEEP)
		buf_free(&c->out);
	return 0;
}

int
conn_flush(struct conn *c)
{
	return conn_flush_mode(c, true);
}

/* conn_handshake - drive SSL_accept/SSL_connect under one deadline. */
static int
conn_handshake(struct conn *c, bool server)
{
	int64_t deadline = conn_deadline(c);
	int r, e;

	for (;;) {
		ERR_clear_error();
		r = server ? SSL_accept(c->ssl) : SSL_connect(c->ssl);
		if (r == 1)
			return 0;
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			r = conn_wait(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
			    deadline, true, false);
			if (r < 0)
				return r;
			continue;
		}
		{
			char err[256];

			tls_error_string(err, sizeof(err), "TLS handshake");
			log_info("event=tls_handshake_failed error=\"%s\"", err);
		}
		return CONN_ERR;
	}
}

/* conn_tls_start - common part of both STARTTLS directions. */
static int
conn_tls_start(struct conn *c, struct tls_ctx *t, const char *servername,
    bool server, size_t *discarded_r)
{
	const SSL_CIPHER *cipher;
	const char *sni;
	int r;

	if (discarded_r != NULL)
		*discarded_r = 0;
	/* TLS goes below compression, never above it (RFC 4978). */
	if (c->ssl != NULL || c->error != 0 || t == NULL ||
	    tls_ctx_is_server(t) != server || c->z != NULL)
		return CONN_ERR;
	/*
	 * Security: whatever the peer sent before the handshake must not be
	 * read as if it came under TLS (CVE-2011-0411 and its kin).
	 */
	if (discarded_r != NULL)
		*discarded_r = c->ilen - c->ipos;
	gms_wipe(c->ibuf, sizeof(c->ibuf));
	c->ipos = c->ilen = 0;
	if ((r = conn_flush(c)) < 0)
		return r;
	ERR_clear_error();
	c->ssl = SSL_new(tls_ctx_ssl(t));
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		char err[256];

		tls_error_string(err, sizeof(err), "SSL_new");
		log_errorx("event=tls_error error=\"%s\"", err);
		goto fail;
	}
	if (!server && servername != NULL && *servername != '\0') {
		if (SSL_set_tlsext_host_name(c->ssl, servername) != 1 ||
		    SSL_set1_host(c->ssl, servername) != 1)
			goto fail;
	}
	r = conn_handshake(c, server);
	if (r < 0) {
		SSL_free(c->ssl);
		c->ssl = NULL;
		c->error = r == CONN_STOP ? CONN_ERR : r;
		c->eof = true;
		return r;
	}
	c->tls = tls_ref(t);
	cipher = SSL_get_current_cipher(c->ssl);
	(void)gms_snprintf(c->tls_info, sizeof(c->tls_info), "%s %s",
	    SSL_get_version(c->ssl), cipher != NULL ? SSL_CIPHER_get_name(cipher) : "?");
	sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
	if (sni != NULL)
		c->sni = xstrndup(sni, 255);
	return 0;
fail:
	SSL_free(c->ssl);
	c->ssl = NULL;
	c->error = CONN_ERR;
	return CONN_ERR;
}

int
conn_starttls_server(struct conn *c, struct tls_ctx *t, size_t *discarded_r)
{
	return conn_tls_start(c, t, NULL, true, discarded_r);
}

int
conn_starttls_client(struct conn *c, struct tls_ctx *t, const char *servername)
{
	return conn_tls_start(c, t, servername, false, NULL);
}

bool
conn_is_tls(const struct conn *c)
{
	return c->ssl != NULL;
}

const char *
conn_tls_info(const struct conn *c)
{
	return c->ssl != NULL ? c->tls_info : "";
}

const char *
conn_tls_sni(const struct conn *c)
{
	return c->sni;
}

struct ssl_st *
conn_ssl(struct conn *c)
{
	return c->ssl;
}

/* ------------------------------------------------------------------ */
/* The deflate layer (RFC 4978). */


int
conn_start_deflate(struct conn *c, int level)
{
	struct conn_zlib *z;
	size_t held;
	int r;

	if (c->z != NULL || c->error != 0)
		return CONN_ERR;
	if (level < Z_DEFAULT_COMPRESSION || level > Z_BEST_COMPRESSION)
		level = Z_DEFAULT_COMPRESSION;
	z = xcalloc(1, sizeof(*z));
	z->level = level;
	z->in.zalloc = conn_zalloc;
	z->in.zfree = conn_zfree;
	z->in.opaque = z;
	/* Raw deflate (negative windowBits), 32 KiB window both ways: the
	 * peer may use any window up to that.  Deflate starts at the first
	 * output; trying it here makes a bad level fail now. */
	if ((r = inflateInit2(&z->in, -15)) != Z_OK) {
		log_warn("event=inflate_init_failed status=%d", r);
		free(z);
		return CONN_ERR;
	}
	if ((r = conn_deflate_init(z)) != Z_OK) {
		log_warn("event=deflate_init_failed status=%d", r);
		(void)inflateEnd(&z->in);
		free(z);
		return CONN_ERR;
	}
	/* What is queued (the tagged OK) still goes out uncompressed. */
	if ((r = conn_flush(c)) < 0) {
		(void)inflateEnd(&z->in);
		(void)deflateEnd(&z->out);
		free(z);
		return r;
	}
	/* Bytes the peer sent after the command are already compressed. */
	held = c->ilen - c->ipos;
	memcpy(z->zin, c->ibuf + c->ipos, held);
	z->zlen = held;
	gms_wipe(c->ibuf, sizeof(c->ibuf));
	c->ipos = c->ilen = 0;
	c->z = z;
	log_debug("event=deflate_start level=%d held=%zu zlib_mem=%zu", level,
	    held, z->mem);
	return 0;
}

bool
conn_is_deflate(const struct conn *c)
{
	return c->z != NULL;
}

size_t
conn_deflate_mem(const struct conn *c)
{
	if (c->z == NULL)
		return 0;
	return sizeof(*c->z) + c->z->mem;
}
