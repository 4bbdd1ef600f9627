import Foundation
import Testing
import MirTestSupport

/// Runs the built `mir` binary, as a user would.
enum MirRunner {
    typealias Result = ProcessRunner.Result

    static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let binary = ProcessRunner.mirBinary(packageRoot: packageRoot)

    /// Runs mir in `directory` with `arguments`; stdin is empty.
    static func run(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) async throws -> Result {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        return try await ProcessRunner.run(binary, arguments, in: directory, environment: env)
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
