import SomsimModel
import Testing

/// A MallocHost that keeps what the kernel would: the break, the mappings, and per 4 KiB page
/// whether it was written (a private page) or only read (the zero page). It records an issue
/// when the allocator touches memory outside the heap and its mappings.
struct RecordingMallocHost: MallocHost {
    enum PageState: Equatable { case written, zero }
    static let page: UInt64 = 4096

    let heapStart: UInt64
    var brk: UInt64
    /// sbrk fails when the break would come within a page of this address (a mapping above the heap).
    var brkCeiling: UInt64 = .max
    var pages: [UInt64: PageState] = [:]
    /// Mappings by address: their lengths.
    var mappings: [UInt64: UInt64] = [:]
    var nextMapping: UInt64 = 0x7f00_0000_0000
    var accesses: [(address: UInt64, length: UInt64, write: Bool)] = []
    var recordAccesses = false
    var sbrkCalls: [Int64] = []
    /// mmap and mremap fail (MAP_FAILED) when set.
    var failMmap = false
    var failMremap = false
    /// What the oracle's -w measures of one call (`beginCall` starts it): pages write-protected
    /// before it (present pages of the heap and the mapped chunks), the pages it wrote, its faults
    /// (a first touch of a page, a write to a zero page, a first write to a protected page).
    var protected: Set<UInt64> = []
    var written: Set<UInt64> = []
    var faults = 0

    init(heapStart: UInt64 = 0x5555_5555_6000) {
        self.heapStart = heapStart
        self.brk = heapStart
    }

    mutating func sbrk(_ increment: Int64) -> UInt64? {
        sbrkCalls.append(increment)
        if increment == 0 { return brk }
        let old = brk
        let new = UInt64(bitPattern: Int64(bitPattern: old) &+ increment)
        if new < heapStart { return nil }
        if increment > 0 && new + Self.page > brkCeiling { return nil }
        if increment < 0 {
            // brk unmaps the whole pages above the new break.
            var page = (new + Self.page - 1) / Self.page
            let end = (old + Self.page - 1) / Self.page
            while page < end {
                pages[page] = nil
                protected.remove(page)
                page += 1
            }
        }
        brk = new
        return old
    }

    mutating func mmap(length: UInt64) -> UInt64? {
        if failMmap { return nil }
        let address = nextMapping
        nextMapping += length + 16 * Self.page
        mappings[address] = length
        return address
    }

    mutating func munmap(address: UInt64, length: UInt64) {
        #expect(mappings[address] == length, "munmap of \(address) \(length) is not a mapping")
        mappings[address] = nil
        clear(address, length)
    }

    mutating func mremap(address: UInt64, oldLength: UInt64, newLength: UInt64) -> UInt64? {
        #expect(mappings[address] == oldLength, "mremap of \(address) \(oldLength) is not a mapping")
        if failMremap { return nil }
        let target = nextMapping
        nextMapping += newLength + 16 * Self.page
        var moved: [UInt64: PageState] = [:]
        for i in 0..<(min(oldLength, newLength) / Self.page) {
            if let state = pages[address / Self.page + i] { moved[target / Self.page + i] = state }
        }
        clear(address, oldLength)
        pages.merge(moved) { $1 }
        mappings[address] = nil
        mappings[target] = newLength
        return target
    }

    mutating func access(address: UInt64, length: UInt64, write: Bool) {
        if recordAccesses { accesses.append((address, length, write)) }
        guard length > 0 else { return }
        let inHeap = address >= heapStart && address + length <= brk
        let inMapping = mappings.contains { address >= $0.key && address + length <= $0.key + $0.value }
        #expect(inHeap || inMapping, "access \(write ? "write" : "read") of \(length) bytes at \(String(address, radix: 16)) outside the heap and the mappings")
        var page = address / Self.page
        let end = (address + length - 1) / Self.page
        while page <= end {
            if write {
                // A fault: a page first touched, a zero page (COW), or a protected page's first write.
                let wasProtected = protected.remove(page) != nil
                if pages[page] != .written || wasProtected { faults += 1 }
                written.insert(page)
                pages[page] = .written
            } else if pages[page] == nil {
                faults += 1
                pages[page] = .zero
            }
            page += 1
        }
    }

    /// Starts one call as the oracle's -w does: the present pages in `ranges` (the heap and the
    /// live mapped chunks) are write-protected; nothing is written and no fault taken yet.
    mutating func beginCall(protecting ranges: [Range<UInt64>]) {
        protected = []
        for range in ranges where !range.isEmpty {
            for page in (range.lowerBound / Self.page)..<((range.upperBound + Self.page - 1) / Self.page) where pages[page] != nil {
                protected.insert(page)
            }
        }
        written = []
        faults = 0
    }

    private mutating func clear(_ address: UInt64, _ length: UInt64) {
        for i in 0..<(length / Self.page) {
            pages[address / Self.page + i] = nil
            protected.remove(address / Self.page + i)
        }
    }

    /// The oracle's run-length code of pages [first, first + count): W written, Z zero page, U none.
    func runLengths(firstPage: UInt64, count: UInt64) -> String {
        var text = ""
        var run: Character = " "
        var runLength: UInt64 = 0
        for page in firstPage..<(firstPage + count) {
            let state: Character
            switch pages[page] {
            case .written: state = "W"
            case .zero: state = "Z"
            case nil: state = "U"
            }
            if state != run && runLength > 0 {
                text += "\(run)\(runLength)"
                runLength = 0
            }
            run = state
            runLength += 1
        }
        if runLength > 0 { text += "\(run)\(runLength)" }
        return text
    }

    /// The heap's pages, from its first page to the break, as the oracle prints them.
    var heapRunLengths: String {
        let first = heapStart / Self.page
        return runLengths(firstPage: first, count: (brk + Self.page - 1) / Self.page - first)
    }
}

/// One script operation, as the oracle reads it.
enum MallocScriptOp: CustomStringConvertible {
    case malloc(Int, UInt64)
    case calloc(Int, UInt64)
    case realloc(Int, UInt64)
    case free(Int)
    case mallopt(GlibcMalloc.MalloptParameter, Int32)
    /// A PROT_NONE page at heap start + offset: the break cannot grow to within a page of it.
    case blockBreak(UInt64)

    var description: String {
        switch self {
        case let .malloc(id, size): "m \(id) \(size)"
        case let .calloc(id, size): "c \(id) \(size)"
        case let .realloc(id, size): "r \(id) \(size)"
        case let .free(id): "f \(id)"
        case let .mallopt(parameter, value): "o \(parameter.rawValue) \(value)"
        case let .blockBreak(offset): "b \(offset)"
        }
    }
}

/// Runs a script through GlibcMalloc and prints what the oracle prints for each operation.
struct MallocScriptRunner {
    /// The live mapped chunks by ID, ascending: their mapping's start and length.
    func liveChunks() -> [(id: Int, block: UInt64, length: UInt64)] {
        pointers.keys.sorted().compactMap { id in
            guard let pointer = pointers[id], allocator.isMmapped(pointer) == true,
                let chunk = allocator.mmappedChunks.first(where: { $0.address == pointer - 16 })
            else { return nil }
            return (id, chunk.address, chunk.length)
        }
    }

    var allocator: GlibcMalloc
    var host: RecordingMallocHost
    var pointers: [Int: UInt64] = [:]
    /// Whether lines carry the oracle's -w fields (`flt=` and `wr=`).
    var withWrites = false

    init(heapStart: UInt64 = 0x5555_5555_6000, settings: GlibcMalloc.Settings = .init()) {
        allocator = GlibcMalloc(settings: settings)
        host = RecordingMallocHost(heapStart: heapStart)
    }

    /// Performs `op` and returns the oracle's line for it (without the leading index).
    mutating func run(_ op: MallocScriptOp) -> String {
        var result: UInt64?
        var shown = ""
        var target: Int?
        var oldChunk: (address: UInt64, length: UInt64)?
        if withWrites {
            if case let .realloc(id, _) = op, let old = liveChunks().first(where: { $0.id == id }) {
                oldChunk = (old.block, old.length)
            }
            // The oracle leaves a mapped chunk that realloc gets unprotected (mremap moves it).
            host.beginCall(
                protecting: [host.heapStart..<host.brk]
                    + liveChunks().filter { $0.block != oldChunk?.address }.map { $0.block..<($0.block + $0.length) })
        }
        switch op {
        case let .malloc(id, size):
            result = allocator.malloc(size, host: &host)
            pointers[id] = result
            target = id
        case let .calloc(id, size):
            result = allocator.calloc(size, host: &host)
            pointers[id] = result
            target = id
        case let .realloc(id, size):
            result = allocator.realloc(pointers[id], size, host: &host)
            if result != nil || size == 0 { pointers[id] = result }
            target = id
        case let .free(id):
            allocator.free(pointers[id], host: &host)
            pointers[id] = nil
            shown = "-"
        case let .mallopt(parameter, value):
            shown = "=\(allocator.mallopt(parameter, value, host: &host))"
        case let .blockBreak(offset):
            let fits = host.heapStart + offset >= host.brk
            if fits { host.brkCeiling = min(host.brkCeiling, host.heapStart + offset) }
            shown = fits ? "=1" : "=0"
        }
        if shown.isEmpty {
            if let result {
                let size = allocator.chunkSize(result) ?? 0
                if allocator.isMmapped(result) == false && (result < host.heapStart || result >= host.brk) {
                    shown = "x/\(String(size, radix: 16))"
                } else if allocator.isMmapped(result) == true {
                    let block = result - 16
                    let length = allocator.mmappedChunks.first { $0.address == block }?.length ?? 0
                    let pages = host.runLengths(firstPage: block / RecordingMallocHost.page, count: length / RecordingMallocHost.page)
                    shown = "mmap/\(String(size, radix: 16))/\(pages)"
                } else {
                    shown = "h+\(String(result - host.heapStart, radix: 16))/\(String(size, radix: 16))"
                }
            } else {
                shown = "null"
            }
        }
        let stats = allocator.statistics
        var writes = ""
        if withWrites {
            writes = " flt=\(host.faults) wr"
            var listed: [String] = []
            func runs(_ prefix: String, _ first: UInt64, _ count: UInt64) {
                var start: UInt64?
                for i in 0...count {
                    let isWritten = i < count && host.written.contains(first + i) && host.pages[first + i] == .written
                    if isWritten && start == nil { start = i }
                    if !isWritten, let s = start {
                        listed.append(s == i - 1 ? "\(prefix)\(s)" : "\(prefix)\(s)-\(i - 1)")
                        start = nil
                    }
                }
            }
            let firstPage = host.heapStart / RecordingMallocHost.page
            runs("h", firstPage, (host.brk + RecordingMallocHost.page - 1) / RecordingMallocHost.page - firstPage)
            for chunk in liveChunks() {
                if chunk.id == target, oldChunk != nil {
                    listed.append("\(chunk.id):*")
                } else {
                    runs("\(chunk.id):", chunk.block / RecordingMallocHost.page, chunk.length / RecordingMallocHost.page)
                }
            }
            writes += listed.isEmpty ? "=-" : "=" + listed.joined(separator: ",")
            let chunks = liveChunks().map {
                "\($0.id):" + host.runLengths(firstPage: $0.block / RecordingMallocHost.page, count: $0.length / RecordingMallocHost.page)
            }
            writes += " maps=" + (chunks.isEmpty ? "-" : chunks.joined(separator: ","))
        }
        return "ret=\(shown) brk=\(String(host.brk - host.heapStart, radix: 16)) heap=\(host.heapRunLengths)" + writes
            + " arena=\(String(stats.arena, radix: 16)) free=\(String(stats.freeBytes, radix: 16))"
            + " top=\(String(stats.topBytes, radix: 16)) hblkhd=\(String(stats.mmappedBytes, radix: 16))"
    }
}
