#!/bin/sh
# Regenerates every table of papers/published-figures.md, one command each, into notebooks-data/.
# Run from the repository root: sh papers/reproduce.sh [path/to/somsim [output folder]]
# Without a path it builds somsim first (swift build --product somsim).
# (Tests/somsimTests checks that the committed data is what this script writes.)
#
# Committed data is never destroyed: every file is written to a temporary file in the output
# folder and renamed over the old one only when its command succeeded; the first failure stops
# the script with a message and a non-zero exit, leaving that file as it was.
set -eu
if [ $# -ge 1 ]; then
  somsim=$1
else
  somsim=.build/debug/somsim
  swift build --product somsim >&2 || { echo "reproduce.sh: swift build --product somsim failed; nothing was written" >&2; exit 1; }
fi
out=${2:-notebooks-data/published-figures}
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
# Table 6: the memdesc crossover (4 KiB against 2 MiB allocations).
write t6-crossover-4k-2m.csv "$somsim" generate alloc-mix --crossover --small 4K --large 2M --ram 1G --format csv
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
echo "wrote $out"
