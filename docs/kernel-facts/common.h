/* common.h - tiny helpers shared by the kernel-facts probes.
 * All sizes printed in kB unless stated otherwise. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#define MAP_HUGE_1GB (30 << MAP_HUGE_SHIFT)

#define PG 4096UL
#define MB2 (2UL << 20)
#define GB1 (1UL << 30)
/* Each test uses its own 512 GiB-aligned slot so PUD/PMD/PTE tables are new. */
#define SLOT(n) ((char *)(0x100000000000UL + (unsigned long)(n) * (512UL << 30)))

static long minflt(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* value of "Key:" in a /proc file of "Key: value" lines (meminfo, status) */
static long proc_kv(const char *file, const char *key)
{
	char line[256];
	size_t n = strlen(key);
	long v = -1;
	FILE *f = fopen(file, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = atol(line + n + 1);
			break;
		}
	fclose(f);
	return v;
}

/* value of "key value" in /proc/vmstat */
static long vmstat(const char *key)
{
	char name[128];
	long v, r = -1;
	FILE *f = fopen("/proc/vmstat", "r");
	while (fscanf(f, "%127s %ld", name, &v) == 2)
		if (!strcmp(name, key)) {
			r = v;
			break;
		}
	fclose(f);
	return r;
}

static long vmpte(void) { return proc_kv("/proc/self/status", "VmPTE"); }
static long meminfo(const char *k) { return proc_kv("/proc/meminfo", k); }

struct smaps {
	long rss, pss, sc, sd, pc, pd, shh, prh;
};

/* smaps block of the VMA that starts at addr (addr must be a VMA start) */
static struct smaps smaps_of(void *addr)
{
	struct smaps s = { -1, -1, -1, -1, -1, -1, -1, -1 };
	char line[512];
	unsigned long lo, hi;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (lo == (unsigned long)addr);
			continue;
		}
		if (!in)
			continue;
		sscanf(line, "Rss: %ld", &s.rss);
		sscanf(line, "Pss: %ld", &s.pss);
		sscanf(line, "Shared_Clean: %ld", &s.sc);
		sscanf(line, "Shared_Dirty: %ld", &s.sd);
		sscanf(line, "Private_Clean: %ld", &s.pc);
		sscanf(line, "Private_Dirty: %ld", &s.pd);
		sscanf(line, "Shared_Hugetlb: %ld", &s.shh);
		sscanf(line, "Private_Hugetlb: %ld", &s.prh);
	}
	fclose(f);
	return s;
}

static void psmaps(const char *tag, void *addr)
{
	struct smaps s = smaps_of(addr);
	printf("  %-28s Rss=%ld Pss=%ld ShCl=%ld ShDi=%ld PrCl=%ld PrDi=%ld ShHuge=%ld PrHuge=%ld\n",
	       tag, s.rss, s.pss, s.sc, s.sd, s.pc, s.pd, s.shh, s.prh);
}

static void *map_at(void *addr, size_t len, int prot, int flags, int fd)
{
	void *p = mmap(addr, len, prot, flags | (addr ? MAP_FIXED_NOREPLACE : 0), fd, 0);
	if (p == MAP_FAILED) {
		printf("  mmap(%p, %zu) failed: %s\n", addr, len, strerror(errno));
		return NULL;
	}
	return p;
}

/* touch n pages of size step; write if w, else read. returns minor faults.
 * Only the target memory is touched between the two getrusage calls. */
static volatile char sink;
static long touch(char *p, long n, size_t step, int w)
{
	volatile char *v = p;
	char s = 0;
	long f0 = minflt();
	for (long i = 0; i < n; i++) {
		if (w)
			v[i * step] = 1;
		else
			s += v[i * step];
	}
	long f1 = minflt();
	sink = s;
	return f1 - f0;
}

/* After fork the stack/heap/.bss are COW-shared: take those faults now so they
 * are not attributed to the measured loop. Call right after fork in both. */
static void warm(void)
{
	volatile char buf[16384];
	for (size_t i = 0; i < sizeof buf; i += 1024)
		buf[i] = 0;
	sink = buf[100];
	minflt();
	minflt();
}

/* parent/child sequencing with a pair of pipes */
static int p2c[2], c2p[2];
static void sync_init(void) { if (pipe(p2c) || pipe(c2p)) exit(1); }
static void tell_child(void) { char c = 0; if (write(p2c[1], &c, 1) != 1) exit(1); }
static void wait_parent(void) { char c; if (read(p2c[0], &c, 1) != 1) exit(1); }
static void tell_parent(void) { char c = 0; if (write(c2p[1], &c, 1) != 1) exit(1); }
static void wait_child(void) { char c; if (read(c2p[0], &c, 1) != 1) exit(1); }

/* reap a child and describe how it ended */
static void reap(pid_t pid, const char *who)
{
	int st;
	waitpid(pid, &st, 0);
	if (WIFSIGNALED(st))
		printf("  %s killed by signal %d (%s)\n", who, WTERMSIG(st), strsignal(WTERMSIG(st)));
	else if (WEXITSTATUS(st))
		printf("  %s exit status %d\n", who, WEXITSTATUS(st));
}

static void write_long(const char *file, long v)
{
	FILE *f = fopen(file, "w");
	if (!f || fprintf(f, "%ld\n", v) < 0 || fclose(f))
		printf("  write %ld to %s failed: %s\n", v, file, strerror(errno));
}

static long read_long(const char *file)
{
	long v = -1;
	FILE *f = fopen(file, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

#define NRHP2M "/proc/sys/vm/nr_hugepages"
#define NRHP1G "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"
#define HVO "/proc/sys/vm/hugetlb_optimize_vmemmap"

/* page frame number that addr maps in this process, from /proc/self/pagemap (root only);
 * 0 when nothing is mapped there */
static unsigned long pfn_of(void *addr)
{
	unsigned long entry = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		return 0;
	if (pread(fd, &entry, sizeof entry, (off_t)((unsigned long)addr / PG) * 8) != sizeof entry)
		entry = 0;
	close(fd);
	return (entry >> 63) & 1 ? entry & ((1UL << 55) - 1) : 0;
}
