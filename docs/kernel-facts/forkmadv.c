/* forkmadv.c - Q3 MADV_DONTFORK / MADV_WIPEONFORK behaviour in a forked child. */
#include "common.h"
#define N 16

static void cleanup(void) { write_long(NRHP2M, 0); }

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	atexit(cleanup);
	int rw = PROT_READ | PROT_WRITE, pa = MAP_PRIVATE | MAP_ANONYMOUS;
	char *p, *q;
	pid_t pid;
	int r;

	puts("== Q3 MADV_WIPEONFORK on private anon, parent wrote 16 pages ==");
	p = map_at(SLOT(50), N * PG, rw, pa, -1);
	touch(p, N, PG, 1);
	printf("madvise(WIPEONFORK)=%d\n", madvise(p, N * PG, MADV_WIPEONFORK));
	if (!(pid = fork())) {
		warm();
		long pte0 = vmpte();
		psmaps("3 child after fork", p);
		long f = touch(p, N, PG, 0);
		printf("3 child read 16: faults=%ld value[0]=%d\n", f, p[0]);
		psmaps("3 child after read", p);
		printf("3 child write 16: faults=%ld\n", touch(p, N, PG, 1));
		psmaps("3 child after write", p);
		printf("3 child VmPTE delta after touching=%ld\n", vmpte() - pte0);
		_exit(0);
	}
	reap(pid, "child");

	puts("== Q3 MADV_DONTFORK on private anon ==");
	q = map_at(SLOT(51), N * PG, rw, pa, -1);
	touch(q, N, PG, 1);
	printf("madvise(DONTFORK)=%d\n", madvise(q, N * PG, MADV_DONTFORK));
	if (!(pid = fork())) {
		psmaps("3 child: DONTFORK VMA present?", q);
		printf("3 child reading DONTFORK page...\n");
		sink = q[0];
		printf("3 child read succeeded\n");
		_exit(0);
	}
	reap(pid, "child");

	puts("== Q3 WIPEONFORK on MAP_SHARED anon / hugetlb ==");
	p = map_at(SLOT(52), N * PG, rw, MAP_SHARED | MAP_ANONYMOUS, -1);
	r = madvise(p, N * PG, MADV_WIPEONFORK);
	printf("MAP_SHARED anon: madvise(WIPEONFORK)=%d errno=%s\n", r, r ? strerror(errno) : "-");
	write_long(NRHP2M, 1);
	p = map_at(SLOT(53), MB2, rw, pa | MAP_HUGETLB | MAP_HUGE_2MB, -1);
	r = madvise(p, MB2, MADV_WIPEONFORK);
	printf("MAP_PRIVATE hugetlb: madvise(WIPEONFORK)=%d errno=%s\n", r, r ? strerror(errno) : "-");
	r = madvise(p, MB2, MADV_DONTFORK);
	printf("MAP_PRIVATE hugetlb: madvise(DONTFORK)=%d errno=%s\n", r, r ? strerror(errno) : "-");
	munmap(p, MB2);
	p = map_at(SLOT(54), N * PG, PROT_READ, MAP_PRIVATE, open("/proc/self/exe", O_RDONLY));
	r = madvise(p, N * PG, MADV_WIPEONFORK);
	printf("MAP_PRIVATE file: madvise(WIPEONFORK)=%d errno=%s\n", r, r ? strerror(errno) : "-");
	return 0;
}
