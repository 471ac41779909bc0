/* resv_hugepages underflows: a private HugeTLB mapping's owner MADV_DONTNEEDs a page its forked
 * child still maps, then faults it again (FINDINGS section 14).
 *
 * The kernel restores the mapping's reservation for the zapped page (mm/hugetlb.c:
 * __unmap_hugepage_range, "restore the reservation") although the page is not freed (the child
 * maps it), so the global resv_huge_pages is not raised; the next fault then consumes a
 * reservation that was never counted, and resv_hugepages reads 2^64 - 1 until the child exits.
 * Needs 8 free 2 MiB pool pages; a hugetlb memfd needs no hugetlbfs mount. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define HP (2UL << 20)
#define MFD_HUGE_2MB_FLAGS (MFD_HUGETLB | (21U << 26))

static void show(const char *what)
{
	unsigned long free = 0, resv = 0;
	FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "r");
	if (f) { if (fscanf(f, "%lu", &free) != 1) free = 0; fclose(f); }
	f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages", "r");
	if (f) { if (fscanf(f, "%lu", &resv) != 1) resv = 0; fclose(f); }
	printf("14 %-32s free=%lu resv=%lu\n", what, free, resv);
}

int main(void)
{
	FILE *pool = fopen("/proc/sys/vm/nr_hugepages", "w");
	if (!pool || fprintf(pool, "8\n") < 0 || fclose(pool)) { perror("nr_hugepages"); return 1; }
	int fd = memfd_create("resv", MFD_HUGE_2MB_FLAGS);
	if (fd < 0 || ftruncate(fd, 3 * HP)) { perror("memfd_create"); return 1; }
	char *m = mmap(NULL, 3 * HP, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) { perror("mmap"); return 1; }
	show("mmap MAP_PRIVATE, 3 pages");
	m[2 * HP] = 1;
	show("write page 2");
	volatile char c = m[HP];
	(void)c;
	show("read page 1");
	pid_t pid = fork();
	if (pid == 0) { pause(); _exit(0); }
	show("fork (the child maps pages 1-2)");
	if (madvise(m, 2 * HP, MADV_DONTNEED)) perror("madvise");
	show("MADV_DONTNEED pages 0-1");
	m[0] = 1;
	show("write page 0");
	m[HP] = 1;
	show("write page 1");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	show("child killed");
	munmap(m, 3 * HP);
	close(fd);
	show("munmap, close");
	return 0;
}
