import Foundation
import MirModel

/// A `metav1.Status` failure with kubectl-exact messages.
struct APIError: Error, Sendable {
    struct Cause: Sendable {
        var reason: String
        var message: String
        var field: String
    }

    var code: Int
    var reason: String
    var message: String
    var name: String? = nil
    var group: String? = nil
    var kind: String? = nil
    var causes: [Cause] = []

    var status: JSONValue {
        var details: [String: JSONValue] = [:]
        if let name { details["name"] = .string(name) }
        if let group { details["group"] = .string(group) }
        if let kind { details["kind"] = .string(kind) }
        if !causes.isEmpty {
            details["causes"] = .array(causes.map {
                .object(["reason": .string($0.reason), "message": .string($0.message), "field": .string($0.field)])
            })
        }
        var status: [String: JSONValue] = [
            "kind": .string("Status"), "apiVersion": .string("v1"), "metadata": .object([:]), "status": .string("Failure"),
            "message": .string(message), "reason": .string(reason), "code": .number(Double(code)),
        ]
        if !details.isEmpty { status["details"] = .object(details) }
        return .object(status)
    }

    static func notFound(_ info: ResourceInfo, _ name: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "\(info.qualifiedName) \"\(name)\" not found", name: name,
                 group: info.group, kind: info.plural)
    }

    static func namespaceNotFound(_ namespace: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "namespaces \"\(namespace)\" not found", name: namespace, group: "", kind: "namespaces")
    }

    static func alreadyExists(_ info: ResourceInfo, _ name: String) -> APIError {
        APIError(code: 409, reason: "AlreadyExists", message: "\(info.qualifiedName) \"\(name)\" already exists", name: name,
                 group: info.group, kind: info.plural)
    }

    static func conflict(_ info: ResourceInfo, _ name: String) -> APIError {
        APIError(code: 409, reason: "Conflict",
                 message: "Operation cannot be fulfilled on \(info.qualifiedName) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again",
                 name: name, group: info.group, kind: info.plural)
    }

    /// 422 Invalid: `<Kind>.<group> "<name>" is invalid: <field>: <detail>` with one cause per field.
    static func invalid(_ info: ResourceInfo, _ name: String, _ causes: [Cause]) -> APIError {
        let kindName = info.group.isEmpty ? info.kind : "\(info.kind).\(info.group)"
        let details = causes.map { $0.field.isEmpty ? $0.message : "\($0.field): \($0.message)" }
        let joined = details.count == 1 ? details[0] : "[" + details.joined(separator: ", ") + "]"
        return APIError(code: 422, reason: "Invalid", message: "\(kindName) \"\(name)\" is invalid: \(joined)", name: name,
                        group: info.group, kind: info.kind, causes: causes)
    }

    static func badRequest(_ message: String) -> APIError { APIError(code: 400, reason: "BadRequest", message: message) }

    static func methodNotAllowed(_ message: String = "the server does not allow this method on the requested resource") -> APIError {
        APIError(code: 405, reason: "MethodNotAllowed", message: message)
    }

    static func expired(_ message: String) -> APIError { APIError(code: 410, reason: "Expired", message: message) }

    static let unauthorized = APIError(code: 401, reason: "Unauthorized", message: "Unauthorized")

    static func pathNotFound(_ path: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource")
    }

    static func internalError(_ message: String) -> APIError {
        APIError(code: 500, reason: "InternalError", message: "Internal error occurred: \(message)")
    }
}

extension APIError.Cause {
    static func required(_ field: String, _ detail: String = "Required value") -> Self {
        .init(reason: "FieldValueRequired", message: detail, field: field)
    }

    static func invalidValue(_ field: String, _ value: JSONValue, _ detail: String) -> Self {
        .init(reason: "FieldValueInvalid", message: "Invalid value: \(APIError.Cause.render(value)): \(detail)", field: field)
    }

    /// How Kubernetes field errors print a value: strings quoted, others as JSON.
    static func render(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return "\"\(s)\""
        case .object: return "\"object\""
        case .array: return "\"array\""
        default: return value.canonicalText
        }
    }
}

