import MirModel

/// The builder a simulated job runner (mir's local control plane, `mir dev`) runs each build Job with: mir's
/// `simulate` builder (a SIMULATION) on the embedded registry. Every Job runs its build: the Job, not the simulate
/// builder's own records, decides what is built.
public struct JobSimulation: ImageBuilder {
    public let inner: SimulateBuilder
    public init(_ inner: SimulateBuilder) { self.inner = inner }
    public var name: String { inner.name }
    public var isSimulation: Bool { true }

    public func build(_ request: BuildRequest) async throws -> BuildRecord {
        var request = request
        request.reason = .manual
        return try await inner.build(request)
    }
}
