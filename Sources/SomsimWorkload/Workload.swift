/// A parsed workload replay file (format version 1): the machine it asks for and its statements,
/// with every `repeat` block expanded.
///
/// See docs/workload-format.md for the format and ../shared/WORKLOAD-FORMAT.md for the contract.
public struct Workload: Equatable, Sendable {
    /// The file the workload came from, for messages (`<default>` for the embedded one).
    public var fileName: String
    /// The `machine` line's settings, defaults where the line is absent or silent.
    public var machine: MachineSpec
    /// The line of the `machine` statement, if the file has one.
    public var machineLine: Int?
    /// Statements in execution order, `repeat` blocks expanded, each with its source location.
    public var statements: [Located<Statement>]
    /// The `param` statements, in file order, with the values the workload was parsed with.
    public var params: [WorkloadParam] = []

    public init(fileName: String = "<memory>", machine: MachineSpec = MachineSpec(), machineLine: Int? = nil, statements: [Located<Statement>] = []) {
        self.fileName = fileName
        self.machine = machine
        self.machineLine = machineLine
        self.statements = statements
    }
}

/// A position in a workload file: 1-based line and column.
public struct SourceLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int = 1) {
        self.line = line
        self.column = column
    }
    public static func < (a: Self, b: Self) -> Bool { (a.line, a.column) < (b.line, b.column) }
    public var description: String { "\(line):\(column)" }
}

/// A value with the place in the source it came from.
public struct Located<Value: Equatable & Sendable>: Equatable, Sendable {
    public var value: Value
    public var location: SourceLocation
    public init(_ value: Value, at location: SourceLocation) {
        self.value = value
        self.location = location
    }
}

/// The settings of the `machine` statement. Defaults are the contract's.
public struct MachineSpec: Equatable, Sendable {
    /// Installed RAM in bytes (`ram=`), default 16 GiB, at most `maxRAMBytes`.
    public var ramBytes: UInt64 = 16 << 30
    /// The most RAM `ram=` takes: 4 PiB, the 52 bits of physical address x86-64 has
    /// (arch/x86/include/asm/sparsemem.h: MAX_PHYSMEM_BITS 52 with 5-level paging).
    public static let maxRAMBytes: UInt64 = 1 << 52
    /// HugeTLB pool of 2 MiB pages (`hugetlb-2m=`), default 0.
    public var hugetlb2MPages: UInt64 = 0
    /// HugeTLB pool of 1 GiB pages (`hugetlb-1g=`), default 0.
    public var hugetlb1GPages: UInt64 = 0
    /// Surplus 2 MiB pages the pool may add on demand (`hugetlb-2m-overcommit=`,
    /// `nr_overcommit_hugepages`), default 0.
    public var hugetlb2MOvercommit: UInt64 = 0
    /// Surplus 1 GiB pages (`hugetlb-1g-overcommit=`), default 0. Linux 6.18 refuses it (EINVAL):
    /// gigantic pages cannot be surplus pages; the model records that on the machine line.
    public var hugetlb1GOvercommit: UInt64 = 0
    /// HugeTLB vmemmap optimization (`hvo=on|off`), default off.
    public var hvo: Bool = false
    /// vmemmap pages HVO keeps per huge page (`hvo-kept=1|2`), default 1 (kernels 5.18+).
    public var hvoKeptPages: UInt64 = 1
    /// Transparent huge pages mode (`thp=`), default never.
    public var thp: THPMode = .never
    /// Page-table isolation (`pti=on|off`), default on. Setting it marks it given.
    public var pti: Bool {
        get { ptiSetting ?? true }
        set { ptiSetting = newValue }
    }
    /// Whether `pti` was given (by the `machine` line, or set): `somsim validate` uses the host's
    /// page-table isolation when it was not. Simulation does not look at it.
    public var ptiGiven: Bool { ptiSetting != nil }
    private var ptiSetting: Bool?
    /// Multi-size THP (`mthp=SIZE[,SIZE…]`): the folio sizes below 2 MiB that anonymous faults
    /// may allocate, ascending; each follows `thp` as `hugepages-SIZEkB/enabled = inherit` does.
    /// Default none.
    public var mthpSizes: [UInt64] = []
    /// Where the single-owner pool takes its memory (`som-source=`), default `hugetlb-1g`.
    public var somSource: SomSource = .hugetlb1G
    /// Size of the single-owner pool (`som-pool=SIZE|grow`); 0, the default (`grow`), lets the
    /// pool grow a chunk at a time as processes need units; SIZE fixes it to
    /// ⌈SIZE / som_chunk_bytes⌉ chunks, and a som mapping the pool cannot back gets ENOMEM.
    public var somPoolBytes: UInt64 = 0
    /// Virtualization for the TLB model (`virt=GxH`): guest and host page-table levels (4 or 5);
    /// nil, the default, is a machine without a hypervisor (native walks only).
    public var virt: VirtLevels? = nil
    /// The guest's page size for the TLB model (`guest-page=4K|2M|1G`); nil, the default, takes
    /// each process's own page-size mix from the workload.
    public var guestPage: SomPageSize? = nil
    /// The host page size that backs guest memory (`host-page=4K|2M|1G`), default 4K.
    public var hostPage: SomPageSize = .size4K
    /// The allocator that `malloc`, `calloc`, `realloc` and `free` run (`malloc=`), default
    /// glibc 2.36 (Debian 12's).
    public var malloc: MallocModel = .glibc236
    /// mallopt(3) settings, each nil for glibc's default: `mmap-threshold=` (M_MMAP_THRESHOLD),
    /// `trim-threshold=` (M_TRIM_THRESHOLD), `top-pad=` (M_TOP_PAD). Setting any of them turns
    /// glibc's dynamic mmap threshold off, as mallopt does.
    public var mallocMmapThreshold: UInt64? = nil
    public var mallocTrimThreshold: UInt64? = nil
    public var mallocTopPad: UInt64? = nil

    public init() {}
}

/// The allocator models somsim has (`machine malloc=`).
public enum MallocModel: String, Equatable, Sendable, CaseIterable {
    /// glibc 2.36's ptmalloc2, single-threaded (the main arena), as Debian 12 builds it for x86-64.
    case glibc236 = "glibc-2.36"
}

/// Where a single-owner (`/dev/som`-style) pool takes its memory from.
public enum SomSource: String, Equatable, Sendable, CaseIterable {
    /// HugeTLB 2 MiB pages with HVO.
    case hugetlb2M = "hugetlb-2m"
    /// HugeTLB 1 GiB pages with HVO.
    case hugetlb1G = "hugetlb-1g"
    /// Device-DAX memory.
    case devdax
    /// Memory that is not System RAM: no struct pages at all.
    case external
    /// HugeTLB 1 GiB pages without HVO: every pool page keeps its whole vmemmap (issue 11).
    case hugetlb
    /// HugeTLB 1 GiB pages with HVO: the same pool as `hugetlb-1g`, named as issue 11 names it.
    case hugetlbHVO = "hugetlb-hvo"
}

/// Guest and host page-table levels of a virtual machine (`virt=4x4|4x5|5x4|5x5`).
public struct VirtLevels: Equatable, Sendable {
    public var guest: UInt64
    public var host: UInt64
    public init(guest: UInt64, host: UInt64) {
        self.guest = guest
        self.host = host
    }
    /// `4x4`.
    public var token: String { "\(guest)x\(host)" }
}

/// The page size a `som` mapping is mapped with (`mmap … som page=4K|2M|1G`).
public enum SomPageSize: UInt64, Equatable, Sendable, CaseIterable {
    /// 4 KiB pages (PTE entries) carved out of the process's 2 MiB units.
    case size4K = 4096
    /// 2 MiB pages (one PMD entry per unit) where the mapping covers an aligned 2 MiB, else 4 KiB.
    case size2M = 2097152
    /// 1 GiB pages (one PUD entry per whole chunk); the mapping's length is a multiple of 1 GiB.
    case size1G = 1073741824

    /// `4K`, `2M` or `1G`.
    public var token: String {
        switch self {
        case .size4K: return "4K"
        case .size2M: return "2M"
        case .size1G: return "1G"
        }
    }
}

/// `/sys/kernel/mm/transparent_hugepage/enabled`.
public enum THPMode: String, Equatable, Sendable, CaseIterable {
    case never, madvise, always
}

/// One statement of a workload, after `repeat` expansion.
public enum Statement: Equatable, Sendable {
    /// `spawn PROC` — a new process with an empty address space.
    case spawn(process: String)
    /// `PROC fork CHILD` — CHILD is created by fork() from PROC.
    case fork(parent: String, child: String)
    /// `PROC exit` — PROC exits; its memory is unmapped.
    case exit(process: String)
    /// `PROC mmap MAP SIZE [OPTIONS]` — a new mapping.
    case mmap(process: String, mapping: String, lengthBytes: UInt64, options: MmapOptions)
    /// `PROC munmap MAP [offset=] [length=]` — munmap(2) of the whole mapping (`range` is
    /// `.whole`, which releases the name) or of a range of it (the name stays held).
    case munmap(process: String, mapping: String, range: ByteRange)
    /// `PROC madvise MAP ADVICE [offset=] [length=]`.
    case madvise(process: String, mapping: String, advice: Advice, range: ByteRange)
    /// `PROC touch MAP read|write [offset=] [length=] [stride=] [random=COUNT seed=N]`.
    case touch(process: String, mapping: String, access: Access, range: ByteRange, pattern: TouchPattern)
    /// `measure LABEL` — a measurement point.
    case measure(label: String)
    /// `PROC mprotect MAP read|write|none [offset=] [length=]`.
    case mprotect(process: String, mapping: String, protection: Protection, range: ByteRange)
    /// `PROC mlock MAP [offset=] [length=]`.
    case mlock(process: String, mapping: String, range: ByteRange)
    /// `PROC munlock MAP [offset=] [length=]`.
    case munlock(process: String, mapping: String, range: ByteRange)
    /// `sysctl hugetlb-2m=N` / `sysctl hugetlb-1g=N` — writes the pool's `nr_hugepages` mid-run.
    case sysctl(huge: HugePageSize, pages: UInt64)
    /// `PROC shmget KEY SIZE [huge=2M|1G]` — a new SysV shared memory segment named KEY.
    case shmget(process: String, key: String, lengthBytes: UInt64, huge: HugePageSize?)
    /// `PROC shmat KEY MAP` — attaches segment KEY as the shared mapping MAP.
    case shmat(process: String, key: String, mapping: String)
    /// `PROC shmdt MAP` — detaches the attachment MAP.
    case shmdt(process: String, mapping: String)
    /// `PROC shmrm KEY` — IPC_RMID: the segment is destroyed at its last detach.
    case shmrm(process: String, key: String)
    /// `PROC ftruncate ID SIZE` — ftruncate(2) of the process's descriptor for file ID.
    case ftruncate(process: String, file: String, sizeBytes: UInt64)
    /// `PROC fallocate ID offset=SIZE length=SIZE [punch]` — fallocate(2) of the process's
    /// descriptor for file ID: mode 0, or FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE with `punch`.
    case fallocate(process: String, file: String, offsetBytes: UInt64, lengthBytes: UInt64, punch: Bool)
    /// `PROC close ID` — close(2) of the process's descriptor for file ID.
    case close(process: String, file: String)
    /// `PROC unlink ID` — unlink(2) of the file named ID.
    case unlink(process: String, file: String)
    /// `PROC mremap MAP SIZE [maymove]` — mremap(2) of the whole mapping to SIZE bytes: shrink,
    /// grow in place, or with `maymove` move where it cannot grow in place.
    case mremap(process: String, mapping: String, lengthBytes: UInt64, mayMove: Bool)
    /// `PROC malloc OBJ SIZE` or `PROC calloc OBJ SIZE` — the allocator (`machine malloc=`) gives
    /// object OBJ SIZE bytes; calloc's are zeroed (calloc(1, SIZE)).
    case malloc(process: String, object: String, bytes: UInt64, zeroed: Bool)
    /// `PROC realloc OBJ SIZE` — realloc(3) of the object to SIZE bytes (it may move).
    case realloc(process: String, object: String, bytes: UInt64)
    /// `PROC free OBJ` — free(3) of the object; its name can be used again.
    case free(process: String, object: String)
    /// `PROC write OBJ [offset=SIZE] [length=SIZE]` and `PROC read OBJ …` — one byte in every
    /// page of the object's bytes in the range (the whole object by default).
    case objectAccess(process: String, object: String, access: Access, range: ByteRange)

    /// The process a statement acts on, if any.
    public var process: String? {
        switch self {
        case .spawn(let p), .exit(let p), .fork(let p, _), .mmap(let p, _, _, _), .munmap(let p, _, _),
            .madvise(let p, _, _, _), .touch(let p, _, _, _, _), .mremap(let p, _, _, _):
            return p
        case .mprotect(let p, _, _, _), .mlock(let p, _, _), .munlock(let p, _, _):
            return p
        case .ftruncate(let p, _, _), .fallocate(let p, _, _, _, _), .close(let p, _), .unlink(let p, _):
            return p
        case .measure:
            return nil
        case .sysctl:
            return nil
        case .shmget(let p, _, _, _), .shmat(let p, _, _), .shmdt(let p, _), .shmrm(let p, _):
            return p
        case .malloc(let p, _, _, _), .realloc(let p, _, _), .free(let p, _), .objectAccess(let p, _, _, _):
            return p
        }
    }

    /// What a statement does with the names of processes and mappings. The static checker
    /// follows names through it, so a new statement that acts on an existing mapping (the usual
    /// case) needs no checker change: it says `.usesMapping`.
    public enum Names: Equatable, Sendable {
        /// Names nothing (`measure`).
        case none
        /// Creates a process (`spawn`).
        case createsProcess(String)
        /// Creates `child` as a copy of live `parent`, with its mapping names (`fork`).
        case forks(parent: String, child: String)
        /// Ends live `process` (`exit`).
        case exits(String)
        /// Gives live `process` a new mapping of `lengthBytes` in pages of `pageBytes` (`mmap`).
        case createsMapping(process: String, mapping: String, lengthBytes: UInt64, pageBytes: UInt64)
        /// Removes a mapping of live `process` (`munmap`).
        case removesMapping(process: String, mapping: String)
        /// Acts on `range` of a mapping of live `process` (`madvise`, `touch`): the range's offset
        /// and length must be multiples of the mapping's page size.
        case usesMapping(process: String, mapping: String, range: ByteRange)
        /// Changes a pool mid-run (`sysctl`): after the `machine` line.
        case setsPool
        /// Live `process` creates SysV segment `key`, not live yet, of `lengthBytes` in pages of
        /// `pageBytes` (`shmget`).
        case createsSegment(process: String, key: String, lengthBytes: UInt64, pageBytes: UInt64)
        /// Live `process` attaches live segment `key` as its new mapping `mapping` (`shmat`).
        case attachesSegment(process: String, key: String, mapping: String)
        /// Removes the attachment `mapping` of live `process` (`shmdt`).
        case detachesSegment(process: String, mapping: String)
        /// Live `process` removes live segment `key` (`shmrm`): the key can be used again.
        case removesSegment(process: String, key: String)
        /// Acts on the descriptor live `process` holds for `file` (`ftruncate`, `fallocate`); with
        /// `closes`, the descriptor is gone afterwards (`close`). A process holds a descriptor for
        /// ID from its first `mmap … file=ID` (or its parent's, at fork) until `close ID`.
        case usesDescriptor(process: String, file: String, closes: Bool)
        /// Acts on a file by its name, in live `process` (`unlink`).
        case usesFileName(process: String, file: String)
        /// Live `process` allocates `object`, a name it does not hold (`malloc`, `calloc`), of
        /// `bytes` bytes.
        case createsObject(process: String, object: String, bytes: UInt64)
        /// Acts on `object` of live `process` (`realloc` gives it `resizesTo` bytes; `write` and
        /// `read` reach `range` of it, which must lie within its bytes).
        case usesObject(process: String, object: String, range: ByteRange?, resizesTo: UInt64?)
        /// Frees `object` of live `process` (`free`): the name can be used again.
        case freesObject(process: String, object: String)
    }

    /// The statement as a canonical line of workload text, without a newline (the printer's
    /// spelling: see `WorkloadPrinter` for what canonical means).
    public var text: String {
        func size(_ bytes: UInt64) -> String { Sizes.format(bytes) }
        func range(_ r: ByteRange) -> String {
            (r.offsetBytes != 0 ? " offset=\(size(r.offsetBytes))" : "") + (r.lengthBytes.map { " length=\(size($0))" } ?? "")
        }
        switch self {
        case .spawn(let p):
            return "spawn \(p)"
        case .fork(let parent, let child):
            return "\(parent) fork \(child)"
        case .exit(let p):
            return "\(p) exit"
        case .mmap(let p, let m, let length, let o):
            var line = "\(p) mmap \(m) \(size(length))"
            if o.shared { line += " shared" }
            if let huge = o.huge { line += " huge=\(huge.token)" }
            if let file = o.file { line += " file=\(file)" }
            if o.fileOffsetBytes != 0 { line += " fileoffset=\(size(o.fileOffsetBytes))" }
            if o.populate { line += " populate" }
            if o.som { line += " som" }
            if let page = o.somPage { line += " page=\(page.token)" }
            if o.noreserve { line += " noreserve" }
            return line
        case .munmap(let p, let m, let r):
            return "\(p) munmap \(m)" + range(r)
        case .madvise(let p, let m, let advice, let r):
            return "\(p) madvise \(m) \(advice.rawValue)" + range(r)
        case .touch(let p, let m, let access, let r, let pattern):
            var line = "\(p) touch \(m) \(access.rawValue)" + range(r)
            switch pattern {
            case .every: break
            case .stride(let bytes): line += " stride=\(size(bytes))"
            case .random(let count, let seed): line += " random=\(count) seed=\(seed)"
            }
            return line
        case .measure(let label):
            return "measure \(label)"
        case .mprotect(let p, let m, let protection, let r):
            return "\(p) mprotect \(m) \(protection.rawValue)" + range(r)
        case .mlock(let p, let m, let r):
            return "\(p) mlock \(m)" + range(r)
        case .munlock(let p, let m, let r):
            return "\(p) munlock \(m)" + range(r)
        case .sysctl(let huge, let pages):
            return "sysctl hugetlb-\(huge.token.lowercased())=\(pages)"
        case .shmget(let p, let key, let length, let huge):
            return "\(p) shmget \(key) \(size(length))" + (huge.map { " huge=\($0.token)" } ?? "")
        case .shmat(let p, let key, let m):
            return "\(p) shmat \(key) \(m)"
        case .shmdt(let p, let m):
            return "\(p) shmdt \(m)"
        case .shmrm(let p, let key):
            return "\(p) shmrm \(key)"
        case .ftruncate(let p, let file, let bytes):
            return "\(p) ftruncate \(file) \(size(bytes))"
        case .fallocate(let p, let file, let offset, let length, let punch):
            return "\(p) fallocate \(file) offset=\(size(offset)) length=\(size(length))" + (punch ? " punch" : "")
        case .close(let p, let file):
            return "\(p) close \(file)"
        case .unlink(let p, let file):
            return "\(p) unlink \(file)"
        case .mremap(let p, let m, let length, let mayMove):
            return "\(p) mremap \(m) \(size(length))" + (mayMove ? " maymove" : "")
        case .malloc(let p, let o, let bytes, let zeroed):
            return "\(p) \(zeroed ? "calloc" : "malloc") \(o) \(size(bytes))"
        case .realloc(let p, let o, let bytes):
            return "\(p) realloc \(o) \(size(bytes))"
        case .free(let p, let o):
            return "\(p) free \(o)"
        case .objectAccess(let p, let o, let access, let r):
            return "\(p) \(access.rawValue) \(o)" + range(r)
        }
    }

    /// The names this statement creates, uses or ends.
    public var names: Names {
        switch self {
        case .measure: return .none
        case .spawn(let p): return .createsProcess(p)
        case .fork(let parent, let child): return .forks(parent: parent, child: child)
        case .exit(let p): return .exits(p)
        case .mmap(let p, let m, let length, let options):
            return .createsMapping(process: p, mapping: m, lengthBytes: length, pageBytes: options.pageBytes)
        // Only a munmap of the whole mapping releases the name; one of a range keeps it held.
        case .munmap(let p, let m, let range) where range == .whole: return .removesMapping(process: p, mapping: m)
        case .munmap(let p, let m, let range): return .usesMapping(process: p, mapping: m, range: range)
        // The new size is checked as a length: a multiple of the mapping's page size.
        case .mremap(let p, let m, let length, _): return .usesMapping(process: p, mapping: m, range: ByteRange(lengthBytes: length))
        case .madvise(let p, let m, _, let range), .touch(let p, let m, _, let range, _):
            return .usesMapping(process: p, mapping: m, range: range)
        case .mprotect(let p, let m, _, let range), .mlock(let p, let m, let range), .munlock(let p, let m, let range):
            return .usesMapping(process: p, mapping: m, range: range)
        case .sysctl: return .setsPool
        case .shmget(let p, let key, let length, let huge):
            return .createsSegment(process: p, key: key, lengthBytes: length, pageBytes: huge?.bytes ?? PageGeometry.pageBytes)
        case .shmat(let p, let key, let m): return .attachesSegment(process: p, key: key, mapping: m)
        case .shmdt(let p, let m): return .detachesSegment(process: p, mapping: m)
        case .shmrm(let p, let key): return .removesSegment(process: p, key: key)
        case .ftruncate(let p, let file, _), .fallocate(let p, let file, _, _, _):
            return .usesDescriptor(process: p, file: file, closes: false)
        case .close(let p, let file):
            return .usesDescriptor(process: p, file: file, closes: true)
        case .unlink(let p, let file):
            return .usesFileName(process: p, file: file)
        case .malloc(let p, let o, let bytes, _):
            return .createsObject(process: p, object: o, bytes: bytes)
        case .realloc(let p, let o, let bytes):
            return .usesObject(process: p, object: o, range: nil, resizesTo: bytes)
        case .free(let p, let o):
            return .freesObject(process: p, object: o)
        case .objectAccess(let p, let o, _, let range):
            return .usesObject(process: p, object: o, range: range, resizesTo: nil)
        }
    }
}

/// HugeTLB page sizes a mapping can ask for (`huge=2M|1G`).
/// (Raw values must be literals: they are `PageGeometry.pmdBytes` and `pudBytes`, which a test
/// holds them to.)
public enum HugePageSize: UInt64, Equatable, Sendable, CaseIterable {
    case size2M = 0x20_0000
    case size1G = 0x4000_0000

    public var bytes: UInt64 { rawValue }
    /// The spelling in workload files.
    public var token: String { self == .size2M ? "2M" : "1G" }
}

/// Options of `mmap`.
public struct MmapOptions: Equatable, Sendable {
    /// `shared`: MAP_SHARED (default MAP_PRIVATE).
    public var shared: Bool = false
    /// `huge=2M|1G`: HugeTLB pages of that size.
    public var huge: HugePageSize? = nil
    /// `file=ID`: a mapping of the file ID (page cache shared across processes).
    public var file: String? = nil
    /// `populate`: MAP_POPULATE.
    public var populate: Bool = false
    /// `som`: single-owner memory from the som pool, never inherited by a forked child.
    public var som: Bool = false
    /// `noreserve`: MAP_NORESERVE — no HugeTLB reservation and no overcommit accounting at mmap;
    /// a HugeTLB fault then takes a free page no reservation holds, or raises SIGBUS.
    public var noreserve: Bool = false
    /// `fileoffset=SIZE` (with `file=`): the offset in the file of the mapping's first byte.
    /// Not a multiple of the page size: EINVAL at run time, as mmap(2) gives.
    public var fileOffsetBytes: UInt64 = 0
    /// `page=4K|2M|1G` (with `som`): the page size the pool maps; nil, the default, is `2M`.
    public var somPage: SomPageSize? = nil

    public init(shared: Bool = false, huge: HugePageSize? = nil, file: String? = nil, populate: Bool = false, som: Bool = false, noreserve: Bool = false) {
        self.shared = shared
        self.huge = huge
        self.file = file
        self.populate = populate
        self.som = som
        self.noreserve = noreserve
    }

    /// The page size the mapping is made of, in bytes.
    public var pageBytes: UInt64 { huge?.bytes ?? PageGeometry.pageBytes }
    /// The file page of the mapping's first page (`fileOffsetBytes` in pages, rounded down).
    public var fileOffsetPages: UInt64 { fileOffsetBytes / pageBytes }
}

/// madvise(2) advice values the format knows.
public enum Advice: String, Equatable, Sendable, CaseIterable {
    case dontfork, dofork, wipeonfork, keeponfork, hugepage, nohugepage, dontneed
    /// MADV_REMOVE: punch a hole in the file (or shmem object) behind a shared mapping.
    case remove
    /// MADV_WILLNEED: read ahead; nothing a measure sees on a machine without swap.
    case willneed
    /// MADV_POPULATE_READ and MADV_POPULATE_WRITE: fault the range in as reads or writes.
    case populateRead = "populate_read"
    case populateWrite = "populate_write"
    /// MADV_COLLAPSE: replace the small pages of each whole 2 MiB block by a THP, now.
    case collapse
    /// MADV_COLD and MADV_PAGEOUT: deactivate, or reclaim, the pages only this process maps.
    case cold, pageout
}

/// Read or write access of a touch.
public enum Access: String, Equatable, Sendable, CaseIterable {
    case read, write
}

/// The protection `mprotect` gives a range: `read` is PROT_READ, `write` PROT_READ|PROT_WRITE
/// (what every mapping starts with), `none` PROT_NONE.
public enum Protection: String, Equatable, Sendable, CaseIterable {
    case read, write, none

    /// Whether an access of this kind is allowed: a forbidden one raises SIGSEGV.
    public func allows(_ access: Access) -> Bool {
        switch self {
        case .write: return true
        case .read: return access == .read
        case .none: return false
        }
    }

    /// The PROT_* bits of mprotect(2) (include/uapi/asm-generic/mman-common.h).
    public var bits: Int32 {
        switch self {
        case .read: return 0x1
        case .write: return 0x1 | 0x2
        case .none: return 0
        }
    }
}

/// A byte range within a mapping: `offset=` and `length=`; `length == nil` runs to the mapping's end.
public struct ByteRange: Equatable, Sendable {
    public var offsetBytes: UInt64
    public var lengthBytes: UInt64?
    public init(offsetBytes: UInt64 = 0, lengthBytes: UInt64? = nil) {
        self.offsetBytes = offsetBytes
        self.lengthBytes = lengthBytes
    }
    /// The whole mapping.
    public static let whole = ByteRange()
}

/// Which pages of a range a touch reaches.
public enum TouchPattern: Equatable, Sendable {
    /// One byte in every page.
    case every
    /// One byte every `strideBytes` bytes, starting at the range's first byte.
    case stride(bytes: UInt64)
    /// `count` distinct pages chosen by the seeded generator (see `RandomPages`).
    case random(count: UInt64, seed: UInt64)
}
