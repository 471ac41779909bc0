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
        public init(_ description: String) { self.description = description }
    }

    /// The most RAM a generated machine may have, 64 TiB: every allocation is mapped, and the
    /// engine places a workload's mappings in a 64 TiB window (`WorkloadWindow`).
    public static let maxRAMBytes: UInt64 = 64 << 40

    /// Checks everything the generated file must satisfy to be accepted by `WorkloadParser` and
    /// to hold the mix it claims: RAM a positive multiple of 4 KiB (at most `maxRAMBytes`), fill
    /// in (0, 100], sizes powers of two from 4 KiB to 2 MiB, each given once, shares finite,
    /// non-negative and adding up to more than 0 and at most 100, every size with a share at
    /// least one allocation, and the expanded file within the parser's statement limit.
    public func validate(limits: ExpansionLimits = .default) throws(Problem) {
        guard ramBytes > 0, ramBytes % PageGeometry.pageBytes == 0 else {
            throw Problem("RAM (--ram) must be a positive multiple of 4K, not \(Sizes.format(ramBytes))")
        }
        guard ramBytes <= Self.maxRAMBytes else {
            throw Problem("RAM (--ram) \(Sizes.format(ramBytes)) is more than \(Sizes.format(Self.maxRAMBytes)), the address window the engine maps a workload into")
        }
        guard fillPercent.isFinite, fillPercent > 0, fillPercent <= 100 else {
            throw Problem("fill (--fill) must be more than 0 and at most 100 percent, not \(Self.number(fillPercent))")
        }
        guard !classes.isEmpty else { throw Problem("the mix has no size class") }
        for c in classes {
            guard c.sizeBytes >= PageGeometry.pageBytes, c.sizeBytes <= PageGeometry.pmdBytes, c.sizeBytes & (c.sizeBytes - 1) == 0 else {
                throw Problem("allocation size \(Sizes.format(c.sizeBytes)) is not a power of two from 4K to 2M")
            }
            guard c.percent.isFinite, c.percent >= 0 else {
                throw Problem("the share of \(Sizes.format(c.sizeBytes)) must be a number from 0 to 100, not \(Self.number(c.percent))")
            }
        }
        for (i, c) in classes.enumerated() where classes[..<i].contains(where: { $0.sizeBytes == c.sizeBytes }) {
            throw Problem("the size \(Sizes.format(c.sizeBytes)) is given twice; give each size once")
        }
        let total = classes.reduce(0) { $0 + $1.percent }
        // A little above 100 is rounding in shares like 33.3 + 33.3 + 33.4.
        guard total <= 100 + 1e-9 else { throw Problem("the shares add up to \(Self.number(total))%, more than 100%") }
        guard total > 0 else { throw Problem("the shares add up to 0%; give at least one size a share") }
        var statements: UInt64 = 2  // spawn, measure
        for (c, (size, count)) in zip(classes.sorted { $0.sizeBytes > $1.sizeBytes }, counts()) {
            if c.percent > 0, count == 0 {
                throw Problem(
                    "\(Self.number(c.percent))% of the filled memory (\(Self.number(fillPercent))% of \(Sizes.format(ramBytes))) is less than one \(Sizes.format(size)) allocation; raise --ram or --fill, or drop the size")
            }
            statements += Self.isRepeated(size) ? 3 * count : 3
        }
        guard statements <= UInt64(max(0, limits.maxStatements)) else {
            throw Problem(
                "the workload would hold \(statements) statements, more than the parser's expansion limit of \(limits.maxStatements) (each allocation between 4K and 2M is a mapping of its own); lower --ram or --fill, or the share of those sizes")
        }
    }

    /// Whether allocations of `size` are written one mapping each, in a `repeat` (sizes between
    /// 4 KiB and 2 MiB), rather than as one region.
    static func isRepeated(_ size: UInt64) -> Bool { size != PageGeometry.pageBytes && size != PageGeometry.pmdBytes }

    /// Allocations of each class, largest size first: the class's share of the filled memory,
    /// in whole allocations (2 MiB and 4 KiB classes in whole 2 MiB and 4 KiB units), never
    /// more than RAM holds.
    public func counts() -> [(size: UInt64, count: UInt64)] {
        let filled = min(Double(ramBytes) * fillPercent / 100, Double(ramBytes))
        return classes.sorted { $0.sizeBytes > $1.sizeBytes }.map { c in
            guard c.sizeBytes > 0 else { return (c.sizeBytes, 0) }
            let exact = (filled * c.percent / 100 / Double(c.sizeBytes)).rounded(.down)
            // Clamped in floating point, so that NaN, a negative or a huge share cannot trap.
            let most = Double(ramBytes / c.sizeBytes)
            return (c.sizeBytes, exact > 0 ? UInt64(min(exact, most)) : 0)
        }
    }

    /// The workload text.
    public func text() -> String {
        let counts = counts()
        let between = counts.map(\.size).filter { $0 > PageGeometry.pageBytes && $0 < PageGeometry.pmdBytes }.sorted()
        var out = "somsim-workload 1\n"
        let mix = classes.map { "\(Sizes.format($0.sizeBytes)):\(Self.number($0.percent))" }.joined(separator: ",")
        out += "# somsim generate alloc-mix: \(Sizes.format(ramBytes)) RAM, \(Self.number(fillPercent))% filled, mix \(mix)\n"
        var machine = "machine ram=\(Sizes.format(ramBytes))"
        if counts.contains(where: { $0.size > PageGeometry.pageBytes && $0.count > 0 }) { machine += " thp=madvise" }
        if !between.isEmpty { machine += " mthp=" + between.map { Sizes.format($0) }.joined(separator: ",") }
        out += machine + "\nspawn app\n"
        for (size, count) in counts where count > 0 {
            let tag = Sizes.format(size).lowercased()
            if !Self.isRepeated(size) {
                let advice = size == PageGeometry.pageBytes ? "nohugepage" : "hugepage"
                out += "app mmap a\(tag) \(Sizes.format(size * count))\n"
                out += "app madvise a\(tag) \(advice)\n"
                out += "app touch a\(tag) write\n"
            } else {
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
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

extension AllocMix {
    /// A size as workload files write it (`64K`, `2M`, `4097B`), for command-line options.
    public static func parseSize(_ text: String) -> UInt64? {
        guard case .success(let bytes) = Sizes.parseSize(ArraySlice(text.utf8)) else { return nil }
        return bytes
    }

    /// A percentage as the command line writes it: digits with at most one decimal point
    /// (`50`, `12.5`); not `nan`, `inf`, `1e3` or `0x10`, which `Double` would also read.
    public static func parsePercent(_ text: some StringProtocol) -> Double? {
        let digits = text.filter { $0 != "." }
        guard !digits.isEmpty, text.count - digits.count <= 1, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }) else { return nil }
        return Double(String(text))
    }

    /// `--mix`: SIZE:PERCENT pairs separated by commas (`4K:30,64K:20,2M:50`).
    public static func parseMix(_ text: String) throws(Problem) -> [SizeClass] {
        var classes: [SizeClass] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count == 2, let size = parseSize(String(pieces[0])), let percent = parsePercent(pieces[1]) else {
                throw Problem("--mix takes SIZE:PERCENT pairs separated by commas (4K:30,2M:70), not \(part.quoted)")
            }
            classes.append(SizeClass(sizeBytes: size, percent: percent))
        }
        return classes
    }
}
