import MirModel
import MirRegistry
import MirBuild

/// The tags mir puts on every repository it creates. Ownership is proven only by these tags.
public enum OwnershipTags {
    public static let managedByKey = "mir.dev/managed-by"
    public static let managedByValue = "mir"
    public static let imageKey = "mir.dev/image"
    public static let deletionPolicyKey = "mir.dev/deletion-policy"

    public static func tags(image: String, deletionPolicy: DeletionPolicy) -> [ResourceTag] {
        [
            ResourceTag(key: managedByKey, value: managedByValue),
            ResourceTag(key: imageKey, value: image),
            ResourceTag(key: deletionPolicyKey, value: deletionPolicy.rawValue),
        ]
    }
}

/// What the user declared, resolved: images in build order (parents first).
public struct DesiredState: Sendable {
    public var images: [ResolvedImage]
    /// False when any spec failed to load: then nothing may be deleted in this pass.
    public var isComplete: Bool
    public var repositoryPrefix: String
    public var platformVersion: String

    public init(images: [ResolvedImage], isComplete: Bool, repositoryPrefix: String, platformVersion: String) {
        self.images = images
        self.isComplete = isComplete
        self.repositoryPrefix = repositoryPrefix
        self.platformVersion = platformVersion
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

    public init(name: String, description: RepositoryDescription?, tags: Observation<[ResourceTag]> = .unknown,
                lifecyclePolicy: Observation<JSONValue?> = .unknown, imageTags: Observation<Set<String>> = .unknown) {
        self.name = name
        self.description = description
        self.tags = tags
        self.lifecyclePolicy = lifecyclePolicy
        self.imageTags = imageTags
    }

    /// true: carries mir's ownership tag; false: proven not mir's; nil: tags could not be read.
    public var isOwned: Bool? {
        guard case .known(let tags) = tags else { return nil }
        return tags.contains { $0.key == OwnershipTags.managedByKey && $0.value == OwnershipTags.managedByValue }
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
