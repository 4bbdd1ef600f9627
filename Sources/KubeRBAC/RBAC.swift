import Foundation

/// Kubernetes RBAC (rbac.authorization.k8s.io/v1) as a pure value: Roles, ClusterRoles (with aggregation),
/// bindings, and the authorizer's decision for a request — the rules of Kubernetes' RBAC authorizer
/// (`k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac`): verbs, API groups, resources (`resource/subresource`,
/// `*/subresource`), resourceNames, non-resource URLs, `*` wildcards; a RoleBinding grants only in its namespace,
/// a ClusterRoleBinding everywhere; ServiceAccounts are users `system:serviceaccount:<ns>:<name>` in the groups
/// `system:serviceaccounts` and `system:serviceaccounts:<ns>`. No I/O.

/// One rule of a Role or ClusterRole.
public struct PolicyRule: Sendable, Hashable, Codable {
    public var verbs: [String]
    public var apiGroups: [String]?
    public var resources: [String]?
    public var resourceNames: [String]?
    public var nonResourceURLs: [String]?

    public init(verbs: [String], apiGroups: [String]? = nil, resources: [String]? = nil, resourceNames: [String]? = nil,
                nonResourceURLs: [String]? = nil) {
        self.verbs = verbs
        self.apiGroups = apiGroups
        self.resources = resources
        self.resourceNames = resourceNames
        self.nonResourceURLs = nonResourceURLs
    }

    /// Whether this rule allows the resource request (RBAC's `RuleAllows`).
    public func allows(_ request: ResourceRequest) -> Bool {
        verbMatches(request.verb) && Self.contains(apiGroups ?? [], request.apiGroup)
            && resourceMatches(request.resource, request.subresource)
            && ((resourceNames ?? []).isEmpty || (request.name.map { (resourceNames ?? []).contains($0) } ?? false))
    }

    /// Whether this rule allows a non-resource request (`/healthz`, `/apis/…` discovery).
    public func allows(nonResourcePath path: String, verb: String) -> Bool {
        verbMatches(verb) && (nonResourceURLs ?? []).contains { url in
            url == "*" || url == path || (url.hasSuffix("*") && path.hasPrefix(String(url.dropLast())))
        }
    }

    func verbMatches(_ verb: String) -> Bool { Self.contains(verbs, verb) }

    func resourceMatches(_ resource: String, _ subresource: String?) -> Bool {
        let combined = resource + (subresource.map { "/" + $0 } ?? "")
        return (resources ?? []).contains { rule in
            rule == "*" || rule == combined || (subresource.map { rule == "*/" + $0 } ?? false)
        }
    }

    static func contains(_ list: [String], _ value: String) -> Bool { list.contains("*") || list.contains(value) }
}

/// A label selector (matchLabels and matchExpressions), as ClusterRole aggregation uses it.
public struct LabelSelector: Sendable, Hashable, Codable {
    public struct Requirement: Sendable, Hashable, Codable {
        public var key: String
        public var `operator`: String
        public var values: [String]?
        public init(key: String, operator: String, values: [String]? = nil) {
            self.key = key
            self.operator = `operator`
            self.values = values
        }
    }
    public var matchLabels: [String: String]?
    public var matchExpressions: [Requirement]?

    public init(matchLabels: [String: String]? = nil, matchExpressions: [Requirement]? = nil) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }

    /// An empty selector matches nothing here (an aggregation rule with an empty selector aggregates nothing).
    public func matches(_ labels: [String: String]) -> Bool {
        if (matchLabels ?? [:]).isEmpty && (matchExpressions ?? []).isEmpty { return false }
        for (key, value) in matchLabels ?? [:] where labels[key] != value { return false }
        for requirement in matchExpressions ?? [] {
            let value = labels[requirement.key], values = requirement.values ?? []
            switch requirement.operator {
            case "In": if !(value.map(values.contains) ?? false) { return false }
            case "NotIn": if let value, values.contains(value) { return false }
            case "Exists": if value == nil { return false }
            case "DoesNotExist": if value != nil { return false }
            default: return false
            }
        }
        return true
    }
}

public struct ObjectMeta: Sendable, Hashable, Codable {
    public var name: String
    public var namespace: String?
    public var labels: [String: String]?
    public init(name: String, namespace: String? = nil, labels: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
    }
}

/// A Role (namespaced) or a ClusterRole (`metadata.namespace` nil), as its JSON reads.
public struct Role: Sendable, Hashable, Codable {
    public struct AggregationRule: Sendable, Hashable, Codable {
        public var clusterRoleSelectors: [LabelSelector]?
        public init(clusterRoleSelectors: [LabelSelector]) { self.clusterRoleSelectors = clusterRoleSelectors }
    }
    public var kind: String
    public var metadata: ObjectMeta
    public var rules: [PolicyRule]?
    public var aggregationRule: AggregationRule?

    public init(kind: String, metadata: ObjectMeta, rules: [PolicyRule], aggregationRule: AggregationRule? = nil) {
        self.kind = kind
        self.metadata = metadata
        self.rules = rules
        self.aggregationRule = aggregationRule
    }

    public var isClusterRole: Bool { kind == "ClusterRole" }
}

public struct Subject: Sendable, Hashable, Codable {
    public var kind: String
    public var name: String
    public var namespace: String?
    public init(kind: String, name: String, namespace: String? = nil) {
        self.kind = kind
        self.name = name
        self.namespace = namespace
    }
}

public struct RoleRef: Sendable, Hashable, Codable {
    public var kind: String
    public var name: String
    public init(kind: String, name: String) {
        self.kind = kind
        self.name = name
    }
}

/// A RoleBinding or a ClusterRoleBinding.
public struct Binding: Sendable, Hashable, Codable {
    public var kind: String
    public var metadata: ObjectMeta
    public var roleRef: RoleRef
    public var subjects: [Subject]?

    public init(kind: String, metadata: ObjectMeta, roleRef: RoleRef, subjects: [Subject]) {
        self.kind = kind
        self.metadata = metadata
        self.roleRef = roleRef
        self.subjects = subjects
    }
}

/// Who asks.
public struct UserInfo: Sendable, Hashable {
    public var name: String
    public var groups: [String]

    public init(name: String, groups: [String] = ["system:authenticated"]) {
        self.name = name
        self.groups = groups
    }

    /// A ServiceAccount's identity, as the API server authenticates its token.
    public static func serviceAccount(_ name: String, namespace: String) -> UserInfo {
        UserInfo(name: "system:serviceaccount:\(namespace):\(name)",
                 groups: ["system:serviceaccounts", "system:serviceaccounts:\(namespace)", "system:authenticated"])
    }
}

/// A resource request's authorization attributes. `name` is nil for create, list, watch and deletecollection;
/// `namespace` nil for cluster-scoped objects (and cluster-wide lists).
public struct ResourceRequest: Sendable, Hashable, CustomStringConvertible {
    public var verb: String
    public var apiGroup: String
    public var resource: String
    public var subresource: String?
    public var namespace: String?
    public var name: String?

    public init(verb: String, apiGroup: String, resource: String, subresource: String? = nil, namespace: String? = nil, name: String? = nil) {
        self.verb = verb
        self.apiGroup = apiGroup
        self.resource = resource
        self.subresource = subresource
        self.namespace = namespace
        self.name = name
    }

    public var description: String {
        "\(verb) \(apiGroup.isEmpty ? "core" : apiGroup)/\(resource)\(subresource.map { "/" + $0 } ?? "")"
            + (namespace.map { " in \($0)" } ?? " (cluster)") + (name.map { " \"\($0)\"" } ?? "")
    }
}

public enum RBACError: Error, Equatable, CustomStringConvertible {
    case unsupportedKind(String)
    case bindingToMissingRole(binding: String, role: String)

    public var description: String {
        switch self {
        case .unsupportedKind(let kind): return "not an RBAC object: \(kind)"
        case .bindingToMissingRole(let binding, let role): return "\(binding) refers to \(role), which does not exist"
        }
    }
}

/// The roles and bindings of a cluster (or of an install), and decisions on them.
public struct RBACPolicy: Sendable {
    /// ClusterRoles by name, with aggregated rules filled in.
    public private(set) var clusterRoles: [String: Role] = [:]
    /// Roles by namespace/name.
    public private(set) var roles: [String: Role] = [:]
    public private(set) var bindings: [Binding] = []

    public init(roles: [Role], bindings: [Binding]) {
        for role in roles {
            if role.isClusterRole { clusterRoles[role.metadata.name] = role }
            else { self.roles["\(role.metadata.namespace ?? "")/\(role.metadata.name)"] = role }
        }
        self.bindings = bindings
        aggregate()
    }

    /// Kubernetes' ClusterRole aggregation controller, to a fixed point: an aggregated ClusterRole's rules are the
    /// union of the rules of every ClusterRole its selectors match (aggregation chains, e.g. view → edit → admin).
    mutating func aggregate() {
        var changed = true
        var rounds = 0
        while changed && rounds < 16 {
            changed = false
            rounds += 1
            for (name, role) in clusterRoles {
                guard let selectors = role.aggregationRule?.clusterRoleSelectors, !selectors.isEmpty else { continue }
                var rules = role.rules ?? []
                for (otherName, other) in clusterRoles.sorted(by: { $0.key < $1.key }) where otherName != name {
                    guard selectors.contains(where: { $0.matches(other.metadata.labels ?? [:]) }) else { continue }
                    for rule in other.rules ?? [] where !rules.contains(rule) { rules.append(rule) }
                }
                if rules != (role.rules ?? []) {
                    clusterRoles[name]?.rules = rules
                    changed = true
                }
            }
        }
    }

    /// The roles a user holds for a request in `namespace` (nil: cluster-scoped), with the binding granting each.
    public func rules(for user: UserInfo, namespace: String?) -> [(binding: Binding, role: Role, rule: PolicyRule)] {
        var result: [(Binding, Role, PolicyRule)] = []
        for binding in bindings where (binding.subjects ?? []).contains(where: { Self.matches($0, user, bindingNamespace: binding.metadata.namespace) }) {
            let clusterWide = binding.kind == "ClusterRoleBinding"
            if !clusterWide && binding.metadata.namespace != namespace { continue }
            guard let role = role(for: binding) else { continue }
            for rule in role.rules ?? [] { result.append((binding, role, rule)) }
        }
        return result
    }

    /// The role a binding refers to (a RoleBinding may refer to a ClusterRole, granting its rules in its namespace).
    public func role(for binding: Binding) -> Role? {
        switch binding.roleRef.kind {
        case "ClusterRole": return clusterRoles[binding.roleRef.name]
        case "Role" where binding.kind == "RoleBinding": return roles["\(binding.metadata.namespace ?? "")/\(binding.roleRef.name)"]
        default: return nil
        }
    }

    /// Bindings whose role is missing: RBAC ignores them, an install should not have them.
    public var danglingBindings: [RBACError] {
        bindings.filter { role(for: $0) == nil }.map {
            .bindingToMissingRole(binding: "\($0.kind) \($0.metadata.name)", role: "\($0.roleRef.kind) \($0.roleRef.name)")
        }
    }

    /// The RBAC authorizer's decision: allowed when some rule bound to the user allows the request.
    public func allows(_ user: UserInfo, _ request: ResourceRequest) -> Bool {
        rules(for: user, namespace: request.namespace).contains { $0.rule.allows(request) }
    }

    static func matches(_ subject: Subject, _ user: UserInfo, bindingNamespace: String?) -> Bool {
        switch subject.kind {
        case "User": return subject.name == user.name
        case "Group": return user.groups.contains(subject.name)
        case "ServiceAccount":
            guard let namespace = subject.namespace ?? bindingNamespace else { return false }
            return user.name == "system:serviceaccount:\(namespace):\(subject.name)"
        default: return false
        }
    }

    // MARK: Least privilege

    /// One thing a rule grants: a verb on a group's resource (and name, when the rule names some), through a
    /// binding (which fixes the namespace a Role's grant applies in).
    public struct Grant: Sendable, Hashable, CustomStringConvertible {
        public var role: String
        public var verb: String
        public var apiGroup: String
        public var resource: String
        public var resourceNames: [String]
        public var namespace: String?

        public var description: String {
            "\(role): \(verb) \(apiGroup.isEmpty ? "core" : apiGroup)/\(resource)"
                + (resourceNames.isEmpty ? "" : " \(resourceNames)") + (namespace.map { " in \($0)" } ?? "")
        }
    }

    /// Every (verb, group, resource) a user is granted, one per rule and binding.
    public func grants(to user: UserInfo) -> [Grant] {
        var result: [Grant] = []
        for binding in bindings where (binding.subjects ?? []).contains(where: { Self.matches($0, user, bindingNamespace: binding.metadata.namespace) }) {
            guard let role = role(for: binding) else { continue }
            let namespace = binding.kind == "ClusterRoleBinding" ? nil : binding.metadata.namespace
            for rule in role.rules ?? [] {
                for verb in rule.verbs { for group in rule.apiGroups ?? [] { for resource in rule.resources ?? [] {
                    result.append(Grant(role: "\(role.kind) \(role.metadata.name)", verb: verb, apiGroup: group, resource: resource,
                                        resourceNames: rule.resourceNames ?? [], namespace: namespace))
                } } }
            }
        }
        return result
    }

    /// The grants no request in `requests` used: what a least-privilege policy would not have.
    public func unusedGrants(to user: UserInfo, requests: some Sequence<ResourceRequest>) -> [Grant] {
        let requests = Array(requests)
        return grants(to: user).filter { grant in
            let rule = PolicyRule(verbs: [grant.verb], apiGroups: [grant.apiGroup], resources: [grant.resource],
                                  resourceNames: grant.resourceNames.isEmpty ? nil : grant.resourceNames)
            return !requests.contains { request in
                (grant.namespace == nil || grant.namespace == request.namespace) && rule.allows(request)
            }
        }
    }

    /// The requests the user is not allowed to make.
    public func denied(_ user: UserInfo, _ requests: some Sequence<ResourceRequest>) -> [ResourceRequest] {
        requests.filter { !allows(user, $0) }
    }
}

extension RBACPolicy {
    /// The RBAC objects among Kubernetes objects given as JSON (other kinds are ignored).
    public init(objects: [[String: Any]]) throws {
        var roles: [Role] = [], bindings: [Binding] = []
        let decoder = JSONDecoder()
        for object in objects {
            guard let kind = object["kind"] as? String else { continue }
            let data = try JSONSerialization.data(withJSONObject: object)
            switch kind {
            case "Role", "ClusterRole": roles.append(try decoder.decode(Role.self, from: data))
            case "RoleBinding", "ClusterRoleBinding": bindings.append(try decoder.decode(Binding.self, from: data))
            default: continue
            }
        }
        self.init(roles: roles, bindings: bindings)
    }
}
