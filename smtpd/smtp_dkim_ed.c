/*
 * smtp_dkim_ed.c - ed25519-sha256 DKIM signatures (RFC 8463) of our own,
 * with relaxed/relaxed canonicalization (RFC 6376 3.4.2 and 3.4.4).
 *
 * Why not libopendkim: its signing path for Ed25519 keys (2.11, Debian
 * 12) never frees the key it loads (the BIO, the EVP_PKEY and the output
 * buffer of every handle; about 0.5 KiB per signed message, seen under
 * LeakSanitizer), so a long-running gms-smtpd would grow without bound.
 * RSA signing and all verification stay with libopendkim (smtp_dkim.c).
 * The signatures are checked by an independent verifier (dkimpy) in
 * tests/protocol/test_smtp.py, and the canonicalization against RFC 6376's
 * own example in tests/unit/test-smtp-dkim.c.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "smtpd/smtp_private.h"

/* The fields we sign when present (RFC 6376 5.4.1), every instance. */
static const char *const signed_fields[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "message-id",
	"in-reply-to", "references", "mime-version", "content-type",
	"content-transfer-encoding", "resent-date", "resent-from",
	"resent-to", "resent-cc", "list-id", "list-post", "list-unsubscribe",
	NULL
};

#define FIELDS_MAX	1000	/* header fields of one message we look at */

static bool
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

void
smtp_dkim_canon_header(const char *f, size_t n, struct buf *out)
{
	size_t i = 0, end;
	bool space = false;

	/* The name, lowercased, without the white space before the colon. */
	while (i < n && f[i] != ':')
		i++;
	end = i;
	while (end > 0 && is_wsp((unsigned char)f[end - 1]))
		end--;
	for (size_t k = 0; k < end; k++)
		(void)buf_putc(out, (char)tolower((unsigned char)f[k]));
	(void)buf_putc(out, ':');
	if (i < n)
		i++;
	/* The value: unfolded, runs of white space made one space, none at
	 * the start or the end. */
	end = n;
	while (end > i && (f[end - 1] == '\r' || f[end - 1] == '\n' ||
	    is_wsp((unsigned char)f[end - 1])))
		end--;
	while (i < end && (is_wsp((unsigned char)f[i]) || f[i] == '\r' ||
	    f[i] == '\n'))
		i++;
	for (; i < end; i++) {
		char c = f[i];

		if (c == '\r' || c == '\n' || is_wsp((unsigned char)c)) {
			space = true;
			continue;
		}
		if (space)
			(void)buf_putc(out, ' ');
		space = false;
		(void)buf_putc(out, c);
	}
	(void)buf_puts(out, "\r\n");
}

void
smtp_dkim_canon_body(const char *b, size_t n, struct buf *out)
{
	size_t i = 0, blank = 0;

	while (i < n) {
		const char *nl = memchr(b + i, '\n', n - i);
		size_t end = nl != NULL ? (size_t)(nl - b) : n, stop = end, k;
		bool space = false;

		if (stop > i && b[stop - 1] == '\r')
			stop--;
		while (stop > i && is_wsp((unsigned char)b[stop - 1]))
			stop--;
		/* An empty line is held back: trailing ones are dropped. */
		if (stop == i) {
			blank++;
			i = nl != NULL ? end + 1 : n;
			continue;
		}
		for (; blank > 0; blank--)
			(void)buf_puts(out, "\r\n");
		for (k = i; k < stop; k++) {
			if (is_wsp((unsigned char)b[k])) {
				space = true;
				continue;
			}
			if (space)
				(void)buf_putc(out, ' ');
			space = false;
			(void)buf_putc(out, b[k]);
		}
		(void)buf_puts(out, "\r\n");
		i = nl != NULL ? end + 1 : n;
	}
}

struct field {
	const char	*p;
	size_t		 len;		/* with its line end */
	size_t		 namelen;
};

/* split_header - the fields of msg's header; returns their number and
 * sets *body to the offset of the body. */
static size_t
split_header(const char *msg, size_t len, struct field *fl, size_t max,
    size_t *body)
{
	size_t i = 0, n = 0;

	while (i < len) {
		size_t start = i, c;

		if (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n') {
			i += 2;
			break;			/* the empty line */
		}
		if (msg[i] == '\n') {
			i++;
			break;
		}
		/* A field runs to a line end not followed by white space. */
		for (;;) {
			const char *nl = memchr(msg + i, '\n', len - i);

			if (nl == NULL) {
				i = len;
				break;
			}
			i = (size_t)(nl - msg) + 1;
			if (i >= len || !is_wsp((unsigned char)msg[i]))
				break;
		}
		for (c = start; c < i && msg[c] != ':'; c++)
			;
		if (c < i && n < max) {
			fl[n].p = msg + start;
			fl[n].len = i - start;
			fl[n].namelen = c - start;
			while (fl[n].namelen > 0 &&
			    is_wsp((unsigned char)fl[n].p[fl[n].namelen - 1]))
				fl[n].namelen--;
			n++;
		}
	}
	*body = i;
	return n;
}

/* b64 - base64 of n bytes into out. */
static void
b64(const unsigned char *p, size_t n, struct buf *out)
{
	char tmp[200];
	int r;

	while (n > 0) {
		size_t take = n > 144 ? 144 : n;	/* 192 output chars */

		r = EVP_EncodeBlock((unsigned char *)tmp, p, (int)take);
		(void)buf_append(out, tmp, (size_t)r);
		p += take;
		n -= take;
	}
}

/* put_folded - append s to the field, folding before it when the line
 * would pass 76 columns; *col tracks the column. */
static void
put_folded(struct buf *out, const char *s, size_t *col)
{
	size_t n = strlen(s);

	if (*col + n > 76 && *col > 1) {
		(void)buf_puts(out, "\r\n\t");
		*col = 1;
	}
	(void)buf_puts(out, s);
	*col += n;
}

int
smtp_dkim_ed25519_sign(const char *domain, const char *selector,
    const char *pem, size_t pemlen, const char *msg, size_t len, time_t now,
    struct buf *out)
{
	struct field *fl = xcalloc(FIELDS_MAX, sizeof(*fl));
	struct buf canon = BUF_INIT(0), hdr = BUF_INIT(0), hl = BUF_INIT(0);
	unsigned char bh[SHA256_DIGEST_LENGTH], hh[SHA256_DIGEST_LENGTH];
	unsigned char sig[64];
	size_t nf, body, i, col, siglen = sizeof(sig);
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *md = NULL;
	BIO *bio = NULL;
	char part[512];
	int rc = -1;

	nf = split_header(msg, len, fl, FIELDS_MAX, &body);

	/* bh=: the hash of the canonical body. */
	smtp_dkim_canon_body(msg + body, len - body, &canon);
	SHA256((const unsigned char *)(canon.data ? canon.data : ""),
	    canon.len, bh);
	buf_reset(&canon);

	/* The fields signed, each instance from the bottom up (RFC 6376
	 * 5.4.2), and their canonical form into canon. */
	for (const char *const *s = signed_fields; *s != NULL; s++) {
		size_t sl = strlen(*s);

		for (i = nf; i-- > 0;) {
			if (fl[i].namelen != sl ||
			    gms_strncasecmp(fl[i].p, *s, sl) != 0)
				continue;
			if (hl.len > 0)
				(void)buf_putc(&hl, ':');
			(void)buf_puts(&hl, *s);
			smtp_dkim_canon_header(fl[i].p, fl[i].len, &canon);
		}
	}
	if (hl.len == 0)
		goto out;	/* no From: nothing to sign for */

	/* The signature field with b= empty, folded as it will be sent. */
	(void)buf_puts(&hdr, "DKIM-Signature: v=1; a=ed25519-sha256;");
	col = hdr.len;
	put_folded(&hdr, " c=relaxed/relaxed;", &col);
	if (gms_snprintf(part, sizeof(part), " d=%s;", domain) < 0)
		goto out;
	put_folded(&hdr, part, &col);
	if (gms_snprintf(part, sizeof(part), " s=%s;", selector) < 0)
		goto out;
	put_folded(&hdr, part, &col);
	(void)gms_snprintf(part, sizeof(part), " t=%lld;", (long long)now);
	put_folded(&hdr, part, &col);
	put_folded(&hdr, " h=", &col);
	{
		/* The list, folded at its colons. */
		const char *p = buf_cstr(&hl);

		while (*p != '\0') {
			const char *c = strchr(p, ':');
			size_t n = c != NULL ? (size_t)(c - p) + 1 : strlen(p);

			if (n >= sizeof(part))
				goto out;
			memcpy(part, p, n);
			part[n] = '\0';
			put_folded(&hdr, part, &col);
			p += n;
		}
		put_folded(&hdr, ";", &col);
	}
	{
		struct buf e = BUF_INIT(0);

		(void)buf_puts(&e, " bh=");
		b64(bh, sizeof(bh), &e);
		(void)buf_putc(&e, ';');
		put_folded(&hdr, buf_cstr(&e), &col);
		buf_free(&e);
	}
	/* " b=" and the start of its value on one line. */
	if (col + 3 + 16 > 76) {
		(void)buf_puts(&hdr, "\r\n\t");
		col = 1;
	}
	put_folded(&hdr, " b=", &col);

	/* The header hash input ends with this field, canonical, without
	 * its final CRLF (RFC 6376 3.7). */
	smtp_dkim_canon_header(hdr.data, hdr.len, &canon);
	canon.len -= 2;		/* the CRLF just added */
	SHA256((const unsigned char *)canon.data, canon.len, hh);

	/* Ed25519 (PureEdDSA) over the SHA-256 hash (RFC 8463 3). */
	if ((bio = BIO_new_mem_buf(pem, (int)pemlen)) == NULL ||
	    (key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL ||
	    EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519 ||
	    (md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, NULL, NULL, key) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, hh, sizeof(hh)) != 1 ||
	    siglen != sizeof(sig))
		goto out;
	{
		struct buf e = BUF_INIT(0);
		size_t k;

		b64(sig, siglen, &e);
		/* b= in pieces that fit the line. */
		for (k = 0; k < e.len;) {
			size_t room = col < 76 ? 76 - col : 0, take;

			if (room < 8) {
				(void)buf_puts(&hdr, "\r\n\t");
				col = 1;
				room = 75;
			}
			take = e.len - k < room ? e.len - k : room;
			(void)buf_append(&hdr, e.data + k, take);
			col += take;
			k += take;
		}
		buf_free(&e);
	}
	(void)buf_puts(&hdr, "\r\n");
	if (buf_append(out, hdr.data, hdr.len) == 0)
		rc = 0;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	BIO_free(bio);
	buf_free(&canon);
	buf_free(&hdr);
	buf_free(&hl);
	free(fl);
	return rc;
}
