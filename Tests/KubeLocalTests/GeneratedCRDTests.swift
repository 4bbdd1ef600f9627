import Foundation
import MirModel
import Testing
@testable import KubeLocal

/// The generated CRD (Manifests/crd) as mir dev evaluates it: every CEL rule is in the evaluator's subset, and the
/// per-object checks `mir validate` makes are made at admission too.
@Suite struct GeneratedCRDTests {
    static func validator() throws -> SchemaValidator {
        let crd = try JSONValue.yaml(String(contentsOf: crdManifestURL, encoding: .utf8))
        let info = try #require(ResourceRegistry.resources(fromCRD: crd).first)
        return SchemaValidator(schema: try #require(info.schema))
    }

    static func rules(in schema: JSONValue) -> [String] {
        var found = schema["x-kubernetes-validations"]?.arrayValue?.compactMap { $0["rule"]?.stringValue } ?? []
        for child in (schema["properties"]?.objectValue ?? [:]).values { found += rules(in: child) }
        if let items = schema["items"] { found += rules(in: items) }
        return found
    }

    @Test func everyRuleOfTheCRDParses() throws {
        let crd = try JSONValue.yaml(String(contentsOf: crdManifestURL, encoding: .utf8))
        let schema = try #require(ResourceRegistry.resources(fromCRD: crd).first?.schema)
        let rules = GeneratedCRDTests.rules(in: schema)
        #expect(rules.count >= 15)
        for rule in rules { #expect(throws: Never.self, "\(rule)") { _ = try CELRule(rule) } }
    }

    static func image(name: String = "img", _ spec: [String: JSONValue?]) -> JSONValue {
        var s: [String: JSONValue] = ["base": .object(["imageType": .string("standard")]), "pythonVersion": .string("3.12")]
        for (k, v) in spec { s[k] = v }
        return .object(["apiVersion": .string("mir.dev/v1alpha1"), "kind": .string("ManagedImage"),
                        "metadata": .object(["name": .string(name)]), "spec": .object(s)])
    }

    static func policy(_ rules: [JSONValue]) -> JSONValue { .object(["rules": .array(rules)]) }

    static func rule(_ priority: Int, _ selection: [String: JSONValue], action: String = "expire") -> JSONValue {
        .object(["rulePriority": .number(Double(priority)), "selection": .object(selection), "action": .object(["type": .string(action)])])
    }

    static let anyTags: [String: JSONValue] = ["tagStatus": .string("any"), "countType": .string("imageCountMoreThan"), "countNumber": .number(10)]

    @Test func validImagesAreAdmitted() throws {
        let validator = try GeneratedCRDTests.validator()
        let cases: [JSONValue] = [
            GeneratedCRDTests.image([:]),
            GeneratedCRDTests.image(name: "child", ["base": .object(["managedImage": .string("img")]), "pythonVersion": nil]),
            GeneratedCRDTests.image(["pipRequirements": .array([.object(["name": .string("scikit-learn"), "versionSpecifier": .string(">=1.3,<2")]),
                                                                 .object(["name": .string("numpy")])]),
                                     "packageRequirements": .array([.object(["name": .string("libgomp1"), "type": .string("apt")]),
                                                                    .object(["name": .string("libgomp1"), "type": .string("rpm")])])]),
            GeneratedCRDTests.image(["lifecyclePolicy": GeneratedCRDTests.policy([
                GeneratedCRDTests.rule(1, ["tagStatus": .string("untagged"), "countType": .string("sinceImagePushed"),
                                           "countUnit": .string("days"), "countNumber": .number(7)]),
                GeneratedCRDTests.rule(2, ["tagStatus": .string("tagged"), "tagPrefixList": .array([.string("py")]),
                                           "countType": .string("imageCountMoreThan"), "countNumber": .number(5)]),
                GeneratedCRDTests.rule(3, GeneratedCRDTests.anyTags),
            ])]),
        ]
        for object in cases {
            let outcome = validator.validate(object)
            #expect(outcome.causes.isEmpty, "\(outcome.causes.map(\.message))")
            #expect(outcome.unevaluatedRules.isEmpty, "\(outcome.unevaluatedRules)")
        }
    }

    @Test func theIssuesCasesAreRefusedAtAdmission() throws {
        let validator = try GeneratedCRDTests.validator()
        let g = GeneratedCRDTests.self
        let cases: [(String, JSONValue)] = [
            ("name longer than 63", g.image(name: String(repeating: "a", count: 64), [:])),
            ("name with a dot", g.image(name: "a.b", [:])),
            ("self-parent", g.image(name: "loop", ["base": .object(["managedImage": .string("loop")]), "pythonVersion": nil])),
            ("two bases", g.image(["base": .object(["imageType": .string("standard"), "managedImage": .string("x")])])),
            ("python as a number", g.image(["pythonVersion": .number(3.1)])),
            ("specifier with a space", g.image(["pipRequirements": .array([.object(["name": .string("numpy"), "versionSpecifier": .string(">= 1.0")])])])),
            ("same project twice", g.image(["pipRequirements": .array([.object(["name": .string("scikit_learn")]), .object(["name": .string("Scikit-Learn")])])])),
            ("apt name in uppercase", g.image(["packageRequirements": .array([.object(["name": .string("LibFoo"), "type": .string("apt")])])])),
            ("countNumber 0", g.image(["lifecyclePolicy": g.policy([g.rule(1, ["tagStatus": .string("any"), "countType": .string("imageCountMoreThan"), "countNumber": .number(0)])])])),
            ("tagged without a list", g.image(["lifecyclePolicy": g.policy([g.rule(1, ["tagStatus": .string("tagged"), "countType": .string("imageCountMoreThan"), "countNumber": .number(1)])])])),
            ("duplicate rulePriority", g.image(["lifecyclePolicy": g.policy([
                g.rule(1, ["tagStatus": .string("untagged"), "countType": .string("imageCountMoreThan"), "countNumber": .number(1)]),
                g.rule(1, g.anyTags)])])),
            ("unknown action", g.image(["lifecyclePolicy": g.policy([g.rule(1, g.anyTags, action: "delete")])])),
            ("sinceImagePushed without countUnit", g.image(["lifecyclePolicy": g.policy([g.rule(1, ["tagStatus": .string("any"), "countType": .string("sinceImagePushed"), "countNumber": .number(3)])])])),
            ("external base with an untyped package", g.image(["base": .object(["image": .string("r.example.com/p:1")]),
                                                               "packageRequirements": .array([.object(["name": .string("gcc")])])])),
        ]
        for (name, object) in cases {
            let outcome = validator.validate(object)
            #expect(!outcome.causes.isEmpty, "\(name) was admitted")
            #expect(outcome.unevaluatedRules.isEmpty, "\(name): \(outcome.unevaluatedRules)")
        }
    }

    @Test func patternsUseECMADollarAndCELStringFunctions() throws {
        #expect(ECMAPattern.matches("^[a-z]+$", "abc"))
        #expect(!ECMAPattern.matches("^[a-z]+$", "abc\n"))
        #expect(ECMAPattern.matches("^[$a]+$", "$a"))
        #expect(ECMAPattern.translate(#"^a\$[$]$"#) == #"^a\$[$]\z"#)
        #expect(try CELRule("self.lowerAscii() == 'abc-é'").evaluate(self: .string("ABC-é")))
        #expect(try CELRule("self.replace('--', '-') == 'a--b'").evaluate(self: .string("a----b")))
        #expect(CELStrings.replace("ab", "", "-") == "-a-b-")
    }
}
