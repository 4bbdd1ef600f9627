import Foundation
import KubeClient
import MirController
import MirCore
import MirModel
import MirRegistry
import Testing

/// The controller with mir's real ECR adapter as its registry (SigV4 to moto on 127.0.0.1), on the local control
/// plane whose simulated job runner's builder pushes to the same moto. moto is read back with boto3, a client
/// independent of mir's.
@Suite("controller against moto (ECR) with the simulated job runner", .serialized)
struct ControllerAgainstMotoTests {
    @Test func createBecomesReadyWithOwnedRepositoryAndPolicyAndDriftIsCorrectedOnResync() async throws {
        try await withMotoHarness { h, moto in
            let boto3 = Boto3ECR(endpoint: moto.url)
            let run = h.start(h.manager(options: ControllerOptions(resyncPeriod: .milliseconds(700), waitInterval: .milliseconds(200))))
            defer { run.cancel() }
            try await h.create("web", spec: spec(pip: ["requests", "flask"]))
            let ready = try await h.waitFor("web", "Ready") { $0.status?.phase == "Ready" }
            let status = try #require(ready.status)
            #expect(Set((status.pipLibraries ?? []).map(\.name)).isSuperset(of: ["requests", "flask"]))
            #expect(status.repositoryName == "mir/web")
            #expect(status.repositoryURI == "123456789012.dkr.ecr.us-east-1.amazonaws.com/mir/web")
            #expect(status.imageDigest?.hasPrefix("sha256:") == true)
            for type in ["Ready", "RepositorySynced", "LifecyclePolicySynced", "BuildSucceeded"] {
                #expect(condition(ready, type)?.status == "True", "\(type)")
            }
            let tag = try #require(status.imageTag)

            // In moto: the repository under the prefix, with mir's ownership tags, the lifecycle policy and the image.
            let repository = try await boto3.describe("mir/web")
            #expect(repository.exists)
            #expect(repository.uri == status.repositoryURI)
            let ownership = Dictionary(uniqueKeysWithValues: OwnershipTags.tags(image: "web", deletionPolicy: .delete,
                                                                                             ownership: .managedImage(uid: ready.metadata.uid ?? "", config: h.config)).map { ($0.key, $0.value) })
            #expect(repository.tags == ownership)
            #expect(samePolicy(repository.lifecyclePolicy, MirConfig.defaultLifecyclePolicy), "\(repository.lifecyclePolicy ?? "no policy")")
            #expect(repository.imageTags == [tag])
            for reason in ["RepositoryCreated", "LifecyclePolicyApplied", "BuildStarted", "BuildSucceeded"] {
                #expect(try await h.events(reason: reason, object: "web").count == 1, "event \(reason)")
            }

            // The lifecycle policy changed behind mir's back (by another client) is put back on a resync.
            let other = #"{"rules":[{"rulePriority":1,"description":"changed behind mir's back","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}"#
            try await boto3.putLifecyclePolicy("mir/web", other)
            let deadline = ContinuousClock.now + .seconds(120)
            var restored = false
            while ContinuousClock.now < deadline, !restored {
                restored = samePolicy(try await boto3.describe("mir/web").lifecyclePolicy, MirConfig.defaultLifecyclePolicy)
                if !restored { try await Task.sleep(for: .milliseconds(300)) }
            }
            #expect(restored)
            let applied = try await h.events(reason: "LifecyclePolicyApplied", object: "web")
            #expect(applied.contains { $0.message?.contains("drifted") == true }, "\(applied.map(\.message))")
            // Nothing was rebuilt for it.
            #expect(h.log.started == ["web"])
        }
    }

    @Test func deletionIsBlockedByImagesMirDidNotBuildUntilForcedThenRemovesTheRepository() async throws {
        try await withMotoHarness { h, moto in
            let boto3 = Boto3ECR(endpoint: moto.url)
            var run = h.start(h.manager())
            defer { run.cancel() }
            try await h.create("gone", spec: spec(deletionPolicy: .delete))
            try await h.waitFor("gone", "Ready") { $0.status?.phase == "Ready" }
            _ = try await h.registry.putImage(repositoryName: "mir/gone", manifest: AdoptionRefusedTests.foreignManifest, tag: "hand-pushed")
            _ = try await h.client.delete(ManagedImageResource.self, name: "gone")

            // An image mir did not build: blocked, visibly, naming it.
            let blocked = try await h.waitFor("gone", "DeletionBlocked") { condition($0, "DeletionBlocked")?.status == "True" }
            #expect(condition(blocked, "DeletionBlocked")?.reason == "ForeignImages")
            #expect(blocked.status?.phase == "Deleting")
            #expect(blocked.metadata.finalizers?.contains("mir.dev/repository") == true)
            let blockedEvents = try await h.events(reason: "DeletionBlocked", object: "gone")
            #expect(blockedEvents.count == 1 && blockedEvents.first?.type == "Warning")
            #expect(blockedEvents.first?.message?.contains("hand-pushed") == true)
            #expect(try await boto3.describe("mir/gone").exists)

            // With forceDeleteRepositories the repository goes, then the object.
            run.cancel()
            await run.value
            var forced = h.config
            forced.forceDeleteRepositories = true
            run = h.start(h.manager(forced))
            try await waitGone(h, "gone")
            #expect(try await boto3.describe("mir/gone").exists == false)
            let deleted = try await h.events(reason: "RepositoryDeleted", object: "gone")
            #expect(deleted.count == 1 && deleted.first?.message?.hasPrefix("deleted repository mir/gone") == true)
        }
    }

    @Test func deletionOfAnImageMirBuiltFinishesWithoutForce() async throws {
        try await withMotoHarness { h, moto in
            let boto3 = Boto3ECR(endpoint: moto.url)
            let run = h.start(h.manager())
            defer { run.cancel() }
            try await h.create("built", spec: spec(deletionPolicy: .delete))
            try await h.waitFor("built", "Ready") { $0.status?.phase == "Ready" }
            _ = try await h.client.delete(ManagedImageResource.self, name: "built")
            try await waitGone(h, "built")
            #expect(try await boto3.describe("mir/built").exists == false)
        }
    }
}
