#!/bin/sh
# bench/spool/run.sh - run the spool benchmark on a scratch environment
# and write bench/spool/RESULTS.md.  Not part of the test suite.
#   usage: bench/spool/run.sh [BUILD_DIR] [SECONDS_PER_CASE] [SCRATCH_PARENT]
# The scratch environment lives under SCRATCH_PARENT (default /var/tmp,
# a disk, not tmpfs) and is removed afterwards.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
secs=${2:-3}
parent=${3:-/var/tmp}
bin=$build/bench/spool/bench-spool
[ -x "$bin" ] || { echo "build it first: make -C $build bench/spool/bench-spool" >&2; exit 1; }
dir=$(mktemp -d "$parent/gms-bench-spool-XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
out=$here/RESULTS.md
{
	echo "# Spool benchmark results"
	echo
	echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -sr), $(nproc) CPUs,"
	echo "filesystem of \`$parent\`: $(df -T "$parent" | awk 'NR==2 {print $2}'),"
	echo "$secs s per case.  Every delivery is one durable transaction"
	echo "(the log is flushed at commit; no DB_TXN_NOSYNC)."
	echo
	"$bin" "$dir" "$secs"
	cat <<'NOTES'

### Reading the figures

- Each delivery is one Berkeley DB transaction that stores the body, the
  index record, the change log entry and the counters, and returns only
  after its commit record is on disk.  Without group commit one writer
  can at best reach the disk's `fdatasync` rate.
- "log flushes per commit" is `st_scount / st_ncommits` over the case:
  1.00 means one fsync per delivery; below 1 means concurrent commits
  were made durable by one shared flush (group commit), which is how
  several writers pass the single-writer limit.
- Bodies are spread over 16 database files (`bodies-NN.db`): Berkeley DB
  holds a database's metadata page lock until commit when a transaction
  allocates pages, so with a single file every large delivery serialised
  on it and 100 KiB deliveries showed 1.00 flushes per commit.
- The 300-mailbox case stores the body once (bodies +1, its size once)
  and adds 300 index records in one transaction.
- The disk is shared with other jobs on this machine, so the raw
  `fdatasync` rate varies from run to run; compare each row with the
  rate measured in the same run.
NOTES
} > "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
