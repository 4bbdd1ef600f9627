import KubeClient
import MirBuild
import MirModel
import Synchronization

/// One ManagedImage as a reconcile reads it: the object and its spec, decoded (in the controller: once per
/// resourceVersion) or the decoding error.
public struct ClusterImage: Sendable {
    public var resource: ManagedImageResource
    public var spec: Result<ManagedImageSpec, any Error>

    public init(resource: ManagedImageResource, spec: Result<ManagedImageSpec, any Error>) {
        self.resource = resource
        self.spec = spec
    }

    public var name: String { resource.metadata.name ?? "" }
    public var isBeingDeleted: Bool { resource.metadata.deletionTimestamp != nil }
}

/// What a reconcile reads about the rest of the cluster: its own ancestor chain (one image at a time), its children
/// and mir's build Jobs (for the global build limit). The controller reads its informer caches
/// (``CachedClusterView``: a name lookup and an index lookup, whatever the size of the fleet); ``LiveClusterView``
/// asks the API server instead. A reconcile still reads the image itself and its own Jobs live: those decide writes.
public protocol ClusterView: Sendable {
    /// The ManagedImage `name` (including one being deleted), or nil.
    func managedImage(named name: String) async throws -> ClusterImage?
    /// `resource` with its spec decoded (the controller's view decodes each UID and resourceVersion once).
    func image(for resource: ManagedImageResource) -> ClusterImage
    /// The names of the ManagedImages not being deleted whose spec has `base.managedImage: name`, sorted.
    func children(of name: String) async throws -> [String]
    /// The images with a build Job running (not finished, not being deleted) in the build namespace: the global
    /// build limit counts them.
    func imagesBuilding() async throws -> Set<String>
}

extension Job {
    /// The image this build Job builds, if it is one of mir's and still running (not finished, not being deleted).
    var runningBuildImage: String? {
        guard metadata.deletionTimestamp == nil, !JobOutcomeClassifier.classify(job: self, pods: []).isFinished else { return nil }
        return metadata.labels?[BuildJobManifest.imageLabel]
    }
}

/// Reads from the API server. For one-off reconciles and tests without a running manager.
public struct LiveClusterView: ClusterView {
    public let client: KubeClient
    public let buildNamespace: String

    public init(client: KubeClient, buildNamespace: String) {
        self.client = client
        self.buildNamespace = buildNamespace
    }

    public func managedImage(named name: String) async throws -> ClusterImage? {
        do {
            let resource = try await client.get(ManagedImageResource.self, name: name)
            return ClusterImage(resource: resource, spec: Result { try resource.decodedSpec() })
        } catch let error as KubeAPIError where error.isNotFound {
            return nil
        }
    }

    public func image(for resource: ManagedImageResource) -> ClusterImage {
        ClusterImage(resource: resource, spec: Result { try resource.decodedSpec() })
    }

    public func children(of name: String) async throws -> [String] {
        try await client.listAll(ManagedImageResource.self).items.compactMap { o -> String? in
            guard o.metadata.deletionTimestamp == nil, o.parentName == name,
                  case .managedImage(name)? = try? o.decodedSpec().base else { return nil }
            return o.metadata.name
        }.sorted()
    }

    public func imagesBuilding() async throws -> Set<String> {
        Set(try await client.listAll(Job.self, namespace: buildNamespace,
                                     options: ListOptions(labelSelector: ClusterBuildRecordStore.jobSelector)).items.compactMap(\.runningBuildImage))
    }
}

/// Counted work of the cache reads (deterministic, unlike time): objects read from the cache and specs decoded.
/// A steady reconcile reads its own ancestor chain and decodes nothing new, at any size of the fleet.
public final class CacheWork: Sendable {
    private let reads = Atomic<Int>(0)
    private let decodes = Atomic<Int>(0)
    public init() {}
    /// ManagedImages read from the cache (by name or through the children index).
    public var objectsRead: Int { reads.load(ordering: .relaxed) }
    /// Specs decoded from their JSON (a cache miss of the decoded-spec memo).
    public var specsDecoded: Int { decodes.load(ordering: .relaxed) }
    func read(_ n: Int = 1) {
        reads.add(n, ordering: .relaxed)
        ControllerMetrics.cacheObjectsRead(n)
    }
    func decoded() {
        decodes.add(1, ordering: .relaxed)
        ControllerMetrics.specDecoded()
    }
}

/// ManagedImage specs decoded once per (UID, resourceVersion): a reconcile, the children index and the event loop
/// share one decoding of each version of each object, never a JSON round trip per read.
public final class DecodedSpecMemo: Sendable {
    private struct Entry {
        var uid: String?
        var resourceVersion: String?
        var spec: Result<ManagedImageSpec, any Error>
    }
    private let entries = Mutex<[String: Entry]>([:])
    let work: CacheWork

    public init(work: CacheWork = CacheWork()) {
        self.work = work
    }

    /// The decoded spec of `resource`, decoding it only if this UID and resourceVersion were not decoded before.
    public func spec(of resource: ManagedImageResource) -> Result<ManagedImageSpec, any Error> {
        let name = resource.metadata.name ?? ""
        let uid = resource.metadata.uid
        let version = resource.metadata.resourceVersion
        if let hit = entries.withLock({ e -> Result<ManagedImageSpec, any Error>? in
            guard let entry = e[name], entry.uid == uid, entry.resourceVersion == version, version != nil else { return nil }
            return entry.spec
        }) { return hit }
        let spec = Result<ManagedImageSpec, any Error> { try resource.decodedSpec() }
        work.decoded()
        entries.withLock { $0[name] = Entry(uid: uid, resourceVersion: version, spec: spec) }
        return spec
    }

    /// Drops the memo of a deleted object.
    public func forget(_ name: String) { _ = entries.withLock { $0.removeValue(forKey: name) } }

    public var count: Int { entries.withLock { $0.count } }
}

/// Reads the reflectors' stores: no API call, and only what the reconcile needs — a name lookup per ancestor and
/// the children index (``parentIndex``). Slightly behind the server; the build scheduler's reservations cover a Job
/// not yet seen, and changes to ManagedImages enqueue a fresh reconcile when they arrive.
public struct CachedClusterView: ClusterView {
    /// The ManagedImage store's index of children by the parent their spec names (controller-runtime's field indexer).
    public static let parentIndex = "spec.base.managedImage"
    /// The index functions the ManagedImage reflector's store must have.
    public static let imageIndexers: [String: ObjectStore<ManagedImageResource>.IndexFunction] = [
        parentIndex: { o in o.parentName.map { [$0] } ?? [] },
    ]
    /// The build Job store's index of running builds by image: the global build limit reads the index's values
    /// (as many as builds run), not every Job of the fleet.
    public static let runningBuildIndex = "runningBuild.image"
    public static let jobIndexers: [String: ObjectStore<CachedBuildJob>.IndexFunction] = [
        runningBuildIndex: { cached in cached.job.runningBuildImage.map { [$0] } ?? [] },
    ]

    public let images: ObjectStore<ManagedImageResource>
    public let jobs: ObjectStore<CachedBuildJob>
    public let specs: DecodedSpecMemo
    public var work: CacheWork { specs.work }

    public init(images: ObjectStore<ManagedImageResource>, jobs: ObjectStore<CachedBuildJob>, specs: DecodedSpecMemo = DecodedSpecMemo()) {
        self.images = images
        self.jobs = jobs
        self.specs = specs
    }

    public func managedImage(named name: String) async throws -> ClusterImage? {
        guard let resource = images.get(name) else { return nil }
        work.read()
        return ClusterImage(resource: resource, spec: specs.spec(of: resource))
    }

    public func image(for resource: ManagedImageResource) -> ClusterImage {
        ClusterImage(resource: resource, spec: specs.spec(of: resource))
    }

    public func children(of name: String) async throws -> [String] { childNames(of: name) }

    /// Synchronous form of ``children(of:)`` for the event loop.
    public func childNames(of name: String) -> [String] {
        let candidates = images.objects(inIndex: Self.parentIndex, value: name)
        work.read(candidates.count)
        return candidates.compactMap { o -> String? in
            guard o.metadata.deletionTimestamp == nil, case .managedImage(name)? = try? specs.spec(of: o).get().base else { return nil }
            return o.metadata.name
        }.sorted()
    }

    public func imagesBuilding() async throws -> Set<String> { Set(jobs.values(ofIndex: Self.runningBuildIndex)) }
}
