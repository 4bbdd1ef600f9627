import Foundation
import MirModel

/// Diagnostics for machines: JSON, and GitHub Actions workflow commands (annotations on the pull request).
public enum DiagnosticOutput {
    /// One diagnostic as JSON-friendly fields.
    struct Entry: Encodable {
        var severity: String
        var code: String
        var file: String?
        var line: Int?
        var column: Int?
        var message: String
        var field: String?
        var image: String?
        var notes: [Entry]

        init(_ d: Diagnostic) {
            severity = d.severity.rawValue
            code = d.code.rawValue
            file = d.location?.file
            line = d.location?.line
            column = d.location?.column
            message = d.message
            field = d.fieldPath
            image = d.image
            notes = d.notes.map(Entry.init)
        }
    }

    struct Report: Encodable {
        var valid: Bool
        var errors: Int
        var images: [String]
        var files: [String]
        var diagnostics: [Entry]
    }

    /// `{"valid": …, "errors": N, "images": [...], "files": [...], "diagnostics": [...]}`, keys sorted.
    public static func json(_ result: SpecLoadResult) -> String {
        let report = Report(valid: result.isComplete, errors: result.errors.count, images: result.images.map(\.name).sorted(),
                            files: result.files, diagnostics: result.diagnostics.map(Entry.init))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(report)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// One workflow command per diagnostic and note: `::error file=F,line=L,col=C,title=mir validate::message`.
    public static func github(_ diagnostics: [Diagnostic]) -> String {
        diagnostics.flatMap { [$0] + $0.notes }.map(githubLine).joined(separator: "\n")
    }

    static func githubLine(_ d: Diagnostic) -> String {
        let command: String
        switch d.severity {
        case .error: command = "error"
        case .warning: command = "warning"
        case .note: command = "notice"
        }
        var properties: [String] = []
        if let location = d.location {
            properties += ["file=\(escapeProperty(location.file))", "line=\(location.line)", "col=\(location.column)"]
        }
        properties.append("title=\(escapeProperty("mir validate: " + d.code.rawValue))")
        var message = d.message
        if let field = d.fieldPath, !field.isEmpty { message += " (at \(field))" }
        return "::\(command) \(properties.joined(separator: ","))::\(escapeData(message))"
    }

    /// Workflow command data: `%`, CR and LF escaped.
    static func escapeData(_ s: String) -> String {
        s.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(of: "\n", with: "%0A")
    }

    /// Workflow command properties: also `:` and `,`.
    static func escapeProperty(_ s: String) -> String {
        escapeData(s).replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: ",", with: "%2C")
    }
}
