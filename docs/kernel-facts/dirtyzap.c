/* dirtyzap.c - Q13 a shared page written through an already-writable PTE (the PTE is dirty, the
 * folio is not), then unmapped by that process: what the other mapper's smaps shows.
 * Changes /proc/sys/vm/nr_hugepages and mounts nothing; sets the pool back to 0 on exit. */
#include "common.h"
#include <sys/prctl.h>
#include <sys/stat.h>
#define N 64

static void cleanup(void) { write_long(NRHP2M, 0); }

enum end { MUNMAP, DONTNEED, HALF, EXIT };
static const char *how[] = { "munmap", "MADV_DONTNEED", "MADV_DONTNEED of the first half", "exit" };

static int tmpfile_fd(void)
{
	const char *path = "/dev/shm/somsim-kf-dirty";
	unlink(path);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	unlink(path);
	if (fd < 0 || ftruncate(fd, N * PG))
		exit(1);
	return fd;
}

/* The writer W maps the memory, reads then writes every page (no write fault: the read left
 * writable PTEs), forks the reader R, which reads every page; then W ends its mapping `e`; R's
 * smaps before and after. */
static void run(const char *kind, int slot, int fd, enum end e)
{
	int flags = fd < 0 ? MAP_SHARED | MAP_ANONYMOUS : MAP_SHARED;
	char *p = map_at(SLOT(slot), N * PG, PROT_READ | PROT_WRITE, flags, fd);
	printf("13 %s, writer ends with %s\n", kind, how[e]);
	pid_t writer = fork();
	if (!writer) {
		long r = touch(p, N, PG, 0), w = touch(p, N, PG, 1);
		printf("  writer read 64: faults=%ld, then write 64: faults=%ld\n", r, w);
		psmaps("writer", p);
		sync_init();
		/* gone[1] is held by the writer alone: EOF on gone[0] means the writer has exited,
		 * and exit tears down the address space (exit_mm) before it closes files */
		int gone[2];
		if (pipe(gone))
			exit(1);
		pid_t reader = fork();
		if (!reader) {
			close(gone[1]);
			warm();
			touch(p, N, PG, 0);
			psmaps("reader after its read", p);
			tell_parent();
			if (e == EXIT) {
				char c;
				while (read(gone[0], &c, 1) > 0)
					;
			} else {
				wait_parent();
			}
			psmaps("reader after the writer's end", p);
			_exit(0);
		}
		close(gone[0]);
		wait_child();
		switch (e) {
		case MUNMAP: munmap(p, N * PG); break;
		case DONTNEED: madvise(p, N * PG, MADV_DONTNEED); break;
		case HALF: madvise(p, N / 2 * PG, MADV_DONTNEED); break;
		case EXIT: _exit(0);
		}
		tell_child();
		reap(reader, "reader");
		_exit(0);
	}
	reap(writer, "writer");
	/* an exited writer's reader is reparented: wait until it has printed and gone */
	while (wait(NULL) > 0 || errno == EINTR)
		;
	munmap(p, N * PG);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	atexit(cleanup);
	prctl(PR_SET_CHILD_SUBREAPER, 1); /* orphaned readers become ours to wait for */
	puts("== Q13 shmem (MAP_SHARED|MAP_ANONYMOUS), 64 pages ==");
	run("shmem", 130, -1, MUNMAP);
	run("shmem", 131, -1, DONTNEED);
	run("shmem", 132, -1, HALF);
	run("shmem", 133, -1, EXIT);
	puts("== Q13 tmpfs file (/dev/shm), MAP_SHARED, 64 pages ==");
	int fd = tmpfile_fd();
	run("tmpfs", 134, fd, MUNMAP);
	close(fd);
	fd = tmpfile_fd();
	run("tmpfs", 135, fd, EXIT);
	close(fd);

	puts("== Q13b the reader maps the pages only after the writer's munmap ==");
	char *p = map_at(SLOT(136), N * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1);
	pid_t pid;
	sync_init();
	if (!(pid = fork())) {
		warm();
		wait_parent();
		touch(p, N, PG, 0);
		psmaps("13b reader after the writer's munmap, then its read", p);
		_exit(0);
	}
	touch(p, N, PG, 0);
	touch(p, N, PG, 1);
	munmap(p, N * PG);
	tell_child();
	reap(pid, "reader");

	puts("== Q13c shared HugeTLB (2 MiB, pool 2): smaps after the writer's munmap ==");
	write_long(NRHP2M, 2);
	char *h = map_at(SLOT(137), 2 * MB2, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1);
	if (!(pid = fork())) {
		touch(h, 2, MB2, 0);
		touch(h, 2, MB2, 1);
		sync_init();
		pid_t reader = fork();
		if (!reader) {
			warm();
			touch(h, 2, MB2, 0);
			psmaps("13c reader after its read", h);
			tell_parent();
			wait_parent();
			psmaps("13c reader after the writer's munmap", h);
			_exit(0);
		}
		wait_child();
		munmap(h, 2 * MB2);
		tell_child();
		reap(reader, "reader");
		_exit(0);
	}
	reap(pid, "writer");
	return 0;
}
