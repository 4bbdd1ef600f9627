import ECRFaultInjection
import Foundation
import Logging
import MirRegistry
import MirTestSupport
import Testing
@testable import MirECR

@Suite("ECRRegistry.make: the CLI's factory (default credential chain)")
struct MakeTests {
    @Test("bad configuration is a RegistryError naming the setting")
    func badConfiguration() async {
        do {
            let registry = try await ECRRegistry.make(region: nil, endpointURL: nil, profile: nil, environment: ["HOME": "/nonexistent"],
                                                      logger: Logger(label: "test"))
            try? await registry.shutdown()
            Issue.record("expected a configuration error")
        } catch let error as RegistryError {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains("region"))
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("web identity (IRSA) through the chain: calls work, and trace logs hold no web identity token, session token or Authorization value")
    func webIdentityAndLogs() async throws {
        try await MotoServer.with { moto in
            let proxy = try await FaultInjectingServer.start(upstream: moto.url)
            let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("wi-\(UUID().uuidString)")
            let webIdentityToken = "WEBIDENTITYTOKEN-must-not-leak-5e1d"
            try webIdentityToken.write(to: tokenFile, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: tokenFile) }
            let store = CapturingLogHandler.Store()
            let environment = ["AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": proxy.url.absoluteString,
                               "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/mir-controller", "AWS_ROLE_SESSION_NAME": "mir-test",
                               "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile.path, "HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"]
            let registry = try await ECRRegistry.make(region: nil, endpointURL: nil, profile: nil, environment: environment,
                                                      logger: CapturingLogHandler.logger(store))
            #expect(registry.displayName.contains(proxy.url.absoluteString))
            proxy.plan.add(FaultRule(.operation("DescribeRepositories"), times: 1, action: .respond(.throttling)))
            let repo = try await registry.createRepository(name: "mir/irsa", tags: [ResourceTag(key: "mir.dev/managed-by", value: "mir")])
            #expect(try await registry.allRepositories().map(\.name) == ["mir/irsa"])
            #expect(try await registry.listTagsForResource(arn: repo.arn).count == 1)
            _ = try? await registry.getLifecyclePolicy(repositoryName: "mir/irsa")
            try await registry.shutdown()
            await proxy.stop()

            let ecrRequests = proxy.requests.filter { $0.operation != nil }
            let sessionTokens = Set(ecrRequests.compactMap { $0.header("X-Amz-Security-Token") })
            #expect(sessionTokens.count == 1, "signed with the assumed role's session token")
            let log = store.text
            #expect(log.contains("ECR request detail"))
            #expect(!log.contains(webIdentityToken))
            for token in sessionTokens { #expect(!log.contains(token)) }
            for authorization in ecrRequests.compactMap({ $0.header("Authorization") }) {
                #expect(!log.contains(authorization))
            }
            #expect(!log.contains("Signature="))
        }
    }
}
