/// The workload `somsim simulate` runs when given no file: a prefork server.
///
/// A master preloads assets and builds a heap, then forks 8 workers. Each worker allocates a few
/// MiB of its own and, like small post-fork allocations that land in free holes of pre-fork heap
/// pages, writes a few hundred random pages of the master's heap — each such write copies a page.
public enum DefaultWorkload {
    public static let fileName = "<default: prefork server>"
    public static let text = """
        somsim-workload 1
        # A prefork server: the master preloads, then forks workers (somsim simulate --print-workload).
        machine ram=16G
        spawn master
        master mmap assets 256M           # preloaded assets, only read after fork
        master touch assets write
        master mmap heap 64M              # the master's heap; half of it in use before fork
        master touch heap write length=32M
        measure preloaded
        repeat 8 as i {
          master fork worker{i}
          worker{i} mmap arena 4M         # each worker's own allocations
          worker{i} touch arena write
          worker{i} touch assets read
          worker{i} touch heap write length=32M random=512 seed={i}
        }

        """
}

extension DefaultWorkload {
    /// The default workload, parsed.
    public static func parsed() -> Workload {
        do {
            return try WorkloadParser.parse(text, fileName: fileName)
        } catch {
            preconditionFailure("the embedded default workload does not parse: \(error)")
        }
    }
}
