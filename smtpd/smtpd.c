/*
 * smtpd.c - main() of gms-smtpd and its configuration table.
 *
 * gms-smtpd [-f] [-n] [-c CONFIG]: register the configuration tables of
 * lib/, spool/, directory/ and smtpd/, load gms.conf, print it and exit
 * with -n, else hand over to the server loop of lib/ (listen, TLS, drop
 * privileges, one thread per session).  The directory, the mailstore,
 * the DKIM/SPF/DMARC libraries and the AUTH throttle are set up once,
 * after the privileges are dropped (smtpd_setup, the after_setup hook),
 * so that the environment files are created by the gms user.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd/smtp_private.h"
#include "relay/relay.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

static const struct listen_spec smtpd_listen[] = {
	{ "smtpd.listen", LISTEN_PLAIN, SMTP_KIND_MTA },
	{ "smtpd.submission_listen", LISTEN_PLAIN, SMTP_KIND_SUBMISSION },
	{ "smtpd.submissions_listen", LISTEN_IMPLICIT, SMTP_KIND_SUBMISSIONS },
	{ NULL, LISTEN_PLAIN, 0 },
};

const char *
smtp_ar_name(int r)
{
	static __thread char unknown[32];

	switch (r) {
	case SMTP_AR_NONE:	return "none";
	case SMTP_AR_PASS:	return "pass";
	case SMTP_AR_FAIL:	return "fail";
	case SMTP_AR_SOFTFAIL:	return "softfail";
	case SMTP_AR_NEUTRAL:	return "neutral";
	case SMTP_AR_TEMPERROR:	return "temperror";
	case SMTP_AR_PERMERROR:	return "permerror";
	case SMTP_AR_POLICY:	return "policy";
	default:
		(void)gms_snprintf(unknown, sizeof(unknown), "unknown (%d)", r);
		return unknown;
	}
}

/* smtpd_relay_local - the relay asks whether a DSN's recipient (the
 * original sender) is one of our mailboxes: 1 (user_r gets the canonical
 * address), 0, or -1 when the directory is unavailable. */
static int
smtpd_relay_local(void *arg, const char *address, char *user_r, size_t len)
{
	struct dir_mailbox mb;
	int r;

	(void)arg;
	r = directory_mailbox(smtpd_ctx.dir, address, &mb);
	if (r == DIR_TEMPFAIL)
		return -1;
	if (r != DIR_FOUND)
		return 0;
	return gms_strlcpy(user_r, mb.address, len) == 0 ? 1 : 0;
}

/* smtpd_dns_setup - create or reconfigure smtpd_ctx.dns from
 * smtpd.dns_server, smtpd.dns_timeout and smtpd.dns_retries. */
static int
smtpd_dns_setup(const struct conf *c)
{
	const char *srv = conf_str(c, "smtpd.dns_server");
	int to = (int)conf_int(c, "smtpd.dns_timeout") * 1000;
	int retries = (int)conf_int(c, "smtpd.dns_retries");
	char err[256], d[256];
	int r;

	if (smtpd_ctx.dns == NULL) {
		smtpd_ctx.dns = dns_resolver_new(srv, to, retries, err,
		    sizeof(err));
		r = smtpd_ctx.dns != NULL ? 0 : -1;
	} else
		r = dns_resolver_configure(smtpd_ctx.dns, srv, to, retries, err,
		    sizeof(err));
	if (r != 0) {
		log_errorx("event=config_error key=smtpd.dns_server error=\"%s\"",
		    err);
		return -1;
	}
	dns_resolver_describe(smtpd_ctx.dns, d, sizeof(d));
	log_info("event=dns_resolver servers=\"%s\" timeout_ms=%d retries=%d",
	    d, to, retries);
	return 0;
}

int
smtpd_setup(struct conf *c)
{
	struct throttle_config tc;
	char err[256];
	int r;

	/* After a reload the handles stay; only the first call opens. */
	if (smtpd_ctx.dir == NULL) {
		smtpd_ctx.dir = directory_open(c, 0, err, sizeof(err));
		if (smtpd_ctx.dir == NULL) {
			log_errorx("event=directory_error error=\"%s\"", err);
			return -1;
		}
	}
	if (smtpd_ctx.spool == NULL) {
		r = spool_open_conf(c, &smtpd_ctx.spool);
		if (r != SPOOL_OK) {
			log_errorx("event=spool_error error=%s",
			    spool_err_name(r));
			return -1;
		}
	}
	if (smtpd_ctx.throttle == NULL) {
		throttle_defaults(&tc);
		tc.account.free = (unsigned int)conf_int(c,
		    "smtpd.auth_free_failures");
		tc.account.delay_ms = (unsigned int)conf_int(c,
		    "smtpd.auth_delay_ms");
		tc.account.max_delay_ms = (unsigned int)conf_int(c,
		    "smtpd.auth_max_delay_ms");
		tc.account.lockout = (unsigned int)conf_int(c,
		    "smtpd.auth_lockout_failures");
		tc.account.lockout_s = (unsigned int)conf_int(c,
		    "smtpd.auth_lockout_time");
		tc.addr.delay_ms = tc.account.delay_ms;
		tc.addr.max_delay_ms = tc.account.max_delay_ms;
		smtpd_ctx.throttle = throttle_new(&tc);
	}
	/* One resolver for SPF, DKIM and DMARC (a reload reconfigures it
	 * in place: sessions running keep working). */
	if (smtpd_dns_setup(c) != 0)
		return -1;
	smtpd_ctx.spf_ready = smtp_spf_setup(c) == 0;
	smtpd_ctx.dkim_ready = smtp_dkim_setup(c) == 0;
	if (smtp_dmarc_setup(c) != 0)
		log_warnx("event=dmarc_unavailable");
	/* The outbound queue runner (a no-op after a reload). */
	relay_set_local(smtpd_relay_local, NULL);
	if (relay_start(c, smtpd_ctx.spool) != 0)
		return -1;
	return 0;
}

static void
print_key(const struct conf_def *def, const char *value, bool set, void *arg)
{
	(void)arg;
	printf("%s = %s%s\n", def->key, value, set ? "" : "\t# default");
}

static void
usage(void)
{
	fprintf(stderr, "usage: gms-smtpd [-fn] [-c config]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct server_def def = {
		.name = "gms-smtpd",
		.conf_prefix = "smtpd",
		.listen = smtpd_listen,
		.serve = smtp_serve,
		.busy_reply = "421 4.3.2 Too many connections, try again later",
		.after_setup = smtpd_setup,
	};
	const char *path = SYSCONFDIR "/gms/gms.conf";
	bool foreground = false, print = false;
	struct conf *c;
	char err[512];
	int ch, rc;

	while ((ch = getopt(argc, argv, "c:fn")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'n':
			print = true;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	conf_register(lib_conf_table);
	conf_register(spool_conf_table);
	conf_register(directory_conf_table);
	conf_register(smtpd_conf_table);
	conf_register(relay_conf_table);
	c = conf_load(path, err, sizeof(err));
	if (c == NULL) {
		fprintf(stderr, "gms-smtpd: %s\n", err);
		return 1;
	}
	if (print) {
		printf("# %s\n", conf_path(c));
		conf_foreach(c, print_key, NULL);
		conf_free(&c);
		return 0;
	}
	log_init("gms-smtpd", foreground);
	if (gsasl_init("gms-smtpd") != 0) {
		log_errorx("event=sasl_error");
		return 1;
	}
	rc = server_main(&def, c, foreground);
	relay_stop();
	smtp_cmd_stats_log();
	gsasl_done();
	return rc;
}
