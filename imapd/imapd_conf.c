/*
 * imapd_conf.c - the imapd.* keys of gms.conf (one declarative table,
 * registered by gms-imapd and by gmsadm, which links this file alone so
 * that "gmsadm config check" validates them; documented in gms.conf(5),
 * regenerated from this table by man/gen-gms-conf.py).  Each limit has a
 * default and a range checked by the loader of lib/.
 */
#include "config.h"

#include "imapd/imapd.h"

const struct conf_def imapd_conf_table[] = {
	{ "imapd.listen", CONF_STR, "0.0.0.0:143", 0, 0, NULL,
	  "addresses for IMAP with STARTTLS (empty: off)" },
	{ "imapd.imaps_listen", CONF_STR, "0.0.0.0:993", 0, 0, NULL,
	  "addresses for IMAP over implicit TLS (empty: off)" },
	{ "imapd.max_sessions", CONF_INT, "1000", 1, 100000, NULL,
	  "sessions at most" },
	{ "imapd.max_sessions_per_ip", CONF_INT, "50", 1, 100000, NULL,
	  "sessions at most from one client address" },
	{ "imapd.timeout", CONF_TIME, "30m", 60, 86400, NULL,
	  "autologout of an authenticated session idle this long" },
	{ "imapd.preauth_timeout", CONF_TIME, "60s", 5, 3600, NULL,
	  "time a client has to log in" },
	{ "imapd.idle_timeout", CONF_TIME, "29m", 60, 86400, NULL,
	  "IDLE ends after this long without DONE" },
	{ "imapd.line_max", CONF_SIZE, "64k", 1024, 16 * 1024 * 1024, NULL,
	  "longest command line after login (bytes)" },
	{ "imapd.literal_max", CONF_SIZE, "64m", 1024, 1024LL * 1024 * 1024,
	  NULL, "largest literal after login (APPEND message)" },
	{ "imapd.command_max", CONF_SIZE, "80m", 4096, 2048LL * 1024 * 1024,
	  NULL, "largest command with its literals after login" },
	{ "imapd.bad_commands_max", CONF_INT, "20", 1, 10000, NULL,
	  "BAD answers before the session is closed with BYE" },
	{ "imapd.fetch_max_messages", CONF_INT, "1000000", 1, 100000000, NULL,
	  "messages one FETCH, STORE or COPY may address" },
	{ NULL, CONF_STR, NULL, 0, 0, NULL, NULL }
};
