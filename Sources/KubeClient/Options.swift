import Foundation
import MirModel

/// Options for list calls.
public struct ListOptions: Sendable, Hashable {
    public var labelSelector: String?
    public var fieldSelector: String?
    /// Page size; nil lists everything in one response.
    public var limit: Int?
    public var `continue`: String?
    public var resourceVersion: String?
    public var resourceVersionMatch: String?

    public init(labelSelector: String? = nil, fieldSelector: String? = nil, limit: Int? = nil, continue: String? = nil,
                resourceVersion: String? = nil, resourceVersionMatch: String? = nil) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
        self.continue = `continue`
        self.resourceVersion = resourceVersion
        self.resourceVersionMatch = resourceVersionMatch
    }

    var query: [(String, String)] {
        var q: [(String, String)] = []
        if let labelSelector { q.append(("labelSelector", labelSelector)) }
        if let fieldSelector { q.append(("fieldSelector", fieldSelector)) }
        if let limit { q.append(("limit", String(limit))) }
        if let c = `continue` { q.append(("continue", c)) }
        if let resourceVersion { q.append(("resourceVersion", resourceVersion)) }
        if let resourceVersionMatch { q.append(("resourceVersionMatch", resourceVersionMatch)) }
        return q
    }
}

/// Options for watch calls.
public struct WatchOptions: Sendable, Hashable {
    /// Start after this version; nil or "0" starts with synthetic ADDED events for current objects.
    public var resourceVersion: String?
    public var labelSelector: String?
    public var fieldSelector: String?
    /// Server-side end of the watch (a clean EOF).
    public var timeoutSeconds: Int?
    public var allowWatchBookmarks: Bool

    public init(resourceVersion: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
                timeoutSeconds: Int? = nil, allowWatchBookmarks: Bool = true) {
        self.resourceVersion = resourceVersion
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.timeoutSeconds = timeoutSeconds
        self.allowWatchBookmarks = allowWatchBookmarks
    }

    var query: [(String, String)] {
        var q: [(String, String)] = [("watch", "true")]
        if let resourceVersion { q.append(("resourceVersion", resourceVersion)) }
        if allowWatchBookmarks { q.append(("allowWatchBookmarks", "true")) }
        if let timeoutSeconds { q.append(("timeoutSeconds", String(timeoutSeconds))) }
        if let labelSelector { q.append(("labelSelector", labelSelector)) }
        if let fieldSelector { q.append(("fieldSelector", fieldSelector)) }
        return q
    }
}

/// How dependents are deleted.
public enum PropagationPolicy: String, Sendable, Hashable, Codable {
    case background = "Background"
    case foreground = "Foreground"
    case orphan = "Orphan"
}

/// `metav1.DeleteOptions`.
public struct DeleteOptions: Sendable, Hashable, Encodable {
    public struct Preconditions: Sendable, Hashable, Codable {
        public var uid: String?
        public var resourceVersion: String?
        public init(uid: String? = nil, resourceVersion: String? = nil) {
            self.uid = uid
            self.resourceVersion = resourceVersion
        }
    }

    /// nil uses the server default, except for Jobs, which are always deleted with `Background`.
    public var propagationPolicy: PropagationPolicy?
    public var gracePeriodSeconds: Int?
    public var preconditions: Preconditions?
    public var dryRun: Bool

    public init(propagationPolicy: PropagationPolicy? = nil, gracePeriodSeconds: Int? = nil,
                preconditions: Preconditions? = nil, dryRun: Bool = false) {
        self.propagationPolicy = propagationPolicy
        self.gracePeriodSeconds = gracePeriodSeconds
        self.preconditions = preconditions
        self.dryRun = dryRun
    }

    private enum CodingKeys: String, CodingKey { case kind, apiVersion, propagationPolicy, gracePeriodSeconds, preconditions, dryRun }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("DeleteOptions", forKey: .kind)
        try c.encode("v1", forKey: .apiVersion)
        try c.encodeIfPresent(propagationPolicy, forKey: .propagationPolicy)
        try c.encodeIfPresent(gracePeriodSeconds, forKey: .gracePeriodSeconds)
        try c.encodeIfPresent(preconditions, forKey: .preconditions)
        if dryRun { try c.encode(["All"], forKey: .dryRun) }
    }
}

/// A patch body; the case selects the `Content-Type`.
public enum Patch: Sendable, Hashable {
    /// RFC 7386 JSON merge patch (`null` deletes a key).
    case merge(JSONValue)
    /// RFC 6902 JSON patch: a list of operations.
    case json([JSONValue])
    /// Strategic merge patch (built-in kinds only).
    case strategicMerge(JSONValue)

    var contentType: String {
        switch self {
        case .merge: "application/merge-patch+json"
        case .json: "application/json-patch+json"
        case .strategicMerge: "application/strategic-merge-patch+json"
        }
    }

    var body: JSONValue {
        switch self {
        case .merge(let v), .strategicMerge(let v): v
        case .json(let ops): .array(ops)
        }
    }
}

/// One event of a watch stream (indirect: a pointer in the stream's buffer, whatever the size of the object).
public indirect enum WatchEvent<Object: Sendable>: Sendable {
    case added(Object)
    case modified(Object)
    case deleted(Object)
    /// A progress marker: everything up to this version has been delivered.
    case bookmark(resourceVersion: String)
    /// An `ERROR` event (e.g. 410 Expired); the server closes the stream after it.
    case error(KubeAPIError)
}
