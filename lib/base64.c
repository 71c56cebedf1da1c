/*
 * base64.c - RFC 4648 base64, as SMTP AUTH (RFC 4954) and IMAP
 * AUTHENTICATE (RFC 9051) carry SASL exchanges.  Decoding is strict: only
 * the base64 alphabet, a length that is a multiple of four, padding only
 * at the end and unused bits zero, so that one text has one meaning.
 * Callers that hold secrets (SASL payloads) wipe the buffer afterwards.
 */
#include "config.h"

#include <string.h>

#include "gms.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* b64_value - the 6-bit value of c, or -1 outside the alphabet. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
base64_encode(struct buf *b, const void *p, size_t n)
{
	const unsigned char *s = p;
	char out[4];
	size_t i, outlen;

	if (n == 0)
		return 0;
	if (n / 3 > (SIZE_MAX - 4) / 4)
		return -1;
	outlen = (n + 2) / 3 * 4;
	if (buf_reserve(b, outlen) == -1)
		return -1;
	for (i = 0; i + 3 <= n; i += 3) {
		out[0] = b64_alphabet[s[i] >> 2];
		out[1] = b64_alphabet[((s[i] & 0x03) << 4) | (s[i + 1] >> 4)];
		out[2] = b64_alphabet[((s[i + 1] & 0x0f) << 2) | (s[i + 2] >> 6)];
		out[3] = b64_alphabet[s[i + 2] & 0x3f];
		if (buf_append(b, out, 4) == -1)
			return -1;
	}
	if (n - i == 1) {
		out[0] = b64_alphabet[s[i] >> 2];
		out[1] = b64_alphabet[(s[i] & 0x03) << 4];
		out[2] = '=';
		out[3] = '=';
		if (buf_append(b, out, 4) == -1)
			return -1;
	} else if (n - i == 2) {
		out[0] = b64_alphabet[s[i] >> 2];
		out[1] = b64_alphabet[((s[i] & 0x03) << 4) | (s[i + 1] >> 4)];
		out[2] = b64_alphabet[(s[i + 1] & 0x0f) << 2];
		out[3] = '=';
		if (buf_append(b, out, 4) == -1)
			return -1;
	}
	return 0;
}

int
base64_decode(struct buf *b, const char *p, size_t n)
{
	size_t i, start = b->len;
	unsigned char out[3];
	int v[4], k, pad;

	if (n % 4 != 0)
		return -1;
	if (n == 0)
		return 0;
	if (buf_reserve(b, n / 4 * 3) == -1)
		return -1;
	for (i = 0; i < n; i += 4) {
		pad = 0;
		for (k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)p[i + k];

			if (c == '=' && i + 4 == n && k >= 2) {
				/* "x=" needs the next char to be '=' too. */
				if (k == 2 && p[i + 3] != '=')
					goto bad;
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				goto bad;
			v[k] = b64_value(c);
			if (v[k] < 0)
				goto bad;
		}
		out[0] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
		out[1] = (unsigned char)(((v[1] & 0x0f) << 4) | (v[2] >> 2));
		out[2] = (unsigned char)(((v[2] & 0x03) << 6) | v[3]);
		/* Non-canonical encodings (unused bits set) are refused. */
		if ((pad == 2 && (v[1] & 0x0f) != 0) ||
		    (pad == 1 && (v[2] & 0x03) != 0))
			goto bad;
		if (buf_append(b, out, (size_t)(3 - pad)) == -1)
			goto bad;
	}
	return 0;
bad:
	/* Leave no partial (possibly secret) output behind. */
	if (b->data != NULL)
		gms_wipe(b->data + start, b->len - start);
	b->len = start;
	if (b->data != NULL)
		b->data[start] = '\0';
	return -1;
}
