/*
 * testcert.h - throwaway TLS material for the unit tests: a temporary
 * folder, self-signed P-256 certificates made with the OpenSSL 3 API, and
 * a client context.  Static functions only; included by one test file.
 */
#ifndef GMS_TESTCERT_H
#define GMS_TESTCERT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Write DIR/NAME.crt and DIR/NAME.key for a certificate of cn.  0 or -1. */
static int
testcert_make(const char *dir, const char *name, const char *cn)
{
	char path[512];
	EVP_PKEY *pkey;
	X509 *x;
	X509_NAME *xn;
	FILE *f;
	int ok = -1;

	pkey = EVP_EC_gen("P-256");
	x = X509_new();
	if (pkey == NULL || x == NULL)
		goto out;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(getpid() & 0xffff) + 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, pkey);
	xn = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(xn, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, xn);
	if (X509_sign(x, pkey, EVP_sha256()) == 0)
		goto out;
	snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		goto out;
	PEM_write_X509(f, x);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		goto out;
	PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	ok = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pkey);
	return ok;
}

/* A temporary folder (mkdtemp); the caller removes it with testcert_rmdir. */
static char *
testcert_tmpdir(void)
{
	static char tmpl[64];

	snprintf(tmpl, sizeof(tmpl), "/tmp/gms-unit-XXXXXX");
	return mkdtemp(tmpl);
}

static void
testcert_rmdir(const char *dir)
{
	char cmd[600];

	if (dir == NULL || strncmp(dir, "/tmp/gms-unit-", 14) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", dir);
}

/* The CN of the certificate the peer of ssl showed, into cn. */
static void
testcert_peer_cn(SSL *ssl, char *cn, size_t len)
{
	X509 *x = SSL_get1_peer_certificate(ssl);

	cn[0] = '\0';
	if (x == NULL)
		return;
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
	    (int)len);
	X509_free(x);
}

#endif
