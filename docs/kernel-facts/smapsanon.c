/* smapsanon.c - Pss_Anon and AnonHugePages of smaps and smaps_rollup: what is anonymous, what
 * counts as an anonymous THP (fs/proc/task_mmu.c: smaps_account, smaps_page_accumulate,
 * smaps_pmd_entry). THP must be `madvise` or `always`; the 64 KiB mTHP size is set to
 * `inherit` for part d and put back. */
#include "common.h"

struct anon { long rss, pss, pssanon, pssshmem, ahp; };

static struct anon anon_of(const char *file, void *addr)
{
	struct anon a = { -1, -1, -1, -1, -1 };
	char line[512];
	unsigned long lo, hi;
	int in = addr == NULL;
	FILE *f = fopen(file, "r");
	while (fgets(line, sizeof line, f)) {
		if (addr && sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (lo == (unsigned long)addr);
			continue;
		}
		if (!in)
			continue;
		sscanf(line, "Rss: %ld", &a.rss);
		sscanf(line, "Pss: %ld", &a.pss);
		sscanf(line, "Pss_Anon: %ld", &a.pssanon);
		sscanf(line, "Pss_Shmem: %ld", &a.pssshmem);
		sscanf(line, "AnonHugePages: %ld", &a.ahp);
	}
	fclose(f);
	return a;
}

/* smaps_rollup at the start of a part: show() prints the rollup's change since */
static struct anon base;
static void baseline(void) { base = anon_of("/proc/self/smaps_rollup", NULL); }

/* the VMA's smaps (which has no Pss_Anon: the rollup alone prints Pss_Anon, Pss_File, Pss_Shmem),
 * then the change of the process's smaps_rollup since baseline() */
static void show(const char *tag, void *addr)
{
	struct anon a = anon_of("/proc/self/smaps", addr);
	struct anon r = anon_of("/proc/self/smaps_rollup", NULL);
	printf("  %-32s VMA Rss=%ld Pss=%ld AnonHugePages=%ld | rollup change: Pss=%ld Pss_Anon=%ld Pss_Shmem=%ld AnonHugePages=%ld\n",
	       tag, a.rss, a.pss, a.ahp, r.pss - base.pss, r.pssanon - base.pssanon, r.pssshmem - base.pssshmem, r.ahp - base.ahp);
	fflush(stdout);
}

static char *thp_region(int n, size_t len)
{
	char *p = map_at(SLOT(n), len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	if (p && madvise(p, len, MADV_HUGEPAGE))
		printf("  MADV_HUGEPAGE: %s\n", strerror(errno));
	return p;
}

int main(void)
{
	sync_init();
	printf("a) THP: 4 MiB, MADV_HUGEPAGE, each 2 MiB written\n");
	char *p = thp_region(1, 2 * MB2);
	baseline();
	touch(p, 2, MB2, 1);
	show("written", p);
	pid_t pid = fork();
	if (pid == 0) {
		warm();
		/* the child's own rollup against the parent's baseline: the window changed only */
		show("b) child after fork", p);
		tell_parent();
		wait_parent();
		touch(p, 1, PG, 1);
		show("b) child wrote 1 page of THP 1", p);
		tell_parent();
		wait_parent();
		_exit(0);
	}
	wait_child();
	show("b) parent after fork", p);
	tell_child();
	wait_child();
	show("b) parent after child's write", p);
	tell_child();
	reap(pid, "child");
	show("b) parent after child exit", p);
	munmap(p, 2 * MB2);

	printf("c) THP read only (huge zero page)\n");
	p = thp_region(2, MB2);
	baseline();
	touch(p, 1, PG, 0);
	show("read", p);
	munmap(p, MB2);

	printf("d) mTHP 64 KiB (hugepages-64kB/enabled=inherit), 128 KiB written\n");
	const char *m64 = "/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled";
	char old[128] = "";
	FILE *f = fopen(m64, "r");
	if (f) {
		if (fgets(old, sizeof old, f)) {}
		fclose(f);
		char *b = strchr(old, '['), *e = b ? strchr(b, ']') : NULL;
		if (b && e) { *e = 0; memmove(old, b + 1, strlen(b + 1) + 1); }
		FILE *w = fopen(m64, "w");
		if (w) { fputs("inherit", w); fclose(w); }
		/* 1 MiB: too small for a PMD-size THP, so the 64 KiB size is used */
		p = thp_region(3, MB2 / 2);
		baseline();
		touch(p, 2, 16 * PG, 1);
		show("mTHP", p);
		munmap(p, MB2 / 2);
		w = fopen(m64, "w");
		if (w) { fputs(old, w); fclose(w); }
	}

	printf("e) MAP_SHARED|MAP_ANONYMOUS, 16 pages written\n");
	p = map_at(SLOT(4), 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
	baseline();
	touch(p, 16, PG, 1);
	show("shared anonymous", p);
	munmap(p, 16 * PG);

	printf("f) MAP_PRIVATE of a tmpfs file, 16 pages read, then 4 written\n");
	int fd = open("/dev/shm/somsim-kf-anon", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0 && ftruncate(fd, 16 * PG) == 0) {
		char *q = map_at(SLOT(5), 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
		touch(q, 16, PG, 1);
		p = map_at(SLOT(6), 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
		baseline();
		touch(p, 16, PG, 0);
		show("private file, read", p);
		touch(p, 4, PG, 1);
		show("private file, 4 written", p);
		munmap(p, 16 * PG);
		munmap(q, 16 * PG);
	}
	if (fd >= 0) { close(fd); unlink("/dev/shm/somsim-kf-anon"); }

	printf("g) one page shared by 3 processes, rollup\n");
	p = map_at(SLOT(7), PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
	baseline();
	touch(p, 1, PG, 1);
	pid_t k1 = fork();
	if (k1 == 0) { warm(); tell_parent(); wait_parent(); _exit(0); }
	pid_t k2 = fork();
	if (k2 == 0) { warm(); tell_parent(); wait_parent(); _exit(0); }
	wait_child();
	wait_child();
	show("page /3", p);
	tell_child();
	tell_child();
	reap(k1, "k1");
	reap(k2, "k2");
	return 0;
}
