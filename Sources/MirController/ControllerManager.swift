import Foundation
import KubeClient
import Logging
import MirBuild
import MirCore
import MirModel
import MirRegistry
import ServiceLifecycle
import Synchronization

/// Options of `mir run --source cluster`.
public struct ControllerOptions: Sendable {
    public var maxConcurrentReconciles: Int
    /// Every image is reconciled again this often (jittered by up to +10%), to catch registry drift.
    public var resyncPeriod: Duration
    /// Resync adds are spread this far apart, so a resync never floods the registry.
    public var resyncSpread: Duration
    /// nil: no leader election (a single replica).
    public var leaderElection: LeaderElectionConfig?
    /// How soon an image waiting for a slot or a parent looks again.
    public var waitInterval: Duration

    public init(maxConcurrentReconciles: Int = 2, resyncPeriod: Duration = .seconds(600), resyncSpread: Duration = .milliseconds(50),
                leaderElection: LeaderElectionConfig? = nil, waitInterval: Duration = .seconds(5)) {
        self.maxConcurrentReconciles = maxConcurrentReconciles
        self.resyncPeriod = resyncPeriod
        self.resyncSpread = resyncSpread
        self.leaderElection = leaderElection
        self.waitInterval = waitInterval
    }
}

/// Wires the controller: reflectors for ManagedImages and mir's build Jobs → a rate-limited work queue → workers
/// running `ManagedImageReconciler`, plus a periodic resync; under a Lease when leader election is on (only the
/// leader reconciles, so only the leader writes). A `Service`: it stops on graceful shutdown (SIGTERM).
public final class ControllerManager: Service, Sendable {
    public let client: KubeClient
    public let reconciler: ManagedImageReconciler
    public let options: ControllerOptions
    public let queue: WorkQueue<String>
    let config: MirConfig
    let logger: Logger
    public let elector: LeaderElector?
    /// The informer caches: every ManagedImage (indexed by the parent its spec names), and mir's build Jobs (label
    /// selector) in the build namespace.
    let images: Reflector<ManagedImageResource>
    let jobs: Reflector<CachedBuildJob>
    /// The reconciler's view of the caches; its decoded-spec memo is shared with the event loop.
    public let view: CachedClusterView
    /// Finds repositories whose ManagedImage is gone, once per resync period (leader only).
    public let collector: RegistryGarbageCollector
    private struct State {
        var reconciles = 0
        var activeWorkers = 0
        /// Each image's last seen phase and the counts per phase (`mir_images`), kept per event in O(1).
        var phases: [String: ImagePhase] = [:]
        var phaseCounts: [ImagePhase: Int] = [:]
        var gcPasses = 0
        var lastGC: RegistryGarbageCollector.Report?
    }
    private let state = Mutex(State())
    /// How many reconciles this manager ran (only a leader runs any).
    public var reconcileCount: Int { state.withLock { $0.reconciles } }
    /// Garbage-collection passes run, and the last one's report.
    public var garbageCollectionPasses: Int { state.withLock { $0.gcPasses } }
    public var lastGarbageCollection: RegistryGarbageCollector.Report? { state.withLock { $0.lastGC } }
    /// Whether both informer caches have listed once (readiness: `/readyz`'s `informer-sync`).
    public var hasSynced: Bool { images.hasSynced && jobs.hasSynced }

    public init(client: KubeClient, registry: any ImageRegistry, config: MirConfig, options: ControllerOptions,
                logger: Logger = Logger(label: "mir.controller")) {
        self.client = client
        self.config = config
        self.options = options
        self.logger = logger
        let identity = options.leaderElection?.identity ?? LeaderElectionConfig.defaultIdentity()
        let images = Reflector<ManagedImageResource>(client: client, indexers: CachedClusterView.imageIndexers,
                                                     transform: CacheTransforms.managedImage, logger: logger)
        let jobs = Reflector<CachedBuildJob>(client: client, namespace: config.builder.buildNamespace,
                                  labelSelector: ClusterBuildRecordStore.jobSelector, indexers: CachedClusterView.jobIndexers,
                                  transform: CacheTransforms.buildJob, logger: logger)
        self.images = images
        self.jobs = jobs
        let view = CachedClusterView(images: images.store, jobs: jobs.store)
        self.view = view
        let metered = MeteredRegistry(registry)
        self.reconciler = ManagedImageReconciler(
            client: client, registry: metered, config: config,
            scheduler: BuildScheduler(maxConcurrentBuilds: config.maxConcurrentBuilds),
            events: EventRecorder(client: client, instance: identity),
            view: view, waitInterval: options.waitInterval, logger: logger)
        self.collector = RegistryGarbageCollector(registry: metered, config: config,
                                                  options: PlanOptions(forceDelete: config.forceDeleteRepositories), logger: logger)
        self.queue = WorkQueue<String>(metrics: ControllerMetrics.Queue())
        self.elector = options.leaderElection.map { LeaderElector(client: client, config: $0, logger: logger) }
    }

    /// Runs until cancelled or graceful shutdown; with leader election, also returns when leadership is lost.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await self.runUntilCancelled()
        }
        if let elector, await elector.lostLeadership {
            throw LeaderElectionLost(lease: "\(elector.config.namespace)/\(elector.config.leaseName)", identity: elector.config.identity)
        }
    }

    /// Runs until the calling task is cancelled (or leadership is lost). A manager runs once.
    ///
    /// On cancellation (SIGTERM): the queue shuts down so workers take no more work, in-flight reconciles are
    /// cancelled at their next await, the reflectors stop, and the Lease is released before this returns.
    public func runUntilCancelled() async {
        let images = self.images
        let jobs = self.jobs
        let queue = self.queue
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await images.run() }
            group.addTask { await jobs.run() }
            group.addTask {
                for await event in images.events {
                    switch event {
                    case .added(let o):
                        await self.enqueue(o.metadata.name, queue: queue)
                        self.notePhase(of: o)
                    case .deleted(let o):
                        await self.enqueue(o.metadata.name, queue: queue)
                        self.forget(o)
                    case .updated(let old, let new):
                        // Status-only updates (our own writes) change neither generation, annotations, finalizers nor deletion.
                        if old.metadata.generation != new.metadata.generation || old.metadata.annotations != new.metadata.annotations
                            || old.metadata.deletionTimestamp != new.metadata.deletionTimestamp || old.metadata.finalizers != new.metadata.finalizers
                            || old.status?.imageTag != new.status?.imageTag {
                            await self.enqueue(new.metadata.name, queue: queue)
                        }
                        self.notePhase(of: new)
                    case .synced: break
                    }
                }
            }
            group.addTask {
                for await event in jobs.events {
                    let job: Job?
                    var over = false
                    switch event {
                    case .added(let j): job = j.job
                    case .deleted(let j): job = j.job; over = true
                    case .updated(_, let j): job = j.job
                    case .synced: job = nil
                    }
                    guard let job, let image = job.metadata.labels?[BuildJobManifest.imageLabel] else { continue }
                    if over || JobOutcomeClassifier.classify(job: job, pods: []).isFinished { self.reconciler.scheduler.release(image) }
                    await self.enqueue(image, queue: queue)
                    // A finished build frees a slot: let waiting images ask again.
                    for waiting in self.reconciler.scheduler.waitingImages { await queue.add(waiting) }
                }
            }
            group.addTask { await self.resyncLoop(images.store) }
            group.addTask {
                if let elector = self.elector {
                    await elector.run { await self.runWorkers() }
                } else {
                    await self.runWorkers()
                }
            }
            // Stop everything when cancelled or when the leader loop returns (leadership lost).
            await group.next()
            await queue.shutDown()
            group.cancelAll()
        }
    }

    /// Queues `name` and, from the children index, the images built on it (an index lookup, not a scan).
    func enqueue(_ name: String?, queue: WorkQueue<String>) async {
        guard let name else { return }
        await queue.add(name)
        for child in view.childNames(of: name) { await queue.add(child) }
    }

    /// Tracks phase counts for `mir_images` per event (O(1), not a scan of the cache).
    func notePhase(of object: ManagedImageResource) {
        guard let name = object.metadata.name else { return }
        let phase = object.status?.phase.flatMap(ImagePhase.init(rawValue:))
        let counts = state.withLock { s -> [ImagePhase: Int]? in
            let old = s.phases[name]
            guard old != phase else { return nil }
            if let old { s.phaseCounts[old, default: 0] -= 1 }
            if let phase { s.phaseCounts[phase, default: 0] += 1 }
            s.phases[name] = phase
            return s.phaseCounts
        }
        if let counts { ControllerMetrics.images(byPhase: counts) }
    }

    func forget(_ object: ManagedImageResource) {
        guard let name = object.metadata.name else { return }
        view.specs.forget(name)
        let counts = state.withLock { s -> [ImagePhase: Int]? in
            guard let old = s.phases.removeValue(forKey: name) else { return nil }
            s.phaseCounts[old, default: 0] -= 1
            return s.phaseCounts
        }
        if let counts { ControllerMetrics.images(byPhase: counts) }
    }

    /// Re-adds every image periodically (jittered, spread out) to catch drift behind mir's back.
    func resyncLoop(_ store: ObjectStore<ManagedImageResource>) async {
        while !Task.isCancelled {
            let jitter = options.resyncPeriod * Double.random(in: 0...0.1)
            do { try await Task.sleep(for: options.resyncPeriod + jitter) } catch { return }
            for (index, key) in store.keys.sorted().enumerated() {
                await queue.addAfter(key, delay: options.resyncSpread * index)
            }
        }
    }

    /// Garbage collection once the caches have synced, then once per resync period (leader only: it deletes).
    func garbageCollectionLoop() async {
        while !Task.isCancelled {
            await collectGarbage()
            let jitter = options.resyncPeriod * Double.random(in: 0...0.1)
            do { try await Task.sleep(for: options.resyncPeriod + jitter) } catch { return }
        }
    }

    /// One garbage-collection pass over the repositories under the prefix.
    @discardableResult
    public func collectGarbage() async -> RegistryGarbageCollector.Report? {
        let names = Set(images.store.keys)
        do {
            let report = try await collector.collect(images: names, complete: hasSynced)
            state.withLock { $0.gcPasses += 1; $0.lastGC = report }
            return report
        } catch {
            if !Task.isCancelled { logger.warning("garbage collection failed: \(error)") }
            return nil
        }
    }

    /// Reports the work queue's work in progress every 500 ms (as client-go does).
    func queueMetricsLoop() async {
        while !Task.isCancelled {
            await queue.reportInProgress()
            do { try await Task.sleep(for: .milliseconds(500)) } catch { return }
        }
    }

    /// `maxConcurrentReconciles` workers, started once the caches have synced (as controller-runtime does); returns
    /// when cancelled (in-flight reconciles are cancelled too). The reflectors' initial adds have queued every image.
    public func runWorkers() async {
        ControllerMetrics.maxConcurrentReconciles(options.maxConcurrentReconciles)
        while !hasSynced {
            do { try await Task.sleep(for: .milliseconds(20)) } catch { return }
        }
        logger.info("caches synced; starting workers", metadata: [
            "managedimages": "\(images.store.count)", "jobs": "\(jobs.store.count)", "workers": "\(options.maxConcurrentReconciles)"])
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, options.maxConcurrentReconciles) {
                group.addTask { await self.worker() }
            }
            group.addTask { await self.garbageCollectionLoop() }
            group.addTask { await self.queueMetricsLoop() }
            await group.waitForAll()  // children are cancelled with the calling task
        }
    }

    func worker() async {
        while !Task.isCancelled, let key = await queue.get() {
            let started = ContinuousClock.now
            ControllerMetrics.activeWorkers(state.withLock { $0.reconciles += 1; $0.activeWorkers += 1; return $0.activeWorkers })
            do {
                let result = try await reconciler.reconcile(key)
                await queue.forget(key)
                switch result {
                case .done: ControllerMetrics.reconciled(result: "success", duration: ContinuousClock.now - started)
                case .requeueAfter(let delay):
                    ControllerMetrics.reconciled(result: "requeue_after", duration: ContinuousClock.now - started)
                    await queue.addAfter(key, delay: delay)
                }
            } catch {
                if Task.isCancelled {
                    ControllerMetrics.activeWorkers(state.withLock { $0.activeWorkers -= 1; return $0.activeWorkers })
                    await queue.done(key)
                    return
                }
                logger.warning("reconcile \(key) failed: \(error)")
                ControllerMetrics.reconciled(result: "error", duration: ContinuousClock.now - started)
                await queue.addRateLimited(key)
            }
            ControllerMetrics.activeWorkers(state.withLock { $0.activeWorkers -= 1; return $0.activeWorkers })
            await queue.done(key)
        }
    }
}
