# imapd/local.mk - gms-imapd, the IMAP server; included by the top
# Makefile.am.  The pure parts (reader, parser, sets, names) form
# imapd/libimapd.a so that the unit tests and fuzz targets link only them
# and lib/.

noinst_LIBRARIES += imapd/libimapd.a
imapd_libimapd_a_SOURCES = \
	imapd/imapd.h \
	imapd/arena.c \
	imapd/reader.c \
	imapd/parser.c \
	imapd/seqset.c \
	imapd/mutf7.c \
	imapd/fetch-section.c \
	imapd/respond.c \
	imapd/msghdr.c \
	imapd/search-text.c \
	imapd/listmatch.c

sbin_PROGRAMS += imapd/gms-imapd
imapd_gms_imapd_SOURCES = \
	imapd/imapd.c \
	imapd/imapd_conf.c \
	imapd/session.c \
	imapd/mailbox.c \
	imapd/auth.c \
	imapd/cmd-append.c \
	imapd/cmd-authenticate.c \
	imapd/cmd-capability.c \
	imapd/cmd-close.c \
	imapd/cmd-compress.c \
	imapd/cmd-copy.c \
	imapd/cmd-create.c \
	imapd/cmd-delete.c \
	imapd/cmd-enable.c \
	imapd/cmd-expunge.c \
	imapd/cmd-fetch.c \
	imapd/cmd-id.c \
	imapd/cmd-idle.c \
	imapd/cmd-list.c \
	imapd/cmd-login.c \
	imapd/cmd-logout.c \
	imapd/cmd-namespace.c \
	imapd/cmd-noop.c \
	imapd/cmd-quota.c \
	imapd/cmd-rename.c \
	imapd/cmd-search.c \
	imapd/cmd-select.c \
	imapd/cmd-sort.c \
	imapd/thread-refs.c \
	imapd/cmd-starttls.c \
	imapd/cmd-status.c \
	imapd/cmd-store.c \
	imapd/cmd-subscribe.c
imapd_gms_imapd_LDADD = imapd/libimapd.a $(SPOOL_LIBS) $(DIRECTORY_LIBS) \
	$(LIBGMS_LIBS) -lpthread

check_PROGRAMS += tests/unit/test-imap-parser
TESTS += tests/unit/test-imap-parser
tests_unit_test_imap_parser_SOURCES = tests/unit/test-imap-parser.c \
	tests/unit/unit.h
tests_unit_test_imap_parser_LDADD = imapd/libimapd.a $(LIBGMS_LIBS)

check_PROGRAMS += tests/unit/test-imap-search
TESTS += tests/unit/test-imap-search
tests_unit_test_imap_search_SOURCES = tests/unit/test-imap-search.c \
	tests/unit/unit.h
tests_unit_test_imap_search_LDADD = imapd/libimapd.a $(LIBGMS_LIBS)

# libFuzzer targets (clang): "make fuzz-imap" builds them; they are not
# part of "make check" (run them with a time budget, see the file heads).
FUZZ_IMAP_SRCS = $(top_srcdir)/imapd/arena.c $(top_srcdir)/imapd/reader.c \
	$(top_srcdir)/imapd/parser.c $(top_srcdir)/imapd/seqset.c \
	$(top_srcdir)/imapd/mutf7.c $(top_srcdir)/imapd/fetch-section.c \
	$(top_srcdir)/imapd/respond.c $(top_srcdir)/imapd/msghdr.c \
	$(top_srcdir)/imapd/search-text.c $(top_srcdir)/imapd/listmatch.c \
	$(top_srcdir)/lib/conn.c \
	$(top_srcdir)/lib/tls.c $(top_srcdir)/lib/base64.c \
	$(top_srcdir)/lib/xmalloc.c \
	$(top_srcdir)/lib/str.c $(top_srcdir)/lib/buf.c $(top_srcdir)/lib/log.c
FUZZ_IMAP_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -I. -I$(top_srcdir)/lib -I$(top_srcdir)
FUZZ_TARGETS += tests/fuzz/fuzz-imap-parser tests/fuzz/fuzz-imap-reader
fuzz-imap: tests/fuzz/fuzz-imap-parser tests/fuzz/fuzz-imap-reader
tests/fuzz/fuzz-imap-parser: $(top_srcdir)/tests/fuzz/fuzz-imap-parser.c $(FUZZ_IMAP_SRCS)
	@$(MKDIR_P) tests/fuzz
	$(CLANG) $(FUZZ_IMAP_FLAGS) -o $@ $(top_srcdir)/tests/fuzz/fuzz-imap-parser.c $(FUZZ_IMAP_SRCS) $(OPENSSL_LIBS) $(ZLIB_LIBS) -lpthread
tests/fuzz/fuzz-imap-reader: $(top_srcdir)/tests/fuzz/fuzz-imap-reader.c $(FUZZ_IMAP_SRCS)
	@$(MKDIR_P) tests/fuzz
	$(CLANG) $(FUZZ_IMAP_FLAGS) -o $@ $(top_srcdir)/tests/fuzz/fuzz-imap-reader.c $(FUZZ_IMAP_SRCS) $(OPENSSL_LIBS) $(ZLIB_LIBS) -lpthread
CLEANFILES += tests/fuzz/fuzz-imap-parser tests/fuzz/fuzz-imap-reader
.PHONY: fuzz-imap

EXTRA_DIST += bench/imapd/large_mailbox.py bench/imapd/fetch_flags.py bench/imapd/README
