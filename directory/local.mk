# directory/local.mk - the directory library (LDAP and static backends,
# escaping, cache), its unit tests, the dirtool used by the protocol tests
# and the directory benchmark.  Included by the top Makefile.am.
noinst_LIBRARIES += directory/libdirectory.a
directory_libdirectory_a_SOURCES = \
	directory/directory.h \
	directory/directory-private.h \
	directory/directory.c \
	directory/directory_cache.c \
	directory/directory_escape.c \
	directory/directory_ldap.c \
	directory/directory_static.c
directory_libdirectory_a_CFLAGS = $(AM_CFLAGS) $(LDAP_CFLAGS) $(OPENSSL_CFLAGS)
# What a program using the directory links, before $(LIBGMS_LIBS).
DIRECTORY_LIBS = directory/libdirectory.a $(LDAP_LIBS)

check_PROGRAMS += tests/unit/test-directory-escape tests/unit/test-directory
TESTS += tests/unit/test-directory-escape tests/unit/test-directory
tests_unit_test_directory_escape_SOURCES = \
	tests/unit/test-directory-escape.c tests/unit/unit.h
tests_unit_test_directory_escape_LDADD = $(DIRECTORY_LIBS) $(LIBGMS_LIBS)
tests_unit_test_directory_SOURCES = tests/unit/test-directory.c tests/unit/unit.h
tests_unit_test_directory_CPPFLAGS = $(AM_CPPFLAGS) \
	-DDIR_TEST_DATA='"$(abs_top_srcdir)/tests/unit/test-directory.static"'
tests_unit_test_directory_LDADD = $(DIRECTORY_LIBS) $(LIBGMS_LIBS) -lpthread
EXTRA_DIST += tests/unit/test-directory.static

# dirtool: one directory operation per run, for tests/protocol (not a test
# by itself).  dir-bench: lookups per second (bench/directory/run).
check_PROGRAMS += tests/unit/dirtool bench/directory/dir-bench
tests_unit_dirtool_SOURCES = tests/unit/dirtool.c
tests_unit_dirtool_LDADD = $(DIRECTORY_LIBS) $(LIBGMS_LIBS)
bench_directory_dir_bench_SOURCES = bench/directory/dir-bench.c
bench_directory_dir_bench_LDADD = $(DIRECTORY_LIBS) $(LIBGMS_LIBS) -lpthread
EXTRA_DIST += bench/directory/run bench/directory/RESULTS.md
