/// Why a real run could not start, or stopped. Each case says what a user needs to act on it.
public enum ProbeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The machine cannot give what the workload's `machine` line asks; nothing was changed.
    case cannotMeet([String])
    /// A setting could not be changed: the file, the value, and why.
    case setting(String, String, String)
    case cannotRead(String, SystemCallError)
    /// The kernel lacks a feature the probe needs.
    case unsupported(String)
    /// Part of the workload cannot be run for real (found during the run).
    case workload(String)
    /// An agent died or broke the protocol.
    case agent(process: String, String)
    case syscall(String, SystemCallError)
    /// Restoring the machine failed: the step.
    case restore(String)
    /// The restore plan cannot record the step that would undo a change: the step and the limit
    /// it hit. The change is not made.
    case restorePlan(String)

    public var description: String {
        switch self {
        case .cannotMeet(let reasons):
            return "the machine cannot run this workload as asked (nothing was changed):\n" + reasons.map { "  - \($0)" }.joined(separator: "\n")
        case .setting(let path, let value, let why): return "cannot write \(value) to \(path): \(why)"
        case .cannotRead(let path, let e): return "cannot read \(path): \(e)"
        case .unsupported(let what): return "unsupported kernel: \(what)"
        case .workload(let what): return "the workload cannot run for real: \(what)"
        case .agent(let process, let what): return "agent of process \(process): \(what)"
        case .syscall(let call, let e): return "\(call) failed: \(e)"
        case .restore(let step): return "could not restore the machine's settings: \(step)"
        case .restorePlan(let step): return "cannot record how to undo a change to the machine, so it is not made: \(step)"
        }
    }
}
