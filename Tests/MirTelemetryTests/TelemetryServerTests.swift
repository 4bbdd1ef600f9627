import AsyncHTTPClient
import NIOHTTP1
import Metrics
import MirTelemetry
import NIOCore
import Prometheus
import Testing

@Suite("TelemetryServer over HTTP on 127.0.0.1")
struct TelemetryServerTests {
    @Test("separate listeners: metrics serves only /metrics, probes only /healthz and /readyz; others are 404")
    func separateListeners() async throws {
        let registry = PrometheusCollectorRegistry()
        registry.makeCounter(name: "probe_counter_total").increment(by: Int64(3))
        try await withServer(registry: registry, checks: HealthChecks.standard()) { addresses in
            let metrics = try baseURL(addresses.metrics)
            let probes = try baseURL(addresses.probes)
            #expect(metrics != probes)

            let scrape = try await get(metrics + "/metrics")
            #expect(scrape.status == 200)
            #expect(scrape.body.contains("probe_counter_total 3"))
            #expect(scrape.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)

            #expect(try await get(metrics + "/healthz").status == 404)
            #expect(try await get(probes + "/metrics").status == 404)
            #expect(try await get(probes + "/nope").status == 404)
            #expect(try await get(probes + "/healthz/ping/extra").status == 404)

            let healthz = try await get(probes + "/healthz")
            #expect(healthz.status == 200)
            #expect(healthz.body == "ok")
            #expect(healthz.header("Connection")?.lowercased() == "close")
        }
    }

    @Test("readyz fails with the verbose body until caches sync, then passes; leading does not matter")
    func readinessFollowsSync() async throws {
        let checks = HealthChecks.standard()
        try await withServer(checks: checks, sharedListener: true) { addresses in
            let url = try baseURL(addresses.probes)
            #expect(addresses.probes == addresses.metrics)

            let before = try await get(url + "/readyz")
            #expect(before.status == 500)
            #expect(before.body == "[-]informer-sync failed: reason withheld\n[+]ping ok\nhealthz check failed\n")
            #expect(!before.body.contains("caches have not synced"))

            let single = try await get(url + "/readyz/informer-sync")
            #expect(single.status == 500)
            #expect(single.body == "internal server error: caches have not synced yet\n")

            // Liveness is independent of readiness.
            #expect(try await get(url + "/healthz").status == 200)

            checks.markSynced()
            let after = try await get(url + "/readyz")
            #expect(after.status == 200)
            #expect(after.body == "ok")
            #expect(!checks.isLeading)

            checks.setLeading(true)
            #expect(try await get(url + "/readyz").body == "ok")
            #expect(try await get(url + "/readyz/informer-sync").body == "ok")
            #expect(try await get(url + "/metrics").status == 200)
        }
    }

    @Test("?verbose lists every check; ?exclude skips failing ones and warns about unknown names")
    func verboseAndExclude() async throws {
        let checks = HealthChecks()
        checks.add("ping", to: .healthz) {}
        checks.add("disk", to: .healthz) { throw HealthCheckFailure("disk full") }
        try await withServer(checks: checks) { addresses in
            let url = try baseURL(addresses.probes)

            let failing = try await get(url + "/healthz")
            #expect(failing.status == 500)
            #expect(failing.body == "[-]disk failed: reason withheld\n[+]ping ok\nhealthz check failed\n")

            let excluded = try await get(url + "/healthz?exclude=disk")
            #expect(excluded.status == 200)
            #expect(excluded.body == "ok")

            let verbose = try await get(url + "/healthz?verbose&exclude=disk&exclude=ghost")
            #expect(verbose.status == 200)
            #expect(verbose.body == """
                [+]disk excluded: ok
                [+]ping ok
                warn: some health checks cannot be excluded: no matches for "ghost"
                healthz check passed

                """)

            #expect(try await get(url + "/healthz/ping").body == "ok")
            #expect(try await get(url + "/healthz/missing").status == 404)
            // A probe without checks reports a passing ping.
            let readyz = try await get(url + "/readyz?verbose")
            #expect(readyz.body == "[+]ping ok\nhealthz check passed\n")
        }
    }

    @Test("HEAD has no body, other methods are 405")
    func methods() async throws {
        try await withServer(checks: HealthChecks()) { addresses in
            let url = try baseURL(addresses.probes)
            let head = try await get(url + "/healthz", method: .HEAD)
            #expect(head.status == 200)
            #expect(head.body.isEmpty)
            #expect(try await get(url + "/healthz", method: .POST).status == 405)
        }
    }

    @Test("metrics emitted through swift-metrics appear with controller-runtime's names, labels and buckets")
    func emittedMetricsAreServed() async throws {
        let registry = PrometheusCollectorRegistry()
        Self.emitSample(into: registry)
        let text = try await withServer(registry: registry, checks: HealthChecks()) { addresses in
            let reply = try await get(try baseURL(addresses.metrics) + "/metrics")
            #expect(reply.status == 200)
            return reply.body
        }
        Self.checkSample(text)
    }

    /// Emits through swift-metrics with a task-local factory (no process-wide bootstrap in tests).
    static func emitSample(into registry: PrometheusCollectorRegistry) {
        withMetricsFactory(Telemetry.makeMetricsFactory(registry: registry)) {
            MirMetrics.reconcileTotal(controller: "managedimage", result: .success).increment(by: 2)
            MirMetrics.reconcileTotal(controller: "managedimage", result: .error).increment()
            MirMetrics.reconcileErrors(controller: "managedimage").increment()
            MirMetrics.reconcileTime(controller: "managedimage").recordMilliseconds(30)
            // The controller records seconds through a Recorder: same buckets.
            Recorder(label: MirMetrics.workqueueWorkDuration, dimensions: [("name", "managedimage")]).record(0.002)
            MirMetrics.workqueueDepth(name: "managedimage", controller: "managedimage").record(4)
            MirMetrics.leaderElectionMasterStatus(name: "mir-controller").record(1)
            MirMetrics.builds(result: .failed, reason: "platform").increment()
            // Labels given in another order land on the same series.
            Counter(label: MirMetrics.ecrCalls, dimensions: [("operation", "DescribeImages"), ("code", "OK")]).increment()
            MirMetrics.ecrCalls(operation: "DescribeImages", code: nil).increment()
            MirMetrics.ecrCalls(operation: "CreateRepository", code: "RepositoryAlreadyExistsException").increment()
            MirMetrics.images(phase: "Ready").record(7)
            MirMetrics.queueDepthGauge().record(4)
        }
    }

    static func checkSample(_ text: String) {
        let lines = Set(text.split(separator: "\n").map(String.init))
        let expected = [
            #"controller_runtime_reconcile_total{controller="managedimage",result="success"} 2"#,
            #"controller_runtime_reconcile_total{controller="managedimage",result="error"} 1"#,
            #"controller_runtime_reconcile_errors_total{controller="managedimage"} 1"#,
            #"controller_runtime_reconcile_time_seconds_bucket{controller="managedimage",le="0.025"} 0"#,
            #"controller_runtime_reconcile_time_seconds_bucket{controller="managedimage",le="0.05"} 1"#,
            #"controller_runtime_reconcile_time_seconds_bucket{controller="managedimage",le="60.0"} 1"#,
            #"controller_runtime_reconcile_time_seconds_count{controller="managedimage"} 1"#,
            #"workqueue_work_duration_seconds_bucket{name="managedimage",le="0.001"} 0"#,
            #"workqueue_work_duration_seconds_bucket{name="managedimage",le="0.01"} 1"#,
            #"workqueue_work_duration_seconds_bucket{name="managedimage",le="1000.0"} 1"#,
            #"workqueue_depth{controller="managedimage",name="managedimage"} 4.0"#,
            #"leader_election_master_status{name="mir-controller"} 1.0"#,
            #"mir_builds_total{reason="platform",result="failed"} 1"#,
            #"mir_ecr_calls_total{code="OK",operation="DescribeImages"} 2"#,
            #"mir_ecr_calls_total{code="RepositoryAlreadyExistsException",operation="CreateRepository"} 1"#,
            #"mir_images{phase="Ready"} 7.0"#,
            "mir_queue_depth 4.0",
            "# TYPE controller_runtime_reconcile_time_seconds histogram",
            "# TYPE controller_runtime_reconcile_total counter",
        ]
        for line in expected {
            #expect(lines.contains(line), "missing: \(line)\n\(text)")
        }
        #expect(text.contains("controller_runtime_reconcile_time_seconds_bucket{controller=\"managedimage\",le=\"0.005\"}"))
        #expect(text.contains("workqueue_work_duration_seconds_bucket{name=\"managedimage\",le=\"1.0e-08\"}")
            || text.contains("workqueue_work_duration_seconds_bucket{name=\"managedimage\",le=\"1e-08\"}"))
    }

    @Test("binding a port in use fails with a typed error and listeningAddresses() stops waiting")
    func bindFailure() async throws {
        try await withServer(checks: HealthChecks()) { addresses in
            let port = try #require(addresses.metrics?.port)
            let taken = BindAddress(host: "127.0.0.1", port: port)
            let second = TelemetryServer(configuration: .single(taken), registry: PrometheusCollectorRegistry(),
                                         healthChecks: HealthChecks())
            await #expect(throws: TelemetryServerError.self) { try await second.run() }
            await #expect(throws: TelemetryServerError.self) { _ = try await second.listeningAddresses() }
        }
    }
}
