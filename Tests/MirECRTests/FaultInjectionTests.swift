import ECRFaultInjection
import Foundation
import MirRegistry
import MirTestSupport
import Testing
@testable import MirECR

/// What moto lacks, injected per request by the fault-injecting server (moto behind it as the real speaker).
@Suite("Fault injection: paging, throttling, 5xx, resets, latency, JSON auth errors, limits")
struct FaultInjectionTests {
    /// Runs `body` with moto behind a fault-injecting server; stops both.
    private func withProxy<T: Sendable>(_ body: (FaultInjectingServer, MotoServer) async throws -> T) async throws -> T {
        try await MotoServer.with { moto in
            let proxy = try await FaultInjectingServer.start(upstream: moto.url)
            do {
                let result = try await body(proxy, moto)
                await proxy.stop()
                return result
            } catch {
                await proxy.stop()
                throw error
            }
        }
    }

    private func expectRegistryError(_ code: RegistryError.Code, _ body: () async throws -> Void,
                                     sourceLocation: SourceLocation = #_sourceLocation) async -> RegistryError? {
        do {
            try await body()
            Issue.record("expected \(code)", sourceLocation: sourceLocation)
            return nil
        } catch let error as RegistryError {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    @Test("pagination: pages of maxResults with an opaque nextToken, followed to the end; bad tokens rejected")
    func paging() async throws {
        try await withProxy { proxy, _ in
            proxy.plan.add(.ecrPagination())
            let registry = Fixtures.registry(endpoint: proxy.url)
            for index in 0..<25 { _ = try await registry.createRepository(name: "mir/page-\(index)", tags: []) }
            let first = try await registry.describeRepositories(names: nil, maxResults: 10, nextToken: nil)
            #expect(first.items.count == 10)
            #expect(first.nextToken != nil)
            proxy.clearLog()
            let all = try await registry.allRepositories(pageSize: 10)
            #expect(all.count == 25)
            #expect(Set(all.map(\.name)).count == 25)
            #expect(proxy.requests(for: "DescribeRepositories").count == 3)
            _ = await expectRegistryError(.invalidParameter) {
                _ = try await registry.describeRepositories(names: nil, maxResults: 10, nextToken: "garbage")
            }
            _ = await expectRegistryError(.invalidParameter) {
                _ = try await registry.describeRepositories(names: nil, maxResults: 0, nextToken: nil)
            }
            for seed in 0..<5 { _ = try await registry.putImage(repositoryName: "mir/page-0", manifest: Fixtures.manifest(seed: seed), tag: "v\(seed)") }
            let ids = try await registry.allImageIds(repositoryName: "mir/page-0", pageSize: 2)
            #expect(Set(ids.compactMap(\.tag)) == ["v0", "v1", "v2", "v3", "v4"])
            let details = try await registry.allImageDetails(repositoryName: "mir/page-0", pageSize: 3)
            #expect(details.count == 5)
            #expect(proxy.requests(for: "DescribeImages").count == 2)
            try await registry.shutdown()
        }
    }

    @Test("a service that repeats its nextToken does not loop for ever")
    func repeatingToken() async throws {
        let fake = try await FaultInjectingServer.start(fallback: { _ in .json(["repositories": [], "nextToken": "same"]) })
        let registry = Fixtures.registry(endpoint: fake.url)
        _ = await expectRegistryError(.init("PaginationLoop")) { _ = try await registry.allRepositories() }
        #expect(fake.requests.count == 2)
        try await registry.shutdown()
        await fake.stop()
    }

    @Test("ThrottlingException is retried; persistent throttling surfaces as ThrottlingException after max attempts")
    func throttling() async throws {
        try await withProxy { proxy, _ in
            let registry = Fixtures.registry(endpoint: proxy.url)
            proxy.plan.add(FaultRule(.operation("DescribeRepositories"), times: 2, action: .respond(.throttling)))
            let page = try await registry.describeRepositories(names: nil, maxResults: nil, nextToken: nil)
            #expect(page.items.isEmpty)
            #expect(proxy.requests(for: "DescribeRepositories").count == 3)
            proxy.plan.add(FaultRule(.operation("ListImages"), action: .respond(.throttling)))
            _ = try await registry.createRepository(name: "mir/t", tags: [])
            let error = await expectRegistryError(.throttling) { _ = try await registry.listImages(repositoryName: "mir/t", maxResults: nil, nextToken: nil) }
            #expect(error?.operation == "ListImages")
            #expect(proxy.requests(for: "ListImages").count == 3)
            try await registry.shutdown()
        }
    }

    @Test("5xx (JSON or HTML) is retried; LimitExceededException is not")
    func serverErrorsAndLimits() async throws {
        try await withProxy { proxy, _ in
            let registry = Fixtures.registry(endpoint: proxy.url)
            proxy.plan.add(FaultRule(.operation("CreateRepository"), times: 1, action: .respond(.serverError(status: 503))))
            proxy.plan.add(FaultRule(.operation("CreateRepository"), times: 1, action: .respond(.htmlError(status: 502))))
            let created = try await registry.createRepository(name: "mir/five", tags: [])
            #expect(created.name == "mir/five")
            #expect(proxy.requests(for: "CreateRepository").count == 3)
            proxy.plan.add(FaultRule(.operation("GetLifecyclePolicy"), action: .respond(.htmlError(status: 500))))
            _ = await expectRegistryError(.server) { _ = try await registry.getLifecyclePolicy(repositoryName: "mir/five") }
            #expect(proxy.requests(for: "GetLifecyclePolicy").count == 3)

            proxy.plan.removeAll()
            proxy.plan.add(.repositoryQuota(2))
            proxy.clearLog()
            _ = try await registry.createRepository(name: "mir/q1", tags: [])
            _ = try await registry.createRepository(name: "mir/q2", tags: [])
            _ = await expectRegistryError(.limitExceeded) { _ = try await registry.createRepository(name: "mir/q3", tags: []) }
            #expect(proxy.requests(for: "CreateRepository").count == 3)
            proxy.plan.removeAll()
            proxy.plan.add(.tagLimit())
            let tags = (0..<51).map { ResourceTag(key: "k\($0)", value: "v") }
            _ = await expectRegistryError(.tooManyTags) { _ = try await registry.createRepository(name: "mir/tags", tags: tags) }
            try await registry.shutdown()
        }
    }

    @Test("a connection reset is retried and the call succeeds")
    func resets() async throws {
        try await withProxy { proxy, _ in
            let registry = Fixtures.registry(endpoint: proxy.url)
            proxy.plan.add(FaultRule(.operation("CreateRepository"), times: 2, action: .resetConnection))
            _ = try await registry.createRepository(name: "mir/reset", tags: [ResourceTag(key: "a", value: "b")])
            #expect(proxy.requests(for: "CreateRepository").count == 3)
            let described = try await registry.describeRepositories(names: ["mir/reset"], maxResults: nil, nextToken: nil)
            #expect(described.items.map(\.name) == ["mir/reset"])
            // The answer is lost after moto created the repository: the retry meets RepositoryAlreadyExists. That may
            // be the earlier attempt's success or someone else's repository created in between, so it is reported as
            // AlreadyExists (saying so) for the caller to read the repository's tags (issue 8, problem 4).
            proxy.plan.add(FaultRule(.operation("CreateRepository"), times: 1, action: .custom { request, forward in
                _ = try await forward(request)
                return .htmlError(status: 502)
            }))
            let lost = await expectRegistryError(.repositoryAlreadyExists) { _ = try await registry.createRepository(name: "mir/lost-answer", tags: []) }
            #expect(lost?.message.contains("an earlier attempt of this call may have created it") == true)
            #expect(proxy.requests(for: "CreateRepository").count == 5)
            #expect(try await registry.describeRepositories(names: ["mir/lost-answer"], maxResults: nil, nextToken: nil).items.count == 1)
            proxy.plan.add(FaultRule(.operation("ListImages"), action: .resetConnection))
            _ = await expectRegistryError(.connectionFailed) { _ = try await registry.listImages(repositoryName: "mir/reset", maxResults: nil, nextToken: nil) }
            try await registry.shutdown()
        }
    }

    @Test("latency is tolerated; an answer that never comes times out and is retried")
    func latencyAndTimeouts() async throws {
        try await withProxy { proxy, _ in
            // A 3 s request timeout: well above the injected 400 ms latency even on a loaded machine, well below the 10 s hang.
            let registry = Fixtures.registry(endpoint: proxy.url, requestTimeout: 3)
            proxy.plan.add(FaultRule(.operation("DescribeRepositories"), times: 1, delay: .milliseconds(400), action: .forward))
            let start = ContinuousClock.now
            _ = try await registry.describeRepositories(names: nil, maxResults: nil, nextToken: nil)
            #expect(ContinuousClock.now - start >= .milliseconds(400))
            #expect(proxy.requests(for: "DescribeRepositories").count == 1)

            proxy.plan.add(FaultRule(.operation("DescribeRepositories"), times: 1, action: .hang(.seconds(10))))
            _ = try await registry.describeRepositories(names: nil, maxResults: nil, nextToken: nil)
            #expect(proxy.requests(for: "DescribeRepositories").count == 3)

            proxy.plan.add(FaultRule(.operation("ListImages"), action: .hang(.seconds(10))))
            _ = try await registry.createRepository(name: "mir/slow", tags: [])
            _ = await expectRegistryError(.requestTimeout) { _ = try await registry.listImages(repositoryName: "mir/slow", maxResults: nil, nextToken: nil) }
            try await registry.shutdown()
        }
    }

    @Test("real ECR's JSON auth errors: AccessDeniedException names the action; credential errors are clear; none retried")
    func jsonAuthErrors() async throws {
        let fake = try await FaultInjectingServer.start()
        let registry = Fixtures.registry(endpoint: fake.url)
        fake.plan.add(FaultRule(.operation("DeleteRepository"), action: .respond(.ecrError(
            "AccessDeniedException", message: "User: arn:aws:sts::123456789012:assumed-role/mir/s is not authorized to perform: ecr:DeleteRepository on resource: arn:aws:ecr:us-east-1:123456789012:repository/mir/x because no identity-based policy allows the ecr:DeleteRepository action",
            typePrefix: "com.amazonaws.ecr#"))))
        let denied = await expectRegistryError(.accessDenied) { _ = try await registry.deleteRepository(name: "mir/x", force: false) }
        #expect(denied?.description == "DeleteRepository: AccessDeniedException: not authorized to perform ecr:DeleteRepository")
        fake.plan.add(FaultRule(.operation("ListImages"), action: .respond(.ecrError("UnrecognizedClientException", message: "The security token included in the request is invalid."))))
        _ = await expectRegistryError(.unrecognizedClient) { _ = try await registry.listImages(repositoryName: "mir/x", maxResults: nil, nextToken: nil) }
        fake.plan.add(FaultRule(.operation("DescribeImages"), action: .respond(.ecrError("InvalidSignatureException", message: "Signature expired", status: 403))))
        _ = await expectRegistryError(.invalidSignature) { _ = try await registry.describeImages(repositoryName: "mir/x", imageIds: nil, maxResults: nil, nextToken: nil) }
        fake.plan.add(FaultRule(.operation("GetLifecyclePolicy"), action: .respond(.ecrError("ExpiredTokenException", message: "The security token included in the request is expired"))))
        _ = await expectRegistryError(.expiredToken) { _ = try await registry.getLifecyclePolicy(repositoryName: "mir/x") }
        #expect(fake.requests.count == 4)
        try await registry.shutdown()
        await fake.stop()
    }

    @Test("create-then-describe race: a repository just created may be missing for a moment")
    func eventualConsistency() async throws {
        try await withProxy { proxy, _ in
            let registry = Fixtures.registry(endpoint: proxy.url)
            let notFound = InjectedResponse.ecrError("RepositoryNotFoundException", message: "The repository with name 'mir/new' does not exist in the registry with id '123456789012'")
            proxy.plan.add(FaultRule(.operation("DescribeRepositories"), times: 2, action: .respond(notFound)))
            proxy.plan.add(FaultRule(.operation("PutLifecyclePolicy"), times: 1, action: .respond(notFound)))
            _ = try await registry.createRepository(name: "mir/new", tags: [])
            let page = try await registry.describeRepositories(names: ["mir/new"], maxResults: nil, nextToken: nil)
            #expect(page.items.map(\.name) == ["mir/new"])
            #expect(proxy.requests(for: "DescribeRepositories").count == 3)
            try await registry.putLifecyclePolicy(repositoryName: "mir/new", policyText: Fixtures.lifecyclePolicy)
            // A repository this client did not just create: NotFound is believed at once.
            proxy.plan.add(FaultRule(.operation("DescribeRepositories"), times: 1, action: .respond(notFound)))
            proxy.clearLog()
            _ = await expectRegistryError(.repositoryNotFound) { _ = try await registry.describeRepositories(names: ["mir/other"], maxResults: nil, nextToken: nil) }
            #expect(proxy.requests(for: "DescribeRepositories").count == 1)
            try await registry.shutdown()
        }
    }
}
