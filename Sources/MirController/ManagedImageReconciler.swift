import Foundation
import KubeClient
import Logging
import MirBuild
import MirCore
import MirModel
import MirRegistry

/// What a reconcile asks of the work queue (controller-runtime's `Result`).
public enum ReconcileResult: Sendable, Equatable {
    case done
    case requeueAfter(Duration)
}

/// A reconcile that failed; the key is requeued with rate limiting.
public struct ReconcileError: Error, Sendable, CustomStringConvertible {
    public var image: String
    public var operation: String
    public var message: String
    public var description: String { "reconcile \(image): \(operation): \(message)" }
}

/// Reconciles one ManagedImage: finalizer, repository and lifecycle policy (through MirCore's Observer → Planner →
/// Applier, scoped to this image), its build Job (one per image; a newer spec replaces a running build), status
/// (phase, conditions) and events; deletion with the `mir.dev/repository` finalizer.
public final class ManagedImageReconciler: Sendable {
    public static let finalizer = "mir.dev/repository"
    public static let fieldManager = "mir"

    public let client: KubeClient
    public let registry: any ImageRegistry
    public let config: MirConfig
    public let builder: KubernetesJobBuilder
    public let scheduler: BuildScheduler
    public let events: EventRecorder
    /// Where the other images and the build Jobs are read from (the manager's caches).
    public let view: any ClusterView
    let statusWriter: StatusWriter
    let logger: Logger
    /// How soon an image waiting for a build slot or for its parent's image looks again.
    let waitInterval: Duration
    /// How soon a deletion blocked by a non-empty repository is retried.
    let blockedDeletionInterval: Duration

    public init(client: KubeClient, registry: any ImageRegistry, config: MirConfig, scheduler: BuildScheduler,
                events: EventRecorder, view: (any ClusterView)? = nil, waitInterval: Duration = .seconds(5),
                blockedDeletionInterval: Duration = .seconds(30), logger: Logger = Logger(label: "mir.controller")) {
        self.client = client
        self.registry = registry
        self.config = config
        self.builder = KubernetesJobBuilder(client: client, settings: config.builder)
        self.scheduler = scheduler
        self.events = events
        self.view = view ?? LiveClusterView(client: client, buildNamespace: config.builder.buildNamespace)
        self.statusWriter = StatusWriter(client: client)
        self.waitInterval = waitInterval
        self.blockedDeletionInterval = blockedDeletionInterval
        self.logger = logger
    }

    var namespace: String { config.builder.buildNamespace }

    // MARK: Reconcile

    public func reconcile(_ name: String) async throws -> ReconcileResult {
        let object: ManagedImageResource
        do {
            object = try await client.get(ManagedImageResource.self, name: name)
        } catch let error as KubeAPIError where error.isNotFound {
            scheduler.withdraw(name)
            return .done
        }
        if object.metadata.deletionTimestamp != nil { return try await finalize(object) }
        let current = try await ensureFinalizer(object)
        return try await reconcileLive(current)
    }

    func ensureFinalizer(_ object: ManagedImageResource) async throws -> ManagedImageResource {
        guard !(object.metadata.finalizers ?? []).contains(Self.finalizer) else { return object }
        return try await client.modify(ManagedImageResource.self, name: object.metadata.name ?? "") { o in
            guard o.metadata.deletionTimestamp == nil, !(o.metadata.finalizers ?? []).contains(Self.finalizer) else { return false }
            o.metadata.finalizers = (o.metadata.finalizers ?? []) + [Self.finalizer]
            return true
        }
    }

    func reconcileLive(_ object: ManagedImageResource) async throws -> ReconcileResult {
        let name = object.metadata.name ?? ""
        let generation = object.metadata.generation
        // Only this image's ancestor chain and its children are read from the view (name and index lookups), so a
        // reconcile costs the same whatever the size of the fleet.
        let children = try await view.children(of: name)

        // The image and its ancestors, parents first.
        var chain: [ManagedImage] = []
        var cursor: String? = name
        var seen: Set<String> = []
        while let current = cursor {
            guard !seen.contains(current) else { break }
            seen.insert(current)
            let cached: ClusterImage?
            if current == name {
                // The object read live above is the freshest; the view's memo decodes it once per resourceVersion.
                cached = view.image(for: object)
            } else {
                cached = try await view.managedImage(named: current)
            }
            guard let found = cached, !found.isBeingDeleted || current == name else {
                scheduler.withdraw(name)
                let message = "ManagedImage \(name): base ManagedImage \(current) does not exist (or is being deleted)"
                logger.warning("ParentMissing: \(message)")
                await events.record(object, .warning, reason: "ParentMissing", message: message)
                try await writeParentMissing(name: name, parent: current, generation: generation, message: message)
                return .done
            }
            let spec: ManagedImageSpec
            do { spec = try found.spec.get() } catch {
                return try await writeInvalid(name: name, generation: generation, reason: "InvalidSpec",
                                              message: current == name ? "spec: \(error)" : "parent \(current): spec: \(error)")
            }
            chain.insert(ManagedImage(name: current, spec: spec), at: 0)
            if case .managedImage(let parent) = spec.base { cursor = parent } else { cursor = nil }
        }
        if let problem = SpecValidation.problem(of: name, in: chain, config: config) {
            logger.warning("\(problem.reason): \(problem.message)")
            await events.record(object, .warning, reason: problem.reason, message: problem.message)
            return try await writeInvalid(name: name, generation: generation, reason: problem.reason, message: problem.message)
        }
        let resolved: [ResolvedImage]
        do { resolved = try DesiredStateResolver.resolve(chain, config: config) } catch {
            return try await writeInvalid(name: name, generation: generation, reason: "InvalidSpec", message: error.description)
        }
        guard let image = resolved.first(where: { $0.name == name }) else { return .done }
        let depth = resolved.count - 1
        // The ManagedImage (its UID) owns the repository it creates; a repository of another installation or owner
        // (e.g. one `mir apply` created) is foreign unless the object asks for adoption (`mir.dev/adopt: "true"`).
        let desired = DesiredState(images: [image], isComplete: false, repositoryPrefix: config.repositoryPrefix,
                                   platformVersion: config.platformVersion,
                                   ownership: .managedImage(uid: object.metadata.uid ?? "", config: config))
        let adopt = object.metadata.annotations?[OwnershipAnnotations.adopt] == "true"
        // This image's Jobs are listed once, after the registry (a Job completes after its push), for observing and
        // deciding; they are listed again after a build is started.
        let store = ClusterBuildRecordStore(client: client, namespace: namespace, image: name,
                                            status: object.status.map { (image: name, status: $0) }, snapshot: JobSnapshot())
        // Only this image's repository is read (ImageObserver: 4 reads, not a listing); repositories without a spec
        // are the garbage-collection pass's business.
        let observer = ImageObserver(registry: registry, records: store)
        var registryReadAt = Date()
        var observed = try await observer.observe(desired)
        // A succeeded Job whose tag the registry does not show failed (PushNotVisible): not a reason to build at once.
        let checkedJobs = visibilityChecked(try await store.snapshotJobs(), image: image, observed: observed, readAt: registryReadAt)
        store.snapshot?.jobs = checkedJobs
        observed.buildRecords = store.records(from: checkedJobs)
        let plan = Planner.plan(desired: desired, observed: observed, options: PlanOptions(maxDeletions: 0, adopt: adopt ? [name] : []))

        // A read about this image's repository failed: nothing is decided on a partial view; retried with backoff.
        for case .readFailed(let repository, _, let error) in plan.warnings {
            throw ReconcileError(image: name, operation: "observe repository \(repository)", message: error)
        }
        // Someone else's repository: never taken over without adoption.
        for case .foreignRepository(let repository, _, let owner) in plan.warnings {
            let warning = "repository \(repository) exists but is not this ManagedImage's: \(owner); mir leaves it alone. Rename the "
                + "ManagedImage, or annotate it \(OwnershipAnnotations.adopt)=\"true\" to take the repository over"
            scheduler.withdraw(name)
            await events.record(object, .warning, reason: "AdoptionRefused", message: warning)
            try await statusWriter.update(name, current: object) { status, meta in
                let now = Date()
                status.phase = ImagePhase.failed.rawValue
                status.repositoryName = repository
                status.observedGeneration = meta.generation
                status.conditions = Conditions.set(Condition(type: ConditionType.repositorySynced, status: "False", observedGeneration: meta.generation,
                                                             lastTransitionTime: now, reason: "AdoptionRefused", message: warning), in: status.conditions ?? [])
                status.conditions = Conditions.set(Condition(type: ConditionType.ready, status: "False", observedGeneration: meta.generation,
                                                             lastTransitionTime: now, reason: "AdoptionRefused", message: warning), in: status.conditions ?? [])
            }
            return .done
        }

        // Repository, ownership tags and lifecycle policy.
        var registryFailure: String?
        let repositoryActions = plan.actions.filter { $0.kind != .build }
        if !repositoryActions.isEmpty {
            let applier = Applier(registry: registry, builder: builder, records: store)
            let report = await applier.apply(Plan(actions: repositoryActions), desired: desired, observed: observed)
            for (action, outcome) in report.outcomes {
                switch (action, outcome) {
                case (.createRepository(let repo, _, _), .succeeded(let uri)):
                    await events.record(object, .normal, reason: "RepositoryCreated", message: "created repository \(repo) (\(uri ?? ""))")
                case (.adoptRepository(let repo, _, let policy), .succeeded):
                    await events.record(object, .warning, reason: "RepositoryAdopted",
                                        message: "adopted repository \(repo) (annotation \(OwnershipAnnotations.adopt)): it is now owned by this ManagedImage, deletionPolicy \(policy.rawValue)")
                case (.claimRepository(let repo, _, _), .succeeded):
                    await events.record(object, .normal, reason: "RepositoryClaimed",
                                        message: "recorded installation \(desired.ownership.installation) and this ManagedImage as the owner of \(repo) (made before mir recorded them)")
                case (.putLifecyclePolicy(let repo, _, _, let why), .succeeded):
                    await events.record(object, .normal, reason: "LifecyclePolicyApplied",
                                        message: "applied the lifecycle policy to \(repo) (it was \(why.rawValue))")
                case (_, .failed(let message)):
                    registryFailure = registryFailure ?? message
                default:
                    break
                }
            }
            registryReadAt = Date()
            observed = try await observer.observe(desired)
        }

        // The build.
        var jobs = try await store.snapshotJobs()
        if jobs.contains(where: { $0.tag == image.tag && $0.outcome.isFinished }) { scheduler.release(name) }
        let rebuildToken = object.metadata.annotations?[KubernetesJobBuilder.rebuildAnnotation].flatMap { $0.isEmpty ? nil : $0 }
        let tokenHandled = rebuildToken == nil || jobs.contains { $0.rebuildToken == rebuildToken }
            || object.status?.build?.message?.contains("[rebuild \(rebuildToken ?? "")]") == true
        var reason: BuildReason? = plan.actions.compactMap { a -> BuildReason? in
            if case .build(_, _, let r) = a { return r } else { return nil }
        }.first
        if !tokenHandled, registryFailure == nil, observed.repositories[image.repositoryName]?.description != nil { reason = .manual }
        var waiting: (reason: String, message: String)?
        var submitFailure: String?
        // Rebuilds after PushNotVisible back off per (image, tag) and are capped per hour. Once a PushNotVisible was seen
        // for the tag, every start of it but a manual rebuild asks the limiter — also one the plan wants while the
        // replaced Job is being deleted (it shows as a success the registry lacks, or as no Job at all).
        var pushNotVisibleWait: Duration?
        let notVisible = jobs.first { job in
            guard job.tag == image.tag, !job.isBeingDeleted, case .failed(.pushNotVisible, _, _) = job.outcome else { return false }
            return true
        }
        let paced = notVisible != nil || scheduler.rebuilds.isPacing(image: name, tag: image.tag)
        if paced, reason != nil || notVisible != nil, reason != .manual, registryFailure == nil {
            switch scheduler.rebuilds.request(image: name, tag: image.tag) {
            case .rebuild(let attempt):
                reason = reason ?? BuildReason(rawValue: notVisible?.record.reason ?? "") ?? .new
                ControllerMetrics.pushNotVisibleRebuild("started")
                logger.warning("rebuilding \(name):\(image.tag) after PushNotVisible (rebuild \(attempt), at most \(scheduler.rebuilds.maxPerHour) per hour)")
            case .backoff(let delay):
                ControllerMetrics.pushNotVisibleRebuild("backoff")
                pushNotVisibleWait = delay
                reason = nil
            case .capped(let delay):
                ControllerMetrics.pushNotVisibleRebuild("capped")
                pushNotVisibleWait = delay
                reason = nil
            }
        } else if notVisible == nil, observed.repositories[image.repositoryName]?.hasImage(tag: image.tag) == true {
            scheduler.rebuilds.forget(image: name)
        }
        if let buildReason = reason, registryFailure == nil {
            do {
                waiting = try await startBuild(object, image: image, depth: depth, reason: buildReason, observed: observed, jobs: jobs,
                                               rebuildToken: rebuildToken)
            } catch {
                // Shown in status (and retried with backoff): e.g. a missing build namespace or a refused Job.
                submitFailure = "starting the build Job in namespace \(namespace) failed: \(error)"
                waiting = ("BuildNotStarted", submitFailure!)
            }
            jobs = visibilityChecked(try await store.jobs(), image: image, observed: observed, readAt: registryReadAt)
        } else {
            scheduler.withdraw(name)
        }
        // Status reads Jobs and records from one snapshot: a Job finishing between two reads must not give a
        // Failed phase with a running build.
        observed.buildRecords = store.records(from: jobs)

        try await writeStatus(object, image: image, desired: desired, observed: observed, jobs: jobs, children: children,
                              waiting: waiting, registryFailure: registryFailure, rebuildToken: rebuildToken)
        if let registryFailure {
            throw ReconcileError(image: name, operation: "reconcile repository", message: registryFailure)
        }
        if let submitFailure {
            throw ReconcileError(image: name, operation: "start build", message: submitFailure)
        }
        if let pushNotVisibleWait, waiting == nil { return .requeueAfter(max(pushNotVisibleWait, .milliseconds(5))) }
        // A finished Job whose tag is not visible yet is checked again once it is older than the margin.
        if waiting == nil, jobs.contains(where: { $0.tag == image.tag && $0.isVerifyingPush }) {
            return .requeueAfter(.seconds(PushVisibility.margin))
        }
        return waiting == nil ? .done : .requeueAfter(waitInterval)
    }

    /// `jobs` with a succeeded Job of the image's tag that the registry does not show turned into a PushNotVisible failure.
    func visibilityChecked(_ jobs: [ObservedBuildJob], image: ResolvedImage, observed: ObservedState, readAt: Date) -> [ObservedBuildJob] {
        let repository = observed.repositories[image.repositoryName]
        var tags: Set<String>?
        if case .known(let known)? = repository?.imageTags { tags = known }
        return PushVisibility.check(jobs, tag: image.tag, repositoryCreatedAt: repository?.description?.createdAt, imageTags: tags,
                                    registry: registry.displayName, registryReadAt: readAt)
    }

    /// Starts the build when its parent's image exists and a slot is free; returns why it waits otherwise.
    func startBuild(_ object: ManagedImageResource, image: ResolvedImage, depth: Int, reason: BuildReason, observed: ObservedState,
                    jobs: [ObservedBuildJob], rebuildToken: String?) async throws -> (reason: String, message: String)? {
        let name = image.name
        guard let uri = observed.repositories[image.repositoryName]?.description?.uri else {
            return ("RepositoryPending", "the repository \(image.repositoryName) is not ready yet")
        }
        if case .managed(let parent, let parentTag, let parentRepo) = image.base {
            let present: Bool
            do {
                let page = try await registry.describeImages(repositoryName: parentRepo, imageIds: [ImageIdentifier(tag: parentTag)],
                                                             maxResults: nil, nextToken: nil)
                present = !page.items.isEmpty
            } catch let error as RegistryError where error.code == .imageNotFound || error.code == .repositoryNotFound {
                present = false
            }
            if !present {
                scheduler.withdraw(name)
                return ("WaitingForParent", "waiting for parent \(parent) to build \(parentTag)")
            }
        }
        // Other images' running builds, from Job conditions (a Job without Complete/Failed still holds its slot).
        let active = try await view.imagesBuilding().subtracting([name])
        let priority = (reason == .platformUpgraded || reason == .parentRebuilt) ? 1 : 0
        guard scheduler.request(.init(image: name, priority: priority, depth: depth), activeImages: active) else {
            return ("BuildQueued", "waiting for a build slot (at most \(scheduler.maxConcurrentBuilds) builds at once)")
        }
        // At most one active build per image: a newer spec replaces a running build. A finished Job of the same tag
        // (a manual rebuild, or an image gone from the registry) makes way for the new one: Job names are per tag.
        // Deleted by UID: a Job of the same name created since this reconcile's (possibly stale) read is not this one.
        for job in jobs where !job.isBeingDeleted && ((job.tag != image.tag && !job.outcome.isFinished) || (job.tag == image.tag && job.outcome.isFinished)) {
            do {
                _ = try await client.delete(Job.self, name: job.name, namespace: namespace,
                                            options: DeleteOptions(propagationPolicy: .background,
                                                                   preconditions: .init(uid: job.job.metadata.uid)))
            } catch let error as KubeAPIError where error.isConflict {
                continue  // a newer Job holds the name: its ConfigMap stays too.
            } catch {}
            _ = try? await client.delete(ConfigMap.self, name: job.name, namespace: namespace)
        }
        let registryHost = String(uri.dropLast(image.repositoryName.count))
        let request = BuildRequest(image: image, reason: reason, platformVersion: config.platformVersion) { registryHost + $0 }
        do {
            let record = try await builder.submit(request, owner: BuildJobOwner(name: name, uid: object.metadata.uid ?? ""),
                                                  rebuildToken: rebuildToken)
            if record.state == .running {
                await events.record(object, .normal, reason: "BuildStarted",
                                    message: "build Job \(namespace)/\(BuildJobManifest.jobName(image: name, tag: image.tag)) started for \(image.tag) (\(reason.rawValue))")
                ControllerMetrics.build(result: "started", reason: reason.camelCase)
            }
        } catch let error as KubeAPIError where error.isAlreadyExists || error.isConflict {
            return ("BuildQueued", "the previous build Job is still being deleted")
        }
        return nil
    }

    // MARK: Status

    func writeStatus(_ object: ManagedImageResource, image: ResolvedImage, desired: DesiredState, observed: ObservedState,
                     jobs: [ObservedBuildJob], children: [String], waiting: (reason: String, message: String)?,
                     registryFailure: String?, rebuildToken: String?) async throws {
        let name = image.name
        var derived = StatusDeriver.statuses(desired: desired, observed: observed).first!
        if let waiting, derived.phase != .ready {
            derived.phase = derived.currentTag == nil ? .buildingFirstTime : .outdated
            derived.reason = waiting.reason
            derived.message = waiting.message
        }
        let repo = observed.repositories[image.repositoryName]
        let latest = jobs.filter { !$0.isBeingDeleted }.max { $0.record.startedAt < $1.record.startedAt }
        let current = jobs.first { $0.tag == derived.currentTag }
        var digest: String?
        if case .succeeded(_, _, let d, _)? = current?.outcome { digest = d }
        if digest == nil, let tag = derived.currentTag {
            digest = try? await registry.describeImages(repositoryName: image.repositoryName, imageIds: [ImageIdentifier(tag: tag)],
                                                         maxResults: nil, nextToken: nil).items.first?.digest
        }
        let previous = object.status
        // Build outcome events, once per finished Job.
        if let latest, latest.outcome.isFinished,
           previous?.build?.jobName != latest.name || previous?.build?.completionTime == nil {
            let buildReason = BuildReason(rawValue: latest.record.reason)?.camelCase ?? "Unknown"
            let took = latest.record.finishedAt.map { Duration.seconds(max(0, $0.timeIntervalSince(latest.record.startedAt))) }
            switch latest.outcome {
            case .succeeded(let libraries, _, _, _):
                await events.record(object, .normal, reason: "BuildSucceeded",
                                    message: "built \(latest.tag) (\(libraries.count) pip libraries) by Job \(namespace)/\(latest.name)")
                ControllerMetrics.build(result: "succeeded", reason: buildReason, duration: took)
            case .failed(let reason, let message, _):
                await events.record(object, .warning, reason: "BuildFailed", message: "\(reason.rawValue): \(message)")
                ControllerMetrics.build(result: "failed", reason: buildReason, duration: took)
            case .running:
                break
            }
        }
        let desiredPolicy = LifecyclePolicyRules.normalized(image.lifecyclePolicy)
        let policySynced: (String, String, String) = {
            switch repo?.lifecyclePolicy {
            case .known(let p?)? where LifecyclePolicyRules.normalized(p) == desiredPolicy: return ("True", "PolicyApplied", "the lifecycle policy is in place")
            case .known(nil)?: return ("False", "PolicyMissing", "the repository has no lifecycle policy")
            case .known?: return ("False", "PolicyDrifted", "the lifecycle policy differs from the desired one")
            default: return ("Unknown", "PolicyUnknown", "the lifecycle policy could not be read")
            }
        }()
        let buildCondition: (String, String, String) = {
            switch latest?.outcome {
            case .running?: return ("Unknown", "BuildRunning", latest?.record.message ?? "build running")
            case .succeeded?: return ("True", "BuildSucceeded", "built \(latest?.tag ?? "")")
            case .failed(let reason, let message, _)?: return ("False", reason.rawValue, message)
            case nil: return derived.currentTag != nil ? ("True", "ImageAvailable", "image \(derived.currentTag!) is in the registry")
                                                        : ("Unknown", "NoBuild", "no build yet")
            }
        }()
        let readyTrue = derived.currentTag != nil && derived.phase != .failed
        let repoSynced: (String, String, String) = registryFailure.map { ("False", "RegistryError", $0) }
            ?? (repo?.description != nil ? ("True", "RepositoryReady", "repository \(image.repositoryName) exists and is owned by mir")
                                         : ("False", "RepositoryMissing", "repository \(image.repositoryName) does not exist"))
        let buildStatus: ManagedImageStatus.BuildStatus? = latest.map { job -> ManagedImageStatus.BuildStatus in
            var reason = BuildReason(rawValue: job.record.reason)?.camelCase ?? "Build"
            var message = job.record.message ?? ""
            switch job.outcome {
            case .failed(let r, let m, _): reason = r.rawValue; message = m
            case .succeeded(let libraries, let report, _, _):
                message = report.summary(shown: libraries.count).map { "build succeeded; \($0)" } ?? "build succeeded"
            case .running: break
            }
            if let token = job.rebuildToken { message += " [rebuild \(token)]" }
            return .init(jobName: job.name, reason: reason, startTime: job.record.startedAt, completionTime: job.record.finishedAt, message: message)
        } ?? previous?.build
        // The pip report of the current image's Job: complete, truncated (with the total) or unreadable. An unreadable
        // report never shows as an empty pip list.
        var currentReport: (condition: (String, String, String), unreadable: Bool)?
        if case .succeeded(let libraries, let report, _, _)? = current?.outcome {
            var unreadable = false
            if case .unreadable = report { unreadable = true }
            currentReport = (report.condition(shown: libraries.count), unreadable)
        }
        let reportCondition = currentReport?.condition
        let reportUnreadable = currentReport?.unreadable ?? false
        let final = derived
        let finalDigest = digest
        try await statusWriter.update(name, current: object) { status, meta in
            let now = Date()
            let gen = meta.generation
            status.phase = final.phase.rawValue
            status.repositoryName = image.repositoryName
            status.repositoryURI = final.repositoryURI ?? status.repositoryURI
            status.imageTag = final.currentTag
            status.imageDigest = final.currentTag == nil ? nil : (finalDigest ?? (status.imageTag == final.currentTag ? status.imageDigest : nil))
            status.platformVersion = final.platformVersion
            status.pythonVersion = image.pythonVersion
            status.pipLibraries = final.currentTag == nil || reportUnreadable ? nil : final.pipLibraries
            status.childImages = children
            status.build = buildStatus
            status.observedGeneration = gen
            var conditions = (status.conditions ?? []).filter { $0.type != ConditionType.parentMissing && $0.type != ConditionType.deletionBlocked }
            func put(_ type: String, _ s: (String, String, String)) {
                conditions = Conditions.set(Condition(type: type, status: s.0, observedGeneration: gen, lastTransitionTime: now,
                                                      reason: s.1, message: s.2), in: conditions)
            }
            put(ConditionType.ready, (readyTrue ? "True" : "False", final.reason.isEmpty ? final.phase.rawValue : final.reason, final.message))
            put(ConditionType.repositorySynced, repoSynced)
            put(ConditionType.lifecyclePolicySynced, policySynced)
            put(ConditionType.buildSucceeded, buildCondition)
            if let reportCondition { put(ConditionType.buildReport, reportCondition) }
            status.conditions = conditions
        }
    }

    func writeParentMissing(name: String, parent: String, generation: Int?, message: String) async throws {
        try await statusWriter.update(name) { status, meta in
            status.observedGeneration = meta.generation
            status.conditions = Conditions.set(Condition(type: ConditionType.parentMissing, status: "True", observedGeneration: meta.generation,
                                                         lastTransitionTime: Date(), reason: "ParentNotFound",
                                                         message: "base ManagedImage \(parent) does not exist (or is being deleted)"),
                                               in: status.conditions ?? [])
            // Ready=False with the reason, so that `kubectl get` shows it in the REASON column.
            status.conditions = Conditions.set(Condition(type: ConditionType.ready, status: "False", observedGeneration: meta.generation,
                                                         lastTransitionTime: Date(), reason: "ParentMissing", message: message),
                                               in: status.conditions ?? [])
            if status.imageTag == nil { status.phase = ImagePhase.failed.rawValue }
        }
    }

    func writeInvalid(name: String, generation: Int?, reason: String, message: String) async throws -> ReconcileResult {
        scheduler.withdraw(name)
        try await statusWriter.update(name) { status, meta in
            status.phase = ImagePhase.failed.rawValue
            status.observedGeneration = meta.generation
            status.conditions = Conditions.set(Condition(type: ConditionType.ready, status: "False", observedGeneration: meta.generation,
                                                         lastTransitionTime: Date(), reason: reason, message: message),
                                               in: status.conditions ?? [])
        }
        return .done
    }

    // MARK: Deletion

    func finalize(_ object: ManagedImageResource) async throws -> ReconcileResult {
        let name = object.metadata.name ?? ""
        scheduler.withdraw(name)
        guard (object.metadata.finalizers ?? []).contains(Self.finalizer) else { return .done }
        let policy = (try? object.decodedSpec().deletionPolicy) ?? .retain
        let repository = config.repositoryPrefix + name
        if policy == .delete {
            // Going away: not Ready while the repository is deleted (or its deletion is blocked).
            try await writeDeleting(name, reason: "Deleting", message: "deleting repository \(repository)", blocked: nil)
            // The policy recorded on the repository decides, and only this ManagedImage's own repository is deleted,
            // with the images mir built in it (the tags its Jobs recorded, or mir's content-addressed tags).
            let store = ClusterBuildRecordStore(client: client, namespace: namespace, image: name)
            let built = Set((try? await store.jobs())?.map(\.tag) ?? [])
            let outcome = try await RepositoryDeleter(registry: registry).delete(
                repository: repository, ownership: .managedImage(uid: object.metadata.uid ?? "", config: config),
                builtTags: built, forceForeignImages: config.forceDeleteRepositories)
            switch outcome {
            case .deleted:
                await events.record(object, .normal, reason: "RepositoryDeleted", message: "deleted repository \(repository): \(outcome)")
            case .alreadyGone:
                break
            case .retained, .notOwned:
                await events.record(object, .normal, reason: "RepositoryRetained", message: "repository \(repository) \(outcome)")
            case .blocked, .ownershipUnknown:
                let message = "repository \(repository) \(outcome)"
                await events.record(object, .warning, reason: "DeletionBlocked", message: message)
                try await writeDeleting(name, reason: "DeletionBlocked", message: message, blocked: outcome)
                return .requeueAfter(blockedDeletionInterval)
            }
        }
        _ = try await client.modify(ManagedImageResource.self, name: name) { o in
            guard let finalizers = o.metadata.finalizers, finalizers.contains(Self.finalizer) else { return false }
            o.metadata.finalizers = finalizers.filter { $0 != Self.finalizer }
            return true
        }
        return .done
    }

    /// Phase Deleting and Ready=False while the repository is deleted; DeletionBlocked=True when it cannot be.
    func writeDeleting(_ name: String, reason: String, message: String, blocked: DeletionOutcome?) async throws {
        try await statusWriter.update(name) { status, meta in
            let now = Date()
            status.phase = ImagePhase.deleting.rawValue
            status.conditions = Conditions.set(Condition(type: ConditionType.ready, status: "False", observedGeneration: meta.generation,
                                                         lastTransitionTime: now, reason: reason, message: message), in: status.conditions ?? [])
            if let blocked {
                let conditionReason: String
                switch blocked {
                case .blocked: conditionReason = "ForeignImages"
                default: conditionReason = "OwnershipUnknown"
                }
                status.conditions = Conditions.set(Condition(type: ConditionType.deletionBlocked, status: "True", observedGeneration: meta.generation,
                                                             lastTransitionTime: now, reason: conditionReason, message: message),
                                                   in: status.conditions ?? [])
            }
        }
    }
}
