import Foundation
import MirModel
import MirRegistry

/// A ManagedImage with everything derived from it: repository name, inherited Python version, resolved base
/// and its content-addressed tag.
public struct ResolvedImage: Sendable, Hashable {
    public var image: ManagedImage
    /// Full ECR repository name: the configured prefix + the image name.
    public var repositoryName: String
    public var pythonVersion: String
    /// Default OS package type (from the catalog entry; a child inherits its root's).
    public var packageType: PackageType
    public var base: ResolvedBase
    /// Digest of the canonical spec alone.
    public var specDigest: String
    /// The content-addressed image tag.
    public var tag: String
    /// The lifecycle policy the repository must carry (the spec's or the configured default).
    public var lifecyclePolicy: JSONValue
    /// The non-root user the base image runs as (the catalog entry's `user`; a child inherits its root's), nil for root.
    public var baseUser: String?

    public init(image: ManagedImage, repositoryName: String, pythonVersion: String, packageType: PackageType,
                base: ResolvedBase, specDigest: String, tag: String, lifecyclePolicy: JSONValue, baseUser: String? = nil) {
        self.image = image
        self.repositoryName = repositoryName
        self.pythonVersion = pythonVersion
        self.packageType = packageType
        self.base = base
        self.specDigest = specDigest
        self.tag = tag
        self.lifecyclePolicy = lifecyclePolicy
        self.baseUser = baseUser
    }

    public var name: String { image.name }
    public var parentName: String? { if case .managed(let p, _, _) = base { return p }; return nil }
    public var parentTag: String? { if case .managed(_, let t, _) = base { return t }; return nil }
}

public enum ResolvedBase: Sendable, Hashable {
    /// A full image reference (catalog entry or allowed external image).
    case reference(String)
    /// Another ManagedImage: its name, its current (desired) tag and its repository name.
    case managed(name: String, tag: String, repositoryName: String)
}

/// Why a build starts.
public enum BuildReason: String, Sendable, Hashable, Codable, CaseIterable {
    case new = "new"
    case specChanged = "spec changed"
    case platformUpgraded = "platform upgraded"
    case parentRebuilt = "parent rebuilt"
    case manual = "manual"
}

/// Everything a builder needs for one build.
public struct BuildRequest: Sendable {
    public var image: ResolvedImage
    public var reason: BuildReason
    /// The URI of the image's repository (where the build pushes).
    public var repositoryURI: String
    /// The `FROM` reference, fully resolved (for a managed parent: the parent's repository URI and tag).
    public var baseImageReference: String
    public var platformVersion: String
    /// Asked by a builder that pushes itself right before the push; nil when nothing is to be checked.
    public var pushTarget: (any PushTargetCheck)?

    public init(image: ResolvedImage, reason: BuildReason, repositoryURI: String, baseImageReference: String, platformVersion: String,
                pushTarget: (any PushTargetCheck)? = nil) {
        self.image = image
        self.reason = reason
        self.repositoryURI = repositoryURI
        self.baseImageReference = baseImageReference
        self.platformVersion = platformVersion
        self.pushTarget = pushTarget
    }
}

/// Whether the repository a build is about to push to is still the one mir decided to push to. A build takes
/// minutes; in that time the repository may have been deleted and created again by another installation (a registry
/// that lost its state, two installations with overlapping prefixes). A builder that pushes itself asks right
/// before its push and pushes nothing when the answer is no.
public protocol PushTargetCheck: Sendable {
    /// Throws `RepositoryNotOwned` when the repository is gone or is not this mir's; other errors when it could not
    /// be checked (the build then fails too: nothing is pushed on a guess).
    func verify(repositoryName: String) async throws
}

/// The repository a build was about to push to is gone or is no longer this mir's: nothing was pushed.
public struct RepositoryNotOwned: Error, Sendable, Hashable, CustomStringConvertible {
    public var repository: String
    /// In words: `it no longer exists`, `it belongs to installation team-b`.
    public var why: String

    public init(repository: String, why: String) {
        self.repository = repository
        self.why = why
    }

    public var description: String { "repository \(repository) is not this mir's any more (\(why)): nothing was pushed" }
}

/// The builder port. A builder returns the record of the build it started or ran.
public protocol ImageBuilder: Sendable {
    /// `render`, `simulate`, `kubernetes`.
    var name: String { get }
    /// True for simulations; their output is labelled as such everywhere.
    var isSimulation: Bool { get }
    func build(_ request: BuildRequest) async throws -> BuildRecord
    /// True when the builder stores its build records itself (then callers must not write the returned record).
    var writesRecords: Bool { get }
}

extension ImageBuilder {
    public var writesRecords: Bool { false }
}
