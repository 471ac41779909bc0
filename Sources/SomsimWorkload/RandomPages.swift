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
        var chosen: [UInt64] = []
        chosen.reserveCapacity(Int(count))
        // Floyd: for j in (n-k)..<n pick t in 0...j; take t unless already taken, then take j.
        // A bitmap when it is no larger than the result (pageCount/64 words against count values),
        // else a hash set: memory follows `count`. Both paths give the same pages.
        if pageCount / 64 <= count {
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
        // Few pages (a worker's `random=64`): a sorted array, searched by bisection, is faster
        // than hashing and needs no sort at the end. The picks are Floyd's either way.
        if count <= Self.smallSample {
            // Performance: the array is made at its final size and filled in place (bisection,
            // then one memmove of the larger picks; no generic `insert`).
            let narrow = pageCount <= 1 << 63
            return [UInt64](unsafeUninitializedCapacity: Int(count)) { buffer, initialized in
                var size = 0
                for j in (pageCount - count)..<pageCount {
                    let t = rng.next(below: j + 1)
                    // The first position whose pick is not below t. Performance: branch-free,
                    // the loop runs log2(size) times whatever the picks (random picks made the
                    // classic bisection's branches mispredict about half the time). The step is
                    // masked by the sign of the wrapping difference, exact while every page is
                    // below 2^63; a comparison (`?:`, or a Bool's bit as the mask) compiles to a
                    // branch again.
                    var low = 0
                    if size > 0 {
                        var n = size
                        while n > 1 {
                            let half = n >> 1
                            if narrow {
                                low &+= half & Int(truncatingIfNeeded: Int64(bitPattern: buffer[low &+ half] &- t) >> 63)
                            } else if buffer[low &+ half] < t {
                                low &+= half
                            }
                            n &-= half
                        }
                        if buffer[low] < t { low &+= 1 }
                    }
                    var pick = t
                    // Taken already: j, which exceeds every page taken so far, goes last.
                    if low < size && buffer[low] == t {
                        pick = j
                        low = size
                    }
                    if low < size {
                        // memmove (the regions overlap).
                        let base = buffer.baseAddress!
                        UnsafeMutableRawPointer(base + low + 1).copyMemory(from: base + low, byteCount: (size - low) * MemoryLayout<UInt64>.stride)
                    }
                    buffer[low] = pick
                    size += 1
                }
                initialized = size
            }
        }
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
