import ECRFaultInjection
import Foundation
import MirBuild
import MirCore
import MirLocalRegistry
import MirModel
import MirRegistry
import MirTestSupport
import Synchronization
import Testing
@testable import MirECR

// Issue 8 §6, the ownership and pruning cases of the chaos suite. Each case runs a bounded number of attacks (more with
// MIR_CHAOS_FULL=1, as `scripts/chaos` runs them), counts invariant violations, prints one line
// `CHAOS case=<name> runs=<N> violations=<M>` and asserts that there are none.

enum Chaos {
    static var full: Bool { ProcessInfo.processInfo.environment["MIR_CHAOS_FULL"] == "1" }

    /// Prints the summary line `scripts/chaos` collects, and asserts.
    static func report(_ name: String, runs: Int, violations: [String], sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        print("CHAOS case=\(name) runs=\(runs) violations=\(violations.count)")
        for v in violations.prefix(20) { print("CHAOS-VIOLATION case=\(name) \(v)") }
        #expect(violations.isEmpty, "\(violations.prefix(20))", sourceLocation: sourceLocation)
    }

    /// A small deterministic generator (SplitMix64), so a seed names a run.
    struct Random: RandomNumberGenerator, Sendable {
        var state: UInt64
        init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1 }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func config(prefix: String, installation: String? = nil) -> MirConfig {
        MirConfig(repositoryPrefix: prefix, installation: installation)
    }

    /// Resolved images named `names` under `config`'s prefix (valid specs, real content-addressed tags).
    static func desired(_ names: [String], config: MirConfig, complete: Bool = true) throws -> DesiredState {
        let images = names.map { name in
            ManagedImage(name: name, spec: ManagedImageSpec(base: .imageType("standard"), pythonVersion: "3.12",
                                                            pipRequirements: [PipRequirement(name: "requests")], deletionPolicy: .delete))
        }
        return DesiredState(images: try DesiredStateResolver.resolve(images, config: config), isComplete: complete,
                            repositoryPrefix: config.repositoryPrefix, platformVersion: config.platformVersion, ownership: .files(config))
    }

    /// One `mir apply` pass with `Builder`.
    @discardableResult
    static func pass(_ registry: any ImageRegistry, records: any BuildRecordStore, _ desired: DesiredState,
                     options: PlanOptions = PlanOptions()) async throws -> (Plan, ApplyReport) {
        let observed = try await Observer(registry: registry, records: records).observe(desired)
        let plan = Planner.plan(desired: desired, observed: observed, options: options)
        let report = await Applier(registry: registry, builder: Builder(registry: registry), records: records)
            .apply(plan, desired: desired, observed: observed)
        return (plan, report)
    }

    /// A test builder (not the simulate builder: its records are the subject of other chaos cases): pushes one
    /// manifest per (image, tag); a push that fails throws, so no record is kept and the next pass builds again.
    struct Builder: ImageBuilder {
        let registry: any ImageRegistry
        var name: String { "chaos" }
        var isSimulation: Bool { true }
        func build(_ request: BuildRequest) async throws -> BuildRecord {
            let image = request.image
            try await (registry as? LosingRegistry)?.buildStarting()
            // As mir's pushing builders do: the repository is checked right before the push.
            do {
                try await request.pushTarget?.verify(repositoryName: image.repositoryName)
            } catch let notOwned as RepositoryNotOwned {
                var record = BuildRecord(image: image.name, tag: image.tag, state: .failed, reason: request.reason.rawValue,
                                         specDigest: image.specDigest, platformVersion: request.platformVersion, parentTag: image.parentTag,
                                         pythonVersion: image.pythonVersion, builder: name, simulated: true, startedAt: Date(), finishedAt: Date())
                record.failure = BuildFailure(reason: .repositoryNotOwned, cause: notOwned.description)
                record.message = notOwned.description
                return record
            }
            do {
                _ = try await registry.putImage(repositoryName: image.repositoryName,
                                                manifest: Chaos.foreignManifest(abs((image.name + image.tag).hashValue % 251) + 1), tag: image.tag)
            } catch let error as RegistryError where error.code == .imageAlreadyExists {
                // A retry after a lost answer: the image is there.
            }
            return BuildRecord(image: image.name, tag: image.tag, state: .succeeded, reason: request.reason.rawValue,
                               specDigest: image.specDigest, platformVersion: request.platformVersion, parentTag: image.parentTag,
                               pythonVersion: image.pythonVersion, builder: name, simulated: true, startedAt: Date(), finishedAt: Date())
        }
    }

    /// A seeded random source shared by concurrent fault rules.
    final class SharedRandom: Sendable {
        private let state: Mutex<Random>
        init(seed: UInt64) { state = Mutex(Random(seed: seed)) }
        func chance(_ p: Double) -> Bool { state.withLock { Double($0.next() % 10_000) / 10_000 < p } }
    }

    /// Everything observable about one repository: tags, lifecycle policy, image tags (nil when it does not exist).
    struct Snapshot: Equatable {
        var tags: Set<ResourceTag>
        var policy: String?
        var images: Set<String>
    }

    static func snapshot(_ registry: any ImageRegistry, _ name: String) async throws -> Snapshot? {
        let found: RepositoryDescription
        do {
            guard let f = try await registry.describeRepositories(names: [name], maxResults: nil, nextToken: nil).items.first else { return nil }
            found = f
        } catch let error as RegistryError where error.code == .repositoryNotFound {
            return nil
        }
        let policy: String?
        do { policy = try await registry.getLifecyclePolicy(repositoryName: name) } catch let e as RegistryError where e.code == .lifecyclePolicyNotFound { policy = nil }
        let images = try await registry.listImages(repositoryName: name, maxResults: nil, nextToken: nil).items.compactMap(\.tag)
        return Snapshot(tags: Set(try await registry.listTagsForResource(arn: found.arn)), policy: policy, images: Set(images))
    }

    static func sandbox() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mir-chaos-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Someone else's image (a Docker v2 manifest moto and the embedded registry both accept).
    static func foreignManifest(_ seed: Int) -> String {
        let layer = String(repeating: String(format: "%02x", seed % 256), count: 32)
        return """
            {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",\
            "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1234,"digest":"sha256:\(String(repeating: "c", count: 64))"},\
            "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":100,"digest":"sha256:\(layer)"}]}
            """
    }
}

enum ChaosRegistry: String, CaseIterable, Sendable, CustomStringConvertible {
    case embedded, moto
    var description: String { rawValue }
}

@Suite("Chaos: two installations with overlapping prefixes", .serialized)
struct ChaosOverlappingInstallationsTests {
    /// Installation A (prefix P/team-a/) builds its images; installation B (prefix P/) applies other specs — sometimes
    /// none — with every guard relaxed (force, allowEmpty, no fraction limit, a large cap). Invariant: A's
    /// repositories are exactly as A left them; A converges again with nothing to do.
    @Test(arguments: ChaosRegistry.allCases)
    func overlappingPrefixes(on kind: ChaosRegistry) async throws {
        let runs = Chaos.full ? 10 : 3
        let body: @Sendable (any ImageRegistry) async throws -> [String] = { registry in
            var violations: [String] = []
            for run in 0..<runs {
                var rng = Chaos.Random(seed: UInt64(run + 1))
                let top = "chaos\(run)x\(UInt32.random(in: 0...UInt32.max, using: &rng) % 10_000)/"
                let configA = Chaos.config(prefix: top + "team-a/")
                let configB = Chaos.config(prefix: top)
                let box = Chaos.sandbox()
                defer { try? FileManager.default.removeItem(atPath: box) }
                let recordsA = FileBuildRecordStore(directory: box + "/a")
                let recordsB = FileBuildRecordStore(directory: box + "/b")
                let aNames = (0..<Int.random(in: 2...7, using: &rng)).map { "a\($0)" }
                let (_, reportA) = try await Chaos.pass(registry, records: recordsA, try Chaos.desired(aNames, config: configA))
                if !reportA.failures.isEmpty { violations.append("run \(run): A did not apply: \(reportA.failures.map(\.message))") }
                var before: [String: Chaos.Snapshot] = [:]
                for name in aNames { before[name] = try await Chaos.snapshot(registry, configA.repositoryPrefix + name) }
                let relaxed = PlanOptions(maxDeletions: 100, forceDelete: true, allowEmpty: true, maxDeletionFraction: 1)
                for _ in 0..<3 {
                    let bNames = (0..<Int.random(in: 0...3, using: &rng)).map { "b\($0)" }
                    let (plan, _) = try await Chaos.pass(registry, records: recordsB, try Chaos.desired(bNames, config: configB), options: relaxed)
                    for action in plan.actions where (action.repository ?? "").hasPrefix(configA.repositoryPrefix) {
                        violations.append("run \(run): B planned \(action) on A's repository")
                    }
                }
                for name in aNames {
                    let now = try await Chaos.snapshot(registry, configA.repositoryPrefix + name)
                    if now != before[name] { violations.append("run \(run): A's repository \(name) was changed or deleted by B") }
                }
                let (again, _) = try await Chaos.pass(registry, records: recordsA, try Chaos.desired(aNames, config: configA))
                if !again.isEmpty { violations.append("run \(run): A does not converge again: \(again.actions)") }
            }
            return violations
        }
        switch kind {
        case .embedded:
            let box = Chaos.sandbox()
            defer { try? FileManager.default.removeItem(atPath: box) }
            Chaos.report("overlapping-installations-embedded", runs: runs, violations: try await body(try LocalRegistry(directory: box + "/registry")))
        case .moto:
            let violations = try await MotoServer.with { moto -> [String] in
                try await body(Fixtures.registry(endpoint: moto.url, authorizer: Fixtures.motoAuthorizer))
            }
            Chaos.report("overlapping-installations-moto", runs: runs, violations: violations)
        }
    }
}

@Suite("Chaos: 20% injected ECR faults", .serialized)
struct ChaosECRFaultsTests {
    /// Through the fault-injecting server in front of moto, about 20% of requests are throttled, answered 5xx, reset,
    /// delayed, or (CreateRepository) performed with the answer lost. Beside mir's images the registry holds a
    /// repository that is not mir's, one of another installation, and two orphans of mir's own (Delete). Invariants:
    /// the foreign repositories are untouched; CreateRepository is sent only for desired repositories and
    /// DeleteRepository only for the orphans; every pass that completes converges within a bounded number of passes.
    @Test func faults() async throws {
        let seeds: [UInt64] = Chaos.full ? [1, 2, 3, 4] : [1]
        let imageCount = Chaos.full ? 12 : 5
        var violations: [String] = []
        for seed in seeds {
            violations += try await MotoServer.with { moto -> [String] in
                let proxy = try await FaultInjectingServer.start(upstream: moto.url)
                defer { Task { await proxy.stop() } }
                let random = Chaos.SharedRandom(seed: seed)
                let chance: @Sendable (Double) -> Bool = { random.chance($0) }
                proxy.plan.add(FaultRule(RequestMatcher { $0.operation == "CreateRepository" && chance(0.04) }, action: .custom { request, forward in
                    _ = try await forward(request)       // created, but the answer is lost
                    return .htmlError(status: 502)
                }))
                proxy.plan.add(FaultRule(RequestMatcher { _ in chance(0.04) }, action: .respond(.throttling)))
                proxy.plan.add(FaultRule(RequestMatcher { _ in chance(0.04) }, action: .respond(.serverError(status: 503))))
                proxy.plan.add(FaultRule(RequestMatcher { _ in chance(0.04) }, action: .resetConnection))
                proxy.plan.add(FaultRule(RequestMatcher { _ in chance(0.04) }, delay: .milliseconds(150), action: .forward))

                let direct = Fixtures.registry(endpoint: moto.url, authorizer: Fixtures.motoAuthorizer)
                let registry = Fixtures.registry(endpoint: proxy.url, authorizer: Fixtures.motoAuthorizer, requestTimeout: 3)
                let config = Chaos.config(prefix: "mir/")
                let box = Chaos.sandbox()
                defer { try? FileManager.default.removeItem(atPath: box) }
                let records = FileBuildRecordStore(directory: box + "/records")
                // The neighbours: not mir's, another installation's, and two orphans of this installation.
                _ = try await direct.createRepository(name: "mir/payments", tags: [ResourceTag(key: "team", value: "payments")])
                _ = try await direct.putImage(repositoryName: "mir/payments", manifest: Chaos.foreignManifest(1), tag: "v1")
                let otherInstallation = OwnershipIdentity(installation: "mir/team-b/", owner: "files", claimsLegacy: false)
                _ = try await direct.createRepository(name: "mir/shared", tags: OwnershipTags.tags(image: "shared", deletionPolicy: .delete, ownership: otherInstallation))
                for orphan in ["orphan0", "orphan1"] {
                    _ = try await direct.createRepository(name: "mir/" + orphan, tags: OwnershipTags.tags(image: orphan, deletionPolicy: .delete, ownership: .files(config)))
                }
                let foreign = ["mir/payments", "mir/shared"]
                var before: [String: Chaos.Snapshot] = [:]
                for name in foreign { before[name] = try await Chaos.snapshot(direct, name) }

                var names = (0..<imageCount).map { "img\($0)" }
                names.append("shared")   // a desired image whose repository is another installation's
                let desired = try Chaos.desired(names, config: config)
                var found: [String] = []
                var converged = false
                for _ in 0..<15 {
                    do {
                        let (plan, report) = try await Chaos.pass(registry, records: records, desired, options: PlanOptions(maxDeletionFraction: 1))
                        let onlyForeignWarning = plan.actions.isEmpty && report.failures.isEmpty
                        if onlyForeignWarning { converged = true; break }
                    } catch {
                        continue  // a listing that exhausted its retries: the pass is lost, nothing was decided
                    }
                }
                if !converged { found.append("seed \(seed): did not converge in 15 passes") }
                for name in foreign {
                    let now = try await Chaos.snapshot(direct, name)
                    if now != before[name] { found.append("seed \(seed): foreign repository \(name) was touched") }
                }
                let wantedRepos = Set(names.filter { $0 != "shared" }.map { "mir/" + $0 })
                for request in proxy.requests(for: "CreateRepository") {
                    if let repo = request.jsonBody?["repositoryName"] as? String, !wantedRepos.contains(repo) { found.append("seed \(seed): CreateRepository \(repo)") }
                }
                for request in proxy.requests(for: "DeleteRepository") {
                    if let repo = request.jsonBody?["repositoryName"] as? String, !repo.hasPrefix("mir/orphan") { found.append("seed \(seed): DeleteRepository \(repo)") }
                }
                for repo in wantedRepos {
                    let snap = try await Chaos.snapshot(direct, repo)
                    if snap == nil || snap?.images.isEmpty == true || snap?.policy == nil { found.append("seed \(seed): \(repo) not converged: \(String(describing: snap))") }
                }
                for orphan in ["mir/orphan0", "mir/orphan1"] {
                    if try await Chaos.snapshot(direct, orphan) != nil { found.append("seed \(seed): orphan \(orphan) was not deleted") }
                }
                return found
            }
        }
        Chaos.report("ecr-faults-20pct", runs: seeds.count, violations: violations)
    }

    @Test("problem 4: the answer to CreateRepository is lost and someone else's repository appears in between: no policy, no build")
    func lostAnswerWithForeignRepositoryInBetween() async throws {
        try await MotoServer.with { moto in
            let proxy = try await FaultInjectingServer.start(upstream: moto.url)
            defer { Task { await proxy.stop() } }
            let direct = Fixtures.registry(endpoint: moto.url, authorizer: Fixtures.motoAuthorizer)
            let foreignTags = [ResourceTag(key: "team", value: "payments")]
            // The first CreateRepository of mir/contested never reaches moto: someone else creates it, and mir's answer is lost.
            proxy.plan.add(FaultRule(.operation("CreateRepository"), times: 1, action: .custom { _, _ in
                _ = try await direct.createRepository(name: "mir/contested", tags: foreignTags)
                return .htmlError(status: 502)
            }))
            let registry = Fixtures.registry(endpoint: proxy.url, authorizer: Fixtures.motoAuthorizer)
            let box = Chaos.sandbox()
            defer { try? FileManager.default.removeItem(atPath: box) }
            let records = FileBuildRecordStore(directory: box + "/records")
            let (plan, report) = try await Chaos.pass(registry, records: records, try Chaos.desired(["contested"], config: Chaos.config(prefix: "mir/")))
            #expect(plan.count(.create) == 1)
            #expect(proxy.requests(for: "CreateRepository").count == 2, "retried once after the lost answer")
            let failure = try #require(report.failures.first)
            #expect(failure.message.contains("not this mir's"), "\(failure.message)")
            #expect(proxy.requests(for: "PutLifecyclePolicy").isEmpty)
            #expect(proxy.requests(for: "PutImage").isEmpty)
            let snap = try #require(try await Chaos.snapshot(direct, "mir/contested"))
            #expect(snap == Chaos.Snapshot(tags: Set(foreignTags), policy: nil, images: []))
        }
    }
}

/// An embedded registry that loses its whole state after a number of writes (its directory is replaced by an empty
/// one, as after a lost volume) and in which another installation then creates repositories under the prefix.
final class LosingRegistry: ImageRegistry, @unchecked Sendable {
    private let state: Mutex<(current: LocalRegistry, writes: Int, lost: Bool)>
    let loseAfter: Int
    let directory: String
    let afterLoss: @Sendable (LocalRegistry) async throws -> Void

    init(directory: String, loseAfter: Int, afterLoss: @escaping @Sendable (LocalRegistry) async throws -> Void) throws {
        self.directory = directory
        self.loseAfter = loseAfter
        self.afterLoss = afterLoss
        state = Mutex((try LocalRegistry(directory: directory + "/0"), 0, false))
    }

    var displayName: String { "losing" }
    var current: LocalRegistry { state.withLock { $0.current } }
    var lost: Bool { state.withLock { $0.lost } }

    /// Counts one event that may lose the state (a control-plane write, or a build starting: the state lost while a
    /// build is under way) and returns the registry to act on.
    private func advance() async throws -> LocalRegistry {
        let (registry, loseNow) = state.withLock { s -> (LocalRegistry, Bool) in
            s.writes += 1
            if !s.lost && s.writes > loseAfter {
                s.lost = true   // exactly one event replaces the registry; writes racing with it go to the lost one
                return (s.current, true)
            }
            return (s.current, false)
        }
        if loseNow {
            let fresh = try LocalRegistry(directory: directory + "/1")
            try await afterLoss(fresh)
            state.withLock { $0.current = fresh }
            return fresh
        }
        return registry
    }

    private func write<T>(_ body: (LocalRegistry) async throws -> T) async throws -> T {
        try await body(try await advance())
    }

    /// A build of the chaos builder starts: the registry may lose its state now, while the build is under way.
    func buildStarting() async throws { _ = try await advance() }

    func describeRepositories(names: [String]?, maxResults: Int?, nextToken: String?) async throws -> Page<RepositoryDescription> {
        try await current.describeRepositories(names: names, maxResults: maxResults, nextToken: nextToken)
    }
    func createRepository(name: String, tags: [ResourceTag], imageTagMutability: ImageTagMutability) async throws -> RepositoryDescription {
        try await write { try await $0.createRepository(name: name, tags: tags, imageTagMutability: imageTagMutability) }
    }
    func deleteRepository(name: String, force: Bool) async throws -> RepositoryDescription {
        try await write { try await $0.deleteRepository(name: name, force: force) }
    }
    func getLifecyclePolicy(repositoryName: String) async throws -> String { try await current.getLifecyclePolicy(repositoryName: repositoryName) }
    func putLifecyclePolicy(repositoryName: String, policyText: String) async throws {
        try await write { try await $0.putLifecyclePolicy(repositoryName: repositoryName, policyText: policyText) }
    }
    func deleteLifecyclePolicy(repositoryName: String) async throws {
        try await write { try await $0.deleteLifecyclePolicy(repositoryName: repositoryName) }
    }
    func listImages(repositoryName: String, maxResults: Int?, nextToken: String?) async throws -> Page<ImageIdentifier> {
        try await current.listImages(repositoryName: repositoryName, maxResults: maxResults, nextToken: nextToken)
    }
    func describeImages(repositoryName: String, imageIds: [ImageIdentifier]?, maxResults: Int?, nextToken: String?) async throws -> Page<ImageDetail> {
        try await current.describeImages(repositoryName: repositoryName, imageIds: imageIds, maxResults: maxResults, nextToken: nextToken)
    }
    /// A push is not a moment of loss: a loss between the builder's last check and its push is the window no client
    /// can close (ECR has no conditional push; the builder role's IAM condition on the repository's tags closes it).
    func putImage(repositoryName: String, manifest: String, tag: String) async throws -> ImageIdentifier {
        try await current.putImage(repositoryName: repositoryName, manifest: manifest, tag: tag)
    }
    func listTagsForResource(arn: String) async throws -> [ResourceTag] { try await current.listTagsForResource(arn: arn) }
    func tagResource(arn: String, tags: [ResourceTag]) async throws { try await write { try await $0.tagResource(arn: arn, tags: tags) } }
}

@Suite("Chaos: the registry loses its state mid-apply", .serialized)
struct ChaosRegistryLossTests {
    /// After a random number of writes the registry is empty, and another installation has created two repositories
    /// under the prefix — one with the name of a desired image. Invariants: the other installation's repositories are
    /// never deleted, re-tagged or re-policied (with force on and no fraction limit); every other desired image
    /// converges (repository, policy, image); the colliding image is reported, not reconciled.
    @Test func registryLosesItsState() async throws {
        let runs = Chaos.full ? 12 : 3
        var violations: [String] = []
        let config = Chaos.config(prefix: "mir/")
        let names = (0..<8).map { "img\($0)" }
        let desired = try Chaos.desired(names, config: config)
        let other = OwnershipIdentity(installation: "team-b", owner: "files", claimsLegacy: false)
        for run in 0..<runs {
            var rng = Chaos.Random(seed: UInt64(100 + run))
            let box = Chaos.sandbox()
            defer { try? FileManager.default.removeItem(atPath: box) }
            let registry = try LosingRegistry(directory: box, loseAfter: Int.random(in: 1...20, using: &rng)) { fresh in
                _ = try await fresh.createRepository(name: "mir/img3", tags: OwnershipTags.tags(image: "img3", deletionPolicy: .delete, ownership: other))
                _ = try await fresh.createRepository(name: "mir/theirs", tags: OwnershipTags.tags(image: "theirs", deletionPolicy: .delete, ownership: other))
                _ = try await fresh.putImage(repositoryName: "mir/theirs", manifest: Chaos.foreignManifest(run), tag: "v1")
            }
            let records = FileBuildRecordStore(directory: box + "/records")
            var converged = false
            for _ in 0..<6 {
                let (plan, report) = try await Chaos.pass(registry, records: records, desired, options: PlanOptions(forceDelete: true, maxDeletionFraction: 1))
                if plan.actions.isEmpty && report.failures.isEmpty && registry.lost { converged = true; break }
            }
            if !converged { violations.append("run \(run): did not converge") }
            let fresh = registry.current
            let theirs = try await Chaos.snapshot(fresh, "mir/theirs")
            if theirs?.images.contains("v1") != true || theirs?.policy != nil
                || theirs?.tags != Set(OwnershipTags.tags(image: "theirs", deletionPolicy: .delete, ownership: other)) { violations.append("run \(run): mir/theirs touched: \(String(describing: theirs))") }
            // Its tags, policy, existence and content are never changed — also by a build that was under way when the
            // registry lost its state (the builder checks the repository right before its push).
            let collided = try await Chaos.snapshot(fresh, "mir/img3")
            if collided == nil || collided?.policy != nil || collided?.images.isEmpty != true
                || collided?.tags != Set(OwnershipTags.tags(image: "img3", deletionPolicy: .delete, ownership: other)) {
                violations.append("run \(run): the other installation's mir/img3 was touched: \(String(describing: collided))")
            }
            for name in names where name != "img3" {
                let snap = try await Chaos.snapshot(fresh, "mir/" + name)
                if snap == nil || snap?.images.isEmpty == true || snap?.policy == nil { violations.append("run \(run): mir/\(name) not converged") }
            }
        }
        Chaos.report("registry-loses-state", runs: runs, violations: violations)
    }
}
