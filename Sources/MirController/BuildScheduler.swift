import Foundation
import Synchronization

/// Grants build slots: at most `maxConcurrentBuilds` images build at once across the cluster; among images waiting
/// for a slot, spec changes (and new images, manual rebuilds) go before platform-version and parent rebuilds, and
/// shallower images (parents) before deeper ones.
public final class BuildScheduler: Sendable {
    public struct Request: Sendable, Hashable {
        public var image: String
        /// 0: spec change, new image, manual rebuild; 1: platform upgrade, parent rebuilt.
        public var priority: Int
        /// 0 for a root image, parent depth + 1 for a child.
        public var depth: Int

        public init(image: String, priority: Int, depth: Int) {
            self.image = image
            self.priority = priority
            self.depth = depth
        }
        var rank: (Int, Int, String) { (priority, depth, image) }
    }

    public let maxConcurrentBuilds: Int
    /// How long a granted slot counts as busy before its Job shows up in the cache.
    let reservation: TimeInterval
    private let state = Mutex<(waiting: [String: Request], starting: [String: Date])>(([:], [:]))
    /// Paces rebuilds after `PushNotVisible`.
    public let rebuilds: RebuildLimiter

    public init(maxConcurrentBuilds: Int, reservation: TimeInterval = 30, rebuilds: RebuildLimiter = RebuildLimiter()) {
        self.maxConcurrentBuilds = max(1, maxConcurrentBuilds)
        self.reservation = reservation
        self.rebuilds = rebuilds
    }

    /// Asks for a slot. `activeImages`: images with a running build Job (other than `request.image`). Granted when a
    /// slot is free and no better-ranked request is waiting; otherwise the request waits (call again later).
    public func request(_ request: Request, activeImages: Set<String>, now: Date = Date()) -> Bool {
        state.withLock { s in
            s.starting = s.starting.filter { now.timeIntervalSince($0.value) < reservation && $0.key != request.image }
            let busy = activeImages.subtracting([request.image]).union(s.starting.keys)
            s.waiting[request.image] = request
            guard busy.count < maxConcurrentBuilds else { return false }
            let better = s.waiting.values.filter { $0.image != request.image && !busy.contains($0.image) && $0.rank < request.rank }
            guard better.count < maxConcurrentBuilds - busy.count else { return false }
            s.waiting[request.image] = nil
            s.starting[request.image] = now
            return true
        }
    }

    /// The image no longer wants a slot (built, deleted, or nothing to build).
    public func withdraw(_ image: String) {
        state.withLock { _ = $0.waiting.removeValue(forKey: image) }
    }

    /// The build Job of `image` finished or is gone: its reservation ends. (A running Job keeps its slot through
    /// `activeImages`; the reservation covers the time before the Job shows up in a listing.)
    public func release(_ image: String) {
        state.withLock { _ = $0.starting.removeValue(forKey: image) }
    }

    public var waitingImages: [String] { state.withLock { Array($0.waiting.keys) } }
}

/// Paces rebuilds of one (image, tag) whose build succeeded but whose push the registry does not show
/// (`PushNotVisible`): controller-runtime's per-item exponential limiter (`base` doubling per rebuild, up to `cap`;
/// 5 ms to 1000 s by default) and at most `maxPerHour` rebuilds of one (image, tag) in any hour. Without it, each
/// reconcile deletes the succeeded Job and starts another one at once.
public final class RebuildLimiter: Sendable {
    public enum Decision: Sendable, Equatable {
        /// Rebuild now; `attempt` counts the rebuilds of this (image, tag) so far, this one included.
        case rebuild(attempt: Int)
        /// Not yet: the backoff ends after this long.
        case backoff(Duration)
        /// The hourly cap is reached: the next rebuild is possible after this long.
        case capped(Duration)
    }

    public let base: Duration
    public let cap: Duration
    public let maxPerHour: Int
    private struct Entry { var rebuilds: [Date] = []; var notBefore: Date = .distantPast; var attempts = 0 }
    private let entries = Mutex<[String: Entry]>([:])

    public init(base: Duration = .milliseconds(5), cap: Duration = .seconds(1000), maxPerHour: Int = 10) {
        self.base = base
        self.cap = cap
        self.maxPerHour = max(1, maxPerHour)
    }

    /// The delay after the `failures`-th failure (0-based), as controller-runtime computes it: base × 2^failures, at most cap.
    public func delay(afterFailures failures: Int) -> Duration {
        func nanoseconds(_ d: Duration) -> Int64 { d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000 }
        let limit = nanoseconds(cap)
        var delay = max(1, nanoseconds(base))
        for _ in 0..<max(0, failures) where delay < limit { delay *= 2 }
        return delay >= limit ? cap : .nanoseconds(delay)
    }

    /// Asks to rebuild (image, tag) at `now`; a `.rebuild` answer counts the rebuild.
    public func request(image: String, tag: String, now: Date = Date()) -> Decision {
        entries.withLock { entries in
            var entry = entries["\(image)\n\(tag)"] ?? Entry()
            entry.rebuilds = entry.rebuilds.filter { now.timeIntervalSince($0) < 3600 }
            defer { entries["\(image)\n\(tag)"] = entry }
            if entry.rebuilds.count >= maxPerHour, let oldest = entry.rebuilds.first {
                return .capped(.seconds(max(0.001, 3600 - now.timeIntervalSince(oldest))))
            }
            if now < entry.notBefore { return .backoff(.seconds(entry.notBefore.timeIntervalSince(now))) }
            entry.rebuilds.append(now)
            entry.notBefore = now.addingTimeInterval(delay(afterFailures: entry.attempts).secondsValue)
            entry.attempts += 1
            return .rebuild(attempt: entry.attempts)
        }
    }

    /// Whether rebuilds of (image, tag) are paced: a PushNotVisible was seen for it and the tag has not become visible since.
    public func isPacing(image: String, tag: String) -> Bool {
        entries.withLock { $0["\(image)\n\(tag)"] != nil }
    }

    /// The tag became visible (or the image moved on): its backoff starts over.
    public func forget(image: String) {
        entries.withLock { entries in entries = entries.filter { !$0.key.hasPrefix("\(image)\n") } }
    }

    /// Rebuilds of (image, tag) counted in the last hour.
    public func rebuildsInLastHour(image: String, tag: String, now: Date = Date()) -> Int {
        entries.withLock { $0["\(image)\n\(tag)"]?.rebuilds.filter { now.timeIntervalSince($0) < 3600 }.count ?? 0 }
    }
}

extension Duration {
    var secondsValue: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
