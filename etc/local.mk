# etc/local.mk - the commented sample gms.conf and the systemd units,
# installed by "make install".  Included by the top Makefile.am.
#
# The units are made from their .in templates with the configured paths.
# They go to $(systemdunitdir), by default $(prefix)/lib/systemd/system,
# inside the prefix so that "make distcheck" installs nothing outside it;
# a package sets systemdunitdir=/lib/systemd/system.
gmsconfdir = $(sysconfdir)/gms
dist_gmsconf_DATA = etc/gms.conf.sample

systemdunitdir = $(prefix)/lib/systemd/system
systemdunit_DATA = etc/gms-smtpd.service etc/gms-imapd.service
EXTRA_DIST += etc/gms-smtpd.service.in etc/gms-imapd.service.in
CLEANFILES += etc/gms-smtpd.service etc/gms-imapd.service

etc/gms-smtpd.service: $(top_srcdir)/etc/gms-smtpd.service.in Makefile
	@mkdir -p etc
	$(AM_V_GEN)sed -e 's|@sbindir[@]|$(sbindir)|g' \
	    -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	    $(top_srcdir)/etc/gms-smtpd.service.in >$@.tmp && mv $@.tmp $@
etc/gms-imapd.service: $(top_srcdir)/etc/gms-imapd.service.in Makefile
	@mkdir -p etc
	$(AM_V_GEN)sed -e 's|@sbindir[@]|$(sbindir)|g' \
	    -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	    $(top_srcdir)/etc/gms-imapd.service.in >$@.tmp && mv $@.tmp $@
