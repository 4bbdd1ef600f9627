import Foundation
import KubeClient
import KubeLocal
import MirModel
import MirTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The controller at N images, as it runs for real: a `mir dev` process (mir's local control plane; its job runner is
/// a SIMULATION running the `simulate` builder on the embedded registry) and a `mir run` process (4 workers,
/// maxConcurrentBuilds 50), measured from outside: /proc for CPU and RSS, /metrics for counted work.
struct ControllerScaleBenchmark {
    let mir: URL
    let crd: URL
    let scratch: URL
    let idleWindow: Duration
    let readyTimeout: Duration

    struct Row {
        var size: Int
        var timeToReady: Duration?
        var readyCount = 0
        var runCPUCreate = 0.0
        var devCPUCreate = 0.0
        var runPeakRSS = 0
        var devPeakRSS = 0
        var idleCPUPercent = 0.0
        var readyzAfterRestart: Duration?
        var steadyReconciles = 0.0
        var cpuPerSteadyReconcile = 0.0
        var cacheReadsPerReconcile = 0.0
        var decodesPerReconcile = 0.0
        var ecrCallsPerReconcile = 0.0
        var ecrCalls: [String: Double] = [:]
        var sigtermAfterReady: Duration?
        var sigtermAfterReadyStatus: Int32 = -1
        var sigtermStartUp: Duration?
        var sigtermStartUpStatus: Int32 = -1
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    func run(size: Int) async throws -> Row {
        var row = Row(size: size)
        let dir = scratch.appendingPathComponent("controller-\(size)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try """
            repositoryPrefix: mir/
            maxConcurrentBuilds: 50
            builder:
              buildNamespace: mir-builds
            """.write(to: dir.appendingPathComponent("mir.yaml"), atomically: true, encoding: .utf8)
        let environment = ProcessInfo.processInfo.environment.merging(["MIR_EXIT_WITH_PARENT": "1"]) { $1 }
        let dev = try BackgroundProcess(mir, [
            "dev", "--port", "0", "--state", dir.appendingPathComponent("dev").path,
            "--kubeconfig", dir.appendingPathComponent("kubeconfig").path,
            "--registry", "local:" + dir.appendingPathComponent("registry").path, "--jobs", "simulated", "--crd", crd.path,
        ], in: dir, environment: environment, outputDirectory: dir)
        defer { dev.send(SIGKILL) }
        guard await dev.waitForOutput(containing: "serving on", timeout: .seconds(120)) else {
            throw Failure(description: "mir dev did not start: \(dev.stderr)")
        }
        let kube = try KubeConfigLoader().load(kubeconfigPath: dir.appendingPathComponent("kubeconfig").path, context: nil)
        let client = try KubeClient(config: kube)
        defer { Task { try? await client.shutdown() } }
        _ = try? await client.create(Namespace(name: "mir-builds"))

        func startRun() throws -> BackgroundProcess {
            try BackgroundProcess(mir, [
                "run", "--kubeconfig", dir.appendingPathComponent("kubeconfig").path, "--config", "mir.yaml",
                "--registry", "local:" + dir.appendingPathComponent("registry").path, "--no-leader-elect",
                "--max-concurrent-reconciles", "4", "--resync-period", "86400",
                "--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0",
            ], in: dir, environment: environment, outputDirectory: dir)
        }
        func endpoints(_ run: BackgroundProcess) async throws -> (metrics: String, probes: String) {
            guard let metrics = await run.waitForMatch(#"metrics on (http://127\.0\.0\.1:\d+)/metrics"#, timeout: .seconds(120)),
                  let probes = await run.waitForMatch(#"probes on (http://127\.0\.0\.1:\d+)/healthz"#, timeout: .seconds(120)) else {
                throw Failure(description: "mir run printed no telemetry addresses: \(run.stderr.suffix(2000))")
            }
            return (metrics, probes)
        }
        func waitReady(_ probes: String, timeout: Duration = .seconds(600)) async -> Bool {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let answer = try? await httpGet(probes + "/readyz"), answer.status == 200 { return true }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return false
        }
        /// Waits until the controller has had nothing queued nor any new reconcile for `quiet`.
        func settle(_ metrics: String, quiet: Duration = .seconds(3)) async throws -> Exposition {
            var last = try await Exposition.fetch(metrics + "/metrics")
            var quietSince = ContinuousClock.now
            while ContinuousClock.now - quietSince < quiet {
                try await Task.sleep(for: .milliseconds(250))
                let now = try await Exposition.fetch(metrics + "/metrics")
                let busy = now.sum("workqueue_depth") > 0 || now.sum("controller_runtime_active_workers") > 0
                if busy || now.sum("controller_runtime_reconcile_total") != last.sum("controller_runtime_reconcile_total") {
                    quietSince = ContinuousClock.now
                }
                last = now
            }
            return last
        }
        func sigterm(_ run: BackgroundProcess) async -> (Duration, Int32) {
            let sent = ContinuousClock.now
            run.send(SIGTERM)
            let exit = await run.finish(timeout: .seconds(60))
            return (ContinuousClock.now - sent, exit.bySignal ? -exit.status : exit.status)
        }

        // 1. Create N images (a tenth parents) with the controller running; time until all are Ready.
        let first = try startRun()
        let (metrics, probes) = try await endpoints(first)
        guard await waitReady(probes) else { throw Failure(description: "mir run never ready: \(first.stderr.suffix(2000))") }
        let runStart = ProcessStats.of(first.process.processIdentifier)
        let devStart = ProcessStats.of(dev.process.processIdentifier)
        let created = ContinuousClock.now
        let names = (0..<size).map { "bench-\($0)" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func add() {
                guard next < size else { return }
                let i = next
                next += 1
                group.addTask {
                    let parent = i % 10 == 0 ? nil : "bench-\(i - i % 10)"
                    _ = try await client.create(ManagedImageResource(name: names[i], spec: ManagedImageSpec(
                        base: parent.map { .managedImage($0) } ?? .imageType("standard"), pythonVersion: parent == nil ? "3.12" : nil,
                        pipRequirements: [PipRequirement(name: "requests"), PipRequirement(name: "pkg\(i % 97)")])))
                }
            }
            for _ in 0..<8 { add() }
            while try await group.next() != nil { add() }
        }
        let deadline = created + readyTimeout
        while ContinuousClock.now < deadline {
            row.readyCount = try await client.listAll(ManagedImageResource.self).items.filter { $0.status?.phase == "Ready" }.count
            if row.readyCount == size { row.timeToReady = ContinuousClock.now - created; break }
            // Each look lists every ManagedImage (serialized by mir dev): every N/1000 seconds, so the benchmark's own
            // polling stays a small part of mir dev's work at any N (the time to all Ready is exact to that interval).
            try await Task.sleep(for: .seconds(max(1, size / 1000)))
        }
        if let r = ProcessStats.of(first.process.processIdentifier), let r0 = runStart { row.runCPUCreate = r.cpuSeconds - r0.cpuSeconds }
        if let d = ProcessStats.of(dev.process.processIdentifier), let d0 = devStart { row.devCPUCreate = d.cpuSeconds - d0.cpuSeconds }
        _ = try await settle(metrics)

        // 2. Idle CPU over the window.
        if let idle0 = ProcessStats.of(first.process.processIdentifier) {
            try await Task.sleep(for: idleWindow)
            if let idle1 = ProcessStats.of(first.process.processIdentifier) {
                row.idleCPUPercent = (idle1.cpuSeconds - idle0.cpuSeconds) / seconds(idleWindow) * 100
            }
        }
        row.runPeakRSS = ProcessStats.of(first.process.processIdentifier)?.peakRSS ?? 0
        // 3. SIGTERM after readiness.
        let afterReady = await sigterm(first)
        row.sigtermAfterReady = afterReady.0
        row.sigtermAfterReadyStatus = afterReady.1

        // 4. Restart: /readyz, then the restart's pass over every image is a steady resync (nothing to do but read).
        let spawned = ContinuousClock.now
        let second = try startRun()
        let (metrics2, probes2) = try await endpoints(second)
        if await waitReady(probes2) { row.readyzAfterRestart = ContinuousClock.now - spawned }
        let cpu0 = ProcessStats.of(second.process.processIdentifier)?.cpuSeconds ?? 0
        let m0 = try await Exposition.fetch(metrics2 + "/metrics")
        let m1 = try await settle(metrics2)
        let cpu1 = ProcessStats.of(second.process.processIdentifier)?.cpuSeconds ?? 0
        row.runPeakRSS = max(row.runPeakRSS, ProcessStats.of(second.process.processIdentifier)?.peakRSS ?? 0)
        let reconciles = m1.sum("controller_runtime_reconcile_total") - m0.sum("controller_runtime_reconcile_total")
        row.steadyReconciles = reconciles
        if reconciles > 0 {
            row.cpuPerSteadyReconcile = (cpu1 - cpu0) / reconciles
            row.cacheReadsPerReconcile = (m1.sum("mir_cache_objects_read_total") - m0.sum("mir_cache_objects_read_total")) / reconciles
            row.decodesPerReconcile = (m1.sum("mir_spec_decodes_total") - m0.sum("mir_spec_decodes_total")) / reconciles
            let before = m0.byLabel("mir_ecr_calls_total", "operation")
            row.ecrCalls = m1.byLabel("mir_ecr_calls_total", "operation").mapValues { $0 }
            for (op, n) in before { row.ecrCalls[op, default: 0] -= n }
            row.ecrCallsPerReconcile = row.ecrCalls.values.reduce(0, +) / reconciles
        }
        _ = await sigterm(second)

        // 5. SIGTERM during start-up (as soon as it says what it watches).
        let third = try startRun()
        _ = await third.waitForOutput(containing: "mir run: watching", timeout: .seconds(60))
        let startUp = await sigterm(third)
        row.sigtermStartUp = startUp.0
        row.sigtermStartUpStatus = startUp.1

        row.devPeakRSS = ProcessStats.of(dev.process.processIdentifier)?.peakRSS ?? 0
        dev.send(SIGTERM)
        _ = await dev.finish(timeout: .seconds(60))
        try? FileManager.default.removeItem(at: dir)
        return row
    }
}
