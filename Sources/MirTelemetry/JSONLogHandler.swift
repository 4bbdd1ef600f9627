import Foundation
import Logging
import Synchronization

/// Decides which metadata values must never be printed, and replaces them.
///
/// The default treats a key as sensitive when, lower-cased and stripped of `-`, `_` and `.`, it equals or ends with
/// one of ``defaultSensitiveSuffixes`` (so `authorization`, `secretAccessKey`, `aws_session_token`,
/// `X-Amz-Security-Token`, `bearerToken`, `password` are all redacted, but `tokenCount` or `secretName` are not).
/// Redaction applies at every depth of nested dictionaries; a sensitive key's whole value (list or dictionary
/// included) is replaced.
public struct LogRedactor: Sendable {
    /// The replacement printed instead of a sensitive value.
    public static let placeholder = "[REDACTED]"

    /// Normalised key endings treated as sensitive by ``standard``.
    public static let defaultSensitiveSuffixes: [String] = [
        "authorization", "token", "secret", "secretaccesskey", "secretkey", "password", "passwd", "credentials",
        "credential", "apikey", "privatekey", "cookie", "setcookie", "signature", "dockerconfigjson",
    ]

    /// Returns whether a metadata key's value must be withheld.
    public var isSensitive: @Sendable (String) -> Bool

    public init(isSensitive: @escaping @Sendable (String) -> Bool) {
        self.isSensitive = isSensitive
    }

    /// The default redactor (see the type's documentation).
    public static let standard = LogRedactor(additionalSensitiveKeys: [])

    /// The default rule plus exact (normalised) `additionalSensitiveKeys`.
    public init(additionalSensitiveKeys: Set<String>) {
        let extra = Set(additionalSensitiveKeys.map(Self.normalize))
        self.isSensitive = { key in
            let normalized = Self.normalize(key)
            return extra.contains(normalized) || Self.defaultSensitiveSuffixes.contains { normalized.hasSuffix($0) }
        }
    }

    static func normalize(_ key: String) -> String {
        String(key.lowercased().filter { $0 != "-" && $0 != "_" && $0 != "." })
    }

    /// `metadata` with every sensitive value replaced by ``placeholder``.
    public func redact(_ metadata: Logger.Metadata) -> Logger.Metadata {
        var result = Logger.Metadata()
        for (key, value) in metadata {
            result[key] = isSensitive(key) ? .string(Self.placeholder) : redact(value)
        }
        return result
    }

    /// `value` with sensitive keys of nested dictionaries redacted.
    public func redact(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        switch value {
        case .dictionary(let dictionary): .dictionary(redact(dictionary))
        case .array(let values): .array(values.map(redact))
        case .string, .stringConvertible: value
        }
    }
}

/// Where log lines go. ``JSONLogHandler`` hands it complete lines including the trailing newline.
public struct LogSink: Sendable {
    /// Writes one line.
    public var write: @Sendable (String) -> Void

    public init(write: @escaping @Sendable (String) -> Void) {
        self.write = write
    }

    private static let lock = Mutex(())

    /// Standard error (where controller-runtime logs), one atomic write per line.
    public static let standardError = LogSink { line in
        lock.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
    }

    /// Standard output, one atomic write per line.
    public static let standardOutput = LogSink { line in
        lock.withLock { _ in FileHandle.standardOutput.write(Data(line.utf8)) }
    }
}

/// A swift-log handler writing one JSON object per line:
/// `{"time":"2026-11-27T16:55:00.123Z","level":"info","logger":"mir.controller","msg":"…","source":"MirCore",
/// "error":"…","metadata":{…}}`. `error` and `metadata` appear only when present; metadata keys are sorted.
/// Metadata from the handler, its provider and the call site is merged (call site wins) and passed through the
/// ``LogRedactor`` before anything is printed.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level

    private let label: String
    private let sink: LogSink
    private let redactor: LogRedactor
    private let clock: @Sendable () -> Date

    public init(label: String, level: Logger.Level = .info, sink: LogSink = .standardError,
                redactor: LogRedactor = .standard, metadataProvider: Logger.MetadataProvider? = nil,
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.label = label
        self.logLevel = level
        self.sink = sink
        self.redactor = redactor
        self.metadataProvider = metadataProvider
        self.clock = clock
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let callSite = event.metadata { merged.merge(callSite) { _, new in new } }
        let safe = redactor.redact(merged)

        var line = "{"
        JSONText.appendMember("time", .string(JSONText.timestamp(clock())), to: &line, first: true)
        JSONText.appendMember("level", .string(event.level.rawValue), to: &line)
        JSONText.appendMember("logger", .string(label), to: &line)
        JSONText.appendMember("msg", .string(event.message.description), to: &line)
        JSONText.appendMember("source", .string(event.source), to: &line)
        if let error = event.error {
            JSONText.appendMember("error", .string(String(describing: error)), to: &line)
        }
        if !safe.isEmpty {
            JSONText.appendMember("metadata", .dictionary(safe), to: &line)
        }
        line += "}\n"
        sink.write(line)
    }
}

/// A `LogHandler` that redacts metadata before passing it to another handler (e.g. swift-log's
/// `StreamLogHandler` for `--log-format text`).
public struct RedactingLogHandler<Wrapped: LogHandler>: LogHandler {
    private var wrapped: Wrapped
    private let redactor: LogRedactor

    public init(_ wrapped: Wrapped, redactor: LogRedactor = .standard) {
        self.wrapped = wrapped
        self.redactor = redactor
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { wrapped.metadataProvider }
        set { wrapped.metadataProvider = newValue }
    }

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = redactor.redact(newValue) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue.map { redactor.isSensitive(key) ? .string(LogRedactor.placeholder) : redactor.redact($0) } }
    }

    public func log(event: LogEvent) {
        var event = event
        var provided = Logger.Metadata()
        if let provider = wrapped.metadataProvider { provided = provider.get() }
        if !provided.isEmpty || event.metadata != nil {
            // Provider metadata is redacted here too; the wrapped handler merges it again (same, redacted keys win).
            provided.merge(event.metadata ?? [:]) { _, new in new }
            event.metadata = redactor.redact(provided)
        }
        wrapped.log(event: event)
    }
}

/// The output format of ``Telemetry/bootstrapLogging(format:level:sink:)``.
public enum LogFormat: String, Sendable, CaseIterable {
    /// Human-readable lines (swift-log's stream handler), with redaction.
    case text
    /// One JSON object per line (``JSONLogHandler``).
    case json
}

extension Telemetry {
    private static let loggingBootstrapped = Mutex(false)

    /// Makes a handler for `label` in `format`.
    public static func makeLogHandler(label: String, format: LogFormat, level: Logger.Level,
                                      sink: LogSink = .standardError,
                                      redactor: LogRedactor = .standard) -> any LogHandler {
        switch format {
        case .json:
            return JSONLogHandler(label: label, level: level, sink: sink, redactor: redactor)
        case .text:
            var handler = RedactingLogHandler(StreamLogHandler.standardError(label: label), redactor: redactor)
            handler.logLevel = level
            return handler
        }
    }

    /// Installs mir's log handler process-wide, once (later calls are ignored and return `false`).
    @discardableResult
    public static func bootstrapLogging(format: LogFormat, level: Logger.Level = .info,
                                        sink: LogSink = .standardError) -> Bool {
        loggingBootstrapped.withLock { done in
            guard !done else { return false }
            LoggingSystem.bootstrap { label in makeLogHandler(label: label, format: format, level: level, sink: sink) }
            done = true
            return true
        }
    }
}

/// Minimal JSON text writer for log lines (no Foundation encoder: ordered keys, no allocation of intermediates).
enum JSONText {
    static func appendMember(_ key: String, _ value: Logger.MetadataValue, to out: inout String, first: Bool = false) {
        if !first { out += "," }
        appendString(key, to: &out)
        out += ":"
        appendValue(value, to: &out)
    }

    static func appendValue(_ value: Logger.MetadataValue, to out: inout String) {
        switch value {
        case .string(let string):
            appendString(string, to: &out)
        case .stringConvertible(let convertible):
            appendString(convertible.description, to: &out)
        case .array(let values):
            out += "["
            for (index, element) in values.enumerated() {
                if index > 0 { out += "," }
                appendValue(element, to: &out)
            }
            out += "]"
        case .dictionary(let dictionary):
            out += "{"
            for (index, key) in dictionary.keys.sorted().enumerated() {
                appendMember(key, dictionary[key]!, to: &out, first: index == 0)
            }
            out += "}"
        }
    }

    static func appendString(_ string: String, to out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// RFC 3339 UTC with milliseconds.
    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }
}
