import Foundation
import Testing
@testable import MirLocalRegistry
import MirRegistry

@Suite struct ScaleTests {
    /// 10,000 repositories: each change costs O(change) in file I/O, counted, not timed — one fsynced journal line,
    /// no re-read of what this process wrote, snapshots written geometrically (so everything written stays within a
    /// small multiple of what ends on disk) — and a fresh process reads it all back, once.
    @Test func tenThousandRepositories() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        let count = 10_000
        for i in 0..<count {
            _ = try await registry.createRepository(name: "mir/scale-\(i)", tags: [ResourceTag(key: "n", value: "\(i)")])
        }
        let io = registry.storageStatistics
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: dir.path).reduce(0) { total, file in
            total + ((try FileManager.default.attributesOfItem(atPath: dir.path + "/" + file)[.size] as? Int) ?? 0)
        }
        #expect(io.journalAppends == count)
        #expect(io.bytesRead == 0, "the writer keeps its cache current: \(io)")
        #expect(io.bytesWritten <= 4 * onDisk, "\(io), \(onDisk) bytes on disk")
        #expect(io.snapshotsWritten <= 8, "\(io)")

        let reader = try dir.registry()
        var names: [String] = []
        var token: String?
        repeat {
            let page = try await reader.describeRepositories(names: nil, maxResults: 1000, nextToken: token)
            names += page.items.map(\.name)
            token = page.nextToken
        } while token != nil
        #expect(names == (0..<count).map { "mir/scale-\($0)" })
        let some = try await reader.describeRepositories(names: ["mir/scale-9999", "mir/scale-0"], maxResults: nil, nextToken: nil)
        #expect(some.items.map(\.name) == ["mir/scale-9999", "mir/scale-0"])
        #expect(reader.storageStatistics.bytesRead <= onDisk, "a fresh reader loads the snapshot and journal once: \(reader.storageStatistics)")
    }
}
