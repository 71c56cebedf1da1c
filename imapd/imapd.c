/*
 * imapd.c - main() of gms-imapd: options, configuration, the process-wide
 * handles (mailstore, directory, login throttle) and the server loop.
 *
 *   gms-imapd [-f] [-n] [-c CONFIG]
 *     -f  stay in the foreground and log to stderr
 *     -n  check the configuration and exit (0 when it is valid)
 *     -c  the configuration file (default SYSCONFDIR/gms/gms.conf)
 *
 * The mailstore and the directory are opened after the privileges were
 * dropped (server_def.after_setup), so that every file the store creates
 * belongs to the gms user.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "imapd/imapd.h"
#include "spool/spool.h"
#include "directory/directory.h"

struct spool *imapd_spool;
struct directory *imapd_dir;
struct throttle *imapd_throttle;

/* Listeners: kind 0 is the STARTTLS one, 1 the implicit TLS one. */
static const struct listen_spec imapd_listen[] = {
	{ "imapd.listen", LISTEN_PLAIN, 0 },
	{ "imapd.imaps_listen", LISTEN_IMPLICIT, 1 },
	{ NULL, LISTEN_PLAIN, 0 }
};

/* imapd_after_setup - open the store and the directory once. */
static int
imapd_after_setup(struct conf *c)
{
	char err[256];
	int r;

	if (imapd_spool == NULL) {
		r = spool_open_conf(c, &imapd_spool);
		if (r != SPOOL_OK) {
			log_errorx("cannot open the mailstore: %s",
			    spool_strerror(r));
			return -1;
		}
	}
	if (imapd_dir == NULL) {
		imapd_dir = directory_open(c, 0, err, sizeof(err));
		if (imapd_dir == NULL) {
			log_errorx("cannot open the directory: %s", err);
			return -1;
		}
	}
	return 0;
}

static const struct server_def imapd_server = {
	.name = "gms-imapd",
	.conf_prefix = "imapd",
	.listen = imapd_listen,
	.serve = imapd_serve,
	.busy_reply = "* BYE [UNAVAILABLE] Too many connections, try later",
	.after_setup = imapd_after_setup,
};

static void
usage(void)
{
	(void)fprintf(stderr, "usage: gms-imapd [-f] [-n] [-c config]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *path = SYSCONFDIR "/gms/gms.conf";
	struct throttle_config tc;
	struct conf *c;
	bool foreground = false, check = false;
	char err[512];
	int ch, status;

	while ((ch = getopt(argc, argv, "fnc:")) != -1) {
		switch (ch) {
		case 'f':
			foreground = true;
			break;
		case 'n':
			check = true;
			break;
		case 'c':
			path = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	log_init("gms-imapd", foreground || check);
	conf_register(lib_conf_table);
	conf_register(spool_conf_table);
	conf_register(directory_conf_table);
	conf_register(imapd_conf_table);
	c = conf_load(path, err, sizeof(err));
	if (c == NULL) {
		log_errorx("%s", err);
		return 1;
	}
	if (check) {
		(void)fprintf(stderr, "%s: configuration OK\n", conf_path(c));
		conf_free(&c);
		return 0;
	}
	if (gsasl_init("gms-imapd") < 0)
		fatalx("cannot initialise SASL");
	throttle_defaults(&tc);
	imapd_throttle = throttle_new(&tc);
	status = server_main(&imapd_server, c, foreground);
	if (imapd_dir != NULL)
		directory_close(&imapd_dir);
	if (imapd_spool != NULL)
		spool_close(&imapd_spool);
	throttle_free(&imapd_throttle);
	gsasl_done();
	return status;
}
