import Foundation
import MirBuild
import MirModel

/// One kaniko build as the job runner hands it to a `JobBuildEngine`: the build context read from the ConfigMap
/// volume mounted at kaniko's context directory, the Dockerfile within it, and where to push.
public struct KanikoBuild: Sendable, Hashable {
    /// Relative path in the context → content.
    public var context: [String: Data]
    /// The Dockerfile's path relative to the context.
    public var dockerfile: String
    /// `--destination`: the image reference to push.
    public var destination: String

    public init(context: [String: Data], dockerfile: String, destination: String) {
        self.context = context
        self.dockerfile = dockerfile
        self.destination = destination
    }
}

/// How a container ended, as the engine reports it.
public struct ContainerRunResult: Sendable, Hashable {
    public var exitCode: Int
    /// What the program wrote as its termination message (kaniko's digest file; the report container's report).
    public var terminationMessage: String

    public init(exitCode: Int, terminationMessage: String) {
        self.exitCode = exitCode
        self.terminationMessage = terminationMessage
    }
}

/// The port the real job runner builds and runs containers with. KubeLocal does not know any engine: the mir CLI
/// wires in an adapter over its local build engine (buildah, podman, docker).
public protocol JobBuildEngine: Sendable {
    /// Shown in logs and the banner (e.g. `buildah`).
    var name: String { get }
    /// Builds `build` and pushes it to its destination as kaniko would. Writes everything it prints to the file at
    /// `logPath` (it creates it). The termination message is the pushed digest (`sha256:…`), kaniko's digest file.
    func build(_ build: KanikoBuild, logPath: String) async throws -> ContainerRunResult
    /// Runs `command` in `image` as the pod's container runs it (non-root, read-only root filesystem, `environment`
    /// over the image's), output to `logPath`; the termination message is what the program wrote to its
    /// termination-message file.
    func run(image: String, command: [String], environment: [(String, String)], logPath: String) async throws -> ContainerRunResult
}

/// kaniko's command line: `--dockerfile`, `--context=dir://…`, `--destination`, `--digest-file` (both `--flag=value`
/// and `--flag value`). A container whose arguments carry a destination and a Dockerfile is run as a kaniko build.
struct KanikoInvocation: Sendable, Hashable {
    var dockerfile: String
    var contextDirectory: String
    var destination: String
    var digestFile: String?

    static func parse(_ arguments: [String]) -> KanikoInvocation? {
        var values: [String: String] = [:]
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if argument.hasPrefix("--"), let eq = argument.firstIndex(of: "=") {
                values[String(argument[..<eq])] = String(argument[argument.index(after: eq)...])
            } else if argument.hasPrefix("-"), i + 1 < arguments.count {
                values[argument == "-f" ? "--dockerfile" : argument == "-c" ? "--context" : argument == "-d" ? "--destination" : argument] = arguments[i + 1]
                i += 1
            }
            i += 1
        }
        guard let destination = values["--destination"], !destination.isEmpty else { return nil }
        var context = values["--context"] ?? "dir:///workspace"
        if context.hasPrefix("dir://") { context.removeFirst("dir://".count) }
        while context.count > 1 && context.hasSuffix("/") { context.removeLast() }
        var dockerfile = values["--dockerfile"] ?? "Dockerfile"
        if !dockerfile.hasPrefix("/") { dockerfile = context + "/" + dockerfile }
        return KanikoInvocation(dockerfile: dockerfile, contextDirectory: context, destination: destination, digestFile: values["--digest-file"])
    }

    /// The Dockerfile's path relative to the context directory, or nil when it lies outside.
    var relativeDockerfile: String? {
        let prefix = contextDirectory == "/" ? "/" : contextDirectory + "/"
        guard dockerfile.hasPrefix(prefix), dockerfile.count > prefix.count else { return nil }
        return String(dockerfile.dropFirst(prefix.count))
    }
}

/// What the Job controller does with a failed pod under the Job's `podFailurePolicy` (batch/v1): the first
/// matching rule decides; without a match the failure counts against `backoffLimit`.
enum PodFailurePolicyAction: Sendable, Hashable {
    /// The Job fails at once (condition reason `PodFailurePolicy`) with this message.
    case failJob(String)
    /// The failure does not count; a new pod is made.
    case ignore
    /// Counted against `backoffLimit` (also when no rule matches).
    case count
}

enum PodFailurePolicy {
    static func evaluate(_ policy: JSONValue?, pod: JSONValue) -> PodFailurePolicyAction {
        guard let rules = policy?["rules"]?.arrayValue else { return .count }
        let namespace = pod["metadata"]?["namespace"]?.stringValue ?? "default"
        let name = pod["metadata"]?["name"]?.stringValue ?? ""
        let statuses = (pod["status"]?["containerStatuses"]?.arrayValue ?? []) + (pod["status"]?["initContainerStatuses"]?.arrayValue ?? [])
        for (index, rule) in rules.enumerated() {
            let action = rule["action"]?.stringValue ?? ""
            var matched: String?
            if let onExit = rule["onExitCodes"] {
                let container = onExit["containerName"]?.stringValue
                let values = Set((onExit["values"]?.arrayValue ?? []).compactMap(\.intValue))
                let isIn = onExit["operator"]?.stringValue == "In"
                for status in statuses {
                    guard let terminated = status["state"]?["terminated"], let code = terminated["exitCode"]?.intValue, code != 0 else { continue }
                    let containerName = status["name"]?.stringValue ?? ""
                    if let container, container != containerName { continue }
                    if values.contains(code) == isIn {
                        matched = "Container \(containerName) for pod \(namespace)/\(name) failed with exit code \(code) matching \(action) rule at index \(index)"
                        break
                    }
                }
            } else if let patterns = rule["onPodConditions"]?.arrayValue {
                let conditions = pod["status"]?["conditions"]?.arrayValue ?? []
                for pattern in patterns {
                    let type = pattern["type"]?.stringValue, status = pattern["status"]?.stringValue ?? "True"
                    if conditions.contains(where: { $0["type"]?.stringValue == type && $0["status"]?.stringValue == status }) {
                        matched = "Pod \(namespace)/\(name) has condition \(type ?? "") matching \(action) rule at index \(index)"
                        break
                    }
                }
            }
            guard let matched else { continue }
            switch action {
            case "FailJob": return .failJob(matched)
            case "Ignore": return .ignore
            default: return .count
            }
        }
        return .count
    }
}

/// The kubelet's termination message: the program's, or (policy `FallbackToLogsOnError`, a failed container with
/// none) the log's last 80 lines within 2048 bytes; at most 4096 bytes.
enum TerminationMessage {
    static func make(written: String, exitCode: Int, policy: String?, log: Data?) -> String {
        var message = written
        if message.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, exitCode != 0, policy == "FallbackToLogsOnError", let log {
            var lines = log.split(separator: 0x0a, omittingEmptySubsequences: false)
            if lines.last?.isEmpty == true { lines.removeLast() }
            var tail = Data(lines.suffix(80).joined(separator: [0x0a]))
            if tail.count > 2048 { tail = tail.suffix(2048) }
            message = String(decoding: tail, as: UTF8.self)
        }
        let bytes = Array(message.utf8)
        return bytes.count <= BuildReport.maxMessageBytes ? message : String(decoding: bytes.prefix(BuildReport.maxMessageBytes), as: UTF8.self)
    }
}

/// One pod of a Job run for real: the init containers in order (a kaniko container is built and pushed by the
/// engine), then the app containers (their command in their image), with the pod's container states, phase and
/// termination messages written as the kubelet writes them.
struct RealPodRun {
    let state: ClusterState
    let engine: any JobBuildEngine
    let logs: PodLogStore
    let job: JSONValue
    let namespace: String
    let podName: String

    /// The pod as it ended (nil: cancelled or gone).
    func run() async -> JSONValue? {
        let spec = job["spec"]?["template"]?["spec"] ?? .object([:])
        let initContainers = spec["initContainers"]?.arrayValue ?? []
        let containers = spec["containers"]?.arrayValue ?? []
        for container in initContainers {
            guard let result = await execute(container, isInit: true, spec: spec) else { return nil }
            if result.exitCode != 0 { return await setPhase("Failed") }
        }
        await setPhase("Running")
        var failed = false
        for container in containers {
            guard let result = await execute(container, isInit: false, spec: spec) else { return nil }
            if result.exitCode != 0 { failed = true }
        }
        return await setPhase(failed ? "Failed" : "Succeeded")
    }

    /// The pod's status when it is created: every container waiting (PodInitializing when init containers come first).
    static func initialStatus(job: JSONValue, at now: JSONValue) -> JSONValue {
        let spec = job["spec"]?["template"]?["spec"]
        let initContainers = spec?["initContainers"]?.arrayValue ?? []
        let containers = spec?["containers"]?.arrayValue ?? []
        func waiting(_ c: JSONValue, _ reason: String) -> JSONValue {
            .object(["name": c["name"] ?? .string(""), "image": c["image"] ?? .string(""), "ready": .bool(false),
                     "restartCount": .number(0), "started": .bool(false),
                     "state": .object(["waiting": .object(["reason": .string(reason)])])])
        }
        var status: [String: JSONValue] = [
            "phase": .string("Pending"), "startTime": now,
            "containerStatuses": .array(containers.map { waiting($0, initContainers.isEmpty ? "ContainerCreating" : "PodInitializing") }),
        ]
        if !initContainers.isEmpty { status["initContainerStatuses"] = .array(initContainers.map { waiting($0, "PodInitializing") }) }
        return .object(status)
    }

    private func execute(_ container: JSONValue, isInit: Bool, spec: JSONValue) async -> ContainerRunResult? {
        let name = container["name"]?.stringValue ?? ""
        let started = JSONValue.string(KubeTime.format(Date()))
        await setContainer(name, isInit: isInit, ready: !isInit, state: .object(["running": .object(["startedAt": started])]))
        let logPath = logs.prepare(namespace: namespace, pod: podName, container: name)
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("mir-container-\(UUID().uuidString).log").path
        var reason: String?
        let result: ContainerRunResult
        do {
            result = try await run(container, spec: spec, logPath: logPath)
        } catch {
            if Task.isCancelled { return nil }
            // As the kubelet reports a container that could not be started.
            result = ContainerRunResult(exitCode: 128, terminationMessage: "\(error)")
            reason = "StartError"
        }
        if Task.isCancelled { return nil }
        let message = TerminationMessage.make(written: result.terminationMessage, exitCode: result.exitCode,
                                              policy: container["terminationMessagePolicy"]?.stringValue,
                                              log: FileManager.default.contents(atPath: logPath))
        var terminated: [String: JSONValue] = [
            "exitCode": .number(Double(result.exitCode)), "reason": .string(reason ?? (result.exitCode == 0 ? "Completed" : "Error")),
            "startedAt": started, "finishedAt": .string(KubeTime.format(Date())),
        ]
        if !message.isEmpty { terminated["message"] = .string(message) }
        await setContainer(name, isInit: isInit, ready: false, state: .object(["terminated": .object(terminated)]))
        return result
    }

    private func run(_ container: JSONValue, spec: JSONValue, logPath: String) async throws -> ContainerRunResult {
        let arguments = (container["command"]?.arrayValue ?? []).compactMap(\.stringValue) + (container["args"]?.arrayValue ?? []).compactMap(\.stringValue)
        if let kaniko = KanikoInvocation.parse(arguments) {
            let build = try await kanikoBuild(kaniko, container: container, spec: spec)
            let result = try await engine.build(build, logPath: logPath)
            // kaniko writes the digest to --digest-file; it is the termination message when that is the message file.
            let messagePath = container["terminationMessagePath"]?.stringValue ?? "/dev/termination-log"
            return ContainerRunResult(exitCode: result.exitCode,
                                      terminationMessage: kaniko.digestFile == messagePath && result.exitCode == 0 ? result.terminationMessage : "")
        }
        let environment: [(String, String)] = (container["env"]?.arrayValue ?? []).compactMap { entry in
            guard let key = entry["name"]?.stringValue, let value = entry["value"]?.stringValue else { return nil }
            return (key, value)
        }
        return try await engine.run(image: container["image"]?.stringValue ?? "", command: arguments, environment: environment, logPath: logPath)
    }

    /// The build context: the ConfigMap volume mounted at kaniko's context directory (its `items`, or every key).
    private func kanikoBuild(_ kaniko: KanikoInvocation, container: JSONValue, spec: JSONValue) async throws -> KanikoBuild {
        guard let dockerfile = kaniko.relativeDockerfile else {
            throw RealJobError("kaniko: the Dockerfile \(kaniko.dockerfile) is not inside the context \(kaniko.contextDirectory)")
        }
        let mount = (container["volumeMounts"]?.arrayValue ?? []).first { $0["mountPath"]?.stringValue == kaniko.contextDirectory }
        guard let volumeName = mount?["name"]?.stringValue,
              let volume = (spec["volumes"]?.arrayValue ?? []).first(where: { $0["name"]?.stringValue == volumeName }),
              let mapName = volume["configMap"]?["name"]?.stringValue else {
            throw RealJobError("kaniko: no ConfigMap volume is mounted at the context directory \(kaniko.contextDirectory)")
        }
        let configMap: JSONValue
        do {
            configMap = try await state.get(BuiltinResources.configMaps, namespace: namespace, name: mapName)
        } catch {
            throw RealJobError("MountVolume.SetUp failed for volume \"\(volumeName)\": configmap \"\(mapName)\" not found")
        }
        let data = configMap["data"]?.objectValue ?? [:]
        var files: [String: Data] = [:]
        if let items = volume["configMap"]?["items"]?.arrayValue {
            for item in items {
                guard let key = item["key"]?.stringValue, let path = item["path"]?.stringValue else { continue }
                guard let value = data[key]?.stringValue else {
                    throw RealJobError("MountVolume.SetUp failed for volume \"\(volumeName)\": configmap references non-existent config key: \(key)")
                }
                files[path] = Data(value.utf8)
            }
        } else {
            for (key, value) in data { if let text = value.stringValue { files[key] = Data(text.utf8) } }
        }
        for path in files.keys where path.hasPrefix("/") || path.split(separator: "/").contains("..") {
            throw RealJobError("configmap item path \(path) must be relative and must not contain '..'")
        }
        return KanikoBuild(context: files, dockerfile: dockerfile, destination: kaniko.destination)
    }

    @discardableResult
    private func setPhase(_ phase: String) async -> JSONValue? {
        await state.systemUpdateStatus(BuiltinResources.pods, namespace: namespace, name: podName) { status in
            status.set(["phase"], .string(phase))
        }
    }

    private func setContainer(_ name: String, isInit: Bool, ready: Bool, state newState: JSONValue) async {
        let key = isInit ? "initContainerStatuses" : "containerStatuses"
        let isRunning = newState["running"] != nil
        await state.systemUpdateStatus(BuiltinResources.pods, namespace: namespace, name: podName) { status in
            let statuses = (status[key]?.arrayValue ?? []).map { entry -> JSONValue in
                guard entry["name"]?.stringValue == name else { return entry }
                var changed = entry
                changed.set(["state"], newState)
                changed.set(["ready"], .bool(ready && isRunning))
                changed.set(["started"], .bool(isRunning))
                return changed
            }
            status.set([key], .array(statuses))
        }
    }
}

struct RealJobError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
