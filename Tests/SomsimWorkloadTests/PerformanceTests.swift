import Testing
import SomsimWorkload

@Suite("Expansion at scale")
struct PerformanceTests {
    /// A million expanded statements, half of them with `{VAR}` substitution. (Timing claims are
    /// measured in release builds; this test checks the result and that debug builds stay usable.)
    @Test(.timeLimit(.minutes(1)))
    func aMillionStatements() throws {
        let text = """
            somsim-workload 1
            spawn p
            p mmap heap 4G
            repeat 1000 as i {
              repeat 500 as j {
                p touch heap write offset={j}M length=4K
                p touch heap read
              }
            }
            """
        let w = try WorkloadParser.parse(text, fileName: "big.somw")
        #expect(w.statements.count == 2 + 1_000_000)
        #expect(w.statements.last?.value == .touch(process: "p", mapping: "heap", access: .read, range: .whole, pattern: .every))
    }
}
