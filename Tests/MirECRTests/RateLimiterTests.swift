import Foundation
import Testing
@testable import MirECR

@Suite("Adaptive client-side rate limiter (virtual clock)")
struct RateLimiterTests {
    /// Sends `count` requests, `spacing` seconds apart (plus any limiter wait), all answered with success.
    private func send(_ limiter: AdaptiveRateLimiter, clock: VirtualClock, count: Int, spacing: Double) async throws {
        for _ in 0..<count {
            try await limiter.acquire()
            clock.advance(spacing)
            limiter.record(throttled: false)
        }
    }

    @Test("off until the first throttle: no waiting at any rate")
    func offUntilThrottled() async throws {
        let clock = VirtualClock()
        let limiter = AdaptiveRateLimiter(clock: clock)
        try await send(limiter, clock: clock, count: 200, spacing: 0.001)
        #expect(!limiter.isEnabled)
        #expect(clock.sleeps.isEmpty)
    }

    @Test("a throttle turns it on at β × the measured rate, and sends then wait for tokens")
    func slowsDownOnThrottle() async throws {
        let clock = VirtualClock()
        let limiter = AdaptiveRateLimiter(clock: clock)
        try await send(limiter, clock: clock, count: 50, spacing: 0.1)   // ~10 requests per second for 5 s
        let measured = limiter.measuredRate
        #expect(measured > 8 && measured < 12)
        limiter.record(throttled: true)
        #expect(limiter.isEnabled)
        #expect(abs(limiter.currentRate - measured * AdaptiveRateLimiter.beta) < 0.01)
        let start = clock.now()
        for _ in 0..<21 { try await limiter.acquire() }
        let elapsed = clock.now() - start
        // 21 tokens at ~7/s from an (almost) empty bucket take ~3 s; without the limiter they would take 0.
        #expect(elapsed > 2.5 && elapsed < 3.5)
        // A second throttle slows down further.
        let before = limiter.currentRate
        limiter.record(throttled: true)
        #expect(limiter.currentRate < before)
    }

    @Test("it recovers along the cubic curve while requests succeed")
    func recovers() async throws {
        let clock = VirtualClock()
        let limiter = AdaptiveRateLimiter(clock: clock)
        try await send(limiter, clock: clock, count: 40, spacing: 0.05)   // ~20/s
        limiter.record(throttled: true)
        let throttledRate = limiter.currentRate
        try await send(limiter, clock: clock, count: 300, spacing: 0.01)  // as fast as the bucket lets us
        #expect(limiter.currentRate > throttledRate * 1.2)
        #expect(limiter.throttleCount == 1)
    }

    @Test("a configured ceiling caps the rate from the first request and after recovery")
    func ceiling() async throws {
        let clock = VirtualClock()
        let limiter = AdaptiveRateLimiter(clock: clock, maxRequestsPerSecond: 2)
        #expect(limiter.isEnabled)
        let start = clock.now()
        for _ in 0..<11 { try await limiter.acquire() }
        let elapsed = clock.now() - start
        #expect(elapsed > 4.5 && elapsed < 6)
        limiter.record(throttled: true)
        try await send(limiter, clock: clock, count: 200, spacing: 0)
        #expect(limiter.currentRate <= 2)
    }

    @Test("one limiter per (account, region), shared by every client")
    func pool() {
        let pool = RateLimiterPool()
        let a = pool.limiter(for: RateLimiterKey(account: "1", region: "us-east-1")) { AdaptiveRateLimiter() }
        let b = pool.limiter(for: RateLimiterKey(account: "1", region: "us-east-1")) { AdaptiveRateLimiter() }
        let c = pool.limiter(for: RateLimiterKey(account: "1", region: "eu-west-1")) { AdaptiveRateLimiter() }
        let d = pool.limiter(for: RateLimiterKey(account: "2", region: "us-east-1")) { AdaptiveRateLimiter() }
        #expect(a === b)
        #expect(a !== c)
        #expect(a !== d)
    }

    @Test("the client feeds throttles to the limiter, which then paces its retries")
    func clientIntegration() async throws {
        let clock = VirtualClock()
        let limiter = AdaptiveRateLimiter(clock: clock)
        let transport = ScriptedTransport([.answer(.error("ThrottlingException", "Rate exceeded"))], fallback: .answer(.ok("{}")))
        let client = ECRClient(endpoint: URL(string: "http://127.0.0.1:9")!, authorizer: PlaceholderAuthorizer(), transport: transport,
                               retryPolicy: RetryPolicy(mode: .adaptive), rateLimiter: limiter, clock: clock, random: { 0 })
        _ = try await client.send("ListImages", body: [])
        #expect(limiter.isEnabled)
        #expect(limiter.throttleCount == 1)
        #expect(transport.attempts == 2)
        // Backoff was 0 (random 0), so any sleep came from the token bucket.
        #expect(!clock.sleeps.isEmpty)
    }
}
