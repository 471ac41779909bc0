import SomsimModel
import SomsimWorkload

/// The report's metrics, one descriptor each, in the contract's order and with its snake_case
/// names: how the value is read, how the Markdown report shows it, and how `somsim validate`
/// measures it and with what tolerance.
///
/// JSON, CSV and Markdown all render from this table (SomsimReport) and `somsim validate`
/// compares every entry (`ValidationReport.compare`), so the three formats and the validation
/// cannot drift apart: a new metric is one entry here (and the engine that computes it, and the
/// probe that measures it).
///
/// Every metric is measured in a way that is exact for the workload's own memory (see
/// docs/validation.md), so every tolerance is zero. A non-zero tolerance must come with the
/// reason the measurement cannot be exact; none is needed today.
public enum ReportFields {
    /// How a value is written for a person (the Markdown report); JSON and CSV write the number.
    public enum Unit: Sendable {
        /// Bytes in binary units: `4.0 KiB`.
        case bytes
        /// A plain count.
        case count
        /// 4 KiB pages: the count, then the bytes in binary units.
        case pages
    }

    /// Where the Markdown report shows a metric.
    public enum Markdown: Sendable, Equatable {
        /// A column of the per-process table, titled so; metrics with the same title are summed
        /// into one column. Columns follow the order of their first metric.
        case column(String)
        /// A clause of the line under the table (`System: …`): the title followed by the values
        /// of every metric with that title, joined by `/`. Clauses are ordered by `rank` within a
        /// `part`; parts are separated by semicolons.
        case clause(String, part: Int, rank: Int)
        /// Not in the Markdown report; JSON and CSV carry it.
        case none
    }

    /// One metric of a process (`Subject` = `ProcessMetrics`) or of the system (`SystemMetrics`).
    public struct Metric<Subject>: Sendable {
        /// The contract's name: a JSON key, a CSV `metric`, a validation check's metric.
        public var name: String
        public var unit: Unit
        public var markdown: Markdown
        /// The largest |measured − predicted| `somsim validate` accepts.
        public var tolerance: UInt64
        /// How `somsim validate` measures the value on the real kernel, and why that tolerance.
        public var measuredAs: String
        let read: @Sendable (Subject) -> UInt64

        public func value(of subject: Subject) -> UInt64 { read(subject) }
    }

    /// A metric's value, with its descriptor's name and presentation.
    public struct Field: Sendable {
        public var name: String
        public var value: UInt64
        public var unit: Unit
        public var markdown: Markdown
        public var tolerance: UInt64
    }

    public static let process: [Metric<ProcessMetrics>] = [
        Metric(
            name: "rss_bytes", unit: .bytes, markdown: .column("RSS"), tolerance: 0,
            measuredAs: "smaps Rss of the VMAs inside the workload window, kB → bytes; deterministic with THP off for the workload",
            read: { $0.rssBytes }),
        Metric(
            name: "pss_bytes", unit: .bytes, markdown: .column("PSS"), tolerance: 0,
            measuredAs: "pagemap + kpagecount: Σ (4096 << 12) / mapcount over present pages, >> 12 — the kernel's own fixed point, without smaps' per-VMA kB truncation",
            read: { $0.pssBytes }),
        Metric(
            name: "uss_bytes", unit: .bytes, markdown: .column("USS"), tolerance: 0,
            measuredAs: "smaps Private_Clean + Private_Dirty of the window's VMAs",
            read: { $0.ussBytes }),
        Metric(
            name: "private_clean_bytes", unit: .bytes, markdown: .none, tolerance: 0,
            measuredAs: "smaps Private_Clean of the window's VMAs",
            read: { $0.privateCleanBytes }),
        Metric(
            name: "private_dirty_bytes", unit: .bytes, markdown: .column("private dirty"), tolerance: 0,
            measuredAs: "smaps Private_Dirty of the window's VMAs",
            read: { $0.privateDirtyBytes }),
        Metric(
            name: "shared_clean_bytes", unit: .bytes, markdown: .column("shared"), tolerance: 0,
            measuredAs: "smaps Shared_Clean of the window's VMAs",
            read: { $0.sharedCleanBytes }),
        Metric(
            name: "shared_dirty_bytes", unit: .bytes, markdown: .column("shared"), tolerance: 0,
            measuredAs: "smaps Shared_Dirty of the window's VMAs",
            read: { $0.sharedDirtyBytes }),
        Metric(
            name: "private_hugetlb_bytes", unit: .bytes, markdown: .column("HugeTLB"), tolerance: 0,
            measuredAs: "smaps Private_Hugetlb of the window's VMAs",
            read: { $0.privateHugetlbBytes }),
        Metric(
            name: "shared_hugetlb_bytes", unit: .bytes, markdown: .column("HugeTLB"), tolerance: 0,
            measuredAs: "smaps Shared_Hugetlb of the window's VMAs",
            read: { $0.sharedHugetlbBytes }),
        Metric(
            name: "page_table_bytes", unit: .bytes, markdown: .column("page tables"), tolerance: 0,
            measuredAs: "VmPTE minus the agent's VmPTE before any workload call; the window is 512 GiB aligned and the agent's own tables are populated before it starts",
            read: { $0.pageTableBytes }),
        Metric(
            name: "minor_faults", unit: .count, markdown: .column("faults"), tolerance: 0,
            measuredAs: "Σ ru_minflt deltas the agent takes around each workload call (a no-op call measures 0)",
            read: { $0.minorFaults }),
        Metric(
            name: "cow_copies", unit: .count, markdown: .column("COW copies"), tolerance: 0,
            measuredAs: "write-touched pages whose pagemap PFN changed from a present, non-zero page",
            read: { $0.cowCopies }),
        Metric(
            name: "cow_reuses", unit: .count, markdown: .column("COW reuses"), tolerance: 0,
            measuredAs: "write faults of a touch minus those on absent pages, on the zero page and the copies",
            read: { $0.cowReuses }),
        Metric(
            name: "locked_bytes", unit: .bytes, markdown: .column("locked"), tolerance: 0,
            measuredAs: "VmLck of /proc/PID/status (mm->locked_vm: whole mlocked ranges, present or not) — the agent locks nothing of its own",
            read: { $0.lockedBytes }),
        Metric(
            name: "pss_anon_bytes", unit: .bytes, markdown: .column("PSS anon"), tolerance: 0,
            measuredAs: "pss_bytes over the anonymous frames only (kpageflags KPF_ANON, or pagemap without PM_FILE where kpageflags reads empty): Σ (4096 << 12) / mapcount, >> 12 — per-VMA smaps has no Pss_Anon (smaps_rollup alone prints it, for the whole process)",
            read: { $0.pssAnonBytes }),
        Metric(
            name: "anon_huge_pages_bytes", unit: .bytes, markdown: .column("anon THP"), tolerance: 0,
            measuredAs: "smaps AnonHugePages of the window's VMAs, kB → bytes (whole PMD-mapped anonymous THPs: exact)",
            read: { $0.anonHugePagesBytes }),
    ]

    public static let system: [Metric<SystemMetrics>] = [
        Metric(
            name: "memmap_pages", unit: .pages, markdown: .clause("memmap", part: 0, rank: 2), tolerance: 0,
            measuredAs: "the model's memmap for the workload's RAM + the change of nr_memmap_pages + nr_memmap_boot_pages since before the pools were set",
            read: { $0.memmapPages }),
        Metric(
            name: "hugetlb_2m_total", unit: .count, markdown: .clause("HugeTLB 2M total/free/reserved", part: 1, rank: 0), tolerance: 0,
            measuredAs: "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages; validate refuses a pool the model trims, so both are the machine line's",
            read: { $0.hugetlb2MTotal }),
        Metric(
            name: "hugetlb_1g_total", unit: .count, markdown: .clause("1G", part: 1, rank: 1), tolerance: 0,
            measuredAs: "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages",
            read: { $0.hugetlb1GTotal }),
        Metric(
            name: "hugetlb_2m_free", unit: .count, markdown: .clause("HugeTLB 2M total/free/reserved", part: 1, rank: 0), tolerance: 0,
            measuredAs: "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages; the pool is the run's alone",
            read: { $0.hugetlb2MFree }),
        Metric(
            name: "hugetlb_2m_reserved", unit: .count, markdown: .clause("HugeTLB 2M total/free/reserved", part: 1, rank: 0), tolerance: 0,
            measuredAs: "/sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages",
            read: { $0.hugetlb2MReserved }),
        Metric(
            name: "hugetlb_1g_free", unit: .count, markdown: .clause("1G", part: 1, rank: 1), tolerance: 0,
            measuredAs: "/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages",
            read: { $0.hugetlb1GFree }),
        Metric(
            name: "hugetlb_1g_reserved", unit: .count, markdown: .clause("1G", part: 1, rank: 1), tolerance: 0,
            measuredAs: "/sys/kernel/mm/hugepages/hugepages-1048576kB/resv_hugepages",
            read: { $0.hugetlb1GReserved }),
        Metric(
            name: "hugetlb_2m_surplus", unit: .count, markdown: .clause("HugeTLB surplus 2M/1G", part: 1, rank: 2), tolerance: 0,
            measuredAs: "/sys/kernel/mm/hugepages/hugepages-2048kB/surplus_hugepages (HugePages_Surp of the 2 MiB pool)",
            read: { $0.hugetlb2MSurplus }),
        Metric(
            name: "hugetlb_1g_surplus", unit: .count, markdown: .clause("HugeTLB surplus 2M/1G", part: 1, rank: 2), tolerance: 0,
            measuredAs: "/sys/kernel/mm/hugepages/hugepages-1048576kB/surplus_hugepages",
            read: { $0.hugetlb1GSurplus }),
        Metric(
            name: "anon_bytes", unit: .bytes, markdown: .clause("anonymous memory", part: 0, rank: 0), tolerance: 0,
            measuredAs: "distinct PFNs of anonymous (KPF_ANON) pages in the window of every live agent; AnonPages in /proc/meminfo is machine-wide and is only reported",
            read: { $0.anonBytes }),
        Metric(
            name: "page_table_bytes", unit: .bytes, markdown: .clause("page tables", part: 0, rank: 1), tolerance: 0,
            measuredAs: "Σ per-process workload tables + one PGD per live process (4 KiB without PTI, 8 KiB with; kernel-facts 7h); PageTables in /proc/meminfo is machine-wide and is only reported",
            read: { $0.pageTableBytes }),
        Metric(
            name: "shmem_bytes", unit: .bytes, markdown: .clause("shmem", part: 0, rank: 3), tolerance: 0,
            measuredAs: "Σ st_blocks × 512 of every distinct tmpfs inode the live agents map in the window (/proc/PID/map_files) or hold open (/proc/PID/fd), and of the run's files in /dev/shm; plus the rss in /proc/sysvipc/shm of the run's 4 KiB SysV segments, attached or not; Shmem in /proc/meminfo is machine-wide, its per-CPU counts folded in lazily, and is only reported",
            read: { $0.shmemBytes }),
        // The single-owner pool (issue 11): a proposal, not today's kernel. validate refuses
        // workloads with `som` mappings, so both sides are 0 wherever it runs.
        Metric(
            name: "som_pool_chunks", unit: .count, markdown: .none, tolerance: 0,
            measuredAs: "not measured: the single-owner pool does not exist in the kernel, and validate refuses som mappings (0 on both sides)",
            read: { $0.somPoolChunks }),
        Metric(
            name: "som_units_used", unit: .count, markdown: .none, tolerance: 0,
            measuredAs: "not measured: see som_pool_chunks", read: { $0.somUnitsUsed }),
        Metric(
            name: "som_units_free", unit: .count, markdown: .none, tolerance: 0,
            measuredAs: "not measured: see som_pool_chunks", read: { $0.somUnitsFree }),
        Metric(
            name: "som_stranded_bytes", unit: .bytes, markdown: .none, tolerance: 0,
            measuredAs: "not measured: see som_pool_chunks", read: { $0.somStrandedBytes }),
        Metric(
            name: "som_fragmented_units", unit: .count, markdown: .none, tolerance: 0,
            measuredAs: "not measured: see som_pool_chunks", read: { $0.somFragmentedUnits }),
    ]

    public static func fields(of p: ProcessMetrics) -> [Field] { process.map { $0.field(of: p) } }

    public static func fields(of s: SystemMetrics) -> [Field] { system.map { $0.field(of: s) } }
}

extension ReportFields.Metric {
    func field(of subject: Subject) -> ReportFields.Field {
        ReportFields.Field(name: name, value: value(of: subject), unit: unit, markdown: markdown, tolerance: tolerance)
    }
}
