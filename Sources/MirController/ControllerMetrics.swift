import Foundation
import KubeClient
import Metrics
import MirCore
import MirRegistry
import MirTelemetry
import Synchronization

/// The metrics mir emits through swift-metrics (the backend is bootstrapped elsewhere): controller-runtime's names
/// for reconciles, the work queue and leader election, plus mir's own.
public enum ControllerMetrics {
    public static let controllerName = "managedimage"

    private static let override = Mutex<(any MetricsFactory)?>(nil)
    /// Routes mir's metrics to `factory` instead of the bootstrapped `MetricsSystem` (nil restores it). For tests.
    public static func useFactory(_ factory: (any MetricsFactory)?) { override.withLock { $0 = factory } }
    static var factory: any MetricsFactory { override.withLock { $0 } ?? MetricsSystem.factory }

    public static func reconciled(result: String, duration: Duration) {
        Counter(label: MirMetrics.reconcileTotal, dimensions: [("controller", controllerName), ("result", result)], factory: factory).increment()
        Timer(label: MirMetrics.reconcileTime, dimensions: [("controller", controllerName)], factory: factory).recordNanoseconds(duration.nanoseconds)
        if result == MirMetrics.ReconcileResult.error.rawValue {
            Counter(label: MirMetrics.reconcileErrors, dimensions: [("controller", controllerName)], factory: factory).increment()
        }
    }

    public static func activeWorkers(_ count: Int) {
        Gauge(label: MirMetrics.activeWorkers, dimensions: [("controller", controllerName)], factory: factory).record(count)
    }

    public static func maxConcurrentReconciles(_ count: Int) {
        Gauge(label: MirMetrics.maxConcurrentReconciles, dimensions: [("controller", controllerName)], factory: factory).record(count)
    }

    /// The workqueue metrics' `{controller, name}` labels (the queue is named after the controller).
    static var queueDimensions: [(String, String)] { MirMetrics.workqueueDimensions(name: controllerName, controller: controllerName) }

    public static func queueDepth(_ depth: Int) {
        Gauge(label: MirMetrics.workqueueDepth, dimensions: queueDimensions, factory: factory).record(depth)
        Gauge(label: MirMetrics.queueDepth, dimensions: [], factory: factory).record(depth)
    }

    public static func cacheObjectsRead(_ count: Int) {
        guard count > 0 else { return }
        Counter(label: MirMetrics.cacheObjectsRead, dimensions: [], factory: factory).increment(by: count)
    }

    public static func specDecoded() {
        Counter(label: MirMetrics.specDecodes, dimensions: [], factory: factory).increment()
    }

    /// The work queue's metrics, as controller-runtime exports client-go's (`workqueue_*{controller,name}`).
    public struct Queue: WorkQueueMetrics {
        public init() {}
        public func added(depth: Int) {
            Counter(label: MirMetrics.workqueueAdds, dimensions: ControllerMetrics.queueDimensions, factory: ControllerMetrics.factory).increment()
            ControllerMetrics.queueDepth(depth)
        }
        public func started(waited: Duration, depth: Int) {
            Timer(label: MirMetrics.workqueueQueueDuration, dimensions: ControllerMetrics.queueDimensions, factory: ControllerMetrics.factory).recordNanoseconds(waited.nanoseconds)
            ControllerMetrics.queueDepth(depth)
        }
        public func finished(worked: Duration) {
            Timer(label: MirMetrics.workqueueWorkDuration, dimensions: ControllerMetrics.queueDimensions, factory: ControllerMetrics.factory).recordNanoseconds(worked.nanoseconds)
        }
        public func retried() {
            Counter(label: MirMetrics.workqueueRetries, dimensions: ControllerMetrics.queueDimensions, factory: ControllerMetrics.factory).increment()
        }
        public func inProgress(unfinished: Duration, longest: Duration) {
            Gauge(label: MirMetrics.workqueueUnfinishedWork, dimensions: ControllerMetrics.queueDimensions, factory: ControllerMetrics.factory).record(unfinished.seconds)
            Gauge(label: MirMetrics.workqueueLongestRunningProcessor, dimensions: ControllerMetrics.queueDimensions, factory: ControllerMetrics.factory).record(longest.seconds)
        }
    }

    public static func leader(_ isLeader: Bool, lease: String) {
        Gauge(label: MirMetrics.leaderElectionMasterStatus, dimensions: [("name", lease)], factory: factory).record(isLeader ? 1 : 0)
    }

    /// A build started (`result` `started`) or finished (`succeeded`, `failed`), with its reason; a finished build
    /// also records its wall time in `mir_build_duration_seconds{result}`.
    public static func build(result: String, reason: String, duration: Duration? = nil) {
        Counter(label: MirMetrics.builds, dimensions: [("reason", reason), ("result", result)], factory: factory).increment()
        if let duration {
            Timer(label: MirMetrics.buildDuration, dimensions: [("result", result)], factory: factory).recordNanoseconds(duration.nanoseconds)
        }
    }

    /// A rebuild after `PushNotVisible`: `started`, `backoff` or `capped`.
    public static func pushNotVisibleRebuild(_ outcome: String) {
        Counter(label: MirMetrics.pushNotVisibleRebuilds, dimensions: [("outcome", outcome)], factory: factory).increment()
    }

    public static func registryCall(operation: String, code: String, duration: Duration) {
        Counter(label: MirMetrics.ecrCalls, dimensions: [("code", code), ("operation", operation)], factory: factory).increment()
        Timer(label: MirMetrics.ecrCallDuration, dimensions: [("operation", operation)], factory: factory).recordNanoseconds(duration.nanoseconds)
    }

    public static func images(byPhase counts: [ImagePhase: Int]) {
        for phase in ImagePhase.allCases {
            Gauge(label: MirMetrics.images, dimensions: [("phase", phase.rawValue)], factory: factory).record(counts[phase] ?? 0)
        }
    }
}

extension Duration {
    /// Seconds as a floating-point number.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// Whole nanoseconds (saturating), for swift-metrics timers.
    var nanoseconds: Int64 {
        let parts = components
        let (seconds, overflow) = parts.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : seconds &+ parts.attoseconds / 1_000_000_000
    }
}

/// An `ImageRegistry` that counts every call by operation and error code (`mir_ecr_calls_total`).
public struct MeteredRegistry: ImageRegistry {
    public let base: any ImageRegistry
    public init(_ base: any ImageRegistry) { self.base = base }
    public var displayName: String { base.displayName }

    private func call<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        let started = ContinuousClock.now
        do {
            let value = try await body()
            ControllerMetrics.registryCall(operation: operation, code: MirMetrics.ecrSuccessCode, duration: ContinuousClock.now - started)
            return value
        } catch let error as RegistryError {
            ControllerMetrics.registryCall(operation: operation, code: error.code.rawValue, duration: ContinuousClock.now - started)
            throw error
        } catch {
            ControllerMetrics.registryCall(operation: operation, code: "Unknown", duration: ContinuousClock.now - started)
            throw error
        }
    }

    public func describeRepositories(names: [String]?, maxResults: Int?, nextToken: String?) async throws -> Page<RepositoryDescription> {
        try await call("DescribeRepositories") { try await base.describeRepositories(names: names, maxResults: maxResults, nextToken: nextToken) }
    }
    public func createRepository(name: String, tags: [ResourceTag], imageTagMutability: ImageTagMutability) async throws -> RepositoryDescription {
        try await call("CreateRepository") { try await base.createRepository(name: name, tags: tags, imageTagMutability: imageTagMutability) }
    }
    public func deleteRepository(name: String, force: Bool) async throws -> RepositoryDescription {
        try await call("DeleteRepository") { try await base.deleteRepository(name: name, force: force) }
    }
    public func getLifecyclePolicy(repositoryName: String) async throws -> String {
        try await call("GetLifecyclePolicy") { try await base.getLifecyclePolicy(repositoryName: repositoryName) }
    }
    public func putLifecyclePolicy(repositoryName: String, policyText: String) async throws {
        try await call("PutLifecyclePolicy") { try await base.putLifecyclePolicy(repositoryName: repositoryName, policyText: policyText) }
    }
    public func deleteLifecyclePolicy(repositoryName: String) async throws {
        try await call("DeleteLifecyclePolicy") { try await base.deleteLifecyclePolicy(repositoryName: repositoryName) }
    }
    public func listImages(repositoryName: String, maxResults: Int?, nextToken: String?) async throws -> Page<ImageIdentifier> {
        try await call("ListImages") { try await base.listImages(repositoryName: repositoryName, maxResults: maxResults, nextToken: nextToken) }
    }
    public func describeImages(repositoryName: String, imageIds: [ImageIdentifier]?, maxResults: Int?, nextToken: String?) async throws -> Page<ImageDetail> {
        try await call("DescribeImages") {
            try await base.describeImages(repositoryName: repositoryName, imageIds: imageIds, maxResults: maxResults, nextToken: nextToken)
        }
    }
    public func putImage(repositoryName: String, manifest: String, tag: String) async throws -> ImageIdentifier {
        try await call("PutImage") { try await base.putImage(repositoryName: repositoryName, manifest: manifest, tag: tag) }
    }
    public func listTagsForResource(arn: String) async throws -> [ResourceTag] {
        try await call("ListTagsForResource") { try await base.listTagsForResource(arn: arn) }
    }
    public func tagResource(arn: String, tags: [ResourceTag]) async throws {
        try await call("TagResource") { try await base.tagResource(arn: arn, tags: tags) }
    }
}
