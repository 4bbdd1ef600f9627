import MirBuild
import MirRegistry

/// The push check of `mir apply`'s builders: right before a push, the repository still exists and its tags still
/// name this installation and owner. Two reads (DescribeRepositories by name, ListTagsForResource) per build.
/// Where the tags may not be read (`ecr:ListTagsForResource` denied, the "prove ownership" capability off) nothing
/// more is known than when the plan was made, and the push goes ahead as planned.
public struct OwnershipPushCheck: PushTargetCheck {
    public let registry: any ImageRegistry
    public let ownership: OwnershipIdentity

    public init(registry: any ImageRegistry, ownership: OwnershipIdentity) {
        self.registry = registry
        self.ownership = ownership
    }

    public func verify(repositoryName: String) async throws {
        let found: RepositoryDescription?
        do {
            found = try await registry.describeRepositories(names: [repositoryName], maxResults: nil, nextToken: nil).items.first
        } catch let error as RegistryError where error.code == .repositoryNotFound {
            found = nil
        }
        guard let found else { throw RepositoryNotOwned(repository: repositoryName, why: "it no longer exists") }
        let tags: [ResourceTag]
        do {
            tags = try await registry.listTagsForResource(arn: found.arn)
        } catch let error as RegistryError where error.code == .accessDenied {
            return
        }
        switch ObservedRepository.ownership(of: tags, for: ownership) {
        case .mine:
            return
        case .foreign(let owner):
            throw RepositoryNotOwned(repository: repositoryName, why: "\(owner)")
        case .unclaimed, .unknown:
            throw RepositoryNotOwned(repository: repositoryName, why: "its tags do not record this mir as its owner")
        }
    }
}
