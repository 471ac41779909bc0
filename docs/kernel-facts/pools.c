/* pools.c - HugeTLB reservations and pools: MAP_NORESERVE, surplus pages
 * (nr_overcommit_hugepages), nr_hugepages written while pages are in use, and SysV shared memory
 * (FINDINGS section "Pools and SysV shared memory", P1-P9).
 *
 * Each access that may raise SIGBUS runs in a forked child, so the parent's counters stay clean.
 * Pools are set back to 0 at the end (run.sh also does). */
#include "common.h"
#include <sys/ipc.h>
#include <sys/shm.h>

#define H2 "/sys/kernel/mm/hugepages/hugepages-2048kB/"
#define H1 "/sys/kernel/mm/hugepages/hugepages-1048576kB/"
#ifndef SHM_HUGE_SHIFT
#define SHM_HUGE_SHIFT 26
#endif
#define SHM_HUGE_2MB (21 << SHM_HUGE_SHIFT)

static void show(const char *dir, const char *what)
{
	char p[256];
	long v[5];
	const char *k[5] = { "nr_hugepages", "free_hugepages", "resv_hugepages", "surplus_hugepages", "nr_overcommit_hugepages" };
	for (int i = 0; i < 5; i++) {
		snprintf(p, sizeof p, "%s%s", dir, k[i]);
		v[i] = read_long(p);
	}
	printf("  %-44s total=%ld free=%ld resv=%ld surplus=%ld overcommit=%ld\n", what, v[0], v[1], v[2], v[3], v[4]);
}

static void set(const char *dir, const char *file, long v)
{
	char p[256];
	snprintf(p, sizeof p, "%s%s", dir, file);
	int fd = open(p, O_WRONLY);
	char text[32];
	int n = snprintf(text, sizeof text, "%ld\n", v);
	ssize_t r = fd >= 0 ? write(fd, text, n) : -1;
	printf("  write %ld to %s: %s\n", v, file, r == n ? "ok" : strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* writes page i in this process, catching SIGBUS */
static sigjmp_buf bus;
static void on_bus(int s) { (void)s; siglongjmp(bus, 1); }
static int touch_here(char *m, long i, size_t hp)
{
	signal(SIGBUS, on_bus);
	if (sigsetjmp(bus, 1))
		return -1;
	m[i * hp] = 1;
	return 0;
}

static char *hmap(long pages, size_t hp, int flags)
{
	int huge = hp == GB1 ? MAP_HUGE_1GB : MAP_HUGE_2MB;
	char *m = mmap(NULL, pages * hp, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_HUGETLB | huge | flags, -1, 0);
	if (m == MAP_FAILED) {
		printf("  mmap %ld pages%s%s: %s\n", pages, flags & MAP_SHARED ? " shared" : " private", flags & MAP_NORESERVE ? " noreserve" : "",
		       strerror(errno));
		return NULL;
	}
	return m;
}

int main(void)
{
	char *m, *a;

	printf("P1 MAP_NORESERVE private, pool 2, 3 pages\n");
	set(H2, "nr_hugepages", 2);
	m = hmap(3, MB2, MAP_PRIVATE | MAP_NORESERVE);
	show(H2, "mmap 3 pages private noreserve");
	printf("  write page 0 here: %d\n", touch_here(m, 0, MB2));
	show(H2, "after");
	printf("  write page 1 here: %d\n", touch_here(m, 1, MB2));
	show(H2, "after");
	printf("  write page 2 here: %d (-1 = SIGBUS)\n", touch_here(m, 2, MB2));
	show(H2, "after");
	munmap(m, 3 * MB2);
	show(H2, "munmap");
	m = hmap(3, MB2, MAP_SHARED | MAP_NORESERVE);
	show(H2, "mmap 3 pages shared noreserve");
	int r0 = touch_here(m, 0, MB2), r1 = touch_here(m, 1, MB2), r2 = touch_here(m, 2, MB2);
	printf("  write page 0, 1, 2 here: %d %d %d\n", r0, r1, r2);
	show(H2, "after");
	munmap(m, 3 * MB2);
	show(H2, "munmap");

	printf("P2 noreserve next to a reservation (noresv-preserve-resv-page), pool 2\n");
	a = hmap(1, MB2, MAP_PRIVATE);
	m = hmap(2, MB2, MAP_PRIVATE | MAP_NORESERVE);
	show(H2, "mmap a 1 page private, m 2 pages noreserve");
	printf("  write m page 0: %d\n", touch_here(m, 0, MB2));
	show(H2, "after");
	printf("  write m page 1: %d (-1 = SIGBUS)\n", touch_here(m, 1, MB2));
	show(H2, "after");
	printf("  write a page 0: %d\n", touch_here(a, 0, MB2));
	show(H2, "after");
	/* noreserve private, fork, child writes: no reservation owner -> SIGBUS when the pool is dry */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int r = touch_here(m, 0, MB2);
		printf("  child writes m page 0 (shared with parent, pool dry): %d\n", r);
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	munmap(a, MB2);
	munmap(m, 2 * MB2);
	show(H2, "munmap both");

	printf("P3 surplus pages: pool 1, overcommit 2\n");
	set(H2, "nr_hugepages", 1);
	set(H2, "nr_overcommit_hugepages", 2);
	show(H2, "set");
	m = hmap(3, MB2, MAP_PRIVATE);
	show(H2, "mmap 3 pages private");
	touch_here(m, 0, MB2);
	touch_here(m, 1, MB2);
	show(H2, "write pages 0,1");
	a = hmap(1, MB2, MAP_PRIVATE);
	show(H2, "mmap 1 more page private (needs a 4th)");
	munmap(m, 3 * MB2);
	show(H2, "munmap the 3 pages");
	m = hmap(4, MB2, MAP_PRIVATE);
	show(H2, "mmap 4 pages private (needs 3 surplus)");
	if (m)
		munmap(m, 4 * MB2);
	m = hmap(3, MB2, MAP_SHARED);
	show(H2, "mmap 3 pages shared");
	touch_here(m, 2, MB2);
	show(H2, "write page 2");
	munmap(m, 3 * MB2);
	show(H2, "munmap");
	set(H2, "nr_hugepages", 0);
	m = hmap(3, MB2, MAP_PRIVATE | MAP_NORESERVE);
	show(H2, "pool 0: mmap 3 pages private noreserve");
	r0 = touch_here(m, 0, MB2), r1 = touch_here(m, 1, MB2), r2 = touch_here(m, 2, MB2);
	printf("  write pages 0, 1, 2: %d %d %d\n", r0, r1, r2);
	show(H2, "after");
	munmap(m, 3 * MB2);
	show(H2, "munmap");
	m = hmap(2, MB2, MAP_PRIVATE);
	show(H2, "mmap 2 pages private");
	touch_here(m, 0, MB2);
	show(H2, "write page 0");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		printf("  child writes page 0 (COW, outside reservation): %d\n", touch_here(m, 0, MB2));
		show(H2, "in child after its write");
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	show(H2, "child gone");
	munmap(m, 2 * MB2);
	show(H2, "munmap");
	set(H2, "nr_overcommit_hugepages", 0);

	printf("P4 nr_hugepages written while pages are in use\n");
	set(H2, "nr_hugepages", 4);
	m = hmap(3, MB2, MAP_PRIVATE);
	touch_here(m, 0, MB2);
	touch_here(m, 1, MB2);
	show(H2, "pool 4, 3 reserved, 2 written");
	set(H2, "nr_hugepages", 0);
	show(H2, "write 0");
	set(H2, "nr_hugepages", 2);
	show(H2, "write 2");
	set(H2, "nr_hugepages", 5);
	show(H2, "write 5");
	set(H2, "nr_hugepages", 1);
	show(H2, "write 1");
	touch_here(m, 2, MB2);
	show(H2, "write page 2");
	munmap(m, 3 * MB2);
	show(H2, "munmap");
	set(H2, "nr_hugepages", 3);
	m = hmap(2, MB2, MAP_SHARED);
	touch_here(m, 0, MB2);
	show(H2, "pool 3, shared 2 pages, 1 written");
	set(H2, "nr_hugepages", 0);
	show(H2, "write 0");
	munmap(m, 2 * MB2);
	show(H2, "munmap");
	set(H2, "nr_hugepages", 0);

	printf("P5 1 GiB overcommit\n");
	set(H1, "nr_overcommit_hugepages", 1);
	show(H1, "after writing overcommit 1");
	m = hmap(1, GB1, MAP_PRIVATE);
	show(H1, "mmap 1 page private");
	if (m)
		munmap(m, GB1);
	m = hmap(1, GB1, MAP_PRIVATE | MAP_NORESERVE);
	if (m) {
		printf("  write page 0: %d (-1 = SIGBUS)\n", touch_here(m, 0, GB1));
		show(H1, "after");
		munmap(m, GB1);
	}
	show(H1, "munmap");
	set(H1, "nr_overcommit_hugepages", 0);

	printf("P8 1 GiB pool shrunk while its page is in use, then while it is reserved\n");
	set(H1, "nr_hugepages", 1);
	show(H1, "write 1");
	m = hmap(1, GB1, MAP_PRIVATE);
	if (m) {
		touch_here(m, 0, GB1);
		show(H1, "mmap, write");
		set(H1, "nr_hugepages", 0);
		show(H1, "write 0");
		munmap(m, GB1);
		show(H1, "munmap");
	}
	set(H1, "nr_hugepages", 1);
	m = hmap(1, GB1, MAP_PRIVATE);
	show(H1, "write 1, mmap (reserved)");
	set(H1, "nr_hugepages", 0);
	show(H1, "write 0");
	if (m)
		munmap(m, GB1);
	show(H1, "munmap");

	printf("P9 MADV_DONTNEED restores a reservation while the pool has surplus pages\n");
	set(H2, "nr_hugepages", 1);
	set(H2, "nr_overcommit_hugepages", 1);
	m = hmap(2, MB2, MAP_PRIVATE);
	touch_here(m, 0, MB2);
	touch_here(m, 1, MB2);
	show(H2, "pool 1, overcommit 1, 2 pages written");
	madvise(m, MB2, MADV_DONTNEED);
	show(H2, "MADV_DONTNEED page 0");
	printf("  write page 0: %d\n", touch_here(m, 0, MB2));
	show(H2, "after");
	munmap(m, 2 * MB2);
	show(H2, "munmap");
	set(H2, "nr_overcommit_hugepages", 0);
	set(H2, "nr_hugepages", 0);

	printf("P6 SysV shm, SHM_HUGETLB, pool 3\n");
	set(H2, "nr_hugepages", 3);
	int big = shmget(IPC_PRIVATE, 4 * MB2, IPC_CREAT | 0600 | SHM_HUGETLB | SHM_HUGE_2MB);
	printf("  shmget 4 pages: %s\n", big < 0 ? strerror(errno) : "ok");
	int id = shmget(IPC_PRIVATE, 2 * MB2, IPC_CREAT | 0600 | SHM_HUGETLB | SHM_HUGE_2MB);
	show(H2, "shmget 2 pages");
	m = shmat(id, SLOT(1), 0);
	printf("  shmat at slot: %s\n", m == (void *)-1 ? strerror(errno) : "ok");
	char *mis = shmat(id, SLOT(2) + PG, 0);
	printf("  shmat at a 4K-aligned address: %s\n", mis == (void *)-1 ? strerror(errno) : "ok");
	show(H2, "shmat");
	printf("  faults writing page 0: %ld\n", touch(m, 1, MB2, 1));
	show(H2, "write page 0");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct shmid_ds ds;
		shmctl(id, IPC_STAT, &ds);
		printf("  child: nattch=%lu, faults reading page 0: %ld\n", (unsigned long)ds.shm_nattch, touch(m, 1, MB2, 0));
		psmaps("child smaps", m);
		sleep(1);
		fflush(stdout);
		_exit(0);
	}
	usleep(200000);
	printf("  shmctl IPC_RMID: %d\n", shmctl(id, IPC_RMID, NULL));
	show(H2, "rmid (child still attached)");
	printf("  shmdt: %d\n", shmdt(m));
	show(H2, "parent shmdt");
	waitpid(pid, NULL, 0);
	show(H2, "child exited");
	id = shmget(IPC_PRIVATE, 2 * MB2, IPC_CREAT | 0600 | SHM_HUGETLB | SHM_HUGE_2MB);
	m = shmat(id, NULL, 0);
	touch(m, 1, MB2, 1);
	printf("  shmdt: %d\n", shmdt(m));
	show(H2, "new segment, written, detached");
	printf("  munmap of a detached address: %d, shmdt again: %d (%s)\n", munmap(m, MB2), shmdt(m), strerror(errno));
	printf("  shmctl IPC_RMID: %d\n", shmctl(id, IPC_RMID, NULL));
	show(H2, "rmid with no attachment");
	id = shmget(IPC_PRIVATE, 2 * MB2, IPC_CREAT | 0600 | SHM_HUGETLB | SHM_HUGE_2MB);
	m = shmat(id, NULL, 0);
	touch(m, 2, MB2, 1);
	printf("  munmap of an attachment: %d\n", munmap(m, 2 * MB2));
	struct shmid_ds ds;
	shmctl(id, IPC_STAT, &ds);
	printf("  nattch after munmap: %lu\n", (unsigned long)ds.shm_nattch);
	shmctl(id, IPC_RMID, NULL);
	show(H2, "rmid");
	set(H2, "nr_hugepages", 0);

	printf("P7 SysV shm, 4 KiB pages\n");
	long shmem0 = meminfo("Shmem");
	id = shmget(IPC_PRIVATE, 64 * PG, IPC_CREAT | 0600);
	m = shmat(id, SLOT(3), 0);
	printf("  faults writing 64 pages: %ld, Shmem +%ld kB\n", touch(m, 64, PG, 1), meminfo("Shmem") - shmem0);
	psmaps("smaps", m);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		warm();
		printf("  child faults reading 64 pages: %ld\n", touch(m, 64, PG, 0));
		psmaps("child smaps", m);
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	shmdt(m);
	printf("  detached, not removed: Shmem +%ld kB\n", meminfo("Shmem") - shmem0);
	shmctl(id, IPC_RMID, NULL);
	printf("  removed: Shmem +%ld kB\n", meminfo("Shmem") - shmem0);
	int odd = shmget(IPC_PRIVATE, PG + 1, IPC_CREAT | 0600);
	shmctl(odd, IPC_STAT, &ds);
	printf("  shmget %lu bytes: segsz %lu\n", PG + 1, (unsigned long)ds.shm_segsz);
	shmctl(odd, IPC_RMID, NULL);
	return 0;
}
