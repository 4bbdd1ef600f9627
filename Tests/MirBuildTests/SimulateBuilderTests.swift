import Foundation
import MirBuild
import MirModel
import MirRegistry
import Synchronization
import Testing

@Suite struct SimulateBuilderTests {
    struct Setup {
        let directory: String
        let registry: FakeRegistry
        let store: FileBuildRecordStore
        let builder: SimulateBuilder
    }

    func setup(delay: Duration = .zero, repositories: [String] = ["mir/root", "mir/kid"]) throws -> Setup {
        let directory = try Fixture.temporaryDirectory()
        let registry = FakeRegistry(repositories: repositories)
        let store = FileBuildRecordStore(directory: directory + "/records")
        return Setup(directory: directory, registry: registry, store: store,
                     builder: SimulateBuilder(registry: registry, records: store, delay: delay))
    }

    let images = [
        Fixture.image("root", pip: [PipRequirement(name: "numpy", versionSpecifier: "==1.26.4"),
                                    PipRequirement(name: "requests", versionSpecifier: ">=2.31,<3")]),
        Fixture.child("kid", of: "root", pip: [PipRequirement(name: "pandas", versionSpecifier: "~=2.2")]),
    ]

    @Test func recordsASimulatedImageAfterTheDelay() async throws {
        let s = try setup(delay: .milliseconds(200))
        defer { try? FileManager.default.removeItem(atPath: s.directory) }
        #expect(s.builder.name == "simulate" && s.builder.isSimulation)
        let root = try DesiredStateResolver.resolve(images, config: MirConfig())[0]
        let clock = ContinuousClock()
        let started = clock.now
        let record = try await s.builder.build(Fixture.request(root))
        #expect(clock.now - started >= .milliseconds(200))

        #expect(record.state == .succeeded)
        #expect(record.simulated)
        #expect(record.builder == "simulate")
        #expect(record.message?.hasPrefix("simulated build") == true)
        #expect(record.tag == root.tag && record.specDigest == root.specDigest)
        #expect(record.finishedAt != nil)
        #expect(record.pipLibraries == [PipLibrary(name: "numpy", version: "1.26.4"), PipLibrary(name: "pip", version: "24.0"),
                                        PipLibrary(name: "requests", version: "2.31"), PipLibrary(name: "setuptools", version: "69.5.1"),
                                        PipLibrary(name: "wheel", version: "0.43.0")])
        let manifest = try #require(s.registry.manifest(repository: "mir/root", tag: root.tag))
        let parsed = try #require(JSONValue.parse(manifest))
        #expect(parsed["annotations"]?["dev.mir.simulated"] == .string("true"))
        #expect(parsed["schemaVersion"]?.intValue == 2)
        // The store holds the final record.
        #expect(try await s.store.record(image: "root", tag: root.tag) == record)
    }

    @Test func childInheritsItsParentsLibraries() async throws {
        let s = try setup()
        defer { try? FileManager.default.removeItem(atPath: s.directory) }
        let resolved = try DesiredStateResolver.resolve(images, config: MirConfig())
        let parent = try await s.builder.build(Fixture.request(resolved[0]))
        let child = try await s.builder.build(Fixture.request(resolved[1]))
        #expect(child.state == .succeeded)
        #expect(child.parentTag == resolved[0].tag)
        #expect(Set(child.pipLibraries) == Set(parent.pipLibraries + [PipLibrary(name: "pandas", version: "2.2")]))
    }

    @Test func childWithoutABuiltParentFails() async throws {
        let s = try setup()
        defer { try? FileManager.default.removeItem(atPath: s.directory) }
        let resolved = try DesiredStateResolver.resolve(images, config: MirConfig())
        let child = try await s.builder.build(Fixture.request(resolved[1]))
        #expect(child.state == .failed)
        #expect(child.message?.contains("root:\(resolved[0].tag)") == true)
        #expect(s.registry.manifest(repository: "mir/kid", tag: resolved[1].tag) == nil)
    }

    @Test func childOfAParentImageWithoutRecordsGetsBaseLibraries() async throws {
        let s = try setup()
        defer { try? FileManager.default.removeItem(atPath: s.directory) }
        let resolved = try DesiredStateResolver.resolve(images, config: MirConfig())
        _ = try await s.registry.putImage(repositoryName: "mir/root", manifest: "{}", tag: resolved[0].tag)
        let child = try await s.builder.build(Fixture.request(resolved[1]))
        #expect(child.state == .succeeded)
        #expect(child.pipLibraries == [PipLibrary(name: "pandas", version: "2.2"), PipLibrary(name: "pip", version: "24.0"),
                                       PipLibrary(name: "setuptools", version: "69.5.1"), PipLibrary(name: "wheel", version: "0.43.0")])
    }

    @Test func unsatisfiableRequirementFailsTheBuild() async throws {
        let s = try setup()
        defer { try? FileManager.default.removeItem(atPath: s.directory) }
        let image = Fixture.image("root", pip: [PipRequirement(name: "ok"), PipRequirement(name: "numpy", versionSpecifier: ">2,<1")])
        let record = try await s.builder.build(Fixture.request(try Fixture.resolved(image)))
        #expect(record.state == .failed)
        #expect(record.simulated)
        #expect(record.message?.hasPrefix("simulated build failed") == true)
        #expect(record.message?.contains("ResolutionImpossible") == true)
        #expect(record.message?.contains("numpy") == true)
        #expect(s.registry.putCalls == 0)
    }

    @Test func refusedBuildContextFailsTheBuild() async throws {
        let s = try setup(repositories: ["mir/demo"])
        defer { try? FileManager.default.removeItem(atPath: s.directory) }
        let record = try await s.builder.build(Fixture.rawRequest(pip: [PipRequirement(name: "x; rm -rf /")]))
        #expect(record.state == .failed)
        #expect(record.message?.contains("spec.pipRequirements[0].name") == true)
    }

    @Test func missingRepositoryFailsTheBuild() async throws {
        let s = try setup(repositories: [])
        defer { try? FileManager.default.removeItem(atPath: s.directory) }
        let record = try await s.builder.build(Fixture.request(try Fixture.resolved(images[0])))
        #expect(record.state == .failed)
        #expect(record.message?.contains("RepositoryNotFoundException") == true)
    }

    @Test func secondApplyNeverStartsADuplicate() async throws {
        let s = try setup(delay: .milliseconds(100))
        defer { try? FileManager.default.removeItem(atPath: s.directory) }
        let request = Fixture.request(try Fixture.resolved(images[0]))
        // Concurrent calls share one build.
        async let a = s.builder.build(request)
        async let b = s.builder.build(request)
        let (first, second) = try await (a, b)
        #expect(first == second)
        #expect(s.registry.putCalls == 1)
        // A later apply (a new builder over the same store) finds the record and does not build again.
        let again = SimulateBuilder(registry: s.registry, records: s.store, delay: .seconds(60))
        let third = try await again.build(request)
        #expect(third == first)
        #expect(s.registry.putCalls == 1)
        #expect(try await s.store.allRecords().count == 1)
        // A manual rebuild does build again (the registry already holds the identical image).
        var manual = request
        manual.reason = .manual
        let rebuilt = try await s.builder.build(manual)
        #expect(rebuilt.state == .succeeded && rebuilt.reason == "manual")
        #expect(s.registry.putCalls == 2)
    }

    @Test func failedBuildIsNotRetriedUnlessManual() async throws {
        let s = try setup()
        defer { try? FileManager.default.removeItem(atPath: s.directory) }
        let image = Fixture.image("root", pip: [PipRequirement(name: "numpy", versionSpecifier: ">2,<1")])
        let request = Fixture.request(try Fixture.resolved(image))
        let failed = try await s.builder.build(request)
        let again = try await s.builder.build(request)
        #expect(again == failed)
        var manual = request
        manual.reason = .manual
        let retried = try await s.builder.build(manual)
        #expect(retried.state == .failed)
        #expect(retried.reason == "manual")
    }
}

/// Problem 6 of issue 8: a `Running` record left by a killed builder is abandoned and built again; a live one is not.
@Suite struct SimulateBuilderRecordTests {
    let image = Fixture.image("root", pip: [PipRequirement(name: "numpy", versionSpecifier: "==1.26.4")])

    func runningRecord(_ resolved: ResolvedImage, owner: BuildOwner) -> BuildRecord {
        var r = BuildRecord(image: resolved.name, tag: resolved.tag, state: .running, reason: "new", specDigest: resolved.specDigest,
                            platformVersion: "0.1.0", parentTag: nil, pythonVersion: "3.11", builder: "simulate", simulated: true,
                            startedAt: Date().millisecondPrecision)
        r.owner = owner
        r.heartbeatAt = r.startedAt
        return r
    }

    @Test func aRunningRecordOfAKilledBuilderIsBuiltAgain() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let registry = FakeRegistry(repositories: ["mir/root"])
        let store = FileBuildRecordStore(directory: directory + "/records")
        let builder = SimulateBuilder(registry: registry, records: store, delay: .zero)
        let resolved = try DesiredStateResolver.resolve([image], config: MirConfig())[0]
        let exited = Process()
        exited.executableURL = URL(fileURLWithPath: "/bin/true")
        try exited.run()
        exited.waitUntilExit()
        try await store.put(runningRecord(resolved, owner: BuildOwner(host: ProcessInfo.processInfo.hostName, pid: exited.processIdentifier, processStart: nil)))
        #expect(try await store.allRecords().first?.state == .abandoned)

        let record = try await builder.build(Fixture.request(resolved))
        #expect(record.state == .succeeded)
        #expect(record.version == 3, "Running (1) was replaced by this builder's Running (2), then its outcome (3)")
        #expect(registry.manifest(repository: "mir/root", tag: resolved.tag) != nil)
    }

    @Test func aRunningRecordOfALiveBuilderIsNotBuiltTwice() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let registry = FakeRegistry(repositories: ["mir/root"])
        let store = FileBuildRecordStore(directory: directory + "/records")
        let builder = SimulateBuilder(registry: registry, records: store, delay: .zero)
        let resolved = try DesiredStateResolver.resolve([image], config: MirConfig())[0]
        let live = try await store.put(runningRecord(resolved, owner: .current))
        let record = try await builder.build(Fixture.request(resolved))
        #expect(record == live)
        #expect(registry.manifest(repository: "mir/root", tag: resolved.tag) == nil)
    }
}

extension SimulateBuilderTests {
    /// Issue 8: the repository is checked right before the push; a refusal pushes nothing and fails the build typed.
    @Test func aRefusedPushTargetPushesNothingAndFailsTyped() async throws {
        struct Refusing: PushTargetCheck {
            func verify(repositoryName: String) async throws {
                throw RepositoryNotOwned(repository: repositoryName, why: "it belongs to installation team-b")
            }
        }
        struct Accepting: PushTargetCheck { func verify(repositoryName: String) async throws {} }
        let s = try setup()
        defer { try? FileManager.default.removeItem(atPath: s.directory) }
        let root = try DesiredStateResolver.resolve(images, config: MirConfig())[0]
        var request = Fixture.request(root)
        request.pushTarget = Refusing()
        let refused = try await s.builder.build(request)
        #expect(refused.state == .failed)
        #expect(refused.failure?.reason == .repositoryNotOwned)
        #expect(refused.message?.contains("mir/root is not this mir's any more (it belongs to installation team-b)") == true, "\(refused.message ?? "")")
        #expect(s.registry.manifest(repository: "mir/root", tag: root.tag) == nil)
        // A manual rebuild with an accepting check pushes.
        var again = Fixture.request(root)
        again.reason = .manual
        again.pushTarget = Accepting()
        #expect(try await s.builder.build(again).state == .succeeded)
        #expect(s.registry.manifest(repository: "mir/root", tag: root.tag) != nil)
    }
}

/// Issue 9: a build reads its own record and its parent's, never every record (mir dev's simulated job runner builds
/// N images: reading every record per build made its cost grow with the square of the fleet).
@Suite struct BuilderRecordReadTests {
    final class CountingStore: BuildRecordStore, @unchecked Sendable {
        let base: FileBuildRecordStore
        let counts = Mutex<(all: Int, one: Int)>((0, 0))
        init(_ base: FileBuildRecordStore) { self.base = base }
        func allRecords() async throws -> [BuildRecord] { counts.withLock { $0.all += 1 }; return try await base.allRecords() }
        func record(image: String, tag: String) async throws -> BuildRecord? {
            counts.withLock { $0.one += 1 }
            return try await base.record(image: image, tag: tag)
        }
        func put(_ record: BuildRecord) async throws -> BuildRecord { try await base.put(record) }
    }

    @Test func aBuildReadsOnlyItsOwnAndItsParentsRecord() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let registry = FakeRegistry(repositories: ["mir/root", "mir/kid"])
        let store = CountingStore(FileBuildRecordStore(directory: directory + "/records"))
        let builder = SimulateBuilder(registry: registry, records: store, delay: .zero)
        let resolved = try DesiredStateResolver.resolve([
            Fixture.image("root", pip: [PipRequirement(name: "numpy", versionSpecifier: "==1.26.4")]),
            Fixture.child("kid", of: "root", pip: [PipRequirement(name: "pandas", versionSpecifier: "~=2.2")]),
        ], config: MirConfig())
        for image in resolved { #expect(try await builder.build(Fixture.request(image)).state == .succeeded) }
        let counts = store.counts.withLock { $0 }
        #expect(counts.all == 0, "every record was read \(counts.all) times")
        #expect(counts.one == 3, "root: its own; kid: its own and its parent's")
        // The child inherited its parent's libraries through the one-record read.
        let kid = try #require(try await store.base.record(image: "kid", tag: resolved[1].tag))
        #expect(kid.pipLibraries.contains { $0.name == "numpy" })
    }
}
