import Foundation
import MirModel

/// The built-in kinds a controller install uses (the Helm chart `Charts/mir` and `kubectl apply -k Manifests`), served
/// with the generic storage: Services, Deployments, RBAC, PodDisruptionBudgets; and the SelfSubjectAccessReview and
/// SelfSubjectRulesReview that `kubectl auth can-i [--list]` creates (answered, never stored).
extension BuiltinResources {
    private static func column(_ name: String, _ path: String?, type: String = "string") -> PrinterColumn {
        PrinterColumn(name: name, type: type, format: "", description: "", priority: 0, jsonPath: path)
    }

    static let services = ResourceInfo(group: "", version: "v1", kind: "Service", listKind: "ServiceList", plural: "services",
        singular: "service", namespaced: true, shortNames: ["svc"], categories: ["all"], hasStatus: true,
        printerColumns: [column("Type", ".spec.type"), column("Cluster-IP", ".spec.clusterIP"), column("Ports", nil), age])
    static let deployments = ResourceInfo(group: "apps", version: "v1", kind: "Deployment", listKind: "DeploymentList",
        plural: "deployments", singular: "deployment", namespaced: true, shortNames: ["deploy"], categories: ["all"], hasStatus: true,
        printerColumns: [column("Ready", nil), column("Up-to-date", nil, type: "integer"), column("Available", nil, type: "integer"), age])
    static let roles = ResourceInfo(group: "rbac.authorization.k8s.io", version: "v1", kind: "Role", listKind: "RoleList",
        plural: "roles", singular: "role", namespaced: true, hasStatus: false, printerColumns: [age])
    static let roleBindings = ResourceInfo(group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding",
        listKind: "RoleBindingList", plural: "rolebindings", singular: "rolebinding", namespaced: true, hasStatus: false,
        printerColumns: [column("Role", nil), age])
    static let clusterRoles = ResourceInfo(group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole",
        listKind: "ClusterRoleList", plural: "clusterroles", singular: "clusterrole", namespaced: false, hasStatus: false,
        printerColumns: [PrinterColumn(name: "Created At", type: "date", format: "", description: "", priority: 0,
                                       jsonPath: ".metadata.creationTimestamp")])
    static let clusterRoleBindings = ResourceInfo(group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRoleBinding",
        listKind: "ClusterRoleBindingList", plural: "clusterrolebindings", singular: "clusterrolebinding", namespaced: false,
        hasStatus: false, printerColumns: [column("Role", nil), age])
    static let podDisruptionBudgets = ResourceInfo(group: "policy", version: "v1", kind: "PodDisruptionBudget",
        listKind: "PodDisruptionBudgetList", plural: "poddisruptionbudgets", singular: "poddisruptionbudget", namespaced: true,
        shortNames: ["pdb"], hasStatus: true,
        printerColumns: [column("Min Available", ".spec.minAvailable"), column("Max Unavailable", ".spec.maxUnavailable"),
                         column("Allowed Disruptions", ".status.disruptionsAllowed", type: "integer"), age])
    static let selfSubjectAccessReviews = ResourceInfo(group: "authorization.k8s.io", version: "v1", kind: "SelfSubjectAccessReview",
        listKind: "SelfSubjectAccessReviewList", plural: "selfsubjectaccessreviews", singular: "selfsubjectaccessreview",
        namespaced: false, hasStatus: false, verbs: ["create"])
    static let selfSubjectRulesReviews = ResourceInfo(group: "authorization.k8s.io", version: "v1", kind: "SelfSubjectRulesReview",
        listKind: "SelfSubjectRulesReviewList", plural: "selfsubjectrulesreviews", singular: "selfsubjectrulesreview",
        namespaced: false, hasStatus: false, verbs: ["create"])
}

/// What the API server (defaulting, allocation) and the controllers of a real cluster write into the built-in kinds
/// mir dev serves. mir dev runs no kubelet and no workload controllers: a Deployment's status says 0 available
/// replicas and a PodDisruptionBudget allows no disruptions, as a real cluster reports them while no pod can run.
enum BuiltinBehaviour {
    /// Defaults the API server fills in on create (values a client may rely on reading back).
    /// On update, `existing` is the stored object: an allocated cluster IP stays.
    static func defaulted(_ info: ResourceInfo, _ object: JSONValue, existing: JSONValue? = nil) -> JSONValue {
        var o = object
        switch info.key {
        case BuiltinResources.services.key:
            if o["spec"]?["type"] == nil { o.set(["spec", "type"], .string("ClusterIP")) }
            if o["spec"]?["sessionAffinity"] == nil { o.set(["spec", "sessionAffinity"], .string("None")) }
            if let ports = o["spec"]?["ports"]?.arrayValue {
                o.set(["spec", "ports"], .array(ports.map { port in
                    var p = port
                    if p["protocol"] == nil { p.set(["protocol"], .string("TCP")) }
                    if p["targetPort"] == nil, let number = p["port"] { p.set(["targetPort"], number) }
                    return p
                }))
            }
            if o["spec"]?["clusterIP"]?.stringValue != "None" && o["spec"]?["type"]?.stringValue != "ExternalName" {
                let ip = o["spec"]?["clusterIP"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
                    ?? existing?["spec"]?["clusterIP"]?.stringValue ?? allocateClusterIP()
                o.set(["spec", "clusterIP"], .string(ip))
                o.set(["spec", "clusterIPs"], .array([.string(ip)]))
            }
        case BuiltinResources.deployments.key:
            if o["spec"]?["replicas"] == nil { o.set(["spec", "replicas"], .number(1)) }
            if o["spec"]?["revisionHistoryLimit"] == nil { o.set(["spec", "revisionHistoryLimit"], .number(10)) }
            if o["spec"]?["progressDeadlineSeconds"] == nil { o.set(["spec", "progressDeadlineSeconds"], .number(600)) }
            if o["spec"]?["strategy"] == nil {
                o.set(["spec", "strategy"], .object(["type": .string("RollingUpdate"),
                    "rollingUpdate": .object(["maxUnavailable": .string("25%"), "maxSurge": .string("25%")])]))
            }
        default: break
        }
        return o
    }

    /// The status the kind's controller would leave, given the object's spec (nil: the kind keeps what it has).
    static func status(_ info: ResourceInfo, _ object: JSONValue, now: String) -> JSONValue? {
        let generation = object["metadata"]?["generation"] ?? .number(1)
        switch info.key {
        case BuiltinResources.services.key:
            return .object(["loadBalancer": .object([:])])
        case BuiltinResources.deployments.key:
            // The deployment controller's report when no pod of the Deployment becomes ready.
            let wanted = object["spec"]?["replicas"]?.intValue ?? 1
            return .object([
                "observedGeneration": generation,
                "replicas": .number(0),
                "unavailableReplicas": .number(Double(wanted)),
                "conditions": .array([.object([
                    "type": .string("Available"), "status": .string("False"), "reason": .string("MinimumReplicasUnavailable"),
                    "message": .string("Deployment does not have minimum availability: mir dev runs no pods for Deployments"),
                    "lastUpdateTime": .string(now), "lastTransitionTime": .string(now),
                ])]),
            ])
        case BuiltinResources.podDisruptionBudgets.key:
            return .object([
                "observedGeneration": generation, "disruptionsAllowed": .number(0), "currentHealthy": .number(0),
                "desiredHealthy": .number(0), "expectedPods": .number(0),
                "conditions": .array([.object([
                    "type": .string("DisruptionAllowed"), "status": .string("False"), "reason": .string("InsufficientPods"),
                    "message": .string("mir dev runs no pods"), "observedGeneration": generation, "lastTransitionTime": .string(now),
                ])]),
            ])
        default:
            return nil
        }
    }

    /// The computed printer columns of these kinds, as `kubectl get` shows them.
    static func computedCell(_ info: ResourceInfo, _ name: String, _ object: JSONValue) -> JSONValue? {
        switch (info.key, name) {
        case (BuiltinResources.deployments.key, "Ready"):
            return .string("\(object["status"]?["readyReplicas"]?.intValue ?? 0)/\(object["spec"]?["replicas"]?.intValue ?? 1)")
        case (BuiltinResources.deployments.key, "Up-to-date"):
            return .number(Double(object["status"]?["updatedReplicas"]?.intValue ?? 0))
        case (BuiltinResources.deployments.key, "Available"):
            return .number(Double(object["status"]?["availableReplicas"]?.intValue ?? 0))
        case (BuiltinResources.services.key, "Ports"):
            let ports = (object["spec"]?["ports"]?.arrayValue ?? []).map { port in
                "\(port["port"]?.intValue ?? 0)/\(port["protocol"]?.stringValue ?? "TCP")"
            }
            return .string(ports.isEmpty ? "<none>" : ports.joined(separator: ","))
        case (BuiltinResources.roleBindings.key, "Role"), (BuiltinResources.clusterRoleBindings.key, "Role"):
            return .string("\(object["roleRef"]?["kind"]?.stringValue ?? "")/\(object["roleRef"]?["name"]?.stringValue ?? "")")
        default:
            return nil
        }
    }

    /// A Service cluster IP from the default service range 10.96.0.0/12 (collisions are improbable in a local cluster).
    private static func allocateClusterIP() -> String {
        "10.\(96 + Int.random(in: 0...15)).\(Int.random(in: 0...255)).\(Int.random(in: 2...254))"
    }
}
