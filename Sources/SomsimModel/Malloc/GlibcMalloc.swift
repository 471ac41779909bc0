// An exact model of glibc 2.36's ptmalloc2 (malloc/malloc.c, release/2.36/master) as Debian 12
// builds it for x86-64, for a single-threaded process: the main arena only. Each Swift function
// ports one glibc function (named in its comment); the free lists live in Swift structures, the
// bytes of chunk memory do not, but every load and store glibc makes to chunk memory is emitted
// through `MallocHost.access` in glibc's order.
//
// Not modelled: memalign/posix_memalign/valloc/pvalloc, malloc_trim, malloc_stats/mallinfo's
// printing, threads and non-main arenas (arena_get, heaps, heap_trim), memory tagging, the
// hugetlb/THP tunables (glibc.malloc.hugetlb; madvise_thp is then a no-op), M_PERTURB, the
// environment tunables, and the integrity checks' aborts (their loads are emitted; a corrupted
// heap cannot arise from the model's callers).

/// glibc 2.36's malloc, calloc, realloc and free for one single-threaded process (main arena,
/// x86-64: SIZE_SZ 8, MALLOC_ALIGNMENT 16, MINSIZE 32, 64 tcache bins of 7, fastbins up to 128).
///
/// A value type: copying it copies the allocator's whole state (e.g. at fork). Each call costs
/// the number of list nodes glibc itself visits (dictionary look-ups), never the chunk's bytes:
/// a memset or memcpy is one `access`.
public struct GlibcMalloc: Sendable, Equatable {
    /// The mallopt knobs the model takes at start (`nil`: glibc's default). Setting one disables the
    /// dynamic mmap threshold, as mallopt does (`do_set_*` set `mp_.no_dyn_threshold`).
    public struct Settings: Sendable, Equatable {
        /// M_MMAP_THRESHOLD (default 128 KiB, dynamic up to 32 MiB).
        public var mmapThreshold: UInt64?
        /// M_TRIM_THRESHOLD (default 128 KiB, then twice the dynamic mmap threshold).
        public var trimThreshold: UInt64?
        /// M_TOP_PAD (default 128 KiB, DEFAULT_TOP_PAD of sysdeps/generic/malloc-machine.h).
        public var topPad: UInt64?
        /// M_MMAP_MAX (default 65536; 0 or less: never mmap a chunk).
        public var mmapMax: Int?

        public init(mmapThreshold: UInt64? = nil, trimThreshold: UInt64? = nil, topPad: UInt64? = nil, mmapMax: Int? = nil) {
            self.mmapThreshold = mmapThreshold
            self.trimThreshold = trimThreshold
            self.topPad = topPad
            self.mmapMax = mmapMax
        }

        /// Why mallopt would not take these values, or nil when it takes them all.
        ///
        /// mallopt's value is a C `int`, so a value must fit in one. glibc 2.36's `do_set_*`
        /// functions accept every int (the former `value <= HEAP_MAX_SIZE / 2` check on
        /// M_MMAP_THRESHOLD is gone from 2.36's do_set_mmap_threshold: mallopt returns 1).
        public static func validate(_ settings: Settings) -> String? {
            let limit = UInt64(Int32.max)
            if let value = settings.mmapThreshold, value > limit {
                return "mmap threshold \(value) does not fit mallopt's int (at most \(limit))"
            }
            if let value = settings.trimThreshold, value > limit {
                return "trim threshold \(value) does not fit mallopt's int (at most \(limit))"
            }
            if let value = settings.topPad, value > limit {
                return "top pad \(value) does not fit mallopt's int (at most \(limit))"
            }
            if let value = settings.mmapMax, value > Int(Int32.max) || value < Int(Int32.min) {
                return "mmap max \(value) does not fit mallopt's int"
            }
            return nil
        }
    }

    /// The mallopt parameters the model follows (malloc.h: M_MXFAST 1, M_TRIM_THRESHOLD -1,
    /// M_TOP_PAD -2, M_MMAP_THRESHOLD -3, M_MMAP_MAX -4).
    public enum MalloptParameter: Int32, Sendable, Equatable {
        case maxFast = 1
        case trimThreshold = -1
        case topPad = -2
        case mmapThreshold = -3
        case mmapMax = -4
    }

    /// mallinfo2's arena-wide numbers (int_mallinfo over the main arena, plus mp_).
    public struct Statistics: Sendable, Equatable {
        /// `arena`: bytes obtained by brk (av->system_mem).
        public var arena: UInt64
        /// `ordblks`: free chunks in the unsorted, small and large bins plus the top chunk.
        public var ordinaryFreeChunks: UInt64
        /// `smblks`: chunks in fastbins.
        public var fastbinChunks: UInt64
        /// `hblks`: mmapped chunks.
        public var mmappedChunks: UInt64
        /// `hblkhd`: bytes in mmapped chunks.
        public var mmappedBytes: UInt64
        /// `fsmblks`: bytes in fastbins.
        public var fastbinBytes: UInt64
        /// `uordblks`: bytes in use (arena - fordblks; tcache'd chunks count as in use).
        public var inUseBytes: UInt64
        /// `fordblks`: free bytes (bins, fastbins and top).
        public var freeBytes: UInt64
        /// `keepcost`: the top chunk's size.
        public var topBytes: UInt64
        /// Chunks in the tcache (counted in use by mallinfo2).
        public var tcacheChunks: UInt64
        /// Chunks in the unsorted bin.
        public var unsortedChunks: UInt64
        /// Chunks in small bins.
        public var smallBinChunks: UInt64
        /// Chunks in large bins.
        public var largeBinChunks: UInt64
    }

    // MARK: Constants (x86-64)

    static let sizeSz: UInt64 = 8
    static let chunkHdrSz: UInt64 = 16
    static let mallocAlignMask: UInt64 = 15
    static let minSize: UInt64 = 32
    static let pageSize: UInt64 = 4096
    static let prevInuse: UInt64 = 1
    static let isMmappedBit: UInt64 = 2
    static let sizeBits: UInt64 = 7
    static let nBins = 128
    static let nFastbins = 10
    static let minLargeSize: UInt64 = 1024  // (NSMALLBINS - SMALLBIN_CORRECTION) * SMALLBIN_WIDTH; the correction is 0 (16 > CHUNK_HDR_SZ 16 is false)
    static let tcacheMaxBins: UInt64 = 64
    static let tcacheFillCount = 7
    static let tcacheStructSize: UInt64 = 640  // uint16_t counts[64] + tcache_entry *entries[64]
    static let fastbinConsolidationThreshold: UInt64 = 65536
    static let mmapAsMorecoreSize: UInt64 = 1024 * 1024
    static let defaultMmapThresholdMax: UInt64 = 4 * 1024 * 1024 * 8
    static let unsortedBin: UInt64 = 1
    /// initial_top (av): the unsorted bin's header, of size 0 until the first sysmalloc.
    static let initialTop: UInt64 = 1

    // MARK: State: mp_

    var topPad: UInt64 = 131_072
    var nMmapsMax: Int32 = 65536
    var mmapThreshold: UInt64 = 128 * 1024
    var trimThreshold: UInt64 = 128 * 1024
    var noDynThreshold = false
    var nMmaps: Int32 = 0
    var mmappedMem: UInt64 = 0
    var sbrkBase: UInt64 = 0

    // MARK: State: main_arena

    var maxFast: UInt64 = 128
    var fastbins: [[UInt64]] = Array(repeating: [], count: 10)  // chunk addresses, head last
    var haveFastchunks = false
    var top: UInt64 = GlibcMalloc.initialTop
    var lastRemainder: UInt64 = 0
    var binmap: [UInt32] = [0, 0, 0, 0]
    var systemMem: UInt64 = 0
    var maxSystemMem: UInt64 = 0
    var contiguous = true

    // MARK: State: chunk memory (header words and list links, keyed by chunk address; bins are
    // the addresses 1..127, which hold fd/bk only)

    var sizeWord: [UInt64: UInt64] = [:]
    var prevSizeWord: [UInt64: UInt64] = [:]
    var fdLink: [UInt64: UInt64] = [:]
    var bkLink: [UInt64: UInt64] = [:]
    var fdNextsize: [UInt64: UInt64] = [:]
    var bkNextsize: [UInt64: UInt64] = [:]

    // MARK: State: tcache, the break, what the caller holds

    /// The tcache_perthread_struct's address (the user pointer of its chunk), nil before tcache_init.
    var tcache: UInt64?
    var tcacheEntries: [[UInt64]] = Array(repeating: [], count: 64)  // user pointers, head last
    var curbrk: UInt64?
    /// Mapped chunks: the chunk's address to its mapping's length.
    var mmapped: [UInt64: UInt64] = [:]
    /// User pointers handed out and not yet freed.
    var live: Set<UInt64> = []

    public init(settings: Settings = Settings()) {
        // ptmalloc_init -> malloc_init_state (main_arena)
        for i in 1..<UInt64(Self.nBins) {
            fdLink[i] = i
            bkLink[i] = i
        }
        // mallopt's do_set_* for each knob given (each sets no_dyn_threshold).
        if let value = settings.mmapThreshold { mmapThreshold = value; noDynThreshold = true }
        if let value = settings.trimThreshold { trimThreshold = value; noDynThreshold = true }
        if let value = settings.topPad { topPad = value; noDynThreshold = true }
        if let value = settings.mmapMax { nMmapsMax = Int32(truncatingIfNeeded: value); noDynThreshold = true }
    }

    // MARK: Read-only state

    /// Where the heap begins (mp_.sbrk_base): the break glibc's first successful sbrk returned, or
    /// the fallback mapping's address when that first sbrk failed; nil before.
    public var heapStart: UInt64? { sbrkBase == 0 ? nil : sbrkBase }
    /// The break as glibc last learned it from sbrk (__curbrk), nil before the first sbrk.
    public var currentBreak: UInt64? { curbrk }
    /// The top chunk's address and size, nil before the first sysmalloc.
    public var topChunk: (address: UInt64, size: UInt64)? {
        top == Self.initialTop ? nil : (top, (sizeWord[top] ?? 0) & ~Self.sizeBits)
    }
    /// The mapped chunks: mapping address and length, by address.
    public var mmappedChunks: [(address: UInt64, length: UInt64)] {
        mmapped.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
    /// mp_.mmap_threshold (it rises when a larger mapped chunk is freed, unless set by mallopt).
    public var currentMmapThreshold: UInt64 { mmapThreshold }
    /// mp_.trim_threshold.
    public var currentTrimThreshold: UInt64 { trimThreshold }
    /// Whether sbrk's memory is still one contiguous heap (false after MORECORE failed and
    /// sysmalloc fell back to mmap).
    public var isContiguous: Bool { contiguous }

    /// int_mallinfo over the main arena. Walks the bins: O(free chunks), for reports only.
    public var statistics: Statistics {
        var fastChunks: UInt64 = 0, fastBytes: UInt64 = 0
        for bin in fastbins {
            for p in bin {
                fastChunks += 1
                fastBytes += (sizeWord[p] ?? 0) & ~Self.sizeBits
            }
        }
        let topSize = top == Self.initialTop ? 0 : (sizeWord[top] ?? 0) & ~Self.sizeBits
        var avail = topSize
        var ordinary: UInt64 = 1
        var unsorted: UInt64 = 0, small: UInt64 = 0, large: UInt64 = 0
        for i in 1..<UInt64(Self.nBins) {
            var p = bkLink[i] ?? i
            while p != i {
                ordinary += 1
                avail += (sizeWord[p] ?? 0) & ~Self.sizeBits
                if i == Self.unsortedBin { unsorted += 1 } else if i < 64 { small += 1 } else { large += 1 }
                p = bkLink[p] ?? i
            }
        }
        let free = avail + fastBytes
        return Statistics(
            arena: systemMem, ordinaryFreeChunks: top == Self.initialTop ? 0 : ordinary,
            fastbinChunks: fastChunks, mmappedChunks: UInt64(max(nMmaps, 0)), mmappedBytes: mmappedMem,
            fastbinBytes: fastBytes, inUseBytes: systemMem &- free, freeBytes: free, topBytes: topSize,
            tcacheChunks: UInt64(tcacheEntries.reduce(0) { $0 + $1.count }),
            unsortedChunks: unsorted, smallBinChunks: small, largeBinChunks: large)
    }

    /// malloc_usable_size (musable): nil if `pointer` is not a live allocation.
    public func usableSize(_ pointer: UInt64) -> UInt64? {
        guard live.contains(pointer) else { return nil }
        let p = pointer - Self.chunkHdrSz
        let size = sizeWord[p] ?? 0
        if size & Self.isMmappedBit != 0 { return (size & ~Self.sizeBits) - Self.chunkHdrSz }
        return (size & ~Self.sizeBits) - Self.sizeSz
    }

    /// Whether a live allocation is a mapped chunk; nil if `pointer` is not live.
    public func isMmapped(_ pointer: UInt64) -> Bool? {
        guard live.contains(pointer) else { return nil }
        return (sizeWord[pointer - Self.chunkHdrSz] ?? 0) & Self.isMmappedBit != 0
    }

    /// The chunk size glibc keeps in a live allocation's header (flags masked), nil if not live.
    public func chunkSize(_ pointer: UInt64) -> UInt64? {
        guard live.contains(pointer) else { return nil }
        return (sizeWord[pointer - Self.chunkHdrSz] ?? 0) & ~Self.sizeBits
    }

    // MARK: Public entry points

    /// __libc_malloc.
    public mutating func malloc<H: MallocHost>(_ bytes: UInt64, host: inout H) -> UInt64? {
        let result = libcMalloc(bytes, &host)
        if let result { live.insert(result) }
        return result
    }

    /// __libc_calloc (n = 1, elem_size = bytes).
    public mutating func calloc<H: MallocHost>(_ bytes: UInt64, host: inout H) -> UInt64? {
        let result = libcCalloc(bytes, &host)
        if let result { live.insert(result) }
        return result
    }

    /// __libc_realloc. realloc(p, 0) frees p and returns nil (REALLOC_ZERO_BYTES_FREES).
    /// A pointer that is not live (glibc would abort: "realloc(): invalid pointer") returns nil
    /// and changes nothing; callers check `usableSize` first to report it.
    public mutating func realloc<H: MallocHost>(_ pointer: UInt64?, _ bytes: UInt64, host: inout H) -> UInt64? {
        if let pointer, !live.contains(pointer) { return nil }
        let result = libcRealloc(pointer, bytes, &host)
        if let pointer, result != nil || bytes == 0 { live.remove(pointer) }
        if let result { live.insert(result) }
        return result
    }

    /// __libc_free. A pointer that is not live (a double or invalid free: glibc aborts) changes
    /// nothing; callers check `usableSize` first to report it.
    public mutating func free<H: MallocHost>(_ pointer: UInt64?, host: inout H) {
        guard let pointer, live.remove(pointer) != nil else { return }
        libcFree(pointer, &host)
    }

    /// __libc_mallopt: consolidates the fastbins, then sets the parameter. Returns mallopt's
    /// result (1 on success, 0 when refused: M_MXFAST above 160).
    @discardableResult
    public mutating func mallopt<H: MallocHost>(_ parameter: MalloptParameter, _ value: Int32, host: inout H) -> Int32 {
        mallocConsolidate(&host)
        let asSize = UInt64(bitPattern: Int64(value))
        switch parameter {
        case .maxFast:  // do_set_mxfast
            if asSize > 80 * Self.sizeSz / 4 { return 0 }
            maxFast = asSize == 0 ? 16 : (asSize + Self.sizeSz) & ~Self.mallocAlignMask
        case .trimThreshold: trimThreshold = asSize; noDynThreshold = true
        case .topPad: topPad = asSize; noDynThreshold = true
        case .mmapThreshold: mmapThreshold = asSize; noDynThreshold = true
        case .mmapMax: nMmapsMax = value; noDynThreshold = true
        }
        return 1
    }
}

// MARK: - Sizes and bins (macros of malloc.c)

extension GlibcMalloc {
    /// checked_request2size: 0 when the request exceeds PTRDIFF_MAX.
    static func checkedRequest2size(_ req: UInt64) -> UInt64 {
        if req > UInt64(Int64.max) { return 0 }
        if req + sizeSz + mallocAlignMask < minSize { return minSize }
        return (req + sizeSz + mallocAlignMask) & ~mallocAlignMask
    }

    /// csize2tidx.
    static func csize2tidx(_ x: UInt64) -> UInt64 { (x &- minSize &+ 15) / 16 }
    /// fastbin_index.
    static func fastbinIndex(_ sz: UInt64) -> Int { Int(truncatingIfNeeded: (UInt32(truncatingIfNeeded: sz) >> 4)) - 2 }
    /// in_smallbin_range.
    static func inSmallbinRange(_ sz: UInt64) -> Bool { sz < minLargeSize }
    /// smallbin_index.
    static func smallbinIndex(_ sz: UInt64) -> UInt64 { UInt64(UInt32(truncatingIfNeeded: sz) >> 4) }
    /// largebin_index_64.
    static func largebinIndex(_ sz: UInt64) -> UInt64 {
        if sz >> 6 <= 48 { return 48 + (sz >> 6) }
        if sz >> 9 <= 20 { return 91 + (sz >> 9) }
        if sz >> 12 <= 10 { return 110 + (sz >> 12) }
        if sz >> 15 <= 4 { return 119 + (sz >> 15) }
        if sz >> 18 <= 2 { return 124 + (sz >> 18) }
        return 126
    }

    static func isBin(_ x: UInt64) -> Bool { x < UInt64(nBins) }
    static func alignUp(_ x: UInt64, _ a: UInt64) -> UInt64 { (x &+ a &- 1) & ~(a - 1) }

    /// mark_bin.
    mutating func markBin(_ i: UInt64) { binmap[Int(i >> 5)] |= UInt32(1) << UInt32(i & 31) }
}

// MARK: - Chunk memory: every load and store of a header word or link goes through these

extension GlibcMalloc {
    static func load<H: MallocHost>(_ h: inout H, _ address: UInt64, _ length: UInt64 = 8) {
        h.access(address: address, length: length, write: false)
    }
    static func store<H: MallocHost>(_ h: inout H, _ address: UInt64, _ length: UInt64 = 8) {
        h.access(address: address, length: length, write: true)
    }

    /// chunksize_nomask (p): the size word with its flag bits.
    func sizeNomask<H: MallocHost>(_ p: UInt64, _ h: inout H) -> UInt64 {
        if p == Self.initialTop { return 0 }
        Self.load(&h, p + 8)
        return sizeWord[p] ?? 0
    }
    /// chunksize (p).
    func chunksize<H: MallocHost>(_ p: UInt64, _ h: inout H) -> UInt64 { sizeNomask(p, &h) & ~Self.sizeBits }
    /// prev_size (p).
    func prevSize<H: MallocHost>(_ p: UInt64, _ h: inout H) -> UInt64 {
        Self.load(&h, p)
        return prevSizeWord[p] ?? 0
    }
    /// set_head (p, s).
    mutating func setHead<H: MallocHost>(_ p: UInt64, _ s: UInt64, _ h: inout H) {
        Self.store(&h, p + 8)
        sizeWord[p] = s
    }
    /// set_head_size (p, s): keeps the flag bits (a load and a store).
    mutating func setHeadSize<H: MallocHost>(_ p: UInt64, _ s: UInt64, _ h: inout H) {
        let old = sizeNomask(p, &h)
        Self.store(&h, p + 8)
        sizeWord[p] = (old & Self.sizeBits) | s
    }
    /// set_prev_size (p, s).
    mutating func setPrevSize<H: MallocHost>(_ p: UInt64, _ s: UInt64, _ h: inout H) {
        Self.store(&h, p)
        prevSizeWord[p] = s
    }
    /// set_foot (p, s).
    mutating func setFoot<H: MallocHost>(_ p: UInt64, _ s: UInt64, _ h: inout H) { setPrevSize(p + s, s, &h) }
    /// inuse_bit_at_offset (p, s).
    func inuseBitAtOffset<H: MallocHost>(_ p: UInt64, _ s: UInt64, _ h: inout H) -> Bool {
        sizeNomask(p + s, &h) & Self.prevInuse != 0
    }
    /// set_inuse_bit_at_offset (p, s).
    mutating func setInuseBitAtOffset<H: MallocHost>(_ p: UInt64, _ s: UInt64, _ h: inout H) {
        let old = sizeNomask(p + s, &h)
        Self.store(&h, p + s + 8)
        sizeWord[p + s] = old | Self.prevInuse
    }
    /// clear_inuse_bit_at_offset (p, s).
    mutating func clearInuseBitAtOffset<H: MallocHost>(_ p: UInt64, _ s: UInt64, _ h: inout H) {
        let old = sizeNomask(p + s, &h)
        Self.store(&h, p + s + 8)
        sizeWord[p + s] = old & ~Self.prevInuse
    }

    /// p->fd (a bin's fd lives in the arena: no access).
    func fd<H: MallocHost>(_ p: UInt64, _ h: inout H) -> UInt64 {
        if !Self.isBin(p) { Self.load(&h, p + 16) }
        return fdLink[p] ?? 0
    }
    /// p->bk.
    func bk<H: MallocHost>(_ p: UInt64, _ h: inout H) -> UInt64 {
        if !Self.isBin(p) { Self.load(&h, p + 24) }
        return bkLink[p] ?? 0
    }
    /// p->fd_nextsize (0 = NULL).
    func fdNext<H: MallocHost>(_ p: UInt64, _ h: inout H) -> UInt64 {
        Self.load(&h, p + 32)
        return fdNextsize[p] ?? 0
    }
    /// p->bk_nextsize.
    func bkNext<H: MallocHost>(_ p: UInt64, _ h: inout H) -> UInt64 {
        Self.load(&h, p + 40)
        return bkNextsize[p] ?? 0
    }
    mutating func setFd<H: MallocHost>(_ p: UInt64, _ v: UInt64, _ h: inout H) {
        if !Self.isBin(p) { Self.store(&h, p + 16) }
        fdLink[p] = v
    }
    mutating func setBk<H: MallocHost>(_ p: UInt64, _ v: UInt64, _ h: inout H) {
        if !Self.isBin(p) { Self.store(&h, p + 24) }
        bkLink[p] = v
    }
    mutating func setFdNext<H: MallocHost>(_ p: UInt64, _ v: UInt64, _ h: inout H) {
        Self.store(&h, p + 32)
        if v == 0 { fdNextsize[p] = nil } else { fdNextsize[p] = v }
    }
    mutating func setBkNext<H: MallocHost>(_ p: UInt64, _ v: UInt64, _ h: inout H) {
        Self.store(&h, p + 40)
        if v == 0 { bkNextsize[p] = nil } else { bkNextsize[p] = v }
    }

    /// Drops the model's copy of words glibc will not read again (a header absorbed by a merge):
    /// bookkeeping only, no access.
    mutating func forgetChunk(_ p: UInt64) {
        sizeWord[p] = nil
        prevSizeWord[p] = nil
        fdLink[p] = nil
        bkLink[p] = nil
        fdNextsize[p] = nil
        bkNextsize[p] = nil
    }
    /// Drops the links of a chunk handed to the caller (their bytes are now user data).
    mutating func forgetLinks(_ p: UInt64) {
        fdLink[p] = nil
        bkLink[p] = nil
        fdNextsize[p] = nil
        bkNextsize[p] = nil
    }

    /// MORECORE (__glibc_morecore -> __sbrk): nil on failure.
    mutating func morecore<H: MallocHost>(_ increment: Int64, _ h: inout H) -> UInt64? {
        guard let old = h.sbrk(increment) else { return nil }
        curbrk = UInt64(bitPattern: Int64(bitPattern: old) &+ increment)
        return old
    }
}
