import Foundation
import Testing

/// Runs the built `mir` binary, as a user would.
struct MirRunner {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var output: String { stdout + stderr }
    }

    static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let binary: URL = {
        if let explicit = ProcessInfo.processInfo.environment["MIR_BINARY"] { return URL(fileURLWithPath: explicit) }
        // The test bundle sits next to the products: .build/<triple>/debug/mirPackageTests.xctest
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("mir")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return packageRoot.appendingPathComponent(".build/debug/mir")
    }()

    /// At most this many `mir` processes at once: the corpus runs ~200 of them, and the machine has 2 cores.
    static let slots = ProcessSlots(4)

    /// Runs mir in `directory` with `arguments`; stdin is empty. The child is waited for on a thread of its own
    /// (not the cooperative pool, not GCD's bounded pool), and its output goes to files, so no reader thread is
    /// needed: nothing here can starve or deadlock other tests.
    static func run(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) async throws -> Result {
        await slots.acquire()
        do {
            let result = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Result, Error>) in
                Thread {
                    do { continuation.resume(returning: try runBlocking(arguments, in: directory, environment: environment)) }
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

    private static func runBlocking(_ arguments: [String], in directory: URL, environment: [String: String]) throws -> Result {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mir-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outURL = scratch.appendingPathComponent("stdout"), errURL = scratch.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer { try? out.close(); try? err.close() }
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        p.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return Result(status: p.terminationStatus,
                      stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }
}

/// A counting semaphore for async code.
actor ProcessSlots {
    private var free: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) { free = count }

    func acquire() async {
        if free > 0 { free -= 1; return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty { free += 1 } else { waiters.removeFirst().resume() }
    }
}

/// A temporary directory removed at the end of the test.
final class TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("mir-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ p: String) -> String { url.appendingPathComponent(p).path }

    func write(_ p: String, _ text: String) throws {
        let u = url.appendingPathComponent(p)
        try FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: u, atomically: true, encoding: .utf8)
    }

    /// Copies a directory or file from the package into this directory.
    func copy(fromPackage relative: String, to destination: String) throws {
        let dst = url.appendingPathComponent(destination)
        try FileManager.default.createDirectory(at: dst.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: MirRunner.packageRoot.appendingPathComponent(relative), to: dst)
    }

    /// Every file under `relative` with its contents: a snapshot to compare before and after.
    func snapshot(_ relative: String) -> [String: Data] {
        let root = url.appendingPathComponent(relative)
        var out: [String: Data] = [:]
        guard let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else { return out }
        for case let f as URL in e where (try? f.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            out[f.path] = try? Data(contentsOf: f)
        }
        return out
    }
}
