import Foundation
import MirModel
import Testing
@testable import KubeLocal

@Suite struct CELAndSchemaTests {
    @Test func celSubsetEvaluatesTheCRDRules() throws {
        let exactlyOne = try CELRule("[has(self.imageType), has(self.managedImage), has(self.image)].exists_one(x, x)")
        #expect(try exactlyOne.evaluate(self: .object(["imageType": .string("a")])))
        #expect(try !exactlyOne.evaluate(self: .object(["imageType": .string("a"), "image": .string("b")])))
        #expect(try !exactlyOne.evaluate(self: .object([:])))
        let rule = try CELRule("self.size() <= 3 && (self.startsWith('ab') ? 1 : 0) + 1 == 2 && !('z' in ['x', 'y'])")
        #expect(try rule.evaluate(self: .string("abc")))
        #expect(try !rule.evaluate(self: .string("abcd")))
        let transition = try CELRule("self == oldSelf")
        #expect(transition.isTransitionRule)
        #expect(throws: (any Error).self) { try CELRule("self.map(x, x)") }
    }

    @Test func validatorAppliesDefaultsPrunesAndChecksBounds() throws {
        let schema = try JSONValue.yaml("""
        type: object
        properties:
          spec:
            type: object
            required: [count]
            properties:
              count: {type: integer, minimum: 1, maximum: 3}
              mode: {type: string, enum: [a, b], default: a}
              tags: {type: array, maxItems: 1, items: {type: string}}
        """)
        let outcome = SchemaValidator(schema: schema).validate(.object([
            "spec": .object(["count": .number(5), "extra": .bool(true), "tags": .array([.string("x"), .string("y")])]),
        ]))
        #expect(outcome.object["spec"]?["mode"] == .string("a"))
        #expect(outcome.object["spec"]?["extra"] == nil)
        #expect(outcome.unknownFields == ["spec.extra"])
        let messages = outcome.causes.map { "\($0.field): \($0.message)" }.sorted()
        #expect(messages == ["spec.count: Invalid value: 5: spec.count in body should be less than or equal to 3",
                             "spec.tags: Too many: 2: must have at most 1 items"])
        let typeError = SchemaValidator(schema: schema).validate(.object(["spec": .object(["count": .string("two")])]))
        #expect(typeError.causes.first?.message == "Invalid value: \"string\": spec.count in body must be of type integer: \"string\"")
    }

    @Test func crdFileIsStructuralAndItsPatternsRefuseShellMetacharacters() throws {
        let crd = try JSONValue.yaml(String(contentsOf: crdManifestURL, encoding: .utf8))
        let infos = ResourceRegistry.resources(fromCRD: crd)
        let info = try #require(infos.first)
        #expect(info.plural == "managedimages" && info.shortNames == ["mi"] && info.categories == ["mir"] && !info.namespaced)
        #expect(info.printerColumns.map(\.name) == ["Phase", "Tag", "Python", "Reason", "Age", "Repository", "Platform"])
        let validator = SchemaValidator(schema: try #require(info.schema))
        func spec(_ extra: [String: JSONValue]) -> JSONValue {
            var s: [String: JSONValue] = ["base": .object(["imageType": .string("al2023")]), "pythonVersion": .string("3.12")]
            for (k, v) in extra { s[k] = v }
            return .object(["metadata": .object(["name": .string("img")]), "spec": .object(s)])
        }
        #expect(validator.validate(spec([:])).causes.isEmpty)
        for bad in ["a;b", "a$(x)", "a b", "a|b", "`x`", "-a"] {
            let o = validator.validate(spec(["pipRequirements": .array([.object(["name": .string(bad)])])]))
            #expect(!o.causes.isEmpty, "pip name \(bad) must be refused")
        }
        let specifier = validator.validate(spec(["pipRequirements": .array([.object(["name": .string("x"), "versionSpecifier": .string(">=1; rm")])])]))
        #expect(!specifier.causes.isEmpty)
        let good = validator.validate(spec(["pipRequirements": .array([.object(["name": .string("zope.interface"), "versionSpecifier": .string(">=5,<7")])]),
                                            "packageRequirements": .array([.object(["name": .string("libpq-dev"), "type": .string("apt"), "versionSpecifier": .string("15.4-1")])])]))
        #expect(good.causes.isEmpty)
        let duplicate = validator.validate(spec(["pipRequirements": .array([.object(["name": .string("x")]), .object(["name": .string("x")])])]))
        #expect(duplicate.causes.contains { $0.reason == "FieldValueDuplicate" })
    }
}

@Suite struct PatchAndSelectorTests {
    @Test func mergeAndJSONPatch() throws {
        let doc = JSONValue.object(["a": .number(1), "b": .object(["c": .number(2), "d": .number(3)]), "l": .array([.number(1)])])
        let merged = Patching.mergePatch(doc, .object(["b": .object(["c": .null, "e": .number(4)]), "l": .array([.number(9)])]))
        #expect(merged == .object(["a": .number(1), "b": .object(["d": .number(3), "e": .number(4)]), "l": .array([.number(9)])]))
        let ops = try JSONValue.decode(Data(#"[{"op":"add","path":"/l/-","value":2},{"op":"remove","path":"/a"},{"op":"replace","path":"/b/c","value":"x"},{"op":"test","path":"/l/0","value":1}]"#.utf8))
        let patched = try Patching.jsonPatch(doc, ops)
        #expect(patched == .object(["b": .object(["c": .string("x"), "d": .number(3)]), "l": .array([.number(1), .number(2)])]))
        #expect(throws: Patching.JSONPatchError.self) {
            try Patching.jsonPatch(doc, .array([.object(["op": .string("remove"), "path": .string("/missing")])]))
        }
    }

    @Test func labelSelectorsAndJSONPath() throws {
        let object = JSONValue.object(["metadata": .object(["labels": .object(["app": .string("web"), "tier": .string("1")])]),
                                       "status": .object(["conditions": .array([
                                           .object(["type": .string("Ready"), "reason": .string("Built")]),
                                           .object(["type": .string("Other"), "reason": .string("X")]),
                                       ])])])
        #expect(try LabelSelector("app=web,tier in (1,2),!missing").matches(object))
        #expect(try !LabelSelector("app!=web").matches(object))
        #expect(try !LabelSelector("tier notin (1)").matches(object))
        #expect(try LabelSelector("app").matches(object))
        #expect(SimpleJSONPath.evaluate(".status.conditions[?(@.type==\"Ready\")].reason", on: object) == [.string("Built")])
        #expect(SimpleJSONPath.evaluate(".status.conditions[1].type", on: object) == [.string("Other")])
    }

    @Test func jsonParserKeepsBooleansAndIntegers() throws {
        let value = try JSONValue.decode(Data(#"{"t":true,"n":1,"f":1.5,"s":"\u00e9\n","z":null}"#.utf8))
        #expect(value == .object(["t": .bool(true), "n": .number(1), "f": .number(1.5), "s": .string("é\n"), "z": .null]))
        #expect(throws: (any Error).self) { try JSONValue.decode(Data("{\"a\":}".utf8)) }
    }
}
