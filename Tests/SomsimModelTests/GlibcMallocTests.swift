import SomsimModel
import Testing

/// glibc 2.36 malloc basics, computed by hand from malloc.c (x86-64: request2size(n) =
/// (n + 8 + 15) & ~15, at least 32; the tcache_perthread_struct is 640 bytes: a 0x290 chunk).
/// H is the heap's start (the initial break, page aligned).
@Suite struct GlibcMallocTests {
    static let h: UInt64 = 0x5555_5555_6000

    func fresh(_ settings: GlibcMalloc.Settings = .init()) -> (GlibcMalloc, RecordingMallocHost) {
        (GlibcMalloc(settings: settings), RecordingMallocHost(heapStart: Self.h))
    }

    @Test func firstMallocFollowsTheTcacheAndGrowsTheBreakBy0x21000() {
        var (m, host) = fresh()
        let p = m.malloc(24, host: &host)
        // tcache_init: _int_malloc(640) -> nb 0x290 -> sysmalloc: 0x290 + top_pad 0x20000 + MINSIZE
        // 0x20 = 0x202b0, page-rounded 0x21000. The tcache chunk is at H, malloc(24)'s (nb 0x20)
        // at H+0x290, its user pointer H+0x2a0.
        #expect(p == Self.h + 0x2a0)
        #expect(host.brk == Self.h + 0x21000)
        #expect(m.heapStart == Self.h)
        #expect(m.currentBreak == Self.h + 0x21000)
        #expect(host.sbrkCalls == [0x21000, 0])  // MORECORE(size), then MORECORE(0) for the end
        // Top: H+0x2b0, 0x21000 - 0x290 - 0x20 = 0x20d50 bytes.
        #expect(m.topChunk?.address == Self.h + 0x2b0)
        #expect(m.topChunk?.size == 0x20d50)
        #expect(m.usableSize(p!) == 24)  // 0x20 - SIZE_SZ
        // Only page 0 is touched: the tcache memset and the headers.
        #expect(host.heapRunLengths == "W1U32")
        let stats = m.statistics
        #expect(stats.arena == 0x21000)
        #expect(stats.freeBytes == 0x20d50)
        #expect(stats.inUseBytes == 0x2b0)
    }

    @Test func freeOrReallocOfAPointerThatIsNotLiveChangesNothing() {
        var (m, host) = fresh()
        let a = m.malloc(24, host: &host)!
        m.free(a, host: &host)
        let before = m
        m.free(a, host: &host)  // a double free: glibc aborts; the model ignores it
        #expect(m == before)
        #expect(m.realloc(a, 100, host: &host) == nil)
        #expect(m == before)
    }

    @Test func freedSmallChunkIsReusedFromTheTcache() {
        var (m, host) = fresh()
        let a = m.malloc(24, host: &host)!
        let b = m.malloc(24, host: &host)!
        #expect(b == a + 0x20)
        m.free(a, host: &host)
        #expect(m.statistics.tcacheChunks == 1)
        #expect(m.usableSize(a) == nil)
        // tcache_get: the same chunk comes back, before top is split again.
        #expect(m.malloc(20, host: &host) == a)
        #expect(m.statistics.tcacheChunks == 0)
    }

    @Test func theEighthFreedChunkGoesToAFastbin() {
        var (m, host) = fresh()
        let p = (0..<8).map { _ in m.malloc(40, host: &host)! }  // nb 0x30 each, from H+0x2a0 on
        #expect(p[7] == Self.h + 0x2a0 + 7 * 0x30)
        for q in p { m.free(q, host: &host) }
        // Seven fill tcache bin 1 (counts < 7), the eighth goes to fastbin 1 (0x30 <= 128).
        #expect(m.statistics.tcacheChunks == 7)
        #expect(m.statistics.fastbinChunks == 1)
        #expect(m.statistics.fastbinBytes == 0x30)
        // tcache is LIFO: p[6] first ... p[0]; then the fastbin's p[7].
        let again = (0..<8).map { _ in m.malloc(40, host: &host)! }
        #expect(again == [p[6], p[5], p[4], p[3], p[2], p[1], p[0], p[7]])
    }

    @Test func freeingTheChunkBelowTopMergesItIntoTop() {
        var (m, host) = fresh()
        let p = m.malloc(2000, host: &host)!  // nb 0x7e0 at H+0x290: too big for tcache (idx 124)
        #expect(p == Self.h + 0x2a0)
        #expect(m.topChunk?.size == 0x21000 - 0x290 - 0x7e0)
        m.free(p, host: &host)
        // next chunk is top: top = H+0x290, 0x21000 - 0x290 = 0x20d70.
        #expect(m.topChunk?.address == Self.h + 0x290)
        #expect(m.topChunk?.size == 0x20d70)
        #expect(m.malloc(2000, host: &host) == p)
    }

    @Test func freeingNeighboursCoalescesThemInTheUnsortedBin() {
        var (m, host) = fresh()
        let a = m.malloc(2000, host: &host)!  // 0x7e0 at H+0x290
        let b = m.malloc(2000, host: &host)!  // 0x7e0 at H+0xa70
        _ = m.malloc(24, host: &host)  // guard against top
        m.free(a, host: &host)
        m.free(b, host: &host)
        // b merges backward with a: one 0xfc0 chunk in the unsorted bin.
        let stats = m.statistics
        #expect(stats.unsortedChunks == 1)
        #expect(stats.freeBytes == 0xfc0 + m.topChunk!.size)
        // malloc(4000): nb 0xfb0; the unsorted chunk 0xfc0 is not an exact fit and goes to large
        // bin 98 (91 + 0xfc0 >> 9), the same bin as nb: found there, and its 0x10 remainder
        // (< MINSIZE) is not split off.
        let c = m.malloc(4000, host: &host)
        #expect(c == a)
        #expect(m.usableSize(c!) == 0xfc0 - 8)
    }

    @Test func freeingALargeTopTrimsTheHeapDownToTopPad() {
        var (m, host) = fresh()
        let p = m.malloc(100_000, host: &host)!  // nb 0x186b0 at H+0x290; top H+0x18940, 0x86c0
        let q = m.malloc(100_000, host: &host)!
        // Top too small: sysmalloc asks 0x186b0 + 0x20000 + 0x20 - 0x86c0 = 0x30210 -> 0x31000,
        // contiguous with the old top: break H+0x52000.
        #expect(p == Self.h + 0x2a0)
        #expect(q == Self.h + 0x18950)
        #expect(host.brk == Self.h + 0x52000)
        m.free(q, host: &host)
        // Top H+0x18940 of 0x396c0 >= trim threshold 0x20000: systrim(top_pad 0x20000) releases
        // ALIGN_DOWN(0x396c0 - 0x21 - 0x20000, 4096) = 0x19000: break H+0x39000, top 0x206c0.
        #expect(host.brk == Self.h + 0x39000)
        #expect(m.currentBreak == Self.h + 0x39000)
        #expect(m.topChunk?.size == 0x206c0)
        #expect(m.statistics.arena == 0x39000)
    }

    @Test func requestsFromTheMmapThresholdOnAreMappedAndTheThresholdRises() {
        var (m, host) = fresh()
        // The threshold applies in sysmalloc only, when top cannot serve the request: 131056 + 8
        // + 15 & ~15 = 0x20000 (the default threshold) still fits the first top (0x20d70 bytes).
        let small = m.malloc(131_056, host: &host)!
        #expect(m.isMmapped(small) == false)
        m.free(small, host: &host)
        // 200000: nb 0x30d50 > top and >= 0x20000: mapped, ALIGN_UP(0x30d50 + 8, 4096) = 0x31000.
        let p = m.malloc(200_000, host: &host)!
        #expect(m.isMmapped(p) == true)
        #expect(m.chunkSize(p) == 0x31000)
        #expect(m.usableSize(p) == 0x31000 - 16)
        #expect(m.mmappedChunks.count == 1)
        #expect(m.mmappedChunks.first?.length == 0x31000)
        // Only the header's page of the mapping is written.
        #expect(host.runLengths(firstPage: (p - 16) / 4096, count: 0x31) == "W1U48")
        m.free(p, host: &host)
        // 0x31000|IS_MMAPPED > 0x20000 and <= 32 MiB: threshold 0x31000, trim threshold 0x62000.
        #expect(m.currentMmapThreshold == 0x31000)
        #expect(m.currentTrimThreshold == 0x62000)
        #expect(host.mappings.isEmpty)
        // The same request now grows the heap: sysmalloc extends top (H+0x290) in place.
        let q = m.malloc(200_000, host: &host)!
        #expect(m.isMmapped(q) == false)
        #expect(q == Self.h + 0x2a0)
    }

    @Test func settingTheThresholdByMalloptStopsTheDynamicRise() {
        var (m, host) = fresh(GlibcMalloc.Settings(mmapThreshold: 64 * 1024))
        let p = m.malloc(140_000, host: &host)!  // nb 0x222f0 > top 0x20d70 and >= 0x10000: mapped
        #expect(m.isMmapped(p) == true)
        m.free(p, host: &host)
        #expect(m.currentMmapThreshold == 64 * 1024)
        #expect(GlibcMalloc.Settings.validate(GlibcMalloc.Settings(mmapThreshold: 64 * 1024 * 1024)) == nil)
        #expect(GlibcMalloc.Settings.validate(GlibcMalloc.Settings(mmapThreshold: 1 << 31)) != nil)
    }

    @Test func callocClearsOnlyTheOldTopOfAChunkCarvedFromTop() {
        var (m, host) = fresh()
        // calloc(120000): nb 0x1d4d0 from top (H+0x290, 0x20d70 bytes) without growing: the whole
        // chunk is cleared, memset of 0x1d4c8 bytes from H+0x2a0 to H+0x1d768: pages 0..0x1d.
        let a = m.calloc(120_000, host: &host)!
        #expect(a == Self.h + 0x2a0)
        #expect(host.heapRunLengths == "W30U3")
        // Second calloc(120000): top H+0x1d760 has 0x38a0 bytes; sysmalloc grows the heap by
        // 0x1d4d0 + 0x20000 + 0x20 - 0x38a0 = 0x39c50 -> 0x3a000 (break H+0x5b000). The chunk is
        // the old top, larger than oldtopsize = chunksize (old top) = 0x38a0, so only 0x38a0 - 8
        // bytes are cleared: H+0x1d770 to H+0x21008 (pages 0x1d..0x21). The new
        // top's header at H+0x3ac30 + 8 writes page 0x3a.
        let b = m.calloc(120_000, host: &host)!
        #expect(b == Self.h + 0x1d770)
        #expect(host.brk == Self.h + 0x5b000)
        #expect(host.heapRunLengths == "W34U24W1U32")
        // A mapped calloc is not cleared: only its header page is written.
        let c = m.calloc(200_000, host: &host)!
        #expect(m.isMmapped(c) == true)
        #expect(host.runLengths(firstPage: (c - 16) / 4096, count: 49) == "W1U48")
    }

    @Test func callocAfterATrimDoesNotClearTheRegrownPages() {
        // Debian's calloc keeps oldtopsize = chunksize (top) (MORECORE_CLEARS 2 in effect): pages
        // trimmed and grown again come zero from the kernel and are not cleared.
        var (m, host) = fresh(GlibcMalloc.Settings(mmapMax: 0))
        // malloc(778260): nb 0xbe020; after tcache_init's 0x21000, sysmalloc grows by
        // 0xbe020 + 0x20020 - 0x20d70 = 0xbd2d0 -> 0xbe000: break H+0xdf000.
        let p = m.malloc(778_260, host: &host)!
        #expect(host.brk == Self.h + 0xdf000)
        // realloc to 399863 (nb 0x61a00): the 0x5c620 remainder at H+0x61c90 merges into top
        // (0x7d370 bytes); systrim releases ALIGN_DOWN(0x7d370 - 0x21 - 0x20000) = 0x5d000.
        #expect(m.realloc(p, 399_863, host: &host) == p)
        #expect(host.brk == Self.h + 0x82000)
        #expect(m.topChunk?.size == 0x20370)
        // calloc(162163): nb 0x27980; sysmalloc grows by 0x27980 + 0x20020 - 0x20370 = 0x27630 ->
        // 0x28000 (break H+0xaa000). Cleared: 0x20370 - 8 bytes from H+0x61ca0 (pages 0x61..0x82);
        // pages 0x83..0x88 stay untouched; the new top's header writes page 0x89.
        let c = m.calloc(162_163, host: &host)!
        #expect(c == Self.h + 0x61ca0)
        #expect(host.brk == Self.h + 0xaa000)
        #expect(host.heapRunLengths == "W1U96W34U6W1U32")
    }

    @Test func reallocGrowsIntoTopInPlaceAndMovesWhenBlocked() {
        var (m, host) = fresh()
        let p = m.malloc(100, host: &host)!  // nb 0x70 at H+0x290
        // Next chunk is top: set_head_size to 0x1010 (request 4096), top moves up.
        #expect(m.realloc(p, 4096, host: &host) == p)
        #expect(m.chunkSize(p) == 0x1010)
        _ = m.malloc(24, host: &host)  // blocks further growth
        host.recordAccesses = true
        let q = m.realloc(p, 8192, host: &host)!
        // Allocate (nb 0x2010), copy memsize = 0x1010 - 8 bytes, free the old chunk.
        #expect(q != p)
        #expect(host.accesses.contains { $0.address == p && $0.length == 0x1008 && !$0.write })
        #expect(host.accesses.contains { $0.address == q && $0.length == 0x1008 && $0.write })
        #expect(m.usableSize(p) == nil)
        // realloc(q, 0) frees.
        #expect(m.realloc(q, 0, host: &host) == nil)
        #expect(m.usableSize(q) == nil)
    }

    @Test func reallocOfAMappedChunkUsesMremap() {
        var (m, host) = fresh()
        let p = m.malloc(200_000, host: &host)!  // nb 0x30d50: mapping ALIGN_UP(0x30d58) = 0x31000
        let q = m.realloc(p, 400_000, host: &host)!
        // mremap_chunk: ALIGN_UP(0x61a90 + 0 + 8, 4096) = 0x62000.
        #expect(m.isMmapped(q) == true)
        #expect(m.chunkSize(q) == 0x62000)
        #expect(host.mappings.values.sorted() == [0x62000])
        // Shrinking within the same number of pages keeps the chunk.
        #expect(m.realloc(q, 399_000, host: &host) == q)
    }

    @Test func reallocOfAMappedChunkCopiesWhenMremapFails() {
        var (m, host) = fresh()
        let p = m.malloc(200_000, host: &host)!  // mapping 0x31000, chunk 0x31000
        host.failMremap = true
        // Smaller: oldsize - SIZE_SZ = 0x30ff8 >= nb 0x186b0: the chunk stays as it is.
        #expect(m.realloc(p, 100_000, host: &host) == p)
        host.recordAccesses = true
        // Larger (nb 0x61a90): __libc_malloc (mapped: 0x62000), memcpy of 0x31000 - 16 bytes,
        // munmap_chunk of the old one.
        let q = m.realloc(p, 400_000, host: &host)!
        #expect(q != p)
        #expect(m.chunkSize(q) == 0x62000)
        #expect(host.accesses.contains { $0.address == p && $0.length == 0x31000 - 16 && !$0.write })
        #expect(host.accesses.contains { $0.address == q && $0.length == 0x31000 - 16 && $0.write })
        #expect(host.mappings.values.sorted() == [0x62000])
    }

    @Test func noMemoryAnywhereReturnsNull() {
        var (m, host) = fresh()
        _ = m.malloc(24, host: &host)
        host.brkCeiling = host.brk
        host.failMmap = true
        // Neither mmap (direct or fallback) nor sbrk gives memory: NULL, nothing changes.
        let before = m
        #expect(m.malloc(200_000, host: &host) == nil)
        #expect(m.malloc(140_000, host: &host) == nil)
        #expect(m.calloc(140_000, host: &host) == nil)
        #expect(m == before)
        // Requests beyond PTRDIFF_MAX fail before anything else.
        #expect(m.malloc(UInt64(Int64.max) + 1, host: &host) == nil)
        #expect(m.calloc(UInt64(Int64.max) + 1, host: &host) == nil)
    }

    @Test func brkFailureFallsBackToAMappedNonContiguousTop() {
        var (m, host) = fresh(GlibcMalloc.Settings(mmapMax: 0))  // no mapped chunks
        _ = m.malloc(24, host: &host)
        host.brkCeiling = host.brk + 0x1000  // a mapping right above the break
        // malloc(0x30000 - 24): nb 0x2fff0 > top 0x20d50; sbrk(0x2fff0 + 0x20000 + 0x20 - 0x20d50
        // -> 0x30000) fails: sysmalloc_mmap_fallback maps ALIGN_UP(0x30000 + 0x20d50, 1 MiB) =
        // 0x100000 (glibc passes MMAP_AS_MORECORE_SIZE as the alignment) and marks the arena
        // non-contiguous.
        let p = m.malloc(0x30000 - 24, host: &host)
        #expect(p != nil)
        #expect(m.isContiguous == false)
        #expect(host.mappings.values.sorted() == [0x100000])
        #expect(m.isMmapped(p!) == false)
        // The old top became two fenceposts and a free chunk of (0x20d50 - 0x20) & ~15 = 0x20d30.
        #expect(m.statistics.unsortedChunks == 1)
        // Top: 0x100000 - 0x2fff0 = 0xd0010. A request top cannot serve maps again, now without
        // the 1 MiB rounding (non-contiguous): malloc(0xe0000 - 8) has nb 0xe0000; 0xe0000 + 0x20000
        // + 0x20 -> 0x101000, of which top keeps 0x21000.
        #expect(m.topChunk?.size == 0xd0010)
        let q = m.malloc(0xe0000 - 8, host: &host)
        #expect(q != nil)
        #expect(host.mappings.values.sorted() == [0x100000, 0x101000])
        #expect(m.topChunk?.size == 0x21000)
    }
}
