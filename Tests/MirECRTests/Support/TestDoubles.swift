import Foundation
import Logging
import Synchronization
@testable import MirECR

/// Virtual time: `sleep` advances `now` instantly and records the duration.
final class VirtualClock: RetryClock {
    private let state = Mutex<(now: Double, sleeps: [Double])>((1000, []))

    func now() -> Double { state.withLock { $0.now } }

    func sleep(seconds: Double) async throws {
        state.withLock {
            $0.sleeps.append(seconds)
            $0.now += max(0, seconds)
        }
    }

    func advance(_ seconds: Double) { state.withLock { $0.now += seconds } }
    var sleeps: [Double] { state.withLock { $0.sleeps } }
}

/// A transport that answers from a script, in order, then with `fallback`; records what it was sent.
final class ScriptedTransport: ECRHTTPTransport {
    enum Step: Sendable {
        case answer(ECRHTTPResponse)
        case fail(TransportFailure)
    }

    private let script: Mutex<[Step]>
    private let sent = Mutex<[(operation: String, headers: [(name: String, value: String)], body: [UInt8])]>([])
    private let fallback: Step

    init(_ steps: [Step], fallback: Step = .answer(.ok("{}"))) {
        script = Mutex(steps)
        self.fallback = fallback
    }

    func send(method: String, url: URL, headers: [(name: String, value: String)], body: [UInt8], timeout: Double) async throws -> ECRHTTPResponse {
        let target = headers.first { $0.name == "X-Amz-Target" }?.value ?? ""
        sent.withLock { $0.append((String(target.split(separator: ".").last ?? ""), headers, body)) }
        let step = script.withLock { $0.isEmpty ? fallback : $0.removeFirst() }
        switch step {
        case .answer(let response): return response
        case .fail(let failure): throw failure
        }
    }

    func shutdown() async throws {}

    var attempts: Int { sent.withLock { $0.count } }
    var operations: [String] { sent.withLock { $0.map(\.operation) } }
    var bodies: [String] { sent.withLock { $0.map { String(decoding: $0.body, as: UTF8.self) } } }
    /// The value of one header in each request sent.
    func header(_ name: String) -> [String?] {
        sent.withLock { $0.map { request in request.headers.first { $0.name.lowercased() == name.lowercased() }?.value } }
    }
}

extension ECRHTTPResponse {
    static func ok(_ json: String) -> ECRHTTPResponse {
        ECRHTTPResponse(status: 200, headers: [("Content-Type", "application/x-amz-json-1.1")], body: Array(json.utf8))
    }

    static func error(_ code: String, _ message: String = "m", status: Int = 400) -> ECRHTTPResponse {
        ECRHTTPResponse(status: status, headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amzn-ErrorType", code)],
                        body: Array("{\"__type\":\"\(code)\",\"message\":\"\(message)\"}".utf8))
    }
}

/// Adds a SigV4-shaped but meaningless Authorization header: enough for moto without IAM enforcement
/// (unsigned requests would be routed to S3) and for fakes.
struct PlaceholderAuthorizer: ECRRequestAuthorizer {
    func authorize(method: String, url: URL, headers: [(name: String, value: String)], body: [UInt8], date: Date) async throws -> [(name: String, value: String)] {
        headers + [("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature=00")]
    }
}

/// Collects every log line (message and metadata) at every level.
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    final class Store: Sendable {
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
        var text: String { all.joined(separator: "\n") }
    }

    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    init(store: Store) { self.store = store }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = self.metadata.merging(event.metadata ?? [:]) { _, new in new }
        let error = event.error.map { " error=\($0)" } ?? ""
        store.append("\(event.level) \(event.message) \(merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))\(error)")
    }

    static func logger(_ store: Store, label: String = "test") -> Logger {
        var logger = Logger(label: label) { _ in CapturingLogHandler(store: store) }
        logger.logLevel = .trace
        return logger
    }
}
