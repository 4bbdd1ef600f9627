import ArgumentParser
import Foundation
import KubeClient
import KubeLocal
import Logging
import MirBuild
import MirController
import MirCore
import MirLocalRegistry
import MirModel
import MirRegistry

/// `mir-bench`: what mir's hot paths cost, measured (run with `scripts/bench`, a release build). Counts (API calls,
/// registry calls, bytes) are exact; times are this machine's and only printed, never asserted.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mir-bench", abstract: "Measure the embedded registry, the planner and the controller's reconcile cost.")

    @Option(help: "Repositories to create in the embedded registry.")
    var repositories = 10_000

    @Option(help: "Images to plan.")
    var planImages = 10_000

    @Option(help: "ManagedImages the controller reconciles (local control plane, simulated job runner, embedded registry).")
    var controllerImages = 100

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mir-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        print("mir-bench (times are this machine's; counts are exact)")
        try await registryBenchmark(scratch.appendingPathComponent("registry"))
        try planBenchmark()
        try await controllerBenchmark(scratch.appendingPathComponent("controller"))
    }

    func registryBenchmark(_ directory: URL) async throws {
        let registry = try LocalRegistry(directory: directory.path, repositoryQuota: repositories + 1)
        let clock = ContinuousClock()
        let created = try await clock.measure {
            for i in 0..<repositories {
                _ = try await registry.createRepository(name: "mir/bench-\(i)", tags: [ResourceTag(key: "n", value: "\(i)")])
            }
        }
        let io = registry.storageStatistics
        var names = 0
        let listed = try await clock.measure {
            var token: String?
            repeat {
                let page = try await registry.describeRepositories(names: nil, maxResults: 1000, nextToken: token)
                names += page.items.count
                token = page.nextToken
            } while token != nil
        }
        print("""
            embedded registry: \(repositories) CreateRepository in \(format(created)) (\(perOperation(created, repositories)) each), \
            \(io.bytesWritten / max(1, repositories)) bytes written and \(io.bytesRead / max(1, repositories)) read per create, \
            \(io.snapshotsWritten) snapshots; listing \(names) in pages of 1000: \(format(listed))
            """)
    }

    func planBenchmark() throws {
        let config = MirConfig()
        let images = (0..<planImages).map { i in
            ManagedImage(name: "plan-\(i)", spec: ManagedImageSpec(
                base: i % 10 == 0 || i < 10 ? .imageType("standard") : .managedImage("plan-\(i - i % 10)"),
                pythonVersion: i % 10 == 0 || i < 10 ? "3.12" : nil,
                pipRequirements: [PipRequirement(name: "requests"), PipRequirement(name: "pkg\(i % 97)")]))
        }
        let clock = ContinuousClock()
        var resolved: [ResolvedImage] = []
        let resolving = try clock.measure { resolved = try DesiredStateResolver.resolve(images, config: config) }
        let desired = DesiredState(images: resolved, isComplete: true, repositoryPrefix: config.repositoryPrefix,
                                   platformVersion: config.platformVersion)
        var plan = Plan(actions: [])
        let planning = clock.measure { plan = Planner.plan(desired: desired, observed: ObservedState(repositories: [:])) }
        print("planner: \(planImages) images (a tenth of them parents) resolved in \(format(resolving)), planned in \(format(planning)) → \(plan.actions.count) actions")
    }

    func controllerBenchmark(_ directory: URL) async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let local = try LocalRegistry(directory: directory.appendingPathComponent("registry").path)
        let simulate = SimulateBuilder(registry: local, records: FileBuildRecordStore(directory: directory.appendingPathComponent("sim").path),
                                       delay: .zero)
        let plane = try await LocalControlPlane().start(ControlPlaneConfiguration(
            insecurePort: 0, builder: JobSimulation(simulate), jobRunner: JobRunnerConfiguration(backoffBase: .milliseconds(10))))
        defer { Task { await plane.shutdown() } }
        guard let crdURL = LocalControlPlane.findManagedImageCRD() else {
            throw ValidationError("run mir-bench from the repository (it reads \(LocalControlPlane.crdPath))")
        }
        let crd = try String(contentsOf: crdURL, encoding: .utf8)
        _ = try await plane.apply(yaml: crd)
        let client = try KubeClient(config: KubeConfig(server: plane.insecureURL!.absoluteString, namespace: "default"))
        let config = MirConfig(maxConcurrentBuilds: 8, builder: BuilderSettings(buildNamespace: "mir-builds"))
        _ = try await client.create(Namespace(name: "mir-builds"))
        let calls = CallCounter()
        let manager = ControllerManager(client: client, registry: CountingRegistry(local, counter: calls), config: config,
                                        options: ControllerOptions(maxConcurrentReconciles: 4, waitInterval: .milliseconds(200)))
        let run = Task { await manager.runUntilCancelled() }
        defer { run.cancel() }

        let clock = ContinuousClock()
        let names = (0..<controllerImages).map { "bench-\($0)" }
        let converged = try await clock.measure {
            for name in names {
                _ = try await client.create(ManagedImageResource(name: name, spec: ManagedImageSpec(
                    base: .imageType("standard"), pythonVersion: "3.12", pipRequirements: [PipRequirement(name: "requests")])))
            }
            while try await client.listAll(ManagedImageResource.self).items.filter({ $0.status?.phase == "Ready" }).count < names.count {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        await settle(manager)
        let firstReconciles = manager.reconcileCount
        print("controller: \(names.count) new images built (simulated job runner) and Ready in \(format(converged)), \(firstReconciles) reconciles")

        plane.requests.reset()
        let callsBefore = calls.total
        let before = manager.reconcileCount
        let resync = await clock.measure {
            for name in names { await manager.queue.add(name) }
            await settle(manager, quiet: .milliseconds(300))
        }
        let reconciles = manager.reconcileCount - before
        let requests = plane.requests.snapshot.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("""
            controller resync of \(names.count) steady images: \(reconciles) reconciles, \
            \(Double(plane.requests.total) / Double(max(1, reconciles))) Kubernetes API requests and \
            \(Double(calls.total - callsBefore) / Double(max(1, reconciles))) registry calls per reconcile (\(requests)); \
            \(format(resync)) including 300 ms of settling
            """)
        try await client.shutdown()
    }

    /// Waits until the manager has had nothing to do for `quiet`.
    func settle(_ manager: ControllerManager, quiet: Duration = .seconds(1)) async {
        var last = -1
        var quietSince = ContinuousClock.now
        while ContinuousClock.now - quietSince < quiet {
            let count = manager.reconcileCount
            let queued = await manager.queue.count
            if count != last || queued > 0 { last = count; quietSince = ContinuousClock.now }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    func format(_ d: Duration) -> String {
        let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
        return ms >= 1000 ? String(format: "%.2f s", ms / 1000) : String(format: "%.1f ms", ms)
    }

    func perOperation(_ d: Duration, _ n: Int) -> String {
        let us = (Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12) / Double(max(1, n))
        return String(format: "%.1f µs", us)
    }
}
