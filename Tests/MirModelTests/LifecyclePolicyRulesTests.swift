import Testing
import PropertyBased
import MirModel

private let keepTen: [String: JSONValue] = [
    "tagStatus": .string("tagged"), "tagPrefixList": strings("v"),
    "countType": .string("imageCountMoreThan"), "countNumber": .number(10),
]

private let untaggedWeek: [String: JSONValue] = [
    "tagStatus": .string("untagged"), "countType": .string("sinceImagePushed"),
    "countUnit": .string("days"), "countNumber": .number(7),
]

private func withSelection(_ base: [String: JSONValue], _ changes: [String: JSONValue?]) -> [String: JSONValue] {
    var s = base
    for (k, v) in changes { s[k] = v }
    return s
}

/// The violations of a one-rule policy with this selection and action.
private func violations(selection: [String: JSONValue], action: [String: JSONValue] = ["type": .string("expire")]) -> [LifecyclePolicyViolation] {
    LifecyclePolicyRules.violations(of: policy(lifecycleRule(priority: 1, selection: selection, action: action, description: "a rule to test with")))
}

private func paths(_ v: [LifecyclePolicyViolation]) -> [String] { v.map(\.path) }

@Suite struct LifecyclePolicyValidationTests {
    @Test func configDefaultPolicyIsValid() {
        #expect(LifecyclePolicyRules.violations(of: MirConfig.defaultLifecyclePolicy) == [])
        #expect(LifecyclePolicyRules.violations(ofText: LifecyclePolicyRules.text(for: MirConfig.defaultLifecyclePolicy)) == [])
    }

    @Test func validRulesPass() {
        #expect(violations(selection: keepTen) == [])
        #expect(violations(selection: untaggedWeek) == [])
        #expect(violations(selection: withSelection(keepTen, ["tagPrefixList": nil, "tagPatternList": strings("*test*1*2*3", "test*1*2*3*")])) == [])
    }

    @Test func missingTopLevelRules() {
        let v = LifecyclePolicyRules.violations(of: .object(["foo": .number(1)]))
        #expect(v.contains(LifecyclePolicyViolation(path: "", message: "object has missing required properties ([\"rules\"])")))
        #expect(v.contains { $0.message.contains("not allowed") && $0.message.contains("\"foo\"") })
    }

    @Test func documentMustBeAnObjectWithAnArrayOfRules() {
        #expect(paths(LifecyclePolicyRules.violations(of: .array([]))) == [""])
        #expect(paths(LifecyclePolicyRules.violations(of: .object(["rules": .string("x")]))) == ["rules"])
        #expect(LifecyclePolicyRules.violations(of: .object(["rules": .array([])])).first?.message.contains("at least 1") == true)
    }

    @Test func missingRuleAndSelectionKeys() {
        let noAction = JSONValue.object(["rules": .array([.object(["rulePriority": .number(1), "selection": .object(keepTen)])])])
        #expect(LifecyclePolicyRules.violations(of: noAction) == [
            LifecyclePolicyViolation(path: "rules[0]", message: "object has missing required properties ([\"action\"])"),
        ])
        let v = violations(selection: ["tagStatus": .string("untagged")])
        #expect(v.first == LifecyclePolicyViolation(path: "rules[0].selection",
                                                    message: "object has missing required properties ([\"countType\",\"countNumber\"])"))
    }

    @Test func unknownKeysAreRefused() {
        #expect(paths(violations(selection: withSelection(keepTen, ["tagPrefix": .string("v")]))) == ["rules[0].selection"])
        #expect(paths(violations(selection: keepTen, action: ["type": .string("expire"), "when": .string("now")])) == ["rules[0].action"])
    }

    @Test(arguments: ["TAGGED", "all", ""]) func tagStatusIsAnEnum(_ status: String) {
        let v = violations(selection: withSelection(keepTen, ["tagStatus": .string(status)]))
        #expect(v.first?.path == "rules[0].selection.tagStatus")
        #expect(v.first?.message.contains("not found in enum") == true)
    }

    @Test func taggedNeedsExactlyOneList() {
        #expect(paths(violations(selection: withSelection(keepTen, ["tagPrefixList": nil]))) == ["rules[0].selection"])
        #expect(paths(violations(selection: withSelection(keepTen, ["tagPatternList": strings("v*")]))) == ["rules[0].selection"])
        #expect(paths(violations(selection: withSelection(keepTen, ["tagPrefixList": .array([])]))) == ["rules[0].selection.tagPrefixList"])
        #expect(paths(violations(selection: withSelection(keepTen, ["tagPrefixList": strings("")]))) == ["rules[0].selection.tagPrefixList[0]"])
        #expect(paths(violations(selection: withSelection(keepTen, ["tagPrefixList": .string("v")]))) == ["rules[0].selection.tagPrefixList"])
    }

    @Test(arguments: ["untagged", "any"]) func untaggedAndAnyForbidLists(_ status: String) {
        let v = violations(selection: withSelection(keepTen, ["tagStatus": .string(status)]))
        #expect(paths(v) == ["rules[0].selection.tagPrefixList"])
        let p = violations(selection: withSelection(keepTen, ["tagStatus": .string(status), "tagPrefixList": nil, "tagPatternList": strings("a*")]))
        #expect(paths(p) == ["rules[0].selection.tagPatternList"])
        #expect(violations(selection: withSelection(keepTen, ["tagStatus": .string(status), "tagPrefixList": nil])) == [])
    }

    @Test func atMostFourWildcardsPerPattern() {
        let v = violations(selection: withSelection(keepTen, ["tagPrefixList": nil, "tagPatternList": strings("ok*", "test*1*2*3*4*5*6")]))
        #expect(paths(v) == ["rules[0].selection.tagPatternList[1]"])
        #expect(v.first?.message.contains("6 wildcards") == true)
        #expect(violations(selection: withSelection(keepTen, ["tagPrefixList": nil, "tagPatternList": strings("*a*b*c*")])) == [])
    }

    @Test func countTypeAndUnit() {
        #expect(paths(violations(selection: withSelection(keepTen, ["countType": .string("imageCountLessThan")]))) == ["rules[0].selection.countType"])
        // countUnit required for since*, forbidden for imageCountMoreThan, and only "days".
        #expect(paths(violations(selection: withSelection(untaggedWeek, ["countUnit": nil]))) == ["rules[0].selection"])
        #expect(paths(violations(selection: withSelection(keepTen, ["countUnit": .string("days")]))) == ["rules[0].selection.countUnit"])
        #expect(paths(violations(selection: withSelection(untaggedWeek, ["countUnit": .string("hours")]))) == ["rules[0].selection.countUnit"])
    }

    @Test(arguments: [JSONValue.number(0), .number(-3), .number(1.5), .string("5"), .null, .number(3_000_000_000)])
    func countNumberIsAPositiveInteger(_ n: JSONValue) {
        let v = violations(selection: withSelection(keepTen, ["countNumber": n]))
        #expect(paths(v) == ["rules[0].selection.countNumber"])
    }

    @Test func countNumberZeroUsesECRWording() {
        let v = violations(selection: withSelection(keepTen, ["countNumber": .number(0)]))
        #expect(v.first?.message == "numeric instance is lower than the required minimum (minimum: 1, found: 0)")
    }

    @Test func actionTypes() {
        let delete = violations(selection: keepTen, action: ["type": .string("delete")])
        #expect(paths(delete) == ["rules[0].action.type"])
        #expect(delete.first?.message.contains("not found in enum") == true)
        #expect(paths(violations(selection: keepTen, action: ["type": .string("transition")])) == ["rules[0].action"])
        #expect(violations(selection: keepTen, action: ["type": .string("transition"), "targetStorageClass": .string("archive")]) == [])
        #expect(paths(violations(selection: keepTen, action: ["type": .string("transition"), "targetStorageClass": .string("glacier")]))
                == ["rules[0].action.targetStorageClass"])
        #expect(paths(violations(selection: keepTen, action: ["type": .string("expire"), "targetStorageClass": .string("archive")]))
                == ["rules[0].action.targetStorageClass"])
        #expect(paths(violations(selection: keepTen, action: [:])) == ["rules[0].action"])
    }

    @Test func archiveEraCountTypesOnlyInDocumentedCombinations() {
        let pulled = withSelection(untaggedWeek, ["countType": .string("sinceImagePulled")])
        let transition: [String: JSONValue] = ["type": .string("transition"), "targetStorageClass": .string("archive")]
        #expect(violations(selection: pulled, action: transition) == [])
        #expect(paths(violations(selection: pulled)) == ["rules[0].selection.countType"])

        let transitioned = withSelection(untaggedWeek, ["countType": .string("sinceImageTransitioned"), "storageClass": .string("archive")])
        #expect(violations(selection: transitioned) == [])
        #expect(paths(violations(selection: withSelection(transitioned, ["storageClass": nil]))) == ["rules[0].selection.countType"])
        #expect(violations(selection: transitioned, action: transition).contains { $0.path == "rules[0].selection.countType" })
        #expect(paths(violations(selection: withSelection(untaggedWeek, ["storageClass": .string("cold")]))) == ["rules[0].selection.storageClass"])
    }

    @Test func rulePriorityIsAUniqueIntegerOfAtLeastOne() {
        let zero = policy(lifecycleRule(priority: 0, selection: keepTen))
        #expect(paths(LifecyclePolicyRules.violations(of: zero)) == ["rules[0].rulePriority"])
        let asString = JSONValue.object(["rules": .array([.object([
            "rulePriority": .string("1"), "selection": .object(keepTen), "action": .object(["type": .string("expire")]),
        ])])])
        #expect(paths(LifecyclePolicyRules.violations(of: asString)) == ["rules[0].rulePriority"])
        let duplicate = policy(lifecycleRule(priority: 3, selection: keepTen),
                               lifecycleRule(priority: 3, selection: untaggedWeek))
        let v = LifecyclePolicyRules.violations(of: duplicate)
        #expect(paths(v) == ["rules[1].rulePriority"])
        #expect(v.first?.message.contains("unique") == true)
    }

    @Test func anyRuleMustHaveTheHighestPriority() {
        let any: [String: JSONValue] = ["tagStatus": .string("any"), "countType": .string("imageCountMoreThan"), "countNumber": .number(5)]
        let last = policy(lifecycleRule(priority: 9, selection: any), lifecycleRule(priority: 2, selection: keepTen))
        #expect(LifecyclePolicyRules.violations(of: last) == [])
        let notLast = policy(lifecycleRule(priority: 1, selection: any), lifecycleRule(priority: 2, selection: keepTen))
        #expect(paths(LifecyclePolicyRules.violations(of: notLast)) == ["rules[0].rulePriority"])
    }

    @Test func tagPrefixesAreUniqueAcrossRules() {
        let again = withSelection(keepTen, ["tagPrefixList": strings("w", "v")])
        let v = LifecyclePolicyRules.violations(of: policy(lifecycleRule(priority: 1, selection: keepTen), lifecycleRule(priority: 2, selection: again)))
        #expect(paths(v) == ["rules[1].selection.tagPrefixList"])
        #expect(v.first?.message.contains("\"v\"") == true)
    }

    @Test func oneUntaggedRulePerStorageClass() {
        let two = policy(lifecycleRule(priority: 1, selection: untaggedWeek), lifecycleRule(priority: 2, selection: untaggedWeek))
        #expect(paths(LifecyclePolicyRules.violations(of: two)) == ["rules[1].selection.tagStatus"])
        let archived = withSelection(untaggedWeek, ["storageClass": .string("archive"), "countType": .string("sinceImageTransitioned")])
        let perClass = policy(lifecycleRule(priority: 1, selection: untaggedWeek), lifecycleRule(priority: 2, selection: archived))
        #expect(LifecyclePolicyRules.violations(of: perClass) == [])
    }

    @Test func ruleCountLimits() {
        let fifty = JSONValue.object(["rules": .array((1...50).map { i in
            lifecycleRule(priority: i, selection: withSelection(keepTen, ["tagPrefixList": strings("p\(i)")]))
        })])
        #expect(LifecyclePolicyRules.violations(of: fifty) == [])
        let fiftyOne = JSONValue.object(["rules": .array((1...51).map { i in
            lifecycleRule(priority: i, selection: withSelection(keepTen, ["tagPrefixList": strings("p\(i)")]))
        })])
        #expect(paths(LifecyclePolicyRules.violations(of: fiftyOne)) == ["rules"])
    }

    @Test func compactTextLengthIsChecked() {
        let long = String(repeating: "d", count: 30_800)
        let v = LifecyclePolicyRules.violations(of: policy(lifecycleRule(priority: 1, selection: keepTen, description: long)))
        #expect(v.count == 1)
        #expect(v.first?.message.contains("longer than the maximum of 30720") == true)
    }

    @Test func everyViolationIsReportedNotJustTheFirst() {
        let bad = policy(lifecycleRule(priority: 0, selection: withSelection(keepTen, ["countNumber": .number(0), "tagStatus": .string("x")]),
                                       action: ["type": .string("delete")]))
        #expect(Set(paths(LifecyclePolicyRules.violations(of: bad))) ==
                ["rules[0].rulePriority", "rules[0].selection.countNumber", "rules[0].selection.tagStatus", "rules[0].action.type"])
    }
}

@Suite struct LifecyclePolicyTextTests {
    @Test func invalidJSONGivesECRsMessage() {
        let text = "{\"rules\": [" + String(repeating: " ", count: 120)
        #expect(LifecyclePolicyRules.violations(ofText: text) == [
            LifecyclePolicyViolation(path: "", message: "Could not map policyString into LifecyclePolicy."),
        ])
    }

    @Test func nonObjectJSONIsNotAPolicy() {
        let text = "[" + String(repeating: "1,", count: 60) + "1]"
        #expect(LifecyclePolicyRules.violations(ofText: text).map(\.message) == ["Could not map policyString into LifecyclePolicy."])
    }

    @Test func rawTextLengthLimits() {
        let short = "{\"rules\":[]}"
        let v = LifecyclePolicyRules.violations(ofText: short)
        #expect(v.contains { $0.message.contains("shorter than the minimum of 100") })

        // Valid policy padded with whitespace beyond the limit: only the length is wrong.
        let compact = LifecyclePolicyRules.text(for: MirConfig.defaultLifecyclePolicy)
        let padded = compact + String(repeating: " ", count: 30_721 - compact.count)
        #expect(LifecyclePolicyRules.violations(ofText: padded).map(\.message) == ["lifecyclePolicyText is 30721 characters, longer than the maximum of 30720"])
        let exact = compact + String(repeating: " ", count: 30_720 - compact.count)
        #expect(LifecyclePolicyRules.violations(ofText: exact) == [])
    }

    @Test func textIsValidatedByTheRules() {
        let text = LifecyclePolicyRules.text(for: policy(lifecycleRule(priority: 1, selection: withSelection(keepTen, ["countNumber": .number(0)]))))
        #expect(paths(LifecyclePolicyRules.violations(ofText: text)) == ["rules[0].selection.countNumber"])
    }
}

@Suite struct LifecyclePolicyNormalFormTests {
    @Test func rulesAreOrderedByPriorityAndListsSorted() {
        let doc = policy(lifecycleRule(priority: 7, selection: untaggedWeek),
                         lifecycleRule(priority: 2, selection: withSelection(keepTen, ["tagPrefixList": strings("b", "a")])))
        let n = LifecyclePolicyRules.normalized(doc)
        let rules = n["rules"]?.arrayValue ?? []
        #expect(rules.map { $0["rulePriority"]?.intValue } == [2, 7])
        #expect(rules.first?["selection"]?["tagPrefixList"] == strings("a", "b"))
    }

    @Test func stringsAreUntouched() {
        let doc = policy(lifecycleRule(priority: 1, selection: withSelection(keepTen, ["tagPrefixList": strings("V ", "v")]), description: "  Keep It "))
        let n = LifecyclePolicyRules.normalized(doc)
        #expect(n["rules"]?.arrayValue?.first?["description"] == .string("  Keep It "))
        #expect(n["rules"]?.arrayValue?.first?["selection"]?["tagPrefixList"] == strings("V ", "v"))
    }

    @Test func normalizeIsIdempotent() async {
        await propertyCheck(count: 200, input: Gen.int(in: 0...Int.max)) { seed in
            var rng = SplitMix64(seed: UInt64(seed))
            let doc = randomValidPolicy(using: &rng)
            let once = LifecyclePolicyRules.normalized(doc)
            #expect(LifecyclePolicyRules.normalized(once) == once)
            #expect(LifecyclePolicyRules.violations(of: doc) == [])
        }
    }

    @Test func spellingAndOrderDoNotChangeTheNormalForm() async {
        await propertyCheck(count: 200, input: Gen.int(in: 0...Int.max)) { seed in
            var rng = SplitMix64(seed: UInt64(seed))
            let doc = randomValidPolicy(using: &rng)
            // Reorder rules and list entries, then respell with shuffled keys, whitespace and `1.0`-style integers.
            var rules = doc["rules"]!.arrayValue!.shuffled(using: &rng)
            rules = rules.map { rule in
                guard case .object(var r) = rule, case .object(var s)? = r["selection"] else { return rule }
                for key in ["tagPrefixList", "tagPatternList"] {
                    if let list = s[key]?.arrayValue { s[key] = .array(list.shuffled(using: &rng)) }
                }
                r["selection"] = .object(s)
                return .object(r)
            }
            let text = scrambledText(.object(["rules": .array(rules)]), using: &rng)
            guard let reparsed = JSONValue.parse(text) else {
                Issue.record("scrambled text did not parse: \(text)")
                return
            }
            #expect(LifecyclePolicyRules.normalized(reparsed) == LifecyclePolicyRules.normalized(doc))
            #expect(LifecyclePolicyRules.text(for: reparsed) == LifecyclePolicyRules.text(for: doc))
            #expect(LifecyclePolicyRules.violations(ofText: text) == [])
        }
    }

    @Test func changingACountNumberChangesTheNormalForm() async {
        await propertyCheck(count: 200, input: Gen.int(in: 0...Int.max), Gen.int(in: 1...1000)) { seed, delta in
            var rng = SplitMix64(seed: UInt64(seed))
            let doc = randomValidPolicy(using: &rng)
            var rules = doc["rules"]!.arrayValue!
            let index = Int.random(in: 0..<rules.count, using: &rng)
            guard case .object(var r) = rules[index], case .object(var s)? = r["selection"], let n = s["countNumber"]?.intValue else {
                Issue.record("generated rule has no countNumber")
                return
            }
            s["countNumber"] = .number(Double(n + delta))
            r["selection"] = .object(s)
            rules[index] = .object(r)
            let changed = JSONValue.object(["rules": .array(rules)])
            #expect(LifecyclePolicyRules.normalized(changed) != LifecyclePolicyRules.normalized(doc))
            #expect(LifecyclePolicyRules.text(for: changed) != LifecyclePolicyRules.text(for: doc))
        }
    }
}
