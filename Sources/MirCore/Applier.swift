import Foundation
import MirModel
import MirRegistry
import MirBuild
import Synchronization

/// What happened to one action.
public enum ActionOutcome: Sendable {
    case succeeded(detail: String?)
    case failed(String)
    case skipped(String)

    public var isFailure: Bool { if case .failed = self { return true }; return false }
}

/// Progress reported while a plan is applied.
public struct ApplyProgress: Sendable {
    public var action: PlannedAction
    public var outcome: ActionOutcome
    /// 1-based position among finished actions, and the total.
    public var index: Int
    public var total: Int
}

public struct ApplyReport: Sendable {
    public var outcomes: [(action: PlannedAction, outcome: ActionOutcome)]
    public var builds: [BuildRecord]

    public var failures: [(action: PlannedAction, message: String)] {
        outcomes.compactMap { if case .failed(let m) = $0.outcome { return ($0.action, m) }; return nil }
    }
    public var succeededCount: Int { outcomes.filter { if case .succeeded = $0.outcome { return true }; return false }.count }
}

/// Applies a plan: repository actions per repository in order (create → tags → lifecycle), independent
/// repositories concurrently (bounded); then builds, parents before children, at most
/// `maxConcurrentBuilds` at once. A failure skips what depends on it and nothing else.
public struct Applier: Sendable {
    public var registry: any ImageRegistry
    public var builder: any ImageBuilder
    public var records: any BuildRecordStore
    public var concurrency: Int
    public var maxConcurrentBuilds: Int

    public init(registry: any ImageRegistry, builder: any ImageBuilder, records: any BuildRecordStore,
                concurrency: Int = 8, maxConcurrentBuilds: Int = 4) {
        self.registry = registry
        self.builder = builder
        self.records = records
        self.concurrency = concurrency
        self.maxConcurrentBuilds = maxConcurrentBuilds
    }

    public func apply(_ plan: Plan, desired: DesiredState, observed: ObservedState,
                      progress: @escaping @Sendable (ApplyProgress) -> Void = { _ in }) async -> ApplyReport {
        let log = OutcomeLog(total: plan.actions.count, progress: progress)
        let uris = URIBook(observed.repositories.values.compactMap { r in r.description.map { (r.name, $0.uri) } })

        // Phase 1: repository actions, grouped by repository, groups in parallel.
        var groups: [String: [PlannedAction]] = [:]
        var order: [String] = []
        for action in plan.actions {
            guard let repo = action.repository else { continue }
            if groups[repo] == nil { order.append(repo) }
            groups[repo, default: []].append(action)
        }
        let registry = self.registry
        let context = RunContext(registry: registry, uris: uris, ownership: desired.ownership, prefix: desired.repositoryPrefix,
                                 records: observed.buildRecords)
        _ = await boundedMap(order.map { groups[$0]! }, limit: concurrency) { actions in
            var failed: String? = nil
            for action in actions {
                if let failed {
                    log.record(action, .skipped("an earlier step on \(action.repository ?? "") failed: \(failed)"))
                    continue
                }
                let outcome = await Self.run(action, context)
                if case .failed(let m) = outcome { failed = m }
                log.record(action, outcome)
            }
            return 0
        }

        // Phase 2: builds in dependency levels.
        let builds = plan.actions.compactMap { a -> (ResolvedImage, PlannedAction, BuildReason)? in
            guard case .build(let name, _, let reason) = a, let image = desired.image(named: name) else { return nil }
            return (image, a, reason)
        }
        let building = Set(builds.map { $0.0.name })
        var level: [String: Int] = [:]
        for (image, _, _) in builds {  // builds are in desired (topological) order
            level[image.name] = image.parentName.flatMap { building.contains($0) ? (level[$0] ?? 0) + 1 : nil } ?? 0
        }
        let failedRepos = Set(log.failedOrSkipped.compactMap { $0.image })
        let results = BuildResults()
        let maxLevel = level.values.max() ?? -1
        if maxLevel >= 0 {
            for l in 0...maxLevel {
                let wave = builds.filter { level[$0.0.name] == l }
                _ = await boundedMap(wave, limit: maxConcurrentBuilds) { (image, action, reason) in
                    if failedRepos.contains(image.name) {
                        log.record(action, .skipped("repository \(image.repositoryName) was not reconciled"))
                        return 0
                    }
                    if let parent = image.parentName, results.failed(parent) {
                        log.record(action, .skipped("parent \(parent) did not build"))
                        results.markFailed(image.name)
                        return 0
                    }
                    let outcome = await self.build(image, reason: reason, platformVersion: desired.platformVersion, uris: uris, results: results,
                                                   recordVersion: observed.record(image: image.name, tag: image.tag)?.version,
                                                   pushTarget: OwnershipPushCheck(registry: registry, ownership: desired.ownership))
                    log.record(action, outcome)
                    return 0
                }
            }
        }
        return ApplyReport(outcomes: log.outcomes, builds: results.records)
    }

    func build(_ image: ResolvedImage, reason: BuildReason, platformVersion: String, uris: URIBook, results: BuildResults,
               recordVersion: Int? = nil, pushTarget: (any PushTargetCheck)? = nil) async -> ActionOutcome {
        guard let uri = uris[image.repositoryName] else {
            results.markFailed(image.name)
            return .skipped("the URI of repository \(image.repositoryName) is unknown")
        }
        let base: String
        switch image.base {
        case .reference(let ref): base = ref
        case .managed(let parent, let tag, let parentRepo):
            guard let parentURI = uris[parentRepo] else {
                results.markFailed(image.name)
                return .skipped("the URI of parent \(parent)'s repository is unknown")
            }
            base = "\(parentURI):\(tag)"
        }
        let request = BuildRequest(image: image, reason: reason, repositoryURI: uri, baseImageReference: base, platformVersion: platformVersion,
                                   pushTarget: pushTarget)
        do {
            var record = try await builder.build(request)
            if !builder.writesRecords {
                // Compare-and-swap against the record the plan was made from: a newer one is never overwritten.
                record.version = recordVersion
                record = try await records.put(record)
            }
            results.add(record)
            let label = builder.isSimulation ? " (simulated)" : ""
            switch record.state {
            case .failed:
                results.markFailed(image.name)
                return .failed("build \(image.name):\(image.tag) failed\(label): \(record.message ?? "no message")")
            case .submitted, .abandoned, .lost:
                return .succeeded(detail: "submitted to \(builder.name)\(label)\(record.message.map { ": \($0)" } ?? "")")
            case .running:
                return .succeeded(detail: "started\(label)")
            case .succeeded:
                return .succeeded(detail: "built\(label), \(record.pipLibraries.count) pip libraries")
            }
        } catch {
            results.markFailed(image.name)
            return .failed("build \(image.name):\(image.tag): \(error)")
        }
    }

    /// What a repository action needs besides the registry.
    struct RunContext: Sendable {
        var registry: any ImageRegistry
        var uris: URIBook
        var ownership: OwnershipIdentity
        var prefix: String
        var records: [BuildRecord]
    }

    static func run(_ action: PlannedAction, _ context: RunContext) async -> ActionOutcome {
        let registry = context.registry
        let uris = context.uris
        do {
            switch action {
            case .createRepository(let repo, let image, let policy):
                let tags = OwnershipTags.tags(image: image, deletionPolicy: policy, ownership: context.ownership)
                do {
                    let created = try await registry.createRepository(name: repo, tags: tags, imageTagMutability: .immutable)
                    uris[repo] = created.uri
                    return .succeeded(detail: created.uri)
                } catch let error as RegistryError where error.code == .accessDenied && error.deniedAction == "ecr:TagResource" {
                    // Tag-on-create needs ecr:TagResource. Without it the repository can still be created, but mir
                    // can never prove it owns it, so it will never delete it.
                    let created = try await registry.createRepository(name: repo, tags: [], imageTagMutability: .immutable)
                    uris[repo] = created.uri
                    return .succeeded(detail: "\(created.uri); created WITHOUT ownership tags (ecr:TagResource denied): mir will never delete it")
                } catch let error as RegistryError where error.code == .repositoryAlreadyExists {
                    // First try or a retry after a lost answer: whose is it? Its tags decide before anything is done with it.
                    return try await existingRepository(repo, context: context, error: error)
                }
            case .adoptRepository(let repo, let image, let policy), .claimRepository(let repo, let image, let policy):
                guard let arn = try await arnOf(repo, registry: registry) else { return .failed("repository \(repo) not found") }
                try await registry.tagResource(arn: arn, tags: OwnershipTags.tags(image: image, deletionPolicy: policy, ownership: context.ownership))
                return .succeeded(detail: nil)
            case .updateDeletionPolicy(let repo, _, let policy):
                guard let arn = try await arnOf(repo, registry: registry) else { return .failed("repository \(repo) not found") }
                try await registry.tagResource(arn: arn, tags: [ResourceTag(key: OwnershipTags.deletionPolicyKey, value: policy.rawValue)])
                return .succeeded(detail: nil)
            case .putLifecyclePolicy(let repo, _, let policy, _):
                try await registry.putLifecyclePolicy(repositoryName: repo, policyText: LifecyclePolicyRules.text(for: policy))
                return .succeeded(detail: nil)
            case .deleteRepository(let repo, let force):
                let image = String(repo.dropFirst(context.prefix.count))
                let built = Set(context.records.filter { $0.image == image }.map(\.tag))
                let outcome = try await RepositoryDeleter(registry: registry)
                    .delete(repository: repo, ownership: context.ownership, builtTags: built, forceForeignImages: force)
                switch outcome {
                case .deleted, .alreadyGone: return .succeeded(detail: outcome.description)
                case .retained, .notOwned: return .skipped(outcome.description)
                case .ownershipUnknown, .blocked: return .failed("repository \(repo) \(outcome.description)")
                }
            case .build:
                return .skipped("not a repository action")
            }
        } catch {
            return .failed(String(describing: error))
        }
    }

    /// CreateRepository met an existing repository. It is taken as created only when it is this installation's and
    /// owner's (an earlier attempt of this call, or this owner before); anything else is left alone: no lifecycle
    /// policy is put on it and nothing is built into it.
    static func existingRepository(_ repo: String, context: RunContext, error: RegistryError) async throws -> ActionOutcome {
        guard let found = try await OwnershipPushCheck.read(repo, registry: context.registry, identity: context.ownership) else {
            return .failed("\(error); and it could not be described")
        }
        switch found.ownership {
        case .mine:
            context.uris[repo] = found.description.uri
            return .succeeded(detail: "\(found.description.uri) (it already existed, with this mir's ownership tags)")
        case .foreign(let owner):
            return .failed("repository \(repo) already exists and is not this mir's: \(owner); it is left alone (no lifecycle policy, no build)")
        case .unclaimed, .unknown:
            return .failed("repository \(repo) already exists without this mir's owner recorded; it is left alone in this pass (no lifecycle policy, no build)")
        }
    }

    static func arnOf(_ repo: String, registry: any ImageRegistry) async throws -> String? {
        try await registry.describeRepositories(names: [repo], maxResults: nil, nextToken: nil).items.first?.arn
    }
}

/// Repository name → URI, filled from observation and from CreateRepository.
final class URIBook: Sendable {
    private let map: Mutex<[String: String]>
    init(_ pairs: [(String, String)]) { map = Mutex(Dictionary(pairs, uniquingKeysWith: { a, _ in a })) }
    subscript(_ name: String) -> String? {
        get { map.withLock { $0[name] } }
        set { map.withLock { $0[name] = newValue } }
    }
}

final class BuildResults: Sendable {
    private let state = Mutex<(records: [BuildRecord], failed: Set<String>)>(([], []))
    func add(_ r: BuildRecord) { state.withLock { $0.records.append(r) } }
    func markFailed(_ image: String) { _ = state.withLock { $0.failed.insert(image) } }
    func failed(_ image: String) -> Bool { state.withLock { $0.failed.contains(image) } }
    var records: [BuildRecord] { state.withLock { $0.records } }
}

final class OutcomeLog: Sendable {
    private let state = Mutex<[(action: PlannedAction, outcome: ActionOutcome)]>([])
    let total: Int
    let progress: @Sendable (ApplyProgress) -> Void

    init(total: Int, progress: @escaping @Sendable (ApplyProgress) -> Void) {
        self.total = total
        self.progress = progress
    }

    func record(_ action: PlannedAction, _ outcome: ActionOutcome) {
        let index = state.withLock { s -> Int in s.append((action, outcome)); return s.count }
        progress(ApplyProgress(action: action, outcome: outcome, index: index, total: total))
    }

    var outcomes: [(action: PlannedAction, outcome: ActionOutcome)] { state.withLock { $0 } }
    var failedOrSkipped: [PlannedAction] {
        state.withLock { $0.filter { if case .succeeded = $0.outcome { return false }; return true }.map(\.action) }
    }
}
