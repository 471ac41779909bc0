#!/bin/sh
# Regenerates every table of papers/published-figures.md and papers/malloc-scenarios.md, one
# command each, into notebooks-data/, then draws the papers' figures from that data with the
# notebooks of notebooks-data/ (papers/figures.sh) into papers/figures/.
# Run from the repository root:
#   sh papers/reproduce.sh [--no-figures] [path/to/somsim [data folder [figures folder]]]
# Without a path it builds somsim first (swift build --product somsim). --no-figures writes the
# data only. The notebooks need jupyter (papers/README.md); without it the data is written and
# the script exits 69 with a message saying what to install.
# (Tests/somsimTests checks that the committed data and figures are what this script writes.)
#
# Committed data is never destroyed: every file is written to a temporary file in the output
# folder and renamed over the old one only when its command succeeded; the first failure stops
# the script with a message and a non-zero exit, leaving that file as it was.
set -eu
figures=yes
if [ "${1:-}" = --no-figures ]; then
  figures=no
  shift
fi
if [ $# -ge 1 ]; then
  somsim=$1
else
  somsim=.build/debug/somsim
  swift build --product somsim >&2 || { echo "reproduce.sh: swift build --product somsim failed; nothing was written" >&2; exit 1; }
fi
out=${2:-notebooks-data/published-figures}
drawn=${3:-papers/figures}
if ! found=$(command -v "$somsim" 2>/dev/null) || [ ! -f "$found" ] || [ ! -x "$found" ]; then
  echo "reproduce.sh: $somsim is not an executable somsim; build it (swift build) or pass its path; nothing was written" >&2
  exit 1
fi
mkdir -p "$out"

tmp=
trap 'if [ -n "$tmp" ]; then rm -f "$tmp"; fi' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# write FILE COMMAND...: runs COMMAND into a temporary file next to $out/FILE, then renames it.
write() {
  name=$1
  shift
  tmp=$(mktemp "$out/.$name.XXXXXX")
  if ! "$@" > "$tmp"; then
    echo "reproduce.sh: '$*' failed; $out/$name is unchanged" >&2
    exit 1
  fi
  mv -f "$tmp" "$out/$name"
  tmp=
}

# Table 1: struct page, 1/64 of RAM (the "1.6%").
write t1-struct-page.csv "$somsim" compare papers/workloads/struct-page.somw --schemes struct-page --format csv
# Table 2: HVO per 2 MiB page, kept=2 (6 pages, 24 KiB, the "1.2%") and kept=1 (7 pages, the "1.4%").
write t2-hvo-2m-kept2.csv "$somsim" compare papers/workloads/hvo-2m-kept2.somw --schemes struct-page,hvo --format csv
write t2-hvo-2m-kept1.csv "$somsim" compare papers/workloads/hvo-2m-kept1.somw --schemes struct-page,hvo --format csv
# Table 3: HVO per 1 GiB page (4095 of 4096 vmemmap pages freed).
write t3-hvo-1g.json "$somsim" explain hvo papers/workloads/hvo-1g.somw --format json
# Table 4: memdesc cost of one 256 KiB anonymous allocation (608 B, 0.23%).
write t4-memdesc-256k.json "$somsim" explain memdesc papers/workloads/memdesc-256k.somw --format json
# Table 5: TLB-miss loads under virtualization (24 for a 4-level guest on a 4-level host).
write t5-tlb-walk.csv "$somsim" explain tlb-walk --format csv
# Table 6: the memdesc crossover (4 KiB against 2 MiB allocations): the sweep, one row per mix,
# and the crossover in a file of its own (so that every column of both files is one type).
write t6-crossover-4k-2m.csv "$somsim" generate alloc-mix --crossover --small 4K --large 2M --ram 1G --format csv
write t6-crossover-4k-2m-summary.csv "$somsim" generate alloc-mix --crossover --summary --small 4K --large 2M --ram 1G --format csv
# Table 7: every scheme on the example workloads.
for f in docs/examples/*.somw; do
  write "t7-compare-$(basename "$f" .somw).csv" "$somsim" compare "$f" --format csv
done
# Table 8: the seed scenarios (issue 11): every scheme on metadata, stranded memory, TLB reach and
# loads per TLB miss, one table each.
for s in prefork 10k database vm-host; do
  write "t8-seed-$s.csv" "$somsim" compare "papers/workloads/seed-$s.somw" --summary --schemes struct-page,hvo,folio,memdesc,som,som+memdesc --format csv
  write "t8-seed-$s.md" "$somsim" compare "papers/workloads/seed-$s.somw" --summary --schemes struct-page,hvo,folio,memdesc,som,som+memdesc --format md
done

# The allocator's seed scenarios (papers/malloc-scenarios.md): the example workloads with their
# `repeat` counts varied, each run simulated and summed per measure into one tidy CSV row.
# vary FILE VAR COUNT [VAR COUNT]...: FILE with `repeat N as VAR {` set to COUNT, on stdout.
vary() {
  file=$1
  shift
  script=
  while [ $# -ge 2 ]; do
    script="$script s/^repeat [0-9][0-9]* as $1 {/repeat $2 as $1 {/;"
    shift 2
  done
  sed "$script" "$file"
}
# sums LABEL PREFIX: from simulate's CSV on stdin, the sums over processes whose name starts with
# PREFIX at measure LABEL of cow_copies, cow_reuses, private_dirty_bytes, rss_bytes, pss_bytes and
# page_table_bytes, then the system's anon_bytes and page_table_bytes, comma-separated. Columns
# are found by their names in the header, so columns added to simulate's CSV move nothing.
sums() {
  awk -F, -v label="$1" -v prefix="$2" '
    NR == 1 {
      for (i = 1; i <= NF; i++) column[$i] = i
      l = column["label"]; p = column["process"]; m = column["metric"]; v = column["value"]
      if (!(l && p && m && v)) { print "reproduce.sh: simulate'"'"'s CSV has no label, process, metric or value column: " $0 > "/dev/stderr"; exit 1 }
      next
    }
    $l == label && $p != "" && index($p, prefix) == 1 { s[$m] += $v }
    $l == label && $p == "" && ($m == "anon_bytes" || $m == "page_table_bytes") { sys[$m] = $v }
    END { printf "%d,%d,%d,%d,%d,%d,%d,%d\n", s["cow_copies"], s["cow_reuses"], s["private_dirty_bytes"], s["rss_bytes"], s["pss_bytes"], s["page_table_bytes"], sys["anon_bytes"], sys["page_table_bytes"] }'
}
columns=cow_copies,cow_reuses,private_dirty_bytes,rss_bytes,pss_bytes,page_table_bytes,system_anon_bytes,system_page_table_bytes
# run FILE: simulate FILE (a temporary file) as CSV; stops the script when simulate fails.
run() {
  if ! "$somsim" simulate "$1" --format csv; then
    echo "reproduce.sh: simulate of a variant of $2 failed" >&2
    exit 1
  fi
}
variant=$(mktemp)
trap 'rm -f "$variant"; if [ -n "$tmp" ]; then rm -f "$tmp"; fi' EXIT
# M1: the prefork server and its two remedies: the workers' copies against worker count and
# allocations per worker.
m1() {
  echo "scenario,workers,allocations_per_worker,$columns"
  for scenario in prefork-server prefork-server-no-holes prefork-server-readonly-state; do
    for workers in 1 4 16; do
      for allocations in 0 4 8 16 32 64 256; do
        vary "docs/examples/$scenario.somw" w "$workers" j "$allocations" > "$variant"
        printf '%s,%s,%s,' "$scenario" "$workers" "$allocations"
        run "$variant" "$scenario" | sums workers worker
      done
    done
  done
}
write m1-prefork-copies.csv m1
# M2: small processes: heap and tables per process against the process count.
m2() {
  echo "processes,$columns"
  for processes in 10 100 1000 10000; do
    vary docs/examples/small-processes.somw i "$processes" > "$variant"
    printf '%s,' "$processes"
    run "$variant" small-processes | sums spawned p
  done
}
write m2-small-processes.csv m2
# M3: the fork snapshot: copies while the child lives, reuses after, against records updated on
# each side (cow_copies and cow_reuses count from the start: `after` includes `during`).
m3() {
  echo "records_updated,measure,$columns"
  for updated in 10 100 250 500; do
    vary docs/examples/fork-snapshot.somw u "$updated" v "$updated" > "$variant"
    run "$variant" fork-snapshot > "$variant.csv"
    for label in during after; do
      printf '%s,%s,' "$updated" "$label"
      sums "$label" db < "$variant.csv"
    done
    rm -f "$variant.csv"
  done
}
write m3-fork-snapshot.csv m3
# M4: modules loaded before or after fork, against worker count.
m4() {
  echo "workers,load,$columns"
  for workers in 1 2 4 8 16 32; do
    vary docs/examples/modules-before-after-fork.somw w "$workers" > "$variant"
    run "$variant" modules-before-after-fork > "$variant.csv"
    for load in early late; do
      printf '%s,%s,' "$workers" "$load"
      sums loaded "$load" < "$variant.csv"
    done
    rm -f "$variant.csv"
  done
}
write m4-modules-fork.csv m4
echo "wrote $out"

# The figures: every notebook of notebooks-data/, run headless on the data just written.
if [ $figures = yes ]; then
  sh papers/figures.sh "$out" "$drawn"
fi
