import MirModel

/// The Go struct tags behind the JSON of the kinds in the .proto subset (k8s.io/api and apimachinery types.go, v1.32),
/// for the fields whose JSON is not "omit when zero". A field of the subset not named here is `omitempty` with a
/// value type, or a nested struct (written when present, see `GoJSON`).
enum GoJSONRules {
    static let time = "k8s.io.apimachinery.pkg.apis.meta.v1.Time"
    static let quantity = "k8s.io.apimachinery.pkg.api.resource.Quantity"
    static let intOrString = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
    /// Messages whose JSON is embedded raw JSON; none of the subset's kinds holds one, so meeting one is an error.
    static let rawJSONMessages: Set<String> = ["k8s.io.apimachinery.pkg.runtime.RawExtension"]

    static func shortName(_ fullName: String) -> String {
        fullName.split(separator: ".").last.map(String.init) ?? fullName
    }

    /// Written even when zero: Go pointers (`*int32`, `*bool`, `*string`) and fields without `omitempty`.
    static let keepZero: [String: Set<String>] = [
        "ObjectMeta": ["deletionGracePeriodSeconds"],
        "OwnerReference": ["apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"],
        "LabelSelectorRequirement": ["key", "operator"],
        "ConfigMap": ["immutable"],
        "Secret": ["immutable"],
        "ServiceAccount": ["automountServiceAccountToken"],
        "PodSpec": ["terminationGracePeriodSeconds", "activeDeadlineSeconds", "automountServiceAccountToken", "shareProcessNamespace",
                    "priority", "enableServiceLinks", "preemptionPolicy", "setHostnameAsFQDN", "hostUsers"],
        "Container": ["name"],
        "ContainerPort": ["containerPort"],
        "EnvVar": ["name"],
        "ServiceSpec": ["ipFamilyPolicy", "allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy", "trafficDistribution"],
        "ServicePort": ["appProtocol", "port"],
        "LoadBalancerIngress": ["ipMode"],
        "JobSpec": ["parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "backoffLimitPerIndex", "maxFailedIndexes",
                    "manualSelector", "ttlSecondsAfterFinished", "completionMode", "suspend", "podReplacementPolicy", "managedBy"],
        "JobStatus": ["terminating", "failedIndexes", "ready"],
        "DeploymentSpec": ["replicas", "revisionHistoryLimit", "progressDeadlineSeconds"],
        "DeploymentStatus": ["collisionCount"],
        "Subject": ["kind", "name"],
        "RoleRef": ["apiGroup", "kind", "name"],
        "PodDisruptionBudgetSpec": ["unhealthyPodEvictionPolicy"],
        "PodDisruptionBudgetStatus": ["disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"],
        "SubjectAccessReviewStatus": ["allowed"],
    ]

    /// Fields without `omitempty`: Go writes them even when the message lacks them (slices and maps as `null`).
    static let alwaysEmit: [String: [String: JSONValue]] = [
        "ObjectMeta": ["creationTimestamp": .null],
        "OwnerReference": ["apiVersion": .string(""), "kind": .string(""), "name": .string(""), "uid": .string("")],
        "LabelSelectorRequirement": ["key": .string(""), "operator": .string("")],
        "PodSpec": ["containers": .null],
        "Container": ["name": .string(""), "resources": .object([:])],
        "ContainerPort": ["containerPort": .number(0)],
        "EnvVar": ["name": .string("")],
        "ServicePort": ["port": .number(0)],
        "Role": ["rules": .null],
        "ClusterRole": ["rules": .null],
        "PolicyRule": ["verbs": .null],
        "RoleBinding": ["roleRef": .object(["apiGroup": .string(""), "kind": .string(""), "name": .string("")])],
        "ClusterRoleBinding": ["roleRef": .object(["apiGroup": .string(""), "kind": .string(""), "name": .string("")])],
        "Subject": ["kind": .string(""), "name": .string("")],
        "RoleRef": ["apiGroup": .string(""), "kind": .string(""), "name": .string("")],
        "PodDisruptionBudgetStatus": ["disruptionsAllowed": .number(0), "currentHealthy": .number(0), "desiredHealthy": .number(0),
                                      "expectedPods": .number(0)],
        "SubjectAccessReviewStatus": ["allowed": .bool(false)],
    ]
}
