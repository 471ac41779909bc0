/// Writes workloads back as canonical workload text.
///
/// The output parses back to the same machine and statements (`repeat` blocks are not
/// reconstructed: one line per expanded statement). Canonical means:
/// - the header, then one `param NAME=VALUE` line per param in file order with the value the
///   workload was parsed with (its uses are already replaced in the statements below);
/// - then a `machine` line only if some setting differs from its default or `pti` is
///   given, listing only those settings, in the order ram, hugetlb-2m, hugetlb-1g, hvo, hvo-kept,
///   thp, pti, mthp, som-source, som-pool, virt, guest-page, host-page, malloc, mmap-threshold,
///   trim-threshold, top-pad;
/// - one statement per line, single spaces, no comments;
/// - mmap options in the order shared, huge=, file=, populate, som, page=;
/// - touch options in the order offset=, length=, then stride= or random= seed=; `offset=` is left
///   out when it is 0 and `length=` when the range runs to the end of the mapping;
/// - sizes as `format(size:)` spells them.
public enum WorkloadPrinter {
    /// The whole workload, header first, one line per statement, each ending in a newline.
    public static func print(_ w: Workload) -> String {
        var out = "somsim-workload 1\n"
        for param in w.params {
            out += "param \(param.name)=\(param.value)\n"
        }
        if let machine = format(machine: w.machine) {
            out += machine
            out += "\n"
        }
        for s in w.statements {
            out += format(s.value)
            out += "\n"
        }
        return out
    }

    /// The `machine` line for non-default settings; nil when every setting is the default.
    public static func format(machine m: MachineSpec) -> String? {
        let d = MachineSpec()
        var parts: [String] = []
        if m.ramBytes != d.ramBytes { parts.append("ram=\(format(size: m.ramBytes))") }
        if m.hugetlb2MPages != d.hugetlb2MPages { parts.append("hugetlb-2m=\(m.hugetlb2MPages)") }
        if m.hugetlb1GPages != d.hugetlb1GPages { parts.append("hugetlb-1g=\(m.hugetlb1GPages)") }
        if m.hugetlb2MOvercommit != d.hugetlb2MOvercommit { parts.append("hugetlb-2m-overcommit=\(m.hugetlb2MOvercommit)") }
        if m.hugetlb1GOvercommit != d.hugetlb1GOvercommit { parts.append("hugetlb-1g-overcommit=\(m.hugetlb1GOvercommit)") }
        if m.hvo != d.hvo { parts.append("hvo=\(m.hvo ? "on" : "off")") }
        if m.hvoKeptPages != d.hvoKeptPages { parts.append("hvo-kept=\(m.hvoKeptPages)") }
        if m.thp != d.thp { parts.append("thp=\(m.thp.rawValue)") }
        if m.ptiGiven { parts.append("pti=\(m.pti ? "on" : "off")") }
        if m.mthpSizes != d.mthpSizes { parts.append("mthp=" + m.mthpSizes.map { format(size: $0) }.joined(separator: ",")) }
        if m.somSource != d.somSource { parts.append("som-source=\(m.somSource.rawValue)") }
        if m.somPoolBytes != d.somPoolBytes { parts.append("som-pool=\(format(size: m.somPoolBytes))") }
        if let virt = m.virt { parts.append("virt=\(virt.token)") }
        if let page = m.guestPage { parts.append("guest-page=\(page.token)") }
        if m.hostPage != d.hostPage { parts.append("host-page=\(m.hostPage.token)") }
        if m.malloc != d.malloc { parts.append("malloc=\(m.malloc.rawValue)") }
        if let bytes = m.mallocMmapThreshold { parts.append("mmap-threshold=\(format(size: bytes))") }
        if let bytes = m.mallocTrimThreshold { parts.append("trim-threshold=\(format(size: bytes))") }
        if let bytes = m.mallocTopPad { parts.append("top-pad=\(format(size: bytes))") }
        return parts.isEmpty ? nil : "machine " + parts.joined(separator: " ")
    }

    /// One statement as a line of workload text (without a newline): `Statement.text`, which
    /// lives beside the statement's case so that a new statement is spelled where it is declared.
    public static func format(_ s: Statement) -> String { s.text }

    /// The canonical spelling of a size in bytes: `0` for zero; otherwise the largest of `T`, `G`,
    /// `M`, `K` that divides it exactly (`3T`, `1G`, `2M`, `1536K`); otherwise the byte count with
    /// the `B` suffix (`4097B`).
    public static func format(size bytes: UInt64) -> String { Sizes.format(bytes) }
}

extension Workload {
    /// The statements without their source locations, for comparing workloads by meaning
    /// (a printed and re-parsed workload has the same values at different lines).
    public var statementValues: [Statement] { statements.map(\.value) }

    /// Whether two workloads ask for the same machine and the same statements, wherever they came from.
    public func hasSameContent(as other: Workload) -> Bool {
        machine == other.machine && statementValues == other.statementValues
    }
}
