// The boundary between glibc's allocator (GlibcMalloc.swift) and the kernel model: what the
// allocator asks of the kernel (brk, mmap, munmap, mremap) and every load and store it makes to
// memory, in the order glibc makes them. Follows glibc 2.36 malloc/malloc.c (MORECORE = sbrk,
// MMAP = __mmap with MAP_PRIVATE|MAP_ANONYMOUS, mremap_chunk, munmap_chunk).

/// The process an allocator runs in, as the allocator sees it.
///
/// The simulator implements it on one process of its model (the heap is an anonymous mapping
/// grown by brk; the accesses are touches that fault, copy on write or raise a signal); tests
/// implement it with a plain recorder.
public protocol MallocHost {
    /// `sbrk(increment)`: the break before the call on success, nil when the kernel refuses
    /// (the break did not move). `sbrk(0)` returns the current break.
    mutating func sbrk(_ increment: Int64) -> UInt64?
    /// `mmap(NULL, length, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)`: the address
    /// the kernel chose, nil on MAP_FAILED. `length` is a multiple of the page size.
    mutating func mmap(length: UInt64) -> UInt64?
    /// `munmap(address, length)` of a chunk the allocator mapped.
    mutating func munmap(address: UInt64, length: UInt64)
    /// `mremap(address, oldLength, newLength, MREMAP_MAYMOVE)`: the new address, nil on failure.
    mutating func mremap(address: UInt64, oldLength: UInt64, newLength: UInt64) -> UInt64?
    /// A load (`write == false`) or store (`write == true`) of `length` bytes at `address`:
    /// chunk headers and footers, free-list links, the tcache, calloc's clearing, realloc's copy.
    mutating func access(address: UInt64, length: UInt64, write: Bool)
}
