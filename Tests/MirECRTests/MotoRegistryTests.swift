import Foundation
import MirRegistry
import MirTestSupport
import Testing
@testable import MirECR

/// Every port operation against a real speaker: moto_server, started and stopped by the test.
@Suite("ECRRegistry against moto")
struct MotoRegistryTests {
    private func code(of body: () async throws -> Void) async -> RegistryError.Code? {
        do {
            try await body()
            return nil
        } catch let error as RegistryError {
            return error.code
        } catch {
            Issue.record("not a RegistryError: \(error)")
            return nil
        }
    }

    @Test("issue 8: CreateRepository sends imageTagMutability IMMUTABLE; an immutable tag cannot be moved")
    func immutableRepositories() async throws {
        try await MotoServer.with { moto in
            let registry = Fixtures.registry(endpoint: moto.url, authorizer: Fixtures.motoAuthorizer)
            let created = try await registry.createRepository(name: "mir/imm", tags: [], imageTagMutability: .immutable)
            #expect(created.imageTagMutability == .immutable)
            #expect(try await registry.describeRepositories(names: ["mir/imm"], maxResults: nil, nextToken: nil).items.first?.imageTagMutability == .immutable)
            let mutable = try await registry.createRepository(name: "mir/mut", tags: [])
            #expect(mutable.imageTagMutability == .mutable)
            _ = try await registry.putImage(repositoryName: "mir/imm", manifest: Fixtures.manifest(seed: 1), tag: "v1")
            // moto answers ImageAlreadyExistsException where ECR answers ImageTagAlreadyExistsException (moto-ecr-fidelity.md).
            let moved = await code { _ = try await registry.putImage(repositoryName: "mir/imm", manifest: Fixtures.manifest(seed: 2), tag: "v1") }
            #expect(moved == .imageAlreadyExists || moved == .imageTagAlreadyExists)
        }
    }

    @Test("repositories: create with tags, describe, list tags, tag, duplicate, not found, delete")
    func repositories() async throws {
        try await MotoServer.with { moto in
            let registry = Fixtures.registry(endpoint: moto.url, authorizer: Fixtures.motoAuthorizer)
            let before = Date()
            let created = try await registry.createRepository(name: "mir/app", tags: [ResourceTag(key: "mir.dev/managed-by", value: "mir")])
            #expect(created.name == "mir/app")
            #expect(created.arn == "arn:aws:ecr:us-east-1:123456789012:repository/mir/app")
            #expect(created.uri == "123456789012.dkr.ecr.us-east-1.amazonaws.com/mir/app")
            #expect(created.registryId == "123456789012")
            #expect(abs(created.createdAt.timeIntervalSince(before)) < 60)

            let described = try await registry.describeRepositories(names: ["mir/app"], maxResults: nil, nextToken: nil)
            #expect(described.items == [created])
            #expect(described.nextToken == nil)
            #expect(await code { _ = try await registry.createRepository(name: "mir/app", tags: []) } == .repositoryAlreadyExists)
            #expect(await code { _ = try await registry.describeRepositories(names: ["mir/app", "mir/nope"], maxResults: nil, nextToken: nil) } == .repositoryNotFound)
            #expect(await code { _ = try await registry.createRepository(name: "Bad_Name!", tags: []) } == .invalidParameter)

            #expect(try await registry.listTagsForResource(arn: created.arn) == [ResourceTag(key: "mir.dev/managed-by", value: "mir")])
            try await registry.tagResource(arn: created.arn, tags: [ResourceTag(key: "mir.dev/managed-by", value: "other"), ResourceTag(key: "x", value: "y")])
            let tags = try await registry.listTagsForResource(arn: created.arn)
            #expect(Set(tags) == [ResourceTag(key: "mir.dev/managed-by", value: "other"), ResourceTag(key: "x", value: "y")])

            _ = try await registry.createRepository(name: "mir/second", tags: [])
            let all = try await registry.allRepositories()
            #expect(Set(all.map(\.name)) == ["mir/app", "mir/second"])

            let deleted = try await registry.deleteRepository(name: "mir/second", force: false)
            #expect(deleted.name == "mir/second")
            #expect(await code { _ = try await registry.deleteRepository(name: "mir/second", force: false) } == .repositoryNotFound)
        }
    }

    @Test("lifecycle policies: not found, put, get, delete, invalid")
    func lifecycle() async throws {
        try await MotoServer.with { moto in
            let registry = Fixtures.registry(endpoint: moto.url, authorizer: Fixtures.motoAuthorizer)
            _ = try await registry.createRepository(name: "mir/lc", tags: [])
            #expect(await code { _ = try await registry.getLifecyclePolicy(repositoryName: "mir/lc") } == .lifecyclePolicyNotFound)
            try await registry.putLifecyclePolicy(repositoryName: "mir/lc", policyText: Fixtures.lifecyclePolicy)
            let text = try await registry.getLifecyclePolicy(repositoryName: "mir/lc")
            let stored = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary
            let sent = try JSONSerialization.jsonObject(with: Data(Fixtures.lifecyclePolicy.utf8)) as? NSDictionary
            #expect(stored == sent)
            try await registry.deleteLifecyclePolicy(repositoryName: "mir/lc")
            #expect(await code { try await registry.deleteLifecyclePolicy(repositoryName: "mir/lc") } == .lifecyclePolicyNotFound)
            let invalid = #"{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":0},"action":{"type":"expire"}}],"pad":"xxxxxxxxxx"}"#
            #expect(await code { try await registry.putLifecyclePolicy(repositoryName: "mir/lc", policyText: invalid) } == .invalidParameter)
            #expect(await code { try await registry.putLifecyclePolicy(repositoryName: "mir/none", policyText: Fixtures.lifecyclePolicy) } == .repositoryNotFound)
        }
    }

    @Test("images: put, list, describe (all and by tag), not found, delete needs force")
    func images() async throws {
        try await MotoServer.with { moto in
            let registry = Fixtures.registry(endpoint: moto.url, authorizer: Fixtures.motoAuthorizer)
            _ = try await registry.createRepository(name: "mir/img", tags: [])
            let first = try await registry.putImage(repositoryName: "mir/img", manifest: Fixtures.manifest(seed: 1), tag: "v1")
            let second = try await registry.putImage(repositoryName: "mir/img", manifest: Fixtures.manifest(seed: 2), tag: "v2")
            #expect(first.tag == "v1")
            #expect(first.digest?.hasPrefix("sha256:") == true)
            #expect(first.digest != second.digest)
            #expect(await code { _ = try await registry.putImage(repositoryName: "mir/img", manifest: Fixtures.manifest(seed: 1), tag: "v1") } == .imageAlreadyExists)

            let ids = try await registry.listImages(repositoryName: "mir/img", maxResults: nil, nextToken: nil)
            #expect(Set(ids.items) == [first, second])
            let details = try await registry.describeImages(repositoryName: "mir/img", imageIds: nil, maxResults: nil, nextToken: nil)
            #expect(Set(details.items.flatMap(\.tags)) == ["v1", "v2"])
            #expect(details.items.allSatisfy { $0.pushedAt != nil && $0.sizeInBytes != nil })
            let byTag = try await registry.describeImages(repositoryName: "mir/img", imageIds: [ImageIdentifier(tag: "v2")], maxResults: nil, nextToken: nil)
            #expect(byTag.items.map(\.digest) == [second.digest])
            #expect(await code { _ = try await registry.describeImages(repositoryName: "mir/img", imageIds: [ImageIdentifier(tag: "nope")], maxResults: nil, nextToken: nil) } == .imageNotFound)
            #expect(await code { _ = try await registry.listImages(repositoryName: "mir/none", maxResults: nil, nextToken: nil) } == .repositoryNotFound)

            #expect(await code { _ = try await registry.deleteRepository(name: "mir/img", force: false) } == .repositoryNotEmpty)
            _ = try await registry.deleteRepository(name: "mir/img", force: true)
            #expect(try await registry.allRepositories().isEmpty)
        }
    }

    @Test("GetAuthorizationToken decodes user and password")
    func authorizationToken() async throws {
        try await MotoServer.with { moto in
            let registry = Fixtures.registry(endpoint: moto.url, authorizer: Fixtures.motoAuthorizer)
            let token = try await registry.getAuthorizationToken()
            #expect(token.username == "AWS")
            #expect(!token.password.isEmpty)
            #expect(token.proxyEndpoint?.contains("dkr.ecr.us-east-1") == true)
            #expect(token.expiresAt != nil)
        }
    }

    @Test("the harness: free port, reset, stop by PID")
    func harness() async throws {
        let moto = try await MotoServer.start()
        #expect(moto.isRunning)
        let registry = Fixtures.registry(endpoint: moto.url, authorizer: Fixtures.motoAuthorizer)
        _ = try await registry.createRepository(name: "mir/gone", tags: [])
        try await moto.reset()
        #expect(try await registry.allRepositories().isEmpty)
        await moto.stop()
        #expect(!moto.isRunning)
        #expect(kill(moto.pid, 0) != 0)
    }
}
