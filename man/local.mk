# man/local.mk - the manual pages, installed by "make install".  Included
# by the top Makefile.am.  The key list of gms.conf.5 is generated from
# the sources by man/gen-gms-conf.py (a maintainer tool, run by hand);
# tests/protocol/test_manpages.py checks that page and code agree and that
# mandoc -Tlint is silent.
dist_man_MANS += \
	man/gms.conf.5 \
	man/gms-schema.5 \
	man/gms-smtpd.8 \
	man/gms-imapd.8 \
	man/gmsadm.8
EXTRA_DIST += man/gen-gms-conf.py
