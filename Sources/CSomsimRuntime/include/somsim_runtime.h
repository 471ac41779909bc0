// What the engine asks of C that Swift does not offer: glibc malloc's settings for a somsim
// process (HeapTuning.swift) and a prefetch hint (GroupPrefix in Accounting.swift).
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

#endif
