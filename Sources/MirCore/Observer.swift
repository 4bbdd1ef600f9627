import MirModel
import MirRegistry
import MirBuild
import Synchronization

/// Reads the registry and build records into an `ObservedState`, making only the reads a decision needs:
/// ceil(N/1000) DescribeRepositories pages, then per repository under the prefix: its tags (ownership),
/// and — only for repositories that have a spec — its lifecycle policy and image tags.
public struct Observer: Sendable {
    public var registry: any ImageRegistry
    public var records: any BuildRecordStore
    /// Per-repository reads in flight at once.
    public var concurrency: Int

    public init(registry: any ImageRegistry, records: any BuildRecordStore, concurrency: Int = 8) {
        self.registry = registry
        self.records = records
        self.concurrency = concurrency
    }

    public func observe(_ desired: DesiredState) async throws -> ObservedState {
        let denied = DeniedCapabilities()
        let wanted = Dictionary(desired.images.map { ($0.repositoryName, $0) }, uniquingKeysWith: { a, _ in a })
        var listed = true
        var found: [RepositoryDescription?] = []
        var names: [String] = []
        do {
            let all = try await listAllRepositories()
            let mine = all.filter { $0.name.hasPrefix(desired.repositoryPrefix) }
            found = mine.map { Optional($0) }
            names = mine.map(\.name)
        } catch let error as RegistryError where error.code == .accessDenied {
            // Degraded: probe each desired repository instead; absence proves nothing, so no deletions.
            listed = false
            denied.note("garbage collection and adoption checks are off: \(error.operation) was denied (\(error.message))")
            names = wanted.keys.sorted()
            found = names.map { _ in nil }
        }

        let registry = self.registry
        let pairs = Array(zip(names, found))
        let isComplete = desired.isComplete
        let observedRepos: [ObservedRepository?] = try await boundedThrowingMap(pairs, limit: concurrency) { name, description in
            let hasSpec = wanted[name] != nil
            var repo = ObservedRepository(name: name, description: description)
            do {
                return try await Self.observeRepository(&repo, registry: registry, hasSpec: hasSpec, isComplete: isComplete, denied: denied)
            } catch is CancellationError {
                throw CancellationError()
            } catch let error as RegistryError where error.code == .repositoryNotFound {
                return nil  // deleted since it was listed: absent.
            } catch {
                // One repository's read failed after the adapter's retries: that image is skipped in this pass and
                // nothing is deleted in it; the other repositories proceed.
                repo.readFailure = String(describing: error)
                return repo
            }
        }
        var repositories: [String: ObservedRepository] = [:]
        for repo in observedRepos.compactMap({ $0 }) { repositories[repo.name] = repo }
        return ObservedState(repositories: repositories, repositoriesListed: listed,
                             buildRecords: try await records.allRecords(), degradedCapabilities: denied.notes)
    }

    /// The reads about one repository; nil when it turned out not to exist (probing).
    static func observeRepository(_ repo: inout ObservedRepository, registry: any ImageRegistry, hasSpec: Bool, isComplete: Bool,
                                  denied: DeniedCapabilities) async throws -> ObservedRepository? {
        let name = repo.name
        let description = repo.description
        if description == nil {
            // Probing (listing denied): ListImages tells whether the repository exists.
            do {
                repo.imageTags = .known(try await Self.allImageTags(registry, name))
            } catch let e as RegistryError where e.code == .repositoryNotFound {
                return nil
            }
        }
        // Tags are needed for ownership (repositories with a spec) and for deletion decisions (without one,
        // and only when deletions are possible in this pass).
        if let arn = description?.arn, hasSpec || isComplete {
            do { repo.tags = .known(try await registry.listTagsForResource(arn: arn)) }
            catch let e as RegistryError where e.code == .accessDenied {
                denied.note("ownership checks are off: ListTagsForResource was denied (\(e.message)); no repository is deleted or adopted")
            }
        }
        guard hasSpec else { return repo }
        do {
            let text = try await registry.getLifecyclePolicy(repositoryName: name)
            repo.lifecyclePolicy = .known(JSONValue.parse(text) ?? .string(text))
        } catch let e as RegistryError where e.code == .lifecyclePolicyNotFound {
            repo.lifecyclePolicy = .known(nil)
        } catch let e as RegistryError where e.code == .accessDenied {
            denied.note("lifecycle policy drift detection is off: GetLifecyclePolicy was denied (\(e.message))")
        }
        if case .unknown = repo.imageTags {
            repo.imageTags = .known(try await Self.allImageTags(registry, name))
        }
        return repo
    }

    func listAllRepositories() async throws -> [RepositoryDescription] {
        var all: [RepositoryDescription] = []
        var token: String? = nil
        repeat {
            let page = try await registry.describeRepositories(names: nil, maxResults: 1000, nextToken: token)
            all += page.items
            token = page.nextToken
        } while token != nil
        return all
    }

    static func allImageTags(_ registry: any ImageRegistry, _ repository: String) async throws -> Set<String> {
        var tags: Set<String> = []
        var token: String? = nil
        repeat {
            let page = try await registry.listImages(repositoryName: repository, maxResults: 1000, nextToken: token)
            for id in page.items { if let t = id.tag { tags.insert(t) } }
            token = page.nextToken
        } while token != nil
        return tags
    }
}

/// Collects "capability X is off" notes from concurrent reads, without duplicates.
final class DeniedCapabilities: Sendable {
    private let lock = Mutex<[String]>([])
    func note(_ s: String) { lock.withLock { if !$0.contains(s) { $0.append(s) } } }
    var notes: [String] { lock.withLock { $0 } }
}

/// Like `boundedMap`, for throwing bodies: the first error cancels the rest and is rethrown.
func boundedThrowingMap<T: Sendable, R: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async throws -> R) async throws -> [R] {
    var results = [R?](repeating: nil, count: items.count)
    try await withThrowingTaskGroup(of: (Int, R).self) { group in
        var next = 0
        func addNext() {
            guard next < items.count else { return }
            let i = next
            let item = items[i]
            group.addTask { (i, try await body(item)) }
            next += 1
        }
        for _ in 0..<max(1, limit) { addNext() }
        while let (i, r) = try await group.next() {
            results[i] = r
            addNext()
        }
    }
    return results.map { $0! }
}
