import Foundation
import MirModel
@testable import MirSpec

/// The corpus next to this file (see Corpus/README.md).
enum Corpus {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus").path

    static func config() throws -> MirConfig {
        try ConfigLoader.load(path: root + "/config.yaml")
    }

    /// Entry names (files and directories) of a corpus directory, sorted.
    static func entries(_ directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + directory)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted()
    }
}

/// `LINE:COL: error: MESSAGE-SUBSTRING`, optionally preceded by a relative file path.
struct Expectation: CustomStringConvertible {
    var file: String?
    var line: Int
    var column: Int
    var message: String

    /// Parses `[file:]LINE:COL: error: message`.
    static func parse(_ text: String) -> Expectation? {
        guard let range = text.range(of: ": error: ") else { return nil }
        let message = String(text[range.upperBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = text[..<range.lowerBound].split(separator: ":").map(String.init)
        guard parts.count >= 2, let line = Int(parts[parts.count - 2]), let column = Int(parts[parts.count - 1]) else { return nil }
        let file = parts.count > 2 ? parts[..<(parts.count - 2)].joined(separator: ":") : nil
        return Expectation(file: file, line: line, column: column, message: message)
    }

    /// The expectation on the first line of a corpus file (`# expect: …`).
    static func fromHeader(ofFile path: String) -> Expectation? {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8),
              let first = text.split(separator: "\n", omittingEmptySubsequences: false).first,
              first.hasPrefix("# expect: ") else { return nil }
        return parse(String(first.dropFirst("# expect: ".count)))
    }

    var description: String { "\(file.map { $0 + ":" } ?? "")\(line):\(column): error: \(message)" }

    /// Checks `result` against the expectation; returns a failure description or nil.
    func mismatch(in result: SpecLoadResult, file expectedFile: String) -> String? {
        let errors = result.errors
        guard let first = errors.first(where: { $0.location?.file == expectedFile || ($0.location?.file.hasSuffix("/" + expectedFile) ?? false) }) else {
            return "no error in \(expectedFile); diagnostics: \(result.diagnostics.map(\.description))"
        }
        if errors.first != first, let firstError = errors.first {
            return "first error is in another file: \(firstError)"
        }
        guard first.location?.line == line, first.location?.column == column, first.message.contains(message) else {
            return "expected \(self), got \(first)"
        }
        return nil
    }
}
