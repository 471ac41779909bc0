#!/bin/sh
# Regenerates every table of papers/published-figures.md, one command each, into notebooks-data/.
# Run from the repository root: sh papers/reproduce.sh [path/to/somsim [output folder]]
# (Tests/somsimTests checks that the committed data is what this script writes.)
set -eu
somsim=${1:-.build/debug/somsim}
out=${2:-notebooks-data/published-figures}
mkdir -p "$out"
# Table 1: struct page, 1/64 of RAM (the "1.6%").
"$somsim" compare papers/workloads/struct-page.somw --schemes struct-page --format csv > "$out/t1-struct-page.csv"
# Table 2: HVO per 2 MiB page, kept=2 (6 pages, 24 KiB, the "1.2%") and kept=1 (7 pages, the "1.4%").
"$somsim" compare papers/workloads/hvo-2m-kept2.somw --schemes struct-page,hvo --format csv > "$out/t2-hvo-2m-kept2.csv"
"$somsim" compare papers/workloads/hvo-2m-kept1.somw --schemes struct-page,hvo --format csv > "$out/t2-hvo-2m-kept1.csv"
# Table 3: HVO per 1 GiB page (4095 of 4096 vmemmap pages freed).
"$somsim" explain hvo papers/workloads/hvo-1g.somw --format json > "$out/t3-hvo-1g.json"
# Table 4: memdesc cost of one 256 KiB anonymous allocation (608 B, 0.23%).
"$somsim" explain memdesc papers/workloads/memdesc-256k.somw --format json > "$out/t4-memdesc-256k.json"
# Table 5: TLB-miss loads under virtualization (24 for a 4-level guest on a 4-level host).
"$somsim" explain tlb-walk --format csv > "$out/t5-tlb-walk.csv"
# Table 6: the memdesc crossover (4 KiB against 2 MiB allocations).
"$somsim" generate alloc-mix --crossover --small 4K --large 2M --ram 1G --format csv > "$out/t6-crossover-4k-2m.csv"
# Table 7: every scheme on the example workloads.
for f in docs/examples/*.somw; do
  "$somsim" compare "$f" --format csv > "$out/t7-compare-$(basename "$f" .somw).csv"
done
echo "wrote $out"
