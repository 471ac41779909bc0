/* pagetables.c - Q7 page-table accounting (VmPTE, meminfo PageTables).
 * Uses 2 MiB and 1 GiB hugetlb pools; always sets them back to 0. */
#include "common.h"

static void cleanup(void) { write_long(NRHP2M, 0); write_long(NRHP1G, 0); }

/* fork a child that reports its VmPTE (kB) and exits */
static long child_vmpte(void)
{
	int fd[2];
	long v = -1;
	if (pipe(fd))
		return -1;
	pid_t pid = fork();
	if (!pid) {
		v = vmpte();
		if (write(fd[1], &v, sizeof v) != sizeof v)
			_exit(1);
		_exit(0);
	}
	if (read(fd[0], &v, sizeof v) != sizeof v)
		v = -1;
	reap(pid, "child");
	close(fd[0]);
	close(fd[1]);
	return v;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	atexit(cleanup);
	int rw = PROT_READ | PROT_WRITE, pa = MAP_PRIVATE | MAP_ANONYMOUS;
	long b, pt0;
	char *p;

	puts("== Q7 VmPTE deltas (kB) ==");
	b = vmpte();
	printf("baseline VmPTE=%ld\n", b);
	p = map_at(SLOT(40), 16 * PG, rw, pa, -1);
	printf("7a mmap only (no touch): delta=%ld\n", vmpte() - b);
	touch(p, 1, PG, 1);
	printf("7a write 1 page in fresh 512GiB slot: delta=%ld\n", vmpte() - b);
	touch(p, 16, PG, 1);
	printf("7a write all 16 pages: delta=%ld\n", vmpte() - b);
	munmap(p, 16 * PG);
	printf("7e after munmap: delta=%ld\n", vmpte() - b);

	b = vmpte();
	p = map_at(SLOT(41), 4UL << 20, rw, pa, -1);
	touch(p, 1024, PG, 1);
	printf("7b 4 MiB of 4K pages (2MiB aligned) written: delta=%ld\n", vmpte() - b);
	munmap(p, 4UL << 20);
	printf("7e after munmap: delta=%ld\n", vmpte() - b);

	/* f: MADV_DONTNEED of a whole 2 MiB-aligned, 2 MiB-long 4K mapping */
	b = vmpte();
	p = map_at(SLOT(42), MB2, rw, pa, -1);
	touch(p, 512, PG, 1);
	printf("7f 2 MiB of 4K written: delta=%ld\n", vmpte() - b);
	madvise(p, MB2, MADV_DONTNEED);
	printf("7f after MADV_DONTNEED whole 2MiB: delta=%ld\n", vmpte() - b);
	touch(p, 512, PG, 1);
	madvise(p, MB2 / 2, MADV_DONTNEED);
	printf("7f re-written, DONTNEED of first half only: delta=%ld\n", vmpte() - b);
	madvise(p + MB2 / 2, MB2 / 2, MADV_DONTNEED);
	printf("7f then DONTNEED of second half (table now empty): delta=%ld\n", vmpte() - b);
	munmap(p, MB2);
	/* PT reclaim needs the madvise range to be >= 2 MiB: test an unaligned 2 MiB range */
	b = vmpte();
	p = map_at(SLOT(49), 2 * MB2, rw, pa, -1);
	touch(p, 1024, PG, 1);
	madvise(p, MB2 / 2, MADV_DONTNEED);
	printf("7f 4MiB written, DONTNEED [0,1M): delta=%ld\n", vmpte() - b);
	madvise(p + MB2 / 2, MB2, MADV_DONTNEED);
	printf("7f then DONTNEED [1M,3M) (table 0 now empty, table 1 half): delta=%ld\n", vmpte() - b);
	madvise(p, 2 * MB2, MADV_DONTNEED);
	printf("7f then DONTNEED [0,4M): delta=%ld\n", vmpte() - b);
	munmap(p, 2 * MB2);
	/* MADV_FREE does not reclaim tables? */
	b = vmpte();
	p = map_at(SLOT(43), MB2, rw, pa, -1);
	touch(p, 512, PG, 1);
	madvise(p, MB2, MADV_FREE);
	printf("7f MADV_FREE whole 2MiB (pages lazily freed): delta=%ld\n", vmpte() - b);
	munmap(p, MB2);

	/* c: 2 MiB hugetlb */
	write_long(NRHP2M, 1);
	b = vmpte();
	p = map_at(SLOT(44), MB2, rw, pa | MAP_HUGETLB | MAP_HUGE_2MB, -1);
	if (p) {
		touch(p, 1, MB2, 1);
		printf("7c 2 MiB hugetlb page written: delta=%ld\n", vmpte() - b);
		munmap(p, MB2);
		printf("7e after munmap: delta=%ld\n", vmpte() - b);
	}
	write_long(NRHP2M, 0);

	/* d: 1 GiB hugetlb */
	write_long(NRHP1G, 1);
	printf("7d 1GiB pool after setting 1: nr_hugepages=%ld\n", read_long(NRHP1G));
	b = vmpte();
	p = map_at(SLOT(45), GB1, rw, pa | MAP_HUGETLB | MAP_HUGE_1GB, -1);
	if (p) {
		touch(p, 1, GB1, 1);
		printf("7d 1 GiB hugetlb page written: delta=%ld\n", vmpte() - b);
		psmaps("7d 1G smaps", p);
		munmap(p, GB1);
		printf("7e after munmap: delta=%ld\n", vmpte() - b);
	}
	write_long(NRHP1G, 0);

	/* g: what fork copies */
	puts("== Q7g child VmPTE ==");
	long c0 = child_vmpte();
	printf("7g parent VmPTE=%ld, child of baseline VmPTE=%ld\n", vmpte(), c0);
	p = map_at(SLOT(46), 16 * PG, rw, pa, -1);
	touch(p, 16, PG, 1);
	printf("7g + private anon 16 written pages (own slot): parent delta=%ld child delta=%ld\n",
	       vmpte() - b, child_vmpte() - c0);
	b = vmpte();
	c0 = child_vmpte();
	p = map_at(SLOT(47), 16 * PG, rw, MAP_SHARED | MAP_ANONYMOUS, -1);
	touch(p, 16, PG, 1);
	printf("7g + shared anon 16 written pages (own slot): parent delta=%ld child delta=%ld\n",
	       vmpte() - b, child_vmpte() - c0);
	b = vmpte();
	c0 = child_vmpte();
	p = map_at(SLOT(48), 16 * PG, rw, pa, -1);
	touch(p, 16, PG, 0);
	printf("7g + private anon 16 read-only-faulted pages (zero page): parent delta=%ld child delta=%ld\n",
	       vmpte() - b, child_vmpte() - c0);

	/* h: PageTables per forked child; average over many sleeping children */
	puts("== Q7h meminfo PageTables per fork ==");
	enum { K = 200 };
	pid_t kids[K];
	int go[2];
	if (pipe(go))
		return 1;
	sleep(1);
	pt0 = meminfo("PageTables");
	long cv = child_vmpte();
	for (int i = 0; i < K; i++)
		if (!(kids[i] = fork())) {
			char c;
			close(go[1]);
			if (read(go[0], &c, 1) < 0)
				_exit(1);
			_exit(0);
		}
	sleep(1);
	long pt1 = meminfo("PageTables");
	close(go[1]);
	for (int i = 0; i < K; i++)
		waitpid(kids[i], NULL, 0);
	printf("7h %d children: PageTables delta=%ld kB -> %.2f kB/child; child VmPTE=%ld kB -> PGD etc = %.2f kB\n",
	       K, pt1 - pt0, (pt1 - pt0) / (double)K, cv, (pt1 - pt0) / (double)K - cv);
	return 0;
}
