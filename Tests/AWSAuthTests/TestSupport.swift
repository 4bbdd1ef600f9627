import AWSAuth
import AWSSigV4
import AsyncHTTPClient
import Foundation
import Logging
import Synchronization

/// A settable clock for the refresh windows.
final class ManualClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = Mutex(start) }

    var date: Date { current.withLock { $0 } }
    func advance(by seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
    var now: @Sendable () -> Date { { self.date } }
}

/// A thread-safe counter.
final class Counter: Sendable {
    private let value = Mutex(0)
    @discardableResult func increment() -> Int { value.withLock { $0 += 1; return $0 } }
    var count: Int { value.withLock { $0 } }
}

/// Lets a test hold async work until it opens the gate.
actor Gate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func open() {
        isOpen = true
        waiters.forEach { $0.resume() }
        waiters = []
    }
}

/// Collects every log record (message, metadata, source) at trace level.
final class LogStore: Sendable {
    private let lines = Mutex<[String]>([])

    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }

    func logger(label: String = "test") -> Logger {
        var logger = Logger(label: label) { _ in CapturingLogHandler(store: self) }
        logger.logLevel = .trace
        return logger
    }
}

struct CapturingLogHandler: LogHandler {
    let store: LogStore
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        store.append("\(event.level) \(event.message) \(merged) \(event.source) \(event.error.map { "\($0)" } ?? "")")
    }
}

enum TestPaths {
    static let oracles = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Oracles")
    static var python: String { ProcessInfo.processInfo.environment["MIR_PYTHON"] ?? "python3" }

    /// A fresh temporary directory, removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mir-auth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
}

/// One scripted response of ``ScriptedServer``.
struct ScriptedResponse: Codable {
    var status: Int = 200
    var body: String = ""
    var delay: Double?
    var headers: [String: String]?
}

struct RecordedRequest: Codable {
    var method: String
    var path: String
    var headers: [[String]]
    var body: String

    func header(_ name: String) -> String? {
        headers.first { $0[0].lowercased() == name.lowercased() }?[1]
    }
}

/// Tests/Oracles/scripted_http_server.py on 127.0.0.1: scripted responses per "METHOD /path", request recording.
/// Never blocks a concurrency thread: readiness is polled with `Task.sleep`, and `stop()` only signals the PID.
final class ScriptedServer {
    let process = Process()
    let port: Int
    private let directory: URL
    var baseURL: String { "http://127.0.0.1:\(port)" }

    init(routes: [String: [ScriptedResponse]]) async throws {
        directory = try TestPaths.temporaryDirectory()
        let scenario = directory.appendingPathComponent("scenario.json")
        let portFile = directory.appendingPathComponent("port")
        struct Scenario: Codable { var routes: [String: [ScriptedResponse]]; var max_lifetime: Double }
        try JSONEncoder().encode(Scenario(routes: routes, max_lifetime: 120)).write(to: scenario)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [TestPaths.python, TestPaths.oracles.appendingPathComponent("scripted_http_server.py").path,
                             scenario.path, portFile.path]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        port = try await waitForPortFile(portFile, process: process)
    }

    func requests() async throws -> [RecordedRequest] {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: baseURL + "/__requests"), timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 22)
        return try JSONDecoder().decode([RecordedRequest].self, from: Data(body.readableBytesView))
    }

    func setRoutes(_ routes: [String: [ScriptedResponse]]) async throws {
        var request = HTTPClientRequest(url: baseURL + "/__routes")
        request.method = .POST
        request.body = .bytes(Array(try JSONEncoder().encode(routes)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        _ = try await response.body.collect(upTo: 1 << 16)
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }
}

/// Polls for the "PORT n" file a helper process writes once it listens.
func waitForPortFile(_ file: URL, process: Process) async throws -> Int {
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline {
        if let text = try? String(contentsOf: file, encoding: .utf8), text.hasPrefix("PORT "),
           let port = Int(text.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) {
            return port
        }
        if !process.isRunning { throw TestFailure(description: "helper server exited before listening") }
        try await Task.sleep(for: .milliseconds(20))
    }
    if process.isRunning { kill(process.processIdentifier, SIGTERM) }
    throw TestFailure(description: "helper server did not start within 30 s")
}
