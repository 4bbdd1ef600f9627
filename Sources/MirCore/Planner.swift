import MirModel
import MirBuild

/// The reconcile decision: desired × observed → plan. Pure: no I/O, no clock, no randomness.
///
/// Safety rules (each tested):
/// - nothing outside the prefix is ever acted on;
/// - a repository of another installation or owner is foreign: reported, never changed, never deleted, unless
///   adoption is asked for;
/// - a repository is deleted only if it is this installation's, its spec is gone, its recorded deletionPolicy is
///   Delete, every spec loaded, repositories could be listed and no read failed in the pass;
/// - an empty desired state deletes nothing unless allowed; a pass that would delete more than
///   `maxDeletionFraction` of the installation's repositories (and more than the cap) deletes nothing;
/// - at most `maxDeletions` deletions per pass;
/// - a read that failed for one repository skips that image only;
/// - lifecycle policies are compared by meaning.
public enum Planner {
    public static func plan(desired: DesiredState, observed: ObservedState, options: PlanOptions = PlanOptions()) -> Plan {
        var actions: [PlannedAction] = []
        var warnings = observed.degradedCapabilities.map(PlanWarning.capabilityOff)
        let prefix = desired.repositoryPrefix

        for image in desired.images where image.repositoryName.hasPrefix(prefix) {
            let repo = observed.repositories[image.repositoryName]
            let name = image.name
            let desiredPolicy = LifecyclePolicyRules.normalized(image.lifecyclePolicy)

            if let repo {
                if let failure = repo.readFailure {
                    warnings.append(.readFailed(repository: repo.name, image: name, error: failure))
                    continue
                }
                switch repo.ownership(for: desired.ownership) {
                case .foreign(let owner):
                    guard options.adopt.contains(name) else {
                        warnings.append(.foreignRepository(repository: repo.name, image: name, owner: owner))
                        continue
                    }
                    actions.append(.adoptRepository(repository: repo.name, image: name, deletionPolicy: image.image.spec.deletionPolicy))
                case .unclaimed:
                    actions.append(.claimRepository(repository: repo.name, image: name, deletionPolicy: image.image.spec.deletionPolicy))
                case .mine:
                    // Only the owner reaches here: it alone may change the recorded deletion policy.
                    if repo.recordedDeletionPolicy != image.image.spec.deletionPolicy {
                        actions.append(.updateDeletionPolicy(repository: repo.name, image: name, policy: image.image.spec.deletionPolicy))
                    }
                case .unknown:
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
            // A build that found its repository gone or taken over right before its push failed for its target, not
            // for its spec: built again once the repository is this mir's (a taken-over one is reported, not built).
            case .failed where !options.retryFailedBuilds && record.failure?.reason != .repositoryNotOwned: return nil
            case .succeeded, .failed, .abandoned, .lost: break  // Abandoned/Lost: the build is not under way any more.
            }
        }
        return .inferred(for: image, previous: observed.lastGoodBuild(of: image.name, repository: repository),
                         platformVersion: desired.platformVersion)
    }

    static func plannedDeletions(desired: DesiredState, observed: ObservedState, options: PlanOptions) -> ([PlannedAction], [PlanWarning]) {
        let wanted = Set(desired.images.map(\.repositoryName))
        let underPrefix = observed.repositories.values.filter { $0.name.hasPrefix(desired.repositoryPrefix) }
        let orphans = underPrefix.filter { !wanted.contains($0.name) }.sorted { $0.name < $1.name }
        var warnings: [PlanWarning] = orphans.compactMap { repo in
            repo.readFailure.map { PlanWarning.readFailed(repository: repo.name, image: nil, error: $0) }
        }
        guard !orphans.isEmpty else { return ([], warnings) }
        if !desired.isComplete {
            return ([], warnings + [.incompleteDesiredState])
        }
        if !observed.repositoriesListed {
            return ([], warnings + [.repositoriesNotListed])
        }
        let failedReads = underPrefix.filter { $0.readFailure != nil }.count
        if failedReads > 0 {
            return ([], warnings + [.deletionsOffAfterReadFailures(count: failedReads)])
        }
        var candidates: [String] = []
        for repo in orphans {
            switch repo.ownership(for: desired.ownership) {
            case .mine, .unclaimed:
                if repo.recordedDeletionPolicy == .delete {
                    candidates.append(repo.name)
                }
            case .unknown:
                warnings.append(.ownershipUnreadable(repository: repo.name))
            case .foreign:
                break // another installation's or owner's: never touched, not even reported as a candidate.
            }
        }
        guard !candidates.isEmpty else { return ([], warnings) }
        if desired.images.isEmpty && !options.allowEmpty {
            return ([], warnings + [.emptyDesiredState(wouldDelete: candidates)])
        }
        let owned = underPrefix.filter { $0.ownership(for: desired.ownership).isOwnedByThisInstallation }.count
        let limit = max(options.maxDeletions, Int((Double(owned) * options.maxDeletionFraction).rounded(.down)))
        if candidates.count > limit {
            return ([], warnings + [.tooManyDeletions(wouldDelete: candidates, owned: owned, limit: limit)])
        }
        if candidates.count > options.maxDeletions {
            let held = Array(candidates.dropFirst(options.maxDeletions))
            warnings.append(.deletionsHeldBack(repositories: held, cap: options.maxDeletions))
            candidates = Array(candidates.prefix(options.maxDeletions))
        }
        return (candidates.map { .deleteRepository(repository: $0, force: options.forceDelete) }, warnings)
    }
}
