/* hugetlbpriv.c - Q10 private HugeTLB read then written; Q11 private mappings of a hugetlbfs
 * file whose page is in the page cache. Mounts a 2 MiB hugetlbfs under /tmp and changes
 * /proc/sys/vm/nr_hugepages; unmounts and sets the pool back to 0 on exit. */
#include "common.h"
#include <sys/mount.h>

static char mnt[] = "/tmp/kf-hugetlbfs-XXXXXX";
static char path[64];

static void hp(const char *tag)
{
	printf("  %-50s Free=%ld Rsvd=%ld\n", tag, meminfo("HugePages_Free"), meminfo("HugePages_Rsvd"));
}

static void cleanup(void)
{
	unlink(path);
	umount(mnt);
	rmdir(mnt);
	write_long(NRHP2M, 0);
}

/* one fault-counted access to one huge page; prints faults and whether the frame changed */
static void access1(const char *tag, char *p, int w)
{
	unsigned long before = pfn_of(p);
	long f = touch(p, 1, MB2, w);
	unsigned long after = pfn_of(p);
	printf("%s: faults=%ld frame %s\n", tag, f,
	       !before ? "new" : before == after ? "kept" : "changed");
}

static char *fmap(int slot, long pages, int flags)
{
	int fd = open(path, O_RDWR);
	char *p = map_at(SLOT(slot), pages * MB2, PROT_READ | PROT_WRITE, flags, fd);
	close(fd);
	return p;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	atexit(cleanup);
	int pa = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB;
	char *p, *a, *b, *c;
	pid_t pid;

	write_long(NRHP2M, 8);
	puts("== Q10a private HugeTLB, 4 pages, pool 8: read, then write ==");
	p = map_at(SLOT(100), 4 * MB2, PROT_READ | PROT_WRITE, pa, -1);
	hp("after mmap 4");
	access1("10a read page 0", p, 0);
	hp("after read page 0");
	psmaps("10a after read", p);
	access1("10a write page 0 (after read)", p, 1);
	hp("after write page 0");
	access1("10a write page 0 again", p, 1);
	access1("10a write page 1 (untouched)", p + MB2, 1);
	hp("after write page 1");

	puts("== Q10b fork after the parent read page 2 ==");
	access1("10b parent read page 2", p + 2 * MB2, 0);
	hp("after parent read page 2");
	sync_init();
	if (!(pid = fork())) {
		warm();
		access1("10b child write page 2 (read-only, shared)", p + 2 * MB2, 1);
		hp("after child wrote page 2");
		access1("10b child read page 3 (untouched, parent reserved)", p + 3 * MB2, 0);
		hp("after child read page 3");
		access1("10b child write page 3 (after its read)", p + 3 * MB2, 1);
		hp("after child wrote page 3");
		psmaps("10b child", p);
		tell_parent();
		wait_parent();
		_exit(0);
	}
	warm();
	wait_child();
	access1("10b parent write page 2 (child copied it)", p + 2 * MB2, 1);
	hp("after parent wrote page 2");
	psmaps("10b parent", p);
	tell_child();
	reap(pid, "child");
	hp("after child exit");
	access1("10b parent read page 3", p + 3 * MB2, 0);
	access1("10b parent write page 3", p + 3 * MB2, 1);
	hp("after parent wrote page 3");
	munmap(p, 4 * MB2);
	hp("after munmap");

	puts("== Q11 hugetlbfs file of 2 pages; shared mapping A writes page 0 ==");
	if (!mkdtemp(mnt) || mount("none", mnt, "hugetlbfs", 0, "pagesize=2M")) {
		printf("mount failed: %s\n", strerror(errno));
		return 1;
	}
	snprintf(path, sizeof path, "%s/f", mnt);
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, 2 * MB2)) {
		printf("file: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	hp("before");
	a = fmap(110, 2, MAP_SHARED);
	hp("after mmap A shared 2");
	access1("11 A write page 0", a, 1);
	hp("after A wrote page 0");
	b = fmap(111, 2, MAP_PRIVATE);
	hp("after mmap B private 2");
	access1("11a B read page 0 (in page cache)", b, 0);
	printf("  B page 0 is A's frame: %s\n", pfn_of(a) == pfn_of(b) ? "yes" : "no");
	hp("after B read page 0");
	psmaps("11a A", a);
	psmaps("11a B", b);
	access1("11a B read page 0 again", b, 0);
	access1("11b B write page 0 (mapped read-only)", b, 1);
	printf("  B page 0 is A's frame: %s\n", pfn_of(a) == pfn_of(b) ? "yes" : "no");
	hp("after B wrote page 0");
	psmaps("11b A", a);
	psmaps("11b B", b);
	access1("11b B write page 0 again", b, 1);
	access1("11c B read page 1 (not in page cache)", b + MB2, 0);
	hp("after B read page 1");
	access1("11c B write page 1 (after its read)", b + MB2, 1);
	hp("after B wrote page 1");
	access1("11c A read page 1 (B's page is not in the cache)", a + MB2, 0);
	hp("after A read page 1");
	printf("  A page 1 is B's frame: %s\n", pfn_of(a + MB2) == pfn_of(b + MB2) ? "yes" : "no");

	puts("== Q11d C private: write page 0 (in cache) with no read first ==");
	c = fmap(112, 2, MAP_PRIVATE);
	hp("after mmap C private 2");
	access1("11d C write page 0", c, 1);
	hp("after C wrote page 0");
	psmaps("11d A", a);
	psmaps("11d C", c);
	munmap(c, 2 * MB2);
	hp("after munmap C");

	puts("== Q11e fork: D private reads page 0 only (no anon page), then fork ==");
	munmap(b, 2 * MB2);
	hp("after munmap B");
	char *d = fmap(113, 2, MAP_PRIVATE);
	access1("11e D read page 0", d, 0);
	if (!(pid = fork())) {
		warm();
		psmaps("11e child D after fork", d);
		access1("11e child read page 0", d, 0);
		access1("11e child write page 0", d, 1);
		hp("after child wrote page 0");
		_exit(0);
	}
	reap(pid, "child");
	hp("after child exit");
	puts("== Q11f fork: D also has an anon page (page 1 written), then fork ==");
	access1("11f D write page 1", d + MB2, 1);
	hp("after D wrote page 1");
	if (!(pid = fork())) {
		warm();
		psmaps("11f child D after fork", d);
		access1("11f child read page 0", d, 0);
		access1("11f child write page 0 (page cache, read-only)", d, 1);
		hp("after child wrote page 0");
		access1("11f child write page 1 (anon, shared with D)", d + MB2, 1);
		hp("after child wrote page 1");
		_exit(0);
	}
	reap(pid, "child");
	hp("after child exit");
	access1("11f D write page 0", d, 1);
	hp("after D wrote page 0");
	munmap(d, 2 * MB2);
	hp("after munmap D");

	puts("== Q11g private mapping of a cached page when no unreserved page is free ==");
	write_long(NRHP2M, 2);
	hp("pool 2 (A holds page 0, reserves page 1)");
	char *e = fmap(114, 1, MAP_PRIVATE);
	printf("11g private mmap of 1 page: %s\n", e ? "ok" : "failed");
	hp("after");
	if (e)
		munmap(e, MB2);
	munmap(a, 2 * MB2);
	hp("after munmap A");
	return 0;
}
