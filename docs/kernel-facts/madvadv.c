/* madvadv.c - Q20-Q24 the madvise advices REMOVE, WILLNEED, POPULATE_READ/WRITE, COLD, PAGEOUT
 * and COLLAPSE on each kind of mapping: what they return and what they change (rss, faults,
 * frames, HugeTLB counts, THP). This machine has no swap. Changes nr_hugepages, THP enabled and
 * mounts a hugetlbfs under /tmp; sets them back on exit. */
#include "common.h"
#include <sys/mount.h>
#include <sys/stat.h>

#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#define THP "/sys/kernel/mm/transparent_hugepage/enabled"

static char mnt[] = "/tmp/kf-hugetlbfs-XXXXXX";
static int mounted;
static char thp_saved[64];

static void cleanup(void)
{
	write_long(NRHP2M, 0);
	if (mounted) { umount(mnt); rmdir(mnt); }
	unlink("/dev/shm/somsim-kf-madv");
	FILE *f = fopen(THP, "w");
	if (f) { fputs(thp_saved, f); fclose(f); }
}

static void set_thp(const char *mode)
{
	FILE *f = fopen(THP, "w");
	if (!f || fputs(mode, f) < 0 || fclose(f)) printf("  set THP %s failed\n", mode);
}

/* value of a "Key:" line in the smaps block of the VMA starting at addr */
static long smaps_field(void *addr, const char *key)
{
	char line[512];
	unsigned long lo, hi;
	int in = 0;
	long v = -1;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/self/smaps", "r");
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (lo == (unsigned long)addr);
			continue;
		}
		if (in && !strncmp(line, key, n) && line[n] == ':') v = atol(line + n + 1);
	}
	fclose(f);
	return v;
}

static long adv(void *addr, size_t len, int advice, long *faults)
{
	long f0 = minflt();
	int r = madvise(addr, len, advice);
	int e = errno;
	long f1 = minflt();
	if (faults) *faults = f1 - f0;
	return r ? -e : 0;
}

static const char *en(long r) { return r ? strerrorname_np(-r) : "0"; }

static long present(char *p, long n, size_t step)
{
	long k = 0;
	for (long i = 0; i < n; i++) k += pfn_of(p + i * step) != 0;
	return k;
}

static unsigned long zero_pfn;

static long zeros(char *p, long n)
{
	long k = 0;
	for (long i = 0; i < n; i++) k += pfn_of(p + i * PG) == zero_pfn;
	return k;
}

static void hp(const char *tag)
{
	printf("  %-40s Free=%ld Rsvd=%ld\n", tag, meminfo("HugePages_Free"), meminfo("HugePages_Rsvd"));
}

static void show(const char *tag, void *p)
{
	printf("  %-40s Rss=%ld Pss=%ld PrDi=%ld ShDi=%ld ShCl=%ld PrCl=%ld AnonHuge=%ld PrHuge=%ld ShHuge=%ld VmPTE=%ld\n", tag,
	       smaps_field(p, "Rss"), smaps_field(p, "Pss"), smaps_field(p, "Private_Dirty"), smaps_field(p, "Shared_Dirty"),
	       smaps_field(p, "Shared_Clean"), smaps_field(p, "Private_Clean"), smaps_field(p, "AnonHugePages"),
	       smaps_field(p, "Private_Hugetlb"), smaps_field(p, "Shared_Hugetlb"), vmpte());
}

static long blocks(int fd) { struct stat st; fstat(fd, &st); return st.st_blocks * 512 / 1024; }

static int tmpfile_fd(long pages)
{
	unlink("/dev/shm/somsim-kf-madv");
	int fd = open("/dev/shm/somsim-kf-madv", O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, pages * PG)) printf("  tmpfs file failed\n");
	return fd;
}

static int hugefile_fd(long pages)
{
	char path[128];
	snprintf(path, sizeof path, "%s/f", mnt);
	unlink(path);
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, pages * MB2)) printf("  hugetlbfs file failed: %s\n", strerror(errno));
	unlink(path);
	return fd;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	FILE *tf = fopen(THP, "r");
	char buf[128] = "";
	if (tf) { if (fgets(buf, sizeof buf, tf)) {} fclose(tf); }
	char *o = strchr(buf, '['), *c = o ? strchr(o, ']') : NULL;
	if (o && c) { *c = 0; snprintf(thp_saved, sizeof thp_saved, "%s", o + 1); }
	atexit(cleanup);
	set_thp("madvise");
	int rw = PROT_READ | PROT_WRITE, pa = MAP_PRIVATE | MAP_ANONYMOUS, sa = MAP_SHARED | MAP_ANONYMOUS;
	long r, f;
	char *a, *b, *s, *h;
	pid_t pid;
	{ char *z = map_at(SLOT(199), PG, PROT_READ, pa, -1); sink = z[0]; zero_pfn = pfn_of(z); munmap(z, PG); }

	puts("== Q20a POPULATE on private anonymous memory, 8 pages ==");
	a = map_at(SLOT(150), 8 * PG, rw, pa, -1);
	r = adv(a, 8 * PG, MADV_POPULATE_READ, &f);
	printf("20a POPULATE_READ: %s faults=%ld present=%ld zero=%ld\n", en(r), f, present(a, 8, PG), zeros(a, 8));
	show("20a after POPULATE_READ", a);
	r = adv(a, 8 * PG, MADV_POPULATE_WRITE, &f);
	printf("20a POPULATE_WRITE after it: %s faults=%ld zero=%ld\n", en(r), f, zeros(a, 8));
	show("20a after POPULATE_WRITE", a);
	r = adv(a, 8 * PG, MADV_POPULATE_WRITE, &f);
	printf("20a POPULATE_WRITE again: %s faults=%ld\n", en(r), f);
	r = adv(a, 8 * PG, MADV_POPULATE_READ, &f);
	printf("20a POPULATE_READ of written pages: %s faults=%ld\n", en(r), f);
	unsigned long before[8];
	for (int i = 0; i < 8; i++) before[i] = pfn_of(a + i * PG);
	sync_init();
	if (!(pid = fork())) {
		warm();
		long changed = 0;
		r = adv(a, 4 * PG, MADV_POPULATE_READ, &f);
		printf("20a child POPULATE_READ 4 shared pages: %s faults=%ld\n", en(r), f);
		r = adv(a, 4 * PG, MADV_POPULATE_WRITE, &f);
		for (int i = 0; i < 8; i++) changed += pfn_of(a + i * PG) != before[i];
		printf("20a child POPULATE_WRITE pages 0-3 (COW): %s faults=%ld frames changed=%ld\n", en(r), f, changed);
		show("20a child", a);
		tell_parent();
		wait_parent();
		_exit(0);
	}
	warm();
	wait_child();
	show("20a parent while child holds", a);
	tell_child();
	reap(pid, "child");
	{
		long changed = 0;
		r = adv(a, 8 * PG, MADV_POPULATE_WRITE, &f);
		for (int i = 0; i < 8; i++) changed += pfn_of(a + i * PG) != before[i];
		printf("20a parent POPULATE_WRITE after child exit (reuse): %s faults=%ld frames changed=%ld\n", en(r), f, changed);
	}
	munmap(a, 8 * PG);

	puts("== Q20b POPULATE ranges past the end / over a gap ==");
	a = map_at(SLOT(151), 4 * PG, rw, pa, -1);
	r = adv(a + 2 * PG, 4 * PG, MADV_POPULATE_WRITE, &f);
	printf("20b POPULATE_WRITE [2,6) of 4 pages: %s faults=%ld present=%ld\n", en(r), f, present(a, 4, PG));
	munmap(a, 4 * PG);
	a = map_at(SLOT(152), 4 * PG, rw, pa, -1);
	b = map_at(SLOT(152) + 8 * PG, 4 * PG, rw, pa, -1);
	r = adv(a + 2 * PG, 8 * PG, MADV_POPULATE_WRITE, &f);
	printf("20b POPULATE_WRITE [a+2, b+2) over a gap: %s faults=%ld present a=%ld b=%ld\n", en(r), f, present(a, 4, PG), present(b, 4, PG));
	r = adv(a + 4 * PG, 4 * PG, MADV_POPULATE_READ, &f);
	printf("20b POPULATE_READ starting in the gap: %s faults=%ld\n", en(r), f);
	munmap(a, 4 * PG);
	munmap(b, 4 * PG);
	a = map_at(SLOT(153), 4 * PG, rw, pa, -1);
	s = map_at(SLOT(153) + 4 * PG, 4 * PG, rw, sa, -1);
	r = adv(a, 8 * PG, MADV_POPULATE_WRITE, &f);
	printf("20b POPULATE_WRITE over private then shared: %s faults=%ld present a=%ld s=%ld\n", en(r), f, present(a, 4, PG), present(s, 4, PG));
	munmap(a, 4 * PG);
	munmap(s, 4 * PG);
	a = map_at(SLOT(154), 4 * PG, PROT_NONE, pa, -1);
	r = adv(a, 4 * PG, MADV_POPULATE_READ, &f);
	printf("20b POPULATE_READ on PROT_NONE: %s\n", en(r));
	r = adv(a, 4 * PG, MADV_POPULATE_WRITE, &f);
	printf("20b POPULATE_WRITE on PROT_NONE: %s\n", en(r));
	munmap(a, 4 * PG);
	a = map_at(SLOT(154), 4 * PG, PROT_READ, pa, -1);
	r = adv(a, 4 * PG, MADV_POPULATE_WRITE, &f);
	printf("20b POPULATE_WRITE on PROT_READ: %s\n", en(r));
	munmap(a, 4 * PG);
	a = map_at(SLOT(155), 4 * PG, rw, pa, -1);
	madvise(a + 2 * PG, 2 * PG, MADV_DONTFORK);
	if (!(pid = fork())) {
		warm();
		r = adv(a, 4 * PG, MADV_POPULATE_WRITE, &f);
		printf("20b child POPULATE_WRITE over a DONTFORK hole: %s faults=%ld present=%ld\n", en(r), f, present(a, 2, PG));
		_exit(0);
	}
	reap(pid, "child");
	munmap(a, 4 * PG);

	puts("== Q20c POPULATE on shared anonymous and tmpfs-file memory, 64 pages ==");
	s = map_at(SLOT(156), 64 * PG, rw, sa, -1);
	long sh0 = meminfo("Shmem");
	r = adv(s, 64 * PG, MADV_POPULATE_READ, &f);
	printf("20c shared POPULATE_READ: %s faults=%ld Shmem+%ld\n", en(r), f, meminfo("Shmem") - sh0);
	show("20c shared after POPULATE_READ", s);
	r = adv(s, 64 * PG, MADV_POPULATE_WRITE, &f);
	printf("20c shared POPULATE_WRITE after it: %s faults=%ld\n", en(r), f);
	show("20c shared after POPULATE_WRITE", s);
	munmap(s, 64 * PG);
	s = map_at(SLOT(157), 64 * PG, rw, sa, -1);
	r = adv(s, 64 * PG, MADV_POPULATE_WRITE, &f);
	printf("20c fresh shared POPULATE_WRITE: %s faults=%ld\n", en(r), f);
	show("20c", s);
	munmap(s, 64 * PG);
	{
		int fd = tmpfile_fd(64);
		char *w = map_at(SLOT(158), 64 * PG, rw, MAP_SHARED, fd);
		touch(w, 32, PG, 1);
		char *p = map_at(SLOT(159), 64 * PG, rw, MAP_PRIVATE, fd);
		r = adv(p, 64 * PG, MADV_POPULATE_READ, &f);
		printf("20c private file POPULATE_READ (32 of 64 cached): %s faults=%ld blocks=%ldk\n", en(r), f, blocks(fd));
		show("20c private file", p);
		r = adv(p, 64 * PG, MADV_POPULATE_WRITE, &f);
		printf("20c private file POPULATE_WRITE: %s faults=%ld\n", en(r), f);
		show("20c private file", p);
		munmap(w, 64 * PG);
		munmap(p, 64 * PG);
		close(fd);
	}

	puts("== Q20d POPULATE on HugeTLB, pool 3 ==");
	write_long(NRHP2M, 3);
	h = map_at(SLOT(160), 2 * MB2, rw, pa | MAP_HUGETLB | MAP_HUGE_2MB, -1);
	hp("mmap private 2");
	r = adv(h, 2 * MB2, MADV_POPULATE_READ, &f);
	printf("20d POPULATE_READ private hugetlb: %s faults=%ld\n", en(r), f);
	hp("after");
	r = adv(h, 2 * MB2, MADV_POPULATE_WRITE, &f);
	printf("20d POPULATE_WRITE after it: %s faults=%ld\n", en(r), f);
	hp("after");
	sync_init();
	if (!(pid = fork())) {
		warm();
		r = adv(h, 2 * MB2, MADV_POPULATE_WRITE, &f);
		printf("20d child POPULATE_WRITE of 2 shared pages, 1 free: %s faults=%ld\n", en(r), f);
		hp("after child");
		show("20d child", h);
		printf("20d child still alive\n");
		_exit(0);
	}
	reap(pid, "child");
	hp("after child exit");
	munmap(h, 2 * MB2);
	write_long(NRHP2M, 0);

	puts("== Q20e POPULATE on THP (thp=madvise, MADV_HUGEPAGE), 4 MiB aligned ==");
	a = map_at(SLOT(161), 4 * MB2 / 2, rw, pa, -1);
	madvise(a, 2 * MB2, MADV_HUGEPAGE);
	r = adv(a, 2 * MB2, MADV_POPULATE_READ, &f);
	printf("20e POPULATE_READ: %s faults=%ld\n", en(r), f);
	show("20e", a);
	r = adv(a, 2 * MB2, MADV_POPULATE_WRITE, &f);
	printf("20e POPULATE_WRITE: %s faults=%ld\n", en(r), f);
	show("20e", a);
	munmap(a, 2 * MB2);

	puts("== Q21 REMOVE ==");
	a = map_at(SLOT(162), 4 * PG, rw, pa, -1);
	touch(a, 4, PG, 1);
	r = adv(a, 4 * PG, MADV_REMOVE, &f);
	printf("21a REMOVE private anon: %s present=%ld\n", en(r), present(a, 4, PG));
	munmap(a, 4 * PG);
	s = map_at(SLOT(163), 16 * PG, rw, sa, -1);
	touch(s, 16, PG, 1);
	sh0 = meminfo("Shmem");
	sync_init();
	if (!(pid = fork())) {
		warm();
		touch(s, 16, PG, 0);
		tell_parent();
		wait_parent();
		show("21b child after parent's REMOVE", s);
		printf("21b child present=%ld; re-read 16: faults=%ld\n", present(s, 16, PG), touch(s, 16, PG, 0));
		show("21b child after re-read", s);
		_exit(0);
	}
	wait_child();
	show("21b parent before", s);
	r = adv(s + 4 * PG, 4 * PG, MADV_REMOVE, &f);
	printf("21b REMOVE [4,8) shared anon: %s faults=%ld present=%ld Shmem%+ld\n", en(r), f, present(s, 16, PG), meminfo("Shmem") - sh0);
	show("21b parent after", s);
	tell_child();
	reap(pid, "child");
	printf("21b parent re-read [4,8): faults=%ld\n", touch(s + 4 * PG, 4, PG, 0));
	show("21b parent after re-read", s);
	munmap(s, 16 * PG);
	s = map_at(SLOT(164), 4 * PG, rw, sa, -1);
	touch(s, 4, PG, 1);
	r = adv(s + 2 * PG, 4 * PG, MADV_REMOVE, &f);
	printf("21c REMOVE [2,6) of 4 shared pages: %s present=%ld\n", en(r), present(s, 4, PG));
	munmap(s, 4 * PG);
	{
		int fd = tmpfile_fd(16);
		char *w = map_at(SLOT(165), 16 * PG, rw, MAP_SHARED, fd);
		char *p = map_at(SLOT(166), 16 * PG, rw, MAP_PRIVATE, fd);
		touch(w, 16, PG, 1);
		touch(p, 16, PG, 0);
		touch(p, 2, PG, 1);
		printf("21d tmpfs: blocks=%ldk\n", blocks(fd));
		show("21d shared before", w);
		show("21d private before", p);
		r = adv(p, 16 * PG, MADV_REMOVE, &f);
		printf("21d REMOVE on the private file mapping: %s\n", en(r));
		r = adv(w, 8 * PG, MADV_REMOVE, &f);
		printf("21d REMOVE [0,8) shared file: %s blocks=%ldk present w=%ld p=%ld\n", en(r), blocks(fd), present(w, 16, PG), present(p, 16, PG));
		show("21d shared after", w);
		show("21d private after", p);
		printf("21d private re-read [0,8): faults=%ld\n", touch(p, 8, PG, 0));
		munmap(w, 16 * PG);
		munmap(p, 16 * PG);
		close(fd);
	}
	write_long(NRHP2M, 6);
	h = map_at(SLOT(167), 2 * MB2, rw, pa | MAP_HUGETLB | MAP_HUGE_2MB, -1);
	touch(h, 2, MB2, 1);
	hp("21e private hugetlb written 2");
	r = adv(h, 2 * MB2, MADV_REMOVE, &f);
	printf("21e REMOVE private hugetlb: %s\n", en(r));
	hp("21e after");
	munmap(h, 2 * MB2);
	if (!mkdtemp(mnt) || mount("none", mnt, "hugetlbfs", 0, "pagesize=2M")) printf("mount failed: %s\n", strerror(errno));
	else mounted = 1;
	{
		int fd = hugefile_fd(4);
		h = map_at(SLOT(168), 4 * MB2, rw, MAP_SHARED, fd);
		touch(h, 2, MB2, 1);
		hp("21f shared hugetlbfs 4, wrote 2");
		sync_init();
		if (!(pid = fork())) {
			warm();
			touch(h, 2, MB2, 0);
			tell_parent();
			wait_parent();
			show("21f child after REMOVE", h);
			printf("21f child re-read page 0: faults=%ld\n", touch(h, 1, MB2, 0));
			hp("21f after child re-read page 0");
			_exit(0);
		}
		wait_child();
		r = adv(h, MB2, MADV_REMOVE, &f);
		printf("21f REMOVE page 0: %s\n", en(r));
		hp("21f after");
		r = adv(h + 3 * MB2, MB2, MADV_REMOVE, &f);
		printf("21f REMOVE page 3 (never written): %s\n", en(r));
		hp("21f after");
		show("21f parent", h);
		r = adv(h + MB2, MB2 / 2, MADV_REMOVE, &f);
		printf("21f REMOVE half of page 1: %s\n", en(r));
		hp("21f after");
		tell_child();
		reap(pid, "child");
		printf("21f parent write page 3: faults=%ld\n", touch(h + 3 * MB2, 1, MB2, 1));
		hp("21f after write page 3");
		munmap(h, 4 * MB2);
		hp("21f after munmap");
		close(fd);
		fd = hugefile_fd(2);
		h = map_at(SLOT(169), 2 * MB2, rw, MAP_PRIVATE, fd);
		touch(h, 1, MB2, 1);
		r = adv(h, 2 * MB2, MADV_REMOVE, &f);
		printf("21g REMOVE private mapping of hugetlbfs file: %s\n", en(r));
		munmap(h, 2 * MB2);
		close(fd);
	}

	puts("== Q22 WILLNEED ==");
	a = map_at(SLOT(170), 4 * PG, rw, pa, -1);
	r = adv(a, 4 * PG, MADV_WILLNEED, &f);
	printf("22a WILLNEED untouched private anon: %s present=%ld\n", en(r), present(a, 4, PG));
	touch(a, 4, PG, 1);
	r = adv(a, 4 * PG, MADV_WILLNEED, &f);
	printf("22a WILLNEED written private anon: %s present=%ld\n", en(r), present(a, 4, PG));
	munmap(a, 4 * PG);
	s = map_at(SLOT(171), 16 * PG, rw, sa, -1);
	sh0 = meminfo("Shmem");
	r = adv(s, 16 * PG, MADV_WILLNEED, &f);
	printf("22b WILLNEED shared anon untouched: %s present=%ld Shmem%+ld read faults=%ld\n", en(r), present(s, 16, PG), meminfo("Shmem") - sh0, touch(s, 16, PG, 0));
	munmap(s, 16 * PG);
	{
		int fd = tmpfile_fd(16);
		char *w = map_at(SLOT(172), 16 * PG, rw, MAP_SHARED, fd);
		touch(w, 8, PG, 1);
		char *p = map_at(SLOT(173), 16 * PG, rw, MAP_SHARED, fd);
		r = adv(p, 16 * PG, MADV_WILLNEED, &f);
		printf("22c WILLNEED tmpfs file, 8 of 16 cached: %s present=%ld blocks=%ldk faults=%ld\n", en(r), present(p, 16, PG), blocks(fd), f);
		munmap(w, 16 * PG);
		munmap(p, 16 * PG);
		close(fd);
	}
	write_long(NRHP2M, 4);
	h = map_at(SLOT(174), 2 * MB2, rw, pa | MAP_HUGETLB | MAP_HUGE_2MB, -1);
	r = adv(h, 2 * MB2, MADV_WILLNEED, &f);
	printf("22d WILLNEED private hugetlb: %s\n", en(r));
	hp("22d after");
	munmap(h, 2 * MB2);
	if (mounted) {
		int fd = hugefile_fd(2);
		h = map_at(SLOT(175), 2 * MB2, rw, MAP_SHARED, fd);
		r = adv(h, 2 * MB2, MADV_WILLNEED, &f);
		printf("22d WILLNEED shared hugetlbfs: %s\n", en(r));
		hp("22d after");
		munmap(h, 2 * MB2);
		close(fd);
	}

	puts("== Q23 COLD and PAGEOUT (no swap) ==");
	a = map_at(SLOT(176), 16 * PG, rw, pa, -1);
	touch(a, 16, PG, 1);
	for (int i = 0; i < 8; i++) before[i] = pfn_of(a + i * PG);
	long an0 = meminfo("AnonPages");
	r = adv(a, 16 * PG, MADV_COLD, &f);
	printf("23a COLD private anon: %s faults=%ld present=%ld\n", en(r), f, present(a, 16, PG));
	r = adv(a, 16 * PG, MADV_PAGEOUT, &f);
	printf("23a PAGEOUT private anon: %s faults=%ld present=%ld AnonPages%+ld\n", en(r), f, present(a, 16, PG), meminfo("AnonPages") - an0);
	{ long ch = 0; for (int i = 0; i < 8; i++) ch += pfn_of(a + i * PG) != before[i]; printf("23a frames changed=%ld; rewrite faults=%ld\n", ch, touch(a, 16, PG, 1)); }
	show("23a", a);
	munmap(a, 16 * PG);
	s = map_at(SLOT(177), 16 * PG, rw, sa, -1);
	touch(s, 16, PG, 1);
	sh0 = meminfo("Shmem");
	r = adv(s, 16 * PG, MADV_PAGEOUT, &f);
	printf("23b PAGEOUT shared anon written: %s present=%ld Shmem%+ld\n", en(r), present(s, 16, PG), meminfo("Shmem") - sh0);
	show("23b", s);
	printf("23b re-read faults=%ld\n", touch(s, 16, PG, 0));
	munmap(s, 16 * PG);
	s = map_at(SLOT(178), 16 * PG, rw, sa, -1);
	touch(s, 16, PG, 0);
	sh0 = meminfo("Shmem");
	r = adv(s, 16 * PG, MADV_PAGEOUT, &f);
	printf("23c PAGEOUT shared anon read only (clean holes): %s present=%ld Shmem%+ld\n", en(r), present(s, 16, PG), meminfo("Shmem") - sh0);
	show("23c", s);
	munmap(s, 16 * PG);
	{
		int fd = tmpfile_fd(16);
		char *w = map_at(SLOT(179), 16 * PG, rw, MAP_SHARED, fd);
		touch(w, 16, PG, 0);
		printf("23d tmpfs read 16: blocks=%ldk\n", blocks(fd));
		r = adv(w, 16 * PG, MADV_PAGEOUT, &f);
		printf("23d PAGEOUT tmpfs shared, clean: %s present=%ld blocks=%ldk\n", en(r), present(w, 16, PG), blocks(fd));
		show("23d", w);
		touch(w, 16, PG, 1);
		r = adv(w, 16 * PG, MADV_PAGEOUT, &f);
		printf("23d PAGEOUT tmpfs shared, written: %s present=%ld blocks=%ldk\n", en(r), present(w, 16, PG), blocks(fd));
		show("23d", w);
		char *p = map_at(SLOT(180), 16 * PG, rw, MAP_PRIVATE, fd);
		touch(p, 16, PG, 0);
		touch(p, 4, PG, 1);
		munmap(w, 16 * PG);
		r = adv(p, 16 * PG, MADV_PAGEOUT, &f);
		printf("23e PAGEOUT private file (4 copied, 12 cache): %s present=%ld blocks=%ldk\n", en(r), present(p, 16, PG), blocks(fd));
		show("23e", p);
		munmap(p, 16 * PG);
		close(fd);
	}
	a = map_at(SLOT(181), 16 * PG, rw, pa, -1);
	touch(a, 16, PG, 1);
	if (!(pid = fork())) {
		warm();
		r = adv(a, 16 * PG, MADV_PAGEOUT, &f);
		printf("23f child PAGEOUT of pages shared after fork: %s present=%ld\n", en(r), present(a, 16, PG));
		show("23f child", a);
		_exit(0);
	}
	reap(pid, "child");
	munmap(a, 16 * PG);
	a = map_at(SLOT(182), 2 * MB2, rw, pa, -1);
	madvise(a, 2 * MB2, MADV_HUGEPAGE);
	touch(a, 2, MB2, 1);
	show("23g THP x2 before", a);
	r = adv(a, MB2, MADV_COLD, &f);
	printf("23g COLD whole THP: %s\n", en(r));
	show("23g", a);
	r = adv(a, MB2, MADV_PAGEOUT, &f);
	printf("23g PAGEOUT whole THP: %s\n", en(r));
	show("23g", a);
	r = adv(a + MB2, MB2 / 2, MADV_PAGEOUT, &f);
	printf("23g PAGEOUT half of the second THP: %s present=%ld\n", en(r), present(a, 1024, PG));
	show("23g", a);
	printf("23g rewrite faults=%ld\n", touch(a, 1024, PG, 1));
	munmap(a, 2 * MB2);
	write_long(NRHP2M, 2);
	h = map_at(SLOT(183), 2 * MB2, rw, pa | MAP_HUGETLB | MAP_HUGE_2MB, -1);
	touch(h, 1, MB2, 1);
	printf("23h COLD hugetlb: %s PAGEOUT hugetlb: %s\n", en(adv(h, 2 * MB2, MADV_COLD, &f)), en(adv(h, 2 * MB2, MADV_PAGEOUT, &f)));
	munmap(h, 2 * MB2);
	write_long(NRHP2M, 0);

	puts("== Q24 COLLAPSE (thp=madvise, no MADV_HUGEPAGE unless said) ==");
	a = map_at(SLOT(184), 2 * MB2, rw, pa, -1);
	r = adv(a, 2 * MB2, MADV_COLLAPSE, &f);
	printf("24a COLLAPSE empty 4 MiB (no page table): %s faults=%ld\n", en(r), f);
	touch(a, 1, PG, 1);
	show("24b one page written", a);
	an0 = meminfo("AnonPages");
	r = adv(a, MB2, MADV_COLLAPSE, &f);
	printf("24b COLLAPSE [0,2M) with 1 page: %s faults=%ld AnonPages%+ld\n", en(r), f, meminfo("AnonPages") - an0);
	show("24b after", a);
	r = adv(a, MB2, MADV_COLLAPSE, &f);
	printf("24b COLLAPSE again (PMD-mapped): %s\n", en(r));
	r = adv(a, 2 * MB2, MADV_COLLAPSE, &f);
	printf("24c COLLAPSE [0,4M), second half empty: %s\n", en(r));
	r = adv(a + MB2 / 2, MB2, MADV_COLLAPSE, &f);
	printf("24c COLLAPSE [1M,3M) (no whole PMD): %s\n", en(r));
	printf("24c write page at 2M: faults=%ld\n", touch(a + MB2, 1, PG, 1));
	show("24c", a);
	r = adv(a, 2 * MB2, MADV_COLLAPSE, &f);
	printf("24c COLLAPSE [0,4M) both have pages: %s\n", en(r));
	show("24c after", a);
	munmap(a, 2 * MB2);
	a = map_at(SLOT(185), MB2, rw, pa, -1);
	touch(a, 512, PG, 0);
	show("24d 512 zero-page reads", a);
	r = adv(a, MB2, MADV_COLLAPSE, &f);
	printf("24d COLLAPSE zero pages only: %s\n", en(r));
	show("24d after", a);
	munmap(a, MB2);
	a = map_at(SLOT(186), MB2, rw, pa, -1);
	touch(a, 1, PG, 1);
	madvise(a, PG, MADV_DONTNEED);
	r = adv(a, MB2, MADV_COLLAPSE, &f);
	printf("24e COLLAPSE page table with no entries: %s\n", en(r));
	touch(a, 2, PG, 1);
	madvise(a, MB2, MADV_NOHUGEPAGE);
	r = adv(a, MB2, MADV_COLLAPSE, &f);
	printf("24e COLLAPSE NOHUGEPAGE: %s\n", en(r));
	munmap(a, MB2);
	a = map_at(SLOT(187), MB2, rw, pa, -1);
	touch(a, 512, PG, 1);
	for (int i = 0; i < 8; i++) before[i] = pfn_of(a + i * PG);
	sync_init();
	if (!(pid = fork())) {
		warm();
		show("24f child after fork", a);
		r = adv(a, MB2, MADV_COLLAPSE, &f);
		long ch = 0; for (int i = 0; i < 8; i++) ch += pfn_of(a + i * PG) != before[i];
		printf("24f child COLLAPSE of 512 shared pages: %s faults=%ld frames changed(of 8)=%ld\n", en(r), f, ch);
		show("24f child after", a);
		tell_parent();
		wait_parent();
		printf("24f child write all: faults=%ld\n", touch(a, 512, PG, 1));
		_exit(0);
	}
	wait_child();
	show("24f parent", a);
	tell_child();
	reap(pid, "child");
	show("24f parent after child exit", a);
	printf("24f parent write all: faults=%ld\n", touch(a, 512, PG, 1));
	munmap(a, MB2);
	set_thp("never");
	a = map_at(SLOT(188), MB2, rw, pa, -1);
	touch(a, 512, PG, 1);
	r = adv(a, MB2, MADV_COLLAPSE, &f);
	printf("24g COLLAPSE with thp=never: %s\n", en(r));
	show("24g", a);
	munmap(a, MB2);
	set_thp("madvise");
	s = map_at(SLOT(189), MB2, rw, sa, -1);
	touch(s, 512, PG, 1);
	r = adv(s, MB2, MADV_COLLAPSE, &f);
	printf("24h COLLAPSE shared anon: %s\n", en(r));
	show("24h", s);
	munmap(s, MB2);
	write_long(NRHP2M, 2);
	h = map_at(SLOT(190), 2 * MB2, rw, pa | MAP_HUGETLB | MAP_HUGE_2MB, -1);
	touch(h, 1, MB2, 1);
	printf("24i COLLAPSE hugetlb: %s\n", en(adv(h, 2 * MB2, MADV_COLLAPSE, &f)));
	munmap(h, 2 * MB2);
	write_long(NRHP2M, 0);
	a = map_at(SLOT(191), MB2, rw, pa, -1);
	madvise(a, MB2, MADV_HUGEPAGE);
	touch(a, 1, PG, 1);
	show("24j THP by fault", a);
	printf("24j COLLAPSE of a PMD-mapped THP: %s\n", en(adv(a, MB2, MADV_COLLAPSE, &f)));
	munmap(a, MB2);
	a = map_at(SLOT(192), 2 * MB2, rw, pa, -1);
	touch(a, 1, PG, 1);
	touch(a + MB2, 1, PG, 1);
	r = adv(a + MB2 / 2, MB2 + MB2 / 2, MADV_COLLAPSE, &f);
	printf("24k COLLAPSE [1M,4M): %s\n", en(r));
	show("24k", a);
	munmap(a, 2 * MB2);
	puts("== Q24l COLLAPSE detail ==");
	a = map_at(SLOT(193), MB2, rw, pa, -1);
	touch(a, 1, PG, 1);
	madvise(a, PG, MADV_DONTNEED);
	show("24l table, no entries", a);
	r = adv(a, MB2, MADV_COLLAPSE, &f);
	printf("24l COLLAPSE table with no entries: %s\n", en(r));
	show("24l after", a);
	munmap(a, MB2);
	a = map_at(SLOT(194), MB2, rw, pa, -1);
	touch(a, 511, PG, 0);
	touch(a + 511 * PG, 1, PG, 1);
	r = adv(a, MB2, MADV_COLLAPSE, &f);
	printf("24m COLLAPSE 511 zero + 1 written: %s\n", en(r));
	show("24m after", a);
	munmap(a, MB2);
	a = map_at(SLOT(195), MB2, rw, pa, -1);
	touch(a, 1, PG, 0);
	r = adv(a, MB2, MADV_COLLAPSE, &f);
	printf("24n COLLAPSE 1 zero-page read: %s\n", en(r));
	show("24n after", a);
	munmap(a, MB2);
	a = map_at(SLOT(196), MB2, rw, pa, -1);
	madvise(a, MB2, MADV_HUGEPAGE);
	touch(a, 1, PG, 0);
	show("24o huge zero page", a);
	r = adv(a, MB2, MADV_COLLAPSE, &f);
	printf("24o COLLAPSE huge zero page: %s\n", en(r));
	show("24o after", a);
	munmap(a, MB2);
	a = map_at(SLOT(197), MB2, rw, pa, -1);
	touch(a, 1, PG, 1);
	madvise(a, PG, MADV_DONTNEED);
	touch(a + PG, 1, PG, 0);
	r = adv(a, MB2, MADV_COLLAPSE, &f);
	printf("24p COLLAPSE 1 zero page, rest none: %s\n", en(r));
	show("24p after", a);
	munmap(a, MB2);
	puts("== Q24q COLLAPSE of shmem and tmpfs-file memory (not modelled) ==");
	s = map_at(SLOT(198), MB2, rw, sa, -1);
	r = adv(s, MB2, MADV_COLLAPSE, &f);
	printf("24q COLLAPSE untouched shared anon: %s\n", en(r));
	touch(s, 8, PG, 1);
	r = adv(s, MB2, MADV_COLLAPSE, &f);
	printf("24q COLLAPSE shared anon, 8 of 512 pages: %s\n", en(r));
	show("24q after", s);
	munmap(s, MB2);
	{
		int fd = tmpfile_fd(512);
		char *p = map_at(SLOT(200), MB2, rw, MAP_PRIVATE, fd);
		touch(p, 16, PG, 0);
		touch(p, 4, PG, 1);
		r = adv(p, MB2, MADV_COLLAPSE, &f);
		printf("24r COLLAPSE private tmpfs mapping (16 read, 4 copied): %s blocks=%ldk\n", en(r), blocks(fd));
		show("24r after", p);
		munmap(p, MB2);
		close(fd);
	}
	return 0;
}
