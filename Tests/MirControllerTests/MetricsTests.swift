import Foundation
import KubeClient
import MetricsTestKit
import MirController
import Testing

/// The metric names and labels of issue 5 §2, emitted while a ManagedImage is created and built under a Lease.
/// The factory override is process-wide and other suites run in parallel, so counts are lower bounds.
@Suite(.serialized) struct MetricsTests {
    @Test func reconcilesBuildsRegistryCallsQueueAndLeadershipAreMeasured() async throws {
        let metrics = TestMetrics()
        ControllerMetrics.useFactory(metrics)
        defer { ControllerMetrics.useFactory(nil) }
        let h = try await ControllerHarness(buildDelay: .milliseconds(50))
        defer { Task { await h.stop() } }
        let run = h.start(h.manager(options: ControllerOptions(
            leaderElection: LeaderElectionConfig(namespace: "default", leaseName: "metrics-lease", identity: "metrics", leaseDuration: .seconds(2),
                                                 renewDeadline: .milliseconds(1500), retryPeriod: .milliseconds(200)),
            waitInterval: .milliseconds(200))))
        try await h.create("measured", spec: spec())
        try await h.waitFor("measured", "Ready") { $0.status?.phase == "Ready" }
        try await Task.sleep(for: .milliseconds(300))

        let controller = ("controller", "managedimage")
        #expect(try metrics.expectCounter("controller_runtime_reconcile_total", [controller, ("result", "success")]).totalValue > 0)
        #expect(try !metrics.expectTimer("controller_runtime_reconcile_time_seconds", [controller]).values.isEmpty)
        let queue = [controller, ("name", "managedimage")]
        #expect(try metrics.expectCounter("workqueue_adds_total", queue).totalValue > 0)
        #expect(try metrics.expectGauge("workqueue_depth", queue).lastValue != nil)
        #expect(try !metrics.expectTimer("workqueue_work_duration_seconds", queue).values.isEmpty)
        #expect(try !metrics.expectTimer("workqueue_queue_duration_seconds", queue).values.isEmpty)
        #expect(try metrics.expectGauge("workqueue_unfinished_work_seconds", queue).lastValue != nil)
        #expect(try metrics.expectGauge("workqueue_longest_running_processor_seconds", queue).lastValue != nil)
        #expect(try metrics.expectCounter("mir_spec_decodes_total", []).totalValue >= 1)
        #expect(try metrics.expectGauge("controller_runtime_max_concurrent_reconciles", [controller]).lastValue == 2)
        #expect(try metrics.expectGauge("controller_runtime_active_workers", [controller]).values.contains { $0 >= 1 })
        #expect(try metrics.expectGauge("leader_election_master_status", [("name", "metrics-lease")]).lastValue == 1)
        #expect(try metrics.expectCounter("mir_builds_total", [("result", "started"), ("reason", "NewImage")]).totalValue >= 1)
        #expect(try metrics.expectCounter("mir_builds_total", [("result", "succeeded"), ("reason", "NewImage")]).totalValue >= 1)
        #expect(try !metrics.expectTimer("mir_build_duration_seconds", [("result", "succeeded")]).values.isEmpty)
        #expect(try metrics.expectCounter("mir_ecr_calls_total", [("operation", "CreateRepository"), ("code", "OK")]).totalValue >= 1)
        #expect(try !metrics.expectTimer("mir_ecr_call_duration_seconds", [("operation", "CreateRepository")]).values.isEmpty)
        #expect(try metrics.expectGauge("mir_images", [("phase", "Ready")]).values.contains { $0 >= 1 })
        run.cancel()
        await run.value
        #expect(try metrics.expectGauge("leader_election_master_status", [("name", "metrics-lease")]).lastValue == 0)
    }

    /// A reconcile that fails (the build namespace does not exist) is re-added through the rate limiter:
    /// `workqueue_retries_total` counts it.
    @Test func failedReconcilesCountAsRetries() async throws {
        let metrics = TestMetrics()
        ControllerMetrics.useFactory(metrics)
        defer { ControllerMetrics.useFactory(nil) }
        let h = try await ControllerHarness(buildDelay: .milliseconds(50))
        defer { Task { await h.stop() } }
        var config = h.config
        config.builder.buildNamespace = "no-such-namespace"
        let run = h.start(h.manager(config, options: ControllerOptions(maxConcurrentReconciles: 1, waitInterval: .milliseconds(200))))
        try await h.create("retried", spec: spec())
        try await h.waitFor("retried", "BuildNotStarted") { condition($0, "Ready")?.reason == "BuildNotStarted" }
        try await Task.sleep(for: .milliseconds(100))
        let queue = [("controller", "managedimage"), ("name", "managedimage")]
        #expect(try metrics.expectCounter("workqueue_retries_total", queue).totalValue >= 1)
        #expect(try metrics.expectCounter("controller_runtime_reconcile_total", [("controller", "managedimage"), ("result", "error")]).totalValue >= 1)
        run.cancel()
        await run.value
    }
}
