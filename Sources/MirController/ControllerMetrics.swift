import Foundation
import Metrics
import MirCore
import MirRegistry
import Synchronization

/// The metrics mir emits through swift-metrics (the backend is bootstrapped elsewhere): controller-runtime's names
/// for reconciles, the work queue and leader election, plus mir's own.
public enum ControllerMetrics {
    public static let controllerName = "managedimage"

    private static let override = Mutex<(any MetricsFactory)?>(nil)
    /// Routes mir's metrics to `factory` instead of the bootstrapped `MetricsSystem` (nil restores it). For tests.
    public static func useFactory(_ factory: (any MetricsFactory)?) { override.withLock { $0 = factory } }
    static var factory: any MetricsFactory { override.withLock { $0 } ?? MetricsSystem.factory }

    public static func reconciled(result: String, seconds: Double) {
        Counter(label: "controller_runtime_reconcile_total", dimensions: [("controller", controllerName), ("result", result)], factory: factory).increment()
        Recorder(label: "controller_runtime_reconcile_time_seconds", dimensions: [("controller", controllerName)], aggregate: true, factory: factory).record(seconds)
        if result == "error" {
            Counter(label: "controller_runtime_reconcile_errors_total", dimensions: [("controller", controllerName)], factory: factory).increment()
        }
    }

    public static func activeWorkers(_ count: Int) {
        Gauge(label: "controller_runtime_active_workers", dimensions: [("controller", controllerName)], factory: factory).record(count)
    }

    public static func maxConcurrentReconciles(_ count: Int) {
        Gauge(label: "controller_runtime_max_concurrent_reconciles", dimensions: [("controller", controllerName)], factory: factory).record(count)
    }

    public static func queueDepth(_ depth: Int) {
        Gauge(label: "workqueue_depth", dimensions: [("name", controllerName)], factory: factory).record(depth)
        Gauge(label: "mir_queue_depth", dimensions: [], factory: factory).record(depth)
    }

    public static func queueAdd() {
        Counter(label: "workqueue_adds_total", dimensions: [("name", controllerName)], factory: factory).increment()
    }

    public static func queueRetry() {
        Counter(label: "workqueue_retries_total", dimensions: [("name", controllerName)], factory: factory).increment()
    }

    public static func workDuration(seconds: Double) {
        Recorder(label: "workqueue_work_duration_seconds", dimensions: [("name", controllerName)], aggregate: true, factory: factory).record(seconds)
    }

    public static func leader(_ isLeader: Bool, lease: String) {
        Gauge(label: "leader_election_master_status", dimensions: [("name", lease)], factory: factory).record(isLeader ? 1 : 0)
    }

    /// A build finished (`result`: succeeded, failed) or started (`started`), with its reason.
    public static func build(result: String, reason: String) {
        Counter(label: "mir_builds_total", dimensions: [("result", result), ("reason", reason)], factory: factory).increment()
    }

    public static func registryCall(operation: String, code: String) {
        Counter(label: "mir_ecr_calls_total", dimensions: [("operation", operation), ("code", code)], factory: factory).increment()
    }

    public static func images(byPhase counts: [ImagePhase: Int]) {
        for phase in ImagePhase.allCases {
            Gauge(label: "mir_images", dimensions: [("phase", phase.rawValue)], factory: factory).record(counts[phase] ?? 0)
        }
    }
}

/// An `ImageRegistry` that counts every call by operation and error code (`mir_ecr_calls_total`).
public struct MeteredRegistry: ImageRegistry {
    public let base: any ImageRegistry
    public init(_ base: any ImageRegistry) { self.base = base }
    public var displayName: String { base.displayName }

    private func call<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        do {
            let value = try await body()
            ControllerMetrics.registryCall(operation: operation, code: "OK")
            return value
        } catch let error as RegistryError {
            ControllerMetrics.registryCall(operation: operation, code: error.code.rawValue)
            throw error
        } catch {
            ControllerMetrics.registryCall(operation: operation, code: "Unknown")
            throw error
        }
    }

    public func describeRepositories(names: [String]?, maxResults: Int?, nextToken: String?) async throws -> Page<RepositoryDescription> {
        try await call("DescribeRepositories") { try await base.describeRepositories(names: names, maxResults: maxResults, nextToken: nextToken) }
    }
    public func createRepository(name: String, tags: [ResourceTag]) async throws -> RepositoryDescription {
        try await call("CreateRepository") { try await base.createRepository(name: name, tags: tags) }
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
