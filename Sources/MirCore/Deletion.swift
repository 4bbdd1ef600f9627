import MirModel
import MirRegistry
import MirBuild

/// What deleting an image's repository came to.
public enum DeletionOutcome: Sendable, Hashable {
    /// Deleted, with the images mir built in it.
    case deleted(images: Int)
    /// There was no repository (any more).
    case alreadyGone
    /// The deletion policy recorded on the repository is Retain (or none): kept.
    case retained
    /// The repository is someone else's: not touched.
    case notOwned(ForeignOwner)
    /// Its ownership tags could not be read: not touched.
    case ownershipUnknown(String)
    /// The repository holds images mir did not build: not deleted (`forceDeleteRepositories: true` overrides).
    /// `tags`: up to 10 of them (untagged images as `@sha256:…`); `count`: all of them.
    case blocked(tags: [String], count: Int)
}

/// Deletes an image's repository as its owner may: only a repository of this installation and owner, only when the
/// deletion policy *recorded on the repository* is Delete (the owner alone can change it), and only together with
/// images mir built (tags it recorded, or content-addressed tags of its own format). A repository that also holds
/// other images is not deleted unless `forceForeignImages`.
public struct RepositoryDeleter: Sendable {
    public var registry: any ImageRegistry

    public init(registry: any ImageRegistry) { self.registry = registry }

    public func delete(repository: String, ownership: OwnershipIdentity, builtTags: Set<String>,
                       forceForeignImages: Bool) async throws -> DeletionOutcome {
        for _ in 0..<3 {
            let description: RepositoryDescription
            do {
                guard let found = try await registry.describeRepositories(names: [repository], maxResults: nil, nextToken: nil).items.first
                else { return .alreadyGone }
                description = found
            } catch let error as RegistryError where error.code == .repositoryNotFound {
                return .alreadyGone
            }
            let tags: [ResourceTag]
            do {
                tags = try await registry.listTagsForResource(arn: description.arn)
            } catch let error as RegistryError where error.code == .accessDenied {
                return .ownershipUnknown(error.description)
            }
            switch ObservedRepository.ownership(of: tags, for: ownership) {
            case .foreign(let owner): return .notOwned(owner)
            case .unknown: return .ownershipUnknown("the repository's tags could not be read")
            case .mine, .unclaimed: break
            }
            let recorded = tags.first { $0.key == OwnershipTags.deletionPolicyKey }.flatMap { DeletionPolicy(rawValue: $0.value) }
            guard recorded == .delete else { return .retained }

            var ids: [ImageIdentifier] = []
            var token: String? = nil
            repeat {
                let page = try await registry.listImages(repositoryName: repository, maxResults: 1000, nextToken: token)
                ids += page.items
                token = page.nextToken
            } while token != nil
            let foreign = Self.foreignImages(ids, builtTags: builtTags)
            if !foreign.isEmpty && !forceForeignImages {
                return .blocked(tags: Array(foreign.prefix(10)), count: foreign.count)
            }
            let images = Set(ids.compactMap(\.digest)).count
            do {
                // Every image in it is mir's (or foreign ones may go): force deletes them with the repository. An image
                // pushed after the listing makes a non-forced delete fail, which is read again.
                _ = try await registry.deleteRepository(name: repository, force: !ids.isEmpty)
                return .deleted(images: images)
            } catch let error as RegistryError where error.code == .repositoryNotFound {
                return .alreadyGone
            } catch let error as RegistryError where error.code == .repositoryNotEmpty {
                continue  // something was pushed since the listing: look again.
            }
        }
        return .blocked(tags: ["(images are being pushed to it)"], count: 1)
    }

    /// The images mir did not build, as tags (untagged images as `@digest`), sorted.
    public static func foreignImages(_ ids: [ImageIdentifier], builtTags: Set<String>) -> [String] {
        var taggedDigests: Set<String> = []
        var foreign: Set<String> = []
        for id in ids {
            if let tag = id.tag {
                if let d = id.digest { taggedDigests.insert(d) }
                if !builtTags.contains(tag) && !isContentAddress(tag) { foreign.insert(tag) }
            }
        }
        for id in ids where id.tag == nil {
            if let d = id.digest, !taggedDigests.contains(d) { foreign.insert("@" + d) }
        }
        return foreign.sorted()
    }

    /// mir's content-addressed tag format (`ImageTagger.tag`): `py<X.Y>-<20 lowercase hex>` (or `pyunknown-…`).
    public static func isContentAddress(_ tag: String) -> Bool {
        guard tag.hasPrefix("py"), let dash = tag.lastIndex(of: "-") else { return false }
        let version = tag[tag.index(tag.startIndex, offsetBy: 2)..<dash]
        let hash = tag[tag.index(after: dash)...]
        let versionOK = version == "unknown" || (!version.isEmpty && version.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") })
        return versionOK && hash.count == ImageTagger.hashLength && hash.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }
}

extension DeletionOutcome: CustomStringConvertible {
    public var description: String {
        switch self {
        case .deleted(let n): "deleted with the \(n) image(s) mir built in it"
        case .alreadyGone: "the repository was already gone"
        case .retained: "kept: the deletion policy recorded on the repository is Retain"
        case .notOwned(let owner): "not deleted: \(owner)"
        case .ownershipUnknown(let why): "not deleted: its ownership could not be read (\(why))"
        case .blocked(let tags, let count):
            "not deleted: it holds \(count) image(s) mir did not build (\(tags.joined(separator: ", "))\(count > tags.count ? ", …" : "")); "
                + "set forceDeleteRepositories: true in the config to delete them too, or deletionPolicy: Retain to keep the repository"
        }
    }
}

/// `mir run --source files:` deletes a repository only when its spec was absent in two consecutive reads at least
/// `minimumAbsence` apart: a half-written checkout or a git-sync swap seen in one read must not prune. Reads that did
/// not load completely start the count again.
public struct DeletionDebounce: Sendable {
    public var minimumAbsence: Duration
    /// Repository → when the current run of reads without its spec began.
    public private(set) var absentSince: [String: ContinuousClock.Instant] = [:]

    public init(minimumAbsence: Duration) { self.minimumAbsence = minimumAbsence }

    /// Notes this read and returns `plan` without the deletions that are not yet due (each named by a warning).
    public mutating func filter(_ plan: Plan, desired: DesiredState, observed: ObservedState, now: ContinuousClock.Instant) -> Plan {
        guard desired.isComplete, observed.repositoriesListed else {
            absentSince = [:]
            return plan
        }
        let wanted = Set(desired.images.map(\.repositoryName))
        let absent = Set(observed.repositories.keys.filter { $0.hasPrefix(desired.repositoryPrefix) && !wanted.contains($0) })
        absentSince = absentSince.filter { absent.contains($0.key) }
        for name in absent where absentSince[name] == nil { absentSince[name] = now }
        var actions: [PlannedAction] = []
        var warnings = plan.warnings
        for action in plan.actions {
            if case .deleteRepository(let name, _) = action, !(absentSince[name].map { now - $0 >= minimumAbsence } ?? false) {
                warnings.append(.deletionDeferred(repository: name))
                continue
            }
            actions.append(action)
        }
        return Plan(actions: actions, warnings: warnings)
    }
}
