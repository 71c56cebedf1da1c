/*
 * fuzz-linereader.c - libFuzzer target for the bounded line reader: any
 * bytes from the peer are split into lines of at most MAX bytes with
 * their endings reported, never a crash, an overrun or unbounded memory.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gms.h"

#define MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	struct conn *c;
	struct line l;
	int sv[2], r, guard = 0;
	size_t off = 0;

	if (!init) {
		log_init("fuzz-linereader", true);
		log_set_level(LOG_LVL_ERROR);
		init = true;
	}
	if (size > 65536)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	while (off < size) {
		ssize_t n = write(sv[1], data + off, size - off);

		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	shutdown(sv[1], SHUT_WR);
	c = conn_new(sv[0], 1000, -1);
	while ((r = conn_getline(c, &l, MAX)) == CONN_OK) {
		if (l.len > MAX || l.data[l.len] != '\0')
			abort();
		if (!l.has_nul && strlen(l.data) != l.len)
			abort();
		if (++guard > (int)size + 2)
			abort();	/* more lines than bytes: a loop */
	}
	if (r != CONN_EOF)
		abort();
	conn_free(&c);
	close(sv[1]);
	return 0;
}
