// How the process's allocator treats memory the simulator frees. Results never depend on it;
// only the time does.

import CSomsimRuntime

public enum HeapTuning {
    /// Tells glibc's malloc to keep the memory the simulator frees, for its next allocations,
    /// instead of handing it back to the kernel; called once, at the start of `somsim` and of the
    /// benchmark programs. Returns how many of its three settings malloc took (3 with glibc, 0
    /// where malloc is not glibc's and nothing changes).
    ///
    /// Performance: a statement over a fragmented mapping builds new extent arrays while the old
    /// ones still exist, then frees the old ones. With glibc's defaults, a freed array of more
    /// than 128 KiB (the threshold rises as such arrays are freed, up to 32 MiB) is unmapped and
    /// the heap's free top above 128 KiB is trimmed, so the next array faults its pages in again:
    /// in `RandomTouchesFragmented`, half of the samples of the timed statements were the
    /// kernel's page faults (`clear_page`, `brk`, `mprotect`, `munmap`). Kept instead, a sweep's
    /// next point (one process runs every point) and a statement after the first reuse pages
    /// already faulted in. Peak memory stays what the simulator held at once. An array of more
    /// than 32 MiB (the most glibc lets `M_MMAP_THRESHOLD` be) is still mapped on its own.
    ///
    /// - `M_MMAP_THRESHOLD` 32 MiB: arrays up to that size come from the heap, where freed memory
    ///   is reused, not from `mmap` (setting it also ends glibc's sliding threshold).
    /// - `M_TRIM_THRESHOLD` 2 GiB (an `int`'s most): the free top of the heap, and of a thread's
    ///   arena, is not given back (a thread's arena then need not grow again by `mprotect`).
    /// - `M_TOP_PAD` 64 MiB: the main heap grows in steps of 64 MiB, not 128 KiB, so that growing
    ///   it is a few `brk` calls, not thousands.
    @discardableResult
    public static func keepFreedMemory() -> Int {
        Int(somsim_heap_keep_freed(32 << 20, Int32.max, 64 << 20))
    }
}
