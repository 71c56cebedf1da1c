/*
 * fuzz-imap-reader.c - libFuzzer target for gms-imapd's command reader:
 * the input is what a client sends (lines, literal announcements of any
 * size, literal data, NULs, bare CR/LF).  Commands are read one after the
 * other under small limits until the input ends or a fatal result; each
 * assembled command is then run through the tag/name parser.  Memory must
 * stay bounded by the limits whatever size a literal announces.
 * Build: make fuzz-imap; run e.g.
 *   tests/fuzz/fuzz-imap-reader -max_total_time=60 -max_len=8192
 */
#include "config.h"

#include <stdint.h>

#include "imapd/imapd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct imap_limits lim = { 512, 1024, 4096 };
	struct imap_memsrc m;
	struct imap_src src;
	struct buf cmd = BUF_INIT(8192);
	struct arena a = { NULL, 0 };
	struct imap_parser p;
	const char *tag;
	char *name;
	size_t len;
	int io, r, i;

	imap_memsrc_init(&m, &src, (const char *)data, size);
	for (i = 0; i < 1000; i++) {
		r = imap_read_command(&src, &lim, &cmd, &io);
		if (cmd.len > lim.command_max + lim.line_max + 2)
			__builtin_trap();
		if (r == IMAP_READ_EOF || r == IMAP_READ_IOERR ||
		    r == IMAP_READ_TOOBIG_FATAL)
			break;
		if (r != IMAP_READ_OK)
			continue;
		imap_parser_init(&p, cmd.data, cmd.len, &a);
		if (imap_p_tag(&p, &tag, &len) == 0 && imap_p_sp(&p) == 0)
			(void)imap_p_atom(&p, &name);
		arena_clear(&a);
	}
	buf_free(&cmd);
	imap_memsrc_free(&m);
	return 0;
}
