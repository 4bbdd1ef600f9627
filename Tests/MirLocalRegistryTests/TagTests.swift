import Foundation
import Testing
@testable import MirLocalRegistry
import MirRegistry

@Suite struct TagTests {
    private func tags(_ n: Int, prefix: String = "k") -> [ResourceTag] {
        (0..<n).map { ResourceTag(key: "\(prefix)\($0)", value: "v\($0)") }
    }

    @Test func tagsAreStoredListedAndOverwritten() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        let repo = try await registry.createRepository(name: "tagged", tags: [ResourceTag(key: "owner", value: "mir"), ResourceTag(key: "env", value: "")])
        try await registry.tagResource(arn: repo.arn, tags: [ResourceTag(key: "owner", value: "team a"), ResourceTag(key: "cost-center", value: "+1 = x.y_z:/@")])
        let listed = try await registry.listTagsForResource(arn: repo.arn)
        #expect(listed == [ResourceTag(key: "owner", value: "team a"), ResourceTag(key: "env", value: ""),
                           ResourceTag(key: "cost-center", value: "+1 = x.y_z:/@")])
    }

    @Test func fiftyTagsAtMostIncludingExisting() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        let message = "The list of tags on the repository is over the limit. The maximum number of tags that can be applied to a repository is 50."
        await expectRegistryError(.tooManyTags, operation: "CreateRepository", message: message) {
            try await registry.createRepository(name: "many", tags: tags(51))
        }
        let repo = try await registry.createRepository(name: "many", tags: tags(40))
        await expectRegistryError(.tooManyTags, operation: "TagResource", message: message) {
            try await registry.tagResource(arn: repo.arn, tags: tags(11, prefix: "new"))
        }
        // Overwriting existing keys does not count twice.
        try await registry.tagResource(arn: repo.arn, tags: tags(40) + tags(10, prefix: "new"))
        #expect(try await registry.listTagsForResource(arn: repo.arn).count == 50)
    }

    @Test func keyAndValueLengths() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        let repo = try await registry.createRepository(name: "lengths", tags: [])
        try await registry.tagResource(arn: repo.arn, tags: [ResourceTag(key: String(repeating: "k", count: 128), value: String(repeating: "é", count: 256))])
        for bad in [ResourceTag(key: String(repeating: "k", count: 129), value: "v"),
                    ResourceTag(key: "", value: "v"),
                    ResourceTag(key: "k", value: String(repeating: "v", count: 257))] {
            await expectRegistryError(.invalidTagParameter, operation: "TagResource") {
                try await registry.tagResource(arn: repo.arn, tags: [bad])
            }
        }
    }

    @Test(arguments: ["aws:created-by", "AWS:x", "bad!key", "tab\tkey", "semi;colon", "dup"])
    func invalidKeysAreInvalidTagParameter(_ key: String) async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        let request = key == "dup" ? [ResourceTag(key: "dup", value: "1"), ResourceTag(key: "dup", value: "2")] : [ResourceTag(key: key, value: "v")]
        await expectRegistryError(.invalidTagParameter, operation: "CreateRepository") {
            try await registry.createRepository(name: "badtags", tags: request)
        }
        // Nothing was created.
        await expectRegistryError(.repositoryNotFound, operation: "DescribeRepositories") {
            try await registry.describeRepositories(names: ["badtags"], maxResults: nil, nextToken: nil)
        }
    }

    @Test func unicodeLettersAreAllowed() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        let repo = try await registry.createRepository(name: "unicode", tags: [ResourceTag(key: "équipe", value: "Zürich 2")])
        #expect(try await registry.listTagsForResource(arn: repo.arn) == [ResourceTag(key: "équipe", value: "Zürich 2")])
    }

    @Test func arnsMustNameAnExistingRepositoryOfThisRegistry() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        _ = try await registry.createRepository(name: "known", tags: [])
        for bad in ["not-an-arn", "arn:aws:s3:::bucket", "arn:aws:ecr:local:000000000000:repo/known", "arn:aws:ecr:local:000000000000:repository/"] {
            await expectRegistryError(.invalidParameter, operation: "ListTagsForResource",
                                      message: "Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'") {
                try await registry.listTagsForResource(arn: bad)
            }
        }
        await expectRegistryError(.repositoryNotFound, operation: "TagResource",
                                  message: "The repository with name 'unknown' does not exist in the registry with id '000000000000'") {
            try await registry.tagResource(arn: registry.arn(of: "unknown"), tags: [ResourceTag(key: "a", value: "b")])
        }
        // The right name in another account or region is not this registry's repository.
        await expectRegistryError(.repositoryNotFound, operation: "ListTagsForResource") {
            try await registry.listTagsForResource(arn: "arn:aws:ecr:local:111111111111:repository/known")
        }
        await expectRegistryError(.repositoryNotFound, operation: "ListTagsForResource") {
            try await registry.listTagsForResource(arn: "arn:aws:ecr:us-east-1:000000000000:repository/known")
        }
        #expect(try await registry.listTagsForResource(arn: registry.arn(of: "known")) == [])
    }
}

@Suite struct LifecyclePolicyStorageTests {
    @Test func putGetDelete() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        _ = try await registry.createRepository(name: "lc", tags: [])
        let notFound = "Lifecycle policy does not exist for the repository with name 'lc' in the registry with id '000000000000'"
        await expectRegistryError(.lifecyclePolicyNotFound, operation: "GetLifecyclePolicy", message: notFound) {
            try await registry.getLifecyclePolicy(repositoryName: "lc")
        }
        await expectRegistryError(.lifecyclePolicyNotFound, operation: "DeleteLifecyclePolicy", message: notFound) {
            try await registry.deleteLifecyclePolicy(repositoryName: "lc")
        }
        // Stored exactly as given, whitespace and key order included.
        let spaced = "{ \"rules\" : [ " + String(validPolicyText.dropFirst(10))
        try await registry.putLifecyclePolicy(repositoryName: "lc", policyText: spaced)
        #expect(try await registry.getLifecyclePolicy(repositoryName: "lc") == spaced)
        try await registry.putLifecyclePolicy(repositoryName: "lc", policyText: validPolicyText)
        #expect(try await registry.getLifecyclePolicy(repositoryName: "lc") == validPolicyText)
        try await registry.deleteLifecyclePolicy(repositoryName: "lc")
        await expectRegistryError(.lifecyclePolicyNotFound, operation: "GetLifecyclePolicy", message: notFound) {
            try await registry.getLifecyclePolicy(repositoryName: "lc")
        }
    }

    @Test func missingRepository() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        await expectRegistryError(.repositoryNotFound, operation: "PutLifecyclePolicy") {
            try await registry.putLifecyclePolicy(repositoryName: "none", policyText: validPolicyText)
        }
        await expectRegistryError(.repositoryNotFound, operation: "GetLifecyclePolicy") {
            try await registry.getLifecyclePolicy(repositoryName: "none")
        }
    }

    @Test func invalidPoliciesAreRefusedWithECRsWording() async throws {
        let dir = TemporaryDirectory()
        let registry = try dir.registry()
        _ = try await registry.createRepository(name: "lc", tags: [])
        let garbage = "{not json" + String(repeating: " ", count: 120)
        await expectRegistryError(.invalidParameter, operation: "PutLifecyclePolicy",
                                  message: "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: Could not map policyString into LifecyclePolicy.'") {
            try await registry.putLifecyclePolicy(repositoryName: "lc", policyText: garbage)
        }
        let zero = validPolicyText.replacingOccurrences(of: "\"countNumber\":7", with: "\"countNumber\":0")
        await expectRegistryError(.invalidParameter, operation: "PutLifecyclePolicy",
                                  message: "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: rules[0].selection.countNumber: numeric instance is lower than the required minimum (minimum: 1, found: 0)'") {
            try await registry.putLifecyclePolicy(repositoryName: "lc", policyText: zero)
        }
        let tooLong = validPolicyText + String(repeating: " ", count: 30_721 - validPolicyText.count)
        let error = await registryError { try await registry.putLifecyclePolicy(repositoryName: "lc", policyText: tooLong) }
        #expect(error?.code == .invalidParameter)
        #expect(error?.message.contains("30720") == true)
        let noCountUnit = validPolicyText.replacingOccurrences(of: "\"countUnit\":\"days\",", with: "")
        await expectRegistryError(.invalidParameter, operation: "PutLifecyclePolicy") {
            try await registry.putLifecyclePolicy(repositoryName: "lc", policyText: noCountUnit + String(repeating: " ", count: 40))
        }
        // Nothing was stored by the refused puts.
        await expectRegistryError(.lifecyclePolicyNotFound, operation: "GetLifecyclePolicy") {
            try await registry.getLifecyclePolicy(repositoryName: "lc")
        }
    }
}
