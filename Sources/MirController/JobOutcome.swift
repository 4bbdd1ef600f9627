import Foundation
import KubeClient
import MirBuild
import MirModel

/// Why a build Job failed, as shown in `status.build.reason` and in events: the one typed list of build failure reasons (`BuildFailure.Reason`), shared with the
/// local build engines.
public typealias BuildFailureReason = BuildFailure.Reason

/// What a build Job amounts to.
public enum BuildOutcome: Sendable, Hashable {
    case running(startTime: Date?)
    /// `report`: whether the pip list is complete, was cut to fit in the termination message, or could not be read.
    case succeeded(libraries: [PipLibrary], report: BuildReportState, digest: String?, completionTime: Date?)
    case failed(reason: BuildFailureReason, message: String, completionTime: Date?)

    public var isFinished: Bool { if case .running = self { return false }; return true }
}

/// Checks succeeded build Jobs against the registry mir observes.
public enum PushVisibility {
    /// How long before the registry was read a Job must have finished for its absent tag to count: a Job that
    /// finished later may have pushed after the read (and clocks differ a little).
    public static let margin: TimeInterval = 3

    /// The Jobs with each succeeded Job of `tag` turned into a `PushNotVisible` failure when the repository's image
    /// tags are known, the tag is not among them, and the Job finished at least `margin` before `registryReadAt` and
    /// after the repository was created (a Job older than its repository pushed to a repository the registry has
    /// since lost: that is not this failure, the image is simply built again). A Job that finished within the margin
    /// is shown as still running (its push is being verified): neither a success nor a reason to build again.
    /// The message names the repository URI the Job pushed to and the registry mir observes.
    public static func check(_ jobs: [ObservedBuildJob], tag: String, repositoryCreatedAt: Date?, imageTags: Set<String>?,
                             registry: String, registryReadAt: Date) -> [ObservedBuildJob] {
        guard let imageTags, !imageTags.contains(tag) else { return jobs }
        return jobs.map { observed in
            guard observed.tag == tag, !observed.isBeingDeleted,
                  case .succeeded(_, _, _, let completion) = observed.outcome else { return observed }
            let finished = completion ?? observed.record.finishedAt ?? observed.record.startedAt
            // Kubernetes times are whole seconds (a Job that finished at 14.9 s reads 14 s): only a Job that finished
            // more than a second before the repository was created is older than it.
            if let created = repositoryCreatedAt, finished.addingTimeInterval(1) < created { return observed }
            if finished > registryReadAt.addingTimeInterval(-margin) {
                var verifying = observed
                verifying.outcome = .running(startTime: observed.job.status?.startTime)
                verifying.record.state = .running
                verifying.record.finishedAt = nil
                verifying.record.message = "build Job \(observed.job.metadata.namespace ?? "")/\(observed.name) finished; checking that \(tag) is in the registry"
                return verifying
            }
            let destination = observed.destination ?? "(unknown destination)"
            let message = "build Job \(observed.job.metadata.namespace ?? "")/\(observed.name) succeeded and pushed to \(destination), "
                + "but the registry mir observes (\(registry)) has no tag \(tag): the build and mir do not share a registry"
            var changed = observed
            changed.outcome = .failed(reason: .pushNotVisible, message: message, completionTime: completion)
            changed.record.state = .failed
            changed.record.message = message
            return changed
        }
    }
}

/// Classifies a build Job from its conditions and its pods' container states. Pure.
public enum JobOutcomeClassifier {
    /// - Parameters:
    ///   - job: the build Job.
    ///   - pods: the Job's pods (any order).
    public static func classify(job: Job, pods: [Pod]) -> BuildOutcome {
        let name = job.metadata.name ?? ""
        let namespace = job.metadata.namespace ?? "default"
        let conditions = job.status?.conditions ?? []
        func isTrue(_ type: String) -> JobCondition? { conditions.first { $0.type == type && $0.status == "True" } }
        let sortedPods = pods.sorted { ($0.metadata.creationTimestamp ?? .distantPast) < ($1.metadata.creationTimestamp ?? .distantPast) }

        if isTrue("Complete") != nil || isTrue("SuccessCriteriaMet") != nil {
            var libraries: [PipLibrary] = []
            var report = BuildReportState.unreadable("the report container left no termination message")
            var digest: String?
            for pod in sortedPods.reversed() {
                let statuses = (pod.status?.containerStatuses ?? []) + (pod.status?.initContainerStatuses ?? [])
                if digest == nil, let message = statuses.first(where: { $0.name == BuildJobManifest.kanikoContainerName })?.state?.terminated?.message {
                    digest = BuildReport.imageDigest(kanikoTerminationMessage: message)
                }
                guard let reporter = statuses.first(where: { $0.name == BuildJobManifest.reportContainerName })?.state?.terminated,
                      reporter.exitCode == 0, let message = reporter.message else { continue }
                do {
                    let decoded = try BuildReport.decode(terminationMessage: message)
                    libraries = decoded.libraries
                    report = decoded.truncated ? .truncated(total: decoded.total) : .complete
                    break
                } catch {
                    if let record = simulatedRecord(message) {  // the local control plane's simulated runner
                        libraries = record.pipLibraries
                        report = .complete
                        break
                    }
                    report = .unreadable("the report of pod \(pod.metadata.name ?? "") cannot be read: \(error)")
                }
            }
            if case .unreadable = report { libraries = [] }
            return .succeeded(libraries: libraries, report: report, digest: digest,
                              completionTime: job.status?.completionTime ?? isTrue("Complete")?.lastTransitionTime)
        }

        let failedCondition = isTrue("Failed") ?? isTrue("FailureTarget")
        guard let failedCondition else { return .running(startTime: job.status?.startTime) }
        let completion = failedCondition.lastTransitionTime
        func fail(_ reason: BuildFailureReason, _ summary: String, container: String) -> BuildOutcome {
            .failed(reason: reason, message: "\(summary). See more with: kubectl logs -n \(namespace) job/\(name) -c \(container)",
                    completionTime: completion)
        }
        if failedCondition.reason == "DeadlineExceeded" {
            let limit = job.spec?.activeDeadlineSeconds.map { " of \($0) s" } ?? ""
            return fail(.deadlineExceeded, "the build ran past its deadline\(limit)", container: BuildJobManifest.kanikoContainerName)
        }
        // The newest pod tells what went wrong.
        for pod in sortedPods.reversed() {
            if pod.status?.reason == "Evicted" {
                return fail(.evicted, "the build pod was evicted: \(pod.status?.message ?? "no message")", container: BuildJobManifest.kanikoContainerName)
            }
            let containers = (pod.status?.initContainerStatuses ?? []) + (pod.status?.containerStatuses ?? [])
            for status in containers {
                let terminated = status.state?.terminated ?? status.lastState?.terminated
                if terminated?.reason == "OOMKilled" {
                    return fail(.oomKilled, "container \(status.name) ran out of memory (OOMKilled)", container: status.name)
                }
            }
            for status in containers {
                guard let terminated = status.state?.terminated, terminated.exitCode != 0 else { continue }
                let text = failureText(terminated.message)
                let lower = text.lowercased()
                if status.name == BuildJobManifest.kanikoContainerName || status.name != BuildJobManifest.reportContainerName {
                    if isPushDenied(lower) {
                        return fail(.pushDenied, "pushing the image was denied: \(text)", container: status.name)
                    }
                    if isBasePullFailure(lower) {
                        return fail(.baseImagePullFailed, "the base image could not be pulled: \(text)", container: status.name)
                    }
                }
                return fail(.buildFailed, "container \(status.name) exited with code \(terminated.exitCode): \(text)", container: status.name)
            }
        }
        if (job.status?.conditions ?? []).contains(where: { $0.type == "DisruptionTarget" && $0.status == "True" }) {
            return fail(.evicted, "the build pod was disrupted", container: BuildJobManifest.kanikoContainerName)
        }
        return fail(.buildFailed, "the build Job failed: \(failedCondition.reason ?? "Failed"): \(failedCondition.message ?? "no message")",
                    container: BuildJobManifest.kanikoContainerName)
    }

    typealias JobCondition = Job.JobCondition

    static func isPushDenied(_ lower: String) -> Bool {
        (lower.contains("push") || lower.contains("destination")) &&
            (lower.contains("denied") || lower.contains("unauthorized") || lower.contains("403") || lower.contains("forbidden"))
    }

    static func isBasePullFailure(_ lower: String) -> Bool {
        lower.contains("retrieving image") || lower.contains("manifest unknown") || lower.contains("manifest_unknown")
            || lower.contains("pull access denied") || lower.contains("failed to get filesystem from image")
            || lower.contains("errimagepull") || lower.contains("imagepullbackoff")
    }

    /// A short, single-line failure text: a simulated record's message, or the last non-empty log line.
    static func failureText(_ message: String?) -> String {
        guard let message, !message.isEmpty else { return "no termination message" }
        if let record = simulatedRecord(message), let m = record.message { return m }
        let lines = message.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return String((lines.last ?? message).prefix(300))
    }

    /// The local control plane's simulated job runner writes a BuildRecord as JSON.
    static func simulatedRecord(_ message: String) -> BuildRecord? {
        guard message.hasPrefix("{") else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(BuildRecord.self, from: Data(message.utf8))
    }
}
