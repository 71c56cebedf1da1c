/*
 * test-base64.c - lib/base64.c: the RFC 4648 test vectors, round trips of
 * every length and byte value, and the strict decoder refusing bad input
 * (wrong length, bad characters, padding in the middle, non-canonical
 * bits) without leaving partial output behind.
 */
#include "config.h"

#include "gms.h"
#include "unit.h"

static const struct {
	const char *plain;
	const char *enc;
} vectors[] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	{ "\0user\0pass", "AHVzZXIAcGFzcw==" },
};

static const char *const bad[] = {
	"Zg=", "Zg", "Zg=a", "Z===", "====", "Zm9v!A==", "Zm9 v", "Zm9v\n",
	"=Zm9", "Zm9vYg==Zm9v", "Zh==", "Zm9=", "Zm-v", "Zm_v", "Zm9vYmF\0",
};

int
main(void)
{
	struct buf b = BUF_INIT(0), d = BUF_INIT(0);
	unsigned char src[300];
	size_t i, n;
	bool ok;

	for (i = 0; i < GMS_NELEM(vectors); i++) {
		size_t plen = i == GMS_NELEM(vectors) - 1 ? 10 : strlen(vectors[i].plain);

		buf_reset(&b);
		CHECK(base64_encode(&b, vectors[i].plain, plen) == 0 &&
		    strcmp(buf_cstr(&b), vectors[i].enc) == 0,
		    "encode vector %zu -> \"%s\"", i, vectors[i].enc);
		buf_reset(&d);
		CHECK(base64_decode(&d, vectors[i].enc, strlen(vectors[i].enc)) == 0 &&
		    d.len == plen && memcmp(buf_cstr(&d), vectors[i].plain, plen) == 0,
		    "decode vector \"%s\"", vectors[i].enc);
	}

	ok = true;
	for (n = 0; n <= sizeof(src) && ok; n++) {
		for (i = 0; i < n; i++)
			src[i] = (unsigned char)(i * 37 + n);
		buf_reset(&b);
		buf_reset(&d);
		if (base64_encode(&b, src, n) != 0 || b.len != (n + 2) / 3 * 4 ||
		    base64_decode(&d, b.data != NULL ? b.data : "", b.len) != 0 ||
		    d.len != n || (n > 0 && memcmp(d.data, src, n) != 0))
			ok = false;
	}
	CHECK(ok, "round trip of every length 0..300 with all byte values");

	for (i = 0; i < GMS_NELEM(bad); i++) {
		size_t blen = strlen(bad[i]);

		if (i == GMS_NELEM(bad) - 1)
			blen = 8;	/* with the NUL inside */
		buf_reset(&d);
		buf_puts(&d, "keep");
		CHECK(base64_decode(&d, bad[i], blen) == -1 && d.len == 4 &&
		    strcmp(buf_cstr(&d), "keep") == 0,
		    "bad input %zu refused, buffer unchanged", i);
	}

	/* The buffer maximum is honoured. */
	{
		struct buf small = BUF_INIT(3);

		CHECK(base64_encode(&small, "foo", 3) == -1, "encode past the buffer max fails");
		CHECK(base64_decode(&small, "Zm9vYg==", 8) == -1 && small.len == 0,
		    "decode past the buffer max fails");
		buf_free(&small);
	}
	buf_free(&b);
	buf_free(&d);
	return unit_done();
}
