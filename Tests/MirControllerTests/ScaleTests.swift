import ECRFaultInjection
import Foundation
import KubeClient
import Logging
import MirBuild
import MirController
import MirCore
import MirECR
import MirLocalRegistry
import MirModel
import MirRegistry
import MirTestSupport
import Testing

/// Issue 9 §1–2: a reconcile's counted work does not grow with the fleet; ECR is read per image, and listed once per
/// resync by the garbage-collection pass. Everything here is counted, never timed.
@Suite(.timeLimit(.minutes(5))) struct ScaleTests {
    /// A fleet of `size` ManagedImages (a tenth parents, each with nine children), as the reflector would cache them.
    static func fleet(_ size: Int) throws -> [ManagedImageResource] {
        try (0..<size).map { i in
            let parent = i % 10 == 0 ? nil : "fleet-\(i - i % 10)"
            var o = try ManagedImageResource(name: "fleet-\(i)", spec: spec(pip: ["requests", "pkg\(i % 97)"], parent: parent))
            o.metadata.uid = "uid-fleet-\(i)"
            o.metadata.resourceVersion = "\(i + 1)"
            return o
        }
    }

    static func view(with objects: [ManagedImageResource]) -> CachedClusterView {
        let images = ObjectStore<ManagedImageResource>(indexers: CachedClusterView.imageIndexers)
        for o in objects { images.put(o.metadata.name ?? "", o) }
        return CachedClusterView(images: images, jobs: ObjectStore<CachedBuildJob>())
    }

    @Test func specsAreDecodedOncePerResourceVersionAndChildrenComeFromTheIndex() throws {
        let view = Self.view(with: try Self.fleet(1000))
        for _ in 0..<3 { #expect(view.childNames(of: "fleet-20") == (21...29).map { "fleet-\($0)" }.sorted()) }
        // Nine children decoded once each; reading them twice more decodes nothing.
        #expect(view.work.specsDecoded == 9)
        #expect(view.work.objectsRead == 27)
        // A new resourceVersion of one child is decoded again (once).
        var changed = try #require(view.images.get("fleet-21"))
        changed.metadata.resourceVersion = "9999"
        view.images.put("fleet-21", changed)
        _ = view.childNames(of: "fleet-20")
        _ = view.childNames(of: "fleet-20")
        #expect(view.work.specsDecoded == 10)
        #expect(view.childNames(of: "fleet-21").isEmpty)
    }

    struct SteadyCost: Equatable {
        var objectsRead: Int
        var specsDecoded: Int
        var registryCalls: [String: Int]
        var apiRequests: Int
    }

    /// The same steady reconcile of one child image against fleets of 100 and 2,000 cached images costs exactly the
    /// same: cache objects read, specs decoded, registry calls and Kubernetes API requests.
    @Test func aSteadyReconcileCostsTheSameAtEveryFleetSize() async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(10))
        defer { Task { await h.stop() } }
        let run = h.start(h.manager())
        try await h.create("scale-parent", spec: spec(pip: ["numpy"]))
        try await h.create("scale-child", spec: spec(pip: ["pandas"], parent: "scale-parent"))
        try await h.waitFor("scale-child", "Ready") { $0.status?.phase == "Ready" }
        run.cancel()
        await run.value

        var costs: [Int: SteadyCost] = [:]
        for size in [100, 2000] {
            let real = [try await h.image("scale-parent"), try await h.image("scale-child")]
            let view = Self.view(with: try Self.fleet(size) + real)
            let calls = CallCounter()
            let reconciler = ManagedImageReconciler(
                client: h.client, registry: CountingRegistry(h.registry, counter: calls), config: h.config,
                scheduler: BuildScheduler(maxConcurrentBuilds: 4), events: EventRecorder(client: h.client, instance: "scale"), view: view)
            #expect(try await reconciler.reconcile("scale-child") == .done)  // warms the memo
            let read = view.work.objectsRead, decoded = view.work.specsDecoded, before = calls.calls
            h.plane.requests.reset()
            #expect(try await reconciler.reconcile("scale-child") == .done)
            let after = calls.calls
            costs[size] = SteadyCost(
                objectsRead: view.work.objectsRead - read, specsDecoded: view.work.specsDecoded - decoded,
                registryCalls: after.merging(before.mapValues { -$0 }, uniquingKeysWith: +).filter { $0.value != 0 },
                apiRequests: h.plane.requests.total)
        }
        let small = try #require(costs[100]), large = try #require(costs[2000])
        #expect(small == large)
        // The chain (the parent) is read from the cache; the image itself is the live object; no child.
        #expect(small.objectsRead == 1)
        #expect(small.specsDecoded <= 1)
        // One repository, read by name: DescribeRepositories(names: [it]), its tags, policy and images (+ the digest).
        #expect(small.registryCalls["DescribeRepositories"] == 1)
        #expect(small.registryCalls["ListTagsForResource"] == 1)
        #expect(small.registryCalls["GetLifecyclePolicy"] == 1)
        #expect(small.registryCalls["ListImages"] == 1)
    }

    /// A steady resync at N images costs N × 4 per-image reads plus ceil(N / page) listing calls, counted on the
    /// wire by the fault-injecting ECR fake with real pagination (moto behind it).
    @Test func aSteadyResyncIsPerImageReadsPlusOneSharedListing() async throws {
        try await MotoServer.with { moto in
            let proxy = try await FaultInjectingServer.start(upstream: moto.url)
            proxy.plan.add(.ecrPagination())
            var logger = Logger(label: "mir.ecr.test")
            logger.logLevel = .error
            let environment = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
                               "HOME": "/nonexistent"]
            let ecr = try await ECRRegistry.make(region: "us-east-1", endpointURL: proxy.url.absoluteString, profile: nil,
                                                 environment: environment, logger: logger)
            do {
                let config = MirConfig()
                let size = 25, page = 10
                let images = try DesiredStateResolver.resolve(
                    (0..<size).map { ManagedImage(name: "resync-\($0)", spec: spec(pip: ["requests"])) }, config: config)
                for image in images {
                    _ = try await ecr.createRepository(name: image.repositoryName,
                                                       tags: OwnershipTags.tags(image: image.name, deletionPolicy: .delete, ownership: .files(config)))
                    try await ecr.putLifecyclePolicy(repositoryName: image.repositoryName,
                                                     policyText: image.lifecyclePolicy.canonicalText)
                }
                // A repository outside the prefix is listed but never read further.
                _ = try await ecr.createRepository(name: "other/outside", tags: [])
                proxy.clearLog()

                let records = FileBuildRecordStore(directory: try temporaryDirectory("resync").path)
                for image in images {
                    let desired = DesiredState(images: [image], isComplete: false, repositoryPrefix: config.repositoryPrefix,
                                               platformVersion: config.platformVersion)
                    let observed = try await ImageObserver(registry: ecr, records: records).observe(desired)
                    let plan = Planner.plan(desired: desired, observed: observed, options: PlanOptions(maxDeletions: 0))
                    #expect(plan.actions.allSatisfy { if case .build = $0 { true } else { false } }, "\(plan.actions)")
                }
                let report = try await RegistryGarbageCollector(registry: ecr, config: config, pageSize: page)
                    .collect(images: Set(images.map(\.name)), complete: true)
                #expect(report.listed == size && report.orphans.isEmpty && report.deleted.isEmpty)

                let describes = proxy.requests(for: "DescribeRepositories")
                let byName = describes.filter { $0.jsonBody?["repositoryNames"] != nil }
                #expect(byName.count == size)
                #expect(describes.count - byName.count == (size + 1 + page - 1) / page)  // ceil((N + 1) / page) pages
                #expect(proxy.requests(for: "ListTagsForResource").count == size)
                #expect(proxy.requests(for: "GetLifecyclePolicy").count == size)
                #expect(proxy.requests(for: "ListImages").count == size)
                #expect(proxy.requests.count == size * 4 + (size + page) / page)
            } catch {
                try? await ecr.shutdown()
                await proxy.stop()
                throw error
            }
            try? await ecr.shutdown()
            await proxy.stop()
        }
    }

    /// The garbage-collection pass deletes only repositories mir owns, whose spec is gone and whose recorded policy
    /// is Delete — through the Planner's rules — and nothing while the set of images may be partial.
    @Test func garbageCollectionFollowsThePlannersDeletionRules() async throws {
        let directory = try temporaryDirectory("gc")
        defer { try? FileManager.default.removeItem(at: directory) }
        let registry = try LocalRegistry(directory: directory.path)
        let config = MirConfig()
        func byImage(_ name: String) -> OwnershipIdentity { .managedImage(uid: "uid-\(name)", config: config) }
        _ = try await registry.createRepository(name: "mir/live", tags: OwnershipTags.tags(image: "live", deletionPolicy: .delete, ownership: byImage("live")))
        _ = try await registry.createRepository(name: "mir/gone", tags: OwnershipTags.tags(image: "gone", deletionPolicy: .delete, ownership: byImage("gone")))
        _ = try await registry.createRepository(name: "mir/kept", tags: OwnershipTags.tags(image: "kept", deletionPolicy: .retain, ownership: byImage("kept")))
        // Made by `mir apply` (the file source): not a ManagedImage's, so never the controller's to collect.
        _ = try await registry.createRepository(name: "mir/files-made", tags: OwnershipTags.tags(image: "files-made", deletionPolicy: .delete, ownership: .files(config)))
        _ = try await registry.createRepository(name: "mir/theirs", tags: [])
        _ = try await registry.createRepository(name: "elsewhere/gone", tags: OwnershipTags.tags(image: "gone", deletionPolicy: .delete, ownership: byImage("gone")))
        let collector = RegistryGarbageCollector(registry: registry, config: MirConfig())

        let partial = try await collector.collect(images: ["live"], complete: false)
        #expect(partial.orphans == ["mir/files-made", "mir/gone", "mir/kept", "mir/theirs"])
        #expect(partial.deleted.isEmpty)
        #expect(!partial.warnings.isEmpty)

        let report = try await collector.collect(images: ["live"], complete: true)
        #expect(report.deleted == ["mir/gone"])
        let left = try await registry.describeRepositories(names: nil, maxResults: 1000, nextToken: nil).items.map(\.name).sorted()
        #expect(left == ["elsewhere/gone", "mir/files-made", "mir/kept", "mir/live", "mir/theirs"])
    }

    /// The running controller collects garbage once its caches have synced: an owned repository whose ManagedImage
    /// is gone (removed while the controller was away) is deleted; a live image's repository is not.
    @Test func theManagerCollectsOrphanedRepositoriesAfterSync() async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(10))
        defer { Task { await h.stop() } }
        _ = try await h.registry.createRepository(name: "mir/orphan", tags: OwnershipTags.tags(image: "orphan", deletionPolicy: .delete,
                                                                                             ownership: .managedImage(uid: "uid-of-a-deleted-image", config: MirConfig())))
        try await h.create("kept", spec: spec())
        let manager = h.manager()
        let run = h.start(manager)
        try await h.waitFor("kept", "Ready") { $0.status?.phase == "Ready" }
        let deadline = ContinuousClock.now + .seconds(60)
        while manager.garbageCollectionPasses == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        run.cancel()
        await run.value
        let report = try #require(manager.lastGarbageCollection)
        #expect(report.deleted == ["mir/orphan"], "\(report)")
        let left = try await h.registry.describeRepositories(names: nil, maxResults: 1000, nextToken: nil).items.map(\.name)
        #expect(left.contains("mir/kept") && !left.contains("mir/orphan"), "\(left)")
    }
}

/// What the controller's informer caches keep (controller-runtime's transform functions) and the build limit's
/// index of running builds.
@Suite struct CacheTransformTests {
    static func job(_ name: String, image: String, conditions: [(String, String?)] = [], deleting: Bool = false) -> Job {
        var job = buildJob(name: name, conditions: conditions)
        job.metadata.labels?[BuildJobManifest.imageLabel] = image
        job.metadata.unknownFields["managedFields"] = .array([.object(["manager": .string("kubectl")])])
        job.spec?.template = .object(["spec": .object(["containers": .array([.object([
            "name": .string("kaniko"), "args": .array([.string("--destination=r/\(image):t"), .string("--context=dir:///ctx")])])])])])
        job.spec?.podFailurePolicy = .object(["rules": .array([])])
        if deleting { job.metadata.deletionTimestamp = Date(timeIntervalSince1970: 3000) }
        return job
    }

    @Test func aCachedBuildJobKeepsWhatOutcomesAndTheLimitReadAndNeverDecodesItsPodTemplate() throws {
        let whole = Self.job("mir-build-web-1", image: "web", conditions: [("Failed", "DeadlineExceeded")])
        // Decoded from the Job's JSON as the reflector decodes it: the template is not a field, so it is skipped.
        let cached = CacheTransforms.buildJob(try KubeJSON.decoder().decode(CachedBuildJob.self, from: KubeJSON.encode(whole)))
        #expect(cached.job.spec?.template == .object([:]))
        #expect(cached.job.spec?.podFailurePolicy == nil)
        #expect(cached.metadata.unknownFields["managedFields"] == nil)
        #expect(cached.metadata.labels == whole.metadata.labels)
        #expect(cached.status == whole.status)
        #expect(cached.spec?.activeDeadlineSeconds == whole.spec?.activeDeadlineSeconds)
        #expect(cached.spec?.backoffLimit == whole.spec?.backoffLimit)
        // Classification reads nothing the cache dropped.
        #expect(JobOutcomeClassifier.classify(job: cached.job, pods: []) == JobOutcomeClassifier.classify(job: whole, pods: []))
        #expect(CacheTransforms.buildJob(CachedBuildJob(whole)) == cached)
    }

    @Test func aCachedManagedImageKeepsItsSpecAndOfItsStatusPhaseAndTag() throws {
        var image = try ManagedImageResource(name: "web", spec: spec(pip: ["requests"], parent: "base"))
        image.metadata.unknownFields["managedFields"] = .array([.object(["manager": .string("mir")])])
        image.status = ManagedImageStatus(phase: "Ready", repositoryName: "mir/web", imageTag: "py3.12-abc")
        image.status?.conditions = [Condition(type: "Ready", status: "True", lastTransitionTime: Date(), reason: "BuildSucceeded", message: "long")]
        image.status?.pipLibraries = [PipLibrary(name: "requests", version: "2.32.3")]
        let cached = CacheTransforms.managedImage(image)
        #expect(cached.spec == image.spec)
        #expect(cached.parentName == "base")
        #expect(cached.metadata.unknownFields["managedFields"] == nil)
        #expect(cached.status == ManagedImageStatus(phase: "Ready", imageTag: "py3.12-abc"))
        // What the reconciler reads of a cached ancestor is unchanged: its decoded spec.
        #expect(try cached.decodedSpec() == image.decodedSpec())
    }

    @Test func theRunningBuildIndexFollowsJobsAndIsAllTheLimitReads() async throws {
        let jobs = ObjectStore<CachedBuildJob>(indexers: CachedClusterView.jobIndexers)
        let view = CachedClusterView(images: ObjectStore(indexers: CachedClusterView.imageIndexers), jobs: jobs)
        jobs.put("a", CachedBuildJob(Self.job("a", image: "web")))
        jobs.put("b", CachedBuildJob(Self.job("b", image: "api")))
        jobs.put("c", CachedBuildJob(Self.job("c", image: "old", conditions: [("Complete", nil)])))
        jobs.put("d", CachedBuildJob(Self.job("d", image: "gone", deleting: true)))
        #expect(try await view.imagesBuilding() == ["web", "api"])
        jobs.put("a", CachedBuildJob(Self.job("a", image: "web", conditions: [("Complete", nil)])))
        #expect(try await view.imagesBuilding() == ["api"], "a finished build leaves the index")
        jobs.remove("b")
        #expect(try await view.imagesBuilding().isEmpty)
        // 5,000 finished Jobs in the cache add nothing to what the limit reads.
        for i in 0..<5000 { jobs.put("f\(i)", CachedBuildJob(Self.job("f\(i)", image: "i\(i)", conditions: [("Complete", nil)]))) }
        jobs.put("r", CachedBuildJob(Self.job("r", image: "running")))
        #expect(jobs.values(ofIndex: CachedClusterView.runningBuildIndex) == ["running"])
    }
}
