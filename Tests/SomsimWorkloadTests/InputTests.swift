import SomsimWorkload
import Testing

/// The error parsing `bytes` (a whole file, as read) throws, or nil when it parses.
private func bytesError(_ bytes: [UInt8]) -> WorkloadError? {
    do {
        _ = try WorkloadParser.parse(bytes: bytes, fileName: "bad.somw")
        return nil
    } catch {
        return error
    }
}

private func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A file that is not UTF-8 text: the bytes, and where and how it must be refused.
struct NotUTF8: CustomTestStringConvertible, Sendable {
    var name: String
    var bytes: [UInt8]
    var line: Int
    var column: Int
    var byte: String
    var offset: Int
    var testDescription: String { name }
}

@Suite("Files that are not UTF-8 text")
struct InvalidUTF8Tests {
    static let header = utf8("somsim-workload 1\n")  // 18 bytes

    static let cases: [NotUTF8] = [
        NotUTF8(name: "in a comment", bytes: header + utf8("# café ") + [0xFF] + utf8("\nspawn a\n"), line: 2, column: 8, byte: "FF", offset: 26),
        NotUTF8(name: "a continuation byte first", bytes: [0x80] + header, line: 1, column: 1, byte: "80", offset: 0),
        NotUTF8(name: "a sequence cut short in a token", bytes: header + utf8("spawn\ta\u{e9}") + [0xC3] + utf8(" x\n"), line: 2, column: 9, byte: "C3", offset: 27),
        NotUTF8(name: "an overlong encoding", bytes: header + utf8("spawn a\n") + [0xC0, 0x80], line: 3, column: 1, byte: "C0", offset: 26),
        NotUTF8(name: "a UTF-16 surrogate", bytes: header + utf8("spawn ") + [0xED, 0xA0, 0x80], line: 2, column: 7, byte: "ED", offset: 24),
        NotUTF8(name: "above U+10FFFF", bytes: header + [0xF4, 0x90, 0x80, 0x80], line: 2, column: 1, byte: "F4", offset: 18),
        NotUTF8(name: "cut short by the end of the file", bytes: header + utf8("# €") + [0xE2, 0x82], line: 2, column: 4, byte: "E2", offset: 23),
        NotUTF8(name: "after a 4-byte character", bytes: header + utf8("#😀") + [0xFE], line: 2, column: 3, byte: "FE", offset: 23),
        NotUTF8(name: "before the header", bytes: [0x23, 0xFF, 0x0A] + header, line: 1, column: 2, byte: "FF", offset: 1),
    ]

    @Test(arguments: cases)
    func refusedAtTheFirstBadByte(_ bad: NotUTF8) throws {
        let error = try #require(bytesError(bad.bytes), "\(bad.name) should be refused")
        #expect(
            error.description
                == "bad.somw:\(bad.line):\(bad.column): error: the file is not UTF-8 text: byte 0x\(bad.byte) at offset \(bad.offset) does not start a valid UTF-8 sequence; save the file as UTF-8"
        )
    }

    @Test func validBytesParseAsTheirText() throws {
        let text = "somsim-workload 1\n# naïve 😀 comment\nspawn p\np mmap m 8K\np touch m write\n"
        #expect(try WorkloadParser.parse(bytes: utf8(text), fileName: "ok.somw") == WorkloadParser.parse(text, fileName: "ok.somw"))
    }

    /// The place given is the first ill-formed sequence: the bytes before it are UTF-8, and no
    /// UTF-8 character starts there. Checked on every 1- and 2-byte file and on 3- and 4-byte
    /// files after every lead byte.
    @Test func theLocationIsTheFirstIllFormedSequence() {
        func isUTF8(_ bytes: ArraySlice<UInt8>) -> Bool { String(validating: bytes, as: UTF8.self) != nil }
        var checked = 0
        func check(_ bytes: [UInt8]) {
            guard let invalid = UserText.invalidUTF8(in: bytes) else {
                #expect(isUTF8(bytes[...]), "\(bytes)")
                return
            }
            checked += 1
            let at = invalid.byteOffset
            let startsACharacter = (1...4).contains { at + $0 <= bytes.count && isUTF8(bytes[at..<(at + $0)]) }
            if !isUTF8(bytes[..<at]) || startsACharacter || invalid.byte != bytes[at] {
                Issue.record("\(bytes.map { String($0, radix: 16) }) located at \(at)")
            }
        }
        for a in 0...255 {
            check([UInt8(a)])
            for b in 0...255 {
                check([UInt8(a), UInt8(b)])
                guard a >= 0xC0 else { continue }
                for c in stride(from: 0, through: 255, by: 51) { check([UInt8(a), UInt8(b), UInt8(c)]) }
                if a >= 0xF0 { check([UInt8(a), UInt8(b), 0x80, 0x80]) }
            }
        }
        #expect(checked > 50_000)
    }
}

@Suite("Messages quote at most 64 characters of a token")
struct QuotingTests {
    @Test func shortTextIsQuotedWhole() {
        #expect(UserText.quoted("hugee") == "'hugee'")
        #expect(UserText.quoted(String(repeating: "é", count: 64)) == "'\(String(repeating: "é", count: 64))'")
        #expect(UserText.clipped("spawn") == "spawn")
    }

    @Test func longTextIsCutAtACharacterWithItsLength() {
        #expect(UserText.quoted(String(repeating: "é", count: 65)) == "'\(String(repeating: "é", count: 64))…' (130 bytes)")
        #expect(UserText.clipped(String(repeating: "x", count: 100)) == String(repeating: "x", count: 64) + "…")
    }

    /// A 16 MiB token gives a message of a few hundred bytes.
    @Test func aHugeTokenMakesAShortMessage() throws {
        let token = "9" + String(repeating: "a", count: 16 << 20)
        let error = try #require(parseError(header + token + "\n"))
        #expect(
            error.description
                == "bad.somw:2:1: error: unknown statement '9\(String(repeating: "a", count: 63))…' (16777217 bytes); expected spawn, measure, machine, sysctl, repeat, '}' or PROC VERB with VERB one of: fork, exit, mmap, munmap, madvise, touch, mprotect, mlock, munlock, shmget, shmat, shmdt, shmrm, ftruncate, fallocate, close, unlink, mremap, malloc, calloc, realloc, free, write, read"
        )
    }

    @Test func theCheckerQuotesNamesTheSameWay() throws {
        let name = String(repeating: "p", count: 1000)
        let error = try #require(parseError(header + "\(name) exit\n"))
        let cut = String(repeating: "p", count: 64)
        #expect(
            error.description
                == "bad.somw:2:1: error: process '\(cut)…' (1000 bytes) is used before it exists; create it first with 'spawn \(cut)…' or 'PARENT fork \(cut)…'"
        )
    }

    @Test func variablesInATemplateAreQuotedTheSameWay() throws {
        let name = String(repeating: "v", count: 100)
        let error = try #require(parseError(header + "repeat 1 as i {\nspawn a{\(name)}\n}\n"))
        let cut = String(repeating: "v", count: 63)
        #expect(
            error.description
                == "bad.somw:3:7: error: unknown variable '{\(cut)…' (102 bytes) in 'a{\(String(repeating: "v", count: 62))…' (103 bytes); the enclosing repeat blocks define: i"
        )
    }
}

/// A `repeat` whose body produces nothing costs nothing, whatever its count: the parse must
/// finish (a regression loops 2^64 times and hits the time limit) with the statements around it.
@Suite("Empty repeat blocks", .timeLimit(.minutes(1)))
struct EmptyRepeatTests {
    static let most = "18446744073709551615"

    @Test func anEmptyBodyWithTheLargestCount() throws {
        #expect(try statements("repeat \(Self.most) as i {\n}\nspawn p") == [.spawn(process: "p")])
    }

    @Test func aRepeatZeroInsideTheLargestCount() throws {
        let body = "repeat \(Self.most) as i {\n  repeat 0 as j {\n    spawn p{j}\n  }\n}\nspawn q"
        #expect(try statements(body) == [.spawn(process: "q")])
    }

    @Test func sixteenLevelsOfTheLargestCountAroundNothing() throws {
        var body = ""
        for d in 0..<15 { body += "repeat \(Self.most) as v\(d) {\n" }
        body += "repeat 0 as last {\nmeasure m{last}\n}\n"
        for _ in 0..<15 { body += "}\n" }
        #expect(try parse(body + "measure done").statements.count == 1)
    }

    @Test func siblingsThatProduceNothing() throws {
        let body = "spawn p\nrepeat \(Self.most) as i {\n  repeat 0 as j {\n  }\n  repeat \(Self.most) as k {\n  }\n}\np exit"
        #expect(try statements(body) == [.spawn(process: "p"), .exit(process: "p")])
    }

    @Test func aBodyThatProducesNothingIsStillChecked() throws {
        let error = try #require(parseError(header + "repeat \(Self.most) as i {\n  repeat 0 as j {\n    p{j} tuch m\n  }\n}\n"))
        #expect(error.location == SourceLocation(line: 4, column: 10))
        #expect(error.message.hasPrefix("unknown verb 'tuch' after process 'p0'"))
    }

    @Test func aMachineLineInTheLargestCountStopsAtItsSecondPass() throws {
        let error = try #require(parseError(header + "repeat \(Self.most) as i {\nmachine ram=1G\n}\n"))
        #expect(error.description == "bad.somw:3:1: error: machine is given a second time (first on line 3); put all settings on one machine line")
    }
}
