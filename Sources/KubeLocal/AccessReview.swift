import Foundation
import KubeRBAC
import MirModel

extension UserInfo {
    /// The identity of mir dev's own token: a cluster administrator through the `system:masters` group, bound to the
    /// `cluster-admin` ClusterRole as on a kubeadm cluster (the user of its admin.conf).
    public static let mirDevAdmin = UserInfo(name: "mir-dev-admin", groups: ["system:masters", "system:authenticated"])
}

/// Authorization answers of the local control plane: SelfSubjectAccessReview (what `kubectl auth can-i` creates),
/// decided by Kubernetes RBAC (the KubeRBAC module) over the Roles, ClusterRoles and bindings stored in the cluster.
/// mir dev answers these reviews; it does not authorize the requests it serves (every authenticated token may do anything).
enum AccessReview {
    /// The RBAC objects a fresh cluster has that the reviews rely on: `cluster-admin`, bound to `system:masters`.
    static let bootstrapObjects: [(ResourceInfo, JSONValue)] = [
        (BuiltinResources.clusterRoles, .object([
            "apiVersion": .string("rbac.authorization.k8s.io/v1"), "kind": .string("ClusterRole"),
            "metadata": .object(["name": .string("cluster-admin"),
                                 "labels": .object(["kubernetes.io/bootstrapping": .string("rbac-defaults")])]),
            "rules": .array([
                .object(["apiGroups": .array([.string("*")]), "resources": .array([.string("*")]), "verbs": .array([.string("*")])]),
                .object(["nonResourceURLs": .array([.string("*")]), "verbs": .array([.string("*")])]),
            ]),
        ])),
        (BuiltinResources.clusterRoleBindings, .object([
            "apiVersion": .string("rbac.authorization.k8s.io/v1"), "kind": .string("ClusterRoleBinding"),
            "metadata": .object(["name": .string("cluster-admin"),
                                 "labels": .object(["kubernetes.io/bootstrapping": .string("rbac-defaults")])]),
            "roleRef": .object(["apiGroup": .string("rbac.authorization.k8s.io"), "kind": .string("ClusterRole"), "name": .string("cluster-admin")]),
            "subjects": .array([.object(["apiGroup": .string("rbac.authorization.k8s.io"), "kind": .string("Group"), "name": .string("system:masters")])]),
        ])),
    ]

    /// The reviews answered (never stored).
    static let kinds: Set<String> = [BuiltinResources.selfSubjectAccessReviews.key, BuiltinResources.selfSubjectRulesReviews.key]

    static func answer(_ info: ResourceInfo, _ body: JSONValue, user: UserInfo, policy: RBACPolicy) throws -> JSONValue {
        info.key == BuiltinResources.selfSubjectRulesReviews.key ? try rules(body, user: user, policy: policy)
                                                                  : try review(body, user: user, policy: policy)
    }

    /// Answers a SelfSubjectRulesReview (`kubectl auth can-i --list`): every rule bound to `user` in `spec.namespace`
    /// (ClusterRoleBindings and that namespace's RoleBindings), resource rules and non-resource rules apart.
    static func rules(_ body: JSONValue, user: UserInfo, policy: RBACPolicy) throws -> JSONValue {
        let info = BuiltinResources.selfSubjectRulesReviews
        guard let namespace = body["spec"]?["namespace"]?.stringValue, !namespace.isEmpty else {
            throw APIError.invalid(info, "", [.required("spec.namespace", "Required value: no namespace on request")])
        }
        func strings(_ list: [String]?) -> JSONValue { .array((list ?? []).map { .string($0) }) }
        var resourceRules: [JSONValue] = [], nonResourceRules: [JSONValue] = []
        for (_, _, rule) in policy.rules(for: user, namespace: namespace) {
            if let urls = rule.nonResourceURLs, !urls.isEmpty {
                nonResourceRules.append(.object(["verbs": strings(rule.verbs), "nonResourceURLs": strings(urls)]))
            }
            if let resources = rule.resources, !resources.isEmpty {
                var r: [String: JSONValue] = ["verbs": strings(rule.verbs), "apiGroups": strings(rule.apiGroups), "resources": strings(resources)]
                if let names = rule.resourceNames, !names.isEmpty { r["resourceNames"] = strings(names) }
                resourceRules.append(.object(r))
            }
        }
        var answer = body
        answer.set(["apiVersion"], .string(info.apiVersion))
        answer.set(["kind"], .string(info.kind))
        if answer["metadata"] == nil { answer.set(["metadata"], .object([:])) }
        answer.set(["status"], .object(["resourceRules": .array(resourceRules), "nonResourceRules": .array(nonResourceRules),
                                        "incomplete": .bool(false)]))
        return answer
    }

    /// Answers a SelfSubjectAccessReview for `user`: the review with `status` filled in.
    static func review(_ body: JSONValue, user: UserInfo, policy: RBACPolicy) throws -> JSONValue {
        let info = BuiltinResources.selfSubjectAccessReviews
        guard body["kind"]?.stringValue ?? info.kind == info.kind else {
            throw APIError.badRequest("expected a SelfSubjectAccessReview, got \(body["kind"]?.stringValue ?? "")")
        }
        let spec = body["spec"] ?? .object([:])
        let decision: (allowed: Bool, reason: String)
        if let attributes = spec["resourceAttributes"] {
            guard let verb = attributes["verb"]?.stringValue, !verb.isEmpty else {
                throw APIError.invalid(info, "", [.required("spec.resourceAttributes.verb", "Required value")])
            }
            let request = ResourceRequest(
                verb: verb, apiGroup: attributes["group"]?.stringValue ?? "", resource: attributes["resource"]?.stringValue ?? "",
                subresource: attributes["subresource"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
                namespace: attributes["namespace"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
                name: attributes["name"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 })
            let granting = policy.rules(for: user, namespace: request.namespace).first { $0.rule.allows(request) }
            decision = (granting != nil, granting.map { reason($0.binding, $0.role, user) } ?? "")
        } else if let attributes = spec["nonResourceAttributes"] {
            let path = attributes["path"]?.stringValue ?? "", verb = attributes["verb"]?.stringValue ?? ""
            let granting = policy.rules(for: user, namespace: nil).first { $0.rule.allows(nonResourcePath: path, verb: verb) }
            decision = (granting != nil, granting.map { reason($0.binding, $0.role, user) } ?? "")
        } else {
            throw APIError.invalid(info, "", [.required("spec.resourceAttributes", "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified")])
        }
        var answer = body
        answer.set(["apiVersion"], .string(info.apiVersion))
        answer.set(["kind"], .string(info.kind))
        if answer["metadata"] == nil { answer.set(["metadata"], .object([:])) }
        var status: [String: JSONValue] = ["allowed": .bool(decision.allowed)]
        if !decision.reason.isEmpty { status["reason"] = .string(decision.reason) }
        answer.set(["status"], .object(status))
        return answer
    }

    /// A review sent in Kubernetes' protobuf encoding (what `kubectl auth can-i` sends): the `k8s\0` envelope
    /// (runtime.Unknown: typeMeta = 1, raw = 2) around authorization.k8s.io/v1 SelfSubjectAccessReview (spec = 2;
    /// SelfSubjectAccessReviewSpec: resourceAttributes = 1, nonResourceAttributes = 2; ResourceAttributes: namespace = 1,
    /// verb = 2, group = 3, version = 4, resource = 5, subresource = 6, name = 7; NonResourceAttributes: path = 1,
    /// verb = 2), as JSON. Throws on a malformed body.
    /// A SelfSubjectRulesReview's spec is `namespace = 1`.
    static func decodeProtobuf(_ body: Data, _ info: ResourceInfo) throws -> JSONValue {
        let bytes = Array(body)
        guard bytes.count >= 4, bytes[0..<4] == [0x6B, 0x38, 0x73, 0x00] else {
            throw APIError.badRequest("the protobuf body does not start with the Kubernetes envelope")
        }
        let envelope = try ProtobufFields(Array(bytes[4...]))
        let review = try ProtobufFields(envelope.bytes(2) ?? [])
        let spec = try ProtobufFields(review.bytes(2) ?? [])
        var specJSON: [String: JSONValue] = [:]
        if info.key == BuiltinResources.selfSubjectRulesReviews.key {
            if let namespace = spec.string(1) { specJSON["namespace"] = .string(namespace) }
            return .object(["apiVersion": .string(info.apiVersion), "kind": .string(info.kind), "metadata": .object([:]),
                            "spec": .object(specJSON)])
        }
        if let raw = spec.bytes(1) {
            let attributes = try ProtobufFields(raw)
            var a: [String: JSONValue] = [:]
            for (field, name) in [(1, "namespace"), (2, "verb"), (3, "group"), (4, "version"), (5, "resource"), (6, "subresource"), (7, "name")] {
                if let value = attributes.string(field) { a[name] = .string(value) }
            }
            specJSON["resourceAttributes"] = .object(a)
        }
        if let raw = spec.bytes(2) {
            let attributes = try ProtobufFields(raw)
            var a: [String: JSONValue] = [:]
            if let path = attributes.string(1) { a["path"] = .string(path) }
            if let verb = attributes.string(2) { a["verb"] = .string(verb) }
            specJSON["nonResourceAttributes"] = .object(a)
        }
        return .object(["apiVersion": .string("authorization.k8s.io/v1"), "kind": .string("SelfSubjectAccessReview"),
                        "metadata": .object([:]), "spec": .object(specJSON)])
    }

    /// The reason Kubernetes' RBAC authorizer gives for an allowed request.
    private static func reason(_ binding: Binding, _ role: Role, _ user: UserInfo) -> String {
        let subject = binding.subjects?.first { subject in
            switch subject.kind {
            case "User": return subject.name == user.name
            case "Group": return user.groups.contains(subject.name)
            default: return true
            }
        }
        let namespace = binding.kind == "RoleBinding" ? " in namespace \"\(binding.metadata.namespace ?? "")\"" : ""
        return "RBAC: allowed by \(binding.kind) \"\(binding.metadata.name)\"\(namespace) of \(role.kind) \"\(role.metadata.name)\" to \(subject?.kind ?? "User") \"\(subject?.name ?? user.name)\""
    }
}

/// The length-delimited fields of one protobuf message (last occurrence wins, as for singular fields); other wire
/// types are skipped.
struct ProtobufFields {
    private var fields: [Int: [UInt8]] = [:]

    init(_ bytes: [UInt8]) throws {
        var i = 0
        func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard i < bytes.count, shift < 64 else { throw APIError.badRequest("truncated protobuf varint") }
                let b = bytes[i]
                i += 1
                value |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return value }
                shift += 7
            }
        }
        while i < bytes.count {
            let key = try varint()
            switch key & 7 {
            case 0: _ = try varint()
            case 1: i += 8
            case 5: i += 4
            case 2:
                let length = Int(try varint())
                guard length >= 0, i + length <= bytes.count else { throw APIError.badRequest("truncated protobuf field") }
                fields[Int(key >> 3)] = Array(bytes[i..<i + length])
                i += length
            default: throw APIError.badRequest("unsupported protobuf wire type \(key & 7)")
            }
            guard i <= bytes.count else { throw APIError.badRequest("truncated protobuf field") }
        }
    }

    func bytes(_ field: Int) -> [UInt8]? { fields[field] }
    func string(_ field: Int) -> String? { fields[field].map { String(decoding: $0, as: UTF8.self) } }
}

extension ClusterState {
    /// The RBAC policy of the stored Roles, ClusterRoles and bindings (ClusterRole aggregation applied).
    func rbacPolicy() throws -> RBACPolicy {
        var objects: [[String: Any]] = []
        for info in [BuiltinResources.roles, BuiltinResources.clusterRoles, BuiltinResources.roleBindings, BuiltinResources.clusterRoleBindings] {
            for (_, object) in list(info, namespace: nil).items {
                if let dictionary = try JSONSerialization.jsonObject(with: object.jsonData) as? [String: Any] { objects.append(dictionary) }
            }
        }
        do {
            return try RBACPolicy(objects: objects)
        } catch {
            throw APIError.internalError("reading the stored RBAC objects: \(error)")
        }
    }

    /// Creates the RBAC objects a fresh cluster has, when missing.
    func bootstrapRBAC() throws {
        for (info, object) in AccessReview.bootstrapObjects {
            let name = object["metadata"]?["name"]?.stringValue ?? ""
            if (try? get(info, namespace: nil, name: name)) == nil {
                _ = try create(info, namespace: nil, body: object, options: WriteOptions())
            }
        }
    }
}
