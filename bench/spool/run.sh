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
} > "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
