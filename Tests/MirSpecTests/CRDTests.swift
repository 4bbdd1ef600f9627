import Foundation
import Testing
import PropertyBased
import MirModel
@testable import MirSpec

/// The committed CRD is `mir crd`'s output, and its patterns accept exactly what `mir validate`'s grammars accept.
@Suite("Generated CRD")
struct CRDTests {
    static let committed = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Manifests/crd/mir.dev_managedimages.yaml")

    @Test("Manifests/crd/mir.dev_managedimages.yaml is the generator's output (run `mir crd -o FILE` after changing the model)")
    func committedIsGenerated() throws {
        let text = try String(contentsOf: CRDTests.committed, encoding: .utf8)
        #expect(text == CRDGenerator.yaml(), "the committed CRD differs from `mir crd`; regenerate it")
        // The Helm chart ships a copy (Charts/mir/crds/); once the chart is in the package it must be the same output.
        let chart = CRDTests.committed.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Charts/mir/crds/mir.dev_managedimages.yaml")
        if FileManager.default.fileExists(atPath: chart.path) {
            #expect(try String(contentsOf: chart, encoding: .utf8) == CRDGenerator.yaml(), "Charts/mir/crds differs from `mir crd`")
        }
    }

    @Test("the generated YAML reads back as the generator's tree (every string survives quoting)")
    func yamlRoundTrip() throws {
        let sink = DocumentSink(file: "crd.yaml")
        let contents = YAMLSource.documents(in: CRDGenerator.yaml(), file: "crd.yaml", limits: .standard)
        #expect(contents.diagnostics.isEmpty)
        let root = try #require(contents.documents.first)
        let json = try #require(NodeReader(sink: sink).json(root, at: ""))
        #expect(json == CRDTests.json(CRDGenerator.document))
        #expect(sink.diagnostics.isEmpty)
    }

    static func json(_ value: YValue) -> JSONValue {
        switch value {
        case .map(let pairs): return .object(Dictionary(pairs.map { ($0.0, json($0.1)) }, uniquingKeysWith: { a, _ in a }))
        case .list(let items), .flow(let items): return .array(items.map(json))
        case .string(let s): return .string(s)
        case .int(let n): return .number(Double(n))
        case .bool(let b): return .bool(b)
        }
    }

    /// The schema of a field of the generated CRD, e.g. `spec.pipRequirements[].name`.
    static func schema(_ path: String) throws -> JSONValue {
        var node = json(CRDGenerator.document)["spec"]?["versions"]?.arrayValue?.first?["schema"]?["openAPIV3Schema"] ?? .null
        for component in path.split(separator: ".") {
            if component.hasSuffix("[]") {
                node = node["properties"]?[String(component.dropLast(2))]?["items"] ?? .null
            } else {
                node = node["properties"]?[String(component)] ?? .null
            }
        }
        return node
    }

    /// ECMA-262 semantics for an anchored pattern with NSRegularExpression: the match must span the whole string
    /// (ICU's `$` would also match before a final newline; ECMA's and RE2's do not).
    static func accepts(_ pattern: String, maxLength: Int?, _ value: String) throws -> Bool {
        if let maxLength, value.unicodeScalars.count > maxLength { return false }
        let regex = try NSRegularExpression(pattern: pattern)
        let range = NSRange(value.startIndex..., in: value)
        guard let match = regex.firstMatch(in: value, range: range) else { return false }
        return match.range == range
    }

    struct Grammar: Sendable, CustomStringConvertible {
        var field: String
        var tokens: [String]
        var grammar: @Sendable (String) -> Bool
        var description: String { field }
    }

    static let nameTokens = ["a", "z", "0", "9", "-", "--", ".", "_", "A", "+", "~", ";", " ", "\n", "é", "ab", "x1"]
    static let grammars: [Grammar] = [
        Grammar(field: "spec.base.managedImage", tokens: nameTokens, grammar: { SpecGrammar.isDNS1123Label($0) }),
        Grammar(field: "spec.base.imageType", tokens: nameTokens, grammar: { SpecGrammar.isDNS1123Label($0) }),
        Grammar(field: "spec.pythonVersion", tokens: ["3", "3.", "3.12", "3.9", "1", "0", "00", "10", "12345", ".", "..", "a", " ", "\n", "-"],
                grammar: { SpecGrammar.isPythonVersion($0) }),
        Grammar(field: "spec.pipRequirements[].name", tokens: nameTokens, grammar: { SpecGrammar.isPipProjectName($0) }),
        Grammar(field: "spec.pipRequirements[].versionSpecifier",
                tokens: ["==", "!=", "~=", "===", "<=", ">=", "<", ">", "=", "1", "0", "2", "10", ".", "*", ".*", "+", "a", "b", "c", "rc",
                         "RC", "alpha", "pre", "preview", "post", "rev", "r", "dev", "v", "V", "!", "1!", ",", "-", "_", "-1", "+local",
                         " ", "\n", ";", "x", "~"],
                grammar: { SpecGrammar.versionSpecifierProblem($0) == nil }),
        Grammar(field: "spec.packageRequirements[].name", tokens: nameTokens, grammar: { SpecGrammar.isPackageName($0, type: nil) }),
        Grammar(field: "spec.packageRequirements[].versionSpecifier",
                tokens: ["1", "0", "a", "B", ".", "+", "~", ":", "_", "-", " ", ";", "$", "\n", "deb12u2"],
                grammar: { SpecGrammar.isPackageVersion($0, type: nil) }),
    ]

    @Test("the CRD's patterns accept exactly the strings the grammars accept (drawn strings)", arguments: CRDTests.grammars)
    func patternsMatchGrammars(_ grammar: Grammar) async throws {
        let schema = try CRDTests.schema(grammar.field)
        let pattern = try #require(schema["pattern"]?.stringValue, "\(grammar.field) has no pattern")
        let maxLength = schema["maxLength"]?.intValue
        _ = try NSRegularExpression(pattern: pattern)
        let accepted = Counter()
        await propertyCheck(count: 400, input: Gen.element(of: grammar.tokens).array(of: 0...10)) { tokens in
            let value = tokens.map { $0! }.joined()
            let byGrammar = grammar.grammar(value)
            let byPattern = (try? CRDTests.accepts(pattern, maxLength: maxLength, value)) ?? false
            #expect(byGrammar == byPattern, "\(grammar.field): \(SpecGrammar.quoted(value)): grammar \(byGrammar), CRD pattern \(byPattern)")
            if byGrammar { accepted.add() }
        }
        // The draw is useful only if it hits both sides.
        #expect(accepted.value > 0, "no drawn string was valid for \(grammar.field)")
    }

    @Test("apt package names and versions: the CEL patterns match the grammars for type apt")
    func aptPatterns() async throws {
        let names = CRDTests.nameTokens
        await propertyCheck(count: 300, input: Gen.element(of: names).array(of: 0...8)) { tokens in
            let value = tokens.map { $0! }.joined()
            let byPattern = (try? CRDTests.accepts(SpecPatterns.aptPackageName, maxLength: SpecGrammar.maxTokenLength, value)) ?? false
            #expect(SpecGrammar.isPackageName(value, type: .apt) == byPattern, "\(SpecGrammar.quoted(value))")
            let version = "1" + value
            let versionByPattern = (try? CRDTests.accepts(SpecPatterns.aptPackageVersion, maxLength: SpecGrammar.maxTokenLength, version)) ?? false
            #expect(SpecGrammar.isPackageVersion(version, type: .apt) == versionByPattern, "\(SpecGrammar.quoted(version))")
        }
    }

    @Test("known specifiers: both sides agree on the corpus' values")
    func knownSpecifiers() throws {
        let schema = try CRDTests.schema("spec.pipRequirements[].versionSpecifier")
        let pattern = try #require(schema["pattern"]?.stringValue)
        let valid = [">=1.24,<2", "~=1.3", "==2.*", "6.1", "==2.1.0+cpu", "!=2.30.0,>=2.28", "===foo-bar", "1!2.0", "==1.0.post1",
                     "==v1.0", ">=1.0rc1", "==1.0-1", "~=2.1.dev3", "1.0+abc.7"]
        let invalid = ["", " ==1.0", "== 1.0", ">=1.0 ", ">=1.0,", ",>=1", "~=1", ">=1.*", ">=1.0+local", "1.0|x", "==1.0\n", "==", "1.*",
                       "v1.0", "==1.0.*.1", "=1.0", "1.0,2.0"]
        for value in valid {
            #expect(SpecGrammar.versionSpecifierProblem(value) == nil, "\(value)")
            #expect(try CRDTests.accepts(pattern, maxLength: SpecGrammar.maxSpecifierLength, value), "\(value)")
        }
        for value in invalid {
            #expect(SpecGrammar.versionSpecifierProblem(value) != nil, "\(value)")
            #expect(try !CRDTests.accepts(pattern, maxLength: SpecGrammar.maxSpecifierLength, value), "\(value)")
        }
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
