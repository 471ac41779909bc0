#if os(Linux)
import Foundation
import Glibc
@testable import SomsimProbe
import SomsimWorkload
import Testing

/// What validate decides before it changes anything (it reads the machine, so these run in the
/// serialized suite: another test's pools would look like pages in use).
extension RealKernelTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The workloads a new user tries first: the README's and docs/examples/. None sets `pti`.
    static let userWorkloads: [String] = {
        let readme = (try? String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)) ?? ""
        let blocks = readme.components(separatedBy: "```").enumerated().compactMap { index, block -> String? in
            guard index % 2 == 1 else { return nil }
            let body = block.drop { $0 != "\n" }.dropFirst()
            return body.hasPrefix("somsim-workload 1") ? String(body) : nil
        }
        let examples = root.appendingPathComponent("docs/examples")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: examples.path)) ?? []).filter { $0.hasSuffix(".somw") }.sorted()
        return blocks + names.compactMap { try? String(contentsOf: examples.appendingPathComponent($0), encoding: .utf8) }
    }()

    @Test func theUsersFirstWorkloadsAreFound() {
        #expect(Self.userWorkloads.count >= 5)
    }

    @Test(arguments: userWorkloads)
    func aWorkloadWithoutPTIIsPlannedWithTheHostsSetting(_ text: String) throws {
        let workload = try WorkloadParser.parse(text, fileName: "user.somw")
        #expect(!workload.machine.ptiGiven)
        let plan = try Probe.plan(workload)
        #expect(plan.workload.machine.pti == Self.pti)
        #expect(plan.notes.contains { $0.contains("this machine's page-table isolation, pti=\(Self.pti ? "on" : "off")") })
    }

    @Test func theSmallestUserWorkloadValidatesWithTheHostsSetting() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("docs/examples/cow-basic.somw"), encoding: .utf8)
        let before = try Self.settings()
        let report = try Probe.validate(try WorkloadParser.parse(text, fileName: "cow-basic.somw"))
        for failure in report.failures {
            Issue.record("\(failure.process ?? "system") \(failure.metric): predicted \(failure.predicted), measured \(failure.measured)")
        }
        #expect(report.passed)
        #expect(try Self.settings() == before)
    }

    /// A workload the model runs out of memory on is refused before anything changes: the host's
    /// RAM is not the workload's, and an OOM kill here would hit other programs.
    @Test func aWorkloadThatRunsOutOfMemoryInTheModelIsRefused() throws {
        let workload = try WorkloadParser.parse(
            "somsim-workload 1\nmachine ram=1G\nspawn a\na mmap m 800M\na touch m write\nspawn b\nb mmap m 400M\nb touch m write\n",
            fileName: "oom.somw")
        #expect {
            try Probe.plan(workload)
        } throws: { error in
            guard case ProbeError.cannotMeet(let reasons) = error else { return false }
            return reasons.contains { $0.hasPrefix("line 8: in the model, out of memory: the OOM killer killed a (SIGKILL)") }
        }
        let trimmed = try WorkloadParser.parse("somsim-workload 1\nmachine ram=1G hugetlb-1g=1\n", fileName: "pool.somw")
        #expect {
            try Probe.plan(trimmed)
        } throws: { error in
            guard case ProbeError.cannotMeet(let reasons) = error else { return false }
            return reasons.contains { $0.hasPrefix("line 2: in the model, the 1G HugeTLB pool holds 0 of the 1 pages asked for") }
        }
    }

    /// A workload larger than this machine's free memory is refused, whatever its `ram=` says.
    @Test func aWorkloadLargerThanTheHostsFreeMemoryIsRefused() throws {
        let facts = try MachineSettings.Facts.read()
        let gib = facts.memAvailableBytes >> 30 + 1
        let workload = try WorkloadParser.parse(
            "somsim-workload 1\nmachine ram=\(4 * gib)G\nspawn a\na mmap m \(gib)G\na touch m write\n", fileName: "big.somw")
        #expect {
            try Probe.plan(workload)
        } throws: { error in
            guard case ProbeError.cannotMeet(let reasons) = error else { return false }
            // The mapping, and the page tables that map it.
            return reasons.contains { $0.hasPrefix("not enough free memory: at its peak the workload holds \((gib << 10) + gib * 2) MiB") }
        }
    }

    @Test func anExplicitPTIThatDiffersIsRefusedWithTheWayOut() throws {
        let wrong = Self.pti ? "off" : "on"
        let workload = try WorkloadParser.parse("somsim-workload 1\nmachine pti=\(wrong)\nspawn a\n", fileName: "pti.somw")
        #expect {
            try Probe.plan(workload)
        } throws: { error in
            guard case ProbeError.cannotMeet(let reasons) = error, reasons.count == 1 else { return false }
            return reasons[0].contains("the workload says pti=\(wrong)") && reasons[0].contains(MachineSettings.ptiPath)
                && reasons[0].contains("leave pti out of the machine line")
        }
        // The same setting as the machine's is accepted as given, without a note.
        let right = try WorkloadParser.parse("somsim-workload 1\nmachine pti=\(Self.pti ? "on" : "off")\nspawn a\n", fileName: "pti.somw")
        #expect(try Probe.plan(right).notes.isEmpty)
    }

    /// Sizes and counts near 2^64 are planned (refused or accepted) without a trap.
    @Test func extremeSizesArePlannedWithoutATrap() throws {
        let cases: [(String, String?)] = [
            ("machine hugetlb-2m=18446744073709551615\nspawn a", "not enough free memory"),
            ("machine hugetlb-1g=18446744073709551615 hugetlb-2m=18446744073709551615\nspawn a", "more than 16 EiB"),
            ("machine hugetlb-2m=8796093022208\nspawn a", "not enough free memory"),  // 2^43 pages × 2 MiB = 2^64 bytes
            ("spawn a\na mmap m 16777215T\na touch m write stride=16777215T", nil),
            ("spawn a\na mmap m 64K file=\(String(repeating: "x", count: 200))", "file IDs of more than"),
        ]
        for (body, refusal) in cases {
            let workload = try WorkloadParser.parse("somsim-workload 1\n\(body)\n", fileName: "extreme.somw")
            do {
                _ = try Probe.plan(workload)
                #expect(refusal == nil, "\(body) was accepted")
            } catch ProbeError.cannotMeet(let reasons) {
                #expect(refusal.map { r in reasons.contains { $0.contains(r) } } ?? false, "\(body): \(reasons)")
            }
        }
    }
}

/// The probe's own arithmetic, without a kernel.
@Suite struct ProbeArithmeticTests {
    @Test func aStrideNearTwoToThe64EndsTheWalk() {
        let pages: Range<UInt64> = 0..<(1 << 34)  // a 64 TiB mapping of 4 KiB pages
        for stride in [UInt64.max, UInt64.max - 4095, 1 << 63] {
            #expect(TouchPattern.stride(bytes: stride).pageRuns(pages, pageBytes: 4096) == [0..<1])
        }
        #expect(TouchPattern.stride(bytes: 8192).pageRuns(10..<20, pageBytes: 4096) == [10..<11, 12..<13, 14..<15, 16..<17, 18..<19])
    }

    /// The pages whose frames populate_write's COW check reads: a range over a 4 KiB mapping, a
    /// gap and the first huge page of a HugeTLB mapping above it (reached by 4 KiB), in address
    /// order whatever the order of the mappings given.
    @Test func pagesAPopulateReaches() {
        let small = Agent.RealMapping(address: 0x10_0000_0000, lengthBytes: 16 << 10, options: MmapOptions())
        let huge = Agent.RealMapping(address: 0x10_0020_0000, lengthBytes: 4 << 20, options: MmapOptions(huge: .size2M))
        let far = Agent.RealMapping(address: 0x20_0000_0000, lengthBytes: 4096, options: MmapOptions())
        let reached = Run.pagesReached((small.address + 8192)..<(huge.address + 4096), in: [far, huge, small])
        #expect(reached.map(\.mapping.address) == [small.address, huge.address])
        #expect(reached.map(\.pages) == [2..<4, 0..<1])
        #expect(Run.pagesReached((small.address + 16384)..<huge.address, in: [small, huge]).isEmpty)
    }

    @Test func saturatingArithmetic() {
        #expect(saturatingProduct(1 << 43, 2 << 20) == .max)
        #expect(saturatingProduct(3, 2 << 20) == 6 << 20)
        #expect(saturatingSum([.max - 1, 1]) == .max)
        #expect(saturatingSum([.max, 1]) == .max)
        #expect(saturatingSum([1, 2, 3]) == 6)
    }

    @Test func theJournalIsReadBackStepByStep() throws {
        let text = "somsim-restore-journal 1\nowner\t42\t7\nwrite\t/proc/sys/vm/hugetlb_optimize_vmemmap\t0\nmount\t/run/somsim/hugetlbfs-2M\nremove\t/x\nremove-dir\t/run/somsim/hugetlbfs-2M\nremove-tree\t/dev/shm/somsim-validate-42\ngroup\t43\t99\n"
        let journal = try RestorePlan.parse(text)
        #expect(journal.owner == 42)
        #expect(journal.steps == [
            .write("/proc/sys/vm/hugetlb_optimize_vmemmap", "0"), .mount("/run/somsim/hugetlbfs-2M"), .remove("/x", .file),
            .remove("/run/somsim/hugetlbfs-2M", .emptyDirectory), .remove("/dev/shm/somsim-validate-42", .directoryOfFiles), .group(43, 99),
        ])
        for damaged in ["", "somsim-restore-journal 2\n", "somsim-restore-journal 1\nwrite\t/x\n", "somsim-restore-journal 1\ngroup\tx\t1\n", "somsim-restore-journal 1\nkill\t1\n"] {
            #expect(throws: ProbeError.self, "\(damaged.debugDescription)") { try RestorePlan.parse(damaged) }
        }
    }
}
#endif
