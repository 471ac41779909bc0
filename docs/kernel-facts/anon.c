/* anon.c - Q1 private anonymous 4 KiB faults, Q9 MAP_POPULATE accounting. */
#include "common.h"
#define N 16

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int rw = PROT_READ | PROT_WRITE, pa = MAP_PRIVATE | MAP_ANONYMOUS;
	char *p;

	puts("== Q1 private anon, 16 pages ==");
	p = map_at(SLOT(1), N * PG, rw, pa, -1);
	printf("1a write untouched: faults=%ld\n", touch(p, N, PG, 1));
	psmaps("after write", p);

	p = map_at(SLOT(2), N * PG, rw, pa, -1);
	printf("1b read untouched: faults=%ld\n", touch(p, N, PG, 0));
	psmaps("after read (zero page)", p);
	printf("1c then write same pages: faults=%ld\n", touch(p, N, PG, 1));
	psmaps("after read+write", p);
	printf("1c again write: faults=%ld\n", touch(p, N, PG, 1));

	/* Q1d / Q9: MAP_POPULATE, 64 pages so vmstat noise is visible as such */
	long f0 = minflt(), g0 = vmstat("pgfault");
	p = map_at(SLOT(3), 64 * PG, rw, pa | MAP_POPULATE, -1);
	long f1 = minflt(), g1 = vmstat("pgfault");
	printf("1d/9 MAP_POPULATE 64 pages: ru_minflt delta=%ld vmstat pgfault delta=%ld\n",
	       f1 - f0, g1 - g0);
	psmaps("after MAP_POPULATE", p);
	printf("1d write populated pages: faults=%ld\n", touch(p, 64, PG, 1));

	/* reference: pgfault delta for 64 ordinary write faults */
	p = map_at(SLOT(4), 64 * PG, rw, pa, -1);
	g0 = vmstat("pgfault");
	f0 = touch(p, 64, PG, 1);
	g1 = vmstat("pgfault");
	printf("9 ref: 64 write faults: ru_minflt delta=%ld vmstat pgfault delta=%ld\n", f0, g1 - g0);

	/* MAP_POPULATE read-only private anon: zero page or real pages? */
	p = map_at(SLOT(5), 16 * PG, PROT_READ, pa | MAP_POPULATE, -1);
	psmaps("PROT_READ MAP_POPULATE 16p", p);
	printf("1d read the 16 PROT_READ-populated pages: faults=%ld\n", touch(p, 16, PG, 0));
	/* madvise(MADV_POPULATE_WRITE) */
	p = map_at(SLOT(6), 64 * PG, rw, pa, -1);
	f0 = minflt(); g0 = vmstat("pgfault");
	madvise(p, 64 * PG, MADV_POPULATE_WRITE);
	f1 = minflt(); g1 = vmstat("pgfault");
	printf("9 MADV_POPULATE_WRITE 64 pages: ru_minflt delta=%ld vmstat pgfault delta=%ld\n",
	       f1 - f0, g1 - g0);
	return 0;
}
