import Foundation
import KubeClient
import KubeLocal
import MirBuild
import MirController
import MirLocalRegistry
import MirModel
import MirRegistry
import Synchronization
import Testing

let crdManifestURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Manifests/crd/mir.dev_managedimages.yaml")

func temporaryDirectory(_ label: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("mirctl-\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// What the simulated job runner's builder saw: start order, concurrency.
final class BuildLog: Sendable {
    private let state = Mutex<(started: [String], finished: [String], inFlight: Int, maxInFlight: Int)>(([], [], 0, 0))
    func start(_ image: String) { state.withLock { $0.started.append(image); $0.inFlight += 1; $0.maxInFlight = max($0.maxInFlight, $0.inFlight) } }
    func finish(_ image: String) { state.withLock { $0.finished.append(image); $0.inFlight -= 1 } }
    var started: [String] { state.withLock { $0.started } }
    var finished: [String] { state.withLock { $0.finished } }
    var maxInFlight: Int { state.withLock { $0.maxInFlight } }
}

/// The builder the local control plane's job runner runs: mir's `simulate` builder on the harness's registry
/// (pushes the tag), slowed down, failing for images whose pip requirements name `broken`, and ending the build pod
/// as `podTerminations` says for the images it names (the simulated runner writes that container state).
struct TestClusterBuilder: ImageBuilder {
    let inner: SimulateBuilder
    let log: BuildLog
    let delay: Duration
    /// Image name → how its build pod's container ends.
    var podTerminations: [String: SimulatedContainerTermination] = [:]
    var name: String { "simulate" }
    var isSimulation: Bool { true }

    struct Broken: Error, CustomStringConvertible { var description: String { "pip install failed: No matching distribution found for broken" } }

    func build(_ request: BuildRequest) async throws -> BuildRecord {
        log.start(request.image.name)
        defer { log.finish(request.image.name) }
        try await Task.sleep(for: delay)
        if request.image.image.spec.pipRequirements.contains(where: { $0.name == "broken" }) { throw Broken() }
        if let termination = podTerminations[request.image.name] { throw termination }
        return try await JobSimulation(inner).build(request)
    }
}

/// A local control plane (with the CRD, the build namespace and a simulated job runner) and a KubeClient for it.
/// The controller and the job runner's builder share one registry: a fresh embedded one, or the one given (e.g.
/// mir's ECR adapter on moto).
final class ControllerHarness: @unchecked Sendable {
    let plane: RunningControlPlane
    let client: KubeClient
    let registry: any ImageRegistry
    let log = BuildLog()
    let directory: URL
    var config: MirConfig

    init(registry: (any ImageRegistry)? = nil, buildDelay: Duration = .milliseconds(300), maxConcurrentBuilds: Int = 4,
         forceDelete: Bool = false, podTerminations: [String: SimulatedContainerTermination] = [:],
         jobRegistry: (any ImageRegistry)? = nil) async throws {
        directory = try temporaryDirectory("harness")
        self.registry = try registry ?? LocalRegistry(directory: directory.appendingPathComponent("registry").path)
        // `jobRegistry`: where the build Jobs push, when it is not the registry the controller observes.
        let inner = SimulateBuilder(registry: jobRegistry ?? self.registry,
                                    records: FileBuildRecordStore(directory: directory.appendingPathComponent("sim").path), delay: .zero)
        plane = try await LocalControlPlane().start(ControlPlaneConfiguration(
            insecurePort: 0, builder: TestClusterBuilder(inner: inner, log: log, delay: buildDelay, podTerminations: podTerminations),
            jobRunner: JobRunnerConfiguration(backoffBase: .milliseconds(10)), bookmarkInterval: .milliseconds(300)))
        try await plane.apply(yaml: String(contentsOf: crdManifestURL, encoding: .utf8))
        client = try KubeClient(config: KubeConfig(server: plane.insecureURL!.absoluteString, namespace: "default"))
        config = MirConfig(maxConcurrentBuilds: maxConcurrentBuilds, forceDeleteRepositories: forceDelete,
                           builder: BuilderSettings(buildNamespace: "mir-builds", backoffLimit: 0))
        _ = try? await client.create(Namespace(name: "mir-builds"))
    }

    func stop() async {
        try? await client.shutdown()
        await plane.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }

    func manager(_ config: MirConfig? = nil, options: ControllerOptions = ControllerOptions(maxConcurrentReconciles: 2, waitInterval: .milliseconds(200))) -> ControllerManager {
        ControllerManager(client: client, registry: registry, config: config ?? self.config, options: options)
    }

    /// Runs `manager` in a task; cancel the task to stop it.
    func start(_ manager: ControllerManager) -> Task<Void, Never> {
        Task { await manager.runUntilCancelled() }
    }

    @discardableResult
    func create(_ name: String, spec: ManagedImageSpec) async throws -> ManagedImageResource {
        try await client.create(ManagedImageResource(name: name, spec: spec))
    }

    func image(_ name: String) async throws -> ManagedImageResource {
        try await client.get(ManagedImageResource.self, name: name)
    }

    /// Polls until `predicate` holds for the image (or fails after `timeout`). Returns the matching object.
    @discardableResult
    func waitFor(_ name: String, timeout: Duration = .seconds(120), _ what: String = "",
                 _ predicate: (ManagedImageResource) -> Bool) async throws -> ManagedImageResource {
        let deadline = ContinuousClock.now + timeout
        var last: ManagedImageResource?
        while ContinuousClock.now < deadline {
            if let o = try? await image(name) {
                last = o
                if predicate(o) { return o }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out waiting for \(name) \(what); last status: \(String(describing: last?.status))")
        throw CancellationError()
    }

    func jobs(image: String) async throws -> [Job] {
        try await client.listAll(Job.self, namespace: "mir-builds",
                                 options: ListOptions(labelSelector: "\(BuildJobManifest.imageLabel)=\(image)")).items
    }

    func events(reason: String, object: String) async throws -> [Event] {
        try await client.listAll(Event.self, namespace: "default").items
            .filter { $0.reason == reason && $0.involvedObject.name == object }
    }
}

func condition(_ o: ManagedImageResource, _ type: String) -> Condition? {
    o.status?.conditions?.first { $0.type == type }
}

func spec(pip: [String] = ["requests"], parent: String? = nil, deletionPolicy: DeletionPolicy = .delete) -> ManagedImageSpec {
    ManagedImageSpec(base: parent.map { .managedImage($0) } ?? .imageType("standard"), pythonVersion: parent == nil ? "3.12" : nil,
                     pipRequirements: pip.map { PipRequirement(name: $0) }, deletionPolicy: deletionPolicy)
}
