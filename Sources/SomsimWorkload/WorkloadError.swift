/// A workload file that cannot be run: where it is wrong and what to do about it.
///
/// Printed as `FILE:LINE:COLUMN: error: MESSAGE`, the form compilers use, so editors can jump to it.
public struct WorkloadError: Error, Equatable, Sendable, CustomStringConvertible {
    public var fileName: String
    public var location: SourceLocation
    public var message: String

    public init(fileName: String, location: SourceLocation, message: String) {
        self.fileName = fileName
        self.location = location
        self.message = message
    }

    public var description: String { "\(fileName):\(location.line):\(location.column): error: \(message)" }
}
