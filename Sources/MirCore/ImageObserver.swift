import MirBuild
import MirModel
import MirRegistry

/// A per-image view of the registry for the controller: one reconcile reads only its own repository —
/// `DescribeRepositories` with `repositoryNames: [name]` (1 call, not a listing), then its tags (ownership), its
/// lifecycle policy and its image tags: 4 reads, whatever the number of repositories. Repositories without a spec
/// are not this view's business (no deletion can come out of it): the controller's garbage-collection pass lists
/// them once per resync period.
public struct ImageObserver: Sendable {
    public var registry: any ImageRegistry
    public var records: any BuildRecordStore

    public init(registry: any ImageRegistry, records: any BuildRecordStore) {
        self.registry = registry
        self.records = records
    }

    /// Observes the repositories of `desired.images` (one image in the controller). `desired.isComplete` must be
    /// false: the result says nothing about other repositories.
    public func observe(_ desired: DesiredState) async throws -> ObservedState {
        precondition(!desired.isComplete, "a per-image observation cannot decide deletions")
        let denied = DeniedCapabilities()
        var repositories: [String: ObservedRepository] = [:]
        for image in desired.images where image.repositoryName.hasPrefix(desired.repositoryPrefix) {
            if let repo = try await observe(repository: image.repositoryName, denied: denied) {
                repositories[repo.name] = repo
            }
        }
        // Not a listing: absence of any other repository proves nothing.
        return ObservedState(repositories: repositories, repositoriesListed: false,
                             buildRecords: try await records.allRecords(), degradedCapabilities: denied.notes)
    }

    /// One repository, or nil when it does not exist: described by name, then read as `Observer` reads a repository
    /// that has a spec (the same code: ownership tags, lifecycle policy, image tags).
    func observe(repository name: String, denied: DeniedCapabilities) async throws -> ObservedRepository? {
        var repo: ObservedRepository
        do {
            guard let description = try await registry.describeRepositories(names: [name], maxResults: nil, nextToken: nil).items
                .first(where: { $0.name == name }) else { return nil }
            repo = ObservedRepository(name: name, description: description)
        } catch let error as RegistryError where error.code == .repositoryNotFound {
            return nil
        } catch let error as RegistryError where error.code == .accessDenied {
            // Without a description, Observer probes with ListImages (as it does when listing is denied).
            denied.note("garbage collection and adoption checks are off: \(error.operation) was denied (\(error.message))")
            repo = ObservedRepository(name: name, description: nil)
        }
        return try await Observer.observeRepository(&repo, registry: registry, hasSpec: true, isComplete: false, denied: denied)
    }
}
