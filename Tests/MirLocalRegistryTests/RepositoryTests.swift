import Foundation
import Testing
@testable import MirLocalRegistry
import MirRegistry

@Suite struct RepositoryTests {
    @Test func createDescribesTheRepositoryLikeECR() async throws {
        let dir = TemporaryDirectory()
        let registry = try LocalRegistry(directory: dir.path, accountId: "123456789012", region: "eu-west-1")
        let before = Date()
        let repo = try await registry.createRepository(name: "mir/app", tags: [])
        #expect(repo.name == "mir/app")
        #expect(repo.arn == "arn:aws:ecr:eu-west-1:123456789012:repository/mir/app")
        #expect(repo.uri == "123456789012.dkr.ecr.eu-west-1.localhost/mir/app")
        #expect(repo.registryId == "123456789012")
        #expect(repo.createdAt >= before.addingTimeInterval(-1) && repo.createdAt <= Date())
        let described = try await registry.describeRepositories(names: ["mir/app"], maxResults: nil, nextToken: nil)
        #expect(described.items == [repo])
        #expect(described.nextToken == nil)
        #expect(registry.displayName == "local:\(dir.path)")
    }

    @Test func createsTheDirectoryWhenMissing() async throws {
        let dir = TemporaryDirectory()
        let registry = try LocalRegistry(directory: dir.path + "/nested/registry")
        _ = try await registry.createRepository(name: "ab", tags: [])
        #expect(FileManager.default.fileExists(atPath: dir.path + "/nested/registry/lock"))
    }

    @Test func duplicateCreateIsRepositoryAlreadyExists() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        _ = try await registry.createRepository(name: "dup", tags: [])
        await expectRegistryError(.repositoryAlreadyExists, operation: "CreateRepository",
                                  message: "The repository with name 'dup' already exists in the registry with id '000000000000'") {
            try await registry.createRepository(name: "dup", tags: [])
        }
    }

    @Test(arguments: ["ab", "a__b", "a--b", "a---b", "a.b", "a_b", "team/app", "0abc", "a/b/c-d.e_f",
                      String(repeating: "a", count: 256), String(repeating: "ab/", count: 85) + "a"])
    func validNamesAreAccepted(_ name: String) async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        let repo = try await registry.createRepository(name: name, tags: [])
        #expect(repo.name == name)
    }

    @Test(arguments: ["A", "Ab", "a..b", "a._b", "a___b", "-ab", "ab-", "a/", "/ab", "a//b", "a b", "ab!", "a_-b", "ab/.c", "ä"])
    func namesBreakingTheECRPatternAreRefused(_ name: String) async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        let expected = name.unicodeScalars.count < 2
            ? "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'Member must have length greater than or equal to 2'"
            : "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '\(ECRRules.modelRepositoryNamePattern)''"
        await expectRegistryError(.invalidParameter, operation: "CreateRepository", message: expected) {
            try await registry.createRepository(name: name, tags: [])
        }
    }

    @Test func nameLengthLimits() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        await expectRegistryError(.invalidParameter, operation: "CreateRepository",
                                  message: "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'Member must have length greater than or equal to 2'") {
            try await registry.createRepository(name: "a", tags: [])
        }
        await expectRegistryError(.invalidParameter, operation: "CreateRepository",
                                  message: "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'Member must have length less than or equal to 256'") {
            try await registry.createRepository(name: String(repeating: "a", count: 257), tags: [])
        }
        await expectRegistryError(.invalidParameter, operation: "DeleteRepository") {
            try await registry.deleteRepository(name: "Bad", force: false)
        }
    }

    @Test func deleteRepositoryNotFoundNotEmptyAndForce() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        await expectRegistryError(.repositoryNotFound, operation: "DeleteRepository",
                                  message: "The repository with name 'nope' does not exist in the registry with id '000000000000'") {
            try await registry.deleteRepository(name: "nope", force: false)
        }
        let created = try await registry.createRepository(name: "full", tags: [])
        _ = try await registry.putImage(repositoryName: "full", manifest: manifest(1), tag: "v1")
        await expectRegistryError(.repositoryNotEmpty, operation: "DeleteRepository",
                                  message: "The repository with name 'full' in registry with id '000000000000' cannot be deleted because it still contains images") {
            try await registry.deleteRepository(name: "full", force: false)
        }
        let deleted = try await registry.deleteRepository(name: "full", force: true)
        #expect(deleted == created)
        await expectRegistryError(.repositoryNotFound, operation: "DescribeRepositories") {
            try await registry.describeRepositories(names: ["full"], maxResults: nil, nextToken: nil)
        }
        // An empty repository needs no force; the name can be created again afterwards.
        _ = try await registry.createRepository(name: "empty", tags: [])
        _ = try await registry.deleteRepository(name: "empty", force: false)
        _ = try await registry.createRepository(name: "empty", tags: [])
    }

    @Test func repositoryQuotaIsLimitExceeded() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry(repositoryQuota: 3)
        for i in 0..<3 { _ = try await registry.createRepository(name: "r\(i)", tags: []) }
        await expectRegistryError(.limitExceeded, operation: "CreateRepository") {
            try await registry.createRepository(name: "r3", tags: [])
        }
        _ = try await registry.deleteRepository(name: "r0", force: false)
        _ = try await registry.createRepository(name: "r3", tags: [])
    }

    @Test func describeByNamesRefusesMissingNamesWithoutPartialResult() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        _ = try await registry.createRepository(name: "here", tags: [])
        await expectRegistryError(.repositoryNotFound, operation: "DescribeRepositories",
                                  message: "The repository with name 'gone' does not exist in the registry with id '000000000000'") {
            try await registry.describeRepositories(names: ["here", "gone"], maxResults: nil, nextToken: nil)
        }
        let page = try await registry.describeRepositories(names: ["here", "here"], maxResults: nil, nextToken: nil)
        #expect(page.items.map(\.name) == ["here"])
    }

    @Test func describeByNamesLimitsAndNoPaging() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        _ = try await registry.createRepository(name: "here", tags: [])
        await expectRegistryError(.invalidParameter, operation: "DescribeRepositories") {
            try await registry.describeRepositories(names: [], maxResults: nil, nextToken: nil)
        }
        await expectRegistryError(.invalidParameter, operation: "DescribeRepositories",
                                  message: "Invalid parameter at 'repositoryNames' failed to satisfy constraint: 'Member must have length less than or equal to 100'") {
            try await registry.describeRepositories(names: (0...100).map { "r\($0)" }, maxResults: nil, nextToken: nil)
        }
        await expectRegistryError(.invalidParameter, operation: "DescribeRepositories") {
            try await registry.describeRepositories(names: ["here"], maxResults: 10, nextToken: nil)
        }
        let first = try await registry.describeRepositories(names: nil, maxResults: 1, nextToken: nil)
        #expect(first.items.count == 1 && first.nextToken == nil)
        _ = try await registry.createRepository(name: "there", tags: [])
        let again = try await registry.describeRepositories(names: nil, maxResults: 1, nextToken: nil)
        let token = try #require(again.nextToken)
        await expectRegistryError(.invalidParameter, operation: "DescribeRepositories") {
            try await registry.describeRepositories(names: ["here"], maxResults: nil, nextToken: token)
        }
    }
}
