import AsyncHTTPClient
import Foundation
import KubeLocal
import MirBuild
import MirModel
import MirTestSupport
import NIOCore
import NIOHTTP1
import Testing

/// The repository's CRD manifest (the single source of the ManagedImage schema).
let crdManifestURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Manifests/crd/mir.dev_managedimages.yaml")

func temporaryDirectory(_ label: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kubelocal-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A fake builder: succeeds, or fails with a message (or with a container termination), after an optional delay;
/// counts its builds.
actor FakeBuilderLog {
    var requests: [BuildRequest] = []
    func add(_ r: BuildRequest) { requests.append(r) }
}

struct FakeBuilder: ImageBuilder {
    let name = "fake"
    let isSimulation = true
    var fail = false
    var termination: SimulatedContainerTermination?
    var delay: Duration = .zero
    let log = FakeBuilderLog()

    struct Failure: Error, CustomStringConvertible { var description: String { "fake build failed" } }

    func build(_ request: BuildRequest) async throws -> BuildRecord {
        await log.add(request)
        if delay > .zero { try await Task.sleep(for: delay) }
        if fail { throw Failure() }
        if let termination { throw termination }
        return BuildRecord(image: request.image.name, tag: request.image.tag, state: .succeeded, reason: request.reason.rawValue,
                           specDigest: "d", platformVersion: request.platformVersion, parentTag: nil,
                           pythonVersion: request.image.pythonVersion, pipLibraries: [PipLibrary(name: "requests", version: "2.32.3")],
                           builder: name, simulated: true, startedAt: Date(), finishedAt: Date(), message: "ok")
    }
}

struct HTTPResult {
    var status: Int
    var headers: HTTPHeaders
    var body: Data
    var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]) ?? [:] }
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A control plane with a plain-HTTP listener and a small JSON client for it.
final class TestCluster: @unchecked Sendable {
    let running: RunningControlPlane
    let client: HTTPClient
    let base: String

    init(builder: (any ImageBuilder)? = nil, jobEngine: (any JobBuildEngine)? = nil, historyLimit: Int = 5000, stateDirectory: URL? = nil,
         jobRunner: JobRunnerConfiguration = JobRunnerConfiguration(backoffBase: .milliseconds(10))) async throws {
        var configuration = ControlPlaneConfiguration(
            stateDirectory: stateDirectory, insecurePort: 0, builder: builder, jobRunner: jobRunner, watchHistoryLimit: historyLimit,
            bookmarkInterval: .milliseconds(300))
        configuration.jobEngine = jobEngine
        running = try await LocalControlPlane().start(configuration)
        client = HTTPClient(eventLoopGroupProvider: .singleton)
        base = running.insecureURL!.absoluteString
    }

    func installCRD() async throws {
        try await running.apply(yaml: String(contentsOf: crdManifestURL, encoding: .utf8))
    }

    func stop() async {
        try? await client.shutdown()
        await running.shutdown()
    }

    @discardableResult
    func call(_ method: HTTPMethod, _ path: String, json: Any? = nil, contentType: String = "application/json",
              accept: String = "application/json") async throws -> HTTPResult {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "Accept", value: accept)
        if let json {
            let data = try (json as? String).map { Data($0.utf8) } ?? JSONSerialization.data(withJSONObject: json)
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: data))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        var body = try await response.body.collect(upTo: 10 << 20)
        return HTTPResult(status: Int(response.status.code), headers: response.headers, body: Data(body.readBytes(length: body.readableBytes) ?? []))
    }

    /// Reads a watch stream until `count` events arrived or `timeout` passed; `action` runs once the stream is open.
    func watch(_ path: String, count: Int, timeout: Duration = .seconds(10), accept: String = "application/json",
               during action: (@Sendable () async throws -> Void)? = nil) async throws -> [[String: Any]] {
        var request = HTTPClientRequest(url: base + path)
        request.headers.add(name: "Accept", value: accept)
        let response = try await client.execute(request, timeout: .seconds(30))
        let collector = Task { () -> [Data] in
            var lines: [Data] = []
            var buffer = Data()
            do {
                for try await chunk in response.body {
                    buffer.append(contentsOf: chunk.readableBytesView)
                    while let newline = buffer.firstIndex(of: 0x0A) {
                        lines.append(Data(buffer[buffer.startIndex..<newline]))
                        buffer = Data(buffer[(newline + 1)...])
                        if lines.count >= count { return lines }
                    }
                }
            } catch {}
            return lines
        }
        if let action { try await action() }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            collector.cancel()
        }
        let lines = await collector.value
        timer.cancel()
        return lines.compactMap { (try? JSONSerialization.jsonObject(with: $0)) as? [String: Any] }
    }
}

/// Runs `body` with a cluster and always stops it.
func withCluster<T>(builder: (any ImageBuilder)? = nil, historyLimit: Int = 5000, crd: Bool = true,
                    _ body: (TestCluster) async throws -> T) async throws -> T {
    let cluster = try await TestCluster(builder: builder, historyLimit: historyLimit)
    do {
        if crd { try await cluster.installCRD() }
        let result = try await body(cluster)
        await cluster.stop()
        return result
    } catch {
        await cluster.stop()
        throw error
    }
}

/// A local control plane with a kubeconfig for the real kubectl, in a fresh temporary directory.
struct KubectlCluster {
    var kubectl: Kubectl
    var dir: URL
    var running: RunningControlPlane
}

/// Runs `body` against a local control plane driven by the real kubectl (a missing kubectl is a recorded issue), and
/// always shuts it down; a failure inside `body` is recorded as the session's failure. `configure` adjusts the
/// configuration (builder, job runner); `crd` installs the ManagedImage CRD first.
func withKubectlCluster(_ name: String, crd: Bool = false, configure: (inout ControlPlaneConfiguration) -> Void = { _ in },
                        _ body: (KubectlCluster) async throws -> Void) async throws {
    guard Kubectl.executable != nil else {
        Issue.record("kubectl is not installed; run scripts/setup")
        return
    }
    let dir = try temporaryDirectory(name)
    defer { try? FileManager.default.removeItem(at: dir) }
    let kubeconfig = dir.appendingPathComponent("kubeconfig")
    var configuration = ControlPlaneConfiguration(stateDirectory: dir.appendingPathComponent("state"), insecurePort: 0,
                                                  kubeconfigPath: kubeconfig)
    configure(&configuration)
    let running = try await LocalControlPlane().start(configuration)
    do {
        if crd { try await running.apply(yaml: String(contentsOf: crdManifestURL, encoding: .utf8)) }
        try await body(KubectlCluster(kubectl: Kubectl(kubeconfig: kubeconfig, home: dir), dir: dir, running: running))
    } catch {
        Issue.record("session failed: \(error)")
    }
    await running.shutdown()
}

func managedImage(_ name: String, python: String = "3.12", extraSpec: [String: Any] = [:]) -> [String: Any] {
    var spec: [String: Any] = ["base": ["imageType": "amazonlinux2023"], "pythonVersion": python,
                               "pipRequirements": [["name": "requests", "versionSpecifier": ">=2.31"]]]
    for (k, v) in extraSpec { spec[k] = v }
    return ["apiVersion": "mir.dev/v1alpha1", "kind": "ManagedImage", "metadata": ["name": name], "spec": spec]
}

extension Dictionary where Key == String, Value == Any {
    func at(_ path: String...) -> Any? {
        var current: Any? = self
        for key in path {
            if let index = Int(key), let array = current as? [Any] { current = array.indices.contains(index) ? array[index] : nil }
            else { current = (current as? [String: Any])?[key] }
        }
        return current
    }
}

/// An AsyncHTTPClient with the JSON helpers the tests use.
final class HTTPClientBox: Sendable {
    let client = HTTPClient(eventLoopGroupProvider: .singleton)

    func shutdown() async { try? await client.shutdown() }

    func call(_ method: HTTPMethod, _ url: String, body: Any? = nil, contentType: String = "application/json") async throws -> HTTPResult {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        var buffer = try await response.body.collect(upTo: 10 << 20)
        return HTTPResult(status: Int(response.status.code), headers: response.headers,
                          body: Data(buffer.readBytes(length: buffer.readableBytes) ?? []))
    }
}
