/// Columns of the tokens the static checks point at; 0 where the statement has no such token.
struct Anchors {
    var first = 0
    var second = 0
    var size = 0
    var offset = 0
    var length = 0
    var random = 0
    var stride = 0
    /// The segment key of `shmat` (its MAP is `second`).
    var key = 0
}

/// One statement line after `{VAR}` substitution, before the static checks.
enum ParsedLine {
    case machine(MachineSpec)
    case statement(Statement, Anchors)

    /// Whether the line adds a statement to `Workload.statements`.
    var emitsStatement: Bool {
        if case .statement = self { return true }
        return false
    }
}

/// Turns the tokens of one line (not `repeat`, `}` or the header) into a statement.
struct StatementParser {
    let fileName: String

    static let verbs = "fork, exit, mmap, munmap, madvise, touch, mprotect, mlock, munlock, shmget, shmat, shmdt, shmrm, ftruncate, fallocate, close, unlink, mremap, malloc, calloc, realloc, free, write, read"
    static let mmapOptions = "shared, huge=2M|1G, file=ID, fileoffset=SIZE, populate, som, noreserve, page=4K|2M|1G (with som)"
    static let machineKeys =
        "ram=SIZE, hugetlb-2m=N, hugetlb-1g=N, hugetlb-2m-overcommit=N, hugetlb-1g-overcommit=N, hvo=on|off, hvo-kept=1|2, thp=never|madvise|always, pti=on|off, mthp=SIZE[,SIZE...], som-source=hugetlb-2m|hugetlb-1g|hugetlb|hugetlb-hvo|devdax|external, som-pool=SIZE|grow, virt=4x4|4x5|5x4|5x5, guest-page=4K|2M|1G, host-page=4K|2M|1G, malloc=glibc-2.36, mmap-threshold=SIZE, trim-threshold=SIZE, top-pad=SIZE"
    /// First words that start a statement and therefore cannot name a process.
    static let keywords: Set<String> = ["spawn", "measure", "machine", "repeat", "somsim-workload", "sysctl"]

    func error(_ line: Int, _ column: Int, _ message: String) -> WorkloadError {
        WorkloadError(fileName: fileName, location: SourceLocation(line: line, column: column), message: message)
    }

    func parse(_ t: [Token], line: Int) throws(WorkloadError) -> ParsedLine {
        let head = t[0]
        if head.isEqual("spawn") {
            try expectCount(t, 2, line: line, usage: "spawn PROC")
            let name = try processName(t[1], line: line)
            return .statement(.spawn(process: name), Anchors(first: head.column, second: t[1].column))
        }
        if head.isEqual("measure") {
            try expectCount(t, 2, line: line, usage: "measure LABEL")
            let label = try name(t[1], line: line, what: "measure label")
            return .statement(.measure(label: label), Anchors(first: head.column, second: t[1].column))
        }
        if head.isEqual("machine") {
            return .machine(try machine(t, line: line))
        }
        if head.isEqual("sysctl") {
            return .statement(try sysctl(t, line: line), Anchors(first: head.column, second: t.count > 1 ? t[1].column : head.column))
        }
        if head.isEqual("somsim-workload") {
            throw error(line, head.column, "the header 'somsim-workload 1' may appear only once, as the first statement; remove this line")
        }
        guard isName(head.text) else {
            throw error(
                line, head.column,
                "unknown statement \(head.quoted); expected spawn, measure, machine, sysctl, repeat, '}' or PROC VERB with VERB one of: \(Self.verbs)"
            )
        }
        guard t.count >= 2 else {
            throw error(
                line, head.endColumn,
                "expected a verb after process \(head.quoted): one of \(Self.verbs) (or is this meant to be a statement: spawn, measure, machine, repeat?)"
            )
        }
        let process = head.string
        let verb = t[1]
        var anchors = Anchors(first: head.column)
        if verb.isEqual("fork") {
            try expectCount(t, 3, line: line, usage: "PROC fork CHILD")
            anchors.second = t[2].column
            return .statement(.fork(parent: process, child: try processName(t[2], line: line)), anchors)
        }
        if verb.isEqual("exit") {
            try expectCount(t, 2, line: line, usage: "PROC exit")
            return .statement(.exit(process: process), anchors)
        }
        if verb.isEqual("munmap") {
            return try munmap(t, process: process, line: line, anchors: anchors)
        }
        if verb.isEqual("mmap") {
            return try mmap(t, process: process, line: line, anchors: anchors)
        }
        if verb.isEqual("madvise") {
            return try madvise(t, process: process, line: line, anchors: anchors)
        }
        if verb.isEqual("touch") {
            return try touch(t, process: process, line: line, anchors: anchors)
        }
        if verb.isEqual("mprotect") || verb.isEqual("mlock") || verb.isEqual("munlock") {
            return try protection(t, process: process, line: line, anchors: anchors)
        }
        if verb.isEqual("shmget") || verb.isEqual("shmat") || verb.isEqual("shmdt") || verb.isEqual("shmrm") {
            return try shm(t, process: process, line: line, anchors: anchors)
        }
        if verb.isEqual("ftruncate") || verb.isEqual("fallocate") || verb.isEqual("close") || verb.isEqual("unlink") {
            return try fileStatement(t, process: process, line: line, anchors: anchors)
        }
        if verb.isEqual("mremap") {
            return try mremap(t, process: process, line: line, anchors: anchors)
        }
        if verb.isEqual("malloc") || verb.isEqual("calloc") || verb.isEqual("realloc") || verb.isEqual("free") || verb.isEqual("write") || verb.isEqual("read") {
            return try allocator(t, process: process, line: line, anchors: anchors)
        }
        throw error(
            line, verb.column,
            "unknown verb \(verb.quoted) after process \(process.quoted); expected one of: \(Self.verbs) (statements that start with a keyword: spawn, measure, machine, repeat)"
        )
    }

    // MARK: - Statements

    private func mmap(_ t: [Token], process: String, line: Int, anchors: Anchors) throws(WorkloadError) -> ParsedLine {
        let usage = "PROC mmap MAP SIZE [shared] [huge=2M|1G] [file=ID] [populate] [som [page=4K|2M|1G]] [noreserve]"
        try expectAtLeast(t, 4, line: line, usage: usage)
        var anchors = anchors
        anchors.second = t[2].column
        anchors.size = t[3].column
        let mapping = try name(t[2], line: line, what: "mapping name")
        let length = try size(t[3].text, t[3], line: line, what: "mmap length")
        var options = MmapOptions()
        var seen: UInt64 = 0
        var somPageColumn = 0
        for option in t[4...] {
            if option.isEqual("som") {
                try once(.som, &seen, option, line: line)
                options.som = true
            } else if option.isEqual("noreserve") {
                try once(.noreserve, &seen, option, line: line)
                options.noreserve = true
            } else if option.isEqual("shared") || option.isEqual("populate") {
                if option.isEqual("shared") {
                    try once(.shared, &seen, option, line: line)
                    options.shared = true
                } else {
                    try once(.populate, &seen, option, line: line)
                    options.populate = true
                }
            } else if let (key, value) = option.keyValue(), key.isEqual("huge") {
                try once(.huge, &seen, option, line: line)
                guard case .success(let bytes) = Sizes.parseSize(value), let huge = HugePageSize(rawValue: bytes) else {
                    throw error(line, option.column, "unknown HugeTLB page size in \(option.quoted); expected huge=2M or huge=1G")
                }
                options.huge = huge
            } else if let (key, value) = option.keyValue(), key.isEqual("file") {
                try once(.file, &seen, option, line: line)
                guard isName(value) else {
                    throw error(
                        line, option.column,
                        "\(value.quoted) is not a valid file ID in \(option.quoted); \(Self.nameRule)")
                }
                options.file = value.string
            } else if let (key, value) = option.keyValue(), key.isEqual("fileoffset") {
                try once(.fileoffset, &seen, option, line: line)
                options.fileOffsetBytes = try size(value, option, line: line, what: "fileoffset")
                anchors.offset = option.column
            } else if let (key, value) = option.keyValue(), key.isEqual("page") {
                try once(.somPage, &seen, option, line: line)
                guard case .success(let bytes) = Sizes.parseSize(value), let page = SomPageSize(rawValue: bytes) else {
                    throw error(line, option.column, "unknown som page size in \(option.quoted); expected page=4K, page=2M or page=1G")
                }
                options.somPage = page
                somPageColumn = option.column
            } else {
                throw error(line, option.column, "unknown mmap option \(option.quoted); expected one of: \(Self.mmapOptions)")
            }
        }
        if anchors.offset != 0 && options.file == nil {
            throw error(line, anchors.offset, "fileoffset= is an offset into a file; add file=ID, or remove fileoffset= (anonymous memory has no offset)")
        }
        if options.som && (options.shared || options.huge != nil || options.file != nil) {
            let column = t[4...].first { $0.isEqual("som") }?.column ?? t[2].column
            throw error(line, column, "som memory is private anonymous memory from the single-owner pool; it cannot be shared, huge= or file=")
        }
        if options.som && options.noreserve {
            let column = t[4...].first { $0.isEqual("noreserve") }?.column ?? t[2].column
            throw error(line, column, "noreserve is MAP_NORESERVE, a flag of today's mmap; som memory comes from the single-owner pool, which has no reservations: remove one of them")
        }
        if somPageColumn != 0 && !options.som {
            throw error(line, somPageColumn, "page= is the page size of single-owner memory; add som (mmap MAP SIZE som page=1G), or use huge=2M|1G for HugeTLB pages")
        }
        if options.somPage == .size1G && length % SomPageSize.size1G.rawValue != 0 {
            throw error(line, somPageColumn, "a som mapping with page=1G is made of whole 1 GiB pages; make its length a multiple of 1G, or use page=2M")
        }
        return .statement(.mmap(process: process, mapping: mapping, lengthBytes: length, options: options), anchors)
    }

    /// `PROC ftruncate ID SIZE`, `PROC fallocate ID offset=SIZE length=SIZE [punch]`,
    /// `PROC close ID`, `PROC unlink ID`. Sizes are any number of bytes, as the calls take them:
    /// the kernel rounds or refuses them at run time.
    private func fileStatement(_ t: [Token], process: String, line: Int, anchors: Anchors) throws(WorkloadError) -> ParsedLine {
        var anchors = anchors
        let verb = t[1]
        func fileID() throws(WorkloadError) -> String {
            anchors.second = t[2].column
            return try name(t[2], line: line, what: "file ID")
        }
        if verb.isEqual("close") || verb.isEqual("unlink") {
            let close = verb.isEqual("close")
            try expectCount(t, 3, line: line, usage: close ? "PROC close ID" : "PROC unlink ID")
            let file = try fileID()
            return .statement(close ? .close(process: process, file: file) : .unlink(process: process, file: file), anchors)
        }
        if verb.isEqual("ftruncate") {
            try expectCount(t, 4, line: line, usage: "PROC ftruncate ID SIZE")
            let file = try fileID()
            anchors.size = t[3].column
            return .statement(.ftruncate(process: process, file: file, sizeBytes: try size(t[3].text, t[3], line: line, what: "ftruncate size")), anchors)
        }
        let usage = "PROC fallocate ID offset=SIZE length=SIZE [punch]"
        try expectAtLeast(t, 3, line: line, usage: usage)
        let file = try fileID()
        var offset: UInt64?
        var length: UInt64?
        var punch = false
        var seen: UInt64 = 0
        for option in t[3...] {
            if option.isEqual("punch") {
                try once(.punch, &seen, option, line: line)
                punch = true
            } else if let (key, value) = option.keyValue(), key.isEqual("offset") || key.isEqual("length") {
                try once(key.isEqual("offset") ? .offset : .length, &seen, option, line: line)
                let bytes = try size(value, option, line: line, what: key.string)
                if key.isEqual("offset") {
                    offset = bytes
                    anchors.offset = option.column
                } else {
                    length = bytes
                    anchors.length = option.column
                }
            } else {
                throw error(line, option.column, "unknown fallocate option \(option.quoted); expected offset=SIZE, length=SIZE or punch")
            }
        }
        guard let offset, let length else {
            throw error(
                line, t[t.count - 1].endColumn,
                "fallocate needs \(offset == nil ? "offset=SIZE" : "length=SIZE") (both are always given, as the call takes them); the form is '\(usage)'")
        }
        return .statement(.fallocate(process: process, file: file, offsetBytes: offset, lengthBytes: length, punch: punch), anchors)
    }

    /// Every advice with its name's bytes. Performance: a token is matched against them without
    /// being made a String first (the same as `Advice(rawValue:)`).
    private static let advices: [(name: [UInt8], advice: Advice)] = Advice.allCases.map { (Array($0.rawValue.utf8), $0) }

    private func madvise(_ t: [Token], process: String, line: Int, anchors: Anchors) throws(WorkloadError) -> ParsedLine {
        let usage = "PROC madvise MAP ADVICE [offset=SIZE] [length=SIZE]"
        try expectAtLeast(t, 4, line: line, usage: usage)
        var anchors = anchors
        anchors.second = t[2].column
        let mapping = try name(t[2], line: line, what: "mapping name")
        guard let advice = Self.advices.first(where: { $0.name.elementsEqual(t[3].text) })?.advice else {
            let all = Advice.allCases.map(\.rawValue).joined(separator: ", ")
            throw error(line, t[3].column, "unknown madvise advice \(t[3].quoted); expected one of: \(all)")
        }
        var range = ByteRange()
        var seen: UInt64 = 0
        for option in t[4...] {
            if let (key, value) = option.keyValue(), key.isEqual("offset") || key.isEqual("length") {
                try once(key.isEqual("offset") ? .offset : .length, &seen, option, line: line)
                let bytes = try size(value, option, line: line, what: key.string)
                if key.isEqual("offset") {
                    range.offsetBytes = bytes
                    anchors.offset = option.column
                } else {
                    range.lengthBytes = bytes
                    anchors.length = option.column
                }
            } else {
                throw error(line, option.column, "unknown madvise option \(option.quoted); expected offset=SIZE or length=SIZE")
            }
        }
        return .statement(.madvise(process: process, mapping: mapping, advice: advice, range: range), anchors)
    }

    private func touch(_ t: [Token], process: String, line: Int, anchors: Anchors) throws(WorkloadError) -> ParsedLine {
        let usage = "PROC touch MAP read|write [offset=SIZE] [length=SIZE] [stride=SIZE] [random=COUNT seed=N]"
        try expectAtLeast(t, 4, line: line, usage: usage)
        var anchors = anchors
        anchors.second = t[2].column
        let mapping = try name(t[2], line: line, what: "mapping name")
        let access: Access
        if t[3].isEqual("write") {
            access = .write
        } else if t[3].isEqual("read") {
            access = .read
        } else {
            throw error(line, t[3].column, "unknown touch access \(t[3].quoted); expected read or write")
        }
        var range = ByteRange()
        var stride: (bytes: UInt64, column: Int)?
        var random: (count: UInt64, column: Int)?
        var seed: (value: UInt64, column: Int)?
        var seen: UInt64 = 0
        for option in t[4...] {
            guard let (key, value) = option.keyValue() else {
                throw error(line, option.column, "unknown touch option \(option.quoted); expected offset=SIZE, length=SIZE, stride=SIZE or random=COUNT seed=N")
            }
            if key.isEqual("offset") {
                try once(.offset, &seen, option, line: line)
                range.offsetBytes = try size(value, option, line: line, what: "offset")
                anchors.offset = option.column
            } else if key.isEqual("length") {
                try once(.length, &seen, option, line: line)
                range.lengthBytes = try size(value, option, line: line, what: "length")
                anchors.length = option.column
            } else if key.isEqual("stride") {
                try once(.stride, &seen, option, line: line)
                let bytes = try size(value, option, line: line, what: "stride")
                guard bytes > 0 else {
                    throw error(line, option.column, "stride must be larger than 0; give the distance in bytes between touched bytes, e.g. stride=64K")
                }
                stride = (bytes, option.column)
                anchors.stride = option.column
            } else if key.isEqual("random") {
                try once(.random, &seen, option, line: line)
                random = (try integer(value, option, line: line, what: "random page count"), option.column)
                anchors.random = option.column
            } else if key.isEqual("seed") {
                try once(.seed, &seen, option, line: line)
                seed = (try integer(value, option, line: line, what: "seed"), option.column)
            } else {
                throw error(line, option.column, "unknown touch option \(option.quoted); expected offset=SIZE, length=SIZE, stride=SIZE or random=COUNT seed=N")
            }
        }
        var pattern = TouchPattern.every
        switch (random, seed) {
        case (nil, nil):
            break
        case (let r?, nil):
            throw error(line, r.column, "random=COUNT needs seed=N as well, so runs repeat the same pages; add e.g. seed=1")
        case (nil, let s?):
            throw error(line, s.column, "seed=N is only used with random=COUNT; add random=COUNT or remove seed=")
        case (let r?, let s?):
            if let stride {
                throw error(line, max(stride.column, r.column), "stride= and random= cannot be combined; a touch is either every STRIDE bytes or COUNT random pages")
            }
            pattern = .random(count: r.count, seed: s.value)
        }
        if let stride { pattern = .stride(bytes: stride.bytes) }
        return .statement(.touch(process: process, mapping: mapping, access: access, range: range, pattern: pattern), anchors)
    }

    /// `offset=SIZE` and `length=SIZE`, each at most once, and nothing else: the options of
    /// munmap, mprotect, mlock and munlock. `unknown` words the error for any other token.
    private func rangeOptions(
        _ options: ArraySlice<Token>, line: Int, anchors: inout Anchors, unknown: (Token) -> String
    ) throws(WorkloadError) -> ByteRange {
        var range = ByteRange()
        var seen: UInt64 = 0
        for option in options {
            guard let (key, value) = option.keyValue(), key.isEqual("offset") || key.isEqual("length") else {
                throw error(line, option.column, unknown(option))
            }
            try once(key.isEqual("offset") ? .offset : .length, &seen, option, line: line)
            let bytes = try size(value, option, line: line, what: key.string)
            if key.isEqual("offset") {
                range.offsetBytes = bytes
                anchors.offset = option.column
            } else {
                range.lengthBytes = bytes
                anchors.length = option.column
            }
        }
        return range
    }

    private func munmap(_ t: [Token], process: String, line: Int, anchors: Anchors) throws(WorkloadError) -> ParsedLine {
        let usage = "PROC munmap MAP [offset=SIZE] [length=SIZE]"
        try expectAtLeast(t, 3, line: line, usage: usage)
        var anchors = anchors
        anchors.second = t[2].column
        let mapping = try name(t[2], line: line, what: "mapping name")
        let range = try rangeOptions(
            t[3...], line: line, anchors: &anchors,
            unknown: { "unknown munmap option \($0.quoted); expected offset=SIZE or length=SIZE (without them the whole mapping is unmapped)" })
        return .statement(.munmap(process: process, mapping: mapping, range: range), anchors)
    }

    private func mremap(_ t: [Token], process: String, line: Int, anchors: Anchors) throws(WorkloadError) -> ParsedLine {
        let usage = "PROC mremap MAP SIZE [maymove]"
        try expectAtLeast(t, 4, line: line, usage: usage)
        var anchors = anchors
        anchors.second = t[2].column
        // The checker holds SIZE to the mapping's page size, as it does a length.
        anchors.length = t[3].column
        let mapping = try name(t[2], line: line, what: "mapping name")
        let length = try size(t[3].text, t[3], line: line, what: "mremap size")
        guard length > 0 else {
            throw error(line, t[3].column, "mremap size must be larger than 0 (mremap(2) refuses a new length of 0); to unmap the mapping, use 'munmap'")
        }
        var mayMove = false
        for option in t[4...] {
            guard option.isEqual("maymove") else {
                throw error(line, option.column, "unknown mremap option \(option.quoted); expected maymove (MREMAP_MAYMOVE)")
            }
            if mayMove { throw error(line, option.column, "'maymove' is given twice in this statement; keep one") }
            mayMove = true
        }
        return .statement(.mremap(process: process, mapping: mapping, lengthBytes: length, mayMove: mayMove), anchors)
    }

    /// `PROC mprotect MAP read|write|none [offset=SIZE] [length=SIZE]`,
    /// `PROC mlock MAP [offset=SIZE] [length=SIZE]` and `PROC munlock MAP [offset=SIZE] [length=SIZE]`.
    private func protection(_ t: [Token], process: String, line: Int, anchors: Anchors) throws(WorkloadError) -> ParsedLine {
        let verb = t[1].string
        let isMprotect = verb == "mprotect"
        let usage = isMprotect ? "PROC mprotect MAP read|write|none [offset=SIZE] [length=SIZE]" : "PROC \(verb) MAP [offset=SIZE] [length=SIZE]"
        try expectAtLeast(t, isMprotect ? 4 : 3, line: line, usage: usage)
        var anchors = anchors
        anchors.second = t[2].column
        let mapping = try name(t[2], line: line, what: "mapping name")
        var protection = Protection.write
        if isMprotect {
            guard let given = Protection(rawValue: t[3].string) else {
                throw error(
                    line, t[3].column,
                    "unknown mprotect protection \(t[3].quoted); expected read (PROT_READ), write (PROT_READ|PROT_WRITE) or none (PROT_NONE)")
            }
            protection = given
        }
        let range = try rangeOptions(
            t[(isMprotect ? 4 : 3)...], line: line, anchors: &anchors,
            unknown: { "unknown \(verb) option \($0.quoted); expected offset=SIZE or length=SIZE" })
        switch verb {
        case "mprotect": return .statement(.mprotect(process: process, mapping: mapping, protection: protection, range: range), anchors)
        case "mlock": return .statement(.mlock(process: process, mapping: mapping, range: range), anchors)
        default: return .statement(.munlock(process: process, mapping: mapping, range: range), anchors)
        }
    }
    // MARK: - The allocator

    /// `PROC malloc OBJ SIZE`, `PROC calloc OBJ SIZE`, `PROC realloc OBJ SIZE`, `PROC free OBJ`,
    /// `PROC write OBJ [offset=SIZE] [length=SIZE]`, `PROC read OBJ [offset=SIZE] [length=SIZE]`.
    private func allocator(_ t: [Token], process: String, line: Int, anchors: Anchors) throws(WorkloadError) -> ParsedLine {
        var anchors = anchors
        let verb = t[1].string
        switch verb {
        case "malloc", "calloc", "realloc":
            let usage = "PROC \(verb) OBJ SIZE"
            try expectCount(t, 4, line: line, usage: usage)
            anchors.second = t[2].column
            anchors.size = t[3].column
            let object = try name(t[2], line: line, what: "object name")
            let bytes = try size(t[3].text, t[3], line: line, what: "\(verb) size")
            if verb == "realloc" { return .statement(.realloc(process: process, object: object, bytes: bytes), anchors) }
            return .statement(.malloc(process: process, object: object, bytes: bytes, zeroed: verb == "calloc"), anchors)
        case "free":
            try expectCount(t, 3, line: line, usage: "PROC free OBJ")
            anchors.second = t[2].column
            return .statement(.free(process: process, object: try name(t[2], line: line, what: "object name")), anchors)
        default:
            try expectAtLeast(t, 3, line: line, usage: "PROC \(verb) OBJ [offset=SIZE] [length=SIZE]")
            anchors.second = t[2].column
            let object = try name(t[2], line: line, what: "object name")
            let range = try rangeOptions(
                t[3...], line: line, anchors: &anchors,
                unknown: { "unknown \(verb) option \($0.quoted); expected offset=SIZE or length=SIZE (bytes of the object; without them, all of it)" })
            return .statement(.objectAccess(process: process, object: object, access: verb == "write" ? .write : .read, range: range), anchors)
        }
    }

    // MARK: - Pools and SysV shared memory

    /// `sysctl hugetlb-2m=N` or `sysctl hugetlb-1g=N`.
    private func sysctl(_ t: [Token], line: Int) throws(WorkloadError) -> Statement {
        let usage = "sysctl hugetlb-2m=N"
        try expectCount(t, 2, line: line, usage: usage)
        let setting = t[1]
        guard let (key, value) = setting.keyValue(), key.isEqual("hugetlb-2m") || key.isEqual("hugetlb-1g") else {
            throw error(line, setting.column, "unknown sysctl setting \(setting.quoted); expected hugetlb-2m=N or hugetlb-1g=N (the pool's nr_hugepages)")
        }
        let huge: HugePageSize = key.isEqual("hugetlb-2m") ? .size2M : .size1G
        let pages = try integer(value, setting, line: line, what: "\(key.string) page count")
        return .sysctl(huge: huge, pages: pages)
    }

    /// `PROC shmget KEY SIZE [huge=2M|1G]`, `PROC shmat KEY MAP`, `PROC shmdt MAP`, `PROC shmrm KEY`.
    private func shm(_ t: [Token], process: String, line: Int, anchors: Anchors) throws(WorkloadError) -> ParsedLine {
        var anchors = anchors
        let verb = t[1]
        if verb.isEqual("shmget") {
            let usage = "PROC shmget KEY SIZE [huge=2M|1G]"
            try expectAtLeast(t, 4, line: line, usage: usage)
            anchors.second = t[2].column
            anchors.size = t[3].column
            let key = try name(t[2], line: line, what: "segment key")
            let length = try size(t[3].text, t[3], line: line, what: "segment size")
            var huge: HugePageSize? = nil
            if t.count > 4 {
                let option = t[4]
                guard let (k, value) = option.keyValue(), k.isEqual("huge") else {
                    throw error(line, option.column, "unknown shmget option \(option.quoted); expected huge=2M or huge=1G (SHM_HUGETLB)")
                }
                guard case .success(let bytes) = Sizes.parseSize(value), let size = HugePageSize(rawValue: bytes) else {
                    throw error(line, option.column, "unknown HugeTLB page size in \(option.quoted); expected huge=2M or huge=1G")
                }
                huge = size
                try expectCount(t, 5, line: line, usage: usage)
            }
            return .statement(.shmget(process: process, key: key, lengthBytes: length, huge: huge), anchors)
        }
        if verb.isEqual("shmat") {
            let usage = "PROC shmat KEY MAP"
            try expectCount(t, 4, line: line, usage: usage)
            anchors.second = t[3].column
            anchors.key = t[2].column
            let key = try name(t[2], line: line, what: "segment key")
            return .statement(.shmat(process: process, key: key, mapping: try name(t[3], line: line, what: "mapping name")), anchors)
        }
        if verb.isEqual("shmdt") {
            try expectCount(t, 3, line: line, usage: "PROC shmdt MAP")
            anchors.second = t[2].column
            return .statement(.shmdt(process: process, mapping: try name(t[2], line: line, what: "mapping name")), anchors)
        }
        try expectCount(t, 3, line: line, usage: "PROC shmrm KEY")
        anchors.second = t[2].column
        return .statement(.shmrm(process: process, key: try name(t[2], line: line, what: "segment key")), anchors)
    }

    private func machine(_ t: [Token], line: Int) throws(WorkloadError) -> MachineSpec {
        var spec = MachineSpec()
        var seen: UInt64 = 0
        for setting in t.dropFirst() {
            guard let (key, value) = setting.keyValue() else {
                throw error(line, setting.column, "machine settings are KEY=VALUE, not \(setting.quoted); keys: \(Self.machineKeys)")
            }
            let k = key.string
            switch k {
            case "ram":
                try once(.ram, &seen, setting, line: line)
                let bytes = try size(value, setting, line: line, what: "ram")
                guard bytes > 0, bytes % PageGeometry.pageBytes == 0 else {
                    throw error(line, setting.column, "ram must be a positive multiple of 4K, not \(value.quoted)")
                }
                guard bytes <= MachineSpec.maxRAMBytes else {
                    throw error(
                        line, setting.column,
                        "ram must be at most 4096T: x86-64 addresses 52 bits of physical memory (MAX_PHYSMEM_BITS), not \(value.quoted)")
                }
                spec.ramBytes = bytes
            case "hugetlb-2m":
                try once(.hugetlb2m, &seen, setting, line: line)
                spec.hugetlb2MPages = try integer(value, setting, line: line, what: "hugetlb-2m page count")
            case "hugetlb-1g":
                try once(.hugetlb1g, &seen, setting, line: line)
                spec.hugetlb1GPages = try integer(value, setting, line: line, what: "hugetlb-1g page count")
            case "hugetlb-2m-overcommit":
                try once(.overcommit2m, &seen, setting, line: line)
                spec.hugetlb2MOvercommit = try integer(value, setting, line: line, what: "hugetlb-2m-overcommit page count")
            case "hugetlb-1g-overcommit":
                try once(.overcommit1g, &seen, setting, line: line)
                spec.hugetlb1GOvercommit = try integer(value, setting, line: line, what: "hugetlb-1g-overcommit page count")
            case "hvo", "pti":
                try once(k == "hvo" ? .hvo : .pti, &seen, setting, line: line)
                let on: Bool
                if value.isEqual("on") {
                    on = true
                } else if value.isEqual("off") {
                    on = false
                } else {
                    throw error(line, setting.column, "\(k) must be on or off, not \(value.quoted)")
                }
                if k == "hvo" { spec.hvo = on } else { spec.pti = on }
            case "hvo-kept":
                try once(.hvoKept, &seen, setting, line: line)
                if value.isEqual("1") {
                    spec.hvoKeptPages = 1
                } else if value.isEqual("2") {
                    spec.hvoKeptPages = 2
                } else {
                    throw error(line, setting.column, "hvo-kept must be 1 or 2 (vmemmap pages kept per huge page), not \(value.quoted)")
                }
            case "thp":
                try once(.thp, &seen, setting, line: line)
                guard let mode = THPMode(rawValue: value.string) else {
                    throw error(line, setting.column, "thp must be never, madvise or always, not \(value.quoted)")
                }
                spec.thp = mode
            case "mthp":
                try once(.mthp, &seen, setting, line: line)
                var sizes: [UInt64] = []
                for part in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                    guard case .success(let bytes) = Sizes.parseSize(part), bytes >= 2 * PageGeometry.pageBytes, bytes < PageGeometry.pmdBytes, bytes & (bytes - 1) == 0 else {
                        throw error(line, setting.column, "mthp sizes are powers of two from 8K to 1M, separated by commas (mthp=64K,256K), not \(value.quoted)")
                    }
                    if !sizes.contains(bytes) { sizes.append(bytes) }
                }
                spec.mthpSizes = sizes.sorted()
            case "som-source":
                try once(.somSource, &seen, setting, line: line)
                guard let source = SomSource(rawValue: value.string) else {
                    throw error(line, setting.column, "som-source must be hugetlb, hugetlb-hvo, hugetlb-2m, hugetlb-1g, devdax or external, not \(value.quoted)")
                }
                spec.somSource = source
            case "som-pool":
                try once(.somPool, &seen, setting, line: line)
                if value.isEqual("grow") {
                    spec.somPoolBytes = 0
                } else {
                    spec.somPoolBytes = try size(value, setting, line: line, what: "som-pool")
                }
            case "virt":
                try once(.virt, &seen, setting, line: line)
                let levels: [String: VirtLevels] = [
                    "4x4": VirtLevels(guest: 4, host: 4), "4x5": VirtLevels(guest: 4, host: 5),
                    "5x4": VirtLevels(guest: 5, host: 4), "5x5": VirtLevels(guest: 5, host: 5),
                ]
                guard let virt = levels[value.string] else {
                    throw error(line, setting.column, "virt must be GUESTxHOST page-table levels: 4x4, 4x5, 5x4 or 5x5, not \(value.quoted)")
                }
                spec.virt = virt
            case "guest-page", "host-page":
                try once(k == "guest-page" ? .guestPage : .hostPage, &seen, setting, line: line)
                guard case .success(let bytes) = Sizes.parseSize(value), let page = SomPageSize(rawValue: bytes) else {
                    throw error(line, setting.column, "\(k) must be 4K, 2M or 1G, not \(value.quoted)")
                }
                if k == "guest-page" { spec.guestPage = page } else { spec.hostPage = page }
            case "malloc":
                try once(.malloc, &seen, setting, line: line)
                guard let model = MallocModel(rawValue: value.string) else {
                    throw error(line, setting.column, "malloc must be glibc-2.36 (the allocator somsim models: Debian 12's glibc), not \(value.quoted)")
                }
                spec.malloc = model
            case "mmap-threshold", "trim-threshold", "top-pad":
                let key: Key = k == "mmap-threshold" ? .mmapThreshold : k == "trim-threshold" ? .trimThreshold : .topPad
                try once(key, &seen, setting, line: line)
                let bytes = try size(value, setting, line: line, what: k)
                // mallopt(3) takes an int, and glibc 2.36 takes every positive one (malloc.c:
                // do_set_mmap_threshold has no upper limit any more).
                guard bytes <= UInt64(Int32.max) else {
                    throw error(line, setting.column, "\(k) must be less than 2G (mallopt(3) takes an int), not \(value.quoted)")
                }
                switch key {
                case .mmapThreshold: spec.mallocMmapThreshold = bytes
                case .trimThreshold: spec.mallocTrimThreshold = bytes
                default: spec.mallocTopPad = bytes
                }
            default:
                throw error(line, setting.column, "unknown machine key \(k.quoted); expected one of: \(Self.machineKeys)")
            }
        }
        return spec
    }

    // MARK: - Pieces

    static let nameRule = "names start with a letter or '_' and go on with letters, digits, '_', '.' or '-'"

    private func name(_ token: Token, line: Int, what: String) throws(WorkloadError) -> String {
        guard isName(token.text) else {
            throw error(line, token.column, "\(token.quoted) is not a valid \(what); \(Self.nameRule)")
        }
        return token.string
    }

    private func processName(_ token: Token, line: Int) throws(WorkloadError) -> String {
        let s = try name(token, line: line, what: "process name")
        if Self.keywords.contains(s) {
            throw error(line, token.column, "\(s.quoted) starts statements and cannot name a process; choose another name")
        }
        return s
    }

    private func size(_ text: ArraySlice<UInt8>, _ token: Token, line: Int, what: String) throws(WorkloadError) -> UInt64 {
        switch Sizes.parseSize(text) {
        case .success(let bytes):
            return bytes
        case .failure(.overflow):
            throw error(line, token.column, "\(what) \(text.quoted) does not fit in 64 bits (at most 18446744073709551615 bytes); use a smaller size")
        case .failure(.notANumber):
            throw error(line, token.column, "\(what) \(text.quoted) is not a size; write digits with an optional suffix \(Sizes.suffixList)")
        }
    }

    private func integer(_ text: ArraySlice<UInt8>, _ token: Token, line: Int, what: String) throws(WorkloadError) -> UInt64 {
        switch Sizes.parseInteger(text) {
        case .success(let n):
            return n
        case .failure(.overflow):
            throw error(line, token.column, "\(what) \(text.quoted) does not fit in 64 bits (at most 18446744073709551615); use a smaller number")
        case .failure(.notANumber):
            throw error(line, token.column, "\(what) \(text.quoted) is not a plain non-negative decimal integer")
        }
    }

    /// Options and settings that may appear once per statement, each a bit of a `seen` mask.
    enum Key: UInt64 {
        case shared, populate, huge, file, offset, length, stride, random, seed
        case ram, hugetlb2m, hugetlb1g, hvo, pti, hvoKept, thp
        case som, mthp, somSource, somPool
        case noreserve, overcommit2m, overcommit1g
        case fileoffset, punch
        case somPage, virt, guestPage, hostPage
        case malloc, mmapThreshold, trimThreshold, topPad

        var spelling: String {
            switch self {
            case .hugetlb2m: "hugetlb-2m"
            case .hugetlb1g: "hugetlb-1g"
            case .hvoKept: "hvo-kept"
            case .somSource: "som-source"
            case .somPool: "som-pool"
            case .overcommit2m: "hugetlb-2m-overcommit"
            case .overcommit1g: "hugetlb-1g-overcommit"
            case .somPage: "page"
            case .guestPage: "guest-page"
            case .hostPage: "host-page"
            case .mmapThreshold: "mmap-threshold"
            case .trimThreshold: "trim-threshold"
            case .topPad: "top-pad"
            default: "\(self)"
            }
        }
    }

    private func once(_ key: Key, _ seen: inout UInt64, _ token: Token, line: Int) throws(WorkloadError) {
        let bit: UInt64 = 1 << key.rawValue
        if seen & bit != 0 {
            throw error(line, token.column, "'\(key.spelling)' is given twice in this statement; keep one")
        }
        seen |= bit
    }

    private func expectCount(_ t: [Token], _ count: Int, line: Int, usage: String) throws(WorkloadError) {
        try expectAtLeast(t, count, line: line, usage: usage)
        if t.count > count {
            throw error(line, t[count].column, "unexpected \(t[count].quoted) at the end of the statement; the form is '\(usage)' (comments start with '#')")
        }
    }

    private func expectAtLeast(_ t: [Token], _ count: Int, line: Int, usage: String) throws(WorkloadError) {
        if t.count < count, let last = t.last {
            throw error(line, last.endColumn, "missing \(Self.missingPart(usage, have: t.count)); the form is '\(usage)'")
        }
    }

    /// The name of the first missing token of a usage line (`usage` words after the given count).
    private static func missingPart(_ usage: String, have: Int) -> String {
        let words = usage.split(separator: " ")
        return have < words.count ? String(words[have]) : "tokens"
    }
}
