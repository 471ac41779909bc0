#!/bin/sh
# Every output somsim gives on the committed workloads, the papers' data and a seeded fuzz corpus,
# one file each, for checking that a change to the engine changes no result:
#
#   swift build -c release && .ci/golden.sh .build/release OUT-before   # on the old commit
#   ...change, rebuild...
#   .ci/golden.sh .build/release OUT-after && diff -r OUT-before OUT-after   # must print nothing
#
# BIN holds somsim and somsim-fuzz. Run from the repository root. The corpus is cases 0..N-1 of
# somsim-fuzz --seed 4242 (N=${GOLDEN_CASES:-400}); a case is always the same for the same seed.
set -u
if [ $# -ne 2 ]; then echo "usage: .ci/golden.sh BIN OUTDIR (BIN holds somsim and somsim-fuzz)" >&2; exit 64; fi
s=$1/somsim; fuzz=$1/somsim-fuzz; o=$2
for b in "$s" "$fuzz"; do [ -x "$b" ] || { echo "golden.sh: $b is not an executable; build first" >&2; exit 66; }; done
rm -rf "$o"; mkdir -p "$o/corpus"
o=$(cd "$o" && pwd); s=$(cd "$(dirname "$s")" && pwd)/somsim; fuzz=$(dirname "$s")/somsim-fuzz
run() { out=$1; shift; "$@" > "$out" 2>&1; echo "rc=$?" >> "$out"; }
for f in validation/*.somw docs/examples/*.somw papers/workloads/*.somw; do
  b=$(echo "$f" | tr / _)
  for fmt in md json csv; do
    run "$o/$b.sim.$fmt" "$s" simulate "$f" --format $fmt
    run "$o/$b.cmp.$fmt" "$s" compare "$f" --format $fmt
  done
  for sc in struct-page hvo folio memdesc som; do run "$o/$b.explain-$sc.json" "$s" explain $sc "$f" --format json; done
  # Issue 11: the som+memdesc scheme and the TLB per workload.
  for sc in som+memdesc tlb; do run "$o/$b.explain-$sc.json" "$s" explain $sc "$f" --format json; done
done
run "$o/default.md" "$s" simulate
run "$o/default-cmp.md" "$s" compare
run "$o/profile.txt" "$s" profile
run "$o/tlb.csv" "$s" explain tlb-walk --format csv
for sz in 4G 8G; do
  "$s" generate alloc-mix --ram $sz > "$o/allocmix-$sz.somw" 2>&1
  (cd "$o" && run "$o/allocmix-$sz.json" "$s" simulate "allocmix-$sz.somw" --format json)
done
# A fleet of forked workers writing random pages: enough random touches that `simulate` draws
# their samples ahead on a second thread (SamplePrefetcher), some of another page count.
{
  printf 'somsim-workload 1\nspawn master\nmaster mmap heap 24M\nmaster mmap side 2M\nmaster touch heap write\n'
  printf 'repeat 1500 as i {\n  master fork w{i}\n  w{i} touch heap write random=64 seed={i}\n}\n'
  printf 'repeat 300 as i {\n  master fork v{i}\n  v{i} touch side write random=40 seed={i}\n  v{i} touch heap read offset=4M length=8M random=30 seed={i}\n}\n'
} > "$o/fleet.somw"
(cd "$o" && run "$o/fleet.json" "$s" simulate fleet.somw --format json && run "$o/fleet.cmp.csv" "$s" compare fleet.somw --format csv)
run "$o/crossover.csv" "$s" generate alloc-mix --crossover --small 4K --large 2M --ram 1G --format csv
for f in Tests/SomsimReportTests/FuzzCrashers/*.somw; do run "$o/fuzz-$(basename "$f").json" "$s" simulate "$f" --format json; done
sh papers/reproduce.sh --no-figures "$s" "$o/papers" > /dev/null 2>&1 || echo "golden.sh: papers/reproduce.sh failed" >&2
i=0
while [ $i -lt "${GOLDEN_CASES:-400}" ]; do "$fuzz" --seed 4242 --out "$o/corpus" --dump $i > /dev/null; i=$((i + 1)); done
# Inside the corpus folder, so that messages name the cases, not OUTDIR.
cd "$o/corpus"
for f in *.somw; do
  b=${f%.somw}
  if [ -f "$b.profile" ]; then set -- --profile "$b.profile"; else set --; fi
  run "$o/corpus-$b.json" timeout 60 "$s" simulate "$f" "$@" --format json
  run "$o/corpus-$b.cmp.csv" timeout 60 "$s" compare "$f" "$@" --format csv
done
echo "golden.sh: $(ls "$o" | wc -l) outputs in $o"
