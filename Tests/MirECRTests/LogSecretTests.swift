import AWSSigV4
import ECRFaultInjection
import Foundation
import Logging
import MirRegistry
import MirTestSupport
import Testing
@testable import MirECR

@Suite("Logs never contain secrets")
struct LogSecretTests {
    static let secret = "SECRETKEY-must-not-leak-7f3a9c"
    static let token = "SESSIONTOKEN-must-not-leak-91bc42"

    @Test("trace-level logs of every operation, retries and failures carry no secret key, session token or Authorization value")
    func grepLogs() async throws {
        try await MotoServer.with { moto in
            let proxy = try await FaultInjectingServer.start(upstream: moto.url)
            let store = CapturingLogHandler.Store()
            let logger = CapturingLogHandler.logger(store)
            let credentials = AWSCredentials(accessKeyId: "AKIDLOGTEST000000001", secretAccessKey: Self.secret,
                                             sessionToken: Self.token, expiration: nil)
            let registry = Fixtures.registry(endpoint: proxy.url, authorizer: SigV4RequestAuthorizer(region: "us-east-1", credentials: credentials),
                                             logger: logger)
            // Exercise the retry, give-up and error paths too.
            proxy.plan.add(FaultRule(.operation("CreateRepository"), times: 1, action: .respond(.throttling)))
            proxy.plan.add(FaultRule(.operation("ListImages"), times: 1, action: .resetConnection))
            proxy.plan.add(FaultRule(.operation("DeleteRepository"), times: 1, action: .respond(.xmlError("AccessDenied", message: "User: x is not authorized to perform: ecr:DeleteRepository"))))
            let repo = try await registry.createRepository(name: "mir/logs", tags: [ResourceTag(key: "a", value: "b")])
            _ = try await registry.describeRepositories(names: ["mir/logs"], maxResults: nil, nextToken: nil)
            try await registry.putLifecyclePolicy(repositoryName: "mir/logs", policyText: Fixtures.lifecyclePolicy)
            _ = try await registry.getLifecyclePolicy(repositoryName: "mir/logs")
            _ = try await registry.putImage(repositoryName: "mir/logs", manifest: Fixtures.manifest(seed: 9), tag: "v1")
            _ = try await registry.listImages(repositoryName: "mir/logs", maxResults: nil, nextToken: nil)
            _ = try await registry.describeImages(repositoryName: "mir/logs", imageIds: nil, maxResults: nil, nextToken: nil)
            try await registry.tagResource(arn: repo.arn, tags: [ResourceTag(key: "c", value: "d")])
            _ = try await registry.listTagsForResource(arn: repo.arn)
            _ = try? await registry.deleteRepository(name: "mir/logs", force: true)
            _ = try await registry.getAuthorizationToken()
            _ = try? await registry.getLifecyclePolicy(repositoryName: "mir/none")
            await proxy.stop()

            let log = store.text
            // The logs are really there at the most verbose level (headers and bodies included)…
            #expect(log.contains("ECR request detail"))
            #expect(log.contains("X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.CreateRepository"))
            #expect(log.contains("ECR retry"))
            #expect(log.contains("<redacted>"))
            // …and hold none of the secrets the requests carried.
            let authorizations = proxy.requests.compactMap { $0.header("Authorization") }
            let sentTokens = proxy.requests.compactMap { $0.header("X-Amz-Security-Token") }
            #expect(authorizations.count == proxy.requests.count)
            #expect(sentTokens.allSatisfy { $0 == Self.token })
            #expect(!log.contains(Self.secret))
            #expect(!log.contains(Self.token))
            for authorization in authorizations {
                #expect(!log.contains(authorization))
                let signature = try #require(authorization.components(separatedBy: "Signature=").last)
                #expect(!log.contains(signature))
            }
            #expect(!log.contains("Signature="))
        }
    }
}
