import Foundation
@testable import SomsimModel
import SomsimWorkload
import Testing

/// Bad input must never crash or trap: random token edits of every example and validation workload
/// are either refused with an error or replayed to the end. (A trap ends the test process, so any
/// crash shows up as a failed run.)
@Suite struct MutationFuzzTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var workloads: [String] {
        ["docs/examples", "validation", "papers/workloads"].flatMap { folder -> [String] in
            let url = root.appendingPathComponent(folder)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            return names.filter { $0.hasSuffix(".somw") }.sorted().map { "\(folder)/\($0)" }
        }
    }

    /// The limits a mutated file is parsed with: a mutated repeat count must not expand for long.
    static let limits = ExpansionLimits(maxStatements: 20_000, maxDepth: 4)

    /// The workloads whose own expansion fits `limits`: a larger one (the 10,000-process scenario
    /// of papers/workloads) would have every mutation refused, and the test would test nothing.
    static var seeds: [String] {
        workloads.filter { path in
            guard let text = try? String(contentsOf: root.appendingPathComponent(path), encoding: .utf8) else { return true }
            return (try? WorkloadParser.parse(text, fileName: path, limits: limits)) != nil
        }
    }

    /// Which workloads are left out, by name: a new large one must be added here knowingly (or
    /// made smaller), never dropped from the mutation fuzz unnoticed.
    @Test func onlyTheKnownLargeWorkloadsAreLeftOut() {
        #expect(Set(Self.workloads).subtracting(Self.seeds) == ["papers/workloads/seed-10k.somw"])
        #expect(Self.seeds.count > 100)
    }

    static let vocabulary = [
        "0", "1", "3", "4K", "8K", "2M", "1G", "3T", "16E", "18446744073709551615", "4097B", "-1", "{i}", "{j}",
        "shared", "huge=2M", "huge=1G", "file=f", "populate", "som", "read", "write", "offset=4K", "offset=1G",
        "length=8K", "length=0", "stride=4K", "stride=0", "random=5", "random=99999999", "seed=1", "dontfork",
        "wipeonfork", "dontneed", "hugepage", "fork", "exit", "mmap", "munmap", "madvise", "touch", "measure",
        "spawn", "repeat", "as", "{", "}", "#", "machine", "ram=1M", "hugetlb-2m=2", "hvo=on", "thp=always",
        "mthp=64K", "a", "b", "master", "worker0", "p", "m", "heap", "x.y-z", "é",
        "remove", "willneed", "populate_read", "populate_write", "collapse", "cold", "pageout",
    ]

    @Test(arguments: seeds)
    func mutatedWorkloadsAreRefusedOrRunToTheEnd(_ path: String) throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.split(separator: " ").map(String.init) }
        // A fixed seed per file (FNV-1a of its path: Swift seeds its hashing anew in every process),
        // so every run makes the same edits and a trap here always recurs: Swift Testing names the
        // file (the test-case line), and the file names the seed.
        let seed = Self.fnv1a(path)
        var rng = SplitMix64(seed: seed)
        var ran = 0
        for _ in 0..<150 {
            var mutated = lines
            for _ in 0..<(1 + rng.next(below: 3)) {
                let l = Int(rng.next(below: UInt64(mutated.count)))
                switch rng.next(below: 4) {
                case 0 where !mutated[l].isEmpty:
                    mutated[l][Int(rng.next(below: UInt64(mutated[l].count)))] = Self.vocabulary[Int(rng.next(below: UInt64(Self.vocabulary.count)))]
                case 1:
                    mutated[l].append(Self.vocabulary[Int(rng.next(below: UInt64(Self.vocabulary.count)))])
                case 2 where l > 0:
                    mutated.remove(at: l)
                default:
                    mutated.insert(mutated[Int(rng.next(below: UInt64(mutated.count)))], at: l)
                }
            }
            let body = mutated.map { $0.joined(separator: " ") }.joined(separator: "\n")
            // Small limits keep a mutated repeat count from expanding for long.
            guard let workload = try? WorkloadParser.parse(body, fileName: "fuzz.somw", limits: Self.limits) else { continue }
            var simulator = Simulator(machine: workload.machine, machineLine: workload.machineLine ?? 0)
            for statement in workload.statements { simulator.apply(statement) }
            // The page-table counts the engine keeps (and the maps fork shares between parent
            // and child) are the tables its maps hold.
            for process in simulator.processes {
                let walked = process.pageTables.tableCountsWalked
                #expect(process.pageTables.tableCounts == walked, "seed \(seed), process \(process.name)")
                #expect(process.pageTables.total == walked.reduce(0, +), "seed \(seed), process \(process.name)")
            }
            simulator.measure(label: "end")
            ran += 1
        }
        // Not vacuous: some mutations parse and are replayed (most are refused).
        #expect(ran > 0, "seed \(seed)")
    }

    /// FNV-1a, 64 bits: a hash that is the same in every process.
    static func fnv1a(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}
