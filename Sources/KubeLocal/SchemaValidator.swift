import Foundation
import MirModel

/// Validates a custom resource against its CRD's structural schema: applies defaults, prunes unknown fields
/// (or reports them under `fieldValidation=Strict`), checks types, required, enum, pattern, bounds and
/// `x-kubernetes-validations` rules (the CEL subset of `CELRule`; a rule outside it is skipped and reported
/// in `unevaluatedRules`).
struct SchemaValidator {
    struct Outcome {
        var object: JSONValue
        var causes: [APIError.Cause] = []
        var unknownFields: [String] = []
        var unevaluatedRules: [String] = []
    }

    let schema: JSONValue

    /// Validates `object` (the whole resource; `metadata`, `apiVersion` and `kind` are left alone).
    func validate(_ object: JSONValue, old: JSONValue? = nil) -> Outcome {
        var outcome = Outcome(object: object)
        guard case .object(var root) = object else { return outcome }
        let properties = schema["properties"]?.objectValue ?? [:]
        for (key, value) in root where !["apiVersion", "kind", "metadata"].contains(key) {
            if let propertySchema = properties[key] {
                root[key] = check(value, propertySchema, path: key, old: old?[key], outcome: &outcome)
            } else if schema["x-kubernetes-preserve-unknown-fields"]?.boolValue != true {
                outcome.unknownFields.append(key)
                root[key] = nil
            }
        }
        applyDefaults(&root, schema: schema)
        for key in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where root[key] == nil {
            outcome.causes.append(.required(key))
        }
        let whole = JSONValue.object(root)
        outcome.object = whole
        // Rules at the root see the whole object, `metadata.name` included.
        for rule in schema["x-kubernetes-validations"]?.arrayValue ?? [] {
            evaluate(rule, on: whole, old: old, path: "", outcome: &outcome)
        }
        return outcome
    }

    private func applyDefaults(_ object: inout [String: JSONValue], schema: JSONValue) {
        for (key, propertySchema) in schema["properties"]?.objectValue ?? [:] where object[key] == nil {
            if let value = propertySchema["default"] { object[key] = value }
        }
    }

    private func check(_ value: JSONValue, _ schema: JSONValue, path: String, old: JSONValue?, outcome: inout Outcome) -> JSONValue {
        if value == .null, schema["nullable"]?.boolValue == true { return value }
        let preserve = schema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true
        var result = value
        if schema["x-kubernetes-int-or-string"]?.boolValue == true {
            guard value.stringValue != nil || value.intValue != nil else {
                outcome.causes.append(.invalidValue(path, typeName(value), "\(path) in body must be of type int-or-string: \(APIError.Cause.render(typeName(value)))"))
                return value
            }
        } else if let type = schema["type"]?.stringValue, !typeMatches(value, type) {
            outcome.causes.append(.invalidValue(path, typeName(value), "\(path) in body must be of type \(type): \(APIError.Cause.render(typeName(value)))"))
            return value
        }
        switch value {
        case .object(var object):
            let properties = schema["properties"]?.objectValue
            let additional = schema["additionalProperties"]
            for (key, child) in object {
                let childPath = "\(path).\(key)"
                if let childSchema = properties?[key] {
                    object[key] = check(child, childSchema, path: childPath, old: old?[key], outcome: &outcome)
                } else if let additional, additional.objectValue != nil {
                    object[key] = check(child, additional, path: childPath, old: old?[key], outcome: &outcome)
                } else if !preserve && additional?.boolValue != true && (properties != nil || schema["type"]?.stringValue == "object") {
                    outcome.unknownFields.append(childPath)
                    object[key] = nil
                }
            }
            applyDefaults(&object, schema: schema)
            for key in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where object[key] == nil {
                outcome.causes.append(.required("\(path).\(key)"))
            }
            if let max = schema["maxProperties"]?.intValue, object.count > max {
                outcome.causes.append(.init(reason: "FieldValueTooMany", message: "Too many: \(object.count): must have at most \(max) items", field: path))
            }
            result = .object(object)
        case .array(var items):
            if let itemSchema = schema["items"] {
                for i in items.indices {
                    items[i] = check(items[i], itemSchema, path: "\(path)[\(i)]", old: nil, outcome: &outcome)
                }
            }
            if let max = schema["maxItems"]?.intValue, items.count > max {
                outcome.causes.append(.init(reason: "FieldValueTooMany", message: "Too many: \(items.count): must have at most \(max) items", field: path))
            }
            if let min = schema["minItems"]?.intValue, items.count < min {
                outcome.causes.append(.invalidValue(path, .number(Double(items.count)), "\(path) in body should have at least \(min) items"))
            }
            if schema["x-kubernetes-list-type"]?.stringValue == "map" {
                let keys = schema["x-kubernetes-list-map-keys"]?.arrayValue?.compactMap(\.stringValue) ?? []
                var seen: Set<String> = []
                for (i, item) in items.enumerated() {
                    let identity = keys.map { item[$0]?.canonicalText ?? "" }.joined(separator: "/")
                    if !seen.insert(identity).inserted {
                        let shown = keys.map { "\"\($0)\":\(item[$0]?.canonicalText ?? "null")" }.joined(separator: ",")
                        outcome.causes.append(.init(reason: "FieldValueDuplicate", message: "Duplicate value: map[string]interface {}{\(shown)}", field: "\(path)[\(i)]"))
                    }
                }
            } else if schema["x-kubernetes-list-type"]?.stringValue == "set" {
                var seen: Set<String> = []
                for (i, item) in items.enumerated() where !seen.insert(item.canonicalText).inserted {
                    outcome.causes.append(.init(reason: "FieldValueDuplicate", message: "Duplicate value: \(APIError.Cause.render(item))", field: "\(path)[\(i)]"))
                }
            }
            result = .array(items)
        case .string(let s):
            if let max = schema["maxLength"]?.intValue, s.count > max {
                outcome.causes.append(.init(reason: "FieldValueTooLong", message: "Too long: may not be more than \(max) bytes", field: path))
            }
            if let min = schema["minLength"]?.intValue, s.count < min {
                outcome.causes.append(.invalidValue(path, value, "\(path) in body should be at least \(min) chars long"))
            }
            if let pattern = schema["pattern"]?.stringValue, !ECMAPattern.matches(pattern, s) {
                outcome.causes.append(.invalidValue(path, value, "\(path) in body should match '\(pattern)'"))
            }
        case .number(let n):
            if let max = schema["maximum"]?.numberValue {
                let exclusive = schema["exclusiveMaximum"]?.boolValue == true
                if exclusive ? n >= max : n > max {
                    outcome.causes.append(.invalidValue(path, value, "\(path) in body should be less than \(exclusive ? "" : "or equal to ")\(JSONValue.number(max).canonicalText)"))
                }
            }
            if let min = schema["minimum"]?.numberValue {
                let exclusive = schema["exclusiveMinimum"]?.boolValue == true
                if exclusive ? n <= min : n < min {
                    outcome.causes.append(.invalidValue(path, value, "\(path) in body should be greater than \(exclusive ? "" : "or equal to ")\(JSONValue.number(min).canonicalText)"))
                }
            }
        default: break
        }
        if let allowed = schema["enum"]?.arrayValue, !allowed.contains(result) {
            let list = allowed.map { APIError.Cause.render($0) }.joined(separator: ", ")
            outcome.causes.append(.init(reason: "FieldValueNotSupported", message: "Unsupported value: \(APIError.Cause.render(result)): supported values: \(list)", field: path))
        }
        for rule in schema["x-kubernetes-validations"]?.arrayValue ?? [] {
            evaluate(rule, on: result, old: old, path: path, outcome: &outcome)
        }
        return result
    }

    private func evaluate(_ rule: JSONValue, on value: JSONValue, old: JSONValue?, path: String, outcome: inout Outcome) {
        guard let source = rule["rule"]?.stringValue else { return }
        let parsed: CELRule
        do { parsed = try CELRule(source) } catch {
            outcome.unevaluatedRules.append("\(path): \(source)")
            return
        }
        if parsed.isTransitionRule && old == nil { return }
        var field = path + (rule["fieldPath"]?.stringValue ?? "")
        if path.isEmpty, field.hasPrefix(".") { field.removeFirst() }
        let message = rule["message"]?.stringValue ?? "failed rule: \(source)"
        do {
            if try parsed.evaluate(self: value, oldSelf: old) { return }
            switch rule["reason"]?.stringValue {
            case "FieldValueRequired": outcome.causes.append(.required(field, "Required value: \(message)"))
            case "FieldValueForbidden": outcome.causes.append(.init(reason: "FieldValueForbidden", message: "Forbidden: \(message)", field: field))
            case "FieldValueDuplicate": outcome.causes.append(.init(reason: "FieldValueDuplicate", message: "Duplicate value: \(message)", field: field))
            default: outcome.causes.append(.invalidValue(field, value.stringValue != nil ? value : typeName(value), message))
            }
        } catch {
            let detail = (error as? CELRule.EvalError)?.message ?? "\(error)"
            outcome.causes.append(.invalidValue(field, typeName(value), detail))
        }
    }

    private func typeMatches(_ value: JSONValue, _ type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("number", .number): return true
        case ("integer", .number): return value.intValue != nil
        default: return false
        }
    }

    /// How Kubernetes names a value's type in errors ("string", "integer", "object").
    private func typeName(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object: return .string("object")
        case .array: return .string("array")
        case .string: return .string("string")
        case .bool: return .string("boolean")
        case .number: return .string(value.intValue != nil ? "integer" : "number")
        case .null: return .string("null")
        }
    }
}
