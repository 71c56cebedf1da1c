# spool/local.mk - included by the top Makefile.am.  The mailstore and
# queue (Berkeley DB 5.3), the MIME parser and change notification, as
# the convenience library spool/libspool.a; its unit tests, the MIME
# corpus test and the crash test.
noinst_LIBRARIES += spool/libspool.a
spool_libspool_a_SOURCES = \
	spool/spool.h \
	spool/spool-private.h \
	spool/spool_env.c \
	spool/spool_store.c \
	spool/spool_view.c \
	spool/spool_queue.c \
	spool/spool_watch.c \
	spool/spool_mime.c \
	spool/spool_admin.c

# What a program that uses the spool links (after its own objects).
SPOOL_LIBS = spool/libspool.a $(LIBGMS_LIBS) $(BDB_LIBS) -lpthread

check_PROGRAMS += tests/unit/test-spool
TESTS += tests/unit/test-spool
tests_unit_test_spool_SOURCES = tests/unit/test-spool.c \
	tests/unit/test-spool-common.h tests/unit/unit.h
tests_unit_test_spool_LDADD = $(SPOOL_LIBS)

check_PROGRAMS += tests/unit/test-spool-mime
TESTS += tests/unit/test-spool-mime
tests_unit_test_spool_mime_SOURCES = tests/unit/test-spool-mime.c tests/unit/unit.h
tests_unit_test_spool_mime_CPPFLAGS = $(AM_CPPFLAGS) -DGMS_SRCDIR='"$(abs_top_srcdir)"'
tests_unit_test_spool_mime_LDADD = $(SPOOL_LIBS)
EXTRA_DIST += tests/mime

# The crash test (tests/crash/): children killed with SIGKILL at random
# moments while they deliver, append, flag and expunge; bounded time.
check_PROGRAMS += tests/crash/crash
TESTS += tests/crash/crash
tests_crash_crash_SOURCES = tests/crash/crash.c \
	tests/unit/test-spool-common.h tests/unit/unit.h
tests_crash_crash_LDADD = $(SPOOL_LIBS)

# The benchmark (bench/spool/, not in TESTS): make bench/spool/bench-spool,
# then bench/spool/run.sh BUILD_DIR.
noinst_PROGRAMS += bench/spool/bench-spool
bench_spool_bench_spool_SOURCES = bench/spool/bench-spool.c \
	tests/unit/test-spool-common.h
bench_spool_bench_spool_LDADD = $(SPOOL_LIBS)
EXTRA_DIST += bench/spool/run.sh

# libFuzzer target of the MIME parser ("make fuzz", clang).
FUZZ_TARGETS += tests/fuzz/fuzz-mime
tests/fuzz/fuzz-mime: $(top_srcdir)/tests/mime/fuzz-mime.c $(top_srcdir)/spool/spool_mime.c $(FUZZ_LIB_SRCS)
	@mkdir -p tests/fuzz
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ -lpthread
