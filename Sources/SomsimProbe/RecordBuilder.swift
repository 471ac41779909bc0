import SomsimModel
import SomsimWorkload

/// Turns a `RecordSnapshot` into a workload that reproduces the processes' memory (`somsim record`).
///
/// - The tree: a process whose parent is recorded is that parent's forked child (forks in the
///   order the children started); the others are spawned.
/// - Families: VMAs of one tree that overlap in address, of one kind (private anonymous, or the
///   same shared anonymous object by inode), are one mapping of the workload, made by the lowest
///   common ancestor of the processes that have them and inherited by its descendants; each
///   process unmaps the parts it does not have. A family whose pages hold PMD-mapped THPs is
///   padded to 2 MiB, so that its blocks are aligned in the model as they are in the process.
/// - Pages, private: the frames (page frame numbers) of each page make a partition of the
///   processes; a frame several processes map must come from a write in their common ancestor
///   before the forks that lead to them, so each process writes, before each fork, the pages its
///   next child must inherit from it, and at the end writes the pages it alone maps and drops
///   (`madvise dontneed`) what it inherited and does not map. A write always leaves the writer
///   with a frame no one else maps (a new page, a COW copy, or a reuse), so the partition comes
///   out exactly whatever the order of the other processes' statements.
/// - Pages, shared: each process touches the pages it maps, writing those whose folio is dirty
///   and reading the clean ones (then drops what fault-around mapped besides).
/// - Every family is simulated on its own and compared with the processes' smaps; one the model
///   does not reproduce exactly is left out, as are kinds of memory the recorder does not model
///   (file pages, HugeTLB, the kernel's mappings). The header says what and how many bytes.
public enum RecordBuilder {
    /// What the recording left out of one process, with the reason.
    public struct LeftOut: Sendable, Equatable {
        public var pid: Int32
        public var vma: String
        /// smaps `Rss` + `Private_Hugetlb` + `Shared_Hugetlb`, bytes.
        public var bytes: UInt64
        public var reason: String
    }

    /// What `simulate` of the recording must give for one process (bytes), over the recorded VMAs.
    public struct Expected: Sendable, Equatable {
        public var rss: UInt64 = 0
        /// PSS in the kernel's fixed point (bytes << 12), before the final shift.
        public var pssFixed: UInt64 = 0
        public var privateClean: UInt64 = 0
        public var privateDirty: UInt64 = 0
        public var sharedClean: UInt64 = 0
        public var sharedDirty: UInt64 = 0
        public var privateHugetlb: UInt64 = 0
        public var sharedHugetlb: UInt64 = 0
        /// Pss_Anon in the same fixed point: the private anonymous families' PSS (shmem is not
        /// anonymous; per-VMA smaps has no Pss_Anon, so it comes from the frames alone).
        public var pssAnonFixed: UInt64 = 0
        /// AnonHugePages: the THPs this process maps with a PMD entry (the frames' `pmdTHP` runs,
        /// checked against smaps' AnonHugePages where the snapshot has it).
        public var anonHugePages: UInt64 = 0
        public var pss: UInt64 { pssFixed >> 12 }
        public var pssAnon: UInt64 { pssAnonFixed >> 12 }

        static func + (a: Expected, b: Expected) -> Expected {
            Expected(
                rss: a.rss + b.rss, pssFixed: a.pssFixed + b.pssFixed, privateClean: a.privateClean + b.privateClean, privateDirty: a.privateDirty + b.privateDirty,
                sharedClean: a.sharedClean + b.sharedClean, sharedDirty: a.sharedDirty + b.sharedDirty, privateHugetlb: a.privateHugetlb + b.privateHugetlb,
                sharedHugetlb: a.sharedHugetlb + b.sharedHugetlb, pssAnonFixed: a.pssAnonFixed + b.pssAnonFixed, anonHugePages: a.anonHugePages + b.anonHugePages)
        }

        /// The differences from what a simulation gave, as `field expected/simulated`; empty when equal.
        func differences(_ m: ProcessMetrics) -> [String] {
            var out: [String] = []
            func check(_ name: String, _ e: UInt64, _ s: UInt64) { if e != s { out.append("\(name) \(e)/\(s)") } }
            check("rss", rss, m.rssBytes)
            check("pss", pss, m.pssBytes)
            check("private_clean", privateClean, m.privateCleanBytes)
            check("private_dirty", privateDirty, m.privateDirtyBytes)
            check("shared_clean", sharedClean, m.sharedCleanBytes)
            check("shared_dirty", sharedDirty, m.sharedDirtyBytes)
            check("private_hugetlb", privateHugetlb, m.privateHugetlbBytes)
            check("shared_hugetlb", sharedHugetlb, m.sharedHugetlbBytes)
            check("pss_anon", pssAnon, m.pssAnonBytes)
            check("anon_huge_pages", anonHugePages, m.anonHugePagesBytes)
            return out
        }
    }

    public struct Recording: Sendable {
        /// The workload text (parses with `WorkloadParser`).
        public var text: String
        public var leftOut: [LeftOut]
        /// Per pid, what simulate must report over the recorded VMAs.
        public var expected: [Int32: Expected]
        /// Per pid, the VMAs recorded (`VMA.summary`).
        public var recorded: [Int32: [String]]
        /// The process name the workload gives each pid.
        public var names: [Int32: String]
    }

    // MARK: - The tree

    struct Tree {
        var processes: [RecordSnapshot.Process]
        var parent: [Int?]
        var children: [[Int]]
        var roots: [Int]
        var depth: [Int]

        init(_ processes: [RecordSnapshot.Process]) {
            self.processes = processes
            var index: [Int32: Int] = [:]
            for (i, p) in processes.enumerated() { index[p.pid] = i }
            parent = processes.map { p in p.parent.flatMap { index[$0] } }
            children = Array(repeating: [], count: processes.count)
            roots = []
            for i in processes.indices {
                if let p = parent[i] { children[p].append(i) } else { roots.append(i) }
            }
            let order: (Int, Int) -> Bool = { (processes[$0].startTime, processes[$0].pid) < (processes[$1].startTime, processes[$1].pid) }
            for i in children.indices { children[i].sort(by: order) }
            roots.sort(by: order)
            depth = Array(repeating: 0, count: processes.count)
            for r in roots { Self.setDepth(r, 0, &depth, children) }
        }

        static func setDepth(_ i: Int, _ d: Int, _ depth: inout [Int], _ children: [[Int]]) {
            depth[i] = d
            for c in children[i] { setDepth(c, d + 1, &depth, children) }
        }

        func root(of i: Int) -> Int {
            var i = i
            while let p = parent[i] { i = p }
            return i
        }

        func lca(_ a: Int, _ b: Int) -> Int? {
            var a = a, b = b
            while depth[a] > depth[b] { a = parent[a]! }
            while depth[b] > depth[a] { b = parent[b]! }
            while a != b {
                guard let pa = parent[a], let pb = parent[b] else { return nil }
                a = pa
                b = pb
            }
            return a
        }

        /// `i` and its descendants, parents before children, children in fork order.
        func subtree(_ i: Int) -> [Int] {
            var out = [i]
            for c in children[i] { out += subtree(c) }
            return out
        }
    }

    // MARK: - Families

    enum Kind: Equatable { case privateAnonymous, sharedAnonymous }

    struct Family {
        var kind: Kind
        /// Address range of the workload mapping, padded to 2 MiB when it holds THPs.
        var start: UInt64
        var end: UInt64
        var vmas: [(process: Int, vma: Int)] = []
        var lca = 0
        /// The processes that make the mapping: the lowest common ancestor of those that have it,
        /// one per tree for a tmpfs file (shared by name; one for anything else).
        var creators: [Int] = []
        var name = ""
        /// 4096, or the HugeTLB page size (`KernelPageSize`).
        var pageBytes: UInt64 = 4096
        /// Shared families are laid out by file offset (`start`, `end` are offsets then); a
        /// tmpfs file's family maps the file `fileID` from offset `start`.
        var fileID: String?
        /// Where the first VMA starts, for the mapping's name.
        var address: UInt64 = 0
        var pages: UInt64 { (end - start) / 4096 }
    }

    static let kernelMappings: Set<String> = ["[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]", "[uprobes]", "[sigpage]", "[vectors]"]

    /// Why a VMA cannot be recorded, or nil with its kind.
    static func classify(_ v: RecordSnapshot.VMA) -> (Kind?, String?) {
        if kernelMappings.contains(v.path) { return (nil, "the kernel's own mapping") }
        if v.kernelPageBytes > 4096 {
            if v.path.hasPrefix("/anon_hugepage") { return (v.isShared ? .sharedAnonymous : .privateAnonymous, nil) }
            if v.path.hasPrefix("/SYSV") { return (nil, "SysV shared memory: not recorded yet") }
            return (nil, "a HugeTLB file (hugetlbfs): not recorded yet")
        }
        if v.isShared {
            if v.path.hasPrefix("/dev/zero") && v.inode != 0 { return (.sharedAnonymous, nil) }
            // tmpfs files the workload's `file=` can stand for: POSIX shared memory and memfds.
            if isTmpfsFile(v) { return (.sharedAnonymous, nil) }
            if v.path.hasPrefix("/SYSV") { return (nil, "SysV shared memory: not recorded yet") }
            return (nil, "a shared file mapping: file pages are not recorded")
        }
        if v.inode == 0 && (v.path.isEmpty || v.path.hasPrefix("[")) { return (.privateAnonymous, nil) }
        return (nil, "a private file mapping: file pages (and the anonymous copies in it) are not recorded")
    }

    static func isTmpfsFile(_ v: RecordSnapshot.VMA) -> Bool {
        v.kernelPageBytes == 4096 && v.inode != 0 && (v.path.hasPrefix("/dev/shm/") || v.path.hasPrefix("/memfd:"))
    }

    static func bytes(_ v: RecordSnapshot.VMA) -> UInt64 {
        ((v.smaps["Rss"] ?? 0) + (v.smaps["Private_Hugetlb"] ?? 0) + (v.smaps["Shared_Hugetlb"] ?? 0)) * 1024
    }

    // MARK: - Building

    public static func build(_ snapshot: RecordSnapshot, constants: KernelConstants = KernelConstants()) -> Recording {
        let tree = Tree(snapshot.processes)
        let names = Dictionary(uniqueKeysWithValues: snapshot.processes.map { ($0.pid, "p\($0.pid)") })
        var leftOut: [LeftOut] = []
        var families: [Family] = []

        // Classify, and group into families per tree.
        var privateByRoot: [Int: [(Int, Int)]] = [:]
        var sharedByKey: [String: [(Int, Int)]] = [:]
        for (pi, p) in snapshot.processes.enumerated() {
            for (vi, v) in p.vmas.enumerated() {
                let (kind, reason) = classify(v)
                if let reason {
                    leftOut.append(LeftOut(pid: p.pid, vma: v.summary, bytes: bytes(v), reason: reason))
                    continue
                }
                switch kind! {
                case .privateAnonymous: privateByRoot[tree.root(of: pi), default: []].append((pi, vi))
                case .sharedAnonymous:
                    sharedByKey["\(v.device) \(v.inode) \(v.kernelPageBytes)", default: []].append((pi, vi))
                }
            }
        }
        func vma(_ r: (Int, Int)) -> RecordSnapshot.VMA { snapshot.processes[r.0].vmas[r.1] }
        for root in privateByRoot.keys.sorted() {
            let refs = privateByRoot[root]!.sorted { vma($0).start < vma($1).start }
            for r in refs {
                let v = vma(r)
                if var last = families.last, last.kind == .privateAnonymous, last.pageBytes == v.kernelPageBytes, tree.root(of: last.vmas[0].process) == root,
                    v.start < last.end
                {
                    last.end = max(last.end, v.end)
                    last.vmas.append((r.0, r.1))
                    families[families.count - 1] = last
                } else {
                    families.append(Family(kind: .privateAnonymous, start: v.start, end: v.end, vmas: [(r.0, r.1)], pageBytes: v.kernelPageBytes))
                }
            }
        }
        for key in sharedByKey.keys.sorted() {
            let refs = sharedByKey[key]!
            let first = vma(refs[0])
            let file = isTmpfsFile(first)
            // A file is shared by name: each tree maps it on its own. An anonymous object only
            // through fork: one tree must hold all its mappings.
            if !file && Set(refs.map { tree.root(of: $0.0) }).count > 1 {
                for r in refs {
                    leftOut.append(
                        LeftOut(pid: snapshot.processes[r.0].pid, vma: vma(r).summary, bytes: bytes(vma(r)), reason: "shared memory also mapped by a process recorded without its parent"))
                }
                continue
            }
            var family = Family(
                kind: .sharedAnonymous, start: refs.map { vma($0).offset }.min()!, end: refs.map { vma($0).offset + vma($0).end - vma($0).start }.max()!,
                vmas: refs.map { ($0.0, $0.1) }, pageBytes: first.kernelPageBytes, fileID: file ? "f\(first.inode)" : nil, address: first.start)
            for root in Set(refs.map { tree.root(of: $0.0) }).sorted() {
                let group = refs.filter { tree.root(of: $0.0) == root }
                var l = group[0].0
                for r in group { l = tree.lca(l, r.0)! }
                family.creators.append(l)
            }
            family.lca = family.creators[0]
            families.append(family)
        }
        for i in families.indices where families[i].kind == .privateAnonymous {
            var l = families[i].vmas[0].process
            for r in families[i].vmas { l = tree.lca(l, r.process)! }
            families[i].lca = l
            families[i].creators = [l]
        }
        families.sort { ($0.kind == .sharedAnonymous ? $0.address : $0.start, $0.kind == .sharedAnonymous ? 1 : 0) < ($1.kind == .sharedAnonymous ? $1.address : $1.start, $1.kind == .sharedAnonymous ? 1 : 0) }
        var used: Set<String> = []
        for i in families.indices {
            let v = vma(families[i].vmas[0])
            let base: String
            if families[i].pageBytes > 4096 {
                base = families[i].kind == .sharedAnonymous ? "hugeshared" : "huge"
            } else if families[i].kind == .sharedAnonymous {
                base = "shared"
            } else if v.path.hasPrefix("[") {
                let inner = v.path.dropFirst().prefix { $0 != "]" && $0 != ":" }
                base = inner.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } && !inner.isEmpty ? String(inner) : "anon"
            } else {
                base = "anon"
            }
            let where_ = families[i].kind == .sharedAnonymous ? families[i].address : families[i].start
            var name = "\(families[i].fileID.map { "\($0)_" } ?? base + "_")\(String(where_, radix: 16))"
            while used.contains(name) { name += "_" }
            used.insert(name)
            families[i].name = name
        }

        // Plan each family, check it alone against smaps, keep the ones that come out exactly.
        var plans: [FamilyPlan] = []
        for family in families {
            var plan = FamilyPlan(family: family, snapshot: snapshot, tree: tree)
            if plan.problem == nil {
                let text = render(snapshot: snapshot, tree: tree, plans: [plan], names: names, header: [])
                if let problem = simulateAndCompare(text, plans: [plan], names: names, snapshot: snapshot, constants: constants) {
                    plan.problem = "the model does not reproduce it (\(problem))"
                }
            }
            if let problem = plan.problem {
                for r in family.vmas {
                    leftOut.append(LeftOut(pid: snapshot.processes[r.process].pid, vma: vma(r).summary, bytes: bytes(vma(r)), reason: problem))
                }
                continue
            }
            plans.append(plan)
        }

        var expected: [Int32: Expected] = [:]
        var recorded: [Int32: [String]] = [:]
        for p in snapshot.processes { expected[p.pid] = Expected() }
        for plan in plans {
            for (pi, e) in plan.expected { expected[snapshot.processes[pi].pid]! = expected[snapshot.processes[pi].pid]! + e }
            for r in plan.family.vmas { recorded[snapshot.processes[r.process].pid, default: []].append(vma(r).summary) }
        }

        var header = snapshot.header
        header.append("Reproduced: private and shared anonymous memory (4 KiB pages, PMD-mapped THPs, HugeTLB pages) and shared")
        header.append("tmpfs files (/dev/shm, memfd), with the sharing between the recorded processes that their frames show.")
        header.append("simulate of this file gives, per process, over the recorded mappings (bytes):")
        for p in snapshot.processes {
            let e = expected[p.pid]!
            header.append(
                "  expect \(names[p.pid]!) rss=\(e.rss) pss=\(e.pss) private_clean=\(e.privateClean) private_dirty=\(e.privateDirty) shared_clean=\(e.sharedClean) shared_dirty=\(e.sharedDirty) private_hugetlb=\(e.privateHugetlb) shared_hugetlb=\(e.sharedHugetlb) pss_anon=\(e.pssAnon) anon_huge_pages=\(e.anonHugePages)"
            )
        }
        if leftOut.isEmpty {
            header.append("Left out: nothing.")
        } else {
            header.append("Left out (bytes resident, by process and reason):")
            for p in snapshot.processes {
                var byReason: [(String, UInt64, Int)] = []
                for l in leftOut where l.pid == p.pid {
                    if let i = byReason.firstIndex(where: { $0.0 == l.reason }) {
                        byReason[i].1 += l.bytes
                        byReason[i].2 += 1
                    } else {
                        byReason.append((l.reason, l.bytes, 1))
                    }
                }
                for (reason, bytes, count) in byReason {
                    header.append("  \(names[p.pid]!): \(bytes) B in \(count) mapping\(count == 1 ? "" : "s"): \(reason)")
                }
            }
            header.append("  (each left-out mapping: `# left out pPID RANGE PERMS NAME: reason` at the end)")
        }
        var text = render(snapshot: snapshot, tree: tree, plans: plans, names: names, header: header)
        if !leftOut.isEmpty {
            text += "\n"
            for l in leftOut { text += "# left out \(names[l.pid]!) \(l.vma): \(l.reason)\n" }
        }
        return Recording(text: text, leftOut: leftOut, expected: expected, recorded: recorded, names: names)
    }

    /// Simulates `text` and compares each process with what `plans` expect; nil when equal.
    static func simulateAndCompare(
        _ text: String, plans: [FamilyPlan], names: [Int32: String], snapshot: RecordSnapshot, constants: KernelConstants
    ) -> String? {
        let workload: Workload
        do { workload = try WorkloadParser.parse(text, fileName: "recording") } catch { return "the recording does not parse: \(error)" }
        let report = Simulator.run(workload, constants: constants)
        if let error = report.errors.first { return "line \(error.line): \(error.statement): \(error.errno.rawValue)" }
        guard let end = report.measures.last else { return "no measure" }
        for (pi, p) in snapshot.processes.enumerated() {
            var e = Expected()
            for plan in plans { if let x = plan.expected[pi] { e = e + x } }
            guard let m = end.processes.first(where: { $0.name == names[p.pid] }) else { return "no process \(names[p.pid]!)" }
            let d = e.differences(m)
            if !d.isEmpty { return "\(names[p.pid]!) expected/simulated: " + d.joined(separator: ", ") }
        }
        return nil
    }

    // MARK: - Rendering

    static func render(snapshot: RecordSnapshot, tree: Tree, plans: [FamilyPlan], names: [Int32: String], header: [String]) -> String {
        var out = ""
        for line in header { out += "# \(line)\n" }
        out += "somsim-workload 1\n"
        var machine: [String] = []
        if snapshot.ramBytes != 16 << 30 { machine.append("ram=\(WorkloadPrinter.format(size: snapshot.ramBytes))") }
        for (key, size) in [("hugetlb-2m", UInt64(2 << 20)), ("hugetlb-1g", UInt64(1 << 30))] {
            let pages = plans.filter { $0.family.pageBytes == size }.reduce(UInt64(0)) { $0 + $1.poolPages }
            if pages > 0 { machine.append("\(key)=\(pages)") }
        }
        if plans.contains(where: { !$0.thpBlocks.isEmpty }) { machine.append("thp=madvise") }
        if let pti = snapshot.pti { machine.append("pti=\(pti ? "on" : "off")") }
        if !machine.isEmpty { out += "machine " + machine.joined(separator: " ") + "\n" }
        func emit(_ i: Int, _ out: inout String) {
            let p = snapshot.processes[i]
            let name = names[p.pid]!
            for (point, child) in (tree.children[i].map { Optional($0) } + [nil]).enumerated() {
                if point == 0 {
                    for plan in plans where plan.family.creators.contains(i) { plan.renderCreation(name, &out) }
                }
                for plan in plans { plan.renderActions(process: i, point: point, name, &out) }
                if let child {
                    let c = snapshot.processes[child]
                    out += "\n# pid \(c.pid) (\(c.command)), forked by \(p.pid)\n"
                    out += "\(name) fork \(names[c.pid]!)\n"
                    emit(child, &out)
                }
            }
        }
        for r in tree.roots {
            let p = snapshot.processes[r]
            out += "\n# pid \(p.pid) (\(p.command))\nspawn \(names[p.pid]!)\n"
            emit(r, &out)
        }
        return out
    }
}

// MARK: - One family's plan

/// What each process does to one family's mapping, at each point of its life: point i is
/// just before its i-th fork, the last point after all of them.
struct FamilyPlan {
    enum Action: Int, Comparable {
        case writeTHP, write, read, dontneed, dontneedAfterReads, munmap
        static func < (a: Action, b: Action) -> Bool { a.rawValue < b.rawValue }
    }

    struct Key: Hashable, Comparable {
        var process: Int
        var point: Int
        var action: Action
        static func < (a: Key, b: Key) -> Bool { (a.process, a.point, a.action.rawValue) < (b.process, b.point, b.action.rawValue) }
    }

    var family: RecordBuilder.Family
    /// Page ranges (in the workload mapping) per process, point and action, in address order.
    var ranges: [Key: [Range<UInt64>]] = [:]
    /// 2 MiB blocks (page ranges) the creator advises `hugepage`.
    var thpBlocks: [Range<UInt64>] = []
    /// Head and tail pages of padding no process has.
    var padding: [Range<UInt64>] = []
    var expected: [Int: RecordBuilder.Expected] = [:]
    var problem: String?
    /// HugeTLB pages this family needs in the machine's pool (0 for 4 KiB families).
    var poolPages: UInt64 = 0
    /// Processes whose VMAs cover nothing of the family (they unmap it whole).
    var uncovered: Set<Int> = []
    var sources: [String] = []
    /// Each inheritor's last point (its number of forks).
    var lastPoint: [Int: Int] = [:]

    /// The state of one page in one process.
    enum PageState: Equatable {
        case uncovered
        case absent
        /// A frame: its identity (`key`), whether no one else maps it, its mapcount, the folio's
        /// dirty flag, and whether it is part of a PMD-mapped THP.
        case frame(key: UInt64, exclusive: Bool, mapcount: UInt64, dirty: Bool, thp: Bool)
    }

    init(family: RecordBuilder.Family, snapshot: RecordSnapshot, tree: RecordBuilder.Tree) {
        self.family = family
        let inheritors = family.creators.flatMap { tree.subtree($0) }
        for i in inheritors { lastPoint[i] = tree.children[i].count }
        let hasTHP = family.vmas.contains { r in snapshot.processes[r.process].vmas[r.vma].pages.contains { $0.pmdTHP } }
        if hasTHP {
            self.family.start = family.start / (2 << 20) * (2 << 20)
            self.family.end = (family.end + (2 << 20) - 1) / (2 << 20) * (2 << 20)
        }
        let base = self.family.start
        let pageCount = self.family.pages
        let huge = family.pageBytes > 4096
        // The pool a HugeTLB family needs: its mapping's pages (a private mapping reserves them
        // all for its creator) and every page present anywhere (copies are not reserved).
        if huge { poolPages = pageCount * 4096 / family.pageBytes }

        // Checks and expected values, VMA by VMA.
        for r in family.vmas {
            let p = snapshot.processes[r.process]
            let v = p.vmas[r.vma]
            sources.append("\(p.pid) \(v.summary)")
            if let problem = v.problem {
                self.problem = problem
                return
            }
            var e = RecordBuilder.Expected()
            let kb = { (k: String) in (v.smaps[k] ?? 0) * 1024 }
            if huge {
                // HugeTLB is in smaps' *_Hugetlb only: no Rss, no Pss, no clean or dirty.
                e.privateHugetlb = kb("Private_Hugetlb")
                e.sharedHugetlb = kb("Shared_Hugetlb")
                var present: UInt64 = 0
                var shared: UInt64 = 0
                for run in v.pages {
                    present += run.count
                    if run.mapcount > 1 { shared += run.count }
                }
                poolPages += present * 4096 / family.pageBytes
                if present * 4096 != e.privateHugetlb + e.sharedHugetlb || shared * 4096 != e.sharedHugetlb {
                    problem =
                        "\(p.pid) \(v.summary): pagemap shows \(present * 4096) bytes present, \(shared * 4096) mapped more than once; smaps Private_Hugetlb \(e.privateHugetlb), Shared_Hugetlb \(e.sharedHugetlb)"
                    return
                }
                expected[r.process] = (expected[r.process] ?? RecordBuilder.Expected()) + e
                continue
            }
            e.rss = kb("Rss")
            e.privateClean = kb("Private_Clean")
            e.privateDirty = kb("Private_Dirty")
            e.sharedClean = kb("Shared_Clean")
            e.sharedDirty = kb("Shared_Dirty")
            var present: UInt64 = 0
            var dirty: UInt64 = 0
            for run in v.pages {
                present += run.count
                if run.dirty { dirty += run.count }
                e.pssFixed += run.count * ((4096 << 12) / max(run.mapcount, 1))
                if run.pmdTHP { e.anonHugePages += run.count * 4096 }
            }
            if family.kind == .privateAnonymous { e.pssAnonFixed = e.pssFixed }
            if let smapsTHP = v.smaps["AnonHugePages"], smapsTHP * 1024 != e.anonHugePages {
                problem = "\(p.pid) \(v.summary): pagemap shows \(e.anonHugePages) bytes of PMD-mapped THPs, smaps AnonHugePages \(smapsTHP * 1024)"
                return
            }
            if present * 4096 != e.rss {
                problem = "\(p.pid) \(v.summary): pagemap shows \(present * 4096) bytes present, smaps Rss \(e.rss) (it changed while being read?)"
                return
            }
            if e.pssFixed >> 22 != v.smaps["Pss"] ?? 0 {
                problem = "\(p.pid) \(v.summary): Pss from the frames' mapcounts, \(e.pssFixed >> 22) kB, is not smaps' \(v.smaps["Pss"] ?? 0) kB"
                return
            }
            if family.kind == .privateAnonymous, e.privateClean + e.sharedClean > 0 {
                problem = "\(p.pid) \(v.summary): clean anonymous pages (MADV_FREE, or the swap cache), which the model does not have"
                return
            }
            if family.kind == .sharedAnonymous, dirty * 4096 != e.privateDirty + e.sharedDirty {
                problem =
                    "\(p.pid) \(v.summary): \(e.privateDirty + e.sharedDirty) bytes dirty, \(dirty * 4096) of them dirty folios: the rest were written through entries already mapped, and pagemap does not say which"
                return
            }
            expected[r.process] = (expected[r.process] ?? RecordBuilder.Expected()) + e
        }

        // Each member's pages as segments of the workload mapping.
        var segments: [Int: [(lo: UInt64, hi: UInt64, run: RecordSnapshot.PageRun?)]] = [:]
        for r in family.vmas {
            let v = snapshot.processes[r.process].vmas[r.vma]
            // Shared families are laid out by file offset, private ones by address.
            let lo = ((family.kind == .sharedAnonymous ? v.offset : v.start) - base) / 4096
            var cursor = lo
            var list = segments[r.process] ?? []
            for run in v.pages {
                if lo + run.first > cursor { list.append((cursor, lo + run.first, nil)) }
                list.append((lo + run.first, lo + run.first + run.count, run))
                cursor = lo + run.first + run.count
            }
            if lo + v.pageCount > cursor { list.append((cursor, lo + v.pageCount, nil)) }
            segments[r.process] = list
        }
        for key in segments.keys {
            segments[key]!.sort { $0.lo < $1.lo }
            if zip(segments[key]!, segments[key]!.dropFirst()).contains(where: { $0.hi > $1.lo }) {
                problem = "\(snapshot.processes[key].pid) maps the same pages of this object through two VMAs, which one workload mapping cannot stand for"
                return
            }
        }
        let padHead = (segments.values.flatMap { $0 }.map(\.lo).min() ?? 0)
        let padTail = (segments.values.flatMap { $0 }.map(\.hi).max() ?? pageCount)
        if padHead > 0 { padding.append(0..<padHead) }
        if padTail < pageCount { padding.append(padTail..<pageCount) }
        for i in inheritors where segments[i] == nil { uncovered.insert(i) }

        var boundaries: [UInt64] = [padHead, padTail]
        for list in segments.values { for s in list { boundaries.append(s.lo); boundaries.append(s.hi) } }
        boundaries.sort()
        var unique: [UInt64] = []
        for b in boundaries where unique.last != b { unique.append(b) }

        for list in segments.values {
            for s in list where s.run?.pmdTHP == true {
                thpBlocks.append(s.lo..<s.hi)
            }
        }
        thpBlocks = Self.merged(thpBlocks.sorted { $0.lowerBound < $1.lowerBound })

        var cursors = [Int: Int]()
        for k in segments.keys { cursors[k] = 0 }
        var lastActions: [(Key)] = []
        var lastEnd: UInt64 = .max
        for j in 0..<(unique.count - 1) {
            let lo = unique[j], hi = unique[j + 1]
            var states: [Int: PageState] = [:]
            for (proc, list) in segments {
                var c = cursors[proc]!
                while c < list.count && list[c].hi <= lo { c += 1 }
                cursors[proc] = c
                if c < list.count && list[c].lo <= lo {
                    if let run = list[c].run {
                        let key = run.exclusive && family.kind == .privateAnonymous ? (UInt64(1) << 63) | UInt64(proc) : run.pfn + (lo - list[c].lo)
                        states[proc] = .frame(key: key, exclusive: run.exclusive, mapcount: run.mapcount, dirty: run.dirty, thp: run.pmdTHP)
                    } else {
                        states[proc] = .absent
                    }
                }
            }
            let actions: [Key]
            switch family.kind {
            case .privateAnonymous: actions = privateActions(states, inheritors: inheritors, tree: tree)
            case .sharedAnonymous: actions = sharedActions(states, inheritors: inheritors, tree: tree)
            }
            if problem != nil {
                problem! += family.kind == .sharedAnonymous ? " (at offset \(lo * 4096))" : " (at \(String(base + lo * 4096, radix: 16)))"
                return
            }
            if lastEnd == lo && actions == lastActions {
                for k in actions { ranges[k]![ranges[k]!.count - 1] = ranges[k]!.last!.lowerBound..<hi }
            } else {
                for k in actions { ranges[k, default: []].append(lo..<hi) }
            }
            lastActions = actions
            lastEnd = hi
        }
        // A THP is made whole, once: by its creator at the first point any of its pages is
        // written there (a page of it written later by the same process is the same folio).
        var firstTHPWrite: [Int: [UInt64: Int]] = [:]
        for (k, list) in ranges where k.action == .writeTHP {
            for r in list {
                var block = r.lowerBound / 512 * 512
                while block < r.upperBound {
                    firstTHPWrite[k.process, default: [:]][block] = min(firstTHPWrite[k.process]?[block] ?? .max, k.point)
                    block += 512
                }
            }
            ranges[k] = nil
        }
        for (process, blocks) in firstTHPWrite {
            for (block, point) in blocks {
                ranges[Key(process: process, point: point, action: .writeTHP), default: []].append(block..<(block + 512))
            }
        }
        for k in ranges.keys { ranges[k] = Self.merged(ranges[k]!.sorted { $0.lowerBound < $1.lowerBound }) }
        // Drop-after-reads only for processes that read something of this family.
        let readers = Set(ranges.keys.filter { $0.action == .read }.map(\.process))
        for k in ranges.keys where k.action == .dontneedAfterReads && !readers.contains(k.process) { ranges[k] = nil }
    }

    static func merged(_ list: [Range<UInt64>]) -> [Range<UInt64>] {
        var out: [Range<UInt64>] = []
        for r in list {
            if let last = out.last, last.upperBound >= r.lowerBound {
                out[out.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }

    /// Private memory: who writes and who drops, and when, so that each process ends with the
    /// frames the snapshot shows (see `RecordBuilder`).
    mutating func privateActions(_ states: [Int: PageState], inheritors: [Int], tree: RecordBuilder.Tree) -> [Key] {
        var holders: [UInt64: [Int]] = [:]
        var info: [UInt64: (mapcount: UInt64, exclusive: Bool, thp: Bool)] = [:]
        for (proc, s) in states {
            if case .frame(let key, let exclusive, let mapcount, _, let thp) = s {
                holders[key, default: []].append(proc)
                info[key] = (mapcount, exclusive, thp || (info[key]?.thp ?? false))
            }
        }
        var need: [Int: UInt64] = [:]
        for (key, h) in holders {
            let i = info[key]!
            if !i.exclusive && !i.thp && i.mapcount != UInt64(h.count) {
                problem = "frames mapped \(i.mapcount) times, \(h.count) of them by recorded processes: the others are outside the recording"
                return []
            }
            guard h.count > 1 else { continue }
            var l = h[0]
            for x in h { l = tree.lca(l, x)! }
            for x in h {
                var y = x
                while y != l {
                    if let other = need[y], other != key {
                        problem = "a process must inherit two different frames for one page"
                        return []
                    }
                    need[y] = key
                    y = tree.parent[y]!
                }
            }
        }
        var actions: [Key] = []
        var state: [Int: UInt64?] = [family.lca: nil]
        for x in inheritors {
            var current: UInt64? = state[x] ?? nil
            var left: Set<UInt64> = []
            if let n = need[x], current != n {
                problem = "the fork order cannot give a process the frame it shares"
                return []
            }
            func write(_ key: UInt64, at point: Int) -> Bool {
                if left.contains(key) || (need[x] == key && current != key) {
                    problem = "the fork order cannot give these frames (a frame comes back after it was replaced)"
                    return false
                }
                if let c = current { left.insert(c) }
                actions.append(Key(process: x, point: point, action: info[key]!.thp ? .writeTHP : .write))
                current = key
                return true
            }
            let children = tree.children[x]
            for (i, c) in children.enumerated() {
                if let g = need[c], current != g {
                    guard write(g, at: i) else { return [] }
                }
                state[c] = current
            }
            switch states[x] ?? .uncovered {
            case .uncovered:
                if states[x] == nil && uncovered.contains(x) { break }
                actions.append(Key(process: x, point: children.count, action: .munmap))
            case .absent:
                if current != nil { actions.append(Key(process: x, point: children.count, action: .dontneed)) }
            case .frame(let key, _, _, _, _):
                if current != key { guard write(key, at: children.count) else { return [] } }
            }
        }
        return actions.sorted()
    }

    /// Shared memory: every process touches the pages it maps, writing those whose folio is
    /// dirty, reading the others.
    mutating func sharedActions(_ states: [Int: PageState], inheritors: [Int], tree: RecordBuilder.Tree) -> [Key] {
        var count: UInt64 = 0
        var mapcount: UInt64 = 0
        for s in states.values { if case .frame(_, _, let m, _, _) = s { count += 1; mapcount = m } }
        if count > 0 && mapcount != count {
            problem = "shared pages mapped \(mapcount) times, \(count) of them by recorded processes: the others are outside the recording"
            return []
        }
        var actions: [Key] = []
        for x in inheritors {
            let point = tree.children[x].count
            switch states[x] ?? .uncovered {
            case .uncovered:
                if states[x] == nil && uncovered.contains(x) { break }
                actions.append(Key(process: x, point: point, action: .munmap))
            case .absent: actions.append(Key(process: x, point: point, action: .dontneedAfterReads))
            case .frame(_, _, _, let dirty, _): actions.append(Key(process: x, point: point, action: dirty || family.pageBytes > 4096 ? .write : .read))
            }
        }
        return actions.sorted()
    }

    // MARK: Rendering

    func sizeOptions(_ r: Range<UInt64>) -> String {
        var s = ""
        if r.lowerBound > 0 { s += " offset=\(WorkloadPrinter.format(size: r.lowerBound * 4096))" }
        if r.upperBound < family.pages { s += " length=\(WorkloadPrinter.format(size: (r.upperBound - r.lowerBound) * 4096))" }
        return s
    }

    func renderCreation(_ name: String, _ out: inout String) {
        out += "\n"
        for s in sources { out += "# p\(s)\n" }
        let huge = family.pageBytes > 4096 ? " huge=\(WorkloadPrinter.format(size: family.pageBytes))" : ""
        var file = ""
        if let id = family.fileID {
            file = " file=\(id)" + (family.start > 0 ? " fileoffset=\(WorkloadPrinter.format(size: family.start))" : "")
        }
        out += "\(name) mmap \(family.name) \(WorkloadPrinter.format(size: family.pages * 4096))\(family.kind == .sharedAnonymous ? " shared" : "")\(huge)\(file)\n"
        for r in padding { out += "\(name) munmap \(family.name)\(sizeOptions(r))\n" }
        for r in thpBlocks { out += "\(name) madvise \(family.name) hugepage\(sizeOptions(r))\n" }
    }

    func renderActions(process: Int, point: Int, _ name: String, _ out: inout String) {
        let keys = ranges.keys.filter { $0.process == process && $0.point == point }.sorted()
        let m = family.name
        for k in keys {
            for r in ranges[k]! {
                let o = sizeOptions(r)
                switch k.action {
                case .writeTHP:
                    out += "\(name) madvise \(m) dontneed\(o)\n\(name) touch \(m) write\(o)\n"
                case .write: out += "\(name) touch \(m) write\(o)\n"
                case .read: out += "\(name) touch \(m) read\(o)\n"
                case .dontneed, .dontneedAfterReads: out += "\(name) madvise \(m) dontneed\(o)\n"
                case .munmap: out += "\(name) munmap \(m)\(o)\n"
                }
            }
        }
        if uncovered.contains(process) && point == (lastPoint[process] ?? 0) {
            out += "\(name) munmap \(m)\n"
        }
    }
}
