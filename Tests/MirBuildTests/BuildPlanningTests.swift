import Foundation
import MirBuild
import MirModel
import Testing

@Suite struct BuildPlanningTests {
    @Test func requestResolvesAManagedParentToItsRepositoryAndTag() throws {
        let resolved = try DesiredStateResolver.resolve([Fixture.image("root"), Fixture.child("kid", of: "root")], config: MirConfig())
        let uri = { (name: String) in "registry.local:5000/\(name)" }
        let root = BuildRequest(image: resolved[0], reason: .new, platformVersion: "0.1.0", repositoryURI: uri)
        let kid = BuildRequest(image: resolved[1], reason: .parentRebuilt, platformVersion: "0.1.0", repositoryURI: uri)
        #expect(root.baseImageReference == "public.ecr.aws/docker/library/python:3.11-slim-bookworm")
        #expect(root.repositoryURI == "registry.local:5000/mir/root")
        #expect(kid.baseImageReference == "registry.local:5000/mir/root:\(resolved[0].tag)")
        #expect(kid.repositoryURI == "registry.local:5000/mir/kid")
        #expect(throws: Never.self) { try BuildContextRenderer.dockerfile(for: kid) }
    }

    @Test func inferredReasons() throws {
        let config = MirConfig(platformVersion: "2.0.0")
        let resolved = try DesiredStateResolver.resolve([Fixture.image("root"), Fixture.child("kid", of: "root")], config: config)
        let kid = resolved[1]
        func record(spec: String = kid.specDigest, parent: String? = kid.parentTag, platform: String = "2.0.0") -> BuildRecord {
            BuildRecord(image: "kid", tag: "old", state: .succeeded, reason: "new", specDigest: spec, platformVersion: platform,
                        parentTag: parent, pythonVersion: "3.11", builder: "render", simulated: false, startedAt: Date())
        }
        #expect(BuildReason.inferred(for: kid, previous: nil, platformVersion: "2.0.0") == .new)
        #expect(BuildReason.inferred(for: kid, previous: record(spec: "sha256:other"), platformVersion: "2.0.0") == .specChanged)
        #expect(BuildReason.inferred(for: kid, previous: record(parent: "py3.11-old"), platformVersion: "2.0.0") == .parentRebuilt)
        #expect(BuildReason.inferred(for: kid, previous: record(platform: "1.0.0"), platformVersion: "2.0.0") == .platformUpgraded)
    }

    @Test func simulateDelayComesFromSettings() {
        let registry = FakeRegistry(repositories: [])
        let store = FileBuildRecordStore(directory: "/nonexistent")
        #expect(SimulateBuilder(registry: registry, records: store, settings: BuilderSettings(simulateDelaySeconds: 1.5)).delay == .milliseconds(1500))
        #expect(SimulateBuilder(registry: registry, records: store, settings: BuilderSettings(simulateDelaySeconds: -3)).delay == .zero)
        #expect(SimulateBuilder(registry: registry, records: store, settings: BuilderSettings(simulateDelaySeconds: .nan)).delay == .zero)
    }
}
