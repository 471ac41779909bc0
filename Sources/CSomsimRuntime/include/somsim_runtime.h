// What the engine asks of C that Swift does not offer: glibc malloc's settings for a somsim
// process (HeapTuning.swift), a prefetch hint (GroupPrefix in Accounting.swift) and a binary
// search that compiles to conditional moves (ExtentMap.swift: `lastIndexPicking`).
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

// The largest k in base..<base+n with a[k * stride] <= key, `a` ascending at that stride (1 for
// an array of keys, 2 for pairs whose first word is the key); a[base * stride] <= key must hold
// and n >= 1. Each step halves the candidates, the next base picked by a conditional move:
// `__builtin_unpredictable` keeps LLVM's x86 cmov-conversion from turning the pick back into a
// branch, which it does to the same loop written in Swift (a branch that mispredicts about every
// other step on a fleet's copy-on-write lookups). Inline, so that Swift's optimizer puts the loop
// in place, `stride` folded.
static inline long somsim_last_index_not_above(const unsigned long long *a, long stride, long base,
                                               long n, unsigned long long key) {
    while (n > 1) {
        long half = n >> 1;
        base = __builtin_unpredictable(a[(base + half) * stride] <= key) ? base + half : base;
        n -= half;
    }
    return base;
}

#endif
