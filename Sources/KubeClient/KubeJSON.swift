import Foundation
import MirModel

/// JSON coding the way the API server expects it: `metav1.Time` as RFC 3339 to the second (UTC `Z`), and
/// times with fractional seconds accepted on input.
public enum KubeJSON {
    public static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(formatTime(date))
        }
        return e
    }

    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let text = try c.decode(String.self)
            guard let date = parseTime(text) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an RFC 3339 time: \(text)")
            }
            return date
        }
        return d
    }

    /// `2006-01-02T15:04:05Z`.
    public static func formatTime(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: TimeZone(identifier: "UTC")!))
    }

    /// `2006-01-02T15:04:05.000000Z` (metav1.MicroTime).
    public static func formatMicroTime(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let micros = Int(((date.timeIntervalSince1970 - seconds) * 1_000_000).rounded(.down))
        let base = formatTime(Date(timeIntervalSince1970: seconds))
        return String(base.dropLast()) + "." + String(format: "%06d", min(micros, 999_999)) + "Z"
    }

    /// Parses RFC 3339 with or without fractional seconds.
    public static func parseTime(_ text: String) -> Date? {
        if let d = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: false)) { return d }
        if let d = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return d }
        return nil
    }

    /// Encodes a value to bytes.
    public static func encode<T: Encodable>(_ value: T) throws -> Data { try encoder().encode(value) }

    /// Encodes a value to a `JSONValue` tree.
    public static func toJSONValue<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: encoder().encode(value))
    }

    /// Decodes a typed value from a `JSONValue` tree.
    public static func fromJSONValue<T: Decodable>(_ value: JSONValue, as type: T.Type = T.self) throws -> T {
        try decoder().decode(T.self, from: JSONEncoder().encode(value))
    }
}

/// `metav1.MicroTime`: a time sent with microseconds (Lease and Event times).
public struct MicroTime: Sendable, Hashable, Codable {
    public var date: Date
    public init(_ date: Date) { self.date = date }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let d = KubeJSON.parseTime(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an RFC 3339 time: \(text)")
        }
        date = d
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(KubeJSON.formatMicroTime(date))
    }
}

/// A coding key for any string, used to read and write fields a model does not know.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// Reads and writes the fields of an object that a model does not declare, so that an update sends them back.
enum UnknownFields {
    static func decode(from decoder: Decoder, known: Set<String>) throws -> [String: JSONValue] {
        let c = try decoder.container(keyedBy: AnyCodingKey.self)
        var out: [String: JSONValue] = [:]
        for key in c.allKeys where !known.contains(key.stringValue) {
            out[key.stringValue] = try c.decode(JSONValue.self, forKey: key)
        }
        return out
    }

    static func encode(_ fields: [String: JSONValue], to encoder: Encoder) throws {
        guard !fields.isEmpty else { return }
        var c = encoder.container(keyedBy: AnyCodingKey.self)
        for (k, v) in fields { try c.encode(v, forKey: AnyCodingKey(k)) }
    }
}
