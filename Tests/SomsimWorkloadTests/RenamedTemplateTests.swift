import Testing
@testable import SomsimWorkload

/// The parser's fast paths (`Expander.Renamed`: a line with `{VAR}` only in its names is parsed
/// once and renamed each pass; the checker's last-process and last-mapping lookups) held to the
/// plain path (every line of every pass substituted, lexed, parsed and checked by hashing names),
/// on many generated workloads, good and bad: the same `Workload` (statements, locations,
/// machine, params) or the same error (message, line and column).
@Suite struct RenamedTemplateTests {
    /// Parses with the fast paths on and off; nil when they agree, else what differs.
    static func disagreement(_ text: String) -> String? {
        func run(_ fast: Bool) -> Result<Workload, WorkloadError> {
            do {
                return .success(try WorkloadParser.parse(text, fileName: "gen.somw", fastPaths: fast))
            } catch {
                return .failure(error)
            }
        }
        let fast = run(true)
        let plain = run(false)
        switch (fast, plain) {
        case (.success(let a), .success(let b)) where a == b && a.params == b.params: return nil
        case (.failure(let a), .failure(let b)) where a == b: return nil
        default: return "fast: \(Self.summary(fast))\nplain: \(Self.summary(plain))"
        }
    }

    static func summary(_ r: Result<Workload, WorkloadError>) -> String {
        switch r {
        case .success(let w): return "\(w.statements.count) statements, first difference-prone: \(w.statements.prefix(40).map { "\($0.location) \($0.value.text)" })"
        case .failure(let e): return e.description
        }
    }

    /// A generated workload: params, nested repeats with small counts, and statements whose names,
    /// verbs, sizes and options are plain, `{VAR}`, `{PARAM}` or wrong, over few names so that
    /// they meet (mappings used after munmap, processes after exit, names taken twice).
    static func generate(seed: UInt64) -> String {
        var rng = SplitMix64(seed: seed)
        if rng.next(below: 2) == 0 { return generateClean(&rng) }
        func pick<T>(_ items: [T]) -> T { items[Int(rng.next(below: UInt64(items.count)))] }
        func chance(_ percent: UInt64) -> Bool { rng.next(below: 100) < percent }
        var lines = ["somsim-workload 1"]
        if chance(30) { lines.append("machine ram=\(pick(["1G", "4G", "16G"]))") }
        let params = chance(50)
        if params { lines.append("param pre=\(pick(["x", "y_", "z.1"]))"); lines.append("param n=\(pick(["0", "1", "3"]))") }
        lines.append("spawn p")
        if chance(50) { lines.append("p mmap m 64K") }
        var scope: [String] = []
        var open = 0
        let count = 5 + Int(rng.next(below: 25))
        for _ in 0..<count {
            let roll = rng.next(below: 100)
            if roll < 15 && open < 3 {
                let variable = ["i", "j", "k"][open]
                lines.append("repeat \(params && chance(20) ? "{n}" : String(rng.next(below: 4))) as \(variable) {")
                scope.append(variable)
                open += 1
                continue
            }
            if roll < 25 && open > 0 {
                lines.append("}")
                scope.removeLast()
                open -= 1
                continue
            }
            func v() -> String {
                var choices = scope.isEmpty ? ["0"] : scope.map { "{\($0)}" }
                if params { choices.append("{n}") }
                if chance(3) { choices.append("{zz}") }
                return pick(choices)
            }
            func name(_ stem: String) -> String {
                switch rng.next(below: 12) {
                case 0, 1, 2: return stem
                case 3, 4, 5, 6: return "\(stem)\(v())"
                case 7: return "\(stem)_\(v())_\(v())"
                case 8: return params ? "{pre}\(v())" : "\(stem)\(v())x"
                case 9: return chance(50) ? "\(v())\(stem)" : "\(stem)\(v())"  // a digit first: not a name
                case 10: return chance(30) ? "\(stem){\(v())" : "\(stem)\(v())"  // an unclosed '{'
                default: return chance(20) ? pick(["spawn", "measure", "sysctl"]) : "\(stem)-\(v())"
                }
            }
            let p = chance(60) ? "p" : name("w")
            let m = name("m")
            let size = pick(["64K", "8K", "4K", "2M", "0", "\(v())K", "12K"])
            let range = pick(["", "", " offset=4K", " length=8K", " offset=\(v())K", " offset=8K length=4K", " offset=2K", " length={i}K"])
            switch rng.next(below: 20) {
            case 0: lines.append("spawn \(name("w"))")
            case 1: lines.append("\(p) fork \(name("w"))")
            case 2: lines.append("\(p) exit")
            case 3, 4: lines.append("\(p) mmap \(m) \(size)\(pick(["", "", " huge=2M", " shared", " populate", " file=f\(v())", " som"]))")
            case 5: lines.append("\(p) munmap \(m)\(pick(["", "", range]))")
            case 6: lines.append("\(p) madvise \(m) \(pick(["hugepage", "dontneed", "nohugepage", "bogus"]))\(range)")
            case 7, 8: lines.append("\(p) touch \(m) \(pick(["read", "write", "write", "wr{i}"]))\(range)\(pick(["", "", " random=\(v()) seed=1", " random=2 seed=\(v())", " stride=8K"]))")
            case 9: lines.append("\(p) \(pick(["mprotect", "mlock", "munlock"])) \(m)\(pick([" read", " none", ""]))\(range)")
            case 10: lines.append("\(p) mremap \(m) \(pick(["128K", "16K", "\(v())K", "4K"]))\(pick(["", " maymove"]))")
            case 11: lines.append("measure \(pick(["s\(v())", "end", "fixed", "t-\(v())-\(v())", "\(v())"]))")
            case 12: lines.append("\(p) shmget \(name("k")) \(pick(["64K", "8K", "2M"]))")
            case 13: lines.append("\(p) shmat \(name("k")) \(m)")
            case 14: lines.append("\(p) shmdt \(m)")
            case 15: lines.append("\(p) malloc \(name("o")) \(pick(["100", "1M"]))")
            case 16: lines.append("\(p) \(pick(["write", "free", "read"])) \(name("o"))")
            case 17: lines.append("\(v())p touch m write")
            case 18: lines.append("\(p) \(pick(["touch", "t{i}ch", "mmap"])) \(m) write")
            default: lines.append("\(p) touch \(m) write\(range)")
            }
        }
        while open > 0 && !chance(3) {
            lines.append("}")
            open -= 1
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A generated workload that parses: groups of an mmap of a name unique to the group and the
    /// pass, then statements on it (the last maybe its munmap), forks, measures, in nested repeats.
    static func generateClean(_ rng: inout SplitMix64) -> String {
        func pick<T>(_ items: [T], _ rng: inout SplitMix64) -> T { items[Int(rng.next(below: UInt64(items.count)))] }
        var lines = ["somsim-workload 1", "machine ram=64G"]
        let params = rng.next(below: 2) == 0
        if params { lines.append("param pre=\(pick(["x", "y_", "z.1"], &rng))") }
        lines.append("spawn p")
        var scope: [String] = []
        let groups = 3 + Int(rng.next(below: 10))
        for g in 0..<groups {
            if scope.count < 3 && rng.next(below: 3) == 0 {
                let variable = ["i", "j", "k"][scope.count]
                lines.append("repeat \(rng.next(below: 5)) as \(variable) {")
                scope.append(variable)
            } else if !scope.isEmpty && rng.next(below: 4) == 0 {
                lines.append("}")
                scope.removeLast()
            }
            let vars = scope.map { "_{\($0)}" }.joined()
            let prefix = params && rng.next(below: 3) == 0 ? "{pre}" : ""
            let m = "\(prefix)m\(g)\(vars)"
            let huge = rng.next(below: 4) == 0
            lines.append("p mmap \(m) \(huge ? "4M huge=2M" : pick(["64K", "1M", "8K"], &rng))")
            for _ in 0..<Int(rng.next(below: 5)) {
                let range = huge ? pick(["", " offset=2M", " length=2M"], &rng) : pick(["", " offset=4K", " length=4K", " offset=4K length=4K"], &rng)
                switch rng.next(below: 8) {
                case 0: lines.append("p madvise \(m) \(pick(["hugepage", "dontneed", "nohugepage"], &rng))\(range)")
                case 1: lines.append("p touch \(m) \(pick(["read", "write"], &rng))\(range)")
                // (After an mremap, the count is held to the new length: a stale one would differ.)
                case 2: lines.append("p touch \(m) write random=\(huge ? 1 : pick([1, 2, 3, 5, 17], &rng)) seed=\(scope.isEmpty ? "3" : "{\(scope[0])}")")
                case 3: lines.append("p \(pick(["mlock", "munlock"], &rng)) \(m)\(range)")
                case 4: lines.append("p mprotect \(m) \(pick(["read", "none", "write"], &rng))\(range)")
                case 5: lines.append("measure s\(g)\(vars)-\(rng.next(below: 1000))")
                case 6:
                    lines.append("p fork w\(g)\(vars)")
                    lines.append("w\(g)\(vars) touch \(m) write")
                    lines.append("w\(g)\(vars) exit")
                default: lines.append("p mremap \(m) \(huge ? "8M" : pick(["128K", "16K", "8K"], &rng)) maymove")
                }
            }
            if rng.next(below: 2) == 0 { lines.append("p munmap \(m)") }
        }
        lines += Array(repeating: "}", count: scope.count)
        return lines.joined(separator: "\n") + "\n"
    }

    /// 4,000 generated workloads; a failure prints its seed and text (rerun it alone with
    /// `disagreement(generate(seed:))`).
    @Test func fastPathsAgreeWithThePlainPath() {
        var parsed = 0
        var renamedPasses = 0
        for seed: UInt64 in 1...4_000 {
            let text = Self.generate(seed: seed)
            if let problem = Self.disagreement(text) {
                Issue.record("seed \(seed): the fast and plain paths differ\n\(problem)\n--- workload ---\n\(text)")
                return
            }
            if let w = try? WorkloadParser.parse(text, fileName: "gen.somw") {
                parsed += 1
                renamedPasses += w.statements.count
            }
        }
        // The generator must make both good workloads (with many statements) and bad ones.
        #expect(parsed > 1_000 && parsed < 3_000, "\(parsed) of 4,000 generated workloads parse")
        #expect(renamedPasses > 10_000)
    }

    /// The alloc-mix shape, the workload the fast path is for, with its names at their widths.
    @Test func allocMixShapeAgrees() {
        let text = """
            somsim-workload 1
            machine ram=8G thp=madvise mthp=64K
            spawn app
            app mmap a2m 8M
            repeat 1200 as i {
              app mmap a64k_{i} 64K
              app madvise a64k_{i} hugepage
              app touch a64k_{i} write
            }
            repeat 3 as i {
              repeat 4 as j {
                app fork w{i}.{j}
                w{i}.{j} touch a64k_1{j}{i} write random=1 seed={j}
                measure s{i}-{j}
                w{i}.{j} munmap a64k_1{i}{j}
                w{i}.{j} exit
              }
            }
            app touch a64k_1199 write
            """
        #expect(Self.disagreement(text) == nil)
        do {
            #expect(try WorkloadParser.parse(text, fileName: "gen.somw").statements.count == 2 + 3600 + 60 + 1)
        } catch {
            Issue.record("\(error)")
        }
    }
}
