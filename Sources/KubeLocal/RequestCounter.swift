import Synchronization

/// Counts the API requests the control plane serves, by Kubernetes verb and resource, so tests and benchmarks can
/// measure what a client costs (e.g. a controller's resync). Keys read `"<verb> <resource>[/<subresource>]"`, e.g.
/// `"list managedimages"`, `"update managedimages/status"`, `"watch jobs"`.
public final class RequestCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    public init() {}

    func record(verb: String, resource: String) {
        counts.withLock { $0["\(verb) \(resource)", default: 0] += 1 }
    }

    /// The counts since the start (or the last ``reset()``).
    public var snapshot: [String: Int] { counts.withLock { $0 } }

    /// Every request counted.
    public var total: Int { counts.withLock { $0.values.reduce(0, +) } }

    public func reset() { counts.withLock { $0 = [:] } }
}
