import MirBuild
import MirRegistry

/// The push check of `mir apply`'s builders: right before a push, the repository still exists and its tags still
/// name this installation and owner. Two reads (DescribeRepositories by name, ListTagsForResource) per build.
/// Where the repository may not be read (an action denied, e.g. the "prove ownership" capability off) nothing more is
/// known than when the plan was made, and the push goes ahead as planned.
public struct OwnershipPushCheck: PushTargetCheck {
    public let registry: any ImageRegistry
    public let ownership: OwnershipIdentity

    public init(registry: any ImageRegistry, ownership: OwnershipIdentity) {
        self.registry = registry
        self.ownership = ownership
    }

    public func verify(repositoryName: String) async throws {
        let found: (description: RepositoryDescription, ownership: RepositoryOwnership)?
        do {
            found = try await Self.read(repositoryName, registry: registry, identity: ownership)
        } catch let error as RegistryError where error.code == .accessDenied {
            return
        }
        switch found?.ownership {
        case nil:
            throw RepositoryNotOwned(repository: repositoryName, why: "it no longer exists")
        case .mine?:
            return
        case .foreign(let owner)?:
            throw RepositoryNotOwned(repository: repositoryName, why: "\(owner)")
        case .unclaimed?, .unknown?:
            throw RepositoryNotOwned(repository: repositoryName, why: "its tags do not record this mir as its owner")
        }
    }

    /// One repository as it is now, seen from `identity`: DescribeRepositories by name, then its tags. nil when it
    /// does not exist. (Also how the Applier looks at a repository CreateRepository found already there.)
    static func read(_ repository: String, registry: any ImageRegistry, identity: OwnershipIdentity) async throws
        -> (description: RepositoryDescription, ownership: RepositoryOwnership)? {
        let found: RepositoryDescription?
        do {
            found = try await registry.describeRepositories(names: [repository], maxResults: nil, nextToken: nil).items.first
        } catch let error as RegistryError where error.code == .repositoryNotFound {
            found = nil
        }
        guard let found else { return nil }
        return (found, ObservedRepository.ownership(of: try await registry.listTagsForResource(arn: found.arn), for: identity))
    }
}
