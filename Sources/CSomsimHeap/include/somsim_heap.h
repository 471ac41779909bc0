// The allocator settings of a somsim process (see HeapTuning.swift in SomsimModel).
#ifndef SOMSIM_HEAP_H
#define SOMSIM_HEAP_H

// Sets glibc malloc's M_MMAP_THRESHOLD, M_TRIM_THRESHOLD and M_TOP_PAD (bytes; the thresholds
// as glibc clamps them). Returns how many of the three settings malloc accepted: 3 where malloc
// is glibc's, 0 where there is no mallopt.
int somsim_heap_keep_freed(int mmap_threshold, int trim_threshold, int top_pad);

#endif
