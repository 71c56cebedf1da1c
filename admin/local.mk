# admin/local.mk - gmsadm, the provisioning and operations CLI.  Included
# by the top Makefile.am.
#
# gmsadm links the directory and the mailstore libraries and only the
# configuration tables of the daemons (never their code): those come in
# when smtpd/ and imapd/ offer them in a file of their own
# (smtpd/smtpd_conf.c, imapd/imapd_conf.c); until then gmsadm.c refers to
# them weakly and their keys are accepted unchecked.
sbin_PROGRAMS += admin/gmsadm
admin_gmsadm_SOURCES = \
	admin/admin.h \
	admin/gmsadm.c \
	admin/out.c \
	admin/secret.c \
	admin/cmd_config.c \
	admin/cmd_dir.c \
	admin/cmd_store.c \
	admin/dkim.c \
	admin/bulk.c \
	admin/import.c
admin_gmsadm_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
admin_gmsadm_LDADD = $(SPOOL_LIBS) $(DIRECTORY_LIBS) $(LIBGMS_LIBS) -lpthread
