import CoreMetrics
import Metrics

/// Metric names and label sets mir emits through swift-metrics (documented in docs/metrics.md).
///
/// The controller-runtime and client-go names are kept verbatim so existing dashboards and alerts work.
/// Emit durations with swift-metrics `Timer` (Prometheus renders them in seconds with the buckets in
/// ``Telemetry/durationHistogramBuckets``), counts with `Counter`, and levels with `Gauge`.
/// The helpers below return handles with the labels in the documented order.
public enum MirMetrics {
    // MARK: controller-runtime (per controller)

    /// Counter `{controller, result}`; result is one of ``ReconcileResult``.
    public static let reconcileTotal = "controller_runtime_reconcile_total"
    /// Counter `{controller}`: reconciles that returned an error.
    public static let reconcileErrors = "controller_runtime_reconcile_errors_total"
    /// Counter `{controller}`: reconciles that returned a terminal (not requeued) error.
    public static let terminalReconcileErrors = "controller_runtime_terminal_reconcile_errors_total"
    /// Counter `{controller}`: reconciles that panicked (crashed and were recovered).
    public static let reconcilePanics = "controller_runtime_reconcile_panics_total"
    /// Histogram (Timer) `{controller}`, buckets 5 ms … 60 s.
    public static let reconcileTime = "controller_runtime_reconcile_time_seconds"
    /// Gauge `{controller}`.
    public static let maxConcurrentReconciles = "controller_runtime_max_concurrent_reconciles"
    /// Gauge `{controller}`.
    public static let activeWorkers = "controller_runtime_active_workers"

    // MARK: client-go workqueue, labelled {name, controller}

    /// Gauge: items waiting in the queue.
    public static let workqueueDepth = "workqueue_depth"
    /// Counter: items added.
    public static let workqueueAdds = "workqueue_adds_total"
    /// Histogram (Timer): time an item waited before being processed, buckets 1e-8 × 10^k s.
    public static let workqueueQueueDuration = "workqueue_queue_duration_seconds"
    /// Histogram (Timer): time spent processing an item, buckets 1e-8 × 10^k s.
    public static let workqueueWorkDuration = "workqueue_work_duration_seconds"
    /// Gauge: seconds of work in progress not yet observed by work_duration.
    public static let workqueueUnfinishedWork = "workqueue_unfinished_work_seconds"
    /// Gauge: seconds the longest running processor has been running.
    public static let workqueueLongestRunningProcessor = "workqueue_longest_running_processor_seconds"
    /// Counter: rate-limited re-adds.
    public static let workqueueRetries = "workqueue_retries_total"

    // MARK: leader election and the API client

    /// Gauge `{name}`: 1 while this process holds the lease `name`, else 0.
    public static let leaderElectionMasterStatus = "leader_election_master_status"
    /// Counter `{code, method, host}`: Kubernetes API requests by HTTP status code.
    public static let restClientRequests = "rest_client_requests_total"

    // MARK: mir's own

    /// Counter `{result, reason}`: finished builds; result is one of ``BuildResult``, reason is the build reason
    /// (`BuildReason` raw value, e.g. `missing`, `platform`, `parent`, `inputs`).
    public static let builds = "mir_builds_total"
    /// Histogram (Timer) `{result}`: build wall time, buckets 1 s … 1 h.
    public static let buildDuration = "mir_build_duration_seconds"
    /// Counter `{outcome}`: rebuilds asked for because a build succeeded but its tag was not in the registry mir
    /// observes (`PushNotVisible`); outcome `started`, `backoff` (waiting for the per-(image, tag) backoff) or
    /// `capped` (the hourly cap was reached).
    public static let pushNotVisibleRebuilds = "mir_push_not_visible_rebuilds_total"
    /// Gauge (no labels): items in mir's reconcile queue (the same number as `workqueue_depth`, without labels, for
    /// simple alerts).
    public static let queueDepth = "mir_queue_depth"
    /// Counter `{operation, code}`: ECR API calls; operation is the ECR action (`DescribeImages`, …), code is
    /// `OK` or the ECR error code (`RepositoryNotFoundException`, `ThrottlingException`, …).
    public static let ecrCalls = "mir_ecr_calls_total"
    /// Histogram (Timer) `{operation}`: ECR call latency including retries, buckets 5 ms … 30 s.
    public static let ecrCallDuration = "mir_ecr_call_duration_seconds"
    /// Gauge `{phase}`: ManagedImages by `status.phase` (every phase is reported, 0 when none).
    public static let images = "mir_images"

    /// Counter (no labels): ManagedImages read from the controller's cache (by name, or through the children index).
    /// Per reconcile it is the image's ancestor chain plus its children, whatever the size of the fleet.
    public static let cacheObjectsRead = "mir_cache_objects_read_total"
    /// Counter (no labels): ManagedImage specs decoded from JSON — at most once per object and resourceVersion.
    public static let specDecodes = "mir_spec_decodes_total"

    /// The `code` label value for a successful ECR call.
    public static let ecrSuccessCode = "OK"

    /// The `result` label of ``reconcileTotal``, as controller-runtime spells it.
    public enum ReconcileResult: String, Sendable, CaseIterable {
        case success
        case error
        case requeue
        case requeueAfter = "requeue_after"
    }

    /// The `result` label of ``builds`` and ``buildDuration``.
    public enum BuildResult: String, Sendable, CaseIterable {
        case succeeded
        case failed
        case cancelled
    }

    // MARK: handles

    /// `controller_runtime_reconcile_total{controller,result}`.
    public static func reconcileTotal(controller: String, result: ReconcileResult) -> Counter {
        Counter(label: reconcileTotal, dimensions: [("controller", controller), ("result", result.rawValue)])
    }

    /// `controller_runtime_reconcile_errors_total{controller}`.
    public static func reconcileErrors(controller: String) -> Counter {
        Counter(label: reconcileErrors, dimensions: [("controller", controller)])
    }

    /// `controller_runtime_terminal_reconcile_errors_total{controller}`.
    public static func terminalReconcileErrors(controller: String) -> Counter {
        Counter(label: terminalReconcileErrors, dimensions: [("controller", controller)])
    }

    /// `controller_runtime_reconcile_panics_total{controller}`.
    public static func reconcilePanics(controller: String) -> Counter {
        Counter(label: reconcilePanics, dimensions: [("controller", controller)])
    }

    /// `controller_runtime_reconcile_time_seconds{controller}`.
    public static func reconcileTime(controller: String) -> CoreMetrics.Timer {
        CoreMetrics.Timer(label: reconcileTime, dimensions: [("controller", controller)])
    }

    /// `controller_runtime_max_concurrent_reconciles{controller}`.
    public static func maxConcurrentReconciles(controller: String) -> Gauge {
        Gauge(label: maxConcurrentReconciles, dimensions: [("controller", controller)])
    }

    /// `controller_runtime_active_workers{controller}`.
    public static func activeWorkers(controller: String) -> Gauge {
        Gauge(label: activeWorkers, dimensions: [("controller", controller)])
    }

    /// The `{name, controller}` labels of the workqueue metrics (controller-runtime names the queue after the
    /// controller, so both are usually equal).
    public static func workqueueDimensions(name: String, controller: String) -> [(String, String)] {
        [("controller", controller), ("name", name)]
    }

    /// `workqueue_depth{name,controller}`.
    public static func workqueueDepth(name: String, controller: String) -> Gauge {
        Gauge(label: workqueueDepth, dimensions: workqueueDimensions(name: name, controller: controller))
    }

    /// `workqueue_adds_total{name,controller}`.
    public static func workqueueAdds(name: String, controller: String) -> Counter {
        Counter(label: workqueueAdds, dimensions: workqueueDimensions(name: name, controller: controller))
    }

    /// `workqueue_retries_total{name,controller}`.
    public static func workqueueRetries(name: String, controller: String) -> Counter {
        Counter(label: workqueueRetries, dimensions: workqueueDimensions(name: name, controller: controller))
    }

    /// `workqueue_queue_duration_seconds{name,controller}`.
    public static func workqueueQueueDuration(name: String, controller: String) -> CoreMetrics.Timer {
        CoreMetrics.Timer(label: workqueueQueueDuration, dimensions: workqueueDimensions(name: name, controller: controller))
    }

    /// `workqueue_work_duration_seconds{name,controller}`.
    public static func workqueueWorkDuration(name: String, controller: String) -> CoreMetrics.Timer {
        CoreMetrics.Timer(label: workqueueWorkDuration, dimensions: workqueueDimensions(name: name, controller: controller))
    }

    /// `workqueue_unfinished_work_seconds{name,controller}`.
    public static func workqueueUnfinishedWork(name: String, controller: String) -> Gauge {
        Gauge(label: workqueueUnfinishedWork, dimensions: workqueueDimensions(name: name, controller: controller))
    }

    /// `workqueue_longest_running_processor_seconds{name,controller}`.
    public static func workqueueLongestRunningProcessor(name: String, controller: String) -> Gauge {
        Gauge(label: workqueueLongestRunningProcessor, dimensions: workqueueDimensions(name: name, controller: controller))
    }

    /// `leader_election_master_status{name}`.
    public static func leaderElectionMasterStatus(name: String) -> Gauge {
        Gauge(label: leaderElectionMasterStatus, dimensions: [("name", name)])
    }

    /// `rest_client_requests_total{code,method,host}`.
    public static func restClientRequests(code: Int, method: String, host: String) -> Counter {
        Counter(label: restClientRequests, dimensions: [("code", String(code)), ("host", host), ("method", method)])
    }

    /// `mir_builds_total{result,reason}`.
    public static func builds(result: BuildResult, reason: String) -> Counter {
        Counter(label: builds, dimensions: [("reason", reason), ("result", result.rawValue)])
    }

    /// `mir_build_duration_seconds{result}`.
    public static func buildDuration(result: BuildResult) -> CoreMetrics.Timer {
        CoreMetrics.Timer(label: buildDuration, dimensions: [("result", result.rawValue)])
    }

    /// `mir_queue_depth`.
    public static func queueDepthGauge() -> Gauge {
        Gauge(label: queueDepth)
    }

    /// `mir_ecr_calls_total{operation,code}`; pass `code: nil` for success.
    public static func ecrCalls(operation: String, code: String?) -> Counter {
        Counter(label: ecrCalls, dimensions: [("code", code ?? ecrSuccessCode), ("operation", operation)])
    }

    /// `mir_ecr_call_duration_seconds{operation}`.
    public static func ecrCallDuration(operation: String) -> CoreMetrics.Timer {
        CoreMetrics.Timer(label: ecrCallDuration, dimensions: [("operation", operation)])
    }

    /// `mir_images{phase}`.
    public static func images(phase: String) -> Gauge {
        Gauge(label: images, dimensions: [("phase", phase)])
    }
}
