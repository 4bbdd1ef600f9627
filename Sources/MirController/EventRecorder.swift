import Foundation
import KubeClient
import Logging
import MirModel
import Synchronization

/// Records core/v1 Events about ManagedImages (reportingComponent `mir`). Like client-go's recorder, a repeat of the
/// same (object, type, reason, message) updates the existing Event's `count` and `lastTimestamp` instead of creating
/// a new one. Events never fail a reconcile: errors are logged.
public final class EventRecorder: Sendable {
    public static let component = "mir"
    let client: KubeClient
    /// Cluster-scoped objects get their events here (client-go uses `default`).
    let namespace: String
    let instance: String
    let logger: Logger
    private let seen = Mutex<[String: (name: String, count: Int, first: Date)]>([:])

    public init(client: KubeClient, namespace: String = "default", instance: String, logger: Logger = Logger(label: "mir.events")) {
        self.client = client
        self.namespace = namespace
        self.instance = instance
        self.logger = logger
    }

    public enum EventType: String, Sendable { case normal = "Normal", warning = "Warning" }

    public func record(_ object: ManagedImageResource, _ type: EventType, reason: String, message: String) async {
        let uid = object.metadata.uid ?? ""
        let objectName = object.metadata.name ?? ""
        let key = [uid, type.rawValue, reason, message].joined(separator: "\u{1}")
        let now = Date()
        let previous = seen.withLock { $0[key] }
        if let previous {
            let count = previous.count + 1
            do {
                let patch: JSONValue = .object(["count": .number(Double(count)), "lastTimestamp": .string(KubeJSON.formatTime(now))])
                let _: Event = try await client.patch(Event.self, name: previous.name, namespace: namespace, patch: .merge(patch))
                seen.withLock { $0[key] = (previous.name, count, previous.first) }
                return
            } catch let error as KubeAPIError where error.isNotFound {
                // Expired on the server: create a new one below.
            } catch {
                logger.warning("update event \(reason) for \(objectName): \(error)")
                return
            }
        }
        let name = "\(objectName).\(String(UInt64(now.timeIntervalSince1970 * 1_000_000_000), radix: 16))"
        var event = Event(
            metadata: ObjectMeta(name: name, namespace: namespace),
            involvedObject: ObjectReference(apiVersion: ManagedImageResource.apiVersion, kind: ManagedImageResource.kind,
                                            name: objectName, uid: uid, resourceVersion: object.metadata.resourceVersion),
            reason: reason, message: String(message.prefix(1024)))
        event.source = Event.Source(component: Self.component)
        event.firstTimestamp = now
        event.lastTimestamp = now
        event.count = 1
        event.type = type.rawValue
        event.reportingComponent = Self.component
        event.reportingInstance = instance
        do {
            _ = try await client.create(event, namespace: namespace)
            seen.withLock { $0[key] = (name, 1, now) }
        } catch {
            logger.warning("create event \(reason) for \(objectName): \(error)")
        }
    }
}
