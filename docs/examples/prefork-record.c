// A prefork tree for `somsim record` (docs/record.md; Tests/SomsimProbeTests/RecordTests.swift
// builds and records it). The parent maps an anonymous region and writes 6 MiB of it, a shared
// anonymous region it writes half of, and a THP region (MADV_HUGEPAGE) it writes two huge pages
// of; then it forks three children. Each child copies its own part of the anonymous region,
// writes its own part of the shared one, reads a page of it (fault-around maps 16), copies one
// page of a THP and allocates 300 KiB of its own (a mapping of its own, from malloc). The parent
// writes 512 KiB of its own after the forks. With 2 MiB HugeTLB pages in the pool it also writes
// a private HugeTLB region of two huge pages before fork, and the second child copies one. Once
// every child is ready (a pipe, no sleeps) it prints "PARENT CHILD CHILD CHILD ANON SHARED THP
// HUGE" (addresses in hex; HUGE 0 without a pool) and waits for its standard input to close;
// the children exit at the same end of file.
//
//   cc -O1 -o prefork docs/examples/prefork-record.c
//   sleep 600 | ./prefork &
//   sudo somsim record PARENT --tree -o prefork.somw
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#define MB (1024UL * 1024)
int main(void) {
    char *anon = mmap(NULL, 8 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *shared = mmap(NULL, 4 * MB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    char *raw = mmap(NULL, 10 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (anon == MAP_FAILED || shared == MAP_FAILED || raw == MAP_FAILED) return 1;
    // Two 2 MiB HugeTLB pages, if the pool has them (echo 4 > /proc/sys/vm/nr_hugepages).
    char *huge = mmap(NULL, 4 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
    if (huge == MAP_FAILED) huge = NULL;
    if (huge) memset(huge, 4, 4 * MB);
    char *thp = (char *)(((unsigned long)raw + 2 * MB - 1) & ~(2 * MB - 1));
    madvise(thp, 8 * MB, MADV_HUGEPAGE);
    memset(anon, 1, 6 * MB);
    memset(shared, 2, 2 * MB);
    memset(thp, 3, 4 * MB);
    int ready[2];
    if (pipe(ready)) return 1;
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        if (kids[i] < 0) return 1;
        if (kids[i] == 0) {
            close(ready[0]);
            memset(anon + i * MB, 10 + i, MB / 2 + i * 4096);
            memset(shared + 2 * MB + i * 512 * 1024, 20 + i, 256 * 1024);
            volatile char c = shared[i * 4096 * 40]; (void)c;
            thp[i * 4096 * 7] = 30;
            if (huge && i == 1) huge[2 * MB] = 40;  // copies a huge page
            char *own = malloc(300 * 1024); memset(own, 5, 300 * 1024);
            if (write(ready[1], "r", 1) != 1) _exit(1);
            char b; while (read(0, &b, 1) > 0) {}
            _exit(0);
        }
    }
    close(ready[1]);
    memset(anon + 7 * MB, 7, 512 * 1024);
    char b;
    for (int i = 0; i < 3; i++) if (read(ready[0], &b, 1) != 1) return 1;
    printf("%d %d %d %d %lx %lx %lx %lx\n", getpid(), kids[0], kids[1], kids[2], (unsigned long)anon, (unsigned long)shared, (unsigned long)thp,
           (unsigned long)huge);
    fflush(stdout);
    while (read(0, &b, 1) > 0) {}
    return 0;
}
