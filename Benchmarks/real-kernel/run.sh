#!/bin/sh
# The real kernel's time for the TenThousandWorkers workload (Benchmarks/README.md), beside the
# simulator's: builds forks.c with the system C compiler and runs it. It changes nothing on the
# machine but its own processes, which it kills and reaps before it exits (and which die with it).
# Usage: sh Benchmarks/real-kernel/run.sh [WORKERS=10000] [HEAP_MIB=150] [PAGES=64]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
binary=$(mktemp "${TMPDIR:-/tmp}/somsim-forks.XXXXXX")
trap 'rm -f "$binary"' EXIT INT TERM
cc -O2 -Wall -Wextra -o "$binary" "$here/forks.c"
echo "host: $(uname -r), $(nproc) cores, $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
"$binary" "$@"
