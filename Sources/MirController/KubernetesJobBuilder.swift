import Foundation
import KubeClient
import MirBuild
import MirModel

/// The `kubernetes` builder: creates the build context ConfigMap and the kaniko Job of `BuildJobManifest` in
/// `buildNamespace`, owned by the ManagedImage. Idempotent: an existing Job for the same (image, tag) is reused
/// (its name is deterministic), so a restarted controller never creates a duplicate.
public struct KubernetesJobBuilder: ImageBuilder {
    public let client: KubeClient
    public let settings: BuilderSettings
    public var name: String { "kubernetes" }
    public var isSimulation: Bool { false }

    /// The annotation on the ManagedImage that asks for a manual rebuild; the Job records the value it served.
    public static let rebuildAnnotation = "mir.dev/rebuild"

    public init(client: KubeClient, settings: BuilderSettings) {
        self.client = client
        self.settings = settings
    }

    public func build(_ request: BuildRequest) async throws -> BuildRecord {
        try await submit(request, owner: nil, rebuildToken: nil)
    }

    /// Creates (or finds) the ConfigMap and Job of `request`. Returns a `.running` record (or the existing Job's).
    public func submit(_ request: BuildRequest, owner: BuildJobOwner?, rebuildToken: String?) async throws -> BuildRecord {
        let jobName = BuildJobManifest.jobName(image: request.image.name, tag: request.image.tag)
        let namespace = settings.buildNamespace
        var configMap = try BuildJobManifest.configMap(for: request, settings: settings, owner: owner)
        var job = try BuildJobManifest.job(for: request, settings: settings, owner: owner)
        // Extra annotations: the manual rebuild served, and what a simulated job runner needs to simulate the build.
        var annotations: [String: String] = [
            "mir.dev/image": request.image.name,
            "mir.dev/tag": request.image.tag,
            "mir.dev/repository-name": request.image.repositoryName,
            "mir.dev/base-image": request.baseImageReference,
            "mir.dev/build-reason": request.reason.rawValue,
        ]
        if let specText = try? String(decoding: JSONEncoder().encode(request.image.image.spec), as: UTF8.self) {
            annotations["mir.dev/spec"] = specText
        }
        if let rebuildToken { annotations[Self.rebuildAnnotation] = rebuildToken }
        for (k, v) in annotations { job.set(["metadata", "annotations", k], .string(v)) }
        configMap.set(["metadata", "namespace"], .string(namespace))

        do {
            let _: DynamicObject = try await client.create(ConfigMap.resourceType, object: DynamicObject(configMap), namespace: namespace)
        } catch let error as KubeAPIError where error.isAlreadyExists {
            // A previous attempt (or a previous controller) created it: same name, same content.
        }
        do {
            let created: Job = try await client.create(Job.resourceType, object: DynamicObject(job), namespace: namespace)
                .decoded()
            return ClusterBuildRecordStore.record(job: created, pods: [], simulated: false)
        } catch let error as KubeAPIError where error.isAlreadyExists {
            let existing = try await client.get(Job.self, name: jobName, namespace: namespace)
            return ClusterBuildRecordStore.record(job: existing, pods: [], simulated: false)
        }
    }
}

extension DynamicObject {
    func decoded<T: Decodable>(as type: T.Type = T.self) throws -> T { try KubeJSON.fromJSONValue(json, as: T.self) }
}

extension JSONValue {
    /// Sets the value at `path`, creating objects along the way.
    mutating func set(_ path: [String], _ value: JSONValue) {
        guard let key = path.first else { self = value; return }
        var object = objectValue ?? [:]
        var child = object[key] ?? .object([:])
        child.set(Array(path.dropFirst()), value)
        object[key] = child
        self = .object(object)
    }
}
