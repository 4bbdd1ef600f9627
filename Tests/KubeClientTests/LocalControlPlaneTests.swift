import Foundation
import KubeLocal
import MirModel
import Synchronization
import Testing
@testable import KubeClient

/// The client against mir's local control plane (KubeLocal) over HTTPS with its CA and bearer token, configured
/// through the kubeconfig the control plane writes.
@Suite(.timeLimit(.minutes(3))) struct LocalControlPlaneTests {
    static let crdURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Manifests/crd/mir.dev_managedimages.yaml")

    static func withControlPlane(historyLimit: Int = 5000, bookmarkInterval: Duration = .seconds(30),
                                 _ body: (KubeClient, RunningControlPlane) async throws -> Void) async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let running = try await LocalControlPlane().start(ControlPlaneConfiguration(
            kubeconfigPath: dir.url.appendingPathComponent("kubeconfig"), watchHistoryLimit: historyLimit,
            bookmarkInterval: bookmarkInterval))
        do {
            try await running.apply(yaml: String(contentsOf: crdURL, encoding: .utf8))
            let config = try KubeConfigLoader(environment: [:], homeDirectory: dir.path("home"))
                .load(kubeconfigPath: dir.path("kubeconfig"))
            #expect(config.server.hasPrefix("https://127.0.0.1:"))
            try await withClient(config) { client in try await body(client, running) }
        } catch {
            await running.shutdown()
            throw error
        }
        await running.shutdown()
    }

    @Test func everyVerbOnManagedImages() async throws {
        try await Self.withControlPlane { client, _ in
            let crd = try await client.get(CustomResourceDefinition.self, name: "managedimages.mir.dev")
            #expect(crd.isEstablished)
            #expect(crd.spec.scope == "Cluster")

            let spec = ManagedImageSpec(base: .imageType("standard"), pythonVersion: "3.12",
                                        pipRequirements: [PipRequirement(name: "requests", versionSpecifier: ">=2")])
            let created = try await client.create(try ManagedImageResource(name: "web", spec: spec))
            #expect(created.metadata.generation == 1)
            #expect(try created.decodedSpec() == spec)

            // update + typed conflict on the stale copy
            var changed = created
            changed.metadata.labels = ["team": "data"]
            let updated = try await client.update(changed)
            #expect(updated.metadata.labels?["team"] == "data")
            let conflict = await #expect(throws: KubeAPIError.self) { try await client.update(changed) }
            #expect(conflict?.isConflict == true)

            // status subresource: spec untouched, status stored, generation unchanged
            var withStatus = updated
            withStatus.status = ManagedImageStatus(phase: "Building", repositoryName: "mir/web", pipLibraries: [PipLibrary(name: "requests", version: "2.32.3")],
                                                   build: .init(jobName: "web-build-1", reason: "New", startTime: Date(timeIntervalSince1970: 1_767_323_045)),
                                                   observedGeneration: 1,
                                                   conditions: [Condition(type: "Ready", status: "False", observedGeneration: 1,
                                                                          lastTransitionTime: Date(timeIntervalSince1970: 1_767_323_045),
                                                                          reason: "Building", message: "building")])
            let afterStatus = try await client.updateStatus(withStatus)
            #expect(afterStatus.status == withStatus.status)
            #expect(afterStatus.metadata.generation == 1)

            // merge patch (finalizer) and JSON patch on /status
            let finalized = try await client.patch(ManagedImageResource.self, name: "web",
                                                   patch: .merge(.object(["metadata": .object(["finalizers": .array([.string("mir.dev/repository")])])])))
            #expect(finalized.metadata.finalizers == ["mir.dev/repository"])
            let ready = try await client.patch(ManagedImageResource.self, name: "web",
                                               patch: .json([.object(["op": .string("replace"), "path": .string("/status/phase"), "value": .string("Ready")])]),
                                               subresource: "status")
            #expect(ready.status?.phase == "Ready")

            // spec change bumps generation
            let bumped = try await client.patch(ManagedImageResource.self, name: "web",
                                                patch: .merge(.object(["spec": .object(["pythonVersion": .string("3.11")])])))
            #expect(bumped.metadata.generation == 2)

            let listed = try await client.list(ManagedImageResource.self)
            #expect(listed.items.map { $0.metadata.name } == ["web"])

            // delete with a finalizer keeps the object until the finalizer is removed
            let deleting = try await client.delete(ManagedImageResource.self, name: "web")
            #expect(deleting?.metadata.deletionTimestamp != nil)
            _ = try await client.patch(ManagedImageResource.self, name: "web", patch: .merge(.object(["metadata": .object(["finalizers": .null])])))
            let gone = await #expect(throws: KubeAPIError.self) { try await client.get(ManagedImageResource.self, name: "web") }
            #expect(gone?.isNotFound == true)
            #expect(gone?.message.contains("not found") == true)
        }
    }

    @Test func dynamicObjectsThroughResourceTypes() async throws {
        try await Self.withControlPlane { client, _ in
            let widgets = ManagedImageResource.resourceType
            let object: JSONValue = .object([
                "metadata": .object(["name": .string("dyn"), "labels": .object(["via": .string("json")])]),
                "spec": .object(["base": .object(["image": .string("python:3.12-slim")]), "pythonVersion": .string("3.12")]),
            ])
            let created = try await client.create(widgets, object: DynamicObject(object))
            #expect(created.json["kind"] == .string("ManagedImage"))
            #expect(created.metadata.uid != nil)
            let fetched = try await client.get(widgets, name: "dyn")
            #expect(fetched.json["spec"]?["base"]?["image"] == .string("python:3.12-slim"))
            let patched = try await client.patch(widgets, name: "dyn", patch: .merge(.object(["metadata": .object(["labels": .object(["via": .null])])])))
            #expect(patched.metadata.labels == nil || patched.metadata.labels?["via"] == nil)
            let listed = try await client.list(widgets, options: ListOptions(labelSelector: "via=json"))
            #expect(listed.items.isEmpty)
            var events: [String] = []
            for try await event in client.watch(widgets, options: WatchOptions(resourceVersion: "0", timeoutSeconds: 1)) {
                if case .added(let o) = event { events.append(o.metadata.name ?? "") }
            }
            #expect(events == ["dyn"])
            let deleted = try await client.delete(widgets, name: "dyn")
            #expect(deleted == nil)
        }
    }

    @Test func builtInKindsApplyPagingAndDeletes() async throws {
        try await Self.withControlPlane { client, _ in
            _ = try await client.create(Namespace(name: "builds"))
            for i in 0..<5 {
                _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "cm-\(i)"), data: ["i": "\(i)"]), namespace: "builds")
            }
            let page = try await client.list(ConfigMap.self, namespace: "builds", options: ListOptions(limit: 2))
            #expect(page.items.count == 2)
            #expect(page.metadata.continue?.isEmpty == false)
            let all = try await client.listAll(ConfigMap.self, namespace: "builds", pageSize: 2)
            #expect(all.items.compactMap { $0.metadata.name }.sorted() == (0..<5).map { "cm-\($0)" })

            // server-side apply creates, then updates
            let lease = Lease(metadata: ObjectMeta(name: "mir-leader", namespace: "builds"),
                              spec: .init(holderIdentity: "a", leaseDurationSeconds: 15, renewTime: MicroTime(Date())))
            let applied = try await client.apply(lease, fieldManager: "mir-controller")
            #expect(applied.spec?.holderIdentity == "a")
            var next = lease
            next.spec?.holderIdentity = "b"
            _ = try await client.apply(next, fieldManager: "mir-controller")
            #expect(try await client.get(Lease.self, name: "mir-leader", namespace: "builds").spec?.holderIdentity == "b")

            // Job + its Pod, deleted with Background propagation: the pod goes too.
            let job = try await client.create(Job(metadata: ObjectMeta(name: "build-1", namespace: "builds"),
                                                  spec: .init(template: .object(["spec": .object([
                                                      "restartPolicy": .string("Never"),
                                                      "containers": .array([.object(["name": .string("kaniko"), "image": .string("kaniko")])]),
                                                  ])]), backoffLimit: 1)))
            let pod = Pod(metadata: ObjectMeta(name: "build-1-pod", namespace: "builds", labels: ["batch.kubernetes.io/job-name": "build-1"],
                                               ownerReferences: [OwnerReference(apiVersion: "batch/v1", kind: "Job", name: "build-1",
                                                                                uid: job.metadata.uid!, controller: true, blockOwnerDeletion: true)]),
                          spec: .object(["containers": .array([.object(["name": .string("c"), "image": .string("busybox")])])]))
            _ = try await client.create(pod)
            _ = try await client.create(Event(metadata: ObjectMeta(name: "build-1.1", namespace: "builds"),
                                              involvedObject: ObjectReference(apiVersion: "batch/v1", kind: "Job", name: "build-1",
                                                                              namespace: "builds", uid: job.metadata.uid),
                                              reason: "Started", message: "build started", type: "Normal"))
            let events = try await client.list(Event.self, namespace: "builds", options: ListOptions(fieldSelector: "involvedObject.name=build-1"))
            #expect(events.items.map(\.reason) == ["Started"])

            let stale = await #expect(throws: KubeAPIError.self) {
                try await client.delete(Job.self, name: "build-1", namespace: "builds",
                                        options: DeleteOptions(preconditions: .init(uid: "00000000-0000-0000-0000-000000000000")))
            }
            #expect(stale?.isConflict == true)
            try await client.delete(Job.self, name: "build-1", namespace: "builds",
                                    options: DeleteOptions(preconditions: .init(uid: job.metadata.uid)))
            try await eventually("pod collected") {
                (try? await client.get(Pod.self, name: "build-1-pod", namespace: "builds")) == nil
            }
        }
    }

    @Test func concurrentModifiesRetryConflictsUntilAllLand() async throws {
        try await Self.withControlPlane { client, _ in
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "counter"), data: ["n": "0"]))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 {
                    group.addTask {
                        for _ in 0..<5 {
                            _ = try await client.modify(ConfigMap.self, name: "counter", attempts: 100) { cm in
                                let current = Int(cm.data?["n"] ?? "0") ?? 0
                                cm.data?["n"] = String(current + 1)
                                return true
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await client.get(ConfigMap.self, name: "counter").data?["n"] == "15")
        }
    }

    @Test func watchEndsAtTimeoutAndResumesFromTheLastVersion() async throws {
        try await Self.withControlPlane { client, _ in
            let first = try await client.create(ConfigMap(metadata: ObjectMeta(name: "a")))
            var names: [String] = []
            var lastVersion = first.metadata.resourceVersion
            for round in 0..<2 {
                let writer = Task {
                    try await Task.sleep(for: .milliseconds(100))
                    _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "round-\(round)")))
                }
                for try await event in client.watch(ConfigMap.self, namespace: "default",
                                                    options: WatchOptions(resourceVersion: lastVersion, timeoutSeconds: 5)) {
                    if case .added(let cm) = event {
                        names.append(cm.metadata.name ?? "")
                        lastVersion = cm.metadata.resourceVersion
                    }
                }
                try await writer.value
            }
            #expect(names == ["round-0", "round-1"])
        }
    }

    @Test func reflectorResumesAfterEOFAndRelistsAfter410() async throws {
        // Tiny watch history and no bookmarks: changes elsewhere push this reflector's version out of history.
        try await Self.withControlPlane(historyLimit: 3, bookmarkInterval: .seconds(600)) { client, _ in
            _ = try await client.create(Namespace(name: "quiet"))
            _ = try await client.create(Namespace(name: "busy"))
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "x")), namespace: "quiet")
            let reflector = Reflector<ConfigMap>(client: client, namespace: "quiet", watchTimeoutSeconds: 1...1,
                                                 backoff: ExponentialBackoff(initial: .milliseconds(20), maximum: .milliseconds(200)))
            let runner = Task { await reflector.run() }
            let consumer = Task { for await _ in reflector.events {} }
            try await eventually("sync") { reflector.hasSynced }
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "y")), namespace: "quiet")
            try await eventually("y cached") { reflector.store.get("quiet/y") != nil }
            // Several clean ends of the 1 s watch, re-watched without relisting.
            try await eventually("re-watched") { reflector.watchCount >= 3 }
            #expect(reflector.listCount == 1)
            // Push the reflector's version out of the 3-entry history while its watch sees nothing.
            for i in 0..<6 { _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "noise-\(i)")), namespace: "busy") }
            try await eventually("relisted after 410") { reflector.listCount >= 2 }
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "z")), namespace: "quiet")
            try await eventually("z cached") { reflector.store.get("quiet/z") != nil }
            #expect(Set(reflector.store.keys) == ["quiet/x", "quiet/y", "quiet/z"])
            runner.cancel()
            await runner.value
            await consumer.value
        }
    }
}
