#!/bin/bash
# Compile (gcc -O1) and run every kernel-facts probe; print results.
# Must run as root. HugeTLB pools and vm.hugetlb_optimize_vmemmap are set back
# to 0 on exit, also on failure or interrupt.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=$(mktemp -d /tmp/kernel-facts.XXXXXX)

restore() {
	echo 0 > /proc/sys/vm/nr_hugepages
	echo 0 > /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages
	echo 0 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_overcommit_hugepages
	echo 0 > /proc/sys/vm/hugetlb_optimize_vmemmap
	rm -rf "$bin" /dev/shm/somsim-kf /dev/shm/somsim-kf-dirty /dev/shm/somsim-kf-madv /dev/shm/somsim-kf-anon
	for m in /tmp/kf-hugetlbfs-*; do [ -d "$m" ] && { umount "$m" 2>/dev/null; rmdir "$m"; }; done
}
trap restore EXIT
trap 'exit 1' INT TERM

echo "kernel: $(uname -r)"
echo "THP enabled: $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
echo "THP shmem_enabled: $(cat /sys/kernel/mm/transparent_hugepage/shmem_enabled)"
echo "meltdown: $(cat /sys/devices/system/cpu/vulnerabilities/meltdown)"
echo "CONFIG_PT_RECLAIM: $(zcat /proc/config.gz 2>/dev/null | grep -E '^CONFIG_PT_RECLAIM=' || echo unknown)"

for prog in anon cow forkmadv shmem tmpfs hugetlb pagetables hvo hugetlbpriv madvrange dirtyzap resvunderflow protlock pools files remap madvadv smapsanon; do
	echo
	echo "########## $prog.c"
	gcc -O1 -o "$bin/$prog" "$here/$prog.c" || exit 1
	"$bin/$prog" || echo "($prog exited with status $?)"
done
