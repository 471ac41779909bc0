/// Sizes and counts as workload files write them.
///
/// A size is a non-negative decimal integer with an optional binary suffix: `B`, `K`/`KiB`,
/// `M`/`MiB`, `G`/`GiB`, `T`/`TiB` (`K` = 1024). Suffixes are case-sensitive.
enum Sizes {
    static let suffixList = "B, K, KiB, M, MiB, G, GiB, T or TiB (K = 1024)"

    enum Failure: Error {
        case notANumber
        case overflow
    }

    /// A plain decimal integer (no sign, no suffix).
    static func parseInteger(_ s: ArraySlice<UInt8>) -> Result<UInt64, Failure> {
        guard !s.isEmpty else { return .failure(.notANumber) }
        var value: UInt64 = 0
        for b in s {
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return .failure(.notANumber) }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(b - UInt8(ascii: "0")))
            if o1 || o2 { return .failure(.overflow) }
            value = a
        }
        return .success(value)
    }

    /// A size in bytes: digits with an optional suffix.
    static func parseSize(_ s: ArraySlice<UInt8>) -> Result<UInt64, Failure> {
        var digitsEnd = s.startIndex
        while digitsEnd < s.endIndex, s[digitsEnd] >= UInt8(ascii: "0"), s[digitsEnd] <= UInt8(ascii: "9") {
            digitsEnd += 1
        }
        let digits = s[s.startIndex..<digitsEnd]
        let suffix = s[digitsEnd...]
        guard !digits.isEmpty else { return .failure(.notANumber) }
        var multiplier: UInt64 = 1
        if !suffix.isEmpty {
            // B, K, KiB, M, MiB, G, GiB, T, TiB
            let unit = suffix[suffix.startIndex]
            let rest = suffix.dropFirst()
            switch unit {
            case UInt8(ascii: "B"): multiplier = 1
            case UInt8(ascii: "K"): multiplier = 1 << 10
            case UInt8(ascii: "M"): multiplier = 1 << 20
            case UInt8(ascii: "G"): multiplier = 1 << 30
            case UInt8(ascii: "T"): multiplier = 1 << 40
            default: return .failure(.notANumber)
            }
            let binary = rest.count == 2 && rest.first == UInt8(ascii: "i") && rest.last == UInt8(ascii: "B")
            guard rest.isEmpty || (binary && unit != UInt8(ascii: "B")) else { return .failure(.notANumber) }
        }
        switch parseInteger(digits) {
        case .failure(let f):
            return .failure(f)
        case .success(let n):
            let (bytes, overflow) = n.multipliedReportingOverflow(by: multiplier)
            return overflow ? .failure(.overflow) : .success(bytes)
        }
    }

    /// The canonical spelling of a size: `0` for zero; otherwise the largest of `T`, `G`, `M`, `K`
    /// that divides it exactly (`3T`, `2M`, `4K`, `1536K`); otherwise bytes with the `B` suffix (`4097B`).
    static func format(_ bytes: UInt64) -> String {
        if bytes == 0 { return "0" }
        for (suffix, shift) in [("T", 40), ("G", 30), ("M", 20), ("K", 10)] as [(String, UInt64)]
        where bytes & ((1 << shift) - 1) == 0 {
            return "\(bytes >> shift)\(suffix)"
        }
        return "\(bytes)B"
    }
}
