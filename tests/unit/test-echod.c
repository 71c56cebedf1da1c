/*
 * test-echod.c - a tiny daemon on lib/server.c for the protocol tests of
 * the server loop (tests/protocol/test_server.py): it answers every line
 * with "echo LINE", "STARTTLS" with a TLS handshake, "TLSINFO" with the
 * cipher in force and "QUIT" with "+OK bye".  When the server stops it
 * says "-ERR server stopping".  Built by "make check", not run by it.
 *
 * Usage: test-echod -f -c gms.conf   (keys echod.listen, echod.tls_listen,
 * echod.max_sessions, echod.max_sessions_per_ip, echod.timeout)
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gms.h"

static const struct conf_def echod_conf_table[] = {
	{ "echod.listen", CONF_STR, "", 0, 0, NULL, "plain listeners" },
	{ "echod.tls_listen", CONF_STR, "", 0, 0, NULL, "implicit TLS listeners" },
	{ "echod.max_sessions", CONF_INT, "100", 1, 100000, NULL, "sessions" },
	{ "echod.max_sessions_per_ip", CONF_INT, "100", 1, 100000, NULL,
	  "sessions per client address" },
	{ "echod.timeout", CONF_TIME, "60", 1, 3600, NULL, "idle timeout" },
	{ NULL, CONF_STR, NULL, 0, 0, NULL, NULL },
};

static const struct listen_spec echod_listen[] = {
	{ "echod.listen", LISTEN_PLAIN, 1 },
	{ "echod.tls_listen", LISTEN_IMPLICIT, 2 },
	{ NULL, LISTEN_PLAIN, 0 },
};

static void
echod_serve(struct session *s)
{
	struct line l;
	size_t discarded;
	int r;

	conn_printf(s->conn, "+OK echod ready %s\r\n", s->id);
	for (;;) {
		if (conn_flush(s->conn) < 0)
			return;
		r = conn_getline(s->conn, &l, 1000);
		if (r == CONN_STOP) {
			conn_printf(s->conn, "-ERR server stopping\r\n");
			(void)conn_flush(s->conn);
			return;
		}
		if (r == CONN_TIMEOUT) {
			conn_printf(s->conn, "-ERR timeout\r\n");
			(void)conn_flush(s->conn);
			return;
		}
		if (r != CONN_OK)
			return;
		if (strcmp(l.data, "QUIT") == 0) {
			conn_printf(s->conn, "+OK bye\r\n");
			(void)conn_flush(s->conn);
			return;
		}
		if (strcmp(l.data, "STARTTLS") == 0 && s->tls != NULL &&
		    !conn_is_tls(s->conn)) {
			conn_printf(s->conn, "+OK go\r\n");
			if (conn_starttls_server(s->conn, s->tls, &discarded) < 0)
				return;
			log_info("event=starttls discarded=%zu", discarded);
			continue;
		}
		if (strcmp(l.data, "TLSINFO") == 0) {
			conn_printf(s->conn, "+OK %s\r\n", conn_tls_info(s->conn));
			continue;
		}
		conn_printf(s->conn, "echo %s\r\n", l.data);
	}
}

static const struct server_def echod_def = {
	"gms-echod", "echod", echod_listen, echod_serve, "-ERR too busy", NULL,
};

int
main(int argc, char **argv)
{
	const char *path = NULL;
	struct conf *c;
	char err[512];
	int ch;

	while ((ch = getopt(argc, argv, "fc:")) != -1) {
		switch (ch) {
		case 'f':
			break;
		case 'c':
			path = optarg;
			break;
		default:
			return 2;
		}
	}
	log_init("gms-echod", true);
	conf_register(lib_conf_table);
	conf_register(echod_conf_table);
	c = conf_load(path, err, sizeof(err));
	if (c == NULL) {
		log_errorx("event=config_error error=\"%s\"", err);
		return 1;
	}
	return server_main(&echod_def, c, true);
}
