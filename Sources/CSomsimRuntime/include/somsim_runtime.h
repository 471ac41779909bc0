// What the engine asks of C that Swift does not offer: glibc malloc's settings for a somsim
// process (HeapTuning.swift), a prefetch hint (GroupPrefix in Accounting.swift), a binary
// search that compiles to conditional moves (ExtentMap.swift: `lastIndexPicking`) and the
// acquire and release word accesses by which two threads hand samples over (SamplePrefetch.swift).
#ifndef SOMSIM_RUNTIME_H
#define SOMSIM_RUNTIME_H

// Sets glibc malloc's M_MMAP_THRESHOLD, M_TRIM_THRESHOLD and M_TOP_PAD (bytes; the thresholds
// as glibc clamps them). Returns how many of the three settings malloc accepted: 3 where malloc
// is glibc's, 0 where there is no mallopt.
int somsim_heap_keep_freed(int mmap_threshold, int trim_threshold, int top_pad);

// Asks the core to start loading the cache line at `address` for a read (a hint: no fault, no
// effect on any value). Inline, so that Swift's optimizer puts the one instruction in place.
static inline void somsim_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

// The largest k in base..<base+n with a[k] <= key, `a` ascending; a[base] <= key must hold and
// n >= 1. Each step halves the candidates, the next base picked by a conditional move:
// `__builtin_unpredictable` keeps LLVM's x86 cmov-conversion from turning the pick back into a
// branch, which it does to the same loop written in Swift (a branch that random keys, a fleet's
// copy-on-write pages, mispredict about half the time). Inline, so that Swift's optimizer puts
// the loop in place.
static inline long somsim_last_index_not_above(const unsigned long long *a, long base, long n,
                                               unsigned long long key) {
    while (n > 1) {
        long half = n >> 1;
        base = __builtin_unpredictable(a[base + half] <= key) ? base + half : base;
        n -= half;
    }
    return base;
}

// A word read with acquire order: what the thread that stored it with release order wrote
// before that store is visible after this load.
static inline long somsim_load_acquire(const long *address) {
    return __atomic_load_n(address, __ATOMIC_ACQUIRE);
}

// A word written with release order (see `somsim_load_acquire`).
static inline void somsim_store_release(long *address, long value) {
    __atomic_store_n(address, value, __ATOMIC_RELEASE);
}

#endif
