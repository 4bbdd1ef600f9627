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
        let a = record("b-image", "py3.11-1"), b = record("a-image", "py3.11-2"), c = record("a-image", "py3.11-1")
        for r in [a, b, c] { try await store.put(r) }
        #expect(try await store.allRecords() == [c, b, a])
        #expect(try await store.record(image: "a-image", tag: "py3.11-2") == b)
        #expect(try await store.record(image: "a-image", tag: "missing") == nil)
    }

    @Test func oneFilePerImageAndTag() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = FileBuildRecordStore(directory: directory)
        try await store.put(record("demo", "t1", state: .running))
        try await store.put(record("demo", "t1", state: .succeeded))
        #expect(try await store.allRecords().map(\.state) == [.succeeded])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/demo") == ["t1.json"])
    }

    @Test func hostileNamesStayInsideTheDirectory() async throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = FileBuildRecordStore(directory: directory + "/records")
        let hostile = record("../../escape", "../x/.hidden")
        try await store.put(hostile)
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
                    for j in 0..<25 { try await store.put(self.record("demo", "t", at: Double(i * 100 + j))) }
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
        // No temporary files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/demo") == ["t.json"])
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
            let record = BuildRecord(image: "demo", tag: "t", state: .running, reason: "new", specDigest: "d",
                                     platformVersion: "1", parentTag: nil, pythonVersion: "3.11", builder: "simulate",
                                     simulated: true, startedAt: date, finishedAt: date)
            try await store.put(record)
            #expect(try await store.record(image: "demo", tag: "t") == record)
            // The file holds ISO 8601 text that Foundation's parser reads as the same instant (within its precision).
            let file = try #require(JSONValue.parse(try String(contentsOfFile: store.path(image: "demo", tag: "t"), encoding: .utf8)))
            let text = try #require(file["startedAt"]?.stringValue)
            let parsed = try Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            #expect(abs(parsed.timeIntervalSince(date)) < 0.001, "\(text)")
        }
    }
}
