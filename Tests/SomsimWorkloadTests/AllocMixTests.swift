import SomsimWorkload
import Testing

@Suite("generate alloc-mix")
struct AllocMixTests {
    static func problem(_ mix: AllocMix, limits: ExpansionLimits = .default) -> String? {
        do {
            try mix.validate(limits: limits)
            return nil
        } catch {
            return error.description
        }
    }

    static func mix(ram: UInt64 = 1 << 30, fill: Double = 100, _ classes: [(UInt64, Double)]) -> AllocMix {
        AllocMix(ramBytes: ram, fillPercent: fill, classes: classes.map { AllocMix.SizeClass(sizeBytes: $0.0, percent: $0.1) })
    }

    @Test(arguments: [
        (mix(ram: 0, [(4096, 100)]), "RAM (--ram) must be a positive multiple of 4K, not 0"),
        (mix(ram: 4097, [(4096, 100)]), "RAM (--ram) must be a positive multiple of 4K, not 4097B"),
        (mix(ram: (64 << 40) + 4096, [(4096, 100)]), "RAM (--ram) 68719476740K is more than 64T, the address window the engine maps a workload into"),
        (mix(fill: .nan, [(4096, 100)]), "fill (--fill) must be more than 0 and at most 100 percent, not nan"),
        (mix(fill: .infinity, [(4096, 100)]), "fill (--fill) must be more than 0 and at most 100 percent, not inf"),
        (mix(fill: 0, [(4096, 100)]), "fill (--fill) must be more than 0 and at most 100 percent, not 0"),
        (mix(fill: 100.5, [(4096, 100)]), "fill (--fill) must be more than 0 and at most 100 percent, not 100.5"),
        (mix([]), "the mix has no size class"),
        (mix([(3 << 10, 100)]), "allocation size 3K is not a power of two from 4K to 2M"),
        (mix([(4 << 20, 100)]), "allocation size 4M is not a power of two from 4K to 2M"),
        (mix([(0, 100)]), "allocation size 0 is not a power of two from 4K to 2M"),
        (mix([(4096, .nan)]), "the share of 4K must be a number from 0 to 100, not nan"),
        (mix([(4096, -1)]), "the share of 4K must be a number from 0 to 100, not -1"),
        (mix([(4096, 50), (2 << 20, 30), (4096, 20)]), "the size 4K is given twice; give each size once"),
        (mix([(4096, 60), (2 << 20, 60)]), "the shares add up to 120%, more than 100%"),
        (mix([(4096, 0), (2 << 20, 0)]), "the shares add up to 0%; give at least one size a share"),
        (mix(ram: 1 << 20, [(2 << 20, 50), (4096, 50)]), "50% of the filled memory (100% of 1M) is less than one 2M allocation; raise --ram or --fill, or drop the size"),
    ] as [(AllocMix, String)])
    func refused(_ mix: AllocMix, _ message: String) {
        #expect(Self.problem(mix) == message)
    }

    @Test func theExpansionLimitIsTheParsers() throws {
        let limits = ExpansionLimits(maxStatements: 1000)
        // 64K allocations: 3 statements each, plus spawn and measure.
        let fits = Self.mix(ram: 332 * (64 << 10), [(64 << 10, 100)])
        #expect(Self.problem(fits, limits: limits) == nil)
        #expect(try WorkloadParser.parse(fits.text(), fileName: "mix.somw", limits: limits).statements.count == 998)
        let over = Self.mix(ram: 333 * (64 << 10), [(64 << 10, 100)])
        #expect(
            Self.problem(over, limits: limits)
                == "the workload would hold 1001 statements, more than the parser's expansion limit of 1000 (each allocation between 4K and 2M is a mapping of its own); lower --ram or --fill, or the share of those sizes"
        )
        #expect(throws: WorkloadError.self) { try WorkloadParser.parse(over.text(), fileName: "mix.somw", limits: limits) }
    }

    @Test(arguments: [
        ("4K:30,64K:20,2M:50", [(UInt64(4096), 30.0), (64 << 10, 20), (2 << 20, 50)]),
        ("256K:12.5", [(256 << 10, 12.5)]),
    ])
    func mixesAreParsed(_ text: String, _ classes: [(UInt64, Double)]) throws {
        let parsed = try AllocMix.parseMix(text)
        #expect(parsed == classes.map { AllocMix.SizeClass(sizeBytes: $0.0, percent: $0.1) })
    }

    @Test(arguments: ["4K:nan", "4K:inf", "4K:1e3", "4K:0x10", "4K:-5", "4K:+5", "4K:5.5.5", "4K:", "4K", "4K:50,,2M:50", "4k:50", "4K:50:1"])
    func badMixesAreRefused(_ text: String) {
        #expect(throws: AllocMix.Problem.self) { try AllocMix.parseMix(text) }
    }

    /// For seeded random parameters, extremes included: whatever passes `validate` is a file the
    /// parser accepts (under the same limits), which maps no more than RAM and gives every size
    /// with a share at least one allocation; nothing traps, accepted or not.
    @Test func everyFileItWritesParses() throws {
        let seed: UInt64 = 0x5EED_0A11_0C41
        var random = SplitMix64(seed: seed)
        let limits = ExpansionLimits(maxStatements: 5000)
        let rams: [UInt64] = [0, 4095, 4096, 4097, 8192, 1 << 20, (2 << 20) - 4096, 2 << 20, 1 << 30, 16 << 30, 64 << 40, (64 << 40) + 4096, .max, .max - 4095]
        let fills: [Double] = [100, 50, 0.001, 1e-300, 0, -1, 100.0000001, .nan, .infinity, 99.99]
        let sizes: [UInt64] = [0, 2048, 3072, 4096, 8192, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 2 << 20, 4 << 20]
        let shares: [Double] = [0, 100, 50, 33.3, 33.4, 1e-9, -0.0, -3, .nan, .infinity, 100.0000000001]
        var accepted = 0
        var refused = 0
        let valid: [UInt64] = [4096, 8192, 16 << 10, 32 << 10, 64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20, 2 << 20]
        for index in 0..<3000 {
            // Half plausible (most of them valid), half wild (extremes, mostly refused).
            let plausible = random.next(below: 2) == 0
            var ram: UInt64
            var fill: Double
            var classes: [AllocMix.SizeClass] = []
            if plausible {
                ram = (1 + random.next(below: 1 << 22)) * 4096
                fill = Double(1 + random.next(below: 10_000)) / 100
                var left = 100.0
                for size in valid.shuffled(using: &random).prefix(Int(1 + random.next(below: 4))) {
                    let share = Double(random.next(below: UInt64(left) + 1))
                    classes.append(.init(sizeBytes: size, percent: share))
                    left -= share
                }
            } else {
                ram = random.next(below: 3) == 0 ? random.next(below: 1 << 34) & ~4095 : rams[Int(random.next(below: UInt64(rams.count)))]
                fill = random.next(below: 2) == 0 ? Double(random.next(below: 10_001)) / 100 : fills[Int(random.next(below: UInt64(fills.count)))]
                for _ in 0..<(1 + random.next(below: 4)) {
                    let size = sizes[Int(random.next(below: UInt64(sizes.count)))]
                    let share = random.next(below: 2) == 0 ? Double(random.next(below: 101)) : shares[Int(random.next(below: UInt64(shares.count)))]
                    classes.append(.init(sizeBytes: size, percent: share))
                }
            }
            let mix = AllocMix(ramBytes: ram, fillPercent: fill, classes: classes)
            let context = "seed \(seed), case \(index): \(mix)"
            let text = mix.text()  // must not trap, valid or not
            guard Self.problem(mix, limits: limits) == nil else {
                refused += 1
                continue
            }
            accepted += 1
            let workload: Workload
            do {
                workload = try WorkloadParser.parse(text, fileName: "mix.somw", limits: limits)
            } catch {
                Issue.record("\(context) wrote a file its parser refuses: \(error)")
                continue
            }
            var mapped: UInt64 = 0
            for case .mmap(_, _, let length, _) in workload.statementValues { mapped += length }
            #expect(mapped <= ram, "\(context)")
            #expect(workload.machine.ramBytes == ram, "\(context)")
            for (size, count) in mix.counts() where classes.contains(where: { $0.sizeBytes == size && $0.percent > 0 }) {
                #expect(count > 0, "\(context)")
            }
        }
        #expect(accepted > 300 && refused > 300, "seed \(seed): \(accepted) accepted, \(refused) refused")
    }
}
