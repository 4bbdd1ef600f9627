import AsyncHTTPClient
import Foundation
import MirTestSupport
import NIOCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `mir run` as a process, against `mir dev` (mir's local control plane; its job runner is a SIMULATION that runs
/// the `simulate` builder on the embedded registry both processes share), driven and checked with the real kubectl.
@Suite(.serialized) struct RunCommandTests {
    /// A `mir dev` process, its kubeconfig and kubectl for it, in a fresh copy of the Examples.
    final class DevCluster: @unchecked Sendable {
        let dir: TempDir
        let dev: BackgroundProcess
        let kubectl: Kubectl
        private var runs: [BackgroundProcess] = []

        init() async throws {
            dir = try TempDir()
            try dir.copy(fromPackage: "Examples/specs", to: "specs")
            try dir.copy(fromPackage: "Examples/mir.yaml", to: "mir.yaml")
            dev = try BackgroundProcess(MirRunner.binary, [
                "dev", "--port", "0", "--state", dir.path("dev"), "--kubeconfig", dir.path("kubeconfig"),
                "--registry", "local:" + dir.path("registry"), "--jobs", "simulated",
                "--crd", MirRunner.packageRoot.appendingPathComponent("Manifests/crd/mir.dev_managedimages.yaml").path,
            ], in: dir.url, environment: Self.environment, outputDirectory: dir.url)
            kubectl = Kubectl(kubeconfig: dir.url.appendingPathComponent("kubeconfig"), home: dir.url)
            guard await dev.waitForOutput(containing: "serving on", timeout: .seconds(60)) else {
                throw Failure("mir dev did not start: \(dev.stdout)\(dev.stderr)")
            }
        }

        /// Starts `mir run --source cluster` with ephemeral telemetry ports and a short lease.
        func startRun(_ extra: [String] = []) throws -> BackgroundProcess {
            let run = try BackgroundProcess(MirRunner.binary, [
                "run", "--kubeconfig", dir.path("kubeconfig"), "--config", "mir.yaml", "--registry", "local:" + dir.path("registry"),
                "--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0",
                "--lease-namespace", "default", "--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s",
                "--leader-elect-retry-period", "1s",
            ] + extra, in: dir.url, environment: Self.environment, outputDirectory: dir.url)
            runs.append(run)
            return run
        }

        /// mir stops by itself if this test process dies (MIR_EXIT_WITH_PARENT).
        static var environment: [String: String] {
            ProcessInfo.processInfo.environment.merging(["MIR_EXIT_WITH_PARENT": "1"]) { $1 }
        }

        func stop() async {
            for run in runs { run.send(SIGKILL) }
            dev.send(SIGTERM)
            _ = await dev.finish(timeout: .seconds(20))
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// The metrics and probe base URLs `mir run` prints once it listens.
    static func endpoints(of run: BackgroundProcess) async throws -> (metrics: String, probes: String) {
        guard let metrics = await run.waitForMatch(#"metrics on (http://127\.0\.0\.1:\d+)/metrics"#),
              let probes = await run.waitForMatch(#"probes on (http://127\.0\.0\.1:\d+)/healthz"#) else {
            throw Failure("mir run printed no telemetry addresses: \(run.stdout)\(run.stderr)")
        }
        return (metrics, probes)
    }

    static func get(_ url: String) async throws -> (status: Int, body: String) {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 4 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    /// Polls `url` until it answers 200.
    static func waitForOK(_ url: String, timeout: Duration = .seconds(60)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let answer = try? await get(url), answer.status == 200 { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// The value of one sample line (`name{labels} value`) in a Prometheus exposition, if present.
    static func sample(_ exposition: String, _ series: String) -> Double? {
        for line in exposition.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    /// Every event's object and reportingInstance (the replica that wrote it).
    static func eventWriters(_ kubectl: Kubectl) async throws -> [(object: String, instance: String)] {
        let listed = try await kubectl.run("get", "events", "-n", "default", "-o",
                                           #"jsonpath={range .items[*]}{.involvedObject.name} {.reportingInstance}{"\n"}{end}"#)
        return listed.stdout.split(separator: "\n").map { line in
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            return (parts.first ?? "", parts.count > 1 ? parts[1] : "")
        }
    }

    static func leaseHolder(_ kubectl: Kubectl) async throws -> String {
        try await kubectl.run("get", "lease", "-n", "default", "mir-controller", "-o", "jsonpath={.spec.holderIdentity}").stdout
    }

    /// Runs `body` against a fresh `mir dev`, always stopped afterwards; a thrown error is recorded as the failure.
    static func withDevCluster(_ body: (DevCluster) async throws -> Void) async throws {
        guard Kubectl.executable != nil else { Issue.record("kubectl is not installed; run scripts/setup"); return }
        let cluster = try await DevCluster()
        do { try await body(cluster) } catch { Issue.record("failed: \(error)") }
        await cluster.stop()
    }

    @Test(.timeLimit(.minutes(5))) func kubectlSessionEndsWithImagesReadyBuiltByMirRun() async throws {
        try await Self.withDevCluster(session)
    }

    func session(_ cluster: DevCluster) async throws {
        let kubectl = cluster.kubectl
        let run = try cluster.startRun(["--log-format", "json"])
        let (metrics, probes) = try await Self.endpoints(of: run)
        #expect(await Self.waitForOK(probes + "/readyz"), "readyz never passed: \(run.stderr)")
        let readyz = try await Self.get(probes + "/readyz?verbose")
        #expect(readyz.body.contains("[+]informer-sync ok"), "\(readyz.body)")
        #expect(try await Self.get(probes + "/healthz").status == 200)
        #expect(try await Self.get(probes + "/metrics").status == 404, "metrics are served on their own listener")

        let applied = try await kubectl.run("apply", "-f", cluster.dir.path("specs"))
        #expect(applied.status == 0, "\(applied.output)")
        #expect(applied.stdout.contains("managedimage.mir.dev/xgboost-cpu created"))
        let waited = try await kubectl.run("wait", "--for=condition=Ready", "mi", "--all", "--timeout=180s")
        #expect(waited.status == 0, "\(waited.output)\n--- mir run:\n\(run.stdout)\(run.stderr.suffix(3000))")
        for name in ["geo", "latex-reports", "ml-base", "nlp", "torch-cpu", "xgboost-cpu", "xgboost102-tf"] {
            #expect(waited.stdout.contains("managedimage.mir.dev/\(name) condition met"), "\(name): \(waited.output)")
        }
        let wide = try await kubectl.run("get", "mi", "-o", "wide")
        let rows = wide.stdout.split(separator: "\n").dropFirst()
        #expect(rows.count == 7 && rows.allSatisfy { $0.contains(" Ready ") && $0.contains("BuildSucceeded") }, "\(wide.output)")
        #expect(rows.contains { $0.hasPrefix("xgboost-cpu ") && $0.contains("mir/xgboost-cpu") && $0.contains("2026.11") }, "\(wide.stdout)")
        let pip = try await kubectl.run("get", "mi", "ml-base", "-o", "jsonpath={.status.pipLibraries[*].name}")
        #expect(pip.stdout.split(separator: " ").contains("numpy"), "\(pip.output)")

        let described = try await kubectl.run("describe", "mi", "ml-base")
        for reason in ["RepositoryCreated", "LifecyclePolicyApplied", "BuildStarted", "BuildSucceeded"] {
            #expect(described.stdout.range(of: #"Normal\s+\#(reason)\s+.*\bmir\b"#, options: .regularExpression) != nil,
                    "event \(reason) missing:\n\(described.stdout)")
        }

        let exposition = try await Self.get(metrics + "/metrics").body
        #expect(Self.sample(exposition, #"mir_builds_total{reason="NewImage",result="succeeded"}"#) == 7, "\(exposition)")
        #expect(Self.sample(exposition, #"mir_images{phase="Ready"}"#) == 7)
        #expect(Self.sample(exposition, #"leader_election_master_status{name="mir-controller"}"#) == 1)
        #expect((Self.sample(exposition, #"controller_runtime_reconcile_total{controller="managedimage",result="success"}"#) ?? 0) >= 7)
        #expect((Self.sample(exposition, #"mir_ecr_calls_total{code="OK",operation="CreateRepository"}"#) ?? 0) == 7)
        #expect(exposition.contains("# TYPE controller_runtime_reconcile_time_seconds histogram"))
        #expect(exposition.contains(#"workqueue_depth{controller="managedimage",name="managedimage"}"#))

        // Retain: the object goes (the controller removes its finalizer), the repository stays.
        let deleted = try await kubectl.run("delete", "mi", "nlp", "--timeout=60s")
        #expect(deleted.status == 0 && deleted.stdout.contains(#"managedimage.mir.dev "nlp" deleted"#), "\(deleted.output)")
        let gone = try await kubectl.run("get", "mi", "nlp")
        #expect(gone.status != 0 && gone.stderr.contains("NotFound"), "\(gone.output)")
        let listed = try await MirRunner.run(["images", "list", "--registry", "local:" + cluster.dir.path("registry"), "--config", "mir.yaml"],
                                             in: cluster.dir.url)
        #expect(listed.stdout.contains("mir/nlp"), "the Retain repository stays: \(listed.output)")

        // Logs are JSON lines; SIGTERM stops gracefully and releases the lease.
        let logLines = run.stderr.split(separator: "\n")
        #expect(!logLines.isEmpty && logLines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) is [String: Any] },
                "\(run.stderr.prefix(2000))")
        run.send(SIGTERM)
        let exit = await run.finish(timeout: .seconds(40))
        #expect(!exit.bySignal && exit.status == 0, "status \(exit.status): \(exit.stderr.suffix(2000))")
        #expect(exit.stdout.contains("mir run: stopped"))
        #expect(try await Self.leaseHolder(kubectl).isEmpty, "the lease is released on shutdown")
    }

    /// A harness that dies leaves no mir behind: with MIR_EXIT_WITH_PARENT=1, `mir dev` stops once its parent is gone.
    @Test func mirStopsWhenItsParentIsGone() async throws {
        let dir = try TempDir()
        let crd = MirRunner.packageRoot.appendingPathComponent("Manifests/crd/mir.dev_managedimages.yaml").path
        let script = """
            MIR_EXIT_WITH_PARENT=1 "$0" dev --port 0 --state "$1/dev" --kubeconfig "$1/kubeconfig" --registry "local:$1/registry" \
              --crd "$2" >"$1/dev.log" 2>&1 &
            echo $!
            while ! grep -q "serving on" "$1/dev.log"; do sleep 0.1; done
            """
        let started = try await ProcessRunner.run(URL(fileURLWithPath: "/bin/sh"), ["-c", script, MirRunner.binary.path, dir.url.path, crd])
        let pid = try #require(Int32(started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "\(started.output)")
        // The shell (its parent) has exited; mir notices and shuts down gracefully.
        let deadline = ContinuousClock.now + .seconds(60)
        while kill(pid, 0) == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        let stillRunning = kill(pid, 0) == 0
        if stillRunning { kill(pid, SIGKILL) }
        #expect(!stillRunning, "mir dev outlived its parent")
        #expect((try? String(contentsOfFile: dir.path("dev.log"), encoding: .utf8))?.contains("stopping") == true)
    }

    @Test(.timeLimit(.minutes(5))) func twoReplicasOneLeadsTheOtherTakesOverWhenItIsKilled() async throws {
        try await Self.withDevCluster(replicas)
    }

    func replicas(_ cluster: DevCluster) async throws {
        let kubectl = cluster.kubectl
        let first = try cluster.startRun()
        guard await first.waitForOutput(containing: "became leader") else { throw Failure("no leader: \(first.stderr)") }
        let second = try cluster.startRun()
        let secondEndpoints = try await Self.endpoints(of: second)
        #expect(await Self.waitForOK(secondEndpoints.probes + "/readyz"), "a standby with synced caches is ready")
        guard let firstIdentity = await first.waitForMatch(#"(?m)leader election on Lease \S+ as (\S+)$"#), let secondIdentity = await second.waitForMatch(#"(?m)leader election on Lease \S+ as (\S+)$"#) else {
            throw Failure("no identities printed: \(first.stdout) \(second.stdout)")
        }
        #expect(firstIdentity != secondIdentity)
        #expect(try await Self.leaseHolder(kubectl) == firstIdentity)

        // The leader builds; the standby writes nothing (every event is the leader's, the standby reconciled nothing).
        #expect(try await kubectl.run("apply", "-f", cluster.dir.path("specs/geo.yaml")).status == 0)
        let ready = try await kubectl.run("wait", "--for=condition=Ready", "mi/geo", "--timeout=120s")
        #expect(ready.status == 0, "\(ready.output)")
        let writers = Set(try await Self.eventWriters(kubectl).map(\.instance))
        #expect(writers == [firstIdentity], "events by \(writers)")
        let standby = try await Self.get(secondEndpoints.metrics + "/metrics").body
        #expect(Self.sample(standby, #"leader_election_master_status{name="mir-controller"}"#) != 1)
        #expect(Self.sample(standby, #"controller_runtime_reconcile_total{controller="managedimage",result="success"}"#) == nil, "\(standby)")

        // Kill the leader without a chance to release: the standby takes over once the lease expires.
        first.send(SIGKILL)
        _ = await first.finish()
        let killed = ContinuousClock.now
        var holder = ""
        while ContinuousClock.now - killed < .seconds(90) {
            holder = try await Self.leaseHolder(kubectl)
            if holder == secondIdentity { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(holder == secondIdentity, "\(second.stderr.suffix(2000))")
        // Lease 4 s, retry 0.5 s (+ jitter); a generous bound, the test machine is shared.
        #expect(ContinuousClock.now - killed < .seconds(30))
        #expect(await second.waitForOutput(containing: "became leader"))

        #expect(try await kubectl.run("apply", "-f", cluster.dir.path("specs/nlp.yaml")).status == 0)
        let taken = try await kubectl.run("wait", "--for=condition=Ready", "mi/nlp", "--timeout=120s")
        #expect(taken.status == 0, "\(taken.output)\n\(second.stderr.suffix(2000))")
        let nlpWriters = Set(try await Self.eventWriters(kubectl).filter { $0.object == "nlp" }.map(\.instance))
        #expect(nlpWriters == [secondIdentity], "\(nlpWriters)")
        second.send(SIGTERM)
        #expect(await second.finish(timeout: .seconds(40)).status == 0)
    }

    /// SIGTERM during start-up (caches still listing 300 ManagedImages) and after readiness (with reconciles in
    /// flight): `mir run` stops taking work, cancels what is in flight, releases the Lease and exits 0. The bound is
    /// only a test timeout (the machine is shared); the exit itself is what is asserted.
    @Test(.timeLimit(.minutes(5))) func sigtermDuringStartUpAndAfterReadinessExitsZeroAndReleasesTheLease() async throws {
        try await Self.withDevCluster(sigterm)
    }

    func sigterm(_ cluster: DevCluster) async throws {
        let kubectl = cluster.kubectl
        let fleet = (0..<300).map { i in
            """
            apiVersion: mir.dev/v1alpha1
            kind: ManagedImage
            metadata:
              name: fleet-\(i)
            spec:
              base: \(i % 10 == 0 ? "{imageType: standard}" : "{managedImage: fleet-\(i - i % 10)}")
            \(i % 10 == 0 ? "  pythonVersion: \"3.12\"\n" : "")  pipRequirements: [{name: requests}]
            """
        }.joined(separator: "\n---\n")
        try fleet.write(toFile: cluster.dir.path("fleet.yaml"), atomically: true, encoding: .utf8)
        let applied = try await kubectl.run("apply", "-f", cluster.dir.path("fleet.yaml"))
        #expect(applied.status == 0, "\(applied.output.suffix(2000))")

        // During start-up: as soon as it says what it watches, before /readyz.
        let early = try cluster.startRun()
        #expect(await early.waitForOutput(containing: "mir run: watching"))
        early.send(SIGTERM)
        let earlyExit = await early.finish(timeout: .seconds(60))
        #expect(!earlyExit.bySignal && earlyExit.status == 0, "status \(earlyExit.status): \(earlyExit.stderr.suffix(2000))")
        #expect(earlyExit.stdout.contains("mir run: stopped"), "\(earlyExit.stdout)")
        let earlyIdentity = earlyExit.stdout.firstMatch(of: #/leader election on Lease \S+ as (\S+)/#).map { String($0.1) }
        let holder = try await Self.leaseHolder(kubectl)
        #expect(holder.isEmpty || holder != earlyIdentity, "the lease is not left held: \(holder)")

        // After readiness, while it works through the fleet.
        let late = try cluster.startRun()
        let (_, probes) = try await Self.endpoints(of: late)
        #expect(await Self.waitForOK(probes + "/readyz"), "readyz never passed: \(late.stderr.suffix(2000))")
        #expect(await late.waitForOutput(containing: "became leader"))
        #expect(await late.waitForOutput(containing: "starting workers"))
        late.send(SIGTERM)
        let lateExit = await late.finish(timeout: .seconds(60))
        #expect(!lateExit.bySignal && lateExit.status == 0, "status \(lateExit.status): \(lateExit.stderr.suffix(2000))")
        #expect(lateExit.stdout.contains("mir run: stopped"))
        #expect(lateExit.stderr.contains("released the lease"), "\(lateExit.stderr.suffix(2000))")
        #expect(try await Self.leaseHolder(kubectl).isEmpty, "the lease is released on shutdown")
    }
}
