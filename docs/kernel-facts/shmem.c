/* shmem.c - Q4 MAP_SHARED|MAP_ANONYMOUS (shmem) faults, PTE copying, smaps. */
#include "common.h"
#define N 64

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int rw = PROT_READ | PROT_WRITE, sa = MAP_SHARED | MAP_ANONYMOUS;
	char *p;
	pid_t pid;
	long pte0;

	puts("== Q4 shared anon 64 pages, parent writes all, fork ==");
	p = map_at(SLOT(20), N * PG, rw, sa, -1);
	printf("4 parent writes 64 untouched: faults=%ld\n", touch(p, N, PG, 1));
	psmaps("4c parent after write", p);
	sync_init();
	if (!(pid = fork())) {
		warm();
		pte0 = vmpte();
		psmaps("4c child after fork", p);
		printf("4a child reads 64: faults=%ld\n", touch(p, N, PG, 0));
		printf("4b child VmPTE after fork=%ld after reading=%ld (delta %ld kB)\n", pte0, vmpte(), vmpte() - pte0);
		psmaps("4c child after reading", p);
		printf("4a child writes 64 (after read): faults=%ld\n", touch(p, N, PG, 1));
		psmaps("4c child after writing", p);
		_exit(0);
	}
	reap(pid, "child");
	psmaps("4c parent after child exit", p);

	/* child writes without reading first */
	if (!(pid = fork())) {
		warm();
		printf("4a child writes 64 (no prior read): faults=%ld\n", touch(p, N, PG, 1));
		_exit(0);
	}
	reap(pid, "child");

	puts("== Q4d read of untouched shared anon pages ==");
	p = map_at(SLOT(21), N * PG, rw, sa, -1);
	printf("4d read 64 untouched one by one: faults=%ld\n", touch(p, N, PG, 0));
	psmaps("4c/4d after read only", p);
	printf("4d then write 64: faults=%ld\n", touch(p, N, PG, 1));
	psmaps("4d after read then write", p);

	puts("== Q4a' fork, child reads pages written by parent, 1-page stride order reversed ==");
	p = map_at(SLOT(22), N * PG, rw, sa, -1);
	touch(p, N, PG, 1);
	if (!(pid = fork())) {
		warm();
		long f0 = minflt();
		for (long i = N - 1; i >= 0; i--)
			sink = p[i * PG];
		printf("4a' child reads 64 backwards: faults=%ld\n", minflt() - f0);
		_exit(0);
	}
	reap(pid, "child");

	puts("== Q4c' parent reads then writes (write hits an already-writable PTE), fork, child reads ==");
	p = map_at(SLOT(23), N * PG, rw, sa, -1);
	printf("4c' parent read 64: faults=%ld\n", touch(p, N, PG, 0));
	printf("4c' parent write 64: faults=%ld\n", touch(p, N, PG, 1));
	psmaps("4c' parent", p);
	if (!(pid = fork())) {
		warm();
		printf("4c' child read 64: faults=%ld\n", touch(p, N, PG, 0));
		psmaps("4c' child after read", p);
		_exit(0);
	}
	reap(pid, "child");
	return 0;
}
