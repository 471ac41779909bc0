import SomsimWorkload
import Testing

/// `RandomPages.sampleRuns` (which reads the runs of a large sample off its bitmap) against the
/// pages of `RandomPages.sample` joined into maximal runs one by one, on fixed seeds, on both
/// sides of the bitmap limit (pageCount / 64 <= count), with and without an offset.
@Suite struct SampleRunsTests {
    static func joined(_ pages: [UInt64], base: UInt64) -> [Range<UInt64>] {
        var runs: [Range<UInt64>] = []
        for index in pages {
            let page = base + index
            if let last = runs.last, last.upperBound == page {
                runs[runs.count - 1] = last.lowerBound..<(page + 1)
            } else {
                runs.append(page..<(page + 1))
            }
        }
        return runs
    }

    @Test func runsAreTheSampleJoined() {
        // (count, pages): dense bitmaps (long runs, whole words set), sparse bitmaps at the
        // limit, every page, pages not a multiple of 64, and the sorted-array and hash-set paths.
        let shapes: [(UInt64, UInt64)] = [
            (1, 1), (1, 64), (63, 64), (64, 64), (100, 130), (1000, 1000), (1000, 1001), (900, 4096),
            (5000, 6000), (2000, 128_000), (2000, 128_063), (4000, 1 << 16), (30, 1 << 20), (300, 1 << 20), (1000, 1 << 36),
        ]
        for (count, pages) in shapes {
            for seed: UInt64 in [0, 1, 7, 42, 10_000, .max] {
                for base: UInt64 in [0, 5, 1 << 40] {
                    let expected = Self.joined(RandomPages.sample(count: count, of: pages, seed: seed), base: base)
                    let runs = RandomPages.sampleRuns(count: count, of: pages, seed: seed, base: base)
                    #expect(runs == expected, "count \(count) of \(pages), seed \(seed), base \(base)")
                }
            }
        }
    }

    @Test func noPagesNoRuns() {
        #expect(RandomPages.sampleRuns(count: 0, of: 10, seed: 1, base: 3).isEmpty)
        #expect(RandomPages.sampleRuns(count: 0, of: 0, seed: 1, base: 0).isEmpty)
    }
}
