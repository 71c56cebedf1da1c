/*
 * smtp_conf.c - the smtpd.* keys of gms.conf (one declarative table,
 * registered by gms-smtpd, gmsadm and the test tools; documented in
 * gms.conf(5)).  Each limit has a default and a range checked by the
 * loader of lib/.
 */
#include "config.h"

#include "smtpd/smtpd.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

const struct conf_def smtpd_conf_table[] = {
	{ "smtpd.listen", CONF_STR, "0.0.0.0:25", 0, 0, NULL,
	  "MTA listeners (addr:port ...), STARTTLS offered; empty: off" },
	{ "smtpd.submission_listen", CONF_STR, "0.0.0.0:587", 0, 0, NULL,
	  "submission listeners: STARTTLS before AUTH, AUTH before MAIL" },
	{ "smtpd.submissions_listen", CONF_STR, "0.0.0.0:465", 0, 0, NULL,
	  "submission listeners with implicit TLS (RFC 8314)" },
	{ "smtpd.hostname", CONF_STR, "", 0, 0, NULL,
	  "name in the greeting and Received fields (empty: host name)" },
	{ "smtpd.authserv_id", CONF_STR, "", 0, 0, NULL,
	  "authserv-id of Authentication-Results (empty: smtpd.hostname)" },
	{ "smtpd.postmaster", CONF_STR, "", 0, 0, NULL,
	  "address that receives mail for <postmaster>" },
	{ "smtpd.max_sessions", CONF_INT, "500", 1, 100000, NULL,
	  "concurrent sessions at most" },
	{ "smtpd.max_sessions_per_ip", CONF_INT, "20", 1, 100000, NULL,
	  "concurrent sessions per client address at most" },
	{ "smtpd.timeout", CONF_TIME, "300", 5, 3600, NULL,
	  "command timeout (RFC 5321 4.5.3.2: 5 minutes)" },
	{ "smtpd.data_timeout", CONF_TIME, "180", 5, 3600, NULL,
	  "timeout per read during DATA/BDAT (RFC 5321: 3 minutes)" },
	{ "smtpd.greet_pause_ms", CONF_INT, "500", 0, 30000, NULL,
	  "wait before the greeting; a client that talks first gets 554" },
	{ "smtpd.max_line", CONF_SIZE, "1000", 512, 65536, NULL,
	  "longest command line (RFC 5321: 512 at least)" },
	{ "smtpd.max_message_size", CONF_SIZE, "25m", 1024, 1073741824LL, NULL,
	  "largest message (advertised in SIZE, enforced while reading)" },
	{ "smtpd.max_recipients", CONF_INT, "100", 1, 100000, NULL,
	  "recipients per message (LIMITS RCPTMAX)" },
	{ "smtpd.max_transactions", CONF_INT, "50", 1, 100000, NULL,
	  "mail transactions per session (LIMITS MAILMAX)" },
	{ "smtpd.max_errors", CONF_INT, "20", 1, 1000, NULL,
	  "error replies before the session is closed" },
	{ "smtpd.max_junk", CONF_INT, "50", 1, 10000, NULL,
	  "NOOP, VRFY, EXPN, HELP and unknown commands before closing" },
	{ "smtpd.bare_newline", CONF_ENUM, "reject", 0, 0, "reject|normalise",
	  "bare CR or LF in DATA: reject (5.5.2) or turn into CRLF" },
	{ "smtpd.eightbit_headers", CONF_ENUM, "reject", 0, 0, "reject|accept",
	  "non-ASCII header fields without SMTPUTF8" },
	{ "smtpd.dns_server", CONF_STR, "", 0, 0, NULL,
	  "DNS server for SPF/DKIM/DMARC (ADDR or ADDR:PORT; empty: system)" },
	{ "smtpd.spf", CONF_BOOL, "yes", 0, 0, NULL,
	  "check SPF for MAIL FROM and HELO" },
	{ "smtpd.spf_reject_fail", CONF_BOOL, "yes", 0, 0, NULL,
	  "reject MAIL with 550 5.7.23 when SPF fails" },
	{ "smtpd.dkim_verify", CONF_BOOL, "yes", 0, 0, NULL,
	  "verify DKIM signatures of incoming mail" },
	{ "smtpd.dkim_sign", CONF_BOOL, "yes", 0, 0, NULL,
	  "DKIM-sign submitted mail from our domains" },
	{ "smtpd.dkim_key_dir", CONF_STR, SYSCONFDIR "/gms/dkim", 0, 0, NULL,
	  "signing keys: DOMAIN.SELECTOR.key (PEM, RSA or Ed25519)" },
	{ "smtpd.dmarc", CONF_BOOL, "yes", 0, 0, NULL,
	  "apply DMARC: reject -> 550 5.7.1, quarantine -> Junk" },
	{ "smtpd.auth_free_failures", CONF_INT, "3", 0, 1000, NULL,
	  "failed AUTH per account without delay" },
	{ "smtpd.auth_delay_ms", CONF_INT, "1000", 0, 60000, NULL,
	  "first AUTH failure delay, doubled per failure" },
	{ "smtpd.auth_max_delay_ms", CONF_INT, "16000", 0, 600000, NULL,
	  "cap of the AUTH failure delay" },
	{ "smtpd.auth_lockout_failures", CONF_INT, "10", 0, 100000, NULL,
	  "failures of one account that lock it out (0: never)" },
	{ "smtpd.auth_lockout_time", CONF_TIME, "900", 1, 86400, NULL,
	  "length of an AUTH lockout" },
	{ NULL, CONF_STR, NULL, 0, 0, NULL, NULL },
};
