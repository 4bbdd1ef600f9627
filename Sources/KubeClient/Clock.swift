import Foundation
import Synchronization

/// Monotonic time for queues, backoff and reflectors; injectable so tests can drive time by hand.
public protocol KubeClock: Sendable {
    /// Time elapsed since a fixed, arbitrary origin.
    func now() -> Duration
    /// Returns once `now() >= deadline`; throws `CancellationError` when the task is cancelled.
    func sleep(until deadline: Duration) async throws
}

extension KubeClock {
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now() + duration)
    }
}

/// The real clock (`ContinuousClock`).
public struct SystemKubeClock: KubeClock {
    private let origin: ContinuousClock.Instant

    public init() { origin = ContinuousClock.now }

    public func now() -> Duration { origin.duration(to: ContinuousClock.now) }

    public func sleep(until deadline: Duration) async throws {
        try await ContinuousClock().sleep(until: origin.advanced(by: deadline))
    }
}

/// A clock that moves only when `advance(by:)` is called. Sleepers wake in deadline order.
public final class ManualClock: KubeClock {
    private struct Sleeper {
        var id: UInt64
        var deadline: Duration
        var continuation: CheckedContinuation<Void, Error>
    }

    private struct State {
        var now: Duration = .zero
        var nextID: UInt64 = 0
        var sleepers: [Sleeper] = []
    }

    private let state = Mutex(State())

    public init() {}

    public func now() -> Duration { state.withLock { $0.now } }

    /// How many tasks are asleep on this clock.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Moves time forward and wakes every sleeper whose deadline has passed.
    public func advance(by duration: Duration) {
        let due: [Sleeper] = state.withLock { s in
            s.now += duration
            let now = s.now
            let due = s.sleepers.filter { $0.deadline <= now }.sorted { $0.deadline < $1.deadline }
            s.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Suspends until a sleeper is waiting (lets a test know the code under test has reached its sleep).
    public func waitForSleepers(_ count: Int = 1) async {
        while sleeperCount < count { await Task.yield() }
    }

    public func sleep(until deadline: Duration) async throws {
        let id = state.withLock { s -> UInt64 in
            s.nextID += 1
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let resumeNow: Bool = state.withLock { s in
                    if s.now >= deadline || Task.isCancelled { return true }
                    s.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let sleeper: Sleeper? = state.withLock { s in
                guard let index = s.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return s.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }
}

/// Exponential backoff with jitter and a reset after a quiet period — client-go's reflector backoff manager:
/// 800 ms doubling to 30 s, jitter 1.0 (each delay is d + random·d), reset after 2 min without failures.
public struct ExponentialBackoff: Sendable {
    public var initial: Duration
    public var maximum: Duration
    public var factor: Double
    public var jitter: Double
    public var resetAfter: Duration
    private var current: Duration
    private var lastStep: Duration?
    private let random: @Sendable () -> Double

    public init(initial: Duration = .milliseconds(800), maximum: Duration = .seconds(30), factor: Double = 2, jitter: Double = 1.0,
                resetAfter: Duration = .seconds(120), random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.resetAfter = resetAfter
        self.current = initial
        self.random = random
    }

    /// The reflector's defaults.
    public static var reflector: ExponentialBackoff { ExponentialBackoff() }

    /// The next delay at time `now`.
    public mutating func next(now: Duration) -> Duration {
        if let lastStep, now - lastStep > resetAfter { current = initial }
        lastStep = now
        let base = current
        current = min(current * factor, maximum)
        return jitter > 0 ? base + base * (jitter * random()) : base
    }

    /// Starts again from the initial delay.
    public mutating func reset() {
        current = initial
        lastStep = nil
    }
}
