#!/bin/sh
# Every target of issue 12 side by side in one run (Benchmarks/README.md, thirteenth round):
#
#   sh Benchmarks/side-by-side.sh BEFORE AFTER SOMSIM [ROUNDS=4]
#
# BEFORE and AFTER are somsim-bench-timing binaries of the two builds to compare (the same one
# twice to time one build), SOMSIM the somsim CLI of AFTER's build. Run from the repository root.
# It waits for a load average under 2, prints what it read of the host, runs the cases with the
# two binaries interleaved (the order turned each round), then the real kernel
# (real-kernel/run.sh 10000, whose processes it kills and reaps), rests two minutes (a kernel
# run's teardown slows the machine for a minute after it) and times the 10,000 forks again. It
# changes nothing on the machine; its only file is a workload in a temporary directory.
set -eu
if [ $# -lt 3 ]; then echo "usage: sh Benchmarks/side-by-side.sh BEFORE AFTER SOMSIM [ROUNDS=4]" >&2; exit 64; fi
B=$1; A=$2; S=$3; rounds=${4:-4}
for x in "$B" "$A" "$S"; do [ -x "$x" ] || { echo "side-by-side.sh: $x is not an executable" >&2; exit 66; }; done
[ -f Benchmarks/real-kernel/run.sh ] || { echo "side-by-side.sh: run from the repository root" >&2; exit 66; }
work=$(mktemp -d "${TMPDIR:-/tmp}/somsim-side.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# TenThousandWorkers --runs 10 for each binary, ROUNDS rounds, the order turned each round; per
# binary the median over rounds of its best run (and of that run's statements and measure), and
# in how many rounds AFTER beat BEFORE.
paired() {
  : > "$work/paired"
  for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then order="before after"; else order="after before"; fi
    for which in $order; do
      if [ "$which" = before ]; then bin=$B; else bin=$A; fi
      "$bin" TenThousandWorkers --runs 10 | sed -n "s/.*best \([0-9.e-]*\) seconds.*statements \([0-9.e-]*\) s, final measure \([0-9.e-]*\) s.*/$r $which \1 \2 \3/p" >> "$work/paired"
    done
  done
  awk '
    function median(list,   n, i, j, t, a) {
      n = split(list, a, " ")
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { total[$2] = total[$2] " " $3; stmts[$2] = stmts[$2] " " $4; meas[$2] = meas[$2] " " $5; t[$2, $1] = $3 }
    END {
      for (w = 1; w <= 2; w++) {
        k = w == 1 ? "before" : "after"
        printf "%s: median best %.4f s (statements %.4f, measure %.4f)\n", k, median(total[k]), median(stmts[k]), median(meas[k])
      }
      wins = 0; n = 0
      for (r = 1; r <= '"$rounds"'; r++) { n++; if (t["after", r] < t["before", r]) wins++ }
      printf "after faster in %d of %d rounds\n", wins, n
    }' "$work/paired"
}

while [ "$(awk '{print int($1)}' /proc/loadavg)" -ge 2 ]; do sleep 10; done
echo "== host"
date -u
echo "$(uname -r), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo), THP $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
echo "load $(cat /proc/loadavg)"
echo "== TenThousandWorkers, paired, $rounds rounds"
paired
echo "== HundredThousandWorkers --runs 1, peak RSS, 3 rounds"
for r in 1 2 3; do
  for bin in "$B" "$A"; do
    if [ "$bin" = "$B" ]; then which=before; else which=after; fi
    /usr/bin/time -f "%M KiB peak" "$bin" HundredThousandWorkers --runs 1 2>&1 \
      | sed 's/.*best \([0-9.e-]*\) seconds.*statements \([0-9.e-]*\) s, final measure \([0-9.e-]*\) s.*/\1 s (statements \2, measure \3)/' \
      | tr '\n' ' '
    echo "$which"
  done
done
echo "== AllocMix64G, RandomTouches, RandomTouchesFragmented, Terabyte --runs 3, 2 rounds"
for r in 1 2; do
  for c in AllocMix64G RandomTouches RandomTouchesFragmented Terabyte; do
    for bin in "$B" "$A"; do
      if [ "$bin" = "$B" ]; then which=before; else which=after; fi
      printf "%s %s: " "$which" "$c"
      "$bin" "$c" --runs 3 | sed 's/.*best \([0-9.e-]*\) seconds, median \([0-9.e-]*\) seconds.*/best \1 s, median \2 s/'
    done
  done
done
echo "== end to end with $S: alloc-mix 64 GiB, 64 TiB shared populate (3 runs each)"
"$S" generate alloc-mix --mix 4K:30,64K:20,2M:50 --ram 64G > "$work/am64.somw"
printf 'somsim-workload 1\nmachine ram=64T\nspawn p\np mmap s 64T shared populate\n' > "$work/populate64t.somw"
for f in am64 populate64t; do
  for r in 1 2 3; do /usr/bin/time -f "$f: %e s, %M KiB peak" "$S" simulate "$work/$f.somw" > /dev/null; done
done
echo "== the real kernel"
date -u +%H:%M:%S
sh Benchmarks/real-kernel/run.sh 10000
date -u +%H:%M:%S
sleep 120
echo "== TenThousandWorkers again, paired, $rounds rounds ($(date -u +%H:%M:%S), load $(cut -d' ' -f1 /proc/loadavg))"
paired
date -u +%H:%M:%S
