import Foundation
import MirModel
import Synchronization
import MirTestSupport
import Testing
@testable import KubeLocal

/// A clock the tests move by hand.
final class ManualClock: Sendable {
    private let now = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    func read() -> Date { now.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
    var function: @Sendable () -> Date { { self.read() } }
}

private func configMap(_ name: String, _ data: [String: String] = [:], labels: [String: String] = [:]) -> JSONValue {
    .object(["metadata": .object(["name": .string(name), "labels": .object(labels.mapValues { .string($0) })]),
             "data": .object(data.mapValues { .string($0) })])
}

/// Runs `body` with `cluster` and always stops it (its HTTP client must be shut down even when the body throws).
private func stopping<T>(_ cluster: TestCluster, _ body: (TestCluster) async throws -> T) async throws -> T {
    do {
        let result = try await body(cluster)
        await cluster.stop()
        return result
    } catch {
        await cluster.stop()
        throw error
    }
}

private func name(_ object: JSONValue) -> String { object["metadata"]?["name"]?.stringValue ?? "" }
private func rv(_ object: JSONValue) -> Int { Int(object["metadata"]?["resourceVersion"]?.stringValue ?? "") ?? -1 }

/// Reads a watch stream's replayed and live events until `count` arrived.
private func events(_ stream: AsyncStream<WatchSignal>, count: Int) async -> [WatchEvent] {
    var out: [WatchEvent] = []
    for await signal in stream {
        if case .event(let e) = signal { out.append(e) }
        if out.count >= count { break }
    }
    return out
}

@Suite struct StorageTests {
    let cm = BuiltinResources.configMaps
    let options = WriteOptions()

    private func update(_ state: ClusterState, _ name: String, value: String) async throws {
        _ = try await state.patch(cm, namespace: "default", name: name, type: .merge, patch: .object(["data": .object(["v": .string(value)])]),
                                  subresource: nil, options: options)
    }

    /// The same 50 writes cost the same rows and bytes with 100 or 2,000 objects stored: a write costs O(object).
    @Test func writeCostDoesNotGrowWithTheStoredObjects() async throws {
        func measure(objects n: Int) async throws -> (StorageStatistics, Int) {
            let dir = try temporaryDirectory("cost-\(n)")
            defer { try? FileManager.default.removeItem(at: dir) }
            let state = try ClusterState(historyLimit: 100, databaseURL: dir.appendingPathComponent("state.db"))
            try await state.bootstrap()
            for i in 0..<n { _ = try await state.create(cm, namespace: "default", body: configMap("o\(i)", ["v": "0000"]), options: options) }
            // Warm up past the compaction window, so the measured writes compact as a long-running server does (and to
            // four-digit resourceVersions in both runs: the version's digits are part of what is written).
            for i in 0..<1000 { try await update(state, "o\(i % 10)", value: String(format: "%04d", i)) }
            let before = await state.storageStatistics
            for i in 0..<50 { try await update(state, "o\(i % 10)", value: String(format: "%04d", 5000 + i)) }
            let after = await state.storageStatistics
            let rows = try await state.rowCount()
            await state.close()
            return (StorageStatistics(rowsTouched: after.rowsTouched - before.rowsTouched,
                                      valueBytesWritten: after.valueBytesWritten - before.valueBytesWritten,
                                      appends: after.appends - before.appends, compactedRows: after.compactedRows - before.compactedRows),
                    rows)
        }
        let (small, _) = try await measure(objects: 100)
        let (large, largeRows) = try await measure(objects: 2000)
        #expect(small == large, "per-write cost at N=100 \(small) vs N=2000 \(large)")
        #expect(small.appends == 50)
        // One row appended, one superseded row compacted, the compaction revision recorded: 3 rows per write.
        #expect(small.rowsTouched == 150, "\(small)")
        #expect(small.compactedRows == 50, "\(small)")
        // Each write stores the one object it changed (a config map of a few hundred bytes), not the state.
        #expect(small.valueBytesWritten < 50 * 400, "\(small)")
        // What is kept: the live objects, plus at most the window of superseded versions.
        #expect(largeRows <= 2000 + 7 + 100, "rows kept: \(largeRows)")
    }

    /// Lists with an equality label selector read their candidates from the label index: after creates, label
    /// changes, deletes and a restart, every selector lists exactly what a scan of every object would.
    @Test func labelIndexedListsEqualAScan() async throws {
        let dir = try temporaryDirectory("labels")
        defer { try? FileManager.default.removeItem(at: dir) }
        var state = try ClusterState(databaseURL: dir.appendingPathComponent("state.db"))
        try await state.bootstrap()
        for i in 0..<60 {
            _ = try await state.create(cm, namespace: i % 2 == 0 ? "default" : "kube-system",
                                       body: configMap("o\(i)", labels: ["image": "i\(i % 6)", "tier": i % 3 == 0 ? "a" : "b"]), options: options)
        }
        for i in stride(from: 0, to: 60, by: 4) {  // moves from one image to another, or loses the label
            let labels: JSONValue = i % 8 == 0 ? .object(["image": .string("moved")]) : .object(["image": .null])
            _ = try await state.patch(cm, namespace: i % 2 == 0 ? "default" : "kube-system", name: "o\(i)", type: .merge,
                                      patch: .object(["metadata": .object(["labels": labels])]), subresource: nil, options: options)
        }
        for i in stride(from: 1, to: 60, by: 10) { _ = try await state.delete(cm, namespace: "kube-system", name: "o\(i)", request: DeleteRequest()) }
        func check(_ state: ClusterState) async throws {
            for text in ["image=i1", "image=moved", "image==i3,tier=a", "image=i2,tier!=a", "image=nothing", "tier=b,image in (i1,i5)"] {
                let selector = try LabelSelector(text)
                for namespace in [nil, "default", "kube-system"] as [String?] {
                    let indexed = try await state.list(cm, namespace: namespace, labels: selector).items.filter { selector.matches($0.object) }
                    let scanned = try await state.list(cm, namespace: namespace).items.filter { selector.matches($0.object) }
                    #expect(indexed.map(\.key) == scanned.map(\.key), "\(text) in \(namespace ?? "all")")
                    #expect(text == "image=nothing" || !scanned.isEmpty || namespace != nil, "\(text): the case selects something")
                }
            }
        }
        try await check(state)
        await state.close()
        state = try ClusterState(databaseURL: dir.appendingPathComponent("state.db"))
        try await state.bootstrap()
        try await check(state)
    }

    /// A page of a list at a past revision (every page after the first of a paged list: kubectl's chunks of 500, an
    /// informer's initial list) reads about a page of rows, not the rest of the resource.
    @Test func aPageAtARevisionReadsAboutAPage() async throws {
        let state = try ClusterState()
        try await state.bootstrap()
        for i in 0..<400 { _ = try await state.create(cm, namespace: "default", body: configMap(String(format: "o%03d", i)), options: options) }
        let then = await state.currentResourceVersion
        try await update(state, "o000", value: "later")   // the revision moves on: pages are served from the store
        let before = await state.storageStatistics.rowsListed
        let page = try await state.list(cm, namespace: "default", at: then, after: "default/o099", limit: 10)
        let read = await state.storageStatistics.rowsListed - before
        #expect(page.items.prefix(11).map { name($0.object) } == (100...110).map { String(format: "o%03d", $0) }, "the page and one more")
        #expect(read <= 64, "\(read) rows read for a page of 10 of 400")
        // A selector that matches rarely reads on, chunk by chunk, until the page is full or the resource ends.
        let rare = try await state.list(cm, namespace: "default", at: then, after: nil, limit: 2) { name($0).hasSuffix("7") && name($0) > "o300" }
        #expect(rare.items.prefix(3).map { name($0.object) } == ["o307", "o317", "o327"])
    }

    /// Objects live in the store only (memory holds keys, revisions and indexes): a get reads one row, a page at the
    /// current revision reads about a page, and a list selected by `key=value` labels reads just the objects the label
    /// index gives for all its terms.
    @Test func currentReadsTouchOnlyTheRowsTheyServe() async throws {
        let state = try ClusterState()
        try await state.bootstrap()
        for i in 0..<400 {
            let labels = ["a": i % 2 == 0 ? "1" : "0", "b": i % 20 == 0 ? "2" : "0"]
            _ = try await state.create(cm, namespace: "default", body: configMap(String(format: "o%03d", i), labels: labels), options: options)
        }
        var before = await state.storageStatistics.rowsRead
        _ = try await state.get(cm, namespace: "default", name: "o123")
        #expect(await state.storageStatistics.rowsRead - before == 1)

        before = await state.storageStatistics.rowsRead
        let page = try await state.list(cm, namespace: "default", at: nil, after: "default/o099", limit: 10)
        #expect(page.items.prefix(10).map { name($0.object) } == (100...109).map { String(format: "o%03d", $0) })
        #expect(page.remaining == 300 - 10, "known without reading: no selector")
        #expect(await state.storageStatistics.rowsRead - before <= 64)

        before = await state.storageStatistics.rowsRead
        let both = try await state.list(cm, namespace: "default", at: nil, after: nil, labels: try LabelSelector("a=1,b=2"))
        #expect(both.items.map { name($0.object) } == stride(from: 0, to: 400, by: 20).map { String(format: "o%03d", $0) })
        #expect(await state.storageStatistics.rowsRead - before == 20, "the intersection of a=1 (200) and b=2 (20)")
        #expect(both.remaining == nil, "unknown with a selector, as Kubernetes leaves it")
        // A selector the index cannot answer alone is still exact: matched on the decoded objects.
        let notB = try await state.list(cm, namespace: "default", at: nil, after: nil, labels: try LabelSelector("a=1,b!=2"), limit: 5)
        #expect(notB.items.prefix(5).map { name($0.object) } == ["o002", "o004", "o006", "o008", "o010"])
    }

    /// Objects are listed as their stored JSON: a list body with the items spliced in is byte for byte the
    /// encoding of the list as a `JSONValue`, at the current revision and at a past one, and a watch line likewise.
    @Test func listsAndWatchLinesSendTheStoredBytesAsTheyAre() async throws {
        let state = try ClusterState()
        try await state.bootstrap()
        for n in ["a", "b", "c"] {
            _ = try await state.create(cm, namespace: "default", body: configMap(n, ["v": "1\u{e9}\"q\""], labels: ["x": n]), options: options)
        }
        let first = await state.currentResourceVersion
        try await update(state, "b", value: "2")
        let current = try await state.list(cm, namespace: "default")
        let past = try await state.list(cm, namespace: "default", at: first, after: nil)
        for page in [(items: current.items, resourceVersion: current.resourceVersion), (items: past.items, resourceVersion: past.resourceVersion)] {
            #expect(page.items.allSatisfy { $0.stored.carriesTypeMeta })
            let metadata = JSONValue.object(["resourceVersion": .string(String(page.resourceVersion)), "continue": .string("t")])
            let spliced = APIHandler.listBody(kind: "ConfigMapList", apiVersion: "v1", metadata: metadata, items: page.items.map(\.stored.json))
            let encoded = JSONValue.object(["kind": .string("ConfigMapList"), "apiVersion": .string("v1"), "metadata": metadata,
                                            "items": .array(page.items.map(\.object))]).jsonData
            #expect(spliced == encoded)
            #expect(try JSONValue.decode(spliced)["items"]?.arrayValue?.count == 3)
        }
        let object = try await state.get(cm, namespace: "default", name: "a")
        #expect(APIHandler.watchLine(type: "ADDED", objectJSON: object.jsonData)
                == Data((JSONValue.object(["type": .string("ADDED"), "object": object]).canonicalText + "\n").utf8))
        // Bytes without their type (rows of an old import) get it before they are sent.
        let untyped = StoredObject(.object(["metadata": .object(["name": .string("z")])]))
        #expect(!untyped.carriesTypeMeta)
    }

    @Test func listAtARevisionSeesThatRevision() async throws {
        let state = try ClusterState()
        try await state.bootstrap()
        for n in ["a", "b", "c"] { _ = try await state.create(cm, namespace: "default", body: configMap(n, ["v": "1"]), options: options) }
        let first = await state.currentResourceVersion
        try await update(state, "b", value: "2")
        _ = try await state.delete(cm, namespace: "default", name: "c", request: DeleteRequest())
        _ = try await state.create(cm, namespace: "default", body: configMap("d", ["v": "1"]), options: options)
        let then = try await state.list(cm, namespace: "default", at: first, after: nil)
        #expect(then.resourceVersion == first)
        #expect(then.items.map { name($0.object) } == ["a", "b", "c"])
        #expect(then.items.map { $0.object["data"]?["v"]?.stringValue } == ["1", "1", "1"])
        #expect(then.items.allSatisfy { $0.object["kind"]?.stringValue == "ConfigMap" })
        let now = try await state.list(cm, namespace: "default", at: await state.currentResourceVersion - 1, after: "default/a")
        #expect(now.items.map { name($0.object) } == ["b"], "after a, before d was created")
        let current = try await state.list(cm, namespace: "default")
        #expect(current.items.map { name($0.object) } == ["a", "b", "d"])
        #expect(try await state.list(cm, namespace: "kube-system", at: first, after: nil).items.isEmpty)
    }

    @Test func listAtARevisionOverHTTPAndConsistentPaging() async throws {
        try await withCluster(crd: false) { c in
            for i in 0..<5 {
                try await c.call(.POST, "/api/v1/namespaces/default/configmaps", json: ["metadata": ["name": "p\(i)"], "data": ["v": "old"]])
            }
            let page1 = try await c.call(.GET, "/api/v1/namespaces/default/configmaps?limit=2").json
            let listRV = page1.at("metadata", "resourceVersion") as? String ?? ""
            let token = page1.at("metadata", "continue") as? String ?? ""
            #expect((page1["items"] as? [Any])?.count == 2)
            // Changes between pages: the next pages still show the list's revision.
            try await c.call(.PATCH, "/api/v1/namespaces/default/configmaps/p3", json: ["data": ["v": "new"]], contentType: "application/merge-patch+json")
            try await c.call(.DELETE, "/api/v1/namespaces/default/configmaps/p4")
            try await c.call(.POST, "/api/v1/namespaces/default/configmaps", json: ["metadata": ["name": "p5"]])
            let page2 = try await c.call(.GET, "/api/v1/namespaces/default/configmaps?limit=10&continue=\(token)").json
            let items = page2["items"] as? [[String: Any]] ?? []
            #expect(items.compactMap { $0.at("metadata", "name") as? String } == ["p2", "p3", "p4"])
            #expect(items.compactMap { $0.at("data", "v") as? String } == ["old", "old", "old"])
            #expect(page2.at("metadata", "resourceVersion") as? String == listRV)
            let exact = try await c.call(.GET, "/api/v1/namespaces/default/configmaps?resourceVersion=\(listRV)&resourceVersionMatch=Exact").json
            #expect((exact["items"] as? [[String: Any]])?.compactMap { $0.at("metadata", "name") as? String } == ["p0", "p1", "p2", "p3", "p4"])
            let latest = try await c.call(.GET, "/api/v1/namespaces/default/configmaps").json
            #expect((latest["items"] as? [[String: Any]])?.compactMap { $0.at("metadata", "name") as? String } == ["p0", "p1", "p2", "p3", "p5"])
        }
    }

    @Test func compactionKeepsAWindowAndAnswersGoneBeforeIt() async throws {
        let dir = try temporaryDirectory("compaction")
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("state.db")
        var state = try ClusterState(historyLimit: 3, databaseURL: db)
        try await state.bootstrap()
        _ = try await state.create(cm, namespace: "default", body: configMap("x"), options: options)
        let old = await state.currentResourceVersion
        for i in 0..<5 { try await update(state, "x", value: "\(i)") }
        let current = await state.currentResourceVersion
        #expect(await state.isCompacted(old))
        #expect(!(await state.isCompacted(current - 3)))
        #expect(try await state.rowCount() <= 7 + 1 + 3, "the 5 namespaces and cluster-admin's ClusterRole and binding, x, and at most 3 superseded versions")
        await state.close()
        // Across a restart: what was compacted stays compacted; the window is still served.
        state = try ClusterState(historyLimit: 3, databaseURL: db)
        try await state.bootstrap()
        do {
            _ = try await state.watch(cm, fromResourceVersion: old)
            Issue.record("a watch from a compacted revision must fail")
        } catch let error as APIError {
            #expect(error.code == 410 && error.reason == "Expired")
            #expect(error.message == "too old resource version: \(old) (\(current - 3 + 1))")
        }
        do {
            _ = try await state.list(cm, namespace: nil, at: old, after: nil)
            Issue.record("a list at a compacted revision must fail")
        } catch let error as APIError {
            #expect(error.code == 410 && error.message == "The resourceVersion for the provided list is too old.")
        }
        let replay = try await state.watch(cm, fromResourceVersion: current - 3)
        let seen = await events(replay.stream, count: 3)
        #expect(seen.map(\.type) == ["MODIFIED", "MODIFIED", "MODIFIED"])
        #expect(seen.map(\.resourceVersion) == [current - 2, current - 1, current])
        #expect(seen.map { $0.object["data"]?["v"]?.stringValue } == ["2", "3", "4"])
        #expect(seen.first?.previous?["data"]?["v"]?.stringValue == "1", "the superseded version at the window's edge is kept")
        await state.close()
    }

    @Test func watchesResumeFromTheirResourceVersionAcrossARestart() async throws {
        let dir = try temporaryDirectory("restart")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (from, lastRV) = try await stopping(try await TestCluster(stateDirectory: dir)) { first in
            let created = try await first.call(.POST, "/api/v1/namespaces/default/configmaps",
                                               json: ["metadata": ["name": "keep", "labels": ["app": "x"]]]).json
            let from = created.at("metadata", "resourceVersion") as? String ?? ""
            try await first.call(.POST, "/api/v1/namespaces/default/configmaps", json: ["metadata": ["name": "gone", "labels": ["app": "x"]]])
            try await first.call(.PATCH, "/api/v1/namespaces/default/configmaps/keep", json: ["metadata": ["labels": ["app": "y"]]],
                                 contentType: "application/merge-patch+json")
            try await first.call(.DELETE, "/api/v1/namespaces/default/configmaps/gone")
            let lastRV = try await first.call(.GET, "/api/v1/namespaces/default/configmaps").json.at("metadata", "resourceVersion") as? String
            return (from, lastRV)
        }

        try await stopping(try await TestCluster(stateDirectory: dir)) { second in
            let listed = try await second.call(.GET, "/api/v1/namespaces/default/configmaps").json
            #expect(listed.at("metadata", "resourceVersion") as? String == lastRV, "the revision counter survives the restart")
            let all = try await second.watch("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=\(from)", count: 3, timeout: .seconds(5))
            #expect(all.map { $0["type"] as? String } == ["ADDED", "MODIFIED", "DELETED"])
            #expect(all.map { $0.at("object", "metadata", "name") as? String } == ["gone", "keep", "gone"])
            // The superseded versions are stored too: leaving a selector is a DELETED for that watcher.
            let selected = try await second.watch("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=\(from)&labelSelector=app%3Dx",
                                                  count: 3, timeout: .seconds(5))
            #expect(selected.map { $0["type"] as? String } == ["ADDED", "DELETED", "DELETED"])
            #expect(selected.map { $0.at("object", "metadata", "name") as? String } == ["gone", "keep", "gone"])
            let after = try await second.call(.POST, "/api/v1/namespaces/default/configmaps", json: ["metadata": ["name": "new"]]).json
            #expect(Int(after.at("metadata", "resourceVersion") as? String ?? "") == (Int(lastRV ?? "") ?? 0) + 1)
        }
    }

    @Test func eventsExpireAfterTheirTimeToLiveSinceTheLastWrite() async throws {
        let dir = try temporaryDirectory("ttl")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clock = ManualClock()
        let db = dir.appendingPathComponent("state.db")
        var state = try ClusterState(databaseURL: db, eventTTL: .seconds(60), clock: clock.function)
        try await state.bootstrap()
        let ev = BuiltinResources.events
        func event(_ name: String) -> JSONValue {
            .object(["metadata": .object(["name": .string(name)]), "reason": .string("Test"), "message": .string("m"), "count": .number(1),
                     "involvedObject": .object(["kind": .string("ConfigMap"), "name": .string("x"), "namespace": .string("default")])])
        }
        _ = try await state.create(ev, namespace: "default", body: event("e1"), options: options)
        _ = try await state.create(ev, namespace: "default", body: event("e2"), options: options)
        clock.advance(30)
        // A write (the recorder's count update) starts the time to live again.
        _ = try await state.patch(ev, namespace: "default", name: "e2", type: .merge, patch: .object(["count": .number(2)]),
                                  subresource: nil, options: options)
        clock.advance(29)
        #expect(await state.expireEvents() == 0)
        let watch = try await state.watch(ev, fromResourceVersion: await state.currentResourceVersion)
        clock.advance(2)
        #expect(await state.expireEvents() == 1)
        #expect(try await state.list(ev, namespace: nil).items.map { name($0.object) } == ["e2"])
        let deleted = await events(watch.stream, count: 1)
        #expect(deleted.map(\.type) == ["DELETED"] && deleted.map { name($0.object) } == ["e1"], "watchers see the expiry")
        // The expiry is stored: after a restart e2 still expires on time.
        await state.close()
        state = try ClusterState(databaseURL: db, eventTTL: .seconds(60), clock: clock.function)
        try await state.bootstrap()
        #expect(try await state.list(ev, namespace: nil).items.map { name($0.object) } == ["e2"])
        clock.advance(28)
        #expect(await state.expireEvents() == 0)
        clock.advance(2)
        #expect(await state.expireEvents() == 1)
        #expect(try await state.list(ev, namespace: nil).items.isEmpty)
        // Other kinds never expire.
        _ = try await state.create(cm, namespace: "default", body: configMap("stays"), options: options)
        clock.advance(10 * 3600)
        #expect(await state.expireEvents() == 0)
        #expect(try await state.list(cm, namespace: nil).items.count == 1)
        await state.close()
    }

    @Test func theControlPlaneSweepsExpiredEvents() async throws {
        let running = try await LocalControlPlane().start(ControlPlaneConfiguration(insecurePort: 0, eventTTL: .milliseconds(300)))
        let http = HTTPClientBox()
        let base = running.insecureURL!.absoluteString + "/api/v1/namespaces/default/events"
        do {
            let created = try await http.call(.POST, base, body: ["metadata": ["name": "short"], "reason": "R", "message": "m",
                                                                  "involvedObject": ["kind": "ConfigMap", "name": "x"]])
            #expect(created.status == 201)
            var status = 200
            for _ in 0..<200 where status == 200 {
                try await Task.sleep(for: .milliseconds(100))
                status = try await http.call(.GET, base + "/short").status
            }
            #expect(status == 404, "the event is removed by the sweeper once its time to live passed")
        } catch {
            Issue.record("\(error)")
        }
        await http.shutdown()
        await running.shutdown()
    }

    @Test func aSecondServerOnTheSameStateFailsClearly() async throws {
        let dir = try temporaryDirectory("lock")
        defer { try? FileManager.default.removeItem(at: dir) }
        try await stopping(try await TestCluster(stateDirectory: dir)) { _ in
            do {
                _ = try await LocalControlPlane().start(ControlPlaneConfiguration(stateDirectory: dir, insecurePort: 0))
                Issue.record("a second control plane on the same state directory must not start")
            } catch {
                #expect("\(error)".contains("in use by another process"), "\(error)")
            }
        }
        try await stopping(try await TestCluster(stateDirectory: dir)) { _ in }
    }
}

@Suite struct StateFileTests {
    @Test func stateDirectoryIs0700AndItsFiles0600() async throws {
        let dir = try temporaryDirectory("modes")
        defer { try? FileManager.default.removeItem(at: dir) }
        let state = dir.appendingPathComponent("state")
        // An existing, too open directory (as older versions made it) is tightened.
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try await stopping(try await TestCluster(stateDirectory: state)) { cluster in
            try await cluster.call(.POST, "/api/v1/namespaces/default/configmaps", json: ["metadata": ["name": "m"]])
            func mode(_ path: String) throws -> Int {
                (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
            }
            #expect(try mode(state.path) == 0o700)
            let files = try FileManager.default.contentsOfDirectory(atPath: state.path).sorted()
            #expect(files.contains(LocalControlPlane.databaseFile) && files.contains("token") && files.contains("ca.crt"), "\(files)")
            #expect(files.contains("\(LocalControlPlane.databaseFile)-wal"), "the database runs in WAL mode: \(files)")
            for file in files {
                let fileMode = try mode(state.appendingPathComponent(file).path)
                #expect(fileMode == 0o600, "\(file) is \(String(fileMode, radix: 8))")
            }
        }
    }

    @Test func aLegacySnapshotIsImportedOnceAndRemoved() async throws {
        let dir = try temporaryDirectory("legacy")
        defer { try? FileManager.default.removeItem(at: dir) }
        let snapshot: [String: Any] = ["resourceVersion": 12, "objects": [
            "namespaces": [["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "default", "resourceVersion": "1", "uid": "n1"]]],
            "secrets": [["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "old", "namespace": "default", "resourceVersion": "7", "uid": "s1"],
                         "stringData": ["password": "plain-text-legacy"]]],
            "configmaps": [["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "cm", "namespace": "default", "resourceVersion": "11", "uid": "c1"],
                            "data": ["k": "v"]]],
        ]]
        try JSONSerialization.data(withJSONObject: snapshot).write(to: dir.appendingPathComponent("snapshot.json"))
        try await stopping(try await TestCluster(stateDirectory: dir)) { cluster in
            let secret = try await cluster.call(.GET, "/api/v1/namespaces/default/secrets/old").json
            #expect(secret.at("data", "password") as? String == Data("plain-text-legacy".utf8).base64EncodedString())
            #expect(secret["stringData"] == nil)
            #expect(secret.at("metadata", "resourceVersion") as? String == "7")
            let cm = try await cluster.call(.GET, "/api/v1/namespaces/default/configmaps/cm").json
            #expect(cm.at("metadata", "resourceVersion") as? String == "11" && cm.at("data", "k") as? String == "v")
            let next = try await cluster.call(.POST, "/api/v1/namespaces/default/configmaps", json: ["metadata": ["name": "after"]]).json
            #expect(next.at("metadata", "resourceVersion") as? String == "19",
                    "after the snapshot's 12, the 4 namespaces it lacked and cluster-admin's ClusterRole and binding")
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("snapshot.json").path), "the plain-text snapshot is gone")
        }
    }
}

@Suite struct SecretTests {
    @Test func stringDataIsMergedIntoDataOnEveryWrite() async throws {
        let dir = try temporaryDirectory("secrets")
        defer { try? FileManager.default.removeItem(at: dir) }
        try await stopping(try await TestCluster(stateDirectory: dir)) { c in
            let base = "/api/v1/namespaces/default/secrets"
            func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }
            // create: stringData wins over data of the same key.
            let created = try await c.call(.POST, base, json: ["metadata": ["name": "s"], "data": ["user": b64("from-data"), "keep": b64("k")],
                                                                "stringData": ["user": "admin", "password": "create-plaintext-1"]])
            #expect(created.status == 201)
            #expect(created.json["stringData"] == nil)
            #expect(created.json["data"] as? [String: String] == ["user": b64("admin"), "password": b64("create-plaintext-1"), "keep": b64("k")])
            // merge patch, strategic merge patch, JSON patch.
            try await c.call(.PATCH, base + "/s", json: ["stringData": ["password": "patch-plaintext-2"]], contentType: "application/merge-patch+json")
            try await c.call(.PATCH, base + "/s", json: ["stringData": ["extra": "strategic-plaintext-3"]], contentType: "application/strategic-merge-patch+json")
            try await c.call(.PATCH, base + "/s", json: [["op": "add", "path": "/stringData", "value": ["json": "jsonpatch-plaintext-4"]]],
                             contentType: "application/json-patch+json")
            // update.
            var current = try await c.call(.GET, base + "/s").json
            current["stringData"] = ["put": "update-plaintext-5"]
            try await c.call(.PUT, base + "/s", json: current)
            // server-side apply, creating and then changing.
            let applyBody: [String: Any] = ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "applied"], "stringData": ["token": "apply-plaintext-6"]]
            let applied = try await c.call(.PATCH, base + "/applied?fieldManager=test", json: applyBody, contentType: "application/apply-patch+yaml")
            #expect(applied.status == 201, "\(applied.text)")
            let final = try await c.call(.GET, base + "/s").json
            #expect(final["stringData"] == nil)
            #expect(final["data"] as? [String: String] == ["user": b64("admin"), "password": b64("patch-plaintext-2"), "keep": b64("k"),
                                                           "extra": b64("strategic-plaintext-3"), "json": b64("jsonpatch-plaintext-4"),
                                                           "put": b64("update-plaintext-5")])
            let appliedNow = try await c.call(.GET, base + "/applied").json
            #expect(appliedNow["stringData"] == nil && appliedNow.at("data", "token") as? String == b64("apply-plaintext-6"))
            // Lists and watches show the stored form too.
            let list = try await c.call(.GET, base).json
            #expect((list["items"] as? [[String: Any]])?.allSatisfy { $0["stringData"] == nil } == true)
            // Bad input is refused, as the API server refuses it.
            let bad = try await c.call(.POST, base, json: ["metadata": ["name": "bad"], "data": ["x": "not base64!"]])
            #expect(bad.status == 400 && (bad.json["message"] as? String ?? "").contains("illegal base64 data at input byte 3"), "\(bad.text)")
            let notString = try await c.call(.POST, base, json: ["metadata": ["name": "bad2"], "stringData": ["x": 5]])
            #expect(notString.status == 400)
        }
        // Nothing on disk holds the plain text.
        var bytes = Data()
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            bytes.append((try? Data(contentsOf: dir.appendingPathComponent(file))) ?? Data())
        }
        #expect(bytes.count > 0)
        for n in 1...6 {
            let marker = ["create", "patch", "strategic", "jsonpatch", "update", "apply"][n - 1] + "-plaintext-\(n)"
            #expect(bytes.range(of: Data(marker.utf8)) == nil, "\(marker) is stored in plain text")
        }
    }

    @Test(.timeLimit(.minutes(3))) func kubectlShowsSecretsAsDataNeverStringData() async throws {
        try await withKubectlCluster("kubectl-secrets") { cluster in
            let (kubectl, dir) = (cluster.kubectl, cluster.dir)
            func secretYAML(_ name: String, _ value: String) -> String {
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: \(name)\ntype: Opaque\nstringData:\n  password: \(value)\n"
            }
            let created = dir.appendingPathComponent("created.yaml")
            try secretYAML("created", "kubectl-create-secret").write(to: created, atomically: true, encoding: .utf8)
            let applied = dir.appendingPathComponent("applied.yaml")
            try secretYAML("applied", "kubectl-apply-secret").write(to: applied, atomically: true, encoding: .utf8)
            let create = try await kubectl.run("create", "-f", created.path)
            #expect(create.status == 0, "\(create.stderr)")
            let apply = try await kubectl.run("apply", "--server-side", "-f", applied.path)
            #expect(apply.status == 0, "\(apply.stderr)")
            let patch = try await kubectl.run("patch", "secret", "created", "--type=merge", "-p", #"{"stringData":{"token":"kubectl-patch-secret"}}"#)
            #expect(patch.status == 0, "\(patch.stderr)")
            for (name, key, value) in [("created", "password", "kubectl-create-secret"), ("applied", "password", "kubectl-apply-secret"),
                                       ("created", "token", "kubectl-patch-secret")] {
                let yaml = try await kubectl.run("get", "secret", name, "-o", "yaml")
                #expect(yaml.status == 0, "\(yaml.stderr)")
                let object = try JSONValue.yaml(yaml.stdout)
                #expect(object["stringData"] == nil, "\(name): \(yaml.stdout)")
                #expect(object["data"]?[key]?.stringValue == Data(value.utf8).base64EncodedString(), "\(name): \(yaml.stdout)")
                #expect(!yaml.stdout.contains("stringData"), "\(name): \(yaml.stdout)")
                let jsonpath = try await kubectl.run("get", "secret", name, "-o", "jsonpath={.data.\(key)}")
                #expect(Data(base64Encoded: jsonpath.stdout).map { String(decoding: $0, as: UTF8.self) } == value)
            }
        }
    }

    @Test func base64Validation() {
        #expect(ClusterState.invalidBase64Offset("") == nil)
        #expect(ClusterState.invalidBase64Offset("YWJj") == nil)
        #expect(ClusterState.invalidBase64Offset("YWI=") == nil)
        #expect(ClusterState.invalidBase64Offset("YQ==") == nil)
        #expect(ClusterState.invalidBase64Offset("YWJ") == 0)
        #expect(ClusterState.invalidBase64Offset("YWJjZ") == 4)
        #expect(ClusterState.invalidBase64Offset("YW!j") == 2)
        #expect(ClusterState.invalidBase64Offset("Y===") == 1)
        #expect(ClusterState.invalidBase64Offset("YQ==YQ==") == 2)
    }
}
