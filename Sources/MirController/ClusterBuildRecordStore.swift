import Foundation
import KubeClient
import MirBuild
import MirModel
import Synchronization

/// One build Job as the controller sees it.
public struct ObservedBuildJob: Sendable, Hashable {
    public var job: Job
    public var outcome: BuildOutcome
    public var record: BuildRecord

    public init(job: Job, outcome: BuildOutcome, record: BuildRecord) {
        self.job = job
        self.outcome = outcome
        self.record = record
    }

    public var name: String { job.metadata.name ?? "" }
    public var image: String { record.image }
    public var tag: String { record.tag }
    /// The manual-rebuild value the Job served, if any.
    public var rebuildToken: String? { job.metadata.annotations?[KubernetesJobBuilder.rebuildAnnotation] }
    public var isBeingDeleted: Bool { job.metadata.deletionTimestamp != nil }
    /// The Job finished, but its outcome is held as running while its push is verified (see `PushVisibility`).
    public var isVerifyingPush: Bool { !outcome.isFinished && JobOutcomeClassifier.classify(job: job, pods: []).isFinished }
    /// Where the Job pushes: the kaniko container's `--destination`.
    public var destination: String? {
        guard case .object(let template) = job.spec?.template, case .object(let pod)? = template["spec"] else { return nil }
        var containers: [JSONValue] = []
        for key in ["initContainers", "containers"] { if case .array(let list)? = pod[key] { containers += list } }
        for case .object(let container) in containers {
            guard case .array(let args)? = container["args"] else { continue }
            for case .string(let arg) in args where arg.hasPrefix("--destination=") { return String(arg.dropFirst("--destination=".count)) }
        }
        return nil
    }
}

/// Build records derived from the cluster: mir's build Jobs (label selector) and the ManagedImage's status (the
/// image it serves), so a restart of mir loses nothing. `put` is a no-op: the Jobs and the status are the record.
public struct ClusterBuildRecordStore: BuildRecordStore {
    public let client: KubeClient
    public let namespace: String
    /// Only this image's Jobs (nil: every image's).
    public let image: String?
    /// The ManagedImage status to take the current image from, when no Job for its tag is left (TTL).
    public let status: (image: String, status: ManagedImageStatus)?
    /// With a snapshot, the first listing is kept: `allRecords()` and `snapshotJobs()` read it, so one reconcile
    /// observes and decides from one listing (taken after the registry was read). `jobs()` always lists.
    public let snapshot: JobSnapshot?

    public static let jobSelector = "\(BuildJobManifest.managedByLabel)=mir,app.kubernetes.io/component=image-build"

    public init(client: KubeClient, namespace: String, image: String? = nil, status: (image: String, status: ManagedImageStatus)? = nil,
                snapshot: JobSnapshot? = nil) {
        self.client = client
        self.namespace = namespace
        self.image = image
        self.status = status
        self.snapshot = snapshot
    }

    /// The Jobs are the record (and the API server's resourceVersion their compare-and-swap): nothing to write.
    @discardableResult
    public func put(_ record: BuildRecord) async throws -> BuildRecord { record }

    public func allRecords() async throws -> [BuildRecord] {
        records(from: try await snapshotJobs())
    }

    /// The snapshot's Jobs (listed now if this is the first read), or a fresh listing without a snapshot.
    public func snapshotJobs() async throws -> [ObservedBuildJob] {
        guard let snapshot else { return try await jobs() }
        if let kept = snapshot.jobs { return kept }
        let listed = try await jobs()
        snapshot.jobs = listed
        return listed
    }

    /// The records of `jobs` (one snapshot, so records and Jobs never disagree), plus the image the status serves.
    public func records(from jobs: [ObservedBuildJob]) -> [BuildRecord] {
        var records = jobs.map(\.record)
        if let name = status?.image, let status = status?.status, let tag = status.imageTag,
           !records.contains(where: { $0.tag == tag && $0.state == .succeeded }) {
            records.append(BuildRecord(
                image: name, tag: tag, state: .succeeded, reason: status.build?.reason ?? "", specDigest: "",
                platformVersion: status.platformVersion ?? "", parentTag: nil, pythonVersion: "",
                pipLibraries: status.pipLibraries ?? [], builder: "kubernetes", simulated: false,
                startedAt: status.build?.startTime ?? .distantPast, finishedAt: status.build?.completionTime))
        }
        return records
    }

    /// mir's build Jobs (of `image`, when set), classified.
    public func jobs() async throws -> [ObservedBuildJob] {
        var selector = Self.jobSelector
        if let image { selector += ",\(BuildJobManifest.imageLabel)=\(image)" }
        let jobs = try await client.listAll(Job.self, namespace: namespace, options: ListOptions(labelSelector: selector)).items
        guard !jobs.isEmpty else { return [] }
        let pods = try await client.listAll(Pod.self, namespace: namespace, options: ListOptions(labelSelector: selector)).items
        return jobs.map { job in
            let mine = pods.filter { pod in
                let labels = pod.metadata.labels ?? [:]
                return labels["batch.kubernetes.io/job-name"] == job.metadata.name || labels["job-name"] == job.metadata.name
                    || (pod.metadata.ownerReferences ?? []).contains { $0.uid == job.metadata.uid }
            }
            let simulated = mine.contains { $0.metadata.labels?["mir.dev/simulated"] == "true" }
            let outcome = JobOutcomeClassifier.classify(job: job, pods: mine)
            return ObservedBuildJob(job: job, outcome: outcome, record: Self.record(job: job, outcome: outcome, simulated: simulated))
        }
    }

    /// The record of a Job (outcome from its pods).
    public static func record(job: Job, pods: [Pod], simulated: Bool) -> BuildRecord {
        record(job: job, outcome: JobOutcomeClassifier.classify(job: job, pods: pods), simulated: simulated)
    }

    static func record(job: Job, outcome: BuildOutcome, simulated: Bool) -> BuildRecord {
        let labels = job.metadata.labels ?? [:]
        let annotations = job.metadata.annotations ?? [:]
        var record = BuildRecord(
            image: labels[BuildJobManifest.imageLabel] ?? "", tag: labels[BuildJobManifest.tagLabel] ?? "", state: .running,
            reason: annotations["mir.dev/reason"] ?? "", specDigest: annotations["mir.dev/spec-digest"] ?? "",
            platformVersion: annotations["mir.dev/platform-version"] ?? "", parentTag: annotations["mir.dev/parent-tag"],
            pythonVersion: annotations["mir.dev/python-version"] ?? "", builder: "kubernetes", simulated: simulated,
            startedAt: job.status?.startTime ?? job.metadata.creationTimestamp ?? Date())
        switch outcome {
        case .running:
            record.state = .running
            record.message = "build Job \(job.metadata.namespace ?? "")/\(job.metadata.name ?? "") running"
        case .succeeded(let libraries, let report, _, let completion):
            record.state = .succeeded
            record.pipLibraries = libraries
            record.finishedAt = completion ?? Date()
            record.message = report.summary(shown: libraries.count)
        case .failed(_, let message, let completion):
            record.state = .failed
            record.finishedAt = completion ?? Date()
            record.message = message
        }
        return record
    }
}

extension BuildReportState {
    /// A one-line account of the pip list (nil when complete).
    public func summary(shown: Int) -> String? {
        switch self {
        case .complete: return nil
        case .truncated(let total):
            return "pipLibraries truncated: \(shown) of \(total) libraries fitted in the termination message"
        case .unreadable(let why): return "the pip list is unknown: \(why)"
        }
    }

    /// The `BuildReport` condition: (status, reason, message).
    public func condition(shown: Int) -> (String, String, String) {
        switch self {
        case .complete: return ("True", "BuildReportComplete", "the pip list has \(shown) libraries")
        case .truncated(let total):
            return ("False", "BuildReportTruncated", "truncated: true; \(shown) of \(total) libraries fitted in the termination message")
        case .unreadable(let why): return ("False", "BuildReportUnreadable", why)
        }
    }
}

/// One listing of build Jobs, kept for the rest of a reconcile.
public final class JobSnapshot: Sendable {
    private let kept = Mutex<[ObservedBuildJob]?>(nil)
    public init() {}
    public var jobs: [ObservedBuildJob]? {
        get { kept.withLock { $0 } }
        set { kept.withLock { $0 = newValue } }
    }
}
