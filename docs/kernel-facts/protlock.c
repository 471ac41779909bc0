/* protlock.c - Q15 mprotect and Q16 mlock/munlock: protections per range, SIGSEGV, COW after
 * re-enabling writes, ranges that run past a mapping, THP and HugeTLB, VmLck, population, fork.
 * Changes /proc/sys/vm/nr_hugepages and sets it back to 0 on exit. Run as root. */
#include "common.h"

static void cleanup(void) { write_long(NRHP2M, 0); }

/* VMAs of [p, p + len): offset in pages, length in pages, permissions, whether VM_LOCKED */
static void vmas(const char *tag, char *p, size_t len)
{
	char line[512], perms[8];
	unsigned long lo, hi, cur_lo = 0, cur_hi = 0;
	int in = 0;
	printf("  %s VMAs:", tag);
	FILE *f = fopen("/proc/self/smaps", "r");
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && strchr(line, '-') < strchr(line, ' ')) {
			in = lo < (unsigned long)p + len && hi > (unsigned long)p;
			cur_lo = lo;
			cur_hi = hi;
			if (in)
				printf(" [%ld+%ld %s", (long)(cur_lo - (unsigned long)p) / (long)PG, (long)(cur_hi - cur_lo) / (long)PG, perms);
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8))
			printf("%s]", strstr(line, " lo") ? " lo" : "");
	}
	fclose(f);
	printf("\n");
}

static long present(char *p, long n, size_t step)
{
	long k = 0;
	for (long i = 0; i < n; i++)
		k += pfn_of(p + i * step) != 0;
	return k;
}

/* how many of n pages changed frame since `before` */
static long changed(char *p, long n, unsigned long *before)
{
	long k = 0;
	for (long i = 0; i < n; i++)
		k += pfn_of(p + i * PG) != before[i];
	return k;
}

static void frames(char *p, long n, unsigned long *out)
{
	for (long i = 0; i < n; i++)
		out[i] = pfn_of(p + i * PG);
}

/* a child that touches one byte and reports how it ended (the parent's mapping is unchanged
 * apart from the COW share the fork makes, so callers use a mapping of its own) */
static void probe_access(const char *tag, char *addr, int w)
{
	pid_t pid = fork();
	if (!pid) {
		long f0 = minflt();
		if (w)
			*(volatile char *)addr = 1;
		else
			sink = *(volatile char *)addr;
		printf("  %s: no signal, faults=%ld\n", tag, minflt() - f0);
		_exit(0);
	}
	printf("  %s:", tag);
	reap(pid, "");
}

static long mp(const char *tag, void *a, size_t len, int prot)
{
	long f0 = minflt();
	int r = mprotect(a, len, prot);
	long f = minflt() - f0;
	printf("%s: mprotect=%d %s faults=%ld\n", tag, r, r ? strerror(errno) : "", f);
	return f;
}

static void ml(const char *tag, void *a, size_t len, int lock)
{
	long f0 = minflt();
	int r = lock ? mlock(a, len) : munlock(a, len);
	long f = minflt() - f0;
	printf("%s: %s=%d %s faults=%ld VmLck=%ld\n", tag, lock ? "mlock" : "munlock", r, r ? strerror(errno) : "", f,
	       proc_kv("/proc/self/status", "VmLck"));
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	atexit(cleanup);
	int rw = PROT_READ | PROT_WRITE, pa = MAP_PRIVATE | MAP_ANONYMOUS, sa = MAP_SHARED | MAP_ANONYMOUS;
	char *a, *b;
	unsigned long before[16];
	pid_t pid;
	long r0, f;

	puts("== Q15a exclusive anon pages: write 16, mprotect(READ), read, mprotect(RW), write ==");
	a = map_at(SLOT(150), 16 * PG, rw, pa, -1);
	touch(a, 16, PG, 1);
	frames(a, 16, before);
	mp("15a read", a, 16 * PG, PROT_READ);
	printf("15a read 16 under PROT_READ: faults=%ld\n", touch(a, 16, PG, 0));
	mp("15a rw", a, 16 * PG, rw);
	r0 = vmstat("pgreuse");
	f = touch(a, 16, PG, 1);
	printf("15a write 16 after re-enabling: faults=%ld pgreuse=%ld frames changed=%ld\n", f, vmstat("pgreuse") - r0, changed(a, 16, before));
	mp("15a none", a, 16 * PG, PROT_NONE);
	psmaps("15a under PROT_NONE", a);
	printf("15a present under PROT_NONE (pagemap): %ld\n", present(a, 16, PG));
	mp("15a rw again", a, 16 * PG, rw);
	r0 = vmstat("pgreuse");
	f = touch(a, 16, PG, 1);
	printf("15a write 16 after NONE->RW: faults=%ld pgreuse=%ld changed=%ld\n", f, vmstat("pgreuse") - r0, changed(a, 16, before));
	mp("15a none again", a, 16 * PG, PROT_NONE);
	probe_access("15a write under PROT_NONE", a, 1);
	probe_access("15a read under PROT_NONE", a, 0);
	munmap(a, 16 * PG);

	puts("== Q15b PROT_READ on untouched memory: read maps the zero page, write raises SIGSEGV ==");
	a = map_at(SLOT(151), 16 * PG, rw, pa, -1);
	mp("15b read", a, 16 * PG, PROT_READ);
	printf("15b read 16: faults=%ld\n", touch(a, 16, PG, 0));
	psmaps("15b after read", a);
	probe_access("15b write under PROT_READ (zero page)", a, 1);
	probe_access("15b write under PROT_READ (untouched page 0 of another)", a, 1);
	mp("15b rw", a, 16 * PG, rw);
	printf("15b write 16 after RW (zero pages): faults=%ld\n", touch(a, 16, PG, 1));
	munmap(a, 16 * PG);

	puts("== Q15c after fork: child exits, parent mprotect(READ) then RW, writes 16 ==");
	a = map_at(SLOT(152), 16 * PG, rw, pa, -1);
	touch(a, 16, PG, 1);
	if (!(pid = fork()))
		_exit(0);
	warm();
	reap(pid, "child");
	frames(a, 16, before);
	mp("15c read", a, 16 * PG, PROT_READ);
	mp("15c rw", a, 16 * PG, rw);
	r0 = vmstat("pgreuse");
	f = touch(a, 16, PG, 1);
	printf("15c write 16: faults=%ld pgreuse=%ld changed=%ld\n", f, vmstat("pgreuse") - r0, changed(a, 16, before));
	mp("15c read 2", a, 16 * PG, PROT_READ);
	mp("15c rw 2", a, 16 * PG, rw);
	printf("15c write 16 again (reused pages are exclusive again): faults=%ld\n", touch(a, 16, PG, 1));
	munmap(a, 16 * PG);

	puts("== Q15d after fork with the child alive: parent mprotect(READ)/RW, writes 16 ==");
	a = map_at(SLOT(153), 16 * PG, rw, pa, -1);
	touch(a, 16, PG, 1);
	sync_init();
	if (!(pid = fork())) {
		warm();
		wait_parent();
		_exit(0);
	}
	warm();
	frames(a, 16, before);
	mp("15d read", a, 16 * PG, PROT_READ);
	mp("15d rw", a, 16 * PG, rw);
	r0 = vmstat("pgreuse");
	f = touch(a, 16, PG, 1);
	printf("15d write 16: faults=%ld pgreuse=%ld changed=%ld\n", f, vmstat("pgreuse") - r0, changed(a, 16, before));
	tell_child();
	reap(pid, "child");
	munmap(a, 16 * PG);

	puts("== Q15e fork copies protections: mprotect(READ) pages 0-7, fork ==");
	a = map_at(SLOT(154), 16 * PG, rw, pa, -1);
	touch(a, 16, PG, 1);
	mp("15e read half", a, 8 * PG, PROT_READ);
	vmas("15e parent", a, 16 * PG);
	if (!(pid = fork())) {
		warm();
		vmas("15e child", a, 16 * PG);
		printf("15e child reads 16: faults=%ld\n", touch(a, 16, PG, 0));
		printf("15e child writes pages 8-15: faults=%ld\n", touch(a + 8 * PG, 8, PG, 1));
		long f0 = minflt();
		*(volatile char *)a = 1;
		printf("15e child write page 0: no signal? faults=%ld\n", minflt() - f0);
		_exit(0);
	}
	reap(pid, "15e child");
	munmap(a, 16 * PG);

	puts("== Q15f ranges: [a 4 pages] then nothing; mprotect pages [2, 6) ==");
	a = map_at(SLOT(155), 4 * PG, rw, pa, -1);
	touch(a, 4, PG, 1);
	mp("15f past end", a + 2 * PG, 4 * PG, PROT_READ);
	vmas("15f", a, 4 * PG);
	mp("15f start in gap", a - 2 * PG, 4 * PG, PROT_NONE);
	vmas("15f", a, 4 * PG);
	mp("15f zero length", a, 0, PROT_NONE);
	mp("15f unaligned", a + 1, PG, PROT_NONE);
	mp("15f zero length in gap", a + 8 * PG, 0, PROT_NONE);
	munmap(a, 4 * PG);

	puts("== Q15g [a 4][gap 4][b 4]: mprotect [a+2, b+2) READ ==");
	a = map_at(SLOT(156), 4 * PG, rw, pa, -1);
	b = map_at(SLOT(156) + 8 * PG, 4 * PG, rw, pa, -1);
	mp("15g", a + 2 * PG, 10 * PG, PROT_READ);
	vmas("15g", a, 12 * PG);
	puts("== Q15h [a 4][s 4 shared] adjacent: mprotect [a+2, s+2) READ, then all RW ==");
	b = map_at(SLOT(157), 4 * PG, rw, pa, -1);
	char *s = map_at(SLOT(157) + 4 * PG, 4 * PG, rw, sa, -1);
	mp("15h", b + 2 * PG, 4 * PG, PROT_READ);
	vmas("15h", b, 8 * PG);
	mp("15h rw", b, 8 * PG, rw);
	vmas("15h", b, 8 * PG);

	puts("== Q15i shared anon: write 16, mprotect(READ), mprotect(RW), write; read-only read then RW write ==");
	s = map_at(SLOT(158), 16 * PG, rw, sa, -1);
	touch(s, 16, PG, 1);
	mp("15i read", s, 16 * PG, PROT_READ);
	mp("15i rw", s, 16 * PG, rw);
	printf("15i write 16: faults=%ld\n", touch(s, 16, PG, 1));
	s = map_at(SLOT(159), 16 * PG, rw, sa, -1);
	mp("15i' read", s, 16 * PG, PROT_READ);
	printf("15i' read 16 (untouched shmem): faults=%ld\n", touch(s, 16, PG, 0));
	psmaps("15i' after read", s);
	mp("15i' rw", s, 16 * PG, rw);
	printf("15i' write 16: faults=%ld\n", touch(s, 16, PG, 1));
	psmaps("15i' after write", s);

	puts("== Q15j THP (madvise hugepage), 2 MiB written, mprotect(READ) of its first 4 KiB ==");
	a = map_at(SLOT(160), MB2, rw, pa, -1);
	madvise(a, MB2, MADV_HUGEPAGE);
	long pte0 = vmpte();
	touch(a, 1, PG, 1);
	printf("15j after write: VmPTE +%ld AnonHugePages=%ld\n", vmpte() - pte0, proc_kv("/proc/self/smaps_rollup", "AnonHugePages"));
	frames(a, 16, before);
	mp("15j read first 4K", a, PG, PROT_READ);
	printf("15j after: VmPTE +%ld AnonHugePages=%ld\n", vmpte() - pte0, proc_kv("/proc/self/smaps_rollup", "AnonHugePages"));
	vmas("15j", a, 512 * PG);
	mp("15j rw", a, PG, rw);
	printf("15j write 512 after: faults=%ld changed=%ld\n", touch(a, 512, PG, 1), changed(a, 16, before));
	munmap(a, MB2);
	a = map_at(SLOT(161), MB2, rw, pa, -1);
	madvise(a, MB2, MADV_HUGEPAGE);
	touch(a, 1, PG, 1);
	mp("15j' read whole 2M", a, MB2, PROT_READ);
	printf("15j' AnonHugePages=%ld\n", proc_kv("/proc/self/smaps_rollup", "AnonHugePages"));
	mp("15j' rw whole", a, MB2, rw);
	printf("15j' write 512: faults=%ld AnonHugePages=%ld\n", touch(a, 512, PG, 1), proc_kv("/proc/self/smaps_rollup", "AnonHugePages"));
	munmap(a, MB2);

	puts("== Q15k HugeTLB 2M private, 2 pages written: mprotect(READ)/RW then write; unaligned ==");
	write_long(NRHP2M, 4);
	a = map_at(SLOT(162), 2 * MB2, rw, pa | MAP_HUGETLB | MAP_HUGE_2MB, -1);
	touch(a, 2, MB2, 1);
	mp("15k read", a, 2 * MB2, PROT_READ);
	mp("15k rw", a, 2 * MB2, rw);
	frames(a, 1, before);
	printf("15k write 2: faults=%ld changed=%ld Free=%ld Rsvd=%ld\n", touch(a, 2, MB2, 1), changed(a, 1, before),
	       meminfo("HugePages_Free"), meminfo("HugePages_Rsvd"));
	mp("15k read page 1 only", a + MB2, MB2, PROT_READ);
	vmas("15k", a, 2 * MB2);
	mp("15k unaligned length", a, PG, PROT_READ);
	mp("15k unaligned start", a + PG, MB2 - PG, PROT_READ);
	mp("15k all RW", a, 2 * MB2, rw);
	printf("15k write 2: faults=%ld\n", touch(a, 2, MB2, 1));
	munmap(a, 2 * MB2);

	puts("== Q16a mlock 16 untouched private pages; munlock ==");
	a = map_at(SLOT(170), 16 * PG, rw, pa, -1);
	ml("16a", a, 16 * PG, 1);
	psmaps("16a after mlock", a);
	ml("16a again", a, 16 * PG, 1);
	ml("16a munlock 4-7", a + 4 * PG, 4 * PG, 0);
	vmas("16a", a, 16 * PG);
	ml("16a munlock all", a, 16 * PG, 0);
	vmas("16a", a, 16 * PG);
	munmap(a, 16 * PG);

	puts("== Q16b mlock PROT_READ untouched; PROT_NONE ==");
	a = map_at(SLOT(171), 16 * PG, PROT_READ, pa, -1);
	ml("16b read-only", a, 16 * PG, 1);
	psmaps("16b", a);
	ml("16b munlock", a, 16 * PG, 0);
	b = map_at(SLOT(172), 16 * PG, PROT_NONE, pa, -1);
	ml("16b none", b, 16 * PG, 1);
	vmas("16b none", b, 16 * PG);
	mp("16b none -> rw while locked", b, 16 * PG, rw);
	ml("16b munlock", b, 16 * PG, 0);
	munmap(a, 16 * PG);
	munmap(b, 16 * PG);

	puts("== Q16c ranges: mlock [2, 6) of 4 pages; start in a gap ==");
	a = map_at(SLOT(173), 4 * PG, rw, pa, -1);
	ml("16c past end", a + 2 * PG, 4 * PG, 1);
	printf("16c present: %ld\n", present(a, 4, PG));
	vmas("16c", a, 4 * PG);
	ml("16c start in gap", a - 2 * PG, 4 * PG, 1);
	ml("16c munlock past end", a + 2 * PG, 4 * PG, 0);
	ml("16c munlock", a, 4 * PG, 0);
	ml("16c zero length", a, 0, 1);
	munmap(a, 4 * PG);
	a = map_at(SLOT(174), 4 * PG, rw, pa, -1);
	b = map_at(SLOT(174) + 8 * PG, 4 * PG, rw, pa, -1);
	ml("16c [a][gap][b] from a+2 to b+2", a + 2 * PG, 10 * PG, 1);
	printf("16c present a=%ld b=%ld\n", present(a, 4, PG), present(b, 4, PG));
	munlock(a, 4 * PG);
	munlock(b, 4 * PG);

	puts("== Q16d fork: parent mlocks 16 written pages, forks ==");
	a = map_at(SLOT(175), 16 * PG, rw, pa, -1);
	touch(a, 16, PG, 1);
	ml("16d parent", a, 16 * PG, 1);
	sync_init();
	if (!(pid = fork())) {
		warm();
		printf("  16d child VmLck=%ld\n", proc_kv("/proc/self/status", "VmLck"));
		vmas("16d child", a, 16 * PG);
		frames(a, 16, before);
		ml("16d child mlock", a, 16 * PG, 1);
		printf("  16d child changed=%ld\n", changed(a, 16, before));
		tell_parent();
		wait_parent();
		_exit(0);
	}
	warm();
	wait_child();
	printf("  16d parent VmLck=%ld\n", proc_kv("/proc/self/status", "VmLck"));
	frames(a, 16, before);
	r0 = vmstat("pgreuse");
	ml("16d parent mlock again (child copied all)", a, 16 * PG, 1);
	printf("  16d parent changed=%ld pgreuse=%ld\n", changed(a, 16, before), vmstat("pgreuse") - r0);
	tell_child();
	reap(pid, "child");
	munmap(a, 16 * PG);

	puts("== Q16e mlocked, forked (child alive), mprotect(READ) then RW in the parent ==");
	a = map_at(SLOT(176), 16 * PG, rw, pa, -1);
	ml("16e", a, 16 * PG, 1);
	sync_init();
	if (!(pid = fork())) {
		warm();
		wait_parent();
		_exit(0);
	}
	warm();
	frames(a, 16, before);
	mp("16e read", a, 16 * PG, PROT_READ);
	r0 = vmstat("pgreuse");
	mp("16e rw (populates)", a, 16 * PG, rw);
	printf("  16e changed=%ld pgreuse=%ld\n", changed(a, 16, before), vmstat("pgreuse") - r0);
	printf("16e write 16: faults=%ld\n", touch(a, 16, PG, 1));
	tell_child();
	reap(pid, "child");
	munmap(a, 16 * PG);

	puts("== Q16f shared anon mlock 16 untouched; a second process maps them ==");
	s = map_at(SLOT(177), 16 * PG, rw, sa, -1);
	ml("16f", s, 16 * PG, 1);
	psmaps("16f", s);
	munmap(s, 16 * PG);

	puts("== Q16g HugeTLB private 2 pages: mlock ==");
	a = map_at(SLOT(178), 2 * MB2, rw, pa | MAP_HUGETLB | MAP_HUGE_2MB, -1);
	printf("16g before: Free=%ld Rsvd=%ld\n", meminfo("HugePages_Free"), meminfo("HugePages_Rsvd"));
	ml("16g", a, 2 * MB2, 1);
	printf("16g after: Free=%ld Rsvd=%ld\n", meminfo("HugePages_Free"), meminfo("HugePages_Rsvd"));
	vmas("16g", a, 2 * MB2);
	ml("16g munlock", a, 2 * MB2, 0);
	munmap(a, 2 * MB2);
	b = map_at(SLOT(179), 2 * MB2, rw, sa | MAP_HUGETLB | MAP_HUGE_2MB, -1);
	ml("16g shared", b, 2 * MB2, 1);
	printf("16g shared after: Free=%ld Rsvd=%ld\n", meminfo("HugePages_Free"), meminfo("HugePages_Rsvd"));
	munmap(b, 2 * MB2);

	puts("== Q16h mlock a zero-page range: read 16 first, then mlock (writable) ==");
	a = map_at(SLOT(180), 16 * PG, rw, pa, -1);
	touch(a, 16, PG, 0);
	ml("16h", a, 16 * PG, 1);
	psmaps("16h", a);
	munmap(a, 16 * PG);

	struct rlimit rl;
	getrlimit(RLIMIT_MEMLOCK, &rl);
	printf("RLIMIT_MEMLOCK soft=%ld hard=%ld (root has CAP_IPC_LOCK)\n", (long)rl.rlim_cur, (long)rl.rlim_max);
	return 0;
}
