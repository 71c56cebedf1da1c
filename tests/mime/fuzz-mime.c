/*
 * fuzz-mime.c - libFuzzer target for the spool's MIME parser and its
 * RFC 2047 decoder: any input must parse within the limits, the part
 * table must stay inside the input, and every section lookup must
 * answer without reading outside it.  Built by "make fuzz" (clang).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spool/spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spool_cache c;
	struct buf out = BUF_INIT(1 << 20);
	uint32_t path[3] = { 1, 2, 1 };
	uint64_t off, len;
	size_t i, d;

	spool_mime_parse(data, size, 50, 500, &c);
	if (c.nparts == 0 || c.nparts > 500 || c.envelope == NULL ||
	    c.bodystructure == NULL || c.body == NULL)
		abort();
	for (i = 0; i < c.nparts; i++) {
		const struct spool_part *p = &c.parts[i];

		if (p->offset > size || p->header_size > size - p->offset ||
		    p->body_size > size - p->offset - p->header_size)
			abort();
	}
	for (d = 0; d <= 3; d++) {
		int what;

		for (what = SPOOL_SECT_ALL; what <= SPOOL_SECT_MIME; what++) {
			if (spool_section_find(c.parts, c.nparts, path, d, what,
			    &off, &len) == SPOOL_OK && (off > size ||
			    len > size - off))
				abort();
		}
	}
	spool_cache_free(&c);
	(void)spool_mime_decode_header((const char *)data, size, &out);
	buf_free(&out);
	return 0;
}
