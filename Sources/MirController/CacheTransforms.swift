import KubeClient
import MirModel

/// What the controller's informer caches keep of each object — controller-runtime's transform functions
/// (`cache.TransformStripManagedFields`) and a per-type trim: the caches feed the event loop, the children index and
/// the build limit, while a reconcile reads its own image and Jobs live. Whatever the cache drops is never read from it.
public enum CacheTransforms {
    /// A ManagedImage with its metadata (without `managedFields`: a real API server sends them, and they can outweigh
    /// the object), its spec and, of its status, the phase and image tag: what the event loop compares and counts.
    /// Ancestors are read from the cache for their spec and deletion only; a reconcile reads its own image live, so
    /// conditions, pip lists and build details — most of a status — are not kept.
    @Sendable public static func managedImage(_ object: ManagedImageResource) -> ManagedImageResource {
        var object = object
        object.metadata.unknownFields["managedFields"] = nil
        object.status = object.status.map { status in
            var kept = ManagedImageStatus()
            kept.phase = status.phase
            kept.imageTag = status.imageTag
            return kept
        }
        return object
    }

    /// A cached build Job without `metadata.managedFields`.
    @Sendable public static func buildJob(_ job: CachedBuildJob) -> CachedBuildJob {
        var job = job
        job.metadata.unknownFields["managedFields"] = nil
        return job
    }
}

/// A build Job as the controller's cache keeps it: its metadata, its status and the two spec fields outcome
/// classification reads. The pod template — most of a Job — is not a field here, so the decoder skips it and never
/// builds it (decoding templates was most of the controller's start-up).
public struct CachedBuildJob: KubeResource, Hashable {
    public static let group = Job.group
    public static let version = Job.version
    public static let plural = Job.plural
    public static let kind = Job.kind
    public static let namespaced = Job.namespaced

    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Job.Status?

    public struct Spec: Sendable, Hashable, Codable {
        public var backoffLimit: Int?
        public var activeDeadlineSeconds: Int?
    }

    public init(_ job: Job) {
        metadata = job.metadata
        spec = job.spec.map { Spec(backoffLimit: $0.backoffLimit, activeDeadlineSeconds: $0.activeDeadlineSeconds) }
        status = job.status
    }

    /// The Job with what the cache kept (an empty pod template).
    public var job: Job {
        Job(metadata: metadata, spec: spec.map { Job.Spec(template: .object([:]), backoffLimit: $0.backoffLimit,
                                                          activeDeadlineSeconds: $0.activeDeadlineSeconds) },
            status: status)
    }
}
