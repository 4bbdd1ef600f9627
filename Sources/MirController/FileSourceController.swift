import Foundation
import Logging
import MirBuild
import MirCore
import MirModel
import MirRegistry
import MirSpec
import ServiceLifecycle
import Synchronization

/// `mir run --source files:DIR`: a GitOps directory as the source of ManagedImages. The directory is re-read when
/// its files change (checked every `pollInterval`) and at least every `interval`; each pass runs the same
/// Observer → Planner → Applier as `mir apply`. A pass with spec errors deletes nothing (the view is partial); an empty
/// directory deletes nothing unless `allowEmpty`; a removed spec's repository is deleted only when the spec was absent
/// in two reads at least one `interval` apart (a half-written checkout or a git-sync swap does not prune).
public final class FileSourceController: Service, Sendable {
    public let paths: [String]
    public let config: MirConfig
    public let registry: any ImageRegistry
    public let builder: any ImageBuilder
    public let records: any BuildRecordStore
    public let interval: Duration
    public let pollInterval: Duration
    let logger: Logger
    private let passes = Mutex(0)
    /// Deletions wait for a second read without the spec, at least one interval after the first.
    private let debounce: Mutex<DeletionDebounce>
    /// Whether a pass has read the directory and looked at the registry (readiness: `/readyz`'s `informer-sync`).
    public var hasSynced: Bool { passes.withLock { $0 > 0 } }

    public init(paths: [String], config: MirConfig, registry: any ImageRegistry, builder: any ImageBuilder,
                records: any BuildRecordStore, interval: Duration = .seconds(60), pollInterval: Duration = .seconds(2),
                logger: Logger = Logger(label: "mir.files")) {
        self.paths = paths
        self.config = config
        self.registry = MeteredRegistry(registry)
        self.builder = builder
        self.records = records
        self.interval = interval
        self.pollInterval = pollInterval
        self.logger = logger
        self.debounce = Mutex(DeletionDebounce(minimumAbsence: interval))
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.runUntilCancelled() }
    }

    public func runUntilCancelled() async {
        var lastFingerprint: String?
        var lastPass = ContinuousClock.now - interval
        while !Task.isCancelled {
            let fingerprint = Self.fingerprint(paths)
            if fingerprint != lastFingerprint || ContinuousClock.now - lastPass >= interval {
                lastFingerprint = fingerprint
                lastPass = ContinuousClock.now
                do { _ = try await pass() } catch { logger.error("reconcile pass failed: \(error)") }
            }
            do { try await Task.sleep(for: pollInterval) } catch { return }
        }
    }

    /// One reconcile pass over the directory.
    public func pass() async throws -> ApplyReport {
        let started = ContinuousClock.now
        let loaded = SpecLoader.load(paths: paths, config: config)
        for d in loaded.diagnostics where d.severity == .error { logger.error("\(d.description)") }
        let invalid = Set(loaded.errors.compactMap(\.image))
        let valid = loaded.images.filter { !invalid.contains($0.name) }
        let resolved = try DesiredStateResolver.resolve(valid, config: config)
        let desired = DesiredState(images: resolved, isComplete: loaded.isComplete, repositoryPrefix: config.repositoryPrefix,
                                   platformVersion: config.platformVersion, ownership: .files(config))
        let observed = try await Observer(registry: registry, records: records).observe(desired)
        let planned = Planner.plan(desired: desired, observed: observed, options: PlanOptions(
            forceDelete: config.forceDeleteRepositories, allowEmpty: config.allowEmpty, maxDeletionFraction: config.maxDeletionFraction))
        let now = ContinuousClock.now
        let plan = debounce.withLock { $0.filter(planned, desired: desired, observed: observed, now: now) }
        for warning in plan.warnings { logger.warning("\(warning.description)") }
        let report = await Applier(registry: registry, builder: builder, records: records, maxConcurrentBuilds: config.maxConcurrentBuilds)
            .apply(plan, desired: desired, observed: observed)
        ControllerMetrics.reconciled(result: report.failures.isEmpty ? "success" : "error", duration: ContinuousClock.now - started)
        passes.withLock { $0 += 1 }
        for failure in report.failures { logger.error("\(failure.message)") }
        return report
    }

    /// Names, sizes and modification times of the YAML files under `paths`.
    static func fingerprint(_ paths: [String]) -> String {
        let fm = FileManager.default
        var entries: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            let files = isDirectory.boolValue ? ((fm.subpaths(atPath: path) ?? []).map { path + "/" + $0 }) : [path]
            for file in files.sorted() {
                guard let attributes = try? fm.attributesOfItem(atPath: file) else { continue }
                let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
                entries.append("\(file)|\(attributes[.size] ?? 0)|\(modified)")
            }
        }
        return entries.joined(separator: "\n")
    }
}
