/*
 * test-smtp-dkim.c - our ed25519-sha256 DKIM signer (smtpd/smtp_dkim_ed.c):
 * relaxed canonicalization against the example of RFC 6376 3.4.6 and
 * other edge cases, and signatures checked with OpenSSL against a hash
 * this test computes by its own rules (an independent verifier, dkimpy,
 * checks them end to end in tests/protocol/test_smtp.py).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "smtpd/smtp_private.h"
#include "tests/unit/unit.h"

static char *
canon_h(const char *f)
{
	struct buf b = BUF_INIT(0);
	char *s;

	smtp_dkim_canon_header(f, strlen(f), &b);
	s = xstrdup(buf_cstr(&b));
	buf_free(&b);
	return s;
}

static char *
canon_b(const char *f)
{
	struct buf b = BUF_INIT(0);
	char *s;

	smtp_dkim_canon_body(f, strlen(f), &b);
	s = xstrdup(b.data ? buf_cstr(&b) : "");
	buf_free(&b);
	return s;
}

/* tag - the value of tag t= in the field (unfolded), into dst. */
static int
tag(const char *field, const char *t, char *dst, size_t n)
{
	char pat[16];
	const char *p;
	size_t k = 0;

	snprintf(pat, sizeof(pat), " %s=", t);
	if ((p = strstr(field, pat)) == NULL)
		return -1;
	for (p += strlen(pat); *p != '\0' && *p != ';' && k + 1 < n; p++)
		if (*p != '\r' && *p != '\n' && *p != '\t' && *p != ' ')
			dst[k++] = *p;
	dst[k] = '\0';
	return 0;
}

int
main(void)
{
	static const char msg[] =
	    "From: Alice <alice@gov.test>\r\n"
	    "To: bob@example.test\r\n"
	    "Subject:  Budget   2027\r\n"
	    "\t(draft)\r\n"
	    "X-Not-Signed: yes\r\n"
	    "Received: from x\r\n"
	    "\r\n"
	    "Hello  \t world \r\n"
	    "\r\n"
	    "\r\n";
	char *s, bh[128], b[256], want_bh[64];
	unsigned char dig[SHA256_DIGEST_LENGTH], hh[SHA256_DIGEST_LENGTH];
	unsigned char sig[128];
	struct buf out = BUF_INIT(0), hin = BUF_INIT(0);
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *kc;
	BIO *bio;
	char *pem;
	long pemlen;
	int r;

	/* RFC 6376 3.4.6. */
	s = canon_h("A: X\r\n");
	CHECK_STR(s, "a:X\r\n", "header A: X");
	free(s);
	s = canon_h("B : Y\t\r\n\tZ  \r\n");
	CHECK_STR(s, "b:Y Z\r\n", "header B : Y<TAB><CRLF><TAB>Z");
	free(s);
	s = canon_b(" C \r\nD \t E\r\n\r\n\r\n");
	CHECK_STR(s, " C\r\nD E\r\n", "body of the RFC 6376 example");
	free(s);
	/* Edge cases. */
	s = canon_b("");
	CHECK_STR(s, "", "an empty body stays empty");
	free(s);
	s = canon_b("\r\n\r\n");
	CHECK_STR(s, "", "a body of empty lines is empty");
	free(s);
	s = canon_b("no line end");
	CHECK_STR(s, "no line end\r\n", "a CRLF is added to the last line");
	free(s);
	s = canon_b("a\n\nb  \n");
	CHECK_STR(s, "a\r\n\r\nb\r\n", "LF line ends, an inner empty line kept");
	free(s);
	s = canon_h("SUBJECT:x");
	CHECK_STR(s, "subject:x\r\n", "name lowercased, no space added");
	free(s);
	s = canon_h("Subject:   \r\n");
	CHECK_STR(s, "subject:\r\n", "an empty value");
	free(s);

	/* A key pair. */
	kc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	CHECK(kc != NULL && EVP_PKEY_keygen_init(kc) == 1 &&
	    EVP_PKEY_keygen(kc, &key) == 1, "an Ed25519 key");
	EVP_PKEY_CTX_free(kc);
	bio = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
	pemlen = BIO_get_mem_data(bio, &pem);

	r = smtp_dkim_ed25519_sign("gov.test", "ed1", pem, (size_t)pemlen,
	    msg, sizeof(msg) - 1, 1800000000, &out);
	CHECK(r == 0 && out.len > 0, "signed");
	printf("# %s", out.data ? buf_cstr(&out) : "(nothing)\n");
	CHECK(out.data != NULL && strncmp(out.data, "DKIM-Signature: v=1; "
	    "a=ed25519-sha256;", 37) == 0, "field name, v= and a= first");
	{
		const char *p, *line = out.data ? out.data : "";
		int longest = 0, ok = 1;

		for (p = line; *p != '\0'; p++) {
			const char *e = strstr(p, "\r\n");

			if (e == NULL) {
				ok = 0;
				break;
			}
			if (e - p > longest)
				longest = (int)(e - p);
			if (e[2] != '\0' && e[2] != '\t')
				ok = 0;
			p = e + 1;
		}
		CHECK(ok && longest <= 78, "folded with CRLF TAB, lines of at "
		    "most 78 (longest %d)", longest);
	}
	CHECK(tag(buf_cstr(&out), "h", b, sizeof(b)) == 0 &&
	    strcmp(b, "from:subject:to") == 0,
	    "h= lists From, Subject, To (got %s)", b);
	CHECK(tag(buf_cstr(&out), "t", b, sizeof(b)) == 0 &&
	    strcmp(b, "1800000000") == 0, "t= is the time given");
	CHECK(tag(buf_cstr(&out), "d", b, sizeof(b)) == 0 &&
	    strcmp(b, "gov.test") == 0 &&
	    tag(buf_cstr(&out), "s", bh, sizeof(bh)) == 0 &&
	    strcmp(bh, "ed1") == 0, "d= and s=");

	/* bh= by this test's own reading of relaxed body canonicalization. */
	SHA256((const unsigned char *)"Hello world\r\n", 13, dig);
	EVP_EncodeBlock((unsigned char *)want_bh, dig, sizeof(dig));
	CHECK(tag(buf_cstr(&out), "bh", bh, sizeof(bh)) == 0 &&
	    strcmp(bh, want_bh) == 0, "bh= (got %s want %s)", bh, want_bh);

	/* b= over: the signed fields (relaxed, in h= order), then the
	 * signature field with an empty b= and no final CRLF. */
	(void)buf_puts(&hin, "from:Alice <alice@gov.test>\r\n"
	    "subject:Budget 2027 (draft)\r\n"
	    "to:bob@example.test\r\n");
	{
		const char *f = buf_cstr(&out), *bpos = strstr(f, " b=");
		struct buf sf = BUF_INIT(0);

		CHECK(bpos != NULL, "b= present");
		if (bpos != NULL) {
			(void)buf_append(&sf, f, (size_t)(bpos - f) + 3);
			smtp_dkim_canon_header(sf.data, sf.len, &hin);
			hin.len -= 2;
		}
		buf_free(&sf);
	}
	SHA256((const unsigned char *)hin.data, hin.len, hh);
	r = tag(buf_cstr(&out), "b", b, sizeof(b));
	{
		int n = EVP_DecodeBlock(sig, (const unsigned char *)b,
		    (int)strlen(b));
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		/* EVP_DecodeBlock counts the padding as zero bytes. */
		CHECK(r == 0 && n == 66, "b= holds 64 bytes");
		CHECK(md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL,
		    key) == 1 && EVP_DigestVerify(md, sig, 64, hh,
		    sizeof(hh)) == 1, "the signature verifies over the hash "
		    "of the canonical fields");
		/* And fails over anything else. */
		hh[0] ^= 1;
		CHECK(EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) == 1 &&
		    EVP_DigestVerify(md, sig, 64, hh, sizeof(hh)) != 1,
		    "a changed hash does not verify");
		EVP_MD_CTX_free(md);
	}

	/* Refusals. */
	buf_reset(&out);
	CHECK(smtp_dkim_ed25519_sign("gov.test", "ed1", pem, (size_t)pemlen,
	    "X-Only: 1\r\n\r\nbody\r\n", 20, 1, &out) < 0 && out.len == 0,
	    "no signable field: refused, nothing written");
	{
		static const char junk[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n"
		    "-----END PRIVATE KEY-----\n";

		CHECK(smtp_dkim_ed25519_sign("gov.test", "ed1", junk,
		    sizeof(junk) - 1, msg, sizeof(msg) - 1, 1, &out) < 0 &&
		    out.len == 0, "a broken key: refused");
	}
	{
		EVP_PKEY *rsa = NULL;
		BIO *rb = BIO_new(BIO_s_mem());
		char *rp;
		long rl;

		kc = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
		(void)EVP_PKEY_keygen_init(kc);
		(void)EVP_PKEY_CTX_set_rsa_keygen_bits(kc, 1024);
		(void)EVP_PKEY_keygen(kc, &rsa);
		EVP_PKEY_CTX_free(kc);
		PEM_write_bio_PrivateKey(rb, rsa, NULL, NULL, 0, NULL, NULL);
		rl = BIO_get_mem_data(rb, &rp);
		CHECK(smtp_dkim_ed25519_sign("gov.test", "ed1", rp, (size_t)rl,
		    msg, sizeof(msg) - 1, 1, &out) < 0 && out.len == 0,
		    "an RSA key: refused");
		BIO_free(rb);
		EVP_PKEY_free(rsa);
	}
	BIO_free(bio);
	EVP_PKEY_free(key);
	buf_free(&out);
	buf_free(&hin);
	return unit_done();
}
