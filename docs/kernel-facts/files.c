/* files.c - files as objects: ftruncate, fallocate, close, unlink, mmap offsets, on hugetlbfs,
 * tmpfs and memfd (section 17 of FINDINGS.md). Mounts hugetlbfs (2 MiB pages) in a temporary
 * directory and sets the 2 MiB pool to 8 pages; unmounts, removes its files and sets the pool
 * back to 0 on exit. Prints pool counters, Shmem and the files' st_blocks. */
#include "common.h"
#include <sys/mount.h>
#include <sys/stat.h>

static char mnt_dir[] = "/tmp/kf-hugetlbfs-XXXXXX";
static void cleanup(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/kf-a", mnt_dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/kf-b", mnt_dir);
	unlink(path);
	unlink("/dev/shm/kf-files");
	umount(mnt_dir);
	rmdir(mnt_dir);
	write_long("/proc/sys/vm/nr_hugepages", 0);
}

static const char *pool = "/sys/kernel/mm/hugepages/hugepages-2048kB/";
static long counter(const char *name)
{
	char path[256];
	snprintf(path, sizeof path, "%s%s", pool, name);
	FILE *f = fopen(path, "r");
	long v = -1;
	if (f) { if (fscanf(f, "%ld", &v) != 1) v = -1; fclose(f); }
	return v;
}
#define POOL(what) printf("  %-34s free %ld rsvd %ld\n", what, counter("free_hugepages"), counter("resv_hugepages"))
static int shm_fd = -1;
static long blocks_kb(void)
{
	struct stat s;
	return shm_fd >= 0 && fstat(shm_fd, &s) == 0 ? (long)s.st_blocks / 2 : -1;
}
/* Shmem of /proc/meminfo is machine-wide and its per-CPU counts are folded in lazily: the file's
 * st_blocks (shmem: pages allocated x 8) is what the run can read exactly. */
#define SHMEM(what) printf("  %-34s Shmem %ld kB, file st_blocks %ld kB\n", what, meminfo("Shmem"), blocks_kb())

static sigjmp_buf escape;
static void on_sigbus(int s) { (void)s; siglongjmp(escape, 1); }
static int touch_signals(volatile char *p)
{
	if (sigsetjmp(escape, 1) == 0) { *p = 1; return 0; }
	return 1;
}

int main(void)
{
	char path[512];
	setvbuf(stdout, NULL, _IONBF, 0);
	atexit(cleanup);
	if (!mkdtemp(mnt_dir) || mount("none", mnt_dir, "hugetlbfs", 0, "pagesize=2M")) {
		perror("hugetlbfs mount");
		return 1;
	}
	const char *mnt = mnt_dir;
	write_long("/proc/sys/vm/nr_hugepages", 8);
	signal(SIGBUS, on_sigbus);

	printf("17a hugetlbfs: shared mapping of 4 pages, 2 touched, ftruncate shrink and grow\n");
	snprintf(path, sizeof path, "%s/kf-a", mnt);
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	POOL("start");
	ftruncate(fd, 4 * MB2);
	char *p = mmap(SLOT(1), 4 * MB2, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	POOL("mmap 4 pages shared");
	p[0] = 1; p[MB2] = 1;
	POOL("pages 0,1 written");
	int r = ftruncate(fd, 3 << 20);
	printf("  ftruncate 3M (unaligned): %d errno %s\n", r, r ? strerror(errno) : "-");
	ftruncate(fd, MB2);
	POOL("ftruncate 2M");
	printf("  touch page 1 after shrink: %s\n", touch_signals(p + MB2) ? "SIGBUS" : "ok");
	printf("  touch page 0 after shrink: %s\n", touch_signals(p) ? "SIGBUS" : "ok");
	ftruncate(fd, 4 * MB2);
	POOL("ftruncate 8M (grow)");
	printf("  touch page 2 after grow: %s\n", touch_signals(p + 2 * MB2) ? "SIGBUS" : "ok");
	POOL("page 2 written after grow");
	munmap(p, 4 * MB2);
	POOL("munmap");
	unlink(path);
	POOL("unlink (fd open)");
	close(fd);
	POOL("close");

	printf("17b hugetlbfs: fallocate, punch, mmap at an offset\n");
	snprintf(path, sizeof path, "%s/kf-b", mnt);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	printf("  fallocate 4M: %d\n", fallocate(fd, 0, 0, 2 * MB2));
	POOL("fallocated 2 pages");
	struct stat st; fstat(fd, &st);
	printf("  size after fallocate %ld\n", (long)st.st_size);
	printf("  fallocate offset 1M length 2M: %d\n", fallocate(fd, 0, MB2 / 2, MB2));
	fstat(fd, &st);
	POOL("fallocate [1M,3M)");
	printf("  size %ld\n", (long)st.st_size);
	p = mmap(SLOT(2), 2 * MB2, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 4096);
	printf("  mmap offset 4K: %s\n", p == MAP_FAILED ? strerror(errno) : "ok");
	p = mmap(SLOT(2), 2 * MB2, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, MB2);
	POOL("mmap 2 pages at offset 2M");
	long f0 = minflt();
	p[0] = 1; p[MB2] = 1;
	printf("  faults for 2 writes: %ld\n", minflt() - f0);
	POOL("written");
	fstat(fd, &st);
	printf("  size %ld\n", (long)st.st_size);
	printf("  punch [2M,4M): %d\n", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, MB2, MB2));
	POOL("punched file page 1");
	printf("  touch punched page: %s\n", touch_signals(p) ? "SIGBUS" : "ok");
	POOL("touched again");
	printf("  punch [1M, 3M) (unaligned): %d\n", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, MB2 / 2, MB2));
	POOL("punched unaligned");
	unlink(path);
	close(fd);
	POOL("unlink, close (still mapped)");
	munmap(p, 2 * MB2);
	POOL("munmap");

	printf("17c tmpfs and memfd: Shmem\n");
	SHMEM("start");
	fd = memfd_create("kf", 0);
	shm_fd = fd;
	ftruncate(fd, 64 * PG);
	p = mmap(SLOT(3), 64 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	memset(p, 1, 64 * PG);
	SHMEM("memfd 64 pages written");
	ftruncate(fd, 16 * PG + 100);
	SHMEM("memfd ftruncate 16 pages + 100");
	printf("  touch page 16: %s, page 17: %s\n", touch_signals(p + 16 * PG) ? "SIGBUS" : "ok", touch_signals(p + 17 * PG) ? "SIGBUS" : "ok");
	printf("  punch pages [0,8): %d\n", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 8 * PG));
	SHMEM("punched 8");
	printf("  fallocate pages [32,40): %d\n", fallocate(fd, 0, 32 * PG, 8 * PG));
	fstat(fd, &st);
	SHMEM("fallocated 8 past EOF");
	printf("  size %ld\n", (long)st.st_size);
	printf("  fallocate misaligned 100..5000: %d\n", fallocate(fd, 0, 100, 4900));
	SHMEM("misaligned fallocate");
	munmap(p, 64 * PG);
	SHMEM("munmap");
	close(fd);
	shm_fd = -1;
	SHMEM("close");

	snprintf(path, sizeof path, "/dev/shm/kf-files");
	fd = open(path, O_RDWR | O_CREAT, 0600);
	shm_fd = fd;
	ftruncate(fd, 16 * PG);
	p = mmap(SLOT(4), 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0);
	char *q = mmap(SLOT(5), 16 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	memset(q, 1, 16 * PG);
	memset(p, 2, 16 * PG);
	SHMEM("tmpfs 16 shared + 16 private copies");
	printf("  punch 8 pages: %d\n", fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 8 * PG));
	printf("  private page 0 after punch: %d (2 = copy kept)\n", p[0]);
	ftruncate(fd, 0);
	printf("  private page 8 after ftruncate 0: %s\n", touch_signals(p + 8 * PG) ? "SIGBUS" : "ok");
	SHMEM("after truncate to 0");
	unlink(path);
	close(fd);
	shm_fd = -1;
	munmap(p, 16 * PG);
	munmap(q, 16 * PG);
	SHMEM("end");

	/* 17e: a hole punch over a page a shared mapping reserved but never faulted keeps the
	 * reservation; a truncate over it returns it. */
	printf("17e hugetlbfs: punch and truncate over reserved, unfaulted pages\n");
	snprintf(path, sizeof path, "%s/kf-b", mnt);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	ftruncate(fd, 3 * MB2);
	p = mmap(SLOT(7), 3 * MB2, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	POOL("shared mapping of 3 pages");
	p[0] = 1;
	POOL("page 0 written");
	fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 2 * MB2);
	POOL("punch pages 0-1");
	printf("  touch page 1 after the punch: %s\n", touch_signals(p + MB2) ? "SIGBUS" : "ok");
	POOL("page 1 written");
	ftruncate(fd, MB2);
	POOL("ftruncate 2M");
	munmap(p, 3 * MB2);
	close(fd);
	unlink(path);
	POOL("unmapped, closed, unlinked");

	/* 17d: Shmem of a memfd and of a /dev/shm file of 32 MiB each: the same count (the per-CPU
	 * drift is a few hundred kB at most; both are shmem inodes, mm/memfd.c: memfd_create uses
	 * shmem_file_setup). */
	long before = meminfo("Shmem");
	fd = memfd_create("kf-big", 0);
	ftruncate(fd, 32 << 20);
	p = mmap(SLOT(6), 32 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	memset(p, 1, 32 << 20);
	long memfd_kb = meminfo("Shmem") - before;
	munmap(p, 32 << 20);
	close(fd);
	before = meminfo("Shmem");
	fd = open("/dev/shm/kf-files", O_RDWR | O_CREAT, 0600);
	ftruncate(fd, 32 << 20);
	p = mmap(SLOT(6), 32 << 20, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
	memset(p, 1, 32 << 20);
	long tmpfs_kb = meminfo("Shmem") - before;
	munmap(p, 32 << 20);
	close(fd);
	unlink("/dev/shm/kf-files");
	printf("17d Shmem after writing 32 MiB: memfd +%ld kB, /dev/shm file +%ld kB\n", memfd_kb, tmpfs_kb);
	return 0;
}
