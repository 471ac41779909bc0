@testable import SomsimModel
import Testing

/// Figures summed over every process can pass 2^64; they are added up in 128 bits.
@Suite struct WideArithmeticTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var terms: [[UInt64]]
        var expected: String
        var testDescription: String { expected }
    }

    static let cases: [Case] = [
        Case(terms: [[0, 0]], expected: "0"),
        Case(terms: [[UInt64.max, 1]], expected: "18446744073709551615"),
        Case(terms: [[UInt64.max, 1], [1, 1]], expected: "18446744073709551616"),
        Case(terms: [[1 << 40, 1 << 30]], expected: "1180591620717411303424"),  // 2^70
        Case(terms: [[UInt64.max, UInt64.max]], expected: "340282366920938463426481119284349108225"),  // (2^64 − 1)^2
        Case(terms: [[3, 4096], [2, 2 << 20], [1, 1 << 30]], expected: "1077948416"),
    ]

    @Test(arguments: cases)
    func sumsOfProductsAreExact(_ c: Case) {
        #expect(WideSum.of(c.terms.map { ($0[0], $0[1]) }) == c.expected)
    }
}
