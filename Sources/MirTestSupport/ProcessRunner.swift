import Foundation

/// Runs child processes for tests without starving anything else in the (single, highly concurrent) test process:
/// each child is waited for on a thread of its own — not Swift's cooperative pool, not GCD's bounded pool — and
/// its output goes to files, so no reader thread is needed.
public enum ProcessRunner {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var output: String { stdout + stderr }
    }

    /// At most this many children at once (the machine has 2 cores).
    public static let slots = ProcessSlots(4)

    public static func run(_ executable: URL, _ arguments: [String], in directory: URL? = nil,
                           environment: [String: String]? = nil) async throws -> Result {
        await slots.acquire()
        do {
            let result = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Result, Error>) in
                Thread {
                    do { continuation.resume(returning: try runBlocking(executable, arguments, in: directory, environment: environment)) }
                    catch { continuation.resume(throwing: error) }
                }.start()
            }
            await slots.release()
            return result
        } catch {
            await slots.release()
            throw error
        }
    }

    static func runBlocking(_ executable: URL, _ arguments: [String], in directory: URL?, environment: [String: String]?) throws -> Result {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mir-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("stdout"), errURL = scratch.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer { try? out.close(); try? err.close() }
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        if let directory { p.currentDirectoryURL = directory }
        if let environment { p.environment = environment }
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return Result(status: p.terminationStatus,
                      stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }

    /// The first executable `name` on PATH, if any.
    public static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The built `mir` executable next to the test bundle (or `MIR_BINARY`).
    public static func mirBinary(packageRoot: URL) -> URL {
        if let explicit = ProcessInfo.processInfo.environment["MIR_BINARY"] { return URL(fileURLWithPath: explicit) }
        // The test bundle sits next to the products: .build/<triple>/debug/mirPackageTests.xctest
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("mir")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return packageRoot.appendingPathComponent(".build/debug/mir")
    }
}

/// A counting semaphore for async code.
public actor ProcessSlots {
    private var free: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(_ count: Int) { free = count }

    public func acquire() async {
        if free > 0 { free -= 1; return }
        await withCheckedContinuation { waiters.append($0) }
    }

    public func release() {
        if waiters.isEmpty { free += 1 } else { waiters.removeFirst().resume() }
    }
}
