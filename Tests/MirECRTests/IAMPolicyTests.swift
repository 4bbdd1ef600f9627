import Foundation
import MirTestSupport
import Testing

/// The policy files in Manifests/iam, read from the package.
enum IAMPolicies {
    static let seedControllerActions = ["ecr:CreateRepository", "ecr:DeleteRepository", "ecr:DescribeImages",
                                        "ecr:PutLifecyclePolicy", "ecr:ListImages"]
    static let observingActions = ["ecr:DescribeRepositories", "ecr:GetLifecyclePolicy", "ecr:ListTagsForResource", "ecr:TagResource"]
    static let seedBuilderActions = ["ecr:BatchGetImage", "ecr:BatchCheckLayerAvailability", "ecr:CompleteLayerUpload",
                                     "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"]
    static let prefixResource = "arn:aws:ecr:*:*:repository/mir/*"

    static func load(_ name: String) throws -> [String: Any] {
        let url = MotoServer.packageRoot.appendingPathComponent("Manifests/iam/\(name)")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        return try #require(object as? [String: Any])
    }

    static func statements(_ policy: [String: Any]) -> [[String: Any]] {
        policy["Statement"] as? [[String: Any]] ?? []
    }

    static func strings(_ value: Any?) -> [String] {
        if let one = value as? String { return [one] }
        return value as? [String] ?? []
    }

    /// All allowed actions of a policy.
    static func actions(_ policy: [String: Any]) -> [String] {
        statements(policy).flatMap { strings($0["Action"]) }
    }

    /// moto matches ECR actions only against `Resource: "*"` (moto-ecr-fidelity.md §3d): the same policy with
    /// only its Resource entries rewritten, the actions untouched.
    static func rewrittenForMoto(_ policy: [String: Any]) throws -> String {
        var copy = policy
        copy["Statement"] = statements(policy).map { statement -> [String: Any] in
            var statement = statement
            statement["Resource"] = "*"
            return statement
        }
        return String(decoding: try JSONSerialization.data(withJSONObject: copy, options: [.sortedKeys]), as: UTF8.self)
    }
}

@Suite("IAM policies are least privilege (static)")
struct IAMPolicyStaticTests {
    @Test("controller: the seed's actions plus the four observing ones, nothing else")
    func controllerActions() throws {
        let policy = try IAMPolicies.load("controller-policy.json")
        #expect(policy["Version"] as? String == "2012-10-17")
        let actions = IAMPolicies.actions(policy)
        #expect(actions.count == Set(actions).count, "no duplicates")
        #expect(Set(actions) == Set(IAMPolicies.seedControllerActions + IAMPolicies.observingActions + ["ecr:GetAuthorizationToken"]))
        #expect(!actions.contains { $0.contains("*") }, "no wildcard actions")
    }

    @Test("builder: the seed's seven push/pull actions plus GetAuthorizationToken")
    func builderActions() throws {
        let actions = IAMPolicies.actions(try IAMPolicies.load("builder-policy.json"))
        #expect(actions.count == 8)
        #expect(Set(actions) == Set(IAMPolicies.seedBuilderActions + ["ecr:GetAuthorizationToken"]))
    }

    @Test("every statement is an Allow scoped to the prefix, except GetAuthorizationToken on *", arguments: ["controller-policy.json", "builder-policy.json"])
    func resourceScoped(file: String) throws {
        for statement in IAMPolicies.statements(try IAMPolicies.load(file)) {
            #expect(statement["Effect"] as? String == "Allow")
            #expect(statement["Condition"] == nil && statement["NotAction"] == nil && statement["NotResource"] == nil)
            let actions = IAMPolicies.strings(statement["Action"])
            let resources = IAMPolicies.strings(statement["Resource"])
            if actions == ["ecr:GetAuthorizationToken"] {
                #expect(resources == ["*"])
            } else {
                #expect(!actions.contains("ecr:GetAuthorizationToken"))
                #expect(resources == [IAMPolicies.prefixResource])
            }
        }
    }

    @Test("the moto rewrite changes Resource only")
    func rewrite() throws {
        let policy = try IAMPolicies.load("controller-policy.json")
        let rewritten = try #require(try JSONSerialization.jsonObject(with: Data(IAMPolicies.rewrittenForMoto(policy).utf8)) as? [String: Any])
        #expect(IAMPolicies.actions(rewritten) == IAMPolicies.actions(policy))
        #expect(IAMPolicies.statements(rewritten).allSatisfy { $0["Resource"] as? String == "*" })
        #expect(IAMPolicies.statements(rewritten).map { $0["Sid"] as? String } == IAMPolicies.statements(policy).map { $0["Sid"] as? String })
    }
}
