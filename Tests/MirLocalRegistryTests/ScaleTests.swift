import Foundation
import Testing
@testable import MirLocalRegistry
import MirRegistry

@Suite struct ScaleTests {
    /// 10,000 repositories: creating, paging and looking up stay cheap per operation (no rewrite of the whole
    /// state per change; paging by binary search), and a fresh process reads it all back.
    @Test func tenThousandRepositories() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        let count = 10_000
        let clock = ContinuousClock()
        var firstBatch = Duration.zero, lastBatch = Duration.zero
        for i in 0..<count {
            let start = clock.now
            _ = try await registry.createRepository(name: "mir/scale-\(i)", tags: [ResourceTag(key: "n", value: "\(i)")])
            let elapsed = clock.now - start
            if i < 500 { firstBatch += elapsed } else if i >= count - 500 { lastBatch += elapsed }
        }
        // Per-operation cost must not grow with the registry's size (allowing generous noise).
        #expect(lastBatch < firstBatch * 4 + .seconds(2), "first 500: \(firstBatch), last 500: \(lastBatch)")

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
    }
}
