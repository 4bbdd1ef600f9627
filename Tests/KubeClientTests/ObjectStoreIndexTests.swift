import Foundation
import Synchronization
import Testing
@testable import KubeClient

/// The store's indexers (client-go's `Indexer`): kept right through put, update, remove and replace.
@Suite struct ObjectStoreIndexTests {
    struct Item: Sendable { var name: String; var parent: String? }

    static func store() -> ObjectStore<Item> {
        ObjectStore<Item>(indexers: ["parent": { $0.parent.map { [$0] } ?? [] }])
    }

    @Test func indexFollowsPutUpdateRemoveAndReplace() {
        let store = Self.store()
        store.put("a", Item(name: "a", parent: nil))
        store.put("b", Item(name: "b", parent: "a"))
        store.put("c", Item(name: "c", parent: "a"))
        #expect(store.keys(inIndex: "parent", value: "a") == ["b", "c"])
        // An update moving c to another parent leaves a's entry.
        store.put("c", Item(name: "c", parent: "b"))
        #expect(store.keys(inIndex: "parent", value: "a") == ["b"])
        #expect(store.objects(inIndex: "parent", value: "b").map(\.name) == ["c"])
        store.remove("b")
        #expect(store.keys(inIndex: "parent", value: "a").isEmpty)
        #expect(store.keys(inIndex: "parent", value: "b") == ["c"])
        store.replace(["x": Item(name: "x", parent: "a")])
        #expect(store.keys(inIndex: "parent", value: "a") == ["x"])
        #expect(store.keys(inIndex: "parent", value: "b").isEmpty)
        #expect(store.keys(inIndex: "unknown", value: "a").isEmpty)
    }

    @Test func indexValuesAreTheValuesStillNamingAnObject() {
        let store = Self.store()
        store.put("b", Item(name: "b", parent: "a"))
        store.put("c", Item(name: "c", parent: "x"))
        #expect(Set(store.values(ofIndex: "parent")) == ["a", "x"])
        store.put("c", Item(name: "c", parent: nil))
        #expect(store.values(ofIndex: "parent") == ["a"], "a value no object gives any more is gone")
        store.remove("b")
        #expect(store.values(ofIndex: "parent").isEmpty)
        #expect(store.values(ofIndex: "unknown").isEmpty)
    }

    @Test func anIndexLookupReturnsOnlyWhatMatchesWhateverTheStoreSize() {
        for size in [100, 5000] {
            let store = Self.store()
            for i in 0..<size { store.put("i\(i)", Item(name: "i\(i)", parent: "p\(i % (size / 10))")) }
            #expect(store.objects(inIndex: "parent", value: "p3").count == 10)
            #expect(store.count == size)
        }
    }
}

/// client-go's workqueue metrics, reported by the queue itself on a manual clock.
@Suite struct WorkQueueMetricsTests {
    final class Recorder: WorkQueueMetrics {
        struct Seen { var adds = 0; var depths: [Int] = []; var waits: [Duration] = []; var works: [Duration] = []; var retries = 0
                      var progress: [(Duration, Duration)] = [] }
        let seen = Mutex(Seen())
        func added(depth: Int) { seen.withLock { $0.adds += 1; $0.depths.append(depth) } }
        func started(waited: Duration, depth: Int) { seen.withLock { $0.waits.append(waited); $0.depths.append(depth) } }
        func finished(worked: Duration) { seen.withLock { $0.works.append(worked) } }
        func retried() { seen.withLock { $0.retries += 1 } }
        func inProgress(unfinished: Duration, longest: Duration) { seen.withLock { $0.progress.append((unfinished, longest)) } }
    }

    @Test func queueWaitWorkTimeDepthRetriesAndWorkInProgress() async throws {
        let clock = ManualClock()
        let recorder = Recorder()
        let queue = WorkQueue<String>(clock: clock, metrics: recorder)
        await queue.add("a")
        await queue.add("a")  // de-duplicated: one add
        await queue.add("b")
        clock.advance(by: .seconds(2))
        #expect(await queue.get() == "a")
        clock.advance(by: .seconds(1))
        #expect(await queue.get() == "b")
        clock.advance(by: .seconds(3))
        await queue.reportInProgress()
        await queue.done("a")
        await queue.addRateLimited("b")
        await queue.done("b")
        let seen = recorder.seen.withLock { $0 }
        #expect(seen.adds == 2)
        #expect(seen.depths == [1, 2, 1, 0])
        #expect(seen.waits == [.seconds(2), .seconds(3)])
        #expect(seen.works == [.seconds(4), .seconds(3)])
        #expect(seen.retries == 1)
        #expect(seen.progress.count == 1)
        #expect(seen.progress.first?.0 == .seconds(7))
        #expect(seen.progress.first?.1 == .seconds(4))
    }
}
