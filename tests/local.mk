# tests/local.mk - the harness: unit test helpers, protocol tests (pytest),
# fuzz targets.
EXTRA_DIST += tests/unit/unit.h tests/protocol tests/fuzz tests/lsan.supp

# Fuzz targets are compiled by clang straight from the sources they need,
# with libFuzzer, ASan and UBSan; they are not part of "all" or "check".
FUZZ_CC = clang
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -I$(top_builddir) -I$(top_srcdir)/lib \
	-I$(top_srcdir)
FUZZ_LIB_SRCS = $(top_srcdir)/lib/xmalloc.c $(top_srcdir)/lib/str.c \
	$(top_srcdir)/lib/buf.c $(top_srcdir)/lib/log.c $(top_srcdir)/lib/conf.c \
	$(top_srcdir)/lib/base64.c
FUZZ_CONN_SRCS = $(FUZZ_LIB_SRCS) $(top_srcdir)/lib/conn.c $(top_srcdir)/lib/tls.c

FUZZ_TARGETS += tests/fuzz/fuzz-conf tests/fuzz/fuzz-linereader tests/fuzz/fuzz-dns
tests/fuzz/fuzz-conf: $(top_srcdir)/tests/fuzz/fuzz-conf.c $(FUZZ_LIB_SRCS)
	@mkdir -p tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ -lpthread
tests/fuzz/fuzz-linereader: $(top_srcdir)/tests/fuzz/fuzz-linereader.c $(FUZZ_CONN_SRCS)
	@mkdir -p tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) $(OPENSSL_CFLAGS) $(ZLIB_CFLAGS) -o $@ $^ $(OPENSSL_LIBS) $(ZLIB_LIBS) -lpthread
tests/fuzz/fuzz-dns: $(top_srcdir)/tests/fuzz/fuzz-dns.c $(FUZZ_LIB_SRCS) \
    $(top_srcdir)/lib/dns.c
	@mkdir -p tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ -lpthread

fuzz: $(FUZZ_TARGETS)
.PHONY: fuzz
CLEANFILES += $(FUZZ_TARGETS)
