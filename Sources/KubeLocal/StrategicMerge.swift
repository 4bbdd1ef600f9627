import Foundation
import MirModel

/// Strategic merge patch (`application/strategic-merge-patch+json`) for the built-in kinds, driven by the official
/// schemas' patch metadata (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`): lists marked `merge`
/// with a key (containers and env by name, ports by containerPort, …) merge element by element, `merge` lists of
/// scalars take the union, every other list is replaced; `null` deletes a field; directives `$patch: replace|delete`
/// (on maps and list elements), `$retainKeys` and `$deleteFromPrimitiveList/<field>` are applied;
/// `$setElementOrder/<field>` is accepted and the stored order kept.
enum StrategicMerge {
    static func patch(_ target: JSONValue, _ patch: JSONValue, info: ResourceInfo) -> JSONValue {
        let schema = BuiltinOpenAPI.namesByGVK["\(info.group)/\(info.version)/\(info.kind)"].flatMap { BuiltinOpenAPI.schemas[$0] }
        return merge(target, patch, schema: schema)
    }

    /// A schema with its `$ref` (or single-`allOf` reference) followed.
    static func resolve(_ schema: JSONValue?) -> JSONValue? {
        var current = schema
        for _ in 0..<8 {
            guard let s = current else { return nil }
            let reference = s["$ref"]?.stringValue ?? s["allOf"]?.arrayValue?.first?["$ref"]?.stringValue
            guard let reference, let name = reference.split(separator: "/").last else { return s }
            current = BuiltinOpenAPI.schemas[String(name)]
        }
        return current
    }

    static func merge(_ target: JSONValue?, _ patch: JSONValue, schema: JSONValue?) -> JSONValue {
        guard case .object(let p) = patch else { return patch }
        if p["$patch"]?.stringValue == "replace" { return stripDirectives(patch) }
        var result = target?.objectValue ?? [:]
        let schema = resolve(schema)
        for (key, value) in p where !key.hasPrefix("$") {
            let property = schema?["properties"]?[key] ?? schema?["additionalProperties"]
            if value == .null || value["$patch"]?.stringValue == "delete" {
                result[key] = nil
                continue
            }
            switch value {
            case .array(let elements):
                let strategy = property?["x-kubernetes-patch-strategy"]?.stringValue ?? ""
                guard strategy.split(separator: ",").contains("merge") else {
                    result[key] = stripDirectives(value)
                    continue
                }
                let existing = result[key]?.arrayValue ?? []
                if let mergeKey = property?["x-kubernetes-patch-merge-key"]?.stringValue {
                    result[key] = .array(mergeList(existing, elements, key: mergeKey, itemSchema: property?["items"]))
                } else {
                    result[key] = .array(existing + elements.filter { !existing.contains($0) })
                }
            case .object:
                result[key] = merge(result[key].flatMap { $0.objectValue == nil ? nil : $0 }, value, schema: property)
            default:
                result[key] = value
            }
        }
        for (key, value) in p where key.hasPrefix("$deleteFromPrimitiveList/") {
            let field = String(key.dropFirst("$deleteFromPrimitiveList/".count))
            let remove = value.arrayValue ?? []
            if let list = result[field]?.arrayValue { result[field] = .array(list.filter { !remove.contains($0) }) }
        }
        if let retain = p["$retainKeys"]?.arrayValue?.compactMap(\.stringValue) {
            for key in Array(result.keys) where !retain.contains(key) { result[key] = nil }
        }
        return .object(result)
    }

    private static func mergeList(_ existing: [JSONValue], _ patch: [JSONValue], key: String, itemSchema: JSONValue?) -> [JSONValue] {
        if patch.contains(where: { $0["$patch"]?.stringValue == "replace" }) {
            return patch.filter { $0["$patch"] == nil }.map(stripDirectives)
        }
        var out = existing
        for element in patch {
            guard case .object = element, let id = element[key] else {
                if !out.contains(element) { out.append(element) }
                continue
            }
            let index = out.firstIndex { $0[key] == id }
            if element["$patch"]?.stringValue == "delete" {
                out.removeAll { $0[key] == id }
            } else if let index {
                out[index] = merge(out[index], element, schema: itemSchema)
            } else {
                out.append(merge(nil, element, schema: itemSchema))
            }
        }
        return out
    }

    private static func stripDirectives(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let o):
            var out: [String: JSONValue] = [:]
            for (k, v) in o where !k.hasPrefix("$") { out[k] = stripDirectives(v) }
            return .object(out)
        case .array(let a): return .array(a.map(stripDirectives))
        default: return value
        }
    }
}
