import Foundation
import Logging
import MirTelemetry
import Synchronization
import Testing

/// Collects the lines a handler writes.
private final class LineCollector: Sendable {
    private let lines = Mutex<[String]>([])
    var sink: LogSink { LogSink { line in self.lines.withLock { $0.append(line) } } }
    var all: [String] { lines.withLock { $0 } }
}

private struct UploadFailed: Error, CustomStringConvertible {
    var description: String { "upload failed: \"quoted\"\nsecond line" }
}

@Suite("JSON logs and redaction")
struct JSONLogHandlerTests {
    private func object(_ line: String) throws -> [String: Any] {
        let data = Data(line.utf8)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("one JSON object per line with time, level, logger, msg, source and metadata")
    func linesParse() throws {
        let collector = LineCollector()
        var logger = Logger(label: "mir.controller") { label in
            JSONLogHandler(label: label, level: .debug, sink: collector.sink,
                           clock: { Date(timeIntervalSince1970: 1_795_000_000.25) })
        }
        logger[metadataKey: "controller"] = "managedimage"
        logger.info("reconciled \"web\"\nnext", metadata: ["image": "web", "attempt": .stringConvertible(3),
                                                            "tags": ["a", "b"], "nested": ["k": "v"]])
        logger.trace("not printed")
        logger.error("build failed", error: UploadFailed())

        let lines = collector.all
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.hasSuffix("}\n") && $0.dropLast().contains("\n") == false })

        let first = try object(lines[0])
        #expect(first["time"] as? String == "2026-11-18T11:06:40.250Z")
        #expect(first["level"] as? String == "info")
        #expect(first["logger"] as? String == "mir.controller")
        #expect(first["msg"] as? String == "reconciled \"web\"\nnext")
        #expect(first["source"] as? String == "MirTelemetryTests")
        let metadata = try #require(first["metadata"] as? [String: Any])
        #expect(metadata["controller"] as? String == "managedimage")
        #expect(metadata["image"] as? String == "web")
        #expect(metadata["attempt"] as? String == "3")
        #expect(metadata["tags"] as? [String] == ["a", "b"])
        #expect((metadata["nested"] as? [String: String])?["k"] == "v")
        // Fixed member order: time first, metadata last.
        #expect(lines[0].hasPrefix("{\"time\":"))

        let second = try object(lines[1])
        #expect(second["level"] as? String == "error")
        #expect(second["error"] as? String == "upload failed: \"quoted\"\nsecond line")
        #expect(second["metadata"] as? [String: Any] != nil)
    }

    @Test("sensitive values never appear, at any depth and from any metadata source")
    func redaction() throws {
        let secrets = ["AKIAEXAMPLESECRETVALUE", "Bearer eyJhbGciOiJSUzI1NiJ9.payload", "sess-token-123",
                       "hunter2", "provider-secret-999", "docker-config-abc"]
        let collector = LineCollector()
        let provider = Logger.MetadataProvider { ["apiToken": .string(secrets[4])] }
        var logger = Logger(label: "mir.ecr") { label in
            JSONLogHandler(label: label, sink: collector.sink, metadataProvider: provider)
        }
        logger[metadataKey: "Authorization"] = .string(secrets[1])
        logger.info("calling ECR", metadata: [
            "secretAccessKey": .string(secrets[0]),
            "request": ["headers": ["X-Amz-Security-Token": .string(secrets[2]), "Host": "ecr.example"]],
            "password": .array([.string(secrets[3])]),
            ".dockerconfigjson": .string(secrets[5]),
            "tokenCount": "3",
            "secretName": "registry-creds",
        ])
        let line = try #require(collector.all.first)
        for secret in secrets { #expect(!line.contains(secret), "leaked \(secret)") }
        let metadata = try #require(try object(line)["metadata"] as? [String: Any])
        #expect(metadata["secretAccessKey"] as? String == LogRedactor.placeholder)
        #expect(metadata["Authorization"] as? String == LogRedactor.placeholder)
        #expect(metadata["apiToken"] as? String == LogRedactor.placeholder)
        let headers = (metadata["request"] as? [String: Any])?["headers"] as? [String: String]
        #expect(headers?["X-Amz-Security-Token"] == LogRedactor.placeholder)
        #expect(headers?["Host"] == "ecr.example")
        // Look-alike keys that are not secrets stay visible.
        #expect(metadata["tokenCount"] as? String == "3")
        #expect(metadata["secretName"] as? String == "registry-creds")
    }

    @Test("a custom redaction hook adds keys; the text format redacts too")
    func customHookAndTextFormat() throws {
        let redactor = LogRedactor(additionalSensitiveKeys: ["accessKeyId"])
        #expect(redactor.isSensitive("access_key_id"))
        #expect(redactor.isSensitive("AUTHORIZATION"))
        #expect(!redactor.isSensitive("image"))

        let redacted = redactor.redact(["accessKeyId": "AKIA", "list": [["token": "t"]], "plain": "p"])
        #expect(redacted["accessKeyId"] == .string(LogRedactor.placeholder))
        #expect(redacted["list"] == .array([.dictionary(["token": .string(LogRedactor.placeholder)])]))
        #expect(redacted["plain"] == "p")

        var handler = RedactingLogHandler(JSONLogHandler(label: "wrapped", sink: LineCollector().sink))
        handler[metadataKey: "token"] = "abc"
        #expect(handler[metadataKey: "token"] == .string(LogRedactor.placeholder))
        handler.metadata = ["nested": ["password": "pw"]]
        #expect(handler.metadata["nested"] == .dictionary(["password": .string(LogRedactor.placeholder)]))
    }
}
