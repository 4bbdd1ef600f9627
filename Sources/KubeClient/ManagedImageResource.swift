import Foundation
import MirModel

/// The `mir.dev/v1alpha1` ManagedImage custom resource (cluster-scoped).
///
/// `spec` is kept as the JSON the server sent, so one invalid object never breaks a list or watch and an update
/// never drops spec fields this version does not know; `decodedSpec()` gives MirModel's typed spec.
public struct ManagedImageResource: KubeResource, Hashable {
    public static let group = "mir.dev"
    public static let version = "v1alpha1"
    public static let plural = "managedimages"
    public static let kind = "ManagedImage"
    public static let namespaced = false

    public var metadata: ObjectMeta
    public var spec: JSONValue?
    public var status: ManagedImageStatus?

    public init(metadata: ObjectMeta, spec: JSONValue?, status: ManagedImageStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    /// A resource for a typed spec.
    public init(name: String, spec: ManagedImageSpec, labels: [String: String]? = nil) throws {
        self.init(metadata: ObjectMeta(name: name, labels: labels), spec: try KubeJSON.toJSONValue(spec))
    }

    /// `spec.base.managedImage`, read from the JSON without decoding the spec (for the controller's children index):
    /// the parent this image names, valid spec or not.
    public var parentName: String? { spec?["base"]?["managedImage"]?.stringValue }

    /// The spec decoded as MirModel's `ManagedImageSpec`, with the CRD's defaults for omitted lists and the
    /// deletion policy (`[]`, `[]`, `Delete`).
    public func decodedSpec() throws -> ManagedImageSpec {
        guard case .object(var fields)? = spec else {
            throw KubeClientError(operation: "decode ManagedImage \(metadata.name ?? "") spec", message: "spec is missing or not an object")
        }
        for (key, value) in [("pipRequirements", JSONValue.array([])), ("packageRequirements", .array([])),
                             ("deletionPolicy", .string(DeletionPolicy.delete.rawValue))] where fields[key] == nil || fields[key] == .null {
            fields[key] = value
        }
        do {
            return try KubeJSON.fromJSONValue(.object(fields), as: ManagedImageSpec.self)
        } catch {
            throw KubeClientError(operation: "decode ManagedImage \(metadata.name ?? "") spec", message: "\(error)")
        }
    }
}

/// Observed state of a ManagedImage (issue 5 §4).
public struct ManagedImageStatus: Sendable, Hashable, Codable {
    public var phase: String?
    public var repositoryName: String?
    public var repositoryURI: String?
    public var imageTag: String?
    public var imageDigest: String?
    public var platformVersion: String?
    /// The Python version the image uses: its own, or (for a child) the one inherited from its parents.
    public var pythonVersion: String?
    public var pipLibraries: [PipLibrary]?
    public var childImages: [String]?
    public var build: BuildStatus?
    public var observedGeneration: Int?
    public var conditions: [Condition]?

    public init(phase: String? = nil, repositoryName: String? = nil, repositoryURI: String? = nil, imageTag: String? = nil,
                imageDigest: String? = nil, platformVersion: String? = nil, pipLibraries: [PipLibrary]? = nil,
                childImages: [String]? = nil, build: BuildStatus? = nil, observedGeneration: Int? = nil,
                conditions: [Condition]? = nil) {
        self.phase = phase
        self.repositoryName = repositoryName
        self.repositoryURI = repositoryURI
        self.imageTag = imageTag
        self.imageDigest = imageDigest
        self.platformVersion = platformVersion
        self.pipLibraries = pipLibraries
        self.childImages = childImages
        self.build = build
        self.observedGeneration = observedGeneration
        self.conditions = conditions
    }

    public struct BuildStatus: Sendable, Hashable, Codable {
        public var jobName: String?
        public var reason: String?
        public var startTime: Date?
        public var completionTime: Date?
        public var message: String?

        public init(jobName: String? = nil, reason: String? = nil, startTime: Date? = nil, completionTime: Date? = nil, message: String? = nil) {
            self.jobName = jobName
            self.reason = reason
            self.startTime = startTime
            self.completionTime = completionTime
            self.message = message
        }
    }
}
