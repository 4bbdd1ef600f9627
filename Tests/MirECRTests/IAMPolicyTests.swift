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

    /// All allowed actions of a policy, each once, in order of first appearance.
    static func actions(_ policy: [String: Any]) -> [String] {
        var seen: Set<String> = []
        return statements(policy).flatMap { strings($0["Action"]) }.filter { seen.insert($0).inserted }
    }

    /// The actions that change a repository: allowed only on repositories tagged `mir.dev/managed-by=mir`.
    static let ownedOnlyActions = ["ecr:DeleteRepository", "ecr:PutLifecyclePolicy", "ecr:DeleteLifecyclePolicy", "ecr:TagResource"]

    /// moto matches ECR actions only against `Resource: "*"` (moto-ecr-fidelity.md §3d), and evaluates an identity
    /// policy's `Condition` without any request context, so a conditioned Allow always denies: the same policy with
    /// its Resource entries rewritten and its Conditions dropped, the actions untouched. The conditions are checked
    /// statically (`IAMPolicyStaticTests.changesNeedMirTag`).
    static func rewrittenForMoto(_ policy: [String: Any]) throws -> String {
        var copy = policy
        copy["Statement"] = statements(policy).map { statement -> [String: Any] in
            var statement = statement
            statement["Resource"] = "*"
            statement["Condition"] = nil
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
        for statement in IAMPolicies.statements(policy) {
            let own = IAMPolicies.strings(statement["Action"])
            #expect(own.count == Set(own).count, "no duplicates within a statement")
        }
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
            #expect(statement["NotAction"] == nil && statement["NotResource"] == nil)
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

    @Test("issue 8: DeleteRepository, PutLifecyclePolicy, DeleteLifecyclePolicy and TagResource only on repositories tagged managed-by=mir")
    func changesNeedMirTag() throws {
        let policy = try IAMPolicies.load("controller-policy.json")
        for statement in IAMPolicies.statements(policy) {
            let actions = IAMPolicies.strings(statement["Action"])
            let condition = statement["Condition"] as? [String: Any]
            let equals = condition?["StringEquals"] as? [String: Any]
            if actions.contains(where: IAMPolicies.ownedOnlyActions.contains) {
                // Every statement granting a changing action names only such actions and is conditioned.
                #expect(actions.allSatisfy(IAMPolicies.ownedOnlyActions.contains), "\(actions)")
                let onResourceTag = equals?["aws:ResourceTag/mir.dev/managed-by"] as? String == "mir"
                // Tag-on-create (CreateRepository with tags is authorized as TagResource with the request's tags):
                // only when the request tags managed-by=mir AND the repository has no managed-by tag yet, so a
                // repository tagged by anyone else can never be re-tagged.
                let onCreateOnly = actions == ["ecr:TagResource"]
                    && equals?["aws:RequestTag/mir.dev/managed-by"] as? String == "mir"
                    && (condition?["Null"] as? [String: Any])?["aws:ResourceTag/mir.dev/managed-by"] as? String == "true"
                #expect(onResourceTag || onCreateOnly, "\(statement)")
            } else {
                #expect(condition == nil, "reads and CreateRepository are not conditioned: \(actions)")
            }
        }
        // mir never removes a lifecycle policy: DeleteLifecyclePolicy is not granted at all.
        #expect(!IAMPolicies.actions(policy).contains("ecr:DeleteLifecyclePolicy"))
        #expect(IAMPolicies.actions(policy).contains("ecr:DeleteRepository"))
    }

    @Test("issue 8: the builder pushes only into repositories tagged managed-by=mir; pulls are not conditioned")
    func pushesNeedMirTag() throws {
        let pushing: Set<String> = ["ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"]
        var granted: Set<String> = []
        for statement in IAMPolicies.statements(try IAMPolicies.load("builder-policy.json")) {
            let actions = IAMPolicies.strings(statement["Action"])
            let equals = (statement["Condition"] as? [String: Any])?["StringEquals"] as? [String: Any]
            if actions.contains(where: pushing.contains) {
                #expect(Set(actions).isSubset(of: pushing), "a pushing statement grants only pushing actions: \(actions)")
                #expect(equals?["aws:ResourceTag/mir.dev/managed-by"] as? String == "mir", "\(statement)")
                granted.formUnion(actions)
            } else {
                #expect(statement["Condition"] == nil, "pulls and login are not conditioned: \(actions)")
            }
        }
        #expect(granted == pushing)
    }

    @Test("the moto rewrite changes Resource and drops Conditions only")
    func rewrite() throws {
        let policy = try IAMPolicies.load("controller-policy.json")
        let rewritten = try #require(try JSONSerialization.jsonObject(with: Data(IAMPolicies.rewrittenForMoto(policy).utf8)) as? [String: Any])
        #expect(IAMPolicies.actions(rewritten) == IAMPolicies.actions(policy))
        #expect(IAMPolicies.statements(rewritten).allSatisfy { $0["Resource"] as? String == "*" })
        #expect(IAMPolicies.statements(rewritten).map { $0["Sid"] as? String } == IAMPolicies.statements(policy).map { $0["Sid"] as? String })
    }
}
