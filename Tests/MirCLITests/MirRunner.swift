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

    /// Runs mir in `directory` with `arguments`; stdin is empty. The child is waited for off the cooperative
    /// thread pool, so concurrently running async tests are never starved.
    static func run(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do { continuation.resume(returning: try runBlocking(arguments, in: directory, environment: environment)) }
                catch { continuation.resume(throwing: error) }
            }
        }
    }

    private static func runBlocking(_ arguments: [String], in directory: URL, environment: [String: String]) throws -> Result {
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        p.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        // Read both pipes concurrently so a full pipe never blocks the child.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
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
