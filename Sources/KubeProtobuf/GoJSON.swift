import Foundation
import MirModel
import SwiftProtobuf

/// Converts a decoded Kubernetes protobuf message to the JSON object Go's encoding/json writes for the same typed
/// object. Every field the message holds is visited (SwiftProtobuf's `traverse`), named by the descriptor of the
/// .proto subset (Kubernetes' proto field names are its JSON names), and emitted by Go's rules:
/// - a scalar with `omitempty` is left out when zero; a pointer (`*int32`, `*bool`, …) or a field without `omitempty`
///   is written even when zero (`GoJSONRules.keepZero`), and a non-`omitempty` field is written when absent too
///   (`GoJSONRules.alwaysEmit`: `null` for a slice, the zero value otherwise);
/// - a nested message is written when present (Go's protobuf writes every non-pointer struct, so presence is Go's
///   `{}`-or-pointer rule); `metav1.Time` becomes RFC 3339 (zero → `null`), `resource.Quantity` its string,
///   `intstr.IntOrString` an int or a string; bytes become base64 (Secret `data`);
/// - unknown fields (outside the subset) are collected with their path and refused, never dropped.
enum GoJSON {
    struct UnknownFields: Error { var fields: [String] }
    struct UnsupportedType: Error { var message: String; var fieldNumber: Int }

    static func object(of message: any SwiftProtobuf.Message) throws -> [String: JSONValue] {
        let unknown = UnknownCollector()
        let value = try convert(message, path: "", unknown: unknown)
        if !unknown.fields.isEmpty { throw UnknownFields(fields: unknown.fields) }
        return value.objectValue ?? [:]
    }

    static func convert<M: SwiftProtobuf.Message>(_ message: M, path: String, unknown: UnknownCollector) throws -> JSONValue {
        let name = M.protoMessageName
        var visitor = Visitor(messageName: name, path: path, unknown: unknown)
        try message.traverse(visitor: &visitor)
        var object = visitor.object
        let short = GoJSONRules.shortName(name)
        for (field, zero) in GoJSONRules.alwaysEmit[short] ?? [:] where object[field] == nil { object[field] = zero }
        switch name {
        case GoJSONRules.time:
            let seconds = object["seconds"]?.numberValue ?? 0
            let nanos = object["nanos"]?.numberValue ?? 0
            if seconds == 0 && nanos == 0 { return .null }
            return .string(Date(timeIntervalSince1970: seconds).formatted(.iso8601))
        case GoJSONRules.quantity:
            return object["string"] ?? .string("0")
        case GoJSONRules.intOrString:
            if object["type"]?.numberValue == 1 { return object["strVal"] ?? .string("") }
            return object["intVal"] ?? .number(0)
        default:
            if GoJSONRules.rawJSONMessages.contains(name) {
                throw UnsupportedType(message: name, fieldNumber: 1)
            }
            return .object(object)
        }
    }

    /// The descriptor-derived names: message full name → field number → proto (= Kubernetes JSON) name.
    static let fieldNames: [String: [Int: String]] = {
        let encoded = KubeDescriptors.fileDescriptorSetBase64.filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: encoded),
              let set = try? Google_Protobuf_FileDescriptorSet(serializedBytes: data) else {
            preconditionFailure("KubeDescriptors.swift holds no valid FileDescriptorSet: run scripts/gen-proto")
        }
        var out: [String: [Int: String]] = [:]
        for file in set.file {
            for message in file.messageType {
                var fields: [Int: String] = [:]
                for field in message.field { fields[Int(field.number)] = field.name }
                out["\(file.package).\(message.name)"] = fields
            }
        }
        return out
    }()

    final class UnknownCollector {
        var fields: [String] = []
    }

    struct Visitor: SwiftProtobuf.Visitor {
        let messageName: String
        let path: String
        let unknown: UnknownCollector
        let names: [Int: String]
        let keepZero: Set<String>
        var object: [String: JSONValue] = [:]

        init(messageName: String, path: String, unknown: UnknownCollector) {
            self.messageName = messageName
            self.path = path
            self.unknown = unknown
            self.names = GoJSON.fieldNames[messageName] ?? [:]
            self.keepZero = GoJSONRules.keepZero[GoJSONRules.shortName(messageName)] ?? []
        }

        private func name(_ number: Int) throws -> String {
            guard let name = names[number] else { throw UnsupportedType(message: messageName, fieldNumber: number) }
            return name
        }

        private func childPath(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

        private mutating func put(_ number: Int, _ value: JSONValue, isZero: Bool) throws {
            let name = try name(number)
            if isZero && !keepZero.contains(name) { return }
            object[name] = value
        }

        mutating func visitSingularDoubleField(value: Double, fieldNumber: Int) throws {
            throw UnsupportedType(message: messageName, fieldNumber: fieldNumber)
        }
        mutating func visitSingularInt64Field(value: Int64, fieldNumber: Int) throws {
            try put(fieldNumber, .number(Double(value)), isZero: value == 0)
        }
        mutating func visitSingularUInt64Field(value: UInt64, fieldNumber: Int) throws {
            throw UnsupportedType(message: messageName, fieldNumber: fieldNumber)
        }
        mutating func visitSingularBoolField(value: Bool, fieldNumber: Int) throws {
            try put(fieldNumber, .bool(value), isZero: !value)
        }
        mutating func visitSingularStringField(value: String, fieldNumber: Int) throws {
            try put(fieldNumber, .string(value), isZero: value.isEmpty)
        }
        mutating func visitSingularBytesField(value: Data, fieldNumber: Int) throws {
            try put(fieldNumber, .string(value.base64EncodedString()), isZero: value.isEmpty)
        }
        mutating func visitSingularEnumField<E: SwiftProtobuf.Enum>(value: E, fieldNumber: Int) throws {
            throw UnsupportedType(message: messageName, fieldNumber: fieldNumber)
        }
        mutating func visitSingularMessageField<M: SwiftProtobuf.Message>(value: M, fieldNumber: Int) throws {
            let name = try name(fieldNumber)
            object[name] = try GoJSON.convert(value, path: childPath(name), unknown: unknown)
        }
        mutating func visitSingularGroupField<G: SwiftProtobuf.Message>(value: G, fieldNumber: Int) throws {
            throw UnsupportedType(message: messageName, fieldNumber: fieldNumber)
        }

        mutating func visitRepeatedStringField(value: [String], fieldNumber: Int) throws {
            object[try name(fieldNumber)] = .array(value.map { .string($0) })
        }
        mutating func visitRepeatedInt32Field(value: [Int32], fieldNumber: Int) throws {
            object[try name(fieldNumber)] = .array(value.map { .number(Double($0)) })
        }
        mutating func visitRepeatedInt64Field(value: [Int64], fieldNumber: Int) throws {
            object[try name(fieldNumber)] = .array(value.map { .number(Double($0)) })
        }
        mutating func visitRepeatedBoolField(value: [Bool], fieldNumber: Int) throws {
            object[try name(fieldNumber)] = .array(value.map { .bool($0) })
        }
        mutating func visitRepeatedBytesField(value: [Data], fieldNumber: Int) throws {
            object[try name(fieldNumber)] = .array(value.map { .string($0.base64EncodedString()) })
        }
        mutating func visitRepeatedMessageField<M: SwiftProtobuf.Message>(value: [M], fieldNumber: Int) throws {
            let name = try name(fieldNumber)
            var items: [JSONValue] = []
            for (index, item) in value.enumerated() {
                items.append(try GoJSON.convert(item, path: "\(childPath(name))[\(index)]", unknown: unknown))
            }
            object[name] = .array(items)
        }

        mutating func visitMapField<KeyType, ValueType: MapValueType>(
            fieldType: _ProtobufMap<KeyType, ValueType>.Type, value: _ProtobufMap<KeyType, ValueType>.BaseType, fieldNumber: Int
        ) throws {
            var out: [String: JSONValue] = [:]
            for (key, item) in value {
                switch item {
                case let string as String: out["\(key)"] = .string(string)
                case let bytes as Data: out["\(key)"] = .string(bytes.base64EncodedString())
                case let bool as Bool: out["\(key)"] = .bool(bool)
                case let int as Int32: out["\(key)"] = .number(Double(int))
                case let int as Int64: out["\(key)"] = .number(Double(int))
                default: throw UnsupportedType(message: messageName, fieldNumber: fieldNumber)
                }
            }
            object[try name(fieldNumber)] = .object(out)
        }
        mutating func visitMapField<KeyType, ValueType>(
            fieldType: _ProtobufEnumMap<KeyType, ValueType>.Type, value: _ProtobufEnumMap<KeyType, ValueType>.BaseType, fieldNumber: Int
        ) throws where ValueType.RawValue == Int {
            throw UnsupportedType(message: messageName, fieldNumber: fieldNumber)
        }
        mutating func visitMapField<KeyType, ValueType>(
            fieldType: _ProtobufMessageMap<KeyType, ValueType>.Type, value: _ProtobufMessageMap<KeyType, ValueType>.BaseType,
            fieldNumber: Int
        ) throws {
            let name = try name(fieldNumber)
            var out: [String: JSONValue] = [:]
            for (key, item) in value {
                out["\(key)"] = try GoJSON.convert(item, path: "\(childPath(name))[\(key)]", unknown: unknown)
            }
            object[name] = .object(out)
        }

        mutating func visitExtensionFields(fields: ExtensionFieldValueSet, start: Int, end: Int) throws {
            throw UnsupportedType(message: messageName, fieldNumber: start)
        }
        mutating func visitExtensionFieldsAsMessageSet(fields: ExtensionFieldValueSet, start: Int, end: Int) throws {
            throw UnsupportedType(message: messageName, fieldNumber: start)
        }

        mutating func visitUnknown(bytes: Data) throws {
            let where_ = path.isEmpty ? "" : "\(path): "
            for number in ProtobufWire.fieldNumbers(bytes) {
                unknown.fields.append("\(where_)field \(number) of \(messageName)")
            }
        }
    }
}

/// Reads the field numbers of raw protobuf wire bytes (SwiftProtobuf keeps unknown fields as such bytes).
enum ProtobufWire {
    static func fieldNumbers(_ data: Data) -> [Int] {
        let bytes = [UInt8](data)
        var index = 0
        var numbers: [Int] = []
        func varint() -> UInt64? {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while index < bytes.count, shift < 64 {
                let byte = bytes[index]
                index += 1
                result |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
            return nil
        }
        while index < bytes.count {
            guard let tag = varint() else { break }
            let number = Int(tag >> 3)
            if !numbers.contains(number) { numbers.append(number) }
            switch tag & 7 {
            case 0: guard varint() != nil else { return numbers }
            case 1: index += 8
            case 2:
                guard let length = varint() else { return numbers }
                index += Int(clamping: length)
            case 5: index += 4
            default: return numbers  // groups: not used by Kubernetes; the number is already reported
            }
        }
        return numbers
    }
}
