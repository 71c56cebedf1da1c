# bench/local.mk - included by the top Makefile.am.
#
# The benchmark: bench/run (Python, run by hand, not part of "make check")
# and its load tools, built by "make" so that the test suite checks that
# they compile.  bench/run uses $(builddir)/bench/imap-load when it exists.
noinst_PROGRAMS += bench/imap-load
bench_imap_load_SOURCES = bench/imap-load.c
bench_imap_load_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) -pthread
bench_imap_load_LDADD = $(OPENSSL_LIBS) -lpthread

EXTRA_DIST += bench/run bench/lib/procstat.py bench/lib/peer.py \
	bench/lib/gmsside.py bench/lib/workloads.py bench/lib/report.py \
	bench/RESULTS.md
