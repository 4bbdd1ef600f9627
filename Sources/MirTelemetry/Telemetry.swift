import CoreMetrics
import Metrics
import Prometheus
import Synchronization

/// Process-wide telemetry setup: the Prometheus registry behind swift-metrics.
///
/// Call ``bootstrap()`` once at start-up (it is idempotent: later calls return the same registry), then emit
/// metrics anywhere with swift-metrics (`Counter`, `Gauge`, `Timer`, …) using the names in ``MirMetrics``, and
/// serve them with ``TelemetryServer``.
public enum Telemetry {
    private static let state = Mutex<PrometheusCollectorRegistry?>(nil)

    /// Installs a Prometheus registry as the swift-metrics backend, once per process, and returns it.
    ///
    /// Histogram buckets follow controller-runtime: `controller_runtime_reconcile_time_seconds` uses
    /// ``reconcileTimeBuckets`` and the workqueue durations use ``workqueueDurationBuckets``.
    /// If another backend was already bootstrapped by someone else, swift-metrics traps; mir calls this first.
    @discardableResult
    public static func bootstrap() -> PrometheusCollectorRegistry {
        state.withLock { installed in
            if let installed { return installed }
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(makeMetricsFactory(registry: registry))
            installed = registry
            return registry
        }
    }

    /// The registry installed by ``bootstrap()``, if any.
    public static var registry: PrometheusCollectorRegistry? { state.withLock { $0 } }

    /// A swift-metrics factory writing into `registry`, with mir's histogram buckets and label ordering.
    ///
    /// Labels are sorted by name, so the same series is found whatever order a caller passes dimensions in.
    public static func makeMetricsFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        for name in durationHistogramBuckets.keys {
            factory.durationHistogramBuckets[name] = durationHistogramBuckets[name]
            factory.valueHistogramBuckets[name] = durationHistogramBuckets[name]?.map(\.seconds)
        }
        factory.nameAndLabelSanitizer = { name, labels in (name, labels.sorted { $0.0 < $1.0 }) }
        return factory
    }

    /// controller-runtime's reconcile time buckets: 5 ms … 60 s.
    public static let reconcileTimeBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(150), .milliseconds(200), .milliseconds(250), .milliseconds(300), .milliseconds(350),
        .milliseconds(400), .milliseconds(450), .milliseconds(500), .milliseconds(600), .milliseconds(700),
        .milliseconds(800), .milliseconds(900), .seconds(1), .milliseconds(1250), .milliseconds(1500),
        .milliseconds(1750), .seconds(2), .milliseconds(2500), .seconds(3), .milliseconds(3500), .seconds(4),
        .milliseconds(4500), .seconds(5), .seconds(6), .seconds(7), .seconds(8), .seconds(9), .seconds(10),
        .seconds(15), .seconds(20), .seconds(25), .seconds(30), .seconds(40), .seconds(50), .seconds(60),
    ]

    /// client-go's workqueue duration buckets: 1e-8 × 10^k seconds for k = 0…11 (10 ns … 1000 s).
    public static let workqueueDurationBuckets: [Duration] = (0...11).map { k in
        var nanoseconds: Int64 = 10
        for _ in 0..<k { nanoseconds *= 10 }
        return .nanoseconds(nanoseconds)
    }

    /// mir's build duration buckets: 1 s … 1 h.
    public static let buildDurationBuckets: [Duration] = [
        .seconds(1), .seconds(5), .seconds(15), .seconds(30), .seconds(60), .seconds(120), .seconds(300),
        .seconds(600), .seconds(1200), .seconds(1800), .seconds(3600),
    ]

    /// ECR call latency buckets: 5 ms … 30 s.
    public static let ecrCallDurationBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        .seconds(30),
    ]

    /// Buckets per histogram name; any other `Timer` gets swift-prometheus' defaults (5 ms … 10 s).
    public static let durationHistogramBuckets: [String: [Duration]] = [
        MirMetrics.reconcileTime: reconcileTimeBuckets,
        MirMetrics.workqueueQueueDuration: workqueueDurationBuckets,
        MirMetrics.workqueueWorkDuration: workqueueDurationBuckets,
        MirMetrics.buildDuration: buildDurationBuckets,
        MirMetrics.ecrCallDuration: ecrCallDurationBuckets,
    ]
}

extension Duration {
    /// The duration in (fractional) seconds.
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
