import MirModel
import MirBuild

/// The reconcile decision: desired × observed → plan. Pure: no I/O, no clock, no randomness.
///
/// Safety rules (each tested):
/// - nothing outside the prefix is ever acted on;
/// - a repository is deleted only if it carries mir's ownership tag, its spec is gone, its recorded
///   deletionPolicy is Delete, every spec loaded and repositories could be listed;
/// - at most `maxDeletions` deletions per pass;
/// - an existing repository without mir's tag is reported, never taken over unless adoption is asked for;
/// - lifecycle policies are compared by meaning.
public enum Planner {
    public static func plan(desired: DesiredState, observed: ObservedState, options: PlanOptions = PlanOptions()) -> Plan {
        var actions: [PlannedAction] = []
        var warnings = observed.degradedCapabilities
        let prefix = desired.repositoryPrefix

        for image in desired.images where image.repositoryName.hasPrefix(prefix) {
            let repo = observed.repositories[image.repositoryName]
            let name = image.name
            let desiredPolicy = LifecyclePolicyRules.normalized(image.lifecyclePolicy)

            if let repo {
                switch repo.isOwned {
                case false?:
                    guard options.adopt.contains(name) else {
                        warnings.append("repository \(repo.name) exists but is not owned by mir (no tag \(OwnershipTags.managedByKey)=\(OwnershipTags.managedByValue)); image \(name) is not reconciled. Adopt it explicitly with --adopt \(name)")
                        continue
                    }
                    actions.append(.adoptRepository(repository: repo.name, image: name, deletionPolicy: image.image.spec.deletionPolicy))
                case true?:
                    if repo.recordedDeletionPolicy != image.image.spec.deletionPolicy {
                        actions.append(.updateDeletionPolicy(repository: repo.name, image: name, policy: image.image.spec.deletionPolicy))
                    }
                case nil:
                    break // ownership cannot be read: carry on with non-destructive work only.
                }
                switch repo.lifecyclePolicy {
                case .known(nil):
                    actions.append(.putLifecyclePolicy(repository: repo.name, image: name, policy: desiredPolicy, reason: .missing))
                case .known(let current?) where LifecyclePolicyRules.normalized(current) != desiredPolicy:
                    actions.append(.putLifecyclePolicy(repository: repo.name, image: name, policy: desiredPolicy, reason: .drifted))
                case .known, .unknown:
                    break
                }
            } else {
                actions.append(.createRepository(repository: image.repositoryName, image: name, deletionPolicy: image.image.spec.deletionPolicy))
                actions.append(.putLifecyclePolicy(repository: image.repositoryName, image: name, policy: desiredPolicy, reason: .missing))
            }

            if let reason = buildReason(for: image, repository: repo, observed: observed, desired: desired, options: options) {
                actions.append(.build(image: name, tag: image.tag, reason: reason))
            }
        }

        let (deletions, deletionWarnings) = plannedDeletions(desired: desired, observed: observed, options: options)
        actions += deletions
        warnings += deletionWarnings
        return Plan(actions: actions, warnings: warnings)
    }

    /// Why `image` must be built now, or nil when its tag is present or a build of it is already under way.
    static func buildReason(for image: ResolvedImage, repository: ObservedRepository?, observed: ObservedState,
                            desired: DesiredState, options: PlanOptions) -> BuildReason? {
        let record = observed.record(image: image.name, tag: image.tag)
        // An Abandoned build may have pushed before its builder died, but its outcome (the pip list) was never
        // recorded: it is built again even when the tag is there.
        if repository?.hasImage(tag: image.tag) == true && record?.state != .abandoned { return nil }
        if let record {
            switch record.state {
            // Submitted before its repository was (re)created, or its repository is gone: the registry lost the
            // build's target. Lost: submitted again.
            case .submitted where repository == nil || repository?.description.map({ record.startedAt < $0.createdAt }) == true: break
            case .submitted, .running: return nil
            case .succeeded where repository?.hasImage(tag: image.tag) == nil: return nil
            case .failed where !options.retryFailedBuilds: return nil
            case .succeeded, .failed, .abandoned, .lost: break  // Abandoned/Lost: the build is not under way any more.
            }
        }
        return .inferred(for: image, previous: observed.lastGoodBuild(of: image.name, repository: repository),
                         platformVersion: desired.platformVersion)
    }

    static func plannedDeletions(desired: DesiredState, observed: ObservedState, options: PlanOptions) -> ([PlannedAction], [String]) {
        let wanted = Set(desired.images.map(\.repositoryName))
        let orphans = observed.repositories.values
            .filter { $0.name.hasPrefix(desired.repositoryPrefix) && !wanted.contains($0.name) }
            .sorted { $0.name < $1.name }
        guard !orphans.isEmpty else { return ([], []) }
        if !desired.isComplete {
            return ([], ["some specs failed to load: no repository is deleted in this pass"])
        }
        if !observed.repositoriesListed {
            return ([], ["repositories could not be listed: garbage collection is off in this pass"])
        }
        var warnings: [String] = []
        var candidates: [String] = []
        for repo in orphans {
            switch repo.isOwned {
            case true?:
                if repo.recordedDeletionPolicy == .delete {
                    candidates.append(repo.name)
                }
            case nil:
                warnings.append("repository \(repo.name) has no spec, but its ownership tags could not be read: not deleted")
            case false?:
                break // not mir's: never touched, not even reported as a candidate.
            }
        }
        if candidates.count > options.maxDeletions {
            let held = candidates.dropFirst(options.maxDeletions)
            warnings.append("\(held.count) deletion(s) held back by the cap of \(options.maxDeletions) per pass (raise it with --max-deletions): \(held.joined(separator: ", "))")
            candidates = Array(candidates.prefix(options.maxDeletions))
        }
        return (candidates.map { .deleteRepository(repository: $0, force: options.forceDelete) }, warnings)
    }
}
