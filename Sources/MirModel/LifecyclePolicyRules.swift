/// ECR's documented rules for lifecycle policy documents (../shared/reference/aws-ecr.md §2), and a
/// normal form so that two policies are compared by meaning, never as raw strings.
///
/// Archive-era features (2025): accepted only in the documented combinations —
/// `selection.storageClass` is `standard` or `archive`; `action.type: transition` requires
/// `targetStorageClass: archive` (and acts on `standard` images); `sinceImagePulled` only with `transition`;
/// `sinceImageTransitioned` only with `expire` on `storageClass: archive`. Everything else is refused.
public enum LifecyclePolicyRules {
    public static let maxTextLength = 30_720
    public static let minTextLength = 100
    public static let maxRules = 50
    /// At most this many `*` wildcards in one `tagPatternList` entry.
    public static let maxWildcardsPerPattern = 4
    /// ECR's message for policy text that is not a JSON lifecycle policy.
    public static let unparsableMessage = "Could not map policyString into LifecyclePolicy."

    static let topLevelKeys: Set<String> = ["rules"]
    static let ruleKeys: Set<String> = ["rulePriority", "description", "selection", "action"]
    static let selectionKeys: Set<String> = [
        "tagStatus", "tagPatternList", "tagPrefixList", "storageClass", "countType", "countUnit", "countNumber",
    ]
    static let actionKeys: Set<String> = ["type", "targetStorageClass"]
    public static let tagStatuses = ["tagged", "untagged", "any"]
    public static let countTypes = ["imageCountMoreThan", "sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned"]
    public static let storageClasses = ["standard", "archive"]
    public static let actionTypes = ["expire", "transition"]
    /// JSON integers ECR reads into a Java `int`.
    public static let maxInteger = 2_147_483_647

    /// Every rule the document breaks, as messages naming the offending field path relative to the
    /// document root (e.g. `rules[1].selection.countNumber`). Empty when the document is valid.
    public static func violations(of document: JSONValue) -> [LifecyclePolicyViolation] {
        var validator = Validator()
        validator.check(document)
        if validator.found.isEmpty {
            let length = text(for: document).unicodeScalars.count
            validator.checkLength(length, what: "compact policy text")
        }
        return validator.found
    }

    /// Validates policy text as PutLifecyclePolicy would (length limits, JSON, rules).
    public static func violations(ofText text: String) -> [LifecyclePolicyViolation] {
        var validator = Validator()
        validator.checkLength(text.unicodeScalars.count, what: "lifecyclePolicyText")
        guard let document = JSONValue.parse(text), case .object = document else {
            validator.report("", unparsableMessage)
            return validator.found
        }
        validator.check(document)
        return validator.found
    }

    /// A normal form: rules sorted by priority, tag pattern/prefix lists sorted (their entries are AND-ed, so
    /// order carries no meaning), keys canonical, integral numbers as integers; strings are left untouched.
    /// Two documents that mean the same have equal normal forms. Idempotent.
    public static func normalized(_ document: JSONValue) -> JSONValue {
        guard case .object(var top) = document, case .array(let rules)? = top["rules"] else {
            return canonicalNumbers(document)
        }
        let normalRules = rules.map(normalizedRule)
        let sorted = normalRules.enumerated().sorted { a, b in
            let pa = a.element["rulePriority"]?.numberValue ?? .infinity
            let pb = b.element["rulePriority"]?.numberValue ?? .infinity
            if pa != pb { return pa < pb }
            let ta = a.element.canonicalText, tb = b.element.canonicalText
            if ta != tb { return ta < tb }
            return a.offset < b.offset
        }.map(\.element)
        top["rules"] = .array(sorted)
        return canonicalNumbers(.object(top))
    }

    /// Compact text to send with PutLifecyclePolicy (canonical JSON of the normal form).
    public static func text(for document: JSONValue) -> String {
        normalized(document).canonicalText
    }

    private static func normalizedRule(_ rule: JSONValue) -> JSONValue {
        guard case .object(var r) = rule, case .object(var selection)? = r["selection"] else { return rule }
        for key in ["tagPatternList", "tagPrefixList"] {
            if case .array(let list)? = selection[key] {
                selection[key] = .array(list.sorted { $0.canonicalText < $1.canonicalText })
            }
        }
        r["selection"] = .object(selection)
        return .object(r)
    }

    /// Integral numbers become exact integers (e.g. `1.0` and `1` are one value).
    private static func canonicalNumbers(_ value: JSONValue) -> JSONValue {
        switch value {
        case .number(let n):
            if let i = value.intValue { return .number(Double(i)) }
            return .number(n)
        case .array(let a): return .array(a.map(canonicalNumbers))
        case .object(let o): return .object(o.mapValues(canonicalNumbers))
        default: return value
        }
    }
}

/// Accumulates violations while walking a document.
private struct Validator {
    typealias Rules = LifecyclePolicyRules
    var found: [LifecyclePolicyViolation] = []

    mutating func report(_ path: String, _ message: String) {
        found.append(LifecyclePolicyViolation(path: path, message: message))
    }

    mutating func checkLength(_ length: Int, what: String) {
        if length < Rules.minTextLength {
            report("", "\(what) is \(length) characters, shorter than the minimum of \(Rules.minTextLength)")
        } else if length > Rules.maxTextLength {
            report("", "\(what) is \(length) characters, longer than the maximum of \(Rules.maxTextLength)")
        }
    }

    private mutating func checkKeys(_ object: [String: JSONValue], allowed: Set<String>, required: [String], at path: String) {
        let missing = required.filter { object[$0] == nil }
        if !missing.isEmpty {
            report(path, "object has missing required properties (\(Self.quotedList(missing)))")
        }
        let unknown = object.keys.filter { !allowed.contains($0) }.sorted()
        if !unknown.isEmpty {
            report(path, "object instance has properties which are not allowed by the schema: \(Self.quotedList(unknown))")
        }
    }

    private static func quotedList(_ names: [String]) -> String {
        "[" + names.map { "\"\($0)\"" }.joined(separator: ",") + "]"
    }

    private static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "boolean"
        case .number: value.intValue != nil ? "integer" : "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    private mutating func expectString(_ value: JSONValue, at path: String) -> String? {
        if case .string(let s) = value { return s }
        report(path, "instance type (\(Self.typeName(value))) does not match any allowed primitive type (allowed: [\"string\"])")
        return nil
    }

    private mutating func expectEnum(_ value: JSONValue, _ allowed: [String], at path: String) -> String? {
        guard let s = expectString(value, at: path) else { return nil }
        guard allowed.contains(s) else {
            report(path, "instance value (\"\(s)\") not found in enum (possible values: \(Self.quotedList(allowed)))")
            return nil
        }
        return s
    }

    /// A JSON integer in `minimum...Int32.max`.
    private mutating func expectInteger(_ value: JSONValue, minimum: Int, at path: String) -> Int? {
        guard case .number = value, let i = value.intValue else {
            report(path, "instance type (\(Self.typeName(value))) does not match any allowed primitive type (allowed: [\"integer\"])")
            return nil
        }
        if i < minimum {
            report(path, "numeric instance is lower than the required minimum (minimum: \(minimum), found: \(i))")
            return nil
        }
        if i > Rules.maxInteger {
            report(path, "numeric instance is greater than the required maximum (maximum: \(Rules.maxInteger), found: \(i))")
            return nil
        }
        return i
    }

    /// What validation of one rule learned, for the cross-rule checks.
    private struct RuleSummary {
        var index: Int
        var priority: Int?
        var tagStatus: String?
        var storageClass: String
        var prefixes: [String]
    }

    mutating func check(_ document: JSONValue) {
        guard case .object(let top) = document else {
            report("", "instance type (\(Self.typeName(document))) does not match any allowed primitive type (allowed: [\"object\"])")
            return
        }
        checkKeys(top, allowed: Rules.topLevelKeys, required: ["rules"], at: "")
        guard let rulesValue = top["rules"] else { return }
        guard case .array(let rules) = rulesValue else {
            report("rules", "instance type (\(Self.typeName(rulesValue))) does not match any allowed primitive type (allowed: [\"array\"])")
            return
        }
        if rules.isEmpty {
            report("rules", "array is too short: must have at least 1 elements but instance has 0 elements")
        } else if rules.count > Rules.maxRules {
            report("rules", "array is too long: must have at most \(Rules.maxRules) elements but instance has \(rules.count) elements")
        }
        let summaries = rules.enumerated().compactMap { index, rule in checkRule(rule, index: index) }
        checkAcrossRules(summaries)
    }

    private mutating func checkRule(_ rule: JSONValue, index: Int) -> RuleSummary? {
        let path = "rules[\(index)]"
        guard case .object(let r) = rule else {
            report(path, "instance type (\(Self.typeName(rule))) does not match any allowed primitive type (allowed: [\"object\"])")
            return nil
        }
        checkKeys(r, allowed: Rules.ruleKeys, required: ["rulePriority", "selection", "action"], at: path)
        var summary = RuleSummary(index: index, priority: nil, tagStatus: nil, storageClass: "standard", prefixes: [])
        if let p = r["rulePriority"] {
            summary.priority = expectInteger(p, minimum: 1, at: "\(path).rulePriority")
        }
        if let d = r["description"] { _ = expectString(d, at: "\(path).description") }

        var actionType: String?
        if let actionValue = r["action"] {
            let actionPath = "\(path).action"
            if case .object(let action) = actionValue {
                checkKeys(action, allowed: Rules.actionKeys, required: ["type"], at: actionPath)
                if let t = action["type"] { actionType = expectEnum(t, Rules.actionTypes, at: "\(actionPath).type") }
                if let t = action["targetStorageClass"] {
                    _ = expectEnum(t, ["archive"], at: "\(actionPath).targetStorageClass")
                }
                if actionType == "transition", action["targetStorageClass"] == nil {
                    report(actionPath, "action type \"transition\" requires targetStorageClass \"archive\"")
                } else if actionType == "expire", action["targetStorageClass"] != nil {
                    report("\(actionPath).targetStorageClass", "targetStorageClass is only allowed with action type \"transition\"")
                }
            } else {
                report(actionPath, "instance type (\(Self.typeName(actionValue))) does not match any allowed primitive type (allowed: [\"object\"])")
            }
        }

        if let selectionValue = r["selection"] {
            let selectionPath = "\(path).selection"
            if case .object(let selection) = selectionValue {
                checkSelection(selection, at: selectionPath, actionType: actionType, summary: &summary)
            } else {
                report(selectionPath, "instance type (\(Self.typeName(selectionValue))) does not match any allowed primitive type (allowed: [\"object\"])")
            }
        }
        return summary
    }

    private mutating func checkSelection(_ s: [String: JSONValue], at path: String, actionType: String?, summary: inout RuleSummary) {
        checkKeys(s, allowed: Rules.selectionKeys, required: ["tagStatus", "countType", "countNumber"], at: path)
        let tagStatus = s["tagStatus"].flatMap { expectEnum($0, Rules.tagStatuses, at: "\(path).tagStatus") }
        summary.tagStatus = tagStatus
        if let sc = s["storageClass"], let storageClass = expectEnum(sc, Rules.storageClasses, at: "\(path).storageClass") {
            summary.storageClass = storageClass
        }

        // Tag lists.
        _ = s["tagPatternList"].flatMap { checkTagList($0, at: "\(path).tagPatternList", isPattern: true) }
        let prefixes = s["tagPrefixList"].flatMap { checkTagList($0, at: "\(path).tagPrefixList", isPattern: false) }
        summary.prefixes = prefixes ?? []
        switch tagStatus {
        case "tagged":
            if s["tagPatternList"] == nil, s["tagPrefixList"] == nil {
                report(path, "tagStatus \"tagged\" requires one of tagPatternList or tagPrefixList")
            } else if s["tagPatternList"] != nil, s["tagPrefixList"] != nil {
                report(path, "tagStatus \"tagged\" allows only one of tagPatternList and tagPrefixList, not both")
            }
        case let status? where status == "untagged" || status == "any":
            for key in ["tagPatternList", "tagPrefixList"] where s[key] != nil {
                report("\(path).\(key)", "\(key) is not allowed when tagStatus is \"\(status)\"")
            }
        default: break
        }

        // Counting.
        let countType = s["countType"].flatMap { expectEnum($0, Rules.countTypes, at: "\(path).countType") }
        if let n = s["countNumber"] { _ = expectInteger(n, minimum: 1, at: "\(path).countNumber") }
        let unitValue = s["countUnit"]
        if let countType {
            if countType == "imageCountMoreThan" {
                if unitValue != nil {
                    report("\(path).countUnit", "countUnit is not allowed when countType is \"imageCountMoreThan\"")
                }
            } else if let unitValue {
                _ = expectEnum(unitValue, ["days"], at: "\(path).countUnit")
            } else {
                report(path, "countType \"\(countType)\" requires countUnit \"days\"")
            }
        } else if let unitValue {
            _ = expectEnum(unitValue, ["days"], at: "\(path).countUnit")
        }

        // Archive-era combinations.
        if countType == "sinceImagePulled", let actionType, actionType != "transition" {
            report("\(path).countType", "countType \"sinceImagePulled\" is only allowed with action type \"transition\"")
        }
        if countType == "sinceImageTransitioned" {
            if let actionType, actionType != "expire" {
                report("\(path).countType", "countType \"sinceImageTransitioned\" is only allowed with action type \"expire\"")
            }
            if summary.storageClass != "archive" {
                report("\(path).countType", "countType \"sinceImageTransitioned\" requires storageClass \"archive\"")
            }
        }
        if actionType == "transition", summary.storageClass == "archive" {
            report("\(path).storageClass", "action type \"transition\" applies to images in storageClass \"standard\" only")
        }
    }

    /// A non-empty list of non-empty strings; patterns have at most four `*`. Returns the strings.
    private mutating func checkTagList(_ value: JSONValue, at path: String, isPattern: Bool) -> [String]? {
        guard case .array(let items) = value else {
            report(path, "instance type (\(Self.typeName(value))) does not match any allowed primitive type (allowed: [\"array\"])")
            return nil
        }
        if items.isEmpty {
            report(path, "array is too short: must have at least 1 elements but instance has 0 elements")
        }
        var strings: [String] = []
        for (i, item) in items.enumerated() {
            let itemPath = "\(path)[\(i)]"
            guard let s = expectString(item, at: itemPath) else { continue }
            if s.isEmpty {
                report(itemPath, "string is too short: must have at least 1 characters")
                continue
            }
            if isPattern {
                let stars = s.filter { $0 == "*" }.count
                if stars > Rules.maxWildcardsPerPattern {
                    report(itemPath, "tag pattern \"\(s)\" has \(stars) wildcards (*); at most \(Rules.maxWildcardsPerPattern) are allowed")
                }
            }
            strings.append(s)
        }
        return strings
    }

    private mutating func checkAcrossRules(_ rules: [RuleSummary]) {
        // Unique priorities.
        var byPriority: [Int: Int] = [:]
        for rule in rules {
            guard let p = rule.priority else { continue }
            if let first = byPriority[p] {
                report("rules[\(rule.index)].rulePriority", "rulePriority \(p) is already used by rules[\(first)]; priorities must be unique")
            } else {
                byPriority[p] = rule.index
            }
        }
        // An `any` rule must have the highest priority.
        if let highest = rules.compactMap(\.priority).max() {
            for rule in rules where rule.tagStatus == "any" {
                if let p = rule.priority, p != highest {
                    report("rules[\(rule.index)].rulePriority",
                           "a rule with tagStatus \"any\" must have the highest rulePriority (\(p) is lower than \(highest))")
                }
            }
        }
        // Tag prefixes unique across rules.
        var prefixOwner: [String: Int] = [:]
        for rule in rules {
            for prefix in Set(rule.prefixes).sorted() {
                if let first = prefixOwner[prefix] {
                    report("rules[\(rule.index)].selection.tagPrefixList",
                           "tag prefix \"\(prefix)\" is already used by rules[\(first)]; tag prefixes must be unique across rules")
                } else {
                    prefixOwner[prefix] = rule.index
                }
            }
        }
        // One untagged rule per storage class.
        var untaggedOwner: [String: Int] = [:]
        for rule in rules where rule.tagStatus == "untagged" {
            if let first = untaggedOwner[rule.storageClass] {
                report("rules[\(rule.index)].selection.tagStatus",
                       "only one rule per storage class may select untagged images; rules[\(first)] already does for \"\(rule.storageClass)\"")
            } else {
                untaggedOwner[rule.storageClass] = rule.index
            }
        }
    }
}

public struct LifecyclePolicyViolation: Sendable, Hashable, CustomStringConvertible {
    /// Path inside the document, e.g. `rules[0].selection.tagStatus`; empty for the whole document.
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}
