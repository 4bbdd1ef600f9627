import AWSSigV4
import Foundation
import Logging
import MirRegistry
import MirTestSupport
import Testing
@testable import MirECR

/// A second moto with IAM enforced, bootstrapped through `reset-auth` (moto-ecr-fidelity.md §3), signatures
/// verified by moto. moto matches ECR actions only against `Resource: "*"`, so the controller policy is loaded
/// from Manifests/iam and only its Resource entries are rewritten; the action list is the file's.
@Suite("ECRRegistry against moto with IAM enforced")
struct EnforcedIAMTests {
    /// Starts moto, creates the users (name → policy), enforces auth, runs `body`, stops moto.
    private func withEnforcedMoto(_ users: [String: String],
                                  _ body: (MotoServer, [String: IAMUserKeys]) async throws -> Void) async throws {
        try await MotoServer.with { moto in
            var all = users
            all["admin"] = MotoIAM.policy(allowing: ["ecr:*"])
            let keys = try MotoIAM.createUsers(on: moto, all)
            try await moto.resetAuth("0")
            try await body(moto, keys)
        }
    }

    private func registry(_ moto: MotoServer, _ keys: IAMUserKeys?, secret: String? = nil, token: String? = nil) -> ECRRegistry {
        let credentials = AWSCredentials(accessKeyId: keys?.accessKeyId ?? "AKIAUNKNOWNKEY000000",
                                         secretAccessKey: secret ?? keys?.secretAccessKey ?? "unknown", sessionToken: token, expiration: nil)
        let authorizer = SigV4RequestAuthorizer(region: "us-east-1", credentials: credentials)
        return Fixtures.registry(endpoint: moto.url, authorizer: authorizer, maxAttempts: 2)
    }

    private func denial(_ body: () async throws -> Void) async -> RegistryError? {
        do {
            try await body()
            return nil
        } catch let error as RegistryError {
            return error
        } catch {
            Issue.record("not a RegistryError: \(error)")
            return nil
        }
    }

    private static var controllerPolicyForMoto: String {
        get throws { try IAMPolicies.rewrittenForMoto(try IAMPolicies.load("controller-policy.json")) }
    }

    @Test("the documented controller policy allows every operation mir's controller uses, and not PutImage")
    func controllerPolicy() async throws {
        try await withEnforcedMoto(["controller": try Self.controllerPolicyForMoto]) { moto, keys in
            let registry = registry(moto, keys["controller"])
            let repo = try await registry.createRepository(name: "mir/ctl", tags: [ResourceTag(key: "mir.dev/managed-by", value: "mir")])
            #expect(try await registry.describeRepositories(names: ["mir/ctl"], maxResults: nil, nextToken: nil).items == [repo])
            #expect(try await registry.allRepositories().map(\.name) == ["mir/ctl"])
            try await registry.putLifecyclePolicy(repositoryName: "mir/ctl", policyText: Fixtures.lifecyclePolicy)
            #expect(try await registry.getLifecyclePolicy(repositoryName: "mir/ctl").contains("rulePriority"))
            try await registry.tagResource(arn: repo.arn, tags: [ResourceTag(key: "mir.dev/deletion-policy", value: "retain")])
            #expect(try await registry.listTagsForResource(arn: repo.arn).count == 2)
            #expect(try await registry.listImages(repositoryName: "mir/ctl", maxResults: nil, nextToken: nil).items.isEmpty)
            #expect(try await registry.describeImages(repositoryName: "mir/ctl", imageIds: nil, maxResults: nil, nextToken: nil).items.isEmpty)
            #expect(try await registry.getAuthorizationToken().username == "AWS")
            // Pushing is the builder's job: the controller may not.
            let push = await denial { _ = try await registry.putImage(repositoryName: "mir/ctl", manifest: Fixtures.manifest(seed: 1), tag: "v1") }
            #expect(push?.code == .accessDenied)
            #expect(push?.message == "not authorized to perform ecr:PutImage")
            _ = try await registry.deleteRepository(name: "mir/ctl", force: false)
        }
    }

    @Test("exactly the seed's list: the observing actions are denied as .accessDenied, the rest works")
    func seedOnly() async throws {
        let seedPolicy = MotoIAM.policy(allowing: IAMPolicies.seedControllerActions + ["ecr:GetAuthorizationToken"])
        try await withEnforcedMoto(["seed": seedPolicy]) { moto, keys in
            let registry = registry(moto, keys["seed"])
            let repo = try await registry.createRepository(name: "mir/seed", tags: [])
            try await registry.putLifecyclePolicy(repositoryName: "mir/seed", policyText: Fixtures.lifecyclePolicy)
            _ = try await registry.listImages(repositoryName: "mir/seed", maxResults: nil, nextToken: nil)
            _ = try await registry.describeImages(repositoryName: "mir/seed", imageIds: nil, maxResults: nil, nextToken: nil)
            _ = try await registry.getAuthorizationToken()
            let checks: [(String, () async throws -> Void)] = [
                ("DescribeRepositories", { _ = try await registry.describeRepositories(names: nil, maxResults: nil, nextToken: nil) }),
                ("GetLifecyclePolicy", { _ = try await registry.getLifecyclePolicy(repositoryName: "mir/seed") }),
                ("ListTagsForResource", { _ = try await registry.listTagsForResource(arn: repo.arn) }),
                ("TagResource", { try await registry.tagResource(arn: repo.arn, tags: [ResourceTag(key: "k", value: "v")]) }),
            ]
            for (operation, body) in checks {
                let error = await denial(body)
                #expect(error?.code == .accessDenied, "\(operation)")
                #expect(error?.operation == operation)
                #expect(error?.message == "not authorized to perform ecr:\(operation)")
            }
            _ = try await registry.deleteRepository(name: "mir/seed", force: false)
        }
    }

    @Test("a policy missing one action: AccessDenied naming it, and nothing half-done")
    func missingOneAction() async throws {
        let controller = try IAMPolicies.load("controller-policy.json")
        let allActions = IAMPolicies.actions(controller)
        var users: [String: String] = [:]
        for action in allActions {
            users["minus-" + action.dropFirst(4).lowercased()] = MotoIAM.policy(allowing: allActions.filter { $0 != action })
        }
        try await withEnforcedMoto(users) { moto, keys in
            let admin = registry(moto, keys["admin"])
            let existing = try await admin.createRepository(name: "mir/existing", tags: [ResourceTag(key: "mir.dev/managed-by", value: "mir")])
            for action in allActions {
                let operation = String(action.dropFirst(4))
                let user = registry(moto, keys["minus-" + operation.lowercased()])
                let attempt: () async throws -> Void
                switch operation {
                case "CreateRepository": attempt = { _ = try await user.createRepository(name: "mir/new", tags: []) }
                case "DeleteRepository": attempt = { _ = try await user.deleteRepository(name: "mir/existing", force: true) }
                case "DescribeImages": attempt = { _ = try await user.describeImages(repositoryName: "mir/existing", imageIds: nil, maxResults: nil, nextToken: nil) }
                case "PutLifecyclePolicy": attempt = { try await user.putLifecyclePolicy(repositoryName: "mir/existing", policyText: Fixtures.lifecyclePolicy) }
                case "ListImages": attempt = { _ = try await user.listImages(repositoryName: "mir/existing", maxResults: nil, nextToken: nil) }
                case "DescribeRepositories": attempt = { _ = try await user.describeRepositories(names: ["mir/existing"], maxResults: nil, nextToken: nil) }
                case "GetLifecyclePolicy": attempt = { _ = try await user.getLifecyclePolicy(repositoryName: "mir/existing") }
                case "ListTagsForResource": attempt = { _ = try await user.listTagsForResource(arn: existing.arn) }
                case "TagResource": attempt = { try await user.tagResource(arn: existing.arn, tags: [ResourceTag(key: "mir.dev/managed-by", value: "someone-else")]) }
                case "GetAuthorizationToken": attempt = { _ = try await user.getAuthorizationToken() }
                default: Issue.record("no probe for \(action)"); continue
                }
                let error = await denial(attempt)
                #expect(error?.code == .accessDenied, "\(action)")
                #expect(error?.description == "\(operation): AccessDeniedException: not authorized to perform \(action)")
            }
            // Nothing half-done: the denied writes left no trace.
            #expect(try await admin.allRepositories().map(\.name) == ["mir/existing"])
            #expect(try await admin.listTagsForResource(arn: existing.arn) == [ResourceTag(key: "mir.dev/managed-by", value: "mir")])
            let policy = await denial { _ = try await admin.getLifecyclePolicy(repositoryName: "mir/existing") }
            #expect(policy?.code == .lifecyclePolicyNotFound)
        }
    }

    @Test("a wrong secret is a clear signature error; an unknown key a clear credentials error; neither retried")
    func badCredentials() async throws {
        try await withEnforcedMoto(["controller": try Self.controllerPolicyForMoto]) { moto, keys in
            let wrongSecret = registry(moto, keys["controller"], secret: "not-the-secret")
            let signature = await denial { _ = try await wrongSecret.describeRepositories(names: nil, maxResults: nil, nextToken: nil) }
            #expect(signature?.code == .signatureDoesNotMatch)
            #expect(signature?.operation == "DescribeRepositories")
            #expect(signature?.message.contains("secret access key") == true)
            let unknown = await denial { _ = try await registry(moto, nil).createRepository(name: "mir/x", tags: []) }
            #expect(unknown?.code == .invalidClientTokenId)
            let withToken = await denial { _ = try await registry(moto, keys["controller"], token: "bogus-session-token").listImages(repositoryName: "mir/x", maxResults: nil, nextToken: nil) }
            #expect(withToken?.code == .invalidClientTokenId)
            // And the good key still works (nothing was created by the failed calls).
            let remaining = try await registry(moto, keys["controller"]).allRepositories()
            #expect(remaining.isEmpty)
        }
    }
}
