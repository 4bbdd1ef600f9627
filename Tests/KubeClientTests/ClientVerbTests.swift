import Foundation
import Testing
@testable import KubeClient
import MirModel

/// Every verb against the fake API server, checking both the result and what went over the wire.
@Suite(.timeLimit(.minutes(2))) struct ClientVerbTests {
    @Test func createGetUpdateAndConflict() async throws {
        let server = try await FakeAPIServer.start()
        defer { server.stop() }
        try await withClient(server.kubeConfig(namespace: "apps")) { client in
            let created = try await client.create(ConfigMap(metadata: ObjectMeta(name: "settings"), data: ["a": "1"]))
            #expect(created.metadata.namespace == "apps")
            #expect(created.metadata.uid != nil)
            let post = try #require(server.requests().last)
            #expect(post.method == "POST" && post.path == "/api/v1/namespaces/apps/configmaps")
            #expect(post.bodyJSON?["apiVersion"] == .string("v1"))
            #expect(post.bodyJSON?["kind"] == .string("ConfigMap"))

            var fetched = try await client.get(ConfigMap.self, name: "settings")
            #expect(fetched.data == ["a": "1"])
            fetched.data?["b"] = "2"
            let updated = try await client.update(fetched)
            #expect(updated.data == ["a": "1", "b": "2"])
            #expect(updated.metadata.resourceVersion != fetched.metadata.resourceVersion)

            // The stale copy now conflicts, surfaced as a typed error.
            let conflict = await #expect(throws: KubeAPIError.self) { try await client.update(fetched) }
            #expect(conflict?.isConflict == true)
            #expect(conflict?.statusCode == 409)
            #expect(conflict?.message.contains("the object has been modified") == true)

            let duplicate = await #expect(throws: KubeAPIError.self) {
                try await client.create(ConfigMap(metadata: ObjectMeta(name: "settings")))
            }
            #expect(duplicate?.isAlreadyExists == true)

            let missing = await #expect(throws: KubeAPIError.self) { try await client.get(ConfigMap.self, name: "nope") }
            #expect(missing?.isNotFound == true)
            #expect(missing?.details?.name == "nope")
        }
    }

    /// Requests suspended (fetching credentials) while the client shuts down must not open a new HTTP client: it
    /// would never be shut down, and AsyncHTTPClient traps when such a client is released.
    @Test func requestsRacingShutdownLeaveNoHTTPClientOpen() async throws {
        let server = try await FakeAPIServer.start()
        defer { server.stop() }
        for _ in 0..<5 {
            let client = try KubeClient(config: server.kubeConfig(namespace: "apps"))
            _ = try? await client.get(ConfigMap.self, name: "warm-up")
            await withTaskGroup(of: Void.self) { group in
                for i in 0..<40 {
                    group.addTask { _ = try? await client.get(ConfigMap.self, name: "racing-\(i)") }
                    if i == 20 { group.addTask { try? await client.shutdown() } }
                }
            }
            #expect(await client.openHTTPClients == 0)
        }
    }

    @Test func updateKeepsFieldsTheModelDoesNotKnow() async throws {
        let server = try await FakeAPIServer.start()
        defer { server.stop() }
        try await withClient(server.kubeConfig()) { client in
            let raw: JSONValue = .object([
                "metadata": .object(["name": .string("web"), "annotations": .object(["x": .string("y")]),
                                     "managedFields": .array([.object(["manager": .string("kubectl")])])]),
                "spec": .object(["base": .object(["imageType": .string("standard")]), "pythonVersion": .string("3.12"),
                                 "newerField": .bool(true)]),
            ])
            _ = try await client.create(ManagedImageResource.resourceType, object: DynamicObject(raw))
            var typed = try await client.get(ManagedImageResource.self, name: "web")
            typed.metadata.labels = ["team": "a"]
            _ = try await client.update(typed)
            let put = try #require(server.requests().last?.bodyJSON)
            #expect(put["spec"]?["newerField"] == .bool(true))
            #expect(put["metadata"]?["managedFields"]?.arrayValue?.count == 1)
            #expect(put["metadata"]?["labels"]?["team"] == .string("a"))
            #expect(put["kind"] == .string("ManagedImage"))
            #expect(put["apiVersion"] == .string("mir.dev/v1alpha1"))
        }
    }

    @Test func statusSubresourceAndPatches() async throws {
        let server = try await FakeAPIServer.start()
        defer { server.stop() }
        try await withClient(server.kubeConfig()) { client in
            var image = try await client.create(try ManagedImageResource(name: "py", spec: ManagedImageSpec(base: .imageType("standard"), pythonVersion: "3.12")))
            #expect(server.requests().last?.path == "/apis/mir.dev/v1alpha1/managedimages")
            image.status = ManagedImageStatus(phase: "Building", observedGeneration: 1,
                                              conditions: [Condition(type: "Ready", status: "False", lastTransitionTime: Date(timeIntervalSince1970: 0),
                                                                     reason: "Building", message: "build started")])
            let withStatus = try await client.updateStatus(image)
            #expect(withStatus.status?.phase == "Building")
            #expect(server.requests().last?.path == "/apis/mir.dev/v1alpha1/managedimages/py/status")
            #expect(server.requests().last?.method == "PUT")

            let merged = try await client.patch(ManagedImageResource.self, name: "py",
                                                patch: .merge(.object(["metadata": .object(["finalizers": .array([.string("mir.dev/ecr")])])])),
                                                fieldManager: "mir")
            #expect(merged.metadata.finalizers == ["mir.dev/ecr"])
            #expect(merged.status?.phase == "Building")
            let mergeRequest = try #require(server.requests().last)
            #expect(mergeRequest.contentType == "application/merge-patch+json")
            #expect(mergeRequest.query["fieldManager"] == "mir")

            let statusPatch = try await client.patch(ManagedImageResource.self, name: "py",
                                                     patch: .json([.object(["op": .string("replace"), "path": .string("/status/phase"),
                                                                            "value": .string("Ready")])]),
                                                     subresource: "status")
            #expect(statusPatch.status?.phase == "Ready")
            #expect(server.requests().last?.contentType == "application/json-patch+json")
            #expect(server.requests().last?.path == "/apis/mir.dev/v1alpha1/managedimages/py/status")
        }
    }

    @Test func serverSideApplySendsManagerAndForce() async throws {
        let server = try await FakeAPIServer.start()
        defer { server.stop() }
        try await withClient(server.kubeConfig(namespace: "mir-system")) { client in
            var lease = Lease(metadata: ObjectMeta(name: "mir-leader", unknownFields: ["managedFields": .array([])]),
                              spec: .init(holderIdentity: "pod-1", leaseDurationSeconds: 15))
            let applied = try await client.apply(lease, fieldManager: "mir-controller")
            #expect(applied.spec?.holderIdentity == "pod-1")
            let request = try #require(server.requests().last)
            #expect(request.method == "PATCH")
            #expect(request.path == "/apis/coordination.k8s.io/v1/namespaces/mir-system/leases/mir-leader")
            #expect(request.contentType == "application/apply-patch+yaml")
            #expect(request.query["fieldManager"] == "mir-controller")
            #expect(request.query["force"] == "true")
            #expect(request.bodyJSON?["metadata"]?["managedFields"] == nil)
            #expect(request.bodyJSON?["kind"] == .string("Lease"))

            lease.spec?.holderIdentity = "pod-2"
            _ = try await client.apply(lease, fieldManager: "mir-controller", force: false)
            #expect(server.requests().last?.query["force"] == nil)
            #expect(try await client.get(Lease.self, name: "mir-leader").spec?.holderIdentity == "pod-2")
        }
    }

    @Test func deleteUsesBackgroundForJobsAndHonoursPreconditions() async throws {
        let server = try await FakeAPIServer.start()
        defer { server.stop() }
        try await withClient(server.kubeConfig(namespace: "builds")) { client in
            let job = try await client.create(Job(metadata: ObjectMeta(name: "build-1"),
                                                  spec: .init(template: .object(["spec": .object(["restartPolicy": .string("Never")])]),
                                                              backoffLimit: 1)))
            let wrongUID = await #expect(throws: KubeAPIError.self) {
                try await client.delete(Job.self, name: "build-1", options: DeleteOptions(preconditions: .init(uid: "not-it")))
            }
            #expect(wrongUID?.isConflict == true)

            let gone = try await client.delete(Job.self, name: "build-1",
                                               options: DeleteOptions(preconditions: .init(uid: job.metadata.uid)))
            #expect(gone == nil)
            let request = try #require(server.requests().last)
            #expect(request.method == "DELETE")
            #expect(request.path == "/apis/batch/v1/namespaces/builds/jobs/build-1")
            #expect(request.bodyJSON?["propagationPolicy"] == .string("Background"))
            #expect(request.bodyJSON?["preconditions"]?["uid"] == .string(job.metadata.uid!))

            // An object with finalizers is kept and returned with its deletionTimestamp.
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "held", finalizers: ["mir.dev/hold"])))
            let held = try await client.delete(ConfigMap.self, name: "held", options: DeleteOptions(propagationPolicy: .foreground))
            #expect(held?.metadata.deletionTimestamp != nil)
            #expect(server.requests().last?.bodyJSON?["propagationPolicy"] == .string("Foreground"))
        }
    }

    @Test func pagingFollowsContinueTokens() async throws {
        let server = try await FakeAPIServer.start()
        defer { server.stop() }
        try await withClient(server.kubeConfig(namespace: "p")) { client in
            for i in 0..<7 {
                _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "cm-\(i)", labels: ["set": i < 5 ? "a" : "b"])))
            }
            let first = try await client.list(ConfigMap.self, namespace: "p", options: ListOptions(limit: 3))
            #expect(first.items.count == 3)
            #expect(first.metadata.continue != nil)
            #expect(first.metadata.remainingItemCount == 4)

            let all = try await client.listAll(ConfigMap.self, namespace: "p", pageSize: 3)
            #expect(all.items.map { $0.metadata.name ?? "" } == (0..<7).map { "cm-\($0)" })
            #expect(all.metadata.resourceVersion == first.metadata.resourceVersion)
            let lists = server.requests().filter { $0.method == "GET" && $0.path == "/api/v1/namespaces/p/configmaps" }.suffix(3)
            #expect(lists.map { $0.query["limit"] } == ["3", "3", "3"])
            #expect(lists.dropFirst().allSatisfy { $0.query["continue"] != nil })

            let selected = try await client.listAll(ConfigMap.self, namespace: "p", options: ListOptions(labelSelector: "set=b"))
            #expect(selected.items.count == 2)
            #expect(server.requests().last?.query["labelSelector"] == "set=b")

            // The dynamic path returns the same objects as JSON.
            let dynamic = try await client.listAll(ConfigMap.resourceType, namespace: "p", pageSize: 100)
            #expect(dynamic.items.count == 7)
            #expect(dynamic.items.first?.metadata.name == "cm-0")
        }
    }

    @Test func modifyRetriesOnConflict() async throws {
        let server = try await FakeAPIServer.start(config: ["conflict_updates": 2])
        defer { server.stop() }
        try await withClient(server.kubeConfig()) { client in
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "counter"), data: ["n": "0"]))
            let result = try await client.modify(ConfigMap.self, name: "counter") { cm in
                cm.data?["n"] = "1"
                return true
            }
            #expect(result.data?["n"] == "1")
            let puts = server.requests().filter { $0.method == "PUT" }
            let gets = server.requests().filter { $0.method == "GET" }
            #expect(puts.count == 3)
            #expect(gets.count == 3)

            server.setConfig(["conflict_updates": 100])
            let exhausted = await #expect(throws: KubeAPIError.self) {
                try await client.modify(ConfigMap.self, name: "counter", attempts: 2) { _ in true }
            }
            #expect(exhausted?.isConflict == true)
        }
    }

    @Test func throttledRequestsAreRetriedAfterRetryAfter() async throws {
        let server = try await FakeAPIServer.start(config: ["throttle_requests": 2])
        defer { server.stop() }
        try await withClient(server.kubeConfig()) { client in
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "t")))
            #expect(server.requests().map(\.result) == [429, 429, nil])
            server.setConfig(["throttle_requests": 10])
            let error = await #expect(throws: KubeAPIError.self) { try await client.get(ConfigMap.self, name: "t") }
            #expect(error?.isTooManyRequests == true)
            #expect(server.requests().count == 3 + KubeClient.maxThrottleRetries + 1)
        }
    }

    @Test func watchStreamsEventsAndEndsAtServerTimeout() async throws {
        let server = try await FakeAPIServer.start()
        defer { server.stop() }
        try await withClient(server.kubeConfig(namespace: "w")) { client in
            let start = try await client.create(ConfigMap(metadata: ObjectMeta(name: "before")))
            let stream = client.watch(ConfigMap.self, namespace: "w",
                                      options: WatchOptions(resourceVersion: start.metadata.resourceVersion, timeoutSeconds: 10))
            let writer = Task {
                try await Task.sleep(for: .milliseconds(200))
                var a = try await client.create(ConfigMap(metadata: ObjectMeta(name: "a")))
                a.data = ["k": "v"]
                _ = try await client.update(a)
                try await client.delete(ConfigMap.self, name: "a")
            }
            var seen: [String] = []
            for try await event in stream {
                switch event {
                case .added(let cm): seen.append("ADDED \(cm.metadata.name ?? "")")
                case .modified(let cm): seen.append("MODIFIED \(cm.metadata.name ?? "") \(cm.data?["k"] ?? "")")
                case .deleted(let cm): seen.append("DELETED \(cm.metadata.name ?? "")")
                case .bookmark: seen.append("BOOKMARK")
                case .error(let e): seen.append("ERROR \(e.reason)")
                }
            }
            try await writer.value
            #expect(seen == ["ADDED a", "MODIFIED a v", "DELETED a"])
            let watch = try #require(server.requests().first { $0.query["watch"] == "true" })
            #expect(watch.query["resourceVersion"] == start.metadata.resourceVersion)
            #expect(watch.query["allowWatchBookmarks"] == "true")
            #expect(watch.query["timeoutSeconds"] == "10")
        }
    }

    @Test func watchSurfacesExpiredAsAnErrorEvent() async throws {
        let server = try await FakeAPIServer.start()
        defer { server.stop() }
        try await withClient(server.kubeConfig()) { client in
            _ = try await client.create(ConfigMap(metadata: ObjectMeta(name: "x")))
            try await server.command("compact")
            var events: [WatchEvent<ConfigMap>] = []
            for try await event in client.watch(ConfigMap.self, namespace: "default", options: WatchOptions(resourceVersion: "1")) {
                events.append(event)
            }
            #expect(events.count == 1)
            guard case .error(let error) = events.first else { Issue.record("expected an ERROR event"); return }
            #expect(error.isGone)
            #expect(error.message.contains("too old resource version"))
        }
    }
}
