import Foundation
import Testing
@testable import KubeClient

@Suite struct WorkQueueTests {
    @Test func deduplicatesQueuedItems() async {
        let queue = WorkQueue<String>(clock: ManualClock())
        await queue.add("a")
        await queue.add("a")
        await queue.add("b")
        #expect(await queue.count == 2)
        #expect(await queue.get() == "a")
        #expect(await queue.get() == "b")
        #expect(await queue.count == 0)
    }

    @Test func itemAddedWhileProcessingWaitsForDone() async throws {
        let queue = WorkQueue<String>(clock: ManualClock())
        await queue.add("a")
        #expect(await queue.get() == "a")
        // A second worker waits; re-adding "a" while it is processed must not hand it out.
        let second = Task { await queue.get() }
        await queue.add("a")
        await queue.add("a")
        #expect(await queue.count == 0)
        #expect(await queue.processingCount == 1)
        await queue.done("a")
        #expect(await second.value == "a")
        await queue.done("a")
        #expect(await queue.count == 0)
        #expect(await queue.processingCount == 0)
    }

    @Test func concurrentWorkersNeverShareAKey() async throws {
        let queue = WorkQueue<Int>(clock: ManualClock())
        let active = ActiveSet()
        let workers = (0..<4).map { _ in
            Task {
                var handled = 0
                while let key = await queue.get() {
                    try await active.enter(key)
                    try await Task.sleep(for: .microseconds(200))
                    await active.leave(key)
                    await queue.done(key)
                    handled += 1
                }
                return handled
            }
        }
        for round in 0..<50 { await queue.add(round % 3) }
        try await eventually {
            let queued = await queue.count
            let processing = await queue.processingCount
            return queued == 0 && processing == 0
        }
        await queue.shutDown()
        var total = 0
        for worker in workers { total += try await worker.value }
        #expect(total >= 3)
        #expect(await active.violations == 0)
    }

    @Test func addAfterWaitsOnTheClock() async throws {
        let clock = ManualClock()
        let queue = WorkQueue<String>(clock: clock)
        await queue.addAfter("x", delay: .seconds(1))
        await queue.addAfter("x", delay: .seconds(5))   // absorbed by the earlier deadline
        #expect(await queue.delayedCount == 1)
        await clock.waitForSleepers()
        clock.advance(by: .milliseconds(999))
        try await Task.sleep(for: .milliseconds(20))
        #expect(await queue.count == 0)
        clock.advance(by: .milliseconds(1))
        try await eventually { await queue.count == 1 }
        #expect(await queue.get() == "x")
        #expect(await queue.delayedCount == 0)
        await queue.done("x")
        // An earlier deadline replaces a later one.
        await queue.addAfter("y", delay: .seconds(5))
        await queue.addAfter("y", delay: .seconds(2))
        #expect(await queue.delayedCount == 1)
        await clock.waitForSleepers()
        clock.advance(by: .seconds(2))
        try await eventually { await queue.count == 1 }
        #expect(await queue.get() == "y")
        await queue.done("y")
        #expect(await queue.delayedCount == 0)
        clock.advance(by: .seconds(10))
        try await Task.sleep(for: .milliseconds(20))
        #expect(await queue.count == 0)
    }

    @Test func rateLimitedRequeuesBackOffPerItemAndForgetResets() async throws {
        let clock = ManualClock()
        let queue = WorkQueue<String>(clock: clock)
        await queue.addRateLimited("k")            // 5 ms
        await clock.waitForSleepers()
        clock.advance(by: .milliseconds(4))
        try await Task.sleep(for: .milliseconds(20))
        #expect(await queue.count == 0)
        clock.advance(by: .milliseconds(1))
        try await eventually { await queue.count == 1 }
        #expect(await queue.get() == "k")
        await queue.done("k")
        await queue.addRateLimited("k")            // 10 ms
        #expect(await queue.numRequeues("k") == 2)
        await clock.waitForSleepers()
        clock.advance(by: .milliseconds(9))
        try await Task.sleep(for: .milliseconds(20))
        #expect(await queue.count == 0)
        clock.advance(by: .milliseconds(1))
        try await eventually { await queue.count == 1 }
        await queue.forget("k")
        #expect(await queue.numRequeues("k") == 0)
    }

    @Test func shutDownReleasesWaitingWorkers() async {
        let queue = WorkQueue<String>(clock: ManualClock())
        let waiting = Task { await queue.get() }
        await Task.yield()
        await queue.shutDown()
        #expect(await waiting.value == nil)
        await queue.add("late")
        #expect(await queue.count == 0)
    }

    @Test func cancelledGetReturnsNil() async {
        let queue = WorkQueue<String>(clock: ManualClock())
        let waiting = Task { await queue.get() }
        waiting.cancel()
        #expect(await waiting.value == nil)
        await queue.add("a")
        #expect(await queue.get() == "a")
    }
}

@Suite struct RateLimiterTests {
    @Test func itemExponentialDoublesFrom5msTo1000s() {
        var limiter = ItemExponentialRateLimiter<String>()
        let delays = (0..<5).map { _ in limiter.when("a", now: .zero) }
        #expect(delays == [.milliseconds(5), .milliseconds(10), .milliseconds(20), .milliseconds(40), .milliseconds(80)])
        #expect(limiter.when("b", now: .zero) == .milliseconds(5))
        for _ in 0..<30 { _ = limiter.when("a", now: .zero) }
        #expect(limiter.when("a", now: .zero) == .seconds(1000))
        #expect(limiter.numRequeues("a") == 36)
        limiter.forget("a")
        #expect(limiter.when("a", now: .zero) == .milliseconds(5))
    }

    @Test func bucketAllowsBurstThenTenPerSecond() {
        var bucket = BucketRateLimiter<Int>()
        let burst = (0..<100).map { bucket.when($0, now: .zero) }
        #expect(burst.allSatisfy { $0 == .zero })
        #expect(bucket.when(100, now: .zero) == .milliseconds(100))
        #expect(bucket.when(101, now: .zero) == .milliseconds(200))
        // One second later ten tokens came back, two of which pay the debt.
        #expect(bucket.when(102, now: .seconds(1)) == .zero)
    }

    @Test func defaultControllerLimiterTakesTheLarger() {
        var limiter = DefaultControllerRateLimiter<Int>()
        for key in 0..<100 { #expect(limiter.when(key, now: .zero) == .milliseconds(5)) }
        #expect(limiter.when(100, now: .zero) == .milliseconds(100))
        #expect(limiter.numRequeues(100) == 1)
    }
}

@Suite struct BackoffTests {
    @Test func doublesFrom800msTo30sWithoutJitter() {
        var backoff = ExponentialBackoff(random: { 0 })
        let delays = (0..<8).map { i in backoff.next(now: .seconds(i)) }
        #expect(delays == [.milliseconds(800), .milliseconds(1600), .milliseconds(3200), .milliseconds(6400),
                           .milliseconds(12800), .milliseconds(25600), .seconds(30), .seconds(30)])
    }

    @Test func jitterAddsUpToTheWholeDelay() {
        var backoff = ExponentialBackoff(random: { 0.5 })
        #expect(backoff.next(now: .zero) == .milliseconds(1200))
        #expect(backoff.next(now: .zero) == .milliseconds(2400))
        var ranged = ExponentialBackoff()
        for _ in 0..<20 {
            let d = ranged.next(now: .zero)
            #expect(d >= .milliseconds(800) && d < .seconds(60))
        }
    }

    @Test func resetsAfterTwoQuietMinutes() {
        var backoff = ExponentialBackoff(random: { 0 })
        _ = backoff.next(now: .zero)
        _ = backoff.next(now: .seconds(1))
        #expect(backoff.next(now: .seconds(2)) == .milliseconds(3200))
        #expect(backoff.next(now: .seconds(200)) == .milliseconds(800))
        backoff.reset()
        #expect(backoff.next(now: .seconds(201)) == .milliseconds(800))
    }
}

@Suite struct ManualClockTests {
    @Test func sleepersWakeOnlyWhenTheirDeadlinePasses() async throws {
        let clock = ManualClock()
        let woke = ActiveSet()
        let sleeper = Task {
            try await clock.sleep(for: .seconds(2))
            try await woke.enter(1)
        }
        await clock.waitForSleepers()
        clock.advance(by: .seconds(1))
        try await Task.sleep(for: .milliseconds(20))
        #expect(await woke.count == 0)
        clock.advance(by: .seconds(1))
        try await sleeper.value
        #expect(await woke.count == 1)
    }

    @Test func cancellingASleeperThrows() async {
        let clock = ManualClock()
        let sleeper = Task { try await clock.sleep(for: .seconds(5)) }
        await clock.waitForSleepers()
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.sleeperCount == 0)
    }
}

/// Records which keys are in use and counts overlaps.
actor ActiveSet {
    private var active: Set<Int> = []
    private(set) var violations = 0
    private(set) var count = 0

    func enter(_ key: Int) throws {
        if active.contains(key) { violations += 1 }
        active.insert(key)
        count += 1
    }

    func leave(_ key: Int) { active.remove(key) }
}
