import Foundation
import MirModel
import Yams

/// Helpers for handling Kubernetes objects as `JSONValue` trees.
extension JSONValue {
    /// The value at a dotted path of object keys (`["metadata", "name"]`).
    func value(at path: [String]) -> JSONValue? {
        var current: JSONValue? = self
        for key in path { current = current?[key] }
        return current
    }

    /// Sets (or with nil removes) the value at a path of object keys, creating intermediate objects.
    mutating func set(_ path: [String], _ newValue: JSONValue?) {
        guard let first = path.first else {
            if let newValue { self = newValue }
            return
        }
        var object = objectValue ?? [:]
        if path.count == 1 {
            object[first] = newValue
        } else {
            var child = object[first] ?? .object([:])
            if child.objectValue == nil { child = .object([:]) }
            child.set(Array(path.dropFirst()), newValue)
            object[first] = child
        }
        self = .object(object)
    }

    var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }

    /// Compact JSON text (keys sorted).
    var jsonData: Data { Data(canonicalText.utf8) }

    /// Parses JSON bytes, keeping integers and booleans apart.
    static func decode(_ data: Data) throws -> JSONValue {
        var parser = JSONTextParser(bytes: Array(data))
        return try parser.parseDocument()
    }

    /// Parses one YAML (or JSON) document; an empty document is `null`.
    static func yaml(_ text: String) throws -> JSONValue {
        try yamlDocuments(text).first ?? .null
    }

    /// Parses every document of a YAML stream.
    static func yamlDocuments(_ text: String) throws -> [JSONValue] {
        var documents: [JSONValue] = []
        let parser = try Parser(yaml: text)
        while let node = try parser.nextRoot() { documents.append(JSONValue(yamlNode: node)) }
        return documents
    }

    init(yamlNode node: Node) {
        switch node {
        case .scalar(let scalar):
            switch node.tag.rawValue {
            case Tag.Name.null.rawValue: self = .null
            case Tag.Name.bool.rawValue: self = .bool(node.bool ?? false)
            case Tag.Name.int.rawValue: self = .number(Double(node.int ?? 0))
            case Tag.Name.float.rawValue: self = .number(node.float ?? 0)
            default: self = .string(scalar.string)
            }
        case .mapping(let mapping):
            var out: [String: JSONValue] = [:]
            for (k, v) in mapping { out[k.string ?? ""] = JSONValue(yamlNode: v) }
            self = .object(out)
        case .sequence(let seq): self = .array(seq.map { JSONValue(yamlNode: $0) })
        case .alias: self = .null
        }
    }
}

/// A strict JSON text parser producing `JSONValue`.
struct JSONTextParser {
    struct SyntaxError: Error, CustomStringConvertible {
        var offset: Int
        var description: String { "invalid JSON at offset \(offset)" }
    }

    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseDocument() throws -> JSONValue {
        let value = try parseValue()
        skipSpace()
        guard index == bytes.count else { throw SyntaxError(offset: index) }
        return value
    }

    private mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
    }

    private mutating func expect(_ literal: String) throws {
        let l = Array(literal.utf8)
        guard index + l.count <= bytes.count, Array(bytes[index..<index + l.count]) == l else { throw SyntaxError(offset: index) }
        index += l.count
    }

    private mutating func parseValue() throws -> JSONValue {
        skipSpace()
        guard index < bytes.count else { throw SyntaxError(offset: index) }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var object: [String: JSONValue] = [:]
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(object) }
            while true {
                skipSpace()
                let key = try parseString()
                skipSpace()
                try expect(":")
                object[key] = try parseValue()
                skipSpace()
                guard index < bytes.count else { throw SyntaxError(offset: index) }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(object) }
                throw SyntaxError(offset: index)
            }
        case UInt8(ascii: "["):
            index += 1
            var array: [JSONValue] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(array) }
            while true {
                array.append(try parseValue())
                skipSpace()
                guard index < bytes.count else { throw SyntaxError(offset: index) }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(array) }
                throw SyntaxError(offset: index)
            }
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        default:
            let start = index
            while index < bytes.count, "+-0123456789.eE".utf8.contains(bytes[index]) { index += 1 }
            guard let text = String(bytes: bytes[start..<index], encoding: .utf8), let number = Double(text) else {
                throw SyntaxError(offset: start)
            }
            return .number(number)
        }
    }

    private mutating func parseString() throws -> String {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw SyntaxError(offset: index) }
        index += 1
        var out: [UInt8] = []
        while index < bytes.count {
            let b = bytes[index]
            index += 1
            if b == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            if b != UInt8(ascii: "\\") { out.append(b); continue }
            guard index < bytes.count else { break }
            let e = bytes[index]
            index += 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                var scalarValue = try hex4()
                if (0xD800..<0xDC00).contains(scalarValue), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\") {
                    index += 2
                    let low = try hex4()
                    scalarValue = 0x10000 + ((scalarValue - 0xD800) << 10) + (low - 0xDC00)
                }
                out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalarValue) ?? "?")).utf8))
            default: out.append(e)
            }
        }
        throw SyntaxError(offset: index)
    }

    private mutating func hex4() throws -> UInt32 {
        guard index + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else {
            throw SyntaxError(offset: index)
        }
        index += 4
        return v
    }
}

/// Kubernetes time formats.
enum KubeTime {
    static func format(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: date)
    }

    static func formatMicro(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"
        return f.string(from: date)
    }

    static func parse(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text)
    }

    /// kubectl's short human duration ("5s", "3m2s", "4h", "2d").
    static func humanDuration(_ seconds: TimeInterval) -> String {
        let s = Int(max(0, seconds))
        if s < 120 { return "\(s)s" }
        let m = s / 60
        if m < 10 { return s % 60 == 0 ? "\(m)m" : "\(m)m\(s % 60)s" }
        if m < 180 { return "\(m)m" }
        let h = m / 60
        if h < 8 { return m % 60 == 0 ? "\(h)h" : "\(h)h\(m % 60)m" }
        if h < 48 { return "\(h)h" }
        let d = h / 24
        if d < 8 { return h % 24 == 0 ? "\(d)d" : "\(d)d\(h % 24)h" }
        if d < 730 { return "\(d)d" }
        return "\(d / 365)y"
    }
}

/// RFC 7386 JSON merge patch and RFC 6902 JSON patch.
enum Patching {
    static func mergePatch(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard case .object(let patchObject) = patch else { return patch }
        var result = target.objectValue ?? [:]
        for (key, value) in patchObject {
            if value == .null {
                result[key] = nil
            } else {
                result[key] = mergePatch(result[key] ?? .null, value)
            }
        }
        return .object(result)
    }

    /// Merges an applied configuration into an object: objects merge recursively, everything else replaces.
    static func applyMerge(_ target: JSONValue, _ applied: JSONValue) -> JSONValue {
        guard case .object(let appliedObject) = applied, case .object(var result) = target else { return applied }
        for (key, value) in appliedObject {
            result[key] = result[key].map { applyMerge($0, value) } ?? value
        }
        return .object(result)
    }

    /// Server-side apply's removal rule: fields the manager applied before (`previous`) but omits now (`current`)
    /// are removed from `object`. Objects recurse; lists and scalars are atomic.
    static func removeOmitted(_ object: JSONValue, previous: JSONValue, current: JSONValue) -> JSONValue {
        guard case .object(var result) = object, case .object(let before) = previous else { return object }
        let now = current.objectValue ?? [:]
        for (key, old) in before {
            if let new = now[key] {
                if let child = result[key], case .object = old, case .object = new {
                    result[key] = removeOmitted(child, previous: old, current: new)
                }
            } else if !["apiVersion", "kind", "name", "namespace"].contains(key) {
                result[key] = nil
            }
        }
        return .object(result)
    }

    struct JSONPatchError: Error { var message: String }

    static func jsonPatch(_ target: JSONValue, _ operations: JSONValue) throws -> JSONValue {
        guard let ops = operations.arrayValue else { throw JSONPatchError(message: "json patch must be an array of operations") }
        if ops.count > 10000 { throw JSONPatchError(message: "The allowed maximum operations in a JSON patch is 10000, got \(ops.count)") }
        var doc = target
        for op in ops {
            guard let name = op["op"]?.stringValue, let path = op["path"]?.stringValue else {
                throw JSONPatchError(message: "json patch operation needs op and path")
            }
            let pointer = try parsePointer(path)
            switch name {
            case "add": doc = try apply(doc, pointer, .add(op["value"] ?? .null))
            case "remove": doc = try apply(doc, pointer, .remove)
            case "replace": doc = try apply(doc, pointer, .replace(op["value"] ?? .null))
            case "test":
                guard get(doc, pointer) == (op["value"] ?? .null) else { throw JSONPatchError(message: "testing value \(path) failed") }
            case "move", "copy":
                guard let from = op["from"]?.stringValue, let value = get(doc, try parsePointer(from)) else {
                    throw JSONPatchError(message: "json patch \(name) operation does not apply: doc is missing from path")
                }
                if name == "move" { doc = try apply(doc, try parsePointer(from), .remove) }
                doc = try apply(doc, pointer, .add(value))
            default: throw JSONPatchError(message: "Unexpected kind: \(name)")
            }
        }
        return doc
    }

    private enum Edit { case add(JSONValue), remove, replace(JSONValue) }

    private static func parsePointer(_ path: String) throws -> [String] {
        if path.isEmpty { return [] }
        guard path.hasPrefix("/") else { throw JSONPatchError(message: "invalid JSON pointer \(path)") }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    private static func get(_ doc: JSONValue, _ pointer: [String]) -> JSONValue? {
        var current: JSONValue? = doc
        for token in pointer {
            switch current {
            case .object(let o)?: current = o[token]
            case .array(let a)?: if let i = Int(token), a.indices.contains(i) { current = a[i] } else { return nil }
            default: return nil
            }
        }
        return current
    }

    private static func apply(_ doc: JSONValue, _ pointer: [String], _ edit: Edit) throws -> JSONValue {
        guard let token = pointer.first else {
            switch edit {
            case .add(let v), .replace(let v): return v
            case .remove: return .null
            }
        }
        let rest = Array(pointer.dropFirst())
        switch doc {
        case .object(var o):
            if rest.isEmpty {
                switch edit {
                case .add(let v): o[token] = v
                case .replace(let v):
                    guard o[token] != nil else { throw JSONPatchError(message: "replace operation does not apply: doc is missing key: \(token)") }
                    o[token] = v
                case .remove:
                    guard o[token] != nil else { throw JSONPatchError(message: "remove operation does not apply: doc is missing key: \(token)") }
                    o[token] = nil
                }
            } else {
                guard let child = o[token] else { throw JSONPatchError(message: "doc is missing path: /\(pointer.joined(separator: "/"))") }
                o[token] = try apply(child, rest, edit)
            }
            return .object(o)
        case .array(var a):
            let index: Int
            if token == "-" { index = a.count } else if let i = Int(token) { index = i } else {
                throw JSONPatchError(message: "invalid array index \(token)")
            }
            if rest.isEmpty {
                switch edit {
                case .add(let v):
                    guard index >= 0 && index <= a.count else { throw JSONPatchError(message: "add operation does not apply: index out of bounds: \(index)") }
                    a.insert(v, at: index)
                case .replace(let v):
                    guard a.indices.contains(index) else { throw JSONPatchError(message: "replace operation does not apply: index out of bounds: \(index)") }
                    a[index] = v
                case .remove:
                    guard a.indices.contains(index) else { throw JSONPatchError(message: "remove operation does not apply: index out of bounds: \(index)") }
                    a.remove(at: index)
                }
            } else {
                guard a.indices.contains(index) else { throw JSONPatchError(message: "index out of bounds: \(index)") }
                a[index] = try apply(a[index], rest, edit)
            }
            return .array(a)
        default:
            throw JSONPatchError(message: "doc is missing path: /\(pointer.joined(separator: "/"))")
        }
    }
}
