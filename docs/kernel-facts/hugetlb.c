/* hugetlb.c - Q6 2 MiB HugeTLB reservations, faults, fork/COW, pool exhaustion.
 * Changes /proc/sys/vm/nr_hugepages and always sets it back to 0. */
#include "common.h"

static void pool(long n)
{
	write_long(NRHP2M, n);
	if (read_long(NRHP2M) != n)
		printf("  could not set nr_hugepages=%ld (got %ld)\n", n, read_long(NRHP2M));
}

static void hp(const char *tag)
{
	printf("  %-44s Total=%ld Free=%ld Rsvd=%ld Surp=%ld\n", tag, meminfo("HugePages_Total"),
	       meminfo("HugePages_Free"), meminfo("HugePages_Rsvd"), meminfo("HugePages_Surp"));
}

static char *hmap(int slot, long npages, int flags)
{
	return map_at(SLOT(slot), npages * MB2, PROT_READ | PROT_WRITE,
		      flags | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1);
}

static void cleanup(void) { pool(0); }

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	atexit(cleanup);
	char *p;
	pid_t pid;
	long f;

	puts("== Q6a pool=4, MAP_PRIVATE hugetlb 2 pages ==");
	pool(4);
	hp("before mmap");
	p = hmap(30, 2, MAP_PRIVATE);
	hp("after mmap 2 pages");
	f = touch(p, 1, MB2, 1);
	printf("6a write page 0: faults=%ld\n", f);
	hp("after writing page 0");
	psmaps("6a parent", p);

	puts("== Q6b fork, child writes page 0 (shared with parent) ==");
	sync_init();
	if (!(pid = fork())) {
		warm();
		psmaps("6b child after fork", p);
		printf("6b child write page 0: faults=%ld\n", touch(p, 1, MB2, 1));
		hp("after child COW of page 0");
		psmaps("6b child after write", p);
		printf("6b child write page 1 (parent reserved, untouched): faults=%ld\n", touch(p + MB2, 1, MB2, 1));
		hp("after child wrote page 1");
		psmaps("6b child after write page 1", p);
		tell_parent();
		wait_parent();
		_exit(0);
	}
	warm();
	psmaps("6b parent after fork", p);
	wait_child();
	psmaps("6b parent after child writes", p);
	printf("6b parent write page 0 (now exclusive): faults=%ld\n", touch(p, 1, MB2, 1));
	hp("after parent re-wrote page 0");
	tell_child();
	reap(pid, "child");
	hp("after child exit");
	printf("6b parent write page 1: faults=%ld\n", touch(p + MB2, 1, MB2, 1));
	hp("after parent wrote page 1");
	munmap(p, 2 * MB2);
	hp("after munmap");

	puts("== Q6f owner munmaps with untouched pages ==");
	p = hmap(31, 3, MAP_PRIVATE);
	touch(p, 1, MB2, 1);
	hp("3-page map, 1 written");
	munmap(p, 3 * MB2);
	hp("after munmap");

	puts("== Q6g read of untouched private hugetlb page ==");
	p = hmap(32, 2, MAP_PRIVATE);
	hp("after mmap 2");
	printf("6g read page 0: faults=%ld\n", touch(p, 1, MB2, 0));
	hp("after read page 0");
	psmaps("6g after read", p);

	puts("== Q6h MADV_DONTNEED on written private hugetlb page ==");
	touch(p, 1, MB2, 1);
	printf("6h madvise(DONTNEED page 0)=%d\n", madvise(p, MB2, MADV_DONTNEED));
	hp("after DONTNEED page 0");
	printf("6h re-write page 0: faults=%ld\n", touch(p, 1, MB2, 1));
	hp("after re-write page 0");
	munmap(p, 2 * MB2);
	hp("after munmap");

	puts("== Q6c pool=2 exhausted by parent (2 pages written), fork, child writes page 0 ==");
	pool(2);
	p = hmap(33, 2, MAP_PRIVATE);
	touch(p, 2, MB2, 1);
	hp("parent wrote both");
	if (!(pid = fork())) {
		warm();
		printf("6c child writing page 0...\n");
		touch(p, 1, MB2, 1);
		printf("6c child write succeeded\n");
		_exit(0);
	}
	reap(pid, "6c child");
	hp("after 6c");

	puts("== Q6d pool exhausted, PARENT (owner) writes page shared with child ==");
	if (!(pid = fork())) {
		warm();
		psmaps("6d child after fork", p);
		tell_parent();
		wait_parent();
		psmaps("6d child after parent's write", p);
		printf("6d child reading page 1 (not stolen)...\n");
		touch(p + MB2, 1, MB2, 0);
		printf("6d child read page 1 ok\n");
		printf("6d child reading page 0 (stolen)...\n");
		touch(p, 1, MB2, 0);
		printf("6d child read page 0 succeeded\n");
		_exit(0);
	}
	warm();
	wait_child();
	f = touch(p, 1, MB2, 1);
	printf("6d parent write page 0 succeeded: faults=%ld\n", f);
	hp("after parent write");
	psmaps("6d parent after write", p);
	tell_child();
	reap(pid, "6d child");
	munmap(p, 2 * MB2);

	puts("== Q6e mmap larger than pool (pool=2, map 3) ==");
	p = hmap(34, 3, MAP_PRIVATE);
	if (p) munmap(p, 3 * MB2);
	p = hmap(35, 3, MAP_SHARED);
	if (p) munmap(p, 3 * MB2);
	p = hmap(36, 3, MAP_PRIVATE | MAP_NORESERVE);
	printf("6e MAP_PRIVATE|MAP_NORESERVE 3 pages: %s\n", p ? "ok" : "failed");
	if (p) {
		hp("after NORESERVE mmap");
		munmap(p, 3 * MB2);
	}

	puts("== Q6 shared hugetlb: mmap reservation, fork, child write ==");
	p = hmap(37, 2, MAP_SHARED);
	hp("MAP_SHARED 2 pages mapped");
	touch(p, 1, MB2, 1);
	hp("after write page 0");
	if (!(pid = fork())) {
		warm();
		psmaps("child after fork (shared)", p);
		printf("child write page 0: faults=%ld\n", touch(p, 1, MB2, 1));
		printf("child write page 1: faults=%ld\n", touch(p + MB2, 1, MB2, 1));
		psmaps("child after writes (shared)", p);
		_exit(0);
	}
	reap(pid, "child");
	hp("after child");
	psmaps("parent (shared)", p);
	munmap(p, 2 * MB2);
	hp("after munmap");
	return 0;
}
