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

/// One resource request as Kubernetes authorization sees it: verb, API group, resource, subresource, namespace and
/// name (absent for create, list, watch and deletecollection, as in RBAC), and the client's User-Agent.
public struct RecordedRequest: Sendable, Hashable, CustomStringConvertible {
    public var verb: String
    public var apiGroup: String
    public var resource: String
    public var subresource: String?
    public var namespace: String?
    public var name: String?
    public var userAgent: String

    public init(verb: String, apiGroup: String, resource: String, subresource: String? = nil, namespace: String? = nil,
                name: String? = nil, userAgent: String = "") {
        self.verb = verb
        self.apiGroup = apiGroup
        self.resource = resource
        self.subresource = subresource
        self.namespace = namespace
        self.name = name
        self.userAgent = userAgent
    }

    public var description: String {
        "\(verb) \(apiGroup.isEmpty ? "core" : apiGroup)/\(resource)\(subresource.map { "/" + $0 } ?? "")"
            + (namespace.map { " in \($0)" } ?? "") + (name.map { " \"\($0)\"" } ?? "")
    }
}
