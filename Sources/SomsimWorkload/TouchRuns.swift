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
            for index in RandomPages.sample(count: min(count, UInt64(pages.count)), of: UInt64(pages.count), seed: seed) {
                append(pages.lowerBound + index)
            }
        }
        return runs
    }
}
