import Foundation
import Synchronization

/// Forwards a request to the server's upstream (a real speaker such as moto) and returns its answer.
public typealias Forwarder = @Sendable (InjectedRequest) async throws -> InjectedResponse

/// What the server does with a request that a rule matched.
public enum FaultAction: Sendable {
    /// Pass the request to the upstream (or to the fallback handler when there is none).
    case forward
    /// Answer with this response; the upstream never sees the request.
    case respond(InjectedResponse)
    /// Close the connection abruptly (TCP RST) without answering.
    case resetConnection
    /// Keep the connection open without answering for this long, then close it (the client should time out first).
    case hang(Duration)
    /// Compute the answer; may call the forwarder (e.g. to slice, rewrite or count upstream answers).
    case custom(@Sendable (InjectedRequest, Forwarder) async throws -> InjectedResponse)
}

/// Which requests a rule applies to.
public struct RequestMatcher: Sendable {
    public var predicate: @Sendable (InjectedRequest) -> Bool

    public init(_ predicate: @escaping @Sendable (InjectedRequest) -> Bool) {
        self.predicate = predicate
    }

    public static var any: RequestMatcher { RequestMatcher { _ in true } }

    /// Requests for one awsJson operation, e.g. `DescribeRepositories`.
    public static func operation(_ name: String) -> RequestMatcher {
        RequestMatcher { $0.operation == name }
    }

    /// Requests for any of these operations.
    public static func operations(_ names: Set<String>) -> RequestMatcher {
        RequestMatcher { $0.operation.map(names.contains) ?? false }
    }
}

/// A scripted fault: requests matching `matcher` get `delay` and then `action`, for the next `times` matches
/// (nil: for ever).
public struct FaultRule: Sendable {
    public var matcher: RequestMatcher
    public var times: Int?
    public var delay: Duration
    public var action: FaultAction

    public init(_ matcher: RequestMatcher = .any, times: Int? = nil, delay: Duration = .zero, action: FaultAction) {
        self.matcher = matcher
        self.times = times
        self.delay = delay
        self.action = action
    }
}

/// The ordered, mutable list of rules a server consults for every request. The first matching rule with
/// uses left wins; a request no rule matches is forwarded.
public final class FaultPlan: Sendable {
    private struct Entry { var rule: FaultRule; var remaining: Int? }
    private let entries = Mutex<[Entry]>([])

    public init(_ rules: [FaultRule] = []) {
        entries.withLock { $0 = rules.map { Entry(rule: $0, remaining: $0.times) } }
    }

    /// Appends a rule (it applies after the rules already present).
    public func add(_ rule: FaultRule) {
        entries.withLock { $0.append(Entry(rule: rule, remaining: rule.times)) }
    }

    /// Puts a rule in front of all others.
    public func prepend(_ rule: FaultRule) {
        entries.withLock { $0.insert(Entry(rule: rule, remaining: rule.times), at: 0) }
    }

    public func removeAll() {
        entries.withLock { $0.removeAll() }
    }

    /// Picks the rule for a request and uses it up once. Nil means: forward, no delay.
    func decide(for request: InjectedRequest) -> (delay: Duration, action: FaultAction)? {
        entries.withLock { entries in
            for index in entries.indices {
                let entry = entries[index]
                if let left = entry.remaining, left <= 0 { continue }
                guard entry.rule.matcher.predicate(request) else { continue }
                if let left = entry.remaining { entries[index].remaining = left - 1 }
                return (entry.rule.delay, entry.rule.action)
            }
            return nil
        }
    }
}
