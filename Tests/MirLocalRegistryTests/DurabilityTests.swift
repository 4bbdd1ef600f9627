import Foundation
import Testing
@testable import MirLocalRegistry
import MirRegistry

@Suite struct DurabilityTests {
    /// Builds a registry with some of everything; returns what a reader should see.
    private func populate(_ registry: LocalRegistry) async throws -> [RepositoryDescription] {
        var repos: [RepositoryDescription] = []
        for i in 0..<5 {
            let repo = try await registry.createRepository(name: "mir/r\(i)", tags: [ResourceTag(key: "i", value: "\(i)")])
            repos.append(repo)
            _ = try await registry.putImage(repositoryName: repo.name, manifest: manifest(i), tag: "v\(i)")
        }
        try await registry.putLifecyclePolicy(repositoryName: "mir/r0", policyText: validPolicyText)
        _ = try await registry.deleteRepository(name: "mir/r4", force: true)
        repos.removeLast()
        return repos
    }

    private func expectState(_ registry: LocalRegistry, repos: [RepositoryDescription], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let page = try await registry.describeRepositories(names: nil, maxResults: nil, nextToken: nil)
        #expect(page.items == repos, sourceLocation: sourceLocation)
        #expect(try await registry.getLifecyclePolicy(repositoryName: "mir/r0") == validPolicyText, sourceLocation: sourceLocation)
        #expect(try await registry.listTagsForResource(arn: repos[2].arn) == [ResourceTag(key: "i", value: "2")], sourceLocation: sourceLocation)
        #expect(try await registry.listImages(repositoryName: "mir/r3", maxResults: nil, nextToken: nil).items.map(\.tag) == ["v3"],
                sourceLocation: sourceLocation)
    }

    @Test(arguments: [1 << 20, 200])
    func stateSurvivesReopening(compactionThreshold: Int) async throws {
        let dir = TemporaryDirectory()
        let repos = try await populate(try dir.registry(compactionThreshold: compactionThreshold))
        try await expectState(try dir.registry(), repos: repos)
        if compactionThreshold == 200 {
            #expect(dir.files().contains("snapshot.json"))
        }
    }

    /// A snapshot is a header line and one repository per line (read and written a record at a time); a registry
    /// whose snapshot is the format-1 document written before reads the same, and its next compaction writes format 2.
    @Test func snapshotsAreOneRepositoryPerLineAndFormatOneStillReads() async throws {
        let dir = TemporaryDirectory()
        let repos = try await populate(try dir.registry(compactionThreshold: 200))
        let text = try String(contentsOfFile: dir.path + "/snapshot.json", encoding: .utf8)
        let lines = text.split(separator: "\n")
        let header = try JSONDecoder().decode(SnapshotHeader.self, from: Data(lines[0].utf8))
        #expect(header.format == 2)
        let records = try lines.dropFirst().map { try JSONDecoder().decode(RepositoryRecord.self, from: Data($0.utf8)) }
        // The state at the last compaction, one record per line: at least one repository, each one mir wrote.
        #expect(!records.isEmpty)
        #expect(Set(records.map(\.name)).isSubset(of: Set(repos.map(\.name) + ["mir/r4"])))
        #expect(header.nextSeq > records.map(\.seq).max() ?? 0)

        // The same state as a format-1 document (with no journal after it) reads back whole.
        let registry = try dir.registry()
        try await expectState(registry, repos: repos)
        let old = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: old.path, withIntermediateDirectories: true)
        let state = try FileStore(directory: dir.path).read { $0 }
        let document = Snapshot(format: 1, generation: 0, nextSeq: state.nextSeq, repositories: Array(state.records))
        try JSONEncoder().encode(document).write(to: URL(fileURLWithPath: old.path + "/snapshot.json"))
        try await expectState(try old.registry(), repos: repos)
        // An unknown format is refused, never taken as empty.
        try Data("{\"format\":3,\"generation\":0,\"nextSeq\":1}\n".utf8).write(to: URL(fileURLWithPath: old.path + "/snapshot.json"))
        await #expect(throws: (any Error).self) { _ = try await old.registry().describeRepositories(names: nil, maxResults: nil, nextToken: nil) }
    }

    @Test func aCrashMidWriteLosesNothing() async throws {
        let dir = TemporaryDirectory()
        let repos = try await populate(try dir.registry(compactionThreshold: 2_000))
        // What a crash can leave: a half-written snapshot temp file and a journal line cut short.
        try Data("{\"format\":1,\"generation\":9,\"repos".utf8).write(to: URL(fileURLWithPath: dir.path + "/snapshot.json.tmp-4242-1"))
        let journal = try #require(dir.files().first { $0.hasPrefix("journal-") })
        let handle = try #require(FileHandle(forWritingAtPath: dir.path + "/" + journal))
        handle.seekToEndOfFile()
        handle.write(Data("{\"put\":{\"seq\":99,\"name\":\"half-writ".utf8))
        handle.closeFile()

        let reopened = try dir.registry(compactionThreshold: 2_000)
        try await expectState(reopened, repos: repos)
        // Issue 8, problem 13: the killed writer's temporary file is removed when the registry is opened.
        #expect(!dir.files().contains("snapshot.json.tmp-4242-1"))
        // The next writer discards the cut line and carries on; nothing is lost afterwards either.
        let more = try await reopened.createRepository(name: "after-crash", tags: [])
        let third = try dir.registry()
        try await expectState(third, repos: repos + [more])
        let journalText = try String(contentsOfFile: dir.path + "/" + (dir.files().first { $0.hasPrefix("journal-") } ?? journal), encoding: .utf8)
        #expect(!journalText.contains("half-writ"))
    }

    @Test func compactionFoldsTheJournalAndRemovesLeftovers() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry(compactionThreshold: 500)
        try Data("partial".utf8).write(to: URL(fileURLWithPath: dir.path + "/snapshot.json.tmp-1-2"))
        for i in 0..<20 { _ = try await registry.createRepository(name: "c\(i)", tags: []) }
        let files = dir.files()
        #expect(files.contains("snapshot.json"))
        #expect(!files.contains("snapshot.json.tmp-1-2"))
        #expect(!files.contains("journal-0.log"))
        #expect(files.filter { $0.hasPrefix("journal-") }.count <= 1)
        let names = try await dir.registry().describeRepositories(names: nil, maxResults: nil, nextToken: nil).items.map(\.name)
        #expect(names == (0..<20).map { "c\($0)" })
    }

    @Test func aCorruptSnapshotIsAnErrorNeverAnEmptyRegistry() async throws {
        let dir = TemporaryDirectory()
        _ = try await populate(try dir.registry(compactionThreshold: 200))
        try Data("{ this is not the registry".utf8).write(to: URL(fileURLWithPath: dir.path + "/snapshot.json"))
        let registry = try dir.registry()
        let error = await registryError { try await registry.describeRepositories(names: nil, maxResults: nil, nextToken: nil) }
        #expect(error?.code == .server)
        #expect(error?.operation == "DescribeRepositories")
        #expect(error?.message.contains("snapshot.json") == true)
        #expect(error?.message.contains("corrupt") == true)
        // Writes are refused too.
        await expectRegistryError(.server, operation: "CreateRepository") {
            try await registry.createRepository(name: "x1", tags: [])
        }
    }

    @Test func aCorruptJournalLineIsAnError() async throws {
        let dir = TemporaryDirectory()
        _ = try await populate(try dir.registry())
        let journal = dir.path + "/journal-0.log"
        var text = try String(contentsOfFile: journal, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"name\"", with: "\"nam\"")
        try text.write(toFile: journal, atomically: false, encoding: .utf8)
        let error = await registryError { try await dir.registry().listImages(repositoryName: "mir/r1", maxResults: nil, nextToken: nil) }
        #expect(error?.code == .server)
        #expect(error?.message.contains("journal-0.log") == true)
    }

    @Test func aMissingSnapshotWithALaterJournalIsAnError() async throws {
        let dir = TemporaryDirectory()
        _ = try await populate(try dir.registry(compactionThreshold: 200))
        try FileManager.default.removeItem(atPath: dir.path + "/snapshot.json")
        try Data().write(to: URL(fileURLWithPath: dir.path + "/journal-7.log"))
        let error = await registryError { try await dir.registry().describeRepositories(names: nil, maxResults: nil, nextToken: nil) }
        #expect(error?.code == .server)
        #expect(error?.message.contains("missing") == true)
    }
}

@Suite struct ConcurrencyTests {
    /// Two registries on one directory (separate open file descriptions, as two processes would have)
    /// creating repositories and pushing into shared ones from many tasks: no update is lost.
    @Test func twoInstancesManyTasksNoLostUpdate() async throws {
        let dir = TemporaryDirectory()
        let first = try dir.registry(compactionThreshold: 4_000)
        let second = try dir.registry(compactionThreshold: 4_000)
        _ = try await first.createRepository(name: "shared", tags: [])
        let tasks = 16, perTask = 12
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<tasks {
                let registry = t % 2 == 0 ? first : second
                group.addTask {
                    for i in 0..<perTask {
                        let repo = try await registry.createRepository(name: "t\(t)/r\(i)", tags: [])
                        if i < 3 {
                            try await registry.tagResource(arn: registry.arn(of: "shared"), tags: [ResourceTag(key: "t\(t)-\(i)", value: "x")])
                        }
                        _ = try await registry.putImage(repositoryName: "shared", manifest: manifest(t * 1000 + i), tag: "t\(t)-\(i)")
                        _ = try await registry.putImage(repositoryName: repo.name, manifest: manifest(i), tag: "v")
                    }
                }
            }
            try await group.waitForAll()
        }
        for registry in [first, second, try dir.registry()] {
            let repos = try await registry.describeRepositories(names: nil, maxResults: 1000, nextToken: nil)
            #expect(repos.items.count == 1 + tasks * perTask)
            #expect(Set(repos.items.map(\.name)).count == repos.items.count)
            let shared = try await registry.listImages(repositoryName: "shared", maxResults: 1000, nextToken: nil)
            #expect(Set(shared.items.compactMap(\.tag)) == Set((0..<tasks).flatMap { t in (0..<perTask).map { "t\(t)-\($0)" } }))
            #expect(Set(try await registry.listTagsForResource(arn: registry.arn(of: "shared")).map(\.key))
                    == Set((0..<tasks).flatMap { t in (0..<3).map { "t\(t)-\($0)" } }))
        }
    }
}

@Suite struct CrossProcessLockTests {
    /// Another process (python3) holding `flock` on DIR/lock makes a write wait until it lets go.
    @Test func operationsWaitForALockHeldByAnotherProcess() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        _ = try await registry.createRepository(name: "first", tags: [])
        let ready = dir.path + "/holder-ready", release = dir.path + "/holder-release"
        let script = """
        import fcntl, os, sys, time
        f = open(sys.argv[1], "a+")
        fcntl.flock(f, fcntl.LOCK_EX)
        open(sys.argv[2], "w").close()
        deadline = time.time() + 60
        while not os.path.exists(sys.argv[3]) and time.time() < deadline:
            time.sleep(0.02)
        """
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", script, dir.path + "/lock", ready, release]
        try holder.run()
        defer { if holder.isRunning { holder.terminate() } }
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: ready) {
            try #require(Date() < deadline, "the lock holder did not start")
            try await Task.sleep(for: .milliseconds(20))
        }
        let write = Task { try await registry.createRepository(name: "second", tags: []) }
        try await Task.sleep(for: .milliseconds(600))
        let listedByOtherProcess = FileManager.default.contents(atPath: dir.path + "/journal-0.log")
            .map { String(decoding: $0, as: UTF8.self).contains("second") } ?? false
        #expect(!listedByOtherProcess, "the write went ahead while another process held the lock")
        _ = FileManager.default.createFile(atPath: release, contents: nil)
        _ = try await write.value
        holder.waitUntilExit()
        #expect(try await registry.describeRepositories(names: nil, maxResults: nil, nextToken: nil).items.map(\.name) == ["first", "second"])
    }
}
