import MirModel
import MirRegistry
import MirBuild

/// The tags mir puts on every repository it creates. Ownership is proven only by these tags: mir's mark, the
/// installation, and the desired-state source that owns the repository within it.
public enum OwnershipTags {
    public static let managedByKey = "mir.dev/managed-by"
    public static let managedByValue = "mir"
    public static let installationKey = "mir.dev/installation"
    public static let ownerKey = "mir.dev/owner"
    public static let imageKey = "mir.dev/image"
    public static let deletionPolicyKey = "mir.dev/deletion-policy"

    public static func tags(image: String, deletionPolicy: DeletionPolicy, ownership: OwnershipIdentity) -> [ResourceTag] {
        [
            ResourceTag(key: managedByKey, value: managedByValue),
            ResourceTag(key: installationKey, value: ownership.installation),
            ResourceTag(key: ownerKey, value: ownership.owner),
            ResourceTag(key: imageKey, value: image),
            ResourceTag(key: deletionPolicyKey, value: deletionPolicy.rawValue),
        ]
    }
}

/// Who this mir is: the installation (config `installation`, default the repository prefix) and the desired-state
/// source that owns what it creates: `files` for `mir apply` and `mir run --source files:`, the ManagedImage's UID in
/// cluster mode. A repository of another installation or owner is foreign: reported, never changed or deleted.
public struct OwnershipIdentity: Sendable, Hashable {
    public var installation: String
    public var owner: String
    /// Whether repositories tagged only `mir.dev/managed-by=mir` (made before installations were recorded) count as
    /// this installation's: true for the default installation (no `installation` in the config).
    public var claimsLegacy: Bool
    /// `owner` is a prefix that every owner of this identity starts with (the controller's garbage collection speaks
    /// for all ManagedImages at once: `managedimage/`).
    public var ownerIsPrefix: Bool

    public init(installation: String, owner: String, claimsLegacy: Bool, ownerIsPrefix: Bool = false) {
        self.installation = installation
        self.owner = owner
        self.claimsLegacy = claimsLegacy
        self.ownerIsPrefix = ownerIsPrefix
    }

    /// Whether a recorded owner is this identity's.
    public func owns(_ recorded: String) -> Bool {
        ownerIsPrefix ? recorded.hasPrefix(owner) : recorded == owner
    }

    /// The owner recorded by the file source (`mir apply`, `mir run --source files:`).
    public static let filesOwner = "files"

    /// The owner recorded for a ManagedImage (cluster mode).
    public static func managedImageOwner(uid: String) -> String { "managedimage/\(uid)" }

    /// The file source's identity under `config`.
    public static func files(_ config: MirConfig) -> OwnershipIdentity {
        OwnershipIdentity(installation: config.installationID, owner: filesOwner, claimsLegacy: config.installation == nil)
    }

    /// A ManagedImage's identity under `config`.
    public static func managedImage(uid: String, config: MirConfig) -> OwnershipIdentity {
        OwnershipIdentity(installation: config.installationID, owner: managedImageOwner(uid: uid), claimsLegacy: config.installation == nil)
    }

    /// Every ManagedImage of the installation under `config` (the controller's garbage collection). Claims no legacy
    /// repository: one without a recorded owner may be the file source's, and only the source that has its spec
    /// claims it.
    public static func anyManagedImage(_ config: MirConfig) -> OwnershipIdentity {
        OwnershipIdentity(installation: config.installationID, owner: managedImageOwner(uid: ""), claimsLegacy: false, ownerIsPrefix: true)
    }
}

/// Whose a repository is, seen from one `OwnershipIdentity`.
public enum RepositoryOwnership: Sendable, Hashable {
    /// This installation and this owner.
    case mine
    /// This installation's, with no owner recorded (or mir's from before installations were recorded, for the
    /// default installation): the source that has its spec records itself as the owner (a migration).
    case unclaimed
    /// Someone else's: reported, never changed, never deleted (unless adopted explicitly).
    case foreign(ForeignOwner)
    /// Its tags could not be read.
    case unknown

    /// Whether this identity may change or delete the repository.
    public var isOwnedByThisInstallation: Bool { self == .mine || self == .unclaimed }
}

/// Why a repository is foreign.
public enum ForeignOwner: Sendable, Hashable, CustomStringConvertible {
    /// No `mir.dev/managed-by=mir`.
    case notManagedByMir
    /// Another installation's (`mir.dev/installation`); nil: mir's from before installations were recorded, which
    /// only the default installation claims.
    case otherInstallation(String?)
    /// This installation's, but owned by another desired-state source (`mir.dev/owner`).
    case otherOwner(String)

    public var description: String {
        switch self {
        case .notManagedByMir: "it is not managed by mir (no tag \(OwnershipTags.managedByKey)=\(OwnershipTags.managedByValue))"
        case .otherInstallation(let id?): "it belongs to mir installation \"\(id)\""
        case .otherInstallation(nil): "it was created by a mir that did not record its installation, and only the default installation claims those"
        case .otherOwner(let owner): "it is owned by \(owner)"
        }
    }
}

/// What the user declared, resolved: images in build order (parents first).
public struct DesiredState: Sendable {
    public var images: [ResolvedImage]
    /// False when any spec failed to load: then nothing may be deleted in this pass.
    public var isComplete: Bool
    public var repositoryPrefix: String
    public var platformVersion: String
    /// Who creates and owns the repositories of these images.
    public var ownership: OwnershipIdentity

    /// `ownership` nil: the file source of the default installation (installation id = the prefix).
    public init(images: [ResolvedImage], isComplete: Bool, repositoryPrefix: String, platformVersion: String,
                ownership: OwnershipIdentity? = nil) {
        self.images = images
        self.isComplete = isComplete
        self.repositoryPrefix = repositoryPrefix
        self.platformVersion = platformVersion
        self.ownership = ownership ?? OwnershipIdentity(installation: repositoryPrefix, owner: OwnershipIdentity.filesOwner, claimsLegacy: true)
    }

    public func image(named name: String) -> ResolvedImage? { images.first { $0.name == name } }
}

/// Something that was read, could not be read (access denied, not needed), or is known to be absent.
public enum Observation<Value: Sendable & Hashable>: Sendable, Hashable {
    case known(Value)
    /// Not read: not needed for any decision, or the read was denied. Decisions that need it are not taken.
    case unknown
}

/// One repository under the prefix, as observed.
public struct ObservedRepository: Sendable, Hashable {
    public var name: String
    /// From DescribeRepositories or CreateRepository; nil when repositories could not be listed (existence probed).
    public var description: RepositoryDescription?
    public var tags: Observation<[ResourceTag]>
    /// nil inside `.known` means no lifecycle policy is set.
    public var lifecyclePolicy: Observation<JSONValue?>
    public var imageTags: Observation<Set<String>>
    /// A read about this repository failed (after the adapter's retries): its image is skipped in this pass, and
    /// nothing is deleted in this pass.
    public var readFailure: String?

    public init(name: String, description: RepositoryDescription?, tags: Observation<[ResourceTag]> = .unknown,
                lifecyclePolicy: Observation<JSONValue?> = .unknown, imageTags: Observation<Set<String>> = .unknown,
                readFailure: String? = nil) {
        self.name = name
        self.description = description
        self.tags = tags
        self.lifecyclePolicy = lifecyclePolicy
        self.imageTags = imageTags
        self.readFailure = readFailure
    }

    /// true: carries mir's mark (`mir.dev/managed-by=mir`, any installation); false: proven not mir's; nil: tags
    /// could not be read. Whether it is *this* mir's is `ownership(for:)`.
    public var isOwned: Bool? {
        guard case .known(let tags) = tags else { return nil }
        return tags.contains { $0.key == OwnershipTags.managedByKey && $0.value == OwnershipTags.managedByValue }
    }

    /// Whose the repository is, seen from `identity`.
    public func ownership(for identity: OwnershipIdentity) -> RepositoryOwnership {
        guard case .known(let tags) = tags else { return .unknown }
        return Self.ownership(of: tags, for: identity)
    }

    /// Whose a repository with these tags is, seen from `identity`.
    public static func ownership(of tags: [ResourceTag], for identity: OwnershipIdentity) -> RepositoryOwnership {
        func value(_ key: String) -> String? { tags.first { $0.key == key }?.value }
        guard value(OwnershipTags.managedByKey) == OwnershipTags.managedByValue else { return .foreign(.notManagedByMir) }
        guard let installation = value(OwnershipTags.installationKey) else {
            return identity.claimsLegacy ? .unclaimed : .foreign(.otherInstallation(nil))
        }
        guard installation == identity.installation else { return .foreign(.otherInstallation(installation)) }
        guard let owner = value(OwnershipTags.ownerKey) else { return .unclaimed }
        return identity.owns(owner) ? .mine : .foreign(.otherOwner(owner))
    }

    /// The deletion policy recorded on the repository; nil when unknown or absent (treated as Retain).
    public var recordedDeletionPolicy: DeletionPolicy? {
        guard case .known(let tags) = tags,
              let v = tags.first(where: { $0.key == OwnershipTags.deletionPolicyKey })?.value else { return nil }
        return DeletionPolicy(rawValue: v)
    }

    public func hasImage(tag: String) -> Bool? {
        guard case .known(let tags) = imageTags else { return nil }
        return tags.contains(tag)
    }
}

/// What mir observed in the registry and its build records.
public struct ObservedState: Sendable {
    /// Only repositories under the prefix, by name.
    public var repositories: [String: ObservedRepository]
    /// False when repositories could not be listed: absence of a repository proves nothing, so nothing is deleted.
    public var repositoriesListed: Bool
    public var buildRecords: [BuildRecord]
    /// Capabilities switched off because a read was denied, with the reason (shown to the user).
    public var degradedCapabilities: [String]

    public init(repositories: [String: ObservedRepository], repositoriesListed: Bool = true,
                buildRecords: [BuildRecord] = [], degradedCapabilities: [String] = []) {
        self.repositories = repositories
        self.repositoriesListed = repositoriesListed
        self.buildRecords = buildRecords
        self.degradedCapabilities = degradedCapabilities
    }

    public func record(image: String, tag: String) -> BuildRecord? {
        buildRecords.filter { $0.image == image && $0.tag == tag }.max { $0.startedAt < $1.startedAt }
    }

    /// The most recent successful build of an image whose tag is still in the registry (or, when images
    /// could not be listed, the most recent successful build).
    public func lastGoodBuild(of image: String, repository: ObservedRepository?) -> BuildRecord? {
        buildRecords
            .filter { $0.image == image && $0.state == .succeeded && repository?.hasImage(tag: $0.tag) != false }
            .max { ($0.finishedAt ?? $0.startedAt) < ($1.finishedAt ?? $1.startedAt) }
    }
}
