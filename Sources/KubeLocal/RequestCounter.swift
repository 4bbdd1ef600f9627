import KubeRBAC
import Synchronization

/// Counts the API requests the control plane serves, by Kubernetes verb and resource, so tests and benchmarks can
/// measure what a client costs (e.g. a controller's resync). Keys read `"<verb> <resource>[/<subresource>]"`, e.g.
/// `"list managedimages"`, `"update managedimages/status"`, `"watch jobs"`.
public final class RequestCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    private let distinct = Mutex<Set<RecordedRequest>>([])

    public init() {}

    func record(verb: String, resource: String) {
        counts.withLock { $0["\(verb) \(resource)", default: 0] += 1 }
    }

    func record(_ request: RecordedRequest) {
        record(verb: request.verb, resource: request.resource + (request.subresource.map { "/" + $0 } ?? ""))
        _ = distinct.withLock { $0.insert(request) }
    }

    /// Every distinct request since the start (or the last ``reset()``), with the attributes Kubernetes RBAC
    /// evaluates, e.g. to check a Role grants what a client needs and no more.
    public var requests: Set<RecordedRequest> { distinct.withLock { $0 } }

    /// The counts since the start (or the last ``reset()``).
    public var snapshot: [String: Int] { counts.withLock { $0 } }

    /// Every request counted.
    public var total: Int { counts.withLock { $0.values.reduce(0, +) } }

    public func reset() {
        counts.withLock { $0 = [:] }
        distinct.withLock { $0 = [] }
    }
}

/// One resource request as Kubernetes authorization sees it (KubeRBAC's `ResourceRequest`: verb, API group, resource,
/// subresource, namespace, and name — absent for create, list, watch and deletecollection, as in RBAC), and the
/// client's User-Agent.
@dynamicMemberLookup
public struct RecordedRequest: Sendable, Hashable, CustomStringConvertible {
    public var attributes: ResourceRequest
    public var userAgent: String

    public init(verb: String, apiGroup: String, resource: String, subresource: String? = nil, namespace: String? = nil,
                name: String? = nil, userAgent: String = "") {
        self.attributes = ResourceRequest(verb: verb, apiGroup: apiGroup, resource: resource, subresource: subresource,
                                          namespace: namespace, name: name)
        self.userAgent = userAgent
    }

    public subscript<T>(dynamicMember keyPath: KeyPath<ResourceRequest, T>) -> T { attributes[keyPath: keyPath] }

    public var description: String { attributes.description }
}
