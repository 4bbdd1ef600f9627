import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A long-running child process for tests (a server, `kubectl get -w`, `mir run`): output goes to files, and every
/// wait polls with `Task.sleep`, so nothing blocks the test process's threads. Killed (SIGKILL) when released, so
/// a failing test never leaves it behind.
public final class BackgroundProcess: @unchecked Sendable {
    public let process: Process
    public let stdoutFile: URL
    public let stderrFile: URL

    public struct Exit: Sendable {
        public var status: Int32
        /// True when the process ended by a signal (then `status` is the signal number).
        public var bySignal: Bool
        public var stdout: String
        public var stderr: String
    }

    /// Starts `executable`; output goes to two new files in `outputDirectory`.
    public init(_ executable: URL, _ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil,
                outputDirectory: URL) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if let environment { process.environment = environment }
        let id = "\(executable.lastPathComponent)-\(UUID().uuidString)"
        stdoutFile = outputDirectory.appendingPathComponent("\(id).out")
        stderrFile = outputDirectory.appendingPathComponent("\(id).err")
        _ = FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: stdoutFile)
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    public var stdout: String { (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }
    public var isRunning: Bool { process.isRunning }

    /// Sends `signal` (SIGTERM, SIGKILL, …).
    public func send(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Polls stdout (and stderr) until `text` appears; false after `timeout` or when the process ended without it.
    public func waitForOutput(containing text: String, timeout: Duration = .seconds(60)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if stdout.contains(text) || stderr.contains(text) { return true }
            if !process.isRunning { return stdout.contains(text) || stderr.contains(text) }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// The first match of `pattern` (a regular expression) in stdout, once it appears; its first capture group if any.
    public func waitForMatch(_ pattern: String, timeout: Duration = .seconds(60)) async -> String? {
        let regex = try? NSRegularExpression(pattern: pattern)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let text = stdout
            if let regex, let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) {
                let range = match.numberOfRanges > 1 ? match.range(at: 1) : match.range
                if let swiftRange = Range(range, in: text) { return String(text[swiftRange]) }
            }
            if !process.isRunning { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// Waits for the process to end (SIGKILL after `timeout`).
    public func finish(timeout: Duration = .seconds(30)) async -> Exit {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        }
        return Exit(status: process.terminationStatus, bySignal: process.terminationReason == .uncaughtSignal,
                    stdout: stdout, stderr: stderr)
    }
}
