import Crypto
import Foundation
import MirModel

/// The ManagedImage that owns a build Job and its ConfigMap (a cluster-scoped owner of namespaced objects).
public struct BuildJobOwner: Sendable, Hashable {
    public var name: String
    public var uid: String

    public init(name: String, uid: String) {
        self.name = name
        self.uid = uid
    }
}

/// The Kubernetes objects of one build: a ConfigMap with the build context and a batch/v1 Job that runs kaniko
/// (init container `kaniko`) and then reports `pip list` from the freshly built image (container `report`).
/// Deterministic: the same request and settings always give the same objects.
public enum BuildJobManifest {
    public static let managedByLabel = "app.kubernetes.io/managed-by"
    public static let imageLabel = "mir.dev/image"
    public static let tagLabel = "mir.dev/tag"
    public static let kanikoContainerName = "kaniko"
    public static let reportContainerName = "report"
    /// kaniko exit codes that retrying cannot fix: 2 (usage), 100 (apt-get), 126/127 (command not executable or
    /// missing in the base image). kaniko's own errors and failing pip installs exit with 1 and count against
    /// `backoffLimit`.
    public static let permanentKanikoExitCodes = [2, 100, 126, 127]
    /// The `env` of the report container (the local build engine runs the report step with the same).
    public static let reportEnvironment: [(String, String)] = [
        ("HOME", "/tmp"), ("PYTHONDONTWRITEBYTECODE", "1"), ("PIP_NO_CACHE_DIR", "1"), ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    ]

    /// `mir-build-<image, cut to fit>-<10 hex of SHA-256 over "image:tag">`: at most 63 characters, a DNS-1123
    /// label, unique per (image, tag).
    public static func jobName(image: String, tag: String) -> String {
        let hash = ImageTagger.sha256Hex(image + ":" + tag).prefix(10)
        let cleaned = String(image.lowercased().map { ($0.isASCII && ($0.isLetter || $0.isNumber)) ? $0 : "-" })
        var stem = String(cleaned.prefix(63 - "mir-build-".count - 1 - hash.count))
        while stem.hasSuffix("-") { stem.removeLast() }
        while stem.hasPrefix("-") { stem.removeFirst() }
        return "mir-build-\(stem.isEmpty ? "image" : stem)-\(hash)"
    }

    /// The labels of the Job, its pods and the ConfigMap.
    public static func labels(image: String, tag: String) -> [String: String] {
        [managedByLabel: "mir", imageLabel: image, tagLabel: tag, "app.kubernetes.io/component": "image-build"]
    }

    /// `[ConfigMap, Job]`.
    public static func objects(for request: BuildRequest, settings: BuilderSettings,
                               owner: BuildJobOwner? = nil) throws(BuildContextError) -> [JSONValue] {
        [try configMap(for: request, settings: settings, owner: owner), try job(for: request, settings: settings, owner: owner)]
    }

    /// The ConfigMap holding the build context (`Dockerfile`) and, for an ECR destination, a docker config
    /// (`config.json`) that makes kaniko use the ECR credential helper (IRSA credentials).
    public static func configMap(for request: BuildRequest, settings: BuilderSettings,
                                 owner: BuildJobOwner? = nil) throws(BuildContextError) -> JSONValue {
        try checkSettings(request, settings)
        var data: [String: ManifestValue] = ["Dockerfile": .string(try BuildContextRenderer.dockerfile(for: request))]
        if let dockerConfig = dockerConfig(repositoryURI: request.repositoryURI) { data["config.json"] = .string(dockerConfig) }
        let configMap: ManifestValue = [
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(request, settings, owner),
            "data": .object(data),
        ]
        return configMap.json
    }

    /// The build Job (batch/v1).
    public static func job(for request: BuildRequest, settings: BuilderSettings,
                           owner: BuildJobOwner? = nil) throws(BuildContextError) -> JSONValue {
        try checkSettings(request, settings)
        let name = jobName(image: request.image.name, tag: request.image.tag)
        let destination = "\(request.repositoryURI):\(request.image.tag)"
        let labelObject = ManifestValue.object(labels(image: request.image.name, tag: request.image.tag).mapValues(ManifestValue.string))

        var kanikoMounts: [ManifestValue] = [["name": "build-context", "mountPath": "/workspace", "readOnly": true]]
        var volumes: [ManifestValue] = [
            ["name": "build-context", "configMap": ["name": .string(name), "items": [["key": "Dockerfile", "path": "Dockerfile"]]]],
            ["name": "tmp", "emptyDir": ["sizeLimit": "64Mi"]],
        ]
        if dockerConfig(repositoryURI: request.repositoryURI) != nil {
            kanikoMounts.append(["name": "docker-config", "mountPath": "/kaniko/.docker", "readOnly": true])
            volumes.append(["name": "docker-config", "configMap": ["name": .string(name), "items": [["key": "config.json", "path": "config.json"]]]])
        }
        let kaniko: ManifestValue = [
            "name": .string(kanikoContainerName),
            "image": .string(settings.kanikoImage),
            "args": [
                "--dockerfile=/workspace/Dockerfile",
                "--context=dir:///workspace",
                .string("--destination=\(destination)"),
                "--digest-file=/dev/termination-log",
            ],
            "volumeMounts": .array(kanikoMounts),
            // Bounded: a build cannot take a node's CPU or fill its disk (kaniko unpacks the image into its filesystem).
            "resources": ["requests": ["cpu": "500m", "memory": "1Gi", "ephemeral-storage": "2Gi"],
                          "limits": ["cpu": "2", "memory": "4Gi", "ephemeral-storage": "20Gi"]],
            "terminationMessagePolicy": "FallbackToLogsOnError",
        ]
        let report: ManifestValue = [
            "name": .string(reportContainerName),
            "image": .string(destination),
            "imagePullPolicy": "IfNotPresent",
            "command": ["python", "-c", .string(BuildReport.script)],
            "env": .array(reportEnvironment.map { ["name": .string($0.0), "value": .string($0.1)] }),
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "volumeMounts": [["name": "tmp", "mountPath": "/tmp"]],
            "resources": ["requests": ["cpu": "50m", "memory": "64Mi"], "limits": ["cpu": "500m", "memory": "256Mi", "ephemeral-storage": "256Mi"]],
            "securityContext": [
                "runAsNonRoot": true, "runAsUser": 65534, "runAsGroup": 65534,
                "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                "capabilities": ["drop": ["ALL"]],
            ],
        ]
        let podFailurePolicy: ManifestValue = ["rules": [
            // Evictions, preemptions and node drains do not count as failures.
            ["action": "Ignore", "onPodConditions": [["type": "DisruptionTarget", "status": "True"]]],
            // The image was built but cannot report its pip list: a retry builds the same image again.
            ["action": "FailJob", "onExitCodes": ["containerName": .string(reportContainerName), "operator": "NotIn", "values": [0]]],
            ["action": "FailJob", "onExitCodes": ["containerName": .string(kanikoContainerName), "operator": "In",
                                                  "values": .array(permanentKanikoExitCodes.map { .number(Double($0)) })]],
        ]]
        let job: ManifestValue = [
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata(request, settings, owner),
            "spec": [
                "activeDeadlineSeconds": .number(Double(settings.activeDeadlineSeconds)),
                "backoffLimit": .number(Double(settings.backoffLimit)),
                "ttlSecondsAfterFinished": .number(Double(settings.ttlSecondsAfterFinished)),
                "podFailurePolicy": podFailurePolicy,
                "template": [
                    // `kubectl logs job/<name>` shows the build (kaniko's output, pip's among it), not the report.
                    "metadata": ["labels": labelObject, "annotations": ["kubectl.kubernetes.io/default-container": .string(kanikoContainerName)]],
                    "spec": [
                        "restartPolicy": "Never",
                        "serviceAccountName": .string(settings.serviceAccountName),
                        // The build runs user-chosen packages: it gets no Kubernetes API token.
                        "automountServiceAccountToken": false,
                        "securityContext": ["seccompProfile": ["type": "RuntimeDefault"]],
                        "initContainers": [kaniko],
                        "containers": [report],
                        "volumes": .array(volumes),
                    ],
                ],
            ],
        ]
        return job.json
    }

    /// The objects as text `kubectl apply -f` accepts: a comment line, then pretty JSON documents (keys sorted),
    /// each after a `---` line. The text must not start with `{`: kubectl would then read the whole file as one
    /// JSON stream and reject the `---` separators.
    public static func manifestText(_ objects: [JSONValue]) -> String {
        "# Rendered by mir: the build context ConfigMap and the kaniko Job. Apply with: kubectl apply -f <this file>\n"
            + objects.map { "---\n" + prettyJSON($0) + "\n" }.joined()
    }

    static func prettyJSON(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return value.canonicalText }
        return String(decoding: data, as: UTF8.self)
    }

    /// A docker config that selects the ECR credential helper, for a destination in ECR (`*.dkr.ecr.*.amazonaws.com*`).
    static func dockerConfig(repositoryURI: String) -> String? {
        let host = String(repositoryURI.prefix { $0 != "/" })
        guard host.contains(".dkr.ecr."), host.contains(".amazonaws.com") else { return nil }
        return JSONValue.object(["credHelpers": .object([host: .string("ecr-login")])]).canonicalText
    }

    static func metadata(_ request: BuildRequest, _ settings: BuilderSettings, _ owner: BuildJobOwner?) -> ManifestValue {
        let image = request.image
        var annotations: [String: ManifestValue] = [
            "mir.dev/reason": .string(request.reason.rawValue),
            "mir.dev/spec-digest": .string(image.specDigest),
            "mir.dev/platform-version": .string(request.platformVersion),
            "mir.dev/python-version": .string(image.pythonVersion),
            "mir.dev/repository-uri": .string(request.repositoryURI),
        ]
        if let parentTag = image.parentTag { annotations["mir.dev/parent-tag"] = .string(parentTag) }
        var metadata: [String: ManifestValue] = [
            "name": .string(jobName(image: image.name, tag: image.tag)),
            "namespace": .string(settings.buildNamespace),
            "labels": .object(labels(image: image.name, tag: image.tag).mapValues(ManifestValue.string)),
            "annotations": .object(annotations),
        ]
        if let owner {
            metadata["ownerReferences"] = [[
                "apiVersion": .string(ManagedImage.apiVersion),
                "kind": .string(ManagedImage.kind),
                "name": .string(owner.name),
                "uid": .string(owner.uid),
                "controller": true,
                "blockOwnerDeletion": true,
            ]]
        }
        return .object(metadata)
    }

    static func checkSettings(_ request: BuildRequest, _ settings: BuilderSettings) throws(BuildContextError) {
        try BuildContextRenderer.check(request.image.name, "metadata.name", BuildInputGrammar.isDNSLabel, "is not a DNS-1123 label")
        try BuildContextRenderer.check(request.image.tag, "tag", BuildInputGrammar.isImageTag, "is not an image tag")
        try BuildContextRenderer.check(request.repositoryURI + ":" + request.image.tag, "repositoryURI",
                                       BuildInputGrammar.isImageReference, "with the tag is not an image reference")
        try BuildContextRenderer.check(settings.kanikoImage, "builder.kanikoImage", BuildInputGrammar.isImageReference,
                                       "is not an image reference")
        try BuildContextRenderer.check(settings.buildNamespace, "builder.buildNamespace", BuildInputGrammar.isDNSLabel,
                                       "is not a DNS-1123 label")
        try BuildContextRenderer.check(settings.serviceAccountName, "builder.serviceAccountName", BuildInputGrammar.isDNSSubdomain,
                                       "is not a DNS-1123 subdomain")
        guard settings.serviceAccountName != "default" else {
            throw BuildContextError(field: "builder.serviceAccountName", value: "default",
                                    reason: "build pods need a ServiceAccount of their own (e.g. mir-builder), not the namespace's default one")
        }
        let numbers = [("builder.activeDeadlineSeconds", settings.activeDeadlineSeconds, 1),
                       ("builder.backoffLimit", settings.backoffLimit, 0),
                       ("builder.ttlSecondsAfterFinished", settings.ttlSecondsAfterFinished, 0)]
        for (field, value, minimum) in numbers where value < minimum {
            throw BuildContextError(field: field, value: String(value), reason: "must be at least \(minimum)")
        }
    }
}

/// A JSON value written with literals, for building manifests readably; `json` converts it to `JSONValue`.
/// (Kept local so that MirModel's `JSONValue` gains no conformances from this module.)
indirect enum ManifestValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    case string(String)
    case number(Double)
    case bool(Bool)
    case array([ManifestValue])
    case object([String: ManifestValue])

    init(stringLiteral value: String) { self = .string(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(integerLiteral value: Int) { self = .number(Double(value)) }
    init(arrayLiteral elements: ManifestValue...) { self = .array(elements) }
    init(dictionaryLiteral elements: (String, ManifestValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    var json: JSONValue {
        switch self {
        case .string(let s): .string(s)
        case .number(let n): .number(n)
        case .bool(let b): .bool(b)
        case .array(let a): .array(a.map(\.json))
        case .object(let o): .object(o.mapValues(\.json))
        }
    }
}
