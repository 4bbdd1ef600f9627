import Foundation
import MirModel
import MirRegistry

/// The embedded registry (`--registry local[:DIR]`): an ECR-faithful registry kept on disk, so mir's main
/// job needs no AWS. Durable (atomic writes) and safe for two processes at once (file lock).
public final class LocalRegistry: ImageRegistry {
    public let directory: String
    public let accountId: String
    public let region: String

    public init(directory: String, accountId: String = "000000000000", region: String = "local") throws {
        self.directory = directory
        self.accountId = accountId
        self.region = region
    }

    public var displayName: String { "local:\(directory)" }

    // TODO(registry helper): implement every operation faithfully.
    public func describeRepositories(names: [String]?, maxResults: Int?, nextToken: String?) async throws -> Page<RepositoryDescription> {
        Page(items: [], nextToken: nil)
    }
    public func createRepository(name: String, tags: [ResourceTag]) async throws -> RepositoryDescription {
        throw RegistryError(.server, operation: "CreateRepository", message: "not implemented")
    }
    public func deleteRepository(name: String, force: Bool) async throws -> RepositoryDescription {
        throw RegistryError(.server, operation: "DeleteRepository", message: "not implemented")
    }
    public func getLifecyclePolicy(repositoryName: String) async throws -> String {
        throw RegistryError(.server, operation: "GetLifecyclePolicy", message: "not implemented")
    }
    public func putLifecyclePolicy(repositoryName: String, policyText: String) async throws {
        throw RegistryError(.server, operation: "PutLifecyclePolicy", message: "not implemented")
    }
    public func deleteLifecyclePolicy(repositoryName: String) async throws {
        throw RegistryError(.server, operation: "DeleteLifecyclePolicy", message: "not implemented")
    }
    public func listImages(repositoryName: String, maxResults: Int?, nextToken: String?) async throws -> Page<ImageIdentifier> {
        throw RegistryError(.server, operation: "ListImages", message: "not implemented")
    }
    public func describeImages(repositoryName: String, imageIds: [ImageIdentifier]?, maxResults: Int?, nextToken: String?) async throws -> Page<ImageDetail> {
        throw RegistryError(.server, operation: "DescribeImages", message: "not implemented")
    }
    public func putImage(repositoryName: String, manifest: String, tag: String) async throws -> ImageIdentifier {
        throw RegistryError(.server, operation: "PutImage", message: "not implemented")
    }
    public func listTagsForResource(arn: String) async throws -> [ResourceTag] {
        throw RegistryError(.server, operation: "ListTagsForResource", message: "not implemented")
    }
    public func tagResource(arn: String, tags: [ResourceTag]) async throws {
        throw RegistryError(.server, operation: "TagResource", message: "not implemented")
    }
}
