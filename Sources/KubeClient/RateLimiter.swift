import Foundation

/// Decides how long an item waits before it is requeued after a failure.
public protocol RateLimiter<Key>: Sendable {
    associatedtype Key: Hashable & Sendable
    /// The delay for this requeue of `key` at time `now`; records the requeue.
    mutating func when(_ key: Key, now: Duration) -> Duration
    /// Forgets the item's failures (after a success).
    mutating func forget(_ key: Key)
    /// How many times the item has been requeued since the last `forget`.
    func numRequeues(_ key: Key) -> Int
}

/// Per-item exponential backoff: base·2^failures, capped.
public struct ItemExponentialRateLimiter<Key: Hashable & Sendable>: RateLimiter {
    public var base: Duration
    public var maximum: Duration
    private var failures: [Key: Int] = [:]

    public init(base: Duration = .milliseconds(5), maximum: Duration = .seconds(1000)) {
        self.base = base
        self.maximum = maximum
    }

    public mutating func when(_ key: Key, now: Duration) -> Duration {
        let exponent = failures[key, default: 0]
        failures[key] = exponent + 1
        if exponent >= 62 { return maximum }
        let delay = base * Double(1 << UInt64(exponent))
        return delay > maximum || delay < .zero ? maximum : delay
    }

    public mutating func forget(_ key: Key) { failures[key] = nil }
    public func numRequeues(_ key: Key) -> Int { failures[key, default: 0] }
}

/// An overall token bucket: `qps` tokens per second, holding at most `burst`. Each requeue takes a token, waiting
/// (by returning a delay) when the bucket is empty.
public struct BucketRateLimiter<Key: Hashable & Sendable>: RateLimiter {
    public var qps: Double
    public var burst: Int
    private var tokens: Double
    private var last: Duration?

    public init(qps: Double = 10, burst: Int = 100) {
        self.qps = qps
        self.burst = burst
        self.tokens = Double(burst)
    }

    public mutating func when(_ key: Key, now: Duration) -> Duration {
        if let last {
            let elapsed = Self.seconds(now - last)
            tokens = min(Double(burst), tokens + elapsed * qps)
        }
        last = now
        tokens -= 1
        return tokens >= 0 ? .zero : .nanoseconds(Int64((-tokens / qps * 1e9).rounded()))
    }

    public mutating func forget(_ key: Key) {}
    public func numRequeues(_ key: Key) -> Int { 0 }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// controller-runtime's default: the larger of the per-item exponential delay (5 ms…1000 s) and the overall
/// bucket (10 qps, burst 100).
public struct DefaultControllerRateLimiter<Key: Hashable & Sendable>: RateLimiter {
    public var item: ItemExponentialRateLimiter<Key>
    public var bucket: BucketRateLimiter<Key>

    public init(item: ItemExponentialRateLimiter<Key> = ItemExponentialRateLimiter(),
                bucket: BucketRateLimiter<Key> = BucketRateLimiter()) {
        self.item = item
        self.bucket = bucket
    }

    public mutating func when(_ key: Key, now: Duration) -> Duration {
        max(item.when(key, now: now), bucket.when(key, now: now))
    }

    public mutating func forget(_ key: Key) {
        item.forget(key)
        bucket.forget(key)
    }

    public func numRequeues(_ key: Key) -> Int { item.numRequeues(key) }
}
