import MirModel
import MirBuild

/// One typed step of a plan.
public enum PlannedAction: Sendable, Hashable {
    case createRepository(repository: String, image: String, deletionPolicy: DeletionPolicy)
    /// Explicit adoption (`--adopt NAME`): put mir's ownership tags on an existing repository.
    case adoptRepository(repository: String, image: String, deletionPolicy: DeletionPolicy)
    /// Record this installation and owner on a repository of this installation that has none recorded (made before
    /// mir recorded them): the migration of a legacy repository to the source that has its spec.
    case claimRepository(repository: String, image: String, deletionPolicy: DeletionPolicy)
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
        case .createRepository(let r, _, _), .adoptRepository(let r, _, _), .claimRepository(let r, _, _),
             .updateDeletionPolicy(let r, _, _), .putLifecyclePolicy(let r, _, _, _), .deleteRepository(let r, _):
            return r
        case .build:
            return nil
        }
    }

    public var image: String? {
        switch self {
        case .createRepository(_, let i, _), .adoptRepository(_, let i, _), .claimRepository(_, let i, _),
             .updateDeletionPolicy(_, let i, _), .putLifecyclePolicy(_, let i, _, _), .build(let i, _, _):
            return i
        case .deleteRepository:
            return nil
        }
    }

    public enum Kind: String, Sendable { case create, update, build, delete }

    public var kind: Kind {
        switch self {
        case .createRepository: return .create
        case .adoptRepository, .claimRepository, .updateDeletionPolicy, .putLifecyclePolicy: return .update
        case .build: return .build
        case .deleteRepository: return .delete
        }
    }
}

/// The result of planning: ordered actions plus what the user must know.
public struct Plan: Sendable, Hashable {
    public var actions: [PlannedAction]
    /// Things mir will not do and why (foreign repositories, held-back deletions, degraded capabilities).
    public var warnings: [PlanWarning]

    public init(actions: [PlannedAction] = [], warnings: [PlanWarning] = []) {
        self.actions = actions
        self.warnings = warnings
    }

    public var isEmpty: Bool { actions.isEmpty }

    public func count(_ kind: PlannedAction.Kind) -> Int { actions.filter { $0.kind == kind }.count }

    public var summary: String {
        "Plan: \(count(.create)) to create, \(count(.update)) to update, \(count(.build)) to build, \(count(.delete)) to delete."
    }
}

/// Something mir will not do, or did not look at, in this pass — typed, naming the object it concerns, so that
/// callers decide on the case, never on the text.
public enum PlanWarning: Sendable, Hashable, CustomStringConvertible {
    /// A capability is off because a read was denied (the note says which and why).
    case capabilityOff(String)
    /// The repository of `image` exists but is someone else's: the image is not reconciled.
    case foreignRepository(repository: String, image: String, owner: ForeignOwner)
    /// A read about `repository` failed: its image (if any) is skipped in this pass.
    case readFailed(repository: String, image: String?, error: String)
    /// A repository without a spec whose ownership tags could not be read: not deleted.
    case ownershipUnreadable(repository: String)
    /// Some specs failed to load: no repository is deleted in this pass.
    case incompleteDesiredState
    /// Repositories could not be listed: no repository is deleted in this pass.
    case repositoriesNotListed
    /// Reads failed in this pass: no repository is deleted in it.
    case deletionsOffAfterReadFailures(count: Int)
    /// The desired state is empty: nothing is deleted unless allowed (`--allow-empty`, config `allowEmpty`).
    case emptyDesiredState(wouldDelete: [String])
    /// The pass would delete more than the allowed share of the installation's repositories: nothing is deleted.
    case tooManyDeletions(wouldDelete: [String], owned: Int, limit: Int)
    /// Deletions over the per-pass cap, held back to a later pass.
    case deletionsHeldBack(repositories: [String], cap: Int)
    /// `mir run --source files:` deletes only what was absent in two reads at least one interval apart.
    case deletionDeferred(repository: String)

    /// The repository the warning is about, if it is about one.
    public var repository: String? {
        switch self {
        case .foreignRepository(let r, _, _), .readFailed(let r, _, _), .ownershipUnreadable(let r), .deletionDeferred(let r): r
        default: nil
        }
    }

    /// The image the warning is about, if it is about one.
    public var image: String? {
        switch self {
        case .foreignRepository(_, let i, _): i
        case .readFailed(_, let i, _): i
        default: nil
        }
    }

    /// Whether this warning means that no repository is deleted in this pass.
    public var blocksDeletions: Bool {
        switch self {
        case .incompleteDesiredState, .repositoriesNotListed, .deletionsOffAfterReadFailures, .emptyDesiredState, .tooManyDeletions: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .capabilityOff(let note): return note
        case .foreignRepository(let r, let i, let owner):
            return "repository \(r) exists but is not this mir's: \(owner); image \(i) is not reconciled and the repository is left alone. "
                + "Adopt it explicitly (mir apply --adopt \(i), or the annotation \(OwnershipAnnotations.adopt): \"true\" on the ManagedImage)"
        case .readFailed(let r, let i, let error):
            return "reading repository \(r) failed: \(error); " + (i.map { "image \($0) is skipped in this pass" } ?? "it is not deleted in this pass")
        case .ownershipUnreadable(let r):
            return "repository \(r) has no spec, but its ownership tags could not be read: not deleted"
        case .incompleteDesiredState:
            return "some specs failed to load: no repository is deleted in this pass"
        case .repositoriesNotListed:
            return "repositories could not be listed: garbage collection is off in this pass"
        case .deletionsOffAfterReadFailures(let n):
            return "\(n) repository read(s) failed: no repository is deleted in this pass"
        case .emptyDesiredState(let names):
            return "the desired state is empty: the \(names.count) repositor\(names.count == 1 ? "y" : "ies") it would delete (\(Self.list(names))) are kept. "
                + "An empty specs directory is more often a bad checkout than an intent; allow it with --allow-empty (config allowEmpty: true)"
        case .tooManyDeletions(let names, let owned, let limit):
            return "this pass would delete \(names.count) of the \(owned) repositories this installation owns (\(Self.list(names))), more than the \(limit) allowed "
                + "(maxDeletionFraction of the owned ones, at least the per-pass cap): nothing is deleted. Raise maxDeletionFraction in the config if this is intended"
        case .deletionsHeldBack(let names, let cap):
            return "\(names.count) deletion(s) held back by the cap of \(cap) per pass (raise it with --max-deletions): \(names.joined(separator: ", "))"
        case .deletionDeferred(let r):
            return "repository \(r) has no spec in this read; it is deleted only if it is still absent in a read at least one interval later"
        }
    }

    static func list(_ names: [String]) -> String {
        names.count <= 10 ? names.joined(separator: ", ") : names.prefix(10).joined(separator: ", ") + ", … (\(names.count - 10) more)"
    }
}

/// Annotations on a ManagedImage that speak to ownership.
public enum OwnershipAnnotations {
    /// `mir.dev/adopt: "true"`: take over the image's existing repository although it is foreign (recorded as an event).
    public static let adopt = "mir.dev/adopt"
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

    /// Whether an empty desired state may delete repositories.
    public var allowEmpty: Bool
    /// A pass that would delete more than this fraction of the installation's repositories (and more than
    /// `maxDeletions`) deletes nothing.
    public var maxDeletionFraction: Double

    public init(maxDeletions: Int = 5, adopt: Set<String> = [], forceDelete: Bool = false, retryFailedBuilds: Bool = false,
                allowEmpty: Bool = false, maxDeletionFraction: Double = 0.1) {
        self.allowEmpty = allowEmpty
        self.maxDeletionFraction = maxDeletionFraction
        self.maxDeletions = maxDeletions
        self.adopt = adopt
        self.forceDelete = forceDelete
        self.retryFailedBuilds = retryFailedBuilds
    }
}
