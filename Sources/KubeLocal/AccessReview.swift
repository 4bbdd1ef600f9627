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

extension ClusterState {
    /// The RBAC policy of the stored Roles, ClusterRoles and bindings (ClusterRole aggregation applied).
    func rbacPolicy() throws -> RBACPolicy {
        var objects: [[String: Any]] = []
        for info in [BuiltinResources.roles, BuiltinResources.clusterRoles, BuiltinResources.roleBindings, BuiltinResources.clusterRoleBindings] {
            for listed in try list(info, namespace: nil).items {
                if let dictionary = try JSONSerialization.jsonObject(with: listed.stored.json) as? [String: Any] { objects.append(dictionary) }
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
