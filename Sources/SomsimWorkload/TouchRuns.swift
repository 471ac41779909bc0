/// What a range and a touch pattern reach, in pages: the one definition `simulate` (the engine)
/// and `validate` (the probe, which makes the real accesses) share, so that the two cannot walk
/// different pages.
extension ByteRange {
    /// The pages of this range in a mapping of `pageCount` pages of `pageBytes` bytes: from the
    /// page holding `offset=` for `length=` bytes (rounded down to whole pages), or to the
    /// mapping's end. Nil when the range runs past the mapping's end (the access would fault
    /// outside it: EFAULT).
    public func pages(inMappingOf pageCount: UInt64, pageBytes: UInt64) -> Range<UInt64>? {
        let offset = offsetBytes / pageBytes
        guard offset <= pageCount else { return nil }
        let count = lengthBytes.map { $0 / pageBytes } ?? (pageCount - offset)
        guard count <= pageCount - offset else { return nil }
        return offset..<(offset + count)
    }
}

extension TouchPattern {
    /// The pages a touch of `pages` reaches, in ascending order, as maximal runs of adjacent page
    /// indices; none for an empty range.
    ///
    /// `every`, and a stride no longer than a page, reach every page. A longer stride reaches the
    /// page of every stride-th byte from the range's first byte; a stride that would carry a byte
    /// offset past 2^64 ends the walk. `random=COUNT` reaches min(COUNT, pages) distinct pages of
    /// the seeded sample (`RandomPages`).
    public func pageRuns(_ pages: Range<UInt64>, pageBytes: UInt64) -> [Range<UInt64>] {
        guard !pages.isEmpty else { return [] }
        var runs: [Range<UInt64>] = []
        /// Adds one page, extending the last run when it is adjacent (pages come ascending).
        func append(_ page: UInt64) {
            if let last = runs.last, last.upperBound == page {
                runs[runs.count - 1] = last.lowerBound..<(page + 1)
            } else {
                runs.append(page..<(page + 1))
            }
        }
        switch self {
        case .every:
            return [pages]
        case .stride(let stride) where stride <= pageBytes:
            return [pages]
        case .stride(let stride):
            // Byte offsets from the mapping's start.
            var byte = pages.lowerBound * pageBytes
            let end = pages.upperBound * pageBytes
            while byte < end {
                append(byte / pageBytes)
                let (next, overflow) = byte.addingReportingOverflow(stride)
                if overflow { break }
                byte = next
            }
        case .random(let count, let seed):
            return RandomPages.sampleRuns(count: min(count, UInt64(pages.count)), of: UInt64(pages.count), seed: seed, base: pages.lowerBound)
        }
        return runs
    }
}

extension RandomPages {
    /// The pages of `sample(count:of:seed:)`, each plus `base`, as maximal runs of adjacent
    /// pages in ascending order: exactly the runs `TouchPattern.pageRuns` makes of the sample
    /// (SomsimWorkloadTests hold the two to each other).
    ///
    /// Performance: where `sample` marks its picks in a bitmap (many pages: a touch of millions),
    /// the runs are read off the bitmap's words directly, a run of set bits at a time, instead of
    /// listing every page and joining them one by one. The picks are the same Floyd's loop.
    public static func sampleRuns(count: UInt64, of pageCount: UInt64, seed: UInt64, base: UInt64) -> [Range<UInt64>] {
        guard count > 0, pageCount / 64 <= count else {
            // Few pages: the sorted sample, adjacent pages joined (capacity for one run a page).
            let pages = sample(count: count, of: pageCount, seed: seed)
            var runs: [Range<UInt64>] = []
            runs.reserveCapacity(pages.count)
            pages.withUnsafeBufferPointer { pages in
                var k = 0
                while k < pages.count {
                    let start = pages[k]
                    var end = start + 1
                    k += 1
                    while k < pages.count && pages[k] == end {
                        end += 1
                        k += 1
                    }
                    runs.append((base + start)..<(base + end))
                }
            }
            return runs
        }
        precondition(count <= pageCount, "cannot choose \(count) distinct pages of \(pageCount)")
        var rng = SplitMix64(seed: seed)
        var taken = [UInt64](repeating: 0, count: Int((pageCount + 63) / 64))
        // Floyd, as in `sample`: for j in (n-k)..<n pick t in 0...j; take t unless already taken, then j.
        taken.withUnsafeMutableBufferPointer { taken in
            for j in (pageCount - count)..<pageCount {
                let t = rng.next(below: j + 1)
                let pick = taken[Int(t >> 6)] & (1 << (t & 63)) != 0 ? j : t
                taken[Int(pick >> 6)] |= 1 << (pick & 63)
            }
        }
        var runs: [Range<UInt64>] = []
        var runStart: UInt64 = 0
        var runEnd: UInt64 = 0
        var open = false
        taken.withUnsafeBufferPointer { taken in
            for w in 0..<taken.count {
                var bits = taken[w]
                var offset: UInt64 = 0
                while bits != 0 {
                    let zeros = UInt64(bits.trailingZeroBitCount)
                    bits >>= zeros
                    offset += zeros
                    let ones = UInt64((~bits).trailingZeroBitCount)
                    let start = base + (UInt64(w) << 6) + offset
                    if open && runEnd == start {
                        runEnd = start + ones
                    } else {
                        if open { runs.append(runStart..<runEnd) }
                        runStart = start
                        runEnd = start + ones
                        open = true
                    }
                    offset += ones
                    bits = ones == 64 ? 0 : bits >> ones
                }
            }
        }
        if open { runs.append(runStart..<runEnd) }
        return runs
    }
}
