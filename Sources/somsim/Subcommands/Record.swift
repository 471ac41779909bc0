import ArgumentParser
import SomsimWorkload
#if os(Linux)
import Glibc
import SomsimProbe
#endif

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record live processes' memory as a workload that reproduces it (Linux, root).",
        discussion: """
            Reads /proc/PID/maps, smaps and pagemap of each PID (with --tree, of its children too, \
            followed through /proc/PID/task/*/children), and /proc/kpagecount and kpageflags, and \
            writes a workload (docs/workload-format.md) that rebuilds their memory as it is now: \
            one mapping per VMA (a comment names each source VMA), the pages present, and the \
            sharing between the processes that their page frame numbers show — a page a child \
            still shares with its parent is written before the fork, a page it copied after it. \
            A child whose parent is recorded is forked by it, in the order they started; the \
            others are spawned.

            Recorded: private and shared anonymous memory (heap, stacks, anonymous mmap, \
            MAP_HUGETLB; 4 KiB pages, PMD-mapped THPs, HugeTLB pages) and shared mappings of \
            tmpfs files (/dev/shm, memfd) as file= mappings. Left out, with the bytes \
            and the reason in the header: file mappings (program text, libraries, their written \
            copies), hugetlbfs files, SysV shared memory, the kernel's own mappings ([vdso], \
            [vvar]), and anything the model \
            does not reproduce exactly — each mapping is simulated on its own and compared with \
            smaps before it goes in. `somsim simulate` of the recording gives each process's \
            Rss, Pss, Private/Shared Clean/Dirty and Private/Shared_Hugetlb of the recorded \
            mappings exactly; the header \
            lists those values. See docs/record.md.

            The processes are stopped (SIGSTOP) while they are read and continued afterwards, so \
            that they cannot change in between; --no-stop leaves them running, and a process \
            whose mappings change while it is read is then an error. Nothing is written unless \
            the whole recording succeeded: -o writes a temporary file and renames it.

            Exit codes: 0 written; 64 bad arguments; 65 a kernel thread or a zombie; 66 no such \
            process, or it exited while being read; 70 an internal error; 73 the output cannot be \
            written (its folder does not exist, or is a file); 74 a /proc file cannot be read; 75 a process \
            changed while being read (try again); 77 not root. README.md, \"Exit codes\", has the table for every command.

            Examples:
              sudo somsim record 1234 --tree -o server.somw
              somsim compare server.somw
              sudo somsim record $(pgrep -d ' ' worker) > workers.somw
            """
    )

    @Argument(help: "Process IDs to record.")
    var pids: [Int32]

    @Flag(help: "Record the children of each PID too, and theirs.")
    var tree = false

    @Option(name: .shortAndLong, help: "Write the workload to FILE (default: standard output).", completion: .file(extensions: ["somw"]))
    var output: String?

    @Flag(help: "Do not stop the processes while they are read.")
    var noStop = false

    func validate() throws {
        if pids.isEmpty { throw ValidationError("give at least one PID") }
        if let bad = pids.first(where: { $0 <= 0 }) { throw ValidationError("'\(bad)' is not a process ID") }
    }

    func run() throws {
        #if os(Linux)
        // A file that cannot be written is found before any process is stopped or read.
        if let output {
            do {
                try OutputFile.check(output)
            } catch {
                printRecordError("somsim record: \(error)")
                throw ExitCode(error.exitCode)
            }
        }
        let snapshot: RecordSnapshot
        do {
            snapshot = try Recorder.snapshot(Recorder.Options(pids: pids, tree: tree, stop: !noStop))
        } catch let error as RecordError {
            printRecordError("somsim record: \(error)")
            throw ExitCode(error.exitCode)
        }
        var withHeader = snapshot
        var uts = utsname()
        uname(&uts)
        let release = withUnsafeBytes(of: uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        var now = time(nil)
        var tm = tm()
        gmtime_r(&now, &tm)
        var stamp = [CChar](repeating: 0, count: 32)
        strftime(&stamp, stamp.count, "%Y-%m-%d %H:%M:%S UTC", &tm)
        let stampText = stamp.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        withHeader.header = [
            "Recorded by `somsim record \(pids.map(String.init).joined(separator: " "))\(tree ? " --tree" : "")` at \(stampText) on Linux \(release):",
            "processes " + snapshot.processes.map { "\($0.pid) (\($0.command))" }.joined(separator: ", ") + ".",
        ]
        let recording = RecordBuilder.build(withHeader)
        do {
            _ = try WorkloadParser.parse(recording.text, fileName: output ?? "<stdout>")
        } catch {
            printRecordError("somsim record: the recording does not parse (a bug): \(error)")
            throw ExitCode(70)
        }
        guard let output else {
            print(recording.text, terminator: "")
            return
        }
        do {
            try OutputFile.write(Array(recording.text.utf8), to: output)
        } catch {
            printRecordError("somsim record: \(error)")
            throw ExitCode(error.exitCode)
        }
        let left = recording.leftOut.reduce(UInt64(0)) { $0 + $1.bytes }
        printRecordError("somsim record: \(snapshot.processes.count) process(es) written to \(output); \(left) bytes resident left out (see its header)")
        #else
        printRecordError("somsim record reads /proc of live processes; this platform has none.")
        throw ExitCode(69)
        #endif
    }
}

private func printRecordError(_ message: String) {
    let text = message + "\n"
    #if os(Linux)
    _ = text.withCString { Glibc.write(2, $0, strlen($0)) }
    #else
    print(text, terminator: "")
    #endif
}
