import Foundation
import KubeClient
import KubeLocal
import MirBuild
import MirController
import MirLocalRegistry
import MirModel
import MirRegistry
#if canImport(Glibc)
import Glibc
#endif

/// Issue 9 §1's target in one run: the cost of one steady reconcile with 100 and with 10,000 ManagedImages in the
/// controller's cache. The image reconciled (a child and its parent) is real — in an in-process local control plane
/// with the embedded registry — and the rest of the fleet (a tenth parents) sits in the cache the reconcile reads, so
/// any cost that grows with the fleet shows. Counted: cache objects read, specs decoded, registry calls, API requests
/// per reconcile; measured: process CPU per reconcile (getrusage).
struct ReconcileCostBenchmark {
    let scratch: URL
    let reconciles: Int

    struct Row {
        var size: Int
        var cpuPerReconcile: Double
        var objectsRead: Double
        var specsDecoded: Double
        var registryCalls: Double
        var apiRequests: Double
    }

    static func processCPU() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return s(usage.ru_utime) + s(usage.ru_stime)
    }

    func run(sizes: [Int]) async throws -> [Row] {
        let directory = scratch.appendingPathComponent("reconcile-cost")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let local = try LocalRegistry(directory: directory.appendingPathComponent("registry").path)
        let simulate = SimulateBuilder(registry: local, records: FileBuildRecordStore(directory: directory.appendingPathComponent("sim").path),
                                       delay: .zero)
        let plane = try await LocalControlPlane().start(ControlPlaneConfiguration(
            insecurePort: 0, builder: JobSimulation(simulate), jobRunner: JobRunnerConfiguration(backoffBase: .milliseconds(10))))
        guard let crdURL = LocalControlPlane.findManagedImageCRD() else { throw CocoaError(.fileNoSuchFile) }
        _ = try await plane.apply(yaml: try String(contentsOf: crdURL, encoding: .utf8))
        let client = try KubeClient(config: KubeConfig(server: plane.insecureURL!.absoluteString, namespace: "default"))
        let config = MirConfig(maxConcurrentBuilds: 8, builder: BuilderSettings(buildNamespace: "mir-builds"))
        do {
            _ = try await client.create(Namespace(name: "mir-builds"))
        } catch let error as KubeAPIError where error.isAlreadyExists {
            // The local control plane creates the build namespace on a fresh cluster.
        }

        // Converge the real pair with a running manager, then stop it.
        let manager = ControllerManager(client: client, registry: local, config: config,
                                        options: ControllerOptions(maxConcurrentReconciles: 2, waitInterval: .milliseconds(100)))
        let run = Task { await manager.runUntilCancelled() }
        _ = try await client.create(ManagedImageResource(name: "cost-parent", spec: ManagedImageSpec(
            base: .imageType("standard"), pythonVersion: "3.12", pipRequirements: [PipRequirement(name: "numpy")])))
        _ = try await client.create(ManagedImageResource(name: "cost-child", spec: ManagedImageSpec(
            base: .managedImage("cost-parent"), pipRequirements: [PipRequirement(name: "pandas")])))
        while try await client.get(ManagedImageResource.self, name: "cost-child").status?.phase != "Ready" {
            try await Task.sleep(for: .milliseconds(100))
        }
        run.cancel()
        await run.value

        var rows: [Row] = []
        for size in sizes {
            let images = ObjectStore<ManagedImageResource>(indexers: CachedClusterView.imageIndexers)
            for i in 0..<size {
                let parent = i % 10 == 0 ? nil : "fleet-\(i - i % 10)"
                var o = try ManagedImageResource(name: "fleet-\(i)", spec: ManagedImageSpec(
                    base: parent.map { .managedImage($0) } ?? .imageType("standard"), pythonVersion: parent == nil ? "3.12" : nil,
                    pipRequirements: [PipRequirement(name: "requests"), PipRequirement(name: "pkg\(i % 97)")]))
                o.metadata.uid = "uid-\(i)"
                o.metadata.resourceVersion = "\(i + 1)"
                images.put("fleet-\(i)", o)
            }
            for name in ["cost-parent", "cost-child"] { images.put(name, try await client.get(ManagedImageResource.self, name: name)) }
            let view = CachedClusterView(images: images, jobs: ObjectStore<CachedBuildJob>())
            let calls = CallCounter()
            let reconciler = ManagedImageReconciler(
                client: client, registry: CountingRegistry(local, counter: calls), config: config,
                scheduler: BuildScheduler(maxConcurrentBuilds: 8), events: EventRecorder(client: client, instance: "bench"), view: view)
            for _ in 0..<5 { _ = try await reconciler.reconcile("cost-child") }  // warm
            let read0 = view.work.objectsRead, decoded0 = view.work.specsDecoded, calls0 = calls.total
            plane.requests.reset()
            let cpu0 = Self.processCPU()
            for _ in 0..<reconciles { _ = try await reconciler.reconcile("cost-child") }
            let cpu = Self.processCPU() - cpu0
            let n = Double(reconciles)
            rows.append(Row(size: size, cpuPerReconcile: cpu / n, objectsRead: Double(view.work.objectsRead - read0) / n,
                            specsDecoded: Double(view.work.specsDecoded - decoded0) / n, registryCalls: Double(calls.total - calls0) / n,
                            apiRequests: Double(plane.requests.total) / n))
        }
        try await client.shutdown()
        await plane.shutdown()
        return rows
    }
}
