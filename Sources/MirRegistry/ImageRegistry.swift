import Foundation

/// The registry port: the ECR operations mir needs, shaped as ECR shapes them, with ECR's error vocabulary.
/// Adapters: the embedded registry (`MirLocalRegistry`) and AWS ECR. Every adapter must behave as ECR
/// documents: names, pagination, limits and error codes.
public protocol ImageRegistry: Sendable {
    /// A short human description, e.g. `local:.mir/registry` or `ecr us-east-1 (http://127.0.0.1:5000)`.
    var displayName: String { get }

    /// DescribeRepositories. `names` (1–100) cannot be combined with `maxResults`/`nextToken` (1–1000).
    func describeRepositories(names: [String]?, maxResults: Int?, nextToken: String?) async throws -> Page<RepositoryDescription>
    /// CreateRepository with tags (≤ 50) and a tag mutability setting. RepositoryAlreadyExistsException when it
    /// exists — also when a retry meets the repository an earlier attempt created: the caller reads its tags to
    /// tell its own repository from someone else's.
    func createRepository(name: String, tags: [ResourceTag], imageTagMutability: ImageTagMutability) async throws -> RepositoryDescription
    /// DeleteRepository. Without `force`, RepositoryNotEmptyException when it holds images.
    func deleteRepository(name: String, force: Bool) async throws -> RepositoryDescription
    /// GetLifecyclePolicy. LifecyclePolicyNotFoundException when none is set.
    func getLifecyclePolicy(repositoryName: String) async throws -> String
    /// PutLifecyclePolicy (100–30,720 characters, valid by ECR's rules).
    func putLifecyclePolicy(repositoryName: String, policyText: String) async throws
    /// DeleteLifecyclePolicy. LifecyclePolicyNotFoundException when none is set.
    func deleteLifecyclePolicy(repositoryName: String) async throws
    /// ListImages (1–1000 per page).
    func listImages(repositoryName: String, maxResults: Int?, nextToken: String?) async throws -> Page<ImageIdentifier>
    /// DescribeImages by id (1–100) or paged (1–1000). ImageNotFoundException for a missing id.
    func describeImages(repositoryName: String, imageIds: [ImageIdentifier]?, maxResults: Int?, nextToken: String?) async throws -> Page<ImageDetail>
    /// PutImage: records a manifest under a tag.
    func putImage(repositoryName: String, manifest: String, tag: String) async throws -> ImageIdentifier
    /// ListTagsForResource on a repository ARN.
    func listTagsForResource(arn: String) async throws -> [ResourceTag]
    /// TagResource on a repository ARN (overwrites existing keys; ≤ 50 tags in all).
    func tagResource(arn: String, tags: [ResourceTag]) async throws
}

extension ImageRegistry {
    /// CreateRepository with ECR's default tag mutability (MUTABLE).
    public func createRepository(name: String, tags: [ResourceTag]) async throws -> RepositoryDescription {
        try await createRepository(name: name, tags: tags, imageTagMutability: .mutable)
    }
}

/// ECR's `imageTagMutability`. mir creates its repositories IMMUTABLE: its tags are content addresses and must never
/// be moved to another image.
public enum ImageTagMutability: String, Sendable, Hashable, Codable {
    case mutable = "MUTABLE"
    case immutable = "IMMUTABLE"
}

public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    /// Opaque; nil on the last page.
    public var nextToken: String?

    public init(items: [Item], nextToken: String?) {
        self.items = items
        self.nextToken = nextToken
    }
}

extension Page: Equatable where Item: Equatable {}

public struct RepositoryDescription: Sendable, Hashable, Codable {
    public var name: String
    public var arn: String
    public var uri: String
    public var registryId: String
    public var createdAt: Date
    /// nil when the adapter did not say.
    public var imageTagMutability: ImageTagMutability?

    public init(name: String, arn: String, uri: String, registryId: String, createdAt: Date, imageTagMutability: ImageTagMutability? = nil) {
        self.name = name
        self.arn = arn
        self.uri = uri
        self.registryId = registryId
        self.createdAt = createdAt
        self.imageTagMutability = imageTagMutability
    }
}

public struct ResourceTag: Sendable, Hashable, Codable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

public struct ImageIdentifier: Sendable, Hashable, Codable {
    public var digest: String?
    public var tag: String?

    public init(digest: String? = nil, tag: String? = nil) {
        self.digest = digest
        self.tag = tag
    }
}

public struct ImageDetail: Sendable, Hashable, Codable {
    public var digest: String
    public var tags: [String]
    public var sizeInBytes: Int?
    public var pushedAt: Date?

    public init(digest: String, tags: [String], sizeInBytes: Int? = nil, pushedAt: Date? = nil) {
        self.digest = digest
        self.tags = tags
        self.sizeInBytes = sizeInBytes
        self.pushedAt = pushedAt
    }
}
