/// The static checks over expanded statements, in execution order, before anything runs.
///
/// They follow names, not memory: which processes exist, which have exited, which mapping names each
/// process holds and how large each mapping is. What the kernel would refuse at run time (a HugeTLB
/// reservation the pool cannot meet, a touch past the end of a mapping, `wipeonfork` on a shared
/// mapping) is left to the run, which records an error event.
struct Checker {
    struct Mapping {
        var lengthBytes: UInt64
        var pageBytes: UInt64
        /// A SysV attachment (`shmat`): `shmdt` detaches it.
        var attachment = false
    }

    /// A live SysV segment (`shmget`, until `shmrm`).
    struct Segment {
        var createdLine: Int
        var lengthBytes: UInt64
        var pageBytes: UInt64
    }

    struct Process {
        var createdLine: Int
        var exitLine: Int?
        var mappings: [String: Mapping] = [:]
        /// File IDs the process holds a descriptor for (`mmap … file=ID` until `close ID`).
        var descriptors: Set<String> = []
        /// The allocator's objects the process holds, with their sizes in bytes (`malloc` until
        /// `free`; fork copies them).
        var objects: [String: UInt64] = [:]
    }

    let fileName: String
    /// The processes, in the order they were created; a process is never removed (after its
    /// exit, its name stays taken).
    private var processList: [Process] = []
    /// Each process's index in `processList`, by name.
    private var processIndex: [String: Int] = [:]
    /// Whether the lookups below may answer from the last name they found (false only in the
    /// differential tests, which hold the cached lookups to the plain ones).
    let caches: Bool
    /// The last process looked up by name (`find`). Performance: most statements of a long
    /// workload act on the process the one before acted on; comparing two small strings costs
    /// far less than hashing one (SipHash). Processes are never removed, so it cannot go stale.
    private var lastProcess: (name: String, index: Int)? = nil
    /// The last mapping looked up or created (process index, mapping name, the mapping).
    /// Performance: `mmap M`, `madvise M`, `touch M` in a row look M up once. Every change to a
    /// mapping table drops it (`forgetMapping`) or sets it to the new value.
    private var lastMapping: (process: Int, name: String, mapping: Mapping)? = nil
    private var machineLine: Int?
    private var firstProcessLine: Int?
    private var firstSysctlLine: Int?
    private var segments: [String: Segment] = [:]
    /// The line of each measure label so far: labels are unique in a workload (issue 13).
    private var measureLabels: [String: Int] = [:]
    /// Where a `measure end` was given: allowed as the last statement only (see `measureLabel`).
    private(set) var endMeasure: (line: Int, column: Int)? = nil

    init(fileName: String, caches: Bool = true) {
        self.fileName = fileName
        self.caches = caches
    }

    /// The index of process `p`, if it was ever created.
    private mutating func find(_ p: String) -> Int? {
        if caches, let last = lastProcess, last.name == p { return last.index }
        guard let index = processIndex[p] else { return nil }
        if caches { lastProcess = (p, index) }
        return index
    }

    private mutating func forgetMapping() { lastMapping = nil }

    /// The process that last created a mapping (`processList` index).
    private var lastCreator: Int? = nil

    /// The process that last created a mapping, and how many mappings it holds: sampled by the
    /// expander between passes of a repeat (`reserveMappings`).
    var growthMark: (process: Int, count: Int)? {
        guard caches, let p = lastCreator else { return nil }
        return (p, processList[p].mappings.count)
    }

    /// Room for `total` mappings in process `process`'s table, when that is many. Performance:
    /// the expander calls it when the first passes of a repeat each gave the same process the
    /// same number of new mappings, with what the remaining passes would bring it to (alloc-mix
    /// 64G: 205,813, in one process), so that the table is made once at its size instead of
    /// growing three times, each growth hashing every name again. Only room: the checks, and
    /// the workload, are the same.
    mutating func reserveMappings(process: Int, total: Int) {
        guard total >= 4096, processList[process].mappings.capacity < total else { return }
        processList[process].mappings.reserveCapacity(total)
    }

    private func error(_ line: Int, _ column: Int, _ message: String) -> WorkloadError {
        WorkloadError(fileName: fileName, location: SourceLocation(line: line, column: column), message: message)
    }

    /// Measure labels name the report's measures, which a notebook pivots on: a label may be
    /// given once, and `end` is the final measure's, which the run takes by itself.
    ///
    /// A `measure end` as the last statement is the final measure itself (version 1 files wrote
    /// it so; it measures the same state): it is accepted, and the parser leaves it out
    /// (`Expander.run`). Anywhere else it would give two measures labelled `end`.
    private mutating func measureLabel(_ label: String, line: Int, column: Int) throws(WorkloadError) {
        if label == "end" {
            endMeasure = (line, column)
            return
        }
        if let first = measureLabels[label] {
            let whereFirst = first == line ? "by an earlier pass of the repeat around it" : "first on line \(first)"
            throw error(
                line, column,
                "measure label \(label.quoted) is given a second time (\(whereFirst)); labels must be unique so that reports keep measures apart: choose another label, or put the repeat variable in it (measure step-{i})")
        }
        measureLabels[label] = line
    }

    /// Refuses a `measure end` that a later statement follows.
    private func endMeasureIsLast() throws(WorkloadError) {
        guard let end = endMeasure else { return }
        throw error(
            end.line, end.column,
            "measure label 'end' is the final measure's, which somsim takes by itself after the last statement; a 'measure end' may only be the last statement (where it is that measure): choose another label")
    }

    mutating func machine(line: Int, column: Int) throws(WorkloadError) {
        try endMeasureIsLast()
        if let machineLine {
            throw error(line, column, "machine is given a second time (first on line \(machineLine)); put all settings on one machine line")
        }
        if let firstProcessLine {
            throw error(line, column, "machine must come before any process statement (the first is on line \(firstProcessLine)); move it up, after the header")
        }
        if let firstSysctlLine {
            throw error(line, column, "machine must come before any sysctl statement (the first is on line \(firstSysctlLine)); move it up, after the header")
        }
        machineLine = line
    }

    /// Follows the statement's names (`Statement.names`); then the checks a statement has of its
    /// own (a touch's `random=` and `stride=`).
    mutating func check(_ s: Statement, line: Int, at a: Anchors) throws(WorkloadError) {
        try endMeasureIsLast()
        if firstProcessLine == nil, s.process != nil { firstProcessLine = line }
        if case .measure(let label) = s { try measureLabel(label, line: line, column: a.second) }
        switch s.names {
        case .none:
            return
        case .createsProcess(let p):
            try create(p, line: line, column: a.second)
        case .forks(let parent, let child):
            let from = try live(parent, line: line, column: a.first)
            let to = try create(child, line: line, column: a.second)
            processList[to].mappings = processList[from].mappings
            processList[to].descriptors = processList[from].descriptors
            processList[to].objects = processList[from].objects
        case .exits(let p):
            let i = try live(p, line: line, column: a.first)
            processList[i].exitLine = line
        case .createsMapping(let p, let m, let length, let page):
            let i = try live(p, line: line, column: a.first)
            let new = Mapping(lengthBytes: length, pageBytes: page)
            // Performance: a table of thousands of names grows fourfold, not twofold: each growth
            // hashes every name again (SipHash), as many names as were inserted at twofold.
            let count = processList[i].mappings.count
            if count >= 4096, count == processList[i].mappings.capacity {
                processList[i].mappings.reserveCapacity(4 * count)
            }
            // One hash of the name: the mapping goes in, and if one was there the workload is
            // refused (the checker's state after an error is never read).
            if processList[i].mappings.updateValue(new, forKey: m) != nil {
                throw error(line, a.second, "process \(p.quoted) already has a mapping named \(m.quoted); munmap it first or choose another name")
            }
            if caches { lastMapping = (i, m, new) }
            lastCreator = i
            if length == 0 {
                throw error(line, a.size, "mmap length must be larger than 0; give a multiple of the page size \(Sizes.format(page))")
            }
            if length % page != 0 {
                throw error(line, a.size, "mmap length \(Sizes.format(length)) is not a multiple of the page size \(Sizes.format(page)); round it to a multiple of \(Sizes.format(page))")
            }
            if let file = s.mmapFile { processList[i].descriptors.insert(file) }
        case .removesMapping(let p, let m):
            let (i, _) = try mapping(m, of: p, line: line, at: a)
            forgetMapping()
            processList[i].mappings[m] = nil
        case .usesMapping(let p, let m, let range):
            let (i, mapping) = try mapping(m, of: p, line: line, at: a)
            if case .mremap(_, _, let length, _) = s, length % mapping.pageBytes != 0 {
                let page = Sizes.format(mapping.pageBytes)
                throw error(line, a.length, "mremap size \(Sizes.format(length)) is not a multiple of the mapping's page size \(page); round it to a multiple of \(page)")
            }
            try checkRange(range, of: mapping, line: line, at: a)
            if case .touch(_, _, _, _, let pattern) = s {
                try checkPattern(pattern, range: range, of: mapping, line: line, at: a)
            }
            // mremap gives the mapping its new size (if the kernel refuses, the run says so).
            if case .mremap(_, _, let length, _) = s {
                forgetMapping()
                processList[i].mappings[m]?.lengthBytes = length
            }
        case .setsPool:
            if firstSysctlLine == nil { firstSysctlLine = line }
        case .createsSegment(let p, let key, let length, let page):
            _ = try live(p, line: line, column: a.first)
            if let existing = segments[key] {
                throw error(line, a.second, "segment key \(key.quoted) is already in use (shmget on line \(existing.createdLine)); remove it first with 'PROC shmrm \(UserText.clipped(key))' or choose another key")
            }
            if length == 0 {
                throw error(line, a.size, "segment size must be larger than 0; give a multiple of the page size \(Sizes.format(page))")
            }
            if length % page != 0 {
                throw error(line, a.size, "segment size \(Sizes.format(length)) is not a multiple of the page size \(Sizes.format(page)); round it to a multiple of \(Sizes.format(page))")
            }
            segments[key] = Segment(createdLine: line, lengthBytes: length, pageBytes: page)
        case .attachesSegment(let p, let key, let m):
            let i = try live(p, line: line, column: a.first)
            guard let segment = segments[key] else {
                throw error(line, a.key, "there is no segment with key \(key.quoted); create it first with 'PROC shmget \(UserText.clipped(key)) SIZE' (a removed segment cannot be attached again)")
            }
            if processList[i].mappings[m] != nil {
                throw error(line, a.second, "process \(p.quoted) already has a mapping named \(m.quoted); detach or munmap it first or choose another name")
            }
            forgetMapping()
            processList[i].mappings[m] = Mapping(lengthBytes: segment.lengthBytes, pageBytes: segment.pageBytes, attachment: true)
        case .detachesSegment(let p, let m):
            let (i, mapping) = try mapping(m, of: p, line: line, at: a)
            if !mapping.attachment {
                throw error(line, a.second, "mapping \(m.quoted) of process \(p.quoted) is not a SysV attachment (shmat); unmap it with munmap")
            }
            forgetMapping()
            processList[i].mappings[m] = nil
        case .removesSegment(let p, let key):
            _ = try live(p, line: line, column: a.first)
            if segments.removeValue(forKey: key) == nil {
                throw error(line, a.second, "there is no segment with key \(key.quoted) to remove; create it first with 'PROC shmget \(UserText.clipped(key)) SIZE'")
            }
        case .usesDescriptor(let p, let file, let closes):
            let i = try live(p, line: line, column: a.first)
            guard processList[i].descriptors.contains(file) else {
                throw error(
                    line, a.second,
                    "process \(p.quoted) holds no descriptor for file \(file.quoted); a process opens a file with '\(UserText.clipped(p)) mmap MAP SIZE file=\(UserText.clipped(file))' (or inherits its parent's at fork) and holds it until 'close'")
            }
            if closes { processList[i].descriptors.remove(file) }
        case .usesFileName(let p, _):
            _ = try live(p, line: line, column: a.first)
        case .createsObject(let p, let o, let bytes):
            let i = try live(p, line: line, column: a.first)
            if processList[i].objects[o] != nil {
                throw error(line, a.second, "process \(p.quoted) already has an object named \(o.quoted); free it first ('\(UserText.clipped(p)) free \(UserText.clipped(o))') or choose another name")
            }
            processList[i].objects[o] = bytes
        case .usesObject(let p, let o, let range, let newSize):
            let (i, bytes) = try object(o, of: p, line: line, at: a)
            if let range { try checkObjectRange(range, objectBytes: bytes, line: line, at: a) }
            if let newSize { processList[i].objects[o] = newSize }
        case .freesObject(let p, let o):
            let (i, _) = try object(o, of: p, line: line, at: a)
            processList[i].objects[o] = nil
        }
    }

    private mutating func object(_ o: String, of p: String, line: Int, at a: Anchors) throws(WorkloadError) -> (process: Int, bytes: UInt64) {
        let i = try live(p, line: line, column: a.first)
        guard let bytes = processList[i].objects[o] else {
            throw error(line, a.second, "process \(p.quoted) has no object named \(o.quoted); allocate it first with '\(UserText.clipped(p)) malloc \(UserText.clipped(o)) SIZE' (objects belong to one process; fork copies them to the child; free ends them)")
        }
        return (i, bytes)
    }

    /// A `write` or `read` range: within the object's bytes, as the last malloc, calloc or realloc
    /// sized it.
    private func checkObjectRange(_ r: ByteRange, objectBytes: UInt64, line: Int, at a: Anchors) throws(WorkloadError) {
        if r.offsetBytes > objectBytes {
            throw error(line, a.offset, "offset \(Sizes.format(r.offsetBytes)) is past the end of the object (\(Sizes.format(objectBytes))); give an offset below \(Sizes.format(objectBytes))")
        }
        if let length = r.lengthBytes, length > objectBytes - r.offsetBytes {
            throw error(line, a.length, "the range ends past the end of the object (\(Sizes.format(objectBytes))): offset \(Sizes.format(r.offsetBytes)) + length \(Sizes.format(length)); give a length of at most \(Sizes.format(objectBytes - r.offsetBytes))")
        }
    }

    /// A touch's pattern: `random=COUNT` and a stride above the page size name separate pages.
    private func checkPattern(_ pattern: TouchPattern, range: ByteRange, of mapping: Mapping, line: Int, at a: Anchors) throws(WorkloadError) {
        switch pattern {
        case .random(let count, _):
            try checkRandom(count: count, range: range, of: mapping, line: line, column: a.random)
        case .stride(let bytes) where bytes > mapping.pageBytes:
            try checkStride(bytes, range: range, of: mapping, line: line, column: a.stride)
        case .stride, .every:
            break
        }
    }

    /// Creates process `p` and returns its index.
    @discardableResult
    private mutating func create(_ p: String, line: Int, column: Int) throws(WorkloadError) -> Int {
        if let existing = find(p) {
            throw error(line, column, "process name \(p.quoted) is already taken (created on line \(processList[existing].createdLine)); process names are unique in a file, even after exit — choose another name")
        }
        processIndex[p] = processList.count
        processList.append(Process(createdLine: line))
        return processList.count - 1
    }

    /// Checks that `p` exists and has not exited, and returns its index. (Not the process: a copy
    /// of it would make the next in-place change to its mappings copy the whole table.)
    private mutating func live(_ p: String, line: Int, column: Int) throws(WorkloadError) -> Int {
        guard let i = find(p), processList[i].exitLine == nil else {
            throw notLive(p, line: line, column: column)
        }
        return i
    }

    /// The error for a process that does not exist or has exited.
    private func notLive(_ p: String, line: Int, column: Int) -> WorkloadError {
        if let i = processIndex[p], let exitLine = processList[i].exitLine {
            return error(line, column, "process \(p.quoted) is used after its exit on line \(exitLine); a process can do nothing after 'exit'")
        }
        return error(line, column, "process \(p.quoted) is used before it exists; create it first with 'spawn \(UserText.clipped(p))' or 'PARENT fork \(UserText.clipped(p))'")
    }

    /// The index of live process `p` and its mapping `m`.
    private mutating func mapping(_ m: String, of p: String, line: Int, at a: Anchors) throws(WorkloadError) -> (process: Int, mapping: Mapping) {
        let i = try live(p, line: line, column: a.first)
        if let last = lastMapping, last.process == i, last.name == m { return (i, last.mapping) }
        guard let mapping = processList[i].mappings[m] else {
            throw error(line, a.second, "process \(p.quoted) has no mapping named \(m.quoted); map it first with '\(UserText.clipped(p)) mmap \(UserText.clipped(m)) SIZE' (mappings belong to one process; fork copies them to the child)")
        }
        if caches { lastMapping = (i, m, mapping) }
        return (i, mapping)
    }

    private func checkRange(_ r: ByteRange, of m: Mapping, line: Int, at a: Anchors) throws(WorkloadError) {
        let page = m.pageBytes
        if r.offsetBytes % page != 0 {
            throw error(line, a.offset, "offset \(Sizes.format(r.offsetBytes)) is not a multiple of the mapping's page size \(Sizes.format(page)); round it to a multiple of \(Sizes.format(page))")
        }
        if let length = r.lengthBytes, length % page != 0 {
            throw error(line, a.length, "length \(Sizes.format(length)) is not a multiple of the mapping's page size \(Sizes.format(page)); round it to a multiple of \(Sizes.format(page))")
        }
    }

    /// The most separate pages one `random=` or `stride=` touch may name: the engine keeps a
    /// list of them, and each becomes an extent of its own. A whole range touched page by page
    /// is one extent, whatever its size.
    static let maxPagesPerTouch: UInt64 = 1 << 24

    /// The bytes of a touch's range: `length` when written, else from the offset to the end of
    /// the mapping; nil when the offset is past the end (the run's business: EFAULT).
    private func rangeBytes(_ r: ByteRange, of m: Mapping) -> UInt64? {
        if let length = r.lengthBytes { return length }
        return r.offsetBytes <= m.lengthBytes ? m.lengthBytes - r.offsetBytes : nil
    }

    /// COUNT against the pages of the range, and against `maxPagesPerTouch`.
    private func checkRandom(count: UInt64, range r: ByteRange, of m: Mapping, line: Int, column: Int) throws(WorkloadError) {
        if let bytes = rangeBytes(r, of: m), count > bytes / m.pageBytes {
            let pages = bytes / m.pageBytes
            throw error(line, column, "random=\(count) asks for more distinct pages than the range holds (\(pages)); use at most random=\(pages)")
        }
        if count > Self.maxPagesPerTouch {
            throw error(
                line, column,
                "random=\(count) names more than \(Self.maxPagesPerTouch) pages, the most one touch may (each random page is an extent of its own); split it into touches of smaller ranges, or touch the whole range")
        }
    }

    /// A stride above the page size touches one page per STRIDE bytes: at most `maxPagesPerTouch`.
    private func checkStride(_ stride: UInt64, range r: ByteRange, of m: Mapping, line: Int, column: Int) throws(WorkloadError) {
        guard let bytes = rangeBytes(r, of: m), bytes > 0 else { return }
        let pages = (bytes - 1) / stride + 1
        if pages > Self.maxPagesPerTouch {
            throw error(
                line, column,
                "stride=\(Sizes.format(stride)) over \(Sizes.format(bytes)) touches \(pages) separate pages, more than the \(Self.maxPagesPerTouch) one touch may (each is an extent of its own); use a larger stride or a smaller range")
        }
    }
}

extension Statement {
    /// The `file=ID` of an `mmap`. (Performance: `if case .mmap(_, _, _, let options) = s` copied
    /// the whole payload through the runtime's generic tuple copy, ~190 instructions an mmap.)
    fileprivate var mmapFile: String? {
        switch self {
        case .mmap(process: _, mapping: _, lengthBytes: _, options: let options): return options.file
        default: return nil
        }
    }
}
