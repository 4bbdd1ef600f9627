import Logging
import MirCore
import MirModel
import MirRegistry

/// The controller's garbage collection, a pass of its own: a reconcile looks only at its image's repository
/// (``ImageObserver``), so repositories whose ManagedImage is gone are found here — one listing (ceil(N/1000)
/// DescribeRepositories pages) per resync period, shared by all images, then the ownership tags of the orphans only.
/// What to delete is decided by MirCore's `Planner` with the same safety rules as `mir apply` (owned by mir, recorded
/// deletionPolicy Delete, every spec loaded, the registry listed, a cap per pass).
public struct RegistryGarbageCollector: Sendable {
    public let registry: any ImageRegistry
    public let config: MirConfig
    public let options: PlanOptions
    /// DescribeRepositories page size (ECR's maximum, 1000: ceil(N/1000) listing calls per pass).
    public let pageSize: Int
    let logger: Logger

    public init(registry: any ImageRegistry, config: MirConfig, options: PlanOptions = PlanOptions(), pageSize: Int = 1000,
                logger: Logger = Logger(label: "mir.gc")) {
        self.registry = registry
        self.config = config
        self.options = options
        self.pageSize = pageSize
        self.logger = logger
    }

    /// What a pass found and did.
    public struct Report: Sendable, Equatable {
        /// Repositories under the prefix.
        public var listed = 0
        /// Repositories under the prefix without a ManagedImage.
        public var orphans: [String] = []
        public var deleted: [String] = []
        public var warnings: [String] = []
        /// Deletions that failed, with the error.
        public var failures: [String: String] = [:]
    }

    /// One pass. `images` are the names of every ManagedImage in the cluster (including invalid ones and those being
    /// deleted: their repositories are not orphans); `complete` is false when that set may be partial (caches not
    /// synced), and then nothing is deleted.
    public func collect(images: Set<String>, complete: Bool) async throws -> Report {
        let prefix = config.repositoryPrefix
        let identity = OwnershipIdentity.anyManagedImage(config)
        var report = Report()
        var listed: [RepositoryDescription] = []
        var token: String?
        do {
            repeat {
                let page = try await registry.describeRepositories(names: nil, maxResults: pageSize, nextToken: token)
                listed += page.items.filter { $0.name.hasPrefix(prefix) }
                token = page.nextToken
            } while token != nil
        } catch let error as RegistryError where error.code == .accessDenied {
            report.warnings.append("garbage collection is off: \(error.operation) was denied (\(error.message))")
            return report
        }
        report.listed = listed.count
        let orphans = listed.filter { !images.contains(String($0.name.dropFirst(prefix.count))) }.sorted { $0.name < $1.name }
        report.orphans = orphans.map(\.name)
        guard !orphans.isEmpty else { return report }

        // Ownership and the recorded deletion policy, for the orphans only.
        var repositories: [String: ObservedRepository] = [:]
        var degraded: [String] = []
        for description in orphans {
            var repo = ObservedRepository(name: description.name, description: description)
            do {
                repo.tags = .known(try await registry.listTagsForResource(arn: description.arn))
            } catch let error as RegistryError where error.code == .accessDenied {
                degraded.append("ownership checks are off: ListTagsForResource was denied (\(error.message)); no repository is deleted")
            } catch let error as RegistryError where error.code == .repositoryNotFound {
                continue
            }
            // Only repositories a ManagedImage of this installation created: not the file source's, not legacy ones
            // without a recorded owner (the source that has their spec claims them), not another installation's.
            guard repo.ownership(for: identity) != .unclaimed else { continue }
            repositories[description.name] = repo
        }
        // The desired side holds no image for these repositories (that is what makes them orphans): the planner sees
        // only the orphans and applies its deletion rules to them.
        let desired = DesiredState(images: [], isComplete: complete, repositoryPrefix: prefix, platformVersion: config.platformVersion,
                                   ownership: identity)
        let observed = ObservedState(repositories: repositories, repositoriesListed: true, degradedCapabilities: degraded)
        // The planner's desired side is empty by construction here; the cluster's is empty only when it has no images.
        var options = self.options
        options.allowEmpty = options.allowEmpty || config.allowEmpty || !images.isEmpty
        let plan = Planner.plan(desired: desired, observed: observed, options: options)
        report.warnings += plan.warnings.map(\.description)
        for action in plan.actions {
            guard case .deleteRepository(let name, let force) = action else { continue }
            do {
                _ = try await registry.deleteRepository(name: name, force: force)
                report.deleted.append(name)
                logger.info("deleted repository \(name): its ManagedImage is gone (garbage collection)")
            } catch let error as RegistryError where error.code == .repositoryNotFound {
                continue
            } catch {
                report.failures[name] = "\(error)"
                logger.warning("garbage collection: deleting \(name) failed: \(error)")
            }
        }
        for warning in report.warnings { logger.notice("garbage collection: \(warning)") }
        return report
    }
}
