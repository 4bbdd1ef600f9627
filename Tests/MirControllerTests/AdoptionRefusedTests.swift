import Foundation
import KubeClient
import MirController
import MirCore
import MirModel
import MirRegistry
import Testing

/// A repository under the prefix that mir does not own is never taken over, changed or deleted (§1 safety rules),
/// on the embedded registry and on moto through mir's ECR adapter.
@Suite("a repository mir does not own", .serialized)
struct AdoptionRefusedTests {
    /// Someone else's image in someone else's repository (a Docker v2 manifest both registries accept).
    static let foreignManifest = """
        {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",\
        "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1234,"digest":"sha256:\(String(repeating: "c", count: 64))"},\
        "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":100,"digest":"sha256:\(String(repeating: "7", count: 64))"}]}
        """

    @Test(arguments: RegistryUnderTest.allCases)
    func isRefusedLeftUntouchedAndNotDeletedWithTheManagedImage(on registry: RegistryUnderTest) async throws {
        // forceDeleteRepositories: an owned repository with images would be deleted; this one must not be.
        try await withHarness(on: registry, forceDelete: true) { h in
            let foreignTags = [ResourceTag(key: "team", value: "payments")]
            let foreign = try await h.registry.createRepository(name: "mir/payments", tags: foreignTags)
            _ = try await h.registry.putImage(repositoryName: "mir/payments", manifest: Self.foreignManifest, tag: "v1")
            func expectUntouched(_ when: String) async throws {
                #expect(Set(try await h.registry.listTagsForResource(arn: foreign.arn)) == Set(foreignTags), "tags \(when)")
                let noPolicy = await #expect(throws: RegistryError.self, "lifecycle policy \(when)") {
                    _ = try await h.registry.getLifecyclePolicy(repositoryName: "mir/payments")
                }
                #expect(noPolicy?.code == .lifecyclePolicyNotFound, "lifecycle policy \(when)")
                let images = try await h.registry.listImages(repositoryName: "mir/payments", maxResults: nil, nextToken: nil).items
                #expect(images.compactMap(\.tag) == ["v1"], "images \(when)")
            }

            let run = h.start(h.manager(options: ControllerOptions(resyncPeriod: .milliseconds(700), waitInterval: .milliseconds(200))))
            defer { run.cancel() }
            try await h.create("payments", spec: spec(deletionPolicy: .delete))
            let refused = try await h.waitFor("payments", "Failed") { $0.status?.phase == "Failed" }
            let ready = try #require(condition(refused, "Ready"))
            #expect(ready.status == "False" && ready.reason == "AdoptionRefused")
            #expect(ready.message.contains("mir/payments") && ready.message.contains("not managed by mir"), "\(ready.message)")
            #expect(!ready.message.contains("--adopt"), "the controller has no CLI flag to offer: \(ready.message)")
            #expect(condition(refused, "RepositorySynced")?.reason == "AdoptionRefused")
            #expect(refused.status?.repositoryName == "mir/payments")
            #expect(refused.status?.imageTag == nil)

            // Resyncs refuse again (the aggregated event counts up) and still change nothing.
            var events: [Event] = []
            let deadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < deadline, (events.first?.count ?? 0) < 2 {
                events = try await h.events(reason: "AdoptionRefused", object: "payments")
                if (events.first?.count ?? 0) < 2 { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(events.count == 1)
            let event = try #require(events.first)
            #expect((event.count ?? 0) >= 2, "refused again on resync")
            #expect(event.type == "Warning" && event.reportingComponent == "mir")
            #expect(event.message?.contains("mir/payments") == true)
            try await expectUntouched("while refused")
            #expect(try await h.jobs(image: "payments").isEmpty)
            #expect(!h.log.started.contains("payments"))

            // Deleting the ManagedImage (deletionPolicy Delete) removes the finalizer and the object, not the repository.
            _ = try await h.client.delete(ManagedImageResource.self, name: "payments")
            try await waitGone(h, "payments")
            #expect(try await h.registry.describeRepositories(names: ["mir/payments"], maxResults: nil, nextToken: nil).items.count == 1)
            try await expectUntouched("after the ManagedImage was deleted")
            #expect(try await h.events(reason: "RepositoryDeleted", object: "payments").isEmpty)
        }
    }

    @Test("problem 3: a ManagedImage cannot take over (re-tag, then delete) a Retain repository `mir apply` created",
          arguments: RegistryUnderTest.allCases)
    func filesRepositoryIsNotTakenOverByAManagedImage(on registry: RegistryUnderTest) async throws {
        try await withHarness(on: registry, forceDelete: true) { h in
            let filesTags = OwnershipTags.tags(image: "precious", deletionPolicy: .retain, ownership: .files(h.config))
            let precious = try await h.registry.createRepository(name: "mir/precious", tags: filesTags, imageTagMutability: .immutable)
            _ = try await h.registry.putImage(repositoryName: "mir/precious", manifest: Self.foreignManifest, tag: "v1")
            let run = h.start(h.manager(options: ControllerOptions(resyncPeriod: .milliseconds(700), waitInterval: .milliseconds(200))))
            defer { run.cancel() }
            try await h.create("precious", spec: spec(deletionPolicy: .delete))
            let refused = try await h.waitFor("precious", "AdoptionRefused") { condition($0, "Ready")?.reason == "AdoptionRefused" }
            #expect(condition(refused, "Ready")?.message.contains("owned by files") == true, "\(String(describing: condition(refused, "Ready")))")
            #expect(Set(try await h.registry.listTagsForResource(arn: precious.arn)) == Set(filesTags), "deletion policy not re-tagged")
            _ = try await h.client.delete(ManagedImageResource.self, name: "precious")
            try await waitGone(h, "precious")
            #expect(try await h.registry.describeRepositories(names: ["mir/precious"], maxResults: nil, nextToken: nil).items.count == 1)
            #expect(try await h.registry.listImages(repositoryName: "mir/precious", maxResults: nil, nextToken: nil).items.compactMap(\.tag) == ["v1"])
            #expect(Set(try await h.registry.listTagsForResource(arn: precious.arn)) == Set(filesTags))
            #expect(try await h.events(reason: "RepositoryDeleted", object: "precious").isEmpty)
        }
    }
}
