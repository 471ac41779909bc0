#if os(Linux)
import CSomsimProbeSupport
import Glibc
@testable import SomsimProbe
import Testing

/// The channel between the probe and an agent: one SOCK_SEQPACKET message per command or reply,
/// never a part of one.
@Suite struct ChannelTests {
    static func pair() throws -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else { throw SystemCallError(errno) }
        return (fds[0], fds[1])
    }

    /// A message longer than the buffer is refused (the kernel cuts it without an error).
    @Test func aMessageLongerThanTheBufferIsRefused() throws {
        let (a, b) = try Self.pair()
        defer { close(a); close(b) }
        var long = [UInt8](repeating: 7, count: 16)
        #expect(somsim_send(a, &long, long.count, -1) == 0)
        var buffer = [UInt8](repeating: 0, count: 8)
        var fd: Int32 = 99
        errno = 0
        #expect(somsim_receive(b, &buffer, buffer.count, &fd) == -1)
        #expect(errno == EMSGSIZE)
        #expect(fd == -1)
        // The next message, whole, arrives whole.
        #expect(somsim_send(a, &long, 8, -1) == 0)
        #expect(somsim_receive(b, &buffer, buffer.count, &fd) == 8)
    }
}

extension RealKernelTests {
    /// A command of the wrong size is answered with EMSGSIZE and not run; the agent goes on.
    @Test func anAgentRefusesACommandOfTheWrongSize() throws {
        defer { try? RestorePlan.runNow() }  // kills the agent
        let agent = try Agent.spawn(name: "a")
        var command = somsim_command()
        command.op = UInt32(SOMSIM_OP_NOOP.rawValue)
        #expect(somsim_send(agent.socket, &command, MemoryLayout<somsim_command>.size - 8, -1) == 0)
        var reply = somsim_reply()
        var fd: Int32 = -1
        #expect(somsim_receive(agent.socket, &reply, MemoryLayout<somsim_reply>.size, &fd) == MemoryLayout<somsim_reply>.size)
        #expect(reply.status == SOMSIM_STATUS_ERRNO.rawValue && reply.error == EMSGSIZE)
        let whole = try agent.call(&command)
        #expect(whole.reply.status == SOMSIM_STATUS_OK.rawValue)
    }
}
#endif
