import Foundation
import Testing
import PropertyBased
@testable import MirLocalRegistry
import MirRegistry

@Suite struct PaginationTests {
    @Test(arguments: [(0, "greater than or equal to 1"), (-5, "greater than or equal to 1"), (1001, "less than or equal to 1000")])
    func maxResultsOutsideOneToAThousandIsRefused(_ maxResults: Int, _ constraint: String) async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        _ = try await registry.createRepository(name: "repo", tags: [])
        let message = "Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value \(constraint)'"
        await expectRegistryError(.invalidParameter, operation: "DescribeRepositories", message: message) {
            try await registry.describeRepositories(names: nil, maxResults: maxResults, nextToken: nil)
        }
        await expectRegistryError(.invalidParameter, operation: "ListImages", message: message) {
            try await registry.listImages(repositoryName: "repo", maxResults: maxResults, nextToken: nil)
        }
        await expectRegistryError(.invalidParameter, operation: "DescribeImages", message: message) {
            try await registry.describeImages(repositoryName: "repo", imageIds: nil, maxResults: maxResults, nextToken: nil)
        }
    }

    @Test func defaultPageIsAHundredAndAThousandIsAllowed() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        for i in 0..<150 { _ = try await registry.createRepository(name: "r\(i)", tags: []) }
        let first = try await registry.describeRepositories(names: nil, maxResults: nil, nextToken: nil)
        #expect(first.items.count == 100)
        let second = try await registry.describeRepositories(names: nil, maxResults: nil, nextToken: first.nextToken)
        #expect(second.items.count == 50)
        #expect(second.nextToken == nil)
        #expect((first.items + second.items).map(\.name) == (0..<150).map { "r\($0)" })
        let all = try await registry.describeRepositories(names: nil, maxResults: 1000, nextToken: nil)
        #expect(all.items.count == 150 && all.nextToken == nil)
    }

    @Test(arguments: ["garbage-token", "", "AAAA", "eyJmb28iOjF9"])
    func garbageTokensAreRefused(_ token: String) async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        _ = try await registry.createRepository(name: "repo", tags: [])
        await expectRegistryError(.invalidParameter, operation: "DescribeRepositories",
                                  message: "Invalid parameter at 'nextToken' failed to satisfy constraint: 'Invalid pagination token'") {
            try await registry.describeRepositories(names: nil, maxResults: nil, nextToken: token)
        }
        await expectRegistryError(.invalidParameter, operation: "ListImages") {
            try await registry.listImages(repositoryName: "repo", maxResults: nil, nextToken: token)
        }
    }

    @Test func tokensFromAnotherListingAreRefused() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        for name in ["aa", "bb", "cc"] {
            _ = try await registry.createRepository(name: name, tags: [])
            for i in 0..<3 { _ = try await registry.putImage(repositoryName: name, manifest: manifest(i), tag: "v\(i)") }
        }
        let repoToken = try #require(try await registry.describeRepositories(names: nil, maxResults: 1, nextToken: nil).nextToken)
        let imageToken = try #require(try await registry.listImages(repositoryName: "aa", maxResults: 1, nextToken: nil).nextToken)
        let detailToken = try #require(try await registry.describeImages(repositoryName: "aa", imageIds: nil, maxResults: 1, nextToken: nil).nextToken)
        await expectRegistryError(.invalidParameter, operation: "DescribeRepositories") {
            try await registry.describeRepositories(names: nil, maxResults: nil, nextToken: imageToken)
        }
        await expectRegistryError(.invalidParameter, operation: "ListImages") {
            try await registry.listImages(repositoryName: "aa", maxResults: nil, nextToken: repoToken)
        }
        await expectRegistryError(.invalidParameter, operation: "ListImages") {
            try await registry.listImages(repositoryName: "bb", maxResults: nil, nextToken: imageToken)
        }
        await expectRegistryError(.invalidParameter, operation: "DescribeImages") {
            try await registry.describeImages(repositoryName: "aa", imageIds: nil, maxResults: nil, nextToken: imageToken)
        }
        // A tampered token (one character changed) is refused too.
        var tampered = Array(detailToken)
        tampered[tampered.count / 2] = tampered[tampered.count / 2] == "A" ? "B" : "A"
        await expectRegistryError(.invalidParameter, operation: "DescribeImages") {
            try await registry.describeImages(repositoryName: "aa", imageIds: nil, maxResults: nil, nextToken: String(tampered))
        }
        let rest = try await registry.describeImages(repositoryName: "aa", imageIds: nil, maxResults: nil, nextToken: detailToken)
        #expect(rest.items.count == 2)
    }

    @Test func pagingSurvivesDeletionsBetweenPages() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        for i in 0..<10 { _ = try await registry.createRepository(name: "r\(i)", tags: []) }
        let first = try await registry.describeRepositories(names: nil, maxResults: 4, nextToken: nil)
        #expect(first.items.map(\.name) == ["r0", "r1", "r2", "r3"])
        _ = try await registry.deleteRepository(name: "r3", force: false)
        _ = try await registry.deleteRepository(name: "r4", force: false)
        let second = try await registry.describeRepositories(names: nil, maxResults: 4, nextToken: first.nextToken)
        #expect(second.items.map(\.name) == ["r5", "r6", "r7", "r8"])
    }

    /// Paging through N repositories with random page sizes returns each exactly once, in creation order.
    @Test func pagingReturnsEveryRepositoryExactlyOnce() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        let names = (0..<237).map { "repo-\($0)/\(String($0 * 7919 % 1000))" }
        for name in names { _ = try await registry.createRepository(name: name, tags: []) }
        await propertyCheck(count: 30, input: Gen.int(in: 1...60).array(of: 1...20)) { sizes in
            var seen: [String] = []
            var token: String?
            var pageIndex = 0
            repeat {
                let size = sizes[pageIndex % sizes.count]
                let page = try await registry.describeRepositories(names: nil, maxResults: size, nextToken: token)
                #expect(page.items.count <= size)
                #expect(page.items.count == size || page.nextToken == nil)
                seen += page.items.map(\.name)
                token = page.nextToken
                pageIndex += 1
            } while token != nil
            #expect(seen == names)
        }
    }

    /// The same for ListImages over tagged and untagged images.
    @Test func listImagesPagingReturnsEveryImageIdExactlyOnce() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        _ = try await registry.createRepository(name: "imgs", tags: [])
        for i in 0..<40 {
            _ = try await registry.putImage(repositoryName: "imgs", manifest: manifest(i), tag: "t\(i)")
            if i % 3 == 0 { _ = try await registry.putImage(repositoryName: "imgs", manifest: manifest(i), tag: "extra\(i)") }
        }
        // Move some tags so that their old images become untagged.
        for i in 0..<5 { _ = try await registry.putImage(repositoryName: "imgs", manifest: manifest(100 + i), tag: "t\(i + 1)") }
        let all = try await registry.listImages(repositoryName: "imgs", maxResults: 1000, nextToken: nil)
        #expect(all.nextToken == nil)
        #expect(Set(all.items).count == all.items.count)
        await propertyCheck(count: 30, input: Gen.int(in: 1...25).array(of: 1...10)) { sizes in
            var seen: [ImageIdentifier] = []
            var token: String?
            var pageIndex = 0
            repeat {
                let page = try await registry.listImages(repositoryName: "imgs", maxResults: sizes[pageIndex % sizes.count], nextToken: token)
                seen += page.items
                token = page.nextToken
                pageIndex += 1
            } while token != nil
            #expect(seen == all.items)
        }
    }
}
