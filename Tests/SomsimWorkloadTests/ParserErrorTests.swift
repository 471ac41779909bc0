import Testing
import SomsimWorkload

/// A file that must be refused, where, and a fragment of what the message must say.
struct BadInput: CustomTestStringConvertible, Sendable {
    var name: String
    var text: String
    var line: Int
    var column: Int
    var fragment: String
    var limits = ExpansionLimits.default

    var testDescription: String { name }

    init(_ name: String, _ text: String, _ line: Int, _ column: Int, _ fragment: String, limits: ExpansionLimits = .default) {
        self.name = name
        self.text = text
        self.line = line
        self.column = column
        self.fragment = fragment
        self.limits = limits
    }
}

extension BadInput {
    /// Expects the parser to refuse the text at `line`:`column` with a message holding `fragment`.
    func expectRefused(at caller: Testing.SourceLocation = #_sourceLocation) throws {
        let error = try #require(parseError(text, limits: limits), "\(name) should be refused", sourceLocation: caller)
        #expect(error.location == SourceLocation(line: line, column: column), "\(error)", sourceLocation: caller)
        #expect(error.message.contains(fragment), "\(error)", sourceLocation: caller)
    }
}

/// The header, then `body`: the body's first line is line 2.
private func h(_ body: String) -> String { header + body }

private func nested(_ depth: Int) -> String {
    var text = ""
    for d in 0..<depth { text += "repeat 1 as v\(d) {\n" }
    for _ in 0..<depth { text += "}\n" }
    return text
}

@Suite("Parse errors: line, column and message")
struct ParserErrorTests {
    static let header: [BadInput] = [
        BadInput("no header", "spawn a\n", 1, 1, "starts with the header 'somsim-workload 1'"),
        BadInput("empty file", "", 1, 1, "the file is empty"),
        BadInput("only comments", "# nothing\n\n   # here\n", 1, 1, "the file is empty"),
        BadInput("unknown version", "somsim-workload 2\n", 1, 17, "unsupported format version '2'"),
        BadInput("header without version", "somsim-workload\n", 1, 16, "missing format version"),
        BadInput("header with extra token", "somsim-workload 1 x\n", 1, 19, "unexpected 'x' after the header"),
        BadInput("header twice", h("somsim-workload 1"), 2, 1, "may appear only once"),
    ]

    static let syntax: [BadInput] = [
        BadInput("unknown statement", h("9lives"), 2, 1, "unknown statement '9lives'"),
        BadInput("unknown verb", h("spawn a\na forkk b"), 3, 3, "unknown verb 'forkk' after process 'a'; expected one of: fork, exit"),
        BadInput("missing verb", h("spawn a\na"), 3, 2, "expected a verb after process 'a'"),
        BadInput("spawn without name", h("spawn"), 2, 6, "missing PROC"),
        BadInput("spawn with extra token", h("spawn a b"), 2, 9, "unexpected 'b'"),
        BadInput("exit with extra token", h("spawn a\na exit now"), 3, 8, "unexpected 'now'"),
        BadInput("fork without child", h("spawn a\na fork"), 3, 7, "missing CHILD"),
        BadInput("munmap without mapping", h("spawn a\na munmap"), 3, 9, "missing MAP"),
        BadInput("measure without label", h("measure"), 2, 8, "missing LABEL"),
        BadInput("bad measure label", h("measure a/b"), 2, 9, "'a/b' is not a valid measure label"),
        BadInput("bad process name", h("spawn 1a"), 2, 7, "'1a' is not a valid process name"),
        BadInput("tab counts as one column", h("\tspawn 1a"), 2, 8, "not a valid process name"),
        BadInput("keyword as process name", h("spawn measure"), 2, 7, "'measure' starts statements and cannot name a process"),
        BadInput("keyword as child name", h("spawn a\na fork repeat"), 3, 8, "cannot name a process"),
        BadInput("bad mapping name", h("spawn a\na mmap 4K 4K"), 3, 8, "'4K' is not a valid mapping name"),
        BadInput("mmap without size", h("spawn a\na mmap m"), 3, 9, "missing SIZE"),
        BadInput("unknown mmap option", h("spawn a\na mmap m 4K hugee"), 3, 13,
                 "unknown mmap option 'hugee'; expected one of: shared, huge=2M|1G, file=ID, fileoffset=SIZE, populate, som, noreserve"),
        BadInput("unknown huge page size", h("spawn a\na mmap m 4M huge=4M"), 3, 13, "expected huge=2M or huge=1G"),
        BadInput("mmap option twice", h("spawn a\na mmap m 4K shared shared"), 3, 20, "'shared' is given twice"),
        BadInput("bad file ID", h("spawn a\na mmap m 4K file=/etc/x"), 3, 13, "not a valid file ID"),
        BadInput("not a size", h("spawn a\na mmap m 4X"), 3, 10, "'4X' is not a size"),
        BadInput("lower-case suffix", h("spawn a\na mmap m 4k"), 3, 10, "'4k' is not a size; write digits with an optional suffix B, K, KiB"),
        BadInput("size overflow", h("spawn a\na mmap m 16777216T"), 3, 10, "does not fit in 64 bits"),
        BadInput("unknown advice", h("spawn a\na mmap m 4K\na madvise m dontforkk"), 4, 13, "unknown madvise advice 'dontforkk'; expected one of: dontfork, dofork"),
        BadInput("madvise without advice", h("spawn a\na mmap m 4K\na madvise m"), 4, 12, "missing ADVICE"),
        BadInput("advice spelt as in C", h("spawn a\na mmap m 4K\na madvise m populate-write"), 4, 13,
                 "unknown madvise advice 'populate-write'; expected one of: dontfork, dofork, wipeonfork, keeponfork, hugepage, nohugepage, dontneed, remove, willneed, populate_read, populate_write, collapse, cold, pageout"),
        BadInput("unknown madvise option", h("spawn a\na mmap m 4K\na madvise m dontneed size=4K"), 4, 22, "unknown madvise option 'size=4K'"),
        BadInput("madvise offset twice", h("spawn a\na mmap m 8K\na madvise m dontneed offset=0 offset=4K"), 4, 31, "'offset' is given twice"),
        BadInput("unknown touch access", h("spawn a\na mmap m 4K\na touch m modify"), 4, 11, "expected read or write"),
        BadInput("touch without access", h("spawn a\na mmap m 4K\na touch m"), 4, 10, "missing read|write"),
        BadInput("unknown touch option", h("spawn a\na mmap m 4K\na touch m write strde=4K"), 4, 17, "unknown touch option 'strde=4K'"),
        BadInput("touch option without value", h("spawn a\na mmap m 4K\na touch m write all"), 4, 17, "unknown touch option 'all'"),
        BadInput("stride zero", h("spawn a\na mmap m 4K\na touch m write stride=0"), 4, 17, "stride must be larger than 0"),
        BadInput("random without seed", h("spawn a\na mmap m 8K\na touch m write random=2"), 4, 17, "random=COUNT needs seed=N"),
        BadInput("seed without random", h("spawn a\na mmap m 8K\na touch m write seed=2"), 4, 17, "seed=N is only used with random=COUNT"),
        BadInput("random with stride", h("spawn a\na mmap m 8K\na touch m write stride=8K random=2 seed=1"), 4, 27, "stride= and random= cannot be combined"),
        BadInput("random count not an integer", h("spawn a\na mmap m 8K\na touch m write random=2K seed=1"), 4, 17, "random page count '2K' is not a plain non-negative decimal integer"),
        BadInput("seed overflow", h("spawn a\na mmap m 8K\na touch m write random=1 seed=18446744073709551616"), 4, 26, "seed '18446744073709551616' does not fit in 64 bits"),
    ]

    static let machine: [BadInput] = [
        BadInput("ram above the physical address space", h("machine ram=4097T"), 2, 9, "ram must be at most 4096T: x86-64 addresses 52 bits of physical memory"),
        BadInput("machine twice", h("machine ram=1G\nmachine pti=off"), 3, 1, "machine is given a second time (first on line 2)"),
        BadInput("machine after a process statement", h("spawn a\nmachine ram=1G"), 3, 1, "machine must come before any process statement (the first is on line 2)"),
        BadInput("machine inside a repeat runs twice", h("repeat 2 as i {\nmachine ram=1G\n}"), 3, 1, "machine is given a second time"),
        BadInput("unknown machine key", h("machine rom=1G"), 2, 9, "unknown machine key 'rom'; expected one of: ram=SIZE"),
        BadInput("machine setting without value", h("machine hvo"), 2, 9, "machine settings are KEY=VALUE"),
        BadInput("hvo not on/off", h("machine hvo=yes"), 2, 9, "hvo must be on or off"),
        BadInput("pti not on/off", h("machine pti=1"), 2, 9, "pti must be on or off"),
        BadInput("hvo-kept out of range", h("machine hvo-kept=3"), 2, 9, "hvo-kept must be 1 or 2"),
        BadInput("unknown thp mode", h("machine thp=sometimes"), 2, 9, "thp must be never, madvise or always"),
        BadInput("ram zero", h("machine ram=0"), 2, 9, "ram must be a positive multiple of 4K"),
        BadInput("ram not a page multiple", h("machine ram=5000B"), 2, 9, "ram must be a positive multiple of 4K"),
        BadInput("machine key twice", h("machine ram=1G ram=2G"), 2, 16, "'ram' is given twice"),
        BadInput("pool count not an integer", h("machine hugetlb-2m=x"), 2, 9, "hugetlb-2m page count 'x' is not a plain"),
    ]

    static let semantic: [BadInput] = [
        BadInput("process used before spawn", h("b exit"), 2, 1, "process 'b' is used before it exists; create it first with 'spawn b'"),
        BadInput("fork from an unknown process", h("x fork y"), 2, 1, "process 'x' is used before it exists"),
        BadInput("process used after exit", h("spawn a\na exit\na mmap m 4K"), 4, 1, "process 'a' is used after its exit on line 3"),
        BadInput("fork after exit", h("spawn a\na exit\na fork b"), 4, 1, "used after its exit"),
        BadInput("exit twice", h("spawn a\na exit\na exit"), 4, 1, "used after its exit"),
        BadInput("spawn a name twice", h("spawn a\nspawn a"), 3, 7, "process name 'a' is already taken (created on line 2)"),
        BadInput("reuse a name after exit", h("spawn a\nspawn b\nb exit\na fork b"), 5, 8, "unique in a file, even after exit"),
        BadInput("fork to the parent's own name", h("spawn a\na fork a"), 3, 8, "already taken"),
        BadInput("mapping of another process", h("spawn a\nspawn b\na mmap m 4K\nb touch m write"), 5, 9, "process 'b' has no mapping named 'm'"),
        BadInput("mapping after munmap", h("spawn a\na mmap m 4K\na munmap m\na touch m read"), 5, 9, "has no mapping named 'm'"),
        BadInput("child's mapping is not the parent's", h("spawn a\na fork b\nb mmap m 4K\na touch m read"), 5, 9, "process 'a' has no mapping named 'm'"),
        BadInput("munmap twice", h("spawn a\na mmap m 4K\na munmap m\na munmap m"), 5, 10, "has no mapping named 'm'"),
        BadInput("madvise on an unknown mapping", h("spawn a\na madvise m dontfork"), 3, 11, "has no mapping named 'm'"),
        BadInput("mmap an existing name", h("spawn a\na mmap m 4K\na mmap m 8K"), 4, 8, "process 'a' already has a mapping named 'm'"),
        BadInput("inherited name cannot be mapped again", h("spawn a\na mmap m 4K\na fork b\nb mmap m 4K"), 5, 8, "already has a mapping named 'm'"),
        BadInput("mmap length zero", h("spawn a\na mmap m 0"), 3, 10, "mmap length must be larger than 0"),
        BadInput("mmap length not a page multiple", h("spawn a\na mmap m 6K"), 3, 10, "mmap length 6K is not a multiple of the page size 4K"),
        BadInput("HugeTLB length not a huge page multiple", h("spawn a\na mmap m 3M huge=2M"), 3, 10, "mmap length 3M is not a multiple of the page size 2M"),
        BadInput("1G length not a 1G multiple", h("spawn a\na mmap m 2M huge=1G"), 3, 10, "page size 1G"),
        BadInput("madvise offset not a page multiple", h("spawn a\na mmap m 8K\na madvise m dontneed offset=2K"), 4, 22, "offset 2K is not a multiple of the mapping's page size 4K"),
        BadInput("populate length not a huge page multiple", h("machine hugetlb-2m=2\nspawn a\na mmap m 4M huge=2M\na madvise m populate_write length=1M"), 5, 28,
                 "length 1M is not a multiple of the mapping's page size 2M"),
        BadInput("madvise length not a huge page multiple", h("spawn a\na mmap m 4M huge=2M\na madvise m dontfork length=4K"), 4, 22, "length 4K is not a multiple of the mapping's page size 2M"),
        BadInput("touch offset not a page multiple", h("spawn a\na mmap m 8K\na touch m write offset=100"), 4, 17, "offset 100B is not a multiple"),
        BadInput("touch length not a page multiple", h("spawn a\na mmap m 8K\na touch m read length=6K"), 4, 16, "length 6K is not a multiple"),
        BadInput("random count above the mapping's pages", h("spawn a\na mmap m 64K\na touch m write random=17 seed=1"), 4, 17, "random=17 asks for more distinct pages than the range holds (16)"),
        BadInput("random count above the written length", h("spawn a\na mmap m 64K\na touch m write length=8K random=3 seed=1"), 4, 27, "holds (2)"),
        BadInput("random count above offset-to-end", h("spawn a\na mmap m 64K\na touch m write offset=56K random=3 seed=1"), 4, 28, "holds (2)"),
        BadInput("random count in huge pages", h("spawn a\na mmap m 4M huge=2M\na touch m write random=3 seed=1"), 4, 17, "holds (2)"),
        BadInput(
            "random count above the pages one touch may name", h("spawn a\na mmap m 1T\na touch m write random=16777217 seed=1"), 4, 17,
            "random=16777217 names more than 16777216 pages, the most one touch may"),
        BadInput(
            "stride touching more pages than one touch may name", h("spawn a\na mmap m 32T\na touch m read stride=8K"), 4, 16,
            "stride=8K over 32T touches 4294967296 separate pages, more than the 16777216 one touch may"),

    ]

    /// Files: `fileoffset=`, `ftruncate`, `fallocate`, `close`, `unlink` (docs/workload-format.md).
    static let files: [BadInput] = [
        BadInput("fileoffset without file", h("spawn a\na mmap m 4K fileoffset=4K"), 3, 13, "fileoffset= is an offset into a file; add file=ID"),
        BadInput("fileoffset not a size", h("spawn a\na mmap m 4K file=f fileoffset=x"), 3, 20, "fileoffset 'x' is not a size"),
        BadInput("fileoffset twice", h("spawn a\na mmap m 4K file=f fileoffset=0 fileoffset=4K"), 3, 33, "'fileoffset' is given twice"),
        BadInput("ftruncate without size", h("spawn a\na mmap m 4K file=f\na ftruncate f"), 4, 14, "missing SIZE; the form is 'PROC ftruncate ID SIZE'"),
        BadInput("ftruncate with extra token", h("spawn a\na mmap m 4K file=f\na ftruncate f 0 now"), 4, 17, "unexpected 'now'"),
        BadInput("ftruncate size not a size", h("spawn a\na mmap m 4K file=f\na ftruncate f 4k"), 4, 15, "ftruncate size '4k' is not a size"),
        BadInput("bad file ID", h("spawn a\na close 9f"), 3, 9, "'9f' is not a valid file ID"),
        BadInput("ftruncate without a descriptor", h("spawn a\na ftruncate f 0"), 3, 13, "process 'a' holds no descriptor for file 'f'; a process opens a file with 'a mmap MAP SIZE file=f'"),
        BadInput("fallocate after close", h("spawn a\na mmap m 4K file=f\na close f\na fallocate f offset=0 length=4K"), 5, 13, "holds no descriptor for file 'f'"),
        BadInput("close twice", h("spawn a\na mmap m 4K file=f\na close f\na close f"), 5, 9, "holds no descriptor"),
        BadInput("descriptor of another process", h("spawn a\nspawn b\na mmap m 4K file=f\nb close f"), 5, 9, "process 'b' holds no descriptor for file 'f'"),
        BadInput("child's descriptor is not the parent's", h("spawn a\na fork b\nb mmap m 4K file=f\na close f"), 5, 9, "process 'a' holds no descriptor"),
        BadInput("fallocate without length", h("spawn a\na mmap m 4K file=f\na fallocate f offset=0"), 4, 23, "fallocate needs length=SIZE"),
        BadInput("fallocate without offset", h("spawn a\na mmap m 4K file=f\na fallocate f length=4K punch"), 4, 30, "fallocate needs offset=SIZE"),
        BadInput("fallocate unknown option", h("spawn a\na mmap m 4K file=f\na fallocate f offset=0 length=4K keep"), 4, 34, "unknown fallocate option 'keep'; expected offset=SIZE, length=SIZE or punch"),
        BadInput("fallocate punch twice", h("spawn a\na mmap m 4K file=f\na fallocate f offset=0 length=4K punch punch"), 4, 40, "'punch' is given twice"),
        BadInput("unlink without ID", h("spawn a\na unlink"), 3, 9, "missing ID; the form is 'PROC unlink ID'"),
        BadInput("unlink by an exited process", h("spawn a\na exit\na unlink f"), 4, 1, "used after its exit"),
    ]

    /// `munmap … offset= length=` and `mremap` (issue 9).
    static let remap: [BadInput] = [
        BadInput("munmap with an unknown option", h("spawn a\na mmap m 8K\na munmap m all"), 4, 12, "unknown munmap option 'all'; expected offset=SIZE or length=SIZE"),
        BadInput("munmap offset given twice", h("spawn a\na mmap m 8K\na munmap m offset=0 offset=4K"), 4, 21, "'offset' is given twice"),
        BadInput("munmap offset not a page multiple", h("spawn a\na mmap m 8K\na munmap m offset=2K"), 4, 12, "offset 2K is not a multiple of the mapping's page size 4K"),
        BadInput("munmap length not a huge page multiple", h("spawn a\na mmap m 4M huge=2M\na munmap m length=4K"), 4, 12, "length 4K is not a multiple of the mapping's page size 2M"),
        BadInput("munmap length not a size", h("spawn a\na mmap m 8K\na munmap m length=x"), 4, 12, "length 'x' is not a size"),
        BadInput("partial munmap keeps the name", h("spawn a\na mmap m 8K\na munmap m length=8K\na mmap m 4K"), 5, 8, "already has a mapping named 'm'"),
        BadInput("mremap without a size", h("spawn a\na mmap m 8K\na mremap m"), 4, 11, "missing SIZE; the form is 'PROC mremap MAP SIZE [maymove]'"),
        BadInput("mremap to size 0", h("spawn a\na mmap m 8K\na mremap m 0"), 4, 12, "mremap size must be larger than 0"),
        BadInput("mremap size not a size", h("spawn a\na mmap m 8K\na mremap m big"), 4, 12, "mremap size 'big' is not a size"),
        BadInput("mremap size not a page multiple", h("spawn a\na mmap m 8K\na mremap m 6K"), 4, 12, "mremap size 6K is not a multiple of the mapping's page size 4K"),
        BadInput("mremap size not a huge page multiple", h("spawn a\na mmap m 2M huge=2M\na mremap m 3M"), 4, 12, "mremap size 3M is not a multiple of the mapping's page size 2M"),
        BadInput("mremap with an unknown option", h("spawn a\na mmap m 8K\na mremap m 16K fixed"), 4, 16, "unknown mremap option 'fixed'; expected maymove"),
        BadInput("mremap maymove twice", h("spawn a\na mmap m 8K\na mremap m 16K maymove maymove"), 4, 24, "'maymove' is given twice"),
        BadInput("mremap of an unknown mapping", h("spawn a\na mremap m 8K"), 3, 10, "has no mapping named 'm'"),
        BadInput("mremap after munmap", h("spawn a\na mmap m 8K\na munmap m\na mremap m 8K"), 5, 10, "has no mapping named 'm'"),
        BadInput("random count above the size mremap gave", h("spawn a\na mmap m 64K\na mremap m 8K\na touch m write random=3 seed=1"), 5, 17, "holds (2)"),
    ]

    static let blocks: [BadInput] = [
        BadInput("close without repeat", h("}"), 2, 1, "'}' without an open repeat"),
        BadInput("close with extra token", h("repeat 1 as i {\n} x"), 3, 3, "unexpected 'x' after '}'"),
        BadInput("unclosed repeat", h("repeat 2 as i {\nspawn a{i}\n"), 2, 1, "this repeat block is never closed"),
        BadInput("unclosed outer repeat", h("measure a\n  repeat 2 as i {\n    repeat 2 as j {\n    }\n"), 3, 3, "never closed"),
        BadInput("repeat count with suffix", h("repeat 4K as i {\n}"), 2, 8, "repeat COUNT must be a plain non-negative integer, not '4K'"),
        BadInput("repeat count from a variable", h("repeat 2 as i {\nrepeat {i} as j {\n}\n}"), 3, 8, "{VAR} cannot be used in it"),
        BadInput("repeat count overflow", h("repeat 99999999999999999999 as i {\n}"), 2, 8, "does not fit in 64 bits"),
        BadInput("repeat without count", h("repeat"), 2, 7, "missing COUNT"),
        BadInput("repeat without as", h("repeat 2 i {\n}"), 2, 10, "expected 'as' after the repeat count"),
        BadInput("repeat variable not a name", h("repeat 2 as 1i {\n}"), 2, 13, "repeat variable '1i' is not a name"),
        BadInput("repeat without brace", h("repeat 2 as i\n}"), 2, 14, "missing '{'"),
        BadInput("repeat brace glued to the variable", h("repeat 2 as i{\n}"), 2, 13, "repeat variable 'i{' is not a name"),
        BadInput("repeat with something else than a brace", h("repeat 2 as i do\n}"), 2, 15, "expected '{' after the repeat variable"),
        BadInput("statement after the brace", h("repeat 2 as i { spawn a\n}"), 2, 17, "unexpected 'spawn' after '{'"),
        BadInput("shadowed variable", h("repeat 2 as i {\n  repeat 2 as i {\n  }\n}"), 3, 15, "repeat variable 'i' shadows the variable of the enclosing repeat on line 2"),
        BadInput("unknown variable", h("repeat 2 as i {\nspawn a{j}\n}"), 3, 7, "unknown variable '{j}' in 'a{j}'; the enclosing repeat blocks define: i"),
        BadInput("variable outside any repeat", h("spawn a{i}"), 2, 7, "there is no enclosing repeat block"),
        BadInput("variable of a closed block", h("repeat 1 as i {\n}\nspawn a{i}"), 4, 7, "unknown variable '{i}'"),
        BadInput("unclosed brace in a token", h("repeat 1 as i {\nspawn a{i\n}"), 3, 7, "unclosed '{' in 'a{i'"),
        BadInput("stray brace in a token", h("repeat 1 as i {\nspawn a}b\n}"), 3, 7, "stray '}' in 'a}b'"),
        BadInput("empty braces", h("repeat 1 as i {\nspawn a{}\n}"), 3, 7, "'{}' in 'a{}' is not a variable"),
        BadInput("error in a repeat 0 body", h("repeat 0 as i {\np{i} tuch m\n}"), 3, 6, "unknown verb 'tuch'"),
        BadInput("expanded value checked at its original column", h("spawn p\np mmap m 64K\nrepeat 3 as i {\n  p touch m write offset={i}K\n}"), 5, 19, "offset 1K is not a multiple"),
        BadInput("name created twice by expansion", h("repeat 2 as i {\nspawn a\n}"), 3, 7, "already taken (created on line 3)"),
        BadInput("expanded size overflows", h("spawn a\nrepeat 11 as i {\n  a mmap m{i} 1677721{i}T\n}"), 4, 15, "does not fit in 64 bits"),
    ]

    static let limits: [BadInput] = [
        BadInput("17 nested blocks", h(nested(17)), 18, 1, "repeat blocks nest 17 deep here; the limit is 16"),
        BadInput("depth limit of 2", h(nested(3)), 4, 1, "the limit is 2", limits: ExpansionLimits(maxDepth: 2)),
        BadInput("a billion statements", h("spawn a\nrepeat 1000000000 as i {\nmeasure m\n}"), 3, 1, "more than 20000000 statements"),
        BadInput("outer block crosses the limit", h("repeat 100000 as i {\n  repeat 1000 as j {\n    measure x\n  }\n}"), 2, 1, "expansion limit"),
        BadInput("counts that overflow when multiplied", h("repeat 18446744073709551615 as i {\n  repeat 18446744073709551615 as j {\n    measure x\n  }\n}"), 3, 3, "expansion limit"),
        BadInput("siblings cross the limit together", h("repeat 6 as i {\nmeasure a\n}\nrepeat 6 as j {\nmeasure b\n}"), 5, 1, "more than 10 statements", limits: ExpansionLimits(maxStatements: 10)),
        BadInput("plain lines cross the limit", h("measure a\nmeasure b\nmeasure c"), 4, 1, "more than 2 statements", limits: ExpansionLimits(maxStatements: 2)),
    ]

    /// The single-owner pool's page sizes and the TLB model's machine keys (issue 11).
    static let somAndTLB: [BadInput] = [
        BadInput("som page without som", h("spawn a\na mmap m 2M page=2M"), 3, 13, "page= is the page size of single-owner memory; add som"),
        BadInput("som page size unknown", h("spawn a\na mmap m 2M som page=4M"), 3, 17, "unknown som page size in 'page=4M'; expected page=4K, page=2M or page=1G"),
        BadInput("som page twice", h("spawn a\na mmap m 2M som page=2M page=4K"), 3, 25, "'page' is given twice"),
        BadInput("som 1G page of a partial length", h("spawn a\na mmap m 3M som page=1G"), 3, 17, "make its length a multiple of 1G, or use page=2M"),
        BadInput("som-pool neither size nor grow", h("machine som-pool=more"), 2, 9, "som-pool 'more' is not a size"),
        BadInput("som-source unknown", h("machine som-source=ram"), 2, 9, "som-source must be hugetlb, hugetlb-hvo, hugetlb-2m, hugetlb-1g, devdax or external"),
        BadInput("virt levels unknown", h("machine virt=4x3"), 2, 9, "virt must be GUESTxHOST page-table levels: 4x4, 4x5, 5x4 or 5x5, not '4x3'"),
        BadInput("guest page unknown", h("machine guest-page=4M"), 2, 9, "guest-page must be 4K, 2M or 1G, not '4M'"),
        BadInput("host page unknown", h("machine ram=1G host-page=64K"), 2, 16, "host-page must be 4K, 2M or 1G, not '64K'"),
        BadInput("virt twice", h("machine virt=4x4 virt=5x5"), 2, 18, "'virt' is given twice"),
    ]

    @Test(arguments: somAndTLB)
    func somAndTLBRefused(_ bad: BadInput) throws {
        let error = try #require(parseError(bad.text, limits: bad.limits), "\(bad.name) should be refused")
        #expect(error.location == SourceLocation(line: bad.line, column: bad.column), "\(error)")
        #expect(error.message.contains(bad.fragment), "\(error)")
    }

    @Test(arguments: header + syntax + machine + semantic + remap + blocks + limits + files)
    func refused(_ bad: BadInput) throws {
        try bad.expectRefused()
        #expect(parseError(bad.text, limits: bad.limits)?.fileName == "bad.somw")
    }

    /// Issue 13: measure labels name the report's measures; a notebook pivots on them.
    static let measureLabels: [BadInput] = [
        BadInput("measure label twice", h("spawn a\nmeasure x\na mmap m 4K\nmeasure x"), 5, 9, "measure label 'x' is given a second time (first on line 3)"),
        BadInput("measure label twice in a repeat", h("spawn a\nrepeat 2 as i {\nmeasure x\n}"), 4, 9, "by an earlier pass of the repeat around it"),
        BadInput("measure end before the last statement", h("spawn a\nmeasure end\na mmap m 4K"), 3, 9, "a 'measure end' may only be the last statement"),
        BadInput("measure end in a repeat", h("spawn a\nrepeat 2 as i {\nmeasure end\n}"), 4, 9, "a 'measure end' may only be the last statement"),
    ]

    /// A version 1 file that ends with `measure end` (14 of this repository's did) still parses:
    /// that measure is the final one, which every run takes, so the parser leaves it out and the
    /// report has one measure labelled `end`.
    @Test func aLastMeasureEndIsTheFinalMeasure() throws {
        let workload = try WorkloadParser.parse(h("spawn a\na mmap m 4K\nmeasure end"), fileName: "ok.somw")
        #expect(workload.statements.count == 2)
        #expect(!workload.statements.contains { if case .measure = $0.value { return true } else { return false } })
    }

    @Test(arguments: measureLabels)
    func measureLabelsRefused(_ bad: BadInput) throws {
        try bad.expectRefused()
    }

    @Test func measureLabelsWithTheRepeatVariableAreUnique() throws {
        #expect(parseError(h("spawn a\nrepeat 3 as i {\nmeasure step-{i}\n}\nmeasure x\nmeasure end-1")) == nil)
    }

    @Test func descriptionIsCompilerStyle() {
        let error = parseError(h("spawn a\na mmap m 4K hugee"))
        #expect(error?.description == "bad.somw:3:13: error: unknown mmap option 'hugee'; expected one of: shared, huge=2M|1G, file=ID, fileoffset=SIZE, populate, som, noreserve, page=4K|2M|1G (with som)")
    }

    /// Refused before anything is expanded: expanding would take 10^18 steps, so a regression
    /// hangs until the time limit instead of passing. (No wall-clock assertion: debug builds vary.)
    @Test(.timeLimit(.minutes(1)))
    func hugeRepeatIsRefusedWithoutExpanding() {
        let error = parseError(h("spawn a\na mmap m 4K\nrepeat 1000000000 as i {\n  repeat 1000000000 as j {\n    a touch m write\n  }\n}"))
        #expect(error?.location == SourceLocation(line: 5, column: 3))
    }
}
