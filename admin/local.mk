# admin/local.mk - gmsadm, the provisioning and operations CLI.  Included
# by the top Makefile.am.
#
# gmsadm links the directory and the mailstore libraries and only the
# configuration tables of the other programs (never their code): the
# files smtpd/smtp_conf.c, relay/relay_conf.c and imapd/imapd_conf.c are
# compiled into it.  imapd/libimapd.a (pure code: modified UTF-7) is
# linked for the Maildir++ folder names of "import maildir".
sbin_PROGRAMS += admin/gmsadm
admin_gmsadm_SOURCES = \
	admin/admin.h \
	admin/gmsadm.c \
	admin/opt.c \
	admin/out.c \
	admin/csv.c \
	admin/secret.c \
	admin/cmd_config.c \
	admin/cmd_dir.c \
	admin/cmd_store.c \
	admin/cmd_queue.c \
	admin/dkim.c \
	admin/bulk.c \
	admin/import.c \
	smtpd/smtp_conf.c \
	relay/relay_conf.c \
	imapd/imapd_conf.c
admin_gmsadm_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
admin_gmsadm_LDADD = imapd/libimapd.a $(SPOOL_LIBS) $(DIRECTORY_LIBS) $(LIBGMS_LIBS) -lpthread

# The pure parts (CSV, options, output) without slapd or a mailstore.
check_PROGRAMS += tests/unit/test-admin
TESTS += tests/unit/test-admin
tests_unit_test_admin_SOURCES = tests/unit/test-admin.c tests/unit/unit.h \
	admin/admin.h admin/opt.c admin/out.c admin/csv.c
tests_unit_test_admin_LDADD = $(LIBGMS_LIBS)
