# relay/local.mk - the outbound queue runner (linked into gms-smtpd):
# the convenience library relay/librelay.a, its unit test, the test
# driver relaytool (check_PROGRAMS, not in TESTS: the protocol tests run
# it), the fuzz target of the SMTP reply parser and the benchmark.
noinst_LIBRARIES += relay/librelay.a
relay_librelay_a_SOURCES = \
	relay/relay.h \
	relay/relay-private.h \
	relay/relay_conf.c \
	relay/relay_reply.c \
	relay/relay_dsn.c \
	relay/relay_dns.c \
	relay/relay_smtp.c \
	relay/relay_sts.c \
	relay/relay_queue.c
relay_librelay_a_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)

# What a program that runs the relay links (after its own objects).
RELAY_LIBS = relay/librelay.a $(SPOOL_LIBS) $(OPENSSL_LIBS) -lpthread

check_PROGRAMS += tests/unit/test-relay
TESTS += tests/unit/test-relay
tests_unit_test_relay_SOURCES = tests/unit/test-relay.c tests/unit/unit.h
tests_unit_test_relay_LDADD = $(RELAY_LIBS)

check_PROGRAMS += tests/unit/relaytool
tests_unit_relaytool_SOURCES = tests/unit/relaytool.c
tests_unit_relaytool_LDADD = $(RELAY_LIBS)

# libFuzzer target of the reply parser: "make fuzz" builds it with clang.
FUZZ_TARGETS += tests/fuzz/fuzz-relay-reply
tests/fuzz/fuzz-relay-reply: $(top_srcdir)/tests/fuzz/fuzz-relay-reply.c \
    $(top_srcdir)/relay/relay_reply.c $(top_srcdir)/relay/relay_dsn.c \
    $(top_srcdir)/lib/xmalloc.c $(top_srcdir)/lib/str.c \
    $(top_srcdir)/lib/buf.c $(top_srcdir)/lib/log.c
	@mkdir -p tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ -lpthread

EXTRA_DIST += bench/relay/run bench/relay/RESULTS.md
