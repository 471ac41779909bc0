/// The seeded choice of distinct pages behind `touch … random=COUNT seed=N`.
///
/// Simulation and real runs call this same function, so both touch exactly the same pages.
/// The generator is SplitMix64 (Steele, Lea and Flood, 2014); indices in `0..<bound` are drawn with
/// Lemire's multiply-shift rejection method (unbiased); distinct pages come from Floyd's sampling
/// algorithm. The result is sorted ascending: the order in which a run touches pages does not change
/// any counter somsim reports, and sorted pages coalesce into extents.
public enum RandomPages {
    /// `count` distinct page indices in `0..<pageCount`, sorted; `count` must be `<= pageCount`.
    public static func sample(count: UInt64, of pageCount: UInt64, seed: UInt64) -> [UInt64] {
        precondition(count <= pageCount, "cannot choose \(count) distinct pages of \(pageCount)")
        if count == 0 { return [] }
        var rng = SplitMix64(seed: seed)
        // Floyd: for j in (n-k)..<n pick t in 0...j; take t unless already taken, then take j.
        // A bitmap when it is no larger than the result (pageCount/64 words against count values),
        // else a hash set: memory follows `count`. Both paths give the same pages.
        if pageCount / 64 <= count {
            var chosen: [UInt64] = []
            chosen.reserveCapacity(Int(count))
            var taken = [UInt64](repeating: 0, count: Int((pageCount + 63) / 64))
            for j in (pageCount - count)..<pageCount {
                let t = rng.next(below: j + 1)
                let pick = taken[Int(t >> 6)] & (1 << (t & 63)) != 0 ? j : t
                taken[Int(pick >> 6)] |= 1 << (pick & 63)
            }
            for (w, word) in taken.enumerated() where word != 0 {
                var bits = word
                while bits != 0 {
                    chosen.append(UInt64(w) << 6 | UInt64(bits.trailingZeroBitCount))
                    bits &= bits - 1
                }
            }
            return chosen
        }
        // Few pages (a worker's `random=64`): the picks go into a table that answers Floyd's
        // "taken already?" by linear probing, its slot for a page growing with the page (the
        // page scaled to the table's `2 × count` home slots, probing forward into `count` more
        // at the end, never wrapping). The table read in slot order is then the picks almost
        // sorted: a page that probed past its home slot is out of order only against the few it
        // passed, which one insertion sort puts right. Performance: a pick costs a draw, a probe
        // or two and a few moves, where keeping the picks sorted as they came cost a bisection
        // and a memmove of the larger picks each (185 instructions a pick), and a hash table a
        // general sort at the end (137 instructions a pick for `sort()` alone).
        if count <= Self.smallSample {
            let n = Int(count)
            let homes = 2 * n
            // No page is `UInt64.max` (pages lie below `pageCount`): it marks an empty slot.
            return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: homes + n) { table in
                table.initialize(repeating: .max)
                // Monotone in the page (rounding is), below `homes`.
                let scale = Double(homes) / Double(pageCount)
                /// The slot holding `page`, or the empty slot where it would go: at most `count`
                /// slots are full, so one is found before the table's end.
                @inline(__always) func slot(_ page: UInt64) -> Int {
                    var k = Swift.min(Int(Double(page) * scale), homes - 1)
                    while table[k] != .max && table[k] != page { k &+= 1 }
                    return k
                }
                for j in (pageCount - count)..<pageCount {
                    let t = rng.next(below: j + 1)
                    let k = slot(t)
                    // Taken already: j, above every page taken so far (so not in the table).
                    if table[k] == t {
                        table[slot(j)] = j
                    } else {
                        table[k] = t
                    }
                }
                // The picks moved to the table's front in slot order. Performance: with no
                // branch on whether a slot is empty (a third of them are full, at random; such a
                // branch took half the sample's time in a profile of 10,000 workers): `full` is
                // 1 for a page and 0 for `.max` by arithmetic (`~page` is 0 only for `.max`, and
                // a nonzero word or its negation has the top bit), which the compiler does not
                // turn back into a branch as it does `page != .max ? 1 : 0`.
                var size = 0
                for k in 0..<(homes + n) {
                    let page = table[k]
                    table[size] = page
                    let inverted = ~page
                    let full = (inverted | (0 &- inverted)) >> 63
                    size &+= Int(truncatingIfNeeded: full)
                }
                for k in 0..<size {
                    // Insertion: the pages before are sorted, and a page lands at most a few
                    // places back.
                    let page = table[k]
                    var at = k
                    while at > 0 && table[at - 1] > page {
                        table[at] = table[at - 1]
                        at -= 1
                    }
                    table[at] = page
                }
                // (Copied out of the table: `Array(unsafeUninitializedCapacity:)` allocates
                // through a function of the standard library that looks the storage type's
                // generic metadata up on every call; this copy's allocation is specialized.)
                return [UInt64](UnsafeBufferPointer(rebasing: table[0..<size]))
            }
        }
        var chosen: [UInt64] = []
        chosen.reserveCapacity(Int(count))
        var taken = Set<UInt64>(minimumCapacity: Int(count))
        for j in (pageCount - count)..<pageCount {
            let t = rng.next(below: j + 1)
            let pick = taken.contains(t) ? j : t
            taken.insert(pick)
            chosen.append(pick)
        }
        chosen.sort()
        return chosen
    }
}

extension RandomPages {
    /// Up to this many pages, `sample` keeps its picks in a sorted array instead of a hash set.
    static let smallSample: UInt64 = 256
}

/// SplitMix64: a tiny, fast, seedable generator with 64 bits of state.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// An unbiased value in `0..<bound` (Lemire, "Fast Random Integer Generation in an Interval", 2019).
    public mutating func next(below bound: UInt64) -> UInt64 {
        precondition(bound > 0)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold {
                product = next().multipliedFullWidth(by: bound)
            }
        }
        return product.high
    }
}
