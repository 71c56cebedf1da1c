/*
 * lib-private.h - contracts between the files of lib/ that no program
 * may use: conn.c reaches the OpenSSL context behind a struct tls_ctx.
 */
#ifndef GMS_LIB_PRIVATE_H
#define GMS_LIB_PRIVATE_H

#include <openssl/ssl.h>

#include "gms.h"

/* The default SSL_CTX of t (borrowed while t is referenced). */
SSL_CTX *tls_ctx_ssl(struct tls_ctx *t);
/* True for contexts made by tls_server_new(). */
bool tls_ctx_is_server(const struct tls_ctx *t);
/* Put the last OpenSSL errors (or what) into err; clears the queue. */
void tls_error_string(char *err, size_t errlen, const char *what);

#endif
