// Outcomes: what the kernel answers a statement with — an errno, a placement, a signal.
// include/uapi/asm-generic/errno-base.h, errno.h; arch/x86/include/uapi/asm/signal.h.

/// An errno the kernel returns, by the name it has in the kernel headers. The raw value is that
/// name: reports print it as it is.
public enum Errno: String, Equatable, Hashable, Sendable, CaseIterable {
    case EPERM, ENOENT, ESRCH, EINTR, EIO, EBADF, EAGAIN, ENOMEM, EACCES, EFAULT, EBUSY, EEXIST, ENODEV, EINVAL, ENOSPC, EOVERFLOW
    /// fallocate(2) past the largest file size (Files.swift).
    case EFBIG

    /// The errno's number (include/uapi/asm-generic/errno-base.h; EOVERFLOW from errno.h).
    public var code: Int32 {
        switch self {
        case .EPERM: return 1
        case .ENOENT: return 2
        case .ESRCH: return 3
        case .EINTR: return 4
        case .EIO: return 5
        case .EBADF: return 9
        case .EAGAIN: return 11
        case .ENOMEM: return 12
        case .EACCES: return 13
        case .EFAULT: return 14
        case .EBUSY: return 16
        case .EEXIST: return 17
        case .ENODEV: return 19
        case .EINVAL: return 22
        case .ENOSPC: return 28
        case .EOVERFLOW: return 75
        case .EFBIG: return 27
        }
    }

    /// The errno with number `code`, if it is one of these.
    public init?(code: Int32) {
        guard let errno = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = errno
    }
}

/// A signal the kernel sends a process of the workload; its default action kills the process.
public enum Signal: String, Equatable, Hashable, Sendable, CaseIterable {
    /// A fault on memory that cannot be backed: no HugeTLB page left (mm/hugetlb.c).
    case SIGBUS
    /// An access outside the address space (a DONTFORK range in a child).
    case SIGSEGV
    /// The OOM killer's (mm/oom_kill.c).
    case SIGKILL

    /// The signal's number on x86-64 (arch/x86/include/uapi/asm/signal.h).
    public var number: Int32 {
        switch self {
        case .SIGBUS: return 7
        case .SIGSEGV: return 11
        case .SIGKILL: return 9
        }
    }

    /// The signal with number `number`, if it is one of these.
    public init?(number: Int32) {
        guard let signal = Self.allCases.first(where: { $0.number == number }) else { return nil }
        self = signal
    }
}

extension Simulator {
    /// What the kernel answered one statement (`Simulator.apply`).
    public struct Outcome: Equatable, Sendable {
        /// The errno the statement's call returned; nil when it succeeded (or made no call).
        public var errno: Errno?
        /// Where an `mmap` placed its mapping; nil for other statements and refused mappings.
        public var placement: Placement?
        /// Processes killed while the statement ran: by a signal its accesses raised, or by the
        /// OOM killer, in the order they died.
        public var kills: [Kill] = []
        /// What `malloc`, `calloc` or `realloc` returned (0 for NULL); nil for other statements.
        public var pointer: UInt64?
        /// The process's program break after an allocator statement (`malloc`, `calloc`,
        /// `realloc`, `free`); nil for other statements.
        public var programBreak: UInt64?
        /// Faults of an allocator statement that the frames before and after it cannot show: a
        /// page found unmapped, read (the zero page) and then written takes two faults where its
        /// frames show one change; a page read or written while unmapped and unmapped again by the
        /// same call shows none. `validate` needs them to tell the call's other faults apart (Probe.swift:
        /// allocatorCall).
        public var unseenFaults: UInt64 = 0

        public init(errno: Errno? = nil, placement: Placement? = nil, kills: [Kill] = []) {
            self.errno = errno
            self.placement = placement
            self.kills = kills
        }
    }

    /// A process a signal killed.
    public struct Kill: Equatable, Sendable {
        public var process: String
        public var signal: Signal

        public init(process: String, signal: Signal) {
            self.process = process
            self.signal = signal
        }
    }
}
