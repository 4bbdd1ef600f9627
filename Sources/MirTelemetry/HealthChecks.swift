import Metrics
import Synchronization

/// A named health check: returns normally when healthy, throws (with a reason) when not.
public typealias HealthCheck = @Sendable () async throws -> Void

/// Which probe a check belongs to.
public enum HealthProbe: String, Sendable, CaseIterable {
    /// Liveness: the process works; failing it makes the kubelet restart the container.
    case healthz
    /// Readiness: the process can serve; mir is ready once its caches have synced.
    case readyz
}

/// The reason a check failed.
public struct HealthCheckFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// The named checks behind `/healthz` and `/readyz`, with controller-runtime's response semantics
/// (see ``HealthChecks/respond(probe:subpath:query:)``), and thread-safe state toggles.
///
/// ``standard(leaderElectionName:)`` gives what `mir run` needs: `healthz` has `ping`; `readyz` has `ping` and
/// `informer-sync`, which fails until ``markSynced()``. Readiness does not depend on leadership: a standby replica
/// with synced caches is ready (it serves metrics and can take over at once).
public final class HealthChecks: Sendable {
    private struct State {
        var checks: [HealthProbe: [String: HealthCheck]] = [:]
        var synced = false
        var leading = false
    }

    private let state = Mutex(State())
    private let leaderElectionName: String?

    /// Creates an empty set of checks. A probe without checks reports a passing `ping`, as controller-runtime does.
    /// - Parameter leaderElectionName: when set, ``setLeading(_:)`` also sets `leader_election_master_status{name}`.
    public init(leaderElectionName: String? = nil) {
        self.leaderElectionName = leaderElectionName
    }

    /// The checks `mir run` registers: `ping` on both probes and `informer-sync` on readyz.
    public static func standard(leaderElectionName: String? = nil) -> HealthChecks {
        let checks = HealthChecks(leaderElectionName: leaderElectionName)
        checks.add("ping", to: .healthz) {}
        checks.add("ping", to: .readyz) {}
        checks.add("informer-sync", to: .readyz) { [unowned checks] in
            guard checks.isSynced else { throw HealthCheckFailure("caches have not synced yet") }
        }
        return checks
    }

    /// Registers (or replaces) the check `name` on `probe`. Names must be non-empty and contain no `/`.
    public func add(_ name: String, to probe: HealthProbe, _ check: @escaping HealthCheck) {
        precondition(!name.isEmpty && !name.contains("/"), "health check names must be non-empty and contain no '/'")
        state.withLock { $0.checks[probe, default: [:]][name] = check }
    }

    /// Removes the check `name` from `probe`.
    public func remove(_ name: String, from probe: HealthProbe) {
        state.withLock { _ = $0.checks[probe]?.removeValue(forKey: name) }
    }

    /// The names of the checks on `probe`, sorted.
    public func names(of probe: HealthProbe) -> [String] {
        state.withLock { ($0.checks[probe] ?? [:]).keys.sorted() }
    }

    /// Marks the informer caches as synced (readiness passes from now on).
    public func markSynced() { state.withLock { $0.synced = true } }

    /// Marks the caches as not synced (e.g. after a watch had to relist from scratch).
    public func markNotSynced() { state.withLock { $0.synced = false } }

    /// Whether ``markSynced()`` was called (and not undone).
    public var isSynced: Bool { state.withLock { $0.synced } }

    /// Records whether this process holds the leader lease; also sets `leader_election_master_status`.
    public func setLeading(_ leading: Bool) {
        state.withLock { $0.leading = leading }
        if let leaderElectionName {
            MirMetrics.leaderElectionMasterStatus(name: leaderElectionName).record(leading ? 1 : 0)
        }
    }

    /// Whether this process currently holds the leader lease.
    public var isLeading: Bool { state.withLock { $0.leading } }

    /// The outcome of one check in an aggregated response.
    public struct CheckStatus: Sendable, Equatable {
        public enum Outcome: Sendable, Equatable {
            case passed
            case excluded
            case failed(reason: String)
        }
        public var name: String
        public var outcome: Outcome
    }

    /// Runs every check of `probe` except `excluded`, sorted by name.
    public func run(_ probe: HealthProbe, excluding excluded: Set<String> = []) async -> [CheckStatus] {
        let checks = state.withLock { $0.checks[probe] ?? [:] }
        if checks.isEmpty { return [CheckStatus(name: "ping", outcome: .passed)] }
        var statuses: [CheckStatus] = []
        for (name, check) in checks.sorted(by: { $0.key < $1.key }) {
            if excluded.contains(name) {
                statuses.append(CheckStatus(name: name, outcome: .excluded))
                continue
            }
            do {
                try await check()
                statuses.append(CheckStatus(name: name, outcome: .passed))
            } catch {
                statuses.append(CheckStatus(name: name, outcome: .failed(reason: String(describing: error))))
            }
        }
        return statuses
    }

    /// A plain-text probe response.
    public struct Response: Sendable, Equatable {
        public var status: Int
        public var body: String
        /// The failed checks and their reasons (for logging; never sent in an aggregated body).
        public var failures: [String: String]
    }

    /// Answers `/<probe>` (`subpath` empty) or `/<probe>/<check>` like controller-runtime's healthz handler:
    /// - aggregated success: 200 `ok`; with `?verbose`, one `[+]name ok` line per check, then `healthz check passed`;
    /// - aggregated failure (always verbose): 500, `[-]name failed: reason withheld` lines, `healthz check failed`;
    /// - `?exclude=name` (repeatable) skips a check (`[+]name excluded: ok`); unknown names produce a `warn:` line;
    /// - `/<probe>/<check>`: 200 `ok` or 500 `internal server error: <reason>`; an unknown check is 404.
    public func respond(probe: HealthProbe, subpath: String, query: [(String, String?)]) async -> Response {
        if !subpath.isEmpty {
            let check = state.withLock { $0.checks[probe]?[subpath] }
            guard let check else {
                if subpath == "ping" && names(of: probe).isEmpty { return Response(status: 200, body: "ok", failures: [:]) }
                return Response(status: 404, body: "404 page not found\n", failures: [:])
            }
            do {
                try await check()
                return Response(status: 200, body: "ok", failures: [:])
            } catch {
                let reason = String(describing: error)
                return Response(status: 500, body: "internal server error: \(reason)\n", failures: [subpath: reason])
            }
        }

        let verbose = query.contains { $0.0 == "verbose" }
        let requestedExclusions = query.filter { $0.0 == "exclude" }.compactMap { $0.1 }
            .flatMap { $0.split(separator: ",").map { $0.trimmingWhitespace() } }.filter { !$0.isEmpty }
        let excluded = Set(requestedExclusions)
        let statuses = await run(probe, excluding: excluded)
        let known = Set(statuses.map(\.name))
        let unknownExclusions = excluded.subtracting(known).sorted()
        var failures: [String: String] = [:]
        for status in statuses {
            if case .failed(let reason) = status.outcome { failures[status.name] = reason }
        }
        let failed = !failures.isEmpty
        if !failed && !verbose { return Response(status: 200, body: "ok", failures: [:]) }

        var body = ""
        for status in statuses {
            switch status.outcome {
            case .excluded: body += "[+]\(status.name) excluded: ok\n"
            case .passed: body += "[+]\(status.name) ok\n"
            case .failed: body += "[-]\(status.name) failed: reason withheld\n"
            }
        }
        if !unknownExclusions.isEmpty {
            let quoted = unknownExclusions.map { "\"\($0)\"" }.joined(separator: ",")
            body += "warn: some health checks cannot be excluded: no matches for \(quoted)\n"
        }
        // controller-runtime prints "healthz" for both probes.
        body += failed ? "healthz check failed\n" : "healthz check passed\n"
        return Response(status: failed ? 500 : 200, body: body, failures: failures)
    }
}

extension Substring {
    func trimmingWhitespace() -> String {
        var slice = self[...]
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
