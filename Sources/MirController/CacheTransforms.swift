import KubeClient
import MirModel

/// What the controller's informer caches keep of each object — controller-runtime's transform functions
/// (`cache.TransformStripManagedFields` and a per-type trim): the caches feed the event loop, the children index and
/// the build limit, while a reconcile reads its own image and Jobs live. Whatever the cache drops is never read from it.
public enum CacheTransforms {
    /// A ManagedImage without `metadata.managedFields` (a real API server sends them; they can outweigh the object).
    @Sendable public static func managedImage(_ object: ManagedImageResource) -> ManagedImageResource {
        var object = object
        object.metadata.unknownFields["managedFields"] = nil
        return object
    }

    /// A build Job with its metadata and status, and of its spec only what outcome classification reads
    /// (`activeDeadlineSeconds`, `backoffLimit`): the pod template — most of a Job — is dropped.
    @Sendable public static func buildJob(_ job: Job) -> Job {
        var job = job
        job.metadata.unknownFields["managedFields"] = nil
        if var spec = job.spec {
            spec.template = .object([:])
            spec.podFailurePolicy = nil
            spec.selector = nil
            job.spec = spec
        }
        return job
    }
}
