/// What a workload's statements ask of a machine, found in one walk: what `validate` must set up
/// (mounts, directories, pools) and refuse, without each caller writing its own statement loop.
public struct WorkloadUsage: Equatable, Sendable {
    /// `spawn` statements.
    public var spawns = 0
    /// HugeTLB page sizes any mapping uses.
    public var hugePageSizes: Set<HugePageSize> = []
    /// HugeTLB page sizes of shared or `file=` mappings: they need a hugetlbfs mount.
    public var hugetlbfsPageSizes: Set<HugePageSize> = []
    /// HugeTLB page sizes of `file=` mappings: they need a directory on that mount.
    public var hugeFilePageSizes: Set<HugePageSize> = []
    /// Whether some `file=` mapping is not HugeTLB (a tmpfs file).
    public var smallFiles = false
    /// Whether some mapping is single-owner memory (`som`).
    public var singleOwner = false
    /// Every `file=` ID (and every ID `unlink` names), in the order of first use.
    public var fileIDs: [String] = []
    /// Whether some statement makes a SysV segment (`shmget`).
    public var sysVShm = false
    /// The largest size each pool is set to by `sysctl`.
    public var sysctlPoolPages: [HugePageSize: UInt64] = [:]
    /// Whether some statement runs the allocator (`malloc`, `calloc`, `realloc`, `free`): its
    /// processes need a fresh heap in the real run.
    public var allocator = false

    public init(_ workload: Workload) {
        var seen = Set<String>()
        for s in workload.statements {
            switch s.value {
            case .spawn:
                spawns += 1
            case .mmap(_, _, _, let o):
                singleOwner = singleOwner || o.som
                if let huge = o.huge {
                    hugePageSizes.insert(huge)
                    if o.shared || o.file != nil { hugetlbfsPageSizes.insert(huge) }
                    if o.file != nil { hugeFilePageSizes.insert(huge) }
                } else if o.file != nil {
                    smallFiles = true
                }
                if let file = o.file, seen.insert(file).inserted { fileIDs.append(file) }
            case .shmget(_, _, _, let huge):
                sysVShm = true
                if let huge { hugePageSizes.insert(huge) }
            case .sysctl(let huge, let pages):
                sysctlPoolPages[huge] = max(sysctlPoolPages[huge] ?? 0, pages)
            case .unlink(_, let file):
                // A name validate removes from its directories (a file never mapped included).
                if seen.insert(file).inserted { fileIDs.append(file) }
            case .malloc, .realloc, .free, .objectAccess:
                allocator = true
            default:
                break
            }
        }
    }
}
