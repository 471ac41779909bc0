/// Writes workloads whose private anonymous memory is split into allocations of chosen sizes:
/// `somsim generate alloc-mix`. Each allocation is one folio, so the folio census — what
/// memdescs cost — follows the mix.
///
/// How each size class becomes folios of that size (Linux 6.18):
/// - 4 KiB: one region with `madvise nohugepage`: every fault allocates an order-0 folio;
/// - 2 MiB: one region (a multiple of 2 MiB, so PMD-aligned) with `madvise hugepage`: PMD THPs;
/// - sizes in between: one mapping per allocation, `madvise hugepage`, with the size enabled as
///   mTHP (`mthp=`); a mapping exactly one folio long can only hold a folio of that size. The
///   classes are written largest first, so that every mapping, placed top-down below the one
///   before, is aligned to its own size.
/// The machine gets `thp=madvise` (when a class is larger than 4 KiB) and `mthp=` the sizes in
/// between; memory not in the mix stays free.
public struct AllocMix: Equatable, Sendable {
    /// One size class: allocations of `sizeBytes`, holding `percent` of the allocated memory.
    public struct SizeClass: Equatable, Sendable {
        public var sizeBytes: UInt64
        public var percent: Double
        public init(sizeBytes: UInt64, percent: Double) {
            self.sizeBytes = sizeBytes
            self.percent = percent
        }
    }

    public var ramBytes: UInt64
    /// Share of RAM the allocations fill, percent.
    public var fillPercent: Double
    public var classes: [SizeClass]

    public init(ramBytes: UInt64, fillPercent: Double = 100, classes: [SizeClass]) {
        self.ramBytes = ramBytes
        self.fillPercent = fillPercent
        self.classes = classes
    }

    /// Why a mix cannot be written.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Checks sizes (powers of two from 4 KiB to 2 MiB) and shares (non-negative, at most 100
    /// in all).
    public func validate() throws(Problem) {
        guard !classes.isEmpty else { throw Problem(description: "the mix has no size class") }
        for c in classes {
            guard c.sizeBytes >= 4096, c.sizeBytes <= 2 << 20, c.sizeBytes & (c.sizeBytes - 1) == 0 else {
                throw Problem(description: "allocation size \(Sizes.format(c.sizeBytes)) is not a power of two from 4K to 2M")
            }
            guard c.percent >= 0 else { throw Problem(description: "a share cannot be negative") }
        }
        guard Set(classes.map(\.sizeBytes)).count == classes.count else { throw Problem(description: "a size is given twice") }
        let total = classes.reduce(0) { $0 + $1.percent }
        guard total <= 100.0001 else { throw Problem(description: "the shares add up to \(total)%, more than 100%") }
        guard fillPercent > 0, fillPercent <= 100 else { throw Problem(description: "fill must be more than 0% and at most 100%") }
    }

    /// Allocations of each class: the class's share of the filled memory, in whole allocations
    /// (2 MiB and 4 KiB classes in whole 2 MiB and 4 KiB units).
    public func counts() -> [(size: UInt64, count: UInt64)] {
        let filled = Double(ramBytes) * fillPercent / 100
        return classes.sorted { $0.sizeBytes > $1.sizeBytes }.map { c in
            (c.sizeBytes, UInt64((filled * c.percent / 100 / Double(c.sizeBytes)).rounded(.down)))
        }
    }

    /// The workload text.
    public func text() -> String {
        let counts = counts()
        let between = counts.map(\.size).filter { $0 > 4096 && $0 < 2 << 20 }.sorted()
        var out = "somsim-workload 1\n"
        let mix = classes.map { "\(Sizes.format($0.sizeBytes)):\(Self.number($0.percent))" }.joined(separator: ",")
        out += "# somsim generate alloc-mix: \(Sizes.format(ramBytes)) RAM, \(Self.number(fillPercent))% filled, mix \(mix)\n"
        var machine = "machine ram=\(Sizes.format(ramBytes))"
        if counts.contains(where: { $0.size > 4096 && $0.count > 0 }) { machine += " thp=madvise" }
        if !between.isEmpty { machine += " mthp=" + between.map { Sizes.format($0) }.joined(separator: ",") }
        out += machine + "\nspawn app\n"
        for (size, count) in counts where count > 0 {
            let tag = Sizes.format(size).lowercased()
            switch size {
            case 2 << 20, 4096:
                let advice = size == 4096 ? "nohugepage" : "hugepage"
                out += "app mmap a\(tag) \(Sizes.format(size * count))\n"
                out += "app madvise a\(tag) \(advice)\n"
                out += "app touch a\(tag) write\n"
            default:
                out += "repeat \(count) as i {\n"
                out += "  app mmap a\(tag)_{i} \(Sizes.format(size))\n"
                out += "  app madvise a\(tag)_{i} hugepage\n"
                out += "  app touch a\(tag)_{i} write\n"
                out += "}\n"
            }
        }
        out += "measure filled\n"
        return out
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int64(value)) : String(value)
    }
}

extension AllocMix {
    /// A size as workload files write it (`64K`, `2M`, `4097B`), for command-line options.
    public static func parseSize(_ text: String) -> UInt64? {
        guard case .success(let bytes) = Sizes.parseSize(ArraySlice(text.utf8)) else { return nil }
        return bytes
    }
}
