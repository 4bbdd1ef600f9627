import Foundation
import Synchronization
import Testing
@testable import KubeClient
import MirModel

/// The reflector's list/watch contract against the fake server.
@Suite(.timeLimit(.minutes(2))) struct ReflectorTests {
    static let fastBackoff = ExponentialBackoff(initial: .milliseconds(20), maximum: .milliseconds(200), random: { 0 })

    /// Collects the reflector's events in the background.
    final class EventLog: Sendable {
        private let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
        func append(_ s: String) { lines.withLock { $0.append(s) } }
    }

    static func start(_ reflector: Reflector<ConfigMap>) -> (Task<Void, Never>, Task<Void, Never>, EventLog) {
        let log = EventLog()
        let consumer = Task {
            for await event in reflector.events {
                switch event {
                case .added(let cm): log.append("added \(cm.metadata.name ?? "")")
                case .updated(_, let cm): log.append("updated \(cm.metadata.name ?? "")")
                case .deleted(let cm): log.append("deleted \(cm.metadata.name ?? "")")
                case .synced: log.append("synced")
                }
            }
        }
        let runner = Task { await reflector.run() }
        return (runner, consumer, log)
    }

    @Test func listsThenWatchesAndResumesAfterEOFWithoutRelisting() async throws {
        // Every watch ends after one event, as a server-side timeout would end it.
        let server = try await FakeAPIServer.start(config: ["watch_max_events": 1])
        defer { server.stop() }
        try await withClient(server.kubeConfig(namespace: "r")) { client in
            for name in ["a", "b"] { _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: name))) }
            let reflector = Reflector<ConfigMap>(client: client, namespace: "r", pageSize: 1, backoff: Self.fastBackoff)
            let (runner, consumer, log) = Self.start(reflector)
            try await eventually("initial sync") { reflector.hasSynced }
            #expect(Set(reflector.store.keys) == ["r/a", "r/b"])

            let c = try await client.create(ConfigMap(metadata: ObjectMeta(name: "c")))
            try await eventually("c cached") { reflector.store.get("r/c") != nil }
            var a = try await client.get(ConfigMap.self, name: "a")
            a.data = ["x": "1"]
            let a2 = try await client.update(a)
            try await eventually("a updated") { reflector.store.get("r/a")?.data?["x"] == "1" }
            try await client.delete(ConfigMap.self, name: "b")
            try await eventually("b removed") { reflector.store.get("r/b") == nil }
            try await eventually("log complete") { log.all.contains("deleted b") }

            runner.cancel()
            await runner.value
            await consumer.value

            #expect(log.all == ["added a", "added b", "synced", "added c", "updated a", "deleted b"])
            let requests = server.requests().filter { $0.path == "/api/v1/namespaces/r/configmaps" && $0.method == "GET" }
            let lists = requests.filter { $0.query["watch"] == nil }
            let watches = requests.filter { $0.query["watch"] == "true" }
            // Two pages of one item, then no relist: each EOF re-watches from the last version seen.
            #expect(lists.count == 2)
            #expect(lists.first?.query["limit"] == "1")
            #expect(watches.count >= 3)
            #expect(watches.allSatisfy { $0.query["allowWatchBookmarks"] == "true" })
            #expect(watches.allSatisfy { Int($0.query["timeoutSeconds"] ?? "") .map { (300...600).contains($0) } ?? false })
            let versions = watches.map { $0.query["resourceVersion"] ?? "" }
            #expect(versions.contains(c.metadata.resourceVersion!))
            #expect(versions.contains(a2.metadata.resourceVersion!))
            #expect(reflector.listCount == 1)
        }
    }

    @Test func theTransformShapesWhatIsCachedAndPublishedFromListsAndWatches() async throws {
        let server = try await FakeAPIServer.start()
        defer { server.stop() }
        try await withClient(server.kubeConfig(namespace: "t")) { client in
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "a"), data: ["keep": "1", "big": "x"]))
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "b"), data: ["keep": "2", "big": "y"]))
            let transformed = Atomic<Int>(0)
            let reflector = Reflector<ConfigMap>(client: client, namespace: "t", transform: { cm in
                transformed.add(1, ordering: .relaxed)
                var cm = cm
                cm.data = cm.data?.filter { $0.key == "keep" }
                return cm
            }, pageSize: 1, backoff: Self.fastBackoff)
            let seen = Mutex<[ConfigMap]>([])
            let consumer = Task {
                for await event in reflector.events {
                    if case .added(let cm) = event { seen.withLock { $0.append(cm) } }
                    if case .updated(_, let cm) = event { seen.withLock { $0.append(cm) } }
                }
            }
            let runner = Task { await reflector.run() }
            try await eventually("initial sync") { reflector.hasSynced }
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "c"), data: ["keep": "3", "big": "z"]))
            try await eventually("c cached") { reflector.store.get("t/c") != nil }
            try await eventually("c published") { seen.withLock { $0.count } == 3 }
            runner.cancel()
            await runner.value
            await consumer.value
            // Listed in pages of one (two pages) and watched: every object was transformed once, and neither the
            // cache nor the events hold what the transform dropped.
            #expect(transformed.load(ordering: .relaxed) == 3)
            #expect(reflector.store.all.allSatisfy { $0.data?.keys.sorted() == ["keep"] })
            #expect(seen.withLock { $0 }.allSatisfy { $0.data?.keys.sorted() == ["keep"] })
            #expect(Set(reflector.store.all.compactMap { $0.data?["keep"] }) == ["1", "2", "3"])
        }
    }

    @Test func bookmarksAdvanceTheResourceVersion() async throws {
        // Watches end after one second with a BOOKMARK carrying the server's current version.
        let server = try await FakeAPIServer.start(config: ["max_watch_seconds": 1, "bookmark_on_close": true])
        defer { server.stop() }
        try await withClient(server.kubeConfig(namespace: "bm")) { client in
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "a")))
            let reflector = Reflector<ConfigMap>(client: client, namespace: "bm", backoff: Self.fastBackoff)
            let (runner, consumer, _) = Self.start(reflector)
            try await eventually("sync") { reflector.hasSynced }
            // A change in another namespace moves the server's version without an event for this watch.
            let other = try await client.create(ConfigMap(metadata: ObjectMeta(name: "elsewhere", namespace: "other")))
            let otherVersion = try #require(other.metadata.resourceVersion)
            try await eventually("bookmark version tracked") { reflector.lastResourceVersion == otherVersion }
            try await eventually("re-watch from the bookmark") {
                server.requests().contains { $0.query["watch"] == "true" && $0.query["resourceVersion"] == otherVersion }
            }
            runner.cancel()
            await runner.value
            await consumer.value
            #expect(reflector.listCount == 1)
        }
    }

    @Test func relistsAfter410AndReconcilesTheCache() async throws {
        let server = try await FakeAPIServer.start(config: ["watch_max_events": 1])
        defer { server.stop() }
        try await withClient(server.kubeConfig(namespace: "g")) { client in
            for name in ["a", "b"] { _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: name))) }
            let reflector = Reflector<ConfigMap>(client: client, namespace: "g", backoff: Self.fastBackoff)
            let (runner, consumer, log) = Self.start(reflector)
            try await eventually("sync") { reflector.hasSynced }

            // The next two watches are told their version expired; the reflector must relist, not give up.
            try await server.command("gone 2")
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "c")))   // ends the open watch
            try await eventually("c cached") { reflector.store.get("g/c") != nil }
            try await eventually("relisted twice") { reflector.listCount >= 3 }
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "d")))
            try await eventually("d cached after relist") { reflector.store.get("g/d") != nil }
            runner.cancel()
            await runner.value
            await consumer.value
            #expect(Set(reflector.store.keys) == ["g/a", "g/b", "g/c", "g/d"])
            #expect(log.all.filter { $0 == "synced" }.count == 1)
            #expect(log.all.filter { $0 == "added c" }.count == 1)
            let lists = server.requests().filter { $0.path == "/api/v1/namespaces/g/configmaps" && $0.method == "GET" && $0.query["watch"] == nil }
            #expect(lists.count == 3)
        }
    }

    @Test func relistDetectsObjectsDeletedWhileDisconnected() async throws {
        let server = try await FakeAPIServer.start(config: ["watch_max_events": 1])
        defer { server.stop() }
        try await withClient(server.kubeConfig(namespace: "d")) { client in
            for name in ["keep", "lose"] { _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: name))) }
            let reflector = Reflector<ConfigMap>(client: client, namespace: "d", backoff: Self.fastBackoff)
            let (runner, consumer, log) = Self.start(reflector)
            try await eventually("sync") { reflector.hasSynced }
            // The object vanishes without a watch event and the next watch is told its version expired:
            // only the relist can reveal the deletion.
            try await server.command("purge v1 configmaps d lose")
            try await server.command("gone 1")
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "trigger")))   // ends the open watch
            try await eventually("lose removed") { reflector.store.get("d/lose") == nil }
            #expect(reflector.listCount == 2)
            runner.cancel()
            await runner.value
            await consumer.value
            #expect(log.all.contains("deleted lose"))
            #expect(reflector.store.get("d/keep") != nil)
        }
    }

    @Test func backsOffWhileTheServerIsUnreachable() async throws {
        let clock = ManualClock()
        // Nothing listens on port 1.
        try await withClient(KubeConfig(server: "http://127.0.0.1:1"), connectTimeout: .milliseconds(300)) { client in
            let reflector = Reflector<ConfigMap>(client: client, clock: clock,
                                                 backoff: ExponentialBackoff(random: { 0 }))
            let runner = Task { await reflector.run() }
            await clock.waitForSleepers()
            #expect(reflector.listCount == 1)
            clock.advance(by: .milliseconds(799))
            try await Task.sleep(for: .milliseconds(50))
            #expect(reflector.listCount == 1)
            clock.advance(by: .milliseconds(1))
            try await eventually("second list") { reflector.listCount == 2 }
            await clock.waitForSleepers()
            clock.advance(by: .milliseconds(1599))
            try await Task.sleep(for: .milliseconds(50))
            #expect(reflector.listCount == 2)
            clock.advance(by: .milliseconds(1))
            try await eventually("third list") { reflector.listCount == 3 }
            runner.cancel()
            await runner.value
            #expect(!reflector.hasSynced)
        }
    }
}
