import SomsimModel
import Testing

/// Profile values the model cannot honour are refused with the key, the value and the range.
@Suite struct ProfileRangeTests {
    /// The allowed values of every constant, as `somsim profile` prints them (docs/profile.md).
    static let ranges: [ProfileKey: String] = [
        .pageBytes: "4096",
        .structPageBytes: "a power of two from 32 to 256",
        .sectionBytes: "a power of two from 4M to 64G",
        .pageExtBytes: "0 to 1024",
        .pageTableBytes: "4096",
        .pageTableLevelBits: "9",
        .pageTableLevels: "4",
        .pgdBytes: "4096 or 8192",
        .pgdBytesPTI: "4096 or 8192",
        .faultAroundPages: "a power of two from 1 to 512",
        .folioStructPages: "1 to 4",
        .devdaxVmemmapKeptPages: "1 to 32",
        .memdescPageBytes: "a multiple of 8 from 8 to 64",
        .memdescInterimPageBytes: "a multiple of 8 from 8 to 64",
        .memdescAlignBytes: "a power of two from 8 to 4096",
        .memdescAnonFolioBytes: "8 to 4096",
        .memdescFileFolioBytes: "8 to 4096",
        .memdescHugetlbFolioBytes: "8 to 4096",
        .memdescPtdescBytes: "8 to 4096",
        .somChunkBytes: "a power of two from 16M to 1T",
        .somBlockBytes: "2M",
        .somBlockEntryBytes: "1 to 4096",
        .somProcessBytes: "1 to 1M",
        .kernelStackBytes: "a power of two from 4096 to 1M",
        .taskStructBytes: "1 to 1M",
        .mmStructBytes: "1 to 1M",
        .signalStructBytes: "1 to 1M",
        .sighandStructBytes: "1 to 1M",
        .filesStructBytes: "1 to 1M",
        .fsStructBytes: "1 to 1M",
        .pidBytes: "1 to 1M",
        .vmaBytes: "1 to 1M",
        .anonVMABytes: "1 to 1M",
        .anonVMAChainBytes: "1 to 1M",
        .tlbL14KEntries: "0 to 65536",
        .tlbL12MEntries: "0 to 65536",
        .tlbL11GEntries: "0 to 65536",
        .tlbL24KEntries: "0 to 65536",
        .tlbL22MEntries: "0 to 65536",
        .tlbL21GEntries: "0 to 65536",
        .tlbL2Shared: "0 to 1",
    ]

    @Test func everyConstantHasItsRangeAndItsDefaultIsInside() {
        for constant in Profile.x86_64.constants {
            #expect(constant.allowed.description == Self.ranges[constant.key], "\(constant.name)")
            #expect(constant.allowed.contains(constant.value), "\(constant.name) = \(constant.value)")
            #expect(!constant.allowed.reason.isEmpty, "\(constant.name)")
        }
        #expect(Self.ranges.count == ProfileKey.allCases.count)
    }

    /// `NAME = VALUE` parsed on line 2 of a file, after a comment.
    static func parse(_ key: ProfileKey, _ value: UInt64) throws(ProfileError) -> Profile {
        try Profile.parse("# a what-if\n\(key.rawValue) = \(value)\n", fileName: "my.profile")
    }

    @Test(arguments: ProfileKey.allCases)
    func theBoundsAreAcceptedAndOnePastEachIsRefused(_ key: ProfileKey) throws {
        let allowed = Profile.x86_64.constant(key).allowed
        #expect(try Self.parse(key, allowed.minimum)[key] == allowed.minimum)
        #expect(try Self.parse(key, allowed.maximum)[key] == allowed.maximum)
        var outside: [UInt64] = []
        if allowed.minimum > 0 { outside.append(allowed.minimum - 1) }
        if allowed.maximum < .max { outside.append(allowed.maximum + 1) }
        // Inside the bounds but not a power of two, or not a multiple of the step.
        if allowed.powerOfTwo {
            let notAPower = allowed.minimum >= 2 ? allowed.minimum + 1 : 3
            if notAPower < allowed.maximum { outside.append(notAPower) }
        }
        if allowed.step > 1 { outside.append(allowed.minimum + allowed.step / 2) }
        for value in outside {
            #expect {
                _ = try Self.parse(key, value)
            } throws: { error in
                guard let error = error as? ProfileError else { return false }
                let expected =
                    "my.profile:2:\(key.rawValue.count + 4): error: \(key.rawValue) = \(value) is outside the range the model honours: \(Self.ranges[key]!) (\(allowed.reason))"
                return error.description == expected
            }
        }
    }

    @Test func theIssuesExamplesAreRefused() throws {
        for (key, value) in [(ProfileKey.pageBytes, 8192), (.structPageBytes, 0), (.sectionBytes, 0), (.faultAroundPages, 0), (.somChunkBytes, 0), (.somBlockBytes, 0)] as [(ProfileKey, UInt64)] {
            #expect(throws: ProfileError.self, "\(key.rawValue) = \(value)") { try Self.parse(key, value) }
        }
        // Near 2^63, where products with page and process counts overflowed.
        for key in ProfileKey.allCases {
            #expect(throws: ProfileError.self, "\(key.rawValue)") { try Self.parse(key, 1 << 63) }
        }
    }

    @Test func suffixesAreReadBeforeTheRangeIsChecked() throws {
        #expect(try Profile.parse("section_bytes = 64G\nsom_chunk_bytes=1T\n")[.sectionBytes] == 64 << 30)
        #expect(throws: ProfileError.self) { try Profile.parse("section_bytes = 128G\n") }
        #expect(throws: ProfileError.self) { try Profile.parse("pid_bytes = +5\n") }
    }
}
