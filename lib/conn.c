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
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "gms.h"
#include "lib-private.h"

#define CONN_IBUF_SIZE	4096		/* input buffer, inside struct conn */
#define CONN_OBUF_FLUSH	16384		/* conn_write flushes beyond this */
#define CONN_OBUF_KEEP	4096		/* larger output buffers are freed when empty */
#define CONN_LINE_KEEP	8192		/* larger line buffers are freed on the next read */

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
	char		 ibuf[CONN_IBUF_SIZE];
};

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
	if (c->out.len > 0 && (r = conn_flush(c)) < 0)
		return r;
	r = conn_raw_read(c, c->ibuf + c->ilen, sizeof(c->ibuf) - c->ilen,
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
	if (c->error == 0 && c->out.len > 0)
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
		if (c->out.len > 0 && (r = conn_flush(c)) < 0)
			return r;
		/* Large remainders go straight to dst, small ones through ibuf. */
		c->ipos = c->ilen = 0;
		if (n >= sizeof(c->ibuf)) {
			r = conn_raw_read(c, d, n, conn_deadline(c), &got);
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
	if (c->out.len > 0 && (r = conn_flush(c)) < 0) {
		*status_r = r;
		return -1;
	}
	r = conn_raw_read(c, dst, n, conn_deadline(c), &got);
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

		if (c->out.len >= CONN_OBUF_FLUSH && (r = conn_flush(c)) < 0)
			return r;
		room = CONN_OBUF_FLUSH - c->out.len;
		take = n < room ? n : room;
		if (buf_append(&c->out, s, take) == -1)
			panic("conn_write: output buffer");
		s += take;
		n -= take;
	}
	if (c->out.len >= CONN_OBUF_FLUSH)
		return conn_flush(c);
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
		return conn_flush(c);
	return 0;
}

int
conn_flush(struct conn *c)
{
	size_t off = 0;
	int r;

	if (c->error != 0)
		return c->error;
	while (off < c->out.len) {
		int64_t deadline = conn_deadline(c);
		size_t len = c->out.len - off, w = 0;

		if (c->ssl != NULL) {
			int e;

			ERR_clear_error();
			r = SSL_write_ex(c->ssl, c->out.data + off, len, &w);
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
			ssize_t n = send(c->fd, c->out.data + off, len, MSG_NOSIGNAL);

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
	buf_reset(&c->out);
	if (c->out.cap > CONN_OBUF_KEEP)
		buf_free(&c->out);
	return 0;
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
	if (c->ssl != NULL || c->error != 0 || t == NULL ||
	    tls_ctx_is_server(t) != server)
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
