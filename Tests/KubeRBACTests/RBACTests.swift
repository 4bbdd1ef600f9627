import Foundation
import KubeRBAC
import Testing

@Suite("Kubernetes RBAC evaluation")
struct RBACTests {
    static let controller = UserInfo.serviceAccount("mir-controller", namespace: "mir-system")

    static func clusterRole(_ name: String, labels: [String: String]? = nil, _ rules: [PolicyRule],
                            aggregating selectors: [LabelSelector]? = nil) -> Role {
        Role(kind: "ClusterRole", metadata: ObjectMeta(name: name, labels: labels), rules: rules,
             aggregationRule: selectors.map { Role.AggregationRule(clusterRoleSelectors: $0) })
    }
    static func role(_ name: String, in namespace: String, _ rules: [PolicyRule]) -> Role {
        Role(kind: "Role", metadata: ObjectMeta(name: name, namespace: namespace), rules: rules)
    }
    static func binding(_ kind: String, _ name: String, namespace: String? = nil, role: RoleRef, to subjects: [Subject]) -> Binding {
        Binding(kind: kind, metadata: ObjectMeta(name: name, namespace: namespace), roleRef: role, subjects: subjects)
    }
    static let controllerSubject = Subject(kind: "ServiceAccount", name: "mir-controller", namespace: "mir-system")

    @Test("verbs, groups and resources match exactly or by *; subresources only as resource/sub or */sub")
    func ruleMatching() {
        let rule = PolicyRule(verbs: ["get", "update"], apiGroups: ["mir.dev"], resources: ["managedimages", "managedimages/status"])
        #expect(rule.allows(ResourceRequest(verb: "get", apiGroup: "mir.dev", resource: "managedimages", name: "a")))
        #expect(rule.allows(ResourceRequest(verb: "update", apiGroup: "mir.dev", resource: "managedimages", subresource: "status", name: "a")))
        #expect(!rule.allows(ResourceRequest(verb: "patch", apiGroup: "mir.dev", resource: "managedimages", name: "a")))
        #expect(!rule.allows(ResourceRequest(verb: "get", apiGroup: "", resource: "managedimages", name: "a")))
        #expect(!rule.allows(ResourceRequest(verb: "update", apiGroup: "mir.dev", resource: "managedimages", subresource: "finalizers", name: "a")))
        // A rule on the resource does not grant its subresources.
        let main = PolicyRule(verbs: ["update"], apiGroups: ["mir.dev"], resources: ["managedimages"])
        #expect(!main.allows(ResourceRequest(verb: "update", apiGroup: "mir.dev", resource: "managedimages", subresource: "status", name: "a")))
        let anyStatus = PolicyRule(verbs: ["*"], apiGroups: ["*"], resources: ["*/status"])
        #expect(anyStatus.allows(ResourceRequest(verb: "patch", apiGroup: "apps", resource: "deployments", subresource: "status", name: "d")))
        #expect(!anyStatus.allows(ResourceRequest(verb: "patch", apiGroup: "apps", resource: "deployments", name: "d")))
        let everything = PolicyRule(verbs: ["*"], apiGroups: ["*"], resources: ["*"])
        #expect(everything.allows(ResourceRequest(verb: "deletecollection", apiGroup: "batch", resource: "jobs", subresource: "status", namespace: "x")))
    }

    @Test("resourceNames: only requests naming one of them (never create, list or watch)")
    func resourceNames() {
        let rule = PolicyRule(verbs: ["get", "update", "create", "list"], apiGroups: ["coordination.k8s.io"], resources: ["leases"],
                              resourceNames: ["mir-controller"])
        #expect(rule.allows(ResourceRequest(verb: "get", apiGroup: "coordination.k8s.io", resource: "leases", namespace: "s", name: "mir-controller")))
        #expect(!rule.allows(ResourceRequest(verb: "get", apiGroup: "coordination.k8s.io", resource: "leases", namespace: "s", name: "other")))
        #expect(!rule.allows(ResourceRequest(verb: "create", apiGroup: "coordination.k8s.io", resource: "leases", namespace: "s")))
        #expect(!rule.allows(ResourceRequest(verb: "list", apiGroup: "coordination.k8s.io", resource: "leases", namespace: "s")))
    }

    @Test("non-resource URLs match exactly or by a trailing *")
    func nonResource() {
        let rule = PolicyRule(verbs: ["get"], nonResourceURLs: ["/healthz", "/apis/*"])
        #expect(rule.allows(nonResourcePath: "/healthz", verb: "get"))
        #expect(rule.allows(nonResourcePath: "/apis/mir.dev/v1alpha1", verb: "get"))
        #expect(!rule.allows(nonResourcePath: "/api/v1", verb: "get"))
        #expect(!rule.allows(nonResourcePath: "/healthz", verb: "post"))
    }

    @Test("a RoleBinding grants only in its namespace, also when it binds a ClusterRole; a ClusterRoleBinding everywhere")
    func bindingScope() {
        let jobs = PolicyRule(verbs: ["create"], apiGroups: ["batch"], resources: ["jobs"])
        let policy = RBACPolicy(roles: [Self.role("builds", in: "mir-builds", [jobs]),
                                        Self.clusterRole("job-maker", [jobs]), Self.clusterRole("images", [PolicyRule(verbs: ["list"], apiGroups: ["mir.dev"], resources: ["managedimages"])])],
                                bindings: [
            Self.binding("RoleBinding", "builds", namespace: "mir-builds", role: RoleRef(kind: "Role", name: "builds"), to: [Self.controllerSubject]),
            Self.binding("RoleBinding", "jobs-in-b", namespace: "b", role: RoleRef(kind: "ClusterRole", name: "job-maker"), to: [Self.controllerSubject]),
            Self.binding("RoleBinding", "images-in-b", namespace: "b", role: RoleRef(kind: "ClusterRole", name: "images"), to: [Self.controllerSubject]),
        ])
        let create = { (namespace: String?) in ResourceRequest(verb: "create", apiGroup: "batch", resource: "jobs", namespace: namespace) }
        #expect(policy.allows(Self.controller, create("mir-builds")))
        #expect(policy.allows(Self.controller, create("b")))
        #expect(!policy.allows(Self.controller, create("default")))
        #expect(!policy.allows(Self.controller, create(nil)), "a RoleBinding never grants cluster-wide")
        // Cluster-scoped ManagedImages: a RoleBinding to a ClusterRole grants nothing on them.
        let list = ResourceRequest(verb: "list", apiGroup: "mir.dev", resource: "managedimages")
        #expect(!policy.allows(Self.controller, list))
        let clusterWide = RBACPolicy(roles: [Self.clusterRole("images", [PolicyRule(verbs: ["list"], apiGroups: ["mir.dev"], resources: ["managedimages"])])],
                                     bindings: [Self.binding("ClusterRoleBinding", "images", role: RoleRef(kind: "ClusterRole", name: "images"), to: [Self.controllerSubject])])
        #expect(clusterWide.allows(Self.controller, list))
        #expect(clusterWide.allows(Self.controller, ResourceRequest(verb: "list", apiGroup: "mir.dev", resource: "managedimages", namespace: "any")))
    }

    @Test("subjects: users by name, groups, ServiceAccounts by namespace and name")
    func subjects() {
        let rule = PolicyRule(verbs: ["get"], apiGroups: [""], resources: ["pods"])
        let policy = RBACPolicy(roles: [Self.clusterRole("read", [rule])], bindings: [
            Self.binding("ClusterRoleBinding", "alice", role: RoleRef(kind: "ClusterRole", name: "read"), to: [Subject(kind: "User", name: "alice")]),
            Self.binding("ClusterRoleBinding", "team", role: RoleRef(kind: "ClusterRole", name: "read"), to: [Subject(kind: "Group", name: "team")]),
            Self.binding("ClusterRoleBinding", "sa", role: RoleRef(kind: "ClusterRole", name: "read"), to: [Self.controllerSubject]),
            Self.binding("RoleBinding", "sa-default-ns", namespace: "apps", role: RoleRef(kind: "ClusterRole", name: "read"),
                         to: [Subject(kind: "ServiceAccount", name: "worker")]),
        ])
        let get = ResourceRequest(verb: "get", apiGroup: "", resource: "pods", namespace: "apps", name: "p")
        #expect(policy.allows(UserInfo(name: "alice"), get))
        #expect(!policy.allows(UserInfo(name: "bob"), get))
        #expect(policy.allows(UserInfo(name: "bob", groups: ["team"]), get))
        #expect(policy.allows(Self.controller, get))
        #expect(!policy.allows(UserInfo.serviceAccount("mir-controller", namespace: "other"), get))
        #expect(!policy.allows(UserInfo(name: "mir-controller"), get))
        #expect(policy.allows(UserInfo.serviceAccount("worker", namespace: "apps"), get), "subject namespace defaults to the binding's")
        #expect(!policy.allows(UserInfo.serviceAccount("worker", namespace: "apps"), ResourceRequest(verb: "get", apiGroup: "", resource: "pods", namespace: "x", name: "p")))
    }

    @Test("ClusterRole aggregation follows label selectors, transitively (view → edit → admin)")
    func aggregation() {
        let view = Self.clusterRole("view", labels: ["rbac.authorization.k8s.io/aggregate-to-edit": "true"], [],
                                    aggregating: [LabelSelector(matchLabels: ["rbac.authorization.k8s.io/aggregate-to-view": "true"])])
        let edit = Self.clusterRole("edit", labels: ["rbac.authorization.k8s.io/aggregate-to-admin": "true"], [],
                                    aggregating: [LabelSelector(matchLabels: ["rbac.authorization.k8s.io/aggregate-to-edit": "true"])])
        let admin = Self.clusterRole("admin", [], aggregating: [LabelSelector(matchLabels: ["rbac.authorization.k8s.io/aggregate-to-admin": "true"])])
        let read = PolicyRule(verbs: ["get"], apiGroups: ["mir.dev"], resources: ["managedimages"])
        let delete = PolicyRule(verbs: ["delete"], apiGroups: ["mir.dev"], resources: ["managedimages"])
        let mirView = Self.clusterRole("mir-view", labels: ["rbac.authorization.k8s.io/aggregate-to-view": "true"], [read])
        let mirAdmin = Self.clusterRole("mir-admin", labels: ["rbac.authorization.k8s.io/aggregate-to-admin": "true"], [delete])
        let unrelated = Self.clusterRole("other", labels: ["team": "x"], [PolicyRule(verbs: ["*"], apiGroups: ["*"], resources: ["*"])])
        let policy = RBACPolicy(roles: [view, edit, admin, mirView, mirAdmin, unrelated], bindings: [])
        #expect(policy.clusterRoles["view"]?.rules == [read])
        #expect(policy.clusterRoles["edit"]?.rules == [read])
        #expect(Set(policy.clusterRoles["admin"]?.rules ?? []) == [read, delete])
        #expect(policy.clusterRoles["mir-view"]?.rules == [read], "a role without an aggregation rule keeps its rules")
    }

    @Test("label selectors: matchLabels and the four operators; an empty selector selects nothing")
    func selectors() {
        let labels = ["a": "1", "b": "2"]
        #expect(LabelSelector(matchLabels: ["a": "1"]).matches(labels))
        #expect(!LabelSelector(matchLabels: ["a": "2"]).matches(labels))
        #expect(LabelSelector(matchExpressions: [.init(key: "a", operator: "In", values: ["1", "3"])]).matches(labels))
        #expect(!LabelSelector(matchExpressions: [.init(key: "a", operator: "NotIn", values: ["1"])]).matches(labels))
        #expect(LabelSelector(matchExpressions: [.init(key: "c", operator: "DoesNotExist")]).matches(labels))
        #expect(!LabelSelector(matchExpressions: [.init(key: "c", operator: "Exists")]).matches(labels))
        #expect(!LabelSelector().matches(labels))
    }

    @Test("least privilege: grants no request used, and requests no grant allows")
    func unusedAndDenied() {
        let policy = RBACPolicy(roles: [
            Self.role("lease", in: "mir-system", [PolicyRule(verbs: ["create"], apiGroups: ["coordination.k8s.io"], resources: ["leases"]),
                                                  PolicyRule(verbs: ["get", "update"], apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["mir-controller"])]),
        ], bindings: [Self.binding("RoleBinding", "lease", namespace: "mir-system", role: RoleRef(kind: "Role", name: "lease"), to: [Self.controllerSubject])])
        let get = ResourceRequest(verb: "get", apiGroup: "coordination.k8s.io", resource: "leases", namespace: "mir-system", name: "mir-controller")
        let create = ResourceRequest(verb: "create", apiGroup: "coordination.k8s.io", resource: "leases", namespace: "mir-system")
        let watch = ResourceRequest(verb: "watch", apiGroup: "coordination.k8s.io", resource: "leases", namespace: "mir-system")
        let elsewhere = ResourceRequest(verb: "create", apiGroup: "coordination.k8s.io", resource: "leases", namespace: "default")
        #expect(policy.grants(to: Self.controller).count == 3)
        #expect(policy.unusedGrants(to: Self.controller, requests: [get, create]).map(\.verb) == ["update"])
        #expect(policy.unusedGrants(to: Self.controller, requests: [get, elsewhere]).map(\.verb) == ["create", "update"],
                "a request in another namespace does not use a Role's grant")
        #expect(policy.denied(Self.controller, [get, create, watch, elsewhere]) == [watch, elsewhere])
        #expect(policy.grants(to: UserInfo(name: "someone")).isEmpty)
    }

    @Test("objects decode from Kubernetes JSON; a binding to a missing role is reported")
    func decoding() throws {
        let objects: [[String: Any]] = [
            ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": ["name": "r", "labels": ["x": "y"]],
             "rules": [["apiGroups": ["mir.dev"], "resources": ["managedimages"], "verbs": ["get"]]]],
            ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": ["name": "b"],
             "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"],
             "subjects": [["kind": "ServiceAccount", "name": "mir-controller", "namespace": "mir-system"]]],
            ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": ["name": "dangling", "namespace": "n"],
             "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "missing"], "subjects": [["kind": "User", "name": "u"]]],
            ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "ignored"]],
        ]
        let policy = try RBACPolicy(objects: objects)
        #expect(policy.allows(Self.controller, ResourceRequest(verb: "get", apiGroup: "mir.dev", resource: "managedimages", name: "a")))
        #expect(policy.danglingBindings == [.bindingToMissingRole(binding: "RoleBinding dangling", role: "Role missing")])
    }
}
