import Foundation
import KubeClient
import MirBuild
import MirController
import MirCore
import MirModel
import MirRegistry
import Testing

/// §6 scenarios against the local control plane (simulated job runner) and the embedded registry.
@Suite(.serialized) struct ControllerTests {
    @Test func createBuildsFirstTimeThenReadyWithPipLibraries() async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(600))
        defer { Task { await h.stop() } }
        let run = h.start(h.manager())
        defer { run.cancel() }
        try await h.create("web", spec: spec(pip: ["requests", "flask"]))
        let building = try await h.waitFor("web", "BuildingFirstTime") { $0.status?.phase == "BuildingFirstTime" && $0.status?.build?.jobName != nil }
        #expect(condition(building, "Ready")?.status == "False")
        let ready = try await h.waitFor("web", "Ready") { $0.status?.phase == "Ready" }
        let status = try #require(ready.status)
        let names = Set((status.pipLibraries ?? []).map(\.name))
        #expect(names.isSuperset(of: ["requests", "flask"]))
        #expect(status.repositoryName == "mir/web" && status.repositoryURI?.hasSuffix("/mir/web") == true)
        #expect(status.imageTag != nil && status.imageDigest?.hasPrefix("sha256:") == true)
        #expect(status.observedGeneration == ready.metadata.generation)
        #expect(condition(ready, "Ready")?.status == "True")
        #expect(condition(ready, "RepositorySynced")?.status == "True")
        #expect(condition(ready, "LifecyclePolicySynced")?.status == "True")
        #expect(condition(ready, "BuildSucceeded")?.status == "True")
        #expect(ready.metadata.finalizers?.contains("mir.dev/repository") == true)
        // One Job, labelled, owned by the ManagedImage, with a deadline, a small backoff limit and a pod failure policy.
        let jobs = try await h.jobs(image: "web")
        #expect(jobs.count == 1)
        let job = try #require(jobs.first)
        #expect(job.metadata.name == BuildJobManifest.jobName(image: "web", tag: status.imageTag!))
        #expect(job.metadata.labels?[BuildJobManifest.tagLabel] == status.imageTag)
        #expect(job.metadata.ownerReferences?.first?.uid == ready.metadata.uid)
        #expect(job.spec?.activeDeadlineSeconds != nil && job.spec?.podFailurePolicy != nil && job.spec?.ttlSecondsAfterFinished != nil)
        // The image is in the registry; events were recorded.
        let tags = try await h.registry.listImages(repositoryName: "mir/web", maxResults: nil, nextToken: nil).items.compactMap(\.tag)
        #expect(tags.contains(status.imageTag!))
        for reason in ["RepositoryCreated", "LifecyclePolicyApplied", "BuildStarted", "BuildSucceeded"] {
            let events = try await h.events(reason: reason, object: "web")
            #expect(events.count == 1, "event \(reason)")
            #expect(events.first?.reportingComponent == "mir")
        }
    }

    @Test func specChangeRebuildsWhileReadyStaysTrue() async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(800))
        defer { Task { await h.stop() } }
        let run = h.start(h.manager())
        defer { run.cancel() }
        try await h.create("api", spec: spec(pip: ["requests"]))
        let first = try await h.waitFor("api", "Ready") { $0.status?.phase == "Ready" }
        let oldTag = try #require(first.status?.imageTag)
        _ = try await h.client.modify(ManagedImageResource.self, name: "api") { o in
            o.spec = try KubeJSON.toJSONValue(spec(pip: ["requests", "numpy"]))
            return true
        }
        let rebuilding = try await h.waitFor("api", "Rebuilding") { $0.status?.phase == "Rebuilding" }
        #expect(condition(rebuilding, "Ready")?.status == "True")
        #expect(rebuilding.status?.imageTag == oldTag)
        let ready = try await h.waitFor("api", "Ready on a new tag") { $0.status?.phase == "Ready" && $0.status?.imageTag != oldTag }
        #expect(ready.status?.pipLibraries?.contains { $0.name == "numpy" } == true)
        #expect(condition(ready, "Ready")?.lastTransitionTime == condition(first, "Ready")?.lastTransitionTime)
    }

    @Test func platformBumpMakesImagesOutdatedThenRebuildsParentsFirstWithinTheLimit() async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(300), maxConcurrentBuilds: 1)
        defer { Task { await h.stop() } }
        var run = h.start(h.manager())
        try await h.create("base", spec: spec(pip: ["requests"]))
        try await h.create("child", spec: spec(pip: ["flask"], parent: "base"))
        try await h.create("other", spec: spec(pip: ["numpy"]))
        for name in ["base", "child", "other"] { try await h.waitFor(name, "Ready") { $0.status?.phase == "Ready" } }
        run.cancel()
        await run.value
        #expect(h.log.maxInFlight == 1)
        #expect(h.log.started.firstIndex(of: "base")! < h.log.started.firstIndex(of: "child")!)

        var bumped = h.config
        bumped.platformVersion = "9.9.9"
        let startedBefore = h.log.started.count
        run = h.start(h.manager(bumped))
        defer { run.cancel() }
        // While one image builds, the others wait: Outdated.
        var sawOutdated = false
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            let all = try await h.client.listAll(ManagedImageResource.self).items
            if all.contains(where: { $0.status?.phase == "Outdated" && condition($0, "Ready")?.status == "True" }) { sawOutdated = true }
            if all.allSatisfy({ $0.status?.phase == "Ready" && $0.status?.platformVersion == "9.9.9" }) { break }
            try await Task.sleep(for: .milliseconds(30))
        }
        #expect(sawOutdated)
        for name in ["base", "child", "other"] {
            let o = try await h.image(name)
            #expect(o.status?.phase == "Ready" && o.status?.platformVersion == "9.9.9", "\(name): \(String(describing: o.status))")
        }
        let rebuilt = Array(h.log.started.dropFirst(startedBefore))
        #expect(rebuilt.sorted() == ["base", "child", "other"])
        #expect(rebuilt.firstIndex(of: "base")! < rebuilt.firstIndex(of: "child")!)
        #expect(h.log.maxInFlight == 1)
    }

    @Test func buildFailureIsTypedAndPointsAtTheLogs() async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(100))
        defer { Task { await h.stop() } }
        let run = h.start(h.manager())
        defer { run.cancel() }
        try await h.create("bad", spec: spec(pip: ["broken"]))
        let failed = try await h.waitFor("bad", "Failed") { $0.status?.phase == "Failed" }
        #expect(failed.status?.build?.reason == "BuildFailed")
        let message = try #require(failed.status?.build?.message)
        #expect(message.contains("No matching distribution found for broken"))
        #expect(message.hasSuffix("kubectl logs -n mir-builds job/\(failed.status!.build!.jobName!) -c report"))
        #expect(condition(failed, "Ready")?.status == "False")
        #expect(condition(failed, "BuildSucceeded")?.reason == "BuildFailed")
        #expect(try await h.events(reason: "BuildFailed", object: "bad").count == 1)
        // Not retried on its own: still one Job.
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await h.jobs(image: "bad").count == 1)
    }

    @Test func deletionWithDeleteAndRetainAndBlockedByImages() async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(50))
        defer { Task { await h.stop() } }
        let run = h.start(h.manager())
        defer { run.cancel() }
        // Retain: the repository stays.
        try await h.create("kept", spec: spec(deletionPolicy: .retain))
        try await h.waitFor("kept", "Ready") { $0.status?.phase == "Ready" }
        _ = try await h.client.delete(ManagedImageResource.self, name: "kept")
        try await waitGone(h, "kept")
        #expect(try await h.registry.describeRepositories(names: ["mir/kept"], maxResults: nil, nextToken: nil).items.count == 1)

        // Delete, repository holding the image mir built, no force: deleted with its image (issue 8, problem 10).
        try await h.create("built", spec: spec())
        try await h.waitFor("built", "Ready") { $0.status?.phase == "Ready" }
        _ = try await h.client.delete(ManagedImageResource.self, name: "built")
        try await waitGone(h, "built")
        await #expect(throws: RegistryError.self) {
            _ = try await h.registry.describeRepositories(names: ["mir/built"], maxResults: nil, nextToken: nil)
        }
        #expect(try await h.events(reason: "RepositoryDeleted", object: "built").count == 1)

        // Delete, repository also holding an image mir did not build: blocked visibly (phase Deleting, the foreign tag
        // named), finalizer stays.
        try await h.create("full", spec: spec())
        try await h.waitFor("full", "Ready") { $0.status?.phase == "Ready" }
        _ = try await h.registry.putImage(repositoryName: "mir/full", manifest: AdoptionRefusedTests.foreignManifest, tag: "hand-pushed")
        _ = try await h.client.delete(ManagedImageResource.self, name: "full")
        let blocked = try await h.waitFor("full", "DeletionBlocked") { condition($0, "DeletionBlocked")?.status == "True" }
        #expect(condition(blocked, "DeletionBlocked")?.reason == "ForeignImages")
        #expect(condition(blocked, "DeletionBlocked")?.message.contains("hand-pushed") == true)
        #expect(blocked.status?.phase == "Deleting")
        #expect(condition(blocked, "Ready")?.status == "False")
        #expect(blocked.metadata.finalizers?.contains("mir.dev/repository") == true)
        let blockedEvents = try await h.events(reason: "DeletionBlocked", object: "full")
        #expect(blockedEvents.count == 1 && blockedEvents.first?.type == "Warning")
        #expect(blockedEvents.first?.message?.contains("hand-pushed") == true)
        #expect(try await h.registry.describeRepositories(names: ["mir/full"], maxResults: nil, nextToken: nil).items.count == 1)

        // Delete, empty repository made by a mir that did not record installations (legacy): the repository goes,
        // then the object.
        let legacy = [ResourceTag(key: OwnershipTags.managedByKey, value: "mir"), ResourceTag(key: OwnershipTags.deletionPolicyKey, value: "Delete")]
        _ = try await h.registry.createRepository(name: "mir/empty", tags: legacy)
        try await h.create("empty", spec: spec(pip: ["broken"]))  // never builds an image
        try await h.waitFor("empty", "Failed") { $0.status?.phase == "Failed" }
        _ = try await h.client.delete(ManagedImageResource.self, name: "empty")
        try await waitGone(h, "empty")
        await #expect(throws: RegistryError.self) {
            _ = try await h.registry.describeRepositories(names: ["mir/empty"], maxResults: nil, nextToken: nil)
        }
        #expect(try await h.events(reason: "RepositoryDeleted", object: "empty").count == 1)
    }

    @Test func forcedDeletionRemovesARepositoryWithImages() async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(50), forceDelete: true)
        defer { Task { await h.stop() } }
        let run = h.start(h.manager())
        defer { run.cancel() }
        try await h.create("gone", spec: spec())
        try await h.waitFor("gone", "Ready") { $0.status?.phase == "Ready" }
        _ = try await h.client.delete(ManagedImageResource.self, name: "gone")
        try await waitGone(h, "gone")
        await #expect(throws: RegistryError.self) {
            _ = try await h.registry.describeRepositories(names: ["mir/gone"], maxResults: nil, nextToken: nil)
        }
    }

    @Test func childOfADeletedParentGetsParentMissing() async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(50), forceDelete: true)
        defer { Task { await h.stop() } }
        let run = h.start(h.manager())
        defer { run.cancel() }
        try await h.create("p", spec: spec())
        try await h.create("c", spec: spec(pip: ["flask"], parent: "p"))
        try await h.waitFor("c", "Ready") { $0.status?.phase == "Ready" }
        _ = try await h.client.delete(ManagedImageResource.self, name: "p")
        let orphan = try await h.waitFor("c", "ParentMissing") { condition($0, "ParentMissing")?.status == "True" }
        #expect(condition(orphan, "ParentMissing")?.reason == "ParentNotFound")
    }

    @Test func restartMidBuildNeverDuplicatesTheJob() async throws {
        let h = try await ControllerHarness(buildDelay: .seconds(2))
        defer { Task { await h.stop() } }
        let first = h.start(h.manager())
        try await h.create("slow", spec: spec())
        try await h.waitFor("slow", "build started") { $0.status?.build?.jobName != nil }
        first.cancel()
        await first.value
        let second = h.start(h.manager())
        defer { second.cancel() }
        let ready = try await h.waitFor("slow", "Ready") { $0.status?.phase == "Ready" }
        #expect(try await h.jobs(image: "slow").count == 1)
        #expect(h.log.started.filter { $0 == "slow" }.count == 1)
        #expect(ready.status?.build?.jobName == BuildJobManifest.jobName(image: "slow", tag: ready.status!.imageTag!))
    }

    @Test func lifecyclePolicyDriftIsCorrectedOnResync() async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(50))
        defer { Task { await h.stop() } }
        let run = h.start(h.manager(options: ControllerOptions(resyncPeriod: .milliseconds(700), waitInterval: .milliseconds(200))))
        defer { run.cancel() }
        try await h.create("drift", spec: spec())
        try await h.waitFor("drift", "Ready") { $0.status?.phase == "Ready" }
        let other = #"{"rules":[{"rulePriority":1,"description":"changed behind mir's back","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#
        try await h.registry.putLifecyclePolicy(repositoryName: "mir/drift", policyText: other)
        let deadline = ContinuousClock.now + .seconds(90)
        var restored = false
        while ContinuousClock.now < deadline, !restored {
            let text = try await h.registry.getLifecyclePolicy(repositoryName: "mir/drift")
            restored = LifecyclePolicyRules.normalized(JSONValue.parse(text) ?? .null) == LifecyclePolicyRules.normalized(MirConfig.defaultLifecyclePolicy)
            if !restored { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(restored)
        // The event is recorded just after the policy is put: poll for it.
        var events: [Event] = []
        while ContinuousClock.now < deadline {
            events = try await h.events(reason: "LifecyclePolicyApplied", object: "drift")
            if events.contains(where: { $0.message?.contains("drifted") == true }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(events.contains { $0.message?.contains("drifted") == true }, "\(events.map { ($0.message ?? "", $0.count ?? 0) })")
    }

    @Test func twoReplicasElectOneLeaderAndTheOtherTakesOver() async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(50))
        defer { Task { await h.stop() } }
        func options(_ id: String) -> ControllerOptions {
            // replica-a does not release its lease: its end looks like a crash.
            ControllerOptions(leaderElection: LeaderElectionConfig(namespace: "default", identity: id, leaseDuration: .seconds(2),
                                                                   renewDeadline: .milliseconds(1500), retryPeriod: .milliseconds(200),
                                                                   releaseOnCancel: id != "replica-a"),
                              waitInterval: .milliseconds(200))
        }
        let a = h.manager(options: options("replica-a")), b = h.manager(options: options("replica-b"))
        let runA = h.start(a)
        try await Task.sleep(for: .milliseconds(400))
        let runB = h.start(b)
        defer { runB.cancel() }
        try await h.create("one", spec: spec())
        try await h.waitFor("one", "Ready") { $0.status?.phase == "Ready" }
        #expect(await a.elector?.isLeader == true)
        #expect(await b.elector?.isLeader == false)
        #expect(a.reconcileCount > 0 && b.reconcileCount == 0)
        let lease = try await h.client.get(Lease.self, name: "mir-controller", namespace: "default")
        #expect(lease.spec?.holderIdentity == "replica-a")

        // Kill the leader (it does not release the lease): the other waits out the lease, then takes over.
        runA.cancel()
        await runA.value
        let killedAt = ContinuousClock.now
        try await h.create("two", spec: spec())
        try await h.waitFor("two", timeout: .seconds(120), "Ready") { $0.status?.phase == "Ready" }
        // Within the lease duration (2 s) plus a retry period and the build; the bound allows for a loaded machine.
        #expect(ContinuousClock.now - killedAt < .seconds(20), "takeover took \(ContinuousClock.now - killedAt)")
        #expect(await b.elector?.isLeader == true)
        #expect(b.reconcileCount > 0)
        let after = try await h.client.get(Lease.self, name: "mir-controller", namespace: "default")
        #expect(after.spec?.holderIdentity == "replica-b")
        #expect((after.spec?.leaseTransitions ?? 0) >= 1)
        runB.cancel()
        await runB.value
        // replica-b releases on shutdown.
        #expect(try await h.client.get(Lease.self, name: "mir-controller", namespace: "default").spec?.holderIdentity == nil)
    }
}

func waitGone(_ h: ControllerHarness, _ name: String, timeout: Duration = .seconds(120)) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        do { _ = try await h.image(name) } catch let e as KubeAPIError where e.isNotFound { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("\(name) was not deleted")
}

/// What a resync costs, counted by the local control plane (API requests by verb and resource): the reconciles read
/// the informer caches for the other images, and a resync that finds nothing changed writes nothing.
@Suite(.serialized) struct ResyncCostTests {
    @Test func aResyncOfSteadyImagesListsNoImagesAndWritesNothing() async throws {
        let h = try await ControllerHarness(buildDelay: .milliseconds(20))
        defer { Task { await h.stop() } }
        let manager = h.manager()
        let run = h.start(manager)
        defer { run.cancel() }
        let names = (0..<12).map { "steady-\($0)" }
        for name in names { try await h.create(name, spec: spec(pip: ["requests"])) }
        for name in names { try await h.waitFor(name, "Ready") { $0.status?.phase == "Ready" } }
        await settle(manager)

        h.plane.requests.reset()
        let before = manager.reconcileCount
        for name in names { await manager.queue.add(name) }
        await settle(manager)
        let reconciles = manager.reconcileCount - before
        let counts = h.plane.requests.snapshot
        #expect(reconciles >= names.count)
        #expect(counts["list managedimages"] == nil, "\(counts)")
        let writes = counts.filter { ["create", "update", "patch", "delete"].contains($0.key.split(separator: " ").first ?? "") }
        #expect(writes.isEmpty, "a resync that finds nothing changed writes nothing: \(writes)")
        // Per reconcile: the image itself, and its own Jobs and their pods (label-selected, live: they decide writes).
        #expect(counts["get managedimages"] == reconciles && counts["list jobs"] == reconciles, "\(counts) for \(reconciles) reconciles")
        #expect(h.plane.requests.total <= reconciles * 3, "\(counts) for \(reconciles) reconciles")
        print("resync of \(names.count) steady images: \(reconciles) reconciles, \(h.plane.requests.total) API requests: \(counts.sorted { $0.key < $1.key })")
    }

    /// Waits until the manager has had nothing to do for a while.
    func settle(_ manager: ControllerManager) async {
        var last = -1
        var quietSince = ContinuousClock.now
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let count = manager.reconcileCount
            let queued = await manager.queue.count
            if count != last || queued > 0 { last = count; quietSince = ContinuousClock.now }
            if ContinuousClock.now - quietSince > .milliseconds(1500) { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
