/* madvrange.c - Q12 madvise over a range that runs past the end of a mapping: which advices
 * apply to the mapped part, and what they return. Changes /proc/sys/vm/nr_hugepages and sets it
 * back to 0 on exit. */
#include "common.h"

static void cleanup(void) { write_long(NRHP2M, 0); }

/* prints the VmFlags of the VMA that starts at addr ("-" when no VMA starts there) */
static void vmflags(const char *tag, void *addr)
{
	char flags[256];
	char line[512];
	unsigned long lo, hi;
	int in = 0;
	strcpy(flags, "-");
	FILE *f = fopen("/proc/self/smaps", "r");
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (lo == (unsigned long)addr);
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(flags, sizeof flags, "%s", line + 9);
			flags[strcspn(flags, "\n")] = 0;
		}
	}
	fclose(f);
	printf("  %s: [%s]\n", tag, flags);
}

static void call(const char *tag, void *addr, size_t len, int advice)
{
	int r = madvise(addr, len, advice);
	printf("%s: madvise=%d %s\n", tag, r, r ? strerror(errno) : "");
}

static long present(char *p, long n, size_t step)
{
	long k = 0;
	for (long i = 0; i < n; i++)
		k += pfn_of(p + i * step) != 0;
	return k;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	atexit(cleanup);
	int rw = PROT_READ | PROT_WRITE, pa = MAP_PRIVATE | MAP_ANONYMOUS, sa = MAP_SHARED | MAP_ANONYMOUS;
	char *a, *b, *s, *h;

	puts("== Q12a DONTNEED over [page 2, page 6) of a 4-page private mapping, nothing after it ==");
	a = map_at(SLOT(120), 4 * PG, rw, pa, -1);
	touch(a, 4, PG, 1);
	call("12a", a + 2 * PG, 4 * PG, MADV_DONTNEED);
	printf("12a pages still present: %ld of 4\n", present(a, 4, PG));
	printf("12a rewriting pages 2-3: faults=%ld\n", touch(a + 2 * PG, 2, PG, 1));
	munmap(a, 4 * PG);

	puts("== Q12b the same with a shared mapping right after it ==");
	a = map_at(SLOT(121), 4 * PG, rw, pa, -1);
	s = map_at(SLOT(121) + 4 * PG, 4 * PG, rw, sa, -1);
	touch(a, 4, PG, 1);
	touch(s, 4, PG, 1);
	call("12b", a + 2 * PG, 4 * PG, MADV_DONTNEED);
	printf("12b present: a %ld of 4, s %ld of 4\n", present(a, 4, PG), present(s, 4, PG));
	munmap(a, 4 * PG);
	munmap(s, 4 * PG);

	puts("== Q12c a gap, then another mapping: [a 4 pages][gap 4][b 4] ==");
	a = map_at(SLOT(122), 4 * PG, rw, pa, -1);
	b = map_at(SLOT(122) + 8 * PG, 4 * PG, rw, pa, -1);
	touch(a, 4, PG, 1);
	touch(b, 4, PG, 1);
	call("12c DONTNEED [a+2, b+2)", a + 2 * PG, 8 * PG, MADV_DONTNEED);
	printf("12c present: a %ld of 4, b %ld of 4\n", present(a, 4, PG), present(b, 4, PG));
	call("12c length 0 in the gap", a + 4 * PG, 0, MADV_DONTNEED);
	munmap(a, 4 * PG);
	munmap(b, 4 * PG);

	puts("== Q12d VMA-flag advices over [page 2, page 6) of a 4-page private mapping ==");
	static const struct { const char *name; int advice; } advs[] = {
		{ "DONTFORK", MADV_DONTFORK }, { "DOFORK", MADV_DOFORK }, { "WIPEONFORK", MADV_WIPEONFORK },
		{ "KEEPONFORK", MADV_KEEPONFORK }, { "HUGEPAGE", MADV_HUGEPAGE }, { "NOHUGEPAGE", MADV_NOHUGEPAGE },
	};
	for (int i = 0; i < 6; i++) {
		char tag[64];
		a = map_at(SLOT(123), 4 * PG, rw, pa, -1);
		if (advs[i].advice == MADV_DOFORK || advs[i].advice == MADV_KEEPONFORK)
			madvise(a, 4 * PG, advs[i].advice == MADV_DOFORK ? MADV_DONTFORK : MADV_WIPEONFORK);
		snprintf(tag, sizeof tag, "12d %s", advs[i].name);
		call(tag, a + 2 * PG, 4 * PG, advs[i].advice);
		vmflags("VMA at page 0", a);
		vmflags("VMA at page 2", a + 2 * PG);
		munmap(a, 4 * PG);
	}

	puts("== Q12e [private a][gap][shared s]: WIPEONFORK from a through s ==");
	a = map_at(SLOT(124), 4 * PG, rw, pa, -1);
	s = map_at(SLOT(124) + 8 * PG, 4 * PG, rw, sa, -1);
	call("12e WIPEONFORK [a, s+4)", a, 12 * PG, MADV_WIPEONFORK);
	vmflags("a", a);
	call("12e KEEPONFORK on shared s", s, 4 * PG, MADV_KEEPONFORK);
	call("12e DONTNEED [a, s+4) (gap in between)", a, 12 * PG, MADV_DONTNEED);
	munmap(a, 4 * PG);
	munmap(s, 4 * PG);

	puts("== Q12f HugeTLB 2 MiB, 2 pages, pool 4 ==");
	write_long(NRHP2M, 4);
	h = map_at(SLOT(125), 2 * MB2, rw, pa | MAP_HUGETLB | MAP_HUGE_2MB, -1);
	touch(h, 2, MB2, 1);
	printf("  Free=%ld Rsvd=%ld\n", meminfo("HugePages_Free"), meminfo("HugePages_Rsvd"));
	call("12f DONTNEED [page 1, page 3)", h + MB2, 2 * MB2, MADV_DONTNEED);
	printf("  present %ld of 2; Free=%ld Rsvd=%ld\n", present(h, 2, MB2), meminfo("HugePages_Free"), meminfo("HugePages_Rsvd"));
	call("12f HUGEPAGE on hugetlb", h, 2 * MB2, MADV_HUGEPAGE);
	call("12f NOHUGEPAGE on hugetlb", h, 2 * MB2, MADV_NOHUGEPAGE);
	call("12f DONTFORK [page 1, page 3)", h + MB2, 2 * MB2, MADV_DONTFORK);
	vmflags("VMA at page 1", h + MB2);
	touch(h, 2, MB2, 1);

	puts("== Q12g a 4-page private mapping right below the HugeTLB mapping ==");
	a = map_at((char *)h - 4 * PG, 4 * PG, rw, pa, -1);
	touch(a, 4, PG, 1);
	call("12g DONTNEED [a, h+4K)", a, 5 * PG, MADV_DONTNEED);
	printf("  a present %ld of 4, h present %ld of 2\n", present(a, 4, PG), present(h, 2, MB2));
	touch(a, 4, PG, 1);
	call("12g DONTNEED [a, h+2M+4K)", a, 4 * PG + MB2 + PG, MADV_DONTNEED);
	printf("  a present %ld of 4, h present %ld of 2\n", present(a, 4, PG), present(h, 2, MB2));
	call("12g DONTFORK [a, h+4K)", a, 5 * PG, MADV_DONTFORK);
	vmflags("a", a);
	vmflags("h", h);
	call("12g DONTFORK [a, h+2M)", a, 4 * PG + MB2, MADV_DONTFORK);
	vmflags("a", a);
	vmflags("h", h);
	vmflags("h+2M", h + MB2);
	call("12g DOFORK [a, h+4K) (a and h page 0 have dontfork)", a, 5 * PG, MADV_DOFORK);
	vmflags("a", a);
	vmflags("h", h);
	call("12g DONTFORK [a, h+2M) again", a, 4 * PG + MB2, MADV_DONTFORK);
	call("12g DONTFORK [a, h+4K) (no flag changes now)", a, 5 * PG, MADV_DONTFORK);
	vmflags("a", a);
	vmflags("h", h);
	munmap(a, 4 * PG);
	munmap(h, 2 * MB2);
	return 0;
}
