import SomsimModel
import SomsimWorkload

/// One input of the campaign: a workload text, and sometimes a profile text or a generator
/// recipe. Case `index` of campaign `seed` is always the same input.
struct FuzzCase {
    var workload: String
    var profile: String?
    /// `generate alloc-mix` parameters: RAM, fill (nil: the default), classes.
    var allocMix: (ram: UInt64, fill: Double?, classes: [AllocMix.SizeClass])?

    /// The case as files a person can replay with `somsim-fuzz --replay`.
    var files: [(suffix: String, text: String)] {
        var files = [("somw", workload)]
        if let profile { files.append(("profile", profile)) }
        if let mix = allocMix { files.append(("allocmix", Self.recipe(mix))) }
        return files
    }

    /// `RAM FILL SIZE:PERCENT,…` (FILL `-` for the default), as `--alloc-mix` reads it back.
    static func recipe(_ mix: (ram: UInt64, fill: Double?, classes: [AllocMix.SizeClass])) -> String {
        "\(mix.ram) \(mix.fill.map { "\($0)" } ?? "-") " + mix.classes.map { "\($0.sizeBytes):\($0.percent)" }.joined(separator: ",") + "\n"
    }

    static func recipe(_ text: String) -> (ram: UInt64, fill: Double?, classes: [AllocMix.SizeClass])? {
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count == 3, let ram = UInt64(parts[0]) else { return nil }
        let classes = parts[2].split(separator: ",").compactMap { c -> AllocMix.SizeClass? in
            let pair = c.split(separator: ":")
            guard pair.count == 2, let size = UInt64(pair[0]), let percent = Double(pair[1]) else { return nil }
            return AllocMix.SizeClass(sizeBytes: size, percent: percent)
        }
        return (ram, parts[1] == "-" ? nil : Double(parts[1]), classes)
    }
}

/// Writes cases: valid-looking workloads built from the format's grammar with extreme values,
/// mutations of the repository's own workloads, profile overrides at and past their bounds, and
/// generator recipes.
struct CaseWriter {
    let corpus: [[[String]]]

    init(corpus: [String]) {
        self.corpus = corpus.map { $0.split(separator: "\n", omittingEmptySubsequences: false).map { $0.split(separator: " ").map(String.init) } }
    }

    static func rng(seed: UInt64, index: UInt64) -> SplitMix64 {
        var mix = SplitMix64(seed: seed ^ (index &* 0x9E37_79B9_7F4A_7C15))
        return SplitMix64(seed: mix.next())
    }

    func make(seed: UInt64, index: UInt64) -> FuzzCase {
        var rng = Self.rng(seed: seed, index: index)
        var c: FuzzCase
        switch rng.next(below: 10) {
        case 0...5: c = FuzzCase(workload: grammar(&rng))
        case 6...8: c = FuzzCase(workload: mutation(&rng))
        default:
            c = FuzzCase(workload: "somsim-workload 1\n")
            c.allocMix = allocMix(&rng)
        }
        if rng.next(below: 8) == 0 { c.profile = profile(&rng) }
        return c
    }

    // MARK: - Values

    static let sizes: [String] = [
        "0", "4K", "8K", "12K", "64K", "1028K", "1M", "2M", "4M", "6M", "1G", "2G", "3G", "16G", "32T", "64T", "65T",
        "4096T", "4097T", "16777215T", "18446744073709547520B", "18446744073709551615B", "4097B", "1B", "8191B",
    ]
    static let counts: [String] = ["0", "1", "2", "3", "16", "512", "8192", "100000", "16777216", "16777217", "4294967296", "18446744073709551615"]

    func pick<T>(_ values: [T], _ rng: inout SplitMix64) -> T { values[Int(rng.next(below: UInt64(values.count)))] }

    func size(_ rng: inout SplitMix64) -> String {
        rng.next(below: 4) == 0 ? "\(4 * (1 + rng.next(below: 4096)))K" : pick(Self.sizes, &rng)
    }

    // MARK: - Grammar

    func machine(_ rng: inout SplitMix64) -> String {
        var settings: [String] = []
        if rng.next(below: 2) == 0 { settings.append("ram=" + pick(["4K", "1M", "100M", "256M", "1G", "4G", "16G", "64T", "4096T", size(&rng)], &rng)) }
        if rng.next(below: 3) == 0 { settings.append("hugetlb-2m=" + pick(Self.counts, &rng)) }
        if rng.next(below: 3) == 0 { settings.append("hugetlb-1g=" + pick(Self.counts, &rng)) }
        if rng.next(below: 3) == 0 { settings.append("hvo=" + pick(["on", "off"], &rng)) }
        if rng.next(below: 4) == 0 { settings.append("hvo-kept=" + pick(["1", "2"], &rng)) }
        if rng.next(below: 3) == 0 { settings.append("thp=" + pick(["never", "madvise", "always"], &rng)) }
        if rng.next(below: 4) == 0 { settings.append("mthp=" + pick(["16K", "64K", "16K,64K,512K", "1M", "32K,256K"], &rng)) }
        if rng.next(below: 4) == 0 { settings.append("pti=" + pick(["on", "off"], &rng)) }
        if rng.next(below: 5) == 0 { settings.append("som-source=" + pick(["hugetlb-2m", "hugetlb-1g", "devdax", "external"], &rng)) }
        if rng.next(below: 5) == 0 { settings.append("som-pool=" + size(&rng)) }
        if rng.next(below: 5) == 0 { settings.append("hugetlb-2m-overcommit=" + pick(Self.counts, &rng)) }
        if rng.next(below: 8) == 0 { settings.append("hugetlb-1g-overcommit=" + pick(["0", "1", "4"], &rng)) }
        if rng.next(below: 6) == 0 { settings.append("mmap-threshold=" + pick(["0", "4K", "64K", "1M", "32M", "2147483647B"], &rng)) }
        if rng.next(below: 6) == 0 { settings.append("trim-threshold=" + pick(["0", "4K", "1M"], &rng)) }
        if rng.next(below: 6) == 0 { settings.append("top-pad=" + pick(["0", "1B", "4K", "1G"], &rng)) }
        return settings.isEmpty ? "" : "machine " + settings.joined(separator: " ")
    }

    /// A mapping a generated process holds: its length and page size.
    struct Held {
        var lengthBytes: UInt64
        var pageBytes: UInt64
    }

    /// A sequence of statements that mostly makes sense — names exist, offsets are page
    /// multiples, random counts fit their range — with extreme sizes and counts, so that most
    /// cases run to the end; one statement in sixty breaks a rule on purpose.
    func grammar(_ rng: inout SplitMix64) -> String {
        var lines = ["somsim-workload 1"]
        let m = machine(&rng)
        if !m.isEmpty { lines.append(m) }
        var processes: [String: [String: Held]] = ["p0": [:]]
        // Files each process holds a descriptor for (mmap … file= opens, fork inherits), and the
        // SysV segments that exist.
        var descriptors: [String: Set<String>] = ["p0": []]
        var segments: [String: Held] = [:]
        // The allocator's objects each process holds, with their sizes (fork copies them).
        var objects: [String: [String: UInt64]] = ["p0": [:]]
        var objectCounter = 0
        var order = ["p0"]
        lines.append("spawn p0")
        var created = 1
        var mapCounter = 0
        for step in 0..<(4 + Int(rng.next(below: 28))) {
            let p = pick(order, &rng)
            let held = processes[p]!
            let sloppy = rng.next(below: 60) == 0
            switch rng.next(below: 34) {
            case 0, 1:
                let child = "p\(created)"
                created += 1
                lines.append("\(p) fork \(child)")
                processes[child] = held
                objects[child] = objects[p] ?? [:]
                descriptors[child] = descriptors[p] ?? []
                order.append(child)
            case 2:
                let name = "p\(created)"
                created += 1
                lines.append("spawn \(name)")
                processes[name] = [:]
                descriptors[name] = []
                order.append(name)
            case 3 where order.count > 1:
                lines.append("\(p) exit")
                processes[p] = nil
                order.removeAll { $0 == p }
            case 4, 5, 6, 7:
                var options: [String] = []
                var page: UInt64 = 4096
                if rng.next(below: 12) == 0 {
                    options.append("som")
                } else {
                    if rng.next(below: 3) == 0 { options.append("shared") }
                    if rng.next(below: 5) == 0 {
                        let huge = pick(["2M", "1G"], &rng)
                        options.append("huge=" + huge)
                        page = huge == "2M" ? 2 << 20 : 1 << 30
                    }
                    if rng.next(below: 5) == 0 {
                        let file = pick(["f", "g"], &rng)
                        options.append("file=" + file)
                        descriptors[p, default: []].insert(file)
                        if rng.next(below: 3) == 0 { options.append("fileoffset=" + pick(["0", "4K", "2M", "6M", "1G", "4097B"], &rng)) }
                    }
                    if page != 4096 && rng.next(below: 4) == 0 { options.append("noreserve") }
                }
                if rng.next(below: 6) == 0 { options.append("populate") }
                let pages: UInt64 = pick([1, 2, 3, 16, 257, 512, 513, 4096, 262_144, 1 << 24, 1 << 33, 1 << 34, (1 << 34) + 1, 1 << 52], &rng)
                let length = sloppy ? pick([0, 4097, UInt64.max & ~4095], &rng) : (pages.multipliedReportingOverflow(by: page).overflow ? UInt64.max / page * page : pages * page)
                let name = held.isEmpty || rng.next(below: 30) != 0 ? "m\(mapCounter)" : pick(Array(held.keys).sorted(), &rng)
                mapCounter += 1
                lines.append((["\(p) mmap \(name) \(WorkloadPrinter.format(size: length))"] + options).joined(separator: " "))
                processes[p]![name] = Held(lengthBytes: length, pageBytes: page)
            case 8:
                guard let name = held.keys.sorted().randomElement(using: &rng) else { continue }
                lines.append("\(p) munmap \(name)")
                processes[p]![name] = nil
            case 9, 10, 11:
                guard let name = held.keys.sorted().randomElement(using: &rng) else { continue }
                let advice = pick(Advice.allCases.map(\.rawValue), &rng)
                lines.append("\(p) madvise \(name) \(advice)\(range(held[name]!, sloppy, &rng).text)")
            case 12:
                lines.append("measure m\(step)")
            case 13 where rng.next(below: 2) == 0:
                // Blocks whose body produces nothing, with counts up to 2^64 − 1.
                let count = pick(["0", "1", "18446744073709551615", "4294967296"], &rng)
                lines.append("repeat \(count) as v\(step) {")
                if rng.next(below: 2) == 0 {
                    lines.append("repeat 0 as z\(step) {")
                    lines.append("\(p) touch nowhere write")
                    lines.append("}")
                }
                lines.append("}")
            case 13:
                // A small block of fresh mappings, written and forked.
                let count = 1 + rng.next(below: 4)
                lines.append("repeat \(count) as v\(step) {")
                lines.append("  \(p) mmap r\(step)_{v\(step)} \(pick(["4K", "64K", "2M", "1028K"], &rng))")
                lines.append("  \(p) touch r\(step)_{v\(step)} write")
                lines.append("  \(p) fork c\(step)_{v\(step)}")
                lines.append("}")
            case 22, 23:
                guard let name = held.keys.sorted().randomElement(using: &rng) else { continue }
                let r = range(held[name]!, sloppy, &rng).text
                switch rng.next(below: 4) {
                case 0: lines.append("\(p) mlock \(name)\(r)")
                case 1: lines.append("\(p) munlock \(name)\(r)")
                default: lines.append("\(p) mprotect \(name) \(pick(["read", "write", "none"], &rng))\(r)")
                }
            case 24:
                // A range munmap keeps the name; a later statement may meet the hole.
                guard let name = held.keys.sorted().randomElement(using: &rng) else { continue }
                lines.append("\(p) munmap \(name)\(range(held[name]!, sloppy, &rng).text)")
            case 25:
                guard let name = held.keys.sorted().randomElement(using: &rng) else { continue }
                let mapping = held[name]!
                let pages: UInt64 = pick([1, 2, 3, 16, 512, 513, 4096, 1 << 24, 1 << 34], &rng)
                let length = pages.multipliedReportingOverflow(by: mapping.pageBytes).overflow ? mapping.pageBytes : pages * mapping.pageBytes
                lines.append("\(p) mremap \(name) \(WorkloadPrinter.format(size: sloppy ? length &+ 1 : length))" + (rng.next(below: 2) == 0 ? " maymove" : ""))
                processes[p]![name] = Held(lengthBytes: length, pageBytes: mapping.pageBytes)
            case 26:
                guard let file = (descriptors[p] ?? []).sorted().randomElement(using: &rng) else { continue }
                switch rng.next(below: 4) {
                case 0: lines.append("\(p) ftruncate \(file) \(size(&rng))")
                case 1: lines.append("\(p) fallocate \(file) offset=\(size(&rng)) length=\(size(&rng))" + (rng.next(below: 2) == 0 ? " punch" : ""))
                case 2:
                    lines.append("\(p) close \(file)")
                    descriptors[p]!.remove(file)
                default: lines.append("\(p) unlink \(file)")
                }
            case 27:
                lines.append("sysctl hugetlb-\(pick(["2m", "1g"], &rng))=\(pick(Self.counts, &rng))")
            case 28, 29:
                let key = pick(["k0", "k1"], &rng)
                if let segment = segments[key] {
                    switch rng.next(below: 3) {
                    case 0:
                        let name = "s\(mapCounter)"
                        mapCounter += 1
                        lines.append("\(p) shmat \(key) \(name)")
                        processes[p]![name] = segment
                    case 1:
                        lines.append("\(p) shmrm \(key)")
                        segments[key] = nil
                    default:
                        guard let name = held.keys.sorted().first(where: { $0.hasPrefix("s") }) else { continue }
                        lines.append("\(p) shmdt \(name)")
                        processes[p]![name] = nil
                    }
                } else {
                    let huge = pick([nil, nil, "2M", "1G"], &rng)
                    let page: UInt64 = huge == "2M" ? 2 << 20 : huge == "1G" ? 1 << 30 : 4096
                    let pages: UInt64 = pick([1, 2, 16, 512, 1 << 20], &rng)
                    lines.append("\(p) shmget \(key) \(WorkloadPrinter.format(size: pages * page))" + (huge.map { " huge=\($0)" } ?? ""))
                    segments[key] = Held(lengthBytes: pages * page, pageBytes: page)
                }
            case 31, 32, 33:
                // The allocator: sizes from 0 to past PTRDIFF_MAX, objects freed, reallocated
                // (to 0 too), written and read, in parents and children.
                var owned = objects[p] ?? [:]
                let bytes: UInt64 = pick([0, 1, 24, 100, 1000, 1008, 1024, 4000, 65536, 131072, 200_000, 1 << 20, 40 << 20, 1 << 40, 1 << 63, UInt64.max], &rng)
                    &+ (rng.next(below: 2) == 0 ? rng.next(below: 64) : 0)
                let verb = rng.next(below: 6)
                if verb < 2 || owned.isEmpty {
                    objectCounter += 1
                    let o = "o\(objectCounter)"
                    lines.append("\(p) \(verb == 0 ? "calloc" : "malloc") \(o) \(bytes)B")
                    owned[o] = bytes
                } else if let o = owned.keys.sorted().randomElement(using: &rng) {
                    switch verb {
                    case 2:
                        lines.append("\(p) free \(o)")
                        owned[o] = nil
                    case 3:
                        lines.append("\(p) realloc \(o) \(bytes)B")
                        owned[o] = bytes
                    default:
                        let size = owned[o]!
                        let offset = size == 0 ? 0 : rng.next(below: size)
                        let length = size - offset == 0 ? 0 : 1 + rng.next(below: min(size - offset, 1 << 22))
                        lines.append("\(p) \(verb == 4 ? "write" : "read") \(o) offset=\(offset)B length=\(sloppy ? length &+ 1 : length)B")
                    }
                }
                objects[p] = owned
            case 30:
                guard let name = held.keys.sorted().randomElement(using: &rng) else { continue }
                let advice = pick(["populate_read", "populate_write", "remove", "collapse", "pageout", "cold", "willneed"], &rng)
                lines.append("\(p) madvise \(name) \(advice)\(range(held[name]!, sloppy, &rng).text)")
            default:
                guard let name = held.keys.sorted().randomElement(using: &rng) else { continue }
                let mapping = held[name]!
                let access = pick(["read", "write"], &rng)
                let r = range(mapping, sloppy, &rng)
                var pattern = ""
                switch rng.next(below: 4) {
                case 0:
                    var stride: UInt64 = pick([1, 4096, 4097, 8192, 65536, 2 << 20, 1 << 30, UInt64.max], &rng)
                    // Mostly a few thousand strides per touch (a touch costs its pages).
                    let bytes = r.pages.multipliedReportingOverflow(by: mapping.pageBytes)
                    if rng.next(below: 400) != 0, !bytes.overflow { stride = max(stride, bytes.partialValue / 4096 + 1) }
                    pattern = " stride=" + WorkloadPrinter.format(size: stride)
                case 1:
                    // Up to the per-touch limit now and then; mostly a few thousand pages, so
                    // that the campaign runs millions of cases (a touch costs its pages).
                    let most = min(r.pages, rng.next(below: 400) == 0 ? 1 << 24 : 4096)
                    let count = sloppy ? pick([most + 1, (1 << 24) + 1, UInt64.max], &rng) : (most == 0 ? 0 : rng.next(below: most + 1))
                    pattern = " random=\(count) seed=\(rng.next(below: 100))"
                default:
                    break
                }
                lines.append("\(p) touch \(name) \(access)\(r.text)\(pattern)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `offset=`/`length=` for a mapping: page multiples inside it, at its edges or past its
    /// end (or not page multiples at all, when `sloppy`); `pages` is what the range holds.
    func range(_ m: Held, _ sloppy: Bool, _ rng: inout SplitMix64) -> (text: String, pages: UInt64) {
        let total = m.lengthBytes / max(m.pageBytes, 1)
        var offset: UInt64 = 0
        var length: UInt64? = nil
        switch rng.next(below: 6) {
        case 0: offset = total == 0 ? 0 : rng.next(below: total) * m.pageBytes
        case 1: offset = m.lengthBytes
        case 2: length = (total == 0 ? 0 : 1 + rng.next(below: total)) * m.pageBytes
        case 3:
            offset = total == 0 ? 0 : rng.next(below: total) * m.pageBytes
            length = (UInt64.max / m.pageBytes - offset / m.pageBytes) * m.pageBytes  // to near 2^64
        case 4: length = m.lengthBytes.addingReportingOverflow(m.pageBytes).overflow ? m.lengthBytes : m.lengthBytes + m.pageBytes  // past the end
        default: break
        }
        if sloppy { offset &+= 1 }
        var text = ""
        if offset > 0 { text += " offset=\(WorkloadPrinter.format(size: offset))" }
        if let length { text += " length=\(WorkloadPrinter.format(size: length))" }
        let pages = length.map { $0 / max(m.pageBytes, 1) } ?? (offset <= m.lengthBytes ? (m.lengthBytes - offset) / max(m.pageBytes, 1) : 0)
        return (text, pages)
    }

    // MARK: - Mutation

    static let vocabulary = [
        "0", "1", "3", "4K", "8K", "2M", "1G", "3T", "64T", "4096T", "18446744073709551615", "4097B", "-1", "{i}", "{j}",
        "shared", "huge=2M", "huge=1G", "file=f", "populate", "som", "read", "write", "offset=4K", "offset=1G", "offset=64T",
        "length=8K", "length=0", "length=18446744073709547520B", "stride=4K", "stride=0", "stride=18446744073709551615B",
        "random=5", "random=99999999", "random=16777217", "seed=1", "dontfork", "dofork", "wipeonfork", "keeponfork", "dontneed",
        "hugepage", "nohugepage", "fork", "exit", "mmap", "munmap", "madvise", "touch", "measure", "spawn", "repeat", "as",
        "{", "}", "#", "machine", "ram=1M", "ram=4K", "ram=4096T", "hugetlb-2m=2", "hugetlb-2m=18446744073709551615",
        "hugetlb-1g=16", "hvo=on", "hvo-kept=2", "thp=always", "mthp=64K", "som-pool=64T", "a", "b", "master", "worker0",
        "p", "m", "heap", "x.y-z", "é", "\u{FFFD}",
        "mprotect", "mlock", "munlock", "mremap", "maymove", "none", "noreserve", "fileoffset=4K", "ftruncate", "fallocate",
        "punch", "close", "unlink", "sysctl", "shmget", "shmat", "shmdt", "shmrm", "populate_write", "remove", "collapse",
        "pageout", "hugetlb-2m-overcommit=3", "malloc", "calloc", "realloc", "free", "write", "read", "mmap-threshold=0",
        "top-pad=1G", "trim-threshold=0",
    ]

    func mutation(_ rng: inout SplitMix64) -> String {
        var lines = pick(corpus, &rng)
        for _ in 0..<(1 + rng.next(below: 4)) {
            let l = Int(rng.next(below: UInt64(lines.count)))
            switch rng.next(below: 4) {
            case 0 where !lines[l].isEmpty:
                lines[l][Int(rng.next(below: UInt64(lines[l].count)))] = pick(Self.vocabulary, &rng)
            case 1:
                lines[l].append(pick(Self.vocabulary, &rng))
            case 2 where l > 0:
                lines.remove(at: l)
            default:
                lines.insert(lines[Int(rng.next(below: UInt64(lines.count)))], at: l)
            }
        }
        return lines.map { $0.joined(separator: " ") }.joined(separator: "\n")
    }

    // MARK: - Profiles and generators

    /// A few constants at a bound of their allowed range, or one past it (which must be refused).
    func profile(_ rng: inout SplitMix64) -> String {
        var out = ""
        for _ in 0..<(1 + rng.next(below: 3)) {
            let constant = pick(Profile.x86_64.constants, &rng)
            let allowed = constant.allowed
            let value: UInt64
            switch rng.next(below: 5) {
            case 0: value = allowed.minimum
            case 1, 2: value = allowed.maximum
            case 3: value = allowed.maximum &+ 1
            default: value = pick([0, 1, UInt64.max, 1 << 63], &rng)
            }
            out += "\(constant.name) = \(value)\n"
        }
        return out
    }

    func allocMix(_ rng: inout SplitMix64) -> (UInt64, Double?, [AllocMix.SizeClass]) {
        // Large machines only with 4 KiB and 2 MiB classes: a machine of many mTHP-sized
        // mappings is slow to place today (quadratic in mappings; issue 12), not wrong.
        let ram: UInt64 = pick([0, 4096, 1 << 20, 16 << 20, 64 << 20, 256 << 20, 4097, (64 << 20) + 4096, 64 << 40], &rng)
        let fill: Double? = pick([nil, 100, 50, 0.001, 99.999, 0, .nan, .infinity, -1], &rng)
        var classes: [AllocMix.SizeClass] = []
        for _ in 0..<(1 + rng.next(below: 4)) {
            let size: UInt64 = pick([4096, 8192, 16384, 65536, 256 << 10, 1 << 20, 2 << 20, 3 << 20, 4 << 20, 0], &rng)
            classes.append(.init(sizeBytes: size, percent: pick([0, 1, 10, 33.3, 50, 100, .nan, 1e300], &rng)))
        }
        if ram > 1 << 30 { classes = classes.map { .init(sizeBytes: $0.sizeBytes == 2 << 20 ? 2 << 20 : 4096, percent: $0.percent) } }
        return (ram, fill, classes)
    }
}
