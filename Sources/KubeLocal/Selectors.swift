import Foundation
import MirModel

/// A parsed `labelSelector`: `=`, `==`, `!=`, `in`, `notin`, `key`, `!key`.
struct LabelSelector: Sendable {
    enum Requirement: Sendable {
        case equals(String, String)
        case notEquals(String, String)
        case isIn(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case notExists(String)
    }

    var requirements: [Requirement] = []

    /// Everything.
    init() {}

    init(_ text: String?) throws(APIError) {
        guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else { return }
        for part in Self.splitTopLevel(text) {
            let term = part.trimmingCharacters(in: .whitespaces)
            if term.isEmpty { continue }
            if let r = term.range(of: " notin ") ?? term.range(of: " in ") {
                let key = String(term[..<r.lowerBound]).trimmingCharacters(in: .whitespaces)
                var values = String(term[r.upperBound...]).trimmingCharacters(in: .whitespaces)
                guard values.hasPrefix("("), values.hasSuffix(")") else {
                    throw APIError.badRequest("unable to parse requirement: found '\(values)', expected: '('")
                }
                values = String(values.dropFirst().dropLast())
                let set = Set(values.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
                requirements.append(term[r].contains("notin") ? .notIn(key, set) : .isIn(key, set))
            } else if let r = term.range(of: "!=") {
                requirements.append(.notEquals(String(term[..<r.lowerBound]).trimmingCharacters(in: .whitespaces),
                                               String(term[r.upperBound...]).trimmingCharacters(in: .whitespaces)))
            } else if let r = term.range(of: "==") ?? term.range(of: "=") {
                requirements.append(.equals(String(term[..<r.lowerBound]).trimmingCharacters(in: .whitespaces),
                                            String(term[r.upperBound...]).trimmingCharacters(in: .whitespaces)))
            } else if term.hasPrefix("!") {
                requirements.append(.notExists(String(term.dropFirst()).trimmingCharacters(in: .whitespaces)))
            } else {
                requirements.append(.exists(term))
            }
        }
    }

    static func splitTopLevel(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        for ch in text {
            if ch == "(" { depth += 1 }
            if ch == ")" { depth -= 1 }
            if ch == "," && depth == 0 { parts.append(current); current = "" } else { current.append(ch) }
        }
        parts.append(current)
        return parts
    }

    /// The `key=value` (and `key==value`) terms: what an index can answer.
    var equalities: [(key: String, value: String)] {
        requirements.compactMap { if case .equals(let k, let v) = $0 { return (k, v) } else { return nil } }
    }

    /// True when the selector selects everything (no requirement).
    var selectsEverything: Bool { requirements.isEmpty }

    /// True when every requirement is `key=value`: the label index answers the selector exactly.
    var isEqualitiesOnly: Bool {
        requirements.allSatisfy { if case .equals = $0 { return true } else { return false } }
    }

    func matches(_ object: JSONValue) -> Bool {
        let labels = object["metadata"]?["labels"]?.objectValue ?? [:]
        return requirements.allSatisfy { req in
            switch req {
            case .equals(let k, let v): return labels[k]?.stringValue == v
            case .notEquals(let k, let v): return labels[k]?.stringValue != v
            case .isIn(let k, let s): return labels[k]?.stringValue.map { s.contains($0) } ?? false
            case .notIn(let k, let s): return labels[k]?.stringValue.map { !s.contains($0) } ?? true
            case .exists(let k): return labels[k] != nil
            case .notExists(let k): return labels[k] == nil
            }
        }
    }
}

/// A parsed `fieldSelector`: `metadata.name` and `metadata.namespace` everywhere, `involvedObject.*` (and a few more) on Events.
struct FieldSelector: Sendable {
    var terms: [(path: [String], value: String, negate: Bool)] = []

    init(_ text: String?, resource: ResourceInfo) throws(APIError) {
        guard let text, !text.isEmpty else { return }
        for part in text.split(separator: ",") {
            let term = String(part)
            let field: String
            let value: String
            let negate: Bool
            if let r = term.range(of: "!=") {
                field = String(term[..<r.lowerBound]); value = String(term[r.upperBound...]); negate = true
            } else if let r = term.range(of: "==") ?? term.range(of: "=") {
                field = String(term[..<r.lowerBound]); value = String(term[r.upperBound...]); negate = false
            } else {
                throw APIError.badRequest("invalid selector: '\(text)'; can't understand '\(term)'")
            }
            guard Self.supported(field, resource) else {
                throw APIError.badRequest("field label not supported: \(field)")
            }
            terms.append((field.split(separator: ".").map(String.init), value, negate))
        }
    }

    static func supported(_ field: String, _ resource: ResourceInfo) -> Bool {
        if field == "metadata.name" || field == "metadata.namespace" { return true }
        switch resource.key {
        case "events":
            return ["involvedObject.name", "involvedObject.namespace", "involvedObject.kind", "involvedObject.uid",
                    "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                    "reason", "type", "source", "reportingComponent"].contains(field)
        case "pods": return ["status.phase", "spec.nodeName", "spec.restartPolicy"].contains(field)
        case "secrets": return field == "type"
        case "jobs.batch": return field == "status.successful"
        default: return false
        }
    }

    /// True when the selector selects everything (no term).
    var selectsEverything: Bool { terms.isEmpty }

    func matches(_ object: JSONValue) -> Bool {
        terms.allSatisfy { term in
            let actual: String
            switch object.value(at: term.path) {
            case .string(let s)?: actual = s
            case .number?, .bool?: actual = object.value(at: term.path)!.canonicalText
            default: actual = ""
            }
            return (actual == term.value) != term.negate
        }
    }
}
