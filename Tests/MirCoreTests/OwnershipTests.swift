import Foundation
import Testing
import Synchronization
import MirModel
import MirRegistry
import MirLocalRegistry
import MirBuild
@testable import MirCore

/// A registry that fails every read about chosen repositories (after the adapter's retries, as ECR would under
/// faults), and counts writes per repository.
final class FaultyReadRegistry: ImageRegistry, @unchecked Sendable {
    let base: any ImageRegistry
    let failing: Mutex<Set<String>>
    private let writes = Mutex<[String: [String]]>([:])
    init(base: any ImageRegistry, failing: Set<String>) { self.base = base; self.failing = Mutex(failing) }
    var displayName: String { base.displayName }
    func writes(to repository: String) -> [String] { writes.withLock { $0[repository] ?? [] } }
    var allWrites: [String: [String]] { writes.withLock { $0 } }
    private func read(_ repo: String, _ op: String) throws {
        if failing.withLock({ $0.contains(repo) }) { throw RegistryError(.throttling, operation: op, message: "Rate exceeded (after 3 attempts)") }
    }
    private func wrote(_ repo: String, _ op: String) { writes.withLock { $0[repo, default: []].append(op) } }
    func describeRepositories(names: [String]?, maxResults: Int?, nextToken: String?) async throws -> Page<RepositoryDescription> {
        try await base.describeRepositories(names: names, maxResults: maxResults, nextToken: nextToken)
    }
    func createRepository(name: String, tags: [ResourceTag], imageTagMutability: ImageTagMutability) async throws -> RepositoryDescription {
        wrote(name, "CreateRepository"); return try await base.createRepository(name: name, tags: tags, imageTagMutability: imageTagMutability)
    }
    func deleteRepository(name: String, force: Bool) async throws -> RepositoryDescription {
        wrote(name, "DeleteRepository"); return try await base.deleteRepository(name: name, force: force)
    }
    func getLifecyclePolicy(repositoryName: String) async throws -> String {
        try read(repositoryName, "GetLifecyclePolicy"); return try await base.getLifecyclePolicy(repositoryName: repositoryName)
    }
    func putLifecyclePolicy(repositoryName: String, policyText: String) async throws {
        wrote(repositoryName, "PutLifecyclePolicy"); try await base.putLifecyclePolicy(repositoryName: repositoryName, policyText: policyText)
    }
    func deleteLifecyclePolicy(repositoryName: String) async throws {
        wrote(repositoryName, "DeleteLifecyclePolicy"); try await base.deleteLifecyclePolicy(repositoryName: repositoryName)
    }
    func listImages(repositoryName: String, maxResults: Int?, nextToken: String?) async throws -> Page<ImageIdentifier> {
        try read(repositoryName, "ListImages"); return try await base.listImages(repositoryName: repositoryName, maxResults: maxResults, nextToken: nextToken)
    }
    func describeImages(repositoryName: String, imageIds: [ImageIdentifier]?, maxResults: Int?, nextToken: String?) async throws -> Page<ImageDetail> {
        try read(repositoryName, "DescribeImages")
        return try await base.describeImages(repositoryName: repositoryName, imageIds: imageIds, maxResults: maxResults, nextToken: nextToken)
    }
    func putImage(repositoryName: String, manifest: String, tag: String) async throws -> ImageIdentifier {
        wrote(repositoryName, "PutImage"); return try await base.putImage(repositoryName: repositoryName, manifest: manifest, tag: tag)
    }
    func listTagsForResource(arn: String) async throws -> [ResourceTag] {
        let repo = String(arn[arn.range(of: ":repository/")!.upperBound...])
        try read(repo, "ListTagsForResource"); return try await base.listTagsForResource(arn: arn)
    }
    func tagResource(arn: String, tags: [ResourceTag]) async throws {
        wrote(String(arn[arn.range(of: ":repository/")!.upperBound...]), "TagResource"); try await base.tagResource(arn: arn, tags: tags)
    }
}

/// One pass as `mir apply` makes it: observe → plan → apply.
@discardableResult
func applyPass(_ registry: any ImageRegistry, _ records: any BuildRecordStore, _ d: DesiredState,
               options: PlanOptions = PlanOptions()) async throws -> (Plan, ApplyReport) {
    let observed = try await Observer(registry: registry, records: records).observe(d)
    let plan = Planner.plan(desired: d, observed: observed, options: options)
    let report = await Applier(registry: registry, builder: RecordingBuilder(registry: registry), records: records)
        .apply(plan, desired: d, observed: observed)
    return (plan, report)
}

func images(_ names: [String], prefix p: String = prefix, policy: DeletionPolicy = .delete) -> [ResolvedImage] {
    names.map { resolved($0, tag: "py3.11-\(String(repeating: "a", count: 19))\($0.count % 10)", deletionPolicy: policy, repositoryPrefix: p) }
}

@Suite("issue 8 §1: ownership names its owner")
struct OwnershipTests {
    let teamA = OwnershipIdentity(installation: "mir/team-a/", owner: OwnershipIdentity.filesOwner, claimsLegacy: true)
    let whole = OwnershipIdentity(installation: "mir/", owner: OwnershipIdentity.filesOwner, claimsLegacy: true)

    @Test("problem 1: an installation over an overlapping prefix never deletes, changes or adopts the other's repositories")
    func overlappingPrefixesPlanner() {
        var repos: [String: ObservedRepository] = [:]
        for i in 0..<7 {
            let name = "mir/team-a/img\(i)"
            repos[name] = observedRepo(name, tags: ownedTags("img\(i)", .delete, teamA))
        }
        repos["mir/b0"] = observedRepo("mir/b0", tags: ownedTags("b0", .delete, whole))
        // Installation B (prefix mir/) with other specs, every guard relaxed: still nothing of A's is touched.
        let d = DesiredState(images: images(["b0"]), isComplete: true, repositoryPrefix: "mir/", platformVersion: "1.0", ownership: whole)
        let plan = Planner.plan(desired: d, observed: ObservedState(repositories: repos),
                                options: PlanOptions(maxDeletions: 100, forceDelete: true, allowEmpty: true, maxDeletionFraction: 1))
        #expect(plan.count(.delete) == 0, "\(plan.actions)")
        #expect(plan.actions.allSatisfy { !($0.repository ?? "").hasPrefix("mir/team-a/") })
        // And A sees its own as its own: with its specs gone (and allowed), it deletes them.
        let a = DesiredState(images: [], isComplete: true, repositoryPrefix: "mir/team-a/", platformVersion: "1.0", ownership: teamA)
        let own = Planner.plan(desired: a, observed: ObservedState(repositories: repos),
                               options: PlanOptions(maxDeletions: 100, allowEmpty: true, maxDeletionFraction: 1))
        #expect(own.count(.delete) == 7)
    }

    @Test("ownership: installation, then owner; legacy repositories belong to the default installation only")
    func classification() {
        let mirOnly = [ResourceTag(key: OwnershipTags.managedByKey, value: "mir")]
        #expect(ObservedRepository.ownership(of: ownedTags("x"), for: filesIdentity) == .mine)
        #expect(ObservedRepository.ownership(of: ownedTags("x", .delete, teamA), for: whole) == .foreign(.otherInstallation("mir/team-a/")))
        let controller = OwnershipIdentity(installation: "mir/", owner: OwnershipIdentity.managedImageOwner(uid: "u-1"), claimsLegacy: true)
        #expect(ObservedRepository.ownership(of: ownedTags("x"), for: controller) == .foreign(.otherOwner("files")))
        #expect(ObservedRepository.ownership(of: mirOnly, for: whole) == .unclaimed)
        let explicit = OwnershipIdentity(installation: "prod", owner: "files", claimsLegacy: false)
        #expect(ObservedRepository.ownership(of: mirOnly, for: explicit) == .foreign(.otherInstallation(nil)))
        #expect(ObservedRepository.ownership(of: [ResourceTag(key: "team", value: "x")], for: whole) == .foreign(.notManagedByMir))
        // A legacy repository with a spec is claimed (installation and owner recorded), not ignored.
        let legacy = observedRepo("mir/old", tags: mirOnly + [ResourceTag(key: OwnershipTags.deletionPolicyKey, value: "Delete")], images: ["py3.11-aaaa"])
        let plan = Planner.plan(desired: desired([resolved("old")]), observed: ObservedState(repositories: ["mir/old": legacy]))
        #expect(plan.actions.first == .claimRepository(repository: "mir/old", image: "old", deletionPolicy: .delete))
    }

    @Test("problem 3: a repository `mir apply` created (Retain) is foreign to a ManagedImage: its policy is not re-tagged")
    func controllerDoesNotTakeOverFilesRepository() {
        let precious = observedRepo("mir/precious", tags: ownedTags("precious", .retain), images: ["py3.11-aaaa"])
        let controller = OwnershipIdentity(installation: "mir/", owner: OwnershipIdentity.managedImageOwner(uid: "3f1e"), claimsLegacy: true)
        let d = desired([resolved("precious", deletionPolicy: .delete)], complete: false, identity: controller)
        let plan = Planner.plan(desired: d, observed: ObservedState(repositories: ["mir/precious": precious]), options: PlanOptions(maxDeletions: 0))
        #expect(plan.actions.isEmpty, "\(plan.actions)")
        #expect(plan.warnings == [.foreignRepository(repository: "mir/precious", image: "precious", owner: .otherOwner("files"))])
        // Explicit adoption (the annotation) takes it over, with the spec's policy.
        let adopted = Planner.plan(desired: d, observed: ObservedState(repositories: ["mir/precious": precious]),
                                   options: PlanOptions(maxDeletions: 0, adopt: ["precious"]))
        #expect(adopted.actions.first == .adoptRepository(repository: "mir/precious", image: "precious", deletionPolicy: .delete))
    }

    @Test("problem 1 on the embedded registry: B (prefix mir/) applies its specs with force; A's images survive")
    func overlappingPrefixesOnTheEmbeddedRegistry() async throws {
        let box = Sandbox()
        let local = try LocalRegistry(directory: box.path("reg"))
        let recordsA = FileBuildRecordStore(directory: box.path("a"))
        let recordsB = FileBuildRecordStore(directory: box.path("b"))
        let a = DesiredState(images: images((0..<7).map { "a\($0)" }, prefix: "mir/team-a/"), isComplete: true,
                             repositoryPrefix: "mir/team-a/", platformVersion: "1.0", ownership: teamA)
        let (_, reportA) = try await applyPass(local, recordsA, a)
        #expect(reportA.failures.isEmpty, "\(reportA.failures)")
        let b = DesiredState(images: images(["b0", "b1"]), isComplete: true, repositoryPrefix: "mir/", platformVersion: "1.0", ownership: whole)
        for _ in 0..<3 {
            let (plan, report) = try await applyPass(local, recordsB, b, options: PlanOptions(maxDeletions: 50, forceDelete: true, allowEmpty: true, maxDeletionFraction: 1))
            #expect(plan.count(.delete) == 0)
            #expect(report.failures.isEmpty, "\(report.failures)")
        }
        for i in 0..<7 {
            let name = "mir/team-a/a\(i)"
            let images = try await local.listImages(repositoryName: name, maxResults: nil, nextToken: nil).items
            #expect(images.count == 1, "\(name) lost its image")
            let repo = try await local.describeRepositories(names: [name], maxResults: nil, nextToken: nil).items[0]
            #expect(try await local.listTagsForResource(arn: repo.arn) == ownedTags("a\(i)", .delete, teamA))
            #expect(repo.imageTagMutability == .immutable)
        }
    }

    @Test("problem 4: CreateRepository meets AlreadyExists: the tags are read; a foreign repository gets no policy and no build")
    func alreadyExistsReadsTags() async throws {
        let box = Sandbox()
        let local = try LocalRegistry(directory: box.path("reg"))
        let records = FileBuildRecordStore(directory: box.path("records"))
        let d = desired([resolved("x", tag: "tx"), resolved("mine", tag: "tm")])
        let observed = try await Observer(registry: local, records: records).observe(d)   // neither exists yet
        let plan = Planner.plan(desired: d, observed: observed)
        // Between observing and creating: someone else creates mir/x; an earlier attempt of ours created mir/mine.
        _ = try await local.createRepository(name: "mir/x", tags: [ResourceTag(key: "team", value: "payments")])
        _ = try await local.createRepository(name: "mir/mine", tags: ownedTags("mine"))
        let builder = RecordingBuilder(registry: local)
        let report = await Applier(registry: local, builder: builder, records: records).apply(plan, desired: d, observed: observed)
        let failure = try #require(report.failures.first)
        #expect(report.failures.count == 1)
        #expect(failure.action == .createRepository(repository: "mir/x", image: "x", deletionPolicy: .delete))
        #expect(failure.message.contains("not this mir's") && failure.message.contains("not managed by mir"), "\(failure.message)")
        await #expect(throws: RegistryError.self) { _ = try await local.getLifecyclePolicy(repositoryName: "mir/x") }
        #expect(try await local.listImages(repositoryName: "mir/x", maxResults: nil, nextToken: nil).items.isEmpty)
        #expect(builder.order == ["mine"], "built only into its own repository")
        #expect(try await local.getLifecyclePolicy(repositoryName: "mir/mine").contains("rulePriority"))
    }

    @Test("repositories are created IMMUTABLE; an immutable tag cannot move to another image")
    func immutable() async throws {
        let box = Sandbox()
        let local = try LocalRegistry(directory: box.path("reg"))
        try await applyPass(local, FileBuildRecordStore(directory: box.path("records")), desired([resolved("a", tag: "ta")]))
        let repo = try await local.describeRepositories(names: ["mir/a"], maxResults: nil, nextToken: nil).items[0]
        #expect(repo.imageTagMutability == .immutable)
        let error = await #expect(throws: RegistryError.self) {
            _ = try await local.putImage(repositoryName: "mir/a", manifest: #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"other":"1"}}"#, tag: "ta")
        }
        #expect(error?.code == .imageTagAlreadyExists)
    }
}

@Suite("issue 8 §2: pruning cannot wipe a registry")
struct PruningGuardTests {
    func owned(_ n: Int) -> [String: ObservedRepository] {
        var repos: [String: ObservedRepository] = [:]
        for i in 0..<n { repos["mir/r\(i)"] = observedRepo("mir/r\(i)", tags: ownedTags("r\(i)"), images: ["py3.11-aaaa"]) }
        return repos
    }

    @Test("problem 2: an empty desired state deletes nothing unless allowed")
    func emptyDesiredState() {
        let plan = Planner.plan(desired: desired([]), observed: ObservedState(repositories: owned(50)), options: PlanOptions(maxDeletions: 50))
        #expect(plan.count(.delete) == 0)
        guard case .emptyDesiredState(let names)? = plan.warnings.first(where: \.blocksDeletions) else { Issue.record("\(plan.warnings)"); return }
        #expect(names.count == 50)
        let allowed = Planner.plan(desired: desired([]), observed: ObservedState(repositories: owned(50)),
                                   options: PlanOptions(maxDeletions: 50, allowEmpty: true, maxDeletionFraction: 1))
        #expect(allowed.count(.delete) == 50)
    }

    @Test("problem 2: a shrunken desired state deleting more than 10% (and more than the cap) deletes nothing and says why")
    func shrunkenDesiredState() {
        let keep = (0..<40).map { resolved("r\($0)") }
        let plan = Planner.plan(desired: desired(keep), observed: ObservedState(repositories: owned(50)))
        #expect(plan.count(.delete) == 0)
        #expect(plan.warnings.contains { if case .tooManyDeletions(let names, 50, 5) = $0 { return names.count == 10 }; return false }, "\(plan.warnings)")
        // Within the fraction and the cap: deleted.
        let small = Planner.plan(desired: desired((0..<47).map { resolved("r\($0)") }), observed: ObservedState(repositories: owned(50)))
        #expect(small.count(.delete) == 3)
        // A large installation: 10% of 1000 = 100 allowed, the per-pass cap still applies.
        let big = Planner.plan(desired: desired((0..<950).map { resolved("r\($0)") }), observed: ObservedState(repositories: owned(1000)))
        #expect(big.count(.delete) == 5)
        #expect(big.warnings.contains { if case .deletionsHeldBack(let held, 5) = $0 { return held.count == 45 }; return false })
    }

    @Test("file mode: deletions wait for a second read at least one interval later; a reappearing spec resets the wait")
    func debounce() {
        var debounce = DeletionDebounce(minimumAbsence: .seconds(60))
        let observed = ObservedState(repositories: owned(3))
        let d = desired([resolved("r0"), resolved("r1")])
        let plan = Planner.plan(desired: d, observed: observed)
        #expect(plan.count(.delete) == 1)
        let t0 = ContinuousClock.now
        #expect(debounce.filter(plan, desired: d, observed: observed, now: t0).count(.delete) == 0)
        #expect(debounce.filter(plan, desired: d, observed: observed, now: t0 + .seconds(30)).count(.delete) == 0)
        #expect(debounce.filter(plan, desired: d, observed: observed, now: t0 + .seconds(61)).count(.delete) == 1)
        // The spec comes back for one read: the count starts again.
        let back = desired([resolved("r0"), resolved("r1"), resolved("r2")])
        _ = debounce.filter(Planner.plan(desired: back, observed: observed), desired: back, observed: observed, now: t0 + .seconds(62))
        #expect(debounce.filter(plan, desired: d, observed: observed, now: t0 + .seconds(63)).count(.delete) == 0)
        // An incomplete read starts it again too.
        let partial = desired([resolved("r0")], complete: false)
        _ = debounce.filter(Planner.plan(desired: partial, observed: observed), desired: partial, observed: observed, now: t0 + .seconds(200))
        #expect(debounce.filter(plan, desired: d, observed: observed, now: t0 + .seconds(201)).count(.delete) == 0)
    }
}

@Suite("issue 8 §4 and §5: deletion finishes; a failed read stays small")
struct DeletionAndReadFailureTests {
    static let foreignManifest = #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"team":"payments"}}"#

    @Test("problem 10: Delete removes the repository with the images mir built, without force")
    func deletionFinishes() async throws {
        let box = Sandbox()
        let local = try LocalRegistry(directory: box.path("reg"))
        let records = FileBuildRecordStore(directory: box.path("records"))
        try await applyPass(local, records, desired([resolved("gone", tag: "py3.11-0123456789abcdef0123"), resolved("keep")]))
        #expect(try await local.listImages(repositoryName: "mir/gone", maxResults: nil, nextToken: nil).items.count == 1)
        let (plan, report) = try await applyPass(local, records, desired([resolved("keep")]))
        #expect(plan.actions.contains(.deleteRepository(repository: "mir/gone", force: false)))
        #expect(report.failures.isEmpty, "\(report.failures)")
        await #expect(throws: RegistryError.self) { _ = try await local.describeRepositories(names: ["mir/gone"], maxResults: nil, nextToken: nil) }
    }

    @Test("problem 10: images mir did not build block the deletion, named; force overrides; Retain and foreign are kept")
    func deletionBlocked() async throws {
        let box = Sandbox()
        let local = try LocalRegistry(directory: box.path("reg"))
        let deleter = RepositoryDeleter(registry: local)
        _ = try await local.createRepository(name: "mir/mixed", tags: ownedTags("mixed"))
        _ = try await local.putImage(repositoryName: "mir/mixed", manifest: #"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#, tag: "recorded-tag")
        for i in 0..<12 {
            _ = try await local.putImage(repositoryName: "mir/mixed", manifest: Self.foreignManifest.replacingOccurrences(of: "payments", with: "p\(i)"), tag: "manual-\(String(format: "%02d", i))")
        }
        let blocked = try await deleter.delete(repository: "mir/mixed", ownership: filesIdentity, builtTags: ["recorded-tag"], forceForeignImages: false)
        #expect(blocked == .blocked(tags: (0..<10).map { "manual-\(String(format: "%02d", $0))" }, count: 12))
        #expect(blocked.description.contains("manual-00") && blocked.description.contains("forceDeleteRepositories"))
        #expect(try await local.describeRepositories(names: ["mir/mixed"], maxResults: nil, nextToken: nil).items.count == 1)
        #expect(try await deleter.delete(repository: "mir/mixed", ownership: filesIdentity, builtTags: [], forceForeignImages: true) == .deleted(images: 13))

        _ = try await local.createRepository(name: "mir/kept", tags: ownedTags("kept", .retain))
        #expect(try await deleter.delete(repository: "mir/kept", ownership: filesIdentity, builtTags: [], forceForeignImages: true) == .retained)
        let teamA = OwnershipIdentity(installation: "mir/team-a/", owner: "files", claimsLegacy: false)
        _ = try await local.createRepository(name: "mir/theirs", tags: ownedTags("theirs", .delete, teamA))
        #expect(try await deleter.delete(repository: "mir/theirs", ownership: filesIdentity, builtTags: [], forceForeignImages: true)
                == .notOwned(.otherInstallation("mir/team-a/")))
        #expect(try await local.describeRepositories(names: ["mir/kept", "mir/theirs"], maxResults: nil, nextToken: nil).items.count == 2)
        #expect(try await deleter.delete(repository: "mir/none", ownership: filesIdentity, builtTags: [], forceForeignImages: false) == .alreadyGone)
    }

    @Test("content-addressed tags are recognised as mir's format only")
    func contentAddress() {
        #expect(RepositoryDeleter.isContentAddress("py3.11-0d2e7e264f3d1e300d9d"))
        #expect(RepositoryDeleter.isContentAddress("pyunknown-0d2e7e264f3d1e300d9d"))
        #expect(!RepositoryDeleter.isContentAddress("latest"))
        #expect(!RepositoryDeleter.isContentAddress("py3.11-0D2E7E264F3D1E300D9D"))
        #expect(!RepositoryDeleter.isContentAddress("py3.11-0d2e7e264f3d1e300d9"))
    }

    @Test("problem 11a: a read that fails for one repository skips that image, the others proceed, nothing is deleted")
    func oneFailedReadSkipsOneImage() async throws {
        let box = Sandbox()
        let local = try LocalRegistry(directory: box.path("reg"))
        let records = FileBuildRecordStore(directory: box.path("records"))
        try await applyPass(local, records, desired(["a", "b", "c", "gone"].map { resolved($0, tag: "t\($0)") }))
        let faulty = FaultyReadRegistry(base: local, failing: ["mir/b"])
        // b's spec changed (a new tag), c is new, gone was removed: with b unreadable, c is built, b is skipped, nothing deleted.
        let d = desired([resolved("a", tag: "ta"), resolved("b", tag: "tb2"), resolved("c", tag: "tc"), resolved("new", tag: "tn")])
        let (plan, report) = try await applyPass(faulty, records, d, options: PlanOptions(maxDeletionFraction: 1))
        #expect(report.failures.isEmpty)
        #expect(plan.warnings.contains { if case .readFailed("mir/b", "b", let e) = $0 { return e.contains("ThrottlingException") }; return false }, "\(plan.warnings)")
        #expect(plan.warnings.contains(.deletionsOffAfterReadFailures(count: 1)))
        #expect(plan.count(.delete) == 0)
        #expect(!plan.actions.contains { $0.image == "b" })
        #expect(plan.actions.contains(.build(image: "new", tag: "tn", reason: .new)))
        #expect(faulty.writes(to: "mir/b").isEmpty && faulty.writes(to: "mir/gone").isEmpty)
        #expect(plan.warnings.first { $0.image == "b" }?.description.contains("mir/b") == true)
    }
}

/// Issue 8: the push check of `mir apply`'s builders, against the embedded registry.
@Suite struct OwnershipPushCheckTests {
    @Test func onlyThisMirsExistingRepositoryPasses() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pushcheck-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let registry = try LocalRegistry(directory: directory)
        let me = OwnershipIdentity(installation: "team-a", owner: OwnershipIdentity.filesOwner, claimsLegacy: false)
        let other = OwnershipIdentity(installation: "team-b", owner: OwnershipIdentity.filesOwner, claimsLegacy: false)
        let check = OwnershipPushCheck(registry: registry, ownership: me)
        _ = try await registry.createRepository(name: "mir/mine", tags: OwnershipTags.tags(image: "mine", deletionPolicy: .delete, ownership: me),
                                                imageTagMutability: .mutable)
        _ = try await registry.createRepository(name: "mir/theirs", tags: OwnershipTags.tags(image: "theirs", deletionPolicy: .delete, ownership: other),
                                                imageTagMutability: .mutable)
        _ = try await registry.createRepository(name: "mir/untagged", tags: [], imageTagMutability: .mutable)
        try await check.verify(repositoryName: "mir/mine")
        for (name, why) in [("mir/theirs", "team-b"), ("mir/gone", "no longer exists"), ("mir/untagged", "not managed by mir")] {
            do {
                try await check.verify(repositoryName: name)
                Issue.record("\(name) passed the push check")
            } catch let error as RepositoryNotOwned {
                #expect(error.repository == name && error.description.contains(why), "\(error)")
            }
        }
    }
}
