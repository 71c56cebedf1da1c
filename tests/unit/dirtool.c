/*
 * dirtool.c - a small command line entry point into directory/, for the
 * protocol tests (tests/protocol/test_directory.py) and for poking at a
 * directory by hand.  One operation per run (or one operation repeated,
 * to watch reconnects); the result goes to stdout as "result=WORD" and
 * then "key=value" lines.  Passwords are read from stdin, never argv.
 *
 *   dirtool -c gms.conf [-a | -u USER] COMMAND ARGS...
 *   -a opens the directory as the administrator (write commands);
 *   -u opens it bound as the mailbox USER (password: first stdin line).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gms.h"
#include "directory/directory.h"

static void usage(void) GMS_NORETURN;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: dirtool -c CONF [-a | -u USER] COMMAND ARGS\n"
	    "  domain D | mailbox A | resolve A | institution ID | alias A |\n"
	    "  list A | sendas USER FROM | maypost LIST SENDER |\n"
	    "  institutions [kind=K] [region=R] [country=C] | kinds |\n"
	    "  mailboxes|aliases|lists [DOMAIN] | domains [INST] | ping |\n"
	    "  auth USER (password on stdin) | passwd USER (old, new on stdin) |\n"
	    "  repeat N MS resolve|auth|domain ARG (auth: password on stdin)\n"
	    "  admin: add-mailbox A [NAME] (password on stdin, may be empty) |\n"
	    "  set-password A (stdin) | add-domain D INST | add-alias A OWNER T.. |\n"
	    "  add-list A POLICY [MEMBER..] | member-add L M | member-remove L M |\n"
	    "  suspend A | delete institution|domain|mailbox|alias|list KEY |\n"
	    "  add-institution ID KIND NAME_EN [NAME_SW]\n");
	exit(2);
}

/* rname - the word for a lookup result. */
static const char *
rname(int rc)
{
	switch (rc) {
	case DIR_FOUND:		return "found";
	case DIR_NOTFOUND:	return "notfound";
	case DIR_TEMPFAIL:	return "tempfail";
	case DIR_PERMFAIL:	return "permfail";
	default:		return "error";
	}
}

/* wname - the word for a write result. */
static const char *
wname(int rc)
{
	switch (rc) {
	case DIR_OK:		return "ok";
	case DIR_TEMPFAIL:	return "tempfail";
	case DIR_EEXIST:	return "exists";
	case DIR_ENOENT:	return "noent";
	case DIR_EINVAL:	return "invalid";
	case DIR_EPERM:		return "denied";
	case DIR_ENOTEMPTY:	return "notempty";
	default:		return "error";
	}
}

/* read_line - one line of stdin (without its end) into buf; -1 at EOF. */
static int
read_line(char *buf, size_t size)
{
	size_t len;

	if (fgets(buf, (int)size, stdin) == NULL)
		return -1;
	len = strlen(buf);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	return 0;
}

static void
print_mailbox(const struct dir_mailbox *mb)
{
	printf("address=%s\nname=%s\ninstitution=%s\nquota_bytes=%llu\n"
	    "quota_messages=%llu\nstatus=%s\nhome=%s\n", mb->address,
	    mb->display_name, mb->institution,
	    (unsigned long long)mb->quota_bytes,
	    (unsigned long long)mb->quota_messages, dir_status_name(mb->status),
	    mb->home_server);
}

static void
print_inst(const struct dir_institution *in)
{
	printf("id=%s kind=%s domain=%s region=%s country=%s city=%s "
	    "name_en=%s name_sw=%s\n", in->id, dir_inst_kind_name(in->kind),
	    in->domain, in->region, in->country, in->city, in->name_en,
	    in->name_sw);
}

static int
do_resolve(struct directory *d, const char *addr, bool verbose)
{
	struct dir_resolution *r = NULL;
	size_t i;
	int rc = directory_resolve(d, addr, &r);

	printf("result=%s\n", rname(rc));
	if (rc == DIR_FOUND && verbose) {
		printf("kind=%s\naddress=%s\ndetail=%s\ncatchall=%d\npolicy=%s\n"
		    "ntargets=%zu\n", dir_kind_name(r->kind), r->address,
		    r->detail, r->catchall, dir_post_policy_name(r->policy),
		    r->ntargets);
		for (i = 0; i < r->ntargets; i++)
			printf("target=%s %s %s\n", r->targets[i].address,
			    r->targets[i].local ? "local" : "remote",
			    dir_status_name(r->targets[i].status));
	}
	directory_resolution_free(&r);
	return rc;
}

int
main(int argc, char **argv)
{
	char err[512], pw[1100], pw2[1100];
	const char *confpath = NULL, *cmd, *as_user = NULL;
	struct directory *d;
	struct conf *c;
	unsigned int flags = 0;
	int ch, rc;

	log_init("dirtool", true);
	while ((ch = getopt(argc, argv, "ac:u:")) != -1) {
		switch (ch) {
		case 'u':
			as_user = optarg;
			break;
		case 'a':
			flags |= DIR_OPEN_ADMIN;
			break;
		case 'c':
			confpath = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (confpath == NULL || argc < 1)
		usage();
	conf_register(lib_conf_table);
	conf_register(directory_conf_table);
	if ((c = conf_load(confpath, err, sizeof(err))) == NULL) {
		fprintf(stderr, "dirtool: %s\n", err);
		return 1;
	}
	if (conf_str(c, "log.level")[0] != '\0' &&
	    log_level_parse(conf_str(c, "log.level")) >= 0)
		log_set_level(log_level_parse(conf_str(c, "log.level")));
	if (as_user != NULL) {
		if (read_line(pw, sizeof(pw)) < 0)
			pw[0] = '\0';
		d = directory_open_as(c, as_user, pw, strlen(pw), err,
		    sizeof(err));
		gms_wipe(pw, sizeof(pw));
	} else
		d = directory_open(c, flags, err, sizeof(err));
	if (d == NULL) {
		fprintf(stderr, "dirtool: %s\n", err);
		return 1;
	}
	cmd = argv[0];
#define NEED(n) do { if (argc < (n) + 1) usage(); } while (0)

	if (strcmp(cmd, "ping") == 0) {
		printf("result=%s\n", wname(directory_ping(d)));
	} else if (strcmp(cmd, "domain") == 0) {
		struct dir_domain dom;

		NEED(1);
		rc = directory_domain(d, argv[1], &dom);
		printf("result=%s\n", rname(rc));
		if (rc == DIR_FOUND)
			printf("name=%s\ninstitution=%s\nselector=%s\n"
			    "catchall=%s\nstatus=%s\n", dom.name, dom.institution,
			    dom.dkim_selector, dom.catchall,
			    dir_status_name(dom.status));
	} else if (strcmp(cmd, "mailbox") == 0) {
		struct dir_mailbox mb;

		NEED(1);
		rc = directory_mailbox(d, argv[1], &mb);
		printf("result=%s\n", rname(rc));
		if (rc == DIR_FOUND)
			print_mailbox(&mb);
	} else if (strcmp(cmd, "resolve") == 0) {
		NEED(1);
		(void)do_resolve(d, argv[1], true);
	} else if (strcmp(cmd, "institution") == 0) {
		struct dir_institution in;

		NEED(1);
		rc = directory_institution(d, argv[1], &in);
		printf("result=%s\n", rname(rc));
		if (rc == DIR_FOUND)
			print_inst(&in);
	} else if (strcmp(cmd, "institutions") == 0 ||
	    strcmp(cmd, "kinds") == 0) {
		struct dir_inst_filter f = { -1, NULL, NULL };
		struct dir_institution *list = NULL;
		size_t n = 0, i;
		int k;

		for (k = 1; k < argc; k++) {
			if (strncmp(argv[k], "kind=", 5) == 0) {
				f.kind = dir_inst_kind_parse(argv[k] + 5);
				if (f.kind < 0)
					usage();
			} else if (strncmp(argv[k], "region=", 7) == 0)
				f.region = argv[k] + 7;
			else if (strncmp(argv[k], "country=", 8) == 0)
				f.country = argv[k] + 8;
			else
				usage();
		}
		rc = directory_institutions(d, &f, &list, &n);
		printf("result=%s\ncount=%zu\n", wname(rc), n);
		if (strcmp(cmd, "kinds") == 0) {
			for (k = 0; k < DIR_INST_KIND_COUNT; k++) {
				size_t cnt = 0;

				for (i = 0; i < n; i++)
					cnt += list[i].kind == k;
				printf("%s=%zu\n", dir_inst_kind_name(k), cnt);
			}
		} else
			for (i = 0; i < n; i++)
				print_inst(&list[i]);
		free(list);
	} else if (strcmp(cmd, "mailboxes") == 0 || strcmp(cmd, "domains") == 0 ||
	    strcmp(cmd, "aliases") == 0 || strcmp(cmd, "lists") == 0) {
		const char *arg = argc > 1 ? argv[1] : NULL;
		struct dir_strv sv;
		size_t i;

		rc = cmd[0] == 'm' ? directory_mailboxes(d, arg, &sv) :
		    cmd[0] == 'a' ? directory_aliases(d, arg, &sv) :
		    cmd[0] == 'l' ? directory_lists(d, arg, &sv) :
		    directory_domains(d, arg, &sv);
		printf("result=%s\ncount=%zu\n", wname(rc), sv.n);
		for (i = 0; i < sv.n; i++)
			printf("%s\n", sv.v[i]);
		dir_strv_free(&sv);
	} else if (strcmp(cmd, "alias") == 0) {
		struct dir_alias a;
		size_t i;

		NEED(1);
		rc = directory_alias(d, argv[1], &a);
		printf("result=%s\n", rname(rc));
		if (rc == DIR_FOUND) {
			printf("owner=%s\n", a.owner);
			for (i = 0; i < a.targets.n; i++)
				printf("target=%s\n", a.targets.v[i]);
			dir_alias_clear(&a);
		}
	} else if (strcmp(cmd, "list") == 0) {
		struct dir_list l;
		size_t i;

		NEED(1);
		rc = directory_list(d, argv[1], &l);
		printf("result=%s\n", rname(rc));
		if (rc == DIR_FOUND) {
			printf("owner=%s\npolicy=%s\nname=%s\n", l.owner,
			    dir_post_policy_name(l.policy), l.name);
			for (i = 0; i < l.members.n; i++)
				printf("member=%s\n", l.members.v[i]);
			dir_list_clear(&l);
		}
	} else if (strcmp(cmd, "sendas") == 0 || strcmp(cmd, "maypost") == 0) {
		NEED(2);
		rc = cmd[0] == 's' ? directory_may_send_as(d, argv[1], argv[2]) :
		    directory_list_may_post(d, argv[1], argv[2]);
		printf("result=%s\n", rc == 1 ? "yes" : rc == 0 ? "no" :
		    "tempfail");
	} else if (strcmp(cmd, "auth") == 0) {
		struct dir_mailbox mb;

		NEED(1);
		if (read_line(pw, sizeof(pw)) < 0)
			pw[0] = '\0';
		rc = directory_authenticate(d, argv[1], pw, strlen(pw), &mb);
		gms_wipe(pw, sizeof(pw));
		printf("result=%s\n", rc == 1 ? "ok" : rc == 0 ? "refused" :
		    "tempfail");
		if (rc == 1)
			printf("address=%s\n", mb.address);
	} else if (strcmp(cmd, "passwd") == 0) {
		NEED(1);
		if (read_line(pw, sizeof(pw)) < 0 || read_line(pw2, sizeof(pw2)) < 0)
			usage();
		rc = directory_change_password(d, argv[1], pw, strlen(pw), pw2,
		    strlen(pw2));
		gms_wipe(pw, sizeof(pw));
		gms_wipe(pw2, sizeof(pw2));
		printf("result=%s\n", wname(rc));
	} else if (strcmp(cmd, "repeat") == 0) {
		/* Repeat one lookup: one line per attempt, so that a test can
		 * restart slapd in the middle and see every answer. */
		long n, ms, i;
		struct timespec ts;

		NEED(4);
		n = strtol(argv[1], NULL, 10);
		ms = strtol(argv[2], NULL, 10);
		if (n < 1 || n > 100000 || ms < 0 || ms > 10000)
			usage();
		pw[0] = '\0';
		if (strcmp(argv[3], "auth") == 0 && read_line(pw, sizeof(pw)) < 0)
			usage();
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000L;
		for (i = 0; i < n; i++) {
			struct timespec t0, t1;
			long us;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			if (strcmp(argv[3], "resolve") == 0) {
				struct dir_resolution *r = NULL;

				rc = directory_resolve(d, argv[4], &r);
				clock_gettime(CLOCK_MONOTONIC, &t1);
				us = (t1.tv_sec - t0.tv_sec) * 1000000L +
				    (t1.tv_nsec - t0.tv_nsec) / 1000;
				printf("%ld %s %s %ld\n", i, rname(rc),
				    rc == DIR_FOUND ? r->address : "-", us);
				directory_resolution_free(&r);
			} else if (strcmp(argv[3], "domain") == 0) {
				rc = directory_domain(d, argv[4], NULL);
				clock_gettime(CLOCK_MONOTONIC, &t1);
				us = (t1.tv_sec - t0.tv_sec) * 1000000L +
				    (t1.tv_nsec - t0.tv_nsec) / 1000;
				printf("%ld %s - %ld\n", i, rname(rc), us);
			} else if (strcmp(argv[3], "auth") == 0) {
				rc = directory_authenticate(d, argv[4], pw,
				    strlen(pw), NULL);
				clock_gettime(CLOCK_MONOTONIC, &t1);
				us = (t1.tv_sec - t0.tv_sec) * 1000000L +
				    (t1.tv_nsec - t0.tv_nsec) / 1000;
				printf("%ld %s - %ld\n", i, rc == 1 ? "ok" :
				    rc == 0 ? "refused" : "tempfail", us);
			} else
				usage();
			fflush(stdout);
			nanosleep(&ts, NULL);
		}
		gms_wipe(pw, sizeof(pw));
		{
			struct dir_stats st;

			directory_stats(d, &st);
			printf("reconnects=%llu\n",
			    (unsigned long long)st.reconnects);
		}
	} else if (strcmp(cmd, "add-institution") == 0) {
		struct dir_institution in;

		NEED(3);
		memset(&in, 0, sizeof(in));
		(void)gms_strlcpy(in.id, argv[1], sizeof(in.id));
		in.kind = dir_inst_kind_parse(argv[2]);
		(void)gms_strlcpy(in.name_en, argv[3], sizeof(in.name_en));
		if (argc > 4)
			(void)gms_strlcpy(in.name_sw, argv[4], sizeof(in.name_sw));
		printf("result=%s\n", wname(directory_institution_add(d, &in)));
	} else if (strcmp(cmd, "add-domain") == 0) {
		struct dir_domain dom;

		NEED(2);
		memset(&dom, 0, sizeof(dom));
		(void)gms_strlcpy(dom.name, argv[1], sizeof(dom.name));
		(void)gms_strlcpy(dom.institution, argv[2],
		    sizeof(dom.institution));
		if (argc > 3)
			(void)gms_strlcpy(dom.catchall, argv[3],
			    sizeof(dom.catchall));
		printf("result=%s\n", wname(directory_domain_add(d, &dom)));
	} else if (strcmp(cmd, "add-mailbox") == 0) {
		struct dir_mailbox mb;

		NEED(1);
		memset(&mb, 0, sizeof(mb));
		(void)gms_strlcpy(mb.address, argv[1], sizeof(mb.address));
		if (argc > 2)
			(void)gms_strlcpy(mb.display_name, argv[2],
			    sizeof(mb.display_name));
		if (read_line(pw, sizeof(pw)) < 0)
			pw[0] = '\0';
		rc = directory_mailbox_add(d, &mb, pw, strlen(pw));
		gms_wipe(pw, sizeof(pw));
		printf("result=%s\n", wname(rc));
	} else if (strcmp(cmd, "suspend") == 0) {
		struct dir_mailbox mb;

		NEED(1);
		rc = directory_mailbox(d, argv[1], &mb);
		if (rc == DIR_FOUND) {
			mb.status = DIR_STATUS_SUSPENDED;
			rc = directory_mailbox_modify(d, &mb);
		} else
			rc = rc == DIR_NOTFOUND ? DIR_ENOENT : rc;
		printf("result=%s\n", wname(rc));
	} else if (strcmp(cmd, "set-password") == 0) {
		NEED(1);
		if (read_line(pw, sizeof(pw)) < 0)
			pw[0] = '\0';
		rc = directory_set_password(d, argv[1], pw, strlen(pw));
		gms_wipe(pw, sizeof(pw));
		printf("result=%s\n", wname(rc));
	} else if (strcmp(cmd, "add-alias") == 0) {
		NEED(3);
		printf("result=%s\n", wname(directory_alias_add(d, argv[1],
		    argv[2], (const char *const *)argv + 3, (size_t)argc - 3)));
	} else if (strcmp(cmd, "add-list") == 0) {
		struct dir_list l;

		NEED(2);
		memset(&l, 0, sizeof(l));
		(void)gms_strlcpy(l.address, argv[1], sizeof(l.address));
		l.policy = dir_post_policy_parse(argv[2]);
		l.members.v = argv + 3;		/* borrowed: not cleared */
		l.members.n = (size_t)argc - 3;
		printf("result=%s\n", wname(directory_list_add(d, &l)));
	} else if (strcmp(cmd, "member-add") == 0 ||
	    strcmp(cmd, "member-remove") == 0) {
		NEED(2);
		rc = strcmp(cmd, "member-add") == 0 ?
		    directory_list_member_add(d, argv[1], argv[2]) :
		    directory_list_member_remove(d, argv[1], argv[2]);
		printf("result=%s\n", wname(rc));
	} else if (strcmp(cmd, "delete") == 0) {
		NEED(2);
		if (strcmp(argv[1], "institution") == 0)
			rc = directory_institution_delete(d, argv[2]);
		else if (strcmp(argv[1], "domain") == 0)
			rc = directory_domain_delete(d, argv[2]);
		else if (strcmp(argv[1], "mailbox") == 0)
			rc = directory_mailbox_delete(d, argv[2]);
		else if (strcmp(argv[1], "alias") == 0)
			rc = directory_alias_delete(d, argv[2]);
		else if (strcmp(argv[1], "list") == 0)
			rc = directory_list_delete(d, argv[2]);
		else
			usage();
		printf("result=%s\n", wname(rc));
	} else
		usage();

	directory_close(&d);
	conf_free(&c);
	return 0;
}
