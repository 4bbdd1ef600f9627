import Foundation
import MirModel
import NIOHTTP1

/// Container logs of the pods the job runner runs, kept as files (`<directory>/<namespace>/<pod>/<container>.log`)
/// as a kubelet keeps them, and served through the `pods/log` subresource (`kubectl logs`).
public final class PodLogStore: Sendable {
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    /// A store in a fresh private temporary folder (for a control plane without a state directory).
    public static func temporary() -> PodLogStore {
        PodLogStore(directory: FileManager.default.temporaryDirectory.appendingPathComponent("mir-pod-logs-\(UUID().uuidString.lowercased())"))
    }

    /// Namespaces, pod and container names are DNS labels or subdomains; anything else never becomes a path.
    static func isSafeComponent(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && name.utf8.count <= 253
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
    }

    /// The log file of a container, its folder created (0700); nil for a name that is not a safe path component.
    public func prepare(namespace: String, pod: String, container: String) -> String? {
        guard [namespace, pod, container].allSatisfy(Self.isSafeComponent) else { return nil }
        let folder = directory.appendingPathComponent(namespace).appendingPathComponent(pod)
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return folder.appendingPathComponent(container + ".log").path
    }

    /// Writes (replaces) a container's whole log.
    public func write(namespace: String, pod: String, container: String, _ text: String) {
        guard let path = prepare(namespace: namespace, pod: pod, container: container) else { return }
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
    }

    /// A container's log, or nil when it has none.
    public func read(namespace: String, pod: String, container: String) -> Data? {
        guard [namespace, pod, container].allSatisfy(Self.isSafeComponent) else { return nil }
        return FileManager.default.contents(atPath: directory.appendingPathComponent(namespace).appendingPathComponent(pod)
            .appendingPathComponent(container + ".log").path)
    }

    /// Removes a pod's logs (when its Job is gone).
    public func remove(namespace: String, pod: String) {
        guard Self.isSafeComponent(namespace), Self.isSafeComponent(pod) else { return }
        try? FileManager.default.removeItem(at: directory.appendingPathComponent(namespace).appendingPathComponent(pod))
    }
}

/// The rules of `GET /api/v1/namespaces/{ns}/pods/{name}/log` (the API server's, with kubelet-side messages).
enum PodLogRequest {
    /// The container whose log is asked for: `requested`, or the pod's only app container. Errors as the API
    /// server words them.
    static func container(pod: JSONValue, requested: String?) throws(APIError) -> String {
        let name = pod["metadata"]?["name"]?.stringValue ?? ""
        let app = (pod["spec"]?["containers"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        let initial = (pod["spec"]?["initContainers"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        guard let requested, !requested.isEmpty else {
            if app.count == 1 { return app[0] }
            var message = "a container name must be specified for pod \(name), choose one of: [\(app.joined(separator: " "))]"
            if !initial.isEmpty { message += " or one of the init containers: [\(initial.joined(separator: " "))]" }
            throw APIError.badRequest(message)
        }
        guard app.contains(requested) || initial.contains(requested) else {
            throw APIError.badRequest("container \(requested) is not valid for pod \(name)")
        }
        return requested
    }

    /// Refuses a container that has not started (the kubelet's answer) and `previous` (no container restarts here).
    static func checkStarted(pod: JSONValue, container: String, previous: Bool) throws(APIError) {
        let name = pod["metadata"]?["name"]?.stringValue ?? ""
        let statuses = (pod["status"]?["containerStatuses"]?.arrayValue ?? []) + (pod["status"]?["initContainerStatuses"]?.arrayValue ?? [])
        let status = statuses.first { $0["name"]?.stringValue == container }
        if previous {
            throw APIError.badRequest("previous terminated container \"\(container)\" in pod \"\(name)\" not found")
        }
        let state = status?["state"]
        if state?["running"] != nil || state?["terminated"] != nil { return }
        let reason = state?["waiting"]?["reason"]?.stringValue ?? "ContainerCreating"
        throw APIError.badRequest("container \"\(container)\" in pod \"\(name)\" is waiting to start: \(reason)")
    }

    /// `tailLines` and `limitBytes` applied to a log.
    static func select(_ log: Data, tailLines: Int?, limitBytes: Int?) -> Data {
        var bytes = log
        if let tailLines, tailLines >= 0 {
            var lines = bytes.split(separator: 0x0a, omittingEmptySubsequences: false)
            if lines.last?.isEmpty == true { lines.removeLast() }
            let kept = lines.suffix(tailLines)
            bytes = kept.isEmpty ? Data() : Data(kept.joined(separator: [0x0a])) + Data([0x0a])
        }
        if let limitBytes, limitBytes > 0, bytes.count > limitBytes { bytes = bytes.prefix(limitBytes) }
        return bytes
    }

    static func response(_ request: APIRequest, state: ClusterState, logs: PodLogStore, namespace: String, name: String) async throws -> APIResponse {
        guard request.method == .GET else { throw APIError.methodNotAllowed() }
        let pod = try await state.get(BuiltinResources.pods, namespace: namespace, name: name)
        let container = try container(pod: pod, requested: request.query["container"])
        try checkStarted(pod: pod, container: container, previous: request.query["previous"] == "true")
        func number(_ key: String) throws(APIError) -> Int? {
            guard let text = request.query[key], !text.isEmpty else { return nil }
            guard let value = Int(text) else { throw APIError.badRequest("\(key): invalid value \"\(text)\"") }
            return value
        }
        let body = select(logs.read(namespace: namespace, pod: name, container: container) ?? Data(),
                          tailLines: try number("tailLines"), limitBytes: try number("limitBytes"))
        return .full(status: .ok, headers: ["Content-Type": "text/plain", "Cache-Control": "no-cache, private"], body: body)
    }
}
