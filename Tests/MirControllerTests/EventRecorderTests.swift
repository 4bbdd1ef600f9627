import Foundation
import KubeClient
import KubeLocal
import MirModel
import Synchronization
import Testing
@testable import MirController

@Suite struct EventCorrelatorTests {
    let object = EventCorrelator.ObjectIdentity(apiVersion: "mir.dev/v1alpha1", kind: "ManagedImage", namespace: "", name: "web", uid: "u1")
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    private func occurrence(_ message: String, reason: String = "BuildStarted", type: String = "Normal") -> EventCorrelator.Occurrence {
        .init(involvedObject: object, type: type, reason: reason, message: message)
    }

    @Test func repeatsUpdateOneEventsCount() {
        var c = EventCorrelator()
        let first = c.correlate(occurrence("building"), now: t0)
        #expect(first.action == .create(message: "building"))
        c.recorded(first.key, name: "web.1", count: 1, first: t0)
        for i in 2...100 {
            let d = c.correlate(occurrence("building"), now: t0.addingTimeInterval(Double(i)))
            #expect(d.action == .update(name: "web.1", count: i, firstTimestamp: t0, message: "building"))
            c.recorded(d.key, name: "web.1", count: i)
        }
        // Another type, reason or object is another Event.
        #expect(c.correlate(occurrence("building", type: "Warning"), now: t0) .action == .create(message: "building"))
        #expect(c.correlate(occurrence("building", reason: "Other"), now: t0).action == .create(message: "building"))
        // Gone on the server (expired): the next one is created afresh.
        c.forget(first.key)
        #expect(c.correlate(occurrence("building"), now: t0.addingTimeInterval(200)).action == .create(message: "building"))
    }

    @Test func manySimilarMessagesAreCombined() {
        var c = EventCorrelator()
        var creates = 0
        for i in 0..<30 {
            let d = c.correlate(occurrence("message \(i)"), now: t0.addingTimeInterval(Double(i)))
            switch d.action {
            case .create(let message):
                creates += 1
                #expect(i < 10)
                if i < 9 { #expect(message == "message \(i)") } else { #expect(message == "(combined from similar events): message 9") }
                c.recorded(d.key, name: "web.\(i)", count: 1, first: t0)
            case .update(let name, let count, _, let message):
                #expect(name == "web.9" && count == i - 8 && message == "(combined from similar events): message \(i)")
                c.recorded(d.key, name: name, count: count)
            }
        }
        #expect(creates == 10, "nine single events, then one combined event for the rest")
        // After ten quiet minutes the aggregation starts over.
        let later = c.correlate(occurrence("fresh"), now: t0.addingTimeInterval(29 + 601))
        #expect(later.action == .create(message: "fresh"))
    }

    @Test func memoryIsBounded() {
        var c = EventCorrelator()
        for i in 0..<10_000 {
            let o = EventCorrelator.Occurrence(involvedObject: .init(apiVersion: "v", kind: "K", namespace: "", name: "o\(i)", uid: "\(i)"),
                                               type: "Normal", reason: "R", message: "m")
            let d = c.correlate(o, now: t0)
            c.recorded(d.key, name: "o\(i).1", count: 1, first: t0)
        }
        #expect(c.rememberedCount == 4096)
    }

    @Test func lruKeepsTheRecentlyUsed() {
        var lru = LRUCache<Int, String>(capacity: 3)
        lru[1] = "a"; lru[2] = "b"; lru[3] = "c"
        _ = lru[1]
        lru[4] = "d"
        let kept = [lru[1], lru[2], lru[3], lru[4]]
        #expect(kept == ["a", nil, "c", "d"])
        lru[1] = nil
        #expect(lru.count == 2)
        for i in 0..<5000 { lru[i] = "\(i)" }
        let last = [lru[4996], lru[4999]]
        #expect(lru.count == 3 && last == [nil, "4999"])
    }
}

@Suite struct EventRecorderTests {
    @Test func aRepeatedEventIsOneEventWithItsCount() async throws {
        let plane = try await LocalControlPlane().start(ControlPlaneConfiguration(insecurePort: 0))
        let client = try KubeClient(config: KubeConfig(server: plane.insecureURL!.absoluteString, namespace: "default"))
        do {
            let tick = Mutex(0)
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            let recorder = EventRecorder(client: client, instance: "test", clock: {
                start.addingTimeInterval(Double(tick.withLock { $0 += 1; return $0 }))
            })
            var image = try ManagedImageResource(name: "web", spec: ManagedImageSpec(base: .imageType("standard"), pythonVersion: "3.12",
                                                                                     pipRequirements: [PipRequirement(name: "requests")]))
            image.metadata.uid = "uid-web"
            for _ in 0..<100 { await recorder.record(image, .normal, reason: "BuildStarted", message: "building web") }
            await recorder.record(image, .warning, reason: "BuildFailed", message: "failed")
            let events = try await client.listAll(Event.self, namespace: "default").items.filter { $0.involvedObject.name == "web" }
            let started = events.filter { $0.reason == "BuildStarted" }
            #expect(started.count == 1)
            #expect(started.first?.count == 100)
            #expect(started.first?.firstTimestamp == start.addingTimeInterval(1))
            #expect(started.first?.lastTimestamp == start.addingTimeInterval(100))
            #expect(events.filter { $0.reason == "BuildFailed" }.map(\.count) == [1])
            // Deleted on the server (as the TTL does): the next repeat creates a new Event.
            _ = try await client.delete(Event.self, name: started.first?.metadata.name ?? "", namespace: "default")
            await recorder.record(image, .normal, reason: "BuildStarted", message: "building web")
            let again = try await client.listAll(Event.self, namespace: "default").items.filter { $0.reason == "BuildStarted" }
            #expect(again.map(\.count) == [1])
        } catch {
            Issue.record("\(error)")
        }
        try? await client.shutdown()
        await plane.shutdown()
    }
}
