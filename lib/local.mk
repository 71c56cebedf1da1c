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
	lib/gsasl.c
lib_libgms_a_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(SASL_CFLAGS)
# What a program linking lib/libgms.a needs besides it.
LIBGMS_LIBS = lib/libgms.a $(OPENSSL_LIBS) $(SASL_LIBS)

check_PROGRAMS += tests/unit/test-buf tests/unit/test-conf tests/unit/test-conn
TESTS += tests/unit/test-buf tests/unit/test-conf tests/unit/test-conn
tests_unit_test_buf_SOURCES = tests/unit/test-buf.c tests/unit/unit.h
tests_unit_test_buf_LDADD = $(LIBGMS_LIBS)
tests_unit_test_conf_SOURCES = tests/unit/test-conf.c tests/unit/unit.h
tests_unit_test_conf_LDADD = $(LIBGMS_LIBS)
tests_unit_test_conn_SOURCES = tests/unit/test-conn.c tests/unit/unit.h
tests_unit_test_conn_LDADD = $(LIBGMS_LIBS)
