/* tmpfs.c - Q5 mappings of a tmpfs file (/dev/shm), 64 pages, never write(2). */
#include "common.h"
#include <sys/stat.h>
#define N 64

static int newfile(void)
{
	const char *path = "/dev/shm/somsim-kf";
	unlink(path);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	unlink(path);
	if (fd < 0 || ftruncate(fd, N * PG))
		exit(1);
	return fd;
}

/* kB of page cache the tmpfs file holds */
static long filekb(int fd)
{
	struct stat st;
	fstat(fd, &st);
	return st.st_blocks / 2;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int rw = PROT_READ | PROT_WRITE;
	char *p;
	int fd;

	puts("== Q5 tmpfs MAP_PRIVATE, fresh (hole-only) file ==");
	fd = newfile();
	p = map_at(SLOT(60), N * PG, rw, MAP_PRIVATE, fd);
	printf("5 private read 64 holes: faults=%ld\n", touch(p, N, PG, 0));
	psmaps("5 private after read", p);
	printf("  file blocks=%ld kB\n", filekb(fd));
	printf("5 private write 64 (after read): faults=%ld\n", touch(p, N, PG, 1));
	psmaps("5 private after write", p);
	close(fd);

	fd = newfile();
	p = map_at(SLOT(61), N * PG, rw, MAP_PRIVATE, fd);
	printf("5 private write 64 holes (no prior read): faults=%ld\n", touch(p, N, PG, 1));
	psmaps("5 private after write", p);
	printf("  file blocks=%ld kB\n", filekb(fd));
	close(fd);

	puts("== Q5 tmpfs MAP_SHARED, fresh file ==");
	fd = newfile();
	p = map_at(SLOT(62), N * PG, rw, MAP_SHARED, fd);
	printf("5 shared read 64 holes: faults=%ld\n", touch(p, N, PG, 0));
	psmaps("5 shared after read", p);
	printf("5 shared write 64 (after read): faults=%ld\n", touch(p, N, PG, 1));
	psmaps("5 shared after write", p);
	/* second mapping of the same (now populated) file: fault-around applies */
	char *q = map_at(SLOT(63), N * PG, rw, MAP_PRIVATE, fd);
	printf("5 private read 64 of populated file: faults=%ld\n", touch(q, N, PG, 0));
	psmaps("5 private(populated) after read", q);
	printf("5 private write 64 of populated file: faults=%ld\n", touch(q, N, PG, 1));
	psmaps("5 private(populated) after write", q);
	char *r = map_at(SLOT(64), N * PG, rw, MAP_SHARED, fd);
	printf("5 shared read 64 of populated file: faults=%ld\n", touch(r, N, PG, 0));
	printf("5 then shared write 64: faults=%ld\n", touch(r, N, PG, 1));
	psmaps("5 shared(2nd map) after", r);
	close(fd);

	fd = newfile();
	p = map_at(SLOT(65), N * PG, rw, MAP_SHARED, fd);
	printf("5 shared write 64 holes (no prior read): faults=%ld\n", touch(p, N, PG, 1));
	psmaps("5 shared after write", p);
	close(fd);
	return 0;
}
