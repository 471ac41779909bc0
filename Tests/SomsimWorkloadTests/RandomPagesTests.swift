import Testing
import SomsimWorkload

@Suite("RandomPages and SplitMix64")
struct RandomPagesTests {
    /// The first outputs of the reference splitmix64.c (Vigna, public domain) seeded with 42 and 0,
    /// computed here by compiling that C file, not by this package.
    @Test func splitMix64MatchesTheReference() {
        var rng = SplitMix64(seed: 42)
        #expect(rng.next() == 0xBDD7_3226_2FEB_6E95)
        #expect(rng.next() == 0x28EF_E333_B266_F103)
        #expect(rng.next() == 0x4752_6757_130F_9F52)
        #expect(rng.next() == 0x581C_E1FF_0E4A_E394)
        #expect(rng.next() == 0x09BC_585A_2448_23F2)
        var zero = SplitMix64(seed: 0)
        #expect(zero.next() == 0xE220_A839_7B1D_CDAF)
    }

    /// Pages computed by an independent Python implementation of docs/workload-format.md
    /// ("RandomPages"): SplitMix64, Lemire's bounded draw, Floyd's sampling, sorted.
    static let pinned: [(count: UInt64, pages: UInt64, seed: UInt64, expected: [UInt64])] = [
        (5, 100, 42, [3, 15, 27, 34, 71]),  // bitmap path
        (3, 10, 7, [0, 3, 9]),  // bitmap path
        (4, 4, 1, [0, 1, 2, 3]),  // every page
        (10, 1_000_000, 42, [38029, 159909, 218404, 278599, 339930, 344188, 618482, 741558, 800630, 868224]),  // small-sample path
        (8, 1 << 40, 123, [530_357_061_197, 733_473_833_722, 754_358_604_917, 755_142_757_517,
                           776_795_313_245, 945_208_627_663, 1_073_779_370_474, 1_099_445_232_265]),  // small-sample path
    ]

    /// Every path of `sample` — bitmap, sorted array for few pages, hash set — chooses Floyd's
    /// pages (`reference`), on both sides of the small-sample limit.
    @Test func everyPathChoosesFloydsPages() {
        // (count, pages): bitmap, small-sample at and below its limit, hash set just above it.
        // (200, 12_864) and (256, 16_448): the small-sample path (pages / 64 just above count) where picks collide (about two
        // a sample), so that its "taken already" branch runs.
        let shapes: [(UInt64, UInt64)] = [(64, 38_400), (64, 1 << 30), (1, 1 << 20), (255, 1 << 40), (256, 1 << 34), (257, 1 << 34), (1000, 1 << 36), (64, 1 << 63), (64, .max), (200, 12_864), (256, 16_448)]
        for (count, pages) in shapes {
            for seed: UInt64 in [0, 1, 7, 42, 10_000, .max] {
                #expect(RandomPages.sample(count: count, of: pages, seed: seed) == Self.reference(count: count, of: pages, seed: seed), "count \(count) of \(pages), seed \(seed)")
            }
        }
    }

    @Test(arguments: pinned)
    func matchesTheIndependentImplementation(count: UInt64, pages: UInt64, seed: UInt64, expected: [UInt64]) {
        #expect(RandomPages.sample(count: count, of: pages, seed: seed) == expected)
    }

    /// The algorithm written the plainest way, for comparing both storage paths against it.
    static func reference(count: UInt64, of n: UInt64, seed: UInt64) -> [UInt64] {
        var rng = SplitMix64(seed: seed)
        var taken = Set<UInt64>()
        var j = n - count
        while j < n {
            let t = rng.next(below: j + 1)
            taken.insert(taken.contains(t) ? j : t)
            j += 1
        }
        return taken.sorted()
    }

    static let shapes: [(UInt64, UInt64)] = [
        (1, 1), (1, 64), (64, 64), (63, 64), (2, 4096), (64, 4096), (65, 4096), (1000, 4096),
        (4096, 4096), (1, 1 << 20), (100, 1 << 20), (16384, 1 << 20), (16383, 1 << 20),
    ]

    @Test(arguments: shapes)
    func distinctSortedInRangeAndDeterministic(count: UInt64, pages: UInt64) {
        for seed: UInt64 in [0, 1, 42, .max] {
            let a = RandomPages.sample(count: count, of: pages, seed: seed)
            #expect(a.count == Int(count))
            #expect(Set(a).count == a.count)
            #expect(a == a.sorted())
            #expect(a.allSatisfy { $0 < pages })
            #expect(RandomPages.sample(count: count, of: pages, seed: seed) == a)
            #expect(a == Self.reference(count: count, of: pages, seed: seed))
        }
    }

    @Test func zeroCountIsEmpty() {
        #expect(RandomPages.sample(count: 0, of: 0, seed: 1).isEmpty)
        #expect(RandomPages.sample(count: 0, of: 1 << 40, seed: 1).isEmpty)
    }

    @Test(arguments: [UInt64(1), 7, 64, 1000, 4096])
    func countEqualToPagesTakesEveryPage(pages: UInt64) {
        #expect(RandomPages.sample(count: pages, of: pages, seed: 9) == Array(0..<pages))
    }

    @Test func seedsDiffer() {
        #expect(RandomPages.sample(count: 10, of: 1 << 20, seed: 1) != RandomPages.sample(count: 10, of: 1 << 20, seed: 2))
    }

    @Test func boundedDrawsStayBelowTheBound() {
        var rng = SplitMix64(seed: 5)
        for bound: UInt64 in [1, 2, 3, 10, 1 << 32 + 1, .max] {
            for _ in 0..<100 { #expect(rng.next(below: bound) < bound) }
        }
    }
}
