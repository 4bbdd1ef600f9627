import KubeClient
import MirBuild

/// What a reconcile reads about the rest of the cluster: every ManagedImage (for parent chains and children) and
/// mir's build Jobs (for the global build limit). The controller reads its informer caches (``CachedClusterView``),
/// so a reconcile costs no list of the whole cluster; ``LiveClusterView`` lists from the API server instead.
/// A reconcile still reads the image itself and its own Jobs live: those decide writes.
public protocol ClusterView: Sendable {
    /// Every ManagedImage (including those being deleted).
    func managedImages() async throws -> [ManagedImageResource]
    /// mir's build Jobs in the build namespace.
    func buildJobs() async throws -> [Job]
}

/// Reads from the API server (two lists per call). For one-off reconciles and tests without a running manager.
public struct LiveClusterView: ClusterView {
    public let client: KubeClient
    public let buildNamespace: String

    public init(client: KubeClient, buildNamespace: String) {
        self.client = client
        self.buildNamespace = buildNamespace
    }

    public func managedImages() async throws -> [ManagedImageResource] {
        try await client.listAll(ManagedImageResource.self).items
    }

    public func buildJobs() async throws -> [Job] {
        try await client.listAll(Job.self, namespace: buildNamespace,
                                 options: ListOptions(labelSelector: ClusterBuildRecordStore.jobSelector)).items
    }
}

/// Reads the reflectors' stores: no API call. Slightly behind the server; the build scheduler's reservations cover a
/// Job not yet seen, and changes to ManagedImages enqueue a fresh reconcile when they arrive.
public struct CachedClusterView: ClusterView {
    public let images: ObjectStore<ManagedImageResource>
    public let jobs: ObjectStore<Job>

    public init(images: ObjectStore<ManagedImageResource>, jobs: ObjectStore<Job>) {
        self.images = images
        self.jobs = jobs
    }

    public func managedImages() async throws -> [ManagedImageResource] { images.all }
    public func buildJobs() async throws -> [Job] { jobs.all }
}
