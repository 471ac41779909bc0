/* remap.c - Q18 partial munmap and Q19 mremap: VMA split, page tables (VmPTE), RSS, THP,
 * HugeTLB reservations. Uses a 2 MiB hugetlb pool of 4 and THP "madvise"; sets both back. */
#include "common.h"

#ifndef MREMAP_MAYMOVE
#define MREMAP_MAYMOVE 1
#endif
#ifndef MREMAP_FIXED
#define MREMAP_FIXED 2
#endif
#define THP "/sys/kernel/mm/transparent_hugepage/enabled"
#define RSVD "/sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages"
#define FREE "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"

static char thp_before[64];

static void cleanup(void)
{
	write_long(NRHP2M, 0);
	FILE *f = fopen(THP, "w");
	if (f) {
		/* "always [madvise] never" -> the bracketed word */
		char *l = strchr(thp_before, '['), *r = l ? strchr(l, ']') : NULL;
		if (l && r) {
			*r = 0;
			fputs(l + 1, f);
		}
		fclose(f);
	}
}

/* sum of smaps field `key` (kB) over the VMAs inside [lo, hi), and the number of those VMAs */
static long smaps_sum(void *lo_, void *hi_, const char *key, int *vmas)
{
	char line[512];
	unsigned long lo, hi, a = (unsigned long)lo_, b = (unsigned long)hi_;
	int in = 0;
	long sum = 0, v;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/self/smaps", "r");
	if (vmas)
		*vmas = 0;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = lo >= a && hi <= b;
			if (in && vmas)
				(*vmas)++;
			continue;
		}
		if (in && !strncmp(line, key, n) && line[n] == ':' && sscanf(line + n + 1, "%ld", &v) == 1)
			sum += v;
	}
	fclose(f);
	return sum;
}

static void state(const char *tag, char *lo, char *hi, long b)
{
	int vmas;
	long rss = smaps_sum(lo, hi, "Rss", &vmas);
	printf("  %-44s VMAs=%d Rss=%ld AnonHuge=%ld VmPTE+%ld\n", tag, vmas, rss, smaps_sum(lo, hi, "AnonHugePages", NULL), vmpte() - b);
}

static void pool(const char *tag) { printf("  %-44s Free=%ld Rsvd=%ld\n", tag, read_long(FREE), read_long(RSVD)); }

static void *mr(void *old, size_t ol, size_t nl, int flags, void *new)
{
	void *r = mremap(old, ol, nl, flags, new);
	if (r == MAP_FAILED)
		printf("  mremap(%p, %zu, %zu, %d) -> %s\n", old, ol, nl, flags, strerror(errno));
	return r;
}

static sigjmp_buf jb;
static void onsig(int s) { siglongjmp(jb, s); }
/* write one byte at p: 0, or the signal it raised */
static int probe_write(char *p)
{
	int s = sigsetjmp(jb, 1);
	if (s)
		return s;
	*(volatile char *)p = 1;
	return 0;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	FILE *t = fopen(THP, "r");
	if (!t || !fgets(thp_before, sizeof thp_before, t))
		return 1;
	fclose(t);
	atexit(cleanup);
	signal(SIGSEGV, onsig);
	signal(SIGBUS, onsig);
	int rw = PROT_READ | PROT_WRITE, pa = MAP_PRIVATE | MAP_ANONYMOUS;
	char *p, *q, *r;
	long b, f;

	puts("== Q18 partial munmap, 4 KiB pages (4 MiB, 2 MiB aligned, all written) ==");
	b = vmpte();
	p = map_at(SLOT(60), 4UL << 20, rw, pa, -1);
	touch(p, 1024, PG, 1);
	state("18a written", p, p + (4UL << 20), b);
	printf("  munmap [1M,3M) -> %d\n", munmap(p + MB2 / 2, MB2));
	state("18a after munmap [1M,3M)", p, p + (4UL << 20), b);
	printf("  write at 1M -> signal %d\n", probe_write(p + MB2 / 2));
	munmap(p, MB2 / 2);
	state("18a then munmap [0,1M)", p, p + (4UL << 20), b);
	munmap(p + 3 * MB2 / 2, MB2 / 2);
	state("18a then munmap [3M,4M)", p, p + (4UL << 20), b);

	b = vmpte();
	p = map_at(SLOT(61), 4UL << 20, rw, pa, -1);
	touch(p, 1024, PG, 1);
	munmap(p, MB2);
	state("18b 4M written, munmap [0,2M)", p, p + (4UL << 20), b);
	munmap(p + MB2, MB2);
	b = vmpte();
	p = map_at(SLOT(62), 4UL << 20, rw, pa, -1);
	touch(p, 1024, PG, 1);
	munmap(p + PG, (4UL << 20) - 2 * PG);
	state("18b 4M written, munmap [4K,4M-4K)", p, p + (4UL << 20), b);
	printf("  munmap of an unmapped range (hole) -> %d\n", munmap(p + MB2, PG));
	printf("  munmap unaligned address -> %d %s\n", munmap(p + 1, PG), strerror(errno));
	printf("  munmap length 0 -> %d %s\n", munmap(p, 0), strerror(errno));
	munmap(p, 4UL << 20);

	puts("== Q18c partial munmap of THPs (thp=madvise, MADV_HUGEPAGE, 4 MiB aligned) ==");
	{
		FILE *m = fopen(THP, "w");
		fputs("madvise", m);
		fclose(m);
	}
	b = vmpte();
	p = map_at(SLOT(63), 4UL << 20, rw, pa, -1);
	madvise(p, 4UL << 20, MADV_HUGEPAGE);
	f = touch(p, 1024, PG, 1);
	printf("  write 1024 pages: %ld faults\n", f);
	state("18c written", p, p + (4UL << 20), b);
	munmap(p, MB2 / 2);
	state("18c munmap [0,1M)", p, p + (4UL << 20), b);
	f = touch(p + MB2 / 2, 256, PG, 1);
	printf("  rewrite [1M,2M): %ld faults\n", f);
	munmap(p + 3 * MB2 / 2, MB2 / 2);
	state("18c munmap [3M,4M)", p, p + (4UL << 20), b);
	munmap(p, 4UL << 20);
	state("18c munmap all", p, p + (4UL << 20), b);

	puts("== Q18d partial munmap of HugeTLB 2 MiB (pool 4, private 3 pages, page 0 written) ==");
	write_long(NRHP2M, 4);
	p = map_at(SLOT(64), 3 * MB2, rw, pa | MAP_HUGETLB | MAP_HUGE_2MB, -1);
	touch(p, 1, MB2, 1);
	pool("18d mmap 3, write page 0");
	printf("  munmap(p+4K, 2M) -> %d %s\n", munmap(p + PG, MB2), strerror(errno));
	printf("  munmap(p+2M, 4K) -> %d %s\n", munmap(p + MB2, PG), strerror(errno));
	pool("18d after munmap(p+2M, 4K)");
	printf("  write page 1 -> signal %d\n", probe_write(p + MB2));
	printf("  munmap(p, 2M) -> %d\n", munmap(p, MB2));
	pool("18d after munmap page 0 (written)");
	munmap(p, 3 * MB2);
	pool("18d after munmap all");
	b = vmpte();
	p = map_at(SLOT(65), 3 * MB2, rw, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1);
	touch(p, 1, MB2, 1);
	pool("18e shared 3, write page 0");
	munmap(p + MB2, MB2);
	pool("18e shared, munmap page 1 (unfaulted)");
	munmap(p, MB2);
	pool("18e shared, munmap page 0");
	munmap(p, 3 * MB2);
	pool("18e shared, munmap all");

	puts("== Q19 mremap, 4 KiB anonymous ==");
	b = vmpte();
	p = map_at(SLOT(66), MB2 / 2, rw, pa, -1);
	touch(p, 256, PG, 1);
	state("19a 1M written", p, p + (8UL << 20), b);
	q = mr(p, MB2 / 2, MB2, 0, NULL);
	printf("  grow 1M->2M in place: same=%d\n", q == p);
	state("19a grown", p, p + (8UL << 20), b);
	f = touch(p, 512, PG, 1);
	printf("  write 2M: %ld faults\n", f);
	q = mr(p, MB2, MB2 / 2, 0, NULL);
	state("19b shrunk to 1M", p, p + (8UL << 20), b);
	printf("  write at 1M -> signal %d\n", probe_write(p + MB2 / 2));
	r = map_at(p + MB2 / 2, PG, rw, pa, -1);
	q = mr(p, MB2 / 2, MB2, 0, NULL);
	q = mr(p, MB2 / 2, MB2, MREMAP_MAYMOVE, NULL);
	printf("  grow with a neighbour, MAYMOVE: moved to %p (from %p)\n", q, p);
	munmap(q, MB2);
	munmap(r, PG);

	b = vmpte();
	p = map_at(SLOT(67), MB2 / 2, rw, pa, -1);
	touch(p, 256, PG, 1);
	state("19c 1M written", p, p + MB2 / 2, b);
	q = mr(p, MB2 / 2, MB2 / 2, MREMAP_MAYMOVE | MREMAP_FIXED, SLOT(68));
	state("19c moved (same size) to a new 512G slot", q, q + MB2 / 2, b);
	f = touch(q, 256, PG, 1);
	printf("  write 1M after move: %ld faults\n", f);
	f = touch(q, 256, PG, 0);
	q = mr(q, MB2 / 2, MB2, MREMAP_MAYMOVE | MREMAP_FIXED, SLOT(68) + 3 * MB2 + 5 * PG);
	state("19d moved+grown to 2M at +6M+20K", q, q + MB2, b);
	f = touch(q, 512, PG, 1);
	printf("  write 2M after move: %ld faults\n", f);
	munmap(q, MB2);
	state("19d munmap", q, q + MB2, b);

	p = map_at(SLOT(69), 2 * MB2, rw, pa, -1);
	touch(p, 1024, PG, 1);
	madvise(p + MB2, MB2, MADV_DONTFORK);
	q = mr(p, 2 * MB2, 3 * MB2, MREMAP_MAYMOVE, NULL);
	printf("  19e grow a mapping split in 2 VMAs -> %s\n", q == MAP_FAILED ? "failed" : "ok");
	q = mr(p, 2 * MB2, MB2, 0, NULL);
	printf("  19e shrink it to its first VMA -> %s\n", q == MAP_FAILED ? "failed" : "ok");
	munmap(p, MB2);
	q = mr(p, MB2, 2 * MB2, MREMAP_MAYMOVE, NULL);
	printf("  19f grow an unmapped start -> %s\n", q == MAP_FAILED ? "failed" : "ok");
	q = mr(p, MB2, MB2 / 2, 0, NULL);
	printf("  19f shrink an unmapped start -> %s\n", q == MAP_FAILED ? "failed" : "ok");

	puts("== Q19g mremap of THPs (thp=madvise) ==");
	b = vmpte();
	p = map_at(SLOT(70), 2 * MB2, rw, pa, -1);
	madvise(p, 2 * MB2, MADV_HUGEPAGE);
	touch(p, 1024, PG, 1);
	state("19g 4M THP written", p, p + 2 * MB2, b);
	q = mr(p, 2 * MB2, 2 * MB2, MREMAP_MAYMOVE | MREMAP_FIXED, SLOT(71));
	state("19g moved aligned", q, q + 2 * MB2, b);
	f = touch(q, 1024, PG, 1);
	printf("  write after aligned move: %ld faults\n", f);
	r = mr(q, 2 * MB2, 2 * MB2, MREMAP_MAYMOVE | MREMAP_FIXED, SLOT(72) + MB2 / 2);
	state("19g moved to +1M", r, r + 2 * MB2, b);
	f = touch(r, 1024, PG, 1);
	printf("  write after unaligned move: %ld faults\n", f);
	q = mr(r, 2 * MB2, 3 * MB2, 0, NULL);
	state("19g grown in place to 6M", r, r + 3 * MB2, b);
	f = touch(r, 1536, PG, 1);
	printf("  write 6M: %ld faults\n", f);
	state("19g written", r, r + 3 * MB2, b);
	q = mr(r, 3 * MB2, MB2, 0, NULL);
	state("19g shrunk to 2M", r, r + 3 * MB2, b);
	munmap(r, MB2);
	state("19g munmap", r, r + 3 * MB2, b);

	puts("== Q19h mremap of HugeTLB 2 MiB (pool 4, private 2 pages, page 0 written) ==");
	b = vmpte();
	p = map_at(SLOT(73), 2 * MB2, rw, pa | MAP_HUGETLB | MAP_HUGE_2MB, -1);
	touch(p, 1, MB2, 1);
	pool("19h mmap 2, write page 0");
	q = mr(p, 2 * MB2, 3 * MB2, MREMAP_MAYMOVE, NULL);
	printf("  grow -> %s\n", q == MAP_FAILED ? "failed" : "ok");
	q = mr(p, 2 * MB2, 2 * MB2 - PG, 0, NULL);
	printf("  shrink to 4M-4K -> %s (rounded up to huge pages)\n", q == MAP_FAILED ? "failed" : "ok");
	q = mr(p, 2 * MB2, 2 * MB2, MREMAP_MAYMOVE | MREMAP_FIXED, SLOT(74));
	pool("19h moved to a new slot");
	state("19h moved", q, q + 2 * MB2, b);
	f = touch(q, 2, MB2, 1);
	printf("  write both pages after move: %ld faults\n", f);
	pool("19h written");
	munmap(q, 2 * MB2);
	p = map_at(SLOT(73), 3 * MB2, rw, pa | MAP_HUGETLB | MAP_HUGE_2MB, -1);
	touch(p, 1, MB2, 1);
	pool("19i mmap 3, write page 0");
	q = mr(p, 3 * MB2, MB2, 0, NULL);
	pool("19i shrink to 1 page");
	q = mr(p, MB2, MB2, MREMAP_MAYMOVE | MREMAP_FIXED, SLOT(74) + MB2);
	pool("19i moved");
	munmap(q, MB2);
	pool("19i munmap");

	puts("== Q19j mremap of shared anonymous memory ==");
	b = vmpte();
	p = map_at(SLOT(75), MB2 / 2, rw, MAP_SHARED | MAP_ANONYMOUS, -1);
	touch(p, 256, PG, 1);
	q = mr(p, MB2 / 2, MB2, 0, NULL);
	state("19j shared 1M written, grown to 2M", p, p + MB2, b);
	printf("  write at 1M (beyond the shmem object) -> signal %d\n", probe_write(p + MB2 / 2));
	printf("  write at 1M-4K -> signal %d\n", probe_write(p + MB2 / 2 - PG));
	q = mr(p, MB2, MB2, MREMAP_MAYMOVE | MREMAP_FIXED, SLOT(76));
	state("19j moved", q, q + MB2, b);
	f = touch(q, 256, PG, 0);
	printf("  read 1M after move: %ld faults\n", f);
	munmap(q, MB2);

	puts("== Q19k mremap move after fork (private, pages shared with the child) ==");
	p = map_at(SLOT(77), MB2 / 2, rw, pa, -1);
	touch(p, 256, PG, 1);
	sync_init();
	pid_t pid = fork();
	if (!pid) {
		warm();
		wait_parent();
		_exit(0);
	}
	warm();
	b = vmpte();
	q = mr(p, MB2 / 2, MB2 / 2, MREMAP_MAYMOVE | MREMAP_FIXED, SLOT(78));
	unsigned long before = pfn_of(q);
	f = touch(q, 256, PG, 1);
	printf("  19k parent write after move: %ld faults, frame %s\n", f, pfn_of(q) == before ? "kept" : "changed (copy)");
	tell_child();
	reap(pid, "child");
	munmap(q, MB2 / 2);
	return 0;
}
