// glibc malloc's settings for a somsim process (see HeapTuning.swift in SomsimModel): mallopt and
// its M_* constants come from <malloc.h>, which Swift's Glibc module does not export.
#include "somsim_runtime.h"

#include <stdlib.h>  // defines __GLIBC__ where the C library is glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int somsim_heap_keep_freed(int mmap_threshold, int trim_threshold, int top_pad) {
#if defined(__GLIBC__)
    return (mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1)
        + (mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1)
        + (mallopt(M_TOP_PAD, top_pad) == 1);
#else
    (void)mmap_threshold; (void)trim_threshold; (void)top_pad;
    return 0;
#endif
}
