import Foundation
import MirModel

/// One printer column of a Table response.
struct PrinterColumn: Sendable, Hashable {
    var name: String
    var type: String
    var format: String
    var description: String
    var priority: Int
    /// A kubectl JSONPath such as `.status.phase`; nil for computed columns of built-in kinds.
    var jsonPath: String?
}

/// A kind of resource the server serves: built in or registered by a CustomResourceDefinition.
struct ResourceInfo: Sendable, Hashable {
    var group: String
    var version: String
    var kind: String
    var listKind: String
    var plural: String
    var singular: String
    var namespaced: Bool
    var shortNames: [String] = []
    var categories: [String] = []
    var hasStatus: Bool
    var isCustom: Bool = false
    var printerColumns: [PrinterColumn] = []
    /// The structural schema (`openAPIV3Schema`) of a custom resource.
    var schema: JSONValue? = nil
    /// The verbs discovery lists, when not the full set of a stored kind (`create` only for a review).
    var verbs: [String]? = nil

    var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    var groupVersion: String { apiVersion }
    /// Key of the resource in the store: `plural.group`.
    var key: String { group.isEmpty ? plural : "\(plural).\(group)" }
    /// How errors name the resource (`managedimages.mir.dev`, `pods`).
    var qualifiedName: String { key }
    /// The URL prefix of this group version.
    var pathPrefix: String { group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)" }
}

/// The built-in kinds the local control plane serves.
enum BuiltinResources {
    static let age = PrinterColumn(name: "Age", type: "date", format: "", description: "CreationTimestamp", priority: 0, jsonPath: ".metadata.creationTimestamp")

    static let namespaces = ResourceInfo(group: "", version: "v1", kind: "Namespace", listKind: "NamespaceList", plural: "namespaces",
        singular: "namespace", namespaced: false, shortNames: ["ns"], hasStatus: true,
        printerColumns: [PrinterColumn(name: "Status", type: "string", format: "", description: "", priority: 0, jsonPath: ".status.phase"), age])
    static let pods = ResourceInfo(group: "", version: "v1", kind: "Pod", listKind: "PodList", plural: "pods", singular: "pod",
        namespaced: true, shortNames: ["po"], categories: ["all"], hasStatus: true,
        printerColumns: [
            PrinterColumn(name: "Ready", type: "string", format: "", description: "", priority: 0, jsonPath: nil),
            PrinterColumn(name: "Status", type: "string", format: "", description: "", priority: 0, jsonPath: nil),
            PrinterColumn(name: "Restarts", type: "string", format: "", description: "", priority: 0, jsonPath: nil), age,
        ])
    static let events = ResourceInfo(group: "", version: "v1", kind: "Event", listKind: "EventList", plural: "events", singular: "event",
        namespaced: true, shortNames: ["ev"], hasStatus: false,
        printerColumns: [
            PrinterColumn(name: "Type", type: "string", format: "", description: "", priority: 0, jsonPath: ".type"),
            PrinterColumn(name: "Reason", type: "string", format: "", description: "", priority: 0, jsonPath: ".reason"),
            PrinterColumn(name: "Object", type: "string", format: "", description: "", priority: 0, jsonPath: nil),
            PrinterColumn(name: "Message", type: "string", format: "", description: "", priority: 0, jsonPath: ".message"), age,
        ])
    static let configMaps = ResourceInfo(group: "", version: "v1", kind: "ConfigMap", listKind: "ConfigMapList", plural: "configmaps",
        singular: "configmap", namespaced: true, shortNames: ["cm"], hasStatus: false, printerColumns: [age])
    static let secrets = ResourceInfo(group: "", version: "v1", kind: "Secret", listKind: "SecretList", plural: "secrets",
        singular: "secret", namespaced: true, hasStatus: false,
        printerColumns: [PrinterColumn(name: "Type", type: "string", format: "", description: "", priority: 0, jsonPath: ".type"), age])
    static let serviceAccounts = ResourceInfo(group: "", version: "v1", kind: "ServiceAccount", listKind: "ServiceAccountList",
        plural: "serviceaccounts", singular: "serviceaccount", namespaced: true, shortNames: ["sa"], hasStatus: false, printerColumns: [age])
    static let jobs = ResourceInfo(group: "batch", version: "v1", kind: "Job", listKind: "JobList", plural: "jobs", singular: "job",
        namespaced: true, categories: ["all"], hasStatus: true,
        printerColumns: [
            PrinterColumn(name: "Status", type: "string", format: "", description: "", priority: 0, jsonPath: nil),
            PrinterColumn(name: "Completions", type: "string", format: "", description: "", priority: 0, jsonPath: nil), age,
        ])
    static let leases = ResourceInfo(group: "coordination.k8s.io", version: "v1", kind: "Lease", listKind: "LeaseList", plural: "leases",
        singular: "lease", namespaced: true, hasStatus: false,
        printerColumns: [PrinterColumn(name: "Holder", type: "string", format: "", description: "", priority: 0, jsonPath: ".spec.holderIdentity"), age])
    static let crds = ResourceInfo(group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition",
        listKind: "CustomResourceDefinitionList", plural: "customresourcedefinitions", singular: "customresourcedefinition",
        namespaced: false, shortNames: ["crd", "crds"], categories: ["api-extensions"], hasStatus: true,
        printerColumns: [PrinterColumn(name: "Created At", type: "date", format: "", description: "", priority: 0, jsonPath: ".metadata.creationTimestamp")])

    /// The table of built-in kinds: adding a kind is one entry here (its `ResourceInfo`, and, when the API server or a
    /// controller fills in fields, a case in `BuiltinBehaviour`; its OpenAPI schema comes from `BuiltinOpenAPI`).
    static let all: [ResourceInfo] = [namespaces, pods, events, configMaps, secrets, serviceAccounts, services, jobs, leases, crds,
                                       validatingAdmissionPolicies, validatingAdmissionPolicyBindings,
                                       deployments, roles, roleBindings, clusterRoles, clusterRoleBindings, podDisruptionBudgets,
                                       selfSubjectAccessReviews, selfSubjectRulesReviews]
}

/// Everything the server currently serves, by group version and plural.
struct ResourceRegistry: Sendable {
    private(set) var resources: [ResourceInfo] = BuiltinResources.all

    func find(group: String, version: String, plural: String) -> ResourceInfo? {
        resources.first { $0.group == group && $0.version == version && $0.plural == plural }
    }

    func find(key: String) -> ResourceInfo? { resources.first { $0.key == key } }

    func find(apiVersion: String, kind: String) -> ResourceInfo? { resources.first { $0.apiVersion == apiVersion && $0.kind == kind } }

    /// Group versions, core first, in registration order.
    var groupVersions: [(group: String, version: String)] {
        var seen: [String] = []
        var out: [(String, String)] = []
        for r in resources where !seen.contains(r.apiVersion) {
            seen.append(r.apiVersion)
            out.append((r.group, r.version))
        }
        return out
    }

    mutating func register(_ infos: [ResourceInfo]) {
        for info in infos {
            resources.removeAll { $0.group == info.group && $0.version == info.version && $0.plural == info.plural }
            resources.append(info)
        }
    }

    mutating func unregister(group: String, plural: String) {
        resources.removeAll { $0.isCustom && $0.group == group && $0.plural == plural }
    }

    /// The resources a CustomResourceDefinition serves (one per served version).
    static func resources(fromCRD crd: JSONValue) -> [ResourceInfo] {
        guard let spec = crd["spec"], let group = spec["group"]?.stringValue, let names = spec["names"],
              let plural = names["plural"]?.stringValue, let kind = names["kind"]?.stringValue else { return [] }
        let namespaced = spec["scope"]?.stringValue != "Cluster"
        var out: [ResourceInfo] = []
        for version in spec["versions"]?.arrayValue ?? [] where version["served"]?.boolValue != false {
            guard let name = version["name"]?.stringValue else { continue }
            var columns: [PrinterColumn] = []
            for c in version["additionalPrinterColumns"]?.arrayValue ?? [] {
                columns.append(PrinterColumn(name: c["name"]?.stringValue ?? "", type: c["type"]?.stringValue ?? "string",
                    format: c["format"]?.stringValue ?? "", description: c["description"]?.stringValue ?? "",
                    priority: c["priority"]?.intValue ?? 0, jsonPath: c["jsonPath"]?.stringValue))
            }
            if columns.isEmpty { columns = [BuiltinResources.age] }
            out.append(ResourceInfo(group: group, version: name, kind: kind, listKind: names["listKind"]?.stringValue ?? "\(kind)List",
                plural: plural, singular: names["singular"]?.stringValue ?? kind.lowercased(), namespaced: namespaced,
                shortNames: names["shortNames"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                categories: names["categories"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                hasStatus: version["subresources"]?["status"] != nil, isCustom: true, printerColumns: columns,
                schema: version["schema"]?["openAPIV3Schema"]))
        }
        return out
    }
}
