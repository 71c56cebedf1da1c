# smtpd/local.mk - gms-smtpd, its parser library (shared with the unit
# tests and the fuzz targets) and their tests.  Included by the top
# Makefile.am; paths are relative to the top.

# The pure parsers: paths and ESMTP parameters, the DATA/BDAT byte filter,
# header filtering.  No I/O, no directory, no spool: unit-tested and fuzzed.
noinst_LIBRARIES += smtpd/libsmtpparse.a
smtpd_libsmtpparse_a_SOURCES = \
	smtpd/smtpd.h \
	smtpd/smtp_conf.c \
	smtpd/smtp_parse.c \
	smtpd/smtp_data.c \
	smtpd/smtp_headers.c

sbin_PROGRAMS += smtpd/gms-smtpd
smtpd_gms_smtpd_SOURCES = \
	smtpd/smtpd.h \
	smtpd/smtp_private.h \
	smtpd/smtpd.c \
	smtpd/smtp_session.c \
	smtpd/smtp_spf.c \
	smtpd/smtp_dkim.c \
	smtpd/smtp_dkim_ed.c \
	smtpd/smtp_dmarc.c
smtpd_gms_smtpd_CFLAGS = $(AM_CFLAGS) $(OPENDKIM_CFLAGS) $(OPENSSL_CFLAGS)
smtpd_gms_smtpd_LDADD = smtpd/libsmtpparse.a relay/librelay.a $(SPOOL_LIBS) $(DIRECTORY_LIBS) \
	$(LIBGMS_LIBS) $(OPENDKIM_LIBS) $(SPF2_LIBS) $(OPENDMARC_LIBS) \
	-lpthread

# Unit tests of the parsers (TAP).
check_PROGRAMS += tests/unit/test-smtp-parse tests/unit/test-smtp-data
TESTS += tests/unit/test-smtp-parse tests/unit/test-smtp-data
tests_unit_test_smtp_parse_SOURCES = tests/unit/test-smtp-parse.c tests/unit/unit.h
tests_unit_test_smtp_parse_LDADD = smtpd/libsmtpparse.a $(LIBGMS_LIBS)
tests_unit_test_smtp_data_SOURCES = tests/unit/test-smtp-data.c tests/unit/unit.h
tests_unit_test_smtp_data_LDADD = smtpd/libsmtpparse.a $(LIBGMS_LIBS)
# Our ed25519-sha256 DKIM signer (smtp_dkim_ed.c): canonicalization and
# signatures checked against OpenSSL.
check_PROGRAMS += tests/unit/test-smtp-dkim
TESTS += tests/unit/test-smtp-dkim
tests_unit_test_smtp_dkim_SOURCES = tests/unit/test-smtp-dkim.c tests/unit/unit.h \
	smtpd/smtp_dkim_ed.c
tests_unit_test_smtp_dkim_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_smtp_dkim_LDADD = $(LIBGMS_LIBS)

# Fuzz targets (libFuzzer, clang, ASan + UBSan; FUZZ_CC and FUZZ_CFLAGS
# come from tests/local.mk): "make fuzz-smtpd" (or "make fuzz") builds
# them into tests/fuzz/; run e.g. tests/fuzz/fuzz-smtp-data -max_total_time=60.
SMTP_FUZZ_SRCS = $(top_srcdir)/smtpd/smtp_parse.c $(top_srcdir)/smtpd/smtp_data.c \
	$(top_srcdir)/smtpd/smtp_headers.c $(top_srcdir)/lib/str.c \
	$(top_srcdir)/lib/buf.c $(top_srcdir)/lib/xmalloc.c $(top_srcdir)/lib/log.c
SMTP_FUZZ = tests/fuzz/fuzz-smtp-path tests/fuzz/fuzz-smtp-data \
	tests/fuzz/fuzz-smtp-headers
tests/fuzz/fuzz-smtp-path: $(top_srcdir)/tests/fuzz/fuzz-smtp-path.c $(SMTP_FUZZ_SRCS)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ -lpthread
tests/fuzz/fuzz-smtp-data: $(top_srcdir)/tests/fuzz/fuzz-smtp-data.c $(SMTP_FUZZ_SRCS)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ -lpthread
tests/fuzz/fuzz-smtp-headers: $(top_srcdir)/tests/fuzz/fuzz-smtp-headers.c $(SMTP_FUZZ_SRCS)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ -lpthread
fuzz-smtpd: $(SMTP_FUZZ)
.PHONY: fuzz-smtpd
CLEANFILES += $(SMTP_FUZZ)
EXTRA_DIST += tests/fuzz/fuzz-smtp-path.c tests/fuzz/fuzz-smtp-data.c \
	tests/fuzz/fuzz-smtp-headers.c

# smtp-spooldump: reads delivered mail back through the spool API for the
# protocol tests (not installed).
check_PROGRAMS += smtpd/smtp-spooldump
smtpd_smtp_spooldump_SOURCES = smtpd/smtp_spooldump.c
smtpd_smtp_spooldump_LDADD = smtpd/libsmtpparse.a $(SPOOL_LIBS) $(DIRECTORY_LIBS) $(LIBGMS_LIBS) \
	-lpthread

# "make fuzz" (scripts/test) builds every folder's fuzz targets.
fuzz: fuzz-smtpd
.PHONY: fuzz
