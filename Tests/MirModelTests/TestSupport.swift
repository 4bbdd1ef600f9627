import MirModel

/// A small deterministic random number generator (SplitMix64) so that generated documents follow from a seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Writes JSON text with object keys in a random order and random insignificant whitespace, so that tests
/// can check that meaning, not spelling, decides equality.
func scrambledText(_ value: JSONValue, using rng: inout SplitMix64) -> String {
    let spaces = ["", " ", "\n", "\t", "  \n "]
    func ws() -> String { spaces.randomElement(using: &rng)! }
    switch value {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .number(let n):
        // Integral numbers are sometimes written with a fraction, as other JSON writers do.
        if let i = value.intValue { return Bool.random(using: &rng) ? "\(i)" : "\(i).0" }
        return "\(n)"
    case .string: return value.canonicalText
    case .array(let a):
        return "[" + ws() + a.map { scrambledText($0, using: &rng) }.joined(separator: "," + ws()) + ws() + "]"
    case .object(let o):
        let keys = o.keys.shuffled(using: &rng)
        let members = keys.map { JSONValue.string($0).canonicalText + ws() + ":" + ws() + scrambledText(o[$0]!, using: &rng) }
        return "{" + ws() + members.joined(separator: "," + ws()) + ws() + "}"
    }
}

/// One lifecycle rule as a JSON object.
func lifecycleRule(priority: Int, selection: [String: JSONValue], action: [String: JSONValue] = ["type": .string("expire")],
                   description: String? = nil) -> JSONValue {
    var rule: [String: JSONValue] = [
        "rulePriority": .number(Double(priority)),
        "selection": .object(selection),
        "action": .object(action),
    ]
    if let description { rule["description"] = .string(description) }
    return .object(rule)
}

func policy(_ rules: JSONValue...) -> JSONValue { .object(["rules": .array(rules)]) }

func strings(_ s: String...) -> JSONValue { .array(s.map(JSONValue.string)) }

/// A random policy that is valid by ECR's rules: tagged rules with unique prefixes or patterns, at most one
/// untagged rule, and optionally an `any` rule with the highest priority.
func randomValidPolicy(using rng: inout SplitMix64) -> JSONValue {
    var rules: [JSONValue] = []
    var priorities = Array(1...200).shuffled(using: &rng)
    let taggedCount = Int.random(in: 1...6, using: &rng)
    for i in 0..<taggedCount {
        let usePrefixes = Bool.random(using: &rng)
        let listCount = Int.random(in: 1...3, using: &rng)
        let entries = (0..<listCount).map { j in usePrefixes ? "r\(i)p\(j)-" : "r\(i)*v\(j)*" }
        var selection: [String: JSONValue] = [
            "tagStatus": .string("tagged"),
            usePrefixes ? "tagPrefixList" : "tagPatternList": .array(entries.map(JSONValue.string)),
            "countNumber": .number(Double(Int.random(in: 1...500, using: &rng))),
        ]
        if Bool.random(using: &rng) {
            selection["countType"] = .string("imageCountMoreThan")
        } else {
            selection["countType"] = .string("sinceImagePushed")
            selection["countUnit"] = .string("days")
        }
        rules.append(lifecycleRule(priority: priorities.removeLast(), selection: selection,
                                   description: Bool.random(using: &rng) ? "rule \(i)" : nil))
    }
    if Bool.random(using: &rng) {
        rules.append(lifecycleRule(priority: priorities.removeLast(), selection: [
            "tagStatus": .string("untagged"), "countType": .string("sinceImagePushed"),
            "countUnit": .string("days"), "countNumber": .number(Double(Int.random(in: 1...90, using: &rng))),
        ]))
    }
    if Bool.random(using: &rng) {
        rules.append(lifecycleRule(priority: 1000, selection: [
            "tagStatus": .string("any"), "countType": .string("imageCountMoreThan"),
            "countNumber": .number(Double(Int.random(in: 1...1000, using: &rng))),
        ]))
    }
    return .object(["rules": .array(rules.shuffled(using: &rng))])
}
