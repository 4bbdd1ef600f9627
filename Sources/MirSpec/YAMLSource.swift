import Foundation
import MirModel
import Yams

/// Limits that keep hostile YAML contained (Yams has no alias-expansion protection of its own).
public struct YAMLLimits: Sendable, Hashable {
    /// Largest file read, in bytes.
    public var maxFileBytes: Int
    /// Nodes per file, counting every alias as if it were expanded.
    public var maxNodes: Int
    /// Deepest nesting of mappings and sequences.
    public var maxDepth: Int

    public init(maxFileBytes: Int = 1 << 20, maxNodes: Int = 100_000, maxDepth: Int = 100) {
        self.maxFileBytes = maxFileBytes
        self.maxNodes = maxNodes
        self.maxDepth = maxDepth
    }

    public static let standard = YAMLLimits()
}

/// The composed documents of one YAML file, and the error (if any) that stopped reading it.
struct YAMLFileContents {
    var documents: [Node] = []
    var diagnostics: [Diagnostic] = []
}

/// Reads files into composed YAML documents without ever constructing values from them, so that size,
/// encoding and alias-expansion limits are enforced before anything is decoded.
enum YAMLSource {
    /// Reads a file as UTF-8 text, refusing files over the size limit and bytes that are not UTF-8.
    static func readText(path: String, displayPath: String, limits: YAMLLimits) -> Result<String, Diagnostic> {
        let start = SourceLocation(file: displayPath, line: 1, column: 1)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            return .failure(Diagnostic(at: start, "cannot read file", code: .unreadableFile))
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: limits.maxFileBytes + 1) ?? Data()
        } catch {
            return .failure(Diagnostic(at: start, "cannot read file: \(error.localizedDescription)", code: .unreadableFile))
        }
        if data.count > limits.maxFileBytes {
            return .failure(Diagnostic(at: start,
                "file is larger than the limit of \(limits.maxFileBytes) bytes (\(limits.maxFileBytes / 1024) KiB); refusing to read it", code: .fileTooLarge))
        }
        return decodeUTF8(data, file: displayPath)
    }

    /// Decodes UTF-8, reporting the line and column of the first byte that is not UTF-8.
    static func decodeUTF8(_ data: Data, file: String) -> Result<String, Diagnostic> {
        var iterator = data.makeIterator()
        var decoder = UTF8()
        var line = 1
        var column = 1
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                offset += UTF8.width(scalar)
                if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
            case .emptyInput:
                return .success(String(decoding: data, as: UTF8.self))
            case .error:
                let byte = offset < data.count ? data[data.startIndex + offset] : 0
                let hex = String(byte, radix: 16, uppercase: true)
                return .failure(Diagnostic(at: SourceLocation(file: file, line: line, column: column),
                    "file is not valid UTF-8 (byte 0x\(hex.count == 1 ? "0" + hex : hex) at offset \(offset)); specs must be UTF-8 text", code: .notUTF8))
            }
        }
    }

    /// Composes every document of `text`. A syntax error anywhere (also in a later document) is reported
    /// at its own line and column; documents before it are kept. Stops at the node budget.
    static func documents(in text: String, file: String, limits: YAMLLimits) -> YAMLFileContents {
        var contents = YAMLFileContents()
        var budget = limits.maxNodes
        do {
            let parser = try Parser(yaml: text, resolver: .basic, constructor: .default, encoding: .utf8)
            while let root = try parser.nextRoot() {
                if let problem = spend(root, budget: &budget, depth: 1, limits: limits) {
                    let location = root.mark.map { SourceLocation(file: file, line: $0.line, column: $0.column) }
                        ?? SourceLocation(file: file, line: 1, column: 1)
                    contents.diagnostics.append(Diagnostic(at: location, problem, code: .yamlLimit))
                    return contents
                }
                contents.documents.append(root)
            }
        } catch let error as YamlError {
            contents.diagnostics.append(diagnostic(for: error, text: text, file: file))
        } catch {
            contents.diagnostics.append(Diagnostic(at: SourceLocation(file: file, line: 1, column: 1), "invalid YAML: \(error)", code: .yamlSyntax))
        }
        return contents
    }

    /// Counts nodes as if aliases were expanded (Yams substitutes the anchored node, so walking the tree
    /// expands them), stopping as soon as the budget is spent: the cost is bounded by the budget.
    static func spend(_ node: Node, budget: inout Int, depth: Int, limits: YAMLLimits) -> String? {
        budget -= 1
        if budget < 0 {
            return "document exceeds the limit of \(limits.maxNodes) YAML nodes per file (aliases count as expanded); refusing to read it"
        }
        if depth > limits.maxDepth {
            return "document nests deeper than \(limits.maxDepth) levels; refusing to read it"
        }
        switch node {
        case .scalar, .alias:
            return nil
        case .mapping(let mapping):
            for (key, value) in mapping {
                if let problem = spend(key, budget: &budget, depth: depth + 1, limits: limits)
                    ?? spend(value, budget: &budget, depth: depth + 1, limits: limits) {
                    return problem
                }
            }
        case .sequence(let sequence):
            for element in sequence {
                if let problem = spend(element, budget: &budget, depth: depth + 1, limits: limits) { return problem }
            }
        }
        return nil
    }

    /// A YAML error as a diagnostic at the error's own position.
    static func diagnostic(for error: YamlError, text: String, file: String) -> Diagnostic {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        func describe(_ context: YamlError.Context?, _ problem: String) -> String {
            guard let context else { return problem }
            return "\(problem) (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
        }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            return Diagnostic(at: at(mark), "invalid YAML: \(describe(context, problem))", code: .yamlSyntax)
        case let .duplicatedKeysInMapping(duplicates, context):
            let first = at(context.mark)
            let key = duplicates.sorted().first ?? ""
            let again = DuplicateKeys.secondOccurrence(of: key, firstAt: context.mark, in: text)
            let note = Diagnostic(.note, at: first, "\(SpecGrammar.quoted(key)) was first written here", code: .duplicateKey)
            return Diagnostic(at: again.map(at) ?? first,
                              "invalid YAML: duplicate key \(SpecGrammar.quoted(key)) in a mapping (Kubernetes would silently keep the last value)",
                              code: .duplicateKey, notes: again == nil ? [] : [note])
        case let .reader(problem, offset, value, _):
            let (line, column) = offset.map { lineAndColumn(ofCharacterOffset: $0, in: text) } ?? (1, 1)
            let detail = value >= 0 ? " (#\(String(value, radix: 16, uppercase: true)))" : ""
            return Diagnostic(at: SourceLocation(file: file, line: line, column: column), "invalid YAML: \(problem)\(detail)", code: .yamlSyntax)
        default:
            return Diagnostic(at: SourceLocation(file: file, line: 1, column: 1), "invalid YAML: \(error)", code: .yamlSyntax)
        }
    }

    static func lineAndColumn(ofCharacterOffset offset: Int, in text: String) -> (Int, Int) {
        var line = 1
        var column = 1
        for (index, character) in text.enumerated() {
            if index >= offset { break }
            if character == "\n" || character == "\r\n" { line += 1; column = 1 } else { column += character.unicodeScalars.count }
        }
        return (line, column)
    }
}

/// Where a duplicated key is written again. Yams reports a duplicate at its first occurrence only; the text is
/// parsed once more with that occurrence renamed (same length, so every other position stays put). If the key is
/// duplicated again, that error's position is the second occurrence; otherwise the mapping holding the renamed
/// key is found and the other key with the original name is the second occurrence.
enum DuplicateKeys {
    static func secondOccurrence(of key: String, firstAt mark: Mark, in text: String) -> Mark? {
        guard let renamed = rename(at: mark, key: key, in: text) else { return nil }
        do {
            let parser = try Parser(yaml: renamed.text, resolver: .basic, constructor: .default, encoding: .utf8)
            while let root = try parser.nextRoot() {
                if let found = find(key, beside: renamed.placeholder, in: root) { return found }
            }
        } catch YamlError.duplicatedKeysInMapping(let duplicates, let context) where duplicates.contains(key) {
            return context.mark
        } catch {
            return nil
        }
        return nil
    }

    /// The text with the key at `mark` renamed to a placeholder of the same length (in Unicode scalars).
    static func rename(at mark: Mark, key: String, in text: String) -> (text: String, placeholder: String)? {
        var scalars = Array(text.unicodeScalars)
        var line = 1
        var index = 0
        while line < mark.line, index < scalars.count {
            if scalars[index] == "\n" { line += 1 }
            index += 1
        }
        index += mark.column - 1
        guard index < scalars.count else { return nil }
        if scalars[index] == "\"" || scalars[index] == "'" { index += 1 }
        let keyScalars = Array(key.unicodeScalars)
        guard !keyScalars.isEmpty, index + keyScalars.count <= scalars.count,
              Array(scalars[index..<(index + keyScalars.count)]) == keyScalars else { return nil }
        // U+E000 (private use) cannot be a character of a real key here.
        let placeholderScalars = [Unicode.Scalar(0xE000)!] + keyScalars.dropFirst()
        scalars.replaceSubrange(index..<(index + keyScalars.count), with: placeholderScalars)
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        var placeholder = String.UnicodeScalarView()
        placeholder.append(contentsOf: placeholderScalars)
        return (String(view), String(placeholder))
    }

    static func find(_ key: String, beside placeholder: String, in node: Node) -> Mark? {
        switch node {
        case .mapping(let mapping):
            if mapping.contains(where: { $0.key.scalar?.string == placeholder }),
               let other = mapping.first(where: { $0.key.scalar?.string == key }) {
                return other.key.mark
            }
            for (k, v) in mapping {
                if let found = find(key, beside: placeholder, in: k) ?? find(key, beside: placeholder, in: v) { return found }
            }
        case .sequence(let sequence):
            for element in sequence { if let found = find(key, beside: placeholder, in: element) { return found } }
        case .scalar, .alias:
            break
        }
        return nil
    }
}
