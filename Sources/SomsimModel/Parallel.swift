// Parallel work inside one statement: the cores there are, and a fork-join over slices whose
// results come back in order, so that what a parallel step computes never depends on the
// number of threads or on which finishes first.

import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum Parallel {
    /// The processors online (sysconf(_SC_NPROCESSORS_ONLN)), at least 1.
    static let cores: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// `body(slice)` for `count` items cut into at most `threads` contiguous slices, run on as
    /// many threads, the results in slice order. `body` must only read shared state.
    static func map<T>(count: Int, threads: Int, _ body: (Range<Int>) -> T) -> [T] {
        let slices = max(1, min(threads, count))
        if slices == 1 { return [body(0..<count)] }
        var results = [T?](repeating: nil, count: slices)
        withoutActuallyEscaping(body) { body in
            results.withUnsafeMutableBufferPointer { out in
                // Each iteration writes only its own element; `body` only reads (its contract),
                // and concurrentPerform returns when every iteration has.
                nonisolated(unsafe) let out = out
                nonisolated(unsafe) let body = body
                DispatchQueue.concurrentPerform(iterations: slices) { k in
                    let range = (count * k / slices)..<(count * (k + 1) / slices)
                    out[k] = body(range)
                }
            }
        }
        return results.map { $0! }
    }
}
