import Foundation
import Logging
import Synchronization

/// A thread-safe cache of objects keyed by `namespace/name` (or `name` for cluster-scoped objects), with
/// client-go's indexers: each named index function maps an object to index values, kept up to date under the same
/// lock as the objects, so `keys(inIndex:value:)` costs what it returns, not the size of the cache.
public final class ObjectStore<Object: Sendable>: Sendable {
    /// An index function: the index values of an object (client-go's `IndexFunc`).
    public typealias IndexFunction = @Sendable (Object) -> [String]

    private struct Contents {
        var objects: [String: Object] = [:]
        /// index name → index value → object keys.
        var indices: [String: [String: Set<String>]] = [:]
    }
    private let contents = Mutex(Contents())
    private let indexers: [String: IndexFunction]

    public init(indexers: [String: IndexFunction] = [:]) {
        self.indexers = indexers
    }

    public func get(_ key: String) -> Object? { contents.withLock { $0.objects[key] } }
    public var all: [Object] { contents.withLock { Array($0.objects.values) } }
    public var keys: [String] { contents.withLock { Array($0.objects.keys) } }
    public var count: Int { contents.withLock { $0.objects.count } }

    /// Keys of the objects whose index function `index` gives `value` (empty for an unknown index).
    public func keys(inIndex index: String, value: String) -> Set<String> {
        contents.withLock { $0.indices[index]?[value] ?? [] }
    }

    /// The values index `index` holds (each names at least one object); costs what it returns.
    public func values(ofIndex index: String) -> [String] {
        contents.withLock { $0.indices[index].map { Array($0.keys) } ?? [] }
    }

    /// The objects whose index function `index` gives `value`.
    public func objects(inIndex index: String, value: String) -> [Object] {
        contents.withLock { c in (c.indices[index]?[value] ?? []).compactMap { c.objects[$0] } }
    }

    /// Stores `object` under `key`, re-indexing it; returns the object it replaced.
    @discardableResult
    public func put(_ key: String, _ object: Object) -> Object? {
        let indexers = self.indexers
        return contents.withLock { c in
            let previous = c.objects.updateValue(object, forKey: key)
            if let previous { Self.unindex(key, previous, from: &c, indexers) }
            Self.index(key, object, into: &c, indexers)
            return previous
        }
    }

    /// Removes `key`; returns the object it held.
    @discardableResult
    public func remove(_ key: String) -> Object? {
        let indexers = self.indexers
        return contents.withLock { c in
            guard let previous = c.objects.removeValue(forKey: key) else { return nil }
            Self.unindex(key, previous, from: &c, indexers)
            return previous
        }
    }

    /// Replaces the whole content (re-indexing it); returns the previous content.
    @discardableResult
    public func replace(_ new: [String: Object]) -> [String: Object] {
        let indexers = self.indexers
        return contents.withLock { c in
            let old = c.objects
            c = Contents(objects: new)
            for (key, object) in new { Self.index(key, object, into: &c, indexers) }
            return old
        }
    }

    private static func index(_ key: String, _ object: Object, into c: inout Contents, _ indexers: [String: IndexFunction]) {
        for (name, function) in indexers {
            for value in function(object) { c.indices[name, default: [:]][value, default: []].insert(key) }
        }
    }

    private static func unindex(_ key: String, _ object: Object, from c: inout Contents, _ indexers: [String: IndexFunction]) {
        for (name, function) in indexers {
            for value in function(object) {
                c.indices[name]?[value]?.remove(key)
                if c.indices[name]?[value]?.isEmpty == true { c.indices[name]?[value] = nil }
            }
        }
    }
}

/// A change seen by a reflector. Indirect: an event is a pointer in the stream's buffer, not a slot as large as two
/// objects — a buffer that held the initial list's 10,000 adds would otherwise keep that size for good.
public indirect enum ReflectorEvent<Object: Sendable>: Sendable {
    case added(Object)
    case updated(old: Object, new: Object)
    case deleted(Object)
    /// The first complete list has been stored in the cache.
    case synced
}

/// Lists then watches one resource type, keeping `store` current and publishing changes on `events` — the
/// client-go Reflector contract: watch from the list's resourceVersion with bookmarks, track the version of every
/// event, re-watch from the last version after a clean end of stream, relist on 410 Expired/Gone, and back off
/// 800 ms doubling to 30 s with jitter after failures.
public final class Reflector<Object: KubeResource>: Sendable {
    public let store: ObjectStore<Object>
    /// Changes in the order they were applied to `store`. Single consumer; buffered without bound.
    public let events: AsyncStream<ReflectorEvent<Object>>
    private let continuation: AsyncStream<ReflectorEvent<Object>>.Continuation
    private let client: KubeClient
    private let namespace: String?
    private let labelSelector: String?
    private let fieldSelector: String?
    private let pageSize: Int
    private let watchTimeoutSeconds: ClosedRange<Int>
    private let clock: any KubeClock
    private let backoff: Mutex<ExponentialBackoff>
    private let logger: Logger
    private let transform: (@Sendable (Object) -> Object)?
    private let state = Mutex(State())

    private struct State {
        var lastResourceVersion: String?
        var hasSynced = false
        var lists = 0
        var watches = 0
    }

    /// - Parameters:
    ///   - namespace: nil watches all namespaces (and cluster-scoped types).
    ///   - watchTimeoutSeconds: the server-side watch timeout is drawn from this range (client-go: 300…600 s).
    ///   - indexers: the store's index functions (client-go's `Indexers`).
    ///   - transform: applied to every object before it is stored or published (controller-runtime's
    ///     `TransformFunc`): keep only what the controller reads, so the cache holds less. Nil keeps objects whole.
    public init(client: KubeClient, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
                indexers: [String: ObjectStore<Object>.IndexFunction] = [:], transform: (@Sendable (Object) -> Object)? = nil,
                pageSize: Int = 500, watchTimeoutSeconds: ClosedRange<Int> = 300...600, clock: any KubeClock = SystemKubeClock(),
                backoff: ExponentialBackoff = .reflector, logger: Logger = Logger(label: "mir.reflector")) {
        self.client = client
        self.transform = transform
        self.store = ObjectStore(indexers: indexers)
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.pageSize = pageSize
        self.watchTimeoutSeconds = watchTimeoutSeconds
        self.clock = clock
        self.backoff = Mutex(backoff)
        self.logger = logger
        (events, continuation) = AsyncStream<ReflectorEvent<Object>>.makeStream()
    }

    /// The resourceVersion of the last list or event applied.
    public var lastResourceVersion: String? { state.withLock { $0.lastResourceVersion } }
    /// True once the first list is in the cache.
    public var hasSynced: Bool { state.withLock { $0.hasSynced } }
    /// How many lists (initial + relists) and watch requests have been made.
    public var listCount: Int { state.withLock { $0.lists } }
    public var watchCount: Int { state.withLock { $0.watches } }

    /// Runs until the calling task is cancelled, then finishes `events`.
    public func run() async {
        defer { continuation.finish() }
        var needList = true
        while !Task.isCancelled {
            if needList {
                do {
                    try await listIntoStore()
                    needList = false
                } catch {
                    if Task.isCancelled { return }
                    logger.warning("list \(Object.resourceType) failed: \(error)")
                    guard await sleepBackoff() else { return }
                    continue
                }
            }
            let outcome = await watchOnce()
            switch outcome {
            case .ended:
                continue
            case .gone:
                needList = true
            case .failed(let error):
                if Task.isCancelled { return }
                logger.warning("watch \(Object.resourceType) failed: \(error)")
                if let apiError = error as? KubeAPIError, apiError.isGone { needList = true }
                if lastResourceVersion == nil { needList = true }
                guard await sleepBackoff() else { return }
            case .cancelled:
                return
            }
        }
    }

    private enum WatchOutcome {
        case ended, gone, failed(Error), cancelled
    }

    private func listIntoStore() async throws {
        state.withLock { $0.lists += 1 }
        let list = try await client.listAll(Object.self, namespace: namespace,
                                            options: ListOptions(labelSelector: labelSelector, fieldSelector: fieldSelector),
                                            pageSize: pageSize, transform: transform)
        let items = list.items
        var fresh: [String: Object] = [:]
        for item in items { fresh[item.metadata.key] = item }
        let old = store.replace(fresh)
        for object in items {
            let key = object.metadata.key
            if let previous = old[key] {
                if previous.metadata.resourceVersion != object.metadata.resourceVersion {
                    continuation.yield(.updated(old: previous, new: object))
                }
            } else {
                continuation.yield(.added(object))
            }
        }
        for (key, object) in old where fresh[key] == nil { continuation.yield(.deleted(object)) }
        let firstSync = state.withLock { s -> Bool in
            s.lastResourceVersion = list.metadata.resourceVersion
            defer { s.hasSynced = true }
            return !s.hasSynced
        }
        if firstSync { continuation.yield(.synced) }
    }

    private func watchOnce() async -> WatchOutcome {
        let resourceVersion = lastResourceVersion
        state.withLock { $0.watches += 1 }
        let options = WatchOptions(resourceVersion: resourceVersion, labelSelector: labelSelector, fieldSelector: fieldSelector,
                                   timeoutSeconds: Int.random(in: watchTimeoutSeconds), allowWatchBookmarks: true)
        let started = clock.now()
        var sawEvent = false
        do {
            for try await event in client.watch(Object.self, namespace: namespace, options: options) {
                sawEvent = true
                switch event {
                case .added(let received), .modified(let received):
                    let object = transform?(received) ?? received
                    let previous = store.put(object.metadata.key, object)
                    setVersion(object.metadata.resourceVersion)
                    continuation.yield(previous.map { .updated(old: $0, new: object) } ?? .added(object))
                case .deleted(let received):
                    let object = transform?(received) ?? received
                    store.remove(object.metadata.key)
                    setVersion(object.metadata.resourceVersion)
                    continuation.yield(.deleted(object))
                case .bookmark(let version):
                    setVersion(version)
                case .error(let error):
                    return error.isGone ? .gone : .failed(error)
                }
            }
        } catch {
            if Task.isCancelled { return .cancelled }
            return .failed(error)
        }
        if Task.isCancelled { return .cancelled }
        // A watch that ends in under a second without events is treated as a failure (client-go: "very short watch").
        if !sawEvent && clock.now() - started < .seconds(1) {
            return .failed(KubeClientError(operation: "watch \(Object.resourceType)", message: "very short watch: ended with no events"))
        }
        return .ended
    }

    private func setVersion(_ version: String?) {
        guard let version, !version.isEmpty else { return }
        state.withLock { $0.lastResourceVersion = version }
    }

    /// Sleeps for the next backoff delay; false when cancelled.
    private func sleepBackoff() async -> Bool {
        let delay = backoff.withLock { $0.next(now: clock.now()) }
        do {
            try await clock.sleep(for: delay)
            return true
        } catch {
            return false
        }
    }
}
