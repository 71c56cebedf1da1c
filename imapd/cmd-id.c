/*
 * cmd-id.c - ID (RFC 2971): read the client's fields (bounded), log the
 * client's name and version, answer with ours.
 */
#include "config.h"

#include <string.h>

#include "imapd/imapd.h"

#define ID_PAIRS_MAX	30

int
cmd_id(struct imapd_session *s, struct imap_parser *p)
{
	char *k, *v, esc[128];
	size_t klen, vlen, n = 0;
	struct buf info = BUF_INIT(1024);

	if (imap_p_sp(p) < 0)
		return CMD_BAD;
	if (!imap_p_peek(p, '(')) {
		if (imap_p_nstring(p, &v, &vlen) < 0 || v != NULL)
			return imap_p_fail(p, IMAP_CODE_CLIENTBUG,
			    "Expected NIL or a list");
	} else {
		if (imap_p_list_begin(p) < 0)
			return CMD_BAD;
		while (!imap_p_peek(p, ')')) {
			if (n > 0 && imap_p_sp(p) < 0)
				return CMD_BAD;
			if (++n > ID_PAIRS_MAX)
				return imap_p_fail(p, IMAP_CODE_LIMIT,
				    "Too many ID fields");
			if (imap_p_string(p, &k, &klen) < 0 ||
			    imap_p_sp(p) < 0 ||
			    imap_p_nstring(p, &v, &vlen) < 0)
				return CMD_BAD;
			if (klen > 30 || (v != NULL && vlen > 1024))
				return imap_p_fail(p, IMAP_CODE_LIMIT,
				    "ID field too long");
			if (v != NULL && (gms_strcasecmp(k, "name") == 0 ||
			    gms_strcasecmp(k, "version") == 0)) {
				(void)log_escape(esc, sizeof(esc), v, vlen, 60);
				(void)buf_printf(&info, " %s=\"%s\"",
				    gms_strcasecmp(k, "name") == 0 ? "client" :
				    "version", esc);
			}
		}
		if (imap_p_list_end(p) < 0)
			return CMD_BAD;
	}
	if (imap_p_eol(p) < 0) {
		buf_free(&info);
		return CMD_BAD;
	}
	if (info.len > 0)
		log_info("id%s", buf_cstr(&info));
	buf_free(&info);
	(void)imapd_untagged(s, "ID (\"name\" \"GMS\" \"version\" \"%s\" "
	    "\"vendor\" \"GMS\")", PACKAGE_VERSION);
	return cmd_ok(s, NULL, "ID completed");
}
