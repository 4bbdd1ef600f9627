import Foundation
import MirBuild
import MirModel

/// The Job annotations the simulated job runner reads to build a `BuildRequest`. All are optional:
/// missing values fall back to the Job's name and neutral defaults, so any Job runs.
public enum JobBuildAnnotations {
    /// ManagedImage name (default: the label `mir.dev/image`, else the Job name).
    public static let image = "mir.dev/image"
    /// Content-addressed tag to build (default `simulated`).
    public static let tag = "mir.dev/tag"
    /// The ManagedImageSpec as JSON (default: base imageType `simulated`, Python 3.12).
    public static let spec = "mir.dev/spec"
    public static let repositoryName = "mir.dev/repository-name"
    public static let repositoryURI = "mir.dev/repository-uri"
    /// The resolved `FROM` reference.
    public static let baseImage = "mir.dev/base-image"
    public static let platformVersion = "mir.dev/platform-version"
    /// One of `BuildReason`'s raw values (default `manual`).
    public static let reason = "mir.dev/build-reason"
    public static let specDigest = "mir.dev/spec-digest"
    public static let pythonVersion = "mir.dev/python-version"
    /// Set by the runner on the Job and its Pods: `"true"`.
    public static let simulated = "mir.dev/simulated"
}

/// Tunables of the simulated job runner.
public struct JobRunnerConfiguration: Sendable {
    /// First back-off delay between failed pods (Kubernetes: 10 s, doubling, capped at 6 min).
    public var backoffBase: Duration
    public var backoffCap: Duration

    public init(backoffBase: Duration = .seconds(10), backoffCap: Duration = .seconds(360)) {
        self.backoffBase = backoffBase
        self.backoffCap = backoffCap
    }
}

/// An error an injected `ImageBuilder` throws to end the simulated build pod with a given container state, as a
/// node would report it: e.g. `reason: "OOMKilled", exitCode: 137` or a non-zero exit with a log line as the
/// termination message. The named container (an init container or an app container of the Job's pod template)
/// gets this `terminated` state; init containers before it completed (exit 0); if it is an init container, the
/// containers after it never started (`waiting`, PodInitializing), otherwise the other app containers completed.
/// The pod fails, and the Job counts the failure against its `backoffLimit` as for any other build error.
public struct SimulatedContainerTermination: Error, Sendable, Hashable, CustomStringConvertible {
    public var container: String
    public var reason: String
    public var exitCode: Int
    public var message: String

    public init(container: String, reason: String, exitCode: Int, message: String = "") {
        self.container = container
        self.reason = reason
        self.exitCode = exitCode
        self.message = message
    }

    public var description: String { "container \(container) terminated: \(reason) (exit code \(exitCode)) \(message)" }
}

/// How the job runner runs a Job's pod.
public enum JobRunnerMode: Sendable {
    /// A SIMULATION: no container runs; the injected `ImageBuilder` stands in for the whole pod.
    case simulated(any ImageBuilder)
    /// Real: kaniko containers are built and pushed by the engine, other containers run their command in their
    /// image (see `RealPodRun`), and the Job's `podFailurePolicy` applies to failed pods.
    case real(any JobBuildEngine)

    public var isSimulation: Bool { if case .simulated = self { return true }; return false }
}

/// A kwok-like Job controller and kubelet: for each Job it creates a Pod, runs it (a SIMULATION through the injected
/// `ImageBuilder`, or for real through a `JobBuildEngine`), then records the container states, their logs and the
/// Job's conditions (SuccessCriteriaMet → Complete, or FailureTarget → Failed with BackoffLimitExceeded /
/// DeadlineExceeded / PodFailurePolicy). Honours `backoffLimit`, `activeDeadlineSeconds`, `ttlSecondsAfterFinished`
/// and (real mode) `podFailurePolicy`. In simulated mode everything it writes is labelled `mir.dev/simulated: "true"`
/// and every container log says SIMULATION. A builder error of type `SimulatedContainerTermination` ends the pod
/// with that container state; any other error ends every app container with exit code 1 and the error as its message.
actor JobRunner {
    private let state: ClusterState
    private let mode: JobRunnerMode
    private let logs: PodLogStore
    private let configuration: JobRunnerConfiguration
    private var running: [String: Task<Void, Never>] = [:]
    private var watchTask: Task<Void, Never>?
    private var watchID: UUID?

    init(state: ClusterState, mode: JobRunnerMode, logs: PodLogStore, configuration: JobRunnerConfiguration) {
        self.state = state
        self.mode = mode
        self.logs = logs
        self.configuration = configuration
    }

    func start() async throws {
        let registration = try await state.watch(BuiltinResources.jobs, fromResourceVersion: nil)
        watchID = registration.id
        for job in registration.initial { consider(job.object) }
        watchTask = Task {
            for await signal in registration.stream {
                guard case .event(let event) = signal else { continue }
                self.handle(event)
            }
        }
    }

    func stop() async {
        if let watchID { await state.stopWatch(watchID) }
        watchTask?.cancel()
        for (_, task) in running { task.cancel() }
        for (_, task) in running { await task.value }
        running = [:]
    }

    private func handle(_ event: WatchEvent) {
        let job = event.object
        let uid = job["metadata"]?["uid"]?.stringValue ?? ""
        if event.type == "DELETED" {
            running[uid]?.cancel()
            running[uid] = nil
            removeLogs(job: job)
        } else {
            consider(job)
        }
    }

    /// A deleted Job's pods go with it (garbage collection), and so do their logs: pods named `<job>-<5 characters>`.
    private func removeLogs(job: JSONValue) {
        guard let name = job["metadata"]?["name"]?.stringValue else { return }
        let namespace = job["metadata"]?["namespace"]?.stringValue ?? "default"
        let folder = logs.directory.appendingPathComponent(namespace)
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        where entry.count == name.count + 6 && entry.hasPrefix(name + "-") {
            logs.remove(namespace: namespace, pod: entry)
        }
    }

    private func consider(_ job: JSONValue) {
        guard let uid = job["metadata"]?["uid"]?.stringValue, running[uid] == nil,
              job["status"]?["startTime"] == nil, job["metadata"]?["deletionTimestamp"] == nil,
              job["spec"]?["suspend"]?.boolValue != true else { return }
        let state = self.state, mode = self.mode, logs = self.logs, configuration = self.configuration
        running[uid] = Task {
            await SimulatedJob(state: state, mode: mode, logs: logs, configuration: configuration, job: job).run()
        }
    }
}

/// One Job's life (simulated or real, by `mode`).
private struct SimulatedJob {
    let state: ClusterState
    let mode: JobRunnerMode
    let logs: PodLogStore
    let configuration: JobRunnerConfiguration
    let job: JSONValue

    var name: String { job["metadata"]?["name"]?.stringValue ?? "" }
    var namespace: String { job["metadata"]?["namespace"]?.stringValue ?? "default" }
    var uid: String { job["metadata"]?["uid"]?.stringValue ?? "" }

    fileprivate enum Outcome: Sendable {
        case succeeded(String)
        case failed(String)
        case terminated(SimulatedContainerTermination)
        case deadlineExceeded
        /// Real mode: a failed pod the podFailurePolicy sends to FailJob (the message) or ignores.
        case failJob(String)
        case ignored
    }

    func run() async {
        let started = Date()
        let startTime = JSONValue.string(KubeTime.format(started))
        await state.systemUpdateStatus(BuiltinResources.jobs, namespace: namespace, name: name) { status in
            status.set(["startTime"], startTime)
            status.set(["active"], .number(1))
            status.set(["ready"], .number(0))
        }
        let backoffLimit = job["spec"]?["backoffLimit"]?.intValue ?? 6
        let deadline = job["spec"]?["activeDeadlineSeconds"]?.numberValue.map { started.addingTimeInterval($0) }
        var failures = 0
        var delay = configuration.backoffBase
        while !Task.isCancelled {
            guard let podName = await createPod() else { return }
            let outcome = await runBuild(podName: podName, deadline: deadline)
            if Task.isCancelled { return }
            switch outcome {
            case .succeeded:
                await finish(success: true, reason: "CompletionsReached", message: "Reached expected number of succeeded pods",
                             failures: failures)
                await expireAfterTTL()
                return
            case .deadlineExceeded:
                await finish(success: false, reason: "DeadlineExceeded", message: "Job was active longer than specified deadline",
                             failures: failures + 1)
                await expireAfterTTL()
                return
            case .failJob(let message):
                await finish(success: false, reason: "PodFailurePolicy", message: message, failures: failures + 1)
                await expireAfterTTL()
                return
            case .ignored:
                continue
            case .failed, .terminated:
                failures += 1
                if failures > backoffLimit {
                    await finish(success: false, reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit",
                                 failures: failures)
                    await expireAfterTTL()
                    return
                }
                let failedCount = failures
                await state.systemUpdateStatus(BuiltinResources.jobs, namespace: namespace, name: name) { status in
                    status.set(["failed"], .number(Double(failedCount)))
                }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, configuration.backoffCap)
                if let deadline, Date() >= deadline {
                    await finish(success: false, reason: "DeadlineExceeded", message: "Job was active longer than specified deadline",
                                 failures: failures)
                    await expireAfterTTL()
                    return
                }
            }
        }
    }

    private func createPod() async -> String? {
        let template = job["spec"]?["template"] ?? .object([:])
        var pod: JSONValue = .object([:])
        pod.set(["apiVersion"], .string("v1"))
        pod.set(["kind"], .string("Pod"))
        pod.set(["metadata", "generateName"], .string("\(name)-"))
        pod.set(["metadata", "namespace"], .string(namespace))
        var labels = template["metadata"]?["labels"]?.objectValue ?? [:]
        labels["batch.kubernetes.io/job-name"] = .string(name)
        labels["job-name"] = .string(name)
        labels["batch.kubernetes.io/controller-uid"] = .string(uid)
        labels["controller-uid"] = .string(uid)
        if mode.isSimulation { labels[JobBuildAnnotations.simulated] = .string("true") }
        pod.set(["metadata", "labels"], .object(labels))
        pod.set(["metadata", "annotations"], template["metadata"]?["annotations"])
        pod.set(["metadata", "ownerReferences"], .array([.object([
            "apiVersion": .string("batch/v1"), "kind": .string("Job"), "name": .string(name), "uid": .string(uid),
            "controller": .bool(true), "blockOwnerDeletion": .bool(true),
        ])]))
        pod.set(["spec"], template["spec"] ?? .object([:]))
        let now = JSONValue.string(KubeTime.format(Date()))
        let containers = template["spec"]?["containers"]?.arrayValue ?? []
        if mode.isSimulation {
            pod.set(["status"], .object([
                "phase": .string("Running"), "startTime": now,
                "containerStatuses": .array(containers.map { c in
                    .object(["name": c["name"] ?? .string("build"), "image": c["image"] ?? .string(""), "ready": .bool(true),
                             "restartCount": .number(0), "started": .bool(true),
                             "state": .object(["running": .object(["startedAt": now])])])
                }),
            ]))
        } else {
            pod.set(["status"], RealPodRun.initialStatus(job: job, at: now))
        }
        guard let created = try? await state.systemCreate(BuiltinResources.pods, pod),
              let podName = created["metadata"]?["name"]?.stringValue else { return nil }
        await recordEvent(reason: "SuccessfulCreate", message: "Created pod: \(podName)", type: "Normal")
        return podName
    }

    private func runBuild(podName: String, deadline: Date?) async -> Outcome {
        guard case .simulated(let builder) = mode else { return await runRealPod(podName: podName, deadline: deadline) }
        let request = buildRequest()
        let outcome: Outcome = await withTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                do {
                    let record = try await builder.build(request)
                    if record.state == .failed { return .failed(Self.terminationMessage(record)) }
                    return .succeeded(Self.terminationMessage(record))
                } catch let termination as SimulatedContainerTermination {
                    return .terminated(termination)
                } catch {
                    return .failed(String("\(error)".prefix(4096)))
                }
            }
            if let deadline {
                group.addTask {
                    try? await Task.sleep(for: .seconds(max(0, deadline.timeIntervalSinceNow)))
                    return Task.isCancelled ? nil : .deadlineExceeded
                }
            }
            var first: Outcome = .failed("cancelled")
            for await result in group {
                if let result { first = result; break }
            }
            group.cancelAll()
            return first
        }
        writeSimulatedLogs(podName: podName, outcome: outcome, request: request)
        let finished = JSONValue.string(KubeTime.format(Date()))
        let termination: (exitCode: Int, reason: String, message: String, phase: String)
        switch outcome {
        case .failJob, .ignored: return outcome
        case .succeeded(let m): termination = (0, "Completed", m, "Succeeded")
        case .failed(let m): termination = (1, "Error", m, "Failed")
        case .deadlineExceeded: termination = (137, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline", "Failed")
        case .terminated(let ending):
            let template = job["spec"]?["template"]?["spec"]
            let statuses = Self.containerStatuses(ending: ending, initContainers: template?["initContainers"]?.arrayValue ?? [],
                                                  containers: template?["containers"]?.arrayValue ?? [], at: finished)
            await state.systemUpdateStatus(BuiltinResources.pods, namespace: namespace, name: podName) { status in
                status.set(["phase"], .string("Failed"))
                status.set(["initContainerStatuses"], .array(statuses.initContainers))
                status.set(["containerStatuses"], .array(statuses.containers))
            }
            return outcome
        }
        let (exitCode, reason, message, phase) = termination
        await state.systemUpdateStatus(BuiltinResources.pods, namespace: namespace, name: podName) { status in
            status.set(["phase"], .string(phase))
            let statuses = (status["containerStatuses"]?.arrayValue ?? []).map { c -> JSONValue in
                var c = c
                let startedAt = c["state"]?["running"]?["startedAt"] ?? finished
                c.set(["ready"], .bool(false))
                c.set(["started"], .bool(false))
                c.set(["state"], .object(["terminated": .object([
                    "exitCode": .number(Double(exitCode)), "reason": .string(reason), "message": .string(message),
                    "startedAt": startedAt, "finishedAt": finished,
                ])]))
                return c
            }
            status.set(["containerStatuses"], .array(statuses))
        }
        return outcome
    }

    /// The pod's container statuses when `termination` ended it (see `SimulatedContainerTermination`). A name the
    /// template does not have is reported as an extra app container.
    static func containerStatuses(ending termination: SimulatedContainerTermination, initContainers: [JSONValue],
                                  containers: [JSONValue], at finished: JSONValue) -> (initContainers: [JSONValue], containers: [JSONValue]) {
        func status(_ container: JSONValue, _ state: JSONValue) -> JSONValue {
            .object(["name": container["name"] ?? .string(""), "image": container["image"] ?? .string(""), "ready": .bool(false),
                     "restartCount": .number(0), "started": .bool(false), "state": state])
        }
        func terminated(_ exitCode: Int, _ reason: String, _ message: String) -> JSONValue {
            var fields: [String: JSONValue] = ["exitCode": .number(Double(exitCode)), "reason": .string(reason),
                                               "startedAt": finished, "finishedAt": finished]
            if !message.isEmpty { fields["message"] = .string(message) }
            return .object(["terminated": .object(fields)])
        }
        let ended = terminated(termination.exitCode, termination.reason, termination.message)
        let completed = terminated(0, "Completed", "")
        let notStarted: JSONValue = .object(["waiting": .object(["reason": .string("PodInitializing")])])
        let named = { (c: JSONValue) in c["name"]?.stringValue == termination.container }
        if let failing = initContainers.firstIndex(where: named) {
            return (initContainers.enumerated().map { i, c in status(c, i < failing ? completed : i == failing ? ended : notStarted) },
                    containers.map { status($0, notStarted) })
        }
        var app = containers.map { status($0, named($0) ? ended : completed) }
        if !containers.contains(where: named) { app.append(status(.object(["name": .string(termination.container)]), ended)) }
        return (initContainers.map { status($0, completed) }, app)
    }

    /// The termination message of a simulated build: for a success, the build report as a real `report` container
    /// writes it (within the kubelet's 4096-byte limit, saying `truncated` with the total when the list is cut); for a
    /// failure, the record as JSON (cut to 4096 bytes, as the kubelet cuts any message).
    static func terminationMessage(_ record: BuildRecord) -> String {
        if record.state == .succeeded { return BuildReport.encode(libraries: record.pipLibraries, limit: BuildReport.maxMessageBytes) }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        let text = (try? encoder.encode(record)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return String(decoding: Array(text.utf8.prefix(4096)), as: UTF8.self)
    }

    private func finish(success: Bool, reason: String, message: String, failures: Int) async {
        let now = JSONValue.string(KubeTime.format(Date()))
        func condition(_ type: String) -> JSONValue {
            .object(["type": .string(type), "status": .string("True"), "reason": .string(reason), "message": .string(message),
                     "lastProbeTime": now, "lastTransitionTime": now])
        }
        let early = condition(success ? "SuccessCriteriaMet" : "FailureTarget")
        let final = condition(success ? "Complete" : "Failed")
        await state.systemUpdateStatus(BuiltinResources.jobs, namespace: namespace, name: name) { status in
            status.set(["conditions"], .array((status["conditions"]?.arrayValue ?? []) + [early]))
            if success { status.set(["succeeded"], .number(1)) }
            if failures > 0 { status.set(["failed"], .number(Double(failures))) }
        }
        await state.systemUpdateStatus(BuiltinResources.jobs, namespace: namespace, name: name) { status in
            status.set(["conditions"], .array((status["conditions"]?.arrayValue ?? []) + [final]))
            status.set(["active"], .number(0))
            status.set(["ready"], .number(0))
            if success { status.set(["completionTime"], now) }
        }
        await recordEvent(reason: success ? "Completed" : reason, message: success ? "Job completed" : message,
                          type: success ? "Normal" : "Warning")
    }

    private func expireAfterTTL() async {
        guard let ttl = job["spec"]?["ttlSecondsAfterFinished"]?.numberValue else { return }
        try? await Task.sleep(for: .seconds(ttl))
        if Task.isCancelled { return }
        await state.systemDelete(BuiltinResources.jobs, namespace: namespace, name: name)
    }

    private func recordEvent(reason: String, message: String, type: String) async {
        let now = Date()
        let event: JSONValue = .object([
            "apiVersion": .string("v1"), "kind": .string("Event"),
            "metadata": .object(["name": .string("\(name).\(String(UInt64(now.timeIntervalSince1970 * 1e9), radix: 16))"),
                                 "namespace": .string(namespace)]),
            "involvedObject": .object(["apiVersion": .string("batch/v1"), "kind": .string("Job"), "name": .string(name),
                                       "namespace": .string(namespace), "uid": .string(uid)]),
            "reason": .string(reason), "message": .string(message), "type": .string(type),
            "source": .object(["component": .string("mir-simulated-job-controller")]),
            "reportingComponent": .string("mir-simulated-job-controller"),
            "firstTimestamp": .string(KubeTime.format(now)), "lastTimestamp": .string(KubeTime.format(now)), "count": .number(1),
        ])
        _ = try? await state.systemCreate(BuiltinResources.events, event)
    }

    /// The build request from the Job's annotations (see `JobBuildAnnotations`).
    private func buildRequest() -> BuildRequest {
        let annotations = job["metadata"]?["annotations"]?.objectValue ?? [:]
        let labels = job["metadata"]?["labels"]?.objectValue ?? [:]
        func value(_ key: String) -> String? { annotations[key]?.stringValue }
        let imageName = value(JobBuildAnnotations.image) ?? labels[JobBuildAnnotations.image]?.stringValue ?? name
        var spec = ManagedImageSpec(base: .imageType("simulated"), pythonVersion: "3.12")
        if let text = value(JobBuildAnnotations.spec), let decoded = try? JSONDecoder().decode(ManagedImageSpec.self, from: Data(text.utf8)) {
            spec = decoded
        }
        let python = value(JobBuildAnnotations.pythonVersion) ?? spec.pythonVersion ?? "3.12"
        let repositoryName = value(JobBuildAnnotations.repositoryName) ?? imageName
        let repositoryURI = value(JobBuildAnnotations.repositoryURI) ?? "localhost/\(repositoryName)"
        let base = value(JobBuildAnnotations.baseImage) ?? "public.ecr.aws/docker/library/python:\(python)"
        let tag = value(JobBuildAnnotations.tag) ?? "simulated"
        let resolved = ResolvedImage(image: ManagedImage(name: imageName, spec: spec), repositoryName: repositoryName,
                                     pythonVersion: python, packageType: .apt, base: .reference(base),
                                     specDigest: value(JobBuildAnnotations.specDigest) ?? "", tag: tag,
                                     lifecyclePolicy: spec.lifecyclePolicy ?? .object([:]))
        return BuildRequest(image: resolved, reason: value(JobBuildAnnotations.reason).flatMap(BuildReason.init(rawValue:)) ?? .manual,
                            repositoryURI: repositoryURI, baseImageReference: base,
                            platformVersion: value(JobBuildAnnotations.platformVersion) ?? "simulated")
    }
}

extension SimulatedJob {
    /// Real mode: the pod run by `RealPodRun`, raced against the Job's deadline; a failed pod goes through the
    /// Job's `podFailurePolicy`.
    fileprivate func runRealPod(podName: String, deadline: Date?) async -> Outcome {
        guard case .real(let engine) = mode else { return .failed("no build engine") }
        let run = RealPodRun(state: state, engine: engine, logs: logs, job: job, namespace: namespace, podName: podName)
        enum Race: Sendable { case ended(JSONValue?), deadline }
        let raced: Race = await withTaskGroup(of: Race?.self) { group in
            group.addTask { .ended(await run.run()) }
            if let deadline {
                group.addTask {
                    try? await Task.sleep(for: .seconds(max(0, deadline.timeIntervalSinceNow)))
                    return Task.isCancelled ? nil : .deadline
                }
            }
            var first: Race = .ended(nil)
            for await result in group {
                if let result { first = result; break }
            }
            group.cancelAll()
            return first
        }
        switch raced {
        case .deadline:
            await state.systemUpdateStatus(BuiltinResources.pods, namespace: namespace, name: podName) { status in
                status.set(["phase"], .string("Failed"))
                status.set(["reason"], .string("DeadlineExceeded"))
                status.set(["message"], .string("Pod was active on the node longer than the specified deadline"))
            }
            return .deadlineExceeded
        case .ended(nil):
            return .failed("the pod is gone")
        case .ended(let pod?):
            if pod["status"]?["phase"]?.stringValue == "Succeeded" { return .succeeded("") }
            switch PodFailurePolicy.evaluate(job["spec"]?["podFailurePolicy"], pod: pod) {
            case .failJob(let message): return .failJob(message)
            case .ignore: return .ignored
            case .count: return .failed("")
            }
        }
    }

    /// Simulated mode: every container's log says that it is a SIMULATION and what was simulated.
    fileprivate func writeSimulatedLogs(podName: String, outcome: Outcome, request: BuildRequest) {
        let template = job["spec"]?["template"]?["spec"]
        let names = ((template?["initContainers"]?.arrayValue ?? []) + (template?["containers"]?.arrayValue ?? [])).compactMap { $0["name"]?.stringValue }
        let header = "SIMULATION: mir dev's simulated job runner ran no container; the build of \(request.image.name):\(request.image.tag) was simulated (no image was built or pushed).\n"
        let detail: String
        switch outcome {
        case .succeeded(let message):
            if let report = try? BuildReport.decode(terminationMessage: message) {
                detail = "simulated pip list:\n" + report.libraries.map { "\($0.name)==\($0.version)\n" }.joined()
            } else {
                detail = "simulated build succeeded\n"
            }
        case .failed(let message): detail = "simulated build failed: \(message)\n"
        case .terminated(let ending): detail = "simulated container ending: \(ending)\n"
        case .deadlineExceeded: detail = "simulated build ran past the Job's deadline\n"
        case .failJob(let message): detail = "\(message)\n"
        case .ignored: detail = ""
        }
        for name in names { logs.write(namespace: namespace, pod: podName, container: name, header + detail) }
    }
}

/// A stand-in builder for `mir dev` until the real `simulate` builder is wired: every build succeeds at once
/// and its record says it is a simulation.
public struct InstantSimulationBuilder: ImageBuilder {
    public let name = "simulate"
    public let isSimulation = true

    public init() {}

    public func build(_ request: BuildRequest) async throws -> BuildRecord {
        let now = Date()
        return BuildRecord(image: request.image.name, tag: request.image.tag, state: .succeeded, reason: request.reason.rawValue,
                           specDigest: request.image.specDigest, platformVersion: request.platformVersion,
                           parentTag: request.image.parentTag, pythonVersion: request.image.pythonVersion,
                           pipLibraries: request.image.image.spec.pipRequirements.map { PipLibrary(name: $0.name, version: "0.0.0+simulated") },
                           builder: name, simulated: true, startedAt: now, finishedAt: now,
                           message: "simulated build of \(request.image.name):\(request.image.tag)")
    }
}
