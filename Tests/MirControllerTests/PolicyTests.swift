import Foundation
import KubeClient
import MirBuild
import MirController
import MirCore
import MirLocalRegistry
import MirModel
import Testing

/// Build policy (§3) and events (§4) against the local control plane; the file source (§2) on the embedded registry.
@Suite(.serialized) struct PolicyTests {
    @Test func manualRebuildAnnotationBuildsAgainOncePerValue() async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(100))
        defer { Task { await h.stop() } }
        let run = h.start(h.manager())
        defer { run.cancel() }
        try await h.create("web", spec: spec())
        let first = try await h.waitFor("web", "Ready") { $0.status?.phase == "Ready" }
        #expect(h.log.started.filter { $0 == "web" }.count == 1)
        _ = try await h.client.modify(ManagedImageResource.self, name: "web") { o in
            o.metadata.annotations = (o.metadata.annotations ?? [:]).merging(["mir.dev/rebuild": "2026-11-27T17:00"]) { $1 }
            return true
        }
        let rebuilt = try await h.waitFor("web", "rebuilt") {
            $0.status?.build?.message?.contains("[rebuild 2026-11-27T17:00]") == true && $0.status?.build?.completionTime != nil
        }
        #expect(rebuilt.status?.imageTag == first.status?.imageTag)
        #expect(rebuilt.status?.build?.reason == "BuildSucceeded" || rebuilt.status?.build?.reason == "ManualRebuild")
        let jobs = try await h.jobs(image: "web")
        #expect(jobs.count == 1 && jobs.first?.metadata.annotations?["mir.dev/rebuild"] == "2026-11-27T17:00")
        // The same value does not build again.
        try await Task.sleep(for: .milliseconds(800))
        #expect(h.log.started.filter { $0 == "web" }.count == 2)
    }

    @Test func aNewerSpecReplacesARunningBuild() async throws {
        let h = try await ControllerHarness(buildDelay: .seconds(3))
        defer { Task { await h.stop() } }
        let run = h.start(h.manager())
        defer { run.cancel() }
        try await h.create("svc", spec: spec(pip: ["requests"]))
        let building = try await h.waitFor("svc", "building") { $0.status?.build?.jobName != nil }
        let oldJob = try #require(building.status?.build?.jobName)
        _ = try await h.client.modify(ManagedImageResource.self, name: "svc") { o in
            o.spec = try KubeJSON.toJSONValue(spec(pip: ["requests", "numpy"]))
            return true
        }
        let replaced = try await h.waitFor("svc", "a new build") { $0.status?.build?.jobName != nil && $0.status?.build?.jobName != oldJob }
        let jobs = try await h.jobs(image: "svc").filter { $0.metadata.deletionTimestamp == nil }
        #expect(jobs.map(\.metadata.name) == [replaced.status?.build?.jobName])
        let ready = try await h.waitFor("svc", "Ready") { $0.status?.phase == "Ready" }
        #expect(ready.status?.pipLibraries?.contains { $0.name == "numpy" } == true)
    }

    @Test func repeatedEventsAggregate() async throws {
        let h = try await ControllerHarness()
        defer { Task { await h.stop() } }
        let object = try await h.create("ev", spec: spec())
        let recorder = EventRecorder(client: h.client, instance: "test")
        await recorder.record(object, .warning, reason: "DeletionBlocked", message: "repository mir/ev still holds images")
        await recorder.record(object, .warning, reason: "DeletionBlocked", message: "repository mir/ev still holds images")
        await recorder.record(object, .warning, reason: "DeletionBlocked", message: "something else")
        let events = try await h.events(reason: "DeletionBlocked", object: "ev")
        #expect(events.count == 2)
        let repeated = try #require(events.first { $0.message == "repository mir/ev still holds images" })
        #expect(repeated.count == 2)
        #expect(repeated.lastTimestamp != nil && repeated.firstTimestamp != nil && repeated.lastTimestamp! >= repeated.firstTimestamp!)
        #expect(repeated.reportingComponent == "mir" && repeated.source?.component == "mir" && repeated.type == "Warning")
        #expect(repeated.involvedObject.uid == object.metadata.uid)
    }

    @Test func fileSourcePassesFeedThePlannerAndFollowChanges() async throws {
        let dir = try temporaryDirectory("files")
        defer { try? FileManager.default.removeItem(at: dir) }
        let specs = dir.appendingPathComponent("specs")
        try FileManager.default.createDirectory(at: specs, withIntermediateDirectories: true)
        let registry = try LocalRegistry(directory: dir.appendingPathComponent("registry").path)
        let records = FileBuildRecordStore(directory: dir.appendingPathComponent("state").path)
        func write(_ name: String) throws {
            try """
            apiVersion: mir.dev/v1alpha1
            kind: ManagedImage
            metadata:
              name: \(name)
            spec:
              base:
                imageType: standard
              pythonVersion: "3.12"
              pipRequirements:
                - name: requests
            """.write(to: specs.appendingPathComponent("\(name).yaml"), atomically: true, encoding: .utf8)
        }
        try write("alpha")
        let controller = FileSourceController(paths: [specs.path], config: MirConfig(), registry: registry,
                                              builder: SimulateBuilder(registry: registry, records: records, delay: .zero),
                                              records: records, interval: .seconds(3600), pollInterval: .milliseconds(50))
        let task = Task { await controller.runUntilCancelled() }
        defer { task.cancel() }
        func tags(_ repo: String) async -> [String] {
            (try? await registry.listImages(repositoryName: repo, maxResults: nil, nextToken: nil).items.compactMap(\.tag)) ?? []
        }
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline, await tags("mir/alpha").isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        #expect(await tags("mir/alpha").count == 1)
        // A new file is picked up on change, well before the interval.
        try write("beta")
        while ContinuousClock.now < deadline, await tags("mir/beta").isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        #expect(await tags("mir/beta").count == 1)
    }
}

@Suite struct BuildSubmissionTests {
    @Test func aBuildThatCannotStartIsVisibleInStatus() async throws {
        let h = try await ControllerHarness()
        defer { Task { await h.stop() } }
        var config = h.config
        config.builder.buildNamespace = "missing-namespace"
        let run = h.start(h.manager(config))
        defer { run.cancel() }
        try await h.create("stuck", spec: spec())
        let stuck = try await h.waitFor("stuck", "BuildNotStarted") { condition($0, "Ready")?.reason == "BuildNotStarted" }
        #expect(stuck.status?.phase == "BuildingFirstTime")
        #expect(condition(stuck, "Ready")?.message.contains("missing-namespace") == true)
    }
}

@Suite struct RegistryDriftTests {
    @Test func aRepositoryDeletedBehindMirsBackIsRecreatedAndRebuiltOnResync() async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(50))
        defer { Task { await h.stop() } }
        let run = h.start(h.manager(options: ControllerOptions(resyncPeriod: .milliseconds(700), waitInterval: .milliseconds(200))))
        defer { run.cancel() }
        try await h.create("vanish", spec: spec())
        let ready = try await h.waitFor("vanish", "Ready") { $0.status?.phase == "Ready" }
        let tag = try #require(ready.status?.imageTag)
        _ = try await h.registry.deleteRepository(name: "mir/vanish", force: true)
        let deadline = ContinuousClock.now + .seconds(90)
        var tags: [String] = []
        while ContinuousClock.now < deadline, !tags.contains(tag) {
            tags = (try? await h.registry.listImages(repositoryName: "mir/vanish", maxResults: nil, nextToken: nil).items.compactMap(\.tag)) ?? []
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(tags.contains(tag))
        #expect(h.log.started.filter { $0 == "vanish" }.count == 2)
        try await h.waitFor("vanish", "Ready again") { $0.status?.phase == "Ready" && $0.status?.imageTag == tag }
        #expect(try await h.events(reason: "RepositoryCreated", object: "vanish").first?.count == 2)
    }
}
