import Foundation

/// What a work queue reports (client-go's `workqueue.MetricsProvider`, as controller-runtime exports it): the
/// manager maps these to `workqueue_*` metrics.
public protocol WorkQueueMetrics: Sendable {
    /// An item was put on the queue (`workqueue_adds_total`); `depth` is the new number of waiting items.
    func added(depth: Int)
    /// An item was handed to a worker after waiting `waited` (`workqueue_queue_duration_seconds`).
    func started(waited: Duration, depth: Int)
    /// A worker finished an item after `worked` (`workqueue_work_duration_seconds`).
    func finished(worked: Duration)
    /// An item was re-added through the rate limiter (`workqueue_retries_total`).
    func retried()
    /// Work in progress: the sum of the running items' ages and the oldest one's
    /// (`workqueue_unfinished_work_seconds`, `workqueue_longest_running_processor_seconds`).
    func inProgress(unfinished: Duration, longest: Duration)
}

/// A rate-limited, de-duplicating work queue with client-go / controller-runtime semantics:
/// - an item added while queued is queued once;
/// - an item added while being processed is queued again only after `done`, so no key is ever handed to two
///   workers at once;
/// - `addRateLimited` waits per the rate limiter (default: 5 ms…1000 s per item, 10 qps / burst 100 overall);
/// - `addAfter` waits on the injected clock.
public actor WorkQueue<Key: Hashable & Sendable> {
    private let clock: any KubeClock
    private var limiter: any RateLimiter<Key>
    /// Waiting items in FIFO order: `queue[head...]` (taking one is O(1); the consumed prefix is dropped in bulk).
    private var queue: [Key] = []
    private var head = 0
    private var dirty: Set<Key> = []
    private var processing: Set<Key> = []
    /// The earliest pending `addAfter` deadline per key (a later request for the same key is absorbed).
    private var waiting: [Key: Duration] = [:]
    private var waiters: [(id: UInt64, continuation: CheckedContinuation<Key?, Never>)] = []
    private var nextWaiterID: UInt64 = 0
    private var delayTasks: [Key: Task<Void, Never>] = [:]
    private var shuttingDown = false
    private let metrics: (any WorkQueueMetrics)?
    /// When each queued key was put on the queue, and when each key in process was handed out (for the metrics).
    private var addedAt: [Key: Duration] = [:]
    private var startedAt: [Key: Duration] = [:]

    public init(clock: any KubeClock = SystemKubeClock(), rateLimiter: any RateLimiter<Key> = DefaultControllerRateLimiter<Key>(),
                metrics: (any WorkQueueMetrics)? = nil) {
        self.clock = clock
        self.limiter = rateLimiter
        self.metrics = metrics
    }

    /// Items waiting to be handed out (not counting those in process or delayed).
    public var count: Int { queue.count - head }
    /// Items handed out and not yet `done`.
    public var processingCount: Int { processing.count }
    /// Items scheduled by `addAfter`/`addRateLimited` that are not yet due.
    public var delayedCount: Int { waiting.count }
    public var isShuttingDown: Bool { shuttingDown }

    /// Queues `key` now.
    public func add(_ key: Key) {
        guard !shuttingDown, !dirty.contains(key) else { return }
        dirty.insert(key)
        if processing.contains(key) { return }
        enqueue(key)
    }

    private func enqueue(_ key: Key) {
        queue.append(key)
        if metrics != nil {
            addedAt[key] = addedAt[key] ?? clock.now()
            metrics?.added(depth: count)
        }
        handOut()
    }

    /// Queues `key` after `delay` on the clock (at once when `delay` ≤ 0).
    public func addAfter(_ key: Key, delay: Duration) {
        guard !shuttingDown else { return }
        if delay <= .zero { return add(key) }
        let deadline = clock.now() + delay
        if let existing = waiting[key], existing <= deadline { return }
        waiting[key] = deadline
        let clock = self.clock
        delayTasks[key]?.cancel()
        delayTasks[key] = Task { [weak self] in
            do { try await clock.sleep(until: deadline) } catch { return }
            await self?.fire(key, deadline: deadline)
        }
    }

    /// Queues `key` after the rate limiter's delay for it (use after a failed reconcile).
    public func addRateLimited(_ key: Key) {
        metrics?.retried()
        let delay = limiter.when(key, now: clock.now())
        addAfter(key, delay: delay)
    }

    /// Clears the item's failure history (after a successful reconcile).
    public func forget(_ key: Key) { limiter.forget(key) }

    /// How many times `key` was rate-limited since the last `forget`.
    public func numRequeues(_ key: Key) -> Int { limiter.numRequeues(key) }

    /// The next item to process; waits while the queue is empty. Returns nil once the queue shuts down (or the
    /// calling task is cancelled). Call `done` when finished with the item.
    public func get() async -> Key? {
        if let key = takeNext() { return key }
        if shuttingDown || Task.isCancelled { return nil }
        nextWaiterID += 1
        let id = nextWaiterID
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                waiters.append((id, continuation))
                handOut()
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    /// Marks `key` as processed; if it was added meanwhile, it is queued again.
    public func done(_ key: Key) {
        processing.remove(key)
        if let metrics, let started = startedAt.removeValue(forKey: key) { metrics.finished(worked: clock.now() - started) }
        if dirty.contains(key) { enqueue(key) }
    }

    /// Reports the work in progress to the metrics (client-go does this every 500 ms).
    public func reportInProgress() {
        guard let metrics else { return }
        let now = clock.now()
        var total = Duration.zero
        var longest = Duration.zero
        for started in startedAt.values {
            total += now - started
            longest = max(longest, now - started)
        }
        metrics.inProgress(unfinished: total, longest: longest)
    }

    /// Stops handing out items: waiting `get` calls return nil and delayed adds are dropped.
    public func shutDown() {
        shuttingDown = true
        for task in delayTasks.values { task.cancel() }
        delayTasks = [:]
        waiting = [:]
        let pending = waiters
        waiters = []
        for waiter in pending { waiter.continuation.resume(returning: nil) }
    }

    private func fire(_ key: Key, deadline: Duration) {
        guard waiting[key] == deadline else { return }
        waiting[key] = nil
        delayTasks[key] = nil
        add(key)
    }

    private func takeNext() -> Key? {
        guard head < queue.count else { return nil }
        let key = queue[head]
        head += 1
        if head > 1024 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        processing.insert(key)
        dirty.remove(key)
        if let metrics {
            let now = clock.now()
            startedAt[key] = now
            metrics.started(waited: addedAt.removeValue(forKey: key).map { now - $0 } ?? .zero, depth: count)
        }
        return key
    }

    private func handOut() {
        while !waiters.isEmpty, let key = takeNext() {
            waiters.removeFirst().continuation.resume(returning: key)
        }
    }

    private func cancelWaiter(_ id: UInt64) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(returning: nil)
    }
}
