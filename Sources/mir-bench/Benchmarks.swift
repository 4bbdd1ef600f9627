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

    @Option(help: "ManagedImages the in-process controller benchmark reconciles (local control plane, simulated job runner, embedded registry).")
    var controllerImages = 100

    @Option(help: "Sections to run, comma-separated: registry, planner, inprocess, reconcile, controller, ecr.")
    var sections = "registry,planner,inprocess,reconcile,controller,ecr"

    @Option(help: "Cache sizes for the per-reconcile cost (one steady reconcile with this many images cached), comma-separated.")
    var reconcileSizes = "100,1000,10000"

    @Option(help: "Fleet sizes for the controller benchmark (`mir dev` + `mir run` processes), comma-separated.")
    var sizes = "100,1000"

    @Flag(help: "Also run the controller benchmark at 10,000 images.")
    var large = false

    @Option(help: "Fleet sizes for the ECR benchmark (mir apply and the boto3 baseline against moto), comma-separated.")
    var ecrSizes = "100,1000"

    @Option(help: "Seconds of idle CPU measured after all images are Ready.")
    var idleSeconds = 60

    @Option(help: "Seconds to wait for all images to be Ready.")
    var readyTimeout = 1800

    @Option(help: "The mir executable (default: next to mir-bench).")
    var mir: String?

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("mir-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let chosen = Set(sections.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        print("mir-bench (times are this machine's; counts are exact)")
        print(machineDescription())
        if chosen.contains("registry") { try await registryBenchmark(scratch.appendingPathComponent("registry")) }
        if chosen.contains("planner") { try planBenchmark() }
        if chosen.contains("inprocess") { try await controllerBenchmark(scratch.appendingPathComponent("controller")) }
        if chosen.contains("reconcile") { try await reconcileCost(scratch) }
        if chosen.contains("controller") { try await controllerScale(scratch) }
        if chosen.contains("ecr") { try await ecrComparison(scratch) }
    }

    func mirExecutable() -> URL {
        if let mir { return URL(fileURLWithPath: mir) }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("mir")
    }

    func machineDescription() -> String {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":").last?
            .trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        let memory = Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30)
        return "machine: \(ProcessInfo.processInfo.activeProcessorCount) cores (\(model)), \(String(format: "%.0f", memory)) GiB, "
            + "load average \(((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " "))"
    }

    func reconcileCost(_ scratch: URL) async throws {
        let sizes = reconcileSizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let rows = try await ReconcileCostBenchmark(scratch: scratch, reconciles: 200).run(sizes: sizes)
        guard let base = rows.first else { return }
        print("""

            one steady reconcile (a child image and its parent) with N ManagedImages in the cache (200 reconciles each)
            | N cached | CPU per reconcile | ratio vs \(base.size) | cache objects read | specs decoded | registry calls | API requests |
            |---|---|---|---|---|---|---|
            """)
        for row in rows {
            print("| \(row.size) | \(String(format: "%.2f ms", row.cpuPerReconcile * 1000)) | \(String(format: "%.2f", row.cpuPerReconcile / base.cpuPerReconcile)) "
                  + "| \(String(format: "%.2f", row.objectsRead)) | \(String(format: "%.2f", row.specsDecoded)) "
                  + "| \(String(format: "%.2f", row.registryCalls)) | \(String(format: "%.2f", row.apiRequests)) |")
        }
    }

    func controllerScale(_ scratch: URL) async throws {
        guard let crd = LocalControlPlane.findManagedImageCRD() else {
            throw ValidationError("run mir-bench from the repository (it reads \(LocalControlPlane.crdPath))")
        }
        var fleet = sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        if large && !fleet.contains(10_000) { fleet.append(10_000) }
        let bench = ControllerScaleBenchmark(mir: mirExecutable(), crd: crd, scratch: scratch, idleWindow: .seconds(idleSeconds),
                                             readyTimeout: .seconds(readyTimeout))
        var rows: [ControllerScaleBenchmark.Row] = []
        for size in fleet {
            print("controller at \(size) images: running (mir dev + mir run processes; simulated jobs)…")
            let row = try await bench.run(size: size)
            rows.append(row)
            print("  ecr calls in the steady pass: \(row.ecrCalls.sorted { $0.key < $1.key }.map { "\($0.key) \(Int($0.value))" }.joined(separator: ", "))")
        }
        func d(_ x: Duration?) -> String { x.map { String(format: "%.1f s", seconds($0)) } ?? "not reached" }
        func mb(_ bytes: Int) -> String { String(format: "%.0f MB", Double(bytes) / 1e6) }
        let base = rows.first
        print("""

            controller (mir run: 4 workers, maxConcurrentBuilds 50; mir dev: simulated jobs; a tenth of the images are parents)
            | images | all Ready | mir run CPU (create) | mir dev CPU (create) | mir run peak RSS | mir dev peak RSS | mir run idle CPU (\(idleSeconds) s) | /readyz after restart | steady reconcile: CPU | ratio vs \(base?.size ?? 0) | cache reads | specs decoded | ECR calls | SIGTERM→exit after ready | SIGTERM→exit in start-up |
            |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
            """)
        for row in rows {
            let ratio = base.map { $0.cpuPerSteadyReconcile > 0 ? row.cpuPerSteadyReconcile / $0.cpuPerSteadyReconcile : 0 } ?? 0
            print("| \(row.size) | \(d(row.timeToReady))\(row.timeToReady == nil ? " (\(row.readyCount) Ready)" : "") "
                  + "| \(String(format: "%.1f s", row.runCPUCreate)) | \(String(format: "%.1f s", row.devCPUCreate)) "
                  + "| \(mb(row.runPeakRSS)) | \(mb(row.devPeakRSS)) | \(String(format: "%.2f %%", row.idleCPUPercent)) "
                  + "| \(d(row.readyzAfterRestart)) | \(String(format: "%.2f ms", row.cpuPerSteadyReconcile * 1000)) "
                  + "| \(String(format: "%.2f", ratio)) | \(String(format: "%.2f", row.cacheReadsPerReconcile)) "
                  + "| \(String(format: "%.2f", row.decodesPerReconcile)) | \(String(format: "%.2f", row.ecrCallsPerReconcile)) "
                  + "| \(d(row.sigtermAfterReady)) (exit \(row.sigtermAfterReadyStatus)) | \(d(row.sigtermStartUp)) (exit \(row.sigtermStartUpStatus)) |")
        }
        print("(per reconcile: over the restart's pass, in which every image is reconciled once with nothing to change)")
    }

    func ecrComparison(_ scratch: URL) async throws {
        let root = LocalControlPlane.findManagedImageCRD()?.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let bench = ECRBenchmark(mir: mirExecutable(), baseline: root.appendingPathComponent("bench/boto3_reconciler.py"), scratch: scratch)
        let rows = try await bench.run(sizes: ecrSizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) })
        func w(_ d: Duration) -> String { String(format: "%.1f s", seconds(d)) }
        print("""

            ECR against moto: mir apply vs the boto3 BASELINE (bench/boto3_reconciler.py: checks policies only)
            | images | pass | mir apply calls | analytic minimum (mir's checks) | mir apply wall | baseline calls | analytic minimum (baseline's checks) | baseline wall |
            |---|---|---|---|---|---|---|---|
            """)
        for row in rows {
            print("| \(row.size) | first converge | \(row.mirFirst.total) | \(row.minimumFirst) | \(w(row.mirFirst.wall)) | \(row.baseFirst.total) | \(row.minimumFirst) | \(w(row.baseFirst.wall)) |")
            print("| \(row.size) | steady | \(row.mirSteady.total) | \(row.minimumSteadyMir) | \(w(row.mirSteady.wall)) | \(row.baseSteady.total) | \(row.minimumSteadyBaseline) | \(w(row.baseSteady.wall)) |")
        }
        for row in rows {
            print("N=\(row.size): mir steady \(row.mirSteady.calls.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); "
                  + "baseline steady \(row.baseSteady.calls.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        }
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
