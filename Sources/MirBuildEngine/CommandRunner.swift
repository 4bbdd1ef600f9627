import Foundation
import Subprocess
import SystemPackage

/// The outcome of one external command.
public struct CommandResult: Sendable, Hashable {
    /// The exit code, or 128 + the signal number when the command was killed by a signal (as a shell reports it).
    public var exitCode: Int32
    public var killedBySignal: Bool
    /// The last lines of the combined standard output and error (bounded: see `CommandRunner.tailLines`).
    public var tail: [String]
    /// Every line, only when the caller asked to keep the output (bounded by `CommandRunner.maxKeptBytes`).
    public var output: String

    public var succeeded: Bool { exitCode == 0 && !killedBySignal }
}

/// Why a command could not be run at all.
public struct CommandError: Error, Sendable, Hashable, CustomStringConvertible {
    public var command: String
    public var message: String
    public init(command: String, message: String) {
        self.command = command
        self.message = message
    }
    public var description: String { "\(command): \(message)" }
}

/// Runs external commands (the build engine) through swift-subprocess.
///
/// - Standard output and error are combined, read as they come, written to an optional log file and split into
///   lines for an optional line handler; only a bounded tail (and, when asked, a bounded copy) is kept in memory.
/// - The child runs in a session of its own; cancelling the calling task sends SIGTERM to its process group and
///   SIGKILL 5 s later, so nothing it started outlives the build.
/// - The environment is the caller's, plus `environment`. Arguments never carry secrets (credentials go through
///   files); the command line is written to the log.
public enum CommandRunner {
    public static let tailLines = 60
    /// A line longer than this is cut (the log file keeps every byte).
    public static let maxLineBytes = 16 * 1024
    /// At most this much output is kept in `CommandResult.output`.
    public static let maxKeptBytes = 4 << 20

    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           log: BuildLog? = nil, keepOutput: Bool = false,
                           onLine: (@Sendable (String) -> Void)? = nil) async throws -> CommandResult {
        var options = PlatformOptions()
        options.createSession = true
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(5))]
        let commandLine = ([executable] + arguments).map(Self.quoteForDisplay).joined(separator: " ")
        log?.write(line: "$ \(commandLine)")
        var updates: [Environment.Key: String?] = [:]
        for (key, value) in environment { updates[Environment.Key(stringLiteral: key)] = value }
        let collector = LineCollector(log: log, keep: keepOutput, onLine: onLine)
        let status: TerminationStatus
        do {
            status = try await Subprocess.run(
                .path(FilePath(executable)), arguments: Arguments(arguments), environment: .inherit.updating(updates),
                platformOptions: options, input: .none, output: .sequence, error: .combinedWithOutput
            ) { execution in
                for try await buffer in execution.standardOutput {
                    buffer.withUnsafeBytes { collector.take($0) }
                }
            }.terminationStatus
        } catch let error as CancellationError {
            log?.write(line: "(cancelled)")
            throw error
        } catch {
            if Task.isCancelled { log?.write(line: "(cancelled)"); throw CancellationError() }
            throw CommandError(command: URL(fileURLWithPath: executable).lastPathComponent, message: "could not run: \(error)")
        }
        collector.finish()
        let code: Int32, bySignal: Bool
        switch status {
        case .exited(let c): code = Int32(c); bySignal = false
        case .signaled(let s): code = 128 + Int32(s); bySignal = true
        }
        log?.write(line: bySignal ? "(killed by signal \(code - 128))" : "(exit code \(code))")
        return CommandResult(exitCode: code, killedBySignal: bySignal, tail: collector.tail, output: collector.kept)
    }

    /// A command-line word as a POSIX shell would need it, for the log only (never executed).
    public static func quoteForDisplay(_ word: String) -> String {
        let safe = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./:=@,+%")
        if !word.isEmpty, word.allSatisfy({ safe.contains($0) }) { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// Splits a byte stream into lines, with bounded memory.
final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private let log: BuildLog?
    private let keep: Bool
    private let onLine: (@Sendable (String) -> Void)?
    private var partial: [UInt8] = []
    private var partialCut = false
    private var tailBuffer: [String] = []
    private var keptText = ""
    private var keptBytes = 0

    init(log: BuildLog?, keep: Bool, onLine: (@Sendable (String) -> Void)?) {
        self.log = log
        self.keep = keep
        self.onLine = onLine
    }

    func take(_ bytes: UnsafeRawBufferPointer) {
        log?.write(bytes: bytes)
        lock.lock()
        var lines: [String] = []
        for byte in bytes {
            if byte == 0x0a || byte == 0x0d {
                if !partial.isEmpty || byte == 0x0a { lines.append(flushPartial()) }
            } else if partial.count < CommandRunner.maxLineBytes {
                partial.append(byte)
            } else {
                partialCut = true
            }
        }
        lock.unlock()
        deliver(lines)
    }

    func finish() {
        lock.lock()
        let last = partial.isEmpty ? [] : [flushPartial()]
        lock.unlock()
        deliver(last)
    }

    private func flushPartial() -> String {
        var line = String(decoding: partial, as: UTF8.self)
        if partialCut { line += " …" }
        partial.removeAll(keepingCapacity: true)
        partialCut = false
        return line
    }

    private func deliver(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        lock.lock()
        for line in lines {
            tailBuffer.append(line)
            if tailBuffer.count > CommandRunner.tailLines { tailBuffer.removeFirst(tailBuffer.count - CommandRunner.tailLines) }
            if keep, keptBytes < CommandRunner.maxKeptBytes {
                keptText += line + "\n"
                keptBytes += line.utf8.count + 1
            }
        }
        lock.unlock()
        if let onLine { lines.forEach(onLine) }
    }

    var tail: [String] { lock.lock(); defer { lock.unlock() }; return tailBuffer }
    var kept: String { lock.lock(); defer { lock.unlock() }; return keptText }
}

/// The full log of one build (`.mir/builds/<image>/<tag>/build.log`): every command line and every byte of output.
public final class BuildLog: @unchecked Sendable {
    public let path: String
    private let lock = NSLock()
    private let handle: FileHandle?

    /// Creates (truncates) the log file; the folder must exist.
    public init(path: String) {
        self.path = path
        _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o644])
        handle = FileHandle(forWritingAtPath: path)
    }

    deinit { try? handle?.close() }

    public func write(line: String) {
        lock.lock(); defer { lock.unlock() }
        handle?.write(Data((line + "\n").utf8))
    }

    func write(bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        lock.lock(); defer { lock.unlock() }
        handle?.write(Data(bytes))
    }
}
