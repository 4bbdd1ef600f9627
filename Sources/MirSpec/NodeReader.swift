import MirModel
import Yams

/// Collects the diagnostics of one document and records where each field was written, so that checks
/// made later (across files) can still point at a line and column.
final class DocumentSink {
    /// The file as displayed; nil for documents without a file (the cluster API).
    let file: String?
    private(set) var diagnostics: [Diagnostic] = []
    /// Field path → where its value was written.
    private(set) var locations: [String: SourceLocation] = [:]

    init(file: String?) { self.file = file }

    var errorCount: Int { diagnostics.filter { $0.severity == .error }.count }

    func location(of node: Node?) -> SourceLocation? {
        guard let file, let mark = node?.mark else { return nil }
        return SourceLocation(file: file, line: mark.line, column: mark.column)
    }

    func record(_ path: String, _ node: Node) {
        if locations[path] == nil, let location = location(of: node) { locations[path] = location }
    }

    func error(_ message: String, at node: Node?, field path: String, code: Diagnostic.Code = .invalidValue) {
        diagnostics.append(Diagnostic(.error, at: location(of: node), message, field: path.isEmpty ? nil : path, code: code))
    }

    func appendDiagnostic(_ diagnostic: Diagnostic) {
        diagnostics.append(diagnostic)
    }

    func note(_ message: String, at node: Node?, code: Diagnostic.Code = .skippedDocument) {
        diagnostics.append(Diagnostic(.note, at: location(of: node), message, code: code))
    }

    /// Marks every diagnostic of this document as concerning the ManagedImage `name`.
    func attribute(to name: String) {
        for index in diagnostics.indices where diagnostics[index].image == nil { diagnostics[index].image = name }
    }
}

extension String {
    /// `parent.key`, or `key` at the root.
    func dot(_ key: String) -> String { isEmpty ? key : self + "." + key }
    /// `parent[index]`.
    func at(_ index: Int) -> String { self + "[\(index)]" }
}

/// A YAML scalar classified by the YAML 1.2 core schema (no `yes`/`no` booleans), keeping the raw text
/// so that `3.10` stays "3.10".
enum ScalarValue: Equatable {
    case null
    case bool(Bool)
    case int(Int, text: String)
    case float(Double, text: String)
    case string(String)
    case unsupportedTag(String)

    init(_ scalar: Node.Scalar) {
        let tag = scalar.tag.description
        let text = scalar.string
        let core = ["", "!", Tag.Name.str.rawValue, Tag.Name.int.rawValue, Tag.Name.float.rawValue,
                    Tag.Name.bool.rawValue, Tag.Name.null.rawValue]
        guard core.contains(tag) else { self = .unsupportedTag(tag); return }
        if scalar.style != .plain || tag == "!" {
            self = .string(text)
            return
        }
        switch text {
        case "", "~", "null", "Null", "NULL": self = .null; return
        case "true", "True", "TRUE": self = .bool(true); return
        case "false", "False", "FALSE": self = .bool(false); return
        default: break
        }
        if let int = ScalarValue.integer(text) { self = .int(int, text: text); return }
        if let float = ScalarValue.float(text) { self = .float(float, text: text); return }
        self = .string(text)
    }

    static func integer(_ text: String) -> Int? {
        var digits = Substring(text)
        var sign = 1
        if digits.first == "-" || digits.first == "+" { sign = digits.first == "-" ? -1 : 1; digits = digits.dropFirst() }
        guard !digits.isEmpty else { return nil }
        if digits.hasPrefix("0x") { return Int(digits.dropFirst(2), radix: 16).map { $0 * sign } }
        if digits.hasPrefix("0o") { return Int(digits.dropFirst(2), radix: 8).map { $0 * sign } }
        guard digits.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
        return Int(digits).map { $0 * sign }
    }

    static func float(_ text: String) -> Double? {
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: break
        }
        let allowed = text.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || "+-.eE".unicodeScalars.contains($0) }
        guard allowed, text.unicodeScalars.contains(where: { ("0"..."9").contains($0) }) else { return nil }
        return Double(text)
    }

    /// "a string", "a number", … for messages.
    var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .float: return "a number"
        case .string: return "a string"
        case .unsupportedTag(let tag): return "a value tagged \(tag)"
        }
    }
}

/// One entry of a mapping, with its field path.
struct Entry {
    let key: Node
    let value: Node
    let path: String
}

/// Typed, located access to composed YAML nodes. Every wrong type, unknown field or missing field is
/// reported to the sink with the node's position and field path.
struct NodeReader {
    let sink: DocumentSink
    /// When true, string fields take only what the Kubernetes API takes as a string: a plain scalar that
    /// YAML (1.2 core, or 1.1 as kubectl reads it) resolves to a number, a boolean or null is an error.
    /// ManagedImage documents are read this way; mir's own config is not an API object and is not.
    var apiTypes: Bool = false

    init(sink: DocumentSink, apiTypes: Bool = false) {
        self.sink = sink
        self.apiTypes = apiTypes
    }

    static func kindDescription(of node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let scalar): return ScalarValue(scalar).kindDescription
        case .alias: return "an alias"
        }
    }

    /// True for an absent value written as `key:` or `key: null`.
    static func isNull(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node { return ScalarValue(scalar) == .null }
        return false
    }

    /// The entries of a mapping keyed by field name. Keys not in `allowed` are reported as unknown
    /// fields (with `special` messages for some), and so are non-string keys.
    func entries(_ node: Node, at path: String, allowed: [String], special: [String: String] = [:]) -> [String: Entry]? {
        sink.record(path, node)
        guard case .mapping(let mapping) = node else {
            sink.error("expected a mapping, found \(NodeReader.kindDescription(of: node))", at: node, field: path, code: .wrongType)
            return nil
        }
        var result: [String: Entry] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                sink.error("mapping keys must be strings, found \(NodeReader.kindDescription(of: keyNode))", at: keyNode, field: path, code: .wrongType)
                continue
            }
            let key = keyScalar.string
            let fieldPath = path.dot(key)
            guard allowed.contains(key) else {
                if let message = special[key] {
                    sink.error(message, at: keyNode, field: fieldPath, code: .unknownField)
                } else {
                    sink.error(NodeReader.unknownFieldMessage(key, allowed: allowed, in: path), at: keyNode, field: fieldPath, code: .unknownField)
                }
                continue
            }
            sink.record(fieldPath, value)
            result[key] = Entry(key: keyNode, value: value, path: fieldPath)
        }
        return result
    }

    static func unknownFieldMessage(_ key: String, allowed: [String], in path: String) -> String {
        var message = "unknown field \(SpecGrammar.quoted(key))"
        if !path.isEmpty { message += " in \(path)" }
        if key == "<<" { return message + " (YAML merge keys are not supported)" }
        if let close = allowed.min(by: { editDistance(key, $0) < editDistance(key, $1) }),
           editDistance(key, close) <= max(2, key.count / 4) {
            return message + "; did you mean \(SpecGrammar.quoted(close))?"
        }
        return message + "; allowed: " + allowed.joined(separator: ", ")
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a.lowercased()), y = Array(b.lowercased())
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous = Array(0...y.count)
        for i in 1...x.count {
            var current = [i] + Array(repeating: 0, count: y.count)
            for j in 1...y.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[y.count]
    }

    /// A string value. Numbers are taken as their raw text (`3.10` → "3.10"); booleans, null, lists and
    /// mappings are wrong types.
    func string(_ entry: Entry) -> String? { string(entry.value, at: entry.path) }

    func string(_ node: Node, at path: String) -> String? {
        if case .scalar(let scalar) = node {
            let value = ScalarValue(scalar)
            if apiTypes, let apiValue = APIScalar.nonString(scalar, value) {
                sink.error(NodeReader.notAStringMessage(field: path, text: scalar.string, as: apiValue),
                           at: node, field: path, code: .notAString)
                return nil
            }
            switch value {
            case .string(let s): return s
            case .int(_, let text), .float(_, let text): return text
            case .bool: sink.error("expected a string, found a boolean (quote it if you mean the text)", at: node, field: path, code: .wrongType)
            case .null: sink.error("expected a string, found null", at: node, field: path, code: .wrongType)
            case .unsupportedTag(let tag): sink.error("unsupported YAML tag \(SpecGrammar.quoted(tag))", at: node, field: path, code: .unsupportedYAML)
            }
            return nil
        }
        sink.error("expected a string, found \(NodeReader.kindDescription(of: node))", at: node, field: path, code: .wrongType)
        return nil
    }

    /// `pythonVersion must be a string; unquoted 3.10 is the number 3.1 in YAML, write "3.10"`.
    static func notAStringMessage(field path: String, text: String, as value: APIScalar) -> String {
        let field = NodeReader.fieldName(path)
        let subject = field.isEmpty ? "the value" : field
        switch value {
        case .null:
            return "\(subject) must be a string, found null"
        case .number(let shown):
            return "\(subject) must be a string; unquoted \(text) is the number \(shown) in YAML, write \(SpecGrammar.quoted(text))"
        case .bool(let b, let yaml11):
            let version = yaml11 ? " 1.1 (as kubectl reads it)" : ""
            return "\(subject) must be a string; unquoted \(text) is the boolean \(b) in YAML\(version), write \(SpecGrammar.quoted(text))"
        }
    }

    /// The last key of a field path: `spec.pipRequirements[0].name` → `name`.
    static func fieldName(_ path: String) -> String {
        for component in pathComponents(path).reversed() { if case .key(let key) = component { return key } }
        return ""
    }

    func bool(_ entry: Entry) -> Bool? {
        if case .scalar(let scalar) = entry.value, case .bool(let b) = ScalarValue(scalar) { return b }
        sink.error("expected a boolean (true or false), found \(NodeReader.kindDescription(of: entry.value))", at: entry.value, field: entry.path, code: .wrongType)
        return nil
    }

    func int(_ entry: Entry, range: ClosedRange<Int>) -> Int? {
        guard case .scalar(let scalar) = entry.value, case .int(let n, _) = ScalarValue(scalar) else {
            sink.error("expected an integer, found \(NodeReader.kindDescription(of: entry.value))", at: entry.value, field: entry.path, code: .wrongType)
            return nil
        }
        guard range.contains(n) else {
            sink.error("must be between \(range.lowerBound) and \(range.upperBound), found \(n)", at: entry.value, field: entry.path)
            return nil
        }
        return n
    }

    func number(_ entry: Entry, range: ClosedRange<Double>) -> Double? {
        var value: Double?
        if case .scalar(let scalar) = entry.value {
            switch ScalarValue(scalar) {
            case .int(let n, _): value = Double(n)
            case .float(let d, _): value = d
            default: break
            }
        }
        guard let value else {
            sink.error("expected a number, found \(NodeReader.kindDescription(of: entry.value))", at: entry.value, field: entry.path, code: .wrongType)
            return nil
        }
        guard value.isFinite else {
            let written = value.isNaN ? "NaN" : (value < 0 ? "-infinity" : "infinity")
            sink.error("expected a finite number, found \(written): not a finite number", at: entry.value, field: entry.path, code: .wrongType)
            return nil
        }
        guard range.contains(value) else {
            sink.error("must be between \(range.lowerBound) and \(range.upperBound), found \(value)", at: entry.value, field: entry.path)
            return nil
        }
        return value
    }

    /// The elements of a list with their paths; `key: null` counts as an empty list.
    func list(_ entry: Entry) -> [(node: Node, path: String)]? {
        if NodeReader.isNull(entry.value) { return [] }
        guard case .sequence(let sequence) = entry.value else {
            sink.error("expected a list, found \(NodeReader.kindDescription(of: entry.value))", at: entry.value, field: entry.path, code: .wrongType)
            return nil
        }
        return sequence.enumerated().map { index, node in
            let path = entry.path.at(index)
            sink.record(path, node)
            return (node, path)
        }
    }

    /// A mapping of strings to strings (labels, annotations).
    func stringMap(_ entry: Entry) -> [String: String]? {
        if NodeReader.isNull(entry.value) { return [:] }
        guard case .mapping(let mapping) = entry.value else {
            sink.error("expected a mapping of strings, found \(NodeReader.kindDescription(of: entry.value))", at: entry.value, field: entry.path, code: .wrongType)
            return nil
        }
        var result: [String: String] = [:]
        var ok = true
        for (keyNode, valueNode) in mapping {
            guard let key = string(keyNode, at: entry.path) else { ok = false; continue }
            guard let value = string(valueNode, at: entry.path.dot(key)) else { ok = false; continue }
            result[key] = value
        }
        return ok ? result : nil
    }

    /// A YAML value as JSON: numbers as numbers, booleans, null, strings; keys must be strings.
    func json(_ node: Node, at path: String) -> JSONValue? {
        sink.record(path, node)
        switch node {
        case .scalar(let scalar):
            switch ScalarValue(scalar) {
            case .null: return .null
            case .bool(let b): return .bool(b)
            case .int(let n, _): return .number(Double(n))
            case .float(let d, _):
                guard d.isFinite else {
                    sink.error("numbers must be finite", at: node, field: path)
                    return nil
                }
                return .number(d)
            case .string(let s): return .string(s)
            case .unsupportedTag(let tag):
                sink.error("unsupported YAML tag \(SpecGrammar.quoted(tag))", at: node, field: path, code: .unsupportedYAML)
                return nil
            }
        case .sequence(let sequence):
            var values: [JSONValue] = []
            var ok = true
            for (index, element) in sequence.enumerated() {
                if let value = json(element, at: path.at(index)) { values.append(value) } else { ok = false }
            }
            return ok ? .array(values) : nil
        case .mapping(let mapping):
            var object: [String: JSONValue] = [:]
            var ok = true
            for (keyNode, valueNode) in mapping {
                guard case .scalar(let keyScalar) = keyNode else {
                    sink.error("mapping keys must be strings", at: keyNode, field: path)
                    ok = false
                    continue
                }
                if let value = json(valueNode, at: path.dot(keyScalar.string)) { object[keyScalar.string] = value } else { ok = false }
            }
            return ok ? .object(object) : nil
        case .alias:
            sink.error("unexpected alias", at: node, field: path)
            return nil
        }
    }

    /// The node at a relative path like `rules[0].selection.countNumber` inside `root`, or the nearest
    /// existing ancestor.
    static func node(at relativePath: String, in root: Node) -> Node {
        var current = root
        for component in pathComponents(relativePath) {
            switch (component, current) {
            case (.key(let key), .mapping(let mapping)):
                guard let next = mapping.first(where: { $0.key.scalar?.string == key })?.value else { return current }
                current = next
            case (.index(let index), .sequence(let sequence)):
                guard index >= 0, index < sequence.count else { return current }
                current = sequence[index]
            default:
                return current
            }
        }
        return current
    }

    enum PathComponent: Equatable { case key(String), index(Int) }

    static func pathComponents(_ path: String) -> [PathComponent] {
        var result: [PathComponent] = []
        var key = ""
        var index: String?
        for character in path {
            if var digits = index {
                if character == "]" {
                    result.append(.index(Int(digits) ?? -1))
                    index = nil
                } else {
                    digits.append(character)
                    index = digits
                }
                continue
            }
            switch character {
            case ".":
                if !key.isEmpty { result.append(.key(key)); key = "" }
            case "[":
                if !key.isEmpty { result.append(.key(key)); key = "" }
                index = ""
            default:
                key.append(character)
            }
        }
        if !key.isEmpty { result.append(.key(key)) }
        return result
    }
}

/// What the Kubernetes API receives for a plain YAML scalar that is not a string. kubectl turns YAML into JSON
/// with YAML 1.1 rules (`yes`/`no`/`on`/`off` are booleans, `1_000` and `0b101` are numbers); the YAML 1.2 core
/// schema (what mir reads) agrees on the rest. A string field must be neither.
enum APIScalar: Equatable {
    case null
    case bool(Bool, yaml11: Bool)
    /// The number as JSON shows it (`3.10` → `3.1`).
    case number(String)

    static let yaml11True: Set<String> = ["y", "Y", "yes", "Yes", "YES", "on", "On", "ON"]
    static let yaml11False: Set<String> = ["n", "N", "no", "No", "NO", "off", "Off", "OFF"]

    /// nil when the scalar is a string for both YAML 1.2 (mir) and YAML 1.1 (kubectl): quoted, tagged `!`, or a
    /// plain scalar that resolves to no other type.
    static func nonString(_ scalar: Node.Scalar, _ value: ScalarValue) -> APIScalar? {
        let text = scalar.string
        switch value {
        case .null: return .null
        case .bool(let b): return .bool(b, yaml11: false)
        case .int(let n, _): return .number(String(n))
        case .float(let d, _): return .number(shown(d))
        case .unsupportedTag: return nil
        case .string:
            guard scalar.style == .plain, scalar.tag.description != "!" else { return nil }
            if yaml11True.contains(text) { return .bool(true, yaml11: true) }
            if yaml11False.contains(text) { return .bool(false, yaml11: true) }
            // YAML 1.1 integers: underscores allowed, 0b binary, leading-0 octal.
            let plain = text.replacingOccurrences(of: "_", with: "")
            if plain != text || plain.hasPrefix("0b") || plain.hasPrefix("-0b") || plain.hasPrefix("+0b") {
                if let n = yaml11Integer(plain) { return .number(String(n)) }
                if plain != text, let d = ScalarValue.float(plain), d.isFinite { return .number(shown(d)) }
            }
            return nil
        }
    }

    static func yaml11Integer(_ text: String) -> Int? {
        var digits = Substring(text)
        var sign = 1
        if digits.first == "-" || digits.first == "+" { sign = digits.first == "-" ? -1 : 1; digits = digits.dropFirst() }
        guard !digits.isEmpty else { return nil }
        if digits.hasPrefix("0b") { return Int(digits.dropFirst(2), radix: 2).map { $0 * sign } }
        return ScalarValue.integer(String(digits)).map { $0 * sign }
    }

    /// A double as JSON writes it: integral values without a fraction.
    static func shown(_ d: Double) -> String {
        if d.isFinite, d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
        return String(d)
    }
}
