/* The TenThousandWorkers workload on the real kernel, natively: a master maps and writes a heap,
 * then forks N workers that each write P random pages of it and stay alive, then measures every
 * process as the workload's `measure` does (its memory counters: /proc/PID/smaps_rollup, the
 * kernel's sums of Rss, Pss and the private and shared pages). Prints how long it took until
 * every worker had written its pages and was alive, how long the measure took (and the Pss it
 * summed, so that the reads are not idle), and how long the teardown took.
 *
 * Usage: forks [WORKERS=10000] [HEAP_MIB=150] [PAGES=64]
 * Changes nothing on the machine but its own processes: every worker dies with the master
 * (PR_SET_PDEATHSIG) and is killed and reaped before it exits. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The Pss of process `pid` in kB, from /proc/PID/smaps_rollup; -1 where it cannot be read. */
static long long pss_kib(pid_t pid)
{
    char path[64], text[4096];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fd, text + used, sizeof text - 1 - used);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        used += (size_t)n;
        if (used == sizeof text - 1) break;
    }
    close(fd);
    text[used] = 0;
    const char *line = strstr(text, "\nPss:");
    return line ? atoll(line + 5) : -1;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long workers = argc > 1 ? atol(argv[1]) : 10000;
    long heap_mib = argc > 2 ? atol(argv[2]) : 150;
    long pages = argc > 3 ? atol(argv[3]) : 64;
    size_t heap_bytes = (size_t)heap_mib << 20, page = 4096, heap_pages = heap_bytes / page;
    if (workers < 1 || heap_mib < 1 || pages < 1 || (size_t)pages > heap_pages) {
        fprintf(stderr, "usage: forks [WORKERS>0] [HEAP_MIB>0] [PAGES<=heap pages]\n");
        return 64;
    }
    pid_t *pids = calloc((size_t)workers, sizeof *pids);
    int ready[2];
    if (!pids || pipe(ready) != 0) { perror("forks: setup"); return 71; }
    char *heap = mmap(NULL, heap_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (heap == MAP_FAILED) { perror("forks: mmap"); return 71; }
    for (size_t i = 0; i < heap_pages; i++) heap[i * page] = 1;

    double start = now();
    long forked = 0;
    int failed = 0;
    for (; forked < workers; forked++) {
        pid_t pid = fork();
        if (pid < 0) { perror("forks: fork"); failed = 1; break; }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() == 1) _exit(0);
            /* P distinct pages by a seeded permutation walk (which pages does not change the cost) */
            uint64_t x = (uint64_t)forked * 2654435761u + 1;
            for (long k = 0; k < pages; k++) {
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                heap[((x >> 17) % heap_pages) * page] = 2;
            }
            char c = 1;
            if (write(ready[1], &c, 1) != 1) _exit(1);
            for (;;) pause();
        }
        pids[forked] = pid;
    }
    long alive = 0;
    char buffer[4096];
    while (alive < forked) {
        ssize_t n = read(ready[0], buffer, sizeof buffer < (size_t)(forked - alive) ? sizeof buffer : (size_t)(forked - alive));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { perror("forks: read"); failed = 1; break; }
        alive += n;
    }
    double all_alive = now();
    /* The measure: every process's counters, the master's and each worker's. */
    long long pss = pss_kib(getpid());
    for (long i = 0; i < forked && pss >= 0; i++) {
        long long worker = pss_kib(pids[i]);
        pss = worker < 0 ? -1 : pss + worker;
    }
    if (pss < 0) { perror("forks: smaps_rollup"); failed = 1; }
    double measured = now();
    for (long i = 0; i < forked; i++) kill(pids[i], SIGKILL);
    for (long i = 0; i < forked; i++) waitpid(pids[i], NULL, 0);
    double reaped = now();
    printf("workers %ld heap_mib %ld pages %ld alive_seconds %.3f measure_seconds %.3f pss_kib %lld teardown_seconds %.3f\n",
           alive, heap_mib, pages, all_alive - start, measured - all_alive, pss, reaped - measured);
    return failed ? 70 : 0;
}
