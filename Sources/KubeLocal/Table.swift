import Foundation
import MirModel

/// The subset of kubectl JSONPath printer columns use: `.a.b`, `[n]`, `[*]` and `[?(@.k=="v")]` filters.
enum SimpleJSONPath {
    static func evaluate(_ path: String, on object: JSONValue) -> [JSONValue] {
        var expression = path.trimmingCharacters(in: .whitespaces)
        if expression.hasPrefix("{") && expression.hasSuffix("}") { expression = String(expression.dropFirst().dropLast()) }
        if expression.hasPrefix("$") { expression.removeFirst() }
        var current: [JSONValue] = [object]
        var rest = Substring(expression)
        while !rest.isEmpty {
            if rest.hasPrefix(".") {
                rest = rest.dropFirst()
                let end = rest.firstIndex { $0 == "." || $0 == "[" } ?? rest.endIndex
                let key = String(rest[..<end])
                rest = rest[end...]
                if key.isEmpty { continue }
                current = current.compactMap { $0[key] }
            } else if rest.hasPrefix("[") {
                guard let close = matchingBracket(rest) else { return [] }
                let inner = String(rest[rest.index(after: rest.startIndex)..<close]).trimmingCharacters(in: .whitespaces)
                rest = rest[rest.index(after: close)...]
                if inner == "*" {
                    current = current.flatMap { $0.arrayValue ?? $0.objectValue.map { Array($0.values) } ?? [] }
                } else if let i = Int(inner) {
                    current = current.compactMap { v in
                        guard let a = v.arrayValue else { return nil }
                        let idx = i < 0 ? a.count + i : i
                        return a.indices.contains(idx) ? a[idx] : nil
                    }
                } else if inner.hasPrefix("?(") && inner.hasSuffix(")") {
                    let condition = String(inner.dropFirst(2).dropLast())
                    current = current.flatMap { v in (v.arrayValue ?? []).filter { filterMatches(condition, $0) } }
                } else {
                    let key = inner.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
                    current = current.compactMap { $0[key] }
                }
            } else {
                return []
            }
        }
        return current
    }

    private static func matchingBracket(_ s: Substring) -> Substring.Index? {
        var depth = 0
        var quote: Character? = nil
        for i in s.indices {
            let c = s[i]
            if let q = quote { if c == q { quote = nil }; continue }
            if c == "\"" || c == "'" { quote = c; continue }
            if c == "[" { depth += 1 }
            if c == "]" { depth -= 1; if depth == 0 { return i } }
        }
        return nil
    }

    /// `@.key=="value"` or `@.key!="value"`.
    private static func filterMatches(_ condition: String, _ element: JSONValue) -> Bool {
        let negate = condition.contains("!=")
        let parts = condition.components(separatedBy: negate ? "!=" : "==")
        guard parts.count == 2 else { return false }
        let lhs = parts[0].trimmingCharacters(in: .whitespaces)
        let rhs = parts[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        guard lhs.hasPrefix("@") else { return false }
        let values = evaluate(String(lhs.dropFirst()), on: element)
        let actual = values.first.map { $0.stringValue ?? $0.canonicalText }
        return (actual == rhs) != negate
    }
}

/// Converts objects into `meta.k8s.io/v1` Tables.
enum TableConverter {
    static func columnDefinitions(_ info: ResourceInfo) -> JSONValue {
        var columns: [JSONValue] = [.object([
            "name": .string("Name"), "type": .string("string"), "format": .string("name"),
            "description": .string("Name must be unique within a namespace."), "priority": .number(0),
        ])]
        for c in info.printerColumns {
            columns.append(.object(["name": .string(c.name), "type": .string(c.type), "format": .string(c.format),
                                    "description": .string(c.description), "priority": .number(Double(c.priority))]))
        }
        return .array(columns)
    }

    static func table(_ info: ResourceInfo, objects: [JSONValue], resourceVersion: String, continueToken: String?,
                      includeColumns: Bool = true, includeObject: String = "Metadata", now: Date = Date()) -> JSONValue {
        var metadata: [String: JSONValue] = ["resourceVersion": .string(resourceVersion)]
        if let continueToken { metadata["continue"] = .string(continueToken) }
        var table: [String: JSONValue] = [
            "kind": .string("Table"), "apiVersion": .string("meta.k8s.io/v1"), "metadata": .object(metadata),
            "rows": .array(objects.map { row(info, $0, includeObject: includeObject, now: now) }),
        ]
        table["columnDefinitions"] = includeColumns ? columnDefinitions(info) : .array([])
        return .object(table)
    }

    static func row(_ info: ResourceInfo, _ object: JSONValue, includeObject: String, now: Date) -> JSONValue {
        var cells: [JSONValue] = [object["metadata"]?["name"] ?? .string("")]
        for c in info.printerColumns { cells.append(cell(info, c, object, now: now)) }
        var row: [String: JSONValue] = ["cells": .array(cells)]
        switch includeObject {
        case "None": break
        case "Object": row["object"] = object
        default:
            row["object"] = .object(["kind": .string("PartialObjectMetadata"), "apiVersion": .string("meta.k8s.io/v1"),
                                     "metadata": object["metadata"] ?? .object([:])])
        }
        return .object(row)
    }

    private static func cell(_ info: ResourceInfo, _ column: PrinterColumn, _ object: JSONValue, now: Date) -> JSONValue {
        guard let path = column.jsonPath else { return computedCell(info, column.name, object, now: now) }
        let values = SimpleJSONPath.evaluate(path, on: object)
        guard let first = values.first else { return .null }
        if column.type == "date", let text = first.stringValue, let date = KubeTime.parse(text) {
            return .string(KubeTime.humanDuration(now.timeIntervalSince(date)))
        }
        if values.count > 1 { return .string(values.map { $0.stringValue ?? $0.canonicalText }.joined(separator: ",")) }
        switch first {
        case .object, .array: return .string(first.canonicalText)
        default: return first
        }
    }

    private static func computedCell(_ info: ResourceInfo, _ name: String, _ object: JSONValue, now: Date) -> JSONValue {
        switch (info.key, name) {
        case ("pods", "Ready"):
            let statuses = object["status"]?["containerStatuses"]?.arrayValue ?? []
            let total = max(statuses.count, object["spec"]?["containers"]?.arrayValue?.count ?? 0)
            let ready = statuses.filter { $0["ready"]?.boolValue == true }.count
            return .string("\(ready)/\(total)")
        case ("pods", "Status"):
            if object["metadata"]?["deletionTimestamp"] != nil { return .string("Terminating") }
            for s in object["status"]?["containerStatuses"]?.arrayValue ?? [] {
                if let reason = s["state"]?["terminated"]?["reason"]?.stringValue { return .string(reason) }
            }
            return object["status"]?["phase"] ?? .string("Pending")
        case ("pods", "Restarts"):
            let restarts = (object["status"]?["containerStatuses"]?.arrayValue ?? []).compactMap { $0["restartCount"]?.intValue }.reduce(0, +)
            return .string(String(restarts))
        case ("jobs.batch", "Status"):
            let conditions = object["status"]?["conditions"]?.arrayValue ?? []
            let isTrue: (String) -> Bool = { t in conditions.contains { $0["type"]?.stringValue == t && $0["status"]?.stringValue == "True" } }
            if isTrue("Complete") { return .string("Complete") }
            if isTrue("Failed") { return .string("Failed") }
            if isTrue("SuccessCriteriaMet") || isTrue("FailureTarget") { return .string("Terminating") }
            return .string("Running")
        case ("jobs.batch", "Completions"):
            let succeeded = object["status"]?["succeeded"]?.intValue ?? 0
            let completions = object["spec"]?["completions"]?.intValue ?? 1
            return .string("\(succeeded)/\(completions)")
        case ("events", "Object"):
            let kind = (object["involvedObject"]?["kind"]?.stringValue ?? "").lowercased()
            return .string("\(kind)/\(object["involvedObject"]?["name"]?.stringValue ?? "")")
        default:
            return BuiltinBehaviour.computedCell(info, name, object) ?? .null
        }
    }
}
