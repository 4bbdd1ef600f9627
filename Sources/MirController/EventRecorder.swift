import Foundation
import KubeClient
import Logging
import MirModel
import Synchronization

/// Records core/v1 Events about ManagedImages (reportingComponent `mir`), correlated as client-go's recorder
/// (`tools/record`) does, so repeats do not pile up:
/// - a repeat of the same (object, type, reason, message) patches the existing Event's `count`, `lastTimestamp` and
///   `message` instead of creating a new one (`firstTimestamp` stays);
/// - more than 10 different messages for the same (object, type, reason) within 10 minutes are combined into one Event
///   whose message starts with "(combined from similar events): ";
/// - what it remembers is bounded (an LRU of 4096 entries, as client-go's).
/// client-go's spam filter (25 events per object, then one per 5 minutes) is not applied: every repeat is counted.
/// Events never fail a reconcile: errors are logged. The API server removes Events an hour after their last write.
public final class EventRecorder: Sendable {
    public static let component = "mir"
    let client: KubeClient
    /// Cluster-scoped objects get their events here (client-go uses `default`).
    let namespace: String
    let instance: String
    let logger: Logger
    private let clock: @Sendable () -> Date
    private let correlator = Mutex(EventCorrelator())

    public init(client: KubeClient, namespace: String = "default", instance: String, logger: Logger = Logger(label: "mir.events"),
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.client = client
        self.namespace = namespace
        self.instance = instance
        self.logger = logger
        self.clock = clock
    }

    public enum EventType: String, Sendable { case normal = "Normal", warning = "Warning" }

    public func record(_ object: ManagedImageResource, _ type: EventType, reason: String, message: String) async {
        let uid = object.metadata.uid ?? ""
        let objectName = object.metadata.name ?? ""
        let now = clock()
        let occurrence = EventCorrelator.Occurrence(
            involvedObject: EventCorrelator.ObjectIdentity(apiVersion: ManagedImageResource.apiVersion, kind: ManagedImageResource.kind,
                                                           namespace: object.metadata.namespace ?? "", name: objectName, uid: uid),
            type: type.rawValue, reason: reason, message: String(message.prefix(1024)))
        let decision = correlator.withLock { $0.correlate(occurrence, now: now) }
        if case .update(let name, let count, _, let message) = decision.action {
            do {
                let patch: JSONValue = .object(["count": .number(Double(count)), "lastTimestamp": .string(KubeJSON.formatTime(now)),
                                                "message": .string(message)])
                let _: Event = try await client.patch(Event.self, name: name, namespace: namespace, patch: .merge(patch))
                correlator.withLock { $0.recorded(decision.key, name: name, count: count) }
                return
            } catch let error as KubeAPIError where error.isNotFound {
                // Expired (TTL) or deleted on the server: create a new one below.
                correlator.withLock { $0.forget(decision.key) }
            } catch {
                logger.warning("update event \(reason) for \(objectName): \(error)")
                return
            }
        }
        let message: String
        let first: Date
        let count: Int
        switch decision.action {
        case .create(let m): (message, first, count) = (m, now, 1)
        case .update(_, _, _, let m): (message, first, count) = (m, now, 1)
        }
        let name = "\(objectName).\(String(UInt64(now.timeIntervalSince1970 * 1_000_000_000), radix: 16))"
        var event = Event(
            metadata: ObjectMeta(name: name, namespace: namespace),
            involvedObject: ObjectReference(apiVersion: ManagedImageResource.apiVersion, kind: ManagedImageResource.kind,
                                            name: objectName, uid: uid, resourceVersion: object.metadata.resourceVersion),
            reason: reason, message: message)
        event.source = Event.Source(component: Self.component)
        event.firstTimestamp = first
        event.lastTimestamp = now
        event.count = count
        event.type = type.rawValue
        event.reportingComponent = Self.component
        event.reportingInstance = instance
        do {
            _ = try await client.create(event, namespace: namespace)
            correlator.withLock { $0.recorded(decision.key, name: name, count: count, first: first) }
        } catch {
            logger.warning("create event \(reason) for \(objectName): \(error)")
        }
    }
}

/// client-go's event correlation (`tools/record/events_cache.go`) as a value: which Event an occurrence becomes.
/// Pure (the time is passed in), so it is tested without a server.
struct EventCorrelator: Sendable {
    struct ObjectIdentity: Sendable, Hashable {
        var apiVersion: String
        var kind: String
        var namespace: String
        var name: String
        var uid: String
    }

    struct Occurrence: Sendable, Hashable {
        var involvedObject: ObjectIdentity
        var type: String
        var reason: String
        var message: String
    }

    /// The key an Event is remembered by: the occurrence itself, or, once combined, its (object, type, reason).
    enum Key: Sendable, Hashable {
        case event(Occurrence)
        case aggregate(ObjectIdentity, type: String, reason: String)
    }

    enum Action: Sendable, Equatable {
        /// Create a new Event with this message (count 1).
        case create(message: String)
        /// Patch the Event `name` to this count, keeping its `firstTimestamp`.
        case update(name: String, count: Int, firstTimestamp: Date, message: String)
    }

    struct Decision: Sendable, Equatable {
        var key: Key
        var action: Action
    }

    /// client-go's defaults: more than `maxSimilar` messages per (object, type, reason) within `similarInterval` are combined.
    static let maxSimilar = 10
    static let similarInterval: TimeInterval = 600
    static let combinedPrefix = "(combined from similar events): "

    private struct Aggregate {
        var messages: Set<String>
        var last: Date
    }

    private struct Logged {
        var name: String
        var count: Int
        var first: Date
    }

    private var aggregates = LRUCache<Key, Aggregate>(capacity: 4096)
    private var logged = LRUCache<Key, Logged>(capacity: 4096)

    init() {}

    /// Decides what `occurrence` at `now` becomes.
    mutating func correlate(_ occurrence: Occurrence, now: Date) -> Decision {
        let aggregateKey = Key.aggregate(occurrence.involvedObject, type: occurrence.type, reason: occurrence.reason)
        var record = aggregates[aggregateKey] ?? Aggregate(messages: [], last: now)
        if now.timeIntervalSince(record.last) > Self.similarInterval { record = Aggregate(messages: [], last: now) }
        record.messages.insert(occurrence.message)
        record.last = now
        var key = Key.event(occurrence)
        var message = occurrence.message
        if record.messages.count >= Self.maxSimilar {
            // Do not grow the set any further (client-go pops one); from now on the similar events share one Event.
            record.messages.remove(occurrence.message)
            key = aggregateKey
            message = Self.combinedPrefix + occurrence.message
        }
        aggregates[aggregateKey] = record
        if let previous = logged[key] {
            return Decision(key: key, action: .update(name: previous.name, count: previous.count + 1, firstTimestamp: previous.first, message: message))
        }
        return Decision(key: key, action: .create(message: message))
    }

    /// The server accepted the Event `name` with `count` (after a create, `first` is its firstTimestamp).
    mutating func recorded(_ key: Key, name: String, count: Int, first: Date? = nil) {
        let firstTimestamp = first ?? logged[key]?.first ?? Date()
        logged[key] = Logged(name: name, count: count, first: firstTimestamp)
    }

    /// The Event behind `key` is gone on the server.
    mutating func forget(_ key: Key) { logged[key] = nil }

    /// How many Events it remembers (bounded by the LRU's capacity).
    var rememberedCount: Int { logged.count }
}

/// A small least-recently-used map: reads and writes refresh an entry; past `capacity` the oldest entry goes.
/// Amortized O(1): recency is a queue of (key, tick) with stale ticks skipped.
struct LRUCache<Key: Hashable, Value> {
    let capacity: Int
    private var entries: [Key: (value: Value, tick: UInt64)] = [:]
    private var order: [(key: Key, tick: UInt64)] = []
    private var head = 0
    private var tick: UInt64 = 0

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    var count: Int { entries.count }

    subscript(key: Key) -> Value? {
        mutating get {
            guard let entry = entries[key] else { return nil }
            touch(key, entry.value)
            return entry.value
        }
        set {
            guard let newValue else {
                entries[key] = nil
                return
            }
            touch(key, newValue)
            while entries.count > capacity, head < order.count {
                let oldest = order[head]
                head += 1
                if entries[oldest.key]?.tick == oldest.tick { entries[oldest.key] = nil }
            }
            if head > 1024 && head * 2 > order.count {
                order.removeFirst(head)
                head = 0
            }
        }
    }

    private mutating func touch(_ key: Key, _ value: Value) {
        tick += 1
        entries[key] = (value, tick)
        order.append((key, tick))
    }
}

extension LRUCache: Sendable where Key: Sendable, Value: Sendable {}
