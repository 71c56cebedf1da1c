# lib/local.mk - the runtime library shared by all programs.
noinst_LIBRARIES += lib/libgms.a
lib_libgms_a_SOURCES = \
	lib/gms.h \
	lib/xmalloc.c \
	lib/str.c \
	lib/buf.c \
	lib/log.c \
	lib/conf.c \
	lib/base64.c \
	lib/conn.c \
	lib/tls.c \
	lib/server.c \
	lib/gsasl.c \
	lib/throttle.c \
	lib/gms-dns.h \
	lib/dns.c \
	lib/lib-private.h
lib_libgms_a_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(SASL_CFLAGS) $(ZLIB_CFLAGS)
# What a program linking lib/libgms.a needs besides it.
LIBGMS_LIBS = lib/libgms.a $(OPENSSL_LIBS) $(SASL_LIBS) $(ZLIB_LIBS)

check_PROGRAMS += tests/unit/test-buf tests/unit/test-conf tests/unit/test-conn
TESTS += tests/unit/test-buf tests/unit/test-conf tests/unit/test-conn
check_PROGRAMS += tests/unit/test-base64 tests/unit/test-throttle tests/unit/test-gsasl
TESTS += tests/unit/test-base64 tests/unit/test-throttle tests/unit/test-gsasl
tests_unit_test_buf_SOURCES = tests/unit/test-buf.c tests/unit/unit.h
tests_unit_test_buf_LDADD = $(LIBGMS_LIBS)
tests_unit_test_conf_SOURCES = tests/unit/test-conf.c tests/unit/unit.h
tests_unit_test_conf_LDADD = $(LIBGMS_LIBS)
tests_unit_test_conn_SOURCES = tests/unit/test-conn.c tests/unit/unit.h tests/unit/testcert.h
tests_unit_test_conn_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS)
tests_unit_test_conn_LDADD = $(LIBGMS_LIBS)
tests_unit_test_base64_SOURCES = tests/unit/test-base64.c tests/unit/unit.h
tests_unit_test_base64_LDADD = $(LIBGMS_LIBS)
tests_unit_test_throttle_SOURCES = tests/unit/test-throttle.c tests/unit/unit.h
tests_unit_test_throttle_LDADD = $(LIBGMS_LIBS)
tests_unit_test_gsasl_SOURCES = tests/unit/test-gsasl.c tests/unit/unit.h
tests_unit_test_gsasl_LDADD = $(LIBGMS_LIBS)
# A tiny daemon on the server loop for tests/protocol/test_server.py.
check_PROGRAMS += tests/unit/test-echod
tests_unit_test_echod_SOURCES = tests/unit/test-echod.c
tests_unit_test_echod_LDADD = $(LIBGMS_LIBS)
# The deflate layer of conn.c (IMAP COMPRESS).
check_PROGRAMS += tests/unit/test-conn-deflate
TESTS += tests/unit/test-conn-deflate
tests_unit_test_conn_deflate_SOURCES = tests/unit/test-conn-deflate.c \
	tests/unit/unit.h tests/unit/testcert.h
tests_unit_test_conn_deflate_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(ZLIB_CFLAGS)
tests_unit_test_conn_deflate_LDADD = $(LIBGMS_LIBS) -lpthread
# The DNS resolver's message code (lib/dns.c): building, parsing, names.
check_PROGRAMS += tests/unit/test-dns
TESTS += tests/unit/test-dns
tests_unit_test_dns_SOURCES = tests/unit/test-dns.c tests/unit/unit.h
tests_unit_test_dns_LDADD = $(LIBGMS_LIBS) -lpthread
