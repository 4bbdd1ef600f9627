import Foundation

/// Splits a byte stream into newline-terminated lines; bytes after the last newline wait for the next chunk.
public struct LineBuffer: Sendable {
    private var pending: [UInt8] = []

    public init() {}

    /// Appends a chunk and returns the complete lines it finished (without the newline; blank lines skipped).
    public mutating func append<Bytes: Sequence>(_ chunk: Bytes) -> [[UInt8]] where Bytes.Element == UInt8 {
        var lines: [[UInt8]] = []
        for byte in chunk {
            if byte == UInt8(ascii: "\n") {
                if pending.contains(where: { !Self.isSpace($0) }) { lines.append(pending) }
                pending.removeAll(keepingCapacity: true)
            } else {
                pending.append(byte)
            }
        }
        return lines
    }

    /// At end of stream: the unterminated last line, if it holds anything.
    public mutating func finish() -> [UInt8]? {
        defer { pending = [] }
        return pending.contains(where: { !Self.isSpace($0) }) ? pending : nil
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D }
}
