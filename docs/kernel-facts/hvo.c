/* hvo.c - Q8 HugeTLB Vmemmap Optimization: memmap page accounting.
 * Changes vm.hugetlb_optimize_vmemmap and pools; restores all to 0. */
#include "common.h"

static void cleanup(void) { write_long(NRHP2M, 0); write_long(NRHP1G, 0); write_long(HVO, 0); }

static long memmap(void) { return vmstat("nr_memmap_pages") + vmstat("nr_memmap_boot_pages"); }

static void run(const char *file, long n, const char *what)
{
	long m0 = memmap(), a0 = vmstat("nr_memmap_pages"), b0 = vmstat("nr_memmap_boot_pages");
	write_long(file, n);
	long got = read_long(file);
	long m1 = memmap();
	printf("  %s: set %ld got %ld: memmap delta=%ld (nr_memmap_pages %+ld, nr_memmap_boot_pages %+ld)\n",
	       what, n, got, m1 - m0, vmstat("nr_memmap_pages") - a0, vmstat("nr_memmap_boot_pages") - b0);
	a0 = vmstat("nr_memmap_pages"), b0 = vmstat("nr_memmap_boot_pages");
	write_long(file, 0);
	printf("  %s: back to 0: memmap delta vs start=%ld (this step: nr_memmap_pages %+ld, nr_memmap_boot_pages %+ld)\n",
	       what, memmap() - m0, vmstat("nr_memmap_pages") - a0, vmstat("nr_memmap_boot_pages") - b0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	atexit(cleanup);
	printf("start: nr_memmap_pages=%ld nr_memmap_boot_pages=%ld hvo=%ld\n",
	       vmstat("nr_memmap_pages"), vmstat("nr_memmap_boot_pages"), read_long(HVO));
	puts("== Q8 HVO off ==");
	run(NRHP2M, 10, "2M x10");
	run(NRHP1G, 1, "1G x1");
	puts("== Q8 HVO on ==");
	write_long(HVO, 1);
	run(NRHP2M, 10, "2M x10");
	run(NRHP1G, 1, "1G x1");
	/* knob turned off while pages are in the pool: freeing still restores */
	long m0 = memmap();
	write_long(NRHP2M, 10);
	write_long(HVO, 0);
	write_long(NRHP2M, 0);
	printf("  2M x10 allocated with HVO on, knob off, then freed: memmap delta=%ld\n", memmap() - m0);
	cleanup();
	printf("end: nr_memmap_pages=%ld nr_memmap_boot_pages=%ld hvo=%ld\n",
	       vmstat("nr_memmap_pages"), vmstat("nr_memmap_boot_pages"), read_long(HVO));
	return 0;
}
