import Foundation
import Synchronization

/// Time as the retry and rate-limiting code sees it: monotonic seconds and sleeping. Injected so tests run on
/// virtual time.
public protocol RetryClock: Sendable {
    /// Monotonic seconds.
    func now() -> Double
    func sleep(seconds: Double) async throws
}

/// The real clock.
public struct SystemRetryClock: RetryClock {
    private let origin = ContinuousClock.now

    public init() {}

    public func now() -> Double {
        let elapsed = ContinuousClock.now - origin
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    public func sleep(seconds: Double) async throws {
        guard seconds > 0 else { return }
        try await Task.sleep(for: .nanoseconds(Int64(seconds * 1e9)))
    }
}

/// botocore's adaptive client-side rate limiter (`retries/adaptive.py`, `bucket.py`, `throttling.py`): a token
/// bucket whose rate follows CUBIC. Off until the first throttling answer (unless a ceiling is configured);
/// then every send takes a token, the rate drops by β on each throttle and grows back along the cubic curve on
/// successes. `maxRequestsPerSecond` caps the rate at all times.
public final class AdaptiveRateLimiter: Sendable {
    public static let scaleConstant = 0.4
    public static let beta = 0.7
    public static let minimumFillRate = 0.5
    static let smoothing = 0.8
    static let timeBucketRange = 0.5

    struct State {
        // Token bucket.
        var fillRate: Double
        var maxCapacity: Double
        var capacity: Double = 0
        var lastRefill: Double?
        var enabled: Bool
        // CUBIC.
        var wMax: Double
        var k: Double
        var lastFailure: Double
        // Measured send rate.
        var measuredRate: Double = 0
        var countInBucket: Double = 0
        var lastBucket: Double
        var throttles = 0
    }

    public let clock: any RetryClock
    /// The configured ceiling in requests per second, if any.
    public let maxRequestsPerSecond: Double?
    private let state: Mutex<State>

    public init(clock: any RetryClock = SystemRetryClock(), maxRequestsPerSecond: Double? = nil) {
        self.clock = clock
        let ceiling = maxRequestsPerSecond.map { max($0, Self.minimumFillRate) }
        self.maxRequestsPerSecond = ceiling
        let now = clock.now()
        let startRate = ceiling ?? Self.minimumFillRate
        let wMax = Self.minimumFillRate
        state = Mutex(State(fillRate: startRate, maxCapacity: max(startRate, 1), enabled: ceiling != nil,
                            wMax: wMax, k: Self.zeroPoint(wMax: wMax), lastFailure: now,
                            lastBucket: floor(now)))
    }

    /// Whether sends currently wait for tokens.
    public var isEnabled: Bool { state.withLock { $0.enabled } }
    /// The current token fill rate (requests per second) while enabled.
    public var currentRate: Double { state.withLock { $0.fillRate } }
    /// The smoothed measured send rate.
    public var measuredRate: Double { state.withLock { $0.measuredRate } }
    public var throttleCount: Int { state.withLock { $0.throttles } }

    /// Waits for a token when the limiter is enabled. Reservations are handed out in call order, so concurrent
    /// callers queue fairly.
    public func acquire() async throws {
        let wait: Double = state.withLock { s in
            guard s.enabled else { return 0 }
            Self.refill(&s, now: clock.now())
            s.capacity -= 1
            return s.capacity >= 0 ? 0 : -s.capacity / s.fillRate
        }
        if wait > 0 { try await clock.sleep(seconds: wait) }
    }

    /// Records the outcome of one answered attempt.
    public func record(throttled: Bool) {
        let now = clock.now()
        state.withLock { s in
            let measured = Self.recordSend(&s, now: now)
            let newRate: Double
            if throttled {
                let rateToUse = s.enabled ? min(measured, s.fillRate) : measured
                s.wMax = rateToUse
                s.k = Self.zeroPoint(wMax: rateToUse)
                s.lastFailure = now
                newRate = rateToUse * Self.beta
                s.enabled = true
                s.throttles += 1
            } else {
                let dt = now - s.lastFailure
                newRate = Self.scaleConstant * pow(dt - s.k, 3) + s.wMax
            }
            // Before any throttling the bucket runs at the ceiling (when one is set); CUBIC takes over after.
            guard s.throttles > 0 else { return }
            var target = min(newRate, 2 * measured)
            if let ceiling = maxRequestsPerSecond { target = min(target, ceiling) }
            Self.setMaxRate(&s, target, now: now)
        }
    }

    static func zeroPoint(wMax: Double) -> Double {
        cbrt(wMax * (1 - beta) / scaleConstant)
    }

    private static func refill(_ s: inout State, now: Double) {
        guard let last = s.lastRefill else {
            s.lastRefill = now
            return
        }
        s.capacity = min(s.maxCapacity, s.capacity + (now - last) * s.fillRate)
        s.lastRefill = now
    }

    private static func setMaxRate(_ s: inout State, _ value: Double, now: Double) {
        refill(&s, now: now)
        s.fillRate = max(value, minimumFillRate)
        s.maxCapacity = max(value, 1)
        s.capacity = min(s.capacity, s.maxCapacity)
    }

    /// botocore's RateClocker: counts sends in 0.5 s buckets, smoothed with 0.8.
    private static func recordSend(_ s: inout State, now: Double) -> Double {
        let scale = 1 / timeBucketRange
        let bucket = floor(now * scale) / scale
        s.countInBucket += 1
        if bucket > s.lastBucket {
            let currentRate = s.countInBucket / (bucket - s.lastBucket)
            s.measuredRate = currentRate * smoothing + s.measuredRate * (1 - smoothing)
            s.countInBucket = 0
            s.lastBucket = bucket
        }
        return s.measuredRate
    }
}

/// Identifies whose requests share one rate budget: ECR throttles per account and region.
public struct RateLimiterKey: Sendable, Hashable {
    public var account: String
    public var region: String

    public init(account: String, region: String) {
        self.account = account
        self.region = region
    }
}

/// Hands out one limiter per (account, region), so every client in the process shares it.
public final class RateLimiterPool: Sendable {
    /// The process-wide pool.
    public static let shared = RateLimiterPool()

    private let limiters = Mutex<[RateLimiterKey: AdaptiveRateLimiter]>([:])

    public init() {}

    /// The limiter for `key`, created with `make` on first use.
    public func limiter(for key: RateLimiterKey, make: () -> AdaptiveRateLimiter) -> AdaptiveRateLimiter {
        limiters.withLock { map in
            if let existing = map[key] { return existing }
            let created = make()
            map[key] = created
            return created
        }
    }
}
