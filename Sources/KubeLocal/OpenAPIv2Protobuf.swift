import Foundation
import MirModel

/// `/openapi/v2` in the encoding client-go asks for (`Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`):
/// the gnostic `openapi.v2.Document` message (github.com/google/gnostic, openapiv2/OpenAPIv2.proto), written with the
/// protobuf wire format. Only the messages a Swagger document of definitions uses are written: Document (swagger,
/// info, paths, definitions), Info, Definitions/NamedSchema, and Schema with the fields Kubernetes schemas carry;
/// vendor extensions are `NamedAny` with the value as YAML (JSON text), as gnostic stores them.
enum OpenAPIv2Protobuf {
    /// The Content-Type the API server answers with (`@` is not allowed in a media type, so the answer spells it `.`).
    static let contentType = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

    /// The protobuf encoding of a v2 document (`BuiltinOpenAPI.v2Document`).
    static func encode(_ document: JSONValue) -> Data {
        var w = Writer()
        w.string(1, document["swagger"]?.stringValue ?? "2.0")
        var info = Writer()
        info.string(1, document["info"]?["title"]?.stringValue ?? "")
        info.string(2, document["info"]?["version"]?.stringValue ?? "")
        w.message(2, info)
        w.message(8, Writer())  // paths: none (the v3 documents carry them)
        var definitions = Writer()
        for (name, schema) in (document["definitions"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            definitions.message(1, named(name, schema))
        }
        w.message(9, definitions)
        return Data(w.bytes)
    }

    private static func named(_ name: String, _ schema: JSONValue) -> Writer {
        var n = Writer()
        n.string(1, name)
        n.message(2, encodeSchema(schema))
        return n
    }

    private static func any(_ value: JSONValue) -> Writer {
        var a = Writer()
        a.string(2, value.canonicalText)
        return a
    }

    static func encodeSchema(_ schema: JSONValue) -> Writer {
        var w = Writer()
        guard case .object(let o) = schema else { return w }
        if let v = o["$ref"]?.stringValue { w.string(1, v) }
        if let v = o["format"]?.stringValue { w.string(2, v) }
        if let v = o["title"]?.stringValue { w.string(3, v) }
        if let v = o["description"]?.stringValue { w.string(4, v) }
        if let v = o["default"] { w.message(5, any(v)) }
        if let v = o["maximum"]?.numberValue { w.double(7, v) }
        if let v = o["minimum"]?.numberValue { w.double(9, v) }
        for (key, field) in [("maxLength", 11), ("minLength", 12)] { if let v = o[key]?.intValue { w.varint(field, UInt64(max(0, v))) } }
        if let v = o["pattern"]?.stringValue { w.string(13, v) }
        for (key, field) in [("maxItems", 14), ("minItems", 15)] { if let v = o[key]?.intValue { w.varint(field, UInt64(max(0, v))) } }
        for (key, field) in [("maxProperties", 17), ("minProperties", 18)] { if let v = o[key]?.intValue { w.varint(field, UInt64(max(0, v))) } }
        for r in o["required"]?.arrayValue ?? [] { if let s = r.stringValue { w.string(19, s) } }
        for e in o["enum"]?.arrayValue ?? [] { w.message(20, any(e)) }
        switch o["additionalProperties"] {
        case .bool(let b)?:
            var item = Writer()
            item.varint(2, b ? 1 : 0)
            w.message(21, item)
        case let s? where s.objectValue != nil:
            var item = Writer()
            item.message(1, encodeSchema(s))
            w.message(21, item)
        default: break
        }
        if let type = o["type"] {
            var item = Writer()
            for t in type.arrayValue ?? [type] { if let s = t.stringValue { item.string(1, s) } }
            w.message(22, item)
        }
        if let items = o["items"] {
            var item = Writer()
            for s in items.arrayValue ?? [items] { item.message(1, encodeSchema(s)) }
            w.message(23, item)
        }
        for s in o["allOf"]?.arrayValue ?? [] { w.message(24, encodeSchema(s)) }
        if let properties = o["properties"]?.objectValue {
            var p = Writer()
            for (name, s) in properties.sorted(by: { $0.key < $1.key }) { p.message(1, named(name, s)) }
            w.message(25, p)
        }
        for (key, value) in o.sorted(by: { $0.key < $1.key }) where key.hasPrefix("x-") {
            var ext = Writer()
            ext.string(1, key)
            ext.message(2, any(value))
            w.message(31, ext)
        }
        return w
    }

    /// The protobuf wire format: varints, 64-bit doubles and length-delimited fields.
    struct Writer {
        var bytes: [UInt8] = []

        mutating func raw(_ value: UInt64) {
            var v = value
            while v >= 0x80 {
                bytes.append(UInt8(v & 0x7F) | 0x80)
                v >>= 7
            }
            bytes.append(UInt8(v))
        }

        mutating func tag(_ field: Int, _ wireType: UInt64) { raw(UInt64(field) << 3 | wireType) }

        mutating func varint(_ field: Int, _ value: UInt64) {
            tag(field, 0)
            raw(value)
        }

        mutating func double(_ field: Int, _ value: Double) {
            tag(field, 1)
            withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        }

        mutating func string(_ field: Int, _ value: String) { lengthDelimited(field, Array(value.utf8)) }

        mutating func message(_ field: Int, _ message: Writer) { lengthDelimited(field, message.bytes) }

        private mutating func lengthDelimited(_ field: Int, _ payload: [UInt8]) {
            tag(field, 2)
            raw(UInt64(payload.count))
            bytes.append(contentsOf: payload)
        }
    }
}
