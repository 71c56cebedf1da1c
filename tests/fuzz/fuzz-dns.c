/*
 * fuzz-dns.c - libFuzzer target for the DNS message parser of lib/dns.c:
 * any bytes as an answer must parse or be refused, and every record of
 * every section of a message that parsed must walk, expand and decode
 * within its bounds (ASan checks each read), never a crash or a loop.
 * The same bytes also go through the server address parser.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gms.h"
#include "gms-dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_msg m;
	struct sockaddr_storage ss;
	socklen_t sslen;
	unsigned char *copy;
	int s;

	/* An exact-size heap copy: a read past the end is caught. */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	(void)dns_server_parse((const char *)copy, size, &ss, &sslen);
	if (dns_msg_parse(&m, copy, size) == 0) {
		for (s = DNS_S_QD; s <= DNS_S_AR; s++) {
			struct dns_iter it;
			struct dns_rr rr;
			unsigned n = 0;

			dns_iter_init(&m, &it, s);
			while (n++ < 70000 && dns_iter_next(&m, &it, &rr) == 1) {
				char name[DNS_NAME_MAX], txt[65536 + 1];

				if (rr.rdlen > 0)
					(void)dns_txt_decode(rr.rdata, rr.rdlen,
					    txt, sizeof(txt));
				/* Names inside RDATA (MX, PTR, CNAME...). */
				(void)dns_name_expand(copy, size, rr.rdoff,
				    name, sizeof(name), NULL);
				if (rr.rdlen > 2)
					(void)dns_name_expand(copy, size,
					    rr.rdoff + 2, name, sizeof(name),
					    NULL);
			}
		}
	}
	free(copy);
	return 0;
}
