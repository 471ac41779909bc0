#if os(Linux)
import CSomsimProbeSupport
import Glibc
import SomsimWorkload

/// The machine settings a validation run may change, read from the kernel.
///
/// `snapshot()` reads them; `problems(for:…)` checks that the workload's `machine` line can be
/// met without changing anything; `registerRestore` puts the snapshot in the restore plan (which
/// a signal handler can run, and which is journaled) before `apply` changes any setting.
public struct MachineSettings: Equatable, Sendable {
    public static let pool2MPath = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
    public static let pool1GPath = "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"
    /// Surplus pages each pool may add (`nr_overcommit_hugepages`).
    public static let overcommit2MPath = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_overcommit_hugepages"
    public static let overcommit1GPath = "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_overcommit_hugepages"
    /// `kernel.shm_rmid_forced`: when 1, a process's SysV segments are removed at its exit.
    public static let shmRmidForcedPath = "/proc/sys/kernel/shm_rmid_forced"
    public static let hvoPath = "/proc/sys/vm/hugetlb_optimize_vmemmap"
    public static let thpPath = "/sys/kernel/mm/transparent_hugepage/enabled"
    /// Proactive compaction (`vm.compaction_proactiveness`, 0–100): kcompactd migrates pages in
    /// the background when it is above 0.
    public static let compactionPath = "/proc/sys/vm/compaction_proactiveness"
    /// How long khugepaged sleeps between scans; a write wakes it for one scan, then it sleeps
    /// the new time (mm/khugepaged.c: scan_sleep_millisecs_store).
    public static let khugepagedSleepPath = "/sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs"
    /// What a run sets khugepaged's sleep to: a day, longer than any run.
    public static let khugepagedRunSleep = "86400000"
    /// How many empty (or zero-page) and how many shared PTEs khugepaged accepts in a 2 MiB
    /// block it collapses (mm/khugepaged.c: hpage_collapse_scan_pmd, is_khugepaged limits; a
    /// MADV_COLLAPSE ignores both). A run sets both to 0: sleeping does not keep khugepaged
    /// from the scan it makes when a process's mm is the first on its empty list
    /// (__khugepaged_enter wakes it) — measured: a heap grown over a 2 MiB block with nine small
    /// pages in it was collapsed right away (validation/malloc-thp-heap.somw) — and with both at
    /// 0 it collapses only blocks whose every page is present and private, which changes no
    /// metric (its frames move: the run's note says so).
    public static let khugepagedMaxPtesNonePath = "/sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_none"
    public static let khugepagedMaxPtesSharedPath = "/sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_shared"
    /// DAMON's sysfs interface (mm/damon/sysfs.c): a directory per kdamond, each with a `state`
    /// file (`on` or `off`).
    public static let damonKdamondsPath = "/sys/kernel/mm/damon/admin/kdamonds"
    /// Says whether the kernel isolates page tables (`Mitigation: PTI`) or not.
    public static let ptiPath = "/sys/devices/system/cpu/vulnerabilities/meltdown"

    /// HugeTLB pool sizes, in pages of 2 MiB and 1 GiB.
    public var pool2MPages: UInt64
    public var pool1GPages: UInt64
    /// `nr_overcommit_hugepages` of each pool.
    public var overcommit2MPages: UInt64 = 0
    public var overcommit1GPages: UInt64 = 0
    /// `vm.hugetlb_optimize_vmemmap`.
    public var hvo: Bool
    /// The selected THP mode (the bracketed word of the sysfs file).
    public var thp: String
    /// Per-size (multi-size THP) modes: `hugepages-SIZEkB/enabled` files and their selected word.
    public var mthpModes: [String: String] = [:]
    /// `vm.compaction_proactiveness` and khugepaged's `scan_sleep_millisecs` as text, when the
    /// kernel has them. A run quiets both: a page that kcompactd migrates or khugepaged collapses
    /// while a touch runs changes its frame as a COW copy does, and the run would count a copy
    /// the workload did not make.
    public var compactionProactiveness: String?
    public var khugepagedSleep: String?
    public var khugepagedMaxPtesNone: String?
    public var khugepagedMaxPtesShared: String?
    /// Each DAMON kdamond's `state` file and what it said (`on`, `off`). A run turns off the
    /// ones that are on: a DAMON scheme acts on pages by physical address, whoever maps them —
    /// this machine kind's kdamond pages out regions it has seen cold for a minute, and reclaim
    /// splits a THP it cannot swap out whole (mm/vmscan.c: shrink_folio_list), which changes the
    /// run's `AnonHugePages`; a `migrate_*` scheme would move frames as compaction does.
    public var damonStates: [String: String] = [:]
    /// hugetlbfs mounts, as `/proc/mounts` lists them: mount point and page size in bytes.
    public var hugetlbfsMounts: [HugetlbfsMount]

    public struct HugetlbfsMount: Equatable, Sendable {
        public var directory: String
        public var pageBytes: UInt64
    }

    /// The settings as they are now.
    public static func snapshot() throws -> MachineSettings {
        let thp = try selectedWord(thpPath)
        var mthpModes: [String: String] = [:]
        for path in mthpPaths() { mthpModes[path] = try selectedWord(path) }
        return MachineSettings(
            pool2MPages: try KernelFiles.readNumber(pool2MPath),
            pool1GPages: KernelFiles.exists(pool1GPath) ? try KernelFiles.readNumber(pool1GPath) : 0,
            overcommit2MPages: KernelFiles.exists(overcommit2MPath) ? try KernelFiles.readNumber(overcommit2MPath) : 0,
            overcommit1GPages: KernelFiles.exists(overcommit1GPath) ? try KernelFiles.readNumber(overcommit1GPath) : 0,
            hvo: KernelFiles.exists(hvoPath) ? try KernelFiles.readNumber(hvoPath) != 0 : false,
            thp: thp,
            mthpModes: mthpModes,
            compactionProactiveness: KernelFiles.exists(compactionPath) ? try trimmed(compactionPath) : nil,
            khugepagedSleep: KernelFiles.exists(khugepagedSleepPath) ? try trimmed(khugepagedSleepPath) : nil,
            khugepagedMaxPtesNone: KernelFiles.exists(khugepagedMaxPtesNonePath) ? try trimmed(khugepagedMaxPtesNonePath) : nil,
            khugepagedMaxPtesShared: KernelFiles.exists(khugepagedMaxPtesSharedPath) ? try trimmed(khugepagedMaxPtesSharedPath) : nil,
            damonStates: try damonStates(),
            hugetlbfsMounts: try hugetlbfsMounts())
    }

    /// The `state` of every kdamond (`damonKdamondsPath/N/state`), by path; empty when the
    /// kernel has no DAMON sysfs interface.
    static func damonStates() throws -> [String: String] {
        guard let directory = opendir(damonKdamondsPath) else { return [:] }
        defer { closedir(directory) }
        var states: [String: String] = [:]
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            let path = "\(damonKdamondsPath)/\(name)/state"
            if !name.isEmpty && name.allSatisfy(\.isNumber) && KernelFiles.exists(path) { states[path] = try trimmed(path) }
        }
        return states
    }

    /// The kdamonds a run turns off: those running now, by their `state` paths, sorted.
    public var runningKdamonds: [String] { damonStates.filter { $0.value == "on" }.keys.sorted() }

    /// A one-value file's text without its newline.
    static func trimmed(_ path: String) throws -> String {
        String(try KernelFiles.read(path).split(separator: "\n").first ?? "")
    }

    /// The bracketed word of a sysfs choice file (`always [madvise] never` → `madvise`).
    static func selectedWord(_ path: String) throws -> String {
        let text = try KernelFiles.read(path)
        return text.split(separator: " ").first { $0.hasPrefix("[") }.map { String($0.dropFirst().prefix { $0 != "]" }) } ?? "never"
    }

    /// The per-size THP files, `…/transparent_hugepage/hugepages-SIZEkB/enabled`, sorted.
    static func mthpPaths() -> [String] {
        let base = "/sys/kernel/mm/transparent_hugepage"
        guard let directory = opendir(base) else { return [] }
        defer { closedir(directory) }
        var paths: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            // Some sizes exist for shmem only and have no anonymous `enabled` file.
            let path = "\(base)/\(name)/enabled"
            if name.hasPrefix("hugepages-") && name.hasSuffix("kB") && KernelFiles.exists(path) { paths.append(path) }
        }
        return paths.sorted()
    }

    /// The size in bytes a per-size THP file is for (`hugepages-64kB/enabled` → 65536).
    static func mthpSize(_ path: String) -> UInt64? {
        guard let name = path.split(separator: "/").first(where: { $0.hasPrefix("hugepages-") }) else { return nil }
        return UInt64(name.dropFirst("hugepages-".count).dropLast(2)).map { $0 << 10 }
    }

    static func hugetlbfsMounts() throws -> [HugetlbfsMount] {
        var mounts: [HugetlbfsMount] = []
        for line in try KernelFiles.read("/proc/mounts").split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count >= 4, parts[2] == "hugetlbfs" else { continue }
            var pageBytes: UInt64 = PageGeometry.pmdBytes
            for option in parts[3].split(separator: ",") where option.hasPrefix("pagesize=") {
                let value = option.dropFirst("pagesize=".count)
                if let n = UInt64(value.dropLast()) {
                    switch value.last {
                    case "K": pageBytes = n << 10
                    case "M": pageBytes = n << 20
                    case "G": pageBytes = n << 30
                    default: break
                    }
                }
            }
            mounts.append(HugetlbfsMount(directory: String(parts[1]), pageBytes: pageBytes))
        }
        return mounts
    }

    /// Machine facts the probe compares against but cannot set.
    public struct Facts: Sendable {
        /// Present memory: memory blocks × block size (the memmap covers these sections).
        public var presentBytes: UInt64
        public var memTotalBytes: UInt64
        public var memAvailableBytes: UInt64
        /// Page-table isolation in use (`Mitigation: PTI` in `ptiPath`), nil when that file
        /// cannot be read.
        public var pti: Bool?
        /// What `ptiPath` says (`Not affected`, `Mitigation: PTI`, …), for messages.
        public var ptiText: String
        public var root: Bool
        public var hugetlbfs: Bool

        public static func read() throws -> Facts {
            let meminfo = try KernelFiles.keyValues("/proc/meminfo")
            var present: UInt64 = 0
            if let blockText = try? KernelFiles.read("/sys/devices/system/memory/block_size_bytes"),
                let block = UInt64(blockText.trimmingWhitespace, radix: 16), let dir = opendir("/sys/devices/system/memory")
            {
                defer { closedir(dir) }
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                    if name.hasPrefix("memory"), UInt64(name.dropFirst(6)) != nil { present += block }
                }
            }
            let meltdown = (try? KernelFiles.read(ptiPath))?.trimmingWhitespace
            let filesystems = (try? KernelFiles.read("/proc/filesystems")) ?? ""
            return Facts(
                presentBytes: present, memTotalBytes: (meminfo["MemTotal"] ?? 0) * 1024,
                memAvailableBytes: (meminfo["MemAvailable"] ?? 0) * 1024, pti: meltdown.map { $0.contains("PTI") },
                ptiText: meltdown ?? "", root: geteuid() == 0, hugetlbfs: filesystems.contains("hugetlbfs"))
        }
    }

    /// Memory the run keeps free for everything else while the pools are allocated.
    public static let headroomBytes: UInt64 = 512 << 20

    /// Everything that keeps `machine` from being met here; empty when the run can go ahead.
    public static func problems(
        for machine: MachineSpec, usesHugeTLB: Bool, usesSingleOwner: Bool = false, usesSysVShm: Bool = false, sysctlPoolPages: [HugePageSize: UInt64] = [:],
        facts: Facts
    ) -> [String] {
        var problems: [String] = []
        if usesSysVShm, let forced = try? KernelFiles.readNumber(shmRmidForcedPath), forced != 0 {
            problems.append("kernel.shm_rmid_forced is \(forced): the kernel removes a process's SysV segments when it exits, which the model does not; set it to 0 to validate shmget workloads")
        }
        if usesSingleOwner {
            problems.append("`som` mappings are single-owner pool memory, a proposal today's kernel does not have; validate runs today's kernel (simulate or compare such workloads instead)")
        }
        for size in machine.mthpSizes where !KernelFiles.exists("/sys/kernel/mm/transparent_hugepage/hugepages-\(size >> 10)kB/enabled") {
            problems.append("mthp=\(size >> 10)K: this kernel has no \(size >> 10) KiB THP size")
        }
        if !facts.root { problems.append("not running as root: pools, vm.hugetlb_optimize_vmemmap, THP and mounts need root") }
        if (usesHugeTLB || machine.hugetlb2MPages > 0 || machine.hugetlb1GPages > 0) && !facts.hugetlbfs {
            problems.append("the kernel has no hugetlbfs (CONFIG_HUGETLBFS)")
        }
        if (machine.hugetlb1GPages > 0 || (sysctlPoolPages[.size1G] ?? 0) > 0) && !KernelFiles.exists(pool1GPath) {
            problems.append("the kernel has no 1 GiB HugeTLB pages")
        }
        if machine.hvo && !KernelFiles.exists(hvoPath) { problems.append("the kernel has no vm.hugetlb_optimize_vmemmap (HVO)") }
        if machine.hvo && machine.hvoKeptPages != 1 {
            problems.append("hvo-kept=\(machine.hvoKeptPages): this kernel keeps 1 vmemmap page per huge page (5.18+); use hvo-kept=1")
        }
        if let pti = facts.pti {
            if machine.ptiGiven && machine.pti != pti {
                problems.append(
                    "the workload says pti=\(machine.pti ? "on" : "off") but this machine runs \(pti ? "with" : "without") page-table isolation (\(ptiPath): \(facts.ptiText)); leave pti out of the machine line to validate with this machine's setting, or run it on a machine \(machine.pti ? "with" : "without") PTI")
            }
        } else {
            problems.append("cannot tell whether this machine isolates page tables: \(ptiPath) cannot be read")
        }
        if !KernelFiles.exists(thpPath) && machine.thp != .never { problems.append("the kernel has no transparent huge pages") }
        for (size, directory) in [("2 MiB", "hugepages-2048kB"), ("1 GiB", "hugepages-1048576kB")] {
            let base = "/sys/kernel/mm/hugepages/\(directory)"
            if let total = try? KernelFiles.readNumber(base + "/nr_hugepages"), let free = try? KernelFiles.readNumber(base + "/free_hugepages"),
                total > free
            {
                problems.append("\(total - free) HugeTLB pages of \(size) are in use by other programs; resizing the pool would disturb them")
            }
        }
        // Pool sizes come from the workload and may be near 2^64: the sum saturates instead of trapping.
        // The most each pool holds: its largest size (machine line or sysctl), plus the surplus
        // pages it may add.
        let pool2M = saturatingSum([max(machine.hugetlb2MPages, sysctlPoolPages[.size2M] ?? 0), machine.hugetlb2MOvercommit])
        let pool1G = max(machine.hugetlb1GPages, sysctlPoolPages[.size1G] ?? 0)
        let poolBytes = saturatingSum([saturatingProduct(pool2M, PageGeometry.pmdBytes), saturatingProduct(pool1G, PageGeometry.pudBytes)])
        if saturatingSum([poolBytes, headroomBytes]) > facts.memAvailableBytes {
            problems.append(
                "not enough free memory: the pools need \(poolBytes == .max ? "more than 16 EiB" : "\(poolBytes >> 20) MiB") + \(headroomBytes >> 20) MiB headroom, MemAvailable is \(facts.memAvailableBytes >> 20) MiB")
        }
        return problems
    }

    /// Registers this snapshot with the restore plan (and its journal), so that `somsim_restore_now`
    /// (at the end of the run, on an error, from the SIGINT/SIGTERM handler, or at the next start
    /// after SIGKILL) writes every value back. Pools are registered last so they are restored
    /// first, under the HVO setting they were sized with.
    func registerRestore() throws {
        // First, so that it is restored last: DAMON starts again once everything else is back.
        // (Only those the run turns off: a running kdamond refuses `on`.)
        for path in runningKdamonds { try RestorePlan.write(path, "on") }
        if KernelFiles.exists(Self.hvoPath) { try RestorePlan.write(Self.hvoPath, hvo ? "1" : "0") }
        if KernelFiles.exists(Self.thpPath) { try RestorePlan.write(Self.thpPath, thp) }
        for (path, mode) in mthpModes.sorted(by: { $0.key < $1.key }) { try RestorePlan.write(path, mode) }
        if let compactionProactiveness { try RestorePlan.write(Self.compactionPath, compactionProactiveness) }
        if let khugepagedSleep { try RestorePlan.write(Self.khugepagedSleepPath, khugepagedSleep) }
        if let khugepagedMaxPtesNone { try RestorePlan.write(Self.khugepagedMaxPtesNonePath, khugepagedMaxPtesNone) }
        if let khugepagedMaxPtesShared { try RestorePlan.write(Self.khugepagedMaxPtesSharedPath, khugepagedMaxPtesShared) }
        // (1 GiB: this kernel refuses every write to it, even of 0; Run.setUpMachine registers
        // it only once a write was taken.)
        if KernelFiles.exists(Self.overcommit2MPath) { try RestorePlan.write(Self.overcommit2MPath, String(overcommit2MPages)) }
        if KernelFiles.exists(Self.pool1GPath) { try RestorePlan.write(Self.pool1GPath, String(pool1GPages)) }
        try RestorePlan.write(Self.pool2MPath, String(pool2MPages))
    }

    /// Empties the pools (so the run starts from a memmap without HugeTLB pages), surplus pages
    /// off first.
    static func emptyPools() throws {
        if KernelFiles.exists(overcommit2MPath) { try KernelFiles.write(overcommit2MPath, "0") }
        try KernelFiles.write(pool2MPath, "0")
        if KernelFiles.exists(pool1GPath) { try KernelFiles.write(pool1GPath, "0") }
    }

    /// Sets HVO, THP and the pools as `machine` asks; throws when the kernel gives fewer pages.
    /// Quiets proactive compaction and khugepaged for the run, and turns off the DAMON kdamonds
    /// `before` found running (each setting is in the restore plan: `registerRestore`): the model
    /// has none of them, and no page may move or split while the run counts it.
    static func apply(_ machine: MachineSpec, before: MachineSettings) throws {
        // mm/damon/sysfs.c: `off` stops the kdamond (damon_stop waits for its thread); its
        // parameters stay in sysfs, and `on` starts it with them again.
        for path in before.runningKdamonds { try KernelFiles.write(path, "off") }
        if KernelFiles.exists(compactionPath) { try KernelFiles.write(compactionPath, "0") }
        // Before any agent exists: the write wakes khugepaged for one scan, of other processes.
        if KernelFiles.exists(khugepagedSleepPath) { try KernelFiles.write(khugepagedSleepPath, khugepagedRunSleep) }
        if KernelFiles.exists(khugepagedMaxPtesNonePath) { try KernelFiles.write(khugepagedMaxPtesNonePath, "0") }
        if KernelFiles.exists(khugepagedMaxPtesSharedPath) { try KernelFiles.write(khugepagedMaxPtesSharedPath, "0") }
        if KernelFiles.exists(hvoPath) { try KernelFiles.write(hvoPath, machine.hvo ? "1" : "0") }
        if KernelFiles.exists(thpPath) { try KernelFiles.write(thpPath, machine.thp.rawValue) }
        // The model lets the PMD size and each `mthp=` size follow the top-level mode (`inherit`)
        // and allocates no other size: set every per-size file to match.
        for path in mthpPaths() {
            guard let size = mthpSize(path) else { continue }
            let follows = size == PageGeometry.pmdBytes || machine.mthpSizes.contains(size)
            try KernelFiles.write(path, follows ? "inherit" : "never")
        }
        // Surplus 2 MiB pages as the machine line says (0 unless given): the model's pool adds
        // them on demand. (1 GiB: see Run.setUpMachine.)
        if KernelFiles.exists(overcommit2MPath) { try KernelFiles.write(overcommit2MPath, String(machine.hugetlb2MOvercommit)) }
        for (path, pages, size) in [(pool2MPath, machine.hugetlb2MPages, "2 MiB"), (pool1GPath, machine.hugetlb1GPages, "1 GiB")] {
            guard pages > 0 else { continue }
            try KernelFiles.write(path, String(pages))
            let got = try KernelFiles.readNumber(path)
            if got != pages {
                throw ProbeError.setting(path, String(pages), "the kernel allocated only \(got) pages of \(size) (memory too fragmented or too small)")
            }
        }
    }
}

/// `a × b`, or `UInt64.max` when it does not fit.
func saturatingProduct(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let (p, overflow) = a.multipliedReportingOverflow(by: b)
    return overflow ? .max : p
}

/// The sum, or `UInt64.max` when it does not fit.
func saturatingSum(_ values: [UInt64]) -> UInt64 {
    values.reduce(0) { total, v in
        let (s, overflow) = total.addingReportingOverflow(v)
        return overflow ? .max : s
    }
}
#endif
