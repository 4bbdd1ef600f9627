import Crypto
import Foundation
import KubeRBAC
import MirModel
import NIOCore
import NIOHTTP1

/// Routes Kubernetes REST requests to the cluster state: discovery, OpenAPI, and the verbs on every resource.
struct APIHandler: APIRequestHandler {
    let state: ClusterState
    /// The bearer token clients must send; nil accepts anyone (plain-HTTP test servers).
    let token: String?
    /// How often a watch that asked for bookmarks receives one.
    var bookmarkInterval: Duration = .seconds(30)
    /// Counts resource requests by verb and resource.
    var counter: RequestCounter?
    /// Further bearer tokens and the users they authenticate (`token` itself is `UserInfo.mirDevAdmin`).
    var users: [String: UserInfo] = [:]
    /// Container logs, for the `pods/log` subresource (nil: no logs are kept).
    var podLogs: PodLogStore?

    func handle(_ request: APIRequest) async -> APIResponse {
        do {
            return try await route(request)
        } catch let error as APIError {
            return Self.json(error.status, status: .init(statusCode: error.code))
        } catch {
            return Self.json(APIError.internalError("\(error)").status, status: .internalServerError)
        }
    }

    static func json(_ value: JSONValue, status: HTTPResponseStatus = .ok, warnings: [String] = [],
                     contentType: String = "application/json") -> APIResponse {
        var headers = jsonHeaders(contentType: contentType)
        for w in warnings { headers.add(name: "Warning", value: "299 - \"\(w.replacingOccurrences(of: "\"", with: "\\\""))\"") }
        return .full(status: status, headers: headers, body: value.jsonData)
    }

    private func route(_ request: APIRequest) async throws -> APIResponse {
        let path = request.path.count > 1 && request.path.hasSuffix("/") ? String(request.path.dropLast()) : request.path
        if ["/healthz", "/readyz", "/livez"].contains(path) {
            return .full(status: .ok, headers: ["Content-Type": "text/plain"], body: Data("ok".utf8))
        }
        let auth = request.headers.first(name: "Authorization") ?? ""
        var user = UserInfo.mirDevAdmin
        if auth.hasPrefix("Bearer "), let other = users[String(auth.dropFirst("Bearer ".count))] {
            user = other
        } else if let token, auth != "Bearer \(token)" {
            throw APIError.unauthorized
        }
        let segments = path.split(separator: "/").map(String.init)
        switch segments.first ?? "" {
        case "version":
            return Self.json(.object(["major": .string("1"), "minor": .string("32"), "gitVersion": .string("v1.32.0-mir-local"),
                                      "platform": .string("linux/amd64"), "goVersion": .string("swift")]))
        case "openapi":
            return try await openAPI(segments, request)
        case "api":
            if segments.count == 1 {
                return Self.json(.object(["kind": .string("APIVersions"), "versions": .array([.string("v1")]),
                                          "serverAddressByClientCIDRs": .array([.object(["clientCIDR": .string("0.0.0.0/0"), "serverAddress": .string("127.0.0.1")])])]))
            }
            return try await resourceRequest(request, group: "", version: segments[1], rest: Array(segments.dropFirst(2)), user: user)
        case "apis":
            if segments.count == 1 { return Self.json(await groupList()) }
            if segments.count == 2 {
                guard let group = await groupList()["groups"]?.arrayValue?.first(where: { $0["name"]?.stringValue == segments[1] }) else {
                    throw APIError.pathNotFound(path)
                }
                var g = group
                g.set(["kind"], .string("APIGroup"))
                g.set(["apiVersion"], .string("v1"))
                return Self.json(g)
            }
            return try await resourceRequest(request, group: segments[1], version: segments[2], rest: Array(segments.dropFirst(3)), user: user)
        default:
            throw APIError.pathNotFound(path)
        }
    }

    // MARK: Discovery

    private func groupList() async -> JSONValue {
        let registry = await state.registry
        var groups: [String: [String]] = [:]
        var order: [String] = []
        for gv in registry.groupVersions where !gv.group.isEmpty {
            if groups[gv.group] == nil { order.append(gv.group) }
            groups[gv.group, default: []].append(gv.version)
        }
        return .object(["kind": .string("APIGroupList"), "apiVersion": .string("v1"), "groups": .array(order.map { group in
            let versions = groups[group]!.map { JSONValue.object(["groupVersion": .string("\(group)/\($0)"), "version": .string($0)]) }
            return .object(["name": .string(group), "versions": .array(versions), "preferredVersion": versions[0]])
        })])
    }

    private static let verbs: JSONValue = .array(["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"].map { .string($0) })

    private func resourceList(group: String, version: String) async throws -> JSONValue {
        let registry = await state.registry
        let infos = registry.resources.filter { $0.group == group && $0.version == version }
        guard !infos.isEmpty else { throw APIError.pathNotFound("") }
        var resources: [JSONValue] = []
        for info in infos {
            var r: [String: JSONValue] = ["name": .string(info.plural), "singularName": .string(info.singular),
                                          "namespaced": .bool(info.namespaced), "kind": .string(info.kind),
                                          "verbs": info.verbs.map { .array($0.map { .string($0) }) } ?? Self.verbs]
            if !info.shortNames.isEmpty { r["shortNames"] = .array(info.shortNames.map { .string($0) }) }
            if !info.categories.isEmpty { r["categories"] = .array(info.categories.map { .string($0) }) }
            if !info.isCustom { r["storageVersionHash"] = .string(String(info.key.hashValue & 0xFFFFFF, radix: 16)) }
            resources.append(.object(r))
            if info.hasStatus {
                resources.append(.object(["name": .string("\(info.plural)/status"), "singularName": .string(""), "namespaced": .bool(info.namespaced),
                                          "kind": .string(info.kind), "verbs": .array(["get", "patch", "update"].map { .string($0) })]))
            }
        }
        return .object(["kind": .string("APIResourceList"), "apiVersion": .string("v1"),
                        "groupVersion": .string(group.isEmpty ? version : "\(group)/\(version)"), "resources": .array(resources)])
    }

    // MARK: OpenAPI (documents in OpenAPI.swift)

    private func openAPI(_ segments: [String], _ request: APIRequest) async throws -> APIResponse {
        let registry = await state.registry
        if segments.count == 2, segments[1] == "v2" {
            let document = BuiltinOpenAPI.v2Document(registry)
            // client-go's OpenAPISchema() accepts only the protobuf encoding; anything else gets JSON.
            if (request.headers.first(name: "Accept") ?? "").contains("protobuf") {
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: OpenAPIv2Protobuf.contentType)
                return .full(status: .ok, headers: headers, body: OpenAPIv2Protobuf.encode(document))
            }
            return Self.json(document)
        }
        guard segments.count >= 2, segments[1] == "v3" else { throw APIError.pathNotFound("/" + segments.joined(separator: "/")) }
        if segments.count == 2 {
            var paths: [String: JSONValue] = [:]
            for gv in registry.groupVersions {
                let key = gv.group.isEmpty ? "api/\(gv.version)" : "apis/\(gv.group)/\(gv.version)"
                let doc = BuiltinOpenAPI.v3Document(registry, group: gv.group, version: gv.version)
                let hash = SHA256.hash(data: doc.jsonData).map { String(format: "%02X", $0) }.joined()
                paths[key] = .object(["serverRelativeURL": .string("/openapi/v3/\(key)?hash=\(hash)")])
            }
            return Self.json(.object(["paths": .object(paths)]))
        }
        let rest = Array(segments.dropFirst(2))
        let group: String, version: String
        if rest.count == 2, rest[0] == "api" { group = ""; version = rest[1] }
        else if rest.count == 3, rest[0] == "apis" { group = rest[1]; version = rest[2] }
        else { throw APIError.pathNotFound("") }
        guard registry.resources.contains(where: { $0.group == group && $0.version == version }) else { throw APIError.pathNotFound("") }
        return Self.json(BuiltinOpenAPI.v3Document(registry, group: group, version: version))
    }

    // MARK: Resources

    private struct Target {
        var info: ResourceInfo
        var namespace: String?
        var name: String?
        var subresource: String?
    }

    private func resourceRequest(_ request: APIRequest, group: String, version: String, rest: [String], user: UserInfo) async throws -> APIResponse {
        if rest.isEmpty {
            guard request.method == .GET else { throw APIError.methodNotAllowed() }
            return Self.json(try await resourceList(group: group, version: version))
        }
        let registry = await state.registry
        var namespace: String?
        var parts = rest
        if parts[0] == "namespaces", parts.count >= 3, let candidate = registry.find(group: group, version: version, plural: parts[2]),
           candidate.namespaced {
            namespace = parts[1]
            parts = Array(parts.dropFirst(2))
        }
        guard let info = registry.find(group: group, version: version, plural: parts[0]) else {
            throw APIError.pathNotFound(request.path)
        }
        if namespace != nil && !info.namespaced { throw APIError.pathNotFound(request.path) }
        let target = Target(info: info, namespace: namespace, name: parts.count > 1 ? parts[1] : nil, subresource: parts.count > 2 ? parts[2] : nil)
        if target.subresource == "log", parts.count == 3, info.key == BuiltinResources.pods.key, let podLogs, let name = target.name {
            return try await PodLogRequest.response(request, state: state, logs: podLogs, namespace: namespace ?? "default", name: name)
        }
        if let sub = target.subresource, sub != "status" || !info.hasStatus || parts.count > 3 { throw APIError.pathNotFound(request.path) }
        if let dryRun = request.query["dryRun"], !dryRun.isEmpty, dryRun != "All" {
            throw APIError.badRequest("dryRun: Unsupported value: \"\(dryRun)\": supported values: \"All\"")
        }
        counter?.record(RecordedRequest(verb: Self.verb(request, target), apiGroup: info.group, resource: info.plural,
                                        subresource: target.subresource, namespace: namespace,
                                        name: request.method == .POST ? nil : target.name,
                                        userAgent: request.headers.first(name: "User-Agent") ?? ""))
        if AccessReview.kinds.contains(info.key) {
            guard request.method == .POST, target.name == nil else { throw APIError.methodNotAllowed() }
            return Self.json(try AccessReview.answer(info, try decodeBody(request), user: user, policy: try await state.rbacPolicy()),
                             status: .created)
        }
        let options = WriteOptions(dryRun: request.query["dryRun"] == "All",
                                   fieldValidation: request.query["fieldValidation"].flatMap { $0.isEmpty ? nil : $0 } ?? "Warn",
                                   fieldManager: request.query["fieldManager"], force: request.query["force"] == "true")
        switch (request.method, target.name) {
        case (.GET, nil):
            let watch = request.query["watch"]
            if watch == "true" || watch == "1" { return try await watchResponse(request, target) }
            return try await listResponse(request, target)
        case (.GET, let name?):
            let object = try await state.get(info, namespace: namespace, name: name)
            return render(request, info, object)
        case (.POST, nil):
            let body = try decodeBody(request)
            let result = try await state.create(info, namespace: namespace, body: body, options: options)
            return Self.json(result.object, status: .created, warnings: result.warnings)
        case (.PUT, let name?):
            let body = try decodeBody(request)
            let result = try await state.update(info, namespace: namespace, name: name, body: body, subresource: target.subresource, options: options)
            return Self.json(result.object, warnings: result.warnings)
        case (.PATCH, let name?):
            return try await patchResponse(request, target, name: name, options: options)
        case (.DELETE, let name?):
            let deleteRequest = try deleteOptions(request)
            let (object, removed) = try await state.delete(info, namespace: namespace, name: name, request: deleteRequest)
            if removed && info.key != BuiltinResources.pods.key {
                return Self.json(.object(["kind": .string("Status"), "apiVersion": .string("v1"), "metadata": .object([:]),
                                          "status": .string("Success"),
                                          "details": .object(["name": .string(name), "group": .string(info.group), "kind": .string(info.plural),
                                                              "uid": object["metadata"]?["uid"] ?? .null])]))
            }
            return Self.json(object)
        case (.DELETE, nil):
            let deleteRequest = try deleteOptions(request)
            let labels = try LabelSelector(request.query["labelSelector"])
            let fields = try FieldSelector(request.query["fieldSelector"], resource: info)
            let (items, _) = try await state.list(info, namespace: namespace)
            var deleted: [JSONValue] = []
            for object in items.map(\.object) where labels.matches(object) && fields.matches(object) {
                guard let name = object["metadata"]?["name"]?.stringValue else { continue }
                if let result = try? await state.delete(info, namespace: object["metadata"]?["namespace"]?.stringValue, name: name, request: deleteRequest) {
                    deleted.append(result.object)
                }
            }
            return Self.json(.object(["kind": .string(info.listKind), "apiVersion": .string(info.apiVersion),
                                      "metadata": .object(["resourceVersion": .string(String(await state.currentResourceVersion))]),
                                      "items": .array(deleted)]))
        default:
            throw APIError.methodNotAllowed()
        }
    }

    /// The Kubernetes verb of a resource request (as RBAC and audit logs name it).
    private static func verb(_ request: APIRequest, _ target: Target) -> String {
        switch (request.method, target.name) {
        case (.GET, nil): return request.query["watch"] == "true" || request.query["watch"] == "1" ? "watch" : "list"
        case (.GET, _): return "get"
        case (.POST, _): return "create"
        case (.PUT, _): return "update"
        case (.PATCH, _): return "patch"
        case (.DELETE, nil): return "deletecollection"
        case (.DELETE, _): return "delete"
        default: return request.method.rawValue.lowercased()
        }
    }

    private func decodeBody(_ request: APIRequest) throws -> JSONValue {
        let contentType = request.headers.first(name: "Content-Type") ?? "application/json"
        if contentType.contains("yaml") {
            guard let text = String(data: request.body, encoding: .utf8) else { throw APIError.badRequest("the body is not UTF-8") }
            do { return try JSONValue.yaml(text) } catch { throw APIError.badRequest("error converting YAML to JSON: \(error)") }
        }
        if contentType.contains("protobuf") { return try ProtobufRequestBody.decode(request.body) }
        if contentType.contains("cbor") {
            throw APIError(code: 415, reason: "UnsupportedMediaType",
                           message: "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf")
        }
        do { return try JSONValue.decode(request.body) } catch {
            throw APIError.badRequest("the object provided is unrecognized: \(error)")
        }
    }

    private func deleteOptions(_ request: APIRequest) throws -> DeleteRequest {
        var options = DeleteRequest()
        options.propagationPolicy = request.query["propagationPolicy"]
        if request.query["orphanDependents"] == "true" { options.propagationPolicy = "Orphan" }
        options.dryRun = request.query["dryRun"] == "All"
        if !request.body.isEmpty, let body = try? JSONValue.decode(request.body) {
            if let p = body["propagationPolicy"]?.stringValue { options.propagationPolicy = p }
            if body["orphanDependents"]?.boolValue == true { options.propagationPolicy = "Orphan" }
            options.preconditionUID = body["preconditions"]?["uid"]?.stringValue
            options.preconditionResourceVersion = body["preconditions"]?["resourceVersion"]?.stringValue
            if body["dryRun"]?.arrayValue?.contains(.string("All")) == true { options.dryRun = true }
        }
        if let p = options.propagationPolicy, !["Background", "Foreground", "Orphan"].contains(p) {
            throw APIError.invalid(BuiltinResources.namespaces, "", [.init(reason: "FieldValueNotSupported",
                message: "Unsupported value: \"\(p)\": supported values: \"Foreground\", \"Background\", \"Orphan\"", field: "propagationPolicy")])
        }
        return options
    }

    private func patchResponse(_ request: APIRequest, _ target: Target, name: String, options: WriteOptions) async throws -> APIResponse {
        let contentType = (request.headers.first(name: "Content-Type") ?? "").split(separator: ";").first.map {
            String($0).trimmingCharacters(in: .whitespaces)
        } ?? ""
        let type: ClusterState.PatchType
        switch contentType {
        case "application/json-patch+json": type = .json
        case "application/merge-patch+json": type = .merge
        case "application/strategic-merge-patch+json" where !target.info.isCustom: type = .strategic
        case "application/apply-patch+yaml", "application/apply-patch+json": type = .apply
        default:
            let accepted = target.info.isCustom
                ? "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                : "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"
            throw APIError(code: 415, reason: "UnsupportedMediaType",
                           message: "the body of the request was in an unknown format - accepted media types include: \(accepted)")
        }
        if type == .apply && (options.fieldManager ?? "").isEmpty {
            throw APIError(code: 422, reason: "Invalid", message: "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                           group: "meta.k8s.io", kind: "PatchOptions",
                           causes: [.required("fieldManager", "Required value: is required for apply patch")])
        }
        if options.force && type != .apply {
            throw APIError(code: 422, reason: "Invalid", message: "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch",
                           group: "meta.k8s.io", kind: "PatchOptions")
        }
        let patch: JSONValue
        if type == .apply {
            guard let text = String(data: request.body, encoding: .utf8) else { throw APIError.badRequest("the body is not UTF-8") }
            do { patch = try JSONValue.yaml(text) } catch { throw APIError.badRequest("error decoding YAML: \(error)") }
        } else {
            do { patch = try JSONValue.decode(request.body) } catch { throw APIError.badRequest("error decoding patch: \(error)") }
        }
        let result = try await state.patch(target.info, namespace: target.namespace, name: name, type: type, patch: patch,
                                           subresource: target.subresource, options: options)
        return Self.json(result.object, status: result.created ? .created : .ok, warnings: result.warnings)
    }

    // MARK: Get, list, tables

    private func wantsTable(_ request: APIRequest) -> Bool {
        (request.headers.first(name: "Accept") ?? "").split(separator: ",").first.map { $0.contains("as=Table") } ?? false
    }

    private func render(_ request: APIRequest, _ info: ResourceInfo, _ object: JSONValue) -> APIResponse {
        if wantsTable(request) {
            let rv = object["metadata"]?["resourceVersion"]?.stringValue ?? ""
            return Self.json(TableConverter.table(info, objects: [object], resourceVersion: rv, continueToken: nil,
                                                  includeObject: request.query["includeObject"] ?? "Metadata"))
        }
        return Self.json(object)
    }

    private struct ContinueToken {
        var resourceVersion: Int
        var start: String

        var encoded: String {
            let json = JSONValue.object(["rv": .number(Double(resourceVersion)), "start": .string(start)]).canonicalText
            return Data(json.utf8).base64EncodedString()
        }

        init(resourceVersion: Int, start: String) {
            self.resourceVersion = resourceVersion
            self.start = start
        }

        init(_ text: String) throws {
            guard let data = Data(base64Encoded: text), let json = try? JSONValue.decode(data),
                  let rv = json["rv"]?.intValue, let start = json["start"]?.stringValue else {
                throw APIError.badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
            }
            self.resourceVersion = rv
            self.start = start
        }
    }

    private func listResponse(_ request: APIRequest, _ target: Target) async throws -> APIResponse {
        let info = target.info
        let labels = try LabelSelector(request.query["labelSelector"])
        let fields = try FieldSelector(request.query["fieldSelector"], resource: info)
        if request.query["sendInitialEvents"] != nil {
            throw APIError.invalid(info, "", [.init(reason: "FieldValueForbidden", message: "Forbidden: sendInitialEvents is forbidden for list", field: "sendInitialEvents")])
        }
        try Self.checkListResourceVersion(request.query, current: await state.currentResourceVersion)
        // A continue token lists at its revision; resourceVersionMatch=Exact, or a resourceVersion with a limit, lists at
        // exactly that revision (reference §A4); anything else lists the current objects. Compacted revisions get 410.
        var exactRV: Int?
        var start: String?
        if let cont = request.query["continue"], !cont.isEmpty {
            let token = try ContinueToken(cont)
            if await state.isCompacted(token.resourceVersion) {
                throw APIError.expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue value from the 410 response.")
            }
            exactRV = token.resourceVersion
            start = token.start
        } else if let rv = request.query["resourceVersion"].flatMap(Int.init), rv > 0,
                  request.query["resourceVersionMatch"] == "Exact"
                    || (request.query["resourceVersionMatch"] ?? "").isEmpty && (request.query["limit"].flatMap(Int.init) ?? 0) > 0 {
            exactRV = rv
        }
        let limit = request.query["limit"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil }
        // The state applies the label selector (from its index when it can); objects are decoded only to be matched,
        // otherwise their stored JSON is sent as it is.
        let (items, listRV, remaining) = try await state.list(info, namespace: target.namespace, at: exactRV, after: start, labels: labels,
                                                              limit: limit, matching: fields.selectsEverything ? nil : { fields.matches($0) })
        var matching = items
        var continueToken: String?
        if let limit, matching.count > limit {
            // `remaining` is known for a list at the current revision without selectors (as Kubernetes, which leaves
            // it unset when selectors are used; the field is optional).
            matching = Array(matching.prefix(limit))
            continueToken = ContinueToken(resourceVersion: listRV, start: matching.last!.key).encoded
        }
        if wantsTable(request) {
            return Self.json(TableConverter.table(info, objects: matching.map(\.object), resourceVersion: String(listRV), continueToken: continueToken,
                                                  includeObject: request.query["includeObject"] ?? "Metadata"))
        }
        var metadata: [String: JSONValue] = ["resourceVersion": .string(String(listRV))]
        if let continueToken { metadata["continue"] = .string(continueToken) }
        if let remaining { metadata["remainingItemCount"] = .number(Double(remaining)) }
        return .full(status: .ok, headers: Self.jsonHeaders(),
                     body: Self.listBody(kind: info.listKind, apiVersion: info.apiVersion, metadata: .object(metadata), items: matching.map(\.stored.json)))
    }

    /// A list's JSON with its items spliced in as stored (canonical JSON, keys in the order `canonicalText` gives):
    /// the same bytes as encoding the list as a `JSONValue`, without decoding or re-encoding any item.
    static func listBody(kind: String, apiVersion: String, metadata: JSONValue, items: [Data]) -> Data {
        var body = Data()
        body.reserveCapacity(items.reduce(128) { $0 + $1.count + 1 })
        body.append(contentsOf: #"{"apiVersion":"#.utf8)
        body.append(contentsOf: JSONValue.string(apiVersion).canonicalText.utf8)
        body.append(contentsOf: #","items":["#.utf8)
        for (index, item) in items.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body.append(item)
        }
        body.append(contentsOf: #"],"kind":"#.utf8)
        body.append(contentsOf: JSONValue.string(kind).canonicalText.utf8)
        body.append(contentsOf: #","metadata":"#.utf8)
        body.append(contentsOf: metadata.canonicalText.utf8)
        body.append(UInt8(ascii: "}"))
        return body
    }

    /// One line of a watch stream with the object spliced in as stored.
    static func watchLine(type: String, objectJSON: Data) -> Data {
        var line = Data(#"{"object":"#.utf8)
        line.append(objectJSON)
        line.append(contentsOf: #","type":"#.utf8)
        line.append(contentsOf: JSONValue.string(type).canonicalText.utf8)
        line.append(contentsOf: "}\n".utf8)
        return line
    }

    static func jsonHeaders(contentType: String = "application/json") -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Cache-Control", value: "no-cache, private")
        return headers
    }

    /// `resourceVersion` / `resourceVersionMatch` rules for list (reference §A4).
    static func checkListResourceVersion(_ query: [String: String], current: Int) throws {
        let rv = query["resourceVersion"] ?? ""
        let match = query["resourceVersionMatch"] ?? ""
        let hasContinue = !(query["continue"] ?? "").isEmpty
        if !match.isEmpty {
            guard ["NotOlderThan", "Exact"].contains(match) else {
                throw APIError.badRequest("resourceVersionMatch: Unsupported value: \"\(match)\": supported values: \"Exact\", \"NotOlderThan\"")
            }
            if rv.isEmpty { throw APIError.badRequest("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided") }
            if hasContinue { throw APIError.badRequest("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided") }
            if match == "Exact" && rv == "0" {
                throw APIError.badRequest("resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"")
            }
        }
        if !rv.isEmpty && rv != "0" {
            guard let n = Int(rv) else { throw APIError.badRequest("invalid resource version: \(rv)") }
            if hasContinue { throw APIError.badRequest("specifying resource version is not allowed when using continue") }
            if n > current {
                throw APIError(code: 504, reason: "Timeout", message: "Too large resource version: \(n), current: \(current)",
                               causes: [.init(reason: "ResourceVersionTooLarge", message: "Too large resource version", field: "")])
            }
        }
    }

    // MARK: Watch

    private func watchResponse(_ request: APIRequest, _ target: Target) async throws -> APIResponse {
        let info = target.info
        let labels = try LabelSelector(request.query["labelSelector"])
        let fields = try FieldSelector(request.query["fieldSelector"], resource: info)
        if request.query["sendInitialEvents"] == "true" {
            throw APIError.badRequest("sendInitialEvents is not supported by mir's local control plane")
        }
        let rvText = request.query["resourceVersion"] ?? ""
        let from: Int?
        if rvText.isEmpty || rvText == "0" { from = nil } else {
            guard let n = Int(rvText) else { throw APIError.badRequest("invalid resource version: \(rvText)") }
            from = n
        }
        let table = wantsTable(request)
        let includeObject = request.query["includeObject"] ?? "Metadata"
        let bookmarks = request.query["allowWatchBookmarks"] == "true"
        let timeout = request.query["timeoutSeconds"].flatMap(Int.init)
        let namespace = target.namespace
        let state = self.state
        let bookmarkInterval = self.bookmarkInterval
        let selects = namespace != nil || !labels.selectsEverything || !fields.selectsEverything
        let matches: @Sendable (JSONValue?) -> Bool = { object in
            guard let object else { return false }
            if let namespace, object["metadata"]?["namespace"]?.stringValue != namespace { return false }
            return labels.matches(object) && fields.matches(object)
        }
        let encode: @Sendable (String, JSONValue) -> Data = { type, object in
            let payload = table && type != "BOOKMARK" && type != "ERROR"
                ? TableConverter.table(info, objects: [object], resourceVersion: object["metadata"]?["resourceVersion"]?.stringValue ?? "",
                                       continueToken: nil, includeObject: includeObject)
                : object
            return Data((JSONValue.object(["type": .string(type), "object": payload]).canonicalText + "\n").utf8)
        }
        /// A plain watch sends stored objects as they are; a Table watch converts each object.
        let encodeStored: @Sendable (String, JSONValue, Data) -> Data = { type, object, json in
            table ? encode(type, object) : Self.watchLine(type: type, objectJSON: json)
        }
        let registration: (id: UUID, stream: AsyncStream<WatchSignal>, initial: [ListedObject])
        do {
            registration = try await state.watch(info, fromResourceVersion: from)
        } catch let error as APIError where error.code == 410 {
            return .stream(status: .ok, headers: ["Content-Type": "application/json"]) { writer in
                try? await writer.write(encode("ERROR", error.status))
            }
        }
        return .stream(status: .ok, headers: ["Content-Type": "application/json"]) { writer in
            let id = registration.id
            var lastRV = from ?? 0
            let timers = Task {
                await withTaskGroup(of: Void.self) { group in
                    if let timeout {
                        group.addTask {
                            try? await Task.sleep(for: .seconds(timeout))
                            if !Task.isCancelled { await state.signal(id, .end) }
                        }
                    }
                    if bookmarks {
                        group.addTask {
                            while !Task.isCancelled {
                                try? await Task.sleep(for: bookmarkInterval)
                                if !Task.isCancelled { await state.signal(id, .bookmark) }
                            }
                        }
                    }
                }
            }
            defer { timers.cancel() }
            do {
                for listed in registration.initial {
                    let object = listed.object
                    guard matches(object) else { continue }
                    lastRV = max(lastRV, Int(object["metadata"]?["resourceVersion"]?.stringValue ?? "") ?? 0)
                    try await writer.write(encodeStored("ADDED", object, listed.stored.json))
                }
                if from == nil { lastRV = max(lastRV, await state.currentResourceVersion) }
                loop: for await signal in registration.stream {
                    switch signal {
                    case .end: break loop
                    case .bookmark:
                        let bookmark = JSONValue.object(["kind": .string(info.kind), "apiVersion": .string(info.apiVersion),
                                                         "metadata": .object(["resourceVersion": .string(String(lastRV))])])
                        try await writer.write(encode("BOOKMARK", bookmark))
                    case .event(let event):
                        lastRV = event.resourceVersion
                        guard selects || table else {
                            // Nothing to match or convert: the stored bytes go out as they are, never decoded.
                            try await writer.write(Self.watchLine(type: event.type, objectJSON: event.json))
                            continue loop
                        }
                        let object = event.object
                        let now = matches(object)
                        let before = event.type == "MODIFIED" ? matches(event.previous) : now
                        var type = event.type
                        switch (event.type, before, now) {
                        case ("MODIFIED", false, true): type = "ADDED"
                        case ("MODIFIED", true, false): type = "DELETED"
                        case (_, false, false), ("ADDED", _, false), ("DELETED", _, false): continue loop
                        default: break
                        }
                        try await writer.write(encodeStored(type, object, event.json))
                    }
                }
            } catch {
                // The client went away.
            }
            await state.stopWatch(id)
        }
    }
}
