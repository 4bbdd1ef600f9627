import Foundation
import Synchronization

/// Counts calls by operation (and errors by operation and code). Shared by reference.
public final class CallCounter: Sendable {
    private let state = Mutex<(calls: [String: Int], errors: [String: Int])>(([:], [:]))

    public init() {}

    public func record(_ operation: String, error: Error? = nil) {
        state.withLock {
            $0.calls[operation, default: 0] += 1
            if let e = error as? RegistryError {
                $0.errors["\(operation) \(e.code.rawValue)", default: 0] += 1
            } else if error != nil {
                $0.errors["\(operation) other", default: 0] += 1
            }
        }
    }

    /// Operation → number of calls.
    public var calls: [String: Int] { state.withLock { $0.calls } }
    /// "Operation Code" → number of failed calls.
    public var errors: [String: Int] { state.withLock { $0.errors } }
    public var total: Int { state.withLock { $0.calls.values.reduce(0, +) } }
}

/// A decorator that counts every call made through it, by ECR operation name. Wraps any adapter, so
/// all adapters are counted the same way (`mir apply --stats`, benchmarks).
public struct CountingRegistry: ImageRegistry {
    public let base: any ImageRegistry
    public let counter: CallCounter

    public init(_ base: any ImageRegistry, counter: CallCounter = CallCounter()) {
        self.base = base
        self.counter = counter
    }

    public var displayName: String { base.displayName }

    private func counted<T>(_ op: String, _ body: () async throws -> T) async throws -> T {
        do {
            let r = try await body()
            counter.record(op)
            return r
        } catch {
            counter.record(op, error: error)
            throw error
        }
    }

    public func describeRepositories(names: [String]?, maxResults: Int?, nextToken: String?) async throws -> Page<RepositoryDescription> {
        try await counted("DescribeRepositories") { try await base.describeRepositories(names: names, maxResults: maxResults, nextToken: nextToken) }
    }
    public func createRepository(name: String, tags: [ResourceTag], imageTagMutability: ImageTagMutability) async throws -> RepositoryDescription {
        try await counted("CreateRepository") { try await base.createRepository(name: name, tags: tags, imageTagMutability: imageTagMutability) }
    }
    public func deleteRepository(name: String, force: Bool) async throws -> RepositoryDescription {
        try await counted("DeleteRepository") { try await base.deleteRepository(name: name, force: force) }
    }
    public func getLifecyclePolicy(repositoryName: String) async throws -> String {
        try await counted("GetLifecyclePolicy") { try await base.getLifecyclePolicy(repositoryName: repositoryName) }
    }
    public func putLifecyclePolicy(repositoryName: String, policyText: String) async throws {
        try await counted("PutLifecyclePolicy") { try await base.putLifecyclePolicy(repositoryName: repositoryName, policyText: policyText) }
    }
    public func deleteLifecyclePolicy(repositoryName: String) async throws {
        try await counted("DeleteLifecyclePolicy") { try await base.deleteLifecyclePolicy(repositoryName: repositoryName) }
    }
    public func listImages(repositoryName: String, maxResults: Int?, nextToken: String?) async throws -> Page<ImageIdentifier> {
        try await counted("ListImages") { try await base.listImages(repositoryName: repositoryName, maxResults: maxResults, nextToken: nextToken) }
    }
    public func describeImages(repositoryName: String, imageIds: [ImageIdentifier]?, maxResults: Int?, nextToken: String?) async throws -> Page<ImageDetail> {
        try await counted("DescribeImages") { try await base.describeImages(repositoryName: repositoryName, imageIds: imageIds, maxResults: maxResults, nextToken: nextToken) }
    }
    public func putImage(repositoryName: String, manifest: String, tag: String) async throws -> ImageIdentifier {
        try await counted("PutImage") { try await base.putImage(repositoryName: repositoryName, manifest: manifest, tag: tag) }
    }
    public func listTagsForResource(arn: String) async throws -> [ResourceTag] {
        try await counted("ListTagsForResource") { try await base.listTagsForResource(arn: arn) }
    }
    public func tagResource(arn: String, tags: [ResourceTag]) async throws {
        try await counted("TagResource") { try await base.tagResource(arn: arn, tags: tags) }
    }
}
