import SomsimWorkload
import Testing

/// `param NAME=DEFAULT`, `-D NAME=VALUE` and `--set machine.KEY=VALUE` (issue 13).
@Suite struct ParamTests {
    private func parseWith(_ body: String, params: [(String, String)] = [], machine: [(String, String)] = []) throws(WorkloadError) -> Workload {
        let overrides = WorkloadOverrides(
            params: params.map { .init(name: $0.0, value: $0.1) }, machine: machine.map { .init(name: $0.0, value: $0.1) })
        return try WorkloadParser.parse(header + body, fileName: "test.somw", overrides: overrides)
    }

    private func error(_ body: String, params: [(String, String)] = []) -> WorkloadError? {
        do {
            _ = try parseWith(body, params: params)
            return nil
        } catch {
            return error
        }
    }

    @Test func paramIsSubstitutedInTokensAndRepeatCounts() throws {
        let w = try parseWith("param size=8K\nparam n=2\nspawn p\np mmap m{n} {size}\nrepeat {n} as i {\np fork c{i}\n}")
        #expect(w.statementValues == [
            .spawn(process: "p"),
            .mmap(process: "p", mapping: "m2", lengthBytes: 8192, options: MmapOptions()),
            .fork(parent: "p", child: "c0"),
            .fork(parent: "p", child: "c1"),
        ])
        #expect(w.params == [WorkloadParam(name: "size", value: "8K", defaultValue: "8K", line: 2), WorkloadParam(name: "n", value: "2", defaultValue: "2", line: 3)])
    }

    @Test func overrideReplacesTheDefault() throws {
        let w = try parseWith("param n=1\nspawn p\nrepeat {n} as i {\np fork c{i}\n}", params: [("n", "3")])
        #expect(w.statementValues.count == 4)  // spawn + 3 forks
        #expect(w.params.first?.value == "3")
        #expect(w.params.first?.defaultValue == "1")
        // The last -D of a name wins.
        let last = try parseWith("param n=1\nspawn p\nrepeat {n} as i {\np fork c{i}\n}", params: [("n", "3"), ("n", "0")])
        #expect(last.statementValues == [.spawn(process: "p")])
    }

    @Test func repeatVariableIsFoundBeforeAParam() throws {
        // A repeat variable may not take a param's name, so {i} is always the loop's.
        #expect(error("param i=5\nrepeat 1 as i {\nspawn a{i}\n}")?.location == SourceLocation(line: 3, column: 13))
    }

    @Test func aProcessNamedParamStillForks() throws {
        #expect(try statements("spawn param\nparam fork child") == [.spawn(process: "param"), .fork(parent: "param", child: "child")])
    }

    @Test func machineOverrideReplacesOneSettingAndKeepsTheOthers() throws {
        let w = try parseWith("machine ram=1G thp=never\nspawn p", machine: [("thp", "always")])
        #expect(w.machine.ramBytes == 1 << 30)
        #expect(w.machine.thp == .always)
        // Without a machine line, the overrides make one.
        let bare = try parseWith("spawn p", machine: [("ram", "2G")])
        #expect(bare.machine.ramBytes == 2 << 30)
        #expect(bare.machineLine == nil)
    }

    @Test func checkMachineSettingRefusesBadKeysAndValues() {
        #expect(throws: WorkloadError.self) { try WorkloadOverrides.checkMachineSetting(.init(name: "thp", value: "sometimes")) }
        #expect(throws: WorkloadError.self) { try WorkloadOverrides.checkMachineSetting(.init(name: "rom", value: "1G")) }
        #expect(throws: Never.self) { try WorkloadOverrides.checkMachineSetting(.init(name: "ram", value: "1G")) }
        #expect(WorkloadOverrides.machineKeys.first == "ram")
        #expect(WorkloadOverrides.machineKeys.contains("thp"))
        #expect(WorkloadOverrides.machineKeys.contains("top-pad"))
    }

    @Test func printerWritesParamsAndRoundTrips() throws {
        let w = try parseWith("param n=2\nmachine ram=1G\nspawn p\nrepeat {n} as i {\np fork c{i}\n}", params: [("n", "3")])
        let text = WorkloadPrinter.print(w)
        #expect(text == "somsim-workload 1\nparam n=3\nmachine ram=1G\nspawn p\np fork c0\np fork c1\np fork c2\n")
        let again = try WorkloadParser.parse(text, fileName: "again.somw")
        #expect(again.hasSameContent(as: w))
        #expect(again.params.map(\.value) == ["3"])
        #expect(WorkloadPrinter.print(again) == text)
    }

    @Test(arguments: [
        ("unknown name", "spawn a{n}", 2, 7, "unknown variable '{n}' in 'a{n}'; there is no enclosing repeat block and no param"),
        ("unknown name with params", "param m=1\nspawn a{n}", 3, 7, "the params are: m"),
        ("used before its param", "spawn a{n}\nparam n=1", 2, 7, "'{n}' in 'a{n}' is used before its param on line 3; move the 'param n=…' line above its first use"),
        ("duplicate", "param n=1\nparam n=2", 3, 7, "param 'n' is declared a second time (first on line 2)"),
        ("no value", "param n=", 2, 7, "param 'n' has an empty default"),
        ("no equals", "param n", 2, 7, "has no '='"),
        ("missing setting", "param", 2, 6, "missing NAME=DEFAULT"),
        ("two settings", "param a=1 b=2", 2, 11, "one param per line"),
        ("bad name", "param 1n=1", 2, 7, "param name '1n' is not a name"),
        ("brace in default", "param n={m}", 2, 7, "'{' and '}' cannot be used in it"),
        ("inside repeat", "repeat 1 as i {\nparam n=1\n}", 3, 1, "a param is declared at the top level"),
        ("repeat variable named like a param", "param i=1\nrepeat 1 as i {\n}", 3, 13, "has the name of the param on line 2"),
        ("repeat variable in a count", "repeat 2 as i {\nrepeat {i} as j {\n}\n}", 3, 8, "uses a repeat variable"),
        ("bad value in a count", "param n=x\nrepeat {n} as i {\n}", 3, 8, "repeat COUNT must be a plain non-negative integer, not 'x'"),
    ] as [(String, String, Int, Int, String)])
    func refused(_ name: String, _ body: String, _ line: Int, _ column: Int, _ fragment: String) throws {
        let e = try #require(error(body), "\(name) should be refused")
        #expect(e.location == SourceLocation(line: line, column: column), "\(e)")
        #expect(e.message.contains(fragment), "\(e)")
    }

    @Test func badOverrideValueIsRefusedAtTheParam() throws {
        let e = try #require(error("param n=1\nspawn a{n}", params: [("n", "a b")]))
        #expect(e.location == SourceLocation(line: 2, column: 7))
        #expect(e.message == "-D n=a b cannot replace the default of param 'n': a param value cannot hold spaces or line breaks")
        #expect(WorkloadOverrides.problem(withValue: "") == "a param value cannot be empty")
        #expect(WorkloadOverrides.problem(withValue: "x#y") != nil)
        #expect(WorkloadOverrides.problem(withValue: "{a}") != nil)
        #expect(WorkloadOverrides.problem(withValue: "4K") == nil)
    }
}
