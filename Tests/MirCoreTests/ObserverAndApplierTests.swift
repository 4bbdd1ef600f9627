import Foundation
import Testing
import Synchronization
import MirModel
import MirRegistry
import MirLocalRegistry
import MirBuild
@testable import MirCore
import PropertyBased

/// A registry that answers AccessDenied for chosen operations, as ECR does for a role without them.
struct DenyingRegistry: ImageRegistry {
    let base: any ImageRegistry
    let denied: Set<String>

    var displayName: String { base.displayName }

    func check(_ op: String) throws {
        if denied.contains(op) { throw RegistryError(.accessDenied, operation: op, message: "not authorized to perform ecr:\(op)") }
    }
    func describeRepositories(names: [String]?, maxResults: Int?, nextToken: String?) async throws -> Page<RepositoryDescription> {
        try check("DescribeRepositories"); return try await base.describeRepositories(names: names, maxResults: maxResults, nextToken: nextToken)
    }
    func createRepository(name: String, tags: [ResourceTag], imageTagMutability: ImageTagMutability) async throws -> RepositoryDescription {
        try check("CreateRepository"); return try await base.createRepository(name: name, tags: tags, imageTagMutability: imageTagMutability)
    }
    func deleteRepository(name: String, force: Bool) async throws -> RepositoryDescription {
        try check("DeleteRepository"); return try await base.deleteRepository(name: name, force: force)
    }
    func getLifecyclePolicy(repositoryName: String) async throws -> String {
        try check("GetLifecyclePolicy"); return try await base.getLifecyclePolicy(repositoryName: repositoryName)
    }
    func putLifecyclePolicy(repositoryName: String, policyText: String) async throws {
        try check("PutLifecyclePolicy"); try await base.putLifecyclePolicy(repositoryName: repositoryName, policyText: policyText)
    }
    func deleteLifecyclePolicy(repositoryName: String) async throws {
        try check("DeleteLifecyclePolicy"); try await base.deleteLifecyclePolicy(repositoryName: repositoryName)
    }
    func listImages(repositoryName: String, maxResults: Int?, nextToken: String?) async throws -> Page<ImageIdentifier> {
        try check("ListImages"); return try await base.listImages(repositoryName: repositoryName, maxResults: maxResults, nextToken: nextToken)
    }
    func describeImages(repositoryName: String, imageIds: [ImageIdentifier]?, maxResults: Int?, nextToken: String?) async throws -> Page<ImageDetail> {
        try check("DescribeImages"); return try await base.describeImages(repositoryName: repositoryName, imageIds: imageIds, maxResults: maxResults, nextToken: nextToken)
    }
    func putImage(repositoryName: String, manifest: String, tag: String) async throws -> ImageIdentifier {
        try check("PutImage"); return try await base.putImage(repositoryName: repositoryName, manifest: manifest, tag: tag)
    }
    func listTagsForResource(arn: String) async throws -> [ResourceTag] {
        try check("ListTagsForResource"); return try await base.listTagsForResource(arn: arn)
    }
    func tagResource(arn: String, tags: [ResourceTag]) async throws {
        try check("TagResource"); try await base.tagResource(arn: arn, tags: tags)
    }
}

/// A builder that records images like the simulate builder but also measures concurrency and order.
final class RecordingBuilder: ImageBuilder {
    let name = "test"
    let isSimulation = true
    let registry: any ImageRegistry
    let failing: Set<String>
    private let state = Mutex<(running: Int, peak: Int, order: [String])>((0, 0, []))

    init(registry: any ImageRegistry, failing: Set<String> = []) {
        self.registry = registry
        self.failing = failing
    }

    var peak: Int { state.withLock { $0.peak } }
    var order: [String] { state.withLock { $0.order } }

    func build(_ request: BuildRequest) async throws -> BuildRecord {
        state.withLock { $0.running += 1; $0.peak = max($0.peak, $0.running); $0.order.append(request.image.name) }
        try await Task.sleep(for: .milliseconds(20))
        state.withLock { $0.running -= 1 }
        let failed = failing.contains(request.image.name)
        if !failed {
            _ = try await registry.putImage(repositoryName: request.image.repositoryName, manifest: #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#, tag: request.image.tag)
        }
        return BuildRecord(image: request.image.name, tag: request.image.tag, state: failed ? .failed : .succeeded,
                           reason: request.reason.rawValue, specDigest: request.image.specDigest, platformVersion: request.platformVersion,
                           parentTag: request.image.parentTag, pythonVersion: request.image.pythonVersion, builder: name,
                           simulated: true, startedAt: Date(), finishedAt: Date(), message: failed ? "boom" : nil)
    }
}

final class Sandbox {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("mir-core-\(UUID().uuidString)")
    deinit { try? FileManager.default.removeItem(at: url) }
    func path(_ p: String) -> String { url.appendingPathComponent(p).path }
}

@Suite struct ObserverTests {
    @Test func observingCostsOnlyTheReadsDecisionsNeed() async throws {
        let box = Sandbox()
        let local = try LocalRegistry(directory: box.path("reg"))
        for i in 0..<2_300 { _ = try await local.createRepository(name: "mir/r\(i)", tags: ownedTags("r\(i)")) }
        for i in 0..<200 { _ = try await local.createRepository(name: "other/r\(i)", tags: []) }
        let counter = CallCounter()
        let registry = CountingRegistry(local, counter: counter)
        let images = (0..<10).map { resolved("r\($0)") }
        let observer = Observer(registry: registry, records: FileBuildRecordStore(directory: box.path("records")))

        _ = try await observer.observe(desired(images))
        // 2,500 repositories → ceil(2500/1000) = 3 pages; tags for each of the 2,300 under the prefix (ownership and
        // deletion decisions); lifecycle policy and image list only for the 10 with a spec. Nothing for other/.
        #expect(counter.calls == ["DescribeRepositories": 3, "ListTagsForResource": 2_300, "GetLifecyclePolicy": 10, "ListImages": 10])

        // When deletions are impossible (a spec failed to load), repositories without a spec need no reads at all.
        let partial = CallCounter()
        _ = try await Observer(registry: CountingRegistry(local, counter: partial), records: FileBuildRecordStore(directory: box.path("records")))
            .observe(desired(images, complete: false))
        #expect(partial.calls == ["DescribeRepositories": 3, "ListTagsForResource": 10, "GetLifecyclePolicy": 10, "ListImages": 10])
    }

    @Test func deniedListingProbesDesiredRepositoriesAndDeletesNothing() async throws {
        let box = Sandbox()
        let local = try LocalRegistry(directory: box.path("reg"))
        _ = try await local.createRepository(name: "mir/a", tags: ownedTags("a"))
        _ = try await local.createRepository(name: "mir/orphan", tags: ownedTags("orphan"))
        // Exactly the seed's permissions: no DescribeRepositories, GetLifecyclePolicy, ListTagsForResource, TagResource.
        let seedOnly = DenyingRegistry(base: local, denied: ["DescribeRepositories", "GetLifecyclePolicy", "ListTagsForResource", "TagResource"])
        let records = FileBuildRecordStore(directory: box.path("records"))
        let d = desired([resolved("a"), resolved("b")])
        let observed = try await Observer(registry: seedOnly, records: records).observe(d)
        #expect(!observed.repositoriesListed)
        #expect(Set(observed.repositories.keys) == ["mir/a"])   // probed with ListImages; b does not exist
        #expect(observed.degradedCapabilities.contains { $0.contains("garbage collection") && $0.contains("DescribeRepositories") })
        let plan = Planner.plan(desired: d, observed: observed)
        #expect(plan.count(.delete) == 0)
        #expect(plan.actions.contains(.createRepository(repository: "mir/b", image: "b", deletionPolicy: .delete)))
        #expect(plan.warnings.contains { $0.description.contains("garbage collection") })
    }

    @Test func deniedTagReadsNeverDelete() async throws {
        let box = Sandbox()
        let local = try LocalRegistry(directory: box.path("reg"))
        _ = try await local.createRepository(name: "mir/orphan", tags: ownedTags("orphan"))
        let noTags = DenyingRegistry(base: local, denied: ["ListTagsForResource"])
        let d = desired([])
        let observed = try await Observer(registry: noTags, records: FileBuildRecordStore(directory: box.path("records"))).observe(d)
        let allowEmpty = PlanOptions(allowEmpty: true)
        let plan = Planner.plan(desired: d, observed: observed, options: allowEmpty)
        #expect(plan.count(.delete) == 0)
        #expect(plan.warnings.contains { $0.description.contains("ownership checks are off") })
        #expect(plan.warnings.contains(.ownershipUnreadable(repository: "mir/orphan")))
        // With tags readable, the same state deletes the orphan.
        let full = try await Observer(registry: local, records: FileBuildRecordStore(directory: box.path("records"))).observe(d)
        #expect(Planner.plan(desired: d, observed: full, options: allowEmpty).actions == [.deleteRepository(repository: "mir/orphan", force: false)])
    }

    @Test func deniedLifecycleReadTurnsOffDriftDetectionOnly() async throws {
        let box = Sandbox()
        let local = try LocalRegistry(directory: box.path("reg"))
        _ = try await local.createRepository(name: "mir/a", tags: ownedTags("a"))
        let registry = DenyingRegistry(base: local, denied: ["GetLifecyclePolicy"])
        let d = desired([resolved("a")])
        let observed = try await Observer(registry: registry, records: FileBuildRecordStore(directory: box.path("records"))).observe(d)
        let plan = Planner.plan(desired: d, observed: observed)
        #expect(plan.warnings.contains { $0.description.contains("drift detection is off") })
        #expect(plan.count(.update) == 0)
        #expect(plan.count(.build) == 1)
    }
}

@Suite struct ApplierTests {
    func setup(_ box: Sandbox, failing: Set<String> = []) throws -> (LocalRegistry, RecordingBuilder, FileBuildRecordStore) {
        let local = try LocalRegistry(directory: box.path("reg"))
        return (local, RecordingBuilder(registry: local, failing: failing), FileBuildRecordStore(directory: box.path("records")))
    }

    /// A family: two roots, children of the first, a grandchild.
    let family = [
        resolved("root", tag: "t-root"), resolved("other", tag: "t-other"),
        resolved("kid1", tag: "t-kid1", parent: "root", parentTag: "t-root"),
        resolved("kid2", tag: "t-kid2", parent: "root", parentTag: "t-root"),
        resolved("kid3", tag: "t-kid3", parent: "root", parentTag: "t-root"),
        resolved("grandkid", tag: "t-gk", parent: "kid1", parentTag: "t-kid1"),
    ]

    @Test func parentsBuildBeforeChildrenWithBoundedConcurrencyAndApplyConverges() async throws {
        let box = Sandbox()
        let (local, builder, records) = try setup(box)
        let d = desired(family)
        let observed = try await Observer(registry: local, records: records).observe(d)
        let plan = Planner.plan(desired: d, observed: observed)
        let report = await Applier(registry: local, builder: builder, records: records, maxConcurrentBuilds: 2).apply(plan, desired: d, observed: observed)
        #expect(report.failures.isEmpty, "\(report.failures)")
        let order = builder.order
        for image in family { if let p = image.parentName { #expect(order.firstIndex(of: p)! < order.firstIndex(of: image.name)!) } }
        #expect(builder.peak <= 2)
        #expect(builder.peak == 2, "independent builds run concurrently")
        // Applying the plan and planning again yields an empty plan.
        let again = try await Observer(registry: local, records: records).observe(d)
        #expect(Planner.plan(desired: d, observed: again).isEmpty)
    }

    @Test func aFailedParentSkipsItsDescendantsOnly() async throws {
        let box = Sandbox()
        let (local, builder, records) = try setup(box, failing: ["root"])
        let d = desired(family)
        let observed = try await Observer(registry: local, records: records).observe(d)
        let plan = Planner.plan(desired: d, observed: observed)
        let report = await Applier(registry: local, builder: builder, records: records).apply(plan, desired: d, observed: observed)
        #expect(report.failures.count == 1)
        let skipped = report.outcomes.compactMap { o -> String? in
            if case .skipped = o.outcome, case .build(let i, _, _) = o.action { return i }; return nil
        }
        #expect(Set(skipped) == ["kid1", "kid2", "kid3", "grandkid"])
        #expect(Set(builder.order) == ["root", "other"])
        // The failed build is not retried by the next pass, but is with retryFailedBuilds.
        let next = try await Observer(registry: local, records: records).observe(d)
        #expect(Planner.plan(desired: d, observed: next).count(.build) == 4)
        #expect(Planner.plan(desired: d, observed: next, options: PlanOptions(retryFailedBuilds: true)).count(.build) == 5)
    }

    @Test func withoutTagResourceRepositoriesAreCreatedUntaggedAndNeverDeleted() async throws {
        let box = Sandbox()
        let (local, builder, records) = try setup(box)
        /// As AWS does: CreateRepository with tags needs ecr:TagResource too.
        struct NoTagOnCreate: ImageRegistry {
            let base: DenyingRegistry
            var displayName: String { base.displayName }
            func createRepository(name: String, tags: [ResourceTag], imageTagMutability: ImageTagMutability) async throws -> RepositoryDescription {
                if !tags.isEmpty {
                    throw RegistryError(.accessDenied, operation: "CreateRepository", message: "not authorized to perform ecr:TagResource",
                                        deniedAction: "ecr:TagResource")
                }
                return try await base.createRepository(name: name, tags: tags, imageTagMutability: imageTagMutability)
            }
            func describeRepositories(names: [String]?, maxResults: Int?, nextToken: String?) async throws -> Page<RepositoryDescription> { try await base.describeRepositories(names: names, maxResults: maxResults, nextToken: nextToken) }
            func deleteRepository(name: String, force: Bool) async throws -> RepositoryDescription { try await base.deleteRepository(name: name, force: force) }
            func getLifecyclePolicy(repositoryName: String) async throws -> String { try await base.getLifecyclePolicy(repositoryName: repositoryName) }
            func putLifecyclePolicy(repositoryName: String, policyText: String) async throws { try await base.putLifecyclePolicy(repositoryName: repositoryName, policyText: policyText) }
            func deleteLifecyclePolicy(repositoryName: String) async throws { try await base.deleteLifecyclePolicy(repositoryName: repositoryName) }
            func listImages(repositoryName: String, maxResults: Int?, nextToken: String?) async throws -> Page<ImageIdentifier> { try await base.listImages(repositoryName: repositoryName, maxResults: maxResults, nextToken: nextToken) }
            func describeImages(repositoryName: String, imageIds: [ImageIdentifier]?, maxResults: Int?, nextToken: String?) async throws -> Page<ImageDetail> { try await base.describeImages(repositoryName: repositoryName, imageIds: imageIds, maxResults: maxResults, nextToken: nextToken) }
            func putImage(repositoryName: String, manifest: String, tag: String) async throws -> ImageIdentifier { try await base.putImage(repositoryName: repositoryName, manifest: manifest, tag: tag) }
            func listTagsForResource(arn: String) async throws -> [ResourceTag] { try await base.listTagsForResource(arn: arn) }
            func tagResource(arn: String, tags: [ResourceTag]) async throws { try await base.tagResource(arn: arn, tags: tags) }
        }
        let registry = NoTagOnCreate(base: DenyingRegistry(base: local, denied: ["TagResource"]))
        let d = desired([resolved("a", tag: "ta")])
        let observed = try await Observer(registry: registry, records: records).observe(d)
        let report = await Applier(registry: registry, builder: builder, records: records)
            .apply(Planner.plan(desired: d, observed: observed), desired: d, observed: observed)
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.outcomes.contains { if case .succeeded(let detail?) = $0.outcome { return detail.contains("WITHOUT ownership tags") }; return false })
        // Later, with the spec gone, the untagged repository is proven not mir's: never deleted.
        let gone = desired([])
        let after = try await Observer(registry: registry, records: records).observe(gone)
        #expect(Planner.plan(desired: gone, observed: after, options: PlanOptions(allowEmpty: true)).count(.delete) == 0)
    }

    @Test func aFailedRepositoryStepSkipsTheRestForThatImageOnly() async throws {
        let box = Sandbox()
        let (local, builder, records) = try setup(box)
        let registry = DenyingRegistry(base: local, denied: ["PutLifecyclePolicy"])
        let d = desired([resolved("a", tag: "ta")])
        let observed = try await Observer(registry: registry, records: records).observe(d)
        let plan = Planner.plan(desired: d, observed: observed)
        let report = await Applier(registry: registry, builder: builder, records: records).apply(plan, desired: d, observed: observed)
        #expect(report.failures.count == 1)
        #expect(report.failures[0].message.contains("AccessDeniedException") && report.failures[0].message.contains("PutLifecyclePolicy"))
        #expect(builder.order.isEmpty, "no build into a repository that was not reconciled")
    }
}

@Suite struct ConvergenceProperties {
    /// One generated image: parent choice (0 = catalog base, k = the k-th earlier image), Delete policy?, spec
    /// variant, and what already exists: 0 nothing, 1 owned repository with a drifted policy, 2 an earlier image.
    static let imageCase = zip(Gen.int(in: 0...3), Gen.bool, Gen.int(in: 0...2), Gen.int(in: 0...2))

    @Test func applyingThePlanThenPlanningAgainGivesAnEmptyPlan() async throws {
        await propertyCheck(count: 25, input: Self.imageCase.array(of: 1...6), Gen.int(in: 1...3)) { cases, builds in
            do {
                let box = Sandbox()
                let local = try LocalRegistry(directory: box.path("reg"))
                let records = FileBuildRecordStore(directory: box.path("records"))
                var images: [ResolvedImage] = []
                for (i, (parentChoice, deletePolicy, variant, existing)) in cases.enumerated() {
                    let name = "img\(i)"
                    let parent = parentChoice > 0 && parentChoice <= images.count ? images[parentChoice - 1] : nil
                    let image = resolved(name, tag: "t\(variant)-\(parent?.tag ?? "root")", parent: parent?.name, parentTag: parent?.tag,
                                         deletionPolicy: deletePolicy ? .delete : .retain, specDigest: "spec-\(variant)")
                    images.append(image)
                    if existing >= 1 {
                        _ = try await local.createRepository(name: image.repositoryName, tags: ownedTags(name, .retain))
                        try await local.putLifecyclePolicy(repositoryName: image.repositoryName,
                            policyText: #"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":99},"action":{"type":"expire"}}]}"#)
                    }
                    if existing == 2 {
                        _ = try await local.putImage(repositoryName: image.repositoryName, manifest: #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"old":"1"}}"#, tag: "old")
                    }
                }
                let d = desired(images)
                let builder = RecordingBuilder(registry: local)
                let observed = try await Observer(registry: local, records: records).observe(d)
                let plan = Planner.plan(desired: d, observed: observed)
                let report = await Applier(registry: local, builder: builder, records: records, maxConcurrentBuilds: builds)
                    .apply(plan, desired: d, observed: observed)
                #expect(report.failures.isEmpty, "\(report.failures)")
                #expect(builder.peak <= builds)
                let again = Planner.plan(desired: d, observed: try await Observer(registry: local, records: records).observe(d))
                #expect(again.isEmpty, "second plan: \(again.actions)")
            } catch {
                Issue.record("\(error)")
            }
        }
    }
}

