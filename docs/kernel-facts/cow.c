/* cow.c - Q2 fork copy-on-write of private anonymous memory (16 pages). */
#include "common.h"
#define N 16

static char *fresh(int slot, int write)
{
	char *p = map_at(SLOT(slot), N * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	touch(p, N, PG, write);
	return p;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	char *p;
	pid_t pid;
	long f, r0;

	puts("== Q2a/2d: parent wrote 16, fork, child writes 8 (stays alive), parent writes 16 ==");
	p = fresh(10, 1);
	sync_init();
	if (!(pid = fork())) {
		warm();
		wait_parent();
		psmaps("2d child after fork", p);
		printf("  child VmPTE after fork=%ld kB\n", vmpte());
		r0 = vmstat("pgreuse");
		f = touch(p, N / 2, PG, 1);
		printf("2a child writes 8: faults=%ld pgreuse delta=%ld\n", f, vmstat("pgreuse") - r0);
		psmaps("2a child after writing 8", p);
		tell_parent();
		wait_parent();              /* keep the child's mapping alive */
		psmaps("2a child after parent wrote", p);
		_exit(0);
	}
	warm();
	psmaps("2d parent after fork", p);
	tell_child();
	wait_child();
	psmaps("2a parent after child wrote 8", p);
	r0 = vmstat("pgreuse");
	f = touch(p, N, PG, 1);
	printf("2a parent writes 16 (child alive): faults=%ld pgreuse delta=%ld\n", f, vmstat("pgreuse") - r0);
	psmaps("2a parent after writing 16", p);
	tell_child();
	reap(pid, "child");

	puts("== Q2b: parent wrote 16, fork, child exits untouched, parent writes 16 ==");
	p = fresh(11, 1);
	if (!(pid = fork()))
		_exit(0);
	warm();
	reap(pid, "child");
	r0 = vmstat("pgreuse");
	f = touch(p, N, PG, 1);
	printf("2b parent writes 16 after child exit: faults=%ld pgreuse delta=%ld\n", f, vmstat("pgreuse") - r0);
	psmaps("2b parent after", p);

	puts("== Q2c: child reads 16 pages written by parent before fork ==");
	p = fresh(12, 1);
	if (!(pid = fork())) {
		warm();
		printf("2c child read 16: faults=%ld\n", touch(p, N, PG, 0));
		psmaps("2c child after read", p);
		_exit(0);
	}
	reap(pid, "child");

	puts("== Q2e: VMA with only read (zero-page) faults before fork ==");
	p = fresh(13, 0);
	psmaps("2e parent before fork", p);
	if (!(pid = fork())) {
		warm();
		printf("2e child read 16: faults=%ld\n", touch(p, N, PG, 0));
		printf("2e child write 16: faults=%ld\n", touch(p, N, PG, 1));
		_exit(0);
	}
	reap(pid, "child");
	/* same but one page written before fork (VMA now has an anon_vma) */
	p = fresh(14, 0);
	p[0] = 1;
	if (!(pid = fork())) {
		warm();
		printf("2e' (1 page written, 15 read) child read 16: faults=%ld\n", touch(p, N, PG, 0));
		_exit(0);
	}
	reap(pid, "child");
	/* untouched VMA: child read faults */
	p = map_at(SLOT(15), N * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	if (!(pid = fork())) {
		warm();
		printf("2e'' untouched VMA child read 16: faults=%ld\n", touch(p, N, PG, 0));
		_exit(0);
	}
	reap(pid, "child");
	return 0;
}
