import MirModel
import MirBuild

/// One typed step of a plan.
public enum PlannedAction: Sendable, Hashable {
    case createRepository(repository: String, image: String, deletionPolicy: DeletionPolicy)
    /// Explicit adoption (`--adopt NAME`): put mir's ownership tags on an existing repository.
    case adoptRepository(repository: String, image: String, deletionPolicy: DeletionPolicy)
    /// Record a changed deletionPolicy on the repository (TagResource).
    case updateDeletionPolicy(repository: String, image: String, policy: DeletionPolicy)
    case putLifecyclePolicy(repository: String, image: String, policy: JSONValue, reason: LifecyclePolicyChange)
    case build(image: String, tag: String, reason: BuildReason)
    case deleteRepository(repository: String, force: Bool)

    public enum LifecyclePolicyChange: String, Sendable, Hashable {
        case missing = "missing"
        case drifted = "drifted"
    }

    /// The repository the action acts on (every action acts on exactly one, under the prefix).
    public var repository: String? {
        switch self {
        case .createRepository(let r, _, _), .adoptRepository(let r, _, _), .updateDeletionPolicy(let r, _, _),
             .putLifecyclePolicy(let r, _, _, _), .deleteRepository(let r, _):
            return r
        case .build:
            return nil
        }
    }

    public var image: String? {
        switch self {
        case .createRepository(_, let i, _), .adoptRepository(_, let i, _), .updateDeletionPolicy(_, let i, _),
             .putLifecyclePolicy(_, let i, _, _), .build(let i, _, _):
            return i
        case .deleteRepository:
            return nil
        }
    }

    public enum Kind: String, Sendable { case create, update, build, delete }

    public var kind: Kind {
        switch self {
        case .createRepository: return .create
        case .adoptRepository, .updateDeletionPolicy, .putLifecyclePolicy: return .update
        case .build: return .build
        case .deleteRepository: return .delete
        }
    }
}

/// The result of planning: ordered actions plus what the user must know.
public struct Plan: Sendable, Hashable {
    public var actions: [PlannedAction]
    /// Things mir will not do and why (un-owned repositories, held-back deletions, degraded capabilities).
    public var warnings: [String]

    public init(actions: [PlannedAction] = [], warnings: [String] = []) {
        self.actions = actions
        self.warnings = warnings
    }

    public var isEmpty: Bool { actions.isEmpty }

    public func count(_ kind: PlannedAction.Kind) -> Int { actions.filter { $0.kind == kind }.count }

    public var summary: String {
        "Plan: \(count(.create)) to create, \(count(.update)) to update, \(count(.build)) to build, \(count(.delete)) to delete."
    }
}

public struct PlanOptions: Sendable {
    /// At most this many deletions in one pass; the rest are held back with a warning.
    public var maxDeletions: Int
    /// Image names whose existing, un-owned repositories may be adopted.
    public var adopt: Set<String>
    /// Use `force` on DeleteRepository (delete repositories that still hold images).
    public var forceDelete: Bool
    /// Start a build again for a tag whose last build failed.
    public var retryFailedBuilds: Bool

    public init(maxDeletions: Int = 5, adopt: Set<String> = [], forceDelete: Bool = false, retryFailedBuilds: Bool = false) {
        self.maxDeletions = maxDeletions
        self.adopt = adopt
        self.forceDelete = forceDelete
        self.retryFailedBuilds = retryFailedBuilds
    }
}
