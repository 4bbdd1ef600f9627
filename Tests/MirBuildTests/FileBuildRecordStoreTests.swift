import Foundation
import PropertyBased
import MirBuild
import MirModel
import Testing

@Suite struct FileBuildRecordStoreTests {
    func record(_ image: String, _ tag: String, state: BuildRecord.State = .succeeded, at seconds: Double = 1_700_000_000.25) -> BuildRecord {
        BuildRecord(image: image, tag: tag, state: state, reason: "new", specDigest: "sha256:ab", platformVersion: "0.1.0",
                    parentTag: nil, pythonVersion: "3.11", pipLibraries: [PipLibrary(name: "pip", version: "24.0")],
                    builder: "simulate", simulated: true, startedAt: Date(timeIntervalSince1970: seconds),
                    finishedAt: Date(timeIntervalSince1970: seconds + 1.5), message: "simulated build")
    }

    @Test func putAndReadBack() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = FileBuildRecordStore(directory: directory)
        #expect(try await store.allRecords().isEmpty)
        var a = record("b-image", "py3.11-1"), b = record("a-image", "py3.11-2"), c = record("a-image", "py3.11-1")
        a = try await store.put(a)
        b = try await store.put(b)
        c = try await store.put(c)
        #expect([a, b, c].map(\.version) == [1, 1, 1])
        #expect(try await store.allRecords() == [c, b, a])
        #expect(try await store.record(image: "a-image", tag: "py3.11-2") == b)
        #expect(try await store.record(image: "a-image", tag: "missing") == nil)
    }

    @Test func oneFilePerImageAndTag() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = FileBuildRecordStore(directory: directory)
        var next = try await store.put(record("demo", "t1", state: .running))
        next.state = .succeeded
        try await store.put(next)
        #expect(try await store.allRecords().map(\.state) == [.succeeded])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/demo") == ["t1.json"])
    }

    @Test func hostileNamesStayInsideTheDirectory() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = FileBuildRecordStore(directory: directory + "/records")
        let hostile = try await store.put(record("../../escape", "../x/.hidden"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["records"])
        #expect(try await store.allRecords() == [hostile])
        #expect(store.path(image: "..", tag: ".").hasPrefix(directory + "/records/%2E"))
    }

    @Test(.enabled(if: python3Path != nil)) func aSecondProcessReadsTheRecords() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = FileBuildRecordStore(directory: directory)
        try await store.put(record("demo", "py3.11-abc"))
        let program = """
            import json,sys
            r=json.load(open(sys.argv[1]))
            print(r['image'], r['tag'], r['state'], r['simulated'], r['pipLibraries'][0]['name'], r['startedAt'])
            """
        let result = try runProcess(python3Path!, ["-c", program, store.path(image: "demo", tag: "py3.11-abc")])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output == "demo py3.11-abc Succeeded True pip 2023-11-14T22:13:20.250Z\n")
    }

    @Test func concurrentWritersNeverExposePartialFiles() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = FileBuildRecordStore(directory: directory)
        try await store.put(record("demo", "t"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<4 {
                group.addTask {
                    // Read, then compare-and-swap; on a conflict read again.
                    var written = 0
                    while written < 25 {
                        var next = self.record("demo", "t", at: Double(i * 100 + written))
                        next.version = try await store.record(image: "demo", tag: "t")?.version
                        do { try await store.put(next); written += 1 } catch is BuildRecordConflict {}
                    }
                }
            }
            group.addTask {
                for _ in 0..<100 {
                    let records = try await store.allRecords()
                    #expect(records.count == 1)
                }
            }
            try await group.waitForAll()
        }
        // Every write counted exactly once: 1 + 4 × 25 versions. No temporary files are left behind.
        #expect(try await store.record(image: "demo", tag: "t")?.version == 101)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/demo") == ["t.json"])
    }
}

/// Problems 6 and 7 of issue 8: records name their builder and are written by compare-and-swap.
@Suite struct BuildRecordSafetyTests {
    func record(_ state: BuildRecord.State = .running, owner: BuildOwner? = nil, heartbeat: Date? = nil) -> BuildRecord {
        var r = BuildRecord(image: "demo", tag: "t", state: state, reason: "new", specDigest: "d", platformVersion: "1",
                            parentTag: nil, pythonVersion: "3.11", builder: "simulate", simulated: true,
                            startedAt: Date().millisecondPrecision)
        r.owner = owner
        r.heartbeatAt = heartbeat
        return r
    }

    /// A pid that is certainly gone: a child that has exited and been reaped.
    func deadPID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    @Test func aStaleWriterNeverOverwritesANewerRecord() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = FileBuildRecordStore(directory: directory)
        // Two writers read the same Running record (version 1).
        let running = try await store.put(record(.running, owner: .current, heartbeat: Date()))
        var succeeded = running
        succeeded.state = .succeeded
        succeeded.pipLibraries = [PipLibrary(name: "numpy", version: "2.1.0")]
        let stored = try await store.put(succeeded)
        #expect(stored.version == 2)
        // The second writer's stale Running record is refused with a typed conflict, and nothing changes.
        var stale = running
        stale.message = "another process thinks it is still building"
        await #expect(throws: BuildRecordConflict(image: "demo", tag: "t", expectedVersion: 1, storedVersion: 2, storedState: .succeeded)) {
            try await store.put(stale)
        }
        let after = try #require(try await store.record(image: "demo", tag: "t"))
        #expect(after.state == .succeeded && after.pipLibraries.map(\.name) == ["numpy"] && after.version == 2)
        // A writer that expects no record cannot replace one either.
        await #expect(throws: BuildRecordConflict.self) { try await store.put(self.record(.running)) }
    }

    @Test func recordsWrittenBeforeVersionsAreReplacedByAFirstWriter() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = FileBuildRecordStore(directory: directory)
        let path = store.path(image: "demo", tag: "t")
        try FileManager.default.createDirectory(atPath: directory + "/demo", withIntermediateDirectories: true)
        try Data(#"{"builder":"simulate","image":"demo","pipLibraries":[],"platformVersion":"1","pythonVersion":"3.11","reason":"new","simulated":true,"specDigest":"d","startedAt":"2026-01-01T00:00:00.000Z","state":"Succeeded","tag":"t"}"#.utf8).write(to: URL(fileURLWithPath: path))
        let old = try #require(try await store.record(image: "demo", tag: "t"))
        #expect(old.version == nil && old.state == .succeeded)
        var next = old
        next.message = "rebuilt"
        #expect(try await store.put(next).version == 1)
    }

    @Test func aRunningRecordOfADeadProcessIsAbandoned() throws {
        let now = Date()
        let host = ProcessInfo.processInfo.hostName
        let dead = BuildOwner(host: host, pid: try deadPID(), processStart: nil)
        #expect(record(owner: dead, heartbeat: now).effectiveState(now: now) == .abandoned)
        // This process, alive, with the right start time: still running.
        #expect(record(owner: .current, heartbeat: now).effectiveState(now: now) == .running)
        // The same pid started at another time (a reused pid): abandoned.
        var reused = BuildOwner.current
        reused.processStart = "1"
        #expect(record(owner: reused, heartbeat: now).effectiveState(now: now) == .abandoned)
        // Another host's process is judged by its heartbeat only.
        let remote = BuildOwner(host: host + "-elsewhere", pid: dead.pid, processStart: nil)
        #expect(record(owner: remote, heartbeat: now).effectiveState(now: now) == .running)
        #expect(record(owner: remote, heartbeat: now).effectiveState(now: now.addingTimeInterval(BuildRecord.heartbeatTimeout + 1)) == .abandoned)
        // Finished records never change.
        #expect(record(.succeeded, owner: dead).effectiveState(now: now) == .succeeded)
    }

    @Test func aSubmittedRecordPastItsDeadlineIsLost() {
        var submitted = record(.submitted)
        let now = Date()
        submitted.deadline = now.addingTimeInterval(60)
        #expect(submitted.effectiveState(now: now) == .submitted)
        #expect(submitted.effectiveState(now: now.addingTimeInterval(61)) == .lost)
    }

    @Test func theStoreReadsEffectiveStatesAndKeepsTheStoredOnes() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = FileBuildRecordStore(directory: directory)
        let dead = BuildOwner(host: ProcessInfo.processInfo.hostName, pid: try deadPID(), processStart: nil)
        try await store.put(record(.running, owner: dead, heartbeat: Date()))
        #expect(try await store.allRecords().map(\.state) == [.abandoned])
        #expect(try store.storedRecords().map(\.state) == [.running])
    }

    @Test func temporaryFilesOfKilledWritesAreRemoved() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = FileBuildRecordStore(directory: directory)
        try await store.put(record(.succeeded))
        let leftover = "\(directory)/demo/.t.json.\(UUID().uuidString).tmp"
        try Data("{".utf8).write(to: URL(fileURLWithPath: leftover))
        try Data("keep".utf8).write(to: URL(fileURLWithPath: directory + "/demo/.notes.tmp"))
        #expect(store.removeLeftoverTemporaryFiles() == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/demo").sorted() == [".notes.tmp", "t.json"])
    }
}

@Suite struct RecordDatePrecisionTests {
    /// Any date cut to milliseconds survives the store's file format exactly.
    @Test func millisecondDatesRoundTripExactly() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = FileBuildRecordStore(directory: directory)
        await propertyCheck(count: 200, input: Gen.double(in: 0...4_000_000_000)) { seconds in
            let date = Date(timeIntervalSince1970: seconds).millisecondPrecision
            var record = BuildRecord(image: "demo", tag: "t", state: .running, reason: "new", specDigest: "d",
                                     platformVersion: "1", parentTag: nil, pythonVersion: "3.11", builder: "simulate",
                                     simulated: true, startedAt: date, finishedAt: date)
            record.version = try await store.record(image: "demo", tag: "t")?.version
            let stored = try await store.put(record)
            #expect(try await store.record(image: "demo", tag: "t") == stored)
            // The file holds ISO 8601 text that Foundation's parser reads as the same instant (within its precision).
            let file = try #require(JSONValue.parse(try String(contentsOfFile: store.path(image: "demo", tag: "t"), encoding: .utf8)))
            let text = try #require(file["startedAt"]?.stringValue)
            let parsed = try Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            #expect(abs(parsed.timeIntervalSince(date)) < 0.001, "\(text)")
        }
    }
}
